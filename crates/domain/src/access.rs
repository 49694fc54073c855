//! Roles, operations and scope: who may do what to which case.
//!
//! Owns: the role × operation matrix (as data, [`MATRIX`]), jurisdiction-subtree scope and
//! the unit-membership rules for unit operations. Every API operation asks this module;
//! nothing else decides access.
use crate::case::CaseState;
use crate::jurisdiction::path_within;
use crate::DomainError;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

crate::unit::labelled_enum!(
    /// What a user is, within a jurisdiction subtree.
    Role {
        Citizen = "citizen" / "群众",
        GridWorker = "grid_worker" / "网格员",
        Mediator = "mediator" / "调解员",
        UnitHandler = "unit_handler" / "单位经办人",
        UnitLeader = "unit_leader" / "单位负责人",
        Dispatcher = "dispatcher" / "中心调度员",
        Supervisor = "supervisor" / "督办员",
        Leader = "leader" / "领导",
        Expert = "expert" / "专家",
        Admin = "admin" / "系统管理员",
    }
);

crate::unit::labelled_enum!(
    /// Every operation the API offers that touches cases or reference data.
    Operation {
        CreateCase = "create_case" / "登记",
        ReadCase = "read_case" / "查看",
        RejectCase = "reject_case" / "不予受理",
        EditCase = "edit_case" / "修改要素",
        RouteCase = "route_case" / "分流",
        AcceptCase = "accept_case" / "签收",
        ReturnCase = "return_case" / "退回",
        Mediate = "mediate" / "调解",
        Conclude = "conclude" / "办结",
        GiveFeedback = "give_feedback" / "反馈",
        RecordRevisit = "record_revisit" / "回访",
        Archive = "archive" / "归档",
        Reopen = "reopen" / "重启",
        OpenSupervision = "open_supervision" / "督办",
        ReplySupervision = "reply_supervision" / "督办回复",
        RequestExtension = "request_extension" / "申请延期",
        DecideExtension = "decide_extension" / "审批延期",
        Evaluate = "evaluate" / "评价",
        RevealPersonalInfo = "reveal_personal_info" / "查看个人信息",
        AddAttachment = "add_attachment" / "上传附件",
        ManageReference = "manage_reference" / "管理基础数据",
        RunDeadlineSweep = "run_deadline_sweep" / "运行时限检查",
        ViewStatistics = "view_statistics" / "查看统计",
        ViewWarnings = "view_warnings" / "查看预警",
        HandleWarning = "handle_warning" / "处置预警",
        CloseWarning = "close_warning" / "关闭预警",
        RunWarnings = "run_warnings" / "运行预警分析",
        SummonUnits = "summon_units" / "吹哨",
        AnswerSummons = "answer_summons" / "吹哨响应",
        ImportRecords = "import_records" / "导入外部系统数据",
        ApproveExport = "approve_export" / "审批不脱敏导出",
        AssignExpert = "assign_expert" / "指派专家会诊",
        TakePartInRoom = "take_part_in_room" / "参与在线调解",
        AnswerConsultation = "answer_consultation" / "会诊答复",
    }
);

use Operation as O;
use Role as R;

/// The role × operation matrix. Scope and unit membership are checked on top of it.
pub const MATRIX: &[(Role, &[Operation])] = &[
    (
        R::Citizen,
        &[
            O::CreateCase,
            O::ReadCase,
            O::Evaluate,
            O::AddAttachment,
            O::TakePartInRoom,
        ],
    ),
    (
        R::GridWorker,
        &[O::CreateCase, O::ReadCase, O::AddAttachment],
    ),
    (
        R::Mediator,
        &[
            O::ReadCase,
            O::AssignExpert,
            O::AcceptCase,
            O::ReturnCase,
            O::Mediate,
            O::Conclude,
            O::GiveFeedback,
            O::RequestExtension,
            O::RevealPersonalInfo,
            O::AddAttachment,
        ],
    ),
    (
        R::UnitHandler,
        &[
            O::CreateCase,
            O::ReadCase,
            O::AssignExpert,
            O::AcceptCase,
            O::ReturnCase,
            O::Mediate,
            O::Conclude,
            O::GiveFeedback,
            O::ReplySupervision,
            O::RequestExtension,
            O::RevealPersonalInfo,
            O::AddAttachment,
            O::ViewWarnings,
            O::HandleWarning,
            O::AnswerSummons,
        ],
    ),
    (
        R::UnitLeader,
        &[
            O::CreateCase,
            O::ReadCase,
            O::AssignExpert,
            O::AcceptCase,
            O::ReturnCase,
            O::Mediate,
            O::Conclude,
            O::GiveFeedback,
            O::ReplySupervision,
            O::RequestExtension,
            O::DecideExtension,
            O::RevealPersonalInfo,
            O::AddAttachment,
            O::ViewStatistics,
            O::ViewWarnings,
            O::HandleWarning,
            O::CloseWarning,
            O::AnswerSummons,
        ],
    ),
    (
        R::Dispatcher,
        &[
            O::CreateCase,
            O::ReadCase,
            O::AssignExpert,
            O::RejectCase,
            O::EditCase,
            O::RouteCase,
            O::GiveFeedback,
            O::RecordRevisit,
            O::Archive,
            O::Reopen,
            O::RevealPersonalInfo,
            O::AddAttachment,
            O::ViewStatistics,
            O::ViewWarnings,
            O::HandleWarning,
            O::CloseWarning,
            O::SummonUnits,
            O::ImportRecords,
        ],
    ),
    (
        R::Supervisor,
        &[
            O::ReadCase,
            O::AssignExpert,
            O::OpenSupervision,
            O::DecideExtension,
            O::Archive,
            O::Reopen,
            O::RevealPersonalInfo,
            O::RunDeadlineSweep,
            O::ViewStatistics,
            O::ViewWarnings,
            O::HandleWarning,
            O::CloseWarning,
            O::RunWarnings,
            O::SummonUnits,
            O::ApproveExport,
        ],
    ),
    (
        R::Leader,
        &[
            O::ReadCase,
            O::ApproveExport,
            O::ViewStatistics,
            O::ViewWarnings,
            O::CloseWarning,
            O::SummonUnits,
        ],
    ),
    (R::Expert, &[O::ReadCase, O::AnswerConsultation]),
    (
        R::Admin,
        &[
            O::ReadCase,
            O::ManageReference,
            O::RunDeadlineSweep,
            O::ViewStatistics,
            O::ViewWarnings,
            O::RunWarnings,
        ],
    ),
];

impl Role {
    pub fn permits(self, op: Operation) -> bool {
        MATRIX
            .iter()
            .any(|(r, ops)| *r == self && ops.contains(&op))
    }

    /// Staff roles are scoped to a subtree; citizens see only their own submissions.
    pub fn is_staff(self) -> bool {
        self != Role::Citizen
    }
}

/// The user id of an anonymous citizen acting on one case after proving that they hold its
/// tracking code and the phone number given at submission. Only the application layer builds
/// such an actor, and only after that proof.
pub const PUBLIC_CITIZEN: i64 = -1;

/// User ids of a case room's parties: `ROOM_PARTY_BASE - party_index`. Only the application
/// builds such an actor, and only for the case whose room session the party proved.
pub const ROOM_PARTY_BASE: i64 = -1000;

/// The authenticated user on whose behalf an operation runs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Actor {
    pub user_id: i64,
    pub role: Role,
    /// Materialised path of the user's scope node.
    pub scope_path: String,
    pub unit_id: Option<i64>,
}

impl Actor {
    /// The system itself (deadline monitor): acts everywhere, as a supervisor would.
    pub fn system() -> Actor {
        Actor {
            user_id: 0,
            role: Role::Supervisor,
            scope_path: "/".into(),
            unit_id: None,
        }
    }

    pub fn is_system(&self) -> bool {
        self.user_id == 0
    }

    /// A party of a case in its room (after confirming the invitation with a code).
    pub fn room_party(party_index: usize) -> Actor {
        Actor {
            user_id: ROOM_PARTY_BASE - i64::try_from(party_index).unwrap_or(i64::MAX / 2),
            role: Role::Citizen,
            scope_path: String::new(),
            unit_id: None,
        }
    }

    /// The party index of a room party actor.
    pub fn room_party_index(&self) -> Option<usize> {
        if self.role == Role::Citizen && self.user_id <= ROOM_PARTY_BASE {
            usize::try_from(ROOM_PARTY_BASE - self.user_id).ok()
        } else {
            None
        }
    }
}

/// Whether the actor may see the case at all. Callers answer "not found" when this is false,
/// so that the existence of a case outside one's scope is never revealed.
pub fn can_view(actor: &Actor, case: &CaseState) -> bool {
    if actor.is_system() {
        return true;
    }
    match actor.role {
        Role::Citizen => {
            actor.user_id == PUBLIC_CITIZEN
                || actor.room_party_index().is_some()
                || case.submitted_by == Some(actor.user_id)
        }
        // An expert sees the cases they were added to, and nothing else of their area.
        Role::Expert => case.expert_ids.contains(&actor.user_id),
        _ => {
            path_within(&case.location.node_path, &actor.scope_path)
                || actor.unit_id.is_some_and(|u| case.involves_unit(u))
        }
    }
}

/// Whether the actor may perform `op` on a case it can see.
pub fn authorize(actor: &Actor, op: Operation, case: &CaseState) -> Result<(), DomainError> {
    if actor.is_system() {
        return Ok(());
    }
    if !actor.role.permits(op) || !can_view(actor, case) {
        return Err(DomainError::Forbidden);
    }
    let lead = actor.unit_id.is_some() && case.lead_unit_id == actor.unit_id;
    let unit_member = matches!(
        actor.role,
        Role::Mediator | Role::UnitHandler | Role::UnitLeader
    );
    let ok = match op {
        // Unit work belongs to the lead unit; co-handling units may record mediation sessions.
        O::AcceptCase | O::ReturnCase | O::Conclude | O::RequestExtension | O::ReplySupervision => {
            lead
        }
        O::Mediate => actor.unit_id.is_some_and(|u| case.involves_unit(u)),
        // A summoned unit answers for itself.
        O::AnswerSummons => actor.unit_id.is_some_and(|u| {
            case.summons
                .iter()
                .any(|s| s.unit_id == u && s.responded_at.is_none())
        }),
        O::GiveFeedback if unit_member => lead,
        // Unit staff bring experts into the cases their unit handles.
        O::AssignExpert if unit_member => actor.unit_id.is_some_and(|u| case.involves_unit(u)),
        O::DecideExtension if actor.role == Role::UnitLeader => lead,
        _ => true,
    };
    if ok {
        Ok(())
    } else {
        Err(DomainError::Forbidden)
    }
}

/// Whether the actor may perform a non-case operation (reference data, sweeps) on a node.
pub fn authorize_node(actor: &Actor, op: Operation, node_path: &str) -> Result<(), DomainError> {
    if actor.is_system() || (actor.role.permits(op) && path_within(node_path, &actor.scope_path)) {
        Ok(())
    } else {
        Err(DomainError::Forbidden)
    }
}

/// Whether the actor may see a warning: its area lies in the actor's scope, or it is assigned
/// to the actor's unit.
pub fn can_view_warning(actor: &Actor, w: &crate::warning::Warning) -> bool {
    actor.is_system()
        || (actor.role.permits(Operation::ViewWarnings)
            && (path_within(&w.area_path, &actor.scope_path)
                || actor.unit_id.is_some_and(|u| w.unit_ids.contains(&u))))
}

/// Whether the actor may act on a warning it can see: unit staff on warnings assigned to their
/// unit; the centre's dispatchers and supervisors (and leaders, for closing) in their scope.
pub fn authorize_warning(
    actor: &Actor,
    action: crate::warning::WarningAction,
    w: &crate::warning::Warning,
) -> Result<(), DomainError> {
    use crate::warning::WarningAction as A;
    if actor.is_system() {
        return Ok(());
    }
    let op = match action {
        A::Acknowledge | A::Handle | A::Respond => Operation::HandleWarning,
        A::Close => Operation::CloseWarning,
        A::Summon => Operation::SummonUnits,
        A::Raise | A::Update | A::Expire => return Err(DomainError::Forbidden),
    };
    let assigned = actor.unit_id.is_some_and(|u| w.unit_ids.contains(&u));
    let centre = matches!(
        actor.role,
        Role::Dispatcher | Role::Supervisor | Role::Leader
    ) && path_within(&w.area_path, &actor.scope_path);
    if can_view_warning(actor, w) && actor.role.permits(op) && (assigned || centre) {
        Ok(())
    } else {
        Err(DomainError::Forbidden)
    }
}
