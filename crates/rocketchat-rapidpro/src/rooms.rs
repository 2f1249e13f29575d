//! The app side's state: the callback URL RapidPro set and one room record per visitor token
//! (the Tickets app's room cache, spec section 6).
//!
//! The in-memory [`MemoryAppStore`] is the default; a host with several processes implements
//! [`AppStore`] on its own database so that every process sees the same rooms.

use std::collections::HashMap;
use std::sync::Mutex;

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
    /// Stores (or replaces) a room record.
    async fn put_room(&self, room: RoomRecord) -> Result<()>;
    /// Deletes the room record of a visitor token.
    async fn remove_room(&self, token: &str) -> Result<()>;
}

/// The in-memory [`AppStore`] (one process).
#[derive(Debug, Default)]
pub struct MemoryAppStore {
    callback_url: Mutex<Option<String>>,
    rooms: Mutex<HashMap<String, RoomRecord>>,
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
            rooms: Mutex::new(rooms.into_iter().map(|r| (r.token.clone(), r)).collect()),
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
            .cloned())
    }
    async fn put_room(&self, room: RoomRecord) -> Result<()> {
        self.rooms
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(room.token.clone(), room);
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
