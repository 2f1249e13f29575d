//! Plays `tests/fixtures/front/` through the Front factory, and checks that every signature in
//! the fixtures is what the production signer computes (so fixtures and code cannot drift).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::PathBuf;
use std::sync::Arc;

use omnichannel_core::SigningKeys;
use omnichannel_front::webhook::{TIMESTAMP_HEADER, sign};
use omnichannel_testkit::{Registry, fixture_files, run_dirs, workspace_fixtures};
use serde_json::Value;

const MIN_FIXTURES: usize = 30;
/// The timestamp used when a fixture has no timestamp header to sign with.
const DEFAULT_TS: &str = "1704067200000";

fn dir() -> PathBuf {
    workspace_fixtures(env!("CARGO_MANIFEST_DIR")).join("front")
}

#[tokio::test]
async fn all_front_fixtures_pass() {
    let registry = Registry::new().with(Arc::new(omnichannel_front::Factory));
    let report = run_dirs(&registry, &[dir()]).await;
    for o in &report.outcomes {
        println!("{}", o.render());
    }
    report.assert_all_passed();
    assert!(
        report.outcomes.len() >= MIN_FIXTURES,
        "expected at least {MIN_FIXTURES} Front fixtures, found {}",
        report.outcomes.len()
    );
}

fn keys_of(config: &Value) -> Vec<String> {
    match &config["app_secret"] {
        Value::String(s) => vec![s.clone()],
        Value::Array(a) => a
            .iter()
            .filter_map(|v| v.as_str().map(str::to_string))
            .collect(),
        _ => vec![],
    }
}

fn header<'a>(headers: &'a Value, name: &str) -> Option<&'a Value> {
    headers
        .as_object()?
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(name))
        .map(|(_, v)| v)
}

/// The bodies a request's signature may cover: the body, and `undefined` for an empty DELETE.
fn signed_bodies(req: &Value) -> Vec<String> {
    let body = req["body"].as_str().unwrap_or("").to_string();
    let mut out = vec![body.clone()];
    if req["method"].as_str() == Some("DELETE") && body.is_empty() {
        out.push("undefined".into());
    }
    out
}

#[test]
fn accepted_fixtures_are_signed_by_the_production_signer() {
    let mut checked = 0;
    for path in fixture_files(&dir()).unwrap() {
        let fx: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
        let Some(req) = fx["inbound"]["request"]
            .as_object()
            .map(|_| &fx["inbound"]["request"])
        else {
            continue;
        };
        let text = serde_json::to_string(req).unwrap();
        assert!(
            !text.contains("__SIGN"),
            "{}: unsigned placeholder; run `cargo test -p omnichannel-front --test fixtures -- --ignored fill`",
            path.display()
        );
        if fx["inbound"]["expect"]["verified"] != Value::Bool(true) {
            continue;
        }
        let headers = &req["headers"];
        let ts = header(headers, TIMESTAMP_HEADER)
            .and_then(Value::as_str)
            .unwrap();
        let sig = header(headers, "x-front-signature")
            .and_then(Value::as_str)
            .unwrap();
        let matches = keys_of(&fx["config"]).iter().any(|k| {
            signed_bodies(req)
                .iter()
                .any(|b| sign(&SigningKeys::new(k.clone()), ts, b.as_bytes()) == sig)
        });
        assert!(
            matches,
            "{}: signature differs from the production signer",
            path.display()
        );
        checked += 1;
    }
    assert!(checked >= 11, "only {checked} accepted fixtures checked");
}

/// Replaces signature placeholders in the fixture files with signatures from the production
/// signer: `__SIGN__` (first configured secret, the request's timestamp and body),
/// `__SIGN_WITH:<secret>__` (another secret), `__SIGN_BODY:<body>__` (another body, for
/// changed-body negatives).
#[test]
#[ignore = "rewrites fixture files; run by hand after adding fixtures"]
fn fill_fixture_signatures() {
    for path in fixture_files(&dir()).unwrap() {
        let mut text = std::fs::read_to_string(&path).unwrap();
        if !text.contains("__SIGN") {
            continue;
        }
        let fx: Value = serde_json::from_str(&text).unwrap();
        let req = &fx["inbound"]["request"];
        let ts = header(&req["headers"], TIMESTAMP_HEADER)
            .and_then(|v| v.as_str().or_else(|| v[0].as_str()))
            .unwrap_or(DEFAULT_TS)
            .to_string();
        let primary = keys_of(&fx["config"])[0].clone();
        let body = signed_bodies(req).pop().unwrap();
        let placeholders: Vec<String> = {
            let mut v = Vec::new();
            let mut rest = text.as_str();
            while let Some(i) = rest.find("\"__SIGN") {
                let tail = &rest[i + 1..];
                let end = tail.find("__\"").unwrap();
                // Placeholders may carry JSON-escaped text; find the closing `__"`.
                v.push(tail[..end + 2].to_string());
                rest = &tail[end + 2..];
            }
            v
        };
        for p in placeholders {
            let sig = if p == "__SIGN__" {
                sign(&SigningKeys::new(primary.clone()), &ts, body.as_bytes())
            } else if let Some(s) = p
                .strip_prefix("__SIGN_WITH:")
                .and_then(|s| s.strip_suffix("__"))
            {
                sign(&SigningKeys::new(s.to_string()), &ts, body.as_bytes())
            } else if let Some(b) = p
                .strip_prefix("__SIGN_BODY:")
                .and_then(|s| s.strip_suffix("__"))
            {
                let unescaped: String = serde_json::from_str(&format!("\"{b}\"")).unwrap();
                sign(
                    &SigningKeys::new(primary.clone()),
                    &ts,
                    unescaped.as_bytes(),
                )
            } else {
                panic!("unknown placeholder {p}");
            };
            text = text.replacen(&format!("\"{p}\""), &format!("\"{sig}\""), 1);
        }
        std::fs::write(&path, text).unwrap();
    }
}
