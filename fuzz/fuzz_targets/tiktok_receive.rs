//! TikTok: `receive` on every inbound fixture, mutated (double-encoded `content` edited inside),
//! signed again with the crate's signer, headers edited. Every body signed again is also read
//! both ways, `webhook::parse` (one pass where it can) and `webhook::parse_plain`: their answers
//! (events, or error texts) must be the same.
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
            let fast = webhook::parse(&req.body).map_err(|e| e.to_string());
            let plain = webhook::parse_plain(&req.body).map_err(|e| e.to_string());
            assert_eq!(fast, plain, "the one-pass and the plain readings differ");
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
