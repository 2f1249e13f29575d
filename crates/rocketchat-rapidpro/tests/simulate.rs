//! `Factory::simulate` produces requests each side's own channel accepts.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use chrono::Utc;
use omnichannel_core::{ChannelEnv, ChannelFactory, EventKind};
use omnichannel_rocketchat_rapidpro::{RapidproFactory, RocketchatFactory, factories};

#[tokio::test]
async fn rocketchat_samples_are_accepted() {
    let f = RocketchatFactory;
    let config = f.demo_config();
    let channel = f.build(&config, &ChannelEnv::default()).unwrap();
    let url = "https://rapidpro.example.com/mr/tickets/types/rocketchat/event_callback/6c50665f-b4ff-4e37-9625-bc464fe6a999";
    let mut kinds = Vec::new();
    for event in f.sample_events() {
        let req = f.simulate(&config, event, url, Utc::now()).unwrap();
        assert_eq!(req.url, url);
        let inbound = channel.receive(&req).await.unwrap();
        assert_eq!(inbound.reply.status, 200, "{event}");
        kinds.push(inbound.events[0].kind);
    }
    assert_eq!(
        kinds,
        [
            EventKind::Message,
            EventKind::Message,
            EventKind::ConversationClosed
        ]
    );
    let e = f.simulate(&config, "nope", url, Utc::now()).unwrap_err();
    assert_eq!(e.kind(), "invalid_input");
}

#[tokio::test]
async fn rapidpro_samples_are_accepted_in_order() {
    let f = RapidproFactory;
    let config = f.demo_config();
    let channel = f.build(&config, &ChannelEnv::default()).unwrap();
    let base = "https://chat.example.com/api/apps/public/684202ed-1461-4983-9ea7-fde74b15026c";
    let mut statuses = Vec::new();
    for event in f.sample_events() {
        let req = f.simulate(&config, event, base, Utc::now()).unwrap();
        assert!(req.url.ends_with(event), "{}", req.url);
        let inbound = channel.receive(&req).await.unwrap();
        statuses.push(inbound.reply.status.as_u16());
    }
    assert_eq!(statuses, [200, 204, 201, 201, 204]);
    let e = f.simulate(&config, "nope", base, Utc::now()).unwrap_err();
    assert_eq!(e.kind(), "invalid_input");
}

#[test]
fn factories_serve_both_providers() {
    let names: Vec<&str> = factories().iter().map(|f| f.provider().as_str()).collect();
    assert_eq!(names, ["rocketchat", "rapidpro"]);
}
