//! Full-text search over cases through `fengqiao-search`. The index is a projection: every case
//! change the app writes reaches it within [`FEED_EVERY`], `reindex` rebuilds it from the
//! database, and every hit is checked again against what the searcher may see.

use std::sync::{Arc, OnceLock};
use std::time::Duration;

use fengqiao_domain::access::{can_view, Actor, Role};
use fengqiao_domain::case::{DisputeType, Outcome, Status};
use fengqiao_domain::unit::UnitKind;
use fengqiao_domain::validate::mask_numbers_in_text;
use fengqiao_domain::DomainError;
use fengqiao_search::{CaseDoc, Nearness, Scope, SearchIndex, SearchQuery, SimilarQuery};
use fengqiao_store::StoredCase;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::{App, AppError, Result};

/// How often changed cases are written to the index (changes are searchable within this).
pub const FEED_EVERY: Duration = Duration::from_millis(250);
/// Most hits a page.
pub const MAX_LIMIT: usize = 100;

/// The index and the queue of changed cases feeding it.
#[derive(Default)]
pub(crate) struct Search {
    index: OnceLock<Arc<SearchIndex>>,
    changes: OnceLock<tokio::sync::mpsc::UnboundedSender<Vec<i64>>>,
}

/// A search as the API takes it.
#[derive(Debug, Clone, Default, Deserialize, IntoParams, ToSchema)]
pub struct CaseSearch {
    /// Words (Chinese or other), or a tracking code. Empty: the newest cases.
    #[serde(default)]
    pub q: String,
    pub dispute_type: Option<DisputeType>,
    pub status: Option<Status>,
    /// Only cases at or under this jurisdiction (code).
    pub node_code: Option<String>,
    pub limit: Option<usize>,
    pub offset: Option<usize>,
}

/// One hit: the case's id and code, type, status, and the passage of its text that matched
/// (`highlights` are byte ranges of `snippet`).
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct SearchHit {
    pub id: i64,
    pub tracking_code: String,
    pub dispute_type: DisputeType,
    pub status: Status,
    pub registered_at: i64,
    pub score: f32,
    pub snippet: String,
    pub highlights: Vec<[usize; 2]>,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct SearchResult {
    /// Cases matching in the searcher's scope.
    pub total: usize,
    pub hits: Vec<SearchHit>,
}

/// A resolved case like another: how it was settled and why it is offered.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct SimilarCase {
    pub id: i64,
    pub tracking_code: String,
    pub dispute_type: DisputeType,
    /// Where it happened (the jurisdiction's name).
    pub place: String,
    /// Who mediated it: the lead unit's kind and name.
    pub unit_kind: Option<UnitKind>,
    pub unit_name: Option<String>,
    /// Mediation sessions held, and whether any was online.
    pub sessions: usize,
    pub online: bool,
    /// The agreement's opening words (numbers masked).
    pub agreement_gist: String,
    /// Calendar days from registration to conclusion.
    pub duration_days: Option<i64>,
    pub score: f32,
    /// Why: the telling words both texts have, the same type, the same place or area.
    pub shared_words: Vec<String>,
    pub same_type: bool,
    /// `same_place`, `same_area` or `elsewhere`.
    pub nearness: String,
}

/// Characters of an agreement shown as its gist.
pub const GIST_CHARS: usize = 80;

/// What the index holds of a case: its text, the names, places and outcome words, with phone
/// and ID-card numbers masked (they never enter the index).
pub fn case_doc(c: &StoredCase) -> CaseDoc {
    let s = &c.state;
    let mut elements: Vec<&str> = Vec::new();
    for p in &s.parties {
        elements.push(&p.name);
        if let Some(a) = &p.address {
            elements.push(a);
        }
    }
    if let Some(a) = &s.location.address {
        elements.push(a);
    }
    if let Some(t) = &s.subtype {
        elements.push(t);
    }
    let mut outcome: Vec<&str> = Vec::new();
    match &s.outcome {
        Some(Outcome::Agreement { agreement }) => outcome.push(agreement),
        Some(Outcome::NoAgreement { note, .. }) | Some(Outcome::Withdrawn { note }) => {
            outcome.push(note)
        }
        None => {}
    }
    if let Some(f) = &s.feedback {
        outcome.push(f);
    }
    let mut unit_ids: Vec<i64> = s
        .lead_unit_id
        .into_iter()
        .chain(s.co_unit_ids.iter().copied())
        .collect();
    unit_ids.sort_unstable();
    unit_ids.dedup();
    CaseDoc {
        id: c.id,
        tracking_code: s.tracking_code.clone(),
        text: mask_numbers_in_text(&s.text),
        elements: mask_numbers_in_text(&elements.join(" ")),
        outcome: mask_numbers_in_text(&outcome.join(" ")),
        outcome_kind: s
            .outcome
            .as_ref()
            .map(|o| o.as_str().to_string())
            .unwrap_or_default(),
        dispute_type: s.dispute_type.as_str().to_string(),
        status: s.status.as_str().to_string(),
        channel: s.channel.as_str().to_string(),
        node_path: s.location.node_path.clone(),
        unit_ids,
        registered_at: s.registered_at,
    }
}

pub(crate) fn search_error(e: fengqiao_search::SearchError) -> AppError {
    AppError::Internal(format!("{} ({})", e, e.code()))
}

/// Runs index work on a blocking thread.
pub(crate) async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> fengqiao_search::Result<T> + Send + 'static,
) -> Result<T> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| AppError::Internal(e.to_string()))?
        .map_err(search_error)
}

impl App {
    /// Attaches a search index and starts feeding it the cases the app changes. Call once,
    /// inside a Tokio runtime; later calls change nothing.
    pub fn attach_search(self: &Arc<Self>, index: Arc<SearchIndex>) {
        if self.search.index.set(Arc::clone(&index)).is_err() {
            return;
        }
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<Vec<i64>>();
        let _ = self.search.changes.set(tx);
        let app = Arc::downgrade(self);
        tokio::spawn(async move {
            while let Some(first) = rx.recv().await {
                // Whatever else changed within the interval goes in the same commit.
                tokio::time::sleep(FEED_EVERY).await;
                let mut ids = first;
                while let Ok(more) = rx.try_recv() {
                    ids.extend(more);
                }
                let Some(app) = app.upgrade() else { break };
                if let Err(e) = app.index_cases(&index, ids).await {
                    // The next `reindex` (or the start's catch-up) repairs it.
                    tracing::warn!(error = %e, "cases not indexed");
                }
            }
        });
    }

    /// The attached index, if any.
    pub fn search_index(&self) -> Option<&Arc<SearchIndex>> {
        self.search.index.get()
    }

    /// Queues changed cases for the index (nothing without one).
    pub(crate) fn cases_changed(&self, ids: Vec<i64>) {
        if ids.is_empty() {
            return;
        }
        if let Some(tx) = self.search.changes.get() {
            let _ = tx.send(ids);
        }
    }

    async fn index_cases(&self, index: &Arc<SearchIndex>, mut ids: Vec<i64>) -> Result<()> {
        ids.sort_unstable();
        ids.dedup();
        for chunk in ids.chunks(2_000) {
            let docs: Vec<CaseDoc> = self
                .store
                .get_cases(chunk)
                .await?
                .iter()
                .map(case_doc)
                .collect();
            let index = Arc::clone(index);
            blocking(move || index.upsert(&docs)).await?;
        }
        let index = Arc::clone(index);
        blocking(move || index.commit()).await
    }

    /// Rebuilds the index from every case in the database; returns the number indexed.
    pub async fn reindex(&self) -> Result<u64> {
        let index = Arc::clone(
            self.search_index()
                .ok_or_else(|| AppError::Internal("no search index attached".into()))?,
        );
        index.clear().map_err(search_error)?;
        let mut after = 0;
        let mut done = 0u64;
        // The next page is read from the database while the last one is being indexed.
        let mut indexing: Option<tokio::task::JoinHandle<Result<()>>> = None;
        loop {
            let page = self.store.cases_after(after, 5_000).await?;
            let Some(last) = page.last() else { break };
            after = last.id;
            done += page.len() as u64;
            if let Some(previous) = indexing.take() {
                previous
                    .await
                    .map_err(|e| AppError::Internal(e.to_string()))??;
            }
            let ix = Arc::clone(&index);
            indexing = Some(tokio::spawn(blocking(move || {
                let docs: Vec<CaseDoc> = page.iter().map(case_doc).collect();
                ix.upsert(&docs)
            })));
        }
        if let Some(previous) = indexing {
            previous
                .await
                .map_err(|e| AppError::Internal(e.to_string()))??;
        }
        let ix = Arc::clone(&index);
        blocking(move || ix.commit()).await?;
        Ok(done)
    }

    /// Cases by id, as the database has them now.
    async fn cases_by_id(&self, ids: &[i64]) -> Result<std::collections::HashMap<i64, StoredCase>> {
        Ok(self
            .store
            .get_cases(ids)
            .await?
            .into_iter()
            .map(|c| (c.id, c))
            .collect())
    }

    /// The actor's scope as the index filters it.
    fn index_scope(actor: &Actor) -> Scope {
        if actor.is_system() {
            Scope::Everything
        } else {
            Scope::Within {
                path: actor.scope_path.clone(),
                unit_id: actor.unit_id,
            }
        }
    }

    /// The resolved cases (ended by an agreement) most like case `id`, among those the actor
    /// may see, best first.
    pub async fn similar_cases(
        &self,
        actor: &Actor,
        id: i64,
        limit: usize,
    ) -> Result<Vec<SimilarCase>> {
        if actor.role == Role::Citizen {
            return Err(DomainError::Forbidden.into());
        }
        let case = self.load_visible(actor, id).await?;
        let index = Arc::clone(
            self.search_index()
                .ok_or_else(|| AppError::Internal("no search index attached".into()))?,
        );
        let s = &case.state;
        let mut exclude = vec![id];
        exclude.extend(s.merged_into);
        exclude.extend(s.linked_case_ids.iter().copied());
        let limit = limit.clamp(1, 20);
        let query = SimilarQuery {
            text: mask_numbers_in_text(&s.text),
            dispute_type: Some(s.dispute_type.as_str().to_string()),
            node_path: s.location.node_path.clone(),
            outcome_kind: Some("agreement".into()),
            exclude,
            scope: Self::index_scope(actor),
            // Some may be hidden from the actor by the check below.
            limit: limit + 5,
        };
        let hits = blocking(move || index.similar(&query)).await?;
        let cases = self
            .cases_by_id(&hits.iter().map(|h| h.id).collect::<Vec<_>>())
            .await?;
        let mut out = Vec::with_capacity(limit);
        let mut units: std::collections::HashMap<i64, Option<fengqiao_domain::unit::Unit>> =
            std::collections::HashMap::new();
        for h in hits {
            let Some(c) = cases.get(&h.id).filter(|c| can_view(actor, &c.state)) else {
                continue;
            };
            let Some(Outcome::Agreement { agreement }) = &c.state.outcome else {
                continue;
            };
            let st = &c.state;
            // Several of the cases often share their lead unit: read each unit once.
            let unit = match st.lead_unit_id {
                Some(u) => match units.get(&u) {
                    Some(known) => known.clone(),
                    None => {
                        let got = self.store.get_unit(u).await?;
                        units.insert(u, got.clone());
                        got
                    }
                },
                None => None,
            };
            let place_code = st
                .location
                .node_path
                .trim_end_matches('/')
                .rsplit('/')
                .next()
                .unwrap_or_default()
                .to_string();
            out.push(SimilarCase {
                id: c.id,
                tracking_code: st.tracking_code.clone(),
                dispute_type: st.dispute_type,
                place: self.node_name(&place_code).await,
                unit_kind: unit.as_ref().map(|u| u.kind),
                unit_name: unit.map(|u| u.name),
                sessions: st.sessions.len(),
                online: st.sessions.iter().any(|m| m.online),
                agreement_gist: gist(&mask_numbers_in_text(agreement), GIST_CHARS),
                duration_days: st
                    .concluded_at
                    .map(|t| (t - st.registered_at).div_euclid(86_400_000)),
                score: h.score,
                shared_words: h.shared_words,
                same_type: h.same_type,
                nearness: match h.nearness {
                    Nearness::SamePlace => "same_place",
                    Nearness::SameArea => "same_area",
                    Nearness::Elsewhere => "elsewhere",
                }
                .to_string(),
            });
            if out.len() == limit {
                break;
            }
        }
        Ok(out)
    }

    /// Full-text search over the cases the actor may see.
    /// Experts, who see only the cases they were added to, do not search (the index filters by
    /// area, and its counts would tell them about the others).
    pub async fn search_cases(&self, actor: &Actor, q: &CaseSearch) -> Result<SearchResult> {
        if matches!(actor.role, Role::Citizen | Role::Expert) {
            return Err(DomainError::Forbidden.into());
        }
        let index = self
            .search_index()
            .ok_or_else(|| AppError::Internal("no search index attached".into()))?;
        let place_path = match &q.node_code {
            Some(code) => Some(self.node_path(code).await?),
            None => None,
        };
        let query = SearchQuery {
            text: q.q.chars().take(200).collect(),
            dispute_type: q.dispute_type.map(|t| t.as_str().to_string()),
            status: q.status.map(|s| s.as_str().to_string()),
            channel: None,
            place_path,
            scope: Self::index_scope(actor),
            limit: q.limit.unwrap_or(20).clamp(1, MAX_LIMIT),
            offset: q.offset.unwrap_or(0).min(10_000),
        };
        let ix = Arc::clone(index);
        let page = blocking(move || ix.search(&query)).await?;
        // The hits as the database has them now, and only those the actor may see.
        let cases = self
            .cases_by_id(&page.hits.iter().map(|h| h.id).collect::<Vec<_>>())
            .await?;
        let hits = page
            .hits
            .into_iter()
            .filter_map(|h| {
                let c = cases.get(&h.id).filter(|c| can_view(actor, &c.state))?;
                Some(SearchHit {
                    id: h.id,
                    tracking_code: c.state.tracking_code.clone(),
                    dispute_type: c.state.dispute_type,
                    status: c.state.status,
                    registered_at: c.state.registered_at,
                    score: h.score,
                    snippet: h.snippet.fragment,
                    highlights: h
                        .snippet
                        .highlights
                        .iter()
                        .map(|r| [r.start, r.end])
                        .collect(),
                })
            })
            .collect();
        Ok(SearchResult {
            total: page.total,
            hits,
        })
    }
}

/// The first `n` characters of a text, with an ellipsis when cut.
pub fn gist(text: &str, n: usize) -> String {
    let mut out: String = text.chars().take(n).collect();
    if text.chars().count() > n {
        out.push('…');
    }
    out
}
