//! Typed payloads → normalized [`Event`]s, and outbound messages → the protocol's bodies.
//!
//! Conventions (both providers):
//! - `conversation_id` is the visitor token, the key every endpoint and webhook carries (one
//!   room per contact); the ticket UUID travels in `raw`.
//! - ids are deterministic: a ticket UUID where the event is about the ticket, otherwise a
//!   digest of the payload (the protocol has no message ids of its own on these legs). Two
//!   byte-identical messages in one ticket therefore share an id.

use std::borrow::Cow;
use std::cell::RefCell;

use omnichannel_core::{
    Attachment as EventAttachment, AttachmentKind, Direction, Error, Event, EventKind,
    OutboundMessage, Party, Provider, Raw, Result, Role,
};
use serde_json::Value;

use crate::model::{AgentMessageData, AppWebhook, Attachment, VisitorMessage, VisitorToken};

/// Meteor's id alphabet (Rocket.Chat room and message ids).
const ID_ALPHABET: &[u8] = b"23456789ABCDEFGHJKLMNPQRSTWXYZabcdefghijkmnopqrstuvwxyz";

/// A 17-character Rocket.Chat-style id derived from `parts` (deterministic): the 128-bit XXH3
/// hash of the length-prefixed parts, written in Meteor's alphabet.
///
/// A dedup key, not a secret or a signature: both legs are authenticated before an id is
/// derived, and the parts always include the ticket or room, so ids can only meet within one
/// conversation. XXH3 reads a 4 KiB body in about a twentieth of the time SHA-256 takes (the
/// hash was most of the Rocket.Chat path's cost; BENCHMARKS.md).
pub fn derived_id(parts: &[&[u8]]) -> String {
    let n = xxh3_128_of_parts(parts);
    // 9 digits from the high half and 8 from the low (55^9 < 2^64): 98 bits of the hash.
    let base = ID_ALPHABET.len() as u64;
    let mut id = [0u8; 17];
    let (high, low) = id.split_at_mut(9);
    for (mut half, digits) in [((n >> 64) as u64, high), (n as u64, low)] {
        for d in digits {
            *d = ID_ALPHABET[(half % base) as usize];
            half /= base;
        }
    }
    // Every byte is from the ASCII alphabet: always text.
    std::str::from_utf8(&id)
        .map(str::to_owned)
        .unwrap_or_default()
}

/// The largest input [`xxh3_128_of_parts`] keeps its thread's buffer for (a body above it
/// frees the buffer after use).
const KEPT_INPUT: usize = 64 * 1024;

/// XXH3-128 of each part's length (8 bytes, big-endian) followed by its bytes, in order.
///
/// The parts are gathered into a buffer kept by the thread and hashed at once, instead of being
/// fed to the streaming hasher: the same result (tested), and the visitor message's path at
/// 1 KiB took 0.90 to 0.98 µs instead of 0.93 to 1.01 (BENCHMARKS.md, sixth round). With a
/// buffer allocated for each call, the id of a 1 KiB body took longer than streaming it (110
/// against 95 ns in a timing loop).
fn xxh3_128_of_parts(parts: &[&[u8]]) -> u128 {
    fn gather(input: &mut Vec<u8>, parts: &[&[u8]]) -> u128 {
        input.clear();
        for p in parts {
            input.extend_from_slice(&(p.len() as u64).to_be_bytes());
            input.extend_from_slice(p);
        }
        xxhash_rust::xxh3::xxh3_128(input)
    }
    thread_local! {
        static INPUT: RefCell<Vec<u8>> = const { RefCell::new(Vec::new()) };
    }
    INPUT
        .try_with(|input| {
            // Only this function borrows it, and it calls nothing that could come back here.
            let mut input = input.try_borrow_mut().ok()?;
            let n = gather(&mut input, parts);
            if input.capacity() > KEPT_INPUT {
                *input = Vec::new();
            }
            Some(n)
        })
        .ok()
        .flatten()
        // The thread's buffer is gone (the thread is ending): a buffer of this call's own.
        .unwrap_or_else(|| gather(&mut Vec::new(), parts))
}

/// The MIME type the app puts on a forwarded PDF, and the real one.
const DOCUMENT_PDF: &str = "document/pdf";

fn event_attachment(a: &Attachment) -> EventAttachment {
    attachment_of(Cow::Borrowed(&a.mime_type), Cow::Borrowed(&a.url))
}

/// The event's attachment of an item with a MIME type and a URL (either may be empty); the
/// strings move into it when owned.
pub(crate) fn attachment_of(mime_type: Cow<'_, str>, url: Cow<'_, str>) -> EventAttachment {
    let mime = if mime_type == DOCUMENT_PDF {
        Cow::Borrowed("application/pdf")
    } else {
        mime_type
    };
    let mut out = EventAttachment::new(AttachmentKind::from_mime(&mime));
    if !url.is_empty() {
        out.url = Some(url.into_owned());
    }
    if !mime.is_empty() {
        out.mime_type = Some(mime.into_owned());
    }
    out
}

/// The event of an app webhook received on the RapidPro side (provider `rocketchat`); the
/// webhook's fields and `raw` move into it.
pub fn app_webhook_event(webhook: AppWebhook, raw: Raw, body: &[u8]) -> Event {
    match webhook {
        AppWebhook::AgentMessage {
            ticket_id,
            token,
            data,
        } => {
            let id = format!(
                "{ticket_id}:{}",
                derived_id(&[b"agent-message", ticket_id.as_bytes(), body])
            );
            let mut e = Event::new(Provider::Rocketchat, EventKind::Message, id);
            e.direction = Some(Direction::Outbound);
            // The webhook does not say which agent wrote; the contact is the recipient.
            if !token.is_empty() {
                e.recipient = Some(Party::new(token.as_str()).with_role(Role::Contact));
                e.conversation_id = Some(token);
            }
            e.text = data.text.filter(|t| !t.is_empty());
            e.attachments = data.attachments.iter().map(event_attachment).collect();
            e.raw = Some(raw);
            e
        }
        AppWebhook::CloseRoom { ticket_id, token } => {
            let mut e = Event::new(
                Provider::Rocketchat,
                EventKind::ConversationClosed,
                format!("{ticket_id}:closed"),
            );
            e.conversation_id = non_empty(&token);
            e.raw = Some(raw);
            e
        }
    }
}

fn non_empty(s: &str) -> Option<String> {
    (!s.is_empty()).then(|| s.to_string())
}

/// `room` accepted on the app side: the ticket opened (id: the ticket UUID). The room id
/// answered to RapidPro is in the store's [`RoomRecord`](crate::RoomRecord) for the token.
pub fn room_opened_event(app_id: &str, body: &Value) -> Event {
    let ticket = body.get("ticketID").and_then(Value::as_str).unwrap_or("");
    let visitor = body.get("visitor");
    let token = visitor
        .and_then(|v| v.get("token"))
        .and_then(Value::as_str)
        .unwrap_or("");
    let mut e = Event::new(Provider::Rapidpro, EventKind::ConversationOpened, ticket);
    e.direction = Some(Direction::Inbound);
    e.channel_id = Some(app_id.to_string());
    e.conversation_id = Some(token.to_string());
    let mut sender = Party::new(token).with_role(Role::Contact);
    if let Some(name) = visitor.and_then(|v| v.get("name")).and_then(Value::as_str) {
        sender = sender.with_name(name);
    }
    e.sender = Some(sender);
    e.raw = Some(body.clone().into());
    e
}

/// `visitor-message` accepted on the app side: the contact's message (id: the message id
/// answered to RapidPro).
pub fn visitor_message_event(
    app_id: &str,
    raw: Raw,
    text: Option<String>,
    token: &str,
    message_id: String,
    attachments: &[Attachment],
) -> Event {
    message_event(
        app_id,
        raw,
        text,
        Cow::Borrowed(token),
        message_id,
        attachments.iter().map(event_attachment).collect(),
    )
}

/// [`visitor_message_event`] with the token and the event's attachments moved in.
pub(crate) fn message_event(
    app_id: &str,
    raw: Raw,
    text: Option<String>,
    token: Cow<'_, str>,
    message_id: String,
    attachments: Vec<EventAttachment>,
) -> Event {
    let token = token.into_owned();
    let mut e = Event::new(Provider::Rapidpro, EventKind::Message, message_id);
    e.direction = Some(Direction::Inbound);
    e.channel_id = Some(app_id.to_string());
    e.sender = Some(Party::new(token.as_str()).with_role(Role::Contact));
    e.conversation_id = Some(token);
    e.text = text.filter(|t| !t.is_empty());
    e.attachments = attachments;
    e.raw = Some(raw);
    e
}

/// `room.close` accepted on the app side: RapidPro closed the ticket (id: `<ticket>:closed`).
pub fn room_closed_event(app_id: &str, body: &Value, token: &str, ticket_id: &str) -> Event {
    let mut e = Event::new(
        Provider::Rapidpro,
        EventKind::ConversationClosed,
        format!("{ticket_id}:closed"),
    );
    e.channel_id = Some(app_id.to_string());
    e.conversation_id = Some(token.to_string());
    e.raw = Some(body.clone().into());
    e
}

/// `PUT settings` accepted on the app side: RapidPro connected its ticketer.
pub fn settings_event(app_id: &str, body: &Value, url: &str) -> Event {
    let mut e = Event::new(
        Provider::Rapidpro,
        EventKind::ChannelAuthorized,
        format!("settings:{}", derived_id(&[url.as_bytes()])),
    );
    e.channel_id = Some(app_id.to_string());
    e.raw = Some(body.clone().into());
    e
}

/// The MIME type of an outbound attachment: the one given, else one guessed from the URL's
/// extension for common media.
fn outbound_mime(a: &omnichannel_core::OutboundAttachment, i: usize) -> Result<String> {
    if let Some(m) = a.mime_type.as_deref().filter(|m| !m.is_empty()) {
        return Ok(m.to_string());
    }
    let url = a.url.as_deref().unwrap_or("");
    let path = url.split(['?', '#']).next().unwrap_or(url);
    let ext = path
        .rsplit_once('.')
        .map(|(_, e)| e.to_ascii_lowercase())
        .unwrap_or_default();
    let guessed = match ext.as_str() {
        "jpg" | "jpeg" => "image/jpeg",
        "png" => "image/png",
        "gif" => "image/gif",
        "webp" => "image/webp",
        "mp4" => "video/mp4",
        "webm" => "video/webm",
        "mp3" => "audio/mpeg",
        "ogg" | "oga" => "audio/ogg",
        "m4a" => "audio/mp4",
        "pdf" => "application/pdf",
        _ => {
            return Err(Error::invalid_input(
                format!("attachments[{i}].mime_type"),
                "required: the protocol carries each attachment's MIME type",
            ));
        }
    };
    Ok(guessed.to_string())
}

fn outbound_attachments(msg: &dyn OutboundMessage) -> Result<Vec<Attachment>> {
    msg.attachments()
        .iter()
        .enumerate()
        .map(|(i, a)| {
            let url = a.url.as_deref().filter(|u| !u.is_empty()).ok_or_else(|| {
                Error::invalid_input(
                    format!("attachments[{i}].url"),
                    "required: the protocol carries attachments by URL, not inline data",
                )
            })?;
            Ok(Attachment::new(outbound_mime(a, i)?, url))
        })
        .collect()
}

fn token_of(msg: &dyn OutboundMessage) -> Result<String> {
    msg.conversation_id()
        .or_else(|| msg.sender().map(|c| c.id.as_str()))
        .or_else(|| msg.recipient().map(|c| c.id.as_str()))
        .filter(|t| !t.is_empty())
        .map(str::to_string)
        .ok_or_else(|| {
            Error::invalid_input(
                "conversation_id",
                "required: the visitor token (RapidPro contact id) of the room",
            )
        })
}

/// A contact's message as the `visitor-message` body (RapidPro side). The visitor token is the
/// message's `conversation_id` (else its sender's, else its recipient's id).
pub fn visitor_message_from(msg: &dyn OutboundMessage) -> Result<VisitorMessage> {
    Ok(VisitorMessage {
        visitor: VisitorToken {
            token: token_of(msg)?,
        },
        text: msg.text().filter(|t| !t.is_empty()).map(str::to_string),
        attachments: outbound_attachments(msg)?,
    })
}

/// An agent's message as the `agent-message` webhook (app side), for the ticket `ticket_id`.
pub fn agent_message_from(msg: &dyn OutboundMessage, ticket_id: &str) -> Result<AppWebhook> {
    Ok(AppWebhook::AgentMessage {
        ticket_id: ticket_id.to_string(),
        token: token_of(msg)?,
        data: AgentMessageData {
            // The app always sends a text (possibly empty).
            text: Some(msg.text().unwrap_or_default().to_string()),
            attachments: outbound_attachments(msg)?,
        },
    })
}

/// The visitor token an outbound message addresses (see [`visitor_message_from`]).
pub fn outbound_token(msg: &dyn OutboundMessage) -> Result<String> {
    token_of(msg)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The one-shot hash of the gathered parts is the streaming hash of the same parts, at
    /// every length around XXH3's size classes, and above the size the thread's buffer is kept
    /// for (after which the buffer is used again).
    #[test]
    fn gathered_parts_hash_as_the_streaming_hasher() {
        fn streaming(parts: &[&[u8]]) -> u128 {
            let mut h = xxhash_rust::xxh3::Xxh3Default::new();
            for p in parts {
                h.update(&(p.len() as u64).to_be_bytes());
                h.update(p);
            }
            h.digest128()
        }
        let bytes: Vec<u8> = (0..KEPT_INPUT as u32 + 4096)
            .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
            .collect();
        // The thread's buffer dropped after an input above the size, then grown again.
        let lengths = (0..300).chain([1024, 4096, KEPT_INPUT - 40, KEPT_INPUT + 1, 17, 2000]);
        for len in lengths {
            let body = &bytes[..len];
            let cases: [&[&[u8]]; 3] = [&[body], &[b"visitor-message", b"ROOM", body], &[]];
            for parts in cases {
                assert_eq!(xxh3_128_of_parts(parts), streaming(parts), "{len}");
            }
        }
    }

    /// Oracle: the Python `xxhash` package (`xxh3_128` over the same length-prefixed parts,
    /// then the same digits), computed outside this crate.
    #[test]
    fn derived_ids_match_an_independent_xxh3() {
        assert_eq!(
            derived_id(&[b"room", b"88ff1e41-c1f8-4637-af8e-d56acbde9171"]),
            "KtdzcWYZhjuh4Lq8A"
        );
        assert_eq!(
            derived_id(&[b"visitor-message", b"ROOM", "héllo".as_bytes()]),
            "tX36xMY5j5Rmjf5MS"
        );
        let id = derived_id(&[b"x"]);
        assert_eq!(id.len(), 17);
        assert!(id.bytes().all(|b| ID_ALPHABET.contains(&b)));
    }
}
