//! The shared stores of the gateway: dedup, tokens and locks. In memory by default; on Redis
//! when `redis_url` is configured and this build has a Redis backend.

use std::sync::Arc;

use omnichannel_core::{
    DedupStore, Error, Lock, MemoryDedupStore, MemoryLock, MemoryTokenStore, SecretString,
    TokenStore,
};

/// The three stores a gateway instance uses.
#[derive(Clone, Debug)]
pub struct Stores {
    /// Event ids already seen.
    pub dedup: Arc<dyn DedupStore>,
    /// Provider access tokens.
    pub tokens: Arc<dyn TokenStore>,
    /// Locks around token refreshes.
    pub lock: Arc<dyn Lock>,
    /// Where they live, for the start-up banner.
    pub backend: &'static str,
}

impl Stores {
    /// In-process stores (one gateway instance).
    pub fn memory() -> Self {
        Stores {
            dedup: Arc::new(MemoryDedupStore::default()),
            tokens: Arc::new(MemoryTokenStore::new()),
            lock: Arc::new(MemoryLock::new()),
            backend: "memory",
        }
    }
}

/// The stores for a configuration: in memory without a Redis URL, otherwise on Redis.
///
/// Integration point: the Redis backend comes from the `omnichannel-redis` crate; it is wired
/// in the private `redis_stores` function of this module.
pub async fn open(redis_url: Option<&SecretString>) -> Result<Stores, Error> {
    match redis_url {
        None => Ok(Stores::memory()),
        Some(url) => redis_stores(url).await,
    }
}

/// Stores on Redis. This build has no Redis backend linked in, so a configured `redis_url`
/// is refused rather than silently replaced by process memory (several instances would then
/// each accept the same redelivered events).
///
/// With `omnichannel-redis` as a dependency, the body becomes:
///
/// ```text
/// let r = omnichannel_redis::RedisStores::connect(url.expose_secret()).await?;
/// Ok(Stores {
///     dedup: Arc::new(r.dedup_store()),
///     tokens: Arc::new(r.token_store()),
///     lock: Arc::new(r.lock()),
///     backend: "redis",
/// })
/// ```
async fn redis_stores(_url: &SecretString) -> Result<Stores, Error> {
    Err(Error::config(
        "redis_url",
        "this build of omnichannel has no Redis backend; remove `redis_url`/`redis_url_env` to use in-memory stores",
    ))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    #[tokio::test]
    async fn memory_without_url_and_no_silent_fallback_with_one() {
        assert_eq!(open(None).await.unwrap().backend, "memory");
        // Port 1 is closed: whatever the backend, this must fail, say why, and not leak the
        // password.
        let url = SecretString::from("redis://:pw-not-real@127.0.0.1:1/0".to_string());
        let err = open(Some(&url)).await.unwrap_err();
        let msg = err.to_string();
        assert!(!msg.contains("pw-not-real"), "{msg}");
        assert!(msg.to_ascii_lowercase().contains("redis"), "{msg}");
    }
}
