//! Bring Your Own Channel for Salesforce: SMS end users talk to Salesforce reps.
//!
//! - An end user's SMS (signed SignalWire webhook, through an `omnichannel-axum` gateway) is
//!   relayed into Service Cloud as an Interaction Service message. The channel gets its token
//!   with the OAuth 2.0 JWT bearer flow (RS256 assertion) and posts `/api/v1/interactions`.
//! - A rep's reply arrives as the channel definition's platform event. A Pub/Sub subscriber
//!   (see `crates/salesforce-pubsub`) decodes it to JSON; `receive_event` turns it into a
//!   normalized message, which is sent to the end user through SignalWire.
//!
//! ```text
//! cargo run --example salesforce_byoc
//! ```
//!
//! Offline by default: the Salesforce token endpoint, the SCRT (Interaction Service) API and
//! SignalWire are mock servers on 127.0.0.1. The mock token endpoint checks the assertion
//! against the public half of the Salesforce crate's **test-only** RSA key
//! (`crates/salesforce-interaction/tests/data`, generated for tests, never a real key).
//!
//! To use a real org (the SMS webhook and the rep's event are still played locally; the API
//! calls are real), set all of:
//!
//! | variable | meaning |
//! | --- | --- |
//! | `SALESFORCE_LOGIN_URL` | `https://login.salesforce.com`, `https://test.salesforce.com` or your My Domain |
//! | `SALESFORCE_CONSUMER_KEY` | the connected app's consumer key |
//! | `SALESFORCE_USERNAME` | the integration user |
//! | `SALESFORCE_PRIVATE_KEY_FILE` | path to the PEM private key whose certificate is on the connected app |
//! | `SALESFORCE_SCRT_URL` | `https://<domain>.my.salesforce-scrt.com` |
//! | `SALESFORCE_ORG_ID` | the org id (`00D...`) |
//! | `SALESFORCE_AUTHORIZATION_CONTEXT` | the conversation channel definition's developer name |
//! | `SALESFORCE_CHANNEL_ADDRESS` | the messaging channel's address identifier |
//! | `SALESFORCE_EVENT_PAYLOAD_FIELD`, `SALESFORCE_EVENT_TYPE_FIELD` | API names of the platform event's payload and event type fields |
//! | `SIGNALWIRE_SPACE_URL`, `SIGNALWIRE_PROJECT_ID`, `SIGNALWIRE_API_TOKEN`, `SIGNALWIRE_SIGNING_KEY`, `SIGNALWIRE_FROM` | SignalWire access and number |
//! | `BYOC_END_USER_PHONE` | the phone that plays the end user, E.164 |

#[path = "common/mod.rs"]
mod common;

use std::sync::Arc;
use std::time::Duration;

use common::{FormHas, QueueSink, Result, deliver, detail, ensure, event_line, step};
use omnichannel::salesforce_interaction::auth::AssertionClaims;
use omnichannel::salesforce_interaction::{EventFields, SalesforceChannel, SalesforceConfig};
use omnichannel::signalwire::{SignalwireChannel, SignalwireConfig};
use omnichannel::{
    Channel, ChannelEnv, Contact, EventKind, Message, Provider, SecretString, Settings,
};
use omnichannel_axum::Gateway;
use serde_json::{Value, json};
use tokio::sync::mpsc;
use wiremock::matchers::{basic_auth, bearer_token, body_string_contains, header, method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

/// Test-only key pair of the Salesforce crate's tests (labelled so in its README).
const TEST_ONLY_PRIVATE_KEY: &str =
    include_str!("../crates/salesforce-interaction/tests/data/test-only-rsa-key.pem");
const TEST_ONLY_PUBLIC_KEY: &str =
    include_str!("../crates/salesforce-interaction/tests/data/test-only-rsa-key.pub.pem");

const OFFLINE_CONSUMER_KEY: &str = "example-consumer-key-not-real";
const OFFLINE_USERNAME: &str = "integration@example.invalid";
const OFFLINE_ORG: &str = "00D000000000001";
const OFFLINE_CONTEXT: &str = "Example_ChannelDefinition";
const OFFLINE_CHANNEL_ADDRESS: &str = "b0ffeafe-0d89-4338-b14a-172ad203f22a";
const OFFLINE_ACCESS_TOKEN: &str = "00D000000000001!example-access-token-not-real";
const OFFLINE_SW_PROJECT: &str = "00000000-0000-4000-8000-0000000000c1";
const OFFLINE_SW_TOKEN: &str = "PT_example-token-not-real";
const OFFLINE_SW_KEY: &str = "PSK_example-signing-key-not-real";
const OFFLINE_SW_FROM: &str = "+15551234567";
const OFFLINE_END_USER: &str = "+15557654321";
const USER_TEXT: &str = "Hi, I need to change my delivery address";
const REP_TEXT: &str = "Sure! What is the new address?";

struct Setup {
    salesforce: SalesforceConfig,
    signalwire: Value,
    end_user: String,
    mocks: Option<(MockServer, MockServer)>,
}

/// The mock token endpoint's check: a JWT bearer grant whose assertion verifies with the
/// test-only public key and names the consumer key, the user and the login URL.
struct AssertionOk;

impl wiremock::Match for AssertionOk {
    fn matches(&self, request: &wiremock::Request) -> bool {
        let Ok(fields) = serde_urlencoded::from_bytes::<Vec<(String, String)>>(&request.body)
        else {
            return false;
        };
        let get = |k: &str| fields.iter().find(|(f, _)| f == k).map(|(_, v)| v.as_str());
        if get("grant_type") != Some("urn:ietf:params:oauth:grant-type:jwt-bearer") {
            return false;
        }
        get("assertion")
            .and_then(|a| {
                omnichannel::jwt::decode_rs256::<AssertionClaims>(a, TEST_ONLY_PUBLIC_KEY).ok()
            })
            .is_some_and(|c| {
                c.iss == OFFLINE_CONSUMER_KEY
                    && c.sub == OFFLINE_USERNAME
                    && c.aud == "https://login.salesforce.com"
            })
    }
}

async fn offline_setup() -> Result<Setup> {
    let salesforce = MockServer::start().await;
    let signalwire = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/services/oauth2/token"))
        .and(AssertionOk)
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "access_token": OFFLINE_ACCESS_TOKEN,
            "instance_url": "https://example.my.salesforce.com",
            "id": format!("https://login.salesforce.com/id/{OFFLINE_ORG}/005000000000001"),
            "token_type": "Bearer",
            "scope": "interaction_api",
        })))
        .expect(1)
        .mount(&salesforce)
        .await;
    Mock::given(method("POST"))
        .and(path("/api/v1/interactions"))
        .and(bearer_token(OFFLINE_ACCESS_TOKEN))
        .and(header("orgid", OFFLINE_ORG))
        .and(header("authorizationcontext", OFFLINE_CONTEXT))
        .and(body_string_contains(format!(
            r#""from":"{OFFLINE_END_USER}""#
        )))
        .and(body_string_contains(format!(r#""text":"{USER_TEXT}""#)))
        .respond_with(ResponseTemplate::new(202).set_body_json(json!({
            "conversationIdentifier": "6b4f5c1e-2d3a-4b5c-8d9e-0f1a2b3c4d5e",
            "workItemIds": ["0MwRM0000000001"],
            "success": true,
        })))
        .expect(1)
        .mount(&salesforce)
        .await;
    Mock::given(method("POST"))
        .and(path(format!(
            "/api/laml/2010-04-01/Accounts/{OFFLINE_SW_PROJECT}/Messages.json"
        )))
        .and(basic_auth(OFFLINE_SW_PROJECT, OFFLINE_SW_TOKEN))
        .and(FormHas(vec![
            ("To", OFFLINE_END_USER.into()),
            ("From", OFFLINE_SW_FROM.into()),
            ("Body", REP_TEXT.into()),
        ]))
        .respond_with(ResponseTemplate::new(201).set_body_json(json!({
            "sid": "SM-byoc-out-1", "status": "queued", "account_sid": OFFLINE_SW_PROJECT,
            "to": OFFLINE_END_USER, "from": OFFLINE_SW_FROM, "num_media": "0", "error_code": null
        })))
        .expect(1)
        .mount(&signalwire)
        .await;
    let config = SalesforceConfig::builder(salesforce.uri(), OFFLINE_ORG, OFFLINE_CONTEXT)
        // The assertion's audience stays login.salesforce.com; only the request goes local.
        .token_base_url(salesforce.uri())
        .consumer_key(OFFLINE_CONSUMER_KEY)
        .username(OFFLINE_USERNAME)
        .private_key_pem(SecretString::from(TEST_ONLY_PRIVATE_KEY))
        .channel_address(OFFLINE_CHANNEL_ADDRESS)
        .event_fields(EventFields {
            payload: "Example_Payload__c".into(),
            event_type: "Example_EventType__c".into(),
            ..EventFields::default()
        })
        .build()?;
    Ok(Setup {
        salesforce: config,
        signalwire: json!({
            "signing_key": OFFLINE_SW_KEY,
            "project_id": OFFLINE_SW_PROJECT,
            "api_token": OFFLINE_SW_TOKEN,
            "space_url": signalwire.uri(),
            "from": OFFLINE_SW_FROM,
        }),
        end_user: OFFLINE_END_USER.into(),
        mocks: Some((salesforce, signalwire)),
    })
}

fn live_setup() -> Result<Option<Setup>> {
    let Some(v) = common::env_group(&[
        "SALESFORCE_LOGIN_URL",
        "SALESFORCE_CONSUMER_KEY",
        "SALESFORCE_USERNAME",
        "SALESFORCE_PRIVATE_KEY_FILE",
        "SALESFORCE_SCRT_URL",
        "SALESFORCE_ORG_ID",
        "SALESFORCE_AUTHORIZATION_CONTEXT",
        "SALESFORCE_CHANNEL_ADDRESS",
        "SALESFORCE_EVENT_PAYLOAD_FIELD",
        "SALESFORCE_EVENT_TYPE_FIELD",
        "SIGNALWIRE_SPACE_URL",
        "SIGNALWIRE_PROJECT_ID",
        "SIGNALWIRE_API_TOKEN",
        "SIGNALWIRE_SIGNING_KEY",
        "SIGNALWIRE_FROM",
        "BYOC_END_USER_PHONE",
    ])?
    else {
        return Ok(None);
    };
    let pem = std::fs::read_to_string(&v[3])
        .map_err(|e| format!("SALESFORCE_PRIVATE_KEY_FILE cannot be read: {e}"))?;
    let config = SalesforceConfig::builder(&v[4], &v[5], &v[6])
        .login_url(&v[0])
        .consumer_key(&v[1])
        .username(&v[2])
        .private_key_pem(SecretString::from(pem))
        .channel_address(&v[7])
        .event_fields(EventFields {
            payload: v[8].clone(),
            event_type: v[9].clone(),
            ..EventFields::default()
        })
        .build()?;
    Ok(Some(Setup {
        salesforce: config,
        signalwire: json!({
            "space_url": v[10], "project_id": v[11], "api_token": v[12],
            "signing_key": v[13], "from": v[14],
        }),
        end_user: v[15].clone(),
        mocks: None,
    }))
}

/// A rep's reply as the Pub/Sub subscriber hands it over: the platform event decoded to JSON
/// (Spring '24 layout: event type `Interaction`, the entry under `payload`).
fn rep_reply_event(fields: &EventFields, channel_address: &str, end_user: &str) -> Value {
    let payload = json!({
        "conversationIdentifier": "6b4f5c1e-2d3a-4b5c-8d9e-0f1a2b3c4d5e",
        "channelAddressIdentifier": channel_address,
        "recipient": {"appType": "custom", "subject": end_user, "role": "EndUser"},
        "payload": {
            "identifier": "0b1e2c3d-rep-reply-1",
            "entryType": "Message",
            "senderDisplayName": "Rita Rep",
            "sender": {"appType": "agent", "subject": "005000000000001", "role": "Agent"},
            "entryPayload": {
                "entryType": "Message",
                "id": "0b1e2c3d-rep-reply-1",
                "abstractMessage": {
                    "messageType": "StaticContentMessage",
                    "id": "0b1e2c3d-rep-reply-1",
                    "staticContent": {"formatType": "Text", "text": REP_TEXT}
                }
            }
        }
    });
    let mut event = serde_json::Map::new();
    event.insert(fields.event_type.clone(), json!("Interaction"));
    event.insert(fields.payload.clone(), json!(payload.to_string()));
    event.insert(
        "CreatedDate".into(),
        json!(chrono::Utc::now().timestamp_millis()),
    );
    Value::Object(event)
}

async fn run(setup: Setup) -> Result {
    let client = common::http_client()?;
    let env = ChannelEnv::default();

    step(
        1,
        "Build the channels; mount SignalWire in a gateway whose sink queues events",
    );
    let salesforce = Arc::new(SalesforceChannel::new(setup.salesforce.clone(), &env)?);
    let sms = Arc::new(SignalwireChannel::new(
        SignalwireConfig::from_settings(&setup.signalwire)?,
        &env,
    )?);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let base = format!("http://{}", listener.local_addr()?);
    let (tx, mut rx) = mpsc::unbounded_channel();
    let gateway = Gateway::builder(&base, Arc::new(QueueSink(tx)))
        .channel("sms", sms.clone())
        .build()?;
    let sms_url = gateway.webhook_url(Provider::Signalwire, "sms");
    let router = gateway.router();
    tokio::spawn(async move {
        if let Err(e) = omnichannel_axum::axum::serve(listener, router).await {
            eprintln!("host server stopped: {e}");
        }
    });
    detail(format!("SignalWire SmsUrl: {sms_url}"));

    step(2, "The end user texts (signed SignalWire webhook)");
    let keys = Settings::new(&setup.signalwire)?.require_signing_keys("signing_key")?;
    let ours = setup.signalwire["from"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let req = omnichannel::signalwire::webhook::sign_request(
        &keys,
        &sms_url,
        &[
            ("MessageSid", "SM-byoc-in-1"),
            ("From", &setup.end_user),
            ("To", &ours),
            ("Body", USER_TEXT),
            ("NumMedia", "0"),
        ],
    );
    let (status, _) = deliver(&client, &req).await?;
    ensure(status == 200, "the SMS webhook is answered 200")?;
    let (_, sms_event) = tokio::time::timeout(Duration::from_secs(10), rx.recv())
        .await
        .map_err(|_| "no event was queued")?
        .ok_or("the queue closed")?;

    step(
        3,
        "Relay it to Salesforce (JWT bearer token, then POST /api/v1/interactions)",
    );
    let end_user = sms_event
        .sender
        .as_ref()
        .ok_or("SMS without sender")?
        .id
        .clone();
    let msg = Message::text(sms_event.text.clone().unwrap_or_default())
        // The end user's client id: the conversation is (channel address, end user).
        .sender(Contact::new(&end_user))
        // The MessageSid: the entry id and RequestId derive from it, so a retry repeats them.
        .idempotency_key(&sms_event.id)
        .build();
    let receipt = salesforce.send(&msg).await?;
    detail(format!(
        "entry {} accepted; Salesforce answered {}",
        receipt.message_id,
        receipt.raw.clone().unwrap_or_default()
    ));

    step(
        4,
        "A rep replies: the decoded platform event goes to receive_event",
    );
    let decoded = rep_reply_event(
        &setup.salesforce.event_fields,
        setup
            .salesforce
            .channel_address
            .as_deref()
            .unwrap_or_default(),
        &end_user,
    );
    let inbound = salesforce.receive_event(Arc::new(decoded.clone())).await?;
    let reply = inbound
        .events
        .first()
        .ok_or("no event in the platform event")?;
    detail(format!("normalized: {}", event_line(reply)));
    ensure(
        reply.kind == EventKind::Message,
        "the rep's entry is a message",
    )?;

    step(5, "Send the rep's reply to the end user by SMS");
    let to = reply
        .recipient
        .as_ref()
        .ok_or("reply without recipient")?
        .id
        .clone();
    let receipt = sms
        .send(
            &Message::text(reply.text.clone().unwrap_or_default())
                .recipient(Contact::new(&to))
                .build(),
        )
        .await?;
    detail(format!(
        "SMS {} to {to} ({:?})",
        receipt.message_id, receipt.status
    ));

    if let Some((salesforce, signalwire)) = &setup.mocks {
        salesforce.verify().await;
        signalwire.verify().await;
        detail("mock Salesforce (token + SCRT) and SignalWire saw exactly the expected requests");
    }
    Ok(())
}

async fn run_offline() -> Result {
    common::bounded(async { run(offline_setup().await?).await }).await
}

#[tokio::main]
async fn main() -> std::process::ExitCode {
    common::live_or_offline(
        live_setup(),
        "live mode: real Salesforce org and SignalWire project",
        "offline mode: Salesforce and SignalWire are local mocks (see the file header to go live)",
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
