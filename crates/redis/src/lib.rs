//! # omnichannel-redis
//!
//! Redis implementations of the omnichannel core stores, for hosts that run many instances
//! of the same service:
//!
//! - [`RedisLock`] ([`Lock`]): `SET key owner NX PX ttl` with a random owner token; release and
//!   extend are Lua compare-and-delete / compare-and-`PEXPIRE`, so only the holder can end or
//!   prolong its lease, and a lease that expired cannot touch its successor's.
//! - [`RedisTokenStore`] ([`TokenStore`]): access tokens as JSON (the core `AccessToken`
//!   serialization), so every instance's [`TokenManager`](omnichannel_core::TokenManager)
//!   sees the token one of them refreshed. Values are never logged.
//! - [`RedisDedupStore`] ([`DedupStore`](omnichannel_core::DedupStore)): `SET key 1 NX EX ttl`,
//!   so a webhook delivered to several instances at once is processed by one.
//!
//! All three share one [`RedisStores`] connection (a `redis` crate `ConnectionManager`: one
//! multiplexed connection that reconnects by itself) and one key prefix. Every Redis failure is
//! a core [`Error::Store`](omnichannel_core::Error::Store): retryable, kind `transport`, with a
//! message that names the operation and never a stored value.
//!
//! ```no_run
//! use std::sync::Arc;
//! use std::time::Duration;
//! use omnichannel_core::{ChannelEnv, DedupStore, StaticTokenSource, TokenManager};
//! use omnichannel_redis::RedisConfig;
//!
//! # async fn run() -> omnichannel_core::Result<()> {
//! let redis = RedisConfig::new("redis://127.0.0.1:6379/0")
//!     .key_prefix("myapp:omnichannel:")
//!     .connect()
//!     .await?;
//!
//! // Tokens refreshed once across all instances.
//! let tokens = TokenManager::builder(Arc::new(StaticTokenSource::new("test-token-not-real")))
//!     .store(Arc::new(redis.token_store()))
//!     .lock(Arc::new(redis.lock()))
//!     .build();
//! let token = tokens.access_token("business-1").await?;
//!
//! // A webhook redelivered to another instance is processed once.
//! let dedup = redis.dedup_store();
//! if dedup.first_seen("tiktok:msg-123", Duration::from_secs(24 * 3600)).await? {
//!     // process the event
//! }
//!
//! // Channels built from this env share the token store and lock.
//! let env = redis.channel_env(ChannelEnv::default());
//! # let _ = (token, env);
//! # Ok(())
//! # }
//! ```
//!
//! ## Features
//!
//! - `tls` (default): `rediss://` URLs over rustls, verified against the system's roots or
//!   a CA given with `RedisConfig::tls_root_certificate`.
//!
//! ## Keys
//!
//! Under the configured prefix (default `omnichannel:`): `lock:<key>` (the owner token, with
//! the lease's TTL), `token:<key>` (token JSON, no expiry) and `dedup:<key>` (`1`, with the dedup
//! TTL). The core `TokenManager` locks `omnichannel:token-refresh:<account>`, so its refresh
//! lock for `biz` is `omnichannel:lock:omnichannel:token-refresh:biz`.
//!
//! ## When Redis is slow or away
//!
//! Operations fail after the response timeout (default 1 s) with a retryable
//! [`Error::Store`](omnichannel_core::Error::Store); the connection is re-established in the
//! background and the next operations succeed once Redis is back.
//!
//! A command can time out after Redis executed it. For the lock, the lease is then held until
//! its TTL runs out. For dedup, the key is marked although the caller saw an error, so the
//! provider's redelivery will be reported as seen: a host that must not lose that event treats
//! a failed `first_seen` as first seen (and accepts a rare duplicate).
#![forbid(unsafe_code)]

mod config;
mod dedup;
mod error;
mod lock;
mod token_store;

use std::sync::Arc;
use std::time::Duration;

use omnichannel_core::{ChannelEnv, Lock, Result, TokenStore};
use redis::aio::ConnectionManager;

pub use config::RedisConfig;
pub use dedup::RedisDedupStore;
pub use error::{FailureClass, RedisFailure};
pub use lock::RedisLock;
/// The `redis` crate this one is built on, for [`RedisStores::with_connection`].
pub use redis;
pub use token_store::RedisTokenStore;

/// A connection to Redis and a key prefix, from which the stores are made. Cheap to clone;
/// clones and the stores made from them share one multiplexed connection.
///
/// `Debug` shows the prefix only (the connection's URL may hold a password).
#[derive(Clone)]
pub struct RedisStores {
    shared: Shared,
}

/// What every store holds: the connection and the key prefix.
#[derive(Clone)]
pub(crate) struct Shared {
    pub(crate) conn: ConnectionManager,
    pub(crate) prefix: Arc<str>,
}

impl Shared {
    /// `<prefix><namespace>:<key>`.
    pub(crate) fn key(&self, namespace: &str, key: &str) -> String {
        let mut k = String::with_capacity(self.prefix.len() + namespace.len() + key.len() + 1);
        k.push_str(&self.prefix);
        k.push_str(namespace);
        k.push(':');
        k.push_str(key);
        k
    }
}

impl std::fmt::Debug for RedisStores {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisStores")
            .field("key_prefix", &self.shared.prefix)
            .finish_non_exhaustive()
    }
}

impl RedisStores {
    fn from_parts(conn: ConnectionManager, prefix: &str) -> Self {
        RedisStores {
            shared: Shared {
                conn,
                prefix: Arc::from(prefix),
            },
        }
    }

    /// Stores on a connection the host built itself (Sentinel, client certificates, a shared
    /// manager), with `prefix` as key prefix. Its timeouts and reconnect policy apply.
    pub fn with_connection(conn: ConnectionManager, prefix: impl Into<String>) -> Self {
        RedisStores::from_parts(conn, &prefix.into())
    }

    /// Connects to `url` with the default settings (see [`RedisConfig`] for more).
    pub async fn connect(url: impl Into<String>) -> Result<Self> {
        RedisConfig::new(url).connect().await
    }

    /// The key prefix.
    pub fn prefix(&self) -> &str {
        &self.shared.prefix
    }

    /// The refresh lock (keys `<prefix>lock:<key>`).
    pub fn lock(&self) -> RedisLock {
        RedisLock::new(self.shared.clone())
    }

    /// The token store (keys `<prefix>token:<key>`).
    pub fn token_store(&self) -> RedisTokenStore {
        RedisTokenStore::new(self.shared.clone())
    }

    /// The webhook dedup store (keys `<prefix>dedup:<key>`).
    pub fn dedup_store(&self) -> RedisDedupStore {
        RedisDedupStore::new(self.shared.clone())
    }

    /// `env` with its token store and lock replaced by these Redis ones, so channels built
    /// from it share tokens and refreshes with every other instance.
    pub fn channel_env(&self, mut env: ChannelEnv) -> ChannelEnv {
        env.token_store = Arc::new(self.token_store()) as Arc<dyn TokenStore>;
        env.lock = Arc::new(self.lock()) as Arc<dyn Lock>;
        env
    }

    /// Round trip to the server (`PING`): a readiness check. Fails with a retryable
    /// [`Error::Store`](omnichannel_core::Error::Store) while Redis is unreachable.
    pub async fn ping(&self) -> Result<()> {
        let mut conn = self.shared.conn.clone();
        redis::cmd("PING")
            .query_async::<String>(&mut conn)
            .await
            .map(|_| ())
            .map_err(|e| error::store_error("PING", &e))
    }
}

/// Milliseconds of `ttl` for `PX`, rounded up, within 1 ms and [`MAX_TTL`].
pub(crate) fn ttl_millis(ttl: Duration) -> u64 {
    let ttl = ttl.min(MAX_TTL);
    let ms = ttl.as_millis() + u128::from(!ttl.subsec_nanos().is_multiple_of(1_000_000));
    u64::try_from(ms).unwrap_or(u64::MAX).max(1)
}

/// The longest TTL sent to Redis (100 years); longer ones are clamped to it.
pub const MAX_TTL: Duration = Duration::from_secs(100 * 365 * 24 * 3600);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ttl_rounds_up_and_clamps() {
        assert_eq!(ttl_millis(Duration::ZERO), 1);
        assert_eq!(ttl_millis(Duration::from_nanos(1)), 1);
        assert_eq!(ttl_millis(Duration::from_micros(1500)), 2);
        assert_eq!(ttl_millis(Duration::from_secs(2)), 2000);
        assert_eq!(ttl_millis(Duration::MAX), 100 * 365 * 24 * 3600 * 1000);
    }
}
