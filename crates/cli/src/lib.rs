//! # omnichannel-cli
//!
//! The `omnichannel` command (DESIGN.md section 6):
//!
//! - `omnichannel serve [--config FILE]`: the webhook gateway. Each event is written as one
//!   JSON line on stdout and, with a forward URL, POSTed to the host (retried in the background,
//!   never silently lost). Without a configuration it runs on embedded defaults: one channel
//!   per built-in provider on its demo settings, in-memory stores, demo secrets printed at start.
//! - `omnichannel demo`: the gateway on embedded defaults, with every provider's sample
//!   requests played at it over HTTP; shows each event and reply, then keeps serving.
//! - `omnichannel verify --provider P --config FILE --request FILE [--now TIME]`: one recorded
//!   request through a channel (or `--event FILE`, a decoded event such as a Salesforce platform
//!   event); prints `{"verified", "events", "reply", "error", "message"}` (`error` and `message`
//!   only when refused); exit 0 verified, 1 rejected, 2 usage error.
//! - `omnichannel simulate --provider P --event NAME --to URL [--secret S] [--config FILE]`:
//!   sends a correctly signed sample request to a host's endpoint; exit 0 when it answered 2xx.
//! - `omnichannel check DIR...`: runs every fixture under the folders; one line per fixture,
//!   last line `N passed, M failed`; exit 1 if any failed.
//!
//! The providers built in are listed in one place, [`providers::factories`]; the gateway's
//! configuration file is described in [`config`]; logs go to stderr (`RUST_LOG` sets the level).
//!
//! ```no_run
//! use clap::Parser as _;
//! # async fn demo() -> std::process::ExitCode {
//! let cli = omnichannel_cli::Cli::parse_from(["omnichannel", "check", "tests/fixtures"]);
//! omnichannel_cli::run(cli, omnichannel_cli::providers::factories()).await
//! # }
//! ```
#![forbid(unsafe_code)]

pub mod check;
pub mod config;
pub mod demo;
pub mod forward;
pub mod output;
pub mod providers;
pub mod serve;
pub mod simulate;
pub mod stores;
pub mod verify;

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use clap::{Parser, Subcommand};
use omnichannel_core::ChannelFactory;

/// Exit code of a usage error (bad arguments, unreadable files, unknown provider).
pub const EXIT_USAGE: u8 = 2;

/// Command-line arguments.
#[derive(Debug, Parser)]
#[command(
    name = "omnichannel",
    version,
    about = "Verified webhooks in, normalized events out: a gateway and tools for omnichannel channels."
)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the webhook gateway (embedded demo defaults without --config).
    Serve {
        /// TOML configuration (see the crate docs for the format).
        #[arg(long, value_name = "FILE")]
        config: Option<PathBuf>,
        /// Listen address, overriding the configuration (default 127.0.0.1:8080).
        #[arg(long, value_name = "ADDR")]
        listen: Option<String>,
    },
    /// Start the gateway on embedded defaults and play every provider's sample requests at it.
    Demo {
        /// Listen address (default 127.0.0.1:8080; port 0 picks a free one).
        #[arg(long, value_name = "ADDR")]
        listen: Option<String>,
        /// Exit after playing the samples instead of serving on.
        #[arg(long)]
        once: bool,
    },
    /// Verify and parse one recorded request (the fixture `request` object).
    Verify {
        /// Provider name (tiktok, front, signalwire, rocketchat, rapidpro, salesforce).
        #[arg(long)]
        provider: String,
        /// The channel's settings as JSON.
        #[arg(long, value_name = "FILE")]
        config: PathBuf,
        /// The request as JSON: {"method", "url", "headers", "body" | "body_base64"}.
        #[arg(long, value_name = "FILE", required_unless_present = "event")]
        request: Option<PathBuf>,
        /// Instead of a request, a decoded event that is not an HTTP request (the fixture
        /// `inbound.event`, such as a Salesforce platform event).
        #[arg(long, value_name = "FILE", conflicts_with = "request")]
        event: Option<PathBuf>,
        /// The clock to verify timestamps against (RFC 3339; default now).
        #[arg(long, value_name = "TIME")]
        now: Option<String>,
    },
    /// Send a correctly signed sample request to an endpoint.
    Simulate {
        /// Provider name.
        #[arg(long)]
        provider: String,
        /// Sample event name (an unknown name lists the available ones).
        #[arg(long)]
        event: String,
        /// The endpoint URL, exactly as the provider would call it (providers with several
        /// endpoints per channel, such as rapidpro, append the endpoint's name to it).
        #[arg(long, value_name = "URL")]
        to: String,
        /// The webhook secret to sign with, replacing the one in the settings.
        #[arg(long)]
        secret: Option<String>,
        /// The channel's settings as JSON (default: the provider's demo settings).
        #[arg(long, value_name = "FILE")]
        config: Option<PathBuf>,
    },
    /// Run every fixture under the folders.
    Check {
        /// Folders of fixtures (searched recursively for *.json).
        #[arg(required = true, value_name = "DIR")]
        dirs: Vec<PathBuf>,
    },
}

/// Runs a parsed command with these providers.
pub async fn run(cli: Cli, factories: Vec<Arc<dyn ChannelFactory>>) -> ExitCode {
    match cli.command {
        Command::Serve { config, listen } => {
            init_tracing("info");
            serve_command(config, listen, &factories).await
        }
        Command::Demo { listen, once } => {
            init_tracing("warn");
            demo::run(&factories, listen.as_deref(), once).await
        }
        Command::Verify {
            provider,
            config,
            request,
            event,
            now,
        } => {
            init_tracing("warn");
            let input = match (request, event) {
                (Some(r), None) => verify::Input::Request(r),
                (None, Some(e)) => verify::Input::Event(e),
                _ => return usage_error("give --request FILE or --event FILE"),
            };
            verify::run(&factories, &provider, &config, &input, now.as_deref()).await
        }
        Command::Simulate {
            provider,
            event,
            to,
            secret,
            config,
        } => {
            init_tracing("warn");
            simulate::run(
                &factories,
                &provider,
                &event,
                &to,
                secret.as_deref(),
                config.as_deref(),
            )
            .await
        }
        Command::Check { dirs } => {
            init_tracing("warn");
            check::run(&factories, &dirs).await
        }
    }
}

/// Logs to stderr; `RUST_LOG` overrides the default level.
fn init_tracing(default_level: &str) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default_level));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_writer(std::io::stderr)
        .try_init();
}

/// Resolves on Ctrl-C, or SIGTERM on Unix (what container runtimes send).
pub(crate) async fn shutdown_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = tokio::signal::ctrl_c() => {}
                    _ = term.recv() => {}
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}

/// Prints a usage error and returns exit code 2.
pub(crate) fn usage_error(message: impl std::fmt::Display) -> ExitCode {
    eprintln!("error: {message}");
    ExitCode::from(EXIT_USAGE)
}

async fn serve_command(
    config_path: Option<PathBuf>,
    listen: Option<String>,
    factories: &[Arc<dyn ChannelFactory>],
) -> ExitCode {
    let env = config::ProcessEnv;
    let mut cfg = match &config_path {
        Some(p) => match config::GatewayConfig::from_file(p, &env) {
            Ok(c) => c,
            Err(e) => return usage_error(e),
        },
        None => {
            if factories.is_empty() {
                return usage_error("no provider is built into this binary");
            }
            config::GatewayConfig::embedded(factories, &env)
        }
    };
    if let Some(l) = listen
        && let Err(e) = cfg.set_listen(&l)
    {
        return usage_error(e);
    }
    let stores = match stores::open(cfg.redis_url.as_ref()).await {
        Ok(s) => s,
        Err(e) => return usage_error(e),
    };
    let (sink, forwarder) = match serve::standard_sink(&cfg) {
        Ok(s) => s,
        Err(e) => return usage_error(e),
    };
    let mut server = match serve::start(&cfg, factories, &stores, sink).await {
        Ok(s) => s,
        Err(e) => return usage_error(e),
    };
    output::banner(&server, &cfg, &stores);
    let stopped = tokio::select! {
        r = server.wait() => Some(r),
        () = shutdown_signal() => None,
    };
    if let Some(Err(e)) = stopped {
        eprintln!("error: the server stopped: {e}");
        return ExitCode::FAILURE;
    }
    eprintln!("omnichannel: stopping");
    server.shutdown().await;
    if let Some(fw) = forwarder
        && !fw.flush(std::time::Duration::from_secs(10)).await
    {
        let ids = fw.pending_ids();
        tracing::error!(
            count = ids.len(),
            event_ids = ?ids,
            "events not forwarded before exit (they were written to stdout)"
        );
        return ExitCode::FAILURE;
    }
    ExitCode::SUCCESS
}
