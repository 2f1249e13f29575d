//! The runner itself under test: a small HMAC-verified channel, fixtures that must pass and
//! fixtures that must fail with a precise difference.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

mod support;

use omnichannel_core::signature::{self, Algorithm, SigningKeys};
use omnichannel_testkit::{Fixture, run, run_dirs};
use serde_json::{Value, json};
use support::{SIG, inbound, registry, signed};

#[tokio::test]
async fn inbound_positive_passes() {
    let body = r#"{"id":"m1","text":"hi"}"#;
    let fx = inbound(
        body,
        json!({SIG: signed(body)}),
        json!({"verified": true,
               "events": [{"provider": "tiktok", "id": "m1", "text": "hi", "occurred_at": "2025-01-01T00:00:00Z"}],
               "reply": {"status": 200, "headers": {"Content-Type": "application/json"}, "body": {"ok": true}}}),
    );
    assert_eq!(run(&registry(), &fx).await, Vec::<String>::new());
}

#[tokio::test]
async fn inbound_differences_are_reported_by_path() {
    let body = r#"{"id":"m1","text":"hi"}"#;
    let fx = inbound(
        body,
        json!({SIG: signed(body)}),
        json!({"events": [{"text": "bye"}], "reply": {"status": 204, "body": "{}"}}),
    );
    let d = run(&registry(), &fx).await;
    assert_eq!(d.len(), 3, "{d:#?}");
    assert!(
        d[0].starts_with(r#"inbound.events[0].text: expected "bye", got "hi""#),
        "{d:#?}"
    );
    assert!(
        d[1].starts_with("inbound.reply.status: expected 204, got 200"),
        "{d:#?}"
    );
    assert!(
        d[2].starts_with("inbound.reply.body: expected exactly"),
        "{d:#?}"
    );
    // The number of events must match.
    let fx = inbound(body, json!({SIG: signed(body)}), json!({"events": []}));
    let d = run(&registry(), &fx).await;
    assert!(d[0].contains("expected 0 element(s), got 1"), "{d:#?}");
}

#[tokio::test]
async fn negatives_match_error_kinds() {
    let body = r#"{"id":"m1"}"#;
    let cases = [
        (json!({}), "missing_signature"),
        (
            json!({SIG: [signed(body), signed(body)]}),
            "malformed_signature",
        ),
        (json!({SIG: "zz"}), "malformed_signature"),
        (json!({SIG: signed(r#"{"id":"m2"}"#)}), "signature_mismatch"),
    ];
    for (headers, kind) in cases {
        let fx = inbound(
            body,
            headers.clone(),
            json!({"verified": false, "error": kind, "reply": {"status": 401, "body": {"error": kind}}}),
        );
        assert_eq!(
            run(&registry(), &fx).await,
            Vec::<String>::new(),
            "{headers}"
        );
        // The wrong kind is a failure that names both.
        let fx = inbound(
            body,
            headers,
            json!({"verified": false, "error": "stale_timestamp"}),
        );
        let d = run(&registry(), &fx).await;
        assert_eq!(d.len(), 1);
        assert!(
            d[0].contains("expected `stale_timestamp`") && d[0].contains(kind),
            "{d:?}"
        );
    }
    // A refused request expected to pass is a failure, and the reverse too.
    let fx = inbound(body, json!({}), json!({"verified": true}));
    assert!(run(&registry(), &fx).await[0].contains("refused with `missing_signature`"));
    let fx = inbound(body, json!({SIG: signed(body)}), json!({"verified": false}));
    assert!(run(&registry(), &fx).await[0].contains("but the request was accepted"));
    // Malformed payload with a valid signature.
    let bad = "{not json";
    let fx = inbound(
        bad,
        json!({SIG: signed(bad)}),
        json!({"verified": false, "error": "malformed_payload", "reply": {"status": 400}}),
    );
    assert_eq!(run(&registry(), &fx).await, Vec::<String>::new());
}

#[tokio::test]
async fn rotation_previous_secret_verifies() {
    let body = r#"{"id":"m1"}"#;
    let old = signature::sign_hex(
        Algorithm::Sha256,
        &SigningKeys::new("previous-test-secret"),
        &[body.as_bytes()],
    );
    let fx = inbound(body, json!({SIG: old}), json!({"verified": true}));
    assert_eq!(run(&registry(), &fx).await, Vec::<String>::new());
}

#[tokio::test]
async fn requests_leaving_loopback_fail_the_fixture() {
    let body = r#"{"id":"m1","call_out":true}"#;
    let fx = inbound(body, json!({SIG: signed(body)}), json!({"verified": true}));
    let d = run(&registry(), &fx).await;
    assert_eq!(d.len(), 1, "{d:?}");
    assert!(
        d[0].contains("tried to leave loopback: https example.com"),
        "{d:?}"
    );
}

fn outbound(
    message: Value,
    expect_request: Option<Value>,
    response: Value,
    expect: Value,
) -> Fixture {
    let mut o = json!({"message": message, "response": response, "expect": expect});
    if let Some(r) = expect_request {
        o["expect_request"] = r;
    }
    serde_json::from_value(json!({
        "provider": "tiktok",
        "description": "test",
        "config": {"secret": "test-secret-not-real", "base_url": "https://api.provider.test/base/"},
        "outbound": o
    }))
    .unwrap()
}

#[tokio::test]
async fn outbound_exact_request_and_receipt() {
    let fx = outbound(
        json!({"recipient": {"id": "u1"}, "text": "hey"}),
        Some(json!({"method": "POST", "path": "/base/v1/messages",
                    "headers": {"Authorization": "Bearer test-token", "content-type": "application/json"},
                    "body": {"to": "u1", "text": "hey"}})),
        json!({"status": 200, "body": {"id": "sent-1"}}),
        json!({"ok": true, "receipt": {"provider": "tiktok", "message_id": "sent-1", "status": "accepted"}}),
    );
    assert_eq!(run(&registry(), &fx).await, Vec::<String>::new());
}

#[tokio::test]
async fn outbound_differences() {
    // Wrong body, wrong path, wrong header.
    let fx = outbound(
        json!({"recipient": {"id": "u1"}, "text": "hey"}),
        Some(
            json!({"path": "/base/v2/messages", "headers": {"Authorization": "Bearer other"}, "body": {"to": "u2"}}),
        ),
        json!({"status": 200, "body": {"id": "sent-1"}}),
        json!({"ok": true}),
    );
    let d = run(&registry(), &fx).await;
    assert_eq!(d.len(), 3, "{d:#?}");
    // No request expected, but one was sent.
    let fx = outbound(
        json!({"recipient": {"id": "u1"}, "text": "hey"}),
        None,
        json!({"status": 200, "body": {"id": "x"}}),
        json!({}),
    );
    let d = run(&registry(), &fx).await;
    assert!(
        d[0].contains("expected 0 request(s), the provider received 1"),
        "{d:?}"
    );
    // A capability refusal sends nothing, and its kind is checked.
    let fx = outbound(
        json!({"recipient": {"id": "u1"}, "text": "far too long"}),
        None,
        json!({"status": 200}),
        json!({"ok": false, "error": "unsupported_content"}),
    );
    assert_eq!(run(&registry(), &fx).await, Vec::<String>::new());
    // Provider errors map to kinds.
    let fx = outbound(
        json!({"recipient": {"id": "u1"}, "text": "hey"}),
        Some(json!({"path": "/base/v1/messages"})),
        json!({"status": 429}),
        json!({"ok": false, "error": "rate_limited"}),
    );
    assert_eq!(run(&registry(), &fx).await, Vec::<String>::new());
}

#[tokio::test]
async fn outbound_sequences_and_form_bodies() {
    let fx = outbound(
        json!({"recipient": {"id": "u1"}, "text": "pic",
               "attachments": [{"kind": "image", "url": "https://cdn.test/a.png"}]}),
        Some(json!([
            {"method": "POST", "path": "/base/v1/upload", "body": {"name": ["a", "b"]}},
            {"method": "POST", "path": "/base/v1/messages", "body": {"media": "M-1"}}
        ])),
        json!([{"status": 200, "body": {"media_id": "M-1"}}, {"status": 200, "body": {"id": "sent-2"}}]),
        json!({"ok": true, "receipt": {"message_id": "sent-2"}}),
    );
    assert_eq!(run(&registry(), &fx).await, Vec::<String>::new());
    // A form field given as a single value where it repeats is a difference.
    let fx = outbound(
        json!({"recipient": {"id": "u1"}, "text": "pic",
               "attachments": [{"kind": "image", "url": "https://cdn.test/a.png"}]}),
        Some(json!([{"body": {"name": "a"}}, {}])),
        json!([{"status": 200, "body": {"media_id": "M-1"}}, {"status": 200, "body": {"id": "s"}}]),
        json!({"ok": true}),
    );
    let d = run(&registry(), &fx).await;
    assert_eq!(d.len(), 1, "{d:?}");
    assert!(
        d[0].starts_with("outbound.expect_request[0].body.name"),
        "{d:?}"
    );
}

#[tokio::test]
async fn files_on_disk_and_summary_line() {
    let dir = std::env::temp_dir().join(format!("omnichannel-testkit-{}", std::process::id()));
    std::fs::create_dir_all(dir.join("tiktok")).unwrap();
    let body = r#"{"id":"m1","text":"hi"}"#;
    let good = inbound(body, json!({SIG: signed(body)}), json!({"verified": true}));
    let bad = inbound(body, json!({SIG: signed(body)}), json!({"verified": false}));
    std::fs::write(
        dir.join("tiktok/a.json"),
        serde_json::to_string(&good).unwrap(),
    )
    .unwrap();
    std::fs::write(
        dir.join("tiktok/b.json"),
        serde_json::to_string(&bad).unwrap(),
    )
    .unwrap();
    std::fs::write(dir.join("tiktok/c.json"), "{not a fixture").unwrap();
    let report = run_dirs(&registry(), std::slice::from_ref(&dir)).await;
    assert_eq!(report.summary(), "1 passed, 2 failed");
    assert!(report.outcomes[0].render().starts_with("ok  "));
    assert!(report.outcomes[1].render().starts_with("FAIL"));
    assert!(report.outcomes[2].failures[0].starts_with("not a fixture"));
    let unknown: Fixture =
        serde_json::from_value(json!({"provider": "nope", "inbound": {"request": {"url": "x"}}}))
            .unwrap();
    assert!(run(&registry(), &unknown).await[0].contains("no channel registered"));
    std::fs::remove_dir_all(&dir).unwrap();
}
