//! What one case contributes to the statistics (the cockpit, reports, health checks).
//!
//! The statistics are sums over cases, and each case's share is a pure function of its state:
//! [`contribution`]. A backend keeps the sums current by subtracting the old state's share and
//! adding the new one's in the transaction that replaces the state ([`delta`]), so a rebuild
//! from scratch (the sum of every state's share) equals the incremental tables by construction,
//! and no query for a figure ever scans the cases.
//!
//! A case's share is two kinds of keys:
//! - **flows**: things that happened on a day (registered, concluded, rated…), keyed by the
//!   China-time day, the case's place (its village-level node path), dispute type, channel and
//!   lead unit (0 when none);
//! - **open**: the cases open right now, keyed by place, type, lead unit, status and light.
//!
//! The tables store them expanded into roll-up rows ([`RollKey`]): per jurisdiction level and
//! per unit, per day and per month, so that every figure of the cockpit is a handful of point
//! lookups however many cases there are.
use crate::case::{CaseState, Channel, DisputeType, Light, Outcome, Status};
use crate::time::local_date;
use chrono::NaiveDate;
use std::collections::BTreeMap;

/// The version of [`contribution`]'s definition. Change it whenever a change alters what a
/// state contributes: the app then rebuilds the tables once at start.
pub const VERSION: &str = "4";

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

/// How a roll-up row is bucketed in time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Grain {
    /// A China-time day, period `YYYY-MM-DD` (flows, totals only).
    Day,
    /// A month, period `YYYY-MM` (flows, totals and by type and channel).
    Month,
    /// The cases open now, period empty (by status, light and type).
    Open,
}

impl Grain {
    pub fn as_str(self) -> &'static str {
        match self {
            Grain::Day => "d",
            Grain::Month => "m",
            Grain::Open => "o",
        }
    }

    pub fn parse(s: &str) -> Option<Grain> {
        [Grain::Day, Grain::Month, Grain::Open]
            .into_iter()
            .find(|g| g.as_str() == s)
    }
}

/// The key of a roll-up row: what the cockpit and the reports read, each figure a point or
/// short range lookup whatever the number of cases.
///
/// - `scope`: a jurisdiction code (every level from the top of the case's path down to the
///   village; grids are not rolled up) or [`unit_scope`] (`u:<id>`) for the lead unit;
/// - `period`: see [`Grain`];
/// - `dim`: `""` (all), `t:<type>` (days of places: registrations only), `c:<channel>`
///   (months of places only), `s:<status>`,
///   `l:<light>` (open only);
/// - `metric`: a [`Metric`] name for flows, `open` for open cases.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct RollKey {
    pub scope: String,
    pub grain: Grain,
    pub period: String,
    pub dim: String,
    pub metric: String,
}

/// The metric name of open-case rows.
pub const OPEN: &str = "open";

/// The scope of a unit's rows.
pub fn unit_scope(unit_id: i64) -> String {
    format!("u:{unit_id}")
}

/// The dimension value of a dispute type.
pub fn type_dim(t: DisputeType) -> String {
    format!("t:{}", t.as_str())
}

/// The dimension value of a channel.
pub fn channel_dim(c: Channel) -> String {
    format!("c:{}", c.as_str())
}

/// The dimension value of a status (open rows).
pub fn status_dim(s: Status) -> String {
    format!("s:{}", s.as_str())
}

/// The dimension value of a light (open rows).
pub fn light_dim(l: Light) -> String {
    format!("l:{}", l.as_str())
}

/// The month period of a day.
pub fn month_of(day: NaiveDate) -> String {
    day.format("%Y-%m").to_string()
}

/// The place scopes a node path rolls up into: every code on the path down to the village
/// level (codes of at most 12 digits), top first.
pub fn place_scopes(node_path: &str) -> impl Iterator<Item = &str> {
    node_path
        .split('/')
        .filter(|c| !c.is_empty() && c.len() <= 12)
}

/// Signed changes to the statistics' roll-up rows; zero entries are dropped.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Delta {
    pub rows: BTreeMap<RollKey, i64>,
}

impl Delta {
    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }

    /// Adds another delta to this one (what a store does with each change).
    pub fn merge(&mut self, other: &Delta) {
        for (k, v) in &other.rows {
            bump(&mut self.rows, k.clone(), *v);
        }
        self.rows.retain(|_, v| *v != 0);
    }

    /// Adds `sign` × the contribution of `state`, expanded into roll-up rows.
    pub fn add(&mut self, state: &CaseState, sign: i64) {
        self.add_contribution(&contribution(state), sign);
    }

    /// The change of a case from `old` to `new`: nothing to expand when both count the same
    /// (a link, a message, most events).
    pub fn replace(&mut self, old: &CaseState, new: &CaseState) {
        let (before, after) = (contribution(old), contribution(new));
        if before != after {
            self.add_contribution(&before, -1);
            self.add_contribution(&after, 1);
        }
    }

    fn add_contribution(&mut self, c: &Contribution, sign: i64) {
        for (k, v) in &c.flows {
            for row in flow_rows(k) {
                bump(&mut self.rows, row, sign * v);
            }
        }
        if let Some(k) = &c.open {
            for row in open_rows(k) {
                bump(&mut self.rows, row, sign);
            }
        }
    }

    /// The value of one row (0 when absent).
    pub fn get(&self, key: &RollKey) -> i64 {
        self.rows.get(key).copied().unwrap_or(0)
    }
}

/// The roll-up rows one flow adds to: for each place scope, its day total and its month
/// total, by type and by channel; for the lead unit, its month total and by type.
pub fn flow_rows(k: &FlowKey) -> Vec<RollKey> {
    let day = k.day.format("%Y-%m-%d").to_string();
    let month = month_of(k.day);
    let metric = k.metric.as_str();
    let row = |scope: &str, grain: Grain, period: &str, dim: String| RollKey {
        scope: scope.to_string(),
        grain,
        period: period.to_string(),
        dim,
        metric: metric.to_string(),
    };
    let mut out = Vec::with_capacity(24);
    for scope in place_scopes(&k.node_path) {
        out.push(row(scope, Grain::Day, &day, String::new()));
        // Registrations per day and type: the early warning's series (issue 5).
        if k.metric == Metric::Registered {
            out.push(row(scope, Grain::Day, &day, type_dim(k.dispute_type)));
        }
        out.push(row(scope, Grain::Month, &month, String::new()));
        out.push(row(scope, Grain::Month, &month, type_dim(k.dispute_type)));
        out.push(row(scope, Grain::Month, &month, channel_dim(k.channel)));
    }
    if k.unit_id != 0 {
        let unit = unit_scope(k.unit_id);
        out.push(row(&unit, Grain::Month, &month, String::new()));
        out.push(row(&unit, Grain::Month, &month, type_dim(k.dispute_type)));
    }
    out
}

/// The roll-up rows one open case adds to: for each place scope and the lead unit, the total
/// and by status, light and type.
pub fn open_rows(k: &OpenKey) -> Vec<RollKey> {
    let unit = (k.unit_id != 0).then(|| unit_scope(k.unit_id));
    let scopes = place_scopes(&k.node_path).chain(unit.as_deref());
    let mut out = Vec::with_capacity(24);
    for scope in scopes {
        for dim in [
            String::new(),
            status_dim(k.status),
            light_dim(k.light),
            type_dim(k.dispute_type),
        ] {
            out.push(RollKey {
                scope: scope.to_string(),
                grain: Grain::Open,
                period: String::new(),
                dim,
                metric: OPEN.to_string(),
            });
        }
    }
    out
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
    d.rows.retain(|_, v| *v != 0);
    d
}
