//! Channel JWTs: every Channel API call carries a fresh HS256 token signed with the app secret,
//! claims `iss` = app UID, `sub` = channel id, a random `jti` and an `exp` a few seconds ahead
//! (spec `front.md` section 5.1).
//!
//! Tokens are minted per request, never cached: they live at most 30 s and Front's samples
//! randomize `jti` each time.

use std::sync::Arc;
use std::time::Duration;

use base64::Engine as _;
use omnichannel_core::signature::hmac_sha256;
use omnichannel_core::{Clock, Error, ExposeSecret, Result, SecretString};
use serde::{Deserialize, Serialize};

/// The claims of a channel JWT, serialized in this order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChannelClaims {
    /// The app UID.
    pub iss: String,
    /// A random id, unique per token.
    pub jti: String,
    /// The channel id (`cha_…`).
    pub sub: String,
    /// Expiry, Unix seconds.
    pub exp: i64,
}

/// Encodes claims as a compact HS256 JWT with header `{"alg":"HS256","typ":"JWT"}`.
pub fn encode(claims: &ChannelClaims, secret: &SecretString) -> Result<String> {
    const HEADER: &[u8] = br#"{"alg":"HS256","typ":"JWT"}"#;
    let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let payload = serde_json::to_vec(claims)
        .map_err(|_| Error::config("jwt", "could not serialize the claims"))?;
    let mut token = b64.encode(HEADER);
    token.push('.');
    token.push_str(&b64.encode(payload));
    let mac = hmac_sha256(secret.expose_secret().as_bytes(), &[token.as_bytes()]);
    token.push('.');
    token.push_str(&b64.encode(mac));
    Ok(token)
}

/// Mints channel JWTs for one app.
#[derive(Clone)]
pub struct ChannelJwt {
    app_uid: String,
    secret: SecretString,
    lifetime: Duration,
    clock: Arc<dyn Clock>,
}

impl std::fmt::Debug for ChannelJwt {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ChannelJwt")
            .field("app_uid", &self.app_uid)
            .field("secret", &"[redacted]")
            .field("lifetime", &self.lifetime)
            .finish()
    }
}

impl ChannelJwt {
    /// A minter signing with `secret` (the current app secret).
    pub fn new(
        app_uid: impl Into<String>,
        secret: SecretString,
        lifetime: Duration,
        clock: Arc<dyn Clock>,
    ) -> Self {
        ChannelJwt {
            app_uid: app_uid.into(),
            secret,
            lifetime,
            clock,
        }
    }

    /// The claims of a new token for `channel_id`: random `jti`, `exp` = now + lifetime.
    pub fn claims(&self, channel_id: &str) -> ChannelClaims {
        let secs = i64::try_from(self.lifetime.as_secs()).unwrap_or(30);
        ChannelClaims {
            iss: self.app_uid.clone(),
            jti: uuid::Uuid::new_v4().simple().to_string(),
            sub: channel_id.to_string(),
            exp: self.clock.now().timestamp().saturating_add(secs),
        }
    }

    /// A fresh token for `channel_id`.
    pub fn mint(&self, channel_id: &str) -> Result<SecretString> {
        if channel_id.is_empty() {
            return Err(Error::invalid_input("channel_id", "must not be empty"));
        }
        encode(&self.claims(channel_id), &self.secret).map(SecretString::from)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;
    use omnichannel_core::FixedClock;

    // Oracle: spec `front.md` section 5.1, "Example built here" (dummy secret EXAMPLE_APP_SECRET).
    #[test]
    fn spec_example_token() {
        let claims = ChannelClaims {
            iss: "EXAMPLE_APP_UID".into(),
            jti: "a1b2c3d4".into(),
            sub: "cha_abc123".into(),
            exp: 1_704_067_230,
        };
        assert_eq!(
            encode(&claims, &SecretString::from("EXAMPLE_APP_SECRET")).unwrap(),
            "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJpc3MiOiJFWEFNUExFX0FQUF9VSUQiLCJqdGkiOiJhMWIyYzNkNCIsInN1YiI6ImNoYV9hYmMxMjMiLCJleHAiOjE3MDQwNjcyMzB9.DXScKyzxLivd5cImpgi4mufH-tlBPJX8XHS9PtoJ7aM"
        );
    }

    // Second oracle: WebhookDB's spec token (spec `front.md` section 5.1, header `{"alg":"HS256"}`,
    // secret `front_swchan_app_secret`): the same HMAC over `header.payload`.
    #[test]
    fn webhookdb_token_signature() {
        let token = "eyJhbGciOiJIUzI1NiJ9.eyJpc3MiOiJmcm9udF9zd2NoYW5fYXBwX2lkIiwianRpIjoiYWJjZCIsInN1YiI6ImZjaGFuMSIsImV4cCI6MTY3MzM1MjAzMH0.zPfFtC15CUEJeLpjcP2xU9Wdorzn2JcLLziA6th5TBc";
        let (signed, sig) = token.rsplit_once('.').unwrap();
        let mac = hmac_sha256(b"front_swchan_app_secret", &[signed.as_bytes()]);
        assert_eq!(
            base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(mac),
            sig
        );
        let payload = signed.split('.').nth(1).unwrap();
        let claims: ChannelClaims = serde_json::from_slice(
            &base64::engine::general_purpose::URL_SAFE_NO_PAD
                .decode(payload)
                .unwrap(),
        )
        .unwrap();
        assert_eq!(
            claims,
            ChannelClaims {
                iss: "front_swchan_app_id".into(),
                jti: "abcd".into(),
                sub: "fchan1".into(),
                exp: 1_673_352_030
            }
        );
    }

    #[test]
    fn fresh_claims_each_time() {
        let clock = Arc::new(FixedClock::at_unix(1_704_067_200));
        let j = ChannelJwt::new(
            "uid",
            SecretString::from("test-secret-not-real"),
            Duration::from_secs(10),
            clock,
        );
        let a = j.claims("cha_1");
        let b = j.claims("cha_1");
        assert_ne!(a.jti, b.jti);
        assert_eq!(a.exp, 1_704_067_210);
        assert_eq!((a.iss.as_str(), a.sub.as_str()), ("uid", "cha_1"));
        assert!(j.mint("").is_err());
        assert!(!format!("{j:?}").contains("test-secret-not-real"));
    }
}
