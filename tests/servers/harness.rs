//! The harness of the test binaries that need a server (`harness = false` in Cargo.toml):
//! libtest-mimic lists and runs their tests as the built-in harness does, and reports a test
//! whose server is not configured as ignored, with the variable it needs, instead of letting
//! it return early and count as passed.

use std::any::Any;
use std::future::Future;
use std::panic;
use std::process::ExitCode;
use std::sync::Once;

use libtest_mimic::{Arguments, Trial};

use super::Suite;

/// A test: `body` run on a multi-threaded tokio runtime of its own with `workers` worker
/// threads. With `needs`, a test of that suite: listed as ignored, with the variable it needs,
/// when the suite is not configured.
pub fn test<F, Fut>(needs: Option<Suite>, name: impl Into<String>, workers: usize, body: F) -> Trial
where
    F: FnOnce() -> Fut + Send + 'static,
    Fut: Future<Output = ()>,
{
    let trial = Trial::test(name, move || {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(workers)
            .enable_all()
            .build()
            .expect("a tokio runtime")
            .block_on(body());
        Ok(())
    });
    match needs {
        Some(suite) if suite.configured().is_none() => trial
            .with_kind(format!("needs {}", suite.var()))
            .with_ignored_flag(true),
        _ => trial,
    }
}

/// A test from an async fn of the same name: `trial!(name)` needs no server,
/// `trial!(Postgres: name)` needs the suite `Suite::Postgres`; both run on two worker threads
/// unless `, workers = N` follows.
macro_rules! trial {
    ($suite:ident: $test:ident $(, workers = $workers:literal)?) => {
        $crate::servers::test(
            Some($crate::servers::Suite::$suite),
            stringify!($test),
            None$(.or(Some($workers)))?.unwrap_or(2),
            $test,
        )
    };
    ($test:ident $(, workers = $workers:literal)?) => {
        $crate::servers::test(
            None,
            stringify!($test),
            None$(.or(Some($workers)))?.unwrap_or(2),
            $test,
        )
    };
}
pub(crate) use trial;

/// Runs the tests selected by the command line (as the built-in harness does: filters,
/// `--ignored`, `--list`, `--test-threads`...) and reports them; the binary's `main`.
pub fn run(trials: impl IntoIterator<Item = Trial>) -> ExitCode {
    quiet_expected_panics();
    libtest_mimic::run(&Arguments::from_args(), trials.into_iter().collect()).exit_code()
}

/// As [`run`], one test at a time whatever `--test-threads` says: for trials that act on a
/// server-wide state (a `FLUSHDB`, a killed connection) the others would see.
pub fn run_one_at_a_time(trials: impl IntoIterator<Item = Trial>) -> ExitCode {
    quiet_expected_panics();
    let mut args = Arguments::from_args();
    args.test_threads = Some(1);
    libtest_mimic::run(&args, trials.into_iter().collect()).exit_code()
}

/// The name of the threads whose panics `expect_panic` expects.
const EXPECTED: &str = "expected panic";

/// Runs `f` on a thread of its own and returns its panic message, the harness's
/// `#[should_panic]`; the panic is not printed, as it is the expected outcome.
///
/// # Panics
/// When `f` returns.
pub fn expect_panic<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> String {
    quiet_expected_panics();
    let outcome = std::thread::Builder::new()
        .name(EXPECTED.to_owned())
        .spawn(f)
        .expect("spawn a thread")
        .join();
    match outcome {
        Ok(_) => panic!("expected a panic, but it returned"),
        Err(payload) => message(&*payload),
    }
}

fn message(payload: &(dyn Any + Send)) -> String {
    match (
        payload.downcast_ref::<&str>(),
        payload.downcast_ref::<String>(),
    ) {
        (Some(text), _) => (*text).to_owned(),
        (_, Some(text)) => text.clone(),
        _ => "(a panic without a message)".to_owned(),
    }
}

/// Keeps the default panic output for every thread but those of `expect_panic` (libtest-mimic
/// does not capture output as the built-in harness does).
fn quiet_expected_panics() {
    static HOOK: Once = Once::new();
    HOOK.call_once(|| {
        let default = panic::take_hook();
        panic::set_hook(Box::new(move |info| {
            if std::thread::current().name() != Some(EXPECTED) {
                default(info);
            }
        }));
    });
}
