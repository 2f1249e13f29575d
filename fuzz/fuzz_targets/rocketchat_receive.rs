//! Rocket.Chat (RapidPro side): `receive` of the app's callbacks on every inbound fixture,
//! mutated, authorized again with the configured secret, headers edited.
#![no_main]

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use omnichannel_fuzz::{Case, load_cases, run_request_target, tickets_authorize};

fn cases() -> &'static [Case] {
    static CASES: OnceLock<Vec<Case>> = OnceLock::new();
    CASES.get_or_init(|| {
        load_cases(
            &omnichannel_rocketchat_rapidpro::RocketchatFactory,
            &["rocketchat"],
        )
    })
}

fuzz_target!(|data: &[u8]| {
    run_request_target(
        data,
        cases(),
        &["authorization", "content-type"],
        tickets_authorize,
        |case| Some(case.channel.clone()),
    );
});
