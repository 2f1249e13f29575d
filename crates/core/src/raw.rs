//! [`Raw`]: the provider's payload as received, carried in every normalized [`Event`].
//!
//! A provider that sends JSON has its body kept as text: the webhook path builds no JSON tree
//! of the body beside the typed fields it reads, and serializing the event writes the text
//! back verbatim. A host that wants to look inside parses it on demand ([`Raw::to_value`]).
//! Payloads that are not JSON documents as received are kept as a [`serde_json::Value`], or in
//! the provider's own form ([`RawJson`], a form's parameters), turned into JSON only when the
//! event is serialized or read.
//!
//! [`Event`]: crate::Event

use std::fmt;
use std::sync::Arc;

use bytes::Bytes;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::Value;
use serde_json::value::RawValue;

/// The provider's payload as received: JSON text, or a value.
///
/// Serializes to the JSON of the payload (text is written as it came, after a check that it is
/// one JSON document). Two `Raw`s are equal when their JSON values are.
///
/// ```
/// use omnichannel_core::Raw;
/// use serde_json::json;
///
/// let raw = Raw::json_text(r#"{"event": "im_receive_msg", "create_time": 1700000000}"#);
/// assert_eq!(raw.to_value()?["event"], "im_receive_msg");
/// assert_eq!(raw, Raw::from(json!({"create_time": 1700000000, "event": "im_receive_msg"})));
/// assert_eq!(
///     serde_json::to_string(&raw)?,
///     r#"{"event": "im_receive_msg", "create_time": 1700000000}"#
/// );
/// # Ok::<(), serde_json::Error>(())
/// ```
#[derive(Clone)]
pub struct Raw(Repr);

#[derive(Clone)]
enum Repr {
    /// JSON text, as the provider sent it; `parsed` when the provider crate parsed all of it as
    /// one JSON document (see [`Raw::parsed_json_text`]).
    Text { text: Text, parsed: bool },
    /// A decoded value, shared with whoever else holds it (a decoded platform event).
    Value(Arc<Value>),
    /// A payload in its provider's form, JSON on demand.
    Deferred(Arc<dyn RawJson>),
}

/// Where a payload's text is kept.
#[derive(Clone)]
enum Text {
    /// A copy of its own.
    Owned(Arc<str>),
    /// The part of a request body that the text is: the bytes of a `str` (see
    /// [`Raw::parsed_json_shared`]), shared with the body, not copied.
    Shared(Bytes),
}

impl Text {
    fn as_bytes(&self) -> &[u8] {
        match self {
            Text::Owned(s) => s.as_bytes(),
            Text::Shared(b) => b,
        }
    }

    /// The text. Shared bytes are checked again (they were a `str`'s, so the check passes);
    /// the webhook path never calls this, only readers of the payload.
    fn as_str(&self) -> &str {
        match self {
            Text::Owned(s) => s,
            Text::Shared(b) => crate::utf8::to_str(b).unwrap_or_default(),
        }
    }
}

/// A payload kept in its provider's own form (a form's parameters) inside a [`Raw`]: its JSON
/// is built only when the event is serialized or read, never on the webhook path.
pub trait RawJson: fmt::Debug + Send + Sync {
    /// The payload as JSON.
    fn to_json(&self) -> Value;
}

impl Raw {
    /// A payload kept as its JSON text, as received.
    ///
    /// Provider crates call this with a body they have just parsed as JSON. Nothing is parsed
    /// here; text that is not one JSON document fails when the event is serialized
    /// ([`serde_json::Error`]) or read ([`Raw::to_value`]), never later than that.
    pub fn json_text(text: impl Into<Arc<str>>) -> Self {
        Raw(Repr::Text {
            text: Text::Owned(text.into()),
            parsed: false,
        })
    }

    /// A payload kept as its JSON text, which the caller has just parsed, all of it, as one
    /// JSON document (`serde_json::from_str` of it into some type succeeded, or a reader as
    /// strict). [`Event::write_json`](crate::Event::write_json) then writes it as it is,
    /// without scanning it a second time; serializing it through `serde` still checks it.
    ///
    /// Text that is not one JSON document would make `write_json`'s output invalid JSON: use
    /// [`Raw::json_text`] for text of any other origin. Debug builds check the promise.
    pub fn parsed_json_text(text: impl Into<Arc<str>>) -> Self {
        Raw::parsed(Text::Owned(text.into()))
    }

    /// A payload of text its provider crate has parsed as one JSON document (checked in debug
    /// builds).
    fn parsed(text: Text) -> Self {
        debug_assert!(
            serde_json::from_slice::<serde::de::IgnoredAny>(text.as_bytes()).is_ok(),
            "Raw given as parsed JSON text that is not one JSON document"
        );
        Raw(Repr::Text { text, parsed: true })
    }

    /// [`Raw::parsed_json_text`] for `text` read from the request body `body` (all of it, or a
    /// part): the payload keeps a handle on the body's buffer instead of a copy of the text.
    /// The same promise holds: the caller has just parsed all of `text` as one JSON document.
    /// A `text` that is not a part of `body` is copied.
    ///
    /// The payload keeps the body's buffer alive as long as the event: when the body came from
    /// a connection in one piece, that may be a larger read buffer it shares. A host that keeps
    /// events for long keeps their JSON ([`Event::write_json`](crate::Event::write_json)), or
    /// a copy of the text ([`Raw::json_text`] of [`Raw::as_json_text`]).
    ///
    /// ```
    /// use omnichannel_core::{Bytes, Raw};
    ///
    /// let body = Bytes::from_static(br#"{"event": "message", "text": "hi"}"#);
    /// let text = std::str::from_utf8(&body)?;
    /// # let _: serde::de::IgnoredAny = serde_json::from_str(text).unwrap();
    /// let raw = Raw::parsed_json_shared(&body, text);
    /// assert_eq!(raw.as_json_text(), Some(text));
    /// assert_eq!(raw.to_value().unwrap()["text"], "hi");
    /// # Ok::<(), std::str::Utf8Error>(())
    /// ```
    pub fn parsed_json_shared(body: &Bytes, text: &str) -> Self {
        let inside = body
            .as_ptr_range()
            .contains(&text.as_ptr())
            .then(|| text.as_ptr() as usize - body.as_ptr() as usize)
            .filter(|&at| body.len() - at >= text.len());
        match inside {
            Some(at) if !text.is_empty() => {
                Raw::parsed(Text::Shared(body.slice(at..at + text.len())))
            }
            _ => Raw::parsed_json_text(text),
        }
    }

    /// The bytes of a payload's text made by [`Raw::parsed_json_text`] or
    /// [`Raw::parsed_json_shared`], without its surrounding whitespace.
    pub(crate) fn parsed_bytes(&self) -> Option<&[u8]> {
        match &self.0 {
            Repr::Text { text, parsed: true } => Some(text.as_bytes().trim_ascii()),
            _ => None,
        }
    }

    /// The length of the payload's text, when it is kept as text.
    pub(crate) fn text_len(&self) -> Option<usize> {
        match &self.0 {
            Repr::Text { text, .. } => Some(text.as_bytes().len()),
            Repr::Value(_) | Repr::Deferred(_) => None,
        }
    }

    /// A payload kept in its provider's form; its JSON is built when it is serialized or read.
    pub fn deferred(payload: Arc<dyn RawJson>) -> Self {
        Raw(Repr::Deferred(payload))
    }

    /// The JSON text, when the payload is kept as text. For a payload that shares its request
    /// body ([`Raw::parsed_json_shared`]) each call checks the bytes' UTF-8 again (a pass over
    /// them; they were a `str`'s, so it passes).
    pub fn as_json_text(&self) -> Option<&str> {
        match &self.0 {
            Repr::Text { text, .. } => Some(text.as_str()),
            Repr::Value(_) | Repr::Deferred(_) => None,
        }
    }

    /// The value, when the payload is kept as a value.
    pub fn as_value(&self) -> Option<&Value> {
        match &self.0 {
            Repr::Text { .. } | Repr::Deferred(_) => None,
            Repr::Value(v) => Some(&**v),
        }
    }

    /// The payload as a JSON value: text is parsed, a value is cloned. An error for text that is
    /// not JSON, or that `serde_json` cannot decode into a value (a string holding an unpaired
    /// surrogate escape such as `"\ud800"`, which a JSON document may contain).
    pub fn to_value(&self) -> serde_json::Result<Value> {
        match &self.0 {
            Repr::Text { text, .. } => serde_json::from_slice(text.as_bytes()),
            Repr::Value(v) => Ok(Value::clone(v)),
            Repr::Deferred(p) => Ok(p.to_json()),
        }
    }

    /// The payload as a JSON value, without a copy of a kept value that nothing else shares.
    pub fn into_value(self) -> serde_json::Result<Value> {
        match self.0 {
            Repr::Text { text, .. } => serde_json::from_slice(text.as_bytes()),
            Repr::Value(v) => Ok(Arc::unwrap_or_clone(v)),
            Repr::Deferred(p) => Ok(p.to_json()),
        }
    }
}

impl From<Value> for Raw {
    fn from(v: Value) -> Self {
        Raw(Repr::Value(Arc::new(v)))
    }
}

/// A value shared, not copied: the payload of every event made from it, and its other holders,
/// point at one tree.
impl From<Arc<Value>> for Raw {
    fn from(v: Arc<Value>) -> Self {
        Raw(Repr::Value(v))
    }
}

impl PartialEq for Raw {
    fn eq(&self, other: &Self) -> bool {
        match (&self.0, &other.0) {
            (Repr::Value(a), Repr::Value(b)) => a == b,
            (Repr::Text { text: a, .. }, Repr::Text { text: b, .. })
                if a.as_bytes() == b.as_bytes() =>
            {
                true
            }
            _ => match (self.to_value(), other.to_value()) {
                (Ok(a), Ok(b)) => a == b,
                _ => false,
            },
        }
    }
}

impl PartialEq<Value> for Raw {
    fn eq(&self, other: &Value) -> bool {
        match &self.0 {
            Repr::Value(v) => **v == *other,
            Repr::Text { text, .. } => {
                serde_json::from_slice::<Value>(text.as_bytes()).is_ok_and(|v| &v == other)
            }
            Repr::Deferred(p) => &p.to_json() == other,
        }
    }
}

impl fmt::Debug for Raw {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.0 {
            Repr::Text { text, .. } => f.debug_tuple("Raw").field(&text.as_str()).finish(),
            Repr::Value(v) => f.debug_tuple("Raw").field(&**v).finish(),
            Repr::Deferred(p) => f.debug_tuple("Raw").field(p).finish(),
        }
    }
}

/// The JSON: the text as received, or the value's compact JSON.
impl fmt::Display for Raw {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.0 {
            Repr::Text { text, .. } => f.write_str(text.as_str()),
            Repr::Value(v) => fmt::Display::fmt(v, f),
            Repr::Deferred(p) => fmt::Display::fmt(&p.to_json(), f),
        }
    }
}

impl Serialize for Raw {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match &self.0 {
            Repr::Text { text: t, .. } => {
                // Checked (a scan, no tree) so that the output is JSON whatever the text was.
                let raw: &RawValue =
                    serde_json::from_str(t.as_str().trim()).map_err(serde::ser::Error::custom)?;
                raw.serialize(serializer)
            }
            Repr::Value(v) => v.serialize(serializer),
            Repr::Deferred(p) => p.to_json().serialize(serializer),
        }
    }
}

impl<'de> Deserialize<'de> for Raw {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        Value::deserialize(deserializer).map(Raw::from)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn text_and_value_compare_as_json() {
        let text = Raw::json_text("{\"a\": [1, 2], \"b\": \"é\"}");
        let value = Raw::from(json!({"b": "é", "a": [1, 2]}));
        assert_eq!(text, value);
        assert_eq!(value, text);
        assert_eq!(text, json!({"a": [1, 2], "b": "é"}));
        assert_ne!(text, Raw::json_text("{\"a\": [1, 2]}"));
        assert_ne!(Raw::json_text("not json"), Raw::json_text("{}"));
        assert_eq!(text.as_json_text(), Some("{\"a\": [1, 2], \"b\": \"é\"}"));
        assert!(text.as_value().is_none());
        assert_eq!(value.as_value(), Some(&json!({"a": [1, 2], "b": "é"})));
        assert_eq!(
            text.clone().into_value().unwrap(),
            json!({"a": [1, 2], "b": "é"})
        );
    }

    #[test]
    fn shared_text_is_the_body_part_it_was_read_from() {
        let body = Bytes::from(b"  {\"a\": [1, 2], \"b\": \"\xc3\xa9\"}\n".to_vec());
        let text = std::str::from_utf8(&body).unwrap();
        let shared = Raw::parsed_json_shared(&body, text);
        assert!(
            matches!(&shared.0, Repr::Text { text: Text::Shared(b), parsed: true } if b.as_ptr() == body.as_ptr())
        );
        assert_eq!(shared, Raw::parsed_json_text(text));
        assert_eq!(shared.as_json_text(), Some(text));
        assert_eq!(shared.text_len(), Some(body.len()));
        assert_eq!(shared.parsed_bytes(), Some(text.trim().as_bytes()));
        assert_eq!(shared.to_value().unwrap(), json!({"a": [1, 2], "b": "é"}));
        assert_eq!(shared, json!({"a": [1, 2], "b": "é"}));
        assert_eq!(shared.to_string(), text);
        assert_eq!(format!("{shared:?}"), format!("Raw({text:?})"));
        assert_eq!(
            serde_json::to_string(&shared).unwrap(),
            serde_json::to_string(&Raw::parsed_json_text(text)).unwrap()
        );
        // A part of the body: the bytes of that part only.
        let inner = text.trim();
        let part = Raw::parsed_json_shared(&body, inner);
        assert!(
            matches!(&part.0, Repr::Text { text: Text::Shared(b), .. } if b.as_ptr() == inner.as_ptr())
        );
        assert_eq!(part.as_json_text(), Some(inner));
        // Text from anywhere else is copied.
        let elsewhere = String::from(inner);
        let copied = Raw::parsed_json_shared(&body, &elsewhere);
        assert!(matches!(
            &copied.0,
            Repr::Text {
                text: Text::Owned(_),
                ..
            }
        ));
        assert_eq!(copied.as_json_text(), Some(inner));
        assert_eq!(
            shared.clone().into_value().unwrap(),
            part.to_value().unwrap()
        );
    }

    #[test]
    fn text_serializes_verbatim_and_is_checked() {
        let body = " {\"k\" : \"v\\n\", \"n\": 1.50} \n";
        let raw = Raw::json_text(body);
        assert_eq!(
            serde_json::to_string(&raw).unwrap(),
            "{\"k\" : \"v\\n\", \"n\": 1.50}"
        );
        assert_eq!(
            serde_json::to_value(&raw).unwrap(),
            json!({"k": "v\n", "n": 1.5})
        );
        // A JSON document may hold an unpaired surrogate escape: written as it came, but it has
        // no `Value`.
        let surrogate = Raw::json_text("{\"a\": \"\\ud800\"}");
        assert_eq!(
            serde_json::to_string(&surrogate).unwrap(),
            "{\"a\": \"\\ud800\"}"
        );
        assert!(surrogate.to_value().is_err());
        for bad in ["", "{", "{} {}", "{\"a\": 1,}", "nul"] {
            assert!(
                serde_json::to_string(&Raw::json_text(bad)).is_err(),
                "{bad:?}"
            );
            assert!(Raw::json_text(bad).to_value().is_err(), "{bad:?}");
        }
    }

    #[derive(Debug)]
    struct Pairs(Vec<(&'static str, &'static str)>);

    impl RawJson for Pairs {
        fn to_json(&self) -> Value {
            Value::Object(
                self.0
                    .iter()
                    .map(|(k, v)| (k.to_string(), Value::from(*v)))
                    .collect(),
            )
        }
    }

    #[test]
    fn deferred_payloads_become_json_when_read() {
        let raw = Raw::deferred(Arc::new(Pairs(vec![("b", "2"), ("a", "1")])));
        assert_eq!(raw, json!({"a": "1", "b": "2"}));
        assert_eq!(raw, Raw::json_text("{\"b\": \"2\", \"a\": \"1\"}"));
        assert_eq!(
            serde_json::to_string(&raw).unwrap(),
            "{\"a\":\"1\",\"b\":\"2\"}"
        );
        assert_eq!(raw.to_string(), "{\"a\":\"1\",\"b\":\"2\"}");
        assert!(raw.as_json_text().is_none() && raw.as_value().is_none());
        assert_eq!(
            raw.clone().into_value().unwrap(),
            json!({"a": "1", "b": "2"})
        );
        assert!(format!("{raw:?}").starts_with("Raw(Pairs("));
    }

    #[test]
    fn deserializes_from_any_json() {
        let raw: Raw = serde_json::from_str("{\"x\": [true, null]}").unwrap();
        assert_eq!(raw.as_value(), Some(&json!({"x": [true, null]})));
        let raw: Raw = serde_json::from_value(json!("s")).unwrap();
        assert_eq!(raw, json!("s"));
        assert_eq!(format!("{:?}", Raw::json_text("{}")), "Raw(\"{}\")");
        assert_eq!(Raw::json_text("{ }").to_string(), "{ }");
        assert_eq!(Raw::from(json!({"a": 1})).to_string(), "{\"a\":1}");
    }
}
