#!/usr/bin/env python3
"""Instructions per request through the Redis store, with and without its near cache, counted
by callgrind in the client process (see redis_ir.rs), and the ratio near / without.

Usage: cargo bench -p sessionward-bench --bench redis_ir --no-run, then
       python3 benches/redis_ir.py [N]   (N requests per case, default 2000; needs Redis)
"""

import glob
import os
import re
import subprocess
import sys
import tempfile

ROUTES = ["r", "rw", "new"]
STACKS = ["redis", "redis-near"]


def binary():
    target = os.environ.get("CARGO_TARGET_DIR") or os.path.join(
        os.path.dirname(os.path.abspath(__file__)), "..", "target")
    found = [p for p in glob.glob(os.path.join(target, "release", "deps", "redis_ir-*"))
             if os.access(p, os.X_OK) and not p.endswith(".d")]
    if not found:
        sys.exit("build it first: cargo bench -p sessionward-bench --bench redis_ir --no-run")
    return max(found, key=os.path.getmtime)


def instructions(exe, stack, route, n):
    with tempfile.TemporaryDirectory() as tmp:
        out = subprocess.run(
            ["valgrind", "--tool=callgrind", f"--callgrind-out-file={tmp}/cg", exe, stack,
             route, str(n)],
            capture_output=True, text=True, check=True).stderr
    return int(re.search(r"Collected : (\d+)", out).group(1))


def delete_keys():
    url = os.environ.get("SESSIONWARD_TEST_REDIS", "redis://127.0.0.1:6379")
    keys = subprocess.run(["redis-cli", "-u", url, "--scan", "--pattern", "swir:*"],
                          capture_output=True, text=True, check=True).stdout.split()
    for at in range(0, len(keys), 500):
        subprocess.run(["redis-cli", "-u", url, "DEL", *keys[at:at + 500]],
                       capture_output=True, check=True)


def main():
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 2000
    exe = binary()
    per = {}
    try:
        for route in ROUTES:
            for stack in STACKS:
                per[(stack, route)] = (instructions(exe, stack, route, n)
                                       - instructions(exe, stack, route, 0)) / n
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
