//! The Channel API calls a partner makes into Front (spec `front.md` section 5), each signed
//! with a fresh channel JWT ([`crate::auth`]).
//!
//! - sync inbound: `POST /channels/{id}/inbound_messages` (a contact wrote);
//! - sync outbound: `POST /channels/{id}/outbound_messages` (the business sent outside Front);
//!   both as JSON, or `multipart/form-data` when there are attachments (≤ 25 MB each);
//! - mark failed: `PUT /channels/{id}/conversations/{conv}/messages/{msg}/status`;
//! - channel status: `PATCH /channels/{id}`;
//! - download of Front attachment URLs with the channel JWT.
//!
//! Multipart bodies name nested fields `sender[handle]`, `to[0][handle]`,
//! `metadata[external_id]` and files `attachments[0]`, `attachments[1]`, ... as WebhookDB does
//! (spec `front.md` section 6; Front's attachments page also shows `name[]`).
//!
//! Errors: 429 → `rate_limited` with `retry-after` (seconds); `{"_error": {status, title,
//! message, details}}` → the provider error; 5xx retryable.

use std::sync::Arc;

use bytes::Bytes;
use chrono::{DateTime, Utc};
use http::{HeaderMap, Method};
use omnichannel_core::http::{
    DEFAULT_MAX_RESPONSE_BYTES, Idempotency, RetryPolicy, bearer, read_body_limited, retry_after,
    with_retry,
};
use omnichannel_core::{Clock, Error, ExposeSecret, Result};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::auth::ChannelJwt;
use crate::config::MAX_ATTACHMENT_BYTES;

/// A contact in a sync request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SyncContact {
    /// The contact's handle (a phone number with its `+` country code, a user id, ...).
    pub handle: String,
    /// Display name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Email, to link the contact to existing ones.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
}

/// `metadata` of a sync request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SyncMetadata {
    /// The partner's unique message id (≤ 200 characters).
    pub external_id: String,
    /// The partner's conversation id: decides threading (≤ 200 characters).
    pub external_conversation_id: String,
    /// The external id of the message this one replies to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub referenced_message_external_id: Option<String>,
}

/// A file sent with a sync request (multipart).
#[derive(Clone, PartialEq, Eq)]
pub struct FileUpload {
    /// File name.
    pub filename: String,
    /// MIME type.
    pub content_type: String,
    /// The bytes (at most 25 MB).
    pub data: Bytes,
}

impl std::fmt::Debug for FileUpload {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FileUpload")
            .field("filename", &self.filename)
            .field("content_type", &self.content_type)
            .field("size", &self.data.len())
            .finish()
    }
}

/// Body of sync inbound.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SyncInbound {
    /// The contact who wrote.
    pub sender: SyncContact,
    /// Subject.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub subject: Option<String>,
    /// Body (HTML or text).
    pub body: String,
    /// Ids.
    pub metadata: SyncMetadata,
    /// When the message was created in the external system, Unix seconds.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub delivered_at: Option<i64>,
    /// Files (sent as multipart when not empty).
    #[serde(skip)]
    pub attachments: Vec<FileUpload>,
}

/// Body of sync outbound.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SyncOutbound {
    /// The recipients.
    pub to: Vec<SyncContact>,
    /// Sender name shown in Front.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sender_name: Option<String>,
    /// Subject.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub subject: Option<String>,
    /// The teammate on whose behalf the message was sent.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub author_id: Option<String>,
    /// Body (HTML or text).
    pub body: String,
    /// Ids.
    pub metadata: SyncMetadata,
    /// When the message was sent, Unix seconds.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub delivered_at: Option<i64>,
    /// Files (sent as multipart when not empty).
    #[serde(skip)]
    pub attachments: Vec<FileUpload>,
}

/// Front's answer to a sync call (202).
#[derive(Debug, Clone, PartialEq)]
pub struct Accepted {
    /// `accepted`.
    pub status: Option<String>,
    /// The Front message uid.
    pub message_uid: Option<String>,
    /// The answer as received.
    pub raw: Value,
}

/// Channel status for [`ChannelApi::set_status`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChannelStatus {
    /// The channel works.
    Ok,
    /// The channel is offline.
    Offline,
}

/// A downloaded attachment.
#[derive(Clone)]
pub struct Download {
    /// The bytes.
    pub data: Bytes,
    /// The content type Front gave.
    pub content_type: Option<String>,
}

impl std::fmt::Debug for Download {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Download")
            .field("size", &self.data.len())
            .field("content_type", &self.content_type)
            .finish()
    }
}

/// Front's error body.
#[derive(Debug, Deserialize)]
struct ErrorBody {
    #[serde(rename = "_error")]
    error: ErrorDetail,
}

#[derive(Debug, Deserialize)]
struct ErrorDetail {
    #[serde(default)]
    title: Option<String>,
    #[serde(default)]
    message: Option<String>,
    #[serde(default)]
    details: Option<Vec<Value>>,
}

/// Maps an error answer to the core error: 429 → `rate_limited` (with `retry-after`), 401/403 →
/// `unauthorized`, 5xx → retryable provider error, other 4xx → permanent provider error. The
/// `_error` body gives the code (its `title`) and message (its `message` and `details`).
pub fn error_from_response(
    status: u16,
    headers: &HeaderMap,
    body: &[u8],
    now: DateTime<Utc>,
) -> Error {
    let (code, message) = match serde_json::from_slice::<ErrorBody>(body) {
        Ok(b) => {
            let mut msg = b.error.message.unwrap_or_default();
            let details: Vec<String> = b
                .error
                .details
                .unwrap_or_default()
                .into_iter()
                .take(10)
                .map(|d| match d {
                    Value::String(s) => s,
                    other => other.to_string(),
                })
                .collect();
            if !details.is_empty() {
                if !msg.is_empty() {
                    msg.push_str(": ");
                }
                msg.push_str(&details.join("; "));
            }
            (b.error.title, msg)
        }
        Err(_) => (None, format!("HTTP {status} without a Front error body")),
    };
    let message: String = message.chars().take(500).collect();
    Error::from_status(status, code, message, retry_after(headers, now))
}

/// The Channel API client.
#[derive(Clone)]
pub struct ChannelApi {
    http: reqwest::Client,
    base: url::Url,
    jwt: ChannelJwt,
    retry: RetryPolicy,
    clock: Arc<dyn Clock>,
}

impl std::fmt::Debug for ChannelApi {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ChannelApi")
            .field("base", &self.base.as_str())
            .field("jwt", &self.jwt)
            .finish_non_exhaustive()
    }
}

enum Payload {
    None,
    Json(Value),
    Multipart(Vec<(String, String)>, Vec<(String, FileUpload)>),
}

impl ChannelApi {
    /// A client for `base_url` (Front's, or a test server's).
    pub fn new(
        http: reqwest::Client,
        base_url: &str,
        jwt: ChannelJwt,
        retry: RetryPolicy,
        clock: Arc<dyn Clock>,
    ) -> Result<Self> {
        let base = url::Url::parse(base_url)
            .map_err(|_| Error::config("api_base_url", "not an absolute URL"))?;
        if base.cannot_be_a_base() {
            return Err(Error::config("api_base_url", "not a base URL"));
        }
        Ok(ChannelApi {
            http,
            base,
            jwt,
            retry,
            clock,
        })
    }

    /// The URL of a path under the base, each segment percent-encoded.
    pub fn url(&self, segments: &[&str]) -> Result<url::Url> {
        let mut u = self.base.clone();
        u.path_segments_mut()
            .map_err(|_| Error::config("api_base_url", "not a base URL"))?
            .pop_if_empty()
            .extend(segments);
        Ok(u)
    }

    /// Imports a message a contact wrote. Retried (with a fresh JWT) only when `idem` says so.
    pub async fn sync_inbound(
        &self,
        channel_id: &str,
        msg: &SyncInbound,
        idem: Idempotency,
    ) -> Result<Accepted> {
        let payload = if msg.attachments.is_empty() {
            Payload::Json(to_json(msg)?)
        } else {
            let mut fields = contact_fields("sender", &msg.sender);
            push_common(
                &mut fields,
                &msg.subject,
                &msg.body,
                &msg.metadata,
                msg.delivered_at,
            );
            Payload::Multipart(fields, files(&msg.attachments)?)
        };
        let url = self.url(&["channels", channel_id, "inbound_messages"])?;
        self.accepted(
            self.call(Method::POST, url, channel_id, &payload, idem)
                .await?,
        )
    }

    /// Imports a message the business sent outside Front.
    pub async fn sync_outbound(
        &self,
        channel_id: &str,
        msg: &SyncOutbound,
        idem: Idempotency,
    ) -> Result<Accepted> {
        let payload = if msg.attachments.is_empty() {
            Payload::Json(to_json(msg)?)
        } else {
            let mut fields = Vec::new();
            for (i, c) in msg.to.iter().enumerate() {
                fields.extend(contact_fields(&format!("to[{i}]"), c));
            }
            for (k, v) in [
                ("sender_name", &msg.sender_name),
                ("author_id", &msg.author_id),
            ] {
                if let Some(v) = v {
                    fields.push((k.to_string(), v.clone()));
                }
            }
            push_common(
                &mut fields,
                &msg.subject,
                &msg.body,
                &msg.metadata,
                msg.delivered_at,
            );
            Payload::Multipart(fields, files(&msg.attachments)?)
        };
        let url = self.url(&["channels", channel_id, "outbound_messages"])?;
        self.accepted(
            self.call(Method::POST, url, channel_id, &payload, idem)
                .await?,
        )
    }

    /// Marks an outbound message failed (Front reopens the conversation). Idempotent.
    pub async fn mark_failed(
        &self,
        channel_id: &str,
        external_conversation_id: &str,
        external_message_id: &str,
        reason: Option<&str>,
    ) -> Result<()> {
        let mut body = serde_json::json!({"status": "failed"});
        if let Some(r) = reason {
            body["reason"] = Value::String(r.to_string());
        }
        let url = self.url(&[
            "channels",
            channel_id,
            "conversations",
            external_conversation_id,
            "messages",
            external_message_id,
            "status",
        ])?;
        self.call(
            Method::PUT,
            url,
            channel_id,
            &Payload::Json(body),
            Idempotency::Idempotent,
        )
        .await
        .map(|_| ())
    }

    /// Sets the channel's status (`ok` or `offline`). Idempotent.
    pub async fn set_status(&self, channel_id: &str, status: ChannelStatus) -> Result<()> {
        let s = match status {
            ChannelStatus::Ok => "ok",
            ChannelStatus::Offline => "offline",
        };
        let url = self.url(&["channels", channel_id])?;
        let body = Payload::Json(serde_json::json!({ "status": s }));
        self.call(
            Method::PATCH,
            url,
            channel_id,
            &body,
            Idempotency::Idempotent,
        )
        .await
        .map(|_| ())
    }

    /// Downloads a Front attachment URL (from a message's `attachments[].url`) with the channel
    /// JWT, at most `max_bytes`. Only `https` URLs on `frontapp.com` hosts, or on the API base
    /// URL's origin, get the token; others are refused.
    pub async fn download(
        &self,
        channel_id: &str,
        url: &str,
        max_bytes: usize,
    ) -> Result<Download> {
        let u =
            url::Url::parse(url).map_err(|_| Error::invalid_input("url", "not an absolute URL"))?;
        let front_host = u.scheme() == "https"
            && u.host_str().is_some_and(|h| {
                let h = h.to_ascii_lowercase();
                h == "frontapp.com" || h.ends_with(".frontapp.com")
            });
        if !front_host && u.origin() != self.base.origin() {
            return Err(Error::invalid_input(
                "url",
                "not a Front URL: the channel token is only sent to frontapp.com",
            ));
        }
        let (headers, data) = self
            .call_limited(
                Method::GET,
                u,
                channel_id,
                &Payload::None,
                Idempotency::Idempotent,
                max_bytes,
            )
            .await?;
        Ok(Download {
            data,
            content_type: headers
                .get(http::header::CONTENT_TYPE)
                .and_then(|v| v.to_str().ok())
                .map(str::to_string),
        })
    }

    /// Front answered 2xx: the import is accepted even when the body is not the documented
    /// JSON (a retry would import the message twice), so an unreadable body only loses the uid.
    fn accepted(&self, body: Bytes) -> Result<Accepted> {
        let raw: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
        let s = |k: &str| raw.get(k).and_then(Value::as_str).map(str::to_string);
        Ok(Accepted {
            status: s("status"),
            message_uid: s("message_uid"),
            raw,
        })
    }

    async fn call(
        &self,
        method: Method,
        url: url::Url,
        channel_id: &str,
        payload: &Payload,
        idem: Idempotency,
    ) -> Result<Bytes> {
        self.call_limited(
            method,
            url,
            channel_id,
            payload,
            idem,
            DEFAULT_MAX_RESPONSE_BYTES,
        )
        .await
        .map(|(_, b)| b)
    }

    async fn call_limited(
        &self,
        method: Method,
        url: url::Url,
        channel_id: &str,
        payload: &Payload,
        idem: Idempotency,
        limit: usize,
    ) -> Result<(HeaderMap, Bytes)> {
        with_retry(&self.retry, idem, |_| {
            let method = method.clone();
            let url = url.clone();
            async move {
                // A fresh token per attempt: they live seconds and carry a random jti.
                let token = self.jwt.mint(channel_id)?;
                let mut req = self
                    .http
                    .request(method, url)
                    .header(http::header::AUTHORIZATION, bearer(token.expose_secret())?);
                req = match payload {
                    Payload::None => req,
                    Payload::Json(v) => req.json(v),
                    Payload::Multipart(fields, files) => req.multipart(form(fields, files)?),
                };
                let res = req.send().await.map_err(Error::from_reqwest)?;
                let status = res.status();
                let headers = res.headers().clone();
                if status.is_success() {
                    let body = read_body_limited(res, limit).await?;
                    return Ok((headers, body));
                }
                let body = read_body_limited(res, 64 * 1024).await.unwrap_or_default();
                Err(error_from_response(
                    status.as_u16(),
                    &headers,
                    &body,
                    self.clock.now(),
                ))
            }
        })
        .await
    }
}

fn to_json<T: Serialize>(v: &T) -> Result<Value> {
    serde_json::to_value(v).map_err(|_| Error::invalid_input("message", "cannot be serialized"))
}

fn contact_fields(prefix: &str, c: &SyncContact) -> Vec<(String, String)> {
    let mut out = vec![(format!("{prefix}[handle]"), c.handle.clone())];
    if let Some(n) = &c.name {
        out.push((format!("{prefix}[name]"), n.clone()));
    }
    if let Some(e) = &c.email {
        out.push((format!("{prefix}[email]"), e.clone()));
    }
    out
}

fn push_common(
    fields: &mut Vec<(String, String)>,
    subject: &Option<String>,
    body: &str,
    meta: &SyncMetadata,
    delivered_at: Option<i64>,
) {
    if let Some(s) = subject {
        fields.push(("subject".into(), s.clone()));
    }
    fields.push(("body".into(), body.to_string()));
    fields.push(("metadata[external_id]".into(), meta.external_id.clone()));
    fields.push((
        "metadata[external_conversation_id]".into(),
        meta.external_conversation_id.clone(),
    ));
    if let Some(r) = &meta.referenced_message_external_id {
        fields.push(("metadata[referenced_message_external_id]".into(), r.clone()));
    }
    if let Some(d) = delivered_at {
        fields.push(("delivered_at".into(), d.to_string()));
    }
}

fn files(files: &[FileUpload]) -> Result<Vec<(String, FileUpload)>> {
    files
        .iter()
        .enumerate()
        .map(|(i, f)| {
            if f.data.len() > MAX_ATTACHMENT_BYTES {
                return Err(Error::invalid_input(
                    "attachments",
                    format!("`{}` exceeds Front's limit of 25 MB", f.filename),
                ));
            }
            Ok((format!("attachments[{i}]"), f.clone()))
        })
        .collect()
}

fn form(
    fields: &[(String, String)],
    files: &[(String, FileUpload)],
) -> Result<reqwest::multipart::Form> {
    let mut form = reqwest::multipart::Form::new();
    for (k, v) in fields {
        form = form.text(k.clone(), v.clone());
    }
    for (k, f) in files {
        let part = reqwest::multipart::Part::stream_with_length(
            reqwest::Body::from(f.data.clone()),
            f.data.len() as u64,
        )
        .file_name(f.filename.clone())
        .mime_str(&f.content_type)
        .map_err(|_| Error::invalid_input("attachments.mime_type", "not a MIME type"))?;
        form = form.part(k.clone(), part);
    }
    Ok(form)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;
    use http::HeaderValue;

    fn now() -> DateTime<Utc> {
        DateTime::from_timestamp(1_700_000_000, 0).unwrap()
    }

    #[test]
    fn maps_errors() {
        let body = br#"{"_error":{"status":400,"title":"Bad request","message":"Body did not satisfy requirements","details":["body.metadata.external_id: missing"]}}"#;
        let e = error_from_response(400, &HeaderMap::new(), body, now());
        match &e {
            Error::Provider {
                status,
                code,
                message,
                retryable,
                ..
            } => {
                assert_eq!(*status, Some(400));
                assert_eq!(code.as_deref(), Some("Bad request"));
                assert_eq!(
                    message,
                    "Body did not satisfy requirements: body.metadata.external_id: missing"
                );
                assert!(!retryable);
            }
            other => panic!("{other:?}"),
        }
        let mut h = HeaderMap::new();
        h.insert("retry-after", HeaderValue::from_static("20"));
        let e = error_from_response(429, &h, b"", now());
        assert_eq!(e.kind(), "rate_limited");
        assert_eq!(e.retry_after(), Some(std::time::Duration::from_secs(20)));
        let e = error_from_response(503, &HeaderMap::new(), b"<html>", now());
        assert!(e.retryable());
        assert_eq!(
            error_from_response(401, &HeaderMap::new(), b"", now()).kind(),
            "unauthorized"
        );
    }
}
