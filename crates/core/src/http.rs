//! HTTP plumbing shared by provider crates: a default client with timeouts, retries with
//! backoff that honour `Retry-After`, and sensitive header values.

use std::future::Future;
use std::time::Duration;

use backon::BackoffBuilder as _;
use chrono::{DateTime, Utc};
use http::{HeaderMap, HeaderValue};

use crate::{Error, Result};

/// Timeouts of the default client.
#[derive(Debug, Clone)]
pub struct HttpSettings {
    /// Whole-request timeout.
    pub timeout: Duration,
    /// Connection timeout.
    pub connect_timeout: Duration,
    /// `User-Agent` header.
    pub user_agent: String,
}

impl Default for HttpSettings {
    fn default() -> Self {
        HttpSettings {
            timeout: Duration::from_secs(30),
            connect_timeout: Duration::from_secs(10),
            user_agent: concat!("omnichannel/", env!("CARGO_PKG_VERSION")).to_string(),
        }
    }
}

/// A `reqwest` client with these settings (rustls, no cookies, no redirects to other hosts).
pub fn client(settings: &HttpSettings) -> Result<reqwest::Client> {
    reqwest::Client::builder()
        .timeout(settings.timeout)
        .connect_timeout(settings.connect_timeout)
        .user_agent(settings.user_agent.clone())
        .redirect(reqwest::redirect::Policy::limited(3))
        .build()
        .map_err(|_| Error::config("http", "could not build the HTTP client"))
}

/// The default client (30 s timeout, 10 s to connect).
pub fn default_client() -> reqwest::Client {
    client(&HttpSettings::default()).unwrap_or_else(|_| reqwest::Client::new())
}

/// When and how often to retry.
#[derive(Debug, Clone)]
pub struct RetryPolicy {
    /// Attempts in all, the first included (1 = no retry).
    pub max_attempts: usize,
    /// First backoff delay.
    pub min_delay: Duration,
    /// Largest backoff delay.
    pub max_delay: Duration,
    /// A provider's `Retry-After` longer than this is not waited for: the error goes back to the
    /// host, which can schedule the retry itself.
    pub max_retry_after: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            max_attempts: 3,
            min_delay: Duration::from_millis(200),
            max_delay: Duration::from_secs(5),
            max_retry_after: Duration::from_secs(30),
        }
    }
}

impl RetryPolicy {
    /// No retries.
    pub fn none() -> Self {
        RetryPolicy {
            max_attempts: 1,
            ..Self::default()
        }
    }
}

/// Whether a request may be retried.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Idempotency {
    /// Safe to repeat (GET, PUT of the same state, or a request carrying an idempotency key).
    Idempotent,
    /// Repeating it could act twice: never retried.
    NotIdempotent,
}

impl Idempotency {
    /// Idempotent when `key` is present.
    pub fn keyed(key: Option<&str>) -> Self {
        if key.is_some() {
            Idempotency::Idempotent
        } else {
            Idempotency::NotIdempotent
        }
    }
}

/// Runs `op` until it succeeds, fails with a non-retryable error, or attempts run out. Only
/// idempotent operations are retried; a provider's `retry_after` replaces the backoff delay.
pub async fn with_retry<T, F, Fut>(policy: &RetryPolicy, idem: Idempotency, mut op: F) -> Result<T>
where
    F: FnMut(usize) -> Fut,
    Fut: Future<Output = Result<T>>,
{
    let mut backoff = backon::ExponentialBuilder::default()
        .with_min_delay(policy.min_delay)
        .with_max_delay(policy.max_delay)
        .with_max_times(policy.max_attempts.saturating_sub(1))
        .with_jitter()
        .build();
    let mut attempt = 1;
    loop {
        let err = match op(attempt).await {
            Ok(v) => return Ok(v),
            Err(e) => e,
        };
        if idem == Idempotency::NotIdempotent || !err.retryable() {
            return Err(err);
        }
        let Some(backoff_delay) = backoff.next() else {
            return Err(err);
        };
        let delay = match err.retry_after() {
            Some(d) if d > policy.max_retry_after => return Err(err),
            Some(d) => d,
            None => backoff_delay,
        };
        tracing::debug!(
            attempt,
            delay_ms = delay.as_millis() as u64,
            kind = err.kind(),
            "retrying"
        );
        tokio::time::sleep(delay).await;
        attempt += 1;
    }
}

/// The `Retry-After` header as a duration: delta seconds, or an HTTP date relative to `now`.
pub fn retry_after(headers: &HeaderMap, now: DateTime<Utc>) -> Option<Duration> {
    let v = headers
        .get(http::header::RETRY_AFTER)?
        .to_str()
        .ok()?
        .trim();
    if let Ok(secs) = v.parse::<u64>() {
        return Some(Duration::from_secs(secs.min(86_400)));
    }
    if let Ok(secs) = v.parse::<f64>()
        && secs.is_finite()
        && secs >= 0.0
    {
        return Some(Duration::from_secs_f64(secs.min(86_400.0)));
    }
    let at = DateTime::parse_from_rfc2822(v).ok()?.with_timezone(&Utc);
    Some((at - now).to_std().unwrap_or(Duration::ZERO))
}

/// A header value marked sensitive (left out of `Debug` and HTTP/2 compression tables).
pub fn sensitive_header(value: &str) -> Result<HeaderValue> {
    let mut v = HeaderValue::from_str(value)
        .map_err(|_| Error::config("credentials", "not a valid header value"))?;
    v.set_sensitive(true);
    Ok(v)
}

/// `Bearer <token>`, marked sensitive.
pub fn bearer(token: &str) -> Result<HeaderValue> {
    sensitive_header(&format!("Bearer {token}"))
}

/// Reads a response body, refusing more than `limit` bytes (a provider bug or a hostile
/// endpoint cannot exhaust memory).
pub async fn read_body_limited(mut res: reqwest::Response, limit: usize) -> Result<bytes::Bytes> {
    if let Some(len) = res.content_length()
        && len > limit as u64
    {
        return Err(Error::Provider {
            status: Some(res.status().as_u16()),
            code: None,
            message: format!("answer of {len} bytes exceeds {limit} bytes"),
            retryable: false,
            retry_after: None,
        });
    }
    let mut buf = bytes::BytesMut::new();
    while let Some(chunk) = res.chunk().await.map_err(Error::from_reqwest)? {
        if buf.len() + chunk.len() > limit {
            return Err(Error::Provider {
                status: Some(res.status().as_u16()),
                code: None,
                message: format!("answer exceeds {limit} bytes"),
                retryable: false,
                retry_after: None,
            });
        }
        buf.extend_from_slice(&chunk);
    }
    Ok(buf.freeze())
}

/// Default limit on a provider's answer: 4 MiB.
pub const DEFAULT_MAX_RESPONSE_BYTES: usize = 4 * 1024 * 1024;

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};

    fn fast() -> RetryPolicy {
        RetryPolicy {
            max_attempts: 4,
            min_delay: Duration::from_millis(1),
            max_delay: Duration::from_millis(5),
            max_retry_after: Duration::from_secs(2),
        }
    }

    #[tokio::test]
    async fn stops_on_non_retryable() {
        let n = Arc::new(AtomicUsize::new(0));
        let r: Result<()> = with_retry(&fast(), Idempotency::Idempotent, |_| {
            let n = n.clone();
            async move {
                n.fetch_add(1, Ordering::SeqCst);
                Err(Error::from_status(400, None, "bad", None))
            }
        })
        .await;
        assert_eq!(r.unwrap_err().kind(), "provider_error");
        assert_eq!(n.load(Ordering::SeqCst), 1);
    }

    #[tokio::test]
    async fn retries_retryable_until_success() {
        let n = Arc::new(AtomicUsize::new(0));
        let r = with_retry(&fast(), Idempotency::Idempotent, |attempt| {
            let n = n.clone();
            async move {
                n.fetch_add(1, Ordering::SeqCst);
                if attempt < 3 {
                    Err(Error::from_status(503, None, "down", None))
                } else {
                    Ok(attempt)
                }
            }
        })
        .await;
        assert_eq!(r.unwrap(), 3);
        assert_eq!(n.load(Ordering::SeqCst), 3);
    }

    #[tokio::test]
    async fn gives_up_after_max_attempts_and_never_retries_unkeyed() {
        let n = Arc::new(AtomicUsize::new(0));
        let r: Result<()> = with_retry(&fast(), Idempotency::Idempotent, |_| {
            let n = n.clone();
            async move {
                n.fetch_add(1, Ordering::SeqCst);
                Err(Error::from_status(500, None, "down", None))
            }
        })
        .await;
        assert!(r.is_err());
        assert_eq!(n.load(Ordering::SeqCst), 4);
        let m = Arc::new(AtomicUsize::new(0));
        let _: Result<()> = with_retry(&fast(), Idempotency::keyed(None), |_| {
            let m = m.clone();
            async move {
                m.fetch_add(1, Ordering::SeqCst);
                Err(Error::from_status(500, None, "down", None))
            }
        })
        .await;
        assert_eq!(m.load(Ordering::SeqCst), 1);
    }

    #[tokio::test]
    async fn honours_retry_after() {
        let started = std::time::Instant::now();
        let r = with_retry(&fast(), Idempotency::Idempotent, |attempt| async move {
            if attempt == 1 {
                Err(Error::RateLimited {
                    retry_after: Some(Duration::from_millis(300)),
                    code: None,
                })
            } else {
                Ok(())
            }
        })
        .await;
        assert!(r.is_ok());
        assert!(
            started.elapsed() >= Duration::from_millis(300),
            "{:?}",
            started.elapsed()
        );
        // A Retry-After beyond the policy goes back to the host at once.
        let started = std::time::Instant::now();
        let r: Result<()> = with_retry(&fast(), Idempotency::Idempotent, |_| async {
            Err(Error::RateLimited {
                retry_after: Some(Duration::from_secs(120)),
                code: None,
            })
        })
        .await;
        assert_eq!(r.unwrap_err().retry_after(), Some(Duration::from_secs(120)));
        assert!(started.elapsed() < Duration::from_secs(1));
    }

    #[test]
    fn parses_retry_after() {
        let now = DateTime::parse_from_rfc3339("2015-10-21T07:28:00Z")
            .unwrap()
            .with_timezone(&Utc);
        let mut h = HeaderMap::new();
        h.insert("retry-after", HeaderValue::from_static("7"));
        assert_eq!(retry_after(&h, now), Some(Duration::from_secs(7)));
        h.insert(
            "retry-after",
            HeaderValue::from_static("Wed, 21 Oct 2015 07:28:30 GMT"),
        );
        assert_eq!(retry_after(&h, now), Some(Duration::from_secs(30)));
        h.insert("retry-after", HeaderValue::from_static("soon"));
        assert_eq!(retry_after(&h, now), None);
    }

    #[test]
    fn bearer_is_sensitive() {
        let v = bearer("abc").unwrap();
        assert!(v.is_sensitive());
        assert!(!format!("{v:?}").contains("abc"));
    }
}
