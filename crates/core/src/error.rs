//! Typed errors that tell a host what to do next.
//!
//! Two enums: [`VerifyError`] says why an incoming webhook was refused, [`Error`] covers
//! everything else (parsing, sending, tokens, stores). Each has a stable snake_case
//! [`kind`](Error::kind) that fixtures, the `omnichannel` command and hosts match on.
//!
//! No message produced here contains a secret, an expected signature or a request body.

use std::sync::Arc;
use std::time::Duration;

use crate::capabilities::Unsupported;

/// Why a webhook request was refused before its payload was trusted.
///
/// Every variant is a distinct failure so a host can log precisely what went wrong, yet none
/// carries the expected signature, the secret or the body.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum VerifyError {
    /// A header the scheme requires (signature, timestamp) is absent.
    #[error("missing header `{header}`")]
    MissingHeader {
        /// The header's name.
        header: &'static str,
    },
    /// A header the scheme requires appears more than once.
    #[error("header `{header}` appears more than once")]
    DuplicateHeader {
        /// The header's name.
        header: &'static str,
    },
    /// A header is present but cannot be parsed (bad encoding, bad length, missing part).
    #[error("malformed header `{header}`: {reason}")]
    MalformedHeader {
        /// The header's name.
        header: &'static str,
        /// What is wrong with it, without echoing its value.
        reason: &'static str,
    },
    /// The signature was well formed but does not match any configured secret.
    #[error("signature does not match")]
    SignatureMismatch,
    /// The signed timestamp is outside the accepted window (too old or too far in the future).
    #[error(
        "timestamp outside the accepted window: {skew_secs} s away from now, tolerance {tolerance_secs} s"
    )]
    StaleTimestamp {
        /// Signed time minus now, in seconds (negative when the request is old).
        skew_secs: i64,
        /// The configured tolerance in seconds.
        tolerance_secs: u64,
    },
    /// A shared token (for example `Authorization: Token ...`) is absent or wrong.
    #[error("unauthorized: {reason}")]
    Unauthorized {
        /// Which check failed (absent, wrong scheme, wrong value), never the value.
        reason: &'static str,
    },
    /// The body is larger than the configured limit.
    #[error("body of {size} bytes exceeds the limit of {limit} bytes")]
    PayloadTooLarge {
        /// The body's size.
        size: usize,
        /// The configured limit.
        limit: usize,
    },
    /// The request itself is not one the scheme can verify (wrong method, unparseable URL, a
    /// body-hash parameter that is not well formed). A well-formed body hash that does not match
    /// the body is a [`SignatureMismatch`](VerifyError::SignatureMismatch).
    #[error("request cannot be verified: {reason}")]
    Malformed {
        /// What is wrong, without echoing the request.
        reason: String,
    },
}

impl VerifyError {
    /// The stable snake_case kind of this error (DESIGN.md section 5).
    pub fn kind(&self) -> &'static str {
        match self {
            VerifyError::MissingHeader { .. } => "missing_signature",
            VerifyError::DuplicateHeader { .. } | VerifyError::MalformedHeader { .. } => {
                "malformed_signature"
            }
            VerifyError::SignatureMismatch => "signature_mismatch",
            VerifyError::StaleTimestamp { .. } => "stale_timestamp",
            VerifyError::Unauthorized { .. } => "unauthorized",
            VerifyError::PayloadTooLarge { .. } => "payload_too_large",
            VerifyError::Malformed { .. } => "malformed_payload",
        }
    }
}

/// A source error kept behind an `Arc` so that [`Error`] stays `Clone` (a token refresh's
/// failure is handed to every caller that waited for it).
pub type SharedSource = Arc<dyn std::error::Error + Send + Sync + 'static>;

/// Every failure of the library, classified for the host.
///
/// Use [`Error::kind`] for the stable name, [`Error::retryable`] and [`Error::retry_after`] to
/// decide on a retry, [`Error::requires_reauthorization`] to ask the account holder to connect
/// again.
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The webhook request was refused by verification.
    #[error("webhook verification failed: {0}")]
    Verify(#[from] VerifyError),

    /// The payload was authentic but could not be parsed.
    #[error("malformed payload: {reason}")]
    MalformedPayload {
        /// What could not be parsed (a field path or a parser message), never the body.
        reason: String,
    },

    /// The request body exceeds the configured limit.
    #[error("payload of {size} bytes exceeds the limit of {limit} bytes")]
    PayloadTooLarge {
        /// The body's size.
        size: usize,
        /// The configured limit.
        limit: usize,
    },

    /// The outbound message cannot be carried by this channel; refused before any request.
    #[error("unsupported by the channel: {0}")]
    Unsupported(#[from] Unsupported),

    /// The outbound message or a setting lacks something the provider needs, or has an invalid
    /// value. Fix the input; do not retry as is.
    #[error("invalid input `{field}`: {reason}")]
    InvalidInput {
        /// The field (JSON key or setting) at fault.
        field: String,
        /// What is wrong.
        reason: String,
    },

    /// The provider throttled the call. Retry after `retry_after` when given.
    #[error("rate limited by the provider{}", fmt_retry_after(*.retry_after))]
    RateLimited {
        /// How long the provider asked to wait.
        retry_after: Option<Duration>,
        /// The provider's error code, when it gave one.
        code: Option<String>,
    },

    /// The provider refused our credentials (after any automatic token refresh was tried).
    #[error("unauthorized by the provider: {message}")]
    Unauthorized {
        /// The provider's message, when it gave one.
        message: String,
    },

    /// The account holder must authorize the application again (refresh token expired or
    /// revoked). Retrying will not help.
    #[error("reauthorization required for `{key}`: {reason}")]
    ReauthorizationRequired {
        /// The token key (account, business, channel) that needs a new authorization.
        key: String,
        /// Why.
        reason: String,
    },

    /// The recipient opted out of messages from this sender; do not retry.
    #[error("recipient opted out{}", fmt_code(.code))]
    OptedOut {
        /// The provider's error code (SignalWire 21610).
        code: Option<String>,
    },

    /// The provider answered with an error.
    #[error("provider error{}{}: {message}", fmt_status(*.status), fmt_code(.code))]
    Provider {
        /// HTTP status, when the error came with one.
        status: Option<u16>,
        /// The provider's error code.
        code: Option<String>,
        /// The provider's message.
        message: String,
        /// Whether the same request may succeed later.
        retryable: bool,
        /// How long to wait before retrying, when the provider said.
        retry_after: Option<Duration>,
    },

    /// The request did not reach the provider or its answer did not come back.
    #[error("transport error: {message}")]
    Transport {
        /// What failed.
        message: String,
        /// Whether retrying may help (timeouts, refused connections).
        retryable: bool,
        /// The underlying error.
        #[source]
        source: Option<SharedSource>,
    },

    /// A store (tokens, locks, dedup) failed. Retryable: stores reconnect.
    #[error("store unavailable: {message}")]
    Store {
        /// What failed.
        message: String,
        /// The underlying error.
        #[source]
        source: Option<SharedSource>,
    },

    /// A setting is missing or invalid. Fix the configuration.
    #[error("configuration error `{setting}`: {reason}")]
    Config {
        /// The setting at fault.
        setting: String,
        /// What is wrong.
        reason: String,
    },
}

fn fmt_retry_after(d: Option<Duration>) -> String {
    match d {
        Some(d) => format!(" (retry after {} ms)", d.as_millis()),
        None => String::new(),
    }
}

fn fmt_code(c: &Option<String>) -> String {
    match c {
        Some(c) => format!(" (code {c})"),
        None => String::new(),
    }
}

fn fmt_status(s: Option<u16>) -> String {
    match s {
        Some(s) => format!(" (HTTP {s})"),
        None => String::new(),
    }
}

impl Error {
    /// The stable snake_case kind of this error (DESIGN.md section 5).
    pub fn kind(&self) -> &'static str {
        match self {
            Error::Verify(v) => v.kind(),
            Error::MalformedPayload { .. } => "malformed_payload",
            Error::PayloadTooLarge { .. } => "payload_too_large",
            Error::Unsupported(_) => "unsupported_content",
            Error::InvalidInput { .. } | Error::Config { .. } => "invalid_input",
            Error::RateLimited { .. } => "rate_limited",
            Error::Unauthorized { .. } => "unauthorized",
            Error::ReauthorizationRequired { .. } => "reauthorization_required",
            Error::OptedOut { .. } => "opted_out",
            Error::Provider { .. } => "provider_error",
            Error::Transport { .. } | Error::Store { .. } => "transport",
        }
    }

    /// Whether the same operation may succeed if tried again later.
    pub fn retryable(&self) -> bool {
        match self {
            Error::RateLimited { .. } | Error::Store { .. } => true,
            Error::Provider { retryable, .. } | Error::Transport { retryable, .. } => *retryable,
            _ => false,
        }
    }

    /// How long the provider asked to wait before a retry, when it said.
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            Error::RateLimited { retry_after, .. } | Error::Provider { retry_after, .. } => {
                *retry_after
            }
            _ => None,
        }
    }

    /// Whether the account holder must authorize the application again.
    pub fn requires_reauthorization(&self) -> bool {
        matches!(self, Error::ReauthorizationRequired { .. })
    }

    /// Whether the request was refused as not genuine or not parseable (drop it, answer 4xx).
    pub fn is_rejection(&self) -> bool {
        matches!(
            self,
            Error::Verify(_) | Error::MalformedPayload { .. } | Error::PayloadTooLarge { .. }
        )
    }

    /// A malformed-payload error.
    pub fn malformed(reason: impl Into<String>) -> Self {
        Error::MalformedPayload {
            reason: reason.into(),
        }
    }

    /// An invalid-input error.
    pub fn invalid_input(field: impl Into<String>, reason: impl Into<String>) -> Self {
        Error::InvalidInput {
            field: field.into(),
            reason: reason.into(),
        }
    }

    /// A configuration error.
    pub fn config(setting: impl Into<String>, reason: impl Into<String>) -> Self {
        Error::Config {
            setting: setting.into(),
            reason: reason.into(),
        }
    }

    /// A store error.
    pub fn store(message: impl Into<String>, source: Option<SharedSource>) -> Self {
        Error::Store {
            message: message.into(),
            source,
        }
    }

    /// The underlying cause of a transport or store error, for hosts that need the original
    /// (for example `omnichannel-redis`'s failure class).
    pub fn cause(&self) -> Option<&(dyn std::error::Error + Send + Sync + 'static)> {
        match self {
            Error::Transport { source, .. } | Error::Store { source, .. } => source.as_deref(),
            _ => None,
        }
    }

    /// A transport error from `reqwest`: timeouts and connection failures are retryable.
    ///
    /// The URL is stripped from the message, because some providers put credentials in it.
    pub fn from_reqwest(err: reqwest::Error) -> Self {
        let retryable = err.is_timeout() || err.is_connect() || err.is_request();
        let message = if err.is_timeout() {
            "request timed out".to_string()
        } else if err.is_connect() {
            "connection failed".to_string()
        } else if err.is_decode() || err.is_body() {
            "could not read the provider's answer".to_string()
        } else {
            "request failed".to_string()
        };
        Error::Transport {
            message,
            retryable,
            source: Some(Arc::new(err.without_url())),
        }
    }

    /// The error for an HTTP error status when the provider's body gave nothing more precise:
    /// 429 is rate limiting, 401/403 unauthorized, 5xx and 408 retryable provider errors, other
    /// 4xx permanent provider errors.
    pub fn from_status(
        status: u16,
        code: Option<String>,
        message: impl Into<String>,
        retry_after: Option<Duration>,
    ) -> Self {
        let message = message.into();
        match status {
            429 => Error::RateLimited { retry_after, code },
            401 | 403 => Error::Unauthorized { message },
            _ => Error::Provider {
                status: Some(status),
                code,
                message,
                retryable: status >= 500 || status == 408,
                retry_after,
            },
        }
    }
}

/// The library's result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// What a `serde_json` error says that is safe to repeat in an error about a sender's payload.
///
/// serde's messages quote what they refused (`invalid type: string "..."`, `unknown variant
/// `...``), and payloads carry conversation text and credentials; of the message only the name
/// of a missing field (from the crate's own types) is kept. Providers word each fault their own
/// way (some mirror the error texts of the system they stand in for).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum JsonFault {
    /// `missing field `name``: serde's text up to the position.
    MissingField(String),
    /// A string that is none of an enum's names.
    UnknownVariant,
    /// Any other value of the wrong type or shape.
    WrongValue,
    /// The document ends too early.
    Eof,
    /// Not JSON.
    Syntax,
    /// The reader failed.
    Io,
}

impl JsonFault {
    /// The fault of `e`.
    pub fn of(e: &serde_json::Error) -> Self {
        use serde_json::error::Category;
        match e.classify() {
            Category::Data => {
                let msg = e.to_string();
                if msg.starts_with("missing field") {
                    let name = msg.split(" at line").next().unwrap_or("missing field");
                    JsonFault::MissingField(name.to_string())
                } else if msg.starts_with("unknown variant") {
                    JsonFault::UnknownVariant
                } else {
                    JsonFault::WrongValue
                }
            }
            Category::Eof => JsonFault::Eof,
            Category::Syntax => JsonFault::Syntax,
            Category::Io => JsonFault::Io,
        }
    }
}

#[cfg(test)]
mod json_fault_tests {
    #![allow(clippy::unwrap_used)]
    use super::JsonFault;

    #[derive(Debug, serde::Deserialize)]
    #[allow(dead_code)]
    struct T {
        name: String,
        kind: Kind,
    }

    #[derive(Debug, serde::Deserialize)]
    enum Kind {
        A,
    }

    fn fault(s: &str) -> JsonFault {
        JsonFault::of(&serde_json::from_str::<T>(s).unwrap_err())
    }

    #[test]
    fn faults_keep_nothing_of_the_document() {
        assert_eq!(
            fault(r#"{"kind":"A"}"#),
            JsonFault::MissingField("missing field `name`".into())
        );
        assert_eq!(
            fault(r#"{"name":"x","kind":"secret-text"}"#),
            JsonFault::UnknownVariant
        );
        assert_eq!(fault(r#"{"name":["secret-text"]}"#), JsonFault::WrongValue);
        assert_eq!(fault(r#"{"name":"#), JsonFault::Eof);
        assert_eq!(fault("secret-text"), JsonFault::Syntax);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_are_stable() {
        assert_eq!(
            Error::from(VerifyError::SignatureMismatch).kind(),
            "signature_mismatch"
        );
        assert_eq!(
            Error::from(VerifyError::MissingHeader { header: "x" }).kind(),
            "missing_signature"
        );
        assert_eq!(
            Error::from(VerifyError::DuplicateHeader { header: "x" }).kind(),
            "malformed_signature"
        );
        assert_eq!(
            Error::from(VerifyError::StaleTimestamp {
                skew_secs: -400,
                tolerance_secs: 300
            })
            .kind(),
            "stale_timestamp"
        );
        assert_eq!(Error::malformed("x").kind(), "malformed_payload");
        assert_eq!(
            Error::from_status(429, None, "slow down", Some(Duration::from_secs(3))).kind(),
            "rate_limited"
        );
        assert_eq!(
            Error::OptedOut {
                code: Some("21610".into())
            }
            .kind(),
            "opted_out"
        );
    }

    #[test]
    fn classification() {
        let e = Error::from_status(429, None, "", Some(Duration::from_secs(7)));
        assert!(e.retryable());
        assert_eq!(e.retry_after(), Some(Duration::from_secs(7)));
        assert!(Error::from_status(503, None, "", None).retryable());
        assert!(!Error::from_status(400, None, "", None).retryable());
        assert!(!Error::from_status(401, None, "", None).retryable());
        let r = Error::ReauthorizationRequired {
            key: "biz".into(),
            reason: "refresh token expired".into(),
        };
        assert!(r.requires_reauthorization());
        assert!(!r.retryable());
        assert!(Error::from(VerifyError::SignatureMismatch).is_rejection());
    }

    #[test]
    fn cause_is_reachable() {
        #[derive(Debug, thiserror::Error)]
        #[error("boom")]
        struct Boom;
        let e = Error::store("down", Some(Arc::new(Boom)));
        assert!(e.cause().unwrap().downcast_ref::<Boom>().is_some());
        assert!(Error::malformed("x").cause().is_none());
    }
}
