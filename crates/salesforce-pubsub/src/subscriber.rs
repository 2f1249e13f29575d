//! The subscription loop: connect, subscribe, decode, deliver, save the replay id, reconnect.

use std::collections::HashSet;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use backon::{BackoffBuilder as _, ExponentialBuilder};
use secrecy::ExposeSecret as _;
use serde_json::{Value, json};
use tokio::sync::{OnceCell, mpsc};
use tonic::metadata::{AsciiMetadataValue, MetadataMap};
use tonic::transport::{Channel as GrpcChannel, ClientTlsConfig, Endpoint};
use tonic::{Code, Request, Status};

use omnichannel_core::{AccessToken, DedupStore, Error, Result, TokenManager};

use crate::avro::WriterSchema;
use crate::config::{StartAt, SubscriberConfig};
use crate::proto::pub_sub_client::PubSubClient;
use crate::proto::{
    ConsumerEvent, FetchRequest, FetchResponse, ReplayPreset, SchemaRequest, TopicInfo,
    TopicRequest,
};
use crate::replay::{MemoryReplayStore, ReplayId, ReplayStore};
use crate::schema_cache::SchemaCache;
use crate::sink::{DecodedEvent, EventMeta, EventSink};

/// Per-event overhead allowed on top of `max_event_bytes` when bounding one gRPC message.
const MESSAGE_OVERHEAD: usize = 64 * 1024;

/// Subscribes to one Pub/Sub API topic and hands every event, decoded, to an [`EventSink`].
///
/// - Authentication: each connection takes a fresh token from the [`TokenManager`] (key = org
///   id) and sends `accesstoken`, `instanceurl` (the token's `extra.instance_url`, else the
///   setting) and `tenantid`. When the server answers `UNAUTHENTICATED`, the subscriber calls
///   [`TokenManager::token_rejected`] once and subscribes again; a second refusal in a row
///   stops it with [`Error::Unauthorized`].
/// - Flow control: it asks for `batch_size` events (≤ 100) and asks for more as soon as no
///   more than `refill_below` are still pending, so the server is never more than a batch
///   ahead and is asked again before it runs dry.
/// - Replay: it resumes after the stored replay id (`CUSTOM`), else at the configured
///   `LATEST`/`EARLIEST`. A replay id is saved only after the sink accepted the event.
/// - Reconnects: on a dropped stream, a transport error, a retryable status or a silent
///   stream, it reconnects with exponential backoff and jitter (reset after a message).
/// - Dedup: with a [`DedupStore`], events whose `id` was already seen are skipped (their replay
///   id is saved); an event whose delivery did not complete is let through again in this
///   process.
///
/// Stops only on [`run_until`](Subscriber::run_until)'s shutdown signal (`Ok`) or on an error
/// a retry cannot fix (`Err`: refused credentials, unknown topic, no permission, a rejected
/// replay id, a sink that refused to skip an event).
pub struct Subscriber {
    cfg: Arc<SubscriberConfig>,
    tokens: TokenManager,
    sink: Arc<dyn EventSink>,
    replay: Arc<dyn ReplayStore>,
    dedup: Option<Arc<dyn DedupStore>>,
    schemas: SchemaCache,
    channel: OnceCell<GrpcChannel>,
    released: Mutex<HashSet<String>>,
    running: AtomicBool,
}

impl std::fmt::Debug for Subscriber {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Subscriber")
            .field("endpoint", &self.cfg.endpoint)
            .field("topic", &self.cfg.topic)
            .field("org_id", &self.cfg.org_id)
            .field("replay", &self.replay)
            .finish_non_exhaustive()
    }
}

/// Builds a [`Subscriber`].
pub struct SubscriberBuilder {
    cfg: SubscriberConfig,
    tokens: TokenManager,
    sink: Arc<dyn EventSink>,
    replay: Option<Arc<dyn ReplayStore>>,
    dedup: Option<Arc<dyn DedupStore>>,
}

impl SubscriberBuilder {
    /// Where replay ids are kept (default: in memory, lost on restart).
    pub fn replay_store(mut self, store: Arc<dyn ReplayStore>) -> Self {
        self.replay = Some(store);
        self
    }

    /// Skips events whose `id` this store has seen within `dedup_ttl` (default: no dedup).
    pub fn dedup(mut self, store: Arc<dyn DedupStore>) -> Self {
        self.dedup = Some(store);
        self
    }

    /// The subscriber; refuses invalid settings. Nothing connects until it runs.
    pub fn build(self) -> Result<Subscriber> {
        self.cfg.validate()?;
        Ok(Subscriber {
            schemas: SchemaCache::new(self.cfg.schema_cache_capacity),
            cfg: Arc::new(self.cfg),
            tokens: self.tokens,
            sink: self.sink,
            replay: self
                .replay
                .unwrap_or_else(|| Arc::new(MemoryReplayStore::new())),
            dedup: self.dedup,
            channel: OnceCell::new(),
            released: Mutex::new(HashSet::new()),
            running: AtomicBool::new(false),
        })
    }
}

/// Clears the running flag when dropped.
struct Running<'a>(&'a AtomicBool);

impl Drop for Running<'_> {
    fn drop(&mut self) {
        self.0.store(false, Ordering::SeqCst);
    }
}

/// Why a subscription stream ended.
enum End {
    /// The shutdown signal fired.
    Stopped,
    /// A retry cannot help.
    Fatal(Error),
    /// The server refused the token.
    Unauthenticated(Arc<AccessToken>),
    /// Reconnect after a backoff.
    Retry(Error),
}

/// The shutdown signal, pollable from several places.
struct Stop<'a> {
    fut: Option<Pin<Box<dyn Future<Output = ()> + Send + 'a>>>,
}

impl Stop<'_> {
    async fn wait(&mut self) {
        if let Some(f) = self.fut.as_mut() {
            f.await;
            self.fut = None;
        }
    }
}

/// Requested-but-not-yet-delivered events of one stream.
#[derive(Debug)]
struct Flow {
    batch: i32,
    refill_below: i32,
    pending: i32,
}

impl Flow {
    fn new(batch: u32, refill_below: u32) -> Self {
        let batch = i32::try_from(batch).unwrap_or(100).clamp(1, 100);
        Flow {
            batch,
            refill_below: i32::try_from(refill_below).unwrap_or(0).min(batch - 1),
            pending: batch,
        }
    }

    /// Counts `n` received events; returns how many more to request, if it is time.
    fn received(&mut self, n: usize) -> Option<i32> {
        let n = i32::try_from(n).unwrap_or(i32::MAX);
        if n > self.pending {
            tracing::warn!(
                received = n,
                pending = self.pending,
                "the server sent more events than requested"
            );
        }
        self.pending = self.pending.saturating_sub(n).max(0);
        if self.pending <= self.refill_below {
            let more = self.batch - self.pending;
            self.pending += more;
            Some(more)
        } else {
            None
        }
    }
}

/// What came of one event.
enum Outcome {
    /// Accepted, skipped as a duplicate, or skipped by the sink: save its replay id.
    Done,
    /// The stream must end.
    End(End),
}

impl Subscriber {
    /// A builder: `config`, the token manager holding the org's token (key = `org_id`), and the
    /// sink taking the events.
    pub fn builder(
        config: SubscriberConfig,
        tokens: TokenManager,
        sink: Arc<dyn EventSink>,
    ) -> SubscriberBuilder {
        SubscriberBuilder {
            cfg: config,
            tokens,
            sink,
            replay: None,
            dedup: None,
        }
    }

    /// The settings.
    pub fn config(&self) -> &SubscriberConfig {
        &self.cfg
    }

    /// Runs until an error a retry cannot fix.
    pub async fn run(&self) -> Result<()> {
        self.run_until(std::future::pending()).await
    }

    /// Runs until `shutdown` completes (then `Ok`) or an error a retry cannot fix. An event
    /// being delivered when the signal fires is finished first; waits (stream reads, backoff)
    /// end at once.
    ///
    /// One run at a time: a second concurrent call is refused with `invalid_input` (two
    /// streams would deliver every event twice).
    pub async fn run_until(&self, shutdown: impl Future<Output = ()> + Send) -> Result<()> {
        if self.running.swap(true, Ordering::SeqCst) {
            return Err(Error::invalid_input(
                "subscriber",
                "already running; run one subscriber per topic at a time",
            ));
        }
        // Cleared however the run ends, also when its future is dropped.
        let _running = Running(&self.running);
        self.run_loop(shutdown).await
    }

    async fn run_loop(&self, shutdown: impl Future<Output = ()> + Send) -> Result<()> {
        let mut stop = Stop {
            fut: Some(Box::pin(shutdown)),
        };
        let mut backoff = self.backoff();
        let mut reauthorized = false;
        let mut topic_checked = false;
        loop {
            let mut progressed = false;
            let end = self
                .session(&mut stop, &mut topic_checked, &mut progressed)
                .await;
            if progressed {
                backoff = self.backoff();
                reauthorized = false;
            }
            let err = match end {
                End::Stopped => return Ok(()),
                End::Fatal(e) => return Err(e),
                End::Unauthenticated(token) => {
                    if reauthorized {
                        return Err(Error::Unauthorized {
                            message: "the Pub/Sub API refused a newly issued access token \
                                      (UNAUTHENTICATED); check the integration user's access"
                                .into(),
                        });
                    }
                    reauthorized = true;
                    tracing::info!(org_id = %self.cfg.org_id, "Pub/Sub API refused the access token; getting a new one");
                    match self.tokens.token_rejected(&self.cfg.org_id, &token).await {
                        Ok(_) => continue,
                        Err(e) if e.retryable() => e,
                        Err(e) => return Err(e),
                    }
                }
                End::Retry(e) => e,
            };
            let delay = backoff.next().unwrap_or(self.cfg.backoff_max);
            tracing::warn!(
                topic = %self.cfg.topic,
                error = err.kind(),
                %err,
                delay_ms = u64::try_from(delay.as_millis()).unwrap_or(u64::MAX),
                "Pub/Sub subscription interrupted; reconnecting"
            );
            tokio::select! {
                _ = tokio::time::sleep(delay) => {}
                _ = stop.wait() => return Ok(()),
            }
        }
    }

    /// `GetTopic` for the configured topic, with a fresh token.
    pub async fn topic_info(&self) -> Result<TopicInfo> {
        let token = self.tokens.access_token(&self.cfg.org_id).await?;
        let meta = self.metadata(&token)?;
        let mut client = self.client().await?;
        let mut req = self.request(
            TopicRequest {
                topic_name: self.cfg.topic.clone(),
            },
            &meta,
        );
        req.set_timeout(self.cfg.rpc_timeout);
        client
            .get_topic(req)
            .await
            .map(tonic::Response::into_inner)
            .map_err(|s| status_error(&s))
    }

    fn backoff(&self) -> impl Iterator<Item = Duration> + use<> {
        ExponentialBuilder::default()
            .with_min_delay(self.cfg.backoff_min)
            .with_max_delay(self.cfg.backoff_max)
            .with_jitter()
            .without_max_times()
            .build()
    }

    async fn client(&self) -> Result<PubSubClient<GrpcChannel>> {
        let channel = self
            .channel
            .get_or_try_init(|| async { self.connect() })
            .await?
            .clone();
        let limit = usize::try_from(self.cfg.batch_size)
            .unwrap_or(100)
            .saturating_mul(self.cfg.max_event_bytes.saturating_add(MESSAGE_OVERHEAD));
        Ok(PubSubClient::new(channel)
            .max_decoding_message_size(limit.max(self.cfg.max_schema_bytes + MESSAGE_OVERHEAD)))
    }

    fn connect(&self) -> Result<GrpcChannel> {
        let bad = |reason: String| Error::config("pubsub_endpoint", reason);
        let mut ep = Endpoint::from_shared(self.cfg.endpoint.clone())
            .map_err(|e| bad(format!("not a valid URI: {e}")))?
            .connect_timeout(self.cfg.connect_timeout)
            .tcp_keepalive(Some(Duration::from_secs(60)))
            .http2_keep_alive_interval(Duration::from_secs(30))
            .keep_alive_timeout(Duration::from_secs(20))
            .keep_alive_while_idle(true);
        if self.cfg.endpoint.starts_with("https://") {
            ep = ep
                .tls_config(ClientTlsConfig::new().with_webpki_roots())
                .map_err(|e| bad(format!("TLS: {e}")))?;
        }
        Ok(ep.connect_lazy())
    }

    fn metadata(&self, token: &AccessToken) -> Result<MetadataMap> {
        let mut md = MetadataMap::new();
        let mut access = AsciiMetadataValue::try_from(token.value.expose_secret())
            .map_err(|_| Error::config("access_token", "is not a valid gRPC header value"))?;
        access.set_sensitive(true);
        md.insert("accesstoken", access);
        let instance = token
            .extra
            .get("instance_url")
            .and_then(Value::as_str)
            .or(self.cfg.instance_url.as_deref())
            .ok_or_else(|| {
                Error::config(
                    "instance_url",
                    "neither the access token's `instance_url` nor the setting is set",
                )
            })?;
        md.insert(
            "instanceurl",
            AsciiMetadataValue::try_from(instance)
                .map_err(|_| Error::config("instance_url", "is not a valid gRPC header value"))?,
        );
        let tenant = self.cfg.tenant_id.as_deref().unwrap_or(&self.cfg.org_id);
        md.insert(
            "tenantid",
            AsciiMetadataValue::try_from(tenant)
                .map_err(|_| Error::config("tenant_id", "is not a valid gRPC header value"))?,
        );
        Ok(md)
    }

    fn request<T>(&self, msg: T, md: &MetadataMap) -> Request<T> {
        let mut req = Request::new(msg);
        *req.metadata_mut() = md.clone();
        req
    }

    /// One Subscribe stream, from connect to its end.
    async fn session(
        &self,
        stop: &mut Stop<'_>,
        topic_checked: &mut bool,
        progressed: &mut bool,
    ) -> End {
        let token = match self.tokens.access_token(&self.cfg.org_id).await {
            Ok(t) => t,
            Err(e) if e.retryable() => return End::Retry(e),
            Err(e) => return End::Fatal(e),
        };
        let md = match self.metadata(&token) {
            Ok(m) => m,
            Err(e) => return End::Fatal(e),
        };
        let mut client = match self.client().await {
            Ok(c) => c,
            Err(e) => return End::Fatal(e),
        };
        if !*topic_checked {
            let mut req = self.request(
                TopicRequest {
                    topic_name: self.cfg.topic.clone(),
                },
                &md,
            );
            req.set_timeout(self.cfg.rpc_timeout);
            let info = tokio::select! {
                r = client.get_topic(req) => r,
                _ = stop.wait() => return End::Stopped,
            };
            match info {
                Ok(info) => {
                    let info = info.into_inner();
                    if !info.can_subscribe {
                        return End::Fatal(Error::Provider {
                            status: None,
                            code: Some("can_subscribe=false".into()),
                            message: format!(
                                "the integration user may not subscribe to `{}`",
                                self.cfg.topic
                            ),
                            retryable: false,
                            retry_after: None,
                        });
                    }
                    *topic_checked = true;
                    // Warm the cache with the topic's current schema (events name theirs).
                    if !info.schema_id.is_empty() {
                        match self
                            .schema(&info.schema_id, &token, &md, &mut client, stop)
                            .await
                        {
                            Ok(_) | Err(SchemaError::Bad(_)) => {}
                            Err(SchemaError::End(end)) => return end,
                        }
                    }
                }
                Err(s) => return self.classify(&s, token, false),
            }
        }

        let stored = match self.replay.load(&self.cfg.topic).await {
            Ok(r) => r.filter(|r| !r.is_empty()),
            Err(e) => return End::Retry(e),
        };
        let custom = stored.is_some();
        let (preset, replay_id) = match stored {
            Some(r) => (ReplayPreset::Custom, r.0),
            None => match self.cfg.start {
                StartAt::Latest => (ReplayPreset::Latest, Vec::new()),
                StartAt::Earliest => (ReplayPreset::Earliest, Vec::new()),
            },
        };
        let mut flow = Flow::new(self.cfg.batch_size, self.cfg.refill_below);
        let (tx, rx) = mpsc::channel::<FetchRequest>(4);
        let first = FetchRequest {
            topic_name: self.cfg.topic.clone(),
            replay_preset: preset as i32,
            replay_id,
            num_requested: flow.batch,
            auth_refresh: String::new(),
        };
        if tx.send(first).await.is_err() {
            return End::Retry(transport("the request stream closed before it started"));
        }
        let outbound =
            futures::stream::unfold(rx, |mut rx| async move { rx.recv().await.map(|r| (r, rx)) });
        let mut req = Request::new(outbound);
        *req.metadata_mut() = md.clone();
        let response = tokio::select! {
            r = client.subscribe(req) => r,
            _ = stop.wait() => return End::Stopped,
        };
        let mut stream = match response {
            Ok(r) => r.into_inner(),
            Err(s) => return self.classify(&s, token, custom),
        };
        tracing::info!(topic = %self.cfg.topic, ?preset, "subscribed to the Pub/Sub API");

        loop {
            let next = tokio::select! {
                m = tokio::time::timeout(self.cfg.idle_timeout, stream.message()) => m,
                _ = stop.wait() => return End::Stopped,
            };
            let resp: FetchResponse = match next {
                Err(_) => {
                    return End::Retry(transport(format!(
                        "no event or keepalive for {} s",
                        self.cfg.idle_timeout.as_secs()
                    )));
                }
                Ok(Err(s)) => return self.classify(&s, token, custom && !*progressed),
                Ok(Ok(None)) => return End::Retry(transport("the server ended the stream")),
                Ok(Ok(Some(r))) => r,
            };
            *progressed = true;
            let n = resp.events.len();
            if let Some(more) = flow.received(n) {
                let fetch = FetchRequest {
                    num_requested: more,
                    ..FetchRequest::default()
                };
                if tx.send(fetch).await.is_err() {
                    return End::Retry(transport("the request stream closed"));
                }
            }
            if n == 0 {
                let latest = ReplayId(resp.latest_replay_id);
                tracing::debug!(topic = %self.cfg.topic, latest = %latest.display(), "keepalive");
                // Both sides agree events were requested and the server had none to send:
                // everything up to `latest` was delivered and accepted, so resuming there
                // loses nothing.
                if self.cfg.save_keepalive_replay
                    && !latest.is_empty()
                    && flow.pending > 0
                    && resp.pending_num_requested > 0
                    && let Err(e) = self.replay.save(&self.cfg.topic, &latest).await
                {
                    return End::Retry(e);
                }
                continue;
            }
            for event in resp.events {
                let replay_id = ReplayId(event.replay_id.clone());
                match self.handle(event, &token, &md, &mut client, stop).await {
                    Outcome::Done => {
                        if let Err(e) = self.replay.save(&self.cfg.topic, &replay_id).await {
                            return End::Retry(e);
                        }
                    }
                    Outcome::End(end) => return end,
                }
            }
        }
    }

    fn classify(&self, s: &Status, token: Arc<AccessToken>, custom_replay: bool) -> End {
        match s.code() {
            Code::Unauthenticated => End::Unauthenticated(token),
            Code::InvalidArgument if custom_replay => {
                let mut e = status_error(s);
                if let Error::Provider { message, .. } = &mut e {
                    message.push_str(
                        " (the stored replay id may be invalid or older than the 72-hour \
                         retention: save a valid one, or remove it to start at the configured \
                         preset)",
                    );
                }
                End::Fatal(e)
            }
            _ => {
                let e = status_error(s);
                if e.retryable() {
                    End::Retry(e)
                } else {
                    End::Fatal(e)
                }
            }
        }
    }

    fn dedup_key(&self, event_id: &str) -> String {
        format!(
            "sfpubsub:{}:{}:{}",
            self.cfg.org_id, self.cfg.topic, event_id
        )
    }

    fn release(&self, key: Option<String>) {
        if let Some(k) = key {
            self.released
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .insert(k);
        }
    }

    /// Dedup, decode, deliver (retrying), or hand to `rejected`.
    async fn handle(
        &self,
        event: ConsumerEvent,
        token: &Arc<AccessToken>,
        md: &MetadataMap,
        client: &mut PubSubClient<GrpcChannel>,
        stop: &mut Stop<'_>,
    ) -> Outcome {
        let replay_id = ReplayId(event.replay_id);
        let Some(ev) = event.event else {
            let meta = EventMeta {
                topic: self.cfg.topic.clone(),
                event_id: String::new(),
                schema_id: String::new(),
                replay_id,
            };
            return self
                .reject(
                    &meta,
                    &[],
                    &Error::malformed("consumer event without an event"),
                    None,
                )
                .await;
        };
        let meta = EventMeta {
            topic: self.cfg.topic.clone(),
            event_id: ev.id,
            schema_id: ev.schema_id,
            replay_id,
        };

        let mut key = None;
        if let Some(dedup) = &self.dedup
            && !meta.event_id.is_empty()
        {
            let k = self.dedup_key(&meta.event_id);
            let was_released = self
                .released
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .remove(&k);
            if !was_released {
                match dedup.first_seen(&k, self.cfg.dedup_ttl).await {
                    Ok(true) => {}
                    Ok(false) => {
                        tracing::debug!(event_id = %meta.event_id, "duplicate platform event skipped");
                        return Outcome::Done;
                    }
                    Err(e) => return Outcome::End(End::Retry(e)),
                }
            }
            key = Some(k);
        }

        if ev.payload.len() > self.cfg.max_event_bytes {
            let e = Error::PayloadTooLarge {
                size: ev.payload.len(),
                limit: self.cfg.max_event_bytes,
            };
            return self.reject(&meta, &ev.payload, &e, key).await;
        }
        let schema = match self.schema(&meta.schema_id, token, md, client, stop).await {
            Ok(s) => s,
            Err(SchemaError::Bad(e)) => return self.reject(&meta, &ev.payload, &e, key).await,
            Err(SchemaError::End(end)) => {
                self.release(key);
                return Outcome::End(end);
            }
        };
        let payload = match schema.decode(&ev.payload) {
            Ok(v) => v,
            Err(e) => return self.reject(&meta, &ev.payload, &e, key).await,
        };
        let decoded = DecodedEvent {
            json: Arc::new(json!({
                "replayId": meta.replay_id.display(),
                "eventId": meta.event_id,
                "schemaId": meta.schema_id,
                "topic": meta.topic,
                "payload": payload,
            })),
            meta,
        };

        let mut backoff = self.backoff();
        loop {
            match self.sink.deliver(&decoded).await {
                Ok(()) => return Outcome::Done,
                Err(e) if e.retryable() => {
                    let delay = e
                        .retry_after()
                        .unwrap_or_else(|| backoff.next().unwrap_or(self.cfg.backoff_max));
                    tracing::warn!(
                        event_id = %decoded.meta.event_id,
                        error = e.kind(),
                        %e,
                        "the event sink failed; delivering the event again"
                    );
                    tokio::select! {
                        _ = tokio::time::sleep(delay) => {}
                        _ = stop.wait() => {
                            self.release(key);
                            return Outcome::End(End::Stopped);
                        }
                    }
                }
                Err(e) => return self.reject(&decoded.meta, &ev.payload, &e, key).await,
            }
        }
    }

    async fn reject(
        &self,
        meta: &EventMeta,
        raw: &[u8],
        err: &Error,
        key: Option<String>,
    ) -> Outcome {
        match self.sink.rejected(meta, raw, err).await {
            Ok(()) => Outcome::Done,
            Err(e) => {
                self.release(key);
                Outcome::End(End::Fatal(e))
            }
        }
    }

    async fn schema(
        &self,
        id: &str,
        token: &Arc<AccessToken>,
        md: &MetadataMap,
        client: &mut PubSubClient<GrpcChannel>,
        stop: &mut Stop<'_>,
    ) -> std::result::Result<Arc<WriterSchema>, SchemaError> {
        if let Some(s) = self.schemas.get(id) {
            return Ok(s);
        }
        if id.is_empty() {
            return Err(SchemaError::Bad(Error::malformed(
                "event without a schema id",
            )));
        }
        let mut req = self.request(
            SchemaRequest {
                schema_id: id.to_string(),
            },
            md,
        );
        req.set_timeout(self.cfg.rpc_timeout);
        let info = tokio::select! {
            r = client.get_schema(req) => r,
            _ = stop.wait() => return Err(SchemaError::End(End::Stopped)),
        };
        let info = match info {
            Ok(i) => i.into_inner(),
            Err(s) if matches!(s.code(), Code::NotFound | Code::InvalidArgument) => {
                return Err(SchemaError::Bad(status_error(&s)));
            }
            Err(s) => return Err(SchemaError::End(self.classify(&s, token.clone(), false))),
        };
        if info.schema_json.len() > self.cfg.max_schema_bytes {
            return Err(SchemaError::Bad(Error::PayloadTooLarge {
                size: info.schema_json.len(),
                limit: self.cfg.max_schema_bytes,
            }));
        }
        let schema = WriterSchema::parse(id, &info.schema_json).map_err(SchemaError::Bad)?;
        self.schemas.insert(id, schema.clone());
        Ok(schema)
    }
}

enum SchemaError {
    /// This event cannot be decoded.
    Bad(Error),
    /// The stream must end.
    End(End),
}

fn transport(message: impl Into<String>) -> Error {
    Error::Transport {
        message: message.into(),
        retryable: true,
        source: None,
    }
}

/// A gRPC status as a core error: `UNAUTHENTICATED` → `unauthorized`; `UNAVAILABLE`,
/// `DEADLINE_EXCEEDED`, `ABORTED`, `INTERNAL`, `UNKNOWN`, `CANCELLED` → retryable transport;
/// `RESOURCE_EXHAUSTED` → rate limited; anything else → a non-retryable provider error with the
/// status code name as `code`.
pub fn status_error(s: &Status) -> Error {
    let message = s.message().chars().take(500).collect::<String>();
    match s.code() {
        Code::Unauthenticated => Error::Unauthorized { message },
        Code::ResourceExhausted => Error::RateLimited {
            retry_after: None,
            code: Some("RESOURCE_EXHAUSTED".into()),
        },
        Code::Unavailable
        | Code::DeadlineExceeded
        | Code::Aborted
        | Code::Internal
        | Code::Unknown
        | Code::Cancelled => Error::Transport {
            message: format!("{:?}: {message}", s.code()),
            retryable: true,
            source: None,
        },
        other => Error::Provider {
            status: None,
            code: Some(format!("{other:?}")),
            message,
            retryable: false,
            retry_after: None,
        },
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::sink::sink_fn;

    fn subscriber(cfg: SubscriberConfig) -> Subscriber {
        let sink = Arc::new(sink_fn(|_e: DecodedEvent| async { Ok(()) }));
        Subscriber::builder(cfg, TokenManager::with_static_token("unused"), sink)
            .build()
            .unwrap()
    }

    #[test]
    fn metadata_headers_hide_the_token_and_need_an_instance_url() {
        let sub = subscriber(SubscriberConfig::new("/event/R__e", "00D1"));
        let mut token = AccessToken::new("00D1!very-secret-token");
        let e = sub.metadata(&token).unwrap_err();
        assert_eq!(e.kind(), "invalid_input");
        assert!(e.to_string().contains("instance_url"), "{e}");
        token.extra.insert(
            "instance_url".into(),
            "https://acme.my.salesforce.com".into(),
        );
        let md = sub.metadata(&token).unwrap();
        assert_eq!(
            md.get("accesstoken").unwrap().to_str().unwrap(),
            "00D1!very-secret-token"
        );
        assert_eq!(
            md.get("instanceurl").unwrap().to_str().unwrap(),
            "https://acme.my.salesforce.com"
        );
        assert_eq!(md.get("tenantid").unwrap().to_str().unwrap(), "00D1");
        assert!(!format!("{md:?}").contains("very-secret"));
        assert!(!format!("{sub:?}").contains("very-secret"));

        let sub = subscriber(
            SubscriberConfig::new("/event/R__e", "00D1")
                .tenant_id("core/acme/00D1")
                .instance_url("https://fallback.my.salesforce.com"),
        );
        let md = sub.metadata(&AccessToken::new("t")).unwrap();
        assert_eq!(
            md.get("tenantid").unwrap().to_str().unwrap(),
            "core/acme/00D1"
        );
        assert_eq!(
            md.get("instanceurl").unwrap().to_str().unwrap(),
            "https://fallback.my.salesforce.com"
        );
        let e = sub.metadata(&AccessToken::new("bad\ntoken")).unwrap_err();
        assert!(!e.to_string().contains("bad"), "{e}");
    }

    #[tokio::test]
    async fn the_default_endpoint_gets_a_tls_client_without_connecting() {
        let sub = subscriber(SubscriberConfig::new("/event/R__e", "00D1"));
        assert_eq!(sub.config().endpoint, crate::DEFAULT_ENDPOINT);
        assert!(sub.client().await.is_ok());
        let sub = subscriber(
            SubscriberConfig::new("/event/R__e", "00D1").endpoint("https://bad host:7443"),
        );
        assert_eq!(sub.client().await.unwrap_err().kind(), "invalid_input");
    }

    #[test]
    fn invalid_settings_are_refused_when_built() {
        let sink = Arc::new(sink_fn(|_e: DecodedEvent| async { Ok(()) }));
        let e = Subscriber::builder(
            SubscriberConfig::new("/event/R__e", "00D1").refill_below(100),
            TokenManager::with_static_token("t"),
            sink,
        )
        .build()
        .unwrap_err();
        assert_eq!(e.kind(), "invalid_input");
    }

    #[test]
    fn flow_refills_before_running_dry_and_never_over_asks() {
        let mut f = Flow::new(10, 4);
        assert_eq!(f.pending, 10);
        assert_eq!(f.received(3), None);
        assert_eq!(f.received(3), Some(6));
        assert_eq!(f.pending, 10);
        assert_eq!(f.received(10), Some(10));
        assert_eq!(f.received(0), None);
        let mut f = Flow::new(500, 499);
        assert_eq!((f.batch, f.refill_below), (100, 99));
        assert_eq!(f.received(1), Some(1));
    }

    #[test]
    fn statuses_map_to_kinds() {
        assert_eq!(
            status_error(&Status::unauthenticated("x")).kind(),
            "unauthorized"
        );
        assert!(status_error(&Status::unavailable("x")).retryable());
        assert!(status_error(&Status::resource_exhausted("x")).retryable());
        let e = status_error(&Status::permission_denied("no"));
        assert!(!e.retryable());
        assert!(e.to_string().contains("PermissionDenied"), "{e}");
    }
}
