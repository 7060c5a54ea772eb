package handlers

import (
	"bytes"
	"encoding/json"
	"errors"
	"math/big"
	"net/http"
	"net/http/httptest"
	"reflect"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/gin-gonic/gin"

	"github.com/benchlab/go-svc/internal/apperror"
	"github.com/benchlab/go-svc/internal/services"
)

// Run one target with go test -run='^$' -fuzz='^FuzzEcho$' ./internal/handlers,
// or all of them with scripts/fuzz.sh. Without -fuzz, the seeds below and
// any finding kept in testdata/fuzz run as ordinary tests.

// jsonSeeds are bodies from the contract and its hostile-input table.
var jsonSeeds = []string{
	`{"user_id":1,"items":[{"sku":"SKU-00001","quantity":2}]}`,
	`{"items":[{"quantity":1000,"sku":"SKU-01000","x":1},{"sku":"SKU-00001","quantity":1}],"user_id":10000,"note":null}`,
	`{"user_id":1,"items":[{"sku":"SKU\u002d00001","quantity":1}]}`,
	`{"user_id":"x","user_id":3,"items":[{"sku":"A","quantity":2}]}`,
	`{"user_id":0,"items":[{"sku":"nope","quantity":0},{}]}`,
	`{"user_id":1,"items":[{"sku":"SKU-00001","quantity":1001}]}`,
	`{"user_id":-0,"items":[]}`, `{"user_id":1.0}`, `{"user_id":1e3}`, `{"user_id":9223372036854775808}`,
	`{"user_id": 18446744073709551616}`, `{"user_id": 1e400}`, `{"user_id": 1e-400}`,
	`{"user_id":1,"items":[null]}`, `{"user_id":1,"items":{}}`, `{"user_id":1,"items":[{"sku":1}]}`,
	`{"b":1,"a":[true,null,"x"]}`, ` "<&>" `, `{"a":1,"a":2}`, `[1.0,1e3,-0,9223372036854775808]`,
	`123456789012345678901234567890`, `1e400`, `-1e400`, `1e-400`, `-1e-400`, `0e999999999999`,
	`1.7976931348623157e308`, `1.7976931348623159e308`, `2.4703282292062328e-324`,
	`"\ud83d\ude00"`, `"\ud800"`, `"\udc00"`, `"\ud800\u0041"`, "\"\xff\xfe\"", "\"\xc3\x28\"",
	`[1] [2]`, ``, ` `, `{"a":[1,2`, `{user_id:1}`, "\xef\xbb\xbf{}",
	strings.Repeat("[", 127) + strings.Repeat("]", 127),
	strings.Repeat("[", 128) + strings.Repeat("]", 128),
	strings.Repeat(`{"a":`, 200) + "1" + strings.Repeat("}", 200),
}

// The contract's messages for a body (decoding, shape and validation).
var (
	badRequestMessage = regexp.MustCompile(`^(request body is not valid JSON|order must be a JSON object|` +
		`missing field: (user_id|items|items\[\d+\]\.(sku|quantity))|` +
		`field (user_id|items\[\d+\]\.quantity) must be an integer|field items must be an array|` +
		`field items\[\d+\] must be an object|field items\[\d+\]\.sku must be a string)$`)
	validationMessage = regexp.MustCompile(`^(unknown user_id -?\d+|items must contain 1 to 100 entries, got \d+|` +
		`(?s:items\[\d+\]\.sku: unknown sku .*)|items\[\d+\]\.quantity: must be in 1\.\.=1000, got -?\d+)$`)
)

// checkBodyError fails unless err is a 400 or 422 with one of the
// contract's codes and messages.
func checkBodyError(t *testing.T, err error) {
	t.Helper()
	status, body := apperror.HTTP(err)
	switch {
	case status == http.StatusBadRequest && body.Error.Code == "bad_request" && badRequestMessage.MatchString(body.Error.Message):
	case status == http.StatusUnprocessableEntity && body.Error.Code == "validation_failed" && validationMessage.MatchString(body.Error.Message):
	default:
		t.Fatalf("not a contract error: %d %+v (%v)", status, body.Error, err)
	}
}

// decodeOrder is the body half of POST /v1/orders: JSON, then shape.
func decodeOrder(body []byte) (services.OrderInput, error) {
	v, ok := parseJSON(body)
	if !ok {
		return services.OrderInput{}, errInvalidJSON
	}
	return orderInput(v)
}

func FuzzDecodeOrder(f *testing.F) {
	for _, s := range jsonSeeds {
		f.Add([]byte(s))
	}
	svc := services.NewWithCapacity(16)
	f.Fuzz(func(t *testing.T, body []byte) {
		in, err := decodeOrder(body)
		if err != nil {
			checkBodyError(t, err)
			return
		}
		if !json.Valid(body) {
			t.Fatalf("decoded an order from invalid JSON: %q", body)
		}

		// The parsed document, written back, is the same order.
		v, _ := parseJSON(body)
		again, err := encodeJSON(v)
		if err != nil {
			t.Fatal(err)
		}
		in2, err := decodeOrder(again)
		if err != nil || !reflect.DeepEqual(in, in2) {
			t.Fatalf("re-encoded %s decodes to %+v, %v; want %+v", again, in2, err, in)
		}
		// So is the order written in its plainest form.
		type item struct {
			SKU      string `json:"sku"`
			Quantity int64  `json:"quantity"`
		}
		plain := struct {
			UserID int64  `json:"user_id"`
			Items  []item `json:"items"`
		}{UserID: in.UserID, Items: []item{}}
		for _, it := range in.Items {
			plain.Items = append(plain.Items, item{it.SKU, it.Quantity})
		}
		b, err := json.Marshal(plain)
		if err != nil {
			t.Fatal(err)
		}
		if in3, err := decodeOrder(b); err != nil || !reflect.DeepEqual(in, in3) {
			t.Fatalf("%s decodes to %+v, %v; want %+v", b, in3, err, in)
		}

		o, err := svc.CreateOrder(in)
		if err != nil {
			checkBodyError(t, err)
			return
		}
		var total int64
		for i, l := range o.Items {
			if l.SKU != in.Items[i].SKU || l.Quantity != in.Items[i].Quantity || l.LineTotalCents != l.UnitPriceCents*l.Quantity {
				t.Fatalf("line %d: %+v for %+v", i, l, in.Items[i])
			}
			total += l.LineTotalCents
		}
		if o.UserID != in.UserID || o.TotalCents != total || len(o.Items) != len(in.Items) {
			t.Fatalf("order %+v for %+v", o, in)
		}
	})
}

// echoThroughHandler runs POST /v1/echo's handler on body.
func echoThroughHandler(h *Handlers, body []byte) *httptest.ResponseRecorder {
	rec := httptest.NewRecorder()
	c, _ := gin.CreateTestContext(rec)
	c.Request = httptest.NewRequest(http.MethodPost, "/v1/echo", bytes.NewReader(body))
	c.Request.Header.Set("Content-Type", contentTypeJSON)
	h.Echo(c)
	return rec
}

func FuzzEcho(f *testing.F) {
	for _, s := range jsonSeeds {
		f.Add([]byte(s))
	}
	gin.SetMode(gin.ReleaseMode)
	h := New(services.NewWithCapacity(16))
	_, invalid := apperror.HTTP(errInvalidJSON)
	wantInvalid, err := json.Marshal(invalid)
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		rec := echoThroughHandler(h, body)
		if ct := rec.Header().Get("Content-Type"); ct != contentTypeJSON {
			t.Fatalf("Content-Type %q", ct)
		}
		out := rec.Body.Bytes()
		switch rec.Code {
		case http.StatusBadRequest:
			if !bytes.Equal(out, wantInvalid) {
				t.Fatalf("400 with %s", out)
			}
			return
		case http.StatusOK:
		default:
			t.Fatalf("status %d: %s", rec.Code, out)
		}

		// The answer is JSON that go-svc itself reads back to the same
		// document, and writes back byte for byte.
		if !json.Valid(out) {
			t.Fatalf("echoed invalid JSON %q for %q", out, body)
		}
		v, ok := parseJSON(body)
		if !ok {
			t.Fatalf("200 for a body parseJSON refuses: %q", body)
		}
		v2, ok := parseJSON(out)
		if !ok || !reflect.DeepEqual(v, v2) {
			t.Fatalf("echo %q of %q reads back as %v (%v), want %v", out, body, v2, ok, v)
		}
		if rec2 := echoThroughHandler(h, out); rec2.Code != http.StatusOK || !bytes.Equal(rec2.Body.Bytes(), out) {
			t.Fatalf("echo of %q is %d %q, not a fixed point", out, rec2.Code, rec2.Body.Bytes())
		}
	})
}

// isID is the contract's path id rule, written plainly: ASCII digits only,
// with a value in 1..=MaxInt64.
func isID(s string) (int64, bool) {
	if s == "" || strings.TrimLeft(s, "0123456789") != "" {
		return 0, false
	}
	v, _ := new(big.Int).SetString(s, 10)
	if v.Sign() <= 0 || !v.IsInt64() {
		return 0, false
	}
	return v.Int64(), true
}

func FuzzPathID(f *testing.F) {
	for _, s := range []string{
		"1", "010001", "9223372036854775807", "9223372036854775808", "99999999999999999999",
		"0", "000", "-1", "+1", "1e3", " 1", "1 ", "", "\x00", "..", ".", "1/2", "٣", "１",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got, err := parseID(s)
		want, ok := isID(s)
		if ok != (err == nil) || got != want {
			t.Fatalf("parseID(%q) = %d, %v; want %d, ok %v", s, got, err, want, ok)
		}
		if err != nil {
			if status, body := apperror.HTTP(err); status != 400 || body.Error.Message != "invalid id: must be a positive integer" {
				t.Fatalf("parseID(%q): %d %+v", s, status, body.Error)
			}
		}
	})
}

// refUnescape is the contract's decoding of a query key or value: '+' is a
// space, '%' must be followed by two hex digits.
func refUnescape(s string) (string, bool) {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '+':
			b.WriteByte(' ')
		case '%':
			const hex = "0123456789abcdefABCDEF"
			if i+2 >= len(s) || strings.IndexByte(hex, s[i+1]) < 0 || strings.IndexByte(hex, s[i+2]) < 0 {
				return "", false
			}
			v, _ := strconv.ParseUint(s[i+1:i+3], 16, 8)
			b.WriteByte(byte(v))
			i += 2
		default:
			b.WriteByte(s[i])
		}
	}
	return b.String(), true
}

// refPageQuery is the contract's query rules and limit/offset rules, written
// from its text rather than from url.ParseQuery. It returns the message of
// the error, if any.
func refPageQuery(raw string) (limit, offset int64, msg string) {
	const badQuery = "invalid query string"
	if strings.Count(raw, "&")+1 > 10000 {
		return 0, 0, badQuery
	}
	first := map[string]string{}
	bad := false
	for _, pair := range strings.Split(raw, "&") {
		if pair == "" {
			continue
		}
		if strings.Contains(pair, ";") {
			bad = true
			continue
		}
		k, v, _ := strings.Cut(pair, "=")
		k, okK := refUnescape(k)
		v, okV := refUnescape(v)
		if !okK || !okV {
			bad = true
			continue
		}
		if _, seen := first[k]; !seen {
			first[k] = v
		}
	}
	if bad {
		return 0, 0, badQuery
	}
	digits := func(s string) (*big.Int, bool) {
		if s == "" || strings.TrimLeft(s, "0123456789") != "" {
			return nil, false
		}
		v, _ := new(big.Int).SetString(s, 10)
		return v, true
	}
	limit, offset = 20, 0
	if s, ok := first["limit"]; ok {
		v, ok := digits(s)
		if !ok || v.Cmp(big.NewInt(1)) < 0 || v.Cmp(big.NewInt(1000)) > 0 {
			return 0, 0, "invalid limit: must be an integer in 1..=1000"
		}
		limit = v.Int64()
	}
	if s, ok := first["offset"]; ok {
		v, ok := digits(s)
		if !ok || !v.IsInt64() {
			return 0, 0, "invalid offset: must be a non-negative integer"
		}
		offset = v.Int64()
	}
	return limit, offset, ""
}

func FuzzQuery(f *testing.F) {
	for _, s := range []string{
		"", "limit=5&offset=10", "limit=5&limit=7", "&&limit=3&", "limit=%33", "offset=0010&limit=0002",
		"offset=9223372036854775807&limit=1000", "unknown=x&LIMIT=0", "limit=%zz", "a=%", "a=%4", "a;b",
		"limit=5;offset=1", "limit=", "limit", "limit=0", "limit=1001", "limit=-1", "limit=+5", "limit=%2B5",
		"limit=1.0", "limit=5%20", "limit=99999999999999999999", "limit=0&offset=x", "offset=-0",
		"offset=9223372036854775808", "li%6Dit=7", "limit+=7", "limit=7&=", "=&=&", "%00=1",
		"limit=2" + strings.Repeat("&", 9999), "limit=2" + strings.Repeat("&", 10000),
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		limit, offset, err := pageQuery(raw)
		wantLimit, wantOffset, wantMsg := refPageQuery(raw)
		var msg string
		if err != nil {
			e, ok := errors.AsType[*apperror.Error](err)
			if !ok || e.Kind != apperror.BadRequest {
				t.Fatalf("pageQuery(%q): %v is not a 400", raw, err)
			}
			msg = e.Message
		}
		if msg != wantMsg || limit != wantLimit || offset != wantOffset {
			t.Fatalf("pageQuery(%q) = %d, %d, %q; want %d, %d, %q", raw, limit, offset, msg, wantLimit, wantOffset, wantMsg)
		}
	})
}
