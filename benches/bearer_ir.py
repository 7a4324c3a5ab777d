#!/usr/bin/env python3
"""Instructions per request of the bearer benchmarks' cases, counted by callgrind, and the
targets of issue #18 checked on them.

Usage: cargo bench -p sessionward-bench --bench bearer_ir --no-run, then
       python3 benches/bearer_ir.py [N]   (N requests per case, default 2000)
"""

import sys

from callgrind_counts import bench_binary, per_request

CASES = ["bare-r", "cookie-r", "stateful-r", "stateless-r",
         "bare-who", "jsonwebtoken-who", "stateful-who", "stateless-who", "verify"]


def main():
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 2000
    exe = bench_binary("bearer_ir")
    per = {c: per_request(n, exe, c) for c in CASES}
    print("| case | instructions per request | added to bare axum |")
    print("|---|---:|---:|")
    for case in CASES:
        base = per["bare-r"] if case.endswith("-r") else per["bare-who"]
        added = "" if case == "verify" else f"{per[case] - base:+,.0f}"
        print(f"| {case} | {per[case]:,.0f} | {added} |")
    print()
    budget = per["cookie-r"] + per["verify"]
    print(f"- stateful bearer `/r` {per['stateful-r']:,.0f} vs cookie `/r` + verify {budget:,.0f}: "
          f"{'met' if per['stateful-r'] <= budget else 'NOT met'} "
          f"(ratio {per['stateful-r'] / budget:.2f})")
    print(f"- stateless bearer `/who` {per['stateless-who']:,.0f} vs jsonwebtoken layer "
          f"{per['jsonwebtoken-who']:,.0f}: "
          f"{'met' if per['stateless-who'] < per['jsonwebtoken-who'] else 'NOT met'} "
          f"(ratio {per['stateless-who'] / per['jsonwebtoken-who']:.2f})")
    print(f"\nInstructions counted by callgrind, {n} requests per case after 50 to warm up; "
          "`python3 benches/bearer_ir.py`.")


if __name__ == "__main__":
    main()
