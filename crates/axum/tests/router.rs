//! The gateway over real HTTP on loopback, with the test channel of the `testing` feature.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::net::SocketAddr;
use std::sync::Arc;

use chrono::Utc;
use http::Method;
use omnichannel_axum::testing::{DEMO_SECRET, RecordingSink, TestChannel, TestFactory};
use omnichannel_axum::{EventSink, Gateway};
use omnichannel_core::{ChannelEnv, ChannelFactory, EventKind, Provider, WebhookRequest};
use serde_json::{Value, json};

const API_KEY: &str = "test-api-key-not-real-0123456789";

struct Running {
    addr: SocketAddr,
    sink: Arc<RecordingSink>,
    channel: Arc<TestChannel>,
    public_base: String,
}

impl Running {
    fn local(&self, path_and_query: &str) -> String {
        format!("http://{}{}", self.addr, path_and_query)
    }
}

async fn serve_with(
    config: Value,
    public_base: Option<&str>,
    customize: impl FnOnce(omnichannel_axum::GatewayBuilder) -> omnichannel_axum::GatewayBuilder,
    nest: Option<&str>,
) -> Running {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let public_base = public_base
        .map(str::to_string)
        .unwrap_or_else(|| format!("http://{addr}"));
    let sink = Arc::new(RecordingSink::new());
    let channel = TestFactory::default()
        .build_test(&config, &ChannelEnv::default())
        .unwrap();
    let builder = Gateway::builder(public_base.clone(), sink.clone() as Arc<dyn EventSink>)
        .channel("main", channel.clone());
    let gateway = customize(builder).build().unwrap();
    let router = match nest {
        Some(prefix) => axum::Router::new().nest(prefix, gateway.router()),
        None => gateway.router(),
    };
    tokio::spawn(async move {
        axum::serve(listener, router).await.unwrap();
    });
    Running {
        addr,
        sink,
        channel,
        public_base,
    }
}

async fn serve() -> Running {
    serve_with(
        TestFactory::default().demo_config(),
        None,
        |b| b.api_key(API_KEY),
        None,
    )
    .await
}

/// Sends a webhook request to `to` (a loopback URL), whatever URL it was signed for.
async fn deliver(req: &WebhookRequest, to: &str) -> (u16, Value) {
    let res = reqwest::Client::new()
        .request(req.method.clone(), to)
        .headers(req.headers.clone())
        .body(req.body.clone())
        .send()
        .await
        .unwrap();
    let status = res.status().as_u16();
    let body = res.bytes().await.unwrap();
    (
        status,
        serde_json::from_slice(&body)
            .unwrap_or(Value::String(String::from_utf8_lossy(&body).into_owned())),
    )
}

fn simulate(event: &str, url: &str) -> WebhookRequest {
    TestFactory::default()
        .simulate(
            &TestFactory::default().demo_config(),
            event,
            url,
            Utc::now(),
        )
        .unwrap()
}

#[tokio::test]
async fn accepts_signed_requests_emits_events_and_dedups() {
    let gw = serve().await;
    let url = gw.local("/webhooks/tiktok/main");
    let req = simulate("batch", &url);
    let (status, body) = deliver(&req, &url).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body, json!({"received": 2}));
    let events = gw.sink.events();
    assert_eq!(events.len(), 2);
    assert_eq!(events[0].0.provider, Provider::Tiktok);
    assert_eq!(events[0].0.channel, "main");
    assert_eq!(events[0].1.id, "test-msg-2");
    assert_eq!(events[1].1.text.as_deref(), Some("second"));

    // A redelivery: the same reply, no second event.
    let (status, again) = deliver(&req, &url).await;
    assert_eq!((status, &again), (200, &body));
    assert_eq!(gw.sink.events().len(), 2);

    // Another event still passes.
    let (status, _) = deliver(&simulate("status", &url), &url).await;
    assert_eq!(status, 200);
    let events = gw.sink.events();
    assert_eq!(events.len(), 3);
    assert_eq!(events[2].1.kind, EventKind::Status);
}

#[tokio::test]
async fn refuses_with_the_channels_reject_reply() {
    let gw = serve().await;
    let url = gw.local("/webhooks/tiktok/main");
    let mut req = simulate("message", &url);
    req.body = bytes::Bytes::from_static(br#"{"events":[]}"#);
    let (status, body) = deliver(&req, &url).await;
    assert_eq!(
        (status, body),
        (401, json!({"error": "signature_mismatch"}))
    );

    let mut req = simulate("message", &url);
    req.headers.remove("x-test-signature");
    let (status, body) = deliver(&req, &url).await;
    assert_eq!((status, body), (401, json!({"error": "missing_signature"})));

    let stale = TestFactory::default()
        .simulate(
            &TestFactory::default().demo_config(),
            "message",
            &url,
            Utc::now() - chrono::Duration::hours(1),
        )
        .unwrap();
    let (status, body) = deliver(&stale, &url).await;
    assert_eq!((status, body), (401, json!({"error": "stale_timestamp"})));
    assert!(gw.sink.events().is_empty());
}

#[tokio::test]
async fn every_method_reaches_the_channel() {
    let gw = serve().await;
    let url = gw.local("/webhooks/tiktok/main");
    for (method, event) in [(Method::DELETE, "message"), (Method::GET, "status")] {
        let mut req = simulate(event, &url);
        req.method = method.clone();
        let (status, _) = deliver(&req, &url).await;
        assert_eq!(status, 200, "{method}");
    }
    assert_eq!(gw.sink.events().len(), 2);
}

#[tokio::test]
async fn oversized_body_gets_413_before_parsing() {
    let gw = serve().await;
    let url = gw.local("/webhooks/tiktok/main");
    let big = vec![b'x'; 2 * 1024 * 1024];
    let res = reqwest::Client::new()
        .post(&url)
        .body(big)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status().as_u16(), 413);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body, json!({"error": "payload_too_large"}));

    // A configured smaller limit applies too, chunked bodies included.
    let gw = serve_with(
        TestFactory::default().demo_config(),
        None,
        |b| b.max_body_bytes(64),
        None,
    )
    .await;
    let url = gw.local("/webhooks/tiktok/main");
    let stream = futures::stream::iter(
        (0..4).map(|_| Ok::<_, std::io::Error>(bytes::Bytes::from(vec![b'y'; 40]))),
    );
    let res = reqwest::Client::new()
        .post(&url)
        .body(reqwest::Body::wrap_stream(stream))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status().as_u16(), 413);
    assert!(gw.sink.events().is_empty());
}

#[tokio::test]
async fn verifies_against_the_public_url_not_the_host_header() {
    let config = json!({"secret": DEMO_SECRET, "sign_url": true});
    let gw = serve_with(
        config.clone(),
        Some("https://hooks.example.test/"),
        |b| b,
        Some("/omni"),
    )
    .await;
    assert_eq!(gw.public_base, "https://hooks.example.test/");
    let public = "https://hooks.example.test/omni/webhooks/tiktok/main?tenant=a%20b";
    let req = TestFactory::default()
        .simulate(&config, "message", public, Utc::now())
        .unwrap();
    let (status, body) = deliver(&req, &gw.local("/omni/webhooks/tiktok/main?tenant=a%20b")).await;
    assert_eq!(status, 200, "{body}");

    // A path below the channel reaches it too, with its full URL.
    let public = "https://hooks.example.test/omni/webhooks/tiktok/main/room.close?x=1";
    let req = TestFactory::default()
        .simulate(&config, "batch", public, Utc::now())
        .unwrap();
    let (status, body) =
        deliver(&req, &gw.local("/omni/webhooks/tiktok/main/room.close?x=1")).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(gw.sink.events().len(), 3);

    // Signed for the address the gateway listens on: not what the provider called.
    let local = gw.local("/omni/webhooks/tiktok/main?tenant=a%20b");
    let req = TestFactory::default()
        .simulate(&config, "status", &local, Utc::now())
        .unwrap();
    let (status, _) = deliver(&req, &local).await;
    assert_eq!(status, 401);
    assert_eq!(gw.sink.events().len(), 3);
}

#[tokio::test]
async fn refused_hand_over_asks_for_redelivery_and_lets_it_through() {
    let gw = serve().await;
    let url = gw.local("/webhooks/tiktok/main");
    let req = simulate("message", &url);
    gw.sink.set_refuse(true);
    let (status, body) = deliver(&req, &url).await;
    assert_eq!(status, 503, "{body}");
    assert_eq!(body["error"], "transport");
    gw.sink.set_refuse(false);
    let (status, _) = deliver(&req, &url).await;
    assert_eq!(status, 200);
    let (status, _) = deliver(&req, &url).await;
    assert_eq!(status, 200);
    assert_eq!(
        gw.sink.events().len(),
        1,
        "delivered once after the refusal"
    );
}

#[tokio::test]
async fn a_refusal_in_the_middle_of_a_batch_loses_and_repeats_nothing() {
    let gw = serve().await;
    let url = gw.local("/webhooks/tiktok/main");
    let req = simulate("batch", &url);
    gw.sink.set_refuse_id(Some("test-msg-3"));
    assert_eq!(deliver(&req, &url).await.0, 503);
    let ids =
        |gw: &Running| -> Vec<String> { gw.sink.events().into_iter().map(|(_, e)| e.id).collect() };
    assert_eq!(ids(&gw), ["test-msg-2"]);
    gw.sink.set_refuse_id(None);
    assert_eq!(deliver(&req, &url).await.0, 200);
    assert_eq!(ids(&gw), ["test-msg-2", "test-msg-3"]);
    assert_eq!(deliver(&req, &url).await.0, 200);
    assert_eq!(ids(&gw), ["test-msg-2", "test-msg-3"], "nothing twice");
}

#[tokio::test]
async fn unknown_channel_is_404() {
    let gw = serve().await;
    let url = gw.local("/webhooks/tiktok/other");
    let (status, body) = deliver(&simulate("message", &url), &url).await;
    assert_eq!(status, 404);
    assert_eq!(body["error"], "not_found");
    let url = gw.local("/webhooks/nosuch/main");
    let (status, _) = deliver(&simulate("message", &url), &url).await;
    assert_eq!(status, 404);
}

async fn post_send(
    gw: &Running,
    path: &str,
    auth: Option<&str>,
    body: &Value,
) -> (u16, Value, reqwest::header::HeaderMap) {
    let mut req = reqwest::Client::new().post(gw.local(path)).json(body);
    if let Some(a) = auth {
        req = req.header("authorization", a);
    }
    let res = req.send().await.unwrap();
    let status = res.status().as_u16();
    let headers = res.headers().clone();
    (status, res.json().await.unwrap(), headers)
}

#[tokio::test]
async fn send_requires_the_api_key() {
    let gw = serve().await;
    let msg = json!({"conversation_id": "conv-1", "text": "Hello"});
    let (status, body, headers) = post_send(&gw, "/send/tiktok/main", None, &msg).await;
    assert_eq!(status, 401);
    assert_eq!(body["error"], "unauthorized");
    assert_eq!(headers["www-authenticate"], "Bearer");
    let (status, _, _) = post_send(
        &gw,
        "/send/tiktok/main",
        Some("Bearer wrong-key-0123456789"),
        &msg,
    )
    .await;
    assert_eq!(status, 401);
    let (status, _, _) = post_send(&gw, "/send/tiktok/main", Some(API_KEY), &msg).await;
    assert_eq!(status, 401, "the scheme is required");
    assert!(gw.channel.sent().is_empty());

    let bearer = format!("Bearer {API_KEY}");
    let (status, body, _) = post_send(&gw, "/send/tiktok/main", Some(&bearer), &msg).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        body,
        json!({"provider": "tiktok", "message_id": "sent-1", "status": "accepted", "raw": {"id": "sent-1"}})
    );
    assert_eq!(gw.channel.sent().len(), 1);
    assert_eq!(gw.channel.sent()[0].text.as_deref(), Some("Hello"));
}

#[tokio::test]
async fn send_maps_errors() {
    let gw = serve().await;
    let bearer = format!("Bearer {API_KEY}");
    let cases = [
        (
            json!({"text": "no conversation"}),
            400,
            "invalid_input",
            false,
        ),
        (
            json!({"conversation_id": "c", "text": "x".repeat(101)}),
            422,
            "unsupported_content",
            false,
        ),
        (
            json!({"conversation_id": "c", "text": "hi", "metadata": {"fail_with": "rate_limited"}}),
            429,
            "rate_limited",
            true,
        ),
        (
            json!({"conversation_id": "c", "text": "hi", "metadata": {"fail_with": "provider_error"}}),
            503,
            "provider_error",
            true,
        ),
        (json!({"conversation_id": 5}), 400, "invalid_input", false),
    ];
    for (msg, want_status, kind, retryable) in cases {
        let (status, body, headers) =
            post_send(&gw, "/send/tiktok/main", Some(&bearer), &msg).await;
        assert_eq!(status, want_status, "{msg} -> {body}");
        assert_eq!(body["error"], kind, "{body}");
        assert_eq!(body["retryable"], retryable, "{body}");
        assert!(body["message"].is_string());
        if kind == "rate_limited" {
            assert_eq!(body["retry_after_ms"], 2000);
            assert_eq!(headers["retry-after"], "2");
        } else {
            assert!(body.get("retry_after_ms").is_none());
        }
    }
    let (status, body, _) = post_send(&gw, "/send/tiktok/nope", Some(&bearer), &json!({})).await;
    assert_eq!((status, &body["error"]), (404, &json!("not_found")));
    assert!(gw.channel.sent().is_empty());
}

#[tokio::test]
async fn send_is_off_without_a_configured_key() {
    let gw = serve_with(TestFactory::default().demo_config(), None, |b| b, None).await;
    let msg = json!({"conversation_id": "conv-1", "text": "Hello"});
    let (status, body, _) = post_send(
        &gw,
        "/send/tiktok/main",
        Some("Bearer anything-at-all-123"),
        &msg,
    )
    .await;
    assert_eq!(status, 403);
    assert_eq!(body["error"], "unauthorized");
    assert!(gw.channel.sent().is_empty());
}

#[test]
fn builder_checks_settings() {
    let sink: Arc<dyn EventSink> = Arc::new(RecordingSink::new());
    let channel = TestFactory::default()
        .build(
            &TestFactory::default().demo_config(),
            &ChannelEnv::default(),
        )
        .unwrap();
    assert!(Gateway::builder("not a url", sink.clone()).build().is_err());
    let err = Gateway::builder("http://127.0.0.1:1", sink.clone())
        .api_key("short")
        .build()
        .unwrap_err();
    assert!(!err.to_string().contains("short"));
    assert!(
        Gateway::builder("http://127.0.0.1:1", sink.clone())
            .channel("a/b", channel.clone())
            .build()
            .is_err()
    );
    assert!(
        Gateway::builder("http://127.0.0.1:1", sink.clone())
            .channel("a", channel.clone())
            .channel("a", channel.clone())
            .build()
            .is_err()
    );
    let gw = Gateway::builder("https://h.test/", sink)
        .channel("a", channel)
        .api_key(API_KEY)
        .build()
        .unwrap();
    assert_eq!(
        gw.webhook_url(Provider::Tiktok, "a"),
        "https://h.test/webhooks/tiktok/a"
    );
    assert_eq!(gw.mounted(), vec![(Provider::Tiktok, "a".to_string())]);
    assert!(!format!("{gw:?}").contains(API_KEY));
}
