//! Verification and parsing of what each side receives, and the signers that build genuine
//! requests (used by tests, fixtures and `simulate`, so they cannot drift from the checks).
//!
//! - The RapidPro side receives the app's webhooks (`agent-message`, `close-room`), checked the
//!   way mailroom checks them (spec section 4.3).
//! - The app side receives RapidPro's calls to its five endpoints, checked in the app's order
//!   (spec section 2).

use std::borrow::Cow;

use bytes::Bytes;
use http::{HeaderMap, HeaderValue, Method};
use omnichannel_core::json::{self, Object};
use omnichannel_core::signature::constant_time_eq;
use omnichannel_core::{
    Error, ExposeSecret, JsonFault, Raw, SigningKeys, VerifyError, WebhookRequest,
};
use serde_json::Value;

use crate::api::{self, MSG_INVALID_AUTHORIZATION, MSG_INVALID_CONTENT_TYPE, MSG_SECRET_NOT_SET};
use crate::model::{AgentMessageData, AppWebhook};

/// The header both sides authenticate with.
pub const AUTHORIZATION: &str = "authorization";

/// mailroom's answer to a body without `type`.
pub const MSG_TYPE_REQUIRED: &str = "field 'type' is required";
/// mailroom's answer to a body without `ticketID`.
pub const MSG_TICKET_REQUIRED: &str = "field 'ticketID' is required";
/// mailroom's answer to an unknown `type`.
pub const MSG_INVALID_EVENT_TYPE: &str = "invalid event type";

/// The scheme of the RapidPro side's `Authorization` header.
const TOKEN_SCHEME: &[u8] = b"Token ";

/// Checks `Authorization: Token <secret>` against every key, in constant time (the RapidPro
/// side: mailroom compares with the untrimmed secret).
pub fn verify_token(req: &WebhookRequest, keys: &SigningKeys) -> Result<(), VerifyError> {
    let Some(got) = req.header_by(&http::header::AUTHORIZATION, AUTHORIZATION)? else {
        return Err(VerifyError::Unauthorized {
            reason: "Authorization header absent",
        });
    };
    // `Token <secret>`: the scheme compared as bytes, the secret in constant time.
    let (scheme, given) = got.as_bytes().split_at(got.len().min(TOKEN_SCHEME.len()));
    let mut ok = false;
    for key in keys.all() {
        ok |= constant_time_eq(given, key.expose_secret().as_bytes());
    }
    if ok && scheme == TOKEN_SCHEME {
        Ok(())
    } else {
        Err(VerifyError::Unauthorized {
            reason: "Authorization header does not match",
        })
    }
}

/// Parses an app webhook the way mailroom does: `type` and `ticketID` required (non-empty),
/// `visitor` read when present, `data` decoded for `agent-message` (no field of it required).
/// Error reasons are mailroom's exact messages. `raw` is the body's text.
///
/// A body of the usual shape (every field of its expected type, no key twice) is read once,
/// straight into the typed fields; any other body is read again the slow way, as a tree, which
/// gives Go's answers to the unusual ones (a repeated key: the last wins; a `visitor` that is
/// not an object: no token) and mailroom's exact error reasons.
pub fn parse_callback(body: &[u8], max_attachments: usize) -> Result<(AppWebhook, Raw), Error> {
    parse_callback_request(&Bytes::copy_from_slice(body), max_attachments)
}

/// [`parse_callback`] of a request's body, whose `raw` keeps a handle on the body's buffer
/// instead of a copy of it ([`Raw::parsed_json_shared`]).
pub(crate) fn parse_callback_request(
    body: &Bytes,
    max_attachments: usize,
) -> Result<(AppWebhook, Raw), Error> {
    let fast = omnichannel_core::utf8::to_str(body).and_then(|text| {
        callback_by_nested(text)
            .or_else(|| callback_by_serde(text))
            .map(|fast| (fast, text))
    });
    let Some((fast, text)) = fast else {
        let raw: Value =
            serde_json::from_slice(body).map_err(|e| Error::malformed(json_reason(&e)))?;
        let event = callback_of_tree(&raw, max_attachments)?;
        return Ok((event, Raw::from(raw)));
    };
    let fields = CallbackFields {
        kind: fast.kind.unwrap_or_default(),
        ticket_id: fast.ticket_id.unwrap_or_default(),
        token: fast
            .visitor
            .and_then(|Object(v)| v.token)
            .unwrap_or_default(),
    };
    let data = fast.data;
    let event = callback_of(fields, max_attachments, || {
        Ok(data.map(|d| d.map(FastData::into_data).unwrap_or_default()))
    })?;
    Ok((event, Raw::parsed_json_shared(body, text)))
}

/// A callback's text read as its JSON string reads.
type FastText<'a> = FastCallback<'a, Cow<'a, str>>;

/// [`FastCallback`] by core's one-pass reader (the text decoded as it is read); `None` for the
/// shapes it leaves, which serde_json reads. Where it answers, serde_json's reading gives the
/// same callback (tests hold the two to it).
fn callback_by_nested(text: &str) -> Option<FastText<'_>> {
    let Object(f) = json::nested::from_str::<Object<FastCallback<'_, json::CowStr<'_>>>>(text)?;
    Some(f.with_text_as_read())
}

/// [`FastCallback`] by serde_json, the text kept as its JSON and decoded once into a buffer of
/// its size ([`json::Text`]) instead of serde_json's growing scratch buffer.
fn callback_by_serde(text: &str) -> Option<FastText<'_>> {
    let Object(f) = serde_json::from_str::<Object<FastCallback<'_, json::Text<'_>>>>(text).ok()?;
    Some(f.with_text_as_read())
}

/// An app webhook of the usual shape, read without a tree (see [`parse_callback`]); `T` is
/// the type its text is read as.
#[derive(serde::Deserialize)]
#[serde(bound(deserialize = "T: serde::Deserialize<'de>"))]
struct FastCallback<'a, T> {
    #[serde(rename = "type", default, borrow)]
    kind: Option<Cow<'a, str>>,
    #[serde(rename = "ticketID", default, borrow)]
    ticket_id: Option<Cow<'a, str>>,
    #[serde(default, borrow)]
    visitor: Option<Object<FastVisitor<'a>>>,
    /// Absent (`None`), `null` (`Some(None)`) or the data.
    #[serde(default, deserialize_with = "present")]
    data: Option<Option<FastData<T>>>,
}

impl<'a, T: Into<Cow<'a, str>>> FastCallback<'a, T> {
    /// The same callback, its text as read.
    fn with_text_as_read(self) -> FastText<'a> {
        FastCallback {
            kind: self.kind,
            ticket_id: self.ticket_id,
            visitor: self.visitor,
            data: self.data.map(|d| {
                d.map(|d| FastData {
                    text: d.text.map(Into::into),
                    attachments: d.attachments,
                })
            }),
        }
    }
}

/// [`AgentMessageData`] read the same way (its fields in the same order, unknown ones
/// skipped), its text read as a `T`.
#[derive(serde::Deserialize)]
#[serde(bound(deserialize = "T: serde::Deserialize<'de>"))]
struct FastData<T> {
    #[serde(default)]
    text: Option<T>,
    #[serde(default)]
    attachments: Vec<crate::model::Attachment>,
}

impl FastData<Cow<'_, str>> {
    fn into_data(self) -> AgentMessageData {
        AgentMessageData {
            text: self.text.map(Cow::into_owned),
            attachments: self.attachments,
        }
    }
}

#[derive(serde::Deserialize)]
struct FastVisitor<'a> {
    #[serde(default, borrow)]
    token: Option<Cow<'a, str>>,
}

/// A field that is present, `null` or not (`None` stays for an absent one, by `default`).
fn present<'de, D, T>(d: D) -> Result<Option<Option<T>>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: serde::Deserialize<'de>,
{
    <Option<T> as serde::Deserialize>::deserialize(d).map(Some)
}

/// The fields of an app webhook both readings take, Go's way (absent or `null`: empty).
struct CallbackFields<'a> {
    kind: Cow<'a, str>,
    ticket_id: Cow<'a, str>,
    token: Cow<'a, str>,
}

/// mailroom's checks and the webhook they give. `data` reads the `data` field (absent: `None`,
/// `null`: empty), only for an `agent-message`, as Go decodes it only then.
fn callback_of(
    f: CallbackFields<'_>,
    max_attachments: usize,
    data: impl FnOnce() -> Result<Option<AgentMessageData>, Error>,
) -> Result<AppWebhook, Error> {
    if f.kind.is_empty() {
        return Err(Error::malformed(MSG_TYPE_REQUIRED));
    }
    if f.ticket_id.is_empty() {
        return Err(Error::malformed(MSG_TICKET_REQUIRED));
    }
    let (ticket_id, token) = (f.ticket_id.into_owned(), f.token.into_owned());
    match f.kind.as_ref() {
        "agent-message" => {
            // Go decodes an absent raw message as empty input.
            let data = data()?.ok_or_else(|| Error::malformed("unexpected end of JSON input"))?;
            if data.attachments.len() > max_attachments {
                return Err(Error::malformed(format!(
                    "data.attachments: {} attachments exceed the limit of {max_attachments}",
                    data.attachments.len()
                )));
            }
            Ok(AppWebhook::AgentMessage {
                ticket_id,
                token,
                data,
            })
        }
        "close-room" => Ok(AppWebhook::CloseRoom { ticket_id, token }),
        _ => Err(Error::malformed(MSG_INVALID_EVENT_TYPE)),
    }
}

/// [`parse_callback`] on the body's tree: Go's decoding of any JSON body.
fn callback_of_tree(raw: &Value, max_attachments: usize) -> Result<AppWebhook, Error> {
    let Some(obj) = raw.as_object() else {
        return Err(Error::malformed(
            "json: cannot unmarshal non-object into the event",
        ));
    };
    let field = |name: &str| -> Result<Cow<'_, str>, Error> {
        match obj.get(name) {
            None | Some(Value::Null) => Ok(Cow::Borrowed("")),
            Some(Value::String(s)) => Ok(Cow::Borrowed(s)),
            Some(_) => Err(Error::malformed(format!(
                "json: cannot unmarshal into field {name} of type string"
            ))),
        }
    };
    let fields = CallbackFields {
        kind: field("type")?,
        ticket_id: field("ticketID")?,
        token: Cow::Borrowed(
            obj.get("visitor")
                .and_then(|v| v.get("token"))
                .and_then(Value::as_str)
                .unwrap_or_default(),
        ),
    };
    callback_of(fields, max_attachments, || match obj.get("data") {
        None => Ok(None),
        Some(Value::Null) => Ok(Some(AgentMessageData::default())),
        // Typed in place: the tree is not copied first.
        Some(d) => <AgentMessageData as serde::Deserialize>::deserialize(d)
            .map(Some)
            .map_err(|e| Error::malformed(format!("data: {}", json_reason(&e)))),
    })
}

/// A JSON error as a reason that names the problem and where, never a value of the body
/// (serde's messages quote the value they refused: `invalid type: string "..."`).
fn json_reason(e: &serde_json::Error) -> String {
    let what = match JsonFault::of(e) {
        JsonFault::MissingField(m) => m,
        JsonFault::UnknownVariant | JsonFault::WrongValue => {
            "cannot unmarshal: unexpected value type".to_string()
        }
        JsonFault::Eof => "unexpected end of JSON input".to_string(),
        JsonFault::Syntax => "invalid JSON".to_string(),
        JsonFault::Io => "read error".to_string(),
    };
    if e.line() == 0 {
        what
    } else {
        format!("{what} (line {}, column {})", e.line(), e.column())
    }
}

/// The request the app sends to RapidPro's callback URL for `webhook`, authorized with
/// `secret` (the signer of the RapidPro side's fixtures and of `simulate`).
pub fn callback_request(
    url: &str,
    secret: &omnichannel_core::SecretString,
    webhook: &AppWebhook,
) -> Result<WebhookRequest, Error> {
    Ok(WebhookRequest::new(
        Method::POST,
        url,
        json_headers(secret)?,
        Bytes::from(webhook.to_body()),
    ))
}

fn json_headers(secret: &omnichannel_core::SecretString) -> Result<HeaderMap, Error> {
    let mut headers = HeaderMap::new();
    headers.insert(
        http::header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    headers.insert(http::header::AUTHORIZATION, api::authorization(secret)?);
    Ok(headers)
}

/// The app's endpoints.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Endpoint {
    /// `GET secret.check`.
    SecretCheck,
    /// `PUT settings` / `GET settings`.
    Settings,
    /// `GET room`.
    Room,
    /// `GET room.close`.
    RoomClose,
    /// `POST visitor-message`.
    VisitorMessage,
}

impl Endpoint {
    /// Every endpoint.
    pub const ALL: [Endpoint; 5] = [
        Endpoint::SecretCheck,
        Endpoint::Settings,
        Endpoint::Room,
        Endpoint::RoomClose,
        Endpoint::VisitorMessage,
    ];

    /// The path segment after `/api/apps/public/<app id>/`.
    pub fn path(self) -> &'static str {
        match self {
            Endpoint::SecretCheck => "secret.check",
            Endpoint::Settings => "settings",
            Endpoint::Room => "room",
            Endpoint::RoomClose => "room.close",
            Endpoint::VisitorMessage => "visitor-message",
        }
    }

    /// The endpoint of a path segment.
    pub fn from_path(segment: &str) -> Option<Endpoint> {
        Endpoint::ALL.into_iter().find(|e| e.path() == segment)
    }

    /// Whether the app implements `method` on this endpoint.
    pub fn implements(self, method: &Method) -> bool {
        match self {
            Endpoint::SecretCheck | Endpoint::Room | Endpoint::RoomClose => method == Method::GET,
            Endpoint::Settings => method == Method::GET || method == Method::PUT,
            Endpoint::VisitorMessage => method == Method::POST,
        }
    }

    /// Whether the app checks `Content-Type` for this call (all but `secret.check` and
    /// `GET settings`).
    pub fn checks_content_type(self, method: &Method) -> bool {
        !matches!(
            (self, method),
            (Endpoint::SecretCheck, _) | (Endpoint::Settings, &Method::GET)
        )
    }
}

/// The endpoint a request URL addresses: the last path segment, after
/// `/api/apps/public/<app id>/` when the URL has that prefix (then the app id must match).
/// `None`: Rocket.Chat would answer 404.
pub fn endpoint_of(url: &str, app_id: &str) -> Option<Endpoint> {
    // (Byte searches over the few `:` and `/` of a URL: a substring search sets up a searcher
    // each call, which cost more than the rest of this function.)
    let path = match find_at(url, b':', "://") {
        Some(i) => {
            let after = &url[i + 3..];
            memchr::memchr(b'/', after.as_bytes()).map_or("/", |j| &after[j..])
        }
        None => url,
    };
    let path = match memchr::memchr2(b'?', b'#', path.as_bytes()) {
        Some(i) => &path[..i],
        None => path,
    };
    let path = path.trim_end_matches('/');
    let (prefix, segment) = path.rsplit_once('/')?;
    const PUBLIC: &str = "/api/apps/public/";
    if let Some(i) = find_at(prefix, b'/', PUBLIC) {
        let id = &prefix[i + PUBLIC.len()..];
        if id != app_id {
            return None;
        }
    }
    Endpoint::from_path(segment)
}

/// The first occurrence of `needle` (which starts with the byte `first`) in `haystack`, found
/// by trying each occurrence of `first` in turn.
fn find_at(haystack: &str, first: u8, needle: &str) -> Option<usize> {
    memchr::memchr_iter(first, haystack.as_bytes()).find(|&i| {
        haystack
            .as_bytes()
            .get(i..)
            .is_some_and(|rest| rest.starts_with(needle.as_bytes()))
    })
}

/// Why the app refuses a request before its body is looked at.
pub(crate) enum HeaderRefusal {
    /// 400 `Invalid Content-Type header`.
    ContentType,
    /// 403 `Secret not set` / `Invalid Authorization header`.
    Auth(VerifyError),
}

impl From<HeaderRefusal> for Error {
    fn from(r: HeaderRefusal) -> Error {
        match r {
            HeaderRefusal::ContentType => Error::malformed(MSG_INVALID_CONTENT_TYPE),
            HeaderRefusal::Auth(v) => Error::Verify(v),
        }
    }
}

/// The app's header checks, in its order: Content-Type (exactly `application/json`, when the
/// endpoint checks it), secret set (after trimming), `Authorization` exactly
/// `Token <trimmed secret>` (constant time, every configured secret tried).
pub(crate) fn check_app_headers(
    req: &WebhookRequest,
    keys: &SigningKeys,
    check_content_type: bool,
) -> Result<(), HeaderRefusal> {
    if check_content_type {
        // Node gives the app the last of repeated headers joined; a doubled or absent header
        // is not exactly `application/json` (bytes compared: that value is visible ASCII).
        let mut values = req.headers.get_all(http::header::CONTENT_TYPE).iter();
        let exact = matches!(
            (values.next(), values.next()),
            (Some(v), None) if v.as_bytes() == b"application/json"
        );
        if !exact {
            return Err(HeaderRefusal::ContentType);
        }
    }
    // One pass over the secrets (trimmed, empty ones left out): whether any is set, and
    // whether the header's matches one; the answers keep the app's order (no secret set, then
    // a header that cannot be read, then a mismatch).
    let got = req.header_by(&http::header::AUTHORIZATION, AUTHORIZATION);
    let header = match &got {
        Ok(v) => v.unwrap_or(""),
        Err(_) => "",
    };
    // `Token <secret>`: the scheme compared as bytes, the secret in constant time.
    let (scheme, given) = header
        .as_bytes()
        .split_at(header.len().min(TOKEN_SCHEME.len()));
    let (mut set, mut ok) = (false, false);
    for key in keys.all() {
        let secret = key.expose_secret().trim();
        if !secret.is_empty() {
            set = true;
            ok |= constant_time_eq(given, secret.as_bytes());
        }
    }
    if !set {
        return Err(HeaderRefusal::Auth(VerifyError::Unauthorized {
            reason: MSG_SECRET_NOT_SET,
        }));
    }
    if let Err(e) = got {
        return Err(HeaderRefusal::Auth(e));
    }
    if ok && scheme == TOKEN_SCHEME {
        Ok(())
    } else {
        Err(HeaderRefusal::Auth(VerifyError::Unauthorized {
            reason: MSG_INVALID_AUTHORIZATION,
        }))
    }
}

/// The request RapidPro sends to the app's `endpoint` at `base_url`
/// (`https://<host>/api/apps/public/<app id>`), authorized with `secret` (the signer of the app
/// side's fixtures and of `simulate`). `body` is the JSON body (empty for none).
pub fn app_request(
    base_url: &str,
    endpoint: Endpoint,
    method: Method,
    secret: &omnichannel_core::SecretString,
    body: impl Into<Bytes>,
) -> Result<WebhookRequest, Error> {
    let url = format!("{}/{}", base_url.trim_end_matches('/'), endpoint.path());
    Ok(WebhookRequest::new(
        method,
        url,
        json_headers(secret)?,
        body.into(),
    ))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    const APP: &str = "684202ed-1461-4983-9ea7-fde74b15026c";

    /// Where the one-pass reader answers for `text`, serde_json's reading gives the same
    /// callback.
    fn assert_read_the_same_both_ways(text: &str) {
        let Some(nested) = callback_by_nested(text) else {
            return;
        };
        let serde = callback_by_serde(text).expect("serde_json reads it too");
        assert_eq!(nested.kind, serde.kind, "{text}");
        assert_eq!(nested.ticket_id, serde.ticket_id, "{text}");
        assert_eq!(
            nested.visitor.map(|Object(v)| v.token),
            serde.visitor.map(|Object(v)| v.token),
            "{text}"
        );
        let data =
            |d: Option<Option<FastData<Cow<'_, str>>>>| d.map(|d| d.map(FastData::into_data));
        assert_eq!(data(nested.data), data(serde.data), "{text}");
    }

    /// An agent message with text and attachments, mutated by one character below.
    const MUTATED: &str = r#"{"type":"agent-message","ticketID":"t\u00e91","visitor":{"token":"v1","x":[1]},"data":{"text":"hi \"you\"\n é \ud83d\ude4f","attachments":[{"type":"image/png","url":"https:\/\/x.test/a"},{"url":"u","type":"document/pdf"}]}}"#;

    proptest::proptest! {
        /// Wherever the one-pass reader answers for a mutated callback, serde_json's reading
        /// gives the same callback.
        #[test]
        fn mutated_callbacks_read_the_same_both_ways(
            at in 0usize..220,
            op in 0u8..3,
            with in proptest::sample::select(crate::test_support::MUTATION_CHARS.to_vec()),
        ) {
            let m = crate::test_support::mutated(MUTATED, at, op, with);
            assert_read_the_same_both_ways(&m);
        }
    }

    /// The one-pass reading of a callback and the tree reading agree on every body: the same
    /// webhook, or the same error reason.
    #[test]
    fn callback_fast_path_matches_the_tree() {
        let bodies: &[&[u8]] = &[
            br#"{"type":"agent-message","ticketID":"t1","visitor":{"token":"v1"},"data":{"text":"hi \"there\"\n"}}"#,
            br#"{"type":"agent-message","ticketID":"t1","visitor":{"token":"v1"},"data":{"attachments":[{"type":"image/png","url":"https://x.test/a.png"}]}}"#,
            br#"{"type":"agent-message","ticketID":"t1","data":null}"#,
            br#"{"type":"agent-message","ticketID":"t1"}"#,
            br#"{"type":"agent-message","ticketID":"t1","data":{"text":5}}"#,
            br#"{"type":"agent-message","ticketID":"t1","data":{"text":"plain"}}"#,
            br#"{"type":"agent-message","ticketID":"t1","data":{"text":null}}"#,
            br#"{"type":"agent-message","ticketID":"t1","data":{"text":"\u00e9\ud83d\ude4f\/"}}"#,
            br#"{"type":"agent-message","ticketID":"t1","data":{"text":"\ud800"}}"#,
            br#"{"type":"agent-message","ticketID":"t1","data":{"text":"a","text":"b"}}"#,
            br#"{"type":"agent-message","ticketID":"t1","data":{"Text":"x","other":[1]}}"#,
            br#"{"type":"agent-message","ticketID":"t1","data":["x",[]]}"#,
            br#"{"type":"agent-message","ticketID":"t1","data":[]}"#,
            br#"{"type":"close-room","ticketID":"t1","visitor":{"token":"v1"},"extra":[1,{"a":null}]}"#,
            br#"{"type":"close-room","ticketID":"t1","visitor":"v1"}"#,
            br#"{"type":"close-room","ticketID":"t1","visitor":{"token":7}}"#,
            br#"{"type":"close-room","ticketID":"t1","visitor":null}"#,
            br#"{"type":"close-room","ticketID":"t1","visitor":["v1"]}"#,
            br#"["agent-message","t1",{"token":"v1"},{"text":"x"}]"#,
            br#"{"type":"close-room","ticketID":"t1","type":"agent-message","data":{}}"#,
            br#"{"type":"close-room","ticketID":"t1","ticketID":""}"#,
            br#"{"type":null,"ticketID":"t1"}"#,
            br#"{"type":"close-room","ticketID":null}"#,
            br#"{"type":1,"ticketID":"t1"}"#,
            br#"{"type":"close-room","ticketID":["t1"]}"#,
            br#"{"type":"nope","ticketID":"t1"}"#,
            br#"{"type":"close-room","ticketID":"t\u00e9"}"#,
            b"[1,2]",
            b"\"close-room\"",
            b"{\"type\":\"close-room\",\"ticketID\":\"t\xff\"}",
            b"{\"type\":\"close-room\",",
            b"",
        ];
        for body in bodies {
            let fast = parse_callback(body, 2).map_err(|e| e.to_string());
            let tree = serde_json::from_slice::<Value>(body)
                .map_err(|e| Error::malformed(json_reason(&e)))
                .and_then(|raw| callback_of_tree(&raw, 2))
                .map_err(|e| e.to_string());
            let label = String::from_utf8_lossy(body);
            assert_eq!(fast.as_ref().map(|(w, _)| w), tree.as_ref(), "{label}");
            if let Ok((_, raw)) = &fast {
                let as_json: Value = serde_json::from_slice(body).unwrap();
                assert_eq!(raw, &as_json, "{label}");
            }
            // A request's body: the same answer, and a `raw` of the body's own bytes when it
            // was read without a tree.
            let bytes = Bytes::copy_from_slice(body);
            let request = parse_callback_request(&bytes, 2).map_err(|e| e.to_string());
            assert_eq!(
                request.as_ref().map(|(w, r)| (w, r)),
                fast.as_ref().map(|(w, r)| (w, r)),
                "{label}"
            );
            if let Ok((_, raw)) = &request
                && let Some(text) = raw.as_json_text()
            {
                assert_eq!(text.as_ptr(), bytes.as_ptr(), "{label}");
            }
            if let Ok(text) = std::str::from_utf8(body) {
                assert_read_the_same_both_ways(text);
            }
        }
        let usual = br#"{"type":"agent-message","ticketID":"t1","visitor":{"token":"v1"},"data":{"text":"hi \"there\"\n","attachments":[{"type":"image/png","url":"https://x.test/a.png"}]}}"#;
        assert!(callback_by_nested(std::str::from_utf8(usual).unwrap()).is_some());
        assert!(callback_by_nested(MUTATED).is_some());
    }

    #[test]
    fn endpoints_from_urls() {
        let base = format!("https://chat.example.com/api/apps/public/{APP}");
        for e in Endpoint::ALL {
            assert_eq!(endpoint_of(&format!("{base}/{}", e.path()), APP), Some(e));
            assert_eq!(
                endpoint_of(&format!("{base}/{}/?x=1", e.path()), APP),
                Some(e)
            );
        }
        assert_eq!(endpoint_of(&format!("{base}/rooms"), APP), None);
        assert_eq!(endpoint_of(&base, APP), None);
        assert_eq!(
            endpoint_of("https://chat.example.com/api/apps/public/other/room", APP),
            None
        );
        // A host mounting the app side elsewhere: the last segment selects.
        assert_eq!(
            endpoint_of("/hooks/rapidpro/visitor-message", APP),
            Some(Endpoint::VisitorMessage)
        );
        assert_eq!(endpoint_of("https://chat.example.com", APP), None);
    }

    /// The byte-search routing agrees with the plain string reading it replaced.
    #[test]
    fn endpoint_routing_matches_the_string_reading() {
        fn reference(url: &str, app_id: &str) -> Option<Endpoint> {
            let path = match url.find("://") {
                Some(i) => {
                    let after = &url[i + 3..];
                    after.find('/').map_or("/", |j| &after[j..])
                }
                None => url,
            };
            let path = path.split(['?', '#']).next().unwrap_or(path);
            let path = path.trim_end_matches('/');
            let (prefix, segment) = path.rsplit_once('/')?;
            const PUBLIC: &str = "/api/apps/public/";
            if let Some(i) = prefix.find(PUBLIC)
                && &prefix[i + PUBLIC.len()..] != app_id
            {
                return None;
            }
            Endpoint::from_path(segment)
        }
        let urls = [
            format!("https://chat.example.com/api/apps/public/{APP}/visitor-message"),
            format!("http://127.0.0.1:8080/api/apps/public/{APP}/room.close/"),
            format!("https://h:1/api/apps/public/{APP}/room?x=a://b/c#frag"),
            format!("https://h/api/apps/public/x/api/apps/public/{APP}/room"),
            format!("https://h/a/api/apps/public/{APP}/api/apps/public/{APP}/room"),
            format!("/api/apps/public/{APP}/settings"),
            format!("api/apps/public/{APP}/settings"),
            "https://h/x:/y://z/secret.check".to_string(),
            "mailto:x://h/room".to_string(),
            "https://h#a/room".to_string(),
            "https://h/room#/settings".to_string(),
            "https://h/?/room".to_string(),
            "https://h//room//".to_string(),
            "://room".to_string(),
            ":/:/room".to_string(),
            "https://h/api/apps/public//room".to_string(),
            "https://h/api/apps/public/room".to_string(),
            "/api/apps/public/".to_string(),
            "/".to_string(),
            String::new(),
            "room".to_string(),
            "https://h/é/ü:/room".to_string(),
        ];
        for url in &urls {
            for app in [APP, "", "x"] {
                assert_eq!(endpoint_of(url, app), reference(url, app), "{url} {app}");
            }
        }
    }

    /// The header reading by name answers as the request's own, header by header.
    /// The one-pass header checks give the answers of the plain reading they replaced (the
    /// app's order: Content-Type, no secret set, an unreadable header, a mismatch).
    #[test]
    fn app_header_checks_match_the_plain_reading() {
        fn reference(
            req: &WebhookRequest,
            keys: &SigningKeys,
            check_content_type: bool,
        ) -> Result<(), String> {
            if check_content_type
                && req.header("content-type").ok().flatten() != Some("application/json")
            {
                return Err("content-type".into());
            }
            let secrets = || {
                keys.all()
                    .iter()
                    .map(|s| s.expose_secret().trim())
                    .filter(|s| !s.is_empty())
            };
            if secrets().next().is_none() {
                return Err(MSG_SECRET_NOT_SET.into());
            }
            let got = req.header(AUTHORIZATION).map_err(|e| e.to_string())?;
            let got = got.unwrap_or("");
            let matches = secrets().any(|s| got.strip_prefix("Token ") == Some(s));
            if matches {
                Ok(())
            } else {
                Err(MSG_INVALID_AUTHORIZATION.into())
            }
        }
        let keysets = [
            SigningKeys::new("s3cret".to_string()),
            SigningKeys::new(" s3cret ".to_string()),
            SigningKeys::new("   ".to_string()),
            SigningKeys::new(String::new()),
            SigningKeys::new("  ".to_string()).with_previous("s3cret"),
            SigningKeys::new("other".to_string()).with_previous(" s3cret"),
        ];
        let auths: &[&[&[u8]]] = &[
            &[],
            &[b"Token s3cret"],
            &[b"Token  s3cret "],
            &[b"token s3cret"],
            &[b"Token s3cre"],
            &[b"Token "],
            &[b"Token s3cret", b"Token s3cret"],
            &[b"Token s3cr\xc3\xa9t"],
        ];
        let types: &[&[&[u8]]] = &[
            &[b"application/json"],
            &[],
            &[b"application/json; charset=utf-8"],
            &[b"application/json", b"application/json"],
            &[b"Application/JSON"],
            &[b"application/json\xc3"],
        ];
        for keys in &keysets {
            for auth in auths {
                for ct in types {
                    let mut headers = HeaderMap::new();
                    for v in *auth {
                        headers.append(
                            http::header::AUTHORIZATION,
                            HeaderValue::from_bytes(v).unwrap(),
                        );
                    }
                    for v in *ct {
                        headers.append(
                            http::header::CONTENT_TYPE,
                            HeaderValue::from_bytes(v).unwrap(),
                        );
                    }
                    let req = WebhookRequest::new(
                        Method::POST,
                        "https://h.test/x",
                        headers,
                        Bytes::new(),
                    );
                    for check_ct in [true, false] {
                        let ours = check_app_headers(&req, keys, check_ct).map_err(|r| match r {
                            HeaderRefusal::ContentType => "content-type".to_string(),
                            HeaderRefusal::Auth(VerifyError::Unauthorized { reason }) => {
                                reason.to_string()
                            }
                            HeaderRefusal::Auth(e) => e.to_string(),
                        });
                        let label = format!("{auth:?} {ct:?} {check_ct}");
                        assert_eq!(ours, reference(&req, keys, check_ct), "{label}");
                    }
                }
            }
        }
    }

    #[test]
    fn methods_and_content_type_checks() {
        assert!(Endpoint::Room.implements(&Method::GET));
        assert!(!Endpoint::Room.implements(&Method::POST));
        assert!(Endpoint::Settings.implements(&Method::PUT));
        assert!(!Endpoint::SecretCheck.checks_content_type(&Method::GET));
        assert!(!Endpoint::Settings.checks_content_type(&Method::GET));
        assert!(Endpoint::Settings.checks_content_type(&Method::PUT));
    }

    #[test]
    fn callback_parsing_follows_mailroom() {
        let (hook, _) = parse_callback(
            br#"{"type":"agent-message","ticketID":"t","visitor":{"token":"1"},"data":null}"#,
            10,
        )
        .unwrap();
        assert_eq!(hook.token(), "1");
        let e = parse_callback(br#"{"type":"","ticketID":"t"}"#, 10).unwrap_err();
        assert_eq!(
            e.to_string(),
            format!("malformed payload: {MSG_TYPE_REQUIRED}")
        );
        let e = parse_callback(br#"{"type":"agent-message","ticketID":"t"}"#, 10).unwrap_err();
        assert_eq!(e.kind(), "malformed_payload");
        let many = format!(
            r#"{{"type":"agent-message","ticketID":"t","data":{{"attachments":[{}]}}}}"#,
            [r#"{"type":"image/png","url":"u"}"#; 3].join(",")
        );
        assert!(parse_callback(many.as_bytes(), 2).is_err());
        assert!(parse_callback(b"[1]", 10).is_err());
    }
}
