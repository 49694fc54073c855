//! The working-day calendar: weekends rest, statutory holidays rest, make-up workdays (调休) work.
//!
//! Owns: the rule for "is this a working day" and working-day arithmetic; the seeded
//! 2024–2026 schedule of the State Council's holiday notices. Later years are data added by admins.
use chrono::{Datelike, NaiveDate, Weekday};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use utoipa::ToSchema;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum DayKind {
    /// A statutory holiday (or a weekday given off): no work.
    Holiday,
    /// A make-up workday (调休), usually a weekend day: work.
    Workday,
}

impl DayKind {
    pub fn as_str(self) -> &'static str {
        match self {
            DayKind::Holiday => "holiday",
            DayKind::Workday => "workday",
        }
    }
    pub fn parse(s: &str) -> Option<DayKind> {
        match s {
            "holiday" => Some(DayKind::Holiday),
            "workday" => Some(DayKind::Workday),
            _ => None,
        }
    }
}

/// One entry of the calendar: a date that differs from the Monday–Friday rule.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct CalendarDay {
    pub date: NaiveDate,
    pub kind: DayKind,
    /// e.g. 春节, 国庆节调休.
    pub note: String,
}

/// Working-day calendar built from its exceptions.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct WorkCalendar {
    exceptions: BTreeMap<NaiveDate, DayKind>,
}

impl WorkCalendar {
    pub fn new(days: impl IntoIterator<Item = (NaiveDate, DayKind)>) -> Self {
        WorkCalendar {
            exceptions: days.into_iter().collect(),
        }
    }

    /// The calendar with China's 2024–2026 holidays seeded.
    pub fn china() -> Self {
        WorkCalendar::new(china_2024_2026().into_iter().map(|d| (d.date, d.kind)))
    }

    pub fn set(&mut self, date: NaiveDate, kind: Option<DayKind>) {
        match kind {
            Some(k) => {
                self.exceptions.insert(date, k);
            }
            None => {
                self.exceptions.remove(&date);
            }
        }
    }

    pub fn is_working_day(&self, date: NaiveDate) -> bool {
        match self.exceptions.get(&date) {
            Some(DayKind::Holiday) => false,
            Some(DayKind::Workday) => true,
            None => !matches!(date.weekday(), Weekday::Sat | Weekday::Sun),
        }
    }

    /// The `n`-th working day strictly after `start` (n = 0 gives `start`).
    pub fn add_working_days(&self, start: NaiveDate, n: u32) -> NaiveDate {
        let mut d = start;
        let mut left = n;
        while left > 0 {
            d = d.succ_opt().unwrap_or(d);
            if self.is_working_day(d) {
                left -= 1;
            }
        }
        d
    }

    /// Number of working days in the half-open interval (`from`, `to`]; 0 when `to` ≤ `from`.
    pub fn working_days_between(&self, from: NaiveDate, to: NaiveDate) -> u32 {
        let mut n = 0;
        let mut d = from;
        while d < to {
            d = d.succ_opt().unwrap_or(to);
            if self.is_working_day(d) {
                n += 1;
            }
        }
        n
    }
}

fn date(y: i32, m: u32, d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, d).unwrap_or_default()
}

/// China's statutory holidays and make-up workdays, 2024–2026, from the State Council notices.
pub fn china_2024_2026() -> Vec<CalendarDay> {
    // (year, month, first day, last day, kind, note)
    const RANGES: &[(i32, u32, u32, u32, DayKind, &str)] = &[
        (2024, 1, 1, 1, DayKind::Holiday, "元旦"),
        (2024, 2, 10, 17, DayKind::Holiday, "春节"),
        (2024, 2, 4, 4, DayKind::Workday, "春节调休"),
        (2024, 2, 18, 18, DayKind::Workday, "春节调休"),
        (2024, 4, 4, 6, DayKind::Holiday, "清明节"),
        (2024, 4, 7, 7, DayKind::Workday, "清明节调休"),
        (2024, 5, 1, 5, DayKind::Holiday, "劳动节"),
        (2024, 4, 28, 28, DayKind::Workday, "劳动节调休"),
        (2024, 5, 11, 11, DayKind::Workday, "劳动节调休"),
        (2024, 6, 10, 10, DayKind::Holiday, "端午节"),
        (2024, 9, 15, 17, DayKind::Holiday, "中秋节"),
        (2024, 9, 14, 14, DayKind::Workday, "中秋节调休"),
        (2024, 10, 1, 7, DayKind::Holiday, "国庆节"),
        (2024, 9, 29, 29, DayKind::Workday, "国庆节调休"),
        (2024, 10, 12, 12, DayKind::Workday, "国庆节调休"),
        (2025, 1, 1, 1, DayKind::Holiday, "元旦"),
        (2025, 1, 28, 31, DayKind::Holiday, "春节"),
        (2025, 2, 1, 4, DayKind::Holiday, "春节"),
        (2025, 1, 26, 26, DayKind::Workday, "春节调休"),
        (2025, 2, 8, 8, DayKind::Workday, "春节调休"),
        (2025, 4, 4, 6, DayKind::Holiday, "清明节"),
        (2025, 5, 1, 5, DayKind::Holiday, "劳动节"),
        (2025, 4, 27, 27, DayKind::Workday, "劳动节调休"),
        (2025, 5, 31, 31, DayKind::Holiday, "端午节"),
        (2025, 6, 1, 2, DayKind::Holiday, "端午节"),
        (2025, 10, 1, 8, DayKind::Holiday, "国庆节、中秋节"),
        (2025, 9, 28, 28, DayKind::Workday, "国庆节调休"),
        (2025, 10, 11, 11, DayKind::Workday, "国庆节调休"),
        (2026, 1, 1, 3, DayKind::Holiday, "元旦"),
        (2026, 1, 4, 4, DayKind::Workday, "元旦调休"),
        (2026, 2, 15, 23, DayKind::Holiday, "春节"),
        (2026, 2, 14, 14, DayKind::Workday, "春节调休"),
        (2026, 2, 28, 28, DayKind::Workday, "春节调休"),
        (2026, 4, 4, 6, DayKind::Holiday, "清明节"),
        (2026, 5, 1, 5, DayKind::Holiday, "劳动节"),
        (2026, 5, 9, 9, DayKind::Workday, "劳动节调休"),
        (2026, 6, 19, 21, DayKind::Holiday, "端午节"),
        (2026, 9, 25, 27, DayKind::Holiday, "中秋节"),
        (2026, 10, 1, 7, DayKind::Holiday, "国庆节"),
        (2026, 9, 20, 20, DayKind::Workday, "国庆节调休"),
        (2026, 10, 10, 10, DayKind::Workday, "国庆节调休"),
    ];
    let mut out = Vec::new();
    for &(y, m, first, last, kind, note) in RANGES {
        for d in first..=last {
            out.push(CalendarDay {
                date: date(y, m, d),
                kind,
                note: note.to_string(),
            });
        }
    }
    out.sort_by_key(|d| d.date);
    out
}
