//! The [`Channel`] trait, and how a channel is built from settings ([`ChannelFactory`],
//! [`ChannelEnv`]).

use std::sync::Arc;

use async_trait::async_trait;
use http::StatusCode;

use crate::Result;
use crate::capabilities::Capabilities;
use crate::clock::{Clock, SystemClock};
use crate::error::{Error, VerifyError};
use crate::event::Provider;
use crate::message::{OutboundMessage, SendReceipt};
use crate::store::{Lock, MemoryLock, MemoryTokenStore, TokenStore};
use crate::webhook::{Inbound, WebhookReply, WebhookRequest};

/// A provider channel: verifies and parses what the provider sends, and sends to it.
///
/// Object safe: a host keeps `Arc<dyn Channel>` for every provider in one map.
#[async_trait]
pub trait Channel: Send + Sync {
    /// The provider whose webhooks this channel takes (for the Rocket.Chat/RapidPro crate, the
    /// sending side: `rocketchat` for the RapidPro side, `rapidpro` for the app side).
    fn provider(&self) -> Provider;

    /// What this channel can carry.
    fn capabilities(&self) -> &Capabilities;

    /// Checks that a request is genuine (signature, timestamp, token) without parsing it.
    fn verify(&self, req: &WebhookRequest) -> Result<(), VerifyError>;

    /// Verifies, parses and normalizes a request, and gives the reply the provider expects.
    async fn receive(&self, req: &WebhookRequest) -> Result<Inbound>;

    /// Parses an input that is not an HTTP request (a Salesforce platform event decoded to JSON).
    /// Channels without such inputs refuse it with `invalid_input`.
    ///
    /// The event is shared, not lent: the normalized events keep it as their `raw` without a
    /// copy of the tree (wrap a value with `Arc::new`; a subscriber that also keeps the event
    /// clones the `Arc`).
    async fn receive_event(&self, event: Arc<serde_json::Value>) -> Result<Inbound> {
        let _ = event;
        Err(Error::invalid_input(
            "event",
            "this channel takes webhook requests, not decoded events",
        ))
    }

    /// Sends a message. `Capabilities` are checked before any network call.
    async fn send(&self, msg: &dyn OutboundMessage) -> Result<SendReceipt>;

    /// The reply to a request that [`receive`](Channel::receive) refused. The default answers
    /// 401 to verification failures, 413 to oversized bodies and 400 to anything else, with
    /// `{"error": kind}`; providers that expect other answers override it.
    fn reject_reply(&self, err: &Error) -> WebhookReply {
        default_reject_reply(err)
    }
}

/// The default reply to a refused request (see [`Channel::reject_reply`]).
pub fn default_reject_reply(err: &Error) -> WebhookReply {
    let status = match err {
        Error::Verify(VerifyError::PayloadTooLarge { .. }) | Error::PayloadTooLarge { .. } => {
            StatusCode::PAYLOAD_TOO_LARGE
        }
        Error::Verify(VerifyError::Malformed { .. }) => StatusCode::BAD_REQUEST,
        Error::Verify(_) => StatusCode::UNAUTHORIZED,
        _ => StatusCode::BAD_REQUEST,
    };
    WebhookReply::json(status, &serde_json::json!({ "error": err.kind() }))
}

/// What a channel takes from its host when it is built: clock, HTTP client, shared stores, and
/// (in tests) where its API base URLs point.
#[derive(Clone, Debug)]
pub struct ChannelEnv {
    /// The clock verifiers and token logic use.
    pub clock: Arc<dyn Clock>,
    /// The HTTP client for provider calls.
    pub http: reqwest::Client,
    /// Token store shared by instances.
    pub token_store: Arc<dyn TokenStore>,
    /// Lock shared by instances.
    pub lock: Arc<dyn Lock>,
    /// When set, every API base URL is moved to this origin (scheme, host, port), keeping its
    /// path: how fixture runs point a channel at a local mock server.
    pub origin_override: Option<url::Url>,
}

impl Default for ChannelEnv {
    fn default() -> Self {
        ChannelEnv {
            clock: Arc::new(SystemClock),
            http: crate::http::default_client(),
            token_store: Arc::new(MemoryTokenStore::new()),
            lock: Arc::new(MemoryLock::new()),
            origin_override: None,
        }
    }
}

impl ChannelEnv {
    /// A base URL as the channel should use it: unchanged, or moved to the override origin.
    pub fn rebase(&self, base_url: &str) -> Result<String> {
        let Some(origin) = &self.origin_override else {
            return Ok(base_url.to_string());
        };
        let mut u = url::Url::parse(base_url)
            .map_err(|_| Error::config("base_url", "not an absolute URL"))?;
        u.set_scheme(origin.scheme())
            .map_err(|_| Error::config("base_url", "cannot change scheme"))?;
        u.set_host(origin.host_str())
            .map_err(|_| Error::config("base_url", "cannot change host"))?;
        u.set_port(origin.port_or_known_default())
            .map_err(|_| Error::config("base_url", "cannot change port"))?;
        Ok(u.to_string())
    }
}

/// Builds a provider's channel from the fixture/gateway settings of DESIGN.md section 5.
///
/// Every provider crate exports a `Factory` implementing this, so the testkit, the gateway and
/// the `omnichannel` command can build any channel from JSON settings.
pub trait ChannelFactory: Send + Sync {
    /// The provider (the `provider` of fixtures this factory serves).
    fn provider(&self) -> Provider;
    /// A channel from settings (`config` of a fixture, a gateway channel table as JSON).
    fn build(&self, config: &serde_json::Value, env: &ChannelEnv) -> Result<Arc<dyn Channel>>;
    /// Settings that make a working demo channel (test secrets, local URLs).
    fn demo_config(&self) -> serde_json::Value;

    /// Names of the sample events [`simulate`](ChannelFactory::simulate) can produce.
    fn sample_events(&self) -> Vec<&'static str> {
        Vec::new()
    }

    /// A correctly signed request of a sample event, as the provider would send it to `url`
    /// at `now`, signed with the secrets in `config` (the `omnichannel simulate` command).
    fn simulate(
        &self,
        config: &serde_json::Value,
        event: &str,
        url: &str,
        now: chrono::DateTime<chrono::Utc>,
    ) -> Result<WebhookRequest> {
        let _ = (config, url, now);
        Err(Error::invalid_input(
            "event",
            format!("no sample event `{event}` for this provider"),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rebase_keeps_path() {
        let env = ChannelEnv {
            origin_override: Some(url::Url::parse("http://127.0.0.1:4567").unwrap()),
            ..ChannelEnv::default()
        };
        assert_eq!(
            env.rebase("https://business-api.tiktok.com/open_api/v1.3/")
                .unwrap(),
            "http://127.0.0.1:4567/open_api/v1.3/"
        );
        assert_eq!(
            ChannelEnv::default()
                .rebase("https://api2.frontapp.com")
                .unwrap(),
            "https://api2.frontapp.com"
        );
    }

    #[test]
    fn default_rejections() {
        let r = default_reject_reply(&Error::from(VerifyError::SignatureMismatch));
        assert_eq!(r.status, 401);
        assert_eq!(r.body.as_ref(), br#"{"error":"signature_mismatch"}"#);
        let r = default_reject_reply(&Error::malformed("x"));
        assert_eq!(r.status, 400);
        let r = default_reject_reply(&Error::PayloadTooLarge { size: 2, limit: 1 });
        assert_eq!(r.status, 413);
    }
}
