//! Connect a TikTok business account in the browser, then answer its direct messages within
//! TikTok's 48-hour window.
//!
//! The host serves `GET /connect` (redirects to TikTok's authorization page with a signed,
//! expiring `state`), `GET /oauth/tiktok/callback` (checks the state, exchanges the code, keeps
//! the business's tokens in the channel's token manager) and the gateway's
//! `/webhooks/tiktok/main`. When a signed message arrives, the host replies in the same
//! conversation; a reply after the window is refused before any request.
//!
//! ```text
//! cargo run --example tiktok_connect
//! ```
//!
//! Offline by default: TikTok's API (token exchange, message send) is a mock server on
//! 127.0.0.1; the example plays the browser (follows the authorization URL's redirect back to
//! the callback with a code) and TikTok's webhook (signed with the test secret). To connect a
//! real business account, set all of:
//!
//! | variable | meaning |
//! | --- | --- |
//! | `TIKTOK_APP_ID`, `TIKTOK_APP_SECRET` | the app's client key and secret |
//! | `TIKTOK_PUBLIC_URL` | public base URL reaching this process (a tunnel to `TIKTOK_LISTEN`); register `<it>/oauth/tiktok/callback` as redirect URI and `<it>/webhooks/tiktok/main` as webhook URL |
//!
//! Optional: `TIKTOK_LISTEN` (default `127.0.0.1:8089`), `TIKTOK_WAIT_SECS` (how long to wait
//! for the authorization and then for a message, default 300).

#[path = "common/mod.rs"]
mod common;

use std::sync::Arc;
use std::time::Duration;

use common::{JsonHas, MemorySink, Result, detail, ensure, event_line, step};
use omnichannel::tiktok::{Authorization, TiktokChannel, TiktokConfig};
use omnichannel::{Channel, ChannelEnv, EventKind, Message, Provider};
use omnichannel_axum::Gateway;
use omnichannel_axum::axum::Router;
use omnichannel_axum::axum::extract::RawQuery;
use omnichannel_axum::axum::http::{StatusCode, header};
use omnichannel_axum::axum::response::IntoResponse;
use omnichannel_axum::axum::routing::get;
use serde_json::json;
use tokio::sync::mpsc;
use wiremock::matchers::{header as has_header, method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

const OFFLINE_APP_ID: &str = "example-app-id";
const OFFLINE_SECRET: &str = "test-secret-not-real";
const OFFLINE_BUSINESS: &str = "biz-example-1";
const OFFLINE_CODE: &str = "example-auth-code";
const OFFLINE_ACCESS_TOKEN: &str = "act.example-access-token-not-real";
const REPLY_TEXT: &str = "Hi Alice! Thanks for reaching out.";

struct Setup {
    app_id: String,
    secret: String,
    api_base_url: Option<String>,
    public_url: Option<String>,
    listen: String,
    wait: Duration,
    mock: Option<MockServer>,
}

async fn offline_setup() -> Result<Setup> {
    let mock = MockServer::start().await;
    let scopes = omnichannel::tiktok::config::DEFAULT_SCOPES.join(",");
    Mock::given(method("POST"))
        .and(path("/open_api/v1.3/tt_user/oauth2/token/"))
        .and(JsonHas(json!({
            "client_id": OFFLINE_APP_ID,
            "client_secret": OFFLINE_SECRET,
            "grant_type": "authorization_code",
            "auth_code": OFFLINE_CODE,
        })))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "code": 0, "message": "OK", "request_id": "req-token-1",
            "data": {
                "open_id": OFFLINE_BUSINESS, "scope": scopes,
                "access_token": OFFLINE_ACCESS_TOKEN, "expires_in": 86400,
                "refresh_token": "rft.example-refresh-token-not-real",
                "refresh_token_expires_in": 31_536_000
            }
        })))
        .expect(1)
        .mount(&mock)
        .await;
    Mock::given(method("POST"))
        .and(path("/open_api/v1.3/business/message/send/"))
        .and(has_header("access-token", OFFLINE_ACCESS_TOKEN))
        .and(JsonHas(json!({
            "business_id": OFFLINE_BUSINESS,
            "recipient_type": "CONVERSATION",
            "recipient": "tt-conv-1",
            "message_type": "TEXT",
            "text": {"body": REPLY_TEXT},
        })))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "code": 0, "message": "OK", "request_id": "req-send-1",
            "data": {"message": {"message_id": "tt-reply-1"}}
        })))
        .expect(1)
        .mount(&mock)
        .await;
    Ok(Setup {
        app_id: OFFLINE_APP_ID.into(),
        secret: OFFLINE_SECRET.into(),
        api_base_url: Some(format!("{}/open_api/v1.3/", mock.uri())),
        public_url: None,
        listen: "127.0.0.1:0".into(),
        wait: Duration::from_secs(5),
        mock: Some(mock),
    })
}

fn live_setup() -> Result<Option<Setup>> {
    let Some(v) = common::env_group(&["TIKTOK_APP_ID", "TIKTOK_APP_SECRET", "TIKTOK_PUBLIC_URL"])?
    else {
        return Ok(None);
    };
    let wait = common::env("TIKTOK_WAIT_SECS")
        .map(|s| s.parse::<u64>())
        .transpose()
        .map_err(|_| "TIKTOK_WAIT_SECS must be a number of seconds")?
        .unwrap_or(300);
    Ok(Some(Setup {
        app_id: v[0].clone(),
        secret: v[1].clone(),
        api_base_url: None,
        public_url: Some(v[2].trim_end_matches('/').to_string()),
        listen: common::env("TIKTOK_LISTEN").unwrap_or_else(|| "127.0.0.1:8089".into()),
        wait: Duration::from_secs(wait),
        mock: None,
    }))
}

/// The host's OAuth routes beside the gateway.
fn oauth_routes(channel: Arc<TiktokChannel>, done: mpsc::UnboundedSender<Authorization>) -> Router {
    let connect = channel.clone();
    Router::new()
        .route(
            "/connect",
            get(move || {
                let channel = connect.clone();
                async move {
                    // `host_ref` names the host's own account the business is connected to.
                    match channel.oauth().authorization_url("account-42") {
                        Ok(url) => (StatusCode::FOUND, [(header::LOCATION, url)]).into_response(),
                        Err(e) => {
                            (StatusCode::INTERNAL_SERVER_ERROR, e.to_string()).into_response()
                        }
                    }
                }
            }),
        )
        .route(
            "/oauth/tiktok/callback",
            get(move |RawQuery(query): RawQuery| {
                let channel = channel.clone();
                let done = done.clone();
                async move {
                    match channel
                        .complete_authorization(query.as_deref().unwrap_or(""))
                        .await
                    {
                        Ok(auth) => {
                            let page = format!(
                                "Connected TikTok business {} to {}.",
                                auth.business_id, auth.host_ref
                            );
                            let _ = done.send(auth);
                            (StatusCode::OK, page).into_response()
                        }
                        Err(e) => {
                            let status = match e.kind() {
                                "invalid_input" | "unauthorized" => StatusCode::BAD_REQUEST,
                                _ => StatusCode::BAD_GATEWAY,
                            };
                            (status, format!("Not connected ({}): {e}", e.kind())).into_response()
                        }
                    }
                }
            }),
        )
}

/// The value of a query parameter of a URL.
fn query_param(url: &str, name: &str) -> Option<String> {
    let query = url.split_once('?')?.1;
    serde_urlencoded::from_str::<Vec<(String, String)>>(query)
        .ok()?
        .into_iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v)
}

async fn run(setup: Setup) -> Result {
    // The example follows redirects itself, as a step of the story.
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(Duration::from_secs(20))
        .build()?;

    step(1, "Start the host: OAuth routes and the gateway's webhook");
    let listener = tokio::net::TcpListener::bind(&setup.listen).await?;
    let local = format!("http://{}", listener.local_addr()?);
    let public = setup.public_url.clone().unwrap_or_else(|| local.clone());
    let mut settings = json!({
        "app_id": setup.app_id,
        "app_secret": setup.secret,
        "redirect_uri": format!("{public}/oauth/tiktok/callback"),
    });
    if let Some(api) = &setup.api_base_url {
        settings["api_base_url"] = json!(api);
    }
    let config = TiktokConfig::from_settings(&settings)?;
    let channel = Arc::new(TiktokChannel::new(config.clone(), &ChannelEnv::default())?);
    let inbox = Arc::new(MemorySink::default());
    let gateway = Gateway::builder(&public, inbox.clone())
        .channel("main", channel.clone())
        .build()?;
    let webhook_url = gateway.webhook_url(Provider::Tiktok, "main");
    let (auth_tx, mut auth_rx) = mpsc::unbounded_channel();
    let app = oauth_routes(channel.clone(), auth_tx).merge(gateway.router());
    tokio::spawn(async move {
        if let Err(e) = omnichannel_axum::axum::serve(listener, app).await {
            eprintln!("host server stopped: {e}");
        }
    });
    detail(format!("listening on {local}; webhook URL {webhook_url}"));

    step(
        2,
        "The account holder clicks \"Connect TikTok\": GET /connect",
    );
    let res = client.get(format!("{local}/connect")).send().await?;
    let auth_url = res
        .headers()
        .get("location")
        .and_then(|v| v.to_str().ok())
        .ok_or("/connect did not redirect")?
        .to_string();
    detail("open this URL in a browser to authorize:");
    println!("    {auth_url}");
    let state = query_param(&auth_url, "state").ok_or("no state in the URL")?;
    let claims = omnichannel::tiktok::auth::verify_state(&config, &state, chrono::Utc::now())?;
    detail(format!(
        "state is a JWT signed with the app secret: sub={}, expires in {} s",
        claims.sub,
        claims.exp - claims.iat
    ));

    let auth = if setup.mock.is_some() {
        step(
            3,
            "Offline: a forged state is refused before the code is used",
        );
        // Same claims, signed with a secret that is not the app's.
        let other = TiktokConfig::builder(&setup.app_id, "not-the-app-secret").build()?;
        let forged =
            omnichannel::tiktok::auth::make_state(&other, &claims.sub, chrono::Utc::now())?;
        let res = client
            .get(format!("{local}/oauth/tiktok/callback"))
            .query(&[("code", OFFLINE_CODE), ("state", &forged)])
            .send()
            .await?;
        let status = res.status().as_u16();
        detail(format!("-> {status} {}", res.text().await?));
        ensure(status == 400, "a forged state is refused")?;

        step(
            4,
            "Offline: TikTok redirects back with a code and our state",
        );
        let res = client
            .get(format!("{local}/oauth/tiktok/callback"))
            .query(&[("code", OFFLINE_CODE), ("state", &state)])
            .send()
            .await?;
        let status = res.status().as_u16();
        detail(format!("-> {status} {}", res.text().await?));
        ensure(status == 200, "the callback completes the authorization")?;
        auth_rx.recv().await.ok_or("no authorization")?
    } else {
        step(3, "Waiting for TikTok to redirect the browser back...");
        tokio::time::timeout(setup.wait, auth_rx.recv())
            .await
            .map_err(|_| "no authorization arrived in time")?
            .ok_or("no authorization")?
    };
    detail(format!(
        "business {} connected for {}; {} scopes granted; token kept by the token manager",
        auth.business_id,
        auth.host_ref,
        auth.granted_scopes.len()
    ));

    step(5, "A customer writes to the business (signed webhook)");
    if setup.mock.is_some() {
        let now = chrono::Utc::now();
        let body = omnichannel::tiktok::webhook::sample_body(
            "text",
            &config.app_id,
            &auth.business_id,
            now,
        )
        .ok_or("no sample")?;
        let req = omnichannel::tiktok::webhook::sign_request(
            &config.app_secret,
            &webhook_url,
            body,
            now,
        )?;
        let (status, _) = common::deliver(&client, &req).await?;
        ensure(status == 200, "the webhook is answered 200")?;
    } else {
        detail(format!(
            "waiting up to {:?} for a direct message...",
            setup.wait
        ));
    }
    inbox.wait_for(1, setup.wait).await?;
    let (_, message) = inbox.events().remove(0);
    ensure(message.kind == EventKind::Message, "a message arrived")?;
    let last_inbound_at = message.occurred_at.ok_or("the message has no time")?;
    detail(format!(
        "may reply: {} (48 h from {last_inbound_at})",
        channel.may_reply(last_inbound_at)
    ));

    step(6, "Reply within the window");
    let conversation = message.conversation_id.clone().ok_or("no conversation")?;
    let reply = |at| {
        Message::text(REPLY_TEXT)
            .conversation_id(&conversation)
            .reply_to(&message.id)
            .last_inbound_at(at)
            .metadata("business_id", json!(auth.business_id))
            .build()
    };
    let receipt = channel.send(&reply(last_inbound_at)).await?;
    detail(format!(
        "sent as {} ({:?})",
        receipt.message_id, receipt.status
    ));

    step(
        7,
        "Once the customer's last message is 49 hours old, a reply is refused before any request",
    );
    let late = last_inbound_at - chrono::Duration::hours(49);
    match channel.send(&reply(late)).await {
        Err(e) => detail(format!("refused: {} ({e})", e.kind())),
        Ok(r) => return Err(format!("a late reply was sent: {}", r.message_id).into()),
    }

    if let Some(mock) = &setup.mock {
        mock.verify().await;
        detail("mock TikTok saw one token exchange and one send");
    }
    println!("\nmessage answered: {}", event_line(&message));
    Ok(())
}

async fn run_offline() -> Result {
    common::bounded(async { run(offline_setup().await?).await }).await
}

#[tokio::main]
async fn main() -> std::process::ExitCode {
    common::live_or_offline(
        live_setup(),
        "live mode: connect a real TikTok business account",
        "offline mode: TikTok is a local mock (see the file header to go live)",
        run,
        run_offline,
    )
    .await
}

#[cfg(test)]
mod tests {
    #[tokio::test]
    async fn offline_mode_succeeds() {
        if let Err(e) = super::run_offline().await {
            panic!("offline run failed: {e}");
        }
    }
}
