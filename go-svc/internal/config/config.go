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
	if cfg.DrainTimeout, err = time.ParseDuration(*values["drain-timeout"]); err != nil || cfg.DrainTimeout < 0 {
		return Config{}, fmt.Errorf("invalid --drain-timeout/LAB_DRAIN_TIMEOUT %q: must be a duration such as 10s", *values["drain-timeout"])
	}
	return cfg, nil
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
