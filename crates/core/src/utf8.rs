//! UTF-8 validation of request bodies and other received bytes.
//!
//! A body read as text is validated once, whole, before it is parsed: at 1 KiB of chat text
//! (accents, an emoji), the standard library's check took 7.5 % of RapidPro's inbound path.
//! [`to_str`] gives the same answer with SIMD where the CPU has it (`simdutf8`, which picks
//! its implementation at run time, else the standard library's check).

/// `bytes` as a `str` when they are UTF-8, else `None`: the same answer as
/// `std::str::from_utf8(bytes).ok()`.
///
/// ```
/// use omnichannel_core::utf8::to_str;
///
/// assert_eq!(to_str("très 🙏".as_bytes()), Some("très 🙏"));
/// assert_eq!(to_str(b"\xff"), None);
/// ```
#[inline]
pub fn to_str(bytes: &[u8]) -> Option<&str> {
    simdutf8::basic::from_utf8(bytes).ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// Valid and invalid sequences of every length around the SIMD block sizes.
    #[test]
    fn answers_as_the_standard_library() {
        let cases: Vec<Vec<u8>> = vec![
            vec![],
            b"plain ascii".to_vec(),
            "é".repeat(40).into_bytes(),
            "🙏".repeat(33).into_bytes(),
            vec![0xC0, 0x80],             // overlong
            vec![0xED, 0xA0, 0x80],       // surrogate
            vec![0xF4, 0x90, 0x80, 0x80], // beyond U+10FFFF
            vec![0xE2, 0x82],             // truncated
            vec![0x80],                   // lone continuation
        ];
        for base in cases {
            for pad in [0usize, 1, 15, 16, 31, 32, 63, 64, 65] {
                for at_end in [false, true] {
                    let mut b = vec![b'a'; pad];
                    if at_end {
                        b.extend_from_slice(&base);
                    } else {
                        b.splice(0..0, base.iter().copied());
                    }
                    assert_eq!(to_str(&b), std::str::from_utf8(&b).ok(), "{b:?}");
                }
            }
        }
    }

    proptest! {
        #[test]
        fn any_bytes(b in proptest::collection::vec(any::<u8>(), 0..300)) {
            prop_assert_eq!(to_str(&b), std::str::from_utf8(&b).ok());
        }

        /// Text with one byte changed: mostly valid text, near the edge of validity.
        #[test]
        fn text_with_a_byte_changed(s in "\\PC{0,200}", at in any::<usize>(), byte in any::<u8>()) {
            let mut b = s.into_bytes();
            if !b.is_empty() {
                let i = at % b.len();
                b[i] = byte;
            }
            prop_assert_eq!(to_str(&b), std::str::from_utf8(&b).ok());
        }
    }
}
