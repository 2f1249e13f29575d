//! Inbound through the factory: every sample event is simulated, verified and normalized; typed
//! events expose what the normalized form leaves out.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::Arc;

use chrono::{DateTime, Utc};
use omnichannel_core::{
    ChannelEnv, ChannelFactory, Direction, EventKind, FixedClock, InboundEvent,
};
use omnichannel_tiktok::{Factory, TiktokEvent, webhook};

fn now() -> DateTime<Utc> {
    DateTime::from_timestamp(1_700_000_000, 0).unwrap()
}

fn env() -> ChannelEnv {
    ChannelEnv {
        clock: Arc::new(FixedClock::new(now())),
        ..ChannelEnv::default()
    }
}

#[tokio::test]
async fn every_sample_event_is_accepted_with_an_empty_200() {
    let f = Factory;
    let cfg = f.demo_config();
    let ch = f.build(&cfg, &env()).unwrap();
    let expected = [
        ("text", EventKind::Message),
        ("image", EventKind::Message),
        ("share_post", EventKind::Message),
        ("sticker", EventKind::Message),
        ("reply", EventKind::Message),
        ("read", EventKind::Status),
        ("echo", EventKind::Message),
        ("eu", EventKind::Other),
        ("unknown", EventKind::Other),
    ];
    assert_eq!(f.sample_events().len(), expected.len());
    for (name, kind) in expected {
        assert!(f.sample_events().contains(&name));
        let req = f
            .simulate(&cfg, name, "https://host.test/webhooks/tiktok", now())
            .unwrap();
        let inbound = ch.receive(&req).await.unwrap();
        assert_eq!(inbound.reply.status, 200, "{name}");
        assert!(inbound.reply.body.is_empty(), "{name}");
        assert_eq!(inbound.events.len(), 1, "{name}");
        let e = &inbound.events[0];
        assert_eq!(e.kind, kind, "{name}");
        assert_eq!(e.channel_id.as_deref(), Some("biz-123"), "{name}");
        assert!(e.raw.is_some(), "{name}");
        // Redelivery gives the same id.
        let again = ch.receive(&req).await.unwrap();
        assert_eq!(again.events[0].id, e.id, "{name}");
    }
    assert_eq!(
        f.simulate(&cfg, "nope", "https://h.test", now())
            .unwrap_err()
            .kind(),
        "invalid_input"
    );
    // Signed an hour ago: refused.
    let old = f
        .simulate(
            &cfg,
            "text",
            "https://h.test",
            now() - chrono::Duration::hours(1),
        )
        .unwrap();
    assert_eq!(
        ch.receive(&old).await.unwrap_err().kind(),
        "stale_timestamp"
    );
}

#[test]
fn typed_events_keep_full_fidelity() {
    let body = webhook::sample_body("echo", "app", "biz-123", now()).unwrap();
    let ev = webhook::parse(body.as_bytes()).unwrap();
    let TiktokEvent::Message(m) = &ev else {
        panic!("expected a message")
    };
    assert!(m.echo);
    assert_eq!(m.content.from_user.as_ref().unwrap().id, "biz-123");
    assert_eq!(ev.id(), "tt-msg-123");
    assert_eq!(ev.kind(), EventKind::Message);
    assert_eq!(ev.conversation_id().as_deref(), Some("tt-conv-1"));
    assert_eq!(ev.sender().unwrap().id, "biz-123");
    assert_eq!(ev.text().as_deref(), Some("Hello"));
    assert_eq!(ev.normalize().direction, Some(Direction::Outbound));

    // The business reading its own thread is not a read receipt for the contact's messages.
    let content = r#"{\"conversation_id\":\"c\",\"read\":{\"last_read_timestamp\":1700000000000},\"from_user\":{\"id\":\"biz-123\"}}"#;
    let body =
        format!(r#"{{"event":"im_mark_read_msg","user_openid":"biz-123","content":"{content}"}}"#);
    let ev = webhook::parse(body.as_bytes()).unwrap();
    assert_eq!(ev.kind(), EventKind::Other);
    assert!(ev.normalize().status.is_none());

    // A known type without its object is malformed, not silently empty.
    let body = r#"{"event":"im_receive_msg","content":"{\"conversation_id\":\"c\",\"message_id\":\"m\",\"type\":\"image\"}"}"#;
    assert_eq!(
        webhook::parse(body.as_bytes()).unwrap_err().kind(),
        "malformed_payload"
    );
}
