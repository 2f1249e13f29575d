//! `omnichannel demo`: the gateway on embedded defaults, every provider's sample requests
//! played at it over HTTP, each event and reply shown.

use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use async_trait::async_trait;
use omnichannel_axum::{EventSink, EventSource};
use omnichannel_core::{ChannelFactory, Event, ExposeSecret as _, Result};

use crate::config::{DEMO_CHANNEL, GatewayConfig, ProcessEnv};
use crate::output::{body_value, event_line};
use crate::stores::Stores;
use crate::{serve, simulate, usage_error};

/// Shows each event as it arrives, and counts them.
#[derive(Debug, Default)]
struct DisplaySink {
    count: AtomicUsize,
}

#[async_trait]
impl EventSink for DisplaySink {
    async fn deliver(&self, source: &EventSource, event: &Event) -> Result<()> {
        self.count.fetch_add(1, Ordering::SeqCst);
        println!(
            "      event  {}/{} {}",
            source.provider,
            source.channel,
            event_line(event)
        );
        Ok(())
    }
}

struct Step {
    factory: Arc<dyn ChannelFactory>,
    event: &'static str,
    redelivery: bool,
}

/// Runs the demo; with `once`, exits after playing (0 when every request was accepted and the
/// redelivery was deduplicated).
pub async fn run(
    factories: &[Arc<dyn ChannelFactory>],
    listen: Option<&str>,
    once: bool,
) -> ExitCode {
    if factories.is_empty() {
        return usage_error("no provider is built into this binary");
    }
    let mut cfg = GatewayConfig::embedded(factories, &ProcessEnv);
    if let Some(l) = listen
        && let Err(e) = cfg.set_listen(l)
    {
        return usage_error(e);
    }
    let sink = Arc::new(DisplaySink::default());
    let server = match serve::start(&cfg, factories, &Stores::memory(), sink.clone()).await {
        Ok(s) => s,
        Err(e) => return usage_error(e),
    };
    let gw = server.gateway.clone();
    println!(
        "omnichannel demo: gateway at {} with {} channel(s)",
        server.local_url(),
        gw.mounted().len()
    );

    let mut steps = Vec::new();
    for f in factories {
        let samples = f.sample_events();
        if samples.is_empty() {
            println!(
                "  {}: no sample webhook requests (this provider takes no webhooks, or has no samples)",
                f.provider()
            );
        }
        for event in samples {
            steps.push(Step {
                factory: f.clone(),
                event,
                redelivery: false,
            });
        }
    }
    if let Some(first) = steps.first() {
        steps.push(Step {
            factory: first.factory.clone(),
            event: first.event,
            redelivery: true,
        });
    }

    let http = omnichannel_core::http::default_client();
    let total = steps.len();
    let width = total.to_string().len();
    let (mut accepted, mut refused, mut suppressed, mut problems) =
        (0usize, 0usize, 0usize, 0usize);
    let mut first_request = None;
    for (i, step) in steps.iter().enumerate() {
        let provider = step.factory.provider();
        let url = gw.webhook_url(provider, DEMO_CHANNEL);
        let req = if step.redelivery {
            match &first_request {
                Some(r) => {
                    println!(
                        "[{:>width$}/{total}] {provider} {} again (a redelivery of the same request)",
                        i + 1,
                        step.event
                    );
                    Clone::clone(r)
                }
                None => continue,
            }
        } else {
            let config = step.factory.demo_config();
            match simulate::build_request(step.factory.as_ref(), &config, step.event, &url) {
                Ok(r) => {
                    println!(
                        "[{:>width$}/{total}] {provider} {} -> {} {}",
                        i + 1,
                        step.event,
                        r.method,
                        r.url
                    );
                    r
                }
                Err(e) => {
                    println!("[{:>width$}/{total}] {provider} {}: {e}", i + 1, step.event);
                    problems += 1;
                    continue;
                }
            }
        };
        if i == 0 {
            first_request = Some(req.clone());
        }
        let before = sink.count.load(Ordering::SeqCst);
        match simulate::send(&http, &req).await {
            Ok((status, body)) => {
                let shown = match body_value(&body) {
                    Ok(serde_json::Value::String(s)) => s,
                    Ok(v) => v.to_string(),
                    Err(b64) => format!("(binary, base64) {b64}"),
                };
                println!("      reply  {status} {shown}");
                let new_events = sink.count.load(Ordering::SeqCst) - before;
                let ok = (200..300).contains(&status);
                if ok {
                    accepted += 1;
                } else {
                    refused += 1;
                }
                if step.redelivery {
                    if new_events == 0 {
                        suppressed += 1;
                        println!("      no new event: the duplicate was dropped");
                    } else {
                        problems += 1;
                        println!(
                            "      PROBLEM: the redelivery produced {new_events} event(s) again"
                        );
                    }
                } else if new_events == 0 && ok {
                    println!("      (no new event)");
                }
            }
            Err(e) => {
                refused += 1;
                println!("      FAILED: {e}");
            }
        }
    }
    println!(
        "played {total} request(s): {accepted} accepted, {refused} refused, {suppressed} duplicate(s) dropped"
    );
    let healthy = refused == 0 && problems == 0;
    if once {
        server.shutdown().await;
        return if healthy {
            ExitCode::SUCCESS
        } else {
            ExitCode::FAILURE
        };
    }
    let key = cfg
        .api_key
        .as_ref()
        .map(|k| k.expose_secret().to_string())
        .unwrap_or_default();
    println!(
        "still serving at {}: try `omnichannel simulate --provider <p> --event <e> --to {}/webhooks/<p>/{DEMO_CHANNEL}`,",
        server.local_url(),
        gw.public_base_url()
    );
    println!(
        "or POST a message to {}/send/<p>/{DEMO_CHANNEL} with `Authorization: Bearer {key}`. Ctrl-C to stop.",
        gw.public_base_url()
    );
    let mut server = server;
    tokio::select! {
        r = server.wait() => {
            if let Err(e) = r {
                eprintln!("error: the server stopped: {e}");
                return ExitCode::FAILURE;
            }
        }
        () = crate::shutdown_signal() => {}
    }
    eprintln!("omnichannel: stopping");
    server.shutdown().await;
    ExitCode::SUCCESS
}
