//! `/exports`: asking for a case list with unmasked personal numbers (with a purpose), the
//! second person's approval or rejection, and the one download (`export::unmasked_xlsx`).
use crate::admin::form;
use crate::i18n::Tr;
use crate::session::Web;
use crate::staff::to_login;
use crate::view::{error_message, error_page, fmt_ms, render};
use askama::Template;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use fengqiao_app::{App, AppError};
use fengqiao_domain::export::{self, ExportStatus};
use fengqiao_domain::DomainError;
use serde::Deserialize;
use std::sync::Arc;

pub struct RequestRow {
    pub id: i64,
    pub requested_by: String,
    pub requested_at: String,
    pub filter: String,
    pub purpose: String,
    pub status: String,
    pub decided_by: String,
    /// The current user may approve or reject it.
    pub decidable: bool,
    /// The current user may download it now.
    pub downloadable: bool,
}

#[derive(Template)]
#[template(path = "exports.html")]
pub struct ExportsPage {
    pub t: Tr,
    pub signed_in: bool,
    pub csrf: String,
    pub filter: String,
    pub can_request: bool,
    pub rows: Vec<RequestRow>,
    pub error: String,
    pub notice: String,
}

#[derive(Deserialize)]
pub struct ExportsQuery {
    #[serde(default)]
    filter: String,
    #[serde(default)]
    sent: Option<String>,
    #[serde(default)]
    decided: Option<String>,
}

pub async fn page(
    State(app): State<Arc<App>>,
    t: Tr,
    web: Web,
    Query(q): Query<ExportsQuery>,
) -> Response {
    let notice = match (q.sent.is_some(), q.decided.is_some()) {
        (true, _) => t.s("unmasked.sent").to_string(),
        (_, true) => t.s("unmasked.decided").to_string(),
        _ => String::new(),
    };
    show(&app, t, &web, q.filter, String::new(), notice).await
}

async fn show(
    app: &App,
    t: Tr,
    web: &Web,
    filter: String,
    error: String,
    notice: String,
) -> Response {
    let Some((s, _)) = &web.session else {
        return to_login("/exports");
    };
    let requests = match app.export_requests(&s.actor).await {
        Ok(r) => r,
        Err(e) => return error_page(t, &e, true, web.csrf()),
    };
    let now = app.now();
    let name = |id: Option<i64>| {
        let store = app.store.clone();
        async move {
            match id {
                Some(id) => store
                    .get_user(id)
                    .await
                    .ok()
                    .flatten()
                    .map(|u| u.display_name)
                    .unwrap_or_else(|| id.to_string()),
                None => String::new(),
            }
        }
    };
    let mut rows = Vec::with_capacity(requests.len());
    for r in &requests {
        rows.push(RequestRow {
            id: r.id,
            requested_by: name(Some(r.requested_by)).await,
            requested_at: fmt_ms(r.requested_at),
            filter: r.filter.clone(),
            purpose: r.purpose.clone(),
            status: t.label("export_status", r.status.as_str()),
            decided_by: name(r.decided_by).await,
            decidable: export::check_decision(&s.actor, r).is_ok(),
            downloadable: export::check_download(&s.actor, r, now).is_ok(),
        });
    }
    let page = ExportsPage {
        t,
        signed_in: true,
        csrf: web.csrf(),
        filter,
        can_request: export::check_request(&s.actor, "····").is_ok(),
        rows,
        error: error.clone(),
        notice,
    };
    if error.is_empty() {
        render(&page)
    } else {
        (StatusCode::UNPROCESSABLE_ENTITY, render(&page)).into_response()
    }
}

pub async fn request(State(app): State<Arc<App>>, t: Tr, web: Web, body: Bytes) -> Response {
    let (s, f) = match form(t, &web, "/exports", &body) {
        Ok(x) => x,
        Err(r) => return *r,
    };
    let filter = f.get("filter").to_string();
    match app
        .request_unmasked_export(&s.actor, &filter, f.get("purpose"))
        .await
    {
        Ok(_) => Redirect::to("/exports?sent=1").into_response(),
        Err(e @ AppError::Domain(DomainError::Forbidden)) => error_page(t, &e, true, web.csrf()),
        Err(e) => show(&app, t, &web, filter, error_message(&t, &e), String::new()).await,
    }
}

pub async fn decide(
    State(app): State<Arc<App>>,
    t: Tr,
    web: Web,
    Path(id): Path<i64>,
    body: Bytes,
) -> Response {
    let (s, f) = match form(t, &web, "/exports", &body) {
        Ok(x) => x,
        Err(r) => return *r,
    };
    let approve = f.get("decision") == "approve";
    match app.decide_unmasked_export(&s.actor, id, approve).await {
        Ok(r) if r.status == ExportStatus::Approved || r.status == ExportStatus::Rejected => {
            Redirect::to("/exports?decided=1").into_response()
        }
        Ok(_) => Redirect::to("/exports").into_response(),
        Err(e) => error_page(t, &e, true, web.csrf()),
    }
}
