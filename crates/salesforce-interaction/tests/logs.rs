//! Secret hygiene in logs: every Salesforce fixture (full receives and sends, with the secrets
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
    let dirs: Vec<_> = ["salesforce"]
        .iter()
        .map(|d| workspace_fixtures(env!("CARGO_MANIFEST_DIR")).join(d))
        .collect();
    let registry = Registry::new().with(Arc::new(omnichannel_salesforce_interaction::Factory));
    let problems = fixture_logs_leaks_with(&registry, &dirs, &|_| Vec::new()).await;
    assert!(problems.is_empty(), "{problems:?}");
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
    let guard = tracing::subscriber::set_default(logs.trace_subscriber());
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
    secrets.extend(omnichannel_testkit::hygiene::secrets_of(
        &serde_json::json!({ "private_key_pem": PRIVATE }),
    ));
    let text = logs.text();
    assert!(!text.is_empty(), "nothing was logged at TRACE");
    for s in &secrets {
        assert!(
            !text.contains(s.as_str()),
            "a secret appears in the TRACE log"
        );
    }
}
