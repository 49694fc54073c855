//! Where: mentions of the deployment's own jurisdictions (a gazetteer built from its
//! jurisdiction table, tolerant of dropped suffixes: 幸福村 / 幸福) and free addresses
//! (…市…区…路…号, …镇…村…组, …小区…栋, places ending in 门口, 家中, 附近).

use crate::norm::is_han;
use crate::{Doc, Span};
use aho_corasick::{AhoCorasick, MatchKind};
use serde::{Deserialize, Serialize};

/// One jurisdiction as the gazetteer knows it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GazetteerEntry {
    pub code: String,
    pub name: String,
    /// Materialised path of codes (`/990102/990102001/`), used to prefer nodes under a town
    /// also mentioned.
    pub path: String,
    /// 0 = the deployment's root (city or county) … 4 = grid.
    pub level: u8,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Place {
    pub span: Span,
    pub text: String,
    /// The jurisdiction the mention resolves to, when it does.
    pub node_code: Option<String>,
    pub node_name: Option<String>,
    /// Other nodes of the same name (the mention is ambiguous).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub alternatives: Vec<String>,
    /// jurisdiction or address
    pub kind: String,
}

const ADMIN_SUFFIXES: [&str; 10] = [
    "街道办事处",
    "街道",
    "居委会",
    "村委会",
    "社区",
    "网格",
    "镇",
    "乡",
    "村",
    "县",
];

/// The name without its administrative suffix, when at least two characters remain.
pub fn short_name(name: &str) -> Option<&str> {
    for s in ADMIN_SUFFIXES.iter().chain(["市", "区"].iter()) {
        if let Some(stem) = name.strip_suffix(s) {
            if stem.chars().count() >= 2 {
                return Some(stem);
            }
        }
    }
    None
}

/// Names of a deployment's jurisdictions, searchable in one pass.
#[derive(Debug, Clone, Default)]
pub struct Gazetteer {
    entries: Vec<GazetteerEntry>,
    /// Pattern i → (entry indices, is the short form).
    patterns: Vec<(Vec<usize>, bool)>,
    automaton: Option<AhoCorasick>,
}

impl Gazetteer {
    pub fn new(entries: Vec<GazetteerEntry>) -> Gazetteer {
        let mut keys: Vec<(String, bool)> = Vec::new();
        let mut patterns: Vec<(Vec<usize>, bool)> = Vec::new();
        let mut add = |key: &str, idx: usize, short: bool| {
            if let Some(p) = keys.iter().position(|(k, _)| k == key) {
                if !patterns[p].0.contains(&idx) {
                    patterns[p].0.push(idx);
                }
            } else {
                keys.push((key.to_string(), short));
                patterns.push((vec![idx], short));
            }
        };
        for (idx, e) in entries.iter().enumerate() {
            if e.name.chars().count() < 2 || e.level >= 4 {
                continue; // grids (第3网格) are not named in texts
            }
            add(&e.name, idx, false);
            if let Some(s) = short_name(&e.name) {
                add(s, idx, true);
            }
        }
        let automaton = AhoCorasick::builder()
            .match_kind(MatchKind::LeftmostLongest)
            .build(keys.iter().map(|(k, _)| k.as_str()))
            .ok();
        Gazetteer {
            entries,
            patterns,
            automaton,
        }
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
    pub fn entries(&self) -> &[GazetteerEntry] {
        &self.entries
    }
}

/// Characters that end a free-address segment, longest first.
const SEGMENT_ENDS: [&str; 62] = [
    "街道办事处",
    "出租房内",
    "出租屋内",
    "出租房",
    "出租屋",
    "住处",
    "家中",
    "房间",
    "小区",
    "广场",
    "大厦",
    "宾馆",
    "酒店",
    "旅馆",
    "旅社",
    "超市",
    "商场",
    "公园",
    "市场",
    "车站",
    "汽车站",
    "火车站",
    "中学",
    "小学",
    "学校",
    "医院",
    "卫生院",
    "工地",
    "路口",
    "门口",
    "门前",
    "附近",
    "路边",
    "对面",
    "楼下",
    "楼上",
    "大院",
    "花园",
    "公寓",
    "新村",
    "社区",
    "街道",
    "大道",
    "胡同",
    "省",
    "市",
    "县",
    "区",
    "镇",
    "乡",
    "村",
    "屯",
    "组",
    "路",
    "街",
    "巷",
    "弄",
    "号",
    "栋",
    "幢",
    "楼",
    "室",
];

/// Words after which an address starts.
const LEADS: [&str; 19] = [
    "位于",
    "来到",
    "窜至",
    "前往",
    "开往",
    "返回",
    "驶至",
    "行至",
    "回到",
    "住在",
    "家住",
    "居住在",
    "在",
    "到",
    "至",
    "往",
    "于",
    "住",
    "从",
];

fn addr_char(c: char) -> bool {
    is_han(c) || c.is_ascii_alphanumeric() || matches!(c, '×' | '-' | '#' | '*')
}

/// Characters that cannot be inside an address (verbs and function words that end a run).
fn addr_break(c: char) -> bool {
    matches!(
        c,
        '的' | '了'
            | '将'
            | '把'
            | '被'
            | '向'
            | '与'
            | '和'
            | '对'
            | '给'
            | '以'
            | '为'
            | '等'
            | '因'
            | '称'
            | '说'
            | '是'
            | '并'
            | '又'
            | '再'
            | '就'
            | '都'
            | '也'
            | '在'
            | '到'
            | '于'
            | '从'
            | '买'
            | '卖'
            | '贩'
            | '吸'
            | '购'
            | '交'
            | '付'
            | '收'
            | '抓'
            | '查'
            | '扣'
            | '缴'
    )
}

/// A free address starting at `i`: the longest run of segments each ending in a place word.
fn address_at(doc: &Doc, i: usize) -> Option<usize> {
    let c = &doc.chars;
    let mut j = i;
    let mut last_end = None;
    while j < c.len() && j - i < 40 {
        if !addr_char(c[j]) || (j > i && addr_break(c[j]) && !doc.has_at(j, "的出租")) {
            break;
        }
        if let Some(w) = segment_words()
            .at(doc, j)
            .filter(|w| *w != "号" || j > i && number_like(c[j - 1]))
        {
            let seg_end = j + w.chars().count();
            // a segment needs at least one char before its end word ("医院" alone is not a
            // place of its own)
            if j > i {
                last_end = Some(seg_end);
            }
            j = seg_end;
            continue;
        }
        j += 1;
    }
    let mut end = last_end?;
    // "…的出租房内", "…的家中", "…门口"
    if doc.has_at(end, "的") {
        if let Some(w) = segment_words().at(doc, end + 1) {
            end = end + 1 + w.chars().count();
        }
    }
    if doc.at(end) == Some('内') || doc.at(end) == Some('里') {
        end += 1;
    }
    Some(end)
}

fn number_like(c: char) -> bool {
    c.is_ascii_digit()
        || crate::numbers::cn_digit(c).is_some()
        || matches!(c, '×' | 'X' | 'x' | '*' | '某' | '十')
}

/// Words that start a place no gold standard would call one: anaphora (其家中, 该房间) and a
/// person's home (被告人某某家中).
const NOT_A_PLACE_START: [&str; 10] = [
    "其",
    "该",
    "此",
    "自己",
    "上述",
    "这",
    "那",
    "本人",
    "被告人",
    "一个",
];

/// Words right after a city that make it part of an organisation's name (南昌市公安局).
const ORG_AFTER: [&str; 10] = [
    "公安",
    "人民",
    "检察",
    "法院",
    "禁毒",
    "中级",
    "司法",
    "分局",
    "市场监督",
    "看守所",
];

/// A place without a lead word: 2–3 characters and an administrative suffix (贵阳市, 云阳县),
/// extended into a full address when one follows.
fn admin_at(doc: &Doc, i: usize) -> Option<usize> {
    let c = &doc.chars;
    for len in [2usize, 3] {
        let k = i + len;
        let Some(&suffix) = c.get(k) else { continue };
        if !matches!(suffix, '省' | '市' | '县' | '区' | '州') {
            continue;
        }
        if !(i..k).all(|j| {
            is_han(c[j])
                && !addr_break(c[j])
                && !matches!(
                    c[j],
                    '超' | '城'
                        | '都'
                        | '门'
                        | '上'
                        | '菜'
                        | '夜'
                        | '地'
                        | '小'
                        | '社'
                        | '园'
                        | '景'
                        | '辖'
                        | '该'
                        | '其'
                        | '本'
                        | '全'
                        | '各'
                        | '市'
                        | '县'
                        | '区'
                )
        }) {
            continue;
        }
        return Some(address_at(doc, i).filter(|e| *e > k).unwrap_or(k + 1));
    }
    None
}

crate::doc::word_index!(lead_words: LEADS);

crate::doc::word_index!(segment_words: SEGMENT_ENDS);

pub fn extract(doc: &Doc, gaz: &Gazetteer) -> Vec<Place> {
    let mut out: Vec<Place> = Vec::new();
    // 1. The deployment's own places.
    if let Some(ac) = &gaz.automaton {
        let mut towns_seen: Vec<String> = Vec::new();
        for m in ac.find_iter(&doc.text) {
            let (idxs, short) = &gaz.patterns[m.pattern().as_usize()];
            let (s, e) = (doc.char_at_byte(m.start()), doc.char_at_byte(m.end()));
            if *short {
                // 幸福 alone: only as a place (followed by a place word, or after 在/到/住).
                let after = doc.at(e);
                let place_after = after.is_some_and(|c| !is_han(c))
                    || [
                        "组", "那边", "一带", "附近", "的", "这边", "路", "街", "小区", "村民",
                        "镇上",
                    ]
                    .iter()
                    .any(|w| doc.has_at(e, w));
                let place_before = doc
                    .any_before(
                        s,
                        &["在", "到", "住", "去", "来自", "家住", "是", "，", ","],
                    )
                    .is_some()
                    || s == 0;
                if !(place_after && (place_before || e - s >= 3)) {
                    continue;
                }
            }
            let mut cands: Vec<&GazetteerEntry> = idxs.iter().map(|i| &gaz.entries[*i]).collect();
            // Prefer a node under a town already mentioned.
            cands.sort_by_key(|c| {
                (
                    !towns_seen.iter().any(|t| c.path.contains(t.as_str())),
                    c.level,
                    c.code.clone(),
                )
            });
            let best = cands[0];
            if best.level <= 2 {
                towns_seen.push(format!("/{}/", best.code));
            }
            let span = Span::new(s, e);
            out.push(Place {
                span,
                text: doc.original(span).to_string(),
                node_code: Some(best.code.clone()),
                node_name: Some(best.name.clone()),
                alternatives: cands[1..].iter().map(|c| c.code.clone()).collect(),
                kind: "jurisdiction".into(),
            });
        }
    }
    // 2. Free addresses after a lead word (or extending a jurisdiction mention).
    let c = &doc.chars;
    let mut i = 0;
    while i < c.len() {
        let lead = lead_words().at(doc, i);
        let start = match lead {
            Some(w) => i + w.chars().count(),
            None => {
                // A city or county named without a lead word (贵阳市云岩区…), at a boundary.
                let boundary = i == 0
                    || !is_han(c[i - 1])
                    || matches!(c[i - 1], '、' | '和' | '与' | '的' | '由' | '及');
                match admin_at(doc, i).filter(|_| boundary) {
                    Some(end) if !ORG_AFTER.iter().any(|w| doc.has_at(end, w)) => {
                        let span = Span::new(i, end);
                        if !out.iter().any(|p| p.span.overlaps(&span)) {
                            out.push(Place {
                                span,
                                text: doc.original(span).to_string(),
                                node_code: None,
                                node_name: None,
                                alternatives: Vec::new(),
                                kind: "address".into(),
                            });
                        }
                        i = end;
                    }
                    _ => i += 1,
                }
                continue;
            }
        };
        if NOT_A_PLACE_START.iter().any(|w| doc.has_at(start, w)) || doc.at(start + 1) == Some('某')
        {
            i = start;
            continue;
        }
        // skip 本市 / 本区 (the gold standard of court texts starts after them)
        let start = if doc.any_at(start, &["本市", "本区", "本县"]).is_some() {
            start + 2
        } else {
            start
        };
        match address_at(doc, start) {
            Some(end) if end - start >= 2 && !ORG_AFTER.iter().any(|w| doc.has_at(end, w)) => {
                let span = Span::new(start, end);
                // Merge with gazetteer mentions inside it: the address wins, keeping the node.
                let inner: Vec<usize> = out
                    .iter()
                    .enumerate()
                    .filter(|(_, p)| p.span.overlaps(&span))
                    .map(|(k, _)| k)
                    .collect();
                let node = inner.iter().rev().find_map(|k| {
                    out[*k]
                        .node_code
                        .clone()
                        .map(|code| (code, out[*k].node_name.clone()))
                });
                let covers = inner
                    .iter()
                    .all(|k| out[*k].span.start >= span.start && out[*k].span.end <= span.end);
                if covers {
                    for k in inner.into_iter().rev() {
                        out.remove(k);
                    }
                    let (node_code, node_name) = match node {
                        Some((c, n)) => (Some(c), n),
                        None => (None, None),
                    };
                    out.push(Place {
                        span,
                        text: doc.original(span).to_string(),
                        kind: if node_code.is_some() {
                            "jurisdiction"
                        } else {
                            "address"
                        }
                        .into(),
                        node_code,
                        node_name,
                        alternatives: Vec::new(),
                    });
                }
                i = end;
            }
            _ => i += 1,
        }
    }
    out.sort_by_key(|p| p.span);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn gaz() -> Gazetteer {
        Gazetteer::new(vec![
            GazetteerEntry {
                code: "1".into(),
                name: "青溪县".into(),
                path: "/1/".into(),
                level: 0,
            },
            GazetteerEntry {
                code: "11".into(),
                name: "城关镇".into(),
                path: "/1/11/".into(),
                level: 2,
            },
            GazetteerEntry {
                code: "111".into(),
                name: "幸福村".into(),
                path: "/1/11/111/".into(),
                level: 3,
            },
            GazetteerEntry {
                code: "12".into(),
                name: "河口镇".into(),
                path: "/1/12/".into(),
                level: 2,
            },
            GazetteerEntry {
                code: "121".into(),
                name: "幸福村".into(),
                path: "/1/12/121/".into(),
                level: 3,
            },
        ])
    }

    #[test]
    fn jurisdictions_with_and_without_suffixes() {
        let d = Doc::new("河口镇幸福村三组村民反映", 1000);
        let p = extract(&d, &gaz());
        // the village of 河口镇, not the 幸福村 of 城关镇
        assert_eq!(
            p.iter()
                .filter_map(|p| p.node_code.as_deref())
                .collect::<Vec<_>>(),
            ["12", "121"]
        );
        let d = Doc::new("我家住在幸福那边，过着幸福生活", 1000);
        let p = extract(&d, &gaz());
        assert_eq!(p.len(), 1);
        assert_eq!(p[0].text, "幸福");
    }

    #[test]
    fn free_addresses() {
        let d = Doc::new("被告人在湛江市麻章区太平镇第二中学门前答应", 1000);
        let p = extract(&d, &Gazetteer::default());
        assert_eq!(p[0].text, "湛江市麻章区太平镇第二中学门前");
    }
}
