//! The audit trail (`domain::audit`): what is recorded, from where, and its verification.
//! Sign-ins and their failures, sign-outs, password and second-factor changes, access denials,
//! reveals of personal numbers, exports, user and configuration changes, case changes and
//! imports are appended to the SM3 hash chain; a checkpoint signed with the audit key (HMAC-SM3,
//! setting `audit_key`, from outside the database) follows every [`CHECKPOINT_EVERY`] records
//! and at every deadline sweep when records were added since the last one.
use crate::{App, AppError, Result};
use fengqiao_domain::access::{authorize_node, Actor, Operation, Role};
use fengqiao_domain::audit::{
    checkpoint_mac, AuditAction, AuditRecord, AuditReport, Checkpoint, NewAuditRecord, Verifier,
};
use fengqiao_domain::DomainError;

/// Case changes wait at most this long to be appended with others (one transaction).
pub const BATCH_WAIT: std::time::Duration = std::time::Duration::from_millis(250);
/// At most this many records in one append.
const BATCH_MAX: usize = 1_000;

/// What the batching task receives: a record, or a request to append everything before it.
#[derive(Debug)]
pub(crate) enum Queued {
    Record(NewAuditRecord),
    Flush(tokio::sync::oneshot::Sender<()>),
}

/// Case changes are audited in batches: the case's own event log already holds who, when and
/// what durably, so a crash loses at most [`BATCH_WAIT`] of their audit copies, and intake
/// keeps its group commit. Everything else is appended before the operation answers.
pub(crate) fn spawn_batcher(
    store: std::sync::Arc<dyn fengqiao_store::Store>,
) -> tokio::sync::mpsc::UnboundedSender<Queued> {
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<Queued>();
    tokio::spawn(async move {
        while let Some(first) = rx.recv().await {
            let mut batch = Vec::new();
            let mut waiting = Vec::new();
            let mut next = Some(first);
            let deadline = tokio::time::Instant::now() + BATCH_WAIT;
            while let Some(m) = next.take() {
                match m {
                    Queued::Record(r) => batch.push(r),
                    Queued::Flush(done) => waiting.push(done),
                }
                if batch.len() >= BATCH_MAX {
                    break;
                }
                next = match rx.try_recv() {
                    Ok(m) => Some(m),
                    // Nothing queued: wait for more until the deadline, unless someone waits.
                    Err(_) if waiting.is_empty() => tokio::time::timeout_at(deadline, rx.recv())
                        .await
                        .ok()
                        .flatten(),
                    Err(_) => None,
                };
            }
            if !batch.is_empty() {
                if let Err(e) = store.append_audit(&batch).await {
                    tracing::error!(error = %e, records = batch.len(), "audit append failed");
                }
            }
            for w in waiting {
                let _ = w.send(());
            }
        }
    });
    tx
}

/// Records between signed checkpoints.
pub const CHECKPOINT_EVERY: i64 = 1_000;
/// Records read at a time by verification.
const VERIFY_PAGE: i64 = 10_000;

tokio::task_local! {
    /// The client address of the request being served (set by the web layer around every
    /// request), so every audit record names where it came from.
    pub static CLIENT: String;
}

/// The client address of the current request ("" outside one).
pub fn current_client() -> String {
    CLIENT.try_with(Clone::clone).unwrap_or_default()
}

/// Who did it: a user (id and name) or only a name typed at sign-in.
#[derive(Debug, Clone)]
pub struct Who {
    pub id: Option<i64>,
    pub name: String,
}

impl Who {
    pub fn user(id: i64, name: &str) -> Who {
        Who {
            id: Some(id),
            name: name.to_string(),
        }
    }
    pub fn named(name: &str) -> Who {
        Who {
            id: None,
            name: name.to_string(),
        }
    }
}

impl App {
    /// Appends one record (the client from the current request).
    pub async fn audit(
        &self,
        who: Who,
        action: AuditAction,
        target: &str,
        outcome: &str,
        detail: serde_json::Value,
    ) -> Result<()> {
        let name = match (who.name.is_empty(), who.id) {
            (true, Some(id)) => self.username_of(id).await,
            _ => who.name,
        };
        let seq = self
            .store
            .append_audit(&[NewAuditRecord {
                at: self.now(),
                actor_id: who.id,
                actor_name: name,
                client: current_client(),
                action,
                target: target.to_string(),
                outcome: outcome.to_string(),
                detail: detail.to_string(),
            }])
            .await?;
        if seq % CHECKPOINT_EVERY == 0 {
            self.checkpoint_audit().await?;
        }
        Ok(())
    }

    /// Queues a case change's record (appended within [`BATCH_WAIT`] with others).
    pub(crate) async fn audit_case_change(
        &self,
        who: Who,
        target: String,
        detail: serde_json::Value,
    ) {
        let name = match (who.name.is_empty(), who.id) {
            (true, Some(id)) => self.username_of(id).await,
            _ => who.name,
        };
        let record = NewAuditRecord {
            at: self.now(),
            actor_id: who.id,
            actor_name: name,
            client: current_client(),
            action: AuditAction::CaseChanged,
            target,
            outcome: "ok".to_string(),
            detail: detail.to_string(),
        };
        if self.audit_queue.send(Queued::Record(record)).is_err() {
            tracing::error!("audit batcher gone");
        }
    }

    /// Waits until every queued record is appended.
    pub async fn flush_audit(&self) {
        let (done, wait) = tokio::sync::oneshot::channel();
        if self.audit_queue.send(Queued::Flush(done)).is_ok() {
            let _ = wait.await;
        }
    }

    /// Appends one record by an actor (its username looked up once and remembered).
    pub async fn audit_actor(
        &self,
        actor: &Actor,
        action: AuditAction,
        target: &str,
        outcome: &str,
        detail: serde_json::Value,
    ) -> Result<()> {
        let who = Who {
            id: (actor.user_id > 0).then_some(actor.user_id),
            name: if actor.user_id > 0 {
                String::new()
            } else {
                actor.role.as_str().to_string()
            },
        };
        self.audit(who, action, target, outcome, detail).await
    }

    async fn username_of(&self, id: i64) -> String {
        if let Some(n) = self.usernames.read().ok().and_then(|m| m.get(&id).cloned()) {
            return n;
        }
        let name = match self.store.get_user(id).await {
            Ok(Some(u)) => u.username,
            _ => format!("user:{id}"),
        };
        if let Ok(mut m) = self.usernames.write() {
            m.insert(id, name.clone());
        }
        name
    }

    /// Records an export (a file of cases or a report leaving the system); the file must not
    /// be handed out when this fails.
    pub async fn record_export(
        &self,
        actor: &Actor,
        what: &str,
        detail: serde_json::Value,
    ) -> Result<()> {
        self.audit_actor(actor, AuditAction::Export, what, "ok", detail)
            .await
    }

    /// Signs the chain's current end (when records came after the last checkpoint).
    pub async fn checkpoint_audit(&self) -> Result<Option<Checkpoint>> {
        self.flush_audit().await;
        let Some((seq, hash)) = self.store.audit_head().await? else {
            return Ok(None);
        };
        let last = self.store.audit_checkpoints().await?.last().map(|c| c.seq);
        if last >= Some(seq) {
            return Ok(None);
        }
        let at = self.now();
        let cp = Checkpoint {
            mac: self
                .settings
                .audit_key
                .as_deref()
                .map(|k| checkpoint_mac(k, seq, &hash, at)),
            seq,
            hash,
            at,
        };
        match self.store.put_audit_checkpoint(&cp).await {
            Ok(()) => Ok(Some(cp)),
            // Another server signed the same end meanwhile.
            Err(fengqiao_store::StoreError::Duplicate(_)) => Ok(None),
            Err(e) => Err(e.into()),
        }
    }

    /// [`App::verify_audit`] for an administrator.
    pub async fn verify_audit_as(&self, actor: &Actor) -> Result<AuditReport> {
        authorize_audit(actor)?;
        self.verify_audit().await
    }

    /// Walks the whole chain and the checkpoints (`fengqiao audit verify`).
    pub async fn verify_audit(&self) -> Result<AuditReport> {
        self.flush_audit().await;
        let checkpoints = self.store.audit_checkpoints().await?;
        let at: std::collections::HashSet<i64> = checkpoints.iter().map(|c| c.seq).collect();
        let mut v = Verifier::default();
        let mut after = 0;
        loop {
            let page = self.store.audit_records(after, VERIFY_PAGE).await?;
            let Some(last) = page.last() else { break };
            after = last.seq;
            for r in &page {
                v.feed(r, at.contains(&r.seq));
            }
        }
        Ok(v.finish(&checkpoints, self.settings.audit_key.as_deref()))
    }

    /// The latest audit records, newest first (administrators of the whole deployment: the
    /// trail covers every jurisdiction).
    pub async fn audit_trail(&self, actor: &Actor, limit: i64) -> Result<Vec<AuditRecord>> {
        authorize_audit(actor)?;
        self.flush_audit().await;
        let head = self.store.audit_head().await?.map_or(0, |h| h.0);
        let limit = limit.clamp(1, 1_000);
        let mut page = self
            .store
            .audit_records((head - limit).max(0), limit)
            .await?;
        page.reverse();
        Ok(page)
    }
}

/// The trail covers every jurisdiction: administrators only.
fn authorize_audit(actor: &Actor) -> Result<()> {
    authorize_node(actor, Operation::ManageReference, &actor.scope_path)?;
    if actor.role != Role::Admin {
        return Err(AppError::Domain(DomainError::Forbidden));
    }
    Ok(())
}
