//! Mapping of Redis failures to the core [`Error::Store`].
//!
//! A Redis error can quote what it was sent (an unknown or renamed command answers with the
//! arguments it received, a parse error may quote the reply), and those arguments include
//! stored tokens. So the original error is never kept: [`RedisFailure`] records only its class
//! (timeout, refused, dropped, server error code) and is what the core error carries as source.

use std::sync::Arc;

use omnichannel_core::Error;

/// What went wrong talking to Redis, reduced to information that cannot carry a stored value.
///
/// It is the source of every [`Error::Store`] this crate returns; [`RedisFailure::of`] finds it,
/// so a host can tell connection trouble from server refusals.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RedisFailure {
    class: FailureClass,
    code: Option<String>,
}

/// The class of a [`RedisFailure`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum FailureClass {
    /// No answer within the response or connection timeout.
    Timeout,
    /// The server refused the connection (not running, wrong port).
    ConnectionRefused,
    /// The connection broke; the client reconnects in the background.
    ConnectionLost,
    /// Another I/O failure.
    Io,
    /// The server refused our credentials.
    Authentication,
    /// The server answered with an error (see [`RedisFailure::code`]: `NOPERM`, `READONLY`,
    /// `OOM`, `WRONGTYPE`, `LOADING`...).
    Server,
    /// The server's answer had an unexpected shape (a key holding another type, a proxy that
    /// is not Redis).
    UnexpectedReply,
    /// The client refused the operation before sending it (configuration, protocol).
    Client,
}

impl FailureClass {
    fn describe(self) -> &'static str {
        match self {
            FailureClass::Timeout => "timed out",
            FailureClass::ConnectionRefused => "connection refused",
            FailureClass::ConnectionLost => "connection lost",
            FailureClass::Io => "I/O error",
            FailureClass::Authentication => "authentication failed",
            FailureClass::Server => "server error",
            FailureClass::UnexpectedReply => "unexpected reply",
            FailureClass::Client => "client error",
        }
    }
}

impl RedisFailure {
    /// The failure behind `err`, when `err` is a store error of this crate.
    pub fn of(err: &Error) -> Option<&RedisFailure> {
        match err {
            Error::Store {
                source: Some(source),
                ..
            } => source.downcast_ref::<RedisFailure>(),
            _ => None,
        }
    }

    /// The class of the failure.
    pub fn class(&self) -> FailureClass {
        self.class
    }

    /// The server's error code (the first word of its error reply), when it answered with one.
    pub fn code(&self) -> Option<&str> {
        self.code.as_deref()
    }

    /// Whether the failure is about reaching the server (timeouts, refused or lost
    /// connections), as opposed to the server refusing a command.
    pub fn is_connection(&self) -> bool {
        matches!(
            self.class,
            FailureClass::Timeout
                | FailureClass::ConnectionRefused
                | FailureClass::ConnectionLost
                | FailureClass::Io
        )
    }

    pub(crate) fn from_redis(err: &redis::RedisError) -> Self {
        use redis::ErrorKind;
        let class = if err.is_timeout() {
            FailureClass::Timeout
        } else if err.is_connection_refusal() {
            FailureClass::ConnectionRefused
        } else if err.is_connection_dropped() {
            FailureClass::ConnectionLost
        } else if err.is_io_error() {
            FailureClass::Io
        } else {
            match err.kind() {
                ErrorKind::AuthenticationFailed => FailureClass::Authentication,
                ErrorKind::Server(_) | ErrorKind::Extension => FailureClass::Server,
                ErrorKind::UnexpectedReturnType | ErrorKind::Parse => FailureClass::UnexpectedReply,
                _ => FailureClass::Client,
            }
        };
        // Server codes are single upper-case words chosen by the server (`ERR`, `NOPERM`);
        // anything else is not kept.
        let code = err
            .code()
            .filter(|c| {
                !c.is_empty()
                    && c.len() <= 32
                    && c.bytes().all(|b| b.is_ascii_uppercase() || b == b'_')
            })
            .map(str::to_string);
        RedisFailure { class, code }
    }
}

impl std::fmt::Display for RedisFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.class.describe())?;
        if let Some(code) = &self.code {
            write!(f, " ({code})")?;
        }
        Ok(())
    }
}

impl std::error::Error for RedisFailure {}

/// The core error for a failed Redis operation `op` (`"GET token"`, `"SET NX lock"`).
///
/// Always [`Error::Store`]: retryable, kind `transport`. The message names the operation and
/// the failure class, never a key's value.
pub(crate) fn store_error(op: &'static str, err: &redis::RedisError) -> Error {
    let failure = RedisFailure::from_redis(err);
    Error::store(
        format!("redis {op} failed: {failure}"),
        Some(Arc::new(failure)),
    )
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    #[test]
    fn server_error_keeps_code_but_not_detail() {
        let err = redis::RedisError::from((
            redis::ErrorKind::Extension,
            "ERR",
            "unknown command 'SET', with args beginning with: 'secret-token-value'".to_string(),
        ));
        let e = store_error("SET token", &err);
        let text = format!("{e} {e:?}");
        assert!(!text.contains("secret-token-value"), "{text}");
        assert!(e.retryable());
        assert_eq!(e.kind(), "transport");
        let failure = RedisFailure::of(&e).unwrap();
        assert!(!failure.is_connection());
    }

    #[test]
    fn io_errors_are_connection_failures() {
        let err = redis::RedisError::from(std::io::Error::new(
            std::io::ErrorKind::ConnectionRefused,
            "refused",
        ));
        let e = store_error("GET token", &err);
        let failure = RedisFailure::of(&e).unwrap();
        assert!(failure.is_connection(), "{failure:?}");
        assert!(
            e.to_string()
                .starts_with("store unavailable: redis GET token failed: ")
        );
    }
}
