//! OAuth: authorization URL, state round trip and expiry, callback outcomes against wiremock.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use omnichannel_core::{ChannelEnv, ExposeSecret, FixedClock};
use omnichannel_tiktok::auth::{self, CallbackParams};
use omnichannel_tiktok::config::DEFAULT_SCOPES;
use omnichannel_tiktok::{CallbackError, TiktokChannel, TiktokConfig};
use serde_json::json;
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

const TOKEN_PATH: &str = "/open_api/v1.3/tt_user/oauth2/token/";
const REDIRECT: &str = "https://helpdesk.example/tiktok/callback";

fn now() -> DateTime<Utc> {
    DateTime::from_timestamp(1_700_000_000, 0).unwrap()
}

fn cfg(base: &str) -> TiktokConfig {
    TiktokConfig::builder("test-app-id", "test-secret-not-real")
        .redirect_uri(REDIRECT)
        .api_base_url(format!("{base}/open_api/v1.3/"))
        .build()
        .unwrap()
}

fn channel(base: &str) -> (TiktokChannel, Arc<FixedClock>) {
    let clock = Arc::new(FixedClock::new(now()));
    let env = ChannelEnv {
        clock: clock.clone(),
        ..ChannelEnv::default()
    };
    (TiktokChannel::new(cfg(base), &env).unwrap(), clock)
}

#[test]
fn authorization_url_parameters() {
    let (ch, _) = channel("https://unused.test");
    let u = url::Url::parse(&ch.oauth().authorization_url("acct-42").unwrap()).unwrap();
    assert_eq!(
        u.as_str().split('?').next(),
        Some("https://www.tiktok.com/v2/auth/authorize")
    );
    let q: Vec<(String, String)> = u.query_pairs().into_owned().collect();
    let names: Vec<&str> = q.iter().map(|(k, _)| k.as_str()).collect();
    assert_eq!(
        names,
        [
            "client_key",
            "redirect_uri",
            "response_type",
            "scope",
            "state"
        ]
    );
    assert_eq!(q[0].1, "test-app-id");
    assert_eq!(q[1].1, REDIRECT);
    assert_eq!(q[2].1, "code");
    assert_eq!(q[3].1, DEFAULT_SCOPES.join(","));
    // Commas and the redirect URI are percent-encoded, as in TikTok's own URLs.
    assert!(
        u.query()
            .unwrap()
            .contains("scope=user.info.basic%2Cuser.info.username")
    );
    assert!(
        u.query()
            .unwrap()
            .contains("redirect_uri=https%3A%2F%2Fhelpdesk.example%2Ftiktok%2Fcallback")
    );
    let claims = auth::verify_state(ch.config(), &q[4].1, now()).unwrap();
    assert_eq!(claims.sub, "acct-42");
    assert_eq!(claims.iat, now().timestamp());
    assert_eq!(claims.exp, now().timestamp() + 15 * 60);
}

#[test]
fn state_round_trip_and_expiry() {
    let c = cfg("https://unused.test");
    let s = auth::make_state(&c, "acct-1", now()).unwrap();
    assert_eq!(
        auth::verify_state(&c, &s, now() + chrono::Duration::minutes(14))
            .unwrap()
            .sub,
        "acct-1"
    );
    let e = auth::verify_state(&c, &s, now() + chrono::Duration::minutes(15)).unwrap_err();
    assert_eq!(e.kind(), "invalid_input");
    assert!(e.to_string().contains("expired"));
    // A state from the future (clock skew beyond tolerance, or forged iat) is refused.
    assert!(auth::verify_state(&c, &s, now() - chrono::Duration::minutes(10)).is_err());
    // Tampered payload.
    let mut parts: Vec<String> = s.split('.').map(str::to_string).collect();
    parts[1] = parts[1].chars().rev().collect();
    assert!(auth::verify_state(&c, &parts.join("."), now()).is_err());
    // Custom lifetime.
    let short = TiktokConfig::builder("a", "test-secret-not-real")
        .state_ttl(Duration::from_secs(60))
        .build()
        .unwrap();
    let s = auth::make_state(&short, "acct-1", now()).unwrap();
    assert!(auth::verify_state(&short, &s, now() + chrono::Duration::seconds(61)).is_err());
}

#[tokio::test]
async fn callback_with_error_is_a_denial_and_makes_no_call() {
    let server = MockServer::start().await;
    let (ch, _) = channel(&server.uri());
    let state = auth::make_state(ch.config(), "acct-7", now()).unwrap();
    let q = format!(
        "error=access_denied&error_code=400&error_description=User%20cancelled&state={state}"
    );
    let e = ch.complete_authorization(&q).await.unwrap_err();
    match &e {
        CallbackError::Denied {
            error,
            error_code,
            description,
            host_ref,
        } => {
            assert_eq!(error, "access_denied");
            assert_eq!(error_code.as_deref(), Some("400"));
            assert_eq!(description.as_deref(), Some("User cancelled"));
            assert_eq!(host_ref.as_deref(), Some("acct-7"));
        }
        other => panic!("expected a denial, got {other:?}"),
    }
    assert_eq!(e.kind(), "unauthorized");
    assert!(server.received_requests().await.unwrap().is_empty());
}

#[tokio::test]
async fn callback_with_bad_state_never_exchanges_the_code() {
    let server = MockServer::start().await;
    let (ch, clock) = channel(&server.uri());
    let e = ch
        .complete_authorization("code=abc&state=forged")
        .await
        .unwrap_err();
    assert!(matches!(e, CallbackError::InvalidState(_)), "{e:?}");
    let state = auth::make_state(ch.config(), "acct-7", now()).unwrap();
    clock.advance(Duration::from_secs(16 * 60));
    let e = ch
        .complete_authorization(&format!("code=abc&state={state}"))
        .await
        .unwrap_err();
    assert!(matches!(e, CallbackError::InvalidState(_)), "{e:?}");
    let e = ch.complete_authorization("state=x").await.unwrap_err();
    assert!(matches!(e, CallbackError::MissingCode));
    assert!(server.received_requests().await.unwrap().is_empty());
}

fn token_answer(scope: &str) -> ResponseTemplate {
    ResponseTemplate::new(200).set_body_json(json!({
        "code": 0, "message": "ok",
        "data": {"open_id": "biz-123", "scope": scope, "access_token": "at-1",
                 "refresh_token": "rt-1", "expires_in": 86400, "refresh_token_expires_in": 2592000}
    }))
}

#[tokio::test]
async fn callback_with_missing_scopes_is_refused_and_keeps_no_token() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(TOKEN_PATH))
        .respond_with(token_answer("user.info.basic"))
        .mount(&server)
        .await;
    let (ch, _) = channel(&server.uri());
    let state = auth::make_state(ch.config(), "acct-7", now()).unwrap();
    let e = ch
        .complete_authorization(&format!("code=abc&state={state}"))
        .await
        .unwrap_err();
    match &e {
        CallbackError::MissingScopes {
            missing,
            host_ref,
            business_id,
        } => {
            assert_eq!(missing.len(), DEFAULT_SCOPES.len() - 1);
            assert!(missing.iter().any(|s| s == "message.list.send"));
            assert_eq!(host_ref, "acct-7");
            assert_eq!(business_id.as_deref(), Some("biz-123"));
        }
        other => panic!("expected missing scopes, got {other:?}"),
    }
    assert!(!e.to_string().contains("at-1"));
    assert!(ch.tokens().access_token("biz-123").await.is_err());
}

#[tokio::test]
async fn callback_success_exchanges_the_code_and_stores_tokens() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(TOKEN_PATH))
        .respond_with(token_answer(&DEFAULT_SCOPES.join(",")))
        .expect(1)
        .mount(&server)
        .await;
    let (ch, _) = channel(&server.uri());
    let state = auth::make_state(ch.config(), "acct-7", now()).unwrap();
    let a = ch
        .complete_authorization(&format!("?code=auth-code-1&state={state}"))
        .await
        .unwrap();
    assert_eq!(a.host_ref, "acct-7");
    assert_eq!(a.business_id, "biz-123");
    assert_eq!(a.granted_scopes.len(), DEFAULT_SCOPES.len());
    assert_eq!(
        a.token.expires_at,
        Some(now() + chrono::Duration::seconds(86400))
    );
    assert_eq!(
        a.token.refresh_expires_at,
        Some(now() + chrono::Duration::seconds(2_592_000))
    );
    let reqs = server.received_requests().await.unwrap();
    assert_eq!(reqs.len(), 1);
    let body: serde_json::Value = serde_json::from_slice(&reqs[0].body).unwrap();
    assert_eq!(
        body,
        json!({"client_id": "test-app-id", "client_secret": "test-secret-not-real",
               "grant_type": "authorization_code", "auth_code": "auth-code-1", "redirect_uri": REDIRECT})
    );
    assert!(reqs[0].headers.get("access-token").is_none());
    let stored = ch.tokens().access_token("biz-123").await.unwrap();
    assert_eq!(stored.value.expose_secret(), "at-1");
}

#[tokio::test]
async fn exchange_errors_keep_their_kind() {
    let server = MockServer::start().await;
    Mock::given(path(TOKEN_PATH))
        .respond_with(ResponseTemplate::new(200).set_body_json(
            json!({"code": 40110, "message": "invalid auth code", "request_id": "r"}),
        ))
        .mount(&server)
        .await;
    let (ch, _) = channel(&server.uri());
    let state = auth::make_state(ch.config(), "acct-7", now()).unwrap();
    let e = ch
        .oauth()
        .handle_callback(&CallbackParams::from_query(&format!(
            "code=used&state={state}"
        )))
        .await
        .unwrap_err();
    assert!(matches!(e, CallbackError::Exchange(_)));
    assert_eq!(e.kind(), "provider_error");
    assert!(e.to_string().contains("40110"));
}
