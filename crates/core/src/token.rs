//! Access tokens and the [`TokenManager`]: refresh ahead of expiry, one refresh at a time.
//!
//! - A token is refreshed a margin (default 5 min) before it expires.
//! - In one process, concurrent callers share one refresh (single flight) and all get its
//!   result, the new token or the error; the next call after a failure tries again.
//! - Across processes, a [`Lock`] with a TTL decides who refreshes; the others wait for the
//!   stored result, and take the lock themselves if its holder died (after the TTL).
//! - An expired or revoked refresh token yields [`Error::ReauthorizationRequired`] and calls the
//!   host's hook once, until a new token is set with [`TokenManager::set_token`].

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use futures::FutureExt as _;
use futures::future::{BoxFuture, Shared};
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::clock::{Clock, SystemClock};
use crate::store::{Lock, MemoryLock, MemoryTokenStore, TokenStore};
use crate::{Error, Result};

/// An access token with its lifetimes. `Debug` never shows the secrets.
#[derive(Clone)]
pub struct AccessToken {
    /// The bearer value.
    pub value: SecretString,
    /// When it stops working; `None` when the provider does not say (never refreshed ahead).
    pub expires_at: Option<DateTime<Utc>>,
    /// The refresh token, for providers that rotate tokens.
    pub refresh_token: Option<SecretString>,
    /// When the refresh token stops working.
    pub refresh_expires_at: Option<DateTime<Utc>>,
    /// Provider data that travels with the token (Salesforce `instance_url`, TikTok scopes).
    pub extra: serde_json::Map<String, serde_json::Value>,
}

impl AccessToken {
    /// A token with a value only.
    pub fn new(value: impl Into<String>) -> Self {
        AccessToken {
            value: SecretString::from(value.into()),
            expires_at: None,
            refresh_token: None,
            refresh_expires_at: None,
            extra: serde_json::Map::new(),
        }
    }

    /// Sets the expiry.
    pub fn expires_at(mut self, at: DateTime<Utc>) -> Self {
        self.expires_at = Some(at);
        self
    }

    /// Sets the refresh token and its expiry.
    pub fn with_refresh(
        mut self,
        token: impl Into<String>,
        expires_at: Option<DateTime<Utc>>,
    ) -> Self {
        self.refresh_token = Some(SecretString::from(token.into()));
        self.refresh_expires_at = expires_at;
        self
    }

    /// Whether the token is still good for `margin` at `now` (a token without expiry always is).
    pub fn is_fresh(&self, now: DateTime<Utc>, margin: Duration) -> bool {
        match self.expires_at {
            None => true,
            Some(exp) => {
                let margin = chrono::Duration::from_std(margin).unwrap_or(chrono::Duration::MAX);
                exp.signed_duration_since(now) > margin
            }
        }
    }

    /// Whether the refresh token is known to have expired at `now`.
    pub fn refresh_expired(&self, now: DateTime<Utc>) -> bool {
        matches!(self.refresh_expires_at, Some(at) if at <= now)
    }

    /// Whether two tokens carry the same value (constant time).
    pub fn same_value(&self, other: &AccessToken) -> bool {
        crate::signature::constant_time_eq(
            self.value.expose_secret().as_bytes(),
            other.value.expose_secret().as_bytes(),
        )
    }
}

impl std::fmt::Debug for AccessToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AccessToken")
            .field("value", &"[redacted]")
            .field("expires_at", &self.expires_at)
            .field(
                "refresh_token",
                &self.refresh_token.as_ref().map(|_| "[redacted]"),
            )
            .field("refresh_expires_at", &self.refresh_expires_at)
            .finish_non_exhaustive()
    }
}

/// The stored form: stores must keep the secret, so this is the one place it is written out.
#[derive(Serialize, Deserialize)]
struct StoredToken {
    value: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    expires_at: Option<DateTime<Utc>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    refresh_token: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    refresh_expires_at: Option<DateTime<Utc>>,
    #[serde(default, skip_serializing_if = "serde_json::Map::is_empty")]
    extra: serde_json::Map<String, serde_json::Value>,
}

impl Serialize for AccessToken {
    fn serialize<S: Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        StoredToken {
            value: self.value.expose_secret().to_string(),
            expires_at: self.expires_at,
            refresh_token: self
                .refresh_token
                .as_ref()
                .map(|r| r.expose_secret().to_string()),
            refresh_expires_at: self.refresh_expires_at,
            extra: self.extra.clone(),
        }
        .serialize(s)
    }
}

impl<'de> Deserialize<'de> for AccessToken {
    fn deserialize<D: Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        let s = StoredToken::deserialize(d)?;
        Ok(AccessToken {
            value: SecretString::from(s.value),
            expires_at: s.expires_at,
            refresh_token: s.refresh_token.map(SecretString::from),
            refresh_expires_at: s.refresh_expires_at,
            extra: s.extra,
        })
    }
}

/// How a provider gets a new token for a key: refresh with the current one, or mint one.
#[async_trait]
pub trait TokenSource: Send + Sync {
    /// A new token for `key`. `current` is the stored token, if any (its refresh token, say).
    /// Return [`Error::ReauthorizationRequired`] when only the account holder can fix it.
    async fn refresh(&self, key: &str, current: Option<&AccessToken>) -> Result<AccessToken>;
}

/// A source that always returns the same token (tests, fixtures, long-lived API keys).
#[derive(Debug, Clone)]
pub struct StaticTokenSource(AccessToken);

impl StaticTokenSource {
    /// A source for a fixed token value.
    pub fn new(value: impl Into<String>) -> Self {
        StaticTokenSource(AccessToken::new(value))
    }
}

#[async_trait]
impl TokenSource for StaticTokenSource {
    async fn refresh(&self, _key: &str, _current: Option<&AccessToken>) -> Result<AccessToken> {
        Ok(self.0.clone())
    }
}

/// What the host's reauthorization hook is told.
#[derive(Debug, Clone)]
pub struct ReauthorizationNotice {
    /// The key (account, business) whose holder must authorize again.
    pub key: String,
    /// Why.
    pub reason: String,
}

type Hook = Arc<dyn Fn(&ReauthorizationNotice) + Send + Sync>;
type Flight = Shared<BoxFuture<'static, Result<Arc<AccessToken>>>>;

/// Keeps access tokens fresh. Cheap to clone; clones share state.
#[derive(Clone)]
pub struct TokenManager {
    inner: Arc<Inner>,
}

struct Inner {
    source: Arc<dyn TokenSource>,
    store: Arc<dyn TokenStore>,
    lock: Arc<dyn Lock>,
    clock: Arc<dyn Clock>,
    margin: Duration,
    lock_ttl: Duration,
    poll: Duration,
    lock_prefix: String,
    hook: Option<Hook>,
    cache: TokenCache,
    inflight: Mutex<HashMap<String, Flight>>,
    reauth: Mutex<HashSet<String>>,
}

impl std::fmt::Debug for TokenManager {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenManager")
            .field("store", &self.inner.store)
            .field("lock", &self.inner.lock)
            .field("margin", &self.inner.margin)
            .field("lock_ttl", &self.inner.lock_ttl)
            .finish_non_exhaustive()
    }
}

/// Builds a [`TokenManager`].
pub struct TokenManagerBuilder {
    source: Arc<dyn TokenSource>,
    store: Arc<dyn TokenStore>,
    lock: Arc<dyn Lock>,
    clock: Arc<dyn Clock>,
    margin: Duration,
    lock_ttl: Duration,
    poll: Duration,
    lock_prefix: String,
    hook: Option<Hook>,
}

impl TokenManagerBuilder {
    /// The store shared by instances (default: in memory).
    pub fn store(mut self, store: Arc<dyn TokenStore>) -> Self {
        self.store = store;
        self
    }
    /// The lock shared by instances (default: in memory).
    pub fn lock(mut self, lock: Arc<dyn Lock>) -> Self {
        self.lock = lock;
        self
    }
    /// The clock (default: system).
    pub fn clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }
    /// How long before expiry to refresh (default 5 min).
    pub fn margin(mut self, margin: Duration) -> Self {
        self.margin = margin;
        self
    }
    /// How long the refresh lock is held at most, and how long a refresh may take (default 30 s).
    pub fn lock_ttl(mut self, ttl: Duration) -> Self {
        self.lock_ttl = ttl;
        self
    }
    /// How often a waiting instance looks for the stored result (default 50 ms).
    pub fn poll_interval(mut self, poll: Duration) -> Self {
        self.poll = poll;
        self
    }
    /// Prefix of lock keys (default `omnichannel:token-refresh:`).
    pub fn lock_prefix(mut self, prefix: impl Into<String>) -> Self {
        self.lock_prefix = prefix.into();
        self
    }
    /// Called once when a key needs the account holder to authorize again.
    pub fn on_reauthorization(
        mut self,
        hook: impl Fn(&ReauthorizationNotice) + Send + Sync + 'static,
    ) -> Self {
        self.hook = Some(Arc::new(hook));
        self
    }
    /// The manager.
    pub fn build(self) -> TokenManager {
        TokenManager {
            inner: Arc::new(Inner {
                source: self.source,
                store: self.store,
                lock: self.lock,
                clock: self.clock,
                margin: self.margin,
                lock_ttl: self.lock_ttl,
                poll: self.poll,
                lock_prefix: self.lock_prefix,
                hook: self.hook,
                cache: TokenCache::new(),
                inflight: Mutex::new(HashMap::new()),
                reauth: Mutex::new(HashSet::new()),
            }),
        }
    }
}

impl TokenManager {
    /// Default refresh margin: 5 minutes.
    pub const DEFAULT_MARGIN: Duration = Duration::from_secs(300);
    /// Default lock TTL: 30 seconds.
    pub const DEFAULT_LOCK_TTL: Duration = Duration::from_secs(30);

    /// A builder around a token source, with in-memory store and lock.
    pub fn builder(source: Arc<dyn TokenSource>) -> TokenManagerBuilder {
        TokenManagerBuilder {
            source,
            store: Arc::new(MemoryTokenStore::new()),
            lock: Arc::new(MemoryLock::new()),
            clock: Arc::new(SystemClock),
            margin: Self::DEFAULT_MARGIN,
            lock_ttl: Self::DEFAULT_LOCK_TTL,
            poll: Duration::from_millis(50),
            lock_prefix: "omnichannel:token-refresh:".to_string(),
            hook: None,
        }
    }

    /// A manager that always hands out the same token (fixtures, long-lived keys).
    pub fn with_static_token(value: impl Into<String>) -> Self {
        Self::builder(Arc::new(StaticTokenSource::new(value))).build()
    }

    /// A fresh token for `key`: the cached one on the hot path, otherwise a shared refresh.
    pub async fn access_token(&self, key: &str) -> Result<Arc<AccessToken>> {
        if let Some(t) = self.cached_fresh(key) {
            return Ok(t);
        }
        self.refresh_shared(key, None).await
    }

    fn cached_fresh(&self, key: &str) -> Option<Arc<AccessToken>> {
        self.inner.cache.get_if(key, |t| {
            t.is_fresh(self.inner.clock.now(), self.inner.margin)
        })
    }

    /// The provider refused `rejected` as invalid: get a different token (a newer one another
    /// caller already fetched, or a forced refresh). Call once per failed request, then retry
    /// that request once.
    pub async fn token_rejected(
        &self,
        key: &str,
        rejected: &AccessToken,
    ) -> Result<Arc<AccessToken>> {
        if let Some(t) = self.cached_fresh(key)
            && !t.same_value(rejected)
        {
            return Ok(t);
        }
        self.inner.cache.remove(key);
        self.refresh_shared(key, Some(rejected.clone())).await
    }

    /// Stores a token obtained outside the manager (an OAuth code exchange) and clears any
    /// pending reauthorization for `key`.
    pub async fn set_token(&self, key: &str, token: AccessToken) -> Result<()> {
        self.inner.store.put(key, &token).await?;
        self.inner
            .reauth
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(key);
        self.inner.cache.insert(key, Arc::new(token));
        Ok(())
    }

    /// Forgets the token for `key` everywhere (disconnecting an account).
    pub async fn remove(&self, key: &str) -> Result<()> {
        self.inner.cache.remove(key);
        self.inner.store.delete(key).await
    }

    /// Whether `key` is waiting for the account holder to authorize again.
    pub fn needs_reauthorization(&self, key: &str) -> bool {
        self.inner
            .reauth
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .contains(key)
    }

    async fn refresh_shared(
        &self,
        key: &str,
        stale: Option<AccessToken>,
    ) -> Result<Arc<AccessToken>> {
        let flight = {
            let mut map = self
                .inner
                .inflight
                .lock()
                .unwrap_or_else(|p| p.into_inner());
            match map.get(key) {
                Some(f) => f.clone(),
                None => {
                    let inner = self.inner.clone();
                    let k = key.to_string();
                    let f = async move {
                        let r = inner.refresh_flow(&k, stale.as_ref()).await;
                        inner
                            .inflight
                            .lock()
                            .unwrap_or_else(|p| p.into_inner())
                            .remove(&k);
                        r
                    }
                    .boxed()
                    .shared();
                    map.insert(key.to_string(), f.clone());
                    f
                }
            }
        };
        flight.await
    }
}

/// The in-process token cache, in shards so that readers on different threads touch different
/// memory: a lock word and a token reference count written by every reader would make readers
/// on two cores take turns. Each shard holds its own copy of a token; a thread reads the shard
/// assigned to it, writers update every shard.
struct TokenCache {
    shards: Box<[Shard]>,
}

/// One shard, alone on its cache lines (128 bytes: adjacent-line prefetching pairs 64-byte lines).
#[repr(align(128))]
struct Shard(RwLock<HashMap<String, Arc<AccessToken>>>);

impl TokenCache {
    fn new() -> Self {
        // Twice as many shards as cores, so that threads rarely share one (threads get
        // consecutive numbers, hence different shards, until the numbers wrap). Every shard holds
        // its own copy of each token, so the count is capped: a host with many accounts keeps at
        // most 16 copies of each token (a few KiB per account), not one per thread.
        let n = std::thread::available_parallelism()
            .map_or(4, std::num::NonZeroUsize::get)
            .saturating_mul(2)
            .clamp(4, 16)
            .next_power_of_two();
        TokenCache {
            shards: (0..n).map(|_| Shard(RwLock::new(HashMap::new()))).collect(),
        }
    }

    /// The shard of the calling thread (threads are numbered in order of first use).
    fn local(&self) -> &Shard {
        use std::sync::atomic::{AtomicUsize, Ordering};
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        thread_local! {
            static SLOT: usize = NEXT.fetch_add(1, Ordering::Relaxed);
        }
        let slot = SLOT.with(|s| *s);
        &self.shards[slot & (self.shards.len() - 1)]
    }

    /// The cached token for `key` if `fresh` accepts it.
    fn get_if(
        &self,
        key: &str,
        fresh: impl FnOnce(&AccessToken) -> bool,
    ) -> Option<Arc<AccessToken>> {
        let shard = self.local().0.read().unwrap_or_else(|p| p.into_inner());
        let t = shard.get(key)?;
        fresh(t).then(|| t.clone())
    }

    /// Caches `token` for `key` in every shard (the first keeps this `Arc`, the others a copy).
    fn insert(&self, key: &str, token: Arc<AccessToken>) {
        for (i, shard) in self.shards.iter().enumerate() {
            let t = if i == 0 {
                token.clone()
            } else {
                Arc::new(AccessToken::clone(&token))
            };
            shard
                .0
                .write()
                .unwrap_or_else(|p| p.into_inner())
                .insert(key.to_string(), t);
        }
    }

    fn remove(&self, key: &str) {
        for shard in self.shards.iter() {
            shard
                .0
                .write()
                .unwrap_or_else(|p| p.into_inner())
                .remove(key);
        }
    }
}

impl Inner {
    fn usable(&self, t: &AccessToken, stale: Option<&AccessToken>) -> bool {
        t.is_fresh(self.clock.now(), self.margin) && !stale.is_some_and(|s| s.same_value(t))
    }

    fn remember(&self, key: &str, t: AccessToken) -> Arc<AccessToken> {
        let t = Arc::new(t);
        self.cache.insert(key, t.clone());
        t
    }

    fn reauthorization(&self, key: &str, reason: String) -> Error {
        let first = self
            .reauth
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(key.to_string());
        if first {
            tracing::warn!(
                key,
                "token refresh needs the account holder to authorize again"
            );
            if let Some(hook) = &self.hook {
                hook(&ReauthorizationNotice {
                    key: key.to_string(),
                    reason: reason.clone(),
                });
            }
        }
        Error::ReauthorizationRequired {
            key: key.to_string(),
            reason,
        }
    }

    async fn refresh_flow(
        &self,
        key: &str,
        stale: Option<&AccessToken>,
    ) -> Result<Arc<AccessToken>> {
        if self
            .reauth
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .contains(key)
        {
            return Err(Error::ReauthorizationRequired {
                key: key.to_string(),
                reason: "waiting for the account holder to authorize again".into(),
            });
        }
        let lock_key = format!("{}{}", self.lock_prefix, key);
        // Long enough for a holder that died to lose its lock, and for us to refresh after it.
        let deadline = Instant::now() + self.lock_ttl * 2 + self.poll;
        loop {
            // Another instance may already have stored a fresh token.
            if let Some(t) = self.store.get(key).await?
                && self.usable(&t, stale)
            {
                return Ok(self.remember(key, t));
            }
            if let Some(lease) = self.lock.try_acquire(&lock_key, self.lock_ttl).await? {
                let result = self.refresh_locked(key, stale).await;
                if let Err(e) = self.lock.release(&lease).await {
                    tracing::warn!(key, error = %e, "could not release the token refresh lock; it expires by itself");
                }
                return result;
            }
            if Instant::now() >= deadline {
                return Err(Error::Transport {
                    message: "timed out waiting for another instance's token refresh".into(),
                    retryable: true,
                    source: None,
                });
            }
            tokio::time::sleep(self.poll).await;
        }
    }

    async fn refresh_locked(
        &self,
        key: &str,
        stale: Option<&AccessToken>,
    ) -> Result<Arc<AccessToken>> {
        // Double check under the lock: the previous holder may have just stored one.
        let current = self.store.get(key).await?;
        if let Some(t) = &current {
            if self.usable(t, stale) {
                return Ok(self.remember(key, t.clone()));
            }
            if t.refresh_token.is_some() && t.refresh_expired(self.clock.now()) {
                return Err(self.reauthorization(key, "refresh token expired".into()));
            }
        }
        let refreshed =
            match tokio::time::timeout(self.lock_ttl, self.source.refresh(key, current.as_ref()))
                .await
            {
                Ok(r) => r,
                Err(_) => Err(Error::Transport {
                    message: "token refresh timed out".into(),
                    retryable: true,
                    source: None,
                }),
            };
        match refreshed {
            Ok(t) => {
                if let Err(e) = self.store.put(key, &t).await {
                    // The token works; other instances will refresh on their own.
                    tracing::warn!(key, error = %e, "could not store the refreshed token");
                }
                Ok(self.remember(key, t))
            }
            Err(Error::ReauthorizationRequired { reason, .. }) => {
                Err(self.reauthorization(key, reason))
            }
            Err(e) => Err(e),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::FixedClock;
    use std::sync::atomic::{AtomicUsize, Ordering};

    fn t0() -> DateTime<Utc> {
        DateTime::from_timestamp(1_700_000_000, 0).unwrap()
    }

    /// Counts refreshes; each returns `tok-N` valid for an hour from the clock.
    #[derive(Debug)]
    struct Counting {
        calls: AtomicUsize,
        clock: Arc<FixedClock>,
        fail_first: AtomicUsize,
        delay: Duration,
    }

    impl Counting {
        fn new(clock: Arc<FixedClock>) -> Arc<Self> {
            Arc::new(Counting {
                calls: AtomicUsize::new(0),
                clock,
                fail_first: AtomicUsize::new(0),
                delay: Duration::from_millis(20),
            })
        }
    }

    #[async_trait]
    impl TokenSource for Counting {
        async fn refresh(&self, _key: &str, _current: Option<&AccessToken>) -> Result<AccessToken> {
            let n = self.calls.fetch_add(1, Ordering::SeqCst) + 1;
            tokio::time::sleep(self.delay).await;
            if self.fail_first.load(Ordering::SeqCst) >= n {
                return Err(Error::from_status(503, None, "down", None));
            }
            Ok(AccessToken::new(format!("tok-{n}"))
                .expires_at(self.clock.now() + chrono::Duration::hours(1))
                .with_refresh(
                    format!("ref-{n}"),
                    Some(self.clock.now() + chrono::Duration::days(30)),
                ))
        }
    }

    fn expiring(value: &str, clock: &FixedClock) -> AccessToken {
        // Expires within the 5 min margin.
        AccessToken::new(value)
            .expires_at(clock.now() + chrono::Duration::minutes(2))
            .with_refresh("ref-0", Some(clock.now() + chrono::Duration::days(1)))
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn thousand_callers_one_refresh() {
        let clock = Arc::new(FixedClock::new(t0()));
        let src = Counting::new(clock.clone());
        let m = TokenManager::builder(src.clone())
            .clock(clock.clone())
            .build();
        m.set_token("biz", expiring("old", &clock)).await.unwrap();
        let mut tasks = Vec::new();
        for _ in 0..1000 {
            let m = m.clone();
            tasks.push(tokio::spawn(async move { m.access_token("biz").await }));
        }
        for t in tasks {
            let tok = t.await.unwrap().unwrap();
            assert_eq!(tok.value.expose_secret(), "tok-1");
        }
        assert_eq!(src.calls.load(Ordering::SeqCst), 1);
        // Hot path afterwards: no more refreshes.
        assert_eq!(
            m.access_token("biz").await.unwrap().value.expose_secret(),
            "tok-1"
        );
        assert_eq!(src.calls.load(Ordering::SeqCst), 1);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn failure_reaches_all_waiters_then_next_call_retries() {
        let clock = Arc::new(FixedClock::new(t0()));
        let src = Counting::new(clock.clone());
        src.fail_first.store(1, Ordering::SeqCst);
        let m = TokenManager::builder(src.clone())
            .clock(clock.clone())
            .build();
        m.set_token("biz", expiring("old", &clock)).await.unwrap();
        let mut tasks = Vec::new();
        for _ in 0..100 {
            let m = m.clone();
            tasks.push(tokio::spawn(async move { m.access_token("biz").await }));
        }
        for t in tasks {
            let e = t.await.unwrap().unwrap_err();
            assert_eq!(e.kind(), "provider_error");
            assert!(e.retryable());
        }
        assert_eq!(src.calls.load(Ordering::SeqCst), 1);
        let tok = m.access_token("biz").await.unwrap();
        assert_eq!(tok.value.expose_secret(), "tok-2");
        assert_eq!(src.calls.load(Ordering::SeqCst), 2);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn two_managers_sharing_store_and_lock_refresh_once() {
        let clock = Arc::new(FixedClock::new(t0()));
        let store: Arc<dyn TokenStore> = Arc::new(MemoryTokenStore::new());
        let lock: Arc<dyn Lock> = Arc::new(MemoryLock::new());
        let src = Counting::new(clock.clone());
        let mk = || {
            TokenManager::builder(src.clone())
                .clock(clock.clone())
                .store(store.clone())
                .lock(lock.clone())
                .poll_interval(Duration::from_millis(5))
                .build()
        };
        let (a, b) = (mk(), mk());
        store.put("biz", &expiring("old", &clock)).await.unwrap();
        let mut tasks = Vec::new();
        for i in 0..200 {
            let m = if i % 2 == 0 { a.clone() } else { b.clone() };
            tasks.push(tokio::spawn(async move { m.access_token("biz").await }));
        }
        for t in tasks {
            assert_eq!(t.await.unwrap().unwrap().value.expose_secret(), "tok-1");
        }
        assert_eq!(src.calls.load(Ordering::SeqCst), 1);
    }

    #[tokio::test]
    async fn expired_refresh_token_needs_reauthorization_and_hook_fires_once() {
        let clock = Arc::new(FixedClock::new(t0()));
        let src = Counting::new(clock.clone());
        let hooks = Arc::new(AtomicUsize::new(0));
        let h = hooks.clone();
        let m = TokenManager::builder(src.clone())
            .clock(clock.clone())
            .on_reauthorization(move |n| {
                assert_eq!(n.key, "biz");
                h.fetch_add(1, Ordering::SeqCst);
            })
            .build();
        let dead = AccessToken::new("old")
            .expires_at(t0() - chrono::Duration::minutes(1))
            .with_refresh("ref-0", Some(t0() - chrono::Duration::seconds(1)));
        m.set_token("biz", dead).await.unwrap();
        let mut tasks = Vec::new();
        for _ in 0..50 {
            let m = m.clone();
            tasks.push(tokio::spawn(async move { m.access_token("biz").await }));
        }
        for t in tasks {
            assert!(t.await.unwrap().unwrap_err().requires_reauthorization());
        }
        assert!(
            m.access_token("biz")
                .await
                .unwrap_err()
                .requires_reauthorization()
        );
        assert_eq!(hooks.load(Ordering::SeqCst), 1);
        assert_eq!(
            src.calls.load(Ordering::SeqCst),
            0,
            "no refresh with a dead refresh token"
        );
        assert!(m.needs_reauthorization("biz"));
        // The host reconnects the account: tokens flow again.
        m.set_token(
            "biz",
            AccessToken::new("fresh").expires_at(t0() + chrono::Duration::hours(1)),
        )
        .await
        .unwrap();
        assert_eq!(
            m.access_token("biz").await.unwrap().value.expose_secret(),
            "fresh"
        );
    }

    #[tokio::test]
    async fn rejected_token_forces_one_refresh() {
        let clock = Arc::new(FixedClock::new(t0()));
        let src = Counting::new(clock.clone());
        let m = TokenManager::builder(src.clone())
            .clock(clock.clone())
            .build();
        let good = AccessToken::new("good").expires_at(t0() + chrono::Duration::hours(1));
        m.set_token("biz", good.clone()).await.unwrap();
        let t = m.access_token("biz").await.unwrap();
        assert_eq!(t.value.expose_secret(), "good");
        let n = m.token_rejected("biz", &t).await.unwrap();
        assert_eq!(n.value.expose_secret(), "tok-1");
        // A second caller that also saw "good" rejected gets the new one without a refresh.
        let n2 = m.token_rejected("biz", &good).await.unwrap();
        assert_eq!(n2.value.expose_secret(), "tok-1");
        assert_eq!(src.calls.load(Ordering::SeqCst), 1);
    }

    #[tokio::test]
    async fn margin_triggers_refresh_before_expiry() {
        let clock = Arc::new(FixedClock::new(t0()));
        let src = Counting::new(clock.clone());
        let m = TokenManager::builder(src.clone())
            .clock(clock.clone())
            .build();
        m.set_token(
            "biz",
            AccessToken::new("a").expires_at(t0() + chrono::Duration::minutes(6)),
        )
        .await
        .unwrap();
        assert_eq!(
            m.access_token("biz").await.unwrap().value.expose_secret(),
            "a"
        );
        clock.advance(Duration::from_secs(61));
        assert_eq!(
            m.access_token("biz").await.unwrap().value.expose_secret(),
            "tok-1"
        );
    }

    #[test]
    fn every_thread_sees_set_rejected_and_removed_tokens() {
        let clock = Arc::new(FixedClock::new(t0()));
        let src = Counting::new(clock.clone());
        let m = TokenManager::builder(src.clone())
            .clock(clock.clone())
            .build();
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let fresh = |v: &str| AccessToken::new(v).expires_at(t0() + chrono::Duration::hours(1));
        // Read the token on more threads than there are shards, after each change.
        let seen_everywhere = |m: &TokenManager| -> Vec<String> {
            std::thread::scope(|s| {
                let handles: Vec<_> = (0..100)
                    .map(|_| {
                        s.spawn(|| {
                            let rt = tokio::runtime::Builder::new_current_thread()
                                .enable_all()
                                .build()
                                .unwrap();
                            rt.block_on(m.access_token("biz"))
                                .unwrap()
                                .value
                                .expose_secret()
                                .to_string()
                        })
                    })
                    .collect();
                let mut v: Vec<String> = handles.into_iter().map(|h| h.join().unwrap()).collect();
                v.dedup();
                v
            })
        };
        rt.block_on(m.set_token("biz", fresh("a"))).unwrap();
        assert_eq!(seen_everywhere(&m), ["a"]);
        rt.block_on(m.set_token("biz", fresh("b"))).unwrap();
        assert_eq!(seen_everywhere(&m), ["b"]);
        // A rejection clears every shard: one refresh, then everyone has it.
        let rejected = fresh("b");
        let n = rt.block_on(m.token_rejected("biz", &rejected)).unwrap();
        assert_eq!(n.value.expose_secret(), "tok-1");
        assert_eq!(seen_everywhere(&m), ["tok-1"]);
        assert_eq!(src.calls.load(Ordering::SeqCst), 1);
        // Removed everywhere: the next reads refresh once (single flight across threads is not
        // promised here, only that no thread keeps the removed token).
        rt.block_on(m.remove("biz")).unwrap();
        assert!(seen_everywhere(&m).iter().all(|v| v != "tok-1"));
    }

    #[test]
    fn token_debug_and_display_never_show_secrets() {
        let t = AccessToken::new("very-secret-access").with_refresh("very-secret-refresh", None);
        let d = format!("{t:?}");
        assert!(!d.contains("very-secret"), "{d}");
        let json = serde_json::to_string(&t).unwrap();
        let back: AccessToken = serde_json::from_str(&json).unwrap();
        assert!(back.same_value(&t));
        assert_eq!(
            back.refresh_token.unwrap().expose_secret(),
            "very-secret-refresh"
        );
    }
}
