//! Webhook dedup on Redis.

use std::time::Duration;

use async_trait::async_trait;
use omnichannel_core::{DedupStore, Result};

use crate::error::store_error;
use crate::{MAX_TTL, Shared, ttl_millis};

/// A [`DedupStore`] shared by every instance connected to the same Redis with the same prefix.
///
/// `first_seen` is `SET <prefix>dedup:<key> 1 NX EX <ttl>`: exactly one of the callers that
/// race on a key within its TTL gets `true`. TTLs of whole seconds are sent as `EX`; others as
/// `PX` in milliseconds, rounded up (at least 1 ms, at most [`crate::MAX_TTL`]).
///
/// Unlike the in-memory store this one has no capacity bound: Redis expires the keys, so the
/// memory used is the number of distinct keys seen within one TTL.
#[derive(Clone)]
pub struct RedisDedupStore {
    shared: Shared,
}

impl std::fmt::Debug for RedisDedupStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisDedupStore")
            .field("key_prefix", &format_args!("{}dedup:", self.shared.prefix))
            .finish_non_exhaustive()
    }
}

impl RedisDedupStore {
    pub(crate) fn new(shared: Shared) -> Self {
        RedisDedupStore { shared }
    }
}

#[async_trait]
impl DedupStore for RedisDedupStore {
    async fn first_seen(&self, key: &str, ttl: Duration) -> Result<bool> {
        let ttl = ttl.min(MAX_TTL);
        let mut cmd = redis::cmd("SET");
        cmd.arg(self.shared.key("dedup", key)).arg(1).arg("NX");
        if ttl.subsec_nanos() == 0 && ttl.as_secs() > 0 {
            cmd.arg("EX").arg(ttl.as_secs());
        } else {
            cmd.arg("PX").arg(ttl_millis(ttl));
        }
        let mut conn = self.shared.conn.clone();
        let reply: Option<String> = cmd
            .query_async(&mut conn)
            .await
            .map_err(|e| store_error("SET NX dedup", &e))?;
        Ok(reply.is_some())
    }

    async fn forget(&self, key: &str) -> Result<()> {
        let mut conn = self.shared.conn.clone();
        let _: i64 = redis::cmd("DEL")
            .arg(self.shared.key("dedup", key))
            .query_async(&mut conn)
            .await
            .map_err(|e| store_error("DEL dedup", &e))?;
        Ok(())
    }
}
