//! Law texts: articles read from the Markdown a user imports (`# 法律名称`, then one article a
//! paragraph beginning `第X条 `, further paragraphs of an article following it), and the
//! project's curated table of key provisions per dispute type, used when no corpus is imported.

use std::collections::HashMap;

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::case::DisputeType;

/// One article of a law.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct LawArticle {
    /// The law's title as its text gives it (`中华人民共和国民法典`).
    pub law: String,
    /// The article's label as written (`第一千零八十四条`, `第二十条之一`).
    pub label: String,
    /// Its number, for ordering (1084; an article `之一` sorts after its base article).
    pub number: i64,
    /// Its paragraphs (款), joined by line breaks.
    pub text: String,
}

impl LawArticle {
    /// `中华人民共和国民法典 第一千零八十四条`: how an article is cited and keyed.
    pub fn citation(&self) -> String {
        citation(&self.law, &self.label)
    }
}

pub fn citation(law: &str, label: &str) -> String {
    format!("{law} {label}")
}

/// What a law file held, or why a part of it was not read.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ParsedLaw {
    pub law: String,
    pub articles: Vec<LawArticle>,
    /// Problems, each with its 1-based line number; the articles around them are still read.
    pub problems: Vec<(usize, String)>,
}

/// Reads one Markdown law file. The first `# ` heading names the law (a file without one, or
/// without any article, is a problem on line 1); headings of books, chapters and sections and
/// the text before the first article are skipped; a paragraph that does not start an article
/// belongs to the article before it. An article whose label repeats one already read is a
/// problem (the first is kept).
pub fn parse_law_markdown(content: &str) -> ParsedLaw {
    let mut out = ParsedLaw::default();
    let mut seen: HashMap<String, usize> = HashMap::new();
    let mut in_comment = false;
    for (i, raw) in content.lines().enumerate() {
        let line_no = i + 1;
        let line = raw.trim();
        if in_comment {
            in_comment = !line.contains("-->");
            continue;
        }
        if line.starts_with("<!--") {
            in_comment = !line.contains("-->");
            continue;
        }
        if line.is_empty() {
            continue;
        }
        if let Some(h) = line.strip_prefix("# ") {
            if out.law.is_empty() {
                out.law = h.trim().to_string();
            }
            continue;
        }
        if line.starts_with('#') {
            continue;
        }
        match article_start(line) {
            Some((label, number, rest)) => {
                if out.law.is_empty() {
                    out.problems
                        .push((line_no, "an article before the law's title (# …)".into()));
                    continue;
                }
                if let Some(first) = seen.get(&label) {
                    out.problems.push((
                        line_no,
                        format!("{label} appears again (first on line {first}); kept the first"),
                    ));
                    // Its paragraphs must not join the article before it.
                    out.articles.push(LawArticle {
                        law: String::new(),
                        label,
                        number,
                        text: String::new(),
                    });
                    continue;
                }
                seen.insert(label.clone(), line_no);
                out.articles.push(LawArticle {
                    law: out.law.clone(),
                    label,
                    number,
                    text: rest.trim().to_string(),
                });
            }
            None => {
                if let Some(a) = out.articles.last_mut() {
                    if !a.text.is_empty() || !a.law.is_empty() {
                        a.text.push('\n');
                    }
                    a.text.push_str(line);
                }
            }
        }
    }
    out.articles.retain(|a| !a.law.is_empty());
    if out.law.is_empty() {
        out.problems
            .insert(0, (1, "no title: the file has no `# ` heading".into()));
    } else if out.articles.is_empty() {
        out.problems
            .insert(0, (1, "no article (`第X条 …` paragraphs) found".into()));
    }
    out
}

/// `第十条之一 text` → (`第十条之一`, 10 × 100 + 1, `text`). The label must be followed by a
/// space (so `第三人…` or `第十条规定的…` inside a paragraph never starts an article).
fn article_start(line: &str) -> Option<(String, i64, &str)> {
    let rest = line.strip_prefix('第')?;
    let end = rest.find('条')?;
    let number = chinese_number(&rest[..end])?;
    let mut after = &rest[end + '条'.len_utf8()..];
    let mut label = format!("第{}条", &rest[..end]);
    let mut sub = 0;
    if let Some(s) = after.strip_prefix('之') {
        let n: usize = s
            .chars()
            .take_while(|c| digit(*c).is_some() || *c == '十')
            .map(char::len_utf8)
            .sum();
        sub = chinese_number(&s[..n])?;
        label.push('之');
        label.push_str(&s[..n]);
        after = &s[n..];
    }
    let first = after.chars().next()?;
    if !first.is_whitespace() {
        return None;
    }
    Some((label, number * 100 + sub, after))
}

fn digit(c: char) -> Option<i64> {
    Some(match c {
        '零' | '〇' => 0,
        '一' => 1,
        '二' | '两' => 2,
        '三' => 3,
        '四' => 4,
        '五' => 5,
        '六' => 6,
        '七' => 7,
        '八' => 8,
        '九' => 9,
        _ => return None,
    })
}

/// A Chinese numeral below 10,000 (`一千零八十四` → 1084, `十二` → 12), or Arabic digits.
pub fn chinese_number(s: &str) -> Option<i64> {
    if s.is_empty() {
        return None;
    }
    if s.chars().all(|c| c.is_ascii_digit()) {
        return s.parse().ok();
    }
    let mut total = 0;
    let mut current: Option<i64> = None;
    for c in s.chars() {
        if let Some(d) = digit(c) {
            current = Some(d);
            continue;
        }
        let unit = match c {
            '十' => 10,
            '百' => 100,
            '千' => 1000,
            _ => return None,
        };
        total += current.unwrap_or(1) * unit;
        current = None;
    }
    Some(total + current.unwrap_or(0))
}

/// One row of the curated table: a key provision for a dispute type, summarised in the
/// project's own words.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct KeyProvision {
    pub dispute_type: DisputeType,
    pub law: String,
    pub label: String,
    pub summary: String,
}

impl KeyProvision {
    pub fn citation(&self) -> String {
        citation(&self.law, &self.label)
    }
}

/// The curated table (`key-provisions.tsv`, written and reviewed by the project).
const KEY_PROVISIONS: &str = include_str!("../data/key-provisions.tsv");

/// The key provisions of every dispute type, in the table's order.
pub fn key_provisions() -> &'static [KeyProvision] {
    static TABLE: std::sync::OnceLock<Vec<KeyProvision>> = std::sync::OnceLock::new();
    TABLE.get_or_init(|| {
        KEY_PROVISIONS
            .lines()
            .filter(|l| !l.trim().is_empty() && !l.starts_with('#'))
            .filter_map(|l| {
                let mut c = l.split('\t');
                let dispute_type = DisputeType::parse(c.next()?.trim())?;
                Some(KeyProvision {
                    dispute_type,
                    law: c.next()?.trim().to_string(),
                    label: c.next()?.trim().to_string(),
                    summary: c.next()?.trim().to_string(),
                })
            })
            .collect()
    })
}

/// The key provisions of one dispute type.
pub fn key_provisions_for(t: DisputeType) -> Vec<&'static KeyProvision> {
    key_provisions()
        .iter()
        .filter(|k| k.dispute_type == t)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chinese_numerals() {
        assert_eq!(chinese_number("一"), Some(1));
        assert_eq!(chinese_number("十"), Some(10));
        assert_eq!(chinese_number("十二"), Some(12));
        assert_eq!(chinese_number("二十"), Some(20));
        assert_eq!(chinese_number("一百零五"), Some(105));
        assert_eq!(chinese_number("一千零八十四"), Some(1084));
        assert_eq!(chinese_number("一千二百六十"), Some(1260));
        assert_eq!(chinese_number("三人"), None);
        assert_eq!(chinese_number(""), None);
    }

    #[test]
    fn articles_and_their_paragraphs() {
        let md = "# 中华人民共和国某法\n\n2020年 通过\n\n<!-- INFO END -->\n\n## 第一章  总则\n\n第一条 为了规范。\n\n第二条 人格权受保护。\n\n除前款规定外，另有规定。\n\n第三人主张权利的，应当通知。\n\n第二条之一 补充。\n\n第三条\u{3000}全角空格。\n";
        let p = parse_law_markdown(md);
        assert_eq!(p.law, "中华人民共和国某法");
        assert!(p.problems.is_empty(), "{:?}", p.problems);
        let labels: Vec<(&str, i64)> = p
            .articles
            .iter()
            .map(|a| (a.label.as_str(), a.number))
            .collect();
        assert_eq!(
            labels,
            vec![
                ("第一条", 100),
                ("第二条", 200),
                ("第二条之一", 201),
                ("第三条", 300)
            ]
        );
        assert_eq!(
            p.articles[1].text,
            "人格权受保护。\n除前款规定外，另有规定。\n第三人主张权利的，应当通知。"
        );
        assert_eq!(p.articles[3].text, "全角空格。");
    }

    #[test]
    fn problems_carry_line_numbers() {
        let p = parse_law_markdown("第一条 无标题。\n");
        assert_eq!(p.problems[0].0, 1);
        assert!(p.articles.is_empty());
        let p = parse_law_markdown("# 某法\n\n第一条 甲。\n\n第一条 乙。\n\n续。\n");
        assert_eq!(p.articles.len(), 1);
        assert_eq!(p.articles[0].text, "甲。");
        assert_eq!(p.problems.len(), 1);
        assert_eq!(p.problems[0].0, 5);
        let p = parse_law_markdown("# 某法\n\n前言。\n");
        assert_eq!(p.problems.len(), 1);
    }

    #[test]
    fn every_type_has_key_provisions() {
        for t in DisputeType::ALL {
            assert!(
                key_provisions_for(*t).len() >= 2,
                "{} has too few key provisions",
                t.as_str()
            );
        }
        for k in key_provisions() {
            assert!(k.label.starts_with('第') && k.label.ends_with('条'));
            assert!(!k.summary.is_empty());
        }
    }
}
