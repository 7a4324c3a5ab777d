//! The demo's audit trail: `SESSIONWARD_AUDIT_LOG=PATH` appends it to that file as JSON lines
//! (created if missing); unset or empty, the events are log lines through `tracing`.

use sessionward::audit::{JsonLinesAudit, TracingAudit};
use sessionward::store::SessionStore;
use sessionward::SessionLayer;

/// `layer` with the audit sink the environment asks for; a file that cannot be opened for
/// appending stops the demo with status 2.
pub fn from_env<S: SessionStore>(layer: SessionLayer<S>) -> SessionLayer<S> {
    let path = std::env::var_os("SESSIONWARD_AUDIT_LOG").filter(|path| !path.is_empty());
    let Some(path) = path else {
        return layer.audit(TracingAudit::default());
    };
    match JsonLinesAudit::append_to(&path) {
        Ok(sink) => layer.audit(sink),
        Err(err) => {
            let path = std::path::Path::new(&path).display();
            eprintln!("SESSIONWARD_AUDIT_LOG: cannot append to {path}: {err}");
            std::process::exit(2);
        }
    }
}
