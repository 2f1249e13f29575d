//! The gateway: channels mounted under `/webhooks/{provider}/{channel}` and `/send/...`.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::{OriginalUri, Path, State};
use axum::response::{IntoResponse, Response};
use axum::routing::{any, post};
use http::{Request, StatusCode};
use omnichannel_core::config::DEFAULT_MAX_BODY_BYTES;
use omnichannel_core::{
    Channel, DedupStore, Error, MemoryDedupStore, Provider, SecretString, WebhookReply,
    WebhookRequest,
};
use tracing::Instrument as _;

use crate::body::{ReadError, read_limited};
use crate::sink::{EventSink, EventSource};

/// How long an event id is remembered for dedup by default: 72 hours, longer than the
/// redelivery schedules of the providers served.
pub const DEFAULT_DEDUP_TTL: Duration = Duration::from_secs(72 * 3600);

/// Default limit of a `/send` request body: 16 MiB (inline attachments travel in base64).
pub const DEFAULT_MAX_SEND_BODY_BYTES: usize = 16 * 1024 * 1024;

/// Smallest accepted API key, in characters.
const MIN_API_KEY_CHARS: usize = 16;

/// Builds a [`Gateway`].
pub struct GatewayBuilder {
    public_base_url: String,
    sink: Arc<dyn EventSink>,
    channels: Vec<(String, Arc<dyn Channel>)>,
    public_urls: Vec<(String, Provider, String)>,
    max_body_bytes: usize,
    max_send_body_bytes: usize,
    dedup: Arc<dyn DedupStore>,
    dedup_ttl: Duration,
    api_key: Option<SecretString>,
}

impl std::fmt::Debug for GatewayBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GatewayBuilder")
            .field("public_base_url", &self.public_base_url)
            .field("channels", &self.channels.len())
            .field("max_body_bytes", &self.max_body_bytes)
            .field("api_key", &self.api_key.as_ref().map(|_| "[redacted]"))
            .finish_non_exhaustive()
    }
}

impl GatewayBuilder {
    /// Mounts a channel at `/webhooks/{its provider}/{name}` and `/send/{its provider}/{name}`.
    /// Names are 1 to 64 characters of `A-Z a-z 0-9 . _ -`, unique per provider.
    pub fn channel(mut self, name: impl Into<String>, channel: Arc<dyn Channel>) -> Self {
        self.channels.push((name.into(), channel));
        self
    }

    /// Mounts a channel like [`channel`](Self::channel), with the public URL its provider
    /// calls when a proxy in front of the gateway rewrites paths (for example
    /// `https://hooks.example.com/signalwire` routed to `/webhooks/signalwire/{name}`). The
    /// channel then verifies `public_url` + the path below its mount point + the query: the URL
    /// the provider signed.
    pub fn channel_at(
        mut self,
        name: impl Into<String>,
        channel: Arc<dyn Channel>,
        public_url: impl Into<String>,
    ) -> Self {
        let name = name.into();
        self.public_urls
            .push((name.clone(), channel.provider(), public_url.into()));
        self.channels.push((name, channel));
        self
    }

    /// The webhook body limit (default core `DEFAULT_MAX_BODY_BYTES`, 1 MiB). Larger bodies are
    /// answered 413 before anything parses them.
    pub fn max_body_bytes(mut self, limit: usize) -> Self {
        self.max_body_bytes = limit;
        self
    }

    /// The `/send` body limit (default [`DEFAULT_MAX_SEND_BODY_BYTES`]).
    pub fn max_send_body_bytes(mut self, limit: usize) -> Self {
        self.max_send_body_bytes = limit;
        self
    }

    /// The dedup store (default: in memory, for one instance; use a shared one, such as
    /// Redis, when several instances take the same webhooks).
    pub fn dedup_store(mut self, store: Arc<dyn DedupStore>) -> Self {
        self.dedup = store;
        self
    }

    /// How long an event id is remembered (default [`DEFAULT_DEDUP_TTL`]).
    pub fn dedup_ttl(mut self, ttl: Duration) -> Self {
        self.dedup_ttl = ttl;
        self
    }

    /// The bearer key `/send` requires (at least 16 characters). Without one, `/send` answers
    /// 403: sending is off.
    pub fn api_key(mut self, key: impl Into<String>) -> Self {
        self.api_key = Some(SecretString::from(key.into()));
        self
    }

    /// Checks the settings and builds the gateway.
    pub fn build(self) -> Result<Gateway, Error> {
        let public_base_url = normalize_base_url(&self.public_base_url)?;
        let mut public_urls = HashMap::new();
        for (name, provider, url) in self.public_urls {
            public_urls.insert((provider, name), normalize_base_url(&url)?);
        }
        let mut channels: HashMap<Provider, HashMap<String, Arc<Mounted>>> = HashMap::new();
        for (name, channel) in self.channels {
            if !valid_name(&name) {
                return Err(Error::config(
                    "channels.name",
                    format!(
                        "`{}` is not a channel name: use 1 to 64 characters of A-Z a-z 0-9 . _ -",
                        name.escape_debug()
                    ),
                ));
            }
            let provider = channel.provider();
            let by_name = channels.entry(provider).or_default();
            if by_name.contains_key(&name) {
                return Err(Error::config(
                    "channels.name",
                    format!("two `{provider}` channels are named `{name}`"),
                ));
            }
            let public_url = public_urls.remove(&(provider, name.clone()));
            let mount = format!("/webhooks/{}/{}", provider.as_str(), name);
            by_name.insert(
                name,
                Arc::new(Mounted {
                    channel,
                    public_url,
                    mount,
                }),
            );
        }
        if let Some(key) = &self.api_key {
            use omnichannel_core::ExposeSecret as _;
            if key.expose_secret().chars().count() < MIN_API_KEY_CHARS {
                return Err(Error::config(
                    "api_key",
                    format!("must be at least {MIN_API_KEY_CHARS} characters"),
                ));
            }
        }
        if self.max_body_bytes == 0 || self.max_send_body_bytes == 0 {
            return Err(Error::config("max_body_bytes", "must be at least 1"));
        }
        Ok(Gateway {
            inner: Arc::new(Inner {
                channels,
                public_base_url,
                max_body_bytes: self.max_body_bytes,
                max_send_body_bytes: self.max_send_body_bytes,
                dedup: self.dedup,
                dedup_ttl: self.dedup_ttl,
                sink: self.sink,
                api_key: self.api_key,
            }),
        })
    }
}

fn valid_name(name: &str) -> bool {
    (1..=64).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
}

fn normalize_base_url(base: &str) -> Result<String, Error> {
    const WHAT: &str = "public_base_url";
    let trimmed = base.trim().trim_end_matches('/');
    let (scheme, rest) = trimmed
        .split_once("://")
        .ok_or_else(|| Error::config(WHAT, "must be an absolute http(s) URL"))?;
    if !(scheme.eq_ignore_ascii_case("http") || scheme.eq_ignore_ascii_case("https")) {
        return Err(Error::config(WHAT, "must be an http or https URL"));
    }
    let authority = rest.split('/').next().unwrap_or("");
    if authority.is_empty() || authority.contains('@') {
        return Err(Error::config(
            WHAT,
            "must have a host and no user information",
        ));
    }
    if rest.contains(['?', '#']) || rest.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(Error::config(
            WHAT,
            "must not have a query, a fragment or spaces",
        ));
    }
    if http::Uri::try_from(trimmed).is_err() {
        return Err(Error::config(WHAT, "is not a valid URL"));
    }
    Ok(trimmed.to_string())
}

pub(crate) struct Inner {
    /// The mounted channels by provider, then name (looked up by the path's text, no copy).
    channels: HashMap<Provider, HashMap<String, Arc<Mounted>>>,
    public_base_url: String,
    max_body_bytes: usize,
    pub(crate) max_send_body_bytes: usize,
    dedup: Arc<dyn DedupStore>,
    dedup_ttl: Duration,
    sink: Arc<dyn EventSink>,
    pub(crate) api_key: Option<SecretString>,
}

/// A channel as mounted: the channel, its public URL when one was given, and its mount path.
pub(crate) struct Mounted {
    pub(crate) channel: Arc<dyn Channel>,
    /// The public URL the provider calls (`channel_at`), without a trailing `/`.
    public_url: Option<String>,
    /// `/webhooks/{provider}/{name}`.
    mount: String,
}

impl Inner {
    /// The channel mounted at a path's provider and name segments.
    pub(crate) fn lookup(&self, provider: &str, name: &str) -> Option<(Provider, &Arc<Mounted>)> {
        let p: Provider = provider.parse().ok()?;
        self.mounted(p, name).map(|m| (p, m))
    }

    /// The channel of `provider` mounted under `name`.
    fn mounted(&self, provider: Provider, name: &str) -> Option<&Arc<Mounted>> {
        self.channels.get(&provider)?.get(name)
    }
}

/// Channels mounted behind one router (see the crate docs).
#[derive(Clone)]
pub struct Gateway {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for Gateway {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Gateway")
            .field("public_base_url", &self.inner.public_base_url)
            .field("channels", &self.mounted())
            .field("max_body_bytes", &self.inner.max_body_bytes)
            .field("send_enabled", &self.inner.api_key.is_some())
            .finish()
    }
}

impl Gateway {
    /// A builder. `public_base_url` is the scheme, host, port (and path prefix, behind a proxy)
    /// the providers call: webhook URLs, which some providers sign, are built from it.
    pub fn builder(public_base_url: impl Into<String>, sink: Arc<dyn EventSink>) -> GatewayBuilder {
        GatewayBuilder {
            public_base_url: public_base_url.into(),
            sink,
            channels: Vec::new(),
            public_urls: Vec::new(),
            max_body_bytes: DEFAULT_MAX_BODY_BYTES,
            max_send_body_bytes: DEFAULT_MAX_SEND_BODY_BYTES,
            dedup: Arc::new(MemoryDedupStore::default()),
            dedup_ttl: DEFAULT_DEDUP_TTL,
            api_key: None,
        }
    }

    /// The router: `/webhooks/{provider}/{channel}` and any path below it (any method; the
    /// channel sees the full URL), and `POST /send/{provider}/{channel}`. Merge or nest it
    /// into the host's own router.
    pub fn router(&self) -> Router {
        Router::new()
            .route("/webhooks/{provider}/{channel}", any(webhook))
            .route(
                "/webhooks/{provider}/{channel}/{*endpoint}",
                any(webhook_endpoint),
            )
            .route("/send/{provider}/{channel}", post(crate::send::send))
            .with_state(self.inner.clone())
    }

    /// The mounted channels as `(provider, name)`, sorted.
    pub fn mounted(&self) -> Vec<(Provider, String)> {
        let mut v: Vec<_> = self
            .inner
            .channels
            .iter()
            .flat_map(|(p, by_name)| by_name.keys().map(|n| (*p, n.clone())))
            .collect();
        v.sort_by(|a, b| (a.0.as_str(), &a.1).cmp(&(b.0.as_str(), &b.1)));
        v
    }

    /// The public webhook URL of a mounted channel (what to register at the provider).
    pub fn webhook_url(&self, provider: Provider, name: &str) -> String {
        if let Some(public) = self
            .inner
            .mounted(provider, name)
            .and_then(|m| m.public_url.as_ref())
        {
            return public.clone();
        }
        format!(
            "{}/webhooks/{}/{}",
            self.inner.public_base_url,
            provider.as_str(),
            name
        )
    }

    /// The configured public base URL, without a trailing `/`.
    pub fn public_base_url(&self) -> &str {
        &self.inner.public_base_url
    }
}

fn reply_response(reply: WebhookReply) -> Response {
    let (parts, body) = reply.into_http().into_parts();
    Response::from_parts(parts, Body::from(body))
}

pub(crate) fn json_error(status: StatusCode, kind: &str, message: &str) -> Response {
    let body = serde_json::json!({ "error": kind, "message": message });
    (status, axum::Json(body)).into_response()
}

/// A path below a channel (`/webhooks/{provider}/{channel}/...`): for providers that call
/// several endpoints of one channel (RapidPro's `secret.check`, `room`, ...), which the channel
/// tells apart by the URL.
async fn webhook_endpoint(
    state: State<Arc<Inner>>,
    Path((provider, name, _endpoint)): Path<(String, String, String)>,
    uri: OriginalUri,
    req: Request<Body>,
) -> Response {
    webhook(state, Path((provider, name)), uri, req).await
}

async fn webhook(
    State(inner): State<Arc<Inner>>,
    Path((provider, name)): Path<(String, String)>,
    OriginalUri(uri): OriginalUri,
    req: Request<Body>,
) -> Response {
    let Some((provider, mounted)) = inner.lookup(&provider, &name) else {
        // The path's segments are the sender's text: escaped before they reach a log line.
        tracing::warn!(
            provider = %provider.escape_debug(),
            channel = %name.escape_debug(),
            method = %req.method(),
            "no channel mounted here"
        );
        return json_error(
            StatusCode::NOT_FOUND,
            "not_found",
            "no channel is mounted at this path",
        );
    };
    let mounted = mounted.clone();
    // A mounted provider and channel name are the configuration's own text, recorded as they
    // are (a span's fields are formatted when it is created, on every request).
    let span = tracing::info_span!(
        "webhook",
        provider = %provider.as_str(),
        channel = %name,
        method = %req.method().as_str(),
    );
    handle_webhook(inner, provider, mounted, name, uri, req)
        .instrument(span)
        .await
}

/// Logs a refused request. Verification errors never carry request data, so their message is
/// logged; a parse error's reason may quote part of the payload (parsers echo unexpected
/// values), so it is only logged at debug level.
fn log_refusal(err: &Error, status: StatusCode) {
    let status = status.as_u16();
    match err {
        Error::Verify(_) | Error::PayloadTooLarge { .. } => {
            tracing::warn!(error = err.kind(), %err, status, "refused");
        }
        _ => {
            tracing::warn!(error = err.kind(), status, "refused");
            tracing::debug!(reason = %err, "refusal reason (may quote the payload)");
        }
    }
}

async fn handle_webhook(
    inner: Arc<Inner>,
    provider: Provider,
    mounted: Arc<Mounted>,
    name: String,
    uri: http::Uri,
    req: Request<Body>,
) -> Response {
    let channel = &mounted.channel;
    let (parts, body) = req.into_parts();
    let body = match read_limited(&parts.headers, body, inner.max_body_bytes).await {
        Ok(b) => b,
        Err(ReadError::TooLarge { size }) => {
            let err = Error::PayloadTooLarge {
                size,
                limit: inner.max_body_bytes,
            };
            tracing::warn!(error = err.kind(), %err, "refused");
            let mut reply = channel.reject_reply(&err);
            if reply.status != StatusCode::PAYLOAD_TOO_LARGE {
                // The limit is the gateway's: whatever the channel answers, say 413.
                reply.status = StatusCode::PAYLOAD_TOO_LARGE;
            }
            return reply_response(reply);
        }
        Err(ReadError::Io) => {
            tracing::warn!("the connection failed while the body was arriving");
            return json_error(
                StatusCode::BAD_REQUEST,
                "transport",
                "the request body could not be read",
            );
        }
    };
    let url = match &mounted.public_url {
        Some(public) => {
            let below = uri
                .path()
                .strip_prefix(mounted.mount.as_str())
                .unwrap_or("");
            match uri.query() {
                Some(q) => [public, below, "?", q].concat(),
                None => [public, below].concat(),
            }
        }
        None => {
            let path_and_query = uri.path_and_query().map_or("/", |p| p.as_str());
            [inner.public_base_url.as_str(), path_and_query].concat()
        }
    };
    let request = WebhookRequest::new(parts.method, url, parts.headers, body);

    let inbound = match channel.receive(&request).await {
        Ok(i) => i,
        Err(err) if err.retryable() => {
            tracing::warn!(error = err.kind(), %err, "could not take the request now");
            return json_error(
                StatusCode::SERVICE_UNAVAILABLE,
                err.kind(),
                "temporarily unavailable; deliver again later",
            );
        }
        Err(err) => {
            let reply = channel.reject_reply(&err);
            log_refusal(&err, reply.status);
            return reply_response(reply);
        }
    };

    let source = EventSource {
        provider,
        channel: name,
    };
    let (mut delivered, mut duplicates) = (0usize, 0usize);
    for event in &inbound.events {
        let key = source.dedup_key(event);
        let first = match inner.dedup.first_seen(&key, inner.dedup_ttl).await {
            Ok(f) => f,
            Err(err) => {
                tracing::error!(event_id = %event.id, error = err.kind(), %err, "dedup store failed");
                return json_error(
                    StatusCode::SERVICE_UNAVAILABLE,
                    err.kind(),
                    "temporarily unavailable; deliver again later",
                );
            }
        };
        if !first {
            duplicates += 1;
            tracing::debug!(event_id = %event.id, "duplicate event dropped");
            continue;
        }
        if let Err(err) = inner.sink.deliver(&source, event).await {
            // This event was marked seen but not taken: forget it so that its redelivery is
            // processed. The events after it were not marked yet.
            if let Err(forget_err) = inner.dedup.forget(&key).await {
                tracing::error!(
                    event_id = %event.id,
                    error = forget_err.kind(),
                    %forget_err,
                    "could not unmark a refused event: its redelivery will be taken as a duplicate"
                );
            }
            tracing::error!(event_id = %event.id, error = err.kind(), %err, "the event sink refused an event; asking the provider to deliver again");
            return json_error(
                StatusCode::SERVICE_UNAVAILABLE,
                err.kind(),
                "the event could not be taken; deliver again later",
            );
        }
        delivered += 1;
    }
    let status = inbound.reply.status.as_u16();
    tracing::debug!(status, delivered, duplicates, "accepted");
    reply_response(inbound.reply)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    #[test]
    fn base_urls() {
        assert_eq!(
            normalize_base_url("https://h.test/").unwrap(),
            "https://h.test"
        );
        assert_eq!(
            normalize_base_url("http://127.0.0.1:8080/prefix/").unwrap(),
            "http://127.0.0.1:8080/prefix"
        );
        for bad in [
            "h.test",
            "ftp://h.test",
            "https://",
            "https://u:p@h.test",
            "https://h.test/?a=1",
            "https://h.test/#x",
            "https://h .test",
        ] {
            assert!(normalize_base_url(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn names() {
        assert!(valid_name("main"));
        assert!(valid_name("eu-1.prod_a"));
        assert!(!valid_name(""));
        assert!(!valid_name("a/b"));
        assert!(!valid_name(&"x".repeat(65)));
    }
}
