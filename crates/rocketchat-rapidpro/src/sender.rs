//! The app side's webhook sender: `agent-message` and `close-room` to RapidPro's callback URL
//! (spec section 4), `POST` with `Content-Type: application/json` and
//! `Authorization: Token <secret>`. Only a 200 counts as delivered.

use http::HeaderValue;
use omnichannel_core::http::{DEFAULT_MAX_RESPONSE_BYTES, read_body_limited};
use omnichannel_core::{Error, Result, SecretString};

use crate::api::authorization;
use crate::model::AppWebhook;

/// Sends the app's webhooks.
#[derive(Clone)]
pub struct WebhookSender {
    http: reqwest::Client,
    secret: SecretString,
}

impl std::fmt::Debug for WebhookSender {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WebhookSender")
            .field("secret", &"[redacted]")
            .finish()
    }
}

impl WebhookSender {
    /// A sender authorizing with `secret` (sent as configured, untrimmed, as the app does).
    pub fn new(http: reqwest::Client, secret: SecretString) -> Self {
        WebhookSender { http, secret }
    }

    /// Posts `webhook` to `callback_url`. `Ok` only for a 200 answer; any other status is a
    /// provider error carrying mailroom's `error` message when it gave one (the app then keeps
    /// the room marked closed and sends `close-room` again later).
    pub async fn deliver(&self, callback_url: &str, webhook: &AppWebhook) -> Result<()> {
        let res = self
            .http
            .post(callback_url)
            .header(http::header::AUTHORIZATION, authorization(&self.secret)?)
            .header(
                http::header::CONTENT_TYPE,
                HeaderValue::from_static("application/json"),
            )
            .body(webhook.to_body())
            .send()
            .await
            .map_err(Error::from_reqwest)?;
        let status = res.status().as_u16();
        if status == 200 {
            return Ok(());
        }
        let body = read_body_limited(res, DEFAULT_MAX_RESPONSE_BYTES)
            .await
            .unwrap_or_default();
        let message = serde_json::from_slice::<serde_json::Value>(&body)
            .ok()
            .and_then(|v| {
                v.get("error")
                    .or_else(|| v.get("status"))
                    .and_then(|m| m.as_str())
                    .map(str::to_string)
            })
            .unwrap_or_else(|| format!("RapidPro answered {status}, not 200"));
        if (200..300).contains(&status) {
            // A 2xx other than 200 is not a delivery for the app: report it, do not retry blindly.
            return Err(Error::Provider {
                status: Some(status),
                code: Some("not_delivered".into()),
                message,
                retryable: false,
                retry_after: None,
            });
        }
        Err(Error::from_status(status, None, message, None))
    }
}
