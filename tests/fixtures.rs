//! Every recorded exchange under `tests/fixtures/`, played through the real channels.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::path::PathBuf;

use omnichannel_testkit::{Registry, fixture_files, run_dirs};

fn registry() -> Registry {
    omnichannel::factories()
        .into_iter()
        .fold(Registry::new(), |r, f| r.with(f))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_fixture_passes() {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures");
    let report = run_dirs(&registry(), &[dir]).await;
    for o in &report.outcomes {
        println!("{}", o.render());
    }
    println!("{}", report.summary());
    report.assert_all_passed();
}

#[test]
fn every_provider_has_fixtures() {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures");
    for provider in [
        "tiktok",
        "front",
        "signalwire",
        "rocketchat",
        "rapidpro",
        "salesforce",
    ] {
        let files = fixture_files(&dir.join(provider)).unwrap_or_default();
        assert!(
            files.len() >= 8,
            "{provider}: only {} fixture(s) under tests/fixtures/{provider}",
            files.len()
        );
    }
}
