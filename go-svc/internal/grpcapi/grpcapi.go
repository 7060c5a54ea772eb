// Package grpcapi implements the lab.v1 gRPC services over the same domain
// logic as the REST API.
package grpcapi

import (
	"context"
	"errors"
	"io"

	"google.golang.org/grpc"

	labv1 "github.com/benchlab/go-svc/gen/lab/v1"
	"github.com/benchlab/go-svc/internal/apperror"
	"github.com/benchlab/go-svc/internal/models"
	"github.com/benchlab/go-svc/internal/services"
)

// Register adds the four lab.v1 services to s.
func Register(s grpc.ServiceRegistrar, svc *services.Service) {
	labv1.RegisterUserServiceServer(s, &UserServer{svc: svc})
	labv1.RegisterCatalogServiceServer(s, &CatalogServer{svc: svc})
	labv1.RegisterOrderServiceServer(s, &OrderServer{svc: svc})
	labv1.RegisterEchoServiceServer(s, &EchoServer{})
}

// ServiceNames are the full names of the lab.v1 services, for health checks.
var ServiceNames = []string{
	labv1.UserService_ServiceDesc.ServiceName,
	labv1.CatalogService_ServiceDesc.ServiceName,
	labv1.OrderService_ServiceDesc.ServiceName,
	labv1.EchoService_ServiceDesc.ServiceName,
}

// UserServer implements lab.v1.UserService.
type UserServer struct {
	labv1.UnimplementedUserServiceServer
	svc *services.Service
}

// GetUser returns a user; ids <= 0 are INVALID_ARGUMENT, unknown NOT_FOUND.
func (s *UserServer) GetUser(_ context.Context, req *labv1.GetUserRequest) (*labv1.User, error) {
	u, err := s.svc.User(req.GetId())
	if err != nil {
		return nil, apperror.GRPC(err)
	}
	return &labv1.User{Id: u.ID, Name: u.Name, Email: u.Email, Age: u.Age, Tags: u.Tags}, nil
}

// CatalogServer implements lab.v1.CatalogService.
type CatalogServer struct {
	labv1.UnimplementedCatalogServiceServer
	svc *services.Service
}

// ListProducts returns one page of products.
func (s *CatalogServer) ListProducts(_ context.Context, req *labv1.ListProductsRequest) (*labv1.ListProductsResponse, error) {
	page, err := s.svc.ListProducts(req.Limit, req.Offset)
	if err != nil {
		return nil, apperror.GRPC(err)
	}
	resp := &labv1.ListProductsResponse{Items: make([]*labv1.Product, len(page.Items)), Total: page.Total}
	for i, p := range page.Items {
		resp.Items[i] = product(p)
	}
	return resp, nil
}

// StreamProducts sends the same page as ListProducts, one product a message.
func (s *CatalogServer) StreamProducts(req *labv1.ListProductsRequest, stream grpc.ServerStreamingServer[labv1.Product]) error {
	page, err := s.svc.ListProducts(req.Limit, req.Offset)
	if err != nil {
		return apperror.GRPC(err)
	}
	for _, p := range page.Items {
		if err := stream.Send(product(p)); err != nil {
			return err
		}
	}
	return nil
}

func product(p *models.Product) *labv1.Product {
	return &labv1.Product{Id: p.ID, Sku: p.SKU, Name: p.Name, PriceCents: p.PriceCents, Category: p.Category}
}

// OrderServer implements lab.v1.OrderService.
type OrderServer struct {
	labv1.UnimplementedOrderServiceServer
	svc *services.Service
}

// CreateOrder validates and stores an order; a missing user_id reads as 0.
func (s *OrderServer) CreateOrder(_ context.Context, req *labv1.CreateOrderRequest) (*labv1.Order, error) {
	in := services.OrderInput{UserID: req.GetUserId(), Items: make([]services.OrderItemInput, len(req.GetItems()))}
	for i, it := range req.GetItems() {
		in.Items[i] = services.OrderItemInput{SKU: it.GetSku(), Quantity: it.GetQuantity()}
	}
	o, err := s.svc.CreateOrder(in)
	if err != nil {
		return nil, apperror.GRPC(err)
	}
	return order(o), nil
}

// GetOrder returns a stored order, as GET /v1/orders/{id}.
func (s *OrderServer) GetOrder(_ context.Context, req *labv1.GetOrderRequest) (*labv1.Order, error) {
	o, err := s.svc.Order(req.GetId())
	if err != nil {
		return nil, apperror.GRPC(err)
	}
	return order(o), nil
}

func order(o *models.Order) *labv1.Order {
	out := &labv1.Order{
		Id:         o.ID,
		UserId:     o.UserID,
		Items:      make([]*labv1.OrderLine, len(o.Items)),
		TotalCents: o.TotalCents,
		Status:     o.Status,
	}
	for i, l := range o.Items {
		out.Items[i] = &labv1.OrderLine{
			Sku:            l.SKU,
			Quantity:       l.Quantity,
			UnitPriceCents: l.UnitPriceCents,
			LineTotalCents: l.LineTotalCents,
		}
	}
	return out
}

// EchoServer implements lab.v1.EchoService.
type EchoServer struct {
	labv1.UnimplementedEchoServiceServer
}

// Echo returns the payload unchanged.
func (EchoServer) Echo(_ context.Context, req *labv1.EchoRequest) (*labv1.EchoResponse, error) {
	return &labv1.EchoResponse{Payload: req.GetPayload()}, nil
}

// EchoStream answers each request in order until the client half-closes.
func (EchoServer) EchoStream(stream grpc.BidiStreamingServer[labv1.EchoRequest, labv1.EchoResponse]) error {
	for {
		req, err := stream.Recv()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
		if err := stream.Send(&labv1.EchoResponse{Payload: req.GetPayload()}); err != nil {
			return err
		}
	}
}
