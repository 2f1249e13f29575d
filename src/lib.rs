//! # omnichannel
//!
//! Channel adapters for messaging providers: verified webhooks in, normalized events out,
//! deliveries with fresh tokens. This facade re-exports the core at its root and each provider
//! crate under its own module, one cargo feature per provider (all on by default).
//!
//! ```
//! use omnichannel::{Capabilities, Message};
//!
//! let caps = Capabilities::text_only().with_max_text_chars(1600);
//! assert!(caps.check(&Message::text("hello").build()).is_ok());
//! ```
#![forbid(unsafe_code)]

pub use omnichannel_core as core;
pub use omnichannel_core::*;

/// TikTok Business Messaging (`omnichannel-tiktok`).
#[cfg(feature = "tiktok")]
pub use omnichannel_tiktok as tiktok;

/// Front application channels (`omnichannel-front`).
#[cfg(feature = "front")]
pub use omnichannel_front as front;

/// SignalWire SMS/MMS (`omnichannel-signalwire`).
#[cfg(feature = "signalwire")]
pub use omnichannel_signalwire as signalwire;

/// RapidPro tickets on Rocket.Chat Omnichannel (`omnichannel-rocketchat-rapidpro`).
#[cfg(feature = "rocketchat-rapidpro")]
pub use omnichannel_rocketchat_rapidpro as rocketchat_rapidpro;

/// Salesforce Interaction Service (`omnichannel-salesforce-interaction`).
#[cfg(feature = "salesforce-interaction")]
pub use omnichannel_salesforce_interaction as salesforce_interaction;

/// Redis stores (`omnichannel-redis`).
#[cfg(feature = "redis")]
pub use omnichannel_redis as redis;

/// Every enabled provider's channel factories, for building channels from settings by name.
pub fn factories() -> Vec<std::sync::Arc<dyn ChannelFactory>> {
    #[allow(unused_mut)]
    let mut all: Vec<std::sync::Arc<dyn ChannelFactory>> = Vec::new();
    #[cfg(feature = "tiktok")]
    all.extend(omnichannel_tiktok::factories());
    #[cfg(feature = "front")]
    all.extend(omnichannel_front::factories());
    #[cfg(feature = "signalwire")]
    all.extend(omnichannel_signalwire::factories());
    #[cfg(feature = "rocketchat-rapidpro")]
    all.extend(omnichannel_rocketchat_rapidpro::factories());
    #[cfg(feature = "salesforce-interaction")]
    all.extend(omnichannel_salesforce_interaction::factories());
    all
}
