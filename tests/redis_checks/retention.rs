//! Retention on Redis: a retained store's records live the period past their deadline, an
//! ended record keeps what is left of the period after its end, and its indexes outlive it so
//! the session stays listable by user.

use std::time::{Duration, SystemTime};

use sessionward::store::conformance::{sample, unique_user};
use sessionward::store::{
    EndReason, EndTarget, Ended, RedisStore, SessionQuery, SessionState, SessionStore,
};

use super::{assert_outlives, assert_ttl, Layout, Raw};

/// The period the retained store keeps ended sessions.
pub const PERIOD: Duration = Duration::from_secs(86_400);

pub async fn ended_records_keep_the_period(store: &RedisStore, raw: &Raw) {
    assert_eq!(store.retention(), Some(PERIOD), "a store with retention");
    let keys = Layout::of(store);
    let user = unique_user("kept");
    let (key, record) = sample(Some(&user), Duration::ZERO);
    store.create(&key, record.clone()).await.expect("create");
    let (rec_key, id_key) = (keys.record(&key), keys.id(&record.id));
    // `sample` sets the idle deadline 10 minutes and the absolute one an hour ahead.
    assert_ttl(
        "a retained record lives the period past its deadline",
        raw.pttl(&rec_key).await,
        Duration::from_secs(600) + PERIOD,
    );
    assert_outlives(
        "the id index",
        raw.pttl(&id_key).await,
        Duration::from_secs(3600) + PERIOD,
    );

    let ended = Ended::new(SystemTime::now(), EndReason::LoggedOut);
    let target = EndTarget::Id(&record.id);
    assert_eq!(store.end(target, ended).await.expect("end"), 1);
    assert!(raw.exists(&rec_key).await, "the ended record is kept");
    assert_ttl(
        "an ended record lives the period after its end",
        raw.pttl(&rec_key).await,
        PERIOD,
    );
    assert_outlives("the id index", raw.pttl(&id_key).await, PERIOD);
    assert_outlives("the user index", raw.pttl(&keys.user(&user)).await, PERIOD);
    assert!(
        raw.zscore(&keys.user(&user), &record.id).await.is_some(),
        "the ended session stays in its user's index"
    );
    assert!(store.load(&key).await.expect("load").is_none());
    let listed = store
        .query(&SessionQuery {
            state: SessionState::Expired,
            user: Some(user.clone()),
            now: SystemTime::now(),
            offset: 0,
            limit: 10,
        })
        .await
        .expect("query");
    assert_eq!(listed.len(), 1);
    assert_eq!(
        listed[0].ended.map(|e| e.reason),
        Some(EndReason::LoggedOut)
    );
    assert_eq!(store.delete_by_user(&user, None).await.expect("cleanup"), 1);
}
