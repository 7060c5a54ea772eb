package server

import (
	"bufio"
	"net/http"
	"strings"
	"testing"
)

// TestHeadSize: for a head written "Name: value", headSize gives its exact
// size, so that the 16 KiB limit is hyper's to the byte.
func TestHeadSize(t *testing.T) {
	for _, head := range []string{
		"GET / HTTP/1.1\r\nHost: x\r\n\r\n",
		"GET /v1/products?limit=5&offset=10 HTTP/1.0\r\n\r\n",
		"POST /v1/echo HTTP/1.1\r\nHost: localhost:8080\r\nContent-Type: application/json\r\nContent-Length: 2\r\nX-A: 1\r\nX-A: 2\r\nx-lower: v\r\n\r\n",
		headWithFields(101),
		headOfSize(16 << 10),
	} {
		r, err := http.ReadRequest(bufio.NewReader(strings.NewReader(head)))
		if err != nil {
			t.Fatalf("%.40q: %v", head, err)
		}
		wantFields := strings.Count(head, "\r\n") - 2
		if fields, size := headSize(r); fields != wantFields || size != len(head) {
			t.Errorf("%.40q: headSize = %d fields, %d bytes; want %d, %d", head, fields, size, wantFields, len(head))
		}
	}
}
