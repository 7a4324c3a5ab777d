//! What a fault under load must leave behind, checked once the load has stopped and the store
//! is back, and the counts line each trial prints.
//!
//! "No write that was answered 2xx is lost" is, per client (one request at a time, `seq`
//! increasing): the `seq` its session holds at the end is at least the last one a 2xx
//! acknowledged, and at most the last one it sent. A write answered 503 is in doubt (its
//! command may have reached the server before the connection went, or, with a store timeout,
//! be applied after the 503), so a value above the last acknowledged one is allowed; one below
//! it is a lost write. Every read answered 2xx during the run is held to the same rule.

use std::time::{Duration, Instant};

use serde_json::{json, Value};

use super::load::{Answer, ClientEnd, Kind};
use crate::common::{Server, WithSession};

/// When the fault began and ended, and what cut a stuck store call.
pub struct Timeline {
    pub fault_at: Instant,
    pub back_at: Instant,
    /// The layer's store timeout, when the fault is a stall: every 503 sent during it must
    /// come after about this long.
    pub store_timeout: Option<Duration>,
}

/// How late past the store timeout a 503 during a stall may come: the request's own time on
/// a loaded 2-core machine. Below the Redis store's own 2 s response timeout, so the 503s are
/// the layer's.
const TIMEOUT_SLACK: Duration = Duration::from_millis(700);

/// The counts of one trial.
#[derive(Debug, Default)]
struct Counts {
    requests: usize,
    ok: usize,
    unavailable: usize,
    other: usize,
    lost_writes: usize,
    sessions_lost: usize,
    resurrected: usize,
}

/// Checks the run and prints its counts; `retired` are sessions logged out before the fault.
pub async fn verdict(
    trial: &str,
    server: &Server,
    answers: &[Answer],
    ends: &[ClientEnd],
    retired: &[String],
    t: &Timeline,
) {
    let mut counts = Counts {
        requests: answers.len(),
        ..Counts::default()
    };
    for answer in answers {
        match answer.kind {
            Kind::Ok => counts.ok += 1,
            Kind::Unavailable => counts.unavailable += 1,
            Kind::Other => counts.other += 1,
        }
    }
    let mut problems = Vec::new();

    // The state each session is left in.
    for end in ends {
        let (me, _) = get(server, "/api/me", &end.token).await;
        let (_, prefs) = get(server, "/api/prefs", &end.token).await;
        if end.leaves {
            if !end.logged_out {
                problems.push(format!("client {}: its logout never got a 2xx", end.id));
            }
            if me != 401 || prefs != json!({}) {
                counts.resurrected += 1;
                problems.push(format!(
                    "client {}: logged out once the store was back, yet /api/me is {me} and its prefs {prefs}",
                    end.id
                ));
            }
            continue;
        }
        if me != 200 {
            counts.sessions_lost += 1;
            problems.push(format!(
                "client {}: its session is gone (/api/me {me})",
                end.id
            ));
            continue;
        }
        let held = prefs["seq"].as_u64().unwrap_or(0);
        if held < end.acked {
            counts.lost_writes += 1;
            problems.push(format!(
                "client {}: holds seq {held}, but seq {} was acknowledged",
                end.id, end.acked
            ));
        }
        if held > end.attempted {
            problems.push(format!(
                "client {}: holds seq {held}, never sent (last sent {})",
                end.id, end.attempted
            ));
        }
        counts.lost_writes += end.regressions.len();
        for regression in &end.regressions {
            problems.push(format!("client {}: {regression}", end.id));
        }
    }
    for token in retired {
        let (me, _) = get(server, "/api/me", token).await;
        let (_, prefs) = get(server, "/api/prefs", token).await;
        if me != 401 || prefs != json!({}) {
            counts.resurrected += 1;
            problems.push(format!(
                "a session logged out before the fault came back: /api/me {me}, prefs {prefs}"
            ));
        }
    }

    // Which answers came when.
    for answer in answers.iter().filter(|a| a.kind == Kind::Other).take(5) {
        problems.push(format!("client {}: {}", answer.client, answer.note));
    }
    let early = answers
        .iter()
        .filter(|a| a.answered() < t.fault_at && a.kind != Kind::Ok)
        .count();
    if early > 0 {
        problems.push(format!("{early} answers before the fault were not 2xx"));
    }
    let recovered_at = recovered_at(answers, t.back_at, ends.len());
    let outage = t.back_at - t.fault_at;
    let recovery = recovered_at.map(|at| at - t.back_at);
    let during = |a: &&Answer| a.sent >= t.fault_at && a.answered() < t.back_at;
    let slowest_503 = answers
        .iter()
        .filter(during)
        .filter(|a| a.kind == Kind::Unavailable)
        .map(|a| a.took)
        .max();
    let mut timed = String::new();
    if let Some(timeout) = t.store_timeout {
        let cut: Vec<Duration> = answers
            .iter()
            .filter(during)
            .filter(|a| a.kind == Kind::Unavailable)
            .map(|a| a.took)
            .collect();
        let fastest = cut.iter().min().copied().unwrap_or_default();
        let slowest = cut.iter().max().copied().unwrap_or_default();
        timed = format!(
            ", stalled requests cut after {}-{} ms (store timeout {} ms)",
            fastest.as_millis(),
            slowest.as_millis(),
            timeout.as_millis()
        );
        if cut.is_empty() {
            problems.push("no request was answered 503 during the stall".to_owned());
        }
        if fastest < timeout && !cut.is_empty() {
            problems.push(format!("a 503 during the stall came after {fastest:?}, before the {timeout:?} timeout: not the timeout's"));
        }
        if slowest > timeout + TIMEOUT_SLACK {
            problems.push(format!(
                "a 503 during the stall took {slowest:?}: more than the {timeout:?} timeout and {TIMEOUT_SLACK:?} of slack"
            ));
        }
        // No request sent during the stall waited for the stall's end.
        let held = answers
            .iter()
            .filter(|a| a.sent >= t.fault_at && a.sent + timeout + TIMEOUT_SLACK < t.back_at)
            .filter(|a| a.answered() >= t.back_at)
            .count();
        if held > 0 {
            problems.push(format!(
                "{held} requests sent during the stall were held until it ended"
            ));
        }
    }

    println!(
        "fault_load {trial}: requests {}, 2xx {}, 503 {}, other {}, lost writes {}, sessions lost {}, resurrected {}; outage {} ms, recovery {}, slowest 503 during the outage {} ms{timed}",
        counts.requests,
        counts.ok,
        counts.unavailable,
        counts.other,
        counts.lost_writes,
        counts.sessions_lost,
        counts.resurrected,
        outage.as_millis(),
        recovery.map_or("never".to_owned(), |r| format!("{} ms", r.as_millis())),
        slowest_503.unwrap_or_default().as_millis(),
    );
    assert!(
        recovery.is_some(),
        "{trial}: not every client got a 2xx after the store came back"
    );
    assert!(
        counts.unavailable > 0,
        "{trial}: no request was answered 503: the fault was not felt"
    );
    assert!(problems.is_empty(), "{trial}:\n  {}", problems.join("\n  "));
    assert_eq!(counts.other, 0);
    assert_eq!(counts.lost_writes, 0);
    assert_eq!(counts.sessions_lost, 0);
    assert_eq!(counts.resurrected, 0);
}

/// When every client had a 2xx answer to a request sent after `back_at`: the latest of their
/// first such answers.
fn recovered_at(answers: &[Answer], back_at: Instant, clients: usize) -> Option<Instant> {
    let mut first = vec![None::<Instant>; clients];
    for answer in answers
        .iter()
        .filter(|a| a.sent >= back_at && a.kind == Kind::Ok)
    {
        let at = &mut first[answer.client];
        *at = Some(at.map_or(answer.answered(), |t| t.min(answer.answered())));
    }
    first
        .into_iter()
        .try_fold(back_at, |latest, at| Some(latest.max(at?)))
}

/// A GET with `token`'s session: its status and JSON body (`Null` without one).
async fn get(server: &Server, path: &str, token: &str) -> (u16, Value) {
    let res = server.get(path).session(token).send().await.unwrap();
    let status = res.status().as_u16();
    (status, res.json().await.unwrap_or(Value::Null))
}
