//! Reading a JSON document that a provider sends inside a JSON string, in one pass.
//!
//! Some providers put a JSON document in a string field of their JSON body (TikTok's `content`,
//! for one). The plain way to read it is twice: the body's parse unescapes the string into a
//! new buffer, and a second parse reads that buffer. [`from_string_literal`] reads the document
//! straight from the string literal as it appears in the body, undoing both levels of escapes
//! as it goes: each byte is looked at once and the document's strings are copied once, into
//! their fields.
//!
//! It is a fast path, not a second JSON parser to trust on its own: it takes documents of the
//! usual shape and answers `None` for anything else (an array where a value is read, a number
//! with a fraction or exponent, a repeated field, a syntax error, a lone surrogate, nesting
//! deeper than [`MAX_DEPTH`]...). The caller then takes the plain two-step reading, which gives
//! the exact answer or error. When it answers `Some`, the value is the one
//! `serde_json::from_str::<T>` gives for the unescaped string (tests below and in the provider
//! crates compare the two).

use std::fmt;

use serde::de::{self, DeserializeOwned, DeserializeSeed, Deserializer, MapAccess, Visitor};
use serde_json::value::RawValue;

/// Deepest nesting of objects and arrays read (serde_json stops at 128 too).
pub const MAX_DEPTH: usize = 128;

/// Longest number read (digits, sign, point and exponent).
const MAX_NUMBER_CHARS: usize = 64;

/// Reads the JSON document held in the JSON string `literal` (a string value as it appears in
/// a JSON text, quotes included) into `T`, in one pass over its escaped text. `None` when
/// `literal` is not a string, or when the document is anything but the usual shape (see the
/// module docs): read it the plain way then.
///
/// ```
/// use omnichannel_core::json::from_string_literal;
/// use serde_json::value::RawValue;
///
/// #[derive(Debug, PartialEq, serde::Deserialize)]
/// struct Content {
///     message_id: String,
///     text: String,
/// }
///
/// #[derive(serde::Deserialize)]
/// struct Envelope<'a> {
///     #[serde(borrow)]
///     content: &'a RawValue,
/// }
///
/// let body = r#"{"content": "{\"message_id\":\"m-1\",\"text\":\"say \\\"hi\\\"\\n\"}"}"#;
/// let env: Envelope<'_> = serde_json::from_str(body)?;
/// let c: Content = from_string_literal(env.content).expect("the usual shape");
/// assert_eq!(c, Content { message_id: "m-1".into(), text: "say \"hi\"\n".into() });
///
/// // The same as unescaping the string, then parsing it.
/// let plain: String = serde_json::from_str(env.content.get())?;
/// assert_eq!(serde_json::from_str::<Content>(&plain)?, c);
/// # Ok::<(), serde_json::Error>(())
/// ```
pub fn from_string_literal<T: DeserializeOwned>(literal: &RawValue) -> Option<T> {
    // A `RawValue` is one valid JSON value: a string literal has no raw control characters,
    // no unescaped quote and only valid escapes; it still carries spaces around it.
    let text = literal
        .get()
        .trim_matches(|c: char| c.is_ascii_whitespace());
    let inner = text.strip_prefix('"')?.strip_suffix('"')?;
    let mut de = Nested {
        src: inner,
        scratch: String::new(),
        pos: 0,
        depth: 0,
        peeked: 0,
    };
    let value = T::deserialize(&mut de).ok()?;
    match de.peek() {
        Ok(None) => Some(value),
        _ => None,
    }
}

/// Why the fast path gave up; never shown (the caller reads the document the plain way).
#[derive(Debug)]
struct NotPlain;

impl fmt::Display for NotPlain {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("not a document of the usual shape")
    }
}

impl std::error::Error for NotPlain {}

impl de::Error for NotPlain {
    fn custom<M: fmt::Display>(_: M) -> Self {
        NotPlain
    }
}

type Res<T> = Result<T, NotPlain>;

/// One unit of the document: a byte of the literal as written (any byte but `\`), or the
/// character an escape of the literal stands for.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Unit {
    Byte(u8),
    Char(char),
}

impl Unit {
    /// The unit as an ASCII byte (structure, digits, escape letters), if it is one.
    fn ascii(self) -> Option<u8> {
        match self {
            Unit::Byte(b) if b.is_ascii() => Some(b),
            Unit::Char(c) if c.is_ascii() => Some(c as u8),
            _ => None,
        }
    }
}

/// The reader over the literal's escaped text (between its quotes).
/// Where a string read by [`Nested::string`] is.
#[derive(Clone, Copy)]
enum Str {
    /// These bytes of the literal, which hold no escape.
    Literal(usize, usize),
    /// The scratch buffer.
    Scratch,
}

struct Nested<'a> {
    src: &'a str,
    /// Unescaped strings, before their visitor copies them.
    scratch: String,
    pos: usize,
    depth: usize,
    /// The literal length of the unit [`Nested::peek`] saw last.
    peeked: usize,
}

fn hex_value(b: u8) -> Res<u32> {
    match b {
        b'0'..=b'9' => Ok(u32::from(b - b'0')),
        b'a'..=b'f' => Ok(u32::from(b - b'a' + 10)),
        b'A'..=b'F' => Ok(u32::from(b - b'A' + 10)),
        _ => Err(NotPlain),
    }
}

impl<'a> Nested<'a> {
    fn bytes(&self) -> &'a [u8] {
        self.src.as_bytes()
    }

    /// Four hex digits of the literal at `at`.
    fn literal_hex4(&self, at: usize) -> Res<u32> {
        let digits = self.bytes().get(at..at + 4).ok_or(NotPlain)?;
        digits
            .iter()
            .try_fold(0u32, |acc, &b| Ok((acc << 4) | hex_value(b)?))
    }

    /// The unit at `at` and the literal bytes it takes, or `None` at the end.
    #[inline(always)]
    fn unit_at(&self, at: usize) -> Res<Option<(Unit, usize)>> {
        match self.bytes().get(at) {
            None => Ok(None),
            Some(&b) if b != b'\\' => Ok(Some((Unit::Byte(b), 1))),
            Some(_) => self.escape_at(at).map(Some),
        }
    }

    /// The character the literal's escape at `at` stands for, and its length.
    #[inline(never)]
    fn escape_at(&self, at: usize) -> Res<(Unit, usize)> {
        let b = self.bytes();
        let c = match b.get(at + 1).ok_or(NotPlain)? {
            b'"' => '"',
            b'\\' => '\\',
            b'/' => '/',
            b'b' => '\u{8}',
            b'f' => '\u{c}',
            b'n' => '\n',
            b'r' => '\r',
            b't' => '\t',
            b'u' => {
                let hi = self.literal_hex4(at + 2)?;
                if !(0xD800..0xDC00).contains(&hi) {
                    // A low surrogate alone is no character: `from_u32` refuses it.
                    let c = char::from_u32(hi).ok_or(NotPlain)?;
                    return Ok((Unit::Char(c), 6));
                }
                if b.get(at + 6..at + 8) != Some(b"\\u") {
                    return Err(NotPlain);
                }
                let lo = self.literal_hex4(at + 8)?;
                if !(0xDC00..0xE000).contains(&lo) {
                    return Err(NotPlain);
                }
                let c = char::from_u32(0x10000 + ((hi - 0xD800) << 10) + (lo - 0xDC00))
                    .ok_or(NotPlain)?;
                return Ok((Unit::Char(c), 12));
            }
            _ => return Err(NotPlain),
        };
        Ok((Unit::Char(c), 2))
    }

    /// The next unit, consumed.
    fn next_unit(&mut self) -> Res<Unit> {
        let (u, len) = self.unit_at(self.pos)?.ok_or(NotPlain)?;
        self.pos += len;
        Ok(u)
    }

    /// The next ASCII unit of the document, consumed.
    fn next_ascii(&mut self) -> Res<u8> {
        self.next_unit()?.ascii().ok_or(NotPlain)
    }

    /// Skips whitespace; the next structural byte, not consumed, or `None` at the end.
    #[inline]
    fn peek(&mut self) -> Res<Option<u8>> {
        loop {
            let Some((u, len)) = self.unit_at(self.pos)? else {
                return Ok(None);
            };
            match u.ascii() {
                Some(b' ' | b'\t' | b'\n' | b'\r') => self.pos += len,
                Some(b) => {
                    self.peeked = len;
                    return Ok(Some(b));
                }
                None => return Err(NotPlain),
            }
        }
    }

    /// Consumes the structural byte just peeked.
    #[inline]
    fn bump(&mut self) -> Res<()> {
        self.pos += std::mem::take(&mut self.peeked);
        Ok(())
    }

    /// Expects `b` as the next structural byte.
    fn expect(&mut self, b: u8) -> Res<()> {
        match self.peek()? {
            Some(got) if got == b => self.bump(),
            _ => Err(NotPlain),
        }
    }

    /// Reads the rest of a document string (its opening quote consumed) into `out`, or only
    /// checks it when `out` is `None`. The document's quote is `\"` in the literal, so runs of
    /// literal bytes up to the next `\` are copied as they are.
    fn string_into(&mut self, mut out: Option<&mut String>) -> Res<()> {
        loop {
            let rest = self.bytes().get(self.pos..).ok_or(NotPlain)?;
            let run = memchr::memchr(b'\\', rest).ok_or(NotPlain)?;
            if let Some(out) = out.as_deref_mut() {
                // `\` is ASCII, so both ends are character boundaries.
                out.push_str(self.src.get(self.pos..self.pos + run).ok_or(NotPlain)?);
            }
            self.pos += run;
            let c = match self.next_unit()? {
                Unit::Char('"') => return Ok(()),
                Unit::Char('\\') => self.document_escape()?,
                // A control character must be escaped in the document's strings too.
                Unit::Char(c) if u32::from(c) < 0x20 => return Err(NotPlain),
                Unit::Char(c) => c,
                Unit::Byte(_) => return Err(NotPlain),
            };
            if let Some(out) = out.as_deref_mut() {
                out.push(c);
            }
        }
    }

    /// An escape of the document (after its `\`), each of its characters read as a unit.
    fn document_escape(&mut self) -> Res<char> {
        Ok(match self.next_ascii()? {
            b'"' => '"',
            b'\\' => '\\',
            b'/' => '/',
            b'b' => '\u{8}',
            b'f' => '\u{c}',
            b'n' => '\n',
            b'r' => '\r',
            b't' => '\t',
            b'u' => {
                let hi = self.document_hex4()?;
                if !(0xD800..0xDC00).contains(&hi) {
                    return char::from_u32(hi).ok_or(NotPlain);
                }
                if self.next_ascii()? != b'\\' || self.next_ascii()? != b'u' {
                    return Err(NotPlain);
                }
                let lo = self.document_hex4()?;
                if !(0xDC00..0xE000).contains(&lo) {
                    return Err(NotPlain);
                }
                return char::from_u32(0x10000 + ((hi - 0xD800) << 10) + (lo - 0xDC00))
                    .ok_or(NotPlain);
            }
            _ => return Err(NotPlain),
        })
    }

    fn document_hex4(&mut self) -> Res<u32> {
        let mut v = 0u32;
        for _ in 0..4 {
            v = (v << 4) | hex_value(self.next_ascii()?)?;
        }
        Ok(v)
    }

    /// Reads a document string (its opening quote consumed): a slice of the literal when it
    /// has no escape (ids, keys: the usual case), else unescaped into the scratch buffer.
    fn string(&mut self) -> Res<Str> {
        let start = self.pos;
        let rest = self.bytes().get(start..).ok_or(NotPlain)?;
        let run = memchr::memchr(b'\\', rest).ok_or(NotPlain)?;
        if rest.get(run + 1) == Some(&b'"') {
            self.pos = start + run + 2;
            return Ok(Str::Literal(start, start + run));
        }
        let mut scratch = std::mem::take(&mut self.scratch);
        scratch.clear();
        // Every string of the document is shorter than the literal: one allocation for all.
        scratch.reserve(self.src.len());
        let read = self.string_into(Some(&mut scratch));
        self.scratch = scratch;
        read.map(|()| Str::Scratch)
    }

    /// The text of a string [`Nested::string`] read.
    fn text(&self, s: Str) -> Res<&str> {
        match s {
            Str::Literal(a, b) => self.src.get(a..b).ok_or(NotPlain),
            Str::Scratch => Ok(&self.scratch),
        }
    }

    /// The characters of a number (validated against JSON's grammar) into `buf`; its length.
    fn number(&mut self, buf: &mut [u8; MAX_NUMBER_CHARS]) -> Res<usize> {
        let mut n = 0;
        while let Some((u, len)) = self.unit_at(self.pos)? {
            match u.ascii() {
                Some(b @ (b'0'..=b'9' | b'-' | b'+' | b'.' | b'e' | b'E')) => {
                    *buf.get_mut(n).ok_or(NotPlain)? = b;
                    n += 1;
                    self.pos += len;
                }
                _ => break,
            }
        }
        let s = buf.get(..n).ok_or(NotPlain)?;
        valid_number(s).then_some(n).ok_or(NotPlain)
    }

    /// Expects the rest of `true`, `false` or `null` (its first letter consumed).
    fn word(&mut self, rest: &[u8]) -> Res<()> {
        for &want in rest {
            if self.next_ascii()? != want {
                return Err(NotPlain);
            }
        }
        Ok(())
    }

    fn enter(&mut self) -> Res<()> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return Err(NotPlain);
        }
        Ok(())
    }

    /// Checks and skips one value (for fields the type does not read).
    fn skip_value(&mut self) -> Res<()> {
        match self.peek()?.ok_or(NotPlain)? {
            b'"' => {
                self.bump()?;
                self.string_into(None)
            }
            b'{' => {
                self.bump()?;
                self.enter()?;
                if self.peek()? == Some(b'}') {
                    self.bump()?;
                } else {
                    loop {
                        self.expect(b'"')?;
                        self.string_into(None)?;
                        self.expect(b':')?;
                        self.skip_value()?;
                        match self.peek()? {
                            Some(b',') => self.bump()?,
                            Some(b'}') => {
                                self.bump()?;
                                break;
                            }
                            _ => return Err(NotPlain),
                        }
                    }
                }
                self.depth -= 1;
                Ok(())
            }
            b'[' => {
                self.bump()?;
                self.enter()?;
                if self.peek()? == Some(b']') {
                    self.bump()?;
                } else {
                    loop {
                        self.skip_value()?;
                        match self.peek()? {
                            Some(b',') => self.bump()?,
                            Some(b']') => {
                                self.bump()?;
                                break;
                            }
                            _ => return Err(NotPlain),
                        }
                    }
                }
                self.depth -= 1;
                Ok(())
            }
            b't' => {
                self.bump()?;
                self.word(b"rue")
            }
            b'f' => {
                self.bump()?;
                self.word(b"alse")
            }
            b'n' => {
                self.bump()?;
                self.word(b"ull")
            }
            b'-' | b'0'..=b'9' => self.number(&mut [0; MAX_NUMBER_CHARS]).map(|_| ()),
            _ => Err(NotPlain),
        }
    }
}

/// JSON's number grammar: `-? (0 | [1-9][0-9]*) (. [0-9]+)? ([eE] [+-]? [0-9]+)?`.
fn valid_number(s: &[u8]) -> bool {
    let digits = |s: &[u8], i: &mut usize| {
        let start = *i;
        while s.get(*i).is_some_and(u8::is_ascii_digit) {
            *i += 1;
        }
        *i > start
    };
    let mut i = 0;
    if s.first() == Some(&b'-') {
        i += 1;
    }
    match s.get(i) {
        Some(b'0') => i += 1,
        Some(b'1'..=b'9') => {
            digits(s, &mut i);
        }
        _ => return false,
    }
    if s.get(i) == Some(&b'.') {
        i += 1;
        if !digits(s, &mut i) {
            return false;
        }
    }
    if matches!(s.get(i), Some(b'e' | b'E')) {
        i += 1;
        if matches!(s.get(i), Some(b'+' | b'-')) {
            i += 1;
        }
        if !digits(s, &mut i) {
            return false;
        }
    }
    i == s.len()
}

/// An integer as serde_json hands it to a visitor: non-negative as `u64`, negative as `i64`.
/// Anything serde_json reads as a float (a fraction, an exponent, `-0`, out of range) is not
/// taken.
enum Integer {
    U(u64),
    I(i64),
}

fn integer(s: &[u8]) -> Res<Integer> {
    let (neg, digits) = match s.split_first() {
        Some((b'-', rest)) => (true, rest),
        _ => (false, s),
    };
    let mut v: u64 = 0;
    for &d in digits {
        if !d.is_ascii_digit() {
            return Err(NotPlain);
        }
        v = v
            .checked_mul(10)
            .and_then(|v| v.checked_add(u64::from(d - b'0')))
            .ok_or(NotPlain)?;
    }
    if !neg {
        return Ok(Integer::U(v));
    }
    if v == 0 {
        return Err(NotPlain);
    }
    // `i64::MIN` has no positive counterpart: negate in `i128`.
    i64::try_from(-i128::from(v))
        .map(Integer::I)
        .map_err(|_| NotPlain)
}

impl<'de> Deserializer<'de> for &mut Nested<'_> {
    type Error = NotPlain;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Res<V::Value> {
        match self.peek()?.ok_or(NotPlain)? {
            b'"' => {
                self.bump()?;
                let s = self.string()?;
                visitor.visit_str(self.text(s)?)
            }
            b'{' => {
                self.bump()?;
                self.enter()?;
                let mut fields = Fields {
                    de: &mut *self,
                    first: true,
                    done: false,
                };
                let value = visitor.visit_map(&mut fields)?;
                // A visitor that stopped before the object's end (serde_json refuses that too).
                if !fields.done {
                    return Err(NotPlain);
                }
                self.depth -= 1;
                Ok(value)
            }
            b't' => {
                self.bump()?;
                self.word(b"rue")?;
                visitor.visit_bool(true)
            }
            b'f' => {
                self.bump()?;
                self.word(b"alse")?;
                visitor.visit_bool(false)
            }
            b'n' => {
                self.bump()?;
                self.word(b"ull")?;
                visitor.visit_unit()
            }
            b'-' | b'0'..=b'9' => {
                let mut buf = [0; MAX_NUMBER_CHARS];
                let n = self.number(&mut buf)?;
                match integer(buf.get(..n).ok_or(NotPlain)?)? {
                    Integer::U(v) => visitor.visit_u64(v),
                    Integer::I(v) => visitor.visit_i64(v),
                }
            }
            // Arrays (which a derived struct would take field by position) and anything else
            // are left to the plain reading.
            _ => Err(NotPlain),
        }
    }

    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Res<V::Value> {
        if self.peek()? == Some(b'n') {
            self.bump()?;
            self.word(b"ull")?;
            visitor.visit_none()
        } else {
            visitor.visit_some(self)
        }
    }

    fn deserialize_ignored_any<V: Visitor<'de>>(self, visitor: V) -> Res<V::Value> {
        self.skip_value()?;
        visitor.visit_unit()
    }

    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string
        bytes byte_buf unit unit_struct newtype_struct seq tuple
        tuple_struct map struct enum identifier
    }
}

/// The members of a document object.
struct Fields<'r, 'a> {
    de: &'r mut Nested<'a>,
    first: bool,
    /// The closing brace was read.
    done: bool,
}

impl<'de> MapAccess<'de> for Fields<'_, '_> {
    type Error = NotPlain;

    fn next_key_seed<K: DeserializeSeed<'de>>(&mut self, seed: K) -> Res<Option<K::Value>> {
        match self.de.peek()? {
            Some(b'}') => {
                self.de.bump()?;
                self.done = true;
                return Ok(None);
            }
            Some(b',') if !self.first => self.de.bump()?,
            _ if self.first => {}
            _ => return Err(NotPlain),
        }
        self.first = false;
        self.de.expect(b'"')?;
        let key = self.de.string()?;
        self.de.expect(b':')?;
        seed.deserialize(de::value::StrDeserializer::<NotPlain>::new(
            self.de.text(key)?,
        ))
        .map(Some)
    }

    fn next_value_seed<V: DeserializeSeed<'de>>(&mut self, seed: V) -> Res<V::Value> {
        seed.deserialize(&mut *self.de)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;
    use std::collections::BTreeMap;

    #[derive(Debug, Clone, PartialEq, serde::Deserialize)]
    struct User {
        id: String,
        #[serde(default)]
        role: Option<String>,
    }

    #[derive(Debug, Clone, PartialEq, serde::Deserialize)]
    struct Doc {
        id: String,
        #[serde(default)]
        n: Option<i64>,
        #[serde(default)]
        u: Option<u32>,
        #[serde(default)]
        ok: Option<bool>,
        #[serde(default)]
        user: Option<User>,
        #[serde(default)]
        text: Option<String>,
    }

    /// The literal of `doc` as a provider writes it: the document as a JSON string.
    fn literal(doc: &str) -> Box<RawValue> {
        RawValue::from_string(serde_json::to_string(doc).unwrap()).unwrap()
    }

    /// The plain two-step reading.
    fn plain<T: DeserializeOwned>(lit: &RawValue) -> Option<T> {
        let s: String = serde_json::from_str(lit.get()).ok()?;
        serde_json::from_str(&s).ok()
    }

    /// Where the fast path answers, it agrees with the plain reading.
    fn agree<T: DeserializeOwned + PartialEq + fmt::Debug>(lit: &RawValue) -> Option<T> {
        let fast = from_string_literal::<T>(lit);
        if let Some(f) = &fast {
            assert_eq!(Some(f), plain::<T>(lit).as_ref(), "{}", lit.get());
        }
        fast
    }

    #[test]
    fn usual_documents_are_read() {
        let doc = r#"{"id":"m-1","n":-42,"u":7,"ok":true,"user":{"id":"u1","role":null},
            "text":"say \"hi\"\n\ttab \\ slash \/ é 🙏 \u00e9 \ud83d\ude4f","extra":[1,2.5e3,{"a":[]},null,false,"x"]}"#;
        let got: Doc = agree(&literal(doc)).expect("read");
        assert_eq!(got.id, "m-1");
        assert_eq!(got.n, Some(-42));
        assert_eq!(got.user.unwrap().role, None);
        assert_eq!(
            got.text.as_deref(),
            Some("say \"hi\"\n\ttab \\ slash / é 🙏 é 🙏")
        );
        // Spaces around the literal, and characters of the literal escaped for themselves.
        let lit = RawValue::from_string(
            r#"  "{\u0022id\u0022:\"\u00e9\ud83d\ude4f\", \"n\" : 1 }"  "#.to_string(),
        )
        .unwrap();
        let got: Doc = agree(&lit).expect("read");
        assert_eq!((got.id.as_str(), got.n), ("é🙏", Some(1)));
        let map: BTreeMap<String, serde_json::Value> =
            from_string_literal(&literal(r#"{"k\u00e9y":"v","b":"w"}"#)).expect("a map");
        assert_eq!(map["kéy"], "v");
    }

    #[test]
    fn unusual_or_broken_documents_are_left_to_the_plain_reading() {
        let cases = [
            r#"["m-1"]"#,                               // a struct by position
            r#"{"id":"m-1","n":1.5}"#,                  // a fraction where an integer is read
            r#"{"id":"m-1","n":-0}"#,                   // serde_json reads -0 as a float
            r#"{"id":"m-1","n":1e2}"#,                  // an exponent
            r#"{"id":"m-1","id":"m-2"}"#,               // a repeated field
            r#"{"id":"m-1",}"#,                         // a trailing comma
            r#"{"id":"m-1"} x"#,                        // something after the document
            r#"{"id":"m-1""#,                           // cut short
            r#"{"id":"a\ud800"}"#,                      // a lone surrogate in the document
            r#"{"id":"m-1","x":01}"#,                   // a leading zero
            r#"{"id":"m-1","x":tru}"#,                  // a broken word
            r#"{"id":"m-1","n":99999999999999999999}"#, // out of range
            r#"{"id":1}"#,                              // the wrong type
            r#"{}"#,                                    // a missing field
            "",
            "  ",
        ];
        for doc in cases {
            assert!(agree::<Doc>(&literal(doc)).is_none(), "{doc}");
        }
        // Raw control characters inside the document's strings (escaped once only).
        let lit = RawValue::from_string(r#""{\"id\":\"a\nb\"}""#.to_string()).unwrap();
        assert!(agree::<Doc>(&lit).is_none());
        // Not a string at all.
        let obj = RawValue::from_string(r#"{"id":"m-1"}"#.to_string()).unwrap();
        assert!(from_string_literal::<Doc>(&obj).is_none());
        // A lone surrogate in the literal itself.
        let lit = RawValue::from_string(r#""{\"id\":\"\ud800\"}""#.to_string()).unwrap();
        assert!(from_string_literal::<Doc>(&lit).is_none());
        // Nesting past the limit, in an ignored field.
        let deep = format!(
            r#"{{"id":"m","x":{}{}}}"#,
            "[".repeat(MAX_DEPTH + 1),
            "]".repeat(MAX_DEPTH + 1)
        );
        assert!(agree::<Doc>(&literal(&deep)).is_none());
        let ok = format!(
            r#"{{"id":"m","x":{}{}}}"#,
            "[".repeat(MAX_DEPTH - 2),
            "]".repeat(MAX_DEPTH - 2)
        );
        assert!(agree::<Doc>(&literal(&ok)).is_some());
    }

    #[test]
    fn integers_are_handed_over_as_serde_json_does() {
        for (doc, want) in [
            (r#"{"id":"a","n":9223372036854775807}"#, Some(i64::MAX)),
            (r#"{"id":"a","n":-9223372036854775808}"#, Some(i64::MIN)),
            (r#"{"id":"a","n":0}"#, Some(0)),
        ] {
            let got: Doc = agree(&literal(doc)).expect(doc);
            assert_eq!(got.n, want);
        }
        // Over `i64::MAX` as u64: the field's own range check refuses it, in both readings.
        assert!(agree::<Doc>(&literal(r#"{"id":"a","n":9223372036854775808}"#)).is_none());
        assert!(agree::<Doc>(&literal(r#"{"id":"a","u":4294967296}"#)).is_none());
    }

    #[test]
    fn number_grammar() {
        for good in ["0", "-1", "10", "1.5", "-0.25e-3", "2E+8", "1e9"] {
            assert!(valid_number(good.as_bytes()), "{good}");
        }
        for bad in [
            "", "-", "01", "1.", ".5", "1e", "1e+", "+1", "--1", "1.2.3", "1-2",
        ] {
            assert!(!valid_number(bad.as_bytes()), "{bad}");
        }
    }

    proptest::proptest! {
        /// Any JSON value, put in a document of the usual shape, is read as the plain reading
        /// reads it, or left to it.
        #[test]
        fn agrees_with_the_plain_reading(
            id in ".{0,12}",
            text in proptest::option::of(".{0,40}"),
            n in proptest::option::of(proptest::num::i64::ANY),
            extra in proptest::collection::vec((".{0,4}", "[ -~]{0,12}"), 0..4),
        ) {
            let mut doc = serde_json::json!({"id": id, "text": text, "n": n});
            for (k, v) in &extra {
                doc[k.as_str()] = serde_json::Value::String(v.clone());
            }
            let lit = literal(&doc.to_string());
            let fast = agree::<Doc>(&lit);
            if !extra.iter().any(|(k, _)| ["id", "text", "n", "u", "ok", "user"].contains(&k.as_str())) {
                proptest::prop_assert!(fast.is_some(), "{}", lit.get());
            }
        }

        /// A usual document with one character replaced, deleted or doubled: never a panic,
        /// and the same answer as the plain reading whenever it is read.
        #[test]
        fn mutated_documents(
            at in 0usize..400,
            op in 0u8..3,
            with in proptest::sample::select(vec!['"', '\\', '{', '}', '[', ']', ':', ',', '0', '-', 'e', '.', 'u', 'n', ' ', '\n', 'é']),
        ) {
            let doc = r#"{"id":"m-1","n":-42,"user":{"id":"u1","role":null},"text":"say \"hi\"\n \u00e9 \ud83d\ude4f","extra":[1,2.5e3,{"a":[]},null,false,"x"],"ok":true}"#;
            let chars: Vec<char> = doc.chars().collect();
            let i = at % chars.len();
            let mut m: Vec<char> = chars.clone();
            match op {
                0 => m[i] = with,
                1 => { m.remove(i); }
                _ => m.insert(i, m[i]),
            }
            let m: String = m.into_iter().collect();
            let _ = agree::<Doc>(&literal(&m));
            let _ = agree::<BTreeMap<String, serde_json::Value>>(&literal(&m));
        }

        /// Hostile literals never panic, and agree with the plain reading when read.
        #[test]
        fn hostile_literals(s in r#"[\\"{}\[\]:,a-z0-9 \-.é]{0,60}"#) {
            if let Ok(lit) = RawValue::from_string(format!("\"{s}\"")) {
                let _ = agree::<Doc>(&lit);
                let _ = agree::<BTreeMap<String, serde_json::Value>>(&lit);
            }
        }
    }
}
