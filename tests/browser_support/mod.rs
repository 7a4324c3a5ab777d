//! The browser tests' helpers (tests/browser.rs): chromedriver as a process, browsers driven
//! over WebDriver, the demo's home page as a person uses it, pages from a second origin, and
//! screenshots. Every wait is for a condition (a DOM state, an answer), never for a time.

mod browser;
mod chromedriver;
mod demo_pages;
mod other_origin;
mod screenshots;
mod wait;

pub use browser::{Browser, JavaScript};
pub use chromedriver::ChromeDriver;
pub use demo_pages::Device;
pub use other_origin::OtherOrigin;
pub use wait::until;
