//! Plays `tests/fixtures/tiktok/` through the testkit, and proves every fixture signature is the
//! production signer's output (run with `TIKTOK_UPDATE_FIXTURES=1` to rewrite them after
//! editing a fixture body).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::PathBuf;

use omnichannel_core::SigningKeys;
use omnichannel_testkit::{
    HeaderSpec, Registry, fixture_files, load, run_dirs, workspace_fixtures,
};
use omnichannel_tiktok::{Factory, TiktokConfig, webhook};

fn dir() -> PathBuf {
    workspace_fixtures(env!("CARGO_MANIFEST_DIR")).join("tiktok")
}

#[tokio::test]
async fn all_fixtures_pass() {
    let files = fixture_files(&dir()).unwrap();
    assert!(
        files.len() >= 25,
        "expected the TikTok fixture set, found {}",
        files.len()
    );
    let registry = Registry::new().with(std::sync::Arc::new(Factory));
    let report = run_dirs(&registry, &[dir()]).await;
    for o in &report.outcomes {
        println!("{}", o.render());
    }
    assert_eq!(report.outcomes.len(), files.len());
    report.assert_all_passed();
}

/// How a fixture's signature was made, when not with the config's primary secret over its body.
fn signing_for(file: &str, cfg: &TiktokConfig, body: &str) -> Option<(SigningKeys, String)> {
    match file {
        // No valid signature on purpose.
        "signature_missing_header.json" | "signature_malformed_header.json" => None,
        "signature_wrong_secret.json" => {
            Some((SigningKeys::new("wrong-secret-not-real"), body.to_string()))
        }
        // Signed over the original body; one byte changed afterwards.
        "signature_changed_body_byte.json" => Some((
            cfg.app_secret.clone(),
            body.replace("Hellp from TikTok", "Hello from TikTok"),
        )),
        // Signed with the previous secret of a rotation.
        "inbound_rotated_secret.json" => {
            Some((SigningKeys::new("test-secret-not-real"), body.to_string()))
        }
        _ => Some((cfg.app_secret.clone(), body.to_string())),
    }
}

#[test]
fn fixture_signatures_come_from_the_signer() {
    let update = std::env::var("TIKTOK_UPDATE_FIXTURES").is_ok_and(|v| v == "1");
    let mut checked = 0;
    for path in fixture_files(&dir()).unwrap() {
        let fx = load(&path).unwrap();
        let Some(req) = fx.inbound.as_ref().and_then(|i| i.request.as_ref()) else {
            continue;
        };
        let name = path.file_name().unwrap().to_string_lossy().to_string();
        let Some(spec) = req
            .headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(webhook::SIGNATURE_HEADER))
            .map(|(_, v)| v)
        else {
            continue;
        };
        let cfg = TiktokConfig::from_settings(&fx.config).unwrap();
        let body = req.body.clone().unwrap_or_default();
        let Some((keys, signed_body)) = signing_for(&name, &cfg, &body) else {
            continue;
        };
        let values = match spec {
            HeaderSpec::One(v) => vec![v.clone()],
            HeaderSpec::Many(v) => v.clone(),
        };
        let mut text = std::fs::read_to_string(&path).unwrap();
        for value in values {
            let parsed = webhook::parse_signature_header(&value).unwrap();
            let expected = webhook::sign(&keys, parsed.timestamp, signed_body.as_bytes());
            let expected_s = expected.rsplit_once("s=").unwrap().1.to_string();
            if update {
                text = text.replacen(parsed.signature, &expected_s, 1);
            } else {
                assert_eq!(
                    parsed.signature, expected_s,
                    "{name}: signature differs from the signer's (TIKTOK_UPDATE_FIXTURES=1 rewrites it)"
                );
            }
            checked += 1;
        }
        if update {
            std::fs::write(&path, text).unwrap();
        }
    }
    assert!(checked >= 18, "only {checked} signatures checked");
}
