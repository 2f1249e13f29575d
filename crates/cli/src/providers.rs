//! The providers built into the `omnichannel` binary: the one place to list them.
//!
//! Each provider crate exports `pub fn factories() -> Vec<Arc<dyn ChannelFactory>>`; a new
//! provider is one more line here.

use std::sync::Arc;

use omnichannel_core::ChannelFactory;

/// Every channel factory built in, one per provider the `omnichannel` binary serves.
pub fn factories() -> Vec<Arc<dyn ChannelFactory>> {
    let mut list: Vec<Arc<dyn ChannelFactory>> = Vec::new();
    list.extend(omnichannel_tiktok::factories());
    list.extend(omnichannel_front::factories());
    list.extend(omnichannel_signalwire::factories());
    list.extend(omnichannel_rocketchat_rapidpro::factories());
    list.extend(omnichannel_salesforce_interaction::factories());
    list
}
