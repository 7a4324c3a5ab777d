//! Stopping: SIGTERM (how service managers and container runtimes stop a process) or Ctrl-C
//! makes the demo stop accepting connections and exit once the requests in flight are
//! answered; a second signal stops it at once, for a client that never finishes its request.

/// The stop signals, listened for from the moment [`Stop::listen`] returns.
pub struct Stop {
    #[cfg(unix)]
    terminate: Option<tokio::signal::unix::Signal>,
    #[cfg(unix)]
    interrupt: Option<tokio::signal::unix::Signal>,
}

impl Stop {
    /// Starts listening. Called before the demo says it is listening, so that a signal sent
    /// as soon as it does is caught rather than killing the process (once a handler is
    /// installed, SIGTERM no longer does). Must run inside the Tokio runtime.
    pub fn listen() -> Self {
        #[cfg(unix)]
        {
            use tokio::signal::unix::{signal, SignalKind};
            let listen = |kind: SignalKind, name: &str| {
                signal(kind)
                    .map_err(|err| tracing::warn!("cannot listen for {name}: {err}"))
                    .ok()
            };
            Self {
                terminate: listen(SignalKind::terminate(), "SIGTERM"),
                interrupt: listen(SignalKind::interrupt(), "Ctrl-C"),
            }
        }
        #[cfg(not(unix))]
        Self {}
    }

    /// Waits for the next stop signal and names it: `"SIGTERM"` or `"Ctrl-C"`. A signal that
    /// cannot be listened for never arrives.
    pub async fn next(&mut self) -> &'static str {
        #[cfg(unix)]
        {
            tokio::select! {
                () = recv(self.terminate.as_mut()) => "SIGTERM",
                () = recv(self.interrupt.as_mut()) => "Ctrl-C",
            }
        }
        #[cfg(not(unix))]
        {
            if let Err(err) = tokio::signal::ctrl_c().await {
                tracing::warn!("cannot listen for Ctrl-C: {err}");
                std::future::pending::<()>().await;
            }
            "Ctrl-C"
        }
    }
}

#[cfg(unix)]
async fn recv(signal: Option<&mut tokio::signal::unix::Signal>) {
    if let Some(signal) = signal {
        // `None` from `recv` means the runtime is shutting down: nothing more will arrive.
        if signal.recv().await.is_some() {
            return;
        }
    }
    std::future::pending().await
}
