package services

import (
	"errors"
	"math"
	"reflect"
	"sync"
	"testing"

	"github.com/benchlab/go-svc/internal/apperror"
	"github.com/benchlab/go-svc/internal/models"
)

func ptr(v int64) *int64 { return &v }

// wantErr asserts err is an *apperror.Error of kind with message msg.
func wantErr(t *testing.T, err error, kind apperror.Kind, msg string) {
	t.Helper()
	e, ok := errors.AsType[*apperror.Error](err)
	if !ok {
		t.Fatalf("error = %v, want apperror kind %d %q", err, kind, msg)
	}
	if e.Kind != kind || e.Message != msg {
		t.Fatalf("error = kind %d %q, want kind %d %q", e.Kind, e.Message, kind, msg)
	}
}

func TestUsers(t *testing.T) {
	s := New()
	u, err := s.User(1)
	if err != nil {
		t.Fatal(err)
	}
	want := &models.User{ID: 1, Name: "User 1", Email: "user1@example.com", Age: 63, Tags: []string{"t1", "t1"}}
	if !reflect.DeepEqual(u, want) {
		t.Fatalf("user 1 = %+v, want %+v", u, want)
	}
	u, err = s.User(10000)
	if err != nil {
		t.Fatal(err)
	}
	if u.Age != 18+(10000*7919)%62 || u.Tags[0] != "t0" || u.Tags[1] != "t4" || u.Email != "user10000@example.com" {
		t.Fatalf("user 10000 = %+v", u)
	}
	_, err = s.User(10001)
	wantErr(t, err, apperror.NotFound, "user 10001 not found")
	_, err = s.User(math.MaxInt64)
	wantErr(t, err, apperror.NotFound, "user 9223372036854775807 not found")
	for _, id := range []int64{0, -1, math.MinInt64} {
		_, err = s.User(id)
		wantErr(t, err, apperror.BadRequest, "invalid id: must be a positive integer")
	}
}

func TestProducts(t *testing.T) {
	s := New()
	want := &models.Product{ID: 1, SKU: "SKU-00001", Name: "Product 1", PriceCents: 137, Category: "games"}
	if got, ok := s.ProductBySKU("SKU-00001"); !ok || !reflect.DeepEqual(got, want) {
		t.Fatalf("product 1 = %+v, want %+v", got, want)
	}
	p, ok := s.ProductBySKU("SKU-01000")
	if !ok || p.ID != 1000 || p.Category != "books" || p.PriceCents != 100+(1000*37)%9900 {
		t.Fatalf("product 1000 = %+v", p)
	}
	for _, sku := range []string{"SKU-1", "SKU-00000", "SKU-01001", "sku-00001", ""} {
		if _, ok := s.ProductBySKU(sku); ok {
			t.Errorf("sku %q found", sku)
		}
	}
}

func TestListProducts(t *testing.T) {
	s := New()
	tests := []struct {
		name          string
		limit, offset *int64
		first, count  int64
	}{
		{"defaults", nil, nil, 1, 20},
		{"limit 1", ptr(1), nil, 1, 1},
		{"limit 1000", ptr(1000), nil, 1, 1000},
		{"offset", ptr(5), ptr(10), 11, 5},
		{"clipped at the end", ptr(20), ptr(990), 991, 10},
		{"last", nil, ptr(999), 1000, 1},
		{"past the end", nil, ptr(1000), 0, 0},
		{"far past the end", ptr(1000), ptr(math.MaxInt64), 0, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			page, err := s.ListProducts(tt.limit, tt.offset)
			if err != nil {
				t.Fatal(err)
			}
			if page.Total != 1000 || page.Items == nil || int64(len(page.Items)) != tt.count {
				t.Fatalf("total %d, %d items, want 1000, %d", page.Total, len(page.Items), tt.count)
			}
			for i, p := range page.Items {
				if p.ID != tt.first+int64(i) {
					t.Fatalf("item %d has id %d, want %d", i, p.ID, tt.first+int64(i))
				}
			}
		})
	}

	const (
		limitMsg  = "invalid limit: must be an integer in 1..=1000"
		offsetMsg = "invalid offset: must be a non-negative integer"
	)
	errs := []struct {
		limit, offset *int64
		msg           string
	}{
		{ptr(0), nil, limitMsg},
		{ptr(1001), nil, limitMsg},
		{ptr(-1), nil, limitMsg},
		{nil, ptr(-1), offsetMsg},
		{ptr(0), ptr(-1), limitMsg}, // limit is checked first
	}
	for _, tt := range errs {
		_, err := s.ListProducts(tt.limit, tt.offset)
		wantErr(t, err, apperror.BadRequest, tt.msg)
	}
}

func items(skus ...string) []OrderItemInput {
	out := make([]OrderItemInput, len(skus))
	for i, s := range skus {
		out[i] = OrderItemInput{SKU: s, Quantity: 1}
	}
	return out
}

func TestCreateOrderValidation(t *testing.T) {
	s := New()
	many := items(make([]string, 101)...)
	tests := []struct {
		name string
		in   OrderInput
		msg  string
	}{
		{"user 0 (missing in gRPC)", OrderInput{UserID: 0, Items: items("SKU-00001")}, "unknown user_id 0"},
		{"negative user", OrderInput{UserID: -5, Items: items("SKU-00001")}, "unknown user_id -5"},
		{"user beyond", OrderInput{UserID: 10001, Items: items("SKU-00001")}, "unknown user_id 10001"},
		{"user before items", OrderInput{UserID: 10001}, "unknown user_id 10001"},
		{"no items", OrderInput{UserID: 1}, "items must contain 1 to 100 entries, got 0"},
		{"101 items before their skus", OrderInput{UserID: 1, Items: many}, "items must contain 1 to 100 entries, got 101"},
		{"unknown sku", OrderInput{UserID: 1, Items: items("SKU-00001", "nope <&>")}, "items[1].sku: unknown sku nope <&>"},
		{"empty sku", OrderInput{UserID: 1, Items: items("")}, "items[0].sku: unknown sku "},
		{"quantity 0", OrderInput{UserID: 1, Items: []OrderItemInput{{"SKU-00001", 0}}}, "items[0].quantity: must be in 1..=1000, got 0"},
		{"quantity 1001", OrderInput{UserID: 1, Items: []OrderItemInput{{"SKU-00001", 1}, {"SKU-00002", 1001}}}, "items[1].quantity: must be in 1..=1000, got 1001"},
		{"sku before quantity", OrderInput{UserID: 1, Items: []OrderItemInput{{"x", 0}}}, "items[0].sku: unknown sku x"},
		{"item order", OrderInput{UserID: 1, Items: []OrderItemInput{{"SKU-00001", -1}, {"x", 1}}}, "items[0].quantity: must be in 1..=1000, got -1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := s.CreateOrder(tt.in)
			wantErr(t, err, apperror.Validation, tt.msg)
		})
	}
}

func TestCreateAndGetOrder(t *testing.T) {
	s := New()
	in := OrderInput{UserID: 7, Items: []OrderItemInput{{"SKU-00001", 2}, {"SKU-00002", 1000}, {"SKU-00001", 1}}}
	o, err := s.CreateOrder(in)
	if err != nil {
		t.Fatal(err)
	}
	want := &models.Order{
		ID: 1, UserID: 7, Status: "created",
		Items: []models.OrderLine{
			{SKU: "SKU-00001", Quantity: 2, UnitPriceCents: 137, LineTotalCents: 274},
			{SKU: "SKU-00002", Quantity: 1000, UnitPriceCents: 174, LineTotalCents: 174000},
			{SKU: "SKU-00001", Quantity: 1, UnitPriceCents: 137, LineTotalCents: 137},
		},
		TotalCents: 274 + 174000 + 137,
	}
	if !reflect.DeepEqual(o, want) {
		t.Fatalf("order = %+v, want %+v", o, want)
	}
	got, err := s.Order(1)
	if err != nil || got != o {
		t.Fatalf("Order(1) = %v, %v", got, err)
	}
	o2, _ := s.CreateOrder(in)
	if o2.ID != 2 {
		t.Fatalf("second id = %d", o2.ID)
	}
	_, err = s.Order(3)
	wantErr(t, err, apperror.NotFound, "order 3 not found")
	_, err = s.Order(0)
	wantErr(t, err, apperror.BadRequest, "invalid id: must be a positive integer")
	_, err = s.Order(math.MaxInt64)
	wantErr(t, err, apperror.NotFound, "order 9223372036854775807 not found")
}

func TestOrderRingEvictsOldest(t *testing.T) {
	s := NewWithCapacity(3)
	in := OrderInput{UserID: 1, Items: items("SKU-00001")}
	for range 4 {
		if _, err := s.CreateOrder(in); err != nil {
			t.Fatal(err)
		}
	}
	_, err := s.Order(1)
	wantErr(t, err, apperror.NotFound, "order 1 not found")
	for id := int64(2); id <= 4; id++ {
		if o, err := s.Order(id); err != nil || o.ID != id {
			t.Fatalf("Order(%d) = %v, %v", id, o, err)
		}
	}
	// Ids that share a slot with a stored order are still unknown.
	_, err = s.Order(7)
	wantErr(t, err, apperror.NotFound, "order 7 not found")
}

func TestOrderStoreDefaultCapacity(t *testing.T) {
	st := NewOrderStore(0)
	if len(st.slots) != DefaultOrderCapacity {
		t.Fatalf("capacity %d", len(st.slots))
	}
	for range DefaultOrderCapacity + 1 {
		st.Insert(&models.Order{})
	}
	if st.Get(1) != nil {
		t.Fatal("order 1 survived the 100,001st order")
	}
	if o := st.Get(2); o == nil || o.ID != 2 {
		t.Fatal("order 2 missing")
	}
	if o := st.Get(DefaultOrderCapacity + 1); o == nil || o.ID != DefaultOrderCapacity+1 {
		t.Fatal("order 100001 missing")
	}
}

func TestConcurrentCreatesGetUniqueIDs(t *testing.T) {
	s := New()
	const workers, each = 8, 250
	ids := make(chan int64, workers*each)
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for range each {
				o, err := s.CreateOrder(OrderInput{UserID: 1, Items: items("SKU-00001")})
				if err != nil {
					t.Error(err)
					return
				}
				if got, err := s.Order(o.ID); err != nil || got != o {
					t.Errorf("Order(%d) = %v, %v", o.ID, got, err)
				}
				ids <- o.ID
			}
		})
	}
	wg.Wait()
	close(ids)
	seen := make(map[int64]bool)
	for id := range ids {
		if seen[id] || id < 1 || id > workers*each {
			t.Fatalf("id %d repeated or out of range", id)
		}
		seen[id] = true
	}
	if len(seen) != workers*each {
		t.Fatalf("%d ids", len(seen))
	}
}
