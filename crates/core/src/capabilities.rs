//! What a channel can carry, checked before any network call.

use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::event::AttachmentKind;
use crate::message::OutboundMessage;

/// Why a message was refused by a channel's [`Capabilities`]; each rule has its own variant.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Unsupported {
    /// The message has neither text nor attachments.
    #[error("the message has no text and no attachment")]
    Empty,
    /// The channel carries no text.
    #[error("the channel does not carry text")]
    TextNotSupported,
    /// The text is longer than the channel allows.
    #[error("text of {chars} characters exceeds the limit of {max}")]
    TextTooLong {
        /// Characters (Unicode scalar values) in the text.
        chars: usize,
        /// The channel's limit.
        max: usize,
    },
    /// The channel cannot send text and attachments in one message.
    #[error("the channel cannot send text and attachments in one message")]
    TextWithAttachment,
    /// More attachments than the channel allows in one message.
    #[error("{count} attachments exceed the limit of {max} per message")]
    TooManyAttachments {
        /// Attachments in the message.
        count: usize,
        /// The channel's limit.
        max: usize,
    },
    /// The channel cannot carry this kind of attachment.
    #[error("the channel cannot send attachments of kind `{kind}`")]
    AttachmentKindNotSupported {
        /// The refused kind.
        kind: AttachmentKind,
    },
    /// The reply window since the contact's last message has closed.
    #[error("the reply window of {window_secs} s closed {late_secs} s ago")]
    OutsideReplyWindow {
        /// The channel's window in seconds.
        window_secs: u64,
        /// How long ago it closed, in seconds.
        late_secs: u64,
    },
    /// The business may not start a conversation on this channel; answer one the contact began.
    #[error("the business may not start a conversation on this channel")]
    BusinessMayNotInitiate,
}

/// What a channel can carry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Capabilities {
    /// Carries text.
    pub text: bool,
    /// Maximum text length in characters (Unicode scalar values).
    pub max_text_chars: Option<usize>,
    /// Attachment kinds it carries (empty: none).
    pub attachment_kinds: Vec<AttachmentKind>,
    /// Maximum attachments per message.
    pub max_attachments: usize,
    /// Text and attachments may go in one message.
    pub text_with_attachments: bool,
    /// Maximum size of one attachment in bytes.
    pub max_attachment_bytes: Option<u64>,
    /// The business may start a conversation.
    pub business_initiated: bool,
    /// How long after the contact's last message the business may still reply.
    #[serde(with = "opt_secs", default)]
    pub reply_window: Option<Duration>,
}

mod opt_secs {
    use serde::{Deserialize, Deserializer, Serializer};
    use std::time::Duration;

    pub fn serialize<S: Serializer>(v: &Option<Duration>, s: S) -> Result<S::Ok, S::Error> {
        match v {
            Some(d) => s.serialize_some(&d.as_secs()),
            None => s.serialize_none(),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Duration>, D::Error> {
        Ok(Option::<u64>::deserialize(d)?.map(Duration::from_secs))
    }
}

impl Default for Capabilities {
    /// Text only, no limits, business may initiate.
    fn default() -> Self {
        Capabilities {
            text: true,
            max_text_chars: None,
            attachment_kinds: Vec::new(),
            max_attachments: 0,
            text_with_attachments: false,
            max_attachment_bytes: None,
            business_initiated: true,
            reply_window: None,
        }
    }
}

impl Capabilities {
    /// Text only, no limits.
    pub fn text_only() -> Self {
        Self::default()
    }
    /// Sets the text limit.
    pub fn with_max_text_chars(mut self, max: usize) -> Self {
        self.max_text_chars = Some(max);
        self
    }
    /// Sets the attachment kinds and the per-message maximum.
    pub fn with_attachments(mut self, kinds: &[AttachmentKind], max: usize) -> Self {
        self.attachment_kinds = kinds.to_vec();
        self.max_attachments = max;
        self
    }
    /// Allows text with attachments in one message.
    pub fn with_text_and_attachments(mut self, allowed: bool) -> Self {
        self.text_with_attachments = allowed;
        self
    }
    /// Sets the attachment size limit.
    pub fn with_max_attachment_bytes(mut self, max: u64) -> Self {
        self.max_attachment_bytes = Some(max);
        self
    }
    /// Sets whether the business may start conversations.
    pub fn with_business_initiated(mut self, allowed: bool) -> Self {
        self.business_initiated = allowed;
        self
    }
    /// Sets the reply window.
    pub fn with_reply_window(mut self, window: Duration) -> Self {
        self.reply_window = Some(window);
        self
    }
    /// Disables text (attachment-only channels).
    pub fn without_text(mut self) -> Self {
        self.text = false;
        self
    }

    /// Checks a message against every rule, using the system clock for the reply window.
    pub fn check(&self, msg: &dyn OutboundMessage) -> Result<(), Unsupported> {
        self.check_at(msg, Utc::now())
    }

    /// Checks a message against every rule at `now`.
    ///
    /// The reply window is checked when the message says when the contact last wrote
    /// ([`OutboundMessage::last_inbound_at`]); a message with neither a conversation nor a
    /// last-inbound time starts a conversation, which channels without business initiation refuse.
    pub fn check_at(
        &self,
        msg: &dyn OutboundMessage,
        now: DateTime<Utc>,
    ) -> Result<(), Unsupported> {
        let text = msg.text().filter(|t| !t.is_empty());
        let attachments = msg.attachments();
        if text.is_none() && attachments.is_empty() {
            return Err(Unsupported::Empty);
        }
        if let Some(t) = text {
            if !self.text {
                return Err(Unsupported::TextNotSupported);
            }
            if let Some(max) = self.max_text_chars {
                // Count without walking past the limit more than needed.
                let chars = t.chars().take(max + 1).count();
                if chars > max {
                    return Err(Unsupported::TextTooLong {
                        chars: t.chars().count(),
                        max,
                    });
                }
            }
        }
        if !attachments.is_empty() {
            if let Some(a) = attachments
                .iter()
                .find(|a| !self.attachment_kinds.contains(&a.kind))
            {
                return Err(Unsupported::AttachmentKindNotSupported { kind: a.kind });
            }
            if attachments.len() > self.max_attachments {
                return Err(Unsupported::TooManyAttachments {
                    count: attachments.len(),
                    max: self.max_attachments,
                });
            }
            if text.is_some() && !self.text_with_attachments {
                return Err(Unsupported::TextWithAttachment);
            }
        }
        if !self.business_initiated {
            match msg.last_inbound_at() {
                Some(last) => {
                    if let Some(window) = self.reply_window {
                        let closes = last
                            + chrono::Duration::from_std(window).unwrap_or(chrono::Duration::MAX);
                        if now > closes {
                            return Err(Unsupported::OutsideReplyWindow {
                                window_secs: window.as_secs(),
                                late_secs: (now - closes).num_seconds().max(0) as u64,
                            });
                        }
                    }
                }
                None if msg.conversation_id().is_none() => {
                    return Err(Unsupported::BusinessMayNotInitiate);
                }
                None => {}
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::message::{Contact, Message, OutboundAttachment};

    fn tiktok_like() -> Capabilities {
        Capabilities::text_only()
            .with_max_text_chars(10)
            .with_attachments(&[AttachmentKind::Image], 1)
            .with_business_initiated(false)
            .with_reply_window(Duration::from_secs(48 * 3600))
    }

    fn now() -> DateTime<Utc> {
        DateTime::parse_from_rfc3339("2025-01-03T00:00:00Z")
            .unwrap()
            .with_timezone(&Utc)
    }

    fn img() -> OutboundAttachment {
        OutboundAttachment::from_url(AttachmentKind::Image, "https://x.test/a.png")
    }

    #[test]
    fn every_rule_has_its_error() {
        let c = tiktok_like();
        let ok = Message::text("hello").conversation_id("c").build();
        assert_eq!(c.check_at(&ok, now()), Ok(()));
        // Exactly at the limit passes, one over fails; multi-byte characters count once.
        let at_limit = Message::text("éééééééééé").conversation_id("c").build();
        assert_eq!(c.check_at(&at_limit, now()), Ok(()));
        let long = Message::text("ééééééééééé").conversation_id("c").build();
        assert_eq!(
            c.check_at(&long, now()),
            Err(Unsupported::TextTooLong { chars: 11, max: 10 })
        );
        let empty = Message::builder().conversation_id("c").build();
        assert_eq!(c.check_at(&empty, now()), Err(Unsupported::Empty));
        let both = Message::text("hi")
            .attachment(img())
            .conversation_id("c")
            .build();
        assert_eq!(
            c.check_at(&both, now()),
            Err(Unsupported::TextWithAttachment)
        );
        let two = Message::builder()
            .attachment(img())
            .attachment(img())
            .conversation_id("c")
            .build();
        assert_eq!(
            c.check_at(&two, now()),
            Err(Unsupported::TooManyAttachments { count: 2, max: 1 })
        );
        let video = Message::builder()
            .attachment(OutboundAttachment::from_url(
                AttachmentKind::Video,
                "https://x.test/v",
            ))
            .conversation_id("c")
            .build();
        assert_eq!(
            c.check_at(&video, now()),
            Err(Unsupported::AttachmentKindNotSupported {
                kind: AttachmentKind::Video
            })
        );
        let late = Message::text("hi")
            .conversation_id("c")
            .last_inbound_at(now() - chrono::Duration::hours(49))
            .build();
        assert_eq!(
            c.check_at(&late, now()),
            Err(Unsupported::OutsideReplyWindow {
                window_secs: 48 * 3600,
                late_secs: 3600
            })
        );
        let in_time = Message::text("hi")
            .conversation_id("c")
            .last_inbound_at(now() - chrono::Duration::hours(47))
            .build();
        assert_eq!(c.check_at(&in_time, now()), Ok(()));
        let cold = Message::text("hi").recipient(Contact::new("u1")).build();
        assert_eq!(
            c.check_at(&cold, now()),
            Err(Unsupported::BusinessMayNotInitiate)
        );
        let no_text = Capabilities::text_only()
            .without_text()
            .with_attachments(&[AttachmentKind::Image], 1);
        assert_eq!(
            no_text.check_at(&Message::text("x").build(), now()),
            Err(Unsupported::TextNotSupported)
        );
    }

    #[test]
    fn multi_attachment_channel() {
        let sms = Capabilities::text_only()
            .with_max_text_chars(1600)
            .with_attachments(&[AttachmentKind::Image, AttachmentKind::Video], 8)
            .with_text_and_attachments(true);
        let m = Message::text("see")
            .recipient(Contact::new("+1"))
            .attachment(img())
            .attachment(img())
            .build();
        assert_eq!(sms.check_at(&m, now()), Ok(()));
    }
}
