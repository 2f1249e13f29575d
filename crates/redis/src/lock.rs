//! The refresh lock on Redis.

use std::sync::LazyLock;
use std::time::Duration;

use async_trait::async_trait;
use omnichannel_core::store::new_owner_token;
use omnichannel_core::{Lock, LockLease, Result};

use crate::error::store_error;
use crate::{Shared, ttl_millis};

/// Deletes the key only if it still holds the caller's owner token.
static RELEASE: LazyLock<redis::Script> = LazyLock::new(|| {
    redis::Script::new(
        r"if redis.call('GET', KEYS[1]) == ARGV[1] then
    return redis.call('DEL', KEYS[1])
end
return 0",
    )
});

/// Sets a new TTL only if the key still holds the caller's owner token.
static EXTEND: LazyLock<redis::Script> = LazyLock::new(|| {
    redis::Script::new(
        r"if redis.call('GET', KEYS[1]) == ARGV[1] then
    return redis.call('PEXPIRE', KEYS[1], ARGV[2])
end
return 0",
    )
});

/// A [`Lock`] shared by every instance connected to the same Redis with the same prefix.
///
/// - `try_acquire`: `SET <prefix>lock:<key> <owner> NX PX <ttl>` with a new random owner token
///   (a random UUID, from the core `new_owner_token`); `None` while another holder's lease runs.
/// - `release` / `extend`: a Lua script deletes or re-expires the key only when it still holds
///   the lease's owner token, atomically; `false` when the lease expired or is someone else's.
///
/// TTLs are sent in milliseconds, rounded up, at least 1 ms and at most [`crate::MAX_TTL`].
/// A holder that dies loses the lock when its TTL runs out.
#[derive(Clone)]
pub struct RedisLock {
    shared: Shared,
}

impl std::fmt::Debug for RedisLock {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisLock")
            .field("key_prefix", &format_args!("{}lock:", self.shared.prefix))
            .finish_non_exhaustive()
    }
}

impl RedisLock {
    pub(crate) fn new(shared: Shared) -> Self {
        RedisLock { shared }
    }

    fn key(&self, key: &str) -> String {
        self.shared.key("lock", key)
    }
}

#[async_trait]
impl Lock for RedisLock {
    async fn try_acquire(&self, key: &str, ttl: Duration) -> Result<Option<LockLease>> {
        let owner = new_owner_token();
        let mut conn = self.shared.conn.clone();
        let reply: Option<String> = redis::cmd("SET")
            .arg(self.key(key))
            .arg(&owner)
            .arg("NX")
            .arg("PX")
            .arg(ttl_millis(ttl))
            .query_async(&mut conn)
            .await
            .map_err(|e| store_error("SET NX lock", &e))?;
        Ok(reply.map(|_| LockLease {
            key: key.to_string(),
            owner,
        }))
    }

    async fn release(&self, lease: &LockLease) -> Result<bool> {
        let mut conn = self.shared.conn.clone();
        let deleted: i64 = RELEASE
            .key(self.key(&lease.key))
            .arg(&lease.owner)
            .invoke_async(&mut conn)
            .await
            .map_err(|e| store_error("release lock", &e))?;
        Ok(deleted == 1)
    }

    async fn extend(&self, lease: &LockLease, ttl: Duration) -> Result<bool> {
        let mut conn = self.shared.conn.clone();
        let extended: i64 = EXTEND
            .key(self.key(&lease.key))
            .arg(&lease.owner)
            .arg(ttl_millis(ttl))
            .invoke_async(&mut conn)
            .await
            .map_err(|e| store_error("extend lock", &e))?;
        Ok(extended == 1)
    }
}
