//! No input panics: arbitrary bodies, signed or not, and arbitrary JSON under a valid signature
//! come back as events or typed refusals.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use http::Method;
use omnichannel_core::{Bytes, SigningKeys};
use omnichannel_front::webhook::{self, sign_request};
use omnichannel_front::{FrontChannel, FrontConfig};
use proptest::prelude::*;

static CHANNEL: std::sync::LazyLock<FrontChannel> = std::sync::LazyLock::new(build);

fn channel() -> &'static FrontChannel {
    &CHANNEL
}

fn build() -> FrontChannel {
    let cfg = FrontConfig::builder("uid", SigningKeys::new("test-secret-not-real"))
        .max_recipients(5)
        .max_attachments(5)
        .build()
        .unwrap();
    FrontChannel::new(cfg, &omnichannel_core::ChannelEnv::default()).unwrap()
}

fn json_value() -> impl Strategy<Value = serde_json::Value> {
    let leaf = prop_oneof![
        Just(serde_json::Value::Null),
        any::<bool>().prop_map(serde_json::Value::Bool),
        any::<f64>().prop_map(|f| serde_json::json!(f)),
        "[a-z_+0-9]{0,12}".prop_map(serde_json::Value::String),
        prop_oneof![
            Just("to"),
            Just("from"),
            Just("message"),
            Just("message_autoreply"),
            Just("authorization"),
            Just("delete"),
            Just("message_imported")
        ]
        .prop_map(|s| serde_json::Value::String(s.into())),
    ];
    leaf.prop_recursive(4, 48, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(serde_json::Value::Array),
            prop::collection::btree_map(
                prop_oneof![
                    Just("type".to_string()),
                    Just("payload".to_string()),
                    Just("id".to_string()),
                    Just("recipients".to_string()),
                    Just("handle".to_string()),
                    Just("role".to_string()),
                    Just("channel_id".to_string()),
                    Just("created_at".to_string()),
                    Just("attachments".to_string()),
                    Just("_links".to_string()),
                    Just("metadata".to_string()),
                    "[a-z]{1,6}"
                ],
                inner,
                0..6
            )
            .prop_map(|m| serde_json::Value::Object(m.into_iter().collect())),
        ]
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    #[test]
    fn signed_arbitrary_json_never_panics(v in json_value(), delete in any::<bool>()) {
        let ch = channel();
        let body = serde_json::to_vec(&v).unwrap();
        let method = if delete { Method::DELETE } else { Method::POST };
        let keys = SigningKeys::new("test-secret-not-real");
        let req = sign_request(&keys, method, "https://h.test/front", chrono::Utc::now(), body);
        match ch.receive_typed(&req) {
            Ok((events, reply)) => {
                prop_assert_eq!(reply.status, 200);
                prop_assert!(!events.is_empty());
            }
            Err(e) => prop_assert_eq!(e.kind(), "malformed_payload"),
        }
    }

    #[test]
    fn unsigned_bytes_never_panic(body in prop::collection::vec(any::<u8>(), 0..512), sig in "[A-Za-z0-9+/=]{0,60}", ts in "[0-9]{0,22}") {
        let ch = channel();
        let mut req = sign_request(&SigningKeys::new("x"), Method::POST, "https://h.test/", chrono::Utc::now(), Bytes::from(body));
        req.headers.insert(webhook::SIGNATURE_HEADER, sig.parse().unwrap());
        req.headers.insert(webhook::TIMESTAMP_HEADER, ts.parse().unwrap());
        let e = ch.receive_typed(&req).unwrap_err();
        prop_assert!(matches!(e.kind(), "signature_mismatch" | "malformed_signature" | "stale_timestamp"), "{}", e.kind());
    }
}
