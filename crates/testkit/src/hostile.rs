//! Helpers for hostile-input tests shared by the provider crates: header shapes a verifier
//! must refuse, and body variants that carry a marker into every node.

use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use http::{HeaderMap, HeaderName, HeaderValue};
use proptest::prelude::*;

use crate::fixture::RequestSpec;
use crate::runner::{fixture_files, load};

/// A hostile shape of a header that verification depends on.
#[derive(Debug, Clone)]
pub enum HeaderShape {
    /// Absent.
    Missing,
    /// Sent twice with the same value.
    Doubled,
    /// Present and empty.
    Empty,
    /// The good value with a non-ASCII character appended.
    NonAscii,
    /// The good value with this many filler characters appended.
    Huge(usize),
}

/// Every [`HeaderShape`], huge ones from 1 KiB to about 70 KB.
pub fn header_shape() -> impl Strategy<Value = HeaderShape> {
    prop_oneof![
        Just(HeaderShape::Missing),
        Just(HeaderShape::Doubled),
        Just(HeaderShape::Empty),
        Just(HeaderShape::NonAscii),
        (1025usize..70_000).prop_map(HeaderShape::Huge),
    ]
}

impl HeaderShape {
    /// Gives header `name` (which must be present, with its good value) this shape;
    /// `huge(n)` is what [`Huge`](HeaderShape::Huge) appends.
    #[allow(clippy::expect_used)]
    pub fn apply(&self, headers: &mut HeaderMap, name: &str, huge: impl Fn(usize) -> String) {
        let name = HeaderName::from_bytes(name.as_bytes()).expect("a valid header name");
        let good = headers
            .get(&name)
            .cloned()
            .expect("the header to reshape is present");
        match self {
            HeaderShape::Missing => {
                headers.remove(&name);
            }
            HeaderShape::Doubled => {
                headers.append(name, good);
            }
            HeaderShape::Empty => {
                headers.insert(name, HeaderValue::from_static(""));
            }
            HeaderShape::NonAscii => {
                let mut v = good.as_bytes().to_vec();
                v.extend_from_slice("é".as_bytes());
                headers.insert(
                    name,
                    HeaderValue::from_bytes(&v).expect("bytes without controls"),
                );
            }
            HeaderShape::Huge(n) => {
                let mut v = good.as_bytes().to_vec();
                v.extend_from_slice(huge(*n).as_bytes());
                headers.insert(
                    name,
                    HeaderValue::from_bytes(&v).expect("bytes without controls"),
                );
            }
        }
    }
}

/// A string no fixture contains: an error text that holds it quotes the request body.
pub const MARKER: &str = "body-content-marker-7f3a";

/// Every variant of `doc` with one node replaced by the marker in another shape (a string where
/// an object is expected, an array, an object), and, for strings that hold JSON, the same inside.
pub fn marked_variants(doc: &serde_json::Value) -> Vec<serde_json::Value> {
    use serde_json::{Value, json};
    fn paths(v: &Value, path: &mut Vec<Value>, out: &mut Vec<Vec<Value>>) {
        out.push(path.clone());
        match v {
            Value::Object(o) => {
                for (k, x) in o {
                    path.push(json!(k));
                    paths(x, path, out);
                    path.pop();
                }
            }
            Value::Array(a) => {
                for (i, x) in a.iter().enumerate() {
                    path.push(json!(i));
                    paths(x, path, out);
                    path.pop();
                }
            }
            _ => {}
        }
    }
    fn at<'a>(v: &'a mut Value, path: &[Value]) -> &'a mut Value {
        path.iter().fold(v, |node, k| match k {
            Value::String(s) => &mut node[s.as_str()],
            Value::Number(n) => &mut node[n.as_u64().unwrap_or(0) as usize],
            _ => node,
        })
    }
    let mut all = Vec::new();
    paths(doc, &mut Vec::new(), &mut all);
    let mut out = Vec::new();
    for path in all {
        for replacement in [json!(MARKER), json!([MARKER]), json!({ MARKER: MARKER })] {
            let mut v = doc.clone();
            *at(&mut v, &path) = replacement;
            out.push(v);
        }
        // JSON held in a string: the same, one level down.
        if let Some(inner) = doc_at(doc, &path).and_then(|s| serde_json::from_str::<Value>(s).ok())
            && inner.is_object()
        {
            for marked in marked_variants(&inner) {
                let mut v = doc.clone();
                *at(&mut v, &path) = Value::String(marked.to_string());
                out.push(v);
            }
        }
    }
    fn doc_at<'a>(v: &'a Value, path: &[Value]) -> Option<&'a str> {
        path.iter()
            .try_fold(v, |node, k| match k {
                Value::String(s) => node.get(s.as_str()),
                Value::Number(n) => node.get(n.as_u64()? as usize),
                _ => None,
            })?
            .as_str()
    }
    out
}

/// Counts the refusals of marked requests and checks that none quotes the [`MARKER`].
#[derive(Debug, Default)]
pub struct Refusals(usize);

impl Refusals {
    /// A refusal (`Err`) is counted, and its `Display` and `Debug` texts must not hold the
    /// marker (`context` names the case in the failure message); an `Ok` is not counted.
    pub fn check<T, E: std::fmt::Display + std::fmt::Debug>(
        &mut self,
        result: Result<T, E>,
        context: &str,
    ) {
        if let Err(e) = result {
            self.0 += 1;
            let text = format!("{e} {e:?}");
            assert!(!text.contains(MARKER), "{context}: {text}");
        }
    }

    /// How many refusals were checked.
    pub fn count(&self) -> usize {
        self.0
    }
}

/// An accepted inbound fixture (`verified: true`) whose request body is JSON: what a test
/// re-signs with each of [`marked_variants`] of `doc`.
#[derive(Debug, Clone)]
pub struct AcceptedJson {
    /// The fixture file.
    pub path: PathBuf,
    /// Its channel settings.
    pub config: serde_json::Value,
    /// Its recorded request.
    pub request: RequestSpec,
    /// Its clock.
    pub now: DateTime<Utc>,
    /// The request body, parsed.
    pub doc: serde_json::Value,
}

/// Every accepted inbound fixture under `dir` with a clock and a JSON body, in path order.
pub fn accepted_json_fixtures(dir: &Path) -> Result<Vec<AcceptedJson>, String> {
    let files = fixture_files(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let mut out = Vec::new();
    for path in files {
        let fx = load(&path).map_err(|e| format!("{}: {e}", path.display()))?;
        let Some(inbound) = fx.inbound else { continue };
        let (Some(request), Some(now)) = (inbound.request, inbound.now) else {
            continue;
        };
        if inbound.expect.verified != Some(true) {
            continue;
        }
        let Ok(doc) = serde_json::from_str(request.body.as_deref().unwrap_or("")) else {
            continue;
        };
        out.push(AcceptedJson {
            path,
            config: fx.config,
            request,
            now,
            doc,
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn refusals_are_counted_and_checked() {
        let mut r = Refusals::default();
        r.check(Ok::<(), String>(()), "ok");
        r.check(Err::<(), _>("refused: bad type".to_string()), "plain");
        assert_eq!(r.count(), 1);
        let quoted = std::panic::catch_unwind(|| {
            Refusals::default().check(Err::<(), _>(format!("got `{MARKER}`")), "quoted")
        });
        assert!(quoted.is_err(), "a refusal quoting the marker fails");
    }

    #[test]
    fn every_node_is_marked_in_three_shapes_and_inside_json_strings() {
        let doc = json!({"a": 1, "b": {"c": "x"}, "s": "{\"k\":2}"});
        let v = marked_variants(&doc);
        // Nodes: root, a, b, b.c, s (5) × 3 shapes, plus the inner document of `s` (root, k) × 3.
        assert_eq!(v.len(), 5 * 3 + 2 * 3);
        assert!(v.iter().all(|x| x.to_string().contains(MARKER)));
    }
}
