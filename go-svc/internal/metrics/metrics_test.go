package metrics

import (
	"context"
	"testing"

	"github.com/prometheus/client_golang/prometheus/testutil"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

func TestCodeName(t *testing.T) {
	for c, want := range map[codes.Code]string{
		codes.OK: "OK", codes.Canceled: "CANCELLED", codes.InvalidArgument: "INVALID_ARGUMENT",
		codes.NotFound: "NOT_FOUND", codes.ResourceExhausted: "RESOURCE_EXHAUSTED",
		codes.Unimplemented: "UNIMPLEMENTED", codes.Internal: "INTERNAL", codes.Unauthenticated: "UNAUTHENTICATED",
		codes.Code(99): "CODE_99",
	} {
		if got := CodeName(c); got != want {
			t.Errorf("CodeName(%v) = %q, want %q", c, got, want)
		}
	}
}

func TestTemplate(t *testing.T) {
	for in, want := range map[string]string{
		"/health": "/health", "/v1/users/:id": "/v1/users/{id}", "/a/:x/b/:y": "/a/{x}/b/{y}", "": "",
	} {
		if got := Template(in); got != want {
			t.Errorf("Template(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestGRPCInterceptors(t *testing.T) {
	m := New()
	unary := m.UnaryInterceptor()
	info := &grpc.UnaryServerInfo{FullMethod: "/lab.v1.UserService/GetUser"}
	ok := func(context.Context, any) (any, error) { return "ok", nil }
	notFound := func(context.Context, any) (any, error) { return nil, status.Error(codes.NotFound, "x") }
	unary(t.Context(), nil, info, ok)
	unary(t.Context(), nil, info, ok)
	unary(t.Context(), nil, info, notFound)
	stream := m.StreamInterceptor()
	sinfo := &grpc.StreamServerInfo{FullMethod: "/lab.v1.EchoService/EchoStream"}
	stream(nil, nil, sinfo, func(any, grpc.ServerStream) error { return nil })

	for _, tt := range []struct {
		method, code string
		want         float64
	}{
		{"/lab.v1.UserService/GetUser", "OK", 2},
		{"/lab.v1.UserService/GetUser", "NOT_FOUND", 1},
		{"/lab.v1.EchoService/EchoStream", "OK", 1},
	} {
		if got := testutil.ToFloat64(m.grpcRequests.WithLabelValues(tt.method, tt.code)); got != tt.want {
			t.Errorf("grpc_requests_total{%s,%s} = %v, want %v", tt.method, tt.code, got, tt.want)
		}
	}
	if n := testutil.CollectAndCount(m.grpcDuration, "grpc_request_duration_seconds"); n != 3 {
		t.Errorf("%d duration series, want 3", n)
	}
}
