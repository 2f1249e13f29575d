//! Connection settings: the Redis URL (a secret: it may carry a password), the key prefix,
//! timeouts and the reconnect policy.

use std::time::Duration;

use omnichannel_core::secrecy::{ExposeSecret, SecretString};
use omnichannel_core::{Error, Result, Settings};

use crate::RedisStores;
use crate::error::store_error;

/// How to reach Redis and how to name keys. `Debug` never shows the URL (it may hold a password).
///
/// ```
/// use std::time::Duration;
/// use omnichannel_redis::RedisConfig;
///
/// let config = RedisConfig::new("redis://127.0.0.1:6379/0")
///     .key_prefix("myapp:omnichannel:")
///     .response_timeout(Duration::from_secs(1));
/// assert_eq!(config.prefix(), "myapp:omnichannel:");
/// ```
#[derive(Clone)]
pub struct RedisConfig {
    url: SecretString,
    key_prefix: String,
    response_timeout: Duration,
    connection_timeout: Duration,
    reconnect_retries: usize,
    reconnect_min_delay: Duration,
    reconnect_max_delay: Duration,
    #[cfg(feature = "tls")]
    tls_root_certificate: Option<Vec<u8>>,
}

impl std::fmt::Debug for RedisConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisConfig")
            .field("url", &"[redacted]")
            .field("key_prefix", &self.key_prefix)
            .field("response_timeout", &self.response_timeout)
            .field("connection_timeout", &self.connection_timeout)
            .field("reconnect_retries", &self.reconnect_retries)
            .field("reconnect_min_delay", &self.reconnect_min_delay)
            .field("reconnect_max_delay", &self.reconnect_max_delay)
            .finish_non_exhaustive()
    }
}

impl RedisConfig {
    /// Default key prefix: `omnichannel:`.
    pub const DEFAULT_KEY_PREFIX: &'static str = "omnichannel:";
    /// Default time to wait for a reply: 1 s.
    pub const DEFAULT_RESPONSE_TIMEOUT: Duration = Duration::from_secs(1);
    /// Default time to wait for a connection: 1 s.
    pub const DEFAULT_CONNECTION_TIMEOUT: Duration = Duration::from_secs(1);
    /// Default connection attempts per reconnect before commands fail: 6.
    pub const DEFAULT_RECONNECT_RETRIES: usize = 6;
    /// Default first delay between connection attempts: 100 ms (doubling, with jitter).
    pub const DEFAULT_RECONNECT_MIN_DELAY: Duration = Duration::from_millis(100);
    /// Default longest delay between connection attempts: 2 s.
    pub const DEFAULT_RECONNECT_MAX_DELAY: Duration = Duration::from_secs(2);

    /// Settings for `url` (`redis://[user:password@]host[:port][/db]`, `redis+unix:///path`,
    /// or with the `tls` feature `rediss://...`, verified against the system's roots), with the
    /// defaults.
    pub fn new(url: impl Into<String>) -> Self {
        RedisConfig {
            url: SecretString::from(url.into()),
            key_prefix: Self::DEFAULT_KEY_PREFIX.to_string(),
            response_timeout: Self::DEFAULT_RESPONSE_TIMEOUT,
            connection_timeout: Self::DEFAULT_CONNECTION_TIMEOUT,
            reconnect_retries: Self::DEFAULT_RECONNECT_RETRIES,
            reconnect_min_delay: Self::DEFAULT_RECONNECT_MIN_DELAY,
            reconnect_max_delay: Self::DEFAULT_RECONNECT_MAX_DELAY,
            #[cfg(feature = "tls")]
            tls_root_certificate: None,
        }
    }

    /// Settings from JSON (a gateway's `redis` table):
    ///
    /// | key | type | default |
    /// | --- | --- | --- |
    /// | `url` | string (secret), required | |
    /// | `key_prefix` | string | `omnichannel:` |
    /// | `response_timeout_ms` | integer | 1000 |
    /// | `connection_timeout_ms` | integer | 1000 |
    /// | `reconnect_retries` | integer | 6 |
    /// | `reconnect_max_delay_ms` | integer | 2000 |
    /// | `tls_root_certificate_pem` | string: a CA to trust for `rediss://` (feature `tls`) | system roots |
    ///
    /// Errors are [`Error::Config`] naming the setting, never its value.
    pub fn from_settings(value: &serde_json::Value) -> Result<Self> {
        let s = Settings::new(value)?;
        let mut config = RedisConfig {
            url: s.require_secret("url")?,
            ..RedisConfig::new(String::new())
        };
        if let Some(prefix) = s.str("key_prefix")? {
            config.key_prefix = prefix.to_string();
        }
        if let Some(ms) = s.u64("response_timeout_ms")? {
            config = config.response_timeout(Duration::from_millis(ms));
        }
        if let Some(ms) = s.u64("connection_timeout_ms")? {
            config = config.connection_timeout(Duration::from_millis(ms));
        }
        if let Some(n) = s.u64("reconnect_retries")? {
            config.reconnect_retries = usize::try_from(n)
                .map_err(|_| Error::config("reconnect_retries", "is too large"))?;
        }
        if let Some(ms) = s.u64("reconnect_max_delay_ms")? {
            config.reconnect_max_delay = Duration::from_millis(ms);
        }
        if let Some(pem) = s.str("tls_root_certificate_pem")? {
            #[cfg(feature = "tls")]
            {
                config.tls_root_certificate = Some(pem.as_bytes().to_vec());
            }
            #[cfg(not(feature = "tls"))]
            {
                let _ = pem;
                return Err(Error::config(
                    "tls_root_certificate_pem",
                    "needs the `tls` feature of omnichannel-redis",
                ));
            }
        }
        config.validate()?;
        Ok(config)
    }

    /// Prefix of every key this crate writes (default `omnichannel:`). Instances that must
    /// share locks, tokens and dedup use the same prefix; separate deployments on one server
    /// use different ones. Under it: `lock:<key>`, `token:<key>`, `dedup:<key>`.
    pub fn key_prefix(mut self, prefix: impl Into<String>) -> Self {
        self.key_prefix = prefix.into();
        self
    }

    /// The key prefix.
    pub fn prefix(&self) -> &str {
        &self.key_prefix
    }

    /// How long to wait for a reply before the operation fails with a retryable
    /// [`Error::Store`] (default 1 s; at least 1 ms).
    pub fn response_timeout(mut self, timeout: Duration) -> Self {
        self.response_timeout = timeout;
        self
    }

    /// How long one connection attempt may take (default 1 s; at least 1 ms).
    pub fn connection_timeout(mut self, timeout: Duration) -> Self {
        self.connection_timeout = timeout;
        self
    }

    /// After a lost connection, how many connection attempts are made (with exponential
    /// backoff from `min_delay` up to `max_delay`) before waiting commands fail. The next
    /// command after such a failure starts a new round, so the stores recover whenever the
    /// server is back. Defaults: 6 attempts, 100 ms, 2 s.
    pub fn reconnect(mut self, retries: usize, min_delay: Duration, max_delay: Duration) -> Self {
        self.reconnect_retries = retries;
        self.reconnect_min_delay = min_delay;
        self.reconnect_max_delay = max_delay;
        self
    }

    /// Trusts this CA (PEM) for `rediss://` instead of the system's roots (a private CA, or a
    /// self-signed server). Needs the `tls` feature.
    #[cfg(feature = "tls")]
    pub fn tls_root_certificate(mut self, pem: impl Into<Vec<u8>>) -> Self {
        self.tls_root_certificate = Some(pem.into());
        self
    }

    fn validate(&self) -> Result<()> {
        if self.response_timeout.is_zero() {
            return Err(Error::config(
                "response_timeout_ms",
                "must be at least 1 ms",
            ));
        }
        if self.connection_timeout.is_zero() {
            return Err(Error::config(
                "connection_timeout_ms",
                "must be at least 1 ms",
            ));
        }
        if self.reconnect_max_delay < self.reconnect_min_delay {
            return Err(Error::config(
                "reconnect_max_delay_ms",
                "must not be below the minimum delay",
            ));
        }
        Ok(())
    }

    fn client(&self) -> Result<(redis::Client, redis::aio::ConnectionManagerConfig)> {
        self.validate()?;
        let url = self.url.expose_secret();
        let tls_url = url.starts_with("rediss:") || url.starts_with("valkeys:");
        let bad_url = || {
            Error::config(
                "url",
                if tls_url && !cfg!(feature = "tls") {
                    "TLS URLs (rediss://) need the `tls` feature of omnichannel-redis"
                } else {
                    "not a valid Redis URL (expected redis://[user:password@]host[:port][/db], \
                     rediss://... for TLS, or redis+unix:///path)"
                },
            )
        };
        #[cfg(feature = "tls")]
        let client = match &self.tls_root_certificate {
            Some(pem) => {
                if !tls_url {
                    return Err(Error::config(
                        "tls_root_certificate",
                        "is set but the URL is not a rediss:// (TLS) one",
                    ));
                }
                redis::Client::build_with_tls(
                    url,
                    redis::TlsCertificates {
                        client_tls: None,
                        root_cert: Some(pem.clone()),
                    },
                )
                .map_err(|_| {
                    Error::config(
                        "tls_root_certificate",
                        "not a usable PEM certificate, or the URL is not valid",
                    )
                })?
            }
            None => redis::Client::open(url).map_err(|_| bad_url())?,
        };
        #[cfg(not(feature = "tls"))]
        let client = redis::Client::open(url).map_err(|_| bad_url())?;
        let manager = redis::aio::ConnectionManagerConfig::new()
            .set_response_timeout(Some(self.response_timeout))
            .set_connection_timeout(Some(self.connection_timeout))
            .set_number_of_retries(self.reconnect_retries)
            .set_min_delay(self.reconnect_min_delay)
            .set_max_delay(self.reconnect_max_delay);
        Ok((client, manager))
    }

    /// Connects, waiting for the first connection (an unreachable server is a retryable
    /// [`Error::Store`]; a bad URL is [`Error::Config`]).
    pub async fn connect(&self) -> Result<RedisStores> {
        let (client, manager) = self.client()?;
        let conn = redis::aio::ConnectionManager::new_with_config(client, manager)
            .await
            .map_err(|e| store_error("connect", &e))?;
        Ok(RedisStores::from_parts(conn, &self.key_prefix))
    }

    /// Prepares the stores without connecting: the first operation connects. Only a bad URL
    /// or setting fails here. Use it when the host must start while Redis is still down.
    ///
    /// Must be called inside a Tokio runtime (the connection task runs on it).
    pub fn connect_lazy(&self) -> Result<RedisStores> {
        let (client, manager) = self.client()?;
        if tokio::runtime::Handle::try_current().is_err() {
            return Err(Error::config(
                "runtime",
                "connect_lazy must be called inside a Tokio runtime",
            ));
        }
        let conn = redis::aio::ConnectionManager::new_lazy_with_config(client, manager)
            .map_err(|e| store_error("connect", &e))?;
        Ok(RedisStores::from_parts(conn, &self.key_prefix))
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    #[test]
    fn from_settings_reads_every_key() {
        let c = RedisConfig::from_settings(&serde_json::json!({
            "url": "redis://:test-secret-not-real@127.0.0.1:6379/2",
            "key_prefix": "app:",
            "response_timeout_ms": 250,
            "connection_timeout_ms": 300,
            "reconnect_retries": 2,
            "reconnect_max_delay_ms": 500
        }))
        .unwrap();
        assert_eq!(c.prefix(), "app:");
        assert_eq!(c.response_timeout, Duration::from_millis(250));
        assert_eq!(c.connection_timeout, Duration::from_millis(300));
        assert_eq!(c.reconnect_retries, 2);
        assert_eq!(c.reconnect_max_delay, Duration::from_millis(500));
        let debug = format!("{c:?}");
        assert!(!debug.contains("test-secret-not-real"), "{debug}");
        assert!(!debug.contains("127.0.0.1"), "{debug}");
    }

    #[test]
    fn from_settings_reads_the_tls_root_certificate() {
        let v = serde_json::json!({
            "url": "rediss://127.0.0.1:6380/",
            "tls_root_certificate_pem": "-----BEGIN CERTIFICATE-----\n..."
        });
        #[cfg(feature = "tls")]
        {
            let c = RedisConfig::from_settings(&v).unwrap();
            assert!(
                c.tls_root_certificate
                    .as_deref()
                    .is_some_and(|p| p.starts_with(b"-----BEGIN CERTIFICATE-----"))
            );
        }
        #[cfg(not(feature = "tls"))]
        {
            let e = RedisConfig::from_settings(&v).unwrap_err();
            assert!(
                matches!(&e, Error::Config { setting, .. } if setting == "tls_root_certificate_pem")
            );
        }
    }

    #[test]
    fn from_settings_defaults_and_errors() {
        let c =
            RedisConfig::from_settings(&serde_json::json!({"url": "redis://127.0.0.1"})).unwrap();
        assert_eq!(c.prefix(), RedisConfig::DEFAULT_KEY_PREFIX);
        assert_eq!(c.response_timeout, RedisConfig::DEFAULT_RESPONSE_TIMEOUT);

        let missing = RedisConfig::from_settings(&serde_json::json!({})).unwrap_err();
        assert!(matches!(&missing, Error::Config { setting, .. } if setting == "url"));
        let zero = RedisConfig::from_settings(
            &serde_json::json!({"url": "redis://127.0.0.1", "response_timeout_ms": 0}),
        )
        .unwrap_err();
        assert!(matches!(&zero, Error::Config { setting, .. } if setting == "response_timeout_ms"));
        let wrong_type = RedisConfig::from_settings(&serde_json::json!({"url": 5})).unwrap_err();
        assert_eq!(wrong_type.kind(), "invalid_input");
    }

    #[test]
    #[cfg(not(feature = "tls"))]
    fn tls_url_is_refused_with_a_reason() {
        let err = RedisConfig::new("rediss://:test-secret-not-real@127.0.0.1:6380/")
            .connect_lazy()
            .unwrap_err();
        let text = format!("{err} {err:?}");
        assert!(text.contains("TLS"), "{text}");
        assert!(!text.contains("test-secret-not-real"), "{text}");
    }

    #[test]
    fn bad_url_is_a_config_error_without_the_url() {
        let err = RedisConfig::new("http://user:test-secret-not-real@example.invalid")
            .connect_lazy()
            .unwrap_err();
        assert!(matches!(&err, Error::Config { setting, .. } if setting == "url"));
        let text = format!("{err} {err:?}");
        assert!(!text.contains("test-secret-not-real"), "{text}");
    }
}
