//! Secret hygiene: no secret (app secret, previous secret, user token, JWT) appears in the
//! `Debug` or `Display` of settings, channels, minters, requests' errors or replies.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;
use std::time::Duration;

use http::{HeaderValue, Method};
use omnichannel_core::{
    Channel, ChannelEnv, ChannelFactory as _, Contact, FixedClock, Message, SecretString,
    SigningKeys, WebhookRequest,
};
use omnichannel_front::auth::ChannelJwt;
use omnichannel_front::webhook::{SIGNATURE_HEADER, sign_request};
use omnichannel_front::{Factory, FrontChannel, FrontConfig};
use serde_json::json;

const SECRET: &str = "app-secret-must-not-leak";
const OLD: &str = "old-secret-must-not-leak";
const TOKEN: &str = "user-token-must-not-leak";

fn assert_clean(what: &str, text: &str) {
    for s in [SECRET, OLD, TOKEN] {
        assert!(!text.contains(s), "{what} leaks a secret: {text}");
    }
}

#[tokio::test]
async fn nothing_leaks() {
    let cfg = FrontConfig::builder("uid", SigningKeys::new(SECRET).with_previous(OLD))
        .bearer_tokens(|_: &WebhookRequest| vec![SecretString::from(TOKEN)])
        .webhook_url("https://hooks.example.test/front")
        .api_base_url("http://127.0.0.1:9")
        .channel_id("cha_1")
        .build()
        .unwrap();
    assert_clean("config", &format!("{cfg:?}"));
    let from_json =
        FrontConfig::from_settings(&json!({"app_uid": "u", "app_secret": [SECRET, OLD]})).unwrap();
    assert_clean("config from settings", &format!("{from_json:?}"));

    let clock = Arc::new(FixedClock::at_unix(1_704_067_200));
    let env = ChannelEnv {
        clock: clock.clone(),
        ..ChannelEnv::default()
    };
    let ch = FrontChannel::new(cfg.clone(), &env).unwrap();
    assert_clean("channel", &format!("{ch:?}"));
    let jwt = ChannelJwt::new(
        "uid",
        SecretString::from(SECRET),
        Duration::from_secs(10),
        clock.clone(),
    );
    assert_clean("jwt minter", &format!("{jwt:?}"));
    let token = jwt.mint("cha_1").unwrap();
    assert!(!format!("{token:?}").contains(&token_prefix(&token)));

    // Refusals of every kind: Debug, Display and the reply body.
    let body = br#"{"type":"authorization","payload":{"channel_id":"cha_1"}}"#;
    let good = sign_request(
        &SigningKeys::new(SECRET),
        Method::POST,
        "https://h.test/",
        clock.now_utc(),
        &body[..],
    );
    let mut wrong_token = good.clone();
    wrong_token
        .headers
        .insert("authorization", HeaderValue::from_static("Bearer guess"));
    let mut bad_sig = good.clone();
    bad_sig
        .headers
        .insert(SIGNATURE_HEADER, HeaderValue::from_static("AAAA"));
    let mut other = good.clone();
    other.body =
        bytes::Bytes::from_static(br#"{"type":"authorization","payload":{"channel_id":"cha_2"}}"#);
    for req in [good.clone(), wrong_token, bad_sig, other] {
        let err = ch.receive(&req).await.unwrap_err();
        assert_clean("error debug", &format!("{err:?}"));
        assert_clean("error display", &format!("{err}"));
        let reply = ch.reject_reply(&err);
        assert_clean("reply", std::str::from_utf8(&reply.body).unwrap());
    }
    let mut ok = good.clone();
    ok.headers.insert(
        "authorization",
        HeaderValue::from_str(&format!("Bearer {TOKEN}")).unwrap(),
    );
    let inbound = ch.receive(&ok).await.unwrap();
    assert_clean("reply", std::str::from_utf8(&inbound.reply.body).unwrap());
    assert_clean(
        "events",
        &serde_json::to_string(&inbound.events[0]).unwrap(),
    );

    // Send failures (transport to a closed port) carry no token or secret.
    let msg = Message::text("hi")
        .sender(Contact::new("+1"))
        .idempotency_key("k")
        .build();
    let err = ch.send(&msg).await.unwrap_err();
    assert_clean("send error", &format!("{err:?} {err}"));
    let demo = FrontConfig::from_settings(&Factory.demo_config()).unwrap();
    assert!(!format!("{demo:?}").contains("test-secret-not-real"));
}

fn token_prefix(t: &SecretString) -> String {
    use omnichannel_core::ExposeSecret;
    t.expose_secret().chars().take(40).collect()
}

trait NowUtc {
    fn now_utc(&self) -> chrono::DateTime<chrono::Utc>;
}

impl NowUtc for FixedClock {
    fn now_utc(&self) -> chrono::DateTime<chrono::Utc> {
        omnichannel_core::Clock::now(self)
    }
}
