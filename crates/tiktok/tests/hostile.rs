//! Hostile input (issue 11), through the channel as a host builds it from settings: any key and
//! any body round-trip; every listed key verifies and the first one signs; a changed byte of the
//! body or of the header, or another key, fails; missing, doubled, empty, non-ASCII and huge
//! headers each fail with their own kind; limits hold at and just over; error texts carry no
//! secret, expected signature or body. `robustness.rs` covers the parser on raw bytes.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use omnichannel_testkit::hostile::{HeaderShape as Shape, header_shape as shape, marked_variants};
use std::sync::{Arc, LazyLock};

use chrono::DateTime;
use http::HeaderValue;
use omnichannel_core::config::DEFAULT_MAX_BODY_BYTES;
use omnichannel_core::{Channel, ChannelEnv, ChannelFactory, FixedClock, SigningKeys};
use omnichannel_tiktok::{Factory, TiktokConfig, webhook};
use proptest::prelude::*;
use serde_json::json;

const NOW: i64 = 1_700_000_000;

static ENV: LazyLock<ChannelEnv> = LazyLock::new(|| ChannelEnv {
    clock: Arc::new(FixedClock::at_unix(NOW)),
    ..ChannelEnv::default()
});

fn channel(secrets: &[String], max_body: Option<usize>) -> Arc<dyn Channel> {
    let mut cfg = json!({"app_id": "test-app-id", "app_secret": secrets});
    if let Some(n) = max_body {
        cfg["max_body_bytes"] = json!(n);
    }
    Factory.build(&cfg, &ENV).unwrap()
}

fn signed(keys: &SigningKeys, body: &[u8]) -> omnichannel_core::WebhookRequest {
    webhook::sign_request(
        keys,
        "https://h.test/webhooks/tiktok",
        body.to_vec(),
        DateTime::from_timestamp(NOW, 0).unwrap(),
    )
    .unwrap()
}

fn secret() -> impl Strategy<Value = String> {
    "[!-~]{1,48}"
}

proptest! {

    #[test]
    fn any_listed_key_verifies_and_the_first_signs(
        secrets in prop::collection::vec(secret(), 1..4),
        pick in any::<prop::sample::Index>(),
        body in prop::collection::vec(any::<u8>(), 0..4096),
    ) {
        let ch = channel(&secrets, None);
        let one = SigningKeys::new(secrets[pick.index(secrets.len())].clone());
        prop_assert!(ch.verify(&signed(&one, &body)).is_ok());
        let all = SigningKeys::from_list(secrets.iter().map(|s| s.clone().into()).collect()).unwrap();
        prop_assert_eq!(
            webhook::sign(&all, NOW, &body),
            webhook::sign(&SigningKeys::new(secrets[0].clone()), NOW, &body)
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
        let ch = channel(std::slice::from_ref(&a), None);
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
        at in any::<prop::sample::Index>(),
        xor in 1u8..=255,
    ) {
        let key = "test-secret-not-real".to_string();
        let ch = channel(std::slice::from_ref(&key), None);
        let mut req = signed(&SigningKeys::new(key), &body);
        let mut value = req.headers[webhook::SIGNATURE_HEADER].as_bytes().to_vec();
        let i = at.index(value.len());
        let before = value[i];
        value[i] ^= xor;
        // Hex is read in either case: a case change of a hex letter is the same signature.
        prop_assume!(!(before.is_ascii_hexdigit() && value[i].eq_ignore_ascii_case(&before)));
        let Ok(v) = HeaderValue::from_bytes(&value) else {
            return Ok(());
        };
        req.headers.insert(webhook::SIGNATURE_HEADER, v);
        let kind = ch.verify(&req).unwrap_err().kind();
        prop_assert!(
            matches!(kind, "signature_mismatch" | "malformed_signature" | "stale_timestamp"),
            "{kind}"
        );
    }

    #[test]
    fn hostile_headers_fail_with_their_own_kind(
        shape in shape(),
        body in prop::collection::vec(any::<u8>(), 0..256),
    ) {
        let key = "test-secret-not-real".to_string();
        let ch = channel(std::slice::from_ref(&key), None);
        let mut req = signed(&SigningKeys::new(key), &body);
        shape.apply(&mut req.headers, webhook::SIGNATURE_HEADER, |n| format!(",{}", "x".repeat(n)));
        let expected = match shape {
            Shape::Missing => "missing_signature",
            Shape::Doubled => "malformed_signature",
            Shape::Empty => "malformed_signature",
            Shape::NonAscii => "malformed_signature",
            Shape::Huge(_) => "malformed_signature",
        };
        let err = futures_lite(ch.receive(&req)).unwrap_err();
        prop_assert_eq!(err.kind(), expected);
    }

    #[test]
    fn error_texts_hold_no_secret_signature_or_body(
        body in "[a-zA-Z0-9 {}\":,]{12,300}",
        skew in prop_oneof![Just(0i64), 301i64..100_000, -100_000i64..-301],
    ) {
        let key = "test-secret-not-real".to_string();
        let ch = channel(std::slice::from_ref(&key), None);
        let keys = SigningKeys::new(key.clone());
        // Signed with another key (mismatch), or at a time outside the window (stale).
        let req = if skew == 0 {
            signed(&SigningKeys::new("other-secret-not-real"), body.as_bytes())
        } else {
            webhook::sign_request(&keys, "https://h.test/", body.clone(),
                DateTime::from_timestamp(NOW + skew, 0).unwrap()).unwrap()
        };
        let err = futures_lite(ch.receive(&req)).unwrap_err();
        let text = format!("{err} {err:?}");
        let expected = webhook::sign(&keys, NOW, body.as_bytes());
        let expected_hex = expected.rsplit_once("s=").unwrap().1;
        prop_assert!(!text.contains(&key));
        prop_assert!(!text.contains(expected_hex));
        prop_assert!(!text.contains(&body));
        prop_assert_eq!(err.kind(), if skew == 0 { "signature_mismatch" } else { "stale_timestamp" });
    }
}

/// Polls a future that never waits on I/O (verification and parsing only).
fn futures_lite<F: std::future::Future>(f: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap()
        .block_on(f)
}

#[test]
fn body_limit_holds_at_the_limit_and_refuses_one_byte_more() {
    let key = "test-secret-not-real".to_string();
    let keys = SigningKeys::new(key.clone());
    let ch = channel(std::slice::from_ref(&key), Some(100));
    assert!(ch.verify(&signed(&keys, &[b' '; 100])).is_ok());
    let err = ch.verify(&signed(&keys, &[b' '; 101])).unwrap_err();
    assert_eq!(err.kind(), "payload_too_large");
    // The default is the core default (1 MiB), documented on the setting.
    let cfg = TiktokConfig::from_settings(&json!({"app_id": "a", "app_secret": "s"})).unwrap();
    assert_eq!(cfg.max_body_bytes, DEFAULT_MAX_BODY_BYTES);
    let ch = channel(std::slice::from_ref(&key), None);
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
fn signature_header_length_limit_holds_at_1024_and_refuses_more() {
    let keys = SigningKeys::new("test-secret-not-real");
    let good = webhook::sign(&keys, NOW, b"{}");
    // At 1024 characters the header is read (the padding is an unknown part, skipped); at 1025
    // it is refused for its length before any parsing.
    let at_limit = format!("{good},k={}", "x".repeat(1024 - good.len() - 3));
    assert_eq!(at_limit.len(), 1024);
    assert!(webhook::parse_signature_header(&at_limit).is_ok());
    let over = format!("{at_limit}x");
    assert_eq!(
        webhook::parse_signature_header(&over).unwrap_err(),
        omnichannel_core::VerifyError::MalformedHeader {
            header: webhook::SIGNATURE_HEADER,
            reason: "header too long"
        }
    );
}

#[test]
fn deep_json_is_refused_not_a_stack_overflow() {
    let key = "test-secret-not-real".to_string();
    let keys = SigningKeys::new(key.clone());
    let ch = channel(std::slice::from_ref(&key), None);
    for (depth, ok) in [(100usize, true), (100_000, false)] {
        let nested = format!("{}{}", "[".repeat(depth), "]".repeat(depth));
        // Deep in the envelope, and deep inside the double-encoded `content`.
        let outer = format!(
            r#"{{"event":"im_receive_msg","user_openid":"b","extra":{nested},"content":"{{\"conversation_id\":\"c\"}}"}}"#
        );
        let r = futures_lite(ch.receive(&signed(&keys, outer.as_bytes())));
        if !ok {
            assert_eq!(r.unwrap_err().kind(), "malformed_payload");
        }
        let content = serde_json::to_string(&format!(r#"{{"x":{nested}}}"#)).unwrap();
        let inner =
            format!(r#"{{"event":"im_receive_msg","user_openid":"b","content":{content}}}"#);
        if let Err(e) = futures_lite(ch.receive(&signed(&keys, inner.as_bytes()))) {
            assert_eq!(e.kind(), "malformed_payload");
        }
    }
}

/// Every positive inbound fixture, with the marker put at each node of its body and of its
/// double-encoded `content` in turn, signed again: a refusal never quotes the body.
#[test]
fn refusals_never_quote_the_body() {
    use omnichannel_testkit::hostile::{Refusals, accepted_json_fixtures};
    use omnichannel_testkit::workspace_fixtures;
    let dir = workspace_fixtures(env!("CARGO_MANIFEST_DIR")).join("tiktok");
    let mut refused = Refusals::default();
    for fx in accepted_json_fixtures(&dir).unwrap() {
        let env = ChannelEnv {
            clock: Arc::new(FixedClock::new(fx.now)),
            ..ENV.clone()
        };
        let ch = Factory.build(&fx.config, &env).unwrap();
        let keys = TiktokConfig::from_settings(&fx.config).unwrap().app_secret;
        for v in marked_variants(&fx.doc) {
            let signed =
                webhook::sign_request(&keys, &fx.request.url, v.to_string(), fx.now).unwrap();
            refused.check(
                futures_lite(ch.receive(&signed)),
                &fx.path.display().to_string(),
            );
        }
    }
    assert!(refused.count() > 20, "only {} refusals", refused.count());
}
