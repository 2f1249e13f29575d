//! The recorded exchanges of `tests/fixtures/signalwire/`.
//!
//! Every fixture is produced by [`generate`] with the crate's own signer, so fixtures and code
//! cannot drift: `fixtures_match_the_generator` fails when a file differs from what the
//! production signer gives. Where signalwire.md gives an official value (a signature of
//! section 4.9), the generator asserts that the signer reproduces it before writing it.
//!
//! Regenerate with `SIGNALWIRE_WRITE_FIXTURES=1 cargo test -p omnichannel-signalwire --test fixtures`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;

use base64::Engine as _;
use omnichannel_core::WebhookRequest;
use omnichannel_core::signature::SigningKeys;
use omnichannel_signalwire::webhook::{self, compute_signature};
use omnichannel_signalwire::{EMPTY_CXML, Factory};
use omnichannel_testkit::{Registry, run_dirs, workspace_fixtures};
use serde_json::{Value, json};

const KEY: &str = "PSK_ExampleSigningKey0000000000";
const OTHER_KEY: &str = "PSK_wrong-test-key-not-real";
const PROJECT: &str = "ea108133-d6b3-407c-9536-9fad8a929a6a";
const TOKEN: &str = "PT_test-token-not-real";
const OUR: &str = "+15551234567";
const CONTACT: &str = "+15557654321";
const SMS_URL: &str = "https://hooks.example.com/signalwire/sms?tenant=42";
const STATUS_URL: &str = "https://hooks.example.com/signalwire/status";
const SPEC: &str = "shared/specs/signalwire.md";
const MIN_FIXTURES: usize = 45;

fn dir() -> PathBuf {
    workspace_fixtures(env!("CARGO_MANIFEST_DIR")).join("signalwire")
}

fn keys(k: &str) -> SigningKeys {
    SigningKeys::new(k)
}

fn sms_params() -> Vec<(&'static str, &'static str)> {
    vec![
        ("MessageSid", "0a059168-ead0-41af-9d1f-343dae832527"),
        ("SmsSid", "0a059168-ead0-41af-9d1f-343dae832527"),
        ("AccountSid", PROJECT),
        ("From", CONTACT),
        ("To", OUR),
        ("Body", "Hello there"),
        ("NumMedia", "0"),
        ("NumSegments", "1"),
    ]
}

fn status_params(
    sid: &'static str,
    status: &'static str,
    error: Option<&'static str>,
) -> Vec<(&'static str, &'static str)> {
    let mut p = vec![
        ("MessageSid", sid),
        ("AccountSid", PROJECT),
        ("From", OUR),
        ("To", CONTACT),
        ("Body", "Your code is 1234"),
        ("NumMedia", "0"),
        ("NumSegments", "1"),
        ("MessageStatus", status),
    ];
    if let Some(e) = error {
        p.push(("ErrorCode", e));
    }
    p
}

/// The fixture `request` object of a request.
fn request_json(req: &WebhookRequest) -> Value {
    let mut headers = BTreeMap::new();
    for (name, value) in &req.headers {
        let canonical = match name.as_str() {
            "x-signalwire-signature" => "X-SignalWire-Signature",
            "x-twilio-signature" => "X-Twilio-Signature",
            "content-type" => "Content-Type",
            other => other,
        };
        let v = Value::String(value.to_str().unwrap().to_string());
        match headers.get_mut(canonical) {
            None => {
                headers.insert(canonical.to_string(), v);
            }
            Some(Value::Array(a)) => a.push(v),
            Some(existing) => {
                let first = existing.take();
                *existing = json!([first, v]);
            }
        }
    }
    json!({
        "method": req.method.as_str(),
        "url": req.url,
        "headers": headers,
        "body": String::from_utf8(req.body.to_vec()).unwrap(),
    })
}

fn set_sig(req: &mut WebhookRequest, header: &'static str, sig: &str) {
    req.headers.remove("x-signalwire-signature");
    req.headers
        .insert(header, http::HeaderValue::from_str(sig).unwrap());
}

struct Gen {
    out: Vec<(String, Value)>,
}

impl Gen {
    fn add(&mut self, name: &str, fx: Value) {
        assert!(
            !self.out.iter().any(|(n, _)| n == name),
            "duplicate fixture {name}"
        );
        self.out.push((format!("{name}.json"), fx));
    }

    fn inbound(
        &mut self,
        name: &str,
        description: &str,
        source: &str,
        config: Value,
        req: &WebhookRequest,
        expect: Value,
    ) {
        self.add(
            name,
            json!({
                "provider": "signalwire",
                "description": description,
                "source": source,
                "config": config,
                "inbound": {"request": request_json(req), "expect": expect},
            }),
        );
    }

    fn reject(
        &mut self,
        name: &str,
        description: &str,
        source: &str,
        config: Value,
        req: &WebhookRequest,
        kind: &str,
    ) {
        self.inbound(
            name,
            description,
            source,
            config,
            req,
            json!({"verified": false, "error": kind}),
        );
    }

    fn outbound(
        &mut self,
        name: &str,
        description: &str,
        source: &str,
        config: Value,
        outbound: Value,
    ) {
        self.add(
            name,
            json!({
                "provider": "signalwire",
                "description": description,
                "source": source,
                "config": config,
                "outbound": outbound,
            }),
        );
    }
}

fn cfg() -> Value {
    json!({"signing_key": KEY})
}

fn out_cfg() -> Value {
    json!({
        "signing_key": KEY,
        "project_id": PROJECT,
        "api_token": TOKEN,
        "space_url": "https://example.signalwire.com",
        "from": OUR
    })
}

fn xml_reply() -> Value {
    json!({"status": 200, "headers": {"content-type": "text/xml"}, "body": EMPTY_CXML})
}

fn empty_reply() -> Value {
    json!({"status": 200, "body": ""})
}

fn sms_event() -> Value {
    json!({
        "provider": "signalwire",
        "kind": "message",
        "id": "0a059168-ead0-41af-9d1f-343dae832527",
        "direction": "inbound",
        "channel_id": OUR,
        "conversation_id": CONTACT,
        "sender": {"id": CONTACT, "role": "contact"},
        "recipient": {"id": OUR},
        "text": "Hello there",
        "raw": {"MessageSid": "0a059168-ead0-41af-9d1f-343dae832527", "AccountSid": PROJECT, "NumSegments": "1"}
    })
}

fn msg_path() -> String {
    format!("/api/laml/2010-04-01/Accounts/{PROJECT}/Messages.json")
}

fn basic() -> String {
    format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!("{PROJECT}:{TOKEN}"))
    )
}

fn created(sid: &str, body: Option<&str>, num_media: u64) -> Value {
    json!({
        "account_sid": PROJECT,
        "api_version": "2010-04-01",
        "body": body,
        "num_segments": 1,
        "num_media": num_media,
        "date_created": "Mon, 13 Aug 2018 21:38:46 +0000",
        "date_sent": null,
        "date_updated": "Mon, 13 Aug 2018 21:38:46 +0000",
        "direction": "outbound-api",
        "error_code": null,
        "error_message": null,
        "from": OUR,
        "price": null,
        "price_unit": "USD",
        "sid": sid,
        "status": "queued",
        "to": CONTACT,
        "messaging_service_sid": null,
        "uri": format!("/api/laml/2010-04-01/Accounts/{PROJECT}/Messages/{sid}.json"),
        "subresource_uris": {"media": format!("/api/laml/2010-04-01/Accounts/{PROJECT}/Messages/{sid}/Media.json")}
    })
}

fn post_expect(body: Value) -> Value {
    json!({
        "method": "POST",
        "path": msg_path(),
        "headers": {
            "authorization": basic(),
            "content-type": "application/x-www-form-urlencoded",
            "accept": "application/json"
        },
        "body": body
    })
}

/// Every fixture of the folder, computed with the production signer.
fn generate() -> Vec<(String, Value)> {
    let mut g = Gen { out: Vec::new() };
    let k = keys(KEY);
    let src_worked =
        format!("{SPEC} section 4.9 (worked example, official signature) and section 9.1");

    // ---- Inbound SMS: the worked example and its URL variants -------------------------------
    let sms = webhook::sign_request(&k, SMS_URL, &sms_params());
    // The oracle: the spec's published signature and raw body.
    assert_eq!(
        sms.headers["x-signalwire-signature"],
        "mq+OkdFYzZeY1gr8xVd053EWf9c="
    );
    assert_eq!(
        std::str::from_utf8(&sms.body).unwrap(),
        "MessageSid=0a059168-ead0-41af-9d1f-343dae832527&SmsSid=0a059168-ead0-41af-9d1f-343dae832527&AccountSid=ea108133-d6b3-407c-9536-9fad8a929a6a&From=%2B15557654321&To=%2B15551234567&Body=Hello+there&NumMedia=0&NumSegments=1"
    );
    g.inbound(
        "inbound_sms_worked_example",
        "inbound SMS to a webhook URL with a query string (spec worked example)",
        &src_worked,
        cfg(),
        &sms,
        json!({"verified": true, "events": [sms_event()], "reply": xml_reply()}),
    );

    let with_port = "https://hooks.example.com:443/signalwire/sms?tenant=42";
    let mut signed_443 = sms.clone();
    let sig_443 = compute_signature(&k, with_port, &sms_params());
    assert_eq!(sig_443, "YFwn9yyKfd1LoeIo3lc7gq48T70=");
    set_sig(&mut signed_443, "x-signalwire-signature", &sig_443);
    g.inbound(
        "inbound_sms_signed_with_port_443",
        "signature computed over the URL with :443, request URL without a port",
        &format!("{SPEC} section 4.9 (signature over :443) and section 4.5"),
        cfg(),
        &signed_443,
        json!({"verified": true, "events": [{"id": "0a059168-ead0-41af-9d1f-343dae832527"}], "reply": xml_reply()}),
    );

    let mut url_443 = sms.clone();
    url_443.url = with_port.to_string();
    g.inbound(
        "inbound_sms_url_has_port_443",
        "request URL with :443, signature computed without the port",
        &format!("{SPEC} sections 4.5 and 4.9"),
        cfg(),
        &url_443,
        json!({"verified": true, "events": [{"id": "0a059168-ead0-41af-9d1f-343dae832527"}]}),
    );

    let mut twilio = sms.clone();
    set_sig(
        &mut twilio,
        "x-twilio-signature",
        "mq+OkdFYzZeY1gr8xVd053EWf9c=",
    );
    g.inbound(
        "inbound_sms_twilio_header",
        "X-Twilio-Signature accepted as an alias",
        &format!("{SPEC} section 4.1"),
        cfg(),
        &twilio,
        json!({"verified": true, "events": [{"id": "0a059168-ead0-41af-9d1f-343dae832527", "text": "Hello there"}]}),
    );

    g.inbound(
        "inbound_sms_rotated_key",
        "previous signing key still verifies during a rotation",
        &src_worked,
        json!({"signing_key": ["PSK_next-test-key-not-real", KEY]}),
        &sms,
        json!({"verified": true, "events": [{"id": "0a059168-ead0-41af-9d1f-343dae832527"}]}),
    );

    let mut proxied = sms.clone();
    proxied.url = "http://internal.svc.test:8080/signalwire/sms?tenant=42".into();
    g.inbound(
        "inbound_sms_behind_proxy",
        "host behind a proxy: public_base_url gives the URL SignalWire signed",
        &format!("{SPEC} sections 4.1 and 4.10"),
        json!({"signing_key": KEY, "public_base_url": "https://hooks.example.com"}),
        &proxied,
        json!({"verified": true, "events": [{"id": "0a059168-ead0-41af-9d1f-343dae832527"}]}),
    );

    let mut non_ascii_params = sms_params();
    non_ascii_params[0] = ("MessageSid", "1b2c3d4e-0000-4000-8000-0000000000a1");
    non_ascii_params[1] = ("SmsSid", "1b2c3d4e-0000-4000-8000-0000000000a1");
    non_ascii_params[5] = ("Body", "Olá! Ça va? 👋 日本語 & 100% + more");
    let non_ascii = webhook::sign_request(&k, SMS_URL, &non_ascii_params);
    g.inbound(
        "inbound_sms_non_ascii_body",
        "non-ASCII body (UTF-8, percent-encoded, with & % + inside)",
        &format!("{SPEC} sections 2.2 and 4.2"),
        cfg(),
        &non_ascii,
        json!({"verified": true, "events": [{
            "id": "1b2c3d4e-0000-4000-8000-0000000000a1",
            "text": "Olá! Ça va? 👋 日本語 & 100% + more"
        }], "reply": xml_reply()}),
    );

    let get = webhook::sign_get_request(
        &k,
        "https://hooks.example.com/signalwire/sms",
        &sms_params(),
    );
    g.inbound(
        "inbound_sms_get",
        "SmsMethod GET: parameters in the query, signature over the whole URL",
        &format!("{SPEC} section 2.2"),
        cfg(),
        &get,
        json!({"verified": true, "events": [sms_event()], "reply": xml_reply()}),
    );

    // ---- MMS --------------------------------------------------------------------------------
    let mms_params = vec![
        ("MessageSid", "3c9e1d2a-0000-4000-8000-000000000002"),
        ("SmsSid", "3c9e1d2a-0000-4000-8000-000000000002"),
        ("AccountSid", PROJECT),
        ("From", CONTACT),
        ("To", OUR),
        ("Body", "Two pictures"),
        ("NumMedia", "2"),
        ("NumSegments", "1"),
        ("MediaUrl0", "https://media.example.com/mms/3c9e1d2a/0"),
        ("MediaContentType0", "image/jpeg"),
        ("MediaUrl1", "https://media.example.com/mms/3c9e1d2a/1"),
        ("MediaContentType1", "image/png"),
    ];
    let mms = webhook::sign_request(&k, "https://hooks.example.com/signalwire/sms", &mms_params);
    g.inbound(
        "inbound_mms_two_media",
        "inbound MMS with two media",
        &format!("{SPEC} section 9.2"),
        cfg(),
        &mms,
        json!({"verified": true, "events": [{
            "kind": "message",
            "id": "3c9e1d2a-0000-4000-8000-000000000002",
            "text": "Two pictures",
            "attachments": [
                {"kind": "image", "url": "https://media.example.com/mms/3c9e1d2a/0", "mime_type": "image/jpeg"},
                {"kind": "image", "url": "https://media.example.com/mms/3c9e1d2a/1", "mime_type": "image/png"}
            ],
            "raw": {"NumMedia": "2", "MediaContentType1": "image/png"}
        }], "reply": xml_reply()}),
    );

    let urls: Vec<String> = (0..11)
        .map(|i| format!("https://media.example.com/mms/order/{i}"))
        .collect();
    let mut order_params: Vec<(&str, &str)> = vec![
        ("MessageSid", "3c9e1d2a-0000-4000-8000-000000000011"),
        ("AccountSid", PROJECT),
        ("From", CONTACT),
        ("To", OUR),
        ("Body", ""),
        ("NumMedia", "11"),
    ];
    // Sent in reverse so the order comes from the indexes, not from the wire.
    let ctypes = [
        "image/jpeg",
        "image/gif",
        "video/mp4",
        "audio/mpeg",
        "text/vcard",
    ];
    let names: Vec<(String, String)> = (0..11)
        .rev()
        .map(|i| (format!("MediaUrl{i}"), format!("MediaContentType{i}")))
        .collect();
    for (i, (u, c)) in (0..11).rev().zip(names.iter()) {
        order_params.push((u.as_str(), urls[i].as_str()));
        order_params.push((c.as_str(), ctypes[i % ctypes.len()]));
    }
    let ordered = webhook::sign_request(
        &k,
        "https://hooks.example.com/signalwire/sms",
        &order_params,
    );
    let expected_attachments: Vec<Value> = (0..11)
        .map(|i| json!({"url": urls[i], "mime_type": ctypes[i % ctypes.len()]}))
        .collect();
    g.inbound(
        "inbound_mms_media_url10_after_url2",
        "11 media: signature sorts MediaUrl10 before MediaUrl2, attachments follow the index",
        &format!("{SPEC} section 4.2 step 3 and section 2.2 (MediaUrl{{X}} zero-based)"),
        json!({"signing_key": KEY, "max_media": 11}),
        &ordered,
        json!({"verified": true, "events": [{
            "id": "3c9e1d2a-0000-4000-8000-000000000011",
            "attachments": expected_attachments
        }]}),
    );

    let mut capped = mms_params.clone();
    capped[0] = ("MessageSid", "3c9e1d2a-0000-4000-8000-000000000003");
    capped[6] = ("NumMedia", "3");
    capped.push(("MediaUrl2", "https://media.example.com/mms/3c9e1d2a/2"));
    capped.push(("MediaContentType2", "video/mp4"));
    let capped_req = webhook::sign_request(&k, "https://hooks.example.com/signalwire/sms", &capped);
    g.inbound(
        "inbound_mms_more_media_than_max_media",
        "max_media bounds the attachments; every parameter stays in raw",
        &format!("{SPEC} section 9.2"),
        json!({"signing_key": KEY, "max_media": 2}),
        &capped_req,
        json!({"verified": true, "events": [{
            "attachments": [
                {"url": "https://media.example.com/mms/3c9e1d2a/0"},
                {"url": "https://media.example.com/mms/3c9e1d2a/1"}
            ],
            "raw": {"MediaUrl2": "https://media.example.com/mms/3c9e1d2a/2"}
        }]}),
    );

    // ---- Status callbacks -------------------------------------------------------------------
    let undelivered = webhook::sign_request(
        &k,
        STATUS_URL,
        &status_params(
            "6f1b2c3d-0000-4000-8000-000000000003",
            "undelivered",
            Some("30003"),
        ),
    );
    assert_eq!(
        undelivered.headers["x-signalwire-signature"],
        "vNRhgNUii2d7TA1eZYBk25req00="
    );
    g.inbound(
        "status_undelivered_with_error_code",
        "status callback: undelivered with ErrorCode 30003 (spec example signature)",
        &format!("{SPEC} section 9.3 (official example signature) and section 3"),
        cfg(),
        &undelivered,
        json!({"verified": true, "events": [{
            "provider": "signalwire",
            "kind": "status",
            "id": "6f1b2c3d-0000-4000-8000-000000000003:undelivered",
            "direction": "outbound",
            "channel_id": OUR,
            "conversation_id": CONTACT,
            "recipient": {"id": CONTACT, "role": "contact"},
            "status": {"state": "failed", "message_id": "6f1b2c3d-0000-4000-8000-000000000003", "error_code": "30003"},
            "raw": {"MessageStatus": "undelivered", "ErrorCode": "30003"}
        }], "reply": empty_reply()}),
    );
    for (name, sid, status, err, state, desc) in [
        (
            "status_delivered",
            "6f1b2c3d-0000-4000-8000-000000000004",
            "delivered",
            None,
            "delivered",
            "status callback: delivered",
        ),
        (
            "status_failed_with_error_code",
            "6f1b2c3d-0000-4000-8000-000000000005",
            "failed",
            Some("30008"),
            "failed",
            "status callback: failed with ErrorCode 30008",
        ),
        (
            "status_sent",
            "6f1b2c3d-0000-4000-8000-000000000006",
            "sent",
            None,
            "sent",
            "status callback: sent (where MMS stops)",
        ),
        (
            "status_queued",
            "6f1b2c3d-0000-4000-8000-000000000007",
            "queued",
            None,
            "accepted",
            "status callback: queued maps to accepted",
        ),
        (
            "status_sending",
            "6f1b2c3d-0000-4000-8000-000000000008",
            "sending",
            None,
            "accepted",
            "status callback: sending maps to accepted",
        ),
    ] {
        let req = webhook::sign_request(&k, STATUS_URL, &status_params(sid, status, err));
        let mut st = json!({"state": state, "message_id": sid});
        if let Some(e) = err {
            st["error_code"] = json!(e);
        }
        g.inbound(
            name,
            desc,
            &format!("{SPEC} section 3 (MessageStatus values) and section 9.3"),
            cfg(),
            &req,
            json!({"verified": true, "events": [{"kind": "status", "id": format!("{sid}:{status}"), "status": st}], "reply": empty_reply()}),
        );
    }
    let received = webhook::sign_request(
        &k,
        STATUS_URL,
        &status_params("6f1b2c3d-0000-4000-8000-000000000009", "received", None),
    );
    g.inbound(
        "status_received_is_other",
        "a callback with an inbound status (received) is kept as an `other` event",
        &format!("{SPEC} section 3"),
        cfg(),
        &received,
        json!({"verified": true, "events": [{"kind": "other", "id": "6f1b2c3d-0000-4000-8000-000000000009:received", "raw": {"MessageStatus": "received"}}], "reply": empty_reply()}),
    );

    let json_body = json!({
        "MessageSid": "6f1b2c3d-0000-4000-8000-00000000000a",
        "AccountSid": PROJECT,
        "From": OUR,
        "To": CONTACT,
        "MessageStatus": "delivered",
        "NumSegments": 1
    })
    .to_string();
    let json_req = webhook::sign_json_request(&k, STATUS_URL, json_body.as_bytes());
    g.inbound(
        "status_json_body_sha256",
        "JSON status callback: bodySHA256 in the query, signature over the URL, hash checked",
        &format!("{SPEC} section 4.3"),
        cfg(),
        &json_req,
        json!({"verified": true, "events": [{
            "kind": "status",
            "id": "6f1b2c3d-0000-4000-8000-00000000000a:delivered",
            "status": {"state": "delivered"},
            "raw": {"NumSegments": 1}
        }], "reply": empty_reply()}),
    );

    // ---- Official vectors through the channel: they verify, then are not messaging events ----
    let b_form = webhook::sign_request(
        &keys("12345"),
        "https://mycompany.com/myapp.php?foo=1&bar=2",
        &[
            ("CallSid", "CA1234567890ABCDE"),
            ("Caller", "+14158675309"),
            ("Digits", "1234"),
            ("From", "+14158675309"),
            ("To", "+18005551212"),
        ],
    );
    assert_eq!(
        b_form.headers["x-signalwire-signature"],
        "RSOYDt4T1cUTdK1PDd93/VVr8B8="
    );
    g.reject(
        "vector_b_form_verifies_but_is_a_call",
        "official vector B (form): the signature verifies; a call webhook has no MessageSid",
        &format!("{SPEC} section 4.9 (vector B form, official signature)"),
        json!({"signing_key": "12345"}),
        &b_form,
        "malformed_payload",
    );
    let b_json = webhook::sign_json_request(
        &keys("PSKtest1234567890abcdef"),
        "https://example.ngrok.io/webhook",
        br#"{"event":"call.state"}"#,
    );
    assert_eq!(
        b_json.headers["x-signalwire-signature"],
        "dfO9ek8mxyFtn2nMz24plPmPfIY="
    );
    g.reject(
        "vector_b_json_verifies_but_is_not_a_message",
        "official vector B (JSON, bodySHA256): the signature and hash verify; not a messaging payload",
        &format!("{SPEC} section 4.9 (vector B JSON, official signature)"),
        json!({"signing_key": "PSKtest1234567890abcdef"}),
        &b_json,
        "malformed_payload",
    );
    let mut a_req = b_json.clone();
    a_req.url = "https://example.ngrok.io/webhook".into();
    a_req.body = bytes::Bytes::from_static(
        br#"{"event":"call.state","params":{"call_id":"abc-123","state":"answered"}}"#,
    );
    set_sig(
        &mut a_req,
        "x-signalwire-signature",
        "c3c08c1fefaf9ee198a100d5906765a6f394bf0f",
    );
    g.reject(
        "vector_a_hex_verifies_but_is_not_a_message",
        "official vector A (hex over URL + raw body): verifies; nested JSON is not a messaging payload",
        &format!("{SPEC} section 4.9 (vector A, official signature)"),
        json!({"signing_key": "PSKtest1234567890abcdef"}),
        &a_req,
        "malformed_payload",
    );

    // ---- Negatives --------------------------------------------------------------------------
    let wrong = webhook::sign_request(&keys(OTHER_KEY), SMS_URL, &sms_params());
    g.reject(
        "reject_wrong_key",
        "signed with another key",
        &src_worked,
        cfg(),
        &wrong,
        "signature_mismatch",
    );

    let mut changed = sms.clone();
    changed.body = bytes::Bytes::from(
        std::str::from_utf8(&sms.body)
            .unwrap()
            .replace("Hello+there", "Hello+thera"),
    );
    g.reject(
        "reject_changed_param",
        "Body changed after signing",
        &src_worked,
        cfg(),
        &changed,
        "signature_mismatch",
    );

    let mut added = sms.clone();
    added.body = bytes::Bytes::from(format!(
        "{}&Injected=1",
        std::str::from_utf8(&sms.body).unwrap()
    ));
    g.reject(
        "reject_added_param",
        "a parameter added after signing",
        &src_worked,
        cfg(),
        &added,
        "signature_mismatch",
    );

    let mut dropped = sms.clone();
    dropped.body = bytes::Bytes::from(
        std::str::from_utf8(&sms.body)
            .unwrap()
            .replace("&NumSegments=1", ""),
    );
    g.reject(
        "reject_removed_param",
        "a parameter removed after signing",
        &src_worked,
        cfg(),
        &dropped,
        "signature_mismatch",
    );

    let mut query_changed = sms.clone();
    query_changed.url = SMS_URL.replace("tenant=42", "tenant=43");
    g.reject(
        "reject_changed_query",
        "the webhook URL's query is signed too",
        &src_worked,
        cfg(),
        &query_changed,
        "signature_mismatch",
    );

    let mut http = sms.clone();
    http.url = SMS_URL.replace("https://", "http://");
    g.reject(
        "reject_http_https_swapped",
        "signed for https, received as http: the scheme is never switched",
        &format!("{SPEC} section 4.5"),
        cfg(),
        &http,
        "signature_mismatch",
    );

    let signed_http =
        webhook::sign_request(&k, &SMS_URL.replace("https://", "http://"), &sms_params());
    let mut to_https = signed_http.clone();
    to_https.url = SMS_URL.to_string();
    g.reject(
        "reject_https_http_swapped",
        "signed for http, received as https",
        &format!("{SPEC} section 4.5"),
        cfg(),
        &to_https,
        "signature_mismatch",
    );

    let mut odd_port = sms.clone();
    odd_port.url = "https://hooks.example.com:8443/signalwire/sms?tenant=42".into();
    g.reject(
        "reject_non_default_port",
        "a non-default port is only tried as given",
        &format!("{SPEC} section 4.5"),
        cfg(),
        &odd_port,
        "signature_mismatch",
    );

    let mut missing = sms.clone();
    missing.headers.remove("x-signalwire-signature");
    g.reject(
        "reject_missing_header",
        "no signature header",
        &src_worked,
        cfg(),
        &missing,
        "missing_signature",
    );

    let mut doubled = sms.clone();
    doubled.headers.append(
        "x-signalwire-signature",
        http::HeaderValue::from_static("mq+OkdFYzZeY1gr8xVd053EWf9c="),
    );
    g.reject(
        "reject_doubled_header",
        "the signature header sent twice",
        &src_worked,
        cfg(),
        &doubled,
        "malformed_signature",
    );

    let mut not_b64 = sms.clone();
    set_sig(&mut not_b64, "x-signalwire-signature", "not-base64!!");
    g.reject(
        "reject_malformed_header",
        "a signature that is not base64",
        &src_worked,
        cfg(),
        &not_b64,
        "malformed_signature",
    );

    let mut short_sig = sms.clone();
    set_sig(&mut short_sig, "x-signalwire-signature", "aGVsbG8=");
    g.reject(
        "reject_signature_wrong_length",
        "base64 of the wrong length",
        &src_worked,
        cfg(),
        &short_sig,
        "malformed_signature",
    );

    let mut bad_hash_body = json_req.clone();
    bad_hash_body.body = bytes::Bytes::from(json_body.replace("delivered", "undelivered"));
    g.reject(
        "reject_bad_body_sha256",
        "JSON body changed: bodySHA256 no longer matches",
        &format!("{SPEC} section 4.3"),
        cfg(),
        &bad_hash_body,
        "signature_mismatch",
    );

    let mut bad_hash_url = json_req.clone();
    let hash = webhook::body_sha256_hex(json_body.as_bytes());
    bad_hash_url.url = json_req.url.replace(&hash, &"0".repeat(64));
    g.reject(
        "reject_bad_body_sha256_in_url",
        "bodySHA256 in the URL replaced",
        &format!("{SPEC} section 4.3"),
        cfg(),
        &bad_hash_url,
        "signature_mismatch",
    );

    let big = webhook::sign_request(&k, SMS_URL, &sms_params());
    g.reject(
        "reject_body_too_large",
        "body over max_body_bytes",
        "crate setting max_body_bytes",
        json!({"signing_key": KEY, "max_body_bytes": 64}),
        &big,
        "payload_too_large",
    );

    g.reject(
        "reject_too_many_params",
        "more form parameters than max_params",
        "crate setting max_params",
        json!({"signing_key": KEY, "max_params": 5}),
        &sms,
        "malformed_payload",
    );

    let no_from: Vec<_> = sms_params()
        .into_iter()
        .filter(|(k, _)| *k != "From")
        .collect();
    let no_from_req = webhook::sign_request(&k, SMS_URL, &no_from);
    g.reject(
        "reject_signed_without_from",
        "correctly signed, but From is missing",
        &format!("{SPEC} section 2.2 (courier's required fields)"),
        cfg(),
        &no_from_req,
        "malformed_payload",
    );

    let mut bad_media = mms_params.clone();
    bad_media[6] = ("NumMedia", "3");
    let bad_media_req =
        webhook::sign_request(&k, "https://hooks.example.com/signalwire/sms", &bad_media);
    g.reject(
        "reject_num_media_without_media_url",
        "NumMedia says 3, only 2 MediaUrl",
        &format!("{SPEC} section 2.2"),
        cfg(),
        &bad_media_req,
        "malformed_payload",
    );

    // ---- Outbound ---------------------------------------------------------------------------
    let src_send = format!("{SPEC} sections 1.1 to 1.4");
    g.outbound(
        "send_sms",
        "send a text: exact form fields, Basic auth, 201 receipt",
        &src_send,
        out_cfg(),
        json!({
            "message": {"recipient": {"id": CONTACT}, "text": "Hello there"},
            "expect_request": post_expect(json!("To=%2B15557654321&From=%2B15551234567&Body=Hello+there")),
            "response": {"status": 201, "body": created("b3877c40-da60-4998-90ad-b792e98472af", Some("Hello there"), 0)},
            "expect": {"ok": true, "receipt": {"provider": "signalwire", "message_id": "b3877c40-da60-4998-90ad-b792e98472af", "status": "accepted", "raw": {"status": "queued"}}}
        }),
    );
    g.outbound(
        "send_mms_three_media",
        "send text with three media: repeated MediaUrl in order",
        &format!("{SPEC} section 1.3 (repeated MediaUrl)"),
        out_cfg(),
        json!({
            "message": {"recipient": {"id": CONTACT}, "text": "Pictures", "attachments": [
                {"kind": "image", "url": "https://cdn.example.com/a.jpg"},
                {"kind": "video", "url": "https://cdn.example.com/b.mp4"},
                {"kind": "file", "url": "https://cdn.example.com/c.vcf"}
            ]},
            "expect_request": post_expect(json!({
                "To": CONTACT, "From": OUR, "Body": "Pictures",
                "MediaUrl": ["https://cdn.example.com/a.jpg", "https://cdn.example.com/b.mp4", "https://cdn.example.com/c.vcf"]
            })),
            "response": {"status": 201, "body": created("c0ffee00-0000-4000-8000-000000000003", Some("Pictures"), 3)},
            "expect": {"ok": true, "receipt": {"message_id": "c0ffee00-0000-4000-8000-000000000003"}}
        }),
    );
    let mut cb_cfg = out_cfg();
    cb_cfg["status_callback"] = json!("https://hooks.example.com/signalwire/status");
    cb_cfg["default_region"] = json!("US");
    g.outbound(
        "send_national_number_with_region_and_callback",
        "a national number read in the default region; default StatusCallback; metadata from",
        &format!("{SPEC} sections 1.3 and 5"),
        cb_cfg,
        json!({
            "message": {"recipient": {"id": "(555) 765-4321"}, "text": "Hi", "metadata": {"from": "+15550001111"}},
            "expect_request": post_expect(json!("To=%2B15557654321&From=%2B15550001111&Body=Hi&StatusCallback=https%3A%2F%2Fhooks.example.com%2Fsignalwire%2Fstatus")),
            "response": {"status": 201, "body": created("c0ffee00-0000-4000-8000-000000000004", Some("Hi"), 0)},
            "expect": {"ok": true}
        }),
    );
    g.outbound(
        "send_reply_by_conversation_id",
        "reply to an inbound message: conversation_id is the contact's number",
        &src_send,
        out_cfg(),
        json!({
            "message": {"conversation_id": CONTACT, "text": "Thanks!"},
            "expect_request": post_expect(json!({"To": CONTACT, "From": OUR, "Body": "Thanks!"})),
            "response": {"status": 201, "body": created("c0ffee00-0000-4000-8000-000000000005", Some("Thanks!"), 0)},
            "expect": {"ok": true}
        }),
    );
    let text_msg = json!({"recipient": {"id": CONTACT}, "text": "Hello"});
    for (name, desc, status, headers, body, kind) in [
        (
            "send_error_opted_out_21610",
            "21610 (integer code): the contact opted out",
            400,
            json!({}),
            json!({"code": 21610, "message": "The message From/To pair violates a blacklist rule.", "more_info": "https://developer.signalwire.com/compatibility-api/reference/error-codes", "status": 400}),
            "opted_out",
        ),
        (
            "send_error_opted_out_21610_string",
            "21610 as a string code",
            400,
            json!({}),
            json!({"code": "21610", "message": "blocked", "status": 400}),
            "opted_out",
        ),
        (
            "send_error_rate_limited_429",
            "HTTP 429 with Retry-After",
            429,
            json!({"retry-after": "2"}),
            json!({"code": 20429, "message": "Too Many Requests", "status": 429}),
            "rate_limited",
        ),
        (
            "send_error_throughput_20429",
            "code 20429 as a string",
            400,
            json!({}),
            json!({"code": "20429", "message": "Too Many Requests", "status": 400}),
            "rate_limited",
        ),
        (
            "send_error_server_500",
            "5xx without a JSON body: retryable provider error",
            500,
            json!({}),
            json!("uh oh"),
            "provider_error",
        ),
        (
            "send_error_campaign_21717",
            "string code 21717 with HTTP 422 (WebhookDB fixture)",
            422,
            json!({}),
            json!({"code": "21717", "message": "From must belong to an active campaign.", "more_info": "https://developer.signalwire.com/compatibility-api/reference/error-codes", "status": 400}),
            "provider_error",
        ),
        (
            "send_error_invalid_to_21211",
            "21211: invalid To",
            400,
            json!({}),
            json!({"code": 21211, "message": "Invalid 'To' Phone Number", "status": 400}),
            "provider_error",
        ),
        (
            "send_error_unauthorized_401",
            "401: credentials refused",
            401,
            json!({}),
            json!({"code": 20003, "message": "Authentication Error", "status": 401}),
            "unauthorized",
        ),
    ] {
        g.outbound(
            name,
            desc,
            &format!("{SPEC} section 1.5 (error body, codes, courier's classification)"),
            out_cfg(),
            json!({
                "message": text_msg,
                "expect_request": post_expect(json!({"To": CONTACT, "From": OUR, "Body": "Hello"})),
                "response": {"status": status, "headers": headers, "body": body},
                "expect": {"ok": false, "error": kind}
            }),
        );
    }
    g.outbound(
        "send_error_no_sid",
        "201 without a sid is a provider error",
        &format!("{SPEC} section 1.5 (courier: No SID)"),
        out_cfg(),
        json!({
            "message": text_msg,
            "expect_request": post_expect(json!({"To": CONTACT})),
            "response": {"status": 201, "body": {"status": "queued"}},
            "expect": {"ok": false, "error": "provider_error"}
        }),
    );
    let refusals = [
        (
            "refuse_text_over_1600",
            "1601 characters: refused before any request",
            json!({"recipient": {"id": CONTACT}, "text": "x".repeat(1601)}),
            "unsupported_content",
            out_cfg(),
        ),
        (
            "refuse_nine_media",
            "9 media: more than 8, refused before any request",
            json!({"recipient": {"id": CONTACT}, "attachments": (0..9).map(|i| json!({"kind": "image", "url": format!("https://cdn.example.com/{i}.jpg")})).collect::<Vec<_>>()}),
            "unsupported_content",
            out_cfg(),
        ),
        (
            "refuse_empty_message",
            "no text and no media",
            json!({"recipient": {"id": CONTACT}}),
            "unsupported_content",
            out_cfg(),
        ),
        (
            "refuse_inline_attachment",
            "inline data: SignalWire fetches media by URL",
            json!({"recipient": {"id": CONTACT}, "attachments": [{"kind": "image", "data_base64": "aGVsbG8=", "mime_type": "image/png"}]}),
            "invalid_input",
            out_cfg(),
        ),
        (
            "refuse_non_http_media_url",
            "a media URL that is not http(s) (error 21620 upstream)",
            json!({"recipient": {"id": CONTACT}, "attachments": [{"kind": "image", "url": "ftp://cdn.example.com/a.jpg"}]}),
            "invalid_input",
            out_cfg(),
        ),
        (
            "refuse_national_number_without_region",
            "a national number with no default region: no US assumption",
            json!({"recipient": {"id": "5557654321"}, "text": "Hi"}),
            "invalid_input",
            out_cfg(),
        ),
        (
            "refuse_no_recipient",
            "no recipient and no conversation",
            json!({"text": "Hi"}),
            "invalid_input",
            out_cfg(),
        ),
        (
            "refuse_no_sender",
            "no from in settings or metadata",
            json!({"recipient": {"id": CONTACT}, "text": "Hi"}),
            "invalid_input",
            json!({"signing_key": KEY, "project_id": PROJECT, "api_token": TOKEN, "space_url": "https://example.signalwire.com"}),
        ),
    ];
    for (name, desc, message, kind, config) in refusals {
        g.outbound(
            name,
            desc,
            &format!(
                "{SPEC} sections 1.3 and 7 (limits), DESIGN.md section 5 (no request on refusal)"
            ),
            config,
            json!({"message": message, "expect": {"ok": false, "error": kind}}),
        );
    }
    g.outbound(
        "send_exactly_1600_and_8_media",
        "1600 characters and 8 media are accepted",
        &format!("{SPEC} sections 1.3 and 7"),
        out_cfg(),
        json!({
            "message": {"recipient": {"id": CONTACT}, "text": "y".repeat(1600), "attachments": (0..8).map(|i| json!({"kind": "image", "url": format!("https://cdn.example.com/{i}.jpg")})).collect::<Vec<_>>()},
            "expect_request": post_expect(json!({"MediaUrl": (0..8).map(|i| format!("https://cdn.example.com/{i}.jpg")).collect::<Vec<_>>()})),
            "response": {"status": 201, "body": created("c0ffee00-0000-4000-8000-000000000008", None, 8)},
            "expect": {"ok": true}
        }),
    );
    g.out
}

fn pretty(v: &Value) -> String {
    let mut s = serde_json::to_string_pretty(v).unwrap();
    s.push('\n');
    s
}

#[test]
fn fixtures_match_the_generator() {
    let generated = generate();
    let dir = dir();
    if std::env::var_os("SIGNALWIRE_WRITE_FIXTURES").is_some() {
        std::fs::create_dir_all(&dir).unwrap();
        for entry in std::fs::read_dir(&dir).unwrap() {
            let p = entry.unwrap().path();
            if p.extension().is_some_and(|e| e == "json") {
                std::fs::remove_file(p).unwrap();
            }
        }
        for (name, v) in &generated {
            std::fs::write(dir.join(name), pretty(v)).unwrap();
        }
    }
    let mut on_disk: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".json"))
        .collect();
    on_disk.sort();
    let mut names: Vec<String> = generated.iter().map(|(n, _)| n.clone()).collect();
    names.sort();
    assert_eq!(
        on_disk, names,
        "fixture files differ from the generator's list"
    );
    for (name, v) in &generated {
        let text = std::fs::read_to_string(dir.join(name)).unwrap();
        let disk: Value = serde_json::from_str(&text).unwrap();
        assert_eq!(
            &disk, v,
            "{name} differs from what the production signer gives"
        );
    }
}

#[tokio::test]
async fn fixtures_pass() {
    let registry = Registry::new().with(Arc::new(Factory));
    let report = run_dirs(&registry, &[dir()]).await;
    assert!(
        report.outcomes.len() >= MIN_FIXTURES,
        "expected at least {MIN_FIXTURES} fixtures, found {}",
        report.outcomes.len()
    );
    report.assert_all_passed();
}

#[test]
fn positive_fixture_signatures_come_from_the_signer() {
    // Independently of the generator: every accepted form request's header is the production
    // signer's output for one of the URL variants and one of the configured keys.
    let mut checked = 0;
    for (name, fx) in generate() {
        let Some(inb) = fx.get("inbound") else {
            continue;
        };
        if inb["expect"]["verified"] != json!(true) {
            continue;
        }
        let req = &inb["request"];
        let url = req["url"].as_str().unwrap();
        let body = req["body"].as_str().unwrap();
        let headers = req["headers"].as_object().unwrap();
        let sig = headers
            .get("X-SignalWire-Signature")
            .or_else(|| headers.get("X-Twilio-Signature"))
            .and_then(Value::as_str)
            .unwrap();
        let key_list: Vec<String> = match &fx["config"]["signing_key"] {
            Value::String(s) => vec![s.clone()],
            Value::Array(a) => a.iter().map(|v| v.as_str().unwrap().to_string()).collect(),
            _ => panic!("{name}: no signing key"),
        };
        let public = fx["config"]["public_base_url"].as_str();
        let url = webhook::public_url(url, public).unwrap();
        let signed_params: Vec<(Vec<u8>, Vec<u8>)> =
            if req["method"] == "GET" || url.contains("bodySHA256=") {
                Vec::new()
            } else {
                webhook::decode_form(body.as_bytes(), 1000).unwrap()
            };
        let candidates: Vec<String> = key_list
            .iter()
            .flat_map(|k| {
                webhook::url_variants(&url)
                    .into_iter()
                    .map(|u| compute_signature(&keys(k), &u, &signed_params))
                    .collect::<Vec<_>>()
            })
            .collect();
        assert!(
            candidates.iter().any(|c| c == sig),
            "{name}: header is not the signer's output"
        );
        checked += 1;
    }
    assert!(checked >= 15, "only {checked} positive fixtures checked");
}
