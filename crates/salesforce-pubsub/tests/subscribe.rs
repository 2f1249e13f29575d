//! The subscriber against a local Pub/Sub API server (same proto, tonic, 127.0.0.1).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::collections::HashSet;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use common::*;
use omnichannel_core::{
    Capabilities, Channel, Error, Event, EventKind, Inbound, MemoryDedupStore, OutboundMessage,
    Provider, Result, SendReceipt, VerifyError, WebhookReply, WebhookRequest,
};
use omnichannel_salesforce_pubsub::proto::ReplayPreset;
use omnichannel_salesforce_pubsub::{
    ChannelSink, DecodedEvent, EventMeta, EventSink, MemoryReplayStore, ReplayId, ReplayStore,
    StartAt, Subscriber, SubscriberConfig, handler_fn,
};
use serde_json::json;
use tokio::sync::Notify;

/// Collects events; signals when `target` have arrived; fails chosen events once.
#[derive(Default)]
struct Collect {
    events: Mutex<Vec<DecodedEvent>>,
    target: AtomicUsize,
    done: Notify,
    fail_once: Mutex<HashSet<String>>,
    attempts: AtomicUsize,
    rejected: Mutex<Vec<(String, String)>>,
    refuse_to_skip: bool,
}

impl Collect {
    fn new(target: usize) -> Arc<Self> {
        let c = Collect::default();
        c.target.store(target, Ordering::SeqCst);
        Arc::new(c)
    }
    fn ids(&self) -> Vec<String> {
        self.events
            .lock()
            .unwrap()
            .iter()
            .map(|e| e.meta.event_id.clone())
            .collect()
    }
    fn check_done(&self) {
        let n = self.events.lock().unwrap().len() + self.rejected.lock().unwrap().len();
        if n >= self.target.load(Ordering::SeqCst) {
            self.done.notify_one();
        }
    }
}

#[async_trait]
impl EventSink for Collect {
    async fn deliver(&self, event: &DecodedEvent) -> Result<()> {
        self.attempts.fetch_add(1, Ordering::SeqCst);
        if event.meta.event_id == "refused" {
            return Err(Error::malformed("the host cannot parse this event"));
        }
        if self.fail_once.lock().unwrap().remove(&event.meta.event_id) {
            return Err(Error::Store {
                message: "host queue unavailable".into(),
                source: None,
            });
        }
        self.events.lock().unwrap().push(event.clone());
        self.check_done();
        Ok(())
    }

    async fn rejected(&self, meta: &EventMeta, _raw: &[u8], error: &Error) -> Result<()> {
        if self.refuse_to_skip {
            return Err(Error::invalid_input("event", "host refuses to skip"));
        }
        self.rejected
            .lock()
            .unwrap()
            .push((meta.event_id.clone(), error.kind().to_string()));
        self.check_done();
        Ok(())
    }
}

fn ids(range: std::ops::Range<usize>) -> Vec<String> {
    range.map(|i| format!("evt-{i}")).collect()
}

fn config(url: &str) -> SubscriberConfig {
    SubscriberConfig::new(TOPIC, ORG)
        .endpoint(url)
        .batch_size(10)
        .refill_below(5)
        .backoff(Duration::from_millis(10), Duration::from_millis(50))
}

async fn run_until_done(sub: &Subscriber, sink: &Arc<Collect>) -> Result<()> {
    let s = sink.clone();
    tokio::time::timeout(
        Duration::from_secs(20),
        sub.run_until(async move { s.done.notified().await }),
    )
    .await
    .expect("the subscriber did not finish in time")
}

#[tokio::test]
async fn events_arrive_in_order_decoded_from_avro() {
    let mock = Mock::new();
    mock.publish(25);
    mock.script.lock().unwrap().per_response = 3;
    let url = mock.serve().await;
    let (tokens, src) = tokens();
    let sink = Collect::new(25);
    let replay = Arc::new(MemoryReplayStore::new());
    let sub = Subscriber::builder(config(&url).start(StartAt::Earliest), tokens, sink.clone())
        .replay_store(replay.clone())
        .build()
        .unwrap();
    let info = sub.topic_info().await.unwrap();
    assert_eq!(
        (info.schema_id.as_str(), info.can_subscribe),
        (SCHEMA_ID, true)
    );
    // A second concurrent run is refused while the first one runs.
    let (first, second) = tokio::join!(run_until_done(&sub, &sink), async {
        tokio::time::sleep(Duration::from_millis(20)).await;
        sub.run().await
    });
    first.unwrap();
    assert_eq!(second.unwrap_err().kind(), "invalid_input");

    assert_eq!(sink.ids(), ids(0..25));
    let events = sink.events.lock().unwrap();
    let first = &events[0];
    assert_eq!(
        *first.json,
        json!({
            "replayId": "10",
            "eventId": "evt-0",
            "schemaId": SCHEMA_ID,
            "topic": TOPIC,
            "payload": {
                "CreatedDate": 1_700_000_000_000_i64,
                "CreatedById": "005xx0000012345",
                "EventType__c": "Interaction",
                "Payload__c": "{\"conversationIdentifier\":\"conv-1\",\"text\":\"m0\"}"
            }
        })
    );
    assert_eq!(first.meta.replay_id, ReplayId(replay_of(0)));
    for (i, e) in events.iter().enumerate() {
        let inner: serde_json::Value =
            serde_json::from_str(e.json["payload"]["Payload__c"].as_str().unwrap()).unwrap();
        assert_eq!(inner["text"], format!("m{i}"));
    }
    assert_eq!(replay.get(TOPIC), Some(ReplayId(replay_of(24))));
    assert_eq!(
        mock.schema_calls.load(Ordering::SeqCst),
        1,
        "schema cached by id"
    );
    assert_eq!(src.calls.load(Ordering::SeqCst), 1);
    let log = mock.log.lock().unwrap();
    assert_eq!(log.subscribes.len(), 1);
    let s = &log.subscribes[0];
    assert_eq!(s.preset, ReplayPreset::Earliest as i32);
    assert_eq!(
        (
            s.token.as_str(),
            s.instance_url.as_str(),
            s.tenant_id.as_str()
        ),
        ("token-1", INSTANCE, ORG)
    );
    assert_eq!(s.num_requested, 10);
    assert!(log.violations.is_empty(), "{:?}", log.violations);
}

#[tokio::test]
async fn flow_control_never_over_asks_and_refills_before_running_dry() {
    let mock = Mock::new();
    mock.publish(30);
    {
        let mut s = mock.script.lock().unwrap();
        s.delay = Duration::from_millis(15);
        s.per_response = 1;
    }
    let url = mock.serve().await;
    let (tokens, _) = tokens();
    let sink = Collect::new(30);
    let sub = Subscriber::builder(config(&url).start(StartAt::Earliest), tokens, sink.clone())
        .build()
        .unwrap();
    run_until_done(&sub, &sink).await.unwrap();
    assert_eq!(sink.ids(), ids(0..30));

    let log = mock.log.lock().unwrap();
    assert!(log.violations.is_empty(), "{:?}", log.violations);
    assert_eq!(log.sent, 30);
    assert!(
        log.max_pending <= 10,
        "the client asked for more than one batch ahead: {}",
        log.max_pending
    );
    assert!(!log.refills.is_empty());
    for (pending_at_arrival, n) in &log.refills {
        assert!(
            *pending_at_arrival > 0,
            "a refill arrived only after the server ran dry: {:?}",
            log.refills
        );
        assert!((1..=100).contains(n));
    }
}

#[tokio::test]
async fn a_dropped_stream_resumes_after_the_last_accepted_event() {
    let mock = Mock::new();
    mock.publish(20);
    {
        let mut s = mock.script.lock().unwrap();
        s.drop_after = Some(7);
        s.per_response = 2;
    }
    let url = mock.serve().await;
    let (tokens, _) = tokens();
    let sink = Collect::new(25);
    // The host fails once on an event: it is delivered again, not skipped.
    sink.fail_once.lock().unwrap().insert("evt-3".into());
    let replay = Arc::new(MemoryReplayStore::new());
    let sub = Subscriber::builder(config(&url).start(StartAt::Earliest), tokens, sink.clone())
        .replay_store(replay.clone())
        .dedup(Arc::new(MemoryDedupStore::default()))
        .build()
        .unwrap();
    let m = mock.clone();
    let publisher = tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(300)).await;
        m.publish(5);
    });
    run_until_done(&sub, &sink).await.unwrap();
    publisher.await.unwrap();

    assert_eq!(sink.ids(), ids(0..25), "nothing lost, nothing repeated");
    assert_eq!(sink.attempts.load(Ordering::SeqCst), 26);
    assert_eq!(replay.get(TOPIC), Some(ReplayId(replay_of(24))));
    let log = mock.log.lock().unwrap();
    assert_eq!(log.subscribes.len(), 2);
    assert_eq!(log.subscribes[1].preset, ReplayPreset::Custom as i32);
    assert_eq!(log.subscribes[1].replay_id, replay_of(6));
    assert_eq!(mock.schema_calls.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn a_restart_resumes_from_the_stored_replay_id() {
    let mock = Mock::new();
    mock.publish(15);
    let url = mock.serve().await;
    let (tokens, _) = tokens();
    let replay = Arc::new(MemoryReplayStore::new());
    replay.save(TOPIC, &ReplayId(replay_of(9))).await.unwrap();
    let sink = Collect::new(5);
    let sub = Subscriber::builder(config(&url).start(StartAt::Latest), tokens, sink.clone())
        .replay_store(replay.clone())
        .build()
        .unwrap();
    run_until_done(&sub, &sink).await.unwrap();
    assert_eq!(sink.ids(), ids(10..15));
    let log = mock.log.lock().unwrap();
    assert_eq!(log.subscribes[0].preset, ReplayPreset::Custom as i32);
    assert_eq!(log.subscribes[0].replay_id, replay_of(9));
}

#[tokio::test]
async fn latest_skips_what_was_published_before() {
    let mock = Mock::new();
    mock.publish(4);
    let url = mock.serve().await;
    let (tokens, _) = tokens();
    let sink = Collect::new(2);
    let sub = Subscriber::builder(config(&url), tokens, sink.clone())
        .build()
        .unwrap();
    let m = mock.clone();
    tokio::spawn(async move {
        while m.log.lock().unwrap().subscribes.is_empty() {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        m.publish(2);
    });
    run_until_done(&sub, &sink).await.unwrap();
    assert_eq!(sink.ids(), ids(4..6));
    assert_eq!(
        mock.log.lock().unwrap().subscribes[0].preset,
        ReplayPreset::Latest as i32
    );
}

#[tokio::test]
async fn an_expired_token_is_renewed_once_and_the_subscription_resumes() {
    let mock = Mock::new();
    mock.publish(10);
    mock.script.lock().unwrap().expire_token_after = Some(4);
    let url = mock.serve().await;
    let (tokens, src) = tokens();
    let sink = Collect::new(10);
    let sub = Subscriber::builder(config(&url).start(StartAt::Earliest), tokens, sink.clone())
        .build()
        .unwrap();
    run_until_done(&sub, &sink).await.unwrap();
    assert_eq!(sink.ids(), ids(0..10));
    assert_eq!(src.calls.load(Ordering::SeqCst), 2, "one re-authentication");
    let log = mock.log.lock().unwrap();
    let tokens_used: Vec<&str> = log.subscribes.iter().map(|s| s.token.as_str()).collect();
    assert_eq!(tokens_used, ["token-1", "token-2"]);
    assert_eq!(log.subscribes[1].preset, ReplayPreset::Custom as i32);
    assert_eq!(log.subscribes[1].replay_id, replay_of(3));
    assert!(!format!("{sub:?}").contains("token-"));
}

#[tokio::test]
async fn a_refused_fresh_token_stops_with_unauthorized_after_one_renewal() {
    let mock = Mock::new();
    {
        let mut s = mock.script.lock().unwrap();
        s.rejected_tokens.insert("token-1".into());
        s.rejected_tokens.insert("token-2".into());
    }
    let url = mock.serve().await;
    let (tokens, src) = tokens();
    let sink = Collect::new(1);
    let sub = Subscriber::builder(config(&url), tokens, sink.clone())
        .build()
        .unwrap();
    let err = tokio::time::timeout(Duration::from_secs(10), sub.run())
        .await
        .unwrap()
        .unwrap_err();
    assert_eq!(err.kind(), "unauthorized");
    assert!(!err.to_string().contains("token-"), "{err}");
    assert_eq!(src.calls.load(Ordering::SeqCst), 2);
    assert_eq!(mock.log.lock().unwrap().unauthenticated, 2);
    assert!(mock.log.lock().unwrap().subscribes.is_empty());
}

#[tokio::test]
async fn keepalives_are_handled_and_their_replay_id_is_kept() {
    let mock = Mock::new();
    mock.publish(3);
    {
        let mut s = mock.script.lock().unwrap();
        s.keepalives_first = 2;
        s.idle_keepalives = true;
    }
    let url = mock.serve().await;
    let replay = Arc::new(MemoryReplayStore::new());
    let (tokens, _) = tokens();
    let sink = Collect::new(usize::MAX);
    let sub = Subscriber::builder(config(&url), tokens.clone(), sink.clone())
        .replay_store(replay.clone())
        .build()
        .unwrap();
    // LATEST: the three events are behind the tip; keepalives carry the tip's replay id.
    let r = replay.clone();
    tokio::time::timeout(
        Duration::from_secs(10),
        sub.run_until(async move {
            while r.get(TOPIC).is_none() {
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        }),
    )
    .await
    .unwrap()
    .unwrap();
    assert!(sink.ids().is_empty());
    assert_eq!(replay.get(TOPIC), Some(ReplayId(replay_of(2))));

    // A later run resumes from the keepalive's replay id and gets only what came after.
    mock.publish(2);
    let sink2 = Collect::new(2);
    let sub2 = Subscriber::builder(config(&url), tokens, sink2.clone())
        .replay_store(replay.clone())
        .build()
        .unwrap();
    run_until_done(&sub2, &sink2).await.unwrap();
    assert_eq!(sink2.ids(), ids(3..5));
    let log = mock.log.lock().unwrap();
    assert_eq!(log.subscribes[1].preset, ReplayPreset::Custom as i32);
    assert_eq!(log.subscribes[1].replay_id, replay_of(2));
}

#[tokio::test]
async fn undecodable_events_go_to_rejected_and_are_skipped() {
    let mock = Mock::new();
    mock.publish(1);
    let big = encode(&"x".repeat(400), 1);
    let held = |id: &str, schema: &str, payload: Vec<u8>| {
        let i = mock.events.lock().unwrap().len();
        mock.push(Held {
            id: id.into(),
            replay: replay_of(i),
            schema_id: schema.into(),
            payload,
        });
    };
    held("too-big", SCHEMA_ID, big);
    held("garbage", SCHEMA_ID, vec![0xff; 20]);
    held("no-schema", "unknown-schema", encode("x", 1));
    held("refused", SCHEMA_ID, encode("unparseable for the host", 2));
    held("good", SCHEMA_ID, encode("fine", 3));
    let url = mock.serve().await;
    let (tokens, _) = tokens();
    let sink = Collect::new(6);
    let replay = Arc::new(MemoryReplayStore::new());
    let sub = Subscriber::builder(
        config(&url).start(StartAt::Earliest).max_event_bytes(300),
        tokens,
        sink.clone(),
    )
    .replay_store(replay.clone())
    .build()
    .unwrap();
    run_until_done(&sub, &sink).await.unwrap();
    assert_eq!(sink.ids(), ["evt-0", "good"]);
    let rejected = sink.rejected.lock().unwrap().clone();
    assert_eq!(
        rejected,
        [
            ("too-big".to_string(), "payload_too_large".to_string()),
            ("garbage".to_string(), "malformed_payload".to_string()),
            ("no-schema".to_string(), "provider_error".to_string()),
            ("refused".to_string(), "malformed_payload".to_string()),
        ]
    );
    assert_eq!(
        sink.attempts.load(Ordering::SeqCst),
        3,
        "a refusal is not retried"
    );
    assert_eq!(replay.get(TOPIC), Some(ReplayId(replay_of(5))));
}

#[tokio::test]
async fn a_sink_that_refuses_to_skip_stops_the_subscriber_without_saving() {
    let mock = Mock::new();
    mock.publish(2);
    mock.push(Held {
        id: "garbage".into(),
        replay: replay_of(2),
        schema_id: SCHEMA_ID.into(),
        payload: vec![0xff; 4],
    });
    let url = mock.serve().await;
    let (tokens, _) = tokens();
    let sink = Arc::new(Collect {
        refuse_to_skip: true,
        ..Collect::default()
    });
    let replay = Arc::new(MemoryReplayStore::new());
    let sub = Subscriber::builder(config(&url).start(StartAt::Earliest), tokens, sink.clone())
        .replay_store(replay.clone())
        .build()
        .unwrap();
    let err = tokio::time::timeout(Duration::from_secs(10), sub.run())
        .await
        .unwrap()
        .unwrap_err();
    assert_eq!(err.kind(), "invalid_input");
    assert_eq!(sink.ids(), ids(0..2));
    assert_eq!(replay.get(TOPIC), Some(ReplayId(replay_of(1))));
}

#[tokio::test]
async fn repeated_event_ids_are_delivered_once_with_a_dedup_store() {
    let mock = Mock::new();
    mock.publish(2);
    // The same event again under a new replay id (what an org migration can cause).
    let again = mock.events.lock().unwrap()[1].clone();
    mock.push(Held {
        replay: replay_of(2),
        ..again
    });
    mock.publish(1);
    let url = mock.serve().await;
    let (tokens, _) = tokens();
    let sink = Collect::new(3);
    let replay = Arc::new(MemoryReplayStore::new());
    let sub = Subscriber::builder(config(&url).start(StartAt::Earliest), tokens, sink.clone())
        .replay_store(replay.clone())
        .dedup(Arc::new(MemoryDedupStore::default()))
        .build()
        .unwrap();
    run_until_done(&sub, &sink).await.unwrap();
    assert_eq!(sink.ids(), ["evt-0", "evt-1", "evt-3"]);
    assert_eq!(replay.get(TOPIC), Some(ReplayId(replay_of(3))));
}

/// A channel that parses decoded events the way the Salesforce channel is plugged in.
struct EventChannel {
    caps: Capabilities,
}

#[async_trait]
impl Channel for EventChannel {
    fn provider(&self) -> Provider {
        Provider::Salesforce
    }
    fn capabilities(&self) -> &Capabilities {
        &self.caps
    }
    fn verify(&self, _req: &WebhookRequest) -> std::result::Result<(), VerifyError> {
        Err(VerifyError::Unauthorized {
            reason: "events only",
        })
    }
    async fn receive(&self, _req: &WebhookRequest) -> Result<Inbound> {
        Err(Error::invalid_input("request", "events only"))
    }
    async fn receive_event(&self, event: Arc<serde_json::Value>) -> Result<Inbound> {
        let inner = event["payload"]["Payload__c"]
            .as_str()
            .ok_or_else(|| Error::malformed("no Payload__c"))?;
        let inner: serde_json::Value =
            serde_json::from_str(inner).map_err(|e| Error::malformed(e.to_string()))?;
        let id = event["eventId"].as_str().unwrap_or_default();
        let mut e = Event::new(Provider::Salesforce, EventKind::Message, id);
        e.text = inner["text"].as_str().map(str::to_string);
        e.conversation_id = inner["conversationIdentifier"].as_str().map(str::to_string);
        Ok(Inbound::new(vec![e], WebhookReply::ok()))
    }
    async fn send(&self, _msg: &dyn OutboundMessage) -> Result<SendReceipt> {
        Err(Error::invalid_input("message", "not used"))
    }
}

#[tokio::test]
async fn a_channel_sink_turns_events_into_normalized_events() {
    let mock = Mock::new();
    mock.publish(3);
    let url = mock.serve().await;
    let (tokens, _) = tokens();
    let got: Arc<Mutex<Vec<Event>>> = Arc::default();
    let done = Arc::new(Notify::new());
    let (g, d) = (got.clone(), done.clone());
    let handler = handler_fn(move |inbound: Inbound| {
        let (g, d) = (g.clone(), d.clone());
        async move {
            let mut g = g.lock().unwrap();
            g.extend(inbound.events);
            if g.len() == 3 {
                d.notify_one();
            }
            Ok(())
        }
    });
    let channel: Arc<dyn Channel> = Arc::new(EventChannel {
        caps: Capabilities::text_only(),
    });
    let sink = ChannelSink::new(channel, Arc::new(handler));
    let sub = Subscriber::builder(
        config(&url).start(StartAt::Earliest),
        tokens,
        Arc::new(sink),
    )
    .build()
    .unwrap();
    tokio::time::timeout(
        Duration::from_secs(10),
        sub.run_until(async move { done.notified().await }),
    )
    .await
    .unwrap()
    .unwrap();
    let got = got.lock().unwrap();
    let texts: Vec<_> = got.iter().map(|e| e.text.clone().unwrap()).collect();
    assert_eq!(texts, ["m0", "m1", "m2"]);
    assert_eq!(got[0].id, "evt-0");
    assert_eq!(got[0].conversation_id.as_deref(), Some("conv-1"));
}

#[tokio::test]
async fn an_unknown_topic_is_a_fatal_error() {
    let mock = Mock::new();
    let url = mock.serve().await;
    let (tokens, _) = tokens();
    let sink = Collect::new(1);
    let cfg = SubscriberConfig::new("/event/Missing__e", ORG)
        .endpoint(&url)
        .backoff(Duration::from_millis(10), Duration::from_millis(20));
    let sub = Subscriber::builder(cfg, tokens, sink).build().unwrap();
    let err = tokio::time::timeout(Duration::from_secs(10), sub.run())
        .await
        .unwrap()
        .unwrap_err();
    assert_eq!(err.kind(), "provider_error");
    assert!(!err.retryable());
    assert!(err.to_string().contains("NotFound"), "{err}");
}

#[tokio::test]
async fn an_unreachable_server_is_retried_until_shutdown() {
    // A port with nothing listening: connects fail and are retried with backoff.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    drop(listener);
    let (tokens, _) = tokens();
    let sink = Collect::new(1);
    let sub = Subscriber::builder(config(&url), tokens, sink)
        .build()
        .unwrap();
    let r = tokio::time::timeout(
        Duration::from_secs(10),
        sub.run_until(tokio::time::sleep(Duration::from_millis(300))),
    )
    .await
    .unwrap();
    assert!(r.is_ok(), "{r:?}");
}

#[tokio::test]
async fn a_refused_stored_replay_id_stops_with_a_hint() {
    let mock = Mock::new();
    mock.publish(2);
    let url = mock.serve().await;
    let (tokens, _) = tokens();
    let replay = Arc::new(MemoryReplayStore::new());
    replay
        .save(TOPIC, &ReplayId(vec![9, 9, 9, 9, 9, 9, 9, 9]))
        .await
        .unwrap();
    let sink = Collect::new(1);
    let sub = Subscriber::builder(config(&url), tokens, sink.clone())
        .replay_store(replay.clone())
        .build()
        .unwrap();
    let err = tokio::time::timeout(Duration::from_secs(10), sub.run())
        .await
        .unwrap()
        .unwrap_err();
    assert_eq!(err.kind(), "provider_error");
    assert!(err.to_string().contains("72-hour retention"), "{err}");
    assert!(sink.ids().is_empty());
    assert_eq!(
        replay.get(TOPIC),
        Some(ReplayId(vec![9; 8])),
        "the stored id is left for the host to decide"
    );
}

#[tokio::test]
async fn a_silent_stream_is_replaced_after_the_idle_timeout() {
    let mock = Mock::new();
    let url = mock.serve().await;
    let (tokens, _) = tokens();
    let sink = Collect::new(1);
    let sub = Subscriber::builder(
        config(&url).idle_timeout(Duration::from_millis(150)),
        tokens,
        sink.clone(),
    )
    .build()
    .unwrap();
    let m = mock.clone();
    let r = tokio::time::timeout(
        Duration::from_secs(10),
        sub.run_until(async move {
            while m.log.lock().unwrap().subscribes.len() < 3 {
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        }),
    )
    .await
    .unwrap();
    assert!(r.is_ok(), "{r:?}");
    assert!(mock.log.lock().unwrap().subscribes.len() >= 3);
}
