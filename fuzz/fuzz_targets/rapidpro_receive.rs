//! RapidPro calls to the app: `receive` on every inbound fixture (every endpoint), mutated,
//! authorized again with the configured secret, headers edited. The channel keeps rooms in a
//! store, so each run builds a fresh one (seeded with the fixture config's rooms) to stay independent.
#![no_main]

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use omnichannel_fuzz::{Case, load_cases, run_request_target, tickets_authorize};
use omnichannel_rocketchat_rapidpro::{RapidproChannel, RapidproConfig, RapidproFactory};

fn cases() -> &'static [Case] {
    static CASES: OnceLock<Vec<Case>> = OnceLock::new();
    CASES.get_or_init(|| load_cases(&RapidproFactory, &["rapidpro"]))
}

fuzz_target!(|data: &[u8]| {
    run_request_target(
        data,
        cases(),
        &["authorization", "content-type"],
        tickets_authorize,
        |case| {
            let cfg = RapidproConfig::from_settings(&case.config).ok()?;
            let channel = RapidproChannel::new(cfg, &case.env).ok()?;
            Some(std::sync::Arc::new(channel))
        },
    );
});
