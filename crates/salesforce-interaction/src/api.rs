//! The Interaction Service API calls, with their headers, token handling and error mapping.
//!
//! Every call carries `Authorization: Bearer`, `OrgId`, `AuthorizationContext` and a
//! `RequestId` UUID. A call refused for its token (HTTP 401 or code `10004`) gets a new token
//! from the [`TokenManager`] once and is sent again with the same `RequestId`. Retryable
//! failures (codes `10019`, `10055`, `10056`, `10094`, HTTP 429/5xx, timeouts) are retried only
//! for calls that are idempotent or keyed, again with the same `RequestId`.

use std::sync::Arc;

use bytes::Bytes;
use http::{HeaderValue, Method};
use omnichannel_core::http::{
    DEFAULT_MAX_RESPONSE_BYTES, Idempotency, RetryPolicy, bearer, read_body_limited, retry_after,
    with_retry,
};
use omnichannel_core::{AccessToken, Clock, Error, ExposeSecret, Result, TokenManager};
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::config::MAX_ACKNOWLEDGEMENTS;
use crate::model::*;

/// Error codes after which the same request may succeed later (org migration, conversation
/// precondition failed or processing aborted, downstream timeout).
pub const RETRYABLE_CODES: [i64; 4] = [10019, 10055, 10056, 10094];
/// Error code of an invalid access token.
pub const INVALID_TOKEN_CODE: i64 = 10004;

/// The file of an `AttachmentInteraction` (the `attachments` part).
#[derive(Clone)]
pub struct FilePart {
    /// File name sent in the part.
    pub name: String,
    /// MIME type of the part.
    pub mime_type: String,
    /// The bytes.
    pub bytes: Bytes,
}

impl std::fmt::Debug for FilePart {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FilePart")
            .field("name", &self.name)
            .field("mime_type", &self.mime_type)
            .field("len", &self.bytes.len())
            .finish()
    }
}

enum Body<'a> {
    Json(Vec<u8>),
    Multipart {
        json: Vec<u8>,
        file: Option<&'a FilePart>,
    },
}

struct Call<'a> {
    method: Method,
    path: &'static str,
    body: Body<'a>,
    context_type: Option<&'static str>,
}

/// Client of the Interaction Service API. Cheap to clone.
#[derive(Clone)]
pub struct InteractionApi {
    http: reqwest::Client,
    base: String,
    org_id: String,
    authorization_context: String,
    tokens: TokenManager,
    token_key: String,
    retry: RetryPolicy,
    clock: Arc<dyn Clock>,
}

impl std::fmt::Debug for InteractionApi {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("InteractionApi")
            .field("base", &self.base)
            .field("org_id", &self.org_id)
            .field("authorization_context", &self.authorization_context)
            .field("token_key", &self.token_key)
            .finish_non_exhaustive()
    }
}

/// A new random `RequestId`.
pub fn new_request_id() -> String {
    uuid::Uuid::new_v4().to_string()
}

impl InteractionApi {
    /// A client for the SCRT base URL (`https://<my-domain>.my.salesforce-scrt.com`).
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        http: reqwest::Client,
        scrt_base_url: &str,
        org_id: impl Into<String>,
        authorization_context: impl Into<String>,
        tokens: TokenManager,
        token_key: impl Into<String>,
        retry: RetryPolicy,
        clock: Arc<dyn Clock>,
    ) -> Self {
        InteractionApi {
            http,
            base: scrt_base_url.trim_end_matches('/').to_string(),
            org_id: org_id.into(),
            authorization_context: authorization_context.into(),
            tokens,
            token_key: token_key.into(),
            retry,
            clock,
        }
    }

    /// The token manager (to observe or set tokens).
    pub fn tokens(&self) -> &TokenManager {
        &self.tokens
    }

    /// `POST /api/v1/interactions`: one interaction, with its file when it is an
    /// `AttachmentInteraction`. `request_id` is sent on every attempt.
    pub async fn send_interaction(
        &self,
        req: &InteractionRequest,
        file: Option<&FilePart>,
        request_id: &str,
        idempotency: Idempotency,
    ) -> Result<InteractionResponse> {
        if req.interactions.len() != 1 {
            return Err(Error::invalid_input(
                "interactions",
                "exactly one interaction per request",
            ));
        }
        let is_attachment = matches!(
            req.interactions.first(),
            Some(Interaction::AttachmentInteraction { .. })
        );
        if is_attachment != file.is_some() {
            return Err(Error::invalid_input(
                "attachments",
                "an AttachmentInteraction needs exactly one file, other interactions none",
            ));
        }
        let json = to_json(req)?;
        self.call(
            Call {
                method: Method::POST,
                path: "/api/v1/interactions",
                body: Body::Multipart { json, file },
                context_type: None,
            },
            request_id,
            idempotency,
        )
        .await
    }

    /// `POST /api/v1/acknowledgement`: 1 to 25 read/delivered receipts.
    pub async fn acknowledge(&self, req: &AcknowledgementRequest) -> Result<SuccessResponse> {
        if req.acknowledgements.is_empty() || req.acknowledgements.len() > MAX_ACKNOWLEDGEMENTS {
            return Err(Error::invalid_input(
                "acknowledgements",
                format!("between 1 and {MAX_ACKNOWLEDGEMENTS} per request"),
            ));
        }
        // Keyed by the client-chosen entry identifiers: safe to repeat.
        self.json(
            Method::POST,
            "/api/v1/acknowledgement",
            req,
            None,
            Idempotency::Idempotent,
        )
        .await
    }

    /// Acknowledges rep entries (the `identifier`s of outbound events, the normalized events'
    /// ids) as read or delivered for the end user: one call per 25 entries, each receipt with a
    /// new entry UUID and the clock's time. Returns the number of calls made.
    pub async fn acknowledge_entries(
        &self,
        conversation_identifier: &str,
        end_user_client_id: &str,
        kind: AcknowledgementType,
        entry_ids: &[&str],
    ) -> Result<usize> {
        if entry_ids.is_empty() {
            return Err(Error::invalid_input("entry_ids", "nothing to acknowledge"));
        }
        let now = self.clock.now().timestamp_millis();
        let mut calls = 0;
        for chunk in entry_ids.chunks(MAX_ACKNOWLEDGEMENTS) {
            let req = AcknowledgementRequest {
                conversation_identifier: conversation_identifier.to_string(),
                sender: Participant::end_user(end_user_client_id),
                acknowledgements: chunk
                    .iter()
                    .map(|id| Acknowledgement {
                        acknowledgement_type: kind,
                        acknowledged_conversation_entry_identifier: (*id).to_string(),
                        created_conversation_entry_identifier: new_request_id(),
                        acknowledgement_timestamp: now,
                    })
                    .collect(),
            };
            self.acknowledge(&req).await?;
            calls += 1;
        }
        Ok(calls)
    }

    /// `POST /api/v1/agentWork`: assign a work item to a rep (partner-owned routing).
    pub async fn create_agent_work(&self, req: &AgentWorkRequest) -> Result<AgentWorkResponse> {
        check_work_item(&req.work_item_id)?;
        if req.capacity_percentage.is_some() && req.capacity_weight.is_some() {
            return Err(Error::invalid_input(
                "capacityWeight",
                "give capacityWeight or capacityPercentage, not both",
            ));
        }
        if req
            .capacity_percentage
            .is_some_and(|p| !(0.0..=100.0).contains(&p))
        {
            return Err(Error::invalid_input(
                "capacityPercentage",
                "must be between 0 and 100",
            ));
        }
        if req
            .capacity_weight
            .is_some_and(|w| !(w >= 0.0 && w.is_finite()))
        {
            return Err(Error::invalid_input("capacityWeight", "must be at least 0"));
        }
        self.json(
            Method::POST,
            "/api/v1/agentWork",
            req,
            None,
            Idempotency::NotIdempotent,
        )
        .await
    }

    /// `PATCH /api/v1/agentWork`: accept, close, decline or cancel a work item.
    pub async fn update_agent_work(&self, req: &PatchAgentWorkRequest) -> Result<StatusResponse> {
        if req.context_type == WorkContextType::Chatbot
            && (req.work_item_id.is_none() || req.bot_id.is_none())
        {
            return Err(Error::invalid_input(
                "contextType",
                "Chatbot work needs workItemId and botId",
            ));
        }
        self.json(
            Method::PATCH,
            "/api/v1/agentWork",
            req,
            Some("ConversationChannelDefinition"),
            Idempotency::Idempotent,
        )
        .await
    }

    /// `PATCH /api/v1/consent`: record the end user's consent.
    pub async fn update_consent(&self, req: &ConsentRequest) -> Result<StatusResponse> {
        self.json(
            Method::PATCH,
            "/api/v1/consent",
            req,
            None,
            Idempotency::Idempotent,
        )
        .await
    }

    /// `POST /api/v1/route`: start routing (creates a PendingServiceRouting).
    pub async fn route(&self, req: &RouteRequest) -> Result<RouteResponse> {
        if req
            .routing_info
            .as_ref()
            .is_some_and(|i| i.flow.is_some() && i.queue_id.is_some())
        {
            return Err(Error::invalid_input(
                "routingInfo",
                "give either a flow or a queue",
            ));
        }
        self.json(
            Method::POST,
            "/api/v1/route",
            req,
            None,
            Idempotency::NotIdempotent,
        )
        .await
    }

    /// `DELETE /api/v1/route` (JSON body): clear the conversation's PendingServiceRouting.
    pub async fn delete_route(&self, req: &DeleteRouteRequest) -> Result<SuccessResponse> {
        self.json(
            Method::DELETE,
            "/api/v1/route",
            req,
            None,
            Idempotency::Idempotent,
        )
        .await
    }

    /// `POST /api/v1/routingResult`: tell Salesforce how partner routing ended (within 60 s of
    /// a `RoutingRequested` transfer).
    pub async fn routing_result(&self, req: &RoutingResultRequest) -> Result<StatusResponse> {
        check_work_item(&req.work_item_id)?;
        if req.success && req.error_message.is_some() {
            return Err(Error::invalid_input(
                "errorMessage",
                "only when success is false",
            ));
        }
        self.json(
            Method::POST,
            "/api/v1/routingResult",
            req,
            None,
            Idempotency::NotIdempotent,
        )
        .await
    }

    /// `POST /api/v1/messagingSession`: end or inactivate a session (partner-owned routing).
    pub async fn messaging_session(
        &self,
        req: &MessagingSessionRequest,
    ) -> Result<MessagingSessionResponse> {
        if req.operation == SessionOperation::Inactivate && req.session_id.is_none() {
            return Err(Error::invalid_input(
                "sessionId",
                "required to inactivate a session",
            ));
        }
        self.json(
            Method::POST,
            "/api/v1/messagingSession",
            req,
            None,
            Idempotency::NotIdempotent,
        )
        .await
    }

    /// `POST /api/v1/participant` with operation `Remove`: remove one participant (a rep).
    pub async fn remove_participant(
        &self,
        conversation_identifier: &str,
        participant: Participant,
    ) -> Result<StatusResponse> {
        let req = ParticipantRequest {
            conversation_identifier: conversation_identifier.to_string(),
            operation: "Remove".into(),
            participants: vec![participant],
        };
        self.json(
            Method::POST,
            "/api/v1/participant",
            &req,
            None,
            Idempotency::NotIdempotent,
        )
        .await
    }

    /// `POST /api/v1/conversation`: establish a conversation with one end user (proactive).
    pub async fn create_conversation(
        &self,
        req: &ConversationRequest,
    ) -> Result<ConversationResponse> {
        if req.participants.len() != 1 {
            return Err(Error::invalid_input("participants", "exactly one end user"));
        }
        self.json(
            Method::POST,
            "/api/v1/conversation",
            req,
            None,
            Idempotency::NotIdempotent,
        )
        .await
    }

    /// `PATCH /api/v1/capabilities`: register the message and format types the integration
    /// handles.
    pub async fn update_capabilities(&self, req: &CapabilitiesRequest) -> Result<StatusResponse> {
        self.json(
            Method::PATCH,
            "/api/v1/capabilities",
            req,
            None,
            Idempotency::Idempotent,
        )
        .await
    }

    async fn json<B: Serialize, T: DeserializeOwned>(
        &self,
        method: Method,
        path: &'static str,
        body: &B,
        context_type: Option<&'static str>,
        idempotency: Idempotency,
    ) -> Result<T> {
        let call = Call {
            method,
            path,
            body: Body::Json(to_json(body)?),
            context_type,
        };
        self.call(call, &new_request_id(), idempotency).await
    }

    async fn call<T: DeserializeOwned>(
        &self,
        call: Call<'_>,
        request_id: &str,
        idempotency: Idempotency,
    ) -> Result<T> {
        let call = &call;
        let (status, body) = with_retry(&self.retry, idempotency, |_| async move {
            self.attempt(call, request_id).await
        })
        .await?;
        let value: Value = if body.iter().all(u8::is_ascii_whitespace) {
            Value::Object(Default::default())
        } else {
            serde_json::from_slice(&body).map_err(|_| Error::Provider {
                status: Some(status),
                code: None,
                message: "the answer is not JSON".into(),
                retryable: false,
                retry_after: None,
            })?
        };
        if value.get("success").and_then(Value::as_bool) == Some(false) {
            return Err(unsuccessful(status, &value));
        }
        T::deserialize(&value).map_err(|e| Error::Provider {
            status: Some(status),
            code: None,
            message: format!("unexpected answer: {e}"),
            retryable: false,
            retry_after: None,
        })
    }

    /// One attempt: with the current token, and once more with a new token if it is refused.
    async fn attempt(&self, call: &Call<'_>, request_id: &str) -> Result<(u16, Bytes)> {
        let token = self.tokens.access_token(&self.token_key).await?;
        let (status, headers, body) = self.send_once(call, request_id, &token).await?;
        let (status, headers, body) = if is_token_rejection(status, &body) {
            tracing::debug!(path = call.path, "access token refused; minting a new one");
            let fresh = self.tokens.token_rejected(&self.token_key, &token).await?;
            self.send_once(call, request_id, &fresh).await?
        } else {
            (status, headers, body)
        };
        if (200..300).contains(&status) {
            Ok((status, body))
        } else {
            Err(map_error(
                status,
                &body,
                retry_after(&headers, self.clock.now()),
            ))
        }
    }

    async fn send_once(
        &self,
        call: &Call<'_>,
        request_id: &str,
        token: &AccessToken,
    ) -> Result<(u16, http::HeaderMap, Bytes)> {
        let url = format!("{}{}", self.base, call.path);
        let mut rb = self
            .http
            .request(call.method.clone(), url)
            .header(
                http::header::AUTHORIZATION,
                bearer(token.value.expose_secret())?,
            )
            .header("OrgId", header_value("org_id", &self.org_id)?)
            .header(
                "AuthorizationContext",
                header_value("authorization_context", &self.authorization_context)?,
            )
            .header("RequestId", header_value("RequestId", request_id)?)
            .header(http::header::ACCEPT, "application/json");
        if let Some(ct) = call.context_type {
            rb = rb.header("AuthorizationContextType", ct);
        }
        rb = match &call.body {
            Body::Json(b) => rb
                .header(http::header::CONTENT_TYPE, "application/json")
                .body(b.clone()),
            Body::Multipart { json, file } => {
                let mut form = reqwest::multipart::Form::new().part(
                    "json",
                    reqwest::multipart::Part::bytes(json.clone())
                        .mime_str("application/json")
                        .map_err(|_| Error::invalid_input("json", "bad content type"))?,
                );
                if let Some(f) = file {
                    let part = reqwest::multipart::Part::stream_with_length(
                        reqwest::Body::from(f.bytes.clone()),
                        f.bytes.len() as u64,
                    )
                    .file_name(f.name.clone())
                    .mime_str(&f.mime_type)
                    .map_err(|_| {
                        Error::invalid_input("attachments.mime_type", "not a valid MIME type")
                    })?;
                    form = form.part("attachments", part);
                }
                rb.multipart(form)
            }
        };
        let res = rb.send().await.map_err(Error::from_reqwest)?;
        let status = res.status().as_u16();
        let headers = res.headers().clone();
        let body = read_body_limited(res, DEFAULT_MAX_RESPONSE_BYTES).await?;
        Ok((status, headers, body))
    }
}

fn to_json<B: Serialize>(b: &B) -> Result<Vec<u8>> {
    serde_json::to_vec(b).map_err(|_| Error::invalid_input("body", "cannot be serialized"))
}

fn header_value(field: &str, v: &str) -> Result<HeaderValue> {
    HeaderValue::from_str(v).map_err(|_| Error::invalid_input(field, "not a valid header value"))
}

fn check_work_item(id: &str) -> Result<()> {
    if id.chars().count() != 15 {
        return Err(Error::invalid_input(
            "workItemId",
            "must be exactly 15 characters (the 15-character MessagingSession id)",
        ));
    }
    Ok(())
}

/// Whether an answer says the access token is not valid (HTTP 401 or code `10004`).
pub fn is_token_rejection(status: u16, body: &[u8]) -> bool {
    status == 401
        || serde_json::from_slice::<ApiError>(body).is_ok_and(|e| e.code == INVALID_TOKEN_CODE)
}

/// Maps an error answer to a core error: codes `10019`, `10055`, `10056`, `10094` retryable;
/// `10004` (after the one token renewal) unauthorized; HTTP 429 rate limited; any other code a
/// permanent provider error; no code: by HTTP status.
pub fn map_error(status: u16, body: &[u8], retry_after: Option<std::time::Duration>) -> Error {
    match serde_json::from_slice::<ApiError>(body) {
        Ok(e) => from_code(Some(status), e.code, e.message, retry_after),
        Err(_) => Error::from_status(
            status,
            None,
            format!("HTTP {status} without an error body"),
            retry_after,
        ),
    }
}

/// The core error for an Interaction Service error code.
pub fn from_code(
    status: Option<u16>,
    code: i64,
    message: String,
    retry_after: Option<std::time::Duration>,
) -> Error {
    if code == INVALID_TOKEN_CODE {
        return Error::Unauthorized {
            message: format!("{code}: {message}"),
        };
    }
    if status == Some(429) {
        return Error::RateLimited {
            retry_after,
            code: Some(code.to_string()),
        };
    }
    Error::Provider {
        status,
        code: Some(code.to_string()),
        message,
        retryable: RETRYABLE_CODES.contains(&code),
        retry_after,
    }
}

/// A 2xx answer with `"success": false`: its `errorDetail`, `code`/`message` or `errorReason`.
fn unsuccessful(status: u16, v: &Value) -> Error {
    let detail = v.get("errorDetail");
    let code = detail
        .and_then(|d| d.get("code"))
        .or_else(|| v.get("code"))
        .and_then(|c| c.as_i64().or_else(|| c.as_str()?.parse().ok()));
    let message = detail
        .and_then(|d| d.get("message"))
        .or_else(|| v.get("message"))
        .or_else(|| v.get("errorReason"))
        .or_else(|| v.get("reasonForNotRouting"))
        .and_then(Value::as_str)
        .unwrap_or("the request was not successful")
        .to_string();
    match code {
        Some(c) => from_code(Some(status), c, message, None),
        None => Error::Provider {
            status: Some(status),
            code: v
                .get("errorReason")
                .and_then(Value::as_str)
                .map(str::to_string),
            message,
            retryable: false,
            retry_after: None,
        },
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    #[test]
    fn error_codes_map() {
        for code in RETRYABLE_CODES {
            let body = format!(r#"{{"code":{code},"message":"retry later"}}"#);
            let e = map_error(503, body.as_bytes(), None);
            assert!(e.retryable(), "{code}");
            assert_eq!(e.kind(), "provider_error");
        }
        let e = map_error(400, br#"{"code":10017,"message":"unknown channel"}"#, None);
        assert!(!e.retryable());
        assert!(matches!(&e, Error::Provider { code: Some(c), .. } if c == "10017"));
        assert_eq!(
            map_error(401, br#"{"code":10004,"message":"bad token"}"#, None).kind(),
            "unauthorized"
        );
        assert_eq!(
            map_error(429, br#"{"code":1,"message":"x"}"#, None).kind(),
            "rate_limited"
        );
        assert!(map_error(502, b"", None).retryable());
        assert!(is_token_rejection(400, br#"{"code":10004,"message":"x"}"#));
        assert!(is_token_rejection(401, b""));
        assert!(!is_token_rejection(400, br#"{"code":10017,"message":"x"}"#));
        let e = unsuccessful(
            200,
            &serde_json::json!({"success": false, "errorDetail": {"code": 10022, "message": "not partner"}}),
        );
        assert!(matches!(&e, Error::Provider { code: Some(c), .. } if c == "10022"));
        let e = unsuccessful(
            200,
            &serde_json::json!({"success": false, "errorReason": "SESSION_NOT_FOUND"}),
        );
        assert!(e.to_string().contains("SESSION_NOT_FOUND"));
    }
}
