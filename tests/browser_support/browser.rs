//! A browser: one WebDriver session, which is a headless Chromium of its own with a fresh
//! profile, so two browsers share no cookie, as two people's machines.

use fantoccini::elements::Element;
use fantoccini::{Client, ClientBuilder, Locator};
use hyper_util::client::legacy::connect::HttpConnector;
use serde_json::{json, Value};

use super::chromedriver::{ChromeDriver, CHROMIUM};
use super::wait;

/// Whether the browser runs the pages' scripts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum JavaScript {
    On,
    Off,
}

/// A browser driven over WebDriver.
pub struct Browser {
    client: Client,
}

impl Browser {
    /// Starts a browser through `driver`.
    ///
    /// # Panics
    /// When chromedriver cannot start it, with what chromedriver printed.
    pub async fn open(driver: &ChromeDriver, javascript: JavaScript) -> Self {
        let profile = driver.fresh_profile();
        let mut options = json!({
            "binary": CHROMIUM,
            "args": [
                "--headless=new",
                // The tests run as root, where Chromium's sandbox cannot start.
                "--no-sandbox",
                "--disable-gpu",
                // /dev/shm is small in containers; Chromium falls back to /tmp.
                "--disable-dev-shm-usage",
                format!("--user-data-dir={}", profile.display()),
                // Room for the pages in the screenshots.
                "--window-size=1280,900",
            ],
        });
        if javascript == JavaScript::Off {
            // Chrome's "block JavaScript on every site" setting, as a policy would set it.
            options["prefs"] = json!({ "profile.managed_default_content_settings.javascript": 2 });
        }
        let capabilities = json!({ "browserName": "chrome", "goog:chromeOptions": options });
        let Value::Object(capabilities) = capabilities else {
            unreachable!("an object")
        };
        // chromedriver is on plain HTTP on loopback: no TLS connector.
        let client = ClientBuilder::new(HttpConnector::new())
            .capabilities(capabilities)
            .connect(driver.url())
            .await
            .unwrap_or_else(|err| {
                panic!(
                    "chromedriver could not start {CHROMIUM}: {err}; its output: {:#?}",
                    driver.output()
                )
            });
        Self { client }
    }

    /// The WebDriver session, for what these helpers do not cover.
    pub fn client(&self) -> &Client {
        &self.client
    }

    /// Loads `url`; WebDriver answers once the page has loaded.
    pub async fn goto(&self, url: &str) {
        self.client
            .goto(url)
            .await
            .unwrap_or_else(|err| panic!("cannot load {url}: {err}"));
    }

    /// The page's text as a user reads it.
    pub async fn text(&self) -> String {
        self.client
            .find(Locator::Css("body"))
            .await
            .expect("a page with a body")
            .text()
            .await
            .expect("the body's text")
    }

    /// Waits until an element matches `css`, and returns the first.
    pub async fn wait_for(&self, css: &str) -> Element {
        wait::until(&format!("an element {css:?}"), || async {
            match self.client.find(Locator::Css(css)).await {
                Ok(element) => Ok(Some(element)),
                Err(err) if err.is_no_such_element() => Ok(None),
                Err(err) => Err(err),
            }
        })
        .await
    }

    /// Every element that matches `css` now.
    pub async fn find_all(&self, css: &str) -> Vec<Element> {
        self.client
            .find_all(Locator::Css(css))
            .await
            .unwrap_or_else(|err| panic!("cannot look for {css:?}: {err}"))
    }

    /// Whether an element matches `css` now.
    pub async fn has(&self, css: &str) -> bool {
        !self.find_all(css).await.is_empty()
    }

    /// Clicks `element`, which leaves the page (a form's button), and waits until the next
    /// page has loaded.
    pub async fn click_to_leave(&self, element: &Element) {
        self.mark_page().await;
        element.click().await.expect("click");
        self.wait_for_next_page().await;
    }

    /// Reloads the page, and waits until the new copy has loaded.
    pub async fn reload(&self) {
        self.mark_page().await;
        self.client.refresh().await.expect("reload");
        self.wait_for_next_page().await;
    }

    /// Marks the loaded document (a variable of its window, invisible on the page), so that
    /// the old page still on screen is never taken for the next one, and a page that has not
    /// been reloaded can be told from one that has. Scripts from WebDriver run even where the
    /// page's own scripts may not (JavaScript off, a policy with no script).
    pub async fn mark_page(&self) {
        self.client
            .execute("window.sessionwardMarked = true;", vec![])
            .await
            .expect("mark the page");
    }

    /// Whether the loaded document is the one [`mark_page`](Self::mark_page) marked.
    pub async fn page_is_marked(&self) -> bool {
        let marked = self
            .client
            .execute("return window.sessionwardMarked === true;", vec![])
            .await
            .expect("look for the mark");
        marked == Value::Bool(true)
    }

    /// Waits until a document other than the marked one has loaded.
    async fn wait_for_next_page(&self) {
        wait::until("the next page to load", || async {
            let loaded = self
                .client
                .execute(
                    "return window.sessionwardMarked !== true \
                     && document.readyState === 'complete';",
                    vec![],
                )
                .await?;
            Ok::<_, fantoccini::error::CmdError>((loaded == Value::Bool(true)).then_some(()))
        })
        .await;
    }

    /// Ends the session: chromedriver closes the browser.
    pub async fn close(self) {
        self.client.close().await.expect("close the browser");
    }
}
