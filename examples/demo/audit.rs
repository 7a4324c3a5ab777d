//! The demo's audit trail: `SESSIONWARD_AUDIT_LOG=PATH` appends it to that file as JSON lines
//! (created if missing); unset or empty, the events are log lines through `tracing`. Either
//! way every event also goes to a broadcast channel, the admin dashboard's live feed.

use sessionward::audit::{AuditHandle, AuditSink, BroadcastAudit, JsonLinesAudit, TracingAudit};

/// The trail every part of the demo reports to: the session layer, the admin and the remote
/// routes.
#[derive(Clone)]
pub struct Trail {
    /// Where events are recorded.
    pub handle: AuditHandle,
    /// The live feed that every event also reaches.
    pub live: BroadcastAudit,
}

impl Trail {
    /// The trail to `sink`, and to the live feed.
    pub fn to(sink: impl AuditSink) -> Self {
        // Enough for a burst; a dashboard further behind is told how many it missed.
        let live = BroadcastAudit::new(256);
        let handle = AuditHandle::new(sink.and(live.clone()));
        Self { handle, live }
    }

    /// The trail the environment asks for; a file that cannot be opened for appending stops
    /// the demo with status 2.
    pub fn from_env() -> Self {
        let path = std::env::var_os("SESSIONWARD_AUDIT_LOG").filter(|path| !path.is_empty());
        let Some(path) = path else {
            return Self::to(TracingAudit::default());
        };
        match JsonLinesAudit::append_to(&path) {
            Ok(sink) => Self::to(sink),
            Err(err) => {
                let path = std::path::Path::new(&path).display();
                eprintln!("SESSIONWARD_AUDIT_LOG: cannot append to {path}: {err}");
                std::process::exit(2);
            }
        }
    }
}
