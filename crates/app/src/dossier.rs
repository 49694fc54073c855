//! 全息档案: the full history of a person — every case they are a party of that the viewer may
//! see, matched through the blind index of their ID-card number, phone or name in the village —
//! and of a place: its disputes month by month and by type, its warnings, its latest cases.
//!
//! Owns: how a person is matched (`MatchBasis`, with its confidence), what a person's page and
//! a place's page hold, and that every view of a person's page is audited.
use crate::cases::visibility;
use crate::cockpit::{month_str, shift_month, Count};
use crate::error::{AppError, Result};
use crate::App;
use fengqiao_domain::access::{can_view, Actor, Operation, Role};
use fengqiao_domain::audit::AuditAction;
use fengqiao_domain::case::{CaseState, Channel, DisputeType, Party, PartyRole, Status};
use fengqiao_domain::jurisdiction::{path_within, village_path, Level};
use fengqiao_domain::risk::RiskGrade;
use fengqiao_domain::stats::{self, Grain};
use fengqiao_domain::time::{local_date, Millis};
use fengqiao_domain::validate::{mask_numbers_in_text, PersonalNumber};
use fengqiao_domain::DomainError;
use fengqiao_store::{CaseFilter, DimSel, StoredCase};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashMap};
use utoipa::ToSchema;

/// At most this many cases on a person's page (newest first), per key looked up.
pub const PERSON_CASES_LIMIT: u32 = 200;
/// Open cases whose risk grade a person's page computes (each costs a history look-up).
const RISK_GRADED_LIMIT: usize = 10;

/// The statuses of a case still being handled (the cockpit's "in progress").
const IN_PROGRESS: [Status; 4] = [
    Status::Registered,
    Status::Routed,
    Status::Accepted,
    Status::InMediation,
];

/// Whom a person's page is about.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(tag = "by", rename_all = "snake_case")]
pub enum PersonQuery {
    /// A party of a case the viewer sees (no number typed: what the case knows of them).
    Party { case_id: i64, party_index: usize },
    /// An ID-card or phone number (needs the permission to see personal numbers).
    Number { number: String },
    /// A full name in a village (or grid, or the town when the case names no village).
    Name { name: String, place_code: String },
}

/// How a case was found to involve the person, from surest to least sure.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum MatchBasis {
    /// The same ID-card number.
    IdNumber,
    /// The same phone number (a family may share one).
    Phone,
    /// The same full name in the same village (a namesake is possible).
    NamePlace,
}

impl MatchBasis {
    /// How sure the match is, 0–1, shown beside each case.
    pub fn confidence(self) -> f64 {
        match self {
            MatchBasis::IdNumber => 1.0,
            MatchBasis::Phone => 0.9,
            MatchBasis::NamePlace => 0.6,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            MatchBasis::IdNumber => "id_number",
            MatchBasis::Phone => "phone",
            MatchBasis::NamePlace => "name_place",
        }
    }
}

/// One case on a person's page.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct PersonCase {
    pub case_id: i64,
    pub tracking_code: String,
    pub registered_at: Millis,
    pub channel: Channel,
    pub dispute_type: DisputeType,
    pub status: Status,
    /// The village (or the place the case is at).
    pub place: String,
    /// The name as this case records it.
    pub name: String,
    pub role: PartyRole,
    pub matched_by: MatchBasis,
    pub confidence: f64,
    /// `agreement`, `no_agreement`, `withdrawn`, when concluded.
    pub outcome: Option<String>,
    /// The first words of the text, personal numbers masked.
    pub summary: String,
    /// The escalation-risk grade, computed for the newest open cases.
    pub risk: Option<RiskGrade>,
}

/// A person's page.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct PersonDossier {
    /// The name most of the cases record.
    pub name: String,
    /// How the person was identified.
    pub identified_by: MatchBasis,
    /// The number looked up or the party's numbers, masked.
    pub numbers: Vec<String>,
    /// Newest first.
    pub cases: Vec<PersonCase>,
    pub open: usize,
    pub resolved: usize,
    /// Cases that came through the petition channel (信访).
    pub petitions: usize,
    pub as_applicant: usize,
    pub as_respondent: usize,
    /// Cases registered in the last 12 months.
    pub last_12_months: usize,
    /// Two or more disputes in 12 months (重复纠纷).
    pub repeat: bool,
    pub highest_risk: Option<RiskGrade>,
    /// More cases exist than the page lists.
    pub truncated: bool,
}

/// A month of a place's disputes.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct PlaceMonth {
    pub month: String,
    pub registered: i64,
    pub resolved: i64,
}

/// A warning touching a place.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct PlaceWarning {
    pub id: i64,
    pub level: String,
    pub kind: String,
    pub dispute_type: DisputeType,
    pub area: String,
    pub status: String,
    pub first_day: String,
    pub last_day: String,
}

/// A place's page.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct PlaceDossier {
    pub code: String,
    pub name: String,
    pub level: Level,
    /// The places above it, top first.
    pub crumbs: Vec<(String, String)>,
    /// The last 24 months, oldest first.
    pub months: Vec<PlaceMonth>,
    /// Registrations of those 24 months by type, largest first.
    pub types: Vec<Count>,
    pub total: i64,
    /// Open cases now.
    pub open: i64,
    /// Warnings over the place, its area or a cluster including it, newest first.
    pub warnings: Vec<PlaceWarning>,
    /// The latest cases the viewer sees there, newest first.
    pub recent: Vec<PersonCaseLite>,
}

/// A case in a place's list.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct PersonCaseLite {
    pub case_id: i64,
    pub tracking_code: String,
    pub registered_at: Millis,
    pub dispute_type: DisputeType,
    pub status: Status,
    pub summary: String,
}

/// The parties of a case that a key set identifies, surest basis first.
fn matching_party(
    state: &CaseState,
    numbers: &[PersonalNumber],
    names: &[String],
) -> Option<(usize, MatchBasis)> {
    let mut best: Option<(usize, MatchBasis)> = None;
    for (i, p) in state.parties.iter().enumerate() {
        let basis = party_basis(p, &state.location.node_path, numbers, names);
        if let Some(b) = basis {
            if best.is_none_or(|(_, x)| b < x) {
                best = Some((i, b));
            }
        }
    }
    best
}

fn party_basis(
    p: &Party,
    node_path: &str,
    numbers: &[PersonalNumber],
    names: &[String],
) -> Option<MatchBasis> {
    let id = p.id_number.as_ref().map(|x| x.as_str());
    let phone = p.phone.as_ref().map(|x| x.as_str());
    if numbers
        .iter()
        .any(|n| matches!(n, PersonalNumber::IdCard(_)) && Some(n.as_str()) == id)
    {
        return Some(MatchBasis::IdNumber);
    }
    if numbers
        .iter()
        .any(|n| matches!(n, PersonalNumber::Phone(_)) && Some(n.as_str()) == phone)
    {
        return Some(MatchBasis::Phone);
    }
    let key = p.name_place_key(node_path)?;
    names.contains(&key).then_some(MatchBasis::NamePlace)
}

fn summary(state: &CaseState) -> String {
    let text: String = state.text.chars().take(60).collect();
    mask_numbers_in_text(&text)
}

fn numbers_of(p: &Party) -> Vec<PersonalNumber> {
    let mut out = Vec::new();
    if let Some(n) = &p.id_number {
        out.push(PersonalNumber::IdCard(n.clone()));
    }
    if let Some(n) = &p.phone {
        out.push(PersonalNumber::Phone(n.clone()));
    }
    out
}

impl App {
    /// A person's page (全息档案): the cases the actor may see in which the person is a party.
    /// Numbers find the person exactly; the names found with them (and a name asked for) then
    /// find the cases that recorded the person by name in the same village, with a lower
    /// confidence. Every view is audited.
    pub async fn person_dossier(&self, actor: &Actor, q: &PersonQuery) -> Result<PersonDossier> {
        if !actor.role.is_staff() || actor.role == Role::Expert {
            return Err(DomainError::Forbidden.into());
        }
        let (numbers, mut names, identified_by, seed_name) = match q {
            PersonQuery::Party {
                case_id,
                party_index,
            } => {
                let case = self.load_visible(actor, *case_id).await?;
                let p = case
                    .state
                    .parties
                    .get(*party_index)
                    .ok_or(AppError::NotFound("party"))?;
                let numbers = numbers_of(p);
                let names: Vec<String> = p
                    .name_place_key(&case.state.location.node_path)
                    .into_iter()
                    .collect();
                let basis = match numbers.first() {
                    Some(PersonalNumber::IdCard(_)) => MatchBasis::IdNumber,
                    Some(PersonalNumber::Phone(_)) => MatchBasis::Phone,
                    None => MatchBasis::NamePlace,
                };
                if numbers.is_empty() && names.is_empty() {
                    return Err(DomainError::validation(
                        "party_index",
                        "the party has no number and no full name to match",
                    )
                    .into());
                }
                (numbers, names, basis, p.name.clone())
            }
            PersonQuery::Number { number } => {
                if !actor.role.permits(Operation::RevealPersonalInfo) {
                    return Err(DomainError::Forbidden.into());
                }
                let n = PersonalNumber::parse(number)?;
                let basis = match n {
                    PersonalNumber::IdCard(_) => MatchBasis::IdNumber,
                    PersonalNumber::Phone(_) => MatchBasis::Phone,
                };
                (vec![n], Vec::new(), basis, String::new())
            }
            PersonQuery::Name { name, place_code } => {
                let place = self
                    .store
                    .get_jurisdiction(place_code)
                    .await?
                    .filter(|j| path_within(&j.path, &actor.scope_path))
                    .ok_or(AppError::NotFound("jurisdiction"))?;
                let party = Party {
                    name: name.clone(),
                    role: PartyRole::Other,
                    id_number: None,
                    phone: None,
                    address: None,
                };
                let key = party.name_place_key(&place.path).ok_or_else(|| {
                    DomainError::validation("name", "a full name of two characters or more")
                })?;
                (Vec::new(), vec![key], MatchBasis::NamePlace, name.clone())
            }
        };

        let sealer = self.store.sealer();
        let mut found: BTreeMap<i64, StoredCase> = BTreeMap::new();
        let mut truncated = false;
        let mut searched: Vec<String> = Vec::new();
        // Numbers first; then the names those cases record for the person, one round.
        for round in 0..2 {
            let mut keys: Vec<String> = numbers.iter().map(|n| sealer.blind(n.as_str())).collect();
            keys.extend(names.iter().map(|k| sealer.blind_text(k)));
            keys.retain(|k| !searched.contains(k));
            for k in &keys {
                let page = self
                    .store
                    .list_cases(&CaseFilter {
                        visibility: visibility(actor),
                        party_key: Some(k.clone()),
                        limit: PERSON_CASES_LIMIT,
                        ..CaseFilter::default()
                    })
                    .await?;
                truncated |= page.next_before_id.is_some();
                for c in page.items {
                    if can_view(actor, &c.state) {
                        found.insert(c.id, c);
                    }
                }
                searched.push(k.clone());
            }
            if round == 1 {
                break;
            }
            for c in found.values() {
                if let Some((i, b)) = matching_party(&c.state, &numbers, &names) {
                    if b != MatchBasis::NamePlace {
                        let p = &c.state.parties[i];
                        if let Some(k) = p.name_place_key(&c.state.location.node_path) {
                            if !names.contains(&k) {
                                names.push(k);
                            }
                        }
                    }
                }
            }
        }

        let mut cases: Vec<PersonCase> = Vec::new();
        let mut name_votes: HashMap<String, usize> = HashMap::new();
        let now = self.now();
        let year_ago = now - 365 * 86_400_000;
        for c in found.values().rev() {
            let Some((i, basis)) = matching_party(&c.state, &numbers, &names) else {
                continue;
            };
            let p = &c.state.parties[i];
            *name_votes.entry(p.name.clone()).or_default() += 1;
            let village = village_path(&c.state.location.node_path)
                .trim_end_matches('/')
                .rsplit('/')
                .next()
                .unwrap_or_default()
                .to_string();
            cases.push(PersonCase {
                case_id: c.id,
                tracking_code: c.state.tracking_code.clone(),
                registered_at: c.state.registered_at,
                channel: c.state.channel,
                dispute_type: c.state.dispute_type,
                status: c.state.status,
                place: self.node_name(&village).await,
                name: p.name.clone(),
                role: p.role,
                matched_by: basis,
                confidence: basis.confidence(),
                outcome: c.state.outcome.as_ref().map(|o| o.as_str().to_string()),
                summary: summary(&c.state),
                risk: None,
            });
        }
        let mut graded = 0;
        for pc in cases.iter_mut() {
            if graded >= RISK_GRADED_LIMIT {
                break;
            }
            if IN_PROGRESS.contains(&pc.status) {
                pc.risk = Some(self.case_risk(actor, pc.case_id).await?.grade);
                graded += 1;
            }
        }
        let name = name_votes
            .into_iter()
            .max_by(|a, b| a.1.cmp(&b.1).then_with(|| b.0.cmp(&a.0)))
            .map(|(n, _)| n)
            .unwrap_or(seed_name);
        let last_12_months = cases.iter().filter(|c| c.registered_at >= year_ago).count();
        let dossier = PersonDossier {
            name,
            identified_by,
            numbers: numbers.iter().map(|n| n.masked()).collect(),
            open: cases
                .iter()
                .filter(|c| IN_PROGRESS.contains(&c.status))
                .count(),
            resolved: cases
                .iter()
                .filter(|c| c.outcome.as_deref() == Some("agreement"))
                .count(),
            petitions: cases
                .iter()
                .filter(|c| c.channel == Channel::Petition)
                .count(),
            as_applicant: cases
                .iter()
                .filter(|c| c.role == PartyRole::Applicant)
                .count(),
            as_respondent: cases
                .iter()
                .filter(|c| c.role == PartyRole::Respondent)
                .count(),
            last_12_months,
            repeat: last_12_months >= 2,
            highest_risk: cases.iter().filter_map(|c| c.risk).max_by_key(|g| match g {
                RiskGrade::Red => 2,
                RiskGrade::Yellow => 1,
                RiskGrade::Green => 0,
            }),
            truncated,
            cases,
        };
        self.audit_actor(
            actor,
            AuditAction::PersonViewed,
            "people",
            "ok",
            serde_json::json!({
                "by": identified_by.as_str(),
                "numbers": dossier.numbers,
                "cases": dossier.cases.len(),
            }),
        )
        .await?;
        Ok(dossier)
    }

    /// A place's page: its disputes over the last 24 months, by type, its warnings and its
    /// latest cases the actor may see. The place must lie within the actor's scope.
    pub async fn place_dossier(&self, actor: &Actor, code: &str) -> Result<PlaceDossier> {
        if !actor.role.is_staff() || actor.role == Role::Expert {
            return Err(DomainError::Forbidden.into());
        }
        let node = self
            .store
            .get_jurisdiction(code)
            .await?
            .filter(|j| path_within(&j.path, &actor.scope_path))
            .ok_or(AppError::NotFound("jurisdiction"))?;
        let month = month_str(local_date(self.now()));
        let first = shift_month(&month, -23)?;
        let scope = vec![node.code.clone()];
        let totals = self
            .rollup(scope.clone(), Grain::Month, &first, &month, DimSel::Total)
            .await?;
        let by_type = self
            .rollup(
                scope.clone(),
                Grain::Month,
                &first,
                &month,
                DimSel::Kind("t:"),
            )
            .await?;
        let open_rows = self
            .rollup(scope, Grain::Open, "", "", DimSel::Kind("s:"))
            .await?;
        let mut months = Vec::with_capacity(24);
        for k in 0..24 {
            let m = shift_month(&first, k)?;
            let get = |metric: stats::Metric| {
                totals
                    .iter()
                    .filter(|(r, _)| r.period == m && r.metric == metric.as_str())
                    .map(|(_, v)| *v)
                    .sum::<i64>()
            };
            months.push(PlaceMonth {
                registered: get(stats::Metric::Registered),
                resolved: get(stats::Metric::Resolved),
                month: m,
            });
        }
        let mut types: BTreeMap<String, i64> = BTreeMap::new();
        for (k, v) in &by_type {
            if k.metric == stats::Metric::Registered.as_str() {
                if let Some(t) = k.dim.strip_prefix("t:") {
                    *types.entry(t.to_string()).or_default() += v;
                }
            }
        }
        let mut types: Vec<Count> = types
            .into_iter()
            .map(|(key, value)| Count {
                label: DisputeType::parse(&key)
                    .map(|t| t.zh().to_string())
                    .unwrap_or_else(|| key.clone()),
                key,
                value,
            })
            .collect();
        types.sort_by(|a, b| b.value.cmp(&a.value).then_with(|| a.key.cmp(&b.key)));
        let in_progress = IN_PROGRESS.map(stats::status_dim);
        let open = open_rows
            .iter()
            .filter(|(k, _)| in_progress.contains(&k.dim))
            .map(|(_, v)| *v)
            .sum();

        // Warnings of the place's county that cover it: its own area or one above it, an area
        // inside it, or a cluster listing it.
        let county = crate::warnings::county_path(&node.path);
        let mut warnings: Vec<PlaceWarning> = self
            .warnings_in(&county, None, None, false)
            .await?
            .into_iter()
            .filter(|w| {
                path_within(&node.path, &w.area_path)
                    || path_within(&w.area_path, &node.path)
                    || w.evidence
                        .places
                        .iter()
                        .any(|p| p == &node.code || p.starts_with(&node.code))
            })
            .map(|w| PlaceWarning {
                id: w.id,
                level: w.level.as_str().into(),
                kind: w.kind.as_str().into(),
                dispute_type: w.dispute_type,
                area: w.area_name.clone(),
                status: w.status.as_str().into(),
                first_day: w.first_day.to_string(),
                last_day: w.last_day.to_string(),
            })
            .collect();
        warnings.sort_by(|a, b| b.last_day.cmp(&a.last_day).then(b.id.cmp(&a.id)));
        warnings.truncate(50);

        let recent = self
            .store
            .list_cases(&CaseFilter {
                visibility: visibility(actor),
                node_path: Some(node.path.clone()),
                limit: 20,
                ..CaseFilter::default()
            })
            .await?
            .items
            .into_iter()
            .filter(|c| can_view(actor, &c.state))
            .map(|c| PersonCaseLite {
                case_id: c.id,
                tracking_code: c.state.tracking_code.clone(),
                registered_at: c.state.registered_at,
                dispute_type: c.state.dispute_type,
                status: c.state.status,
                summary: summary(&c.state),
            })
            .collect();
        let mut crumbs = Vec::new();
        for code in node.path.trim_matches('/').split('/') {
            if code != node.code {
                crumbs.push((code.to_string(), self.node_name(code).await));
            }
        }
        Ok(PlaceDossier {
            total: months.iter().map(|m| m.registered).sum(),
            code: node.code,
            name: node.name,
            level: node.level,
            crumbs,
            months,
            types,
            open,
            warnings,
            recent,
        })
    }
}
