//! What Salesforce sends us: the outbound custom platform event (rep -> end user), decoded.
//!
//! Salesforce has no webhooks here. It publishes a custom platform event, named by the
//! conversation channel definition, which a subscriber reads over the Pub/Sub API (gRPC, Avro)
//! and decodes to JSON. That decoded JSON is the input of this module. Three layouts exist:
//!
//! - **pre-Spring '24** ([`Layout::Legacy`]): no event-type field; the payload field holds a
//!   `ConversationEntry` as a JSON string, beside a channel-address field and a recipient field
//!   (JSON string);
//! - **Spring '24+** ([`Layout::Nested`]): event type `Interaction`; the payload field holds
//!   `{conversationIdentifier, channelAddressIdentifier, recipient, payload: ConversationEntry}`;
//! - **flat** ([`Layout::Flat`]): event type `Interaction`; the entry's fields sit at the top of
//!   the payload JSON beside `channelAddressIdentifier` and `recipient` (the README's example
//!   without attachment).
//!
//! Event type `RoutingRequested` carries a routing request (partner-owned routing). The field
//! values may be plain strings or Avro unions as avro-js prints them (`{"string": "..."}`); the
//! fields may sit at the top of the JSON, under `payload` (the Pub/Sub consumer event), or one
//! level below that (under the event's API name).
//!
//! There is no signature to verify: authenticity comes from the authenticated Pub/Sub stream.
//! That is also why [`Channel::receive`](omnichannel_core::Channel::receive) refuses HTTP
//! requests: an unauthenticated POST of an event would let anyone inject rep messages.

use omnichannel_core::{Error, JsonFault, Result};
use serde_json::{Map, Value};

use crate::config::EventFields;
use crate::model::{ConversationEntry, EntryPayload, Participant, RoutingRequestedPayload};

/// Which layout an `Interaction` event came in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Layout {
    /// Pre-Spring '24: three fields, no event type.
    Legacy,
    /// Spring '24+: payload + event type, entry under `payload`.
    Nested,
    /// Spring '24+ with the entry's fields at the top of the payload.
    Flat,
}

/// A decoded outbound platform event, typed.
#[derive(Debug, Clone, PartialEq)]
pub struct PlatformEvent {
    /// Pub/Sub replay id, when the JSON carries it.
    pub replay_id: Option<String>,
    /// `CreatedDate` (epoch ms), when present.
    pub created_date: Option<i64>,
    /// The dedup key: the id the event carries (the entry's `identifier`, else its payload's
    /// `id`; a routing request's `eventId`), or, for an event without one, a deterministic
    /// digest of its content (event type, payload, channel address and recipient fields), the
    /// same whatever wrapper or replay id it arrived with. The digest is computed only then.
    pub id: String,
    /// What the event carries.
    pub body: EventBody,
}

/// The content of a [`PlatformEvent`].
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum EventBody {
    /// A conversation entry for the end user.
    Interaction(Box<InteractionEvent>),
    /// A rep transferred or conferenced under partner-owned routing.
    RoutingRequested(RoutingRequestedEvent),
    /// An event type this crate does not know; its JSON stays in the normalized event's `raw`.
    Other {
        /// The event type value.
        event_type: String,
    },
}

/// An `Interaction` event.
#[derive(Debug, Clone, PartialEq)]
pub struct InteractionEvent {
    /// The layout it came in.
    pub layout: Layout,
    /// The conversation (absent in the legacy and flat layouts).
    pub conversation_identifier: Option<String>,
    /// The channel address.
    pub channel_address_identifier: Option<String>,
    /// The end user it is for.
    pub recipient: Option<Participant>,
    /// The conversation entry.
    pub entry: ConversationEntry,
    /// The entry's body, typed.
    pub payload: EntryPayload,
}

/// A `RoutingRequested` event.
#[derive(Debug, Clone, PartialEq)]
pub struct RoutingRequestedEvent {
    /// The channel address.
    pub channel_address_identifier: Option<String>,
    /// The end user.
    pub recipient: Option<Participant>,
    /// The routing request.
    pub payload: RoutingRequestedPayload,
}

/// Parses a decoded platform event with the configured field names. `max_bytes` bounds the
/// event's size (its [`decoded_size`]). Anything that does not fit a layout is `malformed_payload`.
///
/// A payload field holding the JSON text of an `Interaction` or legacy entry of the usual shape
/// is read in one pass, straight into the typed fields (the entry body's JSON, in
/// [`ConversationEntry::entry_payload`], is built from the text only when read); any other
/// payload is parsed into a tree first. Both readings give the same result for the same event.
///
/// ```
/// use omnichannel_salesforce_interaction::{EventFields, EventBody, Layout, parse_event};
/// use omnichannel_salesforce_interaction::model::EntryPayload;
///
/// let fields = EventFields {
///     payload: "my__event__payloadField__c".into(),
///     event_type: "my__event__EventType__c".into(),
///     channel_address: "my__event__chnlAddrIdField__c".into(),
///     recipient: "my__event__recipientField__c".into(),
/// };
/// // Pre-Spring '24 layout, as a Pub/Sub subscriber decodes it (Avro unions kept).
/// let event = serde_json::json!({
///     "replayId": "2278491",
///     "payload": {
///         "CreatedDate": 1690344475579i64,
///         "my__event__chnlAddrIdField__c": {"string": "chan-1"},
///         "my__event__recipientField__c": {"string": r#"{"appType":"custom","subject":"u-1","role":"EndUser"}"#},
///         "my__event__payloadField__c": {"string": r#"{"identifier":"e1","entryType":"TypingStartedIndicator","entryPayload":{"entryType":"TypingStartedIndicator","id":"e1","timestamp":1}}"#}
///     }
/// });
/// let parsed = parse_event(&event, &fields, 1 << 20)?;
/// let EventBody::Interaction(i) = parsed.body else { unreachable!() };
/// assert_eq!(i.layout, Layout::Legacy);
/// assert_eq!(i.payload, EntryPayload::Typing { started: true });
/// assert_eq!(i.recipient.unwrap().subject, "u-1");
/// # Ok::<(), omnichannel_core::Error>(())
/// ```
pub fn parse_event(v: &Value, fields: &EventFields, max_bytes: usize) -> Result<PlatformEvent> {
    parse_event_with(v, fields, max_bytes, true)
}

/// [`parse_event`]; without `keep_entry_body`, an entry body read in one pass is not kept
/// (`entry_payload` is `null`): for [`crate::normalize::normalize_owned`], which does not read
/// it, so that its text is not copied for nothing.
pub(crate) fn parse_event_with(
    v: &Value,
    fields: &EventFields,
    max_bytes: usize,
    keep_entry_body: bool,
) -> Result<PlatformEvent> {
    check_size(v, max_bytes)?;
    let top = v
        .as_object()
        .ok_or_else(|| Error::malformed("the event must be a JSON object"))?;
    let record = find_record(top, fields).ok_or_else(|| {
        Error::malformed(format!(
            "the event has neither the payload field `{}` nor the event type field `{}`",
            fields.payload, fields.event_type
        ))
    })?;
    let replay_id = top.get("replayId").and_then(|r| match r {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    });
    let created_date = field_ref(record, "CreatedDate")
        .and_then(|v| v.as_i64().or_else(|| v.as_str()?.parse().ok()));
    let event_type = match field_ref(record, &fields.event_type) {
        None => None,
        Some(Value::String(s)) => Some(s.as_str()),
        Some(_) => {
            return Err(Error::malformed(format!(
                "field `{}` must be a string",
                fields.event_type
            )));
        }
    };
    let (body, own_id) = match event_type {
        None => {
            let (i, own_id) = parse_legacy(record, fields, keep_entry_body)?;
            (EventBody::Interaction(Box::new(i)), own_id)
        }
        Some("Interaction") => {
            let (i, own_id) = interaction_field(record, fields, keep_entry_body)?;
            (EventBody::Interaction(Box::new(i)), own_id)
        }
        Some("RoutingRequested") => {
            let r = parse_routing(&payload_json(record, fields)?)?;
            let own_id = r.payload.routing_event_id();
            (EventBody::RoutingRequested(r), own_id)
        }
        Some(other) => (
            EventBody::Other {
                event_type: other.to_string(),
            },
            None,
        ),
    };
    // The same JSON array as `json!([type, payload, address, recipient])`, hashed as it is
    // written, without copying the fields.
    let id = own_id.unwrap_or_else(|| {
        crate::normalize::derived_id_of(&(
            event_type,
            field_ref(record, &fields.payload),
            field_ref(record, &fields.channel_address),
            field_ref(record, &fields.recipient),
        ))
    });
    Ok(PlatformEvent {
        replay_id,
        created_date,
        id,
        body,
    })
}

fn check_size(v: &Value, max: usize) -> Result<()> {
    match decoded_size(v, max) {
        size if size > max => Err(Error::PayloadTooLarge { size, limit: max }),
        _ => Ok(()),
    }
}

/// The size of a decoded event as `max_event_bytes` counts it: the length of its compact JSON
/// with every string and key counted by its UTF-8 length as decoded (the escapes JSON would add
/// are not counted) and numbers by their decimal form. For an event whose strings need no
/// escaping it is exactly the length of `serde_json::to_vec`. Counting stops once past `stop`
/// (the result is then some size above it). The walk is iterative (no recursion, whatever the
/// depth) and reads each node once, without looking inside strings.
pub fn decoded_size(v: &Value, stop: usize) -> usize {
    /// Counts the characters a `Display` writes.
    struct Count(usize);
    impl std::fmt::Write for Count {
        fn write_str(&mut self, s: &str) -> std::fmt::Result {
            self.0 += s.len();
            Ok(())
        }
    }
    let mut size = 0usize;
    let mut stack = Stack::default();
    stack.push(v);
    while let Some(node) = stack.pop() {
        size = size.saturating_add(match node {
            Value::Null => 4,
            Value::Bool(true) => 4,
            Value::Bool(false) => 5,
            Value::Number(n) => {
                let digits = |u: u64| u.checked_ilog10().map_or(1, |l| l as usize + 1);
                match (n.as_u64(), n.as_i64()) {
                    (Some(u), _) => digits(u),
                    (None, Some(i)) => 1 + digits(i.unsigned_abs()),
                    _ => {
                        let mut c = Count(0);
                        let _ = std::fmt::Write::write_fmt(&mut c, format_args!("{n}"));
                        c.0
                    }
                }
            }
            Value::String(s) => s.len() + 2,
            Value::Array(a) => {
                a.iter().for_each(|v| stack.push(v));
                // Brackets and the commas between items.
                2 + a.len().saturating_sub(1)
            }
            Value::Object(o) => {
                o.values().for_each(|v| stack.push(v));
                // Braces, commas, and each key with its quotes and colon.
                2 + o.len().saturating_sub(1) + o.keys().map(|k| k.len() + 3).sum::<usize>()
            }
        });
        if size > stop {
            break;
        }
    }
    size
}

/// The nodes [`decoded_size`] has yet to visit: the first few in place, any more in a `Vec`
/// (an event is a handful of nodes; a hostile one may be millions, which the `Vec` takes).
#[derive(Default)]
struct Stack<'a> {
    near: [Option<&'a Value>; 16],
    len: usize,
    more: Vec<&'a Value>,
}

impl<'a> Stack<'a> {
    fn push(&mut self, v: &'a Value) {
        match self.near.get_mut(self.len) {
            Some(slot) => {
                *slot = Some(v);
                self.len += 1;
            }
            None => self.more.push(v),
        }
    }

    fn pop(&mut self) -> Option<&'a Value> {
        if let Some(v) = self.more.pop() {
            return Some(v);
        }
        self.len = self.len.checked_sub(1)?;
        self.near.get_mut(self.len)?.take()
    }
}

/// The object holding the event's fields: the top, `payload`, or one object below either.
fn find_record<'a>(top: &'a Map<String, Value>, f: &EventFields) -> Option<&'a Map<String, Value>> {
    let has = |m: &Map<String, Value>| m.contains_key(&f.payload) || m.contains_key(&f.event_type);
    if has(top) {
        return Some(top);
    }
    // `payload`, the objects inside it, the objects at the top: in this order.
    let payload = top.get("payload").and_then(Value::as_object);
    payload
        .into_iter()
        .chain(
            payload
                .into_iter()
                .flat_map(|p| p.values().filter_map(Value::as_object)),
        )
        .chain(top.values().filter_map(Value::as_object))
        .find(|m| has(m))
}

/// A field's value: plain, or an Avro union `{"string": ...}`; `None` when absent or null.
fn field(record: &Map<String, Value>, name: &str) -> Option<Value> {
    field_ref(record, name).cloned()
}

/// [`field`] without the copy.
fn field_ref<'a>(record: &'a Map<String, Value>, name: &str) -> Option<&'a Value> {
    match record.get(name)? {
        Value::Null => None,
        union @ Value::Object(o) if o.len() == 1 => {
            let (k, v) = o.iter().next()?;
            match k.as_str() {
                "string" | "long" | "int" | "boolean" | "double" => (!v.is_null()).then_some(v),
                "null" => None,
                _ => Some(union),
            }
        }
        v => Some(v),
    }
}

/// A JSON error as a reason that names the problem and where, never a value of the event:
/// serde's messages quote what they refused (`invalid type: string "..."`, `unknown variant
/// `...``), and event fields carry conversation text.
pub(crate) fn json_reason(e: &serde_json::Error) -> String {
    let what = match JsonFault::of(e) {
        JsonFault::MissingField(m) => m,
        JsonFault::UnknownVariant => "unknown variant".to_string(),
        JsonFault::WrongValue => "unexpected value type".to_string(),
        JsonFault::Eof => "unexpected end".to_string(),
        JsonFault::Syntax => "invalid JSON".to_string(),
        JsonFault::Io => "read error".to_string(),
    };
    if e.line() == 0 {
        what
    } else {
        format!("{what} (line {}, column {})", e.line(), e.column())
    }
}

/// A field holding JSON: a string to parse, or an object already decoded.
fn json_field(record: &Map<String, Value>, name: &str) -> Result<Option<Value>> {
    match field_ref(record, name) {
        None => Ok(None),
        Some(Value::String(s)) => serde_json::from_str(s).map(Some).map_err(|e| {
            Error::malformed(format!("field `{name}` is not JSON: {}", json_reason(&e)))
        }),
        Some(v @ Value::Object(_)) => Ok(Some(v.clone())),
        Some(_) => Err(Error::malformed(format!(
            "field `{name}` must be a JSON string"
        ))),
    }
}

fn payload_json(record: &Map<String, Value>, f: &EventFields) -> Result<Value> {
    json_field(record, &f.payload)?
        .ok_or_else(|| Error::malformed(format!("the payload field `{}` is absent", f.payload)))
}

/// An entry, its typed body, and the event id it carries (its `identifier`, else its body's
/// `id` when that is a string).
pub(crate) fn entry_from(v: &Value) -> Result<(ConversationEntry, EntryPayload, Option<String>)> {
    let entry = ConversationEntry::deserialize_value(v)?;
    let body = entry.entry_payload.as_value().unwrap_or(&Value::Null);
    let payload = EntryPayload::parse(&entry.entry_type, body).map_err(Error::malformed)?;
    let own_id = entry
        .identifier
        .clone()
        .or_else(|| body.get("id").and_then(Value::as_str).map(str::to_string));
    Ok((entry, payload, own_id))
}

impl ConversationEntry {
    fn deserialize_value(v: &Value) -> Result<Self> {
        serde::Deserialize::deserialize(v)
            .map_err(|e| Error::malformed(format!("conversation entry: {}", json_reason(&e))))
    }
}

fn participant(v: Option<&Value>, name: &str) -> Result<Option<Participant>> {
    match v {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => serde_json::from_str(s)
            .map(Some)
            .map_err(|e| Error::malformed(format!("{name}: {}", json_reason(&e)))),
        Some(v) => serde::Deserialize::deserialize(v)
            .map(Some)
            .map_err(|e| Error::malformed(format!("{name}: {}", json_reason(&e)))),
    }
}

fn opt_str(v: Option<&Value>) -> Option<String> {
    v.and_then(Value::as_str).map(str::to_string)
}

fn parse_legacy(
    record: &Map<String, Value>,
    f: &EventFields,
    keep_entry_body: bool,
) -> Result<(InteractionEvent, Option<String>)> {
    let read = match field_ref(record, &f.payload) {
        Some(Value::String(text)) => crate::fast::legacy_entry(text, keep_entry_body),
        _ => None,
    };
    let (entry, typed, own_id) = match read {
        Some(r) => (r.entry, r.payload, r.own_id),
        None => entry_from(&payload_json(record, f)?)?,
    };
    let channel = match field(record, &f.channel_address) {
        None => None,
        Some(Value::String(s)) => Some(s),
        Some(_) => {
            return Err(Error::malformed(format!(
                "field `{}` must be a string",
                f.channel_address
            )));
        }
    };
    let recipient = participant(
        field(record, &f.recipient).as_ref(),
        &format!("field `{}`", f.recipient),
    )?;
    Ok((
        InteractionEvent {
            layout: Layout::Legacy,
            conversation_identifier: None,
            channel_address_identifier: channel,
            recipient,
            entry,
            payload: typed,
        },
        own_id,
    ))
}

/// The `Interaction` event of a record: its payload text read in one pass when it has the
/// usual shape ([`crate::fast`]), else as a tree ([`parse_interaction`]).
fn interaction_field(
    record: &Map<String, Value>,
    f: &EventFields,
    keep_entry_body: bool,
) -> Result<(InteractionEvent, Option<String>)> {
    if let Some(Value::String(text)) = field_ref(record, &f.payload)
        && let Some(r) = crate::fast::interaction(text, keep_entry_body)
    {
        return Ok((
            InteractionEvent {
                layout: r.layout,
                conversation_identifier: r.conversation_identifier,
                channel_address_identifier: r.channel_address_identifier,
                recipient: r.recipient,
                entry: r.entry.entry,
                payload: r.entry.payload,
            },
            r.entry.own_id,
        ));
    }
    parse_interaction(&payload_json(record, f)?)
}

/// An `Interaction` payload read from its tree, and the event id its entry carries.
pub(crate) fn parse_interaction(p: &Value) -> Result<(InteractionEvent, Option<String>)> {
    let obj = p
        .as_object()
        .ok_or_else(|| Error::malformed("the payload must be a JSON object"))?;
    let (layout, entry_value) = match obj.get("payload") {
        Some(inner @ Value::Object(_)) => (Layout::Nested, inner),
        _ if obj.contains_key("entryType") => (Layout::Flat, p),
        _ => {
            return Err(Error::malformed(
                "the payload has neither a `payload` entry nor an `entryType`",
            ));
        }
    };
    let (entry, typed, own_id) = entry_from(entry_value)?;
    Ok((
        InteractionEvent {
            layout,
            conversation_identifier: opt_str(obj.get("conversationIdentifier")),
            channel_address_identifier: opt_str(obj.get("channelAddressIdentifier")),
            recipient: participant(obj.get("recipient"), "recipient")?,
            entry,
            payload: typed,
        },
        own_id,
    ))
}

fn parse_routing(p: &Value) -> Result<RoutingRequestedEvent> {
    let obj = p
        .as_object()
        .ok_or_else(|| Error::malformed("the payload must be a JSON object"))?;
    let payload: RoutingRequestedPayload = match obj.get("payload") {
        Some(v @ Value::Object(_)) => serde::Deserialize::deserialize(v).map_err(|e| {
            Error::malformed(format!("RoutingRequested payload: {}", json_reason(&e)))
        })?,
        _ => return Err(Error::malformed("RoutingRequested without `payload`")),
    };
    Ok(RoutingRequestedEvent {
        channel_address_identifier: opt_str(obj.get("channelAddressIdentifier")),
        recipient: participant(obj.get("recipient"), "recipient")?,
        payload,
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;
    use serde_json::json;

    fn fields() -> EventFields {
        EventFields {
            payload: "P__c".into(),
            event_type: "T__c".into(),
            channel_address: "C__c".into(),
            recipient: "R__c".into(),
        }
    }

    const ENTRY: &str = r#"{"identifier":"e1","entryType":"Message","entryPayload":{"entryType":"Message","id":"e1","abstractMessage":{"messageType":"StaticContentMessage","id":"e1","staticContent":{"formatType":"Text","text":"hi"}}},"sender":{"appType":"agent","subject":"005","role":"Agent"}}"#;

    #[test]
    fn finds_fields_at_any_documented_level() {
        let rec = json!({"P__c": {"string": ENTRY}, "C__c": {"string": "chan"},
                         "R__c": "{\"appType\":\"custom\",\"subject\":\"u\",\"role\":\"EndUser\"}"});
        for v in [
            rec.clone(),
            json!({"replayId": "1", "payload": rec.clone()}),
            json!({"replayId": 7, "payload": {"my__event__e": rec.clone()}}),
        ] {
            let e = parse_event(&v, &fields(), 1 << 20).unwrap();
            let EventBody::Interaction(i) = e.body else {
                panic!()
            };
            assert_eq!(i.layout, Layout::Legacy);
            assert_eq!(i.channel_address_identifier.as_deref(), Some("chan"));
            assert_eq!(i.recipient.unwrap().subject, "u");
        }
    }

    #[test]
    fn decoded_size_is_the_compact_json_length_without_escapes() {
        let plain = json!({
            "replayId": "2278491",
            "payload": {"CreatedDate": 1690344475579i64, "f": -1.5, "ok": true, "no": false,
                        "nil": null, "list": [1, "é 🙏", [], {}], "empty": ""}
        });
        let n = serde_json::to_vec(&plain).unwrap().len();
        assert_eq!(decoded_size(&plain, usize::MAX), n);
        assert_eq!(decoded_size(&json!([]), usize::MAX), 2);
        for n in [
            json!(0),
            json!(7),
            json!(-7),
            json!(10),
            json!(-10),
            json!(u64::MAX),
            json!(i64::MIN),
            json!(1e300),
            json!(0.1),
        ] {
            assert_eq!(
                decoded_size(&n, usize::MAX),
                serde_json::to_vec(&n).unwrap().len(),
                "{n}"
            );
        }
        assert_eq!(decoded_size(&json!({"a": [null, 1]}), usize::MAX), 14);
        // Escapes are not counted: a quote inside a string is one byte.
        let quoted = json!({"p": "{\"k\":\"v\"}\n"});
        assert!(decoded_size(&quoted, usize::MAX) < serde_json::to_vec(&quoted).unwrap().len());
        assert_eq!(decoded_size(&quoted, usize::MAX), 2 + 4 + 2 + 10);
        // Stops early, above the bound.
        let big = json!({"p": "x".repeat(10_000)});
        assert!(decoded_size(&big, 100) > 100);
        // Depth does not matter (no recursion).
        let mut deep = json!(null);
        for _ in 0..100_000 {
            deep = Value::Array(vec![deep]);
        }
        assert_eq!(decoded_size(&deep, usize::MAX), 4 + 2 * 100_000);
        // Value's own drop recurses: take the tree apart iteratively.
        let mut cur = deep;
        while let Value::Array(mut a) = cur {
            cur = a.pop().unwrap_or(Value::Null);
        }
    }

    #[test]
    fn fingerprint_ignores_wrapper_and_replay_id() {
        let rec = json!({"P__c": {"string": "{}"}, "T__c": "Future"});
        let a = parse_event(&rec, &fields(), 1 << 20).unwrap();
        let b = parse_event(
            &json!({"replayId": "99", "payload": {"CreatedDate": 5, "P__c": "{}", "T__c": {"string": "Future"}}}),
            &fields(),
            1 << 20,
        )
        .unwrap();
        assert_eq!(a.id, b.id);
        let c = parse_event(
            &json!({"P__c": "{\"x\":1}", "T__c": "Future"}),
            &fields(),
            1 << 20,
        )
        .unwrap();
        assert_ne!(a.id, c.id);
    }

    #[test]
    fn refusals_are_typed() {
        let f = fields();
        assert_eq!(
            parse_event(&json!([1]), &f, 100).unwrap_err().kind(),
            "malformed_payload"
        );
        assert_eq!(
            parse_event(&json!({"x": 1}), &f, 100).unwrap_err().kind(),
            "malformed_payload"
        );
        assert_eq!(
            parse_event(
                &json!({"P__c": "{not json", "T__c": "Interaction"}),
                &f,
                1000
            )
            .unwrap_err()
            .kind(),
            "malformed_payload"
        );
        assert_eq!(
            parse_event(&json!({"P__c": "{}", "T__c": "Interaction"}), &f, 1000)
                .unwrap_err()
                .kind(),
            "malformed_payload"
        );
        assert_eq!(
            parse_event(&json!({"P__c": "x".repeat(200)}), &f, 100)
                .unwrap_err()
                .kind(),
            "payload_too_large"
        );
        let other = parse_event(
            &json!({"P__c": "{}", "T__c": {"string": "Future"}}),
            &f,
            1000,
        )
        .unwrap();
        assert_eq!(
            other.body,
            EventBody::Other {
                event_type: "Future".into()
            }
        );
    }
}
