//! Helpers for the typed JSON readers of provider crates.

use std::fmt;
use std::marker::PhantomData;

use serde::de::{Deserialize, Deserializer, MapAccess, Visitor};

pub mod nested;
pub(crate) mod write;

/// Appends `s` to `out` as a JSON string, quoted and escaped byte for byte as `serde_json`
/// writes it, for writers that build a small JSON text without a tree.
///
/// ```
/// let mut out = b"{\"id\":".to_vec();
/// omnichannel_core::json::write_string(&mut out, "say \"hi\"\n");
/// out.push(b'}');
/// assert_eq!(out, serde_json::to_vec(&serde_json::json!({"id": "say \"hi\"\n"}))?);
/// # Ok::<(), serde_json::Error>(())
/// ```
pub fn write_string(out: &mut Vec<u8>, s: &str) {
    write::string(out, s);
}

/// The character a JSON string's one-letter escape stands for (`n` of `\n`: a newline); `None`
/// for `u` (four hex digits follow) and for any letter JSON does not allow.
///
/// ```
/// use omnichannel_core::json::escaped_char;
///
/// assert_eq!(escaped_char(b'n'), Some('\n'));
/// assert_eq!(escaped_char(b'"'), Some('"'));
/// assert_eq!(escaped_char(b'u'), None);
/// assert_eq!(escaped_char(b'x'), None);
/// ```
#[inline]
pub fn escaped_char(letter: u8) -> Option<char> {
    Some(match letter {
        b'"' => '"',
        b'\\' => '\\',
        b'/' => '/',
        b'b' => '\u{8}',
        b'f' => '\u{c}',
        b'n' => '\n',
        b'r' => '\r',
        b't' => '\t',
        _ => return None,
    })
}

/// `T` read only from a JSON object.
///
/// A struct with a derived `Deserialize` also takes a JSON array, its fields by position; a
/// provider's body never means that, and a typed reader that stands in for a reading of the
/// body's tree (where an array is not an object) must refuse it too.
///
/// ```
/// use omnichannel_core::json::Object;
///
/// #[derive(serde::Deserialize)]
/// struct Visitor {
///     token: String,
/// }
///
/// let Object(v) = serde_json::from_str::<Object<Visitor>>(r#"{"token": "v1"}"#)?;
/// assert_eq!(v.token, "v1");
/// assert!(serde_json::from_str::<Object<Visitor>>(r#"["v1"]"#).is_err());
/// # Ok::<(), serde_json::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct Object<T>(pub T);

impl<'de, T: Deserialize<'de>> Deserialize<'de> for Object<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct ObjectVisitor<T>(PhantomData<T>);
        impl<'de, T: Deserialize<'de>> Visitor<'de> for ObjectVisitor<T> {
            type Value = Object<T>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a JSON object")
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Object<T>, A::Error> {
                T::deserialize(serde::de::value::MapAccessDeserializer::new(map)).map(Object)
            }
        }
        d.deserialize_map(ObjectVisitor(PhantomData))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::borrow::Cow;

    #[derive(Debug, serde::Deserialize)]
    struct Pair<'a> {
        #[serde(borrow)]
        a: Cow<'a, str>,
        #[serde(default)]
        b: Option<u8>,
    }

    #[test]
    fn objects_only_and_strings_stay_borrowed() {
        let Object(p) = serde_json::from_str::<Object<Pair<'_>>>(r#"{"a": "x", "b": 1}"#).unwrap();
        assert!(matches!(p.a, Cow::Borrowed("x")));
        assert_eq!(p.b, Some(1));
        for bad in [r#"["x", 1]"#, r#""x""#, "1", "null"] {
            assert!(
                serde_json::from_str::<Object<Pair<'_>>>(bad).is_err(),
                "{bad}"
            );
        }
        let nested: Option<Object<Pair<'_>>> = serde_json::from_str("null").unwrap();
        assert!(nested.is_none());
    }
}
