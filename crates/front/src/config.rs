//! Settings of a Front application channel, and the host hooks it calls while replying.
//!
//! Fixture / gateway keys (DESIGN.md section 5): `app_uid`, `app_secret` (a string, or a list
//! for rotation: current first), `webhook_url`, `tolerance_secs`, `channel_id`; also
//! `api_base_url`, `jwt_lifetime_secs`, `max_body_bytes`, `max_recipients`, `max_attachments`.

use std::sync::Arc;
use std::time::Duration;

use omnichannel_core::config::DEFAULT_MAX_BODY_BYTES;
use omnichannel_core::http::RetryPolicy;
use omnichannel_core::{Error, Result, SecretString, Settings, SigningKeys, WebhookRequest};

use crate::normalize::{IdConvention, WebhookDbIds};

/// Front's Channel API base URL.
pub const DEFAULT_API_BASE_URL: &str = "https://api2.frontapp.com";
/// Default lifetime of the channel JWTs: 10 s (Front's sample uses 10 s).
pub const DEFAULT_JWT_LIFETIME: Duration = Duration::from_secs(10);
/// Longest JWT lifetime Front accepts: 30 s ("token must expire within 30 seconds").
pub const MAX_JWT_LIFETIME: Duration = Duration::from_secs(30);
/// Default timestamp window, both ways: 5 minutes.
pub const DEFAULT_TOLERANCE: Duration = Duration::from_secs(300);
/// Default bound on the `to` recipients of one message.
pub const DEFAULT_MAX_RECIPIENTS: usize = 100;
/// Default bound on the attachments of one message (inbound and outbound).
pub const DEFAULT_MAX_ATTACHMENTS: usize = 20;
/// Largest attachment Front takes on the sync endpoints: 25 MB.
pub const MAX_ATTACHMENT_BYTES: usize = 25 * 1024 * 1024;

/// Makes the `webhook_url` handed back to Front on `authorization`, one per channel.
///
/// Called while replying (Front waits at most 7 s): do no network call here. Any
/// `Fn(&str) -> Option<String>` closure taking the channel id is a `WebhookUrlFor`.
pub trait WebhookUrlFor: Send + Sync {
    /// The URL Front should call for the channel `channel_id`, or `None` to give none (Front
    /// then keeps calling the app's URL).
    fn webhook_url(&self, channel_id: &str) -> Option<String>;
}

impl<F> WebhookUrlFor for F
where
    F: Fn(&str) -> Option<String> + Send + Sync,
{
    fn webhook_url(&self, channel_id: &str) -> Option<String> {
        self(channel_id)
    }
}

/// Looks up the token(s) a user typed into Front's connect dialog, to check the request's
/// `Authorization: Bearer` header.
///
/// Called while verifying (no network call: Front waits at most 7 s). The request is given so
/// a host with one webhook URL per channel can pick the token by path. Return every accepted
/// token (empty refuses the request); the channel compares them in constant time. Any
/// `Fn(&WebhookRequest) -> Vec<SecretString>` closure is a `TokenLookup`.
pub trait TokenLookup: Send + Sync {
    /// The tokens accepted for this request.
    fn accepted_tokens(&self, req: &WebhookRequest) -> Vec<SecretString>;
}

impl<F> TokenLookup for F
where
    F: Fn(&WebhookRequest) -> Vec<SecretString> + Send + Sync,
{
    fn accepted_tokens(&self, req: &WebhookRequest) -> Vec<SecretString> {
        self(req)
    }
}

/// Settings of a Front channel. Build with [`FrontConfig::builder`] or
/// [`FrontConfig::from_settings`]; `Debug` shows no secret.
#[derive(Clone)]
pub struct FrontConfig {
    pub(crate) app_uid: String,
    pub(crate) app_secret: SigningKeys,
    pub(crate) webhook_url: Option<String>,
    pub(crate) webhook_url_for: Option<Arc<dyn WebhookUrlFor>>,
    pub(crate) token_lookup: Option<Arc<dyn TokenLookup>>,
    pub(crate) ids: Arc<dyn IdConvention>,
    pub(crate) api_base_url: String,
    pub(crate) jwt_lifetime: Duration,
    pub(crate) tolerance: Duration,
    pub(crate) channel_id: Option<String>,
    pub(crate) max_body_bytes: usize,
    pub(crate) max_recipients: usize,
    pub(crate) max_attachments: usize,
    pub(crate) retry: RetryPolicy,
}

impl std::fmt::Debug for FrontConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FrontConfig")
            .field("app_uid", &self.app_uid)
            .field("app_secret", &self.app_secret)
            .field("webhook_url", &self.webhook_url)
            .field("webhook_url_for", &self.webhook_url_for.is_some())
            .field("token_lookup", &self.token_lookup.is_some())
            .field("api_base_url", &self.api_base_url)
            .field("jwt_lifetime", &self.jwt_lifetime)
            .field("tolerance", &self.tolerance)
            .field("channel_id", &self.channel_id)
            .field("max_body_bytes", &self.max_body_bytes)
            .field("max_recipients", &self.max_recipients)
            .field("max_attachments", &self.max_attachments)
            .finish_non_exhaustive()
    }
}

impl FrontConfig {
    /// A builder with the app's UID and secret (from the app's "Basic information" tab).
    pub fn builder(
        app_uid: impl Into<String>,
        app_secret: impl Into<SigningKeys>,
    ) -> FrontConfigBuilder {
        FrontConfigBuilder {
            cfg: FrontConfig {
                app_uid: app_uid.into(),
                app_secret: app_secret.into(),
                webhook_url: None,
                webhook_url_for: None,
                token_lookup: None,
                ids: Arc::new(WebhookDbIds),
                api_base_url: DEFAULT_API_BASE_URL.to_string(),
                jwt_lifetime: DEFAULT_JWT_LIFETIME,
                tolerance: DEFAULT_TOLERANCE,
                channel_id: None,
                max_body_bytes: DEFAULT_MAX_BODY_BYTES,
                max_recipients: DEFAULT_MAX_RECIPIENTS,
                max_attachments: DEFAULT_MAX_ATTACHMENTS,
                retry: RetryPolicy::default(),
            },
        }
    }

    /// Settings from JSON (fixture `config`, gateway channel table). `app_uid` and `app_secret`
    /// are required.
    pub fn from_settings(value: &serde_json::Value) -> Result<Self> {
        let s = Settings::new(value)?;
        let mut b = FrontConfig::builder(
            s.require_str("app_uid")?,
            s.require_signing_keys("app_secret")?,
        );
        if let Some(u) = s.str("webhook_url")? {
            b = b.webhook_url(u);
        }
        if let Some(c) = s.str("channel_id")? {
            b = b.channel_id(c);
        }
        if let Some(u) = s.str("api_base_url")? {
            b = b.api_base_url(u);
        }
        b = b.tolerance(s.secs_or("tolerance_secs", DEFAULT_TOLERANCE)?);
        b = b.jwt_lifetime(s.secs_or("jwt_lifetime_secs", DEFAULT_JWT_LIFETIME)?);
        if let Some(n) = s.u64("max_body_bytes")? {
            b = b.max_body_bytes(usize::try_from(n).unwrap_or(usize::MAX));
        }
        if let Some(n) = s.u64("max_recipients")? {
            b = b.max_recipients(usize::try_from(n).unwrap_or(usize::MAX));
        }
        if let Some(n) = s.u64("max_attachments")? {
            b = b.max_attachments(usize::try_from(n).unwrap_or(usize::MAX));
        }
        b.build()
    }

    /// The app UID (`iss` of the channel JWTs).
    pub fn app_uid(&self) -> &str {
        &self.app_uid
    }

    /// The default channel id (`cha_…`) for sends, when configured.
    pub fn channel_id(&self) -> Option<&str> {
        self.channel_id.as_deref()
    }

    /// The Channel API base URL.
    pub fn api_base_url(&self) -> &str {
        &self.api_base_url
    }

    /// The timestamp window.
    pub fn tolerance(&self) -> Duration {
        self.tolerance
    }

    /// The lifetime of each channel JWT.
    pub fn jwt_lifetime(&self) -> Duration {
        self.jwt_lifetime
    }

    /// The webhook URL to give Front for a channel: the hook's, else the fixed setting.
    pub fn webhook_url_for(&self, channel_id: &str) -> Option<String> {
        match &self.webhook_url_for {
            Some(h) => h.webhook_url(channel_id),
            None => self.webhook_url.clone(),
        }
    }
}

/// Builder of [`FrontConfig`].
#[derive(Debug)]
pub struct FrontConfigBuilder {
    cfg: FrontConfig,
}

impl FrontConfigBuilder {
    /// The one webhook URL handed back to Front on `authorization`.
    pub fn webhook_url(mut self, url: impl Into<String>) -> Self {
        self.cfg.webhook_url = Some(url.into());
        self
    }

    /// A hook making one webhook URL per channel (wins over [`webhook_url`](Self::webhook_url)).
    pub fn webhook_url_with(mut self, hook: impl WebhookUrlFor + 'static) -> Self {
        self.cfg.webhook_url_for = Some(Arc::new(hook));
        self
    }

    /// Checks `Authorization: Bearer` on every request against the tokens the hook returns.
    pub fn bearer_tokens(mut self, lookup: impl TokenLookup + 'static) -> Self {
        self.cfg.token_lookup = Some(Arc::new(lookup));
        self
    }

    /// The id convention of messages (default: [`WebhookDbIds`]).
    pub fn id_convention(mut self, ids: impl IdConvention + 'static) -> Self {
        self.cfg.ids = Arc::new(ids);
        self
    }

    /// The Channel API base URL (default `https://api2.frontapp.com`).
    pub fn api_base_url(mut self, url: impl Into<String>) -> Self {
        self.cfg.api_base_url = url.into();
        self
    }

    /// Lifetime of each channel JWT (default 10 s; 1 to 30 s).
    pub fn jwt_lifetime(mut self, lifetime: Duration) -> Self {
        self.cfg.jwt_lifetime = lifetime;
        self
    }

    /// Timestamp window, both ways (default 5 min).
    pub fn tolerance(mut self, tolerance: Duration) -> Self {
        self.cfg.tolerance = tolerance;
        self
    }

    /// Default channel id (`cha_…`) for sends and events.
    pub fn channel_id(mut self, id: impl Into<String>) -> Self {
        self.cfg.channel_id = Some(id.into());
        self
    }

    /// Largest webhook body accepted (default 1 MiB).
    pub fn max_body_bytes(mut self, n: usize) -> Self {
        self.cfg.max_body_bytes = n;
        self
    }

    /// Most `to` recipients of one message (default 100); more is refused as malformed.
    pub fn max_recipients(mut self, n: usize) -> Self {
        self.cfg.max_recipients = n;
        self
    }

    /// Most attachments of one message, both ways (default 20).
    pub fn max_attachments(mut self, n: usize) -> Self {
        self.cfg.max_attachments = n;
        self
    }

    /// Retry policy of Channel API calls (only keyed sends are retried).
    pub fn retry(mut self, policy: RetryPolicy) -> Self {
        self.cfg.retry = policy;
        self
    }

    /// Checks the settings.
    pub fn build(self) -> Result<FrontConfig> {
        let c = self.cfg;
        if c.app_uid.trim().is_empty() {
            return Err(Error::config("app_uid", "must not be empty"));
        }
        if c.jwt_lifetime.is_zero() || c.jwt_lifetime > MAX_JWT_LIFETIME {
            return Err(Error::config(
                "jwt_lifetime_secs",
                "must be between 1 and 30 seconds (Front refuses longer-lived tokens)",
            ));
        }
        if url::Url::parse(&c.api_base_url).is_err() {
            return Err(Error::config("api_base_url", "not an absolute URL"));
        }
        if let Some(u) = &c.webhook_url
            && url::Url::parse(u).is_err()
        {
            return Err(Error::config("webhook_url", "not an absolute URL"));
        }
        if c.max_recipients == 0 {
            return Err(Error::config("max_recipients", "must be at least 1"));
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
        let c = FrontConfig::from_settings(&json!({
            "app_uid": "uid", "app_secret": ["new-test-secret", "old-test-secret"],
            "webhook_url": "https://h.test/front", "tolerance_secs": 60, "channel_id": "cha_1"
        }))
        .unwrap();
        assert_eq!(c.app_secret.all().len(), 2);
        assert_eq!(c.tolerance(), Duration::from_secs(60));
        assert_eq!(c.channel_id(), Some("cha_1"));
        assert_eq!(c.api_base_url(), DEFAULT_API_BASE_URL);
        assert_eq!(c.jwt_lifetime(), DEFAULT_JWT_LIFETIME);
        assert_eq!(
            c.webhook_url_for("cha_1").as_deref(),
            Some("https://h.test/front")
        );
    }

    #[test]
    fn refuses_bad_settings() {
        for (v, setting) in [
            (json!({"app_secret": "s"}), "app_uid"),
            (json!({"app_uid": "u"}), "app_secret"),
            (
                json!({"app_uid": "u", "app_secret": "s", "jwt_lifetime_secs": 31}),
                "jwt_lifetime_secs",
            ),
            (
                json!({"app_uid": "u", "app_secret": "s", "jwt_lifetime_secs": 0}),
                "jwt_lifetime_secs",
            ),
            (
                json!({"app_uid": "u", "app_secret": "s", "webhook_url": "nope"}),
                "webhook_url",
            ),
            (json!({"app_uid": "u", "app_secret": []}), "app_secret"),
        ] {
            match FrontConfig::from_settings(&v).unwrap_err() {
                Error::Config { setting: s, .. } => assert_eq!(s, setting),
                e => panic!("unexpected {e:?}"),
            }
        }
    }

    #[test]
    fn hook_wins_over_fixed_url() {
        let c = FrontConfig::builder("u", SigningKeys::new("s"))
            .webhook_url("https://h.test/all")
            .webhook_url_with(|id: &str| Some(format!("https://h.test/front/{id}")))
            .build()
            .unwrap();
        assert_eq!(
            c.webhook_url_for("cha_9").as_deref(),
            Some("https://h.test/front/cha_9")
        );
    }
}
