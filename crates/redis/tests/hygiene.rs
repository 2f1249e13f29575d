//! Secret hygiene: the Redis URL (it may carry a password) and stored tokens never appear in the
//! `Debug` or `Display` of settings, stores or errors, whatever is wrong with the settings, nor in
//! the TRACE log of failing operations. `stores.rs` covers an unreachable server's errors.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use omnichannel_core::{AccessToken, DedupStore, Error, Lock, TokenStore};
use omnichannel_redis::{RedisConfig, RedisFailure};
use omnichannel_testkit::hygiene::LogBuffer;
use serde_json::json;

const PASSWORD: &str = "test-redis-password-not-real";
const TOKEN: &str = "test-stored-token-not-real";

fn assert_clean(what: &str, text: &str) {
    assert!(
        !text.contains(PASSWORD),
        "{what} shows the password: {text}"
    );
    assert!(!text.contains(TOKEN), "{what} shows a token: {text}");
}

fn closed_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

#[test]
fn settings_errors_name_the_setting_never_the_url() {
    let url = format!("redis://:{PASSWORD}@127.0.0.1:6379/");
    let bad: Vec<serde_json::Value> = vec![
        json!({ "url": url, "response_timeout_ms": "soon" }),
        json!({ "url": url, "reconnect_retries": -1 }),
        json!({ "url": url, "key_prefix": 7 }),
        json!({ "url": url, "reconnect_max_delay_ms": 0, "reconnect_min_delay_ms": 10 }),
        json!({ "url": [url] }),
        json!({ "url": 5, "password": PASSWORD }),
    ];
    for settings in &bad {
        if let Err(e) = RedisConfig::from_settings(settings) {
            assert_clean("settings error", &format!("{e} {e:?}"));
        }
    }
    let ok = RedisConfig::from_settings(&json!({ "url": url })).unwrap();
    assert_clean("config", &format!("{ok:?}"));
}

#[tokio::test]
async fn bad_urls_are_refused_without_echoing_them() {
    for url in [
        format!("redis://:{PASSWORD}@127.0.0.1:notaport/"),
        format!("http://user:{PASSWORD}@127.0.0.1/"),
        format!("redis://user:{PASSWORD}@[::1/"),
        PASSWORD.to_string(),
    ] {
        let config = RedisConfig::new(url);
        assert_clean("config", &format!("{config:?}"));
        let err = config.connect_lazy().unwrap_err();
        assert!(matches!(err, Error::Config { .. }), "{err:?}");
        assert_clean("url error", &format!("{err} {err:?}"));
    }
    let tls = RedisConfig::new(format!("rediss://:{PASSWORD}@127.0.0.1:6380/"))
        .tls_root_certificate(b"not a certificate".to_vec());
    if let Err(e) = tls.connect_lazy() {
        assert_clean("tls error", &format!("{e} {e:?}"));
    }
}

#[tokio::test(flavor = "current_thread")]
async fn trace_log_of_failing_operations_holds_no_secret() {
    let logs = LogBuffer::default();
    let _guard = tracing::subscriber::set_default(logs.trace_subscriber());

    let config = RedisConfig::new(format!("redis://:{PASSWORD}@127.0.0.1:{}/", closed_port()))
        .connection_timeout(Duration::from_millis(200))
        .reconnect(1, Duration::from_millis(10), Duration::from_millis(20));
    let mut texts = vec![format!("{config:?}")];
    let err = config.connect().await.unwrap_err();
    texts.push(format!("{err} {err:?}"));
    if let Some(f) = RedisFailure::of(&err) {
        texts.push(format!("{f} {f:?}"));
    }
    let stores = config.connect_lazy().unwrap();
    texts.push(format!(
        "{stores:?} {:?} {:?}",
        stores.token_store(),
        stores.dedup_store()
    ));
    let token = AccessToken::new(TOKEN);
    let errors = [
        stores.token_store().put("biz", &token).await.unwrap_err(),
        stores.token_store().get("biz").await.unwrap_err(),
        stores
            .lock()
            .try_acquire("biz", Duration::from_secs(1))
            .await
            .unwrap_err(),
        stores
            .dedup_store()
            .first_seen(TOKEN, Duration::from_secs(1))
            .await
            .unwrap_err(),
    ];
    for e in &errors {
        texts.push(format!("{e} {e:?}"));
    }
    for t in &texts {
        assert_clean("formatted value", t);
    }
    let log = logs.text();
    assert_clean("TRACE log", &log);
}
