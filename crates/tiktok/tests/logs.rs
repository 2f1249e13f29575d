//! Secret hygiene in logs: every TikTok fixture (full receives and sends, with the secrets
//! of its config) is played under a TRACE subscriber writing into a buffer; no secret of any
//! fixture config appears in what was logged (this crate's events, and reqwest's and hyper's
//! traces of the sends).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;

use omnichannel_testkit::hygiene::LogBuffer;
use omnichannel_testkit::hygiene::fixture_logs_leaks_with;
use omnichannel_testkit::{Registry, workspace_fixtures};

#[tokio::test(flavor = "current_thread")]
async fn trace_logs_of_every_fixture_hold_no_secret() {
    let dirs: Vec<_> = ["tiktok"]
        .iter()
        .map(|d| workspace_fixtures(env!("CARGO_MANIFEST_DIR")).join(d))
        .collect();
    let registry = Registry::new().with(Arc::new(omnichannel_tiktok::Factory));
    let problems = fixture_logs_leaks_with(&registry, &dirs, &|_| Vec::new()).await;
    assert!(problems.is_empty(), "{problems:?}");
}

/// The OAuth code exchange (app secret and code in the request, access and refresh tokens in
/// the answer) and a send with the stored token, under TRACE: none of them is logged.
#[tokio::test(flavor = "current_thread")]
async fn trace_logs_of_the_oauth_exchange_and_a_send_hold_no_secret() {
    use chrono::DateTime;
    use omnichannel_core::{Channel, ChannelEnv, FixedClock, Message};
    use omnichannel_tiktok::config::DEFAULT_SCOPES;
    use omnichannel_tiktok::{TiktokChannel, TiktokConfig, auth};
    use wiremock::matchers::path;
    use wiremock::{Mock, MockServer, ResponseTemplate};

    const SECRET: &str = "test-secret-oauth-not-real";
    const ACCESS: &str = "test-access-oauth-not-real";
    const REFRESH: &str = "test-refresh-oauth-not-real";
    const CODE: &str = "test-auth-code-not-real";
    let server = MockServer::start().await;
    Mock::given(path("/open_api/v1.3/tt_user/oauth2/token/"))
        .respond_with(ResponseTemplate::new(200).set_body_json(serde_json::json!({
            "code": 0, "message": "ok",
            "data": {"open_id": "biz-123", "scope": DEFAULT_SCOPES.join(","), "access_token": ACCESS,
                     "refresh_token": REFRESH, "expires_in": 86400, "refresh_token_expires_in": 2592000}
        })))
        .mount(&server)
        .await;
    Mock::given(path("/open_api/v1.3/business/message/send/"))
        .respond_with(ResponseTemplate::new(200).set_body_json(serde_json::json!({
            "code": 0, "message": "OK", "request_id": "req-1",
            "data": {"message": {"message_id": "m-1"}}
        })))
        .mount(&server)
        .await;
    let now = DateTime::from_timestamp(1_700_000_000, 0).unwrap();
    let cfg = TiktokConfig::builder("test-app-id", SECRET)
        .redirect_uri("https://helpdesk.example/tiktok/callback")
        .api_base_url(format!("{}/open_api/v1.3/", server.uri()))
        .business_id("biz-123")
        .build()
        .unwrap();
    let env = ChannelEnv {
        clock: Arc::new(FixedClock::new(now)),
        ..ChannelEnv::default()
    };

    let logs = LogBuffer::default();
    let guard = tracing::subscriber::set_default(logs.trace_subscriber());
    let ch = TiktokChannel::new(cfg, &env).unwrap();
    let state = auth::make_state(ch.config(), "acct-7", now).unwrap();
    ch.complete_authorization(&format!("code={CODE}&state={state}"))
        .await
        .unwrap();
    let msg = Message::text("hi").conversation_id("conv-1").build();
    ch.send(&msg).await.unwrap();
    drop(guard);

    let text = logs.text();
    assert!(!text.is_empty(), "nothing was logged at TRACE");
    for s in [SECRET, ACCESS, REFRESH, CODE, state.as_str()] {
        assert!(!text.contains(s), "a secret appears in the TRACE log");
    }
}
