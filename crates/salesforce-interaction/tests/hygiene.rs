//! Secrets (the RSA private key, access tokens) never appear in Debug or Display output.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;

use omnichannel_core::{ChannelEnv, ChannelFactory, Contact, Message, SecretString, SystemClock};
use omnichannel_salesforce_interaction::{Factory, JwtBearerSource, SalesforceConfig, auth};
use serde_json::json;
use wiremock::matchers::path;
use wiremock::{Mock, MockServer, ResponseTemplate};

const PRIVATE: &str = include_str!("data/test-only-rsa-key.pem");
const TOKEN: &str = "00Dtest!static-token-not-real";

/// Distinctive pieces of the key body and of the tokens.
fn secrets() -> Vec<String> {
    let body: Vec<&str> = PRIVATE
        .lines()
        .filter(|l| !l.starts_with("-----"))
        .collect();
    vec![
        body[1].to_string(),
        body[body.len() - 2].to_string(),
        "PRIVATE KEY".to_string(),
        TOKEN.to_string(),
        "minted-token-not-real".to_string(),
    ]
}

fn assert_clean(label: &str, text: &str) {
    for s in secrets() {
        assert!(!text.contains(&s), "{label} leaks a secret: {text}");
    }
}

#[tokio::test]
async fn no_secret_in_debug_or_display() {
    let server = MockServer::start().await;
    Mock::given(path("/services/oauth2/token"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "access_token": "minted-token-not-real", "instance_url": "https://x.my.salesforce.com",
            "id": "https://login.salesforce.com/id/00D/005", "token_type": "Bearer", "scope": "interaction_api"})))
        .mount(&server)
        .await;
    Mock::given(path("/api/v1/interactions"))
        .respond_with(ResponseTemplate::new(401).set_body_json(json!({"code": 10004, "message": "The supplied Authorization access token is not valid."})))
        .mount(&server)
        .await;

    let config = json!({
        "consumer_key": "ck", "username": "u@example.invalid", "private_key_pem": PRIVATE,
        "login_url": "https://login.salesforce.com", "scrt_url": "https://x.my.salesforce-scrt.com",
        "org_id": "00D000000000001", "authorization_context": "Ctx", "channel_address": "chan"
    });
    let cfg = SalesforceConfig::from_settings(&config).unwrap();
    assert_clean("config", &format!("{cfg:?}"));

    let env = ChannelEnv {
        origin_override: Some(url::Url::parse(&server.uri()).unwrap()),
        ..ChannelEnv::default()
    };
    let channel = Factory.build(&config, &env).unwrap();
    let sf = omnichannel_salesforce_interaction::SalesforceChannel::new(cfg.clone(), &env).unwrap();
    assert_clean("channel", &format!("{sf:?}"));
    assert_clean("api", &format!("{:?}", sf.api()));

    let source = JwtBearerSource::new(
        Arc::new(cfg.clone()),
        reqwest::Client::new(),
        Arc::new(SystemClock),
    );
    assert_clean("source", &format!("{source:?}"));

    // A send that fails after minting: the error shows neither the key nor any token.
    let err = channel
        .send(&Message::text("hi").sender(Contact::new("u")).build())
        .await
        .unwrap_err();
    assert_eq!(err.kind(), "unauthorized");
    assert_clean("error", &format!("{err} {err:?}"));

    // A static-token channel and its errors.
    let with_token = SalesforceConfig::builder(server.uri(), "00D1", "Ctx")
        .access_token(SecretString::from(TOKEN))
        .private_key_pem(SecretString::from(PRIVATE))
        .consumer_key("ck")
        .username("u")
        .build()
        .unwrap();
    assert_clean("config with token", &format!("{with_token:?}"));

    // A key that is not a key: the config error names the setting, not the value.
    let bad = SalesforceConfig::builder(server.uri(), "00D1", "Ctx")
        .private_key_pem(SecretString::from("not-a-key secret-material-xyz"))
        .consumer_key("ck")
        .username("u")
        .build()
        .unwrap();
    let e = auth::assertion(&bad, chrono::Utc::now()).unwrap_err();
    assert!(!format!("{e} {e:?}").contains("secret-material-xyz"));
    assert!(e.to_string().contains("private_key_pem"));

    // Token responses are redacted too.
    let t =
        auth::parse_token_response(200, br#"{"access_token":"minted-token-not-real"}"#).unwrap();
    assert_clean("token response", &format!("{t:?}"));
}
