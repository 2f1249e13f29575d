//! Properties: what the signer signs verifies, any change to it does not, and no input panics.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use bytes::Bytes;
use http::{HeaderMap, HeaderValue, Method};
use omnichannel_core::WebhookRequest;
use omnichannel_core::signature::SigningKeys;
use omnichannel_signalwire::phone::{Region, to_e164};
use omnichannel_signalwire::webhook::{self, Verifier};
use proptest::prelude::*;

fn verifier() -> Verifier {
    Verifier::new(
        SigningKeys::new("PSK_prop-test-key-not-real"),
        None,
        1 << 20,
        500,
    )
}

fn params() -> impl Strategy<Value = Vec<(String, String)>> {
    prop::collection::vec(("[A-Za-z][A-Za-z0-9]{0,12}", "\\PC{0,40}"), 0..20)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    #[test]
    fn signed_requests_verify_and_changes_do_not(
        p in params(),
        path in "[a-z0-9/]{0,20}",
        query in proptest::option::of("[a-z]{1,5}=[a-z0-9]{0,5}"),
        flip in any::<prop::sample::Index>(),
    ) {
        let keys = SigningKeys::new("PSK_prop-test-key-not-real");
        let url = match &query {
            Some(q) => format!("https://hooks.example.com/{path}?{q}"),
            None => format!("https://hooks.example.com/{path}"),
        };
        let pairs: Vec<(&str, &str)> = p.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        let req = webhook::sign_request(&keys, &url, &pairs);
        prop_assert!(verifier().verify(&req).is_ok());

        // Any appended parameter breaks it.
        let mut added = req.clone();
        let mut body = added.body.to_vec();
        if !body.is_empty() { body.push(b'&'); }
        body.extend_from_slice(b"Injected=1");
        added.body = Bytes::from(body);
        prop_assert!(verifier().verify(&added).is_err());

        // Changing one byte of a value breaks it (when there is one to change).
        if let Some((i, _)) = p.iter().enumerate().find(|(_, (_, v))| !v.is_empty()) {
            let mut changed = p.clone();
            let v = &mut changed[i].1;
            let c = v.chars().nth(flip.index(v.chars().count())).unwrap();
            let replacement = if c == 'x' { "y" } else { "x" };
            *v = v.replacen(c, replacement, 1);
            let cp: Vec<(&str, &str)> = changed.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
            let mut tampered = webhook::sign_request(&keys, &url, &cp);
            tampered.headers = req.headers.clone();
            prop_assert!(verifier().verify(&tampered).is_err());
        }
    }

    #[test]
    fn verify_never_panics(
        body in prop::collection::vec(any::<u8>(), 0..300),
        url in "\\PC{0,60}",
        sig in "[A-Za-z0-9+/=]{0,50}",
        get in any::<bool>(),
    ) {
        let mut h = HeaderMap::new();
        if let Ok(v) = HeaderValue::from_str(&sig) {
            h.insert("x-signalwire-signature", v);
        }
        let m = if get { Method::GET } else { Method::POST };
        let req = WebhookRequest::new(m, url, h, Bytes::from(body));
        let _ = verifier().verify(&req);
    }

    #[test]
    fn phone_normalization_never_panics_and_yields_e164(
        s in "\\PC{0,30}",
        region in prop::sample::select(Region::ALL.to_vec()),
    ) {
        if let Ok(n) = to_e164(&s, Some(region)) {
            prop_assert!(n.starts_with('+'));
            prop_assert!(n.len() <= 16);
            prop_assert!(n[1..].bytes().all(|b| b.is_ascii_digit()));
        }
        let _ = to_e164(&s, None);
    }
}
