//! `rediss://` against a `redis-server` with TLS on, using a CA generated for this test
//! (`openssl`). Only with the `tls` feature; skipped when `openssl` or a TLS-capable
//! `redis-server` is missing.
#![cfg(feature = "tls")]
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use omnichannel_core::secrecy::ExposeSecret;
use omnichannel_core::{AccessToken, DedupStore, Error, Lock, TokenStore};
use omnichannel_redis::RedisConfig;

fn skip(test: &str, why: &str) {
    let _ = writeln!(std::io::stderr(), "SKIPPED {test}: {why}");
}

/// A directory of test-only certificates, removed on drop.
struct Certs {
    dir: PathBuf,
}

impl Drop for Certs {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn openssl(dir: &Path, args: &[&str]) -> bool {
    Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// A throwaway CA and a server certificate for 127.0.0.1, labelled as test keys.
fn make_certs() -> Option<Certs> {
    let dir = std::env::temp_dir().join(format!(
        "omnichannel-redis-tls-test-{}",
        uuid::Uuid::new_v4().simple()
    ));
    std::fs::create_dir_all(&dir).unwrap();
    let certs = Certs { dir };
    let d = &certs.dir;
    std::fs::write(
        d.join("san.ext"),
        "subjectAltName=IP:127.0.0.1,DNS:localhost\nbasicConstraints=CA:FALSE\n",
    )
    .unwrap();
    let ok = openssl(
        d,
        &[
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "1",
            "-keyout",
            "ca.key",
            "-out",
            "ca.crt",
            "-subj",
            "/CN=omnichannel TEST CA not real",
        ],
    ) && openssl(
        d,
        &[
            "req",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-keyout",
            "server.key",
            "-out",
            "server.csr",
            "-subj",
            "/CN=omnichannel TEST server not real",
        ],
    ) && openssl(
        d,
        &[
            "x509",
            "-req",
            "-in",
            "server.csr",
            "-CA",
            "ca.crt",
            "-CAkey",
            "ca.key",
            "-CAcreateserial",
            "-days",
            "1",
            "-out",
            "server.crt",
            "-extfile",
            "san.ext",
        ],
    );
    ok.then_some(certs)
}

/// `redis-server` with TLS only, killed on drop.
struct TlsServer {
    child: Child,
    port: u16,
}

impl Drop for TlsServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start_tls_server(certs: &Certs) -> Option<TlsServer> {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let d = &certs.dir;
    let path = |f: &str| d.join(f).to_string_lossy().into_owned();
    let child = Command::new("redis-server")
        .args(["--port", "0", "--tls-port", &port.to_string()])
        .args(["--bind", "127.0.0.1", "--save", "", "--appendonly", "no"])
        .args(["--tls-cert-file", &path("server.crt")])
        .args(["--tls-key-file", &path("server.key")])
        .args(["--tls-ca-cert-file", &path("ca.crt")])
        .args(["--tls-auth-clients", "no"])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .ok()?;
    let mut server = TlsServer { child, port };
    // Wait for the port; a server built without TLS exits instead.
    let deadline = Instant::now() + Duration::from_secs(5);
    while Instant::now() < deadline {
        if let Ok(Some(_)) = server.child.try_wait() {
            return None;
        }
        if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return Some(server);
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let _ = server.child.kill();
    None
}

#[tokio::test]
async fn rediss_with_a_private_ca() {
    const TEST: &str = "rediss_with_a_private_ca";
    let Some(certs) = make_certs() else {
        return skip(TEST, "`openssl` is not on PATH or failed");
    };
    let Some(server) = start_tls_server(&certs) else {
        return skip(TEST, "`redis-server` with TLS support could not be started");
    };
    let url = format!("rediss://127.0.0.1:{}/", server.port);
    let ca = std::fs::read(certs.dir.join("ca.crt")).unwrap();

    let stores = RedisConfig::new(&url)
        .key_prefix("tls-test:")
        .tls_root_certificate(ca.clone())
        .connect()
        .await
        .unwrap();
    stores.ping().await.unwrap();
    let tokens = stores.token_store();
    tokens
        .put("biz", &AccessToken::new("test-tls-token-not-real"))
        .await
        .unwrap();
    assert_eq!(
        tokens
            .get("biz")
            .await
            .unwrap()
            .unwrap()
            .value
            .expose_secret(),
        "test-tls-token-not-real"
    );
    let lease = stores
        .lock()
        .try_acquire("biz", Duration::from_secs(5))
        .await
        .unwrap()
        .unwrap();
    assert!(stores.lock().release(&lease).await.unwrap());
    assert!(
        stores
            .dedup_store()
            .first_seen("evt", Duration::from_secs(5))
            .await
            .unwrap()
    );

    // The system roots do not trust the test CA: a store error, not a plaintext fallback.
    let untrusted = RedisConfig::new(&url)
        .reconnect(0, Duration::from_millis(10), Duration::from_millis(10))
        .connect()
        .await
        .unwrap_err();
    assert!(matches!(untrusted, Error::Store { .. }), "{untrusted:?}");

    // A CA for a plaintext URL is a configuration mistake.
    let mixed = RedisConfig::new(format!("redis://127.0.0.1:{}/", server.port))
        .tls_root_certificate(ca)
        .connect_lazy()
        .unwrap_err();
    assert!(
        matches!(&mixed, Error::Config { setting, .. } if setting == "tls_root_certificate"),
        "{mixed:?}"
    );
}
