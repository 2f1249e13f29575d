//! # omnichannel-signalwire
//!
//! SignalWire messaging (SMS/MMS) through the Compatibility (cXML, Twilio-compatible) API:
//! signed webhooks in (inbound messages, status callbacks), normalized events out, and sends,
//! listing and media calls to the REST API.
//!
//! ```
//! use omnichannel_core::{Channel, ChannelEnv, EventKind};
//! use omnichannel_signalwire::{SignalwireChannel, SignalwireConfig, webhook};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let config = SignalwireConfig::builder("PSK_test-signing-key-not-real")
//!     .space_url("https://example.signalwire.com")
//!     .project_id("ea108133-d6b3-407c-9536-9fad8a929a6a")
//!     .api_token("PT_test-token-not-real")
//!     .from("+15551234567")
//!     .build()?;
//! let channel = SignalwireChannel::new(config.clone(), &ChannelEnv::default())?;
//!
//! // What SignalWire posts to the number's SmsUrl, signed by the crate's own signer.
//! let req = webhook::sign_request(
//!     config.signing_keys(),
//!     "https://hooks.example.com/signalwire/sms",
//!     &[("MessageSid", "0a059168-ead0-41af-9d1f-343dae832527"), ("From", "+15557654321"),
//!       ("To", "+15551234567"), ("Body", "Hello there"), ("NumMedia", "0")],
//! );
//! let inbound = channel.receive(&req).await?;
//! assert_eq!(inbound.events[0].kind, EventKind::Message);
//! assert_eq!(inbound.events[0].text.as_deref(), Some("Hello there"));
//! assert_eq!(inbound.reply.headers["content-type"], "text/xml");
//! # Ok(())
//! # }
//! ```
//!
//! Sending (`no_run`: it calls the API):
//!
//! ```no_run
//! # use omnichannel_core::{Channel, Contact, Message};
//! # async fn demo(channel: &omnichannel_signalwire::SignalwireChannel) -> omnichannel_core::Result<()> {
//! let receipt = channel
//!     .send(&Message::text("Your code is 1234").recipient(Contact::new("+15557654321")).build())
//!     .await?;
//! println!("sent as {}", receipt.message_id);
//! # Ok(()) }
//! ```
//!
//! Modules: [`config`] (settings and their JSON keys), [`webhook`] (signature, parsing,
//! signer), [`model`] (typed payloads), [`normalize`] (events, outbound mapping), [`api`]
//! (REST calls and error mapping), [`auth`] (Basic credentials), [`phone`] (E.164).
#![forbid(unsafe_code)]

pub mod api;
pub mod auth;
pub mod config;
pub mod model;
pub mod normalize;
pub mod phone;
pub mod webhook;

use std::sync::Arc;

use async_trait::async_trait;
use http::StatusCode;
use omnichannel_core::signature::SigningKeys;
use omnichannel_core::{
    AttachmentKind, Capabilities, Channel, ChannelEnv, ChannelFactory, Clock, Error, Inbound,
    OutboundMessage, Provider, Raw, Result, SendReceipt, Settings, VerifyError, WebhookReply,
    WebhookRequest,
};

pub use api::{ApiClient, CreateMessage, ListMessages, MediaContent};
pub use config::{SignalwireConfig, SignalwireConfigBuilder};
pub use model::{InboundMessage, MessageStatus, SignalwireEvent, StatusCallback};
pub use phone::{PhoneError, Region, to_e164};

/// The cXML reply to an inbound message: no action.
pub const EMPTY_CXML: &str = r#"<?xml version="1.0" encoding="UTF-8"?><Response/>"#;

/// A SignalWire messaging channel.
pub struct SignalwireChannel {
    config: Arc<SignalwireConfig>,
    verifier: webhook::Verifier,
    api: Option<ApiClient>,
    caps: Capabilities,
    clock: Arc<dyn Clock>,
}

impl std::fmt::Debug for SignalwireChannel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SignalwireChannel")
            .field("config", &self.config)
            .field("api", &self.api)
            .finish_non_exhaustive()
    }
}

impl SignalwireChannel {
    /// A channel from settings and the host's environment (clock, HTTP client, and in tests
    /// the origin override of the space URL).
    pub fn new(config: SignalwireConfig, env: &ChannelEnv) -> Result<Self> {
        let api = match (&config.space_url, &config.project_id, config.api_token()) {
            (Some(space), Some(project), Some(token)) => Some(
                ApiClient::new(
                    env.http.clone(),
                    &env.rebase(space)?,
                    auth::BasicCredentials::new(project.clone(), token.clone()),
                    env.clock.clone(),
                )
                .with_max_pages(config.max_pages),
            ),
            _ => None,
        };
        let caps = Capabilities::text_only()
            .with_max_text_chars(config::MAX_BODY_CHARS)
            .with_attachments(
                &[
                    AttachmentKind::Image,
                    AttachmentKind::Video,
                    AttachmentKind::Audio,
                    AttachmentKind::File,
                ],
                config.max_outbound_media,
            )
            .with_text_and_attachments(true)
            .with_business_initiated(true);
        let verifier = webhook::Verifier::new(
            config.signing_keys().clone(),
            config.public_base_url.clone(),
            config.max_body_bytes,
            config.max_params,
        );
        Ok(SignalwireChannel {
            config: Arc::new(config),
            verifier,
            api,
            caps,
            clock: env.clock.clone(),
        })
    }

    /// The settings.
    pub fn config(&self) -> &SignalwireConfig {
        &self.config
    }

    /// The REST client (listing messages for reconciliation, media); a configuration error
    /// when `space_url`, `project_id` or `api_token` is missing.
    pub fn api(&self) -> Result<&ApiClient> {
        self.api.as_ref().ok_or_else(|| {
            Error::config(
                "space_url",
                "API calls need space_url, project_id and api_token",
            )
        })
    }

    /// Verifies and parses a request into the typed event and the payload as received.
    pub fn parse(&self, req: &WebhookRequest) -> Result<(SignalwireEvent, Raw)> {
        let verified = self.verifier.verify(req)?;
        webhook::parse_owned(verified, self.config.max_params, self.config.max_media)
    }
}

#[async_trait]
impl Channel for SignalwireChannel {
    fn provider(&self) -> Provider {
        Provider::Signalwire
    }

    fn capabilities(&self) -> &Capabilities {
        &self.caps
    }

    fn verify(&self, req: &WebhookRequest) -> Result<(), VerifyError> {
        self.verifier.verify(req).map(|_| ())
    }

    async fn receive(&self, req: &WebhookRequest) -> Result<Inbound> {
        let (ev, raw) = self.parse(req)?;
        if let SignalwireEvent::Message(m) = &ev
            && m.media_truncated
        {
            tracing::warn!(
                message_sid = %m.message_sid,
                num_media = m.num_media,
                kept = m.media.len(),
                "inbound message has more media than max_media; the rest stays in raw"
            );
        }
        let reply = match &ev {
            SignalwireEvent::Message(_) => {
                WebhookReply::with_body(StatusCode::OK, "text/xml", EMPTY_CXML)
            }
            SignalwireEvent::Status(_) => WebhookReply::ok(),
        };
        Ok(Inbound::new(vec![normalize::into_event(ev, raw)], reply))
    }

    async fn send(&self, msg: &dyn OutboundMessage) -> Result<SendReceipt> {
        self.caps.check_at(msg, self.clock.now())?;
        let req = normalize::to_create_message(msg, &self.config)?;
        let (created, raw) = self.api()?.create_message(&req).await?;
        Ok(SendReceipt::new(
            Provider::Signalwire,
            created.sid.clone(),
            normalize::send_status(created.status.as_deref()),
            Some(raw),
        ))
    }
}

/// Builds [`SignalwireChannel`]s from JSON settings (keys in [`config`]).
#[derive(Debug, Clone, Copy, Default)]
pub struct Factory;

/// The sample events [`Factory`] can simulate.
pub const SAMPLE_EVENTS: [&str; 6] = [
    "sms",
    "mms",
    "status_sent",
    "status_delivered",
    "status_undelivered",
    "status_failed",
];

impl ChannelFactory for Factory {
    fn provider(&self) -> Provider {
        Provider::Signalwire
    }

    fn build(&self, config: &serde_json::Value, env: &ChannelEnv) -> Result<Arc<dyn Channel>> {
        let cfg = SignalwireConfig::from_settings(config)?;
        Ok(Arc::new(SignalwireChannel::new(cfg, env)?))
    }

    fn demo_config(&self) -> serde_json::Value {
        serde_json::json!({
            "signing_key": "PSK_demo-signing-key-not-real",
            "project_id": "00000000-0000-4000-8000-00000000d3e0",
            "api_token": "PT_demo-token-not-real",
            "space_url": "https://example.signalwire.com",
            "from": "+15551234567"
        })
    }

    fn sample_events(&self) -> Vec<&'static str> {
        SAMPLE_EVENTS.to_vec()
    }

    fn simulate(
        &self,
        config: &serde_json::Value,
        event: &str,
        url: &str,
        now: chrono::DateTime<chrono::Utc>,
    ) -> Result<WebhookRequest> {
        let s = Settings::new(config)?;
        let keys: SigningKeys = s.require_signing_keys("signing_key")?;
        let project = s
            .str("project_id")?
            .unwrap_or("00000000-0000-4000-8000-000000000000");
        let ours = s.str("from")?.unwrap_or("+15551234567");
        let contact = "+15557654321";
        let idx = SAMPLE_EVENTS
            .iter()
            .position(|e| *e == event)
            .ok_or_else(|| {
                Error::invalid_input(
                    "event",
                    format!(
                        "no sample event `{event}`; known: {}",
                        SAMPLE_EVENTS.join(", ")
                    ),
                )
            })?;
        // Deterministic for a given instant and event: a replay of the same simulation
        // deduplicates like a provider redelivery.
        let millis = u64::try_from(now.timestamp_millis()).unwrap_or(0) & 0xffff_ffff_ffff;
        let sid = format!("5151{idx:04x}-0000-4000-8000-{millis:012x}");
        let mut params: Vec<(&str, &str)> = vec![("MessageSid", &sid), ("AccountSid", project)];
        let status = match event {
            "sms" | "mms" => {
                params.extend([("SmsSid", sid.as_str()), ("From", contact), ("To", ours)]);
                None
            }
            _ => {
                params.extend([("From", ours), ("To", contact)]);
                Some(event.trim_start_matches("status_"))
            }
        };
        match event {
            "sms" => params.extend([("Body", "Hello from the simulator"), ("NumMedia", "0")]),
            "mms" => params.extend([
                ("Body", "Two pictures"),
                ("NumMedia", "2"),
                ("MediaUrl0", "https://media.example.com/sim/0.jpg"),
                ("MediaContentType0", "image/jpeg"),
                ("MediaUrl1", "https://media.example.com/sim/1.png"),
                ("MediaContentType1", "image/png"),
            ]),
            _ => params.extend([("Body", "Your code is 1234"), ("NumMedia", "0")]),
        }
        params.push(("NumSegments", "1"));
        if let Some(st) = status {
            params.push(("MessageStatus", st));
            match st {
                "undelivered" => params.push(("ErrorCode", "30003")),
                "failed" => params.push(("ErrorCode", "30008")),
                _ => {}
            }
        }
        Ok(webhook::sign_request(&keys, url, &params))
    }
}

/// The factories of this crate (one: `signalwire`).
pub fn factories() -> Vec<Arc<dyn ChannelFactory>> {
    vec![Arc::new(Factory)]
}
