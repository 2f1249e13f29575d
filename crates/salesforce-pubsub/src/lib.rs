//! # omnichannel-salesforce-pubsub
//!
//! Receives Salesforce's outbound messaging events (reps' replies, typing, routing requests)
//! over the Pub/Sub API: a gRPC `Subscribe` stream on the channel definition's custom
//! platform event (`/event/<EventApiName>`), Avro payloads decoded with their writer schema
//! (`GetSchema`, cached), each event handed to the host in order, and its replay id stored
//! once the host accepted it, so a restart resumes where it left off (at-least-once).
//!
//! The decoded event is the JSON that
//! [`Channel::receive_event`](omnichannel_core::Channel::receive_event) takes: plug the
//! Salesforce Interaction channel in with a [`ChannelSink`], or take the JSON yourself with
//! [`sink_fn`] / your own [`EventSink`].
//!
//! ```no_run
//! use std::sync::Arc;
//! use omnichannel_core::{AccessToken, Channel, TokenManager};
//! use omnichannel_salesforce_pubsub::{
//!     handler_fn, ChannelSink, MemoryReplayStore, StartAt, Subscriber, SubscriberConfig,
//! };
//!
//! # async fn demo(channel: Arc<dyn Channel>, tokens: TokenManager) -> omnichannel_core::Result<()> {
//! // The org's token (key = org id); its `extra.instance_url` becomes the `instanceurl` header.
//! let mut token = AccessToken::new("00D000000000001!test-token-not-real");
//! token.extra.insert("instance_url".into(), "https://example.my.salesforce.com".into());
//! tokens.set_token("00D000000000001", token).await?;
//!
//! let config = SubscriberConfig::new("/event/Reply_Event__e", "00D000000000001")
//!     .start(StartAt::Latest)
//!     .batch_size(100);
//! // The channel parses each platform event into normalized events; the handler takes them.
//! let sink = ChannelSink::new(
//!     channel,
//!     Arc::new(handler_fn(|inbound: omnichannel_core::Inbound| async move {
//!         for event in inbound.events {
//!             println!("{} {:?}", event.id, event.text);
//!         }
//!         Ok(())
//!     })),
//! );
//! let subscriber = Subscriber::builder(config, tokens, Arc::new(sink))
//!     .replay_store(Arc::new(MemoryReplayStore::new()))
//!     .build()?;
//! subscriber
//!     .run_until(async {
//!         let _ = tokio::signal::ctrl_c().await;
//!     })
//!     .await
//! # }
//! ```
//!
//! ## Guarantees and bounds
//!
//! - Order: events are delivered one at a time in stream order.
//! - At-least-once: a replay id is stored only after [`EventSink::deliver`] returned `Ok` (or
//!   [`EventSink::rejected`] chose to skip the event); a dropped stream, a restart or a
//!   refused token resumes after the last stored id (`CUSTOM` replay). With a
//!   [`DedupStore`](omnichannel_core::DedupStore) (`SubscriberBuilder::dedup`), events whose
//!   `id` was already seen are skipped.
//! - Flow control: at most `batch_size` (≤ 100) events are requested ahead; more are asked
//!   for as soon as no more than `refill_below` are pending.
//! - Bounds: Avro payload size (`max_event_bytes`, default 1 MiB), schema JSON size, schema
//!   cache size, one gRPC message (`batch_size × (max_event_bytes + 64 KiB)`), Avro nesting
//!   depth and collection sizes (see [`avro`]).
//!
//! The `.proto` in `proto/` is compiled at build time by the pure-Rust `protox` (no `protoc`).
#![forbid(unsafe_code)]

pub mod avro;
pub mod config;
pub mod replay;
pub mod schema_cache;
pub mod sink;
pub mod subscriber;

/// The Pub/Sub API messages and the generated tonic client and server (`eventbus.v1`, the
/// subset this crate uses). The server trait lets hosts run a local stand-in in their tests.
#[allow(missing_docs, clippy::all)]
pub mod proto {
    tonic::include_proto!("eventbus.v1");
}

pub use avro::WriterSchema;
pub use config::{DEFAULT_ENDPOINT, MAX_BATCH, StartAt, SubscriberConfig};
pub use replay::{MemoryReplayStore, ReplayId, ReplayStore};
pub use schema_cache::SchemaCache;
pub use sink::{
    ChannelSink, DecodedEvent, EventMeta, EventSink, FnHandler, FnSink, InboundHandler, handler_fn,
    sink_fn,
};
pub use subscriber::{Subscriber, SubscriberBuilder, status_error};
