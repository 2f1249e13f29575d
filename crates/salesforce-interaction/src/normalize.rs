//! Typed platform events -> normalized [`Event`]s, and normalized outbound messages ->
//! `/interactions` requests.
//!
//! ## Events (rep -> end user)
//!
//! | entry / event type | normalized kind |
//! | --- | --- |
//! | `Message` (`Text`, `Attachments`, `Links`) | `message`; other formats or message types: `message` with `unsupported` |
//! | `MessageUpdated` | `message` with the new content; an attachment whose upload failed: `status` `failed` for the message |
//! | `TypingStartedIndicator` / `TypingStoppedIndicator` | `typing` |
//! | `DeliveryAcknowledgement` / `ReadAcknowledgement` | `status` `delivered` / `read` of the acknowledged entry |
//! | `MessageDeliveryFailed` | `status` `failed` |
//! | `SessionStatusChanged` | `Ended` → `conversation_closed`; `Active` after `New`/`Waiting` (or no previous status) → `conversation_opened`; else `other` |
//! | `ParticipantChanged`, `RoutingRequested`, any other entry or event type | `other` (typed forms: [`crate::webhook::PlatformEvent`]) |
//!
//! `id` is the conversation entry's `identifier` (the id to acknowledge); without one, the
//! `channelData.eventId` of a routing request, else a hash of the event. `direction` is
//! `outbound` unless the entry's sender is the end user. `raw` is the decoded event as given.
//!
//! ## Sends (end user -> Salesforce)
//!
//! See [`crate::SalesforceChannel`] for the message fields and metadata keys.

use chrono::{DateTime, Utc};
use omnichannel_core::{
    Attachment, AttachmentKind, DeliveryState, Direction, Event, EventKind, Party, Provider, Raw,
    Role, Status, Typing,
};
use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::model::{AbstractMessage, EntryPayload, Participant};
use crate::webhook::{EventBody, InteractionEvent, PlatformEvent};

/// The normalized events of a platform event (one per platform event).
pub fn normalize(ev: &PlatformEvent, raw: &Value) -> Vec<Event> {
    normalize_owned(ev.clone(), Raw::from(raw.clone()))
}

/// [`normalize`] of an event that is not needed afterwards: its fields move into the normalized
/// event instead of being copied.
pub(crate) fn normalize_owned(ev: PlatformEvent, raw: Raw) -> Vec<Event> {
    let PlatformEvent {
        created_date,
        id,
        body,
        ..
    } = ev;
    let mut e = match body {
        EventBody::Interaction(i) => interaction(*i, created_date, id),
        EventBody::RoutingRequested(r) => {
            let mut e = Event::new(Provider::Salesforce, EventKind::Other, id);
            e.channel_id = r.channel_address_identifier;
            e.conversation_id = r.payload.conversation_identifier;
            e.recipient = r.recipient.map(party);
            e.direction = Some(Direction::Outbound);
            e.occurred_at = created_date.and_then(ms);
            e
        }
        EventBody::Other { .. } => {
            let mut e = Event::new(Provider::Salesforce, EventKind::Other, id);
            e.occurred_at = created_date.and_then(ms);
            e
        }
    };
    e.raw = Some(raw);
    vec![e]
}

fn interaction(i: InteractionEvent, created: Option<i64>, id: String) -> Event {
    let InteractionEvent {
        conversation_identifier,
        channel_address_identifier,
        recipient,
        entry,
        payload,
        ..
    } = i;
    let mut e = Event::new(Provider::Salesforce, EventKind::Other, id);
    e.channel_id = channel_address_identifier;
    e.conversation_id = conversation_identifier;
    e.recipient = recipient.map(party);
    e.direction = Some(match entry.sender.as_ref().map(|s| s.role.as_str()) {
        Some("EndUser") => Direction::Inbound,
        _ => Direction::Outbound,
    });
    e.occurred_at = entry
        .transcripted_timestamp
        .or(entry.client_timestamp)
        .or(created)
        .and_then(ms);
    let name = entry.sender_display_name;
    e.sender = entry.sender.map(|s| {
        let mut p = party(s);
        p.name = name;
        p
    });
    match payload {
        EntryPayload::Message { message, .. } => {
            e.kind = EventKind::Message;
            content(message, &mut e);
        }
        EntryPayload::MessageUpdated { message } => {
            let failed = message
                .static_content
                .iter()
                .flat_map(|c| c.attachments.iter())
                .filter_map(|a| a.attachment_upload_result.as_ref())
                .find(|r| r.result_type == "ErrorAttachmentUploadResult")
                .map(|f| (f.error_type.clone(), f.error_message.clone()));
            if let Some((error_code, error_message)) = failed {
                e.kind = EventKind::Status;
                let mut s = Status::new(DeliveryState::Failed);
                s.message_id = Some(message.id);
                s.error_code = error_code;
                s.error_message = error_message;
                e.status = Some(s);
            } else {
                e.kind = EventKind::Message;
                content(message, &mut e);
            }
        }
        EntryPayload::Typing { started } => {
            e.kind = EventKind::Typing;
            e.typing = Some(if started {
                Typing::Started
            } else {
                Typing::Stopped
            });
        }
        EntryPayload::Acknowledgement {
            read,
            acknowledged_entry,
        } => {
            e.kind = EventKind::Status;
            let mut s = Status::new(if read {
                DeliveryState::Read
            } else {
                DeliveryState::Delivered
            });
            s.message_id = acknowledged_entry;
            e.status = Some(s);
        }
        EntryPayload::DeliveryFailed {
            failed_entry,
            error_code,
            error_message,
        } => {
            e.kind = EventKind::Status;
            let mut s = Status::new(DeliveryState::Failed);
            s.message_id = failed_entry;
            s.error_code = error_code;
            s.error_message = error_message;
            e.status = Some(s);
        }
        EntryPayload::SessionStatusChanged(s) => {
            if e.conversation_id.is_none() {
                e.conversation_id = s.conversation_identifier;
            }
            if e.channel_id.is_none() {
                e.channel_id = s.channel_address_identifier;
            }
            e.kind = match (s.session_status.as_str(), s.session_status_prev.as_deref()) {
                ("Ended", _) => EventKind::ConversationClosed,
                ("Active", None | Some("New") | Some("Waiting")) => EventKind::ConversationOpened,
                _ => EventKind::Other,
            };
        }
        EntryPayload::ParticipantChanged { .. } | EntryPayload::Other => {
            e.kind = EventKind::Other;
        }
    }
    e
}

fn content(m: AbstractMessage, e: &mut Event) {
    e.reply_to = m.in_reply_to_message_id;
    let Some(c) = m
        .static_content
        .filter(|_| m.message_type == "StaticContentMessage")
    else {
        e.unsupported = true;
        return;
    };
    e.text = c.text.filter(|t| !t.is_empty());
    match c.format_type.as_str() {
        "Text" => {}
        "Attachments" => {
            for a in c.attachments {
                let kind = a
                    .mime_type
                    .as_deref()
                    .map(AttachmentKind::from_mime)
                    .unwrap_or(AttachmentKind::File);
                let mut att = Attachment::new(kind);
                att.id = a.id;
                att.url = a.url;
                att.mime_type = a.mime_type;
                att.name = a.name;
                e.attachments.push(att);
            }
        }
        "Links" => {
            for l in c.links {
                let mut att = Attachment::new(AttachmentKind::Embed);
                att.url = Some(l.url);
                e.attachments.push(att);
            }
        }
        _ => e.unsupported = true,
    }
}

fn party(p: Participant) -> Party {
    let role = match p.role.as_str() {
        "EndUser" => Some(Role::Contact),
        "Agent" | "Supervisor" => Some(Role::Agent),
        "Chatbot" => Some(Role::Bot),
        "System" | "Router" => Some(Role::System),
        _ => None,
    };
    let mut out = Party::new(p.subject);
    out.role = role;
    out
}

fn ms(v: i64) -> Option<DateTime<Utc>> {
    DateTime::from_timestamp_millis(v)
}

/// A deterministic id for an event without one: `sf-` and 32 hex digits of the SHA-256 of its
/// JSON (keys in sorted order, so the same event always gives the same id).
pub fn derived_id(raw: &Value) -> String {
    derived_id_of(raw)
}

/// [`derived_id`] of anything serializable: the SHA-256 of its JSON (a tuple is an array).
pub fn derived_id_of<T: serde::Serialize + ?Sized>(value: &T) -> String {
    /// Feeds the JSON to the hash as it is written (no buffer of the whole document).
    struct HashWriter(Sha256);
    impl std::io::Write for HashWriter {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.update(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let mut w = HashWriter(Sha256::new());
    // Serializing plain data into a writer that never fails cannot fail.
    let _ = serde_json::to_writer(&mut w, value);
    let d = w.0.finalize();
    format!("sf-{}", hex::encode(&d[..16]))
}

/// A deterministic UUID (version 8, RFC 9562) from a host key, so the ids of a retried send
/// (entry id, `RequestId`) are the same as the first attempt's.
pub fn derived_uuid(purpose: &str, key: &str) -> String {
    let mut h = Sha256::new();
    h.update(b"omnichannel-salesforce:");
    h.update(purpose.as_bytes());
    h.update(b":");
    h.update(key.as_bytes());
    let d = h.finalize();
    let mut b = [0u8; 16];
    b.copy_from_slice(&d[..16]);
    b[6] = (b[6] & 0x0f) | 0x80;
    b[8] = (b[8] & 0x3f) | 0x80;
    uuid::Uuid::from_bytes(b).to_string()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    #[test]
    fn derived_ids_are_stable_uuids() {
        let a = derived_uuid("entry", "k-1");
        assert_eq!(a, derived_uuid("entry", "k-1"));
        assert_ne!(a, derived_uuid("request", "k-1"));
        let u = uuid::Uuid::parse_str(&a).unwrap();
        assert_eq!(u.get_version_num(), 8);
        let v = serde_json::json!({"b": 1, "a": 2});
        assert_eq!(derived_id(&v), derived_id(&v.clone()));
        assert!(derived_id(&v).starts_with("sf-"));
    }

    #[test]
    fn streamed_digest_is_the_digest_of_the_serialized_json() {
        let v = serde_json::json!({"text": "a \"quoted\" é 🙏\n", "n": [1, 2.5, null, true]});
        let d = Sha256::digest(serde_json::to_vec(&v).unwrap());
        assert_eq!(derived_id(&v), format!("sf-{}", hex::encode(&d[..16])));
    }

    #[test]
    fn fingerprint_of_borrowed_fields_is_the_id_of_the_json_array() {
        // parse_event hashes a tuple of borrowed fields; ids must stay those of the array.
        let payload = Value::String(r#"{"identifier":"e1","text":"a \"quoted\" é"}"#.into());
        let recipient = serde_json::json!({"appType": "custom", "subject": "u", "role": "EndUser"});
        let array = serde_json::json!(["Interaction", payload, null, recipient]);
        assert_eq!(
            derived_id_of(&(
                Some("Interaction"),
                Some(&payload),
                None::<&Value>,
                Some(&recipient)
            )),
            derived_id(&array)
        );
        let none = serde_json::json!([null, null, null, null]);
        assert_eq!(
            derived_id_of(&(None::<&str>, None::<&Value>, None::<&Value>, None::<&Value>)),
            derived_id(&none)
        );
    }
}

/// What a send turns into: the `/interactions` request, its file, and the ids to use.
#[derive(Debug, Clone)]
pub struct PreparedInteraction {
    /// The `json` part.
    pub request: crate::model::InteractionRequest,
    /// The `attachments` part.
    pub file: Option<crate::api::FilePart>,
    /// The entry (or attachment interaction) id: the receipt's message id.
    pub entry_id: String,
    /// The `RequestId`, the same on every attempt.
    pub request_id: String,
    /// Whether the send may be retried.
    pub idempotency: omnichannel_core::http::Idempotency,
}

/// Which interaction a send makes (metadata key `interaction`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InteractionKind {
    /// `message` (default): text, or one file with an optional caption.
    Message,
    /// `typing_started`.
    TypingStarted,
    /// `typing_stopped`.
    TypingStopped,
    /// `message_delivery_failed`: a rep's message could not reach the end user.
    MessageDeliveryFailed,
}

impl InteractionKind {
    /// From the message's `interaction` metadata.
    pub fn of(msg: &dyn omnichannel_core::OutboundMessage) -> omnichannel_core::Result<Self> {
        match msg.metadata(META_INTERACTION) {
            None | Some(Value::Null) => Ok(InteractionKind::Message),
            Some(Value::String(s)) => match s.as_str() {
                "message" => Ok(InteractionKind::Message),
                "typing_started" => Ok(InteractionKind::TypingStarted),
                "typing_stopped" => Ok(InteractionKind::TypingStopped),
                "message_delivery_failed" => Ok(InteractionKind::MessageDeliveryFailed),
                _ => Err(omnichannel_core::Error::invalid_input(
                    "metadata.interaction",
                    "one of message, typing_started, typing_stopped, message_delivery_failed",
                )),
            },
            Some(_) => Err(omnichannel_core::Error::invalid_input(
                "metadata.interaction",
                "must be a string",
            )),
        }
    }
}

/// Metadata key: which interaction to send.
pub const META_INTERACTION: &str = "interaction";
/// Metadata key: the channel address identifier (`to`), overriding the configured one.
pub const META_CHANNEL_ADDRESS: &str = "channel_address";
/// Metadata key: routing attributes (object of strings), Salesforce-owned routing only.
pub const META_ROUTING_ATTRIBUTES: &str = "routing_attributes";
/// Metadata key: the error code of a `message_delivery_failed` (string or number).
pub const META_ERROR_CODE: &str = "error_code";
/// Metadata key: the error text of a `message_delivery_failed` (default: the message text).
pub const META_ERROR_MESSAGE: &str = "error_message";
/// Metadata key: the failed conversation entry of a `message_delivery_failed` (default: `reply_to`).
pub const META_FAILED_ENTRY_ID: &str = "failed_entry_id";
/// Metadata key: the entry id to use (a UUID); default derived from the idempotency key.
pub const META_ENTRY_ID: &str = "entry_id";

fn meta_str<'a>(
    msg: &'a dyn omnichannel_core::OutboundMessage,
    key: &str,
) -> omnichannel_core::Result<Option<&'a str>> {
    match msg.metadata(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) if !s.is_empty() => Ok(Some(s)),
        Some(_) => Err(omnichannel_core::Error::invalid_input(
            format!("metadata.{key}"),
            "must be a non-empty string",
        )),
    }
}

/// Builds the `/interactions` request of a normalized message, after the capability check.
///
/// `now` gives the interaction timestamp (ms). Ids come from the idempotency key when there is
/// one, so a host's retry reuses them.
pub fn prepare(
    msg: &dyn omnichannel_core::OutboundMessage,
    kind: InteractionKind,
    cfg: &crate::config::SalesforceConfig,
    now: DateTime<Utc>,
) -> omnichannel_core::Result<PreparedInteraction> {
    use crate::model::{
        AbstractMessage, InboundEntry, Interaction, InteractionRequest, StaticContent,
    };
    use omnichannel_core::Error;
    use omnichannel_core::http::Idempotency;

    let from = msg
        .sender()
        .map(|c| c.id.trim())
        .filter(|s| !s.is_empty())
        .ok_or_else(|| {
            Error::invalid_input(
                "sender",
                "the end user's client id (the contact the host relays for) is required",
            )
        })?
        .to_string();
    let to = match meta_str(msg, META_CHANNEL_ADDRESS)? {
        Some(c) => c.to_string(),
        None => cfg.channel_address.clone().ok_or_else(|| {
            Error::invalid_input(
                "metadata.channel_address",
                "no channel address identifier in the message or the settings",
            )
        })?,
    };
    let mut routing_attributes = std::collections::BTreeMap::new();
    match msg.metadata(META_ROUTING_ATTRIBUTES) {
        None | Some(Value::Null) => {}
        Some(Value::Object(m)) => {
            if m.len() > cfg.max_routing_attributes {
                return Err(Error::invalid_input(
                    "metadata.routing_attributes",
                    format!("at most {} attributes", cfg.max_routing_attributes),
                ));
            }
            for (k, v) in m {
                let v = v.as_str().ok_or_else(|| {
                    Error::invalid_input("metadata.routing_attributes", "values must be strings")
                })?;
                routing_attributes.insert(k.clone(), v.to_string());
            }
        }
        Some(_) => {
            return Err(Error::invalid_input(
                "metadata.routing_attributes",
                "must be an object of strings",
            ));
        }
    }
    let key = msg.idempotency_key();
    let entry_id = match (meta_str(msg, META_ENTRY_ID)?, key) {
        (Some(id), _) => id.to_string(),
        (None, Some(k)) => derived_uuid("entry", k),
        (None, None) => uuid::Uuid::new_v4().to_string(),
    };
    let request_id = match key {
        Some(k) => derived_uuid("request", k),
        None => uuid::Uuid::new_v4().to_string(),
    };
    let timestamp = now.timestamp_millis();
    let text = msg.text().filter(|t| !t.is_empty()).map(str::to_string);
    if kind != InteractionKind::Message && !msg.attachments().is_empty() {
        return Err(Error::invalid_input(
            "attachments",
            "only a message interaction carries a file",
        ));
    }
    let mut file = None;
    let mut idempotency = Idempotency::keyed(key);
    let interaction = match kind {
        InteractionKind::Message => match msg.attachments() {
            [] => {
                let text = text.ok_or_else(|| Error::invalid_input("text", "is required"))?;
                let content = StaticContent::text(text);
                Interaction::EntryInteraction {
                    timestamp,
                    payload: InboundEntry::Message {
                        id: entry_id.clone(),
                        abstract_message: AbstractMessage {
                            message_type: "StaticContentMessage".into(),
                            id: entry_id.clone(),
                            static_content: Some(content),
                            in_reply_to_message_id: msg.reply_to().map(str::to_string),
                        },
                    },
                }
            }
            [a] => {
                let bytes = a.decode_data(cfg.max_attachment_bytes)?.ok_or_else(|| {
                    Error::invalid_input(
                        "attachments.data_base64",
                        "Salesforce takes the file itself: give its bytes (URLs are not fetched)",
                    )
                })?;
                if bytes.is_empty() {
                    return Err(Error::invalid_input(
                        "attachments.data_base64",
                        "the file is empty",
                    ));
                }
                let len = bytes.len() as u64;
                file = Some(crate::api::FilePart {
                    name: a.name.clone().unwrap_or_else(|| "attachment".into()),
                    mime_type: a
                        .mime_type
                        .clone()
                        .unwrap_or_else(|| "application/octet-stream".into()),
                    bytes: bytes::Bytes::from(bytes),
                });
                Interaction::AttachmentInteraction {
                    timestamp,
                    id: entry_id.clone(),
                    attachment_index: 0,
                    content_length: len,
                    text,
                }
            }
            _ => {
                return Err(Error::invalid_input(
                    "attachments",
                    "one file per interaction",
                ));
            }
        },
        InteractionKind::TypingStarted | InteractionKind::TypingStopped => {
            // Repeating a typing indicator is harmless.
            idempotency = Idempotency::Idempotent;
            let payload = if kind == InteractionKind::TypingStarted {
                InboundEntry::TypingStartedIndicator {
                    id: entry_id.clone(),
                    timestamp,
                }
            } else {
                InboundEntry::TypingStoppedIndicator {
                    id: entry_id.clone(),
                    timestamp,
                }
            };
            Interaction::EntryInteraction { timestamp, payload }
        }
        InteractionKind::MessageDeliveryFailed => {
            let error_code = match msg.metadata(META_ERROR_CODE) {
                Some(Value::String(s)) if !s.is_empty() => s.clone(),
                Some(Value::Number(n)) => n.to_string(),
                _ => {
                    return Err(Error::invalid_input(
                        "metadata.error_code",
                        "the channel's error code is required for message_delivery_failed",
                    ));
                }
            };
            let failed = meta_str(msg, META_FAILED_ENTRY_ID)?
                .or(msg.reply_to())
                .map(str::to_string);
            let error_message = meta_str(msg, META_ERROR_MESSAGE)?
                .map(str::to_string)
                .or(text);
            Interaction::EntryInteraction {
                timestamp,
                payload: InboundEntry::MessageDeliveryFailed {
                    id: entry_id.clone(),
                    recipient: Participant::end_user(from.clone()),
                    error_code,
                    error_message,
                    failed_conversation_entry_identifier: failed,
                },
            }
        }
    };
    Ok(PreparedInteraction {
        request: InteractionRequest {
            to,
            from,
            routing_attributes,
            interactions: vec![interaction],
        },
        file,
        entry_id,
        request_id,
        idempotency,
    })
}
