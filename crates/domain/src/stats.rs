//! What one case contributes to the statistics (the cockpit, reports, health checks).
//!
//! The statistics are sums over cases, and each case's share is a pure function of its state:
//! [`contribution`]. A backend keeps the sums current by subtracting the old state's share and
//! adding the new one's in the transaction that replaces the state ([`delta`]), so a rebuild
//! from scratch (the sum of every state's share) equals the incremental tables by construction,
//! and no query for a figure ever scans the cases.
//!
//! Two kinds of rows:
//! - **flows**: things that happened on a day (registered, concluded, rated…), keyed by the
//!   China-time day, the case's place (its village-level node path), dispute type, channel and
//!   lead unit (0 when none);
//! - **open**: the cases open right now, keyed by place, type, lead unit, status and light.
use crate::case::{CaseState, Channel, DisputeType, Light, Outcome, Status};
use crate::time::local_date;
use chrono::NaiveDate;
use std::collections::BTreeMap;

/// The version of [`contribution`]'s definition. Change it whenever a change alters what a
/// state contributes: the app then rebuilds the tables once at start.
pub const VERSION: &str = "1";

/// A counted quantity of a flow row. `as_str` is the stored name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Metric {
    /// Registered (受理) on the day; merged duplicates are not counted.
    Registered,
    /// Accepted (签收) by the lead unit.
    Accepted,
    /// Concluded (办结), whatever the outcome.
    Concluded,
    /// Concluded with an agreement (化解成功).
    Resolved,
    /// Concluded after at least one mediation session (调解).
    Mediated,
    /// Concluded after mediation, with an agreement (调解成功).
    MediationSuccess,
    /// Went overdue: the deadline monitor opened an automatic supervision (超期), on that day.
    Overtime,
    /// Days from acceptance to conclusion, summed over concluded cases (with `Handled`).
    HandlingDays,
    /// Concluded cases that had been accepted (the divisor of `HandlingDays`).
    Handled,
    /// Evaluated (评价) by the citizen or a revisit.
    Rated,
    /// Sum of satisfaction scores 1–5 (with `Rated`).
    SatisfactionSum,
    /// Evaluations of 4 or 5 (满意).
    Satisfied,
    /// Concluded cases that had been reopened (重新办理), counted on the conclusion day.
    Reopened,
    /// Archived (归档).
    Archived,
}

impl Metric {
    pub const ALL: [Metric; 14] = [
        Metric::Registered,
        Metric::Accepted,
        Metric::Concluded,
        Metric::Resolved,
        Metric::Mediated,
        Metric::MediationSuccess,
        Metric::Overtime,
        Metric::HandlingDays,
        Metric::Handled,
        Metric::Rated,
        Metric::SatisfactionSum,
        Metric::Satisfied,
        Metric::Reopened,
        Metric::Archived,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Metric::Registered => "registered",
            Metric::Accepted => "accepted",
            Metric::Concluded => "concluded",
            Metric::Resolved => "resolved",
            Metric::Mediated => "mediated",
            Metric::MediationSuccess => "mediation_success",
            Metric::Overtime => "overtime",
            Metric::HandlingDays => "handling_days",
            Metric::Handled => "handled",
            Metric::Rated => "rated",
            Metric::SatisfactionSum => "satisfaction_sum",
            Metric::Satisfied => "satisfied",
            Metric::Reopened => "reopened",
            Metric::Archived => "archived",
        }
    }

    pub fn parse(s: &str) -> Option<Metric> {
        Metric::ALL.into_iter().find(|m| m.as_str() == s)
    }
}

/// The key of a flow row.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct FlowKey {
    pub day: NaiveDate,
    pub node_path: String,
    pub dispute_type: DisputeType,
    pub channel: Channel,
    /// The lead unit, 0 when there is none yet.
    pub unit_id: i64,
    pub metric: Metric,
}

/// The key of an open-case row.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct OpenKey {
    pub node_path: String,
    pub dispute_type: DisputeType,
    /// The lead unit, 0 when there is none yet.
    pub unit_id: i64,
    pub status: Status,
    pub light: Light,
}

/// Signed changes to the statistics; zero entries are dropped.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Delta {
    pub flows: BTreeMap<FlowKey, i64>,
    pub open: BTreeMap<OpenKey, i64>,
}

impl Delta {
    pub fn is_empty(&self) -> bool {
        self.flows.is_empty() && self.open.is_empty()
    }

    /// Adds another delta to this one (what a store does with each change).
    pub fn merge(&mut self, other: &Delta) {
        for (k, v) in &other.flows {
            bump(&mut self.flows, k.clone(), *v);
        }
        for (k, v) in &other.open {
            bump(&mut self.open, k.clone(), *v);
        }
        self.flows.retain(|_, v| *v != 0);
        self.open.retain(|_, v| *v != 0);
    }

    /// Adds `sign` × the contribution of `state`.
    pub fn add(&mut self, state: &CaseState, sign: i64) {
        let c = contribution(state);
        for (k, v) in c.flows {
            bump(&mut self.flows, k, sign * v);
        }
        if let Some(k) = c.open {
            bump(&mut self.open, k, sign);
        }
    }
}

fn bump<K: Ord>(map: &mut BTreeMap<K, i64>, key: K, by: i64) {
    if by == 0 {
        return;
    }
    *map.entry(key).or_insert(0) += by;
}

/// One case's share of the statistics.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Contribution {
    pub flows: Vec<(FlowKey, i64)>,
    pub open: Option<OpenKey>,
}

/// What `state` contributes. Merged duplicates contribute nothing (their dispute is counted
/// once, in the case they were merged into).
pub fn contribution(state: &CaseState) -> Contribution {
    let mut out = Contribution::default();
    if state.status == Status::Merged {
        return out;
    }
    let unit_id = state.lead_unit_id.unwrap_or(0);
    let key = |at: i64, metric: Metric| FlowKey {
        day: local_date(at),
        node_path: state.location.node_path.clone(),
        dispute_type: state.dispute_type,
        channel: state.channel,
        unit_id,
        metric,
    };
    out.flows
        .push((key(state.registered_at, Metric::Registered), 1));
    if let Some(at) = state.accepted_at {
        out.flows.push((key(at, Metric::Accepted), 1));
    }
    if let Some(at) = state.concluded_at {
        let agreement = matches!(state.outcome, Some(Outcome::Agreement { .. }));
        let mediated = !state.sessions.is_empty();
        out.flows.push((key(at, Metric::Concluded), 1));
        if agreement {
            out.flows.push((key(at, Metric::Resolved), 1));
        }
        if mediated {
            out.flows.push((key(at, Metric::Mediated), 1));
            if agreement {
                out.flows.push((key(at, Metric::MediationSuccess), 1));
            }
        }
        if let Some(accepted) = state.accepted_at {
            let days = (local_date(at) - local_date(accepted)).num_days().max(0);
            out.flows.push((key(at, Metric::Handled), 1));
            if days > 0 {
                out.flows.push((key(at, Metric::HandlingDays), days));
            }
        }
        if state.reopen_count > 0 {
            out.flows.push((key(at, Metric::Reopened), 1));
        }
    }
    if let Some(first) = state.supervisions.iter().find(|s| s.automatic) {
        out.flows.push((key(first.opened_at, Metric::Overtime), 1));
    }
    if let Some(e) = &state.evaluation {
        out.flows.push((key(e.at, Metric::Rated), 1));
        out.flows.push((
            key(e.at, Metric::SatisfactionSum),
            i64::from(e.satisfaction),
        ));
        if e.satisfaction >= 4 {
            out.flows.push((key(e.at, Metric::Satisfied), 1));
        }
    }
    if let Some(at) = state.archived_at {
        out.flows.push((key(at, Metric::Archived), 1));
    }
    if state.status.is_open() {
        out.open = Some(OpenKey {
            node_path: state.location.node_path.clone(),
            dispute_type: state.dispute_type,
            unit_id,
            status: state.status,
            light: state.light,
        });
    }
    out
}

/// The change to the statistics when a case goes from `old` (none: a new case) to `new`.
pub fn delta(old: Option<&CaseState>, new: &CaseState) -> Delta {
    let mut d = Delta::default();
    if let Some(old) = old {
        d.add(old, -1);
    }
    d.add(new, 1);
    // What cancelled out is not a change: `delta(Some(s), s)` is empty.
    d.flows.retain(|_, v| *v != 0);
    d.open.retain(|_, v| *v != 0);
    d
}
