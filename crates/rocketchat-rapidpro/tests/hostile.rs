//! Hostile input (issue 11), on both sides: any secret accepted when listed (rotation) and the
//! first one sent; another secret or a changed byte of `Authorization` refused; missing, doubled,
//! empty, non-ASCII and huge `Authorization` headers each refused with their own kind; arbitrary
//! authorized bodies answered, never a panic; body and attachment limits at and just over; error
//! texts carry no secret and no body content. `robustness.rs` covers truncated and corrupted
//! fixture bodies.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use omnichannel_testkit::hostile::{
    HeaderShape as Shape, MARKER, Refusals, header_shape as shape, marked_variants,
};
use std::sync::{Arc, LazyLock};

use bytes::Bytes;
use chrono::Utc;
use http::{HeaderValue, Method};
use omnichannel_core::config::DEFAULT_MAX_BODY_BYTES;
use omnichannel_core::{Channel, ChannelEnv, ChannelFactory, SecretString, WebhookRequest};
use omnichannel_rocketchat_rapidpro::webhook::{self, Endpoint};
use omnichannel_rocketchat_rapidpro::{RapidproFactory, RocketchatFactory};
use proptest::prelude::*;
use serde_json::{Value, json};

const APP_ID: &str = "684202ed-1461-4983-9ea7-fde74b15026c";
const CALLBACK: &str = "https://rapidpro.example.com/mr/tickets/types/rocketchat/event_callback/6c50665f-b4ff-4e37-9625-bc464fe6a999";
const KEY: &str = "test-secret-not-real";

static ENV: LazyLock<ChannelEnv> = LazyLock::new(|| ChannelEnv {
    // Any call a side makes goes to a closed local port.
    origin_override: Some(url::Url::parse("http://127.0.0.1:9").unwrap()),
    ..ChannelEnv::default()
});

fn base_url() -> String {
    format!("https://my.rocket.chat/api/apps/public/{APP_ID}")
}

/// The RapidPro side (the app's callbacks come in).
fn rocketchat(secrets: &[String], extra: Value) -> Arc<dyn Channel> {
    let mut cfg = json!({"secret": secrets, "base_url": base_url()});
    if let (Some(c), Some(e)) = (cfg.as_object_mut(), extra.as_object()) {
        c.extend(e.clone());
    }
    RocketchatFactory.build(&cfg, &ENV).unwrap()
}

/// The app side (RapidPro's calls come in), with one open room for visitor `10000`.
fn rapidpro(secrets: &[String], extra: Value) -> Arc<dyn Channel> {
    let mut cfg = json!({"secret": secrets, "app_id": APP_ID, "rooms": [{
        "token": "10000", "ticket_id": "59d74b86-3e2f-4a93-aece-b05d2fdcde0c",
        "contact_uuid": "5d76d86b-3bb9-4d5a-b822-c9d86f5d8e4f", "room_id": "uiF7ybjsv7PSJGSw6"}]});
    if let (Some(c), Some(e)) = (cfg.as_object_mut(), extra.as_object()) {
        c.extend(e.clone());
    }
    RapidproFactory.build(&cfg, &ENV).unwrap()
}

fn block<F: std::future::Future>(f: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(f)
}

fn callback(secret: &str, body: impl Into<Bytes>) -> WebhookRequest {
    let mut req = webhook::callback_request(
        CALLBACK,
        &SecretString::from(secret.to_string()),
        &agent_message(0),
    )
    .unwrap();
    req.body = body.into();
    req
}

fn app_call(secret: &str, body: impl Into<Bytes>) -> WebhookRequest {
    webhook::app_request(
        &base_url(),
        Endpoint::VisitorMessage,
        Method::POST,
        &SecretString::from(secret.to_string()),
        body,
    )
    .unwrap()
}

fn agent_message(attachments: usize) -> omnichannel_rocketchat_rapidpro::model::AppWebhook {
    let body = agent_message_body(attachments);
    webhook::parse_callback(&body, usize::MAX).unwrap().0
}

fn agent_message_body(attachments: usize) -> Vec<u8> {
    let files: Vec<Value> = (0..attachments)
        .map(|i| json!({"type": "image/jpg", "url": format!("https://link.to/{i}.jpg")}))
        .collect();
    json!({"type": "agent-message", "ticketID": "e7187099-7d38-4f60-955c-325957214c42",
           "visitor": {"token": "1234"}, "data": {"text": "hi", "attachments": files}})
    .to_string()
    .into_bytes()
}

fn visitor_message_body(attachments: usize) -> Vec<u8> {
    let files: Vec<Value> = (0..attachments)
        .map(|i| json!({"type": "image/jpg", "url": format!("https://link.to/{i}.jpg")}))
        .collect();
    json!({"visitor": {"token": "10000"}, "text": "It's urgent", "attachments": files})
        .to_string()
        .into_bytes()
}

fn secret() -> impl Strategy<Value = String> {
    // The app trims its secret; a listed secret is taken as written on the RapidPro side.
    "[!-~]{1,48}"
}

fn reshape(req: &mut WebhookRequest, shape: &Shape) -> &'static str {
    shape.apply(&mut req.headers, "authorization", |n| "x".repeat(n));
    match shape {
        Shape::Missing => "unauthorized",
        Shape::Doubled => "malformed_signature",
        Shape::Empty => "unauthorized",
        Shape::NonAscii => "malformed_signature",
        Shape::Huge(_) => "unauthorized",
    }
}

proptest! {

    #[test]
    fn any_listed_secret_is_accepted_and_the_first_is_sent(
        secrets in prop::collection::vec(secret(), 1..4),
        pick in any::<prop::sample::Index>(),
    ) {
        let one = &secrets[pick.index(secrets.len())];
        let rc = rocketchat(&secrets, json!({}));
        prop_assert!(rc.verify(&callback(one, agent_message_body(1))).is_ok());
        let rp = rapidpro(&secrets, json!({}));
        let out = block(rp.receive(&app_call(one, visitor_message_body(1)))).unwrap();
        prop_assert_eq!(out.reply.status, 201);
        // What each side sends carries the first secret.
        let cfg = json!({"secret": secrets, "base_url": base_url(), "app_id": APP_ID});
        let sim = RocketchatFactory.simulate(&cfg, "agent-message", CALLBACK, Utc::now()).unwrap();
        prop_assert_eq!(sim.headers["authorization"].to_str().unwrap(), format!("Token {}", secrets[0]));
        let sim = RapidproFactory.simulate(&cfg, "secret.check", &base_url(), Utc::now()).unwrap();
        prop_assert_eq!(sim.headers["authorization"].to_str().unwrap(), format!("Token {}", secrets[0]));
    }

    #[test]
    fn another_secret_or_a_changed_byte_is_refused(
        a in secret(),
        b in secret(),
        at in any::<prop::sample::Index>(),
        xor in 1u8..=255,
    ) {
        let rc = rocketchat(std::slice::from_ref(&a), json!({}));
        let rp = rapidpro(std::slice::from_ref(&a), json!({}));
        if a != b {
            prop_assert_eq!(rc.verify(&callback(&b, agent_message_body(0))).unwrap_err().kind(), "unauthorized");
            prop_assert_eq!(
                block(rp.receive(&app_call(&b, visitor_message_body(0)))).unwrap_err().kind(),
                "unauthorized"
            );
        }
        for mut req in [callback(&a, agent_message_body(0)), app_call(&a, visitor_message_body(0))] {
            let mut value = req.headers["authorization"].as_bytes().to_vec();
            let i = at.index(value.len());
            value[i] ^= xor;
            let Ok(v) = HeaderValue::from_bytes(&value) else {
                continue;
            };
            // The app trims its secret, not the header: a changed byte is never the same value.
            req.headers.insert(http::header::AUTHORIZATION, v);
            let rapidpro_side = req.url.starts_with("https://rapidpro");
            let kind = if rapidpro_side {
                block(rc.receive(&req)).unwrap_err().kind()
            } else {
                block(rp.receive(&req)).unwrap_err().kind()
            };
            prop_assert!(matches!(kind, "unauthorized" | "malformed_signature"), "{kind}");
        }
    }

    #[test]
    fn hostile_authorization_headers_are_refused_with_their_own_kind(shape in shape()) {
        let rc = rocketchat(&[KEY.to_string()], json!({}));
        let mut req = callback(KEY, agent_message_body(1));
        let expected = reshape(&mut req, &shape);
        prop_assert_eq!(block(rc.receive(&req)).unwrap_err().kind(), expected);

        let rp = rapidpro(&[KEY.to_string()], json!({}));
        let mut req = app_call(KEY, visitor_message_body(1));
        let expected = reshape(&mut req, &shape);
        prop_assert_eq!(block(rp.receive(&req)).unwrap_err().kind(), expected);
    }

    #[test]
    fn arbitrary_authorized_bodies_are_answered(
        body in prop::collection::vec(any::<u8>(), 0..1024),
        endpoint in prop::sample::select(vec![
            Endpoint::SecretCheck, Endpoint::Settings, Endpoint::Room,
            Endpoint::RoomClose, Endpoint::VisitorMessage,
        ]),
        method in prop::sample::select(vec![Method::GET, Method::POST, Method::PUT, Method::DELETE]),
    ) {
        let rc = rocketchat(&[KEY.to_string()], json!({}));
        if let Err(e) = block(rc.receive(&callback(KEY, body.clone()))) {
            prop_assert!(matches!(e.kind(), "malformed_payload" | "payload_too_large"), "{e}");
        }
        let rp = rapidpro(&[KEY.to_string()], json!({}));
        let req = webhook::app_request(&base_url(), endpoint, method, &SecretString::from(KEY), body).unwrap();
        if let Err(e) = block(rp.receive(&req)) {
            prop_assert!(matches!(e.kind(), "malformed_payload" | "payload_too_large"), "{e}");
            let _ = rp.reject_reply(&e);
        }
    }

    #[test]
    fn error_texts_hold_no_secret_and_no_body_content(
        place in 0usize..6,
    ) {
        // The marker where another type is expected, so the parsers refuse it.
        let bodies = [
            json!({"type": MARKER, "ticketID": "t"}),
            json!({"type": "agent-message", "ticketID": "t", "data": {"text": [MARKER]}}),
            json!({"type": "agent-message", "ticketID": "t", "data": {"attachments": MARKER}}),
            json!({"type": "agent-message", "ticketID": "t", "data": {"attachments": [{"type": [MARKER], "url": 1}]}}),
            json!({"type": "agent-message", "ticketID": {"x": MARKER}}),
            json!({"type": "agent-message", "ticketID": "t", "data": MARKER}),
        ];
        let rc = rocketchat(&[KEY.to_string()], json!({}));
        let e = block(rc.receive(&callback(KEY, bodies[place].to_string()))).unwrap_err();
        let text = format!("{e} {e:?}");
        prop_assert!(!text.contains(MARKER), "{text}");
        prop_assert!(!text.contains(KEY), "{text}");
        let reply = rc.reject_reply(&e);
        prop_assert!(!String::from_utf8_lossy(&reply.body).contains(MARKER));
    }
}

#[test]
fn attachment_limits_hold_at_the_limit_and_refuse_one_more() {
    let rc = rocketchat(&[KEY.to_string()], json!({"max_attachments": 3}));
    assert!(block(rc.receive(&callback(KEY, agent_message_body(3)))).is_ok());
    let e = block(rc.receive(&callback(KEY, agent_message_body(4)))).unwrap_err();
    assert_eq!(e.kind(), "malformed_payload");

    let rp = rapidpro(&[KEY.to_string()], json!({"max_attachments": 3}));
    let out = block(rp.receive(&app_call(KEY, visitor_message_body(3)))).unwrap();
    assert_eq!(out.events[0].attachments.len(), 3);
    let e = block(rp.receive(&app_call(KEY, visitor_message_body(4)))).unwrap_err();
    assert_eq!(e.kind(), "malformed_payload");
}

#[test]
fn body_limits_hold_at_the_limit_and_refuse_one_byte_more() {
    let pad = |mut b: Vec<u8>, n: usize| {
        b.resize(n, b' ');
        b
    };
    for limit in [200usize, DEFAULT_MAX_BODY_BYTES] {
        let extra = if limit == DEFAULT_MAX_BODY_BYTES {
            json!({})
        } else {
            json!({"max_body_bytes": limit})
        };
        let rc = rocketchat(&[KEY.to_string()], extra.clone());
        assert!(block(rc.receive(&callback(KEY, pad(agent_message_body(1), limit)))).is_ok());
        let e =
            block(rc.receive(&callback(KEY, pad(agent_message_body(1), limit + 1)))).unwrap_err();
        assert_eq!(e.kind(), "payload_too_large");

        let rp = rapidpro(&[KEY.to_string()], extra);
        assert!(block(rp.receive(&app_call(KEY, pad(visitor_message_body(1), limit)))).is_ok());
        let e =
            block(rp.receive(&app_call(KEY, pad(visitor_message_body(1), limit + 1)))).unwrap_err();
        assert_eq!(e.kind(), "payload_too_large");
    }
}

#[test]
fn deep_json_is_refused_not_a_stack_overflow() {
    let nested = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
    let rc = rocketchat(&[KEY.to_string()], json!({}));
    let body = format!(r#"{{"type":"agent-message","ticketID":"t","data":{nested}}}"#);
    assert_eq!(
        block(rc.receive(&callback(KEY, body.clone())))
            .unwrap_err()
            .kind(),
        "malformed_payload"
    );
    let rp = rapidpro(&[KEY.to_string()], json!({}));
    assert_eq!(
        block(rp.receive(&app_call(KEY, body))).unwrap_err().kind(),
        "malformed_payload"
    );
}

/// Every node of every endpoint's body (RapidPro side) and of the app's callbacks replaced by
/// the marker in turn: a refusal never quotes it.
#[test]
fn refusals_never_quote_the_body_on_either_side() {
    let room = json!({"ticketID": "59d74b86-3e2f-4a93-aece-b05d2fdcde0c", "priority": "high",
        "visitor": {"token": "20000", "contactUUID": "5d76d86b-3bb9-4d5a-b822-c9d86f5d8e4f",
                    "department": "d", "name": "Ryan", "email": "foo@bar.com", "phone": "+1202"}});
    let settings = json!({"webhook": {"url": CALLBACK}});
    let close = json!({"visitor": {"token": "10000"}});
    let visitor: Value = serde_json::from_slice(&visitor_message_body(2)).unwrap();
    let mut refused = Refusals::default();
    for (endpoint, method, doc) in [
        (Endpoint::Room, Method::GET, room),
        (Endpoint::Settings, Method::PUT, settings),
        (Endpoint::RoomClose, Method::GET, close),
        (Endpoint::VisitorMessage, Method::POST, visitor),
    ] {
        for v in marked_variants(&doc) {
            let rp = rapidpro(&[KEY.to_string()], json!({}));
            let req = webhook::app_request(
                &base_url(),
                endpoint,
                method.clone(),
                &SecretString::from(KEY),
                v.to_string(),
            )
            .unwrap();
            refused.check(block(rp.receive(&req)), &format!("{endpoint:?}"));
        }
    }
    let rc = rocketchat(&[KEY.to_string()], json!({}));
    let agent: Value = serde_json::from_slice(&agent_message_body(2)).unwrap();
    for v in marked_variants(&agent) {
        refused.check(
            block(rc.receive(&callback(KEY, v.to_string()))),
            "agent-message",
        );
    }
    assert!(refused.count() > 20, "only {} refusals", refused.count());
}
