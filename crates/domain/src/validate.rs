//! Personal identifiers, parsed once at the edge (`parse`) and masked for display.
//!
//! Owns: GB 11643 ID-card checksum, Chinese phone number formats, masking.
//! Must not: log or format an unmasked value anywhere but `as_str`.
use crate::DomainError;
use serde::{Deserialize, Serialize};
use std::fmt;

/// A resident ID-card number (GB 11643-1999, 18 characters) whose checksum and birth date are valid.
#[derive(Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct IdCardNumber(String);

const ID_WEIGHTS: [u32; 17] = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];
const ID_CHECK: [char; 11] = ['1', '0', 'X', '9', '8', '7', '6', '5', '4', '3', '2'];

impl IdCardNumber {
    pub fn parse(raw: &str) -> Result<Self, DomainError> {
        let s: String = raw.trim().to_ascii_uppercase();
        let err = || DomainError::InvalidIdCard(mask_middle(&s, 4, 4));
        if s.len() != 18 || !s.is_ascii() {
            return Err(err());
        }
        let bytes = s.as_bytes();
        let mut sum = 0u32;
        for (i, w) in ID_WEIGHTS.iter().enumerate() {
            let d = (bytes[i] as char).to_digit(10).ok_or_else(err)?;
            sum += d * w;
        }
        if bytes[17] as char != ID_CHECK[(sum % 11) as usize] {
            return Err(err());
        }
        let birth = &s[6..14];
        if chrono::NaiveDate::parse_from_str(birth, "%Y%m%d").is_err() {
            return Err(err());
        }
        Ok(IdCardNumber(s))
    }

    /// Computes the check character for 17 leading digits (used by the synthetic generator).
    pub fn check_char(first17: &str) -> Option<char> {
        let mut sum = 0u32;
        if first17.len() != 17 {
            return None;
        }
        for (c, w) in first17.chars().zip(ID_WEIGHTS.iter()) {
            sum += c.to_digit(10)? * w;
        }
        Some(ID_CHECK[(sum % 11) as usize])
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// First 4 and last 4 characters visible.
    pub fn masked(&self) -> String {
        mask_middle(&self.0, 4, 4)
    }
}

impl TryFrom<String> for IdCardNumber {
    type Error = DomainError;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        IdCardNumber::parse(&value)
    }
}
impl From<IdCardNumber> for String {
    fn from(v: IdCardNumber) -> String {
        v.0
    }
}
impl fmt::Debug for IdCardNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "IdCardNumber({})", self.masked())
    }
}

/// A Chinese phone number: an 11-digit mobile (1[3-9]xxxxxxxxx) or a landline with area code (0xx-xxxxxxxx).
#[derive(Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct PhoneNumber(String);

impl PhoneNumber {
    pub fn parse(raw: &str) -> Result<Self, DomainError> {
        let mut digits: String = raw.chars().filter(|c| !matches!(c, ' ' | '-')).collect();
        if let Some(rest) = digits.strip_prefix("+86") {
            digits = rest.to_string();
        } else if digits.len() == 13 && digits.starts_with("86") {
            digits = digits[2..].to_string();
        }
        let err = || DomainError::InvalidPhone(mask_middle(&digits, 3, 4));
        if !digits.chars().all(|c| c.is_ascii_digit()) {
            return Err(err());
        }
        let b = digits.as_bytes();
        let mobile = b.len() == 11 && b[0] == b'1' && (b'3'..=b'9').contains(&b[1]);
        let landline = (10..=12).contains(&b.len()) && b[0] == b'0' && b[1] != b'0';
        if mobile || landline {
            Ok(PhoneNumber(digits))
        } else {
            Err(err())
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// First 3 and last 4 digits visible.
    pub fn masked(&self) -> String {
        mask_middle(&self.0, 3, 4)
    }
}

impl TryFrom<String> for PhoneNumber {
    type Error = DomainError;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        PhoneNumber::parse(&value)
    }
}
impl From<PhoneNumber> for String {
    fn from(v: PhoneNumber) -> String {
        v.0
    }
}
impl fmt::Debug for PhoneNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PhoneNumber({})", self.masked())
    }
}

/// Keeps `head` leading and `tail` trailing characters and stars the rest.
pub fn mask_middle(s: &str, head: usize, tail: usize) -> String {
    let chars: Vec<char> = s.chars().collect();
    if chars.len() <= head + tail {
        return "*".repeat(chars.len());
    }
    let mut out = String::with_capacity(chars.len());
    for (i, c) in chars.iter().enumerate() {
        if i < head || i >= chars.len() - tail {
            out.push(*c);
        } else {
            out.push('*');
        }
    }
    out
}

/// An ID-card or a phone number, whichever the text is (the ID-card first).
#[derive(Clone, PartialEq, Eq)]
pub enum PersonalNumber {
    IdCard(IdCardNumber),
    Phone(PhoneNumber),
}

impl PersonalNumber {
    pub fn parse(raw: &str) -> Result<Self, DomainError> {
        IdCardNumber::parse(raw)
            .map(PersonalNumber::IdCard)
            .or_else(|_| PhoneNumber::parse(raw).map(PersonalNumber::Phone))
            .map_err(|_| {
                DomainError::validation(
                    "number",
                    "an ID-card number (18 characters) or a phone number",
                )
            })
    }

    /// The number as parsed (normalised).
    pub fn as_str(&self) -> &str {
        match self {
            PersonalNumber::IdCard(n) => n.as_str(),
            PersonalNumber::Phone(n) => n.as_str(),
        }
    }

    pub fn masked(&self) -> String {
        match self {
            PersonalNumber::IdCard(n) => n.masked(),
            PersonalNumber::Phone(n) => n.masked(),
        }
    }
}

/// Masks personal numbers written inside free text: every run of 11 or more digits (a mobile
/// number, a landline with its area code, an ID-card number, whose last character may be X)
/// keeps 3 leading and 4 trailing characters. The length in characters is unchanged, so
/// spans found in the original text still apply.
pub fn mask_numbers_in_text(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut last = 0;
    for (start, end) in personal_number_runs(text) {
        out.push_str(&text[last..start]);
        out.push_str(&mask_middle(&text[start..end], 3, 4));
        last = end;
    }
    out.push_str(&text[last..]);
    out
}

/// Whether free text holds a personal number (what [`mask_numbers_in_text`] masks).
pub fn has_personal_number(text: &str) -> bool {
    personal_number_runs(text).next().is_some()
}

/// Byte ranges of the personal numbers in free text: runs of digits and dashes with 11 or
/// more digits, an ID number's final X included.
fn personal_number_runs(text: &str) -> impl Iterator<Item = (usize, usize)> + '_ {
    let bytes = text.as_bytes();
    let mut i = 0;
    std::iter::from_fn(move || {
        while i < bytes.len() {
            if !bytes[i].is_ascii_digit() {
                i += 1;
                continue;
            }
            let start = i;
            while i < bytes.len() && (bytes[i].is_ascii_digit() || bytes[i] == b'-') {
                i += 1;
            }
            if i < bytes.len() && matches!(bytes[i], b'X' | b'x') && i - start == 17 {
                i += 1;
            }
            let digits = bytes[start..i]
                .iter()
                .filter(|b| b.is_ascii_digit())
                .count();
            if digits >= 11 {
                return Some((start, i));
            }
        }
        None
    })
}
