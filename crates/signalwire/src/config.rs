//! Settings of a SignalWire channel.
//!
//! | setting (JSON key) | meaning | default |
//! | --- | --- | --- |
//! | `signing_key` | the project's Signing Key (Dashboard → API Credentials); a string, or a list with the current key first and previous ones that still verify during a rotation | required |
//! | `space_url` | the space, `https://example.signalwire.com` (a bare space name `example` or host also works); overridable so tests point it at a mock server | none: API calls fail with a configuration error |
//! | `project_id` | Project ID (Basic auth user, `AccountSid` of every path) | none: API calls fail |
//! | `api_token` | API token with the Messaging scope (Basic auth password) | none: API calls fail |
//! | `public_base_url` | the public origin (and optional path prefix) SignalWire calls, for hosts behind proxies: it replaces the scheme, host and port of the request URL before the signature is checked | the request URL as given |
//! | `from` | default sender number (E.164 or short code) | none: each message must give `metadata.from` |
//! | `status_callback` | default `StatusCallback` URL sent with every message | none |
//! | `default_region` | ISO region (`US`, `GB`, ...) in which numbers without `+` are read, see [`crate::phone`] | none: numbers must be E.164 |
//! | `max_body_bytes` | largest webhook body accepted | [`DEFAULT_MAX_BODY_BYTES`] (1 MiB) |
//! | `max_params` | most form parameters in one webhook (all of them are signed, so more is refused) | [`DEFAULT_MAX_PARAMS`] |
//! | `max_media` | most media of one inbound MMS turned into attachments (the rest stays in `raw`, and a warning is logged) | [`DEFAULT_MAX_MEDIA`] |
//! | `max_outbound_media` | most `MediaUrl` per sent message | [`DEFAULT_MAX_OUTBOUND_MEDIA`] |
//! | `max_pages` | most pages one listing call follows | [`DEFAULT_MAX_PAGES`] |

use omnichannel_core::config::DEFAULT_MAX_BODY_BYTES;
use omnichannel_core::signature::SigningKeys;
use omnichannel_core::{Error, Result, SecretString, Settings};

use crate::phone::Region;

/// Default bound on the form parameters of one webhook. A message with 10 media carries about
/// 35 parameters; Twilio-style extras add a dozen more.
pub const DEFAULT_MAX_PARAMS: usize = 200;
/// Default bound on the media of one inbound message turned into attachments.
pub const DEFAULT_MAX_MEDIA: usize = 10;
/// SignalWire accepts up to 8 `MediaUrl` per message (API spec; an older page says 10).
pub const DEFAULT_MAX_OUTBOUND_MEDIA: usize = 8;
/// Longest `Body` SignalWire accepts, in characters.
pub const MAX_BODY_CHARS: usize = 1600;
/// Default bound on the pages one listing call follows.
pub const DEFAULT_MAX_PAGES: usize = 100;

/// The settings of a [`SignalwireChannel`](crate::SignalwireChannel). `Debug` shows no secret.
#[derive(Clone)]
pub struct SignalwireConfig {
    pub(crate) signing_keys: SigningKeys,
    pub(crate) api_token: Option<SecretString>,
    /// The space URL, `https://example.signalwire.com`, without a trailing slash.
    pub space_url: Option<String>,
    /// The project id.
    pub project_id: Option<String>,
    /// The public base URL SignalWire calls, without a trailing slash.
    pub public_base_url: Option<String>,
    /// Default sender.
    pub from: Option<String>,
    /// Default status callback URL.
    pub status_callback: Option<String>,
    /// Region for numbers without `+`.
    pub default_region: Option<Region>,
    /// Largest webhook body accepted.
    pub max_body_bytes: usize,
    /// Most form parameters in one webhook.
    pub max_params: usize,
    /// Most inbound media turned into attachments.
    pub max_media: usize,
    /// Most `MediaUrl` per sent message.
    pub max_outbound_media: usize,
    /// Most pages one listing call follows.
    pub max_pages: usize,
}

impl std::fmt::Debug for SignalwireConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SignalwireConfig")
            .field("signing_keys", &self.signing_keys)
            .field("api_token", &self.api_token.as_ref().map(|_| "[redacted]"))
            .field("space_url", &self.space_url)
            .field("project_id", &self.project_id)
            .field("public_base_url", &self.public_base_url)
            .field("from", &self.from)
            .field("status_callback", &self.status_callback)
            .field("default_region", &self.default_region)
            .field("max_body_bytes", &self.max_body_bytes)
            .field("max_params", &self.max_params)
            .field("max_media", &self.max_media)
            .field("max_outbound_media", &self.max_outbound_media)
            .field("max_pages", &self.max_pages)
            .finish()
    }
}

impl SignalwireConfig {
    /// A builder; the signing key is the one setting every channel needs.
    pub fn builder(signing_key: impl Into<String>) -> SignalwireConfigBuilder {
        SignalwireConfigBuilder {
            cfg: SignalwireConfig {
                signing_keys: SigningKeys::new(signing_key),
                api_token: None,
                space_url: None,
                project_id: None,
                public_base_url: None,
                from: None,
                status_callback: None,
                default_region: None,
                max_body_bytes: DEFAULT_MAX_BODY_BYTES,
                max_params: DEFAULT_MAX_PARAMS,
                max_media: DEFAULT_MAX_MEDIA,
                max_outbound_media: DEFAULT_MAX_OUTBOUND_MEDIA,
                max_pages: DEFAULT_MAX_PAGES,
            },
            space_url: None,
            public_base_url: None,
        }
    }

    /// Settings from JSON (fixture `config`, gateway channel table); keys in the module docs.
    pub fn from_settings(value: &serde_json::Value) -> Result<Self> {
        let s = Settings::new(value)?;
        let keys = s.require_signing_keys("signing_key")?;
        let mut b = SignalwireConfig::builder("");
        b.cfg.signing_keys = keys;
        if let Some(v) = s.str("space_url")? {
            b = b.space_url(v);
        }
        if let Some(v) = s.str("project_id")? {
            b = b.project_id(v);
        }
        if let Some(v) = s.secret("api_token")? {
            b.cfg.api_token = Some(v);
        }
        if let Some(v) = s.str("public_base_url")? {
            b = b.public_base_url(v);
        }
        if let Some(v) = s.str("from")? {
            b = b.from(v);
        }
        if let Some(v) = s.str("status_callback")? {
            b = b.status_callback(v);
        }
        if let Some(v) = s.str("default_region")? {
            let r: Region = v.parse().map_err(|e: crate::phone::PhoneError| {
                Error::config("default_region", e.to_string())
            })?;
            b = b.default_region(r);
        }
        let size = |key: &str, default: usize| -> Result<usize> {
            Ok(s.u64(key)?
                .map(|n| usize::try_from(n).unwrap_or(usize::MAX))
                .unwrap_or(default))
        };
        b.cfg.max_body_bytes = size("max_body_bytes", DEFAULT_MAX_BODY_BYTES)?;
        b.cfg.max_params = size("max_params", DEFAULT_MAX_PARAMS)?;
        b.cfg.max_media = size("max_media", DEFAULT_MAX_MEDIA)?;
        b.cfg.max_outbound_media = size("max_outbound_media", DEFAULT_MAX_OUTBOUND_MEDIA)?;
        b.cfg.max_pages = size("max_pages", DEFAULT_MAX_PAGES)?;
        b.build()
    }

    /// The verification keys (current first).
    pub fn signing_keys(&self) -> &SigningKeys {
        &self.signing_keys
    }

    /// The API token, when set.
    pub fn api_token(&self) -> Option<&SecretString> {
        self.api_token.as_ref()
    }
}

/// Builds a [`SignalwireConfig`]; [`build`](SignalwireConfigBuilder::build) checks the URLs.
#[derive(Debug, Clone)]
pub struct SignalwireConfigBuilder {
    cfg: SignalwireConfig,
    space_url: Option<String>,
    public_base_url: Option<String>,
}

impl SignalwireConfigBuilder {
    /// Adds a previous signing key that still verifies (during a rotation).
    pub fn previous_signing_key(mut self, key: impl Into<String>) -> Self {
        self.cfg.signing_keys = self.cfg.signing_keys.with_previous(key);
        self
    }
    /// The space: `https://example.signalwire.com`, `example.signalwire.com` or `example`.
    pub fn space_url(mut self, url: impl Into<String>) -> Self {
        self.space_url = Some(url.into());
        self
    }
    /// The project id.
    pub fn project_id(mut self, id: impl Into<String>) -> Self {
        self.cfg.project_id = Some(id.into());
        self
    }
    /// The API token.
    pub fn api_token(mut self, token: impl Into<String>) -> Self {
        self.cfg.api_token = Some(SecretString::from(token.into()));
        self
    }
    /// The public base URL SignalWire calls (scheme, host, port, optional path prefix).
    pub fn public_base_url(mut self, url: impl Into<String>) -> Self {
        self.public_base_url = Some(url.into());
        self
    }
    /// The default sender number.
    pub fn from(mut self, from: impl Into<String>) -> Self {
        self.cfg.from = Some(from.into());
        self
    }
    /// The default status callback URL.
    pub fn status_callback(mut self, url: impl Into<String>) -> Self {
        self.cfg.status_callback = Some(url.into());
        self
    }
    /// The region numbers without `+` are read in.
    pub fn default_region(mut self, region: Region) -> Self {
        self.cfg.default_region = Some(region);
        self
    }
    /// The largest webhook body accepted.
    pub fn max_body_bytes(mut self, n: usize) -> Self {
        self.cfg.max_body_bytes = n;
        self
    }
    /// The most form parameters in one webhook.
    pub fn max_params(mut self, n: usize) -> Self {
        self.cfg.max_params = n;
        self
    }
    /// The most inbound media turned into attachments.
    pub fn max_media(mut self, n: usize) -> Self {
        self.cfg.max_media = n;
        self
    }
    /// The most `MediaUrl` per sent message.
    pub fn max_outbound_media(mut self, n: usize) -> Self {
        self.cfg.max_outbound_media = n;
        self
    }
    /// The most pages one listing call follows.
    pub fn max_pages(mut self, n: usize) -> Self {
        self.cfg.max_pages = n;
        self
    }

    /// Checks the settings.
    pub fn build(mut self) -> Result<SignalwireConfig> {
        if self
            .cfg
            .signing_keys
            .all()
            .iter()
            .any(|k| omnichannel_core::ExposeSecret::expose_secret(k).is_empty())
        {
            return Err(Error::config("signing_key", "must not be empty"));
        }
        if let Some(s) = self.space_url.take() {
            self.cfg.space_url = Some(normalize_space_url(&s)?);
        }
        if let Some(p) = self.public_base_url.take() {
            self.cfg.public_base_url = Some(check_base_url("public_base_url", &p)?);
        }
        if let Some(cb) = &self.cfg.status_callback {
            check_base_url("status_callback", cb)?;
        }
        if self.cfg.project_id.as_deref().is_some_and(str::is_empty) {
            return Err(Error::config("project_id", "must not be empty"));
        }
        if self.cfg.max_pages == 0 {
            return Err(Error::config("max_pages", "must be at least 1"));
        }
        Ok(self.cfg)
    }
}

fn check_base_url(setting: &str, s: &str) -> Result<String> {
    let u = url::Url::parse(s.trim())
        .map_err(|_| Error::config(setting, "must be an absolute http(s) URL"))?;
    if !matches!(u.scheme(), "http" | "https") || u.host_str().is_none() {
        return Err(Error::config(setting, "must be an absolute http(s) URL"));
    }
    if setting == "public_base_url" && (u.query().is_some() || u.fragment().is_some()) {
        return Err(Error::config(setting, "must not have a query or fragment"));
    }
    Ok(s.trim().trim_end_matches('/').to_string())
}

/// `example` → `https://example.signalwire.com`; `host` → `https://host`; URLs are checked.
fn normalize_space_url(s: &str) -> Result<String> {
    let s = s.trim();
    if s.contains("://") {
        return check_base_url("space_url", s);
    }
    if !s.contains('.') && !s.contains(':') {
        let ok = !s.is_empty()
            && s.bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
            && !s.starts_with('-')
            && !s.ends_with('-');
        if !ok {
            return Err(Error::config(
                "space_url",
                "a space name has lowercase letters, digits and inner dashes",
            ));
        }
        return Ok(format!("https://{s}.signalwire.com"));
    }
    check_base_url("space_url", &format!("https://{s}"))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use serde_json::json;

    #[test]
    fn reads_fixture_keys() {
        let c = SignalwireConfig::from_settings(&json!({
            "signing_key": ["PSK_new", "PSK_old"],
            "project_id": "p1",
            "api_token": "tok",
            "space_url": "https://example.signalwire.com/",
            "public_base_url": "https://hooks.example.com/",
            "from": "+15551234567",
            "default_region": "gb",
            "max_media": 3
        }))
        .unwrap();
        assert_eq!(c.signing_keys().all().len(), 2);
        assert_eq!(
            c.space_url.as_deref(),
            Some("https://example.signalwire.com")
        );
        assert_eq!(
            c.public_base_url.as_deref(),
            Some("https://hooks.example.com")
        );
        assert_eq!(c.default_region, Some(Region::GB));
        assert_eq!(c.max_media, 3);
        assert_eq!(c.max_outbound_media, DEFAULT_MAX_OUTBOUND_MEDIA);
    }

    #[test]
    fn space_forms() {
        assert_eq!(
            normalize_space_url("acme").unwrap(),
            "https://acme.signalwire.com"
        );
        assert_eq!(
            normalize_space_url("acme.signalwire.com").unwrap(),
            "https://acme.signalwire.com"
        );
        assert_eq!(
            normalize_space_url("http://127.0.0.1:8080").unwrap(),
            "http://127.0.0.1:8080"
        );
        assert!(normalize_space_url("Bad Space").is_err());
        assert!(normalize_space_url("ftp://x.test").is_err());
    }

    #[test]
    fn refusals_name_the_setting() {
        let e = SignalwireConfig::from_settings(&json!({})).unwrap_err();
        assert!(e.to_string().contains("signing_key"), "{e}");
        let e =
            SignalwireConfig::from_settings(&json!({"signing_key": "k", "default_region": "ZZ"}))
                .unwrap_err();
        assert!(e.to_string().contains("default_region"), "{e}");
        let e = SignalwireConfig::from_settings(
            &json!({"signing_key": "k", "public_base_url": "https://h.test/?a=1"}),
        )
        .unwrap_err();
        assert!(e.to_string().contains("public_base_url"), "{e}");
        assert!(SignalwireConfig::from_settings(&json!({"signing_key": ""})).is_err());
    }
}
