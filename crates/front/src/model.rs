//! Serde types of what Front sends to a channel webhook (spec `front.md` sections 2.2 to 2.4).
//!
//! Fields the crate does not use are ignored on purpose: the raw payload travels in every
//! normalized event (`raw`), so nothing is lost for a host that needs more. Fields Front may send
//! as `null` are `Option`s or default to empty lists.

use serde::{Deserialize, Deserializer, Serialize};
use serde_json::Value;

/// The envelope of every channel request: `{"type": ..., "payload": {...}, "metadata": {...}}`.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
pub struct Envelope {
    /// The request type (`authorization`, `message`, `message_autoreply`, `message_imported`,
    /// `delete`).
    #[serde(rename = "type")]
    pub kind: String,
    /// The payload, whose shape depends on the type.
    #[serde(default)]
    pub payload: Option<Value>,
    /// Top-level metadata (sent with `message_imported`).
    #[serde(default)]
    pub metadata: Option<Value>,
}

/// The payload of `authorization` (and of `delete` when it has one).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
pub struct ChannelPayload {
    /// The channel instance id (`cha_…`), needed for every Channel API call.
    #[serde(default)]
    pub channel_id: Option<String>,
}

/// A Front message as sent with `message`, `message_autoreply` and `message_imported`.
#[derive(Debug, Clone, PartialEq, Default, Deserialize, Serialize)]
pub struct FrontMessage {
    /// Links to this message and related resources.
    #[serde(rename = "_links", default, deserialize_with = "null_default")]
    pub links: Links,
    /// The message id (`msg_…`). Absent on auto-replies.
    #[serde(default)]
    pub id: Option<String>,
    /// Front's message type (`custom`, `email`, `auto_reply`, ...).
    #[serde(rename = "type", default)]
    pub message_type: Option<String>,
    /// Whether the message was received by Front (false for what a teammate sends).
    #[serde(default)]
    pub is_inbound: Option<bool>,
    /// `null`, `shared` or `private`.
    #[serde(default)]
    pub draft_mode: Option<String>,
    /// Creation time in Unix seconds with a fraction (`1704067199.123`).
    #[serde(default)]
    pub created_at: Option<f64>,
    /// A preview of the text.
    #[serde(default)]
    pub blurb: Option<String>,
    /// The subject, when there is one.
    #[serde(default)]
    pub subject: Option<String>,
    /// Front's error type for failed messages.
    #[serde(default)]
    pub error_type: Option<String>,
    /// The teammate who wrote the message (`{}` or absent for automatic messages).
    #[serde(default)]
    pub author: Option<Teammate>,
    /// Everyone on the message, with roles.
    #[serde(default, deserialize_with = "null_default")]
    pub recipients: Vec<Recipient>,
    /// HTML body.
    #[serde(default)]
    pub body: Option<String>,
    /// Plain-text body.
    #[serde(default)]
    pub text: Option<String>,
    /// Attachment metadata (download them with [`ChannelApi::download`](crate::api::ChannelApi::download)).
    #[serde(default, deserialize_with = "null_default")]
    pub attachments: Vec<FrontAttachment>,
    /// Message metadata (`external_id` for partner-channel messages, ...).
    #[serde(default)]
    pub metadata: Option<Value>,
}

impl FrontMessage {
    /// The recipients with role `to`: one channel message per recipient.
    pub fn to_recipients(&self) -> impl Iterator<Item = &Recipient> {
        self.recipients
            .iter()
            .filter(|r| r.role == RecipientRole::To)
    }

    /// The id of the message this one replies to: the last path segment of
    /// `_links.related.message_replied_to`.
    pub fn replied_to_id(&self) -> Option<&str> {
        let url = self.links.related.as_ref()?.message_replied_to.as_deref()?;
        last_segment(url)
    }

    /// The id of the conversation: the last path segment of `_links.related.conversation`.
    pub fn conversation_id(&self) -> Option<&str> {
        let url = self.links.related.as_ref()?.conversation.as_deref()?;
        last_segment(url)
    }

    /// `created_at` as a UTC time (millisecond precision), when present and in range.
    pub fn created_at_utc(&self) -> Option<chrono::DateTime<chrono::Utc>> {
        let secs = self.created_at?;
        if !(0.0..=253_402_300_799.0).contains(&secs) {
            return None;
        }
        let millis = (secs * 1000.0).round() as i64;
        chrono::DateTime::from_timestamp_millis(millis)
    }
}

fn last_segment(url: &str) -> Option<&str> {
    let path = url.split(['?', '#']).next().unwrap_or(url);
    path.trim_end_matches('/')
        .rsplit('/')
        .next()
        .filter(|s| !s.is_empty())
}

/// `_links` of a message.
#[derive(Debug, Clone, PartialEq, Eq, Default, Deserialize, Serialize)]
pub struct Links {
    /// The message's own API URL.
    #[serde(rename = "self", default)]
    pub self_url: Option<String>,
    /// Related resources.
    #[serde(default)]
    pub related: Option<RelatedLinks>,
}

/// `_links.related` of a message.
#[derive(Debug, Clone, PartialEq, Eq, Default, Deserialize, Serialize)]
pub struct RelatedLinks {
    /// The conversation's API URL.
    #[serde(default)]
    pub conversation: Option<String>,
    /// The API URL of the message this one replies to.
    #[serde(default)]
    pub message_replied_to: Option<String>,
}

/// A teammate (the author of a message).
#[derive(Debug, Clone, PartialEq, Eq, Default, Deserialize, Serialize)]
pub struct Teammate {
    /// Teammate id (`tea_…`).
    #[serde(default)]
    pub id: Option<String>,
    /// Email address.
    #[serde(default)]
    pub email: Option<String>,
    /// Username.
    #[serde(default)]
    pub username: Option<String>,
    /// First name.
    #[serde(default)]
    pub first_name: Option<String>,
    /// Last name.
    #[serde(default)]
    pub last_name: Option<String>,
}

impl Teammate {
    /// "First Last" when either is present.
    pub fn display_name(&self) -> Option<String> {
        let parts: Vec<&str> = [self.first_name.as_deref(), self.last_name.as_deref()]
            .into_iter()
            .flatten()
            .filter(|s| !s.is_empty())
            .collect();
        if parts.is_empty() {
            None
        } else {
            Some(parts.join(" "))
        }
    }
}

/// A recipient of a message.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
pub struct Recipient {
    /// The contact's handle on the channel (phone number, user id, ...).
    pub handle: String,
    /// Display name.
    #[serde(default)]
    pub name: Option<String>,
    /// The recipient's role on the message.
    #[serde(default)]
    pub role: RecipientRole,
    /// Links (the contact's API URL).
    #[serde(rename = "_links", default)]
    pub links: Option<Value>,
}

/// The role of a recipient.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum RecipientRole {
    /// The sender.
    From,
    /// A main recipient: the channel delivers the message to each.
    To,
    /// Copy.
    Cc,
    /// Blind copy.
    Bcc,
    /// Reply-to address.
    ReplyTo,
    /// A role this crate does not know.
    #[default]
    #[serde(other)]
    Unknown,
}

/// An attachment of a Front message (metadata only; the bytes are behind `url`).
#[derive(Debug, Clone, PartialEq, Eq, Default, Deserialize, Serialize)]
pub struct FrontAttachment {
    /// File id (`fil_…`).
    #[serde(default)]
    pub id: Option<String>,
    /// Download URL (needs the channel JWT).
    #[serde(default)]
    pub url: Option<String>,
    /// File name.
    #[serde(default)]
    pub filename: Option<String>,
    /// MIME type.
    #[serde(default)]
    pub content_type: Option<String>,
    /// Size in bytes.
    #[serde(default)]
    pub size: Option<u64>,
    /// `is_inline`, `cid`.
    #[serde(default)]
    pub metadata: Option<AttachmentMetadata>,
}

/// Metadata of an attachment.
#[derive(Debug, Clone, PartialEq, Eq, Default, Deserialize, Serialize)]
pub struct AttachmentMetadata {
    /// Whether the file is inline in the HTML body.
    #[serde(default)]
    pub is_inline: Option<bool>,
    /// Content id of an inline file.
    #[serde(default)]
    pub cid: Option<String>,
}

/// Top-level `metadata` of `message_imported`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Deserialize, Serialize)]
pub struct ImportMetadata {
    /// The external conversation id the message was imported under.
    #[serde(default)]
    pub external_conversation_id: Option<String>,
    /// Every external conversation id of the Front conversation (conversations can merge).
    #[serde(default, deserialize_with = "null_default")]
    pub external_conversation_ids: Vec<String>,
}

/// A channel request, parsed by type.
#[derive(Debug, Clone, PartialEq)]
pub enum FrontRequest {
    /// A user connected a channel instance.
    Authorization {
        /// The new channel's id.
        channel_id: String,
    },
    /// A teammate sent a message on the channel.
    Message(FrontMessage),
    /// An auto-reply rule sent a message (no `id`).
    MessageAutoreply(FrontMessage),
    /// A sync inbound/outbound import finished.
    MessageImported {
        /// The imported message.
        message: FrontMessage,
        /// External conversation ids.
        metadata: Option<ImportMetadata>,
    },
    /// The user deleted the channel instance.
    Delete {
        /// The channel id, when the body carries one (it may be empty).
        channel_id: Option<String>,
    },
}

impl FrontRequest {
    /// The request type as Front names it.
    pub fn type_name(&self) -> &'static str {
        match self {
            FrontRequest::Authorization { .. } => "authorization",
            FrontRequest::Message(_) => "message",
            FrontRequest::MessageAutoreply(_) => "message_autoreply",
            FrontRequest::MessageImported { .. } => "message_imported",
            FrontRequest::Delete { .. } => "delete",
        }
    }
}

fn null_default<'de, D, T>(d: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: Default + Deserialize<'de>,
{
    Ok(Option::<T>::deserialize(d)?.unwrap_or_default())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;
    use serde_json::json;

    #[test]
    fn message_fields_and_nulls() {
        let m: FrontMessage = serde_json::from_value(json!({
            "_links": {"self": "https://api2.frontapp.com/messages/msg_1",
                       "related": {"conversation": "https://api2.frontapp.com/conversations/cnv_9",
                                   "message_replied_to": "https://api2.frontapp.com/messages/msg_0"}},
            "id": "msg_1", "created_at": 1704067199.123, "author": {},
            "recipients": [{"handle": "+1", "role": "to", "name": null},
                           {"handle": "x", "role": "reply-to"},
                           {"handle": "y", "role": "something-new"}],
            "attachments": null, "metadata": {}
        }))
        .unwrap();
        assert_eq!(m.replied_to_id(), Some("msg_0"));
        assert_eq!(m.conversation_id(), Some("cnv_9"));
        assert_eq!(m.to_recipients().count(), 1);
        assert_eq!(m.recipients[1].role, RecipientRole::ReplyTo);
        assert_eq!(m.recipients[2].role, RecipientRole::Unknown);
        assert!(m.attachments.is_empty());
        assert_eq!(
            m.created_at_utc().unwrap().to_rfc3339(),
            "2023-12-31T23:59:59.123+00:00"
        );
        assert_eq!(m.author.unwrap().display_name(), None);
        let bad = FrontMessage {
            created_at: Some(f64::NAN),
            ..FrontMessage::default()
        };
        assert_eq!(bad.created_at_utc(), None);
    }
}
