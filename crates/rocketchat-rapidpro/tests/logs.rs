//! Secret hygiene in logs: every Rocket.Chat and RapidPro fixture (full receives and sends, with the secrets
//! of its config) is played under a TRACE subscriber writing into a buffer; no secret of any
//! fixture config appears in what was logged (this crate's events, and reqwest's and hyper's
//! traces of the sends).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::{Arc, Mutex};

use omnichannel_testkit::{Registry, fixture_files, load, run_dirs, workspace_fixtures};
use serde_json::Value;

#[derive(Clone, Default)]
struct LogBuffer(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for LogBuffer {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for LogBuffer {
    type Writer = LogBuffer;
    fn make_writer(&'a self) -> Self::Writer {
        self.clone()
    }
}

/// Every string under a config key naming a secret (and, for PEM keys, each line of the key).
fn secrets_of(v: &Value, key: &str, out: &mut Vec<String>) {
    let k = key.to_ascii_lowercase();
    let named = ["secret", "token", "signing_key", "private_key", "password"]
        .iter()
        .any(|w| k.contains(w));
    match v {
        Value::String(s) if named && s.trim().len() >= 6 => {
            out.push(s.trim().to_string());
            out.extend(
                s.lines()
                    .filter(|l| l.len() >= 16 && !l.starts_with("-----"))
                    .map(str::to_string),
            );
        }
        Value::Array(a) => a.iter().for_each(|x| secrets_of(x, key, out)),
        Value::Object(o) => o.iter().for_each(|(k, x)| secrets_of(x, k, out)),
        _ => {}
    }
}

#[tokio::test(flavor = "current_thread")]
async fn trace_logs_of_every_fixture_hold_no_secret() {
    let dirs: Vec<_> = ["rocketchat", "rapidpro"]
        .iter()
        .map(|d| workspace_fixtures(env!("CARGO_MANIFEST_DIR")).join(d))
        .collect();
    let mut secrets = Vec::new();
    for dir in &dirs {
        for path in fixture_files(dir).unwrap() {
            let fx = load(&path).unwrap();
            secrets_of(&fx.config, "", &mut secrets);
        }
    }
    secrets.sort();
    secrets.dedup();
    assert!(
        !secrets.is_empty(),
        "the fixture configs hold no secret to look for"
    );

    let logs = LogBuffer::default();
    let subscriber = tracing_subscriber::fmt()
        .with_writer(logs.clone())
        .with_max_level(tracing::Level::TRACE)
        .with_ansi(false)
        .finish();
    let guard = tracing::subscriber::set_default(subscriber);
    let registry = omnichannel_rocketchat_rapidpro::factories()
        .into_iter()
        .fold(Registry::new(), |r, f| r.with(f));
    let report = run_dirs(&registry, &dirs).await;
    drop(guard);
    // Every fixture ran as recorded, so every receive and send path was really taken.
    report.assert_all_passed();

    let text = String::from_utf8_lossy(&logs.0.lock().unwrap()).into_owned();
    assert!(
        !text.is_empty(),
        "nothing was logged at TRACE: the capture does not work"
    );
    for s in &secrets {
        assert!(
            !text.contains(s.as_str()),
            "a secret of a fixture config appears in the TRACE log"
        );
    }
}
