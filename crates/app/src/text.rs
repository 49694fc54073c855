//! Reading case texts on arrival: the elements filled in for a person to confirm, the
//! analysis stored with the reader's version, duplicate candidates (high-confidence ones linked
//! automatically), and the type classifier (built in, or retrained on confirmed cases).

use crate::cases::CaseInput;
use crate::{App, AppError, Result};
use chrono::{NaiveDateTime, TimeZone};
use fengqiao_domain::access::{can_view, Actor};
use fengqiao_domain::case::{Complexity, DisputeType, RiskLevel};
use fengqiao_domain::jurisdiction::{Jurisdiction, Level};
use fengqiao_domain::time::{cst, Millis};
use fengqiao_domain::workflow::Command;
use fengqiao_store::{StoredAnalysis, StoredCase};
use fengqiao_text::dedup::{self, DupCandidate, Fingerprint};
use fengqiao_text::{Analysis, Analyzer, Gazetteer, GazetteerEntry, TypeModel};
use serde::{Deserialize, Serialize};
use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use utoipa::ToSchema;

/// Settings key of a classifier retrained on the deployment's own cases.
pub const MODEL_SETTING: &str = "text.type_model";
/// How far back the duplicate search looks.
pub const DUP_WINDOW_DAYS: i64 = 30;
const DAY_MS: i64 = 86_400_000;

/// What is stored per case.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct CaseAnalysis {
    pub analyser_version: String,
    pub analysed_at: Millis,
    /// The reader's output (see the `fengqiao-text` crate).
    #[schema(value_type = Object)]
    pub analysis: Analysis,
    /// Fields of the case the reader filled in because the submission left them empty.
    pub filled: Vec<String>,
    /// Earlier cases that may describe the same dispute, best first.
    #[schema(value_type = Vec<Object>)]
    pub duplicates: Vec<DupCandidate>,
    /// The candidates linked automatically (score ≥ 0.8).
    pub auto_linked: Vec<i64>,
}

#[derive(Default)]
pub(crate) struct TextState {
    analyzer: Option<Arc<Analyzer>>,
    recent: VecDeque<(i64, Millis, Fingerprint)>,
    last_id: i64,
}

pub(crate) type SharedText = Mutex<TextState>;

fn lock(t: &SharedText) -> Result<std::sync::MutexGuard<'_, TextState>> {
    t.lock().map_err(|_| AppError::Internal("text lock".into()))
}

/// Local (China) time of an instant.
pub fn local_time(at: Millis) -> NaiveDateTime {
    chrono::DateTime::from_timestamp_millis(at)
        .unwrap_or_default()
        .with_timezone(&cst())
        .naive_local()
}

fn utc_millis(local: NaiveDateTime) -> Option<Millis> {
    cst()
        .from_local_datetime(&local)
        .single()
        .map(|d| d.timestamp_millis())
}

fn gazetteer_level(l: Level) -> u8 {
    match l {
        Level::Province | Level::City => 0,
        Level::County => 1,
        Level::Town => 2,
        Level::Village => 3,
        Level::Grid => 4,
    }
}

/// Fills the fields a submission left empty from the analysis; returns their names.
pub fn fill_in(input: &mut CaseInput, a: &Analysis, now: Millis) -> Vec<String> {
    let mut filled = Vec::new();
    if input.dispute_type.is_none() {
        input.dispute_type = Some(a.dispute_type.best);
        filled.push("dispute_type".into());
    }
    if input.risk_level.is_none() {
        input.risk_level = Some(a.risk.level);
        filled.push("risk_level".into());
    }
    if input.amount_fen.is_none() {
        if let Some(f) = a.main_amount_fen() {
            input.amount_fen = Some(f);
            filled.push("amount_fen".into());
        }
    }
    if input.people_involved.is_none() {
        if let Some(h) = &a.headcount {
            input.people_involved = Some(h.count);
            filled.push("people_involved".into());
        }
    }
    if input.occurred_at.is_none() {
        if let Some(t) = a
            .occurred()
            .and_then(|t| utc_millis(t.start))
            .filter(|t| *t <= now)
        {
            input.occurred_at = Some(t);
            filled.push("occurred_at".into());
        }
    }
    if input.complexity.is_none() {
        let ty = input.dispute_type.unwrap_or(DisputeType::Other);
        let complex = input.risk_level == Some(RiskLevel::High)
            || input.people_involved.is_some_and(|n| n >= 10)
            || input.amount_fen.is_some_and(|f| f >= 10_000_000)
            || matches!(ty, DisputeType::LandRequisition | DisputeType::Medical);
        input.complexity = Some(if complex {
            Complexity::Complex
        } else {
            Complexity::Simple
        });
        filled.push("complexity".into());
    }
    filled
}

impl App {
    /// The text reader of this deployment (its jurisdictions, its classifier), built once.
    pub async fn analyzer(&self) -> Result<Arc<Analyzer>> {
        if let Some(a) = lock(&self.text)?.analyzer.clone() {
            return Ok(a);
        }
        let mut entries = Vec::new();
        let mut queue: VecDeque<Option<String>> = VecDeque::from([None]);
        while let Some(parent) = queue.pop_front() {
            for j in self.store.list_jurisdictions(parent.as_deref()).await? {
                let Jurisdiction {
                    code,
                    name,
                    level,
                    path,
                    ..
                } = j;
                if level != Level::Grid {
                    queue.push_back(Some(code.clone()));
                }
                entries.push(GazetteerEntry {
                    code,
                    name,
                    path,
                    level: gazetteer_level(level),
                });
            }
        }
        let model = match self.store.get_setting(MODEL_SETTING).await? {
            Some(json) => TypeModel::from_json(&json)
                .map_err(|e| AppError::Internal(format!("classifier: {e}")))?,
            None => TypeModel::builtin(),
        };
        let a = Arc::new(Analyzer::new(Gazetteer::new(entries), model));
        lock(&self.text)?.analyzer = Some(a.clone());
        Ok(a)
    }

    /// Forgets the reader (after the jurisdictions or the classifier changed).
    pub fn reset_analyzer(&self) {
        if let Ok(mut t) = self.text.lock() {
            t.analyzer = None;
        }
    }

    /// Reads a text as if reported now (the staff's "analyse" tool).
    pub async fn analyze_text(&self, text: &str, reported_at: Option<Millis>) -> Result<Analysis> {
        let a = self.analyzer().await?;
        a.analyze(text, local_time(reported_at.unwrap_or_else(|| self.now())))
            .map_err(|e| fengqiao_domain::DomainError::validation("text", e.code()).into())
    }

    /// Fingerprints of the last [`DUP_WINDOW_DAYS`] days, refreshed from the store (so cases
    /// registered by other server instances are seen too).
    async fn recent_fingerprints(&self, now: Millis) -> Result<Vec<(i64, Fingerprint)>> {
        let since = now - DUP_WINDOW_DAYS * DAY_MS;
        let mut after = lock(&self.text)?.last_id;
        loop {
            let rows = self.store.fingerprints(after, since, 2_000).await?;
            if rows.is_empty() {
                break;
            }
            let mut t = lock(&self.text)?;
            for r in &rows {
                after = after.max(r.case_id);
                if r.case_id <= t.last_id {
                    continue;
                }
                if let Ok(f) = serde_json::from_str::<Fingerprint>(&r.fingerprint) {
                    t.recent.push_back((r.case_id, r.registered_at, f));
                }
                t.last_id = r.case_id;
            }
        }
        let mut t = lock(&self.text)?;
        while t.recent.front().is_some_and(|(_, at, _)| *at < since) {
            t.recent.pop_front();
        }
        Ok(t.recent.iter().map(|(id, _, f)| (*id, f.clone())).collect())
    }

    /// After a case is registered: store its analysis and fingerprint, find duplicates, link
    /// the sure ones. Failures are logged, never lost cases: the case is already accepted.
    pub(crate) async fn after_registration(
        &self,
        case: &StoredCase,
        analysis: Analysis,
        filled: Vec<String>,
    ) -> bool {
        match self.record_analysis(case, analysis, filled).await {
            Ok(linked) => linked,
            Err(e) => {
                tracing::warn!(case = case.id, error = %e, "case analysis not stored");
                false
            }
        }
    }

    async fn record_analysis(
        &self,
        case: &StoredCase,
        analysis: Analysis,
        filled: Vec<String>,
    ) -> Result<bool> {
        let s = &case.state;
        let fp = Fingerprint::of(&s.text, &analysis, Some(&s.location.node_code));
        let earlier = self.recent_fingerprints(s.registered_at).await?;
        let duplicates = dedup::candidates(
            &fp,
            earlier
                .iter()
                .filter(|(id, _)| *id != case.id)
                .map(|(id, f)| (*id, f)),
            5,
        );
        let mut auto_linked = Vec::new();
        for d in duplicates.iter().filter(|d| d.score >= dedup::AUTO_LINK) {
            let reason = format!("duplicate {:.2}: {}", d.score, d.reasons.join(", "));
            let sys = Actor::system();
            let link = |other: i64| Command::Link {
                case_id: other,
                reason: reason.clone(),
            };
            self.act(&sys, case.id, &link(d.case_id)).await?;
            self.act(&sys, d.case_id, &link(case.id)).await?;
            auto_linked.push(d.case_id);
        }
        let linked = !auto_linked.is_empty();
        self.store_analysis(case, analysis, filled, duplicates, auto_linked, &fp)
            .await?;
        let mut t = lock(&self.text)?;
        // Pushed even when a later case was cached first (two intakes racing).
        if !t
            .recent
            .iter()
            .rev()
            .take(64)
            .any(|(id, _, _)| *id == case.id)
        {
            t.recent.push_back((case.id, s.registered_at, fp));
        }
        t.last_id = t.last_id.max(case.id);
        Ok(linked)
    }

    async fn store_analysis(
        &self,
        case: &StoredCase,
        analysis: Analysis,
        filled: Vec<String>,
        duplicates: Vec<DupCandidate>,
        auto_linked: Vec<i64>,
        fp: &Fingerprint,
    ) -> Result<()> {
        let row = self.analysis_row(case, analysis, filled, duplicates, auto_linked, fp)?;
        self.store.put_analyses(&[row]).await?;
        Ok(())
    }

    fn analysis_row(
        &self,
        case: &StoredCase,
        analysis: Analysis,
        filled: Vec<String>,
        duplicates: Vec<DupCandidate>,
        auto_linked: Vec<i64>,
        fp: &Fingerprint,
    ) -> Result<StoredAnalysis> {
        let now = self.now();
        let record = CaseAnalysis {
            analyser_version: analysis.version.clone(),
            analysed_at: now,
            analysis,
            filled,
            duplicates,
            auto_linked,
        };
        let json = |v: &dyn erased::Json| v.json();
        Ok(StoredAnalysis {
            case_id: case.id,
            analyser_version: record.analyser_version.clone(),
            analysed_at: now,
            registered_at: case.state.registered_at,
            analysis: json(&record)?,
            fingerprint: json(fp)?,
        })
    }

    /// The stored analysis of a case the actor may see.
    pub async fn case_analysis(&self, actor: &Actor, id: i64) -> Result<Option<CaseAnalysis>> {
        self.load_visible(actor, id).await?;
        match self.store.get_analysis(id).await? {
            Some(row) => Ok(Some(serde_json::from_str(&row.analysis).map_err(|e| {
                AppError::Internal(format!("stored analysis of case {id}: {e}"))
            })?)),
            None => Ok(None),
        }
    }

    /// Analyses cases that have no analysis, or one by an older reader (`all`: every case),
    /// in id order, `batch` at a time. Duplicates are searched among the cases before each.
    /// Returns the number analysed.
    pub async fn analyze_cases(&self, all: bool, batch: u32) -> Result<u64> {
        let analyzer = self.analyzer().await?;
        let version = fengqiao_text::ANALYSER_VERSION;
        let mut after = 0;
        let mut done = 0;
        let mut window: VecDeque<(i64, Millis, Fingerprint)> = VecDeque::new();
        loop {
            let page = self.store.cases_after(after, batch).await?;
            if page.is_empty() {
                break;
            }
            let mut rows = Vec::new();
            for case in &page {
                after = case.id;
                let s = &case.state;
                let existing = self.store.get_analysis(case.id).await?;
                let analysis = analyzer
                    .analyze(&s.text, local_time(s.registered_at))
                    .map_err(|e| AppError::Internal(e.to_string()))?;
                let fp = Fingerprint::of(&s.text, &analysis, Some(&s.location.node_code));
                while window
                    .front()
                    .is_some_and(|(_, at, _)| *at < s.registered_at - DUP_WINDOW_DAYS * DAY_MS)
                {
                    window.pop_front();
                }
                let keep = match &existing {
                    Some(e) => !all && e.analyser_version == version,
                    None => false,
                };
                if !keep {
                    let prior: Option<CaseAnalysis> =
                        existing.and_then(|e| serde_json::from_str(&e.analysis).ok());
                    let duplicates =
                        dedup::candidates(&fp, window.iter().map(|(id, _, f)| (*id, f)), 5);
                    let (filled, auto_linked) =
                        prior.map(|p| (p.filled, p.auto_linked)).unwrap_or_default();
                    rows.push(self.analysis_row(
                        case,
                        analysis,
                        filled,
                        duplicates,
                        auto_linked,
                        &fp,
                    )?);
                    done += 1;
                }
                window.push_back((case.id, s.registered_at, fp));
            }
            self.store.put_analyses(&rows).await?;
        }
        // The duplicate cache is rebuilt from the store on next use.
        if let Ok(mut t) = self.text.lock() {
            t.recent.clear();
            t.last_id = 0;
        }
        Ok(done)
    }

    /// Retrains the classifier on the cases staff have confirmed (handled past registration),
    /// stores it, and makes it the one in use. Returns the number of training texts.
    pub async fn train_classifier(&self) -> Result<usize> {
        let mut texts: Vec<(String, DisputeType)> = Vec::new();
        let mut after = 0;
        loop {
            let page = self.store.confirmed_cases(after, 2_000).await?;
            if page.is_empty() {
                break;
            }
            for c in page {
                after = c.id;
                texts.push((c.state.text, c.state.dispute_type));
            }
        }
        if texts.is_empty() {
            return Err(AppError::NotFound("confirmed case"));
        }
        let model = TypeModel::train(
            texts.iter().map(|(t, ty)| (t.as_str(), *ty)),
            &format!("{} confirmed cases", texts.len()),
        )
        .map_err(|e| AppError::Internal(e.to_string()))?;
        self.store
            .put_setting(MODEL_SETTING, &model.to_json())
            .await?;
        self.reset_analyzer();
        Ok(texts.len())
    }

    /// Whether the actor may see both cases (for linking by hand).
    pub async fn may_link(&self, actor: &Actor, a: i64, b: i64) -> Result<bool> {
        let x = self.store.get_case(a).await?;
        let y = self.store.get_case(b).await?;
        Ok(
            matches!((x, y), (Some(x), Some(y)) if can_view(actor, &x.state) && can_view(actor, &y.state)),
        )
    }
}

mod erased {
    use crate::{AppError, Result};
    pub trait Json {
        fn json(&self) -> Result<String>;
    }
    impl<T: serde::Serialize> Json for T {
        fn json(&self) -> Result<String> {
            serde_json::to_string(self).map_err(|e| AppError::Internal(e.to_string()))
        }
    }
}
