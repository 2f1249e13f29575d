//! Calls to the Compatibility REST API: send a message, fetch and list messages (for
//! reconciliation, since status callbacks are best effort), list and download media.
//!
//! Paths follow the API documentation: `{space}/api/laml/2010-04-01/Accounts/{project}/...`.
//! Every call uses HTTP Basic auth (project id, API token) in a sensitive header.
//!
//! Errors map to core kinds: `21610` → [`Error::OptedOut`]; HTTP 429 or code `20429` →
//! [`Error::RateLimited`] (with `Retry-After`); 401/403 → [`Error::Unauthorized`]; 5xx and
//! 408 → a retryable [`Error::Provider`]; other 4xx → a permanent [`Error::Provider`] with the
//! provider's code (an integer or a string in the body) and message.

use std::collections::HashSet;
use std::sync::Arc;

use bytes::Bytes;
use http::HeaderMap;
use omnichannel_core::http::{
    DEFAULT_MAX_RESPONSE_BYTES, Idempotency, RetryPolicy, read_body_limited, retry_after,
    with_retry,
};
use omnichannel_core::{Clock, Error, Result};
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
use serde::de::DeserializeOwned;

use crate::auth::BasicCredentials;
use crate::model::{ApiError, ApiMedia, ApiMessage, MediaPage, MessagePage};

/// The Compatibility API's path prefix.
pub const API_PREFIX: &str = "/api/laml/2010-04-01";

/// Longest provider message kept in an error.
const MAX_ERROR_MESSAGE_CHARS: usize = 300;

/// Characters left as they are in a path segment.
const SEGMENT: &AsciiSet = &NON_ALPHANUMERIC.remove(b'-').remove(b'_').remove(b'.');

fn segment(s: &str) -> String {
    utf8_percent_encode(s, SEGMENT).to_string()
}

/// The form of `POST .../Messages.json`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct CreateMessage {
    /// Recipient, E.164.
    pub to: String,
    /// Sender number or short code (either this or `messaging_service_sid`).
    pub from: Option<String>,
    /// Number group to send from.
    pub messaging_service_sid: Option<String>,
    /// Text, at most 1600 characters.
    pub body: Option<String>,
    /// Media URLs, at most 8, sent as repeated `MediaUrl`.
    pub media_urls: Vec<String>,
    /// Where status changes are posted.
    pub status_callback: Option<String>,
}

impl CreateMessage {
    /// The form fields in the order they are sent.
    pub fn form(&self) -> Vec<(&'static str, String)> {
        let mut f = vec![("To", self.to.clone())];
        if let Some(v) = &self.from {
            f.push(("From", v.clone()));
        }
        if let Some(v) = &self.messaging_service_sid {
            f.push(("MessagingServiceSid", v.clone()));
        }
        if let Some(v) = &self.body {
            f.push(("Body", v.clone()));
        }
        for u in &self.media_urls {
            f.push(("MediaUrl", u.clone()));
        }
        if let Some(v) = &self.status_callback {
            f.push(("StatusCallback", v.clone()));
        }
        f
    }
}

/// Filters of `GET .../Messages.json`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ListMessages {
    /// Only messages to this number.
    pub to: Option<String>,
    /// Only messages from this number.
    pub from: Option<String>,
    /// Only messages with this status.
    pub status: Option<String>,
    /// Only messages sent on this day (`YYYY-MM-DD`, UTC).
    pub date_sent: Option<String>,
    /// Only messages sent before this day (`DateSent<`).
    pub date_sent_before: Option<String>,
    /// Only messages sent after this day (`DateSent>`).
    pub date_sent_after: Option<String>,
    /// Page size (default 50, at most 1000).
    pub page_size: Option<u32>,
}

impl ListMessages {
    fn query(&self) -> String {
        let mut s = url::form_urlencoded::Serializer::new(String::new());
        let pairs = [
            ("To", &self.to),
            ("From", &self.from),
            ("Status", &self.status),
            ("DateSent", &self.date_sent),
            ("DateSent<", &self.date_sent_before),
            ("DateSent>", &self.date_sent_after),
        ];
        for (k, v) in pairs {
            if let Some(v) = v {
                s.append_pair(k, v);
            }
        }
        if let Some(n) = self.page_size {
            s.append_pair("PageSize", &n.min(1000).to_string());
        }
        s.finish()
    }
}

/// Downloaded media bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MediaContent {
    /// The `Content-Type` of the answer.
    pub content_type: Option<String>,
    /// The bytes.
    pub bytes: Bytes,
}

/// The error for a non-2xx answer of the Compatibility API.
pub fn error_from_response(
    status: u16,
    headers: &HeaderMap,
    body: &[u8],
    now: chrono::DateTime<chrono::Utc>,
) -> Error {
    let parsed: Option<ApiError> = serde_json::from_slice(body).ok();
    let code = parsed.as_ref().and_then(|e| e.code.clone());
    let message = parsed
        .as_ref()
        .and_then(|e| e.message.as_deref())
        .map(|m| m.chars().take(MAX_ERROR_MESSAGE_CHARS).collect::<String>())
        .unwrap_or_else(|| format!("HTTP {status}"));
    let wait = retry_after(headers, now);
    match code.as_deref() {
        Some("21610") => return Error::OptedOut { code },
        Some("20429") => {
            return Error::RateLimited {
                retry_after: wait,
                code,
            };
        }
        _ => {}
    }
    Error::from_status(status, code, message, wait)
}

/// A client of the Compatibility API for one project.
#[derive(Clone)]
pub struct ApiClient {
    http: reqwest::Client,
    base: String,
    creds: BasicCredentials,
    clock: Arc<dyn Clock>,
    retry: RetryPolicy,
    max_pages: usize,
    max_response_bytes: usize,
}

impl std::fmt::Debug for ApiClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ApiClient")
            .field("base", &self.base)
            .field("creds", &self.creds)
            .field("max_pages", &self.max_pages)
            .finish_non_exhaustive()
    }
}

impl ApiClient {
    /// A client of the space at `space_url` (already rebased by the host's environment).
    pub fn new(
        http: reqwest::Client,
        space_url: &str,
        creds: BasicCredentials,
        clock: Arc<dyn Clock>,
    ) -> Self {
        ApiClient {
            http,
            base: space_url.trim_end_matches('/').to_string(),
            creds,
            clock,
            retry: RetryPolicy::default(),
            max_pages: crate::config::DEFAULT_MAX_PAGES,
            max_response_bytes: DEFAULT_MAX_RESPONSE_BYTES,
        }
    }

    /// Sets the retry policy of reads (sends are never retried: the API has no idempotency
    /// key, so a repeated create could send the message twice).
    pub fn with_retry(mut self, retry: RetryPolicy) -> Self {
        self.retry = retry;
        self
    }

    /// Sets the most pages one listing call follows.
    pub fn with_max_pages(mut self, n: usize) -> Self {
        self.max_pages = n.max(1);
        self
    }

    fn account_url(&self) -> String {
        format!(
            "{}{API_PREFIX}/Accounts/{}",
            self.base,
            segment(self.creds.project_id())
        )
    }

    /// `.../Messages.json`.
    pub fn messages_url(&self) -> String {
        format!("{}/Messages.json", self.account_url())
    }

    fn origin(&self) -> Option<String> {
        url::Url::parse(&self.base)
            .ok()
            .map(|u| u.origin().ascii_serialization())
    }

    /// Resolves a `*_page_uri` or media `uri` (a path) against the space. An absolute URL is
    /// accepted only on the space's own origin, so credentials never go elsewhere.
    pub fn resolve(&self, uri: &str) -> Result<String> {
        let origin = self
            .origin()
            .ok_or_else(|| Error::config("space_url", "not an absolute URL"))?;
        if uri.starts_with('/') && !uri.starts_with("//") {
            return Ok(format!("{origin}{uri}"));
        }
        let other = url::Url::parse(uri).map_err(|_| Error::Provider {
            status: None,
            code: None,
            message: "the answer has a resource URI that is not a path".into(),
            retryable: false,
            retry_after: None,
        })?;
        if other.origin().ascii_serialization() != origin {
            return Err(Error::Provider {
                status: None,
                code: None,
                message: "the answer points to another host; not following it with credentials"
                    .into(),
                retryable: false,
                retry_after: None,
            });
        }
        Ok(uri.to_string())
    }

    async fn execute(
        &self,
        req: reqwest::RequestBuilder,
        accept: &'static str,
        limit: usize,
    ) -> Result<(u16, HeaderMap, Bytes)> {
        let res = req
            .header(http::header::AUTHORIZATION, self.creds.header()?)
            .header(http::header::ACCEPT, accept)
            .send()
            .await
            .map_err(Error::from_reqwest)?;
        let status = res.status().as_u16();
        let headers = res.headers().clone();
        let body = read_body_limited(res, limit).await?;
        if !(200..300).contains(&status) {
            return Err(error_from_response(
                status,
                &headers,
                &body,
                self.clock.now(),
            ));
        }
        Ok((status, headers, body))
    }

    async fn get_json<T: DeserializeOwned>(&self, url: &str) -> Result<(T, serde_json::Value)> {
        let (_, _, body) = with_retry(&self.retry, Idempotency::Idempotent, |_| {
            self.execute(
                self.http.get(url),
                "application/json",
                self.max_response_bytes,
            )
        })
        .await?;
        decode(&body)
    }

    /// Sends a message: `POST .../Messages.json`. Returns the created message and the answer
    /// as JSON. Not retried (see [`with_retry`](ApiClient::with_retry)).
    pub async fn create_message(
        &self,
        msg: &CreateMessage,
    ) -> Result<(ApiMessage, serde_json::Value)> {
        let req = self.http.post(self.messages_url()).form(&msg.form());
        let (_, _, body) = self
            .execute(req, "application/json", self.max_response_bytes)
            .await?;
        let (m, raw): (ApiMessage, serde_json::Value) = decode(&body)?;
        if m.sid.is_empty() {
            return Err(Error::Provider {
                status: None,
                code: None,
                message: "the answer has no message sid".into(),
                retryable: false,
                retry_after: None,
            });
        }
        Ok((m, raw))
    }

    /// One message: `GET .../Messages/{sid}.json`.
    pub async fn fetch_message(&self, sid: &str) -> Result<ApiMessage> {
        let url = format!("{}/Messages/{}.json", self.account_url(), segment(sid));
        Ok(self.get_json(&url).await?.0)
    }

    /// The first page of messages matching `filter`.
    pub async fn list_messages_page(&self, filter: &ListMessages) -> Result<MessagePage> {
        let q = filter.query();
        let url = if q.is_empty() {
            self.messages_url()
        } else {
            format!("{}?{q}", self.messages_url())
        };
        Ok(self.get_json(&url).await?.0)
    }

    /// The page after `page`; `None` when `next_page_uri` is null or empty.
    pub async fn next_messages_page(&self, page: &MessagePage) -> Result<Option<MessagePage>> {
        match page.next_page_uri.as_deref().filter(|u| !u.is_empty()) {
            None => Ok(None),
            Some(uri) => Ok(Some(self.get_json(&self.resolve(uri)?).await?.0)),
        }
    }

    async fn all_pages<P: DeserializeOwned, T>(
        &self,
        first_url: String,
        split: impl Fn(P) -> (Vec<T>, Option<String>),
    ) -> Result<Vec<T>> {
        let mut out = Vec::new();
        let mut seen = HashSet::new();
        let mut next = Some(first_url);
        let mut pages = 0;
        while let Some(url) = next.take() {
            if pages == self.max_pages {
                return Err(Error::invalid_input(
                    "max_pages",
                    format!(
                        "the listing has more than {} pages; narrow the filter or page yourself",
                        self.max_pages
                    ),
                ));
            }
            if !seen.insert(url.clone()) {
                return Err(Error::Provider {
                    status: None,
                    code: None,
                    message: "paging returned a page already seen".into(),
                    retryable: false,
                    retry_after: None,
                });
            }
            pages += 1;
            let (page, _) = self.get_json::<P>(&url).await?;
            let (items, next_uri) = split(page);
            out.extend(items);
            if let Some(uri) = next_uri.filter(|u| !u.is_empty()) {
                next = Some(self.resolve(&uri)?);
            }
        }
        Ok(out)
    }

    /// Every message matching `filter`, following `next_page_uri` (null or empty ends) up to
    /// `max_pages` pages (more is an `invalid_input` error rather than a silent cut).
    pub async fn list_messages(&self, filter: &ListMessages) -> Result<Vec<ApiMessage>> {
        let q = filter.query();
        let first = if q.is_empty() {
            self.messages_url()
        } else {
            format!("{}?{q}", self.messages_url())
        };
        self.all_pages(first, |p: MessagePage| (p.messages, p.next_page_uri))
            .await
    }

    /// The media of a message: `GET .../Messages/{sid}/Media.json`, every page.
    pub async fn list_media(&self, message_sid: &str) -> Result<Vec<ApiMedia>> {
        let first = format!(
            "{}/Messages/{}/Media.json",
            self.account_url(),
            segment(message_sid)
        );
        self.all_pages(first, |p: MediaPage| (p.media_list, p.next_page_uri))
            .await
    }

    /// The bytes of a listed medium: its `uri` without `.json`, refusing more than
    /// `max_bytes`.
    pub async fn download_media(&self, media: &ApiMedia, max_bytes: usize) -> Result<MediaContent> {
        let uri = media
            .uri
            .as_deref()
            .ok_or_else(|| Error::invalid_input("media.uri", "the medium has no uri"))?;
        let uri = uri.strip_suffix(".json").unwrap_or(uri);
        let url = self.resolve(uri)?;
        self.download(&url, max_bytes, true).await
    }

    /// The bytes behind an inbound `MediaUrl{N}`. The project's credentials are sent only when
    /// the URL is on the space's own origin (Media URL Protection); elsewhere the URL is
    /// fetched without them.
    pub async fn download_media_url(&self, url: &str, max_bytes: usize) -> Result<MediaContent> {
        let parsed = url::Url::parse(url)
            .map_err(|_| Error::invalid_input("media_url", "not an absolute URL"))?;
        if !matches!(parsed.scheme(), "http" | "https") {
            return Err(Error::invalid_input("media_url", "not an http(s) URL"));
        }
        let same_origin = self
            .origin()
            .is_some_and(|o| o == parsed.origin().ascii_serialization());
        self.download(url, max_bytes, same_origin).await
    }

    async fn download(&self, url: &str, max_bytes: usize, auth: bool) -> Result<MediaContent> {
        let (_, headers, bytes) = with_retry(&self.retry, Idempotency::Idempotent, |_| async {
            if auth {
                self.execute(self.http.get(url), "*/*", max_bytes).await
            } else {
                let res = self
                    .http
                    .get(url)
                    .header(http::header::ACCEPT, "*/*")
                    .send()
                    .await
                    .map_err(Error::from_reqwest)?;
                let status = res.status().as_u16();
                let headers = res.headers().clone();
                let body = read_body_limited(res, max_bytes).await?;
                if !(200..300).contains(&status) {
                    return Err(error_from_response(
                        status,
                        &headers,
                        &body,
                        self.clock.now(),
                    ));
                }
                Ok((status, headers, body))
            }
        })
        .await?;
        Ok(MediaContent {
            content_type: headers
                .get(http::header::CONTENT_TYPE)
                .and_then(|v| v.to_str().ok())
                .map(str::to_string),
            bytes,
        })
    }
}

fn decode<T: DeserializeOwned>(body: &[u8]) -> Result<(T, serde_json::Value)> {
    let raw: serde_json::Value = serde_json::from_slice(body).map_err(|_| Error::Provider {
        status: None,
        code: None,
        message: "the answer is not JSON".into(),
        retryable: false,
        retry_after: None,
    })?;
    // The position only: a parser message could quote message content.
    let typed = serde_json::from_slice(body).map_err(|e| Error::Provider {
        status: None,
        code: None,
        message: format!(
            "unexpected answer shape at line {} column {}",
            e.line(),
            e.column()
        ),
        retryable: false,
        retry_after: None,
    })?;
    Ok((typed, raw))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn now() -> chrono::DateTime<chrono::Utc> {
        chrono::DateTime::from_timestamp(1_700_000_000, 0).unwrap()
    }

    #[test]
    fn error_classes() {
        let h = HeaderMap::new();
        let e = error_from_response(400, &h, br#"{"code":21610,"message":"stop"}"#, now());
        assert_eq!(e.kind(), "opted_out");
        let e = error_from_response(400, &h, br#"{"code":"21610"}"#, now());
        assert_eq!(e.kind(), "opted_out");
        let mut h429 = HeaderMap::new();
        h429.insert("retry-after", http::HeaderValue::from_static("3"));
        let e = error_from_response(429, &h429, b"", now());
        assert_eq!(e.kind(), "rate_limited");
        assert_eq!(e.retry_after(), Some(std::time::Duration::from_secs(3)));
        let e = error_from_response(400, &h, br#"{"code":"20429"}"#, now());
        assert_eq!(e.kind(), "rate_limited");
        assert!(e.retryable());
        let e = error_from_response(503, &h, b"uh oh", now());
        assert_eq!(e.kind(), "provider_error");
        assert!(e.retryable());
        let e = error_from_response(
            422,
            &h,
            br#"{"code":"21717","message":"From must belong to an active campaign."}"#,
            now(),
        );
        assert_eq!(e.kind(), "provider_error");
        assert!(!e.retryable());
        assert!(e.to_string().contains("21717"), "{e}");
        let e = error_from_response(401, &h, br#"{"code":20003}"#, now());
        assert_eq!(e.kind(), "unauthorized");
    }

    #[test]
    fn form_order_and_repeats() {
        let m = CreateMessage {
            to: "+1".into(),
            from: Some("+2".into()),
            body: Some("hi".into()),
            media_urls: vec!["a".into(), "b".into()],
            status_callback: Some("https://cb".into()),
            ..Default::default()
        };
        let names: Vec<_> = m.form().into_iter().map(|(k, _)| k).collect();
        assert_eq!(
            names,
            [
                "To",
                "From",
                "Body",
                "MediaUrl",
                "MediaUrl",
                "StatusCallback"
            ]
        );
    }

    #[test]
    fn list_query() {
        let q = ListMessages {
            to: Some("+1555".into()),
            date_sent_before: Some("2024-01-02".into()),
            page_size: Some(5000),
            ..Default::default()
        }
        .query();
        assert_eq!(q, "To=%2B1555&DateSent%3C=2024-01-02&PageSize=1000");
    }
}
