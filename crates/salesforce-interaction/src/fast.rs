//! The one-pass reading of an event's payload document (the JSON text in the payload field).
//!
//! The tree reading ([`crate::webhook`]) parses the payload text into a `serde_json::Value` and
//! types it from there. A payload of the usual shape is read here instead, straight from its
//! text into the typed fields, with the entry body kept as its text. Anything this reading does
//! not take (an error, an array where the tree wants an object, a key given twice, a field of
//! another type than usual) is read again as a tree, which gives the answer and the exact error
//! reason. Whatever this reading returns is what the tree reading returns for the same text.
//!
//! One difference between the two parsers is ruled out by reading through
//! [`Strict`](crate::strict::Strict): `serde_json` checks only the syntax of a value it skips,
//! while building a tree refuses nesting deeper than 128, a number beyond `f64`, and an escaped
//! lone surrogate anywhere.

use omnichannel_core::json::Object;
use serde::{Deserialize, Deserializer};
use serde_json::value::RawValue;

use crate::model::{ConversationEntry, EntryPayload, Participant, lenient_opt_i64};
use crate::webhook::Layout;

/// A conversation entry's fields, the entry body kept as its text.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Entry<'a> {
    #[serde(default)]
    identifier: Option<String>,
    entry_type: String,
    #[serde(default, borrow)]
    entry_payload: Option<&'a RawValue>,
    #[serde(default)]
    sender: Option<Object<Participant>>,
    #[serde(default)]
    sender_display_name: Option<String>,
    #[serde(default, deserialize_with = "lenient_opt_i64")]
    client_timestamp: Option<i64>,
    #[serde(default, deserialize_with = "lenient_opt_i64")]
    transcripted_timestamp: Option<i64>,
    #[serde(default, deserialize_with = "lenient_opt_i64")]
    client_duration: Option<i64>,
}

/// The payload document of an `Interaction` event: the nested layout's fields, and the flat
/// layout's entry fields beside them.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Doc<'a> {
    #[serde(default)]
    conversation_identifier: Option<String>,
    #[serde(default)]
    channel_address_identifier: Option<String>,
    #[serde(default)]
    recipient: Option<Recipient>,
    #[serde(default, borrow)]
    payload: Option<Object<Entry<'a>>>,
    #[serde(default)]
    identifier: Option<String>,
    #[serde(default)]
    entry_type: Option<String>,
    #[serde(default, borrow)]
    entry_payload: Option<&'a RawValue>,
    #[serde(default)]
    sender: Option<Object<Participant>>,
    #[serde(default)]
    sender_display_name: Option<String>,
    #[serde(default, deserialize_with = "lenient_opt_i64")]
    client_timestamp: Option<i64>,
    #[serde(default, deserialize_with = "lenient_opt_i64")]
    transcripted_timestamp: Option<i64>,
    #[serde(default, deserialize_with = "lenient_opt_i64")]
    client_duration: Option<i64>,
}

/// A recipient: an object, or a JSON string holding one (read as the tree reading reads it).
struct Recipient(Participant);

impl<'de> Deserialize<'de> for Recipient {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> serde::de::Visitor<'de> for V {
            type Value = Recipient;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a participant object or its JSON text")
            }
            fn visit_str<E: serde::de::Error>(self, s: &str) -> Result<Recipient, E> {
                serde_json::from_str(s)
                    .map(Recipient)
                    .map_err(|_| E::custom("recipient"))
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                map: A,
            ) -> Result<Recipient, A::Error> {
                Participant::deserialize(serde::de::value::MapAccessDeserializer::new(map))
                    .map(Recipient)
            }
        }
        d.deserialize_any(V)
    }
}

/// What the one-pass reading gives for an entry.
pub(crate) struct ReadEntry {
    /// The entry.
    pub(crate) entry: ConversationEntry,
    /// Its typed body.
    pub(crate) payload: EntryPayload,
    /// The event id the entry carries (its `identifier`, else its body's string `id`).
    pub(crate) own_id: Option<String>,
}

/// What the one-pass reading gives for an `Interaction` payload.
pub(crate) struct ReadInteraction {
    pub(crate) layout: Layout,
    pub(crate) conversation_identifier: Option<String>,
    pub(crate) channel_address_identifier: Option<String>,
    pub(crate) recipient: Option<Participant>,
    pub(crate) entry: ReadEntry,
}

#[allow(clippy::too_many_arguments)]
fn entry_of(
    identifier: Option<String>,
    entry_type: String,
    body: Option<&RawValue>,
    sender: Option<Object<Participant>>,
    sender_display_name: Option<String>,
    client_timestamp: Option<i64>,
    transcripted_timestamp: Option<i64>,
    client_duration: Option<i64>,
) -> Option<ReadEntry> {
    let body = body.map(RawValue::get);
    let (payload, body_id) = EntryPayload::read_text(&entry_type, body, identifier.is_none())?;
    let own_id = identifier.clone().or(body_id);
    Some(ReadEntry {
        entry: ConversationEntry {
            identifier,
            entry_type,
            entry_payload: match body {
                Some(text) => omnichannel_core::Raw::json_text(text),
                None => omnichannel_core::Raw::from(serde_json::Value::Null),
            },
            sender: sender.map(|Object(p)| p),
            sender_display_name,
            client_timestamp,
            transcripted_timestamp,
            client_duration,
        },
        payload,
        own_id,
    })
}

/// `T` read from the whole of `text` through [`Strict`](crate::strict::Strict).
pub(crate) fn read<'a, T: Deserialize<'a>>(text: &'a str) -> Option<T> {
    let mut d = serde_json::Deserializer::from_str(text);
    let t = T::deserialize(crate::strict::Strict(&mut d)).ok()?;
    d.end().ok()?;
    Some(t)
}

/// A legacy payload (a conversation entry), read in one pass; `None`: read it as a tree.
pub(crate) fn legacy_entry(text: &str) -> Option<ReadEntry> {
    let Object(e) = read::<Object<Entry<'_>>>(text)?;
    entry_of(
        e.identifier,
        e.entry_type,
        e.entry_payload,
        e.sender,
        e.sender_display_name,
        e.client_timestamp,
        e.transcripted_timestamp,
        e.client_duration,
    )
}

/// An `Interaction` payload (nested or flat layout), read in one pass; `None`: read it as a
/// tree.
pub(crate) fn interaction(text: &str) -> Option<ReadInteraction> {
    let Object(d) = read::<Object<Doc<'_>>>(text)?;
    let (layout, entry) = match d.payload {
        Some(Object(e)) => (
            Layout::Nested,
            entry_of(
                e.identifier,
                e.entry_type,
                e.entry_payload,
                e.sender,
                e.sender_display_name,
                e.client_timestamp,
                e.transcripted_timestamp,
                e.client_duration,
            )?,
        ),
        None => (
            Layout::Flat,
            entry_of(
                d.identifier,
                d.entry_type?,
                d.entry_payload,
                d.sender,
                d.sender_display_name,
                d.client_timestamp,
                d.transcripted_timestamp,
                d.client_duration,
            )?,
        ),
    };
    Some(ReadInteraction {
        layout,
        conversation_identifier: d.conversation_identifier,
        channel_address_identifier: d.channel_address_identifier,
        recipient: d.recipient.map(|Recipient(p)| p),
        entry,
    })
}
