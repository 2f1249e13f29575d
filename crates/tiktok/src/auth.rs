//! OAuth for TikTok business accounts (spec `tiktok.md` sections 2, 3, 7): the authorization URL,
//! a signed and expiring `state`, the callback (denial, code exchange, denied scopes), token
//! exchange and refresh, and the [`TokenSource`] the core [`TokenManager`](omnichannel_core::TokenManager)
//! uses to keep a business's token fresh.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use omnichannel_core::{AccessToken, Clock, Error, ExposeSecret, Result, TokenSource, async_trait};
use serde::{Deserialize, Serialize};

use crate::api::ApiClient;
use crate::config::TiktokConfig;
use crate::model::TokenData;

/// Claims of the OAuth `state` JWT (HS256 with the app secret).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StateClaims {
    /// The host's reference (account, tenant) the authorization is for.
    pub sub: String,
    /// Issued at, Unix seconds.
    pub iat: i64,
    /// Expires at, Unix seconds.
    pub exp: i64,
}

/// Makes a `state` for `host_ref` at `now`, valid for the configured TTL (default 15 min).
pub fn make_state(cfg: &TiktokConfig, host_ref: &str, now: DateTime<Utc>) -> Result<String> {
    if host_ref.is_empty() {
        return Err(Error::invalid_input("host_ref", "must not be empty"));
    }
    let ttl = i64::try_from(cfg.state_ttl.as_secs()).unwrap_or(i64::MAX);
    let claims = StateClaims {
        sub: host_ref.to_string(),
        iat: now.timestamp(),
        exp: now.timestamp().saturating_add(ttl),
    };
    omnichannel_core::jwt::encode_hs256(&claims, cfg.app_secret.primary())
}

/// Verifies a `state` at `now` with every app secret (rotation): HS256 only, signature, `exp`
/// passed, `iat` not in the future beyond the webhook tolerance. Errors are `invalid_input`
/// on `state`.
pub fn verify_state(cfg: &TiktokConfig, state: &str, now: DateTime<Utc>) -> Result<StateClaims> {
    if state.is_empty() || state.len() > 4096 {
        return Err(Error::invalid_input("state", "missing or too long"));
    }
    let mut v = Validation::new(Algorithm::HS256);
    // Time is checked below against the injected clock, not the system clock.
    v.validate_exp = false;
    v.validate_aud = false;
    v.set_required_spec_claims(&["exp", "sub"]);
    let mut claims = None;
    let mut reason = "signature does not match";
    for key in cfg.app_secret.all() {
        match jsonwebtoken::decode::<StateClaims>(
            state,
            &DecodingKey::from_secret(key.expose_secret().as_bytes()),
            &v,
        ) {
            Ok(d) => {
                claims = Some(d.claims);
                break;
            }
            Err(e) => {
                use jsonwebtoken::errors::ErrorKind;
                match e.kind() {
                    ErrorKind::InvalidSignature => {}
                    ErrorKind::InvalidAlgorithm => reason = "unexpected algorithm",
                    ErrorKind::MissingRequiredClaim(_) => reason = "a required claim is missing",
                    _ => reason = "malformed state",
                }
            }
        }
    }
    let claims = claims.ok_or_else(|| Error::invalid_input("state", reason))?;
    let t = now.timestamp();
    if claims.exp <= t {
        return Err(Error::invalid_input(
            "state",
            "expired; start the authorization again",
        ));
    }
    let skew = i64::try_from(cfg.tolerance.as_secs()).unwrap_or(i64::MAX);
    if claims.iat > t.saturating_add(skew) {
        return Err(Error::invalid_input("state", "issued in the future"));
    }
    Ok(claims)
}

/// The URL to send the account holder to: `client_key`, `redirect_uri`, `response_type=code`,
/// comma-joined `scope`, `state`, in that order.
pub fn authorization_url(cfg: &TiktokConfig, state: &str) -> Result<String> {
    let redirect = cfg
        .redirect_uri
        .as_deref()
        .ok_or_else(|| Error::config("redirect_uri", "is required for OAuth"))?;
    let mut u = url::Url::parse(&cfg.authorize_url)
        .map_err(|_| Error::config("authorize_url", "not an absolute URL"))?;
    u.query_pairs_mut()
        .append_pair("client_key", &cfg.app_id)
        .append_pair("redirect_uri", redirect)
        .append_pair("response_type", "code")
        .append_pair("scope", &cfg.scopes.join(","))
        .append_pair("state", state);
    Ok(u.to_string())
}

/// The query parameters TikTok redirects the account holder back with.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CallbackParams {
    /// The authorization code.
    pub code: Option<String>,
    /// The state we sent.
    pub state: Option<String>,
    /// Set when the holder denied or TikTok refused (`access_denied`, `invalid_scope`, ...).
    pub error: Option<String>,
    /// TikTok's error code.
    pub error_code: Option<String>,
    /// TikTok's error description.
    pub error_description: Option<String>,
}

impl CallbackParams {
    /// Reads them from a query string (with or without the leading `?`); the first value of a
    /// repeated parameter wins; empty values count as absent.
    pub fn from_query(query: &str) -> Self {
        let mut p = CallbackParams::default();
        let q = query.strip_prefix('?').unwrap_or(query);
        for (k, v) in url::form_urlencoded::parse(q.as_bytes()).take(64) {
            if v.is_empty() {
                continue;
            }
            let slot = match k.as_ref() {
                "code" => &mut p.code,
                "state" => &mut p.state,
                "error" => &mut p.error,
                "error_code" => &mut p.error_code,
                "error_description" => &mut p.error_description,
                _ => continue,
            };
            if slot.is_none() {
                *slot = Some(v.into_owned());
            }
        }
        p
    }
}

/// Why a callback did not yield an authorization; each variant says what the host should do.
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum CallbackError {
    /// The holder denied or cancelled, or TikTok refused the request (`invalid_scope` means the
    /// app lacks a requested scope in the developer portal). Show the reason; offer to retry.
    #[error("authorization refused: {error}{}", fmt_opt(.description))]
    Denied {
        /// TikTok's `error`.
        error: String,
        /// TikTok's `error_code`.
        error_code: Option<String>,
        /// TikTok's `error_description`.
        description: Option<String>,
        /// The host reference, when the state was valid.
        host_ref: Option<String>,
    },
    /// The callback has no `code`: the request did not come from TikTok's redirect.
    #[error("the callback has no authorization code")]
    MissingCode,
    /// The state is missing, forged or expired: start the authorization again.
    #[error("invalid state: {0}")]
    InvalidState(Error),
    /// Exchanging the code failed (code expired or used, network, TikTok error).
    #[error("code exchange failed: {0}")]
    Exchange(Error),
    /// The holder did not grant every required scope: ask them to authorize again and grant all.
    #[error("required scopes not granted: {}", .missing.join(","))]
    MissingScopes {
        /// Required scopes absent from the grant.
        missing: Vec<String>,
        /// The host reference.
        host_ref: String,
        /// The business that was authorized (its tokens were not kept).
        business_id: Option<String>,
    },
}

fn fmt_opt(s: &Option<String>) -> String {
    match s {
        Some(s) => format!(" ({s})"),
        None => String::new(),
    }
}

impl CallbackError {
    /// The core error kind: `unauthorized` for a denial or missing scopes, `invalid_input` for
    /// a missing code or bad state, the exchange's own kind otherwise.
    pub fn kind(&self) -> &'static str {
        match self {
            CallbackError::Denied { .. } | CallbackError::MissingScopes { .. } => "unauthorized",
            CallbackError::MissingCode => "invalid_input",
            CallbackError::InvalidState(e) | CallbackError::Exchange(e) => e.kind(),
        }
    }
}

impl From<CallbackError> for Error {
    fn from(e: CallbackError) -> Self {
        match e {
            CallbackError::InvalidState(e) | CallbackError::Exchange(e) => e,
            CallbackError::MissingCode => Error::invalid_input("code", "the callback has no code"),
            other => Error::Unauthorized {
                message: other.to_string(),
            },
        }
    }
}

/// A completed authorization.
#[derive(Debug, Clone)]
pub struct Authorization {
    /// The host reference from the state.
    pub host_ref: String,
    /// The business id (`open_id`), the token key.
    pub business_id: String,
    /// Scopes granted.
    pub granted_scopes: Vec<String>,
    /// The tokens, with the lifetimes TikTok returned.
    pub token: AccessToken,
}

/// A token from TikTok's token data at `now`: `expires_at = now + expires_in`,
/// `refresh_expires_at = now + refresh_token_expires_in` (as returned, never assumed); `open_id`
/// and `scope` travel in `extra`.
pub fn token_from(data: &TokenData, now: DateTime<Utc>) -> AccessToken {
    let after =
        |s: Option<i64>| s.and_then(|s| now.checked_add_signed(chrono::Duration::try_seconds(s)?));
    let mut t = AccessToken::new(data.access_token.clone());
    t.expires_at = after(data.expires_in);
    if let Some(r) = &data.refresh_token {
        t = t.with_refresh(r.clone(), after(data.refresh_token_expires_in));
    }
    if let Some(o) = &data.open_id {
        t.extra.insert("open_id".into(), o.clone().into());
    }
    if let Some(s) = &data.scope {
        t.extra.insert("scope".into(), s.clone().into());
    }
    t
}

/// The OAuth flow of one app.
#[derive(Clone)]
pub struct OAuth {
    cfg: Arc<TiktokConfig>,
    api: ApiClient,
    clock: Arc<dyn Clock>,
}

impl std::fmt::Debug for OAuth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OAuth")
            .field("cfg", &self.cfg)
            .finish_non_exhaustive()
    }
}

impl OAuth {
    /// The flow for these settings, API client and clock.
    pub fn new(cfg: Arc<TiktokConfig>, api: ApiClient, clock: Arc<dyn Clock>) -> Self {
        OAuth { cfg, api, clock }
    }

    /// A fresh state for `host_ref` and the authorization URL carrying it.
    pub fn authorization_url(&self, host_ref: &str) -> Result<String> {
        let state = make_state(&self.cfg, host_ref, self.clock.now())?;
        authorization_url(&self.cfg, &state)
    }

    /// Handles TikTok's redirect: refuses denials, checks the state before using the code,
    /// exchanges the code, and checks every required scope was granted.
    pub async fn handle_callback(
        &self,
        params: &CallbackParams,
    ) -> Result<Authorization, CallbackError> {
        let now = self.clock.now();
        let state = params
            .state
            .as_deref()
            .ok_or_else(|| CallbackError::InvalidState(Error::invalid_input("state", "missing")))
            .and_then(|s| verify_state(&self.cfg, s, now).map_err(CallbackError::InvalidState));
        if let Some(error) = &params.error {
            return Err(CallbackError::Denied {
                error: error.clone(),
                error_code: params.error_code.clone(),
                description: params.error_description.clone(),
                host_ref: state.ok().map(|c| c.sub),
            });
        }
        let code = params.code.as_deref().ok_or(CallbackError::MissingCode)?;
        let claims = state?;
        let redirect = self.cfg.redirect_uri.as_deref().ok_or_else(|| {
            CallbackError::Exchange(Error::config("redirect_uri", "is required for OAuth"))
        })?;
        let data = self
            .api
            .exchange_code(code, redirect)
            .await
            .map_err(CallbackError::Exchange)?;
        let granted: Vec<String> = data
            .scope
            .as_deref()
            .unwrap_or("")
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_string)
            .collect();
        let missing: Vec<String> = self
            .cfg
            .scopes
            .iter()
            .filter(|s| !granted.iter().any(|g| g == *s))
            .cloned()
            .collect();
        if !missing.is_empty() {
            return Err(CallbackError::MissingScopes {
                missing,
                host_ref: claims.sub,
                business_id: data.open_id.clone(),
            });
        }
        let business_id = data
            .open_id
            .clone()
            .filter(|s| !s.is_empty())
            .ok_or_else(|| {
                CallbackError::Exchange(Error::Provider {
                    status: None,
                    code: None,
                    message: "TikTok's token answer has no `open_id`".into(),
                    retryable: false,
                    retry_after: None,
                })
            })?;
        Ok(Authorization {
            host_ref: claims.sub,
            business_id,
            granted_scopes: granted,
            token: token_from(&data, self.clock.now()),
        })
    }
}

/// Refreshes a business's token with its stored refresh token; the rotated refresh token and
/// both lifetimes TikTok returns are kept.
#[derive(Clone)]
pub struct TiktokTokenSource {
    api: ApiClient,
    clock: Arc<dyn Clock>,
}

impl std::fmt::Debug for TiktokTokenSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TiktokTokenSource").finish_non_exhaustive()
    }
}

impl TiktokTokenSource {
    /// A source calling TikTok through `api`.
    pub fn new(api: ApiClient, clock: Arc<dyn Clock>) -> Self {
        TiktokTokenSource { api, clock }
    }
}

#[async_trait]
impl TokenSource for TiktokTokenSource {
    async fn refresh(&self, key: &str, current: Option<&AccessToken>) -> Result<AccessToken> {
        let Some(rt) = current.and_then(|c| c.refresh_token.as_ref()) else {
            return Err(Error::ReauthorizationRequired {
                key: key.to_string(),
                reason: "no refresh token stored for this business; complete the OAuth flow".into(),
            });
        };
        let data = self.api.refresh_token(rt, key).await?;
        let mut t = token_from(&data, self.clock.now());
        if t.refresh_token.is_none() {
            // TikTok rotates refresh tokens; if it did not send one, the current one stays.
            if let Some(c) = current {
                t.refresh_token = c.refresh_token.clone();
                t.refresh_expires_at = c.refresh_expires_at;
            }
        }
        if let Some(c) = current {
            for (k, v) in &c.extra {
                t.extra.entry(k.clone()).or_insert_with(|| v.clone());
            }
        }
        Ok(t)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    fn cfg() -> TiktokConfig {
        TiktokConfig::builder("app-1", "test-secret-not-real")
            .redirect_uri("https://helpdesk.example/tiktok/callback")
            .build()
            .unwrap()
    }

    #[test]
    fn callback_params() {
        let p = CallbackParams::from_query("?code=abc&state=s1&state=s2&error=&x=1");
        assert_eq!(p.code.as_deref(), Some("abc"));
        assert_eq!(p.state.as_deref(), Some("s1"));
        assert_eq!(p.error, None);
    }

    #[test]
    fn token_lifetimes_come_from_tiktok() {
        let now = DateTime::from_timestamp(1_700_000_000, 0).unwrap();
        let d: TokenData = serde_json::from_value(serde_json::json!({
            "open_id": "biz-1", "scope": "a,b", "access_token": "at", "refresh_token": "rt",
            "expires_in": 100, "refresh_token_expires_in": 1000
        }))
        .unwrap();
        let t = token_from(&d, now);
        assert_eq!(t.expires_at.unwrap().timestamp(), 1_700_000_100);
        assert_eq!(t.refresh_expires_at.unwrap().timestamp(), 1_700_001_000);
        assert_eq!(t.extra["open_id"], "biz-1");
    }

    #[test]
    fn state_rejects_other_algorithms_and_keys() {
        let now = DateTime::from_timestamp(1_700_000_000, 0).unwrap();
        let s = make_state(&cfg(), "acct-1", now).unwrap();
        assert_eq!(verify_state(&cfg(), &s, now).unwrap().sub, "acct-1");
        let other = TiktokConfig::builder("app-1", "other-secret")
            .build()
            .unwrap();
        assert!(verify_state(&other, &s, now).is_err());
        let rotated = TiktokConfig::builder("app-1", "new-secret")
            .previous_secret("test-secret-not-real")
            .build()
            .unwrap();
        assert_eq!(verify_state(&rotated, &s, now).unwrap().sub, "acct-1");
        assert!(verify_state(&cfg(), "a.b.c", now).is_err());
        assert!(make_state(&cfg(), "", now).is_err());
    }
}
