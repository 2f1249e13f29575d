//! The `omnichannel` binary: `verify`, `check`, `simulate`, `demo` and `serve`, with every
//! provider built in (`providers::factories()`).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::{BufRead as _, BufReader};
use std::path::PathBuf;
use std::process::{Command, Output, Stdio};
use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use omnichannel_cli::output::request_json;
use omnichannel_cli::{providers, simulate};
use omnichannel_core::{ChannelEnv, ChannelFactory, WebhookRequest};
use serde_json::{Value, json};

const BIN: &str = env!("CARGO_BIN_EXE_omnichannel");
const URL: &str = "https://gateway.example.test/webhooks/hook";

struct TempDir(PathBuf);

impl TempDir {
    fn new() -> Self {
        let p =
            std::env::temp_dir().join(format!("omnichannel-cli-{}", uuid::Uuid::new_v4().simple()));
        std::fs::create_dir_all(&p).unwrap();
        TempDir(p)
    }
    fn write(&self, name: &str, content: &str) -> PathBuf {
        let p = self.0.join(name);
        if let Some(dir) = p.parent() {
            std::fs::create_dir_all(dir).unwrap();
        }
        std::fs::write(&p, content).unwrap();
        p
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn run(args: &[&str]) -> Output {
    Command::new(BIN)
        .args(args)
        .env_remove("RUST_LOG")
        .output()
        .unwrap()
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// The first sample of every provider that has one.
fn first_samples() -> Vec<(Arc<dyn ChannelFactory>, &'static str)> {
    let list: Vec<_> = providers::factories()
        .into_iter()
        .filter_map(|f| f.sample_events().first().copied().map(|e| (f.clone(), e)))
        .collect();
    assert!(
        !list.is_empty(),
        "no provider with sample requests built in"
    );
    list
}

fn signed(f: &dyn ChannelFactory, event: &str) -> WebhookRequest {
    simulate::build_request(f, &f.demo_config(), event, URL).unwrap()
}

#[test]
fn verify_prints_the_outcome_and_exits_0_when_verified_1_when_rejected() {
    let dir = TempDir::new();
    for (f, event) in first_samples() {
        let p = f.provider().as_str();
        let req = signed(f.as_ref(), event);
        let config = dir.write("config.json", &f.demo_config().to_string());
        let request = dir.write("request.json", &request_json(&req).to_string());
        let out = run(&[
            "verify",
            "--provider",
            p,
            "--config",
            config.to_str().unwrap(),
            "--request",
            request.to_str().unwrap(),
        ]);
        assert_eq!(
            out.status.code(),
            Some(0),
            "{p}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let v: Value = serde_json::from_str(&stdout(&out)).unwrap();
        assert_eq!(v["verified"], true);
        assert!(v.get("error").is_none());
        let status = v["reply"]["status"].as_u64().unwrap();
        assert!((200..300).contains(&status), "{v}");
        assert!(v["reply"]["headers"].is_object());
        let channel = f.build(&f.demo_config(), &ChannelEnv::default()).unwrap();
        let inbound = tokio::runtime::Runtime::new()
            .unwrap()
            .block_on(channel.receive(&req))
            .unwrap();
        let expected: Vec<Value> = inbound.events.iter().map(|e| e.to_json()).collect();
        assert_eq!(v["events"], Value::Array(expected), "{p}");

        // Without its headers the request is refused: exit 1, an error kind, no events.
        let mut bare = req.clone();
        bare.headers.clear();
        let request = dir.write("bare.json", &request_json(&bare).to_string());
        let out = run(&[
            "verify",
            "--provider",
            p,
            "--config",
            config.to_str().unwrap(),
            "--request",
            request.to_str().unwrap(),
        ]);
        assert_eq!(out.status.code(), Some(1), "{p}");
        let v: Value = serde_json::from_str(&stdout(&out)).unwrap();
        assert_eq!(v["verified"], false);
        assert_eq!(v["events"], json!([]));
        let kinds = [
            "missing_signature",
            "malformed_signature",
            "signature_mismatch",
            "stale_timestamp",
            "unauthorized",
            "malformed_payload",
        ];
        assert!(kinds.contains(&v["error"].as_str().unwrap()), "{v}");
        assert!(v["reply"]["status"].as_u64().unwrap() >= 400, "{v}");

        // A clock far from the signing time: only timestamped schemes refuse, never a crash.
        let out = run(&[
            "verify",
            "--provider",
            p,
            "--config",
            config.to_str().unwrap(),
            "--request",
            dir.0.join("request.json").to_str().unwrap(),
            "--now",
            "2001-01-01T00:00:00Z",
        ]);
        assert!(matches!(out.status.code(), Some(0 | 1)), "{p}");
    }
}

#[test]
fn verify_takes_decoded_events_too() {
    let dir = TempDir::new();
    let event = dir.write("event.json", r#"{"not": "an event of any provider"}"#);
    for f in providers::factories() {
        let config = dir.write("config.json", &f.demo_config().to_string());
        let out = run(&[
            "verify",
            "--provider",
            f.provider().as_str(),
            "--config",
            config.to_str().unwrap(),
            "--event",
            event.to_str().unwrap(),
        ]);
        assert_eq!(out.status.code(), Some(1), "{}", stdout(&out));
        let v: Value = serde_json::from_str(&stdout(&out)).unwrap();
        assert_eq!(v["verified"], false);
        assert!(
            v["error"].is_string() && v["reply"]["status"].is_u64(),
            "{v}"
        );
    }
}

#[test]
fn verify_usage_errors_exit_2() {
    let dir = TempDir::new();
    let (f, event) = first_samples().remove(0);
    let p = f.provider().as_str();
    let config = dir.write("config.json", &f.demo_config().to_string());
    let request = dir.write(
        "request.json",
        &request_json(&signed(f.as_ref(), event)).to_string(),
    );
    let not_json = dir.write("bad.json", "{not json");
    let (c, r, b) = (
        config.to_str().unwrap(),
        request.to_str().unwrap(),
        not_json.to_str().unwrap(),
    );
    for args in [
        vec![
            "verify",
            "--provider",
            "nosuch",
            "--config",
            c,
            "--request",
            r,
        ],
        vec![
            "verify",
            "--provider",
            p,
            "--config",
            "/nonexistent/config.json",
            "--request",
            r,
        ],
        vec!["verify", "--provider", p, "--config", c, "--request", b],
        vec!["verify", "--provider", p, "--config", b, "--request", r],
        vec![
            "verify",
            "--provider",
            p,
            "--config",
            c,
            "--request",
            r,
            "--now",
            "yesterday",
        ],
        vec!["verify", "--provider", p, "--config", c],
        vec![
            "verify",
            "--provider",
            p,
            "--config",
            c,
            "--request",
            r,
            "--bogus",
        ],
    ] {
        let out = run(&args);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {}", stdout(&out));
        assert!(stdout(&out).is_empty(), "{args:?}");
    }
    let out = run(&[
        "verify",
        "--provider",
        p,
        "--config",
        c,
        "--request",
        r,
        "--event",
        r,
    ]);
    assert_eq!(out.status.code(), Some(2), "--request and --event together");
    let settings_not_object = dir.write("array.json", "[1, 2]");
    let out = run(&[
        "verify",
        "--provider",
        p,
        "--config",
        settings_not_object.to_str().unwrap(),
        "--request",
        r,
    ]);
    assert_eq!(out.status.code(), Some(2));
}

fn fixture(f: &dyn ChannelFactory, event: &str, tamper: bool) -> Value {
    let now = Utc::now();
    let mut req = f.simulate(&f.demo_config(), event, URL, now).unwrap();
    if tamper {
        req.headers.clear();
    }
    json!({
        "provider": f.provider().as_str(),
        "description": format!("{} sample {event}{}", f.provider(), if tamper { " (expected to verify, but unsigned)" } else { "" }),
        "source": "omnichannel simulate",
        "config": f.demo_config(),
        "inbound": {
            "request": request_json(&req),
            "now": now.to_rfc3339(),
            "expect": {"verified": true}
        }
    })
}

#[test]
fn check_prints_a_line_per_fixture_and_the_summary() {
    let dir = TempDir::new();
    let samples = first_samples();
    for (i, (f, event)) in samples.iter().enumerate() {
        dir.write(
            &format!("good/{i}.json"),
            &fixture(f.as_ref(), event, false).to_string(),
        );
    }
    let good = dir.0.join("good");
    let out = run(&["check", good.to_str().unwrap()]);
    let text = stdout(&out);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let lines: Vec<&str> = text.lines().collect();
    let n = samples.len();
    assert_eq!(lines.len(), n + 1, "{text}");
    for (i, l) in lines[..n].iter().enumerate() {
        assert!(
            l.starts_with(&format!("[{:>w$}/{n}] ok", i + 1, w = n.to_string().len())),
            "{l}"
        );
    }
    assert_eq!(lines[n], format!("{n} passed, 0 failed"));

    // One failing fixture in a second folder: exit 1, reported, counted.
    let (f, event) = &samples[0];
    dir.write(
        "bad/unsigned.json",
        &fixture(f.as_ref(), event, true).to_string(),
    );
    let bad = dir.0.join("bad");
    let out = run(&["check", good.to_str().unwrap(), bad.to_str().unwrap()]);
    let text = stdout(&out);
    assert_eq!(out.status.code(), Some(1), "{text}");
    let lines: Vec<&str> = text.lines().collect();
    assert!(
        lines[n].contains("FAIL") && lines[n].contains("unsigned.json"),
        "{text}"
    );
    assert_eq!(*lines.last().unwrap(), format!("{n} passed, 1 failed"));
    assert!(String::from_utf8_lossy(&out.stderr).contains("unsigned.json"));

    // A folder that does not exist fails; no folder at all is a usage error.
    let out = run(&["check", dir.0.join("missing").to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(stdout(&out).lines().last(), Some("0 passed, 1 failed"));
    assert_eq!(run(&["check"]).status.code(), Some(2));
    std::fs::create_dir_all(dir.0.join("empty")).unwrap();
    let out = run(&["check", dir.0.join("empty").to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1), "an empty run is not a pass");
    assert_eq!(stdout(&out).lines().last(), Some("0 passed, 0 failed"));
}

/// A loopback server that records the requests it gets and answers 200.
async fn recorder() -> (
    String,
    Arc<std::sync::Mutex<Vec<http::Request<bytes::Bytes>>>>,
) {
    let seen = Arc::new(std::sync::Mutex::new(Vec::new()));
    let s = seen.clone();
    let app = axum::Router::new().fallback(move |req: axum::extract::Request| {
        let s = s.clone();
        async move {
            let (parts, body) = req.into_parts();
            let body = axum::body::to_bytes(body, 4 << 20).await.unwrap();
            s.lock()
                .unwrap()
                .push(http::Request::from_parts(parts, body));
            "thanks"
        }
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (format!("http://{addr}"), seen)
}

async fn run_async(args: Vec<String>) -> Output {
    tokio::task::spawn_blocking(move || {
        Command::new(BIN)
            .args(&args)
            .env_remove("RUST_LOG")
            .output()
            .unwrap()
    })
    .await
    .unwrap()
}

#[tokio::test]
async fn simulate_sends_requests_the_channels_own_verifier_accepts() {
    let (base, seen) = recorder().await;
    let dir = TempDir::new();
    for (f, _) in first_samples() {
        for event in f.sample_events() {
            let p = f.provider().as_str();
            let to = format!("{base}/hooks/{p}");
            let out = run_async(vec![
                "simulate".into(),
                "--provider".into(),
                p.into(),
                "--event".into(),
                event.into(),
                "--to".into(),
                to.clone(),
            ])
            .await;
            assert_eq!(
                out.status.code(),
                Some(0),
                "{p} {event}: {}",
                String::from_utf8_lossy(&out.stderr)
            );
            assert!(stdout(&out).contains("-> 200"), "{}", stdout(&out));
            let got = seen.lock().unwrap().pop().unwrap();
            let req = WebhookRequest::from_http(got, Some(&base));
            assert!(req.url.starts_with(&to), "{} is not below {to}", req.url);
            let channel = f.build(&f.demo_config(), &ChannelEnv::default()).unwrap();
            channel
                .verify(&req)
                .unwrap_or_else(|e| panic!("{p} {event}: {e}"));
            channel.receive(&req).await.unwrap();
        }

        // --secret signs with another secret: a channel holding it accepts, the demo one refuses.
        let p = f.provider().as_str();
        let event = f.sample_events()[0];
        let mut other = f.demo_config();
        if simulate::override_secret(&mut other, "another-test-secret-not-real").is_ok() {
            let to = format!("{base}/hooks/{p}");
            let out = run_async(vec![
                "simulate".into(),
                "--provider".into(),
                p.into(),
                "--event".into(),
                event.into(),
                "--to".into(),
                to.clone(),
                "--secret".into(),
                "another-test-secret-not-real".into(),
            ])
            .await;
            assert_eq!(out.status.code(), Some(0));
            let req = WebhookRequest::from_http(seen.lock().unwrap().pop().unwrap(), Some(&base));
            f.build(&other, &ChannelEnv::default())
                .unwrap()
                .verify(&req)
                .unwrap();
            assert!(
                f.build(&f.demo_config(), &ChannelEnv::default())
                    .unwrap()
                    .verify(&req)
                    .is_err()
            );
        }

        // --config FILE is used as the settings.
        let config = dir.write("settings.json", &other.to_string());
        let to = format!("{base}/hooks/{p}");
        let out = run_async(vec![
            "simulate".into(),
            "--provider".into(),
            p.into(),
            "--event".into(),
            event.into(),
            "--to".into(),
            to,
            "--config".into(),
            config.to_str().unwrap().into(),
        ])
        .await;
        assert_eq!(out.status.code(), Some(0));
        let req = WebhookRequest::from_http(seen.lock().unwrap().pop().unwrap(), Some(&base));
        f.build(&other, &ChannelEnv::default())
            .unwrap()
            .verify(&req)
            .unwrap();

        // Unknown event: usage error naming the available ones; nothing sent.
        let out = run_async(vec![
            "simulate".into(),
            "--provider".into(),
            p.into(),
            "--event".into(),
            "no-such-event".into(),
            "--to".into(),
            base.clone(),
        ])
        .await;
        assert_eq!(out.status.code(), Some(2));
        assert!(String::from_utf8_lossy(&out.stderr).contains(event));
        assert!(seen.lock().unwrap().is_empty());
    }
}

#[test]
fn demo_once_plays_every_sample_and_exits() {
    let out = run(&["demo", "--once", "--listen", "127.0.0.1:0"]);
    let text = stdout(&out);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let samples: usize = providers::factories()
        .iter()
        .map(|f| f.sample_events().len())
        .sum();
    let total = samples + 1;
    assert!(text.contains(&format!("[{}/{total}]", total)), "{text}");
    assert!(text.contains("      event  "), "{text}");
    assert!(text.contains("      reply  "), "{text}");
    assert!(
        text.contains("no new event: the duplicate was dropped"),
        "{text}"
    );
    assert!(
        text.contains(&format!(
            "played {total} request(s): {total} accepted, 0 refused, 1 duplicate(s) dropped"
        )),
        "{text}"
    );
}

#[tokio::test]
async fn demo_keeps_serving_after_playing() {
    let mut child = Command::new(BIN)
        .args(["demo", "--listen", "127.0.0.1:0"])
        .env_remove("RUST_LOG")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let out = lines_of(child.stdout.take().unwrap());
    let err = lines_of(child.stderr.take().unwrap());
    let mut base = None;
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    while std::time::Instant::now() < deadline {
        let Ok(line) = out.recv_timeout(Duration::from_millis(200)) else {
            continue;
        };
        if let Some(rest) = line.strip_prefix("still serving at ") {
            base = rest.split(':').take(3).collect::<Vec<_>>().join(":").into();
            break;
        }
    }
    let base: String = base.expect("the demo said it keeps serving");
    let (f, event) = first_samples().remove(0);
    let url = format!("{base}/webhooks/{}/demo", f.provider());
    let req = simulate::build_request(f.as_ref(), &f.demo_config(), event, &url).unwrap();
    let (status, _) = simulate::send(&reqwest::Client::new(), &req).await.unwrap();
    // Already played once: a duplicate is answered, and not shown as a new event.
    assert!((200..300).contains(&status), "{status}");
    let health = reqwest::get(format!("{base}/health")).await.unwrap();
    assert_eq!(health.status().as_u16(), 200);
    stop(child, &err);
}

/// Reads lines of a child's pipe on a thread.
fn lines_of(pipe: impl std::io::Read + Send + 'static) -> std::sync::mpsc::Receiver<String> {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(pipe).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    rx
}

fn toml_settings(settings: &Value, env: &mut Vec<(String, String)>) -> String {
    // Secrets go through the environment, everything else inline.
    let mut table = serde_json::Map::new();
    for (k, v) in settings.as_object().unwrap() {
        let is_secret = k == "secret" || k.ends_with("_secret") || k == "signing_key";
        match (is_secret, v) {
            (true, Value::String(s)) => {
                let var = format!("OMNI_TEST_{}", k.to_uppercase());
                env.push((var.clone(), s.clone()));
                table.insert(format!("{k}_env"), Value::String(var));
            }
            _ => {
                table.insert(k.clone(), v.clone());
            }
        }
    }
    toml::to_string(&Value::Object(table)).unwrap()
}

fn wait_listening(stderr: &std::sync::mpsc::Receiver<String>) -> String {
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    while std::time::Instant::now() < deadline {
        if let Ok(line) = stderr.recv_timeout(Duration::from_millis(200))
            && let Some(rest) = line.strip_prefix("omnichannel gateway listening on ")
        {
            return rest.split_whitespace().next().unwrap().to_string();
        }
    }
    panic!("the gateway did not start");
}

#[tokio::test]
async fn serve_with_a_config_file_reads_secrets_from_the_environment_and_prints_event_lines() {
    let dir = TempDir::new();
    let (f, event) = first_samples().remove(0);
    let p = f.provider().as_str();
    let mut env = Vec::new();
    let settings = toml_settings(&f.demo_config(), &mut env);
    let config = dir.write(
        "gateway.toml",
        &format!("listen = \"127.0.0.1:0\"\napi_key_env = \"OMNI_TEST_API_KEY\"\n\n[[channels]]\nprovider = \"{p}\"\nname = \"main\"\n[channels.settings]\n{settings}"),
    );
    let mut child = Command::new(BIN)
        .args(["serve", "--config", config.to_str().unwrap()])
        .envs(env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
        .env("OMNI_TEST_API_KEY", "test-api-key-not-real-0123")
        .env_remove("RUST_LOG")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let out_lines = lines_of(child.stdout.take().unwrap());
    let err_lines = lines_of(child.stderr.take().unwrap());
    let addr = wait_listening(&err_lines);
    let url = format!("http://{addr}/webhooks/{p}/main");
    let req = simulate::build_request(f.as_ref(), &f.demo_config(), event, &url).unwrap();
    let channel = f.build(&f.demo_config(), &ChannelEnv::default()).unwrap();
    let expected = channel.receive(&req).await.unwrap();
    let (status, _) = simulate::send(&reqwest::Client::new(), &req).await.unwrap();
    assert_eq!(status, expected.reply.status.as_u16());
    for e in &expected.events {
        let line = out_lines.recv_timeout(Duration::from_secs(10)).unwrap();
        let v: Value = serde_json::from_str(&line).unwrap();
        assert_eq!(v, e.to_json());
    }
    let send = reqwest::Client::new()
        .post(format!("http://{addr}/send/{p}/main"))
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    assert_eq!(send.status().as_u16(), 401);
    let health = reqwest::get(format!("http://{addr}/health")).await.unwrap();
    assert_eq!(health.status().as_u16(), 200);
    stop(child, &err_lines);
}

/// Stops a serving child: SIGTERM where there is one (it must exit 0 after a graceful
/// shutdown), otherwise kill.
fn stop(mut child: std::process::Child, stderr: &std::sync::mpsc::Receiver<String>) {
    #[cfg(unix)]
    {
        let sent = Command::new("kill")
            .args(["-TERM", &child.id().to_string()])
            .status()
            .is_ok_and(|s| s.success());
        if sent {
            let status = child.wait().unwrap();
            assert_eq!(status.code(), Some(0));
            // The child has exited, but its last lines may still be on their way through the
            // reader thread: read until it ends (the pipe's end), within a bound.
            let said: Vec<String> =
                std::iter::from_fn(|| stderr.recv_timeout(Duration::from_secs(10)).ok()).collect();
            assert!(said.iter().any(|l| l.contains("stopping")), "{said:?}");
            return;
        }
    }
    let _ = stderr;
    child.kill().unwrap();
    let _ = child.wait();
}

#[test]
fn serve_refuses_a_bad_configuration_with_exit_2() {
    let dir = TempDir::new();
    let cases = [
        (
            "unknown.toml",
            "[[channels]]\nprovider = \"nosuch\"\nname = \"a\"\n",
            "nosuch",
        ),
        ("typo.toml", "listn = \"127.0.0.1:0\"\n", "listn"),
        (
            "missing-env.toml",
            "listen = \"127.0.0.1:0\"\n[[channels]]\nprovider = \"tiktok\"\nname = \"a\"\n[channels.settings]\napp_secret_env = \"OMNI_TEST_SURELY_UNSET\"\n",
            "OMNI_TEST_SURELY_UNSET",
        ),
        (
            "redis.toml",
            "listen = \"127.0.0.1:0\"\nredis_url = \"redis://127.0.0.1:1\"\n[[channels]]\nprovider = \"tiktok\"\nname = \"a\"\n",
            "redis",
        ),
    ];
    for (name, text, mentioned) in cases {
        let path = dir.write(name, text);
        let out = run(&["serve", "--config", path.to_str().unwrap()]);
        assert_eq!(
            out.status.code(),
            Some(2),
            "{name}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            err.starts_with("error: ") && err.contains(mentioned),
            "{name}: {err}"
        );
    }
}
