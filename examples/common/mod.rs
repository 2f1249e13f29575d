//! Helpers shared by the examples: step printing, settings from the environment, local
//! servers on 127.0.0.1, posting a signed `WebhookRequest`, and an event sink that keeps what
//! it receives. Not every example uses every helper.
#![allow(dead_code)]

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Mutex;
use std::time::Duration;

use omnichannel::{Event, WebhookRequest, async_trait};
use omnichannel_axum::axum::Router;
use omnichannel_axum::{EventSink, EventSource};

/// The error type of the examples: any error, with its message.
pub type BoxError = Box<dyn std::error::Error + Send + Sync>;
/// The result type of the examples.
pub type Result<T = ()> = std::result::Result<T, BoxError>;

/// How long an offline run may take before it is stopped.
pub const OFFLINE_LIMIT: Duration = Duration::from_secs(30);

/// Prints a numbered step.
pub fn step(n: u32, text: &str) {
    println!("\n[{n}] {text}");
}

/// Prints a detail line under a step.
pub fn detail(text: impl std::fmt::Display) {
    println!("    {text}");
}

/// A normalized event as one line of JSON, without `raw` (which repeats the provider payload).
pub fn event_line(e: &Event) -> String {
    let mut e = e.clone();
    e.raw = None;
    e.to_json().to_string()
}

/// A non-empty environment variable.
pub fn env(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.trim().is_empty())
}

/// Reads a group of environment variables: `Ok(None)` when none is set (offline mode),
/// `Ok(Some(values))` when all are, an error naming the missing ones when only some are.
pub fn env_group(names: &[&str]) -> Result<Option<Vec<String>>> {
    let values: Vec<Option<String>> = names.iter().map(|n| env(n)).collect();
    if values.iter().all(Option::is_none) {
        return Ok(None);
    }
    let missing: Vec<&str> = names
        .iter()
        .zip(&values)
        .filter(|(_, v)| v.is_none())
        .map(|(n, _)| *n)
        .collect();
    if !missing.is_empty() {
        return Err(format!(
            "live mode needs all of {}; missing: {}",
            names.join(", "),
            missing.join(", ")
        )
        .into());
    }
    Ok(Some(values.into_iter().flatten().collect()))
}

/// Serves `router` on a free port of 127.0.0.1 in the background; returns the address.
pub async fn serve(router: Router) -> Result<SocketAddr> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    tokio::spawn(async move {
        if let Err(e) = omnichannel_axum::axum::serve(listener, router).await {
            eprintln!("local server stopped: {e}");
        }
    });
    Ok(addr)
}

/// An HTTP client with timeouts, for the examples' own calls.
pub fn http_client() -> Result<reqwest::Client> {
    Ok(reqwest::Client::builder()
        .connect_timeout(Duration::from_secs(5))
        .timeout(Duration::from_secs(20))
        .build()?)
}

/// Sends a (signed) webhook request to its own URL, as the provider would; returns the status
/// and the body of the answer.
pub async fn deliver(client: &reqwest::Client, req: &WebhookRequest) -> Result<(u16, String)> {
    let res = client
        .request(req.method.clone(), &req.url)
        .headers(req.headers.clone())
        .body(req.body.clone())
        .send()
        .await?;
    let status = res.status().as_u16();
    Ok((status, res.text().await?))
}

/// Fails with `what` unless `cond` holds (the examples check their own outcome).
pub fn ensure(cond: bool, what: &str) -> Result {
    if cond {
        Ok(())
    } else {
        Err(format!("check failed: {what}").into())
    }
}

/// Runs an offline scenario under [`OFFLINE_LIMIT`].
pub async fn bounded<F: Future<Output = Result>>(scenario: F) -> Result {
    tokio::time::timeout(OFFLINE_LIMIT, scenario)
        .await
        .map_err(|_| format!("the offline run took longer than {OFFLINE_LIMIT:?}"))?
}

/// Exit code of `main` for a scenario result (the error printed to stderr).
pub fn exit(result: Result) -> std::process::ExitCode {
    match result {
        Ok(()) => {
            println!("\ndone.");
            std::process::ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("\nerror: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}

/// The `main` of an example: the live scenario when its settings are set (`live` is
/// `Ok(Some(setup))`), else the offline one against local mocks; prints which, runs it, and
/// exits with its result.
pub async fn live_or_offline<S, L, O>(
    live: Result<Option<S>>,
    live_banner: &str,
    offline_banner: &str,
    run_live: impl FnOnce(S) -> L,
    run_offline: impl FnOnce() -> O,
) -> std::process::ExitCode
where
    L: Future<Output = Result>,
    O: Future<Output = Result>,
{
    let result = match live {
        Ok(Some(setup)) => {
            println!("{live_banner}");
            run_live(setup).await
        }
        Ok(None) => {
            println!("{offline_banner}");
            run_offline().await
        }
        Err(e) => Err(e),
    };
    exit(result)
}

/// An [`EventSink`] that prints and keeps every event it takes (a host would write to its
/// queue or database here).
#[derive(Default)]
pub struct MemorySink {
    events: Mutex<Vec<(EventSource, Event)>>,
}

impl MemorySink {
    /// The events taken so far, in order.
    pub fn events(&self) -> Vec<(EventSource, Event)> {
        self.events.lock().map(|e| e.clone()).unwrap_or_default()
    }

    /// How many events were taken.
    pub fn len(&self) -> usize {
        self.events.lock().map(|e| e.len()).unwrap_or(0)
    }

    /// Waits (at most `limit`) until at least `n` events were taken.
    pub async fn wait_for(&self, n: usize, limit: Duration) -> Result {
        let deadline = tokio::time::Instant::now() + limit;
        while self.len() < n {
            if tokio::time::Instant::now() >= deadline {
                return Err(format!("expected {n} events, got {}", self.len()).into());
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        Ok(())
    }
}

#[async_trait]
impl EventSink for MemorySink {
    async fn deliver(&self, source: &EventSource, event: &Event) -> omnichannel::Result<()> {
        println!(
            "    sink <- {}/{}: {}",
            source.provider,
            source.channel,
            event_line(event)
        );
        if let Ok(mut events) = self.events.lock() {
            events.push((source.clone(), event.clone()));
        }
        Ok(())
    }
}

/// An [`EventSink`] that only queues events for a worker task and answers at once (providers
/// expect a quick answer; the work that calls other APIs happens in the worker).
pub struct QueueSink(pub tokio::sync::mpsc::UnboundedSender<(EventSource, Event)>);

#[async_trait]
impl EventSink for QueueSink {
    async fn deliver(&self, source: &EventSource, event: &Event) -> omnichannel::Result<()> {
        println!(
            "    queued {}/{}: {}",
            source.provider,
            source.channel,
            event_line(event)
        );
        self.0
            .send((source.clone(), event.clone()))
            .map_err(|_| omnichannel::Error::store("the worker stopped", None))
    }
}

/// A wiremock matcher: the form-encoded body has these fields (others may be present).
pub struct FormHas(pub Vec<(&'static str, String)>);

impl wiremock::Match for FormHas {
    fn matches(&self, request: &wiremock::Request) -> bool {
        let Ok(fields) = serde_urlencoded::from_bytes::<Vec<(String, String)>>(&request.body)
        else {
            return false;
        };
        self.0
            .iter()
            .all(|(k, v)| fields.iter().any(|(fk, fv)| fk == k && fv == v))
    }
}

/// A wiremock matcher: the JSON body contains this subset (objects compared key by key).
pub struct JsonHas(pub serde_json::Value);

impl wiremock::Match for JsonHas {
    fn matches(&self, request: &wiremock::Request) -> bool {
        serde_json::from_slice::<serde_json::Value>(&request.body)
            .is_ok_and(|body| json_subset(&self.0, &body))
    }
}

/// Whether every field of `want` is in `got` with the same value (recursively for objects).
pub fn json_subset(want: &serde_json::Value, got: &serde_json::Value) -> bool {
    match (want, got) {
        (serde_json::Value::Object(w), serde_json::Value::Object(g)) => w
            .iter()
            .all(|(k, v)| g.get(k).is_some_and(|gv| json_subset(v, gv))),
        _ => want == got,
    }
}
