//! JWT helpers (HS256 and RS256) on `jsonwebtoken` with the `aws_lc_rs` backend.

use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use secrecy::{ExposeSecret, SecretString};
use serde::{Serialize, de::DeserializeOwned};

use crate::{Error, Result};

/// Signs `claims` with HS256 and `secret`.
pub fn encode_hs256<C: Serialize>(claims: &C, secret: &SecretString) -> Result<String> {
    jsonwebtoken::encode(
        &Header::new(Algorithm::HS256),
        claims,
        &EncodingKey::from_secret(secret.expose_secret().as_bytes()),
    )
    .map_err(|_| Error::config("jwt", "could not sign the HS256 token"))
}

/// Verifies an HS256 token and returns its claims. `exp` is required and checked with
/// `leeway_secs`; `aud`/`iss` are checked when given.
pub fn decode_hs256<C: DeserializeOwned>(
    token: &str,
    secret: &SecretString,
    leeway_secs: u64,
) -> Result<C> {
    let mut v = Validation::new(Algorithm::HS256);
    v.leeway = leeway_secs;
    v.validate_aud = false;
    decode_with(
        token,
        &DecodingKey::from_secret(secret.expose_secret().as_bytes()),
        &v,
    )
}

/// Verifies an HS256 token against any of `keys` (current and previous secrets) at `now`
/// (an injectable clock): `exp` is required and must be later than `now - leeway`; `nbf`, when
/// present, must not be later than `now + leeway`.
pub fn decode_hs256_at<C: DeserializeOwned>(
    token: &str,
    keys: &crate::signature::SigningKeys,
    now: chrono::DateTime<chrono::Utc>,
    leeway_secs: u64,
) -> Result<C> {
    let mut v = Validation::new(Algorithm::HS256);
    v.validate_exp = false;
    v.validate_nbf = false;
    v.validate_aud = false;
    v.required_spec_claims = ["exp".to_string()].into_iter().collect();
    let mut last = Error::invalid_input("jwt", "signature does not match");
    for key in keys.all() {
        let dk = DecodingKey::from_secret(key.expose_secret().as_bytes());
        match decode_with::<serde_json::Value>(token, &dk, &v) {
            Ok(claims) => {
                let now = now.timestamp();
                let leeway = i64::try_from(leeway_secs).unwrap_or(i64::MAX);
                let exp = claims
                    .get("exp")
                    .and_then(serde_json::Value::as_i64)
                    .ok_or_else(|| Error::invalid_input("jwt", "a required claim is missing"))?;
                if exp <= now.saturating_sub(leeway) {
                    return Err(Error::invalid_input("jwt", "token expired"));
                }
                if let Some(nbf) = claims.get("nbf").and_then(serde_json::Value::as_i64)
                    && nbf > now.saturating_add(leeway)
                {
                    return Err(Error::invalid_input("jwt", "token not yet valid"));
                }
                return serde_json::from_value(claims).map_err(|_| {
                    Error::invalid_input("jwt", "claims do not have the expected shape")
                });
            }
            Err(e) => last = e,
        }
    }
    Err(last)
}

/// Signs `claims` with RS256 and a PKCS#1 or PKCS#8 PEM private key.
pub fn encode_rs256<C: Serialize>(claims: &C, private_key_pem: &SecretString) -> Result<String> {
    let key = EncodingKey::from_rsa_pem(private_key_pem.expose_secret().as_bytes())
        .map_err(|_| Error::config("private_key_pem", "not an RSA private key in PEM form"))?;
    jsonwebtoken::encode(&Header::new(Algorithm::RS256), claims, &key)
        .map_err(|_| Error::config("private_key_pem", "could not sign the RS256 token"))
}

/// Verifies an RS256 token with a PEM public key and returns its claims (`exp` required).
pub fn decode_rs256<C: DeserializeOwned>(token: &str, public_key_pem: &str) -> Result<C> {
    let key = DecodingKey::from_rsa_pem(public_key_pem.as_bytes())
        .map_err(|_| Error::config("public_key_pem", "not an RSA public key in PEM form"))?;
    let mut v = Validation::new(Algorithm::RS256);
    v.validate_aud = false;
    decode_with(token, &key, &v)
}

fn decode_with<C: DeserializeOwned>(token: &str, key: &DecodingKey, v: &Validation) -> Result<C> {
    if token.len() > 16 * 1024 {
        return Err(Error::invalid_input("jwt", "token too long"));
    }
    jsonwebtoken::decode::<C>(token, key, v)
        .map(|d| d.claims)
        .map_err(|e| {
            use jsonwebtoken::errors::ErrorKind;
            let reason = match e.kind() {
                ErrorKind::ExpiredSignature => "token expired",
                ErrorKind::ImmatureSignature => "token not yet valid",
                ErrorKind::InvalidSignature => "signature does not match",
                ErrorKind::InvalidAlgorithm => "unexpected algorithm",
                ErrorKind::MissingRequiredClaim(_) => "a required claim is missing",
                _ => "malformed token",
            };
            Error::invalid_input("jwt", reason)
        })
}

/// Seconds since the Unix epoch, for `iat`/`exp` claims.
pub fn unix_now() -> i64 {
    chrono::Utc::now().timestamp()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;

    #[derive(Serialize, Deserialize, PartialEq, Debug)]
    struct Claims {
        sub: String,
        exp: i64,
    }

    #[test]
    fn hs256_round_trip_and_failures() {
        let secret = SecretString::from("test-secret-not-real");
        let c = Claims {
            sub: "acct-1".into(),
            exp: unix_now() + 60,
        };
        let t = encode_hs256(&c, &secret).unwrap();
        assert_eq!(decode_hs256::<Claims>(&t, &secret, 0).unwrap(), c);
        let wrong = SecretString::from("other");
        assert_eq!(
            decode_hs256::<Claims>(&t, &wrong, 0)
                .unwrap_err()
                .to_string(),
            "invalid input `jwt`: signature does not match"
        );
        let old = Claims {
            sub: "x".into(),
            exp: unix_now() - 120,
        };
        let t = encode_hs256(&old, &secret).unwrap();
        assert!(
            decode_hs256::<Claims>(&t, &secret, 0)
                .unwrap_err()
                .to_string()
                .contains("expired")
        );
        assert!(decode_hs256::<Claims>("not.a.jwt", &secret, 0).is_err());
    }

    #[test]
    fn hs256_at_injected_time_with_rotation() {
        use crate::signature::SigningKeys;
        let old = SecretString::from("previous-test-secret");
        let c = Claims {
            sub: "acct-1".into(),
            exp: 1_700_000_900,
        };
        let t = encode_hs256(&c, &old).unwrap();
        let keys = SigningKeys::new("current-test-secret").with_previous("previous-test-secret");
        let at = |s| chrono::DateTime::from_timestamp(s, 0).unwrap();
        assert_eq!(
            decode_hs256_at::<Claims>(&t, &keys, at(1_700_000_000), 0).unwrap(),
            c
        );
        let e = decode_hs256_at::<Claims>(&t, &keys, at(1_700_000_900), 0).unwrap_err();
        assert!(e.to_string().contains("expired"), "{e}");
        assert!(decode_hs256_at::<Claims>(&t, &keys, at(1_700_000_905), 10).is_ok());
        let other = SigningKeys::new("unrelated-test-secret");
        let e = decode_hs256_at::<Claims>(&t, &other, at(1_700_000_000), 0).unwrap_err();
        assert!(e.to_string().contains("signature does not match"), "{e}");
        let no_exp = encode_hs256(&serde_json::json!({"sub": "x"}), &old).unwrap();
        assert!(decode_hs256_at::<serde_json::Value>(&no_exp, &keys, at(0), 0).is_err());
    }
}
