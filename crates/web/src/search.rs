//! The search page: words and filters in, the cases the user may see out, each with the
//! passage that matched highlighted.

use crate::i18n::Tr;
use crate::session::Web;
use crate::staff::{choices, to_login, Choice};
use crate::view::render;
use askama::Template;
use axum::extract::{Query, State};
use axum::response::Response;
use fengqiao_app::search::{CaseSearch, SearchHit};
use fengqiao_app::App;
use fengqiao_domain::case::{DisputeType, Status};
use serde::Deserialize;
use std::sync::Arc;

#[derive(Debug, Default, Deserialize)]
pub struct SearchParams {
    #[serde(default)]
    q: String,
    #[serde(default)]
    dispute_type: String,
    #[serde(default)]
    status: String,
}

pub struct HitRow {
    id: i64,
    tracking_code: String,
    dispute_type: String,
    status: String,
    registered: String,
    /// The snippet in pieces: (text, matched).
    parts: Vec<(String, bool)>,
}

#[derive(Template)]
#[template(path = "search.html")]
struct SearchPage {
    t: Tr,
    q: String,
    types: Vec<Choice>,
    statuses: Vec<Choice>,
    searched: bool,
    total: usize,
    hits: Vec<HitRow>,
    error: String,
    signed_in: bool,
    csrf: String,
}

/// The snippet cut at its highlights.
fn parts(h: &SearchHit) -> Vec<(String, bool)> {
    let s = &h.snippet;
    let mut out = Vec::new();
    let mut at = 0;
    for [from, to] in &h.highlights {
        let (from, to) = (*from, *to);
        if from < at || to > s.len() || !s.is_char_boundary(from) || !s.is_char_boundary(to) {
            continue;
        }
        if from > at {
            out.push((s[at..from].to_string(), false));
        }
        out.push((s[from..to].to_string(), true));
        at = to;
    }
    if at < s.len() {
        out.push((s[at..].to_string(), false));
    }
    out
}

/// `GET /search?q=&dispute_type=&status=`.
pub async fn page(
    State(app): State<Arc<App>>,
    t: Tr,
    web: Web,
    Query(p): Query<SearchParams>,
) -> Response {
    let Some((s, _)) = &web.session else {
        return to_login("/search");
    };
    let searched = !p.q.trim().is_empty() || !p.dispute_type.is_empty() || !p.status.is_empty();
    let mut page = SearchPage {
        t,
        q: p.q.clone(),
        types: choices(
            &t,
            "type",
            DisputeType::ALL,
            DisputeType::as_str,
            &p.dispute_type,
        ),
        statuses: choices(&t, "status", Status::ALL, Status::as_str, &p.status),
        searched,
        total: 0,
        hits: Vec::new(),
        error: String::new(),
        signed_in: true,
        csrf: web.csrf(),
    };
    if searched {
        let q = CaseSearch {
            q: p.q.clone(),
            dispute_type: DisputeType::ALL
                .iter()
                .copied()
                .find(|d| d.as_str() == p.dispute_type),
            status: Status::ALL.iter().copied().find(|d| d.as_str() == p.status),
            node_code: None,
            limit: Some(50),
            offset: None,
        };
        match app.search_cases(&s.actor, &q).await {
            Ok(r) => {
                page.total = r.total;
                page.hits = r
                    .hits
                    .iter()
                    .map(|h| HitRow {
                        id: h.id,
                        tracking_code: h.tracking_code.clone(),
                        dispute_type: t.label("type", h.dispute_type.as_str()),
                        status: t.label("status", h.status.as_str()),
                        registered: fengqiao_domain::time::local_date(h.registered_at).to_string(),
                        parts: parts(h),
                    })
                    .collect();
            }
            Err(e) => {
                tracing::warn!(error = %e, "search failed");
                page.error = t.s("search.unavailable").to_string();
            }
        }
    }
    render(&page)
}
