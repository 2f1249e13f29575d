//! JWT bearer flow against a local mock token endpoint, with the test-only RSA key in
//! `tests/data` (generated for these tests, never a real key).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;
use std::time::Duration;

use omnichannel_core::{
    Channel, ChannelEnv, Contact, ExposeSecret, Message, SecretString, SystemClock, TokenSource,
};
use omnichannel_salesforce_interaction::auth::{
    self, AssertionClaims, GRANT_TYPE, JwtBearerSource, OAuthErrorCode, TokenError,
};
use omnichannel_salesforce_interaction::{SalesforceChannel, SalesforceConfig};
use serde_json::json;
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

const PRIVATE: &str = include_str!("data/test-only-rsa-key.pem");
const PUBLIC: &str = include_str!("data/test-only-rsa-key.pub.pem");

fn config(server: &MockServer) -> SalesforceConfig {
    SalesforceConfig::builder(
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
    .unwrap()
}

fn token_body(value: &str) -> serde_json::Value {
    json!({"access_token": value, "instance_url": "https://example.my.salesforce.com",
           "id": "https://test.salesforce.com/id/00D000000000001/005000000000001",
           "token_type": "Bearer", "scope": "interaction_api refresh_token"})
}

fn form(body: &[u8]) -> Vec<(String, String)> {
    url::form_urlencoded::parse(body).into_owned().collect()
}

#[test]
fn assertion_verifies_with_the_public_key_and_carries_the_claims() {
    let server_uri = "http://127.0.0.1:1";
    let cfg = SalesforceConfig::builder(server_uri, "00D000000000001", "Ctx")
        .login_url("https://mydomain.my.salesforce.com/")
        .consumer_key("ck")
        .username("u@example.invalid")
        .private_key_pem(SecretString::from(PRIVATE))
        .build()
        .unwrap();
    let now = chrono::Utc::now();
    let jwt = auth::assertion(&cfg, now).unwrap();
    let header = jsonwebtoken::decode_header(&jwt).unwrap();
    assert_eq!(header.alg, jsonwebtoken::Algorithm::RS256);
    let claims: AssertionClaims = omnichannel_core::jwt::decode_rs256(&jwt, PUBLIC).unwrap();
    assert_eq!(
        claims,
        AssertionClaims {
            iss: "ck".into(),
            sub: "u@example.invalid".into(),
            aud: "https://mydomain.my.salesforce.com".into(),
            exp: now.timestamp() + 180,
        }
    );
    // Seconds, not milliseconds, and at most 3 minutes ahead.
    assert!(claims.exp < 10_000_000_000);
    // A different key does not verify it.
    let other = include_str!("data/test-only-other-rsa-key.pub.pem");
    assert!(omnichannel_core::jwt::decode_rs256::<AssertionClaims>(&jwt, PUBLIC).is_ok());
    assert!(omnichannel_core::jwt::decode_rs256::<AssertionClaims>(&jwt, other).is_err());
}

#[tokio::test]
async fn token_request_body_is_exact_and_response_is_parsed() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/services/oauth2/token"))
        .respond_with(ResponseTemplate::new(200).set_body_json(token_body("00D!first-token")))
        .expect(1)
        .mount(&server)
        .await;
    let cfg = Arc::new(config(&server));
    let source = JwtBearerSource::new(cfg.clone(), reqwest::Client::new(), Arc::new(SystemClock));
    let before = chrono::Utc::now();
    let token = source.refresh("k", None).await.unwrap();
    assert_eq!(token.value.expose_secret(), "00D!first-token");
    let exp = token.expires_at.unwrap();
    assert!(exp >= before + chrono::Duration::seconds(3600));
    assert_eq!(
        token.extra["instance_url"],
        "https://example.my.salesforce.com"
    );

    let reqs = server.received_requests().await.unwrap();
    let r = &reqs[0];
    assert_eq!(
        r.headers["content-type"],
        "application/x-www-form-urlencoded"
    );
    let fields = form(&r.body);
    assert_eq!(fields.len(), 2);
    assert_eq!(fields[0], ("grant_type".into(), GRANT_TYPE.into()));
    assert_eq!(fields[1].0, "assertion");
    let jwt = &fields[1].1;
    assert_eq!(
        std::str::from_utf8(&r.body).unwrap(),
        format!("grant_type=urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Ajwt-bearer&assertion={jwt}")
    );
    let claims: AssertionClaims = omnichannel_core::jwt::decode_rs256(jwt, PUBLIC).unwrap();
    assert_eq!(claims.iss, "test-consumer-key-not-real");
    assert_eq!(claims.sub, "integration@example.invalid");
    // The audience is the login URL, not the test server the request went to.
    assert_eq!(claims.aud, "https://test.salesforce.com");
    let ahead = claims.exp - chrono::Utc::now().timestamp();
    assert!((170..=180).contains(&ahead), "{ahead}");
}

#[tokio::test]
async fn oauth_errors_are_typed() {
    let server = MockServer::start().await;
    Mock::given(path("/services/oauth2/token"))
        .respond_with(ResponseTemplate::new(400).set_body_json(
            json!({"error": "invalid_grant", "error_description": "user hasn't approved this consumer"}),
        ))
        .mount(&server)
        .await;
    let cfg = Arc::new(config(&server));
    let source = JwtBearerSource::new(cfg, reqwest::Client::new(), Arc::new(SystemClock));
    let e = source.refresh("k", None).await.unwrap_err();
    assert_eq!(e.kind(), "unauthorized");
    assert!(e.to_string().contains("invalid_grant"));
    assert!(e.to_string().contains("approved"));
    assert!(!e.to_string().contains("BEGIN"));

    for (code, kind) in [
        ("invalid_client_id", OAuthErrorCode::InvalidClientId),
        ("inactive_user", OAuthErrorCode::InactiveUser),
        ("inactive_org", OAuthErrorCode::InactiveOrg),
        ("rate_limit_exceeded", OAuthErrorCode::RateLimitExceeded),
        ("invalid_request", OAuthErrorCode::InvalidRequest),
        (
            "unsupported_response_type",
            OAuthErrorCode::UnsupportedResponseType,
        ),
        (
            "something_new",
            OAuthErrorCode::Other("something_new".into()),
        ),
    ] {
        let body = json!({"error": code}).to_string();
        let Err(TokenError::OAuth(o)) = auth::parse_token_response(400, body.as_bytes()) else {
            panic!("{code}")
        };
        assert_eq!(o.code, kind);
        assert_eq!(o.code.as_str(), code);
    }
}

#[tokio::test]
async fn rejected_token_is_reminted_once_and_the_request_id_is_kept() {
    let server = MockServer::start().await;
    Mock::given(path("/services/oauth2/token"))
        .respond_with(ResponseTemplate::new(200).set_body_json(token_body("00D!first")))
        .up_to_n_times(1)
        .mount(&server)
        .await;
    Mock::given(path("/services/oauth2/token"))
        .respond_with(ResponseTemplate::new(200).set_body_json(token_body("00D!second")))
        .mount(&server)
        .await;
    Mock::given(path("/api/v1/interactions"))
        .and(wiremock::matchers::header("authorization", "Bearer 00D!first"))
        .respond_with(ResponseTemplate::new(401).set_body_json(
            json!({"code": 10004, "message": "The supplied Authorization access token is not valid."}),
        ))
        .mount(&server)
        .await;
    Mock::given(path("/api/v1/interactions"))
        .and(wiremock::matchers::header("authorization", "Bearer 00D!second"))
        .respond_with(ResponseTemplate::new(202).set_body_json(
            json!({"conversationIdentifier": "conv-1", "id": "i-1", "workItemIds": ["0Mw000000000001"], "success": true}),
        ))
        .mount(&server)
        .await;
    let channel = SalesforceChannel::new(config(&server), &ChannelEnv::default()).unwrap();
    let msg = Message::text("hi")
        .sender(Contact::new("end-user-1"))
        .build();
    let receipt = channel.send(&msg).await.unwrap();
    assert_eq!(receipt.raw.unwrap()["conversationIdentifier"], "conv-1");
    let reqs = server.received_requests().await.unwrap();
    let paths: Vec<_> = reqs.iter().map(|r| r.url.path().to_string()).collect();
    assert_eq!(
        paths,
        [
            "/services/oauth2/token",
            "/api/v1/interactions",
            "/services/oauth2/token",
            "/api/v1/interactions"
        ]
    );
    assert_eq!(reqs[1].headers["requestid"], reqs[3].headers["requestid"]);
    assert!(uuid::Uuid::parse_str(reqs[1].headers["requestid"].to_str().unwrap()).is_ok());

    // The next send reuses the second token without minting.
    channel.send(&msg).await.unwrap();
    let reqs = server.received_requests().await.unwrap();
    assert_eq!(reqs.len(), 5);
    assert_eq!(reqs[4].headers["authorization"], "Bearer 00D!second");
}

#[tokio::test]
async fn token_is_reminted_when_its_assumed_lifetime_runs_out() {
    let server = MockServer::start().await;
    Mock::given(path("/services/oauth2/token"))
        .respond_with(ResponseTemplate::new(200).set_body_json(token_body("00D!tok")))
        .mount(&server)
        .await;
    Mock::given(path("/api/v1/interactions"))
        .respond_with(ResponseTemplate::new(202).set_body_json(json!({"success": true})))
        .mount(&server)
        .await;
    let clock = Arc::new(omnichannel_core::FixedClock::new(chrono::Utc::now()));
    let env = ChannelEnv {
        clock: clock.clone(),
        ..ChannelEnv::default()
    };
    let cfg = SalesforceConfig::builder(server.uri(), "00D000000000001", "Ctx")
        .token_base_url(server.uri())
        .consumer_key("ck")
        .username("u")
        .private_key_pem(SecretString::from(PRIVATE))
        .channel_address("chan")
        .token_lifetime(Duration::from_secs(600))
        .build()
        .unwrap();
    let channel = SalesforceChannel::new(cfg, &env).unwrap();
    let msg = Message::text("hi").sender(Contact::new("u1")).build();
    channel.send(&msg).await.unwrap();
    clock.advance(Duration::from_secs(300));
    channel.send(&msg).await.unwrap();
    let count = |reqs: &[wiremock::Request]| {
        reqs.iter()
            .filter(|r| r.url.path() == "/services/oauth2/token")
            .count()
    };
    assert_eq!(count(&server.received_requests().await.unwrap()), 1);
    // Past lifetime minus the margin (a quarter of 10 min): a new token.
    clock.advance(Duration::from_secs(200));
    channel.send(&msg).await.unwrap();
    assert_eq!(count(&server.received_requests().await.unwrap()), 2);
}

#[tokio::test]
async fn channel_without_credentials_parses_events_but_refuses_calls() {
    let cfg = SalesforceConfig::builder("https://x.my.salesforce-scrt.com", "00D1", "Ctx")
        .channel_address("c")
        .build()
        .unwrap();
    let channel = SalesforceChannel::new(cfg, &ChannelEnv::default()).unwrap();
    let e = channel
        .send(&Message::text("hi").sender(Contact::new("u")).build())
        .await
        .unwrap_err();
    assert_eq!(e.kind(), "invalid_input");
    assert!(e.to_string().contains("private_key_pem"));
}
