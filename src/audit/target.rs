//! Where a component reports its audit events: [`AuditTarget`].

use std::sync::OnceLock;

use super::{AuditHandle, AuditKind, TracingAudit, DEFAULT_CAPACITY};

/// The audit trail of a layer or a set of routes: the process's `tracing` trail unless the
/// app gave a handle of its own, or none at all.
#[derive(Clone, Debug, Default)]
pub(crate) enum AuditTarget {
    /// [`AuditHandle::tracing`], whose thread starts with the first event a `tracing`
    /// subscriber listens to.
    #[default]
    Tracing,
    Handle(AuditHandle),
    Off,
}

impl AuditTarget {
    /// The handle to report an event of `kind` to, when the trail keeps such events: the
    /// layer builds an event only then.
    pub(crate) fn for_kind(&self, kind: AuditKind) -> Option<&AuditHandle> {
        match self {
            Self::Tracing if TracingAudit::subscriber_listens(kind) => process_tracing(),
            Self::Tracing => None,
            Self::Handle(handle) => handle.wants(kind).then_some(handle),
            Self::Off => None,
        }
    }

    /// The handle events go to, if any (the process's `tracing` one is started if it was not;
    /// none if it cannot be).
    pub(crate) fn handle(&self) -> Option<&AuditHandle> {
        match self {
            Self::Tracing => process_tracing(),
            Self::Handle(handle) => Some(handle),
            Self::Off => None,
        }
    }
}

/// The process's one [`TracingAudit`] handle, started on first use; `None` when the operating
/// system could not start its thread (said once, at `error`), as this runs on a request's path,
/// which must not panic for it.
pub(super) fn process_tracing() -> Option<&'static AuditHandle> {
    static TRACING: OnceLock<Option<AuditHandle>> = OnceLock::new();
    let started = TRACING.get_or_init(|| {
        AuditHandle::try_with_capacity(TracingAudit::default(), DEFAULT_CAPACITY)
            .inspect_err(|err| {
                tracing::error!(
                    target: "sessionward::audit",
                    %err,
                    "cannot start the audit thread: the default audit trail is off"
                );
            })
            .ok()
    });
    started.as_ref()
}
