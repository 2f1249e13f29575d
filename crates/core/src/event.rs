//! The normalized event (DESIGN.md section 4) and the [`InboundEvent`] trait.
//!
//! [`Event`] serializes to the JSON contract exactly: fields absent for a kind are omitted,
//! never `null`.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// The system that sent an event or that a channel talks to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
#[non_exhaustive]
pub enum Provider {
    /// TikTok Business Messaging.
    Tiktok,
    /// Front application channels.
    Front,
    /// SignalWire messaging.
    Signalwire,
    /// The Rocket.Chat Tickets app (its webhooks to RapidPro).
    Rocketchat,
    /// RapidPro (its calls to the Rocket.Chat app).
    Rapidpro,
    /// Salesforce Interaction Service.
    Salesforce,
}

impl Provider {
    /// Every provider, in a stable order.
    pub const ALL: [Provider; 6] = [
        Provider::Tiktok,
        Provider::Front,
        Provider::Signalwire,
        Provider::Rocketchat,
        Provider::Rapidpro,
        Provider::Salesforce,
    ];

    /// The provider's name as it appears in JSON, URLs and fixture folders.
    pub fn as_str(self) -> &'static str {
        match self {
            Provider::Tiktok => "tiktok",
            Provider::Front => "front",
            Provider::Signalwire => "signalwire",
            Provider::Rocketchat => "rocketchat",
            Provider::Rapidpro => "rapidpro",
            Provider::Salesforce => "salesforce",
        }
    }
}

impl std::fmt::Display for Provider {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for Provider {
    type Err = crate::Error;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Provider::ALL
            .into_iter()
            .find(|p| p.as_str() == s)
            .ok_or_else(|| crate::Error::invalid_input("provider", "unknown provider"))
    }
}

/// What an event is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum EventKind {
    /// A message (text, attachments) from a contact, an agent or a bot.
    Message,
    /// A delivery status of a message (accepted, sent, delivered, read, failed).
    Status,
    /// Someone started or stopped typing.
    Typing,
    /// A conversation (ticket, room, session) was opened.
    ConversationOpened,
    /// A conversation was closed.
    ConversationClosed,
    /// An account holder connected a channel.
    ChannelAuthorized,
    /// A channel was removed.
    ChannelRemoved,
    /// Anything else; the raw payload travels in `raw`.
    Other,
}

/// Who wrote, seen from the contact.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Direction {
    /// The contact wrote.
    Inbound,
    /// The business, an agent or a bot wrote.
    Outbound,
}

/// The role of a party in a conversation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
#[non_exhaustive]
pub enum Role {
    /// The end user.
    Contact,
    /// A human agent, teammate or rep.
    Agent,
    /// An automated sender.
    Bot,
    /// The provider or platform itself.
    System,
}

/// A sender or recipient.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Party {
    /// The provider's id of the party (user id, phone number, handle).
    pub id: String,
    /// Display name, when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Role, when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role: Option<Role>,
}

impl Party {
    /// A party with an id only.
    pub fn new(id: impl Into<String>) -> Self {
        Party {
            id: id.into(),
            name: None,
            role: None,
        }
    }

    /// Sets the role.
    pub fn with_role(mut self, role: Role) -> Self {
        self.role = Some(role);
        self
    }

    /// Sets the display name.
    pub fn with_name(mut self, name: impl Into<String>) -> Self {
        self.name = Some(name.into());
        self
    }
}

/// The kind of an attachment.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
#[non_exhaustive]
pub enum AttachmentKind {
    /// A picture.
    Image,
    /// A video.
    Video,
    /// An audio clip.
    Audio,
    /// Any other file.
    File,
    /// A link to content hosted by the provider (a shared post, a card).
    Embed,
}

impl AttachmentKind {
    /// The kind that a MIME type suggests (`image/*`, `video/*`, `audio/*`, otherwise file).
    pub fn from_mime(mime: &str) -> Self {
        let top = mime.split('/').next().unwrap_or("").trim();
        if top.eq_ignore_ascii_case("image") {
            AttachmentKind::Image
        } else if top.eq_ignore_ascii_case("video") {
            AttachmentKind::Video
        } else if top.eq_ignore_ascii_case("audio") {
            AttachmentKind::Audio
        } else {
            AttachmentKind::File
        }
    }

    /// The name as in JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            AttachmentKind::Image => "image",
            AttachmentKind::Video => "video",
            AttachmentKind::Audio => "audio",
            AttachmentKind::File => "file",
            AttachmentKind::Embed => "embed",
        }
    }
}

impl std::fmt::Display for AttachmentKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An attachment of a received message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Attachment {
    /// What it is.
    pub kind: AttachmentKind,
    /// The provider's media id (download it through the channel's media call).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// Where it can be fetched.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    /// Its MIME type.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mime_type: Option<String>,
    /// Its file name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Its size in bytes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub size: Option<u64>,
}

impl Attachment {
    /// An attachment of a kind with nothing else set.
    pub fn new(kind: AttachmentKind) -> Self {
        Attachment {
            kind,
            id: None,
            url: None,
            mime_type: None,
            name: None,
            size: None,
        }
    }
}

/// Delivery state of a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
#[non_exhaustive]
pub enum DeliveryState {
    /// The provider took the message.
    Accepted,
    /// Sent to the carrier or network.
    Sent,
    /// Delivered to the recipient.
    Delivered,
    /// Read by the recipient.
    Read,
    /// Not delivered.
    Failed,
}

/// The status part of a `status` event.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Status {
    /// The state reached.
    pub state: DeliveryState,
    /// The message it is about.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message_id: Option<String>,
    /// The provider's error code on failure.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error_code: Option<String>,
    /// The provider's error message on failure.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error_message: Option<String>,
}

impl Status {
    /// A status with a state only.
    pub fn new(state: DeliveryState) -> Self {
        Status {
            state,
            message_id: None,
            error_code: None,
            error_message: None,
        }
    }
}

/// Typing state of a `typing` event.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Typing {
    /// Started typing.
    Started,
    /// Stopped typing.
    Stopped,
}

/// The owned, serializable, normalized event (DESIGN.md section 4).
///
/// Build one with [`Event::new`] and set the fields that apply; `None` and empty fields are
/// left out of the JSON.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Event {
    /// The system that sent it.
    pub provider: Provider,
    /// What it is about.
    pub kind: EventKind,
    /// Stable across redeliveries: the dedup key.
    pub id: String,
    /// When it happened, by the provider's clock when it says.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub occurred_at: Option<DateTime<Utc>>,
    /// Who wrote, seen from the contact.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub direction: Option<Direction>,
    /// The business, channel or number it arrived on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub channel_id: Option<String>,
    /// The provider's conversation or thread id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub conversation_id: Option<String>,
    /// Who sent it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sender: Option<Party>,
    /// Who it is for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub recipient: Option<Party>,
    /// Text content.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub text: Option<String>,
    /// Attachments, in the provider's order.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub attachments: Vec<Attachment>,
    /// The message this one answers.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reply_to: Option<String>,
    /// Delivery status, for `status` events.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<Status>,
    /// Typing state, for `typing` events.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub typing: Option<Typing>,
    /// The content cannot be represented by the channel (a sticker); `raw` still has it.
    #[serde(default, skip_serializing_if = "is_false")]
    pub unsupported: bool,
    /// The provider's payload as received (its JSON text where the provider sent JSON).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub raw: Option<crate::Raw>,
}

fn is_false(b: &bool) -> bool {
    !*b
}

impl Event {
    /// An event with its three required fields; everything else absent.
    pub fn new(provider: Provider, kind: EventKind, id: impl Into<String>) -> Self {
        Event {
            provider,
            kind,
            id: id.into(),
            occurred_at: None,
            direction: None,
            channel_id: None,
            conversation_id: None,
            sender: None,
            recipient: None,
            text: None,
            attachments: Vec::new(),
            reply_to: None,
            status: None,
            typing: None,
            unsupported: false,
            raw: None,
        }
    }

    /// The event as a JSON value (infallible: every field is plain data).
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::to_value(self).unwrap_or(serde_json::Value::Null)
    }

    /// The event's JSON text (the same bytes as `serde_json::to_vec`), written into one buffer
    /// sized from the event's texts first, so that it does not grow while the text and `raw`
    /// are written. Fails only when `raw` holds text that is not one JSON document.
    pub fn to_json_vec(&self) -> serde_json::Result<Vec<u8>> {
        let mut out = Vec::new();
        self.write_json(&mut out)?;
        Ok(out)
    }

    /// Appends the event's JSON text to `out` (the same bytes as `serde_json::to_vec`), after
    /// making room for about its length at once: for writers that keep one buffer for many
    /// events. On an error (`raw` holding text that is not one JSON document) `out` is left as
    /// it was.
    ///
    /// Its texts, its time and a `raw` made by [`Raw::parsed_json_text`](crate::Raw) are
    /// written by hand (runs of characters without escapes copied at once, the time with
    /// digits, that `raw` copied without a second scan), the rest by `serde_json`.
    pub fn write_json(&self, out: &mut Vec<u8>) -> serde_json::Result<()> {
        let start = out.len();
        out.reserve(self.json_size_hint());
        self.write_fields(out).inspect_err(|_| out.truncate(start))
    }

    /// The fields in the order and with the omissions of the derived `Serialize` (the tests
    /// hold the two outputs equal).
    fn write_fields(&self, out: &mut Vec<u8>) -> serde_json::Result<()> {
        use crate::json::write;
        fn key(out: &mut Vec<u8>, name: &str) {
            out.extend_from_slice(b",\"");
            out.extend_from_slice(name.as_bytes());
            out.extend_from_slice(b"\":");
        }
        fn text(out: &mut Vec<u8>, name: &str, value: Option<&str>) {
            if let Some(v) = value {
                key(out, name);
                write::string(out, v);
            }
        }
        fn value<T: Serialize>(
            out: &mut Vec<u8>,
            name: &str,
            value: Option<&T>,
        ) -> serde_json::Result<()> {
            match value {
                Some(v) => {
                    key(out, name);
                    serde_json::to_writer(&mut *out, v)
                }
                None => Ok(()),
            }
        }
        // Every field by name, without `..`: a field added to `Event` does not compile here
        // until it is written.
        let Event {
            provider,
            kind,
            id,
            occurred_at,
            direction,
            channel_id,
            conversation_id,
            sender,
            recipient,
            text: body,
            attachments,
            reply_to,
            status,
            typing,
            unsupported,
            raw,
        } = self;
        out.extend_from_slice(b"{\"provider\":");
        serde_json::to_writer(&mut *out, provider)?;
        value(out, "kind", Some(kind))?;
        text(out, "id", Some(id));
        if let Some(at) = occurred_at {
            key(out, "occurred_at");
            if !write::timestamp(out, at) {
                serde_json::to_writer(&mut *out, at)?;
            }
        }
        value(out, "direction", direction.as_ref())?;
        text(out, "channel_id", channel_id.as_deref());
        text(out, "conversation_id", conversation_id.as_deref());
        value(out, "sender", sender.as_ref())?;
        value(out, "recipient", recipient.as_ref())?;
        text(out, "text", body.as_deref());
        value(
            out,
            "attachments",
            Some(attachments).filter(|a| !a.is_empty()),
        )?;
        text(out, "reply_to", reply_to.as_deref());
        value(out, "status", status.as_ref())?;
        value(out, "typing", typing.as_ref())?;
        if *unsupported {
            key(out, "unsupported");
            out.extend_from_slice(b"true");
        }
        if let Some(raw) = raw {
            key(out, "raw");
            match raw.parsed_bytes() {
                Some(text) => out.extend_from_slice(text),
                None => serde_json::to_writer(&mut *out, raw)?,
            }
        }
        out.push(b'}');
        Ok(())
    }

    /// About the length of the event's JSON: its texts (a little more for their escapes) and a
    /// margin for the fields around them.
    fn json_size_hint(&self) -> usize {
        let text = self.text.as_ref().map_or(0, |t| t.len() + t.len() / 8);
        let raw = self
            .raw
            .as_ref()
            .map_or(0, |r| r.text_len().unwrap_or(1024));
        512 + self.attachments.len() * 256 + text + raw
    }
}

/// A provider's typed inbound event: full fidelity, plus its normalized form.
///
/// Provider crates implement this on their payload types; hosts that need a provider field the
/// normalized form lacks use the typed event directly.
pub trait InboundEvent {
    /// Stable id, the dedup key.
    fn id(&self) -> String;
    /// What the event is about.
    fn kind(&self) -> EventKind;
    /// The normalized, owned form.
    fn normalize(&self) -> Event;
    /// The conversation it belongs to.
    fn conversation_id(&self) -> Option<String> {
        self.normalize().conversation_id
    }
    /// Who sent it.
    fn sender(&self) -> Option<Party> {
        self.normalize().sender
    }
    /// Its text content.
    fn text(&self) -> Option<String> {
        self.normalize().text
    }
    /// When it happened.
    fn occurred_at(&self) -> Option<DateTime<Utc>> {
        self.normalize().occurred_at
    }
}

impl InboundEvent for Event {
    fn id(&self) -> String {
        self.id.clone()
    }
    fn kind(&self) -> EventKind {
        self.kind
    }
    fn normalize(&self) -> Event {
        self.clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn absent_fields_are_omitted() {
        let e = Event::new(Provider::Tiktok, EventKind::Other, "e1");
        assert_eq!(
            e.to_json(),
            json!({"provider": "tiktok", "kind": "other", "id": "e1"})
        );
    }

    #[test]
    fn full_event_round_trips() {
        let mut e = Event::new(Provider::Signalwire, EventKind::Message, "SM1");
        e.occurred_at = Some(
            DateTime::parse_from_rfc3339("2024-05-01T12:00:00Z")
                .unwrap()
                .with_timezone(&Utc),
        );
        e.direction = Some(Direction::Inbound);
        e.channel_id = Some("+15550001111".into());
        e.conversation_id = Some("+15552223333".into());
        e.sender = Some(Party::new("+15552223333").with_role(Role::Contact));
        e.recipient = Some(Party::new("+15550001111").with_name("Support"));
        e.text = Some("héllo".into());
        let mut a = Attachment::new(AttachmentKind::Image);
        a.url = Some("https://media.test/1".into());
        a.mime_type = Some("image/png".into());
        a.size = Some(12);
        e.attachments.push(a);
        e.reply_to = Some("SM0".into());
        let mut s = Status::new(DeliveryState::Failed);
        s.error_code = Some("30003".into());
        e.status = Some(s);
        e.typing = Some(Typing::Started);
        e.unsupported = true;
        e.raw = Some(json!({"MessageSid": "SM1"}).into());
        let v = e.to_json();
        assert_eq!(v["occurred_at"], "2024-05-01T12:00:00Z");
        assert_eq!(
            v["sender"],
            json!({"id": "+15552223333", "role": "contact"})
        );
        assert_eq!(v["attachments"][0]["kind"], "image");
        assert!(v["attachments"][0].get("id").is_none());
        assert_eq!(v["status"]["state"], "failed");
        assert_eq!(v["unsupported"], true);
        assert_eq!(e.to_json_vec().unwrap(), serde_json::to_vec(&e).unwrap());
        let back: Event = serde_json::from_value(v.clone()).unwrap();
        assert_eq!(back, e);
        assert_eq!(serde_json::to_value(&back).unwrap(), v);
    }

    #[test]
    fn json_vec_is_serde_json_s_bytes_in_one_buffer() {
        let mut e = Event::new(Provider::Tiktok, EventKind::Message, "m1");
        e.text = Some("say \"hi\"\n".repeat(200));
        let raw = format!(
            r#"{{"content":{}}}"#,
            serde_json::to_string(&e.text).unwrap()
        );
        e.raw = Some(crate::Raw::json_text(raw.as_str()));
        let v = e.to_json_vec().unwrap();
        assert_eq!(v, serde_json::to_vec(&e).unwrap());
        assert!(v.capacity() >= v.len() && v.capacity() <= e.json_size_hint());
        e.raw = Some(json!({"a": [1, 2]}).into());
        e.text = None;
        assert_eq!(e.to_json_vec().unwrap(), serde_json::to_vec(&e).unwrap());
        let mut buf = b"kept".to_vec();
        e.write_json(&mut buf).unwrap();
        assert_eq!(buf[..4], *b"kept");
        assert_eq!(buf[4..], serde_json::to_vec(&e).unwrap());
        let before = buf.clone();
        e.raw = Some(crate::Raw::json_text("{not json"));
        assert!(e.to_json_vec().is_err());
        assert!(e.write_json(&mut buf).is_err());
        assert_eq!(buf, before, "a failed write leaves the buffer as it was");
    }

    #[test]
    fn parsed_raw_text_is_written_as_it_came() {
        let mut e = Event::new(Provider::Tiktok, EventKind::Message, "m1");
        let body = " {\"k\" : \"v\\n\", \"n\": 1.50} \n";
        e.raw = Some(crate::Raw::parsed_json_text(body));
        let written = e.to_json_vec().unwrap();
        assert_eq!(written, serde_json::to_vec(&e).unwrap());
        assert!(written.ends_with(b",\"raw\":{\"k\" : \"v\\n\", \"n\": 1.50}}"));
        assert_eq!(e.raw, Some(crate::Raw::json_text(body)));
    }

    #[test]
    #[cfg(debug_assertions)]
    #[should_panic(expected = "not one JSON document")]
    fn parsed_raw_text_is_checked_in_debug_builds() {
        let _ = crate::Raw::parsed_json_text("{\"a\": 1} {");
    }

    mod written {
        use super::*;
        use proptest::prelude::*;

        fn party() -> impl Strategy<Value = Option<Party>> {
            proptest::option::of(("\\PC{0,12}", proptest::option::of("\\PC{0,8}")).prop_map(
                |(id, name)| {
                    let mut p = Party::new(id);
                    p.name = name;
                    p
                },
            ))
        }

        proptest! {
            #[test]
            fn any_event_is_written_as_its_serialize_writes_it(
                id in "\\PC{0,16}|[\\x00-\\x7f]{0,16}",
                text in proptest::option::of("\\PC{0,64}|[\\x00-\\x7f]{0,64}"),
                at in proptest::option::of((-62_167_219_300i64..253_402_300_900, 0u32..2_000_000_000)),
                conversation in proptest::option::of("[a-z0-9\"\\\\]{0,8}"),
                sender in party(),
                reply_to in proptest::option::of("\\PC{0,8}"),
                unsupported: bool,
                raw in proptest::option::of(0usize..3),
            ) {
                let mut e = Event::new(Provider::Front, EventKind::Message, id);
                e.text = text;
                e.occurred_at = at.and_then(|(s, n)| DateTime::from_timestamp(s, n));
                e.conversation_id = conversation;
                e.sender = sender;
                e.reply_to = reply_to;
                e.unsupported = unsupported;
                e.raw = raw.map(|k| match k {
                    0 => crate::Raw::parsed_json_text(" [1, \"\\u00e9\"]\n"),
                    1 => crate::Raw::json_text("{\"a\":null}"),
                    _ => json!({"b": [true]}).into(),
                });
                prop_assert_eq!(e.to_json_vec().unwrap(), serde_json::to_vec(&e).unwrap());
            }
        }
    }

    #[test]
    fn no_nulls_anywhere() {
        let mut e = Event::new(Provider::Front, EventKind::Status, "x");
        e.status = Some(Status::new(DeliveryState::Read));
        e.sender = Some(Party::new("a"));
        let text = serde_json::to_string(&e).unwrap();
        assert!(!text.contains("null"), "{text}");
        assert!(!text.contains("unsupported"));
        assert!(!text.contains("attachments"));
    }

    #[test]
    fn provider_names() {
        for p in Provider::ALL {
            assert_eq!(p.as_str().parse::<Provider>().unwrap(), p);
            assert_eq!(serde_json::to_value(p).unwrap(), p.as_str());
        }
        assert!("nope".parse::<Provider>().is_err());
        assert_eq!(
            AttachmentKind::from_mime("image/jpeg"),
            AttachmentKind::Image
        );
        assert_eq!(
            AttachmentKind::from_mime("application/pdf"),
            AttachmentKind::File
        );
    }
}
