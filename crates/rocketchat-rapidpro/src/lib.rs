//! # omnichannel-rocketchat-rapidpro
//!
//! RapidPro tickets on Rocket.Chat Omnichannel through the "Tickets" app, both sides:
//!
//! - **RapidPro side**, provider `rocketchat` ([`RocketchatChannel`], [`RocketchatFactory`]):
//!   the client of the app's endpoints ([`AppClient`]: `secret.check`, `settings`, `room`,
//!   `room.close`, `visitor-message`) and the handler of the app's webhooks (`agent-message`,
//!   `close-room`), answering as mailroom does. `send` forwards a contact's message.
//! - **App side**, provider `rapidpro` ([`RapidproChannel`], [`RapidproFactory`]): the handler of
//!   RapidPro's calls with the app's checks, validation and answers, and the sender of the app's
//!   webhooks ([`WebhookSender`]). `send` delivers an agent's message to RapidPro.
//!
//! Both sides authenticate with `Authorization: Token <secret>`, compared in constant time.
//! Where the app's README and its code disagree, the code wins: `room` and `room.close` are `GET`
//! with a JSON body, `room` answers 201, `Content-Type` must be exactly `application/json`, and
//! validation errors carry a JSON-encoded string in `error`.
//!
//! ## Events
//!
//! `conversation_id` is the visitor token (RapidPro's contact id) on both sides; the ticket UUID
//! is in `raw`.
//!
//! | provider | request | event |
//! | --- | --- | --- |
//! | `rocketchat` | `agent-message` | `message`, direction `outbound`, recipient the contact |
//! | `rocketchat` | `close-room` | `conversation_closed`, id `<ticket>:closed` |
//! | `rapidpro` | `PUT settings` | `channel_authorized` |
//! | `rapidpro` | `room` | `conversation_opened`, id the ticket UUID, sender the contact |
//! | `rapidpro` | `visitor-message` | `message`, direction `inbound`, id the message id answered |
//! | `rapidpro` | `room.close` | `conversation_closed`, id `<ticket>:closed` |
//!
//! ## Sending
//!
//! - [`RocketchatChannel::send`] posts `visitor-message` for `conversation_id` (the token).
//! - [`RapidproChannel::send`] posts `agent-message` to the callback URL RapidPro stored; the
//!   ticket comes from the room store or `metadata.ticket_id`; `metadata.action = "close-room"`
//!   closes the room instead. Only a 200 from RapidPro counts as delivered.
//!
//! Attachments travel by URL with a MIME type (given, or guessed from the URL's extension for
//! common media).
//!
//! ## What stays with the host
//!
//! On the RapidPro side: routing the callback to the right ticketer and finding the ticket by
//! `ticketID` (mailroom's 404 `no such ticketer` / `no such ticket`), and downloading agent
//! attachments with Rocket.Chat credentials (`X-Auth-Token`, `X-User-Id`). On the app side:
//! creating the livechat room and showing the messages to agents; the channel keeps the app's
//! room cache in an [`AppStore`] ([`MemoryAppStore`] by default).
//!
//! ## Settings (fixture `config`)
//!
//! `rocketchat`: `secret` (string or list, current first), `base_url`, optional
//! `max_body_bytes`, `max_attachments`. `rapidpro`: `secret`, `app_id`, optional
//! `callback_url`, `departments`, `rooms`, `max_body_bytes`, `max_attachments`
//! (see [`config`]).
//!
//! ```no_run
//! use omnichannel_core::{Channel, ChannelEnv, Message};
//! use omnichannel_rocketchat_rapidpro::{
//!     model::{OpenRoom, Visitor}, RocketchatChannel, RocketchatConfig,
//! };
//!
//! # async fn demo() -> Result<(), omnichannel_core::Error> {
//! let config = RocketchatConfig::new(
//!     "https://chat.example.com/api/apps/public/684202ed-1461-4983-9ea7-fde74b15026c",
//!     "test-secret-not-real",
//! );
//! let rapidpro = RocketchatChannel::new(config, &ChannelEnv::default())?;
//!
//! // Open a ticket: a livechat room for the contact.
//! let room_id = rapidpro
//!     .open_room(&OpenRoom {
//!         visitor: Visitor {
//!             contact_uuid: Some("5d76d86b-3bb9-4d5a-b822-c9d86f5d8e4f".into()),
//!             name: Some("Ryan Lewis".into()),
//!             ..Visitor::token("1234567")
//!         },
//!         ticket_id: "59d74b86-3e2f-4a93-aece-b05d2fdcde0c".into(),
//!         priority: None,
//!     })
//!     .await?;
//!
//! // Forward the contact's message to the agent.
//! let receipt = rapidpro
//!     .send(&Message::text("It's urgent").conversation_id("1234567").build())
//!     .await?;
//! println!("room {room_id}, message {}", receipt.message_id);
//! # Ok(())
//! # }
//! ```
//!
//! The app side answers a request without any network access (unless a closed room's
//! `close-room` webhook must go again):
//!
//! ```
//! use omnichannel_core::{Channel, ChannelEnv};
//! use omnichannel_rocketchat_rapidpro::{webhook, RapidproChannel, RapidproConfig};
//! use omnichannel_core::SecretString;
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), omnichannel_core::Error> {
//! let app_id = "684202ed-1461-4983-9ea7-fde74b15026c";
//! let app = RapidproChannel::new(
//!     RapidproConfig::new(app_id, "test-secret-not-real"),
//!     &ChannelEnv::default(),
//! )?;
//! let body = br#"{"visitor":{"token":"1234567","contactUUID":"5d76d86b-3bb9-4d5a-b822-c9d86f5d8e4f","name":"Ryan Lewis"},"ticketID":"59d74b86-3e2f-4a93-aece-b05d2fdcde0c"}"#;
//! let req = webhook::app_request(
//!     &format!("https://chat.example.com/api/apps/public/{app_id}"),
//!     webhook::Endpoint::Room,
//!     http::Method::GET,
//!     &SecretString::from("test-secret-not-real"),
//!     &body[..],
//! )?;
//! let inbound = app.receive(&req).await?;
//! assert_eq!(inbound.reply.status, 201);
//! assert_eq!(inbound.events[0].kind, omnichannel_core::EventKind::ConversationOpened);
//! # Ok(())
//! # }
//! ```
#![forbid(unsafe_code)]

pub mod api;
pub mod config;
pub mod model;
pub mod normalize;
pub mod rapidpro;
pub mod rocketchat;
pub mod rooms;
pub mod sender;
mod validate;
pub mod webhook;

/// Helpers of this crate's unit tests.
#[cfg(test)]
mod test_support {
    /// The characters a mutation puts into a JSON body: JSON's structure, escapes, number and
    /// word letters, a space, a non-ASCII letter.
    pub(crate) const MUTATION_CHARS: [char; 14] = [
        '"', '\\', '{', '}', '[', ']', ':', ',', '0', 'e', 'u', 'n', ' ', 'é',
    ];

    /// `base` with one character changed (`op` 0), removed (1) or doubled (2) at `at` (taken
    /// modulo its length).
    pub(crate) fn mutated(base: &str, at: usize, op: u8, with: char) -> String {
        let mut m: Vec<char> = base.chars().collect();
        let i = at % m.len();
        match op {
            0 => m[i] = with,
            1 => {
                m.remove(i);
            }
            _ => m.insert(i, m[i]),
        }
        m.into_iter().collect()
    }
}

use std::sync::Arc;

use omnichannel_core::{
    Channel, ChannelEnv, ChannelFactory, Error, Provider, Result, SecretString, Settings,
    WebhookRequest,
};

pub use api::{AppClient, ClientError};
pub use config::{RapidproConfig, RocketchatConfig};
pub use rapidpro::RapidproChannel;
pub use rocketchat::RocketchatChannel;
pub use rooms::{AppStore, MemoryAppStore, RoomRecord};
pub use sender::WebhookSender;

use model::{
    AgentMessageData, AppWebhook, Attachment, CloseRoom, OpenRoom, Visitor, VisitorMessage,
    VisitorToken,
};
use webhook::Endpoint;

/// The app id of mailroom's and courier's tests, used by the demo settings.
pub const DEMO_APP_ID: &str = "684202ed-1461-4983-9ea7-fde74b15026c";
const DEMO_SECRET: &str = "test-secret-not-real";
const SAMPLE_TICKET: &str = "59d74b86-3e2f-4a93-aece-b05d2fdcde0c";
const SAMPLE_CONTACT: &str = "5d76d86b-3bb9-4d5a-b822-c9d86f5d8e4f";
const SAMPLE_TOKEN: &str = "1234567";

fn primary_secret(config: &serde_json::Value) -> Result<SecretString> {
    Ok(Settings::new(config)?
        .require_signing_keys("secret")?
        .primary()
        .clone())
}

/// Builds the RapidPro side (provider `rocketchat`: the app's webhooks come in).
#[derive(Debug, Default, Clone, Copy)]
pub struct RocketchatFactory;

impl ChannelFactory for RocketchatFactory {
    fn provider(&self) -> Provider {
        Provider::Rocketchat
    }

    fn build(&self, config: &serde_json::Value, env: &ChannelEnv) -> Result<Arc<dyn Channel>> {
        Ok(Arc::new(RocketchatChannel::new(
            RocketchatConfig::from_settings(config)?,
            env,
        )?))
    }

    fn demo_config(&self) -> serde_json::Value {
        serde_json::json!({
            "secret": DEMO_SECRET,
            "base_url": format!("http://127.0.0.1:3000/api/apps/public/{DEMO_APP_ID}"),
        })
    }

    fn sample_events(&self) -> Vec<&'static str> {
        vec!["agent-message", "agent-message-attachment", "close-room"]
    }

    /// The app's webhook to `url` (RapidPro's callback URL), authorized with `config.secret`.
    fn simulate(
        &self,
        config: &serde_json::Value,
        event: &str,
        url: &str,
        _now: chrono::DateTime<chrono::Utc>,
    ) -> Result<WebhookRequest> {
        let secret = primary_secret(config)?;
        let hook = match event {
            "agent-message" => AppWebhook::AgentMessage {
                ticket_id: SAMPLE_TICKET.into(),
                token: SAMPLE_TOKEN.into(),
                data: AgentMessageData {
                    text: Some("We can help".into()),
                    attachments: vec![],
                },
            },
            "agent-message-attachment" => AppWebhook::AgentMessage {
                ticket_id: SAMPLE_TICKET.into(),
                token: SAMPLE_TOKEN.into(),
                data: AgentMessageData {
                    text: Some("Here is the form".into()),
                    attachments: vec![Attachment::new("image/jpg", "https://link.to/image.jpg")],
                },
            },
            "close-room" => AppWebhook::CloseRoom {
                ticket_id: SAMPLE_TICKET.into(),
                token: SAMPLE_TOKEN.into(),
            },
            other => {
                return Err(Error::invalid_input(
                    "event",
                    format!("no sample event `{other}` for rocketchat"),
                ));
            }
        };
        webhook::callback_request(url, &secret, &hook)
    }
}

/// Builds the app side (provider `rapidpro`: RapidPro's calls come in).
#[derive(Debug, Default, Clone, Copy)]
pub struct RapidproFactory;

impl ChannelFactory for RapidproFactory {
    fn provider(&self) -> Provider {
        Provider::Rapidpro
    }

    fn build(&self, config: &serde_json::Value, env: &ChannelEnv) -> Result<Arc<dyn Channel>> {
        Ok(Arc::new(RapidproChannel::new(
            RapidproConfig::from_settings(config)?,
            env,
        )?))
    }

    fn demo_config(&self) -> serde_json::Value {
        serde_json::json!({ "secret": DEMO_SECRET, "app_id": DEMO_APP_ID })
    }

    fn sample_events(&self) -> Vec<&'static str> {
        vec![
            "secret.check",
            "settings",
            "room",
            "visitor-message",
            "room.close",
        ]
    }

    /// RapidPro's call of that endpoint; `url` is the app's base URL
    /// (`.../api/apps/public/<app id>`), the endpoint path is appended.
    fn simulate(
        &self,
        config: &serde_json::Value,
        event: &str,
        url: &str,
        _now: chrono::DateTime<chrono::Utc>,
    ) -> Result<WebhookRequest> {
        let secret = primary_secret(config)?;
        let (endpoint, method, body) = match event {
            "secret.check" => (Endpoint::SecretCheck, http::Method::GET, Vec::new()),
            "settings" => (
                Endpoint::Settings,
                http::Method::PUT,
                json_bytes(&model::AppSettings {
                    webhook: model::Webhook {
                        url: Some(
                            "https://rapidpro.example.com/mr/tickets/types/rocketchat/event_callback/6c50665f-b4ff-4e37-9625-bc464fe6a999"
                                .into(),
                        ),
                    },
                }),
            ),
            "room" => (
                Endpoint::Room,
                http::Method::GET,
                json_bytes(&OpenRoom {
                    visitor: Visitor {
                        contact_uuid: Some(SAMPLE_CONTACT.into()),
                        name: Some("Ryan Lewis".into()),
                        email: Some("foo@bar.com".into()),
                        phone: Some("+12024561111".into()),
                        ..Visitor::token(SAMPLE_TOKEN)
                    },
                    ticket_id: SAMPLE_TICKET.into(),
                    priority: None,
                }),
            ),
            "visitor-message" => (
                Endpoint::VisitorMessage,
                http::Method::POST,
                json_bytes(&VisitorMessage {
                    visitor: VisitorToken {
                        token: SAMPLE_TOKEN.into(),
                    },
                    text: Some("It's urgent".into()),
                    attachments: vec![Attachment::new("image/jpg", "https://link.to/image.jpg")],
                }),
            ),
            "room.close" => (
                Endpoint::RoomClose,
                http::Method::GET,
                json_bytes(&CloseRoom {
                    visitor: VisitorToken {
                        token: SAMPLE_TOKEN.into(),
                    },
                }),
            ),
            other => {
                return Err(Error::invalid_input(
                    "event",
                    format!("no sample event `{other}` for rapidpro"),
                ));
            }
        };
        webhook::app_request(url, endpoint, method, &secret, body)
    }
}

fn json_bytes<T: serde::Serialize>(v: &T) -> Vec<u8> {
    serde_json::to_vec(v).unwrap_or_default()
}

/// Both factories: the RapidPro side (`rocketchat`) and the app side (`rapidpro`).
pub fn factories() -> Vec<Arc<dyn ChannelFactory>> {
    vec![Arc::new(RocketchatFactory), Arc::new(RapidproFactory)]
}
