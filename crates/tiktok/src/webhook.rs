//! Webhooks: verify the `Tiktok-Signature` header, parse the envelope and its inner `content`
//! document, and the signer that tests, fixtures and `simulate` use.
//!
//! Scheme (spec `tiktok.md` 4.3, decisions in `specs/README.md`): the header is
//! `t=<unix seconds>,s=<hex>` (parts may carry spaces), `s` is the lowercase hex
//! HMAC-SHA256(app secret, `"<t>." + raw body`), and `t` must be within the tolerance of now,
//! both ways.

use std::borrow::Cow;

use bytes::Bytes;
use chrono::{DateTime, Utc};
use http::{HeaderMap, HeaderName, HeaderValue, Method};
use omnichannel_core::json::nested::{self, InString};
use omnichannel_core::signature::{self, Algorithm};
use omnichannel_core::webhook::header_text;
use omnichannel_core::{Error, JsonFault, Raw, Result, SigningKeys, VerifyError, WebhookRequest};
use sha2::Digest as _;

use crate::model::{
    ImageBody, MessageContent, MessageEvent, OtherEvent, ReadContent, ReadEvent, ReadInfo,
    ReferencedMessageInfo, SharePost, TextBody, TiktokEvent, UserRef,
};

/// The signature header.
pub const SIGNATURE_HEADER: &str = "Tiktok-Signature";

/// [`SIGNATURE_HEADER`] as a header name, made once (a `&str` is parsed on every lookup).
const SIGNATURE_HEADER_NAME: HeaderName = HeaderName::from_static("tiktok-signature");

/// Longest signature header accepted.
const MAX_HEADER_CHARS: usize = 1024;

/// Event names.
pub mod events {
    /// The contact sent a message.
    pub const RECEIVE: &str = "im_receive_msg";
    /// The business sent a message (API echo or TikTok app).
    pub const SEND: &str = "im_send_msg";
    /// The contact read the conversation.
    pub const MARK_READ: &str = "im_mark_read_msg";
    /// A message from an EEA/CH/UK user (no content; kept as `other`).
    pub const RECEIVE_EU: &str = "im_receive_msg_eu";
}

/// The parts of a `Tiktok-Signature` header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SignatureHeader<'a> {
    /// The signed time, Unix seconds.
    pub timestamp: i64,
    /// The hex signature as sent.
    pub signature: &'a str,
}

/// Parses `t=<secs>,s=<hex>`; spaces around parts, keys and values are ignored, unknown keys
/// are skipped, a repeated `t` or `s` is refused.
pub fn parse_signature_header(value: &str) -> Result<SignatureHeader<'_>, VerifyError> {
    let malformed = |reason| VerifyError::MalformedHeader {
        header: SIGNATURE_HEADER,
        reason,
    };
    if value.len() > MAX_HEADER_CHARS {
        return Err(malformed("header too long"));
    }
    let mut t = None;
    let mut s = None;
    // By bytes: `,` and `=` are ASCII, so every cut below falls on a character boundary (the
    // `get`s cannot fail), and no `str` searcher is set up for a header of a few dozen bytes.
    let bytes = value.as_bytes();
    let mut start = 0;
    while start <= bytes.len() {
        let end = bytes
            .get(start..)
            .and_then(|rest| rest.iter().position(|&b| b == b','))
            .map_or(bytes.len(), |i| start + i);
        let part = value.get(start..end).unwrap_or_default().trim();
        start = end + 1;
        if part.is_empty() {
            continue;
        }
        let eq = part
            .bytes()
            .position(|b| b == b'=')
            .ok_or(malformed("part without `=`"))?;
        let (k, v) = (
            part.get(..eq).unwrap_or_default(),
            part.get(eq + 1..).unwrap_or_default(),
        );
        let slot = match k.trim() {
            "t" => &mut t,
            "s" => &mut s,
            _ => continue,
        };
        if slot.replace(v.trim()).is_some() {
            return Err(malformed("`t` or `s` given twice"));
        }
    }
    let t = t.ok_or(malformed("no timestamp `t`"))?;
    let s = s.ok_or(malformed("no signature `s`"))?;
    Ok(SignatureHeader {
        timestamp: signature::parse_timestamp(SIGNATURE_HEADER, t)?,
        signature: s,
    })
}

/// The header as TikTok writes it, `t=<1 to 18 digits>,s=<64 hex digits>`, read straight from
/// its bytes; `None` for any other form (spaces, other keys, another order, a longer number),
/// which [`parse_signature_header`] then reads from the header's text. For a header of this
/// form the two give the same answer (a property test holds them to it); this one skips the
/// text check of the whole value, the general parse and the number parser.
fn usual_signature_header(value: &[u8]) -> Option<SignatureHeader<'_>> {
    let rest = value.strip_prefix(b"t=")?;
    let digits = rest.iter().take_while(|b| b.is_ascii_digit()).count();
    if !(1..=18).contains(&digits) {
        return None;
    }
    let (t, rest) = rest.split_at_checked(digits)?;
    let hex = rest.strip_prefix(b",s=")?;
    if hex.len() != 64 || !hex.iter().all(u8::is_ascii_hexdigit) {
        return None;
    }
    // At most 18 digits: below `i64::MAX`, no overflow.
    let timestamp = t.iter().fold(0i64, |n, &d| n * 10 + i64::from(d - b'0'));
    Some(SignatureHeader {
        timestamp,
        signature: std::str::from_utf8(hex).ok()?,
    })
}

/// Verifies a request's signature and timestamp at `now` against every key (rotation), in
/// constant time. Checks the body limit first.
pub fn verify_request(
    keys: &SigningKeys,
    tolerance: std::time::Duration,
    max_body_bytes: usize,
    req: &WebhookRequest,
    now: DateTime<Utc>,
) -> Result<(), VerifyError> {
    req.check_body_limit(max_body_bytes)?;
    let value = req
        .header_value_by(&SIGNATURE_HEADER_NAME, SIGNATURE_HEADER)?
        .ok_or(VerifyError::MissingHeader {
            header: SIGNATURE_HEADER,
        })?;
    let parsed = match usual_signature_header(value.as_bytes()) {
        Some(parsed) => parsed,
        None => parse_signature_header(header_text(value, SIGNATURE_HEADER)?)?,
    };
    let mut t = itoa::Buffer::new();
    signature::verify_hex(
        Algorithm::Sha256,
        keys,
        SIGNATURE_HEADER,
        &[t.format(parsed.timestamp).as_bytes(), b".", &req.body],
        parsed.signature,
    )?;
    signature::check_window(parsed.timestamp, now, tolerance)
}

/// The `Tiktok-Signature` value TikTok would send for `body` at `timestamp` (primary key).
pub fn sign(keys: &SigningKeys, timestamp: i64, body: &[u8]) -> String {
    let t = timestamp.to_string();
    let s = signature::sign_hex(Algorithm::Sha256, keys, &[t.as_bytes(), b".", body]);
    format!("t={t},s={s}")
}

/// A signed request as TikTok would POST it to `url` at `at`.
pub fn sign_request(
    keys: &SigningKeys,
    url: &str,
    body: impl Into<Bytes>,
    at: DateTime<Utc>,
) -> Result<WebhookRequest> {
    let body = body.into();
    let mut headers = HeaderMap::new();
    headers.insert(
        http::header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    let value = HeaderValue::from_str(&sign(keys, at.timestamp(), &body))
        .map_err(|_| Error::invalid_input("body", "cannot build the signature header"))?;
    headers.insert(SIGNATURE_HEADER, value);
    Ok(WebhookRequest::new(Method::POST, url, headers, body))
}

/// A JSON parse error without any part of the document (serde messages may quote values).
pub(crate) fn json_error(what: &str, e: &serde_json::Error) -> Error {
    let detail = match JsonFault::of(e) {
        JsonFault::MissingField(m) => m,
        JsonFault::UnknownVariant | JsonFault::WrongValue => "unexpected value type".to_string(),
        JsonFault::Eof => "unexpected end".to_string(),
        JsonFault::Syntax => "invalid JSON".to_string(),
        JsonFault::Io => "read error".to_string(),
    };
    Error::malformed(format!(
        "{what}: {detail} (line {}, column {})",
        e.line(),
        e.column()
    ))
}

/// The envelope as read on the webhook path: strings borrowed from the body where they have no
/// escapes; `content` of the reading's own type: the plain reading's [`Content`] (the string it
/// should be, or an object, accepted too), or the one-pass reading's document in its string.
#[derive(serde::Deserialize)]
struct Envelope<'a, C> {
    #[serde(borrow)]
    event: Cow<'a, str>,
    #[serde(default)]
    create_time: Option<i64>,
    #[serde(default, borrow)]
    user_openid: Option<Cow<'a, str>>,
    // `Option::default` (absent: `None`) puts no `Default` bound on `C`.
    #[serde(default = "Option::default")]
    content: Option<C>,
}

/// The envelope's `content`: a JSON document inside a string, or (accepted too) an object.
enum Content<'a> {
    /// The string, unescaped.
    Text(Cow<'a, str>),
    /// An object.
    Object(serde_json::Value),
    /// Anything else (an array, a number, a boolean): skipped.
    Neither,
}

impl<'de: 'a, 'a> serde::Deserialize<'de> for Content<'a> {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        struct V<'a>(std::marker::PhantomData<&'a ()>);
        impl<'de: 'a, 'a> serde::de::Visitor<'de> for V<'a> {
            type Value = Content<'a>;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a JSON string or object")
            }
            fn visit_borrowed_str<E>(self, v: &'de str) -> std::result::Result<Self::Value, E> {
                Ok(Content::Text(Cow::Borrowed(v)))
            }
            fn visit_str<E>(self, v: &str) -> std::result::Result<Self::Value, E> {
                Ok(Content::Text(Cow::Owned(v.to_string())))
            }
            fn visit_string<E>(self, v: String) -> std::result::Result<Self::Value, E> {
                Ok(Content::Text(Cow::Owned(v)))
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                map: A,
            ) -> std::result::Result<Self::Value, A::Error> {
                serde::Deserialize::deserialize(serde::de::value::MapAccessDeserializer::new(map))
                    .map(Content::Object)
            }
            fn visit_seq<A: serde::de::SeqAccess<'de>>(
                self,
                seq: A,
            ) -> std::result::Result<Self::Value, A::Error> {
                serde::de::IgnoredAny
                    .visit_seq(seq)
                    .map(|_| Content::Neither)
            }
            fn visit_bool<E>(self, _: bool) -> std::result::Result<Self::Value, E> {
                Ok(Content::Neither)
            }
            fn visit_i64<E>(self, _: i64) -> std::result::Result<Self::Value, E> {
                Ok(Content::Neither)
            }
            fn visit_u64<E>(self, _: u64) -> std::result::Result<Self::Value, E> {
                Ok(Content::Neither)
            }
            fn visit_f64<E>(self, _: f64) -> std::result::Result<Self::Value, E> {
                Ok(Content::Neither)
            }
        }
        d.deserialize_any(V(std::marker::PhantomData))
    }
}

/// A fault of the envelope: a body that is not JSON, or an envelope of the wrong shape.
fn envelope_error(e: &serde_json::Error) -> Error {
    match JsonFault::of(e) {
        JsonFault::Syntax | JsonFault::Eof | JsonFault::Io => json_error("body", e),
        _ => json_error("envelope", e),
    }
}

/// The inner `content` document: a JSON string parsed a second time (an object is taken as is).
fn inner<T: serde::de::DeserializeOwned>(content: Option<&Content<'_>>, event: &str) -> Result<T> {
    let content_error = |e: serde_json::Error| json_error(&format!("{event} content"), &e);
    match content {
        Some(Content::Text(text)) => serde_json::from_str(text).map_err(content_error),
        Some(Content::Object(v)) => T::deserialize(v).map_err(content_error),
        Some(Content::Neither) => Err(Error::malformed(format!(
            "{event} content: neither a JSON string nor an object"
        ))),
        None => Err(Error::malformed(format!("{event}: `content` is missing"))),
    }
}

/// The `message_id` an event's content names, if it has one (for ids of events this crate does
/// not interpret).
fn content_message_id(content: Option<&Content<'_>>) -> Option<String> {
    let id = match content? {
        Content::Text(text) => serde_json::from_str::<serde_json::Value>(text)
            .ok()?
            .get("message_id")?
            .as_str()?
            .to_string(),
        Content::Object(v) => v.get("message_id")?.as_str()?.to_string(),
        Content::Neither => return None,
    };
    (!id.is_empty()).then_some(id)
}

/// Parses a verified body into a typed event. Unknown events are [`TiktokEvent::Other`], never an
/// error; a known event whose `content` is malformed is `malformed_payload`.
///
/// The body is read once: messages and read receipts of the usual shape have their `content`
/// read with the envelope, straight from its escaped text ([`omnichannel_core::json::nested`]),
/// without unescaping it into a buffer first. Any other body is read the plain way (the
/// envelope, then `content` parsed a second time), which gives the exact answer or error. The
/// envelope is kept as its text in `raw`; no tree of it is built.
pub fn parse(body: &[u8]) -> Result<TiktokEvent> {
    parse_request(&Bytes::copy_from_slice(body))
}

/// [`parse`] of a request's body, whose events keep a handle on the body's buffer as their
/// `raw` instead of a copy of it ([`Raw::parsed_json_shared`]).
pub(crate) fn parse_request(body: &Bytes) -> Result<TiktokEvent> {
    let src = Source::of(body)?;
    match parse_usual(src) {
        Some(event) => Ok(event),
        None => plain(src),
    }
}

/// A body and its text.
#[derive(Clone, Copy)]
struct Source<'a> {
    body: &'a Bytes,
    text: &'a str,
}

impl<'a> Source<'a> {
    fn of(body: &'a Bytes) -> Result<Self> {
        let text = omnichannel_core::utf8::to_str(body)
            .ok_or_else(|| Error::malformed("body: not UTF-8 text".to_string()))?;
        Ok(Source { body, text })
    }

    /// The body as an event's `raw` (the text was parsed, all of it, as one JSON document).
    fn raw(self) -> Raw {
        Raw::parsed_json_shared(self.body, self.text)
    }
}

/// The fields of both [`MessageContent`] and [`ReadContent`]: the envelope's `event` may come
/// after its `content` (JSON writers that sort keys put it there), so `content` is read before
/// its type is known, then made the event's content.
#[derive(serde::Deserialize)]
struct AnyContent {
    #[serde(default)]
    conversation_id: Option<String>,
    #[serde(default)]
    message_id: Option<String>,
    #[serde(default)]
    timestamp: Option<i64>,
    #[serde(default, rename = "type")]
    message_type: Option<String>,
    #[serde(default)]
    text: Option<TextBody>,
    #[serde(default)]
    image: Option<ImageBody>,
    #[serde(default)]
    share_post: Option<SharePost>,
    #[serde(default)]
    referenced_message_info: Option<ReferencedMessageInfo>,
    #[serde(default)]
    from: Option<String>,
    #[serde(default)]
    from_user: Option<UserRef>,
    #[serde(default)]
    to: Option<String>,
    #[serde(default)]
    to_user: Option<UserRef>,
    #[serde(default)]
    read: Option<ReadInfo>,
}

impl AnyContent {
    /// The content of a message, if it has the fields a message must have.
    fn into_message(self) -> Option<MessageContent> {
        Some(MessageContent {
            conversation_id: self.conversation_id?,
            message_id: self.message_id?,
            timestamp: self.timestamp,
            message_type: self.message_type?,
            text: self.text,
            image: self.image,
            share_post: self.share_post,
            referenced_message_info: self.referenced_message_info,
            from: self.from,
            from_user: self.from_user,
            to: self.to,
            to_user: self.to_user,
        })
    }

    /// The content of a read receipt, if it has the fields one must have.
    fn into_read(self) -> Option<ReadContent> {
        Some(ReadContent {
            conversation_id: self.conversation_id?,
            read: self.read?,
            from_user: self.from_user,
        })
    }
}

/// A message or read receipt of the usual shape, read in one pass with `content` straight from
/// its escaped text ([`omnichannel_core::json::nested`]); `None` for any other body (other
/// events, `content` given as an object or missing, anything unusual or wrong), which
/// [`parse_plain`] then reads.
fn parse_usual(src: Source<'_>) -> Option<TiktokEvent> {
    let env: Envelope<'_, InString<AnyContent>> = nested::from_str(src.text)?;
    let event = env.event.as_ref();
    let content = env.content?.0;
    match event {
        events::RECEIVE | events::SEND => message_event(
            event,
            env.user_openid,
            env.create_time,
            content.into_message()?,
            src,
        )
        .ok(),
        events::MARK_READ => Some(TiktokEvent::Read(ReadEvent {
            business_id: env.user_openid.map(Cow::into_owned),
            create_time: env.create_time,
            content: content.into_read()?,
            raw: src.raw(),
        })),
        _ => None,
    }
}

/// A message event from its read parts, after the checks every message passes.
fn message_event(
    event: &str,
    business_id: Option<Cow<'_, str>>,
    create_time: Option<i64>,
    content: MessageContent,
    src: Source<'_>,
) -> Result<TiktokEvent> {
    if content.message_id.is_empty() || content.conversation_id.is_empty() {
        return Err(Error::malformed(format!(
            "{event} content: empty `message_id` or `conversation_id`"
        )));
    }
    let missing = match content.message_type.as_str() {
        "text" if content.text.is_none() => Some("text"),
        "image" if content.image.is_none() => Some("image"),
        "share_post" if content.share_post.is_none() => Some("share_post"),
        _ => None,
    };
    if let Some(field) = missing {
        return Err(Error::malformed(format!(
            "{event} content: type `{field}` without its `{field}` object"
        )));
    }
    Ok(TiktokEvent::Message(Box::new(MessageEvent {
        echo: event == events::SEND,
        business_id: business_id.map(Cow::into_owned),
        create_time,
        content,
        raw: src.raw(),
    })))
}

/// The plain reading of a body, without [`parse`]'s one-pass path: the envelope, then its
/// `content` parsed a second time. It gives the same answer as [`parse`] for every body (the
/// tests and the fuzz target compare the two), only slower for messages; [`parse`] uses it for
/// the bodies its one pass leaves, and for every wrong one (its errors are the exact ones).
pub fn parse_plain(body: &[u8]) -> Result<TiktokEvent> {
    plain(Source::of(&Bytes::copy_from_slice(body))?)
}

/// [`parse_plain`] of a body already checked to be UTF-8 text.
fn plain(src: Source<'_>) -> Result<TiktokEvent> {
    let env: Envelope<'_, Content<'_>> =
        serde_json::from_str(src.text).map_err(|e| envelope_error(&e))?;
    let raw = || src.raw();
    let event = env.event.as_ref();
    let ev = match event {
        events::RECEIVE | events::SEND => {
            let content: MessageContent = inner(env.content.as_ref(), event)?;
            message_event(event, env.user_openid, env.create_time, content, src)?
        }
        events::MARK_READ => {
            let content: ReadContent = inner(env.content.as_ref(), event)?;
            TiktokEvent::Read(ReadEvent {
                business_id: env.user_openid.map(Cow::into_owned),
                create_time: env.create_time,
                content,
                raw: raw(),
            })
        }
        _ => {
            let id = match content_message_id(env.content.as_ref()) {
                Some(m) => format!("{event}:{m}"),
                None => {
                    let digest = hex::encode(sha2::Sha256::digest(src.body));
                    format!("{event}:{}", &digest[..32])
                }
            };
            TiktokEvent::Other(OtherEvent {
                event: event.to_string(),
                business_id: env.user_openid.map(Cow::into_owned),
                create_time: env.create_time,
                id,
                raw: raw(),
            })
        }
    };
    Ok(ev)
}

/// Names of the sample events [`sample_body`] produces.
pub const SAMPLE_EVENTS: &[&str] = &[
    "text",
    "image",
    "share_post",
    "sticker",
    "reply",
    "read",
    "echo",
    "eu",
    "unknown",
];

/// A webhook body as TikTok sends it (shapes of spec `tiktok.md` section 10) for a sample event
/// of [`SAMPLE_EVENTS`], created at `at`; `None` for an unknown name.
pub fn sample_body(
    event: &str,
    app_id: &str,
    business_id: &str,
    at: DateTime<Utc>,
) -> Option<String> {
    use serde_json::json;
    let ms = at.timestamp_millis();
    let incoming = |id: &str, extra: serde_json::Value| {
        let mut c = json!({
            "conversation_id": "tt-conv-1",
            "message_id": id,
            "timestamp": ms,
            "from": "Alice",
            "from_user": {"id": "user-1"},
            "to": "Biz",
            "to_user": {"id": business_id},
        });
        if let (Some(obj), serde_json::Value::Object(more)) = (c.as_object_mut(), extra) {
            obj.extend(more);
        }
        c
    };
    let (name, content) = match event {
        "text" => (
            events::RECEIVE,
            Some(incoming(
                "tt-msg-1",
                json!({"type": "text", "text": {"body": "Hello from TikTok"}}),
            )),
        ),
        "image" => (
            events::RECEIVE,
            Some(incoming(
                "tt-msg-4",
                json!({"type": "image", "image": {"media_id": "media-1"}}),
            )),
        ),
        "share_post" => (
            events::RECEIVE,
            Some(incoming(
                "tt-msg-5",
                json!({"type": "share_post", "share_post": {"embed_url": "https://www.tiktok.com/embed/123"}}),
            )),
        ),
        "sticker" => (
            events::RECEIVE,
            Some(incoming("tt-msg-6", json!({"type": "sticker"}))),
        ),
        "reply" => (
            events::RECEIVE,
            Some(incoming(
                "tt-msg-7",
                json!({"type": "text", "text": {"body": "About that"}, "referenced_message_info": {"referenced_message_id": "tt-msg-0"}}),
            )),
        ),
        "read" => (
            events::MARK_READ,
            Some(
                json!({"conversation_id": "tt-conv-1", "read": {"last_read_timestamp": ms}, "from_user": {"id": "user-1"}}),
            ),
        ),
        "echo" => (
            events::SEND,
            Some(json!({
                "conversation_id": "tt-conv-1", "message_id": "tt-msg-123", "timestamp": ms,
                "type": "text", "text": {"body": "Hello"},
                "from": "Biz", "from_user": {"id": business_id}, "to": "Alice", "to_user": {"id": "user-1"},
            })),
        ),
        "eu" => (events::RECEIVE_EU, None),
        "unknown" => (
            "im_referral_msg",
            Some(json!({"conversation_id": "tt-conv-1", "referral": {"source": "ad"}})),
        ),
        _ => return None,
    };
    let mut body = json!({
        "client_key": app_id,
        "event": name,
        "create_time": at.timestamp(),
        "user_openid": business_id,
    });
    if let (Some(obj), Some(c)) = (body.as_object_mut(), content) {
        obj.insert("content".into(), serde_json::Value::String(c.to_string()));
    }
    Some(body.to_string())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    fn keys() -> SigningKeys {
        SigningKeys::new("test-secret-not-real")
    }

    fn at(secs: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(secs, 0).unwrap()
    }

    /// `content` as a string, as an object, or as neither: a message needs one of the first
    /// two; an event this crate does not interpret takes its id from either, else the body's
    /// digest.
    #[test]
    fn content_shapes() {
        let doc = serde_json::json!({
            "conversation_id": "c1", "message_id": "m1", "type": "text", "text": {"body": "hi"}
        });
        for content in [serde_json::Value::String(doc.to_string()), doc.clone()] {
            let body = serde_json::json!({"event": events::RECEIVE, "content": content});
            match parse(body.to_string().as_bytes()).unwrap() {
                TiktokEvent::Message(m) => assert_eq!(m.content.message_id, "m1"),
                other => panic!("{other:?}"),
            }
            let body = serde_json::json!({"event": "new_event", "content": content});
            match parse(body.to_string().as_bytes()).unwrap() {
                TiktokEvent::Other(o) => assert_eq!(o.id, "new_event:m1"),
                other => panic!("{other:?}"),
            }
        }
        for content in [
            serde_json::json!([doc]),
            serde_json::json!(5),
            serde_json::json!(true),
        ] {
            let body = serde_json::json!({"event": events::RECEIVE, "content": content});
            let err = parse(body.to_string().as_bytes()).unwrap_err();
            assert!(
                err.to_string()
                    .contains("content: neither a JSON string nor an object"),
                "{err}"
            );
            let body = serde_json::json!({"event": "new_event", "content": content}).to_string();
            match parse(body.as_bytes()).unwrap() {
                TiktokEvent::Other(o) => {
                    let digest = hex::encode(sha2::Sha256::digest(body.as_bytes()));
                    assert_eq!(o.id, format!("new_event:{}", &digest[..32]));
                }
                other => panic!("{other:?}"),
            }
        }
    }

    #[test]
    fn header_parsing() {
        let h = parse_signature_header(" t = 1700000000 , s = abcd ").unwrap();
        assert_eq!(h.timestamp, 1_700_000_000);
        assert_eq!(h.signature, "abcd");
        for bad in [
            "",
            "t=1",
            "s=ab",
            "t=1,t=2,s=a",
            "t=x,s=ab",
            "garbage",
            "t=1,s=a,s=b",
        ] {
            assert_eq!(
                parse_signature_header(bad).unwrap_err().kind(),
                "malformed_signature",
                "{bad}"
            );
        }
        assert!(parse_signature_header(&"a".repeat(2000)).is_err());
    }

    /// The header read with `str::split`, as the parser read it before it went by bytes: the
    /// oracle of the property test below.
    fn header_by_split(value: &str) -> Result<SignatureHeader<'_>, VerifyError> {
        let malformed = |reason| VerifyError::MalformedHeader {
            header: SIGNATURE_HEADER,
            reason,
        };
        if value.len() > MAX_HEADER_CHARS {
            return Err(malformed("header too long"));
        }
        let (mut t, mut s) = (None, None);
        for part in value.split(',') {
            let part = part.trim();
            if part.is_empty() {
                continue;
            }
            let (k, v) = part.split_once('=').ok_or(malformed("part without `=`"))?;
            let slot = match k.trim() {
                "t" => &mut t,
                "s" => &mut s,
                _ => continue,
            };
            if slot.replace(v.trim()).is_some() {
                return Err(malformed("`t` or `s` given twice"));
            }
        }
        let t = t.ok_or(malformed("no timestamp `t`"))?;
        let s = s.ok_or(malformed("no signature `s`"))?;
        Ok(SignatureHeader {
            timestamp: signature::parse_timestamp(SIGNATURE_HEADER, t)?,
            signature: s,
        })
    }

    #[test]
    fn the_signed_header_is_read_the_usual_way() {
        let h = sign(&keys(), 1_700_000_000, b"{}");
        let usual = usual_signature_header(h.as_bytes()).unwrap();
        assert_eq!(Ok(usual), parse_signature_header(&h));
        for other in [
            "t=1700000000, s=6f1c2d3e4f5a6b7c8d9e0f1a2b3c4d5e6f7a8b9c0d1e2f3a4b5c6d7e8f9a0b1c",
            "s=6f1c2d3e4f5a6b7c8d9e0f1a2b3c4d5e6f7a8b9c0d1e2f3a4b5c6d7e8f9a0b1c,t=1700000000",
            "t=,s=6f1c2d3e4f5a6b7c8d9e0f1a2b3c4d5e6f7a8b9c0d1e2f3a4b5c6d7e8f9a0b1c",
            "t=1700000000,s=6f1c2d3e4f5a6b7c8d9e0f1a2b3c4d5e6f7a8b9c0d1e2f3a4b5c6d7e8f9a0b1",
            "t=1700000000,s=6f1c2d3e4f5a6b7c8d9e0f1a2b3c4d5e6f7a8b9c0d1e2f3a4b5c6d7e8f9a0b1cz",
            "t=1234567890123456789,s=6f1c2d3e4f5a6b7c8d9e0f1a2b3c4d5e6f7a8b9c0d1e2f3a4b5c6d7e8f9a0b1c",
        ] {
            assert_eq!(usual_signature_header(other.as_bytes()), None, "{other}");
        }
    }

    proptest::proptest! {
        /// A header the usual reading takes is text and gets the same answer from the general
        /// parser; headers close to the usual form (a digit too many, a letter out of place, a
        /// space, a comma) are generated to find where the two would part.
        #[test]
        fn the_usual_header_reading_agrees_with_the_parser(
            value in proptest::prop_oneof![
                "t=[0-9]{1,18},s=[0-9a-fA-F]{64}",
                "t=[0-9]{0,20}[0-9 ,]{0,1},s=[0-9a-fA-F]{60,64}[0-9a-gA-G ,=st\\u{e9}]{0,4}",
            ]
        ) {
            if let Some(usual) = usual_signature_header(value.as_bytes()) {
                let text = http::HeaderValue::from_str(&value).unwrap();
                proptest::prop_assert_eq!(header_text(&text, SIGNATURE_HEADER), Ok(value.as_str()));
                proptest::prop_assert_eq!(Ok(usual), parse_signature_header(&value));
            }
        }
    }

    proptest::proptest! {
        /// Any header, of the header's own characters and others (non-ASCII spaces too), gets
        /// the same answer, value or error reason, as the split reading gives.
        #[test]
        fn header_parsing_by_bytes_is_the_split_reading(
            value in "[ts=, 0-9a-fx\\t\u{a0}\u{3000}é]{0,40}"
        ) {
            proptest::prop_assert_eq!(parse_signature_header(&value), header_by_split(&value));
        }
    }

    #[test]
    fn sign_and_verify_both_ways() {
        let body = br#"{"event":"x"}"#.to_vec();
        let req = sign_request(&keys(), "https://h.test/wh", body, at(1_700_000_000)).unwrap();
        let ok = |now| {
            verify_request(
                &keys(),
                std::time::Duration::from_secs(300),
                1024,
                &req,
                now,
            )
        };
        ok(at(1_700_000_000)).unwrap();
        ok(at(1_700_000_300)).unwrap();
        ok(at(1_699_999_700)).unwrap();
        assert_eq!(ok(at(1_700_000_301)).unwrap_err().kind(), "stale_timestamp");
        assert_eq!(ok(at(1_699_999_699)).unwrap_err().kind(), "stale_timestamp");
        // Rotation: the previous secret still verifies.
        let rotated = SigningKeys::new("new-secret").with_previous("test-secret-not-real");
        verify_request(
            &rotated,
            std::time::Duration::from_secs(300),
            1024,
            &req,
            at(1_700_000_000),
        )
        .unwrap();
        let wrong = SigningKeys::new("other");
        assert_eq!(
            verify_request(
                &wrong,
                std::time::Duration::from_secs(300),
                1024,
                &req,
                at(1_700_000_000)
            )
            .unwrap_err(),
            VerifyError::SignatureMismatch
        );
        assert_eq!(
            verify_request(
                &keys(),
                std::time::Duration::from_secs(300),
                4,
                &req,
                at(1_700_000_000)
            )
            .unwrap_err()
            .kind(),
            "payload_too_large"
        );
    }

    #[test]
    fn malformed_inner_content_is_typed() {
        let body = br#"{"event":"im_receive_msg","user_openid":"b","content":"{not json"}"#;
        let e = parse(body).unwrap_err();
        assert_eq!(e.kind(), "malformed_payload");
        assert!(!e.to_string().contains("not json"));
        let body = br#"{"event":"im_receive_msg","content":"{\"conversation_id\":\"c\"}"}"#;
        assert!(
            parse(body)
                .unwrap_err()
                .to_string()
                .contains("missing field")
        );
        let body = br#"{"event":"im_new_thing","content":"{broken"}"#;
        let TiktokEvent::Other(o) = parse(body).unwrap() else {
            panic!("expected other")
        };
        assert!(o.id.starts_with("im_new_thing:"));
        assert_eq!(
            o.id,
            match parse(body).unwrap() {
                TiktokEvent::Other(o) => o.id,
                _ => unreachable!(),
            }
        );
        assert_eq!(parse(b"[1]").unwrap_err().kind(), "malformed_payload");
    }

    /// The one-pass reading, where it answers, gives what the plain reading gives.
    /// The request path's reading too: the same event, its `raw` the request's bytes.
    fn same_as_plain(body: &str) -> Option<TiktokEvent> {
        let bytes = Bytes::copy_from_slice(body.as_bytes());
        let fast = parse_usual(Source::of(&bytes).unwrap());
        if let Some(f) = &fast {
            assert_eq!(
                Some(f),
                parse_plain(body.as_bytes()).ok().as_ref(),
                "{body}"
            );
        }
        let request = parse_request(&bytes);
        assert_eq!(
            request.as_ref().ok(),
            parse(body.as_bytes()).as_ref().ok(),
            "{body}"
        );
        if let Ok(e) = &request {
            let raw = match e {
                TiktokEvent::Message(m) => &m.raw,
                TiktokEvent::Read(r) => &r.raw,
                TiktokEvent::Other(o) => &o.raw,
            };
            assert_eq!(raw.as_json_text().map(str::as_ptr), Some(bytes.as_ptr()));
        }
        fast
    }

    #[test]
    fn one_pass_reading_agrees_with_the_plain_one() {
        let at = at(1_767_225_600);
        // Every sample event: messages and read receipts in one pass, the rest the plain way.
        for name in SAMPLE_EVENTS {
            let body = sample_body(name, "app", "biz", at).unwrap();
            let fast = same_as_plain(&body);
            assert_eq!(
                fast.is_some(),
                !["eu", "unknown"].contains(name),
                "{name}: {body}"
            );
            assert_eq!(
                parse(body.as_bytes()).unwrap(),
                parse_plain(body.as_bytes()).unwrap()
            );
        }
        let text = "say \"hi\"\n\t\\ é 🙏 \u{1}";
        let content = serde_json::json!({
            "conversation_id": "c1", "message_id": "m1", "type": "text", "text": {"body": text},
            "from_user": {"id": "u1", "role": "personal_account"}, "timestamp": 1_767_225_600_123_i64,
            "unknown": [1, {"a": null}, "x", 2.5, true]
        });
        let body = serde_json::json!({"event": events::RECEIVE, "content": content.to_string()})
            .to_string();
        let TiktokEvent::Message(m) = same_as_plain(&body).expect("one pass") else {
            panic!("a message")
        };
        assert_eq!(m.content.text.unwrap().body, text);
        // Bodies of other shapes: left to the plain reading, which answers or refuses them.
        for body in [
            // `content` as an object, missing, null, a number.
            r#"{"event":"im_receive_msg","content":{"conversation_id":"c","message_id":"m","type":"sticker"}}"#,
            r#"{"event":"im_receive_msg"}"#,
            r#"{"event":"im_receive_msg","content":null}"#,
            r#"{"event":"im_receive_msg","content":5}"#,
            // The envelope as an array, or with a key twice.
            r#"["im_receive_msg",1,"b","{}"]"#,
            r#"{"event":"im_receive_msg","event":"im_send_msg","content":"{}"}"#,
            // Checks the plain reading makes: empty ids, a type without its object.
            r#"{"event":"im_receive_msg","content":"{\"conversation_id\":\"\",\"message_id\":\"m\",\"type\":\"sticker\"}"}"#,
            r#"{"event":"im_receive_msg","content":"{\"conversation_id\":\"c\",\"message_id\":\"m\",\"type\":\"text\"}"}"#,
            // A content document that is broken, or an array, or has a float timestamp.
            r#"{"event":"im_receive_msg","content":"{\"conversation_id\":"}"#,
            r#"{"event":"im_receive_msg","content":"[\"c\",\"m\",1,\"text\"]"}"#,
            r#"{"event":"im_receive_msg","content":"{\"conversation_id\":\"c\",\"message_id\":\"m\",\"type\":\"sticker\",\"timestamp\":1.5}"}"#,
            r#"{"event":"im_mark_read_msg","content":"{\"conversation_id\":\"c\"}"}"#,
        ] {
            assert!(same_as_plain(body).is_none(), "{body}");
            assert_eq!(
                parse(body.as_bytes()).map_err(|e| e.to_string()),
                parse_plain(body.as_bytes()).map_err(|e| e.to_string()),
                "{body}"
            );
        }
    }

    proptest::proptest! {
        /// A sample message with one character of its body replaced, deleted or doubled: the
        /// answer (event or error text) is the plain reading's.
        #[test]
        fn mutated_bodies_read_as_the_plain_reading_reads_them(
            name in proptest::sample::select(vec!["text", "image", "reply", "read", "echo"]),
            at_char in 0usize..600,
            op in 0u8..3,
            with in proptest::sample::select(vec!['"', '\\', '{', '}', '[', ']', ':', ',', '0', '-', '.', 'u', 'n', ' ', 'é']),
        ) {
            let body = sample_body(name, "app", "biz", at(1_767_225_600)).unwrap();
            let mut chars: Vec<char> = body.chars().collect();
            let i = at_char % chars.len();
            match op {
                0 => chars[i] = with,
                1 => { chars.remove(i); }
                _ => chars.insert(i, chars[i]),
            }
            let body: String = chars.into_iter().collect();
            let _ = same_as_plain(&body);
            proptest::prop_assert_eq!(
                parse(body.as_bytes()).map_err(|e| e.to_string()),
                parse_plain(body.as_bytes()).map_err(|e| e.to_string())
            );
        }
    }
}
