//! # omnichannel-tiktok
//!
//! The TikTok Business Messaging channel: verified webhooks (`Tiktok-Signature`) in, normalized
//! events out; text or single-image replies within TikTok's 48-hour window; OAuth with an
//! expiring signed `state`; tokens refreshed ahead of expiry through the core `TokenManager`.
//!
//! ```
//! use omnichannel_core::{Channel, ChannelEnv, FixedClock, InboundEvent};
//! use omnichannel_tiktok::{TiktokChannel, TiktokConfig, webhook};
//! use std::sync::Arc;
//!
//! let config = TiktokConfig::builder("test-app-id", "test-secret-not-real")
//!     .business_id("biz-123")
//!     .build()?;
//! let now = chrono::DateTime::from_timestamp(1_700_000_000, 0).unwrap_or_default();
//! let env = ChannelEnv { clock: Arc::new(FixedClock::new(now)), ..ChannelEnv::default() };
//! let channel = TiktokChannel::new(config.clone(), &env)?;
//!
//! // What TikTok would POST, signed by the same code that verifies it.
//! let body = webhook::sample_body("text", "test-app-id", "biz-123", now).unwrap_or_default();
//! let req = webhook::sign_request(&config.app_secret, "https://host.test/webhooks/tiktok", body, now)?;
//! channel.verify(&req)?;
//!
//! // Typed event (full fidelity) and its normalized form.
//! let event = webhook::parse(&req.body)?.normalize();
//! assert_eq!(event.id, "tt-msg-1");
//! assert_eq!(event.channel_id.as_deref(), Some("biz-123"));
//! assert_eq!(event.text.as_deref(), Some("Hello from TikTok"));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! Sending (`Channel::send`) checks the message against [`TiktokChannel::capabilities`] before
//! any request: text alone (≤ 6000 characters) or exactly one image, a conversation the contact
//! started, within 48 h of the contact's last message when the message says when that was
//! (`last_inbound_at`). Metadata keys are documented in [`normalize`].
#![forbid(unsafe_code)]

pub mod api;
pub mod auth;
pub mod config;
pub mod model;
pub mod normalize;
pub mod webhook;

use std::future::Future;
use std::sync::Arc;

use bytes::Bytes;
use chrono::{DateTime, Utc};
use omnichannel_core::{
    AccessToken, Capabilities, Channel, ChannelEnv, ChannelFactory, Clock, Error, Inbound,
    OutboundAttachment, OutboundMessage, Provider, Result, SendReceipt, SendStatus, TokenManager,
    VerifyError, WebhookReply, WebhookRequest, async_trait,
};
use secrecy::ExposeSecret as _;

pub use api::ApiClient;
pub use auth::{Authorization, CallbackError, CallbackParams, OAuth, TiktokTokenSource};
pub use config::TiktokConfig;
pub use model::TiktokEvent;

/// The TikTok channel of one app (one or several businesses).
#[derive(Clone)]
pub struct TiktokChannel {
    cfg: Arc<TiktokConfig>,
    api: ApiClient,
    tokens: TokenManager,
    clock: Arc<dyn Clock>,
    http: reqwest::Client,
    caps: Capabilities,
}

impl std::fmt::Debug for TiktokChannel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TiktokChannel")
            .field("config", &self.cfg)
            .field("tokens", &self.tokens)
            .finish_non_exhaustive()
    }
}

impl TiktokChannel {
    /// A channel from settings and the host's environment (clock, HTTP client, token store and
    /// lock). With `access_token` set it uses that token; otherwise tokens come from
    /// [`complete_authorization`](Self::complete_authorization) and are refreshed by a
    /// [`TokenManager`] over the env's store and lock, calling the settings' reauthorization hook.
    pub fn new(cfg: TiktokConfig, env: &ChannelEnv) -> Result<Self> {
        let api = ApiClient::new(
            env.http.clone(),
            &cfg.api_base_url,
            cfg.app_id.clone(),
            cfg.app_secret.primary().clone(),
            env.clock.clone(),
        )
        .with_retry_policy(cfg.retry.clone())
        .with_max_media_bytes(cfg.max_media_bytes);
        let tokens = match &cfg.access_token {
            Some(t) => TokenManager::with_static_token(t.expose_secret()),
            None => {
                let mut b = TokenManager::builder(Arc::new(TiktokTokenSource::new(
                    api.clone(),
                    env.clock.clone(),
                )))
                .store(env.token_store.clone())
                .lock(env.lock.clone())
                .clock(env.clock.clone())
                .lock_prefix("omnichannel:tiktok:token-refresh:");
                if let Some(hook) = cfg.reauthorization_hook.clone() {
                    b = b.on_reauthorization(move |n| hook(n));
                }
                b.build()
            }
        };
        Ok(TiktokChannel {
            caps: normalize::capabilities(cfg.max_media_bytes),
            cfg: Arc::new(cfg),
            api,
            tokens,
            clock: env.clock.clone(),
            http: env.http.clone(),
        })
    }

    /// The settings.
    pub fn config(&self) -> &TiktokConfig {
        &self.cfg
    }

    /// The token manager (keys are business ids).
    pub fn tokens(&self) -> &TokenManager {
        &self.tokens
    }

    /// The API client (token-less calls, or calls with a token the host holds).
    pub fn api(&self) -> &ApiClient {
        &self.api
    }

    /// The OAuth flow of this app.
    pub fn oauth(&self) -> OAuth {
        OAuth::new(self.cfg.clone(), self.api.clone(), self.clock.clone())
    }

    /// Handles the OAuth callback query and stores the business's tokens in the token manager
    /// (which also clears a pending reauthorization).
    pub async fn complete_authorization(
        &self,
        query: &str,
    ) -> Result<Authorization, CallbackError> {
        let auth = self
            .oauth()
            .handle_callback(&CallbackParams::from_query(query))
            .await?;
        self.tokens
            .set_token(&auth.business_id, auth.token.clone())
            .await
            .map_err(CallbackError::Exchange)?;
        Ok(auth)
    }

    /// "May I reply now?": whether `now` is within 48 h of the contact's last message.
    pub fn may_reply(&self, last_inbound_at: DateTime<Utc>) -> bool {
        normalize::may_reply(last_inbound_at, self.clock.now())
    }

    /// Verifies and parses a request into the typed event (full fidelity).
    pub fn parse(&self, req: &WebhookRequest) -> Result<TiktokEvent> {
        self.verify(req)?;
        webhook::parse_request(&req.body)
    }

    /// Runs `call` with the business's token; when TikTok rejects the token (40104/40105 or HTTP
    /// 401/403), gets a different one through [`TokenManager::token_rejected`] and retries once.
    async fn with_token<T, F, Fut>(&self, business_id: &str, call: F) -> Result<T>
    where
        F: Fn(Arc<AccessToken>) -> Fut,
        Fut: Future<Output = Result<T>>,
    {
        let token = self.tokens.access_token(business_id).await?;
        match call(token.clone()).await {
            Err(Error::Unauthorized { .. }) => {
                tracing::debug!(
                    business_id,
                    "TikTok rejected the access token; refreshing once"
                );
                let fresh = self.tokens.token_rejected(business_id, &token).await?;
                call(fresh).await
            }
            other => other,
        }
    }

    /// The download URL of an inbound image (`media/download`), valid about 24 h.
    pub async fn media_download_url(
        &self,
        business_id: &str,
        conversation_id: &str,
        message_id: &str,
        media_id: &str,
    ) -> Result<String> {
        self.with_token(business_id, |t| async move {
            self.api
                .media_download_url(&t.value, business_id, conversation_id, message_id, media_id)
                .await
        })
        .await
    }

    /// Downloads an inbound image: the download URL, then `GET` with `x-user` (bounded by
    /// `max_media_bytes`). Returns the bytes and their content type.
    pub async fn download_media(
        &self,
        business_id: &str,
        conversation_id: &str,
        message_id: &str,
        media_id: &str,
    ) -> Result<(Bytes, Option<String>)> {
        let url = self
            .media_download_url(business_id, conversation_id, message_id, media_id)
            .await?;
        self.with_token(business_id, |t| {
            let url = url.clone();
            async move { self.api.download_media(&t.value, &url).await }
        })
        .await
    }

    /// The business's username, display name and avatar.
    pub async fn business_info(&self, business_id: &str) -> Result<model::BusinessInfo> {
        self.with_token(business_id, |t| async move {
            self.api.business_info(&t.value, business_id).await
        })
        .await
    }

    /// Points the app's `DIRECT_MESSAGE` webhooks at `callback_url`.
    pub async fn register_webhook(&self, callback_url: &str) -> Result<api::ApiAnswer> {
        self.api
            .update_webhook(callback_url, api::DIRECT_MESSAGE_EVENT_TYPE)
            .await
    }

    /// The app's `DIRECT_MESSAGE` webhook configuration.
    pub async fn list_webhooks(&self) -> Result<api::ApiAnswer> {
        self.api.list_webhooks(api::DIRECT_MESSAGE_EVENT_TYPE).await
    }

    /// The bytes, MIME type and file name of an image to send: inline `data_base64`, or
    /// downloaded from its `url` with the env's client, bounded by `max_media_bytes`.
    async fn image_bytes(&self, a: &OutboundAttachment) -> Result<(Bytes, String, String)> {
        let limit = self.cfg.max_media_bytes;
        let (bytes, fetched_type) = match a.decode_data(limit)? {
            Some(b) => (Bytes::from(b), None),
            None => {
                let url = a.url.as_deref().filter(|u| !u.is_empty()).ok_or_else(|| {
                    Error::invalid_input("attachments", "an image needs `url` or `data_base64`")
                })?;
                let parsed = url::Url::parse(url)
                    .map_err(|_| Error::invalid_input("attachments.url", "not an absolute URL"))?;
                if !matches!(parsed.scheme(), "http" | "https") {
                    return Err(Error::invalid_input(
                        "attachments.url",
                        "only http and https URLs are fetched",
                    ));
                }
                api::fetch_bounded(self.http.get(parsed), limit, &*self.clock)
                    .await
                    .map_err(|e| match e {
                        // The host's URL refused us: fix the message, do not refresh TikTok's token.
                        Error::Unauthorized { .. } => Error::invalid_input(
                            "attachments.url",
                            "the image URL refused the download (HTTP 401/403)",
                        ),
                        Error::Provider {
                            status: Some(status),
                            retryable: false,
                            ..
                        } => Error::invalid_input(
                            "attachments.url",
                            format!("the image URL answered HTTP {status}"),
                        ),
                        other => other,
                    })?
            }
        };
        if bytes.is_empty() {
            return Err(Error::invalid_input("attachments", "the image is empty"));
        }
        let sniffed = normalize::sniff_image(&bytes);
        let mime = a
            .mime_type
            .clone()
            .or(fetched_type.filter(|t| t.starts_with("image/")))
            .or(sniffed.map(|s| s.0.to_string()))
            .ok_or_else(|| {
                Error::invalid_input(
                    "attachments.mime_type",
                    "cannot tell the image type; give `mime_type` (image/jpeg or image/png)",
                )
            })?;
        if !mime.starts_with("image/") {
            return Err(Error::invalid_input(
                "attachments.mime_type",
                "TikTok sends images only",
            ));
        }
        let name = a.name.clone().filter(|n| !n.is_empty()).unwrap_or_else(|| {
            let ext = sniffed
                .map(|s| s.1)
                .or_else(|| mime.strip_prefix("image/"))
                .unwrap_or("img");
            format!("image.{ext}")
        });
        Ok((bytes, mime, name))
    }

    /// Sends one planned part: text as is; an image uploaded first, then sent by media id.
    async fn send_part(
        &self,
        business: &str,
        conversation_id: &str,
        part: &normalize::SendPart<'_>,
        image: Option<(Bytes, String, String)>,
    ) -> Result<(String, serde_json::Value)> {
        let body = match part {
            normalize::SendPart::Text { body, reply_to } => {
                normalize::text_request(business, conversation_id, body, *reply_to)
            }
            normalize::SendPart::Image(_) => {
                let Some((bytes, mime, name)) = image else {
                    return Err(Error::invalid_input("attachments", "image bytes missing"));
                };
                let media_id = self
                    .with_token(business, |t| {
                        let bytes = bytes.clone();
                        let (mime, name) = (mime.as_str(), name.as_str());
                        async move {
                            self.api
                                .upload_image(&t.value, business, bytes, name, mime)
                                .await
                        }
                    })
                    .await?;
                normalize::image_request(business, conversation_id, &media_id)
            }
        };
        self.send_body(business, body).await
    }

    async fn send_body(
        &self,
        business_id: &str,
        body: serde_json::Value,
    ) -> Result<(String, serde_json::Value)> {
        let body = &body;
        let (id, answer) = self
            .with_token(business_id, |t| async move {
                self.api.send_message(&t.value, business_id, body).await
            })
            .await?;
        Ok((id, answer.raw))
    }
}

#[async_trait]
impl Channel for TiktokChannel {
    fn provider(&self) -> Provider {
        Provider::Tiktok
    }

    fn capabilities(&self) -> &Capabilities {
        &self.caps
    }

    fn verify(&self, req: &WebhookRequest) -> Result<(), VerifyError> {
        webhook::verify_request(
            &self.cfg.app_secret,
            self.cfg.tolerance,
            self.cfg.max_body_bytes,
            req,
            self.clock.now(),
        )
    }

    /// Verifies, parses (the envelope, then `content` a second time) and normalizes; replies
    /// 200 with an empty body, as TikTok expects.
    async fn receive(&self, req: &WebhookRequest) -> Result<Inbound> {
        // The typed fields move into the event; the raw envelope is shared text (a reference
        // count).
        let normalized = self.parse(req)?.into_event();
        Ok(Inbound::new(vec![normalized], WebhookReply::ok()))
    }

    async fn send(&self, msg: &dyn OutboundMessage) -> Result<SendReceipt> {
        let plan = normalize::plan(
            msg,
            &self.caps,
            self.clock.now(),
            self.cfg.business_id.as_deref(),
        )?;
        // Images are read (and fetched from the host's URL) before anything reaches TikTok, so a
        // bad image never leaves half of a split message sent.
        let mut images = Vec::new();
        for part in &plan.parts {
            if let normalize::SendPart::Image(a) = part {
                images.push(self.image_bytes(a).await?);
            }
        }
        let mut images = images.into_iter();
        let business = plan.business_id.as_str();
        let mut sent: Vec<(String, serde_json::Value)> = Vec::with_capacity(plan.parts.len());
        for part in &plan.parts {
            let image = match part {
                normalize::SendPart::Image(_) => images.next(),
                normalize::SendPart::Text { .. } => None,
            };
            match self
                .send_part(business, plan.conversation_id, part, image)
                .await
            {
                Ok(done) => sent.push(done),
                Err(e) => {
                    if !sent.is_empty() {
                        let ids: Vec<&str> = sent.iter().map(|(id, _)| id.as_str()).collect();
                        tracing::warn!(
                            ?ids,
                            kind = e.kind(),
                            "split TikTok send failed after its first part was delivered; retrying the whole message would repeat it"
                        );
                    }
                    return Err(e);
                }
            }
        }
        let (last_id, raw) = match sent.len() {
            0 => return Err(Error::invalid_input("message", "nothing to send")),
            1 => sent.swap_remove(0),
            _ => {
                let ids: Vec<serde_json::Value> =
                    sent.iter().map(|(id, _)| id.clone().into()).collect();
                let parts: Vec<serde_json::Value> = sent.iter().map(|(_, r)| r.clone()).collect();
                let last = sent.last().map(|(id, _)| id.clone()).unwrap_or_default();
                (
                    last,
                    serde_json::json!({"message_ids": ids, "responses": parts}),
                )
            }
        };
        Ok(SendReceipt::new(
            Provider::Tiktok,
            last_id,
            SendStatus::Sent,
            Some(raw),
        ))
    }
}

/// Builds TikTok channels from JSON settings (fixtures, gateway, `omnichannel` command).
#[derive(Debug, Clone, Copy, Default)]
pub struct Factory;

impl ChannelFactory for Factory {
    fn provider(&self) -> Provider {
        Provider::Tiktok
    }

    fn build(&self, config: &serde_json::Value, env: &ChannelEnv) -> Result<Arc<dyn Channel>> {
        let mut cfg = TiktokConfig::from_settings(config)?;
        cfg.api_base_url = env.rebase(&cfg.api_base_url)?;
        Ok(Arc::new(TiktokChannel::new(cfg, env)?))
    }

    fn demo_config(&self) -> serde_json::Value {
        serde_json::json!({
            "app_id": "demo-app-id",
            "app_secret": "test-secret-not-real",
            "business_id": "biz-123",
            "access_token": "test-access-token-not-real",
            "tolerance_secs": 300
        })
    }

    fn sample_events(&self) -> Vec<&'static str> {
        webhook::SAMPLE_EVENTS.to_vec()
    }

    fn simulate(
        &self,
        config: &serde_json::Value,
        event: &str,
        url: &str,
        now: DateTime<Utc>,
    ) -> Result<WebhookRequest> {
        let cfg = TiktokConfig::from_settings(config)?;
        let business = cfg.business_id.as_deref().unwrap_or("biz-123");
        let body = webhook::sample_body(event, &cfg.app_id, business, now).ok_or_else(|| {
            Error::invalid_input(
                "event",
                format!(
                    "no sample event `{event}`; known: {}",
                    webhook::SAMPLE_EVENTS.join(", ")
                ),
            )
        })?;
        webhook::sign_request(&cfg.app_secret, url, body, now)
    }
}

/// The factories of this crate (one: TikTok).
pub fn factories() -> Vec<Arc<dyn ChannelFactory>> {
    vec![Arc::new(Factory)]
}
