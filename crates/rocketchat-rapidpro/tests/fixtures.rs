//! Plays `tests/fixtures/rocketchat/` and `tests/fixtures/rapidpro/` through both factories.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use omnichannel_core::{ExposeSecret, SecretString, Settings};
use omnichannel_rocketchat_rapidpro::{api, factories};
use omnichannel_testkit::{
    HeaderSpec, Registry, fixture_files, load, run_dirs, workspace_fixtures,
};

fn registry() -> Registry {
    factories()
        .into_iter()
        .fold(Registry::new(), |r, f| r.with(f))
}

#[tokio::test]
async fn all_fixtures_pass() {
    let root = workspace_fixtures(env!("CARGO_MANIFEST_DIR"));
    for (provider, min) in [("rocketchat", 20), ("rapidpro", 30)] {
        let dir = root.join(provider);
        let files = fixture_files(&dir).unwrap();
        assert!(
            files.len() >= min,
            "{provider}: expected at least {min} fixtures, found {}",
            files.len()
        );
        let report = run_dirs(&registry(), &[dir]).await;
        for o in &report.outcomes {
            println!("{}", o.render());
        }
        report.assert_all_passed();
    }
}

/// The `Authorization` of every fixture that must be accepted (and of every request a send
/// must make) is what the production signer produces from the fixture's secret.
#[test]
fn fixture_authorization_comes_from_the_production_signer() {
    let root = workspace_fixtures(env!("CARGO_MANIFEST_DIR"));
    let mut checked = 0;
    for provider in ["rocketchat", "rapidpro"] {
        for path in fixture_files(&root.join(provider)).unwrap() {
            let fx = load(&path).unwrap();
            let keys = Settings::new(&fx.config)
                .unwrap()
                .require_signing_keys("secret")
                .unwrap();
            // Any configured secret may have signed an accepted request (rotation); the app side
            // compares with the trimmed secret.
            let expected: Vec<String> = keys
                .all()
                .iter()
                .flat_map(|s| {
                    let raw = s.expose_secret().to_string();
                    let trimmed = raw.trim().to_string();
                    [raw, trimmed]
                })
                .map(|s| {
                    api::authorization(&SecretString::from(s))
                        .unwrap()
                        .to_str()
                        .unwrap()
                        .to_string()
                })
                .collect();
            if let Some(inb) = &fx.inbound
                && inb.expect.verified == Some(true)
                && let Some(req) = &inb.request
            {
                let auth = req
                    .headers
                    .iter()
                    .find(|(k, _)| k.eq_ignore_ascii_case("authorization"))
                    .map(|(_, v)| v);
                match auth {
                    Some(HeaderSpec::One(v)) => {
                        assert!(expected.contains(v), "{}: {v:?}", path.display());
                        checked += 1;
                    }
                    other => panic!(
                        "{}: accepted without one Authorization: {other:?}",
                        path.display()
                    ),
                }
            }
            if let Some(out) = &fx.outbound
                && let Some(reqs) = &out.expect_request
            {
                for r in reqs.to_vec() {
                    if let Some(h) = &r.headers
                        && let Some((_, v)) = h
                            .iter()
                            .find(|(k, _)| k.eq_ignore_ascii_case("authorization"))
                    {
                        assert_eq!(v, &expected[0], "{}", path.display());
                        checked += 1;
                    }
                }
            }
        }
    }
    assert!(checked >= 25, "only {checked} signed fixtures checked");
}
