//! `omnichannel simulate`: a correctly signed sample request, sent to a host's endpoint.

use std::path::Path;
use std::process::ExitCode;
use std::sync::Arc;

use chrono::Utc;
use omnichannel_core::{ChannelFactory, Error, WebhookRequest};
use serde_json::Value;

use crate::output::body_value;
use crate::usage_error;
use crate::verify::{find_factory, read_json};

/// Settings keys that hold a provider's webhook secret, across the providers' settings
/// (DESIGN.md section 5): `secret`, `<anything>_secret`, `signing_key`.
fn is_secret_key(key: &str) -> bool {
    key == "secret" || key.ends_with("_secret") || key == "signing_key"
}

/// Replaces the webhook secret(s) in `config` by `secret`; the keys replaced.
pub fn override_secret(config: &mut Value, secret: &str) -> Result<Vec<String>, String> {
    let Some(obj) = config.as_object_mut() else {
        return Err("the settings are not a JSON object".into());
    };
    let keys: Vec<String> = obj.keys().filter(|k| is_secret_key(k)).cloned().collect();
    if keys.is_empty() {
        return Err(
            "these settings have no webhook secret to replace (`secret`, `*_secret` or `signing_key`); give --config instead"
                .into(),
        );
    }
    for k in &keys {
        obj.insert(k.clone(), Value::String(secret.to_string()));
    }
    Ok(keys)
}

/// The signed sample request of `event` for `url`.
pub fn build_request(
    factory: &dyn ChannelFactory,
    config: &Value,
    event: &str,
    url: &str,
) -> Result<WebhookRequest, String> {
    let samples = factory.sample_events();
    if !samples.contains(&event) {
        return Err(format!(
            "no sample event `{}` for {} (available: {})",
            event.escape_debug(),
            factory.provider(),
            if samples.is_empty() {
                "none".to_string()
            } else {
                samples.join(", ")
            }
        ));
    }
    factory
        .simulate(config, event, url, Utc::now())
        .map_err(|e: Error| format!("cannot build the request: {e}"))
}

/// Sends a request as is to its URL; the status and the body of the answer.
pub async fn send(
    http: &reqwest::Client,
    req: &WebhookRequest,
) -> Result<(u16, bytes::Bytes), Error> {
    let res = http
        .request(req.method.clone(), &req.url)
        .headers(req.headers.clone())
        .body(req.body.clone())
        .send()
        .await
        .map_err(Error::from_reqwest)?;
    let status = res.status().as_u16();
    let body = omnichannel_core::http::read_body_limited(
        res,
        omnichannel_core::http::DEFAULT_MAX_RESPONSE_BYTES,
    )
    .await?;
    Ok((status, body))
}

/// Runs the command: exit 0 when the endpoint answered 2xx, 1 otherwise, 2 on a usage error.
pub async fn run(
    factories: &[Arc<dyn ChannelFactory>],
    provider: &str,
    event: &str,
    to: &str,
    secret: Option<&str>,
    config: Option<&Path>,
) -> ExitCode {
    let factory = match find_factory(factories, provider) {
        Ok(f) => f,
        Err(e) => return usage_error(e),
    };
    match url::Url::parse(to) {
        Ok(u) if matches!(u.scheme(), "http" | "https") => {}
        _ => return usage_error("--to: must be an absolute http or https URL"),
    }
    let mut settings = match config {
        Some(p) => match read_json(p, "config") {
            Ok(c) => c,
            Err(e) => return usage_error(e),
        },
        None => factory.demo_config(),
    };
    if let Some(s) = secret
        && let Err(e) = override_secret(&mut settings, s)
    {
        return usage_error(e);
    }
    let req = match build_request(factory.as_ref(), &settings, event, to) {
        Ok(r) => r,
        Err(e) => return usage_error(e),
    };
    println!(
        "{} {} ({} sample `{event}`)",
        req.method,
        req.url,
        factory.provider()
    );
    match send(&omnichannel_core::http::default_client(), &req).await {
        Ok((status, body)) => {
            let shown = match body_value(&body) {
                Ok(Value::String(s)) => s,
                Ok(v) => v.to_string(),
                Err(b64) => format!("(binary body, base64) {b64}"),
            };
            println!("-> {status}");
            if !shown.is_empty() {
                println!("{shown}");
            }
            if (200..300).contains(&status) {
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            }
        }
        Err(e) => {
            eprintln!("error: the request failed: {e}");
            ExitCode::FAILURE
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;
    use serde_json::json;

    #[test]
    fn replaces_webhook_secrets_only() {
        let mut c = json!({"app_id": "a", "app_secret": "old", "tolerance_secs": 5});
        assert_eq!(override_secret(&mut c, "new").unwrap(), vec!["app_secret"]);
        assert_eq!(
            c,
            json!({"app_id": "a", "app_secret": "new", "tolerance_secs": 5})
        );
        let mut c = json!({"signing_key": ["k1", "k2"], "project_id": "p"});
        override_secret(&mut c, "k3").unwrap();
        assert_eq!(c["signing_key"], "k3");
        let mut c = json!({"secret": "s"});
        override_secret(&mut c, "t").unwrap();
        assert_eq!(c["secret"], "t");
        assert!(override_secret(&mut json!({"consumer_key": "x"}), "t").is_err());
        assert!(override_secret(&mut json!([]), "t").is_err());
    }
}
