//! The table's own tests: its indexes against a model, and its growth.

use std::collections::HashMap;
use std::time::{Duration, SystemTime};

use super::*;
use crate::store::{SessionPatch, SessionRecord};

fn entry(id: u64, user: Option<&str>) -> Entry {
    let mut raw = [0u8; 16];
    raw[..8].copy_from_slice(&id.wrapping_mul(0x9E37_79B9_7F4A_7C15).to_le_bytes());
    raw[8..].copy_from_slice(&id.to_le_bytes());
    let now = SystemTime::now();
    Entry::from_record(SessionRecord {
        id: SessionId(raw),
        user: user.map(str::to_owned),
        data: Default::default(),
        created_at: now,
        last_seen_at: now,
        expires_at: now + Duration::from_secs(id % 7),
        idle_expires_at: now + Duration::from_secs(60),
        user_agent: None,
        ip: None,
        terms: None,
        ended: None,
    })
}

fn key(n: u64) -> Key {
    let mut raw = [0u8; 16];
    raw[..8].copy_from_slice(&n.wrapping_mul(0xD6E8_FEB8_6659_FD93).to_le_bytes());
    raw[8..].copy_from_slice(&n.to_le_bytes());
    Key(raw)
}

/// Every slot is found by its key and its id, and every session with a user is listed
/// once, under its user, at the place it records.
fn assert_consistent(table: &Table) {
    for (at, slot) in table.slots.iter().enumerate() {
        assert_eq!(table.position(&slot.key), Some(at), "found by key");
        assert_eq!(
            table.position_of_id(&slot.entry.id),
            Some(at),
            "found by id"
        );
    }
    let mut listed = 0;
    for (user, ids) in table.by_user.iter() {
        assert!(!ids.is_empty(), "no empty list is kept");
        for (place, id) in ids.iter().enumerate() {
            let at = table
                .position_of_id(id)
                .expect("a listed id is in the table");
            let entry = &table.slots[at].entry;
            assert_eq!(entry.user(), Some(user), "listed under its own user");
            assert_eq!(entry.user_at() as usize, place, "a session knows its place");
        }
        listed += ids.len();
    }
    let with_user = table.entries().filter(|e| e.user().is_some()).count();
    assert_eq!(listed, with_user, "every session with a user is listed");
}

/// Removes every session `doomed` says so of in one pass, returning how many: the purge the
/// stepped one is compared with.
fn remove_where(table: &mut Table, doomed: impl Fn(&Entry) -> bool) -> u64 {
    let mut removed = 0;
    let mut at = 0;
    while at < table.slots.len() {
        if doomed(&table.slots[at].entry) {
            // The last slot moves into `at`: look at `at` again.
            table.remove_at(at);
            removed += 1;
        } else {
            at += 1;
        }
    }
    removed
}

fn change_user(table: &mut Table, key: &Key, user: Option<&str>) -> bool {
    let patch = SessionPatch {
        user: Some(user.map(str::to_owned)),
        ..SessionPatch::default()
    };
    table.modify(key, |e| e.apply(&patch))
}

/// Random operations against a plain map as the model: every index stays consistent
/// through swap-removes, re-keys and changes of user.
#[test]
fn indexes_follow_every_move() {
    let mut table = Table::default();
    let mut model: HashMap<[u8; 16], (SessionId, Option<String>)> = HashMap::new();
    let mut state = 0x2545_F491_4F6C_DD1Du64;
    let mut next = || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    let users = ["ann", "ben", "cat"];
    let new_users = [None, Some("ann"), Some("ben"), Some("dan")];
    let mut serial = 0u64;
    for step in 0..20_000 {
        if step % 1000 == 0 {
            assert_consistent(&table);
        }
        let roll = next() % 11;
        let existing: Vec<[u8; 16]> = model.keys().copied().collect();
        let pick =
            (!existing.is_empty()).then(|| Key(existing[(next() as usize) % existing.len()]));
        match (roll, pick) {
            (0..=4, _) | (_, None) => {
                serial += 1;
                let user = serial
                    .is_multiple_of(2)
                    .then(|| users[(serial % 3) as usize]);
                let (k, e) = (key(serial), entry(serial, user));
                model.insert(k.0, (e.id, user.map(str::to_owned)));
                assert!(table.insert(k, e).is_ok());
            }
            (5..=6, Some(k)) => {
                let removed = table.remove(&k).expect("present");
                assert_eq!(model.remove(&k.0).unwrap().0, removed.id);
            }
            (7, Some(k)) => {
                let id = model[&k.0].0;
                assert_eq!(table.remove_id(&id).expect("present").id, id);
                model.remove(&k.0);
            }
            (10, Some(k)) => {
                let user = new_users[(next() as usize) % new_users.len()];
                assert!(change_user(&mut table, &k, user));
                model.get_mut(&k.0).unwrap().1 = user.map(str::to_owned);
            }
            (_, Some(k)) => {
                serial += 1;
                let new = key(1_000_000 + serial);
                assert!(table.rekey(&k, new));
                let moved = model.remove(&k.0).unwrap();
                model.insert(new.0, moved);
            }
        }
    }
    assert_consistent(&table);
    assert_eq!(table.len(), model.len());
    for (k, (id, user)) in &model {
        let got = table.get(&Key(*k)).expect("every model key is found");
        assert_eq!(got.id, *id);
        assert_eq!(got.user(), user.as_deref());
        assert!(table.contains(&key(u64::MAX), id), "found by id");
    }
    for user in ["ann", "ben", "cat", "dan"] {
        let mut want: Vec<SessionId> = model
            .values()
            .filter(|(_, u)| u.as_deref() == Some(user))
            .map(|(id, _)| *id)
            .collect();
        let mut got: Vec<SessionId> = table.user_entries(user).map(|e| e.id).collect();
        want.sort();
        got.sort();
        assert_eq!(got, want, "user index of {user}");
    }
    let later = Millis::from_system(SystemTime::now() + Duration::from_secs(3));
    let expired = model.len() - table.entries().filter(|e| e.is_active(later)).count();
    assert_eq!(
        remove_where(&mut table, |e| !e.is_active(later)) as usize,
        expired
    );
    assert!(table.entries().all(|e| e.is_active(later)));
    assert_consistent(&table);
    for e in table.entries() {
        assert!(table.position_of_id(&e.id).is_some());
    }
}

/// One user with many sessions (the account that logs in again and again without a
/// cookie) among others: whichever way its sessions leave, from the middle of its list,
/// in cleanup, or to another user, the index stays exact and gives memory back. The time
/// this takes is measured by `benches/memory.rs`.
#[test]
fn one_users_many_sessions_leave_in_any_order() {
    const MANY: u64 = 30_000;
    let mut table = Table::default();
    let mut ann = Vec::new();
    for n in 1..=MANY + MANY / 10 {
        let user = match n % 11 {
            0 => Some("ben"),
            5 => None,
            _ => Some("ann"),
        };
        assert!(table.insert(key(n), entry(n, user)).is_ok());
        if user == Some("ann") {
            ann.push(n);
        }
    }
    assert_consistent(&table);
    let many = ann.len();
    // By id, every third of ann's sessions, from the middle of the list.
    for n in ann.iter().skip(many / 2).step_by(3) {
        assert!(table.remove_id(&entry(*n, None).id).is_some());
    }
    // Some of them move to ben and back out of the list.
    for n in ann.iter().skip(1).step_by(50).take(100) {
        assert!(change_user(&mut table, &key(*n), Some("ben")));
    }
    assert_consistent(&table);
    // Cleanup removes all but the sessions lasting 3 s or more (`entry`: `n % 7` s).
    let later = Millis::from_system(SystemTime::now() + Duration::from_secs(3));
    let expired = table.entries().filter(|e| !e.is_active(later)).count();
    assert!(expired > many / 3);
    assert_eq!(
        remove_where(&mut table, |e| !e.is_active(later)) as usize,
        expired
    );
    assert_consistent(&table);
    // Then everything of ann's except one, by key.
    let left: Vec<SessionId> = table.user_entries("ann").map(|e| e.id).collect();
    assert!(left.len() > 1000);
    let keep = left[left.len() / 2];
    for n in &ann {
        if entry(*n, None).id != keep {
            table.remove(&key(*n));
        }
    }
    assert_consistent(&table);
    let ids: Vec<SessionId> = table.user_entries("ann").map(|e| e.id).collect();
    assert_eq!(ids, [keep]);
    assert!(
        table.by_user.get("ann").unwrap().capacity() <= 16,
        "the list of one session does not keep {} places",
        table.by_user.get("ann").unwrap().capacity()
    );
    table.remove_id(&keep);
    assert!(table.by_user.get("ann").is_none());
    assert_consistent(&table);
}

/// Room made up front: the indexes never grow while the sessions fit in it (growing rehashes
/// every entry under the store's write lock), and a purge gives back only what is above it.
/// A table made without room grows and is shrunk back after the same purge.
#[test]
fn room_made_up_front_is_neither_outgrown_nor_given_back() {
    const ROOM: usize = 20_000;
    let mut roomy = Table::with_capacity(ROOM);
    let mut plain = Table::default();
    let capacities = |t: &Table| (t.slots.capacity(), t.by_key.capacity(), t.by_id.capacity());
    let made = capacities(&roomy);
    let users_made = roomy.by_user.capacity();
    assert!(made.0 >= ROOM && made.1 >= ROOM && made.2 >= ROOM && users_made >= ROOM);
    for n in 0..ROOM as u64 {
        // Every other session signed in, each of a user of its own.
        let user = (n % 2 == 0).then(|| format!("user-{n}"));
        assert!(roomy.insert(key(n), entry(n, user.as_deref())).is_ok());
        assert!(plain.insert(key(n), entry(n, user.as_deref())).is_ok());
    }
    assert_eq!(
        roomy.by_user.capacity(),
        users_made,
        "the user index did not grow"
    );
    assert_eq!(capacities(&roomy), made, "no index grew within the room");
    assert_consistent(&roomy);

    for table in [&mut roomy, &mut plain] {
        assert_eq!(remove_where(table, |_| true), ROOM as u64);
        table.shrink_if_sparse();
    }
    assert_eq!(capacities(&roomy), made, "the purge kept the room");
    assert!(
        plain.by_key.capacity() < ROOM,
        "a table without room shrinks"
    );

    // Past the room the table grows as any other; a purge brings it back to the room.
    for n in 0..(5 * ROOM) as u64 {
        assert!(roomy.insert(key(n), entry(n, None)).is_ok());
    }
    assert!(roomy.by_key.capacity() >= 5 * ROOM);
    remove_where(&mut roomy, |_| true);
    roomy.shrink_if_sparse();
    let (slots, by_key, by_id) = capacities(&roomy);
    assert!(slots >= ROOM && by_key >= ROOM && by_id >= ROOM);
    assert!(by_key < 5 * ROOM, "memory above the room is given back");
}

/// A purge in steps, as the store runs it (look at a step's slots, then remove what was
/// found), removes exactly what one pass removes, even with sessions added and removed
/// between the steps as requests would: no slot still to look at moves out of reach.
#[test]
fn a_purge_in_steps_misses_nothing_while_the_table_changes() {
    let fill = || {
        let mut table = Table::default();
        for n in 0..10_000u64 {
            let user = (n % 3 == 0).then(|| format!("user-{}", n % 7));
            assert!(table.insert(key(n), entry(n, user.as_deref())).is_ok());
        }
        table
    };
    // `entry(n, _)` ends `n % 7` seconds after it is made: a purge at 3.5 s takes n % 7 in
    // 0..=3, half a second away from any deadline of both fills.
    let later = Millis::from_system(SystemTime::now() + Duration::from_millis(3_500));
    let doomed = |e: &Entry| e.deadline() <= later;

    let mut whole = fill();
    let removed = remove_where(&mut whole, doomed);
    assert!(removed > 4_000 && removed < 7_000, "{removed}");

    let mut stepped = fill();
    let (mut total, mut end, mut steps) = (0, usize::MAX, 0);
    let (mut added, mut gone) = (10_000u64, 0u64);
    loop {
        let (keys, next) = stepped.doomed_below(end, 1_000, doomed);
        for key in &keys {
            total += u64::from(stepped.remove(key).is_some());
        }
        steps += 1;
        // Requests meanwhile: ten new sessions that outlive the purge (n % 7 == 6), and five
        // sessions ended by their users, all of them live ones (n % 7 == 5).
        for _ in 0..10 {
            added += 7 - added % 7 + 6;
            assert!(stepped.insert(key(added), entry(added, None)).is_ok());
        }
        for _ in 0..5 {
            gone += 7 - gone % 7 + 5;
            stepped.remove(&key(gone));
        }
        match next {
            Some(at) => end = at,
            None => break,
        }
    }
    assert_eq!(total, removed, "the steps remove what one pass removes");
    assert_eq!(steps, 10, "one step per 1,000 of the 10,000 slots");
    assert!(
        stepped.entries().all(|e| !doomed(e)),
        "no expired session is left"
    );
    assert_eq!(
        stepped.len() as u64,
        whole.len() as u64 + 10 * steps - 5 * steps
    );
    assert_consistent(&stepped);
}
