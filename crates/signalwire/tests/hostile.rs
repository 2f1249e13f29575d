//! Hostile input (issue 11): any key, any parameters and any raw body round-trip through the
//! channel; every listed key verifies and the first one signs; a changed byte of a raw body
//! (hex scheme), of a form body (decoded parameters differ) or of the header, or another key,
//! fails; missing, doubled, empty, non-ASCII and huge headers each fail with their own kind;
//! the form parser answers any signed bytes; parameter, media and body limits hold at and just
//! over; error texts carry no secret, expected signature or body. `robustness.rs` covers
//! tampered parameters and unsigned inputs.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use omnichannel_testkit::hostile::{
    HeaderShape as Shape, MARKER, Refusals, header_shape as shape, marked_variants,
};
use std::sync::{Arc, LazyLock};

use bytes::Bytes;
use http::HeaderValue;
use omnichannel_core::config::DEFAULT_MAX_BODY_BYTES;
use omnichannel_core::signature::{self, Algorithm};
use omnichannel_core::{Channel, ChannelEnv, ChannelFactory, SigningKeys, WebhookRequest};
use omnichannel_signalwire::webhook::{self, SIGNATURE_HEADER};
use omnichannel_signalwire::{Factory, SignalwireConfig};
use proptest::prelude::*;
use serde_json::json;

const URL: &str = "https://hooks.example.com/signalwire/sms";
const KEY: &str = "PSK_hostile-test-key-not-real";

static ENV: LazyLock<ChannelEnv> = LazyLock::new(ChannelEnv::default);

fn channel_with(secrets: &[String], extra: serde_json::Value) -> Arc<dyn Channel> {
    let mut cfg = json!({"signing_key": secrets});
    if let (Some(c), Some(e)) = (cfg.as_object_mut(), extra.as_object()) {
        c.extend(e.clone());
    }
    Factory.build(&cfg, &ENV).unwrap()
}

fn channel(secrets: &[String]) -> Arc<dyn Channel> {
    channel_with(secrets, json!({}))
}

fn block<F: std::future::Future>(f: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap()
        .block_on(f)
}

/// The SDKs' scheme: hex HMAC-SHA1 over URL + raw body.
fn hex_signed(keys: &SigningKeys, body: &[u8], content_type: &'static str) -> WebhookRequest {
    let sig = signature::sign_hex(Algorithm::Sha1, keys, &[URL.as_bytes(), body]);
    let mut req = webhook::sign_request(keys, URL, &[]);
    req.headers
        .insert(SIGNATURE_HEADER, HeaderValue::from_str(&sig).unwrap());
    req.headers.insert(
        http::header::CONTENT_TYPE,
        HeaderValue::from_static(content_type),
    );
    req.body = Bytes::copy_from_slice(body);
    req
}

/// A raw form body signed over its decoded parameters (when it decodes).
fn form_signed(keys: &SigningKeys, body: &[u8]) -> Option<WebhookRequest> {
    let params = webhook::decode_form(body, 10_000).ok()?;
    let sig = webhook::compute_signature(keys, URL, &params);
    let mut req = webhook::sign_request(keys, URL, &[]);
    req.headers
        .insert(SIGNATURE_HEADER, HeaderValue::from_str(&sig).unwrap());
    req.body = Bytes::copy_from_slice(body);
    Some(req)
}

fn secret() -> impl Strategy<Value = String> {
    "[!-~]{1,48}"
}

fn params() -> impl Strategy<Value = Vec<(String, String)>> {
    prop::collection::vec(("\\PC{1,12}", "\\PC{0,40}"), 0..20)
}

proptest! {

    #[test]
    fn any_listed_key_verifies_and_the_first_signs(
        secrets in prop::collection::vec(secret(), 1..4),
        pick in any::<prop::sample::Index>(),
        p in params(),
        raw in prop::collection::vec(any::<u8>(), 0..2048),
    ) {
        let ch = channel(&secrets);
        let one = SigningKeys::new(secrets[pick.index(secrets.len())].clone());
        let pairs: Vec<(&str, &str)> = p.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        prop_assert!(ch.verify(&webhook::sign_request(&one, URL, &pairs)).is_ok());
        prop_assert!(ch.verify(&hex_signed(&one, &raw, "application/json")).is_ok());
        let all = SigningKeys::from_list(secrets.iter().map(|s| s.clone().into()).collect()).unwrap();
        prop_assert_eq!(
            webhook::compute_signature(&all, URL, &pairs),
            webhook::compute_signature(&SigningKeys::new(secrets[0].clone()), URL, &pairs)
        );
    }

    #[test]
    fn a_changed_byte_or_another_key_fails(
        a in secret(),
        b in secret(),
        body in prop::collection::vec(any::<u8>(), 1..1024),
        at in any::<prop::sample::Index>(),
        xor in 1u8..=255,
    ) {
        let ch = channel(std::slice::from_ref(&a));
        let keys = SigningKeys::new(a.clone());
        let mut changed = body.clone();
        changed[at.index(body.len())] ^= xor;
        // Hex scheme: the raw body is signed, any changed byte fails.
        let mut req = hex_signed(&keys, &body, "application/json");
        req.body = Bytes::from(changed.clone());
        prop_assert_eq!(ch.verify(&req).unwrap_err().kind(), "signature_mismatch");
        // Form scheme: the decoded parameters are signed; a changed byte fails unless it
        // decodes to the same parameters (`+` and a raw space are both a space).
        if let Some(mut req) = form_signed(&keys, &body) {
            req.body = Bytes::from(changed.clone());
            if ch.verify(&req).is_ok() {
                prop_assert_eq!(
                    webhook::decode_form(&body, 10_000).unwrap(),
                    webhook::decode_form(&changed, 10_000).unwrap()
                );
            }
        }
        if a != b {
            let other = SigningKeys::new(b);
            prop_assert_eq!(
                ch.verify(&hex_signed(&other, &body, "application/json")).unwrap_err().kind(),
                "signature_mismatch"
            );
            if let Some(req) = form_signed(&other, &body) {
                prop_assert_eq!(ch.verify(&req).unwrap_err().kind(), "signature_mismatch");
            }
        }
    }

    #[test]
    fn a_changed_header_byte_fails(
        p in params(),
        at in any::<prop::sample::Index>(),
        xor in 1u8..=255,
    ) {
        let ch = channel(&[KEY.to_string()]);
        let pairs: Vec<(&str, &str)> = p.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        let mut req = webhook::sign_request(&SigningKeys::new(KEY), URL, &pairs);
        let mut value = req.headers[SIGNATURE_HEADER].as_bytes().to_vec();
        let i = at.index(value.len());
        value[i] ^= xor;
        let Ok(v) = HeaderValue::from_bytes(&value) else {
            return Ok(());
        };
        req.headers.insert(SIGNATURE_HEADER, v);
        let kind = ch.verify(&req).unwrap_err().kind();
        prop_assert!(matches!(kind, "signature_mismatch" | "malformed_signature"), "{kind}");
    }

    #[test]
    fn hostile_headers_fail_with_their_own_kind(shape in shape(), p in params()) {
        let ch = channel(&[KEY.to_string()]);
        let pairs: Vec<(&str, &str)> = p.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        let mut req = webhook::sign_request(&SigningKeys::new(KEY), URL, &pairs);
        shape.apply(&mut req.headers, SIGNATURE_HEADER, |n| "A".repeat(n));
        let expected = match shape {
            Shape::Missing => "missing_signature",
            Shape::Doubled => "malformed_signature",
            Shape::Empty => "malformed_signature",
            Shape::NonAscii => "malformed_signature",
            Shape::Huge(_) => "malformed_signature",
        };
        let err = block(ch.receive(&req)).unwrap_err();
        prop_assert_eq!(err.kind(), expected);
    }

    #[test]
    fn the_form_parser_answers_any_signed_bytes(
        body in prop::collection::vec(any::<u8>(), 0..2048),
        json_type in any::<bool>(),
    ) {
        let ch = channel(&[KEY.to_string()]);
        let keys = SigningKeys::new(KEY);
        let mut reqs = vec![hex_signed(&keys, &body, if json_type { "application/json" } else { "application/x-www-form-urlencoded" })];
        reqs.extend(form_signed(&keys, &body));
        for req in reqs {
            if let Err(e) = block(ch.receive(&req)) {
                prop_assert_eq!(e.kind(), "malformed_payload", "{}", e);
            }
        }
    }

    #[test]
    fn error_texts_hold_no_secret_signature_or_body(value in "[a-zA-Z0-9 ]{12,200}") {
        let ch = channel(&[KEY.to_string()]);
        let pairs = [("MessageSid", "SM1"), ("Body", value.as_str())];
        let req = webhook::sign_request(&SigningKeys::new("PSK_other-key-not-real"), URL, &pairs);
        let err = block(ch.receive(&req)).unwrap_err();
        let text = format!("{err} {err:?}");
        let expected = webhook::compute_signature(&SigningKeys::new(KEY), URL, &pairs);
        prop_assert_eq!(err.kind(), "signature_mismatch");
        prop_assert!(!text.contains(KEY));
        prop_assert!(!text.contains(&expected));
        prop_assert!(!text.contains(&value));
    }
}

fn sms(extra: &[(String, String)]) -> Vec<(String, String)> {
    let mut p: Vec<(String, String)> = [
        ("MessageSid", "SM00000000000000000000000000000001"),
        ("AccountSid", "AC1"),
        ("From", "+15557654321"),
        ("To", "+15551234567"),
        ("Body", "hi"),
    ]
    .iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    p.extend_from_slice(extra);
    p
}

fn sign(p: &[(String, String)]) -> WebhookRequest {
    let pairs: Vec<(&str, &str)> = p.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    webhook::sign_request(&SigningKeys::new(KEY), URL, &pairs)
}

#[test]
fn parameter_limit_holds_at_the_limit_and_refuses_one_more() {
    let ch = channel_with(&[KEY.to_string()], json!({"max_params": 8}));
    let at: Vec<_> = (0..3).map(|i| (format!("X{i}"), "v".to_string())).collect();
    assert!(block(ch.receive(&sign(&sms(&at)))).is_ok());
    let over: Vec<_> = (0..4).map(|i| (format!("X{i}"), "v".to_string())).collect();
    let err = block(ch.receive(&sign(&sms(&over)))).unwrap_err();
    assert_eq!(err.kind(), "malformed_payload");
    assert!(err.to_string().contains("more than 8 parameters"), "{err}");
    assert_eq!(
        SignalwireConfig::from_settings(&json!({"signing_key": KEY}))
            .unwrap()
            .max_params,
        omnichannel_signalwire::config::DEFAULT_MAX_PARAMS
    );
}

fn media(n: usize) -> Vec<(String, String)> {
    let mut p = vec![("NumMedia".to_string(), n.to_string())];
    for i in 0..n {
        p.push((
            format!("MediaUrl{i}"),
            format!("https://media.example.com/{i}"),
        ));
        p.push((format!("MediaContentType{i}"), "image/jpeg".to_string()));
    }
    p
}

#[test]
fn media_limit_keeps_every_medium_at_the_limit_and_truncates_one_more() {
    let ch = channel_with(&[KEY.to_string()], json!({"max_media": 2}));
    let at = block(ch.receive(&sign(&sms(&media(2))))).unwrap();
    assert_eq!(at.events[0].attachments.len(), 2);
    let over = block(ch.receive(&sign(&sms(&media(3))))).unwrap();
    assert_eq!(over.events[0].attachments.len(), 2);
    // The rest stays in raw.
    let raw = over.events[0].raw.as_ref().unwrap().to_string();
    assert!(raw.contains("https://media.example.com/2"), "{raw}");
}

#[test]
fn body_limit_holds_at_the_limit_and_refuses_one_byte_more() {
    let keys = SigningKeys::new(KEY);
    let ch = channel_with(&[KEY.to_string()], json!({"max_body_bytes": 100}));
    assert!(
        ch.verify(&hex_signed(&keys, &[b' '; 100], "application/json"))
            .is_ok()
    );
    assert_eq!(
        ch.verify(&hex_signed(&keys, &[b' '; 101], "application/json"))
            .unwrap_err()
            .kind(),
        "payload_too_large"
    );
    let ch = channel(&[KEY.to_string()]);
    let body = vec![b' '; DEFAULT_MAX_BODY_BYTES];
    assert!(
        ch.verify(&hex_signed(&keys, &body, "application/json"))
            .is_ok()
    );
    let body = vec![b' '; DEFAULT_MAX_BODY_BYTES + 1];
    assert_eq!(
        ch.verify(&hex_signed(&keys, &body, "application/json"))
            .unwrap_err()
            .kind(),
        "payload_too_large"
    );
}

#[test]
fn deep_json_status_is_refused_not_a_stack_overflow() {
    let keys = SigningKeys::new(KEY);
    let ch = channel(&[KEY.to_string()]);
    let nested = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
    let body = format!(r#"{{"MessageSid":"SM1","MessageStatus":"sent","x":{nested}}}"#);
    let err =
        block(ch.receive(&hex_signed(&keys, body.as_bytes(), "application/json"))).unwrap_err();
    assert_eq!(err.kind(), "malformed_payload");
}

/// Every parameter of an inbound MMS and of a failed status callback, and every node of a JSON
/// status body, replaced by the marker in turn and signed again: a refusal never quotes it.
#[test]
fn refusals_never_quote_the_request() {
    let ch = channel(&[KEY.to_string()]);
    let keys = SigningKeys::new(KEY);
    let mms = sms(&media(2));
    let status: Vec<(String, String)> = [
        ("MessageSid", "SM00000000000000000000000000000005"),
        ("AccountSid", "AC1"),
        ("From", "+15551234567"),
        ("To", "+15557654321"),
        ("MessageStatus", "failed"),
        ("ErrorCode", "30008"),
        ("NumSegments", "1"),
    ]
    .iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    let mut refused = Refusals::default();
    for base in [mms, status] {
        for i in 0..base.len() {
            for value in [
                MARKER.to_string(),
                format!("{MARKER}%"),
                format!("1{MARKER}"),
            ] {
                let mut p = base.clone();
                p[i].1 = value;
                refused.check(block(ch.receive(&sign(&p))), &p[i].0);
            }
        }
    }
    let doc = json!({"AccountSid": "AC1", "From": "+15551234567", "MessageSid": "SM1",
                     "MessageStatus": "delivered", "NumSegments": 1, "To": "+15557654321"});
    for v in marked_variants(&doc) {
        let req = hex_signed(&keys, v.to_string().as_bytes(), "application/json");
        refused.check(block(ch.receive(&req)), "JSON status callback");
    }
    assert!(refused.count() > 10, "only {} refusals", refused.count());
}
