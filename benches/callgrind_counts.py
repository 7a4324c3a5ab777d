"""Counting instructions with callgrind, for the `*_ir.py` scripts next to this file."""

import glob
import os
import re
import subprocess
import sys
import tempfile


def bench_binary(name):
    """The newest build of the bench target `name` (built with `cargo bench -p
    sessionward-bench --bench NAME --no-run`), under $CARGO_TARGET_DIR or target/."""
    target = os.environ.get("CARGO_TARGET_DIR") or os.path.join(
        os.path.dirname(os.path.abspath(__file__)), "..", "target")
    found = [p for p in glob.glob(os.path.join(target, "release", "deps", f"{name}-*"))
             if os.access(p, os.X_OK) and not p.endswith(".d")]
    if not found:
        sys.exit(f"build it first: cargo bench -p sessionward-bench --bench {name} --no-run")
    return max(found, key=os.path.getmtime)


def instructions(*command):
    """The instructions callgrind counts for one run of `command`."""
    with tempfile.TemporaryDirectory() as tmp:
        out = subprocess.run(
            ["valgrind", "--tool=callgrind", f"--callgrind-out-file={tmp}/cg", *command],
            capture_output=True, text=True, check=True).stderr
    return int(re.search(r"Collected : (\d+)", out).group(1))


def per_request(n, *command):
    """Instructions per request: a run of `command` with `n` requests, less one with 0 (the
    count is the command's last argument), divided by `n`."""
    return (instructions(*command, str(n)) - instructions(*command, "0")) / n
