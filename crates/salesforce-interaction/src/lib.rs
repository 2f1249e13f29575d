//! # omnichannel-salesforce-interaction
//!
//! A channel for the Salesforce **Interaction Service API** (Partner Messaging / Bring Your
//! Own Channel for CCaaS): the host relays an end user's messages from its own channel into
//! Service Cloud, and relays the rep's replies, which Salesforce publishes as a custom platform
//! event, back out.
//!
//! - Tokens: OAuth 2.0 JWT bearer flow ([`auth`]), RS256 assertion, re-minted on an assumed
//!   lifetime and once when a call is refused for its token (HTTP 401 or code `10004`).
//! - End user → Salesforce: [`Channel::send`] posts one
//!   multipart `/api/v1/interactions` call (text, one file, typing, delivery failure);
//!   [`InteractionApi`] has every other call (acknowledgement, agentWork, consent, route,
//!   routingResult, messagingSession, participant, conversation, capabilities).
//! - Salesforce → end user: [`Channel::receive_event`]
//!   takes the decoded platform event (JSON) in any of its three layouts ([`webhook`]) and
//!   returns normalized events ([`normalize`]). Receiving the events over the Pub/Sub API
//!   (gRPC) is not part of this crate.
//!
//! ```no_run
//! use omnichannel_core::{Channel, ChannelEnv, ChannelFactory, Contact, Message};
//! use omnichannel_salesforce_interaction::Factory;
//!
//! # async fn demo() -> Result<(), omnichannel_core::Error> {
//! let channel = Factory.build(
//!     &serde_json::json!({
//!         "login_url": "https://login.salesforce.com",
//!         "consumer_key": "3MVG9-test-consumer-key",
//!         "username": "integration@example.com",
//!         "private_key_pem": "-----BEGIN PRIVATE KEY-----\n...",
//!         "scrt_url": "https://example.my.salesforce-scrt.com",
//!         "org_id": "00D000000000001",
//!         "authorization_context": "Partner_ChannelDefinition",
//!         "channel_address": "b0ffeafe-0d89-4338-b14a-172ad203f22a",
//!         "event_fields": {"payload": "my__event__payloadField__c", "event_type": "my__event__EventType__c"}
//!     }),
//!     &ChannelEnv::default(),
//! )?;
//!
//! // The end user wrote on the host's channel: relay it to Salesforce.
//! let msg = Message::text("Hi there")
//!     .sender(Contact::new("end-user-42"))
//!     .idempotency_key("host-msg-1")
//!     .build();
//! let receipt = channel.send(&msg).await?;
//! println!("entry {}", receipt.message_id);
//!
//! // A rep answered: the host's Pub/Sub subscriber decoded the platform event.
//! let decoded = serde_json::json!({
//!     "my__event__EventType__c": {"string": "Interaction"},
//!     "my__event__payloadField__c": {"string": "{\"channelAddressIdentifier\":\"b0ffeafe-0d89-4338-b14a-172ad203f22a\",\"recipient\":{\"appType\":\"custom\",\"subject\":\"end-user-42\",\"role\":\"EndUser\"},\"payload\":{\"identifier\":\"e1\",\"entryType\":\"Message\",\"entryPayload\":{\"entryType\":\"Message\",\"id\":\"e1\",\"abstractMessage\":{\"messageType\":\"StaticContentMessage\",\"id\":\"e1\",\"staticContent\":{\"formatType\":\"Text\",\"text\":\"Hello!\"}}},\"sender\":{\"appType\":\"agent\",\"subject\":\"005xx0000012345\",\"role\":\"Agent\"}}}"}
//! });
//! let inbound = channel.receive_event(std::sync::Arc::new(decoded)).await?;
//! assert_eq!(inbound.events[0].text.as_deref(), Some("Hello!"));
//! # Ok(()) }
//! ```
//!
//! ## Sending: message fields and metadata keys
//!
//! - `sender.id` (required): the end user's client id (`from`); the conversation is the pair
//!   (channel address, end user).
//! - `text`: the message text, or the caption of a file.
//! - `attachments`: at most one, with inline `data_base64` (≤ 25 MB; URLs are not fetched),
//!   `name` and `mime_type` (default `application/octet-stream`).
//! - `reply_to`: `inReplyToMessageId` of a message; the failed entry of a delivery failure.
//! - `idempotency_key`: the entry id and `RequestId` are derived from it, so a retried send
//!   repeats the same ids, and only keyed sends are retried on retryable errors.
//! - metadata `interaction`: `message` (default), `typing_started`, `typing_stopped`,
//!   `message_delivery_failed`. The capability check applies to messages; typing and delivery
//!   failures carry no content and are checked for their own fields.
//! - metadata `channel_address`: the channel address identifier (`to`); default the setting
//!   `channel_address`.
//! - metadata `routing_attributes`: object of strings (Salesforce-owned routing).
//! - metadata `error_code` (required), `error_message` (default: `text`), `failed_entry_id`
//!   (default: `reply_to`): for `message_delivery_failed`.
//! - metadata `entry_id`: the entry id to use instead of the derived one.
//!
//! The receipt's `message_id` is the entry id; its `raw` is Salesforce's answer
//! (`conversationIdentifier`, `workItemIds`, ...).
//!
//! ## Why `receive` refuses HTTP requests
//!
//! Salesforce does not call webhooks for this channel; it publishes platform events that only an
//! authenticated Pub/Sub subscriber can read. Accepting a JSON POST of such an event would give
//! anyone who can reach the endpoint a way to inject rep messages, since there is no signature
//! to check. [`Channel::receive`] therefore answers
//! `invalid_input`, and hosts hand decoded events to `receive_event`.
#![forbid(unsafe_code)]

pub mod api;
pub mod auth;
pub mod config;
mod fast;
pub mod model;
pub mod normalize;
pub mod webhook;

use std::sync::Arc;

use async_trait::async_trait;
use omnichannel_core::{
    AttachmentKind, Capabilities, Channel, ChannelEnv, ChannelFactory, Clock, Error, Inbound,
    OutboundMessage, Provider, Result, SendReceipt, SendStatus, TokenManager, VerifyError,
    WebhookReply, WebhookRequest,
};

pub use api::{FilePart, InteractionApi};
pub use auth::JwtBearerSource;
pub use config::{EventFields, SalesforceConfig};
pub use webhook::{EventBody, Layout, PlatformEvent, parse_event};

/// The Salesforce Interaction Service channel.
pub struct SalesforceChannel {
    cfg: Arc<SalesforceConfig>,
    api: InteractionApi,
    caps: Capabilities,
    clock: Arc<dyn Clock>,
}

impl std::fmt::Debug for SalesforceChannel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SalesforceChannel")
            .field("config", &self.cfg)
            .field("api", &self.api)
            .finish_non_exhaustive()
    }
}

impl SalesforceChannel {
    /// A channel from settings and the host's environment (clock, HTTP client, token store and
    /// lock). Base URLs are used as given; [`Factory::build`] also applies `env.origin_override`.
    pub fn new(cfg: SalesforceConfig, env: &ChannelEnv) -> Result<Self> {
        let cfg = Arc::new(cfg);
        let tokens = match &cfg.access_token {
            Some(t) => {
                use omnichannel_core::ExposeSecret;
                TokenManager::with_static_token(t.expose_secret())
            }
            None => {
                let source = JwtBearerSource::new(cfg.clone(), env.http.clone(), env.clock.clone());
                let margin = TokenManager::DEFAULT_MARGIN.min(cfg.token_lifetime / 4);
                TokenManager::builder(Arc::new(source))
                    .store(env.token_store.clone())
                    .lock(env.lock.clone())
                    .clock(env.clock.clone())
                    .margin(margin)
                    .build()
            }
        };
        let token_key = format!(
            "salesforce:{}:{}:{}",
            cfg.login_url, cfg.org_id, cfg.username
        );
        let api = InteractionApi::new(
            env.http.clone(),
            &cfg.scrt_url,
            cfg.org_id.clone(),
            cfg.authorization_context.clone(),
            tokens,
            token_key,
            cfg.retry.clone(),
            env.clock.clone(),
        );
        Ok(SalesforceChannel {
            caps: capabilities(cfg.max_attachment_bytes),
            cfg,
            api,
            clock: env.clock.clone(),
        })
    }

    /// The API client, for the calls beyond `send` (acknowledgement, agentWork, route, ...).
    pub fn api(&self) -> &InteractionApi {
        &self.api
    }

    /// The settings.
    pub fn config(&self) -> &SalesforceConfig {
        &self.cfg
    }

    /// Parses a decoded platform event into its typed form (full fidelity).
    pub fn parse_event(&self, event: &serde_json::Value) -> Result<PlatformEvent> {
        parse_event(event, &self.cfg.event_fields, self.cfg.max_event_bytes)
    }
}

/// What the channel carries: text, or one file (image, video, audio, other) of at most
/// `max_attachment_bytes` with an optional caption; the business may start conversations.
pub fn capabilities(max_attachment_bytes: usize) -> Capabilities {
    Capabilities::text_only()
        .with_attachments(
            &[
                AttachmentKind::Image,
                AttachmentKind::Video,
                AttachmentKind::Audio,
                AttachmentKind::File,
            ],
            1,
        )
        .with_text_and_attachments(true)
        .with_max_attachment_bytes(max_attachment_bytes as u64)
        .with_business_initiated(true)
}

#[async_trait]
impl Channel for SalesforceChannel {
    fn provider(&self) -> Provider {
        Provider::Salesforce
    }

    fn capabilities(&self) -> &Capabilities {
        &self.caps
    }

    fn verify(&self, _req: &WebhookRequest) -> Result<(), VerifyError> {
        Err(VerifyError::Malformed {
            reason: "Salesforce sends no webhooks for this channel; pass decoded platform events to receive_event".into(),
        })
    }

    async fn receive(&self, _req: &WebhookRequest) -> Result<Inbound> {
        Err(Error::invalid_input(
            "request",
            "Salesforce delivers rep messages as platform events over the Pub/Sub API, not as webhooks: decode the event and pass it to receive_event",
        ))
    }

    async fn receive_event(&self, event: Arc<serde_json::Value>) -> Result<Inbound> {
        // The typed event is only normalized: its entry body is not kept.
        let parsed = webhook::parse_event_with(
            &event,
            &self.cfg.event_fields,
            self.cfg.max_event_bytes,
            false,
        )?;
        // The event itself is the `raw`: shared, not copied.
        Ok(Inbound::new(
            normalize::normalize_owned(parsed, event.into()),
            WebhookReply::ok(),
        ))
    }

    async fn send(&self, msg: &dyn OutboundMessage) -> Result<SendReceipt> {
        let now = self.clock.now();
        let kind = normalize::InteractionKind::of(msg)?;
        if kind == normalize::InteractionKind::Message {
            self.caps.check_at(msg, now)?;
        }
        let p = normalize::prepare(msg, kind, &self.cfg, now)?;
        let res = self
            .api
            .send_interaction(&p.request, p.file.as_ref(), &p.request_id, p.idempotency)
            .await?;
        Ok(SendReceipt::new(
            Provider::Salesforce,
            p.entry_id,
            SendStatus::Accepted,
            serde_json::to_value(&res).ok(),
        ))
    }
}

/// Builds [`SalesforceChannel`]s from settings (provider `salesforce`).
#[derive(Debug, Clone, Copy, Default)]
pub struct Factory;

impl ChannelFactory for Factory {
    fn provider(&self) -> Provider {
        Provider::Salesforce
    }

    fn build(&self, config: &serde_json::Value, env: &ChannelEnv) -> Result<Arc<dyn Channel>> {
        let mut cfg = SalesforceConfig::from_settings(config)?;
        cfg.scrt_url = env.rebase(&cfg.scrt_url)?.trim_end_matches('/').to_string();
        // The audience stays the login URL; only where the request goes moves.
        cfg.token_base_url = env
            .rebase(&cfg.token_base_url)?
            .trim_end_matches('/')
            .to_string();
        Ok(Arc::new(SalesforceChannel::new(cfg, env)?))
    }

    fn demo_config(&self) -> serde_json::Value {
        serde_json::json!({
            "login_url": config::LOGIN_PRODUCTION,
            "consumer_key": "demo-consumer-key-not-real",
            "username": "integration@example.invalid",
            "scrt_url": "https://demo.my.salesforce-scrt.com",
            "org_id": "00D000000000001",
            "authorization_context": "Demo_ChannelDefinition",
            "access_token": "test-access-token-not-real",
            "channel_address": "00000000-0000-4000-8000-000000000001",
            "event_fields": {
                "payload": "Demo_Payload__c",
                "event_type": "Demo_EventType__c",
                "channel_address": "Demo_ChannelAddressId__c",
                "recipient": "Demo_Recipient__c"
            }
        })
    }
}

/// The factories of this crate (one: `salesforce`).
pub fn factories() -> Vec<Arc<dyn ChannelFactory>> {
    vec![Arc::new(Factory)]
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    #[tokio::test]
    async fn demo_config_builds_and_parses_events() {
        let fs = factories();
        assert_eq!(fs.len(), 1);
        assert_eq!(fs[0].provider(), Provider::Salesforce);
        let ch = Factory
            .build(&Factory.demo_config(), &ChannelEnv::default())
            .unwrap();
        assert_eq!(ch.provider(), Provider::Salesforce);
        let caps = ch.capabilities();
        assert_eq!(caps.max_attachments, 1);
        assert!(caps.text_with_attachments);
        let ev = serde_json::json!({
            "Demo_EventType__c": "Interaction",
            "Demo_Payload__c": r#"{"channelAddressIdentifier":"c","recipient":{"appType":"custom","subject":"u","role":"EndUser"},"identifier":"e9","entryType":"TypingStoppedIndicator","entryPayload":{"entryType":"TypingStoppedIndicator","id":"e9","timestamp":1}}"#
        });
        let inbound = ch.receive_event(Arc::new(ev.clone())).await.unwrap();
        assert_eq!(inbound.events.len(), 1);
        assert_eq!(inbound.events[0].id, "e9");
        assert_eq!(
            inbound.events[0].raw.as_ref(),
            Some(&omnichannel_core::Raw::from(ev.clone()))
        );
        assert_eq!(inbound.reply.status, 200);
        assert!(Factory.sample_events().is_empty());
    }
}
