//! Risk cues: threats of violence or extreme acts, self-harm, weapons, violence, gatherings,
//! repeat petitions, vulnerable people, strong emotion, wage arrears before the Spring
//! Festival, large amounts, many people. Negated cues (没有扬言, 未发生冲突) are kept as
//! evidence but score nothing.

use crate::money::Amount;
use crate::person::Headcount;
use crate::time::before_spring_festival;
use crate::{Doc, Span};
use chrono::NaiveDateTime;
use fengqiao_domain::case::RiskLevel;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Cue {
    /// threat, self_harm, weapon, violence, gathering, repeat_petition, vulnerable, emotion,
    /// wage_arrears_festival, large_amount, many_people
    pub kind: String,
    pub span: Span,
    pub text: String,
    pub weight: u32,
    pub negated: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Risk {
    /// 0–100.
    pub score: u32,
    pub level: RiskLevel,
    pub cues: Vec<Cue>,
}

/// Score from which a text is high risk, and medium risk.
pub const HIGH: u32 = 50;
pub const MEDIUM: u32 = 20;

const LEXICON: &[(&str, &[&str], u32)] = &[
    (
        "threat",
        &[
            "同归于尽",
            "扬言",
            "威胁",
            "拼命",
            "弄死",
            "打死",
            "杀了",
            "杀人",
            "砍死",
            "砍人",
            "要砍",
            "放火",
            "烧房",
            "烧了",
            "炸了",
            "报复",
            "血债",
            "鱼死网破",
            "走极端",
            "极端行为",
            "玉石俱焚",
        ],
        35,
    ),
    (
        "self_harm",
        &[
            "跳楼",
            "跳河",
            "喝农药",
            "服毒",
            "自杀",
            "轻生",
            "不想活",
            "寻死",
            "割腕",
            "上吊",
            "死给",
            "以死相逼",
        ],
        40,
    ),
    (
        "weapon",
        &[
            "菜刀", "砍刀", "匕首", "持刀", "拿刀", "棍棒", "铁锹", "锄头", "猎枪", "汽油", "炸药",
            "凶器",
        ],
        20,
    ),
    (
        "violence",
        &[
            "打伤",
            "殴打",
            "打架",
            "斗殴",
            "动手",
            "推搡",
            "肢体冲突",
            "冲突",
            "打人",
            "打了",
            "砸坏",
            "砸了",
            "围殴",
        ],
        15,
    ),
    (
        "gathering",
        &[
            "集体上访",
            "群体上访",
            "聚集",
            "拉横幅",
            "拉条幅",
            "堵路",
            "堵门",
            "围堵",
            "静坐",
            "冲击",
            "闹访",
            "组织村民",
            "串联",
            "群体性",
            "集体到",
        ],
        25,
    ),
    (
        "repeat_petition",
        &[
            "重复信访",
            "多次上访",
            "反复上访",
            "越级上访",
            "进京",
            "赴省",
            "多次到县",
            "缠访",
            "老上访户",
            "重复投诉",
            "多次反映",
            "屡次上访",
            "多次信访",
        ],
        20,
    ),
    (
        "vulnerable",
        &[
            "年逾八旬",
            "年逾七旬",
            "八旬",
            "七十多岁",
            "八十多岁",
            "九十多岁",
            "老人",
            "残疾",
            "孕妇",
            "怀孕",
            "未成年",
            "儿童",
            "重病",
            "身患",
            "低保户",
            "五保户",
            "孤寡",
            "留守",
            "瘫痪",
        ],
        10,
    ),
    (
        "emotion",
        &[
            "情绪激动",
            "情绪低落",
            "情绪失控",
            "矛盾激化",
            "冲突苗头",
            "愤怒",
            "激烈争吵",
        ],
        10,
    ),
];

const NEGATIONS: [&str; 14] = [
    "没有发生",
    "未发生",
    "未出现",
    "没有出现",
    "并未",
    "并无",
    "没有",
    "未曾",
    "否认",
    "不会",
    "不再",
    "没",
    "未",
    "无",
];

const WAGE_WORDS: [&str; 7] = [
    "拖欠工资",
    "欠薪",
    "工钱",
    "讨薪",
    "工资",
    "劳务费",
    "工程款",
];

fn risk_words() -> &'static crate::doc::Words {
    static W: std::sync::OnceLock<crate::doc::Words> = std::sync::OnceLock::new();
    W.get_or_init(|| crate::doc::Words::new(LEXICON.iter().map(|(_, ws, _)| *ws)))
}

pub fn assess(
    doc: &Doc,
    amounts: &[Amount],
    headcount: Option<&Headcount>,
    reported_at: NaiveDateTime,
) -> Risk {
    let mut cues = Vec::new();
    let c = &doc.chars;
    let mut i = 0;
    let words = risk_words();
    while i < c.len() {
        let hit = words.at(doc, i).and_then(|w| {
            LEXICON
                .iter()
                .find(|(_, ws, _)| ws.contains(&w))
                .map(|(kind, _, weight)| (*kind, w, *weight))
        });
        match hit {
            Some((kind, w, weight)) => {
                let end = i + w.chars().count();
                // 没有扬言报复: a negation covers the cues chained right after it.
                let chained = cues
                    .last()
                    .is_some_and(|p: &Cue| p.negated && p.span.end + 1 >= i);
                let negated = chained || doc.any_before(i, &NEGATIONS).is_some();
                cues.push(Cue {
                    kind: kind.into(),
                    span: Span::new(i, end),
                    text: doc.original(Span::new(i, end)).to_string(),
                    weight,
                    negated,
                });
                i = end;
            }
            None => i += 1,
        }
    }
    // Wage arrears before the Spring Festival.
    let mut i = 0;
    while i < c.len() {
        if let Some(w) = doc.any_at(i, &WAGE_WORDS) {
            let end = i + w.chars().count();
            let (s, e) = doc.sentence_bounds(i);
            let sentence = doc.slice(s, e);
            let arrears = sentence.contains('欠')
                || sentence.contains("不给")
                || sentence.contains("未支付")
                || sentence.contains("未付")
                || w == "讨薪"
                || w == "欠薪";
            let festival = ["春节", "过年", "年关", "年底"]
                .iter()
                .any(|f| doc.text.contains(f))
                || before_spring_festival(reported_at.date(), 45);
            if arrears && festival {
                cues.push(Cue {
                    kind: "wage_arrears_festival".into(),
                    span: Span::new(i, end),
                    text: doc.original(Span::new(i, end)).to_string(),
                    weight: 20,
                    negated: false,
                });
                break;
            }
            i = end;
        } else {
            i += 1;
        }
    }
    if let Some(a) = amounts.iter().max_by_key(|a| a.fen) {
        let weight = match a.fen {
            f if f >= 100_000_000 => 25, // ≥ 1,000,000 yuan
            f if f >= 10_000_000 => 15,  // ≥ 100,000 yuan
            _ => 0,
        };
        if weight > 0 {
            cues.push(Cue {
                kind: "large_amount".into(),
                span: a.span,
                text: a.text.clone(),
                weight,
                negated: false,
            });
        }
    }
    if let Some(h) = headcount {
        let weight = match h.count {
            n if n >= 30 => 25,
            n if n >= 10 => 15,
            n if n >= 5 => 5,
            _ => 0,
        };
        if weight > 0 {
            cues.push(Cue {
                kind: "many_people".into(),
                span: h.span,
                text: h.text.clone(),
                weight,
                negated: false,
            });
        }
    }
    cues.sort_by_key(|c| c.span);
    // Each kind counts at most twice: ten mentions of 老人 are not ten risks.
    let mut per_kind: std::collections::HashMap<&str, u32> = std::collections::HashMap::new();
    let mut score = 0u32;
    for cue in cues.iter().filter(|c| !c.negated) {
        let n = per_kind.entry(cue.kind.as_str()).or_insert(0);
        if *n < 2 {
            score += if *n == 0 { cue.weight } else { cue.weight / 2 };
            *n += 1;
        }
    }
    let score = score.min(100);
    let level = if score >= HIGH {
        RiskLevel::High
    } else if score >= MEDIUM {
        RiskLevel::Medium
    } else {
        RiskLevel::Low
    };
    Risk { score, level, cues }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn risk(t: &str) -> Risk {
        let d = Doc::new(t, 10_000);
        let at = NaiveDateTime::parse_from_str("2025-06-01 10:00", "%Y-%m-%d %H:%M").unwrap();
        assess(
            &d,
            &crate::money::extract(&d),
            crate::person::headcount(&d).as_ref(),
            at,
        )
    }

    #[test]
    fn threats_score_and_negations_do_not() {
        let r = risk("对方扬言要拼命，还拿刀");
        assert_eq!(r.level, RiskLevel::High);
        let r = risk("双方没有扬言报复，也未发生冲突");
        assert!(r.cues.iter().all(|c| c.negated), "{r:?}");
        assert_eq!(r.score, 0);
        let r = risk("如不解决将组织村民集体上访");
        assert_eq!(r.level, RiskLevel::Medium);
    }
}
