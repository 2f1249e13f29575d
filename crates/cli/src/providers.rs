//! The providers built into the `omnichannel` binary: the one place to list them.
//!
//! Integration point: each provider crate exports
//! `pub fn factories() -> Vec<Arc<dyn ChannelFactory>>`; add them here, for example
//! `list.extend(omnichannel_tiktok::factories());`.

use std::sync::Arc;

use omnichannel_core::ChannelFactory;

/// Every channel factory built in.
///
/// With the `testing` feature (the crate's own tests), and only while no provider crate is
/// listed, the HMAC test channel of `omnichannel-axum` stands in so the gateway and the
/// commands can be tested end to end. It is never part of a release build.
pub fn factories() -> Vec<Arc<dyn ChannelFactory>> {
    #[allow(unused_mut)]
    let mut list: Vec<Arc<dyn ChannelFactory>> = Vec::new();
    #[cfg(feature = "testing")]
    if list.is_empty() {
        list.push(Arc::new(omnichannel_axum::testing::TestFactory::default()));
    }
    list
}
