//! The app side's state: the callback URL RapidPro set and one room record per visitor token
//! (the Tickets app's room cache, spec section 6).
//!
//! The in-memory [`MemoryAppStore`] is the default; a host with several processes implements
//! [`AppStore`] on its own database so that every process sees the same rooms.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use omnichannel_core::Result;
use serde::{Deserialize, Serialize};

/// One open (or closed but not yet acknowledged) room, keyed by visitor token.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RoomRecord {
    /// The visitor token (RapidPro's contact id as a decimal string).
    pub token: String,
    /// The RapidPro ticket UUID.
    pub ticket_id: String,
    /// The RapidPro contact UUID.
    #[serde(default)]
    pub contact_uuid: String,
    /// The room id answered to `room`.
    pub room_id: String,
    /// The room was closed by the agent but RapidPro has not acknowledged the `close-room`
    /// webhook yet: it is sent again on the next `room` or `visitor-message` for this token.
    #[serde(default)]
    pub closed: bool,
}

/// Where the app side keeps its state.
#[async_trait]
pub trait AppStore: Send + Sync + std::fmt::Debug {
    /// The stored callback URL.
    async fn callback_url(&self) -> Result<Option<String>>;
    /// Stores the callback URL.
    async fn set_callback_url(&self, url: &str) -> Result<()>;
    /// The room record of a visitor token.
    async fn room(&self, token: &str) -> Result<Option<RoomRecord>>;
    /// The room record of a visitor token, shared: a store that keeps its records behind an
    /// [`Arc`] answers without copying one. By default, [`room`](Self::room)'s record.
    async fn shared_room(&self, token: &str) -> Result<Option<Arc<RoomRecord>>> {
        Ok(self.room(token).await?.map(Arc::new))
    }
    /// Stores (or replaces) a room record.
    async fn put_room(&self, room: RoomRecord) -> Result<()>;
    /// Deletes the room record of a visitor token.
    async fn remove_room(&self, token: &str) -> Result<()>;
}

/// The in-memory [`AppStore`] (one process).
#[derive(Debug, Default)]
pub struct MemoryAppStore {
    callback_url: Mutex<Option<String>>,
    /// Records behind an `Arc`: a lookup on the message path shares the record instead of
    /// copying its strings.
    rooms: Mutex<HashMap<String, Arc<RoomRecord>>>,
}

impl MemoryAppStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    /// A store holding a callback URL and rooms from the start.
    pub fn with_state(callback_url: Option<String>, rooms: Vec<RoomRecord>) -> Self {
        MemoryAppStore {
            callback_url: Mutex::new(callback_url),
            rooms: Mutex::new(
                rooms
                    .into_iter()
                    .map(|r| (r.token.clone(), Arc::new(r)))
                    .collect(),
            ),
        }
    }
}

#[async_trait]
impl AppStore for MemoryAppStore {
    async fn callback_url(&self) -> Result<Option<String>> {
        Ok(self
            .callback_url
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone())
    }
    async fn set_callback_url(&self, url: &str) -> Result<()> {
        *self.callback_url.lock().unwrap_or_else(|p| p.into_inner()) = Some(url.to_string());
        Ok(())
    }
    async fn room(&self, token: &str) -> Result<Option<RoomRecord>> {
        Ok(self
            .rooms
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(token)
            .map(|r| RoomRecord::clone(r)))
    }
    async fn shared_room(&self, token: &str) -> Result<Option<Arc<RoomRecord>>> {
        Ok(self
            .rooms
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(token)
            .cloned())
    }
    async fn put_room(&self, room: RoomRecord) -> Result<()> {
        self.rooms
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(room.token.clone(), Arc::new(room));
        Ok(())
    }
    async fn remove_room(&self, token: &str) -> Result<()> {
        self.rooms
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(token);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn record(token: &str, ticket: &str) -> RoomRecord {
        RoomRecord {
            token: token.into(),
            ticket_id: ticket.into(),
            contact_uuid: "c".into(),
            room_id: format!("room-{ticket}"),
            closed: false,
        }
    }

    /// The memory store's shared and copied lookups give the same record, after seeding,
    /// replacing and removing; a store with only `room` answers the shared lookup too.
    #[tokio::test]
    async fn shared_and_copied_lookups_agree() {
        let store = MemoryAppStore::with_state(None, vec![record("1", "t1")]);
        assert_eq!(
            store.shared_room("1").await.unwrap().as_deref(),
            store.room("1").await.unwrap().as_ref()
        );
        assert_eq!(store.room("1").await.unwrap(), Some(record("1", "t1")));
        let mut closed = record("1", "t2");
        closed.closed = true;
        store.put_room(closed.clone()).await.unwrap();
        assert_eq!(
            store.shared_room("1").await.unwrap().as_deref(),
            Some(&closed)
        );
        store.remove_room("1").await.unwrap();
        assert_eq!(store.shared_room("1").await.unwrap(), None);
        assert_eq!(store.room("1").await.unwrap(), None);

        #[derive(Debug)]
        struct OnlyRoom;
        #[async_trait]
        impl AppStore for OnlyRoom {
            async fn callback_url(&self) -> Result<Option<String>> {
                Ok(None)
            }
            async fn set_callback_url(&self, _: &str) -> Result<()> {
                Ok(())
            }
            async fn room(&self, token: &str) -> Result<Option<RoomRecord>> {
                Ok((token == "7").then(|| record("7", "t7")))
            }
            async fn put_room(&self, _: RoomRecord) -> Result<()> {
                Ok(())
            }
            async fn remove_room(&self, _: &str) -> Result<()> {
                Ok(())
            }
        }
        assert_eq!(
            OnlyRoom.shared_room("7").await.unwrap().as_deref(),
            Some(&record("7", "t7"))
        );
        assert_eq!(OnlyRoom.shared_room("8").await.unwrap(), None);
    }
}
