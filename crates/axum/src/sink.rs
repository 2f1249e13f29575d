//! Where the gateway hands the events it accepted.

use std::sync::Arc;

use async_trait::async_trait;
use omnichannel_core::{Event, Provider, Result};

/// Which mounted channel an event came through.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct EventSource {
    /// The channel's provider (the `{provider}` of the webhook path).
    pub provider: Provider,
    /// The channel's name (the `{channel}` of the webhook path).
    pub channel: String,
}

impl EventSource {
    /// The dedup key of an event from this source: `provider/channel/event id`.
    pub fn dedup_key(&self, event: &Event) -> String {
        [self.provider.as_str(), "/", &self.channel, "/", &event.id].concat()
    }
}

/// The host's side of the gateway: receives every new (not duplicate) event.
///
/// The gateway awaits `deliver` before it answers the provider, so keep it short: write to a
/// queue, a log or a database. Return an error only when the event was **not** taken (a full
/// queue, a database that is down): the gateway then answers the provider 503 so that it
/// delivers again later, and forgets the event's dedup key
/// ([`DedupStore::forget`](omnichannel_core::DedupStore::forget)) so that the redelivery is
/// processed.
#[async_trait]
pub trait EventSink: Send + Sync {
    /// Takes one event.
    async fn deliver(&self, source: &EventSource, event: &Event) -> Result<()>;
}

#[async_trait]
impl<T: EventSink + ?Sized> EventSink for Arc<T> {
    async fn deliver(&self, source: &EventSource, event: &Event) -> Result<()> {
        (**self).deliver(source, event).await
    }
}

/// Hands each event to several sinks in order; stops at the first that refuses it.
#[derive(Clone, Default)]
pub struct FanoutSink {
    sinks: Vec<Arc<dyn EventSink>>,
}

impl std::fmt::Debug for FanoutSink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FanoutSink")
            .field("sinks", &self.sinks.len())
            .finish()
    }
}

impl FanoutSink {
    /// No sinks.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a sink after the others.
    pub fn with(mut self, sink: Arc<dyn EventSink>) -> Self {
        self.sinks.push(sink);
        self
    }
}

#[async_trait]
impl EventSink for FanoutSink {
    async fn deliver(&self, source: &EventSource, event: &Event) -> Result<()> {
        for s in &self.sinks {
            s.deliver(source, event).await?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use omnichannel_core::EventKind;

    #[test]
    fn dedup_keys_are_provider_channel_and_event_id() {
        let source = EventSource {
            provider: Provider::Tiktok,
            channel: "demo".into(),
        };
        let event = Event::new(Provider::Tiktok, EventKind::Message, "m/1");
        assert_eq!(source.dedup_key(&event), "tiktok/demo/m/1");
    }
}
