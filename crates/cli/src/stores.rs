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
pub async fn open(redis_url: Option<&SecretString>) -> Result<Stores, Error> {
    match redis_url {
        None => Ok(Stores::memory()),
        Some(url) => redis_stores(url).await,
    }
}

/// Stores on Redis (`omnichannel-redis`), shared by every gateway instance that uses the same
/// server: one token refresh at a time across instances, and a redelivery accepted once.
async fn redis_stores(url: &SecretString) -> Result<Stores, Error> {
    use omnichannel_core::ExposeSecret;
    let r = omnichannel_redis::RedisStores::connect(url.expose_secret()).await?;
    Ok(Stores {
        dedup: Arc::new(r.dedup_store()),
        tokens: Arc::new(r.token_store()),
        lock: Arc::new(r.lock()),
        backend: "redis",
    })
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
