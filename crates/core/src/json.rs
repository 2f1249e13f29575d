//! Helpers for the typed JSON readers of provider crates.

use std::borrow::Cow;
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

/// A JSON string's text, for the typed readers of bodies whose strings are long (a message's
/// text): [`string_text`] of the value's JSON, which serde_json hands over as a
/// [`RawValue`](serde_json::value::RawValue) it has checked.
///
/// serde_json's own reading of a string with escapes decodes it into a scratch buffer that
/// grows as it goes (a reallocation at every doubling), then copies it out; this decodes it
/// once, into a buffer of the right size, and borrows a string without escapes. It reads only
/// through serde_json's `from_str` and `from_slice` (other deserializers have no raw value):
/// a value that is not a string, or a string that is not text (a lone surrogate escape), is an
/// error, as it is for a `String`.
///
/// ```
/// use std::borrow::Cow;
/// use omnichannel_core::json::Text;
///
/// #[derive(serde::Deserialize)]
/// struct Message<'a> {
///     #[serde(borrow)]
///     text: Text<'a>,
/// }
///
/// let m: Message<'_> = serde_json::from_str(r#"{"text": "plain"}"#)?;
/// assert!(matches!(m.text.0, Cow::Borrowed("plain")));
/// let m: Message<'_> = serde_json::from_str(r#"{"text": "line\nnext"}"#)?;
/// assert_eq!(m.text.0, "line\nnext");
/// assert!(serde_json::from_str::<Message<'_>>(r#"{"text": 5}"#).is_err());
/// assert!(serde_json::from_str::<Message<'_>>(r#"{"text": "\udc00"}"#).is_err());
/// # Ok::<(), serde_json::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Text<'a>(pub Cow<'a, str>);

impl<'de: 'a, 'a> Deserialize<'de> for Text<'a> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let raw = <&'de serde_json::value::RawValue>::deserialize(d)?;
        string_text(raw.get())
            .map(Text)
            .ok_or_else(|| serde::de::Error::custom("expected a JSON string of text"))
    }
}

impl<'a> From<Text<'a>> for Cow<'a, str> {
    fn from(Text(text): Text<'a>) -> Self {
        text
    }
}

/// A string, borrowed from the text being read when it has no escape to undo, owned otherwise.
/// (serde's own `Cow<str>` is always owned.) It reads through any deserializer: serde_json,
/// the one-pass reader of [`nested`], a tree.
///
/// ```
/// use std::borrow::Cow;
/// use omnichannel_core::json::{CowStr, nested};
///
/// #[derive(serde::Deserialize)]
/// struct Message<'a> {
///     #[serde(borrow)]
///     text: CowStr<'a>,
/// }
///
/// let m: Message<'_> = nested::from_str(r#"{"text": "plain"}"#).expect("the usual shape");
/// assert!(matches!(m.text.0, Cow::Borrowed("plain")));
/// let m: Message<'_> = serde_json::from_str(r#"{"text": "line\nnext"}"#)?;
/// assert!(matches!(m.text.0, Cow::Owned(ref t) if t == "line\nnext"));
/// # Ok::<(), serde_json::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CowStr<'a>(pub Cow<'a, str>);

impl<'de: 'a, 'a> Deserialize<'de> for CowStr<'a> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V<'a>(PhantomData<&'a ()>);
        impl<'de: 'a, 'a> Visitor<'de> for V<'a> {
            type Value = CowStr<'a>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a string")
            }
            fn visit_borrowed_str<E>(self, s: &'de str) -> Result<CowStr<'a>, E> {
                Ok(CowStr(Cow::Borrowed(s)))
            }
            fn visit_str<E>(self, s: &str) -> Result<CowStr<'a>, E> {
                Ok(CowStr(Cow::Owned(s.to_owned())))
            }
            fn visit_string<E>(self, s: String) -> Result<CowStr<'a>, E> {
                Ok(CowStr(Cow::Owned(s)))
            }
        }
        d.deserialize_str(V(PhantomData))
    }
}

impl<'a> From<CowStr<'a>> for Cow<'a, str> {
    fn from(CowStr(text): CowStr<'a>) -> Self {
        text
    }
}

/// The text of a JSON string as serde_json reads it into a `str`, from the string's JSON as it
/// appears in a document serde_json has read (quotes included, escapes well formed); `None`
/// for a value that is not a string, or a string serde_json refuses as text (a lone
/// surrogate). Borrowed when there is nothing to unescape; otherwise decoded into one buffer
/// of the right size.
///
/// ```
/// use std::borrow::Cow;
/// use omnichannel_core::json::string_text;
///
/// assert_eq!(string_text(r#""plain""#), Some(Cow::Borrowed("plain")));
/// assert_eq!(string_text(r#""say \"hi\"\n""#).as_deref(), Some("say \"hi\"\n"));
/// assert_eq!(string_text(r#""\ud800""#), None);
/// assert_eq!(string_text("5"), None);
/// ```
pub fn string_text(raw: &str) -> Option<Cow<'_, str>> {
    let inner = raw.strip_prefix('"')?.strip_suffix('"')?;
    if memchr::memchr(b'\\', inner.as_bytes()).is_none() {
        return Some(Cow::Borrowed(inner));
    }
    let mut out = String::with_capacity(inner.len());
    let mut at = 0;
    while let Some(i) = memchr::memchr(b'\\', inner.as_bytes().get(at..)?) {
        out.push_str(inner.get(at..at + i)?);
        // An escape is ASCII: the byte after it is a character boundary.
        let (c, len) = escape_at(inner.as_bytes(), at + i)?;
        out.push(c);
        at += i + len;
    }
    out.push_str(inner.get(at..)?);
    Some(Cow::Owned(out))
}

/// The character the JSON escape at `at` (a `\`) in `text` stands for, and the escape's length
/// in bytes; `None` for an escape JSON does not allow, or a lone surrogate (which serde_json
/// refuses as text).
#[inline]
pub(crate) fn escape_at(text: &[u8], at: usize) -> Option<(char, usize)> {
    let letter = *text.get(at + 1)?;
    if let Some(c) = escaped_char(letter) {
        return Some((c, 2));
    }
    if letter != b'u' {
        return None;
    }
    let hi = hex4(text.get(at + 2..at + 6)?)?;
    if !(0xD800..0xE000).contains(&hi) {
        return Some((char::from_u32(hi)?, 6));
    }
    if text.get(at + 6..at + 8) != Some(b"\\u") {
        return None;
    }
    Some((surrogate_pair(hi, hex4(text.get(at + 8..at + 12)?)?)?, 12))
}

/// The value of the hex digits of a `\u` escape.
#[inline]
pub(crate) fn hex4(digits: &[u8]) -> Option<u32> {
    digits.iter().try_fold(0u32, |v, &b| {
        Some((v << 4) | u32::from(crate::signature::hex_digit(b)?))
    })
}

/// The character a surrogate pair stands for, if `hi` and `lo` are one.
pub(crate) fn surrogate_pair(hi: u32, lo: u32) -> Option<char> {
    if !(0xD800..0xDC00).contains(&hi) || !(0xDC00..0xE000).contains(&lo) {
        return None;
    }
    char::from_u32(0x10000 + ((hi - 0xD800) << 10) + (lo - 0xDC00))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use serde_json::value::RawValue;

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

    /// `string_text(raw)` against serde_json's `String` for a string serde_json reads as a
    /// JSON value (others are not handed to it).
    fn check_string_text(raw: &str) {
        if serde_json::from_str::<&RawValue>(raw).is_err() {
            return;
        }
        let ours = string_text(raw).map(Cow::into_owned);
        let theirs = raw
            .starts_with('"')
            .then(|| serde_json::from_str::<String>(raw).ok())
            .flatten();
        assert_eq!(ours, theirs, "{raw}");
    }

    /// The text decoder gives serde_json's text for every string, and refuses what serde_json
    /// refuses as text (lone or broken surrogates).
    #[test]
    fn string_texts_decode_as_serde_json_does() {
        let cases = [
            r#""""#,
            r#""plain é 🙏""#,
            r#""a\"b\\c\/d\b\f\n\r\t""#,
            r#""\u00e9\u00E9\u0000\uffff\u0041\u007f""#,
            r#""\ud83d\ude4f \uD83D\uDE4F""#,
            r#""\ud800""#,
            r#""\udc00""#,
            r#""x\udfff""#,
            r#""\ud800\u0041""#,
            r#""\ud800\ud800""#,
            r#""\ud800x""#,
            r#""\ud800\n""#,
            r#""\\u00e9""#,
            r#""\"""#,
            "5",
            "null",
            r#"["a"]"#,
            r#"{"a":"b"}"#,
        ];
        for raw in cases {
            check_string_text(raw);
        }
        // Every string of these pieces (serde_json leaves out those that are not JSON).
        const PIECES: [&str; 18] = [
            "a", "é", "🙏", "\\\"", "\\\\", "\\/", "\\n", "\\t", "\\u00e9", "\\ud83d", "\\ude4f",
            "\\uDBFF", "\\u0041", "\\u12", "\\", "\\x", "\u{1}", " ",
        ];
        let mut raw = String::new();
        for n in 0..PIECES.len().pow(3) {
            raw.clear();
            raw.push('"');
            let mut k = n;
            for _ in 0..3 {
                raw.push_str(PIECES[k % PIECES.len()]);
                k /= PIECES.len();
            }
            raw.push('"');
            check_string_text(&raw);
        }
    }
}
