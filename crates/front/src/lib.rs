//! # omnichannel-front
//!
//! A Front application (partner) channel: verifies and parses the requests Front sends to the
//! channel webhook (`authorization`, `message`, `message_autoreply`, `message_imported`,
//! `delete`), answers them the way Front expects within its 7 s budget (no network call while
//! replying), and calls Front's Channel API (sync inbound/outbound, mark failed, channel status,
//! attachment download) with a fresh HS256 JWT per call.
//!
//! ```
//! use omnichannel_core::{Channel, ChannelEnv, ChannelFactory, EventKind};
//! use omnichannel_front::{Factory, FrontChannel, FrontConfig};
//! use omnichannel_core::SigningKeys;
//!
//! # async fn demo() -> Result<(), omnichannel_core::Error> {
//! let config = FrontConfig::builder("test-app-uid", SigningKeys::new("test-secret-not-real"))
//!     .webhook_url_with(|channel_id: &str| Some(format!("https://hooks.example.test/front/{channel_id}")))
//!     .build()?;
//! let channel = FrontChannel::new(config, &ChannelEnv::default())?;
//!
//! // What Front sends when a user connects a channel (signed as Front would).
//! let req = Factory.simulate(
//!     &Factory.demo_config(),
//!     "authorization",
//!     "https://hooks.example.test/front",
//!     chrono::Utc::now(),
//! )?;
//! let inbound = channel.receive(&req).await?;
//! assert_eq!(inbound.events[0].kind, EventKind::ChannelAuthorized);
//! assert_eq!(inbound.reply.status, 200); // {"type":"success","webhook_url":".../front/cha_demo"}
//! # Ok(()) }
//! # tokio_test_block(demo());
//! # fn tokio_test_block<F: std::future::Future>(f: F) -> F::Output {
//! #     tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(f)
//! # }
//! ```
//!
//! Sending (`Channel::send`) maps a normalized message to **sync inbound**: `sender` is the
//! contact the host relays for, `conversation_id` the external conversation id (default: the
//! contact's id). See [`normalize::to_sync_request`] for the metadata keys (`sync`,
//! `external_id`, `delivered_at`, `subject`, `channel_id`, ...).
#![forbid(unsafe_code)]

pub mod api;
pub mod auth;
pub mod config;
pub mod model;
pub mod normalize;
pub mod webhook;

use std::sync::Arc;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use http::Method;
use omnichannel_core::http::{Idempotency, read_body_limited};
use omnichannel_core::{
    AttachmentKind, Capabilities, Channel, ChannelEnv, ChannelFactory, Clock, Error, Inbound,
    OutboundMessage, Provider, Result, SendReceipt, SendStatus, VerifyError, WebhookReply,
    WebhookRequest,
};
use serde_json::{Value, json};

pub use api::{ChannelApi, ChannelStatus};
pub use auth::ChannelJwt;
pub use config::{FrontConfig, FrontConfigBuilder, TokenLookup, WebhookUrlFor};
pub use model::{FrontMessage, FrontRequest, Recipient, RecipientRole};
pub use normalize::{ExternalIds, FrontEvent, IdConvention, WebhookDbIds, failure_notice};

use crate::api::FileUpload;
use crate::config::MAX_ATTACHMENT_BYTES;
use crate::normalize::SyncRequest;

/// A Front application channel.
pub struct FrontChannel {
    config: FrontConfig,
    api: ChannelApi,
    http: reqwest::Client,
    clock: Arc<dyn Clock>,
    capabilities: Capabilities,
}

impl std::fmt::Debug for FrontChannel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FrontChannel")
            .field("config", &self.config)
            .field("api", &self.api)
            .finish_non_exhaustive()
    }
}

impl FrontChannel {
    /// A channel from settings; `env` gives the clock, the HTTP client and (in tests) the origin
    /// the API base URL is moved to.
    pub fn new(config: FrontConfig, env: &ChannelEnv) -> Result<Self> {
        let base = env.rebase(&config.api_base_url)?;
        let jwt = ChannelJwt::new(
            config.app_uid.clone(),
            config.app_secret.primary().clone(),
            config.jwt_lifetime,
            env.clock.clone(),
        );
        let api = ChannelApi::new(
            env.http.clone(),
            &base,
            jwt,
            config.retry.clone(),
            env.clock.clone(),
        )?;
        let capabilities = Capabilities::text_only()
            .with_attachments(
                &[
                    AttachmentKind::Image,
                    AttachmentKind::Video,
                    AttachmentKind::Audio,
                    AttachmentKind::File,
                ],
                config.max_attachments,
            )
            .with_text_and_attachments(true)
            .with_max_attachment_bytes(MAX_ATTACHMENT_BYTES as u64);
        Ok(FrontChannel {
            config,
            api,
            http: env.http.clone(),
            clock: env.clock.clone(),
            capabilities,
        })
    }

    /// The settings.
    pub fn config(&self) -> &FrontConfig {
        &self.config
    }

    /// The Channel API client (mark failed, channel status, downloads, sync calls).
    pub fn api(&self) -> &ChannelApi {
        &self.api
    }

    /// Verifies and parses a request into typed events and the reply Front expects.
    pub fn receive_typed(&self, req: &WebhookRequest) -> Result<(Vec<FrontEvent>, WebhookReply)> {
        webhook::verify(&self.config, req, self.clock.now())?;
        let (parsed, raw) = webhook::parse(req)?;
        // Only a delete uses the path (the id of a delete without a channel id): other
        // requests do not pay for parsing the URL.
        let path = if matches!(parsed, FrontRequest::Delete { .. }) {
            url::Url::parse(&req.url)
                .map(|u| u.path().to_string())
                .unwrap_or_else(|_| req.url.clone())
        } else {
            String::new()
        };
        normalize::handle(&self.config, parsed, raw, &path)
    }

    async fn attachment_files(&self, msg: &dyn OutboundMessage) -> Result<Vec<FileUpload>> {
        let mut out = Vec::new();
        for (i, a) in msg.attachments().iter().enumerate() {
            let (data, fetched_type) = match (&a.data_base64, &a.url) {
                (Some(_), _) => (
                    a.decode_data(MAX_ATTACHMENT_BYTES)?
                        .unwrap_or_default()
                        .into(),
                    None,
                ),
                (None, Some(url)) => self.fetch(url).await?,
                (None, None) => {
                    return Err(Error::invalid_input(
                        format!("attachments[{i}]"),
                        "needs `url` or `data_base64`",
                    ));
                }
            };
            let content_type = a
                .mime_type
                .clone()
                .or(fetched_type)
                .unwrap_or_else(|| "application/octet-stream".to_string());
            let filename = a
                .name
                .clone()
                .unwrap_or_else(|| format!("attachment-{}", i + 1));
            out.push(FileUpload {
                filename,
                content_type,
                data,
            });
        }
        Ok(out)
    }

    async fn fetch(&self, url: &str) -> Result<(bytes::Bytes, Option<String>)> {
        let u = url::Url::parse(url)
            .map_err(|_| Error::invalid_input("attachments.url", "not an absolute URL"))?;
        if u.scheme() != "https" && u.scheme() != "http" {
            return Err(Error::invalid_input(
                "attachments.url",
                "must be http or https",
            ));
        }
        let res = self.http.get(u).send().await.map_err(Error::from_reqwest)?;
        if !res.status().is_success() {
            return Err(Error::invalid_input(
                "attachments.url",
                format!("download answered HTTP {}", res.status().as_u16()),
            ));
        }
        let ct = res
            .headers()
            .get(http::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
        let data = read_body_limited(res, MAX_ATTACHMENT_BYTES)
            .await
            .map_err(|e| match e {
                Error::Provider { message, .. } => Error::invalid_input("attachments.url", message),
                e => e,
            })?;
        Ok((data, ct))
    }
}

#[async_trait]
impl Channel for FrontChannel {
    fn provider(&self) -> Provider {
        Provider::Front
    }

    fn capabilities(&self) -> &Capabilities {
        &self.capabilities
    }

    fn verify(&self, req: &WebhookRequest) -> Result<(), VerifyError> {
        webhook::verify(&self.config, req, self.clock.now())
    }

    async fn receive(&self, req: &WebhookRequest) -> Result<Inbound> {
        let (events, reply) = self.receive_typed(req)?;
        Ok(Inbound::new(
            events.into_iter().map(FrontEvent::into_event).collect(),
            reply,
        ))
    }

    async fn send(&self, msg: &dyn OutboundMessage) -> Result<SendReceipt> {
        self.capabilities.check_at(msg, self.clock.now())?;
        let channel_id = normalize::target_channel(&self.config, msg)?;
        // Map first (cheap checks), then read attachments.
        normalize::to_sync_request(msg, Vec::new())?;
        let files = self.attachment_files(msg).await?;
        let request = normalize::to_sync_request(msg, files)?;
        let idem = Idempotency::keyed(msg.idempotency_key());
        let (accepted, external_id) = match &request {
            SyncRequest::Inbound(r) => (
                self.api.sync_inbound(&channel_id, r, idem).await?,
                r.metadata.external_id.clone(),
            ),
            SyncRequest::Outbound(r) => (
                self.api.sync_outbound(&channel_id, r, idem).await?,
                r.metadata.external_id.clone(),
            ),
        };
        // Without a uid (an empty 202), the receipt names the message by its external id.
        let id = accepted.message_uid.clone().unwrap_or(external_id);
        let raw = (!accepted.raw.is_null()).then_some(accepted.raw);
        Ok(SendReceipt::new(
            Provider::Front,
            id,
            SendStatus::Accepted,
            raw,
        ))
    }

    fn reject_reply(&self, err: &Error) -> WebhookReply {
        normalize::reject_reply(err)
    }
}

/// Builds Front channels from settings (DESIGN.md section 5 keys).
#[derive(Debug, Clone, Copy, Default)]
pub struct Factory;

/// The sample events [`Factory::simulate`] produces.
pub const SAMPLE_EVENTS: [&str; 6] = [
    "authorization",
    "message",
    "message_autoreply",
    "message_imported",
    "delete",
    "delete_empty",
];

impl Factory {
    /// The raw body of a sample event, and the method Front uses for it.
    pub fn sample_body(
        event: &str,
        channel_id: &str,
        now: DateTime<Utc>,
    ) -> Result<(Method, String)> {
        let created = now.timestamp_millis() as f64 / 1000.0;
        let message = |id: Option<&str>| {
            let mut m = json!({
                "_links": {
                    "related": {
                        "conversation": "https://api2.frontapp.com/conversations/cnv_demo1",
                        "message_replied_to": "https://api2.frontapp.com/messages/msg_demo0"
                    }
                },
                "type": if id.is_some() { "custom" } else { "auto_reply" },
                "is_inbound": false,
                "created_at": created,
                "author": {"id": "tea_demo", "email": "agent@example.test", "first_name": "Ada", "last_name": "Agent"},
                "recipients": [
                    {"handle": "+15550001111", "name": "Demo Contact", "role": "to"},
                    {"handle": "support@example.test", "name": null, "role": "from"}
                ],
                "body": "<p>Hello from Front</p>",
                "text": "Hello from Front",
                "attachments": [],
                "metadata": {}
            });
            if let Some(id) = id {
                m["id"] = Value::String(id.to_string());
                m["_links"]["self"] =
                    Value::String(format!("https://api2.frontapp.com/messages/{id}"));
            } else if let Some(o) = m.as_object_mut() {
                o.remove("author");
            }
            m
        };
        let body = match event {
            "authorization" => {
                json!({"type": "authorization", "payload": {"channel_id": channel_id}})
            }
            "message" => json!({"type": "message", "payload": message(Some("msg_demo1"))}),
            "message_autoreply" => json!({"type": "message_autoreply", "payload": message(None)}),
            "message_imported" => json!({
                "type": "message_imported",
                "payload": message(Some("msg_demo2")),
                "metadata": {"external_conversation_id": "+15550001111", "external_conversation_ids": ["+15550001111"]}
            }),
            "delete" => {
                return Ok((
                    Method::DELETE,
                    json!({"type": "delete", "payload": {"channel_id": channel_id}}).to_string(),
                ));
            }
            "delete_empty" => return Ok((Method::DELETE, String::new())),
            other => {
                return Err(Error::invalid_input(
                    "event",
                    format!(
                        "no sample event `{other}`; try one of {}",
                        SAMPLE_EVENTS.join(", ")
                    ),
                ));
            }
        };
        Ok((Method::POST, body.to_string()))
    }
}

impl ChannelFactory for Factory {
    fn provider(&self) -> Provider {
        Provider::Front
    }

    fn build(&self, config: &Value, env: &ChannelEnv) -> Result<Arc<dyn Channel>> {
        let cfg = FrontConfig::from_settings(config)?;
        Ok(Arc::new(FrontChannel::new(cfg, env)?))
    }

    fn demo_config(&self) -> Value {
        json!({
            "app_uid": "demo-app-uid",
            "app_secret": "test-secret-not-real",
            "webhook_url": "http://127.0.0.1:8080/webhooks/front/demo",
            "channel_id": "cha_demo",
            "tolerance_secs": 300
        })
    }

    fn sample_events(&self) -> Vec<&'static str> {
        SAMPLE_EVENTS.to_vec()
    }

    fn simulate(
        &self,
        config: &Value,
        event: &str,
        url: &str,
        now: DateTime<Utc>,
    ) -> Result<WebhookRequest> {
        let cfg = FrontConfig::from_settings(config)?;
        let channel_id = cfg
            .channel_id
            .clone()
            .unwrap_or_else(|| "cha_demo".to_string());
        let (method, body) = Factory::sample_body(event, &channel_id, now)?;
        Ok(webhook::sign_request(
            &cfg.app_secret,
            method,
            url,
            now,
            body,
        ))
    }
}

/// The factories this crate serves (one: `front`).
pub fn factories() -> Vec<Arc<dyn ChannelFactory>> {
    vec![Arc::new(Factory)]
}
