//! Where the gateway's events go: one JSON line each on stdout, and a POST to the host's
//! forward URL with retries.
//!
//! A forward that fails is never silently lost: it is logged with the event id and kept in a
//! bounded in-memory queue that a background task retries with backoff, in order. When the
//! queue is full, new webhooks are answered 503 (the providers deliver them again later). Only
//! an event the target refuses as malformed (400, 413, 415, 422) is dropped, with an error log
//! naming it; retrying it could never succeed.

use std::collections::VecDeque;
use std::io::Write as _;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use omnichannel_axum::{EventSink, EventSource};
use omnichannel_core::{Error, Event, ExposeSecret as _, Result};
use tokio::sync::Notify;

use crate::config::ForwardConfig;

/// Writes each event as one JSON line on stdout.
#[derive(Debug, Default, Clone, Copy)]
pub struct StdoutSink;

/// A line buffer above this size is not kept for the next event (one huge event must not pin
/// its memory on a worker thread).
const KEEP_LINE_BYTES: usize = 64 * 1024;

thread_local! {
    /// The line being written, kept between events so that each event does not allocate one.
    static LINE: std::cell::RefCell<Vec<u8>> = const { std::cell::RefCell::new(Vec::new()) };
}

#[async_trait]
impl EventSink for StdoutSink {
    async fn deliver(&self, _source: &EventSource, event: &Event) -> Result<()> {
        // Nothing in here awaits: the buffer is this thread's until the write returned.
        LINE.with_borrow_mut(|line| {
            line.clear();
            let written = write_line(line, event);
            if line.capacity() > KEEP_LINE_BYTES {
                *line = Vec::new();
            }
            written
        })
    }
}

/// Writes `event` as one line through `line`: one write of the whole line (stdout is
/// line-buffered: a line that ends the write goes out at once), then a flush, before the
/// provider is answered.
fn write_line(line: &mut Vec<u8>, event: &Event) -> Result<()> {
    event
        .write_json(line)
        .map_err(|e| Error::store(format!("event not serializable: {e}"), None))?;
    line.push(b'\n');
    let mut out = std::io::stdout().lock();
    out.write_all(line)
        .and_then(|()| out.flush())
        .map_err(|e| Error::store(format!("cannot write events to stdout: {e}"), None))
}

struct Pending {
    source: EventSource,
    event_id: String,
    body: bytes::Bytes,
    attempts: u32,
}

struct Shared {
    config: ForwardConfig,
    queue: Mutex<VecDeque<Pending>>,
    notify: Notify,
    idle: Notify,
    forwarded: AtomicU64,
    dropped: AtomicU64,
    closed: AtomicBool,
}

/// Stops the background task when the last [`Forwarder`] clone is dropped.
struct StopOnDrop(Arc<Shared>);

impl Drop for StopOnDrop {
    fn drop(&mut self) {
        self.0.closed.store(true, Ordering::SeqCst);
        self.0.notify.notify_one();
    }
}

/// Forwards events to the host's URL from a background task (see the module docs). Clones
/// share the queue; the task stops when the last clone is dropped (call
/// [`flush`](Forwarder::flush) first: events still queued then are logged with their ids).
#[derive(Clone)]
pub struct Forwarder {
    shared: Arc<Shared>,
    _stop: Arc<StopOnDrop>,
}

impl std::fmt::Debug for Forwarder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Forwarder")
            .field("url", &crate::config::redact_url(&self.shared.config.url))
            .field("pending", &self.pending())
            .finish()
    }
}

enum Outcome {
    Delivered,
    /// The target refused this event for good.
    Refused(u16),
    /// Worth another try.
    Failed(String),
}

impl Forwarder {
    /// Starts the background task (on the current Tokio runtime).
    pub fn start(config: ForwardConfig) -> Result<Self> {
        let http = reqwest::Client::builder()
            .timeout(config.timeout)
            .connect_timeout(config.timeout)
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("omnichannel/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|_| Error::config("forward", "could not build the HTTP client"))?;
        let shared = Arc::new(Shared {
            config,
            queue: Mutex::new(VecDeque::new()),
            notify: Notify::new(),
            idle: Notify::new(),
            forwarded: AtomicU64::new(0),
            dropped: AtomicU64::new(0),
            closed: AtomicBool::new(false),
        });
        tokio::spawn(worker(shared.clone(), http));
        Ok(Forwarder {
            _stop: Arc::new(StopOnDrop(shared.clone())),
            shared,
        })
    }

    /// Events waiting to be forwarded (including the one being sent).
    pub fn pending(&self) -> usize {
        self.shared
            .queue
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .len()
    }

    /// Ids of the events waiting, in order.
    pub fn pending_ids(&self) -> Vec<String> {
        self.shared
            .queue
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .iter()
            .map(|p| p.event_id.clone())
            .collect()
    }

    /// Events the target accepted so far.
    pub fn forwarded(&self) -> u64 {
        self.shared.forwarded.load(Ordering::Relaxed)
    }

    /// Events the target refused as invalid (400, 413, 415, 422): logged and dropped.
    pub fn refused(&self) -> u64 {
        self.shared.dropped.load(Ordering::Relaxed)
    }

    /// Waits until the queue is empty or `timeout` passes; `true` when it emptied.
    pub async fn flush(&self, timeout: Duration) -> bool {
        let wait = async {
            loop {
                let idle = self.shared.idle.notified();
                if self.pending() == 0 {
                    return;
                }
                idle.await;
            }
        };
        tokio::time::timeout(timeout, wait).await.is_ok()
    }

    /// Queues an event; refuses it when the queue is full.
    pub fn enqueue(&self, source: &EventSource, event: &Event) -> Result<()> {
        let body = event
            .to_json_vec()
            .map_err(|e| Error::store(format!("event not serializable: {e}"), None))?;
        let mut q = self.shared.queue.lock().unwrap_or_else(|p| p.into_inner());
        if q.len() >= self.shared.config.queue_capacity {
            drop(q);
            tracing::error!(
                event_id = %event.id,
                capacity = self.shared.config.queue_capacity,
                "forward queue full: refusing the event so that the provider delivers it again"
            );
            return Err(Error::store("the forward queue is full", None));
        }
        q.push_back(Pending {
            source: source.clone(),
            event_id: event.id.clone(),
            body: body.into(),
            attempts: 0,
        });
        drop(q);
        self.shared.notify.notify_one();
        Ok(())
    }
}

#[async_trait]
impl EventSink for Forwarder {
    async fn deliver(&self, source: &EventSource, event: &Event) -> Result<()> {
        self.enqueue(source, event)
    }
}

async fn post(shared: &Shared, http: &reqwest::Client, p: &Pending) -> Outcome {
    let mut req = http.post(&shared.config.url);
    if let Some(token) = &shared.config.bearer_token {
        let auth = match omnichannel_core::http::bearer(token.expose_secret()) {
            Ok(v) => v,
            Err(e) => return Outcome::Failed(e.to_string()),
        };
        req = req.header(http::header::AUTHORIZATION, auth);
    }
    let res = req
        .header(http::header::CONTENT_TYPE, "application/json")
        .header(
            "idempotency-key",
            format!("{}/{}/{}", p.source.provider, p.source.channel, p.event_id),
        )
        .header("x-omnichannel-provider", p.source.provider.as_str())
        .header("x-omnichannel-channel", p.source.channel.as_str())
        .body(p.body.clone())
        .send()
        .await;
    match res {
        Ok(r) if r.status().is_success() => Outcome::Delivered,
        Ok(r) if matches!(r.status().as_u16(), 400 | 413 | 415 | 422) => {
            Outcome::Refused(r.status().as_u16())
        }
        Ok(r) => Outcome::Failed(format!("HTTP {}", r.status().as_u16())),
        Err(e) => Outcome::Failed(Error::from_reqwest(e).to_string()),
    }
}

fn backoff(config: &ForwardConfig, attempts: u32) -> Duration {
    let factor = 2u32.saturating_pow(attempts.saturating_sub(1).min(20));
    config
        .min_backoff
        .saturating_mul(factor)
        .min(config.max_backoff)
}

async fn worker(shared: Arc<Shared>, http: reqwest::Client) {
    loop {
        if shared.closed.load(Ordering::SeqCst) {
            let ids: Vec<String> = shared
                .queue
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .iter()
                .map(|p| p.event_id.clone())
                .collect();
            if !ids.is_empty() {
                tracing::error!(
                    count = ids.len(),
                    event_ids = ?ids,
                    "forwarder stopped with events not forwarded (they were written to stdout)"
                );
            }
            shared.idle.notify_waiters();
            return;
        }
        let next = {
            let q = shared.queue.lock().unwrap_or_else(|p| p.into_inner());
            q.front().map(|p| Pending {
                source: p.source.clone(),
                event_id: p.event_id.clone(),
                body: p.body.clone(),
                attempts: p.attempts,
            })
        };
        let Some(item) = next else {
            shared.idle.notify_waiters();
            shared.notify.notified().await;
            continue;
        };
        let outcome = post(&shared, &http, &item).await;
        if let Some(delay) = settle(&shared, &item, outcome) {
            tokio::time::sleep(delay).await;
        }
    }
}

/// Updates the queue after an attempt; the delay before the next one after a failure.
fn settle(shared: &Shared, item: &Pending, outcome: Outcome) -> Option<Duration> {
    let mut q = shared.queue.lock().unwrap_or_else(|p| p.into_inner());
    match outcome {
        Outcome::Delivered => {
            q.pop_front();
            drop(q);
            shared.forwarded.fetch_add(1, Ordering::Relaxed);
            if item.attempts > 0 {
                tracing::info!(event_id = %item.event_id, attempts = item.attempts + 1, "event forwarded after retries");
            } else {
                tracing::debug!(event_id = %item.event_id, "event forwarded");
            }
            None
        }
        Outcome::Refused(status) => {
            q.pop_front();
            drop(q);
            shared.dropped.fetch_add(1, Ordering::Relaxed);
            tracing::error!(
                event_id = %item.event_id,
                provider = %item.source.provider,
                channel = %item.source.channel,
                status,
                "the forward target refused the event as invalid; it is dropped from the queue (it is in the stdout stream)"
            );
            None
        }
        Outcome::Failed(reason) => {
            let attempts = item.attempts.saturating_add(1);
            if let Some(front) = q.front_mut() {
                front.attempts = attempts;
            }
            let waiting = q.len();
            drop(q);
            let delay = backoff(&shared.config, attempts);
            tracing::warn!(
                event_id = %item.event_id,
                attempts,
                waiting,
                retry_in_ms = u64::try_from(delay.as_millis()).unwrap_or(u64::MAX),
                reason = %reason,
                "forward failed; the event is kept in the retry queue"
            );
            Some(delay)
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    #[tokio::test]
    async fn the_task_stops_with_the_last_handle() {
        let mut c = ForwardConfig::new("http://127.0.0.1:1/events");
        c.min_backoff = Duration::from_millis(5);
        c.max_backoff = Duration::from_millis(5);
        let f = Forwarder::start(c).unwrap();
        let shared = Arc::downgrade(&f.shared);
        let source = EventSource {
            provider: omnichannel_core::Provider::Tiktok,
            channel: "main".into(),
        };
        let event = Event::new(
            omnichannel_core::Provider::Tiktok,
            omnichannel_core::EventKind::Message,
            "e-1",
        );
        f.enqueue(&source, &event).unwrap();
        let clone = f.clone();
        drop(f);
        assert_eq!(clone.pending(), 1, "a clone keeps the queue");
        drop(clone);
        tokio::time::timeout(Duration::from_secs(5), async {
            while shared.strong_count() > 0 {
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
        })
        .await
        .expect("the task ended");
    }

    #[tokio::test]
    async fn an_event_the_target_refuses_as_invalid_does_not_block_the_others() {
        let seen = Arc::new(Mutex::new(Vec::<String>::new()));
        let s = seen.clone();
        let app = axum::Router::new().route(
            "/events",
            axum::routing::post(move |body: bytes::Bytes| {
                let s = s.clone();
                async move {
                    let v: serde_json::Value = serde_json::from_slice(&body).unwrap();
                    let id = v["id"].as_str().unwrap().to_string();
                    if id == "poison" {
                        return http::StatusCode::UNPROCESSABLE_ENTITY;
                    }
                    s.lock().unwrap().push(id);
                    http::StatusCode::NO_CONTENT
                }
            }),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/events", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        let f = Forwarder::start(ForwardConfig::new(url)).unwrap();
        let source = EventSource {
            provider: omnichannel_core::Provider::Front,
            channel: "main".into(),
        };
        for id in ["a", "poison", "b"] {
            let e = Event::new(
                omnichannel_core::Provider::Front,
                omnichannel_core::EventKind::Message,
                id,
            );
            f.enqueue(&source, &e).unwrap();
        }
        assert!(f.flush(Duration::from_secs(10)).await);
        assert_eq!(*seen.lock().unwrap(), vec!["a", "b"]);
        assert_eq!((f.forwarded(), f.refused()), (2, 1));
    }

    #[test]
    fn backoff_grows_and_is_capped() {
        let mut c = ForwardConfig::new("http://127.0.0.1:1");
        c.min_backoff = Duration::from_millis(100);
        c.max_backoff = Duration::from_secs(1);
        assert_eq!(backoff(&c, 1), Duration::from_millis(100));
        assert_eq!(backoff(&c, 2), Duration::from_millis(200));
        assert_eq!(backoff(&c, 4), Duration::from_millis(800));
        assert_eq!(backoff(&c, 5), Duration::from_secs(1));
        assert_eq!(backoff(&c, u32::MAX), Duration::from_secs(1));
    }
}
