//! What a login under session limits does with the store's answer.

use super::Session;
use crate::audit::AuditKind;
use crate::error::SessionError;
use crate::store::Admitted;

impl Session {
    /// Whether an admitted login of `user` went ahead (`true`), found its session gone
    /// (`false`), or was refused by a limit; evictions and refusals are audited.
    pub(super) fn admitted(&self, user: &str, admission: Admitted) -> Result<bool, SessionError> {
        match admission {
            // Evicted sessions are ended already; their next request finds no session.
            Admitted::SignedIn { evicted } => {
                for record in &evicted {
                    self.deny(record.id);
                }
                self.audit_evicted(&evicted);
                Ok(true)
            }
            Admitted::Gone => Ok(false),
            Admitted::Refused(limit) => {
                let reason = Some("session_limit".into());
                self.audit(AuditKind::LoginFailed, None, Some(user), reason);
                Err(SessionError::SessionLimit(limit))
            }
        }
    }
}
