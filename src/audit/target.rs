//! Where a component reports its audit events: [`AuditTarget`].

use std::sync::OnceLock;

use super::{AuditHandle, AuditKind, TracingAudit};

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
            Self::Tracing => TracingAudit::listened(kind).then(process_tracing),
            Self::Handle(handle) => handle.wants(kind).then_some(handle),
            Self::Off => None,
        }
    }

    /// The handle events go to, if any (the process's `tracing` one is started if it was not).
    pub(crate) fn handle(&self) -> Option<&AuditHandle> {
        match self {
            Self::Tracing => Some(process_tracing()),
            Self::Handle(handle) => Some(handle),
            Self::Off => None,
        }
    }
}

/// The process's one [`TracingAudit`] handle, started on first use.
pub(super) fn process_tracing() -> &'static AuditHandle {
    static TRACING: OnceLock<AuditHandle> = OnceLock::new();
    TRACING.get_or_init(|| AuditHandle::new(TracingAudit::default()))
}
