//! Command-line flags, each with an environment variable (contract/README.md,
//! "Running a service"). A bad flag exits 2 (clap's default).

use std::num::NonZeroUsize;
use std::time::Duration;

use clap::{Parser, ValueEnum};

#[derive(Debug, Clone, Parser)]
#[command(
    name = "rust-svc",
    version,
    about = "The Rust service of the lab: REST and gRPC over contract/README.md"
)]
pub struct Config {
    /// REST listener (HTTP/1.1 and h2c); port 0 picks a free port.
    #[arg(long, env = "LAB_HTTP_ADDR", default_value = "127.0.0.1:8080")]
    pub http_addr: String,

    /// gRPC listener; port 0 picks a free port.
    #[arg(long, env = "LAB_GRPC_ADDR", default_value = "127.0.0.1:50051")]
    pub grpc_addr: String,

    /// Tokio worker threads [default: the CPUs the process may use]
    #[arg(long, env = "LAB_WORKERS", value_parser = clap::value_parser!(u32).range(1..=65_536))]
    pub workers: Option<u32>,

    /// Log level (logs go to standard error; nothing per request at `warn`).
    #[arg(
        long,
        env = "LAB_LOG_LEVEL",
        value_enum,
        ignore_case = true,
        default_value = "warn"
    )]
    pub log_level: LogLevel,

    /// How long SIGTERM/SIGINT waits for in-flight requests, e.g. `10s`, `500ms`.
    #[arg(long, env = "LAB_DRAIN_TIMEOUT", default_value = "10s", value_parser = humantime::parse_duration)]
    pub drain_timeout: Duration,

    /// After SIGTERM/SIGINT, how long the listeners keep accepting while the
    /// service reports not-serving; a second signal ends it early.
    #[arg(long, env = "LAB_DRAIN_DELAY", default_value = "0s", value_parser = humantime::parse_duration)]
    pub drain_delay: Duration,

    /// How long an HTTP/1.1 client may take to send a request's headers; > 0
    /// (a slow client always meets a limit).
    #[arg(long, env = "LAB_HEADER_READ_TIMEOUT", default_value = "10s", value_parser = positive_duration)]
    pub header_read_timeout: Duration,
}

/// A humantime duration that is not zero.
fn positive_duration(text: &str) -> Result<Duration, String> {
    match humantime::parse_duration(text) {
        Ok(d) if d.is_zero() => Err("must be > 0".to_owned()),
        Ok(d) => Ok(d),
        Err(err) => Err(err.to_string()),
    }
}

impl Config {
    /// `--workers`, or the CPUs this process may run on (respects CPU affinity
    /// and cgroup quotas, like Go's default `GOMAXPROCS`).
    pub fn worker_threads(&self) -> usize {
        match self.workers {
            Some(n) => usize::try_from(n).unwrap_or(usize::MAX),
            None => std::thread::available_parallelism().map_or(1, NonZeroUsize::get),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogLevel {
    Error,
    Warn,
    Info,
    Debug,
}

impl LogLevel {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Error => "error",
            Self::Warn => "warn",
            Self::Info => "info",
            Self::Debug => "debug",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> Result<Config, clap::Error> {
        Config::try_parse_from(std::iter::once("rust-svc").chain(args.iter().copied()))
    }

    #[test]
    fn defaults() {
        let config = parse(&[]).unwrap();
        assert_eq!(config.http_addr, "127.0.0.1:8080");
        assert_eq!(config.grpc_addr, "127.0.0.1:50051");
        assert_eq!(config.workers, None);
        assert!(config.worker_threads() >= 1);
        assert_eq!(config.log_level, LogLevel::Warn);
        assert_eq!(config.drain_timeout, Duration::from_secs(10));
        assert_eq!(config.drain_delay, Duration::ZERO);
        assert_eq!(config.header_read_timeout, Duration::from_secs(10));
    }

    #[test]
    fn flags() {
        let config = parse(&[
            "--http-addr",
            "127.0.0.1:0",
            "--grpc-addr",
            "[::1]:0",
            "--workers",
            "3",
            "--log-level",
            "DEBUG",
            "--drain-timeout",
            "500ms",
            "--drain-delay",
            "5s",
            "--header-read-timeout",
            "2s",
        ])
        .unwrap();
        assert_eq!(config.http_addr, "127.0.0.1:0");
        assert_eq!(config.grpc_addr, "[::1]:0");
        assert_eq!(config.worker_threads(), 3);
        assert_eq!(config.log_level, LogLevel::Debug);
        assert_eq!(config.drain_timeout, Duration::from_millis(500));
        assert_eq!(config.drain_delay, Duration::from_secs(5));
        assert_eq!(config.header_read_timeout, Duration::from_secs(2));
        assert_eq!(
            parse(&["--drain-timeout", "1m30s"]).unwrap().drain_timeout,
            Duration::from_secs(90)
        );
    }

    #[test]
    fn bad_flags_exit_2() {
        for args in [
            &["--workers", "0"][..],
            &["--workers", "-1"],
            &["--log-level", "loud"],
            &["--drain-timeout", "10"],
            &["--drain-delay", "-1s"],
            &["--header-read-timeout", "soon"],
            &["--header-read-timeout", "0s"],
            &["--nope"],
        ] {
            let err = parse(args).unwrap_err();
            assert_eq!(err.exit_code(), 2, "{args:?}");
        }
    }
}
