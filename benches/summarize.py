#!/usr/bin/env python3
"""Markdown table of `cargo bench -p sessionward-bench --bench requests`: the cost each session layer adds to bare axum.

Usage: python3 benches/summarize.py [CRITERION_DIR]

CRITERION_DIR defaults to $CARGO_TARGET_DIR/criterion, else target/criterion next to this
script's crate. Reads <dir>/<route>/<stack>/new/estimates.json (median.point_estimate, in ns:
the median resists the bursts of a shared machine better than the mean),
so it reports the latest run of each benchmark.
"""

import sys

import json
import os

from criterion_results import criterion_dir, median_ns

ROUTES = ["r", "rw", "new"]
STACKS = ["bare", "sessionward", "tower-sessions"]
# Measured in the same run: sessionward with the audit trail (tracing sink) and a per-user cap,
# and the same with a sink that keeps every event (JSON lines).
EXTRA = "sessionward-audit-cap"
ALL = "sessionward-audit-all"


def main():
    base = criterion_dir()
    print("| route | bare axum ns | sessionward ns (added) | tower-sessions ns (added) "
          "| added cost, sessionward / tower-sessions |")
    print("|---|---:|---:|---:|---:|")
    missing = False
    for route in ROUTES:
        bare, sw, ts = (median_ns(base, route, s) for s in STACKS)
        if None in (bare, sw, ts):
            missing = True
            print(f"| `/{route}` | (not measured) | | | |")
            continue
        sw_added, ts_added = sw - bare, ts - bare
        ratio = f"{sw_added / ts_added:.2f}" if ts_added > 0 else "n/a"
        print(f"| `/{route}` | {bare:,.0f} | {sw:,.0f} (+{sw_added:,.0f}) "
              f"| {ts:,.0f} (+{ts_added:,.0f}) | {ratio} |")
    print()
    for stack, title in ((EXTRA, "with audit + cap"), (ALL, "with every audit event + cap")):
        print(f"| route | sessionward {title} ns (added) | added cost, it / tower-sessions |")
        print("|---|---:|---:|")
        for route in ROUTES:
            bare, extra, ts = (median_ns(base, route, s) for s in ("bare", stack, "tower-sessions"))
            if None in (bare, extra, ts):
                print(f"| `/{route}` | (not measured) | |")
                continue
            added, ts_added = extra - bare, ts - bare
            ratio = f"{added / ts_added:.2f}" if ts_added > 0 else "n/a"
            print(f"| `/{route}` | {extra:,.0f} (+{added:,.0f}) | {ratio} |")
        print()
    print("Median time per request (criterion `median.point_estimate`), in-process through "
          "`Router::oneshot` on a tokio current-thread runtime; `cargo bench -p sessionward-bench --bench requests`.")
    print()
    missing |= interleaved(base)
    return 1 if missing else 0


def interleaved(base):
    """The table of the stacks taking turns (`interleaved/<route>/estimates.json`); True when a
    route is missing."""
    print("| route | bare ns | sessionward ns | with audit + cap ns | with every audit event ns "
          "| tower-sessions ns | ratio, sessionward (IQR) | ratio, with audit + cap (IQR) "
          "| ratio, with every audit event (IQR) |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    missing = False
    rounds = None
    for route in ROUTES:
        try:
            with open(os.path.join(base, "interleaved", route, "estimates.json")) as f:
                r = json.load(f)
        except FileNotFoundError:
            missing = True
            print(f"| `/{route}` | (not measured) | | | | | | | |")
            continue
        rounds = r["rounds"] if rounds is None else rounds
        m = r["median_ns"]
        stacks = ("bare", "sessionward", EXTRA, ALL, "tower-sessions")
        cells = [f"{m[s]:,.0f}" if s in m else "–" for s in stacks]
        for stack in ("sessionward", EXTRA, ALL):
            q = r["ratio"].get(stack)
            if q is None:
                cells.append("–")
                continue
            cells.append(f"{q['median']:.2f} ({q['p25']:.2f}–{q['p75']:.2f})")
        print(f"| `/{route}` | " + " | ".join(cells) + " |")
    print()
    print("The stacks taking turns, a short batch each per round; times are medians over the "
          "rounds, and a ratio is the median over the rounds of the round's added cost over bare "
          "axum divided by tower-sessions' (interquartile range in brackets).")
    return missing


if __name__ == "__main__":
    sys.exit(main())
