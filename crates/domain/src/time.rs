//! Time conventions. Instants are UTC milliseconds since the Unix epoch
//! (`Millis`); calendar questions (working days, deadlines) are asked in
//! China Standard Time (UTC+8), where every deployment lives.
use chrono::{DateTime, FixedOffset, NaiveDate, NaiveTime, Offset, TimeZone, Utc};

/// UTC milliseconds since the Unix epoch.
pub type Millis = i64;

const CST_SECONDS: i32 = 8 * 3600;

pub fn cst() -> FixedOffset {
    // 8 hours is inside FixedOffset's ±24h range.
    FixedOffset::east_opt(CST_SECONDS).unwrap_or_else(|| Utc.fix())
}

/// The China-local calendar date of an instant.
pub fn local_date(at: Millis) -> NaiveDate {
    let dt = DateTime::<Utc>::from_timestamp_millis(at).unwrap_or_default();
    dt.with_timezone(&cst()).date_naive()
}

/// The first instant after the end of a local date (00:00 of the next day, CST).
pub fn end_of_local_day(date: NaiveDate) -> Millis {
    let next = date.succ_opt().unwrap_or(date);
    start_of_local_day(next)
}

/// 00:00 CST of a local date.
pub fn start_of_local_day(date: NaiveDate) -> Millis {
    let naive = date.and_time(NaiveTime::MIN);
    cst()
        .from_local_datetime(&naive)
        .single()
        .map(|d| d.timestamp_millis())
        .unwrap_or_default()
}

/// An instant from a local date and hour, for tests and the generator.
pub fn local_instant(date: NaiveDate, hour: u32, minute: u32) -> Millis {
    start_of_local_day(date) + i64::from(hour) * 3_600_000 + i64::from(minute) * 60_000
}
