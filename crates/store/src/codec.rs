//! How domain values become column values and back, shared by every backend so that
//! SQLite and PostgreSQL store exactly the same representation.
use crate::seal::Sealer;
use crate::{Result, StoreError, StoredAnalysis};
use fengqiao_domain::access::Role;
use fengqiao_domain::case::{CaseState, Status};
use fengqiao_domain::jurisdiction::Level;
use fengqiao_domain::stats::{Grain, RollKey};
use fengqiao_domain::time::Millis;
use fengqiao_domain::unit::UnitKind;
use fengqiao_domain::workflow::{CaseEdit, CaseEvent, EventKind};

/// The columns of the `cases` table that are projections of the state, for filtering.
#[derive(Debug, Clone, PartialEq)]
pub struct CaseColumns {
    pub tracking_code: String,
    pub status: &'static str,
    pub channel: &'static str,
    pub dispute_type: &'static str,
    pub node_path: String,
    pub lead_unit_id: Option<i64>,
    pub light: &'static str,
    pub due_date: Option<String>,
    pub open_supervisions: i64,
    pub submitted_by: Option<i64>,
    pub registered_at: Millis,
    pub state_json: String,
    /// (unit id, is lead) for the `case_units` projection.
    pub units: Vec<(i64, bool)>,
    /// The blind index of the parties' numbers, for the `party_keys` projection.
    pub party_keys: Vec<String>,
    /// The experts added to the case, for the `case_experts` projection.
    pub experts: Vec<i64>,
}

/// Whether an event changes the units or the experts a case is with, or the village its
/// parties' names are keyed with (the `case_units`, `case_experts` and `party_keys`
/// projections, rewritten together).
pub fn rewrites_case_people(kind: &EventKind) -> bool {
    matches!(
        kind,
        EventKind::Routed { .. }
            | EventKind::Returned { .. }
            | EventKind::Reopened { .. }
            | EventKind::UnitsSummoned { .. }
            | EventKind::ExpertAdded { .. }
            | EventKind::ExpertRemoved { .. }
            | EventKind::Edited(CaseEdit {
                location: Some(_),
                ..
            })
            | EventKind::PartyAdded(_)
    )
}

/// The columns of a case, its state's personal members sealed.
pub fn case_columns(state: &CaseState, sealer: &Sealer) -> Result<CaseColumns> {
    let mut units: Vec<(i64, bool)> = state.co_unit_ids.iter().map(|u| (*u, false)).collect();
    if let Some(lead) = state.lead_unit_id {
        units.push((lead, true));
    }
    Ok(CaseColumns {
        tracking_code: state.tracking_code.clone(),
        status: state.status.as_str(),
        channel: state.channel.as_str(),
        dispute_type: state.dispute_type.as_str(),
        node_path: state.location.node_path.clone(),
        lead_unit_id: state.lead_unit_id,
        light: state.light.as_str(),
        // The monitor visits cases with a running deadline or a revisit not yet requested.
        due_date: state
            .deadline
            .as_ref()
            .map(|d| d.due)
            .or(state
                .revisit_due_on
                .filter(|_| !state.revisit_requested && state.status == Status::FeedbackGiven))
            // …and the cases with an agreement obligation to remind of.
            .or(state
                .room
                .agreement
                .as_ref()
                .and_then(|a| a.next_reminder()))
            .map(|d| d.format("%Y-%m-%d").to_string()),
        open_supervisions: state.open_supervisions().count() as i64,
        submitted_by: state.submitted_by,
        registered_at: state.registered_at,
        state_json: sealer.to_sealed_json(state)?,
        units,
        party_keys: party_keys(state, sealer),
        experts: state.expert_ids.clone(),
    })
}

/// The blind index of each ID-card and phone number of a case's parties and of each named
/// party's name in the case's village (`Party::name_place_key`), sorted, once each.
pub fn party_keys(state: &CaseState, sealer: &Sealer) -> Vec<String> {
    let mut keys: Vec<String> = state
        .parties
        .iter()
        .flat_map(|p| {
            p.phone
                .as_ref()
                .map(|x| sealer.blind(x.as_str()))
                .into_iter()
                .chain(p.id_number.as_ref().map(|x| sealer.blind(x.as_str())))
                .chain(
                    p.name_place_key(&state.location.node_path)
                        .map(|k| sealer.blind_text(&k)),
                )
        })
        .collect();
    keys.sort();
    keys.dedup();
    keys
}

pub fn state_from_json(s: &str, sealer: &Sealer) -> Result<CaseState> {
    sealer.from_sealed_json(s, "case state")
}

/// An event's stored payload, its personal members sealed.
pub fn event_payload(kind: &EventKind, sealer: &Sealer) -> Result<String> {
    sealer.to_sealed_json(kind)
}

/// An analysis row as stored: the analysis and the fingerprint with personal members sealed
/// (the numbers a text names, and the mentions of them).
pub fn sealed_analysis(a: &StoredAnalysis, sealer: &Sealer) -> Result<StoredAnalysis> {
    let seal = |s: &str| -> Result<String> {
        // Only members named `phone`, `id_number` or `text` are ever sealed: a document
        // without them (a fingerprint) is stored as it is, not parsed and written again.
        if !["\"phone\"", "\"id_number\"", "\"text\""]
            .iter()
            .any(|k| s.contains(k))
        {
            return Ok(s.to_string());
        }
        let mut v: serde_json::Value = serde_json::from_str(s)
            .map_err(|e| StoreError::Corrupt(format!("analysis to store: {e}")))?;
        sealer.seal_json(&mut v);
        serde_json::to_string(&v).map_err(|e| StoreError::Corrupt(e.to_string()))
    };
    Ok(StoredAnalysis {
        analysis: seal(&a.analysis)?,
        fingerprint: seal(&a.fingerprint)?,
        ..a.clone()
    })
}

/// A stored analysis row, opened.
pub fn opened_analysis(mut a: StoredAnalysis, sealer: &Sealer) -> Result<StoredAnalysis> {
    a.analysis = open_json_text(&a.analysis, sealer)?;
    a.fingerprint = open_json_text(&a.fingerprint, sealer)?;
    Ok(a)
}

/// Stored JSON text with its sealed members opened.
pub fn open_json_text(s: &str, sealer: &Sealer) -> Result<String> {
    if !s.contains(crate::seal::PREFIX) {
        return Ok(s.to_string());
    }
    let v: serde_json::Value = sealer.from_sealed_json(s, "stored document")?;
    serde_json::to_string(&v).map_err(|e| StoreError::Corrupt(e.to_string()))
}

pub fn event_from_row(
    seq: i64,
    at: Millis,
    actor_id: Option<i64>,
    payload: &str,
    sealer: &Sealer,
) -> Result<CaseEvent> {
    let kind: EventKind = sealer.from_sealed_json(payload, "event payload")?;
    Ok(CaseEvent {
        seq: u32::try_from(seq).map_err(|e| StoreError::Corrupt(e.to_string()))?,
        at,
        actor_id,
        kind,
    })
}

pub fn role(s: &str) -> Result<Role> {
    Role::parse(s).ok_or_else(|| StoreError::Corrupt(format!("role {s}")))
}

pub fn unit_kind(s: &str) -> Result<UnitKind> {
    UnitKind::parse(s).ok_or_else(|| StoreError::Corrupt(format!("unit kind {s}")))
}

pub fn level(s: &str) -> Result<Level> {
    Level::parse(s).ok_or_else(|| StoreError::Corrupt(format!("level {s}")))
}

pub fn boundary_from_text(s: Option<String>) -> Result<Option<serde_json::Value>> {
    s.map(|t| serde_json::from_str(&t).map_err(|e| StoreError::Corrupt(format!("boundary: {e}"))))
        .transpose()
}

pub fn date(s: &str) -> Result<chrono::NaiveDate> {
    chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d")
        .map_err(|e| StoreError::Corrupt(format!("date {s}: {e}")))
}

/// The stored `grain` column of a roll-up row: the time grain's letter followed by the
/// dimension's kind (`d` day totals, `dt` days by type, `m` month totals, `mt` months by type,
/// `mc` by channel, `o` open totals,
/// `os`/`ol`/`ot` open by status, light, type). Rows of one kind are then contiguous in the
/// primary key, so a query reads only the rows it returns.
pub fn grain_column(grain: Grain, dim: &str) -> String {
    let kind = dim.split(':').next().unwrap_or("");
    let kind = if dim.contains(':') { kind } else { "" };
    format!("{}{kind}", grain.as_str())
}

/// The `grain` column a query selects.
pub fn query_grain_column(grain: Grain, prefix: &str) -> String {
    format!("{}{}", grain.as_str(), prefix.trim_end_matches(':'))
}

/// A roll-up key of the statistics from its columns.
pub fn roll_key(
    scope: String,
    grain: &str,
    period: String,
    dim: String,
    metric: String,
) -> Result<RollKey> {
    Ok(RollKey {
        scope,
        grain: grain
            .get(..1)
            .and_then(Grain::parse)
            .ok_or_else(|| StoreError::Corrupt(format!("stats: grain {grain:?}")))?,
        period,
        dim,
        metric,
    })
}

pub fn warning_json(w: &fengqiao_domain::warning::Warning) -> Result<String> {
    serde_json::to_string(w).map_err(|e| StoreError::Corrupt(format!("warning to JSON: {e}")))
}

/// A stored warning: the body, with the row's id.
pub fn warning_from_row(id: i64, body: &str) -> Result<fengqiao_domain::warning::Warning> {
    let mut w: fengqiao_domain::warning::Warning = serde_json::from_str(body)
        .map_err(|e| StoreError::Corrupt(format!("warning {id}: {e}")))?;
    w.id = id;
    Ok(w)
}

/// `,a,b,`: a list of kinds as the `webhooks.kinds` column stores it (`''` = every kind).
pub fn kinds_column(kinds: &[String]) -> String {
    if kinds.is_empty() {
        return String::new();
    }
    format!(",{},", kinds.join(","))
}

pub fn kinds_from_column(s: &str) -> Vec<String> {
    s.split(',')
        .filter(|k| !k.is_empty())
        .map(str::to_string)
        .collect()
}

pub fn medium(s: &str) -> Result<fengqiao_domain::outbound::Medium> {
    fengqiao_domain::outbound::Medium::parse(s)
        .ok_or_else(|| StoreError::Corrupt(format!("medium {s}")))
}

pub fn delivery_status(s: &str) -> Result<fengqiao_domain::outbound::DeliveryStatus> {
    fengqiao_domain::outbound::DeliveryStatus::parse(s)
        .ok_or_else(|| StoreError::Corrupt(format!("delivery status {s}")))
}

/// The columns an attempt's outcome sets: (status, next attempt at (unchanged if `None`),
/// last error, delivered at).
pub fn outcome_columns(
    o: &fengqiao_domain::outbound::AttemptOutcome,
) -> (&'static str, Option<Millis>, Option<&str>, Option<Millis>) {
    use fengqiao_domain::outbound::AttemptOutcome as A;
    match o {
        A::Delivered { at } => ("delivered", None, None, Some(*at)),
        A::Retry { error, next_at } => ("pending", Some(*next_at), Some(error), None),
        A::GaveUp { error } => ("failed", None, Some(error), None),
    }
}

/// Keeps an error message short enough for the table and the admin page.
pub fn clip_error(e: &str) -> String {
    e.chars().take(500).collect()
}

/// A delivery's `target` column: an SMS's phone number sealed (deterministically: the column
/// is part of the key that keeps a notification from being queued twice); webhook ids and
/// e-mail addresses as they are.
pub fn delivery_target_column(
    medium: fengqiao_domain::outbound::Medium,
    target: &str,
    sealer: &Sealer,
) -> String {
    match medium {
        fengqiao_domain::outbound::Medium::Sms => sealer.seal_deterministic("target", target),
        _ => target.to_string(),
    }
}

/// A contact's phone as stored (sealed).
pub fn contact_phone_column(phone: Option<&str>, sealer: &Sealer) -> Option<String> {
    phone.map(|p| sealer.seal("phone", p))
}

/// A stored contact phone, opened.
pub fn contact_phone(stored: Option<String>, sealer: &Sealer) -> Result<Option<String>> {
    stored.map(|p| sealer.open("phone", &p)).transpose()
}

/// A TOTP secret as stored (sealed).
pub fn totp_secret_column(secret: Option<&str>, sealer: &Sealer) -> Option<String> {
    secret.map(|s| sealer.seal("totp_secret", s))
}

/// A stored TOTP secret, opened.
pub fn totp_secret(stored: Option<String>, sealer: &Sealer) -> Result<Option<String>> {
    stored.map(|s| sealer.open("totp_secret", &s)).transpose()
}

pub fn export_status(s: &str) -> Result<fengqiao_domain::export::ExportStatus> {
    fengqiao_domain::export::ExportStatus::parse(s)
        .ok_or_else(|| StoreError::Corrupt(format!("export status {s}")))
}
