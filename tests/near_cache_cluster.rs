//! The Redis store's near cache on a Redis Cluster this test starts: copies are served, a
//! delete through another instance is refused after one round trip, reads racing deletes
//! never leave a stale copy, a killed node connection empties the cache until tracking is on
//! again, and a slot migration drops the copies of the moved keys.

mod common;
mod near_cache_support;
#[allow(dead_code)] // the suites use different parts
#[path = "redis_support/mod.rs"]
mod redis_support;
mod servers;

use std::process::ExitCode;
use std::time::Duration;

use common::wait::eventually;
use near_cache_support::{record_key, with_near_cache};
use redis_support::{cluster_ports, unique_prefix, Cluster};
use servers::trial;
use sessionward::store::conformance::sample;
use sessionward::store::{RedisStore, SessionStore};

/// A (no cache) and B (near cache) on `cluster`, same prefix.
async fn pair(cluster: &Cluster, tag: &str) -> (RedisStore, RedisStore) {
    let urls = cluster.urls();
    let prefix = unique_prefix(tag);
    let a = RedisStore::connect_cluster(&urls)
        .await
        .unwrap()
        .with_prefix(&prefix);
    let b = with_near_cache(RedisStore::connect_cluster(&urls).await.unwrap(), &prefix).await;
    // The first heartbeat round (every master answering, tracking on) opens the cache.
    eventually("B's near cache serves", || async {
        b.sync_near_cache().await;
        let (key, record) = sample(None, Duration::ZERO);
        a.create(&key, record).await.unwrap();
        b.load(&key).await.unwrap();
        let hits = b.near_cache_stats().unwrap().hits;
        b.load(&key).await.unwrap();
        a.delete(&key).await.unwrap();
        b.near_cache_stats().unwrap().hits > hits
    })
    .await;
    (a, b)
}

async fn copies_races_and_a_killed_connection() {
    let cluster = Cluster::start(cluster_ports());
    let (a, b) = pair(&cluster, "near-cluster").await;

    // Served from copies; a delete on A refused by B after one round.
    let (key, record) = sample(Some("alice"), Duration::ZERO);
    a.create(&key, record).await.unwrap();
    assert!(b.load(&key).await.unwrap().is_some());
    let hits = b.near_cache_stats().unwrap().hits;
    for _ in 0..5 {
        assert!(b.load(&key).await.unwrap().is_some());
    }
    assert_eq!(b.near_cache_stats().unwrap().hits, hits + 5);
    assert!(a.delete(&key).await.unwrap());
    b.sync_near_cache().await;
    assert!(b.load(&key).await.unwrap().is_none());

    // Reads racing deletes, released together (keys spread over every master).
    near_cache_support::reads_racing_deletes(a.clone(), b.clone(), 2_000).await;

    // A node connection of B killed: its replacement has tracking off, so the cache empties
    // and serves nothing until the heartbeat has turned tracking on again.
    let (key, record) = sample(None, Duration::ZERO);
    a.create(&key, record).await.unwrap();
    assert!(b.load(&key).await.unwrap().is_some());
    let name = b.near_cache_client_name().unwrap().to_owned();
    // Counted before the kill: B may reconnect as soon as the kill lands, before any later
    // line of this test runs.
    let connects = b.near_cache_stats().unwrap().connects;
    let mut killed = 0;
    for &port in cluster.ports() {
        let list = cluster.cli(port, &["client", "list"]);
        for line in list.lines() {
            if line.split(' ').any(|f| f == format!("name={name}")) {
                let id = line.split(' ').find_map(|f| f.strip_prefix("id=")).unwrap();
                killed +=
                    usize::from(cluster.cli(port, &["client", "kill", "id", id]).trim() == "1");
            }
        }
    }
    assert!(killed >= 1, "B's node connections are found by name");
    assert!(a.delete(&key).await.unwrap());
    b.sync_near_cache().await;
    assert!(
        b.load(&key).await.unwrap().is_none(),
        "B refuses after the kill"
    );
    // And caches again once tracking is back everywhere.
    eventually("B turns tracking on again and serves copies", || async {
        let (key, record) = sample(None, Duration::ZERO);
        a.create(&key, record).await.unwrap();
        b.sync_near_cache().await;
        b.load(&key).await.unwrap();
        let hits = b.near_cache_stats().unwrap().hits;
        b.load(&key).await.unwrap();
        a.delete(&key).await.unwrap();
        b.near_cache_stats().unwrap().hits > hits
    })
    .await;
    assert!(b.near_cache_stats().unwrap().connects > connects);
}

/// The master that serves `slot`: its node id and port.
fn owner(cluster: &Cluster, slot: u16) -> (String, u16) {
    let nodes = cluster.cli(cluster.ports()[0], &["cluster", "nodes"]);
    for line in nodes.lines() {
        let fields: Vec<&str> = line.split(' ').collect();
        if !fields.get(2).is_some_and(|f| f.contains("master")) {
            continue;
        }
        let serves = fields[8..].iter().any(|range| match range.split_once('-') {
            Some((lo, hi)) => {
                (lo.parse().unwrap_or(u16::MAX)..=hi.parse().unwrap_or(0)).contains(&slot)
            }
            None => range.parse() == Ok(slot),
        });
        if serves {
            let port = fields[1].split(['@', ':']).nth(1).unwrap().parse().unwrap();
            return (fields[0].to_owned(), port);
        }
    }
    panic!("no master serves slot {slot}: {nodes}");
}

/// The slot of `key`, as the cluster computes it.
fn slot_of(cluster: &Cluster, key: &str) -> u16 {
    let slot = cluster.cli(cluster.ports()[0], &["cluster", "keyslot", key]);
    slot.trim().parse().unwrap()
}

/// The node id of the master on `port`.
fn node_id(cluster: &Cluster, port: u16) -> String {
    cluster.cli(port, &["cluster", "myid"]).trim().to_owned()
}

/// Moves `slot` and every key in it to the master on `to`.
fn migrate(cluster: &Cluster, slot: u16, to: u16) {
    let (from_id, from) = owner(cluster, slot);
    let to_id = node_id(cluster, to);
    let slot = slot.to_string();
    cluster.cli(to, &["cluster", "setslot", &slot, "importing", &from_id]);
    cluster.cli(from, &["cluster", "setslot", &slot, "migrating", &to_id]);
    let keys = cluster.cli(from, &["cluster", "getkeysinslot", &slot, "1000"]);
    let keys: Vec<&str> = keys
        .lines()
        .map(str::trim)
        .filter(|k| !k.is_empty())
        .collect();
    assert!(!keys.is_empty(), "the slot holds the session's keys");
    let port = to.to_string();
    let mut args = vec!["migrate", "127.0.0.1", &port, "", "0", "5000", "keys"];
    args.extend(keys.iter().copied());
    let answer = cluster.cli(from, &args);
    assert_eq!(answer.trim(), "OK", "MIGRATE: {answer}");
    for &node in cluster.ports() {
        cluster.cli(node, &["cluster", "setslot", &slot, "node", &to_id]);
    }
}

/// (e) A slot migration: B held a copy of a session whose keys move to another master; the
/// move drops the copy (the source deletes the keys), and a delete on A, made on the new
/// master, is refused by B after one round.
async fn slot_migration_drops_the_moved_copies() {
    let cluster = Cluster::start(cluster_ports());
    let (a, b) = pair(&cluster, "near-migrate").await;
    let (key, record) = sample(Some("alice"), Duration::ZERO);
    a.create(&key, record).await.unwrap();
    assert!(b.load(&key).await.unwrap().is_some());
    let entries = b.near_cache_stats().unwrap().entries;
    assert!(entries >= 1);

    let record_key = record_key(&a, &key);
    let slot = slot_of(&cluster, &record_key);
    let (_, from) = owner(&cluster, slot);
    let to = *cluster.ports().iter().find(|&&p| p != from).unwrap();
    migrate(&cluster, slot, to);
    b.sync_near_cache().await;
    assert_eq!(
        b.near_cache_stats().unwrap().entries,
        entries - 1,
        "the moved session's copy is gone"
    );

    // The session itself moved intact, and B reads it from its new master.
    assert!(b.load(&key).await.unwrap().is_some());
    assert!(a.delete(&key).await.unwrap());
    b.sync_near_cache().await;
    assert!(
        b.load(&key).await.unwrap().is_none(),
        "a delete on the new master is refused by B"
    );
}

/// The port of the replica of the master on `master`, once the cluster knows it.
fn replica_of(cluster: &Cluster, master: u16) -> Option<u16> {
    let master_id = node_id(cluster, master);
    let nodes = cluster.cli(master, &["cluster", "nodes"]);
    nodes
        .lines()
        .map(|line| line.split(' ').collect::<Vec<_>>())
        .find(|f| {
            f.get(2).is_some_and(|flags| flags.contains("slave"))
                && f.get(3) == Some(&master_id.as_str())
        })
        .and_then(|f| f[1].split(['@', ':']).nth(1)?.parse().ok())
}

/// (e) A failover: the master holding a session B has a copy of hands over to its replica;
/// a delete on A (made on the new master) is refused by B after one round.
async fn failover_drops_the_copies() {
    let cluster = Cluster::start_with_replicas(cluster_ports());
    let (a, b) = pair(&cluster, "near-failover").await;
    let (key, record) = sample(Some("alice"), Duration::ZERO);
    a.create(&key, record).await.unwrap();
    assert!(b.load(&key).await.unwrap().is_some());
    let hits = b.near_cache_stats().unwrap().hits;
    assert!(b.load(&key).await.unwrap().is_some());
    assert_eq!(
        b.near_cache_stats().unwrap().hits,
        hits + 1,
        "B holds a copy"
    );

    let record_key = record_key(&a, &key);
    let slot = slot_of(&cluster, &record_key);
    let (_, master) = owner(&cluster, slot);
    eventually("the master's replica is known and in sync", || async {
        replica_of(&cluster, master).is_some_and(|replica| {
            cluster
                .cli(replica, &["info", "replication"])
                .contains("master_link_status:up")
        })
    })
    .await;
    let replica = replica_of(&cluster, master).unwrap();
    let answer = cluster.cli(replica, &["cluster", "failover"]);
    assert_eq!(answer.trim(), "OK", "CLUSTER FAILOVER: {answer}");
    eventually("the replica takes over the slot", || async {
        owner(&cluster, slot).1 == replica
    })
    .await;

    // The session is gone on the new master after this (a failover can also lose a write the
    // replica had not received yet, which ends the session just the same).
    a.delete(&key).await.unwrap();
    assert_eq!(cluster.cli(replica, &["exists", &record_key]).trim(), "0");
    b.sync_near_cache().await;
    assert!(
        b.load(&key).await.unwrap().is_none(),
        "B refuses the session deleted after the failover"
    );
}

fn main() -> ExitCode {
    servers::run_one_at_a_time([
        trial!(RedisCluster: copies_races_and_a_killed_connection),
        trial!(RedisCluster: slot_migration_drops_the_moved_copies),
        trial!(RedisCluster: failover_drops_the_copies),
    ])
}
