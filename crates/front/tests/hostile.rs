//! Hostile input (issue 11): any key and any body round-trip; every listed key verifies and the
//! first one signs; a changed byte of the body or of either header, or another key, fails;
//! missing, doubled, empty, non-ASCII and huge signature and timestamp headers each fail with
//! their own kind; body, recipient and attachment limits hold at and just over; error texts carry
//! no secret, expected signature or body. `robustness.rs` covers arbitrary JSON and bytes.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use omnichannel_testkit::hostile::{HeaderShape as Shape, header_shape as shape, marked_variants};
use std::sync::{Arc, LazyLock};

use chrono::DateTime;
use http::{HeaderValue, Method};
use omnichannel_core::config::DEFAULT_MAX_BODY_BYTES;
use omnichannel_core::{Channel, ChannelEnv, FixedClock, SigningKeys, WebhookRequest};
use omnichannel_front::webhook::{self, SIGNATURE_HEADER, TIMESTAMP_HEADER};
use omnichannel_front::{FrontChannel, FrontConfig};
use proptest::prelude::*;
use serde_json::json;

const NOW: i64 = 1_704_067_220;

static ENV: LazyLock<ChannelEnv> = LazyLock::new(|| ChannelEnv {
    clock: Arc::new(FixedClock::at_unix(NOW)),
    ..ChannelEnv::default()
});

fn keys_of(secrets: &[String]) -> SigningKeys {
    SigningKeys::from_list(secrets.iter().map(|s| s.clone().into()).collect()).unwrap()
}

fn channel_with(
    secrets: &[String],
    f: impl FnOnce(omnichannel_front::FrontConfigBuilder) -> omnichannel_front::FrontConfigBuilder,
) -> FrontChannel {
    let cfg = f(FrontConfig::builder("test-app-uid", keys_of(secrets)))
        .build()
        .unwrap();
    FrontChannel::new(cfg, &ENV).unwrap()
}

fn channel(secrets: &[String]) -> FrontChannel {
    channel_with(secrets, |b| b)
}

fn signed(keys: &SigningKeys, body: &[u8]) -> WebhookRequest {
    webhook::sign_request(
        keys,
        Method::POST,
        "https://h.test/front",
        DateTime::from_timestamp(NOW, 0).unwrap(),
        body.to_vec(),
    )
}

fn secret() -> impl Strategy<Value = String> {
    "[!-~]{1,48}"
}

fn key() -> String {
    "test-secret-not-real".to_string()
}

proptest! {

    #[test]
    fn any_listed_key_verifies_and_the_first_signs(
        secrets in prop::collection::vec(secret(), 1..4),
        pick in any::<prop::sample::Index>(),
        body in prop::collection::vec(any::<u8>(), 0..4096),
    ) {
        let ch = channel(&secrets);
        let one = SigningKeys::new(secrets[pick.index(secrets.len())].clone());
        prop_assert!(ch.verify(&signed(&one, &body)).is_ok());
        prop_assert_eq!(
            webhook::sign(&keys_of(&secrets), "1704067220000", &body),
            webhook::sign(&SigningKeys::new(secrets[0].clone()), "1704067220000", &body)
        );
    }

    #[test]
    fn a_changed_body_byte_or_another_key_fails(
        a in secret(),
        b in secret(),
        body in prop::collection::vec(any::<u8>(), 1..2048),
        at in any::<prop::sample::Index>(),
        xor in 1u8..=255,
    ) {
        let ch = channel(std::slice::from_ref(&a));
        let mut req = signed(&SigningKeys::new(a.clone()), &body);
        let mut changed = body.clone();
        changed[at.index(body.len())] ^= xor;
        req.body = changed.into();
        prop_assert_eq!(ch.verify(&req).unwrap_err().kind(), "signature_mismatch");
        if a != b {
            let other = signed(&SigningKeys::new(b), &body);
            prop_assert_eq!(ch.verify(&other).unwrap_err().kind(), "signature_mismatch");
        }
    }

    #[test]
    fn a_changed_header_byte_fails(
        body in prop::collection::vec(any::<u8>(), 0..512),
        timestamp_header in any::<bool>(),
        at in any::<prop::sample::Index>(),
        xor in 1u8..=255,
    ) {
        let ch = channel(&[key()]);
        let mut req = signed(&SigningKeys::new(key()), &body);
        let name = if timestamp_header { TIMESTAMP_HEADER } else { SIGNATURE_HEADER };
        let mut value = req.headers[name].as_bytes().to_vec();
        let i = at.index(value.len());
        value[i] ^= xor;
        let Ok(v) = HeaderValue::from_bytes(&value) else {
            return Ok(());
        };
        req.headers.insert(name, v);
        let kind = ch.verify(&req).unwrap_err().kind();
        prop_assert!(
            matches!(kind, "signature_mismatch" | "malformed_signature" | "stale_timestamp"),
            "{kind}"
        );
    }

    #[test]
    fn hostile_headers_fail_with_their_own_kind(
        shape in shape(),
        timestamp_header in any::<bool>(),
        body in prop::collection::vec(any::<u8>(), 0..256),
    ) {
        let ch = channel(&[key()]);
        let mut req = signed(&SigningKeys::new(key()), &body);
        let name = if timestamp_header { TIMESTAMP_HEADER } else { SIGNATURE_HEADER };
        shape.apply(&mut req.headers, name, |n| "A".repeat(n));
        let expected = match shape {
            Shape::Missing => "missing_signature",
            Shape::Doubled => "malformed_signature",
            Shape::Empty => "malformed_signature",
            Shape::NonAscii => "malformed_signature",
            Shape::Huge(_) => "malformed_signature",
        };
        let err = ch.receive_typed(&req).unwrap_err();
        prop_assert_eq!(err.kind(), expected);
    }

    #[test]
    fn error_texts_hold_no_secret_signature_or_body(
        body in "[a-zA-Z0-9 {}\":,]{12,300}",
        skew in prop_oneof![Just(0i64), 301i64..100_000, -100_000i64..-301],
    ) {
        let ch = channel(&[key()]);
        let keys = SigningKeys::new(key());
        let req = if skew == 0 {
            signed(&SigningKeys::new("other-secret-not-real"), body.as_bytes())
        } else {
            webhook::sign_request(&keys, Method::POST, "https://h.test/",
                DateTime::from_timestamp(NOW + skew, 0).unwrap(), body.clone())
        };
        let err = ch.receive_typed(&req).unwrap_err();
        let text = format!("{err} {err:?}");
        let expected = webhook::sign(&keys, &format!("{}000", NOW), body.as_bytes());
        prop_assert!(!text.contains(&key()));
        prop_assert!(!text.contains(&expected));
        prop_assert!(!text.contains(&body));
        prop_assert_eq!(err.kind(), if skew == 0 { "signature_mismatch" } else { "stale_timestamp" });
    }
}

/// A `message` body with `to` recipients and attachments.
fn message(to: usize, attachments: usize) -> Vec<u8> {
    let mut recipients = vec![json!({"handle": "+15550009999", "role": "from"})];
    recipients.extend((0..to).map(|i| json!({"handle": format!("+1555000{i:04}"), "role": "to"})));
    let files: Vec<_> = (0..attachments)
        .map(|i| {
            json!({"id": format!("fil_{i}"), "url": format!("https://api2.frontapp.com/download/fil_{i}"),
                   "filename": "a.txt", "content_type": "text/plain", "size": 1})
        })
        .collect();
    json!({"type": "message", "payload": {
        "id": "msg_1", "type": "custom", "is_inbound": false, "created_at": 1_704_067_210.5,
        "recipients": recipients, "text": "hi", "attachments": files, "metadata": {}
    }})
    .to_string()
    .into_bytes()
}

#[test]
fn recipient_limit_holds_at_the_limit_and_refuses_one_more() {
    let ch = channel_with(&[key()], |b| b.max_recipients(3));
    let keys = SigningKeys::new(key());
    let (events, _) = ch.receive_typed(&signed(&keys, &message(3, 0))).unwrap();
    assert_eq!(events.len(), 3);
    let err = ch
        .receive_typed(&signed(&keys, &message(4, 0)))
        .unwrap_err();
    assert_eq!(err.kind(), "malformed_payload");
    assert!(err.to_string().contains("max_recipients"), "{err}");
}

#[test]
fn attachment_limit_holds_at_the_limit_and_refuses_one_more() {
    let ch = channel_with(&[key()], |b| b.max_attachments(2));
    let keys = SigningKeys::new(key());
    assert!(ch.receive_typed(&signed(&keys, &message(1, 2))).is_ok());
    let err = ch
        .receive_typed(&signed(&keys, &message(1, 3)))
        .unwrap_err();
    assert_eq!(err.kind(), "malformed_payload");
    assert!(err.to_string().contains("max_attachments"), "{err}");
}

#[test]
fn body_limit_holds_at_the_limit_and_refuses_one_byte_more() {
    let keys = SigningKeys::new(key());
    let ch = channel_with(&[key()], |b| b.max_body_bytes(100));
    assert!(ch.verify(&signed(&keys, &[b' '; 100])).is_ok());
    assert_eq!(
        ch.verify(&signed(&keys, &[b' '; 101])).unwrap_err().kind(),
        "payload_too_large"
    );
    let ch = channel(&[key()]);
    assert!(
        ch.verify(&signed(&keys, &vec![b' '; DEFAULT_MAX_BODY_BYTES]))
            .is_ok()
    );
    assert_eq!(
        ch.verify(&signed(&keys, &vec![b' '; DEFAULT_MAX_BODY_BYTES + 1]))
            .unwrap_err()
            .kind(),
        "payload_too_large"
    );
}

#[test]
fn deep_json_is_refused_not_a_stack_overflow() {
    let keys = SigningKeys::new(key());
    let ch = channel(&[key()]);
    let nested = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
    let body = format!(r#"{{"type":"message","payload":{nested}}}"#);
    let err = ch
        .receive_typed(&signed(&keys, body.as_bytes()))
        .unwrap_err();
    assert_eq!(err.kind(), "malformed_payload");
}

/// Every positive inbound fixture, with the marker put at each node of its body in turn, signed
/// again: a refusal never quotes the body.
#[test]
fn refusals_never_quote_the_body() {
    use omnichannel_core::{ChannelFactory, Settings};
    use omnichannel_testkit::hostile::{Refusals, accepted_json_fixtures};
    use omnichannel_testkit::workspace_fixtures;
    let dir = workspace_fixtures(env!("CARGO_MANIFEST_DIR")).join("front");
    let mut refused = Refusals::default();
    for fx in accepted_json_fixtures(&dir).unwrap() {
        let env = ChannelEnv {
            clock: Arc::new(FixedClock::new(fx.now)),
            ..ENV.clone()
        };
        let ch = omnichannel_front::Factory.build(&fx.config, &env).unwrap();
        let keys = Settings::new(&fx.config)
            .unwrap()
            .require_signing_keys("app_secret")
            .unwrap();
        let method = Method::from_bytes(fx.request.method.as_bytes()).unwrap();
        let base = fx.request.to_webhook_request().unwrap();
        for v in marked_variants(&fx.doc) {
            let mut signed = webhook::sign_request(
                &keys,
                method.clone(),
                &fx.request.url,
                fx.now,
                v.to_string(),
            );
            // Keep the fixture's other headers (a bearer token when the config checks one).
            for (k, val) in &base.headers {
                if !signed.headers.contains_key(k) {
                    signed.headers.insert(k.clone(), val.clone());
                }
            }
            let result = tokio::runtime::Builder::new_current_thread()
                .build()
                .unwrap()
                .block_on(ch.receive(&signed));
            refused.check(result, &fx.path.display().to_string());
        }
    }
    assert!(refused.count() > 20, "only {} refusals", refused.count());
}
