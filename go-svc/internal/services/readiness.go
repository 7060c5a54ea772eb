package services

import "sync/atomic"

// readiness is whether the service still wants new traffic. It turns off
// once, when the drain starts, and is read by every health check.
type readiness struct {
	draining atomic.Bool
}

// StartDraining turns readiness off for good: health checks report the
// service as draining from now on, while every other call keeps working.
func (s *Service) StartDraining() { s.ready.draining.Store(true) }

// Draining reports whether StartDraining has been called.
func (s *Service) Draining() bool { return s.ready.draining.Load() }
