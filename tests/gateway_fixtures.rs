//! Every recorded inbound fixture under `tests/fixtures/`, delivered over real HTTP on loopback
//! to the gateway (`omnichannel-axum`) with the URL the provider signed: the gateway must answer
//! with the fixture's reply and hand exactly the fixture's events to the host, once.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use omnichannel::{
    ChannelEnv, Event, FixedClock, MemoryLock, MemoryTokenStore, Result, async_trait,
};
use omnichannel_axum::{EventSink, EventSource, Gateway};
use omnichannel_testkit::fixture::HeaderSpec;
use omnichannel_testkit::{compare, fixture_files, load, loopback_client};
use serde_json::Value;

#[derive(Default)]
struct Recorder(Mutex<Vec<(String, Value)>>);

#[async_trait]
impl EventSink for Recorder {
    async fn deliver(&self, source: &EventSource, event: &Event) -> Result<()> {
        self.0
            .lock()
            .unwrap()
            .push((source.channel.clone(), event.to_json()));
        Ok(())
    }
}

impl Recorder {
    fn of(&self, channel: &str) -> Vec<Value> {
        self.0
            .lock()
            .unwrap()
            .iter()
            .filter(|(c, _)| c == channel)
            .map(|(_, e)| e.clone())
            .collect()
    }
}

struct Case {
    name: String,
    file: PathBuf,
    provider: String,
    fixture: omnichannel_testkit::Fixture,
}

fn origin_and_path(url: &str) -> (String, String) {
    let u = url::Url::parse(url).unwrap();
    let origin = u.origin().ascii_serialization();
    let mut path = u.path().to_string();
    if let Some(q) = u.query() {
        path.push('?');
        path.push_str(q);
    }
    (origin, path)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_inbound_fixture_through_the_gateway() {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures");
    let factories = omnichannel::factories();
    let sink = Arc::new(Recorder::default());
    let violations = Arc::new(Mutex::new(Vec::new()));
    let mut builder = Gateway::builder("http://127.0.0.1", sink.clone())
        .api_key("gateway-fixture-test-key-not-real");
    let mut cases = Vec::new();
    for (i, file) in fixture_files(&dir).unwrap().into_iter().enumerate() {
        let fixture = load(&file).unwrap();
        let Some(request) = fixture.inbound.as_ref().and_then(|i| i.request.as_ref()) else {
            continue;
        };
        let factory = factories
            .iter()
            .find(|f| f.provider().as_str() == fixture.provider)
            .unwrap_or_else(|| panic!("no factory for {}", fixture.provider));
        let now = fixture.inbound.as_ref().and_then(|i| i.now);
        let env = ChannelEnv {
            clock: Arc::new(FixedClock::new(now.unwrap_or_else(chrono::Utc::now))),
            http: loopback_client(violations.clone()),
            token_store: Arc::new(MemoryTokenStore::new()),
            lock: Arc::new(MemoryLock::new()),
            origin_override: url::Url::parse("http://127.0.0.1:9").ok(),
        };
        let channel = factory.build(&fixture.config, &env).unwrap();
        let name = format!("fx{i}");
        let (origin, _) = origin_and_path(&request.url);
        builder = builder.channel_at(&name, channel, origin);
        cases.push(Case {
            name,
            file,
            provider: fixture.provider.clone(),
            fixture,
        });
    }
    assert!(cases.len() >= 120, "only {} inbound fixtures", cases.len());
    let gateway = builder.build().unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        omnichannel_axum::axum::serve(listener, gateway.router())
            .await
            .unwrap();
    });
    let client = reqwest::Client::builder().no_proxy().build().unwrap();

    let mut failures = Vec::new();
    for case in &cases {
        let inbound = case.fixture.inbound.as_ref().unwrap();
        let spec = inbound.request.as_ref().unwrap();
        let (_, path) = origin_and_path(&spec.url);
        let url = format!(
            "http://{addr}/webhooks/{}/{}{}",
            case.provider, case.name, path
        );
        let method = reqwest::Method::from_bytes(spec.method.as_bytes()).unwrap();
        let mut headers = reqwest::header::HeaderMap::new();
        for (k, v) in &spec.headers {
            let lower = k.to_ascii_lowercase();
            if matches!(
                lower.as_str(),
                "host" | "content-length" | "transfer-encoding"
            ) {
                continue;
            }
            let name = reqwest::header::HeaderName::from_bytes(k.as_bytes()).unwrap();
            let values = match v {
                HeaderSpec::One(v) => vec![v.clone()],
                HeaderSpec::Many(v) => v.clone(),
            };
            for v in values {
                headers.append(
                    name.clone(),
                    reqwest::header::HeaderValue::from_bytes(v.as_bytes()).unwrap(),
                );
            }
        }
        let res = client
            .request(method, &url)
            .headers(headers)
            .body(spec.body_bytes().unwrap())
            .send()
            .await
            .unwrap();
        let status = res.status().as_u16();
        let res_headers = res.headers().clone();
        let body = res.bytes().await.unwrap();
        let mut diffs = Vec::new();
        let exp = &inbound.expect;
        if let Some(r) = &exp.reply {
            if let Some(s) = r.status
                && s != status
            {
                diffs.push(format!("reply.status: expected {s}, got {status}"));
            }
            if let Some(h) = &r.headers {
                for (k, v) in h {
                    let got = res_headers.get(k.as_str()).and_then(|g| g.to_str().ok());
                    if got != Some(v.as_str()) {
                        diffs.push(format!("reply.headers.{k}: expected {v:?}, got {got:?}"));
                    }
                }
            }
            if let Some(b) = &r.body {
                let parsed = serde_json::from_slice::<Value>(&body).ok();
                compare::body(b, &body, parsed, "reply.body", &mut diffs);
            }
        }
        let events = sink.of(&case.name);
        match (&exp.events, exp.verified) {
            (Some(expected), _) => compare::subset(
                &Value::Array(expected.clone()),
                &Value::Array(events.clone()),
                "events",
                &mut diffs,
            ),
            (None, Some(false)) if !events.is_empty() => {
                diffs.push(format!(
                    "a refused request produced {} event(s)",
                    events.len()
                ));
            }
            _ => {}
        }
        if exp.verified == Some(false) && (200..300).contains(&status) {
            diffs.push(format!(
                "refused by the fixture, but the gateway answered {status}"
            ));
        }
        // A redelivery gets the same answer and no second event. RapidPro's calls to the
        // Rocket.Chat app are API calls on a stateful app, not redelivered webhooks: opening an
        // open room is refused there, as the app does.
        if !events.is_empty() && case.provider != "rapidpro" {
            let again = client
                .request(
                    reqwest::Method::from_bytes(spec.method.as_bytes()).unwrap(),
                    &url,
                )
                .headers({
                    let mut h = reqwest::header::HeaderMap::new();
                    for (k, v) in &spec.headers {
                        if let HeaderSpec::One(v) = v
                            && !matches!(k.to_ascii_lowercase().as_str(), "host" | "content-length")
                        {
                            h.insert(
                                reqwest::header::HeaderName::from_bytes(k.as_bytes()).unwrap(),
                                reqwest::header::HeaderValue::from_bytes(v.as_bytes()).unwrap(),
                            );
                        }
                    }
                    h
                })
                .body(spec.body_bytes().unwrap())
                .send()
                .await
                .unwrap();
            if again.status().as_u16() != status {
                diffs.push(format!(
                    "redelivery answered {}, first delivery {status}",
                    again.status()
                ));
            }
            let after = sink.of(&case.name).len();
            if after != events.len() {
                diffs.push(format!(
                    "redelivery emitted events again ({} then {after})",
                    events.len()
                ));
            }
        }
        if !diffs.is_empty() {
            failures.push(format!(
                "{}:\n  - {}",
                case.file.display(),
                diffs.join("\n  - ")
            ));
        }
    }
    let left = violations.lock().unwrap().clone();
    assert!(left.is_empty(), "requests left loopback: {left:?}");
    assert!(
        failures.is_empty(),
        "{} of {} fixtures differ through the gateway:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );
}
