//! Stacks measured in turns: a short batch of requests on each stack, round after round, so
//! that every stack sees the same moments of a shared machine.
//!
//! Criterion measures one stack for seconds, then the next; when the machine slows down or
//! speeds up in between (another tenant, a build on the other core), the ratio of two stacks'
//! added costs moves with it: runs of the same code gave 0.37 to 0.76 on `/new` within minutes.
//! Here each round times one batch per stack back to back (well under a millisecond each), so a
//! round's ratio compares stacks measured under the same conditions, and the median over the
//! rounds resists the rounds a burst spoiled.

use std::hint::black_box;
use std::time::Instant;

use axum::http::{HeaderValue, StatusCode};
use axum::Router;

use crate::{criterion_dir, quartiles, send};

/// One stack taking its turns.
pub struct Contender {
    /// Its name in the results.
    pub name: &'static str,
    /// The router it serves the requests with.
    pub app: Router,
    /// The session cookie to send (`/r`, `/rw`), or none (`/new`, and bare axum).
    pub cookie: Option<HeaderValue>,
}

/// Each contender's time per request in each round, in ns (`times[contender][round]`).
pub struct Turns {
    /// The contenders' names, in their order.
    pub names: Vec<&'static str>,
    /// Per contender, its time per request in each round.
    pub times: Vec<Vec<f64>>,
}

/// Runs `rounds` rounds of `batch` requests to `path` on every contender. The order turns by
/// one place each round, so that every contender follows every other as often: the one before
/// leaves the caches warm or cold for the next.
pub async fn take_turns(
    contenders: &[Contender],
    path: &str,
    rounds: usize,
    batch: usize,
) -> Turns {
    let n = contenders.len();
    let mut times = vec![Vec::with_capacity(rounds); n];
    for round in 0..rounds {
        for k in 0..n {
            let at = (round + k) % n;
            let c = &contenders[at];
            let start = Instant::now();
            for _ in 0..batch {
                let (status, cookie, body) = send(&c.app, path, c.cookie.as_ref()).await;
                debug_assert_eq!(status, StatusCode::OK);
                black_box((cookie, body));
            }
            times[at].push(start.elapsed().as_nanos() as f64 / batch as f64);
        }
    }
    Turns {
        names: contenders.iter().map(|c| c.name).collect(),
        times,
    }
}

impl Turns {
    fn of(&self, name: &str) -> &[f64] {
        let at = self.names.iter().position(|n| *n == name);
        at.map(|i| &self.times[i][..]).unwrap_or_default()
    }

    /// Per round, the added cost of `stack` over `base`, divided by that of `peer` over `base`.
    fn ratios(&self, stack: &str, peer: &str, base: &str) -> Vec<f64> {
        let (s, p, b) = (self.of(stack), self.of(peer), self.of(base));
        s.iter()
            .zip(p)
            .zip(b)
            .map(|((s, p), b)| (s - b) / (p - b))
            .collect()
    }

    /// Saves each contender's median time per request and, for each of `stacks`, the
    /// quartiles of its per-round ratio to `peer` over `base`, as
    /// `<target>/criterion/interleaved/<route>/estimates.json` (read by `summarize.py`).
    pub fn save(&self, route: &str, stacks: &[&str], peer: &str, base: &str) {
        let mut medians = serde_json::Map::new();
        for (name, times) in self.names.iter().zip(&self.times) {
            let [_, median, _] = quartiles(&mut times.clone());
            medians.insert((*name).to_owned(), median.into());
        }
        let mut ratios = serde_json::Map::new();
        for stack in stacks {
            let [p25, median, p75] = quartiles(&mut self.ratios(stack, peer, base));
            ratios.insert(
                (*stack).to_owned(),
                serde_json::json!({ "p25": p25, "median": median, "p75": p75 }),
            );
        }
        let json = serde_json::json!({
            "rounds": self.times.first().map_or(0, Vec::len),
            "median_ns": medians,
            "ratio_to": peer,
            "over": base,
            "ratio": ratios,
        });
        let dir = criterion_dir()
            .expect("criterion's directory")
            .join("interleaved")
            .join(route);
        std::fs::create_dir_all(&dir).expect("creating the interleaved results' directory");
        std::fs::write(dir.join("estimates.json"), json.to_string())
            .expect("writing the interleaved results");
    }
}
