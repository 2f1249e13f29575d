//! Redis goes away during use and comes back on the same port: operations fail with a
//! retryable error while it is gone and work again after the reconnect.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::time::{Duration, Instant};

use omnichannel_core::secrecy::ExposeSecret;
use omnichannel_core::{AccessToken, DedupStore, Error, Lock, TokenStore};
use omnichannel_redis::{RedisConfig, RedisFailure, RedisStores};

/// One use of each store; the error of the first that fails.
async fn use_all(stores: &RedisStores, round: usize) -> Result<(), Error> {
    let key = format!("biz-{round}");
    let tokens = stores.token_store();
    tokens
        .put(&key, &AccessToken::new(format!("test-token-{round}")))
        .await?;
    let back = tokens.get(&key).await?;
    assert_eq!(
        back.map(|t| t.value.expose_secret().to_string()),
        Some(format!("test-token-{round}"))
    );
    let lock = stores.lock();
    let lease = lock
        .try_acquire(&key, Duration::from_secs(5))
        .await?
        .expect("a fresh key is free");
    assert!(lock.extend(&lease, Duration::from_secs(5)).await?);
    assert!(lock.release(&lease).await?);
    assert!(
        stores
            .dedup_store()
            .first_seen(&key, Duration::from_secs(5))
            .await?
    );
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn operations_fail_retryably_while_down_and_recover_after_restart() {
    // This test stops and starts the server itself, so it never uses REDIS_URL.
    let Some(mut server) = support::RedisServer::start(
        "operations_fail_retryably_while_down_and_recover_after_restart",
    ) else {
        return;
    };
    let stores = RedisConfig::new(server.url())
        .key_prefix(support::unique_prefix())
        .response_timeout(Duration::from_millis(500))
        .connection_timeout(Duration::from_millis(200))
        .reconnect(2, Duration::from_millis(20), Duration::from_millis(100))
        .connect()
        .await
        .unwrap();
    use_all(&stores, 0).await.unwrap();

    server.stop();

    // Every kind of operation fails, retryably, and promptly (no hang).
    let started = Instant::now();
    let mut failures = Vec::new();
    for round in 1..=4 {
        let tokens = stores.token_store();
        failures.push(tokens.get("biz-0").await.unwrap_err());
        failures.push(
            tokens
                .put("biz-0", &AccessToken::new("test-token-not-real"))
                .await
                .unwrap_err(),
        );
        failures.push(
            stores
                .lock()
                .try_acquire("k", Duration::from_secs(1))
                .await
                .unwrap_err(),
        );
        failures.push(
            stores
                .dedup_store()
                .first_seen(&format!("evt-{round}"), Duration::from_secs(1))
                .await
                .unwrap_err(),
        );
        failures.push(stores.ping().await.unwrap_err());
    }
    assert!(
        started.elapsed() < Duration::from_secs(15),
        "failures took {:?}",
        started.elapsed()
    );
    for e in &failures {
        assert!(matches!(e, Error::Store { .. }), "{e:?}");
        assert!(e.retryable(), "{e:?}");
        assert_eq!(e.kind(), "transport");
        let failure = RedisFailure::of(e).unwrap();
        assert!(failure.is_connection(), "{failure:?}");
        assert!(!format!("{e} {e:?}").contains("test-token-not-real"));
    }

    server.restart();

    // Retrying, as a host would on a retryable error, succeeds once reconnected.
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut round = 1;
    loop {
        match use_all(&stores, round).await {
            Ok(()) => break,
            Err(e) => {
                assert!(e.retryable(), "{e:?}");
                assert!(
                    Instant::now() < deadline,
                    "no recovery 10 s after the restart: {e}"
                );
                round += 1;
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
    }
    // And keeps working.
    for r in round + 1..round + 5 {
        use_all(&stores, r).await.unwrap();
    }
}
