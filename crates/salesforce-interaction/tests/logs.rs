//! Secret hygiene in logs: every Salesforce fixture (full receives and sends, with the secrets
//! of its config) is played under a TRACE subscriber writing into a buffer; no secret of any
//! fixture config appears in what was logged (this crate's events, and reqwest's and hyper's
//! traces of the sends).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::{Arc, Mutex};

use omnichannel_testkit::{Registry, fixture_files, load, run_dirs, workspace_fixtures};
use serde_json::Value;

#[derive(Clone, Default)]
struct LogBuffer(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for LogBuffer {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for LogBuffer {
    type Writer = LogBuffer;
    fn make_writer(&'a self) -> Self::Writer {
        self.clone()
    }
}

/// Every string under a config key naming a secret (and, for PEM keys, each line of the key).
fn secrets_of(v: &Value, key: &str, out: &mut Vec<String>) {
    let k = key.to_ascii_lowercase();
    let named = ["secret", "token", "signing_key", "private_key", "password"]
        .iter()
        .any(|w| k.contains(w));
    match v {
        Value::String(s) if named && s.trim().len() >= 6 => {
            out.push(s.trim().to_string());
            out.extend(
                s.lines()
                    .filter(|l| l.len() >= 16 && !l.starts_with("-----"))
                    .map(str::to_string),
            );
        }
        Value::Array(a) => a.iter().for_each(|x| secrets_of(x, key, out)),
        Value::Object(o) => o.iter().for_each(|(k, x)| secrets_of(x, k, out)),
        _ => {}
    }
}

#[tokio::test(flavor = "current_thread")]
async fn trace_logs_of_every_fixture_hold_no_secret() {
    let dirs: Vec<_> = ["salesforce"]
        .iter()
        .map(|d| workspace_fixtures(env!("CARGO_MANIFEST_DIR")).join(d))
        .collect();
    let mut secrets = Vec::new();
    for dir in &dirs {
        for path in fixture_files(dir).unwrap() {
            let fx = load(&path).unwrap();
            secrets_of(&fx.config, "", &mut secrets);
        }
    }
    secrets.sort();
    secrets.dedup();
    assert!(
        !secrets.is_empty(),
        "the fixture configs hold no secret to look for"
    );

    let logs = LogBuffer::default();
    let subscriber = tracing_subscriber::fmt()
        .with_writer(logs.clone())
        .with_max_level(tracing::Level::TRACE)
        .with_ansi(false)
        .finish();
    let guard = tracing::subscriber::set_default(subscriber);
    let registry = Registry::new().with(Arc::new(omnichannel_salesforce_interaction::Factory));
    let report = run_dirs(&registry, &dirs).await;
    drop(guard);
    // Every fixture ran as recorded, so every receive and send path was really taken.
    report.assert_all_passed();

    let text = String::from_utf8_lossy(&logs.0.lock().unwrap()).into_owned();
    assert!(
        !text.is_empty(),
        "nothing was logged at TRACE: the capture does not work"
    );
    for s in &secrets {
        assert!(
            !text.contains(s.as_str()),
            "a secret of a fixture config appears in the TRACE log"
        );
    }
}

/// The JWT bearer flow (test-only RSA key in `tests/data`), a rejected token minted again, and a
/// send, under TRACE: neither the private key, nor the signed assertion, nor an access token is
/// logged.
#[tokio::test(flavor = "current_thread")]
async fn trace_logs_of_the_jwt_flow_hold_no_key_assertion_or_token() {
    use omnichannel_core::{Channel, ChannelEnv, Contact, Message, SecretString};
    use omnichannel_salesforce_interaction::{SalesforceChannel, SalesforceConfig};
    use wiremock::matchers::{header, path};
    use wiremock::{Mock, MockServer, Request, ResponseTemplate};

    const PRIVATE: &str = include_str!("data/test-only-rsa-key.pem");
    let token = |v: &str| {
        serde_json::json!({"access_token": v, "instance_url": "https://example.my.salesforce.com",
            "id": "https://test.salesforce.com/id/00D000000000001/005000000000001",
            "token_type": "Bearer", "scope": "interaction_api"})
    };
    let server = MockServer::start().await;
    Mock::given(path("/services/oauth2/token"))
        .respond_with(ResponseTemplate::new(200).set_body_json(token("00D!first-token-not-real")))
        .up_to_n_times(1)
        .mount(&server)
        .await;
    Mock::given(path("/services/oauth2/token"))
        .respond_with(ResponseTemplate::new(200).set_body_json(token("00D!second-token-not-real")))
        .mount(&server)
        .await;
    Mock::given(path("/api/v1/interactions"))
        .and(header("authorization", "Bearer 00D!first-token-not-real"))
        .respond_with(ResponseTemplate::new(401).set_body_json(
            serde_json::json!({"code": 10004, "message": "The supplied Authorization access token is not valid."}),
        ))
        .mount(&server)
        .await;
    Mock::given(path("/api/v1/interactions"))
        .respond_with(ResponseTemplate::new(202).set_body_json(serde_json::json!(
            {"conversationIdentifier": "conv-1", "id": "i-1", "workItemIds": ["0Mw000000000001"], "success": true}
        )))
        .mount(&server)
        .await;
    let cfg = SalesforceConfig::builder(
        server.uri(),
        "00D000000000001",
        "Partner1_ChannelDefinition1",
    )
    .sandbox()
    .token_base_url(server.uri())
    .consumer_key("test-consumer-key-not-real")
    .username("integration@example.invalid")
    .private_key_pem(SecretString::from(PRIVATE))
    .channel_address("chan-1")
    .build()
    .unwrap();

    let logs = LogBuffer::default();
    let subscriber = tracing_subscriber::fmt()
        .with_writer(logs.clone())
        .with_max_level(tracing::Level::TRACE)
        .with_ansi(false)
        .finish();
    let guard = tracing::subscriber::set_default(subscriber);
    let channel = SalesforceChannel::new(cfg, &ChannelEnv::default()).unwrap();
    let msg = Message::text("hi")
        .sender(Contact::new("end-user-1"))
        .build();
    channel.send(&msg).await.unwrap();
    drop(guard);

    let requests: Vec<Request> = server.received_requests().await.unwrap();
    let assertion = requests
        .iter()
        .find(|r| r.url.path() == "/services/oauth2/token")
        .and_then(|r| {
            url::form_urlencoded::parse(&r.body)
                .find(|(k, _)| k == "assertion")
                .map(|(_, v)| v.into_owned())
        })
        .unwrap();
    let mut secrets = vec![
        assertion,
        "00D!first-token-not-real".to_string(),
        "00D!second-token-not-real".to_string(),
    ];
    secrets_of(
        &serde_json::json!({ "private_key_pem": PRIVATE }),
        "",
        &mut secrets,
    );
    let text = String::from_utf8_lossy(&logs.0.lock().unwrap()).into_owned();
    assert!(!text.is_empty(), "nothing was logged at TRACE");
    for s in &secrets {
        assert!(
            !text.contains(s.as_str()),
            "a secret appears in the TRACE log"
        );
    }
}
