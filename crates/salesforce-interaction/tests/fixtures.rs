//! Plays `tests/fixtures/salesforce/` through the testkit with this crate's factory.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;

use omnichannel_testkit::{Registry, fixture_files, run_dirs, workspace_fixtures};

#[tokio::test]
async fn salesforce_fixtures_pass() {
    let dir = workspace_fixtures(env!("CARGO_MANIFEST_DIR")).join("salesforce");
    let files = fixture_files(&dir).expect("fixture folder");
    assert!(files.len() >= 45, "only {} fixtures", files.len());
    let registry = Registry::new().with(Arc::new(omnichannel_salesforce_interaction::Factory));
    let report = run_dirs(&registry, &[dir]).await;
    for o in &report.outcomes {
        println!("{}", o.render());
    }
    println!("{}", report.summary());
    assert_eq!(report.outcomes.len(), files.len());
    report.assert_all_passed();
}
