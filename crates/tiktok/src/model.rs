//! Serde types of TikTok Business Messaging payloads (spec `tiktok.md` sections 4.2, 4.5, 5, 10).
//!
//! Unknown fields are ignored on purpose: TikTok adds fields, and the raw payload travels in every
//! normalized event anyway.

use omnichannel_core::Raw;
use serde::{Deserialize, Serialize};

/// The webhook envelope. `content` is a JSON document encoded as a string.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WebhookEnvelope {
    /// The app's client key.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_key: Option<String>,
    /// Event name (`im_receive_msg`, `im_send_msg`, `im_mark_read_msg`, ...).
    pub event: String,
    /// When TikTok created the event, Unix seconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub create_time: Option<i64>,
    /// The receiving business's id (`business_id`, the token's `open_id`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_openid: Option<String>,
    /// The event's own document: a JSON string (an object is accepted too).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content: Option<serde_json::Value>,
}

/// A user reference (`from_user`, `to_user`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserRef {
    /// The user's id; the business's equals its `business_id`.
    pub id: String,
    /// `personal_account` or `business_account`, when TikTok says.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role: Option<String>,
}

/// `text` content.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TextBody {
    /// The text.
    pub body: String,
}

/// `image` content.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImageBody {
    /// The media id, for the media download call.
    pub media_id: String,
}

/// `share_post` content.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SharePost {
    /// The embed URL of the shared post.
    pub embed_url: String,
}

/// A quoted message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReferencedMessageInfo {
    /// The TikTok message id replied to.
    pub referenced_message_id: String,
}

/// The `content` of `im_receive_msg` and `im_send_msg`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MessageContent {
    /// The conversation; the recipient of replies.
    pub conversation_id: String,
    /// The message id (dedup key, reply reference).
    pub message_id: String,
    /// Message time in milliseconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timestamp: Option<i64>,
    /// Content type, lowercase: `text`, `image`, `share_post`, `sticker`, ...
    #[serde(rename = "type")]
    pub message_type: String,
    /// Present for `text`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub text: Option<TextBody>,
    /// Present for `image`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image: Option<ImageBody>,
    /// Present for `share_post`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub share_post: Option<SharePost>,
    /// Present when the message quotes another.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub referenced_message_info: Option<ReferencedMessageInfo>,
    /// Sender's display name or username.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from: Option<String>,
    /// Sender.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from_user: Option<UserRef>,
    /// Recipient's display name or username.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub to: Option<String>,
    /// Recipient.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub to_user: Option<UserRef>,
}

/// The `read` part of `im_mark_read_msg`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReadInfo {
    /// Everything up to this time (milliseconds) was read.
    pub last_read_timestamp: i64,
}

/// The `content` of `im_mark_read_msg`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReadContent {
    /// The conversation.
    pub conversation_id: String,
    /// Up to when it was read.
    pub read: ReadInfo,
    /// Who read it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from_user: Option<UserRef>,
}

/// The API's answer envelope: `{code, message, request_id, data}`; errors come with HTTP 200.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ApiEnvelope {
    /// 0 on success.
    pub code: i64,
    /// Human-readable message.
    #[serde(default)]
    pub message: String,
    /// TikTok's request id (quote it to TikTok support).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request_id: Option<String>,
    /// The result.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub data: Option<serde_json::Value>,
}

/// `data` of the token exchange and refresh calls.
#[derive(Clone, PartialEq, Eq, Deserialize)]
pub struct TokenData {
    /// The business id (`open_id`); present on the code exchange.
    #[serde(default)]
    pub open_id: Option<String>,
    /// Granted scopes, comma separated.
    #[serde(default)]
    pub scope: Option<String>,
    /// The access token.
    pub access_token: String,
    /// The refresh token (rotated on every refresh).
    #[serde(default)]
    pub refresh_token: Option<String>,
    /// Access token lifetime in seconds.
    #[serde(default)]
    pub expires_in: Option<i64>,
    /// Refresh token lifetime in seconds.
    #[serde(default)]
    pub refresh_token_expires_in: Option<i64>,
}

impl std::fmt::Debug for TokenData {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenData")
            .field("open_id", &self.open_id)
            .field("scope", &self.scope)
            .field("access_token", &"[redacted]")
            .field(
                "refresh_token",
                &self.refresh_token.as_ref().map(|_| "[redacted]"),
            )
            .field("expires_in", &self.expires_in)
            .field("refresh_token_expires_in", &self.refresh_token_expires_in)
            .finish()
    }
}

/// `data` of `business/get/`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct BusinessInfo {
    /// Username (handle).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub username: Option<String>,
    /// Display name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub display_name: Option<String>,
    /// Avatar URL.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub profile_image: Option<String>,
}

impl BusinessInfo {
    /// The name to show: the display name, else the username.
    pub fn name(&self) -> Option<&str> {
        self.display_name
            .as_deref()
            .filter(|s| !s.is_empty())
            .or(self.username.as_deref())
    }
}

/// A parsed webhook event: full fidelity, plus its normalized form through
/// [`InboundEvent`](omnichannel_core::InboundEvent).
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum TiktokEvent {
    /// `im_receive_msg` (the contact wrote) or `im_send_msg` (the business sent it: an echo of an
    /// API send, or a message written in the TikTok app).
    Message(Box<MessageEvent>),
    /// `im_mark_read_msg`: a conversation was read up to a time.
    Read(ReadEvent),
    /// Anything else (`im_receive_msg_eu`, new events): kept raw, never an error.
    Other(OtherEvent),
}

/// A message event.
#[derive(Debug, Clone, PartialEq)]
pub struct MessageEvent {
    /// `true` for `im_send_msg` (direction outbound).
    pub echo: bool,
    /// The receiving business (`user_openid`).
    pub business_id: Option<String>,
    /// When TikTok created the event, Unix seconds.
    pub create_time: Option<i64>,
    /// The decoded `content`.
    pub content: MessageContent,
    /// The envelope as received (its JSON text).
    pub raw: Raw,
}

/// A read event.
#[derive(Debug, Clone, PartialEq)]
pub struct ReadEvent {
    /// The business (`user_openid`).
    pub business_id: Option<String>,
    /// When TikTok created the event, Unix seconds.
    pub create_time: Option<i64>,
    /// The decoded `content`.
    pub content: ReadContent,
    /// The envelope as received (its JSON text).
    pub raw: Raw,
}

/// An event this crate does not interpret.
#[derive(Debug, Clone, PartialEq)]
pub struct OtherEvent {
    /// The event name.
    pub event: String,
    /// The business (`user_openid`).
    pub business_id: Option<String>,
    /// When TikTok created the event, Unix seconds.
    pub create_time: Option<i64>,
    /// Deterministic id: `<event>:<message_id>` when the content names a message, otherwise
    /// `<event>:<first 32 hex digits of SHA-256 of the body>`.
    pub id: String,
    /// The envelope as received (its JSON text).
    pub raw: Raw,
}
