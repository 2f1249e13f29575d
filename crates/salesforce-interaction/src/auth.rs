//! OAuth 2.0 JWT bearer flow: an RS256 assertion signed with the connected app's key, traded
//! at `/services/oauth2/token` for an access token.
//!
//! The token response has no `expires_in` and no refresh token, so [`JwtBearerSource`] gives
//! each token an assumed lifetime (a setting) and the channel mints a new one when that runs out,
//! or once when the Interaction API rejects the token (HTTP 401 or error code `10004`).

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use omnichannel_core::http::{DEFAULT_MAX_RESPONSE_BYTES, read_body_limited};
use omnichannel_core::{AccessToken, Clock, Error, Result, SecretString, TokenSource};
use serde::{Deserialize, Serialize};

use crate::config::SalesforceConfig;

/// The JWT bearer grant type.
pub const GRANT_TYPE: &str = "urn:ietf:params:oauth:grant-type:jwt-bearer";
/// Path of the token endpoint on the login host.
pub const TOKEN_PATH: &str = "/services/oauth2/token";

/// Claims of the assertion (`exp` in seconds since the epoch).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AssertionClaims {
    /// Connected app consumer key.
    pub iss: String,
    /// Integration user's username.
    pub sub: String,
    /// Login URL.
    pub aud: String,
    /// Expiry, seconds since the epoch, at most 3 minutes ahead.
    pub exp: i64,
}

/// Signs the assertion for `cfg` at `now` (RS256, `exp` = now + the assertion lifetime).
pub fn assertion(cfg: &SalesforceConfig, now: DateTime<Utc>) -> Result<String> {
    let key = cfg.private_key_pem.as_ref().ok_or_else(|| {
        Error::config(
            "private_key_pem",
            "is required to call the Interaction API (or give access_token)",
        )
    })?;
    let claims = AssertionClaims {
        iss: cfg.consumer_key.clone(),
        sub: cfg.username.clone(),
        aud: cfg.login_url.clone(),
        exp: now.timestamp() + cfg.assertion_lifetime.as_secs() as i64,
    };
    omnichannel_core::jwt::encode_rs256(&claims, key)
}

/// The form body of the token request for an assertion.
pub fn token_request_body(assertion: &str) -> String {
    serde_urlencoded::to_string([("grant_type", GRANT_TYPE), ("assertion", assertion)])
        .unwrap_or_default()
}

/// A successful token response.
#[derive(Clone, Deserialize)]
pub struct TokenResponse {
    /// The access token (opaque).
    #[serde(deserialize_with = "secret")]
    pub access_token: SecretString,
    /// Core instance URL (`https://<my-domain>.my.salesforce.com`), not the SCRT host.
    #[serde(default)]
    pub instance_url: Option<String>,
    /// Identity URL (`https://login.salesforce.com/id/<org>/<user>`).
    #[serde(default)]
    pub id: Option<String>,
    /// `Bearer`.
    #[serde(default)]
    pub token_type: Option<String>,
    /// Space-separated scopes.
    #[serde(default)]
    pub scope: Option<String>,
}

fn secret<'de, D: serde::Deserializer<'de>>(d: D) -> std::result::Result<SecretString, D::Error> {
    String::deserialize(d).map(SecretString::from)
}

impl std::fmt::Debug for TokenResponse {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenResponse")
            .field("access_token", &"[redacted]")
            .field("instance_url", &self.instance_url)
            .field("id", &self.id)
            .field("token_type", &self.token_type)
            .field("scope", &self.scope)
            .finish()
    }
}

/// The `error` of a failed token request.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum OAuthErrorCode {
    /// The assertion was refused: user not pre-authorized for the app, bad audience, expired
    /// assertion, or a certificate that does not match the key.
    InvalidGrant,
    /// Unknown consumer key.
    InvalidClientId,
    /// Bad client credentials.
    InvalidClientCredentials,
    /// Malformed request.
    InvalidRequest,
    /// Unsupported response type.
    UnsupportedResponseType,
    /// The integration user is inactive.
    InactiveUser,
    /// The org is inactive.
    InactiveOrg,
    /// Too many token requests.
    RateLimitExceeded,
    /// Any other code.
    Other(String),
}

impl OAuthErrorCode {
    /// From the `error` value.
    pub fn parse(s: &str) -> Self {
        match s {
            "invalid_grant" => OAuthErrorCode::InvalidGrant,
            "invalid_client_id" => OAuthErrorCode::InvalidClientId,
            "invalid_client_credentials" | "invalid_client" => {
                OAuthErrorCode::InvalidClientCredentials
            }
            "invalid_request" => OAuthErrorCode::InvalidRequest,
            "unsupported_response_type" => OAuthErrorCode::UnsupportedResponseType,
            "inactive_user" => OAuthErrorCode::InactiveUser,
            "inactive_org" => OAuthErrorCode::InactiveOrg,
            "rate_limit_exceeded" => OAuthErrorCode::RateLimitExceeded,
            other => OAuthErrorCode::Other(other.to_string()),
        }
    }

    /// The `error` value.
    pub fn as_str(&self) -> &str {
        match self {
            OAuthErrorCode::InvalidGrant => "invalid_grant",
            OAuthErrorCode::InvalidClientId => "invalid_client_id",
            OAuthErrorCode::InvalidClientCredentials => "invalid_client_credentials",
            OAuthErrorCode::InvalidRequest => "invalid_request",
            OAuthErrorCode::UnsupportedResponseType => "unsupported_response_type",
            OAuthErrorCode::InactiveUser => "inactive_user",
            OAuthErrorCode::InactiveOrg => "inactive_org",
            OAuthErrorCode::RateLimitExceeded => "rate_limit_exceeded",
            OAuthErrorCode::Other(s) => s,
        }
    }
}

/// A failed token request: `{"error": ..., "error_description": ...}` and the HTTP status.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("token request refused (HTTP {status}): {} {}", .code.as_str(), .description)]
pub struct OAuthError {
    /// HTTP status.
    pub status: u16,
    /// The `error` code.
    pub code: OAuthErrorCode,
    /// `error_description` (Salesforce's text, never a secret).
    pub description: String,
}

impl From<OAuthError> for Error {
    /// `invalid_grant`, `inactive_user`, `inactive_org`, `invalid_client*`: `unauthorized` (an
    /// administrator must fix the connected app, user or certificate; minting again later works
    /// without any step by an end user, so this is not `reauthorization_required`);
    /// `rate_limit_exceeded`: `rate_limited`; 5xx: retryable provider error; the rest: permanent
    /// provider error.
    fn from(e: OAuthError) -> Self {
        let code = e.code.as_str().to_string();
        let message = if e.description.is_empty() {
            code.clone()
        } else {
            format!("{code}: {}", e.description)
        };
        match e.code {
            OAuthErrorCode::InvalidGrant
            | OAuthErrorCode::InactiveUser
            | OAuthErrorCode::InactiveOrg
            | OAuthErrorCode::InvalidClientId
            | OAuthErrorCode::InvalidClientCredentials => Error::Unauthorized { message },
            OAuthErrorCode::RateLimitExceeded => Error::RateLimited {
                retry_after: None,
                code: Some(code),
            },
            _ => Error::Provider {
                status: Some(e.status),
                code: Some(code),
                message,
                retryable: e.status >= 500,
                retry_after: None,
            },
        }
    }
}

#[derive(Deserialize)]
struct OAuthErrorBody {
    error: String,
    #[serde(default)]
    error_description: Option<String>,
}

/// Reads a token endpoint answer: the token, a typed [`OAuthError`], or a malformed answer.
pub fn parse_token_response(
    status: u16,
    body: &[u8],
) -> std::result::Result<TokenResponse, TokenError> {
    if (200..300).contains(&status) {
        return serde_json::from_slice::<TokenResponse>(body)
            .map_err(|_| TokenError::Malformed { status });
    }
    match serde_json::from_slice::<OAuthErrorBody>(body) {
        Ok(b) => Err(TokenError::OAuth(OAuthError {
            status,
            code: OAuthErrorCode::parse(&b.error),
            description: b.error_description.unwrap_or_default(),
        })),
        Err(_) => Err(TokenError::Malformed { status }),
    }
}

/// Why [`parse_token_response`] failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    /// Salesforce refused the assertion.
    #[error(transparent)]
    OAuth(#[from] OAuthError),
    /// The answer is not a token response nor an OAuth error.
    #[error("the token endpoint's answer (HTTP {status}) is not a token response")]
    Malformed {
        /// HTTP status.
        status: u16,
    },
}

impl From<TokenError> for Error {
    fn from(e: TokenError) -> Self {
        match e {
            TokenError::OAuth(o) => o.into(),
            TokenError::Malformed { status } => Error::Provider {
                status: Some(status),
                code: None,
                message: "the token endpoint's answer is not a token response".into(),
                retryable: status >= 500,
                retry_after: None,
            },
        }
    }
}

/// Mints access tokens with the JWT bearer flow: a [`TokenSource`] for the core `TokenManager`.
#[derive(Clone)]
pub struct JwtBearerSource {
    cfg: Arc<SalesforceConfig>,
    http: reqwest::Client,
    clock: Arc<dyn Clock>,
}

impl std::fmt::Debug for JwtBearerSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("JwtBearerSource")
            .field("login_url", &self.cfg.login_url)
            .field("username", &self.cfg.username)
            .finish_non_exhaustive()
    }
}

impl JwtBearerSource {
    /// A source for these settings.
    pub fn new(cfg: Arc<SalesforceConfig>, http: reqwest::Client, clock: Arc<dyn Clock>) -> Self {
        JwtBearerSource { cfg, http, clock }
    }

    /// Signs an assertion and trades it for a token.
    pub async fn request_token(&self) -> Result<TokenResponse> {
        let jwt = assertion(&self.cfg, self.clock.now())?;
        let url = format!("{}{}", self.cfg.token_base_url, TOKEN_PATH);
        let res = self
            .http
            .post(url)
            .header(
                http::header::CONTENT_TYPE,
                "application/x-www-form-urlencoded",
            )
            .header(http::header::ACCEPT, "application/json")
            .body(token_request_body(&jwt))
            .send()
            .await
            .map_err(Error::from_reqwest)?;
        let status = res.status().as_u16();
        let body = read_body_limited(res, DEFAULT_MAX_RESPONSE_BYTES).await?;
        Ok(parse_token_response(status, &body)?)
    }

    /// How long tokens are assumed to live.
    pub fn lifetime(&self) -> Duration {
        self.cfg.token_lifetime
    }
}

#[async_trait]
impl TokenSource for JwtBearerSource {
    async fn refresh(&self, _key: &str, _current: Option<&AccessToken>) -> Result<AccessToken> {
        let t = self.request_token().await?;
        let now = self.clock.now();
        let lifetime =
            chrono::Duration::from_std(self.cfg.token_lifetime).unwrap_or(chrono::Duration::MAX);
        let mut token = AccessToken {
            value: t.access_token,
            expires_at: Some(now + lifetime),
            refresh_token: None,
            refresh_expires_at: None,
            extra: serde_json::Map::new(),
        };
        for (k, v) in [
            ("instance_url", t.instance_url),
            ("id", t.id),
            ("scope", t.scope),
        ] {
            if let Some(v) = v {
                token.extra.insert(k.into(), serde_json::Value::String(v));
            }
        }
        Ok(token)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;
    use omnichannel_core::ExposeSecret;

    #[test]
    fn parses_success_and_errors() {
        let ok = br#"{"access_token":"00Dx!s3cr3tvalue","instance_url":"https://x.my.salesforce.com","id":"https://login.salesforce.com/id/00D/005","token_type":"Bearer","scope":"interaction_api","issued_at":"1"}"#;
        let t = parse_token_response(200, ok).unwrap();
        assert_eq!(t.access_token.expose_secret(), "00Dx!s3cr3tvalue");
        assert_eq!(t.token_type.as_deref(), Some("Bearer"));
        assert!(!format!("{t:?}").contains("s3cr3t"));
        let e = parse_token_response(
            400,
            br#"{"error":"invalid_grant","error_description":"audience is invalid"}"#,
        )
        .unwrap_err();
        let TokenError::OAuth(o) = &e else {
            panic!("{e:?}")
        };
        assert_eq!(o.code, OAuthErrorCode::InvalidGrant);
        let core: Error = e.into();
        assert_eq!(core.kind(), "unauthorized");
        assert!(core.to_string().contains("audience is invalid"));
        let rl: Error = parse_token_response(400, br#"{"error":"rate_limit_exceeded"}"#)
            .unwrap_err()
            .into();
        assert_eq!(rl.kind(), "rate_limited");
        let other: Error = parse_token_response(400, br#"{"error":"invalid_request"}"#)
            .unwrap_err()
            .into();
        assert_eq!(other.kind(), "provider_error");
        assert!(!other.retryable());
        let garbage: Error = parse_token_response(502, b"<html>").unwrap_err().into();
        assert!(garbage.retryable());
        assert!(matches!(
            parse_token_response(200, b"{}"),
            Err(TokenError::Malformed { status: 200 })
        ));
    }
}
