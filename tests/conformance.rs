//! The store conformance suite against the in-memory reference store.

use sessionward::store::{conformance, MemoryStore};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn memory_store_passes_the_conformance_suite() {
    let store = MemoryStore::default();
    conformance::run(&store).await;
    // Twice against the same store: checks never depend on an empty store.
    conformance::run(&store).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn memory_store_with_room_made_up_front_passes_the_conformance_suite() {
    let store = MemoryStore::with_capacity(1_000);
    conformance::run(&store).await;
    conformance::run(&store).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn boxed_store_passes_the_conformance_suite() {
    let store = sessionward::store::BoxedStore::new(MemoryStore::default());
    conformance::run(&store).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn memory_store_logins_racing_never_pass_the_limits() {
    let store = MemoryStore::default();
    conformance::logins_racing_never_pass_the_limits(&store).await;
    conformance::logins_racing_never_pass_the_limits(&store).await;
    let boxed = sessionward::store::BoxedStore::new(store);
    conformance::logins_racing_never_pass_the_limits(&boxed).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn memory_store_with_retention_passes_the_conformance_suite() {
    let store = MemoryStore::default().with_retention(std::time::Duration::from_secs(86_400));
    conformance::run(&store).await;
    conformance::run(&store).await;
    let boxed = sessionward::store::BoxedStore::new(store);
    conformance::run(&boxed).await;
}
