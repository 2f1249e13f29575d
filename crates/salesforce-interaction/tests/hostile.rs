//! Hostile input (issue 11). Salesforce sends no webhooks to this channel: its input is a decoded
//! platform event (`receive_event`) whose payload field holds a second, JSON-encoded document.
//! Properties: any JSON event, any text or JSON in the payload field, and any HTTP request are
//! answered with a result or a typed error, never a panic; the event size and routing attribute
//! limits hold at and just over; error texts carry no secret and no event content.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::{Arc, LazyLock};

use bytes::Bytes;
use http::{HeaderMap, HeaderValue, Method};
use omnichannel_core::{Channel, ChannelEnv, ChannelFactory, Contact, Message, WebhookRequest};
use omnichannel_salesforce_interaction::config::DEFAULT_MAX_ROUTING_ATTRIBUTES;
use omnichannel_salesforce_interaction::normalize::{InteractionKind, prepare};
use omnichannel_salesforce_interaction::{Factory, SalesforceConfig};
use proptest::prelude::*;
use serde_json::{Value, json};

const PAYLOAD: &str = "my__event__payloadField__c";
const EVENT_TYPE: &str = "my__event__EventType__c";

static ENV: LazyLock<ChannelEnv> = LazyLock::new(ChannelEnv::default);

fn config(extra: Value) -> Value {
    let mut cfg = json!({
        "scrt_url": "https://example.my.salesforce-scrt.com",
        "org_id": "00DRM000000O8Qy",
        "authorization_context": "Partner1_ChannelDefinition1",
        "access_token": "test-access-token-not-real",
        "channel_address": "chan-addr-1",
        "event_fields": {
            "payload": PAYLOAD,
            "event_type": EVENT_TYPE,
            "channel_address": "my__event__chnlAddrIdField__c",
            "recipient": "my__event__recipientField__c"
        }
    });
    if let (Some(c), Some(e)) = (cfg.as_object_mut(), extra.as_object()) {
        c.extend(e.clone());
    }
    cfg
}

fn channel(extra: Value) -> Arc<dyn Channel> {
    Factory.build(&config(extra), &ENV).unwrap()
}

fn block<F: std::future::Future>(f: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap()
        .block_on(f)
}

/// An `Interaction` event whose payload field holds `payload` (Avro union kept or not).
fn event(payload: Value, union: bool) -> Value {
    let wrap = |v: Value| if union { json!({ "string": v }) } else { v };
    json!({
        "replayId": "2278491",
        "payload": {
            "CreatedDate": 1_690_344_475_579i64,
            PAYLOAD: wrap(payload),
            EVENT_TYPE: wrap(json!("Interaction")),
        }
    })
}

fn text_entry(text: &str) -> String {
    json!({
        "conversationIdentifier": "c0ffee00-0000-4000-8000-000000000001",
        "channelAddressIdentifier": "chan-addr-1",
        "recipient": {"appType": "custom", "subject": "u-1", "role": "EndUser"},
        "payload": {
            "identifier": "e-1", "entryType": "Message",
            "entryPayload": {"entryType": "Message", "id": "e-1", "abstractMessage": {
                "messageType": "StaticContentMessage", "id": "e-1",
                "staticContent": {"formatType": "Text", "text": text}}},
            "sender": {"appType": "agent", "subject": "005xx0000012345", "role": "Agent"}
        }
    })
    .to_string()
}

fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<f64>().prop_map(|f| json!(f)),
        "\\PC{0,16}".prop_map(Value::String),
        prop_oneof![
            Just("Interaction"),
            Just("RoutingRequested"),
            Just("Message"),
            Just("TypingStartedIndicator"),
            Just("StaticContentMessage"),
            Just("Text"),
        ]
        .prop_map(|s| Value::String(s.into())),
    ];
    leaf.prop_recursive(5, 64, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            prop::collection::btree_map(
                prop_oneof![
                    Just("string".to_string()),
                    Just("payload".to_string()),
                    Just("entryType".to_string()),
                    Just("entryPayload".to_string()),
                    Just("abstractMessage".to_string()),
                    Just("staticContent".to_string()),
                    Just("attachments".to_string()),
                    Just("recipient".to_string()),
                    Just(PAYLOAD.to_string()),
                    Just(EVENT_TYPE.to_string()),
                    "[a-zA-Z]{1,8}"
                ],
                inner,
                0..6
            )
            .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

fn assert_answered(
    r: omnichannel_core::Result<omnichannel_core::Inbound>,
) -> Result<(), TestCaseError> {
    match r {
        Ok(inbound) => {
            for e in &inbound.events {
                serde_json::to_vec(e).unwrap();
            }
        }
        Err(e) => {
            prop_assert!(
                matches!(e.kind(), "malformed_payload" | "payload_too_large"),
                "{}",
                e
            );
            let text = format!("{e} {e:?}");
            prop_assert!(!text.contains("test-access-token-not-real"));
        }
    }
    Ok(())
}

proptest! {

    #[test]
    fn any_json_event_is_answered(v in json_value()) {
        let ch = channel(json!({}));
        assert_answered(block(ch.receive_event(Arc::new(v.clone()))))?;
        // The same value as the record of an event.
        assert_answered(block(ch.receive_event(Arc::new(json!({"payload": v})))))?;
    }

    #[test]
    fn any_text_in_the_double_encoded_payload_is_answered(s in "\\PC{0,400}", union in any::<bool>()) {
        let ch = channel(json!({}));
        assert_answered(block(ch.receive_event(Arc::new(event(Value::String(s), union)))))?;
    }

    #[test]
    fn any_json_in_the_double_encoded_payload_is_answered(v in json_value(), union in any::<bool>(), as_text in any::<bool>()) {
        let ch = channel(json!({}));
        let payload = if as_text { Value::String(v.to_string()) } else { v };
        assert_answered(block(ch.receive_event(Arc::new(event(payload, union)))))?;
    }

    #[test]
    fn a_changed_byte_of_the_payload_is_answered(text in "\\PC{0,40}", at in any::<prop::sample::Index>(), xor in 1u8..=127) {
        let ch = channel(json!({}));
        let mut bytes = text_entry(&text).into_bytes();
        let i = at.index(bytes.len());
        bytes[i] ^= xor;
        let Ok(s) = String::from_utf8(bytes) else {
            return Ok(());
        };
        assert_answered(block(ch.receive_event(Arc::new(event(Value::String(s), true)))))?;
    }

    #[test]
    fn any_http_request_is_refused_with_invalid_input(
        body in prop::collection::vec(any::<u8>(), 0..512),
        headers in prop::collection::vec(("[a-z-]{1,20}", prop::collection::vec(any::<u8>(), 0..64)), 0..6),
    ) {
        let ch = channel(json!({}));
        let mut map = HeaderMap::new();
        for (k, v) in &headers {
            if let (Ok(n), Ok(v)) = (http::HeaderName::from_bytes(k.as_bytes()), HeaderValue::from_bytes(v)) {
                map.append(n, v);
            }
        }
        let req = WebhookRequest::new(Method::POST, "https://h.test/salesforce", map, Bytes::from(body));
        prop_assert_eq!(ch.verify(&req).unwrap_err().kind(), "malformed_payload");
        prop_assert_eq!(block(ch.receive(&req)).unwrap_err().kind(), "invalid_input");
    }
}

#[test]
fn error_texts_never_quote_the_event() {
    use omnichannel_testkit::hostile::{Refusals, marked_variants};
    let ch = channel(json!({}));
    let entry: Value = serde_json::from_str(&text_entry("hi")).unwrap();
    // The marker where another type or another name is expected, at every node of the entry.
    let mut refused = Refusals::default();
    for e in marked_variants(&entry) {
        for union in [true, false] {
            refused.check(
                block(ch.receive_event(Arc::new(event(Value::String(e.to_string()), union)))),
                &format!("union {union}"),
            );
        }
    }
    assert!(refused.count() > 10, "only {} refusals", refused.count());
}

#[test]
fn event_size_limit_holds_at_the_limit_and_refuses_one_byte_more() {
    let ev = event(Value::String(text_entry("hello")), true);
    let size = omnichannel_salesforce_interaction::webhook::decoded_size(&ev, usize::MAX);
    // The payload field is JSON in a string: its quotes are counted unescaped.
    assert!(size < serde_json::to_vec(&ev).unwrap().len());
    let at = channel(json!({ "max_event_bytes": size }));
    let out = block(at.receive_event(Arc::new(ev.clone()))).unwrap();
    assert_eq!(out.events.len(), 1);
    let over = channel(json!({ "max_event_bytes": size - 1 }));
    let err = block(over.receive_event(Arc::new(ev.clone()))).unwrap_err();
    assert_eq!(err.kind(), "payload_too_large");
    assert!(!err.to_string().contains("hello"), "{err}");
}

#[test]
fn deep_json_in_the_payload_is_refused_not_a_stack_overflow() {
    let ch = channel(json!({}));
    let nested = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
    let err = block(ch.receive_event(Arc::new(event(Value::String(nested), true)))).unwrap_err();
    assert_eq!(err.kind(), "malformed_payload");
}

#[test]
fn routing_attribute_limit_holds_at_the_limit_and_refuses_one_more() {
    let attrs = |n: usize| -> Value {
        Value::Object((0..n).map(|i| (format!("a{i}"), json!("v"))).collect())
    };
    let msg = |n: usize| {
        Message::text("hi")
            .conversation_id("c0ffee00-0000-4000-8000-000000000001")
            .sender(Contact::new("u-1"))
            .metadata("routing_attributes", attrs(n))
            .build()
    };
    let cfg =
        SalesforceConfig::from_settings(&config(json!({ "max_routing_attributes": 3 }))).unwrap();
    let now = chrono::DateTime::from_timestamp(1_719_815_640, 0).unwrap();
    let at = prepare(&msg(3), InteractionKind::Message, &cfg, now).unwrap();
    assert_eq!(at.request.routing_attributes.len(), 3);
    let err = prepare(&msg(4), InteractionKind::Message, &cfg, now).unwrap_err();
    assert_eq!(err.kind(), "invalid_input");
    assert!(err.to_string().contains("at most 3 attributes"), "{err}");
    let default = SalesforceConfig::from_settings(&config(json!({}))).unwrap();
    assert_eq!(
        default.max_routing_attributes,
        DEFAULT_MAX_ROUTING_ATTRIBUTES
    );
    assert!(
        prepare(
            &msg(DEFAULT_MAX_ROUTING_ATTRIBUTES),
            InteractionKind::Message,
            &default,
            now
        )
        .is_ok()
    );
    assert!(
        prepare(
            &msg(DEFAULT_MAX_ROUTING_ATTRIBUTES + 1),
            InteractionKind::Message,
            &default,
            now
        )
        .is_err()
    );
}
