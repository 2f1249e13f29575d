//! A Redis server for the tests: `REDIS_URL` when set, otherwise a `redis-server` child on a
//! free loopback port (no persistence, killed on drop), otherwise the test is skipped with a
//! message saying why.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A `redis-server` child process on 127.0.0.1, killed when dropped.
pub struct RedisServer {
    child: Option<Child>,
    port: u16,
}

impl RedisServer {
    /// Whether `redis-server` can be run.
    pub fn available() -> bool {
        Command::new("redis-server")
            .arg("--version")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
    }

    /// Starts a server on a free port, or `None` (with the reason printed) when the binary is
    /// not on PATH.
    pub fn start(test: &str) -> Option<RedisServer> {
        Self::start_or_skip(test, "this test controls its own `redis-server`")
    }

    fn start_or_skip(test: &str, why: &str) -> Option<RedisServer> {
        if !Self::available() {
            // Straight to stderr: libtest captures `eprintln!` of passing tests.
            let _ = writeln!(
                std::io::stderr(),
                "SKIPPED {test}: {why}, and `redis-server` is not on PATH \
                 (install the Debian package `redis-server`)"
            );
            return None;
        }
        let port = free_port();
        let mut server = RedisServer { child: None, port };
        server.restart();
        Some(server)
    }

    /// The port.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// `redis://127.0.0.1:<port>/`.
    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}/", self.port)
    }

    /// Kills the server (its data is gone: no persistence).
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts the server again on the same port and waits until it answers.
    pub fn restart(&mut self) {
        self.stop();
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let child = Command::new("redis-server")
                .args(["--port", &self.port.to_string()])
                .args(["--bind", "127.0.0.1"])
                .args(["--save", ""])
                .args(["--appendonly", "no"])
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .expect("spawn redis-server");
            self.child = Some(child);
            if wait_ready(self.port, Duration::from_secs(3)) {
                return;
            }
            // The port may still be held by the previous process: try again.
            self.stop();
            assert!(
                Instant::now() < deadline,
                "redis-server did not start on port {}",
                self.port
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        self.stop();
    }
}

/// The Redis a test talks to; keeps a spawned server alive as long as it lives.
pub struct TestRedis {
    pub url: String,
    _server: Option<RedisServer>,
}

/// `REDIS_URL`, else a spawned server, else `None` after printing why the test is skipped.
pub fn redis(test: &str) -> Option<TestRedis> {
    if let Ok(url) = std::env::var("REDIS_URL")
        && !url.is_empty()
    {
        return Some(TestRedis { url, _server: None });
    }
    let server = RedisServer::start_or_skip(test, "REDIS_URL is not set")?;
    Some(TestRedis {
        url: server.url(),
        _server: Some(server),
    })
}

/// A key prefix no other test run uses.
pub fn unique_prefix() -> String {
    format!("omnichannel-test:{}:", uuid::Uuid::new_v4().simple())
}

fn free_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind a free port");
    listener.local_addr().expect("local addr").port()
}

fn wait_ready(port: u16, timeout: Duration) -> bool {
    let deadline = Instant::now() + timeout;
    while Instant::now() < deadline {
        if ping(port) {
            return true;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    false
}

fn ping(port: u16) -> bool {
    let Ok(mut s) = TcpStream::connect(("127.0.0.1", port)) else {
        return false;
    };
    let _ = s.set_read_timeout(Some(Duration::from_millis(500)));
    if s.write_all(b"PING\r\n").is_err() {
        return false;
    }
    let mut buf = [0u8; 7];
    s.read_exact(&mut buf).is_ok() && &buf == b"+PONG\r\n"
}
