//! The case workflow as a state machine: `decide` turns a command into events (or refuses it),
//! `apply` folds an event into the state. Storage writes the events and the folded state in
//! one transaction, so `replay(events) == stored state` always holds.
//!
//! Must not: read the clock, touch storage, or know about HTTP. Time, the calendar and the
//! rules come in through [`Context`].
use crate::access::{authorize, Actor, Operation, Role};
use crate::calendar::WorkCalendar;
use crate::case::*;
use crate::deadline::DeadlineRules;
use crate::room;
use crate::time::{local_date, Millis};
use crate::validate::PhoneNumber;
use crate::DomainError;
use chrono::NaiveDate;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

pub const MAX_TEXT_CHARS: usize = 10_000;
pub const MAX_PARTIES: usize = 50;

/// A new case as submitted, already parsed (identifiers validated) but not yet registered.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct NewCase {
    pub channel: Channel,
    pub text: String,
    #[serde(default)]
    pub parties: Vec<Party>,
    #[serde(default = "default_type")]
    pub dispute_type: DisputeType,
    pub subtype: Option<String>,
    pub location: Location,
    pub occurred_at: Option<Millis>,
    #[serde(default = "default_complexity")]
    pub complexity: Complexity,
    #[serde(default = "default_risk")]
    pub risk_level: RiskLevel,
    pub amount_fen: Option<i64>,
    pub people_involved: Option<u32>,
}

fn default_type() -> DisputeType {
    DisputeType::Other
}
fn default_complexity() -> Complexity {
    Complexity::Simple
}
fn default_risk() -> RiskLevel {
    RiskLevel::Low
}

/// A case's text: not empty, at most [`MAX_TEXT_CHARS`].
fn check_text(text: &str) -> Result<(), DomainError> {
    let n = text.trim().chars().count();
    if n == 0 {
        return Err(DomainError::validation("text", "empty"));
    }
    if n > MAX_TEXT_CHARS {
        return Err(DomainError::validation(
            "text",
            format!("longer than {MAX_TEXT_CHARS} characters"),
        ));
    }
    Ok(())
}

impl NewCase {
    /// Checks what the types cannot: lengths, counts and ranges.
    pub fn validate(&self) -> Result<(), DomainError> {
        check_text(&self.text)?;
        if self.parties.len() > MAX_PARTIES {
            return Err(DomainError::validation(
                "parties",
                format!("more than {MAX_PARTIES}"),
            ));
        }
        for p in &self.parties {
            let len = p.name.trim().chars().count();
            if len == 0 || len > 50 {
                return Err(DomainError::validation(
                    "parties.name",
                    "must be 1 to 50 characters",
                ));
            }
        }
        if self.amount_fen.is_some_and(|a| a < 0) {
            return Err(DomainError::validation("amount_fen", "negative"));
        }
        Ok(())
    }
}

/// What a user asks to do to an existing case. The JSON form is `{"action": "route", …}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(tag = "action", rename_all = "snake_case")]
pub enum Command {
    /// 不予受理, with the reason given to the citizen.
    Reject {
        reason: String,
    },
    /// Correct the case's elements.
    Edit(CaseEdit),
    /// 分流 to a lead unit and co-handling units.
    Route {
        lead_unit_id: i64,
        #[serde(default)]
        co_unit_ids: Vec<i64>,
    },
    /// The lead unit signs for the case.
    Accept,
    /// The lead unit returns the case for re-routing.
    Return {
        reason: String,
    },
    StartMediation,
    RecordSession(MediationSession),
    Conclude {
        outcome: Outcome,
    },
    GiveFeedback {
        text: String,
    },
    /// The citizen's evaluation, or a staff revisit (回访) when the citizen has not answered.
    Evaluate {
        satisfaction: u8,
        comment: Option<String>,
    },
    Archive,
    /// Reopens an archived case, optionally linked to the case of the new complaint.
    Reopen {
        reason: String,
        #[serde(default)]
        complaint_case_id: Option<i64>,
    },
    OpenSupervision {
        reason: String,
    },
    ReplySupervision {
        no: u32,
        reply: String,
    },
    /// 吹哨: summons several units to the case at once; each must answer within `hours`.
    SummonUnits {
        unit_ids: Vec<i64>,
        hours: u32,
        note: String,
    },
    /// A summoned unit's answer (the actor's unit).
    AnswerSummons {
        reply: String,
    },
    RequestExtension {
        working_days: u32,
        reason: String,
    },
    ApproveExtension,
    RejectExtension {
        reason: String,
    },
    /// Audit of a permitted user's reveal of a party's personal numbers.
    RevealPersonalInfo {
        party_index: usize,
        purpose: String,
    },
    /// Recompute the deadline light (deadline monitor only).
    RefreshLight,
    /// Links another case describing the same dispute (a duplicate from another channel).
    Link {
        case_id: i64,
        reason: String,
    },
    /// Closes this case as a duplicate of another (事项合并), before any unit has accepted it;
    /// the other case carries on and is linked to this one.
    Merge {
        into_case_id: i64,
        reason: String,
    },
    /// Undoes a merge (the merge was wrong): the case comes back as it was, with its source
    /// record, and the link between the two cases is removed on both sides.
    Unmerge {
        reason: String,
    },
    /// Removes a link that was wrong (an automatic duplicate link, or a link made by hand).
    Unlink {
        case_id: i64,
        reason: String,
    },
    /// Adds an expert (a user with the expert role, checked by the caller) to the case, with
    /// the question put to them: the expert sees this case, and only the cases they were
    /// added to.
    AddExpert {
        user_id: i64,
        question: String,
    },
    /// Takes an expert off the case.
    RemoveExpert {
        user_id: i64,
    },
    /// Invites a party to the case room (in mediation), at the party's phone or the one given;
    /// inviting again makes a new link (the old one stops working).
    InviteParty {
        party_index: usize,
        #[serde(default)]
        #[schema(value_type = Option<String>)]
        phone: Option<PhoneNumber>,
    },
    /// A one-time code to an invited party's phone (the application, for the link's holder).
    SendRoomCode {
        party_index: usize,
    },
    /// The party confirmed the link with the code (the application, after checking it).
    JoinRoom {
        party_index: usize,
    },
    /// A message in the case room, with attachments already on the case.
    PostMessage {
        #[serde(default)]
        text: String,
        #[serde(default)]
        attachment_ids: Vec<String>,
    },
    /// Schedules a mediation session (online in the room, or at a place).
    ScheduleSession {
        at: Millis,
        #[serde(default)]
        online: bool,
        #[serde(default)]
        place: Option<String>,
        #[serde(default)]
        note: String,
    },
    CancelSession {
        no: u32,
        reason: String,
    },
    /// Drafts (or redrafts: a new version, earlier signatures void) the mediation agreement.
    DraftAgreement {
        facts: String,
        terms: String,
        #[serde(default)]
        obligations: Vec<room::Obligation>,
        /// The parties who sign; all parties when empty.
        #[serde(default)]
        signatories: Vec<usize>,
    },
    /// A one-time signing code to a signatory's phone (the application, for the party).
    SendSignCode {
        party_index: usize,
    },
    /// A signatory's drawn signature on the current version, confirmed with the code (the
    /// application, after checking it). `image_id`: the PNG, an attachment of the case.
    SignAgreement {
        party_index: usize,
        version: u32,
        image_id: String,
    },
    /// The signed agreement's PDF and its SM3 digest (the application, once all signed).
    SealAgreement {
        version: u32,
        pdf_id: String,
        sm3: String,
    },
    /// Adds a party the registration did not name (the other side, met in mediation).
    AddParty(Party),
    /// The signed agreement goes to a court for judicial confirmation (司法确认).
    RequestJudicialConfirmation {
        court: String,
    },
    /// The court's answer: confirmed (the agreement is enforceable) or not, with its note.
    RecordCourtAnswer {
        confirmed: bool,
        #[serde(default)]
        note: String,
    },
    /// An expert's written answer to the question they were added with (会诊意见).
    AnswerConsultation {
        answer: String,
    },
    /// Whether an obligation of the sealed agreement was honoured (履行情况).
    RecordPerformance {
        no: u32,
        honoured: bool,
        #[serde(default)]
        note: String,
    },
    /// Someone came into an online session's video (the application, once their connection
    /// was let in; see [`may_join_video`]): a party or a user.
    JoinVideo {
        no: u32,
        #[serde(default)]
        party_index: Option<usize>,
        #[serde(default)]
        user_id: Option<i64>,
    },
    /// Their connection ended (the application).
    LeaveVideo {
        no: u32,
        joined_seq: u32,
    },
}

/// A correction of the case's elements; absent fields are unchanged.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct CaseEdit {
    /// A corrected or updated text (a source record re-sent with changes); the earlier text
    /// stays in the log.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub text: Option<String>,
    pub dispute_type: Option<DisputeType>,
    pub subtype: Option<String>,
    pub complexity: Option<Complexity>,
    pub risk_level: Option<RiskLevel>,
    pub amount_fen: Option<i64>,
    pub people_involved: Option<u32>,
    pub location: Option<Location>,
    pub occurred_at: Option<Millis>,
}

impl Command {
    pub fn name(&self) -> &'static str {
        match self {
            Command::Reject { .. } => "reject",
            Command::Edit(_) => "edit",
            Command::Route { .. } => "route",
            Command::Accept => "accept",
            Command::Return { .. } => "return",
            Command::StartMediation => "start_mediation",
            Command::RecordSession(_) => "record_session",
            Command::Conclude { .. } => "conclude",
            Command::GiveFeedback { .. } => "give_feedback",
            Command::Evaluate { .. } => "evaluate",
            Command::Archive => "archive",
            Command::Reopen { .. } => "reopen",
            Command::OpenSupervision { .. } => "open_supervision",
            Command::ReplySupervision { .. } => "reply_supervision",
            Command::SummonUnits { .. } => "summon_units",
            Command::AnswerSummons { .. } => "answer_summons",
            Command::RequestExtension { .. } => "request_extension",
            Command::ApproveExtension => "approve_extension",
            Command::RejectExtension { .. } => "reject_extension",
            Command::RevealPersonalInfo { .. } => "reveal_personal_info",
            Command::RefreshLight => "refresh_light",
            Command::Link { .. } => "link",
            Command::Merge { .. } => "merge",
            Command::Unmerge { .. } => "unmerge",
            Command::Unlink { .. } => "unlink",
            Command::AddExpert { .. } => "add_expert",
            Command::RemoveExpert { .. } => "remove_expert",
            Command::InviteParty { .. } => "invite_party",
            Command::SendRoomCode { .. } => "send_room_code",
            Command::JoinRoom { .. } => "join_room",
            Command::PostMessage { .. } => "post_message",
            Command::ScheduleSession { .. } => "schedule_session",
            Command::CancelSession { .. } => "cancel_session",
            Command::DraftAgreement { .. } => "draft_agreement",
            Command::SendSignCode { .. } => "send_sign_code",
            Command::SignAgreement { .. } => "sign_agreement",
            Command::SealAgreement { .. } => "seal_agreement",
            Command::RecordPerformance { .. } => "record_performance",
            Command::AnswerConsultation { .. } => "answer_consultation",
            Command::AddParty(_) => "add_party",
            Command::RequestJudicialConfirmation { .. } => "request_judicial_confirmation",
            Command::RecordCourtAnswer { .. } => "record_court_answer",
            Command::JoinVideo { .. } => "join_video",
            Command::LeaveVideo { .. } => "leave_video",
        }
    }

    fn operation(&self, actor: &Actor) -> Operation {
        use Operation as O;
        match self {
            Command::Reject { .. } => O::RejectCase,
            Command::Edit(_) => O::EditCase,
            Command::Route { .. } => O::RouteCase,
            Command::Accept => O::AcceptCase,
            Command::Return { .. } => O::ReturnCase,
            Command::StartMediation | Command::RecordSession(_) => O::Mediate,
            Command::Conclude { .. } => O::Conclude,
            Command::GiveFeedback { .. } => O::GiveFeedback,
            Command::Evaluate { .. } if actor.role == Role::Citizen => O::Evaluate,
            Command::Evaluate { .. } => O::RecordRevisit,
            Command::Archive => O::Archive,
            Command::Reopen { .. } => O::Reopen,
            Command::OpenSupervision { .. } => O::OpenSupervision,
            Command::ReplySupervision { .. } => O::ReplySupervision,
            Command::SummonUnits { .. } => O::SummonUnits,
            Command::AnswerSummons { .. } => O::AnswerSummons,
            Command::RequestExtension { .. } => O::RequestExtension,
            Command::ApproveExtension | Command::RejectExtension { .. } => O::DecideExtension,
            Command::RevealPersonalInfo { .. } => O::RevealPersonalInfo,
            Command::RefreshLight => O::RunDeadlineSweep,
            Command::Link { .. } => O::EditCase,
            Command::Merge { .. } | Command::Unmerge { .. } => O::RejectCase,
            Command::Unlink { .. } => O::EditCase,
            Command::AddExpert { .. } | Command::RemoveExpert { .. } => O::AssignExpert,
            Command::PostMessage { .. } if actor.role == Role::Citizen => O::TakePartInRoom,
            Command::AnswerConsultation { .. } => O::AnswerConsultation,
            Command::AddParty(_) if actor.role == Role::Dispatcher => O::EditCase,
            Command::AddParty(_) => O::Mediate,
            Command::InviteParty { .. }
            | Command::SendRoomCode { .. }
            | Command::JoinRoom { .. }
            | Command::PostMessage { .. }
            | Command::ScheduleSession { .. }
            | Command::CancelSession { .. }
            | Command::DraftAgreement { .. }
            | Command::SendSignCode { .. }
            | Command::SignAgreement { .. }
            | Command::SealAgreement { .. }
            | Command::RecordPerformance { .. }
            | Command::RequestJudicialConfirmation { .. }
            | Command::RecordCourtAnswer { .. }
            | Command::JoinVideo { .. }
            | Command::LeaveVideo { .. } => O::Mediate,
        }
    }
}

/// What happened to a case. Events are facts: `apply` never fails on them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(tag = "action", rename_all = "snake_case")]
pub enum EventKind {
    Registered {
        case: NewCase,
        tracking_code: String,
        submitted_by: Option<i64>,
    },
    NotAccepted {
        reason: String,
    },
    Edited(CaseEdit),
    Routed {
        lead_unit_id: i64,
        co_unit_ids: Vec<i64>,
        deadline: Deadline,
    },
    Accepted,
    Returned {
        reason: String,
    },
    MediationStarted,
    SessionRecorded(MediationSession),
    Concluded {
        outcome: Outcome,
        feedback_deadline: Deadline,
    },
    FeedbackGiven {
        text: String,
        /// From this day a staff revisit (回访) may record the evaluation if the citizen has not.
        #[serde(default)]
        revisit_due_on: Option<NaiveDate>,
    },
    /// The citizen has not evaluated in time: the dispatchers are asked to revisit.
    RevisitDue,
    Evaluated {
        satisfaction: u8,
        comment: Option<String>,
        by_revisit: bool,
    },
    Archived,
    Reopened {
        reason: String,
        #[serde(default)]
        complaint_case_id: Option<i64>,
    },
    /// Another case describes the same dispute.
    Linked {
        case_id: i64,
        reason: String,
    },
    /// This case was closed as a duplicate of another.
    MergedInto {
        case_id: i64,
        reason: String,
    },
    /// A merge undone: the case is back in the state it was merged from.
    Unmerged {
        case_id: i64,
        reason: String,
    },
    /// A link removed.
    Unlinked {
        case_id: i64,
        reason: String,
    },
    SupervisionOpened {
        no: u32,
        reason: String,
        automatic: bool,
        reply_due: NaiveDate,
    },
    SupervisionReplied {
        no: u32,
        reply: String,
    },
    /// Units summoned to the case (吹哨), to answer by `due_at`.
    UnitsSummoned {
        unit_ids: Vec<i64>,
        due_at: Millis,
        note: String,
    },
    SummonsAnswered {
        unit_id: i64,
        reply: String,
    },
    /// The reply was late: the supervision went up to `level` (1 = the leadership covering the
    /// case, 2 = the level above); checked again after `next_check`.
    SupervisionEscalated {
        no: u32,
        level: u32,
        next_check: NaiveDate,
    },
    ExtensionRequested {
        working_days: u32,
        reason: String,
    },
    ExtensionApproved {
        new_due: NaiveDate,
    },
    ExtensionRejected {
        reason: String,
    },
    PersonalInfoRevealed {
        party_index: usize,
        purpose: String,
    },
    AttachmentAdded(AttachmentMeta),
    LightChanged {
        light: Light,
    },
    ExpertAdded {
        user_id: i64,
        question: String,
    },
    ExpertRemoved {
        user_id: i64,
    },
    /// A party invited to the room (`phone`: when not the party's own).
    PartyInvited {
        party_index: usize,
        #[serde(default)]
        #[schema(value_type = Option<String>)]
        phone: Option<PhoneNumber>,
    },
    RoomCodeSent {
        party_index: usize,
    },
    PartyJoined {
        party_index: usize,
    },
    /// A message in the room: by a party (`party_index`) or by the staff member who acted.
    MessagePosted {
        party_index: Option<usize>,
        text: String,
        attachment_ids: Vec<String>,
    },
    SessionScheduled {
        no: u32,
        at: Millis,
        online: bool,
        place: Option<String>,
        note: String,
    },
    SessionReminded {
        no: u32,
    },
    SessionCancelled {
        no: u32,
        reason: String,
    },
    AgreementDrafted {
        version: u32,
        facts: String,
        terms: String,
        obligations: Vec<room::Obligation>,
        signatories: Vec<usize>,
    },
    SignCodeSent {
        party_index: usize,
        version: u32,
    },
    AgreementSigned {
        party_index: usize,
        version: u32,
        image_id: String,
    },
    AgreementSealed {
        version: u32,
        pdf_id: String,
        sm3: String,
    },
    PerformanceRecorded {
        no: u32,
        honoured: bool,
        note: String,
    },
    ConsultationAnswered {
        expert_id: i64,
        answer: String,
    },
    JudicialConfirmationRequested {
        court: String,
    },
    PartyAdded(Party),
    /// An obligation of the signed agreement falls due tomorrow: its party is reminded.
    ObligationReminded {
        no: u32,
    },
    CourtAnswered {
        confirmed: bool,
        note: String,
    },
    /// A party (`party_index`) or a user (`user_id`) came into an online session's video.
    VideoJoined {
        no: u32,
        party_index: Option<usize>,
        user_id: Option<i64>,
    },
    /// The connection of the joining at `joined_seq` ended.
    VideoLeft {
        no: u32,
        joined_seq: u32,
    },
}

impl EventKind {
    pub fn name(&self) -> &'static str {
        match self {
            EventKind::Registered { .. } => "registered",
            EventKind::NotAccepted { .. } => "not_accepted",
            EventKind::Edited(_) => "edited",
            EventKind::Routed { .. } => "routed",
            EventKind::Accepted => "accepted",
            EventKind::Returned { .. } => "returned",
            EventKind::MediationStarted => "mediation_started",
            EventKind::SessionRecorded(_) => "session_recorded",
            EventKind::Concluded { .. } => "concluded",
            EventKind::FeedbackGiven { .. } => "feedback_given",
            EventKind::RevisitDue => "revisit_due",
            EventKind::Evaluated { .. } => "evaluated",
            EventKind::Archived => "archived",
            EventKind::Reopened { .. } => "reopened",
            EventKind::SupervisionOpened { .. } => "supervision_opened",
            EventKind::SupervisionReplied { .. } => "supervision_replied",
            EventKind::SupervisionEscalated { .. } => "supervision_escalated",
            EventKind::UnitsSummoned { .. } => "units_summoned",
            EventKind::SummonsAnswered { .. } => "summons_answered",
            EventKind::ExtensionRequested { .. } => "extension_requested",
            EventKind::ExtensionApproved { .. } => "extension_approved",
            EventKind::ExtensionRejected { .. } => "extension_rejected",
            EventKind::PersonalInfoRevealed { .. } => "personal_info_revealed",
            EventKind::AttachmentAdded(_) => "attachment_added",
            EventKind::LightChanged { .. } => "light_changed",
            EventKind::Linked { .. } => "linked",
            EventKind::MergedInto { .. } => "merged_into",
            EventKind::Unmerged { .. } => "unmerged",
            EventKind::Unlinked { .. } => "unlinked",
            EventKind::ExpertAdded { .. } => "expert_added",
            EventKind::ExpertRemoved { .. } => "expert_removed",
            EventKind::PartyInvited { .. } => "party_invited",
            EventKind::RoomCodeSent { .. } => "room_code_sent",
            EventKind::PartyJoined { .. } => "party_joined",
            EventKind::MessagePosted { .. } => "message_posted",
            EventKind::SessionScheduled { .. } => "session_scheduled",
            EventKind::SessionReminded { .. } => "session_reminded",
            EventKind::SessionCancelled { .. } => "session_cancelled",
            EventKind::AgreementDrafted { .. } => "agreement_drafted",
            EventKind::SignCodeSent { .. } => "sign_code_sent",
            EventKind::AgreementSigned { .. } => "agreement_signed",
            EventKind::AgreementSealed { .. } => "agreement_sealed",
            EventKind::PerformanceRecorded { .. } => "performance_recorded",
            EventKind::ConsultationAnswered { .. } => "consultation_answered",
            EventKind::JudicialConfirmationRequested { .. } => "judicial_confirmation_requested",
            EventKind::PartyAdded(_) => "party_added",
            EventKind::CourtAnswered { .. } => "court_answered",
            EventKind::ObligationReminded { .. } => "obligation_reminded",
            EventKind::VideoJoined { .. } => "video_joined",
            EventKind::VideoLeft { .. } => "video_left",
        }
    }
}

/// An event as recorded: who, when, what.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct CaseEvent {
    /// 1-based position in the case's log.
    pub seq: u32,
    pub at: Millis,
    /// The user who acted; `None` for the system (deadline monitor) or an anonymous citizen.
    pub actor_id: Option<i64>,
    pub kind: EventKind,
}

/// What `decide` needs besides the case and the command.
#[derive(Debug, Clone, Copy)]
pub struct Context<'a> {
    pub actor: &'a Actor,
    pub now: Millis,
    pub calendar: &'a WorkCalendar,
    pub rules: &'a DeadlineRules,
}

/// Whether `actor` may come into the video of online session `no` now, and as whom: the
/// case's parties in the room (after joining it with their code), the staff who mediate it, and
/// the experts consulted on it. The answer is the [`Command::JoinVideo`] to record once their
/// connection is let in.
pub fn may_join_video(
    case: &CaseState,
    no: u32,
    ctx: &Context<'_>,
) -> Result<Command, DomainError> {
    let actor = ctx.actor;
    let (op, party_index, user_id) = match actor.room_party_index() {
        Some(i) => {
            if case.room.invitation(i).and_then(|x| x.joined_seq).is_none() {
                return Err(DomainError::Forbidden);
            }
            (Operation::TakePartInRoom, Some(i), None)
        }
        None if actor.role == Role::Expert => {
            if !case.expert_ids.contains(&actor.user_id) {
                return Err(DomainError::Forbidden);
            }
            (Operation::AnswerConsultation, None, Some(actor.user_id))
        }
        None if actor.role == Role::Citizen || actor.is_system() => {
            return Err(DomainError::Forbidden)
        }
        None => (Operation::Mediate, None, Some(actor.user_id)),
    };
    authorize(actor, op, case)?;
    let cmd = Command::JoinVideo {
        no,
        party_index,
        user_id,
    };
    decide(
        case,
        &cmd,
        &Context {
            actor: &Actor::system(),
            ..*ctx
        },
    )?;
    Ok(cmd)
}

fn refuse(cmd: &Command, status: Status) -> DomainError {
    DomainError::InvalidTransition {
        action: cmd.name(),
        status: status.as_str(),
    }
}

fn non_empty(field: &'static str, s: &str) -> Result<(), DomainError> {
    if s.trim().is_empty() {
        Err(DomainError::validation(field, "empty"))
    } else {
        Ok(())
    }
}

/// The registration event of a new case.
pub fn register(
    case: NewCase,
    tracking_code: String,
    submitted_by: Option<i64>,
) -> Result<EventKind, DomainError> {
    case.validate()?;
    Ok(EventKind::Registered {
        case,
        tracking_code,
        submitted_by,
    })
}

/// The actions the actor may take on the case in its current state, in workflow order: each
/// is probed through [`decide`] with placeholder values, and kept unless it is forbidden or
/// not possible in this state (a placeholder's own validation error still counts as allowed).
/// The UI shows exactly these; the server decides again when the real command arrives.
pub fn allowed_actions(case: &CaseState, ctx: &Context<'_>) -> Vec<&'static str> {
    let text = || "-".to_string();
    let probes = [
        Command::Route {
            lead_unit_id: 0,
            co_unit_ids: Vec::new(),
        },
        Command::Reject { reason: text() },
        Command::Accept,
        Command::Return { reason: text() },
        Command::StartMediation,
        Command::RecordSession(MediationSession {
            date: chrono::NaiveDate::MIN,
            mediator: text(),
            place: None,
            online: false,
            participants: Vec::new(),
            notes: text(),
        }),
        Command::Conclude {
            outcome: Outcome::Withdrawn { note: text() },
        },
        Command::GiveFeedback { text: text() },
        Command::Evaluate {
            satisfaction: 5,
            comment: None,
        },
        Command::Archive,
        Command::Reopen {
            reason: text(),
            complaint_case_id: None,
        },
        Command::OpenSupervision { reason: text() },
        Command::RequestExtension {
            working_days: 1,
            reason: text(),
        },
        Command::ApproveExtension,
        Command::RejectExtension { reason: text() },
        Command::Edit(CaseEdit::default()),
        Command::Merge {
            into_case_id: 0,
            reason: text(),
        },
        Command::Unmerge { reason: text() },
        Command::AddExpert {
            user_id: 0,
            question: text(),
        },
        Command::InviteParty {
            party_index: usize::MAX,
            phone: None,
        },
        Command::PostMessage {
            text: text(),
            attachment_ids: Vec::new(),
        },
        Command::ScheduleSession {
            at: 0,
            online: true,
            place: None,
            note: String::new(),
        },
    ];
    let reply = case
        .open_supervisions()
        .next()
        .map(|s| Command::ReplySupervision {
            no: s.no,
            reply: text(),
        });
    probes
        .iter()
        .chain(reply.iter())
        .filter(|cmd| {
            !matches!(
                decide(case, cmd, ctx),
                Err(DomainError::Forbidden
                    | DomainError::InvalidTransition { .. }
                    | DomainError::NoPendingExtension
                    | DomainError::ExtensionPending
                    | DomainError::RevisitNotDue)
            )
        })
        .map(Command::name)
        .collect()
}

/// Decides whether `cmd` may happen to `case` now, and which events it produces.
/// Checks permission (role × scope × unit), state, and the command's own rules.
pub fn decide(
    case: &CaseState,
    cmd: &Command,
    ctx: &Context<'_>,
) -> Result<Vec<EventKind>, DomainError> {
    use Status as S;
    if matches!(
        cmd,
        Command::RefreshLight
            | Command::SendRoomCode { .. }
            | Command::JoinRoom { .. }
            | Command::SendSignCode { .. }
            | Command::SignAgreement { .. }
            | Command::SealAgreement { .. }
            | Command::JoinVideo { .. }
            | Command::LeaveVideo { .. }
    ) && !ctx.actor.is_system()
    {
        return Err(DomainError::Forbidden);
    }
    authorize(ctx.actor, cmd.operation(ctx.actor), case)?;
    let st = case.status;
    let ev = match cmd {
        Command::Reject { reason } => {
            if st != S::Registered {
                return Err(refuse(cmd, st));
            }
            non_empty("reason", reason)?;
            vec![EventKind::NotAccepted {
                reason: reason.clone(),
            }]
        }
        Command::Edit(edit) => {
            if !st.is_open() {
                return Err(refuse(cmd, st));
            }
            if edit.amount_fen.is_some_and(|a| a < 0) {
                return Err(DomainError::validation("amount_fen", "negative"));
            }
            if let Some(t) = &edit.text {
                check_text(t)?;
            }
            vec![EventKind::Edited(edit.clone())]
        }
        Command::Route {
            lead_unit_id,
            co_unit_ids,
        } => {
            if st != S::Registered {
                return Err(refuse(cmd, st));
            }
            if co_unit_ids.contains(lead_unit_id) {
                return Err(DomainError::validation(
                    "co_unit_ids",
                    "contains the lead unit",
                ));
            }
            let deadline = ctx.rules.deadline(
                ctx.calendar,
                case.dispute_type,
                case.complexity,
                Stage::Handle,
                ctx.now,
            );
            let mut co = co_unit_ids.clone();
            co.sort_unstable();
            co.dedup();
            vec![EventKind::Routed {
                lead_unit_id: *lead_unit_id,
                co_unit_ids: co,
                deadline,
            }]
        }
        Command::Accept => {
            if st != S::Routed {
                return Err(refuse(cmd, st));
            }
            vec![EventKind::Accepted]
        }
        Command::Return { reason } => {
            if !matches!(st, S::Routed | S::Accepted) {
                return Err(refuse(cmd, st));
            }
            non_empty("reason", reason)?;
            vec![EventKind::Returned {
                reason: reason.clone(),
            }]
        }
        Command::StartMediation => {
            if st != S::Accepted {
                return Err(refuse(cmd, st));
            }
            vec![EventKind::MediationStarted]
        }
        Command::RecordSession(s) => {
            if !matches!(st, S::Accepted | S::InMediation) {
                return Err(refuse(cmd, st));
            }
            non_empty("mediator", &s.mediator)?;
            let mut out = Vec::new();
            if st == S::Accepted {
                out.push(EventKind::MediationStarted);
            }
            out.push(EventKind::SessionRecorded(s.clone()));
            out
        }
        Command::Conclude { outcome } => {
            if !matches!(st, S::Accepted | S::InMediation) {
                return Err(refuse(cmd, st));
            }
            if let Outcome::Agreement { agreement } = outcome {
                non_empty("agreement", agreement)?;
            }
            let feedback_deadline = ctx.rules.deadline(
                ctx.calendar,
                case.dispute_type,
                case.complexity,
                Stage::Feedback,
                ctx.now,
            );
            vec![EventKind::Concluded {
                outcome: outcome.clone(),
                feedback_deadline,
            }]
        }
        Command::GiveFeedback { text } => {
            if st != S::Concluded {
                return Err(refuse(cmd, st));
            }
            non_empty("text", text)?;
            let today = local_date(ctx.now);
            let revisit_due_on =
                today.checked_add_days(chrono::Days::new(u64::from(ctx.rules.revisit_after_days)));
            vec![EventKind::FeedbackGiven {
                text: text.clone(),
                revisit_due_on,
            }]
        }
        Command::Evaluate {
            satisfaction,
            comment,
        } => {
            if st != S::FeedbackGiven {
                return Err(refuse(cmd, st));
            }
            if !(1..=5).contains(satisfaction) {
                return Err(DomainError::validation("satisfaction", "must be 1 to 5"));
            }
            let by_revisit = ctx.actor.role != Role::Citizen;
            if by_revisit && case.revisit_due_on.is_none_or(|d| local_date(ctx.now) < d) {
                return Err(DomainError::RevisitNotDue);
            }
            vec![EventKind::Evaluated {
                satisfaction: *satisfaction,
                comment: comment.clone(),
                by_revisit,
            }]
        }
        Command::Archive => {
            if !matches!(st, S::Evaluated | S::NotAccepted) {
                return Err(refuse(cmd, st));
            }
            vec![EventKind::Archived]
        }
        Command::Reopen {
            reason,
            complaint_case_id,
        } => {
            if st != S::Archived {
                return Err(refuse(cmd, st));
            }
            non_empty("reason", reason)?;
            vec![EventKind::Reopened {
                reason: reason.clone(),
                complaint_case_id: *complaint_case_id,
            }]
        }
        Command::OpenSupervision { reason } => {
            if !st.is_open() {
                return Err(refuse(cmd, st));
            }
            non_empty("reason", reason)?;
            vec![open_supervision(case, ctx, reason.clone())]
        }
        Command::ReplySupervision { no, reply } => {
            if !case.open_supervisions().any(|s| s.no == *no) {
                return Err(DomainError::SupervisionNotOpen(i64::from(*no)));
            }
            non_empty("reply", reply)?;
            vec![EventKind::SupervisionReplied {
                no: *no,
                reply: reply.clone(),
            }]
        }
        Command::SummonUnits {
            unit_ids,
            hours,
            note,
        } => {
            if !st.is_open() {
                return Err(refuse(cmd, st));
            }
            non_empty("note", note)?;
            let mut fresh: Vec<i64> = Vec::new();
            for u in unit_ids {
                let waiting = case
                    .summons
                    .iter()
                    .any(|s| s.unit_id == *u && s.responded_at.is_none());
                if !waiting && !fresh.contains(u) {
                    fresh.push(*u);
                }
            }
            if fresh.is_empty() {
                return Err(DomainError::validation(
                    "unit_ids",
                    "choose at least one unit that is not already waiting to answer",
                ));
            }
            if *hours == 0 || *hours > crate::warning::MAX_SUMMONS_HOURS {
                return Err(DomainError::validation("hours", "between 1 and 168 hours"));
            }
            vec![EventKind::UnitsSummoned {
                unit_ids: fresh,
                due_at: ctx.now + i64::from(*hours) * 3_600_000,
                note: note.trim().to_string(),
            }]
        }
        Command::AddExpert { user_id, question } => {
            if !st.is_open() {
                return Err(refuse(cmd, st));
            }
            non_empty("question", question)?;
            if case.expert_ids.contains(user_id) {
                return Err(DomainError::validation(
                    "user_id",
                    "this expert is on the case already",
                ));
            }
            vec![EventKind::ExpertAdded {
                user_id: *user_id,
                question: question.trim().to_string(),
            }]
        }
        Command::RemoveExpert { user_id } => {
            if !case.expert_ids.contains(user_id) {
                return Err(DomainError::validation(
                    "user_id",
                    "this expert is not on the case",
                ));
            }
            vec![EventKind::ExpertRemoved { user_id: *user_id }]
        }
        Command::AnswerSummons { reply } => {
            non_empty("reply", reply)?;
            let unit_id = ctx
                .actor
                .unit_id
                .filter(|u| {
                    case.summons
                        .iter()
                        .any(|s| s.unit_id == *u && s.responded_at.is_none())
                })
                .ok_or(DomainError::Forbidden)?;
            vec![EventKind::SummonsAnswered {
                unit_id,
                reply: reply.trim().to_string(),
            }]
        }
        Command::RequestExtension {
            working_days,
            reason,
        } => {
            if case.deadline.is_none() || !matches!(st, S::Routed | S::Accepted | S::InMediation) {
                return Err(refuse(cmd, st));
            }
            if case.pending_extension.is_some() {
                return Err(DomainError::ExtensionPending);
            }
            if *working_days == 0 || *working_days > ctx.rules.max_extension_days {
                return Err(DomainError::validation(
                    "working_days",
                    format!("must be 1 to {}", ctx.rules.max_extension_days),
                ));
            }
            non_empty("reason", reason)?;
            vec![EventKind::ExtensionRequested {
                working_days: *working_days,
                reason: reason.clone(),
            }]
        }
        Command::ApproveExtension => {
            let (Some(req), Some(dl)) = (&case.pending_extension, &case.deadline) else {
                return Err(DomainError::NoPendingExtension);
            };
            let new_due = ctx.calendar.add_working_days(dl.due, req.working_days);
            if new_due <= dl.due {
                return Err(DomainError::DeadlineBackwards);
            }
            let mut out = vec![EventKind::ExtensionApproved { new_due }];
            let light = ctx
                .rules
                .light(ctx.calendar, case.complexity, new_due, ctx.now);
            if light != case.light {
                out.push(EventKind::LightChanged { light });
            }
            out
        }
        Command::RejectExtension { reason } => {
            if case.pending_extension.is_none() {
                return Err(DomainError::NoPendingExtension);
            }
            non_empty("reason", reason)?;
            vec![EventKind::ExtensionRejected {
                reason: reason.clone(),
            }]
        }
        Command::Link { case_id, reason } => {
            non_empty("reason", reason)?;
            // Linking twice changes nothing (the app refuses a link to the case itself).
            if case.linked_case_ids.contains(case_id) {
                vec![]
            } else {
                vec![EventKind::Linked {
                    case_id: *case_id,
                    reason: reason.clone(),
                }]
            }
        }
        Command::Merge {
            into_case_id,
            reason,
        } => {
            if !matches!(st, S::Registered | S::Routed) {
                return Err(refuse(cmd, st));
            }
            non_empty("reason", reason)?;
            vec![EventKind::MergedInto {
                case_id: *into_case_id,
                reason: reason.clone(),
            }]
        }
        Command::Unmerge { reason } => {
            let Some(into) = case.merged_into.filter(|_| st == S::Merged) else {
                return Err(refuse(cmd, st));
            };
            non_empty("reason", reason)?;
            vec![EventKind::Unmerged {
                case_id: into,
                reason: reason.clone(),
            }]
        }
        Command::Unlink { case_id, reason } => {
            non_empty("reason", reason)?;
            if !case.linked_case_ids.contains(case_id) {
                return Err(DomainError::validation("case_id", "not linked"));
            }
            // A merged case's link to the case it went into goes with the merge (unmerge).
            if st == S::Merged && case.merged_into == Some(*case_id) {
                return Err(refuse(cmd, st));
            }
            vec![EventKind::Unlinked {
                case_id: *case_id,
                reason: reason.clone(),
            }]
        }
        Command::RevealPersonalInfo {
            party_index,
            purpose,
        } => {
            if *party_index >= case.parties.len() {
                return Err(DomainError::validation("party_index", "no such party"));
            }
            non_empty("purpose", purpose)?;
            vec![EventKind::PersonalInfoRevealed {
                party_index: *party_index,
                purpose: purpose.clone(),
            }]
        }
        Command::RefreshLight => refresh_light(case, ctx),
        Command::InviteParty { party_index, phone } => {
            if st != S::InMediation {
                return Err(refuse(cmd, st));
            }
            let party = case
                .parties
                .get(*party_index)
                .ok_or_else(|| DomainError::validation("party_index", "no such party"))?;
            if phone.is_none() && party.phone.is_none() {
                return Err(DomainError::validation(
                    "phone",
                    "the party has no phone: give the one to invite",
                ));
            }
            vec![EventKind::PartyInvited {
                party_index: *party_index,
                phone: phone.clone(),
            }]
        }
        Command::SendRoomCode { party_index } => {
            if st != S::InMediation {
                return Err(refuse(cmd, st));
            }
            let inv = case
                .room
                .invitation(*party_index)
                .ok_or_else(|| DomainError::validation("party_index", "not invited"))?;
            if inv
                .code_sent_at
                .is_some_and(|t| ctx.now - t < room::CODE_RESEND_MS)
            {
                return Err(DomainError::validation(
                    "code",
                    "a code was sent less than a minute ago",
                ));
            }
            vec![EventKind::RoomCodeSent {
                party_index: *party_index,
            }]
        }
        Command::JoinRoom { party_index } => {
            if st != S::InMediation {
                return Err(refuse(cmd, st));
            }
            if case
                .room
                .invitation(*party_index)
                .and_then(|i| i.code_seq)
                .is_none()
            {
                return Err(DomainError::validation("code", "no code was sent"));
            }
            vec![EventKind::PartyJoined {
                party_index: *party_index,
            }]
        }
        Command::PostMessage {
            text,
            attachment_ids,
        } => {
            if st != S::InMediation {
                return Err(refuse(cmd, st));
            }
            let party_index = match ctx.actor.room_party_index() {
                Some(i) => {
                    if case.room.invitation(i).and_then(|x| x.joined_seq).is_none() {
                        return Err(DomainError::Forbidden);
                    }
                    Some(i)
                }
                None if ctx.actor.role == Role::Citizen => return Err(DomainError::Forbidden),
                None => None,
            };
            let text = text.trim();
            if text.is_empty() && attachment_ids.is_empty() {
                return Err(DomainError::validation("text", "empty"));
            }
            if text.chars().count() > room::MAX_MESSAGE_CHARS {
                return Err(DomainError::validation(
                    "text",
                    format!("longer than {} characters", room::MAX_MESSAGE_CHARS),
                ));
            }
            if attachment_ids.len() > room::MAX_MESSAGE_ATTACHMENTS {
                return Err(DomainError::validation(
                    "attachment_ids",
                    format!("more than {}", room::MAX_MESSAGE_ATTACHMENTS),
                ));
            }
            if attachment_ids
                .iter()
                .any(|a| !case.attachments.iter().any(|m| &m.id == a))
            {
                return Err(DomainError::validation(
                    "attachment_ids",
                    "not an attachment of the case",
                ));
            }
            vec![EventKind::MessagePosted {
                party_index,
                text: text.to_string(),
                attachment_ids: attachment_ids.clone(),
            }]
        }
        Command::ScheduleSession {
            at,
            online,
            place,
            note,
        } => {
            if st != S::InMediation {
                return Err(refuse(cmd, st));
            }
            if *at <= ctx.now {
                return Err(DomainError::validation("at", "in the past"));
            }
            if *at > ctx.now + 366 * 86_400_000 {
                return Err(DomainError::validation("at", "more than a year ahead"));
            }
            let place = place
                .as_deref()
                .map(str::trim)
                .filter(|p| !p.is_empty())
                .map(str::to_string);
            if !*online && place.is_none() {
                return Err(DomainError::validation(
                    "place",
                    "a place, or a session online",
                ));
            }
            if note.chars().count() > 500 || place.as_ref().is_some_and(|p| p.chars().count() > 100)
            {
                return Err(DomainError::validation("note", "too long"));
            }
            vec![EventKind::SessionScheduled {
                no: u32::try_from(case.room.sessions.len()).unwrap_or(u32::MAX - 1) + 1,
                at: *at,
                online: *online,
                place,
                note: note.trim().to_string(),
            }]
        }
        Command::DraftAgreement {
            facts,
            terms,
            obligations,
            signatories,
        } => {
            if st != S::InMediation {
                return Err(refuse(cmd, st));
            }
            if case
                .room
                .agreement
                .as_ref()
                .is_some_and(|a| a.sealed.is_some())
            {
                return Err(DomainError::validation(
                    "agreement",
                    "already signed by all",
                ));
            }
            non_empty("terms", terms)?;
            if facts.chars().count() > 5_000 || terms.chars().count() > 5_000 {
                return Err(DomainError::validation("terms", "too long"));
            }
            let n = case.parties.len();
            let mut signatories = if signatories.is_empty() {
                (0..n).collect::<Vec<_>>()
            } else {
                signatories.clone()
            };
            signatories.sort_unstable();
            signatories.dedup();
            if signatories.is_empty() || signatories.iter().any(|p| *p >= n) {
                return Err(DomainError::validation("signatories", "no such party"));
            }
            for o in obligations {
                if o.party_index >= n {
                    return Err(DomainError::validation("obligations", "no such party"));
                }
                non_empty("obligations.what", &o.what)?;
                if o.amount_fen.is_some_and(|a| a < 0) {
                    return Err(DomainError::validation(
                        "obligations.amount_fen",
                        "negative",
                    ));
                }
            }
            vec![EventKind::AgreementDrafted {
                version: case.room.agreement.as_ref().map_or(0, |a| a.version) + 1,
                facts: facts.trim().to_string(),
                terms: terms.trim().to_string(),
                obligations: obligations.clone(),
                signatories,
            }]
        }
        Command::SendSignCode { party_index } => {
            let a = signing(case, cmd, *party_index)?;
            if a.sign_code(*party_index)
                .is_some_and(|(_, t)| ctx.now - t < room::CODE_RESEND_MS)
            {
                return Err(DomainError::validation(
                    "code",
                    "a code was sent less than a minute ago",
                ));
            }
            vec![EventKind::SignCodeSent {
                party_index: *party_index,
                version: a.version,
            }]
        }
        Command::SignAgreement {
            party_index,
            version,
            image_id,
        } => {
            let a = signing(case, cmd, *party_index)?;
            if *version != a.version {
                return Err(DomainError::validation(
                    "version",
                    "a newer draft replaced it",
                ));
            }
            if !case.attachments.iter().any(|m| &m.id == image_id) {
                return Err(DomainError::validation(
                    "image_id",
                    "not an attachment of the case",
                ));
            }
            vec![EventKind::AgreementSigned {
                party_index: *party_index,
                version: *version,
                image_id: image_id.clone(),
            }]
        }
        Command::SealAgreement {
            version,
            pdf_id,
            sm3,
        } => {
            let Some(a) = case.room.agreement.as_ref() else {
                return Err(DomainError::validation("agreement", "no draft"));
            };
            if a.version != *version || !a.complete() || a.sealed.is_some() {
                return Err(DomainError::validation(
                    "agreement",
                    "not signed by all, or sealed",
                ));
            }
            if !case.attachments.iter().any(|m| &m.id == pdf_id) {
                return Err(DomainError::validation(
                    "pdf_id",
                    "not an attachment of the case",
                ));
            }
            vec![EventKind::AgreementSealed {
                version: *version,
                pdf_id: pdf_id.clone(),
                sm3: sm3.clone(),
            }]
        }
        Command::RecordPerformance { no, honoured, note } => {
            let Some(a) = case.room.agreement.as_ref().filter(|a| a.sealed.is_some()) else {
                return Err(DomainError::validation("agreement", "no signed agreement"));
            };
            if *no == 0 || *no as usize > a.obligations.len() {
                return Err(DomainError::validation("no", "no such obligation"));
            }
            if !*honoured {
                non_empty("note", note)?;
            }
            vec![EventKind::PerformanceRecorded {
                no: *no,
                honoured: *honoured,
                note: note.trim().to_string(),
            }]
        }
        Command::AddParty(p) => {
            if !st.is_open() || st == S::Merged {
                return Err(refuse(cmd, st));
            }
            if case.parties.len() >= MAX_PARTIES {
                return Err(DomainError::validation(
                    "parties",
                    format!("more than {MAX_PARTIES}"),
                ));
            }
            let len = p.name.trim().chars().count();
            if len == 0 || len > 50 {
                return Err(DomainError::validation(
                    "parties.name",
                    "must be 1 to 50 characters",
                ));
            }
            let mut p = p.clone();
            p.name = p.name.trim().to_string();
            vec![EventKind::PartyAdded(p)]
        }
        Command::RequestJudicialConfirmation { court } => {
            non_empty("court", court)?;
            let a = case
                .room
                .agreement
                .as_ref()
                .filter(|a| a.sealed.is_some())
                .ok_or_else(|| DomainError::validation("agreement", "no signed agreement"))?;
            if a.judicial.as_ref().is_some_and(|j| j.answer.is_none()) {
                return Err(DomainError::validation(
                    "court",
                    "a request is waiting for the court",
                ));
            }
            vec![EventKind::JudicialConfirmationRequested {
                court: court.trim().to_string(),
            }]
        }
        Command::RecordCourtAnswer { confirmed, note } => {
            let waiting = case
                .room
                .agreement
                .as_ref()
                .and_then(|a| a.judicial.as_ref())
                .is_some_and(|j| j.answer.is_none());
            if !waiting {
                return Err(DomainError::validation(
                    "court",
                    "nothing was sent to a court",
                ));
            }
            if !*confirmed {
                non_empty("note", note)?;
            }
            vec![EventKind::CourtAnswered {
                confirmed: *confirmed,
                note: note.trim().to_string(),
            }]
        }
        Command::AnswerConsultation { answer } => {
            non_empty("answer", answer)?;
            if answer.chars().count() > 5_000 {
                return Err(DomainError::validation("answer", "too long"));
            }
            let on_case = case.expert_ids.contains(&ctx.actor.user_id)
                && case
                    .consultations
                    .iter()
                    .any(|c| c.expert_id == ctx.actor.user_id);
            if !on_case {
                return Err(DomainError::Forbidden);
            }
            vec![EventKind::ConsultationAnswered {
                expert_id: ctx.actor.user_id,
                answer: answer.trim().to_string(),
            }]
        }
        Command::JoinVideo {
            no,
            party_index,
            user_id,
        } => {
            if st != S::InMediation {
                return Err(refuse(cmd, st));
            }
            if party_index.is_some() == user_id.is_some() {
                return Err(DomainError::validation(
                    "party_index",
                    "a party or a user, not both",
                ));
            }
            if party_index.is_some_and(|i| i >= case.parties.len()) {
                return Err(DomainError::validation("party_index", "no such party"));
            }
            if !case
                .room
                .sessions
                .iter()
                .any(|x| x.no == *no && x.video_open(ctx.now))
            {
                return Err(DomainError::validation("no", "no online session open now"));
            }
            vec![EventKind::VideoJoined {
                no: *no,
                party_index: *party_index,
                user_id: *user_id,
            }]
        }
        Command::LeaveVideo { no, joined_seq } => {
            let open = case
                .room
                .sessions
                .iter()
                .filter(|x| x.no == *no)
                .flat_map(|x| &x.attendance)
                .any(|a| a.joined_seq == *joined_seq && a.left_at.is_none());
            if !open {
                return Err(DomainError::validation("joined_seq", "not in the video"));
            }
            vec![EventKind::VideoLeft {
                no: *no,
                joined_seq: *joined_seq,
            }]
        }
        Command::CancelSession { no, reason } => {
            non_empty("reason", reason)?;
            if !case
                .room
                .sessions
                .iter()
                .any(|x| x.no == *no && x.cancelled.is_none() && x.at > ctx.now)
            {
                return Err(DomainError::validation("no", "no such session to come"));
            }
            vec![EventKind::SessionCancelled {
                no: *no,
                reason: reason.trim().to_string(),
            }]
        }
    };
    Ok(ev)
}

/// The agreement a signatory may sign now: a draft in mediation, not sealed, the party a
/// signatory who joined the room and has not signed this version.
fn signing<'a>(
    case: &'a CaseState,
    cmd: &Command,
    party: usize,
) -> Result<&'a room::Agreement, DomainError> {
    if case.status != Status::InMediation {
        return Err(refuse(cmd, case.status));
    }
    let a = case
        .room
        .agreement
        .as_ref()
        .filter(|a| a.sealed.is_none())
        .ok_or_else(|| DomainError::validation("agreement", "nothing to sign"))?;
    if !a.signatories.contains(&party)
        || case
            .room
            .invitation(party)
            .and_then(|i| i.joined_seq)
            .is_none()
    {
        return Err(DomainError::Forbidden);
    }
    if a.signed_by(party) {
        return Err(DomainError::validation("agreement", "signed already"));
    }
    Ok(a)
}

fn open_supervision(case: &CaseState, ctx: &Context<'_>, reason: String) -> EventKind {
    let no = u32::try_from(case.supervisions.len()).unwrap_or(u32::MAX - 1) + 1;
    let reply_due = ctx
        .calendar
        .add_working_days(local_date(ctx.now), ctx.rules.supervision_reply_days);
    EventKind::SupervisionOpened {
        no,
        reason,
        automatic: ctx.actor.is_system(),
        reply_due,
    }
}

/// The deadline monitor's decision: the light as of now, and an automatic supervision when
/// it turns red (one per deadline: not again while an automatic one for it is open).
fn refresh_light(case: &CaseState, ctx: &Context<'_>) -> Vec<EventKind> {
    let light = match (&case.deadline, case.status.is_open()) {
        (Some(dl), true) => ctx
            .rules
            .light(ctx.calendar, case.complexity, dl.due, ctx.now),
        _ => Light::None,
    };
    let mut out = Vec::new();
    let today = local_date(ctx.now);
    for sup in case.supervisions.iter().filter(|s| s.escalation_due(today)) {
        out.push(EventKind::SupervisionEscalated {
            no: sup.no,
            level: sup.escalations + 1,
            next_check: ctx
                .calendar
                .add_working_days(today, ctx.rules.supervision_reply_days),
        });
    }
    if case.status == Status::FeedbackGiven
        && !case.revisit_requested
        && case
            .revisit_due_on
            .is_some_and(|d| local_date(ctx.now) >= d)
    {
        out.push(EventKind::RevisitDue);
    }
    if let Some(a) = &case.room.agreement {
        for no in a.obligations_to_remind(local_date(ctx.now)) {
            out.push(EventKind::ObligationReminded { no });
        }
    }
    if case.status == Status::InMediation {
        for x in case.room.due_reminders(ctx.now) {
            out.push(EventKind::SessionReminded { no: x.no });
        }
    }
    if light != case.light {
        out.push(EventKind::LightChanged { light });
        if light == Light::Red && !case.open_supervisions().any(|s| s.automatic) {
            let stage = case
                .deadline
                .as_ref()
                .map(|d| d.stage.zh())
                .unwrap_or_default();
            out.push(open_supervision(
                case,
                ctx,
                format!("{stage}超期，系统自动督办"),
            ));
        }
    }
    out
}

/// Folds one event into the state. `state` is `None` only before `Registered`.
pub fn apply(state: Option<CaseState>, event: &CaseEvent) -> Option<CaseState> {
    let at = event.at;
    if let EventKind::Registered {
        case,
        tracking_code,
        submitted_by,
    } = &event.kind
    {
        let c = case.clone();
        return Some(CaseState {
            tracking_code: tracking_code.clone(),
            channel: c.channel,
            status: Status::Registered,
            text: c.text,
            parties: c.parties,
            dispute_type: c.dispute_type,
            subtype: c.subtype,
            location: c.location,
            occurred_at: c.occurred_at,
            complexity: c.complexity,
            risk_level: c.risk_level,
            amount_fen: c.amount_fen,
            people_involved: c.people_involved,
            submitted_by: *submitted_by,
            registered_at: at,
            not_accepted_reason: None,
            lead_unit_id: None,
            co_unit_ids: Vec::new(),
            routed_at: None,
            accepted_at: None,
            deadline: None,
            pending_extension: None,
            light: Light::None,
            sessions: Vec::new(),
            outcome: None,
            concluded_at: None,
            feedback: None,
            feedback_at: None,
            evaluation: None,
            archived_at: None,
            supervisions: Vec::new(),
            reopen_count: 0,
            revisit_due_on: None,
            revisit_requested: false,
            linked_case_ids: Vec::new(),
            summons: Vec::new(),
            attachments: Vec::new(),
            merged_into: None,
            deadline_before_merge: None,
            expert_ids: Vec::new(),
            room: room::Room::default(),
            consultations: Vec::new(),
        });
    }
    let mut s = state?;
    match &event.kind {
        EventKind::Registered { .. } => {}
        EventKind::NotAccepted { reason } => {
            s.status = Status::NotAccepted;
            s.not_accepted_reason = Some(reason.clone());
        }
        EventKind::Edited(e) => {
            if let Some(v) = &e.text {
                s.text = v.clone();
            }
            if let Some(v) = e.dispute_type {
                s.dispute_type = v;
            }
            if let Some(v) = &e.subtype {
                s.subtype = Some(v.clone());
            }
            if let Some(v) = e.complexity {
                s.complexity = v;
            }
            if let Some(v) = e.risk_level {
                s.risk_level = v;
            }
            if let Some(v) = e.amount_fen {
                s.amount_fen = Some(v);
            }
            if let Some(v) = e.people_involved {
                s.people_involved = Some(v);
            }
            if let Some(v) = &e.location {
                s.location = v.clone();
            }
            if let Some(v) = e.occurred_at {
                s.occurred_at = Some(v);
            }
        }
        EventKind::Routed {
            lead_unit_id,
            co_unit_ids,
            deadline,
        } => {
            s.status = Status::Routed;
            s.lead_unit_id = Some(*lead_unit_id);
            s.co_unit_ids = co_unit_ids.clone();
            s.routed_at = Some(at);
            s.deadline = Some(deadline.clone());
            s.light = Light::Green;
        }
        EventKind::Accepted => {
            s.status = Status::Accepted;
            s.accepted_at = Some(at);
        }
        EventKind::Returned { .. } => {
            s.status = Status::Registered;
            s.lead_unit_id = None;
            s.co_unit_ids.clear();
            s.routed_at = None;
            s.accepted_at = None;
            s.deadline = None;
            s.pending_extension = None;
            s.light = Light::None;
        }
        EventKind::MediationStarted => s.status = Status::InMediation,
        EventKind::SessionRecorded(m) => s.sessions.push(m.clone()),
        EventKind::Concluded {
            outcome,
            feedback_deadline,
        } => {
            s.status = Status::Concluded;
            s.outcome = Some(outcome.clone());
            s.concluded_at = Some(at);
            s.deadline = Some(feedback_deadline.clone());
            s.pending_extension = None;
            s.light = Light::Green;
        }
        EventKind::FeedbackGiven {
            text,
            revisit_due_on,
        } => {
            s.status = Status::FeedbackGiven;
            s.revisit_due_on = *revisit_due_on;
            s.revisit_requested = false;
            s.feedback = Some(text.clone());
            s.feedback_at = Some(at);
            s.deadline = None;
            s.light = Light::None;
        }
        EventKind::RevisitDue => s.revisit_requested = true,
        EventKind::Evaluated {
            satisfaction,
            comment,
            by_revisit,
        } => {
            s.status = Status::Evaluated;
            s.revisit_due_on = None;
            s.evaluation = Some(Evaluation {
                satisfaction: *satisfaction,
                comment: comment.clone(),
                by_revisit: *by_revisit,
                at,
            });
        }
        EventKind::Archived => {
            s.status = Status::Archived;
            s.archived_at = Some(at);
            s.deadline = None;
            s.light = Light::None;
        }
        EventKind::Linked { case_id, .. } => {
            if !s.linked_case_ids.contains(case_id) {
                s.linked_case_ids.push(*case_id);
            }
        }
        EventKind::MergedInto { case_id, .. } => {
            s.status = Status::Merged;
            s.merged_into = Some(*case_id);
            s.deadline_before_merge = s.deadline.take();
            s.light = Light::None;
            s.pending_extension = None;
            if !s.linked_case_ids.contains(case_id) {
                s.linked_case_ids.push(*case_id);
            }
        }
        EventKind::Unmerged { case_id, .. } => {
            // Merges happen before acceptance: the case was registered, or routed with its
            // deadline still running.
            s.status = if s.lead_unit_id.is_some() {
                Status::Routed
            } else {
                Status::Registered
            };
            s.merged_into = None;
            s.deadline = s.deadline_before_merge.take();
            s.light = if s.deadline.is_some() {
                Light::Green
            } else {
                Light::None
            };
            s.linked_case_ids.retain(|c| c != case_id);
        }
        EventKind::Unlinked { case_id, .. } => s.linked_case_ids.retain(|c| c != case_id),
        EventKind::Reopened {
            complaint_case_id, ..
        } => {
            s.status = Status::Registered;
            s.reopen_count += 1;
            if let Some(c) = complaint_case_id {
                s.linked_case_ids.push(*c);
            }
            s.lead_unit_id = None;
            s.co_unit_ids.clear();
            s.routed_at = None;
            s.accepted_at = None;
            s.outcome = None;
            s.concluded_at = None;
            s.feedback = None;
            s.feedback_at = None;
            s.evaluation = None;
            s.archived_at = None;
        }
        EventKind::SupervisionOpened {
            no,
            reason,
            automatic,
            reply_due,
        } => s.supervisions.push(Supervision {
            no: *no,
            reason: reason.clone(),
            automatic: *automatic,
            opened_at: at,
            opened_by: event.actor_id,
            reply_due: *reply_due,
            reply: None,
            replied_at: None,
            replied_by: None,
            escalations: 0,
            next_escalation: None,
        }),
        EventKind::UnitsSummoned {
            unit_ids, due_at, ..
        } => {
            for u in unit_ids {
                s.summons.push(crate::warning::Summons {
                    unit_id: *u,
                    summoned_at: at,
                    summoned_by: event.actor_id.unwrap_or(0),
                    due_at: *due_at,
                    responded_at: None,
                    responded_by: None,
                    reply: String::new(),
                });
                if s.lead_unit_id != Some(*u) && !s.co_unit_ids.contains(u) {
                    s.co_unit_ids.push(*u);
                }
            }
        }
        EventKind::ExpertAdded { user_id, question } => {
            if !s.expert_ids.contains(user_id) {
                s.expert_ids.push(*user_id);
            }
            s.consultations.push(crate::expert::Consultation {
                expert_id: *user_id,
                question: question.clone(),
                asked_at: at,
                asked_by: event.actor_id,
                answer: None,
                answered_at: None,
            });
        }
        EventKind::ExpertRemoved { user_id } => s.expert_ids.retain(|u| u != user_id),
        EventKind::SummonsAnswered { unit_id, reply } => {
            if let Some(x) = s
                .summons
                .iter_mut()
                .find(|x| x.unit_id == *unit_id && x.responded_at.is_none())
            {
                x.responded_at = Some(at);
                x.responded_by = event.actor_id;
                x.reply = reply.clone();
            }
        }
        EventKind::SupervisionEscalated {
            no,
            level,
            next_check,
        } => {
            if let Some(sup) = s.supervisions.iter_mut().find(|x| x.no == *no) {
                sup.escalations = *level;
                sup.next_escalation = Some(*next_check);
            }
        }
        EventKind::SupervisionReplied { no, reply } => {
            if let Some(sup) = s.supervisions.iter_mut().find(|x| x.no == *no) {
                sup.reply = Some(reply.clone());
                sup.replied_at = Some(at);
                sup.replied_by = event.actor_id;
            }
        }
        EventKind::ExtensionRequested {
            working_days,
            reason,
        } => {
            s.pending_extension = Some(ExtensionRequest {
                working_days: *working_days,
                reason: reason.clone(),
                requested_by: event.actor_id,
                requested_at: at,
            });
        }
        EventKind::ExtensionApproved { new_due } => {
            s.pending_extension = None;
            if let Some(dl) = &mut s.deadline {
                dl.due = *new_due;
            }
        }
        EventKind::ExtensionRejected { .. } => s.pending_extension = None,
        EventKind::PersonalInfoRevealed { .. } => {}
        EventKind::AttachmentAdded(a) => s.attachments.push(a.clone()),
        EventKind::LightChanged { light } => s.light = *light,
        EventKind::PartyInvited { party_index, phone } => {
            s.room.invitations.retain(|i| i.party_index != *party_index);
            s.room.invitations.push(room::Invitation {
                party_index: *party_index,
                invited_seq: event.seq,
                invited_at: at,
                invited_by: event.actor_id,
                phone: phone.clone(),
                code_seq: None,
                code_sent_at: None,
                joined_seq: None,
                joined_at: None,
            });
            s.room.host = s.room.host.or(event.actor_id);
        }
        EventKind::RoomCodeSent { party_index } => {
            if let Some(i) = s.room.invitation_mut(*party_index) {
                i.code_seq = Some(event.seq);
                i.code_sent_at = Some(at);
            }
        }
        EventKind::PartyJoined { party_index } => {
            if let Some(i) = s.room.invitation_mut(*party_index) {
                i.joined_seq = Some(event.seq);
                i.joined_at = Some(at);
            }
        }
        EventKind::MessagePosted { .. } => s.room.messages += 1,
        EventKind::SessionScheduled {
            no,
            at: starts,
            online,
            place,
            note,
        } => s.room.sessions.push(room::ScheduledSession {
            no: *no,
            at: *starts,
            online: *online,
            place: place.clone(),
            note: note.clone(),
            scheduled_by: event.actor_id,
            // Scheduled close to its start: the notice is the reminder.
            reminded: *starts - at <= room::REMIND_BEFORE_MS,
            cancelled: None,
            attendance: Vec::new(),
        }),
        EventKind::VideoJoined {
            no,
            party_index,
            user_id,
        } => {
            if let Some(x) = s.room.sessions.iter_mut().find(|x| x.no == *no) {
                x.attendance.push(room::Attendance {
                    joined_seq: event.seq,
                    party_index: *party_index,
                    user_id: *user_id,
                    joined_at: at,
                    left_at: None,
                });
            }
        }
        EventKind::VideoLeft { no, joined_seq } => {
            if let Some(a) = s
                .room
                .sessions
                .iter_mut()
                .filter(|x| x.no == *no)
                .flat_map(|x| x.attendance.iter_mut())
                .find(|a| a.joined_seq == *joined_seq)
            {
                a.left_at = Some(at);
            }
        }
        EventKind::SessionReminded { no } => {
            if let Some(x) = s.room.sessions.iter_mut().find(|x| x.no == *no) {
                x.reminded = true;
            }
        }
        EventKind::SessionCancelled { no, reason } => {
            if let Some(x) = s.room.sessions.iter_mut().find(|x| x.no == *no) {
                x.cancelled = Some(reason.clone());
            }
        }
        EventKind::AgreementDrafted {
            version,
            facts,
            terms,
            obligations,
            signatories,
        } => {
            let signatures = s
                .room
                .agreement
                .take()
                .map(|a| a.signatures)
                .unwrap_or_default();
            s.room.agreement = Some(room::Agreement {
                version: *version,
                facts: facts.clone(),
                terms: terms.clone(),
                obligations: obligations.clone(),
                signatories: signatories.clone(),
                drafted_at: at,
                drafted_by: event.actor_id,
                signatures,
                sign_codes: Vec::new(),
                sealed: None,
                performance: Vec::new(),
                judicial: None,
                reminded: Vec::new(),
            });
        }
        EventKind::SignCodeSent { party_index, .. } => {
            if let Some(a) = s.room.agreement.as_mut() {
                a.sign_codes.retain(|(p, _, _)| p != party_index);
                a.sign_codes.push((*party_index, event.seq, at));
            }
        }
        EventKind::AgreementSigned {
            party_index,
            version,
            image_id,
        } => {
            if let Some(a) = s.room.agreement.as_mut() {
                a.signatures.push(room::Signature {
                    party_index: *party_index,
                    version: *version,
                    image_id: image_id.clone(),
                    at,
                });
                a.sign_codes.retain(|(p, _, _)| p != party_index);
            }
        }
        EventKind::AgreementSealed {
            version,
            pdf_id,
            sm3,
        } => {
            if let Some(a) = s.room.agreement.as_mut() {
                a.sealed = Some(room::SealedAgreement {
                    version: *version,
                    pdf_id: pdf_id.clone(),
                    sm3: sm3.clone(),
                    at,
                });
            }
        }
        EventKind::JudicialConfirmationRequested { court } => {
            if let Some(a) = s.room.agreement.as_mut() {
                a.judicial = Some(room::JudicialConfirmation {
                    court: court.clone(),
                    requested_at: at,
                    answer: None,
                });
            }
        }
        EventKind::PartyAdded(p) => s.parties.push(p.clone()),
        EventKind::ObligationReminded { no } => {
            if let Some(a) = s.room.agreement.as_mut() {
                a.reminded.push(*no);
            }
        }
        EventKind::CourtAnswered { confirmed, note } => {
            if let Some(j) = s.room.agreement.as_mut().and_then(|a| a.judicial.as_mut()) {
                j.answer = Some(room::CourtAnswer {
                    confirmed: *confirmed,
                    note: note.clone(),
                    at,
                });
            }
        }
        EventKind::ConsultationAnswered { expert_id, answer } => {
            // The latest question to this expert gets the answer (a later answer replaces an
            // earlier one; both stay in the log).
            if let Some(c) = s
                .consultations
                .iter_mut()
                .rev()
                .find(|c| c.expert_id == *expert_id)
            {
                c.answer = Some(answer.clone());
                c.answered_at = Some(at);
            }
        }
        EventKind::PerformanceRecorded { no, honoured, note } => {
            if let Some(a) = s.room.agreement.as_mut() {
                a.performance.push(room::Performance {
                    no: *no,
                    honoured: *honoured,
                    note: note.clone(),
                    at,
                });
            }
        }
    }
    Some(s)
}

/// Rebuilds a case's state from its whole log.
pub fn replay<'a>(events: impl IntoIterator<Item = &'a CaseEvent>) -> Option<CaseState> {
    events.into_iter().fold(None, apply)
}
