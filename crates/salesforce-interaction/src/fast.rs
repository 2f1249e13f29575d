//! The one-pass reading of an event's payload document (the JSON text in the payload field).
//!
//! The tree reading ([`crate::webhook`]) parses the payload text into a `serde_json::Value` and
//! types it from there. A payload of the usual shape is read here instead, straight from its
//! text into the typed fields, with the entry body kept as its text. Anything this reading does
//! not take (an error, an array where the tree wants an object, a key given twice, a field of
//! another type than usual) is read again as a tree, which gives the answer and the exact error
//! reason. Whatever this reading returns is what the tree reading returns for the same text.
//!
//! The reading is core's one-pass reader ([`omnichannel_core::json::nested::from_str_strict`]),
//! in its strict form: the tree reading builds every value, skipped ones included, and refuses
//! what a value cannot hold (a number beyond `f64`, an escaped lone surrogate, nesting of 128
//! levels), so this reading leaves to it any text with a skipped fraction or exponent, a lone
//! surrogate or that nesting. It also leaves fractions and exponents in fields it reads, an
//! integer beyond `u64`, and an array where a struct is read.

use omnichannel_core::json::Object;
use std::sync::Arc;

use omnichannel_core::{Raw, RawJson};
use serde::{Deserialize, Deserializer};
use serde_json::Value;

use crate::model::{AnyBody, ConversationEntry, EntryPayload, Participant, lenient_opt_i64};
use crate::webhook::Layout;

/// A conversation entry's fields, the entry body kept as its text.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Entry {
    #[serde(default)]
    identifier: Option<String>,
    entry_type: String,
    #[serde(default)]
    entry_payload: Option<Box<Object<AnyBody>>>,
    #[serde(default)]
    sender: Option<Object<Participant>>,
    #[serde(default)]
    sender_display_name: Option<String>,
    #[serde(default, deserialize_with = "lenient_opt_i64")]
    client_timestamp: Option<i64>,
    #[serde(default, deserialize_with = "lenient_opt_i64")]
    transcripted_timestamp: Option<i64>,
    #[serde(default, deserialize_with = "lenient_opt_i64")]
    client_duration: Option<i64>,
}

/// The payload document of an `Interaction` event: the nested layout's fields, and the flat
/// layout's entry fields beside them.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Doc {
    #[serde(default)]
    conversation_identifier: Option<String>,
    #[serde(default)]
    channel_address_identifier: Option<String>,
    #[serde(default)]
    recipient: Option<Recipient>,
    #[serde(default)]
    payload: Option<Box<Object<Entry>>>,
    #[serde(default)]
    identifier: Option<String>,
    #[serde(default)]
    entry_type: Option<String>,
    #[serde(default)]
    entry_payload: Option<Box<Object<AnyBody>>>,
    #[serde(default)]
    sender: Option<Object<Participant>>,
    #[serde(default)]
    sender_display_name: Option<String>,
    #[serde(default, deserialize_with = "lenient_opt_i64")]
    client_timestamp: Option<i64>,
    #[serde(default, deserialize_with = "lenient_opt_i64")]
    transcripted_timestamp: Option<i64>,
    #[serde(default, deserialize_with = "lenient_opt_i64")]
    client_duration: Option<i64>,
}

/// A recipient: an object, or a JSON string holding one (read as the tree reading reads it).
struct Recipient(Participant);

impl<'de> Deserialize<'de> for Recipient {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> serde::de::Visitor<'de> for V {
            type Value = Recipient;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a participant object or its JSON text")
            }
            fn visit_str<E: serde::de::Error>(self, s: &str) -> Result<Recipient, E> {
                serde_json::from_str(s)
                    .map(Recipient)
                    .map_err(|_| E::custom("recipient"))
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                map: A,
            ) -> Result<Recipient, A::Error> {
                Participant::deserialize(serde::de::value::MapAccessDeserializer::new(map))
                    .map(Recipient)
            }
        }
        d.deserialize_any(V)
    }
}

/// What the one-pass reading gives for an entry.
pub(crate) struct ReadEntry {
    /// The entry.
    pub(crate) entry: ConversationEntry,
    /// Its typed body.
    pub(crate) payload: EntryPayload,
    /// The event id the entry carries (its `identifier`, else its body's string `id`).
    pub(crate) own_id: Option<String>,
}

/// What the one-pass reading gives for an `Interaction` payload.
pub(crate) struct ReadInteraction {
    pub(crate) layout: Layout,
    pub(crate) conversation_identifier: Option<String>,
    pub(crate) channel_address_identifier: Option<String>,
    pub(crate) recipient: Option<Participant>,
    pub(crate) entry: ReadEntry,
}

/// The entry body of a payload document, as JSON when it is read: taken from the document's
/// text, which the one-pass reading read without keeping a tree of it.
#[derive(Debug)]
struct EntryBody {
    /// The payload document.
    text: Arc<str>,
    /// Whether the entry is under the document's `payload` (the nested layout).
    nested: bool,
}

impl RawJson for EntryBody {
    fn to_json(&self) -> Value {
        // The text was read once already; a tree of it is built only here.
        let Ok(mut doc) = serde_json::from_str::<Value>(&self.text) else {
            return Value::Null;
        };
        let entry = if self.nested {
            doc.get_mut("payload")
        } else {
            Some(&mut doc)
        };
        entry
            .and_then(|e| e.get_mut("entryPayload"))
            .map(Value::take)
            .unwrap_or(Value::Null)
    }
}

impl Entry {
    /// The entry of `text` (the payload document; the entry under its `payload` when
    /// `nested`), `None`: read it as a tree. Without `keep_body`, `entry_payload` is `null`.
    fn read(self, text: &str, nested: bool, keep_body: bool) -> Option<ReadEntry> {
        let body = self.entry_payload.map(|b| b.0);
        let has_body = body.is_some();
        let (payload, body_id) = EntryPayload::from_any(&self.entry_type, body)?;
        let own_id = self.identifier.clone().or(body_id);
        Some(ReadEntry {
            entry: ConversationEntry {
                identifier: self.identifier,
                entry_type: self.entry_type,
                entry_payload: if has_body && keep_body {
                    Raw::deferred(Arc::new(EntryBody {
                        text: Arc::from(text),
                        nested,
                    }))
                } else {
                    Raw::from(Value::Null)
                },
                sender: self.sender.map(|Object(p)| p),
                sender_display_name: self.sender_display_name,
                client_timestamp: self.client_timestamp,
                transcripted_timestamp: self.transcripted_timestamp,
                client_duration: self.client_duration,
            },
            payload,
            own_id,
        })
    }
}

/// `T` read from the whole of `text` by core's one-pass reader, strictly.
pub(crate) fn read<'a, T: Deserialize<'a>>(text: &'a str) -> Option<T> {
    omnichannel_core::json::nested::from_str_strict(text)
}

/// A legacy payload (a conversation entry), read in one pass; `None`: read it as a tree.
pub(crate) fn legacy_entry(text: &str, keep_body: bool) -> Option<ReadEntry> {
    let Object(e) = read::<Object<Entry>>(text)?;
    e.read(text, false, keep_body)
}

/// An `Interaction` payload (nested or flat layout), read in one pass; `None`: read it as a
/// tree.
pub(crate) fn interaction(text: &str, keep_body: bool) -> Option<ReadInteraction> {
    let Object(d) = read::<Object<Doc>>(text)?;
    let (layout, entry) = match d.payload {
        Some(e) => (Layout::Nested, e.0.read(text, true, keep_body)?),
        None => (
            Layout::Flat,
            Entry {
                identifier: d.identifier,
                entry_type: d.entry_type?,
                entry_payload: d.entry_payload,
                sender: d.sender,
                sender_display_name: d.sender_display_name,
                client_timestamp: d.client_timestamp,
                transcripted_timestamp: d.transcripted_timestamp,
                client_duration: d.client_duration,
            }
            .read(text, false, keep_body)?,
        ),
    };
    Some(ReadInteraction {
        layout,
        conversation_identifier: d.conversation_identifier,
        channel_address_identifier: d.channel_address_identifier,
        recipient: d.recipient.map(|Recipient(p)| p),
        entry,
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;
    use crate::webhook::{entry_from, parse_interaction};

    const TEXT_ENTRY: &str = r#"{"identifier":"e1","entryType":"Message","entryPayload":{"entryType":"Message","id":"e1","abstractMessage":{"messageType":"StaticContentMessage","id":"e1","staticContent":{"formatType":"Text","text":"Merci \"très\" gentil \u00e9 🙏 \ud83d\ude4f\n"}}},"sender":{"appType":"agent","subject":"005","role":"Agent"},"senderDisplayName":"Rep","transcriptedTimestamp":1690344475508,"clientTimestamp":"1690344475500","clientDuration":null}"#;

    const RECIPIENT: &str = r#"{"appType":"custom","subject":"u-1","role":"EndUser"}"#;

    /// Entry bodies of every entry type, usual and odd, with the entry type they go with.
    fn bodies() -> Vec<(&'static str, String)> {
        let deep = |n: usize| format!("{}1{}", "[".repeat(n), "]".repeat(n));
        vec![
            ("Message", r#"{"entryType":"Message","id":"e1","abstractMessage":{"messageType":"StaticContentMessage","id":"e1","staticContent":{"formatType":"Attachments","text":"cap","attachments":[{"id":"a1","name":"f.png","mimeType":"image/png","url":"https://x.test/f","referenceId":"r","attachmentUploadResult":{"resultType":"CompletedAttachmentUploadResult"}}]},"inReplyToMessageId":"m0"},"messageReason":"AutomatedResponse"}"#.into()),
            ("Message", r#"{"abstractMessage":{"messageType":"StaticContentMessage","id":"e1","staticContent":{"formatType":"Links","links":[{"url":"https://x.test"}],"linkItem":{"title":"t","url":"https://x.test"}}}}"#.into()),
            ("Message", r#"{"abstractMessage":{"messageType":"ChoicesMessage","id":"e1","choices":{"formatType":"Buttons"}}}"#.into()),
            ("Message", r#"{"abstractMessage":null}"#.into()),
            ("Message", r#"{}"#.into()),
            ("Message", r#"[{"messageType":"StaticContentMessage","id":"e1"}]"#.into()),
            ("Message", r#"{"abstractMessage":["StaticContentMessage","e1"]}"#.into()),
            ("Message", r#"{"abstractMessage":{"messageType":"StaticContentMessage","id":"e1"},"abstractMessage":{"messageType":"X","id":"e2"}}"#.into()),
            ("Message", r#"{"abstractMessage":{"messageType":"StaticContentMessage","id":"e1","id":"e2"}}"#.into()),
            ("Message", r#"{"abstractMessage":{"messageType":"StaticContentMessage","id":5}}"#.into()),
            ("Message", r#"{"abstractMessage":{"messageType":"StaticContentMessage","id":"e1"},"extra":{"a":1,"a":2}}"#.into()),
            ("Message", r#"{"abstractMessage":{"messageType":"StaticContentMessage","id":"e1"},"extra":1e400}"#.into()),
            ("Message", format!(r#"{{"abstractMessage":{{"messageType":"StaticContentMessage","id":"e1"}},"extra":{}}}"#, "9".repeat(400))),
            ("Message", r#"{"abstractMessage":{"messageType":"StaticContentMessage","id":"e1"},"extra":"\ud800"}"#.into()),
            ("Message", r#"{"abstractMessage":{"messageType":"StaticContentMessage","id":"e1","staticContent":{"formatType":"Text","text":"\udc00 alone"}}}"#.into()),
            ("Message", format!(r#"{{"abstractMessage":{{"messageType":"StaticContentMessage","id":"e1"}},"extra":{}}}"#, deep(60))),
            ("Message", format!(r#"{{"abstractMessage":{{"messageType":"StaticContentMessage","id":"e1"}},"extra":{}}}"#, deep(124))),
            ("Message", format!(r#"{{"abstractMessage":{{"messageType":"StaticContentMessage","id":"e1"}},"extra":{}}}"#, deep(130))),
            ("Message", format!(r#"{{"abstractMessage":{{"messageType":"StaticContentMessage","id":"e1","staticContent":{{"formatType":"Text","text":"{}"}}}}}}"#, "x".repeat(100_000))),
            ("MessageUpdated", r#"{"updatedMessage":{"messageType":"StaticContentMessage","id":"m1","staticContent":{"formatType":"Attachments","attachments":[{"id":"a","attachmentUploadResult":{"resultType":"ErrorAttachmentUploadResult","errorType":"AttachmentTooLarge","errorMessage":"big"}}]}}}"#.into()),
            ("MessageUpdated", r#"{"abstractMessage":{"messageType":"StaticContentMessage","id":"m1"}}"#.into()),
            ("ReadAcknowledgement", r#"{"acknowledgedConversationEntryIdentifier":"m1","acknowledgementTimestamp":1}"#.into()),
            ("DeliveryAcknowledgement", r#"{"acknowledgedConversationEntryIdentifier":7}"#.into()),
            ("MessageDeliveryFailed", r#"{"failedConversationEntryIdentifier":"m1","errorCode":42,"errorMessage":"no","recipient":{"appType":"custom","subject":"u","role":"EndUser"}}"#.into()),
            ("MessageDeliveryFailed", r#"{"failedChannelEntryIdentifier":"m1","errorCode":"E1"}"#.into()),
            ("MessageDeliveryFailed", r#"{"failedChannelEntryIdentifier":"m1","failedConversationEntryIdentifier":"m2"}"#.into()),
            ("MessageDeliveryFailed", r#"{"errorCode":{"c":1}}"#.into()),
            ("ParticipantChanged", r#"{"entries":[{"operation":"add","participant":{"appType":"agent","subject":"005","role":"Agent"},"displayName":"Rep"}]}"#.into()),
            ("ParticipantChanged", r#"{"entries":null}"#.into()),
            ("ParticipantChanged", r#"{"entries":[{"operation":"add"}]}"#.into()),
            ("SessionStatusChanged", r#"{"sessionId":"s","sessionStatus":"Active","sessionStatusPrev":"Waiting","sessionStartTime":"17","channelAddressIdentifier":"c","conversationIdentifier":"v"}"#.into()),
            ("SessionStatusChanged", r#"{"sessionStatus":"Ended","sessionEndTime":1.5,"sessionEndedByRole":"Agent"}"#.into()),
            ("SessionStatusChanged", r#"{"sessionStatusPrev":"Active"}"#.into()),
            ("SessionStatusChanged", r#"{"sessionStatus":"Ended","sessionEndTime":true}"#.into()),
            ("TypingStartedIndicator", r#"{"entryType":"TypingStartedIndicator","id":"t1","timestamp":1}"#.into()),
            ("TypingStoppedIndicator", r#"{"id":5}"#.into()),
            ("TypingStoppedIndicator", r#"["t1"]"#.into()),
            ("TypingStoppedIndicator", r#""t1""#.into()),
            ("TypingStoppedIndicator", r#"{"abstractMessage":3}"#.into()),
            ("QueuePosition", r#"{"position":3,"id":"q1"}"#.into()),
            ("QueuePosition", r#"{"position":1e400}"#.into()),
            ("QueuePosition", format!(r#"{{"position":{}}}"#, deep(126))),
        ]
    }

    /// Entries built around a body: with and without an identifier, and the entry fields in
    /// usual and odd forms.
    fn entries() -> Vec<String> {
        let mut out = vec![TEXT_ENTRY.to_string()];
        for (t, body) in bodies() {
            out.push(format!(r#"{{"identifier":"e9","entryType":"{t}","entryPayload":{body},"sender":{{"appType":"agent","subject":"005","role":"Agent"}},"transcriptedTimestamp":1}}"#));
            out.push(format!(r#"{{"entryPayload":{body},"entryType":"{t}"}}"#));
        }
        for odd in [
            r#"{"entryType":"TypingStartedIndicator"}"#,
            r#"{"entryType":"TypingStartedIndicator","entryPayload":null}"#,
            r#"{"entryType":"Message"}"#,
            r#"{"entryType":"Message","entryPayload":null}"#,
            r#"{"entryType":"QueuePosition","identifier":null}"#,
            r#"{"identifier":"e1"}"#,
            r#"{"entryType":5}"#,
            r#"{"entryType":null}"#,
            r#"{"entryType":"TypingStartedIndicator","entryType":"TypingStoppedIndicator"}"#,
            r#"{"entryType":"TypingStartedIndicator","identifier":5}"#,
            r#"{"entryType":"TypingStartedIndicator","sender":["agent","005","Agent"]}"#,
            r#"{"entryType":"TypingStartedIndicator","sender":{"appType":"agent","subject":"005"}}"#,
            r#"{"entryType":"TypingStartedIndicator","sender":null,"senderDisplayName":"R\u00e9p"}"#,
            r#"{"entryType":"TypingStartedIndicator","transcriptedTimestamp":1e3,"clientTimestamp":-5,"clientDuration":"x"}"#,
            r#"{"entryType":"TypingStartedIndicator","transcriptedTimestamp":18446744073709551616}"#,
            r#"{"entryType":"TypingStartedIndicator","transcriptedTimestamp":[1]}"#,
            r#"{"entryType":"TypingStartedIndicator","extra":1e400}"#,
            r#"{"entryType":"TypingStartedIndicator","extra":"\ud800\u0041"}"#,
            r#"{"entryType":"TypingStartedIndicator","extr\ud800":1}"#,
            r#"{"entryType":"TypingStartedIndicator"} x"#,
            r#"{"entryType":"TypingStartedIndicator",}"#,
            r#"["TypingStartedIndicator"]"#,
            r#"{"#,
            r#""#,
            r#"null"#,
        ] {
            out.push(odd.to_string());
        }
        out
    }

    type TreeEntry = (ConversationEntry, EntryPayload, Option<String>);

    /// The tree reading of a legacy entry text (what `parse_legacy` does with the payload).
    fn legacy_tree(text: &str) -> Option<Result<TreeEntry, String>> {
        let v: Value = serde_json::from_str(text).ok()?;
        Some(entry_from(&v).map_err(|e| e.to_string()))
    }

    #[test]
    fn one_pass_entries_match_the_tree() {
        let mut taken = 0;
        for text in entries() {
            let Some(fast) = legacy_entry(&text, true) else {
                eprintln!("NOTTAKEN {}", &text[..text.len().min(150)]);
                continue;
            };
            taken += 1;
            let Some(Ok((entry, payload, own_id))) = legacy_tree(&text) else {
                panic!("the one-pass reading took what the tree refuses: {text}");
            };
            assert_eq!(fast.entry, entry, "{text}");
            assert_eq!(fast.payload, payload, "{text}");
            assert_eq!(fast.own_id, own_id, "{text}");
        }
        // The usual shapes are read in one pass (and the odd ones are not all refused). Left to
        // the tree besides errors: an array where a struct is read, a fraction, an integer
        // beyond `u64` (core's reader hands over integers only, as serde_json's do).
        assert!(taken >= 37, "{taken}");
        assert!(legacy_entry(TEXT_ENTRY, true).is_some());
    }

    #[test]
    fn one_pass_interactions_match_the_tree() {
        let mut docs = Vec::new();
        for entry in entries() {
            // Nested, with the recipient as an object and as JSON text.
            docs.push(format!(r#"{{"conversationIdentifier":"c1","channelAddressIdentifier":"chan","recipient":{RECIPIENT},"payload":{entry}}}"#));
            docs.push(format!(
                r#"{{"payload":{entry},"recipient":{}}}"#,
                serde_json::to_string(RECIPIENT).unwrap()
            ));
            // Flat: the entry's fields at the top, beside the others.
            if let Some(fields) = entry.strip_prefix('{').filter(|f| f.len() > 1) {
                docs.push(format!(
                    r#"{{"channelAddressIdentifier":"chan","recipient":{RECIPIENT},{fields}"#
                ));
                docs.push(format!(r#"{{"payload":null,{fields}"#));
            }
        }
        for odd in [
            format!(r#"{{"payload":{TEXT_ENTRY},"conversationIdentifier":5}}"#),
            format!(r#"{{"payload":{TEXT_ENTRY},"conversationIdentifier":null}}"#),
            format!(
                r#"{{"payload":{TEXT_ENTRY},"conversationIdentifier":"a","conversationIdentifier":"b"}}"#
            ),
            format!(r#"{{"payload":{TEXT_ENTRY},"payload":{TEXT_ENTRY}}}"#),
            format!(r#"{{"payload":[{TEXT_ENTRY}]}}"#),
            r#"{"payload":"x","entryType":"TypingStartedIndicator"}"#.to_string(),
            format!(r#"{{"payload":{TEXT_ENTRY},"entryType":5}}"#),
            format!(r#"{{"payload":{TEXT_ENTRY},"recipient":["custom","u","EndUser"]}}"#),
            format!(r#"{{"payload":{TEXT_ENTRY},"recipient":"not json"}}"#),
            format!(
                r#"{{"payload":{TEXT_ENTRY},"recipient":"{{\"appType\":\"custom\",\"subject\":\"u\",\"role\":\"EndUser\",\"role\":\"X\"}}"}}"#
            ),
            format!(r#"{{"payload":{TEXT_ENTRY},"recipient":{{"subject":"u"}}}}"#),
            format!(r#"{{"payload":{TEXT_ENTRY},"recipient":5}}"#),
            format!(
                r#"{{"payload":{TEXT_ENTRY},"extra":{}}}"#,
                format_args!("{}0{}", "{\"a\":".repeat(127), "}".repeat(127))
            ),
            r#"{"conversationIdentifier":"c1"}"#.to_string(),
            r#"[]"#.to_string(),
        ] {
            docs.push(odd);
        }
        let mut taken = 0;
        for text in &docs {
            let Some(fast) = interaction(text, true) else {
                continue;
            };
            taken += 1;
            let tree = serde_json::from_str::<Value>(text)
                .map_err(|e| e.to_string())
                .and_then(|v| parse_interaction(&v).map_err(|e| e.to_string()));
            let Ok((event, own_id)) = tree else {
                panic!("the one-pass reading took what the tree refuses: {text}: {tree:?}");
            };
            assert_eq!(fast.layout, event.layout, "{text}");
            assert_eq!(
                fast.conversation_identifier, event.conversation_identifier,
                "{text}"
            );
            assert_eq!(
                fast.channel_address_identifier, event.channel_address_identifier,
                "{text}"
            );
            assert_eq!(fast.recipient, event.recipient, "{text}");
            assert_eq!(fast.entry.entry, event.entry, "{text}");
            assert_eq!(fast.entry.payload, event.payload, "{text}");
            assert_eq!(fast.entry.own_id, own_id, "{text}");
            // Without the entry body kept, the same reading but for that.
            let lean = interaction(text, false).expect("the same reading");
            assert_eq!(lean.entry.payload, event.payload, "{text}");
            assert_eq!(lean.entry.own_id, fast.entry.own_id, "{text}");
            assert_eq!(
                lean.entry.entry.entry_payload,
                Raw::from(Value::Null),
                "{text}"
            );
        }
        assert!(taken >= 100, "{taken}");
    }

    /// Compares the two readings of a payload document: whenever the one-pass reading takes
    /// it, the tree reading gives the same event.
    fn same_as_tree(text: &str) -> Result<(), proptest::test_runner::TestCaseError> {
        let Some(fast) = interaction(text, true) else {
            return Ok(());
        };
        let tree = serde_json::from_str::<Value>(text)
            .map_err(|e| e.to_string())
            .and_then(|v| parse_interaction(&v).map_err(|e| e.to_string()));
        let Ok((event, own_id)) = tree else {
            return Err(proptest::test_runner::TestCaseError::fail(format!(
                "taken in one pass, refused by the tree: {text}"
            )));
        };
        proptest::prop_assert_eq!(fast.layout, event.layout);
        proptest::prop_assert_eq!(fast.conversation_identifier, event.conversation_identifier);
        proptest::prop_assert_eq!(fast.recipient, event.recipient);
        proptest::prop_assert_eq!(fast.entry.entry, event.entry);
        proptest::prop_assert_eq!(fast.entry.payload, event.payload);
        proptest::prop_assert_eq!(fast.entry.own_id, own_id);
        Ok(())
    }

    /// The document the property test below edits: of the usual shape, with skipped values
    /// (integers, a list, an escaped emoji) that its edits turn into fractions, exponents, lone
    /// surrogates or broken text. As it is, the one-pass reading takes it.
    fn mutable_document() -> String {
        format!(
            r#"{{"conversationIdentifier":"c1","channelAddressIdentifier":"chan","recipient":{RECIPIENT},"payload":{TEXT_ENTRY},"x":[1,25,{{"k":null}}],"y":"\ud83d\ude4f","z":1300}}"#
        )
    }

    #[test]
    fn the_mutable_document_is_read_in_one_pass() {
        let doc = mutable_document();
        assert!(interaction(&doc, true).is_some());
        same_as_tree(&doc).unwrap();
        // A skipped fraction or exponent (which the tree would refuse beyond `f64`) is left to
        // the tree.
        for skipped in ["2.5", "1e300", "-0.0"] {
            let odd = doc.replace(r#""z":1300"#, &format!(r#""z":{skipped}"#));
            assert!(interaction(&odd, true).is_none(), "{odd}");
        }
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(3000))]

        /// Documents of the usual shape with a few bytes replaced by JSON's own characters
        /// (quotes, brackets, escapes, digits, exponents): many become odd or broken. Half the
        /// edits fall in the fields no type reads (at the end), where only the tree would see
        /// a number out of range or a lone surrogate.
        #[test]
        fn mutated_documents_read_the_same_either_way(
            edits in proptest::collection::vec((0usize..2000, 0usize..24, proptest::bool::ANY), 1..4)
        ) {
            const ALPHABET: &[u8] = br#"{}[],:"\0159-.eEuDd8 nt"#;
            let mut bytes = mutable_document().into_bytes();
            for (at, c, tail) in edits {
                let at = if tail {
                    bytes.len().saturating_sub(1 + at % 48)
                } else {
                    at % bytes.len()
                };
                if let (Some(slot), Some(&b)) = (bytes.get_mut(at), ALPHABET.get(c % ALPHABET.len())) {
                    *slot = b;
                }
            }
            if let Ok(text) = String::from_utf8(bytes) {
                same_as_tree(&text)?;
            }
        }
    }
}
