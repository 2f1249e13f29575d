//! Secret hygiene in logs: every Front fixture (full receives and sends, with the secrets
//! of its config) is played under a TRACE subscriber writing into a buffer; no secret of any
//! fixture config appears in what was logged (this crate's events, and reqwest's and hyper's
//! traces of the sends).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;

use omnichannel_testkit::hygiene::fixture_logs_leaks_with;
use omnichannel_testkit::{Registry, workspace_fixtures};

#[tokio::test(flavor = "current_thread")]
async fn trace_logs_of_every_fixture_hold_no_secret() {
    let dirs: Vec<_> = ["front"]
        .iter()
        .map(|d| workspace_fixtures(env!("CARGO_MANIFEST_DIR")).join(d))
        .collect();
    let registry = Registry::new().with(Arc::new(omnichannel_front::Factory));
    let problems = fixture_logs_leaks_with(&registry, &dirs, &|_| Vec::new()).await;
    assert!(problems.is_empty(), "{problems:?}");
}
