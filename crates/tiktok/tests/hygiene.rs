//! Secret hygiene: no secret in `Debug` or `Display` of settings, channel, tokens or errors.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use omnichannel_core::{AccessToken, ChannelEnv, Error, VerifyError};
use omnichannel_tiktok::api::map_api_error;
use omnichannel_tiktok::auth::{CallbackError, token_from};
use omnichannel_tiktok::model::TokenData;
use omnichannel_tiktok::{TiktokChannel, TiktokConfig};

const SECRETS: &[&str] = &[
    "test-secret-not-real",
    "previous-secret-not-real",
    "test-access-token-not-real",
    "test-refresh-token-not-real",
];

fn assert_clean(what: &str, text: &str) {
    for s in SECRETS {
        assert!(!text.contains(s), "{what} shows a secret: {text}");
    }
}

#[test]
fn nothing_prints_a_secret() {
    let cfg = TiktokConfig::builder("test-app-id", "test-secret-not-real")
        .previous_secret("previous-secret-not-real")
        .access_token("test-access-token-not-real")
        .on_reauthorization(|_| {})
        .build()
        .unwrap();
    assert_clean("config", &format!("{cfg:?}"));
    let ch = TiktokChannel::new(cfg.clone(), &ChannelEnv::default()).unwrap();
    assert_clean("channel", &format!("{ch:?}"));
    assert_clean("api client", &format!("{:?}", ch.api()));
    assert_clean("oauth", &format!("{:?}", ch.oauth()));

    let data: TokenData = serde_json::from_value(serde_json::json!({
        "open_id": "biz-1", "scope": "a", "access_token": "test-access-token-not-real",
        "refresh_token": "test-refresh-token-not-real", "expires_in": 1, "refresh_token_expires_in": 2
    }))
    .unwrap();
    assert_clean("token data", &format!("{data:?}"));
    let token = token_from(&data, chrono::Utc::now());
    assert_clean("token", &format!("{token:?}"));
    assert_clean(
        "access token",
        &format!("{:?}", AccessToken::new("test-access-token-not-real")),
    );

    let errors: Vec<Error> = vec![
        map_api_error(40105, "Access token is invalid", Some("req"), "biz-1"),
        map_api_error(40107, "refresh token invalid", None, "biz-1"),
        map_api_error(40064, "too fast", None, "biz-1"),
        Error::from(VerifyError::SignatureMismatch),
        TiktokConfig::from_settings(&serde_json::json!({"app_id": "a", "app_secret": 5}))
            .unwrap_err(),
    ];
    for e in &errors {
        assert_clean("error", &format!("{e} {e:?}"));
    }
    let cb = CallbackError::MissingScopes {
        missing: vec!["message.list.send".into()],
        host_ref: "acct".into(),
        business_id: Some("biz".into()),
    };
    assert_clean("callback error", &format!("{cb} {cb:?}"));
}
