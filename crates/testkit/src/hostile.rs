//! Helpers for hostile-input tests shared by the provider crates.

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

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn every_node_is_marked_in_three_shapes_and_inside_json_strings() {
        let doc = json!({"a": 1, "b": {"c": "x"}, "s": "{\"k\":2}"});
        let v = marked_variants(&doc);
        // Nodes: root, a, b, b.c, s (5) × 3 shapes, plus the inner document of `s` (root, k) × 3.
        assert_eq!(v.len(), 5 * 3 + 2 * 3);
        assert!(v.iter().all(|x| x.to_string().contains(MARKER)));
    }
}
