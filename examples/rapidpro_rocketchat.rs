//! RapidPro tickets on Rocket.Chat Omnichannel, both sides of the "Tickets" app talking over
//! loopback: a ticket is opened (a livechat room), messages go both ways, and the ticket is
//! closed from each side.
//!
//! - The **Rocket.Chat host** mounts the app side (`RapidproChannel`, provider `rapidpro`) in an
//!   `omnichannel-axum` gateway: it answers RapidPro's `secret.check`, `settings`, `room`,
//!   `visitor-message` and `room.close`, and sends `agent-message` / `close-room` webhooks.
//! - The **RapidPro host** uses the RapidPro side (`RocketchatChannel`, provider `rocketchat`):
//!   its client calls the app, and its own gateway takes the app's webhooks at the callback URL.
//!
//! ```text
//! cargo run --example rapidpro_rocketchat
//! ```
//!
//! Offline by default: both hosts run on 127.0.0.1 with the test secret `test-secret-not-real`.
//! To drive a real Rocket.Chat server with the Tickets app installed (the app side is then the
//! real app, and an agent answers in Rocket.Chat), set all of:
//!
//! | variable | meaning |
//! | --- | --- |
//! | `ROCKETCHAT_APP_URL` | the app's base URL, `https://chat.example.com/api/apps/public/<app id>` |
//! | `ROCKETCHAT_APP_SECRET` | the secret configured in the app |
//! | `RAPIDPRO_PUBLIC_URL` | the public base URL that reaches this process (a tunnel to `RAPIDPRO_LISTEN`) |
//!
//! Optional: `RAPIDPRO_LISTEN` (default `127.0.0.1:8088`), `TICKETS_WAIT_SECS` (how long to
//! wait for the agent's reply, default 120).

#[path = "common/mod.rs"]
mod common;

use std::sync::Arc;
use std::time::Duration;

use common::{MemorySink, Result, detail, ensure, step};
use omnichannel::rocketchat_rapidpro::model::{OpenRoom, Visitor};
use omnichannel::rocketchat_rapidpro::{
    DEMO_APP_ID, RapidproChannel, RapidproConfig, RocketchatChannel, RocketchatConfig,
};
use omnichannel::{Channel, ChannelEnv, EventKind, Message, Provider};
use omnichannel_axum::Gateway;
use serde_json::json;

const OFFLINE_SECRET: &str = "test-secret-not-real";

/// Where the RapidPro side points.
struct Setup {
    /// The app's base URL; `None` starts the local Rocket.Chat host (offline).
    app_url: Option<String>,
    secret: String,
    public_url: Option<String>,
    listen: String,
    agent_wait: Duration,
}

fn live_setup() -> Result<Option<Setup>> {
    let Some(v) = common::env_group(&[
        "ROCKETCHAT_APP_URL",
        "ROCKETCHAT_APP_SECRET",
        "RAPIDPRO_PUBLIC_URL",
    ])?
    else {
        return Ok(None);
    };
    let wait = common::env("TICKETS_WAIT_SECS")
        .map(|s| s.parse::<u64>())
        .transpose()
        .map_err(|_| "TICKETS_WAIT_SECS must be a number of seconds")?
        .unwrap_or(120);
    Ok(Some(Setup {
        app_url: Some(v[0].clone()),
        secret: v[1].clone(),
        public_url: Some(v[2].clone()),
        listen: common::env("RAPIDPRO_LISTEN").unwrap_or_else(|| "127.0.0.1:8088".into()),
        agent_wait: Duration::from_secs(wait),
    }))
}

fn offline_setup() -> Setup {
    Setup {
        app_url: None,
        secret: OFFLINE_SECRET.into(),
        public_url: None,
        listen: "127.0.0.1:0".into(),
        agent_wait: Duration::from_secs(5),
    }
}

/// The public-looking name the offline RapidPro host registers as its callback host. The app
/// refuses loopback callback URLs (validate.js's `url` rule, as the real app), so the
/// Rocket.Chat host resolves this name to 127.0.0.1, as a hosts-file entry would.
const OFFLINE_RAPIDPRO_HOST: &str = "rapidpro.example.test";

/// The local Rocket.Chat host: the app side mounted in a gateway. Returns the app's base URL,
/// the channel (the host calls `send` when an agent writes or closes) and what the agents saw.
async fn start_rocketchat_host(
    secret: &str,
    rapidpro_addr: std::net::SocketAddr,
) -> Result<(String, Arc<RapidproChannel>, Arc<MemorySink>)> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let base = format!("http://{}", listener.local_addr()?);
    let env = ChannelEnv {
        http: reqwest::Client::builder()
            .resolve(OFFLINE_RAPIDPRO_HOST, rapidpro_addr)
            .timeout(Duration::from_secs(10))
            .build()?,
        ..ChannelEnv::default()
    };
    let app = Arc::new(RapidproChannel::new(
        RapidproConfig::new(DEMO_APP_ID, secret),
        &env,
    )?);
    let agents = Arc::new(MemorySink::default());
    let gateway = Gateway::builder(&base, agents.clone())
        .channel("tickets", app.clone())
        .build()?;
    // RapidPro calls `<app url>/<endpoint>`; the gateway routes every path below the channel.
    let app_url = gateway.webhook_url(Provider::Rapidpro, "tickets");
    let router = gateway.router();
    tokio::spawn(async move {
        if let Err(e) = omnichannel_axum::axum::serve(listener, router).await {
            eprintln!("Rocket.Chat host stopped: {e}");
        }
    });
    Ok((app_url, app, agents))
}

async fn run(setup: Setup) -> Result {
    step(1, "Start the hosts");
    let listener = tokio::net::TcpListener::bind(&setup.listen).await?;
    let addr = listener.local_addr()?;
    let local = format!("http://{addr}");
    let public = match &setup.public_url {
        Some(url) => url.clone(),
        None => format!("http://{OFFLINE_RAPIDPRO_HOST}:{}", addr.port()),
    };
    let local_app = match &setup.app_url {
        Some(_) => None,
        None => Some(start_rocketchat_host(&setup.secret, addr).await?),
    };
    let app_url = match (&setup.app_url, &local_app) {
        (Some(url), _) => url.clone(),
        (None, Some((url, _, _))) => url.clone(),
        (None, None) => return Err("no app URL".into()),
    };
    detail(format!("Tickets app base URL: {app_url}"));
    let rapidpro = Arc::new(RocketchatChannel::new(
        RocketchatConfig::new(&app_url, &setup.secret),
        &ChannelEnv::default(),
    )?);
    let mailroom = Arc::new(MemorySink::default());
    let gateway = Gateway::builder(&public, mailroom.clone())
        .channel("mailroom", rapidpro.clone())
        .build()?;
    let callback_url = gateway.webhook_url(Provider::Rocketchat, "mailroom");
    let router = gateway.router();
    tokio::spawn(async move {
        if let Err(e) = omnichannel_axum::axum::serve(listener, router).await {
            eprintln!("RapidPro host stopped: {e}");
        }
    });
    detail(format!(
        "RapidPro host on {local}, callback URL {callback_url}"
    ));

    step(
        2,
        "RapidPro connects the ticketer: secret.check, then PUT settings",
    );
    rapidpro.client().check_secret().await?;
    detail("secret.check -> ok");
    rapidpro.client().set_settings(&callback_url).await?;
    detail("settings -> 204 (the app now calls the callback URL)");

    step(3, "A contact needs help: RapidPro opens a ticket (room)");
    let token = "1234567";
    let ticket = "59d74b86-3e2f-4a93-aece-b05d2fdcde0c";
    let room_id = rapidpro
        .open_room(&OpenRoom {
            visitor: Visitor {
                contact_uuid: Some("5d76d86b-3bb9-4d5a-b822-c9d86f5d8e4f".into()),
                name: Some("Ryan Lewis".into()),
                phone: Some("+12024561111".into()),
                ..Visitor::token(token)
            },
            ticket_id: ticket.into(),
            priority: None,
        })
        .await?;
    detail(format!("room -> 201, room id {room_id}"));

    step(
        4,
        "The contact writes: RapidPro forwards it (visitor-message)",
    );
    let receipt = rapidpro
        .send(
            &Message::text("My order has not arrived")
                .conversation_id(token)
                .build(),
        )
        .await?;
    detail(format!(
        "visitor-message -> 201, message id {}",
        receipt.message_id
    ));

    step(
        5,
        "An agent answers in Rocket.Chat: the app sends agent-message to RapidPro",
    );
    if let Some((_, app, _)) = &local_app {
        let receipt = app
            .send(
                &Message::text("Sorry about that! It ships today.")
                    .conversation_id(token)
                    .build(),
            )
            .await?;
        detail(format!("agent-message delivered ({})", receipt.message_id));
    } else {
        detail(format!(
            "waiting up to {:?} for an agent to answer in Rocket.Chat...",
            setup.agent_wait
        ));
    }
    mailroom.wait_for(1, setup.agent_wait).await?;
    let agent_message = &mailroom.events()[0].1;
    ensure(
        agent_message.kind == EventKind::Message,
        "RapidPro received the agent's message",
    )?;

    step(6, "RapidPro closes the ticket (room.close)");
    rapidpro.close_room(token).await?;
    detail("room.close -> 204");

    if let Some((_, app, agents)) = &local_app {
        step(
            7,
            "A second ticket, closed by the agent this time (close-room webhook)",
        );
        let token2 = "7654321";
        rapidpro
            .open_room(&OpenRoom {
                visitor: Visitor {
                    contact_uuid: Some("0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d".into()),
                    name: Some("Ana Souza".into()),
                    ..Visitor::token(token2)
                },
                ticket_id: "c0ffee00-1111-4222-8333-444455556666".into(),
                priority: None,
            })
            .await?;
        let receipt = app
            .send(
                &Message::builder()
                    .conversation_id(token2)
                    .metadata("action", json!("close-room"))
                    .build(),
            )
            .await?;
        detail(format!("close-room delivered ({})", receipt.message_id));
        mailroom.wait_for(2, setup.agent_wait).await?;

        step(8, "What each side saw");
        let seen = |sink: &MemorySink| -> Vec<EventKind> {
            sink.events().iter().map(|(_, e)| e.kind).collect()
        };
        detail(format!("Rocket.Chat (app side): {:?}", seen(agents)));
        detail(format!("RapidPro: {:?}", seen(&mailroom)));
        ensure(
            seen(agents)
                == [
                    EventKind::ChannelAuthorized,
                    EventKind::ConversationOpened,
                    EventKind::Message,
                    EventKind::ConversationClosed,
                    EventKind::ConversationOpened,
                ],
            "the app side saw settings, room, visitor-message, room.close, room",
        )?;
        ensure(
            seen(&mailroom) == [EventKind::Message, EventKind::ConversationClosed],
            "RapidPro saw agent-message and close-room",
        )?;
    }
    Ok(())
}

async fn run_offline() -> Result {
    common::bounded(run(offline_setup())).await
}

#[tokio::main]
async fn main() -> std::process::ExitCode {
    common::live_or_offline(
        live_setup(),
        "live mode: the Tickets app at ROCKETCHAT_APP_URL",
        "offline mode: both sides on 127.0.0.1 (see the file header to go live)",
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
