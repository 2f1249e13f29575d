//! Plays fixtures through channels: inbound requests with the fixture's clock, outbound
//! messages against a wiremock server on 127.0.0.1.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use chrono::Utc;
use omnichannel_core::{
    ChannelEnv, ChannelFactory, FixedClock, MemoryLock, MemoryTokenStore, Message,
};
use serde_json::Value;
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

use crate::compare;
use crate::fixture::{Fixture, InboundCase, OutboundCase, RequestExpect, ResponseSpec};

/// Largest fixture file read.
pub const MAX_FIXTURE_BYTES: u64 = 8 * 1024 * 1024;

/// Channel factories by provider name.
#[derive(Clone, Default)]
pub struct Registry {
    factories: HashMap<String, Arc<dyn ChannelFactory>>,
}

impl std::fmt::Debug for Registry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut names: Vec<_> = self.factories.keys().collect();
        names.sort();
        f.debug_struct("Registry")
            .field("providers", &names)
            .finish()
    }
}

impl Registry {
    /// An empty registry.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a factory under its provider's name.
    pub fn with(mut self, factory: Arc<dyn ChannelFactory>) -> Self {
        self.factories
            .insert(factory.provider().as_str().to_string(), factory);
        self
    }

    /// The factory for a provider.
    pub fn get(&self, provider: &str) -> Option<&Arc<dyn ChannelFactory>> {
        self.factories.get(provider)
    }
}

/// The result of one fixture.
#[derive(Debug, Clone)]
pub struct Outcome {
    /// The fixture file.
    pub path: PathBuf,
    /// Its description.
    pub description: String,
    /// Differences found; empty when it passed.
    pub failures: Vec<String>,
}

impl Outcome {
    /// Whether the fixture passed.
    pub fn passed(&self) -> bool {
        self.failures.is_empty()
    }

    /// One line for the report (`ok` or `FAIL`, the path, the description), and for a failure
    /// the differences indented below it.
    pub fn render(&self) -> String {
        let mut s = format!(
            "{} {} ({})",
            if self.passed() { "ok  " } else { "FAIL" },
            self.path.display(),
            self.description
        );
        for f in &self.failures {
            s.push_str("\n       - ");
            s.push_str(f);
        }
        s
    }
}

/// The outcomes of a run.
#[derive(Debug, Clone, Default)]
pub struct Report {
    /// One per fixture, in path order.
    pub outcomes: Vec<Outcome>,
}

impl Report {
    /// Fixtures that passed.
    pub fn passed(&self) -> usize {
        self.outcomes.iter().filter(|o| o.passed()).count()
    }
    /// Fixtures that failed.
    pub fn failed(&self) -> usize {
        self.outcomes.len() - self.passed()
    }
    /// `N passed, M failed`.
    pub fn summary(&self) -> String {
        format!("{} passed, {} failed", self.passed(), self.failed())
    }
    /// Panics with every failure listed when any fixture failed (for `cargo test`).
    #[allow(clippy::panic)]
    pub fn assert_all_passed(&self) {
        if self.failed() > 0 {
            let lines: Vec<String> = self
                .outcomes
                .iter()
                .filter(|o| !o.passed())
                .map(Outcome::render)
                .collect();
            panic!("{}\n{}", lines.join("\n"), self.summary());
        }
    }
}

/// Every `*.json` file under `dir`, recursively, in path order.
pub fn fixture_files(dir: &Path) -> std::io::Result<Vec<PathBuf>> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d)? {
            let p = entry?.path();
            if p.is_dir() {
                stack.push(p);
            } else if p.extension().is_some_and(|e| e == "json") {
                out.push(p);
            }
        }
    }
    out.sort();
    Ok(out)
}

/// Reads and parses one fixture file.
pub fn load(path: &Path) -> Result<Fixture, String> {
    let meta = std::fs::metadata(path).map_err(|e| format!("cannot read: {e}"))?;
    if meta.len() > MAX_FIXTURE_BYTES {
        return Err(format!("fixture larger than {MAX_FIXTURE_BYTES} bytes"));
    }
    let text = std::fs::read_to_string(path).map_err(|e| format!("cannot read: {e}"))?;
    serde_json::from_str(&text).map_err(|e| format!("not a fixture: {e}"))
}

/// Runs every fixture under each directory.
pub async fn run_dirs(registry: &Registry, dirs: &[PathBuf]) -> Report {
    let mut report = Report::default();
    for dir in dirs {
        let files = match fixture_files(dir) {
            Ok(f) => f,
            Err(e) => {
                report.outcomes.push(Outcome {
                    path: dir.clone(),
                    description: String::new(),
                    failures: vec![format!("cannot list fixtures: {e}")],
                });
                continue;
            }
        };
        for f in files {
            report.outcomes.push(run_file(registry, &f).await);
        }
    }
    report
}

/// Runs one fixture file.
pub async fn run_file(registry: &Registry, path: &Path) -> Outcome {
    match load(path) {
        Ok(fx) => {
            let failures = run(registry, &fx).await;
            Outcome {
                path: path.to_path_buf(),
                description: fx.description,
                failures,
            }
        }
        Err(e) => Outcome {
            path: path.to_path_buf(),
            description: String::new(),
            failures: vec![e],
        },
    }
}

/// Runs one fixture; returns the differences (empty when it passed).
pub async fn run(registry: &Registry, fx: &Fixture) -> Vec<String> {
    let Some(factory) = registry.get(&fx.provider) else {
        return vec![format!(
            "no channel registered for provider `{}`",
            fx.provider
        )];
    };
    if fx.inbound.is_none() && fx.outbound.is_none() {
        return vec!["fixture has neither `inbound` nor `outbound`".into()];
    }
    let mut diffs = Vec::new();
    if let Some(inb) = &fx.inbound {
        run_inbound(factory.as_ref(), &fx.config, inb, &mut diffs).await;
    }
    if let Some(out) = &fx.outbound {
        run_outbound(factory.as_ref(), &fx.config, out, &mut diffs).await;
    }
    diffs
}

/// An HTTP client that refuses to leave loopback: any other host is sent to a closed local
/// port (so the request fails) and recorded as a violation.
pub fn loopback_client(violations: Arc<Mutex<Vec<String>>>) -> reqwest::Client {
    let proxy = reqwest::Proxy::custom(move |url| {
        let loopback = match url.host() {
            Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
            Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
            Some(url::Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
            None => false,
        };
        if loopback {
            None
        } else {
            violations
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .push(format!(
                    "{} {}",
                    url.scheme(),
                    url.host_str().unwrap_or("?")
                ));
            Some("http://127.0.0.1:9")
        }
    });
    reqwest::Client::builder()
        .proxy(proxy)
        .timeout(std::time::Duration::from_secs(10))
        .build()
        .unwrap_or_else(|_| reqwest::Client::new())
}

fn env_for(
    now: Option<chrono::DateTime<Utc>>,
    origin: Option<url::Url>,
    violations: Arc<Mutex<Vec<String>>>,
) -> ChannelEnv {
    ChannelEnv {
        clock: Arc::new(FixedClock::new(now.unwrap_or_else(Utc::now))),
        http: loopback_client(violations),
        token_store: Arc::new(MemoryTokenStore::new()),
        lock: Arc::new(MemoryLock::new()),
        origin_override: origin,
    }
}

async fn run_inbound(
    factory: &dyn ChannelFactory,
    config: &Value,
    case: &InboundCase,
    diffs: &mut Vec<String>,
) {
    let violations = Arc::new(Mutex::new(Vec::new()));
    // Inbound handling must make no call at all: point every base URL at a closed port.
    let origin = url::Url::parse("http://127.0.0.1:9").ok();
    let env = env_for(case.now, origin, violations.clone());
    let channel = match factory.build(config, &env) {
        Ok(c) => c,
        Err(e) => {
            diffs.push(format!("config: the channel could not be built: {e}"));
            return;
        }
    };
    let result = match (&case.request, &case.event) {
        (Some(req), None) => match req.to_webhook_request() {
            Ok(r) => channel
                .receive(&r)
                .await
                .map_err(|e| (channel.reject_reply(&e), e)),
            Err(e) => {
                diffs.push(format!("inbound.request: {e}"));
                return;
            }
        },
        (None, Some(ev)) => channel
            .receive_event(std::sync::Arc::new(ev.clone()))
            .await
            .map_err(|e| (channel.reject_reply(&e), e)),
        _ => {
            diffs.push("inbound: give exactly one of `request` and `event`".into());
            return;
        }
    };
    let exp = &case.expect;
    let reply = match result {
        Ok(inbound) => {
            if exp.verified == Some(false) {
                diffs.push(format!(
                    "inbound: expected a refusal ({}), but the request was accepted",
                    exp.error.as_deref().unwrap_or("any error")
                ));
            }
            // The writer the gateway's sinks use must give the bytes of the JSON contract.
            for (i, e) in inbound.events.iter().enumerate() {
                let (written, serialized) = (e.to_json_vec(), serde_json::to_vec(e));
                if written.as_ref().ok() != serialized.as_ref().ok() {
                    diffs.push(format!(
                        "inbound.events[{i}]: Event::to_json_vec wrote {written:?}, its Serialize {serialized:?}"
                    ));
                }
            }
            if let Some(events) = &exp.events {
                let actual: Vec<Value> = inbound.events.iter().map(|e| e.to_json()).collect();
                compare::subset(
                    &Value::Array(events.clone()),
                    &Value::Array(actual),
                    "inbound.events",
                    diffs,
                );
            }
            inbound.reply
        }
        Err((reply, err)) => {
            if exp.verified != Some(false) {
                diffs.push(format!("inbound: refused with `{}`: {err}", err.kind()));
            } else if let Some(kind) = &exp.error
                && kind != err.kind()
            {
                diffs.push(format!(
                    "inbound.error: expected `{kind}`, got `{}` ({err})",
                    err.kind()
                ));
            }
            if exp.events.as_ref().is_some_and(|e| !e.is_empty()) {
                diffs.push("inbound.events: expected events, but the request was refused".into());
            }
            reply
        }
    };
    if let Some(r) = &exp.reply {
        if let Some(status) = r.status
            && reply.status.as_u16() != status
        {
            diffs.push(format!(
                "inbound.reply.status: expected {status}, got {}",
                reply.status.as_u16()
            ));
        }
        if let Some(h) = &r.headers {
            compare_headers(h, &reply.headers, "inbound.reply.headers", diffs);
        }
        if let Some(b) = &r.body {
            let parsed = serde_json::from_slice::<Value>(&reply.body).ok();
            compare::body(b, &reply.body, parsed, "inbound.reply.body", diffs);
        }
    }
    for v in violations.lock().unwrap_or_else(|p| p.into_inner()).iter() {
        diffs.push(format!("inbound: a request tried to leave loopback: {v}"));
    }
}

struct Sequence {
    responses: Vec<ResponseSpec>,
    next: AtomicUsize,
}

impl Respond for Sequence {
    fn respond(&self, _req: &Request) -> ResponseTemplate {
        let i = self.next.fetch_add(1, Ordering::SeqCst);
        let Some(spec) = self.responses.get(i) else {
            return ResponseTemplate::new(599)
                .set_body_string("unexpected request: the fixture has no response for it");
        };
        let mut t = ResponseTemplate::new(spec.status);
        for (k, v) in &spec.headers {
            t = t.insert_header(k.as_str(), v.as_str());
        }
        match &spec.body {
            None => t,
            Some(Value::String(s)) => t.set_body_string(s.clone()),
            Some(v) => {
                let has_ct = spec
                    .headers
                    .keys()
                    .any(|k| k.eq_ignore_ascii_case("content-type"));
                let t = t.set_body_raw(
                    serde_json::to_vec(v).unwrap_or_default(),
                    "application/json",
                );
                if has_ct {
                    // set_body_raw sets the content type; the fixture's own wins.
                    let mut t = t;
                    for (k, v) in &spec.headers {
                        t = t.insert_header(k.as_str(), v.as_str());
                    }
                    t
                } else {
                    t
                }
            }
        }
    }
}

async fn run_outbound(
    factory: &dyn ChannelFactory,
    config: &Value,
    case: &OutboundCase,
    diffs: &mut Vec<String>,
) {
    let server = MockServer::start().await;
    let responses = case
        .response
        .as_ref()
        .map(|r| r.to_vec())
        .unwrap_or_default();
    Mock::given(wiremock::matchers::any())
        .respond_with(Sequence {
            responses,
            next: AtomicUsize::new(0),
        })
        .mount(&server)
        .await;
    let violations = Arc::new(Mutex::new(Vec::new()));
    let origin = url::Url::parse(&server.uri()).ok();
    let env = env_for(case.now, origin, violations.clone());
    let channel = match factory.build(config, &env) {
        Ok(c) => c,
        Err(e) => {
            diffs.push(format!("config: the channel could not be built: {e}"));
            return;
        }
    };
    let msg: Message = match serde_json::from_value(case.message.clone()) {
        Ok(m) => m,
        Err(e) => {
            diffs.push(format!("outbound.message: not a normalized message: {e}"));
            return;
        }
    };
    let result = channel.send(&msg).await;
    let received = server.received_requests().await.unwrap_or_default();
    let expected = case
        .expect_request
        .as_ref()
        .map(|r| r.to_vec())
        .unwrap_or_default();
    if received.len() != expected.len() {
        let seen: Vec<String> = received
            .iter()
            .map(|r| format!("{} {}", r.method, r.url.path()))
            .collect();
        diffs.push(format!(
            "outbound: expected {} request(s), the provider received {}: {:?}",
            expected.len(),
            received.len(),
            seen
        ));
    }
    for (i, (exp, got)) in expected.iter().zip(received.iter()).enumerate() {
        compare_request(exp, got, &format!("outbound.expect_request[{i}]"), diffs);
    }
    let exp = &case.expect;
    match result {
        Ok(receipt) => {
            if exp.ok == Some(false) || exp.error.is_some() {
                diffs.push(format!(
                    "outbound: expected a failure ({}), but the send succeeded",
                    exp.error.as_deref().unwrap_or("any error")
                ));
            }
            if let Some(r) = &exp.receipt {
                let actual = serde_json::to_value(&receipt).unwrap_or(Value::Null);
                compare::subset(r, &actual, "outbound.receipt", diffs);
            }
        }
        Err(e) => {
            if exp.ok == Some(true) || (exp.ok.is_none() && exp.error.is_none()) {
                diffs.push(format!("outbound: send failed with `{}`: {e}", e.kind()));
            }
            if let Some(kind) = &exp.error
                && kind != e.kind()
            {
                diffs.push(format!(
                    "outbound.error: expected `{kind}`, got `{}` ({e})",
                    e.kind()
                ));
            }
        }
    }
    for v in violations.lock().unwrap_or_else(|p| p.into_inner()).iter() {
        diffs.push(format!("outbound: a request tried to leave loopback: {v}"));
    }
}

fn compare_headers(
    expected: &std::collections::BTreeMap<String, String>,
    actual: &http::HeaderMap,
    path: &str,
    diffs: &mut Vec<String>,
) {
    for (name, value) in expected {
        let got: Vec<&str> = actual
            .get_all(name.as_str())
            .iter()
            .filter_map(|v| v.to_str().ok())
            .collect();
        match got.as_slice() {
            [] => diffs.push(format!(
                "{path}.{name}: expected {value:?}, but it is absent"
            )),
            [one] if one == value => {}
            _ => diffs.push(format!("{path}.{name}: expected {value:?}, got {got:?}")),
        }
    }
}

fn compare_request(exp: &RequestExpect, got: &Request, path: &str, diffs: &mut Vec<String>) {
    if let Some(m) = &exp.method
        && !m.eq_ignore_ascii_case(got.method.as_str())
    {
        diffs.push(format!("{path}.method: expected {m}, got {}", got.method));
    }
    if let Some(p) = &exp.path {
        let actual = if p.contains('?') {
            match got.url.query() {
                Some(q) => format!("{}?{}", got.url.path(), q),
                None => got.url.path().to_string(),
            }
        } else {
            got.url.path().to_string()
        };
        if &actual != p {
            diffs.push(format!("{path}.path: expected {p}, got {actual}"));
        }
    }
    if let Some(h) = &exp.headers {
        compare_headers(h, &got.headers, &format!("{path}.headers"), diffs);
    }
    if let Some(b) = &exp.body {
        let ct = got
            .headers
            .get(http::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_ascii_lowercase();
        let parsed = if ct.starts_with("application/x-www-form-urlencoded") {
            Some(crate::decode::form(&got.body))
        } else if ct.starts_with("multipart/form-data") {
            crate::decode::multipart(&ct, &got.body)
        } else {
            serde_json::from_slice::<Value>(&got.body).ok()
        };
        compare::body(b, &got.body, parsed, &format!("{path}.body"), diffs);
    }
}
