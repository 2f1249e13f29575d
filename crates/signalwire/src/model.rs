//! Typed SignalWire payloads: what webhooks carry (form parameters) and what the
//! Compatibility REST API answers (JSON).
//!
//! Webhook types keep every parameter as received in [`Params`] (the provider adds
//! parameters; none is dropped). API types read the fields this crate uses and ignore the
//! others on purpose; the untouched JSON travels in receipts' and events' `raw`.

use std::sync::Arc;

use serde::{Deserialize, Deserializer, Serialize};
use serde_json::Value;

use omnichannel_core::{Error, RawJson, Result};

/// Webhook parameters in the order received; a name may repeat.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Params(pub Vec<(String, String)>);

impl Params {
    /// Parameters from name/value pairs, in order.
    pub fn from_pairs(pairs: &[(&str, &str)]) -> Self {
        Params(
            pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        )
    }

    /// The first value of a parameter.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// The first value of a parameter that must be present and not empty.
    pub fn require(&self, name: &str) -> Result<&str> {
        self.get(name)
            .filter(|v| !v.is_empty())
            .ok_or_else(|| Error::malformed(format!("parameter `{name}` is missing")))
    }

    /// Number of parameters.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether there is none.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// As a JSON object (the `raw` of events); a repeated name becomes an array in order.
    pub fn to_json(&self) -> Value {
        let mut map = serde_json::Map::new();
        for (k, v) in &self.0 {
            let v = Value::String(v.clone());
            match map.get_mut(k) {
                Some(Value::Array(a)) => a.push(v),
                Some(existing) => {
                    let first = existing.take();
                    *existing = Value::Array(vec![first, v]);
                }
                None => {
                    map.insert(k.clone(), v);
                }
            }
        }
        Value::Object(map)
    }
}

/// Events keep their parameters as received; their JSON (`raw`) is built when it is read.
impl RawJson for Params {
    fn to_json(&self) -> Value {
        Params::to_json(self)
    }
}

/// One medium of an inbound MMS (`MediaUrl{N}`, `MediaContentType{N}`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InboundMedia {
    /// Zero-based index `N`.
    pub index: usize,
    /// Where to fetch it ("publicly available but unguessable", or protected by the
    /// project's credentials when Media URL Protection is on).
    pub url: String,
    /// Its content type, when given.
    pub content_type: Option<String>,
}

/// An inbound SMS or MMS (the number's `SmsUrl` webhook).
#[derive(Debug, Clone, PartialEq)]
pub struct InboundMessage {
    /// `MessageSid` (or `SmsSid` when only that is given).
    pub message_sid: String,
    /// `AccountSid`: the project id.
    pub account_sid: Option<String>,
    /// The contact's number.
    pub from: String,
    /// Our number.
    pub to: String,
    /// `Body` (may be empty for an MMS).
    pub body: Option<String>,
    /// `NumMedia`.
    pub num_media: usize,
    /// `NumSegments`, when given.
    pub num_segments: Option<u32>,
    /// Media in index order, at most the channel's `max_media`.
    pub media: Vec<InboundMedia>,
    /// Whether `NumMedia` was larger than the media kept.
    pub media_truncated: bool,
    /// Every parameter as received.
    pub params: Arc<Params>,
}

/// `MessageStatus` of a status callback.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum MessageStatus {
    /// `queued`: accepted, waiting to be sent.
    Queued,
    /// `initiated`.
    Initiated,
    /// `accepted`.
    Accepted,
    /// `scheduled`.
    Scheduled,
    /// `sending`: on its way to the upstream carrier.
    Sending,
    /// `sent`: the carrier took it (MMS never gets further).
    Sent,
    /// `delivered`: a delivery receipt came back.
    Delivered,
    /// `read`.
    Read,
    /// `undelivered`: the carrier reported it was not delivered.
    Undelivered,
    /// `failed`: SignalWire could not send it.
    Failed,
    /// `canceled`.
    Canceled,
    /// `receiving` (inbound).
    Receiving,
    /// `received` (inbound).
    Received,
    /// Anything else, as given.
    Other(String),
}

impl MessageStatus {
    /// From the parameter value (case-insensitive).
    pub fn parse(s: &str) -> Self {
        match s.trim().to_ascii_lowercase().as_str() {
            "queued" => Self::Queued,
            "initiated" => Self::Initiated,
            "accepted" => Self::Accepted,
            "scheduled" => Self::Scheduled,
            "sending" => Self::Sending,
            "sent" => Self::Sent,
            "delivered" => Self::Delivered,
            "read" => Self::Read,
            "undelivered" => Self::Undelivered,
            "failed" => Self::Failed,
            "canceled" | "cancelled" => Self::Canceled,
            "receiving" => Self::Receiving,
            "received" => Self::Received,
            _ => Self::Other(s.to_string()),
        }
    }
}

/// A status callback (the message's `StatusCallback` webhook).
#[derive(Debug, Clone, PartialEq)]
pub struct StatusCallback {
    /// `MessageSid`.
    pub message_sid: String,
    /// `AccountSid`.
    pub account_sid: Option<String>,
    /// Our number.
    pub from: Option<String>,
    /// The contact's number.
    pub to: Option<String>,
    /// `MessageStatus`, parsed.
    pub status: MessageStatus,
    /// `MessageStatus` as received.
    pub status_raw: String,
    /// `ErrorCode` (given for failed and undelivered messages).
    pub error_code: Option<String>,
    /// `ErrorMessage`, when given.
    pub error_message: Option<String>,
    /// Every parameter as received.
    pub params: Arc<Params>,
}

/// What a SignalWire webhook carries.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum SignalwireEvent {
    /// An inbound SMS/MMS.
    Message(InboundMessage),
    /// A status callback of a message we sent.
    Status(StatusCallback),
}

fn non_empty(v: Option<&str>) -> Option<String> {
    v.filter(|s| !s.is_empty()).map(str::to_string)
}

impl SignalwireEvent {
    /// Reads webhook parameters: a `MessageStatus` makes a status callback, anything else an
    /// inbound message. Media beyond `max_media` are not turned into [`InboundMedia`].
    pub fn from_params(params: impl Into<Arc<Params>>, max_media: usize) -> Result<Self> {
        let params: Arc<Params> = params.into();
        if let Some(status) = params.get("MessageStatus") {
            let message_sid = params.require("MessageSid")?.to_string();
            return Ok(SignalwireEvent::Status(StatusCallback {
                message_sid,
                account_sid: non_empty(params.get("AccountSid")),
                from: non_empty(params.get("From")),
                to: non_empty(params.get("To")),
                status: MessageStatus::parse(status),
                status_raw: status.to_string(),
                error_code: non_empty(params.get("ErrorCode")),
                error_message: non_empty(params.get("ErrorMessage")),
                params,
            }));
        }
        let message_sid = match params.get("MessageSid").filter(|s| !s.is_empty()) {
            Some(s) => s.to_string(),
            None => params.require("SmsSid")?.to_string(),
        };
        let from = params.require("From")?.to_string();
        let to = params.require("To")?.to_string();
        let num_media = match params.get("NumMedia").map(str::trim) {
            None | Some("") => 0,
            Some(n) => n
                .parse::<usize>()
                .map_err(|_| Error::malformed("parameter `NumMedia` is not a count"))?,
        };
        let num_segments = match params.get("NumSegments").map(str::trim) {
            None | Some("") => None,
            Some(n) => Some(
                n.parse::<u32>()
                    .map_err(|_| Error::malformed("parameter `NumSegments` is not a count"))?,
            ),
        };
        let kept = num_media.min(max_media);
        let mut media = Vec::with_capacity(kept);
        for index in 0..kept {
            let url = params
                .get(&format!("MediaUrl{index}"))
                .filter(|u| !u.is_empty())
                .ok_or_else(|| {
                    Error::malformed(format!(
                        "parameter `MediaUrl{index}` is missing (NumMedia is {num_media})"
                    ))
                })?
                .to_string();
            media.push(InboundMedia {
                index,
                url,
                content_type: non_empty(params.get(&format!("MediaContentType{index}"))),
            });
        }
        Ok(SignalwireEvent::Message(InboundMessage {
            message_sid,
            account_sid: non_empty(params.get("AccountSid")),
            from,
            to,
            body: params.get("Body").map(str::to_string),
            num_media,
            num_segments,
            media,
            media_truncated: num_media > kept,
            params,
        }))
    }

    /// The parameters as received.
    pub fn params(&self) -> &Params {
        match self {
            SignalwireEvent::Message(m) => &m.params,
            SignalwireEvent::Status(s) => &s.params,
        }
    }
}

/// An integer or a string, read as a string (SignalWire error codes come both ways).
pub fn int_or_string<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    Ok(match Option::<Value>::deserialize(d)? {
        Some(Value::String(s)) if !s.is_empty() => Some(s),
        Some(Value::Number(n)) => Some(n.to_string()),
        _ => None,
    })
}

/// A count given as an integer or a string (`"1"`).
pub fn lenient_u64<'de, D: Deserializer<'de>>(d: D) -> Result<Option<u64>, D::Error> {
    Ok(match Option::<Value>::deserialize(d)? {
        Some(Value::Number(n)) => n.as_u64(),
        Some(Value::String(s)) => s.trim().parse().ok(),
        _ => None,
    })
}

/// A Message resource of the Compatibility API (create, fetch, list).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct ApiMessage {
    /// Message id (a UUID at SignalWire; do not assume a prefix).
    #[serde(default)]
    pub sid: String,
    /// Project id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub account_sid: Option<String>,
    /// Sender.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from: Option<String>,
    /// Recipient.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub to: Option<String>,
    /// Text (null when filtered).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body: Option<String>,
    /// `queued`, `sent`, `delivered`, ...
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<String>,
    /// `inbound`, `outbound-api`, `outbound-call`, `outbound-reply`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub direction: Option<String>,
    /// Media count.
    #[serde(
        default,
        deserialize_with = "lenient_u64",
        skip_serializing_if = "Option::is_none"
    )]
    pub num_media: Option<u64>,
    /// Segment count.
    #[serde(
        default,
        deserialize_with = "lenient_u64",
        skip_serializing_if = "Option::is_none"
    )]
    pub num_segments: Option<u64>,
    /// Error code (string or integer in the wild).
    #[serde(
        default,
        deserialize_with = "int_or_string",
        skip_serializing_if = "Option::is_none"
    )]
    pub error_code: Option<String>,
    /// Error message.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error_message: Option<String>,
    /// RFC 2822 creation date.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub date_created: Option<String>,
    /// RFC 2822 update date.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub date_updated: Option<String>,
    /// RFC 2822 send date (null until sent).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub date_sent: Option<String>,
    /// The resource path.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub uri: Option<String>,
}

/// One page of `GET .../Messages.json`.
#[derive(Debug, Clone, PartialEq, Default, Deserialize)]
pub struct MessagePage {
    /// The messages of this page.
    #[serde(default)]
    pub messages: Vec<ApiMessage>,
    /// Path of the next page; null or empty at the end.
    #[serde(default)]
    pub next_page_uri: Option<String>,
    /// Page number.
    #[serde(default, deserialize_with = "lenient_u64")]
    pub page: Option<u64>,
    /// Page size.
    #[serde(default, deserialize_with = "lenient_u64")]
    pub page_size: Option<u64>,
}

/// A Media resource (`GET .../Messages/{sid}/Media.json`).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct ApiMedia {
    /// Media id.
    #[serde(default)]
    pub sid: String,
    /// The message it belongs to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parent_sid: Option<String>,
    /// Its content type.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content_type: Option<String>,
    /// The resource path (`.../Media/{sid}.json`); the bytes are at the same path without
    /// `.json`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub uri: Option<String>,
    /// RFC 2822 creation date.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub date_created: Option<String>,
}

/// One page of a media listing.
#[derive(Debug, Clone, PartialEq, Default, Deserialize)]
pub struct MediaPage {
    /// The media of this page.
    #[serde(default)]
    pub media_list: Vec<ApiMedia>,
    /// Path of the next page; null or empty at the end.
    #[serde(default)]
    pub next_page_uri: Option<String>,
}

/// The error body of the Compatibility API: `{"code", "message", "more_info", "status"}`.
#[derive(Debug, Clone, PartialEq, Default, Deserialize)]
pub struct ApiError {
    /// The error code, an integer or a string (`21610`, `"21717"`).
    #[serde(default, deserialize_with = "int_or_string")]
    pub code: Option<String>,
    /// The message.
    #[serde(default)]
    pub message: Option<String>,
    /// A documentation link.
    #[serde(default)]
    pub more_info: Option<String>,
    /// The HTTP status repeated.
    #[serde(default, deserialize_with = "lenient_u64")]
    pub status: Option<u64>,
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use omnichannel_core::Raw;
    use serde_json::json;

    fn p(pairs: &[(&str, &str)]) -> Params {
        Params::from_pairs(pairs)
    }

    #[test]
    fn error_code_int_or_string() {
        let a: ApiError = serde_json::from_value(json!({"code": 21610, "message": "x"})).unwrap();
        let b: ApiError = serde_json::from_value(json!({"code": "21717", "status": 400})).unwrap();
        assert_eq!(a.code.as_deref(), Some("21610"));
        assert_eq!(b.code.as_deref(), Some("21717"));
        assert_eq!(b.status, Some(400));
        let m: ApiMessage =
            serde_json::from_value(json!({"sid": "s", "error_code": 30004, "num_segments": "2"}))
                .unwrap();
        assert_eq!(m.error_code.as_deref(), Some("30004"));
        assert_eq!(m.num_segments, Some(2));
    }

    #[test]
    fn media_in_index_order_and_bounded() {
        let mut pairs = vec![
            ("MessageSid", "m"),
            ("From", "+1"),
            ("To", "+2"),
            ("NumMedia", "3"),
        ];
        pairs.extend([
            ("MediaUrl2", "u2"),
            ("MediaUrl0", "u0"),
            ("MediaUrl1", "u1"),
        ]);
        let SignalwireEvent::Message(m) = SignalwireEvent::from_params(p(&pairs), 2).unwrap()
        else {
            panic!("not a message")
        };
        assert_eq!(
            m.media.iter().map(|x| x.url.as_str()).collect::<Vec<_>>(),
            ["u0", "u1"]
        );
        assert!(m.media_truncated);
    }

    #[test]
    fn parse_refusals() {
        let e =
            SignalwireEvent::from_params(p(&[("MessageSid", "m"), ("To", "+2")]), 10).unwrap_err();
        assert_eq!(e.kind(), "malformed_payload");
        assert!(e.to_string().contains("From"));
        let e = SignalwireEvent::from_params(
            p(&[
                ("MessageSid", "m"),
                ("From", "+1"),
                ("To", "+2"),
                ("NumMedia", "x"),
            ]),
            10,
        )
        .unwrap_err();
        assert!(e.to_string().contains("NumMedia"));
        let e = SignalwireEvent::from_params(
            p(&[
                ("MessageSid", "m"),
                ("From", "+1"),
                ("To", "+2"),
                ("NumMedia", "1"),
            ]),
            10,
        )
        .unwrap_err();
        assert!(e.to_string().contains("MediaUrl0"));
    }

    #[test]
    fn repeated_params_become_arrays_in_raw() {
        assert_eq!(
            p(&[("a", "1"), ("b", "2"), ("a", "3")]).to_json(),
            json!({"a": ["1", "3"], "b": "2"})
        );
    }

    /// The parameters kept in `raw` read as the tree of [`Params::to_json`].
    #[test]
    fn deferred_raw_is_the_json_of_the_parameters() {
        let params = std::sync::Arc::new(p(&[("b", "2"), ("a", "x \"y\"\n"), ("b", "3")]));
        let raw = Raw::deferred(params.clone());
        assert_eq!(raw, json!({"a": "x \"y\"\n", "b": ["2", "3"]}));
        assert_eq!(raw.to_value().unwrap(), params.to_json());
    }
}
