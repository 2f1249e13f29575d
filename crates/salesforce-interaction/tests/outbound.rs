//! Exact requests of every Interaction Service call, against a local wiremock server.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use omnichannel_core::http::RetryPolicy;
use omnichannel_core::{
    AttachmentKind, Channel, ChannelEnv, Contact, FixedClock, Message, OutboundAttachment,
    SecretString,
};
use omnichannel_salesforce_interaction::model::*;
use omnichannel_salesforce_interaction::{SalesforceChannel, SalesforceConfig};
use pretty_assertions::assert_eq;
use serde_json::{Value, json};
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, Request, ResponseTemplate};

const NOW_MS: i64 = 1_719_815_640_000;

fn channel(server: &MockServer) -> SalesforceChannel {
    let cfg = SalesforceConfig::builder(
        server.uri(),
        "00DRM000000O8Qy",
        "Partner1_ChannelDefinition1",
    )
    .access_token(SecretString::from("test-access-token-not-real"))
    .channel_address("chan-addr-1")
    .retry(RetryPolicy {
        max_attempts: 3,
        min_delay: Duration::from_millis(1),
        max_delay: Duration::from_millis(5),
        max_retry_after: Duration::from_secs(1),
    })
    .build()
    .unwrap();
    let env = ChannelEnv {
        clock: Arc::new(FixedClock::new(
            chrono::DateTime::from_timestamp_millis(NOW_MS).unwrap(),
        )),
        ..ChannelEnv::default()
    };
    SalesforceChannel::new(cfg, &env).unwrap()
}

async fn answer(server: &MockServer, m: &str, p: &str, status: u16, body: Value) {
    Mock::given(method(m))
        .and(path(p))
        .respond_with(ResponseTemplate::new(status).set_body_json(body))
        .mount(server)
        .await;
}

fn accepted() -> Value {
    json!({"conversationIdentifier": "conv-1", "id": "i-1", "workItemIds": ["0MwRM0000000001"], "success": true})
}

#[derive(Debug)]
struct Part {
    headers: BTreeMap<String, String>,
    data: Vec<u8>,
}

/// Splits a multipart body into its parts (headers lower-cased, data raw).
fn parts(r: &Request) -> Vec<Part> {
    let ct = r.headers["content-type"].to_str().unwrap();
    assert!(ct.starts_with("multipart/form-data; boundary="), "{ct}");
    let boundary = format!("--{}", ct.split("boundary=").nth(1).unwrap());
    let body = &r.body;
    let mut out = Vec::new();
    let find = |hay: &[u8], needle: &[u8], from: usize| {
        hay[from..]
            .windows(needle.len())
            .position(|w| w == needle)
            .map(|p| p + from)
    };
    let mut pos = find(body, boundary.as_bytes(), 0).unwrap() + boundary.len();
    loop {
        if body[pos..].starts_with(b"--") {
            break;
        }
        pos += 2; // CRLF
        let head_end = find(body, b"\r\n\r\n", pos).unwrap();
        let head = std::str::from_utf8(&body[pos..head_end]).unwrap();
        let mut headers = BTreeMap::new();
        for line in head.split("\r\n") {
            let (k, v) = line.split_once(':').unwrap();
            headers.insert(k.trim().to_ascii_lowercase(), v.trim().to_string());
        }
        let next = find(body, format!("\r\n{boundary}").as_bytes(), head_end).unwrap();
        out.push(Part {
            headers,
            data: body[head_end + 4..next].to_vec(),
        });
        pos = next + 2 + boundary.len();
    }
    out
}

fn common_headers(r: &Request) {
    assert_eq!(
        r.headers["authorization"],
        "Bearer test-access-token-not-real"
    );
    assert_eq!(r.headers["orgid"], "00DRM000000O8Qy");
    assert_eq!(
        r.headers["authorizationcontext"],
        "Partner1_ChannelDefinition1"
    );
    let rid = r.headers["requestid"].to_str().unwrap();
    assert!(uuid::Uuid::parse_str(rid).is_ok(), "{rid}");
}

#[tokio::test]
async fn text_message_multipart_has_one_json_part() {
    let server = MockServer::start().await;
    answer(&server, "POST", "/api/v1/interactions", 202, accepted()).await;
    let ch = channel(&server);
    let msg = Message::text("Hi there")
        .sender(Contact::new("end-user-42"))
        .idempotency_key("k-1")
        .build();
    let receipt = ch.send(&msg).await.unwrap();
    let reqs = server.received_requests().await.unwrap();
    assert_eq!(reqs.len(), 1);
    common_headers(&reqs[0]);
    let ps = parts(&reqs[0]);
    assert_eq!(ps.len(), 1);
    assert_eq!(
        ps[0].headers["content-disposition"],
        "form-data; name=\"json\""
    );
    assert_eq!(ps[0].headers["content-type"], "application/json");
    let v: Value = serde_json::from_slice(&ps[0].data).unwrap();
    let id = receipt.message_id.clone();
    assert_eq!(
        v,
        json!({"to": "chan-addr-1", "from": "end-user-42", "interactions": [{
            "timestamp": NOW_MS, "interactionType": "EntryInteraction",
            "payload": {"id": id, "entryType": "Message", "abstractMessage": {
                "messageType": "StaticContentMessage", "id": id,
                "staticContent": {"formatType": "Text", "text": "Hi there"}}}}]})
    );
    // The same idempotency key gives the same ids on a host retry.
    let again = ch.send(&msg).await.unwrap();
    assert_eq!(again.message_id, id);
    let reqs = server.received_requests().await.unwrap();
    assert_eq!(reqs[0].headers["requestid"], reqs[1].headers["requestid"]);
    assert_ne!(reqs[0].headers["requestid"].to_str().unwrap(), id);
}

#[tokio::test]
async fn attachment_multipart_has_json_and_file_parts() {
    let server = MockServer::start().await;
    answer(&server, "POST", "/api/v1/interactions", 202, accepted()).await;
    let ch = channel(&server);
    let bytes: Vec<u8> = (0..=255u8).chain([0, 0xff, b'\r', b'\n']).collect();
    let msg = Message::builder()
        .sender(Contact::new("end-user-42"))
        .text("scan")
        .attachment(
            OutboundAttachment::from_bytes(AttachmentKind::Image, &bytes)
                .with_mime_type("image/png")
                .with_name("scan.png"),
        )
        .build();
    let receipt = ch.send(&msg).await.unwrap();
    let reqs = server.received_requests().await.unwrap();
    common_headers(&reqs[0]);
    let ps = parts(&reqs[0]);
    assert_eq!(ps.len(), 2);
    assert_eq!(
        ps[0].headers["content-disposition"],
        "form-data; name=\"json\""
    );
    assert_eq!(ps[0].headers["content-type"], "application/json");
    let v: Value = serde_json::from_slice(&ps[0].data).unwrap();
    assert_eq!(
        v,
        json!({"to": "chan-addr-1", "from": "end-user-42", "interactions": [{
            "timestamp": NOW_MS, "interactionType": "AttachmentInteraction",
            "id": receipt.message_id, "attachmentIndex": 0, "contentLength": bytes.len(), "text": "scan"}]})
    );
    assert_eq!(
        ps[1].headers["content-disposition"],
        "form-data; name=\"attachments\"; filename=\"scan.png\""
    );
    assert_eq!(ps[1].headers["content-type"], "image/png");
    assert_eq!(ps[1].data, bytes);
}

#[tokio::test]
async fn oversized_file_is_refused_before_any_request() {
    let server = MockServer::start().await;
    let cfg = SalesforceConfig::builder(server.uri(), "00D1", "Ctx")
        .access_token(SecretString::from("t"))
        .channel_address("c")
        .max_attachment_bytes(10)
        .build()
        .unwrap();
    let ch = SalesforceChannel::new(cfg, &ChannelEnv::default()).unwrap();
    let msg = Message::builder()
        .sender(Contact::new("u"))
        .attachment(OutboundAttachment::from_bytes(
            AttachmentKind::File,
            &[1u8; 11],
        ))
        .build();
    assert_eq!(ch.send(&msg).await.unwrap_err().kind(), "invalid_input");
    assert!(server.received_requests().await.unwrap().is_empty());
}

#[tokio::test]
async fn retryable_codes_are_retried_with_the_same_request_id_only_when_keyed() {
    for code in [10019, 10055, 10056, 10094] {
        let server = MockServer::start().await;
        Mock::given(path("/api/v1/interactions"))
            .respond_with(
                ResponseTemplate::new(503).set_body_json(json!({"code": code, "message": "retry"})),
            )
            .up_to_n_times(1)
            .mount(&server)
            .await;
        answer(&server, "POST", "/api/v1/interactions", 202, accepted()).await;
        let ch = channel(&server);
        let keyed = Message::text("hi")
            .sender(Contact::new("u"))
            .idempotency_key(format!("key-{code}"))
            .build();
        ch.send(&keyed).await.unwrap();
        let reqs = server.received_requests().await.unwrap();
        assert_eq!(reqs.len(), 2, "{code}");
        assert_eq!(reqs[0].headers["requestid"], reqs[1].headers["requestid"]);
        // Same interaction (ids, timestamp) on the retry; only the multipart boundary differs.
        assert_eq!(parts(&reqs[0])[0].data, parts(&reqs[1])[0].data);

        // Without a key, the error goes back to the host, marked retryable.
        let server = MockServer::start().await;
        answer(
            &server,
            "POST",
            "/api/v1/interactions",
            503,
            json!({"code": code, "message": "retry"}),
        )
        .await;
        let ch = channel(&server);
        let e = ch
            .send(&Message::text("hi").sender(Contact::new("u")).build())
            .await
            .unwrap_err();
        assert!(e.retryable(), "{code}");
        assert_eq!(server.received_requests().await.unwrap().len(), 1);
    }
}

#[tokio::test]
async fn permanent_codes_are_not_retried() {
    let server = MockServer::start().await;
    answer(
        &server,
        "POST",
        "/api/v1/interactions",
        400,
        json!({"code": 10060, "message": "Interaction ID and Message ID are mismatched"}),
    )
    .await;
    let ch = channel(&server);
    let e = ch
        .send(
            &Message::text("hi")
                .sender(Contact::new("u"))
                .idempotency_key("k")
                .build(),
        )
        .await
        .unwrap_err();
    assert!(!e.retryable());
    assert!(
        matches!(&e, omnichannel_core::Error::Provider { code: Some(c), status: Some(400), .. } if c == "10060")
    );
    assert_eq!(server.received_requests().await.unwrap().len(), 1);
}

fn json_body(r: &Request) -> Value {
    assert_eq!(r.headers["content-type"], "application/json");
    serde_json::from_slice(&r.body).unwrap()
}

async fn one(server: &MockServer) -> Request {
    let reqs = server.received_requests().await.unwrap();
    assert_eq!(reqs.len(), 1);
    common_headers(&reqs[0]);
    reqs.into_iter().next().unwrap()
}

#[tokio::test]
async fn acknowledgement() {
    let server = MockServer::start().await;
    answer(
        &server,
        "POST",
        "/api/v1/acknowledgement",
        200,
        json!({"success": true}),
    )
    .await;
    let ch = channel(&server);
    let ack = |t| Acknowledgement {
        acknowledgement_type: t,
        acknowledged_conversation_entry_identifier: "rep-entry-1".into(),
        created_conversation_entry_identifier: "11111111-1111-4111-8111-111111111111".into(),
        acknowledgement_timestamp: NOW_MS,
    };
    let req = AcknowledgementRequest {
        conversation_identifier: "conv-1".into(),
        sender: Participant::end_user("end-user-42"),
        acknowledgements: vec![
            ack(AcknowledgementType::Delivered),
            ack(AcknowledgementType::Read),
        ],
    };
    assert!(ch.api().acknowledge(&req).await.unwrap().success);
    let r = one(&server).await;
    assert_eq!(
        json_body(&r),
        json!({"conversationIdentifier": "conv-1",
               "sender": {"appType": "custom", "subject": "end-user-42", "role": "EndUser"},
               "acknowledgements": [
                 {"acknowledgementType": "Delivered", "acknowledgedConversationEntryIdentifier": "rep-entry-1",
                  "acknowledgmentCreatedConversationEntryIdentifier": "11111111-1111-4111-8111-111111111111",
                  "acknowledgementTimestamp": NOW_MS},
                 {"acknowledgementType": "Read", "acknowledgedConversationEntryIdentifier": "rep-entry-1",
                  "acknowledgmentCreatedConversationEntryIdentifier": "11111111-1111-4111-8111-111111111111",
                  "acknowledgementTimestamp": NOW_MS}]})
    );
    let too_many = AcknowledgementRequest {
        acknowledgements: (0..26).map(|_| ack(AcknowledgementType::Read)).collect(),
        ..req.clone()
    };
    assert_eq!(
        ch.api().acknowledge(&too_many).await.unwrap_err().kind(),
        "invalid_input"
    );
    let none = AcknowledgementRequest {
        acknowledgements: vec![],
        ..req
    };
    assert_eq!(
        ch.api().acknowledge(&none).await.unwrap_err().kind(),
        "invalid_input"
    );
    assert_eq!(server.received_requests().await.unwrap().len(), 1);
}

#[tokio::test]
async fn agent_work_post_and_patch() {
    let server = MockServer::start().await;
    answer(&server, "POST", "/api/v1/agentWork", 202, json!({
        "id": "r-1", "agentWorkId": "0BzRM0000000001", "success": true,
        "agentWorkDetails": {"existPsr": true, "psrId": "0JrRM0000000001", "capacityWeight": 1,
          "routingContext": {"conversationIdentifier": "conv-1", "routingType": "Initial", "routingCorrelationId": "ev-1"}}})).await;
    let ch = channel(&server);
    let req = AgentWorkRequest {
        user_id: "005RM000002ks3p".into(),
        work_item_id: "0MwRM0000000001".into(),
        capacity_percentage: None,
        capacity_weight: Some(1.0),
        routing_context: Some(RoutingContext {
            conversation_identifier: "conv-1".into(),
            routing_type: RoutingType::Initial,
            routing_correlation_id: "ev-1".into(),
        }),
        agent_action_visibilities: vec![AgentActionVisibility {
            agent_action: "Transfer".into(),
            visible: true,
        }],
    };
    let res = ch.api().create_agent_work(&req).await.unwrap();
    assert_eq!(res.agent_work_id.as_deref(), Some("0BzRM0000000001"));
    assert_eq!(
        res.agent_work_details.unwrap().psr_id.as_deref(),
        Some("0JrRM0000000001")
    );
    let r = one(&server).await;
    assert!(r.headers.get("authorizationcontexttype").is_none());
    assert_eq!(
        json_body(&r),
        json!({"userId": "005RM000002ks3p", "workItemId": "0MwRM0000000001", "capacityWeight": 1.0,
               "routingContext": {"conversationIdentifier": "conv-1", "routingType": "Initial", "routingCorrelationId": "ev-1"},
               "agentActionVisibilities": [{"agentAction": "Transfer", "visible": true}]})
    );
    // Validation before any request.
    let bad = AgentWorkRequest {
        work_item_id: "short".into(),
        ..req.clone()
    };
    assert_eq!(
        ch.api().create_agent_work(&bad).await.unwrap_err().kind(),
        "invalid_input"
    );
    let both = AgentWorkRequest {
        capacity_percentage: Some(50.0),
        ..req
    };
    assert_eq!(
        ch.api().create_agent_work(&both).await.unwrap_err().kind(),
        "invalid_input"
    );

    let server = MockServer::start().await;
    answer(
        &server,
        "PATCH",
        "/api/v1/agentWork",
        202,
        json!({"success": true}),
    )
    .await;
    let ch = channel(&server);
    let patch = PatchAgentWorkRequest {
        work_id: "0BzSB000002jTO5".into(),
        context_type: WorkContextType::Agent,
        status: WorkStatus::Close,
        work_item_id: None,
        bot_id: None,
    };
    assert!(ch.api().update_agent_work(&patch).await.unwrap().success);
    let r = one(&server).await;
    assert_eq!(
        r.headers["authorizationcontexttype"],
        "ConversationChannelDefinition"
    );
    assert_eq!(
        json_body(&r),
        json!({"workId": "0BzSB000002jTO5", "status": "Close", "contextType": "Agent"})
    );
    let bot = PatchAgentWorkRequest {
        context_type: WorkContextType::Chatbot,
        ..patch
    };
    assert_eq!(
        ch.api().update_agent_work(&bot).await.unwrap_err().kind(),
        "invalid_input"
    );
}

#[tokio::test]
async fn consent() {
    let server = MockServer::start().await;
    answer(
        &server,
        "PATCH",
        "/api/v1/consent",
        200,
        json!({"success": true}),
    )
    .await;
    let ch = channel(&server);
    let req = ConsentRequest {
        end_user_client_id: "end-user-42".into(),
        channel_address_identifier: "chan-addr-1".into(),
        consent_status: ConsentStatus::ExplicitlyOptedIn,
    };
    ch.api().update_consent(&req).await.unwrap();
    let r = one(&server).await;
    assert_eq!(
        json_body(&r),
        json!({"endUserClientId": "end-user-42", "channelAddressIdentifier": "chan-addr-1", "consentStatus": "ExplicitlyOptedIn"})
    );
    // success false with errorDetail -> typed provider error with its code.
    let server = MockServer::start().await;
    answer(&server, "PATCH", "/api/v1/consent", 200,
        json!({"success": false, "errorDetail": {"code": 10022, "message": "Consent Owner is not Partner"}})).await;
    let ch = channel(&server);
    let e = ch.api().update_consent(&req).await.unwrap_err();
    assert!(
        matches!(&e, omnichannel_core::Error::Provider { code: Some(c), .. } if c == "10022"),
        "{e:?}"
    );
}

#[tokio::test]
async fn route_post_and_delete() {
    let server = MockServer::start().await;
    answer(&server, "POST", "/api/v1/route", 202, json!({
        "success": true, "routingCorrelationId": "rc-1", "psrId": "0JrRM0000000001", "workItemId": "0MwRM0000000001",
        "contextParamMap": {"queueId": "00GRM0000000001"}})).await;
    answer(
        &server,
        "DELETE",
        "/api/v1/route",
        202,
        json!({"success": true}),
    )
    .await;
    let ch = channel(&server);
    let req = RouteRequest {
        conversation_identifier: "conv-1".into(),
        routing_type: RoutingType::Initial,
        routing_info: Some(RoutingInfo {
            routing_attributes: BTreeMap::from([("Language".to_string(), "en_US".to_string())]),
            queue_id: None,
            flow: Some(FlowRouting {
                flow_id: "300RM0000001".into(),
                queue_id: "00GRM0000000001".into(),
            }),
        }),
    };
    let res = ch.api().route(&req).await.unwrap();
    assert_eq!(res.routing_correlation_id.as_deref(), Some("rc-1"));
    ch.api()
        .delete_route(&DeleteRouteRequest {
            conversation_identifier: "conv-1".into(),
            cancel_reason: Some(CancelReason::Cancel),
        })
        .await
        .unwrap();
    let reqs = server.received_requests().await.unwrap();
    assert_eq!(reqs.len(), 2);
    common_headers(&reqs[0]);
    common_headers(&reqs[1]);
    assert_eq!(
        json_body(&reqs[0]),
        json!({"conversationIdentifier": "conv-1", "routingType": "Initial",
               "routingInfo": {"flow": {"flowId": "300RM0000001", "queueId": "00GRM0000000001"},
                               "routingAttributes": {"Language": "en_US"}}})
    );
    assert_eq!(reqs[1].method.as_str(), "DELETE");
    assert_eq!(
        json_body(&reqs[1]),
        json!({"conversationIdentifier": "conv-1", "cancelReason": "Cancel"})
    );
    let both = RouteRequest {
        routing_info: Some(RoutingInfo {
            queue_id: Some("q".into()),
            ..req.routing_info.clone().unwrap()
        }),
        ..req
    };
    assert_eq!(
        ch.api().route(&both).await.unwrap_err().kind(),
        "invalid_input"
    );
}

#[tokio::test]
async fn routing_result_session_participant_conversation_capabilities() {
    let server = MockServer::start().await;
    answer(
        &server,
        "POST",
        "/api/v1/routingResult",
        202,
        json!({"success": true}),
    )
    .await;
    answer(
        &server,
        "POST",
        "/api/v1/messagingSession",
        200,
        json!({"success": true}),
    )
    .await;
    answer(
        &server,
        "POST",
        "/api/v1/participant",
        200,
        json!({"success": true}),
    )
    .await;
    answer(&server, "POST", "/api/v1/conversation", 202,
        json!({"conversationIdentifier": "conv-9", "messagingSessionId": "0MwRM0000000009", "success": true})).await;
    answer(
        &server,
        "PATCH",
        "/api/v1/capabilities",
        200,
        json!({"success": true}),
    )
    .await;
    let ch = channel(&server);
    let api = ch.api();
    api.routing_result(&RoutingResultRequest {
        conversation_identifier: "conv-1".into(),
        work_item_id: "0MwRM0000000001".into(),
        success: true,
        externally_routed: false,
        error_message: None,
        routing_type: Some(RoutingType::Transfer),
    })
    .await
    .unwrap();
    api.messaging_session(&MessagingSessionRequest {
        channel_address_identifier: "chan-addr-1".into(),
        end_user_client_id: "end-user-42".into(),
        conversation_identifier: "conv-1".into(),
        operation: SessionOperation::End,
        operation_by: Some(OperationBy::EndUser),
        session_id: None,
    })
    .await
    .unwrap();
    api.remove_participant("conv-1", Participant::agent("005RM000002ks3p"))
        .await
        .unwrap();
    let conv = api
        .create_conversation(&ConversationRequest {
            channel_address_identifier: "chan-addr-1".into(),
            participants: vec![Participant::end_user("end-user-42")],
            routing_attributes: BTreeMap::new(),
        })
        .await
        .unwrap();
    assert_eq!(conv.conversation_identifier.as_deref(), Some("conv-9"));
    api.update_capabilities(&CapabilitiesRequest::static_content(
        "Partner1_ChannelDefinition1",
    ))
    .await
    .unwrap();
    let reqs = server.received_requests().await.unwrap();
    let got: Vec<(String, String, Value)> = reqs
        .iter()
        .map(|r| {
            common_headers(r);
            (r.method.to_string(), r.url.path().to_string(), json_body(r))
        })
        .collect();
    let fmt = |f: &str| json!({"formatType": f});
    assert_eq!(
        got,
        vec![
            (
                "POST".into(),
                "/api/v1/routingResult".into(),
                json!({"conversationIdentifier": "conv-1", "workItemId": "0MwRM0000000001", "success": true,
                    "externallyRouted": false, "routingType": "Transfer"})
            ),
            (
                "POST".into(),
                "/api/v1/messagingSession".into(),
                json!({"channelAddressIdentifier": "chan-addr-1", "endUserClientId": "end-user-42",
                    "conversationIdentifier": "conv-1", "operation": "End", "operationBy": "EndUser"})
            ),
            (
                "POST".into(),
                "/api/v1/participant".into(),
                json!({"conversationIdentifier": "conv-1", "operation": "Remove",
                    "participants": [{"appType": "agent", "subject": "005RM000002ks3p", "role": "Agent"}]})
            ),
            (
                "POST".into(),
                "/api/v1/conversation".into(),
                json!({"channelAddressIdentifier": "chan-addr-1",
                    "participants": [{"appType": "custom", "subject": "end-user-42", "role": "EndUser"}]})
            ),
            (
                "PATCH".into(),
                "/api/v1/capabilities".into(),
                json!({"capabilities": {"appType": "custom", "channelCapabilities": [{
                 "channelType": "custom",
                 "customIntegration": {"customIntegrationType": "CustomChannelIntegration",
                                       "conversationChannelDefinitionDevName": "Partner1_ChannelDefinition1"},
                 "messageTypeCapabilities": [{"messageType": "StaticContentMessage",
                     "formatTypeCapabilities": [fmt("Text"), fmt("Attachments"), fmt("Links")]}]}]}})
            ),
        ]
    );
    // Inactivate needs a session id; errorReason answers are typed errors.
    let inactivate = MessagingSessionRequest {
        channel_address_identifier: "c".into(),
        end_user_client_id: "u".into(),
        conversation_identifier: "conv-1".into(),
        operation: SessionOperation::Inactivate,
        operation_by: None,
        session_id: None,
    };
    assert_eq!(
        api.messaging_session(&inactivate).await.unwrap_err().kind(),
        "invalid_input"
    );
    let server = MockServer::start().await;
    answer(
        &server,
        "POST",
        "/api/v1/messagingSession",
        200,
        json!({"success": false, "errorReason": "SESSION_NOT_FOUND"}),
    )
    .await;
    let ch = channel(&server);
    let e = ch
        .api()
        .messaging_session(&MessagingSessionRequest {
            session_id: Some("0Mw1".into()),
            ..inactivate
        })
        .await
        .unwrap_err();
    assert!(e.to_string().contains("SESSION_NOT_FOUND"));
}

#[tokio::test]
async fn receive_refuses_http_and_typing_is_sent_without_content() {
    let server = MockServer::start().await;
    answer(&server, "POST", "/api/v1/interactions", 202, accepted()).await;
    let ch = channel(&server);
    let req = omnichannel_core::WebhookRequest::new(
        http::Method::POST,
        "https://host.test/webhooks/salesforce",
        http::HeaderMap::new(),
        bytes::Bytes::from_static(b"{}"),
    );
    let e = ch.receive(&req).await.unwrap_err();
    assert_eq!(e.kind(), "invalid_input");
    assert!(e.to_string().contains("receive_event"));
    assert!(ch.verify(&req).is_err());
    let typing = Message::builder()
        .sender(Contact::new("u"))
        .metadata("interaction", json!("typing_started"))
        .build();
    ch.send(&typing).await.unwrap();
    let r = one(&server).await;
    let v: Value = serde_json::from_slice(&parts(&r)[0].data).unwrap();
    assert_eq!(
        v["interactions"][0]["payload"]["entryType"],
        "TypingStartedIndicator"
    );
}

#[tokio::test]
async fn acknowledge_entries_in_calls_of_25() {
    let server = MockServer::start().await;
    answer(
        &server,
        "POST",
        "/api/v1/acknowledgement",
        200,
        json!({"success": true}),
    )
    .await;
    let ch = channel(&server);
    let ids: Vec<String> = (0..30).map(|i| format!("rep-entry-{i}")).collect();
    let refs: Vec<&str> = ids.iter().map(String::as_str).collect();
    let calls = ch
        .api()
        .acknowledge_entries("conv-1", "end-user-42", AcknowledgementType::Read, &refs)
        .await
        .unwrap();
    assert_eq!(calls, 2);
    let reqs = server.received_requests().await.unwrap();
    let bodies: Vec<Value> = reqs.iter().map(json_body).collect();
    assert_eq!(bodies[0]["acknowledgements"].as_array().unwrap().len(), 25);
    assert_eq!(bodies[1]["acknowledgements"].as_array().unwrap().len(), 5);
    let a = &bodies[1]["acknowledgements"][4];
    assert_eq!(a["acknowledgementType"], "Read");
    assert_eq!(a["acknowledgedConversationEntryIdentifier"], "rep-entry-29");
    assert_eq!(a["acknowledgementTimestamp"], NOW_MS);
    assert!(
        uuid::Uuid::parse_str(
            a["acknowledgmentCreatedConversationEntryIdentifier"]
                .as_str()
                .unwrap()
        )
        .is_ok()
    );
    assert_eq!(
        bodies[0]["sender"],
        json!({"appType": "custom", "subject": "end-user-42", "role": "EndUser"})
    );
}
