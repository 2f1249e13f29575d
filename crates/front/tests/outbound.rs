//! Channel API calls against a wiremock server: exact requests, JWT claims, multipart, errors.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use omnichannel_core::http::{Idempotency, RetryPolicy};
use omnichannel_core::{
    AttachmentKind, Channel, ChannelEnv, Contact, Error, Message, OutboundAttachment, SigningKeys,
};
use omnichannel_front::api::{ChannelStatus, SyncContact, SyncMetadata, SyncOutbound};
use omnichannel_front::auth::ChannelClaims;
use omnichannel_front::normalize::failure_notice_request;
use omnichannel_front::{FrontChannel, FrontConfig};
use serde_json::{Value, json};
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, Request, ResponseTemplate};

const SECRET: &str = "test-secret-not-real";
const UID: &str = "test-app-uid";

fn channel(server: &MockServer, retry: RetryPolicy) -> FrontChannel {
    let cfg = FrontConfig::builder(UID, SigningKeys::new(SECRET))
        .api_base_url(server.uri())
        .channel_id("cha_test1")
        .retry(retry)
        .build()
        .unwrap();
    FrontChannel::new(cfg, &ChannelEnv::default()).unwrap()
}

fn fast_retry() -> RetryPolicy {
    RetryPolicy {
        max_attempts: 3,
        min_delay: Duration::from_millis(1),
        max_delay: Duration::from_millis(5),
        max_retry_after: Duration::from_secs(2),
    }
}

fn accepted() -> ResponseTemplate {
    ResponseTemplate::new(202).set_body_json(json!({"status": "accepted", "message_uid": "uid_42"}))
}

fn claims_of(req: &Request) -> ChannelClaims {
    let auth = req.headers.get("authorization").unwrap().to_str().unwrap();
    let token = auth.strip_prefix("Bearer ").unwrap();
    let mut v = Validation::new(Algorithm::HS256);
    v.validate_aud = false;
    v.leeway = 0;
    v.required_spec_claims = ["exp", "iss", "sub"]
        .iter()
        .map(|s| s.to_string())
        .collect();
    jsonwebtoken::decode::<ChannelClaims>(token, &DecodingKey::from_secret(SECRET.as_bytes()), &v)
        .unwrap()
        .claims
}

fn body_json(req: &Request) -> Value {
    serde_json::from_slice(&req.body).unwrap()
}

#[tokio::test]
async fn sync_inbound_exact_request_and_jwt() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/channels/cha_test1/inbound_messages"))
        .respond_with(accepted())
        .expect(2)
        .mount(&server)
        .await;
    let ch = channel(&server, RetryPolicy::none());
    let msg = Message::text("Where is my order?")
        .sender(Contact {
            id: "+15017122661".into(),
            name: Some("Jane".into()),
        })
        .conversation_id("+15017122661")
        .metadata("external_id", json!("SM0123456789abcdef"))
        .metadata("delivered_at", json!(1_704_067_100))
        .build();
    let before = chrono::Utc::now().timestamp();
    let receipt = ch.send(&msg).await.unwrap();
    ch.send(&msg).await.unwrap();
    assert_eq!(receipt.message_id, "uid_42");
    assert_eq!(
        serde_json::to_value(&receipt).unwrap()["status"],
        json!("accepted")
    );
    let reqs = server.received_requests().await.unwrap();
    let r = &reqs[0];
    assert_eq!(r.headers["content-type"], "application/json");
    // Spec front.md section 9.4, exactly.
    assert_eq!(
        body_json(r),
        json!({"sender": {"handle": "+15017122661", "name": "Jane"}, "body": "Where is my order?",
               "delivered_at": 1704067100,
               "metadata": {"external_id": "SM0123456789abcdef", "external_conversation_id": "+15017122661"}})
    );
    let c = claims_of(r);
    assert_eq!(c.iss, UID);
    assert_eq!(c.sub, "cha_test1");
    assert!(!c.jti.is_empty());
    let after = chrono::Utc::now().timestamp();
    assert!(
        c.exp > before && c.exp <= after + 10,
        "exp {} not within 10 s",
        c.exp
    );
    // A fresh token per call.
    assert_ne!(claims_of(&reqs[1]).jti, c.jti);
    // The JWT header is HS256.
    let token = r.headers["authorization"].to_str().unwrap()[7..].to_string();
    assert_eq!(
        jsonwebtoken::decode_header(&token).unwrap().alg,
        Algorithm::HS256
    );
}

#[tokio::test]
async fn jwt_lifetime_is_a_setting() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(accepted())
        .mount(&server)
        .await;
    let cfg = FrontConfig::builder(UID, SigningKeys::new(SECRET))
        .api_base_url(server.uri())
        .jwt_lifetime(Duration::from_secs(30))
        .build()
        .unwrap();
    let ch = FrontChannel::new(cfg, &ChannelEnv::default()).unwrap();
    let now = chrono::Utc::now().timestamp();
    let msg = Message::text("hi")
        .sender(Contact::new("+1555"))
        .idempotency_key("k1")
        .metadata("channel_id", json!("alt:address:+15550001111"))
        .build();
    ch.send(&msg).await.unwrap();
    let r = &server.received_requests().await.unwrap()[0];
    // The channel id is one percent-encoded path segment.
    assert_eq!(
        r.url.path(),
        "/channels/alt:address:+15550001111/inbound_messages"
    );
    let c = claims_of(r);
    assert_eq!(c.sub, "alt:address:+15550001111");
    assert!(c.exp >= now + 29 && c.exp <= now + 31);
}

#[tokio::test]
async fn sync_outbound_exact_request() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/channels/cha_test1/outbound_messages"))
        .respond_with(accepted())
        .expect(1)
        .mount(&server)
        .await;
    let ch = channel(&server, RetryPolicy::none());
    let msg = SyncOutbound {
        to: vec![SyncContact {
            handle: "+13334445555".into(),
            name: None,
            email: None,
        }],
        sender_name: Some("Support".into()),
        subject: None,
        author_id: Some("tea_abc".into()),
        body: "Sent outside Front".into(),
        metadata: SyncMetadata {
            external_id: "SMout1".into(),
            external_conversation_id: "+13334445555".into(),
            referenced_message_external_id: None,
        },
        delivered_at: Some(1_704_067_000),
        attachments: vec![],
    };
    let a = ch
        .api()
        .sync_outbound("cha_test1", &msg, Idempotency::NotIdempotent)
        .await
        .unwrap();
    assert_eq!(a.message_uid.as_deref(), Some("uid_42"));
    let r = &server.received_requests().await.unwrap()[0];
    assert_eq!(
        body_json(r),
        json!({"to": [{"handle": "+13334445555"}], "sender_name": "Support", "author_id": "tea_abc",
               "body": "Sent outside Front", "delivered_at": 1704067000,
               "metadata": {"external_id": "SMout1", "external_conversation_id": "+13334445555"}})
    );
    // Through Channel::send with metadata.sync = outbound.
    let server2 = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/channels/cha_test1/outbound_messages"))
        .respond_with(accepted())
        .expect(1)
        .mount(&server2)
        .await;
    let ch2 = channel(&server2, RetryPolicy::none());
    let m = Message::text("bulk")
        .recipient(Contact::new("+13334445555"))
        .metadata("sync", json!("outbound"))
        .metadata("external_id", json!("SMout2"))
        .metadata("sender_name", json!("Support"))
        .build();
    ch2.send(&m).await.unwrap();
    let r = &server2.received_requests().await.unwrap()[0];
    assert_eq!(
        body_json(r),
        json!({"to": [{"handle": "+13334445555"}], "sender_name": "Support", "body": "bulk",
               "metadata": {"external_id": "SMout2", "external_conversation_id": "+13334445555"}})
    );
}

#[tokio::test]
async fn multipart_with_attachment() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/channels/cha_test1/inbound_messages"))
        .respond_with(accepted())
        .expect(1)
        .mount(&server)
        .await;
    let ch = channel(&server, RetryPolicy::none());
    let msg = Message::text("photo")
        .sender(Contact {
            id: "+15017122661".into(),
            name: Some("Jane".into()),
        })
        .reply_to("SM0")
        .idempotency_key("MMS1")
        .attachment(
            OutboundAttachment::from_bytes(AttachmentKind::Image, b"\x89PNG fake bytes")
                .with_mime_type("image/png")
                .with_name("a.png"),
        )
        .attachment(OutboundAttachment::from_bytes(
            AttachmentKind::File,
            b"%PDF",
        ))
        .build();
    ch.send(&msg).await.unwrap();
    let r = &server.received_requests().await.unwrap()[0];
    let ct = r.headers["content-type"].to_str().unwrap().to_string();
    assert!(ct.starts_with("multipart/form-data; boundary="), "{ct}");
    let parts = omnichannel_testkit::decode::multipart(&ct, &r.body).unwrap();
    assert_eq!(
        parts,
        json!({
            "sender[handle]": "+15017122661",
            "sender[name]": "Jane",
            "body": "photo",
            "metadata[external_id]": "MMS1",
            "metadata[external_conversation_id]": "+15017122661",
            "metadata[referenced_message_external_id]": "SM0",
            "attachments[0]": {"filename": "a.png", "content_type": "image/png", "size": 15},
            "attachments[1]": {"filename": "attachment-2", "content_type": "application/octet-stream", "size": 4, "text": "%PDF"}
        })
    );
    assert_eq!(claims_of(r).sub, "cha_test1");
}

#[tokio::test]
async fn attachment_by_url_is_fetched_then_uploaded() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/media/pic"))
        .respond_with(
            ResponseTemplate::new(200)
                .insert_header("content-type", "image/gif")
                .set_body_bytes(b"GIF89a".to_vec()),
        )
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/media/gone"))
        .respond_with(ResponseTemplate::new(404))
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/channels/cha_test1/inbound_messages"))
        .respond_with(accepted())
        .mount(&server)
        .await;
    let ch = channel(&server, RetryPolicy::none());
    let msg = Message::builder()
        .sender(Contact::new("+15017122661"))
        .idempotency_key("MMS2")
        .attachment(OutboundAttachment::from_url(
            AttachmentKind::Image,
            format!("{}/media/pic", server.uri()),
        ))
        .build();
    ch.send(&msg).await.unwrap();
    let reqs = server.received_requests().await.unwrap();
    assert_eq!(reqs.len(), 2);
    // The media host gets no channel token.
    assert!(reqs[0].headers.get("authorization").is_none());
    let ct = reqs[1].headers["content-type"]
        .to_str()
        .unwrap()
        .to_string();
    let parts = omnichannel_testkit::decode::multipart(&ct, &reqs[1].body).unwrap();
    assert_eq!(
        parts["attachments[0]"],
        json!({"filename": "attachment-1", "content_type": "image/gif", "size": 6, "text": "GIF89a"})
    );
    assert_eq!(parts["body"], "");
    let gone = Message::builder()
        .sender(Contact::new("+15017122661"))
        .idempotency_key("MMS3")
        .attachment(OutboundAttachment::from_url(
            AttachmentKind::Image,
            format!("{}/media/gone", server.uri()),
        ))
        .build();
    assert_eq!(ch.send(&gone).await.unwrap_err().kind(), "invalid_input");
    assert_eq!(server.received_requests().await.unwrap().len(), 3);
}

#[tokio::test]
async fn attachment_over_25_mb_is_refused_without_a_request() {
    let server = MockServer::start().await;
    let ch = channel(&server, RetryPolicy::none());
    let big = vec![0u8; 25 * 1024 * 1024 + 1];
    let msg = Message::builder()
        .sender(Contact::new("+1"))
        .idempotency_key("k")
        .attachment(OutboundAttachment::from_bytes(AttachmentKind::File, &big))
        .build();
    let e = ch.send(&msg).await.unwrap_err();
    assert_eq!(e.kind(), "invalid_input");
    assert!(server.received_requests().await.unwrap().is_empty());
}

#[tokio::test]
async fn rate_limited_with_retry_after() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(
            ResponseTemplate::new(429)
                .insert_header("retry-after", "20")
                .set_body_json(json!({"_error": {"status": 429, "title": "Too many requests", "message": "slow down"}})),
        )
        .mount(&server)
        .await;
    let ch = channel(&server, fast_retry());
    let msg = Message::text("hi")
        .sender(Contact::new("+1"))
        .metadata("external_id", json!("SM1"))
        .build();
    let e = ch.send(&msg).await.unwrap_err();
    assert!(matches!(e, Error::RateLimited { .. }), "{e:?}");
    assert_eq!(e.retry_after(), Some(Duration::from_secs(20)));
    assert!(e.retryable());
    // Unkeyed: exactly one request.
    assert_eq!(server.received_requests().await.unwrap().len(), 1);
    // Keyed, with a retry-after beyond the policy: handed back at once, no second request.
    let keyed = Message::text("hi")
        .sender(Contact::new("+1"))
        .idempotency_key("SM1")
        .build();
    let e = ch.send(&keyed).await.unwrap_err();
    assert_eq!(e.kind(), "rate_limited");
    assert_eq!(server.received_requests().await.unwrap().len(), 2);
}

#[tokio::test]
async fn keyed_send_retries_429_and_5xx_with_fresh_tokens() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(429).insert_header("retry-after", "0"))
        .up_to_n_times(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(503))
        .up_to_n_times(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .respond_with(accepted())
        .mount(&server)
        .await;
    let ch = channel(&server, fast_retry());
    let msg = Message::text("hi")
        .sender(Contact::new("+1"))
        .idempotency_key("SM9")
        .build();
    let receipt = ch.send(&msg).await.unwrap();
    assert_eq!(receipt.message_id, "uid_42");
    let reqs = server.received_requests().await.unwrap();
    assert_eq!(reqs.len(), 3);
    let jtis: std::collections::HashSet<String> = reqs.iter().map(|r| claims_of(r).jti).collect();
    assert_eq!(jtis.len(), 3);
    for r in &reqs {
        assert_eq!(body_json(r), body_json(&reqs[0]));
    }
}

#[tokio::test]
async fn error_body_is_mapped() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(400).set_body_json(json!({"_error": {
            "status": 400, "title": "Bad request", "message": "Body did not satisfy requirements",
            "details": ["body.sender.handle: must be a string"]}})))
        .mount(&server)
        .await;
    let ch = channel(&server, fast_retry());
    let msg = Message::text("hi")
        .sender(Contact::new("+1"))
        .idempotency_key("SM1")
        .build();
    match ch.send(&msg).await.unwrap_err() {
        Error::Provider {
            status,
            code,
            message,
            retryable,
            ..
        } => {
            assert_eq!(status, Some(400));
            assert_eq!(code.as_deref(), Some("Bad request"));
            assert_eq!(
                message,
                "Body did not satisfy requirements: body.sender.handle: must be a string"
            );
            assert!(!retryable);
        }
        e => panic!("{e:?}"),
    }
    // Permanent errors are not retried even when keyed.
    assert_eq!(server.received_requests().await.unwrap().len(), 1);
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(502).set_body_string("<html>bad gateway</html>"))
        .mount(&server)
        .await;
    let ch = channel(&server, RetryPolicy::none());
    let e = ch.send(&msg).await.unwrap_err();
    assert_eq!(e.kind(), "provider_error");
    assert!(e.retryable());
}

#[tokio::test]
async fn mark_failed_and_channel_status() {
    let server = MockServer::start().await;
    Mock::given(method("PUT"))
        .respond_with(ResponseTemplate::new(204))
        .mount(&server)
        .await;
    Mock::given(method("PATCH"))
        .and(path("/channels/cha_test1"))
        .respond_with(ResponseTemplate::new(204))
        .mount(&server)
        .await;
    let ch = channel(&server, RetryPolicy::none());
    ch.api()
        .mark_failed(
            "cha_test1",
            "+13334445555",
            "msg_1-+13334445555",
            Some("carrier rejected"),
        )
        .await
        .unwrap();
    ch.api()
        .set_status("cha_test1", ChannelStatus::Offline)
        .await
        .unwrap();
    let reqs = server.received_requests().await.unwrap();
    assert_eq!(
        reqs[0].url.path(),
        "/channels/cha_test1/conversations/+13334445555/messages/msg_1-+13334445555/status"
    );
    assert_eq!(
        body_json(&reqs[0]),
        json!({"status": "failed", "reason": "carrier rejected"})
    );
    assert_eq!(body_json(&reqs[1]), json!({"status": "offline"}));
    assert_eq!(claims_of(&reqs[1]).sub, "cha_test1");
    // A slash in an id stays inside its segment.
    ch.api()
        .mark_failed("cha_test1", "a/b", "m?1", None)
        .await
        .unwrap();
    let reqs = server.received_requests().await.unwrap();
    assert_eq!(
        reqs[2].url.path(),
        "/channels/cha_test1/conversations/a%2Fb/messages/m%3F1/status"
    );
    assert_eq!(body_json(&reqs[2]), json!({"status": "failed"}));
}

#[tokio::test]
async fn failure_notice_is_a_sync_inbound() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/channels/cha_test1/inbound_messages"))
        .respond_with(accepted())
        .mount(&server)
        .await;
    let ch = channel(&server, RetryPolicy::none());
    let notice = failure_notice_request(
        "+15550001111",
        "SMfailed1",
        Some("30008"),
        Some("Unknown error"),
        "body",
        chrono::DateTime::from_timestamp(1_700_000_000, 0).unwrap(),
    );
    ch.api()
        .sync_inbound("cha_test1", &notice, Idempotency::Idempotent)
        .await
        .unwrap();
    let r = &server.received_requests().await.unwrap()[0];
    assert_eq!(
        body_json(r),
        json!({"sender": {"handle": "+15550001111"},
               "body": "SMS failed to send. Error (30008): Unknown error\nbody",
               "delivered_at": 1700000000,
               "metadata": {"external_id": "SMfailed1", "external_conversation_id": "+15550001111"}})
    );
}

#[tokio::test]
async fn download_with_channel_jwt_only_to_front() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/messages/msg_1/download/fil_1"))
        .respond_with(
            ResponseTemplate::new(200)
                .insert_header("content-type", "image/png")
                .set_body_bytes(b"PNGDATA".to_vec()),
        )
        .mount(&server)
        .await;
    let ch = channel(&server, RetryPolicy::none());
    let url = format!("{}/messages/msg_1/download/fil_1", server.uri());
    let d = ch.api().download("cha_test1", &url, 1024).await.unwrap();
    assert_eq!(&d.data[..], b"PNGDATA");
    assert_eq!(d.content_type.as_deref(), Some("image/png"));
    let r = &server.received_requests().await.unwrap()[0];
    assert_eq!(claims_of(r).sub, "cha_test1");
    // Too large for the limit.
    let e = ch.api().download("cha_test1", &url, 3).await.unwrap_err();
    assert_eq!(e.kind(), "provider_error");
    // The token never goes to another host.
    let e = ch
        .api()
        .download("cha_test1", "https://evil.example.test/x", 1024)
        .await
        .unwrap_err();
    assert_eq!(e.kind(), "invalid_input");
    assert_eq!(server.received_requests().await.unwrap().len(), 2);
}

#[tokio::test]
async fn empty_accepted_answer_names_the_message_by_external_id() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(202))
        .mount(&server)
        .await;
    let ch = channel(&server, RetryPolicy::none());
    let msg = Message::text("hi")
        .sender(Contact::new("+1"))
        .idempotency_key("SMx")
        .build();
    let r = ch.send(&msg).await.unwrap();
    assert_eq!(r.message_id, "SMx");
    assert_eq!(r.raw, None);
}

#[tokio::test]
async fn capabilities_refuse_before_any_request() {
    let server = MockServer::start().await;
    let ch = channel(&server, RetryPolicy::none());
    let empty = Message::builder()
        .sender(Contact::new("+1"))
        .idempotency_key("k")
        .build();
    assert_eq!(
        ch.send(&empty).await.unwrap_err().kind(),
        "unsupported_content"
    );
    let embed = Message::text("x")
        .sender(Contact::new("+1"))
        .idempotency_key("k")
        .attachment(OutboundAttachment::from_url(
            AttachmentKind::Embed,
            "https://x.test",
        ))
        .build();
    assert_eq!(
        ch.send(&embed).await.unwrap_err().kind(),
        "unsupported_content"
    );
    let no_channel = {
        let cfg = FrontConfig::builder(UID, SigningKeys::new(SECRET))
            .api_base_url(server.uri())
            .build()
            .unwrap();
        FrontChannel::new(cfg, &ChannelEnv::default()).unwrap()
    };
    let m = Message::text("x")
        .sender(Contact::new("+1"))
        .idempotency_key("k")
        .build();
    assert_eq!(
        no_channel.send(&m).await.unwrap_err().kind(),
        "invalid_input"
    );
    assert!(server.received_requests().await.unwrap().is_empty());
}
