package grpcapi

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"testing"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"
	"google.golang.org/grpc/test/bufconn"
	"google.golang.org/protobuf/proto"

	labv1 "github.com/benchlab/go-svc/gen/lab/v1"
	"github.com/benchlab/go-svc/internal/services"
)

func dial(t *testing.T, svc *services.Service) *grpc.ClientConn {
	t.Helper()
	lis := bufconn.Listen(1 << 20)
	s := grpc.NewServer(grpc.MaxRecvMsgSize(4 << 20))
	Register(s, svc)
	go s.Serve(lis)
	t.Cleanup(s.Stop)
	conn, err := grpc.NewClient("passthrough:///bufnet",
		grpc.WithContextDialer(func(ctx context.Context, _ string) (net.Conn, error) { return lis.DialContext(ctx) }),
		grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithDefaultCallOptions(grpc.MaxCallRecvMsgSize(16<<20), grpc.MaxCallSendMsgSize(16<<20)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return conn
}

func wantStatus(t *testing.T, err error, code codes.Code, msg string) {
	t.Helper()
	st, _ := status.FromError(err)
	if st.Code() != code || (msg != "" && st.Message() != msg) {
		t.Fatalf("status = %v %q, want %v %q", st.Code(), st.Message(), code, msg)
	}
}

func ptr(v int64) *int64 { return &v }

func TestGetUser(t *testing.T) {
	c := labv1.NewUserServiceClient(dial(t, services.New()))
	ctx := t.Context()
	u, err := c.GetUser(ctx, &labv1.GetUserRequest{Id: 1})
	if err != nil {
		t.Fatal(err)
	}
	want := &labv1.User{Id: 1, Name: "User 1", Email: "user1@example.com", Age: 63, Tags: []string{"t1", "t1"}}
	if !proto.Equal(u, want) {
		t.Fatalf("got %v, want %v", u, want)
	}
	_, err = c.GetUser(ctx, &labv1.GetUserRequest{Id: 10001})
	wantStatus(t, err, codes.NotFound, "user 10001 not found")
	_, err = c.GetUser(ctx, &labv1.GetUserRequest{})
	wantStatus(t, err, codes.InvalidArgument, "invalid id: must be a positive integer")
	_, err = c.GetUser(ctx, &labv1.GetUserRequest{Id: -1})
	wantStatus(t, err, codes.InvalidArgument, "invalid id: must be a positive integer")
}

func TestProducts(t *testing.T) {
	c := labv1.NewCatalogServiceClient(dial(t, services.New()))
	ctx := t.Context()

	page, err := c.ListProducts(ctx, &labv1.ListProductsRequest{})
	if err != nil {
		t.Fatal(err)
	}
	if page.Total != 1000 || len(page.Items) != 20 || page.Items[0].Id != 1 || page.Items[19].Id != 20 {
		t.Fatalf("default page: total %d, %d items", page.Total, len(page.Items))
	}
	want := &labv1.Product{Id: 1, Sku: "SKU-00001", Name: "Product 1", PriceCents: 137, Category: "games"}
	if !proto.Equal(page.Items[0], want) {
		t.Fatalf("product 1 = %v", page.Items[0])
	}
	page, err = c.ListProducts(ctx, &labv1.ListProductsRequest{Limit: ptr(1000), Offset: ptr(995)})
	if err != nil || len(page.Items) != 5 || page.Items[0].Id != 996 {
		t.Fatalf("tail page: %v %v", page, err)
	}
	page, err = c.ListProducts(ctx, &labv1.ListProductsRequest{Offset: ptr(1000)})
	if err != nil || len(page.Items) != 0 || page.Total != 1000 {
		t.Fatalf("empty page: %v %v", page, err)
	}
	const limitMsg = "invalid limit: must be an integer in 1..=1000"
	for _, req := range []*labv1.ListProductsRequest{{Limit: ptr(0)}, {Limit: ptr(1001)}, {Limit: ptr(-1), Offset: ptr(-1)}} {
		_, err = c.ListProducts(ctx, req)
		wantStatus(t, err, codes.InvalidArgument, limitMsg)
	}
	_, err = c.ListProducts(ctx, &labv1.ListProductsRequest{Offset: ptr(-1)})
	wantStatus(t, err, codes.InvalidArgument, "invalid offset: must be a non-negative integer")

	stream, err := c.StreamProducts(ctx, &labv1.ListProductsRequest{Limit: ptr(3), Offset: ptr(998)})
	if err != nil {
		t.Fatal(err)
	}
	var ids []int64
	for {
		p, err := stream.Recv()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, p.Id)
	}
	if len(ids) != 2 || ids[0] != 999 || ids[1] != 1000 {
		t.Fatalf("streamed ids %v", ids)
	}
	stream, err = c.StreamProducts(ctx, &labv1.ListProductsRequest{Limit: ptr(0)})
	if err == nil {
		_, err = stream.Recv()
	}
	wantStatus(t, err, codes.InvalidArgument, limitMsg)
}

func TestOrders(t *testing.T) {
	c := labv1.NewOrderServiceClient(dial(t, services.New()))
	ctx := t.Context()
	o, err := c.CreateOrder(ctx, &labv1.CreateOrderRequest{UserId: 2, Items: []*labv1.OrderItemRequest{
		{Sku: "SKU-00001", Quantity: 2}, {Sku: "SKU-00001", Quantity: 1},
	}})
	if err != nil {
		t.Fatal(err)
	}
	want := &labv1.Order{Id: 1, UserId: 2, TotalCents: 411, Status: "created", Items: []*labv1.OrderLine{
		{Sku: "SKU-00001", Quantity: 2, UnitPriceCents: 137, LineTotalCents: 274},
		{Sku: "SKU-00001", Quantity: 1, UnitPriceCents: 137, LineTotalCents: 137},
	}}
	if !proto.Equal(o, want) {
		t.Fatalf("got %v, want %v", o, want)
	}
	got, err := c.GetOrder(ctx, &labv1.GetOrderRequest{Id: 1})
	if err != nil || !proto.Equal(got, want) {
		t.Fatalf("GetOrder: %v %v", got, err)
	}
	_, err = c.GetOrder(ctx, &labv1.GetOrderRequest{Id: 2})
	wantStatus(t, err, codes.NotFound, "order 2 not found")
	_, err = c.GetOrder(ctx, &labv1.GetOrderRequest{Id: 0})
	wantStatus(t, err, codes.InvalidArgument, "invalid id: must be a positive integer")

	item := &labv1.OrderItemRequest{Sku: "SKU-00001", Quantity: 1}
	tests := []struct {
		req *labv1.CreateOrderRequest
		msg string
	}{
		{&labv1.CreateOrderRequest{Items: []*labv1.OrderItemRequest{item}}, "unknown user_id 0"},
		{&labv1.CreateOrderRequest{UserId: 1}, "items must contain 1 to 100 entries, got 0"},
		{&labv1.CreateOrderRequest{UserId: 1, Items: []*labv1.OrderItemRequest{item, {Sku: "nope"}}}, "items[1].sku: unknown sku nope"},
		{&labv1.CreateOrderRequest{UserId: 1, Items: []*labv1.OrderItemRequest{{Sku: "SKU-00001"}}}, "items[0].quantity: must be in 1..=1000, got 0"},
	}
	for _, tt := range tests {
		_, err := c.CreateOrder(ctx, tt.req)
		wantStatus(t, err, codes.InvalidArgument, tt.msg)
	}
}

func TestEcho(t *testing.T) {
	conn := dial(t, services.New())
	c := labv1.NewEchoServiceClient(conn)
	ctx := t.Context()
	payload := []byte{0, 1, 2, 0xff}
	resp, err := c.Echo(ctx, &labv1.EchoRequest{Payload: payload})
	if err != nil || !bytes.Equal(resp.Payload, payload) {
		t.Fatalf("Echo: %v %v", resp, err)
	}
	// Up to 4 MiB per message (the 4 MiB message holds a slightly smaller payload).
	big := bytes.Repeat([]byte{'x'}, 4<<20-8)
	if resp, err := c.Echo(ctx, &labv1.EchoRequest{Payload: big}); err != nil || len(resp.Payload) != len(big) {
		t.Fatalf("4 MiB echo: %v", err)
	}
	_, err = c.Echo(ctx, &labv1.EchoRequest{Payload: make([]byte, 4<<20)})
	wantStatus(t, err, codes.ResourceExhausted, "")

	stream, err := c.EchoStream(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for i := range 5 {
		p := bytes.Repeat([]byte{byte('a' + i)}, i)
		if err := stream.Send(&labv1.EchoRequest{Payload: p}); err != nil {
			t.Fatal(err)
		}
		resp, err := stream.Recv()
		if err != nil || !bytes.Equal(resp.Payload, p) {
			t.Fatalf("ping %d: %v %v", i, resp, err)
		}
	}
	if err := stream.CloseSend(); err != nil {
		t.Fatal(err)
	}
	if _, err := stream.Recv(); !errors.Is(err, io.EOF) {
		t.Fatalf("after half-close: %v, want EOF", err)
	}

	err = conn.Invoke(ctx, "/lab.v1.EchoService/Nope", &labv1.EchoRequest{}, &labv1.EchoResponse{})
	wantStatus(t, err, codes.Unimplemented, "")
}
