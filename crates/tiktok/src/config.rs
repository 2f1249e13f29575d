//! Settings of a TikTok channel: app credentials, URLs, webhook tolerance, limits and the host's
//! reauthorization hook.
//!
//! Build them in code with [`TiktokConfig::builder`], or read them from JSON (fixture `config`,
//! gateway channel tables) with [`TiktokConfig::from_settings`]. `Debug` never shows a secret.

use std::sync::Arc;
use std::time::Duration;

use omnichannel_core::config::DEFAULT_MAX_BODY_BYTES;
use omnichannel_core::http::RetryPolicy;
use omnichannel_core::{ReauthorizationNotice, Result, SecretString, Settings, SigningKeys};

/// TikTok API for Business base URL (v1.3). Every endpoint ends with `/`.
pub const DEFAULT_API_BASE_URL: &str = "https://business-api.tiktok.com/open_api/v1.3/";
/// Where the account holder grants access.
pub const DEFAULT_AUTHORIZE_URL: &str = "https://www.tiktok.com/v2/auth/authorize";
/// Default webhook timestamp tolerance, applied both ways: 300 s.
pub const DEFAULT_TOLERANCE: Duration = Duration::from_secs(300);
/// Default largest image sent or downloaded: 3 MiB (TikTok accepts JPEG/PNG up to 3 MB).
pub const DEFAULT_MAX_MEDIA_BYTES: usize = 3 * 1024 * 1024;
/// Default lifetime of an OAuth `state`: 15 minutes.
pub const DEFAULT_STATE_TTL: Duration = Duration::from_secs(15 * 60);
/// Scopes requested by default (the ones Business Messaging needs, as Chatwoot requests them).
pub const DEFAULT_SCOPES: &[&str] = &[
    "user.info.basic",
    "user.info.username",
    "user.info.stats",
    "user.info.profile",
    "user.account.type",
    "user.insights",
    "message.list.read",
    "message.list.send",
    "message.list.manage",
];

/// The host's hook, called once when a business must authorize the app again.
pub type ReauthorizationHook = Arc<dyn Fn(&ReauthorizationNotice) + Send + Sync>;

/// Settings of a TikTok channel.
#[derive(Clone)]
#[non_exhaustive]
pub struct TiktokConfig {
    /// App id, also called client key.
    pub app_id: String,
    /// App secret(s): the first signs OAuth states and is sent as `client_secret`; all verify
    /// webhooks and states (rotation).
    pub app_secret: SigningKeys,
    /// The OAuth redirect URI registered in the TikTok developer portal.
    pub redirect_uri: Option<String>,
    /// API base URL (default [`DEFAULT_API_BASE_URL`]); tests point it at a mock server.
    pub api_base_url: String,
    /// Authorization page URL (default [`DEFAULT_AUTHORIZE_URL`]).
    pub authorize_url: String,
    /// Webhook timestamp tolerance, both ways (default 300 s).
    pub tolerance: Duration,
    /// The business (TikTok `open_id` / `user_openid`) this channel sends as, unless a message
    /// names another in its `business_id` metadata.
    pub business_id: Option<String>,
    /// A fixed access token (fixtures, manual setups); without it tokens come from OAuth and are
    /// refreshed by the token manager.
    pub access_token: Option<SecretString>,
    /// Largest webhook body accepted (default 1 MiB).
    pub max_body_bytes: usize,
    /// Largest image uploaded or downloaded (default 3 MiB).
    pub max_media_bytes: usize,
    /// Scopes requested in the authorization URL and required in the callback.
    pub scopes: Vec<String>,
    /// Lifetime of an OAuth `state` (default 15 min).
    pub state_ttl: Duration,
    /// Retries of idempotent calls (media upload, media download, business info, webhook list).
    /// Sends are never retried automatically: TikTok has no idempotency key.
    pub retry: RetryPolicy,
    /// Called once when a business must authorize again (refresh token expired or revoked).
    pub reauthorization_hook: Option<ReauthorizationHook>,
}

impl std::fmt::Debug for TiktokConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TiktokConfig")
            .field("app_id", &self.app_id)
            .field("app_secret", &self.app_secret)
            .field("redirect_uri", &self.redirect_uri)
            .field("api_base_url", &self.api_base_url)
            .field("authorize_url", &self.authorize_url)
            .field("tolerance", &self.tolerance)
            .field("business_id", &self.business_id)
            .field(
                "access_token",
                &self.access_token.as_ref().map(|_| "[redacted]"),
            )
            .field("max_body_bytes", &self.max_body_bytes)
            .field("max_media_bytes", &self.max_media_bytes)
            .field("scopes", &self.scopes)
            .field("state_ttl", &self.state_ttl)
            .field("reauthorization_hook", &self.reauthorization_hook.is_some())
            .finish_non_exhaustive()
    }
}

impl TiktokConfig {
    /// A builder with the app's id (client key) and secret; everything else defaults.
    pub fn builder(
        app_id: impl Into<String>,
        app_secret: impl Into<String>,
    ) -> TiktokConfigBuilder {
        TiktokConfigBuilder {
            cfg: TiktokConfig {
                app_id: app_id.into(),
                app_secret: SigningKeys::new(app_secret.into()),
                redirect_uri: None,
                api_base_url: DEFAULT_API_BASE_URL.to_string(),
                authorize_url: DEFAULT_AUTHORIZE_URL.to_string(),
                tolerance: DEFAULT_TOLERANCE,
                business_id: None,
                access_token: None,
                max_body_bytes: DEFAULT_MAX_BODY_BYTES,
                max_media_bytes: DEFAULT_MAX_MEDIA_BYTES,
                scopes: DEFAULT_SCOPES.iter().map(|s| s.to_string()).collect(),
                state_ttl: DEFAULT_STATE_TTL,
                retry: RetryPolicy::default(),
                reauthorization_hook: None,
            },
        }
    }

    /// Reads settings from JSON. Keys: `app_id` (required), `app_secret` (required; a string or
    /// an array, current first), `tolerance_secs`, `business_id`, `access_token`,
    /// `redirect_uri`, `api_base_url`, `authorize_url`, `max_body_bytes`, `max_media_bytes`,
    /// `state_ttl_secs`, `scopes` (array of strings).
    pub fn from_settings(v: &serde_json::Value) -> Result<Self> {
        let s = Settings::new(v)?;
        let app_id = s.require_str("app_id")?;
        let keys = s.require_signing_keys("app_secret")?;
        let mut b = TiktokConfig::builder(app_id, "");
        b.cfg.app_secret = keys;
        b.cfg.tolerance = s.secs_or("tolerance_secs", DEFAULT_TOLERANCE)?;
        b.cfg.business_id = s.str("business_id")?.map(str::to_string);
        b.cfg.access_token = s.secret("access_token")?;
        b.cfg.redirect_uri = s.str("redirect_uri")?.map(str::to_string);
        b.cfg.api_base_url = s.str_or("api_base_url", DEFAULT_API_BASE_URL)?;
        b.cfg.authorize_url = s.str_or("authorize_url", DEFAULT_AUTHORIZE_URL)?;
        if let Some(n) = s.u64("max_body_bytes")? {
            b.cfg.max_body_bytes = usize::try_from(n).unwrap_or(usize::MAX);
        }
        if let Some(n) = s.u64("max_media_bytes")? {
            b.cfg.max_media_bytes = usize::try_from(n).unwrap_or(usize::MAX);
        }
        b.cfg.state_ttl = s.secs_or("state_ttl_secs", DEFAULT_STATE_TTL)?;
        if let Some(v) = s.get("scopes") {
            let list = v
                .as_array()
                .ok_or_else(|| omnichannel_core::Error::config("scopes", "must be an array"))?;
            let mut scopes = Vec::with_capacity(list.len());
            for item in list {
                let s = item
                    .as_str()
                    .ok_or_else(|| omnichannel_core::Error::config("scopes", "must be strings"))?;
                scopes.push(s.to_string());
            }
            b.cfg.scopes = scopes;
        }
        b.build()
    }
}

/// Builds a [`TiktokConfig`].
#[derive(Debug, Clone)]
pub struct TiktokConfigBuilder {
    cfg: TiktokConfig,
}

impl TiktokConfigBuilder {
    /// Adds a previous app secret that still verifies webhooks and states during a rotation.
    pub fn previous_secret(mut self, secret: impl Into<String>) -> Self {
        self.cfg.app_secret = self.cfg.app_secret.with_previous(secret);
        self
    }
    /// Sets the OAuth redirect URI.
    pub fn redirect_uri(mut self, uri: impl Into<String>) -> Self {
        self.cfg.redirect_uri = Some(uri.into());
        self
    }
    /// Sets the API base URL.
    pub fn api_base_url(mut self, url: impl Into<String>) -> Self {
        self.cfg.api_base_url = url.into();
        self
    }
    /// Sets the authorization page URL.
    pub fn authorize_url(mut self, url: impl Into<String>) -> Self {
        self.cfg.authorize_url = url.into();
        self
    }
    /// Sets the webhook tolerance.
    pub fn tolerance(mut self, tolerance: Duration) -> Self {
        self.cfg.tolerance = tolerance;
        self
    }
    /// Sets the default business.
    pub fn business_id(mut self, id: impl Into<String>) -> Self {
        self.cfg.business_id = Some(id.into());
        self
    }
    /// Uses a fixed access token instead of OAuth tokens.
    pub fn access_token(mut self, token: impl Into<String>) -> Self {
        self.cfg.access_token = Some(SecretString::from(token.into()));
        self
    }
    /// Sets the webhook body limit.
    pub fn max_body_bytes(mut self, n: usize) -> Self {
        self.cfg.max_body_bytes = n;
        self
    }
    /// Sets the image size limit.
    pub fn max_media_bytes(mut self, n: usize) -> Self {
        self.cfg.max_media_bytes = n;
        self
    }
    /// Sets the scopes requested and required.
    pub fn scopes<I, S>(mut self, scopes: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.cfg.scopes = scopes.into_iter().map(Into::into).collect();
        self
    }
    /// Sets the OAuth state lifetime.
    pub fn state_ttl(mut self, ttl: Duration) -> Self {
        self.cfg.state_ttl = ttl;
        self
    }
    /// Sets the retry policy of idempotent calls.
    pub fn retry(mut self, policy: RetryPolicy) -> Self {
        self.cfg.retry = policy;
        self
    }
    /// Sets the host's reauthorization hook.
    pub fn on_reauthorization(
        mut self,
        hook: impl Fn(&ReauthorizationNotice) + Send + Sync + 'static,
    ) -> Self {
        self.cfg.reauthorization_hook = Some(Arc::new(hook));
        self
    }
    /// Checks and returns the settings.
    pub fn build(self) -> Result<TiktokConfig> {
        let c = self.cfg;
        if c.app_id.trim().is_empty() {
            return Err(omnichannel_core::Error::config(
                "app_id",
                "must not be empty",
            ));
        }
        if c.app_secret
            .all()
            .iter()
            .any(|s| secrecy::ExposeSecret::expose_secret(s).is_empty())
        {
            return Err(omnichannel_core::Error::config(
                "app_secret",
                "must not be empty",
            ));
        }
        for (name, u) in [
            ("api_base_url", &c.api_base_url),
            ("authorize_url", &c.authorize_url),
        ] {
            url::Url::parse(u)
                .map_err(|_| omnichannel_core::Error::config(name, "not an absolute URL"))?;
        }
        if let Some(r) = &c.redirect_uri {
            url::Url::parse(r).map_err(|_| {
                omnichannel_core::Error::config("redirect_uri", "not an absolute URL")
            })?;
        }
        Ok(c)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;
    use serde_json::json;

    #[test]
    fn reads_fixture_keys() {
        let c = TiktokConfig::from_settings(&json!({
            "app_id": "app-1",
            "app_secret": ["new-test-secret", "old-test-secret"],
            "tolerance_secs": 60,
            "business_id": "biz-123",
            "access_token": "test-access-token"
        }))
        .unwrap();
        assert_eq!(c.app_id, "app-1");
        assert_eq!(c.app_secret.all().len(), 2);
        assert_eq!(c.tolerance, Duration::from_secs(60));
        assert_eq!(c.business_id.as_deref(), Some("biz-123"));
        assert_eq!(c.api_base_url, DEFAULT_API_BASE_URL);
        let d = TiktokConfig::from_settings(&json!({"app_id": "a", "app_secret": "s"})).unwrap();
        assert_eq!(d.tolerance, DEFAULT_TOLERANCE);
        assert!(d.access_token.is_none());
        assert!(TiktokConfig::from_settings(&json!({"app_secret": "s"})).is_err());
        assert!(TiktokConfig::from_settings(&json!({"app_id": "a", "app_secret": ""})).is_err());
        assert!(
            TiktokConfig::from_settings(
                &json!({"app_id": "a", "app_secret": "s", "api_base_url": "nope"})
            )
            .is_err()
        );
    }
}
