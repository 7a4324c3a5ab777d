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

from criterion_results import criterion_dir, estimates, median_ns

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


def paired_table(base, stores, what, intro):
    """The medians and quartiles saved as `<store>/<what>/<route>`, if any were."""
    paired = [(store, route, est) for store in stores for route in ROUTES
              if (est := estimates(base, store, what, route)) is not None]
    if not paired:
        return
    print()
    print(intro)
    print()
    print("| store | route | added µs, median | 25th–75th percentile µs |")
    print("|---|---|---:|---:|")
    for store, route, est in paired:
        print(f"| {store} | `/{route}` | {est['median']['point_estimate'] / 1000:.1f} "
              f"| {est['p25'] / 1000:.1f} – {est['p75'] / 1000:.1f} |")


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
    # The floors: a bare read and a bare write on each network server (benches/stores.rs), and
    # what each route's round trips amount to in them.
    floors = {"redis": (("HGETALL", "`HGETALL`"), ("HSET+PEXPIRE", "`HSET` + `PEXPIRE`"),
                        ("create-pipeline", "`SET NX` + `HSET` + `PEXPIRE`")),
              "postgres": (("SELECT", "`SELECT`"), ("UPDATE", "`UPDATE`"), ("INSERT", "`INSERT`")),
              "mysql": (("SELECT", "`SELECT`"), ("UPDATE", "`UPDATE`"), ("INSERT", "`INSERT`"))}
    route_floors = {"r": ("read",), "rw": ("read", "write"), "new": ("create",)}
    rows = []
    for store, kinds in floors.items():
        measured = {kind: (median_ns(base, store, "round-trip", bench_id), name)
                    for kind, (bench_id, name) in zip(("read", "write", "create"), kinds)}
        for route, parts in route_floors.items():
            sw = median_ns(base, store, route, "sessionward")
            ns = [measured[p][0] for p in parts]
            if sw is None or None in ns:
                continue
            rows.append((store, route, " + ".join(measured[p][1] for p in parts), sum(ns), sw))
    if rows:
        print()
        print("What sessionward adds beyond its round trips to the server: the request's median "
              "time minus the medians of the store's own commands for those round trips, sent "
              "bare (`/r` its read of the session, `/rw` that read and an update of the "
              "session's data, `/new` the creation of a session), each through a connection "
              "that does not ping first, same run. On SQL these are the store's `SELECT` by "
              "token hash, a one-row `UPDATE` of the data and the store's `INSERT`; on Redis "
              "`HGETALL` of the record, and the commands the store's scripts run, pipelined. "
              f"Target ≤ {ADDED_TARGET_US} µs:")
        print()
        print("| store | route | floor | floor µs | sessionward µs | added µs |")
        print("|---|---|---|---:|---:|---:|")
        for store, route, floor_name, floor, sw in rows:
            print(f"| {store} | `/{route}` | {floor_name} | {floor / 1000:.1f} | {sw / 1000:.1f} "
                  f"| {(sw - floor) / 1000:.1f} |")
    paired_table(base, floors, "added",
                 "The same, measured pair by pair: each request, then the bare commands of its "
                 "round trips, back to back, 2,000 pairs per route, so that the machine's slow and "
                 "fast phases fall on both alike (`<store>/added/<route>`). Median and quartiles of "
                 f"the differences; target ≤ {ADDED_TARGET_US} µs:")
    paired_table(base, floors, "added-over-axum",
                 "The same pairs against bare axum sending those commands from its handlers "
                 "(`<store>/added-over-axum/<route>`): what the session layer and the store's code "
                 "cost alone, without axum's own share or the bench's request and response:")
    paired_table(base, floors, "axum-over-commands",
                 "And bare axum sending those commands from its handlers against the commands "
                 "sent bare (`<store>/axum-over-commands/<route>`): axum's own share of the first "
                 "pairs' figure, the bench's request and response included, which no session layer "
                 f"can take back. Where it nears {ADDED_TARGET_US} µs, the target is out of reach "
                 "in that phase of the machine whatever the layer costs:")
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
