//! Decoding request bodies for comparison: form fields and multipart parts.

use serde_json::{Map, Value};

/// Form fields as a JSON object; a repeated field becomes an array in order.
pub fn form(body: &[u8]) -> Value {
    let mut map = Map::new();
    for (k, v) in url::form_urlencoded::parse(body) {
        let v = Value::String(v.into_owned());
        match map.get_mut(k.as_ref()) {
            Some(Value::Array(a)) => a.push(v),
            Some(existing) => {
                let first = existing.take();
                *existing = Value::Array(vec![first, v]);
            }
            None => {
                map.insert(k.into_owned(), v);
            }
        }
    }
    Value::Object(map)
}

/// Multipart parts by name. A part whose type is JSON becomes its parsed value; a file part
/// becomes `{"filename", "content_type", "size", "text"}` (`text` when it is UTF-8); any other
/// part its text. A name used twice becomes an array.
pub fn multipart(content_type: &str, body: &[u8]) -> Option<Value> {
    let boundary = content_type
        .split(';')
        .map(str::trim)
        .find_map(|p| p.strip_prefix("boundary="))?
        .trim_matches('"');
    let delim = format!("--{boundary}");
    let mut map = Map::new();
    let mut rest = body;
    // Skip the preamble up to the first delimiter.
    let start = find(rest, delim.as_bytes())?;
    rest = &rest[start + delim.len()..];
    loop {
        if rest.starts_with(b"--") {
            break;
        }
        rest = rest.strip_prefix(b"\r\n")?;
        let end = find(rest, format!("\r\n{delim}").as_bytes())?;
        let part = &rest[..end];
        rest = &rest[end + 2 + delim.len()..];
        let split = find(part, b"\r\n\r\n")?;
        let head = std::str::from_utf8(&part[..split]).ok()?;
        let data = &part[split + 4..];
        let mut name = None;
        let mut filename = None;
        let mut ctype = None;
        for line in head.split("\r\n") {
            let (k, v) = line.split_once(':')?;
            let k = k.trim().to_ascii_lowercase();
            if k == "content-disposition" {
                for p in v.split(';').map(str::trim) {
                    if let Some(n) = p.strip_prefix("name=") {
                        name = Some(n.trim_matches('"').to_string());
                    } else if let Some(f) = p.strip_prefix("filename=") {
                        filename = Some(f.trim_matches('"').to_string());
                    }
                }
            } else if k == "content-type" {
                ctype = Some(v.trim().to_string());
            }
        }
        let name = name?;
        let is_json = ctype
            .as_deref()
            .is_some_and(|c| c.to_ascii_lowercase().starts_with("application/json"));
        let value = if is_json && filename.is_none() {
            serde_json::from_slice(data)
                .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(data).into_owned()))
        } else if filename.is_some() || ctype.is_some() {
            let mut o = Map::new();
            if let Some(f) = filename {
                o.insert("filename".into(), Value::String(f));
            }
            if let Some(c) = ctype {
                o.insert("content_type".into(), Value::String(c));
            }
            o.insert("size".into(), Value::from(data.len()));
            if let Ok(t) = std::str::from_utf8(data) {
                o.insert("text".into(), Value::String(t.to_string()));
            }
            if is_json && let Ok(j) = serde_json::from_slice::<Value>(data) {
                o.insert("json".into(), j);
            }
            Value::Object(o)
        } else {
            Value::String(String::from_utf8_lossy(data).into_owned())
        };
        match map.get_mut(&name) {
            Some(Value::Array(a)) => a.push(value),
            Some(existing) => {
                let first = existing.take();
                *existing = Value::Array(vec![first, value]);
            }
            None => {
                map.insert(name, value);
            }
        }
    }
    Some(Value::Object(map))
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    if needle.is_empty() || hay.len() < needle.len() {
        return None;
    }
    hay.windows(needle.len()).position(|w| w == needle)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn form_repeats_become_arrays() {
        assert_eq!(
            form(b"To=%2B1555&MediaUrl=a&MediaUrl=b&Body=hi+there"),
            json!({"To": "+1555", "MediaUrl": ["a", "b"], "Body": "hi there"})
        );
    }

    #[test]
    fn multipart_parts() {
        let body = b"--XyZ\r\nContent-Disposition: form-data; name=\"json\"\r\nContent-Type: application/json\r\n\r\n{\"a\":1}\r\n--XyZ\r\nContent-Disposition: form-data; name=\"attachments\"; filename=\"a.txt\"\r\nContent-Type: text/plain\r\n\r\nhello\r\n--XyZ\r\nContent-Disposition: form-data; name=\"note\"\r\n\r\nplain\r\n--XyZ--\r\n";
        let v = multipart("multipart/form-data; boundary=XyZ", body).unwrap();
        assert_eq!(
            v,
            json!({
                "json": {"a": 1},
                "attachments": {"filename": "a.txt", "content_type": "text/plain", "size": 5, "text": "hello"},
                "note": "plain"
            })
        );
        assert!(multipart("multipart/form-data", body).is_none());
        assert!(multipart("multipart/form-data; boundary=XyZ", b"garbage").is_none());
    }
}
