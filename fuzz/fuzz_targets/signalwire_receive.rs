//! SignalWire: `receive` on every inbound fixture (form, JSON and GET webhooks), mutated, signed
//! again over the public URL (the SDK hex scheme over URL + body, or the base64 scheme over URL +
//! sorted form parameters, picked by the input), headers edited. Reaches the form parser with
//! arbitrary bytes.
#![no_main]

use std::sync::OnceLock;

use http::{HeaderValue, Method};
use libfuzzer_sys::fuzz_target;
use omnichannel_core::signature::{self, Algorithm};
use omnichannel_fuzz::{Case, keys_of, load_cases, run_request_target};
use omnichannel_signalwire::webhook;

fn cases() -> &'static [Case] {
    static CASES: OnceLock<Vec<Case>> = OnceLock::new();
    CASES.get_or_init(|| load_cases(&omnichannel_signalwire::Factory, &["signalwire"]))
}

fuzz_target!(|data: &[u8]| {
    // The last byte picks the signing scheme, so the rest of the input keeps its meaning.
    let hex_scheme = data.last().is_some_and(|b| b & 1 == 1);
    run_request_target(
        data,
        cases(),
        &["x-signalwire-signature", "x-twilio-signature"],
        |case, req| {
            let Some(keys) = keys_of(&case.config, "signing_key") else {
                return;
            };
            let base = case.config.get("public_base_url").and_then(|v| v.as_str());
            let Ok(url) = webhook::public_url(&req.url, base) else {
                return;
            };
            let sig = if hex_scheme {
                signature::sign_hex(Algorithm::Sha1, &keys, &[url.as_bytes(), &req.body])
            } else if req.method == Method::GET
                || req.method == Method::HEAD
                || url.contains("bodySHA256=")
            {
                let none: [(&str, &str); 0] = [];
                webhook::compute_signature(&keys, &url, &none)
            } else {
                match webhook::decode_form(&req.body, 100_000) {
                    Ok(params) => webhook::compute_signature(&keys, &url, &params),
                    Err(_) => return,
                }
            };
            if let Ok(v) = HeaderValue::from_str(&sig) {
                req.headers.remove("x-twilio-signature");
                req.headers.insert("x-signalwire-signature", v);
            }
        },
        |case| Some(case.channel.clone()),
    );
});
