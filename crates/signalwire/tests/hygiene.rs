//! No secret in `Debug`, `Display` or errors: signing keys, API token, Basic credentials.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use base64::Engine as _;
use bytes::Bytes;
use http::{HeaderMap, HeaderValue, Method};
use omnichannel_core::{Channel, ChannelEnv, ChannelFactory, Contact, Message, WebhookRequest};
use omnichannel_signalwire::{Factory, SignalwireChannel, SignalwireConfig, webhook};
use serde_json::json;
use wiremock::matchers::method;
use wiremock::{Mock, MockServer, ResponseTemplate};

const KEY: &str = "PSK_super-secret-signing-key-not-real";
const OLD_KEY: &str = "PSK_older-secret-signing-key-not-real";
const TOKEN: &str = "PT_super-secret-api-token-not-real";
const PROJECT: &str = "ea108133-d6b3-407c-9536-9fad8a929a6a";

fn secrets() -> Vec<String> {
    vec![
        KEY.to_string(),
        OLD_KEY.to_string(),
        TOKEN.to_string(),
        "super-secret".to_string(),
        base64::engine::general_purpose::STANDARD.encode(format!("{PROJECT}:{TOKEN}")),
    ]
}

fn assert_clean(what: &str, text: &str) {
    for s in secrets() {
        assert!(!text.contains(&s), "{what} leaks a secret: {text}");
    }
}

#[tokio::test]
async fn nothing_shows_a_secret() {
    let server = MockServer::start().await;
    // The provider's answer echoes nothing secret, but the request carried the credentials.
    Mock::given(method("POST"))
        .respond_with(
            ResponseTemplate::new(401)
                .set_body_json(json!({"code": 20003, "message": "Authentication Error"})),
        )
        .mount(&server)
        .await;
    let config = json!({
        "signing_key": [KEY, OLD_KEY],
        "project_id": PROJECT,
        "api_token": TOKEN,
        "space_url": server.uri(),
        "from": "+15551234567"
    });
    let cfg = SignalwireConfig::from_settings(&config).unwrap();
    assert_clean("config Debug", &format!("{cfg:?} {cfg:#?}"));
    let ch = SignalwireChannel::new(cfg.clone(), &ChannelEnv::default()).unwrap();
    assert_clean("channel Debug", &format!("{ch:?}"));
    assert_clean("api client Debug", &format!("{:?}", ch.api().unwrap()));
    let built = Factory.build(&config, &ChannelEnv::default()).unwrap();
    assert_eq!(built.provider().as_str(), "signalwire");

    // A send refused by the provider.
    let e = ch
        .send(
            &Message::text("hi")
                .recipient(Contact::new("+15557654321"))
                .build(),
        )
        .await
        .unwrap_err();
    assert_eq!(e.kind(), "unauthorized");
    assert_clean("send error", &format!("{e} {e:?}"));

    // Verification failures.
    let good = webhook::sign_request(
        cfg.signing_keys(),
        "https://h.test/sms",
        &[
            ("MessageSid", "m"),
            ("From", "+1"),
            ("To", "+2"),
            ("Body", "secret body text"),
        ],
    );
    let mut bad = good.clone();
    bad.headers.insert(
        "x-signalwire-signature",
        HeaderValue::from_static("AAAAAAAAAAAAAAAAAAAAAAAAAAA="),
    );
    let e = ch.receive(&bad).await.unwrap_err();
    let text = format!("{e} {e:?}");
    assert_clean("verify error", &text);
    assert!(!text.contains("secret body text"), "{text}");
    let expected_sig = good.headers["x-signalwire-signature"].to_str().unwrap();
    assert!(!text.contains(expected_sig), "{text}");

    // Configuration errors name the setting, not the value.
    let e =
        SignalwireConfig::from_settings(&json!({"signing_key": KEY, "api_token": 5})).unwrap_err();
    assert_clean("config error", &format!("{e} {e:?}"));
    let e = SignalwireConfig::from_settings(&json!({"signing_key": KEY, "default_region": TOKEN}))
        .unwrap_err();
    assert_clean("config error", &format!("{e} {e:?}"));

    // The reject reply carries only the kind.
    let reply = ch.reject_reply(&omnichannel_core::Error::from(
        omnichannel_core::VerifyError::SignatureMismatch,
    ));
    assert_clean("reject reply", &String::from_utf8_lossy(&reply.body));
}

#[test]
fn simulate_signs_with_the_configured_key_and_verifies() {
    let config = json!({"signing_key": KEY, "project_id": PROJECT, "from": "+15551234567"});
    let channel = Factory.build(&config, &ChannelEnv::default()).unwrap();
    let now = chrono::DateTime::from_timestamp(1_700_000_000, 0).unwrap();
    for ev in Factory.sample_events() {
        let req = Factory
            .simulate(&config, ev, "https://hooks.example.com/sw", now)
            .unwrap();
        channel.verify(&req).unwrap_or_else(|e| panic!("{ev}: {e}"));
        let again = Factory
            .simulate(&config, ev, "https://hooks.example.com/sw", now)
            .unwrap();
        assert_eq!(req.body, again.body, "{ev}: simulation is deterministic");
    }
    assert_eq!(
        Factory
            .simulate(&config, "nope", "https://h.test", now)
            .unwrap_err()
            .kind(),
        "invalid_input"
    );
    // The demo config builds.
    Factory
        .build(&Factory.demo_config(), &ChannelEnv::default())
        .unwrap();
}

#[tokio::test]
async fn simulated_events_normalize() {
    let config = json!({"signing_key": KEY, "project_id": PROJECT, "from": "+15551234567"});
    let channel = Factory.build(&config, &ChannelEnv::default()).unwrap();
    let now = chrono::DateTime::from_timestamp(1_700_000_000, 0).unwrap();
    let kinds: Vec<(String, String)> = futures_kinds(&*channel, &config, now).await;
    assert_eq!(
        kinds,
        [
            ("message".to_string(), "".to_string()),
            ("message".to_string(), "".to_string()),
            ("status".to_string(), "sent".to_string()),
            ("status".to_string(), "delivered".to_string()),
            ("status".to_string(), "failed".to_string()),
            ("status".to_string(), "failed".to_string()),
        ]
    );
}

async fn futures_kinds(
    channel: &dyn Channel,
    config: &serde_json::Value,
    now: chrono::DateTime<chrono::Utc>,
) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for ev in Factory.sample_events() {
        let req = Factory
            .simulate(config, ev, "https://hooks.example.com/sw", now)
            .unwrap();
        let inbound = channel.receive(&req).await.unwrap();
        let e = inbound.events[0].to_json();
        out.push((
            e["kind"].as_str().unwrap().to_string(),
            e["status"]["state"].as_str().unwrap_or("").to_string(),
        ));
    }
    out
}

#[test]
fn malformed_inputs_never_panic() {
    let cfg = SignalwireConfig::builder(KEY).build().unwrap();
    let ch = SignalwireChannel::new(cfg, &ChannelEnv::default()).unwrap();
    let bodies: [&[u8]; 6] = [
        b"",
        b"&&&",
        b"%",
        b"=&=&=",
        b"\xff\xfe=\x00",
        b"{\"a\":[1,{}]}",
    ];
    let urls = [
        "",
        "/",
        "https://",
        "://x",
        "https://h.test:99999/x?bodySHA256",
        "h.test/x",
    ];
    for body in bodies {
        for url in urls {
            for sig in ["", "x", "AAAAAAAAAAAAAAAAAAAAAAAAAAA=", &"a".repeat(40)] {
                let mut h = HeaderMap::new();
                if let Ok(v) = HeaderValue::from_str(sig) {
                    h.insert("x-signalwire-signature", v);
                }
                let req = WebhookRequest::new(Method::POST, url, h, Bytes::copy_from_slice(body));
                let _ = ch.verify(&req);
            }
        }
    }
}
