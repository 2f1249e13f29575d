//! A small HMAC-verified channel and a recording sink, for tests of this crate and of hosts
//! (feature `testing`). **Not a provider**: nothing real sends these webhooks.
//!
//! The test channel borrows a [`Provider`] name (default `tiktok`, chosen with
//! [`TestFactory::new`]) because the provider list is closed; register it only where no real
//! channel of that provider is mounted.
//!
//! Scheme: headers `X-Test-Timestamp: <unix seconds>` and
//! `X-Test-Signature: <lowercase hex HMAC-SHA256(secret, "<timestamp>." + body)>`, body
//! `{"events": [{"id", "type": "message" | "status" | "other", "text", "conversation", "from"}]}`,
//! reply `200 {"received": <number of events>}`.
//!
//! Settings: `secret` (a string, or a list: current first), `tolerance_secs` (default 300),
//! `channel_id`, `sign_url` (default false: when true the full URL is signed too, as SignalWire
//! does), `max_body_bytes` (default 1 MiB).

use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use bytes::Bytes;
use chrono::{DateTime, Utc};
use http::{HeaderMap, HeaderValue, Method, StatusCode};
use omnichannel_core::config::DEFAULT_MAX_BODY_BYTES;
use omnichannel_core::signature::{self, Algorithm};
use omnichannel_core::{
    Capabilities, Channel, ChannelEnv, ChannelFactory, Clock, Direction, Error, Event, EventKind,
    Inbound, OutboundMessage, Party, Provider, Result, Role, SendReceipt, SendStatus, Settings,
    SigningKeys, VerifyError, WebhookReply, WebhookRequest,
};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::sink::{EventSink, EventSource};

/// Header carrying the signed timestamp.
pub const TIMESTAMP_HEADER: &str = "x-test-timestamp";
/// Header carrying the signature.
pub const SIGNATURE_HEADER: &str = "x-test-signature";
/// The secret of [`TestFactory::demo_config`].
pub const DEMO_SECRET: &str = "test-secret-not-real";

/// Signs `body` at `timestamp` with the primary key: the `X-Test-Signature` value. With
/// `url` (setting `sign_url`), the full URL the request is sent to is signed too, as
/// `"<timestamp>." + url + "." + body`.
pub fn sign(keys: &SigningKeys, timestamp: i64, url: Option<&str>, body: &[u8]) -> String {
    let t = timestamp.to_string();
    signature::sign_hex(Algorithm::Sha256, keys, &signed_parts(&t, url, body))
}

fn signed_parts<'a>(t: &'a str, url: Option<&'a str>, body: &'a [u8]) -> Vec<&'a [u8]> {
    match url {
        Some(u) => vec![t.as_bytes(), b".", u.as_bytes(), b".", body],
        None => vec![t.as_bytes(), b".", body],
    }
}

/// A message the test channel was asked to send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SentMessage {
    /// The message's conversation.
    pub conversation_id: String,
    /// Its text.
    pub text: Option<String>,
}

/// The test channel.
pub struct TestChannel {
    provider: Provider,
    keys: SigningKeys,
    tolerance: Duration,
    channel_id: Option<String>,
    sign_url: bool,
    max_body_bytes: usize,
    clock: Arc<dyn Clock>,
    capabilities: Capabilities,
    sent: Mutex<Vec<SentMessage>>,
}

impl std::fmt::Debug for TestChannel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TestChannel")
            .field("provider", &self.provider)
            .field("keys", &self.keys)
            .field("tolerance", &self.tolerance)
            .finish_non_exhaustive()
    }
}

impl TestChannel {
    /// The messages sent so far, in order.
    pub fn sent(&self) -> Vec<SentMessage> {
        self.sent.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }
}

#[derive(Deserialize)]
struct Payload {
    events: Vec<PayloadEvent>,
}

#[derive(Deserialize)]
struct PayloadEvent {
    id: String,
    #[serde(rename = "type")]
    kind: String,
    #[serde(default)]
    text: Option<String>,
    #[serde(default)]
    conversation: Option<String>,
    #[serde(default)]
    from: Option<String>,
    #[serde(default)]
    state: Option<String>,
}

/// Most events one test request may carry.
const MAX_EVENTS: usize = 100;

#[async_trait]
impl Channel for TestChannel {
    fn provider(&self) -> Provider {
        self.provider
    }

    fn capabilities(&self) -> &Capabilities {
        &self.capabilities
    }

    fn verify(&self, req: &WebhookRequest) -> Result<(), VerifyError> {
        req.check_body_limit(self.max_body_bytes)?;
        let ts = req.require_header(TIMESTAMP_HEADER)?;
        let sig = req.require_header(SIGNATURE_HEADER)?;
        let t = signature::parse_timestamp(TIMESTAMP_HEADER, ts)?;
        let url = self.sign_url.then_some(req.url.as_str());
        signature::verify_hex(
            Algorithm::Sha256,
            &self.keys,
            SIGNATURE_HEADER,
            &signed_parts(ts.trim(), url, &req.body),
            sig.trim(),
        )?;
        signature::check_window(t, self.clock.now(), self.tolerance)
    }

    async fn receive(&self, req: &WebhookRequest) -> Result<Inbound> {
        self.verify(req)?;
        let raw: Value = serde_json::from_slice(&req.body)
            .map_err(|e| Error::malformed(format!("body is not JSON: {e}")))?;
        let payload: Payload = serde_json::from_value(raw.clone())
            .map_err(|e| Error::malformed(format!("unexpected payload: {e}")))?;
        if payload.events.len() > MAX_EVENTS {
            return Err(Error::malformed(format!(
                "more than {MAX_EVENTS} events in one request"
            )));
        }
        let mut events = Vec::with_capacity(payload.events.len());
        for (i, p) in payload.events.iter().enumerate() {
            let kind = match p.kind.as_str() {
                "message" => EventKind::Message,
                "status" => EventKind::Status,
                _ => EventKind::Other,
            };
            let mut e = Event::new(self.provider, kind, p.id.clone());
            e.channel_id = self.channel_id.clone();
            e.conversation_id = p.conversation.clone();
            e.text = p.text.clone();
            if kind == EventKind::Message {
                e.direction = Some(Direction::Inbound);
                e.sender = p
                    .from
                    .as_ref()
                    .map(|f| Party::new(f.clone()).with_role(Role::Contact));
            }
            if kind == EventKind::Status {
                let state = match p.state.as_deref() {
                    Some("read") => omnichannel_core::DeliveryState::Read,
                    Some("failed") => omnichannel_core::DeliveryState::Failed,
                    _ => omnichannel_core::DeliveryState::Delivered,
                };
                let mut s = omnichannel_core::Status::new(state);
                s.message_id = p.text.clone();
                e.status = Some(s);
                e.text = None;
            }
            e.raw = raw
                .get("events")
                .and_then(|a| a.get(i))
                .cloned()
                .map(Into::into);
            events.push(e);
        }
        let reply = WebhookReply::json(StatusCode::OK, &json!({ "received": events.len() }));
        Ok(Inbound::new(events, reply))
    }

    async fn send(&self, msg: &dyn OutboundMessage) -> Result<SendReceipt> {
        self.capabilities.check_at(msg, self.clock.now())?;
        let conversation = msg
            .conversation_id()
            .ok_or_else(|| Error::invalid_input("conversation_id", "is required"))?;
        // Lets tests exercise the error answers: `metadata.fail_with` names an error kind.
        match msg.metadata("fail_with").and_then(Value::as_str) {
            Some("rate_limited") => {
                return Err(Error::RateLimited {
                    retry_after: Some(Duration::from_secs(2)),
                    code: None,
                });
            }
            Some("provider_error") => {
                return Err(Error::from_status(503, None, "test provider is down", None));
            }
            _ => {}
        }
        let mut sent = self.sent.lock().unwrap_or_else(|p| p.into_inner());
        sent.push(SentMessage {
            conversation_id: conversation.to_string(),
            text: msg.text().map(str::to_string),
        });
        let id = format!("sent-{}", sent.len());
        Ok(SendReceipt::new(
            self.provider,
            id.clone(),
            SendStatus::Accepted,
            Some(json!({ "id": id })),
        ))
    }
}

/// Builds [`TestChannel`]s.
#[derive(Debug, Clone, Copy)]
pub struct TestFactory {
    provider: Provider,
}

impl Default for TestFactory {
    fn default() -> Self {
        TestFactory::new(Provider::Tiktok)
    }
}

impl TestFactory {
    /// A factory whose channels answer to `provider`.
    pub fn new(provider: Provider) -> Self {
        TestFactory { provider }
    }

    /// A test channel from settings, kept as its concrete type (to look at what it sent).
    pub fn build_test(&self, config: &Value, env: &ChannelEnv) -> Result<Arc<TestChannel>> {
        let s = Settings::new(config)?;
        Ok(Arc::new(TestChannel {
            provider: self.provider,
            keys: s.require_signing_keys("secret")?,
            tolerance: s.secs_or("tolerance_secs", Duration::from_secs(300))?,
            channel_id: s.str("channel_id")?.map(str::to_string),
            sign_url: s.bool_or("sign_url", false)?,
            max_body_bytes: s
                .u64("max_body_bytes")?
                .map_or(DEFAULT_MAX_BODY_BYTES, |v| {
                    usize::try_from(v).unwrap_or(usize::MAX)
                }),
            clock: env.clock.clone(),
            capabilities: Capabilities::text_only().with_max_text_chars(100),
            sent: Mutex::new(Vec::new()),
        }))
    }
}

/// The sample events of [`TestFactory::simulate`].
const SAMPLES: [&str; 3] = ["message", "status", "batch"];

fn sample_body(event: &str) -> Option<Value> {
    Some(match event {
        "message" => json!({"events": [
            {"id": "test-msg-1", "type": "message", "text": "Hello from the test channel", "conversation": "conv-1", "from": "contact-1"}
        ]}),
        "status" => json!({"events": [
            {"id": "test-status-1", "type": "status", "state": "read", "text": "sent-1", "conversation": "conv-1"}
        ]}),
        "batch" => json!({"events": [
            {"id": "test-msg-2", "type": "message", "text": "first", "conversation": "conv-2", "from": "contact-2"},
            {"id": "test-msg-3", "type": "message", "text": "second", "conversation": "conv-2", "from": "contact-2"}
        ]}),
        _ => return None,
    })
}

impl ChannelFactory for TestFactory {
    fn provider(&self) -> Provider {
        self.provider
    }

    fn build(&self, config: &Value, env: &ChannelEnv) -> Result<Arc<dyn Channel>> {
        Ok(self.build_test(config, env)?)
    }

    fn demo_config(&self) -> Value {
        json!({ "secret": DEMO_SECRET, "channel_id": "test-channel" })
    }

    fn sample_events(&self) -> Vec<&'static str> {
        SAMPLES.to_vec()
    }

    fn simulate(
        &self,
        config: &Value,
        event: &str,
        url: &str,
        now: DateTime<Utc>,
    ) -> Result<WebhookRequest> {
        let body = sample_body(event).ok_or_else(|| {
            Error::invalid_input(
                "event",
                format!(
                    "no sample event `{event}`; try one of {}",
                    SAMPLES.join(", ")
                ),
            )
        })?;
        let settings = Settings::new(config)?;
        let keys = settings.require_signing_keys("secret")?;
        let signed_url = settings.bool_or("sign_url", false)?.then_some(url);
        let body =
            Bytes::from(serde_json::to_vec(&body).map_err(|e| Error::malformed(e.to_string()))?);
        let ts = now.timestamp();
        let mut headers = HeaderMap::new();
        headers.insert(
            http::header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
        let ts_value = HeaderValue::from_str(&ts.to_string())
            .map_err(|_| Error::invalid_input("now", "not a valid timestamp"))?;
        headers.insert(TIMESTAMP_HEADER, ts_value);
        let sig = HeaderValue::from_str(&sign(&keys, ts, signed_url, &body))
            .map_err(|_| Error::invalid_input("secret", "signature is not a header value"))?;
        headers.insert(SIGNATURE_HEADER, sig);
        Ok(WebhookRequest::new(Method::POST, url, headers, body))
    }
}

/// A sink that keeps every event it gets, and can be told to refuse them.
#[derive(Debug, Default)]
pub struct RecordingSink {
    events: Mutex<Vec<(EventSource, Event)>>,
    refuse: std::sync::atomic::AtomicBool,
    refuse_id: Mutex<Option<String>>,
}

impl RecordingSink {
    /// An empty sink that takes everything.
    pub fn new() -> Self {
        Self::default()
    }

    /// The events taken so far, in order.
    pub fn events(&self) -> Vec<(EventSource, Event)> {
        self.events
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// From now on refuse the event with this id (`None`: take it again).
    pub fn set_refuse_id(&self, id: Option<&str>) {
        *self.refuse_id.lock().unwrap_or_else(|p| p.into_inner()) = id.map(str::to_string);
    }

    /// From now on refuse (`true`) or take (`false`) events.
    pub fn set_refuse(&self, refuse: bool) {
        self.refuse
            .store(refuse, std::sync::atomic::Ordering::SeqCst);
    }
}

#[async_trait]
impl EventSink for RecordingSink {
    async fn deliver(&self, source: &EventSource, event: &Event) -> Result<()> {
        let refused_id = self
            .refuse_id
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .as_deref()
            == Some(event.id.as_str());
        if refused_id || self.refuse.load(std::sync::atomic::Ordering::SeqCst) {
            return Err(Error::store("test sink refuses events", None));
        }
        self.events
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push((source.clone(), event.clone()));
        Ok(())
    }
}
