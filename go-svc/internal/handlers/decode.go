package handlers

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/gin-gonic/gin"

	"github.com/benchlab/go-svc/internal/apperror"
	"github.com/benchlab/go-svc/internal/limits"
	"github.com/benchlab/go-svc/internal/services"
)

// maxDepth is serde_json's recursion limit: 127 nested arrays/objects parse,
// 128 do not.
const maxDepth = 127

func badRequest(msg string) error { return apperror.New(apperror.BadRequest, msg) }

var (
	errInvalidJSON   = badRequest("request body is not valid JSON")
	errInvalidQuery  = badRequest("invalid query string")
	errNotAnObject   = badRequest("order must be a JSON object")
	errMediaType     = apperror.New(apperror.UnsupportedMediaType, "content type must be application/json")
	errTooLarge      = apperror.New(apperror.PayloadTooLarge, fmt.Sprintf("request body exceeds %d bytes", limits.MaxBodyBytes))
	errItemsNotArray = badRequest("field items must be an array")
)

// decodeBody runs the request-body pipeline in the contract's order:
// content type (415), size (413), then JSON validity (400).
func decodeBody(c *gin.Context) (any, error) {
	body, err := readBody(c.Request, c.Writer)
	if err != nil {
		return nil, err
	}
	v, ok := parseJSON(body)
	if !ok {
		return nil, errInvalidJSON
	}
	return v, nil
}

func readBody(r *http.Request, w http.ResponseWriter) ([]byte, error) {
	if !isJSONMediaType(r.Header.Get("Content-Type")) {
		return nil, errMediaType
	}
	if r.ContentLength > limits.MaxBodyBytes {
		return nil, errTooLarge
	}
	size := int64(bytes.MinRead)
	if r.ContentLength > 0 {
		size += r.ContentLength
	}
	buf := bytes.NewBuffer(make([]byte, 0, size))
	if _, err := buf.ReadFrom(http.MaxBytesReader(w, r.Body, limits.MaxBodyBytes)); err != nil {
		if _, ok := errors.AsType[*http.MaxBytesError](err); ok {
			return nil, errTooLarge
		}
		// A body cut short cannot be a JSON document.
		return nil, errInvalidJSON
	}
	return buf.Bytes(), nil
}

// isJSONMediaType: the media type (before any ';', trimmed, any case) is
// application/json.
func isJSONMediaType(contentType string) bool {
	mt, _, _ := strings.Cut(contentType, ";")
	return strings.EqualFold(strings.TrimSpace(mt), "application/json")
}

// parseJSON accepts exactly what serde_json accepts: encoding/json's grammar
// plus serde_json's extra rules (checkSerdeRules), decoding numbers as
// json.Number so that they keep their literal.
func parseJSON(b []byte) (any, bool) {
	if !utf8.Valid(b) || !checkSerdeRules(b) {
		return nil, false
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, false
	}
	for _, c := range b[dec.InputOffset():] {
		if !isSpace(c) {
			return nil, false
		}
	}
	return v, true
}

func isSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\r' }

// checkSerdeRules rejects what encoding/json accepts but serde_json does not:
// nesting deeper than maxDepth, unpaired UTF-16 surrogate escapes, and numbers
// beyond the float64 range. Its verdict only matters for syntactically valid
// input (anything else is rejected by the decoder), where its tracking of
// strings is exact.
func checkSerdeRules(b []byte) bool {
	depth := 0
	for i := 0; i < len(b); i++ {
		switch c := b[i]; {
		case c == '"':
			end, ok := checkString(b, i+1)
			if !ok {
				return false
			}
			i = end
		case c == '[' || c == '{':
			depth++
			if depth > maxDepth {
				return false
			}
		case c == ']' || c == '}':
			depth--
		case c == '-' || (c >= '0' && c <= '9'):
			end := i + 1
			for end < len(b) && isNumberByte(b[end]) {
				end++
			}
			if !finiteNumber(b[i:end]) {
				return false
			}
			i = end - 1
		}
	}
	return true
}

func isNumberByte(c byte) bool {
	return (c >= '0' && c <= '9') || c == '.' || c == 'e' || c == 'E' || c == '-' || c == '+'
}

// pow10 holds 1e0..1e308 correctly rounded, like serde_json's POW10 table.
var pow10 = func() [309]float64 {
	var t [309]float64
	for i := range t {
		t[i], _ = strconv.ParseFloat("1e"+strconv.Itoa(i), 64)
	}
	return t
}()

// finiteNumber replays serde_json's number parser (without its
// float_roundtrip feature) on a number literal, and reports false where it
// fails with "number out of range": the significand is kept in a uint64
// (further digits only move the exponent), then scaled by a power of ten;
// the literal is rejected when that overflows float64. Literals outside the
// JSON grammar pass; the decoder rejects them.
func finiteNumber(lit []byte) bool {
	i := 0
	if i < len(lit) && lit[i] == '-' {
		i++
	}
	var sig uint64
	var exp int64
	digit := func() (uint64, bool) {
		if i < len(lit) && lit[i] >= '0' && lit[i] <= '9' {
			return uint64(lit[i] - '0'), true
		}
		return 0, false
	}
	// u64 overflow of sig*10+d, as serde_json's overflow! macro.
	overflows := func(d uint64) bool {
		const limit = math.MaxUint64 / 10
		return sig >= limit && (sig > limit || d > math.MaxUint64%10)
	}
	if d, ok := digit(); ok && d == 0 {
		i++
	} else {
		for d, ok := digit(); ok; d, ok = digit() {
			if overflows(d) {
				for _, ok := digit(); ok; _, ok = digit() {
					exp++
					i++
				}
				break
			}
			sig = sig*10 + d
			i++
		}
	}
	if i < len(lit) && lit[i] == '.' {
		i++
		for d, ok := digit(); ok; d, ok = digit() {
			if overflows(d) {
				for _, ok := digit(); ok; _, ok = digit() {
					i++
				}
				break
			}
			sig = sig*10 + d
			exp--
			i++
		}
	}
	if i < len(lit) && (lit[i] == 'e' || lit[i] == 'E') {
		i++
		positive := true
		if i < len(lit) && (lit[i] == '+' || lit[i] == '-') {
			positive = lit[i] == '+'
			i++
		}
		var e int64
		for d, ok := digit(); ok; d, ok = digit() {
			if e*10+int64(d) > math.MaxInt32 {
				return sig == 0 || !positive
			}
			e = e*10 + int64(d)
			i++
		}
		if positive {
			exp += e
		} else {
			exp -= e
		}
	}
	if exp < 0 {
		return true // division only: never infinite
	}
	if exp < int64(len(pow10)) {
		return !math.IsInf(float64(sig)*pow10[exp], 0)
	}
	return sig == 0
}

// checkString scans a string body starting after its opening quote and
// returns the index of the closing quote. Surrogate escapes must pair up: a
// high one immediately followed by an escaped low one.
func checkString(b []byte, i int) (int, bool) {
	for ; i < len(b); i++ {
		switch b[i] {
		case '"':
			return i, true
		case '\\':
			i++
			if i >= len(b) {
				return i, false
			}
			if b[i] != 'u' {
				continue
			}
			r, ok := hex4(b, i+1)
			if !ok {
				return i, false
			}
			i += 4
			switch {
			case r >= 0xDC00 && r <= 0xDFFF:
				return i, false
			case r >= 0xD800 && r <= 0xDBFF:
				if i+2 >= len(b) || b[i+1] != '\\' || b[i+2] != 'u' {
					return i, false
				}
				lo, ok := hex4(b, i+3)
				if !ok || lo < 0xDC00 || lo > 0xDFFF {
					return i, false
				}
				i += 6
			}
		}
	}
	return i, false
}

func hex4(b []byte, i int) (rune, bool) {
	if i+4 > len(b) {
		return 0, false
	}
	var r rune
	for _, c := range b[i : i+4] {
		switch {
		case c >= '0' && c <= '9':
			r = r<<4 | rune(c-'0')
		case c >= 'a' && c <= 'f':
			r = r<<4 | rune(c-'a'+10)
		case c >= 'A' && c <= 'F':
			r = r<<4 | rune(c-'A'+10)
		default:
			return 0, false
		}
	}
	return r, true
}

// encodeJSON writes v compactly without HTML escaping; json.Number values
// keep their literal.
func encodeJSON(v any) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n")), nil
}

// orderInput checks the shape of a decoded order in the contract's order:
// top level, user_id, items, then each item's shape, sku and quantity.
// Keys match exactly (case-sensitive); for repeated keys the decoder kept
// the last value.
func orderInput(v any) (services.OrderInput, error) {
	obj, ok := v.(map[string]any)
	if !ok {
		return services.OrderInput{}, errNotAnObject
	}
	userID, err := intField(obj, "user_id", -1)
	if err != nil {
		return services.OrderInput{}, err
	}
	raw := obj["items"]
	if raw == nil {
		return services.OrderInput{}, missing("items")
	}
	list, ok := raw.([]any)
	if !ok {
		return services.OrderInput{}, errItemsNotArray
	}
	in := services.OrderInput{UserID: userID, Items: make([]services.OrderItemInput, len(list))}
	for i, rawItem := range list {
		item, ok := rawItem.(map[string]any)
		if !ok {
			return services.OrderInput{}, badRequest(fmt.Sprintf("field items[%d] must be an object", i))
		}
		rawSKU := item["sku"]
		if rawSKU == nil {
			return services.OrderInput{}, missing(fieldPath("sku", i))
		}
		sku, ok := rawSKU.(string)
		if !ok {
			return services.OrderInput{}, badRequest(fmt.Sprintf("field %s must be a string", fieldPath("sku", i)))
		}
		qty, err := intField(item, "quantity", i)
		if err != nil {
			return services.OrderInput{}, err
		}
		in.Items[i] = services.OrderItemInput{SKU: sku, Quantity: qty}
	}
	return in, nil
}

// fieldPath names a field in messages: the key itself at the top level
// (item < 0), items[{item}].{key} inside an item.
func fieldPath(key string, item int) string {
	if item < 0 {
		return key
	}
	return fmt.Sprintf("items[%d].%s", item, key)
}

// intField reads obj[key] as a JSON integer. An absent key and null both
// read as missing.
func intField(obj map[string]any, key string, item int) (int64, error) {
	raw := obj[key]
	if raw == nil {
		return 0, missing(fieldPath(key, item))
	}
	if n, ok := raw.(json.Number); ok {
		if v, ok := jsonInt(string(n)); ok {
			return v, nil
		}
	}
	return 0, badRequest(fmt.Sprintf("field %s must be an integer", fieldPath(key, item)))
}

// jsonInt: a number literal with no fraction and no exponent, not -0, whose
// value fits int64 (serde_json reads anything else as a float).
func jsonInt(lit string) (int64, bool) {
	if strings.ContainsAny(lit, ".eE") || lit == "-0" {
		return 0, false
	}
	v, err := strconv.ParseInt(lit, 10, 64)
	return v, err == nil
}

func missing(path string) error { return badRequest("missing field: " + path) }

// parseID: ASCII digits only (leading zeros allowed) with a value in
// 1..=MaxInt64. gin has already percent-decoded the path segment.
func parseID(s string) (int64, error) {
	v, ok := parseDigits(s)
	if !ok || v < 1 {
		return 0, services.ErrInvalidID()
	}
	return v, nil
}

// parseDigits parses a non-empty string of ASCII digits that fits int64.
func parseDigits(s string) (int64, bool) {
	if s == "" {
		return 0, false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return 0, false
		}
	}
	v, err := strconv.ParseInt(s, 10, 64)
	return v, err == nil
}

// pageQuery reads a product page's limit and offset from a raw query
// string: the query as a whole, then the limit completely (syntax and
// range), then the offset.
func pageQuery(rawQuery string) (limit, offset int64, err error) {
	// url.ParseQuery is exactly the contract's query rules.
	q, err := url.ParseQuery(rawQuery)
	if err != nil {
		return 0, 0, errInvalidQuery
	}
	limit, err = services.Limit(nil)
	if s, ok := firstValue(q, "limit"); ok {
		v, ok := parseDigits(s)
		if !ok {
			return 0, 0, services.ErrInvalidLimit()
		}
		limit, err = services.Limit(&v)
	}
	if err != nil {
		return 0, 0, err
	}
	offset, err = services.Offset(nil)
	if s, ok := firstValue(q, "offset"); ok {
		v, ok := parseDigits(s)
		if !ok {
			return 0, 0, services.ErrInvalidOffset()
		}
		offset, err = services.Offset(&v)
	}
	if err != nil {
		return 0, 0, err
	}
	return limit, offset, nil
}

// firstValue returns the first value of a repeated key.
func firstValue(q url.Values, key string) (string, bool) {
	vs := q[key]
	if len(vs) == 0 {
		return "", false
	}
	return vs[0], true
}
