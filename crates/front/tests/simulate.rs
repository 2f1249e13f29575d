//! `Factory::simulate` produces correctly signed sample requests the channel accepts, and the
//! typed events implement the core `InboundEvent`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;

use omnichannel_core::{ChannelEnv, ChannelFactory, EventKind, FixedClock, InboundEvent};
use omnichannel_front::{Factory, FrontChannel, FrontConfig, FrontEvent};

#[tokio::test]
async fn every_sample_event_verifies_and_parses() {
    let now = chrono::DateTime::from_timestamp(1_704_067_200, 0).unwrap();
    let env = ChannelEnv {
        clock: Arc::new(FixedClock::new(now)),
        ..ChannelEnv::default()
    };
    let config = Factory.demo_config();
    let channel = Factory.build(&config, &env).unwrap();
    let typed = FrontChannel::new(FrontConfig::from_settings(&config).unwrap(), &env).unwrap();
    let names = Factory.sample_events();
    assert_eq!(names.len(), 6);
    for name in names {
        let req = Factory
            .simulate(&config, name, "http://127.0.0.1:8080/webhooks/front", now)
            .unwrap();
        let inbound = channel
            .receive(&req)
            .await
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(inbound.reply.status, 200, "{name}");
        assert_eq!(inbound.events.len(), 1, "{name}");
        let expected = match name {
            "authorization" => EventKind::ChannelAuthorized,
            "message" | "message_autoreply" => EventKind::Message,
            "message_imported" => EventKind::Other,
            _ => EventKind::ChannelRemoved,
        };
        assert_eq!(inbound.events[0].kind, expected, "{name}");
        let (events, _) = typed.receive_typed(&req).unwrap();
        assert_eq!(events[0].id(), inbound.events[0].id, "{name}");
        assert_eq!(events[0].kind(), expected);
        assert_eq!(events[0].normalize(), inbound.events[0]);
        if let FrontEvent::Message(m) = &events[0] {
            assert_eq!(events[0].conversation_id().as_deref(), Some("+15550001111"));
            assert_eq!(m.recipient.handle, "+15550001111");
            assert_eq!(events[0].text().as_deref(), Some("Hello from Front"));
            assert_eq!(events[0].occurred_at(), Some(now));
        }
        // A replay ten minutes later is refused.
        let late = Arc::new(FixedClock::new(now + chrono::Duration::minutes(10)));
        let late_env = ChannelEnv {
            clock: late,
            ..ChannelEnv::default()
        };
        let late_channel = Factory.build(&config, &late_env).unwrap();
        assert_eq!(
            late_channel.receive(&req).await.unwrap_err().kind(),
            "stale_timestamp"
        );
    }
    let autoreply = Factory
        .simulate(&config, "message_autoreply", "http://127.0.0.1/x", now)
        .unwrap();
    let inbound = channel.receive(&autoreply).await.unwrap();
    assert_eq!(inbound.events[0].id, "msg_demo0_autoreply-+15550001111");
    assert!(
        Factory
            .simulate(&config, "nope", "http://127.0.0.1/x", now)
            .is_err()
    );
}
