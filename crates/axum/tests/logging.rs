//! What the gateway logs: the provider and channel of each request, never a secret, a
//! signature, a key or a body. Its own test binary, so that its subscriber is the global one.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;

use chrono::Utc;
use omnichannel_axum::testing::{DEMO_SECRET, RecordingSink, TestFactory};
use omnichannel_axum::{EventSink, Gateway};
use omnichannel_core::{ChannelFactory, WebhookRequest};
use omnichannel_testkit::hygiene::LogBuffer;
use serde_json::{Value, json};

const API_KEY: &str = "test-api-key-not-real-0123456789";

async fn deliver(req: &WebhookRequest, to: &str) -> u16 {
    reqwest::Client::new()
        .request(req.method.clone(), to)
        .headers(req.headers.clone())
        .body(req.body.clone())
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

async fn post_send(base: &str, auth: &str, body: &Value) -> u16 {
    reqwest::Client::new()
        .post(format!("{base}/send/tiktok/main"))
        .header("authorization", auth)
        .json(body)
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

#[tokio::test]
async fn logs_name_the_channel_but_never_secrets_signatures_or_bodies() {
    let logs = LogBuffer::default();
    let subscriber = tracing_subscriber::fmt()
        .with_writer(logs.clone())
        .with_max_level(tracing::Level::INFO)
        .with_ansi(false)
        .finish();
    tracing::subscriber::set_global_default(subscriber).unwrap();

    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let factory = TestFactory::default();
    let config = factory.demo_config();
    let channel = factory.build(&config, &Default::default()).unwrap();
    let sink: Arc<dyn EventSink> = Arc::new(RecordingSink::new());
    let gateway = Gateway::builder(base.clone(), sink)
        .channel("main", channel)
        .api_key(API_KEY)
        .build()
        .unwrap();
    tokio::spawn(async move { axum::serve(listener, gateway.router()).await.unwrap() });
    let url = format!("{base}/webhooks/tiktok/main");
    let simulate = |event: &str| factory.simulate(&config, event, &url, Utc::now()).unwrap();
    let good = simulate("message");
    let signature = good.headers["x-test-signature"]
        .to_str()
        .unwrap()
        .to_string();
    assert_eq!(deliver(&good, &url).await, 200);
    let mut tampered = good.clone();
    tampered.body =
        bytes::Bytes::from_static(br#"{"events":[{"id":"BODY-MARKER-1","type":"message"}]}"#);
    assert_eq!(deliver(&tampered, &url).await, 401);
    let mut unparseable = simulate("message");
    unparseable.body = bytes::Bytes::from_static(b"BODY-MARKER-2 not json");
    let keys = omnichannel_core::SigningKeys::new(DEMO_SECRET);
    let ts = Utc::now().timestamp();
    unparseable
        .headers
        .insert("x-test-timestamp", ts.to_string().parse().unwrap());
    let sig = omnichannel_axum::testing::sign(&keys, ts, None, &unparseable.body);
    unparseable
        .headers
        .insert("x-test-signature", sig.parse().unwrap());
    assert_eq!(deliver(&unparseable, &url).await, 400);
    // A path that names no mounted channel: logged with its segments escaped, so that a
    // newline in them cannot forge a log line.
    let forged = format!("{base}/webhooks/tiktok/x%0A2026-01-01T00:00:00Z%20INFO%20forged");
    assert_eq!(deliver(&good, &forged).await, 404);
    let msg = json!({"conversation_id": "c", "text": "BODY-MARKER-3"});
    assert_eq!(
        post_send(&base, "Bearer WRONG-KEY-MARKER-0123456789", &msg).await,
        401
    );
    assert_eq!(
        post_send(&base, &format!("Bearer {API_KEY}"), &msg).await,
        200
    );

    let text = logs.text();
    assert!(
        text.contains("webhook{provider=tiktok channel=main method=POST}"),
        "{text}"
    );
    assert!(
        text.contains("send{provider=tiktok channel=main}"),
        "{text}"
    );
    assert!(
        text.contains(r"no channel mounted here provider=tiktok channel=x\n2026-01-01T00:00:00Z INFO forged method=POST"),
        "{text}"
    );
    assert!(
        !text.contains("\n2026-01-01T00:00:00Z INFO forged"),
        "{text}"
    );
    assert!(
        text.contains("signature_mismatch") && text.contains("malformed_payload"),
        "{text}"
    );
    for secret in [
        DEMO_SECRET,
        signature.as_str(),
        "BODY-MARKER",
        "WRONG-KEY-MARKER",
        API_KEY,
        "Hello from the test channel",
    ] {
        assert!(!text.contains(secret), "logs contain `{secret}`:\n{text}");
    }
}
