//! What every request's session shares.

use std::sync::Arc;

use crate::config::SessionConfig;
use crate::store::erased::ErasedStore;

/// What every request's [`Session`](crate::Session) shares: the store and the configuration,
/// behind one reference count. The layer makes it once; the session module owns it, so that
/// the layer depends on the session and not the other way round.
#[derive(Clone)]
pub(crate) struct Shared {
    pub(crate) store: Arc<dyn ErasedStore>,
    pub(crate) config: SessionConfig,
}
