//! Typed TikTok events → normalized [`Event`]s, and outbound messages → TikTok send requests with
//! the composition, initiation and reply-window rules checked first.
//!
//! ## Outbound message metadata (documented keys)
//! - [`SPLIT_METADATA_KEY`] (`"tiktok_split_text_and_image"`, boolean, default `false`): a
//!   message with text and exactly one image is sent as two TikTok messages, the text first (it
//!   keeps the reply reference), then the image. Without it such a message is refused with
//!   `unsupported_content` before any request.
//! - [`BUSINESS_ID_METADATA_KEY`] (`"business_id"`, string): the business to send as, when one
//!   channel serves several businesses; defaults to the channel's `business_id` setting.

use std::time::Duration;

use chrono::{DateTime, Utc};
use omnichannel_core::{
    Attachment, AttachmentKind, Capabilities, DeliveryState, Direction, Error, Event, EventKind,
    InboundEvent, OutboundAttachment, OutboundMessage, Party, Provider, Result, Role, Status,
};
use serde_json::{Value, json};

use crate::model::{MessageEvent, ReadEvent, TiktokEvent};

/// Longest text TikTok accepts in one message (characters).
pub const MAX_TEXT_CHARS: usize = 6000;
/// TikTok's reply window after the contact's last message: 48 hours.
pub const REPLY_WINDOW: Duration = Duration::from_secs(48 * 3600);
/// Metadata key that opts in to sending text plus one image as two messages.
pub const SPLIT_METADATA_KEY: &str = "tiktok_split_text_and_image";
/// Metadata key naming the business to send as.
pub const BUSINESS_ID_METADATA_KEY: &str = "business_id";

/// What a TikTok conversation carries: text (≤ 6000 characters) or exactly one image, never
/// both in one message; the business cannot start a conversation; replies within 48 h of the
/// contact's last message.
pub fn capabilities(max_media_bytes: usize) -> Capabilities {
    Capabilities::text_only()
        .with_max_text_chars(MAX_TEXT_CHARS)
        .with_attachments(&[AttachmentKind::Image], 1)
        .with_text_and_attachments(false)
        .with_max_attachment_bytes(max_media_bytes as u64)
        .with_business_initiated(false)
        .with_reply_window(REPLY_WINDOW)
}

/// Whether a reply is still allowed at `now` when the contact last wrote at `last_inbound_at`.
pub fn may_reply(last_inbound_at: DateTime<Utc>, now: DateTime<Utc>) -> bool {
    let window = chrono::Duration::from_std(REPLY_WINDOW).unwrap_or(chrono::Duration::MAX);
    now <= last_inbound_at + window
}

fn millis(ms: i64) -> Option<DateTime<Utc>> {
    DateTime::from_timestamp_millis(ms)
}

fn secs(s: i64) -> Option<DateTime<Utc>> {
    DateTime::from_timestamp(s, 0)
}

fn party(
    id: Option<crate::model::UserRef>,
    name: Option<String>,
    role: Option<Role>,
) -> Option<Party> {
    let id = id?;
    let mut p = Party::new(id.id);
    p.name = name.filter(|n| !n.is_empty());
    p.role = role;
    Some(p)
}

impl MessageEvent {
    /// The business this event belongs to: `user_openid`, else the business side of the message.
    pub fn business(&self) -> Option<&str> {
        let side = if self.echo {
            &self.content.from_user
        } else {
            &self.content.to_user
        };
        self.business_id
            .as_deref()
            .or(side.as_ref().map(|u| u.id.as_str()))
    }

    fn to_event(&self) -> Event {
        self.clone().into_event()
    }

    /// The normalized event, the typed fields moved into it (no copies of the text).
    pub fn into_event(self) -> Event {
        let business = self.business().map(str::to_string);
        let MessageEvent {
            echo,
            create_time,
            content: c,
            raw,
            ..
        } = self;
        let mut e = Event::new(Provider::Tiktok, EventKind::Message, c.message_id);
        e.occurred_at = c
            .timestamp
            .and_then(millis)
            .or_else(|| create_time.and_then(secs));
        e.direction = Some(if echo {
            Direction::Outbound
        } else {
            Direction::Inbound
        });
        e.channel_id = business;
        e.conversation_id = Some(c.conversation_id);
        let (from_role, to_role) = if echo {
            (None, Some(Role::Contact))
        } else {
            (Some(Role::Contact), None)
        };
        e.sender = party(c.from_user, c.from, from_role);
        e.recipient = party(c.to_user, c.to, to_role);
        e.reply_to = c
            .referenced_message_info
            .map(|r| r.referenced_message_id)
            .filter(|r| !r.is_empty());
        match (c.message_type.as_str(), c.text, c.image, c.share_post) {
            ("text", Some(t), _, _) => e.text = Some(t.body),
            ("image", _, Some(i), _) => {
                let mut a = Attachment::new(AttachmentKind::Image);
                a.id = Some(i.media_id);
                e.attachments.push(a);
            }
            ("share_post", _, _, Some(p)) => {
                let mut a = Attachment::new(AttachmentKind::Embed);
                a.url = Some(p.embed_url);
                e.attachments.push(a);
            }
            _ => e.unsupported = true,
        }
        e.raw = Some(raw);
        e
    }
}

impl ReadEvent {
    /// The reader is the business itself (reading its own thread): not a status of a message to
    /// the contact, normalized as `other`.
    pub fn read_by_business(&self) -> bool {
        match (&self.content.from_user, &self.business_id) {
            (Some(u), Some(b)) => &u.id == b,
            _ => false,
        }
    }

    /// Deterministic id: `read:<conversation>:<reader>:<last_read_timestamp>`.
    pub fn id(&self) -> String {
        format!(
            "read:{}:{}:{}",
            self.content.conversation_id,
            self.content
                .from_user
                .as_ref()
                .map(|u| u.id.as_str())
                .unwrap_or(""),
            self.content.read.last_read_timestamp
        )
    }

    fn to_event(&self) -> Event {
        let kind = if self.read_by_business() {
            EventKind::Other
        } else {
            EventKind::Status
        };
        let mut e = Event::new(Provider::Tiktok, kind, self.id());
        // Every business message at or before this time is read.
        e.occurred_at = millis(self.content.read.last_read_timestamp);
        e.channel_id = self.business_id.clone();
        e.conversation_id = Some(self.content.conversation_id.clone());
        if kind == EventKind::Status {
            e.direction = Some(Direction::Inbound);
            e.sender = party(self.content.from_user.clone(), None, Some(Role::Contact));
            e.status = Some(Status::new(DeliveryState::Read));
        }
        e.raw = Some(self.raw.clone());
        e
    }
}

impl TiktokEvent {
    /// The normalized event ([`InboundEvent::normalize`]), the typed fields moved into it
    /// instead of copied.
    pub fn into_event(self) -> Event {
        match self {
            TiktokEvent::Message(m) => m.into_event(),
            other => other.normalize(),
        }
    }
}

impl InboundEvent for TiktokEvent {
    fn id(&self) -> String {
        match self {
            TiktokEvent::Message(m) => m.content.message_id.clone(),
            TiktokEvent::Read(r) => r.id(),
            TiktokEvent::Other(o) => o.id.clone(),
        }
    }

    fn kind(&self) -> EventKind {
        match self {
            TiktokEvent::Message(_) => EventKind::Message,
            TiktokEvent::Read(r) if !r.read_by_business() => EventKind::Status,
            _ => EventKind::Other,
        }
    }

    /// The DESIGN.md section 4 event: `channel_id` = business id, `conversation_id`, `sender`,
    /// `id` = message id (reads and other events get deterministic ids).
    fn normalize(&self) -> Event {
        match self {
            TiktokEvent::Message(m) => m.to_event(),
            TiktokEvent::Read(r) => r.to_event(),
            TiktokEvent::Other(o) => {
                let mut e = Event::new(Provider::Tiktok, EventKind::Other, o.id.clone());
                e.occurred_at = o.create_time.and_then(secs);
                e.channel_id = o.business_id.clone();
                e.raw = Some(o.raw.clone());
                e
            }
        }
    }
}

/// One TikTok message to send.
#[derive(Debug, Clone, PartialEq)]
pub enum SendPart<'a> {
    /// A text message, optionally quoting a message.
    Text {
        /// The text.
        body: &'a str,
        /// The quoted TikTok message id.
        reply_to: Option<&'a str>,
    },
    /// An image: upload first, then send the media id. TikTok's image sends carry no reply
    /// reference.
    Image(&'a OutboundAttachment),
}

/// The checked plan of a send.
#[derive(Debug, Clone, PartialEq)]
pub struct SendPlan<'a> {
    /// The business to send as (token key).
    pub business_id: String,
    /// The conversation (TikTok `recipient`).
    pub conversation_id: &'a str,
    /// Messages in order.
    pub parts: Vec<SendPart<'a>>,
}

/// A message seen with only part of its content (to check each half of a split).
struct PartView<'a> {
    base: &'a dyn OutboundMessage,
    text: Option<&'a str>,
    attachments: &'a [OutboundAttachment],
}

impl OutboundMessage for PartView<'_> {
    fn conversation_id(&self) -> Option<&str> {
        self.base.conversation_id()
    }
    fn recipient(&self) -> Option<&omnichannel_core::Contact> {
        self.base.recipient()
    }
    fn text(&self) -> Option<&str> {
        self.text
    }
    fn attachments(&self) -> &[OutboundAttachment] {
        self.attachments
    }
    fn reply_to(&self) -> Option<&str> {
        self.base.reply_to()
    }
    fn last_inbound_at(&self) -> Option<DateTime<Utc>> {
        self.base.last_inbound_at()
    }
}

/// Checks a message against the channel's [`Capabilities`] at `now` (before any request) and
/// plans the TikTok messages that carry it.
pub fn plan<'a>(
    msg: &'a dyn OutboundMessage,
    caps: &Capabilities,
    now: DateTime<Utc>,
    default_business: Option<&str>,
) -> Result<SendPlan<'a>> {
    let split = match msg.metadata(SPLIT_METADATA_KEY) {
        None | Some(Value::Null) => false,
        Some(Value::Bool(b)) => *b,
        Some(_) => {
            return Err(Error::invalid_input(
                format!("metadata.{SPLIT_METADATA_KEY}"),
                "must be true or false",
            ));
        }
    };
    let text = msg.text().filter(|t| !t.is_empty());
    let attachments = msg.attachments();
    let split_now = split && text.is_some() && attachments.len() == 1;
    if split_now {
        caps.check_at(
            &PartView {
                base: msg,
                text,
                attachments: &[],
            },
            now,
        )?;
        caps.check_at(
            &PartView {
                base: msg,
                text: None,
                attachments,
            },
            now,
        )?;
    } else {
        caps.check_at(msg, now)?;
    }
    let conversation_id = msg
        .conversation_id()
        .filter(|c| !c.is_empty())
        .ok_or_else(|| {
            Error::invalid_input(
                "conversation_id",
                "TikTok replies go to the conversation id of an inbound message",
            )
        })?;
    let business_id = match msg.metadata(BUSINESS_ID_METADATA_KEY) {
        Some(Value::String(s)) if !s.is_empty() => s.clone(),
        Some(Value::Null) | None => default_business
            .filter(|b| !b.is_empty())
            .map(str::to_string)
            .ok_or_else(|| {
                Error::invalid_input(
                    "business_id",
                    "set the channel's business_id or the message's `business_id` metadata",
                )
            })?,
        Some(_) => {
            return Err(Error::invalid_input(
                "metadata.business_id",
                "must be a non-empty string",
            ));
        }
    };
    let reply_to = msg.reply_to().filter(|r| !r.is_empty());
    let mut parts = Vec::with_capacity(2);
    if let Some(body) = text {
        parts.push(SendPart::Text { body, reply_to });
    }
    if let Some(a) = attachments.first() {
        if text.is_none() && reply_to.is_some() {
            tracing::debug!("TikTok image sends carry no reply reference; it is left out");
        }
        parts.push(SendPart::Image(a));
    }
    Ok(SendPlan {
        business_id,
        conversation_id,
        parts,
    })
}

/// The JSON body of a text send.
pub fn text_request(
    business_id: &str,
    conversation_id: &str,
    body: &str,
    reply_to: Option<&str>,
) -> Value {
    let mut v = json!({
        "business_id": business_id,
        "recipient_type": "CONVERSATION",
        "recipient": conversation_id,
        "message_type": "TEXT",
        "text": {"body": body},
    });
    if let (Some(r), Some(obj)) = (reply_to, v.as_object_mut()) {
        obj.insert(
            "referenced_message_info".into(),
            json!({"referenced_message_id": r}),
        );
    }
    v
}

/// The JSON body of an image send.
pub fn image_request(business_id: &str, conversation_id: &str, media_id: &str) -> Value {
    json!({
        "business_id": business_id,
        "recipient_type": "CONVERSATION",
        "recipient": conversation_id,
        "message_type": "IMAGE",
        "image": {"media_id": media_id},
    })
}

/// The image type from the first bytes: `(mime, extension)`.
pub fn sniff_image(bytes: &[u8]) -> Option<(&'static str, &'static str)> {
    if bytes.starts_with(&[0x89, b'P', b'N', b'G', 0x0d, 0x0a, 0x1a, 0x0a]) {
        Some(("image/png", "png"))
    } else if bytes.starts_with(&[0xff, 0xd8, 0xff]) {
        Some(("image/jpeg", "jpg"))
    } else if bytes.len() >= 12 && &bytes[..4] == b"RIFF" && &bytes[8..12] == b"WEBP" {
        Some(("image/webp", "webp"))
    } else if bytes.starts_with(b"GIF8") {
        Some(("image/gif", "gif"))
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;
    use omnichannel_core::{Message, OutboundAttachment};

    fn now() -> DateTime<Utc> {
        DateTime::from_timestamp(1_700_000_000, 0).unwrap()
    }

    fn img() -> OutboundAttachment {
        OutboundAttachment::from_bytes(AttachmentKind::Image, b"\x89PNG\r\n\x1a\nxx")
    }

    #[test]
    fn split_is_opt_in_and_checked_per_part() {
        let caps = capabilities(1024);
        let m = Message::text("hi")
            .attachment(img())
            .conversation_id("c")
            .build();
        assert_eq!(
            plan(&m, &caps, now(), Some("b")).unwrap_err().kind(),
            "unsupported_content"
        );
        let m = Message::text("hi")
            .attachment(img())
            .conversation_id("c")
            .reply_to("m0")
            .metadata(SPLIT_METADATA_KEY, Value::Bool(true))
            .build();
        let p = plan(&m, &caps, now(), Some("b")).unwrap();
        assert_eq!(p.parts.len(), 2);
        assert_eq!(
            p.parts[0],
            SendPart::Text {
                body: "hi",
                reply_to: Some("m0")
            }
        );
        let long = "x".repeat(MAX_TEXT_CHARS + 1);
        let m = Message::text(long)
            .attachment(img())
            .conversation_id("c")
            .metadata(SPLIT_METADATA_KEY, Value::Bool(true))
            .build();
        assert_eq!(
            plan(&m, &caps, now(), Some("b")).unwrap_err().kind(),
            "unsupported_content"
        );
        let m = Message::text("hi").conversation_id("c").build();
        assert_eq!(
            plan(&m, &caps, now(), None).unwrap_err().kind(),
            "invalid_input"
        );
    }

    #[test]
    fn reply_window_helper() {
        assert!(may_reply(now() - chrono::Duration::hours(47), now()));
        assert!(!may_reply(now() - chrono::Duration::hours(49), now()));
    }

    #[test]
    fn sniffing() {
        assert_eq!(sniff_image(b"\xff\xd8\xff\xe0").unwrap().0, "image/jpeg");
        assert!(sniff_image(b"hello").is_none());
    }
}
