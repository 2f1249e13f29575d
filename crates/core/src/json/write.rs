//! Writing the parts of an event's JSON that cost the most, byte for byte as `serde_json`
//! writes them: strings (a run of characters that need no escape is found eight bytes at a
//! time and copied at once) and `chrono` timestamps (written with digits, not `fmt`).
//!
//! [`Event::write_json`](crate::Event::write_json) uses them; its tests and the ones here hold
//! every output against `serde_json`'s.

use chrono::{DateTime, Datelike as _, Timelike as _, Utc};

use super::nested::string_end;

/// Appends `s` as a JSON string, quoted and escaped as `serde_json` escapes it: `"` and `\`,
/// the control characters below 0x20 (`\b \t \n \f \r` by name, the others as `\u00xx` in
/// lowercase hex), and nothing else.
pub(crate) fn string(out: &mut Vec<u8>, s: &str) {
    let mut rest = s.as_bytes();
    out.reserve(rest.len() + 2);
    out.push(b'"');
    while let Some(at) = string_end(rest) {
        let (plain, tail) = rest.split_at(at);
        out.extend_from_slice(plain);
        let Some((&b, tail)) = tail.split_first() else {
            break;
        };
        escape(out, b);
        rest = tail;
    }
    out.extend_from_slice(rest);
    out.push(b'"');
}

/// One byte that must be escaped (`"`, `\` or below 0x20).
fn escape(out: &mut Vec<u8>, b: u8) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let short = match b {
        b'"' => b'"',
        b'\\' => b'\\',
        0x08 => b'b',
        0x09 => b't',
        0x0a => b'n',
        0x0c => b'f',
        0x0d => b'r',
        _ => {
            out.extend_from_slice(&[
                b'\\',
                b'u',
                b'0',
                b'0',
                HEX[usize::from(b >> 4)],
                HEX[usize::from(b & 0xf)],
            ]);
            return;
        }
    };
    out.extend_from_slice(&[b'\\', short]);
}

/// Appends a UTC timestamp as `chrono` serializes it (`"2026-01-01T00:00:00.508Z"`: the
/// fraction left out when zero, else as milliseconds, microseconds or nanoseconds, the
/// shortest that is exact). Returns `false`, writing nothing, for what this fast path does not
/// write (a year outside 0 to 9999, a leap second): the caller lets `chrono` write those.
pub(crate) fn timestamp(out: &mut Vec<u8>, t: &DateTime<Utc>) -> bool {
    let year = t.year();
    let nano = t.nanosecond();
    if !(0..=9999).contains(&year) || nano >= 1_000_000_000 {
        return false;
    }
    let date = [t.month(), t.day()];
    let time = [t.hour(), t.minute(), t.second()];
    out.reserve(32);
    let mut push = |bytes: &[u8]| out.extend_from_slice(bytes);
    push(b"\"");
    // The year is in 0..=9999 here.
    let year = year.unsigned_abs();
    push(&two(year / 100));
    push(&two(year % 100));
    for v in date {
        push(b"-");
        push(&two(v));
    }
    push(b"T");
    push(&two(time[0]));
    for v in &time[1..] {
        push(b":");
        push(&two(*v));
    }
    if nano != 0 {
        let (value, digits) = if nano.is_multiple_of(1_000_000) {
            (nano / 1_000_000, 3)
        } else if nano.is_multiple_of(1_000) {
            (nano / 1_000, 6)
        } else {
            (nano, 9)
        };
        push(b".");
        let mut frac = [0u8; 9];
        for (i, d) in frac[..digits].iter_mut().enumerate() {
            // Each digit is below 10, so the cast keeps it.
            *d = b'0' + (value / 10u32.pow((digits - 1 - i) as u32) % 10) as u8;
        }
        push(&frac[..digits]);
    }
    push(b"Z\"");
    true
}

/// Two decimal digits of a value below 100.
fn two(v: u32) -> [u8; 2] {
    // Both digits are below 10, so the casts keep them.
    [b'0' + (v / 10 % 10) as u8, b'0' + (v % 10) as u8]
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use proptest::prelude::*;

    fn as_serde(s: &str) -> Vec<u8> {
        serde_json::to_vec(s).unwrap()
    }

    #[test]
    fn strings_are_escaped_as_serde_json_escapes_them() {
        let mut all = String::new();
        for c in (0u8..0x80).map(char::from) {
            all.push(c);
        }
        for s in [
            "",
            "plain",
            "say \"hi\"\n\tto C:\\dir",
            "é🙏 très\u{7f}\u{80}\u{2028}",
            all.as_str(),
        ] {
            let mut out = b"x".to_vec();
            string(&mut out, s);
            assert_eq!(out[1..], as_serde(s), "{s:?}");
        }
    }

    #[test]
    fn timestamps_are_written_as_chrono_writes_them() {
        for (secs, nanos) in [
            (0, 0),
            (1_767_225_600, 0),
            (1_767_225_600, 508_000_000),
            (1_767_225_600, 508_001_000),
            (1_767_225_600, 1),
            (-62_167_219_200, 0),           // 0000-01-01
            (253_402_300_799, 999_999_999), // 9999-12-31T23:59:59.999999999
        ] {
            let t = DateTime::from_timestamp(secs, nanos).unwrap();
            let mut out = Vec::new();
            assert!(timestamp(&mut out, &t));
            assert_eq!(out, serde_json::to_vec(&t).unwrap(), "{t:?}");
        }
        for t in [
            DateTime::from_timestamp(-62_167_219_201, 0).unwrap(), // year -1
            DateTime::from_timestamp(253_402_300_800, 0).unwrap(), // year 10000
            DateTime::from_timestamp(1_767_225_599, 1_500_000_000).unwrap(), // leap second
        ] {
            let mut out = Vec::new();
            assert!(!timestamp(&mut out, &t), "{t:?}");
            assert!(out.is_empty());
        }
    }

    proptest! {
        #[test]
        fn any_string_is_written_as_serde_json_writes_it(s in "\\PC*|[\\x00-\\x7f]*") {
            let mut out = Vec::new();
            string(&mut out, &s);
            prop_assert_eq!(out, as_serde(&s));
        }

        #[test]
        fn any_timestamp_is_written_as_chrono_writes_it(
            secs in -62_167_219_200i64..253_402_300_800,
            nanos in prop_oneof![
                Just(0u32),
                (0u32..1000).prop_map(|m| m * 1_000_000),
                (0u32..1_000_000).prop_map(|u| u * 1_000),
                0u32..1_000_000_000,
            ],
        ) {
            let t = DateTime::from_timestamp(secs, nanos).unwrap();
            let mut out = Vec::new();
            prop_assert!(timestamp(&mut out, &t));
            prop_assert_eq!(out, serde_json::to_vec(&t).unwrap());
        }
    }
}
