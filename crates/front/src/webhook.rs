//! Verifying and parsing what Front sends to a channel webhook, and the signer tests use.
//!
//! `X-Front-Signature` = base64 HMAC-SHA256(app secret, `"<X-Front-Request-Timestamp>:" + raw
//! body`) (spec `front.md` section 3.1). The timestamp may be seconds or milliseconds (values
//! above 10^12 are milliseconds) and must be within the window both ways. A `DELETE` with an
//! empty body also verifies against the literal body `undefined` (Front's security page says
//! GET and DELETE bodies are signed as "undefined").

use std::borrow::Cow;

use chrono::{DateTime, Utc};
use http::{HeaderMap, HeaderName, HeaderValue, Method};
use omnichannel_core::json::Object;
use omnichannel_core::signature::{self, Algorithm};
use omnichannel_core::{
    Bytes, Error, ExposeSecret, JsonFault, Raw, Result, SigningKeys, VerifyError, WebhookRequest,
};

use crate::config::FrontConfig;
use crate::model::{ChannelPayload, FrontMessage, FrontRequest, ImportMetadata};

/// The signature header.
pub const SIGNATURE_HEADER: &str = "x-front-signature";
/// The timestamp header.
pub const TIMESTAMP_HEADER: &str = "x-front-request-timestamp";

/// [`SIGNATURE_HEADER`] and [`TIMESTAMP_HEADER`] as header names, made once (a `&str` is parsed
/// on every lookup).
const SIGNATURE_HEADER_NAME: HeaderName = HeaderName::from_static(SIGNATURE_HEADER);
const TIMESTAMP_HEADER_NAME: HeaderName = HeaderName::from_static(TIMESTAMP_HEADER);
/// Timestamps above this are milliseconds.
pub const MILLIS_THRESHOLD: i64 = 1_000_000_000_000;

const AUTHORIZATION: &str = "authorization";
const UNDEFINED_BODY: &[u8] = b"undefined";

/// The signature Front puts in `X-Front-Signature` for `timestamp` (the header's exact text)
/// and `body`, with the current secret of `keys`.
pub fn sign(keys: &SigningKeys, timestamp: &str, body: &[u8]) -> String {
    signature::sign_base64(Algorithm::Sha256, keys, &[timestamp.as_bytes(), b":", body])
}

/// A request as Front would send it: JSON content type, timestamp in milliseconds, signature.
/// For a `DELETE` with an empty body the signature covers `undefined`, as Front documents.
pub fn sign_request(
    keys: &SigningKeys,
    method: Method,
    url: &str,
    at: DateTime<Utc>,
    body: impl Into<Bytes>,
) -> WebhookRequest {
    let body = body.into();
    let ts = at.timestamp_millis().to_string();
    let signed: &[u8] = if method == Method::DELETE && body.is_empty() {
        UNDEFINED_BODY
    } else {
        &body
    };
    let sig = sign(keys, &ts, signed);
    let mut headers = HeaderMap::new();
    headers.insert(
        http::header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    if let Ok(v) = HeaderValue::from_str(&ts) {
        headers.insert(TIMESTAMP_HEADER, v);
    }
    if let Ok(v) = HeaderValue::from_str(&sig) {
        headers.insert(SIGNATURE_HEADER, v);
    }
    WebhookRequest::new(method, url, headers, body)
}

/// A timestamp header value in Unix seconds (values above 10^12 are milliseconds).
pub fn timestamp_secs(value: i64) -> i64 {
    if value > MILLIS_THRESHOLD {
        value / 1000
    } else {
        value
    }
}

/// Checks body size, signature (every configured secret), timestamp window and, when the host
/// configured a token lookup, the `Authorization: Bearer` token.
pub fn verify(
    config: &FrontConfig,
    req: &WebhookRequest,
    now: DateTime<Utc>,
) -> Result<(), VerifyError> {
    req.check_body_limit(config.max_body_bytes)?;
    let sig = req.require_header_by(&SIGNATURE_HEADER_NAME, SIGNATURE_HEADER)?;
    let ts_text = req
        .require_header_by(&TIMESTAMP_HEADER_NAME, TIMESTAMP_HEADER)?
        .trim();
    let ts = signature::parse_timestamp(TIMESTAMP_HEADER, ts_text)?;
    let keys = &config.app_secret;
    let check = |body: &[u8]| {
        signature::verify_base64(
            Algorithm::Sha256,
            keys,
            SIGNATURE_HEADER,
            &[ts_text.as_bytes(), b":", body],
            sig,
        )
    };
    let mut result = check(&req.body);
    if result.is_err() && req.method == Method::DELETE && req.body.is_empty() {
        result = check(UNDEFINED_BODY);
    }
    result?;
    signature::check_window(timestamp_secs(ts), now, config.tolerance)?;
    if let Some(lookup) = &config.token_lookup {
        check_bearer(req, &lookup.accepted_tokens(req))?;
    }
    Ok(())
}

fn check_bearer(
    req: &WebhookRequest,
    accepted: &[omnichannel_core::SecretString],
) -> Result<(), VerifyError> {
    let value = req
        .header(AUTHORIZATION)?
        .ok_or(VerifyError::Unauthorized {
            reason: "missing Authorization header",
        })?;
    let (scheme, token) = value
        .trim()
        .split_once(' ')
        .ok_or(VerifyError::Unauthorized {
            reason: "expected Bearer authorization",
        })?;
    if !scheme.eq_ignore_ascii_case("bearer") {
        return Err(VerifyError::Unauthorized {
            reason: "expected Bearer authorization",
        });
    }
    let token = token.trim().as_bytes();
    let mut ok = false;
    for t in accepted {
        ok |= signature::constant_time_eq(t.expose_secret().as_bytes(), token);
    }
    if accepted.is_empty() {
        return Err(VerifyError::Unauthorized {
            reason: "no token is registered for this webhook",
        });
    }
    if ok {
        Ok(())
    } else {
        Err(VerifyError::Unauthorized {
            reason: "token does not match",
        })
    }
}

/// Parses a verified request into its typed form. An unknown `type` is an error (Front is
/// answered 400 `bad_request`). `raw` is the body's text (`null` for an empty delete).
///
/// A body of the usual shape (every field of its expected type, no key twice; a `payload` that
/// comes before `type` is a message) is read once, straight into the typed fields; any other body is read again as a
/// tree, which gives the answers to the unusual ones (a repeated key: the last wins) and the
/// exact error reasons.
pub fn parse(req: &WebhookRequest) -> Result<(FrontRequest, Raw)> {
    let body = req.body.as_ref();
    let trimmed = body.trim_ascii();
    if req.method == Method::DELETE && (trimmed.is_empty() || trimmed == UNDEFINED_BODY) {
        return Ok((
            FrontRequest::Delete { channel_id: None },
            Raw::from(serde_json::Value::Null),
        ));
    }
    if req.method != Method::POST && req.method != Method::DELETE {
        return Err(Error::malformed(format!(
            "Front sends POST or DELETE, not {}",
            req.method
        )));
    }
    if let Some(text) = omnichannel_core::utf8::to_str(body)
        && let Ok(FastRequest(parsed)) = serde_json::from_str::<FastRequest>(text)
    {
        return Ok((parsed, Raw::parsed_json_shared(&req.body, text)));
    }
    let raw: serde_json::Value = serde_json::from_slice(body).map_err(|e| {
        Error::malformed(format!(
            "body is not JSON: {}",
            category(&JsonFault::of(&e))
        ))
    })?;
    let parsed = request_of_tree(&raw)?;
    Ok((parsed, Raw::from(raw)))
}

/// [`parse`] on the body's tree: any JSON body, with the exact error reasons.
fn request_of_tree(raw: &serde_json::Value) -> Result<FrontRequest> {
    // The envelope is read in place: nothing is copied but the typed fields.
    let kind = raw
        .as_object()
        .and_then(|o| o.get("type"))
        .and_then(serde_json::Value::as_str)
        .ok_or_else(|| Error::malformed("body has no string `type`"))?;
    let payload = raw.get("payload").unwrap_or(&serde_json::Value::Null);
    let parsed = match kind {
        "authorization" => {
            let p: ChannelPayload = field(payload, "payload")?;
            FrontRequest::Authorization {
                channel_id: authorized_channel(p)?,
            }
        }
        "message" => FrontRequest::Message(message(payload)?),
        "message_autoreply" => FrontRequest::MessageAutoreply(message(payload)?),
        "message_imported" => FrontRequest::MessageImported {
            message: message(payload)?,
            metadata: match raw.get("metadata") {
                None | Some(serde_json::Value::Null) => None,
                Some(m) => Some(field::<ImportMetadata>(m, "metadata")?),
            },
        },
        "delete" => {
            let channel_id = match payload {
                serde_json::Value::Null => None,
                p => field::<ChannelPayload>(p, "payload")?.channel_id,
            };
            FrontRequest::Delete { channel_id }
        }
        other => {
            // The name is shown only when it looks like a type name: anything else is body
            // content, which errors never carry.
            let name_like = !other.is_empty()
                && other.len() <= 32
                && other
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_');
            return Err(Error::malformed(if name_like {
                format!("unknown request type `{other}` sent to the channel")
            } else {
                "unknown request type sent to the channel (not a type name)".to_string()
            }));
        }
    };
    Ok(parsed)
}

fn authorized_channel(p: ChannelPayload) -> Result<String> {
    p.channel_id
        .filter(|c| !c.is_empty())
        .ok_or_else(|| Error::malformed("authorization has no `payload.channel_id`"))
}

/// A request of the usual shape, read in one pass (see [`parse`]); any deviation is an error
/// that sends the body to [`request_of_tree`].
struct FastRequest(FrontRequest);

impl<'de> serde::Deserialize<'de> for FastRequest {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        use serde::de::Error as _;
        struct V;
        impl<'de> serde::de::Visitor<'de> for V {
            type Value = FastRequest;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a Front channel request")
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                mut map: A,
            ) -> std::result::Result<FastRequest, A::Error> {
                let mut kind: Option<Cow<'de, str>> = None;
                let mut request: Option<FrontRequest> = None;
                // A payload met before `type` (keys in any order) is read as a message, the
                // payload of most requests; for the other types the tree decides.
                let mut early_message: Option<FrontMessage> = None;
                let mut metadata: Option<Option<ImportMetadata>> = None;
                while let Some(key) = map.next_key::<Cow<'de, str>>()? {
                    match key.as_ref() {
                        "type" if kind.is_none() => kind = Some(map.next_value()?),
                        "payload" if request.is_none() && early_message.is_none() => {
                            let Some(kind) = kind.as_deref() else {
                                early_message = Some(map.next_value::<Object<FrontMessage>>()?.0);
                                continue;
                            };
                            request = Some(match kind {
                                "authorization" => {
                                    let p: ChannelPayload = map.next_value()?;
                                    FrontRequest::Authorization {
                                        channel_id: authorized_channel(p)
                                            .map_err(A::Error::custom)?,
                                    }
                                }
                                "message" => FrontRequest::Message(
                                    map.next_value::<Object<FrontMessage>>()?.0,
                                ),
                                "message_autoreply" => FrontRequest::MessageAutoreply(
                                    map.next_value::<Object<FrontMessage>>()?.0,
                                ),
                                "message_imported" => FrontRequest::MessageImported {
                                    message: map.next_value::<Object<FrontMessage>>()?.0,
                                    metadata: None,
                                },
                                "delete" => FrontRequest::Delete {
                                    channel_id: map
                                        .next_value::<Option<ChannelPayload>>()?
                                        .and_then(|p| p.channel_id),
                                },
                                _ => return Err(A::Error::custom("unknown type")),
                            });
                        }
                        "metadata" if metadata.is_none() => metadata = Some(map.next_value()?),
                        "type" | "payload" | "metadata" => {
                            return Err(A::Error::custom("a key given twice"));
                        }
                        _ => {
                            map.next_value::<serde::de::IgnoredAny>()?;
                        }
                    }
                }
                if let Some(message) = early_message {
                    request = Some(match kind.as_deref() {
                        Some("message") => FrontRequest::Message(message),
                        Some("message_autoreply") => FrontRequest::MessageAutoreply(message),
                        Some("message_imported") => FrontRequest::MessageImported {
                            message,
                            metadata: None,
                        },
                        _ => return Err(A::Error::custom("not a message request")),
                    });
                }
                let request = match (kind.as_deref(), request) {
                    (_, Some(FrontRequest::MessageImported { message, .. })) => {
                        FrontRequest::MessageImported {
                            message,
                            metadata: metadata.flatten(),
                        }
                    }
                    (_, Some(r)) => r,
                    (Some("delete"), None) => FrontRequest::Delete { channel_id: None },
                    _ => return Err(A::Error::custom("no payload")),
                };
                Ok(FastRequest(request))
            }
        }
        d.deserialize_map(V)
    }
}

fn message(payload: &serde_json::Value) -> Result<FrontMessage> {
    if !payload.is_object() {
        return Err(Error::malformed("`payload` must be a message object"));
    }
    field(payload, "payload")
}

fn field<T: serde::de::DeserializeOwned>(v: &serde_json::Value, name: &str) -> Result<T> {
    T::deserialize(v).map_err(|e| Error::malformed(format!("`{name}`: {}", short(&e))))
}

/// A parse error without any part of the body: "missing field" messages name the field, others
/// give only the category and position (serde's "invalid type" messages quote the value).
fn short(e: &serde_json::Error) -> String {
    match JsonFault::of(e) {
        // serde's own text: the position only when it has one.
        JsonFault::MissingField(m) if e.line() == 0 => m.chars().take(160).collect(),
        JsonFault::MissingField(m) => format!("{m} at line {} column {}", e.line(), e.column())
            .chars()
            .take(160)
            .collect(),
        fault => format!(
            "{} at line {} column {}",
            category(&fault),
            e.line(),
            e.column()
        ),
    }
}

fn category(fault: &JsonFault) -> &'static str {
    match fault {
        JsonFault::Io => "read error",
        JsonFault::Syntax => "syntax error",
        JsonFault::MissingField(_) | JsonFault::UnknownVariant | JsonFault::WrongValue => {
            "unexpected data"
        }
        JsonFault::Eof => "truncated",
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    /// The one-pass reading and the tree reading agree on every body: the same request, or
    /// (the one-pass reading refusing) the tree's answer.
    #[test]
    fn fast_path_matches_the_tree() {
        let msg = r#"{"id":"msg_1","type":"custom","body":"hi \"you\"\n","text":"hi","recipients":[{"handle":"alice","role":"to"},{"handle":"bob","role":"from"}],"attachments":[]}"#;
        let bodies: Vec<String> = vec![
            format!(r#"{{"type":"message","payload":{msg}}}"#),
            format!(r#"{{"type":"message_autoreply","payload":{msg},"extra":[1,{{"a":null}}]}}"#),
            format!(
                r#"{{"type":"message_imported","payload":{msg},"metadata":{{"external_conversation_ids":["c1"]}}}}"#
            ),
            format!(r#"{{"metadata":null,"type":"message_imported","payload":{msg}}}"#),
            format!(r#"{{"type":"message_imported","payload":{msg},"metadata":5}}"#),
            format!(r#"{{"type":"message","payload":{msg},"metadata":5}}"#),
            format!(r#"{{"payload":{msg},"type":"message"}}"#),
            format!(
                r#"{{"payload":{msg},"metadata":{{"external_conversation_ids":["c1"]}},"type":"message_imported"}}"#
            ),
            r#"{"payload":{"channel_id":"cha_1"},"type":"authorization"}"#.to_string(),
            r#"{"payload":{"channel_id":"cha_1"},"type":"delete"}"#.to_string(),
            r#"{"payload":null,"type":"delete"}"#.to_string(),
            format!(r#"{{"type":"message","type":"message","payload":{msg}}}"#),
            r#"{"type":"message","payload":["msg_1"]}"#.to_string(),
            r#"{"type":"message","payload":null}"#.to_string(),
            r#"{"type":"message"}"#.to_string(),
            r#"{"type":"authorization","payload":{"channel_id":"cha_1"}}"#.to_string(),
            r#"{"type":"authorization","payload":{"channel_id":""}}"#.to_string(),
            r#"{"type":"authorization","payload":["cha_1"]}"#.to_string(),
            r#"{"type":"authorization"}"#.to_string(),
            r#"{"type":"delete","payload":{"channel_id":"cha_1"}}"#.to_string(),
            r#"{"type":"delete","payload":null}"#.to_string(),
            r#"{"type":"delete"}"#.to_string(),
            r#"{"type":"nope","payload":{}}"#.to_string(),
            r#"{"type":5,"payload":{}}"#.to_string(),
            r#"[{"type":"delete"}]"#.to_string(),
            r#"{"type":"delete","#.to_string(),
        ];
        for body in &bodies {
            let req = WebhookRequest::new(
                Method::POST,
                "https://gw.test/webhooks/front/main",
                HeaderMap::new(),
                Bytes::from(body.clone()),
            );
            let fast = parse(&req).map_err(|e| e.to_string());
            let tree = serde_json::from_str::<serde_json::Value>(body)
                .map_err(|e| e.to_string())
                .and_then(|v| request_of_tree(&v).map_err(|e| e.to_string()));
            match (&fast, &tree) {
                (Ok((f, raw)), Ok(t)) => {
                    assert_eq!(f, t, "{body}");
                    // Read without a tree: `raw` is the request body's own bytes.
                    if let Some(text) = raw.as_json_text() {
                        assert_eq!(text.as_ptr(), req.body.as_ptr(), "{body}");
                    }
                    assert_eq!(
                        raw,
                        &serde_json::from_str::<serde_json::Value>(body).unwrap()
                    );
                }
                (Err(f), Err(t)) if !t.contains("line") => {
                    assert!(f.contains(t.as_str()) || f == t, "{body}: {f} / {t}")
                }
                (Err(_), Err(_)) => {}
                _ => panic!("{body}: {fast:?} / {tree:?}"),
            }
        }
    }

    fn cfg(secret: &str) -> FrontConfig {
        FrontConfig::builder("uid", SigningKeys::new(secret))
            .build()
            .unwrap()
    }

    fn at(secs: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(secs, 0).unwrap()
    }

    // Oracle: spec `front.md` section 3.3 (worked examples, secret EXAMPLE_APP_SECRET,
    // timestamp 1704067200000) and section 9.2 (the two-recipient message).
    #[test]
    fn spec_worked_examples() {
        let keys = SigningKeys::new("EXAMPLE_APP_SECRET");
        let ts = "1704067200000";
        for (body, expected) in [
            (
                &br#"{"type":"authorization","payload":{"channel_id":"cha_abc123"}}"#[..],
                "zZZTqs164mXb2ngRuyi9YCxjA8wOWGr7HWottqddR7k=",
            ),
            (
                br#"{"type":"delete","payload":{"channel_id":"cha_abc123"}}"#,
                "dvrz3C0jYf6HhSMWficCtssgMiPTltN72vP+1s+kbAY=",
            ),
            (b"undefined", "NcXotFjqWa4RyvqXIxDYYYgeuoMUtLIq1Br2IfZcy4k="),
        ] {
            assert_eq!(sign(&keys, ts, body), expected);
        }
        // The empty-body DELETE signed by the signer is the `undefined` example.
        let r = sign_request(
            &keys,
            Method::DELETE,
            "https://p.test/front/x",
            at(1_704_067_200),
            Bytes::new(),
        );
        assert_eq!(
            r.headers[SIGNATURE_HEADER],
            "NcXotFjqWa4RyvqXIxDYYYgeuoMUtLIq1Br2IfZcy4k="
        );
        assert_eq!(
            verify(&cfg("EXAMPLE_APP_SECRET"), &r, at(1_704_067_200)),
            Ok(())
        );
    }

    #[test]
    fn seconds_and_millis() {
        assert_eq!(timestamp_secs(1_704_067_200_000), 1_704_067_200);
        assert_eq!(timestamp_secs(1_704_067_200), 1_704_067_200);
        let c = cfg("test-secret-not-real");
        let body = br#"{"type":"authorization","payload":{"channel_id":"cha_1"}}"#;
        for ts in ["1704067200", "1704067200000"] {
            let mut r = sign_request(
                &c.app_secret,
                Method::POST,
                "https://p.test/",
                at(0),
                &body[..],
            );
            r.headers.insert(
                TIMESTAMP_HEADER,
                HeaderValue::from_static(if ts.len() == 10 {
                    "1704067200"
                } else {
                    "1704067200000"
                }),
            );
            let s = sign(&c.app_secret, ts, body);
            r.headers
                .insert(SIGNATURE_HEADER, HeaderValue::from_str(&s).unwrap());
            assert_eq!(verify(&c, &r, at(1_704_067_260)), Ok(()));
            assert!(matches!(
                verify(&c, &r, at(1_704_067_200 + 301)),
                Err(VerifyError::StaleTimestamp { .. })
            ));
            assert!(matches!(
                verify(&c, &r, at(1_704_067_200 - 301)),
                Err(VerifyError::StaleTimestamp { .. })
            ));
        }
    }

    #[test]
    fn refusals() {
        let c = cfg("test-secret-not-real");
        let body = br#"{"type":"message","payload":{}}"#;
        let good = sign_request(
            &c.app_secret,
            Method::POST,
            "https://p.test/",
            at(1_700_000_000),
            &body[..],
        );
        assert_eq!(verify(&c, &good, at(1_700_000_000)), Ok(()));
        let mut changed = good.clone();
        changed.body = Bytes::from_static(br#"{"type":"message","payload":{} }"#);
        assert_eq!(
            verify(&c, &changed, at(1_700_000_000)),
            Err(VerifyError::SignatureMismatch)
        );
        assert_eq!(
            verify(&cfg("another-test-secret"), &good, at(1_700_000_000)),
            Err(VerifyError::SignatureMismatch)
        );
        let mut missing = good.clone();
        missing.headers.remove(SIGNATURE_HEADER);
        assert!(matches!(
            verify(&c, &missing, at(1_700_000_000)),
            Err(VerifyError::MissingHeader { .. })
        ));
        let mut doubled = good.clone();
        doubled
            .headers
            .append(TIMESTAMP_HEADER, HeaderValue::from_static("1700000000000"));
        assert!(matches!(
            verify(&c, &doubled, at(1_700_000_000)),
            Err(VerifyError::DuplicateHeader { .. })
        ));
        let mut bad_ts = good.clone();
        bad_ts
            .headers
            .insert(TIMESTAMP_HEADER, HeaderValue::from_static("12x"));
        assert!(matches!(
            verify(&c, &bad_ts, at(1_700_000_000)),
            Err(VerifyError::MalformedHeader { .. })
        ));
        let mut bad_sig = good.clone();
        bad_sig
            .headers
            .insert(SIGNATURE_HEADER, HeaderValue::from_static("not base64!"));
        assert!(matches!(
            verify(&c, &bad_sig, at(1_700_000_000)),
            Err(VerifyError::MalformedHeader { .. })
        ));
        // `undefined` is only an alternative for an empty DELETE, never for a POST.
        let mut post_empty = sign_request(
            &c.app_secret,
            Method::DELETE,
            "https://p.test/",
            at(1_700_000_000),
            Bytes::new(),
        );
        post_empty.method = Method::POST;
        assert_eq!(
            verify(&c, &post_empty, at(1_700_000_000)),
            Err(VerifyError::SignatureMismatch)
        );
        let small = FrontConfig::builder("uid", SigningKeys::new("test-secret-not-real"))
            .max_body_bytes(4)
            .build()
            .unwrap();
        assert!(matches!(
            verify(&small, &good, at(1_700_000_000)),
            Err(VerifyError::PayloadTooLarge { .. })
        ));
    }

    #[test]
    fn bearer_token_lookup() {
        let c = FrontConfig::builder("uid", SigningKeys::new("test-secret-not-real"))
            .bearer_tokens(|r: &WebhookRequest| {
                if r.url.ends_with("/known") {
                    vec![omnichannel_core::SecretString::from("user-token-not-real")]
                } else {
                    vec![]
                }
            })
            .build()
            .unwrap();
        let body = br#"{"type":"delete"}"#;
        let mut r = sign_request(
            &c.app_secret,
            Method::DELETE,
            "https://p.test/known",
            at(1_700_000_000),
            &body[..],
        );
        assert_eq!(
            verify(&c, &r, at(1_700_000_000)),
            Err(VerifyError::Unauthorized {
                reason: "missing Authorization header"
            })
        );
        r.headers.insert(
            "authorization",
            HeaderValue::from_static("Token user-token-not-real"),
        );
        assert!(matches!(
            verify(&c, &r, at(1_700_000_000)),
            Err(VerifyError::Unauthorized { .. })
        ));
        r.headers
            .insert("authorization", HeaderValue::from_static("Bearer wrong"));
        assert_eq!(
            verify(&c, &r, at(1_700_000_000)),
            Err(VerifyError::Unauthorized {
                reason: "token does not match"
            })
        );
        r.headers.insert(
            "authorization",
            HeaderValue::from_static("Bearer user-token-not-real"),
        );
        assert_eq!(verify(&c, &r, at(1_700_000_000)), Ok(()));
        r.url = "https://p.test/other".into();
        assert!(matches!(
            verify(&c, &r, at(1_700_000_000)),
            Err(VerifyError::Unauthorized { .. })
        ));
    }

    #[test]
    fn parse_types() {
        let req = |m: Method, b: &'static str| {
            WebhookRequest::new(
                m,
                "https://p.test/",
                HeaderMap::new(),
                Bytes::from_static(b.as_bytes()),
            )
        };
        let (p, _) = parse(&req(
            Method::POST,
            r#"{"type":"authorization","payload":{"channel_id":"cha_1"}}"#,
        ))
        .unwrap();
        assert_eq!(
            p,
            FrontRequest::Authorization {
                channel_id: "cha_1".into()
            }
        );
        let (p, raw) = parse(&req(Method::DELETE, "")).unwrap();
        assert_eq!(p, FrontRequest::Delete { channel_id: None });
        assert_eq!(raw, serde_json::Value::Null);
        let (p, _) = parse(&req(Method::DELETE, "undefined")).unwrap();
        assert_eq!(p, FrontRequest::Delete { channel_id: None });
        let (p, _) = parse(&req(Method::DELETE, r#"{"type":"delete"}"#)).unwrap();
        assert_eq!(p, FrontRequest::Delete { channel_id: None });
        for bad in [
            r#"{"type":"nope"}"#,
            r#"{"payload":{}}"#,
            "not json",
            r#"{"type":"authorization","payload":{}}"#,
            r#"{"type":"message","payload":[1]}"#,
            r#"{"type":"message","payload":{"recipients":[{"role":"to"}]}}"#,
            "",
        ] {
            let e = parse(&req(Method::POST, bad)).unwrap_err();
            assert_eq!(e.kind(), "malformed_payload", "{bad}");
            assert!(!e.to_string().contains("not json"));
        }
        assert_eq!(
            parse(&req(Method::PUT, "{}")).unwrap_err().kind(),
            "malformed_payload"
        );
    }
}
