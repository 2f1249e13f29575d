//! Outbound calls against a local wiremock server: exact requests, error envelope mapping,
//! refresh-and-retry, and Capabilities refusals that send nothing.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, Utc};
use omnichannel_core::http::RetryPolicy;
use omnichannel_core::{
    AccessToken, AttachmentKind, Channel, ChannelEnv, FixedClock, Message, OutboundAttachment,
    SendStatus,
};
use omnichannel_tiktok::normalize::SPLIT_METADATA_KEY;
use omnichannel_tiktok::{TiktokChannel, TiktokConfig};
use serde_json::{Value, json};
use wiremock::matchers::{header, method, path};
use wiremock::{Mock, MockServer, Request, ResponseTemplate};

const TOKEN: &str = "test-access-token-not-real";
const SEND: &str = "/open_api/v1.3/business/message/send/";
const UPLOAD: &str = "/open_api/v1.3/business/message/media/upload/";
const REFRESH: &str = "/open_api/v1.3/tt_user/oauth2/refresh_token/";
const PNG: &[u8] = b"\x89PNG\r\n\x1a\ntest-image-bytes";

fn now() -> DateTime<Utc> {
    DateTime::from_timestamp(1_700_000_000, 0).unwrap()
}

fn fast_retry() -> RetryPolicy {
    RetryPolicy {
        max_attempts: 2,
        min_delay: Duration::from_millis(1),
        max_delay: Duration::from_millis(2),
        max_retry_after: Duration::from_secs(1),
    }
}

fn builder(server: &MockServer) -> omnichannel_tiktok::config::TiktokConfigBuilder {
    TiktokConfig::builder("test-app-id", "test-secret-not-real")
        .api_base_url(format!("{}/open_api/v1.3/", server.uri()))
        .business_id("biz-123")
        .retry(fast_retry())
}

fn channel_with(cfg: TiktokConfig) -> TiktokChannel {
    let env = ChannelEnv {
        clock: Arc::new(FixedClock::new(now())),
        ..ChannelEnv::default()
    };
    TiktokChannel::new(cfg, &env).unwrap()
}

fn static_channel(server: &MockServer) -> TiktokChannel {
    channel_with(builder(server).access_token(TOKEN).build().unwrap())
}

fn ok_send(id: &str) -> ResponseTemplate {
    ResponseTemplate::new(200).set_body_json(json!({
        "code": 0, "message": "OK", "request_id": "req-1",
        "data": {"message": {"message_id": id}}
    }))
}

fn api_error(code: i64) -> ResponseTemplate {
    ResponseTemplate::new(200).set_body_json(json!({
        "code": code, "message": "error from TikTok", "request_id": "req-err"
    }))
}

fn body(r: &Request) -> Value {
    serde_json::from_slice(&r.body).unwrap()
}

fn hdr<'a>(r: &'a Request, name: &str) -> &'a str {
    r.headers.get(name).unwrap().to_str().unwrap()
}

fn multipart(r: &Request) -> Value {
    let ct = hdr(r, "content-type").to_string();
    omnichannel_testkit::decode::multipart(&ct, &r.body).unwrap()
}

#[tokio::test]
async fn text_request_is_exact() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(SEND))
        .respond_with(ok_send("tt-msg-123"))
        .expect(1)
        .mount(&server)
        .await;
    let ch = static_channel(&server);
    let r = ch
        .send(&Message::text("Hello").conversation_id("tt-conv-1").build())
        .await
        .unwrap();
    assert_eq!(r.message_id, "tt-msg-123");
    assert_eq!(r.status, SendStatus::Sent);
    let reqs = server.received_requests().await.unwrap();
    assert_eq!(reqs.len(), 1);
    let q = &reqs[0];
    assert_eq!(q.method.as_str(), "POST");
    assert_eq!(q.url.path(), SEND);
    assert_eq!(hdr(q, "access-token"), TOKEN);
    assert!(hdr(q, "content-type").starts_with("application/json"));
    assert!(q.headers.get("authorization").is_none());
    assert_eq!(
        body(q),
        json!({"business_id": "biz-123", "recipient_type": "CONVERSATION", "recipient": "tt-conv-1",
               "message_type": "TEXT", "text": {"body": "Hello"}})
    );
}

#[tokio::test]
async fn reply_carries_the_reference() {
    let server = MockServer::start().await;
    Mock::given(path(SEND))
        .respond_with(ok_send("tt-msg-124"))
        .mount(&server)
        .await;
    let ch = static_channel(&server);
    ch.send(
        &Message::text("Thanks!")
            .conversation_id("tt-conv-1")
            .reply_to("tt-msg-1")
            .build(),
    )
    .await
    .unwrap();
    let reqs = server.received_requests().await.unwrap();
    assert_eq!(
        body(&reqs[0]),
        json!({"business_id": "biz-123", "recipient_type": "CONVERSATION", "recipient": "tt-conv-1",
               "message_type": "TEXT", "text": {"body": "Thanks!"},
               "referenced_message_info": {"referenced_message_id": "tt-msg-1"}})
    );
}

#[tokio::test]
async fn image_is_uploaded_then_sent() {
    let server = MockServer::start().await;
    Mock::given(path(UPLOAD))
        .respond_with(
            ResponseTemplate::new(200).set_body_json(
                json!({"code": 0, "message": "OK", "data": {"media_id": "media-123"}}),
            ),
        )
        .mount(&server)
        .await;
    Mock::given(path(SEND))
        .respond_with(ok_send("tt-msg-125"))
        .mount(&server)
        .await;
    let ch = static_channel(&server);
    let msg = Message::builder()
        .conversation_id("tt-conv-1")
        .attachment(
            OutboundAttachment::from_bytes(AttachmentKind::Image, PNG)
                .with_mime_type("image/png")
                .with_name("avatar.png"),
        )
        .build();
    let r = ch.send(&msg).await.unwrap();
    assert_eq!(r.message_id, "tt-msg-125");
    let reqs = server.received_requests().await.unwrap();
    assert_eq!(reqs.len(), 2);
    assert_eq!(reqs[0].url.path(), UPLOAD);
    assert_eq!(hdr(&reqs[0], "access-token"), TOKEN);
    assert!(hdr(&reqs[0], "content-type").starts_with("multipart/form-data; boundary="));
    assert_eq!(
        multipart(&reqs[0]),
        json!({"business_id": "biz-123", "media_type": "IMAGE",
               "file": {"filename": "avatar.png", "content_type": "image/png", "size": PNG.len()}})
    );
    assert!(
        reqs[0].body.windows(PNG.len()).any(|w| w == PNG),
        "file bytes sent as given"
    );
    assert_eq!(reqs[1].url.path(), SEND);
    assert_eq!(
        body(&reqs[1]),
        json!({"business_id": "biz-123", "recipient_type": "CONVERSATION", "recipient": "tt-conv-1",
               "message_type": "IMAGE", "image": {"media_id": "media-123"}})
    );
}

#[tokio::test]
async fn image_from_url_is_downloaded_bounded_and_typed() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/files/pic"))
        .respond_with(ResponseTemplate::new(200).set_body_raw(PNG.to_vec(), "image/png"))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/files/huge"))
        .respond_with(ResponseTemplate::new(200).set_body_raw(vec![0u8; 4096], "image/png"))
        .mount(&server)
        .await;
    Mock::given(path(UPLOAD))
        .respond_with(
            ResponseTemplate::new(200).set_body_json(
                json!({"code": 0, "message": "OK", "data": {"media_id": "media-9"}}),
            ),
        )
        .mount(&server)
        .await;
    Mock::given(path(SEND))
        .respond_with(ok_send("tt-msg-9"))
        .mount(&server)
        .await;
    let ch = channel_with(
        builder(&server)
            .access_token(TOKEN)
            .max_media_bytes(1024)
            .build()
            .unwrap(),
    );
    let img = |p: &str| {
        Message::builder()
            .conversation_id("tt-conv-1")
            .attachment(OutboundAttachment::from_url(
                AttachmentKind::Image,
                format!("{}{p}", server.uri()),
            ))
            .build()
    };
    ch.send(&img("/files/pic")).await.unwrap();
    let reqs = server.received_requests().await.unwrap();
    assert_eq!(reqs.len(), 3);
    assert_eq!(
        multipart(&reqs[1])["file"]["content_type"],
        json!("image/png")
    );
    assert_eq!(multipart(&reqs[1])["file"]["filename"], json!("image.png"));
    // Over the limit: refused before anything reaches TikTok.
    let e = ch.send(&img("/files/huge")).await.unwrap_err();
    assert_eq!(e.kind(), "invalid_input");
    assert_eq!(server.received_requests().await.unwrap().len(), 4);
}

#[tokio::test]
async fn split_opt_in_sends_two_messages() {
    let server = MockServer::start().await;
    Mock::given(path(UPLOAD))
        .respond_with(
            ResponseTemplate::new(200).set_body_json(
                json!({"code": 0, "message": "OK", "data": {"media_id": "media-1"}}),
            ),
        )
        .mount(&server)
        .await;
    let n = Arc::new(AtomicUsize::new(0));
    let n2 = n.clone();
    Mock::given(path(SEND))
        .respond_with(move |_: &Request| {
            let i = n2.fetch_add(1, Ordering::SeqCst);
            ok_send(&format!("tt-msg-{i}"))
        })
        .mount(&server)
        .await;
    let ch = static_channel(&server);
    let msg = Message::text("look at this")
        .conversation_id("tt-conv-1")
        .reply_to("tt-msg-0")
        .attachment(OutboundAttachment::from_bytes(AttachmentKind::Image, PNG))
        .metadata(SPLIT_METADATA_KEY, json!(true))
        .build();
    let r = ch.send(&msg).await.unwrap();
    let reqs = server.received_requests().await.unwrap();
    let paths: Vec<&str> = reqs.iter().map(|r| r.url.path()).collect();
    assert_eq!(paths, [SEND, UPLOAD, SEND]);
    assert_eq!(body(&reqs[0])["message_type"], "TEXT");
    assert_eq!(
        body(&reqs[0])["referenced_message_info"]["referenced_message_id"],
        "tt-msg-0"
    );
    assert_eq!(body(&reqs[2])["message_type"], "IMAGE");
    assert!(body(&reqs[2]).get("referenced_message_info").is_none());
    assert_eq!(r.message_id, "tt-msg-1");
    assert_eq!(
        r.raw.unwrap()["message_ids"],
        json!(["tt-msg-0", "tt-msg-1"])
    );
}

#[tokio::test]
async fn error_envelope_codes_map_to_kinds() {
    let cases: &[(i64, &str, bool, usize)] = &[
        (40100, "rate_limited", true, 1),
        (51065, "rate_limited", true, 1),
        (40103, "reauthorization_required", false, 1),
        (40107, "reauthorization_required", false, 1),
        (40064, "provider_error", false, 1),
        (40002, "provider_error", false, 1),
        // A rejected token is refreshed once and the send retried once.
        (40104, "unauthorized", false, 2),
        (40105, "unauthorized", false, 2),
    ];
    for &(code, kind, retryable, requests) in cases {
        let server = MockServer::start().await;
        Mock::given(path(SEND))
            .respond_with(api_error(code))
            .mount(&server)
            .await;
        let ch = static_channel(&server);
        let e = ch
            .send(&Message::text("hi").conversation_id("tt-conv-1").build())
            .await
            .unwrap_err();
        assert_eq!(e.kind(), kind, "code {code}: {e}");
        assert_eq!(e.retryable(), retryable, "code {code}");
        assert_eq!(
            server.received_requests().await.unwrap().len(),
            requests,
            "code {code}"
        );
        if kind == "provider_error" {
            assert!(e.to_string().contains(&code.to_string()));
            assert!(e.to_string().contains("req-err"));
        }
    }
    // An HTTP error without an envelope falls back to the status.
    let server = MockServer::start().await;
    Mock::given(path(SEND))
        .respond_with(ResponseTemplate::new(503))
        .mount(&server)
        .await;
    let e = static_channel(&server)
        .send(&Message::text("hi").conversation_id("tt-conv-1").build())
        .await
        .unwrap_err();
    assert_eq!(e.kind(), "provider_error");
    assert!(e.retryable());
}

fn seeded_token() -> AccessToken {
    AccessToken::new("old-token")
        .expires_at(now() + chrono::Duration::hours(10))
        .with_refresh("rt-1", Some(now() + chrono::Duration::days(30)))
}

#[tokio::test]
async fn invalid_token_is_refreshed_once_and_the_send_retried() {
    let server = MockServer::start().await;
    Mock::given(path(SEND))
        .and(header("Access-Token", "old-token"))
        .respond_with(api_error(40105))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(path(SEND))
        .and(header("Access-Token", "new-token"))
        .respond_with(ok_send("tt-msg-200"))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path(REFRESH))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "code": 0, "message": "ok",
            "data": {"access_token": "new-token", "refresh_token": "rt-2",
                     "expires_in": 7200, "refresh_token_expires_in": 12345}
        })))
        .expect(1)
        .mount(&server)
        .await;
    let ch = channel_with(builder(&server).build().unwrap());
    ch.tokens()
        .set_token("biz-123", seeded_token())
        .await
        .unwrap();
    let r = ch
        .send(&Message::text("hi").conversation_id("tt-conv-1").build())
        .await
        .unwrap();
    assert_eq!(r.message_id, "tt-msg-200");
    let reqs = server.received_requests().await.unwrap();
    let refresh = reqs.iter().find(|r| r.url.path() == REFRESH).unwrap();
    assert!(refresh.headers.get("access-token").is_none());
    assert_eq!(
        body(refresh),
        json!({"client_id": "test-app-id", "client_secret": "test-secret-not-real",
               "grant_type": "refresh_token", "refresh_token": "rt-1"})
    );
    // The rotated refresh token and TikTok's lifetimes are kept.
    let t = ch.tokens().access_token("biz-123").await.unwrap();
    use omnichannel_core::ExposeSecret;
    assert_eq!(t.value.expose_secret(), "new-token");
    assert_eq!(t.refresh_token.as_ref().unwrap().expose_secret(), "rt-2");
    assert_eq!(t.expires_at, Some(now() + chrono::Duration::seconds(7200)));
    assert_eq!(
        t.refresh_expires_at,
        Some(now() + chrono::Duration::seconds(12345))
    );
}

#[tokio::test]
async fn revoked_refresh_token_requires_reauthorization_and_calls_the_hook() {
    let server = MockServer::start().await;
    Mock::given(path(SEND))
        .respond_with(api_error(40105))
        .mount(&server)
        .await;
    Mock::given(path(REFRESH))
        .respond_with(api_error(40107))
        .mount(&server)
        .await;
    let notices = Arc::new(Mutex::new(Vec::new()));
    let seen = notices.clone();
    let ch = channel_with(
        builder(&server)
            .on_reauthorization(move |n| seen.lock().unwrap().push(n.key.clone()))
            .build()
            .unwrap(),
    );
    ch.tokens()
        .set_token("biz-123", seeded_token())
        .await
        .unwrap();
    let e = ch
        .send(&Message::text("hi").conversation_id("tt-conv-1").build())
        .await
        .unwrap_err();
    assert_eq!(e.kind(), "reauthorization_required");
    assert_eq!(*notices.lock().unwrap(), vec!["biz-123".to_string()]);
    assert!(ch.tokens().needs_reauthorization("biz-123"));
}

#[tokio::test]
async fn capabilities_refusals_send_nothing() {
    let server = MockServer::start().await;
    Mock::given(wiremock::matchers::any())
        .respond_with(ok_send("never"))
        .mount(&server)
        .await;
    let ch = static_channel(&server);
    let img = || OutboundAttachment::from_bytes(AttachmentKind::Image, PNG);
    let cases: Vec<(&str, Message)> = vec![
        ("empty", Message::builder().conversation_id("c").build()),
        (
            "too long",
            Message::text("x".repeat(6001)).conversation_id("c").build(),
        ),
        (
            "text with image",
            Message::text("hi")
                .attachment(img())
                .conversation_id("c")
                .build(),
        ),
        (
            "two images",
            Message::builder()
                .attachment(img())
                .attachment(img())
                .conversation_id("c")
                .build(),
        ),
        (
            "video",
            Message::builder()
                .attachment(OutboundAttachment::from_url(
                    AttachmentKind::Video,
                    "https://x.test/v.mp4",
                ))
                .conversation_id("c")
                .build(),
        ),
        (
            "outside the 48 h window",
            Message::text("late")
                .conversation_id("c")
                .last_inbound_at(now() - chrono::Duration::hours(49))
                .build(),
        ),
        (
            "business initiation",
            Message::text("hi")
                .recipient(omnichannel_core::Contact::new("user-1"))
                .build(),
        ),
        (
            "split with too long text",
            Message::text("x".repeat(6001))
                .attachment(img())
                .conversation_id("c")
                .metadata(SPLIT_METADATA_KEY, json!(true))
                .build(),
        ),
    ];
    for (name, msg) in cases {
        let e = ch.send(&msg).await.unwrap_err();
        assert_eq!(e.kind(), "unsupported_content", "{name}: {e}");
    }
    // Exactly 6000 characters within the window is fine.
    ch.send(
        &Message::text("é".repeat(6000))
            .conversation_id("c")
            .last_inbound_at(now() - chrono::Duration::hours(47))
            .build(),
    )
    .await
    .unwrap();
    assert_eq!(server.received_requests().await.unwrap().len(), 1);
}

#[tokio::test]
async fn media_download_uses_x_user() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/open_api/v1.3/business/message/media/download/"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "code": 0, "message": "OK",
            "data": {"download_url": format!("{}/cdn/media-1", server.uri())}
        })))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/cdn/media-1"))
        .and(header("x-user", TOKEN))
        .respond_with(ResponseTemplate::new(200).set_body_raw(PNG.to_vec(), "image/png"))
        .mount(&server)
        .await;
    let ch = static_channel(&server);
    let (bytes, ct) = ch
        .download_media("biz-123", "tt-conv-1", "tt-msg-4", "media-1")
        .await
        .unwrap();
    assert_eq!(&bytes[..], PNG);
    assert_eq!(ct.as_deref(), Some("image/png"));
    let reqs = server.received_requests().await.unwrap();
    assert_eq!(hdr(&reqs[0], "access-token"), TOKEN);
    assert_eq!(
        body(&reqs[0]),
        json!({"business_id": "biz-123", "conversation_id": "tt-conv-1", "message_id": "tt-msg-4",
               "media_id": "media-1", "media_type": "IMAGE"})
    );
}

#[tokio::test]
async fn webhook_registration_and_business_info() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/open_api/v1.3/business/webhook/update/"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(json!({"code": 0, "message": "OK", "data": {}})),
        )
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/open_api/v1.3/business/webhook/list/"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "code": 0, "message": "OK",
            "data": {"callback_url": "https://helpdesk.example/webhooks/tiktok"}
        })))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/open_api/v1.3/business/get/"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "code": 0, "message": "ok",
            "data": {"username": "tiktok_user", "display_name": "TikTok Display Name",
                     "profile_image": "https://www.example.com/avatar.png"}
        })))
        .mount(&server)
        .await;
    let ch = static_channel(&server);
    ch.register_webhook("https://helpdesk.example/webhooks/tiktok")
        .await
        .unwrap();
    let list = ch.list_webhooks().await.unwrap();
    assert_eq!(
        list.data["callback_url"],
        "https://helpdesk.example/webhooks/tiktok"
    );
    let info = ch.business_info("biz-123").await.unwrap();
    assert_eq!(info.name(), Some("TikTok Display Name"));
    let reqs = server.received_requests().await.unwrap();
    assert_eq!(
        body(&reqs[0]),
        json!({"app_id": "test-app-id", "secret": "test-secret-not-real",
               "event_type": "DIRECT_MESSAGE", "callback_url": "https://helpdesk.example/webhooks/tiktok"})
    );
    assert!(reqs[0].headers.get("access-token").is_none());
    let q: Vec<(String, String)> = reqs[1].url.query_pairs().into_owned().collect();
    assert_eq!(
        q,
        [
            ("app_id".to_string(), "test-app-id".to_string()),
            ("secret".to_string(), "test-secret-not-real".to_string()),
            ("event_type".to_string(), "DIRECT_MESSAGE".to_string())
        ]
    );
    let q: Vec<(String, String)> = reqs[2].url.query_pairs().into_owned().collect();
    assert_eq!(
        q,
        [
            ("business_id".to_string(), "biz-123".to_string()),
            (
                "fields".to_string(),
                r#"["username","display_name","profile_image"]"#.to_string()
            )
        ]
    );
    assert_eq!(hdr(&reqs[2], "access-token"), TOKEN);
}

#[tokio::test]
async fn unreachable_image_url_is_invalid_input_and_nothing_reaches_tiktok() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/files/gone"))
        .respond_with(ResponseTemplate::new(404))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/files/private"))
        .respond_with(ResponseTemplate::new(403))
        .mount(&server)
        .await;
    let ch = static_channel(&server);
    for p in ["/files/gone", "/files/private"] {
        let msg = Message::builder()
            .conversation_id("tt-conv-1")
            .attachment(OutboundAttachment::from_url(
                AttachmentKind::Image,
                format!("{}{p}", server.uri()),
            ))
            .build();
        let e = ch.send(&msg).await.unwrap_err();
        assert_eq!(e.kind(), "invalid_input", "{p}: {e}");
    }
    let reqs = server.received_requests().await.unwrap();
    assert!(reqs.iter().all(|r| r.url.path().starts_with("/files/")));
}
