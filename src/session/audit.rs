//! What a request's session reports to the audit trail, and the failed logins an app reports.
//! Every event is built only when the layer's trail keeps it: otherwise each call is a check
//! and nothing else.

use std::borrow::Cow;
use std::time::SystemTime;

use super::Session;
use crate::audit::{AuditKind, EventParts};
use crate::store::{EndReason, Ended, SessionRecord};
use crate::token::SessionId;

/// What the layer's write at the end of a request means for the audit trail, once saved.
#[derive(Clone, Copy)]
pub(crate) enum Written {
    Nothing,
    /// An anonymous session was stored for the first time, created at the given time (the
    /// record itself has moved into the store).
    Created(SessionId, SystemTime),
    /// The idle deadline was moved on.
    Renewed(SessionId),
}

/// A session found past a deadline, to report once it is deleted.
pub(super) struct Expiry {
    kind: AuditKind,
    id: SessionId,
    user: Option<String>,
}

impl Session {
    /// Reports a failed sign-in to the audit trail (`login_failed`): `user` is the name that
    /// was tried, `reason` why it failed (`"invalid_credentials"`, `"account_locked"`, …). The
    /// event carries this request's session id when it has a session, and its client IP and
    /// user agent. Does nothing when the layer's trail does not keep it; never fails.
    pub async fn login_failed(&self, user: &str, reason: impl Into<Cow<'static, str>>) {
        if !self.audits(AuditKind::LoginFailed) {
            return;
        }
        // A store that cannot say which session this is is no reason to lose the event.
        let id = match self.loaded().await {
            Ok(state) => state.record.as_ref().map(|r| r.id),
            Err(_) => None,
        };
        self.audit(AuditKind::LoginFailed, id, Some(user), Some(reason.into()));
    }

    /// Sends an event about this request to the audit trail, if it keeps such events.
    pub(crate) fn audit(
        &self,
        kind: AuditKind,
        session_id: Option<SessionId>,
        user: Option<&str>,
        reason: Option<Cow<'static, str>>,
    ) {
        self.audit_at(kind, SystemTime::now(), session_id, user, reason);
    }

    /// [`audit`](Self::audit) of something that happened at `time`, a time already read.
    fn audit_at(
        &self,
        kind: AuditKind,
        time: SystemTime,
        session_id: Option<SessionId>,
        user: Option<&str>,
        reason: Option<Cow<'static, str>>,
    ) {
        let Some(audit) = self.inner.shared.config.audit.for_kind(kind) else {
            return;
        };
        audit.record_parts(EventParts {
            kind,
            time,
            session_id,
            user,
            ip: self.client_ip(),
            user_agent: self.inner.client.user_agent_str(),
            reason,
        });
    }

    /// Whether the layer's audit trail keeps events of `kind`: events are built only then.
    pub(super) fn audits(&self, kind: AuditKind) -> bool {
        self.inner.shared.config.audit.for_kind(kind).is_some()
    }

    /// Reports `kind` about the session as this request now holds it.
    pub(super) fn audit_current(&self, kind: AuditKind) {
        if !self.audits(kind) {
            return;
        }
        let current = self.state().record.as_ref().map(|r| (r.id, r.user.clone()));
        if let Some((id, user)) = current {
            self.audit(kind, Some(id), user.as_deref(), None);
        }
    }

    /// A presented token that leads to no session.
    pub(super) fn audit_invalid_token(&self, reason: &'static str) {
        self.audit(AuditKind::InvalidToken, None, None, Some(reason.into()));
    }

    /// Reports what the layer's write did, once it is saved.
    pub(crate) fn audit_written(&self, written: Written) {
        match written {
            // Created only for an anonymous session: no user to look up.
            Written::Created(id, at) => {
                self.audit_at(AuditKind::SessionCreated, at, Some(id), None, None);
            }
            // The user is looked up only when the trail keeps renewals.
            Written::Renewed(id) if self.audits(AuditKind::Renewed) => {
                // The renewal's own time: the last use it recorded.
                let (user, time) = {
                    let state = self.state();
                    match state.record.as_ref().filter(|r| r.id == id) {
                        Some(record) => (record.user.clone(), record.last_seen_at),
                        None => (None, SystemTime::now()),
                    }
                };
                self.audit_at(AuditKind::Renewed, time, Some(id), user.as_deref(), None);
            }
            Written::Renewed(_) | Written::Nothing => {}
        }
    }

    /// Which deadline `record` has passed at `now`, to report once it is deleted; `None`
    /// when the audit trail does not keep it.
    pub(super) fn expiry(&self, record: &SessionRecord, ended: &Ended) -> Option<Expiry> {
        let kind = match ended.reason {
            EndReason::ExpiredAbsolute => AuditKind::ExpiredAbsolute,
            _ => AuditKind::ExpiredIdle,
        };
        if !self.audits(kind) {
            return None;
        }
        Some(Expiry {
            kind,
            id: record.id,
            user: record.user.clone(),
        })
    }

    pub(super) fn audit_expiry(&self, expiry: Option<Expiry>) {
        if let Some(Expiry { kind, id, user }) = expiry {
            self.audit(kind, Some(id), user.as_deref(), None);
        }
    }

    /// Reports sessions that a login evicted to stay within the user's limit.
    pub(super) fn audit_evicted(&self, evicted: &[SessionRecord]) {
        for record in evicted {
            let reason = Some(Cow::Borrowed("session_limit"));
            self.audit(
                AuditKind::Evicted,
                Some(record.id),
                record.user.as_deref(),
                reason,
            );
        }
    }
}
