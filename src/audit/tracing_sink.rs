//! The default sink: audit events as `tracing` events.

use std::io;

use time::format_description::well_known::Rfc3339;
use tracing::Level;

use super::{AuditEvent, AuditKind, AuditSink};

/// Writes each audit event as a `tracing` event with target `sessionward::audit`, the message
/// `audit`, and the fields `event`, `time`, `session_id`, `user`, `ip`, `user_agent` and
/// `reason` (fields that are not known are left out).
///
/// Levels: `warn` for `login_failed`, `refresh_reuse`, `csrf_rejected` and `remote_denied`
/// (worth a look);
/// `debug` for `session_created` and `renewed` (routine, one per active session every
/// minute or so); `info` for the rest. An event no subscriber listens to (at its level, for
/// its target) is dropped before it is queued: it costs the request one check.
#[derive(Clone, Copy, Debug, Default)]
pub struct TracingAudit {
    _private: (),
}

impl TracingAudit {
    /// The level an event of `kind` is logged at.
    pub fn level(kind: AuditKind) -> Level {
        match kind {
            AuditKind::LoginFailed
            | AuditKind::RefreshReuse
            | AuditKind::CsrfRejected
            | AuditKind::RemoteDenied => Level::WARN,
            AuditKind::SessionCreated | AuditKind::Renewed => Level::DEBUG,
            _ => Level::INFO,
        }
    }

    /// Whether a `tracing` subscriber of this thread listens to events of `kind` (the
    /// target `sessionward::audit` at [`level`](Self::level)`(kind)`).
    pub fn subscriber_listens(kind: AuditKind) -> bool {
        match Self::level(kind) {
            Level::WARN => tracing::enabled!(target: "sessionward::audit", Level::WARN),
            Level::DEBUG => tracing::enabled!(target: "sessionward::audit", Level::DEBUG),
            _ => tracing::enabled!(target: "sessionward::audit", Level::INFO),
        }
    }
}

impl AuditSink for TracingAudit {
    fn record(&mut self, event: &AuditEvent) -> io::Result<()> {
        // Checked again here: the subscriber may have changed since the event was queued.
        if !Self::subscriber_listens(event.event) {
            return Ok(());
        }
        let level = Self::level(event.event);
        let time = time::OffsetDateTime::from(event.time)
            .format(&Rfc3339)
            .map_err(io::Error::other)?;
        // `tracing` needs the level of each call site at compile time. Text from clients (user
        // names, user agents) is recorded as `&str`, which formatters quote and escape, so a
        // line break in it cannot forge a log line.
        macro_rules! emit {
            ($level:expr) => {
                tracing::event!(
                    target: "sessionward::audit",
                    $level,
                    event = event.event.as_str(),
                    time = time.as_str(),
                    session_id = event.session_id.map(tracing::field::display),
                    user = event.user.as_deref(),
                    ip = event.ip.map(tracing::field::display),
                    user_agent = event.user_agent.as_deref(),
                    reason = event.reason.as_deref(),
                    "audit"
                )
            };
        }
        if level == Level::WARN {
            emit!(Level::WARN);
        } else if level == Level::DEBUG {
            emit!(Level::DEBUG);
        } else {
            emit!(Level::INFO);
        }
        Ok(())
    }

    /// An event no subscriber listens to is not queued (see
    /// [`subscriber_listens`](Self::subscriber_listens)).
    /// The test asks the reporting thread's subscriber, the logging goes to the audit
    /// thread's: in an app both are the global one. A subscriber set for one thread only
    /// (`tracing::subscriber::with_default`) never receives the audit trail.
    fn filter(&self) -> Option<fn(AuditKind) -> bool> {
        Some(Self::subscriber_listens)
    }
}
