//! Unmasked exports: a case list with personal numbers in clear leaves the system only when a
//! second person approved it. One user asks, with a purpose and the list's filter; another user
//! who may approve (and whose scope covers the request) decides; the requester downloads the
//! file once, within a day of the approval. Every step is an audit record.
use crate::access::{Actor, Operation};
use crate::error::DomainError;
use crate::jurisdiction::path_within;
use crate::time::Millis;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// How long an approval stays good for its download.
pub const APPROVAL_VALID_MS: Millis = 24 * 3_600_000;

crate::unit::labelled_enum!(
    /// Where a request for an unmasked export stands.
    ExportStatus {
        Pending = "pending" / "待审批",
        Approved = "approved" / "已批准",
        Rejected = "rejected" / "已驳回",
        Downloaded = "downloaded" / "已下载",
    }
);

/// A request for a case list with unmasked personal numbers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ExportRequest {
    pub id: i64,
    pub requested_by: i64,
    /// The requester's scope when asking: only approvers over it may decide.
    pub scope_path: String,
    /// The case list's filter (the list page's query string).
    pub filter: String,
    pub purpose: String,
    pub status: ExportStatus,
    pub decided_by: Option<i64>,
    pub requested_at: Millis,
    pub decided_at: Option<Millis>,
    pub downloaded_at: Option<Millis>,
}

/// Whether `actor` may ask for an unmasked export: who may reveal a party's numbers.
pub fn check_request(actor: &Actor, purpose: &str) -> Result<(), DomainError> {
    if !actor.role.permits(Operation::RevealPersonalInfo) {
        return Err(DomainError::Forbidden);
    }
    if purpose.trim().chars().count() < 4 {
        return Err(DomainError::validation(
            "purpose",
            "state the purpose (4+ characters)",
        ));
    }
    Ok(())
}

/// Whether `actor` may approve or reject the request: another person, allowed to approve, whose
/// scope covers the requester's, while it is pending.
pub fn check_decision(actor: &Actor, req: &ExportRequest) -> Result<(), DomainError> {
    if !actor.role.permits(Operation::ApproveExport)
        || !path_within(&req.scope_path, &actor.scope_path)
    {
        return Err(DomainError::Forbidden);
    }
    if actor.user_id == req.requested_by {
        return Err(DomainError::SameApprover);
    }
    if req.status != ExportStatus::Pending {
        return Err(DomainError::ExportNotPending);
    }
    Ok(())
}

/// Whether the requester may download the file now: approved, not yet downloaded, within
/// [`APPROVAL_VALID_MS`] of the approval.
pub fn check_download(actor: &Actor, req: &ExportRequest, now: Millis) -> Result<(), DomainError> {
    if actor.user_id != req.requested_by {
        return Err(DomainError::Forbidden);
    }
    match (req.status, req.decided_at) {
        (ExportStatus::Approved, Some(at)) if now - at <= APPROVAL_VALID_MS => Ok(()),
        _ => Err(DomainError::ExportNotAvailable),
    }
}

/// Whether `actor` sees the request: the requester, and those who may decide it.
pub fn can_see(actor: &Actor, req: &ExportRequest) -> bool {
    actor.user_id == req.requested_by
        || (actor.role.permits(Operation::ApproveExport)
            && path_within(&req.scope_path, &actor.scope_path))
}
