//! The app's body validation (validate.js 0.13.1 as the Tickets app configures it, spec
//! section 2): the same rules, in the same order, with the same grouped messages, returned as
//! the JSON-encoded string the app puts into `error`.
//!
//! Covered: `presence` (with `allowEmpty: false`), `type` (`string`, `array`), `format` (the
//! UUID pattern), `email` and `url`. The email check follows validate.js's pattern for dot-atom
//! addresses and domain names; quoted local parts and IP-literal domains are refused.

use serde_json::Value;

/// One rule of an attribute.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Rule {
    /// `presence: {allowEmpty: false}`.
    Present,
    /// `type: 'string'`.
    String,
    /// `type: 'array'`.
    Array,
    /// `format: {pattern: PATTERN_UUID}`.
    Uuid,
    /// `email: true`.
    Email,
    /// `url: true`.
    Url,
}

/// The constraints of one endpoint, attribute by attribute, in the app's order.
pub(crate) type Constraints = &'static [(&'static str, &'static [Rule])];

/// `PUT settings`.
pub(crate) const SETTINGS: Constraints = &[
    ("webhook", &[Rule::Present]),
    ("webhook.url", &[Rule::Present, Rule::String, Rule::Url]),
];

/// `GET room`.
pub(crate) const ROOM: Constraints = &[
    ("ticketID", &[Rule::Present, Rule::String, Rule::Uuid]),
    ("priority", &[Rule::String]),
    ("visitor", &[Rule::Present]),
    ("visitor.token", &[Rule::Present, Rule::String]),
    (
        "visitor.contactUUID",
        &[Rule::Present, Rule::String, Rule::Uuid],
    ),
    ("visitor.department", &[Rule::String]),
    ("visitor.name", &[Rule::Present, Rule::String]),
    ("visitor.email", &[Rule::Email, Rule::String]),
    ("visitor.phone", &[Rule::String]),
];

/// `GET room.close`.
pub(crate) const ROOM_CLOSE: Constraints = &[
    ("visitor", &[Rule::Present]),
    ("visitor.token", &[Rule::Present, Rule::String]),
];

/// `POST visitor-message`.
pub(crate) const VISITOR_MESSAGE: Constraints = &[
    ("visitor", &[Rule::Present]),
    ("visitor.token", &[Rule::Present, Rule::String]),
    ("text", &[Rule::String]),
    ("attachments", &[Rule::Array]),
];

/// Validates `body`; `Some(error string)` when any rule fails.
pub(crate) fn check(body: &Value, constraints: Constraints) -> Option<String> {
    let mut groups: Vec<(&str, Vec<String>)> = Vec::new();
    for (attr, rules) in constraints {
        let value = deep_get(body, attr);
        let mut messages = Vec::new();
        for rule in *rules {
            if let Some(m) = apply(*rule, value) {
                messages.push(format!("{} {m}", capitalize(&prettify(attr))));
            }
        }
        if !messages.is_empty() {
            groups.push((attr, messages));
        }
    }
    if groups.is_empty() {
        return None;
    }
    // Keys in the app's order (a serde_json map would sort them).
    let mut out = String::from("{");
    for (i, (attr, messages)) in groups.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        out.push_str(&serde_json::to_string(attr).unwrap_or_default());
        out.push(':');
        out.push_str(&serde_json::to_string(messages).unwrap_or_default());
    }
    out.push('}');
    Some(out)
}

/// validate.js `getDeepObjectValue`: `None` is `undefined`.
fn deep_get<'a>(body: &'a Value, path: &str) -> Option<&'a Value> {
    let mut cur = body;
    for key in path.split('.') {
        cur = cur.as_object()?.get(key)?;
    }
    Some(cur)
}

fn is_defined(v: Option<&Value>) -> bool {
    !matches!(v, None | Some(Value::Null))
}

/// validate.js `isEmpty`.
fn is_empty(v: Option<&Value>) -> bool {
    match v {
        None | Some(Value::Null) => true,
        Some(Value::String(s)) => s.trim().is_empty(),
        Some(Value::Array(a)) => a.is_empty(),
        Some(Value::Object(o)) => o.is_empty(),
        Some(Value::Bool(_)) | Some(Value::Number(_)) => false,
    }
}

fn apply(rule: Rule, v: Option<&Value>) -> Option<&'static str> {
    match rule {
        Rule::Present => is_empty(v).then_some("can't be blank"),
        Rule::String => (is_defined(v) && !matches!(v, Some(Value::String(_))))
            .then_some("must be of type string"),
        Rule::Array => (is_defined(v) && !matches!(v, Some(Value::Array(_))))
            .then_some("must be of type array"),
        Rule::Uuid => match v {
            None | Some(Value::Null) => None,
            Some(Value::String(s)) if is_uuid(s) => None,
            Some(_) => Some("is invalid"),
        },
        Rule::Email => match v {
            None | Some(Value::Null) => None,
            Some(Value::String(s)) if is_email(s) => None,
            Some(_) => Some("is not a valid email"),
        },
        Rule::Url => match v {
            None | Some(Value::Null) => None,
            Some(Value::String(s)) if is_url(s) => None,
            Some(_) => Some("is not a valid url"),
        },
    }
}

/// validate.js `prettify`: `.` and `_`/`-` become spaces, camelCase splits, all lower case.
fn prettify(attr: &str) -> String {
    let spaced: String = attr
        .chars()
        .map(|c| if matches!(c, '.' | '_' | '-') { ' ' } else { c })
        .collect();
    let chars: Vec<char> = spaced.chars().collect();
    let mut out = String::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        out.push(c);
        // A lower-case letter followed by an upper-case one: split (non-overlapping, as the
        // global regex does: the upper-case letter is consumed with the match).
        if c.is_ascii_lowercase() && chars.get(i + 1).is_some_and(char::is_ascii_uppercase) {
            out.push(' ');
            out.push(chars[i + 1]);
            i += 2;
            continue;
        }
        i += 1;
    }
    out.to_lowercase()
}

fn capitalize(s: &str) -> String {
    let mut c = s.chars();
    match c.next() {
        Some(f) => f.to_uppercase().chain(c).collect(),
        None => String::new(),
    }
}

/// The app's UUID pattern: 8-4-4-4-12 hex digits, either case.
pub(crate) fn is_uuid(s: &str) -> bool {
    let groups: Vec<&str> = s.split('-').collect();
    groups.len() == 5
        && groups
            .iter()
            .zip([8, 4, 4, 4, 12])
            .all(|(g, n)| g.len() == n && g.bytes().all(|b| b.is_ascii_hexdigit()))
}

fn is_atext(c: char) -> bool {
    c.is_ascii_alphanumeric() || "!#$%&'*+/=?^_`{|}~-".contains(c)
}

fn is_domain_label(l: &str) -> bool {
    !l.is_empty()
        && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
        && !l.starts_with('-')
        && !l.ends_with('-')
}

/// validate.js's email pattern (dot-atom local part, domain of two or more labels).
pub(crate) fn is_email(s: &str) -> bool {
    let Some((local, domain)) = s.rsplit_once('@') else {
        return false;
    };
    let local_ok = !local.is_empty()
        && local
            .split('.')
            .all(|part| !part.is_empty() && part.chars().all(is_atext));
    let labels: Vec<&str> = domain.split('.').collect();
    local_ok && labels.len() >= 2 && labels.iter().all(|l| is_domain_label(l))
}

/// validate.js's default `url` rule: http or https, a public IPv4 address or a host name with a
/// TLD of two or more letters (so no `localhost`), an optional port of 2 to 5 digits.
pub(crate) fn is_url(s: &str) -> bool {
    if s.chars().any(char::is_whitespace) {
        return false;
    }
    let lower = s.to_ascii_lowercase();
    let rest = if lower.starts_with("http://") {
        &s[7..]
    } else if lower.starts_with("https://") {
        &s[8..]
    } else {
        return false;
    };
    let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let authority = &rest[..end];
    let hostport = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    let host = match hostport.rsplit_once(':') {
        Some((h, port)) => {
            if !(2..=5).contains(&port.len()) || !port.bytes().all(|b| b.is_ascii_digit()) {
                return false;
            }
            h
        }
        None => hostport,
    };
    let host = host.strip_suffix('.').unwrap_or(host);
    let labels: Vec<&str> = host.split('.').collect();
    if labels.len() == 4 && labels.iter().all(|l| l.bytes().all(|b| b.is_ascii_digit())) {
        return is_public_ipv4(&labels);
    }
    let Some((tld, names)) = labels.split_last() else {
        return false;
    };
    !names.is_empty()
        && tld.chars().count() >= 2
        && tld.chars().all(|c| c.is_alphabetic())
        && names.iter().all(|l| {
            !l.is_empty()
                && !l.starts_with('-')
                && !l.ends_with('-')
                && l.chars().all(|c| c.is_alphanumeric() || c == '-')
        })
}

fn is_public_ipv4(labels: &[&str]) -> bool {
    let mut o = [0u16; 4];
    for (i, l) in labels.iter().enumerate() {
        if l.is_empty() || l.len() > 3 {
            return false;
        }
        match l.parse::<u16>() {
            Ok(n) if n <= 255 => o[i] = n,
            _ => return false,
        }
    }
    let private = o[0] == 10
        || o[0] == 127
        || (o[0] == 169 && o[1] == 254)
        || (o[0] == 192 && o[1] == 168)
        || (o[0] == 172 && (16..=31).contains(&o[1]));
    !private && (1..=223).contains(&o[0]) && (1..=254).contains(&o[3])
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;
    use serde_json::json;

    #[test]
    fn prettify_like_validate_js() {
        assert_eq!(prettify("visitor.contactUUID"), "visitor contact uuid");
        assert_eq!(prettify("ticketID"), "ticket id");
        assert_eq!(prettify("webhook.url"), "webhook url");
    }

    #[test]
    fn grouped_messages_in_order() {
        assert_eq!(
            check(&json!({}), SETTINGS).unwrap(),
            r#"{"webhook":["Webhook can't be blank"],"webhook.url":["Webhook url can't be blank"]}"#
        );
        assert_eq!(
            check(&json!({"visitor": {"token": 5}}), ROOM_CLOSE).unwrap(),
            r#"{"visitor.token":["Visitor token must be of type string"]}"#
        );
        let e = check(
            &json!({"ticketID": "nope", "visitor": {"token": "1", "contactUUID": "5d76d86b-3bb9-4d5a-b822-c9d86f5d8e4f", "email": ""}}),
            ROOM,
        )
        .unwrap();
        assert_eq!(
            e,
            r#"{"ticketID":["Ticket id is invalid"],"visitor.name":["Visitor name can't be blank"],"visitor.email":["Visitor email is not a valid email"]}"#
        );
        assert!(
            check(
                &json!({"visitor": {"token": "1"}, "text": "hi"}),
                VISITOR_MESSAGE
            )
            .is_none()
        );
    }

    #[test]
    fn urls_as_validate_js() {
        for ok in [
            "http://mailroom.local:8090/mr/tickets/types/rocketchat/event_callback/x",
            "https://8.8.8.8:8443/x",
            "https://rapidpro.example.com/mr/tickets/types/rocketchat/event_callback/6c50665f-b4ff-4e37-9625-bc464fe6a999",
        ] {
            assert!(is_url(ok), "{ok}");
        }
        for bad in [
            "http://localhost:8000/x",
            "http://127.0.0.1:8000/x",
            "https://10.0.0.5/x",
            "ftp://example.com/x",
            "https://example.com:1/x",
            "https://exa mple.com",
        ] {
            assert!(!is_url(bad), "{bad}");
        }
    }

    #[test]
    fn emails_and_uuids() {
        assert!(is_email("foo@bar.com"));
        assert!(is_email("john.doe+x@acme.co.uk"));
        assert!(!is_email(""));
        assert!(!is_email("foo@bar"));
        assert!(!is_email("foo..x@bar.com"));
        assert!(is_uuid("59D74B86-3e2f-4a93-aece-b05d2fdcde0c"));
        assert!(!is_uuid("59d74b86-3e2f-4a93-aece-b05d2fdcde0"));
    }
}
