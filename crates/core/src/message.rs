//! Outbound messages: the [`OutboundMessage`] trait and the core's [`Message`] (DESIGN.md
//! section 4, "Normalized outbound message JSON").

use base64::Engine as _;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::event::{AttachmentKind, Provider};
use crate::{Error, Result};

/// The addressee or the relayed sender of an outbound message.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Contact {
    /// Phone number, handle or end-user id.
    pub id: String,
    /// Display name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
}

impl Contact {
    /// A contact with an id only.
    pub fn new(id: impl Into<String>) -> Self {
        Contact {
            id: id.into(),
            name: None,
        }
    }
}

/// An attachment to send: by URL, or inline bytes in base64.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OutboundAttachment {
    /// What it is.
    pub kind: AttachmentKind,
    /// Where the provider (or the channel) can fetch it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    /// Inline bytes, base64 (standard alphabet), when there is no URL.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub data_base64: Option<String>,
    /// MIME type.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mime_type: Option<String>,
    /// File name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
}

impl OutboundAttachment {
    /// An attachment fetched from a URL.
    pub fn from_url(kind: AttachmentKind, url: impl Into<String>) -> Self {
        OutboundAttachment {
            kind,
            url: Some(url.into()),
            data_base64: None,
            mime_type: None,
            name: None,
        }
    }

    /// An attachment carried inline.
    pub fn from_bytes(kind: AttachmentKind, bytes: &[u8]) -> Self {
        OutboundAttachment {
            kind,
            url: None,
            data_base64: Some(base64::engine::general_purpose::STANDARD.encode(bytes)),
            mime_type: None,
            name: None,
        }
    }

    /// Sets the MIME type.
    pub fn with_mime_type(mut self, mime: impl Into<String>) -> Self {
        self.mime_type = Some(mime.into());
        self
    }

    /// Sets the file name.
    pub fn with_name(mut self, name: impl Into<String>) -> Self {
        self.name = Some(name.into());
        self
    }

    /// Decodes the inline bytes, refusing more than `max_bytes` before decoding them all.
    /// `Ok(None)` when the attachment has no inline data.
    pub fn decode_data(&self, max_bytes: usize) -> Result<Option<Vec<u8>>> {
        let Some(data) = &self.data_base64 else {
            return Ok(None);
        };
        // 4 base64 characters carry 3 bytes: refuse before allocating.
        if data.len() / 4 * 3 > max_bytes.saturating_add(3) {
            return Err(Error::invalid_input(
                "attachments.data_base64",
                format!("attachment larger than {max_bytes} bytes"),
            ));
        }
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(data.trim())
            .map_err(|_| Error::invalid_input("attachments.data_base64", "not valid base64"))?;
        if bytes.len() > max_bytes {
            return Err(Error::invalid_input(
                "attachments.data_base64",
                format!("attachment larger than {max_bytes} bytes"),
            ));
        }
        Ok(Some(bytes))
    }
}

/// Anything a host can send through [`Channel::send`](crate::Channel::send).
///
/// The core's [`Message`] implements it; a host can implement it on its own type and send that
/// directly. Only `text` and `attachments` are required; the other accessors default to absent.
pub trait OutboundMessage: Send + Sync {
    /// Where the message goes: the provider's conversation id, external conversation, visitor
    /// token.
    fn conversation_id(&self) -> Option<&str> {
        None
    }
    /// The addressee (phone number, handle, end-user id).
    fn recipient(&self) -> Option<&Contact> {
        None
    }
    /// The contact the host relays for (Front sync inbound, Salesforce, Rocket.Chat visitor).
    fn sender(&self) -> Option<&Contact> {
        None
    }
    /// Text content.
    fn text(&self) -> Option<&str>;
    /// Attachments, in order.
    fn attachments(&self) -> &[OutboundAttachment];
    /// The provider message id this one answers.
    fn reply_to(&self) -> Option<&str> {
        None
    }
    /// Stable per logical message and reused on retries.
    fn idempotency_key(&self) -> Option<&str> {
        None
    }
    /// When the contact last wrote in this conversation, for reply-window rules.
    fn last_inbound_at(&self) -> Option<DateTime<Utc>> {
        None
    }
    /// Provider-specific settings, documented per crate.
    fn metadata(&self, _key: &str) -> Option<&serde_json::Value> {
        None
    }
}

/// The core's outbound message; serializes to the normalized outbound JSON.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Message {
    /// See [`OutboundMessage::conversation_id`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub conversation_id: Option<String>,
    /// See [`OutboundMessage::recipient`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub recipient: Option<Contact>,
    /// See [`OutboundMessage::sender`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sender: Option<Contact>,
    /// See [`OutboundMessage::text`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub text: Option<String>,
    /// See [`OutboundMessage::attachments`].
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub attachments: Vec<OutboundAttachment>,
    /// See [`OutboundMessage::reply_to`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reply_to: Option<String>,
    /// See [`OutboundMessage::idempotency_key`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub idempotency_key: Option<String>,
    /// See [`OutboundMessage::last_inbound_at`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_inbound_at: Option<DateTime<Utc>>,
    /// See [`OutboundMessage::metadata`].
    #[serde(default, skip_serializing_if = "serde_json::Map::is_empty")]
    pub metadata: serde_json::Map<String, serde_json::Value>,
}

impl Message {
    /// A builder for a message.
    pub fn builder() -> MessageBuilder {
        MessageBuilder::default()
    }

    /// A text message.
    pub fn text(text: impl Into<String>) -> MessageBuilder {
        MessageBuilder::default().text(text)
    }
}

impl OutboundMessage for Message {
    fn conversation_id(&self) -> Option<&str> {
        self.conversation_id.as_deref()
    }
    fn recipient(&self) -> Option<&Contact> {
        self.recipient.as_ref()
    }
    fn sender(&self) -> Option<&Contact> {
        self.sender.as_ref()
    }
    fn text(&self) -> Option<&str> {
        self.text.as_deref()
    }
    fn attachments(&self) -> &[OutboundAttachment] {
        &self.attachments
    }
    fn reply_to(&self) -> Option<&str> {
        self.reply_to.as_deref()
    }
    fn idempotency_key(&self) -> Option<&str> {
        self.idempotency_key.as_deref()
    }
    fn last_inbound_at(&self) -> Option<DateTime<Utc>> {
        self.last_inbound_at
    }
    fn metadata(&self, key: &str) -> Option<&serde_json::Value> {
        self.metadata.get(key)
    }
}

/// Builds a [`Message`].
#[derive(Debug, Clone, Default)]
pub struct MessageBuilder {
    msg: Message,
}

impl MessageBuilder {
    /// Sets the conversation.
    pub fn conversation_id(mut self, id: impl Into<String>) -> Self {
        self.msg.conversation_id = Some(id.into());
        self
    }
    /// Sets the recipient.
    pub fn recipient(mut self, contact: Contact) -> Self {
        self.msg.recipient = Some(contact);
        self
    }
    /// Sets the relayed sender.
    pub fn sender(mut self, contact: Contact) -> Self {
        self.msg.sender = Some(contact);
        self
    }
    /// Sets the text.
    pub fn text(mut self, text: impl Into<String>) -> Self {
        self.msg.text = Some(text.into());
        self
    }
    /// Adds an attachment.
    pub fn attachment(mut self, attachment: OutboundAttachment) -> Self {
        self.msg.attachments.push(attachment);
        self
    }
    /// Sets the message this one answers.
    pub fn reply_to(mut self, id: impl Into<String>) -> Self {
        self.msg.reply_to = Some(id.into());
        self
    }
    /// Sets the idempotency key.
    pub fn idempotency_key(mut self, key: impl Into<String>) -> Self {
        self.msg.idempotency_key = Some(key.into());
        self
    }
    /// Sets when the contact last wrote.
    pub fn last_inbound_at(mut self, at: DateTime<Utc>) -> Self {
        self.msg.last_inbound_at = Some(at);
        self
    }
    /// Sets a provider-specific metadata key.
    pub fn metadata(mut self, key: impl Into<String>, value: serde_json::Value) -> Self {
        self.msg.metadata.insert(key.into(), value);
        self
    }
    /// The message.
    pub fn build(self) -> Message {
        self.msg
    }
}

/// What a successful send returns; serializes as DESIGN.md section 4 says.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct SendReceipt {
    /// The provider that took the message.
    pub provider: Provider,
    /// The provider's message id.
    pub message_id: String,
    /// How far it got.
    pub status: SendStatus,
    /// The provider's answer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub raw: Option<serde_json::Value>,
}

impl SendReceipt {
    /// A receipt.
    pub fn new(
        provider: Provider,
        message_id: impl Into<String>,
        status: SendStatus,
        raw: Option<serde_json::Value>,
    ) -> Self {
        SendReceipt {
            provider,
            message_id: message_id.into(),
            status,
            raw,
        }
    }
}

/// How far a sent message got when `send` returned.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SendStatus {
    /// Queued by the provider.
    Accepted,
    /// Sent by the provider.
    Sent,
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn message_json_contract() {
        let m: Message = serde_json::from_value(json!({
            "conversation_id": "c1",
            "recipient": {"id": "+15550001111", "name": "Ann"},
            "text": "hi",
            "attachments": [{"kind": "image", "url": "https://x.test/a.png", "mime_type": "image/png", "name": "a.png"}],
            "reply_to": "m0",
            "idempotency_key": "k1",
            "metadata": {"split": true}
        }))
        .unwrap();
        assert_eq!(m.conversation_id(), Some("c1"));
        assert_eq!(m.recipient().unwrap().name.as_deref(), Some("Ann"));
        assert_eq!(m.attachments()[0].kind, AttachmentKind::Image);
        assert_eq!(m.metadata("split"), Some(&json!(true)));
        let built = Message::text("hi")
            .conversation_id("c1")
            .recipient(Contact {
                id: "+15550001111".into(),
                name: Some("Ann".into()),
            })
            .attachment(
                OutboundAttachment::from_url(AttachmentKind::Image, "https://x.test/a.png")
                    .with_mime_type("image/png")
                    .with_name("a.png"),
            )
            .reply_to("m0")
            .idempotency_key("k1")
            .metadata("split", json!(true))
            .build();
        assert_eq!(built, m);
        let text = serde_json::to_string(&Message::text("x").build()).unwrap();
        assert_eq!(text, r#"{"text":"x"}"#);
    }

    #[test]
    fn inline_data_is_bounded() {
        let a = OutboundAttachment::from_bytes(AttachmentKind::File, &[7u8; 100]);
        assert_eq!(a.decode_data(100).unwrap().unwrap().len(), 100);
        assert_eq!(a.decode_data(99).unwrap_err().kind(), "invalid_input");
        let bad = OutboundAttachment {
            data_base64: Some("!!!!".into()),
            ..a
        };
        assert_eq!(bad.decode_data(100).unwrap_err().kind(), "invalid_input");
    }
}
