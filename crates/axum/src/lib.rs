//! # omnichannel-axum
//!
//! Mounts any set of omnichannel channels in an [`axum`] router:
//!
//! - `/webhooks/{provider}/{channel}` (every method: providers use POST, DELETE, and GET with a
//!   body) reads the raw body under a limit (413 before any parsing), builds the
//!   [`WebhookRequest`](omnichannel_core::WebhookRequest) with the **public** URL the provider
//!   signed (configured base URL + path and query, never a guessed `Host` header), lets the
//!   channel verify and parse it, drops events already seen (through a core
//!   [`DedupStore`](omnichannel_core::DedupStore), keyed by provider, channel and event id),
//!   hands new events to the host's [`EventSink`], and answers with the channel's reply (or
//!   [`Channel::reject_reply`](omnichannel_core::Channel::reject_reply) when it refused).
//! - `POST /send/{provider}/{channel}` takes the normalized outbound JSON (core
//!   [`Message`](omnichannel_core::Message)) behind a bearer API key and answers with the
//!   [`SendReceipt`](omnichannel_core::SendReceipt) JSON or a typed error
//!   (`{"error", "message", "retryable", "retry_after_ms"}`).
//!
//! Every request runs in a `tracing` span naming the provider and channel; no header value,
//! secret or body is ever logged.
//!
//! ```no_run
//! use std::sync::Arc;
//! use omnichannel_axum::{EventSink, EventSource, Gateway};
//! use omnichannel_core::{async_trait, Channel, Event, Result};
//!
//! struct PrintSink;
//!
//! #[async_trait]
//! impl EventSink for PrintSink {
//!     async fn deliver(&self, source: &EventSource, event: &Event) -> Result<()> {
//!         println!("{}/{}: {}", source.provider, source.channel, event.to_json());
//!         Ok(())
//!     }
//! }
//!
//! # async fn run(channel: Arc<dyn Channel>) -> Result<(), Box<dyn std::error::Error>> {
//! let gateway = Gateway::builder("https://hooks.example.com", Arc::new(PrintSink))
//!     .channel("main", channel)
//!     .api_key("a-long-random-key-from-your-secret-store")
//!     .build()?;
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:8080").await?;
//! axum::serve(listener, gateway.router()).await?;
//! # Ok(())
//! # }
//! ```
#![forbid(unsafe_code)]

mod body;
mod gateway;
mod send;
mod sink;
#[cfg(feature = "testing")]
pub mod testing;

pub use gateway::{DEFAULT_DEDUP_TTL, DEFAULT_MAX_SEND_BODY_BYTES, Gateway, GatewayBuilder};
pub use send::{error_response, error_status};
pub use sink::{EventSink, EventSource, FanoutSink};

/// Re-exported so hosts use the same axum as this crate.
pub use axum;
