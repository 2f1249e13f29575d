//! The RapidPro side (provider `rocketchat`): receives the app's webhooks like mailroom's
//! `event_callback`, and forwards contacts' messages to the app (`visitor-message`).

use std::sync::Arc;

use async_trait::async_trait;
use http::StatusCode;
use omnichannel_core::{
    AttachmentKind, Capabilities, Channel, ChannelEnv, Clock, Error, Inbound, OutboundMessage,
    Provider, Result, SendReceipt, SendStatus, VerifyError, WebhookReply, WebhookRequest,
};

use crate::api::AppClient;
use crate::config::RocketchatConfig;
use crate::model::{OpenRoom, VisitorMessage};
use crate::normalize;
use crate::webhook;

/// The RapidPro side of the ticketer: a client of the app and the handler of its webhooks.
pub struct RocketchatChannel {
    config: RocketchatConfig,
    client: AppClient,
    clock: Arc<dyn Clock>,
    capabilities: Capabilities,
}

impl std::fmt::Debug for RocketchatChannel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RocketchatChannel")
            .field("config", &self.config)
            .finish()
    }
}

impl RocketchatChannel {
    /// A channel from settings and the host's environment (clock, HTTP client, base URL
    /// override).
    pub fn new(config: RocketchatConfig, env: &ChannelEnv) -> Result<Self> {
        let base_url = env.rebase(&config.base_url)?;
        let client = AppClient::new(env.http.clone(), base_url, config.secret.primary().clone());
        let capabilities = Capabilities::text_only()
            .with_attachments(
                &[
                    AttachmentKind::Image,
                    AttachmentKind::Video,
                    AttachmentKind::Audio,
                    AttachmentKind::File,
                ],
                config.max_attachments,
            )
            .with_text_and_attachments(true);
        Ok(RocketchatChannel {
            config,
            client,
            clock: env.clock.clone(),
            capabilities,
        })
    }

    /// The client of the app (`secret.check`, `settings`, `room`, `room.close`,
    /// `visitor-message`).
    pub fn client(&self) -> &AppClient {
        &self.client
    }

    /// Opens a ticket (`room`); returns the room id.
    pub async fn open_room(&self, room: &OpenRoom) -> Result<String> {
        Ok(self.client.open_room(room).await?)
    }

    /// Closes the visitor's room (`room.close`).
    pub async fn close_room(&self, token: &str) -> Result<()> {
        Ok(self.client.close_room(token).await?)
    }

    /// Parses a webhook that has passed [`verify`](Channel::verify).
    fn parse(&self, req: &WebhookRequest) -> Result<Inbound> {
        req.check_body_limit(self.config.max_body_bytes)?;
        let (event, raw) = webhook::parse_callback_request(&req.body, self.config.max_attachments)?;
        let e = normalize::app_webhook_event(event, raw, &req.body);
        Ok(Inbound::new(vec![e], handled()))
    }
}

/// Reason of the refusal of a method other than POST (405).
const REASON_METHOD: &str = "the callback takes only POST";

/// mailroom's answers are indented JSON (`json.MarshalIndent`, two spaces).
fn mailroom_json(status: StatusCode, value: &serde_json::Value) -> WebhookReply {
    WebhookReply::with_body(
        status,
        "application/json",
        serde_json::to_vec_pretty(value).unwrap_or_default(),
    )
}

/// mailroom's answer to a handled callback, `{"status": "handled"}` as `json.MarshalIndent`
/// writes it (the same bytes every time; a test checks them against `mailroom_json`).
const HANDLED: &[u8] = b"{\n  \"status\": \"handled\"\n}";

fn handled() -> WebhookReply {
    WebhookReply::with_body(StatusCode::OK, "application/json", HANDLED)
}

#[async_trait]
impl Channel for RocketchatChannel {
    fn provider(&self) -> Provider {
        Provider::Rocketchat
    }

    fn capabilities(&self) -> &Capabilities {
        &self.capabilities
    }

    fn verify(&self, req: &WebhookRequest) -> Result<(), VerifyError> {
        webhook::verify_token(req, &self.config.secret)
    }

    async fn receive(&self, req: &WebhookRequest) -> Result<Inbound> {
        // mailroom routes only POST to the callback (the router answers 405 before any check).
        if req.method != http::Method::POST {
            return Err(VerifyError::Malformed {
                reason: REASON_METHOD.into(),
            }
            .into());
        }
        self.verify(req)?;
        self.parse(req)
    }

    async fn send(&self, msg: &dyn OutboundMessage) -> Result<SendReceipt> {
        self.capabilities.check_at(msg, self.clock.now())?;
        let body: VisitorMessage = normalize::visitor_message_from(msg)?;
        // No retry: the app has no idempotency key, a repeated POST would post twice.
        let id = self.client.visitor_message(&body).await?;
        Ok(SendReceipt::new(
            Provider::Rocketchat,
            id.clone(),
            SendStatus::Sent,
            Some(serde_json::json!({ "id": id })),
        ))
    }

    /// mailroom's answers: 405 to a method other than POST, 401 `{"status":"unauthorized"}` to any authorization failure,
    /// 400 `{"error": ...}` to a body it cannot use (`field 'type' is required`,
    /// `invalid event type`, a JSON decoding error), 413 to an oversized body.
    fn reject_reply(&self, err: &Error) -> WebhookReply {
        match err {
            Error::Verify(VerifyError::PayloadTooLarge { .. }) | Error::PayloadTooLarge { .. } => {
                mailroom_json(
                    StatusCode::PAYLOAD_TOO_LARGE,
                    &serde_json::json!({"error": err.to_string()}),
                )
            }
            Error::Verify(VerifyError::Malformed { reason }) if reason == REASON_METHOD => {
                WebhookReply::empty(StatusCode::METHOD_NOT_ALLOWED)
            }
            Error::Verify(_) => mailroom_json(
                StatusCode::UNAUTHORIZED,
                &serde_json::json!({"status": "unauthorized"}),
            ),
            Error::MalformedPayload { reason } => mailroom_json(
                StatusCode::BAD_REQUEST,
                &serde_json::json!({ "error": reason }),
            ),
            other => mailroom_json(
                StatusCode::BAD_REQUEST,
                &serde_json::json!({ "error": other.kind() }),
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn the_handled_answer_is_mailrooms_indented_json() {
        let built = mailroom_json(StatusCode::OK, &serde_json::json!({"status": "handled"}));
        let fixed = handled();
        assert_eq!(fixed.status, built.status);
        assert_eq!(fixed.body, built.body);
        assert_eq!(fixed.headers, built.headers);
    }
}
