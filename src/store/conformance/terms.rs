//! Conformance: the terms a timeout policy granted are kept with the session.

use std::time::{Duration, SystemTime};

use super::{assert_same, load, sample, unique_user};
use crate::store::{SessionPatch, SessionStore, SessionTerms};

/// Terms granted by a timeout policy are kept: at creation, set by an update (a login on the
/// same token) and by a rotation (a login), and left alone by a patch that does not set them.
pub(super) async fn terms_round_trip<S: SessionStore>(store: &S) {
    let admin = SessionTerms {
        idle_timeout: Duration::from_millis(900_123),
        persistent: false,
    };
    let remember = SessionTerms {
        idle_timeout: Duration::from_secs(7 * 24 * 3600),
        persistent: true,
    };
    let (key, mut record) = sample(Some(&unique_user("terms")), Duration::ZERO);
    record.terms = Some(admin);
    store.create(&key, record.clone()).await.expect("create");
    assert_same(
        "terms are kept at creation",
        &load(store, &key).await.expect("created"),
        &record,
    );

    let renewal = SessionPatch {
        last_seen_at: Some(SystemTime::now()),
        ..SessionPatch::default()
    };
    assert!(store.update(&key, &renewal).await.expect("update"));
    record.apply(&renewal);
    assert_same(
        "a patch without terms keeps them",
        &load(store, &key).await.expect("renewed"),
        &record,
    );

    let (new, _) = sample(None, Duration::ZERO);
    let login = SessionPatch {
        terms: Some(remember),
        expires_at: Some(SystemTime::now() + Duration::from_secs(3600)),
        ..SessionPatch::default()
    };
    assert!(store.rotate(&key, &new, &login).await.expect("rotate"));
    record.apply(&login);
    assert_same(
        "a rotation sets the terms of its patch",
        &load(store, &new).await.expect("rotated"),
        &record,
    );

    let (plain, mut untermed) = sample(None, Duration::ZERO);
    store
        .create(&plain, untermed.clone())
        .await
        .expect("create");
    let relogin = SessionPatch {
        terms: Some(admin),
        ..SessionPatch::default()
    };
    assert!(store.update(&plain, &relogin).await.expect("update"));
    untermed.apply(&relogin);
    assert_same(
        "an update sets the terms of its patch",
        &load(store, &plain).await.expect("updated"),
        &untermed,
    );
}
