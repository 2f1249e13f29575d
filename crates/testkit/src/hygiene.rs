//! Secret hygiene of logs: play fixtures under a TRACE subscriber that writes into a buffer,
//! then look for every secret of the fixtures' configs in what was logged.

use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use serde_json::Value;

use crate::runner::{Registry, fixture_files, load, run_dirs};

/// An in-memory writer for `tracing_subscriber`.
#[derive(Clone, Default, Debug)]
pub struct LogBuffer(Arc<Mutex<Vec<u8>>>);

impl LogBuffer {
    /// A subscriber that writes every level (TRACE up, no colours) into this buffer; the `log`
    /// crate's records are forwarded to it too ([`capture_log_records`]). Install it with
    /// `tracing::subscriber::set_default` or `with_default`.
    pub fn trace_subscriber(&self) -> impl tracing::Subscriber + Send + Sync + 'static {
        capture_log_records();
        tracing_subscriber::fmt()
            .with_writer(self.clone())
            .with_max_level(tracing::Level::TRACE)
            .with_ansi(false)
            .finish()
    }

    /// What was written, as text.
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap_or_else(|p| p.into_inner())).into_owned()
    }
}

impl std::io::Write for LogBuffer {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .extend_from_slice(buf);
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

/// Every string under a settings key that names a secret (`secret`, `token`, `signing_key`,
/// `private_key`, `password`), and each long line of a PEM key, at any depth.
pub fn secrets_of(config: &Value) -> Vec<String> {
    fn walk(v: &Value, key: &str, out: &mut Vec<String>) {
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
            Value::Array(a) => a.iter().for_each(|x| walk(x, key, out)),
            Value::Object(o) => o.iter().for_each(|(k, x)| walk(x, k, out)),
            _ => {}
        }
    }
    let mut out = Vec::new();
    walk(config, "", &mut out);
    out.sort();
    out.dedup();
    out
}

/// Plays every fixture under `dirs` (full receives and sends) under a TRACE subscriber and
/// returns the problems: a fixture that failed (so a path was not really taken), nothing logged
/// (the capture does not work), no secret to look for, or a secret of a fixture config in the
/// log (named by the fixture folder, never printed).
///
/// Records of the `log` crate (which some dependencies, such as `reqwest`, use) are captured
/// too: the process's `log` logger is set to forward them to `tracing` (when no other logger
/// was set before).
///
/// Call it from a `current_thread` test in a test binary of its own: the subscriber is the
/// thread's default, and `tracing` caches per process whether a log line is wanted, so other
/// tests logging in parallel without a subscriber would hide lines from the capture.
pub async fn fixture_logs_leaks(registry: &Registry, dirs: &[PathBuf]) -> Vec<String> {
    fixture_logs_leaks_with(registry, dirs, &|_| Vec::new()).await
}

/// [`fixture_logs_leaks`], also looking for the secrets `derived` makes from each fixture
/// config (for example SignalWire's Basic credentials, base64 of `project_id:api_token`).
pub async fn fixture_logs_leaks_with(
    registry: &Registry,
    dirs: &[PathBuf],
    derived: &(dyn Fn(&Value) -> Vec<String> + Sync),
) -> Vec<String> {
    let mut problems = Vec::new();
    let mut secrets = Vec::new();
    for dir in dirs {
        for path in fixture_files(dir).unwrap_or_default() {
            if let Ok(fx) = load(&path) {
                secrets.extend(secrets_of(&fx.config));
                secrets.extend(derived(&fx.config));
            }
        }
    }
    secrets.sort();
    secrets.dedup();
    if secrets.is_empty() {
        problems.push("the fixture configs hold no secret to look for".into());
    }
    let logs = LogBuffer::default();
    let guard = tracing::subscriber::set_default(logs.trace_subscriber());
    let report = run_dirs(registry, dirs).await;
    drop(guard);
    if report.failed() > 0 {
        problems.push(format!(
            "fixtures failed, so not every path was taken: {}",
            report.summary()
        ));
    }
    let text = logs.text();
    if text.is_empty() {
        problems.push("nothing was logged at TRACE: the capture does not work".into());
    }
    let leaked = secrets.iter().filter(|s| text.contains(s.as_str())).count();
    if leaked > 0 {
        problems.push(format!(
            "{leaked} secret(s) of the fixture configs appear in the TRACE log"
        ));
    }
    problems
}

/// Forwards the `log` crate's records to `tracing`, at every level (once per process; a
/// logger set before stays).
pub fn capture_log_records() {
    let _ = tracing_log::LogTracer::init();
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn log_crate_records_reach_the_capture() {
        let logs = LogBuffer::default();
        tracing::subscriber::with_default(logs.trace_subscriber(), || {
            tracing_log::log::trace!(target: "some_dependency", "a record of the log crate");
        });
        assert!(
            logs.text().contains("a record of the log crate"),
            "{}",
            logs.text()
        );
    }

    #[test]
    fn finds_named_secrets_at_any_depth() {
        let s = secrets_of(&json!({
            "app_secret": ["current-secret", "previous-secret"],
            "nested": {"api_token": "tok-123456"},
            "private_key_pem": "-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASC\n-----END PRIVATE KEY-----",
            "app_id": "not-a-secret",
            "signing_key": "short"
        }));
        assert!(s.contains(&"current-secret".to_string()));
        assert!(s.contains(&"previous-secret".to_string()));
        assert!(s.contains(&"tok-123456".to_string()));
        assert!(s.contains(&"MIIEvQIBADANBgkqhkiG9w0BAQEFAASC".to_string()));
        assert!(!s.iter().any(|x| x == "not-a-secret" || x == "short"));
    }
}
