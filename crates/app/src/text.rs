//! Reading case texts on arrival: the elements filled in for a person to confirm, the
//! analysis stored with the reader's version, duplicate candidates (high-confidence ones linked
//! automatically), and the type classifier (built in, or retrained on confirmed cases).

use crate::cases::CaseInput;
use crate::{App, AppError, Result};
use chrono::{NaiveDateTime, TimeZone};
use fengqiao_domain::access::{can_view, Actor};
use fengqiao_domain::case::{CaseState, Complexity, DisputeType, RiskLevel};
use fengqiao_domain::jurisdiction::{Jurisdiction, Level};
use fengqiao_domain::time::{cst, Millis};
use fengqiao_domain::workflow::Command;
use fengqiao_store::seal::Sealer;
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
    /// The candidate linked automatically (the best one, when its score is ≥ 0.8).
    pub auto_linked: Vec<i64>,
}

/// `f` over `items` on every core (blocking threads); the results in order.
pub(crate) async fn on_every_core<T, R, F>(items: Vec<T>, f: F) -> Result<Vec<R>>
where
    T: Send + 'static,
    R: Send + 'static,
    F: Fn(T) -> R + Send + Sync + 'static,
{
    let f = Arc::new(f);
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let per = items.len().div_ceil(cores).max(1);
    let mut parts = tokio::task::JoinSet::new();
    let mut items = items;
    let mut k = 0;
    while !items.is_empty() {
        let rest = items.split_off(per.min(items.len()));
        let part = std::mem::replace(&mut items, rest);
        let f = Arc::clone(&f);
        let i = k;
        parts.spawn_blocking(move || (i, part.into_iter().map(|t| f(t)).collect::<Vec<R>>()));
        k += 1;
    }
    let mut done: Vec<(usize, Vec<R>)> = Vec::with_capacity(k);
    while let Some(j) = parts.join_next().await {
        done.push(j.map_err(|e| AppError::Internal(format!("work on every core: {e}")))?);
    }
    done.sort_by_key(|(i, _)| *i);
    Ok(done.into_iter().flat_map(|(_, v)| v).collect())
}

/// What intake tells the submitter about the text just registered.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct IntakeReading {
    pub filled: Vec<String>,
    pub duplicates: Vec<DupCandidate>,
    /// The best candidate was linked automatically.
    pub linked: bool,
    /// The background reader has the case: duplicates follow in its stored analysis.
    pub pending: bool,
}

impl IntakeReading {
    fn pending(filled: Vec<String>) -> IntakeReading {
        IntakeReading {
            filled,
            pending: true,
            ..Default::default()
        }
    }
}

#[derive(Default)]
pub(crate) struct TextState {
    analyzer: Option<Arc<Analyzer>>,
    /// Bumped by every reset: a reader built from older reference data is not kept.
    generation: u64,
    /// The highest case id whose fingerprint was read from the store.
    last_id: i64,
}

/// The reader, and the index of recent fingerprints (read in parallel, written briefly).
#[derive(Default)]
pub(crate) struct SharedText {
    state: Mutex<TextState>,
    /// An async lock: a waiting intake yields its worker thread instead of blocking it.
    index: Arc<tokio::sync::RwLock<dedup::Index>>,
    /// The background reader, when running: intake hands it the cases just registered.
    queue: std::sync::OnceLock<tokio::sync::mpsc::Sender<ReadJob>>,
    /// Held while the reader is built, so concurrent first requests build it once.
    building: tokio::sync::Mutex<()>,
}

/// A registered case waiting for its duplicate search and stored analysis.
pub(crate) struct ReadJob {
    case: StoredCase,
    analysis: Analysis,
    filled: Vec<String>,
}

/// A registered case with its duplicate candidates, waiting for its links and stored analysis.
pub(crate) struct Found {
    job: ReadJob,
    fp: Fingerprint,
    duplicates: Vec<DupCandidate>,
}

impl ReadJob {
    pub(crate) fn new(case: StoredCase, analysis: Analysis, filled: Vec<String>) -> Self {
        ReadJob {
            case,
            analysis,
            filled,
        }
    }
}

impl SharedText {
    fn lock(&self) -> Result<std::sync::MutexGuard<'_, TextState>> {
        self.state
            .lock()
            .map_err(|_| AppError::Internal("text lock".into()))
    }
    async fn read(&self) -> tokio::sync::RwLockReadGuard<'_, dedup::Index> {
        self.index.read().await
    }
    async fn write(&self) -> tokio::sync::RwLockWriteGuard<'_, dedup::Index> {
        self.index.write().await
    }
    /// The index locked for writing, the guard movable to other threads.
    async fn write_owned(&self) -> tokio::sync::OwnedRwLockWriteGuard<dedup::Index> {
        Arc::clone(&self.index).write_owned().await
    }
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
/// A case's fingerprint for the duplicate search: its text, place, and the parties its fields
/// name. The place is compared at village level (12-digit codes): a grid worker's report
/// names the grid, another system the village.
fn fingerprint(s: &CaseState, a: &Analysis, sealer: &Sealer) -> Fingerprint {
    let code = &s.location.node_code;
    let village = code.get(..12).filter(|_| code.len() > 12).unwrap_or(code);
    // The day it happened (else the day it was reported), China time.
    let day = s
        .occurred_at
        .unwrap_or(s.registered_at)
        .saturating_add(8 * 3_600_000)
        .div_euclid(DAY_MS);
    Fingerprint::of(&s.text, a, Some(village))
        .on_day(Some(day))
        .with_parties(
            s.parties.iter().map(|p| p.name.as_str()),
            // Numbers enter the fingerprint as their blind index: a stored fingerprint does
            // not give them back.
            s.parties.iter().flat_map(|p| {
                p.phone
                    .as_ref()
                    .map(|x| x.as_str())
                    .into_iter()
                    .chain(p.id_number.as_ref().map(|x| x.as_str()))
                    .map(|n| sealer.blind(n))
            }),
        )
}

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
        if let Some(a) = self.text.lock()?.analyzer.clone() {
            return Ok(a);
        }
        let _building = self.text.building.lock().await;
        let generation = {
            let t = self.text.lock()?;
            if let Some(a) = t.analyzer.clone() {
                return Ok(a);
            }
            t.generation
        };
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
        let mut t = self.text.lock()?;
        if t.generation == generation {
            t.analyzer = Some(a.clone());
        }
        Ok(a)
    }

    /// Forgets the reader (after the jurisdictions or the classifier changed).
    pub fn reset_analyzer(&self) {
        if let Ok(mut t) = self.text.lock() {
            t.analyzer = None;
            t.generation += 1;
        }
    }

    /// Reads a text as if reported now (the staff's "analyse" tool).
    pub async fn analyze_text(&self, text: &str, reported_at: Option<Millis>) -> Result<Analysis> {
        let a = self.analyzer().await?;
        a.analyze(text, local_time(reported_at.unwrap_or_else(|| self.now())))
            .map_err(|e| fengqiao_domain::DomainError::validation("text", e.code()).into())
    }

    /// Brings the index up to date with the store (cases registered by other server
    /// instances) and forgets cases older than the window.
    async fn refresh_index(&self, now: Millis) -> Result<()> {
        let since = now - DUP_WINDOW_DAYS * DAY_MS;
        let mut after = self.text.lock()?.last_id;
        loop {
            let rows = self.store.fingerprints(after, since, 2_000).await?;
            if rows.is_empty() {
                break;
            }
            let fresh: Vec<(i64, Millis, Fingerprint)> = {
                let index = self.text.read().await;
                rows.iter()
                    .filter(|r| !index.contains(r.case_id))
                    .filter_map(|r| {
                        serde_json::from_str::<Fingerprint>(&r.fingerprint)
                            .ok()
                            .map(|f| (r.case_id, r.registered_at, f))
                    })
                    .collect()
            };
            after = rows.iter().map(|r| r.case_id).max().unwrap_or(after);
            if !fresh.is_empty() {
                let mut index = self.text.write().await;
                for (id, at, f) in fresh {
                    index.insert(id, at, f);
                }
            }
            let mut t = self.text.lock()?;
            t.last_id = t.last_id.max(after);
        }
        if self.text.read().await.oldest().is_some_and(|at| at < since) {
            self.text.write().await.expire(since);
        }
        Ok(())
    }

    #[allow(clippy::too_many_arguments)]
    fn analysis_row(
        &self,
        case_id: i64,
        registered_at: Millis,
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
            case_id,
            analyser_version: record.analyser_version.clone(),
            analysed_at: now,
            registered_at,
            analysis: json(&record)?,
            fingerprint: json(fp)?,
        })
    }

    /// Starts the background reader: from now on intake registers a case with the elements
    /// filled in and returns, and the reader stores the analysis, searches duplicates and links
    /// the sure one, a batch at a time (one write for the batch). Without it (library use),
    /// intake does all of that itself before answering. Idempotent.
    pub fn spawn_text_reader(self: &Arc<Self>) {
        // Bounded: when the reader falls behind, intake waits for room (back-pressure).
        let (tx, mut rx) = tokio::sync::mpsc::channel::<ReadJob>(4_096);
        if self.text.queue.set(tx).is_err() {
            return;
        }
        let app = Arc::downgrade(self);
        // Build the reader now rather than on the first submission.
        let warm = app.clone();
        tokio::spawn(async move {
            if let Some(app) = warm.upgrade() {
                if let Err(e) = app.analyzer().await {
                    tracing::warn!(error = %e, "text reader not built at start");
                }
            }
        });
        tokio::spawn(async move {
            while let Some(first) = rx.recv().await {
                let mut jobs = vec![first];
                while jobs.len() < 256 {
                    match rx.try_recv() {
                        Ok(j) => jobs.push(j),
                        Err(_) => break,
                    }
                }
                let Some(app) = app.upgrade() else { break };
                let n = jobs.len();
                if let Err(e) = app.read_batch(jobs).await {
                    tracing::warn!(error = %e, cases = n, "case analyses not stored; `fengqiao analyze` fills them in");
                }
            }
        });
    }

    /// Hands a registered case to the background reader, or reads it now when none runs.
    pub(crate) async fn after_registration(
        &self,
        case: &StoredCase,
        analysis: Analysis,
        filled: Vec<String>,
    ) -> IntakeReading {
        let job = ReadJob {
            case: case.clone(),
            analysis,
            filled: filled.clone(),
        };
        if let Some(q) = self.text.queue.get() {
            if let Err(e) = q.send(job).await {
                // The reader stopped: read here.
                return match self.read_batch(vec![e.0]).await {
                    Ok(mut r) => r.pop().unwrap_or_default(),
                    Err(_) => IntakeReading::pending(filled),
                };
            }
            return IntakeReading::pending(filled);
        }
        match self.read_batch(vec![job]).await {
            Ok(mut r) => r.pop().unwrap_or_else(|| IntakeReading::pending(filled)),
            Err(e) => {
                tracing::warn!(case = case.id, error = %e, "case analysis not stored");
                IntakeReading::pending(filled)
            }
        }
    }

    /// Duplicates, auto-links and stored analyses for registered cases in id order.
    pub(crate) async fn read_batch(&self, jobs: Vec<ReadJob>) -> Result<Vec<IntakeReading>> {
        let found = self.search_batch(jobs).await?;
        self.link_and_store(found).await
    }

    /// The duplicate candidates of registered cases, in id order; their fingerprints join
    /// the index (later cases, of this batch or the next, see them).
    pub(crate) async fn search_batch(&self, jobs: Vec<ReadJob>) -> Result<Vec<Found>> {
        let latest = jobs
            .iter()
            .map(|j| j.case.state.registered_at)
            .max()
            .unwrap_or(0);
        self.refresh_index(latest).await?;
        // Fingerprints, and the comparisons with the cases before the batch, on every core;
        // then the batch's cases with each other, in order (later cases see earlier ones).
        // The index stays locked throughout: a concurrent batch sees this one whole.
        let store = self.store.clone();
        let read = on_every_core(jobs, move |j: ReadJob| {
            let fp = fingerprint(&j.case.state, &j.analysis, store.sealer());
            (j, fp)
        })
        .await?;
        // The comparisons with the cases before the batch on every core, the index locked
        // for writing throughout (shared read-only with the workers meanwhile).
        let index = Arc::new(self.text.write_owned().await);
        let shared = Arc::clone(&index);
        let (jobs, fps): (Vec<ReadJob>, Vec<Fingerprint>) = read.into_iter().unzip();
        let ids: Vec<(i64, Millis)> = jobs
            .iter()
            .map(|j| (j.case.id, j.case.state.registered_at))
            .collect();
        let before = on_every_core(fps.into_iter().zip(ids).collect(), move |(fp, (id, at))| {
            let found = shared.candidates(&fp, id, at - DUP_WINDOW_DAYS * DAY_MS, at, 5);
            (fp, found)
        })
        .await?;
        let mut index = Arc::try_unwrap(index)
            .map_err(|_| AppError::Internal("duplicate index still shared".into()))?;
        let window = |s: &CaseState| (s.registered_at - DUP_WINDOW_DAYS * DAY_MS, s.registered_at);
        let mut batch = dedup::Index::default();
        let mut found = Vec::with_capacity(jobs.len());
        for (job, (fp, earlier)) in jobs.into_iter().zip(before) {
            let s = &job.case.state;
            let (from, to) = window(s);
            let mut all = batch.candidates(&fp, job.case.id, from, to, 5);
            all.extend(earlier);
            batch.insert(job.case.id, s.registered_at, fp.clone());
            found.push(Found {
                job,
                fp,
                duplicates: dedup::best(all, 5),
            });
        }
        for f in &found {
            index.insert(f.job.case.id, f.job.case.state.registered_at, f.fp.clone());
        }
        Ok(found)
    }

    /// Links searched cases to their best sure duplicates (both sides of every link in one
    /// write), then stores their analyses (one write). Failed links are logged, never lost
    /// cases: the cases are already stored.
    pub(crate) async fn link_and_store(&self, found: Vec<Found>) -> Result<Vec<IntakeReading>> {
        // The best sure candidate only: a flood of identical submissions links as a chain, not
        // every case to every other.
        let mut cmds = Vec::new();
        let mut link_at = Vec::with_capacity(found.len());
        for Found {
            job: j, duplicates, ..
        } in &found
        {
            let best = duplicates.first().filter(|d| d.score >= dedup::AUTO_LINK);
            link_at.push(best.map(|_| cmds.len()));
            if let Some(d) = best {
                let reason = format!("duplicate {:.2}: {}", d.score, d.reasons.join(", "));
                let link = |case_id| Command::Link {
                    case_id,
                    reason: reason.clone(),
                };
                cmds.push((j.case.id, link(d.case_id)));
                cmds.push((d.case_id, link(j.case.id)));
            }
        }
        let answers = self.act_many(&Actor::system(), &cmds).await;
        let mut rows = Vec::with_capacity(found.len());
        let mut out = Vec::with_capacity(found.len());
        for (
            Found {
                job: j,
                fp,
                duplicates,
            },
            at,
        ) in found.into_iter().zip(link_at)
        {
            let linked = at.is_some_and(|i| match (&answers[i], &answers[i + 1]) {
                (Ok(()), Ok(())) => true,
                (Err(e), _) | (_, Err(e)) => {
                    tracing::warn!(case = j.case.id, error = %e, "duplicate not linked");
                    false
                }
            });
            let auto_linked = match duplicates.first() {
                Some(d) if linked => vec![d.case_id],
                _ => Vec::new(),
            };
            let s = &j.case.state;
            rows.push(self.analysis_row(
                j.case.id,
                s.registered_at,
                j.analysis,
                j.filled.clone(),
                duplicates.clone(),
                auto_linked,
                &fp,
            )?);
            out.push(IntakeReading {
                filled: j.filled,
                duplicates,
                linked,
                pending: false,
            });
        }
        self.store.put_analyses(&rows).await?;
        Ok(out)
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

    /// Reads a case's text again after it changed (a source record re-sent with new text):
    /// the stored analysis and fingerprint are replaced; what intake filled in, the duplicate
    /// candidates and links found at registration are kept.
    pub(crate) async fn reread_case(&self, id: i64) -> Result<()> {
        let Some(case) = self.store.get_case(id).await? else {
            return Err(AppError::NotFound("case"));
        };
        let s = &case.state;
        let analysis = self
            .analyzer()
            .await?
            .analyze(&s.text, local_time(s.registered_at))
            .map_err(|e| AppError::Internal(e.to_string()))?;
        let fp = fingerprint(s, &analysis, self.store.sealer());
        let prior: Option<CaseAnalysis> = self
            .store
            .get_analysis(id)
            .await?
            .and_then(|e| serde_json::from_str(&e.analysis).ok());
        let (filled, duplicates, auto_linked) = prior
            .map(|p| (p.filled, p.duplicates, p.auto_linked))
            .unwrap_or_default();
        let row = self.analysis_row(
            id,
            s.registered_at,
            analysis,
            filled,
            duplicates,
            auto_linked,
            &fp,
        )?;
        self.store.put_analyses(&[row]).await?;
        Ok(())
    }

    /// Analyses cases that have no analysis, or one by an older reader (`all`: every case),
    /// in id order, `batch` at a time. Duplicates are searched among the cases before each.
    /// Returns the number analysed.
    pub async fn analyze_cases(&self, all: bool, batch: u32) -> Result<u64> {
        let analyzer = self.analyzer().await?;
        let version = fengqiao_text::ANALYSER_VERSION;
        let mut after = 0;
        let mut done = 0;
        // Every case's fingerprint (ids need not follow time: generated histories are written
        // in batches); each case is compared with the cases of the 30 days before it only.
        let mut index = dedup::Index::default();
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
                let fp = fingerprint(s, &analysis, self.store.sealer());
                let keep = match &existing {
                    Some(e) => !all && e.analyser_version == version,
                    None => false,
                };
                if !keep {
                    let prior: Option<CaseAnalysis> =
                        existing.and_then(|e| serde_json::from_str(&e.analysis).ok());
                    let from = s.registered_at - DUP_WINDOW_DAYS * DAY_MS;
                    let duplicates = index.candidates(&fp, case.id, from, s.registered_at, 5);
                    let (filled, auto_linked) =
                        prior.map(|p| (p.filled, p.auto_linked)).unwrap_or_default();
                    rows.push(self.analysis_row(
                        case.id,
                        s.registered_at,
                        analysis,
                        filled,
                        duplicates,
                        auto_linked,
                        &fp,
                    )?);
                    done += 1;
                }
                index.insert(case.id, s.registered_at, fp);
            }
            self.store.put_analyses(&rows).await?;
        }
        // The duplicate cache is rebuilt from the store on next use.
        *self.text.write().await = dedup::Index::default();
        if let Ok(mut t) = self.text.state.lock() {
            t.last_id = 0;
        }
        Ok(done)
    }

    /// Reads the cases registered since `since` that have no stored analysis (the ones a
    /// crash caught in the background reader's queue). Cheap at start-up: only recent cases
    /// are loaded. Returns the number read.
    pub async fn analyze_recent(&self, since: Millis) -> Result<u64> {
        let analyzer = self.analyzer().await?;
        let mut filter = fengqiao_store::CaseFilter {
            visibility: fengqiao_store::Visibility {
                scope_path: Some("/".into()),
                ..Default::default()
            },
            registered_from: Some(since),
            limit: 500,
            ..Default::default()
        };
        let mut jobs = Vec::new();
        loop {
            let page = self.store.list_cases(&filter).await?;
            for case in page.items {
                if self.store.get_analysis(case.id).await?.is_none() {
                    let s = &case.state;
                    let analysis = analyzer
                        .analyze(&s.text, local_time(s.registered_at))
                        .map_err(|e| AppError::Internal(e.to_string()))?;
                    jobs.push(ReadJob {
                        case,
                        analysis,
                        filled: Vec::new(),
                    });
                }
            }
            match page.next_before_id {
                Some(b) => filter.before_id = Some(b),
                None => break,
            }
        }
        jobs.sort_by_key(|j| j.case.id);
        let n = jobs.len() as u64;
        if !jobs.is_empty() {
            self.read_batch(jobs).await?;
        }
        Ok(n)
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

impl App {
    /// The case's escalation-risk grade now, with its reasons (`domain::risk`): the text's cues
    /// as confirmed by staff, headcount, amount, reopening, the light, and history — other
    /// disputes of the same party (same phone, ID number or full name) among the village's cases
    /// of the last 90 days and the reader's duplicate candidates sharing a party, the party's
    /// earlier petitions among those, and the village's other disputes of this type.
    pub async fn case_risk(
        &self,
        actor: &Actor,
        id: i64,
    ) -> Result<fengqiao_domain::risk::RiskAssessment> {
        use fengqiao_domain::case::{Channel, Light, Party, Status};
        let case = self.load_visible(actor, id).await?;
        let s = &case.state;
        let since = self.now() - 90 * 86_400_000;
        let mut others = self
            .store
            .list_cases(&fengqiao_store::CaseFilter {
                visibility: fengqiao_store::Visibility {
                    scope_path: Some(s.location.node_path.clone()),
                    ..Default::default()
                },
                registered_from: Some(since),
                limit: 500,
                ..Default::default()
            })
            .await?
            .items;
        others.retain(|o| o.id != id && o.state.status != Status::Merged);
        let place_cases = others
            .iter()
            .filter(|o| o.state.dispute_type == s.dispute_type)
            .count() as u32;
        // Candidates the reader found across the county that share a party.
        if let Some(a) = self.case_analysis(&Actor::system(), id).await? {
            for d in a
                .duplicates
                .iter()
                .filter(|d| d.reasons.iter().any(|r| r == "same_parties"))
            {
                if others.iter().any(|o| o.id == d.case_id) {
                    continue;
                }
                if let Some(o) = self.store.get_case(d.case_id).await? {
                    if o.state.status != Status::Merged {
                        others.push(o);
                    }
                }
            }
        }
        let same = |a: &Party, b: &Party| {
            (a.phone.is_some() && a.phone == b.phone)
                || (a.id_number.is_some() && a.id_number == b.id_number)
                || (a.name.chars().count() >= 2 && !a.name.contains('某') && a.name == b.name)
        };
        let party_cases: Vec<_> = others
            .iter()
            .filter(|o| {
                o.state
                    .parties
                    .iter()
                    .any(|p| s.parties.iter().any(|q| same(q, p)))
            })
            .collect();
        let inputs = fengqiao_domain::risk::RiskInputs {
            text_level: Some(s.risk_level),
            people_involved: s.people_involved,
            amount_fen: s.amount_fen,
            party_cases: party_cases.len() as u32,
            party_petitions: party_cases
                .iter()
                .filter(|o| o.state.channel == Channel::Petition)
                .count() as u32,
            place_cases,
            reopened: s.reopen_count > 0,
            overdue: s.light == Light::Red,
        };
        Ok(fengqiao_domain::risk::assess(&inputs))
    }
}
