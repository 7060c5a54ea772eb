// Package models holds the records the service serves, with the JSON field
// names of contract/README.md.
package models

// User is one of the 10,000 generated users.
type User struct {
	ID    int64    `json:"id"`
	Name  string   `json:"name"`
	Email string   `json:"email"`
	Age   int64    `json:"age"`
	Tags  []string `json:"tags"`
}

// Product is one of the 1,000 generated products.
type Product struct {
	ID         int64  `json:"id"`
	SKU        string `json:"sku"`
	Name       string `json:"name"`
	PriceCents int64  `json:"price_cents"`
	Category   string `json:"category"`
}

// ProductPage is the body of GET /v1/products.
type ProductPage struct {
	Items []*Product `json:"items"`
	Total int64      `json:"total"`
}

// OrderLine is one item of an order, priced at creation.
type OrderLine struct {
	SKU            string `json:"sku"`
	Quantity       int64  `json:"quantity"`
	UnitPriceCents int64  `json:"unit_price_cents"`
	LineTotalCents int64  `json:"line_total_cents"`
}

// Order is immutable once stored.
type Order struct {
	ID         int64       `json:"id"`
	UserID     int64       `json:"user_id"`
	Items      []OrderLine `json:"items"`
	TotalCents int64       `json:"total_cents"`
	Status     string      `json:"status"`
}

// OrderStatusCreated is the only status an order has.
const OrderStatusCreated = "created"

// Health is the body of GET /health.
type Health struct {
	Status string `json:"status"`
}

// ErrorBody is the body of every error response.
type ErrorBody struct {
	Error ErrorDetail `json:"error"`
}

// ErrorDetail carries the contract's error code and message.
type ErrorDetail struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}
