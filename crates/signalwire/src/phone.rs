//! Phone numbers in E.164 (`+` and up to 15 digits), with an explicit default region.
//!
//! SignalWire's `To` and `From` are E.164. Hosts often hold numbers as people typed them
//! (`(555) 444-3210`, `07911 123456`); [`to_e164`] turns them into E.164 using a default
//! region the host chooses, and refuses with a typed [`PhoneError`] what it cannot normalize.
//! There is no silent US assumption: a national number without a default region is an error.
//!
//! The helper is self-contained (no numbering-plan database). It knows the regions of
//! [`Region::ALL`]: their country calling code, trunk prefix, international call prefix and the
//! length of their national significant numbers. For national North American numbers (US,
//! CA) it also checks that the area code and the exchange do not start with 0 or 1. A number
//! already in E.164 is checked for its form and length only (the provider has the final
//! word, and test ranges such as `+1 555 123 xxxx` stay usable). It does
//! not know which number ranges are assigned, nor mobile from fixed lines: the provider
//! refuses unassigned numbers (SignalWire error 21211).
//!
//! ```
//! use omnichannel_signalwire::phone::{to_e164, PhoneError, Region};
//!
//! assert_eq!(to_e164("(555) 444-3210", Some(Region::US)).unwrap(), "+15554443210");
//! assert_eq!(to_e164("07911 123456", Some(Region::GB)).unwrap(), "+447911123456");
//! assert_eq!(to_e164("+33 6 12 34 56 78", None).unwrap(), "+33612345678");
//! assert_eq!(to_e164("5554443210", None), Err(PhoneError::NoDefaultRegion));
//! ```

use std::fmt;
use std::str::FromStr;

/// Most digits an E.164 number has (country code included).
pub const MAX_E164_DIGITS: usize = 15;
/// Fewest digits accepted for an E.164 number of a country this module does not know.
pub const MIN_E164_DIGITS: usize = 7;
/// Longest input looked at (longer is refused before any work).
pub const MAX_INPUT_CHARS: usize = 64;

/// A region whose national numbers [`to_e164`] can normalize.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Region {
    /// United States (+1, NANP).
    US,
    /// Canada (+1, NANP).
    CA,
    /// United Kingdom (+44).
    GB,
    /// Ireland (+353).
    IE,
    /// Germany (+49).
    DE,
    /// France (+33).
    FR,
    /// Spain (+34).
    ES,
    /// Italy (+39; the leading 0 of fixed lines is part of the number).
    IT,
    /// Netherlands (+31).
    NL,
    /// Australia (+61).
    AU,
    /// New Zealand (+64).
    NZ,
    /// Mexico (+52).
    MX,
    /// India (+91).
    IN,
    /// Japan (+81).
    JP,
}

struct Plan {
    iso: &'static str,
    country_code: &'static str,
    /// Dialled before a national number inside the country ("" when there is none).
    trunk_prefix: &'static str,
    /// Dialled before a country code when calling abroad.
    international_prefix: &'static str,
    /// Length range of the national significant number.
    nsn_len: (usize, usize),
    nanp: bool,
}

const fn plan(
    iso: &'static str,
    country_code: &'static str,
    trunk_prefix: &'static str,
    international_prefix: &'static str,
    nsn_len: (usize, usize),
    nanp: bool,
) -> Plan {
    Plan {
        iso,
        country_code,
        trunk_prefix,
        international_prefix,
        nsn_len,
        nanp,
    }
}

impl Region {
    /// Every supported region.
    pub const ALL: [Region; 14] = [
        Region::US,
        Region::CA,
        Region::GB,
        Region::IE,
        Region::DE,
        Region::FR,
        Region::ES,
        Region::IT,
        Region::NL,
        Region::AU,
        Region::NZ,
        Region::MX,
        Region::IN,
        Region::JP,
    ];

    fn plan(self) -> Plan {
        match self {
            Region::US => plan("US", "1", "1", "011", (10, 10), true),
            Region::CA => plan("CA", "1", "1", "011", (10, 10), true),
            Region::GB => plan("GB", "44", "0", "00", (9, 10), false),
            Region::IE => plan("IE", "353", "0", "00", (7, 9), false),
            Region::DE => plan("DE", "49", "0", "00", (6, 13), false),
            Region::FR => plan("FR", "33", "0", "00", (9, 9), false),
            Region::ES => plan("ES", "34", "", "00", (9, 9), false),
            Region::IT => plan("IT", "39", "", "00", (6, 11), false),
            Region::NL => plan("NL", "31", "0", "00", (9, 9), false),
            Region::AU => plan("AU", "61", "0", "0011", (9, 9), false),
            Region::NZ => plan("NZ", "64", "0", "00", (8, 10), false),
            Region::MX => plan("MX", "52", "", "00", (10, 10), false),
            Region::IN => plan("IN", "91", "0", "00", (10, 10), false),
            Region::JP => plan("JP", "81", "0", "010", (9, 10), false),
        }
    }

    /// The ISO 3166-1 alpha-2 code (`US`, `GB`, ...).
    pub fn iso_code(self) -> &'static str {
        self.plan().iso
    }

    /// The country calling code, without `+`.
    pub fn country_code(self) -> &'static str {
        self.plan().country_code
    }
}

impl fmt::Display for Region {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.iso_code())
    }
}

impl FromStr for Region {
    type Err = PhoneError;

    /// An ISO 3166-1 alpha-2 code, any case (`us`, `GB`); `UK` is taken as `GB`.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let s = s.trim();
        if s.eq_ignore_ascii_case("UK") {
            return Ok(Region::GB);
        }
        Region::ALL
            .into_iter()
            .find(|r| r.iso_code().eq_ignore_ascii_case(s))
            .ok_or_else(|| PhoneError::UnsupportedRegion {
                region: s.chars().take(8).collect(),
            })
    }
}

/// Why a phone number could not be normalized. Each variant says what to fix.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PhoneError {
    /// Nothing but blanks and punctuation.
    #[error("the phone number is empty")]
    Empty,
    /// The input is longer than any phone number written out.
    #[error("the phone number is longer than {MAX_INPUT_CHARS} characters")]
    TooLong,
    /// A character that is neither a digit nor the usual punctuation (space, `-`, `.`, `/`,
    /// parentheses), such as a letter or an extension marker.
    #[error("the phone number has an invalid character at position {position}")]
    InvalidCharacter {
        /// Character index (0-based) of the first invalid character.
        position: usize,
    },
    /// `+` somewhere other than at the start.
    #[error("`+` may only start the phone number")]
    MisplacedPlus,
    /// A national number, and no default region to read it in: give the number in E.164
    /// (`+...`) or configure a default region.
    #[error("the phone number is not in E.164 (`+` and country code) and no default region is set")]
    NoDefaultRegion,
    /// A region this helper has no numbering data for.
    #[error(
        "region `{region}` is not supported for phone number normalization; give numbers in E.164"
    )]
    UnsupportedRegion {
        /// The region as given (at most 8 characters).
        region: String,
    },
    /// A country code cannot start with 0.
    #[error("the country code cannot start with 0")]
    InvalidCountryCode,
    /// The number of digits does not fit the country's numbering plan.
    #[error("{digits} digits do not make a valid number for {country} (expected {expected})")]
    InvalidLength {
        /// The region (ISO code) or `+<country code>`.
        country: String,
        /// Digits found (national significant number, or all digits for E.164).
        digits: usize,
        /// The accepted lengths, for example `10` or `9 to 10`.
        expected: String,
    },
    /// A North American number whose area code or exchange starts with 0 or 1.
    #[error("not a valid North American number: the {part} cannot start with 0 or 1")]
    InvalidNanp {
        /// `area code` or `exchange`.
        part: &'static str,
    },
}

fn expected_len((min, max): (usize, usize)) -> String {
    if min == max {
        min.to_string()
    } else {
        format!("{min} to {max}")
    }
}

/// Digits of the input, and whether it began with `+`.
fn digits_of(input: &str) -> Result<(bool, String), PhoneError> {
    if input.chars().count() > MAX_INPUT_CHARS {
        return Err(PhoneError::TooLong);
    }
    let trimmed = input.trim();
    let mut plus = false;
    let mut digits = String::with_capacity(trimmed.len());
    for (i, c) in trimmed.chars().enumerate() {
        match c {
            '0'..='9' => digits.push(c),
            '+' if i == 0 => plus = true,
            '+' => return Err(PhoneError::MisplacedPlus),
            ' ' | '-' | '.' | '/' | '(' | ')' | '\u{a0}' => {}
            _ => {
                // Position in the original input (leading blanks count).
                let lead = input.chars().take_while(|c| c.is_whitespace()).count();
                return Err(PhoneError::InvalidCharacter { position: lead + i });
            }
        }
    }
    if digits.is_empty() {
        return Err(PhoneError::Empty);
    }
    Ok((plus, digits))
}

fn check_nanp(nsn: &str) -> Result<(), PhoneError> {
    let b = nsn.as_bytes();
    if b.first().is_some_and(|d| *d < b'2') {
        return Err(PhoneError::InvalidNanp { part: "area code" });
    }
    if b.get(3).is_some_and(|d| *d < b'2') {
        return Err(PhoneError::InvalidNanp { part: "exchange" });
    }
    Ok(())
}

/// Checks an international number (digits after `+` or an international prefix).
fn international(digits: &str) -> Result<String, PhoneError> {
    if digits.starts_with('0') {
        return Err(PhoneError::InvalidCountryCode);
    }
    // Country codes are prefix-free: at most one known plan matches.
    let known = Region::ALL
        .into_iter()
        .map(Region::plan)
        .find(|p| digits.starts_with(p.country_code));
    if let Some(p) = known {
        let nsn = &digits[p.country_code.len()..];
        if nsn.len() < p.nsn_len.0 || nsn.len() > p.nsn_len.1 {
            return Err(PhoneError::InvalidLength {
                country: format!("+{}", p.country_code),
                digits: nsn.len(),
                expected: expected_len(p.nsn_len),
            });
        }
    } else if digits.len() < MIN_E164_DIGITS || digits.len() > MAX_E164_DIGITS {
        return Err(PhoneError::InvalidLength {
            country: "E.164".into(),
            digits: digits.len(),
            expected: expected_len((MIN_E164_DIGITS, MAX_E164_DIGITS)),
        });
    }
    Ok(format!("+{digits}"))
}

/// Normalizes a phone number to E.164.
///
/// - `+` followed by digits (punctuation allowed): the length is checked (per country for
///   the countries of [`Region::ALL`], 7 to 15 digits otherwise) and `+digits` returned; the
///   default region is not used.
/// - Starting with the default region's international call prefix (`00`, `011` from the US,
///   `0011` from Australia): read as an international number.
/// - Anything else is a national number of `default_region`: its trunk prefix (`0`, or `1` in
///   North America) is removed when present, the length is checked, and the country code
///   is added. Without a default region this is [`PhoneError::NoDefaultRegion`].
pub fn to_e164(input: &str, default_region: Option<Region>) -> Result<String, PhoneError> {
    let (plus, digits) = digits_of(input)?;
    if plus {
        return international(&digits);
    }
    let region = default_region.ok_or(PhoneError::NoDefaultRegion)?;
    let p = region.plan();
    if let Some(rest) = digits.strip_prefix(p.international_prefix)
        && !rest.is_empty()
        && !rest.starts_with('0')
    {
        return international(rest);
    }
    let len_ok = |n: &str| n.len() >= p.nsn_len.0 && n.len() <= p.nsn_len.1;
    let nsn = match digits.strip_prefix(p.trunk_prefix) {
        Some(stripped) if !p.trunk_prefix.is_empty() && len_ok(stripped) => stripped,
        _ => digits.as_str(),
    };
    if !len_ok(nsn) {
        return Err(PhoneError::InvalidLength {
            country: p.iso.to_string(),
            digits: nsn.len(),
            expected: expected_len(p.nsn_len),
        });
    }
    if p.nanp {
        check_nanp(nsn)?;
    }
    Ok(format!("+{}{}", p.country_code, nsn))
}

/// Whether `s` is already a well-formed E.164 number (`+` and 7 to 15 digits, no punctuation,
/// lengths of known countries checked).
pub fn is_e164(s: &str) -> bool {
    s.strip_prefix('+').is_some_and(|d| {
        !d.is_empty() && d.bytes().all(|b| b.is_ascii_digit()) && international(d).is_ok()
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn webhookdb_cases_with_explicit_region() {
        // The cases of WebhookDB's phone_number_spec (spec section 5), with the region explicit.
        let us = Some(Region::US);
        assert_eq!(to_e164("5554443210", us).unwrap(), "+15554443210");
        assert_eq!(to_e164("(555) 444-3210", us).unwrap(), "+15554443210");
        assert_eq!(to_e164("+1 (555) 444-3210", us).unwrap(), "+15554443210");
        assert_eq!(to_e164("+15554443210", us).unwrap(), "+15554443210");
        assert!(matches!(
            to_e164("555444321", us),
            Err(PhoneError::InvalidLength { digits: 9, .. })
        ));
        assert!(matches!(
            to_e164("notaphonenumber", us),
            Err(PhoneError::InvalidCharacter { position: 0 })
        ));
        assert_eq!(to_e164("", us), Err(PhoneError::Empty));
        assert_eq!(to_e164(" - ", us), Err(PhoneError::Empty));
    }

    #[test]
    fn no_silent_us_assumption() {
        assert_eq!(
            to_e164("5554443210", None),
            Err(PhoneError::NoDefaultRegion)
        );
        assert_eq!(
            to_e164("15554443210", None),
            Err(PhoneError::NoDefaultRegion)
        );
        assert_eq!(to_e164("+15554443210", None).unwrap(), "+15554443210");
    }

    #[test]
    fn regions() {
        assert_eq!(
            to_e164("1-555-444-3210", Some(Region::CA)).unwrap(),
            "+15554443210"
        );
        assert_eq!(
            to_e164("020 7946 0018", Some(Region::GB)).unwrap(),
            "+442079460018"
        );
        assert_eq!(
            to_e164("06 12 34 56 78", Some(Region::FR)).unwrap(),
            "+33612345678"
        );
        assert_eq!(
            to_e164("06 1234 5678", Some(Region::IT)).unwrap(),
            "+390612345678"
        );
        assert_eq!(
            to_e164("612 345 678", Some(Region::ES)).unwrap(),
            "+34612345678"
        );
        assert_eq!(
            to_e164("0412 345 678", Some(Region::AU)).unwrap(),
            "+61412345678"
        );
        assert_eq!(
            to_e164("030 1234567", Some(Region::DE)).unwrap(),
            "+49301234567"
        );
        // International prefixes of the region.
        assert_eq!(
            to_e164("0044 20 7946 0018", Some(Region::FR)).unwrap(),
            "+442079460018"
        );
        assert_eq!(
            to_e164("011 44 20 7946 0018", Some(Region::US)).unwrap(),
            "+442079460018"
        );
        assert_eq!(
            to_e164("0011 44 20 7946 0018", Some(Region::AU)).unwrap(),
            "+442079460018"
        );
    }

    #[test]
    fn refusals() {
        assert_eq!(
            to_e164("(055) 444-3210", Some(Region::US)),
            Err(PhoneError::InvalidNanp { part: "area code" })
        );
        assert_eq!(
            to_e164("555 144 3210", Some(Region::US)),
            Err(PhoneError::InvalidNanp { part: "exchange" })
        );
        assert_eq!(to_e164("+1 555 444 3210 ext 5", None).unwrap_err(), {
            PhoneError::InvalidCharacter { position: 16 }
        });
        assert_eq!(
            to_e164("1+5554443210", None),
            Err(PhoneError::MisplacedPlus)
        );
        assert_eq!(
            to_e164("+0123456789", None),
            Err(PhoneError::InvalidCountryCode)
        );
        assert!(matches!(
            to_e164("+1234567890123456", None),
            Err(PhoneError::InvalidLength { .. })
        ));
        assert!(matches!(
            to_e164("+4479", None),
            Err(PhoneError::InvalidLength { .. })
        ));
        assert!(matches!(
            to_e164("+999123", None),
            Err(PhoneError::InvalidLength { .. })
        ));
        assert_eq!(to_e164(&"1".repeat(100), None), Err(PhoneError::TooLong));
        assert!("ZZ".parse::<Region>().is_err());
        assert_eq!("uk".parse::<Region>().unwrap(), Region::GB);
        assert_eq!("us".parse::<Region>().unwrap(), Region::US);
    }

    #[test]
    fn e164_check() {
        assert!(is_e164("+15554443210"));
        assert!(!is_e164("+1 555 444 3210"));
        assert!(!is_e164("15554443210"));
        assert!(!is_e164("+"));
        assert!(is_e164("+2901234"));
        // E.164 input is checked for form and length only.
        assert_eq!(to_e164("+1 555 123 4567", None).unwrap(), "+15551234567");
    }
}
