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

/// The fixtures check what they claim: a changed expectation makes them fail.
#[tokio::test]
async fn changed_expectations_fail() {
    let dir = workspace_fixtures(env!("CARGO_MANIFEST_DIR")).join("salesforce");
    let registry = Registry::new().with(Arc::new(omnichannel_salesforce_interaction::Factory));

    let mut fx = omnichannel_testkit::load(&dir.join("send-text.json")).unwrap();
    assert!(omnichannel_testkit::run(&registry, &fx).await.is_empty());
    let out = fx.outbound.as_mut().unwrap();
    let serde_json::Value::Object(req) = serde_json::to_value(out.expect_request.clone()).unwrap()
    else {
        panic!("one request expected")
    };
    let mut req = serde_json::Value::Object(req);
    req["body"]["json"]["interactions"][0]["payload"]["abstractMessage"]["staticContent"]["text"] =
        serde_json::json!("something else");
    out.expect_request = Some(serde_json::from_value(req).unwrap());
    let diffs = omnichannel_testkit::run(&registry, &fx).await;
    assert!(
        diffs.iter().any(|d| d.contains("staticContent.text")),
        "{diffs:?}"
    );

    let mut fx = omnichannel_testkit::load(&dir.join("event-legacy-text.json")).unwrap();
    fx.inbound.as_mut().unwrap().expect.events.as_mut().unwrap()[0]["kind"] =
        serde_json::json!("typing");
    let diffs = omnichannel_testkit::run(&registry, &fx).await;
    assert!(diffs.iter().any(|d| d.contains("kind")), "{diffs:?}");
}
