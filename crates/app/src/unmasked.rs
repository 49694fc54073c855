//! Case lists with unmasked personal numbers: asked for with a purpose, approved by a second
//! person (`domain::export`), downloaded once. Every step is in the audit trail; the download's
//! record is written before the file is handed out.
use crate::{App, AppError, Result};
use fengqiao_domain::access::Actor;
use fengqiao_domain::audit::AuditAction;
use fengqiao_domain::export::{self, ExportRequest, ExportStatus};
use serde_json::json;

impl App {
    /// Asks for an unmasked export of the case list `filter` (the list page's query string).
    pub async fn request_unmasked_export(
        &self,
        actor: &Actor,
        filter: &str,
        purpose: &str,
    ) -> Result<ExportRequest> {
        export::check_request(actor, purpose)?;
        let mut req = ExportRequest {
            id: 0,
            requested_by: actor.user_id,
            scope_path: actor.scope_path.clone(),
            filter: filter.chars().take(500).collect(),
            purpose: purpose.trim().chars().take(200).collect(),
            status: ExportStatus::Pending,
            decided_by: None,
            requested_at: self.now(),
            decided_at: None,
            downloaded_at: None,
        };
        req.id = self.store.insert_export_request(&req).await?;
        self.audit_actor(
            actor,
            AuditAction::Export,
            &format!("unmasked_export:{}", req.id),
            "requested",
            json!({"filter": req.filter, "purpose": req.purpose}),
        )
        .await?;
        Ok(req)
    }

    /// The requests the actor made or may decide, newest first.
    pub async fn export_requests(&self, actor: &Actor) -> Result<Vec<ExportRequest>> {
        let all = self.store.list_export_requests(200).await?;
        Ok(all
            .into_iter()
            .filter(|r| export::can_see(actor, r))
            .collect())
    }

    async fn visible_export(&self, actor: &Actor, id: i64) -> Result<ExportRequest> {
        self.store
            .get_export_request(id)
            .await?
            .filter(|r| export::can_see(actor, r))
            .ok_or(AppError::NotFound("export_request"))
    }

    /// Approves or rejects a request (another person than the requester).
    pub async fn decide_unmasked_export(
        &self,
        actor: &Actor,
        id: i64,
        approve: bool,
    ) -> Result<ExportRequest> {
        let req = self.visible_export(actor, id).await?;
        let refused = export::check_decision(actor, &req);
        let outcome = if approve { "approved" } else { "rejected" };
        if let Err(e) = refused {
            self.audit_actor(
                actor,
                AuditAction::Export,
                &format!("unmasked_export:{id}"),
                "refused",
                json!({"decision": outcome, "reason": e.code()}),
            )
            .await?;
            return Err(e.into());
        }
        let to = if approve {
            ExportStatus::Approved
        } else {
            ExportStatus::Rejected
        };
        let now = self.now();
        if !self
            .store
            .set_export_status(id, ExportStatus::Pending, to, Some(actor.user_id), now)
            .await?
        {
            return Err(fengqiao_domain::DomainError::ExportNotPending.into());
        }
        self.audit_actor(
            actor,
            AuditAction::Export,
            &format!("unmasked_export:{id}"),
            outcome,
            json!({"requested_by": req.requested_by, "purpose": req.purpose}),
        )
        .await?;
        self.visible_export(actor, id).await
    }

    /// Takes the approved export for its download (once): the request, now downloaded, whose
    /// filter gives the cases. The audit record is written before the caller builds the file.
    pub async fn take_unmasked_export(&self, actor: &Actor, id: i64) -> Result<ExportRequest> {
        let req = self.visible_export(actor, id).await?;
        let now = self.now();
        export::check_download(actor, &req, now)?;
        if !self
            .store
            .set_export_status(
                id,
                ExportStatus::Approved,
                ExportStatus::Downloaded,
                None,
                now,
            )
            .await?
        {
            return Err(fengqiao_domain::DomainError::ExportNotAvailable.into());
        }
        self.record_export(
            actor,
            &format!("unmasked_export:{id}"),
            json!({"filter": req.filter, "purpose": req.purpose, "approved_by": req.decided_by}),
        )
        .await?;
        self.visible_export(actor, id).await
    }
}
