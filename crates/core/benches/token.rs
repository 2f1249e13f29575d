#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used)]
//! Token manager hot path: a cached, fresh token, single caller and contended.
use std::sync::Arc;

use criterion::{Criterion, criterion_group, criterion_main};
use omnichannel_core::{AccessToken, TokenManager};

fn bench(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let m = TokenManager::with_static_token("bench-token-not-real");
    rt.block_on(async {
        m.set_token(
            "acct",
            AccessToken::new("bench-token-not-real")
                .expires_at(chrono::Utc::now() + chrono::Duration::hours(24)),
        )
        .await
        .expect("set");
    });
    let mut g = c.benchmark_group("token");
    g.bench_function("cached_access_token", |b| {
        b.to_async(&rt)
            .iter(|| async { m.access_token("acct").await.expect("token") })
    });
    let shared = Arc::new(m.clone());
    g.bench_function("contended_1000_tasks_2_threads", |b| {
        b.to_async(&rt).iter(|| {
            let m = shared.clone();
            async move {
                let mut set = tokio::task::JoinSet::new();
                for _ in 0..1000 {
                    let m = m.clone();
                    set.spawn(async move { m.access_token("acct").await.map(|_| ()) });
                }
                while let Some(r) = set.join_next().await {
                    r.expect("join").expect("token");
                }
            }
        })
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
