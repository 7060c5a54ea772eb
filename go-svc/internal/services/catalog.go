// Package services is the domain logic shared by the REST and gRPC APIs:
// the generated data, lookups, product paging, order creation and the
// order store.
package services

import (
	"fmt"

	"github.com/benchlab/go-svc/internal/apperror"
	"github.com/benchlab/go-svc/internal/models"
)

const (
	// UserCount and ProductCount are the sizes of the generated data sets.
	UserCount    = 10000
	ProductCount = 1000

	// DefaultLimit and MaxLimit bound a product page.
	DefaultLimit = 20
	MaxLimit     = 1000
)

var categories = [5]string{"books", "games", "tools", "food", "toys"}

// Service holds the data generated at start-up, the order store and the
// readiness that health checks report.
type Service struct {
	users    []*models.User // index id-1
	products []*models.Product
	bySKU    map[string]*models.Product
	orders   *OrderStore
	ready    readiness
}

// New generates the data from the contract's formulas and an order store
// of DefaultOrderCapacity slots.
func New() *Service {
	return NewWithCapacity(DefaultOrderCapacity)
}

// NewWithCapacity is New with an order store of the given capacity.
func NewWithCapacity(orderCapacity int) *Service {
	s := &Service{
		users:    make([]*models.User, UserCount),
		products: make([]*models.Product, ProductCount),
		bySKU:    make(map[string]*models.Product, ProductCount),
		orders:   NewOrderStore(orderCapacity),
	}
	for id := int64(1); id <= UserCount; id++ {
		s.users[id-1] = &models.User{
			ID:    id,
			Name:  fmt.Sprintf("User %d", id),
			Email: fmt.Sprintf("user%d@example.com", id),
			Age:   18 + (id*7919)%62,
			Tags:  []string{fmt.Sprintf("t%d", id%5), fmt.Sprintf("t%d", id%7)},
		}
	}
	for id := int64(1); id <= ProductCount; id++ {
		p := &models.Product{
			ID:         id,
			SKU:        fmt.Sprintf("SKU-%05d", id),
			Name:       fmt.Sprintf("Product %d", id),
			PriceCents: 100 + (id*37)%9900,
			Category:   categories[id%5],
		}
		s.products[id-1] = p
		s.bySKU[p.SKU] = p
	}
	return s
}

// ErrInvalidID is the error for a path or message id that is not positive.
func ErrInvalidID() error {
	return apperror.New(apperror.BadRequest, "invalid id: must be a positive integer")
}

// ErrInvalidLimit is the error for a limit outside 1..=1000.
func ErrInvalidLimit() error {
	return apperror.New(apperror.BadRequest, "invalid limit: must be an integer in 1..=1000")
}

// ErrInvalidOffset is the error for a negative offset.
func ErrInvalidOffset() error {
	return apperror.New(apperror.BadRequest, "invalid offset: must be a non-negative integer")
}

// User returns the user with the given id.
func (s *Service) User(id int64) (*models.User, error) {
	if id <= 0 {
		return nil, ErrInvalidID()
	}
	if id > int64(len(s.users)) {
		return nil, apperror.New(apperror.NotFound, fmt.Sprintf("user %d not found", id))
	}
	return s.users[id-1], nil
}

// Limit resolves an optional limit: absent is DefaultLimit, present must be
// in 1..=MaxLimit.
func Limit(limit *int64) (int64, error) {
	if limit == nil {
		return DefaultLimit, nil
	}
	if *limit < 1 || *limit > MaxLimit {
		return 0, ErrInvalidLimit()
	}
	return *limit, nil
}

// Offset resolves an optional offset: absent is 0, present must be >= 0.
func Offset(offset *int64) (int64, error) {
	if offset == nil {
		return 0, nil
	}
	if *offset < 0 {
		return 0, ErrInvalidOffset()
	}
	return *offset, nil
}

// ListProducts validates the limit, then the offset, and returns the page.
func (s *Service) ListProducts(limit, offset *int64) (models.ProductPage, error) {
	l, err := Limit(limit)
	if err != nil {
		return models.ProductPage{}, err
	}
	o, err := Offset(offset)
	if err != nil {
		return models.ProductPage{}, err
	}
	return s.Page(l, o), nil
}

// Page returns the products with ids offset+1..=min(offset+limit, 1000) for
// an already validated limit and offset.
func (s *Service) Page(limit, offset int64) models.ProductPage {
	total := int64(len(s.products))
	page := models.ProductPage{Items: []*models.Product{}, Total: total}
	if offset >= total {
		return page
	}
	end := min(offset+limit, total) // offset < 1000 and limit <= 1000: no overflow
	page.Items = s.products[offset:end]
	return page
}

// ProductBySKU returns the product with the given sku, if any.
func (s *Service) ProductBySKU(sku string) (*models.Product, bool) {
	p, ok := s.bySKU[sku]
	return p, ok
}
