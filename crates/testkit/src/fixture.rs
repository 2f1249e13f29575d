//! The fixture format of DESIGN.md section 5, as serde types.

use std::collections::BTreeMap;

use base64::Engine as _;
use bytes::Bytes;
use chrono::{DateTime, Utc};
use http::{HeaderMap, HeaderName, HeaderValue, Method};
use omnichannel_core::WebhookRequest;
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// One recorded exchange.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Fixture {
    /// The provider whose channel plays it (`tiktok`, `front`, ...).
    pub provider: String,
    /// What it shows.
    #[serde(default)]
    pub description: String,
    /// Where the payload comes from.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
    /// Channel settings (test secrets only).
    #[serde(default)]
    pub config: Value,
    /// A request the provider sends us.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub inbound: Option<InboundCase>,
    /// A message we send to the provider.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub outbound: Option<OutboundCase>,
}

/// The inbound half of a fixture.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct InboundCase {
    /// The HTTP request as the provider sent it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request: Option<RequestSpec>,
    /// For inputs that are not HTTP requests (Salesforce platform events): the decoded event.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub event: Option<Value>,
    /// The clock to verify timestamps against.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub now: Option<DateTime<Utc>>,
    /// What must come out.
    #[serde(default)]
    pub expect: InboundExpect,
}

/// A header value: one string, or several for a header sent more than once.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(untagged)]
pub enum HeaderSpec {
    /// Sent once.
    One(String),
    /// Sent once per value, in order.
    Many(Vec<String>),
}

/// A recorded HTTP request.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RequestSpec {
    /// Method (default POST).
    #[serde(default = "post")]
    pub method: String,
    /// The full URL the provider called.
    pub url: String,
    /// Headers.
    #[serde(default)]
    pub headers: BTreeMap<String, HeaderSpec>,
    /// Body as text.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body: Option<String>,
    /// Body as base64, for bytes that are not text.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body_base64: Option<String>,
}

fn post() -> String {
    "POST".to_string()
}

impl RequestSpec {
    /// The raw body bytes.
    pub fn body_bytes(&self) -> Result<Bytes, String> {
        match (&self.body, &self.body_base64) {
            (Some(_), Some(_)) => Err("request has both `body` and `body_base64`".into()),
            (Some(b), None) => Ok(Bytes::from(b.clone())),
            (None, Some(b)) => base64::engine::general_purpose::STANDARD
                .decode(b)
                .map(Bytes::from)
                .map_err(|e| format!("`body_base64` is not base64: {e}")),
            (None, None) => Ok(Bytes::new()),
        }
    }

    /// The request as a [`WebhookRequest`].
    pub fn to_webhook_request(&self) -> Result<WebhookRequest, String> {
        let method = Method::from_bytes(self.method.as_bytes())
            .map_err(|_| format!("bad method `{}`", self.method))?;
        let mut headers = HeaderMap::new();
        for (name, spec) in &self.headers {
            let name = HeaderName::from_bytes(name.as_bytes())
                .map_err(|_| format!("bad header name `{name}`"))?;
            let values = match spec {
                HeaderSpec::One(v) => vec![v.clone()],
                HeaderSpec::Many(v) => v.clone(),
            };
            for v in values {
                let v = HeaderValue::from_bytes(v.as_bytes())
                    .map_err(|_| format!("bad value for header `{name}`"))?;
                headers.append(name.clone(), v);
            }
        }
        Ok(WebhookRequest::new(
            method,
            self.url.clone(),
            headers,
            self.body_bytes()?,
        ))
    }
}

/// What an inbound case must produce. Every key is optional: what is given is checked.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct InboundExpect {
    /// Whether `receive` accepts the request.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub verified: Option<bool>,
    /// The error kind when refused.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// Normalized events, in order, each a subset of the produced one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub events: Option<Vec<Value>>,
    /// The reply.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reply: Option<ReplyExpect>,
}

/// An expected reply.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct ReplyExpect {
    /// Status code.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<u16>,
    /// Headers, a subset, names case-insensitive.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub headers: Option<BTreeMap<String, String>>,
    /// A string is the exact body; an object or array is a subset of the parsed JSON body.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body: Option<Value>,
}

/// One value, or several in order (multi-request exchanges such as upload-then-send).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(untagged)]
pub enum OneOrMany<T> {
    /// One.
    One(T),
    /// Several, in order.
    Many(Vec<T>),
}

impl<T: Clone> OneOrMany<T> {
    /// As a list.
    pub fn to_vec(&self) -> Vec<T> {
        match self {
            OneOrMany::One(t) => vec![t.clone()],
            OneOrMany::Many(v) => v.clone(),
        }
    }
}

/// The outbound half of a fixture.
///
/// `expect_request` and `response` may each be a list, for a send that makes several requests
/// (TikTok's image upload then send): the n-th request gets the n-th response.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct OutboundCase {
    /// A normalized outbound message.
    pub message: Value,
    /// The clock for the send (reply windows, JWT times); default: the real clock.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub now: Option<DateTime<Utc>>,
    /// The request(s) the provider must receive; absent: no request at all.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expect_request: Option<OneOrMany<RequestExpect>>,
    /// What the mock provider answers, in order.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub response: Option<OneOrMany<ResponseSpec>>,
    /// The outcome.
    #[serde(default)]
    pub expect: OutboundExpect,
}

/// An expected request at the mock provider.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct RequestExpect {
    /// Method.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub method: Option<String>,
    /// Full path; with a `?`, path and query must both match.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    /// Headers, a subset, names case-insensitive.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub headers: Option<BTreeMap<String, String>>,
    /// A string: exact body. An object: subset of the JSON body, of the decoded form fields
    /// (repeated fields as arrays), or of the multipart parts by name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body: Option<Value>,
}

/// A mock provider answer.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ResponseSpec {
    /// Status (default 200).
    #[serde(default = "ok200")]
    pub status: u16,
    /// Headers.
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
    /// A string is sent as is; anything else as JSON.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body: Option<Value>,
}

fn ok200() -> u16 {
    200
}

/// The expected outcome of a send.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct OutboundExpect {
    /// Whether `send` succeeds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ok: Option<bool>,
    /// A subset of the receipt's JSON.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub receipt: Option<Value>,
    /// The error kind on failure.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}
