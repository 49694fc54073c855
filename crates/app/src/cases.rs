//! Cases: intake (with idempotency), reading with masking, transitions, the citizen's
//! tracking view, reveals and attachments.
use crate::auth::sm3_hex;
use crate::privacy::mask_personal;
use crate::{App, AppError, Result};
use fengqiao_domain::access::{authorize_node, can_view, Actor, Operation, Role};
use fengqiao_domain::audit::AuditAction;
use fengqiao_domain::case::*;
use fengqiao_domain::jurisdiction::path_within;
use fengqiao_domain::validate::{IdCardNumber, PersonalNumber, PhoneNumber};
use fengqiao_domain::workflow::{self, CaseEvent, Command, Context, EventKind, NewCase};
use fengqiao_store::{
    Append, Blob, CaseFilter, Created, IdempotencyKey, NewNotification, SourceRecord, StoredCase,
    Visibility,
};
use rand_core::{OsRng, RngCore};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use utoipa::{IntoParams, ToSchema};

/// A party as submitted: personal numbers as typed, checked here.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct PartyInput {
    pub name: String,
    #[serde(default = "applicant")]
    pub role: PartyRole,
    pub id_number: Option<String>,
    pub phone: Option<String>,
    pub address: Option<String>,
}

fn applicant() -> PartyRole {
    PartyRole::Applicant
}

/// A case as submitted by staff or a grid worker.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct CaseInput {
    pub channel: Channel,
    pub text: String,
    #[serde(default)]
    pub parties: Vec<PartyInput>,
    pub dispute_type: Option<DisputeType>,
    pub subtype: Option<String>,
    /// Jurisdiction node (village, grid, town…) where the dispute is.
    pub node_code: String,
    pub address: Option<String>,
    /// (longitude, latitude).
    pub coordinates: Option<[f64; 2]>,
    /// When it happened, UTC milliseconds.
    pub occurred_at: Option<i64>,
    pub complexity: Option<Complexity>,
    pub risk_level: Option<RiskLevel>,
    pub amount_fen: Option<i64>,
    pub people_involved: Option<u32>,
}

/// A citizen's submission from the mobile form (no account needed).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct PublicSubmission {
    pub text: String,
    pub node_code: String,
    pub name: Option<String>,
    pub phone: String,
    pub address: Option<String>,
    pub occurred_at: Option<i64>,
    /// The citizen agrees that the centre processes the personal information given.
    pub consent: bool,
}

/// Filters of the case list.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, ToSchema, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct CaseQuery {
    pub status: Option<Status>,
    pub dispute_type: Option<DisputeType>,
    pub channel: Option<Channel>,
    pub unit_id: Option<i64>,
    /// Only cases in this jurisdiction subtree.
    pub node_code: Option<String>,
    pub light: Option<Light>,
    /// Registered at or after (UTC ms).
    pub from: Option<i64>,
    /// Registered before (UTC ms).
    pub to: Option<i64>,
    pub with_open_supervision: Option<bool>,
    /// Cursor: the `next_before_id` of the previous page.
    pub before_id: Option<i64>,
    /// Page size, 1–500 (default 50).
    pub limit: Option<u32>,
    /// Also count all matches (slower on big lists).
    pub with_total: Option<bool>,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct CaseList {
    /// Cases, newest first, personal numbers masked.
    #[schema(value_type = Vec<Object>)]
    pub items: Vec<Value>,
    pub next_before_id: Option<i64>,
    pub total: Option<u64>,
}

/// What a citizen sees with the tracking code and the phone number given at submission.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct PublicProgress {
    pub tracking_code: String,
    pub status: Status,
    pub status_label: String,
    pub dispute_type: DisputeType,
    pub registered_at: i64,
    pub lead_unit: Option<String>,
    pub feedback: Option<String>,
    pub evaluation: Option<Evaluation>,
    pub steps: Vec<PublicStep>,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct PublicStep {
    pub at: i64,
    pub action: String,
}

/// A case as handed out: id, version, the state; personal numbers masked.
pub fn case_view(c: &StoredCase) -> Value {
    let mut v = json!({ "id": c.id, "version": c.version });
    if let (Value::Object(m), Ok(Value::Object(s))) = (&mut v, serde_json::to_value(&c.state)) {
        m.extend(s);
    }
    mask_personal(&mut v);
    v
}

pub(crate) fn event_view(e: &CaseEvent) -> Value {
    let mut v = serde_json::to_value(e).unwrap_or(Value::Null);
    mask_personal(&mut v);
    v
}

const TRACKING_ALPHABET: &[u8] = b"23456789ABCDEFGHJKMNPQRSTUVWXYZ";

/// A 10-character tracking code without look-alike characters (0/O, 1/I/L).
pub fn new_tracking_code() -> String {
    // 64 random bits give 10 base-31 digits with negligible bias (31^10 ≈ 2^49.5).
    let mut x = OsRng.next_u64();
    (0..10)
        .map(|_| {
            let c = TRACKING_ALPHABET[(x % 31) as usize] as char;
            x /= 31;
            c
        })
        .collect()
}

impl PartyInput {
    fn parse(&self) -> Result<Party> {
        Ok(Party {
            name: self.name.trim().to_string(),
            role: self.role,
            id_number: self
                .id_number
                .as_deref()
                .filter(|s| !s.trim().is_empty())
                .map(IdCardNumber::parse)
                .transpose()?,
            phone: self
                .phone
                .as_deref()
                .filter(|s| !s.trim().is_empty())
                .map(PhoneNumber::parse)
                .transpose()?,
            address: self.address.clone(),
        })
    }
}

/// Who is told about a case event: the lead unit's leader and/or the users of some roles
/// whose scope covers the case.
#[derive(Clone, Copy)]
struct Audience {
    unit_leader: bool,
    roles: &'static [Role],
}

async fn recipients(app: &App, state: &CaseState, to: Audience) -> Result<Vec<i64>> {
    let mut out = Vec::new();
    if let (true, Some(u)) = (to.unit_leader, state.lead_unit_id) {
        if let Some(unit) = app.store.get_unit(u).await? {
            out.extend(unit.leader_user_id);
        }
    }
    out.extend(covering(app, state, to.roles).await?.iter().map(|u| u.id));
    out.sort_unstable();
    out.dedup();
    Ok(out)
}

/// The active users of some roles whose scope covers the case's place.
async fn covering(
    app: &App,
    state: &CaseState,
    roles: &[Role],
) -> Result<Vec<fengqiao_store::UserRecord>> {
    let mut out = Vec::new();
    for role in roles {
        out.extend(
            app.store
                .list_users("/", Some(*role))
                .await?
                .into_iter()
                .filter(|u| !u.disabled && path_within(&state.location.node_path, &u.scope_path)),
        );
    }
    Ok(out)
}

/// Who an unanswered supervision goes up to: the leaders and supervisors whose scope covers
/// the case, level 1 the closest of their levels (e.g. the town's), level 2 the next one up
/// (the county's), and so on; past the top, the top.
async fn escalation_recipients(app: &App, state: &CaseState, level: u32) -> Result<Vec<i64>> {
    let covering: Vec<(usize, i64)> = covering(app, state, &[Role::Leader, Role::Supervisor])
        .await?
        .iter()
        .map(|u| (u.scope_path.matches('/').count(), u.id))
        .collect();
    let mut depths: Vec<usize> = covering.iter().map(|(d, _)| *d).collect();
    depths.sort_unstable_by(|a, b| b.cmp(a));
    depths.dedup();
    let idx = (level.max(1) as usize - 1).min(depths.len().saturating_sub(1));
    let Some(depth) = depths.get(idx) else {
        return Ok(Vec::new());
    };
    let mut out: Vec<i64> = covering
        .iter()
        .filter(|(d, _)| d == depth)
        .map(|(_, id)| *id)
        .collect();
    out.sort_unstable();
    out.dedup();
    Ok(out)
}

/// The digest an idempotency key keeps of a submission's body.
pub(crate) fn input_digest(input: &CaseInput) -> String {
    sm3_hex(serde_json::to_string(input).unwrap_or_default().as_bytes())
}

async fn notifications_for(
    app: &App,
    case_id: i64,
    state: &CaseState,
    events: &[CaseEvent],
) -> Result<Vec<NewNotification>> {
    const LEADER: Audience = Audience {
        unit_leader: true,
        roles: &[],
    };
    const LEADER_AND_SUPERVISORS: Audience = Audience {
        unit_leader: true,
        roles: &[Role::Supervisor],
    };
    const DISPATCHERS: Audience = Audience {
        unit_leader: false,
        roles: &[Role::Dispatcher],
    };
    let mut out = Vec::new();
    for e in events {
        let (kind, title, body, to) = match &e.kind {
            EventKind::Routed { deadline, .. } => (
                "case_routed",
                format!("新分流案件 {}", state.tracking_code),
                format!("{}，办理期限至 {}", state.dispute_type.zh(), deadline.due),
                LEADER,
            ),
            EventKind::SupervisionOpened {
                reason,
                reply_due,
                automatic,
                ..
            } => (
                "supervision_opened",
                format!(
                    "{}督办 {}",
                    if *automatic { "自动" } else { "" },
                    state.tracking_code
                ),
                format!("{reason}；请于 {reply_due} 前回复"),
                LEADER_AND_SUPERVISORS,
            ),
            EventKind::ExtensionRequested {
                working_days,
                reason,
            } => (
                "extension_requested",
                format!("延期申请 {}", state.tracking_code),
                format!("申请延期 {working_days} 个工作日：{reason}"),
                LEADER_AND_SUPERVISORS,
            ),
            EventKind::UnitsSummoned {
                unit_ids,
                due_at,
                note,
            } => {
                let title = format!("吹哨报到 {}", state.tracking_code);
                let body = format!(
                    "{note}；请于 {} 前响应（{}）",
                    chrono::DateTime::from_timestamp_millis(*due_at)
                        .map(|t| t
                            .with_timezone(&fengqiao_domain::time::cst())
                            .format("%Y-%m-%d %H:%M")
                            .to_string())
                        .unwrap_or_default(),
                    state.dispute_type.zh()
                );
                let mut to = Vec::new();
                let staff = app.store.list_users("/", None).await?;
                for u in unit_ids {
                    if let Some(unit) = app.store.get_unit(*u).await? {
                        to.extend(unit.leader_user_id);
                    }
                    to.extend(
                        staff
                            .iter()
                            .filter(|s| s.unit_id == Some(*u) && !s.disabled)
                            .map(|s| s.id),
                    );
                }
                to.sort_unstable();
                to.dedup();
                for user_id in to {
                    out.push(NewNotification {
                        user_id,
                        case_id: Some(case_id),
                        kind: "summons".into(),
                        title: title.clone(),
                        body: body.clone(),
                    });
                }
                continue;
            }
            EventKind::ExpertAdded { user_id, question } => {
                out.push(NewNotification {
                    user_id: *user_id,
                    case_id: Some(case_id),
                    kind: "expert_added".into(),
                    title: format!("会诊邀请 {}", state.tracking_code),
                    body: format!("{}：{question}", state.dispute_type.zh()),
                });
                continue;
            }
            EventKind::SupervisionEscalated { no, level, .. } => {
                let Some(sup) = state.supervisions.iter().find(|s| s.no == *no) else {
                    continue;
                };
                let title = format!("督办逾期未回复（升级至第{level}级）{}", state.tracking_code);
                let body = format!(
                    "{}；应于 {} 前回复，承办单位至今未回复，请督促",
                    sup.reason, sup.reply_due
                );
                for user_id in escalation_recipients(app, state, *level).await? {
                    out.push(NewNotification {
                        user_id,
                        case_id: Some(case_id),
                        kind: "supervision_escalated".into(),
                        title: title.clone(),
                        body: body.clone(),
                    });
                }
                continue;
            }
            // A party wrote in the room: the staff member who opened it is told.
            EventKind::MessagePosted {
                party_index: Some(i),
                text,
                ..
            } => {
                if let Some(host) = state.room.host {
                    let who = state.parties.get(*i).map(|p| p.name.as_str()).unwrap_or("");
                    out.push(NewNotification {
                        user_id: host,
                        case_id: Some(case_id),
                        kind: "room_message".into(),
                        title: format!("在线调解新留言 {}", state.tracking_code),
                        body: format!(
                            "{who}：{}",
                            fengqiao_domain::validate::mask_numbers_in_text(
                                &text.chars().take(60).collect::<String>()
                            )
                        ),
                    });
                }
                continue;
            }
            EventKind::ConsultationAnswered { expert_id, answer } => {
                let asked_by = state
                    .consultations
                    .iter()
                    .rev()
                    .find(|c| c.expert_id == *expert_id)
                    .and_then(|c| c.asked_by)
                    .filter(|u| *u > 0);
                if let Some(user_id) = asked_by {
                    out.push(NewNotification {
                        user_id,
                        case_id: Some(case_id),
                        kind: "consultation_answered".into(),
                        title: format!("专家会诊意见 {}", state.tracking_code),
                        body: answer.chars().take(80).collect(),
                    });
                }
                continue;
            }
            // The experts consulted on the case may join an online session's video: they are
            // told when one is scheduled, and reminded with the mediator who scheduled it.
            EventKind::SessionScheduled {
                no, online: true, ..
            } => {
                let Some(x) = state.room.sessions.iter().find(|x| x.no == *no) else {
                    continue;
                };
                for user_id in &state.expert_ids {
                    out.push(NewNotification {
                        user_id: *user_id,
                        case_id: Some(case_id),
                        kind: "session_scheduled".into(),
                        title: format!("线上调解会议邀请 {}", state.tracking_code),
                        body: crate::room::session_text(x),
                    });
                }
                continue;
            }
            EventKind::SessionReminded { no } => {
                let Some(x) = state.room.sessions.iter().find(|x| x.no == *no) else {
                    continue;
                };
                let experts = state.expert_ids.iter().copied().filter(|_| x.online);
                let mut to: Vec<i64> = x
                    .scheduled_by
                    .filter(|u| *u > 0)
                    .into_iter()
                    .chain(experts)
                    .collect();
                to.dedup();
                for user_id in to {
                    out.push(NewNotification {
                        user_id,
                        case_id: Some(case_id),
                        kind: "session_reminder".into(),
                        title: format!("调解会议提醒 {}", state.tracking_code),
                        body: crate::room::session_text(x),
                    });
                }
                continue;
            }
            EventKind::RevisitDue => (
                "revisit_due",
                format!("待回访 {}", state.tracking_code),
                "群众未在规定时间内评价，请电话回访并记录满意度".to_string(),
                DISPATCHERS,
            ),
            _ => continue,
        };
        for user_id in recipients(app, state, to).await? {
            out.push(NewNotification {
                user_id,
                case_id: Some(case_id),
                kind: kind.into(),
                title: title.clone(),
                body: body.clone(),
            });
        }
    }
    Ok(out)
}

impl App {
    pub(crate) async fn node_path(&self, code: &str) -> Result<String> {
        if let Some(p) = self
            .node_paths
            .read()
            .ok()
            .and_then(|m| m.get(code).cloned())
        {
            return Ok(p);
        }
        let path = self
            .store
            .get_jurisdiction(code)
            .await?
            .ok_or(AppError::NotFound("jurisdiction"))?
            .path;
        if let Ok(mut m) = self.node_paths.write() {
            m.insert(code.to_string(), path.clone());
        }
        Ok(path)
    }

    pub(crate) async fn to_new_case(&self, input: &CaseInput) -> Result<NewCase> {
        let parties = input
            .parties
            .iter()
            .map(PartyInput::parse)
            .collect::<Result<Vec<_>>>()?;
        let nc = NewCase {
            channel: input.channel,
            text: input.text.trim().to_string(),
            parties,
            dispute_type: input.dispute_type.unwrap_or(DisputeType::Other),
            subtype: input.subtype.clone(),
            location: Location {
                node_code: input.node_code.clone(),
                node_path: self.node_path(&input.node_code).await?,
                address: input.address.clone(),
                coordinates: input.coordinates,
            },
            occurred_at: input.occurred_at,
            complexity: input.complexity.unwrap_or(Complexity::Simple),
            risk_level: input.risk_level.unwrap_or(RiskLevel::Low),
            amount_fen: input.amount_fen,
            people_involved: input.people_involved,
        };
        nc.validate()?;
        Ok(nc)
    }

    /// Registers a case. With an idempotency key, a retry with the same body returns the
    /// first case (`created == false`) and a different body is refused.
    pub async fn submit_case(
        &self,
        actor: Option<&Actor>,
        input: &CaseInput,
        idempotency_key: Option<&str>,
    ) -> Result<(StoredCase, bool)> {
        self.submit_case_read(actor, input, idempotency_key)
            .await
            .map(|(c, new, _)| (c, new))
    }

    /// [`App::submit_case`], with what the reader filled in and the duplicate candidates
    /// (`None` for a replayed submission, or when the analysis could not be stored).
    pub async fn submit_case_read(
        &self,
        actor: Option<&Actor>,
        input: &CaseInput,
        idempotency_key: Option<&str>,
    ) -> Result<(StoredCase, bool, Option<crate::text::IntakeReading>)> {
        // Read the text first: what the submission left empty is filled in from it, for staff
        // to confirm or correct (corrections are `edit` events).
        let analysis = match input.text.trim() {
            "" => None,
            t => Some(self.analyze_text(t, None).await?),
        };
        let mut filled_input = input.clone();
        let filled = analysis
            .as_ref()
            .map(|a| crate::text::fill_in(&mut filled_input, a, self.now()))
            .unwrap_or_default();
        let idem = idempotency_key.map(|k| IdempotencyKey {
            scope: actor
                .map(|a| format!("user:{}", a.user_id))
                .unwrap_or_else(|| "public".into()),
            key: k.to_string(),
            body_hash: input_digest(input),
        });
        self.register_with_key(actor, &filled_input, analysis, filled, idem)
            .await
    }

    /// Registers a case (the text already read and what it filled in), honouring an
    /// idempotency key whatever its scope (users' keys, channel record ids).
    pub(crate) async fn register_with_key(
        &self,
        actor: Option<&Actor>,
        filled_input: &CaseInput,
        analysis: Option<fengqiao_text::Analysis>,
        filled: Vec<String>,
        idem: Option<IdempotencyKey>,
    ) -> Result<(StoredCase, bool, Option<crate::text::IntakeReading>)> {
        let new_case = self.to_new_case(filled_input).await?;
        match actor {
            // Citizens may report a dispute anywhere; staff only inside their own subtree.
            Some(a) if a.role == Role::Citizen => {}
            Some(a) => authorize_node(a, Operation::CreateCase, &new_case.location.node_path)?,
            None => {}
        }
        let submitted_by = actor.map(|a| a.user_id);
        let now = self.now();
        let mut reading_input = analysis.map(|a| (a, filled));
        for _ in 0..3 {
            let kind = workflow::register(new_case.clone(), new_tracking_code(), submitted_by)?;
            let event = CaseEvent {
                seq: 1,
                at: now,
                actor_id: submitted_by,
                kind,
            };
            let state = workflow::apply(None, &event)
                .ok_or_else(|| AppError::Internal("registration".into()))?;
            match self
                .store
                .create_case(&state, &event, idem.as_ref(), None)
                .await
            {
                Ok(Created::New(id)) => {
                    let stored = StoredCase {
                        id,
                        version: 1,
                        state,
                    };
                    // The cockpit's live feed (nobody listening is not an error).
                    let _ = self.feed.send(std::sync::Arc::new(stored.clone()));
                    self.cases_changed(vec![id]);
                    let detail =
                        serde_json::json!({"command": "register", "channel": stored.state.channel});
                    let who = match actor {
                        Some(a) => crate::audit::Who {
                            id: Some(a.user_id).filter(|id| *id > 0),
                            name: String::new(),
                        },
                        None => crate::audit::Who::named("public"),
                    };
                    self.audit_case_change(who, format!("case:{id}"), detail)
                        .await;
                    let reading = match reading_input.take() {
                        Some((a, filled)) => {
                            Some(self.after_registration(&stored, a, filled).await)
                        }
                        None => None,
                    };
                    // Auto-linking moved the case on by a version.
                    let stored = if reading.as_ref().is_some_and(|r| r.linked) {
                        self.store.get_case(id).await?.unwrap_or(stored)
                    } else {
                        stored
                    };
                    return Ok((stored, true, reading));
                }
                Ok(Created::Existing {
                    id,
                    same_body: true,
                }) => {
                    let c = self
                        .store
                        .get_case(id)
                        .await?
                        .ok_or(AppError::NotFound("case"))?;
                    return Ok((c, false, None));
                }
                Ok(Created::Existing {
                    same_body: false, ..
                }) => return Err(AppError::IdempotencyKeyReused),
                // A tracking-code collision (1 in 31^10): draw another.
                Err(fengqiao_store::StoreError::Duplicate(_)) => continue,
                Err(e) => return Err(e.into()),
            }
        }
        Err(AppError::Internal(
            "could not allocate a tracking code".into(),
        ))
    }

    /// A citizen's submission through the public form.
    pub async fn submit_public(
        &self,
        s: &PublicSubmission,
        idempotency_key: Option<&str>,
    ) -> Result<(StoredCase, bool)> {
        if !s.consent {
            return Err(fengqiao_domain::DomainError::validation("consent", "required").into());
        }
        let input = CaseInput {
            channel: Channel::CitizenWeb,
            text: s.text.clone(),
            parties: vec![PartyInput {
                name: s
                    .name
                    .clone()
                    .filter(|n| !n.trim().is_empty())
                    .unwrap_or_else(|| "群众".into()),
                role: PartyRole::Applicant,
                id_number: None,
                phone: Some(s.phone.clone()),
                address: s.address.clone(),
            }],
            dispute_type: None,
            subtype: None,
            node_code: s.node_code.clone(),
            address: s.address.clone(),
            coordinates: None,
            occurred_at: s.occurred_at,
            complexity: None,
            risk_level: None,
            amount_fen: None,
            people_involved: None,
        };
        self.submit_case(None, &input, idempotency_key).await
    }

    /// Loads a case the actor may see; "not found" otherwise, so existence is not revealed.
    pub async fn load_visible(&self, actor: &Actor, id: i64) -> Result<StoredCase> {
        match self.store.get_case(id).await? {
            Some(c) if can_view(actor, &c.state) => Ok(c),
            _ => Err(AppError::NotFound("case")),
        }
    }

    pub async fn get_case(&self, actor: &Actor, id: i64) -> Result<Value> {
        Ok(case_view(&self.load_visible(actor, id).await?))
    }

    pub async fn case_events(&self, actor: &Actor, id: i64) -> Result<Vec<Value>> {
        self.load_visible(actor, id).await?;
        Ok(self
            .store
            .case_events(id)
            .await?
            .iter()
            .map(event_view)
            .collect())
    }

    pub async fn list_cases(&self, actor: &Actor, q: &CaseQuery) -> Result<CaseList> {
        let (items, next_before_id, total) = self.list_case_states(actor, q).await?;
        Ok(CaseList {
            items: items.iter().map(case_view).collect(),
            next_before_id,
            total,
        })
    }

    /// The case list as stored cases (pages mask what they show themselves): the page, the
    /// cursor of the next one, and the count of all matches when asked for.
    pub async fn list_case_states(
        &self,
        actor: &Actor,
        q: &CaseQuery,
    ) -> Result<(Vec<StoredCase>, Option<i64>, Option<u64>)> {
        let visibility = visibility(actor);
        let node_path = match &q.node_code {
            Some(code) => Some(self.node_path(code).await?),
            None => None,
        };
        let filter = CaseFilter {
            visibility,
            status: q.status,
            dispute_type: q.dispute_type,
            channel: q.channel,
            unit_id: q.unit_id,
            node_path,
            light: q.light,
            registered_from: q.from,
            registered_to: q.to,
            with_open_supervision: q.with_open_supervision.unwrap_or(false),
            party_key: None,
            before_id: q.before_id,
            limit: q.limit.unwrap_or(50).clamp(1, 500),
        };
        let page = self.store.list_cases(&filter).await?;
        let total = if q.with_total.unwrap_or(false) {
            Some(self.store.count_cases(&filter).await?)
        } else {
            None
        };
        Ok((page.items, page.next_before_id, total))
    }

    /// The cases (newest first, at most [`PARTY_LOOKUP_LIMIT`]) the actor sees in which a party
    /// has this ID-card or phone number: an exact look-up through the blind index, for users
    /// who may see personal numbers. Recorded in the audit trail with the number masked.
    pub async fn cases_by_party_number(
        &self,
        actor: &Actor,
        number: &str,
    ) -> Result<Vec<StoredCase>> {
        if !actor.role.permits(Operation::RevealPersonalInfo) {
            return Err(fengqiao_domain::DomainError::Forbidden.into());
        }
        let number = PersonalNumber::parse(number)?;
        let filter = CaseFilter {
            visibility: visibility(actor),
            party_key: Some(self.store.sealer().blind(number.as_str())),
            limit: PARTY_LOOKUP_LIMIT,
            ..CaseFilter::default()
        };
        let page = self.store.list_cases(&filter).await?;
        self.audit_actor(
            actor,
            AuditAction::PartyLookedUp,
            "cases",
            "ok",
            serde_json::json!({"number": number.masked(), "found": page.items.len()}),
        )
        .await?;
        Ok(page.items)
    }

    /// Runs a command on a case: decide, apply, and append events, state and notifications in
    /// one transaction; re-reads and re-decides when another writer got there first.
    pub async fn act(&self, actor: &Actor, id: i64, cmd: &Command) -> Result<StoredCase> {
        if matches!(cmd, Command::Link { case_id, .. } | Command::Merge { into_case_id: case_id, .. } if *case_id == id)
        {
            return Err(
                fengqiao_domain::DomainError::validation("case_id", "the case itself").into(),
            );
        }
        let merged_from = match cmd {
            Command::Unmerge { .. } => self.load_visible(actor, id).await?.state.merged_into,
            Command::Unlink { case_id, .. } => {
                // A merge is undone from the merged case, where its source record is.
                if self.load_visible(actor, *case_id).await?.state.merged_into == Some(id) {
                    return Err(fengqiao_domain::DomainError::validation(
                        "case_id",
                        "merged into this case: undo the merge on that case",
                    )
                    .into());
                }
                None
            }
            _ => None,
        };
        let merged = self
            .change(actor, id, |app, case| async move {
                let cmd = app.prepare(actor, cmd).await?;
                if let Command::AddExpert { user_id, .. } = &cmd {
                    app.check_expert(*user_id, &case.state).await?;
                }
                let calendar = app.calendar();
                let rules = app.rules();
                let ctx = Context {
                    actor,
                    now: app.now(),
                    calendar: &calendar,
                    rules: &rules,
                };
                Ok((workflow::decide(&case.state, &cmd, &ctx)?, Vec::new()))
            })
            .await?;
        match cmd {
            // The case a duplicate was merged into records the merge too (a link to it).
            Command::Merge { into_case_id, .. } => {
                let link = Command::Link {
                    case_id: id,
                    reason: format!("merged from case {id}"),
                };
                Box::pin(self.act(actor, *into_case_id, &link)).await?;
            }
            // …and its undoing: the link goes on both sides.
            Command::Unmerge { reason } => {
                if let Some(into) = merged_from {
                    self.unlink_other_side(actor, into, id, reason).await?;
                }
            }
            Command::Unlink { case_id, reason } => {
                self.unlink_other_side(actor, *case_id, id, reason).await?;
            }
            _ => {}
        }
        match cmd {
            // Revealing personal numbers is recorded before they are handed out.
            Command::RevealPersonalInfo {
                party_index,
                purpose,
            } => {
                self.audit_actor(
                    actor,
                    AuditAction::PersonalInfoRevealed,
                    &format!("case:{id}"),
                    "ok",
                    serde_json::json!({"party_index": party_index, "purpose": purpose}),
                )
                .await?
            }
            other => {
                let who = crate::audit::Who {
                    id: Some(actor.user_id).filter(|id| *id > 0),
                    name: if actor.user_id > 0 {
                        String::new()
                    } else {
                        actor.role.as_str().to_string()
                    },
                };
                self.audit_case_change(
                    who,
                    format!("case:{id}"),
                    serde_json::json!({"command": other.name(), "version": merged.version}),
                )
                .await;
            }
        }
        Ok(merged)
    }

    /// Commands on many cases in one store write where the backend can. Each command is
    /// decided on its case's state after the commands before it; the commands of a case
    /// another writer changed meanwhile are taken again one by one through [`App::act`], as
    /// are those with a follow-up on another case (merge, unmerge, unlink). One answer per
    /// command, in order.
    pub(crate) async fn act_many(&self, actor: &Actor, cmds: &[(i64, Command)]) -> Vec<Result<()>> {
        let mut answers: Vec<Option<Result<()>>> = cmds.iter().map(|_| None).collect();
        // A case another writer changed meanwhile (a concurrent import linking to the same
        // earlier case) is read again and its commands decided again, with the others left:
        // a few rounds, then one by one.
        for _ in 0..3 {
            let open = self.act_many_round(actor, cmds, &mut answers).await;
            if open == 0 {
                break;
            }
        }
        let mut out = Vec::with_capacity(cmds.len());
        for ((id, cmd), a) in cmds.iter().zip(answers) {
            out.push(match a {
                Some(a) => a,
                None => self.act(actor, *id, cmd).await.map(|_| ()),
            });
        }
        out
    }

    /// One round of [`App::act_many`] over the commands not answered yet; returns how many
    /// of those it could have written but found changed meanwhile.
    async fn act_many_round(
        &self,
        actor: &Actor,
        cmds: &[(i64, Command)],
        answers: &mut [Option<Result<()>>],
    ) -> usize {
        struct Pending {
            version: i64,
            state: CaseState,
            events: Vec<CaseEvent>,
            commands: Vec<usize>,
        }
        let one_by_one = |cmd: &Command, id: i64| match cmd {
            Command::Merge { .. } | Command::Unmerge { .. } | Command::Unlink { .. } => true,
            Command::Link { case_id, .. } => *case_id == id,
            _ => false,
        };
        let mut ids: Vec<i64> = cmds
            .iter()
            .zip(answers.iter())
            .filter(|((id, cmd), a)| a.is_none() && !one_by_one(cmd, *id))
            .map(|((id, _), _)| *id)
            .collect();
        ids.sort_unstable();
        ids.dedup();
        let mut pending: std::collections::BTreeMap<i64, Pending> =
            match self.store.get_cases(&ids).await {
                Ok(cases) => cases
                    .into_iter()
                    .filter(|c| can_view(actor, &c.state))
                    .map(|c| {
                        (
                            c.id,
                            Pending {
                                version: c.version,
                                state: c.state,
                                events: Vec::new(),
                                commands: Vec::new(),
                            },
                        )
                    })
                    .collect(),
                Err(e) => {
                    tracing::info!(error = %e, "commands taken one by one");
                    Default::default()
                }
            };
        let now = self.now();
        let calendar = self.calendar();
        let rules = self.rules();
        let ctx = Context {
            actor,
            now,
            calendar: &calendar,
            rules: &rules,
        };
        let actor_id = (!actor.is_system()).then_some(actor.user_id);
        for (i, (id, cmd)) in cmds.iter().enumerate() {
            if one_by_one(cmd, *id) || answers[i].is_some() {
                continue;
            }
            if !pending.contains_key(id) {
                continue;
            }
            // A link to a case loaded here (so visible) needs no other look-up.
            let prepared = match cmd {
                Command::Link { case_id, .. } if pending.contains_key(case_id) => Ok(cmd.clone()),
                _ => self.prepare(actor, cmd).await,
            };
            let Some(p) = pending.get_mut(id) else {
                continue;
            };
            let decided = match prepared {
                Ok(cmd) => workflow::decide(&p.state, &cmd, &ctx).map_err(AppError::from),
                Err(e) => Err(e),
            };
            let kinds = match decided {
                Ok(k) => k,
                Err(e) => {
                    answers[i] = Some(Err(e));
                    continue;
                }
            };
            let mut state = Some(p.state.clone());
            let mut events = Vec::with_capacity(kinds.len());
            for kind in kinds {
                let e = CaseEvent {
                    seq: (p.version as u32) + (p.events.len() + events.len()) as u32 + 1,
                    at: now,
                    actor_id,
                    kind,
                };
                state = workflow::apply(state, &e);
                events.push(e);
            }
            // A command the state cannot take is left to `act`, which says why.
            if let Some(state) = state {
                p.state = state;
                p.events.extend(events);
                p.commands.push(i);
            }
        }
        let mut written = Vec::new();
        let mut notes = Vec::new();
        for (id, p) in &pending {
            if p.events.is_empty() {
                for &i in &p.commands {
                    answers[i] = Some(Ok(()));
                }
                continue;
            }
            match notifications_for(self, *id, &p.state, &p.events).await {
                Ok(n) => {
                    written.push(*id);
                    notes.push(n);
                }
                Err(e) => tracing::info!(case = id, error = %e, "commands taken one by one"),
            }
        }
        let changes: Vec<Append> = written
            .iter()
            .zip(&notes)
            .map(|(id, n)| {
                let p = &pending[id];
                Append {
                    case_id: *id,
                    expected_version: p.version,
                    events: &p.events,
                    state: &p.state,
                    notifications: n,
                    blobs: &[],
                    now,
                }
            })
            .collect();
        let mut changed = 0;
        match self.store.append_many(&changes).await {
            Ok(results) => {
                let ok: Vec<bool> = results.iter().map(|r| r.is_ok()).collect();
                self.cases_changed(
                    written
                        .iter()
                        .zip(&ok)
                        .filter(|(_, ok)| **ok)
                        .map(|(id, _)| *id)
                        .collect(),
                );
                for (id, r) in written.iter().zip(results) {
                    match r {
                        Ok(()) => {
                            for &i in &pending[id].commands {
                                answers[i] = Some(Ok(()));
                            }
                        }
                        Err(fengqiao_store::StoreError::Conflict) => changed += 1,
                        Err(_) => {}
                    }
                }
            }
            Err(e) => tracing::info!(error = %e, "commands taken one by one"),
        }
        changed
    }

    /// Removes `other`'s link to `id` if it still has one.
    async fn unlink_other_side(
        &self,
        actor: &Actor,
        other: i64,
        id: i64,
        reason: &str,
    ) -> Result<()> {
        let o = self.load_visible(actor, other).await?;
        if o.state.linked_case_ids.contains(&id) {
            let unlink = Command::Unlink {
                case_id: id,
                reason: reason.to_string(),
            };
            Box::pin(self.act(actor, other, &unlink)).await?;
        }
        Ok(())
    }

    /// The records from other systems behind a case: its own and those of the cases merged
    /// into it (each with its channel and id in that system).
    pub async fn case_sources(&self, actor: &Actor, id: i64) -> Result<Vec<SourceRecord>> {
        let case = self.load_visible(actor, id).await?;
        let mut ids = vec![id];
        for other in &case.state.linked_case_ids {
            if let Some(o) = self.store.get_case(*other).await? {
                if o.state.merged_into == Some(id) {
                    ids.push(*other);
                }
            }
        }
        Ok(self.store.case_sources(&ids).await?)
    }

    /// Checks references a command makes and fills in what the server owns (node paths).
    /// An expert may be added to a case when the user has the expert role, is not disabled, and
    /// belongs to the case's area (their scope covers the case, or lies inside its place).
    pub async fn check_expert(&self, user_id: i64, case: &CaseState) -> Result<()> {
        let not_an_expert = || {
            AppError::from(fengqiao_domain::DomainError::validation(
                "user_id",
                "not an expert of this case's area",
            ))
        };
        let u = self
            .store
            .get_user(user_id)
            .await?
            .ok_or_else(not_an_expert)?;
        if !serves_case(&u, case) {
            return Err(not_an_expert());
        }
        Ok(())
    }

    /// The experts who may be added to the case (see [`App::check_expert`]) and are not on it:
    /// (user id, display name).
    pub async fn expert_candidates(&self, case: &CaseState) -> Result<Vec<(i64, String)>> {
        Ok(self
            .expert_suggestions(case)
            .await?
            .into_iter()
            .map(|x| {
                let specialties: Vec<&str> = x.profile.specialties.iter().map(|s| s.zh()).collect();
                let mut label = x.name;
                if !specialties.is_empty() {
                    label.push_str(&format!("（{}）", specialties.join("、")));
                }
                if x.open_consultations > 0 {
                    label.push_str(&format!(" · 待答复 {}", x.open_consultations));
                }
                if !x.profile.available {
                    label.push_str(" · 暂不可用");
                }
                (x.user_id, label)
            })
            .collect())
    }

    /// The experts of the case's area not yet on it, best fit first: the specialties its type
    /// calls for, their open consultations, their availability (`domain::expert::fit`).
    pub async fn expert_suggestions(&self, case: &CaseState) -> Result<Vec<ExpertSuggestion>> {
        let mut out = Vec::new();
        for u in self
            .store
            .list_users("/", Some(Role::Expert))
            .await?
            .into_iter()
            .filter(|u| serves_case(u, case) && !case.expert_ids.contains(&u.id))
        {
            let profile = self.expert_profile(u.id).await?;
            let open_consultations = self
                .store
                .list_cases(&CaseFilter {
                    visibility: Visibility {
                        expert_id: Some(u.id),
                        ..Default::default()
                    },
                    limit: 200,
                    ..CaseFilter::default()
                })
                .await?
                .items
                .iter()
                .filter(|c| {
                    c.state
                        .consultations
                        .iter()
                        .any(|x| x.expert_id == u.id && x.answer.is_none())
                })
                .count();
            out.push(ExpertSuggestion {
                fit: fengqiao_domain::expert::fit(&profile, case.dispute_type, open_consultations),
                user_id: u.id,
                name: u.display_name,
                profile,
                open_consultations,
            });
        }
        out.sort_by(|a, b| b.fit.total_cmp(&a.fit).then(a.user_id.cmp(&b.user_id)));
        Ok(out)
    }

    /// An expert's record: consultations answered, waiting, and the mean hours to answer.
    pub async fn expert_record(&self, user_id: i64) -> Result<(usize, usize, Option<f64>)> {
        let cases = self
            .store
            .list_cases(&CaseFilter {
                visibility: Visibility {
                    expert_id: Some(user_id),
                    ..Default::default()
                },
                limit: 500,
                ..CaseFilter::default()
            })
            .await?
            .items;
        let now = self.now();
        let (mut answered, mut waiting, mut hours) = (0, 0, 0.0);
        for c in cases.iter().flat_map(|c| c.state.consultations.iter()) {
            if c.expert_id != user_id {
                continue;
            }
            if c.answer.is_some() {
                answered += 1;
                hours += c.hours_to_answer(now);
            } else {
                waiting += 1;
            }
        }
        Ok((
            answered,
            waiting,
            (answered > 0).then(|| hours / answered as f64),
        ))
    }

    /// An expert's profile (specialties, availability); empty until the centre sets it.
    pub async fn expert_profile(
        &self,
        user_id: i64,
    ) -> Result<fengqiao_domain::expert::ExpertProfile> {
        Ok(self
            .store
            .get_setting(&format!("expert_profile:{user_id}"))
            .await?
            .and_then(|j| serde_json::from_str(&j).ok())
            .unwrap_or_default())
    }

    /// Sets an expert's profile (administrators over the expert's scope).
    pub async fn set_expert_profile(
        &self,
        actor: &Actor,
        user_id: i64,
        profile: &fengqiao_domain::expert::ExpertProfile,
    ) -> Result<()> {
        let u = self
            .store
            .get_user(user_id)
            .await?
            .filter(|u| u.role == Role::Expert)
            .ok_or(AppError::NotFound("user"))?;
        authorize_node(actor, Operation::ManageReference, &u.scope_path)?;
        let json = serde_json::to_string(profile).map_err(|e| AppError::Internal(e.to_string()))?;
        self.store
            .put_setting(&format!("expert_profile:{user_id}"), &json)
            .await?;
        self.audit_actor(
            actor,
            fengqiao_domain::audit::AuditAction::ConfigChanged,
            &format!("user:{user_id}"),
            "ok",
            serde_json::json!({"expert_profile": profile}),
        )
        .await?;
        Ok(())
    }

    async fn prepare(&self, actor: &Actor, cmd: &Command) -> Result<Command> {
        match cmd {
            Command::Route {
                lead_unit_id,
                co_unit_ids,
            } => {
                for u in std::iter::once(lead_unit_id).chain(co_unit_ids) {
                    self.store
                        .get_unit(*u)
                        .await?
                        .ok_or(AppError::NotFound("unit"))?;
                }
                Ok(cmd.clone())
            }
            Command::SummonUnits { unit_ids, .. } => {
                for u in unit_ids {
                    self.store
                        .get_unit(*u)
                        .await?
                        .ok_or(AppError::NotFound("unit"))?;
                }
                Ok(cmd.clone())
            }
            Command::Edit(edit) => {
                let mut edit = edit.clone();
                if let Some(loc) = &mut edit.location {
                    loc.node_path = self.node_path(&loc.node_code).await?;
                    authorize_node(actor, Operation::EditCase, &loc.node_path)?;
                }
                Ok(Command::Edit(edit))
            }
            Command::Link { case_id, .. } => {
                self.load_visible(actor, *case_id).await?;
                Ok(cmd.clone())
            }
            Command::Merge { into_case_id, .. } => {
                // Only into a case that is itself still going on.
                let target = self.load_visible(actor, *into_case_id).await?;
                if !target.state.status.is_open() {
                    return Err(fengqiao_domain::DomainError::validation(
                        "into_case_id",
                        "the case is closed",
                    )
                    .into());
                }
                Ok(cmd.clone())
            }
            Command::Reopen {
                complaint_case_id: Some(linked),
                ..
            } => {
                // The new complaint must be a case this user can see.
                self.load_visible(actor, *linked).await?;
                Ok(cmd.clone())
            }
            _ => Ok(cmd.clone()),
        }
    }

    /// The shared load → decide → append loop.
    pub(crate) async fn change<'a, F, Fut>(
        &'a self,
        actor: &'a Actor,
        id: i64,
        decide: F,
    ) -> Result<StoredCase>
    where
        F: Fn(&'a App, StoredCase) -> Fut,
        Fut: std::future::Future<Output = Result<(Vec<EventKind>, Vec<Blob>)>>,
    {
        for _ in 0..5 {
            let case = self.load_visible(actor, id).await?;
            let (kinds, blobs) = decide(self, case.clone()).await?;
            if kinds.is_empty() {
                return Ok(case);
            }
            let now = self.now();
            let actor_id = if actor.is_system() {
                None
            } else {
                Some(actor.user_id)
            };
            let mut state = Some(case.state.clone());
            let mut events = Vec::with_capacity(kinds.len());
            for (i, kind) in kinds.into_iter().enumerate() {
                let e = CaseEvent {
                    seq: (case.version as u32) + 1 + i as u32,
                    at: now,
                    actor_id,
                    kind,
                };
                state = workflow::apply(state, &e);
                events.push(e);
            }
            let state = state.ok_or_else(|| AppError::Internal("apply".into()))?;
            let notes = notifications_for(self, id, &state, &events).await?;
            let change = Append {
                case_id: id,
                expected_version: case.version,
                events: &events,
                state: &state,
                notifications: &notes,
                blobs: &blobs,
                now,
            };
            match self.store.append(change).await {
                Ok(()) => {
                    self.cases_changed(vec![id]);
                    return Ok(StoredCase {
                        id,
                        version: case.version + events.len() as i64,
                        state,
                    });
                }
                Err(fengqiao_store::StoreError::Conflict) => continue,
                Err(e) => return Err(e.into()),
            }
        }
        Err(AppError::Conflict)
    }

    pub(crate) async fn public_case(&self, tracking_code: &str, phone: &str) -> Result<StoredCase> {
        let phone = PhoneNumber::parse(phone).map_err(|_| AppError::NotFound("case"))?;
        match self
            .store
            .find_case_by_tracking_code(&tracking_code.trim().to_ascii_uppercase())
            .await?
        {
            Some(c)
                if c.state
                    .parties
                    .iter()
                    .any(|p| p.phone.as_ref() == Some(&phone)) =>
            {
                Ok(c)
            }
            _ => Err(AppError::NotFound("case")),
        }
    }

    /// Progress for the citizen who holds the tracking code and the phone number.
    pub async fn public_progress(
        &self,
        tracking_code: &str,
        phone: &str,
    ) -> Result<PublicProgress> {
        let c = self.public_case(tracking_code, phone).await?;
        let lead_unit = match c.state.lead_unit_id {
            Some(u) => self.store.get_unit(u).await?.map(|u| u.name),
            None => None,
        };
        let steps = self
            .store
            .case_events(c.id)
            .await?
            .into_iter()
            .filter(|e| {
                !matches!(
                    e.kind,
                    EventKind::PersonalInfoRevealed { .. }
                        | EventKind::LightChanged { .. }
                        | EventKind::Edited(_)
                )
            })
            .map(|e| PublicStep {
                at: e.at,
                action: e.kind.name().to_string(),
            })
            .collect();
        let s = c.state;
        Ok(PublicProgress {
            tracking_code: s.tracking_code,
            status: s.status,
            status_label: s.status.zh().to_string(),
            dispute_type: s.dispute_type,
            registered_at: s.registered_at,
            lead_unit,
            feedback: s.feedback,
            evaluation: s.evaluation,
            steps,
        })
    }

    /// The citizen's satisfaction rating, proven by tracking code + phone.
    pub async fn public_evaluate(
        &self,
        tracking_code: &str,
        phone: &str,
        satisfaction: u8,
        comment: Option<String>,
    ) -> Result<()> {
        let c = self.public_case(tracking_code, phone).await?;
        let citizen = Actor {
            user_id: fengqiao_domain::access::PUBLIC_CITIZEN,
            role: Role::Citizen,
            scope_path: String::new(),
            unit_id: None,
        };
        self.act(
            &citizen,
            c.id,
            &Command::Evaluate {
                satisfaction,
                comment,
            },
        )
        .await?;
        Ok(())
    }

    /// A permitted user's look at a party's unmasked numbers, recorded in the case log.
    pub async fn reveal_party(
        &self,
        actor: &Actor,
        id: i64,
        party_index: usize,
        purpose: &str,
    ) -> Result<Party> {
        let c = self
            .act(
                actor,
                id,
                &Command::RevealPersonalInfo {
                    party_index,
                    purpose: purpose.to_string(),
                },
            )
            .await?;
        c.state
            .parties
            .get(party_index)
            .cloned()
            .ok_or(AppError::NotFound("party"))
    }

    /// Stores an attachment (size- and type-checked by its content) and records it on the case.
    pub async fn add_attachment(
        &self,
        actor: &Actor,
        id: i64,
        filename: &str,
        bytes: Vec<u8>,
    ) -> Result<AttachmentMeta> {
        let content_type = self.check_attachment(filename, &bytes)?;
        // Photos lose their EXIF (with the GPS position) and XMP before they are kept.
        let bytes = crate::media::strip_metadata(content_type, bytes);
        self.attach(actor, id, filename, content_type, bytes).await
    }

    /// Keeps a file the system made (a signed agreement's PDF) with the case: no upload
    /// limits, recorded like any attachment.
    pub(crate) async fn attach_generated(
        &self,
        id: i64,
        filename: &str,
        content_type: &'static str,
        bytes: Vec<u8>,
    ) -> Result<AttachmentMeta> {
        self.attach(&Actor::system(), id, filename, content_type, bytes)
            .await
    }

    async fn attach(
        &self,
        actor: &Actor,
        id: i64,
        filename: &str,
        content_type: &'static str,
        bytes: Vec<u8>,
    ) -> Result<AttachmentMeta> {
        let name: String = filename
            .chars()
            .filter(|c| !c.is_control() && *c != '/' && *c != '\\')
            .take(120)
            .collect();
        let meta = AttachmentMeta {
            id: sm3_hex(&bytes),
            filename: name,
            content_type: content_type.to_string(),
            size: bytes.len() as u64,
        };
        let blob = Blob {
            id: meta.id.clone(),
            content_type: content_type.to_string(),
            bytes,
        };
        let m = meta.clone();
        self.change(actor, id, move |_, case| {
            let (m, blob) = (m.clone(), blob.clone());
            async move {
                fengqiao_domain::access::authorize(actor, Operation::AddAttachment, &case.state)?;
                Ok((vec![EventKind::AttachmentAdded(m)], vec![blob]))
            }
        })
        .await?;
        Ok(meta)
    }

    pub async fn get_attachment(&self, actor: &Actor, id: i64, blob_id: &str) -> Result<Blob> {
        let c = self.load_visible(actor, id).await?;
        if !c.state.attachments.iter().any(|a| a.id == blob_id) {
            return Err(AppError::NotFound("attachment"));
        }
        self.store
            .get_blob(blob_id)
            .await?
            .ok_or(AppError::NotFound("attachment"))
    }
}

/// The content type from the file's first bytes; only these types are accepted.
pub fn sniff(b: &[u8]) -> Option<&'static str> {
    if b.starts_with(&[0xFF, 0xD8, 0xFF]) {
        Some("image/jpeg")
    } else if b.starts_with(b"\x89PNG\r\n\x1a\n") {
        Some("image/png")
    } else if b.len() > 12 && &b[0..4] == b"RIFF" && &b[8..12] == b"WEBP" {
        Some("image/webp")
    } else if b.starts_with(b"%PDF-") {
        Some("application/pdf")
    } else if b.len() > 12
        && &b[4..8] == b"ftyp"
        && (&b[8..12] == b"heic" || &b[8..12] == b"heix" || &b[8..12] == b"mif1")
    {
        Some("image/heic")
    } else if b.len() > 12
        && &b[4..8] == b"ftyp"
        && (&b[8..11] == b"M4A" || &b[8..12] == b"isom" || &b[8..12] == b"mp42")
    {
        Some("audio/mp4")
    } else if b.starts_with(b"ID3") || b.starts_with(&[0xFF, 0xFB]) {
        Some("audio/mpeg")
    } else {
        None
    }
}

/// The cases a user's lists may show (as `access::can_view`): a citizen's own submissions; an
/// expert's cases they were added to; for other staff, their subtree and the cases their unit
/// handles.
/// An expert offered for a consultation, with how well they fit.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ExpertSuggestion {
    pub user_id: i64,
    pub name: String,
    pub profile: fengqiao_domain::expert::ExpertProfile,
    /// Consultations they have not answered yet.
    pub open_consultations: usize,
    pub fit: f64,
}

pub(crate) fn visibility(actor: &Actor) -> Visibility {
    if actor.role == Role::Citizen {
        Visibility {
            submitted_by: Some(actor.user_id),
            ..Default::default()
        }
    } else if actor.role == Role::Expert {
        Visibility {
            expert_id: Some(actor.user_id),
            ..Default::default()
        }
    } else {
        Visibility {
            scope_path: Some(actor.scope_path.clone()),
            unit_id: actor.unit_id,
            submitted_by: None,
            expert_id: None,
        }
    }
}

/// Whether the user is an expert (not disabled) of the case's area: their scope covers the case,
/// or lies inside its place.
fn serves_case(u: &fengqiao_store::UserRecord, case: &CaseState) -> bool {
    let path = &case.location.node_path;
    u.role == Role::Expert
        && !u.disabled
        && (path_within(path, &u.scope_path) || path_within(&u.scope_path, path))
}

/// The most cases a look-up by a party's number answers.
pub const PARTY_LOOKUP_LIMIT: u32 = 200;
