//! Numbers as people write them: 35000, 3.5, 35,000, 三万五千, 三万五, 两千, 十五, 二〇二四.

/// The value of one Chinese digit.
pub fn cn_digit(c: char) -> Option<u32> {
    Some(match c {
        '零' | '〇' => 0,
        '一' | '壹' => 1,
        '二' | '两' | '贰' => 2,
        '三' | '叁' => 3,
        '四' | '肆' => 4,
        '五' | '伍' => 5,
        '六' | '陆' => 6,
        '七' | '柒' => 7,
        '八' | '捌' => 8,
        '九' | '玖' => 9,
        _ => return None,
    })
}

fn cn_unit(c: char) -> Option<u64> {
    Some(match c {
        '十' | '拾' => 10,
        '百' | '佰' => 100,
        '千' | '仟' => 1000,
        _ => return None,
    })
}

pub fn is_cn_numeral(c: char) -> bool {
    cn_digit(c).is_some() || cn_unit(c).is_some() || matches!(c, '万' | '亿')
}

/// Parses a whole Chinese numeral. "三万五" means 35000 and "一千二" 1200 (the spoken
/// abbreviation: a trailing digit takes the unit below the last one). A run of digits with no
/// unit ("二〇二四") reads digit by digit.
pub fn parse_cn(s: &str) -> Option<u64> {
    let chars: Vec<char> = s.chars().collect();
    if chars.is_empty() || !chars.iter().all(|c| is_cn_numeral(*c)) {
        return None;
    }
    if chars.iter().all(|c| cn_digit(*c).is_some()) {
        if chars.len() == 1 {
            return cn_digit(chars[0]).map(u64::from);
        }
        return chars.iter().try_fold(0u64, |acc, c| {
            acc.checked_mul(10)?.checked_add(u64::from(cn_digit(*c)?))
        });
    }
    let mut total: u64 = 0; // completed 亿 and 万 groups
    let mut section: u64 = 0; // below 万
    let mut digit: Option<u64> = None;
    let mut last_unit: u64 = 1;
    for &c in &chars {
        if let Some(d) = cn_digit(c) {
            digit = Some(u64::from(d));
        } else if let Some(u) = cn_unit(c) {
            section = section.saturating_add(digit.take().unwrap_or(1).saturating_mul(u));
            last_unit = u;
        } else if c == '万' || c == '亿' {
            let big = if c == '万' { 10_000 } else { 100_000_000 };
            section = section.saturating_add(digit.take().unwrap_or(0));
            if section == 0 && total == 0 {
                section = 1;
            }
            total = if big == 10_000 {
                total.saturating_add(section.saturating_mul(big))
            } else {
                total.saturating_add(section).saturating_mul(big)
            };
            section = 0;
            last_unit = big;
        }
    }
    if let Some(d) = digit {
        // 三万五 → 35000, 一千二 → 1200, 一百零五 → 105 (a 零 breaks the abbreviation).
        let abbreviated = chars.len() >= 2
            && cn_unit(chars[chars.len() - 2]).is_some_and(|u| u >= 100)
            || matches!(chars[chars.len().saturating_sub(2)], '万' | '亿');
        if abbreviated && chars[chars.len() - 2] != '零' {
            section = section.saturating_add(d * (last_unit / 10).max(1));
        } else {
            section = section.saturating_add(d);
        }
    }
    Some(total.saturating_add(section))
}

/// Parses "35000", "35,000", "3.5" as hundredths.
pub fn parse_arabic_hundredths(s: &str) -> Option<u64> {
    let clean: String = s.chars().filter(|c| *c != ',').collect();
    let (int, frac) = match clean.split_once('.') {
        Some((i, f)) => (i, f),
        None => (clean.as_str(), ""),
    };
    if int.is_empty() && frac.is_empty() {
        return None;
    }
    let int_v: u64 = if int.is_empty() { 0 } else { int.parse().ok()? };
    let mut frac_digits: String = frac.chars().take(2).collect();
    while frac_digits.len() < 2 {
        frac_digits.push('0');
    }
    let frac_v: u64 = frac_digits.parse().ok()?;
    int_v.checked_mul(100)?.checked_add(frac_v)
}

/// A number written either way ("12", "十二", "两"), for counts and dates.
pub fn parse_any(s: &str) -> Option<u64> {
    if s.chars().all(|c| c.is_ascii_digit()) && !s.is_empty() {
        return s.parse().ok();
    }
    parse_cn(s)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chinese_numerals() {
        for (s, v) in [
            ("三万五千", 35_000),
            ("三万五", 35_000),
            ("一千二", 1_200),
            ("一百零五", 105),
            ("十五", 15),
            ("二十", 20),
            ("两千", 2_000),
            ("二〇二四", 2024),
            ("一万零五百", 10_500),
            ("一亿二千万", 120_000_000),
            ("十万", 100_000),
            ("五", 5),
        ] {
            assert_eq!(parse_cn(s), Some(v), "{s}");
        }
        assert_eq!(parse_cn("三天"), None);
    }

    #[test]
    fn arabic_hundredths() {
        assert_eq!(parse_arabic_hundredths("35,000"), Some(3_500_000));
        assert_eq!(parse_arabic_hundredths("3.5"), Some(350));
        assert_eq!(parse_arabic_hundredths("0.07"), Some(7));
    }
}
