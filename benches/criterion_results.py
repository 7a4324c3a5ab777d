"""Reading criterion's results, for the summarize scripts next to this file."""

import json
import os
import sys


def criterion_dir():
    """The first command-line argument, else $CARGO_TARGET_DIR/criterion, else target/criterion
    next to this script's crate."""
    if len(sys.argv) > 1:
        return sys.argv[1]
    target = os.environ.get("CARGO_TARGET_DIR") or os.path.join(
        os.path.dirname(os.path.abspath(__file__)), "..", "target"
    )
    return os.path.join(target, "criterion")


def median_ns(base, *benchmark):
    """Criterion's median estimate, in ns, of the latest run of the benchmark whose id is the
    path `benchmark` (group, function, parameter); None when it was not run."""
    path = os.path.join(base, *benchmark, "new", "estimates.json")
    try:
        with open(path) as f:
            return json.load(f)["median"]["point_estimate"]
    except FileNotFoundError:
        return None


def estimates(base, *benchmark):
    """The whole estimates.json of the latest run of `benchmark`, or None."""
    path = os.path.join(base, *benchmark, "new", "estimates.json")
    try:
        with open(path) as f:
            return json.load(f)
    except FileNotFoundError:
        return None
