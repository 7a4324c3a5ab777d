//! Pages served from a second origin: a small server of the test's own on another loopback
//! port, for a page the demo did not write (a forged form, a script probe).

use axum::response::Html;
use axum::routing::get;
use axum::Router;
use tokio::task::JoinHandle;

/// A server of fixed pages on `127.0.0.1` and a port of its own: another origin than the demo,
/// which listens on another port of the same address (so the same site: `SameSite` cookies
/// still go with its requests).
pub struct OtherOrigin {
    /// `http://127.0.0.1:PORT`.
    pub base: String,
    server: JoinHandle<()>,
}

impl OtherOrigin {
    /// Serves each `(path, html)` of `pages`.
    pub async fn serve(pages: Vec<(&'static str, String)>) -> Self {
        let mut app = Router::new();
        for (path, html) in pages {
            app = app.route(path, get(move || async move { Html(html) }));
        }
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("a free loopback port");
        let base = format!("http://{}", listener.local_addr().expect("its address"));
        let server = tokio::spawn(async move {
            axum::serve(listener, app).await.expect("the other origin");
        });
        Self { base, server }
    }

    /// The URL of `path` on this origin.
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }
}

impl Drop for OtherOrigin {
    fn drop(&mut self) {
        self.server.abort();
    }
}
