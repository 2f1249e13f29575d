//! TikTok API for Business calls (spec `tiktok.md` sections 1, 2, 4.1, 5, 6) and the mapping of its
//! `{code, message, request_id}` error envelope, which arrives with HTTP 200, to core errors.
//!
//! Business calls send the token in the `Access-Token` header (marked sensitive); the OAuth and
//! webhook-configuration calls carry the app credentials in their body or query instead.

use std::sync::Arc;

use bytes::Bytes;
use omnichannel_core::http::{
    DEFAULT_MAX_RESPONSE_BYTES, Idempotency, RetryPolicy, read_body_limited, retry_after,
    sensitive_header, with_retry,
};
use omnichannel_core::{Clock, Error, ExposeSecret, Result, SecretString};
use serde_json::{Value, json};

use crate::model::{ApiEnvelope, BusinessInfo, TokenData};
use crate::webhook::json_error;

/// The header business calls carry the access token in.
pub const ACCESS_TOKEN_HEADER: &str = "Access-Token";
/// The header the media download URL wants the access token in.
pub const X_USER_HEADER: &str = "x-user";
/// The webhook event type of Business Messaging.
pub const DIRECT_MESSAGE_EVENT_TYPE: &str = "DIRECT_MESSAGE";

/// Maps an error envelope (`code != 0`) to a core error.
///
/// - 40100 (rate limited) and 51065 (system busy): `rate_limited`, retryable;
/// - 40104 / 40105 (access token empty / invalid): `unauthorized` (the channel refreshes the
///   token once and retries once before returning it);
/// - 40103 / 40107 (refresh token expired / invalid): `reauthorization_required` for `key`;
/// - 40064 (blocked by TikTok's messaging policy: outside the window, quota, cold
///   conversation): a non-retryable `provider_error`;
/// - anything else: a non-retryable `provider_error` with TikTok's code and message.
pub fn map_api_error(code: i64, message: &str, request_id: Option<&str>, key: &str) -> Error {
    let detail = match request_id {
        Some(r) if !r.is_empty() => format!("{message} (request_id {r})"),
        _ => message.to_string(),
    };
    let code_s = code.to_string();
    match code {
        40100 | 51065 => Error::RateLimited {
            retry_after: None,
            code: Some(code_s),
        },
        40104 | 40105 => Error::Unauthorized {
            message: format!("access token rejected (code {code}): {detail}"),
        },
        40103 | 40107 => Error::ReauthorizationRequired {
            key: key.to_string(),
            reason: format!("refresh token expired or invalid (code {code}): {detail}"),
        },
        40064 => Error::Provider {
            status: None,
            code: Some(code_s),
            message: format!(
                "refused by TikTok's messaging policy (reply window, quota or blocked conversation): {detail}"
            ),
            retryable: false,
            retry_after: None,
        },
        _ => Error::Provider {
            status: None,
            code: Some(code_s),
            message: detail,
            retryable: false,
            retry_after: None,
        },
    }
}

/// A successful API answer: the whole envelope as received and its `data`.
#[derive(Debug, Clone, PartialEq)]
pub struct ApiAnswer {
    /// The envelope as received.
    pub raw: Value,
    /// Its `data` (`null` when absent).
    pub data: Value,
}

/// The TikTok API client of one app. Cheap to clone.
#[derive(Clone)]
pub struct ApiClient {
    http: reqwest::Client,
    base: String,
    app_id: String,
    app_secret: SecretString,
    retry: RetryPolicy,
    clock: Arc<dyn Clock>,
    max_media_bytes: usize,
}

impl std::fmt::Debug for ApiClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ApiClient")
            .field("base", &self.base)
            .field("app_id", &self.app_id)
            .field("app_secret", &"[redacted]")
            .finish_non_exhaustive()
    }
}

fn token_header(token: &SecretString) -> Result<http::HeaderValue> {
    sensitive_header(token.expose_secret())
}

impl ApiClient {
    /// A client for `base` (an API base URL such as
    /// [`DEFAULT_API_BASE_URL`](crate::config::DEFAULT_API_BASE_URL)).
    pub fn new(
        http: reqwest::Client,
        base: &str,
        app_id: impl Into<String>,
        app_secret: SecretString,
        clock: Arc<dyn Clock>,
    ) -> Self {
        let mut base = base.to_string();
        if !base.ends_with('/') {
            base.push('/');
        }
        ApiClient {
            http,
            base,
            app_id: app_id.into(),
            app_secret,
            retry: RetryPolicy::default(),
            clock,
            max_media_bytes: crate::config::DEFAULT_MAX_MEDIA_BYTES,
        }
    }

    /// Sets the retry policy of idempotent calls.
    pub fn with_retry_policy(mut self, retry: RetryPolicy) -> Self {
        self.retry = retry;
        self
    }

    /// Sets the largest media download.
    pub fn with_max_media_bytes(mut self, n: usize) -> Self {
        self.max_media_bytes = n;
        self
    }

    /// The full URL of an endpoint path such as `business/message/send/`.
    pub fn endpoint(&self, path: &str) -> String {
        format!("{}{}", self.base, path.trim_start_matches('/'))
    }

    async fn answer(&self, req: reqwest::RequestBuilder, key: &str) -> Result<ApiAnswer> {
        let res = req.send().await.map_err(Error::from_reqwest)?;
        let status = res.status();
        let wait = retry_after(res.headers(), self.clock.now());
        let body = read_body_limited(res, DEFAULT_MAX_RESPONSE_BYTES).await?;
        let raw: Option<Value> = serde_json::from_slice(&body).ok();
        let env: Option<ApiEnvelope> = raw
            .as_ref()
            .and_then(|v| serde_json::from_value(v.clone()).ok());
        if let Some(env) = &env
            && env.code != 0
        {
            let mut e = map_api_error(env.code, &env.message, env.request_id.as_deref(), key);
            if let Error::RateLimited { retry_after, .. } = &mut e {
                *retry_after = wait;
            }
            return Err(e);
        }
        if !status.is_success() {
            return Err(Error::from_status(
                status.as_u16(),
                None,
                format!("TikTok answered HTTP {}", status.as_u16()),
                wait,
            ));
        }
        match (raw, env) {
            (Some(raw), Some(env)) => Ok(ApiAnswer {
                data: env.data.unwrap_or(Value::Null),
                raw,
            }),
            _ => Err(Error::Provider {
                status: Some(status.as_u16()),
                code: None,
                message: "the answer is not a TikTok API envelope".into(),
                retryable: false,
                retry_after: None,
            }),
        }
    }

    fn missing(what: &str) -> Error {
        Error::Provider {
            status: None,
            code: None,
            message: format!("TikTok's answer has no `{what}`"),
            retryable: false,
            retry_after: None,
        }
    }

    /// `POST business/message/send/`: sends a prepared body (see
    /// [`text_request`](crate::normalize::text_request),
    /// [`image_request`](crate::normalize::image_request)); returns `data.message.message_id`
    /// and the answer. Never retried here (TikTok has no idempotency key).
    pub async fn send_message(
        &self,
        token: &SecretString,
        business_id: &str,
        body: &Value,
    ) -> Result<(String, ApiAnswer)> {
        let req = self
            .http
            .post(self.endpoint("business/message/send/"))
            .header(ACCESS_TOKEN_HEADER, token_header(token)?)
            .header(http::header::ACCEPT, "application/json")
            .json(body);
        let a = self.answer(req, business_id).await?;
        let id = a
            .data
            .pointer("/message/message_id")
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())
            .ok_or_else(|| Self::missing("data.message.message_id"))?
            .to_string();
        Ok((id, a))
    }

    /// `POST business/message/media/upload/` (multipart `business_id`, `media_type=IMAGE`,
    /// `file`): returns `data.media_id`. Retried per the policy (an upload has no side effect
    /// beyond a new media id).
    pub async fn upload_image(
        &self,
        token: &SecretString,
        business_id: &str,
        bytes: Bytes,
        file_name: &str,
        mime_type: &str,
    ) -> Result<String> {
        let header = token_header(token)?;
        let a = with_retry(&self.retry, Idempotency::Idempotent, |_| {
            let part =
                reqwest::multipart::Part::stream_with_length(bytes.clone(), bytes.len() as u64)
                    .file_name(file_name.to_string())
                    .mime_str(mime_type)
                    .map_err(|_| Error::invalid_input("attachments.mime_type", "not a MIME type"));
            let header = header.clone();
            async move {
                let form = reqwest::multipart::Form::new()
                    .text("business_id", business_id.to_string())
                    .text("media_type", "IMAGE")
                    .part("file", part?);
                let req = self
                    .http
                    .post(self.endpoint("business/message/media/upload/"))
                    .header(ACCESS_TOKEN_HEADER, header)
                    .header(http::header::ACCEPT, "application/json")
                    .multipart(form);
                self.answer(req, business_id).await
            }
        })
        .await?;
        a.data
            .get("media_id")
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())
            .map(str::to_string)
            .ok_or_else(|| Self::missing("data.media_id"))
    }

    /// `POST business/message/media/download/`: the download URL of an inbound image
    /// (valid about 24 h).
    pub async fn media_download_url(
        &self,
        token: &SecretString,
        business_id: &str,
        conversation_id: &str,
        message_id: &str,
        media_id: &str,
    ) -> Result<String> {
        let header = token_header(token)?;
        let body = json!({
            "business_id": business_id,
            "conversation_id": conversation_id,
            "message_id": message_id,
            "media_id": media_id,
            "media_type": "IMAGE",
        });
        let a = with_retry(&self.retry, Idempotency::Idempotent, |_| {
            let req = self
                .http
                .post(self.endpoint("business/message/media/download/"))
                .header(ACCESS_TOKEN_HEADER, header.clone())
                .header(http::header::ACCEPT, "application/json")
                .json(&body);
            self.answer(req, business_id)
        })
        .await?;
        a.data
            .get("download_url")
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())
            .map(str::to_string)
            .ok_or_else(|| Self::missing("data.download_url"))
    }

    /// `GET <download_url>` with the `x-user` header; the body is bounded by the media limit.
    /// Returns the bytes and the content type TikTok gave.
    pub async fn download_media(
        &self,
        token: &SecretString,
        download_url: &str,
    ) -> Result<(Bytes, Option<String>)> {
        let header = token_header(token)?;
        with_retry(&self.retry, Idempotency::Idempotent, |_| {
            let req = self
                .http
                .get(download_url)
                .header(X_USER_HEADER, header.clone());
            fetch_bounded(req, self.max_media_bytes, &*self.clock)
        })
        .await
    }

    /// `GET business/get/`: the business's username, display name and avatar.
    pub async fn business_info(
        &self,
        token: &SecretString,
        business_id: &str,
    ) -> Result<BusinessInfo> {
        let header = token_header(token)?;
        let fields = r#"["username","display_name","profile_image"]"#;
        let a = with_retry(&self.retry, Idempotency::Idempotent, |_| {
            let req = self
                .http
                .get(self.endpoint("business/get/"))
                .header(ACCESS_TOKEN_HEADER, header.clone())
                .header(http::header::ACCEPT, "application/json")
                .query(&[("business_id", business_id), ("fields", fields)]);
            self.answer(req, business_id)
        })
        .await?;
        serde_json::from_value(a.data).map_err(|e| json_error("business/get data", &e))
    }

    async fn token_call(&self, path: &str, body: Value, key: &str) -> Result<TokenData> {
        let req = self
            .http
            .post(self.endpoint(path))
            .header(http::header::ACCEPT, "application/json")
            .json(&body);
        let a = self.answer(req, key).await?;
        serde_json::from_value(a.data).map_err(|e| json_error("token data", &e))
    }

    /// `POST tt_user/oauth2/token/`: exchanges an authorization code (valid 10 min, single use).
    pub async fn exchange_code(&self, code: &str, redirect_uri: &str) -> Result<TokenData> {
        let body = json!({
            "client_id": self.app_id,
            "client_secret": self.app_secret.expose_secret(),
            "grant_type": "authorization_code",
            "auth_code": code,
            "redirect_uri": redirect_uri,
        });
        self.token_call("tt_user/oauth2/token/", body, "authorization")
            .await
    }

    /// `POST tt_user/oauth2/refresh_token/`: a new access token and a rotated refresh token.
    /// Codes 40103/40107 become `reauthorization_required` for `key`.
    pub async fn refresh_token(
        &self,
        refresh_token: &SecretString,
        key: &str,
    ) -> Result<TokenData> {
        let body = json!({
            "client_id": self.app_id,
            "client_secret": self.app_secret.expose_secret(),
            "grant_type": "refresh_token",
            "refresh_token": refresh_token.expose_secret(),
        });
        self.token_call("tt_user/oauth2/refresh_token/", body, key)
            .await
    }

    /// `POST business/webhook/update/`: sets the app's callback URL for an event type (run once
    /// per deployment, and again when the domain changes).
    pub async fn update_webhook(&self, callback_url: &str, event_type: &str) -> Result<ApiAnswer> {
        let body = json!({
            "app_id": self.app_id,
            "secret": self.app_secret.expose_secret(),
            "event_type": event_type,
            "callback_url": callback_url,
        });
        let req = self
            .http
            .post(self.endpoint("business/webhook/update/"))
            .header(http::header::ACCEPT, "application/json")
            .json(&body);
        self.answer(req, &self.app_id).await
    }

    /// `GET business/webhook/list/`: the app's callback configuration for an event type.
    pub async fn list_webhooks(&self, event_type: &str) -> Result<ApiAnswer> {
        with_retry(&self.retry, Idempotency::Idempotent, |_| {
            let req = self
                .http
                .get(self.endpoint("business/webhook/list/"))
                .header(http::header::ACCEPT, "application/json")
                .query(&[
                    ("app_id", self.app_id.as_str()),
                    ("secret", self.app_secret.expose_secret()),
                    ("event_type", event_type),
                ]);
            self.answer(req, &self.app_id)
        })
        .await
    }
}

/// GETs a body of at most `limit` bytes; 4xx is `invalid_input`, 429/5xx retryable.
pub(crate) async fn fetch_bounded(
    req: reqwest::RequestBuilder,
    limit: usize,
    clock: &dyn Clock,
) -> Result<(Bytes, Option<String>)> {
    let res = req.send().await.map_err(Error::from_reqwest)?;
    let status = res.status();
    if !status.is_success() {
        let wait = retry_after(res.headers(), clock.now());
        return Err(Error::from_status(
            status.as_u16(),
            None,
            format!("media download answered HTTP {}", status.as_u16()),
            wait,
        ));
    }
    let ctype = res
        .headers()
        .get(http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(|s| s.split(';').next().unwrap_or(s).trim().to_string())
        .filter(|s| !s.is_empty());
    let body = read_body_limited(res, limit).await.map_err(|e| match e {
        Error::Provider { message, .. } => Error::invalid_input("media", message),
        other => other,
    })?;
    Ok((body, ctype))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_codes_map_to_kinds() {
        let k = |c| map_api_error(c, "m", Some("req-1"), "biz").kind();
        assert_eq!(k(40100), "rate_limited");
        assert_eq!(k(51065), "rate_limited");
        assert!(map_api_error(51065, "m", None, "b").retryable());
        assert_eq!(k(40104), "unauthorized");
        assert_eq!(k(40105), "unauthorized");
        assert_eq!(k(40103), "reauthorization_required");
        assert_eq!(k(40107), "reauthorization_required");
        assert_eq!(k(40064), "provider_error");
        assert!(!map_api_error(40064, "m", None, "b").retryable());
        assert_eq!(k(40002), "provider_error");
        assert!(
            map_api_error(40002, "bad field", Some("req-9"), "b")
                .to_string()
                .contains("req-9")
        );
    }
}
