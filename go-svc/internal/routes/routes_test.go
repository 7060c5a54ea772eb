package routes

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"testing"

	"github.com/gin-gonic/gin"

	"github.com/benchlab/go-svc/internal/metrics"
	"github.com/benchlab/go-svc/internal/services"
)

const jsonCT = "application/json"

func newServer(t *testing.T) *httptest.Server {
	t.Helper()
	e := New(services.New(), metrics.New())
	e.GET("/test/panic", func(*gin.Context) { panic("boom") })
	srv := httptest.NewServer(e)
	t.Cleanup(srv.Close)
	return srv
}

type response struct {
	status int
	header http.Header
	body   string
}

func do(t *testing.T, srv *httptest.Server, method, path, contentType string, body io.Reader) response {
	t.Helper()
	req, err := http.NewRequest(method, srv.URL+path, body)
	if err != nil {
		t.Fatal(err)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	resp, err := srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return response{resp.StatusCode, resp.Header, string(b)}
}

func errBody(code, msg string) string {
	b, _ := json.Marshal(map[string]map[string]string{"error": {"code": code, "message": msg}})
	return string(b)
}

func check(t *testing.T, name string, got response, status int, body string) {
	t.Helper()
	if got.status != status {
		t.Errorf("%s: status %d, want %d (body %.200s)", name, got.status, status, got.body)
	}
	if ct := got.header.Get("Content-Type"); ct != jsonCT {
		t.Errorf("%s: Content-Type %q, want %q", name, ct, jsonCT)
	}
	if !jsonEqual(got.body, body) {
		t.Errorf("%s: body %.300s, want %.300s", name, got.body, body)
	}
}

func jsonEqual(a, b string) bool {
	var va, vb any
	if json.Unmarshal([]byte(a), &va) != nil || json.Unmarshal([]byte(b), &vb) != nil {
		return a == b
	}
	return reflect.DeepEqual(va, vb)
}

const (
	user1    = `{"id":1,"name":"User 1","email":"user1@example.com","age":63,"tags":["t1","t1"]}`
	product1 = `{"id":1,"sku":"SKU-00001","name":"Product 1","price_cents":137,"category":"games"}`
)

var (
	badID      = errBody("bad_request", "invalid id: must be a positive integer")
	badLimit   = errBody("bad_request", "invalid limit: must be an integer in 1..=1000")
	badOffset  = errBody("bad_request", "invalid offset: must be a non-negative integer")
	badQuery   = errBody("bad_request", "invalid query string")
	badJSON    = errBody("bad_request", "request body is not valid JSON")
	noRoute    = errBody("not_found", "no such route")
	notAllowed = errBody("method_not_allowed", "method not allowed")
	tooLarge   = errBody("payload_too_large", "request body exceeds 1048576 bytes")
	mediaType  = errBody("unsupported_media_type", "content type must be application/json")
)

func TestGetRoutes(t *testing.T) {
	srv := newServer(t)
	tests := []struct {
		path   string
		status int
		body   string
	}{
		{"/health", 200, `{"status":"ok"}`},
		{"/v1/users/1", 200, user1},
		{"/v1/users/%31", 200, user1},
		{"/v1/users/0001", 200, user1},
		{"/v1/users/010001", 404, errBody("not_found", "user 10001 not found")},
		{"/v1/users/9223372036854775807", 404, errBody("not_found", "user 9223372036854775807 not found")},
		{"/v1/users/0", 400, badID},
		{"/v1/users/-1", 400, badID},
		{"/v1/users/1e3", 400, badID},
		{"/v1/users/+1", 400, badID},
		{"/v1/users/%2B1", 400, badID},
		{"/v1/users/%201", 400, badID},
		{"/v1/users/abc", 400, badID},
		{"/v1/users/9223372036854775808", 400, badID},
		{"/v1/users/1%2F2", 400, badID},
		{"/v1/users/%FF", 400, badID},
		{"/v1/orders/0", 400, badID},
		{"/v1/orders/1", 404, errBody("not_found", "order 1 not found")},
		{"/v1/users/", 404, noRoute},
		{"/v1/users/1/", 404, noRoute},
		{"/v1/users/1/2", 404, noRoute},
		{"/health/", 404, noRoute},
		{"//health", 404, noRoute},
		{"/Health", 404, noRoute},
		{"/v1/%75sers/1", 404, noRoute},
		{"/", 404, noRoute},
		{"/nope", 404, noRoute},
	}
	for _, tt := range tests {
		check(t, "GET "+tt.path, do(t, srv, "GET", tt.path, "", nil), tt.status, tt.body)
	}
}

func TestMethods(t *testing.T) {
	srv := newServer(t)
	tests := []struct {
		method, path string
		status       int
		body         string
	}{
		{"DELETE", "/health", 405, notAllowed},
		{"POST", "/health", 405, notAllowed},
		{"POST", "/v1/users/1", 405, notAllowed},
		{"PUT", "/v1/users/abc", 405, notAllowed},
		{"GET", "/v1/orders", 405, notAllowed},
		{"GET", "/v1/echo", 405, notAllowed},
		{"OPTIONS", "/v1/products", 405, notAllowed},
		{"PATCH", "/metrics", 405, notAllowed},
		{"PUT", "/nope", 404, noRoute},
		{"POST", "/v1/orders/", 404, noRoute},
	}
	for _, tt := range tests {
		check(t, tt.method+" "+tt.path, do(t, srv, tt.method, tt.path, "", nil), tt.status, tt.body)
	}

	// HEAD is answered wherever GET is, without a body.
	for path, status := range map[string]int{"/health": 200, "/v1/users/1": 200, "/v1/users/0": 400, "/v1/products": 200, "/v1/orders/5": 404, "/nope": 404, "/v1/orders": 405, "/v1/echo": 405} {
		got := do(t, srv, "HEAD", path, "", nil)
		if got.status != status || got.body != "" || got.header.Get("Content-Type") != jsonCT {
			t.Errorf("HEAD %s: %d %q %q, want %d, empty body", path, got.status, got.header.Get("Content-Type"), got.body, status)
		}
	}
	if got := do(t, srv, "HEAD", "/metrics", "", nil); got.status != 200 || got.body != "" {
		t.Errorf("HEAD /metrics: %d %q", got.status, got.body)
	}
}

func productsBody(first, count int) string {
	var items []string
	for id := first; id < first+count; id++ {
		items = append(items, fmt.Sprintf(`{"id":%d,"sku":"SKU-%05d","name":"Product %d","price_cents":%d,"category":%q}`,
			id, id, id, 100+(id*37)%9900, []string{"books", "games", "tools", "food", "toys"}[id%5]))
	}
	return `{"items":[` + strings.Join(items, ",") + `],"total":1000}`
}

func TestProducts(t *testing.T) {
	srv := newServer(t)
	if !strings.Contains(productsBody(1, 1), product1) {
		t.Fatal("productsBody disagrees with the contract's product 1")
	}
	tests := []struct {
		query  string
		status int
		body   string
	}{
		{"", 200, productsBody(1, 20)},
		{"?", 200, productsBody(1, 20)},
		{"?limit=5&offset=10", 200, productsBody(11, 5)},
		{"?limit=5&limit=7", 200, productsBody(1, 5)},
		{"?&&limit=3&", 200, productsBody(1, 3)},
		{"?limit=%33", 200, productsBody(1, 3)},
		{"?offset=0010&limit=0002", 200, productsBody(11, 2)},
		{"?limit=1000", 200, productsBody(1, 1000)},
		{"?offset=990", 200, productsBody(991, 10)},
		{"?offset=999&limit=1000", 200, productsBody(1000, 1)},
		{"?offset=1000", 200, `{"items":[],"total":1000}`},
		{"?offset=9223372036854775807&limit=1000", 200, `{"items":[],"total":1000}`},
		{"?unknown=x&LIMIT=0", 200, productsBody(1, 20)},
		{"?limit=%zz", 400, badQuery},
		{"?a=%", 400, badQuery},
		{"?a;b", 400, badQuery},
		{"?limit=5;offset=1", 400, badQuery},
		{"?limit=abc&x=%zz", 400, badQuery},
		{"?limit=", 400, badLimit},
		{"?limit", 400, badLimit},
		{"?limit=0", 400, badLimit},
		{"?limit=1001", 400, badLimit},
		{"?limit=-1", 400, badLimit},
		{"?limit=+5", 400, badLimit},
		{"?limit=%2B5", 400, badLimit},
		{"?limit=1.0", 400, badLimit},
		{"?limit=5%20", 400, badLimit},
		{"?limit=99999999999999999999", 400, badLimit},
		{"?limit=0&offset=x", 400, badLimit},
		{"?offset=x&limit=0", 400, badLimit},
		{"?offset=", 400, badOffset},
		{"?offset=-1", 400, badOffset},
		{"?offset=1e3", 400, badOffset},
		{"?offset=9223372036854775808", 400, badOffset},
		{"?limit=5&offset=-0", 400, badOffset},
		// url.ParseQuery's cap: 10,000 pairs, counted as "&" separators plus one.
		{"?limit=2" + strings.Repeat("&", 9999), 200, productsBody(1, 2)},
		{"?limit=2" + strings.Repeat("&", 10000), 400, badQuery},
	}
	for _, tt := range tests {
		check(t, "GET /v1/products"+tt.query, do(t, srv, "GET", "/v1/products"+tt.query, "", nil), tt.status, tt.body)
	}
}

func order(id, userID int, lines ...[3]int) string {
	var items []string
	total := 0
	for _, l := range lines {
		pid, qty := l[0], l[1]
		price := 100 + (pid*37)%9900
		items = append(items, fmt.Sprintf(`{"sku":"SKU-%05d","quantity":%d,"unit_price_cents":%d,"line_total_cents":%d}`, pid, qty, price, price*qty))
		total += price * qty
	}
	return fmt.Sprintf(`{"id":%d,"user_id":%d,"items":[%s],"total_cents":%d,"status":"created"}`, id, userID, strings.Join(items, ","), total)
}

func TestOrders(t *testing.T) {
	srv := newServer(t)
	post := func(ct, body string) response {
		return do(t, srv, "POST", "/v1/orders", ct, strings.NewReader(body))
	}
	created := post(jsonCT, `{"user_id":1,"items":[{"sku":"SKU-00001","quantity":2}]}`)
	check(t, "create", created, 201, `{"id":1,"user_id":1,"items":[{"sku":"SKU-00001","quantity":2,"unit_price_cents":137,"line_total_cents":274}],"total_cents":274,"status":"created"}`)
	check(t, "get 1", do(t, srv, "GET", "/v1/orders/1", "", nil), 200, created.body)
	check(t, "get 01", do(t, srv, "GET", "/v1/orders/01", "", nil), 200, created.body)

	created = post("Application/JSON; charset=utf-8", `{"items":[{"quantity":1000,"sku":"SKU-01000","x":1},{"sku":"SKU-00001","quantity":1},{"sku":"SKU-01000","quantity":1}],"user_id":10000,"note":null}`)
	check(t, "create 2", created, 201, order(2, 10000, [3]int{1000, 1000}, [3]int{1, 1}, [3]int{1000, 1}))

	bad := func(msg string) string { return errBody("bad_request", msg) }
	invalid := func(msg string) string { return errBody("validation_failed", msg) }
	hundred := strings.Repeat(`{"sku":"SKU-00001","quantity":1},`, 100)
	tests := []struct {
		ct, body string
		status   int
		want     string
	}{
		{"", `{}`, 415, mediaType},
		{"text/plain", `{}`, 415, mediaType},
		{"application/jsonx", `{}`, 415, mediaType},
		{"application/x-www-form-urlencoded", `{}`, 415, mediaType},
		{"", `not json`, 415, mediaType},
		{jsonCT, ``, 400, badJSON},
		{jsonCT, `{"user_id":1,`, 400, badJSON},
		{jsonCT, `{"user_id":1,"items":[]} x`, 400, badJSON},
		{jsonCT, `{"user_id":1,"items":[{"sku":"\ud800","quantity":1}]}`, 400, badJSON},
		{jsonCT, "{\"user_id\":1,\"items\":[{\"sku\":\"\xff\",\"quantity\":1}]}", 400, badJSON},
		{jsonCT, `[1,2]`, 400, bad("order must be a JSON object")},
		{jsonCT, `{"items":[]}`, 400, bad("missing field: user_id")},
		{jsonCT, `{"user_id":-0,"items":[]}`, 400, bad("field user_id must be an integer")},
		{jsonCT, `{"user_id":1.0,"items":[]}`, 400, bad("field user_id must be an integer")},
		{jsonCT, `{"user_id":9223372036854775808,"items":[]}`, 400, bad("field user_id must be an integer")},
		{jsonCT, `{"user_id":1}`, 400, bad("missing field: items")},
		{jsonCT, `{"user_id":1,"items":{}}`, 400, bad("field items must be an array")},
		{jsonCT, `{"user_id":1,"items":[null]}`, 400, bad("field items[0] must be an object")},
		{jsonCT, `{"user_id":1,"items":[{"SKU":"SKU-00001","quantity":1}]}`, 400, bad("missing field: items[0].sku")},
		{jsonCT, `{"user_id":1,"items":[{"sku":["SKU-00001"],"quantity":1}]}`, 400, bad("field items[0].sku must be a string")},
		{jsonCT, `{"user_id":1,"items":[{"sku":"SKU-00001"}]}`, 400, bad("missing field: items[0].quantity")},
		{jsonCT, `{"user_id":1,"items":[{"sku":"SKU-00001","quantity":"1"}]}`, 400, bad("field items[0].quantity must be an integer")},
		{jsonCT, `{"user_id":0,"items":[]}`, 422, invalid("unknown user_id 0")},
		{jsonCT, `{"user_id":10001,"items":[{"sku":"x","quantity":0}]}`, 422, invalid("unknown user_id 10001")},
		{jsonCT, `{"user_id":1,"items":[]}`, 422, invalid("items must contain 1 to 100 entries, got 0")},
		{jsonCT, `{"user_id":1,"items":[` + hundred + `{"sku":"x","quantity":0}]}`, 422, invalid("items must contain 1 to 100 entries, got 101")},
		{jsonCT, `{"user_id":1,"items":[{"sku":"SKU-00001","quantity":1},{"sku":"sku-00002","quantity":0}]}`, 422, invalid("items[1].sku: unknown sku sku-00002")},
		{jsonCT, `{"user_id":1,"items":[{"sku":"<é>\n","quantity":1}]}`, 422, invalid("items[0].sku: unknown sku <é>\n")},
		{jsonCT, `{"user_id":1,"items":[{"sku":"SKU-00001","quantity":1001}]}`, 422, invalid("items[0].quantity: must be in 1..=1000, got 1001")},
		{jsonCT, `{"user_id":1,"items":[{"sku":"SKU-00001","quantity":-3}]}`, 422, invalid("items[0].quantity: must be in 1..=1000, got -3")},
	}
	for _, tt := range tests {
		check(t, fmt.Sprintf("POST %q %.80s", tt.ct, tt.body), post(tt.ct, tt.body), tt.status, tt.want)
	}
	// Nothing above was stored.
	check(t, "get 3", do(t, srv, "GET", "/v1/orders/3", "", nil), 404, errBody("not_found", "order 3 not found"))
}

func TestEcho(t *testing.T) {
	srv := newServer(t)
	tests := []struct {
		body   string
		status int
		want   string
	}{
		{`{"b":1,"a":[true,null,"x"]}`, 200, `{"a":[true,null,"x"],"b":1}`},
		{` "<&>" `, 200, `"<&>"`},
		{`{"a":1,"a":2}`, 200, `{"a":2}`},
		{`[1.0,1e3,-0,9223372036854775808,18446744073709551616]`, 200, `[1.0,1e3,-0,9223372036854775808,18446744073709551616]`},
		{`"\ud83d\ude00"`, 200, `"😀"`},
		{nested(127), 200, nested(127)},
		{nested(128), 400, badJSON},
		{`"\ud800"`, 400, badJSON},
		{`"\udc00"`, 400, badJSON},
		{"\"\xc3\x28\"", 400, badJSON},
		{`[1] [2]`, 400, badJSON},
		{``, 400, badJSON},
		{`1e400`, 400, badJSON},
	}
	for _, tt := range tests {
		got := do(t, srv, "POST", "/v1/echo", jsonCT, strings.NewReader(tt.body))
		check(t, fmt.Sprintf("echo %.60q", tt.body), got, tt.status, tt.want)
		if tt.status == 200 && got.body != tt.want {
			t.Errorf("echo %.60q: body %s, want exactly %s", tt.body, got.body, tt.want)
		}
	}
}

// bigString is a JSON string document of exactly n bytes.
func bigString(n int) string { return `"` + strings.Repeat("a", n-2) + `"` }

// chunked hides the length of r from the client, forcing a chunked body.
type chunked struct{ io.Reader }

func TestBodyLimit(t *testing.T) {
	srv := newServer(t)
	const limit = 1 << 20
	ok := bigString(limit)
	check(t, "exactly 1 MiB", do(t, srv, "POST", "/v1/echo", jsonCT, strings.NewReader(ok)), 200, ok)
	check(t, "exactly 1 MiB chunked", do(t, srv, "POST", "/v1/echo", jsonCT, chunked{strings.NewReader(ok)}), 200, ok)
	over := bigString(limit + 1)
	check(t, "1 MiB + 1 by Content-Length", do(t, srv, "POST", "/v1/echo", jsonCT, strings.NewReader(over)), 413, tooLarge)
	check(t, "1 MiB + 1 chunked", do(t, srv, "POST", "/v1/orders", jsonCT, chunked{strings.NewReader(over)}), 413, tooLarge)
	check(t, "invalid and too large", do(t, srv, "POST", "/v1/orders", jsonCT, strings.NewReader(strings.Repeat("x", limit+1))), 413, tooLarge)
	check(t, "415 before 413", do(t, srv, "POST", "/v1/echo", "text/plain", strings.NewReader(over)), 415, mediaType)
}

// TestContentLengthWithoutBody: a declared length over the limit is refused
// without reading the body.
func TestContentLengthWithoutBody(t *testing.T) {
	srv := newServer(t)
	conn, err := net.Dial("tcp", srv.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	fmt.Fprintf(conn, "POST /v1/echo HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 1073741824\r\n\r\n")
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	check(t, "1 GiB declared", response{resp.StatusCode, resp.Header, string(b)}, 413, tooLarge)
}

func TestPanicIsInternalError(t *testing.T) {
	srv := newServer(t)
	check(t, "panic", do(t, srv, "GET", "/test/panic", "", nil), 500, errBody("internal", "internal error"))
}

func TestMetrics(t *testing.T) {
	srv := newServer(t)
	do(t, srv, "GET", "/v1/users/1", "", nil)
	do(t, srv, "GET", "/v1/users/x", "", nil)
	do(t, srv, "DELETE", "/v1/users/1", "", nil)
	do(t, srv, "GET", "/nope", "", nil)
	do(t, srv, "POST", "/v1/echo", jsonCT, bytes.NewReader([]byte("1")))
	got := do(t, srv, "GET", "/metrics", "", nil)
	if got.status != 200 || !strings.HasPrefix(got.header.Get("Content-Type"), "text/plain; version=0.0.4") {
		t.Fatalf("metrics: %d %q", got.status, got.header.Get("Content-Type"))
	}
	for _, want := range []string{
		`http_requests_total{method="GET",route="/v1/users/{id}",status="200"} 1`,
		`http_requests_total{method="GET",route="/v1/users/{id}",status="400"} 1`,
		`http_requests_total{method="DELETE",route="unmatched",status="405"} 1`,
		`http_requests_total{method="GET",route="unmatched",status="404"} 1`,
		`http_requests_total{method="POST",route="/v1/echo",status="200"} 1`,
		`http_request_duration_seconds_bucket{method="GET",route="/v1/users/{id}",status="200",le="0.0001"}`,
		`http_request_duration_seconds_bucket{method="GET",route="/v1/users/{id}",status="200",le="2.5"} 1`,
		"go_goroutines ",
		"process_cpu_seconds_total ",
	} {
		if !strings.Contains(got.body, want) {
			t.Errorf("metrics lack %s", want)
		}
	}
}

func nested(depth int) string {
	return strings.Repeat("[", depth) + strings.Repeat("]", depth)
}

// TestHealthWhileDraining: once the drain starts, /health is 503 through the
// router and metrics like any route, and every other route keeps working.
func TestHealthWhileDraining(t *testing.T) {
	svc := services.New()
	srv := httptest.NewServer(New(svc, metrics.New()))
	t.Cleanup(srv.Close)
	check(t, "before", do(t, srv, "GET", "/health", "", nil), 200, `{"status":"ok"}`)
	svc.StartDraining()
	check(t, "during", do(t, srv, "GET", "/health", "", nil), 503, `{"status":"draining"}`)
	if got := do(t, srv, "HEAD", "/health", "", nil); got.status != 503 || got.body != "" || got.header.Get("Content-Type") != jsonCT {
		t.Errorf("HEAD /health: %d %q %q", got.status, got.header.Get("Content-Type"), got.body)
	}
	check(t, "user", do(t, srv, "GET", "/v1/users/1", "", nil), 200, user1)
	got := do(t, srv, "GET", "/metrics", "", nil)
	if want := `http_requests_total{method="GET",route="/health",status="503"} 1`; !strings.Contains(got.body, want) {
		t.Errorf("metrics lack %s", want)
	}
}

// TestHostile sends the REST rows of the contract's "Limits and hostile
// input" table that reach the router (the head limits are server tests).
func TestHostile(t *testing.T) {
	srv := newServer(t)
	bad := func(msg string) string { return errBody("bad_request", msg) }
	for _, id := range []string{"-1", "0", "1e3", "%00", "%2e%2e", "..", "99999999999999999999"} {
		for _, res := range []string{"users", "orders"} {
			path := "/v1/" + res + "/" + id
			check(t, "GET "+path, do(t, srv, "GET", path, "", nil), 400, badID)
		}
	}
	for _, path := range []string{"/v1/users/../", "/v1/users/../1", "/v1/users/./1", "/v1/../health"} {
		check(t, "GET "+path, do(t, srv, "GET", path, "", nil), 404, noRoute)
	}
	tests := []struct {
		path, ct, body string
		status         int
		want           string
	}{
		{"/v1/echo", jsonCT, `{"a":[1,2`, 400, badJSON},
		{"/v1/echo", jsonCT, nested(10000), 400, badJSON},
		{"/v1/orders", jsonCT, strings.Repeat(`{"a":`, 10000) + "1" + strings.Repeat("}", 10000), 400, badJSON},
		{"/v1/echo", jsonCT, "\"\xff\xfe\"", 400, badJSON},
		{"/v1/orders", jsonCT, `{"user_id": 18446744073709551616, "items": []}`, 400, bad("field user_id must be an integer")},
		{"/v1/orders", jsonCT, `{"user_id": 1e-400, "items": []}`, 400, bad("field user_id must be an integer")},
		{"/v1/orders", jsonCT, `{"user_id": 1e400, "items": []}`, 400, badJSON},
		// Beyond 64 bits but within float64: echoed (by value).
		{"/v1/echo", jsonCT, `123456789012345678901234567890`, 200, `123456789012345678901234567890`},
		// Beyond float64: serde_json's "number out of range".
		{"/v1/echo", jsonCT, `1e400`, 400, badJSON},
		{"/v1/echo", jsonCT, `[-1e400]`, 400, badJSON},
		{"/v1/echo", jsonCT, `1` + strings.Repeat("0", 309), 400, badJSON},
		// Underflow is no error: serde_json reads 0.0 (and -0.0).
		{"/v1/echo", jsonCT, `[1e-400,-1e-400]`, 200, `[1e-400,-1e-400]`},
		{"/v1/echo", "text/plain", `{}`, 415, mediaType},
		{"/v1/orders", "", `{}`, 415, mediaType},
	}
	for _, tt := range tests {
		got := do(t, srv, "POST", tt.path, tt.ct, strings.NewReader(tt.body))
		check(t, fmt.Sprintf("POST %s %.60q", tt.path, tt.body), got, tt.status, tt.want)
	}
}
