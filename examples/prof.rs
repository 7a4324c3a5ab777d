use axum::body::{to_bytes, Body};
use axum::http::Request;
use axum::routing::get;
use axum::Router;
use sessionward::{store::MemoryStore, Session, SessionError, SessionLayer};
use tower::ServiceExt;

async fn new(s: Session) -> Result<&'static str, SessionError> {
    s.insert("n", &0u64).await?;
    Ok("created")
}
async fn r(s: Session) -> Result<String, SessionError> {
    Ok(s.get::<u64>("n").await?.unwrap_or(0).to_string())
}

fn main() {
    let mode = std::env::args().nth(1).unwrap();
    let n: usize = std::env::args().nth(2).unwrap().parse().unwrap();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let mut app = Router::new()
            .route("/new", get(new))
            .route("/r", get(r))
            .layer(SessionLayer::new(MemoryStore::default()));
        let res = app
            .clone()
            .oneshot(Request::get("/new").body(Body::empty()).unwrap())
            .await
            .unwrap();
        let c = res
            .headers()
            .get("set-cookie")
            .unwrap()
            .to_str()
            .unwrap()
            .split(';')
            .next()
            .unwrap()
            .to_owned();
        let t = std::time::Instant::now();
        for i in 0..n {
            if i % 100_000 == 0 && mode == "new" {
                app = Router::new()
                    .route("/new", get(new))
                    .route("/r", get(r))
                    .layer(SessionLayer::new(MemoryStore::default()));
            }
            let mut req = Request::get(format!("/{mode}"));
            if mode == "r" {
                req = req.header("cookie", &c);
            }
            let res = app
                .clone()
                .oneshot(req.body(Body::empty()).unwrap())
                .await
                .unwrap();
            let _ = to_bytes(res.into_body(), usize::MAX).await.unwrap();
        }
        eprintln!("{mode}: {:?}/req", t.elapsed() / n as u32);
    });
}
