//! The app side (provider `rapidpro`): answers RapidPro's calls to `secret.check`, `settings`,
//! `room`, `room.close` and `visitor-message` exactly as the Tickets app does (spec sections 2,
//! 3 and 6), and sends the app's webhooks (`agent-message`, `close-room`) to RapidPro.
//!
//! A request the app refuses before acting (unknown endpoint, method, Content-Type, secret,
//! validation) is an `Err` whose [`reject_reply`](Channel::reject_reply) is the app's answer.
//! Answers the app gives after accepting a request (no room for the token, room already open,
//! unknown department, empty message, room closed by the agent) come back as an [`Inbound`]
//! with no event and that answer.

use std::borrow::Cow;
use std::sync::{Arc, LazyLock};

use async_trait::async_trait;
use http::{HeaderMap, Method, StatusCode};
use omnichannel_core::json::{self, Object};
use omnichannel_core::{
    AttachmentKind, Capabilities, Channel, ChannelEnv, Clock, Error, Inbound, OutboundMessage,
    Provider, Raw, Result, SendReceipt, SendStatus, VerifyError, WebhookReply, WebhookRequest,
};
use serde_json::{Value, json};

use crate::api::{
    MSG_EMPTY_MESSAGE, MSG_INVALID_AUTHORIZATION, MSG_NO_DEPARTMENT_PREFIX, MSG_NO_ROOM_PREFIX,
    MSG_ROOM_ALREADY_OPEN, MSG_UNEXPECTED,
};
use crate::config::RapidproConfig;
use crate::model::AppWebhook;
use crate::normalize::{self, derived_id};
use crate::rooms::{AppStore, MemoryAppStore, RoomRecord};
use crate::sender::WebhookSender;
use crate::validate;
use crate::webhook::{self, Endpoint, HeaderRefusal};

/// Reason of the refusal Rocket.Chat answers with 404 (unknown app or endpoint).
const REASON_NOT_FOUND: &str = "no such app endpoint";
/// Reason of the refusal Rocket.Chat answers with a plain-text 500 (method not implemented).
const REASON_METHOD: &str = "the endpoint does not implement this method";

/// Metadata key of an outbound message naming the ticket (when the room is not in the store).
pub const META_TICKET_ID: &str = "ticket_id";
/// Metadata key of an outbound message asking for an action instead of a message:
/// `"close-room"` closes the room (the `close-room` webhook).
pub const META_ACTION: &str = "action";

/// The app side of the ticketer.
pub struct RapidproChannel {
    config: RapidproConfig,
    store: Arc<dyn AppStore>,
    sender: WebhookSender,
    env: ChannelEnv,
    clock: Arc<dyn Clock>,
    capabilities: Capabilities,
}

impl std::fmt::Debug for RapidproChannel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RapidproChannel")
            .field("config", &self.config)
            .field("store", &self.store)
            .finish()
    }
}

impl RapidproChannel {
    /// A channel with an in-memory store seeded from the settings (callback URL, rooms).
    pub fn new(config: RapidproConfig, env: &ChannelEnv) -> Result<Self> {
        let store = MemoryAppStore::with_state(config.callback_url.clone(), config.rooms.clone());
        Self::with_store(config, env, Arc::new(store))
    }

    /// A channel keeping its state in `store`. The settings' callback URL and rooms are written
    /// into it only when [`seed`](Self::seed) is called (a shared store already holds them).
    pub fn with_store(
        config: RapidproConfig,
        env: &ChannelEnv,
        store: Arc<dyn AppStore>,
    ) -> Result<Self> {
        let sender = WebhookSender::new(env.http.clone(), config.secret.primary().clone());
        let capabilities = Capabilities::text_only()
            .with_attachments(
                &[
                    AttachmentKind::Image,
                    AttachmentKind::Video,
                    AttachmentKind::Audio,
                    AttachmentKind::File,
                ],
                config.max_attachments,
            )
            .with_text_and_attachments(true);
        Ok(RapidproChannel {
            config,
            store,
            sender,
            env: env.clone(),
            clock: env.clock.clone(),
            capabilities,
        })
    }

    /// Writes the settings' callback URL and rooms into the store.
    pub async fn seed(&self) -> Result<()> {
        if let Some(url) = &self.config.callback_url {
            self.store.set_callback_url(url).await?;
        }
        for room in &self.config.rooms {
            self.store.put_room(room.clone()).await?;
        }
        Ok(())
    }

    /// The store.
    pub fn store(&self) -> &Arc<dyn AppStore> {
        &self.store
    }

    async fn callback_url(&self) -> Result<String> {
        let url = self.store.callback_url().await?.ok_or_else(|| {
            Error::invalid_input(
                "callback_url",
                "Callback URL not set: RapidPro has not called PUT settings",
            )
        })?;
        self.env.rebase(&url)
    }

    async fn deliver(&self, webhook: &AppWebhook) -> Result<()> {
        let url = self.callback_url().await?;
        self.sender.deliver(&url, webhook).await
    }

    /// The agent closed the room: sends `close-room`. Delivered (200): the room record is
    /// deleted. Otherwise the record is marked closed (the webhook goes again on RapidPro's next
    /// `room` or `visitor-message` for the token) and the delivery error is returned. Without a
    /// callback URL nothing is sent and the record stays open, as in the app. Returns the id of
    /// the close (`<ticket>:closed`).
    pub async fn close_room(&self, token: &str) -> Result<String> {
        let Some(mut room) = self.store.room(token).await? else {
            return Err(Error::invalid_input(
                "conversation_id",
                "no room for this visitor token",
            ));
        };
        let url = self.callback_url().await?;
        let hook = AppWebhook::CloseRoom {
            ticket_id: room.ticket_id.clone(),
            token: token.to_string(),
        };
        match self.sender.deliver(&url, &hook).await {
            Ok(()) => {
                self.store.remove_room(token).await?;
                Ok(format!("{}:closed", room.ticket_id))
            }
            Err(e) => {
                room.closed = true;
                self.store.put_room(room).await?;
                Err(e)
            }
        }
    }

    /// A record marked closed: `close-room` again; deleted when RapidPro answers 200.
    /// Returns whether it was deleted.
    async fn resend_close(&self, room: &RoomRecord) -> Result<bool> {
        let hook = AppWebhook::CloseRoom {
            ticket_id: room.ticket_id.clone(),
            token: room.token.clone(),
        };
        // Boxed: the delivery's future (an HTTP request) is large, and inline it would make
        // every `receive` future that size, though a closed room is rare.
        match Box::pin(self.deliver(&hook)).await {
            Ok(()) => {
                self.store.remove_room(&room.token).await?;
                Ok(true)
            }
            Err(e) => {
                tracing::warn!(error = %e, "close-room webhook not delivered; will retry");
                Ok(false)
            }
        }
    }

    async fn handle(
        &self,
        endpoint: Endpoint,
        method: &Method,
        body: Value,
        bytes: &[u8],
    ) -> Result<Inbound> {
        let app_id = self.config.app_id.as_str();
        match (endpoint, method) {
            (Endpoint::SecretCheck, _) => Ok(Inbound::new(
                vec![],
                WebhookReply::json(StatusCode::OK, &json!({"status": "ok"})),
            )),
            (Endpoint::Settings, &Method::GET) => {
                let webhook = match self.store.callback_url().await? {
                    Some(url) => json!({ "url": url }),
                    None => json!({}),
                };
                Ok(Inbound::new(
                    vec![],
                    WebhookReply::json(StatusCode::OK, &json!({ "webhook": webhook })),
                ))
            }
            (Endpoint::Settings, _) => {
                validated(&body, validate::SETTINGS)?;
                let url = str_at(&body, &["webhook", "url"]);
                self.store.set_callback_url(url).await?;
                Ok(Inbound::new(
                    vec![normalize::settings_event(app_id, &body, url)],
                    WebhookReply::empty(StatusCode::NO_CONTENT),
                ))
            }
            (Endpoint::Room, _) => self.open_room(&body).await,
            (Endpoint::RoomClose, _) => {
                validated(&body, validate::ROOM_CLOSE)?;
                let token = str_at(&body, &["visitor", "token"]);
                let Some(room) = self.store.room(token).await? else {
                    return Ok(answer(StatusCode::NOT_FOUND, &no_room(token)));
                };
                self.store.remove_room(token).await?;
                Ok(Inbound::new(
                    vec![normalize::room_closed_event(
                        app_id,
                        &body,
                        token,
                        &room.ticket_id,
                    )],
                    WebhookReply::empty(StatusCode::NO_CONTENT),
                ))
            }
            // The message moves into its event; the other endpoints read the body in place.
            (Endpoint::VisitorMessage, _) => self.visitor_message(body, bytes).await,
        }
    }

    async fn open_room(&self, body: &Value) -> Result<Inbound> {
        validated(body, validate::ROOM)?;
        let ticket_id = str_at(body, &["ticketID"]);
        let token = str_at(body, &["visitor", "token"]);
        if let (Some(known), Some(dep)) = (
            &self.config.departments,
            body.get("visitor")
                .and_then(|v| v.get("department"))
                .and_then(Value::as_str),
        ) && !known.iter().any(|k| k == dep)
        {
            return Ok(answer(
                StatusCode::NOT_FOUND,
                &format!("{MSG_NO_DEPARTMENT_PREFIX}{dep}"),
            ));
        }
        if let Some(existing) = self.store.room(token).await?
            && (!existing.closed || !self.resend_close(&existing).await?)
        {
            return Ok(answer(StatusCode::BAD_REQUEST, MSG_ROOM_ALREADY_OPEN));
        }
        let room_id = derived_id(&[b"room", ticket_id.as_bytes()]);
        self.store
            .put_room(RoomRecord {
                token: token.to_string(),
                ticket_id: ticket_id.to_string(),
                contact_uuid: str_at(body, &["visitor", "contactUUID"]).to_string(),
                room_id: room_id.clone(),
                closed: false,
            })
            .await?;
        Ok(Inbound::new(
            vec![normalize::room_opened_event(&self.config.app_id, body)],
            id_reply(StatusCode::CREATED, &room_id),
        ))
    }

    /// `visitor-message` from the body's tree (any body that passed validation).
    async fn visitor_message(&self, body: Value, bytes: &[u8]) -> Result<Inbound> {
        validated(&body, validate::VISITOR_MESSAGE)?;
        let message = visitor_message_of_tree(&body).into_owned();
        self.take_visitor_message(message, Raw::from(body), bytes)
            .await
    }

    /// `visitor-message` once validated: the room, the app's checks of the content, the event.
    /// Its id is derived from the room and the body as received.
    async fn take_visitor_message(
        &self,
        message: VisitorMessageParts<'_>,
        raw: Raw,
        bytes: &[u8],
    ) -> Result<Inbound> {
        let VisitorMessageParts {
            token,
            text,
            attachments,
        } = message;
        let Some(room) = self.store.shared_room(&token).await? else {
            return Ok(answer(StatusCode::NOT_FOUND, &no_room(&token)));
        };
        if room.closed {
            // Boxed: rare, and its future would make every message's as large.
            Box::pin(self.resend_close(&room)).await?;
            return Ok(Inbound::new(vec![], id_reply(StatusCode::CREATED, "")));
        }
        let text = text.filter(|t| !t.is_empty());
        let Some(Items { count, typed, list }) = attachments else {
            if text.is_none() {
                return Ok(answer(StatusCode::BAD_REQUEST, MSG_EMPTY_MESSAGE));
            }
            return Ok(self.message(room.room_id.as_str(), raw, text, token, vec![], bytes));
        };
        if count > self.config.max_attachments {
            return Err(Error::malformed(format!(
                "attachments: {count} attachments exceed the limit of {}",
                self.config.max_attachments
            )));
        }
        // The app splits each attachment's `type`: one without a string type throws (500).
        if !typed {
            return Ok(answer(StatusCode::INTERNAL_SERVER_ERROR, MSG_UNEXPECTED));
        }
        Ok(self.message(room.room_id.as_str(), raw, text, token, list, bytes))
    }

    /// The accepted message: its id (derived from the room and the body as received), the
    /// event and the answer `{"id": ...}`.
    fn message(
        &self,
        room_id: &str,
        raw: Raw,
        text: Option<Cow<'_, str>>,
        token: Cow<'_, str>,
        attachments: Vec<omnichannel_core::Attachment>,
        bytes: &[u8],
    ) -> Inbound {
        let id = derived_id(&[b"visitor-message", room_id.as_bytes(), bytes]);
        let reply = id_reply(StatusCode::CREATED, &id);
        Inbound::new(
            vec![normalize::message_event(
                &self.config.app_id,
                raw,
                text.map(Cow::into_owned),
                token,
                id,
                attachments,
            )],
            reply,
        )
    }
}

/// A request body as read: a `visitor-message` of the usual shape in one pass (with its text),
/// or any body as the app's body parser gives it.
enum Body<'a> {
    VisitorMessage(VisitorMessageParts<'a>, &'a str),
    Tree(Value),
}

/// What the app reads of a validated `visitor-message` body.
#[derive(Debug, PartialEq)]
struct VisitorMessageParts<'a> {
    token: Cow<'a, str>,
    text: Option<Cow<'a, str>>,
    /// The `attachments` array (absent or `null`: `None`).
    attachments: Option<Items>,
}

impl VisitorMessageParts<'_> {
    fn into_owned(self) -> VisitorMessageParts<'static> {
        VisitorMessageParts {
            token: Cow::Owned(self.token.into_owned()),
            text: self.text.map(|t| Cow::Owned(t.into_owned())),
            attachments: self.attachments,
        }
    }
}

/// What the app makes of a `visitor-message`'s `attachments` array.
#[derive(Debug, PartialEq)]
struct Items {
    /// How many items the array has.
    count: usize,
    /// Whether every item has a string `type` (the app throws on one without).
    typed: bool,
    /// The event's attachments (only when `typed`; empty otherwise).
    list: Vec<omnichannel_core::Attachment>,
}

/// A `visitor-message` body of the usual shape, read without a tree: `visitor.token` a
/// non-empty string, `text` a string or `null`, `attachments` an array or `null` of objects
/// with a string `type` and a string or `null` `url` (and no other key), no key twice. Such a body passes the
/// app's validation; any other goes the tree's way.
///
/// `T` is the text's type: [`json::CowStr`] for the one-pass reader of [`json::nested`] (the
/// text decoded as the body is read), [`json::Text`] for serde_json (the text's JSON kept,
/// then decoded once into a buffer of its size).
#[derive(serde::Deserialize)]
#[serde(bound(deserialize = "T: serde::Deserialize<'de>"))]
struct FastVisitorMessage<'a, T> {
    #[serde(borrow)]
    visitor: Object<FastVisitor<'a>>,
    #[serde(default)]
    text: Option<T>,
    #[serde(default)]
    attachments: Option<FastAttachments>,
}

/// The `attachments` of a [`FastVisitorMessage`], each read straight into the event's
/// attachment (no list of the items as read in between).
struct FastAttachments(Vec<omnichannel_core::Attachment>);

impl<'de> serde::Deserialize<'de> for FastAttachments {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Items;
        impl<'de> serde::de::Visitor<'de> for Items {
            type Value = FastAttachments;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("an array of attachments")
            }
            fn visit_seq<A: serde::de::SeqAccess<'de>>(
                self,
                mut seq: A,
            ) -> Result<FastAttachments, A::Error> {
                let mut list = Vec::new();
                while let Some(Object(a)) = seq.next_element::<Object<FastAttachment<'de>>>()? {
                    list.push(normalize::attachment_of(
                        a.mime_type,
                        a.url.unwrap_or_default(),
                    ));
                }
                Ok(FastAttachments(list))
            }
        }
        d.deserialize_seq(Items)
    }
}

#[derive(serde::Deserialize)]
struct FastVisitor<'a> {
    #[serde(borrow)]
    token: Cow<'a, str>,
}

/// An attachment of the usual shape (see [`FastVisitorMessage`]); one with any other key goes
/// the tree's way, which reads every value of it as the app's body parser does.
#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct FastAttachment<'a> {
    #[serde(rename = "type", borrow)]
    mime_type: Cow<'a, str>,
    #[serde(default, borrow)]
    url: Option<Cow<'a, str>>,
}

/// What the app reads of a `visitor-message` body's tree (validated first).
fn visitor_message_of_tree<'a>(body: &'a Value) -> VisitorMessageParts<'a> {
    VisitorMessageParts {
        token: Cow::Borrowed(str_at(body, &["visitor", "token"])),
        text: body.get("text").and_then(Value::as_str).map(Cow::Borrowed),
        attachments: match body.get("attachments") {
            Some(Value::Array(items)) => {
                let typed = items
                    .iter()
                    .all(|i| i.get("type").is_some_and(Value::is_string));
                let list = if typed {
                    // Items are kept with what they have (the app does not validate them).
                    let str_of = |a: &'a Value, k: &str| -> Cow<'a, str> {
                        Cow::Borrowed(a.get(k).and_then(Value::as_str).unwrap_or_default())
                    };
                    items
                        .iter()
                        .map(|a| normalize::attachment_of(str_of(a, "type"), str_of(a, "url")))
                        .collect()
                } else {
                    vec![]
                };
                Some(Items {
                    count: items.len(),
                    typed,
                    list,
                })
            }
            _ => None,
        },
    }
}

/// The fast reading of a `visitor-message` body, when it has the usual shape.
///
/// The one-pass reader of [`json::nested`] takes a body without attachments (it leaves arrays
/// to serde_json) and answers as serde_json does for the bodies it takes (a test holds the two
/// readings to the same parts); serde_json reads the others.
fn fast_visitor_message(body: &[u8]) -> Option<(VisitorMessageParts<'_>, &str)> {
    let text = omnichannel_core::utf8::to_str(body)?;
    let fast = visitor_message_by_nested(text).or_else(|| visitor_message_by_serde(text))?;
    Some((parts_of_fast(fast)?, text))
}

/// A text read as its JSON string reads.
type FastText<'a> = FastVisitorMessage<'a, Cow<'a, str>>;

/// [`FastVisitorMessage`] by the one-pass reader, the text decoded as it is read.
fn visitor_message_by_nested(text: &str) -> Option<FastText<'_>> {
    let Object(f) =
        json::nested::from_str::<Object<FastVisitorMessage<'_, json::CowStr<'_>>>>(text)?;
    Some(f.with_text_as_read())
}

/// [`FastVisitorMessage`] by serde_json, the text kept as its JSON and decoded once.
fn visitor_message_by_serde(text: &str) -> Option<FastText<'_>> {
    let Object(f) =
        serde_json::from_str::<Object<FastVisitorMessage<'_, json::Text<'_>>>>(text).ok()?;
    Some(f.with_text_as_read())
}

impl<'a, T: Into<Cow<'a, str>>> FastVisitorMessage<'a, T> {
    /// The same message, its text as read.
    fn with_text_as_read(self) -> FastText<'a> {
        FastVisitorMessage {
            visitor: self.visitor,
            text: self.text.map(Into::into),
            attachments: self.attachments,
        }
    }
}

/// The parts of a body read the fast way; `None` (the tree's way) for an empty token.
fn parts_of_fast(fast: FastText<'_>) -> Option<VisitorMessageParts<'_>> {
    let Object(visitor) = fast.visitor;
    if visitor.token.is_empty() {
        return None;
    }
    let attachments = fast.attachments.map(|FastAttachments(list)| Items {
        count: list.len(),
        typed: true,
        list,
    });
    Some(VisitorMessageParts {
        token: visitor.token,
        text: fast.text,
        attachments,
    })
}

/// `{"id": <id>}` with `status`, as `serde_json` writes it, without a JSON tree.
fn id_reply(status: StatusCode, id: &str) -> WebhookReply {
    const HEAD: &[u8] = b"{\"id\":";
    // Its length when the id needs no escape (a derived id never does): the buffer becomes
    // the reply's bytes without another allocation.
    let mut body = Vec::with_capacity(HEAD.len() + id.len() + 3);
    body.extend_from_slice(HEAD);
    json::write_string(&mut body, id);
    body.push(b'}');
    // The headers of `WebhookReply::json`, built once (a header value made from a string is
    // checked byte by byte each time).
    static JSON_HEADERS: LazyLock<HeaderMap> =
        LazyLock::new(|| WebhookReply::json(StatusCode::OK, &Value::Null).headers);
    WebhookReply {
        status,
        headers: JSON_HEADERS.clone(),
        body: body.into(),
    }
}

fn no_room(token: &str) -> String {
    format!("{MSG_NO_ROOM_PREFIX}{token}")
}

fn answer(status: StatusCode, message: &str) -> Inbound {
    Inbound::new(
        vec![],
        WebhookReply::json(status, &json!({ "error": message })),
    )
}

fn validated(body: &Value, constraints: validate::Constraints) -> Result<()> {
    match validate::check(body, constraints) {
        Some(errors) => Err(Error::malformed(errors)),
        None => Ok(()),
    }
}

/// A string at a path of a validated body ("" when absent, which validation has excluded).
fn str_at<'a>(body: &'a Value, path: &[&str]) -> &'a str {
    let mut cur = body;
    for k in path {
        match cur.get(k) {
            Some(v) => cur = v,
            None => return "",
        }
    }
    cur.as_str().unwrap_or("")
}

/// Whether Rocket.Chat's body parser takes the body as JSON: `application/json`, any parameters.
fn is_json(req: &WebhookRequest) -> bool {
    let Some(value) = req.headers.get(http::header::CONTENT_TYPE) else {
        return false;
    };
    // (The exact value, the usual one, compared as bytes without splitting.)
    value.as_bytes() == b"application/json"
        || value
            .to_str()
            .unwrap_or("")
            .split(';')
            .next()
            .is_some_and(|t| t.trim().eq_ignore_ascii_case("application/json"))
}

/// The request body as the app sees it (`request.content`): Rocket.Chat's JSON body parser
/// parses bodies sent as `application/json` (any parameters) and refuses invalid JSON with 400;
/// other bodies leave the content empty.
fn content_of(req: &WebhookRequest) -> Result<Value> {
    if !is_json(req) || req.body.iter().all(u8::is_ascii_whitespace) {
        return Ok(json!({}));
    }
    match serde_json::from_slice::<Value>(&req.body) {
        Ok(v @ (Value::Object(_) | Value::Array(_))) => Ok(v),
        Ok(_) => Err(Error::malformed("body must be a JSON object")),
        Err(e) => Err(Error::malformed(format!("body is not JSON: {e}"))),
    }
}

#[async_trait]
impl Channel for RapidproChannel {
    fn provider(&self) -> Provider {
        Provider::Rapidpro
    }

    fn capabilities(&self) -> &Capabilities {
        &self.capabilities
    }

    /// The app's header checks for the endpoint the URL names (Content-Type where the app
    /// checks it, then the secret).
    fn verify(&self, req: &WebhookRequest) -> Result<(), VerifyError> {
        let endpoint =
            webhook::endpoint_of(&req.url, &self.config.app_id).ok_or(VerifyError::Malformed {
                reason: REASON_NOT_FOUND.into(),
            })?;
        match webhook::check_app_headers(
            req,
            &self.config.secret,
            endpoint.checks_content_type(&req.method),
        ) {
            Ok(()) => Ok(()),
            Err(HeaderRefusal::Auth(v)) => Err(v),
            Err(HeaderRefusal::ContentType) => Err(VerifyError::MalformedHeader {
                header: "content-type",
                reason: "not exactly application/json",
            }),
        }
    }

    async fn receive(&self, req: &WebhookRequest) -> Result<Inbound> {
        let endpoint =
            webhook::endpoint_of(&req.url, &self.config.app_id).ok_or(VerifyError::Malformed {
                reason: REASON_NOT_FOUND.into(),
            })?;
        req.check_body_limit(self.config.max_body_bytes)?;
        // A JSON `visitor-message` of the usual shape (the bulk of the traffic) is read once,
        // into its fields; any other body as the app reads it, into a tree.
        let fast = if endpoint == Endpoint::VisitorMessage && is_json(req) {
            fast_visitor_message(&req.body)
        } else {
            None
        };
        let body = match fast {
            Some((message, text)) => Body::VisitorMessage(message, text),
            None => Body::Tree(content_of(req)?),
        };
        if !endpoint.implements(&req.method) {
            return Err(VerifyError::Malformed {
                reason: REASON_METHOD.into(),
            }
            .into());
        }
        webhook::check_app_headers(
            req,
            &self.config.secret,
            endpoint.checks_content_type(&req.method),
        )?;
        match body {
            Body::VisitorMessage(message, text) => {
                self.take_visitor_message(
                    message,
                    Raw::parsed_json_shared(&req.body, text),
                    &req.body,
                )
                .await
            }
            // Boxed: the other endpoints' futures would make every `receive` future (the
            // visitor message's too) their size.
            Body::Tree(tree) => Box::pin(self.handle(endpoint, &req.method, tree, &req.body)).await,
        }
    }

    /// Delivers an agent's message to RapidPro (`agent-message`). The visitor token is the
    /// message's `conversation_id`; the ticket comes from the room store, else from
    /// `metadata.ticket_id`. With `metadata.action = "close-room"` the room is closed instead
    /// (no content needed).
    async fn send(&self, msg: &dyn OutboundMessage) -> Result<SendReceipt> {
        if msg.metadata(META_ACTION).and_then(Value::as_str) == Some("close-room") {
            let token = normalize::outbound_token(msg)?;
            let id = self.close_room(&token).await?;
            return Ok(SendReceipt::new(
                Provider::Rapidpro,
                id,
                SendStatus::Sent,
                Some(json!({"type": "close-room"})),
            ));
        }
        self.capabilities.check_at(msg, self.clock.now())?;
        let token = normalize::outbound_token(msg)?;
        let ticket_id = match self.store.room(&token).await? {
            Some(room) => room.ticket_id,
            None => msg
                .metadata(META_TICKET_ID)
                .and_then(Value::as_str)
                .filter(|t| !t.is_empty())
                .map(str::to_string)
                .ok_or_else(|| {
                    Error::invalid_input(
                        "metadata.ticket_id",
                        "no room for this visitor token; give the ticket UUID",
                    )
                })?,
        };
        let hook = normalize::agent_message_from(msg, &ticket_id)?;
        self.deliver(&hook).await?;
        let id = format!(
            "{ticket_id}:{}",
            derived_id(&[b"agent-message", ticket_id.as_bytes(), &hook.to_body()])
        );
        Ok(SendReceipt::new(
            Provider::Rapidpro,
            id,
            SendStatus::Sent,
            Some(json!({"type": "agent-message", "ticketID": ticket_id})),
        ))
    }

    /// The app's answers: 404 (plain text) for an unknown app or endpoint, plain-text 500 for a
    /// method the endpoint lacks, 400 `{"error": ...}` for a bad Content-Type, body or
    /// validation (the grouped messages as a JSON string), 403 `{"error": ...}` for the secret,
    /// 413 for an oversized body, 500 `{"error":"Unexpected error"}` for anything else.
    fn reject_reply(&self, err: &Error) -> WebhookReply {
        match err {
            Error::Verify(VerifyError::Malformed { reason }) if reason == REASON_NOT_FOUND => {
                WebhookReply::with_body(
                    StatusCode::NOT_FOUND,
                    "text/plain; charset=utf-8",
                    "Not Found",
                )
            }
            Error::Verify(VerifyError::Malformed { .. }) => WebhookReply::with_body(
                StatusCode::INTERNAL_SERVER_ERROR,
                "text/plain; charset=utf-8",
                "Internal Server Error",
            ),
            Error::Verify(VerifyError::PayloadTooLarge { .. }) | Error::PayloadTooLarge { .. } => {
                WebhookReply::json(
                    StatusCode::PAYLOAD_TOO_LARGE,
                    &json!({"error": "request entity too large"}),
                )
            }
            Error::Verify(VerifyError::Unauthorized { reason }) => {
                WebhookReply::json(StatusCode::FORBIDDEN, &json!({ "error": reason }))
            }
            Error::Verify(VerifyError::MalformedHeader {
                header: "content-type",
                ..
            }) => WebhookReply::json(
                StatusCode::BAD_REQUEST,
                &json!({"error": crate::api::MSG_INVALID_CONTENT_TYPE}),
            ),
            Error::Verify(_) => WebhookReply::json(
                StatusCode::FORBIDDEN,
                &json!({ "error": MSG_INVALID_AUTHORIZATION }),
            ),
            Error::MalformedPayload { reason } => {
                WebhookReply::json(StatusCode::BAD_REQUEST, &json!({ "error": reason }))
            }
            _ => WebhookReply::json(
                StatusCode::INTERNAL_SERVER_ERROR,
                &json!({ "error": MSG_UNEXPECTED }),
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    /// The `{"id": ...}` answer written without a tree is serde_json's, byte for byte, with
    /// the same status and headers (ids needing escapes take serde_json's way).
    #[test]
    fn id_answers_are_serde_jsons() {
        for id in ["KtdzcWYZhjuh4Lq8A", "", "a\"b", "\\", "é", "x y", "a\u{1}"] {
            let fast = id_reply(StatusCode::CREATED, id);
            let tree = WebhookReply::json(StatusCode::CREATED, &json!({ "id": id }));
            assert_eq!(fast.status, tree.status, "{id}");
            assert_eq!(fast.headers, tree.headers, "{id}");
            assert_eq!(fast.body, tree.body, "{id}");
        }
    }

    /// Every body the one-pass reading takes passes the app's validation and reads the same
    /// as its tree; the others are left to the tree.
    #[test]
    fn visitor_message_fast_path_matches_the_tree() {
        let taken: &[&str] = &[
            r#"{"visitor":{"token":"v1"},"text":"hi \"you\"\n é 🙏"}"#,
            r#"{"visitor":{"token":"v1","name":"x"},"text":null,"attachments":[{"type":"image/png","url":"https://x.test/a"},{"url":null,"type":"document/pdf"},{"type":""},{"type":"VIDEO/mp4","url":"https:\/\/x.test\/b\u00e9"}]}"#,
            r#"{"visitor":{"token":"v1"},"attachments":[]}"#,
            r#"{"attachments":[{"type":"audio/ogg","url":"u"}],"visitor":{"token":"v1"},"text":"t"}"#,
            r#"{"visitor":{"token":"v1"},"attachments":null,"other":{"a":[1]}}"#,
            r#"{"visitor":{"token":"v1"},"text":""}"#,
            r#"{"visitor":{"token":"v\u00e9"},"text":"\ud83d\ude4f"}"#,
            r#"{"visitor":{"token":"v1"},"text":"\u00e9\\\/\b\f\r\t\"x\"\u0000 ok"}"#,
            r#"{"visitor":{"token":"v1"},"text" : "a" ,"attachments" : [ { "type" : "x" } ] }"#,
        ];
        for body in taken {
            let (fast, text) = fast_visitor_message(body.as_bytes()).expect(body);
            assert_eq!(text, *body);
            let tree: Value = serde_json::from_str(body).unwrap();
            assert_eq!(
                validate::check(&tree, validate::VISITOR_MESSAGE),
                None,
                "{body}"
            );
            assert_eq!(fast, visitor_message_of_tree(&tree), "{body}");
        }
        let left: &[&[u8]] = &[
            br#"{"visitor":{"token":""},"text":"hi"}"#,
            br#"{"visitor":{"token":5},"text":"hi"}"#,
            br#"{"visitor":{},"text":"hi"}"#,
            br#"{"visitor":"v1","text":"hi"}"#,
            br#"{"text":"hi"}"#,
            br#"{"visitor":{"token":"v1"},"text":1}"#,
            br#"{"visitor":{"token":"v1"},"attachments":{"type":"x"}}"#,
            br#"{"visitor":{"token":"v1"},"text":"a","text":"b"}"#,
            br#"{"visitor":{"token":"v1","name":"x"},"text":null,"attachments":[{"type":"image/png","url":"https://x.test/a"},{"url":"u"},3]}"#,
            br#"{"visitor":{"token":"v1"},"attachments":[{"type":"image/png","url":"u","size":1e400}]}"#,
            br#"{"visitor":{"token":"v1"},"attachments":[{"type":"image/png","type":"video/mp4"}]}"#,
            br#"{"visitor":{"token":"v1"},"attachments":[{"type":null,"url":"u"}]}"#,
            br#"{"visitor":{"token":"v1"},"attachments":[{"type":"image/png","url":5}]}"#,
            br#"{"visitor":{"token":"v1"},"attachments":[["image/png","u"]]}"#,
            br#"{"visitor":{"token":"v1"},"attachments":[{"type":"image/png","url":"\ud800"}]}"#,
            br#"[{"visitor":{"token":"v1"}}]"#,
            br#"[{"token":"v1"},"hi"]"#,
            br#"{"visitor":["v1"],"text":"hi"}"#,
            br#"{"visitor":{"token":"v1"},"text":"a\ud800"}"#,
            br#"{"visitor":{"token":"v1"},"text":"\udc00\ud800"}"#,
            br#"{"visitor":{"token":"v1"},"text":["hi"]}"#,
            br#"{"visitor":{"token":"v1"},"text":{"a":"hi"}}"#,
            b"{\"visitor\":{\"token\":\"v\xff\"}}",
            b"{\"visitor\":",
        ];
        for body in left {
            assert!(
                fast_visitor_message(body).is_none(),
                "{}",
                String::from_utf8_lossy(body)
            );
        }
        // Where the one-pass reader answers, serde_json's reading gives the same parts; it
        // answers for the usual body (text, no attachments).
        let all = taken
            .iter()
            .map(|b| b.as_bytes())
            .chain(left.iter().copied());
        for body in all {
            let Ok(text) = std::str::from_utf8(body) else {
                continue;
            };
            if let Some(nested) = visitor_message_by_nested(text) {
                assert_eq!(
                    parts_of_fast(nested),
                    visitor_message_by_serde(text).and_then(parts_of_fast),
                    "{text}"
                );
            }
        }
        assert!(visitor_message_by_nested(taken[0]).is_some());
        assert!(visitor_message_by_nested(taken[1]).is_some());
        assert!(visitor_message_by_nested(taken[7]).is_some());
        assert!(visitor_message_by_nested(MUTATED).is_some());
    }

    /// A visitor message with text and attachments, mutated by one character.
    const MUTATED: &str = r#"{"visitor":{"token":"v\u00e91"},"text":"hi \"you\"\n é 🙏 \ud83d\ude4f","attachments":[{"type":"image/png","url":"https:\/\/x.test/a"},{"url":null,"type":"document/pdf"}],"x":[1,{"a":null}]}"#;

    proptest::proptest! {
        /// Wherever the one-pass reader answers for a mutated body, serde_json's reading gives
        /// the same parts.
        #[test]
        fn mutated_visitor_messages_read_the_same_both_ways(
            at in 0usize..200,
            op in 0u8..3,
            with in proptest::sample::select(crate::test_support::MUTATION_CHARS.to_vec()),
        ) {
            let m = crate::test_support::mutated(MUTATED, at, op, with);
            if let Some(nested) = visitor_message_by_nested(&m) {
                proptest::prop_assert_eq!(
                    parts_of_fast(nested),
                    visitor_message_by_serde(&m).and_then(parts_of_fast),
                    "{}", m
                );
            }
        }
    }
}
