//! Records from other systems (police incidents, court pre-litigation cases, petitions, labour
//! arbitration, judicial mediation, the 12345 hotline) read into cases.
//!
//! Owns: a channel's field mapping (kept as editable TOML by the deployment), reading one
//! source row through it into a [`Record`] or a [`RowError`] naming the line and the field,
//! and the date formats Chinese exports use. Decoding files (encodings, CSV, JSON) and writing
//! cases are elsewhere.
use crate::case::{Channel, DisputeType};
use crate::time::Millis;
use chrono::{NaiveDate, NaiveDateTime, NaiveTime};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use utoipa::ToSchema;

/// How one channel's export becomes cases: which source column holds what.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Mapping {
    pub channel: Channel,
    /// The source system's name, for people.
    pub name: String,
    pub fields: FieldMap,
    /// The source's category values → dispute types (unmapped values leave the type to the
    /// text reader).
    #[serde(default)]
    pub types: BTreeMap<String, DisputeType>,
}

/// Source column names. `text` may list several columns, joined in order.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FieldMap {
    pub source_id: String,
    pub text: Vec<String>,
    /// A jurisdiction code column (village or grid) …
    #[serde(default)]
    pub node_code: Option<String>,
    /// … or a place name resolved against the jurisdiction names.
    #[serde(default)]
    pub place: Option<String>,
    #[serde(default)]
    pub occurred_at: Option<String>,
    #[serde(default)]
    pub party_name: Option<String>,
    #[serde(default)]
    pub party_phone: Option<String>,
    #[serde(default)]
    pub party_id_number: Option<String>,
    #[serde(default)]
    pub dispute_type: Option<String>,
    /// An amount in yuan (`12,000`, `1.2万`, `3500元`).
    #[serde(default)]
    pub amount_yuan: Option<String>,
    /// Where the source puts the address (kept with the case).
    #[serde(default)]
    pub address: Option<String>,
    /// When the source last changed the record: rows not newer than the channel's watermark
    /// (the newest such time of the last import) are skipped, so a daily full export costs
    /// only its new and changed rows.
    #[serde(default)]
    pub updated_at: Option<String>,
}

impl Mapping {
    /// The columns every row must have.
    pub fn required_columns(&self) -> Vec<&str> {
        let f = &self.fields;
        let mut cols = vec![f.source_id.as_str()];
        cols.extend(f.text.iter().map(String::as_str));
        cols.extend(f.node_code.as_deref().or(f.place.as_deref()));
        cols
    }

    /// Columns the mapping names that a file's header lacks.
    pub fn missing_columns(&self, header: &[String]) -> Vec<String> {
        self.required_columns()
            .into_iter()
            .filter(|c| !header.iter().any(|h| h == c))
            .map(str::to_string)
            .collect()
    }
}

/// One source row: its line in the file (1-based, the header is line 1) and its values by
/// column name.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Row {
    pub line: usize,
    pub values: BTreeMap<String, String>,
}

/// A row read through a mapping.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Record {
    pub source_id: String,
    pub text: String,
    pub node_code: Option<String>,
    pub place: Option<String>,
    pub occurred_at: Option<Millis>,
    pub party_name: Option<String>,
    pub party_phone: Option<String>,
    pub party_id_number: Option<String>,
    pub dispute_type: Option<DisputeType>,
    pub amount_fen: Option<i64>,
    pub address: Option<String>,
    pub updated_at: Option<Millis>,
}

/// Why a row did not land.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct RowError {
    /// 1-based line in the file (or position in a pushed batch).
    pub line: usize,
    pub source_id: Option<String>,
    pub field: String,
    /// Stable code: `empty_id`, `no_text`, `no_place`, `not_a_date`, `not_an_amount`, or the
    /// application's error code when the record was refused later (e.g. `unknown_place`).
    pub code: String,
    /// What was wrong, with the offending value.
    pub reason: String,
}

/// Reads one row through a mapping.
pub fn read_row(m: &Mapping, row: &Row) -> Result<Record, RowError> {
    let get = |col: &Option<String>| {
        col.as_deref()
            .and_then(|c| row.values.get(c))
            .map(|v| v.trim().to_string())
            .filter(|v| !v.is_empty())
    };
    let source_id = row
        .values
        .get(&m.fields.source_id)
        .map(|v| v.trim().to_string())
        .unwrap_or_default();
    let err = |field: &str, code: &str, reason: String| RowError {
        line: row.line,
        source_id: (!source_id.is_empty()).then(|| source_id.clone()),
        field: field.to_string(),
        code: code.to_string(),
        reason,
    };
    if source_id.is_empty() {
        return Err(err(
            &m.fields.source_id,
            "empty_id",
            "empty record id".into(),
        ));
    }
    let text = m
        .fields
        .text
        .iter()
        .filter_map(|c| row.values.get(c))
        .map(|v| v.trim())
        .filter(|v| !v.is_empty())
        .collect::<Vec<_>>()
        .join("\n");
    if text.is_empty() {
        return Err(err(&m.fields.text.join("+"), "no_text", "no text".into()));
    }
    let node_code = get(&m.fields.node_code);
    let place = get(&m.fields.place);
    if node_code.is_none() && place.is_none() {
        let col = m
            .fields
            .node_code
            .clone()
            .or(m.fields.place.clone())
            .unwrap_or_default();
        return Err(err(&col, "no_place", "no place".into()));
    }
    let occurred_at = match get(&m.fields.occurred_at) {
        Some(v) => Some(parse_datetime(&v).map(local_millis).ok_or_else(|| {
            err(
                m.fields.occurred_at.as_deref().unwrap_or(""),
                "not_a_date",
                format!("not a date: {v}"),
            )
        })?),
        None => None,
    };
    let amount_fen = match get(&m.fields.amount_yuan) {
        Some(v) => Some(parse_yuan(&v).ok_or_else(|| {
            err(
                m.fields.amount_yuan.as_deref().unwrap_or(""),
                "not_an_amount",
                format!("not an amount: {v}"),
            )
        })?),
        None => None,
    };
    let updated_at = match get(&m.fields.updated_at) {
        Some(v) => Some(parse_datetime(&v).map(local_millis).ok_or_else(|| {
            err(
                m.fields.updated_at.as_deref().unwrap_or(""),
                "not_a_date",
                format!("not a date: {v}"),
            )
        })?),
        None => None,
    };
    Ok(Record {
        source_id,
        updated_at,
        text,
        node_code,
        place,
        occurred_at,
        party_name: get(&m.fields.party_name),
        party_phone: get(&m.fields.party_phone),
        party_id_number: get(&m.fields.party_id_number),
        dispute_type: get(&m.fields.dispute_type).and_then(|v| m.types.get(&v).copied()),
        amount_fen,
        address: get(&m.fields.address),
    })
}

fn local_millis(dt: NaiveDateTime) -> Millis {
    dt.and_local_timezone(crate::time::cst())
        .single()
        .map(|t| t.timestamp_millis())
        .unwrap_or_default()
}

/// A date or date-time as Chinese exports write them: `2025-03-03 14:05:06`, `2025/3/3 14:05`,
/// `2025.03.03`, `20250303`, `2025年3月3日 14时5分`, `2025年3月3日下午2点`, an ISO `T`
/// form, or an Excel serial day number (`45719`, `45719.5`). China time.
pub fn parse_datetime(s: &str) -> Option<NaiveDateTime> {
    let s = s.trim();
    if let Ok(serial) = s.parse::<f64>() {
        // Excel's day 1 is 1900-01-01 and it counts a 29 February 1900 that never was.
        if (20_000.0..80_000.0).contains(&serial) {
            let base = NaiveDate::from_ymd_opt(1899, 12, 30)?.and_hms_opt(0, 0, 0)?;
            let secs = (serial * 86_400.0).round() as i64;
            return base.checked_add_signed(chrono::Duration::seconds(secs));
        }
    }
    if s.len() == 8 && s.bytes().all(|b| b.is_ascii_digit()) {
        return NaiveDate::parse_from_str(s, "%Y%m%d")
            .ok()
            .and_then(|d| d.and_hms_opt(0, 0, 0));
    }
    // Normalise the Chinese forms to `Y-M-D H:M:S`.
    let pm = s.contains("下午") || s.contains("晚上") || s.contains("晚");
    let mut norm = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '年' | '月' | '/' | '.' => norm.push('-'),
            '日' | '号' | 'T' => norm.push(' '),
            '时' | '点' | '：' => norm.push(':'),
            '分' => norm.push(':'),
            '秒' => {}
            c if c.is_ascii_digit() || c == '-' || c == ':' || c == ' ' => norm.push(c),
            _ => norm.push(' '),
        }
    }
    let mut parts = norm.split_whitespace();
    let date_part = parts.next()?;
    let nums: Vec<u32> = date_part
        .split('-')
        .filter(|p| !p.is_empty())
        .map(|p| p.parse().ok())
        .collect::<Option<_>>()?;
    let [y, m, d] = nums[..] else { return None };
    let date = NaiveDate::from_ymd_opt(i32::try_from(y).ok()?, m, d)?;
    let rest: String = parts.collect::<Vec<_>>().join("");
    let hms: Vec<u32> = rest
        .split(':')
        .filter(|p| !p.is_empty())
        .map(|p| p.parse().ok())
        .collect::<Option<_>>()?;
    let (mut h, mi, se) = match hms[..] {
        [] => (0, 0, 0),
        [h] => (h, 0, 0),
        [h, mi] => (h, mi, 0),
        [h, mi, se, ..] => (h, mi, se),
    };
    if pm && h < 12 {
        h += 12;
    }
    Some(date.and_time(NaiveTime::from_hms_opt(h, mi, se)?))
}

/// An amount in yuan as written in exports, in fen: `12000`, `12,000.50`, `3500元`, `1.2万`,
/// `1.2万元`.
pub fn parse_yuan(s: &str) -> Option<i64> {
    let t: String = s
        .trim()
        .trim_end_matches('元')
        .chars()
        .filter(|c| *c != ',' && *c != '，' && *c != '¥' && *c != '￥')
        .collect();
    let (num, factor) = match t.strip_suffix('万') {
        Some(n) => (n, 10_000.0),
        None => (t.as_str(), 1.0),
    };
    let v: f64 = num.trim().parse().ok()?;
    (v >= 0.0 && v.is_finite()).then(|| (v * factor * 100.0).round() as i64)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mapping() -> Mapping {
        Mapping {
            channel: Channel::Police,
            name: "公安警情".into(),
            fields: FieldMap {
                source_id: "警情编号".into(),
                text: vec!["简要警情".into(), "处置情况".into()],
                node_code: None,
                place: Some("发生地点".into()),
                occurred_at: Some("报警时间".into()),
                party_name: Some("报警人".into()),
                party_phone: Some("联系电话".into()),
                party_id_number: None,
                dispute_type: Some("警情类别".into()),
                amount_yuan: Some("涉及金额".into()),
                address: None,
                updated_at: None,
            },
            types: [("邻里纠纷".to_string(), DisputeType::Neighbourhood)].into(),
        }
    }

    fn row(line: usize, pairs: &[(&str, &str)]) -> Row {
        Row {
            line,
            values: pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        }
    }

    #[test]
    fn common_chinese_date_formats_are_read() {
        let dt = |y, m, d, h, mi| {
            NaiveDate::from_ymd_opt(y, m, d)
                .unwrap()
                .and_hms_opt(h, mi, 0)
                .unwrap()
        };
        for (s, want) in [
            ("2025-03-03 14:05", dt(2025, 3, 3, 14, 5)),
            ("2025/3/3 14:05:00", dt(2025, 3, 3, 14, 5)),
            ("2025.03.03", dt(2025, 3, 3, 0, 0)),
            ("20250303", dt(2025, 3, 3, 0, 0)),
            ("2025年3月3日", dt(2025, 3, 3, 0, 0)),
            ("2025年3月3日 14时5分", dt(2025, 3, 3, 14, 5)),
            ("2025年3月3日下午2点", dt(2025, 3, 3, 14, 0)),
            ("2025-03-03T14:05:00", dt(2025, 3, 3, 14, 5)),
            ("45719.5", dt(2025, 3, 3, 12, 0)),
        ] {
            assert_eq!(parse_datetime(s), Some(want), "{s}");
        }
        for bad in ["昨天", "2025-13-01", "3/3", ""] {
            assert_eq!(parse_datetime(bad), None, "{bad}");
        }
        assert_eq!(parse_yuan("1.2万元"), Some(1_200_000));
        assert_eq!(parse_yuan("12,000.50"), Some(1_200_050));
        assert_eq!(parse_yuan("很多"), None);
    }

    #[test]
    fn a_row_becomes_a_record_or_an_error_naming_its_line_and_field() {
        let m = mapping();
        let r = read_row(
            &m,
            &row(
                2,
                &[
                    ("警情编号", " JQ001 "),
                    ("简要警情", "邻居装修噪音扰民发生争执"),
                    ("处置情况", "民警到场调解"),
                    ("发生地点", "城关镇东门村"),
                    ("报警时间", "2025年3月3日 9时30分"),
                    ("警情类别", "邻里纠纷"),
                    ("涉及金额", ""),
                ],
            ),
        )
        .unwrap();
        assert_eq!(r.source_id, "JQ001");
        assert_eq!(r.text, "邻居装修噪音扰民发生争执\n民警到场调解");
        assert_eq!(r.dispute_type, Some(DisputeType::Neighbourhood));
        assert_eq!(r.amount_fen, None);
        assert!(r.occurred_at.is_some());
        let e = read_row(
            &m,
            &row(
                7,
                &[
                    ("警情编号", "JQ002"),
                    ("简要警情", "债务纠纷"),
                    ("发生地点", "东门村"),
                    ("报警时间", "上周"),
                ],
            ),
        )
        .unwrap_err();
        assert_eq!((e.line, e.field.as_str()), (7, "报警时间"));
        assert_eq!(e.source_id.as_deref(), Some("JQ002"));
        let e = read_row(
            &m,
            &row(9, &[("警情编号", "JQ003"), ("发生地点", "东门村")]),
        )
        .unwrap_err();
        assert_eq!((e.code.as_str(), e.reason.as_str()), ("no_text", "no text"));
        assert_eq!(
            m.missing_columns(&["警情编号".into(), "简要警情".into()]),
            vec!["处置情况".to_string(), "发生地点".to_string()]
        );
    }
}
