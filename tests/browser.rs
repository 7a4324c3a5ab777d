//! End-to-end tests in a real browser (issue #19, item 5): headless Chromium, driven over
//! WebDriver through chromedriver, uses the demo as a person would, over real HTTP on loopback
//! (the demo as a process, memory store). Each test starts its own demo, chromedriver and
//! browsers, and every one of them stops with the test, whatever its outcome.
//!
//! They need `SESSIONWARD_TEST_BROWSER`, the path of a chromedriver (Debian's
//! `/usr/bin/chromedriver` under `CI=true`): without it they are reported as ignored
//! (tests/README.md). The demo is the example `cargo test` builds next to the tests; with
//! `--test browser` alone, run `cargo build --examples --all-features` first. Screenshots go to
//! `target/browser-screenshots/`. Unix only, as chromedriver runs in a process group.

mod browser_support;
mod process_support;
mod servers;

use std::process::ExitCode;

use browser_support::{until, Browser, ChromeDriver, Device, JavaScript, OtherOrigin};
use fantoccini::error::CmdError;
use fantoccini::Locator;
use process_support::Process;
use serde_json::{json, Value};
use servers::trial;

/// The demo's session cookie (docs/demo-http.md).
const SESSION_COOKIE: &str = "__Host-session";

/// Logging in through the form sets a session cookie that the page's scripts cannot read; a
/// reload keeps the user signed in, and the logout button signs them out.
async fn form_login_sets_an_http_only_cookie_and_logout_ends_it() {
    let (_demo, base) = Process::demo(&[]);
    let driver = ChromeDriver::start().await;
    let browser = Browser::open(&driver, JavaScript::On).await;
    browser.log_in(&base, "alice", "wonderland").await;

    // The browser holds the cookie (so the check below is about something that exists)...
    let cookie = browser
        .client()
        .get_named_cookie(SESSION_COOKIE)
        .await
        .unwrap_or_else(|err| panic!("no {SESSION_COOKIE} cookie after logging in: {err}"));
    assert_eq!(cookie.http_only(), Some(true), "{cookie}");
    // ...and a script on the page does not see it: an injected script cannot steal it.
    let seen = browser
        .client()
        .execute("return document.cookie;", vec![])
        .await
        .expect("run a script");
    let seen = seen.as_str().expect("document.cookie is a string");
    assert!(
        !seen.contains(SESSION_COOKIE) && !seen.contains(cookie.value()),
        "document.cookie shows the session cookie: {seen:?}"
    );
    browser.save_screenshot("home-signed-in").await;

    browser.reload().await;
    assert_eq!(browser.signed_in_as().await.as_deref(), Some("alice"));

    browser.log_out().await;
    // Signed out for good, not just on the page the logout answered with.
    browser.reload().await;
    assert!(
        browser.shows_login_form().await,
        "after a reload: {}",
        browser.text().await
    );
    browser.close().await;
}

/// Two browsers signed in as the same user: the first lists both sessions and revokes the
/// other one from its list; the other browser is signed out at its next page, the first is not.
async fn revoking_a_device_signs_that_browser_out() {
    let (_demo, base) = Process::demo(&[]);
    let driver = ChromeDriver::start().await;
    let first = Browser::open(&driver, JavaScript::On).await;
    let second = Browser::open(&driver, JavaScript::On).await;
    first.log_in(&base, "alice", "wonderland").await;
    second.log_in(&base, "alice", "wonderland").await;
    let first_id = first.own_session_id().await;
    let second_id = second.own_session_id().await;
    assert_ne!(first_id, second_id, "two browsers, two sessions");

    // The first browser's list, loaded after the second logged in: both, itself marked.
    first.reload().await;
    let mut devices = first.devices().await;
    devices.sort_by_key(|device| !device.current);
    assert_eq!(
        devices,
        [
            Device {
                id: first_id.clone(),
                current: true
            },
            Device {
                id: second_id.clone(),
                current: false
            },
        ]
    );

    first.revoke(&second_id).await;
    assert_eq!(first.signed_in_as().await.as_deref(), Some("alice"));
    assert_eq!(
        first.devices().await,
        [Device {
            id: first_id,
            current: true
        }],
        "the revoked session is gone from the list"
    );

    second.goto(&format!("{base}/")).await;
    assert!(
        second.shows_login_form().await,
        "the revoked browser's next page: {}",
        second.text().await
    );
    first.reload().await;
    assert_eq!(first.signed_in_as().await.as_deref(), Some("alice"));
    first.close().await;
    second.close().await;
}

/// A page on another origin that submits a form to the demo as it loads: the victim's browser
/// sends it with their cookie (the other origin is the same site, so `SameSite=Lax` does not
/// hold the cookie back), and the demo refuses it with 403 `{"error":"csrf"}`. Neither a
/// forged logout nor a forged login (into another account) changes who is signed in.
async fn forged_forms_from_another_origin_change_nothing() {
    let (_demo, base) = Process::demo(&[]);
    let driver = ChromeDriver::start().await;
    let browser = Browser::open(&driver, JavaScript::On).await;
    browser.log_in(&base, "alice", "wonderland").await;
    let forgeries = [
        ("/logout", vec![]),
        ("/login", vec![("username", "bob"), ("password", "builder")]),
    ];
    let elsewhere = OtherOrigin::serve(
        forgeries
            .iter()
            .map(|(action, fields)| (*action, forged_form(&base, action, fields)))
            .collect(),
    )
    .await;
    assert_ne!(elsewhere.base, base);

    for (action, _) in forgeries {
        browser.goto(&elsewhere.url(action)).await;
        // The form's answer: the browser has left the forging page for the demo's.
        let (url, text) = until(
            &format!("the demo's answer to the forged POST {action}"),
            || async {
                let url = browser.client().current_url().await?;
                if !url.as_str().starts_with(&base) {
                    return Ok(None);
                }
                let ready = browser
                    .client()
                    .execute("return document.readyState === 'complete';", vec![])
                    .await?;
                if ready != Value::Bool(true) {
                    return Ok(None);
                }
                let text = browser.client().find(Locator::Css("body")).await?;
                Ok::<_, CmdError>(Some((url, text.text().await?)))
            },
        )
        .await;
        assert_eq!(url.as_str(), format!("{base}{action}"), "page: {text}");
        let answer: Value = serde_json::from_str(&text)
            .unwrap_or_else(|err| panic!("the answer to POST {action}: {err}: {text:?}"));
        assert_eq!(answer, json!({ "error": "csrf" }), "POST {action}");

        browser.goto(&format!("{base}/")).await;
        assert_eq!(
            browser.signed_in_as().await.as_deref(),
            Some("alice"),
            "after the forged POST {action}: {}",
            browser.text().await
        );
    }
    browser.close().await;
}

/// A page that posts a form to `base` + `action` with `fields` as soon as it loads.
fn forged_form(base: &str, action: &str, fields: &[(&str, &str)]) -> String {
    let inputs: String = fields
        .iter()
        .map(|(name, value)| format!(r#"<input type="hidden" name="{name}" value="{value}">"#))
        .collect();
    format!(
        r#"<!doctype html><title>Win a prize</title>
<form method="post" action="{base}{action}">{inputs}</form>
<script>document.forms[0].submit();</script>"#
    )
}

/// The admin dashboard follows the sessions live: bob signing in elsewhere (a plain HTTP
/// client) shows on the open page, without a reload, as a "login bob" line and one more active
/// session.
async fn admin_dashboard_shows_a_new_login_live() {
    let (_demo, base) = Process::demo(&[]);
    let driver = ChromeDriver::start().await;
    let browser = Browser::open(&driver, JavaScript::On).await;
    browser.log_in(&base, "admin", "admin-demo").await;
    browser.goto(&format!("{base}/admin")).await;

    // Connected, and the first counts are in: only then is a later login bound to show.
    let active_before = until("the dashboard to connect and count", || async {
        let (status, active) = dashboard_status(&browser).await?;
        let active = active.parse::<u64>().ok().filter(|_| status == "Live");
        Ok::<_, CmdError>(active)
    })
    .await;
    assert!(
        active_before >= 1,
        "the admin's own session is active: {active_before}"
    );
    assert!(
        !event_lines(&browser)
            .await
            .iter()
            .any(|line| line.contains("bob")),
        "nothing about bob yet"
    );
    browser.mark_page().await;

    let answer = reqwest::Client::new()
        .post(format!("{base}/login"))
        .json(&json!({ "username": "bob", "password": "builder" }))
        .send()
        .await
        .expect("bob's login");
    assert_eq!(answer.status(), 200);
    let answer: Value = answer.json().await.expect("a JSON answer");
    let bob_session = answer["session_id"]
        .as_str()
        .expect("a session id")
        .to_owned();

    let line = until("the dashboard to show bob's login", || async {
        let (_, active) = dashboard_status(&browser).await?;
        let line = event_lines(&browser).await.into_iter().find(|line| {
            // "TIME  login  bob  SESSION  from IP": the page's own layout.
            let parts: Vec<&str> = line.split("  ").collect();
            parts.get(1) == Some(&"login") && parts.get(2) == Some(&"bob")
        });
        let counted = active.parse::<u64>().ok() == Some(active_before + 1);
        Ok::<_, CmdError>(line.filter(|_| counted))
    })
    .await;
    assert!(line.contains(&bob_session), "{line:?} names {bob_session}");
    assert!(browser.page_is_marked().await, "the page was not reloaded");
    browser.save_screenshot("admin-dashboard").await;
    browser.close().await;
}

/// The dashboard's connection status and active-session count, as shown.
async fn dashboard_status(browser: &Browser) -> Result<(String, String), CmdError> {
    let status = browser.client().find(Locator::Id("status")).await?;
    let active = browser.client().find(Locator::Id("active")).await?;
    Ok((status.text().await?, active.text().await?))
}

/// The dashboard's event lines, newest first, as written (`textContent`: the rendered text
/// would fold the double spaces between fields).
async fn event_lines(browser: &Browser) -> Vec<String> {
    let lines = browser
        .client()
        .execute(
            "return Array.from(document.querySelectorAll('#events li'), li => li.textContent);",
            vec![],
        )
        .await
        .expect("read the events");
    serde_json::from_value(lines).expect("a list of lines")
}

/// With JavaScript off, the demo works through its plain forms: log in, see the session list,
/// log out.
async fn without_javascript_the_forms_still_work() {
    let (_demo, base) = Process::demo(&[]);
    let driver = ChromeDriver::start().await;
    let browser = Browser::open(&driver, JavaScript::Off).await;

    // JavaScript is really off: a page's script does not run, and its <noscript> is shown
    // (with scripts on, the title changes and the <noscript> content is no element at all).
    let probe = OtherOrigin::serve(vec![(
        "/probe",
        r#"<!doctype html><title>no script ran</title>
<script>document.title = "a script ran";</script>
<noscript><p id="no-script">Scripts are off.</p></noscript>"#
            .to_owned(),
    )])
    .await;
    browser.goto(&probe.url("/probe")).await;
    assert_eq!(
        browser.client().title().await.expect("the title"),
        "no script ran"
    );
    assert!(browser.has("#no-script").await, "the <noscript> is shown");

    browser.log_in(&base, "bob", "builder").await;
    let devices = browser.devices().await;
    assert_eq!(devices.len(), 1, "{devices:?}");
    assert!(devices[0].current, "{devices:?}");
    assert_eq!(devices[0].id, browser.own_session_id().await);
    browser.log_out().await;
    browser.close().await;
}

fn main() -> ExitCode {
    servers::run([
        trial!(Browser: form_login_sets_an_http_only_cookie_and_logout_ends_it),
        trial!(Browser: revoking_a_device_signs_that_browser_out),
        trial!(Browser: forged_forms_from_another_origin_change_nothing),
        trial!(Browser: admin_dashboard_shows_a_new_login_live),
        trial!(Browser: without_javascript_the_forms_still_work),
    ])
}
