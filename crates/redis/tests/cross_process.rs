//! Several OS processes sharing one Redis: the token refresh happens once, a refresh holder
//! that dies is replaced after the lock TTL, and a webhook delivered to all is processed once.
//!
//! The processes are this test binary run again with `--ignored --exact worker` and the role
//! in `OMNICHANNEL_REDIS_WORKER`. A worker prints `@@READY`, waits for a line on stdin (so all
//! start together), does its part and prints `@@...` result lines.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Write};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::Arc;
use std::sync::mpsc::{Receiver, RecvTimeoutError};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use omnichannel_core::secrecy::ExposeSecret;
use omnichannel_core::{
    AccessToken, DedupStore, Error, Lock, TokenManager, TokenSource, TokenStore,
};
use omnichannel_redis::RedisConfig;
use wiremock::matchers::{body_string_contains, method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

const ROLE: &str = "OMNICHANNEL_REDIS_WORKER";
const LOCK_TTL: Duration = Duration::from_millis(1500);
/// The lock key the core TokenManager uses for `biz` (its default lock prefix).
const REFRESH_LOCK_KEY: &str = "omnichannel:token-refresh:biz";

// ---------------------------------------------------------------------------------------
// Parent side
// ---------------------------------------------------------------------------------------

/// A worker process; killed on drop if still running.
struct Worker {
    name: String,
    child: Child,
    stdin: Option<ChildStdin>,
    lines: Receiver<String>,
}

impl Worker {
    fn spawn(name: &str, role: &str, env: &[(&str, String)]) -> Worker {
        let exe = std::env::current_exe().unwrap();
        let mut cmd = Command::new(exe);
        cmd.args([
            "--ignored",
            "--exact",
            "worker",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(ROLE, role)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit());
        for (k, v) in env {
            cmd.env(k, v);
        }
        let mut child = cmd.spawn().unwrap();
        let stdout = child.stdout.take().unwrap();
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                // libtest may print `test worker ... ` on the same line first.
                if let Some(at) = line.find("@@")
                    && tx.send(line[at + 2..].to_string()).is_err()
                {
                    break;
                }
            }
        });
        Worker {
            name: name.to_string(),
            stdin: child.stdin.take(),
            child,
            lines: rx,
        }
    }

    /// Waits for the next result line, which must start with `prefix`.
    fn expect(&self, prefix: &str, timeout: Duration) -> String {
        match self.lines.recv_timeout(timeout) {
            Ok(line) if line.starts_with(prefix) => line,
            Ok(line) => panic!("{}: expected {prefix}, got {line}", self.name),
            Err(RecvTimeoutError::Timeout) => panic!("{}: no {prefix} in {timeout:?}", self.name),
            Err(RecvTimeoutError::Disconnected) => {
                panic!("{}: exited before {prefix}", self.name)
            }
        }
    }

    fn go(&mut self) {
        let stdin = self.stdin.as_mut().unwrap();
        stdin.write_all(b"go\n").unwrap();
        stdin.flush().unwrap();
    }

    /// Every remaining result line, once the worker has exited successfully.
    fn finish(mut self, timeout: Duration) -> Vec<String> {
        let deadline = Instant::now() + timeout;
        let mut out = Vec::new();
        loop {
            match self
                .lines
                .recv_timeout(deadline.saturating_duration_since(Instant::now()))
            {
                Ok(line) => out.push(line),
                Err(RecvTimeoutError::Disconnected) => break,
                Err(RecvTimeoutError::Timeout) => panic!("{}: still running", self.name),
            }
        }
        let status = self.child.wait().unwrap();
        assert!(status.success(), "{} exited with {status}", self.name);
        out
    }

    fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Worker {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            self.kill();
        }
    }
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
}

/// A token inside the 5 minute refresh margin, with a refresh token.
fn expiring_token() -> AccessToken {
    AccessToken::new("test-old-token")
        .expires_at(chrono::Utc::now() + chrono::Duration::seconds(60))
        .with_refresh("test-refresh-0", None)
}

/// The mock token endpoint: answers a refresh with the `test-refresh-0` refresh token after
/// 300 ms (a slow provider widens the race).
async fn token_endpoint() -> MockServer {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/oauth/token"))
        .and(body_string_contains("refresh_token=test-refresh-0"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(serde_json::json!({
                    "access_token": "test-new-token",
                    "refresh_token": "test-refresh-1",
                    "expires_in": 3600
                }))
                .set_delay(Duration::from_millis(300)),
        )
        .mount(&server)
        .await;
    server
}

struct Outcome {
    ok: usize,
    tokens: HashMap<String, usize>,
    errors: Vec<String>,
    retried: Vec<String>,
}

fn outcome(lines: &[String]) -> Outcome {
    let mut o = Outcome {
        ok: 0,
        tokens: HashMap::new(),
        errors: Vec::new(),
        retried: Vec::new(),
    };
    for line in lines {
        let mut parts = line.splitn(2, ' ');
        match (parts.next(), parts.next()) {
            (Some("OK"), Some(tok)) => {
                o.ok += 1;
                *o.tokens.entry(tok.to_string()).or_default() += 1;
            }
            (Some("ERR"), Some(e)) => o.errors.push(e.to_string()),
            (Some("RETRIED"), Some(e)) => o.retried.push(e.to_string()),
            _ => {}
        }
    }
    o
}

#[test]
fn token_refreshed_once_across_four_processes() {
    let Some(redis) = support::redis("token_refreshed_once_across_four_processes") else {
        return;
    };
    let rt = runtime();
    let prefix = support::unique_prefix();
    let endpoint = rt.block_on(token_endpoint());
    rt.block_on(async {
        let stores = RedisConfig::new(&redis.url)
            .key_prefix(&prefix)
            .connect()
            .await
            .unwrap();
        stores
            .token_store()
            .put("biz", &expiring_token())
            .await
            .unwrap();
    });

    const PROCESSES: usize = 4;
    const TASKS: usize = 50;
    let env = [
        ("REDIS_URL", redis.url.clone()),
        ("TEST_PREFIX", prefix.clone()),
        ("TOKEN_URL", format!("{}/oauth/token", endpoint.uri())),
        ("TASKS", TASKS.to_string()),
    ];
    let mut workers: Vec<Worker> = (0..PROCESSES)
        .map(|i| Worker::spawn(&format!("token worker {i}"), "token", &env))
        .collect();
    for w in &workers {
        w.expect("READY", Duration::from_secs(30));
    }
    for w in &mut workers {
        w.go();
    }
    let mut all = Vec::new();
    for w in workers {
        all.extend(w.finish(Duration::from_secs(30)));
    }
    let o = outcome(&all);
    assert!(o.errors.is_empty(), "errors: {:?}", o.errors);
    assert!(
        o.retried.is_empty(),
        "no caller needed a retry: {:?}",
        o.retried
    );
    assert_eq!(o.ok, PROCESSES * TASKS);
    assert_eq!(o.tokens.get("test-new-token"), Some(&(PROCESSES * TASKS)));

    let requests = rt.block_on(endpoint.received_requests()).unwrap();
    assert_eq!(requests.len(), 1, "exactly one refresh request in total");
    rt.block_on(async {
        let stores = RedisConfig::new(&redis.url)
            .key_prefix(&prefix)
            .connect()
            .await
            .unwrap();
        let stored = stores.token_store().get("biz").await.unwrap().unwrap();
        assert_eq!(stored.value.expose_secret(), "test-new-token");
        assert_eq!(
            stored.refresh_token.unwrap().expose_secret(),
            "test-refresh-1"
        );
    });
}

#[test]
fn killed_refresh_holder_is_replaced_after_the_lock_ttl() {
    let Some(redis) = support::redis("killed_refresh_holder_is_replaced_after_the_lock_ttl") else {
        return;
    };
    let rt = runtime();
    let prefix = support::unique_prefix();
    let endpoint = rt.block_on(token_endpoint());
    let stores = rt.block_on(async {
        let stores = RedisConfig::new(&redis.url)
            .key_prefix(&prefix)
            .connect()
            .await
            .unwrap();
        stores
            .token_store()
            .put("biz", &expiring_token())
            .await
            .unwrap();
        stores
    });
    let env = [
        ("REDIS_URL", redis.url.clone()),
        ("TEST_PREFIX", prefix.clone()),
        ("TOKEN_URL", format!("{}/oauth/token", endpoint.uri())),
        ("TASKS", "20".to_string()),
    ];

    // The holder takes the refresh lock, then its token source hangs.
    let mut holder = Worker::spawn("holder", "holder", &env);
    holder.expect("READY", Duration::from_secs(30));
    holder.go();
    holder.expect("REFRESHING", Duration::from_secs(10));
    let locked_at = Instant::now();
    holder.kill();

    // Its lock outlives it.
    rt.block_on(async {
        let lock = stores.lock();
        let probe = lock
            .try_acquire(REFRESH_LOCK_KEY, Duration::from_secs(1))
            .await
            .unwrap();
        if let Some(lease) = probe {
            lock.release(&lease).await.unwrap();
            panic!("the dead holder's lock was already gone");
        }
    });

    const PROCESSES: usize = 3;
    let mut workers: Vec<Worker> = (0..PROCESSES)
        .map(|i| Worker::spawn(&format!("token worker {i}"), "token", &env))
        .collect();
    for w in &workers {
        w.expect("READY", Duration::from_secs(30));
    }
    for w in &mut workers {
        w.go();
    }
    let mut all = Vec::new();
    for w in workers {
        all.extend(w.finish(Duration::from_secs(30)));
    }
    let done = locked_at.elapsed();
    let o = outcome(&all);
    // A caller may have seen a retryable error (waiting outlasted its deadline); none saw
    // one that a retry would not fix, and every caller ended with the new token.
    assert!(o.errors.is_empty(), "errors: {:?}", o.errors);
    for r in &o.retried {
        assert!(r.ends_with("retryable=true"), "non-retryable error: {r}");
    }
    assert_eq!(o.ok, PROCESSES * 20);
    assert_eq!(o.tokens.get("test-new-token"), Some(&(PROCESSES * 20)));
    assert!(
        done + Duration::from_millis(250) >= LOCK_TTL,
        "refreshed {done:?} after the holder locked, before its {LOCK_TTL:?} TTL"
    );
    let requests = rt.block_on(endpoint.received_requests()).unwrap();
    assert_eq!(requests.len(), 1, "the holder never reached the endpoint");
}

#[test]
fn webhook_delivered_to_four_processes_is_processed_once() {
    let Some(redis) = support::redis("webhook_delivered_to_four_processes_is_processed_once")
    else {
        return;
    };
    const PROCESSES: usize = 4;
    const IDS: usize = 25;
    let env = [
        ("REDIS_URL", redis.url.clone()),
        ("TEST_PREFIX", support::unique_prefix()),
        ("IDS", IDS.to_string()),
        ("TASKS", "4".to_string()),
    ];
    let mut workers: Vec<Worker> = (0..PROCESSES)
        .map(|i| Worker::spawn(&format!("dedup worker {i}"), "dedup", &env))
        .collect();
    for w in &workers {
        w.expect("READY", Duration::from_secs(30));
    }
    for w in &mut workers {
        w.go();
    }
    let mut processed: HashMap<String, usize> = HashMap::new();
    let mut by_process = Vec::new();
    for w in workers {
        let lines = w.finish(Duration::from_secs(30));
        let mine = lines
            .iter()
            .filter_map(|l| l.strip_prefix("PROCESSED "))
            .inspect(|id| *processed.entry(id.to_string()).or_default() += 1)
            .count();
        assert!(
            lines.iter().any(|l| l == "DONE"),
            "worker did not finish: {lines:?}"
        );
        by_process.push(mine);
    }
    assert_eq!(
        processed.len(),
        IDS,
        "every webhook processed: {processed:?}"
    );
    assert!(
        processed.values().all(|&n| n == 1),
        "a webhook processed twice: {processed:?}"
    );
    assert_eq!(by_process.iter().sum::<usize>(), IDS);
}

// ---------------------------------------------------------------------------------------
// Worker side
// ---------------------------------------------------------------------------------------

/// Refreshes through the mock token endpoint, as a provider's OAuth refresh would.
struct HttpTokenSource {
    http: reqwest::Client,
    url: String,
}

#[async_trait]
impl TokenSource for HttpTokenSource {
    async fn refresh(
        &self,
        _key: &str,
        current: Option<&AccessToken>,
    ) -> omnichannel_core::Result<AccessToken> {
        let refresh = current
            .and_then(|t| t.refresh_token.as_ref())
            .map(|r| r.expose_secret().to_string())
            .unwrap_or_default();
        let resp = self
            .http
            .post(&self.url)
            .form(&[("grant_type", "refresh_token"), ("refresh_token", &refresh)])
            .send()
            .await
            .map_err(Error::from_reqwest)?;
        if !resp.status().is_success() {
            return Err(Error::from_status(
                resp.status().as_u16(),
                None,
                "token endpoint",
                None,
            ));
        }
        let body: serde_json::Value = resp.json().await.map_err(Error::from_reqwest)?;
        let value = body["access_token"].as_str().unwrap_or_default();
        let expires_in = body["expires_in"].as_i64().unwrap_or(0);
        let mut token = AccessToken::new(value)
            .expires_at(chrono::Utc::now() + chrono::Duration::seconds(expires_in));
        if let Some(r) = body["refresh_token"].as_str() {
            token = token.with_refresh(r, None);
        }
        Ok(token)
    }
}

/// Announces that it holds the refresh lock, then never answers (the process is killed).
struct HangingTokenSource;

#[async_trait]
impl TokenSource for HangingTokenSource {
    async fn refresh(
        &self,
        _key: &str,
        _current: Option<&AccessToken>,
    ) -> omnichannel_core::Result<AccessToken> {
        println!("@@REFRESHING");
        std::io::stdout().flush().ok();
        std::future::pending().await
    }
}

fn env_var(name: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| panic!("worker needs {name}"))
}

fn env_usize(name: &str) -> usize {
    env_var(name).parse().unwrap()
}

/// Blocks until the parent says go.
async fn ready_then_wait_for_go() {
    println!("@@READY");
    std::io::stdout().flush().ok();
    tokio::task::spawn_blocking(|| {
        let mut line = String::new();
        std::io::stdin().read_line(&mut line).unwrap();
    })
    .await
    .unwrap();
}

#[test]
#[ignore = "worker process of the cross-process tests; they run it with OMNICHANNEL_REDIS_WORKER set"]
fn worker() {
    let Ok(role) = std::env::var(ROLE) else {
        eprintln!(
            "worker: {ROLE} not set; this test only runs as a child of the cross-process tests"
        );
        return;
    };
    runtime().block_on(async move {
        let stores = RedisConfig::new(env_var("REDIS_URL"))
            .key_prefix(env_var("TEST_PREFIX"))
            .connect()
            .await
            .unwrap();
        match role.as_str() {
            "token" | "holder" => {
                let source: Arc<dyn TokenSource> = if role == "holder" {
                    Arc::new(HangingTokenSource)
                } else {
                    Arc::new(HttpTokenSource {
                        http: reqwest::Client::new(),
                        url: env_var("TOKEN_URL"),
                    })
                };
                let manager = TokenManager::builder(source)
                    .store(Arc::new(stores.token_store()) as Arc<dyn TokenStore>)
                    .lock(Arc::new(stores.lock()) as Arc<dyn Lock>)
                    .lock_ttl(LOCK_TTL)
                    .poll_interval(Duration::from_millis(20))
                    .build();
                ready_then_wait_for_go().await;
                let tasks = if role == "holder" {
                    1
                } else {
                    env_usize("TASKS")
                };
                let mut handles = Vec::new();
                for _ in 0..tasks {
                    let manager = manager.clone();
                    handles.push(tokio::spawn(async move {
                        // A host retries retryable errors; report every one seen.
                        for _attempt in 0..5 {
                            match manager.access_token("biz").await {
                                Ok(t) => {
                                    println!("@@OK {}", t.value.expose_secret());
                                    return;
                                }
                                Err(e) if e.retryable() => {
                                    println!("@@RETRIED {} retryable=true", e.kind());
                                    tokio::time::sleep(Duration::from_millis(100)).await;
                                }
                                Err(e) => {
                                    println!("@@ERR {} retryable=false: {e}", e.kind());
                                    return;
                                }
                            }
                        }
                        println!("@@ERR gave up after 5 retryable errors");
                    }));
                }
                for h in handles {
                    h.await.unwrap();
                }
            }
            "dedup" => {
                let ids = env_usize("IDS");
                let tasks = env_usize("TASKS");
                ready_then_wait_for_go().await;
                let mut handles = Vec::new();
                for _ in 0..tasks {
                    let dedup = stores.dedup_store();
                    handles.push(tokio::spawn(async move {
                        for i in 0..ids {
                            let id = format!("webhook-{i}");
                            if dedup
                                .first_seen(&id, Duration::from_secs(60))
                                .await
                                .unwrap()
                            {
                                println!("@@PROCESSED {id}");
                            }
                        }
                    }));
                }
                for h in handles {
                    h.await.unwrap();
                }
            }
            other => panic!("unknown worker role {other}"),
        }
        println!("@@DONE");
        std::io::stdout().flush().ok();
    });
}
