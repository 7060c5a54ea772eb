package config

import (
	"errors"
	"flag"
	"io"
	"log/slog"
	"testing"
	"time"
)

func env(m map[string]string) func(string) string {
	return func(k string) string { return m[k] }
}

func TestDefaults(t *testing.T) {
	cfg, err := Parse(nil, env(nil), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	want := Config{HTTPAddr: "127.0.0.1:8080", GRPCAddr: "127.0.0.1:50051", Workers: 0, LogLevel: slog.LevelWarn,
		DrainTimeout: 10 * time.Second, DrainDelay: 0, HeaderReadTimeout: 10 * time.Second}
	if cfg != want {
		t.Fatalf("got %+v, want %+v", cfg, want)
	}
}

func TestFlagsWinOverEnv(t *testing.T) {
	e := env(map[string]string{
		"LAB_HTTP_ADDR": "0.0.0.0:1", "LAB_GRPC_ADDR": "0.0.0.0:2", "LAB_WORKERS": "bogus",
		"LAB_LOG_LEVEL": "debug", "LAB_DRAIN_TIMEOUT": "1m", "LAB_DRAIN_DELAY": "3s", "LAB_HEADER_READ_TIMEOUT": "2s",
	})
	cfg, err := Parse([]string{"--http-addr", "127.0.0.1:0", "--workers=3", "-drain-timeout", "250ms", "--drain-delay=1s 500ms"}, e, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	want := Config{HTTPAddr: "127.0.0.1:0", GRPCAddr: "0.0.0.0:2", Workers: 3, LogLevel: slog.LevelDebug,
		DrainTimeout: 250 * time.Millisecond, DrainDelay: 1500 * time.Millisecond, HeaderReadTimeout: 2 * time.Second}
	if cfg != want {
		t.Fatalf("got %+v, want %+v", cfg, want)
	}
}

func TestBadValues(t *testing.T) {
	for _, args := range [][]string{
		{"--workers", "-1"}, {"--workers", "x"}, {"--log-level", "trace"}, {"--drain-timeout", "10"},
		{"--drain-timeout", "-1s"}, {"--drain-delay", "5"}, {"--drain-delay", "-1s"}, {"--header-read-timeout", "x"},
		{"--header-read-timeout", "-1s"}, {"--header-read-timeout", "0s"}, {"--nope"}, {"extra"}, {"--http-addr"},
	} {
		if _, err := Parse(args, env(nil), io.Discard); err == nil || errors.Is(err, flag.ErrHelp) {
			t.Errorf("Parse(%q) = %v, want an error", args, err)
		}
	}
	for _, v := range []string{"LAB_WORKERS", "LAB_DRAIN_DELAY", "LAB_HEADER_READ_TIMEOUT"} {
		if _, err := Parse(nil, env(map[string]string{v: "x"}), io.Discard); err == nil {
			t.Errorf("bad %s accepted", v)
		}
	}
	if _, err := Parse([]string{"--help"}, env(nil), io.Discard); !errors.Is(err, flag.ErrHelp) {
		t.Errorf("--help: %v", err)
	}
}
