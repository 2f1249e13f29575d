#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used)]
//! Token manager hot path: a cached, fresh token, single caller and contended.
//!
//! - `cached_access_token`: one caller on the tokio runtime (target: median <= 100 ns).
//! - `contended_1000_tasks_2_threads` against `spawn_only_1000_tasks_2_threads`: 1,000 tasks on
//!   a 2-worker runtime each taking the token, and the same tasks doing nothing (the difference
//!   is what the 1,000 token reads cost under contention).
//! - `reader_1_thread` against `readers_2_threads`: the time per call of one thread calling in a
//!   loop, and of each of two threads calling at the same time. Readers that serialized would
//!   take twice as long per call when two run at once. `control_1_thread` and
//!   `control_2_threads` do the same with work that shares nothing: the machine's own scaling.
use std::future::Future;
use std::hint::black_box;
use std::sync::{Arc, Barrier};
use std::task::{Context, Poll, Waker};
use std::time::{Duration, Instant};

use criterion::{Criterion, criterion_group, criterion_main};
use omnichannel_core::{AccessToken, TokenManager};

/// Polls a future once: the cached path never waits.
fn ready<F: Future>(f: F) -> F::Output {
    let mut f = std::pin::pin!(f);
    match f.as_mut().poll(&mut Context::from_waker(Waker::noop())) {
        Poll::Ready(v) => v,
        Poll::Pending => panic!("the cached path suspended"),
    }
}

/// `threads` threads each calling `access_token` `iters` times at once; the wall time.
fn parallel_calls(m: &TokenManager, threads: usize, iters: u64) -> Duration {
    parallel(threads, iters, || {
        black_box(ready(m.access_token(black_box("acct"))).unwrap());
    })
}

/// The control: work of a similar size touching no shared memory (hashing a thread's own
/// string). If two threads of it also take twice as long per call, the machine does not run
/// two threads at once (two vCPUs on one core) and the contention figures say nothing.
fn control(threads: usize, iters: u64) -> Duration {
    use std::hash::BuildHasher as _;
    parallel(threads, iters, || {
        let h = std::collections::hash_map::RandomState::new();
        for _ in 0..4 {
            black_box(h.hash_one(black_box("acct-bench-control")));
        }
    })
}

/// `threads` threads each running `f` `iters` times at once; the longest wall time.
fn parallel(threads: usize, iters: u64, f: impl Fn() + Sync) -> Duration {
    let start_line = Barrier::new(threads + 1);
    std::thread::scope(|s| {
        let handles: Vec<_> = (0..threads)
            .map(|_| {
                s.spawn(|| {
                    start_line.wait();
                    let t0 = Instant::now();
                    for _ in 0..iters {
                        f();
                    }
                    t0.elapsed()
                })
            })
            .collect();
        start_line.wait();
        handles
            .into_iter()
            .map(|h| h.join().unwrap())
            .max()
            .unwrap_or_default()
    })
}

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
    g.bench_function("spawn_only_1000_tasks_2_threads", |b| {
        b.to_async(&rt).iter(|| async move {
            let mut set = tokio::task::JoinSet::new();
            for _ in 0..1000 {
                set.spawn(async move { black_box(Ok::<(), omnichannel_core::Error>(())) });
            }
            while let Some(r) = set.join_next().await {
                r.expect("join").expect("nothing");
            }
        })
    });
    g.bench_function("reader_1_thread", |b| {
        b.iter_custom(|iters| parallel_calls(&m, 1, iters))
    });
    g.bench_function("readers_2_threads", |b| {
        b.iter_custom(|iters| parallel_calls(&m, 2, iters))
    });
    g.bench_function("control_1_thread", |b| {
        b.iter_custom(|iters| control(1, iters))
    });
    g.bench_function("control_2_threads", |b| {
        b.iter_custom(|iters| control(2, iters))
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
