package handlers

import (
	"errors"
	"reflect"
	"strings"
	"testing"

	"github.com/benchlab/go-svc/internal/apperror"
	"github.com/benchlab/go-svc/internal/services"
)

func nested(depth int) string {
	return strings.Repeat("[", depth) + strings.Repeat("]", depth)
}

func nestedObjects(depth int) string {
	return strings.Repeat(`{"a":`, depth) + "1" + strings.Repeat("}", depth)
}

func TestParseJSONMatchesSerde(t *testing.T) {
	valid := []string{
		`{}`, `[]`, `1`, `"x"`, `null`, " \t\r\n[1] \n",
		nested(127), nestedObjects(127), `{"a":[` + nested(125) + `]}`,
		`"\ud800\udc00"`, `"\uDBFF\uDFFF"`, `"é€😀"`, `"\u0000"`, "\"\x7f\"",
		`-0`, `1.0`, `1e3`, `9223372036854775808`, `18446744073709551616`,
		`1e308`, `1.7976931348623157e308`, `1e-400`, `0e999999999999`, `-1e-999999999999`,
		strings.Repeat("9", 308), `{"a":1,"a":2}`,
	}
	for _, s := range valid {
		if _, ok := parseJSON([]byte(s)); !ok {
			t.Errorf("parseJSON(%.60q) rejected, serde_json accepts it", s)
		}
	}
	invalid := []string{
		``, ` `, `[`, `{"a"}`, `[1,]`, `01`, `+1`, `.5`, `1.`, `NaN`, `'a'`,
		`{} {}`, `[1] x`, `1 2`, `"a"b`, "\xef\xbb\xbf{}",
		nested(128), nestedObjects(128), `{"a":[` + nested(126) + `]}`,
		`"\ud800"`, `"\udc00"`, `"\ud800\u0041"`, `"\ud800\ud800"`, `"\udc00\ud800"`, `"\ud800x"`, `{"\ud800":1}`,
		"\"\xff\"", "\"\xed\xa0\x80\"", "[1]\xff", "\"\x01\"",
		`1e309`, `-1e400`, `1.7976931348623158e308`, `1e9999999999999`, strings.Repeat("9", 309),
	}
	for _, s := range invalid {
		if _, ok := parseJSON([]byte(s)); ok {
			t.Errorf("parseJSON(%.60q) accepted, serde_json rejects it", s)
		}
	}
}

func TestEncodeKeepsLiteralsAndSortsKeys(t *testing.T) {
	v, ok := parseJSON([]byte(` {"b":[1.0, 1e3, -0, 9223372036854775808], "a":"<&>", "a":"\u00e9"} `))
	if !ok {
		t.Fatal("rejected")
	}
	got, err := encodeJSON(v)
	if err != nil {
		t.Fatal(err)
	}
	if want := `{"a":"é","b":[1.0,1e3,-0,9223372036854775808]}`; string(got) != want {
		t.Fatalf("got %s, want %s", got, want)
	}
}

func TestJSONInt(t *testing.T) {
	for lit, want := range map[string]int64{"0": 0, "-1": -1, "9223372036854775807": 1<<63 - 1, "-9223372036854775808": -1 << 63} {
		if v, ok := jsonInt(lit); !ok || v != want {
			t.Errorf("jsonInt(%s) = %d, %v", lit, v, ok)
		}
	}
	for _, lit := range []string{"-0", "1.0", "1e3", "1E3", "9223372036854775808", "-9223372036854775809"} {
		if _, ok := jsonInt(lit); ok {
			t.Errorf("jsonInt(%s) accepted", lit)
		}
	}
}

func TestParseID(t *testing.T) {
	for s, want := range map[string]int64{"1": 1, "010001": 10001, "9223372036854775807": 1<<63 - 1} {
		if v, err := parseID(s); err != nil || v != want {
			t.Errorf("parseID(%q) = %d, %v", s, v, err)
		}
	}
	for _, s := range []string{"", "0", "000", "-1", "+1", "1e3", " 1", "1 ", "٣", "9223372036854775808", "1/2"} {
		if _, err := parseID(s); err == nil {
			t.Errorf("parseID(%q) accepted", s)
		}
	}
}

func TestIsJSONMediaType(t *testing.T) {
	for _, ct := range []string{"application/json", "Application/JSON", " application/json ; charset=utf-8", "application/json;"} {
		if !isJSONMediaType(ct) {
			t.Errorf("%q rejected", ct)
		}
	}
	for _, ct := range []string{"", "text/plain", "application/jsonx", "application/json-patch+json", "application /json", "application/problem+json"} {
		if isJSONMediaType(ct) {
			t.Errorf("%q accepted", ct)
		}
	}
}

func TestOrderInput(t *testing.T) {
	decode := func(s string) any {
		v, ok := parseJSON([]byte(s))
		if !ok {
			t.Fatalf("invalid JSON %s", s)
		}
		return v
	}
	got, err := orderInput(decode(`{"user_id":"x","user_id":3,"User_Id":9,"extra":{},"items":[{"sku":"A","quantity":2,"Quantity":"x"},{"sku":"A","quantity":1}]}`))
	if err != nil {
		t.Fatal(err)
	}
	want := services.OrderInput{UserID: 3, Items: []services.OrderItemInput{{SKU: "A", Quantity: 2}, {SKU: "A", Quantity: 1}}}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("got %+v, want %+v", got, want)
	}

	tests := []struct{ body, msg string }{
		{`[]`, "order must be a JSON object"},
		{`"x"`, "order must be a JSON object"},
		{`null`, "order must be a JSON object"},
		{`{}`, "missing field: user_id"},
		{`{"user_id":null,"items":5}`, "missing field: user_id"},
		{`{"USER_ID":1,"items":[]}`, "missing field: user_id"},
		{`{"user_id":"1","items":5}`, "field user_id must be an integer"},
		{`{"user_id":1.0}`, "field user_id must be an integer"},
		{`{"user_id":-0}`, "field user_id must be an integer"},
		{`{"user_id":1e0}`, "field user_id must be an integer"},
		{`{"user_id":9223372036854775808}`, "field user_id must be an integer"},
		{`{"user_id":true}`, "field user_id must be an integer"},
		{`{"user_id":1}`, "missing field: items"},
		{`{"user_id":1,"items":null}`, "missing field: items"},
		{`{"user_id":1,"items":{}}`, "field items must be an array"},
		{`{"user_id":1,"items":"[]"}`, "field items must be an array"},
		{`{"user_id":1,"items":[1]}`, "field items[0] must be an object"},
		{`{"user_id":1,"items":[{"sku":"A","quantity":1},[]]}`, "field items[1] must be an object"},
		{`{"user_id":1,"items":[{"quantity":1}]}`, "missing field: items[0].sku"},
		{`{"user_id":1,"items":[{"sku":null,"quantity":"x"}]}`, "missing field: items[0].sku"},
		{`{"user_id":1,"items":[{"sku":1,"quantity":1}]}`, "field items[0].sku must be a string"},
		{`{"user_id":1,"items":[{"sku":"A"}]}`, "missing field: items[0].quantity"},
		{`{"user_id":1,"items":[{"sku":"A","quantity":null}]}`, "missing field: items[0].quantity"},
		{`{"user_id":1,"items":[{"sku":"A","quantity":1},{"sku":"A","quantity":2.5}]}`, "field items[1].quantity must be an integer"},
		// Shape errors of later items come before validation of earlier ones.
		{`{"user_id":0,"items":[{"sku":"nope","quantity":0},{}]}`, "missing field: items[1].sku"},
	}
	for _, tt := range tests {
		_, err := orderInput(decode(tt.body))
		e, ok := errors.AsType[*apperror.Error](err)
		if !ok || e.Kind != apperror.BadRequest || e.Message != tt.msg {
			t.Errorf("%s: got %v, want 400 %q", tt.body, err, tt.msg)
		}
	}
}
