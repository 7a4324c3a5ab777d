//! The session data as one request sees it, and the limits on its size.
//!
//! For a stored session the request's changes stay in the pending patch and the loaded record
//! keeps the data as the store handed it out (shared with the memory store's copy): a write of
//! one key copies nothing else. Reads look at the patch first. A session not stored yet holds
//! its data in the record itself.

use serde_json::value::RawValue;

use super::State;
use crate::config::SessionConfig;
use crate::error::{DataLimit, SessionError};
use crate::store::SessionPatch;

impl State {
    /// The JSON value of `key` as this request sees it.
    pub(super) fn value(&self, key: &str) -> Option<&RawValue> {
        if let Some(change) = self.patch.data_change(key) {
            return change;
        }
        self.record.as_ref()?.data.get_raw(key)
    }

    /// Sets (`Some`) or removes (`None`) `key` in this request's view.
    pub(super) fn change(&mut self, key: &str, value: Option<Box<RawValue>>) {
        if self.key.is_some() {
            self.patch.set_key(key, value);
        } else if let Some(record) = self.record.as_mut() {
            match value {
                Some(value) => record.data.insert_raw(key, value),
                None => {
                    record.data.remove(key);
                }
            }
        }
    }

    /// Takes the pending patch for a store call, first folding its data changes into the
    /// record, so the request's view stays whole while the call is in flight.
    pub(super) fn take_patch(&mut self) -> SessionPatch {
        let patch = std::mem::take(&mut self.patch);
        if !patch.data.is_empty() {
            if let Some(record) = self.record.as_mut() {
                record.apply(&patch);
            }
        }
        patch
    }

    /// Checks that setting each `(key, value length)` of `writes` keeps the session within
    /// the configured number of keys and bytes (keys and JSON text counted).
    pub(super) fn check_limits(
        &self,
        config: &SessionConfig,
        writes: &[(&str, usize)],
    ) -> Result<(), SessionError> {
        let written = |k: &str| writes.iter().any(|(w, _)| *w == k);
        let (mut keys, mut bytes) = (0, 0);
        let mut count = |k: &str, len: usize| {
            keys += 1;
            bytes += k.len() + len;
        };
        for (at, (k, len)) in writes.iter().enumerate() {
            // A key written twice counts once, with its last value.
            if !writes[at + 1..].iter().any(|(w, _)| w == k) {
                count(k, *len);
            }
        }
        if let Some(record) = &self.record {
            for (k, v) in record.data.iter() {
                if self.patch.data_change(k).is_none() && !written(k) {
                    count(k, v.get().len());
                }
            }
        }
        for (k, v) in &self.patch.data {
            if let (Some(v), false) = (v, written(k)) {
                count(k, v.get().len());
            }
        }
        if keys > config.max_data_keys {
            return Err(SessionError::DataTooLarge(DataLimit::Keys(
                config.max_data_keys,
            )));
        }
        if bytes > config.max_data_bytes {
            return Err(SessionError::DataTooLarge(DataLimit::Bytes(
                config.max_data_bytes,
            )));
        }
        Ok(())
    }
}
