//! Reading a JSON document that a provider sends inside a JSON string, in one pass.
//!
//! Some providers put a JSON document in a string field of their JSON body (TikTok's `content`,
//! for one). The plain way to read it is twice: the body's parse unescapes the string into a
//! new buffer, and a second parse reads that buffer. This module's reader reads the document
//! straight from the string as it appears in the body, undoing both levels of escapes as it
//! goes: each byte is looked at once and the document's strings are copied once, into their
//! fields. [`from_str`] reads a whole body whose [`InString`] fields hold such documents.
//!
//! It is a fast path, not a second JSON parser to trust on its own: it takes texts of the usual
//! shape and answers `None` for anything else (an array where any value or a struct is read, a number with a
//! fraction or exponent, a repeated field, a syntax error, a lone surrogate, nesting of
//! [`MAX_DEPTH`] levels or more...). The caller then takes the plain reading (serde_json into
//! the same types, the string parsed a second time), which gives the exact answer or error.
//! When it answers `Some`, the value is the one the plain reading gives (tests below and in the
//! provider crates compare the two). Like serde_json, it checks only the syntax of a value that
//! the type skips (an unknown field): `1e400` there is taken, where a `serde_json::Value` tree
//! of the same text, which builds every value, refuses it; [`from_str_strict`] leaves such a
//! text to the plain reading, for callers whose plain reading is such a tree.

use std::fmt;
use std::marker::PhantomData;

use serde::de::{self, Deserialize, DeserializeSeed, Deserializer, MapAccess, Visitor};

/// Nesting of objects and arrays from which a text is left to the plain reading: serde_json
/// refuses 128 levels too (in the values it builds; it skips deeper ones).
pub const MAX_DEPTH: usize = 128;

/// Longest number read (digits, sign, point and exponent).
const MAX_NUMBER_CHARS: usize = 64;

/// The name [`InString`] asks the reader for; no other type uses it.
const IN_STRING: &str = "$omnichannel::json::nested::InString";

/// A field whose value is a JSON string holding a JSON document of type `T`, for bodies read
/// with [`from_str`]: the document is read from the string's escaped text in the same pass as
/// the body.
///
/// Only this module's reader reads it: serde_json, or any other deserializer, hands it the
/// string itself, which is not a `T` unless `T` reads strings. Read bodies with it through
/// [`from_str`], and have a plain reading (with a `String` field parsed a second time) for the
/// bodies [`from_str`] leaves.
#[derive(Debug, Clone, PartialEq)]
pub struct InString<T>(pub T);

impl<'de, T: Deserialize<'de>> Deserialize<'de> for InString<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V<T>(PhantomData<T>);
        impl<'de, T: Deserialize<'de>> Visitor<'de> for V<T> {
            type Value = InString<T>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a JSON string holding a JSON document")
            }
            fn visit_newtype_struct<D: Deserializer<'de>>(
                self,
                d: D,
            ) -> Result<Self::Value, D::Error> {
                T::deserialize(d).map(InString)
            }
        }
        d.deserialize_newtype_struct(IN_STRING, V(PhantomData))
    }
}

/// Reads the JSON text `text` into `T` with this module's one-pass reader, the documents of
/// its [`InString`] fields included. `None` when the text is anything but the usual shape (see
/// the module docs): read it the plain way then.
///
/// ```
/// use std::borrow::Cow;
/// use omnichannel_core::json::nested::{InString, from_str};
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
///     event: Cow<'a, str>,
///     content: InString<Content>,
/// }
///
/// let body = r#"{"event": "im_receive_msg", "content": "{\"message_id\":\"m-1\",\"text\":\"say \\\"hi\\\"\\n\"}"}"#;
/// let env: Envelope<'_> = from_str(body).expect("the usual shape");
/// assert!(matches!(env.event, Cow::Borrowed("im_receive_msg")));
/// assert_eq!(env.content.0, Content { message_id: "m-1".into(), text: "say \"hi\"\n".into() });
///
/// // The same as reading the body, then the string in it.
/// let plain: serde_json::Value = serde_json::from_str(body).unwrap();
/// let content: Content = serde_json::from_str(plain["content"].as_str().unwrap()).unwrap();
/// assert_eq!(env.content.0, content);
/// ```
pub fn from_str<'de, T: Deserialize<'de>>(text: &'de str) -> Option<T> {
    read(text, false)
}

/// [`from_str`] for a caller whose plain reading is a `serde_json::Value` tree of the text,
/// which refuses what a value cannot hold even in fields the type skips: this reading leaves
/// a text to it when a skipped value has a number with a fraction or an exponent (`1e400` is
/// beyond `f64`; the tree refuses it, serde_json's typed reading and [`from_str`] check its
/// syntax only). Lone surrogates and nesting of [`MAX_DEPTH`] levels are left to the plain
/// reading by both functions, wherever they are.
///
/// ```
/// use omnichannel_core::json::nested;
///
/// #[derive(serde::Deserialize)]
/// struct Doc {
///     id: String,
/// }
///
/// let text = r#"{"id":"a","x":1e400}"#;
/// assert!(serde_json::from_str::<serde_json::Value>(text).is_err());
/// assert!(nested::from_str_strict::<Doc>(text).is_none());
/// assert_eq!(nested::from_str::<Doc>(text).map(|d| d.id).as_deref(), Some("a"));
/// assert_eq!(nested::from_str_strict::<Doc>(r#"{"id":"a","x":12}"#).map(|d| d.id).as_deref(), Some("a"));
/// ```
pub fn from_str_strict<'de, T: Deserialize<'de>>(text: &'de str) -> Option<T> {
    read(text, true)
}

fn read<'de, T: Deserialize<'de>>(text: &'de str, strict: bool) -> Option<T> {
    let mut de = Reader::new(text, Level::Body);
    de.strict = strict;
    let value = T::deserialize(&mut de).ok()?;
    match de.peek() {
        Ok(None) => Some(value),
        _ => None,
    }
}

/// Why the fast path gave up; never shown (the caller reads the text the plain way).
#[derive(Debug)]
struct NotPlain;

impl fmt::Display for NotPlain {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("not a text of the usual shape")
    }
}

impl std::error::Error for NotPlain {}

impl de::Error for NotPlain {
    fn custom<M: fmt::Display>(_: M) -> Self {
        NotPlain
    }
}

type Res<T> = Result<T, NotPlain>;

/// Which text the reader is reading.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Level {
    /// The JSON text itself.
    Body,
    /// The document inside a string of the body: its characters are the string's, escapes
    /// undone; the string's closing quote ends it.
    InString,
}

/// One character of the document at the reader's level: a byte as written, or (in a string
/// of the body) the character an escape stands for.
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

/// Where a string read by [`Reader::string`] is.
#[derive(Clone, Copy)]
enum Str {
    /// These bytes of the text, which hold no escape: the string as it is.
    Text(usize, usize),
    /// The scratch buffer.
    Scratch,
}

/// The reader.
struct Reader<'de> {
    src: &'de str,
    pos: usize,
    level: Level,
    depth: usize,
    /// Bytes of the text that the unit [`Reader::peek`] saw last takes.
    peeked: usize,
    /// Unescaped strings, before their visitor copies them.
    scratch: String,
    /// Skipped numbers must be integers (see [`from_str_strict`]).
    strict: bool,
}

/// The index of the first byte of `s` that ends a run of a JSON string's plain characters: a
/// quote, a `\` or a control character (which strings must escape); `None` if there is none.
///
/// Eight bytes at a time: a byte of a word is flagged when it equals `"` or `\` or is below
/// 0x20, by the borrow of a subtraction; the lowest flagged byte is always a true one (no borrow
/// comes from the bytes below it), which is the one wanted.
pub(crate) fn string_end(s: &[u8]) -> Option<usize> {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGH: u64 = 0x8080_8080_8080_8080;
    let zero_byte = |x: u64| x.wrapping_sub(ONES) & !x;
    let mut chunks = s.chunks_exact(8);
    let mut at = 0;
    for chunk in chunks.by_ref() {
        let mut word = [0u8; 8];
        word.copy_from_slice(chunk);
        let v = u64::from_le_bytes(word);
        let flagged = (zero_byte(v ^ (ONES * u64::from(b'"')))
            | zero_byte(v ^ (ONES * u64::from(b'\\')))
            | (v.wrapping_sub(ONES * 0x20) & !v))
            & HIGH;
        if flagged != 0 {
            return Some(at + (flagged.trailing_zeros() / 8) as usize);
        }
        at += 8;
    }
    chunks
        .remainder()
        .iter()
        .position(|&b| b == b'"' || b == b'\\' || b < 0x20)
        .map(|i| at + i)
}

impl<'de> Reader<'de> {
    fn new(src: &'de str, level: Level) -> Self {
        Reader {
            src,
            pos: 0,
            level,
            depth: 0,
            peeked: 0,
            scratch: String::new(),
            strict: false,
        }
    }

    fn bytes(&self) -> &'de [u8] {
        self.src.as_bytes()
    }

    /// The character the text's escape at `at` (a `\`) stands for, and its length.
    #[inline(never)]
    fn escape_at(&self, at: usize) -> Res<(char, usize)> {
        super::escape_at(self.bytes(), at).ok_or(NotPlain)
    }

    /// The unit at the reader's position outside strings and the bytes it takes; `None` at the
    /// end of the document (the text's end, or the closing quote of the string it is in).
    #[inline(always)]
    fn unit(&self) -> Res<Option<(Unit, usize)>> {
        let Some(&b) = self.bytes().get(self.pos) else {
            return Ok(None);
        };
        match (self.level, b) {
            (Level::Body, _) => Ok(Some((Unit::Byte(b), 1))),
            (Level::InString, b'"') => Ok(None),
            (Level::InString, b'\\') => {
                let (c, len) = self.escape_at(self.pos)?;
                Ok(Some((Unit::Char(c), len)))
            }
            // A string of the body holds no raw control character.
            (Level::InString, 0..0x20) => Err(NotPlain),
            (Level::InString, _) => Ok(Some((Unit::Byte(b), 1))),
        }
    }

    /// The next unit, consumed (inside a document string's escape).
    fn next_ascii(&mut self) -> Res<u8> {
        let (u, len) = self.unit()?.ok_or(NotPlain)?;
        self.pos += len;
        u.ascii().ok_or(NotPlain)
    }

    /// Skips whitespace; the next structural byte, not consumed, or `None` at the end.
    #[inline]
    fn peek(&mut self) -> Res<Option<u8>> {
        let b = self.bytes();
        // The usual case first: a structural byte as it is, or the document's quote (`\"`)
        // inside a string.
        match (self.level, b.get(self.pos)) {
            (_, Some(&c @ (b'{' | b'}' | b'[' | b']' | b':' | b',' | b'-' | b'0'..=b'9')))
            | (_, Some(&c @ (b't' | b'f' | b'n')))
            | (Level::Body, Some(&c @ b'"')) => {
                self.peeked = 1;
                return Ok(Some(c));
            }
            (Level::InString, Some(b'\\')) if b.get(self.pos + 1) == Some(&b'"') => {
                self.peeked = 2;
                return Ok(Some(b'"'));
            }
            _ => {}
        }
        self.peek_slow()
    }

    /// [`Reader::peek`] past whitespace and escaped structure.
    #[inline(never)]
    fn peek_slow(&mut self) -> Res<Option<u8>> {
        loop {
            let Some((u, len)) = self.unit()? else {
                return Ok(None);
            };
            match u.ascii() {
                Some(b' ' | b'\t' | b'\n' | b'\r') => self.pos += len,
                // In the body, a quote is a quote and an escape is out of place; in a string,
                // the document's quote is an escape (a raw quote ended the document).
                Some(b'\\') if self.level == Level::Body => return Err(NotPlain),
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
    fn bump(&mut self) {
        self.pos += std::mem::take(&mut self.peeked);
    }

    /// Expects `b` as the next structural byte.
    fn expect(&mut self, b: u8) -> Res<()> {
        match self.peek()? {
            Some(got) if got == b => {
                self.bump();
                Ok(())
            }
            _ => Err(NotPlain),
        }
    }

    /// The run of plain bytes of a string from the position: up to the next quote or `\` of
    /// the text, which is returned. Control characters are refused.
    #[inline]
    fn run(&self) -> Res<(usize, u8)> {
        let rest = self.bytes().get(self.pos..).ok_or(NotPlain)?;
        let n = string_end(rest).ok_or(NotPlain)?;
        match *rest.get(n).ok_or(NotPlain)? {
            stop @ (b'"' | b'\\') => Ok((n, stop)),
            _ => Err(NotPlain),
        }
    }

    /// Reads the rest of a document string (its opening quote consumed) into `out`, or only
    /// checks it when `out` is `None`.
    fn string_into(&mut self, mut out: Option<&mut String>) -> Res<()> {
        let mut found = None;
        self.string_from(&mut out, &mut found)
    }

    /// [`Reader::string_into`], the first run already found when `found` is `Some`.
    fn string_from(
        &mut self,
        out: &mut Option<&mut String>,
        found: &mut Option<(usize, u8)>,
    ) -> Res<()> {
        loop {
            let (n, stop) = match found.take() {
                Some(run) => run,
                None => self.run()?,
            };
            if let Some(out) = out.as_deref_mut() {
                // Quotes and `\` are ASCII, so both ends are character boundaries.
                out.push_str(self.src.get(self.pos..self.pos + n).ok_or(NotPlain)?);
            }
            self.pos += n;
            let c = match (self.level, stop) {
                (Level::Body, b'"') => {
                    self.pos += 1;
                    return Ok(());
                }
                (Level::Body, _) => {
                    let (c, len) = self.escape_at(self.pos)?;
                    self.pos += len;
                    c
                }
                // A raw quote ends the body's string, and the document, inside a string.
                (Level::InString, b'"') => return Err(NotPlain),
                (Level::InString, _) => {
                    // The document's usual escapes, escaped once more in the text: `\\\"` (a
                    // quote), `\\\\` (a backslash), `\\n` and the other letters.
                    let b = self.bytes();
                    if b.get(self.pos + 1) == Some(&b'\\') {
                        let fast = match (b.get(self.pos + 2), b.get(self.pos + 3)) {
                            (Some(b'\\'), Some(&q @ (b'"' | b'\\'))) => {
                                Some((if q == b'"' { '"' } else { '\\' }, 4))
                            }
                            (Some(&l), _) if l != b'u' && l != b'\\' && l != b'"' => {
                                super::escaped_char(l).map(|c| (c, 3))
                            }
                            _ => None,
                        };
                        if let Some((c, len)) = fast {
                            self.pos += len;
                            if let Some(out) = out.as_deref_mut() {
                                out.push(c);
                            }
                            continue;
                        }
                    }
                    let (c, len) = self.escape_at(self.pos)?;
                    self.pos += len;
                    match c {
                        '"' => return Ok(()),
                        '\\' => self.document_escape()?,
                        // A control character must be escaped in the document's strings too.
                        c if u32::from(c) < 0x20 => return Err(NotPlain),
                        c => c,
                    }
                }
            };
            if let Some(out) = out.as_deref_mut() {
                out.push(c);
            }
        }
    }

    /// An escape of the document inside a string (after its `\`), each of its characters read
    /// as a unit.
    fn document_escape(&mut self) -> Res<char> {
        let letter = self.next_ascii()?;
        if let Some(c) = super::escaped_char(letter) {
            return Ok(c);
        }
        if letter != b'u' {
            return Err(NotPlain);
        }
        let hi = self.document_hex4()?;
        if !(0xD800..0xE000).contains(&hi) {
            return char::from_u32(hi).ok_or(NotPlain);
        }
        if self.next_ascii()? != b'\\' || self.next_ascii()? != b'u' {
            return Err(NotPlain);
        }
        super::surrogate_pair(hi, self.document_hex4()?).ok_or(NotPlain)
    }

    fn document_hex4(&mut self) -> Res<u32> {
        let mut v = 0u32;
        for _ in 0..4 {
            let digit = crate::signature::hex_digit(self.next_ascii()?).ok_or(NotPlain)?;
            v = (v << 4) | u32::from(digit);
        }
        Ok(v)
    }

    /// Reads a document string (its opening quote consumed): a slice of the text when it has
    /// no escape (ids, keys: the usual case), else unescaped into the scratch buffer.
    fn string(&mut self) -> Res<Str> {
        let start = self.pos;
        let (n, stop) = self.run()?;
        let closed = match self.level {
            Level::Body => (stop == b'"').then_some(1),
            Level::InString => {
                (stop == b'\\' && self.bytes().get(start + n + 1) == Some(&b'"')).then_some(2)
            }
        };
        if let Some(quote) = closed {
            self.pos = start + n + quote;
            return Ok(Str::Text(start, start + n));
        }
        let mut scratch = std::mem::take(&mut self.scratch);
        scratch.clear();
        // Every string of the document is shorter than the text: one allocation for all.
        scratch.reserve(self.src.len());
        let read = self.string_from(&mut Some(&mut scratch), &mut Some((n, stop)));
        self.scratch = scratch;
        read.map(|()| Str::Scratch)
    }

    /// The characters of a number, validated against JSON's grammar. They are read as they are
    /// written (a number with an escaped character in it is not the usual shape).
    fn number(&mut self) -> Res<&'de [u8]> {
        let b = self.bytes();
        let start = self.pos;
        let len = b
            .get(start..)
            .ok_or(NotPlain)?
            .iter()
            .take(MAX_NUMBER_CHARS + 1)
            .take_while(|c| matches!(c, b'0'..=b'9' | b'-' | b'+' | b'.' | b'e' | b'E'))
            .count();
        let s = b.get(start..start + len).ok_or(NotPlain)?;
        if len > MAX_NUMBER_CHARS || !valid_number(s) {
            return Err(NotPlain);
        }
        self.pos += len;
        Ok(s)
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
        if self.depth >= MAX_DEPTH {
            return Err(NotPlain);
        }
        Ok(())
    }

    /// Reads the members of an object or the elements of an array, its opening byte read, with
    /// `visit`, one level deeper; `visit` must read up to the closing byte (serde_json refuses
    /// a visitor that stops before it too).
    #[inline]
    fn members<T>(&mut self, visit: impl FnOnce(&mut Members<'_, 'de>) -> Res<T>) -> Res<T> {
        self.enter()?;
        let mut members = Members {
            de: &mut *self,
            first: true,
            done: false,
        };
        let value = visit(&mut members)?;
        if !members.done {
            return Err(NotPlain);
        }
        self.depth -= 1;
        Ok(value)
    }

    /// Checks and skips one value (for fields the type does not read).
    fn skip_value(&mut self) -> Res<()> {
        match self.peek()?.ok_or(NotPlain)? {
            b'"' => {
                self.bump();
                self.string_into(None)
            }
            open @ (b'{' | b'[') => {
                self.bump();
                self.enter()?;
                let close = if open == b'{' { b'}' } else { b']' };
                if self.peek()? == Some(close) {
                    self.bump();
                } else {
                    loop {
                        if open == b'{' {
                            self.expect(b'"')?;
                            self.string_into(None)?;
                            self.expect(b':')?;
                        }
                        self.skip_value()?;
                        match self.peek()? {
                            Some(b',') => self.bump(),
                            Some(b) if b == close => {
                                self.bump();
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
                self.bump();
                self.word(b"rue")
            }
            b'f' => {
                self.bump();
                self.word(b"alse")
            }
            b'n' => {
                self.bump();
                self.word(b"ull")
            }
            b'-' | b'0'..=b'9' => {
                let n = self.number()?;
                if self.strict && n.iter().any(|&c| matches!(c, b'.' | b'e' | b'E')) {
                    return Err(NotPlain);
                }
                Ok(())
            }
            _ => Err(NotPlain),
        }
    }

    /// Hands the string `s` to `visitor`, borrowed from the text when it can be. An unescaped
    /// string that fills at least half of the scratch buffer (a message's text, the usual
    /// case) is handed over as the buffer itself, for a visitor that keeps a `String` to take
    /// without a copy; the next such string gets a new buffer.
    fn visit_string<V: Visitor<'de>>(&mut self, s: Str, visitor: V) -> Res<V::Value> {
        match s {
            Str::Text(a, b) => visitor.visit_borrowed_str(self.src.get(a..b).ok_or(NotPlain)?),
            Str::Scratch if self.scratch.len() * 2 >= self.scratch.capacity() => {
                visitor.visit_string(std::mem::take(&mut self.scratch))
            }
            Str::Scratch => visitor.visit_str(&self.scratch),
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

impl<'de> Deserializer<'de> for &mut Reader<'de> {
    type Error = NotPlain;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Res<V::Value> {
        match self.peek()?.ok_or(NotPlain)? {
            b'"' => {
                self.bump();
                let s = self.string()?;
                self.visit_string(s, visitor)
            }
            b'{' => {
                self.bump();
                self.members(|m| visitor.visit_map(m))
            }
            b't' => {
                self.bump();
                self.word(b"rue")?;
                visitor.visit_bool(true)
            }
            b'f' => {
                self.bump();
                self.word(b"alse")?;
                visitor.visit_bool(false)
            }
            b'n' => {
                self.bump();
                self.word(b"ull")?;
                visitor.visit_unit()
            }
            b'-' | b'0'..=b'9' => match integer(self.number()?)? {
                Integer::U(v) => visitor.visit_u64(v),
                Integer::I(v) => visitor.visit_i64(v),
            },
            // Arrays (which a derived struct would take field by position; a sequence is read
            // by `deserialize_seq`) and anything else are left to the plain reading.
            _ => Err(NotPlain),
        }
    }

    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Res<V::Value> {
        if self.peek()? == Some(b'n') {
            self.bump();
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

    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        name: &'static str,
        visitor: V,
    ) -> Res<V::Value> {
        if name != IN_STRING {
            return visitor.visit_newtype_struct(self);
        }
        // A document inside a string of the body: read at the string's level, then the
        // string's closing quote. (No document inside a document's string.)
        if self.level != Level::Body || self.peek()? != Some(b'"') {
            return Err(NotPlain);
        }
        self.bump();
        self.level = Level::InString;
        // The plain reading parses the document on its own: its nesting counts from zero.
        let outer = std::mem::take(&mut self.depth);
        let value = visitor.visit_newtype_struct(&mut *self)?;
        self.depth = outer;
        if self.peek()?.is_some() {
            return Err(NotPlain);
        }
        self.level = Level::Body;
        // The raw quote `peek` stopped at.
        if self.bytes().get(self.pos) != Some(&b'"') {
            return Err(NotPlain);
        }
        self.pos += 1;
        Ok(value)
    }

    /// An array, for a type that asks for a sequence (a `Vec`, a sequence visitor). A type that
    /// reads any value ([`deserialize_any`](Deserializer::deserialize_any)), a derived struct
    /// among them, still leaves an array to the plain reading.
    fn deserialize_seq<V: Visitor<'de>>(self, visitor: V) -> Res<V::Value> {
        if self.peek()? != Some(b'[') {
            return self.deserialize_any(visitor);
        }
        self.bump();
        self.members(|m| visitor.visit_seq(m))
    }

    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string
        bytes byte_buf unit unit_struct tuple
        tuple_struct map struct enum identifier
    }
}

/// The members of an object, or the elements of an array, read one by one.
struct Members<'r, 'de> {
    de: &'r mut Reader<'de>,
    first: bool,
    /// The closing brace or bracket was read.
    done: bool,
}

impl Members<'_, '_> {
    /// Past the comma before the next member: `false` at the closing `close` (then read).
    #[inline]
    fn next(&mut self, close: u8) -> Res<bool> {
        match self.de.peek()? {
            Some(b) if b == close => {
                self.de.bump();
                self.done = true;
                return Ok(false);
            }
            Some(b',') if !self.first => self.de.bump(),
            _ if self.first => {}
            _ => return Err(NotPlain),
        }
        self.first = false;
        Ok(true)
    }
}

impl<'de> de::SeqAccess<'de> for Members<'_, 'de> {
    type Error = NotPlain;

    fn next_element_seed<T: DeserializeSeed<'de>>(&mut self, seed: T) -> Res<Option<T::Value>> {
        if !self.next(b']')? {
            return Ok(None);
        }
        seed.deserialize(&mut *self.de).map(Some)
    }
}

impl<'de> MapAccess<'de> for Members<'_, 'de> {
    type Error = NotPlain;

    fn next_key_seed<K: DeserializeSeed<'de>>(&mut self, seed: K) -> Res<Option<K::Value>> {
        if !self.next(b'}')? {
            return Ok(None);
        }
        self.de.expect(b'"')?;
        let key = self.de.string()?;
        self.de.expect(b':')?;
        match key {
            Str::Text(a, b) => {
                seed.deserialize(de::value::BorrowedStrDeserializer::<NotPlain>::new(
                    self.de.src.get(a..b).ok_or(NotPlain)?,
                ))
            }
            Str::Scratch => seed.deserialize(de::value::StrDeserializer::<NotPlain>::new(
                &self.de.scratch,
            )),
        }
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
    use serde::de::DeserializeOwned;
    use serde_json::value::RawValue;
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

    /// The one-pass reading of the document in the string `lit`, as the value of a body's
    /// [`InString`] field.
    fn fast<T: DeserializeOwned>(lit: &RawValue) -> Option<T> {
        #[derive(serde::Deserialize)]
        struct Body<T> {
            d: InString<T>,
        }
        let body = format!(r#"{{"d":{}}}"#, lit.get());
        from_str::<Body<T>>(&body).map(|b| b.d.0)
    }

    /// Where the fast path answers, it agrees with the plain reading.
    fn agree<T: DeserializeOwned + PartialEq + fmt::Debug>(lit: &RawValue) -> Option<T> {
        let fast = fast::<T>(lit);
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
            fast(&literal(r#"{"k\u00e9y":"v","b":"w"}"#)).expect("a map");
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
        assert!(fast::<Doc>(&obj).is_none());
        // A lone surrogate in the literal itself.
        let lit = RawValue::from_string(r#""{\"id\":\"\ud800\"}""#.to_string()).unwrap();
        assert!(fast::<Doc>(&lit).is_none());
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
        // Values built from the document: serde_json reads 127 levels and refuses 128.
        for levels in [MAX_DEPTH - 1, MAX_DEPTH] {
            let doc = format!("{}1{}", r#"{"a":"#.repeat(levels), "}".repeat(levels));
            let fast = agree::<serde_json::Value>(&literal(&doc));
            assert_eq!(fast.is_some(), levels < MAX_DEPTH, "{levels}");
            assert_eq!(
                plain::<serde_json::Value>(&literal(&doc)).is_some(),
                levels < MAX_DEPTH
            );
        }
    }

    #[derive(Debug, PartialEq, serde::Deserialize)]
    struct Listed {
        id: String,
        #[serde(default)]
        list: Vec<User>,
        #[serde(default)]
        tags: Option<Vec<String>>,
    }

    /// Sequences (a `Vec`) are read, empty, nested in objects and with escaped strings, as
    /// serde_json reads them; broken arrays and arrays where a struct is read are left.
    #[test]
    fn sequences_are_read_as_serde_json_reads_them() {
        let read = [
            r#"{"id":"m","list":[]}"#,
            r#"{"id":"m","list":[{"id":"u1"},{"id":"u\"2\"","role":"r"}],"tags":["a","\u00e9",""]}"#,
            r#"{"id":"m","tags":null,"list":[ {"id":"u1"} , {"id":"u2","x":[1,[2]]} ]}"#,
            r#"{"id":"m","tags":[]}"#,
        ];
        for doc in read {
            let got: Listed = agree(&literal(doc)).unwrap_or_else(|| panic!("{doc}"));
            assert_eq!(got.id, "m");
        }
        let left = [
            r#"{"id":"m","list":[{"id":"u1"},]}"#,
            r#"{"id":"m","list":[,{"id":"u1"}]}"#,
            r#"{"id":"m","list":[{"id":"u1"} {"id":"u2"}]}"#,
            r#"{"id":"m","list":[{"id":"u1"}"#,
            r#"{"id":"m","list":{"id":"u1"}}"#,
            r#"{"id":"m","list":[["u1"]]}"#,
            r#"{"id":"m","tags":[1]}"#,
            r#"{"id":"m","tags":["a\ud800"]}"#,
        ];
        for doc in left {
            assert!(agree::<Listed>(&literal(doc)).is_none(), "{doc}");
        }
        let deep = format!(
            r#"{{"id":"m","tags":{}"a"{}}}"#,
            "[".repeat(MAX_DEPTH + 1),
            "]".repeat(MAX_DEPTH + 1)
        );
        assert!(agree::<Listed>(&literal(&deep)).is_none());
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
        // A number out of `f64`'s range in a skipped field: both readings check its syntax only.
        let doc = r#"{"id":"a","x":1e400,"y":-1e-400}"#;
        assert_eq!(agree::<Doc>(&literal(doc)).expect(doc).id, "a");
        // The strict reading leaves every skipped fraction or exponent to the plain reading,
        // and takes skipped integers of any length it reads.
        for doc in [
            r#"{"id":"a","x":1e400}"#,
            r#"{"id":"a","x":[{"y":1.5}]}"#,
            r#"{"id":"a","x":2E3}"#,
        ] {
            assert!(from_str_strict::<Doc>(doc).is_none(), "{doc}");
            assert!(from_str::<Doc>(doc).is_some(), "{doc}");
        }
        let doc = r#"{"id":"a","x":[-12,{"y":123456789012345678901234567890}],"n":3}"#;
        let strict: Doc = from_str_strict(doc).expect(doc);
        assert_eq!((strict.id.as_str(), strict.n), ("a", Some(3)));
        assert!(serde_json::from_str::<serde_json::Value>(doc).is_ok());
        // Over `i64::MAX` as u64: the field's own range check refuses it, in both readings.
        assert!(agree::<Doc>(&literal(r#"{"id":"a","n":9223372036854775808}"#)).is_none());
        assert!(agree::<Doc>(&literal(r#"{"id":"a","u":4294967296}"#)).is_none());
    }

    #[test]
    fn string_ends_are_found_eight_bytes_at_a_time() {
        let plain = |s: &[u8]| s.iter().position(|&b| b == b'"' || b == b'\\' || b < 0x20);
        let mut cases: Vec<Vec<u8>> = vec![b"".to_vec(), b"abc".to_vec(), "é🙏 très".into()];
        for len in 0..20 {
            for stop in [b'"', b'\\', 0x00, 0x1f, b'\n'] {
                for at in 0..=len {
                    let mut v: Vec<u8> = "aé\x7f ~".bytes().cycle().take(len).collect();
                    v.insert(at, stop);
                    // Bytes next to the stops' values: 0x20, 0x21, 0x23, 0x5b, 0x5d, 0xa2.
                    v.extend_from_slice(&[0x20, 0x21, 0x23, 0x5b, 0x5d, 0xa2, stop]);
                    cases.push(v);
                }
            }
        }
        for c in &cases {
            assert_eq!(string_end(c), plain(c), "{c:?}");
        }
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

    #[derive(Debug, Clone, PartialEq, serde::Deserialize)]
    struct Envelope<'a> {
        #[serde(borrow)]
        event: std::borrow::Cow<'a, str>,
        #[serde(default)]
        at: Option<i64>,
        content: InString<Doc>,
    }

    /// The plain reading of an [`Envelope`]: the body, then the content's string.
    fn plain_envelope(body: &str) -> Option<(String, Option<i64>, Doc)> {
        #[derive(serde::Deserialize)]
        struct Plain {
            event: String,
            #[serde(default)]
            at: Option<i64>,
            content: String,
        }
        let p: Plain = serde_json::from_str(body).ok()?;
        Some((p.event, p.at, serde_json::from_str(&p.content).ok()?))
    }

    /// Where the body reading answers, it agrees with the plain one.
    fn agree_body(body: &str) -> Option<Envelope<'_>> {
        let fast = from_str::<Envelope<'_>>(body);
        if let Some(f) = &fast {
            assert_eq!(
                Some((f.event.to_string(), f.at, f.content.0.clone())),
                plain_envelope(body),
                "{body}"
            );
        }
        fast
    }

    const BODY: &str = r#"{"event":"im_receive_msg","x":[1,{"y":"\u00e9\"q"}],"content":"{\"id\":\"m-1\",\"n\":-42,\"user\":{\"id\":\"u1\",\"role\":null},\"text\":\"say \\\"hi\\\"\\n \\u00e9 \\ud83d\\ude4f \\\\ end\",\"extra\":[1,2.5e3,{\"a\":[]},null,false,\"x\"],\"ok\":true}", "at": 1767225600}"#;

    #[test]
    fn bodies_with_documents_in_strings() {
        let env = agree_body(BODY).expect("read");
        assert!(matches!(
            env.event,
            std::borrow::Cow::Borrowed("im_receive_msg")
        ));
        assert_eq!(env.at, Some(1_767_225_600));
        assert_eq!(
            env.content.0.text.as_deref(),
            Some("say \"hi\"\n é 🙏 \\ end")
        );
        for body in [
            // The content as an object, twice, missing; a raw quote ending it early.
            r#"{"event":"e","content":{"id":"m"}}"#,
            r#"{"event":"e","content":"{\"id\":\"m\"}","content":"{\"id\":\"m\"}"}"#,
            r#"{"event":"e"}"#,
            r#"{"event":"e","content":"{\"id\":"m"}"}"#,
            // A raw control character in the body's string, an escape outside a string.
            "{\"event\":\"e\u{1}\",\"content\":\"{}\"}",
            r#"{\"event\":\"e\"}"#,
            // Something after the document inside the string, or after the body.
            r#"{"event":"e","content":"{\"id\":\"m\"} x"}"#,
            r#"{"event":"e","content":"{\"id\":\"m\"}"} x"#,
        ] {
            assert!(agree_body(body).is_none(), "{body}");
        }
        let spaced = r#" { "event" : "e" , "content" : " { \"id\" : \"m\" } " } "#;
        assert_eq!(agree_body(spaced).expect("spaces").content.0.id, "m");
        // Only this module's reader reads `InString`.
        assert!(serde_json::from_str::<Envelope<'_>>(BODY).is_err());
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
            // Read as a text of its own, strictly: only where a tree of it is built too.
            if let Some(strict) = from_str_strict::<Doc>(&m) {
                proptest::prop_assert!(serde_json::from_str::<serde_json::Value>(&m).is_ok(), "{}", m);
                proptest::prop_assert_eq!(Some(strict), serde_json::from_str::<Doc>(&m).ok());
            }
        }

        /// Any number in a skipped field: the strict reading takes the text only where a tree
        /// of it is built too, and then reads what serde_json reads.
        #[test]
        fn strict_skipped_numbers(
            number in r"-?(0|[1-9][0-9]{0,30})(\.[0-9]{1,3})?([eE][+-]?[0-9]{1,4})?",
            nest in 0usize..3,
        ) {
            let mut value = number.clone();
            for _ in 0..nest {
                value = format!(r#"[{{"k":{value}}}]"#);
            }
            let doc = format!(r#"{{"id":"a","x":{value},"n":7}}"#);
            let tree = serde_json::from_str::<serde_json::Value>(&doc);
            match from_str_strict::<Doc>(&doc) {
                Some(d) => {
                    proptest::prop_assert!(tree.is_ok(), "{}", doc);
                    proptest::prop_assert_eq!(Some(d), serde_json::from_str::<Doc>(&doc).ok());
                }
                None => proptest::prop_assert!(number.contains(['.', 'e', 'E']), "{}", doc),
            }
        }

        /// A body with one character replaced, deleted or doubled: never a panic, and the same
        /// answer as the plain reading whenever it is read.
        #[test]
        fn mutated_bodies(
            at in 0usize..400,
            op in 0u8..3,
            with in proptest::sample::select(vec!['"', '\\', '{', '}', '[', ']', ':', ',', '0', '-', 'e', '.', 'u', 'n', ' ', '\n', 'é']),
        ) {
            let mut m: Vec<char> = BODY.chars().collect();
            let i = at % m.len();
            match op {
                0 => m[i] = with,
                1 => { m.remove(i); }
                _ => m.insert(i, m[i]),
            }
            let m: String = m.into_iter().collect();
            let _ = agree_body(&m);
        }

        /// The word-at-a-time search finds what a byte loop finds.
        #[test]
        fn string_end_matches_a_byte_loop(v in proptest::collection::vec(proptest::num::u8::ANY, 0..64)) {
            let plain = v.iter().position(|&b| b == b'"' || b == b'\\' || b < 0x20);
            proptest::prop_assert_eq!(string_end(&v), plain);
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
