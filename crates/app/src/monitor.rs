//! The deadline monitor: re-evaluates the light of every case with a running deadline; on red
//! the domain opens an automatic supervision and the leaders are notified (same transaction).
use crate::{App, Result};
use fengqiao_domain::access::Actor;
use fengqiao_domain::workflow::Command;
use serde::{Deserialize, Serialize};
use std::sync::Arc;
use std::time::Duration;
use utoipa::ToSchema;

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct SweepReport {
    pub checked: u64,
    pub lights_changed: u64,
    pub supervisions_opened: u64,
    /// Cases whose staff revisit (回访) fell due in this pass.
    pub revisits_requested: u64,
}

/// What a rebuild found.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct RebuildReport {
    pub checked: u64,
    /// Cases whose stored state differed from the replay of their log.
    pub mismatched: Vec<i64>,
    pub rewritten: u64,
}

impl App {
    /// Replays every case's log and compares it with the stored state; with `fix`, rewrites the
    /// state and its projections where they differ. Events are the truth and are never changed.
    pub async fn rebuild_cases(&self, fix: bool) -> Result<RebuildReport> {
        let mut report = RebuildReport::default();
        let mut filter = fengqiao_store::CaseFilter {
            visibility: fengqiao_store::Visibility {
                scope_path: Some("/".into()),
                ..Default::default()
            },
            limit: 500,
            ..Default::default()
        };
        loop {
            let page = self.store.list_cases(&filter).await?;
            for c in &page.items {
                report.checked += 1;
                let events = self.store.case_events(c.id).await?;
                let replayed = fengqiao_domain::workflow::replay(&events).ok_or_else(|| {
                    crate::AppError::Internal(format!("case {} has no registration event", c.id))
                })?;
                if replayed != c.state || events.len() as i64 != c.version {
                    report.mismatched.push(c.id);
                    if fix {
                        self.store
                            .replace_state(c.id, events.len() as i64, &replayed)
                            .await?;
                        self.cases_changed(vec![c.id]);
                        report.rewritten += 1;
                    }
                }
            }
            match page.next_before_id {
                Some(b) => filter.before_id = Some(b),
                None => break,
            }
        }
        Ok(report)
    }

    /// One pass over all cases with a running deadline.
    pub async fn sweep_deadlines(&self) -> Result<SweepReport> {
        let system = Actor::system();
        let mut report = SweepReport::default();
        let mut after = 0;
        loop {
            let batch = self.store.cases_with_deadline(after, 500).await?;
            let Some(last) = batch.last() else { break };
            after = last.id;
            for c in batch {
                report.checked += 1;
                let after_case = self.act(&system, c.id, &Command::RefreshLight).await?;
                report.lights_changed += u64::from(after_case.state.light != c.state.light);
                report.revisits_requested +=
                    u64::from(after_case.state.revisit_requested && !c.state.revisit_requested);
                report.supervisions_opened += (after_case.state.supervisions.len()
                    - c.state
                        .supervisions
                        .len()
                        .min(after_case.state.supervisions.len()))
                    as u64;
            }
        }
        Ok(report)
    }

    /// Runs the monitor every `every` until the process ends.
    pub fn spawn_deadline_monitor(
        self: &Arc<Self>,
        every: Duration,
    ) -> tokio::task::JoinHandle<()> {
        let app = Arc::clone(self);
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(every);
            loop {
                tick.tick().await;
                match app.sweep_deadlines().await {
                    Ok(r) if r.lights_changed > 0 => tracing::info!(?r, "deadline sweep"),
                    Ok(_) => {}
                    Err(e) => tracing::warn!(error = %e, "deadline sweep failed"),
                }
                // The early-warning run, once a day for the last complete day.
                match app.run_warnings_daily().await {
                    Ok(Some(r)) => tracing::info!(?r, "early warning"),
                    Ok(None) => {}
                    Err(e) => tracing::warn!(error = %e, "early-warning run failed"),
                }
                // The audit trail's end is signed (when records came since the last time).
                if let Err(e) = app.checkpoint_audit().await {
                    tracing::warn!(error = %e, "audit checkpoint failed");
                }
                // Last month's report reaches the leaders' inboxes on the 1st (once).
                match app.deliver_monthly_reports().await {
                    Ok(n) if n > 0 => tracing::info!(leaders = n, "monthly report delivered"),
                    Ok(_) => {}
                    Err(e) => tracing::warn!(error = %e, "monthly report delivery failed"),
                }
            }
        })
    }
}
