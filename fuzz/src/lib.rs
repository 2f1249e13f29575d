//! The harness shared by the fuzz targets.
//!
//! Every provider target starts from that provider's inbound fixtures (`tests/fixtures/<dir>/`,
//! read once at start), and lets libFuzzer drive a [`Plan`]: which fixture, JSON-level edits of
//! its body (any node replaced by hostile values, double-encoded JSON strings edited inside,
//! deep nesting, long arrays), byte edits, a body made of raw fuzz bytes or a huge one, header
//! edits (removed, doubled, empty, non-ASCII, huge, arbitrary names), method and URL changes, a
//! clock skew, and whether the request is signed again with the provider's own signer after the
//! body changed (so the parsers behind verification are reached, not only the verifier).
//!
//! After each call the harness checks the invariants of issue 11: an answer (no panic, enforced
//! by libFuzzer), and no configured secret in the `Display` or `Debug` of an error.

use std::path::PathBuf;
use std::sync::{Arc, OnceLock};

use base64::Engine as _;
use bytes::Bytes;
use chrono::{DateTime, Utc};
use http::{HeaderMap, HeaderName, HeaderValue, Method};
pub use libfuzzer_sys::arbitrary::{self, Unstructured};
use omnichannel_core::{
    Channel, ChannelEnv, ChannelFactory, FixedClock, Settings, SigningKeys, WebhookRequest,
};
use serde_json::Value;

/// One inbound fixture, with a channel built from its `config`.
pub struct Case {
    /// The fixture file name.
    pub name: String,
    /// The fixture's `config`.
    pub config: Value,
    /// The fixture's clock.
    pub now: DateTime<Utc>,
    /// The clock the channel reads (set before each run).
    pub clock: Arc<FixedClock>,
    /// The environment the channel was built with (no network: API origin moved to a closed port).
    pub env: ChannelEnv,
    /// The channel (built once; targets with stateful channels rebuild from `env`).
    pub channel: Arc<dyn Channel>,
    /// The recorded request, when the fixture has one.
    pub request: Option<WebhookRequest>,
    /// The decoded event, for inputs that are not HTTP requests.
    pub event: Option<Value>,
    /// Secrets of the config (every string under a key naming a secret, token or key).
    pub secrets: Vec<String>,
}

/// The tokio runtime the targets run `receive` on.
pub fn runtime() -> &'static tokio::runtime::Runtime {
    static RT: OnceLock<tokio::runtime::Runtime> = OnceLock::new();
    RT.get_or_init(|| {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap_or_else(|e| panic!("harness: no tokio runtime: {e}"))
    })
}

fn fixtures_dir(dir: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("..")
        .join("tests")
        .join("fixtures")
        .join(dir)
}

fn request_of(spec: &Value) -> Option<WebhookRequest> {
    let method = Method::from_bytes(spec.get("method")?.as_str().unwrap_or("POST").as_bytes())
        .ok()
        .unwrap_or(Method::POST);
    let url = spec.get("url")?.as_str()?.to_string();
    let mut headers = HeaderMap::new();
    if let Some(h) = spec.get("headers").and_then(Value::as_object) {
        for (k, v) in h {
            let name = HeaderName::from_bytes(k.as_bytes()).ok()?;
            let values: Vec<&str> = match v {
                Value::String(s) => vec![s.as_str()],
                Value::Array(a) => a.iter().filter_map(Value::as_str).collect(),
                _ => vec![],
            };
            for v in values {
                headers.append(name.clone(), HeaderValue::from_str(v).ok()?);
            }
        }
    }
    let body = match (spec.get("body"), spec.get("body_base64")) {
        (Some(Value::String(b)), _) => Bytes::from(b.clone()),
        (_, Some(Value::String(b))) => {
            Bytes::from(base64::engine::general_purpose::STANDARD.decode(b).ok()?)
        }
        _ => Bytes::new(),
    };
    Some(WebhookRequest::new(method, url, headers, body))
}

fn collect_secrets(v: &Value, key: &str, out: &mut Vec<String>) {
    let k = key.to_ascii_lowercase();
    let secret_key = ["secret", "token", "signing_key", "private_key", "password"]
        .iter()
        .any(|w| k.contains(w));
    match v {
        Value::String(s) if secret_key && s.trim().len() >= 6 => out.push(s.trim().to_string()),
        Value::Array(a) => a.iter().for_each(|x| collect_secrets(x, key, out)),
        Value::Object(o) => o.iter().for_each(|(k, x)| collect_secrets(x, k, out)),
        _ => {}
    }
}

/// Loads the inbound fixtures of `dirs` and builds a channel for each with `factory`.
/// Panics (at start, not during fuzzing) when there are none: the harness would test nothing.
pub fn load_cases(factory: &dyn ChannelFactory, dirs: &[&str]) -> Vec<Case> {
    let mut cases = Vec::new();
    for dir in dirs {
        let path = fixtures_dir(dir);
        let mut files: Vec<PathBuf> = std::fs::read_dir(&path)
            .unwrap_or_else(|e| panic!("harness: cannot read {}: {e}", path.display()))
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|x| x == "json"))
            .collect();
        files.sort();
        for file in files {
            let Ok(text) = std::fs::read_to_string(&file) else {
                continue;
            };
            let Ok(fx) = serde_json::from_str::<Value>(&text) else {
                continue;
            };
            if fx.get("provider").and_then(Value::as_str) != Some(factory.provider().as_str()) {
                continue;
            }
            let Some(inbound) = fx.get("inbound") else {
                continue;
            };
            let now = inbound
                .get("now")
                .and_then(Value::as_str)
                .and_then(|s| DateTime::parse_from_rfc3339(s).ok())
                .map(|d| d.with_timezone(&Utc))
                .unwrap_or_else(|| DateTime::from_timestamp(1_700_000_000, 0).unwrap_or_default());
            let config = fx.get("config").cloned().unwrap_or(Value::Null);
            let clock = Arc::new(FixedClock::new(now));
            let env = ChannelEnv {
                clock: clock.clone(),
                origin_override: url::Url::parse("http://127.0.0.1:9").ok(),
                ..ChannelEnv::default()
            };
            let Ok(channel) = factory.build(&config, &env) else {
                continue;
            };
            let mut secrets = Vec::new();
            collect_secrets(&config, "", &mut secrets);
            cases.push(Case {
                name: file
                    .file_name()
                    .map(|n| n.to_string_lossy().into_owned())
                    .unwrap_or_default(),
                config,
                now,
                clock,
                env,
                channel,
                request: inbound.get("request").and_then(request_of),
                event: inbound.get("event").cloned(),
                secrets,
            });
        }
    }
    assert!(
        !cases.is_empty(),
        "harness: no inbound fixtures in {dirs:?}"
    );
    cases
}

/// The signing keys a config holds under `key`.
pub fn keys_of(config: &Value, key: &str) -> Option<SigningKeys> {
    Settings::new(config).ok()?.signing_keys(key).ok()?
}

/// Authorizes a request of either side of the Tickets app again with the case's `secret`
/// (the `resign` of the Rocket.Chat and RapidPro targets).
pub fn tickets_authorize(case: &Case, req: &mut WebhookRequest) {
    let Some(keys) = keys_of(&case.config, "secret") else {
        return;
    };
    if let Ok(v) = omnichannel_rocketchat_rapidpro::api::authorization(keys.primary()) {
        req.headers.insert(http::header::AUTHORIZATION, v);
    }
}

/// Fails (a crash libFuzzer records) when an error's text holds a configured secret.
pub fn assert_no_secret(case: &Case, err: &omnichannel_core::Error) {
    let text = format!("{err} {err:?}");
    for s in &case.secrets {
        assert!(
            !text.contains(s.as_str()),
            "a configured secret appears in an error of {}: kind {}",
            case.name,
            err.kind()
        );
    }
}

/// What one fuzz input does to a fixture's request.
#[derive(Debug)]
pub struct Plan {
    /// Which fixture (index modulo the count).
    pub case: usize,
    /// Whether to sign again after the changes (with the provider's own signer).
    pub resign: bool,
    /// Seconds added to the fixture clock.
    pub skew_secs: i64,
}

const NAMES: &[&str] = &[
    "content-type",
    "authorization",
    "content-length",
    "user-agent",
    "x-forwarded-proto",
];

fn pick_name(
    u: &mut Unstructured<'_>,
    provider: &[&'static str],
    req: &WebhookRequest,
) -> Option<HeaderName> {
    let present: Vec<HeaderName> = req.headers.keys().cloned().collect();
    match u.int_in_range(0u8..=3).ok()? {
        0 if !present.is_empty() => Some(u.choose(&present).ok()?.clone()),
        1 if !provider.is_empty() => {
            HeaderName::from_bytes(u.choose(provider).ok()?.as_bytes()).ok()
        }
        2 => HeaderName::from_bytes(u.choose(NAMES).ok()?.as_bytes()).ok(),
        _ => {
            let raw: &[u8] = u.arbitrary().ok()?;
            HeaderName::from_bytes(raw).ok()
        }
    }
}

fn header_value(u: &mut Unstructured<'_>, current: Option<&HeaderValue>) -> Option<HeaderValue> {
    let v = match u.int_in_range(0u8..=6).ok()? {
        0 => HeaderValue::from_static(""),
        1 => {
            // Non-ASCII: opaque bytes that are legal in HTTP but not visible ASCII.
            let mut b = current.map(|c| c.as_bytes().to_vec()).unwrap_or_default();
            b.extend_from_slice("é\u{2028}".as_bytes());
            HeaderValue::from_bytes(&b).ok()?
        }
        2 => {
            // Huge: the value repeated to several kilobytes (past every header length limit).
            let unit = current
                .map(|c| c.as_bytes().to_vec())
                .unwrap_or_else(|| b"a".to_vec());
            let unit = if unit.is_empty() { b"a".to_vec() } else { unit };
            let n = u.int_in_range(1usize..=10).ok()? * 1024 / unit.len() + 1;
            HeaderValue::from_bytes(&unit.repeat(n)).ok()?
        }
        3 => {
            // The current value with a byte changed, inserted or removed.
            let mut b = current.map(|c| c.as_bytes().to_vec()).unwrap_or_default();
            byte_edit(u, &mut b).ok()?;
            HeaderValue::from_bytes(&b).ok()?
        }
        4 => {
            let s: &str = u.arbitrary().ok()?;
            HeaderValue::from_str(s).ok()?
        }
        5 => {
            // Surrounding spaces, or a list.
            let c = current.and_then(|c| c.to_str().ok()).unwrap_or("");
            let s = match u.int_in_range(0u8..=2).ok()? {
                0 => format!("  {c}  "),
                1 => format!("{c},{c}"),
                _ => format!("{c}, t=0,s=00"),
            };
            HeaderValue::from_str(&s).ok()?
        }
        _ => {
            let raw: &[u8] = u.arbitrary().ok()?;
            HeaderValue::from_bytes(raw).ok()?
        }
    };
    Some(v)
}

/// Header edits: remove, double, empty, non-ASCII, huge, arbitrary names and values.
pub fn mutate_headers(
    u: &mut Unstructured<'_>,
    provider: &[&'static str],
    req: &mut WebhookRequest,
) {
    let n = u.int_in_range(0u8..=4).unwrap_or(0);
    for _ in 0..n {
        let Some(name) = pick_name(u, provider, req) else {
            return;
        };
        let current = req.headers.get(&name).cloned();
        match u.int_in_range(0u8..=3).unwrap_or(0) {
            0 => {
                req.headers.remove(&name);
            }
            1 => {
                // Doubled: the same value again, or another one.
                let v = if u.arbitrary().unwrap_or(false) {
                    current
                } else {
                    header_value(u, current.as_ref())
                };
                if let Some(v) = v {
                    req.headers.append(name, v);
                }
            }
            _ => {
                if let Some(v) = header_value(u, current.as_ref()) {
                    req.headers.insert(name, v);
                }
            }
        }
    }
}

fn byte_edit(u: &mut Unstructured<'_>, b: &mut Vec<u8>) -> arbitrary::Result<()> {
    let op = u.int_in_range(0u8..=3)?;
    let pos = if b.is_empty() {
        0
    } else {
        u.int_in_range(0..=b.len() - 1)?
    };
    let byte: u8 = u.arbitrary()?;
    match op {
        0 if !b.is_empty() => b[pos] = byte,
        1 => b.insert(pos.min(b.len()), byte),
        2 if !b.is_empty() => {
            b.remove(pos);
        }
        _ => b.truncate(pos),
    }
    Ok(())
}

fn count_nodes(v: &Value) -> usize {
    1 + match v {
        Value::Array(a) => a.iter().map(count_nodes).sum(),
        Value::Object(o) => o.values().map(count_nodes).sum(),
        _ => 0,
    }
}

/// About the serialized size of `v`, without serializing it (cheap enough to run per edit).
fn approx_size(v: &Value) -> usize {
    match v {
        Value::Null | Value::Bool(_) | Value::Number(_) => 8,
        Value::String(s) => s.len() + 2,
        Value::Array(a) => 2 + a.iter().map(|x| approx_size(x) + 1).sum::<usize>(),
        Value::Object(o) => {
            2 + o
                .iter()
                .map(|(k, x)| k.len() + 4 + approx_size(x))
                .sum::<usize>()
        }
    }
}

fn nth_node<'a>(v: &'a mut Value, n: &mut usize) -> Option<&'a mut Value> {
    if *n == 0 {
        return Some(v);
    }
    *n -= 1;
    match v {
        Value::Array(a) => a.iter_mut().find_map(|x| nth_node(x, n)),
        Value::Object(o) => o.values_mut().find_map(|x| nth_node(x, n)),
        _ => None,
    }
}

/// Largest serialized document the harness builds: the targets must bound what they are sent,
/// the harness must not run out of memory building it.
const MAX_DOCUMENT_BYTES: usize = 256 * 1024;

/// How deep edits go into JSON held in strings (each level escapes the one inside it).
const MAX_STRING_LEVELS: u8 = 3;

fn hostile_value(u: &mut Unstructured<'_>, node: &Value, level: u8) -> arbitrary::Result<Value> {
    Ok(match u.int_in_range(0u8..=13)? {
        0 => Value::Null,
        1 => Value::Bool(u.arbitrary()?),
        2 => Value::from(u.arbitrary::<i64>()?),
        3 => Value::from(u.arbitrary::<u64>()?),
        4 => serde_json::Number::from_f64(u.arbitrary::<f64>()?)
            .map(Value::Number)
            .unwrap_or(Value::Null),
        5 => Value::String(u.arbitrary::<String>()?),
        6 => Value::Array(vec![]),
        7 => Value::Object(serde_json::Map::new()),
        8 => {
            // Deep nesting: arrays or objects inside each other (past serde_json's limit of 128).
            let depth = u.int_in_range(1usize..=300)?;
            let obj = u.arbitrary::<bool>()?;
            let mut v = node.clone();
            for _ in 0..depth {
                v = if obj {
                    // Not `json!`: it would serialize `v` again at every level.
                    let mut m = serde_json::Map::new();
                    m.insert("a".to_string(), v);
                    Value::Object(m)
                } else {
                    Value::Array(vec![v])
                };
            }
            v
        }
        9 => {
            // Many copies: long lists of attachments, recipients, params... (bounded so one
            // input stays cheap: about 2,000 nodes and 64 KiB at most).
            let per = count_nodes(node).max(1);
            let bytes = approx_size(node).max(1);
            let n = u.int_in_range(1usize..=(2_000 / per).min(65_536 / bytes).clamp(1, 256))?;
            Value::Array(vec![node.clone(); n])
        }
        10 => Value::String("x".repeat(u.int_in_range(1usize..=4_096)?)),
        11 => {
            // A JSON string holding JSON (TikTok's double-encoded `content`): edit inside.
            match node {
                Value::String(s) if level >= MAX_STRING_LEVELS => Value::String(s.clone()),
                Value::String(s) => match serde_json::from_str::<Value>(s) {
                    Ok(mut inner) => {
                        mutate_json_at(u, &mut inner, level + 1)?;
                        Value::String(inner.to_string())
                    }
                    Err(_) => {
                        let mut b = s.as_bytes().to_vec();
                        byte_edit(u, &mut b)?;
                        Value::String(String::from_utf8_lossy(&b).into_owned())
                    }
                },
                other => Value::String(other.to_string()),
            }
        }
        12 => {
            let mut v = node.clone();
            match &mut v {
                Value::Object(o) => {
                    if u.arbitrary()? && !o.is_empty() {
                        let keys: Vec<String> = o.keys().cloned().collect();
                        let k = u.choose(&keys)?.clone();
                        o.remove(&k);
                    } else {
                        o.insert(u.arbitrary()?, Value::Null);
                    }
                }
                Value::Array(a) => {
                    if a.is_empty() {
                        a.push(Value::Null);
                    } else {
                        let i = u.int_in_range(0..=a.len() - 1)?;
                        a.remove(i);
                    }
                }
                _ => {}
            }
            v
        }
        _ => {
            // Same kind, edited: a string with a byte changed, a number off by one.
            match node {
                Value::String(s) => {
                    let mut b = s.as_bytes().to_vec();
                    byte_edit(u, &mut b)?;
                    Value::String(String::from_utf8_lossy(&b).into_owned())
                }
                Value::Number(n) => Value::from(n.as_i64().unwrap_or(0).wrapping_add(1)),
                other => other.clone(),
            }
        }
    })
}

/// Replaces one to four nodes of `v` with hostile values (keeping the document under
/// [`MAX_DOCUMENT_BYTES`]: an edit that would pass it is undone and editing stops).
pub fn mutate_json(u: &mut Unstructured<'_>, v: &mut Value) -> arbitrary::Result<()> {
    mutate_json_at(u, v, 0)
}

fn mutate_json_at(u: &mut Unstructured<'_>, v: &mut Value, level: u8) -> arbitrary::Result<()> {
    let edits = u.int_in_range(1u8..=4)?;
    for _ in 0..edits {
        let before = v.clone();
        let total = count_nodes(v);
        let mut n = u.int_in_range(0..=total.saturating_sub(1))?;
        let Some(node) = nth_node(v, &mut n) else {
            return Ok(());
        };
        let replacement = hostile_value(u, node, level)?;
        *node = replacement;
        if approx_size(v) > MAX_DOCUMENT_BYTES {
            *v = before;
            return Ok(());
        }
    }
    Ok(())
}

/// A changed body: JSON-level edits, byte edits, raw fuzz bytes, or (rarely: it is slow) a body
/// just over the default 1 MiB limit (bodies at the limit are covered by each crate's tests;
/// here they would cost a parse of a megabyte per input).
pub fn mutate_body(u: &mut Unstructured<'_>, body: &Bytes) -> Bytes {
    if u.ratio(1u8, 200u8).unwrap_or(false) {
        let delta = u.int_in_range(1usize..=4).unwrap_or(1);
        let fill: u8 = u.arbitrary().unwrap_or(b' ');
        let mut b = body.to_vec();
        b.resize(
            omnichannel_core::config::DEFAULT_MAX_BODY_BYTES + delta,
            fill,
        );
        return Bytes::from(b);
    }
    match u.int_in_range(0u8..=8).unwrap_or(0) {
        0..=4 => match serde_json::from_slice::<Value>(body) {
            Ok(mut v) => {
                let _ = mutate_json(u, &mut v);
                Bytes::from(v.to_string())
            }
            Err(_) => {
                let mut b = body.to_vec();
                let _ = byte_edit(u, &mut b);
                Bytes::from(b)
            }
        },
        5 | 6 => {
            let mut b = body.to_vec();
            let n = u.int_in_range(1u8..=8).unwrap_or(1);
            for _ in 0..n {
                if byte_edit(u, &mut b).is_err() {
                    break;
                }
            }
            Bytes::from(b)
        }
        7 => Bytes::new(),
        _ => {
            let raw: &[u8] = u.arbitrary().unwrap_or(&[]);
            Bytes::copy_from_slice(raw)
        }
    }
}

/// Changes the method (rarely) and the URL (rarely).
pub fn mutate_line(u: &mut Unstructured<'_>, req: &mut WebhookRequest) {
    if u.ratio(1u8, 8u8).unwrap_or(false) {
        const METHODS: &[&str] = &["GET", "POST", "PUT", "DELETE", "HEAD", "PATCH", "OPTIONS"];
        if let Ok(m) = u.choose(METHODS) {
            req.method = Method::from_bytes(m.as_bytes()).unwrap_or(Method::POST);
        }
    }
    if u.ratio(1u8, 8u8).unwrap_or(false) {
        let s: String = u.arbitrary().unwrap_or_default();
        match u.int_in_range(0u8..=2).unwrap_or(0) {
            0 => req.url.push_str(&s),
            1 => {
                let base = req.url.split('?').next().unwrap_or("").to_string();
                req.url = format!("{base}?{s}");
            }
            _ => req.url = s,
        }
    }
}

/// Reads the plan of one input: which fixture, whether to sign again, the clock skew.
pub fn plan(u: &mut Unstructured<'_>, cases: usize) -> Plan {
    let case = u.int_in_range(0..=cases.saturating_sub(1)).unwrap_or(0);
    let resign = !u.ratio(1u8, 6u8).unwrap_or(false);
    let skew_secs = match u.int_in_range(0u8..=7).unwrap_or(0) {
        0 => i64::from(u.arbitrary::<i32>().unwrap_or(0)),
        1 => i64::from(u.int_in_range(-400i16..=400).unwrap_or(0)),
        _ => 0,
    };
    Plan {
        case,
        resign,
        skew_secs,
    }
}

/// Sets the case clock to the fixture's time plus the plan's skew.
pub fn set_clock(case: &Case, plan: &Plan) {
    let at = case
        .now
        .checked_add_signed(chrono::TimeDelta::seconds(plan.skew_secs))
        .unwrap_or(case.now);
    case.clock.set(at);
}

/// Runs a whole plan against a request channel: mutate, sign again with `resign`, mutate
/// headers, receive, check the invariants.
pub fn run_request_target(
    data: &[u8],
    cases: &[Case],
    provider_headers: &[&'static str],
    resign: impl Fn(&Case, &mut WebhookRequest),
    channel_for: impl Fn(&Case) -> Option<Arc<dyn Channel>>,
) {
    let mut u = Unstructured::new(data);
    let p = plan(&mut u, cases.len());
    let Some(case) = cases.get(p.case) else {
        return;
    };
    let Some(mut req) = case.request.clone() else {
        return;
    };
    if u.ratio(3u8, 4u8).unwrap_or(true) {
        req.body = mutate_body(&mut u, &req.body);
    }
    mutate_line(&mut u, &mut req);
    if p.resign {
        resign(case, &mut req);
    }
    mutate_headers(&mut u, provider_headers, &mut req);
    set_clock(case, &p);
    let Some(channel) = channel_for(case) else {
        return;
    };
    // `receive` verifies first, so the verifier is fuzzed through it.
    let out = runtime().block_on(channel.receive(&req));
    match out {
        Ok(inbound) => {
            for e in &inbound.events {
                check_event_json(e);
            }
        }
        Err(e) => {
            assert_no_secret(case, &e);
            let _ = channel.reject_reply(&e);
        }
    }
}

/// Serializing an accepted event must not fail (its `raw` text, kept verbatim, is a body the
/// provider crate parsed as JSON), and the writer the gateway's sinks use (`to_json_vec`, which
/// copies a parsed `raw` without checking it again) must give the same bytes.
pub fn check_event_json(e: &omnichannel_core::Event) {
    let serialized = match serde_json::to_vec(e) {
        Ok(v) => v,
        Err(err) => panic!("an accepted event does not serialize: {err}"),
    };
    match e.to_json_vec() {
        Ok(written) => assert!(
            written == serialized,
            "to_json_vec and Serialize differ:\n{}\n{}",
            String::from_utf8_lossy(&written),
            String::from_utf8_lossy(&serialized)
        ),
        Err(err) => panic!("to_json_vec failed where Serialize did not: {err}"),
    }
}
