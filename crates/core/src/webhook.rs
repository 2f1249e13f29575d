//! Webhook requests as the provider sent them, and the replies it expects.

use bytes::Bytes;
use http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode};

use crate::error::VerifyError;
use crate::event::Event;

/// An incoming webhook request, exactly as the provider called it.
///
/// `url` is the public URL the provider called (scheme, host, port, path and query): schemes such
/// as SignalWire's sign it, so a host behind a proxy must give the public one, not a URL guessed
/// from the `Host` header.
#[derive(Debug, Clone)]
pub struct WebhookRequest {
    /// The HTTP method.
    pub method: Method,
    /// The full public URL the provider called.
    pub url: String,
    /// The headers as received.
    pub headers: HeaderMap,
    /// The raw body, byte for byte.
    pub body: Bytes,
}

impl WebhookRequest {
    /// A request from its parts.
    pub fn new(method: Method, url: impl Into<String>, headers: HeaderMap, body: Bytes) -> Self {
        WebhookRequest {
            method,
            url: url.into(),
            headers,
            body,
        }
    }

    /// A request from an `http::Request`; `public_base` (for example `https://hooks.example.com`)
    /// replaces whatever scheme and authority the request's URI had, keeping path and query.
    pub fn from_http(req: http::Request<Bytes>, public_base: Option<&str>) -> Self {
        let (parts, body) = req.into_parts();
        let path_and_query = parts
            .uri
            .path_and_query()
            .map(|p| p.as_str())
            .unwrap_or("/");
        let url = match public_base {
            Some(base) => format!("{}{}", base.trim_end_matches('/'), path_and_query),
            None => parts.uri.to_string(),
        };
        WebhookRequest {
            method: parts.method,
            url,
            headers: parts.headers,
            body,
        }
    }

    /// The single value of a header: `Ok(None)` when absent, an error when it appears more than
    /// once or is not visible ASCII.
    pub fn header(&self, name: &'static str) -> Result<Option<&str>, VerifyError> {
        self.header_by(name, name)
    }

    /// [`WebhookRequest::header`] for a header given as a [`HeaderName`] (a constant: its name is
    /// not parsed on every call) or a string; `label` names it in errors. The same answers.
    pub fn header_by(
        &self,
        name: impl http::header::AsHeaderName,
        label: &'static str,
    ) -> Result<Option<&str>, VerifyError> {
        self.header_value_by(name, label)?
            .map(|v| header_text(v, label))
            .transpose()
    }

    /// The single value of a header as bytes, not yet checked to be text: `Ok(None)` when
    /// absent, an error when it appears more than once. For a verifier that reads the
    /// provider's usual form straight from the bytes and gives anything else to
    /// [`header_text`] and its text parser.
    pub fn header_value_by(
        &self,
        name: impl http::header::AsHeaderName,
        label: &'static str,
    ) -> Result<Option<&HeaderValue>, VerifyError> {
        let mut values = self.headers.get_all(name).iter();
        let Some(first) = values.next() else {
            return Ok(None);
        };
        if values.next().is_some() {
            return Err(VerifyError::DuplicateHeader { header: label });
        }
        Ok(Some(first))
    }

    /// The single value of a header that must be present.
    pub fn require_header(&self, name: &'static str) -> Result<&str, VerifyError> {
        self.require_header_by(name, name)
    }

    /// [`WebhookRequest::require_header`] for a header given as a [`HeaderName`] (a constant)
    /// or a string; `label` names it in errors. The same answers.
    ///
    /// ```
    /// use http::{HeaderMap, HeaderName, HeaderValue, Method};
    /// use omnichannel_core::{VerifyError, WebhookRequest};
    ///
    /// const SIGNATURE: HeaderName = HeaderName::from_static("x-signature");
    /// let mut headers = HeaderMap::new();
    /// headers.insert(SIGNATURE, HeaderValue::from_static("abc"));
    /// let req = WebhookRequest::new(Method::POST, "https://example.test/hook", headers, "{}".into());
    /// assert_eq!(req.require_header_by(&SIGNATURE, "X-Signature")?, "abc");
    /// let none = WebhookRequest::new(Method::POST, "https://example.test/hook", HeaderMap::new(), "{}".into());
    /// assert!(matches!(
    ///     none.require_header_by(&SIGNATURE, "X-Signature"),
    ///     Err(VerifyError::MissingHeader { header: "X-Signature" })
    /// ));
    /// # Ok::<(), VerifyError>(())
    /// ```
    pub fn require_header_by(
        &self,
        name: impl http::header::AsHeaderName,
        label: &'static str,
    ) -> Result<&str, VerifyError> {
        self.header_by(name, label)?
            .ok_or(VerifyError::MissingHeader { header: label })
    }

    /// The first of several alternative header names that is present (for example
    /// `X-SignalWire-Signature` or `X-Twilio-Signature`); each must appear at most once.
    pub fn first_header_of(
        &self,
        names: &[&'static str],
    ) -> Result<Option<(&'static str, &str)>, VerifyError> {
        self.first_header_by(names.iter().map(|&name| (name, name)))
    }

    /// [`WebhookRequest::first_header_of`] for headers given as [`HeaderName`]s (constants) or
    /// strings, each with the label that names it in errors and in the answer. The same answers.
    ///
    /// ```
    /// use http::{HeaderMap, HeaderName, HeaderValue, Method};
    /// use omnichannel_core::{VerifyError, WebhookRequest};
    ///
    /// const MAIN: HeaderName = HeaderName::from_static("x-main-signature");
    /// const ALIAS: HeaderName = HeaderName::from_static("x-alias-signature");
    /// let mut headers = HeaderMap::new();
    /// headers.insert(ALIAS, HeaderValue::from_static("abc"));
    /// let req = WebhookRequest::new(Method::POST, "https://example.test/hook", headers, "".into());
    /// let names = [(&MAIN, "X-Main-Signature"), (&ALIAS, "X-Alias-Signature")];
    /// assert_eq!(req.first_header_by(names)?, Some(("X-Alias-Signature", "abc")));
    /// # Ok::<(), VerifyError>(())
    /// ```
    pub fn first_header_by<N: http::header::AsHeaderName>(
        &self,
        names: impl IntoIterator<Item = (N, &'static str)>,
    ) -> Result<Option<(&'static str, &str)>, VerifyError> {
        for (name, label) in names {
            if let Some(v) = self.header_by(name, label)? {
                return Ok(Some((label, v)));
            }
        }
        Ok(None)
    }

    /// Refuses a body larger than `limit` bytes.
    pub fn check_body_limit(&self, limit: usize) -> Result<(), VerifyError> {
        if self.body.len() > limit {
            return Err(VerifyError::PayloadTooLarge {
                size: self.body.len(),
                limit,
            });
        }
        Ok(())
    }

    /// The query part of the URL, without `?`.
    pub fn query(&self) -> Option<&str> {
        let q = self.url.split_once('?')?.1;
        Some(q.split('#').next().unwrap_or(q))
    }
}

/// The answer a provider expects to a webhook.
#[derive(Debug, Clone, PartialEq)]
pub struct WebhookReply {
    /// HTTP status.
    pub status: StatusCode,
    /// Headers (content type and any the provider needs).
    pub headers: HeaderMap,
    /// Body bytes.
    pub body: Bytes,
}

impl WebhookReply {
    /// A reply with a status and no body.
    pub fn empty(status: StatusCode) -> Self {
        WebhookReply {
            status,
            headers: HeaderMap::new(),
            body: Bytes::new(),
        }
    }

    /// 200 with no body.
    pub fn ok() -> Self {
        Self::empty(StatusCode::OK)
    }

    /// A JSON reply.
    pub fn json(status: StatusCode, value: &serde_json::Value) -> Self {
        let mut headers = HeaderMap::new();
        headers.insert(
            http::header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
        WebhookReply {
            status,
            headers,
            body: Bytes::from(serde_json::to_vec(value).unwrap_or_default()),
        }
    }

    /// A reply with a content type and a body.
    pub fn with_body(
        status: StatusCode,
        content_type: &'static str,
        body: impl Into<Bytes>,
    ) -> Self {
        let mut headers = HeaderMap::new();
        headers.insert(
            http::header::CONTENT_TYPE,
            HeaderValue::from_static(content_type),
        );
        WebhookReply {
            status,
            headers,
            body: body.into(),
        }
    }

    /// Adds a header.
    pub fn header(mut self, name: HeaderName, value: HeaderValue) -> Self {
        self.headers.insert(name, value);
        self
    }

    /// Converts into an `http::Response`.
    pub fn into_http(self) -> http::Response<Bytes> {
        let mut res = http::Response::new(self.body);
        *res.status_mut() = self.status;
        *res.headers_mut() = self.headers;
        res
    }
}

/// A header value as text, as [`WebhookRequest::header`] gives it: an error naming `label` when
/// it is not visible ASCII.
pub fn header_text<'a>(
    value: &'a HeaderValue,
    label: &'static str,
) -> Result<&'a str, VerifyError> {
    value.to_str().map_err(|_| VerifyError::MalformedHeader {
        header: label,
        reason: "not visible ASCII",
    })
}

/// What [`Channel::receive`](crate::Channel::receive) returns for an accepted request: the
/// normalized events (possibly none) and the reply the provider expects.
#[derive(Debug, Clone)]
pub struct Inbound {
    /// Normalized events, in the provider's order.
    pub events: Vec<Event>,
    /// The reply to send back.
    pub reply: WebhookReply,
}

impl Inbound {
    /// Events with a reply.
    pub fn new(events: Vec<Event>, reply: WebhookReply) -> Self {
        Inbound { events, reply }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_by_name_answers_as_header_by_string() {
        let values: &[&[&[u8]]] = &[
            &[],
            &[b"Token abc"],
            &[b"Token abc", b"Token abc"],
            &[b"Token \xc3\xa9"],
            &[b""],
            &[b"application/json"],
        ];
        for vals in values {
            let mut headers = HeaderMap::new();
            for v in *vals {
                headers.append(
                    http::header::AUTHORIZATION,
                    HeaderValue::from_bytes(v).unwrap(),
                );
                headers.append(
                    http::header::CONTENT_TYPE,
                    HeaderValue::from_bytes(v).unwrap(),
                );
            }
            let req = WebhookRequest::new(Method::POST, "https://h.test/x", headers, Bytes::new());
            assert_eq!(
                req.header_by(&http::header::AUTHORIZATION, "authorization"),
                req.header("authorization")
            );
            assert_eq!(
                req.header_by(&http::header::CONTENT_TYPE, "content-type"),
                req.header("content-type")
            );
        }
    }

    fn req(headers: &[(&'static str, &[u8])]) -> WebhookRequest {
        let mut map = HeaderMap::new();
        for (k, v) in headers {
            map.append(*k, HeaderValue::from_bytes(v).unwrap());
        }
        WebhookRequest::new(Method::POST, "https://h.test/x?a=1", map, Bytes::new())
    }

    #[test]
    fn headers_missing_doubled_malformed() {
        let r = req(&[("x-sig", b"abc")]);
        assert_eq!(r.require_header("x-sig").unwrap(), "abc");
        assert_eq!(
            r.require_header("x-other").unwrap_err(),
            VerifyError::MissingHeader { header: "x-other" }
        );
        let d = req(&[("x-sig", b"a"), ("x-sig", b"b")]);
        assert_eq!(
            d.header("x-sig").unwrap_err(),
            VerifyError::DuplicateHeader { header: "x-sig" }
        );
        let m = req(&[("x-sig", b"\xff\xfe")]);
        assert!(matches!(
            m.header("x-sig").unwrap_err(),
            VerifyError::MalformedHeader { .. }
        ));
        assert_eq!(r.query(), Some("a=1"));
    }

    #[test]
    fn from_http_uses_public_base() {
        let http_req = http::Request::builder()
            .method("POST")
            .uri("/webhooks/x?y=1")
            .header("host", "internal:8080")
            .body(Bytes::from_static(b"{}"))
            .unwrap();
        let r = WebhookRequest::from_http(http_req, Some("https://public.test/"));
        assert_eq!(r.url, "https://public.test/webhooks/x?y=1");
    }

    #[test]
    fn reply_into_http() {
        let r = WebhookReply::json(StatusCode::CREATED, &serde_json::json!({"id": "1"}));
        let h = r.into_http();
        assert_eq!(h.status(), 201);
        assert_eq!(h.headers()["content-type"], "application/json");
        assert_eq!(h.body().as_ref(), br#"{"id":"1"}"#);
    }
}
