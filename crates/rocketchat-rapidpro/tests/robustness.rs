//! No input makes either side panic: every prefix and single-byte corruption of every fixture
//! request body is answered (accepted or refused with a reply).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use bytes::Bytes;
use omnichannel_core::ChannelEnv;
use omnichannel_rocketchat_rapidpro::factories;
use omnichannel_testkit::{Registry, fixture_files, load, workspace_fixtures};

#[tokio::test]
async fn truncated_and_corrupted_bodies_never_panic() {
    let registry = factories()
        .into_iter()
        .fold(Registry::new(), |r, f| r.with(f));
    let root = workspace_fixtures(env!("CARGO_MANIFEST_DIR"));
    let mut played = 0usize;
    for provider in ["rocketchat", "rapidpro"] {
        for path in fixture_files(&root.join(provider)).unwrap() {
            let fx = load(&path).unwrap();
            let Some(req) = fx.inbound.as_ref().and_then(|i| i.request.as_ref()) else {
                continue;
            };
            let factory = registry.get(provider).unwrap();
            // Any call a side makes (a close-room sent again) goes to a closed local port.
            let env = ChannelEnv {
                origin_override: Some(url::Url::parse("http://127.0.0.1:9").unwrap()),
                ..ChannelEnv::default()
            };
            let channel = factory.build(&fx.config, &env).unwrap();
            let base = req.to_webhook_request().unwrap();
            let body = base.body.clone();
            let mut variants: Vec<Vec<u8>> = (0..body.len()).map(|n| body[..n].to_vec()).collect();
            for i in 0..body.len() {
                for b in [b'"', b'{', b']', 0xff, b'0'] {
                    let mut v = body.to_vec();
                    v[i] = b;
                    variants.push(v);
                }
            }
            for v in variants {
                let mut r = base.clone();
                r.body = Bytes::from(v);
                if let Err(e) = channel.receive(&r).await {
                    let reply = channel.reject_reply(&e);
                    assert!(reply.status.is_client_error() || reply.status.is_server_error());
                }
                played += 1;
            }
        }
    }
    assert!(played > 1000, "only {played} variants played");
}
