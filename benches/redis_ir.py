#!/usr/bin/env python3
"""Instructions per request through the Redis store, with and without its near cache, counted
by callgrind in the client process (see redis_ir.rs), and the ratio near / without.

Usage: cargo bench -p sessionward-bench --bench redis_ir --no-run, then
       python3 benches/redis_ir.py [N]   (N requests per case, default 2000; needs Redis)
"""

import os
import subprocess
import sys

from callgrind_counts import bench_binary, per_request

ROUTES = ["r", "rw", "new"]
STACKS = ["redis", "redis-near"]


def delete_keys():
    url = os.environ.get("SESSIONWARD_TEST_REDIS", "redis://127.0.0.1:6379")
    keys = subprocess.run(["redis-cli", "-u", url, "--scan", "--pattern", "swir:*"],
                          capture_output=True, text=True, check=True).stdout.split()
    for at in range(0, len(keys), 500):
        subprocess.run(["redis-cli", "-u", url, "DEL", *keys[at:at + 500]],
                       capture_output=True, check=True)


def main():
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 2000
    exe = bench_binary("redis_ir")
    per = {}
    try:
        for route in ROUTES:
            for stack in STACKS:
                per[(stack, route)] = per_request(n, exe, stack, route)
    finally:
        delete_keys()
    print("| route | without near cache | near cache | near / without |")
    print("|---|---:|---:|---:|")
    for route in ROUTES:
        without, near = per[("redis", route)], per[("redis-near", route)]
        print(f"| `/{route}` | {without:,.0f} | {near:,.0f} | {near / without:.2f} |")
    print(f"\nInstructions of the client process per request, counted by callgrind, {n} "
          "requests per case after 50 to warm up; `python3 benches/redis_ir.py`.")


if __name__ == "__main__":
    main()
