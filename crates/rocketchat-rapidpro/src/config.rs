//! Settings of both sides.
//!
//! - [`RocketchatConfig`]: the RapidPro side (provider `rocketchat`): the app's base URL and the
//!   shared secret. Fixture keys `secret` (a string, or an array: current first, previous ones
//!   still verify the app's webhooks), `base_url`.
//! - [`RapidproConfig`]: the app side (provider `rapidpro`): the shared secret and the app id.
//!   Fixture keys `secret`, `app_id`, and optionally `callback_url` (the webhook URL RapidPro
//!   stored with `PUT settings`, for hosts that keep it elsewhere), `departments` (names or ids a
//!   `room` may name; absent: any) and `rooms` (open rooms to start with, see
//!   [`crate::RoomRecord`]).
//!
//! `Debug` of both shows no secret.

use omnichannel_core::config::DEFAULT_MAX_BODY_BYTES;
use omnichannel_core::{Error, Result, Settings, SigningKeys};
use serde_json::Value;

use crate::rooms::RoomRecord;

/// Default bound on the attachments of one message (both directions).
pub const DEFAULT_MAX_ATTACHMENTS: usize = 10;

/// Settings of the RapidPro side: the client of the app and the handler of its webhooks.
#[derive(Clone)]
pub struct RocketchatConfig {
    /// The app's URL, `https://<host>/api/apps/public/<app id>`, without a trailing `/`.
    pub base_url: String,
    /// The shared secret: the first one is sent to the app, every one verifies its webhooks.
    pub secret: SigningKeys,
    /// Largest webhook body accepted, in bytes.
    pub max_body_bytes: usize,
    /// Most attachments accepted in one webhook or sent in one message.
    pub max_attachments: usize,
}

impl std::fmt::Debug for RocketchatConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RocketchatConfig")
            .field("base_url", &self.base_url)
            .field("secret", &"[redacted]")
            .field("max_body_bytes", &self.max_body_bytes)
            .field("max_attachments", &self.max_attachments)
            .finish()
    }
}

impl RocketchatConfig {
    /// Settings with defaults for the limits. The base URL loses any trailing `/`.
    pub fn new(base_url: impl Into<String>, secret: impl Into<String>) -> Self {
        RocketchatConfig {
            base_url: base_url.into().trim_end_matches('/').to_string(),
            secret: SigningKeys::new(secret),
            max_body_bytes: DEFAULT_MAX_BODY_BYTES,
            max_attachments: DEFAULT_MAX_ATTACHMENTS,
        }
    }

    /// Adds a previous secret that still verifies webhooks during a rotation.
    pub fn with_previous_secret(mut self, secret: impl Into<String>) -> Self {
        self.secret = self.secret.with_previous(secret);
        self
    }

    /// Sets the webhook body limit.
    pub fn with_max_body_bytes(mut self, max: usize) -> Self {
        self.max_body_bytes = max;
        self
    }

    /// Sets the attachment bound.
    pub fn with_max_attachments(mut self, max: usize) -> Self {
        self.max_attachments = max;
        self
    }

    /// Reads the fixture/gateway settings: `secret` and `base_url` are required (mailroom refuses
    /// a ticketer without them), `max_body_bytes` and `max_attachments` are optional.
    pub fn from_settings(v: &Value) -> Result<Self> {
        let s = Settings::new(v)?;
        let secret = s.require_signing_keys("secret")?;
        let base_url = s.require_str("base_url")?;
        let parsed = url::Url::parse(base_url)
            .map_err(|_| Error::config("base_url", "not an absolute URL"))?;
        if !matches!(parsed.scheme(), "http" | "https") {
            return Err(Error::config("base_url", "must be an http or https URL"));
        }
        Ok(RocketchatConfig {
            base_url: base_url.trim_end_matches('/').to_string(),
            secret,
            max_body_bytes: s
                .u64("max_body_bytes")?
                .map_or(DEFAULT_MAX_BODY_BYTES, |n| n as usize),
            max_attachments: s
                .u64("max_attachments")?
                .map_or(DEFAULT_MAX_ATTACHMENTS, |n| n as usize),
        })
    }
}

/// Settings of the app side: the handler of RapidPro's calls and the sender of the webhooks.
#[derive(Clone)]
pub struct RapidproConfig {
    /// The app id, the last segment of `/api/apps/public/<app id>`.
    pub app_id: String,
    /// The app secret. The app trims it; a secret that is empty once trimmed answers every call
    /// with 403 `Secret not set`. The first one is sent on webhooks (untrimmed, as the app does).
    pub secret: SigningKeys,
    /// The callback URL to start with (normally set by RapidPro's `PUT settings`).
    pub callback_url: Option<String>,
    /// Departments a `room` call may name (names or ids); `None` accepts any.
    pub departments: Option<Vec<String>>,
    /// Rooms open when the channel starts.
    pub rooms: Vec<RoomRecord>,
    /// Largest request body accepted, in bytes.
    pub max_body_bytes: usize,
    /// Most attachments accepted in a `visitor-message` or sent in an `agent-message`.
    pub max_attachments: usize,
}

impl std::fmt::Debug for RapidproConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RapidproConfig")
            .field("app_id", &self.app_id)
            .field("secret", &"[redacted]")
            .field("callback_url", &self.callback_url)
            .field("departments", &self.departments)
            .field("rooms", &self.rooms.len())
            .field("max_body_bytes", &self.max_body_bytes)
            .field("max_attachments", &self.max_attachments)
            .finish()
    }
}

impl RapidproConfig {
    /// Settings with defaults: no callback URL yet, any department, no room open.
    pub fn new(app_id: impl Into<String>, secret: impl Into<String>) -> Self {
        RapidproConfig {
            app_id: app_id.into(),
            secret: SigningKeys::new(secret),
            callback_url: None,
            departments: None,
            rooms: Vec::new(),
            max_body_bytes: DEFAULT_MAX_BODY_BYTES,
            max_attachments: DEFAULT_MAX_ATTACHMENTS,
        }
    }

    /// Adds a previous secret still accepted during a rotation.
    pub fn with_previous_secret(mut self, secret: impl Into<String>) -> Self {
        self.secret = self.secret.with_previous(secret);
        self
    }

    /// Sets the callback URL to start with.
    pub fn with_callback_url(mut self, url: impl Into<String>) -> Self {
        self.callback_url = Some(url.into());
        self
    }

    /// Restricts the departments a `room` call may name.
    pub fn with_departments<I, S>(mut self, departments: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.departments = Some(departments.into_iter().map(Into::into).collect());
        self
    }

    /// Adds a room open from the start.
    pub fn with_room(mut self, room: RoomRecord) -> Self {
        self.rooms.push(room);
        self
    }

    /// Sets the request body limit.
    pub fn with_max_body_bytes(mut self, max: usize) -> Self {
        self.max_body_bytes = max;
        self
    }

    /// Reads the fixture/gateway settings (see the module docs).
    pub fn from_settings(v: &Value) -> Result<Self> {
        let s = Settings::new(v)?;
        let secret = s.require_signing_keys("secret")?;
        let app_id = s.require_str("app_id")?;
        if app_id.is_empty() || app_id.contains('/') {
            return Err(Error::config("app_id", "must be one path segment"));
        }
        let callback_url = s.str("callback_url")?.map(str::to_string);
        let departments = match s.get("departments") {
            None => None,
            Some(Value::Array(a)) => Some(
                a.iter()
                    .map(|d| {
                        d.as_str()
                            .map(str::to_string)
                            .ok_or_else(|| Error::config("departments", "must be strings"))
                    })
                    .collect::<Result<Vec<_>>>()?,
            ),
            Some(_) => return Err(Error::config("departments", "must be an array")),
        };
        let rooms = match s.get("rooms") {
            None => Vec::new(),
            Some(v) => serde_json::from_value::<Vec<RoomRecord>>(v.clone()).map_err(|_| {
                Error::config(
                    "rooms",
                    "must be an array of {token, ticket_id, contact_uuid, room_id, closed}",
                )
            })?,
        };
        Ok(RapidproConfig {
            app_id: app_id.to_string(),
            secret,
            callback_url,
            departments,
            rooms,
            max_body_bytes: s
                .u64("max_body_bytes")?
                .map_or(DEFAULT_MAX_BODY_BYTES, |n| n as usize),
            max_attachments: s
                .u64("max_attachments")?
                .map_or(DEFAULT_MAX_ATTACHMENTS, |n| n as usize),
        })
    }
}
