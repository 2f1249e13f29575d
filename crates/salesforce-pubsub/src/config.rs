//! Subscriber settings: what to subscribe to, where, and the bounds that keep it safe.

use std::time::Duration;

use omnichannel_core::{Error, Result, Settings};

/// Salesforce's Pub/Sub API endpoint (production and sandboxes).
pub const DEFAULT_ENDPOINT: &str = "https://api.pubsub.salesforce.com:7443";
/// The most events one `FetchRequest` may ask for (the server treats more as 100).
pub const MAX_BATCH: u32 = 100;
/// Default bound of one event's Avro payload: 1 MiB (platform events are at most 1 MB).
pub const DEFAULT_MAX_EVENT_BYTES: usize = 1024 * 1024;
/// Default bound of one schema's JSON: 256 KiB.
pub const DEFAULT_MAX_SCHEMA_BYTES: usize = 256 * 1024;
/// Default number of cached writer schemas.
pub const DEFAULT_SCHEMA_CACHE: usize = 64;

/// Where a subscription starts when no replay id is stored for the topic.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum StartAt {
    /// Only events published from now on (`LATEST`, the default).
    #[default]
    Latest,
    /// Every event still retained (`EARLIEST`, up to 72 hours back).
    Earliest,
}

impl StartAt {
    fn parse(s: &str) -> Result<Self> {
        match s.to_ascii_lowercase().as_str() {
            "latest" => Ok(StartAt::Latest),
            "earliest" => Ok(StartAt::Earliest),
            _ => Err(Error::config(
                "replay_start",
                "must be `latest` or `earliest`",
            )),
        }
    }
}

/// Settings of a [`Subscriber`](crate::Subscriber). Holds no secret: the access token comes
/// from the [`TokenManager`](omnichannel_core::TokenManager) at each (re)connect.
#[derive(Debug, Clone)]
pub struct SubscriberConfig {
    /// gRPC endpoint, `https://host:port` (default [`DEFAULT_ENDPOINT`]); `http://` only for tests.
    pub endpoint: String,
    /// Topic, `/event/<EventApiName>` (the custom platform event of the channel definition).
    pub topic: String,
    /// The org id: the token manager's key, and the `tenantid` header unless `tenant_id` is set.
    pub org_id: String,
    /// The `tenantid` header when it differs from the org id (`core/<Subdomain>/<OrgId>`).
    pub tenant_id: Option<String>,
    /// The `instanceurl` header when the access token's `extra` has no `instance_url`.
    pub instance_url: Option<String>,
    /// Where to start when no replay id is stored.
    pub start: StartAt,
    /// Events requested per `FetchRequest` (1..=100, default 100).
    pub batch_size: u32,
    /// Ask for more as soon as no more than this many requested events are still pending
    /// (default half the batch): the server is never left without a request while the
    /// subscriber keeps up.
    pub refill_below: u32,
    /// Largest Avro payload decoded; larger events go to `EventSink::rejected`.
    pub max_event_bytes: usize,
    /// Largest schema JSON accepted from `GetSchema`.
    pub max_schema_bytes: usize,
    /// Most writer schemas cached.
    pub schema_cache_capacity: usize,
    /// First reconnect delay (doubles up to `backoff_max`, with jitter; default 1 s).
    pub backoff_min: Duration,
    /// Longest reconnect delay (default 60 s).
    pub backoff_max: Duration,
    /// TCP/TLS connect timeout (default 10 s).
    pub connect_timeout: Duration,
    /// Timeout of `GetTopic`/`GetSchema` calls (default 30 s).
    pub rpc_timeout: Duration,
    /// Reconnect when the stream brings nothing, not even a keepalive, for this long
    /// (default 330 s; the server sends a keepalive at least every 270 s).
    pub idle_timeout: Duration,
    /// How long event ids are remembered by the dedup store (default 73 h: events are retained
    /// 72 h).
    pub dedup_ttl: Duration,
    /// Save the `latest_replay_id` of keepalives while no requested event is outstanding
    /// undelivered (default true), so a resubscription does not start far back.
    pub save_keepalive_replay: bool,
}

impl SubscriberConfig {
    /// Settings for `topic` of org `org_id`, with defaults for everything else.
    pub fn new(topic: impl Into<String>, org_id: impl Into<String>) -> Self {
        SubscriberConfig {
            endpoint: DEFAULT_ENDPOINT.to_string(),
            topic: topic.into(),
            org_id: org_id.into(),
            tenant_id: None,
            instance_url: None,
            start: StartAt::Latest,
            batch_size: MAX_BATCH,
            refill_below: MAX_BATCH / 2,
            max_event_bytes: DEFAULT_MAX_EVENT_BYTES,
            max_schema_bytes: DEFAULT_MAX_SCHEMA_BYTES,
            schema_cache_capacity: DEFAULT_SCHEMA_CACHE,
            backoff_min: Duration::from_secs(1),
            backoff_max: Duration::from_secs(60),
            connect_timeout: Duration::from_secs(10),
            rpc_timeout: Duration::from_secs(30),
            idle_timeout: Duration::from_secs(330),
            dedup_ttl: Duration::from_secs(73 * 3600),
            save_keepalive_replay: true,
        }
    }

    /// Sets the endpoint.
    pub fn endpoint(mut self, url: impl Into<String>) -> Self {
        self.endpoint = url.into();
        self
    }

    /// Sets the `tenantid` header.
    pub fn tenant_id(mut self, id: impl Into<String>) -> Self {
        self.tenant_id = Some(id.into());
        self
    }

    /// Sets the fallback `instanceurl` header.
    pub fn instance_url(mut self, url: impl Into<String>) -> Self {
        self.instance_url = Some(url.into());
        self
    }

    /// Sets where to start without a stored replay id.
    pub fn start(mut self, start: StartAt) -> Self {
        self.start = start;
        self
    }

    /// Sets the batch size (capped to 100) and the refill point to half of it.
    pub fn batch_size(mut self, n: u32) -> Self {
        self.batch_size = n.clamp(1, MAX_BATCH);
        self.refill_below = self.batch_size / 2;
        self
    }

    /// Sets the refill point (kept below the batch size).
    pub fn refill_below(mut self, n: u32) -> Self {
        self.refill_below = n;
        self
    }

    /// Sets the largest Avro payload decoded.
    pub fn max_event_bytes(mut self, n: usize) -> Self {
        self.max_event_bytes = n;
        self
    }

    /// Sets the schema cache size.
    pub fn schema_cache_capacity(mut self, n: usize) -> Self {
        self.schema_cache_capacity = n;
        self
    }

    /// Sets the reconnect backoff bounds.
    pub fn backoff(mut self, min: Duration, max: Duration) -> Self {
        self.backoff_min = min;
        self.backoff_max = max.max(min);
        self
    }

    /// Sets the idle timeout of the stream.
    pub fn idle_timeout(mut self, d: Duration) -> Self {
        self.idle_timeout = d;
        self
    }

    /// Reads settings from JSON: `topic`, `org_id` (required), `pubsub_endpoint`, `tenant_id`,
    /// `instance_url`, `replay_start` (`latest`|`earliest`), `batch_size`, `refill_below`,
    /// `max_event_bytes`, `max_schema_bytes`, `schema_cache_capacity`, `backoff_min_ms`,
    /// `backoff_max_ms`, `connect_timeout_secs`, `rpc_timeout_secs`, `idle_timeout_secs`,
    /// `dedup_ttl_secs`, `save_keepalive_replay`.
    pub fn from_settings(v: &serde_json::Value) -> Result<Self> {
        let s = Settings::new(v)?;
        let mut c = SubscriberConfig::new(s.require_str("topic")?, s.require_str("org_id")?);
        if let Some(e) = s.str("pubsub_endpoint")? {
            c.endpoint = e.to_string();
        }
        c.tenant_id = s.str("tenant_id")?.map(str::to_string);
        c.instance_url = s.str("instance_url")?.map(str::to_string);
        if let Some(start) = s.str("replay_start")? {
            c.start = StartAt::parse(start)?;
        }
        let small =
            |key: &str, v: u64| u32::try_from(v).map_err(|_| Error::config(key, "is too large"));
        if let Some(n) = s.u64("batch_size")? {
            let n = small("batch_size", n)?;
            if n == 0 || n > MAX_BATCH {
                return Err(Error::config("batch_size", "must be between 1 and 100"));
            }
            c = c.batch_size(n);
        }
        if let Some(n) = s.u64("refill_below")? {
            c.refill_below = small("refill_below", n)?;
        }
        let size = |key: &str, default: usize| -> Result<usize> {
            match s.u64(key)? {
                None => Ok(default),
                Some(n) => usize::try_from(n).map_err(|_| Error::config(key, "is too large")),
            }
        };
        c.max_event_bytes = size("max_event_bytes", c.max_event_bytes)?;
        c.max_schema_bytes = size("max_schema_bytes", c.max_schema_bytes)?;
        c.schema_cache_capacity = size("schema_cache_capacity", c.schema_cache_capacity)?;
        if let Some(ms) = s.u64("backoff_min_ms")? {
            c.backoff_min = Duration::from_millis(ms);
        }
        if let Some(ms) = s.u64("backoff_max_ms")? {
            c.backoff_max = Duration::from_millis(ms);
        }
        c.connect_timeout = s.secs_or("connect_timeout_secs", c.connect_timeout)?;
        c.rpc_timeout = s.secs_or("rpc_timeout_secs", c.rpc_timeout)?;
        c.idle_timeout = s.secs_or("idle_timeout_secs", c.idle_timeout)?;
        c.dedup_ttl = s.secs_or("dedup_ttl_secs", c.dedup_ttl)?;
        c.save_keepalive_replay = s.bool_or("save_keepalive_replay", c.save_keepalive_replay)?;
        c.validate()?;
        Ok(c)
    }

    /// Checks the settings; the subscriber calls it when built.
    pub fn validate(&self) -> Result<()> {
        if !self.topic.starts_with('/') || self.topic.len() < 2 {
            return Err(Error::config(
                "topic",
                "must be a topic path such as `/event/My_Event__e`",
            ));
        }
        if self.org_id.trim().is_empty() {
            return Err(Error::config("org_id", "must not be empty"));
        }
        if !(self.endpoint.starts_with("https://") || self.endpoint.starts_with("http://")) {
            return Err(Error::config(
                "pubsub_endpoint",
                "must be an https:// URL with a port",
            ));
        }
        if self.batch_size == 0 || self.batch_size > MAX_BATCH {
            return Err(Error::config("batch_size", "must be between 1 and 100"));
        }
        if self.refill_below >= self.batch_size {
            return Err(Error::config(
                "refill_below",
                "must be smaller than batch_size",
            ));
        }
        if self.max_event_bytes == 0 || self.max_schema_bytes == 0 {
            return Err(Error::config(
                "max_event_bytes",
                "size limits must be positive",
            ));
        }
        if self.backoff_min.is_zero() || self.backoff_max < self.backoff_min {
            return Err(Error::config(
                "backoff_min_ms",
                "must be positive and not above backoff_max_ms",
            ));
        }
        if self.idle_timeout.is_zero() || self.rpc_timeout.is_zero() {
            return Err(Error::config(
                "idle_timeout_secs",
                "timeouts must be positive",
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use serde_json::json;

    #[test]
    fn reads_settings_with_defaults() {
        let c = SubscriberConfig::from_settings(
            &json!({"topic": "/event/Reply__e", "org_id": "00D000000000001"}),
        )
        .unwrap();
        assert_eq!(c.endpoint, DEFAULT_ENDPOINT);
        assert_eq!(c.batch_size, 100);
        assert_eq!(c.refill_below, 50);
        assert_eq!(c.start, StartAt::Latest);
        let c = SubscriberConfig::from_settings(&json!({
            "topic": "/event/Reply__e", "org_id": "00D", "replay_start": "EARLIEST",
            "batch_size": 10, "refill_below": 3, "pubsub_endpoint": "http://127.0.0.1:1",
            "backoff_min_ms": 5, "backoff_max_ms": 50, "tenant_id": "core/acme/00D"
        }))
        .unwrap();
        assert_eq!(c.start, StartAt::Earliest);
        assert_eq!((c.batch_size, c.refill_below), (10, 3));
        assert_eq!(c.backoff_min, Duration::from_millis(5));
        assert_eq!(c.tenant_id.as_deref(), Some("core/acme/00D"));
    }

    #[test]
    fn refuses_bad_settings() {
        for (v, setting) in [
            (json!({"org_id": "00D"}), "topic"),
            (json!({"topic": "Reply__e", "org_id": "00D"}), "topic"),
            (
                json!({"topic": "/event/R__e", "org_id": "00D", "batch_size": 101}),
                "batch_size",
            ),
            (
                json!({"topic": "/event/R__e", "org_id": "00D", "batch_size": 0}),
                "batch_size",
            ),
            (
                json!({"topic": "/event/R__e", "org_id": "00D", "refill_below": 100}),
                "refill_below",
            ),
            (
                json!({"topic": "/event/R__e", "org_id": "00D", "replay_start": "custom"}),
                "replay_start",
            ),
            (
                json!({"topic": "/event/R__e", "org_id": "00D", "pubsub_endpoint": "api:7443"}),
                "pubsub_endpoint",
            ),
        ] {
            let e = SubscriberConfig::from_settings(&v).unwrap_err();
            assert_eq!(e.kind(), "invalid_input");
            assert!(e.to_string().contains(setting), "{e}");
        }
    }
}
