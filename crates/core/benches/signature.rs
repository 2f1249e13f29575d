#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used)]
//! Signature helper benchmarks: HMAC-SHA256/SHA1 verification of 1 KiB and 4 KiB bodies,
//! against the bare MAC computation as the floor measured in the same run.
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use omnichannel_core::signature::{self, Algorithm, SigningKeys};
use std::hint::black_box;

fn bench(c: &mut Criterion) {
    let keys = SigningKeys::new("bench-secret-not-real");
    for size in [1024usize, 4096] {
        let body = vec![b'a'; size];
        let mut g = c.benchmark_group(format!("hmac/{size}"));
        g.throughput(Throughput::Bytes(size as u64));
        let hex_sig = signature::sign_hex(Algorithm::Sha256, &keys, &[b"1700000000.", &body]);
        let b64_sig = signature::sign_base64(Algorithm::Sha1, &keys, &[&body]);
        g.bench_function("floor_sha256_mac", |b| {
            b.iter(|| {
                signature::hmac_sha256(
                    b"bench-secret-not-real",
                    &[b"1700000000.", black_box(&body)],
                )
            })
        });
        g.bench_function("verify_hex_sha256", |b| {
            b.iter(|| {
                signature::verify_hex(
                    Algorithm::Sha256,
                    &keys,
                    "h",
                    &[b"1700000000.", black_box(&body)],
                    black_box(&hex_sig),
                )
            })
        });
        g.bench_function("floor_sha1_mac", |b| {
            b.iter(|| signature::hmac_sha1(b"bench-secret-not-real", &[black_box(&body)]))
        });
        g.bench_function("verify_base64_sha1", |b| {
            b.iter(|| {
                signature::verify_base64(
                    Algorithm::Sha1,
                    &keys,
                    "h",
                    &[black_box(&body)],
                    black_box(&b64_sig),
                )
            })
        });
        g.finish();
    }
}

criterion_group!(benches, bench);
criterion_main!(benches);
