//! Both sides talking over loopback HTTP: the RapidPro side's client against the app side
//! mounted on 127.0.0.1, and the app side's webhooks against the RapidPro side's handler.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::{Arc, Mutex};

use omnichannel_core::{
    Channel, ChannelEnv, Event, EventKind, Message, SecretString, WebhookRequest,
};
use omnichannel_rocketchat_rapidpro::model::{OpenRoom, Visitor};
use omnichannel_rocketchat_rapidpro::{
    ClientError, RapidproChannel, RapidproConfig, RocketchatChannel, RocketchatConfig,
};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

const APP: &str = "684202ed-1461-4983-9ea7-fde74b15026c";
const SECRET: &str = "test-secret-not-real";
const CALLBACK: &str = "https://rapidpro.example.com/mr/tickets/types/rocketchat/event_callback/6c50665f-b4ff-4e37-9625-bc464fe6a999";

/// Serves `channel.receive` on 127.0.0.1 (one request per connection, HTTP/1.1), recording
/// the events it produced. Returns the origin `http://127.0.0.1:<port>`.
async fn serve(channel: Arc<dyn Channel>, events: Arc<Mutex<Vec<Event>>>) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let origin = format!("http://{}", listener.local_addr().unwrap());
    let base = origin.clone();
    tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                return;
            };
            let channel = channel.clone();
            let events = events.clone();
            let base = base.clone();
            tokio::spawn(async move {
                handle(stream, channel, events, &base).await;
            });
        }
    });
    origin
}

async fn handle(
    mut stream: TcpStream,
    channel: Arc<dyn Channel>,
    events: Arc<Mutex<Vec<Event>>>,
    base: &str,
) {
    let mut buf = Vec::new();
    let head_end = loop {
        let mut chunk = [0u8; 4096];
        let n = stream.read(&mut chunk).await.unwrap();
        assert!(n > 0, "connection closed before the headers ended");
        buf.extend_from_slice(&chunk[..n]);
        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break i + 4;
        }
    };
    let head = std::str::from_utf8(&buf[..head_end]).unwrap().to_string();
    let mut lines = head.split("\r\n");
    let mut request_line = lines.next().unwrap().split(' ');
    let method = request_line.next().unwrap().to_string();
    let target = request_line.next().unwrap().to_string();
    let mut builder = http::Request::builder()
        .method(method.as_str())
        .uri(&target);
    let mut length = 0usize;
    for line in lines.filter(|l| !l.is_empty()) {
        let (k, v) = line.split_once(':').unwrap();
        if k.eq_ignore_ascii_case("content-length") {
            length = v.trim().parse().unwrap();
        }
        builder = builder.header(k.trim(), v.trim());
    }
    let mut body = buf[head_end..].to_vec();
    while body.len() < length {
        let mut chunk = [0u8; 4096];
        let n = stream.read(&mut chunk).await.unwrap();
        body.extend_from_slice(&chunk[..n]);
    }
    let req = WebhookRequest::from_http(builder.body(body.into()).unwrap(), Some(base));
    let reply = match channel.receive(&req).await {
        Ok(inbound) => {
            events.lock().unwrap().extend(inbound.events);
            inbound.reply
        }
        Err(e) => channel.reject_reply(&e),
    };
    let mut out = format!(
        "HTTP/1.1 {} {}\r\ncontent-length: {}\r\nconnection: close\r\n",
        reply.status.as_u16(),
        reply.status.canonical_reason().unwrap_or(""),
        reply.body.len()
    );
    for (k, v) in &reply.headers {
        out.push_str(&format!("{k}: {}\r\n", v.to_str().unwrap()));
    }
    out.push_str("\r\n");
    stream.write_all(out.as_bytes()).await.unwrap();
    stream.write_all(&reply.body).await.unwrap();
    stream.shutdown().await.ok();
}

fn open(token: &str, ticket: &str, name: Option<&str>) -> OpenRoom {
    OpenRoom {
        visitor: Visitor {
            contact_uuid: Some("5d76d86b-3bb9-4d5a-b822-c9d86f5d8e4f".into()),
            name: name.map(str::to_string),
            phone: Some("+12024561111".into()),
            ..Visitor::token(token)
        },
        ticket_id: ticket.into(),
        priority: None,
    }
}

#[tokio::test]
async fn rapidpro_side_and_app_side_talk_over_loopback() {
    // The RapidPro side's webhook handler (mailroom's event_callback), on loopback.
    let mailroom_events = Arc::new(Mutex::new(Vec::new()));
    let rapidpro_side_for_hooks: Arc<dyn Channel> = Arc::new(
        RocketchatChannel::new(
            RocketchatConfig::new("https://unused.example.com/api/apps/public/x", SECRET),
            &ChannelEnv::default(),
        )
        .unwrap(),
    );
    let mailroom = serve(rapidpro_side_for_hooks, mailroom_events.clone()).await;

    // The app side, on loopback; its callback URL (a public one, as the app's validation
    // requires) is moved to the loopback mailroom by the environment's origin override.
    let app_env = ChannelEnv {
        origin_override: Some(url::Url::parse(&mailroom).unwrap()),
        ..ChannelEnv::default()
    };
    let app = Arc::new(RapidproChannel::new(RapidproConfig::new(APP, SECRET), &app_env).unwrap());
    let app_events = Arc::new(Mutex::new(Vec::new()));
    let app_origin = serve(app.clone(), app_events.clone()).await;

    // The RapidPro side's client, pointed at the loopback app.
    let rapidpro = RocketchatChannel::new(
        RocketchatConfig::new(format!("{app_origin}/api/apps/public/{APP}"), SECRET),
        &ChannelEnv::default(),
    )
    .unwrap();
    let client = rapidpro.client();

    // Connect the ticketer.
    client.check_secret().await.unwrap();
    assert_eq!(client.get_settings().await.unwrap(), None);
    client.set_settings(CALLBACK).await.unwrap();
    assert_eq!(
        client.get_settings().await.unwrap().as_deref(),
        Some(CALLBACK)
    );
    let e = client
        .set_settings("http://localhost:8000/mr/x")
        .await
        .unwrap_err();
    assert!(
        matches!(&e, ClientError::Validation { errors } if errors["webhook.url"] == ["Webhook url is not a valid url"]),
        "{e:?}"
    );

    // Open a ticket; a second one for the same contact is refused; a nameless contact too.
    let ticket = "59d74b86-3e2f-4a93-aece-b05d2fdcde0c";
    let room_id = rapidpro
        .open_room(&open("1234567", ticket, Some("Ryan Lewis")))
        .await
        .unwrap();
    assert_eq!(room_id.len(), 17);
    let e = client
        .open_room(&open("1234567", ticket, Some("Ryan Lewis")))
        .await
        .unwrap_err();
    assert!(matches!(e, ClientError::RoomAlreadyOpen), "{e:?}");
    let e = client
        .open_room(&open("42", "11137eb1-c831-4ddc-ba26-0bb77837f15e", None))
        .await
        .unwrap_err();
    assert!(
        matches!(&e, ClientError::Validation { errors } if errors["visitor.name"] == ["Visitor name can't be blank"]),
        "{e:?}"
    );

    // The contact writes; the agent answers; the agent closes the room.
    let receipt = rapidpro
        .send(
            &Message::text("It's urgent")
                .conversation_id("1234567")
                .build(),
        )
        .await
        .unwrap();
    assert_eq!(receipt.message_id.len(), 17);
    app.send(
        &Message::text("We can help")
            .conversation_id("1234567")
            .build(),
    )
    .await
    .unwrap();
    app.close_room("1234567").await.unwrap();

    // The room is gone on the app side.
    let e = rapidpro
        .send(
            &Message::text("still there?")
                .conversation_id("1234567")
                .build(),
        )
        .await
        .unwrap_err();
    assert_eq!(e.kind(), "provider_error");
    let e = client.close_room("1234567").await.unwrap_err();
    assert!(
        matches!(&e, ClientError::NoOpenRoom { token } if token == "1234567"),
        "{e:?}"
    );

    // A new ticket, closed by RapidPro this time.
    let second = "11137eb1-c831-4ddc-ba26-0bb77837f15e";
    rapidpro
        .open_room(&open("1234567", second, Some("Ryan Lewis")))
        .await
        .unwrap();
    rapidpro.close_room("1234567").await.unwrap();

    let app_events = app_events.lock().unwrap().clone();
    let kinds: Vec<EventKind> = app_events.iter().map(|e| e.kind).collect();
    assert_eq!(
        kinds,
        [
            EventKind::ChannelAuthorized,
            EventKind::ConversationOpened,
            EventKind::Message,
            EventKind::ConversationOpened,
            EventKind::ConversationClosed,
        ]
    );
    assert_eq!(app_events[1].id, ticket);
    assert_eq!(app_events[2].text.as_deref(), Some("It's urgent"));
    assert_eq!(app_events[2].id, receipt.message_id);
    assert_eq!(app_events[4].id, format!("{second}:closed"));

    let mailroom_events = mailroom_events.lock().unwrap().clone();
    let kinds: Vec<EventKind> = mailroom_events.iter().map(|e| e.kind).collect();
    assert_eq!(kinds, [EventKind::Message, EventKind::ConversationClosed]);
    assert_eq!(mailroom_events[0].text.as_deref(), Some("We can help"));
    assert_eq!(
        mailroom_events[0].conversation_id.as_deref(),
        Some("1234567")
    );
    assert_eq!(mailroom_events[1].id, format!("{ticket}:closed"));
}

#[tokio::test]
async fn a_close_rapidpro_did_not_acknowledge_goes_again() {
    // No mailroom listening: the close-room webhook fails, the room is marked closed.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let dead = format!("http://{}", listener.local_addr().unwrap());
    drop(listener);
    let env = ChannelEnv {
        origin_override: Some(url::Url::parse(&dead).unwrap()),
        ..ChannelEnv::default()
    };
    let app = RapidproChannel::new(
        RapidproConfig::new(APP, SECRET).with_callback_url(CALLBACK),
        &env,
    )
    .unwrap();
    let secret = SecretString::from(SECRET);
    let base = format!("https://chat.example.com/api/apps/public/{APP}");
    let room = serde_json::to_vec(&open(
        "7",
        "59d74b86-3e2f-4a93-aece-b05d2fdcde0c",
        Some("A"),
    ))
    .unwrap();
    let req = omnichannel_rocketchat_rapidpro::webhook::app_request(
        &base,
        omnichannel_rocketchat_rapidpro::webhook::Endpoint::Room,
        http::Method::GET,
        &secret,
        room.clone(),
    )
    .unwrap();
    assert_eq!(app.receive(&req).await.unwrap().reply.status, 201);
    assert_eq!(app.close_room("7").await.unwrap_err().kind(), "transport");
    let record = app.store().room("7").await.unwrap().unwrap();
    assert!(record.closed);
    // RapidPro opens a new ticket: the webhook goes again, fails again, the room stays.
    let reply = app.receive(&req).await.unwrap().reply;
    assert_eq!(reply.status, 400);
    assert_eq!(
        reply.body.as_ref(),
        br#"{"error":"Visitor already has an open room"}"#
    );
}

#[tokio::test]
async fn without_a_callback_url_the_room_stays_open() {
    let app = RapidproChannel::new(
        RapidproConfig::new(APP, SECRET).with_room(omnichannel_rocketchat_rapidpro::RoomRecord {
            token: "7".into(),
            ticket_id: "59d74b86-3e2f-4a93-aece-b05d2fdcde0c".into(),
            contact_uuid: String::new(),
            room_id: "uiF7ybjsv7PSJGSw6".into(),
            closed: false,
        }),
        &ChannelEnv::default(),
    )
    .unwrap();
    let e = app.close_room("7").await.unwrap_err();
    assert_eq!(e.kind(), "invalid_input");
    assert!(!app.store().room("7").await.unwrap().unwrap().closed);
}
