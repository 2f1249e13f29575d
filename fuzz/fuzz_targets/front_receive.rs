//! Front: `receive` on every inbound fixture, mutated, signed again with the crate's signer
//! (seconds or milliseconds timestamps, `undefined` for empty DELETE bodies), headers edited.
#![no_main]

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use omnichannel_front::webhook;
use omnichannel_fuzz::{Case, keys_of, load_cases, run_request_target};

fn cases() -> &'static [Case] {
    static CASES: OnceLock<Vec<Case>> = OnceLock::new();
    CASES.get_or_init(|| load_cases(&omnichannel_front::Factory, &["front"]))
}

fuzz_target!(|data: &[u8]| {
    run_request_target(
        data,
        cases(),
        &[
            webhook::SIGNATURE_HEADER,
            webhook::TIMESTAMP_HEADER,
            "authorization",
        ],
        |case, req| {
            let Some(keys) = keys_of(&case.config, "app_secret") else {
                return;
            };
            let signed = webhook::sign_request(
                &keys,
                req.method.clone(),
                &req.url,
                case.now,
                req.body.clone(),
            );
            for h in [webhook::SIGNATURE_HEADER, webhook::TIMESTAMP_HEADER] {
                if let Some(v) = signed.headers.get(h) {
                    req.headers.insert(h, v.clone());
                }
            }
        },
        |case| Some(case.channel.clone()),
    );
});
