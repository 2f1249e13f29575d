#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
//! Every credential a crate puts on an outbound request goes through a builder that marks the
//! header value sensitive (`HeaderValue::set_sensitive(true)`: hidden from `Debug`, never
//! indexed by HTTP/2 header compression).
//!
//! The builders themselves are tested where they live (core `bearer` and `sensitive_header`,
//! SignalWire's `Credentials::header`, the Tickets app's `authorization`, TikTok's
//! `token_header`); this test reads the sources of every crate and checks that each
//! `.header(NAME, value)` call whose NAME carries a credential takes its value from one of them,
//! directly or through a local variable bound to one. A new call site that builds the value any
//! other way (`HeaderValue::from_str`, a plain string) fails here.

use std::path::{Path, PathBuf};

/// Header names (as written in the sources) whose value is a credential.
const CREDENTIAL_NAMES: &[&str] = &[
    "AUTHORIZATION",
    "\"authorization\"",
    "\"Authorization\"",
    "ACCESS_TOKEN_HEADER",
    "\"Access-Token\"",
    "X_USER_HEADER",
    "\"accesstoken\"",
];

/// Calls that return a sensitive `HeaderValue`.
const SENSITIVE_BUILDERS: &[&str] = &[
    "bearer(",
    "sensitive_header(",
    "authorization(",
    "api::authorization(",
    "token_header(",
    "self.creds.header()",
];

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// The two arguments of each `.header(` call in `src` (split at the first top-level comma).
fn header_calls(src: &str) -> Vec<(String, String)> {
    let mut calls = Vec::new();
    let mut rest = src;
    while let Some(at) = rest.find(".header(") {
        let args = &rest[at + ".header(".len()..];
        let (mut depth, mut end, mut comma) = (0i32, None, None);
        for (i, c) in args.char_indices() {
            match c {
                '(' | '[' | '{' => depth += 1,
                ')' | ']' | '}' if depth == 0 => {
                    end = Some(i);
                    break;
                }
                ')' | ']' | '}' => depth -= 1,
                ',' if depth == 0 && comma.is_none() => comma = Some(i),
                _ => {}
            }
        }
        if let (Some(end), Some(comma)) = (end, comma) {
            let name = args[..comma].split_whitespace().collect::<String>();
            let value = args[comma + 1..end].split_whitespace().collect::<String>();
            calls.push((name, value.trim_end_matches(',').to_string()));
        }
        rest = args;
    }
    calls
}

fn is_sensitive_expr(value: &str) -> bool {
    let value = value.trim_end_matches('?');
    SENSITIVE_BUILDERS
        .iter()
        .any(|b| value.starts_with(b) || value.contains(&format!("::{b}")))
}

/// `value` is a builder call, or a variable (possibly `.clone()`d) that the file binds to one.
fn is_sensitive(value: &str, file: &str) -> bool {
    if is_sensitive_expr(value) {
        return true;
    }
    let var = value.trim_end_matches(".clone()");
    if var.is_empty() || !var.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
        return false;
    }
    // Every binding of that name in the file must come from a builder (or be a clone of it).
    let compact: String = file.split_whitespace().collect();
    let pattern = format!("let{var}=");
    let bindings: Vec<&str> = compact
        .match_indices(&pattern)
        .map(|(i, _)| {
            let tail = &compact[i + pattern.len()..];
            &tail[..tail.find(';').unwrap_or(tail.len())]
        })
        .collect();
    !bindings.is_empty()
        && bindings
            .iter()
            .all(|b| is_sensitive_expr(b) || *b == format!("{var}.clone()"))
}

#[test]
fn credential_headers_are_built_sensitive() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut files = Vec::new();
    for entry in std::fs::read_dir(root.join("crates")).unwrap() {
        let src = entry.unwrap().path().join("src");
        if src.is_dir() {
            rust_files(&src, &mut files);
        }
    }
    assert!(files.len() > 50, "the crates' sources are found");
    let (mut checked, mut failures) = (0, Vec::new());
    for path in &files {
        let text = std::fs::read_to_string(path).unwrap();
        for (name, value) in header_calls(&text) {
            if !CREDENTIAL_NAMES.contains(&name.as_str()) && !name.ends_with("::AUTHORIZATION") {
                continue;
            }
            checked += 1;
            if !is_sensitive(&value, &text) {
                failures.push(format!("{}: .header({name}, {value})", path.display()));
            }
        }
    }
    assert!(
        failures.is_empty(),
        "credential headers not built by a sensitive builder:\n{}",
        failures.join("\n")
    );
    // TikTok (5 calls), Front, SignalWire, the Tickets app (2), Salesforce: the scan sees them.
    assert!(checked >= 10, "only {checked} credential headers found");
}

#[test]
fn the_scan_catches_a_plain_credential() {
    let bad = r#"rb.header(http::header::AUTHORIZATION, HeaderValue::from_str(&t)?)"#;
    let calls = header_calls(bad);
    assert_eq!(calls.len(), 1);
    assert!(!is_sensitive(&calls[0].1, bad));
    let bound = "let auth = format!(\"Token {s}\");\n rb.header(AUTHORIZATION, auth)";
    let calls = header_calls(bound);
    assert!(!is_sensitive(&calls[0].1, bound));
    let good = "let auth = authorization(&self.secret)?;\n rb.header(AUTHORIZATION, auth)";
    let calls = header_calls(good);
    assert!(is_sensitive(&calls[0].1, good));
    let direct = "rb.header(AUTHORIZATION, bearer(token.expose_secret())?)";
    assert!(is_sensitive(&header_calls(direct)[0].1, direct));
}
