package services

import (
	"fmt"
	"sync"

	"github.com/benchlab/go-svc/internal/apperror"
	"github.com/benchlab/go-svc/internal/models"
)

const (
	// DefaultOrderCapacity is the number of ring slots of the order store.
	DefaultOrderCapacity = 100000

	maxItems    = 100
	maxQuantity = 1000
)

// OrderItemInput is one requested item, already shape-checked.
type OrderItemInput struct {
	SKU      string
	Quantity int64
}

// OrderInput is an order request, already shape-checked; validation (422)
// happens in CreateOrder.
type OrderInput struct {
	UserID int64
	Items  []OrderItemInput
}

// CreateOrder validates in the contract's order (user_id, item count, then
// each item's sku and quantity), prices the lines and stores the order.
func (s *Service) CreateOrder(in OrderInput) (*models.Order, error) {
	if in.UserID < 1 || in.UserID > int64(len(s.users)) {
		return nil, validation("unknown user_id %d", in.UserID)
	}
	if n := len(in.Items); n < 1 || n > maxItems {
		return nil, validation("items must contain 1 to 100 entries, got %d", n)
	}
	o := &models.Order{
		UserID: in.UserID,
		Items:  make([]models.OrderLine, len(in.Items)),
		Status: models.OrderStatusCreated,
	}
	for i, it := range in.Items {
		p, ok := s.bySKU[it.SKU]
		if !ok {
			return nil, validation("items[%d].sku: unknown sku %s", i, it.SKU)
		}
		if it.Quantity < 1 || it.Quantity > maxQuantity {
			return nil, validation("items[%d].quantity: must be in 1..=1000, got %d", i, it.Quantity)
		}
		line := it.Quantity * p.PriceCents
		o.Items[i] = models.OrderLine{
			SKU:            it.SKU,
			Quantity:       it.Quantity,
			UnitPriceCents: p.PriceCents,
			LineTotalCents: line,
		}
		o.TotalCents += line
	}
	s.orders.Insert(o)
	return o, nil
}

// Order returns the stored order with the given id.
func (s *Service) Order(id int64) (*models.Order, error) {
	if id <= 0 {
		return nil, ErrInvalidID()
	}
	o := s.orders.Get(id)
	if o == nil {
		return nil, apperror.New(apperror.NotFound, fmt.Sprintf("order %d not found", id))
	}
	return o, nil
}

func validation(format string, args ...any) error {
	return apperror.New(apperror.Validation, fmt.Sprintf(format, args...))
}

// OrderStore is a ring of orders indexed by id % capacity behind one mutex:
// a new order overwrites the oldest once the ring is full.
type OrderStore struct {
	mu     sync.Mutex
	nextID int64
	slots  []*models.Order
}

// NewOrderStore returns an empty store; capacity < 1 means DefaultOrderCapacity.
func NewOrderStore(capacity int) *OrderStore {
	if capacity < 1 {
		capacity = DefaultOrderCapacity
	}
	return &OrderStore{nextID: 1, slots: make([]*models.Order, capacity)}
}

// Insert assigns o the next id and stores it. o must not be shared yet, and
// must not be modified afterwards.
func (st *OrderStore) Insert(o *models.Order) {
	st.mu.Lock()
	o.ID = st.nextID
	st.nextID++
	st.slots[o.ID%int64(len(st.slots))] = o
	st.mu.Unlock()
}

// Get returns the order with the given positive id, or nil if it was never
// created or has been evicted.
func (st *OrderStore) Get(id int64) *models.Order {
	st.mu.Lock()
	o := st.slots[id%int64(len(st.slots))]
	st.mu.Unlock()
	if o == nil || o.ID != id {
		return nil
	}
	return o
}
