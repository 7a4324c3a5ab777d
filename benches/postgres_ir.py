#!/usr/bin/env python3
"""Instructions per `/r` through the PostgreSQL store against the store's own `SELECT` sent bare,
on a plain connection and through a sqlx pool, counted by callgrind in the client process (see
postgres_ir.rs).

Usage: cargo bench -p sessionward-bench --bench postgres_ir --no-run, then
       python3 benches/postgres_ir.py [N]   (N requests per case, default 1000; needs PostgreSQL)
"""

import sys

from callgrind_counts import bench_binary, per_request

STACKS = [("bare-select", "the store's `SELECT`, on a plain connection"),
          ("pool-select", "the same, through a sqlx pool (a ping as each connection is given back)"),
          ("postgres", "`/r` through sessionward's `PostgresStore`")]


def main():
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 1000
    exe = bench_binary("postgres_ir")
    print("| request | instructions |")
    print("|---|---:|")
    for stack, what in STACKS:
        print(f"| {what} | {per_request(n, exe, stack):,.0f} |")
    print(f"\nInstructions of the client process per request, counted by callgrind, {n} "
          "requests per case after 50 to warm up; `python3 benches/postgres_ir.py`.")


if __name__ == "__main__":
    main()
