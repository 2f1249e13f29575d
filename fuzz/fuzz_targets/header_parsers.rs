//! The header and small-input parsers that public requests reach before or around verification:
//! TikTok's `Tiktok-Signature`, timestamps, hex and base64 signatures, the time window,
//! SignalWire's public URL rewriting and form decoder, E.164 numbers, RapidPro endpoint routing,
//! single-header access on doubled and non-ASCII values, `Retry-After`, TikTok's OAuth callback
//! query and `state`. The first byte picks the parser.
#![no_main]

use std::sync::OnceLock;
use std::time::Duration;

use bytes::Bytes;
use chrono::DateTime;
use http::{HeaderMap, HeaderValue, Method};
use libfuzzer_sys::fuzz_target;
use omnichannel_core::signature::{self, Algorithm};
use omnichannel_core::{ChannelFactory, WebhookRequest};
use omnichannel_fuzz::{Unstructured, arbitrary};

fn tiktok_config() -> Option<&'static omnichannel_tiktok::TiktokConfig> {
    static CFG: OnceLock<Option<omnichannel_tiktok::TiktokConfig>> = OnceLock::new();
    CFG.get_or_init(|| {
        omnichannel_tiktok::TiktokConfig::from_settings(&omnichannel_tiktok::Factory.demo_config())
            .ok()
    })
    .as_ref()
}

fn run(u: &mut Unstructured<'_>) -> arbitrary::Result<()> {
    let which: u8 = u.arbitrary()?;
    match which % 13 {
        0 => {
            let _ = omnichannel_tiktok::webhook::parse_signature_header(u.arbitrary()?);
        }
        1 => {
            let _ = signature::parse_timestamp("x-timestamp", u.arbitrary()?);
        }
        2 => {
            let alg = if u.arbitrary()? {
                Algorithm::Sha1
            } else {
                Algorithm::Sha256
            };
            let s: &str = u.arbitrary()?;
            let _ = signature::decode_hex(alg, "x-signature", s);
            let _ = signature::decode_base64(alg, "x-signature", s);
        }
        3 => {
            let signed: i64 = u.arbitrary()?;
            let now: i64 = u.arbitrary()?;
            let tol: u64 = u.arbitrary()?;
            if let Some(now) = DateTime::from_timestamp(now, 0) {
                let _ = signature::check_window(signed, now, Duration::from_secs(tol));
            }
        }
        4 => {
            let url: &str = u.arbitrary()?;
            let base: Option<&str> = u.arbitrary()?;
            if let Ok(public) = omnichannel_signalwire::webhook::public_url(url, base) {
                let _ = omnichannel_signalwire::webhook::url_variants(&public);
            }
            let _ = omnichannel_signalwire::webhook::url_variants(url);
        }
        5 => {
            let max = u.int_in_range(0usize..=64)?;
            let _ = omnichannel_signalwire::webhook::decode_form(u.arbitrary()?, max);
        }
        6 => {
            let region = if u.arbitrary()? {
                Some(omnichannel_signalwire::Region::US)
            } else {
                None
            };
            let _ = omnichannel_signalwire::to_e164(u.arbitrary()?, region);
        }
        7 => {
            let url: &str = u.arbitrary()?;
            let app: &str = u.arbitrary()?;
            let _ = omnichannel_rocketchat_rapidpro::webhook::endpoint_of(url, app);
        }
        8 => {
            // A header sent zero, one or several times with any legal bytes.
            let mut headers = HeaderMap::new();
            let n = u.int_in_range(0u8..=3)?;
            for _ in 0..n {
                let raw: &[u8] = u.arbitrary()?;
                if let Ok(v) = HeaderValue::from_bytes(raw) {
                    headers.append("x-signature", v);
                }
            }
            let url: String = u.arbitrary()?;
            let req = WebhookRequest::new(Method::POST, url, headers, Bytes::new());
            let _ = req.header("x-signature");
            let _ = req.require_header("x-signature");
            let _ = req.first_header_of(&["x-other", "x-signature"]);
            let _ = req.query();
            let _ = omnichannel_tiktok::webhook::verify_request(
                &omnichannel_core::SigningKeys::new("test-secret-not-real"),
                Duration::from_secs(300),
                1024,
                &req,
                DateTime::from_timestamp(1_700_000_000, 0).unwrap_or_default(),
            );
        }
        9 => {
            let raw: &[u8] = u.arbitrary()?;
            let now: i64 = u.arbitrary()?;
            if let (Ok(v), Some(now)) = (
                HeaderValue::from_bytes(raw),
                DateTime::from_timestamp(now, 0),
            ) {
                let mut headers = HeaderMap::new();
                headers.insert(http::header::RETRY_AFTER, v);
                let _ = omnichannel_core::http::retry_after(&headers, now);
            }
        }
        10 => {
            let params = omnichannel_tiktok::CallbackParams::from_query(u.arbitrary()?);
            if let (Some(cfg), Some(state)) = (tiktok_config(), params.state.as_deref()) {
                let now = DateTime::from_timestamp(1_700_000_000, 0).unwrap_or_default();
                let _ = omnichannel_tiktok::auth::verify_state(cfg, state, now);
            }
        }
        11 => {
            let state: &str = u.arbitrary()?;
            if let Some(cfg) = tiktok_config() {
                let now = DateTime::from_timestamp(1_700_000_000, 0).unwrap_or_default();
                let _ = omnichannel_tiktok::auth::verify_state(cfg, state, now);
            }
        }
        _ => {
            let v: i64 = u.arbitrary()?;
            let _ = omnichannel_front::webhook::timestamp_secs(v);
            let _ = signature::parse_timestamp("x-front-request-timestamp", &v.to_string());
        }
    }
    Ok(())
}

fuzz_target!(|data: &[u8]| {
    let mut u = Unstructured::new(data);
    let _ = run(&mut u);
});
