//! Stores shared by instances of a host: tokens, locks and webhook dedup, with in-memory
//! implementations (the embedded defaults). `omnichannel-redis` has the same on Redis.

use std::collections::hash_map::Entry;
use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use async_trait::async_trait;

use crate::Result;
use crate::token::AccessToken;

/// Where access tokens live between refreshes, keyed by account (business, channel, org).
#[async_trait]
pub trait TokenStore: Send + Sync + std::fmt::Debug {
    /// The stored token for `key`.
    async fn get(&self, key: &str) -> Result<Option<AccessToken>>;
    /// Stores the token for `key`.
    async fn put(&self, key: &str, token: &AccessToken) -> Result<()>;
    /// Forgets the token for `key`.
    async fn delete(&self, key: &str) -> Result<()>;
}

/// A held lock: only the holder of this lease can release or extend it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LockLease {
    /// The locked key.
    pub key: String,
    /// The random owner token of this holder.
    pub owner: String,
}

/// A lock with a time-to-live and owner-checked release, across the instances that share it.
#[async_trait]
pub trait Lock: Send + Sync + std::fmt::Debug {
    /// Takes the lock for `ttl` if nobody holds it; `None` when it is held.
    async fn try_acquire(&self, key: &str, ttl: Duration) -> Result<Option<LockLease>>;
    /// Releases the lock if `lease` still owns it; `false` when it expired or another owns it.
    async fn release(&self, lease: &LockLease) -> Result<bool>;
    /// Extends the lock if `lease` still owns it.
    async fn extend(&self, lease: &LockLease, ttl: Duration) -> Result<bool>;
}

/// First-seen detection for at-least-once webhook deliveries.
#[async_trait]
pub trait DedupStore: Send + Sync + std::fmt::Debug {
    /// `true` the first time `key` is seen within `ttl`, `false` on every repeat in that time.
    async fn first_seen(&self, key: &str, ttl: Duration) -> Result<bool>;

    /// Forgets `key`, so its next delivery counts as first seen again. Call it when the work a
    /// first sighting started failed (the host did not accept the event), so a redelivery is
    /// processed instead of dropped: at-least-once, nothing lost.
    async fn forget(&self, key: &str) -> Result<()>;
}

/// A new random lock owner token.
pub fn new_owner_token() -> String {
    uuid::Uuid::new_v4().simple().to_string()
}

/// Tokens in process memory.
#[derive(Debug, Default)]
pub struct MemoryTokenStore {
    map: Mutex<HashMap<String, AccessToken>>,
}

impl MemoryTokenStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }
}

#[async_trait]
impl TokenStore for MemoryTokenStore {
    async fn get(&self, key: &str) -> Result<Option<AccessToken>> {
        Ok(self
            .map
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(key)
            .cloned())
    }
    async fn put(&self, key: &str, token: &AccessToken) -> Result<()> {
        self.map
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(key.to_string(), token.clone());
        Ok(())
    }
    async fn delete(&self, key: &str) -> Result<()> {
        self.map
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(key);
        Ok(())
    }
}

/// Locks in process memory (for one instance, or tests of several managers in one process).
#[derive(Debug, Default)]
pub struct MemoryLock {
    map: Mutex<HashMap<String, (String, Instant)>>,
}

impl MemoryLock {
    /// No lock held.
    pub fn new() -> Self {
        Self::default()
    }
}

#[async_trait]
impl Lock for MemoryLock {
    async fn try_acquire(&self, key: &str, ttl: Duration) -> Result<Option<LockLease>> {
        let mut map = self.map.lock().unwrap_or_else(|p| p.into_inner());
        let now = Instant::now();
        if let Some((_, until)) = map.get(key)
            && *until > now
        {
            return Ok(None);
        }
        let owner = new_owner_token();
        map.insert(key.to_string(), (owner.clone(), now + ttl));
        Ok(Some(LockLease {
            key: key.to_string(),
            owner,
        }))
    }

    async fn release(&self, lease: &LockLease) -> Result<bool> {
        let mut map = self.map.lock().unwrap_or_else(|p| p.into_inner());
        match map.get(&lease.key) {
            Some((owner, until)) if *owner == lease.owner && *until > Instant::now() => {
                map.remove(&lease.key);
                Ok(true)
            }
            _ => Ok(false),
        }
    }

    async fn extend(&self, lease: &LockLease, ttl: Duration) -> Result<bool> {
        let mut map = self.map.lock().unwrap_or_else(|p| p.into_inner());
        match map.get_mut(&lease.key) {
            Some((owner, until)) if *owner == lease.owner && *until > Instant::now() => {
                *until = Instant::now() + ttl;
                Ok(true)
            }
            _ => Ok(false),
        }
    }
}

/// First-seen keys in process memory, bounded: past `capacity`, expired keys go first, then the
/// oldest.
#[derive(Debug)]
pub struct MemoryDedupStore {
    inner: Mutex<DedupInner>,
    capacity: usize,
}

#[derive(Debug, Default)]
struct DedupInner {
    /// Each key once, shared with `order`.
    seen: HashMap<Arc<str>, Instant>,
    order: VecDeque<(Arc<str>, Instant)>,
}

impl MemoryDedupStore {
    /// Default capacity: 100,000 keys.
    pub const DEFAULT_CAPACITY: usize = 100_000;

    /// A store holding at most `capacity` keys (at least 1).
    pub fn with_capacity(capacity: usize) -> Self {
        MemoryDedupStore {
            inner: Mutex::new(DedupInner::default()),
            capacity: capacity.max(1),
        }
    }

    /// Keys currently held.
    pub fn len(&self) -> usize {
        self.inner
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .seen
            .len()
    }

    /// Whether no key is held.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl Default for MemoryDedupStore {
    fn default() -> Self {
        Self::with_capacity(Self::DEFAULT_CAPACITY)
    }
}

#[async_trait]
impl DedupStore for MemoryDedupStore {
    async fn first_seen(&self, key: &str, ttl: Duration) -> Result<bool> {
        let now = Instant::now();
        let mut g = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        let inner = &mut *g;
        if let Some(until) = inner.seen.get(key)
            && *until > now
        {
            return Ok(false);
        }
        // Drop expired entries from the front, and the oldest while over capacity.
        while let Some((_, until)) = inner.order.front() {
            let expired = *until <= now;
            let over = inner.seen.len() >= self.capacity;
            if !(expired || over) {
                break;
            }
            if let Some((k, until)) = inner.order.pop_front()
                && let Entry::Occupied(held) = inner.seen.entry(k)
                && *held.get() == until
            {
                held.remove();
            }
        }
        let until = now + ttl;
        let key: Arc<str> = Arc::from(key);
        inner.seen.insert(key.clone(), until);
        inner.order.push_back((key, until));
        Ok(true)
    }

    async fn forget(&self, key: &str) -> Result<()> {
        // The stale entry in `order` is skipped when it reaches the front: its time no longer
        // matches `seen`.
        self.inner
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .seen
            .remove(key);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    #[tokio::test]
    async fn lock_owner_checked() {
        let lock = MemoryLock::new();
        let a = lock
            .try_acquire("k", Duration::from_secs(30))
            .await
            .unwrap()
            .unwrap();
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
        assert!(!lock.release(&impostor).await.unwrap());
        assert!(
            !lock
                .extend(&impostor, Duration::from_secs(1))
                .await
                .unwrap()
        );
        assert!(
            lock.try_acquire("k", Duration::from_secs(30))
                .await
                .unwrap()
                .is_none()
        );
        assert!(lock.extend(&a, Duration::from_secs(30)).await.unwrap());
        assert!(lock.release(&a).await.unwrap());
        assert!(!lock.release(&a).await.unwrap(), "released twice");
        assert!(
            lock.try_acquire("k", Duration::from_secs(30))
                .await
                .unwrap()
                .is_some()
        );
    }

    #[tokio::test]
    async fn lock_expires_and_old_owner_cannot_release_new() {
        let lock = MemoryLock::new();
        let a = lock
            .try_acquire("k", Duration::from_millis(20))
            .await
            .unwrap()
            .unwrap();
        tokio::time::sleep(Duration::from_millis(40)).await;
        let b = lock
            .try_acquire("k", Duration::from_secs(30))
            .await
            .unwrap()
            .unwrap();
        assert!(!lock.release(&a).await.unwrap());
        assert!(
            lock.try_acquire("k", Duration::from_secs(1))
                .await
                .unwrap()
                .is_none()
        );
        assert!(lock.release(&b).await.unwrap());
    }

    #[tokio::test]
    async fn lock_mutual_exclusion_under_contention() {
        let lock = Arc::new(MemoryLock::new());
        let mut tasks = Vec::new();
        for _ in 0..64 {
            let lock = lock.clone();
            tasks.push(tokio::spawn(async move {
                lock.try_acquire("k", Duration::from_secs(30))
                    .await
                    .unwrap()
                    .is_some()
            }));
        }
        let mut winners = 0;
        for t in tasks {
            winners += t.await.unwrap() as usize;
        }
        assert_eq!(winners, 1);
    }

    #[tokio::test]
    async fn dedup_first_seen_once_within_ttl() {
        let d = Arc::new(MemoryDedupStore::default());
        let mut tasks = Vec::new();
        for _ in 0..50 {
            let d = d.clone();
            tasks.push(tokio::spawn(async move {
                d.first_seen("evt-1", Duration::from_secs(60))
                    .await
                    .unwrap()
            }));
        }
        let mut firsts = 0;
        for t in tasks {
            firsts += t.await.unwrap() as usize;
        }
        assert_eq!(firsts, 1);
        assert!(
            d.first_seen("evt-2", Duration::from_secs(60))
                .await
                .unwrap()
        );
        assert!(
            !d.first_seen("evt-2", Duration::from_secs(60))
                .await
                .unwrap()
        );
        d.forget("evt-2").await.unwrap();
        assert!(
            d.first_seen("evt-2", Duration::from_secs(60))
                .await
                .unwrap(),
            "a forgotten key is new again"
        );
        assert!(
            !d.first_seen("evt-2", Duration::from_secs(60))
                .await
                .unwrap()
        );
        d.forget("never-seen").await.unwrap();
    }

    #[tokio::test]
    async fn dedup_expires_and_is_bounded() {
        let d = MemoryDedupStore::with_capacity(3);
        assert!(d.first_seen("a", Duration::from_millis(20)).await.unwrap());
        tokio::time::sleep(Duration::from_millis(40)).await;
        assert!(
            d.first_seen("a", Duration::from_secs(60)).await.unwrap(),
            "expired key is new again"
        );
        for k in ["b", "c", "d", "e", "f"] {
            assert!(d.first_seen(k, Duration::from_secs(60)).await.unwrap());
        }
        assert!(d.len() <= 3, "{}", d.len());
        assert!(!d.first_seen("f", Duration::from_secs(60)).await.unwrap());
    }
}
