// Package routes lists every REST route in one place and builds the Gin
// engine with the settings contract/README.md needs.
package routes

import (
	"fmt"
	"log/slog"
	"net/http"

	"github.com/gin-gonic/gin"

	"github.com/benchlab/go-svc/internal/apperror"
	"github.com/benchlab/go-svc/internal/handlers"
	"github.com/benchlab/go-svc/internal/metrics"
	"github.com/benchlab/go-svc/internal/services"
)

type route struct {
	method  string
	path    string
	handler gin.HandlerFunc
}

// New returns the REST API over svc, instrumented by m.
func New(svc *services.Service, m *metrics.Metrics) *gin.Engine {
	gin.SetMode(gin.ReleaseMode)
	h := handlers.New(svc)

	table := []route{
		{http.MethodGet, "/health", h.Health},
		{http.MethodGet, "/metrics", gin.WrapH(m.Handler())},
		{http.MethodGet, "/v1/users/:id", h.User},
		{http.MethodGet, "/v1/products", h.Products},
		{http.MethodPost, "/v1/orders", h.CreateOrder},
		{http.MethodGet, "/v1/orders/:id", h.Order},
		{http.MethodPost, "/v1/echo", h.Echo},
	}

	e := gin.New()
	// Route on the raw path (so %2F stays inside an id), decode params after.
	e.UseRawPath = true
	e.UnescapePathValues = true
	e.RedirectTrailingSlash = false
	e.RedirectFixedPath = false
	e.RemoveExtraSlash = false
	e.HandleMethodNotAllowed = true
	e.ForwardedByClientIP = false

	// Metrics outermost, so that recovered panics are counted as 500s.
	e.Use(m.HTTPMiddleware(), recovery)

	for _, r := range table {
		e.Handle(r.method, r.path, r.handler)
		// axum answers HEAD wherever GET is; net/http drops the body.
		if r.method == http.MethodGet {
			e.Handle(http.MethodHead, r.path, r.handler)
		}
	}
	// 404 and 405 are routing failures: gin reports no FullPath for them, so
	// metrics label them "unmatched" (as rust-svc does).
	e.NoRoute(h.NoRoute)
	e.NoMethod(h.MethodNotAllowed)
	return e
}

// recovery answers a panic with the contract's 500 and logs the cause.
func recovery(c *gin.Context) {
	defer func() {
		rec := recover()
		if rec == nil {
			return
		}
		if rec == http.ErrAbortHandler {
			panic(rec)
		}
		cause := fmt.Errorf("panic in %s %s: %v", c.Request.Method, c.Request.URL.Path, rec)
		if !c.Writer.Written() {
			handlers.RespondError(c, apperror.Wrap(cause, "handler panic"))
		} else {
			slog.Error("internal error", "err", cause)
		}
		c.Abort()
	}()
	c.Next()
}
