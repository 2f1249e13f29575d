//! No secret in any `Debug` or `Display` of settings, channels, clients, senders, errors and
//! refusal replies.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use omnichannel_core::{Channel, ChannelEnv, ChannelFactory, Error, Message, SecretString};
use omnichannel_rocketchat_rapidpro::{
    AppClient, ClientError, RapidproChannel, RapidproConfig, RapidproFactory, RocketchatChannel,
    RocketchatConfig, RocketchatFactory, WebhookSender, webhook,
};

const SECRET: &str = "s3cr3t-VALUE-never-printed";
const PREVIOUS: &str = "old-s3cr3t-VALUE-never-printed";
const APP: &str = "684202ed-1461-4983-9ea7-fde74b15026c";

fn assert_clean(what: &str, text: &str) {
    assert!(!text.contains(SECRET), "{what} shows the secret: {text}");
    assert!(
        !text.contains(PREVIOUS),
        "{what} shows the previous secret: {text}"
    );
    assert!(
        !text.contains("s3cr3t"),
        "{what} shows part of a secret: {text}"
    );
}

#[tokio::test]
async fn secrets_never_appear() {
    let rc_config = RocketchatConfig::new(
        format!("https://chat.example.com/api/apps/public/{APP}"),
        SECRET,
    )
    .with_previous_secret(PREVIOUS);
    let app_config = RapidproConfig::new(APP, SECRET)
        .with_previous_secret(PREVIOUS)
        .with_callback_url("https://rapidpro.example.com/mr/x");
    assert_clean("RocketchatConfig", &format!("{rc_config:?}"));
    assert_clean("RapidproConfig", &format!("{app_config:?}"));

    let env = ChannelEnv::default();
    let rc = RocketchatChannel::new(rc_config, &env).unwrap();
    let app = RapidproChannel::new(app_config, &env).unwrap();
    assert_clean("RocketchatChannel", &format!("{rc:?}"));
    assert_clean("RapidproChannel", &format!("{app:?}"));
    assert_clean("AppClient", &format!("{:?}", rc.client()));
    let client = AppClient::new(
        reqwest::Client::new(),
        "https://x.example.com",
        SecretString::from(SECRET),
    );
    assert_clean("AppClient", &format!("{client:?}"));
    let sender = WebhookSender::new(reqwest::Client::new(), SecretString::from(SECRET));
    assert_clean("WebhookSender", &format!("{sender:?}"));

    // Settings read from JSON, and their errors.
    let built = RocketchatFactory
        .build(
            &serde_json::json!({"secret": SECRET, "base_url": "not a url"}),
            &env,
        )
        .err()
        .unwrap();
    assert_clean("config error", &format!("{built} {built:?}"));
    let built = RapidproFactory
        .build(&serde_json::json!({"secret": [SECRET, PREVIOUS]}), &env)
        .err()
        .unwrap();
    assert_clean("config error", &format!("{built} {built:?}"));

    // Refusals on both sides: wrong token, and the replies.
    let hook = webhook::callback_request(
        "https://rapidpro.example.com/mr/x",
        &SecretString::from("wrong-token"),
        &omnichannel_rocketchat_rapidpro::model::AppWebhook::CloseRoom {
            ticket_id: "t".into(),
            token: "1".into(),
        },
    )
    .unwrap();
    let e = rc.receive(&hook).await.unwrap_err();
    assert_eq!(e.kind(), "unauthorized");
    assert_clean("RapidPro-side refusal", &format!("{e} {e:?}"));
    let reply = rc.reject_reply(&e);
    assert_clean("RapidPro-side reply", &String::from_utf8_lossy(&reply.body));

    let req = webhook::app_request(
        &format!("https://chat.example.com/api/apps/public/{APP}"),
        webhook::Endpoint::SecretCheck,
        http::Method::GET,
        &SecretString::from("wrong-token"),
        Vec::new(),
    )
    .unwrap();
    let e = app.receive(&req).await.unwrap_err();
    assert_eq!(e.kind(), "unauthorized");
    assert_clean("app-side refusal", &format!("{e} {e:?}"));
    let reply = app.reject_reply(&e);
    assert_clean("app-side reply", &String::from_utf8_lossy(&reply.body));

    // Requests built by the signers carry the secret only in a sensitive header.
    let signed = webhook::callback_request(
        "https://rapidpro.example.com/mr/x",
        &SecretString::from(SECRET),
        &omnichannel_rocketchat_rapidpro::model::AppWebhook::CloseRoom {
            ticket_id: "t".into(),
            token: "1".into(),
        },
    )
    .unwrap();
    assert!(signed.headers["authorization"].is_sensitive());
    assert_clean("signed request", &format!("{signed:?}"));

    // Send errors (no network: capability refusal and a transport failure).
    let e = rc
        .send(&Message::builder().conversation_id("1").build())
        .await
        .unwrap_err();
    assert_clean("send error", &format!("{e} {e:?}"));
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let dead = listener.local_addr().unwrap();
    drop(listener);
    let offline = RocketchatChannel::new(
        RocketchatConfig::new(format!("http://{dead}/api/apps/public/{APP}"), SECRET),
        &env,
    )
    .unwrap();
    let e = offline
        .send(&Message::text("hi").conversation_id("1").build())
        .await
        .unwrap_err();
    assert_eq!(e.kind(), "transport");
    assert_clean("transport error", &format!("{e} {e:?}"));
    let ce = ClientError::InvalidAuthorization;
    assert_clean(
        "client error",
        &format!("{ce} {ce:?} {}", Error::from(ce.clone())),
    );
}
