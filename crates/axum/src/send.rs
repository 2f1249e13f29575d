//! `POST /send/{provider}/{channel}`: the normalized outbound JSON in, a receipt or a typed
//! error out.

use std::sync::Arc;

use axum::body::Body;
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};
use http::{HeaderValue, Request, StatusCode};
use omnichannel_core::signature::constant_time_eq;
use omnichannel_core::{Error, ExposeSecret as _, Message};
use tracing::Instrument as _;

use crate::body::{ReadError, read_limited};
use crate::gateway::{Inner, json_error};

/// The HTTP status `/send` answers for a failed send.
///
/// | kind | status |
/// | --- | --- |
/// | `invalid_input` (a field of the message) | 400 |
/// | `invalid_input` (the channel's configuration) | 500 |
/// | `unsupported_content` | 422 |
/// | `opted_out` | 409 |
/// | `rate_limited` | 429 (with `Retry-After` when known) |
/// | `unauthorized`, `reauthorization_required`, permanent `provider_error` | 502 |
/// | `transport`, retryable `provider_error` | 503 |
pub fn error_status(err: &Error) -> StatusCode {
    match err {
        Error::Config { .. } => StatusCode::INTERNAL_SERVER_ERROR,
        Error::InvalidInput { .. } | Error::MalformedPayload { .. } => StatusCode::BAD_REQUEST,
        Error::PayloadTooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
        Error::Unsupported(_) => StatusCode::UNPROCESSABLE_ENTITY,
        Error::OptedOut { .. } => StatusCode::CONFLICT,
        Error::RateLimited { .. } => StatusCode::TOO_MANY_REQUESTS,
        e if e.retryable() => StatusCode::SERVICE_UNAVAILABLE,
        _ => StatusCode::BAD_GATEWAY,
    }
}

/// The `/send` error answer: `{"error": kind, "message", "retryable", "retry_after_ms"}`
/// (`retry_after_ms` only when the provider said how long to wait; then `Retry-After` too).
pub fn error_response(err: &Error) -> Response {
    let mut body = serde_json::json!({
        "error": err.kind(),
        "message": err.to_string(),
        "retryable": err.retryable(),
    });
    let retry_after = err.retry_after();
    if let (Some(d), Some(obj)) = (retry_after, body.as_object_mut()) {
        let ms = u64::try_from(d.as_millis()).unwrap_or(u64::MAX);
        obj.insert("retry_after_ms".into(), ms.into());
    }
    let mut res = (error_status(err), axum::Json(body)).into_response();
    if let Some(d) = retry_after {
        // Whole seconds, rounded up.
        let secs = d.as_secs() + u64::from(d.subsec_nanos() > 0);
        if let Ok(v) = HeaderValue::from_str(&secs.to_string()) {
            res.headers_mut().insert(http::header::RETRY_AFTER, v);
        }
    }
    res
}

fn unauthorized(message: &str) -> Response {
    let mut res = json_error(StatusCode::UNAUTHORIZED, "unauthorized", message);
    res.headers_mut().insert(
        http::header::WWW_AUTHENTICATE,
        HeaderValue::from_static("Bearer"),
    );
    res
}

pub(crate) async fn send(
    State(inner): State<Arc<Inner>>,
    Path((provider, name)): Path<(String, String)>,
    req: Request<Body>,
) -> Response {
    let span = tracing::info_span!(
        "send",
        provider = %provider.escape_debug(),
        channel = %name.escape_debug(),
    );
    handle_send(inner, provider, name, req)
        .instrument(span)
        .await
}

async fn handle_send(
    inner: Arc<Inner>,
    provider: String,
    name: String,
    req: Request<Body>,
) -> Response {
    let Some(key) = &inner.api_key else {
        tracing::warn!("send refused: no API key is configured");
        return json_error(
            StatusCode::FORBIDDEN,
            "unauthorized",
            "sending is disabled: the gateway has no API key configured",
        );
    };
    let given = req
        .headers()
        .get(http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| {
            let (scheme, token) = v.trim().split_once(' ')?;
            scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
        });
    let Some(given) = given else {
        tracing::warn!("send refused: no bearer key");
        return unauthorized("an `Authorization: Bearer <api key>` header is required");
    };
    if !constant_time_eq(given.as_bytes(), key.expose_secret().as_bytes()) {
        tracing::warn!("send refused: wrong key");
        return unauthorized("the API key is not valid");
    }
    let Some((_, mounted)) = inner.lookup(&provider, &name) else {
        return json_error(
            StatusCode::NOT_FOUND,
            "not_found",
            "no channel is mounted at this path",
        );
    };
    let channel = mounted.channel.clone();
    let (parts, body) = req.into_parts();
    let body = match read_limited(&parts.headers, body, inner.max_send_body_bytes).await {
        Ok(b) => b,
        Err(ReadError::TooLarge { size }) => {
            return error_response(&Error::PayloadTooLarge {
                size,
                limit: inner.max_send_body_bytes,
            });
        }
        Err(ReadError::Io) => {
            return json_error(
                StatusCode::BAD_REQUEST,
                "transport",
                "the request body could not be read",
            );
        }
    };
    let msg: Message = match serde_json::from_slice(&body) {
        Ok(m) => m,
        Err(e) => {
            // serde's message names the field and position, never echoes more than a token.
            let err = Error::invalid_input("message", format!("not a normalized message: {e}"));
            tracing::warn!(error = err.kind(), "send refused: bad message");
            return error_response(&err);
        }
    };
    match channel.send(&msg).await {
        Ok(receipt) => {
            tracing::info!(message_id = %receipt.message_id, "sent");
            (StatusCode::OK, axum::Json(receipt)).into_response()
        }
        Err(err) => {
            tracing::warn!(error = err.kind(), %err, "send failed");
            error_response(&err)
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;
    use std::time::Duration;

    #[test]
    fn statuses() {
        assert_eq!(
            error_status(&Error::invalid_input("text", "missing")),
            StatusCode::BAD_REQUEST
        );
        assert_eq!(
            error_status(&Error::config("app_secret", "is required")),
            StatusCode::INTERNAL_SERVER_ERROR
        );
        assert_eq!(
            error_status(&Error::from_status(503, None, "down", None)),
            StatusCode::SERVICE_UNAVAILABLE
        );
        assert_eq!(
            error_status(&Error::from_status(400, None, "bad", None)),
            StatusCode::BAD_GATEWAY
        );
        assert_eq!(
            error_status(&Error::from_status(401, None, "no", None)),
            StatusCode::BAD_GATEWAY
        );
        assert_eq!(
            error_status(&Error::OptedOut { code: None }),
            StatusCode::CONFLICT
        );
    }

    #[tokio::test]
    async fn rate_limited_answer() {
        let res = error_response(&Error::RateLimited {
            retry_after: Some(Duration::from_millis(1500)),
            code: Some("40100".into()),
        });
        assert_eq!(res.status(), StatusCode::TOO_MANY_REQUESTS);
        assert_eq!(res.headers()[http::header::RETRY_AFTER], "2");
        let body = axum::body::to_bytes(res.into_body(), 1 << 16)
            .await
            .unwrap();
        let v: serde_json::Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(v["error"], "rate_limited");
        assert_eq!(v["retryable"], true);
        assert_eq!(v["retry_after_ms"], 1500);
        assert!(v["message"].as_str().unwrap().contains("rate limited"));
    }
}
