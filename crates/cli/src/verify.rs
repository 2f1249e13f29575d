//! `omnichannel verify`: one recorded request through a channel.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::{Arc, Mutex};

use chrono::{DateTime, Utc};
use omnichannel_core::{
    ChannelEnv, ChannelFactory, FixedClock, MemoryLock, MemoryTokenStore, Provider,
};
use omnichannel_testkit::RequestSpec;
use serde_json::{Map, Value, json};

use crate::output::reply_json;
use crate::usage_error;

/// Largest settings or request file read.
const MAX_INPUT_BYTES: u64 = 8 * 1024 * 1024;

/// Reads a JSON file, bounded.
pub(crate) fn read_json(path: &Path, what: &str) -> Result<Value, String> {
    let meta = std::fs::metadata(path).map_err(|e| format!("{what} {}: {e}", path.display()))?;
    if meta.len() > MAX_INPUT_BYTES {
        return Err(format!("{what} {}: larger than 8 MiB", path.display()));
    }
    let text =
        std::fs::read_to_string(path).map_err(|e| format!("{what} {}: {e}", path.display()))?;
    serde_json::from_str(&text).map_err(|e| format!("{what} {}: not JSON: {e}", path.display()))
}

/// The factory of a provider name, or a usage message listing the available ones.
pub(crate) fn find_factory<'a>(
    factories: &'a [Arc<dyn ChannelFactory>],
    provider: &str,
) -> Result<&'a Arc<dyn ChannelFactory>, String> {
    let wanted: Option<Provider> = provider.parse().ok();
    factories
        .iter()
        .find(|f| Some(f.provider()) == wanted)
        .ok_or_else(|| {
            let names: Vec<&str> = factories.iter().map(|f| f.provider().as_str()).collect();
            format!(
                "unknown provider `{}` (available: {})",
                provider.escape_debug(),
                if names.is_empty() {
                    "none".to_string()
                } else {
                    names.join(", ")
                }
            )
        })
}

/// What to verify.
#[derive(Debug, Clone)]
pub enum Input {
    /// A file holding the fixture `request` object.
    Request(PathBuf),
    /// A file holding a decoded event (the fixture `inbound.event`).
    Event(PathBuf),
}

/// What to verify, read.
#[derive(Debug, Clone)]
pub enum Loaded {
    /// An HTTP request.
    Request(RequestSpec),
    /// A decoded event.
    Event(Value),
}

/// The outcome of one verification, as printed: `(verified, output)`.
pub async fn verify_input(
    factory: &dyn ChannelFactory,
    config: &Value,
    input: &Loaded,
    now: Option<DateTime<Utc>>,
) -> Result<(bool, Value), String> {
    // Inbound handling must make no call: any API base URL points at a closed local port.
    let violations = Arc::new(Mutex::new(Vec::new()));
    let env = ChannelEnv {
        clock: Arc::new(FixedClock::new(now.unwrap_or_else(Utc::now))),
        http: omnichannel_testkit::loopback_client(violations),
        token_store: Arc::new(MemoryTokenStore::new()),
        lock: Arc::new(MemoryLock::new()),
        origin_override: url::Url::parse("http://127.0.0.1:9").ok(),
    };
    let channel = factory
        .build(config, &env)
        .map_err(|e| format!("the channel could not be built from the settings: {e}"))?;
    let result = match input {
        Loaded::Request(spec) => {
            let req = spec
                .to_webhook_request()
                .map_err(|e| format!("request: {e}"))?;
            channel.receive(&req).await
        }
        Loaded::Event(event) => channel.receive_event(Arc::new(event.clone())).await,
    };
    let mut out = Map::new();
    let verified = match result {
        Ok(inbound) => {
            out.insert("verified".into(), Value::Bool(true));
            out.insert(
                "events".into(),
                Value::Array(inbound.events.iter().map(|e| e.to_json()).collect()),
            );
            out.insert("reply".into(), reply_json(&inbound.reply));
            true
        }
        Err(err) => {
            out.insert("verified".into(), Value::Bool(false));
            out.insert("events".into(), json!([]));
            out.insert("reply".into(), reply_json(&channel.reject_reply(&err)));
            out.insert("error".into(), Value::String(err.kind().to_string()));
            out.insert("message".into(), Value::String(err.to_string()));
            false
        }
    };
    Ok((verified, Value::Object(out)))
}

/// Runs the command: exit 0 verified, 1 rejected, 2 usage error.
pub async fn run(
    factories: &[Arc<dyn ChannelFactory>],
    provider: &str,
    config: &Path,
    input: &Input,
    now: Option<&str>,
) -> ExitCode {
    let factory = match find_factory(factories, provider) {
        Ok(f) => f,
        Err(e) => return usage_error(e),
    };
    let now = match now.map(DateTime::parse_from_rfc3339).transpose() {
        Ok(n) => n.map(|d| d.with_timezone(&Utc)),
        Err(e) => return usage_error(format!("--now: not an RFC 3339 time: {e}")),
    };
    let config = match read_json(config, "config") {
        Ok(c) => c,
        Err(e) => return usage_error(e),
    };
    let loaded = match input {
        Input::Request(p) => read_json(p, "request")
            .and_then(|v| serde_json::from_value(v).map_err(|e| format!("request: {e}")))
            .map(Loaded::Request),
        Input::Event(p) => read_json(p, "event").map(Loaded::Event),
    };
    let loaded = match loaded {
        Ok(l) => l,
        Err(e) => return usage_error(e),
    };
    match verify_input(factory.as_ref(), &config, &loaded, now).await {
        Ok((verified, out)) => {
            println!(
                "{}",
                serde_json::to_string_pretty(&out).unwrap_or_else(|_| out.to_string())
            );
            if verified {
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            }
        }
        Err(e) => usage_error(e),
    }
}
