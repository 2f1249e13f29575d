//! The log-hygiene check catches a channel that logs its secret. A test binary of its own:
//! `tracing`'s callsite interest is per process, so other tests logging in parallel without a
//! subscriber would hide events from the capture.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

mod support;

use serde_json::json;
use support::{SIG, inbound, registry, signed};

#[tokio::test(flavor = "current_thread")]
async fn log_hygiene_check_catches_a_leaking_channel() {
    let dir = std::env::temp_dir().join(format!("omnichannel-hygiene-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let body = r#"{"id":"m1","text":"hi"}"#;
    let mut fx = inbound(body, json!({SIG: signed(body)}), json!({"verified": true}));
    std::fs::write(dir.join("clean.json"), serde_json::to_string(&fx).unwrap()).unwrap();
    let dirs = std::slice::from_ref(&dir);
    let problems = omnichannel_testkit::hygiene::fixture_logs_leaks(&registry(), dirs).await;
    assert!(problems.is_empty(), "{problems:?}");
    fx.config["leak"] = json!(true);
    std::fs::write(dir.join("leaky.json"), serde_json::to_string(&fx).unwrap()).unwrap();
    let problems = omnichannel_testkit::hygiene::fixture_logs_leaks(&registry(), dirs).await;
    assert_eq!(problems.len(), 1, "{problems:?}");
    assert!(
        problems[0].contains("appear in the TRACE log"),
        "{problems:?}"
    );
    assert!(!problems[0].contains("test-secret-not-real"));
    std::fs::remove_dir_all(&dir).unwrap();
}
