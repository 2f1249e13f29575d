//! The RapidPro side's client of the Tickets app (spec section 3):
//! `https://<host>/api/apps/public/<app id>/<endpoint>` with `Authorization: Token <secret>` and
//! `Content-Type: application/json`.
//!
//! Every documented error answer of the app becomes a [`ClientError`] variant; each converts
//! into the core [`Error`] a host classifies (retry, fix the input, reconfigure).

use std::collections::BTreeMap;

use http::{HeaderValue, Method};
use omnichannel_core::http::{
    DEFAULT_MAX_RESPONSE_BYTES, Idempotency, RetryPolicy, read_body_limited, sensitive_header,
    with_retry,
};
use omnichannel_core::{Error, ExposeSecret, SecretString};
use serde::Serialize;

use crate::model::{
    AppSettings, CloseRoom, IdAnswer, OpenRoom, VisitorMessage, VisitorToken, Webhook,
};

/// The app's answer to a request with the wrong `Content-Type`.
pub const MSG_INVALID_CONTENT_TYPE: &str = "Invalid Content-Type header";
/// The app's answer when its secret setting is empty.
pub const MSG_SECRET_NOT_SET: &str = "Secret not set";
/// The app's answer to a wrong or absent `Authorization`.
pub const MSG_INVALID_AUTHORIZATION: &str = "Invalid Authorization header";
/// The app's answer when the visitor's room is still open.
pub const MSG_ROOM_ALREADY_OPEN: &str = "Visitor already has an open room";
/// The app's answer when no room is cached for a visitor (followed by the token).
pub const MSG_NO_ROOM_PREFIX: &str = "Could not find a room for visitor token: ";
/// The app's answer when a department is unknown (followed by the name).
pub const MSG_NO_DEPARTMENT_PREFIX: &str = "Could not find a department with name: ";
/// The app's answer to a `visitor-message` with neither text nor attachments.
pub const MSG_EMPTY_MESSAGE: &str = "Could not send message with empty text and attachments";
/// The app's answer to anything it did not expect (Rocket.Chat errors, no agent online).
pub const MSG_UNEXPECTED: &str = "Unexpected error";

/// A failed call to the app.
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum ClientError {
    /// 400 `Invalid Content-Type header`: the request was not sent as `application/json`.
    #[error("the app refused the Content-Type (400 `Invalid Content-Type header`)")]
    InvalidContentType,
    /// 403 `Secret not set`: the Rocket.Chat admin has not pasted the secret into the app.
    #[error(
        "the app has no secret set (403 `Secret not set`): paste the secret into the app settings"
    )]
    SecretNotSet,
    /// 403 `Invalid Authorization header`: the app's secret differs from ours.
    #[error("the app refused the secret (403 `Invalid Authorization header`)")]
    InvalidAuthorization,
    /// 400 with a JSON-encoded string of grouped validation messages, by field.
    #[error("the app refused the request body: {}", fmt_validation(.errors))]
    Validation {
        /// Messages by field (`visitor.name` → `["Visitor name can't be blank"]`).
        errors: BTreeMap<String, Vec<String>>,
    },
    /// `Visitor already has an open room`: close the visitor's ticket first.
    #[error("the visitor already has an open room")]
    RoomAlreadyOpen,
    /// `Could not find a room for visitor token: <token>`: the app has no open room for it.
    #[error("no open room for visitor token `{token}`")]
    NoOpenRoom {
        /// The token the app named.
        token: String,
    },
    /// `Could not find a department with name: <name>`.
    #[error("no department `{department}`")]
    DepartmentNotFound {
        /// The department the app named.
        department: String,
    },
    /// `Could not send message with empty text and attachments`.
    #[error("the app refused a message with empty text and attachments")]
    EmptyMessage,
    /// 500 `Unexpected error`: Rocket.Chat failed (for example no agent online). May pass later.
    #[error("the app failed (500 `Unexpected error`)")]
    Unexpected,
    /// 201 `{"id":""}` to a `visitor-message`: the agent had closed the room, nothing was
    /// delivered (the app sent its `close-room` webhook again).
    #[error("the room was closed by the agent; the message was not delivered")]
    RoomClosed,
    /// Another `{"error": ...}` answer.
    #[error("the app answered {status}: {message}")]
    Rejected {
        /// HTTP status.
        status: u16,
        /// The app's message.
        message: String,
    },
    /// A status the endpoint does not answer on success, without a JSON error (an unknown app
    /// or endpoint answers 404, an unimplemented method a plain-text 500; `settings` succeeds
    /// only with 204).
    #[error("the app answered with unexpected status {status}")]
    UnexpectedStatus {
        /// HTTP status.
        status: u16,
    },
    /// A success answer whose body is not what the endpoint returns.
    #[error("unexpected answer from the app: {reason}")]
    BadAnswer {
        /// What was wrong.
        reason: String,
    },
    /// The request did not reach the app, or the answer did not come back.
    #[error(transparent)]
    Transport(Error),
}

fn fmt_validation(errors: &BTreeMap<String, Vec<String>>) -> String {
    let all: Vec<&str> = errors.values().flatten().map(String::as_str).collect();
    all.join("; ")
}

impl ClientError {
    /// A short stable code for the variant (also the `code` of the core error it becomes).
    pub fn code(&self) -> &'static str {
        match self {
            ClientError::InvalidContentType => "invalid_content_type",
            ClientError::SecretNotSet => "secret_not_set",
            ClientError::InvalidAuthorization => "invalid_authorization",
            ClientError::Validation { .. } => "validation",
            ClientError::RoomAlreadyOpen => "room_already_open",
            ClientError::NoOpenRoom { .. } => "no_open_room",
            ClientError::DepartmentNotFound { .. } => "department_not_found",
            ClientError::EmptyMessage => "empty_message",
            ClientError::Unexpected => "unexpected_error",
            ClientError::RoomClosed => "room_closed",
            ClientError::Rejected { .. } => "rejected",
            ClientError::UnexpectedStatus { .. } => "unexpected_status",
            ClientError::BadAnswer { .. } => "bad_answer",
            ClientError::Transport(_) => "transport",
        }
    }

    /// Classifies an answer of the app with status >= 400 (or any answer with a JSON `error`):
    /// the exact messages of spec section 3, a validation string, or the status alone.
    pub fn from_answer(status: u16, body: &[u8]) -> ClientError {
        let message = serde_json::from_slice::<serde_json::Value>(body)
            .ok()
            .and_then(|v| v.get("error").and_then(|e| e.as_str()).map(str::to_string));
        let Some(message) = message else {
            return ClientError::UnexpectedStatus { status };
        };
        match message.as_str() {
            MSG_INVALID_CONTENT_TYPE => return ClientError::InvalidContentType,
            MSG_SECRET_NOT_SET => return ClientError::SecretNotSet,
            MSG_INVALID_AUTHORIZATION => return ClientError::InvalidAuthorization,
            MSG_ROOM_ALREADY_OPEN => return ClientError::RoomAlreadyOpen,
            MSG_EMPTY_MESSAGE => return ClientError::EmptyMessage,
            MSG_UNEXPECTED => return ClientError::Unexpected,
            _ => {}
        }
        if let Some(token) = message.strip_prefix(MSG_NO_ROOM_PREFIX) {
            return ClientError::NoOpenRoom {
                token: token.to_string(),
            };
        }
        if let Some(department) = message.strip_prefix(MSG_NO_DEPARTMENT_PREFIX) {
            return ClientError::DepartmentNotFound {
                department: department.to_string(),
            };
        }
        if let Ok(errors) = serde_json::from_str::<BTreeMap<String, Vec<String>>>(&message)
            && !errors.is_empty()
        {
            return ClientError::Validation { errors };
        }
        ClientError::Rejected { status, message }
    }
}

fn provider(status: u16, code: &str, message: String, retryable: bool) -> Error {
    Error::Provider {
        status: Some(status),
        code: Some(code.to_string()),
        message,
        retryable,
        retry_after: None,
    }
}

impl From<ClientError> for Error {
    fn from(e: ClientError) -> Error {
        let message = e.to_string();
        match e {
            ClientError::SecretNotSet | ClientError::InvalidAuthorization => {
                Error::Unauthorized { message }
            }
            ClientError::Validation { errors } => {
                let field = errors.keys().next().cloned().unwrap_or_default();
                Error::invalid_input(field, fmt_validation(&errors))
            }
            ClientError::EmptyMessage => Error::invalid_input("text", message),
            ClientError::DepartmentNotFound { .. } => {
                Error::invalid_input("visitor.department", message)
            }
            ClientError::InvalidContentType => {
                provider(400, "invalid_content_type", message, false)
            }
            ClientError::RoomAlreadyOpen => provider(400, "room_already_open", message, false),
            ClientError::NoOpenRoom { .. } => provider(404, "no_open_room", message, false),
            ClientError::Unexpected => provider(500, "unexpected_error", message, true),
            ClientError::RoomClosed => provider(201, "room_closed", message, false),
            ClientError::Rejected { status, message } => {
                Error::from_status(status, Some("rejected".into()), message, None)
            }
            ClientError::UnexpectedStatus { status } => {
                Error::from_status(status, Some("unexpected_status".into()), message, None)
            }
            ClientError::BadAnswer { .. } => Error::Provider {
                status: None,
                code: Some("bad_answer".into()),
                message,
                retryable: false,
                retry_after: None,
            },
            ClientError::Transport(e) => e,
        }
    }
}

/// The value of `Authorization` both sides send: `Token <secret>`, marked sensitive.
///
/// The same function signs the fixtures and the simulated requests, so they cannot drift from
/// what the client sends.
pub fn authorization(secret: &SecretString) -> Result<HeaderValue, Error> {
    sensitive_header(&format!("Token {}", secret.expose_secret()))
}

/// A client of the Tickets app.
#[derive(Clone)]
pub struct AppClient {
    http: reqwest::Client,
    base_url: String,
    secret: SecretString,
    max_response_bytes: usize,
    retry: RetryPolicy,
}

impl std::fmt::Debug for AppClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AppClient")
            .field("base_url", &self.base_url)
            .field("secret", &"[redacted]")
            .finish()
    }
}

impl AppClient {
    /// A client of the app at `base_url` (`https://<host>/api/apps/public/<app id>`).
    pub fn new(http: reqwest::Client, base_url: impl Into<String>, secret: SecretString) -> Self {
        AppClient {
            http,
            base_url: base_url.into().trim_end_matches('/').to_string(),
            secret,
            max_response_bytes: DEFAULT_MAX_RESPONSE_BYTES,
            retry: RetryPolicy::default(),
        }
    }

    /// Sets how `secret.check` and `settings` (the idempotent calls) are retried after a
    /// transport failure. `room`, `room.close` and `visitor-message` are never retried: the app
    /// has no idempotency key, and a repeat would open, close or post twice.
    pub fn with_retry_policy(mut self, policy: RetryPolicy) -> Self {
        self.retry = policy;
        self
    }

    /// The app's base URL.
    pub fn base_url(&self) -> &str {
        &self.base_url
    }

    async fn call<B: Serialize>(
        &self,
        method: Method,
        endpoint: &str,
        body: Option<&B>,
    ) -> Result<(u16, bytes::Bytes), ClientError> {
        let bytes = match body {
            Some(b) => Some(serde_json::to_vec(b).map_err(|e| {
                ClientError::Transport(Error::invalid_input("body", e.to_string()))
            })?),
            None => None,
        };
        let idem = if method == Method::PUT || endpoint == "secret.check" || body.is_none() {
            Idempotency::Idempotent
        } else {
            Idempotency::NotIdempotent
        };
        with_retry(&self.retry, idem, |_| {
            self.call_once(method.clone(), endpoint, bytes.clone())
        })
        .await
        .map_err(ClientError::Transport)
    }

    async fn call_once(
        &self,
        method: Method,
        endpoint: &str,
        body: Option<Vec<u8>>,
    ) -> Result<(u16, bytes::Bytes), Error> {
        let url = format!("{}/{endpoint}", self.base_url);
        let auth = authorization(&self.secret)?;
        let mut req = self
            .http
            .request(method, url)
            .header(http::header::AUTHORIZATION, auth)
            .header(
                http::header::CONTENT_TYPE,
                HeaderValue::from_static("application/json"),
            );
        if let Some(b) = body {
            req = req.body(b);
        }
        let res = req.send().await.map_err(Error::from_reqwest)?;
        let status = res.status().as_u16();
        let body = read_body_limited(res, self.max_response_bytes).await?;
        Ok((status, body))
    }

    /// `GET secret.check`: whether the app accepts our secret (200 `{"status":"ok"}`).
    pub async fn check_secret(&self) -> Result<(), ClientError> {
        let (status, body) = self.call::<()>(Method::GET, "secret.check", None).await?;
        match status {
            200 => Ok(()),
            _ => Err(ClientError::from_answer(status, &body)),
        }
    }

    /// `PUT settings`: stores RapidPro's callback URL in the app. Only 204 is success, as
    /// RapidPro requires.
    pub async fn set_settings(&self, webhook_url: &str) -> Result<(), ClientError> {
        let body = AppSettings {
            webhook: Webhook {
                url: Some(webhook_url.to_string()),
            },
        };
        let (status, answer) = self.call(Method::PUT, "settings", Some(&body)).await?;
        match status {
            204 => Ok(()),
            s if s >= 400 => Err(ClientError::from_answer(s, &answer)),
            s => Err(ClientError::UnexpectedStatus { status: s }),
        }
    }

    /// `GET settings`: the callback URL the app holds (`None` when none was set).
    pub async fn get_settings(&self) -> Result<Option<String>, ClientError> {
        let (status, body) = self.call::<()>(Method::GET, "settings", None).await?;
        if status != 200 {
            return Err(ClientError::from_answer(status, &body));
        }
        let s: AppSettings = serde_json::from_slice(&body).map_err(|e| ClientError::BadAnswer {
            reason: format!("settings: {e}"),
        })?;
        Ok(s.webhook.url)
    }

    /// `GET room` with a JSON body: opens a ticket; returns the room id (201 `{"id"}`).
    pub async fn open_room(&self, room: &OpenRoom) -> Result<String, ClientError> {
        let (status, body) = self.call(Method::GET, "room", Some(room)).await?;
        match id_answer(status, &body)? {
            id if id.is_empty() => Err(ClientError::BadAnswer {
                reason: "room: empty id".into(),
            }),
            id => Ok(id),
        }
    }

    /// `GET room.close` with a JSON body: closes the visitor's room (204).
    pub async fn close_room(&self, token: &str) -> Result<(), ClientError> {
        let body = CloseRoom {
            visitor: VisitorToken {
                token: token.to_string(),
            },
        };
        let (status, answer) = self.call(Method::GET, "room.close", Some(&body)).await?;
        match status {
            200..=299 => Ok(()),
            s => Err(ClientError::from_answer(s, &answer)),
        }
    }

    /// `POST visitor-message`: forwards a contact's message; returns the Rocket.Chat message id
    /// (201 `{"id"}`). An empty id means the agent had closed the room: [`ClientError::RoomClosed`].
    pub async fn visitor_message(&self, msg: &VisitorMessage) -> Result<String, ClientError> {
        let (status, body) = self
            .call(Method::POST, "visitor-message", Some(msg))
            .await?;
        match id_answer(status, &body)? {
            id if id.is_empty() => Err(ClientError::RoomClosed),
            id => Ok(id),
        }
    }
}

fn id_answer(status: u16, body: &[u8]) -> Result<String, ClientError> {
    if !(200..300).contains(&status) {
        return Err(ClientError::from_answer(status, body));
    }
    serde_json::from_slice::<IdAnswer>(body)
        .map(|a| a.id)
        .map_err(|e| ClientError::BadAnswer {
            reason: format!("expected {{\"id\"}}: {e}"),
        })
}
