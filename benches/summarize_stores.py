#!/usr/bin/env python3
"""Markdown table of `cargo bench -p sessionward-bench --bench stores`: sessionward against tower-sessions, per store.

Usage: python3 benches/summarize_stores.py [CRITERION_DIR]

CRITERION_DIR defaults to $CARGO_TARGET_DIR/criterion, else target/criterion next to this
script's crate. Reads <dir>/<store>/<route>/<stack>/new/estimates.json (median.point_estimate, in
ns: the median resists the bursts of a shared machine better than the mean, as in
summarize.py), so it reports the latest run of each benchmark. Requests per second are
1e9 / median ns: the
bench sends one request at a time from a single in-process client, so this is the inverse of
the median latency, not a server's throughput under concurrent load (see benches/redis_load.rs
for that, on Redis).

Exits 1 if a benchmark of the table is missing (a store skipped, or the bench not run).
"""

import sys

from criterion_results import criterion_dir, median_ns

STORES = ["redis", "postgres", "mysql", "sqlite"]
ROUTES = ["r", "rw", "new"]
STACKS = ["sessionward", "tower-sessions"]
TARGET = 1.2
# The near-cache stack (`sessionward-near`, Redis only) and its targets.
NEAR_BOUND_MS = 100
NEAR_TARGET = 10.0
ADDED_TARGET_US = 5
# Round trips to Redis per request, the same for both stacks (see tests/round_trips.rs).
ROUND_TRIPS = {"r": 1, "rw": 2, "new": 1}
COMMAND = "cargo bench -p sessionward-bench --bench stores && python3 benches/summarize_stores.py"


def rate(ns):
    return "(not measured)" if ns is None else f"{1e9 / ns:,.0f}"


def main():
    base = criterion_dir()
    print("| store | route | sessionward req/s | tower-sessions req/s "
          "| ratio (sessionward ÷ tower-sessions) |")
    print("|---|---|---:|---:|---:|")
    missing = False
    for store in STORES:
        for route in ROUTES:
            sw, ts = (median_ns(base, store, route, s) for s in STACKS)
            if sw is None or ts is None:
                missing = True
            if sw is None or ts is None:
                ratio = "n/a"
            else:
                r = ts / sw  # (1e9 / sw) / (1e9 / ts)
                ratio = f"**{r:.2f}×**" if r >= TARGET else f"{r:.2f}× (below {TARGET}×)"
            print(f"| {store} | `/{route}` | {rate(sw)} | {rate(ts)} | {ratio} |")
    ping = median_ns(base, "redis", "round-trip", "PING")
    if ping is not None:
        print()
        print(f"A bare Redis `PING` through redis-rs took {ping / 1000:.1f} µs in the same run. "
              "Both stacks make the same round trips (`/r` one, `/rw` two, `/new` one), so even "
              "a stack that cost nothing but its round trips would reach at most:")
        print()
        print("| route | tower-sessions µs | round trips | best possible ratio |")
        print("|---|---:|---:|---:|")
        for route, trips in ROUND_TRIPS.items():
            ts = median_ns(base, "redis", route, "tower-sessions")
            if ts is not None:
                print(f"| `/{route}` | {ts / 1000:.1f} | {trips} | {ts / (trips * ping):.2f}× |")
    floors = {"redis": ("PING", "a bare `PING`"), "postgres": ("SELECT1", "a bare `SELECT 1`"),
              "mysql": ("SELECT1", "a bare `SELECT 1`")}
    rows = []
    for store, (floor_id, floor_name) in floors.items():
        floor = median_ns(base, store, "round-trip", floor_id)
        sw = median_ns(base, store, "r", "sessionward")
        if floor is not None and sw is not None:
            rows.append((store, floor_name, floor, sw))
    if rows:
        print()
        print("What sessionward adds to `/r` beyond its one round trip to the server: the "
              "request's median time minus the median of a bare query through a connection "
              f"that does not ping first, same run (target ≤ {ADDED_TARGET_US} µs; `/rw` and "
              "`/new` also wait for the server's write and commit, which a bare read does not "
              "measure):")
        print()
        print("| store | floor | floor µs | sessionward `/r` µs | added µs |")
        print("|---|---|---:|---:|---:|")
        for store, floor_name, floor, sw in rows:
            print(f"| {store} | {floor_name} | {floor / 1000:.1f} | {sw / 1000:.1f} "
                  f"| {(sw - floor) / 1000:.1f} |")
    near = {route: median_ns(base, "redis", route, "sessionward-near") for route in ROUTES}
    if any(v is not None for v in near.values()):
        print()
        print(f"Redis with sessionward's near cache (`RedisStore::with_near_cache`, bound "
              f"{NEAR_BOUND_MS} ms), same run. Targets: `/r` at least {NEAR_TARGET:.0f}× "
              "tower-sessions' requests per second; `/rw` and `/new` no slower than sessionward "
              "without the cache:")
        print()
        print("| route | near cache req/s | without req/s | tower-sessions req/s "
              "| ÷ without | ÷ tower-sessions |")
        print("|---|---:|---:|---:|---:|---:|")
        for route in ROUTES:
            nc = near[route]
            sw, ts = (median_ns(base, "redis", route, s) for s in STACKS)
            if nc is None or sw is None or ts is None:
                missing = True
                continue
            print(f"| `/{route}` | {rate(nc)} | {rate(sw)} | {rate(ts)} "
                  f"| {sw / nc:.2f}× | {ts / nc:.2f}× |")
    print()
    print("Requests per second = 1e9 / criterion's median time per request (`median.point_estimate`): "
          "one in-process client sending one request at a time through `Router::oneshot` on a "
          "tokio current-thread runtime, so it is the inverse of the median latency, store round "
          f"trips included. Target: ratio ≥ {TARGET}. tower-sessions 0.14 with "
          "tower-sessions-redis-store 0.16 and tower-sessions-sqlx-store 0.15 (the newest "
          "versions of those stores). Command: `" + COMMAND + "`.")
    return 1 if missing else 0


if __name__ == "__main__":
    sys.exit(main())
