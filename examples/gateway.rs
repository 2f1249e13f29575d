//! Embedding the omnichannel gateway in a host application.
//!
//! The host has its own routes (`GET /health`, `GET /events`) beside the gateway's
//! `/webhooks/{provider}/{channel}` and `POST /send/{provider}/{channel}`, and an `EventSink`
//! that stores every new event. The example then plays the provider: it posts a correctly
//! signed SignalWire SMS webhook to itself (made by the factory's `simulate`), posts it again
//! (deduplicated), posts a tampered copy (refused), and sends a reply through `POST /send/...`.
//!
//! ```text
//! cargo run --example gateway
//! ```
//!
//! Offline by default: SignalWire's REST API is a mock server on 127.0.0.1 and the secrets are
//! obvious test values. To send the reply through a real SignalWire project instead, set all of:
//!
//! | variable | meaning |
//! | --- | --- |
//! | `SIGNALWIRE_SPACE_URL` | your space, `https://example.signalwire.com` |
//! | `SIGNALWIRE_PROJECT_ID` | Project ID |
//! | `SIGNALWIRE_API_TOKEN` | API token with the Messaging scope |
//! | `SIGNALWIRE_SIGNING_KEY` | the project's Signing Key (signs and verifies the webhook) |
//! | `SIGNALWIRE_FROM` | your SignalWire number, E.164 |
//! | `SIGNALWIRE_TO` | the phone that receives the reply, E.164 |
//!
//! Optional: `GATEWAY_API_KEY` (at least 16 characters) protects `/send`; without it a
//! per-run key is used (the server only listens on 127.0.0.1).

#[path = "common/mod.rs"]
mod common;

use std::sync::Arc;

use common::{FormHas, MemorySink, Result, deliver, detail, ensure, event_line, step};
use omnichannel::{ChannelEnv, EventKind, Provider};
use omnichannel_axum::Gateway;
use omnichannel_axum::axum::routing::get;
use omnichannel_axum::axum::{Json, Router};
use serde_json::{Value, json};
use wiremock::matchers::{basic_auth, method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

/// Channel name in the gateway's paths: `/webhooks/signalwire/sms`, `/send/signalwire/sms`.
const CHANNEL: &str = "sms";
const OFFLINE_PROJECT: &str = "00000000-0000-4000-8000-0000000000e1";
const OFFLINE_TOKEN: &str = "PT_example-token-not-real";
const OFFLINE_SIGNING_KEY: &str = "PSK_example-signing-key-not-real";
const OFFLINE_FROM: &str = "+15551234567";
const OFFLINE_API_KEY: &str = "example-api-key-not-a-secret";

/// Where the reply goes and how the channel is set up.
struct Setup {
    /// Channel settings (DESIGN.md section 5 keys), as a host would keep them in its config.
    settings: Value,
    /// Recipient of the reply: `None` answers the simulated sender (offline).
    reply_to: Option<String>,
    api_key: String,
    /// The mock SignalWire API (offline only).
    mock: Option<MockServer>,
}

async fn offline_setup() -> Result<Setup> {
    let mock = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(format!(
            "/api/laml/2010-04-01/Accounts/{OFFLINE_PROJECT}/Messages.json"
        )))
        .and(basic_auth(OFFLINE_PROJECT, OFFLINE_TOKEN))
        .and(FormHas(vec![
            ("To", "+15557654321".into()),
            ("From", OFFLINE_FROM.into()),
            ("Body", "Thanks, we got your message!".into()),
        ]))
        .respond_with(ResponseTemplate::new(201).set_body_json(json!({
            "sid": "SM-example-1", "status": "queued", "account_sid": OFFLINE_PROJECT,
            "to": "+15557654321", "from": OFFLINE_FROM, "num_media": "0", "error_code": null
        })))
        .mount(&mock)
        .await;
    Ok(Setup {
        settings: json!({
            "signing_key": OFFLINE_SIGNING_KEY,
            "project_id": OFFLINE_PROJECT,
            "api_token": OFFLINE_TOKEN,
            "space_url": mock.uri(),
            "from": OFFLINE_FROM,
        }),
        reply_to: None,
        api_key: OFFLINE_API_KEY.into(),
        mock: Some(mock),
    })
}

fn live_setup() -> Result<Option<Setup>> {
    let Some(v) = common::env_group(&[
        "SIGNALWIRE_SPACE_URL",
        "SIGNALWIRE_PROJECT_ID",
        "SIGNALWIRE_API_TOKEN",
        "SIGNALWIRE_SIGNING_KEY",
        "SIGNALWIRE_FROM",
        "SIGNALWIRE_TO",
    ])?
    else {
        return Ok(None);
    };
    let api_key = common::env("GATEWAY_API_KEY").unwrap_or_else(|| {
        format!(
            "per-run-key-{}-{}",
            std::process::id(),
            chrono::Utc::now().timestamp_nanos_opt().unwrap_or_default()
        )
    });
    Ok(Some(Setup {
        settings: json!({
            "space_url": v[0], "project_id": v[1], "api_token": v[2],
            "signing_key": v[3], "from": v[4],
        }),
        reply_to: Some(v[5].clone()),
        api_key,
        mock: None,
    }))
}

async fn run(setup: Setup) -> Result {
    let client = common::http_client()?;

    step(
        1,
        "Build the SignalWire channel from settings, by provider name",
    );
    let factory = omnichannel::factories()
        .into_iter()
        .find(|f| f.provider() == Provider::Signalwire)
        .ok_or("the signalwire feature is off")?;
    let channel = factory.build(&setup.settings, &ChannelEnv::default())?;
    detail(format!(
        "provider {}, business-initiated sends: {}",
        channel.provider(),
        channel.capabilities().business_initiated
    ));

    step(
        2,
        "Mount it in the host's router beside the host's own routes",
    );
    // Bind first: the public base URL (which SignalWire signs) must name the real port.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let base = format!("http://{}", listener.local_addr()?);
    let sink = Arc::new(MemorySink::default());
    let gateway = Gateway::builder(&base, sink.clone())
        .channel(CHANNEL, channel)
        .api_key(&setup.api_key)
        .build()?;
    let events_sink = sink.clone();
    let app = Router::new()
        .route("/health", get(|| async { "ok" }))
        .route(
            "/events",
            get(move || {
                let sink = events_sink.clone();
                async move {
                    let events: Vec<Value> =
                        sink.events().iter().map(|(_, e)| e.to_json()).collect();
                    Json(json!({ "events": events }))
                }
            }),
        )
        .merge(gateway.router());
    tokio::spawn(async move {
        if let Err(e) = omnichannel_axum::axum::serve(listener, app).await {
            eprintln!("host server stopped: {e}");
        }
    });
    let webhook_url = gateway.webhook_url(Provider::Signalwire, CHANNEL);
    detail(format!("host listening on {base}"));
    detail(format!(
        "register this webhook URL at SignalWire: {webhook_url}"
    ));
    let health = client
        .get(format!("{base}/health"))
        .send()
        .await?
        .text()
        .await?;
    detail(format!("GET /health -> {health}"));

    step(
        3,
        "Post a correctly signed SMS webhook to ourselves (Factory::simulate)",
    );
    let req = factory.simulate(&setup.settings, "sms", &webhook_url, chrono::Utc::now())?;
    let (status, body) = deliver(&client, &req).await?;
    detail(format!("POST {} -> {status} {body}", req.url));
    ensure(status == 200, "the signed webhook is accepted")?;
    ensure(sink.len() == 1, "the sink took one event")?;
    let (_, event) = sink.events().remove(0);
    ensure(event.kind == EventKind::Message, "the event is a message")?;

    step(
        4,
        "SignalWire redelivers the same webhook: answered, but not handed over twice",
    );
    let (status, _) = deliver(&client, &req).await?;
    detail(format!("-> {status}, events in the sink: {}", sink.len()));
    ensure(
        status == 200 && sink.len() == 1,
        "the redelivery is deduplicated",
    )?;

    step(
        5,
        "A tampered copy (one byte of the body changed) is refused",
    );
    let mut tampered = req.clone();
    let mut body = tampered.body.to_vec();
    if let Some(b) = body.last_mut() {
        *b = if *b == b'0' { b'1' } else { b'0' };
    }
    tampered.body = body.into();
    let (status, body) = deliver(&client, &tampered).await?;
    detail(format!("-> {status} {body}"));
    ensure(status == 401, "a changed body fails the signature")?;
    ensure(sink.len() == 1, "nothing reached the sink")?;

    step(6, "The host's own route reads what the sink stored");
    let stored: Value = client
        .get(format!("{base}/events"))
        .send()
        .await?
        .json()
        .await?;
    let count = stored["events"].as_array().map_or(0, Vec::len);
    detail(format!("GET /events -> {count} event(s)"));

    step(
        7,
        "Reply through POST /send/signalwire/sms (normalized outbound JSON)",
    );
    let to = match &setup.reply_to {
        Some(to) => to.clone(),
        None => event
            .sender
            .as_ref()
            .map(|s| s.id.clone())
            .ok_or("no sender")?,
    };
    let send_url = format!("{base}/send/signalwire/{CHANNEL}");
    let message = json!({
        "recipient": {"id": to},
        "text": "Thanks, we got your message!",
        "reply_to": event.id,
    });
    let res = client
        .post(&send_url)
        .bearer_auth(&setup.api_key)
        .json(&message)
        .send()
        .await?;
    let status = res.status().as_u16();
    let receipt: Value = res.json().await?;
    detail(format!("-> {status} {receipt}"));
    ensure(status == 200, "the send is accepted")?;

    step(8, "Without the API key, /send is refused");
    let res = client.post(&send_url).json(&message).send().await?;
    let status = res.status().as_u16();
    detail(format!("-> {status} {}", res.text().await?));
    ensure(status == 401, "a send without the key is refused")?;

    if let Some(mock) = &setup.mock {
        step(9, "What reached the (mock) provider");
        let sent = mock.received_requests().await.unwrap_or_default();
        ensure(sent.len() == 1, "exactly one request reached SignalWire")?;
        detail(format!(
            "mock SignalWire received {} request: {} {}",
            sent.len(),
            sent[0].method,
            sent[0].url.path()
        ));
    }
    println!("\nevent kept by the host: {}", event_line(&event));
    Ok(())
}

async fn run_offline() -> Result {
    common::bounded(async { run(offline_setup().await?).await }).await
}

#[tokio::main]
async fn main() -> std::process::ExitCode {
    common::live_or_offline(
        live_setup(),
        "live mode: replies go through SignalWire to SIGNALWIRE_TO",
        "offline mode: SignalWire is a local mock (set SIGNALWIRE_* to go live)",
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
