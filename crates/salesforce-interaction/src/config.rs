//! Settings of a Salesforce Interaction Service channel.
//!
//! Secrets (the connected app's RSA private key, a fixed access token) are [`SecretString`]s and
//! never appear in `Debug` output. Every base URL is a setting so tests can point the channel at
//! a local server.

use std::time::Duration;

use omnichannel_core::http::RetryPolicy;
use omnichannel_core::{Error, Result, SecretString, Settings};
use serde_json::Value;

/// Login host of production orgs (also the JWT `aud` for them).
pub const LOGIN_PRODUCTION: &str = "https://login.salesforce.com";
/// Login host of sandboxes (also the JWT `aud` for them).
pub const LOGIN_SANDBOX: &str = "https://test.salesforce.com";
/// Largest file Salesforce takes in one `attachments` part (error `10008` above it).
pub const MAX_ATTACHMENT_BYTES: usize = 25 * 1024 * 1024;
/// Most acknowledgements in one `/acknowledgement` call.
pub const MAX_ACKNOWLEDGEMENTS: usize = 25;
/// Longest JWT assertion lifetime Salesforce accepts (3 minutes).
pub const MAX_ASSERTION_LIFETIME: Duration = Duration::from_secs(180);
/// Default assumed access-token lifetime: the token response carries no `expires_in`, and the
/// org's default session timeout is 2 hours of inactivity; one hour stays well inside it.
pub const DEFAULT_TOKEN_LIFETIME: Duration = Duration::from_secs(3600);
/// Default limit on a decoded platform event (the JSON a host hands to `receive_event`).
pub const DEFAULT_MAX_EVENT_BYTES: usize = omnichannel_core::config::DEFAULT_MAX_BODY_BYTES;
/// Default limit on the routing attributes of one outbound message (metadata
/// `routing_attributes`); a larger map is refused with `invalid_input` before any request.
pub const DEFAULT_MAX_ROUTING_ATTRIBUTES: usize = 100;

/// Names of the fields of the conversation channel definition's custom platform event
/// (Setup: "Custom Event Payload Field", "Custom event type Field", "Custom Event Channel
/// Address Id Field", "Custom Event Recipient Field"). Use the API names, namespace included.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventFields {
    /// The payload field (JSON string).
    pub payload: String,
    /// The event type field (`Interaction` | `RoutingRequested`); absent in the pre-Spring '24 layout.
    pub event_type: String,
    /// The channel address identifier field (pre-Spring '24 layout only).
    pub channel_address: String,
    /// The recipient field (JSON string, pre-Spring '24 layout only).
    pub recipient: String,
}

impl Default for EventFields {
    /// `Payload__c`, `EventType__c`, `ChannelAddressId__c`, `Recipient__c`: placeholders; set
    /// the names your platform event really has.
    fn default() -> Self {
        EventFields {
            payload: "Payload__c".into(),
            event_type: "EventType__c".into(),
            channel_address: "ChannelAddressId__c".into(),
            recipient: "Recipient__c".into(),
        }
    }
}

/// The channel's settings. Build with [`SalesforceConfig::builder`] or
/// [`SalesforceConfig::from_settings`].
#[derive(Clone)]
pub struct SalesforceConfig {
    /// Login URL: [`LOGIN_PRODUCTION`], [`LOGIN_SANDBOX`] or a My Domain / Experience Cloud URL.
    /// It is the JWT audience.
    pub login_url: String,
    /// Where the token request goes; the login URL unless overridden (tests).
    pub token_base_url: String,
    /// Connected app consumer key (JWT `iss`).
    pub consumer_key: String,
    /// Integration user's username (JWT `sub`).
    pub username: String,
    /// The connected app's RSA private key in PEM (PKCS#1 or PKCS#8).
    pub private_key_pem: Option<SecretString>,
    /// A fixed access token instead of the JWT flow (tests, fixtures).
    pub access_token: Option<SecretString>,
    /// Interaction Service base URL, `https://<my-domain>.my.salesforce-scrt.com`.
    pub scrt_url: String,
    /// The org id (header `OrgId`).
    pub org_id: String,
    /// Developer name of the conversation channel definition (header `AuthorizationContext`).
    pub authorization_context: String,
    /// Default channel address identifier (`to` of interactions), when a message gives none.
    pub channel_address: Option<String>,
    /// How long a minted access token is assumed to live.
    pub token_lifetime: Duration,
    /// Lifetime of the JWT assertion (at most 3 minutes).
    pub assertion_lifetime: Duration,
    /// Field names of the platform event.
    pub event_fields: EventFields,
    /// Largest attachment sent (at most 25 MB).
    pub max_attachment_bytes: usize,
    /// Largest decoded event accepted by `receive_event`, by its
    /// [`decoded_size`](crate::webhook::decoded_size) (its compact JSON length, strings counted
    /// unescaped).
    pub max_event_bytes: usize,
    /// Largest routing attribute map taken from message metadata.
    pub max_routing_attributes: usize,
    /// Retries of retryable failures (only for keyed or idempotent calls).
    pub retry: RetryPolicy,
}

impl std::fmt::Debug for SalesforceConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SalesforceConfig")
            .field("login_url", &self.login_url)
            .field("token_base_url", &self.token_base_url)
            .field("consumer_key", &self.consumer_key)
            .field("username", &self.username)
            .field(
                "private_key_pem",
                &self.private_key_pem.as_ref().map(|_| "[redacted]"),
            )
            .field(
                "access_token",
                &self.access_token.as_ref().map(|_| "[redacted]"),
            )
            .field("scrt_url", &self.scrt_url)
            .field("org_id", &self.org_id)
            .field("authorization_context", &self.authorization_context)
            .field("channel_address", &self.channel_address)
            .field("token_lifetime", &self.token_lifetime)
            .field("event_fields", &self.event_fields)
            .finish_non_exhaustive()
    }
}

impl SalesforceConfig {
    /// A builder with the production login URL and defaults for everything optional.
    pub fn builder(
        scrt_url: impl Into<String>,
        org_id: impl Into<String>,
        authorization_context: impl Into<String>,
    ) -> SalesforceConfigBuilder {
        SalesforceConfigBuilder {
            cfg: SalesforceConfig {
                login_url: LOGIN_PRODUCTION.into(),
                token_base_url: LOGIN_PRODUCTION.into(),
                consumer_key: String::new(),
                username: String::new(),
                private_key_pem: None,
                access_token: None,
                scrt_url: scrt_url.into(),
                org_id: org_id.into(),
                authorization_context: authorization_context.into(),
                channel_address: None,
                token_lifetime: DEFAULT_TOKEN_LIFETIME,
                assertion_lifetime: MAX_ASSERTION_LIFETIME,
                event_fields: EventFields::default(),
                max_attachment_bytes: MAX_ATTACHMENT_BYTES,
                max_event_bytes: DEFAULT_MAX_EVENT_BYTES,
                max_routing_attributes: DEFAULT_MAX_ROUTING_ATTRIBUTES,
                retry: RetryPolicy::default(),
            },
            token_base_set: false,
        }
    }

    /// Reads the fixture/gateway settings (DESIGN.md section 5): `consumer_key`, `username`,
    /// `private_key_pem`, `login_url` (a URL, or `production` / `sandbox`), `scrt_url`, `org_id`,
    /// `authorization_context`, `access_token`, `event_fields` {`payload`, `event_type`,
    /// `channel_address`, `recipient`}; optional `channel_address` (default `to`),
    /// `token_lifetime_secs`, `max_event_bytes`, `max_routing_attributes`.
    pub fn from_settings(v: &Value) -> Result<Self> {
        let s = Settings::new(v)?;
        let mut b = SalesforceConfig::builder(
            s.require_str("scrt_url")?,
            s.require_str("org_id")?,
            s.require_str("authorization_context")?,
        );
        if let Some(login) = s.str("login_url")? {
            b = b.login_url(match login {
                "production" => LOGIN_PRODUCTION,
                "sandbox" => LOGIN_SANDBOX,
                other => other,
            });
        }
        if let Some(k) = s.str("consumer_key")? {
            b = b.consumer_key(k);
        }
        if let Some(u) = s.str("username")? {
            b = b.username(u);
        }
        if let Some(p) = s.secret("private_key_pem")? {
            b.cfg.private_key_pem = Some(p);
        }
        if let Some(t) = s.secret("access_token")? {
            b.cfg.access_token = Some(t);
        }
        if let Some(c) = s.str("channel_address")? {
            b = b.channel_address(c);
        }
        if let Some(secs) = s.u64("token_lifetime_secs")? {
            b = b.token_lifetime(Duration::from_secs(secs));
        }
        if let Some(n) = s.u64("max_event_bytes")? {
            b.cfg.max_event_bytes = usize::try_from(n).unwrap_or(usize::MAX);
        }
        if let Some(n) = s.u64("max_routing_attributes")? {
            b.cfg.max_routing_attributes = usize::try_from(n).unwrap_or(usize::MAX);
        }
        if let Some(f) = s.get("event_fields") {
            let fs = Settings::new(f)
                .map_err(|_| Error::config("event_fields", "must be an object of field names"))?;
            let d = EventFields::default();
            b = b.event_fields(EventFields {
                payload: fs.str_or("payload", &d.payload)?,
                event_type: fs.str_or("event_type", &d.event_type)?,
                channel_address: fs.str_or("channel_address", &d.channel_address)?,
                recipient: fs.str_or("recipient", &d.recipient)?,
            });
        }
        b.build()
    }
}

/// Builds a [`SalesforceConfig`].
#[derive(Debug, Clone)]
pub struct SalesforceConfigBuilder {
    cfg: SalesforceConfig,
    token_base_set: bool,
}

impl SalesforceConfigBuilder {
    /// Login URL (JWT audience and token host). Default: [`LOGIN_PRODUCTION`].
    pub fn login_url(mut self, url: impl Into<String>) -> Self {
        self.cfg.login_url = url.into().trim_end_matches('/').to_string();
        if !self.token_base_set {
            self.cfg.token_base_url = self.cfg.login_url.clone();
        }
        self
    }
    /// Uses the sandbox login URL.
    pub fn sandbox(self) -> Self {
        self.login_url(LOGIN_SANDBOX)
    }
    /// Sends the token request elsewhere than the login URL (a test server); the JWT audience
    /// stays the login URL.
    pub fn token_base_url(mut self, url: impl Into<String>) -> Self {
        self.cfg.token_base_url = url.into().trim_end_matches('/').to_string();
        self.token_base_set = true;
        self
    }
    /// Connected app consumer key.
    pub fn consumer_key(mut self, key: impl Into<String>) -> Self {
        self.cfg.consumer_key = key.into();
        self
    }
    /// Integration user's username.
    pub fn username(mut self, username: impl Into<String>) -> Self {
        self.cfg.username = username.into();
        self
    }
    /// The connected app's RSA private key (PEM).
    pub fn private_key_pem(mut self, pem: SecretString) -> Self {
        self.cfg.private_key_pem = Some(pem);
        self
    }
    /// A fixed access token instead of the JWT flow.
    pub fn access_token(mut self, token: SecretString) -> Self {
        self.cfg.access_token = Some(token);
        self
    }
    /// Default channel address identifier.
    pub fn channel_address(mut self, id: impl Into<String>) -> Self {
        self.cfg.channel_address = Some(id.into());
        self
    }
    /// Assumed access-token lifetime (default one hour).
    pub fn token_lifetime(mut self, d: Duration) -> Self {
        self.cfg.token_lifetime = d;
        self
    }
    /// JWT assertion lifetime, at most 3 minutes.
    pub fn assertion_lifetime(mut self, d: Duration) -> Self {
        self.cfg.assertion_lifetime = d;
        self
    }
    /// Platform event field names.
    pub fn event_fields(mut self, f: EventFields) -> Self {
        self.cfg.event_fields = f;
        self
    }
    /// Largest attachment (at most 25 MB).
    pub fn max_attachment_bytes(mut self, n: usize) -> Self {
        self.cfg.max_attachment_bytes = n;
        self
    }
    /// Largest decoded event.
    pub fn max_event_bytes(mut self, n: usize) -> Self {
        self.cfg.max_event_bytes = n;
        self
    }
    /// Most routing attributes taken from one message's metadata
    /// (default [`DEFAULT_MAX_ROUTING_ATTRIBUTES`]).
    pub fn max_routing_attributes(mut self, n: usize) -> Self {
        self.cfg.max_routing_attributes = n;
        self
    }
    /// Retry policy.
    pub fn retry(mut self, p: RetryPolicy) -> Self {
        self.cfg.retry = p;
        self
    }

    /// Checks and returns the settings.
    pub fn build(mut self) -> Result<SalesforceConfig> {
        let c = &mut self.cfg;
        c.scrt_url = c.scrt_url.trim_end_matches('/').to_string();
        for (name, value) in [
            ("scrt_url", &c.scrt_url),
            ("login_url", &c.login_url),
            ("token_base_url", &c.token_base_url),
        ] {
            let u = url::Url::parse(value)
                .map_err(|_| Error::config(name, "must be an absolute URL"))?;
            if !matches!(u.scheme(), "https" | "http") {
                return Err(Error::config(name, "must be an http(s) URL"));
            }
        }
        for (name, value) in [
            ("org_id", &c.org_id),
            ("authorization_context", &c.authorization_context),
        ] {
            if value.trim().is_empty() {
                return Err(Error::config(name, "is required"));
            }
            http::HeaderValue::from_str(value)
                .map_err(|_| Error::config(name, "must be a valid header value"))?;
        }
        // Without credentials the channel still parses events; calls fail with a config error.
        if c.access_token.is_none() && c.private_key_pem.is_some() {
            if c.consumer_key.is_empty() {
                return Err(Error::config(
                    "consumer_key",
                    "is required for the JWT flow",
                ));
            }
            if c.username.is_empty() {
                return Err(Error::config("username", "is required for the JWT flow"));
            }
        }
        if c.assertion_lifetime.is_zero() || c.assertion_lifetime > MAX_ASSERTION_LIFETIME {
            return Err(Error::config(
                "assertion_lifetime",
                "must be between 1 s and 3 minutes",
            ));
        }
        if c.token_lifetime < Duration::from_secs(60) {
            return Err(Error::config(
                "token_lifetime_secs",
                "must be at least 60 seconds",
            ));
        }
        if c.max_attachment_bytes > MAX_ATTACHMENT_BYTES {
            return Err(Error::config(
                "max_attachment_bytes",
                "Salesforce takes at most 25 MB per file",
            ));
        }
        Ok(self.cfg)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;
    use serde_json::json;

    fn base() -> Value {
        json!({"scrt_url": "https://x.my.salesforce-scrt.com/", "org_id": "00D1", "authorization_context": "Ctx",
               "access_token": "t"})
    }

    #[test]
    fn reads_settings_and_defaults() {
        let c = SalesforceConfig::from_settings(&base()).unwrap();
        assert_eq!(c.scrt_url, "https://x.my.salesforce-scrt.com");
        assert_eq!(c.login_url, LOGIN_PRODUCTION);
        assert_eq!(c.token_lifetime, DEFAULT_TOKEN_LIFETIME);
        assert_eq!(c.event_fields, EventFields::default());
        let mut v = base();
        v["login_url"] = json!("sandbox");
        v["token_lifetime_secs"] = json!(900);
        v["event_fields"] = json!({"payload": "P__c"});
        let c = SalesforceConfig::from_settings(&v).unwrap();
        assert_eq!(c.login_url, LOGIN_SANDBOX);
        assert_eq!(c.token_base_url, LOGIN_SANDBOX);
        assert_eq!(c.token_lifetime, Duration::from_secs(900));
        assert_eq!(c.event_fields.payload, "P__c");
        assert_eq!(c.event_fields.event_type, "EventType__c");
    }

    #[test]
    fn refuses_bad_settings() {
        for (key, value) in [
            ("scrt_url", json!("not a url")),
            ("org_id", json!("")),
            ("authorization_context", json!("bad\nvalue")),
            ("token_lifetime_secs", json!(5)),
            ("event_fields", json!("x")),
        ] {
            let mut v = base();
            v[key] = value;
            let e = SalesforceConfig::from_settings(&v).unwrap_err();
            assert_eq!(e.kind(), "invalid_input", "{key}");
        }
        let mut v = base();
        v.as_object_mut().unwrap().remove("access_token");
        v["private_key_pem"] = json!("-----BEGIN PRIVATE KEY-----");
        let e = SalesforceConfig::from_settings(&v).unwrap_err();
        assert!(e.to_string().contains("consumer_key"));
        let e = SalesforceConfig::builder("https://x", "o", "c")
            .assertion_lifetime(Duration::from_secs(600))
            .build()
            .unwrap_err();
        assert!(e.to_string().contains("assertion_lifetime"));
    }
}
