//! Typed SignalWire events → normalized [`Event`]s, and normalized outbound messages →
//! [`CreateMessage`] requests.
//!
//! Inbound messages: `id` = `MessageSid`; `channel_id` = our number (`To`);
//! `conversation_id` = the contact's number (`From`), so a reply can name the conversation;
//! attachments in `MediaUrl{N}` index order (`MediaUrl2` before `MediaUrl10`).
//!
//! Status callbacks: `id` = `MessageSid:MessageStatus` (each transition is its own event, and
//! a redelivery has the same id); the state mapping:
//!
//! | `MessageStatus` | state |
//! | --- | --- |
//! | `queued`, `initiated`, `accepted`, `scheduled`, `sending` | `accepted` |
//! | `sent` | `sent` (MMS never gets further: no delivery receipts) |
//! | `delivered` | `delivered` |
//! | `read` | `read` |
//! | `undelivered`, `failed`, `canceled` | `failed`, with `ErrorCode` |
//! | `receiving`, `received`, anything else | an `other` event with the raw payload |
//!
//! Outbound metadata keys: `from` (sender, overrides the channel's `from`),
//! `messaging_service_sid` (number group, instead of a sender), `status_callback` (overrides
//! the channel's default).

use omnichannel_core::{
    Attachment, AttachmentKind, DeliveryState, Direction, Error, Event, EventKind, InboundEvent,
    OutboundMessage, Party, Provider, Raw, Result, Role, SendStatus, Status,
};

use crate::api::CreateMessage;
use crate::config::SignalwireConfig;
use crate::model::{InboundMessage, MessageStatus, SignalwireEvent, StatusCallback};
use crate::phone::{self, PhoneError, Region};

/// The normalized state of a status, `None` for statuses that are not about delivery.
pub fn delivery_state(status: &MessageStatus) -> Option<DeliveryState> {
    Some(match status {
        MessageStatus::Queued
        | MessageStatus::Initiated
        | MessageStatus::Accepted
        | MessageStatus::Scheduled
        | MessageStatus::Sending => DeliveryState::Accepted,
        MessageStatus::Sent => DeliveryState::Sent,
        MessageStatus::Delivered => DeliveryState::Delivered,
        MessageStatus::Read => DeliveryState::Read,
        MessageStatus::Undelivered | MessageStatus::Failed | MessageStatus::Canceled => {
            DeliveryState::Failed
        }
        MessageStatus::Receiving | MessageStatus::Received | MessageStatus::Other(_) => {
            return None;
        }
    })
}

fn message_event(m: &InboundMessage) -> Event {
    let mut e = Event::new(Provider::Signalwire, EventKind::Message, &m.message_sid);
    e.direction = Some(Direction::Inbound);
    e.channel_id = Some(m.to.clone());
    e.conversation_id = Some(m.from.clone());
    e.sender = Some(Party::new(&m.from).with_role(Role::Contact));
    e.recipient = Some(Party::new(&m.to));
    e.text = m.body.clone().filter(|b| !b.is_empty());
    e.attachments = m
        .media
        .iter()
        .map(|md| {
            let kind = md
                .content_type
                .as_deref()
                .map(AttachmentKind::from_mime)
                .unwrap_or(AttachmentKind::File);
            let mut a = Attachment::new(kind);
            a.url = Some(md.url.clone());
            a.mime_type = md.content_type.clone();
            a
        })
        .collect();
    e
}

fn status_event(s: &StatusCallback) -> Event {
    let id = format!("{}:{}", s.message_sid, s.status_raw);
    let Some(state) = delivery_state(&s.status) else {
        let mut e = Event::new(Provider::Signalwire, EventKind::Other, id);
        e.channel_id = s.to.clone();
        return e;
    };
    let mut e = Event::new(Provider::Signalwire, EventKind::Status, id);
    e.direction = Some(Direction::Outbound);
    e.channel_id = s.from.clone();
    e.conversation_id = s.to.clone();
    e.sender = s.from.as_ref().map(Party::new);
    e.recipient =
        s.to.as_ref()
            .map(|t| Party::new(t).with_role(Role::Contact));
    let mut st = Status::new(state);
    st.message_id = Some(s.message_sid.clone());
    st.error_code = s.error_code.clone();
    st.error_message = s.error_message.clone();
    e.status = Some(st);
    e
}

/// Everything of the normalized form but `raw`.
fn event_without_raw(ev: &SignalwireEvent) -> Event {
    match ev {
        SignalwireEvent::Message(m) => message_event(m),
        SignalwireEvent::Status(s) => status_event(s),
    }
}

impl InboundEvent for SignalwireEvent {
    fn id(&self) -> String {
        match self {
            SignalwireEvent::Message(m) => m.message_sid.clone(),
            SignalwireEvent::Status(s) => format!("{}:{}", s.message_sid, s.status_raw),
        }
    }

    fn kind(&self) -> EventKind {
        match self {
            SignalwireEvent::Message(_) => EventKind::Message,
            SignalwireEvent::Status(s) => match delivery_state(&s.status) {
                Some(_) => EventKind::Status,
                None => EventKind::Other,
            },
        }
    }

    fn normalize(&self) -> Event {
        let mut e = event_without_raw(self);
        let params = match self {
            SignalwireEvent::Message(m) => &m.params,
            SignalwireEvent::Status(s) => &s.params,
        };
        e.raw = Some(Raw::deferred(params.clone()));
        e
    }
}

/// [`to_event`] of an event the caller no longer needs: a message's text moves into the event
/// instead of being copied.
pub fn into_event(ev: SignalwireEvent, raw: Raw) -> Event {
    let mut e = match ev {
        SignalwireEvent::Message(mut m) => {
            let body = m.body.take();
            let mut e = message_event(&m);
            e.text = body.filter(|b| !b.is_empty());
            e
        }
        status @ SignalwireEvent::Status(_) => event_without_raw(&status),
    };
    e.raw = Some(raw);
    e
}

/// The normalized event, with `raw` replaced by the payload as received (the JSON body of a
/// JSON webhook).
pub fn to_event(ev: &SignalwireEvent, raw: Raw) -> Event {
    // Not `normalize`: it would build `raw` from the parameters only to drop it.
    let mut e = event_without_raw(ev);
    e.raw = Some(raw);
    e
}

/// How far a created message got, from its `status`.
pub fn send_status(status: Option<&str>) -> SendStatus {
    match status.map(str::to_ascii_lowercase).as_deref() {
        Some("sending" | "sent" | "delivered" | "read") => SendStatus::Sent,
        _ => SendStatus::Accepted,
    }
}

fn phone_error(field: &str, e: PhoneError) -> Error {
    Error::invalid_input(field, e.to_string())
}

/// A recipient number in E.164, read in `region` when it has no `+`.
pub fn recipient_number(raw: &str, region: Option<Region>) -> Result<String> {
    phone::to_e164(raw, region).map_err(|e| phone_error("recipient.id", e))
}

/// A sender: a short code (3 to 8 digits) as is, anything else normalized to E.164.
pub fn sender_number(raw: &str, region: Option<Region>) -> Result<String> {
    let t = raw.trim();
    if (3..=8).contains(&t.len()) && t.bytes().all(|b| b.is_ascii_digit()) {
        return Ok(t.to_string());
    }
    phone::to_e164(t, region).map_err(|e| phone_error("from", e))
}

fn meta_str<'a>(msg: &'a dyn OutboundMessage, key: &str) -> Result<Option<&'a str>> {
    match msg.metadata(key) {
        None | Some(serde_json::Value::Null) => Ok(None),
        Some(serde_json::Value::String(s)) if !s.is_empty() => Ok(Some(s)),
        Some(_) => Err(Error::invalid_input(
            format!("metadata.{key}"),
            "must be a non-empty string",
        )),
    }
}

/// The request for a message (after the capability check): numbers normalized, media URLs
/// checked, defaults of the channel applied.
pub fn to_create_message(
    msg: &dyn OutboundMessage,
    cfg: &SignalwireConfig,
) -> Result<CreateMessage> {
    let to_raw = msg
        .recipient()
        .map(|c| c.id.as_str())
        .filter(|s| !s.trim().is_empty())
        .or(msg.conversation_id().filter(|s| !s.trim().is_empty()))
        .ok_or_else(|| {
            Error::invalid_input(
                "recipient.id",
                "a phone number is required (recipient.id or conversation_id)",
            )
        })?;
    let to = recipient_number(to_raw, cfg.default_region)?;
    let messaging_service_sid = meta_str(msg, "messaging_service_sid")?.map(str::to_string);
    let from = match meta_str(msg, "from")?.or(cfg.from.as_deref()) {
        Some(f) => Some(sender_number(f, cfg.default_region)?),
        None if messaging_service_sid.is_some() => None,
        None => {
            return Err(Error::invalid_input(
                "from",
                "no sender: set the channel's `from`, or metadata `from` or `messaging_service_sid`",
            ));
        }
    };
    let mut media_urls = Vec::with_capacity(msg.attachments().len());
    for a in msg.attachments() {
        let url = a.url.as_deref().ok_or_else(|| {
            Error::invalid_input(
                "attachments.url",
                "SignalWire fetches media by URL; inline data cannot be sent",
            )
        })?;
        let ok = url::Url::parse(url)
            .ok()
            .is_some_and(|u| matches!(u.scheme(), "http" | "https") && u.host_str().is_some());
        if !ok {
            return Err(Error::invalid_input(
                "attachments.url",
                "must be an absolute http(s) URL",
            ));
        }
        media_urls.push(url.to_string());
    }
    let status_callback = meta_str(msg, "status_callback")?
        .map(str::to_string)
        .or_else(|| cfg.status_callback.clone());
    Ok(CreateMessage {
        to,
        from,
        messaging_service_sid,
        body: msg.text().filter(|t| !t.is_empty()).map(str::to_string),
        media_urls,
        status_callback,
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;
    use crate::model::Params;

    fn params(pairs: &[(&str, &str)]) -> Params {
        Params::from_pairs(pairs)
    }

    #[test]
    fn normalize_carries_the_parameters_and_to_event_the_payload_given() {
        let message = params(&[
            ("MessageSid", "SM1"),
            ("From", "+15557654321"),
            ("To", "+15551234567"),
            ("Body", "hi"),
            ("NumMedia", "0"),
        ]);
        let status = params(&[
            ("MessageSid", "SM1"),
            ("MessageStatus", "delivered"),
            ("To", "+15557654321"),
        ]);
        for p in [message, status] {
            let raw = p.to_json();
            let ev = SignalwireEvent::from_params(p, 10).unwrap();
            let by_ref = ev.normalize();
            assert_eq!(
                by_ref.raw.as_ref(),
                Some(&omnichannel_core::Raw::from(raw.clone()))
            );
            // The payload as received wins (a JSON webhook's own body), the rest is the same.
            let given = serde_json::json!({"as": "received"});
            let mut e = to_event(&ev, given.clone().into());
            assert_eq!(
                e.raw.as_ref(),
                Some(&omnichannel_core::Raw::from(given.clone()))
            );
            e.raw = by_ref.raw.clone();
            assert_eq!(e, by_ref);
            let mut moved = into_event(ev, given.clone().into());
            assert_eq!(
                moved.raw.as_ref(),
                Some(&omnichannel_core::Raw::from(given))
            );
            moved.raw = by_ref.raw.clone();
            assert_eq!(moved, by_ref);
        }
    }
}
