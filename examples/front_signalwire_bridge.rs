//! Front teammates text customers by SMS: a bridge between a Front application channel and a
//! SignalWire number.
//!
//! - A teammate's message in Front (signed `message` webhook) is sent as an SMS through
//!   SignalWire, with the bridge's status callback URL.
//! - The customer's SMS (signed SignalWire webhook) is imported into Front (sync inbound), in
//!   the conversation of the customer's number.
//! - A `failed` status callback for that SMS imports the failure notice into Front (the Front
//!   crate's `failure_notice_request`, WebhookDB's wording) and marks the teammate's message failed.
//!
//! Both webhooks arrive through one `omnichannel-axum` gateway. Its sink only queues events
//! (Front expects an answer within 7 s); a worker task does the bridging.
//!
//! ```text
//! cargo run --example front_signalwire_bridge
//! ```
//!
//! Offline by default: Front's Channel API and SignalWire's REST API are mock servers on
//! 127.0.0.1, secrets are obvious test values, and the webhooks are signed locally with the
//! crates' own signers. To call the real APIs (the webhooks are still played locally, signed
//! with your real secrets), set all of:
//!
//! | variable | meaning |
//! | --- | --- |
//! | `FRONT_APP_UID`, `FRONT_APP_SECRET` | the Front app's UID and secret |
//! | `FRONT_CHANNEL_ID` | the channel instance (`cha_...`) the app was authorized for |
//! | `SIGNALWIRE_SPACE_URL`, `SIGNALWIRE_PROJECT_ID`, `SIGNALWIRE_API_TOKEN` | SignalWire REST access |
//! | `SIGNALWIRE_SIGNING_KEY` | the project's Signing Key |
//! | `SIGNALWIRE_FROM` | your SignalWire number, E.164 |
//! | `BRIDGE_CUSTOMER_PHONE` | the phone that plays the customer, E.164 |
//!
//! In live mode the failure step is skipped: a real failure cannot be provoked on demand.

#[path = "common/mod.rs"]
mod common;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::{FormHas, JsonHas, QueueSink, Result, deliver, detail, ensure, step};
use omnichannel::front::{FrontChannel, FrontConfig, failure_notice};
use omnichannel::http::Idempotency;
use omnichannel::signalwire::{SignalwireChannel, SignalwireConfig};
use omnichannel::{
    Channel, ChannelEnv, Contact, DeliveryState, Event, EventKind, Message, Provider, SecretString,
};
use omnichannel_axum::{EventSource, Gateway};
use serde_json::{Value, json};
use tokio::sync::mpsc;
use wiremock::matchers::{basic_auth, method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

const OFFLINE_FRONT_UID: &str = "example-app-uid";
const OFFLINE_FRONT_SECRET: &str = "test-secret-not-real";
const OFFLINE_FRONT_CHANNEL: &str = "cha_example";
const OFFLINE_SW_PROJECT: &str = "00000000-0000-4000-8000-0000000000b1";
const OFFLINE_SW_TOKEN: &str = "PT_example-token-not-real";
const OFFLINE_SW_KEY: &str = "PSK_example-signing-key-not-real";
const OFFLINE_SW_FROM: &str = "+15551234567";
const OFFLINE_CUSTOMER: &str = "+15550001111";
const OFFLINE_SMS_SID: &str = "SM-bridge-out-1";
const TEAMMATE_TEXT: &str = "Hello from Front";
const CUSTOMER_TEXT: &str = "Yes, Tuesday at 10 works for me";

struct Setup {
    front: Value,
    signalwire: Value,
    customer: String,
    /// Whether sends ask SignalWire for status callbacks at the bridge's webhook URL. Only
    /// offline: here that URL is on 127.0.0.1, which SignalWire cannot call (a deployed bridge
    /// gives its public webhook URL).
    status_callbacks: bool,
    mocks: Option<(MockServer, MockServer)>,
}

/// A wiremock matcher: `Authorization: Bearer <channel JWT>` signed with the app secret, for
/// the right app and channel (what Front checks).
struct FrontJwt;

impl wiremock::Match for FrontJwt {
    fn matches(&self, request: &wiremock::Request) -> bool {
        let Some(token) = request
            .headers
            .get("authorization")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
        else {
            return false;
        };
        let secret = SecretString::from(OFFLINE_FRONT_SECRET);
        omnichannel::jwt::decode_hs256::<Value>(token, &secret, 5).is_ok_and(|claims| {
            claims["iss"] == OFFLINE_FRONT_UID && claims["sub"] == OFFLINE_FRONT_CHANNEL
        })
    }
}

async fn offline_setup() -> Result<Setup> {
    let front = MockServer::start().await;
    let signalwire = MockServer::start().await;
    let channel = OFFLINE_FRONT_CHANNEL;
    // The customer's SMS, imported as a message the contact wrote.
    Mock::given(method("POST"))
        .and(path(format!("/channels/{channel}/inbound_messages")))
        .and(FrontJwt)
        .and(JsonHas(json!({
            "sender": {"handle": OFFLINE_CUSTOMER},
            "body": CUSTOMER_TEXT,
            "metadata": {"external_conversation_id": OFFLINE_CUSTOMER},
        })))
        .respond_with(
            ResponseTemplate::new(202)
                .set_body_json(json!({"status": "accepted", "message_uid": "msg_uid_in_1"})),
        )
        .expect(1)
        .mount(&front)
        .await;
    // The failure notice, imported the same way (WebhookDB's text).
    let notice = failure_notice(Some("30008"), Some("Unknown error"), TEAMMATE_TEXT);
    Mock::given(method("POST"))
        .and(path(format!("/channels/{channel}/inbound_messages")))
        .and(FrontJwt)
        .and(JsonHas(json!({
            "sender": {"handle": OFFLINE_CUSTOMER},
            "body": notice,
            "metadata": {"external_id": OFFLINE_SMS_SID, "external_conversation_id": OFFLINE_CUSTOMER},
        })))
        .respond_with(
            ResponseTemplate::new(202)
                .set_body_json(json!({"status": "accepted", "message_uid": "msg_uid_notice_1"})),
        )
        .expect(1)
        .mount(&front)
        .await;
    // The teammate's message marked failed (Front reopens the conversation).
    Mock::given(method("PUT"))
        .and(path(format!(
            "/channels/{channel}/conversations/{OFFLINE_CUSTOMER}/messages/msg_demo1-{OFFLINE_CUSTOMER}/status"
        )))
        .and(FrontJwt)
        .and(JsonHas(json!({"status": "failed"})))
        .respond_with(ResponseTemplate::new(204))
        .expect(1)
        .mount(&front)
        .await;
    Mock::given(method("POST"))
        .and(path(format!(
            "/api/laml/2010-04-01/Accounts/{OFFLINE_SW_PROJECT}/Messages.json"
        )))
        .and(basic_auth(OFFLINE_SW_PROJECT, OFFLINE_SW_TOKEN))
        .and(FormHas(vec![
            ("To", OFFLINE_CUSTOMER.into()),
            ("From", OFFLINE_SW_FROM.into()),
            ("Body", TEAMMATE_TEXT.into()),
        ]))
        .respond_with(ResponseTemplate::new(201).set_body_json(json!({
            "sid": OFFLINE_SMS_SID, "status": "queued", "account_sid": OFFLINE_SW_PROJECT,
            "to": OFFLINE_CUSTOMER, "from": OFFLINE_SW_FROM, "num_media": "0", "error_code": null
        })))
        .expect(1)
        .mount(&signalwire)
        .await;
    Ok(Setup {
        front: json!({
            "app_uid": OFFLINE_FRONT_UID,
            "app_secret": OFFLINE_FRONT_SECRET,
            "channel_id": OFFLINE_FRONT_CHANNEL,
            "api_base_url": front.uri(),
        }),
        signalwire: json!({
            "signing_key": OFFLINE_SW_KEY,
            "project_id": OFFLINE_SW_PROJECT,
            "api_token": OFFLINE_SW_TOKEN,
            "space_url": signalwire.uri(),
            "from": OFFLINE_SW_FROM,
        }),
        customer: OFFLINE_CUSTOMER.into(),
        status_callbacks: true,
        mocks: Some((front, signalwire)),
    })
}

fn live_setup() -> Result<Option<Setup>> {
    let Some(v) = common::env_group(&[
        "FRONT_APP_UID",
        "FRONT_APP_SECRET",
        "FRONT_CHANNEL_ID",
        "SIGNALWIRE_SPACE_URL",
        "SIGNALWIRE_PROJECT_ID",
        "SIGNALWIRE_API_TOKEN",
        "SIGNALWIRE_SIGNING_KEY",
        "SIGNALWIRE_FROM",
        "BRIDGE_CUSTOMER_PHONE",
    ])?
    else {
        return Ok(None);
    };
    Ok(Some(Setup {
        front: json!({"app_uid": v[0], "app_secret": v[1], "channel_id": v[2]}),
        signalwire: json!({
            "space_url": v[3], "project_id": v[4], "api_token": v[5],
            "signing_key": v[6], "from": v[7],
        }),
        customer: v[8].clone(),
        status_callbacks: false,
        mocks: None,
    }))
}

/// An SMS the bridge sent for a teammate, kept to explain a later failure.
#[derive(Debug, Clone)]
struct Outgoing {
    contact: String,
    front_message_id: String,
    body: String,
}

/// The bridging logic: one method per direction.
struct Bridge {
    front: Arc<FrontChannel>,
    sms: Arc<SignalwireChannel>,
    front_channel_id: String,
    status_callback: Option<String>,
    /// SignalWire message sid -> what was sent (a host keeps this in its database).
    sent: Mutex<HashMap<String, Outgoing>>,
}

impl Bridge {
    async fn handle(&self, source: &EventSource, event: &Event) -> Result<String> {
        match (source.provider, event.kind) {
            (Provider::Front, EventKind::Message) => self.teammate_to_sms(event).await,
            (Provider::Signalwire, EventKind::Message) => self.sms_to_front(event).await,
            (Provider::Signalwire, EventKind::Status) => self.status(event).await,
            _ => Ok(format!(
                "nothing to bridge for {} {:?}",
                source.provider, event.kind
            )),
        }
    }

    /// Front `message` (direction outbound, recipient = the customer's handle) -> SMS.
    async fn teammate_to_sms(&self, event: &Event) -> Result<String> {
        let to = event
            .recipient
            .as_ref()
            .ok_or("message without recipient")?
            .id
            .clone();
        let text = event.text.clone().unwrap_or_default();
        let mut msg = Message::text(&text).recipient(Contact::new(&to));
        if let Some(url) = &self.status_callback {
            msg = msg.metadata("status_callback", json!(url));
        }
        let msg = msg.build();
        let receipt = self.sms.send(&msg).await?;
        if let Ok(mut sent) = self.sent.lock() {
            sent.insert(
                receipt.message_id.clone(),
                Outgoing {
                    contact: to.clone(),
                    front_message_id: event.id.clone(),
                    body: text,
                },
            );
        }
        Ok(format!(
            "SMS {} to {to} ({:?})",
            receipt.message_id, receipt.status
        ))
    }

    /// Inbound SMS -> Front sync inbound, threaded by the customer's number.
    async fn sms_to_front(&self, event: &Event) -> Result<String> {
        let from = event
            .sender
            .as_ref()
            .ok_or("SMS without sender")?
            .id
            .clone();
        let mut msg = Message::text(event.text.clone().unwrap_or_default())
            .sender(Contact::new(&from))
            .conversation_id(&from)
            // The MessageSid: Front dedups on it, and retries reuse it.
            .idempotency_key(&event.id);
        if let Some(at) = event.occurred_at {
            msg = msg.metadata("delivered_at", json!(at.timestamp()));
        }
        let receipt = self.front.send(&msg.build()).await?;
        Ok(format!("imported into Front as {}", receipt.message_id))
    }

    /// `failed` / `undelivered` status -> failure notice in Front, teammate's message failed.
    async fn status(&self, event: &Event) -> Result<String> {
        let Some(status) = &event.status else {
            return Ok("status without details".into());
        };
        if !matches!(status.state, DeliveryState::Failed) {
            return Ok(format!("status {:?}: nothing to do", status.state));
        }
        let sid = status.message_id.clone().unwrap_or_default();
        let Some(out) = self.sent.lock().ok().and_then(|s| s.get(&sid).cloned()) else {
            return Ok(format!("failure of unknown message {sid}: ignored"));
        };
        let notice = omnichannel::front::normalize::failure_notice_request(
            &out.contact,
            &sid,
            status.error_code.as_deref(),
            status.error_message.as_deref(),
            &out.body,
            chrono::Utc::now(),
        );
        let api = self.front.api();
        let accepted = api
            .sync_inbound(
                &self.front_channel_id,
                &notice,
                Idempotency::keyed(Some(&sid)),
            )
            .await?;
        api.mark_failed(
            &self.front_channel_id,
            &out.contact,
            &out.front_message_id,
            Some("SMS failed to send"),
        )
        .await?;
        Ok(format!(
            "failure notice imported ({}), {} marked failed; notice text: {:?}",
            accepted.message_uid.unwrap_or_default(),
            out.front_message_id,
            notice.body
        ))
    }
}

async fn run(setup: Setup) -> Result {
    let client = common::http_client()?;
    let env = ChannelEnv::default();

    step(1, "Build both channels and mount them in one gateway");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let base = format!("http://{}", listener.local_addr()?);
    let front = Arc::new(FrontChannel::new(
        FrontConfig::from_settings(&setup.front)?,
        &env,
    )?);
    let sms = Arc::new(SignalwireChannel::new(
        SignalwireConfig::from_settings(&setup.signalwire)?,
        &env,
    )?);
    let (tx, mut rx) = mpsc::unbounded_channel();
    let gateway = Gateway::builder(&base, Arc::new(QueueSink(tx)))
        .channel("bridge", front.clone())
        .channel("sms", sms.clone())
        .build()?;
    let front_url = gateway.webhook_url(Provider::Front, "bridge");
    let sms_url = gateway.webhook_url(Provider::Signalwire, "sms");
    let app = gateway.router();
    tokio::spawn(async move {
        if let Err(e) = omnichannel_axum::axum::serve(listener, app).await {
            eprintln!("bridge server stopped: {e}");
        }
    });
    detail(format!("Front channel webhook: {front_url}"));
    detail(format!(
        "SignalWire SmsUrl (and status callback): {sms_url}"
    ));

    let bridge = Arc::new(Bridge {
        front_channel_id: front
            .config()
            .channel_id()
            .ok_or("channel_id is required")?
            .to_string(),
        front,
        sms: sms.clone(),
        status_callback: setup.status_callbacks.then(|| sms_url.clone()),
        sent: Mutex::new(HashMap::new()),
    });
    let (done_tx, mut done) = mpsc::unbounded_channel::<Result<String>>();
    let worker = bridge.clone();
    tokio::spawn(async move {
        while let Some((source, event)) = rx.recv().await {
            let outcome = worker.handle(&source, &event).await;
            if done_tx.send(outcome).is_err() {
                break;
            }
        }
    });
    let mut next_outcome = async || -> Result {
        match tokio::time::timeout(Duration::from_secs(20), done.recv()).await {
            Ok(Some(Ok(what))) => {
                detail(format!("bridge: {what}"));
                Ok(())
            }
            Ok(Some(Err(e))) => Err(format!("bridge step failed: {e}").into()),
            Ok(None) => Err("the bridge worker stopped".into()),
            Err(_) => Err("the bridge did not act in time".into()),
        }
    };

    step(
        2,
        "A teammate writes to the customer in Front (signed `message` webhook)",
    );
    let now = chrono::Utc::now();
    let (method, body) =
        omnichannel::front::Factory::sample_body("message", &bridge.front_channel_id, now)?;
    // The sample goes to a demo handle; address it to our customer.
    let body = body.replace("+15550001111", &setup.customer);
    let req = omnichannel::front::webhook::sign_request(
        &keys(&setup.front, "app_secret")?,
        method,
        &front_url,
        now,
        body,
    );
    let (status, reply) = deliver(&client, &req).await?;
    detail(format!("Front <- {status} {reply}"));
    ensure(status == 200, "Front's webhook is answered 200")?;
    next_outcome().await?;

    step(3, "The customer answers by SMS (signed SignalWire webhook)");
    let sw_keys = keys(&setup.signalwire, "signing_key")?;
    let ours = setup.signalwire["from"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let req = omnichannel::signalwire::webhook::sign_request(
        &sw_keys,
        &sms_url,
        &[
            ("MessageSid", "SM-bridge-in-1"),
            (
                "AccountSid",
                setup.signalwire["project_id"].as_str().unwrap_or_default(),
            ),
            ("From", &setup.customer),
            ("To", &ours),
            ("Body", CUSTOMER_TEXT),
            ("NumMedia", "0"),
        ],
    );
    let (status, reply) = deliver(&client, &req).await?;
    detail(format!("SignalWire <- {status} {reply}"));
    ensure(status == 200, "the SMS webhook is answered 200")?;
    next_outcome().await?;

    if setup.mocks.is_some() {
        step(
            4,
            "SignalWire reports the teammate's SMS failed (signed status callback)",
        );
        let sid = bridge
            .sent
            .lock()
            .ok()
            .and_then(|s| s.keys().next().cloned())
            .ok_or("no SMS was sent")?;
        let req = omnichannel::signalwire::webhook::sign_request(
            &sw_keys,
            &sms_url,
            &[
                ("MessageSid", &sid),
                (
                    "AccountSid",
                    setup.signalwire["project_id"].as_str().unwrap_or_default(),
                ),
                ("From", &ours),
                ("To", &setup.customer),
                ("MessageStatus", "failed"),
                ("ErrorCode", "30008"),
                ("ErrorMessage", "Unknown error"),
            ],
        );
        let (status, _) = deliver(&client, &req).await?;
        detail(format!("SignalWire <- {status}"));
        ensure(status == 200, "the status callback is answered 200")?;
        next_outcome().await?;
    }

    if let Some((front, signalwire)) = &setup.mocks {
        // Every mock with `.expect(1)` must have been called once, with the exact request.
        front.verify().await;
        signalwire.verify().await;
        detail("mock Front and SignalWire saw exactly the expected requests");
    }
    Ok(())
}

/// Signing keys read from the same settings the channels use (the provider's side of the
/// shared secret: the example signs what the provider would send).
fn keys(settings: &Value, key: &str) -> Result<omnichannel::SigningKeys> {
    Ok(omnichannel::Settings::new(settings)?.require_signing_keys(key)?)
}

async fn run_offline() -> Result {
    common::bounded(async { run(offline_setup().await?).await }).await
}

#[tokio::main]
async fn main() -> std::process::ExitCode {
    common::live_or_offline(
        live_setup(),
        "live mode: real Front and SignalWire APIs",
        "offline mode: Front and SignalWire are local mocks (see the file header to go live)",
        run,
        run_offline,
    )
    .await
}

#[cfg(test)]
mod tests {
    #[tokio::test]
    async fn offline_mode_succeeds() {
        if let Err(e) = super::run_offline().await {
            panic!("offline run failed: {e}");
        }
    }
}
