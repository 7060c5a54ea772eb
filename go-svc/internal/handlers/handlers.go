// Package handlers holds the Gin REST handlers and the request decoding
// rules of contract/README.md.
package handlers

import (
	"net/http"

	"github.com/gin-gonic/gin"

	"github.com/benchlab/go-svc/internal/apperror"
	"github.com/benchlab/go-svc/internal/models"
	"github.com/benchlab/go-svc/internal/services"
)

// Handlers serves the REST API from a Service.
type Handlers struct {
	svc *services.Service
}

// New returns the REST handlers over svc.
func New(svc *services.Service) *Handlers {
	return &Handlers{svc: svc}
}

var (
	errNoRoute          = apperror.New(apperror.NotFound, "no such route")
	errMethodNotAllowed = apperror.New(apperror.MethodNotAllowed, "method not allowed")
)

// Health answers GET /health: 200 while serving, 503 once the drain has
// started, so that a load balancer stops sending before the listener closes.
func (h *Handlers) Health(c *gin.Context) {
	if h.svc.Draining() {
		respond(c, http.StatusServiceUnavailable, models.Health{Status: "draining"})
		return
	}
	respond(c, http.StatusOK, models.Health{Status: "ok"})
}

// User answers GET /v1/users/{id}.
func (h *Handlers) User(c *gin.Context) {
	id, err := parseID(c.Param("id"))
	if err != nil {
		RespondError(c, err)
		return
	}
	u, err := h.svc.User(id)
	if err != nil {
		RespondError(c, err)
		return
	}
	respond(c, http.StatusOK, u)
}

// Products answers GET /v1/products?limit=N&offset=M.
func (h *Handlers) Products(c *gin.Context) {
	limit, offset, err := pageQuery(c.Request.URL.RawQuery)
	if err != nil {
		RespondError(c, err)
		return
	}
	respond(c, http.StatusOK, h.svc.Page(limit, offset))
}

// CreateOrder answers POST /v1/orders with 201 and the stored order.
func (h *Handlers) CreateOrder(c *gin.Context) {
	v, err := decodeBody(c)
	if err != nil {
		RespondError(c, err)
		return
	}
	in, err := orderInput(v)
	if err != nil {
		RespondError(c, err)
		return
	}
	o, err := h.svc.CreateOrder(in)
	if err != nil {
		RespondError(c, err)
		return
	}
	respond(c, http.StatusCreated, o)
}

// Order answers GET /v1/orders/{id}.
func (h *Handlers) Order(c *gin.Context) {
	id, err := parseID(c.Param("id"))
	if err != nil {
		RespondError(c, err)
		return
	}
	o, err := h.svc.Order(id)
	if err != nil {
		RespondError(c, err)
		return
	}
	respond(c, http.StatusOK, o)
}

// Echo answers POST /v1/echo with the parsed document, re-serialized.
func (h *Handlers) Echo(c *gin.Context) {
	v, err := decodeBody(c)
	if err != nil {
		RespondError(c, err)
		return
	}
	body, err := encodeJSON(v)
	if err != nil {
		RespondError(c, apperror.Wrap(err, "encode echo"))
		return
	}
	c.Data(http.StatusOK, contentTypeJSON, body)
}

// NoRoute answers any path no route matches.
func (h *Handlers) NoRoute(c *gin.Context) {
	RespondError(c, errNoRoute)
}

// MethodNotAllowed answers a known path requested with another method.
func (h *Handlers) MethodNotAllowed(c *gin.Context) {
	RespondError(c, errMethodNotAllowed)
}
