//! The closing summary of a test run: which store suites this build and these variables run,
//! and how to turn on the others. Cargo runs the test binaries in name order, hence the `zz_`:
//! this one runs after every other (only the doc tests follow).
//!
//! Under `CI=true` a store suite this build leaves out (its feature off) fails the run; outside
//! CI that check is reported as ignored, with the flag that turns it on.

mod servers;

use std::process::ExitCode;

use libtest_mimic::{Arguments, FormatSetting, Trial};
use servers::{under_ci, Suite};

/// The suites that need no server: name, feature, whether this build has it.
const LOCAL: [(&str, &str, bool); 2] = [
    ("memory", "memory-store", cfg!(feature = "memory-store")),
    ("SQLite", "sqlite", cfg!(feature = "sqlite")),
];

/// The test binaries over every store, built only with `all-stores`.
const ALL_STORES: &str = "round_trips, shared_stores, store_failures, demo_stores";

/// What this build leaves out: the `--features` flag of each missing suite.
fn missing_features() -> Vec<&'static str> {
    let mut missing: Vec<&str> = LOCAL
        .iter()
        .filter(|(_, _, built)| !built)
        .map(|(_, feature, _)| *feature)
        .collect();
    for suite in Suite::ALL {
        if !suite.built() && !missing.contains(&suite.feature()) {
            missing.push(suite.feature());
        }
    }
    if !cfg!(feature = "all-stores") {
        missing.push("all-stores");
    }
    missing
}

/// One line per suite: run, or why not and how to turn it on. A server's URL is never shown
/// (it may carry a password).
fn summary() -> String {
    let mut lines =
        vec!["Store suites and browser tests in this run (tests/README.md):".to_owned()];
    for (name, feature, built) in LOCAL {
        let state = if built {
            "run".to_owned()
        } else {
            format!("NOT RUN, not built: add --features {feature} (or --all-features)")
        };
        lines.push(format!("  {name:<15} {state}"));
    }
    for suite in Suite::ALL {
        let set = std::env::var(suite.var()).is_ok_and(|value| !value.trim().is_empty());
        let state = if !suite.built() {
            format!(
                "NOT RUN, not built: add --features {} (or --all-features) and set {}",
                suite.feature(),
                suite.setting()
            )
        } else if set {
            format!("run ({} is set)", suite.var())
        } else if under_ci() {
            format!("run, with the default {} (CI=true)", suite.setting())
        } else {
            format!(
                "NOT RUN, its tests are reported as ignored: set {}",
                suite.setting()
            )
        };
        lines.push(format!("  {:<15} {state}", suite.name()));
    }
    if !cfg!(feature = "all-stores") {
        lines.push(format!(
            "  {:<15} NOT RUN, not built: add --features all-stores (or --all-features) for {ALL_STORES}",
            "every store"
        ));
    }
    lines.join("\n")
}

fn main() -> ExitCode {
    let args = Arguments::from_args();
    let missing = missing_features();
    let all_built = missing.is_empty();
    let check = Trial::test("every_store_suite_is_built", move || {
        if all_built {
            return Ok(());
        }
        Err(format!(
            "this build leaves out --features {}; under CI=true every store suite must run: \
             cargo test --all-features",
            missing.join(",")
        )
        .into())
    });
    let check = if all_built || under_ci() {
        check
    } else {
        check
            .with_kind("needs --all-features")
            .with_ignored_flag(true)
    };
    let conclusion = libtest_mimic::run(&args, vec![check]);
    if !args.list && args.format != Some(FormatSetting::Json) {
        println!("{}\n", summary());
    }
    conclusion.exit_code()
}
