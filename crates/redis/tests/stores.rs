//! The three stores against a real Redis (see `support` for where it comes from).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use chrono::{TimeZone, Utc};
use omnichannel_core::secrecy::ExposeSecret;
use omnichannel_core::store::new_owner_token;
use omnichannel_core::{AccessToken, ChannelEnv, DedupStore, Error, Lock, LockLease, TokenStore};
use omnichannel_redis::{RedisConfig, RedisFailure, RedisStores};

async fn connect(url: &str, prefix: &str) -> RedisStores {
    RedisConfig::new(url)
        .key_prefix(prefix)
        .connect()
        .await
        .expect("connect to the test Redis")
}

/// A raw connection for checking what the stores wrote.
async fn raw(url: &str) -> redis::aio::MultiplexedConnection {
    redis::Client::open(url)
        .unwrap()
        .get_multiplexed_async_connection()
        .await
        .unwrap()
}

macro_rules! redis_or_skip {
    ($name:expr) => {
        match support::redis($name) {
            Some(r) => r,
            None => return,
        }
    };
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lock_mutual_exclusion_under_contention_from_two_connections() {
    let r = redis_or_skip!("lock_mutual_exclusion_under_contention_from_two_connections");
    let prefix = support::unique_prefix();
    // Two connections, as two instances would have.
    let locks: [Arc<dyn Lock>; 2] = [
        Arc::new(connect(&r.url, &prefix).await.lock()),
        Arc::new(connect(&r.url, &prefix).await.lock()),
    ];

    // One shot: 64 tasks race for a free lock, exactly one wins.
    let mut tasks = Vec::new();
    for i in 0..64 {
        let lock = locks[i % 2].clone();
        tasks.push(tokio::spawn(async move {
            lock.try_acquire("race", Duration::from_secs(10))
                .await
                .unwrap()
        }));
    }
    let mut winners = Vec::new();
    for t in tasks {
        if let Some(lease) = t.await.unwrap() {
            winners.push(lease);
        }
    }
    assert_eq!(winners.len(), 1, "exactly one task gets a free lock");
    assert!(locks[0].release(&winners[0]).await.unwrap());

    // Sustained: 32 tasks loop acquire -> critical section -> release; never two inside.
    let inside = Arc::new(AtomicUsize::new(0));
    let max_inside = Arc::new(AtomicUsize::new(0));
    let entries = Arc::new(AtomicUsize::new(0));
    let mut tasks = Vec::new();
    for i in 0..32 {
        let lock = locks[i % 2].clone();
        let (inside, max_inside, entries) = (inside.clone(), max_inside.clone(), entries.clone());
        tasks.push(tokio::spawn(async move {
            let deadline = tokio::time::Instant::now() + Duration::from_millis(1500);
            while tokio::time::Instant::now() < deadline {
                if let Some(lease) = lock
                    .try_acquire("section", Duration::from_secs(5))
                    .await
                    .unwrap()
                {
                    let now = inside.fetch_add(1, Ordering::SeqCst) + 1;
                    max_inside.fetch_max(now, Ordering::SeqCst);
                    entries.fetch_add(1, Ordering::SeqCst);
                    tokio::time::sleep(Duration::from_millis(2)).await;
                    inside.fetch_sub(1, Ordering::SeqCst);
                    assert!(lock.release(&lease).await.unwrap(), "holder releases");
                } else {
                    tokio::time::sleep(Duration::from_millis(1)).await;
                }
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    assert_eq!(max_inside.load(Ordering::SeqCst), 1, "never two holders");
    assert!(
        entries.load(Ordering::SeqCst) >= 10,
        "the lock changed hands: {} entries",
        entries.load(Ordering::SeqCst)
    );
}

#[tokio::test]
async fn lock_release_only_by_owner() {
    let r = redis_or_skip!("lock_release_only_by_owner");
    let stores = connect(&r.url, &support::unique_prefix()).await;
    let lock = stores.lock();
    let lease = lock
        .try_acquire("k", Duration::from_secs(30))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(lease.key, "k");
    assert!(
        lock.try_acquire("k", Duration::from_secs(30))
            .await
            .unwrap()
            .is_none()
    );

    let impostor = LockLease {
        key: "k".into(),
        owner: new_owner_token(),
    };
    assert!(!lock.release(&impostor).await.unwrap(), "not the owner");
    assert!(
        lock.try_acquire("k", Duration::from_secs(30))
            .await
            .unwrap()
            .is_none(),
        "still held after the impostor's release"
    );

    // The key holds the owner token and a TTL.
    let mut conn = raw(&r.url).await;
    let key = format!("{}lock:k", stores.prefix());
    let owner: String = redis::cmd("GET")
        .arg(&key)
        .query_async(&mut conn)
        .await
        .unwrap();
    assert_eq!(owner, lease.owner);
    let pttl: i64 = redis::cmd("PTTL")
        .arg(&key)
        .query_async(&mut conn)
        .await
        .unwrap();
    assert!(pttl > 25_000 && pttl <= 30_000, "{pttl}");

    assert!(lock.release(&lease).await.unwrap());
    assert!(!lock.release(&lease).await.unwrap(), "released twice");
    let next = lock
        .try_acquire("k", Duration::from_secs(30))
        .await
        .unwrap();
    assert!(next.is_some());
    assert_ne!(
        next.unwrap().owner,
        lease.owner,
        "a new owner token per lease"
    );
}

#[tokio::test]
async fn lock_expiry_frees_it_and_old_owner_cannot_touch_successor() {
    let r = redis_or_skip!("lock_expiry_frees_it_and_old_owner_cannot_touch_successor");
    let lock = connect(&r.url, &support::unique_prefix()).await.lock();
    let old = lock
        .try_acquire("k", Duration::from_millis(600))
        .await
        .unwrap()
        .unwrap();
    assert!(
        lock.try_acquire("k", Duration::from_secs(5))
            .await
            .unwrap()
            .is_none()
    );
    tokio::time::sleep(Duration::from_millis(800)).await;
    let new = lock
        .try_acquire("k", Duration::from_secs(5))
        .await
        .unwrap()
        .expect("free after the TTL");
    assert!(!lock.release(&old).await.unwrap(), "expired lease");
    assert!(!lock.extend(&old, Duration::from_secs(60)).await.unwrap());
    assert!(
        lock.try_acquire("k", Duration::from_secs(5))
            .await
            .unwrap()
            .is_none(),
        "the successor still holds it"
    );
    assert!(lock.release(&new).await.unwrap());
}

#[tokio::test]
async fn lock_extend_by_owner_only() {
    let r = redis_or_skip!("lock_extend_by_owner_only");
    let lock = connect(&r.url, &support::unique_prefix()).await.lock();
    let lease = lock
        .try_acquire("k", Duration::from_millis(600))
        .await
        .unwrap()
        .unwrap();
    let impostor = LockLease {
        key: "k".into(),
        owner: new_owner_token(),
    };
    assert!(
        !lock
            .extend(&impostor, Duration::from_secs(60))
            .await
            .unwrap()
    );
    assert!(lock.extend(&lease, Duration::from_secs(2)).await.unwrap());
    // Past the original TTL, the extended lease still holds.
    tokio::time::sleep(Duration::from_millis(600)).await;
    assert!(
        lock.try_acquire("k", Duration::from_secs(5))
            .await
            .unwrap()
            .is_none(),
        "extended lease still held"
    );
    assert!(
        lock.extend(&lease, Duration::from_millis(200))
            .await
            .unwrap()
    );
    tokio::time::sleep(Duration::from_millis(350)).await;
    assert!(
        !lock.extend(&lease, Duration::from_secs(5)).await.unwrap(),
        "cannot extend after expiry"
    );
    assert!(
        lock.try_acquire("k", Duration::from_secs(5))
            .await
            .unwrap()
            .is_some()
    );
}

#[tokio::test]
async fn token_store_round_trip_as_json() {
    let r = redis_or_skip!("token_store_round_trip_as_json");
    let stores = connect(&r.url, &support::unique_prefix()).await;
    let store = stores.token_store();
    assert!(store.get("biz-1").await.unwrap().is_none());

    let exp = Utc.with_ymd_and_hms(2030, 1, 2, 3, 4, 5).unwrap();
    let mut token = AccessToken::new("test-access-not-real")
        .expires_at(exp)
        .with_refresh(
            "test-refresh-not-real",
            Some(exp + chrono::Duration::days(30)),
        );
    token
        .extra
        .insert("instance_url".into(), "https://example.invalid".into());
    store.put("biz-1", &token).await.unwrap();

    let back = store.get("biz-1").await.unwrap().unwrap();
    assert!(back.same_value(&token));
    assert_eq!(back.expires_at, Some(exp));
    assert_eq!(
        back.refresh_token.as_ref().unwrap().expose_secret(),
        "test-refresh-not-real"
    );
    assert_eq!(back.refresh_expires_at, token.refresh_expires_at);
    assert_eq!(back.extra, token.extra);

    // Stored as the core JSON serialization, under <prefix>token:<key>.
    let mut conn = raw(&r.url).await;
    let stored: String = redis::cmd("GET")
        .arg(format!("{}token:biz-1", stores.prefix()))
        .query_async(&mut conn)
        .await
        .unwrap();
    assert_eq!(stored, serde_json::to_string(&token).unwrap());

    // Overwrite, then delete.
    store
        .put("biz-1", &AccessToken::new("test-second-not-real"))
        .await
        .unwrap();
    assert_eq!(
        store
            .get("biz-1")
            .await
            .unwrap()
            .unwrap()
            .value
            .expose_secret(),
        "test-second-not-real"
    );
    store.delete("biz-1").await.unwrap();
    assert!(store.get("biz-1").await.unwrap().is_none());
    store.delete("biz-1").await.unwrap(); // deleting nothing is fine
}

#[tokio::test]
async fn token_store_treats_foreign_value_as_absent() {
    let r = redis_or_skip!("token_store_treats_foreign_value_as_absent");
    let stores = connect(&r.url, &support::unique_prefix()).await;
    let mut conn = raw(&r.url).await;
    let key = format!("{}token:biz", stores.prefix());
    redis::cmd("SET")
        .arg(&key)
        .arg("not json at all")
        .query_async::<()>(&mut conn)
        .await
        .unwrap();
    assert!(stores.token_store().get("biz").await.unwrap().is_none());

    // A key of another type is a server refusal: a store error naming no value.
    redis::cmd("DEL")
        .arg(&key)
        .query_async::<()>(&mut conn)
        .await
        .unwrap();
    redis::cmd("RPUSH")
        .arg(&key)
        .arg("test-list-item-not-real")
        .query_async::<()>(&mut conn)
        .await
        .unwrap();
    let err = stores.token_store().get("biz").await.unwrap_err();
    assert!(matches!(err, Error::Store { .. }), "{err:?}");
    assert!(err.retryable());
    let text = format!("{err} {err:?}");
    assert!(!text.contains("test-list-item-not-real"), "{text}");
    let failure = RedisFailure::of(&err).unwrap();
    assert_eq!(failure.code(), Some("WRONGTYPE"));
    assert!(!failure.is_connection());
}

#[tokio::test]
async fn prefixes_isolate_deployments() {
    let r = redis_or_skip!("prefixes_isolate_deployments");
    let a = connect(&r.url, &support::unique_prefix()).await;
    let b = connect(&r.url, &support::unique_prefix()).await;
    a.token_store()
        .put("biz", &AccessToken::new("test-a-not-real"))
        .await
        .unwrap();
    assert!(b.token_store().get("biz").await.unwrap().is_none());
    let _held = a
        .lock()
        .try_acquire("biz", Duration::from_secs(5))
        .await
        .unwrap()
        .unwrap();
    assert!(
        b.lock()
            .try_acquire("biz", Duration::from_secs(5))
            .await
            .unwrap()
            .is_some()
    );
    assert!(
        a.dedup_store()
            .first_seen("evt", Duration::from_secs(5))
            .await
            .unwrap()
    );
    assert!(
        b.dedup_store()
            .first_seen("evt", Duration::from_secs(5))
            .await
            .unwrap()
    );
    // The namespaces inside one prefix do not collide either.
    assert!(
        a.dedup_store()
            .first_seen("biz", Duration::from_secs(5))
            .await
            .unwrap()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dedup_first_seen_once_under_concurrency_and_again_after_ttl() {
    let r = redis_or_skip!("dedup_first_seen_once_under_concurrency_and_again_after_ttl");
    let prefix = support::unique_prefix();
    let stores = [
        connect(&r.url, &prefix).await,
        connect(&r.url, &prefix).await,
    ];
    let mut tasks = Vec::new();
    for i in 0..50 {
        let d = stores[i % 2].dedup_store();
        tasks.push(tokio::spawn(async move {
            d.first_seen("evt-1", Duration::from_secs(60))
                .await
                .unwrap()
        }));
    }
    let mut firsts = 0;
    for t in tasks {
        firsts += usize::from(t.await.unwrap());
    }
    assert_eq!(firsts, 1);

    let d = stores[0].dedup_store();
    // Whole seconds go as EX.
    let mut conn = raw(&r.url).await;
    let ttl: i64 = redis::cmd("TTL")
        .arg(format!("{prefix}dedup:evt-1"))
        .query_async(&mut conn)
        .await
        .unwrap();
    assert!((55..=60).contains(&ttl), "{ttl}");

    // Sub-second TTLs work (PX) and expire.
    assert!(
        d.first_seen("evt-2", Duration::from_millis(600))
            .await
            .unwrap()
    );
    assert!(
        !d.first_seen("evt-2", Duration::from_millis(600))
            .await
            .unwrap()
    );
    tokio::time::sleep(Duration::from_millis(800)).await;
    assert!(
        d.first_seen("evt-2", Duration::from_secs(1)).await.unwrap(),
        "new again after the TTL"
    );
    // A zero TTL is clamped to 1 ms rather than refused by Redis.
    assert!(d.first_seen("evt-3", Duration::ZERO).await.unwrap());
}

#[tokio::test]
async fn channel_env_and_ping_use_redis() {
    let r = redis_or_skip!("channel_env_and_ping_use_redis");
    let stores = connect(&r.url, &support::unique_prefix()).await;
    stores.ping().await.unwrap();
    let env = stores.channel_env(ChannelEnv::default());
    env.token_store
        .put("biz", &AccessToken::new("test-env-not-real"))
        .await
        .unwrap();
    let got = stores.token_store().get("biz").await.unwrap().unwrap();
    assert_eq!(got.value.expose_secret(), "test-env-not-real");
    let debug = format!("{:?} {:?}", env.lock, env.token_store);
    assert!(
        debug.contains("RedisLock") && debug.contains("RedisTokenStore"),
        "{debug}"
    );
}

#[tokio::test]
async fn unreachable_server_is_a_retryable_store_error_without_secrets() {
    // A port nothing listens on: bind, note it, close.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let config = RedisConfig::new(format!("redis://:test-secret-not-real@127.0.0.1:{port}/"))
        .connection_timeout(Duration::from_millis(200))
        .reconnect(1, Duration::from_millis(10), Duration::from_millis(20));
    let err = config.connect().await.unwrap_err();
    assert!(matches!(err, Error::Store { .. }), "{err:?}");
    assert!(err.retryable());
    assert_eq!(err.kind(), "transport");
    let failure = RedisFailure::of(&err).unwrap();
    assert!(failure.is_connection(), "{failure:?}");

    // Lazy: building succeeds, operations fail the same way.
    let stores = config.connect_lazy().unwrap();
    let token = AccessToken::new("test-token-not-real");
    let e1 = stores.token_store().put("biz", &token).await.unwrap_err();
    let e2 = stores
        .lock()
        .try_acquire("biz", Duration::from_secs(1))
        .await
        .unwrap_err();
    let e3 = stores
        .dedup_store()
        .first_seen("evt", Duration::from_secs(1))
        .await
        .unwrap_err();
    for e in [&err, &e1, &e2, &e3] {
        assert!(e.retryable(), "{e:?}");
        let text = format!("{e} {e:?}");
        assert!(!text.contains("test-secret-not-real"), "{text}");
        assert!(!text.contains("test-token-not-real"), "{text}");
    }
    let text = format!("{config:?} {stores:?} {:?}", stores.lock());
    assert!(!text.contains("test-secret-not-real"), "{text}");
}

#[tokio::test]
async fn dedup_forget_makes_a_key_new_again() {
    let r = redis_or_skip!("dedup_forget_makes_a_key_new_again");
    let prefix = support::unique_prefix();
    let d = connect(&r.url, &prefix).await.dedup_store();
    assert!(
        d.first_seen("evt-f", Duration::from_secs(60))
            .await
            .unwrap()
    );
    assert!(
        !d.first_seen("evt-f", Duration::from_secs(60))
            .await
            .unwrap()
    );
    d.forget("evt-f").await.unwrap();
    assert!(
        d.first_seen("evt-f", Duration::from_secs(60))
            .await
            .unwrap()
    );
    d.forget("never-seen").await.unwrap();
}
