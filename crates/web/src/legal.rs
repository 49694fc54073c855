//! A case's similar resolved cases and legal basis (fragments the case page loads with htmx),
//! and the 以案释法 sheet of a resolved case: `/cases/{id}/explainer` (HTML) and
//! `/cases/{id}/explainer.pdf` (typeset by Typst).

use crate::i18n::Tr;
use crate::poster::pdf_response;
use crate::session::Web;
use crate::staff::to_login;
use crate::view::{error_page, render};
use askama::Template;
use axum::extract::{Path, State};
use axum::response::Response;
use fengqiao_app::laws::{BasisSource, CaseExplainer, LegalBasis};
use fengqiao_app::search::SimilarCase;
use fengqiao_app::App;
use fengqiao_pdf::Document;
use std::sync::Arc;

const TEMPLATE: &str = include_str!("../typst/explainer.typ");

pub struct SimilarRow {
    id: i64,
    tracking_code: String,
    dispute_type: String,
    place: String,
    unit: String,
    sessions: usize,
    online: bool,
    days: String,
    agreement: String,
    why: String,
}

#[derive(Template)]
#[template(path = "similar.html")]
struct SimilarFragment {
    t: Tr,
    rows: Vec<SimilarRow>,
    error: String,
}

fn why(t: &Tr, c: &SimilarCase) -> String {
    let mut parts = Vec::new();
    if c.same_type {
        parts.push(t.s("similar.same_type").to_string());
    }
    match c.nearness.as_str() {
        "same_place" => parts.push(t.s("similar.same_place").to_string()),
        "same_area" => parts.push(t.s("similar.same_area").to_string()),
        _ => {}
    }
    if !c.shared_words.is_empty() {
        parts.push(format!(
            "{}：{}",
            t.s("similar.words"),
            c.shared_words.join("、")
        ));
    }
    parts.join(" · ")
}

/// `GET /cases/{id}/similar`: the resolved cases most like this one.
pub async fn similar(
    State(app): State<Arc<App>>,
    t: Tr,
    web: Web,
    Path(id): Path<i64>,
) -> Response {
    let Some((s, _)) = &web.session else {
        return to_login(&format!("/cases/{id}"));
    };
    let mut page = SimilarFragment {
        t,
        rows: Vec::new(),
        error: String::new(),
    };
    match app.similar_cases(&s.actor, id, 5).await {
        Ok(cases) => {
            page.rows = cases
                .iter()
                .map(|c| SimilarRow {
                    id: c.id,
                    tracking_code: c.tracking_code.clone(),
                    dispute_type: t.label("type", c.dispute_type.as_str()),
                    place: c.place.clone(),
                    unit: match (&c.unit_name, c.unit_kind) {
                        (Some(n), _) => n.clone(),
                        (None, Some(k)) => t.label("unit_kind", k.as_str()),
                        _ => String::new(),
                    },
                    sessions: c.sessions,
                    online: c.online,
                    days: c.duration_days.map(|d| d.to_string()).unwrap_or_default(),
                    agreement: c.agreement_gist.clone(),
                    why: why(&t, c),
                })
                .collect()
        }
        Err(e) => {
            tracing::warn!(error = %e, "similar cases");
            page.error = t.s("similar.unavailable").to_string();
        }
    }
    render(&page)
}

pub struct ArticleRow {
    citation: String,
    text: String,
    summary: String,
    key: bool,
    words: String,
}

fn rows(b: &LegalBasis) -> Vec<ArticleRow> {
    b.articles
        .iter()
        .map(|a| ArticleRow {
            citation: format!("《{}》{}", a.law, a.label),
            text: a.text.clone().unwrap_or_default(),
            summary: a.summary.clone().unwrap_or_default(),
            key: a.key_provision,
            words: a.shared_words.join("、"),
        })
        .collect()
}

#[derive(Template)]
#[template(path = "basis.html")]
struct BasisFragment {
    t: Tr,
    id: i64,
    curated: bool,
    articles: Vec<ArticleRow>,
    resolved: bool,
    error: String,
}

/// `GET /cases/{id}/basis`: the articles that apply to the case.
pub async fn basis(State(app): State<Arc<App>>, t: Tr, web: Web, Path(id): Path<i64>) -> Response {
    let Some((s, _)) = &web.session else {
        return to_login(&format!("/cases/{id}"));
    };
    let mut page = BasisFragment {
        t,
        id,
        curated: false,
        articles: Vec::new(),
        resolved: false,
        error: String::new(),
    };
    match app.legal_basis(&s.actor, id).await {
        Ok(b) => {
            page.curated = b.source == BasisSource::Curated;
            page.articles = rows(&b);
            page.resolved = app
                .load_visible(&s.actor, id)
                .await
                .map(|c| {
                    matches!(
                        c.state.outcome,
                        Some(fengqiao_domain::case::Outcome::Agreement { .. })
                    )
                })
                .unwrap_or(false);
        }
        Err(e) => {
            tracing::warn!(error = %e, "legal basis");
            page.error = t.s("basis.unavailable").to_string();
        }
    }
    render(&page)
}

#[derive(Template)]
#[template(path = "explainer.html")]
struct ExplainerPage {
    t: Tr,
    id: i64,
    x: CaseExplainer,
    dispute_type: String,
    unit: String,
    days: String,
    curated: bool,
    articles: Vec<ArticleRow>,
    signed_in: bool,
    csrf: String,
}

/// `GET /cases/{id}/explainer`.
pub async fn explainer_page(
    State(app): State<Arc<App>>,
    t: Tr,
    web: Web,
    Path(id): Path<i64>,
) -> Response {
    explainer(&app, t, &web, id, false).await
}

/// `GET /cases/{id}/explainer.pdf`.
pub async fn explainer_pdf(
    State(app): State<Arc<App>>,
    t: Tr,
    web: Web,
    Path(id): Path<i64>,
) -> Response {
    explainer(&app, t, &web, id, true).await
}

async fn explainer(app: &App, t: Tr, web: &Web, id: i64, pdf: bool) -> Response {
    let Some((s, _)) = &web.session else {
        return to_login(&format!("/cases/{id}/explainer"));
    };
    let x = match app.case_explainer(&s.actor, id).await {
        Ok(x) => x,
        Err(e) => return error_page(t, &e, true, web.csrf()),
    };
    let unit = x
        .unit_kind
        .map(|k| t.label("unit_kind", k.as_str()))
        .unwrap_or_default();
    let days = x.duration_days.map(|d| d.to_string()).unwrap_or_default();
    let dispute_type = t.label("type", x.dispute_type.as_str());
    let articles = rows(&x.basis);
    if !pdf {
        return render(&ExplainerPage {
            t,
            id,
            curated: x.basis.source == BasisSource::Curated,
            x,
            dispute_type,
            unit,
            days,
            articles,
            signed_in: true,
            csrf: web.csrf(),
        });
    }
    let data = serde_json::json!({
        "lang": if t.lang == crate::i18n::Lang::En { "en" } else { "zh" },
        "title": t.s("explainer.title"),
        "subtitle": format!("{} · {}", dispute_type, t.s("explainer.subtitle")),
        "meta": format!("{}：{}　{}：{}　{}：{}　{}：{}　{}：{}",
            t.s("explainer.area"), x.area,
            t.s("explainer.month"), x.month,
            t.s("explainer.unit"), unit,
            t.s("explainer.sessions"), x.sessions,
            t.s("explainer.days"), days),
        "h_facts": t.s("explainer.facts"),
        "facts": x.facts,
        "h_result": t.s("explainer.result"),
        "agreement": x.agreement,
        "h_law": t.s("explainer.law"),
        "articles": articles.iter().map(|a| serde_json::json!({
            "citation": a.citation,
            "text": if a.text.is_empty() { format!("（{}）{}", t.s("explainer.summary"), a.summary) } else { a.text.clone() },
        })).collect::<Vec<_>>(),
        "h_meaning": t.s("explainer.meaning"),
        "meaning": t.s("explainer.meaning_text"),
        "footer": format!("{} · {}", t.s("explainer.anonymised"), x.tracking_code),
    });
    let doc = Document::new(TEMPLATE).json("data.json", &data);
    pdf_response(doc, format!("explainer-{id}.pdf"), String::new()).await
}
