#!/usr/bin/env python3
"""Markdown table of `cargo bench -p sessionward-bench --bench bearer`: what JWT access tokens
cost a request, beside the opaque cookie and a hand-written jsonwebtoken layer, and whether the
targets hold.

Usage: python3 benches/summarize_bearer.py [CRITERION_DIR]  (see criterion_results.py)
"""

import sys

from criterion_results import criterion_dir, median_ns

GROUPS = {
    "bearer-r": ["bare", "cookie", "tower-sessions", "bearer-stateful", "bearer-stateless",
                 "bearer-stateful-verify-each"],
    "bearer-who": ["bare", "jsonwebtoken-layer", "bearer-stateful", "bearer-stateless",
                   "bearer-stateless-verify-each"],
}


def main():
    base = criterion_dir()
    times = {(g, s): median_ns(base, g, s) for g, stacks in GROUPS.items() for s in stacks}
    verify = median_ns(base, "verify", "access-tokens")
    if None in times.values() or verify is None:
        print("not every benchmark was run")
        return 1
    for group, stacks in GROUPS.items():
        route = "/r" if group == "bearer-r" else "/who"
        bare = times[(group, "bare")]
        print(f"| `{route}` stack | ns | added to bare axum, ns |")
        print("|---|---:|---:|")
        for stack in stacks:
            t = times[(group, stack)]
            print(f"| {stack} | {t:,.0f} | {t - bare:+,.0f} |")
        print()
    print(f"`AccessTokens::verify` alone (one HS256 signature check and the claims): {verify:,.0f} ns")
    print()
    cookie = times[("bearer-r", "cookie")]
    budget = cookie + verify
    for stack in ["bearer-stateful", "bearer-stateful-verify-each"]:
        stateful = times[("bearer-r", stack)]
        print(f"- {stack} `/r` {stateful:,.0f} ns vs cookie `/r` + verify {budget:,.0f} ns: "
              f"{'met' if stateful <= budget else 'NOT met'} (ratio {stateful / budget:.2f})")
    handwritten = times[("bearer-who", "jsonwebtoken-layer")]
    for stack in ["bearer-stateless", "bearer-stateless-verify-each"]:
        stateless = times[("bearer-who", stack)]
        print(f"- {stack} `/who` {stateless:,.0f} ns vs jsonwebtoken layer {handwritten:,.0f} ns: "
              f"{'met' if stateless < handwritten else 'NOT met'} (ratio {stateless / handwritten:.2f})")
    print()
    print("Median time per request (criterion `median.point_estimate`), in process through "
          "`Router::oneshot` on a tokio current-thread runtime; "
          "`cargo bench -p sessionward-bench --bench bearer`.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
