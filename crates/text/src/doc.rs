//! The text being read: the original, its normalised characters, and byte ↔ char offsets.

use crate::{norm, Mention, Span};

/// One text prepared for the extractors.
#[derive(Debug)]
pub struct Doc<'a> {
    original: &'a str,
    /// Byte offset of each original character, plus the end.
    original_bytes: Vec<usize>,
    /// Normalised characters (one per original character).
    pub chars: Vec<char>,
    /// The normalised text as a string, for automata.
    pub text: String,
    /// Char index of each byte of `text` (plus the end).
    byte_to_char: Vec<u32>,
    pub truncated: bool,
}

impl<'a> Doc<'a> {
    pub fn new(original: &'a str, max_chars: usize) -> Doc<'a> {
        let mut original_bytes = Vec::with_capacity(original.len().min(max_chars * 3) + 1);
        let mut chars = Vec::with_capacity(original_bytes.capacity());
        let mut truncated = false;
        for (i, (b, c)) in original.char_indices().enumerate() {
            if i >= max_chars {
                truncated = true;
                break;
            }
            original_bytes.push(b);
            chars.push(norm::normalize_char(c));
        }
        let end = if truncated {
            original_bytes.last().copied().unwrap_or(0)
                + original[original_bytes.last().copied().unwrap_or(0)..]
                    .chars()
                    .next()
                    .map_or(0, char::len_utf8)
        } else {
            original.len()
        };
        original_bytes.push(end);
        let text: String = chars.iter().collect();
        let mut byte_to_char = Vec::with_capacity(text.len() + 1);
        for (ci, c) in chars.iter().enumerate() {
            for _ in 0..c.len_utf8() {
                byte_to_char.push(ci as u32);
            }
        }
        byte_to_char.push(chars.len() as u32);
        Doc {
            original,
            original_bytes,
            chars,
            text,
            byte_to_char,
            truncated,
        }
    }

    pub fn len(&self) -> usize {
        self.chars.len()
    }
    pub fn is_empty(&self) -> bool {
        self.chars.is_empty()
    }

    /// Character index of a byte offset of the normalised text.
    pub fn char_at_byte(&self, byte: usize) -> usize {
        self.byte_to_char
            .get(byte)
            .map_or(self.chars.len(), |c| *c as usize)
    }

    /// The original text of a span.
    pub fn original(&self, span: Span) -> &'a str {
        let s = self.original_bytes.get(span.start).copied().unwrap_or(0);
        let e = self
            .original_bytes
            .get(span.end)
            .copied()
            .unwrap_or(self.original.len());
        self.original.get(s..e).unwrap_or("")
    }

    pub fn mention(&self, start: usize, end: usize) -> Mention {
        let span = Span::new(start, end);
        Mention {
            span,
            text: self.original(span).to_string(),
        }
    }

    /// The normalised characters of a range as a string.
    pub fn slice(&self, start: usize, end: usize) -> String {
        self.chars[start.min(self.len())..end.min(self.len())]
            .iter()
            .collect()
    }

    pub fn at(&self, i: usize) -> Option<char> {
        self.chars.get(i).copied()
    }

    /// Whether the normalised text has `word` at char index `i`.
    pub fn has_at(&self, i: usize, word: &str) -> bool {
        (i..)
            .zip(word.chars())
            .all(|(j, c)| self.chars.get(j) == Some(&c))
    }

    /// Whether `word` ends right before char index `i`.
    pub fn has_before(&self, i: usize, word: &str) -> bool {
        let n = word.chars().count();
        i >= n && self.has_at(i - n, word)
    }

    /// The first of `words` found ending right before `i`.
    pub fn any_before<'w>(&self, i: usize, words: &[&'w str]) -> Option<&'w str> {
        words.iter().copied().find(|w| self.has_before(i, w))
    }

    pub fn any_at<'w>(&self, i: usize, words: &[&'w str]) -> Option<&'w str> {
        words.iter().copied().find(|w| self.has_at(i, w))
    }

    /// The sentence (between 。！？；\n) around char `i`.
    pub fn sentence_bounds(&self, i: usize) -> (usize, usize) {
        let stop = |c: &char| matches!(c, '。' | '!' | '?' | ';' | '\n' | '！' | '？' | '；');
        let start = self.chars[..i.min(self.len())]
            .iter()
            .rposition(stop)
            .map_or(0, |p| p + 1);
        let end = self.chars[i.min(self.len())..]
            .iter()
            .position(stop)
            .map_or(self.len(), |p| i + p);
        (start, end)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn offsets_survive_normalisation_and_truncation() {
        let d = Doc::new("ａ與b😀c", 4);
        assert!(d.truncated);
        assert_eq!(d.len(), 4);
        assert_eq!(d.original(Span::new(1, 4)), "與b😀");
        assert_eq!(d.slice(0, 2), "a与");
        assert_eq!(d.char_at_byte(d.text.len()), 4);
    }
}

/// `fn $name() -> &'static Words`: a word index built once from constant lists.
macro_rules! word_index {
    ($(#[$m:meta])* $name:ident: $($list:expr),+) => {
        $(#[$m])*
        fn $name() -> &'static crate::doc::Words {
            static W: std::sync::OnceLock<crate::doc::Words> = std::sync::OnceLock::new();
            W.get_or_init(|| crate::doc::Words::new([$(&$list[..]),+]))
        }
    };
}
pub(crate) use word_index;

/// A word list with a first-character index, for scanning every position of a text.
#[derive(Debug)]
pub struct Words {
    words: Vec<&'static str>,
    first: std::collections::HashSet<char>,
    last: std::collections::HashSet<char>,
}

impl Words {
    /// Longest words are tried first.
    pub fn new<'a>(lists: impl IntoIterator<Item = &'a [&'static str]>) -> Words {
        let mut words: Vec<&'static str> = lists.into_iter().flatten().copied().collect();
        words.sort_by_key(|w| std::cmp::Reverse(w.chars().count()));
        let first = words.iter().filter_map(|w| w.chars().next()).collect();
        let last = words.iter().filter_map(|w| w.chars().last()).collect();
        Words { words, first, last }
    }

    /// The longest word of the list ending right before char `i`.
    pub fn before(&self, doc: &Doc, i: usize) -> Option<&'static str> {
        let c = doc.at(i.checked_sub(1)?)?;
        if !self.last.contains(&c) {
            return None;
        }
        self.words.iter().copied().find(|w| doc.has_before(i, w))
    }

    /// The longest word of the list at char `i`.
    pub fn at(&self, doc: &Doc, i: usize) -> Option<&'static str> {
        let c = doc.at(i)?;
        if !self.first.contains(&c) {
            return None;
        }
        self.words.iter().copied().find(|w| doc.has_at(i, w))
    }
}
