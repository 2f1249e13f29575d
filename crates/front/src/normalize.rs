//! Typed channel requests → normalized events and the reply Front expects; normalized outbound
//! messages → Channel API sync requests.
//!
//! Message ids follow the WebhookDB convention by default ([`WebhookDbIds`], spec `front.md`
//! section 7): one event per `to` recipient, `external_id = "<message id>-<handle>"`,
//! `external_conversation_id = <handle>`, joined with commas in the reply when there are several
//! recipients; an auto-reply, which has no id, uses `"<id of message_replied_to>_autoreply"`.
//! A host changes this with its own [`IdConvention`].
//!
//! Normalized message events: direction `outbound` (a teammate or rule wrote to the contact),
//! `conversation_id` = the external conversation id, `recipient` = the contact (role
//! `contact`), `sender` = the teammate (role `agent`; an auto-reply without author gets
//! `front:autoreply` with role `bot`), `reply_to` = the id of `message_replied_to`, `text` =
//! the plain text (else the HTML body).

use std::sync::Arc;

use chrono::{DateTime, Utc};
use http::StatusCode;
use omnichannel_core::{
    Attachment, AttachmentKind, Direction, Error, Event, EventKind, InboundEvent, OutboundMessage,
    Party, Provider, Raw, Result, Role, WebhookReply,
};
use serde_json::{Value, json};
use sha2::Digest as _;

use crate::api::{FileUpload, SyncContact, SyncInbound, SyncMetadata, SyncOutbound};
use crate::config::FrontConfig;
use crate::model::{FrontMessage, FrontRequest, ImportMetadata, Recipient};

/// The ids a channel gives Front for a message it delivers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExternalIds {
    /// The partner's message id (unique; does not affect threading).
    pub external_id: String,
    /// The partner's conversation id (decides threading in Front).
    pub external_conversation_id: String,
}

/// How a channel names the messages Front asks it to deliver.
///
/// Called while replying to Front (at most 7 s): no network call. Any
/// `Fn(&str, &FrontMessage, &Recipient) -> ExternalIds` closure is an `IdConvention` (with the
/// default comma-joined reply).
pub trait IdConvention: Send + Sync {
    /// The ids of the copy of a message for one `to` recipient. `front_message_id` is the
    /// message's id, or the auto-reply id (see [`front_message_id`]).
    fn for_recipient(
        &self,
        front_message_id: &str,
        message: &FrontMessage,
        recipient: &Recipient,
    ) -> ExternalIds;

    /// The ids of the reply to Front, from the per-recipient ids (in recipient order, never
    /// empty). Default: each field joined with commas.
    fn reply(&self, per_recipient: &[ExternalIds]) -> ExternalIds {
        ExternalIds {
            external_id: join(per_recipient.iter().map(|i| i.external_id.as_str())),
            external_conversation_id: join(
                per_recipient
                    .iter()
                    .map(|i| i.external_conversation_id.as_str()),
            ),
        }
    }
}

fn join<'a>(it: impl Iterator<Item = &'a str>) -> String {
    it.collect::<Vec<_>>().join(",")
}

impl<F> IdConvention for F
where
    F: Fn(&str, &FrontMessage, &Recipient) -> ExternalIds + Send + Sync,
{
    fn for_recipient(
        &self,
        id: &str,
        message: &FrontMessage,
        recipient: &Recipient,
    ) -> ExternalIds {
        self(id, message, recipient)
    }
}

/// The default convention (WebhookDB's): `external_id = "<message id>-<handle>"`,
/// `external_conversation_id = <handle>`. Handles are used as Front sent them (WebhookDB also
/// normalizes phone numbers to E.164; a host wanting that plugs in its own convention).
#[derive(Debug, Clone, Copy, Default)]
pub struct WebhookDbIds;

impl IdConvention for WebhookDbIds {
    fn for_recipient(
        &self,
        id: &str,
        _message: &FrontMessage,
        recipient: &Recipient,
    ) -> ExternalIds {
        ExternalIds {
            external_id: format!("{id}-{}", recipient.handle),
            external_conversation_id: recipient.handle.clone(),
        }
    }
}

/// The id of a Front message: its `id`; for an auto-reply (no `id`),
/// `"<id of message_replied_to>_autoreply"`; failing both, `autoreply_<hash of the payload>` so
/// that redeliveries keep the id.
pub fn front_message_id(message: &FrontMessage, autoreply: bool) -> Result<String> {
    if let Some(id) = message.id.as_deref().filter(|s| !s.is_empty()) {
        return Ok(id.to_string());
    }
    if !autoreply {
        return Err(Error::malformed("message has no `id`"));
    }
    if let Some(r) = message.replied_to_id() {
        return Ok(format!("{r}_autoreply"));
    }
    let digest = sha2::Sha256::digest(serde_json::to_vec(message).unwrap_or_default());
    Ok(format!("autoreply_{}", &hex::encode(digest)[..16]))
}

/// One copy of a message for one `to` recipient.
#[derive(Debug, Clone)]
pub struct RecipientMessage {
    /// Whether Front sent it as `message_autoreply`.
    pub autoreply: bool,
    /// The message as Front sent it.
    pub message: Arc<FrontMessage>,
    /// The message id (see [`front_message_id`]).
    pub front_message_id: String,
    /// The recipient of this copy.
    pub recipient: Recipient,
    /// The ids given to Front for this copy.
    pub ids: ExternalIds,
    /// The configured channel id.
    pub channel_id: Option<String>,
    /// The request body as received.
    pub raw: Raw,
}

/// A typed channel event (one per normalized event).
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum FrontEvent {
    /// `authorization`: a channel instance was connected.
    ChannelAuthorized {
        /// The new channel id.
        channel_id: String,
        /// The request body.
        raw: Raw,
    },
    /// `message` / `message_autoreply`, one per `to` recipient.
    Message(RecipientMessage),
    /// `message_imported`: a sync call finished.
    MessageImported {
        /// The imported message.
        message: Arc<FrontMessage>,
        /// External conversation ids.
        metadata: Option<ImportMetadata>,
        /// The configured channel id.
        channel_id: Option<String>,
        /// The request body.
        raw: Raw,
    },
    /// `delete`: the channel instance was removed.
    ChannelRemoved {
        /// The channel id (from the body, else the configured one).
        channel_id: Option<String>,
        /// The path Front called (identifies per-channel webhook URLs when the body is empty).
        path: String,
        /// The request body (`null` when empty).
        raw: Raw,
    },
}

impl InboundEvent for FrontEvent {
    fn id(&self) -> String {
        match self {
            FrontEvent::ChannelAuthorized { channel_id, .. } => {
                format!("authorization:{channel_id}")
            }
            FrontEvent::Message(m) => m.ids.external_id.clone(),
            FrontEvent::MessageImported { message, raw, .. } => match &message.id {
                Some(id) => format!("message_imported:{id}"),
                None => format!("message_imported:{}", hash_raw(raw)),
            },
            FrontEvent::ChannelRemoved {
                channel_id, path, ..
            } => match channel_id {
                Some(c) => format!("delete:{c}"),
                None => format!("delete:{path}"),
            },
        }
    }

    fn kind(&self) -> EventKind {
        match self {
            FrontEvent::ChannelAuthorized { .. } => EventKind::ChannelAuthorized,
            FrontEvent::Message(_) => EventKind::Message,
            FrontEvent::MessageImported { .. } => EventKind::Other,
            FrontEvent::ChannelRemoved { .. } => EventKind::ChannelRemoved,
        }
    }

    fn normalize(&self) -> Event {
        let mut e = self.event_without_raw();
        e.raw = present(self.raw()).cloned();
        e
    }
}

/// A payload worth carrying: not the `null` of an empty body.
fn present(raw: &Raw) -> Option<&Raw> {
    (raw.as_value() != Some(&Value::Null)).then_some(raw)
}

impl FrontEvent {
    /// The normalized form, consuming the typed event (the payload is shared text: moving or
    /// sharing it copies nothing).
    pub fn into_event(self) -> Event {
        let mut e = self.event_without_raw();
        let raw = self.into_raw();
        if present(&raw).is_some() {
            e.raw = Some(raw);
        }
        e
    }

    /// The payload as received, shared by the events of one request.
    pub fn raw(&self) -> &Raw {
        match self {
            FrontEvent::ChannelAuthorized { raw, .. }
            | FrontEvent::MessageImported { raw, .. }
            | FrontEvent::ChannelRemoved { raw, .. } => raw,
            FrontEvent::Message(m) => &m.raw,
        }
    }

    fn into_raw(self) -> Raw {
        match self {
            FrontEvent::ChannelAuthorized { raw, .. }
            | FrontEvent::MessageImported { raw, .. }
            | FrontEvent::ChannelRemoved { raw, .. } => raw,
            FrontEvent::Message(m) => m.raw,
        }
    }

    /// Everything of the normalized form but `raw`.
    fn event_without_raw(&self) -> Event {
        let mut e = Event::new(Provider::Front, self.kind(), self.id());
        match self {
            FrontEvent::ChannelAuthorized { channel_id, .. } => {
                e.channel_id = Some(channel_id.clone());
            }
            FrontEvent::Message(m) => {
                let msg = &m.message;
                e.occurred_at = msg.created_at_utc();
                e.direction = Some(Direction::Outbound);
                e.channel_id = m.channel_id.clone();
                e.conversation_id = Some(m.ids.external_conversation_id.clone());
                e.sender = sender(msg, m.autoreply);
                let mut r = Party::new(m.recipient.handle.clone()).with_role(Role::Contact);
                r.name = m.recipient.name.clone().filter(|n| !n.is_empty());
                e.recipient = Some(r);
                e.text = msg.text.clone().or_else(|| msg.body.clone());
                e.attachments = attachments(msg);
                e.reply_to = msg.replied_to_id().map(str::to_string);
            }
            FrontEvent::MessageImported {
                message,
                metadata,
                channel_id,
                ..
            } => {
                e.occurred_at = message.created_at_utc();
                e.channel_id = channel_id.clone();
                e.conversation_id = metadata
                    .as_ref()
                    .and_then(|m| m.external_conversation_id.clone());
                e.direction = message.is_inbound.map(|i| {
                    if i {
                        Direction::Inbound
                    } else {
                        Direction::Outbound
                    }
                });
            }
            FrontEvent::ChannelRemoved { channel_id, .. } => {
                e.channel_id = channel_id.clone();
            }
        }
        e
    }
}

/// The first 16 hex digits of the SHA-256 of the payload's compact JSON (keys sorted), the
/// same whether it was kept as text or as a value.
fn hash_raw(raw: &Raw) -> String {
    let v = raw.to_value().unwrap_or(Value::Null);
    let digest = sha2::Sha256::digest(serde_json::to_vec(&v).unwrap_or_default());
    hex::encode(digest)[..16].to_string()
}

fn sender(msg: &FrontMessage, autoreply: bool) -> Option<Party> {
    let author = msg.author.as_ref();
    let id = author.and_then(|a| {
        a.id.clone()
            .or_else(|| a.email.clone())
            .or_else(|| a.username.clone())
    });
    match id {
        Some(id) => {
            let mut p = Party::new(id).with_role(Role::Agent);
            p.name = author.and_then(|a| a.display_name());
            Some(p)
        }
        None if autoreply => Some(Party::new("front:autoreply").with_role(Role::Bot)),
        None => None,
    }
}

fn attachments(msg: &FrontMessage) -> Vec<Attachment> {
    msg.attachments
        .iter()
        .map(|a| {
            let mime = a.content_type.clone().filter(|c| !c.is_empty());
            let mut out = Attachment::new(
                mime.as_deref()
                    .map(AttachmentKind::from_mime)
                    .unwrap_or(AttachmentKind::File),
            );
            out.id = a.id.clone();
            out.url = a.url.clone();
            out.mime_type = mime;
            out.name = a.filename.clone();
            out.size = a.size;
            out
        })
        .collect()
}

/// The typed events of a request and the reply Front expects.
pub(crate) fn handle(
    config: &FrontConfig,
    request: FrontRequest,
    raw: Raw,
    path: &str,
) -> Result<(Vec<FrontEvent>, WebhookReply)> {
    match request {
        FrontRequest::Authorization { channel_id } => {
            let mut body = json!({"type": "success"});
            if let Some(url) = config.webhook_url_for(&channel_id) {
                body["webhook_url"] = Value::String(url);
            }
            Ok((
                vec![FrontEvent::ChannelAuthorized { channel_id, raw }],
                WebhookReply::json(StatusCode::OK, &body),
            ))
        }
        FrontRequest::Message(m) => message_events(config, m, false, raw),
        FrontRequest::MessageAutoreply(m) => message_events(config, m, true, raw),
        FrontRequest::MessageImported { message, metadata } => {
            check_attachments(config, &message)?;
            Ok((
                vec![FrontEvent::MessageImported {
                    message: Arc::new(message),
                    metadata,
                    channel_id: config.channel_id.clone(),
                    raw,
                }],
                WebhookReply::json(StatusCode::OK, &json!({})),
            ))
        }
        FrontRequest::Delete { channel_id } => Ok((
            vec![FrontEvent::ChannelRemoved {
                channel_id: channel_id.or_else(|| config.channel_id.clone()),
                path: path.to_string(),
                raw,
            }],
            WebhookReply::json(StatusCode::OK, &json!({})),
        )),
    }
}

fn check_attachments(config: &FrontConfig, m: &FrontMessage) -> Result<()> {
    if m.attachments.len() > config.max_attachments {
        return Err(Error::malformed(format!(
            "{} attachments exceed the limit of {} (setting max_attachments)",
            m.attachments.len(),
            config.max_attachments
        )));
    }
    Ok(())
}

fn message_events(
    config: &FrontConfig,
    message: FrontMessage,
    autoreply: bool,
    raw: Raw,
) -> Result<(Vec<FrontEvent>, WebhookReply)> {
    check_attachments(config, &message)?;
    let id = front_message_id(&message, autoreply)?;
    let count = message.to_recipients().count();
    if count == 0 {
        return Err(Error::malformed("message has no recipient with role `to`"));
    }
    if count > config.max_recipients {
        return Err(Error::malformed(format!(
            "{count} `to` recipients exceed the limit of {} (setting max_recipients)",
            config.max_recipients
        )));
    }
    let message = Arc::new(message);
    let mut events = Vec::with_capacity(count);
    let mut ids = Vec::with_capacity(count);
    let mut seen = std::collections::HashSet::with_capacity(count);
    // A handle listed twice is delivered once (its ids would collide).
    for r in message
        .to_recipients()
        .filter(|r| seen.insert(r.handle.as_str()))
    {
        if r.handle.is_empty() {
            return Err(Error::malformed("a `to` recipient has an empty handle"));
        }
        let i = config.ids.for_recipient(&id, &message, r);
        ids.push(i.clone());
        events.push(FrontEvent::Message(RecipientMessage {
            autoreply,
            message: message.clone(),
            front_message_id: id.clone(),
            recipient: r.clone(),
            ids: i,
            channel_id: config.channel_id.clone(),
            raw: raw.clone(),
        }));
    }
    let reply = config.ids.reply(&ids);
    Ok((
        events,
        WebhookReply::json(
            StatusCode::OK,
            &json!({
                "type": "success",
                "external_id": reply.external_id,
                "external_conversation_id": reply.external_conversation_id,
            }),
        ),
    ))
}

/// The reply to a refused request, in Front's shape: `{"type":"bad_request","message":...}`,
/// 401 for verification failures, 413 for oversized bodies, 400 otherwise.
pub fn reject_reply(err: &Error) -> WebhookReply {
    use omnichannel_core::VerifyError;
    let status = match err {
        Error::Verify(VerifyError::PayloadTooLarge { .. }) | Error::PayloadTooLarge { .. } => {
            StatusCode::PAYLOAD_TOO_LARGE
        }
        Error::Verify(VerifyError::Malformed { .. }) => StatusCode::BAD_REQUEST,
        Error::Verify(_) => StatusCode::UNAUTHORIZED,
        _ => StatusCode::BAD_REQUEST,
    };
    let message = match err {
        Error::MalformedPayload { reason } => reason.clone(),
        e => e.to_string(),
    };
    WebhookReply::json(status, &json!({"type": "bad_request", "message": message}))
}

/// The body of the notice WebhookDB imports into Front when an SMS fails:
/// `SMS failed to send. Error (<code|->): <message|->` then a newline and the first 26
/// characters of the failed message's body.
pub fn failure_notice(code: Option<&str>, message: Option<&str>, body: &str) -> String {
    let code = code.filter(|c| !c.is_empty()).unwrap_or("-");
    let message = message.filter(|m| !m.is_empty()).unwrap_or("-");
    let excerpt: String = body.chars().take(26).collect();
    format!("SMS failed to send. Error ({code}): {message}\n{excerpt}")
}

/// Which Channel API import a send makes (outbound message metadata `sync`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SyncKind {
    /// A message the contact wrote (`POST .../inbound_messages`), the default.
    Inbound,
    /// A message the business sent outside Front (`POST .../outbound_messages`).
    Outbound,
}

/// A sync request built from a normalized outbound message.
#[derive(Debug, Clone)]
pub enum SyncRequest {
    /// Sync inbound.
    Inbound(SyncInbound),
    /// Sync outbound.
    Outbound(SyncOutbound),
}

fn meta_str<'a>(msg: &'a dyn OutboundMessage, key: &str) -> Result<Option<&'a str>> {
    match msg.metadata(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.as_str())),
        Some(_) => Err(Error::invalid_input(
            format!("metadata.{key}"),
            "must be a string",
        )),
    }
}

/// The channel id a message goes to: metadata `channel_id`, else the configured one.
pub fn target_channel(config: &FrontConfig, msg: &dyn OutboundMessage) -> Result<String> {
    meta_str(msg, "channel_id")?
        .map(str::to_string)
        .or_else(|| config.channel_id.clone())
        .filter(|c| !c.is_empty())
        .ok_or_else(|| {
            Error::invalid_input(
                "channel_id",
                "no channel id: set the `channel_id` setting or metadata.channel_id",
            )
        })
}

/// Maps a normalized message to a sync request. Metadata keys (all optional): `sync`
/// (`inbound` default, or `outbound`), `external_id` (else the idempotency key; one of them is
/// required), `delivered_at` (Unix seconds), `subject`, `sender_name` and `author_id` (sync
/// outbound), `channel_id`. `conversation_id` is the external conversation id (default: the
/// contact's id); `reply_to` becomes `referenced_message_external_id`.
pub fn to_sync_request(msg: &dyn OutboundMessage, files: Vec<FileUpload>) -> Result<SyncRequest> {
    let kind = match meta_str(msg, "sync")? {
        None | Some("inbound") => SyncKind::Inbound,
        Some("outbound") => SyncKind::Outbound,
        Some(_) => {
            return Err(Error::invalid_input(
                "metadata.sync",
                "must be `inbound` or `outbound`",
            ));
        }
    };
    let external_id = meta_str(msg, "external_id")?
        .or(msg.idempotency_key())
        .filter(|s| !s.is_empty())
        .ok_or_else(|| {
            Error::invalid_input(
                "external_id",
                "Front needs a unique external id: give metadata.external_id or an idempotency_key",
            )
        })?
        .to_string();
    let contact = match kind {
        SyncKind::Inbound => msg.sender().ok_or_else(|| {
            Error::invalid_input(
                "sender",
                "sync inbound needs the contact who wrote the message in `sender`",
            )
        })?,
        SyncKind::Outbound => msg.recipient().ok_or_else(|| {
            Error::invalid_input(
                "recipient",
                "sync outbound needs the contact in `recipient`",
            )
        })?,
    };
    if contact.id.is_empty() {
        let field = match kind {
            SyncKind::Inbound => "sender.id",
            SyncKind::Outbound => "recipient.id",
        };
        return Err(Error::invalid_input(field, "must not be empty"));
    }
    let conversation = msg
        .conversation_id()
        .filter(|c| !c.is_empty())
        .unwrap_or(&contact.id)
        .to_string();
    for (field, v) in [
        ("external_id", &external_id),
        ("conversation_id", &conversation),
    ] {
        if v.chars().count() > 200 {
            return Err(Error::invalid_input(
                field,
                "Front takes at most 200 characters",
            ));
        }
    }
    let delivered_at = match msg.metadata("delivered_at") {
        None | Some(Value::Null) => None,
        Some(v) => Some(v.as_i64().ok_or_else(|| {
            Error::invalid_input("metadata.delivered_at", "must be Unix seconds (an integer)")
        })?),
    };
    let metadata = SyncMetadata {
        external_id,
        external_conversation_id: conversation,
        referenced_message_external_id: msg.reply_to().map(str::to_string),
    };
    let contact = SyncContact {
        handle: contact.id.clone(),
        name: contact.name.clone(),
        email: None,
    };
    let body = msg.text().unwrap_or_default().to_string();
    let subject = meta_str(msg, "subject")?.map(str::to_string);
    Ok(match kind {
        SyncKind::Inbound => SyncRequest::Inbound(SyncInbound {
            sender: contact,
            subject,
            body,
            metadata,
            delivered_at,
            attachments: files,
        }),
        SyncKind::Outbound => SyncRequest::Outbound(SyncOutbound {
            to: vec![contact],
            sender_name: meta_str(msg, "sender_name")?.map(str::to_string),
            subject,
            author_id: meta_str(msg, "author_id")?.map(str::to_string),
            body,
            metadata,
            delivered_at,
            attachments: files,
        }),
    })
}

/// The sync inbound request WebhookDB makes when an SMS to a contact fails: the notice body from
/// [`failure_notice`], sender = the contact, `external_id` = the failed message's id,
/// `external_conversation_id` = the contact's handle, `delivered_at` = `now`.
pub fn failure_notice_request(
    contact_handle: &str,
    failed_message_id: &str,
    code: Option<&str>,
    message: Option<&str>,
    body: &str,
    now: DateTime<Utc>,
) -> SyncInbound {
    SyncInbound {
        sender: SyncContact {
            handle: contact_handle.to_string(),
            name: None,
            email: None,
        },
        subject: None,
        body: failure_notice(code, message, body),
        metadata: SyncMetadata {
            external_id: failed_message_id.to_string(),
            external_conversation_id: contact_handle.to_string(),
            referenced_message_external_id: None,
        },
        delivered_at: Some(now.timestamp()),
        attachments: Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;
    use omnichannel_core::{Contact, Message};

    #[test]
    fn failure_notice_format() {
        // Spec `front.md` section 7: "SMS failed to send. Error (30008): Unknown error\nbody".
        assert_eq!(
            failure_notice(Some("30008"), Some("Unknown error"), "body"),
            "SMS failed to send. Error (30008): Unknown error\nbody"
        );
        assert_eq!(
            failure_notice(None, None, "abcdefghijklmnopqrstuvwxyz0123"),
            "SMS failed to send. Error (-): -\nabcdefghijklmnopqrstuvwxyz"
        );
        assert_eq!(
            failure_notice(Some(""), None, &"é".repeat(30)),
            format!("SMS failed to send. Error (-): -\n{}", "é".repeat(26))
        );
        let r = failure_notice_request(
            "+15550001111",
            "SM1",
            Some("30008"),
            Some("Unknown error"),
            "body",
            DateTime::from_timestamp(1_700_000_000, 0).unwrap(),
        );
        assert_eq!(r.metadata.external_conversation_id, "+15550001111");
        assert_eq!(r.delivered_at, Some(1_700_000_000));
    }

    fn cfg() -> crate::config::FrontConfigBuilder {
        FrontConfig::builder(
            "uid",
            omnichannel_core::SigningKeys::new("test-secret-not-real"),
        )
    }

    fn two_recipients() -> FrontRequest {
        FrontRequest::Message(
            serde_json::from_value(json!({
                "id": "msg_1",
                "recipients": [{"handle": "+1", "role": "to"}, {"handle": "+2", "role": "to"},
                               {"handle": "+1", "role": "to"}, {"handle": "me", "role": "from"}]
            }))
            .unwrap(),
        )
    }

    #[test]
    fn authorization_reply_with_and_without_url() {
        let auth = || FrontRequest::Authorization {
            channel_id: "cha_1".into(),
        };
        let (_, reply) = handle(&cfg().build().unwrap(), auth(), Value::Null.into(), "/").unwrap();
        assert_eq!(reply.body.as_ref(), br#"{"type":"success"}"#);
        let c = cfg()
            .webhook_url_with(|id: &str| Some(format!("https://h.test/front/{id}")))
            .build()
            .unwrap();
        let (events, reply) = handle(&c, auth(), Value::Null.into(), "/").unwrap();
        let body: Value = serde_json::from_slice(&reply.body).unwrap();
        assert_eq!(
            body,
            json!({"type": "success", "webhook_url": "https://h.test/front/cha_1"})
        );
        assert_eq!(events[0].id(), "authorization:cha_1");
    }

    #[test]
    fn per_recipient_split_dedup_and_custom_convention() {
        let (events, reply) = handle(
            &cfg().build().unwrap(),
            two_recipients(),
            Value::Null.into(),
            "/",
        )
        .unwrap();
        assert_eq!(events.len(), 2);
        let body: Value = serde_json::from_slice(&reply.body).unwrap();
        assert_eq!(body["external_id"], "msg_1-+1,msg_1-+2");
        assert_eq!(body["external_conversation_id"], "+1,+2");
        // A host convention: one thread per message.
        let c = cfg()
            .id_convention(|id: &str, _m: &FrontMessage, r: &Recipient| ExternalIds {
                external_id: format!("{id}:{}", r.handle),
                external_conversation_id: format!("thread-{id}"),
            })
            .build()
            .unwrap();
        let (events, reply) = handle(&c, two_recipients(), Value::Null.into(), "/").unwrap();
        assert_eq!(events[1].id(), "msg_1:+2");
        assert_eq!(
            events[1].normalize().conversation_id.as_deref(),
            Some("thread-msg_1")
        );
        let body: Value = serde_json::from_slice(&reply.body).unwrap();
        assert_eq!(
            body["external_conversation_id"],
            "thread-msg_1,thread-msg_1"
        );
        // The recipient bound.
        let small = cfg().max_recipients(1).build().unwrap();
        let e = handle(&small, two_recipients(), Value::Null.into(), "/").unwrap_err();
        assert_eq!(e.kind(), "malformed_payload");
    }

    #[test]
    fn into_event_is_normalize_and_shares_the_payload() {
        let raw = json!({"type": "message", "payload": {"id": "msg_1"}});
        let (events, _) = handle(
            &cfg().build().unwrap(),
            two_recipients(),
            raw.clone().into(),
            "/",
        )
        .unwrap();
        let by_ref: Vec<Event> = events.iter().map(InboundEvent::normalize).collect();
        let moved: Vec<Event> = events.into_iter().map(FrontEvent::into_event).collect();
        assert_eq!(moved, by_ref);
        assert_eq!(
            moved[0].raw.as_ref(),
            Some(&omnichannel_core::Raw::from(raw.clone()))
        );
        assert_eq!(
            moved[1].raw.as_ref(),
            Some(&omnichannel_core::Raw::from(raw.clone()))
        );
        // A delete without a body has no `raw`, either way.
        let (events, _) = handle(
            &cfg().build().unwrap(),
            FrontRequest::Delete { channel_id: None },
            Value::Null.into(),
            "/x",
        )
        .unwrap();
        assert_eq!(events[0].normalize().raw, None);
        assert_eq!(events.into_iter().next().unwrap().into_event().raw, None);
    }

    #[test]
    fn autoreply_ids() {
        let m: FrontMessage = serde_json::from_value(json!({
            "_links": {"related": {"message_replied_to": "https://api2.frontapp.com/messages/msg_1ab23cd4"}}
        }))
        .unwrap();
        assert_eq!(
            front_message_id(&m, true).unwrap(),
            "msg_1ab23cd4_autoreply"
        );
        assert_eq!(
            front_message_id(&m, false).unwrap_err().kind(),
            "malformed_payload"
        );
        let bare = FrontMessage::default();
        let a = front_message_id(&bare, true).unwrap();
        assert_eq!(a, front_message_id(&bare, true).unwrap());
        assert!(a.starts_with("autoreply_"));
    }

    #[test]
    fn outbound_mapping_errors() {
        let m = Message::text("hi").sender(Contact::new("+1")).build();
        assert_eq!(
            to_sync_request(&m, vec![]).unwrap_err().kind(),
            "invalid_input"
        );
        let m = Message::text("hi").idempotency_key("k").build();
        assert_eq!(
            to_sync_request(&m, vec![]).unwrap_err().kind(),
            "invalid_input"
        );
        let m = Message::text("hi")
            .idempotency_key("k")
            .sender(Contact::new("+1"))
            .metadata("sync", json!("sideways"))
            .build();
        assert_eq!(
            to_sync_request(&m, vec![]).unwrap_err().kind(),
            "invalid_input"
        );
        let m = Message::text("hi")
            .idempotency_key("k")
            .sender(Contact::new("+1"))
            .build();
        match to_sync_request(&m, vec![]).unwrap() {
            SyncRequest::Inbound(s) => {
                assert_eq!(s.metadata.external_conversation_id, "+1");
                assert_eq!(s.metadata.external_id, "k");
            }
            SyncRequest::Outbound(_) => panic!("expected inbound"),
        }
    }
}
