#!/usr/bin/env bash
# Runs a benchmark with the store servers on CPU 0 and the benchmark on CPU 1:
#
#   benches/pinned.sh cargo bench -p sessionward-bench --bench stores -- '/(r|rw|new)/sessionward$|round-trip'
#
# On a small shared machine the scheduler otherwise moves the client and the servers between
# the cores, and a request and its floor, timed back to back, differ by tens of microseconds
# either way. Pinned, the quartiles of the stores bench's pairs close to a few microseconds.
# The servers keep the pinning until they restart (new PostgreSQL backends inherit it from the
# postmaster); `taskset -a -p 3 <pid>` undoes it on a 2-core machine.
set -euo pipefail

for name in redis-server postgres mariadbd mysqld; do
    for pid in $(pgrep -x "$name" || true); do
        taskset -a -p 1 "$pid" >/dev/null
    done
done
exec taskset -c 1 "$@"
