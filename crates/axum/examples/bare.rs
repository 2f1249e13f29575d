//! A bare axum handler: the baseline of the gateway throughput benchmark (`benches/gateway.sh`).
//!
//! It serves `/webhooks/{provider}/{channel}` like the gateway, reads the whole body, and answers
//! 200 without verifying, parsing or deduplicating anything, on the same runtime and `axum::serve`
//! as `omnichannel serve`. What the gateway costs on top of it is verification, parsing,
//! normalization, deduplication and the event sink.
//!
//! ```text
//! cargo run --release -p omnichannel-axum --example bare -- 127.0.0.1:8090
//! ```

use axum::Router;
use axum::body::Bytes;
use axum::http::StatusCode;
use axum::routing::any;

async fn accept(body: Bytes) -> StatusCode {
    std::hint::black_box(body);
    StatusCode::OK
}

fn main() -> std::io::Result<()> {
    let addr = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:8090".to_string());
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async {
        let listener = tokio::net::TcpListener::bind(&addr).await?;
        eprintln!("bare: listening on http://{}", listener.local_addr()?);
        let router = Router::new().route("/webhooks/{provider}/{channel}", any(accept));
        axum::serve(listener, router).await
    })
}
