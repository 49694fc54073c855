//! The case aggregate's state and vocabulary.
//!
//! A `CaseState` is never edited in place by callers: it is the fold of the case's events
//! (see [`crate::workflow::apply`]), so the stored state and the event log cannot disagree.
use crate::time::Millis;
use crate::unit::labelled_enum;
use crate::validate::{IdCardNumber, PhoneNumber};
use chrono::NaiveDate;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

labelled_enum!(
    /// Where a case came in.
    Channel {
        CitizenWeb = "citizen_web" / "群众网上反映",
        GridWorker = "grid_worker" / "网格员上报",
        Hotline12345 = "hotline_12345" / "12345热线",
        WalkIn = "walk_in" / "来访",
        Phone = "phone" / "来电",
        JudicialMediation = "judicial_mediation" / "司法调解",
        Police = "police" / "公安警情",
        CourtPrelitigation = "court_prelitigation" / "法院诉前",
        Petition = "petition" / "信访",
        LabourArbitration = "labour_arbitration" / "劳动仲裁",
        OtherImport = "other_import" / "其他导入",
        Open311 = "open311" / "Open311接口",
    }
);

labelled_enum!(
    /// The 15 categories of the people's-mediation statistics.
    DisputeType {
        MarriageFamily = "marriage_family" / "婚姻家庭",
        Neighbourhood = "neighbourhood" / "邻里",
        HousingHomestead = "housing_homestead" / "房屋宅基地",
        Contract = "contract" / "合同",
        ProductionBusiness = "production_business" / "生产经营",
        DamageCompensation = "damage_compensation" / "损害赔偿",
        ForestLand = "forest_land" / "山林土地",
        LandRequisition = "land_requisition" / "征地拆迁",
        EnvironmentalPollution = "environmental_pollution" / "环境污染",
        Labour = "labour" / "劳动争议",
        Consumer = "consumer" / "消费",
        Medical = "medical" / "医疗",
        TrafficAccident = "traffic_accident" / "道路交通事故",
        PropertyManagement = "property_management" / "物业",
        Other = "other" / "其他",
    }
);

labelled_enum!(
    Complexity {
        Simple = "simple" / "简易",
        Complex = "complex" / "复杂",
    }
);

labelled_enum!(
    RiskLevel {
        Low = "low" / "低",
        Medium = "medium" / "中",
        High = "high" / "高",
    }
);

labelled_enum!(
    /// Where a case stands in the closed loop 受理→分流→调解→督办→反馈→评价→归档.
    Status {
        Registered = "registered" / "已受理",
        NotAccepted = "not_accepted" / "不予受理",
        Routed = "routed" / "已分流",
        Accepted = "accepted" / "已签收",
        InMediation = "in_mediation" / "调解中",
        Concluded = "concluded" / "已办结",
        FeedbackGiven = "feedback_given" / "已反馈",
        Evaluated = "evaluated" / "已评价",
        Archived = "archived" / "已归档",
        Merged = "merged" / "已合并", // a duplicate folded into another case (事项合并)
    }
);

labelled_enum!(
    /// Deadline traffic light. `None` when no clock is running.
    Light {
        None = "none" / "无",
        Green = "green" / "绿灯",
        Yellow = "yellow" / "黄灯",
        Red = "red" / "红灯",
    }
);

labelled_enum!(
    PartyRole {
        Applicant = "applicant" / "申请人",
        Respondent = "respondent" / "被申请人",
        Other = "other" / "其他当事人",
    }
);

labelled_enum!(
    /// Where a case goes when mediation fails.
    Referral {
        Litigation = "litigation" / "诉讼",
        Arbitration = "arbitration" / "仲裁",
        Administrative = "administrative" / "行政处理",
        None = "none" / "无",
    }
);

labelled_enum!(
    /// The stage a deadline measures.
    Stage {
        Handle = "handle" / "办理",
        Feedback = "feedback" / "反馈",
    }
);

impl Status {
    /// Open cases are those on which supervision may be opened and whose clock may run.
    pub fn is_open(self) -> bool {
        !matches!(
            self,
            Status::NotAccepted | Status::Archived | Status::Merged
        )
    }
}

/// A party to the dispute.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Party {
    pub name: String,
    pub role: PartyRole,
    #[schema(value_type = Option<String>, example = "110101199003074514")]
    pub id_number: Option<IdCardNumber>,
    #[schema(value_type = Option<String>, example = "13800138000")]
    pub phone: Option<PhoneNumber>,
    pub address: Option<String>,
}

impl Party {
    /// What identifies a named party without a number: the name and the village of the
    /// dispute (`name:<name>@<village path>`), for the blind index of a person's cases. None
    /// for an anonymised name (王某) or a one-character one, which identify nobody.
    pub fn name_place_key(&self, node_path: &str) -> Option<String> {
        let name: String = self.name.chars().filter(|c| !c.is_whitespace()).collect();
        if name.chars().count() < 2 || name.contains('某') {
            return None;
        }
        Some(format!(
            "name:{name}@{}",
            crate::jurisdiction::village_path(node_path)
        ))
    }
}

/// Where the dispute is.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Location {
    pub node_code: String,
    /// Materialised path of the node, filled in from the jurisdiction tree.
    pub node_path: String,
    pub address: Option<String>,
    /// (longitude, latitude).
    pub coordinates: Option<[f64; 2]>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct MediationSession {
    pub date: NaiveDate,
    pub mediator: String,
    pub place: Option<String>,
    pub online: bool,
    pub participants: Vec<String>,
    pub notes: String,
}

/// How mediation ended.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Outcome {
    /// 达成协议: the agreement's text.
    Agreement { agreement: String },
    /// 未达成协议, with where the parties were referred.
    NoAgreement { referral: Referral, note: String },
    /// 撤回.
    Withdrawn { note: String },
}

impl Outcome {
    pub fn as_str(&self) -> &'static str {
        match self {
            Outcome::Agreement { .. } => "agreement",
            Outcome::NoAgreement { .. } => "no_agreement",
            Outcome::Withdrawn { .. } => "withdrawn",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Evaluation {
    /// 1 (very dissatisfied) to 5 (very satisfied).
    pub satisfaction: u8,
    pub comment: Option<String>,
    /// True when a staff revisit (回访) recorded it because the citizen did not answer.
    pub by_revisit: bool,
    pub at: Millis,
}

/// The running deadline of the current stage.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Deadline {
    pub stage: Stage,
    pub started: NaiveDate,
    /// Last working day (China time) on which the stage is on time.
    pub due: NaiveDate,
    pub working_days: u32,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct ExtensionRequest {
    pub working_days: u32,
    pub reason: String,
    pub requested_by: Option<i64>,
    pub requested_at: Millis,
}

/// A supervision (督办) of this case: opened by a supervisor or by the deadline monitor,
/// closed by the lead unit's reply.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Supervision {
    /// 1-based number within the case.
    pub no: u32,
    pub reason: String,
    pub automatic: bool,
    pub opened_at: Millis,
    pub opened_by: Option<i64>,
    pub reply_due: NaiveDate,
    pub reply: Option<String>,
    pub replied_at: Option<Millis>,
    pub replied_by: Option<i64>,
    /// Times the unanswered supervision went up a level (0: still with the unit).
    #[serde(default)]
    pub escalations: u32,
    /// Escalated again if still unanswered after this day (`reply_due` before the first).
    #[serde(default)]
    pub next_escalation: Option<NaiveDate>,
}

/// An unanswered supervision goes up at most this many levels (the centre's leadership,
/// then the level above it).
pub const MAX_SUPERVISION_ESCALATIONS: u32 = 2;

impl Supervision {
    /// Whether, on `today`, the reply is late enough to go up another level.
    pub fn escalation_due(&self, today: NaiveDate) -> bool {
        self.reply.is_none()
            && self.escalations < MAX_SUPERVISION_ESCALATIONS
            && today > self.next_escalation.unwrap_or(self.reply_due)
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct AttachmentMeta {
    /// SM3 digest of the content, hex: attachments are content-addressed.
    pub id: String,
    pub filename: String,
    pub content_type: String,
    pub size: u64,
}

/// The state of a case: the fold of its events.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct CaseState {
    pub tracking_code: String,
    pub channel: Channel,
    pub status: Status,
    pub text: String,
    pub parties: Vec<Party>,
    pub dispute_type: DisputeType,
    pub subtype: Option<String>,
    pub location: Location,
    pub occurred_at: Option<Millis>,
    pub complexity: Complexity,
    pub risk_level: RiskLevel,
    /// Amount involved, in fen (1/100 yuan).
    pub amount_fen: Option<i64>,
    pub people_involved: Option<u32>,
    /// The user account that submitted the case (citizens with accounts, grid workers, staff).
    pub submitted_by: Option<i64>,
    pub registered_at: Millis,
    pub not_accepted_reason: Option<String>,
    pub lead_unit_id: Option<i64>,
    pub co_unit_ids: Vec<i64>,
    pub routed_at: Option<Millis>,
    pub accepted_at: Option<Millis>,
    pub deadline: Option<Deadline>,
    pub pending_extension: Option<ExtensionRequest>,
    pub light: Light,
    pub sessions: Vec<MediationSession>,
    pub outcome: Option<Outcome>,
    pub concluded_at: Option<Millis>,
    pub feedback: Option<String>,
    pub feedback_at: Option<Millis>,
    pub evaluation: Option<Evaluation>,
    /// First day a staff revisit (回访) may stand in for the citizen's evaluation.
    #[serde(default)]
    pub revisit_due_on: Option<NaiveDate>,
    /// The monitor has asked the dispatchers to revisit.
    #[serde(default)]
    pub revisit_requested: bool,
    pub archived_at: Option<Millis>,
    pub supervisions: Vec<Supervision>,
    pub reopen_count: u32,
    /// Cases of later complaints this case was reopened for.
    #[serde(default)]
    pub linked_case_ids: Vec<i64>,
    pub attachments: Vec<AttachmentMeta>,
    /// The case this duplicate was merged into.
    #[serde(default)]
    pub merged_into: Option<i64>,
    /// The deadline a merged case had, restored if the merge is undone.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deadline_before_merge: Option<Deadline>,
    /// Units summoned to this case (吹哨报到) and their answers.
    #[serde(default)]
    pub summons: Vec<crate::warning::Summons>,
    /// Experts added to this case (explicit assignment): an expert sees only such cases.
    #[serde(default)]
    pub expert_ids: Vec<i64>,
    /// The case room: invited parties and scheduled sessions (messages are events).
    #[serde(default)]
    pub room: crate::room::Room,
    /// Questions put to experts (会诊) and their answers.
    #[serde(default)]
    pub consultations: Vec<crate::expert::Consultation>,
}

impl CaseState {
    pub fn involves_unit(&self, unit: i64) -> bool {
        self.lead_unit_id == Some(unit) || self.co_unit_ids.contains(&unit)
    }

    pub fn open_supervisions(&self) -> impl Iterator<Item = &Supervision> {
        self.supervisions.iter().filter(|s| s.reply.is_none())
    }
}
