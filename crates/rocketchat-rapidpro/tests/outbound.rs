//! The client of the app and the webhook sender against wiremock: exact method, path, headers
//! and body of every call, and every documented error answer.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use omnichannel_core::{Error, SecretString};
use omnichannel_rocketchat_rapidpro::model::{
    AgentMessageData, AppWebhook, Attachment, OpenRoom, Visitor, VisitorMessage, VisitorToken,
};
use omnichannel_rocketchat_rapidpro::{AppClient, ClientError, WebhookSender};
use pretty_assertions::assert_eq;
use wiremock::matchers::{body_string, header, method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

const APP: &str = "684202ed-1461-4983-9ea7-fde74b15026c";
const SECRET: &str = "123456789";

fn app_path(endpoint: &str) -> String {
    format!("/api/apps/public/{APP}/{endpoint}")
}

fn client(server: &MockServer) -> AppClient {
    AppClient::new(
        reqwest::Client::new(),
        format!("{}/api/apps/public/{APP}/", server.uri()),
        SecretString::from(SECRET),
    )
}

/// A mock that only answers the exact request (method, path, both headers, body).
async fn expect(server: &MockServer, m: &str, endpoint: &str, body: &str, res: ResponseTemplate) {
    Mock::given(method(m))
        .and(path(app_path(endpoint)))
        .and(header("authorization", "Token 123456789"))
        .and(header("content-type", "application/json"))
        .and(body_string(body))
        .respond_with(res)
        .expect(1)
        .mount(server)
        .await;
}

/// mailroom's TestOpenAndForward_open_ticket.snap body (199 bytes).
const OPEN_BODY: &str = r#"{"visitor":{"token":"1234567","contactUUID":"5d76d86b-3bb9-4d5a-b822-c9d86f5d8e4f","name":"Ryan Lewis","email":"foo@bar.com","phone":"+12024561111"},"ticketID":"59d74b86-3e2f-4a93-aece-b05d2fdcde0c"}"#;
/// mailroom's TestOpenAndForward_forward_message.snap body (231 bytes).
const FORWARD_BODY: &str = r#"{"visitor":{"token":"10000"},"text":"It's urgent","attachments":[{"type":"image/jpg","url":"https://link.to/image.jpg"},{"type":"video/mp4","url":"https://link.to/video.mp4"},{"type":"audio/ogg","url":"https://link.to/audio.ogg"}]}"#;
/// mailroom's TestCloseAndReopen_close_tickets.snap body (29 bytes).
const CLOSE_BODY: &str = r#"{"visitor":{"token":"10000"}}"#;
const CALLBACK: &str = "https://rapidpro.example.com/mr/tickets/types/rocketchat/event_callback/6c50665f-b4ff-4e37-9625-bc464fe6a999";

fn open_room() -> OpenRoom {
    OpenRoom {
        visitor: Visitor {
            contact_uuid: Some("5d76d86b-3bb9-4d5a-b822-c9d86f5d8e4f".into()),
            name: Some("Ryan Lewis".into()),
            email: Some("foo@bar.com".into()),
            phone: Some("+12024561111".into()),
            ..Visitor::token("1234567")
        },
        ticket_id: "59d74b86-3e2f-4a93-aece-b05d2fdcde0c".into(),
        priority: None,
    }
}

fn forward() -> VisitorMessage {
    VisitorMessage {
        visitor: VisitorToken {
            token: "10000".into(),
        },
        text: Some("It's urgent".into()),
        attachments: vec![
            Attachment::new("image/jpg", "https://link.to/image.jpg"),
            Attachment::new("video/mp4", "https://link.to/video.mp4"),
            Attachment::new("audio/ogg", "https://link.to/audio.ogg"),
        ],
    }
}

#[test]
fn bodies_are_mailroom_snapshots_byte_for_byte() {
    assert_eq!(serde_json::to_string(&open_room()).unwrap(), OPEN_BODY);
    assert_eq!(OPEN_BODY.len(), 199);
    assert_eq!(serde_json::to_string(&forward()).unwrap(), FORWARD_BODY);
    assert_eq!(FORWARD_BODY.len(), 231);
    assert_eq!(CLOSE_BODY.len(), 29);
}

#[tokio::test]
async fn room_is_a_get_with_a_json_body_answering_201() {
    let server = MockServer::start().await;
    expect(
        &server,
        "GET",
        "room",
        OPEN_BODY,
        ResponseTemplate::new(201).set_body_string(r#"{ "id": "uiF7ybjsv7PSJGSw6" }"#),
    )
    .await;
    let id = client(&server).open_room(&open_room()).await.unwrap();
    assert_eq!(id, "uiF7ybjsv7PSJGSw6");
    let req = &server.received_requests().await.unwrap()[0];
    assert_eq!(req.headers["content-length"], "199");
}

#[tokio::test]
async fn room_close_is_a_get_with_a_json_body_answering_204() {
    let server = MockServer::start().await;
    expect(
        &server,
        "GET",
        "room.close",
        CLOSE_BODY,
        ResponseTemplate::new(204),
    )
    .await;
    client(&server).close_room("10000").await.unwrap();
}

#[tokio::test]
async fn visitor_message_is_a_post_answering_201() {
    let server = MockServer::start().await;
    expect(
        &server,
        "POST",
        "visitor-message",
        FORWARD_BODY,
        ResponseTemplate::new(201).set_body_string(r#"{ "id": "tyLrD97j8TFZmT3Y6" }"#),
    )
    .await;
    let id = client(&server).visitor_message(&forward()).await.unwrap();
    assert_eq!(id, "tyLrD97j8TFZmT3Y6");
}

#[tokio::test]
async fn secret_check_and_settings() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path(app_path("secret.check")))
        .and(header("authorization", "Token 123456789"))
        .and(header("content-type", "application/json"))
        .respond_with(ResponseTemplate::new(200).set_body_string(r#"{"status":"ok"}"#))
        .expect(1)
        .mount(&server)
        .await;
    expect(
        &server,
        "PUT",
        "settings",
        &format!(r#"{{"webhook":{{"url":"{CALLBACK}"}}}}"#),
        ResponseTemplate::new(204),
    )
    .await;
    Mock::given(method("GET"))
        .and(path(app_path("settings")))
        .and(header("authorization", "Token 123456789"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_string(format!(r#"{{"webhook":{{"url":"{CALLBACK}"}}}}"#)),
        )
        .expect(1)
        .mount(&server)
        .await;
    let c = client(&server);
    c.check_secret().await.unwrap();
    c.set_settings(CALLBACK).await.unwrap();
    assert_eq!(c.get_settings().await.unwrap().as_deref(), Some(CALLBACK));
}

#[tokio::test]
async fn get_settings_without_url() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path(app_path("settings")))
        .respond_with(ResponseTemplate::new(200).set_body_string(r#"{"webhook":{}}"#))
        .mount(&server)
        .await;
    assert_eq!(client(&server).get_settings().await.unwrap(), None);
}

/// RapidPro's client test: `settings` succeeds on 204 only; every other status raises.
#[tokio::test]
async fn settings_succeeds_only_on_204() {
    for status in [
        200u16, 201, 202, 203, 205, 206, 400, 401, 403, 404, 409, 422, 500, 502, 503,
    ] {
        let server = MockServer::start().await;
        Mock::given(method("PUT"))
            .and(path(app_path("settings")))
            .respond_with(ResponseTemplate::new(status))
            .mount(&server)
            .await;
        let err = client(&server).set_settings(CALLBACK).await.unwrap_err();
        assert!(
            matches!(err, ClientError::UnexpectedStatus { status: s } if s == status),
            "{status}: {err:?}"
        );
    }
}

async fn answer(status: u16, body: &str) -> ClientError {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(app_path("visitor-message")))
        .respond_with(ResponseTemplate::new(status).set_body_string(body.to_string()))
        .mount(&server)
        .await;
    client(&server)
        .visitor_message(&forward())
        .await
        .unwrap_err()
}

#[tokio::test]
async fn every_documented_error_answer_is_typed() {
    let e = answer(400, r#"{"error":"Invalid Content-Type header"}"#).await;
    assert!(matches!(e, ClientError::InvalidContentType), "{e:?}");
    let e = answer(403, r#"{"error":"Secret not set"}"#).await;
    assert!(matches!(e, ClientError::SecretNotSet), "{e:?}");
    assert_eq!(Error::from(e).kind(), "unauthorized");
    let e = answer(403, r#"{"error":"Invalid Authorization header"}"#).await;
    assert!(matches!(e, ClientError::InvalidAuthorization), "{e:?}");
    assert_eq!(Error::from(e).kind(), "unauthorized");

    let e = answer(
        400,
        r#"{"error":"{\"visitor.name\":[\"Visitor name can't be blank\"],\"visitor.email\":[\"Visitor email is not a valid email\"]}"}"#,
    )
    .await;
    match &e {
        ClientError::Validation { errors } => {
            assert_eq!(errors["visitor.name"], vec!["Visitor name can't be blank"]);
            assert_eq!(
                errors["visitor.email"],
                vec!["Visitor email is not a valid email"]
            );
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(Error::from(e).kind(), "invalid_input");

    let e = answer(400, r#"{"error":"Visitor already has an open room"}"#).await;
    assert!(matches!(e, ClientError::RoomAlreadyOpen), "{e:?}");
    // mailroom's client test mocks 400; the app really answers 404.
    for status in [400, 404] {
        let e = answer(
            status,
            r#"{ "error": "Could not find a room for visitor token: 1234" }"#,
        )
        .await;
        assert!(
            matches!(&e, ClientError::NoOpenRoom { token } if token == "1234"),
            "{e:?}"
        );
        let core = Error::from(e);
        assert_eq!(core.kind(), "provider_error");
        assert!(!core.retryable());
    }
    let e = answer(
        404,
        r#"{"error":"Could not find a department with name: IT Support"}"#,
    )
    .await;
    assert!(
        matches!(&e, ClientError::DepartmentNotFound { department } if department == "IT Support"),
        "{e:?}"
    );
    let e = answer(
        400,
        r#"{"error":"Could not send message with empty text and attachments"}"#,
    )
    .await;
    assert!(matches!(e, ClientError::EmptyMessage), "{e:?}");
    let e = answer(500, r#"{"error":"Unexpected error"}"#).await;
    assert!(matches!(e, ClientError::Unexpected), "{e:?}");
    assert!(Error::from(e).retryable());
    // mailroom's client test: an error the app never produces keeps its message.
    let e = answer(400, r#"{ "error": "There's no agents online" }"#).await;
    assert!(
        matches!(&e, ClientError::Rejected { status: 400, message } if message == "There's no agents online"),
        "{e:?}"
    );
    // Unknown app / unimplemented method: not JSON.
    let e = answer(404, "Not Found").await;
    assert!(
        matches!(e, ClientError::UnexpectedStatus { status: 404 }),
        "{e:?}"
    );
    let e = answer(500, "Internal Server Error").await;
    assert!(
        matches!(e, ClientError::UnexpectedStatus { status: 500 }),
        "{e:?}"
    );
    assert!(Error::from(e).retryable());
    // The agent closed the room: nothing delivered.
    let e = answer(201, r#"{"id":""}"#).await;
    assert!(matches!(e, ClientError::RoomClosed), "{e:?}");
    let e = answer(201, "created").await;
    assert!(matches!(e, ClientError::BadAnswer { .. }), "{e:?}");
}

#[tokio::test]
async fn connection_errors_are_transport() {
    // A port nothing listens on.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    drop(listener);
    let c = AppClient::new(
        reqwest::Client::new(),
        format!("http://{addr}/api/apps/public/{APP}"),
        SecretString::from(SECRET),
    );
    let e = c.open_room(&open_room()).await.unwrap_err();
    assert!(matches!(e, ClientError::Transport(_)), "{e:?}");
    let core = Error::from(e);
    assert_eq!(core.kind(), "transport");
    assert!(core.retryable());
}

fn cathy_message() -> AppWebhook {
    AppWebhook::AgentMessage {
        ticket_id: "e7187099-7d38-4f60-955c-325957214c42".into(),
        token: "1234".into(),
        data: AgentMessageData {
            text: Some("We can help".into()),
            attachments: vec![Attachment::new("image/jpg", "https://link.to/image.jpg")],
        },
    }
}

#[tokio::test]
async fn sender_posts_the_webhook_and_counts_only_200() {
    let server = MockServer::start().await;
    let hook_path =
        "/mr/tickets/types/rocketchat/event_callback/6c50665f-b4ff-4e37-9625-bc464fe6a999";
    Mock::given(method("POST"))
        .and(path(hook_path))
        .and(header("authorization", "Token test-secret-not-real"))
        .and(header("content-type", "application/json"))
        .and(body_string(
            r#"{"type":"agent-message","ticketID":"e7187099-7d38-4f60-955c-325957214c42","visitor":{"token":"1234"},"data":{"text":"We can help","attachments":[{"type":"image/jpg","url":"https://link.to/image.jpg"}]}}"#,
        ))
        .respond_with(ResponseTemplate::new(200).set_body_string(r#"{"status":"handled"}"#))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path(hook_path))
        .and(body_string(
            r#"{"type":"close-room","ticketID":"e7187099-7d38-4f60-955c-325957214c42","visitor":{"token":"1234"}}"#,
        ))
        .respond_with(ResponseTemplate::new(201))
        .expect(1)
        .mount(&server)
        .await;
    let sender = WebhookSender::new(
        reqwest::Client::new(),
        SecretString::from("test-secret-not-real"),
    );
    let url = format!("{}{hook_path}", server.uri());
    sender.deliver(&url, &cathy_message()).await.unwrap();
    let close = AppWebhook::CloseRoom {
        ticket_id: "e7187099-7d38-4f60-955c-325957214c42".into(),
        token: "1234".into(),
    };
    let e = sender.deliver(&url, &close).await.unwrap_err();
    assert_eq!(e.kind(), "provider_error");
}

#[tokio::test]
async fn sender_maps_mailroom_refusals() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(401).set_body_string(r#"{"status":"unauthorized"}"#))
        .mount(&server)
        .await;
    let sender = WebhookSender::new(reqwest::Client::new(), SecretString::from("wrong"));
    let e = sender
        .deliver(&format!("{}/mr/x", server.uri()), &cathy_message())
        .await
        .unwrap_err();
    assert_eq!(e.kind(), "unauthorized");
}

#[test]
fn authorization_header_is_sensitive() {
    let v =
        omnichannel_rocketchat_rapidpro::api::authorization(&SecretString::from(SECRET)).unwrap();
    assert!(v.is_sensitive());
    assert_eq!(v.to_str().unwrap(), "Token 123456789");
}

/// Counts connections to a listener that drops each one unanswered.
async fn dropping_listener() -> (String, std::sync::Arc<std::sync::atomic::AtomicUsize>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let origin = format!("http://{}", listener.local_addr().unwrap());
    let count = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let c = count.clone();
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            c.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            drop(stream);
        }
    });
    (origin, count)
}

#[tokio::test]
async fn only_idempotent_calls_are_retried() {
    use omnichannel_core::http::RetryPolicy;
    use std::sync::atomic::Ordering;
    let policy = RetryPolicy {
        max_attempts: 3,
        min_delay: std::time::Duration::from_millis(1),
        max_delay: std::time::Duration::from_millis(5),
        ..RetryPolicy::default()
    };
    let (origin, count) = dropping_listener().await;
    let c = AppClient::new(
        reqwest::Client::new(),
        format!("{origin}/api/apps/public/{APP}"),
        SecretString::from(SECRET),
    )
    .with_retry_policy(policy);
    assert!(matches!(
        c.set_settings(CALLBACK).await.unwrap_err(),
        ClientError::Transport(_)
    ));
    assert_eq!(count.load(Ordering::SeqCst), 3, "PUT settings is retried");
    count.store(0, Ordering::SeqCst);
    assert!(matches!(
        c.open_room(&open_room()).await.unwrap_err(),
        ClientError::Transport(_)
    ));
    assert_eq!(count.load(Ordering::SeqCst), 1, "room is never retried");
    count.store(0, Ordering::SeqCst);
    c.visitor_message(&forward()).await.unwrap_err();
    assert_eq!(
        count.load(Ordering::SeqCst),
        1,
        "visitor-message is never retried"
    );
}
