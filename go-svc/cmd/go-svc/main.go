// Command go-svc is the Go service of the lab: REST on --http-addr, gRPC on
// --grpc-addr, per contract/README.md.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/benchlab/go-svc/internal/config"
	"github.com/benchlab/go-svc/internal/server"
)

func main() {
	os.Exit(realMain())
}

// realMain returns the exit code: 0 after a clean drain, 1 when a listener
// cannot be bound or the drain times out, 2 for a bad flag.
func realMain() int {
	cfg, err := config.Parse(os.Args[1:], os.Getenv, os.Stderr)
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "go-svc: %v\n", err)
		return 2
	}

	// The first signal starts the drain, a second ends its delay early; from
	// the third on, a signal kills the process as usual.
	sigs := make(chan os.Signal, 2)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
	defer signal.Stop(sigs)
	ctx, startDrain := context.WithCancel(context.Background())
	defer startDrain()
	skipDelay := make(chan struct{})
	go func() {
		<-sigs
		startDrain()
		<-sigs
		close(skipDelay)
		signal.Stop(sigs)
	}()

	if err := server.Run(ctx, cfg, skipDelay); err != nil {
		fmt.Fprintf(os.Stderr, "go-svc: %v\n", err)
		return 1
	}
	return 0
}
