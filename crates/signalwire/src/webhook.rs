//! Verifying and parsing what SignalWire sends (inbound SMS/MMS and status callbacks), and
//! the signer tests and `omnichannel simulate` use.
//!
//! # The signature (Compatibility / cXML requests)
//!
//! `X-SignalWire-Signature` (or `X-Twilio-Signature`) is
//! `base64(HMAC-SHA1(signing key, url + name1 + value1 + name2 + value2 ...))` where `url` is
//! the full URL SignalWire called (scheme, host, port if any, path, query exactly as
//! configured), and the form parameters (decoded) are sorted by name, byte order, a repeated
//! name keeping its values in the order received. `MediaUrl10` sorts before `MediaUrl2`.
//!
//! - SignalWire signs some requests with the default port in the URL and some without, so the
//!   URL as given, and with the default port added (no port) or removed (`:443` for https,
//!   `:80` for http), are all tried. The scheme is never switched.
//! - A JSON body is signed through its hash: the URL carries `bodySHA256=<hex sha256 of the
//!   body>`, the signature covers the URL with no parameters, and the hash must match the body
//!   (a body that does not match is a [`VerifyError::SignatureMismatch`]).
//! - A `GET` webhook carries its parameters in the query, which the URL already covers.
//! - A signature of 40 hex characters is the SDKs' other scheme (RELAY/SWML JSON webhooks):
//!   `hex(HMAC-SHA1(signing key, url + raw body))`; it is accepted too, as the official
//!   validators do.
//!
//! There is no timestamp: a replayed request verifies. Deduplicate on the event id
//! (`MessageSid`, plus the status for callbacks), which is stable across redeliveries.
//!
//! The URL must be the public one SignalWire called. Behind a proxy, set `public_base_url`.

use std::borrow::Cow;
use std::sync::Arc;

use bytes::Bytes;
use http::{HeaderMap, HeaderName, HeaderValue, Method};
use omnichannel_core::signature::{self, Algorithm, SigningKeys, hex_digit};
use omnichannel_core::{Error, Raw, Result, VerifyError, WebhookRequest};
use sha2::Digest as _;

use crate::model::{Params, SignalwireEvent};

/// The signature header.
pub const SIGNATURE_HEADER: &str = "X-SignalWire-Signature";
/// The Twilio-compatible alias of the signature header.
pub const TWILIO_SIGNATURE_HEADER: &str = "X-Twilio-Signature";

/// [`SIGNATURE_HEADER`] and [`TWILIO_SIGNATURE_HEADER`] as header names, made once (a `&str` is
/// parsed on every lookup).
const SIGNATURE_HEADER_NAME: HeaderName = HeaderName::from_static("x-signalwire-signature");
const TWILIO_SIGNATURE_HEADER_NAME: HeaderName = HeaderName::from_static("x-twilio-signature");
/// The query parameter carrying the SHA-256 of a JSON body.
pub const BODY_SHA256_PARAM: &str = "bodySHA256";

/// Raw, decoded form parameters (bytes, so the signature covers exactly what was sent).
pub type RawParams = Vec<(Vec<u8>, Vec<u8>)>;

/// Where a verified request's parameters came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Payload {
    /// An `application/x-www-form-urlencoded` body.
    Form(RawParams),
    /// The query of a `GET` request.
    Query(RawParams),
    /// A JSON body (verified through `bodySHA256` or the hex scheme).
    Json(Bytes),
}

/// A request whose signature checked out.
#[derive(Debug, Clone)]
pub struct Verified {
    /// The public URL the signature was checked against (the variant as given).
    pub url: String,
    /// The parameters.
    pub payload: Payload,
}

/// Splits `scheme://authority` from the rest (path, query, fragment).
fn split_url(url: &str) -> Option<(&str, &str, &str)> {
    let (scheme, after) = url.split_once("://")?;
    if scheme.is_empty() {
        return None;
    }
    let end = after.find(['/', '?', '#']).unwrap_or(after.len());
    let (authority, rest) = after.split_at(end);
    if authority.is_empty() {
        return None;
    }
    Some((scheme, authority, rest))
}

/// Splits `host[:port]` (keeps userinfo and IPv6 brackets in the host part).
fn split_port(authority: &str) -> (&str, Option<&str>) {
    let host_start = authority.rfind('@').map(|i| i + 1).unwrap_or(0);
    let hostport = &authority[host_start..];
    let colon = if hostport.starts_with('[') {
        hostport
            .find(']')
            .and_then(|i| hostport[i..].find(':').map(|j| i + j))
    } else {
        hostport.rfind(':')
    };
    match colon {
        Some(c) => (
            &authority[..host_start + c],
            Some(&authority[host_start + c + 1..]),
        ),
        None => (authority, None),
    }
}

fn default_port(scheme: &str) -> Option<&'static str> {
    if scheme.eq_ignore_ascii_case("https") {
        Some("443")
    } else if scheme.eq_ignore_ascii_case("http") {
        Some("80")
    } else {
        None
    }
}

/// The URLs a signature may have been computed over: the URL as given first, then with the
/// default port added (when it has none) or removed (when it has the scheme's default port).
/// A non-default port is only tried as given. The scheme is never changed.
pub fn url_variants(url: &str) -> Vec<String> {
    let mut out = vec![url.to_string()];
    let Some((scheme, authority, rest)) = split_url(url) else {
        return out;
    };
    let Some(default) = default_port(scheme) else {
        return out;
    };
    match split_port(authority) {
        (host, None) => out.push(format!("{scheme}://{host}:{default}{rest}")),
        (host, Some(port)) if port == default => out.push(format!("{scheme}://{host}{rest}")),
        _ => {}
    }
    out
}

/// The URL to verify: the request URL, with scheme, host and port replaced by `public_base`
/// when given. A path in `public_base` is a prefix, added unless the request path already
/// starts with it (a proxy that strips a prefix, or one that keeps it).
pub fn public_url(request_url: &str, public_base: Option<&str>) -> Result<String, VerifyError> {
    let path_and_query = if request_url.starts_with('/') {
        request_url
    } else if let Some((_, _, rest)) = split_url(request_url) {
        rest
    } else {
        return Err(VerifyError::Malformed {
            reason: "the request URL is neither absolute nor a path".into(),
        });
    };
    let Some(base) = public_base else {
        if request_url.starts_with('/') {
            return Err(VerifyError::Malformed {
                reason: "the request URL has no scheme and host; set public_base_url".into(),
            });
        }
        return Ok(request_url.to_string());
    };
    let base = base.trim_end_matches('/');
    let Some((scheme, authority, prefix)) = split_url(base) else {
        return Err(VerifyError::Malformed {
            reason: "public_base_url is not an absolute URL".into(),
        });
    };
    let path_and_query = if path_and_query.is_empty() {
        "/"
    } else {
        path_and_query
    };
    let path = path_and_query.split(['?', '#']).next().unwrap_or("");
    let has_prefix = prefix.is_empty()
        || path == prefix
        || path
            .strip_prefix(prefix)
            .is_some_and(|r| r.starts_with('/'));
    if has_prefix {
        Ok(format!("{scheme}://{authority}{path_and_query}"))
    } else {
        Ok(format!("{scheme}://{authority}{prefix}{path_and_query}"))
    }
}

/// `+` as a space, `%XX` as the byte (a `%` without two hex digits stays as is), in one pass.
///
/// Byte by byte into a buffer of the input's size (the output is never longer): in chat text
/// nearly every word ends with an escape (`+`, `%21`, `%C3%A8`), so runs are a few bytes long
/// and copying each run as a slice cost a call per run, more than the bytes themselves.
fn decode_component(s: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(s.len());
    let mut i = 0;
    while let Some(&b) = s.get(i) {
        i += 1;
        let byte = match b {
            b'+' => b' ',
            b'%' => match (
                s.get(i).copied().and_then(hex_digit),
                s.get(i + 1).copied().and_then(hex_digit),
            ) {
                (Some(hi), Some(lo)) => {
                    i += 2;
                    hi << 4 | lo
                }
                _ => b'%',
            },
            other => other,
        };
        out.push(byte);
    }
    out
}

/// Decodes `application/x-www-form-urlencoded` data in order (`+` is a space, `%XX` a byte,
/// a piece without `=` a name with an empty value, empty pieces skipped), refusing more than
/// `max_params` parameters (decoding stops at the first one over the limit).
pub fn decode_form(data: &[u8], max_params: usize) -> Result<RawParams, VerifyError> {
    let mut out = Vec::new();
    for p in data.split(|b| *b == b'&').filter(|p| !p.is_empty()) {
        if out.len() == max_params {
            return Err(VerifyError::Malformed {
                reason: format!("more than {max_params} parameters"),
            });
        }
        let (k, v) = match memchr::memchr(b'=', p) {
            Some(i) => (&p[..i], &p[i + 1..]),
            None => (p, &[][..]),
        };
        out.push((decode_component(k), decode_component(v)));
    }
    Ok(out)
}

/// The bytes that are signed: `url` followed by each parameter's name and value, sorted by
/// name (byte order, stable: a repeated name keeps its values in order).
pub fn signature_base<K: AsRef<[u8]>, V: AsRef<[u8]>>(url: &str, params: &[(K, V)]) -> Vec<u8> {
    let mut out = url.as_bytes().to_vec();
    out.extend_from_slice(&sorted_params(params));
    out
}

/// The signed bytes after the URL: each parameter's name and value, sorted by name (stable).
fn sorted_params<K: AsRef<[u8]>, V: AsRef<[u8]>>(params: &[(K, V)]) -> Vec<u8> {
    let sorted = sorted_pairs(params);
    let mut out = Vec::with_capacity(sorted.iter().map(|(k, v)| k.len() + v.len()).sum());
    for (k, v) in sorted {
        out.extend_from_slice(k);
        out.extend_from_slice(v);
    }
    out
}

/// The parameters sorted by name (byte order, stable: a repeated name keeps its values' order).
fn sorted_pairs<K: AsRef<[u8]>, V: AsRef<[u8]>>(params: &[(K, V)]) -> Vec<(&[u8], &[u8])> {
    let mut sorted: Vec<(&[u8], &[u8])> = params
        .iter()
        .map(|(k, v)| (k.as_ref(), v.as_ref()))
        .collect();
    sorted.sort_by(|a, b| a.0.cmp(b.0));
    sorted
}

/// The `X-SignalWire-Signature` SignalWire would send for these parameters at `url`, signed
/// with the primary key.
pub fn compute_signature<K: AsRef<[u8]>, V: AsRef<[u8]>>(
    keys: &SigningKeys,
    url: &str,
    params: &[(K, V)],
) -> String {
    signature::sign_base64(Algorithm::Sha1, keys, &[&signature_base(url, params)])
}

/// Lowercase hex SHA-256 of a body (the `bodySHA256` query value).
pub fn body_sha256_hex(body: &[u8]) -> String {
    hex::encode(sha2::Sha256::digest(body))
}

fn form_encode(params: &[(&str, &str)]) -> String {
    let mut s = url::form_urlencoded::Serializer::new(String::new());
    for (k, v) in params {
        s.append_pair(k, v);
    }
    s.finish()
}

fn signed_request(
    method: Method,
    url: &str,
    sig: &str,
    ctype: Option<&'static str>,
    body: Bytes,
) -> WebhookRequest {
    let mut headers = HeaderMap::new();
    if let Ok(v) = HeaderValue::from_str(sig) {
        headers.insert(SIGNATURE_HEADER, v);
    }
    if let Some(ct) = ctype {
        headers.insert(http::header::CONTENT_TYPE, HeaderValue::from_static(ct));
    }
    WebhookRequest::new(method, url, headers, body)
}

/// A form `POST` to `url` as SignalWire sends it: the parameters encoded in order, signed with
/// the primary key.
pub fn sign_request(keys: &SigningKeys, url: &str, params: &[(&str, &str)]) -> WebhookRequest {
    let sig = compute_signature(keys, url, params);
    signed_request(
        Method::POST,
        url,
        &sig,
        Some("application/x-www-form-urlencoded"),
        Bytes::from(form_encode(params)),
    )
}

/// A `GET` to `url` with the parameters appended to its query, signed over the whole URL.
pub fn sign_get_request(keys: &SigningKeys, url: &str, params: &[(&str, &str)]) -> WebhookRequest {
    let sep = if url.contains('?') { '&' } else { '?' };
    let full = format!("{url}{sep}{}", form_encode(params));
    let no_params: [(&str, &str); 0] = [];
    let sig = compute_signature(keys, &full, &no_params);
    signed_request(Method::GET, &full, &sig, None, Bytes::new())
}

/// A JSON `POST`: `bodySHA256=<hex>` is appended to the URL's query and the signature covers
/// that URL with no parameters.
pub fn sign_json_request(keys: &SigningKeys, url: &str, body: &[u8]) -> WebhookRequest {
    let sep = if url.contains('?') { '&' } else { '?' };
    let full = format!("{url}{sep}{BODY_SHA256_PARAM}={}", body_sha256_hex(body));
    let no_params: [(&str, &str); 0] = [];
    let sig = compute_signature(keys, &full, &no_params);
    signed_request(
        Method::POST,
        &full,
        &sig,
        Some("application/json"),
        Bytes::copy_from_slice(body),
    )
}

/// Verifies SignalWire's signature on webhook requests.
#[derive(Debug, Clone)]
pub struct Verifier {
    keys: SigningKeys,
    public_base_url: Option<String>,
    max_body_bytes: usize,
    max_params: usize,
}

fn is_hex_signature(s: &str) -> bool {
    s.len() == 40 && s.bytes().all(|b| b.is_ascii_hexdigit())
}

impl Verifier {
    /// A verifier with these keys and limits.
    pub fn new(
        keys: SigningKeys,
        public_base_url: Option<String>,
        max_body_bytes: usize,
        max_params: usize,
    ) -> Self {
        Verifier {
            keys,
            public_base_url,
            max_body_bytes,
            max_params,
        }
    }

    /// Checks the signature of a request and returns its parameters.
    pub fn verify(&self, req: &WebhookRequest) -> Result<Verified, VerifyError> {
        req.check_body_limit(self.max_body_bytes)?;
        let (header, sig) = req
            .first_header_by([
                (&SIGNATURE_HEADER_NAME, SIGNATURE_HEADER),
                (&TWILIO_SIGNATURE_HEADER_NAME, TWILIO_SIGNATURE_HEADER),
            ])?
            .ok_or(VerifyError::MissingHeader {
                header: SIGNATURE_HEADER,
            })?;
        let url = public_url(&req.url, self.public_base_url.as_deref())?;
        // The URL as given first; its other form (port written or not) only when that fails.
        let variants = || {
            std::iter::once(Cow::Borrowed(url.as_str())).chain(
                std::iter::once_with(|| url_variants(&url))
                    .flat_map(|v| v.into_iter().skip(1).map(Cow::Owned)),
            )
        };
        let query = url
            .split_once('?')
            .map(|(_, q)| q.split('#').next().unwrap_or(q));
        let query_params = match query {
            Some(q) => decode_form(q.as_bytes(), self.max_params)?,
            None => Vec::new(),
        };
        let body_hash = query_params
            .iter()
            .find(|(k, _)| k == BODY_SHA256_PARAM.as_bytes())
            .map(|(_, v)| v.clone());
        let is_get = req.method == Method::GET || req.method == Method::HEAD;

        if is_hex_signature(sig.trim()) {
            // The SDKs' scheme for JSON webhooks: hex over URL + raw body.
            let mut result = Err(VerifyError::SignatureMismatch);
            for u in variants() {
                let r = signature::verify_hex(
                    Algorithm::Sha1,
                    &self.keys,
                    header,
                    &[u.as_bytes(), &req.body],
                    sig,
                );
                if r.is_ok() {
                    result = Ok(());
                    break;
                }
            }
            result?;
            let payload = if is_get {
                Payload::Query(query_params)
            } else if looks_like_json(req) {
                Payload::Json(req.body.clone())
            } else {
                Payload::Form(decode_form(&req.body, self.max_params)?)
            };
            return Ok(Verified { url, payload });
        }

        let payload = if body_hash.is_some() {
            Payload::Json(req.body.clone())
        } else if is_get {
            Payload::Query(query_params)
        } else {
            Payload::Form(decode_form(&req.body, self.max_params)?)
        };
        // Only a form body's parameters are signed (a query is part of the URL): the MAC reads
        // the URL, then each name and value in name order, in place (no copy of the body).
        let signed: Vec<&[u8]> = match &payload {
            Payload::Form(form) => sorted_pairs(form)
                .into_iter()
                .flat_map(|(k, v)| [k, v])
                .collect(),
            Payload::Query(_) | Payload::Json(_) => Vec::new(),
        };
        // The first variant that matches ends the search: which URL form SignalWire signed is
        // no secret (every key is still tried for each variant, in constant time).
        let mut matched = false;
        for u in variants() {
            let mut parts = Vec::with_capacity(signed.len() + 1);
            parts.push(u.as_bytes());
            parts.extend_from_slice(&signed);
            match signature::verify_base64(Algorithm::Sha1, &self.keys, header, &parts, sig) {
                Ok(()) => {
                    matched = true;
                    break;
                }
                Err(VerifyError::SignatureMismatch) => {}
                Err(e) => return Err(e),
            }
        }
        if !matched {
            return Err(VerifyError::SignatureMismatch);
        }
        if let Some(expected) = body_hash {
            let actual = body_sha256_hex(&req.body);
            let expected = expected.to_ascii_lowercase();
            if !signature::constant_time_eq(actual.as_bytes(), &expected) {
                return Err(VerifyError::SignatureMismatch);
            }
        }
        Ok(Verified { url, payload })
    }
}

fn looks_like_json(req: &WebhookRequest) -> bool {
    match req
        .headers
        .get(http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
    {
        Some(ct) => ct.to_ascii_lowercase().contains("json"),
        None => req.body.iter().find(|b| !b.is_ascii_whitespace()) == Some(&b'{'),
    }
}

fn utf8(bytes: Vec<u8>, what: &str) -> Result<String> {
    String::from_utf8(bytes).map_err(|_| Error::malformed(format!("{what} is not UTF-8")))
}

/// The parameters of a verified request as text, and the `raw` JSON of its events.
pub fn params_of(payload: &Payload, max_params: usize) -> Result<(Arc<Params>, Raw)> {
    match payload {
        Payload::Form(raw) | Payload::Query(raw) => text_params(raw.clone()),
        Payload::Json(body) => {
            let value: serde_json::Value = serde_json::from_slice(body).map_err(|e| {
                Error::malformed(format!(
                    "JSON body does not parse (line {}, column {})",
                    e.line(),
                    e.column()
                ))
            })?;
            let obj = value
                .as_object()
                .ok_or_else(|| Error::malformed("JSON body is not an object"))?;
            if obj.len() > max_params {
                return Err(Error::malformed(format!(
                    "more than {max_params} parameters"
                )));
            }
            let mut out = Vec::with_capacity(obj.len());
            for (k, v) in obj {
                let s = match v {
                    serde_json::Value::String(s) => s.clone(),
                    serde_json::Value::Number(n) => n.to_string(),
                    serde_json::Value::Bool(b) => b.to_string(),
                    serde_json::Value::Null => continue,
                    _ => {
                        return Err(Error::malformed(format!(
                            "JSON field `{k}` is not a scalar"
                        )));
                    }
                };
                out.push((k.clone(), s));
            }
            Ok((Arc::new(Params(out)), Raw::from(value)))
        }
    }
}

/// Parses a verified request into the typed event and its `raw` JSON.
pub fn parse(
    verified: &Verified,
    max_params: usize,
    max_media: usize,
) -> Result<(SignalwireEvent, Raw)> {
    let (params, raw) = params_of(&verified.payload, max_params)?;
    Ok((SignalwireEvent::from_params(params, max_media)?, raw))
}

/// [`parse`] of a request the caller no longer needs: the decoded parameters become the text
/// parameters without a copy.
pub fn parse_owned(
    verified: Verified,
    max_params: usize,
    max_media: usize,
) -> Result<(SignalwireEvent, Raw)> {
    let (params, raw) = match verified.payload {
        Payload::Form(decoded) | Payload::Query(decoded) => text_params(decoded)?,
        json @ Payload::Json(_) => params_of(&json, max_params)?,
    };
    Ok((SignalwireEvent::from_params(params, max_media)?, raw))
}

/// Decoded parameters as text (each must be UTF-8), and their `raw` JSON object.
fn text_params(decoded: RawParams) -> Result<(Arc<Params>, Raw)> {
    // Converted in place: a name and a value are the same size as bytes and as text.
    let out = decoded
        .into_iter()
        .map(|(k, v)| {
            Ok((
                utf8(k, "a parameter name")?,
                utf8(v, "the value of a parameter")?,
            ))
        })
        .collect::<Result<Vec<_>>>()?;
    let params = Arc::new(Params(out));
    let raw = Raw::deferred(params.clone());
    Ok((params, raw))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    /// `decode_component` as it was written before it went byte by byte (runs copied as
    /// slices): the oracle of the property test below.
    fn decode_by_runs(s: &[u8]) -> Vec<u8> {
        let mut out = Vec::with_capacity(s.len());
        let mut rest = s;
        while let Some(i) = rest.iter().position(|b| *b == b'+' || *b == b'%') {
            out.extend_from_slice(&rest[..i]);
            if rest[i] == b'+' {
                out.push(b' ');
                rest = &rest[i + 1..];
                continue;
            }
            let hi = rest.get(i + 1).copied().and_then(hex_digit);
            let lo = rest.get(i + 2).copied().and_then(hex_digit);
            match (hi, lo) {
                (Some(h), Some(l)) => {
                    out.push(h << 4 | l);
                    rest = &rest[i + 3..];
                }
                _ => {
                    out.push(b'%');
                    rest = &rest[i + 1..];
                }
            }
        }
        out.extend_from_slice(rest);
        out
    }

    proptest::proptest! {
        /// Any component (escapes cut short at the end, bad hex digits, `%%`, bytes that are
        /// not text) decodes as the run-by-run decoder decoded it.
        #[test]
        fn component_decoding_is_the_run_decoding(
            s in proptest::collection::vec(
                proptest::prop_oneof![
                    proptest::sample::select(b"+%0123456789abcdefABCDEFgz=&".to_vec()),
                    proptest::num::u8::ANY,
                ],
                0..48,
            )
        ) {
            proptest::prop_assert_eq!(decode_component(&s), decode_by_runs(&s));
        }
    }

    #[test]
    fn variants() {
        assert_eq!(
            url_variants("https://h.test/a?b=1"),
            ["https://h.test/a?b=1", "https://h.test:443/a?b=1"]
        );
        assert_eq!(
            url_variants("https://h.test:443/a"),
            ["https://h.test:443/a", "https://h.test/a"]
        );
        assert_eq!(
            url_variants("http://h.test"),
            ["http://h.test", "http://h.test:80"]
        );
        assert_eq!(
            url_variants("https://h.test:8443/a"),
            ["https://h.test:8443/a"]
        );
        // Port 80 on https is not a default: only as given, never switched to http.
        assert_eq!(url_variants("https://h.test:80/a"), ["https://h.test:80/a"]);
        assert_eq!(
            url_variants("https://[::1]/x"),
            ["https://[::1]/x", "https://[::1]:443/x"]
        );
        assert_eq!(
            url_variants("https://u:p@h.test:443/x"),
            ["https://u:p@h.test:443/x", "https://u:p@h.test/x"]
        );
        assert_eq!(url_variants("not a url"), ["not a url"]);
    }

    #[test]
    fn public_urls() {
        let base = Some("https://hooks.example.com");
        assert_eq!(
            public_url("http://10.0.0.5:8080/sw/sms?t=1", base).unwrap(),
            "https://hooks.example.com/sw/sms?t=1"
        );
        assert_eq!(
            public_url("/sw/sms", base).unwrap(),
            "https://hooks.example.com/sw/sms"
        );
        let prefixed = Some("https://hooks.example.com/edge");
        assert_eq!(
            public_url("http://internal/sw/sms", prefixed).unwrap(),
            "https://hooks.example.com/edge/sw/sms"
        );
        assert_eq!(
            public_url("http://internal/edge/sw/sms", prefixed).unwrap(),
            "https://hooks.example.com/edge/sw/sms"
        );
        assert!(public_url("/sw/sms", None).is_err());
        assert_eq!(
            public_url("https://a.test/x", None).unwrap(),
            "https://a.test/x"
        );
    }

    #[test]
    fn form_decoding() {
        let f = decode_form(b"a=1&b=x+y&c=%2B1&&d&a=2&e=%ZZ", 10).unwrap();
        assert_eq!(
            f,
            vec![
                (b"a".to_vec(), b"1".to_vec()),
                (b"b".to_vec(), b"x y".to_vec()),
                (b"c".to_vec(), b"+1".to_vec()),
                (b"d".to_vec(), b"".to_vec()),
                (b"a".to_vec(), b"2".to_vec()),
                (b"e".to_vec(), b"%ZZ".to_vec()),
            ]
        );
        assert!(matches!(
            decode_form(b"a=1&b=2&c=3", 2),
            Err(VerifyError::Malformed { .. })
        ));
    }

    #[test]
    fn sorting_is_byte_order_and_stable() {
        let base = signature_base(
            "u",
            &[
                ("MediaUrl2", "b"),
                ("MediaUrl10", "a"),
                ("X", "2"),
                ("X", "1"),
            ],
        );
        assert_eq!(base, b"uMediaUrl10aMediaUrl2bX2X1");
    }
}
