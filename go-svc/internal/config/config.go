// Package config reads the service's flags, each with an environment
// variable; a flag wins over its variable.
package config

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"strconv"
	"strings"
	"time"
)

// Config is the service's configuration (contract/README.md, "Running a
// service").
type Config struct {
	HTTPAddr string
	GRPCAddr string
	// Workers is GOMAXPROCS; 0 keeps the runtime's default (the CPUs the
	// process may use, honouring affinity and cgroup limits).
	Workers      int
	LogLevel     slog.Level
	DrainTimeout time.Duration
	// DrainDelay is how long the listeners stay open, reporting not
	// serving, between the first signal and the drain.
	DrainDelay        time.Duration
	HeaderReadTimeout time.Duration
}

type option struct {
	name, env, def, usage string
}

var options = []option{
	{"http-addr", "LAB_HTTP_ADDR", "127.0.0.1:8080", "REST listener address; port 0 picks a free port"},
	{"grpc-addr", "LAB_GRPC_ADDR", "127.0.0.1:50051", "gRPC listener address; port 0 picks a free port"},
	{"workers", "LAB_WORKERS", "0", "GOMAXPROCS; 0 means the CPUs the process may use"},
	{"log-level", "LAB_LOG_LEVEL", "warn", "error, warn, info or debug"},
	{"drain-timeout", "LAB_DRAIN_TIMEOUT", "10s", "how long SIGTERM/SIGINT waits for in-flight requests"},
	{"drain-delay", "LAB_DRAIN_DELAY", "0s", "how long the service keeps accepting, reporting not-serving, before it stops listening"},
	{"header-read-timeout", "LAB_HEADER_READ_TIMEOUT", "10s", "how long an HTTP/1.1 client may take to send a request's headers"},
}

// Parse reads args (without the program name) over the environment given by
// getenv. It returns flag.ErrHelp for -h/--help; any other error is a bad
// flag or variable.
func Parse(args []string, getenv func(string) string, output io.Writer) (Config, error) {
	fs := flag.NewFlagSet("go-svc", flag.ContinueOnError)
	fs.SetOutput(output)
	values := make(map[string]*string, len(options))
	for _, o := range options {
		def := o.def
		if v := getenv(o.env); v != "" {
			def = v
		}
		values[o.name] = fs.String(o.name, def, fmt.Sprintf("%s (env %s, default %s)", o.usage, o.env, o.def))
	}
	if err := fs.Parse(args); err != nil {
		return Config{}, err
	}
	if fs.NArg() > 0 {
		return Config{}, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}

	cfg := Config{HTTPAddr: *values["http-addr"], GRPCAddr: *values["grpc-addr"]}
	var err error
	if cfg.Workers, err = strconv.Atoi(*values["workers"]); err != nil || cfg.Workers < 0 {
		return Config{}, fmt.Errorf("invalid --workers/LAB_WORKERS %q: must be a non-negative integer", *values["workers"])
	}
	if cfg.LogLevel, err = parseLevel(*values["log-level"]); err != nil {
		return Config{}, err
	}
	if cfg.DrainTimeout, err = parseDuration(values, "drain-timeout", "LAB_DRAIN_TIMEOUT", "10s"); err != nil {
		return Config{}, err
	}
	if cfg.DrainDelay, err = parseDuration(values, "drain-delay", "LAB_DRAIN_DELAY", "5s"); err != nil {
		return Config{}, err
	}
	if cfg.HeaderReadTimeout, err = parseDuration(values, "header-read-timeout", "LAB_HEADER_READ_TIMEOUT", "10s"); err != nil {
		return Config{}, err
	}
	// net/http reads a zero ReadHeaderTimeout as "no limit", which would let
	// a slow client hold a connection forever.
	if cfg.HeaderReadTimeout == 0 {
		return Config{}, fmt.Errorf("invalid --header-read-timeout/LAB_HEADER_READ_TIMEOUT %q: must be positive", *values["header-read-timeout"])
	}
	return cfg, nil
}

// parseDuration reads a non-negative duration flag; example is shown in the
// error. Spaces between units are allowed, as in "1s 500ms": the harness
// writes durations with Rust's humantime, which rust-svc also reads.
func parseDuration(values map[string]*string, name, env, example string) (time.Duration, error) {
	d, err := time.ParseDuration(strings.ReplaceAll(*values[name], " ", ""))
	if err != nil || d < 0 {
		return 0, fmt.Errorf("invalid --%s/%s %q: must be a duration such as %s", name, env, *values[name], example)
	}
	return d, nil
}

func parseLevel(s string) (slog.Level, error) {
	switch strings.ToLower(s) {
	case "error":
		return slog.LevelError, nil
	case "warn":
		return slog.LevelWarn, nil
	case "info":
		return slog.LevelInfo, nil
	case "debug":
		return slog.LevelDebug, nil
	}
	return 0, errors.New("invalid --log-level/LAB_LOG_LEVEL " + strconv.Quote(s) + ": must be error, warn, info or debug")
}
