//! TikTok: `receive` on every inbound fixture, mutated (double-encoded `content` edited inside),
//! signed again with the crate's signer, headers edited.
#![no_main]

use std::sync::OnceLock;

use http::HeaderValue;
use libfuzzer_sys::fuzz_target;
use omnichannel_fuzz::{Case, keys_of, load_cases, run_request_target};
use omnichannel_tiktok::webhook;

fn cases() -> &'static [Case] {
    static CASES: OnceLock<Vec<Case>> = OnceLock::new();
    CASES.get_or_init(|| load_cases(&omnichannel_tiktok::Factory, &["tiktok"]))
}

fuzz_target!(|data: &[u8]| {
    run_request_target(
        data,
        cases(),
        &["tiktok-signature"],
        |case, req| {
            let Some(keys) = keys_of(&case.config, "app_secret") else {
                return;
            };
            let value = webhook::sign(&keys, case.now.timestamp(), &req.body);
            if let Ok(v) = HeaderValue::from_str(&value) {
                req.headers.insert(webhook::SIGNATURE_HEADER, v);
            }
        },
        |case| Some(case.channel.clone()),
    );
});
