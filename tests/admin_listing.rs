//! The demo's `GET /admin/sessions` (docs/demo-http.md, "Admin API"): sessions by state and
//! user, one page at a time, as JSON and as CSV that a spreadsheet opens safely; never a token.

mod common;

mod admin_support;
#[allow(dead_code)] // the demo's `main` is not used here
#[path = "../examples/demo/main.rs"]
mod demo;

use std::collections::BTreeSet;
use std::time::Duration;

use admin_support::{demo_server, expire, ids, insert, list, login};
use common::{header, WithSession};
use serde_json::Value;
use sessionward::store::MemoryStore;

const COLUMNS: [&str; 11] = [
    "id",
    "user",
    "state",
    "created_at",
    "last_seen_at",
    "expires_at",
    "idle_expires_at",
    "user_agent",
    "ip",
    "ended_at",
    "end_reason",
];

#[tokio::test]
async fn lists_by_state_and_user_newest_first() {
    let store = MemoryStore::default();
    let server = demo_server(store.clone(), None).await;
    let admin = login(&server, "admin").await;
    let (_, gone) = insert(&store, Some("alice"), Duration::from_secs(7200), expire).await;
    let (_, old) = insert(&store, Some("alice"), Duration::from_secs(3600), |_| {}).await;
    let (_, anonymous) = insert(&store, None, Duration::from_secs(1800), |_| {}).await;
    let (_, bobs) = insert(&store, Some("bob"), Duration::from_secs(600), |_| {}).await;
    let admins = admin_support::session_id(&server, &admin).await;

    let active = list(&server, &admin, "").await;
    assert_eq!(
        ids(&active),
        [
            admins.clone(),
            bobs.id.to_string(),
            anonymous.id.to_string(),
            old.id.to_string()
        ],
        "active by default, newest first, anonymous sessions included"
    );
    let row = &active["sessions"][1];
    assert_eq!(
        row.as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect::<BTreeSet<_>>(),
        COLUMNS.into_iter().collect::<BTreeSet<_>>()
    );
    assert_eq!(row["user"], "bob");
    assert_eq!(row["state"], "active");
    assert_eq!(row["user_agent"], "conformance/1.0");
    assert_eq!(row["ip"], "127.0.0.1");
    assert_eq!(active["sessions"][2]["user"], Value::Null);

    let expired = list(&server, &admin, "state=expired").await;
    assert_eq!(ids(&expired), [gone.id.to_string()]);
    assert_eq!(expired["sessions"][0]["state"], "expired");
    let all = list(&server, &admin, "state=all&user=alice").await;
    assert_eq!(ids(&all), [old.id.to_string(), gone.id.to_string()]);
    let active_alice = list(&server, &admin, "state=active&user=alice").await;
    assert_eq!(ids(&active_alice), [old.id.to_string()]);
    assert!(ids(&list(&server, &admin, "user=nobody").await).is_empty());
    // Bytes that are not UTF-8 are read as U+FFFD, as form decoding does: no such user.
    assert!(ids(&list(&server, &admin, "user=%FF").await).is_empty());
    assert_eq!(
        ids(&list(&server, &admin, "user=").await).len(),
        4,
        "an empty user is no filter"
    );
}

#[tokio::test]
async fn pages_cover_every_session_once() {
    let store = MemoryStore::default();
    let server = demo_server(store.clone(), None).await;
    let admin = login(&server, "admin").await;
    for age in 1..=6 {
        insert(&store, Some("bob"), Duration::from_secs(age * 60), |_| {}).await;
    }
    let everyone = ids(&list(&server, &admin, "state=all").await);
    assert_eq!(everyone.len(), 7);
    let mut seen = Vec::new();
    let mut offset = Some(0);
    while let Some(at) = offset {
        let page = list(&server, &admin, &format!("state=all&limit=3&offset={at}")).await;
        assert_eq!(page["limit"], 3);
        assert_eq!(page["offset"], at);
        seen.extend(ids(&page));
        offset = page["next_offset"].as_u64();
    }
    assert_eq!(seen, everyone, "pages in order, no session twice or missed");
    let last = list(&server, &admin, "state=all&limit=3&offset=6").await;
    assert_eq!(last["next_offset"], Value::Null);
    let past = list(&server, &admin, "state=all&offset=100").await;
    assert!(ids(&past).is_empty());
}

#[tokio::test]
async fn a_bad_query_is_400() {
    let server = demo_server(MemoryStore::default(), None).await;
    let admin = login(&server, "admin").await;
    for query in [
        "state=gone",
        "format=xml",
        "limit=0",
        "limit=1001",
        "limit=ten",
        "offset=-1",
        "offset=99999999999999999999999",
    ] {
        let res = server
            .get(&format!("/admin/sessions?{query}"))
            .session(&admin)
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 400, "{query}");
        let body: Value = res.json().await.unwrap();
        assert_eq!(body["error"], "invalid_query", "{query}");
    }
}

/// The CSV export of `query`, parsed: the header row and the rows.
async fn csv_rows(
    server: &common::Server,
    admin: &str,
    query: &str,
) -> (Vec<String>, Vec<Vec<String>>) {
    let res = server
        .get(&format!("/admin/sessions?format=csv&{query}"))
        .session(admin)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(
        header(res.headers(), "content-type").as_deref(),
        Some("text/csv; charset=utf-8")
    );
    assert_eq!(
        header(res.headers(), "content-disposition").as_deref(),
        Some(r#"attachment; filename="sessions.csv""#)
    );
    let text = res.text().await.unwrap();
    let mut reader = csv::Reader::from_reader(text.as_bytes());
    let head = reader
        .headers()
        .unwrap()
        .iter()
        .map(str::to_owned)
        .collect();
    let rows = reader
        .records()
        .map(|r| r.unwrap().iter().map(str::to_owned).collect())
        .collect();
    (head, rows)
}

#[tokio::test]
async fn csv_export_matches_the_json_listing_and_quotes_what_it_must() {
    let store = MemoryStore::default();
    let server = demo_server(store.clone(), None).await;
    let admin = login(&server, "admin").await;
    let agent = "Mozilla, \"quoted\"\nsecond line";
    insert(&store, Some("alice"), Duration::from_secs(60), |r| {
        r.user_agent = Some(agent.to_owned());
    })
    .await;
    // A public id whose text starts with `-` (base64url of a first byte 0xF8).
    let mut dash = [0x5a_u8; 16];
    dash[0] = 0xf8;
    insert(&store, Some("bob"), Duration::from_secs(120), |r| {
        r.id = sessionward::SessionId(dash);
    })
    .await;
    assert!(sessionward::SessionId(dash).to_string().starts_with('-'));
    let (head, rows) = csv_rows(&server, &admin, "state=all").await;
    assert_eq!(head, COLUMNS);
    let json = list(&server, &admin, "state=all").await;
    assert_eq!(rows.len(), 3);
    for (row, object) in rows.iter().zip(json["sessions"].as_array().unwrap()) {
        for (cell, column) in row.iter().zip(COLUMNS) {
            let raw = object[column].as_str().unwrap_or("");
            // A cell a spreadsheet would read as a formula is made text with a leading `'`
            // (a public id may start with `-`); a spreadsheet shows it without the mark.
            let expected = match raw.as_bytes().first() {
                Some(b'=' | b'+' | b'-' | b'@' | b'\t' | b'\r') => format!("'{raw}"),
                _ => raw.to_owned(),
            };
            assert_eq!(*cell, expected, "{column}");
        }
    }
    assert!(
        rows.iter().any(|row| row[0].starts_with("'-")),
        "the id starting with - is made text: {rows:?}"
    );
    assert!(
        rows.iter().any(|row| row[7] == agent),
        "commas, quotes and line breaks survive quoting"
    );
    let (_, alices) = csv_rows(&server, &admin, "user=alice&limit=1").await;
    assert_eq!(alices.len(), 1);
}

#[tokio::test]
async fn csv_cells_that_a_spreadsheet_would_run_are_made_text() {
    let store = MemoryStore::default();
    let server = demo_server(store.clone(), None).await;
    let admin = login(&server, "admin").await;
    let hostile = [
        "=HYPERLINK(\"http://x\")",
        "+1+1",
        "-2+3",
        "@SUM(A1)",
        "\tcmd",
        "\r=1",
    ];
    for (age, agent) in hostile.iter().enumerate() {
        insert(
            &store,
            Some(agent),
            Duration::from_secs(60 + age as u64),
            |r| {
                r.user_agent = Some((*agent).to_owned());
            },
        )
        .await;
    }
    let (_, rows) = csv_rows(&server, &admin, "").await;
    for agent in hostile {
        let row = rows
            .iter()
            .find(|row| row[7] == format!("'{agent}"))
            .unwrap_or_else(|| panic!("{agent:?} not neutralised: {rows:?}"));
        assert_eq!(row[1], format!("'{agent}"), "the user cell too");
    }
    // JSON is not a spreadsheet: it carries the values as they are.
    let json = list(&server, &admin, "").await;
    let agents: Vec<&str> = json["sessions"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|s| s["user_agent"].as_str())
        .collect();
    for agent in hostile {
        assert!(agents.contains(&agent), "{agent:?}");
    }
}

#[tokio::test]
async fn no_listing_or_export_holds_a_token_or_its_hash() {
    let store = MemoryStore::default();
    let server = demo_server(store.clone(), None).await;
    let admin = login(&server, "admin").await;
    let mut tokens = vec![admin.clone()];
    for user in ["alice", "alice", "bob"] {
        tokens.push(login(&server, user).await);
    }
    let mut bodies = Vec::new();
    for query in ["state=all", "state=all&format=csv", "user=alice&format=csv"] {
        let res = server
            .get(&format!("/admin/sessions?{query}"))
            .session(&admin)
            .send()
            .await
            .unwrap();
        bodies.push(res.text().await.unwrap());
    }
    let stats = server
        .get("/admin/stats")
        .session(&admin)
        .send()
        .await
        .unwrap();
    bodies.push(stats.text().await.unwrap());
    for token in &tokens {
        let hash = common::opaque_token(token).hash().to_hex();
        for body in &bodies {
            assert!(!body.contains(token.as_str()), "a token in {body}");
            assert!(!body.contains(&hash), "a token hash in {body}");
        }
    }
    // The data a session holds is not listed either (the inserted sample has a "theme").
    insert(&store, Some("bob"), Duration::from_secs(1), |_| {}).await;
    let json = list(&server, &admin, "").await.to_string();
    assert!(!json.contains("dark"), "{json}");
}

#[tokio::test]
async fn ended_sessions_are_listed_with_their_reason_when_the_store_keeps_them() {
    let store = MemoryStore::default().with_retention(Duration::from_secs(3600));
    let server = demo_server(store.clone(), None).await;
    let admin = login(&server, "admin").await;
    let alice = login(&server, "alice").await;
    let alices = admin_support::session_id(&server, &alice).await;
    let res = server.post("/logout").session(&alice).send().await.unwrap();
    assert_eq!(res.status(), 204);
    let bob = login(&server, "bob").await;
    let bobs = admin_support::session_id(&server, &bob).await;
    let res = admin_support::admin_post(
        &server,
        &admin,
        &format!("/admin/sessions/{bobs}/revoke"),
        serde_json::json!({}),
    )
    .await;
    assert_eq!(res.status(), 204);

    let ended = list(&server, &admin, "state=expired").await;
    let reason_of = |id: &str| {
        let row = ended["sessions"]
            .as_array()
            .unwrap()
            .iter()
            .find(|row| row["id"] == id)
            .unwrap_or_else(|| panic!("{id} listed: {ended}"));
        assert_eq!(row["state"], "expired");
        assert!(row["ended_at"].as_str().is_some_and(|t| t.ends_with('Z')));
        row["end_reason"].as_str().unwrap().to_owned()
    };
    assert_eq!(reason_of(&alices), "logged_out");
    assert_eq!(reason_of(&bobs), "revoked");
    // Active listings never show them, and their tokens stay dead.
    let active = list(&server, &admin, "").await;
    assert!(!ids(&active).contains(&alices) && !ids(&active).contains(&bobs));
    assert!(!admin_support::signed_in(&server, &bob).await);
    let row = &list(&server, &admin, "").await["sessions"][0];
    assert_eq!(
        row["end_reason"],
        serde_json::Value::Null,
        "empty while active"
    );
}
