//! Sends, listing and media against a wiremock server on 127.0.0.1: the exact requests, and
//! the classification of every error.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use base64::Engine as _;
use omnichannel_core::http::RetryPolicy;
use omnichannel_core::{
    AttachmentKind, Channel, ChannelEnv, Contact, Message, OutboundAttachment, SendStatus,
};
use omnichannel_signalwire::{ListMessages, SignalwireChannel, SignalwireConfig};
use pretty_assertions::assert_eq;
use serde_json::{Value, json};
use wiremock::matchers::{body_string, header, method, path, query_param};
use wiremock::{Mock, MockServer, ResponseTemplate};

const PROJECT: &str = "ea108133-d6b3-407c-9536-9fad8a929a6a";
const TOKEN: &str = "PT_test-token-not-real";
const MESSAGES: &str =
    "/api/laml/2010-04-01/Accounts/ea108133-d6b3-407c-9536-9fad8a929a6a/Messages.json";

fn basic() -> String {
    format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!("{PROJECT}:{TOKEN}"))
    )
}

fn channel(server: &MockServer) -> SignalwireChannel {
    let cfg = SignalwireConfig::builder("PSK_test-signing-key-not-real")
        .space_url(server.uri())
        .project_id(PROJECT)
        .api_token(TOKEN)
        .from("+15551234567")
        .max_pages(5)
        .build()
        .unwrap();
    SignalwireChannel::new(cfg, &ChannelEnv::default()).unwrap()
}

fn created(sid: &str, status: &str) -> Value {
    json!({"sid": sid, "status": status, "account_sid": PROJECT, "to": "+15557654321", "from": "+15551234567", "num_media": "0", "error_code": null})
}

fn sms(text: &str) -> Message {
    Message::text(text)
        .recipient(Contact::new("+15557654321"))
        .build()
}

#[tokio::test]
async fn sms_exact_form_and_basic_auth() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(MESSAGES))
        .and(header("authorization", basic().as_str()))
        .and(header("content-type", "application/x-www-form-urlencoded"))
        .and(header("accept", "application/json"))
        .and(body_string(
            "To=%2B15557654321&From=%2B15551234567&Body=Ol%C3%A1+%26+bye",
        ))
        .respond_with(ResponseTemplate::new(201).set_body_json(created("sid-1", "queued")))
        .expect(1)
        .mount(&server)
        .await;
    let receipt = channel(&server).send(&sms("Olá & bye")).await.unwrap();
    assert_eq!(receipt.message_id, "sid-1");
    assert_eq!(receipt.status, SendStatus::Accepted);
    assert_eq!(receipt.raw.unwrap()["status"], "queued");
}

#[tokio::test]
async fn mms_with_several_media_in_order() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(MESSAGES))
        .respond_with(ResponseTemplate::new(201).set_body_json(created("sid-2", "sent")))
        .expect(1)
        .mount(&server)
        .await;
    let msg = Message::text("see")
        .recipient(Contact::new("+15557654321"))
        .attachment(OutboundAttachment::from_url(
            AttachmentKind::Image,
            "https://cdn.example.com/1.jpg",
        ))
        .attachment(OutboundAttachment::from_url(
            AttachmentKind::Image,
            "https://cdn.example.com/2.png",
        ))
        .attachment(OutboundAttachment::from_url(
            AttachmentKind::Audio,
            "https://cdn.example.com/3.mp3",
        ))
        .metadata("status_callback", json!("https://hooks.example.com/cb?x=1"))
        .build();
    let receipt = channel(&server).send(&msg).await.unwrap();
    assert_eq!(receipt.status, SendStatus::Sent);
    let reqs = server.received_requests().await.unwrap();
    let pairs: Vec<(String, String)> = url::form_urlencoded::parse(&reqs[0].body)
        .into_owned()
        .collect();
    let expected: Vec<(String, String)> = [
        ("To", "+15557654321"),
        ("From", "+15551234567"),
        ("Body", "see"),
        ("MediaUrl", "https://cdn.example.com/1.jpg"),
        ("MediaUrl", "https://cdn.example.com/2.png"),
        ("MediaUrl", "https://cdn.example.com/3.mp3"),
        ("StatusCallback", "https://hooks.example.com/cb?x=1"),
    ]
    .iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    assert_eq!(pairs, expected);
}

async fn send_error(
    status: u16,
    headers: &[(&str, &str)],
    body: &str,
) -> (omnichannel_core::Error, usize) {
    let server = MockServer::start().await;
    let mut t = ResponseTemplate::new(status).set_body_string(body.to_string());
    for (k, v) in headers {
        t = t.insert_header(*k, *v);
    }
    Mock::given(method("POST"))
        .and(path(MESSAGES))
        .respond_with(t)
        .mount(&server)
        .await;
    let err = channel(&server).send(&sms("hi")).await.unwrap_err();
    let n = server.received_requests().await.unwrap().len();
    (err, n)
}

#[tokio::test]
async fn every_error_class() {
    let (e, n) = send_error(
        400,
        &[],
        r#"{"code":21610,"message":"blocked","status":400}"#,
    )
    .await;
    assert_eq!((e.kind(), e.retryable(), n), ("opted_out", false, 1));

    let (e, n) = send_error(
        429,
        &[("retry-after", "7")],
        r#"{"code":20429,"message":"Too Many Requests"}"#,
    )
    .await;
    assert_eq!((e.kind(), e.retryable(), n), ("rate_limited", true, 1));
    assert_eq!(e.retry_after(), Some(Duration::from_secs(7)));

    let (e, _) = send_error(
        400,
        &[],
        r#"{"code":"20429","message":"Too Many Requests"}"#,
    )
    .await;
    assert_eq!((e.kind(), e.retryable()), ("rate_limited", true));

    // Sends are never retried (no idempotency key at the API): one request even on a 5xx.
    let (e, n) = send_error(503, &[], "uh oh").await;
    assert_eq!((e.kind(), e.retryable(), n), ("provider_error", true, 1));

    let (e, _) = send_error(
        422,
        &[],
        r#"{"code":"21717","message":"From must belong to an active campaign.","status":400}"#,
    )
    .await;
    assert_eq!((e.kind(), e.retryable()), ("provider_error", false));
    match &e {
        omnichannel_core::Error::Provider { status, code, .. } => {
            assert_eq!(*status, Some(422));
            assert_eq!(code.as_deref(), Some("21717"));
        }
        other => panic!("{other:?}"),
    }

    let (e, _) = send_error(
        400,
        &[],
        r#"{"code":21211,"message":"Invalid 'To' Phone Number"}"#,
    )
    .await;
    assert_eq!((e.kind(), e.retryable()), ("provider_error", false));

    let (e, _) = send_error(
        401,
        &[],
        r#"{"code":20003,"message":"Authentication Error"}"#,
    )
    .await;
    assert_eq!((e.kind(), e.retryable()), ("unauthorized", false));

    let (e, _) = send_error(201, &[], "not json").await;
    assert_eq!(e.kind(), "provider_error");
}

#[tokio::test]
async fn refusals_make_no_request() {
    let server = MockServer::start().await;
    let ch = channel(&server);
    let long = sms(&"x".repeat(1601));
    assert_eq!(
        ch.send(&long).await.unwrap_err().kind(),
        "unsupported_content"
    );
    let national = Message::text("hi")
        .recipient(Contact::new("5557654321"))
        .build();
    let e = ch.send(&national).await.unwrap_err();
    assert_eq!(e.kind(), "invalid_input");
    assert!(e.to_string().contains("default region"), "{e}");
    assert!(server.received_requests().await.unwrap().is_empty());
}

fn page(sids: &[&str], next: Value) -> Value {
    json!({
        "uri": MESSAGES,
        "first_page_uri": format!("{MESSAGES}?Page=0&PageSize=2"),
        "next_page_uri": next,
        "previous_page_uri": null,
        "page": 0,
        "page_size": 2,
        "messages": sids.iter().map(|s| created(s, "delivered")).collect::<Vec<_>>()
    })
}

#[tokio::test]
async fn listing_follows_pages_until_null_or_empty() {
    let server = MockServer::start().await;
    let p1 = format!("{MESSAGES}?PageSize=2&Page=1&PageToken=PAa1");
    let p2 = format!("{MESSAGES}?PageSize=2&Page=2&PageToken=PAa2");
    Mock::given(method("GET"))
        .and(path(MESSAGES))
        .and(query_param("PageToken", "PAa1"))
        .and(header("authorization", basic().as_str()))
        .respond_with(ResponseTemplate::new(200).set_body_json(page(&["c", "d"], json!(p2))))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path(MESSAGES))
        .and(query_param("PageToken", "PAa2"))
        .respond_with(ResponseTemplate::new(200).set_body_json(page(&["e"], json!(""))))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path(MESSAGES))
        .and(query_param("PageSize", "2"))
        .and(query_param("To", "+15557654321"))
        .and(query_param("DateSent>", "2024-01-01"))
        .and(header("authorization", basic().as_str()))
        .respond_with(ResponseTemplate::new(200).set_body_json(page(&["a", "b"], json!(p1))))
        .expect(1)
        .mount(&server)
        .await;
    let ch = channel(&server);
    let filter = ListMessages {
        to: Some("+15557654321".into()),
        date_sent_after: Some("2024-01-01".into()),
        page_size: Some(2),
        ..Default::default()
    };
    let all = ch.api().unwrap().list_messages(&filter).await.unwrap();
    let sids: Vec<_> = all.iter().map(|m| m.sid.as_str()).collect();
    assert_eq!(sids, ["a", "b", "c", "d", "e"]);

    // Page by page, `null` also ends.
    let server2 = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path(MESSAGES))
        .respond_with(ResponseTemplate::new(200).set_body_json(page(&["x"], Value::Null)))
        .mount(&server2)
        .await;
    let api2 = channel(&server2);
    let first = api2
        .api()
        .unwrap()
        .list_messages_page(&ListMessages::default())
        .await
        .unwrap();
    assert_eq!(first.messages[0].sid, "x");
    assert!(
        api2.api()
            .unwrap()
            .next_messages_page(&first)
            .await
            .unwrap()
            .is_none()
    );
}

#[tokio::test]
async fn listing_is_bounded_and_stays_on_the_space() {
    // A provider that never ends: max_pages (5) stops it with a precise error.
    let server = MockServer::start().await;
    let counter = std::sync::atomic::AtomicUsize::new(0);
    Mock::given(method("GET"))
        .and(path(MESSAGES))
        .respond_with(move |_: &wiremock::Request| {
            let n = counter.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            ResponseTemplate::new(200).set_body_json(page(
                &["m"],
                json!(format!("{MESSAGES}?Page={}&PageToken=PA{n}", n + 1)),
            ))
        })
        .mount(&server)
        .await;
    let e = channel(&server)
        .api()
        .unwrap()
        .list_messages(&ListMessages::default())
        .await
        .unwrap_err();
    assert_eq!(e.kind(), "invalid_input");
    assert_eq!(server.received_requests().await.unwrap().len(), 5);

    // A next page on another host is not followed with our credentials.
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path(MESSAGES))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(page(&["m"], json!("https://elsewhere.example.com/steal"))),
        )
        .mount(&server)
        .await;
    let e = channel(&server)
        .api()
        .unwrap()
        .list_messages(&ListMessages::default())
        .await
        .unwrap_err();
    assert_eq!(e.kind(), "provider_error");
    assert_eq!(server.received_requests().await.unwrap().len(), 1);
}

#[tokio::test]
async fn reads_are_retried_sends_are_not() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path(format!(
            "/api/laml/2010-04-01/Accounts/{PROJECT}/Messages/sid-9.json"
        )))
        .respond_with(ResponseTemplate::new(503))
        .up_to_n_times(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path(format!(
            "/api/laml/2010-04-01/Accounts/{PROJECT}/Messages/sid-9.json"
        )))
        .respond_with(ResponseTemplate::new(200).set_body_json(created("sid-9", "delivered")))
        .mount(&server)
        .await;
    let ch = channel(&server);
    let api = ch.api().unwrap().clone().with_retry(RetryPolicy {
        max_attempts: 3,
        min_delay: Duration::from_millis(1),
        max_delay: Duration::from_millis(5),
        max_retry_after: Duration::from_secs(1),
    });
    let m = api.fetch_message("sid-9").await.unwrap();
    assert_eq!(m.status.as_deref(), Some("delivered"));
    assert_eq!(server.received_requests().await.unwrap().len(), 2);
}

#[tokio::test]
async fn media_listing_and_download() {
    let server = MockServer::start().await;
    let base = format!("/api/laml/2010-04-01/Accounts/{PROJECT}/Messages/sid-3/Media");
    Mock::given(method("GET"))
        .and(path(format!("{base}.json")))
        .and(query_param("Page", "1"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "media_list": [{"sid": "media2", "parent_sid": "sid-3", "content_type": "image/png", "uri": format!("{base}/media2.json")}],
            "next_page_uri": null
        })))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path(format!("{base}.json")))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "media_list": [{"sid": "media1", "parent_sid": "sid-3", "content_type": "image/jpeg", "uri": format!("{base}/media1.json")}],
            "next_page_uri": format!("{base}.json?Page=1&PageToken=PAm")
        })))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path(format!("{base}/media1")))
        .and(header("authorization", basic().as_str()))
        .and(header("accept", "*/*"))
        .respond_with(
            ResponseTemplate::new(200).set_body_raw(b"\xff\xd8jpeg".to_vec(), "image/jpeg"),
        )
        .mount(&server)
        .await;
    let ch = channel(&server);
    let api = ch.api().unwrap();
    let media = api.list_media("sid-3").await.unwrap();
    assert_eq!(
        media.iter().map(|m| m.sid.as_str()).collect::<Vec<_>>(),
        ["media1", "media2"]
    );
    let got = api.download_media(&media[0], 1024).await.unwrap();
    assert_eq!(got.content_type.as_deref(), Some("image/jpeg"));
    assert_eq!(got.bytes.as_ref(), b"\xff\xd8jpeg");
    // Over the limit: refused, not truncated.
    assert_eq!(
        api.download_media(&media[0], 3).await.unwrap_err().kind(),
        "provider_error"
    );
}

#[tokio::test]
async fn inbound_media_urls_get_credentials_only_on_the_space() {
    let space = MockServer::start().await;
    let other = MockServer::start().await;
    for s in [&space, &other] {
        Mock::given(method("GET"))
            .and(path("/media/1"))
            .respond_with(ResponseTemplate::new(200).set_body_raw(b"img".to_vec(), "image/png"))
            .mount(s)
            .await;
    }
    let ch = channel(&space);
    let api = ch.api().unwrap();
    api.download_media_url(&format!("{}/media/1", space.uri()), 100)
        .await
        .unwrap();
    api.download_media_url(&format!("{}/media/1", other.uri()), 100)
        .await
        .unwrap();
    let on_space = space.received_requests().await.unwrap();
    let elsewhere = other.received_requests().await.unwrap();
    assert_eq!(on_space[0].headers["authorization"], basic().as_str());
    assert!(!elsewhere[0].headers.contains_key("authorization"));
    assert_eq!(
        api.download_media_url("ftp://x.test/a", 10)
            .await
            .unwrap_err()
            .kind(),
        "invalid_input"
    );
}

#[tokio::test]
async fn api_calls_without_credentials_are_a_configuration_error() {
    let cfg = SignalwireConfig::builder("PSK_test-signing-key-not-real")
        .from("+15551234567")
        .build()
        .unwrap();
    let ch = SignalwireChannel::new(cfg, &ChannelEnv::default()).unwrap();
    let e = ch.send(&sms("hi")).await.unwrap_err();
    assert_eq!(e.kind(), "invalid_input");
    assert!(e.to_string().contains("space_url"), "{e}");
}
