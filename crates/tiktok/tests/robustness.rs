//! No input panics: arbitrary bodies, headers and inner documents; every signed body verifies
//! and any changed byte does not.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use chrono::DateTime;
use omnichannel_core::{SigningKeys, VerifyError};
use omnichannel_tiktok::webhook;
use proptest::prelude::*;

fn keys() -> SigningKeys {
    SigningKeys::new("test-secret-not-real")
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn parse_never_panics(body in proptest::collection::vec(any::<u8>(), 0..512)) {
        let _ = webhook::parse(&body);
    }

    #[test]
    fn inner_content_never_panics(event in prop::sample::select(vec!["im_receive_msg", "im_send_msg", "im_mark_read_msg", "x"]),
                                  content in ".{0,200}") {
        let body = serde_json::json!({"event": event, "user_openid": "b", "content": content}).to_string();
        if let Err(e) = webhook::parse(body.as_bytes()) {
            prop_assert_eq!(e.kind(), "malformed_payload");
        }
    }

    #[test]
    fn header_parsing_never_panics(h in ".{0,300}") {
        let _ = webhook::parse_signature_header(&h);
    }

    #[test]
    fn signed_bodies_verify_and_changed_ones_do_not(body in proptest::collection::vec(any::<u8>(), 1..256),
                                                    flip in any::<prop::sample::Index>()) {
        let at = DateTime::from_timestamp(1_700_000_000, 0).unwrap();
        let mut req = webhook::sign_request(&keys(), "https://h.test/", body.clone(), at).unwrap();
        let tol = Duration::from_secs(300);
        prop_assert!(webhook::verify_request(&keys(), tol, 1024, &req, at).is_ok());
        let mut changed = body;
        let i = flip.index(changed.len());
        changed[i] ^= 0x01;
        req.body = changed.into();
        prop_assert_eq!(
            webhook::verify_request(&keys(), tol, 1024, &req, at).unwrap_err(),
            VerifyError::SignatureMismatch
        );
    }
}
