//! Store failures at a chosen step of a request: a wrapper around a real store that fails or
//! holds chosen operations, so a test can let the load succeed and break the `rotate`,
//! `update`, `delete`, … that follows; and ([`relay`]) a TCP relay that cuts a real server's
//! connections at that moment.

pub mod relay;

use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, SystemTime};

use sessionward::store::{MemoryStore, SessionPatch, SessionQuery, SessionRecord, SessionStore};
use sessionward::token::{SessionId, TokenHash};
use sessionward::StoreError;
use tokio::sync::oneshot;

/// One operation of the store contract.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Op {
    Create,
    Load,
    Update,
    Rotate,
    Delete,
    DeleteById,
    ListByUser,
    CountByUser,
    DeleteByUser,
    DeleteExpired,
    Query,
}

impl Op {
    pub const ALL: &'static [Op] = &[
        Op::Create,
        Op::Load,
        Op::Update,
        Op::Rotate,
        Op::Delete,
        Op::DeleteById,
        Op::ListByUser,
        Op::CountByUser,
        Op::DeleteByUser,
        Op::DeleteExpired,
        Op::Query,
    ];
    /// The calls that can end one session: a logout makes one of them, whichever the layer
    /// chooses (by token or by public id).
    pub const ENDING: &'static [Op] = &[Op::Delete, Op::DeleteById];
}

/// The next `left` calls of any of `ops` fail.
struct Failure {
    ops: Vec<Op>,
    left: usize,
}

/// The next call of any of `ops` waits for the test.
struct Stop {
    ops: Vec<Op>,
    reached: oneshot::Sender<Op>,
    go: oneshot::Receiver<()>,
}

#[derive(Default)]
struct Plan {
    failures: Vec<Failure>,
    stops: Vec<Stop>,
    /// Every call made, in order.
    calls: Vec<Op>,
}

/// A real store (the memory store by default) whose chosen operations fail or wait for the test.
/// Everything not planned passes through to the inner store. By default it answers only through
/// the async methods; [`answering_at_once`](Self::answering_at_once) also passes `load_now`,
/// `create_now` and `update_now` through (for an inner store that answers at once), failing
/// them as planned.
#[derive(Clone)]
pub struct FaultyStore<S = MemoryStore> {
    pub inner: S,
    plan: Arc<Mutex<Plan>>,
    at_once: bool,
}

impl Default for FaultyStore {
    fn default() -> Self {
        Self::wrap(MemoryStore::default())
    }
}

impl<S> FaultyStore<S> {
    pub fn wrap(inner: S) -> Self {
        Self {
            inner,
            plan: Arc::default(),
            at_once: false,
        }
    }

    pub fn answering_at_once(mut self) -> Self {
        self.at_once = true;
        self
    }

    fn plan(&self) -> MutexGuard<'_, Plan> {
        self.plan.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The next `times` calls of any of `ops` fail with a backend error, without reaching the
    /// inner store.
    pub fn fail(&self, ops: &[Op], times: usize) {
        self.plan().failures.push(Failure {
            ops: ops.to_vec(),
            left: times,
        });
    }

    /// The next call of any of `ops` waits, before reaching the inner store (and before any
    /// planned failure), until the returned [`Pause`] is released or dropped.
    pub fn pause(&self, ops: &[Op]) -> Pause {
        let (reached_tx, reached_rx) = oneshot::channel();
        let (go_tx, go_rx) = oneshot::channel();
        self.plan().stops.push(Stop {
            ops: ops.to_vec(),
            reached: reached_tx,
            go: go_rx,
        });
        Pause {
            reached: Some(reached_rx),
            go: Some(go_tx),
        }
    }

    /// Planned failures not used yet: 0 once every one met its call.
    pub fn faults_left(&self) -> usize {
        self.plan().failures.iter().map(|f| f.left).sum()
    }

    /// Every call made so far, in order.
    pub fn calls(&self) -> Vec<Op> {
        self.plan().calls.clone()
    }

    /// Forgets every planned failure and pause: from now on every call reaches the store.
    pub fn heal(&self) {
        let mut plan = self.plan();
        plan.failures.clear();
        plan.stops.clear();
    }

    /// The planned failure for this call of `op`, if any (it is used up).
    fn failure(&self, op: Op) -> Result<(), StoreError> {
        let mut plan = self.plan();
        match plan
            .failures
            .iter_mut()
            .find(|f| f.left > 0 && f.ops.contains(&op))
        {
            Some(failure) => {
                failure.left -= 1;
                Err(StoreError::backend(format!(
                    "injected {op:?} failure (test)"
                )))
            }
            None => Ok(()),
        }
    }

    /// Records a call of `op`, waits if it is to be paused, then says whether it fails.
    async fn enter(&self, op: Op) -> Result<(), StoreError> {
        let stop = {
            let mut plan = self.plan();
            plan.calls.push(op);
            let at = plan.stops.iter().position(|s| s.ops.contains(&op));
            at.map(|at| plan.stops.remove(at))
        };
        if let Some(stop) = stop {
            let _ = stop.reached.send(op);
            // A dropped `Pause` lets the call go on as well.
            let _ = stop.go.await;
        }
        self.failure(op)
    }

    /// As [`enter`](Self::enter) for a call answered at once: `None` sends the layer to the
    /// async method (not answering at once, or a pause is planned, which only the async path
    /// can honour).
    fn enter_now(&self, op: Op) -> Option<Result<(), StoreError>> {
        if !self.at_once {
            return None;
        }
        {
            let mut plan = self.plan();
            if plan.stops.iter().any(|s| s.ops.contains(&op)) {
                return None;
            }
            plan.calls.push(op);
        }
        Some(self.failure(op))
    }
}

/// A store call held by [`FaultyStore::pause`]. Dropping it releases the call.
pub struct Pause {
    reached: Option<oneshot::Receiver<Op>>,
    go: Option<oneshot::Sender<()>>,
}

impl Pause {
    /// Waits until a matching call arrives (it is then held) and returns its operation.
    ///
    /// # Panics
    /// If no matching call arrives within 30 s (a guard against a hung test, not a timing), or
    /// when called twice.
    pub async fn reached(&mut self) -> Op {
        let reached = self.reached.take().expect("`reached` is awaited once");
        tokio::time::timeout(Duration::from_secs(30), reached)
            .await
            .expect("the paused store call was not made within 30 s")
            .expect("the store was dropped")
    }

    /// Lets the held call go on.
    pub fn release(&mut self) {
        if let Some(go) = self.go.take() {
            let _ = go.send(());
        }
    }
}

impl<S: SessionStore> SessionStore for FaultyStore<S> {
    fn load_now(&self, key: &TokenHash) -> Option<Result<Option<SessionRecord>, StoreError>> {
        Some(match self.enter_now(Op::Load)? {
            Ok(()) => self
                .inner
                .load_now(key)
                .expect("the inner store answers at once"),
            Err(err) => Err(err),
        })
    }
    fn create_now(
        &self,
        key: &TokenHash,
        record: SessionRecord,
    ) -> Result<Result<(), StoreError>, SessionRecord> {
        match self.enter_now(Op::Create) {
            None => Err(record),
            Some(Ok(())) => Ok(self
                .inner
                .create_now(key, record)
                .unwrap_or_else(|_| panic!("the inner store answers at once"))),
            Some(Err(err)) => Ok(Err(err)),
        }
    }
    fn update_now(
        &self,
        key: &TokenHash,
        patch: &SessionPatch,
    ) -> Option<Result<bool, StoreError>> {
        Some(match self.enter_now(Op::Update)? {
            Ok(()) => self
                .inner
                .update_now(key, patch)
                .expect("the inner store answers at once"),
            Err(err) => Err(err),
        })
    }
    async fn create(&self, key: &TokenHash, record: SessionRecord) -> Result<(), StoreError> {
        self.enter(Op::Create).await?;
        self.inner.create(key, record).await
    }
    async fn load(&self, key: &TokenHash) -> Result<Option<SessionRecord>, StoreError> {
        self.enter(Op::Load).await?;
        self.inner.load(key).await
    }
    // The request's one read, whichever way it names the session.
    async fn load_by_id(
        &self,
        id: &SessionId,
    ) -> Result<Option<(TokenHash, SessionRecord)>, StoreError> {
        self.enter(Op::Load).await?;
        self.inner.load_by_id(id).await
    }
    async fn update(&self, key: &TokenHash, patch: &SessionPatch) -> Result<bool, StoreError> {
        self.enter(Op::Update).await?;
        self.inner.update(key, patch).await
    }
    async fn rotate(
        &self,
        old: &TokenHash,
        new: &TokenHash,
        patch: &SessionPatch,
    ) -> Result<bool, StoreError> {
        self.enter(Op::Rotate).await?;
        self.inner.rotate(old, new, patch).await
    }
    async fn delete(&self, key: &TokenHash) -> Result<bool, StoreError> {
        self.enter(Op::Delete).await?;
        self.inner.delete(key).await
    }
    async fn delete_by_id(&self, id: &SessionId) -> Result<bool, StoreError> {
        self.enter(Op::DeleteById).await?;
        self.inner.delete_by_id(id).await
    }
    async fn list_by_user(
        &self,
        user: &str,
        now: SystemTime,
    ) -> Result<Vec<SessionRecord>, StoreError> {
        self.enter(Op::ListByUser).await?;
        self.inner.list_by_user(user, now).await
    }
    async fn count_by_user(&self, user: &str, now: SystemTime) -> Result<u64, StoreError> {
        self.enter(Op::CountByUser).await?;
        self.inner.count_by_user(user, now).await
    }
    async fn delete_by_user(
        &self,
        user: &str,
        except: Option<&SessionId>,
    ) -> Result<u64, StoreError> {
        self.enter(Op::DeleteByUser).await?;
        self.inner.delete_by_user(user, except).await
    }
    async fn delete_expired(&self, now: SystemTime) -> Result<u64, StoreError> {
        self.enter(Op::DeleteExpired).await?;
        self.inner.delete_expired(now).await
    }
    async fn query(&self, query: &SessionQuery) -> Result<Vec<SessionRecord>, StoreError> {
        self.enter(Op::Query).await?;
        self.inner.query(query).await
    }
}
