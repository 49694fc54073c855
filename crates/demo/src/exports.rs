//! Sample exports of the other systems (police, courts, petitions, arbitration, mediation,
//! 12345), laid out as the field mappings in `data/channels/*.toml` expect: new disputes, and
//! re-reports of recent demo cases with the variation real exports have (another channel's
//! framing, a clause left out, words swapped, a misspelt name, a missing phone). What is a
//! re-report of which case is returned with them, so imports can be scored.
use crate::rng::Rng;
use crate::{case_labelled, GenerateError, Options, Reference, Result};
use chrono::Datelike;
use fengqiao_domain::calendar::WorkCalendar;
use fengqiao_domain::case::{CaseState, Channel};
use fengqiao_domain::deadline::DeadlineRules;
use fengqiao_domain::time::Millis;

/// One channel's export: its header and rows (as text), and the re-reports in it:
/// (source record id, id of the demo case it reports again).
#[derive(Debug, Clone, PartialEq)]
pub struct ChannelExport {
    pub channel: Channel,
    pub header: Vec<&'static str>,
    pub rows: Vec<Vec<String>>,
    pub re_reports: Vec<(String, i64)>,
}

impl ChannelExport {
    /// The export as CSV (RFC 4180 quoting).
    pub fn csv(&self) -> String {
        let quote = |v: &str| {
            if v.contains([',', '"', '\n', '\r']) {
                format!("\"{}\"", v.replace('"', "\"\""))
            } else {
                v.to_string()
            }
        };
        let mut out = self.header.join(",");
        out.push('\n');
        for r in &self.rows {
            out.push_str(&r.iter().map(|v| quote(v)).collect::<Vec<_>>().join(","));
            out.push('\n');
        }
        out
    }
}

/// How a channel writes: its columns in the order of [`Spec::header`].
struct Spec {
    channel: Channel,
    id_prefix: &'static str,
    /// Header: id, text, second text (or ""), place, date, name, phone, id number (or ""),
    /// category, amount (or "").
    header: [&'static str; 10],
    place_is_code: bool,
    framing: &'static str,
    second_text: &'static str,
}

const SPECS: [Spec; 6] = [
    Spec {
        channel: Channel::Police,
        id_prefix: "JQ",
        header: [
            "警情编号",
            "简要警情",
            "处警情况",
            "发生地点",
            "报警时间",
            "报警人",
            "报警人电话",
            "报警人身份证号",
            "警情类别",
            "涉案金额",
        ],
        place_is_code: false,
        framing: "报警人称：",
        second_text: "民警到场了解情况，双方情绪基本稳定，建议通过调解解决。",
    },
    Spec {
        channel: Channel::CourtPrelitigation,
        id_prefix: "(2025)诉前调",
        header: [
            "案号",
            "诉讼请求",
            "事实与理由",
            "所属村居代码",
            "收案日期",
            "原告",
            "原告联系电话",
            "",
            "案由",
            "标的额",
        ],
        place_is_code: true,
        framing: "原告诉称：",
        second_text: "请求依法调解处理。",
    },
    Spec {
        channel: Channel::Petition,
        id_prefix: "XF",
        header: [
            "信访件编号",
            "信访事项",
            "诉求",
            "问题属地",
            "登记日期",
            "信访人",
            "联系电话",
            "证件号码",
            "内容分类",
            "",
        ],
        place_is_code: false,
        framing: "信访人反映：",
        second_text: "要求有关部门尽快协调解决。",
    },
    Spec {
        channel: Channel::LabourArbitration,
        id_prefix: "LZ",
        header: [
            "仲裁案号",
            "仲裁请求",
            "事实理由",
            "用人单位所在地",
            "申请日期",
            "申请人",
            "申请人电话",
            "申请人身份证号",
            "争议类型",
            "请求金额",
        ],
        place_is_code: false,
        framing: "申请人称：",
        second_text: "请求裁决支付相关款项。",
    },
    Spec {
        channel: Channel::JudicialMediation,
        id_prefix: "TJ",
        header: [
            "调解案件编号",
            "纠纷简要情况",
            "",
            "行政区划代码",
            "受理日期",
            "当事人",
            "当事人电话",
            "",
            "纠纷类型",
            "涉及金额",
        ],
        place_is_code: true,
        framing: "当事人反映：",
        second_text: "",
    },
    Spec {
        channel: Channel::Hotline12345,
        id_prefix: "GD",
        header: [
            "工单编号",
            "来电内容",
            "",
            "事发地址",
            "来电时间",
            "来电人",
            "来电号码",
            "",
            "诉求分类",
            "",
        ],
        place_is_code: false,
        framing: "来电人反映：",
        second_text: "",
    },
];

/// Characters people mistype for one another (same sound).
const HOMOPHONES: [(char, char); 14] = [
    ('伟', '玮'),
    ('华', '骅'),
    ('明', '铭'),
    ('丽', '莉'),
    ('军', '君'),
    ('芳', '方'),
    ('敏', '闵'),
    ('静', '婧'),
    ('磊', '垒'),
    ('强', '墙'),
    ('红', '宏'),
    ('平', '萍'),
    ('英', '瑛'),
    ('建', '健'),
];

const SWAPS: [(&str, &str); 5] = [
    ("反映", "称"),
    ("发生", "产生"),
    ("纠纷", "矛盾"),
    ("要求", "希望"),
    ("多次", "几次"),
];

/// Sample exports, `per_channel` rows each, of which one in four re-reports one of `recent`
/// (demo cases registered in the last weeks, with their ids; leave out the generator's own
/// re-reported pairs, see [`crate::is_duplicate_report`], or a link between the two halves of a
/// pair counts as wrong).
pub fn channel_exports(
    r: &Reference,
    opts: &Options,
    recent: &[(i64, CaseState)],
    per_channel: usize,
    cal: &WorkCalendar,
    rules: &DeadlineRules,
) -> Result<Vec<ChannelExport>> {
    exports_of(r, opts, recent, per_channel, cal, rules, None)
}

/// One channel's export alone (the import benchmark's large files).
pub fn channel_export(
    r: &Reference,
    opts: &Options,
    recent: &[(i64, CaseState)],
    channel: Channel,
    rows: usize,
    cal: &WorkCalendar,
    rules: &DeadlineRules,
) -> Result<ChannelExport> {
    exports_of(r, opts, recent, rows, cal, rules, Some(channel))?
        .pop()
        .ok_or_else(|| {
            GenerateError::Domain(fengqiao_domain::DomainError::validation(
                "channel",
                format!("no export for {}", channel.as_str()),
            ))
        })
}

fn exports_of(
    r: &Reference,
    opts: &Options,
    recent: &[(i64, CaseState)],
    per_channel: usize,
    cal: &WorkCalendar,
    rules: &DeadlineRules,
    only: Option<Channel>,
) -> Result<Vec<ChannelExport>> {
    let mut rng = Rng::new(opts.seed).fork(77_000);
    let mut out = Vec::new();
    let mut fresh = opts.cases + 100_000;
    for spec in SPECS.iter().filter(|s| only.is_none_or(|c| c == s.channel)) {
        let mut export = ChannelExport {
            channel: spec.channel,
            header: spec
                .header
                .iter()
                .copied()
                .filter(|h| !h.is_empty())
                .collect(),
            rows: Vec::new(),
            re_reports: Vec::new(),
        };
        for n in 0..per_channel {
            let source_id = format!("{}{:06}", spec.id_prefix, n + 1);
            let re_report = !recent.is_empty() && rng.below(4) == 0;
            let (state, original) = if re_report {
                let (id, s) = &recent[rng.below(recent.len() as u64) as usize];
                (s.clone(), Some(*id))
            } else {
                // A fresh dispute: not one of the generator's own re-reported pairs.
                fresh += 1;
                while crate::is_duplicate_report(fresh) || crate::is_duplicate_report(fresh + 1) {
                    fresh += 1;
                }
                (case_labelled(r, opts, fresh, cal, rules)?.state, None)
            };
            let text = match original {
                Some(_) => vary(&state.text, spec.framing, &mut rng),
                None => state.text.clone(),
            };
            let party = state.parties.first();
            let mut name = party.map(|p| p.name.clone()).unwrap_or_default();
            let mut phone = party
                .and_then(|p| p.phone.as_ref())
                .map(|p| p.as_str().to_string())
                .unwrap_or_default();
            let id_number = party
                .and_then(|p| p.id_number.as_ref())
                .map(|p| p.as_str().to_string())
                .unwrap_or_default();
            if original.is_some() {
                if rng.below(5) == 0 {
                    name = misspell(&name);
                }
                if rng.below(2) == 0 {
                    phone.clear();
                }
            }
            let place = if spec.place_is_code {
                state.location.node_code.clone()
            } else {
                place_name(r, &state)
            };
            let when = format_date(
                state.occurred_at.unwrap_or(state.registered_at),
                rng.below(3),
            );
            let amount = state
                .amount_fen
                .map(|f| format!("{}", f / 100))
                .unwrap_or_default();
            let all = [
                source_id.clone(),
                text,
                spec.second_text.to_string(),
                place,
                when,
                name,
                phone,
                id_number,
                String::new(),
                amount,
            ];
            export.rows.push(
                all.into_iter()
                    .zip(spec.header)
                    .filter(|(_, h)| !h.is_empty())
                    .map(|(v, _)| v)
                    .collect(),
            );
            if let Some(id) = original {
                export.re_reports.push((source_id, id));
            }
        }
        out.push(export);
    }
    Ok(out)
}

fn vary(text: &str, framing: &str, rng: &mut Rng) -> String {
    let mut clauses: Vec<&str> = text
        .split_inclusive(['，', '。', '；'])
        .filter(|c| !c.trim().is_empty())
        .collect();
    if clauses.len() >= 4 {
        let drop = 1 + rng.below(clauses.len() as u64 - 1) as usize;
        clauses.remove(drop);
    }
    let mut t: String = clauses.concat();
    for (a, b) in SWAPS {
        if rng.below(2) == 0 {
            t = t.replace(a, b);
        }
    }
    format!("{framing}{t}")
}

fn misspell(name: &str) -> String {
    let chars: Vec<char> = name.chars().collect();
    for (i, c) in chars.iter().enumerate().skip(1) {
        if let Some((_, b)) = HOMOPHONES.iter().find(|(a, _)| a == c) {
            let mut v = chars.clone();
            v[i] = *b;
            return v.into_iter().collect();
        }
    }
    // No mistakable character: the given name's last character written with its homophone
    // table's first entry's twin, as a clerk mishearing it would.
    match chars.len() {
        0 | 1 => name.to_string(),
        n => {
            let mut v = chars.clone();
            v[n - 1] = if v[n - 1] == '伟' { '玮' } else { '伟' };
            v.into_iter().collect()
        }
    }
}

/// "城关镇东门村": the town and village names of a case's place.
fn place_name(r: &Reference, s: &CaseState) -> String {
    for t in &r.county.towns {
        for v in &t.villages {
            if s.location.node_path.contains(&format!("/{}/", v.node.code)) {
                return format!("{}{}", t.node.name, v.node.name);
            }
        }
    }
    s.location.node_code.clone()
}

/// A date as exports write it: `2025-03-03 14:05`, `2025/3/3`, or `2025年3月3日 14时5分`.
fn format_date(at: Millis, style: u64) -> String {
    let t = chrono::DateTime::from_timestamp_millis(at)
        .unwrap_or_default()
        .with_timezone(&fengqiao_domain::time::cst());
    match style {
        0 => t.format("%Y-%m-%d %H:%M").to_string(),
        1 => format!("{}/{}/{}", t.year(), t.month(), t.day()),
        _ => format!(
            "{}年{}月{}日 {}时{}分",
            t.year(),
            t.month(),
            t.day(),
            chrono::Timelike::hour(&t),
            chrono::Timelike::minute(&t)
        ),
    }
}
