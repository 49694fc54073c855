//! What a day is, as far as dispute counts care: rest or work (following 调休), which holiday,
//! the weeks before the Spring Festival, the first working day after a rest. The baseline
//! model's covariates are built from it.
use chrono::{Datelike, NaiveDate, Weekday};
use fengqiao_domain::calendar::{CalendarDay, DayKind};
use std::collections::BTreeMap;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Holiday {
    SpringFestival,
    GoldenWeek,
    Other,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DayInfo {
    pub date: NaiveDate,
    /// Not a working day (weekend or holiday), after make-up workdays are applied.
    pub rest: bool,
    /// A statutory holiday (rest by notice, not by weekend).
    pub holiday: Option<Holiday>,
    /// A weekend day worked (调休).
    pub makeup: bool,
    /// One of the 21 days before the Spring Festival holiday (wage and debt settling).
    pub pre_festival: bool,
    /// The first working day after two or more rest days.
    pub after_rest: bool,
}

/// Number of covariates in [`covariates`].
pub const P: usize = 12;

/// Column names of the design, in order (for evidence and debugging).
pub const COVARIATES: [&str; P] = [
    "intercept",
    "sin1",
    "cos1",
    "sin2",
    "cos2",
    "weekend",
    "holiday",
    "spring_festival",
    "golden_week",
    "pre_festival",
    "after_rest",
    "makeup_workday",
];

/// The day's covariates: annual harmonics and the calendar effects above.
pub fn covariates(d: &DayInfo) -> [f64; P] {
    let angle = 2.0 * std::f64::consts::PI * f64::from(d.date.ordinal0()) / 365.25;
    let b = |v: bool| if v { 1.0 } else { 0.0 };
    [
        1.0,
        angle.sin(),
        angle.cos(),
        (2.0 * angle).sin(),
        (2.0 * angle).cos(),
        b(d.rest && d.holiday.is_none()),
        b(d.holiday == Some(Holiday::Other)),
        b(d.holiday == Some(Holiday::SpringFestival)),
        b(d.holiday == Some(Holiday::GoldenWeek)),
        b(d.pre_festival),
        b(d.after_rest),
        b(d.makeup),
    ]
}

/// Day descriptions for every date in `from..=to`, from the calendar's exceptions (with notes:
/// a holiday whose note mentions 春节 is the Spring Festival, 国庆 the Golden Week).
pub fn day_infos(calendar: &[CalendarDay], from: NaiveDate, to: NaiveDate) -> Vec<DayInfo> {
    let by_date: BTreeMap<NaiveDate, &CalendarDay> = calendar.iter().map(|d| (d.date, d)).collect();
    let festival_starts: Vec<NaiveDate> = calendar
        .iter()
        .filter(|d| d.kind == DayKind::Holiday && d.note.contains("春节"))
        .map(|d| d.date)
        .filter(|d| {
            !by_date
                .get(&(*d - chrono::Duration::days(1)))
                .is_some_and(|p| p.kind == DayKind::Holiday && p.note.contains("春节"))
        })
        .collect();
    let rest_of = |date: NaiveDate| match by_date.get(&date) {
        Some(d) => d.kind == DayKind::Holiday,
        None => matches!(date.weekday(), Weekday::Sat | Weekday::Sun),
    };
    let mut out = Vec::new();
    let mut date = from;
    while date <= to {
        let entry = by_date.get(&date);
        let rest = rest_of(date);
        let holiday = entry.filter(|d| d.kind == DayKind::Holiday).map(|d| {
            if d.note.contains("春节") {
                Holiday::SpringFestival
            } else if d.note.contains("国庆") {
                Holiday::GoldenWeek
            } else {
                Holiday::Other
            }
        });
        let makeup = entry.is_some_and(|d| d.kind == DayKind::Workday);
        let pre_festival = festival_starts.iter().any(|s| {
            let days = (*s - date).num_days();
            (1..=21).contains(&days)
        });
        let after_rest = !rest
            && rest_of(date - chrono::Duration::days(1))
            && rest_of(date - chrono::Duration::days(2));
        out.push(DayInfo {
            date,
            rest,
            holiday,
            makeup,
            pre_festival,
            after_rest,
        });
        date += chrono::Duration::days(1);
    }
    out
}
