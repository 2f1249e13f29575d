//! # omnichannel-testkit
//!
//! The fixture format of omnichannel (DESIGN.md section 5) and its runner. A fixture is one
//! recorded exchange: a provider's webhook request and what must come out of it (events, reply
//! or error kind), and/or a normalized outbound message and the exact request the provider must
//! receive, played against a wiremock server on 127.0.0.1. Any request a channel tries to send
//! elsewhere fails the fixture.
//!
//! The same runner serves `cargo test` and `omnichannel check`.
//!
//! ```no_run
//! use std::path::PathBuf;
//! use omnichannel_testkit::{Registry, run_dirs};
//!
//! # async fn demo(factory: std::sync::Arc<dyn omnichannel_core::ChannelFactory>) {
//! let registry = Registry::new().with(factory);
//! let report = run_dirs(&registry, &[PathBuf::from("tests/fixtures/tiktok")]).await;
//! for o in &report.outcomes {
//!     println!("{}", o.render());
//! }
//! println!("{}", report.summary()); // "N passed, M failed"
//! report.assert_all_passed();
//! # }
//! ```
//!
//! Extensions to the format, all optional: a header value may be an array (the header is sent
//! once per value, for doubled-header negatives); `outbound.now` sets the clock of a send;
//! `outbound.expect_request` and `outbound.response` may be arrays for sends that make several
//! requests (the n-th request gets the n-th response). Multipart request bodies compare by part
//! name: a JSON part as its parsed value, a file part as
//! `{"filename", "content_type", "size", "text"}`.
#![forbid(unsafe_code)]

pub mod compare;
pub mod decode;
pub mod fixture;
pub mod hostile;
pub mod hygiene;
pub mod runner;

pub use fixture::{Fixture, HeaderSpec, InboundCase, OutboundCase, RequestSpec};
pub use runner::{
    Outcome, Registry, Report, fixture_files, load, loopback_client, run, run_dirs, run_file,
};

/// The workspace's `tests/fixtures` folder (for crate tests that play the shared fixtures).
pub fn workspace_fixtures(manifest_dir: &str) -> std::path::PathBuf {
    let mut p = std::path::PathBuf::from(manifest_dir);
    // crates/<name> → the workspace root.
    while !p.join("tests").join("fixtures").is_dir() {
        if !p.pop() {
            break;
        }
    }
    p.join("tests").join("fixtures")
}
