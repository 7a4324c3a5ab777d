//! The default sink: audit events as `tracing` events.

use std::io;

use time::format_description::well_known::Rfc3339;
use tracing::Level;

use super::{AuditEvent, AuditKind, AuditSink};

/// Writes each audit event as a `tracing` event with target `sessionward::audit`, the message
/// `audit`, and the fields `event`, `time`, `session_id`, `user`, `ip`, `user_agent` and
/// `reason` (fields that are not known are left out).
///
/// Levels: `warn` for `login_failed`, `refresh_reuse` and `csrf_rejected` (worth a look);
/// `debug` for `session_created` and `renewed` (routine, one per active session every
/// minute or so); `info` for the rest.
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
}

impl AuditSink for TracingAudit {
    fn record(&mut self, event: &AuditEvent) -> io::Result<()> {
        let level = Self::level(event.event);
        // Nothing listens at this level (no subscriber, or a filter): skip the formatting.
        let listened = match level {
            Level::WARN => tracing::enabled!(target: "sessionward::audit", Level::WARN),
            Level::DEBUG => tracing::enabled!(target: "sessionward::audit", Level::DEBUG),
            _ => tracing::enabled!(target: "sessionward::audit", Level::INFO),
        };
        if !listened {
            return Ok(());
        }
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
}
