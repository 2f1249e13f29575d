//! Access tokens on Redis.

use async_trait::async_trait;
use omnichannel_core::{AccessToken, Error, Result, TokenStore};

use crate::Shared;
use crate::error::store_error;

/// A [`TokenStore`] shared by every instance connected to the same Redis with the same prefix.
///
/// Each token is one string key, `<prefix>token:<key>`, holding the JSON of the core
/// `AccessToken` serialization (value, expiry, refresh token, extra). Keys have no Redis
/// expiry: a stored refresh token outlives its access token, and [`TokenStore::delete`] is how
/// an account is forgotten. Protect the server accordingly (password, ACL, TLS tunnel): the
/// values are bearer credentials.
///
/// Token values are never logged nor put in errors. A stored value that is not a token (written
/// by something else, or corrupted) is reported by a warning naming the key only, and treated as
/// absent so that the next refresh overwrites it.
#[derive(Clone)]
pub struct RedisTokenStore {
    shared: Shared,
}

impl std::fmt::Debug for RedisTokenStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisTokenStore")
            .field("key_prefix", &format_args!("{}token:", self.shared.prefix))
            .finish_non_exhaustive()
    }
}

impl RedisTokenStore {
    pub(crate) fn new(shared: Shared) -> Self {
        RedisTokenStore { shared }
    }

    fn key(&self, key: &str) -> String {
        self.shared.key("token", key)
    }
}

#[async_trait]
impl TokenStore for RedisTokenStore {
    async fn get(&self, key: &str) -> Result<Option<AccessToken>> {
        let mut conn = self.shared.conn.clone();
        let raw: Option<Vec<u8>> = redis::cmd("GET")
            .arg(self.key(key))
            .query_async(&mut conn)
            .await
            .map_err(|e| store_error("GET token", &e))?;
        let Some(raw) = raw else {
            return Ok(None);
        };
        match serde_json::from_slice::<AccessToken>(&raw) {
            Ok(token) => Ok(Some(token)),
            Err(e) => {
                // serde_json messages can quote the input: only the position is logged.
                tracing::warn!(
                    key,
                    line = e.line(),
                    column = e.column(),
                    "stored token is not a valid token JSON; treating it as absent"
                );
                Ok(None)
            }
        }
    }

    async fn put(&self, key: &str, token: &AccessToken) -> Result<()> {
        let json = serde_json::to_vec(token).map_err(|_| {
            Error::invalid_input("token.extra", "the token cannot be serialized as JSON")
        })?;
        let mut conn = self.shared.conn.clone();
        redis::cmd("SET")
            .arg(self.key(key))
            .arg(json)
            .query_async::<()>(&mut conn)
            .await
            .map_err(|e| store_error("SET token", &e))
    }

    async fn delete(&self, key: &str) -> Result<()> {
        let mut conn = self.shared.conn.clone();
        redis::cmd("DEL")
            .arg(self.key(key))
            .query_async::<()>(&mut conn)
            .await
            .map_err(|e| store_error("DEL token", &e))
    }
}
