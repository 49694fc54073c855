//! Area and type warnings (预警): what the daily early-warning run raises, and their life:
//! open → acknowledged → handled (actions recorded) → closed, or expired when nobody acted and
//! the signal has been quiet for [`EXPIRE_AFTER_DAYS`]. A signal that fires again while its
//! warning is still live updates that warning (one warning per episode, not one per day).
use crate::case::DisputeType;
use crate::time::Millis;
use crate::DomainError;
use chrono::NaiveDate;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

crate::unit::labelled_enum!(
    /// What kind of signal raised the warning.
    WarningKind {
        Surge = "surge" / "类型激增",
        Cluster = "cluster" / "区域聚集",
    }
);

crate::unit::labelled_enum!(
    WarningLevel {
        Yellow = "yellow" / "黄色预警",
        Red = "red" / "红色预警",
    }
);

crate::unit::labelled_enum!(
    WarningStatus {
        Open = "open" / "待签收",
        Acknowledged = "acknowledged" / "已签收",
        Handled = "handled" / "已处置",
        Closed = "closed" / "已关闭",
        Expired = "expired" / "已失效",
    }
);

crate::unit::labelled_enum!(
    WarningAction {
        Raise = "raise" / "发出预警",
        Update = "update" / "预警更新",
        Acknowledge = "acknowledge" / "签收",
        Handle = "handle" / "处置",
        Close = "close" / "关闭",
        Expire = "expire" / "失效",
        Summon = "summon" / "吹哨",
        Respond = "respond" / "报到",
    }
);

/// Days without a new signal after which an open or acknowledged warning expires.
pub const EXPIRE_AFTER_DAYS: i64 = 14;
/// A signal on this many days after the warning's last one continues it.
pub const CONTINUE_WITHIN_DAYS: i64 = 2;

impl WarningStatus {
    /// Live warnings are updated by new signals and counted as open on the cockpit.
    pub fn is_live(self) -> bool {
        matches!(
            self,
            WarningStatus::Open | WarningStatus::Acknowledged | WarningStatus::Handled
        )
    }
}

/// An expected count for people: two decimals, or "<0.01" for what rounds to nothing.
pub fn fmt_expected(x: f64) -> String {
    if x > 0.0 && x < 0.005 {
        "<0.01".to_string()
    } else {
        format!("{x:.2}")
    }
}

/// One day of the series behind a warning.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct SeriesPoint {
    pub day: NaiveDate,
    pub observed: f64,
    /// Expected count under the baseline (absent where the detector has none).
    pub expected: Option<f64>,
}

/// Why the warning was raised: the numbers a reader needs to judge it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Evidence {
    /// The detector (`glm_scan`, `space_time_scan`).
    pub method: String,
    pub observed: f64,
    pub expected: f64,
    pub p_value: f64,
    /// Days between false alarms this strong (clusters: per type, run daily).
    pub recurrence_days: Option<f64>,
    /// Days the signal covers, ending on the warning's last day.
    pub window_days: u32,
    /// The series of the area and type (surges) or of the cluster's villages (clusters).
    pub series: Vec<SeriesPoint>,
    /// Codes of the villages involved (clusters), or of the area (surges).
    pub places: Vec<String>,
    /// Cases of this type in these places and days.
    pub case_ids: Vec<i64>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct WarningLogEntry {
    pub at: Millis,
    /// 0: the system.
    pub user_id: i64,
    pub action: WarningAction,
    pub note: String,
}

/// A warning as stored.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Warning {
    pub id: i64,
    /// Identifies the signal across days: `surge:<area code>:<type>`, `cluster:<type>:<village>`.
    pub key: String,
    pub kind: WarningKind,
    pub level: WarningLevel,
    pub status: WarningStatus,
    pub dispute_type: DisputeType,
    /// The area: a town or the county (surges), the cluster's centre village (clusters).
    pub area_code: String,
    pub area_name: String,
    /// Materialised path of the area (visibility).
    pub area_path: String,
    pub first_day: NaiveDate,
    pub last_day: NaiveDate,
    pub evidence: Evidence,
    /// Units responsible for acting on it.
    pub unit_ids: Vec<i64>,
    pub log: Vec<WarningLogEntry>,
    /// Units summoned at once (吹哨) and whether each answered in time.
    #[serde(default)]
    pub summons: Vec<Summons>,
    pub created_at: Millis,
    pub updated_at: Millis,
}

/// One unit called by a summons (吹哨报到): it must answer by `due_at`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Summons {
    pub unit_id: i64,
    pub summoned_at: Millis,
    pub summoned_by: i64,
    pub due_at: Millis,
    pub responded_at: Option<Millis>,
    pub responded_by: Option<i64>,
    pub reply: String,
}

impl Summons {
    /// Answered late, or not answered and past due at `now`.
    pub fn overdue(&self, now: Millis) -> bool {
        match self.responded_at {
            Some(at) => at > self.due_at,
            None => now > self.due_at,
        }
    }
}

/// Longest time a summoned unit may be given to answer, in hours.
pub const MAX_SUMMONS_HOURS: u32 = 168;

/// A signal of today's run, before it becomes (or updates) a warning.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Signal {
    pub key: String,
    pub kind: WarningKind,
    pub level: WarningLevel,
    pub dispute_type: DisputeType,
    pub area_code: String,
    pub area_name: String,
    pub area_path: String,
    pub day: NaiveDate,
    pub evidence: Evidence,
    pub unit_ids: Vec<i64>,
}

impl Warning {
    /// A new warning from a signal.
    pub fn raise(s: Signal, now: Millis) -> Warning {
        Warning {
            id: 0,
            key: s.key,
            kind: s.kind,
            level: s.level,
            status: WarningStatus::Open,
            dispute_type: s.dispute_type,
            area_code: s.area_code,
            area_name: s.area_name,
            area_path: s.area_path,
            first_day: s.day,
            last_day: s.day,
            evidence: s.evidence,
            unit_ids: s.unit_ids,
            summons: Vec::new(),
            log: vec![WarningLogEntry {
                at: now,
                user_id: 0,
                action: WarningAction::Raise,
                note: String::new(),
            }],
            created_at: now,
            updated_at: now,
        }
    }

    /// Whether today's signal continues this warning: live, recent, and the same signal (a
    /// surge: the same area and type; a cluster: the same type over overlapping villages, as a
    /// cluster's most likely centre moves from day to day).
    pub fn continued_by(&self, s: &Signal) -> bool {
        let same = match self.kind {
            WarningKind::Surge => self.key == s.key,
            WarningKind::Cluster => {
                s.kind == WarningKind::Cluster
                    && s.dispute_type == self.dispute_type
                    && s.evidence
                        .places
                        .iter()
                        .any(|p| self.evidence.places.contains(p))
            }
        };
        same && self.status.is_live()
            && (s.day - self.last_day).num_days() <= CONTINUE_WITHIN_DAYS
            && s.day >= self.last_day
    }

    /// Today's signal continues the warning: newer evidence, the level only goes up, new units
    /// are added. A handled warning whose signal persists is open again.
    pub fn update(&mut self, s: Signal, now: Millis) {
        let mut note = Vec::new();
        if s.level > self.level {
            note.push(format!("{} → {}", self.level.as_str(), s.level.as_str()));
            self.level = s.level;
        }
        if self.status == WarningStatus::Handled {
            self.status = WarningStatus::Open;
            note.push("persists after handling".to_string());
        }
        self.last_day = s.day;
        self.evidence = s.evidence;
        for u in s.unit_ids {
            if !self.unit_ids.contains(&u) {
                self.unit_ids.push(u);
            }
        }
        self.updated_at = now;
        self.log.push(WarningLogEntry {
            at: now,
            user_id: 0,
            action: WarningAction::Update,
            note: note.join("; "),
        });
    }

    /// Whether the warning expires on `today`.
    pub fn expires_on(&self, today: NaiveDate) -> bool {
        matches!(
            self.status,
            WarningStatus::Open | WarningStatus::Acknowledged
        ) && (today - self.last_day).num_days() >= EXPIRE_AFTER_DAYS
    }

    /// A person's action. Handling needs a note saying what was done; closing a warning nobody
    /// handled needs a reason too (a false alarm is closed, with the reason on record).
    pub fn act(
        &mut self,
        action: WarningAction,
        user_id: i64,
        note: &str,
        now: Millis,
    ) -> Result<(), DomainError> {
        use WarningStatus as S;
        let note = note.trim();
        let next = match (action, self.status) {
            (WarningAction::Acknowledge, S::Open) => S::Acknowledged,
            (WarningAction::Handle, S::Open | S::Acknowledged | S::Handled) => S::Handled,
            (WarningAction::Close, S::Open | S::Acknowledged | S::Handled) => S::Closed,
            (WarningAction::Expire, S::Open | S::Acknowledged) => S::Expired,
            (WarningAction::Summon | WarningAction::Respond, _) => {
                return Err(DomainError::Validation {
                    field: "action",
                    reason: "summons have their own operation".into(),
                })
            }
            _ => {
                return Err(DomainError::InvalidTransition {
                    action: action.as_str(),
                    status: self.status.as_str(),
                })
            }
        };
        let needs_note = action == WarningAction::Handle
            || (action == WarningAction::Close && self.status != S::Handled);
        if needs_note && note.is_empty() {
            return Err(DomainError::Validation {
                field: "note",
                reason: "say what was done (or why the warning is closed)".into(),
            });
        }
        self.status = next;
        self.updated_at = now;
        self.log.push(WarningLogEntry {
            at: now,
            user_id,
            action,
            note: note.to_string(),
        });
        Ok(())
    }

    /// 吹哨: summons several units at once; each must answer within `hours`. Units already
    /// waiting to answer are not summoned twice; summoned units become responsible units.
    pub fn summon(
        &mut self,
        units: &[i64],
        hours: u32,
        by: i64,
        now: Millis,
    ) -> Result<(), DomainError> {
        if !self.status.is_live() {
            return Err(DomainError::InvalidTransition {
                action: WarningAction::Summon.as_str(),
                status: self.status.as_str(),
            });
        }
        let fresh: Vec<i64> = units
            .iter()
            .copied()
            .filter(|u| {
                !self
                    .summons
                    .iter()
                    .any(|s| s.unit_id == *u && s.responded_at.is_none())
            })
            .fold(Vec::new(), |mut v, u| {
                if !v.contains(&u) {
                    v.push(u);
                }
                v
            });
        if fresh.is_empty() {
            return Err(DomainError::Validation {
                field: "unit_ids",
                reason: "choose at least one unit that is not already waiting to answer".into(),
            });
        }
        if hours == 0 || hours > MAX_SUMMONS_HOURS {
            return Err(DomainError::Validation {
                field: "hours",
                reason: format!("between 1 and {MAX_SUMMONS_HOURS} hours"),
            });
        }
        let due_at = now + i64::from(hours) * 3_600_000;
        for u in &fresh {
            self.summons.push(Summons {
                unit_id: *u,
                summoned_at: now,
                summoned_by: by,
                due_at,
                responded_at: None,
                responded_by: None,
                reply: String::new(),
            });
            if !self.unit_ids.contains(u) {
                self.unit_ids.push(*u);
            }
        }
        let list: Vec<String> = fresh.iter().map(i64::to_string).collect();
        self.updated_at = now;
        self.log.push(WarningLogEntry {
            at: now,
            user_id: by,
            action: WarningAction::Summon,
            note: format!("units {} within {hours} h", list.join(", ")),
        });
        Ok(())
    }

    /// A summoned unit answers (报到): what it will do or has done.
    pub fn respond(
        &mut self,
        unit_id: i64,
        by: i64,
        reply: &str,
        now: Millis,
    ) -> Result<(), DomainError> {
        let reply = reply.trim();
        if reply.is_empty() {
            return Err(DomainError::Validation {
                field: "reply",
                reason: "say what the unit will do".into(),
            });
        }
        let Some(s) = self
            .summons
            .iter_mut()
            .find(|s| s.unit_id == unit_id && s.responded_at.is_none())
        else {
            return Err(DomainError::InvalidTransition {
                action: WarningAction::Respond.as_str(),
                status: self.status.as_str(),
            });
        };
        s.responded_at = Some(now);
        s.responded_by = Some(by);
        s.reply = reply.to_string();
        self.updated_at = now;
        self.log.push(WarningLogEntry {
            at: now,
            user_id: by,
            action: WarningAction::Respond,
            note: reply.to_string(),
        });
        Ok(())
    }

    /// When and by what the warning ended, for the monthly report.
    pub fn outcome(&self) -> WarningStatus {
        self.status
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn signal(day: u32, level: WarningLevel) -> Signal {
        Signal {
            key: "surge:990102001:neighbourhood".into(),
            kind: WarningKind::Surge,
            level,
            dispute_type: DisputeType::ALL[0],
            area_code: "990102001".into(),
            area_name: "town".into(),
            area_path: "/99/".into(),
            day: NaiveDate::from_ymd_opt(2025, 3, day).unwrap_or_default(),
            evidence: Evidence {
                method: "glm_scan".into(),
                observed: 9.0,
                expected: 2.0,
                p_value: 1e-5,
                recurrence_days: None,
                window_days: 3,
                series: vec![],
                places: vec![],
                case_ids: vec![],
            },
            unit_ids: vec![1],
        }
    }

    #[test]
    fn a_warning_lives_through_its_episode_and_ends_once() {
        let mut w = Warning::raise(signal(1, WarningLevel::Yellow), 1);
        assert!(w.continued_by(&signal(3, WarningLevel::Red)));
        assert!(
            !w.continued_by(&signal(4, WarningLevel::Red)),
            "a gap of 3 days starts a new one"
        );
        w.update(signal(3, WarningLevel::Red), 2);
        assert_eq!(w.level, WarningLevel::Red);
        w.update(signal(4, WarningLevel::Yellow), 3);
        assert_eq!(
            w.level,
            WarningLevel::Red,
            "the level never drops within an episode"
        );
        assert!(
            w.act(WarningAction::Handle, 7, "  ", 4).is_err(),
            "handling needs a note"
        );
        w.act(WarningAction::Acknowledge, 7, "", 4).unwrap();
        assert!(w.act(WarningAction::Acknowledge, 7, "", 5).is_err());
        w.act(WarningAction::Handle, 7, "村调委会入户调解", 6)
            .unwrap();
        w.update(signal(5, WarningLevel::Yellow), 7);
        assert_eq!(
            w.status,
            WarningStatus::Open,
            "a signal that persists reopens it"
        );
        w.act(WarningAction::Handle, 7, "联合调处", 8).unwrap();
        w.act(WarningAction::Close, 8, "", 9).unwrap();
        assert!(!w.status.is_live());
        assert!(!w.continued_by(&signal(5, WarningLevel::Red)));
        assert!(w.act(WarningAction::Expire, 0, "", 10).is_err());
        let actions: Vec<_> = w.log.iter().map(|e| e.action.as_str()).collect();
        assert_eq!(
            actions,
            [
                "raise",
                "update",
                "update",
                "acknowledge",
                "handle",
                "update",
                "handle",
                "close"
            ]
        );
    }

    #[test]
    fn a_summons_tracks_who_answered_and_when() {
        let mut w = Warning::raise(signal(1, WarningLevel::Red), 0);
        assert!(w.summon(&[], 24, 5, 10).is_err(), "no unit");
        assert!(w.summon(&[2, 3], 0, 5, 10).is_err(), "no time");
        w.summon(&[2, 3, 3], 24, 5, 10).unwrap();
        assert_eq!(w.summons.len(), 2);
        assert_eq!(
            w.unit_ids,
            vec![1, 2, 3],
            "summoned units become responsible"
        );
        assert!(
            w.summon(&[2], 24, 5, 11).is_err(),
            "unit 2 is already waiting"
        );
        assert!(
            w.respond(2, 7, " ", 20).is_err(),
            "an answer says something"
        );
        w.respond(2, 7, "已到场，今日入户", 20).unwrap();
        assert!(w.respond(2, 7, "again", 21).is_err());
        assert!(w.respond(9, 7, "not summoned", 21).is_err());
        let day = 24 * 3_600_000;
        assert!(!w.summons[0].overdue(10 + 2 * day), "answered in time");
        assert!(!w.summons[1].overdue(10 + day) && w.summons[1].overdue(11 + day));
        w.respond(3, 8, "晚到", 12 + day).unwrap();
        assert!(w.summons[1].overdue(12 + day), "answered late stays late");
        w.act(WarningAction::Close, 5, "联合化解", 13 + day)
            .unwrap();
        assert!(
            w.summon(&[4], 24, 5, 14 + day).is_err(),
            "not on a closed warning"
        );
    }

    #[test]
    fn quiet_warnings_expire_and_false_alarms_are_closed_with_a_reason() {
        let w = Warning::raise(signal(1, WarningLevel::Yellow), 1);
        assert!(!w.expires_on(NaiveDate::from_ymd_opt(2025, 3, 14).unwrap_or_default()));
        assert!(w.expires_on(NaiveDate::from_ymd_opt(2025, 3, 15).unwrap_or_default()));
        let mut w2 = w.clone();
        assert!(w2.act(WarningAction::Close, 3, "", 2).is_err());
        w2.act(WarningAction::Close, 3, "节前集中走访, 非异常", 2)
            .unwrap();
        assert_eq!(w2.status, WarningStatus::Closed);
    }
}
