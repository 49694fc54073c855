//! Time expressions, absolute and relative, normalised to an interval `[start, end)` of local
//! time relative to the report time: 2024年3月5日下午, 3月5日, 昨天晚上, 上周三, 前天,
//! 去年年底, 春节前, 农历正月初八, 当天18时许, 同年11月13日1时.
//!
//! Conventions (the evaluation table in `data/time-expressions.tsv` follows them):
//! - a date without a year is the latest such date not after the report day (or the year of
//!   the last date mentioned before it in the same text);
//! - parts of the day: 凌晨 0–6, 早上/早晨/清晨 6–9, 上午 8–12, 中午 11–13, 下午 13–18,
//!   傍晚 17–19, 晚上/夜里/夜间 18–24, 深夜/半夜 22–02, 白天 6–18;
//! - a clock hour is the hour `[H:00, H+1:00)`; with minutes the minute; 下午3点 is 15:00;
//! - 上旬/月初 days 1–10, 中旬/月中 11–20, 下旬/月底/月末 21–end; 年初 January, 年中 June–July,
//!   年底/年末 December, 上半年 January–June, 下半年 July–December; seasons by months
//!   (春 3–5, 夏 6–8, 秋 9–11, 冬 12–2);
//! - weeks start on Monday; a bare weekday (周三) is the latest one not after the report day;
//! - 近日/最近/近期/近来/日前: the 7 days before the report; 前几天/这几天: 5 days; 前段时间: 30
//!   days; 刚才/刚刚: the hour before the report;
//! - festivals: 春节 is 除夕 to 初六, 国庆 1–7 October, 五一 1–5 May, 元旦 1 January; the lunar
//!   ones (元宵, 端午, 中秋, 小年, 除夕) are days; X前 is the 15 days before (30 for 春节), X后
//!   the 15 days after (30 for 春节), X期间 the festival itself.

use crate::numbers::cn_digit;
use crate::{Doc, Span};
use chrono::{Datelike, Duration, NaiveDate, NaiveDateTime, NaiveTime, Weekday};
use lunardate::LunarDate;
use serde::{Deserialize, Serialize};
use std::cell::Cell;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Grain {
    Year,
    Season,
    Month,
    Week,
    Days,
    Day,
    PartOfDay,
    Hour,
    Minute,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TimeMention {
    pub span: Span,
    pub text: String,
    pub start: NaiveDateTime,
    /// Exclusive.
    pub end: NaiveDateTime,
    pub grain: Grain,
    /// 许, 左右, 前后, 某日, 近日…
    pub approximate: bool,
}

#[derive(Debug, Clone, Copy)]
struct Range {
    start: NaiveDateTime,
    end: NaiveDateTime,
    grain: Grain,
}

fn day_start(d: NaiveDate) -> NaiveDateTime {
    d.and_time(NaiveTime::MIN)
}

fn days(start: NaiveDate, end: NaiveDate, grain: Grain) -> Range {
    Range {
        start: day_start(start),
        end: day_start(end),
        grain,
    }
}

fn one_day(d: NaiveDate) -> Range {
    days(d, d + Duration::days(1), Grain::Day)
}

fn ymd(y: i32, m: u32, d: u32) -> Option<NaiveDate> {
    NaiveDate::from_ymd_opt(y, m, d)
}

fn month_range(y: i32, m: u32) -> Option<Range> {
    let s = ymd(y, m, 1)?;
    let e = if m == 12 {
        ymd(y + 1, 1, 1)?
    } else {
        ymd(y, m + 1, 1)?
    };
    Some(days(s, e, Grain::Month))
}

fn months_range(y: i32, m1: u32, m2: u32, grain: Grain) -> Option<Range> {
    let s = month_range(y, m1)?;
    let e = month_range(y, m2)?;
    Some(Range {
        start: s.start,
        end: e.end,
        grain,
    })
}

fn year_range(y: i32) -> Option<Range> {
    Some(days(ymd(y, 1, 1)?, ymd(y + 1, 1, 1)?, Grain::Year))
}

/// The solar date of a lunar date (non-leap month).
pub fn lunar_to_solar(year: i32, month: u32, day: u32) -> Option<NaiveDate> {
    if !(1901..=2098).contains(&year) {
        return None;
    }
    LunarDate::new(year, month, day, false).to_solar_date().ok()
}

/// 春节 (lunar New Year's day) of a solar year.
pub fn spring_festival(year: i32) -> Option<NaiveDate> {
    lunar_to_solar(year, 1, 1)
}

fn lunar_year_of(d: NaiveDate) -> Option<i32> {
    if !(1901..=2098).contains(&d.year()) {
        return None;
    }
    LunarDate::from_naive_date(&d).ok().map(|l| l.year())
}

struct State {
    report: NaiveDateTime,
    /// The last date mentioned (for 当天, 次日, 同年, dates without a year).
    anchor: Cell<Option<NaiveDate>>,
}

impl State {
    fn today(&self) -> NaiveDate {
        self.report.date()
    }
    fn anchor_day(&self) -> NaiveDate {
        self.anchor.get().unwrap_or_else(|| self.today())
    }
}

/// A number of at most `max` arabic digits, or a Chinese numeral of at most `max + 1` chars.
fn read_num(doc: &Doc, i: usize, max: usize) -> Option<(u32, usize)> {
    let c = &doc.chars;
    let mut j = i;
    while j < c.len() && c[j].is_ascii_digit() && j - i < max {
        j += 1;
    }
    if j > i {
        if j < c.len() && c[j].is_ascii_digit() {
            return None; // too many digits
        }
        return doc.slice(i, j).parse().ok().map(|v| (v, j));
    }
    while j < c.len() && (cn_digit(c[j]).is_some() || matches!(c[j], '十' | '廿')) && j - i <= max
    {
        j += 1;
    }
    if j == i {
        return None;
    }
    let s = doc.slice(i, j).replace('廿', "二十");
    crate::numbers::parse_cn(&s)
        .and_then(|v| u32::try_from(v).ok())
        .map(|v| (v, j))
}

/// A four-digit year: 2024年, 二〇二四年.
fn read_year(doc: &Doc, i: usize) -> Option<(i32, usize)> {
    let c = &doc.chars;
    if i + 4 < c.len() + 1 && c.get(i + 4) == Some(&'年') {
        let s = doc.slice(i, i + 4);
        let v: Option<i32> = if s.chars().all(|x| x.is_ascii_digit()) {
            s.parse().ok()
        } else if s.chars().all(|x| cn_digit(x).is_some()) {
            crate::numbers::parse_cn(&s).and_then(|v| i32::try_from(v).ok())
        } else {
            None
        };
        if let Some(y) = v.filter(|y| (1949..=2100).contains(y)) {
            return Some((y, i + 5));
        }
    }
    None
}

const RELATIVE_YEARS: [(&str, i32); 9] = [
    ("今年", 0),
    ("本年", 0),
    ("去年", -1),
    ("上年", -1),
    ("前年", -2),
    ("明年", 1),
    ("同年", 100),
    ("当年", 100),
    ("次年", 101),
];

const PARTS_OF_DAY: [(&str, u32, u32); 16] = [
    ("凌晨", 0, 6),
    ("早上", 6, 9),
    ("早晨", 6, 9),
    ("清晨", 6, 9),
    ("上午", 8, 12),
    ("中午", 11, 13),
    ("下午", 13, 18),
    ("傍晚", 17, 19),
    ("晚上", 18, 24),
    ("夜里", 18, 24),
    ("夜间", 18, 24),
    ("深夜", 22, 26),
    ("半夜", 22, 26),
    ("白天", 6, 18),
    ("晚", 18, 24),
    ("早", 6, 9),
];

/// An hour range of the day, `[from, to)`.
type Hours = Option<(u32, u32)>;

const RELATIVE_DAYS: [(&str, i64, Hours); 22] = [
    ("大前天", -3, None),
    ("前天", -2, None),
    ("前日", -2, None),
    ("昨天", -1, None),
    ("昨日", -1, None),
    ("昨晚", -1, Some((18, 24))),
    ("今天", 0, None),
    ("今日", 0, None),
    ("今晚", 0, Some((18, 24))),
    ("今早", 0, Some((6, 9))),
    ("明天", 1, None),
    ("后天", 2, None),
    ("当天", 100, None),
    ("当日", 100, None),
    ("同日", 100, None),
    ("当晚", 100, Some((18, 24))),
    ("同晚", 100, Some((18, 24))),
    ("次日", 101, None),
    ("翌日", 101, None),
    ("第二天", 101, None),
    ("隔天", 101, None),
    ("次日凌晨", 101, Some((0, 6))),
];

const FUZZY: [(&str, i64, i64); 12] = [
    // (word, days back from the report day for the start, days for the end; 0 = report time)
    ("近日", 7, 0),
    ("最近", 7, 0),
    ("近期", 7, 0),
    ("近来", 7, 0),
    ("日前", 7, 0),
    ("前几天", 5, 0),
    ("这几天", 5, 0),
    ("前些天", 5, 0),
    ("前段时间", 30, 0),
    ("前一段时间", 30, 0),
    ("刚才", -1, 0),
    ("刚刚", -1, 0),
];

fn weekday_of(c: char) -> Option<u32> {
    Some(match c {
        '一' | '1' => 0,
        '二' | '2' => 1,
        '三' | '3' => 2,
        '四' | '4' => 3,
        '五' | '5' => 4,
        '六' | '6' => 5,
        '日' | '天' | '7' => 6,
        _ => return None,
    })
}

fn monday_of(d: NaiveDate) -> NaiveDate {
    d - Duration::days(i64::from(d.weekday().num_days_from_monday()))
}

/// A festival's interval in a given solar year.
type ByYear = Box<dyn Fn(i32) -> Option<(NaiveDate, NaiveDate)>>;

/// Festivals: (word, lunar?, month, day, length in days).
const FESTIVALS: [(&str, bool, u32, u32, i64); 14] = [
    ("春节", true, 1, 1, 7),
    ("过年", true, 1, 1, 7),
    ("大年三十", true, 0, 0, 1),
    ("年三十", true, 0, 0, 1),
    ("除夕", true, 0, 0, 1),
    ("元宵节", true, 1, 15, 1),
    ("元宵", true, 1, 15, 1),
    ("端午节", true, 5, 5, 1),
    ("端午", true, 5, 5, 1),
    ("中秋节", true, 8, 15, 1),
    ("中秋", true, 8, 15, 1),
    ("小年", true, 12, 23, 1),
    ("国庆节", false, 10, 1, 7),
    ("国庆", false, 10, 1, 7),
];
const SOLAR_FESTIVALS: [(&str, u32, u32, i64); 4] = [
    ("元旦", 1, 1, 1),
    ("五一", 5, 1, 5),
    ("劳动节", 5, 1, 5),
    ("清明节", 4, 4, 1),
];

/// The festival's interval in the (solar) year `y`.
fn festival_in(y: i32, lunar: bool, m: u32, d: u32, len: i64) -> Option<(NaiveDate, NaiveDate)> {
    let start = if lunar {
        if m == 0 {
            // 除夕: the day before 春节.
            spring_festival(y)? - Duration::days(1)
        } else {
            // The lunar date whose solar date falls in year y (小年 of lunar year y-1 falls in y).
            let ly = if m == 12 { y - 1 } else { y };
            lunar_to_solar(ly, m, d)?
        }
    } else {
        ymd(y, m, d)?
    };
    let start = if lunar && m == 1 && d == 1 && len > 1 {
        start - Duration::days(1) // 春节 holiday starts on 除夕
    } else {
        start
    };
    Some((start, start + Duration::days(len)))
}

fn festival_range(
    st: &State,
    found: (NaiveDate, NaiveDate),
    by_year: &dyn Fn(i32) -> Option<(NaiveDate, NaiveDate)>,
    modifier: &str,
    long: bool,
    explicit_year: bool,
) -> Range {
    let margin = if long { 30 } else { 15 };
    let apply = |(s, e): (NaiveDate, NaiveDate)| match modifier {
        "前" => (s - Duration::days(margin), s),
        "后" => (e, e + Duration::days(margin)),
        "前后" => (s - Duration::days(7), e + Duration::days(7)),
        _ => (s, e),
    };
    let mut best = apply(found);
    if !explicit_year {
        // The occurrence containing the report day, else the latest one starting before it.
        let today = st.today();
        let y = st.anchor_day().year();
        let mut chosen: Option<(NaiveDate, NaiveDate)> = None;
        for yy in [y + 1, y, y - 1] {
            if let Some(r) = by_year(yy).map(apply) {
                if r.0 <= today && today < r.1 {
                    chosen = Some(r);
                    break;
                }
                if r.0 <= today && chosen.is_none_or(|c| r.0 > c.0) {
                    chosen = Some(r);
                }
            }
        }
        if let Some(c) = chosen {
            best = c;
        }
    }
    days(best.0, best.1, Grain::Days)
}

/// The day of a lunar date expression after 农历/正月: 初八, 十五, 廿三, 二十三, 8, 8日.
fn read_lunar_day(doc: &Doc, i: usize) -> Option<(u32, usize)> {
    let (i, prefix) = if doc.has_at(i, "初") {
        (i + 1, true)
    } else {
        (i, false)
    };
    let (v, mut j) = read_num(doc, i, 2)?;
    if prefix && v > 10 {
        return None;
    }
    if matches!(doc.at(j), Some('日' | '号')) {
        j += 1;
    }
    (1..=30).contains(&v).then_some((v, j))
}

/// 农历三月初八, 正月初八, 腊月二十三, 阴历八月十五.
fn lunar_expr(doc: &Doc, i: usize, st: &State) -> Option<(Range, usize)> {
    let mut j = i;
    let mut explicit = false;
    if let Some(w) = doc.any_at(j, &["农历", "阴历", "旧历"]) {
        j += w.chars().count();
        explicit = true;
    }
    let (month, after_month) = if doc.has_at(j, "正月") {
        (1, j + 2)
    } else if doc.has_at(j, "腊月") {
        (12, j + 2)
    } else if doc.has_at(j, "冬月") {
        (11, j + 2)
    } else if explicit {
        let (m, k) = read_num(doc, j, 2)?;
        if doc.at(k) != Some('月') || !(1..=12).contains(&m) {
            return None;
        }
        (m, k + 1)
    } else {
        return None;
    };
    let (day, end) = match read_lunar_day(doc, after_month) {
        Some(x) => (Some(x.0), x.1),
        None => (None, after_month),
    };
    let today = st.today();
    let ly = lunar_year_of(st.anchor_day())?;
    let resolve = |y: i32| -> Option<(NaiveDate, NaiveDate)> {
        match day {
            Some(d) => {
                let s = lunar_to_solar(y, month, d)?;
                Some((s, s + Duration::days(1)))
            }
            None => {
                let s = lunar_to_solar(y, month, 1)?;
                let e = if month == 12 {
                    lunar_to_solar(y + 1, 1, 1)?
                } else {
                    lunar_to_solar(y, month + 1, 1)?
                };
                Some((s, e))
            }
        }
    };
    let (s, e) = match resolve(ly) {
        Some(r) if r.0 <= today => r,
        _ => resolve(ly - 1)?,
    };
    let grain = if day.is_some() {
        Grain::Day
    } else {
        Grain::Month
    };
    Some((days(s, e, grain), end))
}

fn festival_expr(doc: &Doc, i: usize, st: &State, year: Option<i32>) -> Option<(Range, usize)> {
    let mut hit: Option<(usize, ByYear, bool)> = None;
    for (w, lunar, m, d, len) in FESTIVALS {
        if doc.has_at(i, w) {
            hit = Some((
                w.chars().count(),
                Box::new(move |y| festival_in(y, lunar, m, d, len)),
                lunar && m == 1 && d == 1,
            ));
            break;
        }
    }
    if hit.is_none() {
        for (w, m, d, len) in SOLAR_FESTIVALS {
            if doc.has_at(i, w) {
                hit = Some((
                    w.chars().count(),
                    Box::new(move |y| festival_in(y, false, m, d, len)),
                    false,
                ));
                break;
            }
        }
    }
    let (wlen, by_year, long) = hit?;
    let mut j = i + wlen;
    let modifier = match doc.any_at(
        j,
        &["前后", "期间", "前夕", "前", "后", "时", "那天", "当天"],
    ) {
        Some(m) => {
            j += m.chars().count();
            match m {
                "前夕" => "前",
                "那天" | "当天" | "时" => "",
                x => x,
            }
        }
        None => "",
    };
    let y = year.unwrap_or_else(|| st.anchor_day().year());
    let found = by_year(y)?;
    let r = festival_range(st, found, &*by_year, modifier, long, year.is_some());
    Some((r, j))
}

/// Day-of-month modifiers after a month: 初, 中旬, 底…
fn xun(doc: &Doc, j: usize) -> Option<(u32, u32, usize)> {
    for (w, a, b) in [
        ("上旬", 1, 10),
        ("中旬", 11, 20),
        ("下旬", 21, 31),
        ("月初", 1, 10),
        ("月中", 11, 20),
        ("月底", 21, 31),
        ("月末", 21, 31),
        ("初", 1, 10),
        ("中", 11, 20),
        ("底", 21, 31),
        ("末", 21, 31),
    ] {
        if doc.has_at(j, w) {
            return Some((a, b, j + w.chars().count()));
        }
    }
    None
}

fn clamp_days(y: i32, m: u32, a: u32, b: u32) -> Option<Range> {
    let month = month_range(y, m)?;
    let s = ymd(y, m, a)?;
    let last = (month.end.date() - Duration::days(1)).day();
    let e = ymd(y, m, b.min(last))? + Duration::days(1);
    Some(days(s, e, Grain::Days))
}

/// Month (and day) after a known year: 3月, 3月5日, 3月初, 4、5月间, 3月份.
fn month_day(doc: &Doc, j: usize, y: i32) -> Option<(Range, usize, bool)> {
    let (m, mut k) = read_num(doc, j, 2)?;
    let mut m2 = m;
    // 4、5月 / 4至5月 / 4-5月
    if matches!(doc.at(k), Some('、' | '-' | '至' | '到' | '~')) {
        if let Some((b, k2)) = read_num(doc, k + 1, 2) {
            if doc.at(k2) == Some('月') && (m..=12).contains(&b) {
                m2 = b;
                k = k2;
            }
        }
    }
    if doc.at(k) != Some('月') || !(1..=12).contains(&m) {
        return None;
    }
    k += 1;
    if doc.at(k) == Some('份') {
        k += 1;
    }
    if m2 != m {
        let r = months_range(y, m, m2, Grain::Month)?;
        let k = if doc.has_at(k, "间") { k + 1 } else { k };
        return Some((r, k, false));
    }
    if let Some((d, k2)) = read_num(doc, k, 2) {
        if matches!(doc.at(k2), Some('日' | '号')) && (1..=31).contains(&d) {
            let date = ymd(y, m, d)?;
            let mut end = k2 + 1;
            let mut last = date;
            // 6月15日、17日
            while doc.at(end) == Some('、') {
                match read_num(doc, end + 1, 2) {
                    Some((d2, k3)) if matches!(doc.at(k3), Some('日' | '号')) => {
                        if let Some(x) = ymd(y, m, d2).filter(|x| *x > last) {
                            last = x;
                            end = k3 + 1;
                        } else {
                            break;
                        }
                    }
                    _ => break,
                }
            }
            let grain = if last == date {
                Grain::Day
            } else {
                Grain::Days
            };
            return Some((days(date, last + Duration::days(1), grain), end, false));
        }
    }
    if let Some((a, b, k2)) = xun(doc, k) {
        return Some((clamp_days(y, m, a, b)?, k2, false));
    }
    Some((month_range(y, m)?, k, false))
}

/// Year-led expressions: 2024年…, 今年…, 去年年底, 同年11月13日.
fn year_expr(doc: &Doc, i: usize, st: &State) -> Option<(Range, usize, bool)> {
    let (y, j, explicit) = if let Some((y, j)) = read_year(doc, i) {
        (y, j, true)
    } else {
        let (w, off) = RELATIVE_YEARS.iter().find(|(w, _)| doc.has_at(i, w))?;
        let base = match off {
            100 => st.anchor_day().year(),
            101 => st.anchor_day().year() + 1,
            o => st.today().year() + o,
        };
        (base, i + w.chars().count(), false)
    };
    let _ = explicit;
    if let Some(r) = month_day(doc, j, y) {
        return Some(r);
    }
    if let Some((r, k)) = festival_expr(doc, j, st, Some(y)) {
        return Some((r, k, false));
    }
    let parts: [(&str, u32, u32, Grain); 13] = [
        ("年初", 1, 1, Grain::Month),
        ("初", 1, 1, Grain::Month),
        ("年中", 6, 7, Grain::Month),
        ("年底", 12, 12, Grain::Month),
        ("年末", 12, 12, Grain::Month),
        ("底", 12, 12, Grain::Month),
        ("上半年", 1, 6, Grain::Season),
        ("下半年", 7, 12, Grain::Season),
        ("春天", 3, 5, Grain::Season),
        ("春季", 3, 5, Grain::Season),
        ("夏天", 6, 8, Grain::Season),
        ("夏季", 6, 8, Grain::Season),
        ("秋天", 9, 11, Grain::Season),
    ];
    for (w, a, b, g) in parts.iter().chain(
        [
            ("秋季", 9, 11, Grain::Season),
            ("冬天", 12, 14, Grain::Season),
            ("冬季", 12, 14, Grain::Season),
        ]
        .iter(),
    ) {
        if doc.has_at(j, w) {
            let r = if *b > 12 {
                let s = ymd(y, *a, 1)?;
                let e = ymd(y + 1, b - 12 + 1, 1)?;
                days(s, e, *g)
            } else {
                months_range(y, *a, *b, *g)?
            };
            return Some((r, j + w.chars().count(), false));
        }
    }
    Some((year_range(y)?, j, false))
}

/// The latest date with this month and day not after the report (or in the anchor's year).
fn infer_year(st: &State, m: u32) -> i32 {
    if let Some(a) = st.anchor.get() {
        return a.year();
    }
    let t = st.today();
    if m > t.month() {
        t.year() - 1
    } else {
        t.year()
    }
}

fn week_expr(doc: &Doc, i: usize, st: &State) -> Option<(Range, usize)> {
    let today = st.today();
    let (offset, j) = if let Some(w) = doc.any_at(i, &["上上个", "上上"]) {
        (-2, i + w.chars().count())
    } else if let Some(w) = doc.any_at(i, &["上个", "上"]) {
        (-1, i + w.chars().count())
    } else if let Some(w) = doc.any_at(i, &["本", "这个", "这", "下个", "下"]) {
        (i64::from(w.starts_with('下')), i + w.chars().count())
    } else {
        (0, i)
    };
    let bare = j == i;
    let w = doc.any_at(j, &["星期", "礼拜", "周"])?;
    let k = j + w.chars().count();
    let monday = monday_of(today) + Duration::weeks(offset);
    if doc.has_at(k, "末") {
        let s = monday + Duration::days(5);
        let s = if bare && s > today {
            s - Duration::weeks(1)
        } else {
            s
        };
        return Some((days(s, s + Duration::days(2), Grain::Days), k + 1));
    }
    match doc.at(k).and_then(weekday_of) {
        Some(wd) => {
            let mut d = monday + Duration::days(i64::from(wd));
            if bare && d > today {
                d -= Duration::weeks(1);
            }
            Some((one_day(d), k + 1))
        }
        None if !bare => Some((days(monday, monday + Duration::weeks(1), Grain::Week), k)),
        None => None,
    }
}

/// Month-led expressions without a year: 3月5日, 上个月, 本月底.
fn month_expr(doc: &Doc, i: usize, st: &State) -> Option<(Range, usize)> {
    let today = st.today();
    for (w, off) in [
        ("上个月", -1),
        ("上月", -1),
        ("本月", 0),
        ("这个月", 0),
        ("当月", 100),
        ("同月", 100),
        ("下个月", 1),
    ] {
        if doc.has_at(i, w) {
            let base = if off == 100 { st.anchor_day() } else { today };
            let first = ymd(base.year(), base.month(), 1)?;
            let target = match off {
                -1 => (first - Duration::days(1)).with_day(1)?,
                1 => (first + Duration::days(32)).with_day(1)?,
                _ => first,
            };
            let j = i + w.chars().count();
            if let Some((d, k)) = read_num(doc, j, 2) {
                if matches!(doc.at(k), Some('日' | '号')) {
                    return Some((one_day(target.with_day(d)?), k + 1));
                }
            }
            if let Some((a, b, k)) = xun(doc, j) {
                return Some((clamp_days(target.year(), target.month(), a, b)?, k));
            }
            return Some((month_range(target.year(), target.month())?, j));
        }
    }
    // M月… without a year.
    let (m, k) = read_num(doc, i, 2)?;
    let month_like = doc.at(k) == Some('月')
        || matches!(doc.at(k), Some('、' | '-' | '至')) && read_num(doc, k + 1, 2).is_some();
    if !month_like || !(1..=12).contains(&m) {
        return None;
    }
    let y = infer_year(st, m);
    let (r, end, _) = month_day(doc, i, y)?;
    // A day in the future of the report (3月5日 reported on 3月1日): last year's.
    if st.anchor.get().is_none() && r.start.date() > today {
        let (r, end, _) = month_day(doc, i, y - 1)?;
        return Some((r, end));
    }
    Some((r, end))
}

/// 5日 / 15号 alone (within the anchor's month).
fn day_only(doc: &Doc, i: usize, st: &State) -> Option<(Range, usize)> {
    let (d, k) = read_num(doc, i, 2)?;
    if !matches!(doc.at(k), Some('日' | '号')) || !(1..=31).contains(&d) {
        return None;
    }
    // Only arabic digits: "一日" reads as "one day" too often.
    if !doc.chars[i].is_ascii_digit() {
        return None;
    }
    let a = st.anchor.get()?;
    Some((one_day(a.with_day(d)?), k + 1))
}

fn relative_day(doc: &Doc, i: usize, st: &State) -> Option<(Range, usize, Hours)> {
    for (w, off, part) in RELATIVE_DAYS {
        if doc.has_at(i, w) {
            let d = match off {
                100 => st.anchor_day(),
                101 => st.anchor_day() + Duration::days(1),
                o => st.today() + Duration::days(o),
            };
            return Some((one_day(d), i + w.chars().count(), part));
        }
    }
    // N天前, N日前, N个月前, N年前, 半个月前, 一周前.
    let (n, k, half) = if doc.has_at(i, "半") {
        (0, i + 1, true)
    } else {
        let (n, k) = read_num(doc, i, 2)?;
        (n, k, false)
    };
    let n = i64::from(n);
    for (w, unit) in [
        ("天前", 'd'),
        ("日前", 'd'),
        ("个星期前", 'w'),
        ("个礼拜前", 'w'),
        ("周前", 'w'),
        ("个月前", 'm'),
        ("年前", 'y'),
    ] {
        if doc.has_at(k, w) {
            let today = st.today();
            let end = k + w.chars().count();
            return Some(match (unit, half) {
                ('d', false) => (one_day(today - Duration::days(n)), end, None),
                ('w', false) => (one_day(today - Duration::weeks(n)), end, None),
                ('m', true) => (one_day(today - Duration::days(15)), end, None),
                ('m', false) => {
                    let first = ymd(today.year(), today.month(), 1)?;
                    let mut t = first;
                    for _ in 0..n {
                        t = (t - Duration::days(1)).with_day(1)?;
                    }
                    (month_range(t.year(), t.month())?, end, None)
                }
                ('y', true) => (one_day(today - Duration::days(182)), end, None),
                ('y', false) => (
                    year_range(today.year() - i32::try_from(n).ok()?)?,
                    end,
                    None,
                ),
                _ => return None,
            });
        }
    }
    None
}

fn fuzzy(doc: &Doc, i: usize, st: &State) -> Option<(Range, usize)> {
    for (w, back, _) in FUZZY {
        if doc.has_at(i, w) {
            let end = st.report;
            let start = if back < 0 {
                st.report - Duration::hours(1)
            } else {
                day_start(st.today() - Duration::days(back))
            };
            return Some((
                Range {
                    start,
                    end,
                    grain: Grain::Days,
                },
                i + w.chars().count(),
            ));
        }
    }
    None
}

fn part_of_day(doc: &Doc, j: usize, allow_single: bool) -> Option<(u32, u32, usize)> {
    for (w, a, b) in PARTS_OF_DAY {
        if w.chars().count() == 1 && !allow_single {
            continue;
        }
        if doc.has_at(j, w) {
            return Some((a, b, j + w.chars().count()));
        }
    }
    None
}

/// 8时, 8点30分, 8点半, 20:30, 十点.
fn clock(doc: &Doc, j: usize, cn_ok: bool) -> Option<(u32, Option<u32>, usize)> {
    let c0 = doc.at(j)?;
    if !c0.is_ascii_digit() && !(cn_ok && (cn_digit(c0).is_some() || c0 == '十')) {
        return None;
    }
    let (h, k) = read_num(doc, j, 2)?;
    if h > 24 {
        return None;
    }
    if doc.at(k) == Some(':') {
        let (m, k2) = read_num(doc, k + 1, 2)?;
        return (m < 60 && k2 == k + 3).then_some((h, Some(m), k2));
    }
    let unit = doc.any_at(k, &["时", "点钟", "点"])?;
    let mut k = k + unit.chars().count();
    // 时间, 时候, 点儿 are not clock times.
    if unit == "时" && matches!(doc.at(k), Some('间' | '候' | '期' | '段')) {
        return None;
    }
    if doc.at(k) == Some('半') {
        return Some((h, Some(30), k + 1));
    }
    if let Some((m, k2)) = read_num(doc, k, 2) {
        if m < 60 {
            let k3 = if doc.at(k2) == Some('分') {
                k2 + 1
            } else if doc.chars[k].is_ascii_digit() && k2 - k == 2 {
                k2
            } else {
                return Some((h, None, k));
            };
            k = k3;
            return Some((h, Some(m), k));
        }
    }
    Some((h, None, k))
}

fn apply_clock(day: NaiveDate, part: Option<(u32, u32)>, h: u32, m: Option<u32>) -> Range {
    let mut hour = h;
    if let Some((a, _)) = part {
        if a >= 12 && hour < 12 {
            hour += 12; // 下午3点, 晚上8时
        }
        if a == 11 && hour < 6 {
            hour += 12; // 中午1点
        }
    }
    let start = day_start(day)
        + Duration::hours(i64::from(hour))
        + Duration::minutes(i64::from(m.unwrap_or(0)));
    let (len, grain) = if m.is_some() {
        (Duration::minutes(1), Grain::Minute)
    } else {
        (Duration::hours(1), Grain::Hour)
    };
    Range {
        start,
        end: start + len,
        grain,
    }
}

/// One expression starting at `i`.
fn parse_at(doc: &Doc, i: usize, st: &State) -> Option<(Range, usize, bool)> {
    let mut approximate = false;
    let mut part: Option<(u32, u32)> = None;
    let (mut range, mut j) = if let Some((r, j, _)) = year_expr(doc, i, st) {
        (Some(r), j)
    } else if let Some((r, j)) = lunar_expr(doc, i, st) {
        (Some(r), j)
    } else if let Some((r, j)) = festival_expr(doc, i, st, None) {
        (Some(r), j)
    } else if let Some((r, j, p)) = relative_day(doc, i, st) {
        part = p;
        (Some(r), j)
    } else if let Some((r, j)) = week_expr(doc, i, st) {
        (Some(r), j)
    } else if let Some((r, j)) = month_expr(doc, i, st) {
        (Some(r), j)
    } else if let Some((r, j)) = day_only(doc, i, st) {
        (Some(r), j)
    } else if let Some((r, j)) = fuzzy(doc, i, st) {
        return Some((r, j, true));
    } else {
        (None, i)
    };
    // 的一天, 某日, 某天, 一天
    if range.is_some() {
        if let Some(w) = doc.any_at(
            j,
            &[
                "的一天",
                "的某一天",
                "的某天",
                "某日",
                "某天",
                "一天",
                "的时候",
            ],
        ) {
            j += w.chars().count();
            approximate = true;
        }
    }
    let single_day = range.is_none_or(|r| r.end - r.start == Duration::days(1));
    // Part of the day: 下午, 晚上; a single 晚/早 only right after a date.
    if single_day {
        if let Some((a, b, k)) = part_of_day(doc, j, range.is_some()) {
            part = Some((a, b));
            j = k;
        }
    }
    let day = range.map_or_else(|| st.anchor_day(), |r| r.start.date());
    if single_day {
        if let Some((h, m, k)) = clock(doc, j, range.is_some() || part.is_some()) {
            // A bare number + 点 ("3点意见") is a clock only with a date or part of day, or 时.
            let bare = range.is_none() && part.is_none();
            if !bare || doc.at(k - 1) == Some('时') || m.is_some() {
                range = Some(apply_clock(day, part, h, m));
                j = k;
                part = None;
            }
        }
    }
    if let Some((a, b)) = part {
        let s = day_start(day) + Duration::hours(i64::from(a));
        range = Some(Range {
            start: s,
            end: day_start(day) + Duration::hours(i64::from(b)),
            grain: Grain::PartOfDay,
        });
    }
    let r = range?;
    if doc.any_at(j, &["许", "左右", "前后"]).is_some() {
        approximate = true;
    }
    Some((r, j, approximate))
}

/// Characters a time expression can start with.
fn may_start(c: char) -> bool {
    static SET: std::sync::OnceLock<std::collections::HashSet<char>> = std::sync::OnceLock::new();
    let set = SET.get_or_init(|| {
        let mut s: std::collections::HashSet<char> = "0123456789零〇一二两三四五六七八九十廿半上本这下当同星礼周农阴旧正腊冬今去前明次隔第大昨后刚近最日凌早清中傍晚夜深白"
            .chars()
            .collect();
        let words = RELATIVE_YEARS
            .iter()
            .map(|x| x.0)
            .chain(RELATIVE_DAYS.iter().map(|x| x.0))
            .chain(FESTIVALS.iter().map(|x| x.0))
            .chain(SOLAR_FESTIVALS.iter().map(|x| x.0))
            .chain(FUZZY.iter().map(|x| x.0))
            .chain(PARTS_OF_DAY.iter().map(|x| x.0));
        s.extend(words.filter_map(|w| w.chars().next()));
        s
    });
    set.contains(&c)
}

/// All time expressions of the text, in order.
pub fn extract(doc: &Doc, reported_at: NaiveDateTime) -> Vec<TimeMention> {
    let st = State {
        report: reported_at,
        anchor: Cell::new(None),
    };
    let mut out = Vec::new();
    let c = &doc.chars;
    let mut i = 0;
    while i < c.len() {
        // Start only at a boundary: not inside a number or a word like 三年级.
        let prev_digit = i > 0 && (c[i - 1].is_ascii_digit() || c[i - 1] == '.');
        if prev_digit || !may_start(c[i]) {
            i += 1;
            continue;
        }
        match parse_at(doc, i, &st) {
            Some((r, end, approximate)) if end > i => {
                if r.grain <= Grain::Day || r.grain >= Grain::PartOfDay {
                    let d = r.start.date();
                    // A day anchors 当天/次日; a longer span only when it changes the year.
                    let day_like = r.end - r.start <= Duration::days(1) || r.grain == Grain::Day;
                    if day_like || st.anchor.get().is_none_or(|a| a.year() != d.year()) {
                        st.anchor.set(Some(d));
                    }
                }
                out.push(TimeMention {
                    span: Span::new(i, end),
                    text: doc.original(Span::new(i, end)).to_string(),
                    start: r.start,
                    end: r.end,
                    grain: r.grain,
                    approximate,
                });
                i = end;
            }
            _ => i += 1,
        }
    }
    out
}

/// Whether `d` falls within `days_before` days before the Spring Festival.
pub fn before_spring_festival(d: NaiveDate, days_before: i64) -> bool {
    [d.year(), d.year() + 1].iter().any(|y| {
        spring_festival(*y).is_some_and(|sf| {
            let gap = (sf - d).num_days();
            (0..=days_before).contains(&gap)
        })
    })
}

#[allow(dead_code)]
fn weekday_name(w: Weekday) -> u32 {
    w.num_days_from_monday()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> NaiveDateTime {
        NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M").unwrap()
    }

    fn one(text: &str, report: &str) -> (String, String, String) {
        let d = Doc::new(text, 1000);
        let t = extract(&d, at(report));
        let m = t.first().unwrap_or_else(|| panic!("no time in {text}"));
        (
            m.text.clone(),
            m.start.format("%Y-%m-%d %H:%M").to_string(),
            m.end.format("%Y-%m-%d %H:%M").to_string(),
        )
    }

    #[test]
    fn the_examples_of_the_issue() {
        let r = "2025-03-12 10:00"; // a Wednesday
        assert_eq!(one("2024年3月5日下午", r).1, "2024-03-05 13:00");
        assert_eq!(one("3月5日", r).1, "2025-03-05 00:00");
        assert_eq!(one("昨天晚上吵架", r).1, "2025-03-11 18:00");
        assert_eq!(one("上周三", r).1, "2025-03-05 00:00");
        assert_eq!(one("前天", r).1, "2025-03-10 00:00");
        assert_eq!(one("去年年底", r).1, "2024-12-01 00:00");
        assert_eq!(
            one("春节前", r),
            (
                "春节前".into(),
                "2024-12-29 00:00".into(),
                "2025-01-28 00:00".into()
            )
        );
        assert_eq!(one("农历正月初八", r).1, "2025-02-05 00:00");
        let d = Doc::new("2015年3月1日贩卖，同年11月13日1时许", 100);
        let t = extract(&d, at("2016-01-01 00:00"));
        assert_eq!(t[1].start, at("2015-11-13 01:00"));
        assert_eq!(t[1].text, "同年11月13日1时");
    }

    #[test]
    fn anchors_carry_to_relative_days() {
        let d = Doc::new("2014年8月7日早上7时许，次日凌晨1时，当天18时", 1000);
        let t = extract(&d, at("2016-01-01 00:00"));
        let starts: Vec<String> = t
            .iter()
            .map(|m| m.start.format("%Y-%m-%d %H:%M").to_string())
            .collect();
        assert_eq!(
            starts,
            ["2014-08-07 07:00", "2014-08-08 01:00", "2014-08-08 18:00"]
        );
    }
}
