//! What the command prints: the start-up banner, replies and events as JSON.

use base64::Engine as _;
use omnichannel_core::{Event, ExposeSecret as _, WebhookReply, WebhookRequest};
use serde_json::{Map, Value};

use crate::config::GatewayConfig;
use crate::serve::Server;
use crate::stores::Stores;

/// A reply as JSON in the fixture format: `{"status", "headers", "body"}`. A JSON body is
/// given parsed, a text body as a string, other bytes as `body_base64`.
pub fn reply_json(reply: &WebhookReply) -> Value {
    let mut headers = Map::new();
    for name in reply.headers.keys() {
        let values: Vec<Value> = reply
            .headers
            .get_all(name)
            .iter()
            .map(|v| Value::String(String::from_utf8_lossy(v.as_bytes()).into_owned()))
            .collect();
        let v = match <[Value; 1]>::try_from(values) {
            Ok([one]) => one,
            Err(many) => Value::Array(many),
        };
        headers.insert(name.as_str().to_string(), v);
    }
    let mut out = Map::new();
    out.insert("status".into(), reply.status.as_u16().into());
    out.insert("headers".into(), Value::Object(headers));
    match body_value(&reply.body) {
        Ok(v) => out.insert("body".into(), v),
        Err(b64) => out.insert("body_base64".into(), Value::String(b64)),
    };
    Value::Object(out)
}

/// A body as JSON (objects and arrays parsed), as text, or (`Err`) as base64.
pub fn body_value(body: &[u8]) -> Result<Value, String> {
    if let Ok(v @ (Value::Object(_) | Value::Array(_))) = serde_json::from_slice::<Value>(body) {
        return Ok(v);
    }
    match std::str::from_utf8(body) {
        Ok(s) => Ok(Value::String(s.to_string())),
        Err(_) => Err(base64::engine::general_purpose::STANDARD.encode(body)),
    }
}

/// An event on one line for people: its JSON without the raw provider payload.
pub fn event_line(event: &Event) -> String {
    let mut e = event.clone();
    e.raw = None;
    serde_json::to_string(&e).unwrap_or_else(|_| event.id.clone())
}

/// A webhook request as the fixture `request` object (what `verify --request` reads): header
/// values sent more than once become arrays, a body that is not UTF-8 becomes `body_base64`.
pub fn request_json(req: &WebhookRequest) -> Value {
    let mut headers = Map::new();
    for name in req.headers.keys() {
        let values: Vec<Value> = req
            .headers
            .get_all(name)
            .iter()
            .map(|v| Value::String(String::from_utf8_lossy(v.as_bytes()).into_owned()))
            .collect();
        let v = match <[Value; 1]>::try_from(values) {
            Ok([one]) => one,
            Err(many) => Value::Array(many),
        };
        headers.insert(name.as_str().to_string(), v);
    }
    let mut out = Map::new();
    out.insert("method".into(), req.method.as_str().into());
    out.insert("url".into(), req.url.clone().into());
    out.insert("headers".into(), Value::Object(headers));
    match std::str::from_utf8(&req.body) {
        Ok(s) => out.insert("body".into(), s.into()),
        Err(_) => out.insert(
            "body_base64".into(),
            base64::engine::general_purpose::STANDARD
                .encode(&req.body)
                .into(),
        ),
    };
    Value::Object(out)
}

/// The start-up banner, on stderr (stdout carries the events).
pub fn banner(server: &Server, config: &GatewayConfig, stores: &Stores) {
    let gw = &server.gateway;
    let mut s = format!(
        "omnichannel gateway listening on {} (public URL {}, stores: {}, forward: {})\n",
        server.local_addr,
        gw.public_base_url(),
        stores.backend,
        config
            .forward
            .as_ref()
            .map_or_else(|| "off".to_string(), |f| crate::config::redact_url(&f.url)),
    );
    s.push_str("webhooks:\n");
    for (provider, name) in gw.mounted() {
        s.push_str(&format!(
            "  {:<28} {}\n",
            format!("{provider}/{name}"),
            gw.webhook_url(provider, &name)
        ));
    }
    match &config.api_key {
        Some(_) => s.push_str(&format!(
            "send: POST {}/send/<provider>/<channel> with `Authorization: Bearer <api key>`\n",
            gw.public_base_url()
        )),
        None => s.push_str("send: off (no API key configured)\n"),
    }
    if config.embedded {
        s.push_str(
            "demo settings (embedded defaults with TEST secrets; never use them in production):\n",
        );
        for c in &config.channels {
            s.push_str(&format!(
                "  {:<28} {}\n",
                format!("{}/{}", c.provider, c.name),
                c.settings
            ));
        }
        if let Some(key) = &config.api_key {
            s.push_str(&format!("  api key: {}\n", key.expose_secret()));
        }
    }
    s.push_str("events: one JSON line each on stdout\n");
    eprint!("{s}");
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;
    use http::StatusCode;

    #[test]
    fn replies_as_json() {
        let r = WebhookReply::json(StatusCode::CREATED, &serde_json::json!({"id": "1"}));
        assert_eq!(
            reply_json(&r),
            serde_json::json!({"status": 201, "headers": {"content-type": "application/json"}, "body": {"id": "1"}})
        );
        let x = WebhookReply::with_body(StatusCode::OK, "text/xml", "<Response/>");
        assert_eq!(reply_json(&x)["body"], "<Response/>");
        let e = WebhookReply::ok();
        assert_eq!(reply_json(&e)["body"], "");
        let b =
            WebhookReply::with_body(StatusCode::OK, "application/octet-stream", vec![0xff, 0xfe]);
        assert_eq!(reply_json(&b)["body_base64"], "//4=");
        assert_eq!(body_value(b"42").unwrap(), Value::String("42".into()));
    }

    #[test]
    fn requests_round_trip_through_the_fixture_format() {
        let mut h = http::HeaderMap::new();
        h.append("x-a", http::HeaderValue::from_static("1"));
        h.append("x-a", http::HeaderValue::from_static("2"));
        h.append("x-b", http::HeaderValue::from_static("3"));
        let req = WebhookRequest::new(
            http::Method::DELETE,
            "https://h.test/x?y=1",
            h,
            bytes::Bytes::from_static(b"\xff\x00"),
        );
        let v = request_json(&req);
        assert_eq!(
            v["headers"],
            serde_json::json!({"x-a": ["1", "2"], "x-b": "3"})
        );
        let spec: omnichannel_testkit::RequestSpec = serde_json::from_value(v).unwrap();
        let back = spec.to_webhook_request().unwrap();
        assert_eq!(back.method, req.method);
        assert_eq!(back.url, req.url);
        assert_eq!(back.headers, req.headers);
        assert_eq!(back.body, req.body);
    }
}
