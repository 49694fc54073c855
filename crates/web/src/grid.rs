//! The grid worker's phone pages: a quick patrol report located by the phone's geolocation
//! (snapped to the nearest village or grid of the worker's area), and the worker's reports.
use crate::i18n::Tr;
use crate::session::Web;
use crate::staff::{expired_login, Fields};
use crate::view::{render, CaseRow};
use askama::Template;
use axum::body::Bytes;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Json, Redirect, Response};
use fengqiao_app::cases::{new_tracking_code, CaseInput, CaseQuery};
use fengqiao_app::App;
use fengqiao_domain::case::{Channel, DisputeType};
use fengqiao_domain::jurisdiction::{Jurisdiction, Level};
use serde::Deserialize;
use std::sync::Arc;

pub struct NodeChoice {
    pub code: String,
    pub name: String,
    pub selected: bool,
}

#[derive(Template)]
#[template(path = "grid_form.html")]
pub struct GridForm {
    pub t: Tr,
    pub nodes: Vec<NodeChoice>,
    pub types: Vec<crate::staff::Choice>,
    pub text: String,
    pub lon: String,
    pub lat: String,
    pub form_key: String,
    pub error: String,
    pub signed_in: bool,
    pub csrf: String,
}

/// Villages and grids of the user's area (the area itself when it is one).
async fn area_nodes(app: &App, scope_code: &str) -> Vec<Jurisdiction> {
    crate::view::subtree(app, scope_code, Level::Grid)
        .await
        .into_iter()
        .filter(|j| matches!(j.level, Level::Village | Level::Grid))
        .collect()
}

pub async fn form_page(app: &App, t: Tr, web: &Web, draft: Fields, error: String) -> Response {
    let Some((s, _)) = &web.session else {
        return Redirect::to("/login?next=/grid/report").into_response();
    };
    let selected = draft.get("node_code").to_string();
    let nodes = area_nodes(app, &s.user.scope_code)
        .await
        .into_iter()
        .map(|j| NodeChoice {
            selected: j.code == selected,
            name: if j.level == Level::Grid {
                format!("　{}", j.name)
            } else {
                j.name
            },
            code: j.code,
        })
        .collect();
    let dtype = draft.get("dispute_type").to_string();
    render(&GridForm {
        t,
        nodes,
        types: crate::staff::choices(&t, "type", DisputeType::ALL, DisputeType::as_str, &dtype),
        text: draft.get("text").to_string(),
        lon: draft.get("lon").to_string(),
        lat: draft.get("lat").to_string(),
        form_key: draft
            .opt("form_key")
            .unwrap_or_else(|| format!("grid-{}", new_tracking_code())),
        error,
        signed_in: true,
        csrf: web.csrf(),
    })
}

pub async fn form(State(app): State<Arc<App>>, t: Tr, web: Web) -> Response {
    form_page(&app, t, &web, Fields(Vec::new()), String::new()).await
}

/// Registers the patrol report; an expired session keeps what was typed (see the login page).
pub async fn submit(State(app): State<Arc<App>>, t: Tr, web: Web, body: Bytes) -> Response {
    let f = Fields::parse(&body);
    let Some((s, _)) = &web.session else {
        return expired_login(t, "/grid/report", &body);
    };
    if !web.csrf_ok(f.get("csrf")) {
        return (StatusCode::FORBIDDEN, t.s("error.csrf").to_string()).into_response();
    }
    let coordinates = match (f.get("lon").parse::<f64>(), f.get("lat").parse::<f64>()) {
        (Ok(lon), Ok(lat)) if lon.is_finite() && lat.is_finite() => Some([lon, lat]),
        _ => None,
    };
    let input = CaseInput {
        channel: Channel::GridWorker,
        text: f.get("text").to_string(),
        parties: Vec::new(),
        dispute_type: DisputeType::parse(f.get("dispute_type")),
        subtype: None,
        node_code: f.get("node_code").to_string(),
        address: None,
        coordinates,
        occurred_at: None,
        complexity: None,
        risk_level: None,
        amount_fen: None,
        people_involved: None,
    };
    match app
        .submit_case(Some(&s.actor), &input, f.opt("form_key").as_deref())
        .await
    {
        Ok((c, _)) => {
            Redirect::to(&format!("/grid/mine?ok={}", c.state.tracking_code)).into_response()
        }
        Err(e) => {
            let msg = crate::view::error_message(&t, &e);
            let page = form_page(&app, t, &web, f, msg).await;
            (StatusCode::BAD_REQUEST, page).into_response()
        }
    }
}

#[derive(Deserialize)]
pub struct Point {
    lon: f64,
    lat: f64,
}

/// The nearest village or grid of the user's area to a point (by centroid).
pub async fn snap(State(app): State<Arc<App>>, web: Web, Query(p): Query<Point>) -> Response {
    let Some((s, _)) = &web.session else {
        return StatusCode::UNAUTHORIZED.into_response();
    };
    let nearest = area_nodes(&app, &s.user.scope_code)
        .await
        .into_iter()
        .filter_map(|j| {
            let [lon, lat] = j.centroid?;
            // Equirectangular distance: fine at village scale.
            let dx = (lon - p.lon) * (p.lat.to_radians().cos());
            let dy = lat - p.lat;
            Some((dx * dx + dy * dy, j))
        })
        .min_by(|a, b| a.0.total_cmp(&b.0));
    match nearest {
        Some((d2, j)) => Json(serde_json::json!({
            "code": j.code,
            "name": j.name,
            "km": (d2.sqrt() * 111.2 * 100.0).round() / 100.0,
        }))
        .into_response(),
        None => StatusCode::NOT_FOUND.into_response(),
    }
}

#[derive(Template)]
#[template(path = "grid_mine.html")]
pub struct MinePage {
    pub t: Tr,
    pub ok: String,
    pub rows: Vec<CaseRow>,
    pub signed_in: bool,
    pub csrf: String,
}

#[derive(Deserialize)]
pub struct OkQuery {
    ok: Option<String>,
}

/// The worker's own reports, newest first, with their progress.
pub async fn mine(
    State(app): State<Arc<App>>,
    t: Tr,
    web: Web,
    Query(q): Query<OkQuery>,
) -> Response {
    let Some((s, _)) = &web.session else {
        return Redirect::to("/login?next=/grid/mine").into_response();
    };
    let query = CaseQuery {
        channel: Some(Channel::GridWorker),
        limit: Some(200),
        ..CaseQuery::default()
    };
    let cases = match app.list_case_states(&s.actor, &query).await {
        Ok((items, _, _)) => items
            .into_iter()
            .filter(|c| c.state.submitted_by == Some(s.actor.user_id))
            .take(50)
            .collect::<Vec<_>>(),
        Err(e) => return crate::view::error_page(t, &e, true, web.csrf()),
    };
    render(&MinePage {
        t,
        ok: q.ok.unwrap_or_default(),
        rows: CaseRow::all(&app, &t, &cases).await,
        signed_in: true,
        csrf: web.csrf(),
    })
}
