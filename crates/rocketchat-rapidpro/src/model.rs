//! Serde types of the payloads both sides exchange (spec sections 3 and 4).
//!
//! Field order follows what mailroom puts on the wire, so serialized requests match its recorded
//! snapshots byte for byte. Unknown fields are ignored on purpose: the app ignores them too.

use serde::{Deserialize, Serialize};

/// A visitor as `room` takes it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Visitor {
    /// The visitor token: RapidPro's contact id as a decimal string.
    pub token: String,
    /// The contact UUID (the app uses it for the chatbot history).
    #[serde(
        rename = "contactUUID",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub contact_uuid: Option<String>,
    /// The contact's name; the app requires it for `room`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// The contact's email (from a `mailto` URN).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    /// The contact's phone number, E.164 (from a `tel` URN).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phone: Option<String>,
    /// A Rocket.Chat department name or id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub department: Option<String>,
    /// Livechat custom fields.
    #[serde(
        rename = "customFields",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub custom_fields: Option<serde_json::Map<String, serde_json::Value>>,
}

impl Visitor {
    /// A visitor with only a token (as `room.close` and `visitor-message` send it).
    pub fn token(token: impl Into<String>) -> Self {
        Visitor {
            token: token.into(),
            ..Visitor::default()
        }
    }
}

/// Only the visitor's token.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VisitorToken {
    /// The visitor token.
    pub token: String,
}

/// The body of `GET room`: open a ticket.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OpenRoom {
    /// The visitor.
    pub visitor: Visitor,
    /// The ticket UUID.
    #[serde(rename = "ticketID")]
    pub ticket_id: String,
    /// A priority (validated by the app, never used).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub priority: Option<String>,
}

/// An attachment as both sides carry it: a MIME type and a URL.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Attachment {
    /// The MIME type (`image/jpg`), or `document/pdf` for a PDF the app forwards.
    #[serde(rename = "type")]
    pub mime_type: String,
    /// Where the file is.
    pub url: String,
}

impl Attachment {
    /// An attachment.
    pub fn new(mime_type: impl Into<String>, url: impl Into<String>) -> Self {
        Attachment {
            mime_type: mime_type.into(),
            url: url.into(),
        }
    }
}

/// The body of `POST visitor-message`: a contact's message for the agent.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VisitorMessage {
    /// The visitor.
    pub visitor: VisitorToken,
    /// The text.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub text: Option<String>,
    /// Attachments.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub attachments: Vec<Attachment>,
}

/// The body of `GET room.close`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CloseRoom {
    /// The visitor whose room closes.
    pub visitor: VisitorToken,
}

/// The webhook part of `settings`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Webhook {
    /// The callback URL (`GET settings` may answer without it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
}

/// The body of `PUT settings` and the answer of `GET settings`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AppSettings {
    /// The webhook.
    pub webhook: Webhook,
}

/// `{"id": ...}`, the answer of `room` and `visitor-message`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IdAnswer {
    /// The room or message id.
    pub id: String,
}

/// The `data` of an `agent-message` webhook.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AgentMessageData {
    /// The agent's text.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub text: Option<String>,
    /// Attachments (present only when at least one qualifies).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub attachments: Vec<Attachment>,
}

/// A webhook from the app to RapidPro's callback URL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AppWebhook {
    /// An agent wrote in the room.
    AgentMessage {
        /// The ticket UUID.
        ticket_id: String,
        /// The visitor token.
        token: String,
        /// Text and attachments.
        data: AgentMessageData,
    },
    /// The room was closed.
    CloseRoom {
        /// The ticket UUID.
        ticket_id: String,
        /// The visitor token.
        token: String,
    },
}

impl AppWebhook {
    /// The `type` on the wire.
    pub fn type_name(&self) -> &'static str {
        match self {
            AppWebhook::AgentMessage { .. } => "agent-message",
            AppWebhook::CloseRoom { .. } => "close-room",
        }
    }

    /// The ticket UUID.
    pub fn ticket_id(&self) -> &str {
        match self {
            AppWebhook::AgentMessage { ticket_id, .. }
            | AppWebhook::CloseRoom { ticket_id, .. } => ticket_id,
        }
    }

    /// The visitor token.
    pub fn token(&self) -> &str {
        match self {
            AppWebhook::AgentMessage { token, .. } | AppWebhook::CloseRoom { token, .. } => token,
        }
    }

    /// The JSON body as the app sends it, keys in the app's order (`type`, `ticketID`,
    /// `visitor`, then `data`).
    pub fn to_body(&self) -> Vec<u8> {
        #[derive(Serialize)]
        struct Wire<'a> {
            #[serde(rename = "type")]
            kind: &'a str,
            #[serde(rename = "ticketID")]
            ticket_id: &'a str,
            visitor: VisitorTokenRef<'a>,
            #[serde(skip_serializing_if = "Option::is_none")]
            data: Option<&'a AgentMessageData>,
        }
        #[derive(Serialize)]
        struct VisitorTokenRef<'a> {
            token: &'a str,
        }
        let data = match self {
            AppWebhook::AgentMessage { data, .. } => Some(data),
            AppWebhook::CloseRoom { .. } => None,
        };
        serde_json::to_vec(&Wire {
            kind: self.type_name(),
            ticket_id: self.ticket_id(),
            visitor: VisitorTokenRef {
                token: self.token(),
            },
            data,
        })
        .unwrap_or_default()
    }
}
