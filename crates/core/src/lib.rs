//! # omnichannel-core
//!
//! The vocabulary and shared machinery of omnichannel: the [`Channel`] trait every provider
//! crate implements, the normalized [`Event`] and outbound [`Message`], webhook request and
//! reply types, signature and JWT helpers, the [`TokenManager`], stores and typed errors.
//!
//! ```
//! use omnichannel_core::signature::{self, Algorithm, SigningKeys};
//! use omnichannel_core::{Capabilities, Message, AttachmentKind, Event, EventKind, Provider};
//!
//! // Sign and verify with the same code (current and previous secret during a rotation).
//! let keys = SigningKeys::new("test-secret-not-real").with_previous("old-test-secret");
//! let body = br#"{"hello":"world"}"#;
//! let sig = signature::sign_hex(Algorithm::Sha256, &keys, &[b"1700000000.", body]);
//! signature::verify_hex(Algorithm::Sha256, &keys, "X-Signature", &[b"1700000000.", body], &sig)?;
//!
//! // Check a message against what a channel carries, before any network call.
//! let caps = Capabilities::text_only()
//!     .with_max_text_chars(6000)
//!     .with_attachments(&[AttachmentKind::Image], 1);
//! caps.check(&Message::text("Hello!").conversation_id("c-1").build())?;
//!
//! // The normalized event serializes to the contract JSON; absent fields are omitted.
//! let mut e = Event::new(Provider::Tiktok, EventKind::Message, "m-1");
//! e.text = Some("hi".into());
//! assert_eq!(serde_json::to_string(&e)?, r#"{"provider":"tiktok","kind":"message","id":"m-1","text":"hi"}"#);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
#![forbid(unsafe_code)]

pub mod capabilities;
pub mod channel;
pub mod clock;
pub mod config;
pub mod error;
pub mod event;
pub mod http;
pub mod json;
pub mod jwt;
pub mod message;
pub mod raw;
pub mod signature;
pub mod store;
pub mod token;
pub mod utf8;
pub mod webhook;

pub use capabilities::{Capabilities, Unsupported};
pub use channel::{Channel, ChannelEnv, ChannelFactory, default_reject_reply};
pub use clock::{Clock, FixedClock, SystemClock};
pub use config::Settings;
pub use error::{Error, JsonFault, Result, VerifyError};
pub use event::{
    Attachment, AttachmentKind, DeliveryState, Direction, Event, EventKind, InboundEvent, Party,
    Provider, Role, Status, Typing,
};
pub use message::{
    Contact, Message, MessageBuilder, OutboundAttachment, OutboundMessage, SendReceipt, SendStatus,
};
pub use raw::{Raw, RawJson};
pub use signature::SigningKeys;
pub use store::{
    DedupStore, Lock, LockLease, MemoryDedupStore, MemoryLock, MemoryTokenStore, TokenStore,
};
pub use token::{AccessToken, ReauthorizationNotice, StaticTokenSource, TokenManager, TokenSource};
pub use webhook::{Inbound, WebhookReply, WebhookRequest};

/// Re-exported so hosts and provider crates use the same versions.
pub use async_trait::async_trait;
pub use bytes::Bytes;
pub use secrecy::{self, ExposeSecret, SecretString};
