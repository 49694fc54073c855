//! Money amounts in any written form, and phone and ID-card numbers (validated).

use crate::numbers::{is_cn_numeral, parse_arabic_hundredths, parse_cn};
use crate::{Doc, Mention, Span};
use fengqiao_domain::validate::{IdCardNumber, PhoneNumber};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Amount {
    pub span: Span,
    pub text: String,
    /// In fen (1/100 yuan).
    pub fen: i64,
    /// "余", "多", "左右", "约": the figure is approximate.
    pub approximate: bool,
}

fn is_num_char(c: char) -> bool {
    c.is_ascii_digit() || c == ',' || c == '.'
}

fn multiplier(c: Option<char>) -> Option<u64> {
    match c? {
        '万' => Some(10_000),
        '亿' => Some(100_000_000),
        '千' => Some(1000),
        '百' => Some(100),
        _ => None,
    }
}

/// Currency words after a number, longest first, and whether they make an amount alone.
const CURRENCY: [&str; 5] = ["块钱", "元钱", "元", "块", "圆"];

pub fn extract(doc: &Doc) -> Vec<Amount> {
    let c = &doc.chars;
    let n = c.len();
    let mut out = Vec::new();
    let mut i = 0;
    while i < n {
        let start = i;
        let yen = c[i] == '¥';
        let mut j = if yen { i + 1 } else { i };
        while j < n && c[j] == ' ' && yen {
            j += 1;
        }
        let num_start = j;
        let arabic = j < n && c[j].is_ascii_digit() && (i == 0 || !is_num_char(c[i - 1]) || yen);
        let chinese = !yen && j < n && is_cn_numeral(c[j]) && (i == 0 || !is_cn_numeral(c[i - 1]));
        if !arabic && !chinese {
            i += 1;
            continue;
        }
        let mut hundredths: u64;
        if arabic {
            while j < n && is_num_char(c[j]) {
                j += 1;
            }
            // A trailing separator belongs to the sentence ("35000元," is fine; "35000." too).
            while j > num_start && matches!(c[j - 1], ',' | '.') {
                j -= 1;
            }
            let Some(v) = parse_arabic_hundredths(&doc.slice(num_start, j)) else {
                i = j.max(i + 1);
                continue;
            };
            hundredths = v;
            if let Some(m) = multiplier(c.get(j).copied()) {
                hundredths = hundredths.saturating_mul(m);
                j += 1;
            }
        } else {
            while j < n && is_cn_numeral(c[j]) {
                j += 1;
            }
            let Some(v) = parse_cn(&doc.slice(num_start, j)) else {
                i = j;
                continue;
            };
            hundredths = v.saturating_mul(100);
        }
        let mut approximate = false;
        if j < n && matches!(c[j], '余' | '多') {
            approximate = true;
            j += 1;
        }
        let currency = doc.any_at(j, &CURRENCY);
        let after_rmb = doc.has_before(start, "人民币") || doc.has_before(start, "人民币约");
        let ok = match currency {
            Some(w) => {
                let after = j + w.chars().count();
                // 元旦, 元宵 are festivals; 一元钱 is fine.
                !(w == "元" && matches!(c.get(after), Some('旦' | '宵' | '素' | '件' | '器')))
            }
            None => yen || after_rmb && arabic,
        };
        if !ok {
            i = j.max(i + 1);
            continue;
        }
        let end = j + currency.map_or(0, |w| w.chars().count());
        if doc.has_before(start, "约") || doc.has_at(end, "左右") {
            approximate = true;
        }
        out.push(Amount {
            span: Span::new(start, end),
            text: doc.original(Span::new(start, end)).to_string(),
            fen: i64::try_from(hundredths).unwrap_or(i64::MAX),
            approximate,
        });
        i = end.max(i + 1);
    }
    out
}

/// Phone numbers (mobile and landline, validated) and ID-card numbers (checksum validated).
pub fn personal_numbers(doc: &Doc) -> (Vec<Mention>, Vec<Mention>) {
    let c = &doc.chars;
    let n = c.len();
    let (mut phones, mut ids) = (Vec::new(), Vec::new());
    let mut i = 0;
    while i < n {
        if !c[i].is_ascii_digit() || (i > 0 && c[i - 1].is_ascii_alphanumeric()) {
            i += 1;
            continue;
        }
        let mut j = i;
        while j < n && (c[j].is_ascii_digit() || c[j] == '-' || (j == i + 17 && c[j] == 'X')) {
            j += 1;
        }
        while j > i && c[j - 1] == '-' {
            j -= 1;
        }
        let raw = doc.slice(i, j);
        let digits: String = raw.chars().filter(|c| *c != '-').collect();
        if digits.len() == 18 && IdCardNumber::parse(&digits).is_ok() {
            ids.push(doc.mention(i, j));
        } else if (7..=13).contains(&digits.len()) && PhoneNumber::parse(&raw).is_ok() {
            phones.push(doc.mention(i, j));
        }
        i = j.max(i + 1);
    }
    (phones, ids)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fens(t: &str) -> Vec<i64> {
        extract(&Doc::new(t, 10_000))
            .iter()
            .map(|a| a.fen)
            .collect()
    }

    #[test]
    fn every_written_form() {
        assert_eq!(fens("借款三万五千元"), vec![3_500_000]);
        assert_eq!(fens("共计3.5万元"), vec![3_500_000]);
        assert_eq!(fens("¥35,000"), vec![3_500_000]);
        assert_eq!(fens("35000元,对方"), vec![3_500_000]);
        assert_eq!(fens("赔偿２０００块钱"), vec![200_000]);
        assert_eq!(fens("人民币50元和"), vec![5_000]);
        assert_eq!(fens("1万余元"), vec![1_000_000]);
        assert_eq!(fens("元旦前三元旦"), Vec::<i64>::new());
        assert_eq!(fens("3单元5号"), Vec::<i64>::new());
    }
}
