// Package server binds the REST and gRPC listeners, announces them, serves
// until the context ends, then drains both in the contract's order.
package server

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log"
	"log/slog"
	"net"
	"net/http"
	"os"
	"runtime"
	"sync"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/reflection"

	"github.com/benchlab/go-svc/internal/config"
	"github.com/benchlab/go-svc/internal/grpcapi"
	"github.com/benchlab/go-svc/internal/limits"
	"github.com/benchlab/go-svc/internal/metrics"
	"github.com/benchlab/go-svc/internal/routes"
	"github.com/benchlab/go-svc/internal/services"
)

// Run serves until ctx ends (the first SIGTERM or SIGINT), then drains in
// the contract's order: readiness turns off at once; the listeners keep
// serving for cfg.DrainDelay, or until skipDelay is closed (a second
// signal); then they close and both servers drain within cfg.DrainTimeout.
// It returns nil after a clean drain, and an error when a listener cannot be
// bound, a server fails, or the drain timeout passes first.
func Run(ctx context.Context, cfg config.Config, skipDelay <-chan struct{}) error {
	return run(ctx, cfg, skipDelay, os.Stdout)
}

// run is Run with the ready line written to stdout.
func run(ctx context.Context, cfg config.Config, skipDelay <-chan struct{}, stdout io.Writer) error {
	logHandler := slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: cfg.LogLevel})
	slog.SetDefault(slog.New(logHandler))
	if cfg.Workers > 0 {
		runtime.GOMAXPROCS(cfg.Workers)
	}

	var lc net.ListenConfig
	// Plain TCP, as rust-svc's listeners: Go 1.24+ makes them MPTCP by
	// default where the kernel has it, which takes plain TCP clients through
	// MPTCP's fallback path and refuses socket filters (backlog.go).
	lc.SetMultipathTCP(false)
	httpLn, err := lc.Listen(ctx, "tcp", cfg.HTTPAddr)
	if err != nil {
		return fmt.Errorf("server.Run: bind http: %w", err)
	}
	grpcLn, err := lc.Listen(ctx, "tcp", cfg.GRPCAddr)
	if err != nil {
		httpLn.Close()
		return fmt.Errorf("server.Run: bind grpc: %w", err)
	}

	svc := services.New()
	m := metrics.New()
	first := newFirstRequests()
	httpSrv := newHTTPServer(routes.New(svc, m), first, cfg.HeaderReadTimeout, slog.NewLogLogger(logHandler, slog.LevelWarn))
	backlog := newBacklogListener(httpLn.(*net.TCPListener))
	restLn := quietTimeoutListener{backlog}
	healthSrv := health.NewServer()
	grpcSrv := newGRPCServer(svc, m, healthSrv)

	if _, err := fmt.Fprintf(stdout, "listening http=%s grpc=%s\n", httpLn.Addr(), grpcLn.Addr()); err != nil {
		httpLn.Close()
		grpcLn.Close()
		return fmt.Errorf("server.Run: write ready line: %w", err)
	}
	if f, ok := stdout.(interface{ Flush() error }); ok {
		_ = f.Flush()
	}
	slog.Info("serving", "http", httpLn.Addr().String(), "grpc", grpcLn.Addr().String(),
		"gomaxprocs", runtime.GOMAXPROCS(0))

	serveErrs := make(chan error, 2)
	var serving sync.WaitGroup
	serving.Go(func() {
		// The drain closes the listener before Shutdown: net.ErrClosed.
		if err := httpSrv.Serve(restLn); !errors.Is(err, http.ErrServerClosed) && !errors.Is(err, net.ErrClosed) {
			serveErrs <- fmt.Errorf("server.Run: http: %w", err)
		}
	})
	serving.Go(func() {
		if err := grpcSrv.Serve(grpcLn); err != nil {
			serveErrs <- fmt.Errorf("server.Run: grpc: %w", err)
		}
	})

	var serveErr error
	select {
	case <-ctx.Done():
		slog.Info("draining", "delay", cfg.DrainDelay, "timeout", cfg.DrainTimeout)
		stopReadiness(svc, healthSrv)
		first.closing.Store(true)
		serveErr = delay(cfg.DrainDelay, skipDelay, serveErrs)
	case serveErr = <-serveErrs:
		stopReadiness(svc, healthSrv)
	}
	if serveErr != nil {
		slog.Error("server failed, stopping", "err", serveErr)
	}
	drainErr := drain(rest{httpSrv, backlog, first, min(newConnGrace, cfg.HeaderReadTimeout)}, grpcSrv, cfg.DrainTimeout)
	serving.Wait()
	if drainErr != nil {
		drainErr = fmt.Errorf("server.Run: %w", drainErr)
	}
	return errors.Join(serveErr, drainErr)
}

func newHTTPServer(h http.Handler, first *firstRequests, headerReadTimeout time.Duration, errorLog *log.Logger) *http.Server {
	var protocols http.Protocols
	protocols.SetHTTP1(true)
	// h2c with prior knowledge, served by net/http itself (Go 1.24+).
	protocols.SetUnencryptedHTTP2(true)
	return &http.Server{
		Handler:           first.handler(limitHead(h)),
		ConnContext:       first.connContext,
		ConnState:         first.connState,
		Protocols:         &protocols,
		HTTP2:             &http.HTTP2Config{MaxConcurrentStreams: limits.MaxConcurrentStreams},
		ReadHeaderTimeout: headerReadTimeout,
		MaxHeaderBytes:    limits.MaxHeaderListBytes,
		ErrorLog:          errorLog,
	}
}

func newGRPCServer(svc *services.Service, m *metrics.Metrics, healthSrv *health.Server) *grpc.Server {
	s := grpc.NewServer(
		grpc.MaxConcurrentStreams(limits.MaxConcurrentStreams),
		grpc.MaxRecvMsgSize(limits.MaxMessageBytes),
		// hyper's HTTP/2 windows, which tonic keeps: 1 MiB per stream and per
		// connection, fixed. grpc-go's default BDP estimation grows them, and
		// let a client that sends but never reads park 100 MiB in the server.
		grpc.InitialWindowSize(limits.GRPCWindowBytes),
		grpc.InitialConnWindowSize(limits.GRPCWindowBytes),
		grpc.ChainUnaryInterceptor(m.UnaryInterceptor()),
		grpc.ChainStreamInterceptor(m.StreamInterceptor()),
	)
	grpcapi.Register(s, svc)
	healthSrv.SetServingStatus("", healthpb.HealthCheckResponse_SERVING)
	for _, name := range grpcapi.ServiceNames {
		healthSrv.SetServingStatus(name, healthpb.HealthCheckResponse_SERVING)
	}
	healthpb.RegisterHealthServer(s, healthSrv)
	reflection.Register(s)
	return s
}

// stopReadiness makes REST and gRPC health checks report not serving, the
// first step of the drain.
func stopReadiness(svc *services.Service, healthSrv *health.Server) {
	svc.StartDraining()
	// NOT_SERVING for "" and every registered service, seen by Watch too.
	healthSrv.Shutdown()
}

// delay keeps the listeners serving for d, so that a load balancer polling
// health stops sending before they close. It returns early, with a nil
// error, when skipDelay is closed, and with the error when a server fails.
func delay(d time.Duration, skipDelay <-chan struct{}, serveErrs <-chan error) error {
	timer := time.NewTimer(d)
	defer timer.Stop()
	select {
	case <-timer.C:
	case <-skipDelay:
		slog.Info("drain delay cut short")
	case err := <-serveErrs:
		return err
	}
	return nil
}

// rest is the REST server with what its drain needs.
type rest struct {
	srv   *http.Server
	ln    *backlogListener
	first *firstRequests
	// grace is how long after its accept a connection may take to send its
	// first request once the drain has started.
	grace time.Duration
}

// drain stops both servers in parallel: listeners close at once, in-flight
// requests and streams finish, idle connections close. A REST connection
// that has not sent its first request yet gets until rest.grace after its
// accept to send it, and it is answered (see firstRequests). When timeout
// passes first, the remaining connections are cut and drain returns an error.
func drain(rest rest, grpcSrv *grpc.Server, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()

	var wg sync.WaitGroup
	var httpErr, grpcErr error
	wg.Go(func() {
		_ = rest.ln.Close()
		// The connections taken from the backlog are Serve's before the wait.
		rest.ln.waitServed(ctx)
		// Responses from now on close their connection, and idle ones close now.
		rest.srv.SetKeepAlivesEnabled(false)
		rest.first.wait(ctx, rest.grace)
		if err := rest.srv.Shutdown(ctx); err != nil {
			httpErr = fmt.Errorf("http drain: %w", err)
			_ = rest.srv.Close()
		}
	})
	wg.Go(func() {
		stopped := make(chan struct{})
		go func() {
			grpcSrv.GracefulStop()
			close(stopped)
		}()
		select {
		case <-stopped:
		case <-ctx.Done():
			grpcSrv.Stop()
			<-stopped
			grpcErr = fmt.Errorf("grpc drain: %w", ctx.Err())
		}
	})
	wg.Wait()
	return errors.Join(httpErr, grpcErr)
}
