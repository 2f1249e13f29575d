//! Where decoded events go: the host's [`EventSink`], or a channel through
//! [`Channel::receive_event`] ([`ChannelSink`]).

use std::future::Future;
use std::sync::Arc;

use async_trait::async_trait;
use serde_json::Value;

use omnichannel_core::{Channel, Error, Inbound, Result};

use crate::replay::ReplayId;

/// What identifies one event of a subscription.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventMeta {
    /// The topic it came from (`/event/My_Event__e`).
    pub topic: String,
    /// The event's `id` (unique per event; use it for dedup, replay ids may repeat after an org
    /// migration). Empty when the server sent none.
    pub event_id: String,
    /// The writer schema's id.
    pub schema_id: String,
    /// Its replay id (position in the stream).
    pub replay_id: ReplayId,
}

/// An event decoded with its writer schema.
#[derive(Debug, Clone, PartialEq)]
pub struct DecodedEvent {
    /// Topic, ids and replay id.
    pub meta: EventMeta,
    /// The platform event as JSON, the form `Channel::receive_event` takes:
    ///
    /// ```json
    /// {"replayId": "5936368", "eventId": "…", "schemaId": "…", "topic": "/event/My__e",
    ///  "payload": {"CreatedDate": 1690344475579, "CreatedById": "005…",
    ///              "My_Payload__c": "{…}", "My_Event_Type__c": "Interaction"}}
    /// ```
    ///
    /// Shared: a channel's events keep it as their `raw` without a copy.
    /// `payload` holds the event's fields by name with unions unwrapped (see [`crate::avro`]);
    /// `replayId` is [`ReplayId::display`].
    pub json: Arc<Value>,
}

/// The host's side of a subscription.
///
/// The subscriber calls [`deliver`](EventSink::deliver) once per event, in stream order, and
/// saves the event's replay id only after it returned `Ok`. On an error that
/// [`Error::retryable`] (or a store/transport error) it delivers the same event again after a
/// backoff; on any other error, and on events that cannot be decoded, it calls
/// [`rejected`](EventSink::rejected).
#[async_trait]
pub trait EventSink: Send + Sync {
    /// Takes one event. `Ok` means the host has it (stored, queued, handled): its replay id is
    /// saved and it will not be delivered again.
    async fn deliver(&self, event: &DecodedEvent) -> Result<()>;

    /// An event that cannot be delivered: it failed to decode (too large, schema unknown,
    /// malformed Avro) or [`deliver`](EventSink::deliver) refused it with a non-retryable
    /// error. `raw` is the undecoded Avro payload. Return `Ok` to skip it (its replay id is
    /// saved), or an error to stop the subscriber without saving it (it is delivered again
    /// on the next run). The default logs the event's ids and skips it.
    async fn rejected(&self, meta: &EventMeta, raw: &[u8], error: &Error) -> Result<()> {
        tracing::error!(
            topic = %meta.topic,
            event_id = %meta.event_id,
            replay_id = %meta.replay_id.display(),
            payload_bytes = raw.len(),
            error = error.kind(),
            %error,
            "skipping a platform event that cannot be delivered"
        );
        Ok(())
    }
}

/// Takes what a channel made of an event (`Channel::receive_event`).
#[async_trait]
pub trait InboundHandler: Send + Sync {
    /// Handles the normalized events of one platform event. `Ok` accepts it.
    async fn handle(&self, event: &DecodedEvent, inbound: Inbound) -> Result<()>;
}

/// An [`EventSink`] that hands each decoded event to a channel's
/// [`receive_event`](Channel::receive_event) (the Salesforce Interaction channel parses the
/// outbound-event layouts) and its normalized events to an [`InboundHandler`].
///
/// A parse error of the channel (`malformed_payload`) is not retryable, so the event goes to
/// [`EventSink::rejected`] (logged and skipped by default; wrap the sink to change that).
pub struct ChannelSink {
    channel: Arc<dyn Channel>,
    handler: Arc<dyn InboundHandler>,
}

impl ChannelSink {
    /// A sink feeding `channel` and then `handler`.
    pub fn new(channel: Arc<dyn Channel>, handler: Arc<dyn InboundHandler>) -> Self {
        ChannelSink { channel, handler }
    }
}

impl std::fmt::Debug for ChannelSink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ChannelSink")
            .field("provider", &self.channel.provider())
            .finish_non_exhaustive()
    }
}

#[async_trait]
impl EventSink for ChannelSink {
    async fn deliver(&self, event: &DecodedEvent) -> Result<()> {
        let inbound = self.channel.receive_event(event.json.clone()).await?;
        self.handler.handle(event, inbound).await
    }
}

/// An [`EventSink`] from an async closure taking each decoded event (see [`sink_fn`]).
pub struct FnSink<F>(F);

impl<F> std::fmt::Debug for FnSink<F> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("FnSink")
    }
}

/// An [`EventSink`] from an async closure: `sink_fn(|ev| async move { ...; Ok(()) })`.
pub fn sink_fn<F, Fut>(f: F) -> FnSink<F>
where
    F: Fn(DecodedEvent) -> Fut + Send + Sync,
    Fut: Future<Output = Result<()>> + Send,
{
    FnSink(f)
}

#[async_trait]
impl<F, Fut> EventSink for FnSink<F>
where
    F: Fn(DecodedEvent) -> Fut + Send + Sync,
    Fut: Future<Output = Result<()>> + Send,
{
    async fn deliver(&self, event: &DecodedEvent) -> Result<()> {
        (self.0)(event.clone()).await
    }
}

/// An [`InboundHandler`] from an async closure taking the normalized events.
pub struct FnHandler<F>(F);

/// An [`InboundHandler`] from an async closure: `handler_fn(|inbound| async move { ... })`.
pub fn handler_fn<F, Fut>(f: F) -> FnHandler<F>
where
    F: Fn(Inbound) -> Fut + Send + Sync,
    Fut: Future<Output = Result<()>> + Send,
{
    FnHandler(f)
}

#[async_trait]
impl<F, Fut> InboundHandler for FnHandler<F>
where
    F: Fn(Inbound) -> Fut + Send + Sync,
    Fut: Future<Output = Result<()>> + Send,
{
    async fn handle(&self, _event: &DecodedEvent, inbound: Inbound) -> Result<()> {
        (self.0)(inbound).await
    }
}
