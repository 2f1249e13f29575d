//! Secret hygiene in logs: every SignalWire fixture (full receives and sends, with the secrets
//! of its config) is played under a TRACE subscriber writing into a buffer; no secret of any
//! fixture config appears in what was logged (this crate's events, and reqwest's and hyper's
//! traces of the sends).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;

use omnichannel_testkit::hygiene::fixture_logs_leaks_with;
use omnichannel_testkit::{Registry, workspace_fixtures};

use serde_json::Value;

/// The Basic credentials of the REST API (`project_id:api_token` in base64) are a secret too.
fn basic_credentials(config: &Value) -> Vec<String> {
    use base64::Engine as _;
    match (
        config.get("project_id").and_then(Value::as_str),
        config.get("api_token").and_then(Value::as_str),
    ) {
        (Some(p), Some(t)) => {
            vec![base64::engine::general_purpose::STANDARD.encode(format!("{p}:{t}"))]
        }
        _ => Vec::new(),
    }
}

#[tokio::test(flavor = "current_thread")]
async fn trace_logs_of_every_fixture_hold_no_secret() {
    let dirs: Vec<_> = ["signalwire"]
        .iter()
        .map(|d| workspace_fixtures(env!("CARGO_MANIFEST_DIR")).join(d))
        .collect();
    let registry = Registry::new().with(Arc::new(omnichannel_signalwire::Factory));
    let problems = fixture_logs_leaks_with(&registry, &dirs, &basic_credentials).await;
    assert!(problems.is_empty(), "{problems:?}");
}
