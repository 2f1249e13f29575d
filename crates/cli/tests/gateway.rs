//! The gateway of `omnichannel serve` on embedded defaults, end to end over HTTP on loopback,
//! with every provider built in (`providers::factories()`).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

use omnichannel_axum::testing::RecordingSink;
use omnichannel_axum::{EventSink, FanoutSink};
use omnichannel_cli::config::{DEMO_CHANNEL, ForwardConfig, GatewayConfig};
use omnichannel_cli::forward::Forwarder;
use omnichannel_cli::serve::{self, Server};
use omnichannel_cli::stores::Stores;
use omnichannel_cli::{providers, simulate};
use omnichannel_core::{
    Channel, ChannelEnv, ChannelFactory, ExposeSecret as _, Provider, WebhookRequest,
};
use serde_json::{Value, json};

fn embedded() -> (Vec<Arc<dyn ChannelFactory>>, GatewayConfig) {
    let factories = providers::factories();
    assert!(!factories.is_empty(), "no provider built in");
    let mut cfg = GatewayConfig::embedded(
        &factories,
        &std::collections::HashMap::<String, String>::new(),
    );
    cfg.set_listen("127.0.0.1:0").unwrap();
    (factories, cfg)
}

async fn start(sink: Arc<dyn EventSink>) -> (Vec<Arc<dyn ChannelFactory>>, GatewayConfig, Server) {
    let (factories, cfg) = embedded();
    let server = serve::start(&cfg, &factories, &Stores::memory(), sink)
        .await
        .unwrap();
    (factories, cfg, server)
}

/// Every sample request of every provider, signed for the gateway's URL of its channel.
fn samples(
    factories: &[Arc<dyn ChannelFactory>],
    server: &Server,
) -> Vec<(Arc<dyn ChannelFactory>, &'static str, WebhookRequest)> {
    let mut out = Vec::new();
    for f in factories {
        let url = server.gateway.webhook_url(f.provider(), DEMO_CHANNEL);
        for event in f.sample_events() {
            let req = simulate::build_request(f.as_ref(), &f.demo_config(), event, &url).unwrap();
            out.push((f.clone(), event, req));
        }
    }
    assert!(!out.is_empty(), "no sample request to play");
    out
}

fn references(factories: &[Arc<dyn ChannelFactory>]) -> HashMap<Provider, Arc<dyn Channel>> {
    factories
        .iter()
        .map(|f| {
            let channel = f.build(&f.demo_config(), &ChannelEnv::default()).unwrap();
            (f.provider(), channel)
        })
        .collect()
}

async fn deliver(req: &WebhookRequest) -> (u16, reqwest::header::HeaderMap, bytes::Bytes) {
    let res = reqwest::Client::new()
        .request(req.method.clone(), &req.url)
        .headers(req.headers.clone())
        .body(req.body.clone())
        .send()
        .await
        .unwrap();
    let status = res.status().as_u16();
    let headers = res.headers().clone();
    (status, headers, res.bytes().await.unwrap())
}

#[tokio::test]
async fn signed_requests_get_the_channels_reply_and_events_reach_the_sink_once() {
    let sink = Arc::new(RecordingSink::new());
    let (factories, _cfg, server) = start(sink.clone()).await;
    let mut seen = HashSet::new();
    let mut expected_events = Vec::new();
    let played = samples(&factories, &server);
    // Reference channels, one per provider, that see the same requests in the same order as
    // the gateway's (channels may keep state, such as RapidPro rooms).
    let reference = references(&factories);
    for (factory, event, req) in &played {
        // What the channel itself makes of this request.
        let channel = &reference[&factory.provider()];
        let inbound = channel.receive(req).await.unwrap_or_else(|e| {
            panic!(
                "{} {event}: the channel refuses its own sample: {e}",
                factory.provider()
            )
        });
        let (status, headers, body) = deliver(req).await;
        assert_eq!(
            status,
            inbound.reply.status.as_u16(),
            "{} {event}",
            factory.provider()
        );
        assert_eq!(body, inbound.reply.body, "{} {event}", factory.provider());
        for (name, value) in &inbound.reply.headers {
            assert_eq!(
                headers.get(name.as_str()).map(|v| v.as_bytes()),
                Some(value.as_bytes()),
                "{name}"
            );
        }
        for e in inbound.events {
            if seen.insert(format!("{}/{}", factory.provider(), e.id)) {
                expected_events.push(e.to_json());
            }
        }
    }
    let got: Vec<Value> = sink.events().iter().map(|(_, e)| e.to_json()).collect();
    assert_eq!(got, expected_events);
    assert!(sink.events().iter().all(|(s, _)| s.channel == DEMO_CHANNEL));

    // Redeliveries: the same reply, no event again.
    for (factory, event, req) in &played {
        let channel = &reference[&factory.provider()];
        let inbound = channel.receive(req).await.unwrap();
        let (status, _, body) = deliver(req).await;
        assert_eq!(
            (status, &body),
            (inbound.reply.status.as_u16(), &inbound.reply.body),
            "{} {event}",
            factory.provider()
        );
    }
    assert_eq!(
        sink.events().len(),
        expected_events.len(),
        "a duplicate was emitted again"
    );
    server.shutdown().await;
}

#[tokio::test]
async fn a_two_mib_body_gets_413_on_every_channel() {
    let sink = Arc::new(RecordingSink::new());
    let (factories, _cfg, server) = start(sink.clone()).await;
    let big = vec![b'{'; 2 * 1024 * 1024];
    for f in &factories {
        let url = server.gateway.webhook_url(f.provider(), DEMO_CHANNEL);
        let res = reqwest::Client::new()
            .post(&url)
            .header("content-type", "application/json")
            .body(big.clone())
            .send()
            .await
            .unwrap();
        assert_eq!(res.status().as_u16(), 413, "{}", f.provider());
    }
    assert!(sink.events().is_empty());
    server.shutdown().await;
}

#[tokio::test]
async fn send_needs_the_api_key() {
    let sink = Arc::new(RecordingSink::new());
    let (factories, cfg, server) = start(sink).await;
    let key = cfg.api_key.as_ref().unwrap().expose_secret().to_string();
    for f in &factories {
        let url = format!(
            "{}/send/{}/{DEMO_CHANNEL}",
            server.local_url(),
            f.provider()
        );
        let http = reqwest::Client::new();
        let res = http
            .post(&url)
            .json(&json!({"text": "hi"}))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status().as_u16(), 401);
        let res = http
            .post(&url)
            .bearer_auth("not-the-key-0123456789")
            .json(&json!({"text": "hi"}))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status().as_u16(), 401);
        // With the key, an empty message is refused by the channel before any network call.
        let res = http
            .post(&url)
            .bearer_auth(&key)
            .json(&json!({}))
            .send()
            .await
            .unwrap();
        let status = res.status().as_u16();
        let body: Value = res.json().await.unwrap();
        assert!(
            (400..500).contains(&status) && status != 401 && status != 403,
            "{status} {body}"
        );
        assert!(
            body["error"].is_string() && body["retryable"].is_boolean(),
            "{body}"
        );
    }
    server.shutdown().await;
}

/// A forward target that fails until told to recover, and records what it took.
struct Target {
    url: String,
    up: Arc<AtomicBool>,
    failures: Arc<AtomicUsize>,
    /// (idempotency key, authorization, event JSON) of each event taken.
    received: Arc<std::sync::Mutex<Vec<(String, String, Value)>>>,
}

async fn target() -> Target {
    let up = Arc::new(AtomicBool::new(false));
    let failures = Arc::new(AtomicUsize::new(0));
    let received = Arc::new(std::sync::Mutex::new(Vec::new()));
    let (u, f, r) = (up.clone(), failures.clone(), received.clone());
    let app = axum::Router::new().route(
        "/events",
        axum::routing::post(move |headers: http::HeaderMap, body: bytes::Bytes| {
            let (u, f, r) = (u.clone(), f.clone(), r.clone());
            async move {
                if !u.load(Ordering::SeqCst) {
                    f.fetch_add(1, Ordering::SeqCst);
                    return http::StatusCode::SERVICE_UNAVAILABLE;
                }
                let header = |name: &str| {
                    headers
                        .get(name)
                        .and_then(|v| v.to_str().ok())
                        .unwrap_or_default()
                        .to_string()
                };
                r.lock().unwrap().push((
                    header("idempotency-key"),
                    header("authorization"),
                    serde_json::from_slice(&body).unwrap(),
                ));
                http::StatusCode::OK
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    Target {
        url: format!("http://{addr}/events"),
        up,
        failures,
        received,
    }
}

fn fast_forward(url: &str, capacity: usize) -> ForwardConfig {
    let mut f = ForwardConfig::new(url);
    f.min_backoff = Duration::from_millis(20);
    f.max_backoff = Duration::from_millis(100);
    f.timeout = Duration::from_secs(2);
    f.queue_capacity = capacity;
    f
}

#[tokio::test]
async fn a_forward_target_that_is_down_gets_the_events_after_it_recovers() {
    let target = target().await;
    let mut config = fast_forward(&target.url, 1000);
    config.bearer_token = Some("forward-token-not-real".to_string().into());
    let forwarder = Forwarder::start(config).unwrap();
    let recorded = Arc::new(RecordingSink::new());
    let sink = FanoutSink::new()
        .with(Arc::new(forwarder.clone()))
        .with(recorded.clone());
    let (factories, _cfg, server) = start(Arc::new(sink)).await;
    for (_, _, req) in samples(&factories, &server) {
        let (status, _, _) = deliver(&req).await;
        assert!((200..300).contains(&status), "{status}");
    }
    let emitted: Vec<Value> = recorded.events().iter().map(|(_, e)| e.to_json()).collect();
    assert!(!emitted.is_empty(), "the samples produced no event");

    // Down: the events wait in the queue while attempts fail.
    tokio::time::timeout(Duration::from_secs(10), async {
        while target.failures.load(Ordering::SeqCst) < 3 {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    })
    .await
    .expect("the forwarder kept retrying");
    assert_eq!(forwarder.pending(), emitted.len());
    assert!(target.received.lock().unwrap().is_empty());

    // Back up: everything arrives, in order, each with its idempotency key.
    target.up.store(true, Ordering::SeqCst);
    assert!(
        forwarder.flush(Duration::from_secs(10)).await,
        "still pending: {:?}",
        forwarder.pending_ids()
    );
    let got = target.received.lock().unwrap().clone();
    let bodies: Vec<Value> = got.iter().map(|(_, _, b)| b.clone()).collect();
    assert_eq!(bodies, emitted);
    for ((key, auth, _), (source, event)) in got.iter().zip(recorded.events()) {
        assert_eq!(key, &source.dedup_key(&event));
        assert_eq!(auth, "Bearer forward-token-not-real");
    }
    assert_eq!(forwarder.forwarded(), emitted.len() as u64);
    server.shutdown().await;
}

#[tokio::test]
async fn a_full_forward_queue_makes_the_provider_deliver_again() {
    let target = target().await;
    let forwarder = Forwarder::start(fast_forward(&target.url, 1)).unwrap();
    let (factories, _cfg, server) = start(Arc::new(forwarder.clone())).await;
    // Requests that produce exactly one event each, first for a fresh channel.
    let mut producing = Vec::new();
    for (f, _, req) in samples(&factories, &server) {
        let channel = f.build(&f.demo_config(), &ChannelEnv::default()).unwrap();
        if channel
            .receive(&req)
            .await
            .is_ok_and(|i| i.events.len() == 1)
        {
            producing.push(req);
        }
    }
    assert!(producing.len() >= 2, "need two samples with one event each");
    let (first, _, _) = deliver(&producing[0]).await;
    assert!((200..300).contains(&first));
    let (second, _, body) = deliver(&producing[1]).await;
    assert_eq!(second, 503, "{}", String::from_utf8_lossy(&body));
    assert_eq!(forwarder.pending(), 1);

    // Once the target is back and the queue drained, the redelivery is taken.
    target.up.store(true, Ordering::SeqCst);
    assert!(forwarder.flush(Duration::from_secs(10)).await);
    let (again, _, _) = deliver(&producing[1]).await;
    assert!((200..300).contains(&again));
    assert!(forwarder.flush(Duration::from_secs(10)).await);
    assert!(target.received.lock().unwrap().len() >= 2);
    server.shutdown().await;
}
