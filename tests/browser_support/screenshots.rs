//! Screenshots of what the tests saw, for a person to look at: `target/browser-screenshots/`,
//! overwritten by each run.

use std::path::PathBuf;

use super::browser::Browser;

/// `target/browser-screenshots`, found from this test binary's path
/// (`target/<profile>/deps/browser-…`), as the examples are; created if missing.
pub fn dir() -> PathBuf {
    let exe = std::env::current_exe().expect("the test binary's path");
    let target = exe
        .ancestors()
        .nth(3)
        .expect("the test runs from target/<profile>/deps");
    let dir = target.join("browser-screenshots");
    std::fs::create_dir_all(&dir)
        .unwrap_or_else(|err| panic!("cannot create {}: {err}", dir.display()));
    dir
}

impl Browser {
    /// Saves what the browser shows as `target/browser-screenshots/NAME.png`, and returns the
    /// path.
    pub async fn save_screenshot(&self, name: &str) -> PathBuf {
        let png = self.client().screenshot().await.expect("a screenshot");
        assert!(
            png.starts_with(b"\x89PNG\r\n\x1a\n"),
            "a screenshot is a PNG image"
        );
        let path = dir().join(format!("{name}.png"));
        std::fs::write(&path, png)
            .unwrap_or_else(|err| panic!("cannot write {}: {err}", path.display()));
        path
    }
}
