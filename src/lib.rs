//! # omnichannel
//!
//! Channel adapters for messaging providers. This facade re-exports the core and, through one
//! cargo feature per provider, each provider crate.
#![forbid(unsafe_code)]

pub use omnichannel_core as core;
pub use omnichannel_core::*;
