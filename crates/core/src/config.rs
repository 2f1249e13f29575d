//! Reading channel settings from JSON (fixture `config`, gateway channel tables), with typed
//! errors that name the setting and never echo a secret.

use std::time::Duration;

use secrecy::SecretString;
use serde_json::Value;

use crate::signature::SigningKeys;
use crate::{Error, Result};

/// Default webhook body limit: 1 MiB.
pub const DEFAULT_MAX_BODY_BYTES: usize = 1024 * 1024;

/// A view over a JSON object of settings.
#[derive(Debug, Clone, Copy)]
pub struct Settings<'a> {
    map: Option<&'a serde_json::Map<String, Value>>,
}

impl<'a> Settings<'a> {
    /// Settings from a JSON value; anything but an object is an error.
    pub fn new(v: &'a Value) -> Result<Self> {
        match v {
            Value::Object(m) => Ok(Settings { map: Some(m) }),
            Value::Null => Ok(Settings { map: None }),
            _ => Err(Error::config("config", "settings must be a JSON object")),
        }
    }

    /// The raw value of a key.
    pub fn get(&self, key: &str) -> Option<&'a Value> {
        self.map?.get(key).filter(|v| !v.is_null())
    }

    /// A string setting.
    pub fn str(&self, key: &str) -> Result<Option<&'a str>> {
        match self.get(key) {
            None => Ok(None),
            Some(Value::String(s)) => Ok(Some(s)),
            Some(_) => Err(Error::config(key, "must be a string")),
        }
    }

    /// A string setting that must be present.
    pub fn require_str(&self, key: &str) -> Result<&'a str> {
        self.str(key)?
            .ok_or_else(|| Error::config(key, "is required"))
    }

    /// A string setting with a default.
    pub fn str_or(&self, key: &str, default: &str) -> Result<String> {
        Ok(self.str(key)?.unwrap_or(default).to_string())
    }

    /// A secret setting.
    pub fn secret(&self, key: &str) -> Result<Option<SecretString>> {
        Ok(self.str(key)?.map(|s| SecretString::from(s.to_string())))
    }

    /// A secret setting that must be present.
    pub fn require_secret(&self, key: &str) -> Result<SecretString> {
        self.secret(key)?
            .ok_or_else(|| Error::config(key, "is required"))
    }

    /// Verification secrets: a string, or an array of strings (current first, then previous).
    pub fn signing_keys(&self, key: &str) -> Result<Option<SigningKeys>> {
        match self.get(key) {
            None => Ok(None),
            Some(Value::String(s)) => Ok(Some(SigningKeys::new(s.clone()))),
            Some(Value::Array(a)) => {
                let mut out = Vec::with_capacity(a.len());
                for v in a {
                    match v {
                        Value::String(s) => out.push(SecretString::from(s.clone())),
                        _ => return Err(Error::config(key, "must be strings")),
                    }
                }
                SigningKeys::from_list(out)
                    .map(Some)
                    .ok_or_else(|| Error::config(key, "must not be empty"))
            }
            Some(_) => Err(Error::config(
                key,
                "must be a string or an array of strings",
            )),
        }
    }

    /// Verification secrets that must be present.
    pub fn require_signing_keys(&self, key: &str) -> Result<SigningKeys> {
        self.signing_keys(key)?
            .ok_or_else(|| Error::config(key, "is required"))
    }

    /// An unsigned integer setting.
    pub fn u64(&self, key: &str) -> Result<Option<u64>> {
        match self.get(key) {
            None => Ok(None),
            Some(v) => v
                .as_u64()
                .map(Some)
                .ok_or_else(|| Error::config(key, "must be a non-negative integer")),
        }
    }

    /// A count or size setting with a default.
    pub fn usize_or(&self, key: &str, default: usize) -> Result<usize> {
        match self.u64(key)? {
            None => Ok(default),
            Some(n) => usize::try_from(n).map_err(|_| Error::config(key, "is too large")),
        }
    }

    /// A duration in seconds with a default.
    pub fn secs_or(&self, key: &str, default: Duration) -> Result<Duration> {
        Ok(self.u64(key)?.map(Duration::from_secs).unwrap_or(default))
    }

    /// A boolean setting with a default.
    pub fn bool_or(&self, key: &str, default: bool) -> Result<bool> {
        match self.get(key) {
            None => Ok(default),
            Some(Value::Bool(b)) => Ok(*b),
            Some(_) => Err(Error::config(key, "must be true or false")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use secrecy::ExposeSecret;
    use serde_json::json;

    #[test]
    fn reads_settings() {
        let v = json!({"a": "x", "n": 5, "keys": ["k1", "k2"], "b": true, "bad": 3});
        let s = Settings::new(&v).unwrap();
        assert_eq!(s.require_str("a").unwrap(), "x");
        assert_eq!(s.u64("n").unwrap(), Some(5));
        assert_eq!(s.usize_or("n", 1).unwrap(), 5);
        assert_eq!(s.usize_or("missing", 7).unwrap(), 7);
        assert_eq!(
            s.secs_or("missing", Duration::from_secs(300))
                .unwrap()
                .as_secs(),
            300
        );
        let keys = s.require_signing_keys("keys").unwrap();
        assert_eq!(keys.all().len(), 2);
        assert_eq!(keys.primary().expose_secret(), "k1");
        assert!(s.bool_or("b", false).unwrap());
        let e = s.require_str("bad").unwrap_err();
        assert_eq!(e.to_string(), "configuration error `bad`: must be a string");
        assert!(s.require_str("nope").is_err());
        assert!(Settings::new(&json!([1])).is_err());
    }
}
