//! The gateway's configuration: a TOML file, or embedded defaults built from every registered
//! provider's demo settings.
//!
//! ```toml
//! listen = "127.0.0.1:8080"                      # default
//! public_base_url = "https://hooks.example.com"  # what providers call; default http://<listen>
//! api_key_env = "OMNICHANNEL_API_KEY"            # default; unset variable: /send is off
//! redis_url_env = "REDIS_URL"                    # optional: shared dedup, token and lock stores
//! forward_url = "http://127.0.0.1:9000/events"   # optional: POST every event there
//! max_body_bytes = 1048576                       # webhook body limit (default 1 MiB)
//! dedup_ttl_secs = 259200                        # how long event ids are remembered (72 h)
//!
//! [forward]                                      # optional tuning of the forwarding
//! queue_capacity = 10000
//! timeout_secs = 10
//! min_backoff_ms = 250
//! max_backoff_secs = 60
//! bearer_token_env = "FORWARD_TOKEN"              # sent as `Authorization: Bearer <token>`
//!
//! [[channels]]
//! provider = "tiktok"
//! name = "main"                                  # mounted at /webhooks/tiktok/main
//! # public_url = "https://hooks.example.com/tiktok" # optional: what the provider calls, when a
//! #                                               # proxy maps it to /webhooks/tiktok/main
//! [channels.settings]                            # the provider's settings (DESIGN.md section 5)
//! app_id = "7000000000000000000"
//! app_secret_env = "TIKTOK_APP_SECRET"           # `<key>_env` reads `<key>` from the environment
//! ```
//!
//! A settings key ending in `_env` names an environment variable (or a list of them, for a
//! secret list such as current and previous keys) whose value becomes the setting without the
//! suffix. Secrets never have to be written in the file or on the command line.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use omnichannel_core::config::DEFAULT_MAX_BODY_BYTES;
use omnichannel_core::{ChannelFactory, Error, SecretString};
use serde::Deserialize;
use serde_json::Value;

/// Default listen address.
pub const DEFAULT_LISTEN: &str = "127.0.0.1:8080";
/// Default name of the environment variable holding the `/send` API key.
pub const DEFAULT_API_KEY_ENV: &str = "OMNICHANNEL_API_KEY";
/// Name given to every channel of the embedded defaults.
pub const DEMO_CHANNEL: &str = "demo";
/// Largest configuration file read.
const MAX_CONFIG_BYTES: u64 = 1024 * 1024;

/// How events are forwarded to the host.
#[derive(Clone)]
pub struct ForwardConfig {
    /// Where each event is POSTed as JSON.
    pub url: String,
    /// Sent as `Authorization: Bearer <token>` so the host can tell the gateway's calls apart.
    pub bearer_token: Option<SecretString>,
    /// Events kept while the target is down; past it, webhooks are answered 503 so that the
    /// providers deliver again later.
    pub queue_capacity: usize,
    /// Timeout of one POST.
    pub timeout: Duration,
    /// First retry delay.
    pub min_backoff: Duration,
    /// Largest retry delay.
    pub max_backoff: Duration,
}

impl std::fmt::Debug for ForwardConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ForwardConfig")
            .field("url", &redact_url(&self.url))
            .field(
                "bearer_token",
                &self.bearer_token.as_ref().map(|_| "[redacted]"),
            )
            .field("queue_capacity", &self.queue_capacity)
            .field("timeout", &self.timeout)
            .field("min_backoff", &self.min_backoff)
            .field("max_backoff", &self.max_backoff)
            .finish()
    }
}

/// A URL for display: any password in it replaced by `***`.
pub fn redact_url(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(mut u) if u.password().is_some() => {
            let _ = u.set_password(Some("***"));
            u.to_string()
        }
        Ok(_) => url.to_string(),
        Err(_) => "[not a URL]".to_string(),
    }
}

impl ForwardConfig {
    /// Defaults for a target URL.
    pub fn new(url: impl Into<String>) -> Self {
        ForwardConfig {
            url: url.into(),
            bearer_token: None,
            queue_capacity: 10_000,
            timeout: Duration::from_secs(10),
            min_backoff: Duration::from_millis(250),
            max_backoff: Duration::from_secs(60),
        }
    }
}

/// One channel to mount.
#[derive(Clone)]
pub struct ChannelConfig {
    /// Provider name (`tiktok`, `front`, ...).
    pub provider: String,
    /// Channel name (the last segment of its webhook path).
    pub name: String,
    /// Settings, secrets resolved.
    pub settings: Value,
    /// The URL the provider calls for this channel, when a proxy rewrites paths (the channel
    /// verifies it + the path below its mount point + the query).
    pub public_url: Option<String>,
}

impl std::fmt::Debug for ChannelConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let keys: Vec<&String> = self
            .settings
            .as_object()
            .map(|m| m.keys().collect())
            .unwrap_or_default();
        f.debug_struct("ChannelConfig")
            .field("provider", &self.provider)
            .field("name", &self.name)
            .field(
                "settings",
                &format_args!("[keys {keys:?}, values redacted]"),
            )
            .finish()
    }
}

/// The resolved gateway configuration.
#[derive(Debug, Clone)]
pub struct GatewayConfig {
    /// Where to listen.
    pub listen: SocketAddr,
    /// What providers call; `None`: `http://<bound address>`.
    pub public_base_url: Option<String>,
    /// The `/send` bearer key; `None`: `/send` is off.
    pub api_key: Option<SecretString>,
    /// Redis for shared stores; `None`: in memory.
    pub redis_url: Option<SecretString>,
    /// Forwarding of events; `None`: stdout only.
    pub forward: Option<ForwardConfig>,
    /// Webhook body limit.
    pub max_body_bytes: usize,
    /// How long event ids are remembered.
    pub dedup_ttl: Duration,
    /// The channels.
    pub channels: Vec<ChannelConfig>,
    /// Built from demo settings (secrets are demo values, shown at start).
    pub embedded: bool,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FileConfig {
    #[serde(default)]
    listen: Option<String>,
    #[serde(default)]
    public_base_url: Option<String>,
    #[serde(default)]
    api_key_env: Option<String>,
    #[serde(default)]
    redis_url_env: Option<String>,
    #[serde(default)]
    redis_url: Option<String>,
    #[serde(default)]
    forward_url: Option<String>,
    #[serde(default)]
    forward: Option<FileForward>,
    #[serde(default)]
    max_body_bytes: Option<usize>,
    #[serde(default)]
    dedup_ttl_secs: Option<u64>,
    #[serde(default)]
    channels: Vec<FileChannel>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FileForward {
    #[serde(default)]
    url: Option<String>,
    #[serde(default)]
    queue_capacity: Option<usize>,
    #[serde(default)]
    timeout_secs: Option<u64>,
    #[serde(default)]
    min_backoff_ms: Option<u64>,
    #[serde(default)]
    max_backoff_secs: Option<u64>,
    #[serde(default)]
    bearer_token_env: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FileChannel {
    provider: String,
    name: String,
    #[serde(default)]
    public_url: Option<String>,
    #[serde(default)]
    settings: BTreeMap<String, toml::Value>,
}

/// Reads environment variables (a seam for tests).
pub trait Env {
    /// The value of a variable, if set and valid Unicode.
    fn var(&self, name: &str) -> Option<String>;
}

/// The process environment.
#[derive(Debug, Clone, Copy, Default)]
pub struct ProcessEnv;

impl Env for ProcessEnv {
    fn var(&self, name: &str) -> Option<String> {
        std::env::var(name).ok().filter(|v| !v.is_empty())
    }
}

impl<S: std::hash::BuildHasher> Env for std::collections::HashMap<String, String, S> {
    fn var(&self, name: &str) -> Option<String> {
        self.get(name).cloned()
    }
}

fn parse_listen(s: &str) -> Result<SocketAddr, Error> {
    s.trim()
        .parse()
        .map_err(|_| Error::config("listen", "must be an address such as 127.0.0.1:8080"))
}

impl GatewayConfig {
    /// Reads a TOML file.
    pub fn from_file(path: &Path, env: &dyn Env) -> Result<Self, Error> {
        let meta = std::fs::metadata(path)
            .map_err(|e| Error::config("config", format!("cannot read {}: {e}", path.display())))?;
        if meta.len() > MAX_CONFIG_BYTES {
            return Err(Error::config("config", "file larger than 1 MiB"));
        }
        let text = std::fs::read_to_string(path)
            .map_err(|e| Error::config("config", format!("cannot read {}: {e}", path.display())))?;
        Self::from_toml(&text, env)
    }

    /// Parses TOML text.
    pub fn from_toml(text: &str, env: &dyn Env) -> Result<Self, Error> {
        let file: FileConfig = toml::from_str(text).map_err(|e| {
            Error::config(
                "config",
                format!("not a valid configuration: {}", e.message()),
            )
        })?;
        let listen = parse_listen(file.listen.as_deref().unwrap_or(DEFAULT_LISTEN))?;
        let api_key_env = file.api_key_env.as_deref().unwrap_or(DEFAULT_API_KEY_ENV);
        let api_key = env.var(api_key_env).map(SecretString::from);
        let redis_url = match (&file.redis_url, &file.redis_url_env) {
            (Some(_), Some(_)) => {
                return Err(Error::config(
                    "redis_url",
                    "give `redis_url` or `redis_url_env`, not both",
                ));
            }
            (Some(u), None) => Some(SecretString::from(u.clone())),
            (None, Some(var)) => Some(SecretString::from(env.var(var).ok_or_else(|| {
                Error::config(
                    "redis_url_env",
                    format!("environment variable `{var}` is not set"),
                )
            })?)),
            (None, None) => None,
        };
        let forward_url = match (
            &file.forward_url,
            file.forward.as_ref().and_then(|f| f.url.as_ref()),
        ) {
            (Some(_), Some(_)) => {
                return Err(Error::config(
                    "forward_url",
                    "give `forward_url` or `forward.url`, not both",
                ));
            }
            (a, b) => a.clone().or_else(|| b.cloned()),
        };
        let forward = match forward_url {
            None => {
                if file.forward.is_some() {
                    return Err(Error::config(
                        "forward",
                        "tuning given without `forward_url`",
                    ));
                }
                None
            }
            Some(url) => {
                check_http_url("forward_url", &url)?;
                let mut f = ForwardConfig::new(url);
                if let Some(t) = &file.forward {
                    if let Some(c) = t.queue_capacity {
                        f.queue_capacity = c.max(1);
                    }
                    if let Some(s) = t.timeout_secs {
                        f.timeout = Duration::from_secs(s.max(1));
                    }
                    if let Some(ms) = t.min_backoff_ms {
                        f.min_backoff = Duration::from_millis(ms.max(1));
                    }
                    if let Some(s) = t.max_backoff_secs {
                        f.max_backoff = Duration::from_secs(s.max(1));
                    }
                    if let Some(var) = &t.bearer_token_env {
                        let token = env.var(var).ok_or_else(|| {
                            Error::config(
                                "forward.bearer_token_env",
                                format!("environment variable `{var}` is not set"),
                            )
                        })?;
                        f.bearer_token = Some(SecretString::from(token));
                    }
                }
                Some(f)
            }
        };
        if file.channels.is_empty() {
            return Err(Error::config(
                "channels",
                "no channel configured; add [[channels]] tables (or run without --config for the demo defaults)",
            ));
        }
        let mut channels = Vec::with_capacity(file.channels.len());
        for c in file.channels {
            let raw = serde_json::to_value(&c.settings).map_err(|e| {
                Error::config(format!("channels.{}.settings", c.name), e.to_string())
            })?;
            let settings = resolve_env_settings(&c.name, raw, env)?;
            channels.push(ChannelConfig {
                provider: c.provider,
                name: c.name,
                settings,
                public_url: c.public_url,
            });
        }
        Ok(GatewayConfig {
            listen,
            public_base_url: file.public_base_url,
            api_key,
            redis_url,
            forward,
            max_body_bytes: file.max_body_bytes.unwrap_or(DEFAULT_MAX_BODY_BYTES),
            dedup_ttl: file
                .dedup_ttl_secs
                .map_or(omnichannel_axum::DEFAULT_DEDUP_TTL, Duration::from_secs),
            channels,
            embedded: false,
        })
    }

    /// The embedded defaults: one channel named `demo` per factory, on its demo settings, in
    /// memory; the API key from `OMNICHANNEL_API_KEY` or a random one.
    pub fn embedded(factories: &[Arc<dyn ChannelFactory>], env: &dyn Env) -> Self {
        let api_key = env
            .var(DEFAULT_API_KEY_ENV)
            .unwrap_or_else(|| format!("demo-{}", uuid::Uuid::new_v4().simple()));
        GatewayConfig {
            listen: parse_listen(DEFAULT_LISTEN)
                .unwrap_or_else(|_| SocketAddr::from(([127, 0, 0, 1], 8080))),
            public_base_url: None,
            api_key: Some(SecretString::from(api_key)),
            redis_url: None,
            forward: None,
            max_body_bytes: DEFAULT_MAX_BODY_BYTES,
            dedup_ttl: omnichannel_axum::DEFAULT_DEDUP_TTL,
            channels: factories
                .iter()
                .map(|f| ChannelConfig {
                    provider: f.provider().as_str().to_string(),
                    name: DEMO_CHANNEL.to_string(),
                    settings: f.demo_config(),
                    public_url: None,
                })
                .collect(),
            embedded: true,
        }
    }

    /// Sets the listen address from a command-line value.
    pub fn set_listen(&mut self, listen: &str) -> Result<(), Error> {
        self.listen = parse_listen(listen)?;
        Ok(())
    }
}

fn check_http_url(what: &str, url: &str) -> Result<(), Error> {
    let u = url::Url::parse(url).map_err(|_| Error::config(what, "not an absolute URL"))?;
    if !matches!(u.scheme(), "http" | "https") || u.host_str().is_none() {
        return Err(Error::config(what, "must be an http or https URL"));
    }
    Ok(())
}

/// Replaces each `<key>_env` setting by `<key>` read from the environment.
pub fn resolve_env_settings(channel: &str, settings: Value, env: &dyn Env) -> Result<Value, Error> {
    let Value::Object(map) = settings else {
        return Err(Error::config(
            format!("channels.{channel}.settings"),
            "must be a table",
        ));
    };
    let mut out = serde_json::Map::new();
    let mut from_env = Vec::new();
    for (k, v) in map {
        match k.strip_suffix("_env") {
            Some(base) if !base.is_empty() => from_env.push((k.clone(), base.to_string(), v)),
            _ => {
                out.insert(k, v);
            }
        }
    }
    for (key, base, v) in from_env {
        let setting = format!("channels.{channel}.settings.{key}");
        if out.contains_key(&base) {
            return Err(Error::config(
                setting,
                format!("give `{base}` or `{key}`, not both"),
            ));
        }
        let read = |var: &str| {
            env.var(var).ok_or_else(|| {
                Error::config(
                    setting.clone(),
                    format!("environment variable `{var}` is not set"),
                )
            })
        };
        let value = match &v {
            Value::String(var) => Value::String(read(var)?),
            Value::Array(vars) => {
                let mut vals = Vec::with_capacity(vars.len());
                for var in vars {
                    let var = var.as_str().ok_or_else(|| {
                        Error::config(setting.clone(), "must name environment variables")
                    })?;
                    vals.push(Value::String(read(var)?));
                }
                Value::Array(vals)
            }
            _ => {
                return Err(Error::config(
                    setting,
                    "must be the name of an environment variable, or a list of names",
                ));
            }
        };
        out.insert(base, value);
    }
    Ok(Value::Object(out))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;
    use omnichannel_core::ExposeSecret as _;
    use std::collections::HashMap;

    fn env(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    const FULL: &str = r#"
listen = "0.0.0.0:9000"
public_base_url = "https://hooks.example.test"
redis_url_env = "REDIS_URL"
forward_url = "http://127.0.0.1:9999/events"
max_body_bytes = 2048

[forward]
queue_capacity = 5
min_backoff_ms = 10
bearer_token_env = "FORWARD_TOKEN"

[[channels]]
provider = "tiktok"
name = "main"
[channels.settings]
app_id = "app-1"
app_secret_env = "TIKTOK_APP_SECRET"
tolerance_secs = 300

[[channels]]
provider = "front"
name = "eu"
public_url = "https://hooks.example.test/front-eu"
[channels.settings]
app_secret_env = ["FRONT_SECRET", "FRONT_SECRET_OLD"]
"#;

    #[test]
    fn reads_a_full_file_with_secrets_from_the_environment() {
        let e = env(&[
            ("TIKTOK_APP_SECRET", "tt-secret-not-real"),
            ("FRONT_SECRET", "front-new-not-real"),
            ("FRONT_SECRET_OLD", "front-old-not-real"),
            ("REDIS_URL", "redis://:pw-not-real@127.0.0.1/0"),
            ("OMNICHANNEL_API_KEY", "key-not-real-0123456789"),
            ("FORWARD_TOKEN", "fwd-token-not-real"),
        ]);
        let c = GatewayConfig::from_toml(FULL, &e).unwrap();
        let all = format!("{c:?}");
        assert!(!all.contains("not-real"), "{all}");
        assert_eq!(c.listen.to_string(), "0.0.0.0:9000");
        assert_eq!(c.max_body_bytes, 2048);
        assert_eq!(
            c.api_key.unwrap().expose_secret(),
            "key-not-real-0123456789"
        );
        assert!(c.redis_url.is_some());
        let f = c.forward.unwrap();
        assert_eq!(f.queue_capacity, 5);
        assert_eq!(
            f.bearer_token.unwrap().expose_secret(),
            "fwd-token-not-real"
        );
        assert_eq!(f.min_backoff, Duration::from_millis(10));
        assert_eq!(c.channels.len(), 2);
        assert_eq!(
            c.channels[0].settings,
            serde_json::json!({"app_id": "app-1", "app_secret": "tt-secret-not-real", "tolerance_secs": 300})
        );
        assert_eq!(
            c.channels[1].settings,
            serde_json::json!({"app_secret": ["front-new-not-real", "front-old-not-real"]})
        );
        assert_eq!(c.channels[0].public_url, None);
        assert_eq!(
            c.channels[1].public_url.as_deref(),
            Some("https://hooks.example.test/front-eu")
        );
        let dbg = format!("{:?}", c.channels);
        assert!(!dbg.contains("not-real"), "{dbg}");
        assert!(dbg.contains("app_secret"));
    }

    #[test]
    fn names_missing_variables_and_mistakes() {
        let e = env(&[("REDIS_URL", "redis://127.0.0.1")]);
        let err = GatewayConfig::from_toml(FULL, &e).unwrap_err();
        assert!(err.to_string().contains("FORWARD_TOKEN"), "{err}");
        let e = env(&[("REDIS_URL", "redis://127.0.0.1"), ("FORWARD_TOKEN", "t")]);
        let err = GatewayConfig::from_toml(FULL, &e).unwrap_err();
        assert!(err.to_string().contains("TIKTOK_APP_SECRET"), "{err}");

        let typo = "listn = \"127.0.0.1:1\"\n[[channels]]\nprovider = \"x\"\nname = \"y\"\n";
        assert!(GatewayConfig::from_toml(typo, &e).is_err());

        let both = "[[channels]]\nprovider = \"x\"\nname = \"y\"\n[channels.settings]\nsecret = \"a\"\nsecret_env = \"B\"\n";
        let err = GatewayConfig::from_toml(both, &env(&[("B", "b")])).unwrap_err();
        assert!(err.to_string().contains("not both"), "{err}");

        assert!(
            GatewayConfig::from_toml("listen = \"127.0.0.1:1\"\n", &e).is_err(),
            "no channels"
        );
        let bad_forward =
            "forward_url = \"ftp://x\"\n[[channels]]\nprovider = \"x\"\nname = \"y\"\n";
        assert!(GatewayConfig::from_toml(bad_forward, &e).is_err());
    }

    #[test]
    fn urls_are_shown_without_passwords() {
        assert_eq!(
            redact_url("https://u:pw-not-real@h.test/events"),
            "https://u:***@h.test/events"
        );
        assert_eq!(redact_url("http://h.test/e"), "http://h.test/e");
        let mut f = ForwardConfig::new("https://u:pw-not-real@h.test/events");
        f.bearer_token = Some(SecretString::from("tok-not-real".to_string()));
        assert!(!format!("{f:?}").contains("not-real"));
    }

    #[test]
    fn defaults() {
        let c =
            GatewayConfig::from_toml("[[channels]]\nprovider = \"x\"\nname = \"y\"\n", &env(&[]))
                .unwrap();
        assert_eq!(c.listen.to_string(), DEFAULT_LISTEN);
        assert!(c.api_key.is_none());
        assert!(c.forward.is_none());
        assert!(c.redis_url.is_none());
        assert_eq!(c.max_body_bytes, DEFAULT_MAX_BODY_BYTES);
        assert_eq!(c.channels[0].settings, serde_json::json!({}));
    }
}
