//! Conformance: [`SessionStore::load_by_id`], the read behind a JWT access token's `sid`. It
//! finds what `load` finds, under a key the store's own operations accept, and follows a
//! rotation; `load_by_id_now`, where a store answers it, agrees with it.

use std::time::{Duration, SystemTime};

use serde_json::value::RawValue;

use super::{assert_same, load, raw, sample, set};
use crate::store::{EndReason, EndTarget, Ended, SessionPatch, SessionRecord, SessionStore};
use crate::token::{SessionId, TokenHash};

/// `load_by_id`, checking that `load_by_id_now`, where the store answers it, agrees.
async fn by_id<S: SessionStore>(store: &S, id: &SessionId) -> Option<(TokenHash, SessionRecord)> {
    let found = store.load_by_id(id).await.expect("load_by_id");
    if let Some(at_once) = store.load_by_id_now(id) {
        let at_once = at_once.expect("load_by_id_now");
        let summary = |found: &Option<(TokenHash, SessionRecord)>| {
            found
                .as_ref()
                .map(|(key, record)| (*key, record.id, record.user.clone()))
        };
        assert_eq!(
            summary(&at_once),
            summary(&found),
            "load_by_id_now returns what load_by_id returns"
        );
    }
    found
}

/// The key `load_by_id` returned addresses the session: it is updated through it.
async fn assert_key_addresses<S: SessionStore>(store: &S, key: &TokenHash, real: &TokenHash) {
    let patch = set("by_id", Some(raw(&1)));
    assert!(
        store.update(key, &patch).await.expect("update"),
        "load_by_id returns a key that update accepts"
    );
    let record = load(store, real).await.expect("session still loads");
    assert_eq!(
        record.data.get_raw("by_id").map(RawValue::get),
        Some("1"),
        "an update through load_by_id's key changes the session"
    );
}

pub(super) async fn load_by_id_finds_what_load_finds<S: SessionStore>(store: &S) {
    let (key, record) = sample(Some("by-id"), Duration::ZERO);
    store.create(&key, record.clone()).await.expect("create");
    let (found_key, found) = by_id(store, &record.id)
        .await
        .expect("a created session is found by its id");
    assert_same("load_by_id returns the record", &found, &record);
    assert_key_addresses(store, &found_key, &key).await;

    // A rotation moves the session: the id now leads to the new key, and the old one is dead.
    let (new_key, _) = sample(None, Duration::ZERO);
    assert!(store
        .rotate(&key, &new_key, &SessionPatch::default())
        .await
        .expect("rotate"));
    let (rotated_key, rotated) = by_id(store, &record.id)
        .await
        .expect("a rotated session is found by its id");
    assert_eq!(rotated.id, record.id, "load_by_id follows a rotation");
    assert_key_addresses(store, &rotated_key, &new_key).await;

    assert!(store.delete(&new_key).await.expect("delete"));
    assert!(
        by_id(store, &record.id).await.is_none(),
        "a deleted session is not found by its id"
    );

    // Ended (and perhaps retained for listing): never found, as `load` never finds it.
    let (key, record) = sample(Some("by-id"), Duration::ZERO);
    store.create(&key, record.clone()).await.expect("create");
    let ended = Ended::new(SystemTime::now(), EndReason::LoggedOut);
    assert_eq!(
        store
            .end(EndTarget::Id(&record.id), ended)
            .await
            .expect("end"),
        1
    );
    assert!(
        by_id(store, &record.id).await.is_none(),
        "an ended session is not found by its id"
    );

    let (_, unknown) = sample(None, Duration::ZERO);
    assert!(
        by_id(store, &unknown.id).await.is_none(),
        "an unknown id is not found"
    );

    // Past its deadline but not ended: returned as `load` returns it, for the caller to judge.
    let (key, mut record) = sample(None, Duration::from_secs(7200));
    record.idle_expires_at = SystemTime::now() - Duration::from_secs(60);
    store.create(&key, record.clone()).await.expect("create");
    let from_load = load(store, &key).await;
    let from_id = by_id(store, &record.id).await.map(|(_, r)| r);
    assert_eq!(
        from_load.is_some(),
        from_id.is_some(),
        "load_by_id returns an expired session exactly when load does"
    );
    store.delete(&key).await.expect("delete");
}
