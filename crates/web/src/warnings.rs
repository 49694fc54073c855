//! The warnings pages: `/warnings` (live ones by default, `?all=1` for every one), a warning's
//! page with its evidence (the series as an SVG chart, the numbers, the places, the cases) and
//! its log, and the forms to acknowledge, record handling and close it. Supervisors and admins
//! can run the early warning on today's cases so far from the list.
use crate::i18n::Tr;
use crate::session::Web;
use crate::staff::{to_login, Fields};
use crate::view::{error_message, error_page, render};
use askama::Template;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use fengqiao_app::App;
use fengqiao_domain::access::{authorize_warning, Operation};
use fengqiao_domain::time::local_date;
use fengqiao_domain::warning::{Warning, WarningAction};
use serde::Deserialize;
use std::sync::Arc;

#[derive(Debug, Deserialize, Default)]
pub struct ListParams {
    #[serde(default)]
    pub all: Option<String>,
}

pub struct Row {
    pub id: i64,
    pub level: String,
    pub level_label: String,
    pub kind: String,
    pub type_label: String,
    pub area: String,
    pub days: String,
    pub status: String,
    pub status_label: String,
    pub observed: String,
    pub expected: String,
}

fn row(t: &Tr, w: &Warning) -> Row {
    Row {
        id: w.id,
        level: w.level.as_str().into(),
        level_label: t.label("warning_level", w.level.as_str()),
        kind: t.label("warning_kind", w.kind.as_str()),
        type_label: t.label("type", w.dispute_type.as_str()),
        area: w.area_name.clone(),
        days: if w.first_day == w.last_day {
            w.first_day.to_string()
        } else {
            format!("{} – {}", w.first_day, w.last_day)
        },
        status: w.status.as_str().into(),
        status_label: t.label("warning_status", w.status.as_str()),
        observed: format!("{}", w.evidence.observed),
        expected: fengqiao_domain::warning::fmt_expected(w.evidence.expected),
    }
}

#[derive(Template)]
#[template(path = "warnings.html")]
pub struct ListPage {
    pub t: Tr,
    pub rows: Vec<Row>,
    pub all: bool,
    pub can_run: bool,
    pub message: String,
    pub signed_in: bool,
    pub csrf: String,
}

/// `/warnings[?all=1]`.
pub async fn list(
    State(app): State<Arc<App>>,
    t: Tr,
    web: Web,
    Query(p): Query<ListParams>,
) -> Response {
    list_response(&app, t, &web, p.all.is_some(), String::new()).await
}

async fn list_response(app: &App, t: Tr, web: &Web, all: bool, message: String) -> Response {
    let Some((s, _)) = &web.session else {
        return to_login("/warnings");
    };
    match app.list_warnings(&s.actor, !all, 500).await {
        Ok(ws) => render(&ListPage {
            rows: ws.iter().map(|w| row(&t, w)).collect(),
            t,
            all,
            can_run: s.actor.role.permits(Operation::RunWarnings),
            message,
            signed_in: true,
            csrf: web.csrf(),
        }),
        Err(e) => error_page(t, &e, true, web.csrf()),
    }
}

/// `POST /warnings/run`: the early warning for today so far, now.
pub async fn run(State(app): State<Arc<App>>, t: Tr, web: Web, body: Bytes) -> Response {
    let f = Fields::parse(&body);
    let Some((s, _)) = &web.session else {
        return to_login("/warnings");
    };
    if !web.csrf_ok(f.get("csrf")) {
        return (StatusCode::FORBIDDEN, t.s("error.csrf").to_string()).into_response();
    }
    let message = match app.run_warnings_as(&s.actor, None).await {
        Ok(r) => t
            .s("warning.ran")
            .replace("{raised}", &r.raised.to_string())
            .replace("{updated}", &r.updated.to_string())
            .replace("{expired}", &r.expired.to_string()),
        Err(e) => error_message(&t, &e),
    };
    list_response(&app, t, &web, false, message).await
}

pub struct LogRow {
    pub at: String,
    pub who: String,
    pub action: String,
    pub note: String,
}

pub struct SummonsRow {
    pub unit: String,
    pub summoned_at: String,
    pub due_at: String,
    pub responded_at: String,
    pub reply: String,
    pub overdue: bool,
}

#[derive(Template)]
#[template(path = "warning.html")]
pub struct WarningPage {
    pub t: Tr,
    pub w: Warning,
    pub r: Row,
    pub chart: String,
    pub p_value: String,
    pub recurrence: String,
    pub places: Vec<(String, String)>,
    pub units: Vec<String>,
    pub log: Vec<LogRow>,
    /// Actions the reader may take now.
    pub actions: Vec<(String, String)>,
    /// Units summoned (吹哨) and their answers.
    pub summons: Vec<SummonsRow>,
    /// Units the reader may summon (id, name), empty when the reader may not.
    pub summonable: Vec<(i64, String)>,
    /// The reader's unit was summoned and has not answered yet.
    pub can_respond: bool,
    pub cases_link: String,
    pub message: String,
    pub signed_in: bool,
    pub csrf: String,
}

/// The series behind a warning as an SVG chart: bars observed, a line expected.
pub fn chart(w: &Warning) -> String {
    let pts = &w.evidence.series;
    if pts.is_empty() {
        return String::new();
    }
    let (wd, ht, pad) = (560.0, 160.0, 24.0);
    let max = pts
        .iter()
        .map(|p| p.observed.max(p.expected.unwrap_or(0.0)))
        .fold(1.0f64, f64::max);
    let bw = (wd - 2.0 * pad) / pts.len() as f64;
    let y = |v: f64| ht - pad - v / max * (ht - 2.0 * pad);
    let mut svg = format!(
        r##"<svg class="series" viewBox="0 0 {wd} {ht}" role="img" aria-label="{}"><line x1="{pad}" y1="{b}" x2="{r}" y2="{b}" stroke="#999"/>"##,
        w.dispute_type.as_str(),
        b = ht - pad,
        r = wd - pad
    );
    let window_start = pts.len().saturating_sub(w.evidence.window_days as usize);
    for (i, p) in pts.iter().enumerate() {
        let x = pad + i as f64 * bw;
        let fill = if i >= window_start {
            "#c0392b"
        } else {
            "#7f8c8d"
        };
        svg.push_str(&format!(
            r##"<rect x="{:.1}" y="{:.1}" width="{:.1}" height="{:.1}" fill="{fill}"><title>{} {}</title></rect>"##,
            x + 1.0,
            y(p.observed),
            (bw - 2.0).max(1.0),
            (ht - pad - y(p.observed)).max(0.0),
            p.day,
            p.observed
        ));
    }
    let line: Vec<String> = pts
        .iter()
        .enumerate()
        .filter_map(|(i, p)| {
            p.expected
                .map(|e| format!("{:.1},{:.1}", pad + (i as f64 + 0.5) * bw, y(e)))
        })
        .collect();
    if line.len() > 1 {
        svg.push_str(&format!(
            r##"<polyline points="{}" fill="none" stroke="#2471a3" stroke-width="2"/>"##,
            line.join(" ")
        ));
    }
    if let (Some(first), Some(last)) = (pts.first(), pts.last()) {
        svg.push_str(&format!(
            r##"<text x="{pad}" y="{ht}" font-size="11">{}</text><text x="{}" y="{ht}" font-size="11" text-anchor="end">{}</text><text x="{pad}" y="14" font-size="11">{max}</text>"##,
            first.day,
            wd - pad,
            last.day
        ));
    }
    svg.push_str("</svg>");
    svg
}

async fn page_response(
    app: &App,
    t: Tr,
    web: &Web,
    id: i64,
    message: String,
    status: StatusCode,
) -> Response {
    let Some((s, _)) = &web.session else {
        return to_login(&format!("/warnings/{id}"));
    };
    let w = match app.get_warning(&s.actor, id).await {
        Ok(w) => w,
        Err(e) => return error_page(t, &e, true, web.csrf()),
    };
    let mut places = Vec::new();
    for code in &w.evidence.places {
        places.push((code.clone(), app.node_name(code).await));
    }
    let mut units = Vec::new();
    for u in &w.unit_ids {
        if let Ok(Some(unit)) = app.store.get_unit(*u).await {
            units.push(unit.name);
        }
    }
    let mut log = Vec::new();
    for e in &w.log {
        let who = if e.user_id == 0 {
            t.s("warning.system").to_string()
        } else {
            match app.store.get_user(e.user_id).await {
                Ok(Some(u)) => u.display_name,
                _ => e.user_id.to_string(),
            }
        };
        log.push(LogRow {
            at: crate::view::fmt_ms(e.at),
            who,
            action: t.label("warning_action", e.action.as_str()),
            note: e.note.clone(),
        });
    }
    let actions = [
        WarningAction::Acknowledge,
        WarningAction::Handle,
        WarningAction::Close,
    ]
    .into_iter()
    .filter(|a| {
        authorize_warning(&s.actor, *a, &w).is_ok()
            && w.clone().act(*a, s.actor.user_id, "x", 0).is_ok()
    })
    .map(|a| {
        (
            a.as_str().to_string(),
            t.label("warning_action", a.as_str()),
        )
    })
    .collect();
    let now = app.now();
    let mut summons = Vec::new();
    for x in &w.summons {
        let unit = match app.store.get_unit(x.unit_id).await {
            Ok(Some(u)) => u.name,
            _ => x.unit_id.to_string(),
        };
        summons.push(SummonsRow {
            unit,
            summoned_at: crate::view::fmt_ms(x.summoned_at),
            due_at: crate::view::fmt_ms(x.due_at),
            responded_at: x.responded_at.map(crate::view::fmt_ms).unwrap_or_default(),
            reply: x.reply.clone(),
            overdue: x.overdue(now),
        });
    }
    let summonable =
        if authorize_warning(&s.actor, WarningAction::Summon, &w).is_ok() && w.status.is_live() {
            let county = fengqiao_app::warnings::county_path(&w.area_path);
            app.store
                .list_units(&county)
                .await
                .unwrap_or_default()
                .into_iter()
                .map(|u| (u.id, u.name))
                .collect()
        } else {
            Vec::new()
        };
    let can_respond = s.actor.unit_id.is_some_and(|u| {
        w.summons
            .iter()
            .any(|x| x.unit_id == u && x.responded_at.is_none())
    });
    let today = local_date(app.now());
    let from = w.last_day - chrono::Duration::days(i64::from(w.evidence.window_days.max(1)) - 1);
    let node = w.evidence.places.first().cloned().unwrap_or_default();
    let cases_link = format!(
        "/cases?dispute_type={}&node_code={}&from={from}&to={}",
        w.dispute_type.as_str(),
        if w.evidence.places.len() == 1 {
            node
        } else {
            w.area_code.clone()
        },
        w.last_day.min(today)
    );
    let mut resp = render(&WarningPage {
        r: row(&t, &w),
        chart: chart(&w),
        p_value: format!("{:.1e}", w.evidence.p_value),
        recurrence: w
            .evidence
            .recurrence_days
            .map(|d| {
                if d >= 36_500.0 {
                    "> 100 年".to_string()
                } else {
                    format!("{d:.0}")
                }
            })
            .unwrap_or_else(|| "—".into()),
        places,
        units,
        log,
        actions,
        summons,
        summonable,
        can_respond,
        cases_link,
        message,
        t,
        w,
        signed_in: true,
        csrf: web.csrf(),
    });
    *resp.status_mut() = status;
    resp
}

/// `/warnings/{id}`.
pub async fn page(State(app): State<Arc<App>>, t: Tr, web: Web, Path(id): Path<i64>) -> Response {
    page_response(&app, t, &web, id, String::new(), StatusCode::OK).await
}

/// The signed-in user and the fields of a warning form, or the response to give instead.
fn warning_form<'a>(
    t: Tr,
    web: &'a Web,
    id: i64,
    body: &Bytes,
) -> Result<(&'a fengqiao_app::auth::Session, Fields), Box<Response>> {
    let f = Fields::parse(body);
    let Some((s, _)) = &web.session else {
        return Err(Box::new(to_login(&format!("/warnings/{id}"))));
    };
    if !web.csrf_ok(f.get("csrf")) {
        return Err(Box::new(
            (StatusCode::FORBIDDEN, t.s("error.csrf").to_string()).into_response(),
        ));
    }
    Ok((s, f))
}

/// After a warning form: back to the warning, or the page with the refusal.
async fn after_form<T>(
    app: &App,
    t: Tr,
    web: &Web,
    id: i64,
    result: fengqiao_app::Result<T>,
) -> Response {
    match result {
        Ok(_) => Redirect::to(&format!("/warnings/{id}")).into_response(),
        Err(e @ fengqiao_app::AppError::NotFound(_)) => error_page(t, &e, true, web.csrf()),
        Err(e) => {
            let msg = error_message(&t, &e);
            page_response(app, t, web, id, msg, StatusCode::UNPROCESSABLE_ENTITY).await
        }
    }
}

/// `POST /warnings/{id}/act`: `action` = acknowledge | handle | close, `note`.
pub async fn act(
    State(app): State<Arc<App>>,
    t: Tr,
    web: Web,
    Path(id): Path<i64>,
    body: Bytes,
) -> Response {
    let (s, f) = match warning_form(t, &web, id, &body) {
        Ok(x) => x,
        Err(r) => return *r,
    };
    let Some(action) = WarningAction::parse(f.get("action")) else {
        return page_response(
            &app,
            t,
            &web,
            id,
            t.s("warning.bad_action").to_string(),
            StatusCode::UNPROCESSABLE_ENTITY,
        )
        .await;
    };
    let result = app
        .act_on_warning(&s.actor, id, action, f.get("note"))
        .await;
    after_form(&app, t, &web, id, result).await
}

/// `POST /warnings/{id}/summon`: `unit` (repeated) and `hours`.
pub async fn summon(
    State(app): State<Arc<App>>,
    t: Tr,
    web: Web,
    Path(id): Path<i64>,
    body: Bytes,
) -> Response {
    let (s, f) = match warning_form(t, &web, id, &body) {
        Ok(x) => x,
        Err(r) => return *r,
    };
    let units: Vec<i64> = f
        .all_raw("unit")
        .iter()
        .filter_map(|u| u.parse().ok())
        .collect();
    let hours = f.get("hours").parse().unwrap_or(0);
    let result = app.summon_units(&s.actor, id, &units, hours).await;
    after_form(&app, t, &web, id, result).await
}

/// `POST /warnings/{id}/respond`: a summoned unit's answer (`reply`).
pub async fn respond(
    State(app): State<Arc<App>>,
    t: Tr,
    web: Web,
    Path(id): Path<i64>,
    body: Bytes,
) -> Response {
    let (s, f) = match warning_form(t, &web, id, &body) {
        Ok(x) => x,
        Err(r) => return *r,
    };
    let result = app.respond_summons(&s.actor, id, f.get("reply")).await;
    after_form(&app, t, &web, id, result).await
}
