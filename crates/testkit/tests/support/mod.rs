//! A small HMAC-verified channel shared by the testkit's own tests.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs, dead_code)]

use std::sync::Arc;

use omnichannel_core::signature::{self, Algorithm, SigningKeys};
use omnichannel_core::{
    Capabilities, Channel, ChannelEnv, ChannelFactory, Direction, Error, Event, EventKind, Inbound,
    OutboundMessage, Provider, Result, SendReceipt, SendStatus, Settings, VerifyError,
    WebhookReply, WebhookRequest, async_trait,
};
use omnichannel_testkit::{Fixture, Registry};
use serde_json::{Value, json};

pub const SIG: &str = "x-test-signature";

struct TestChannel {
    leak: bool,
    keys: SigningKeys,
    base: String,
    env: ChannelEnv,
    caps: Capabilities,
}

#[async_trait]
impl Channel for TestChannel {
    fn provider(&self) -> Provider {
        Provider::Tiktok
    }
    fn capabilities(&self) -> &Capabilities {
        &self.caps
    }
    fn verify(&self, req: &WebhookRequest) -> std::result::Result<(), VerifyError> {
        let sig = req.require_header(SIG)?;
        signature::verify_hex(Algorithm::Sha256, &self.keys, SIG, &[&req.body], sig)
    }
    async fn receive(&self, req: &WebhookRequest) -> Result<Inbound> {
        tracing::info!(body_len = req.body.len(), "received");
        if self.leak {
            use secrecy::ExposeSecret;
            // A deliberately careless channel, to prove the log check catches it.
            tracing::debug!(secret = self.keys.primary().expose_secret(), "verifying");
        }
        self.verify(req)?;
        let v: Value =
            serde_json::from_slice(&req.body).map_err(|e| Error::malformed(e.to_string()))?;
        let id = v["id"].as_str().ok_or_else(|| Error::malformed("id"))?;
        let mut e = Event::new(Provider::Tiktok, EventKind::Message, id);
        e.text = v["text"].as_str().map(str::to_string);
        e.direction = Some(Direction::Inbound);
        e.occurred_at = Some(self.env.clock.now());
        // A channel that (wrongly) calls out while receiving, to prove the guard.
        if v["call_out"].as_bool() == Some(true) {
            let _ = self.env.http.get("https://example.com/").send().await;
        }
        Ok(Inbound::new(
            vec![e],
            WebhookReply::json(http::StatusCode::OK, &json!({"ok": true})),
        ))
    }
    async fn send(&self, msg: &dyn OutboundMessage) -> Result<SendReceipt> {
        self.caps.check_at(msg, self.env.clock.now())?;
        let to = msg
            .recipient()
            .ok_or_else(|| Error::invalid_input("recipient", "required"))?;
        let mut last = Value::Null;
        // Two requests when there is an attachment: "upload" then "send".
        if !msg.attachments().is_empty() {
            let r = self
                .env
                .http
                .post(format!("{}v1/upload", self.base))
                .form(&[("name", "a"), ("name", "b")])
                .send()
                .await
                .map_err(Error::from_reqwest)?;
            last = r.json().await.map_err(Error::from_reqwest)?;
        }
        let r = self
            .env
            .http
            .post(format!("{}v1/messages", self.base))
            .header("authorization", "Bearer test-token")
            .json(&json!({"to": to.id, "text": msg.text(), "media": last.get("media_id")}))
            .send()
            .await
            .map_err(Error::from_reqwest)?;
        let status = r.status().as_u16();
        let body: Value = r.json().await.unwrap_or(Value::Null);
        if status >= 400 {
            return Err(Error::from_status(status, None, "refused", None));
        }
        let id = body["id"].as_str().unwrap_or_default().to_string();
        Ok(SendReceipt::new(
            Provider::Tiktok,
            id,
            SendStatus::Accepted,
            Some(body),
        ))
    }
}

struct TestFactory;

impl ChannelFactory for TestFactory {
    fn provider(&self) -> Provider {
        Provider::Tiktok
    }
    fn build(&self, config: &Value, env: &ChannelEnv) -> Result<Arc<dyn Channel>> {
        let s = Settings::new(config)?;
        Ok(Arc::new(TestChannel {
            leak: s.bool_or("leak", false)?,
            keys: s.require_signing_keys("secret")?,
            base: env.rebase(&s.str_or("base_url", "https://api.provider.test/")?)?,
            env: env.clone(),
            caps: Capabilities::text_only()
                .with_max_text_chars(5)
                .with_attachments(&[omnichannel_core::AttachmentKind::Image], 1)
                .with_text_and_attachments(true),
        }))
    }
    fn demo_config(&self) -> Value {
        json!({"secret": "test-secret-not-real"})
    }
}

pub fn registry() -> Registry {
    Registry::new().with(Arc::new(TestFactory))
}

pub fn signed(body: &str) -> String {
    signature::sign_hex(
        Algorithm::Sha256,
        &SigningKeys::new("test-secret-not-real"),
        &[body.as_bytes()],
    )
}

pub fn inbound(body: &str, headers: Value, expect: Value) -> Fixture {
    serde_json::from_value(json!({
        "provider": "tiktok",
        "description": "test",
        "config": {"secret": ["test-secret-not-real", "previous-test-secret"]},
        "inbound": {
            "request": {"method": "POST", "url": "https://host.test/hook", "headers": headers, "body": body},
            "now": "2025-01-01T00:00:00Z",
            "expect": expect
        }
    }))
    .unwrap()
}
