//! Replay ids and where they are kept between runs.

use std::collections::HashMap;
use std::sync::Mutex;

use async_trait::async_trait;
use base64::Engine as _;

use omnichannel_core::Result;

/// An opaque position in a topic's stream, as the Pub/Sub API hands it out (bytes, not
/// guaranteed contiguous). Store it as is; compare only for equality.
#[derive(Clone, PartialEq, Eq, Hash, Default)]
pub struct ReplayId(pub Vec<u8>);

impl ReplayId {
    /// The raw bytes.
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }

    /// Whether it holds no bytes (the server sent none).
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// A display form for logs and the decoded event's `replayId`: the big-endian unsigned
    /// number when the id is 8 bytes (what Salesforce sends today, and how its samples print
    /// it), otherwise standard base64. Informational only: resume from the bytes.
    pub fn display(&self) -> String {
        match <[u8; 8]>::try_from(self.0.as_slice()) {
            Ok(b) => u64::from_be_bytes(b).to_string(),
            Err(_) => base64::engine::general_purpose::STANDARD.encode(&self.0),
        }
    }
}

impl std::fmt::Debug for ReplayId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "ReplayId({})", self.display())
    }
}

impl From<Vec<u8>> for ReplayId {
    fn from(v: Vec<u8>) -> Self {
        ReplayId(v)
    }
}

/// Where the subscriber keeps, per topic, the replay id of the last event the host accepted.
///
/// The subscriber saves an id only after the event sink returned `Ok` for that event (or the
/// host chose to skip it), and resumes after the saved id (`CUSTOM` replay) on every
/// reconnect and restart: at-least-once, nothing lost. Share one store across restarts (a
/// database row, a Redis key); events are retained by Salesforce for 72 hours.
#[async_trait]
pub trait ReplayStore: Send + Sync + std::fmt::Debug {
    /// The saved replay id of `topic`, if any.
    async fn load(&self, topic: &str) -> Result<Option<ReplayId>>;
    /// Saves the replay id of `topic`, replacing the previous one.
    async fn save(&self, topic: &str, replay_id: &ReplayId) -> Result<()>;
}

/// Replay ids in process memory (one process, tests). Lost on restart: a restarted subscriber
/// then starts at its configured preset.
#[derive(Debug, Default)]
pub struct MemoryReplayStore {
    map: Mutex<HashMap<String, ReplayId>>,
}

impl MemoryReplayStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    /// The saved id of `topic` (synchronous, for inspection).
    pub fn get(&self, topic: &str) -> Option<ReplayId> {
        self.map
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(topic)
            .cloned()
    }
}

#[async_trait]
impl ReplayStore for MemoryReplayStore {
    async fn load(&self, topic: &str) -> Result<Option<ReplayId>> {
        Ok(self.get(topic))
    }

    async fn save(&self, topic: &str, replay_id: &ReplayId) -> Result<()> {
        self.map
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(topic.to_string(), replay_id.clone());
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn display_forms() {
        assert_eq!(
            ReplayId(vec![0, 0, 0, 0, 0, 0x5a, 0x94, 0xf0]).display(),
            "5936368"
        );
        assert_eq!(ReplayId(vec![1, 2, 3]).display(), "AQID");
        assert_eq!(format!("{:?}", ReplayId(vec![0; 8])), "ReplayId(0)");
    }

    #[tokio::test]
    async fn memory_store_round_trip() {
        let s = MemoryReplayStore::new();
        assert_eq!(s.load("/event/A__e").await.unwrap(), None);
        s.save("/event/A__e", &ReplayId(vec![1])).await.unwrap();
        s.save("/event/A__e", &ReplayId(vec![2])).await.unwrap();
        s.save("/event/B__e", &ReplayId(vec![9])).await.unwrap();
        assert_eq!(
            s.load("/event/A__e").await.unwrap(),
            Some(ReplayId(vec![2]))
        );
        assert_eq!(s.get("/event/B__e"), Some(ReplayId(vec![9])));
    }
}
