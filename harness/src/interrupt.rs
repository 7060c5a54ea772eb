//! Ctrl-C and SIGTERM for the commands that put load on services (`run`,
//! `bench`). The first signal asks them to stop: the load is aborted, the
//! services are stopped (SIGTERM, then SIGKILL after a short grace), what was
//! measured is kept with `"complete": false`, and the command exits with
//! 128 + the signal's number (130 for SIGINT, 143 for SIGTERM). A second signal
//! exits at once; the services then die with the harness (`PR_SET_PDEATHSIG`,
//! target.rs).

use std::future::Future;
use std::sync::atomic::{AtomicI32, Ordering};
use std::sync::{Arc, OnceLock};

use anyhow::{Context, bail};
use nix::sys::signal::Signal;

/// The first signal received (0: none).
static SIGNAL: AtomicI32 = AtomicI32::new(0);

fn abort() -> &'static Abort {
    static ABORT: OnceLock<Abort> = OnceLock::new();
    ABORT.get_or_init(Abort::default)
}

/// The harness stopped because it was asked to.
#[derive(Debug, thiserror::Error)]
#[error("interrupted by {0}")]
pub struct Interrupted(pub Signal);

/// Starts listening for SIGINT and SIGTERM on a thread of its own; once this
/// returns, neither signal kills the harness any more.
pub fn install() -> anyhow::Result<()> {
    let (ready_tx, ready_rx) = std::sync::mpsc::channel();
    std::thread::Builder::new()
        .name("signals".into())
        .spawn(move || {
            let runtime = match tokio::runtime::Builder::new_current_thread()
                .enable_io()
                .build()
            {
                Ok(runtime) => runtime,
                Err(err) => {
                    let _ = ready_tx.send(Err(anyhow::Error::from(err)));
                    return;
                }
            };
            runtime.block_on(listen(ready_tx));
        })
        .context("starting the signal thread")?;
    ready_rx
        .recv()
        .context("the signal thread exited")?
        .context("installing the SIGINT and SIGTERM handlers")
}

async fn listen(ready: std::sync::mpsc::Sender<anyhow::Result<()>>) {
    use tokio::signal::unix::{SignalKind, signal};
    let (mut int, mut term) = match (
        signal(SignalKind::interrupt()),
        signal(SignalKind::terminate()),
    ) {
        (Ok(int), Ok(term)) => (int, term),
        (Err(err), _) | (_, Err(err)) => {
            let _ = ready.send(Err(err.into()));
            return;
        }
    };
    let _ = ready.send(Ok(()));
    loop {
        let received = tokio::select! {
            _ = int.recv() => Signal::SIGINT,
            _ = term.recv() => Signal::SIGTERM,
        };
        if SIGNAL
            .compare_exchange(0, received as i32, Ordering::SeqCst, Ordering::SeqCst)
            .is_ok()
        {
            eprintln!(
                "\n{received}: stopping the load and the services; what was measured is kept \
                 (send it again to exit at once)"
            );
            abort().trigger(format!("interrupted by {received}"));
        } else {
            let code = exit_code().unwrap_or(130);
            eprintln!("\n{received} again: exiting now");
            // PR_SET_PDEATHSIG takes every service down with the process.
            std::process::exit(i32::from(code));
        }
    }
}

/// The signal that interrupted the harness, if one did.
pub fn requested() -> Option<Signal> {
    Signal::try_from(SIGNAL.load(Ordering::SeqCst)).ok()
}

/// An `Interrupted` error when a signal came in.
pub fn check() -> anyhow::Result<()> {
    match requested() {
        Some(signal) => Err(Interrupted(signal).into()),
        None => Ok(()),
    }
}

/// Resolves when a signal comes in (at once if one already did).
pub async fn requested_wait() -> Signal {
    abort().triggered().await;
    requested().unwrap_or(Signal::SIGINT)
}

/// Runs `work` unless a signal comes first; then `work` is dropped (a service
/// it was starting is killed with it) and the error is `Interrupted`.
pub async fn or_interrupt<T>(work: impl Future<Output = anyhow::Result<T>>) -> anyhow::Result<T> {
    tokio::select! {
        biased;
        signal = requested_wait() => Err(Interrupted(signal).into()),
        result = work => result,
    }
}

/// The conventional exit code after a signal: 128 + its number.
pub fn exit_code() -> Option<u8> {
    requested().map(|signal| 128 + signal as u8)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exit_codes_are_128_plus_the_signal() {
        assert_eq!(128 + Signal::SIGINT as u8, 130);
        assert_eq!(128 + Signal::SIGTERM as u8, 143);
        assert_eq!(
            Interrupted(Signal::SIGTERM).to_string(),
            "interrupted by SIGTERM"
        );
    }
}

/// A one-shot stop for a run, shared by the thread that watches the service
/// and the load's threads. Its first reason sticks.
#[derive(Clone)]
pub struct Abort(Arc<tokio::sync::watch::Sender<Option<String>>>);

impl Default for Abort {
    fn default() -> Self {
        Self(Arc::new(tokio::sync::watch::channel(None).0))
    }
}

impl std::fmt::Debug for Abort {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Abort({:?})", self.reason())
    }
}

impl Abort {
    /// Stops the run; a later reason is ignored.
    pub fn trigger(&self, reason: impl Into<String>) {
        let reason = reason.into();
        self.0.send_if_modified(|current| {
            if current.is_some() {
                return false;
            }
            *current = Some(reason);
            true
        });
    }

    pub fn reason(&self) -> Option<String> {
        self.0.borrow().clone()
    }

    pub fn is_triggered(&self) -> bool {
        self.0.borrow().is_some()
    }

    /// Resolves once triggered (at once if it already was), on any runtime.
    pub async fn triggered(&self) {
        let mut rx = self.0.subscribe();
        // Only fails when the sender is gone, and `self` holds it.
        let _ = rx.wait_for(Option::is_some).await;
    }

    /// Runs `work` unless the abort comes first.
    pub async fn until<T>(&self, work: impl Future<Output = T>) -> anyhow::Result<T> {
        tokio::select! {
            biased;
            () = self.triggered() => bail!("aborted: {}", self.reason().unwrap_or_default()),
            out = work => Ok(out),
        }
    }
}
