//! Administration pages: jurisdictions, units, users and roles, the working-day calendar and
//! the deadline rules. Every page and form needs the right to manage reference data in the
//! admin's scope; the app checks each change against the node it touches.
use crate::i18n::Tr;
use crate::session::Web;
use crate::staff::{choices, expired_login, to_login, Choice, Fields};
use crate::view::{error_message, error_page, fmt_ms, render, subtree};
use askama::Template;
use axum::body::Bytes;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use fengqiao_app::admin::{CalendarDayInput, JurisdictionInput, UserChange, UserInput};
use fengqiao_app::auth::Session;
use fengqiao_app::{App, AppError};
use fengqiao_domain::access::Role;
use fengqiao_domain::calendar::DayKind;
use fengqiao_domain::case::{Complexity, DisputeType, Stage};
use fengqiao_domain::deadline::{DeadlineRules, RuleOverride};
use fengqiao_domain::indicators::Weights;
use fengqiao_domain::jurisdiction::Level;
use fengqiao_domain::unit::UnitKind;
use fengqiao_domain::DomainError;
use fengqiao_store::NewUnit;
use serde::Deserialize;
use std::sync::Arc;

/// The tabs of the admin pages.
const TABS: [&str; 8] = [
    "jurisdictions",
    "units",
    "users",
    "experts",
    "calendar",
    "rules",
    "outbound",
    "security",
];

/// What every admin page shows around its content.
pub struct Frame {
    pub tab: &'static str,
    pub tabs: [&'static str; 8],
    pub error: String,
    pub saved: bool,
}

#[derive(Deserialize, Default)]
pub struct PageQuery {
    #[serde(default)]
    code: String,
    #[serde(default)]
    year: Option<i32>,
    #[serde(default)]
    saved: Option<u8>,
}

/// The signed-in admin, or the response to give instead (login, or 403).
/// (The refusal is boxed: a response is large.)
pub(crate) fn admin<'a>(
    app: &App,
    t: Tr,
    web: &'a Web,
    path: &str,
) -> Result<&'a Session, Box<Response>> {
    let Some((s, _)) = &web.session else {
        return Err(Box::new(to_login(path)));
    };
    app.require_admin(&s.actor)
        .map_err(|e| Box::new(error_page(t, &e, true, web.csrf())))?;
    Ok(s)
}

pub(crate) fn frame(tab: &'static str, error: String, saved: bool) -> Frame {
    Frame {
        tab,
        tabs: TABS,
        error,
        saved,
    }
}

pub async fn index() -> Redirect {
    Redirect::to("/admin/users")
}

// ---------------------------------------------------------------- jurisdictions

pub struct NodeView {
    pub code: String,
    pub name: String,
    pub level: String,
}

#[derive(Template)]
#[template(path = "admin_jurisdictions.html")]
pub struct JurisdictionsPage {
    pub t: Tr,
    pub signed_in: bool,
    pub csrf: String,
    pub f: Frame,
    pub crumbs: Vec<NodeView>,
    pub node: NodeView,
    pub children: Vec<NodeView>,
    pub child_level: String,
    pub child_code_len: usize,
    pub units: Vec<String>,
    /// The node has a poster of its own (village, community, grid); above, one per village.
    pub own_poster: bool,
}

pub async fn jurisdictions(
    State(app): State<Arc<App>>,
    t: Tr,
    web: Web,
    Query(q): Query<PageQuery>,
) -> Response {
    jurisdictions_page(&app, t, &web, &q.code, String::new(), q.saved.is_some()).await
}

async fn jurisdictions_page(
    app: &App,
    t: Tr,
    web: &Web,
    code: &str,
    error: String,
    saved: bool,
) -> Response {
    let s = match admin(app, t, web, "/admin/jurisdictions") {
        Ok(s) => s,
        Err(r) => return *r,
    };
    let code = if code.is_empty() {
        s.user.scope_code.as_str()
    } else {
        code
    };
    let node = match app.get_jurisdiction(code).await {
        // Only nodes inside the admin's scope.
        Ok(n) if n.path.starts_with(&s.actor.scope_path) => n,
        Ok(_) => return error_page(t, &AppError::NotFound("jurisdiction"), true, web.csrf()),
        Err(e) => return error_page(t, &e, true, web.csrf()),
    };
    let view = |j: &fengqiao_domain::jurisdiction::Jurisdiction| NodeView {
        code: j.code.clone(),
        name: j.name.clone(),
        level: t.s(&format!("level.{}", j.level.as_str())).to_string(),
    };
    let mut crumbs = Vec::new();
    for c in node
        .path
        .split('/')
        .filter(|c| !c.is_empty() && *c != node.code)
    {
        if let Ok(j) = app.get_jurisdiction(c).await {
            if j.path.starts_with(&s.actor.scope_path) {
                crumbs.push(view(&j));
            }
        }
    }
    let children = app
        .list_jurisdictions(Some(&node.code))
        .await
        .unwrap_or_default();
    let units = app
        .list_units(Some(&node.code))
        .await
        .unwrap_or_default()
        .into_iter()
        .filter(|u| u.node_code == node.code)
        .map(|u| format!("{}（{}）", u.name, t.label("unit_kind", u.kind.as_str())))
        .collect();
    let child = node.level.child();
    let page = JurisdictionsPage {
        t,
        signed_in: true,
        csrf: web.csrf(),
        f: frame("jurisdictions", error.clone(), saved),
        crumbs,
        node: view(&node),
        children: children.iter().map(view).collect(),
        own_poster: node.level >= Level::Village,
        child_level: child
            .map(|l| t.s(&format!("level.{}", l.as_str())).to_string())
            .unwrap_or_default(),
        child_code_len: match child {
            Some(Level::Town) => 9,
            Some(Level::Village) => 12,
            Some(Level::Grid) => 15,
            _ => 6,
        },
        units,
    };
    with_status(render(&page), &error)
}

/// 422 when the page shows an error.
fn with_status(page: Response, error: &str) -> Response {
    if error.is_empty() {
        page
    } else {
        (StatusCode::UNPROCESSABLE_ENTITY, page).into_response()
    }
}

/// The form's fields when the session and CSRF token are good; otherwise the response.
pub(crate) fn form<'a>(
    t: Tr,
    web: &'a Web,
    next: &str,
    body: &Bytes,
) -> Result<(&'a Session, Fields), Box<Response>> {
    let Some((s, _)) = &web.session else {
        return Err(Box::new(expired_login(t, next, body)));
    };
    let f = Fields::parse(body);
    if !web.csrf_ok(f.get("csrf")) {
        return Err(Box::new(
            (StatusCode::FORBIDDEN, t.s("error.csrf").to_string()).into_response(),
        ));
    }
    Ok((s, f))
}

fn invalid(field: &'static str) -> AppError {
    DomainError::validation(field, "invalid").into()
}

pub async fn jurisdictions_post(
    State(app): State<Arc<App>>,
    t: Tr,
    web: Web,
    body: Bytes,
) -> Response {
    let (s, f) = match form(t, &web, "/admin/jurisdictions", &body) {
        Ok(x) => x,
        Err(r) => return *r,
    };
    let parent = f.get("parent").to_string();
    let result = match f.get("action") {
        "create" => match app.get_jurisdiction(&parent).await {
            Ok(p) => match p.level.child() {
                Some(level) => app
                    .create_jurisdiction(
                        &s.actor,
                        &JurisdictionInput {
                            code: f.get("code").to_string(),
                            name: f.get("name").to_string(),
                            level,
                            parent_code: Some(p.code.clone()),
                            centroid: None,
                            boundary: None,
                        },
                    )
                    .await
                    .map(|_| ()),
                None => Err(invalid("level")),
            },
            Err(e) => Err(e),
        },
        "rename" => app
            .rename_jurisdiction(&s.actor, &parent, f.get("name"))
            .await
            .map(|_| ()),
        _ => Err(invalid("action")),
    };
    let code: String = form_urlencoded::byte_serialize(parent.as_bytes()).collect();
    match result {
        Ok(()) => {
            Redirect::to(&format!("/admin/jurisdictions?code={code}&saved=1")).into_response()
        }
        Err(e) => jurisdictions_page(&app, t, &web, &parent, error_message(&t, &e), false).await,
    }
}

// ---------------------------------------------------------------- units

pub struct UnitView {
    pub id: i64,
    pub name: String,
    pub kind: String,
    pub place: String,
    pub specialty: String,
    pub members: Vec<Choice>,
}

#[derive(Template)]
#[template(path = "admin_units.html")]
pub struct UnitsPage {
    pub t: Tr,
    pub signed_in: bool,
    pub csrf: String,
    pub f: Frame,
    pub units: Vec<UnitView>,
    pub kinds: Vec<Choice>,
    pub nodes: Vec<Choice>,
}

pub async fn units(
    State(app): State<Arc<App>>,
    t: Tr,
    web: Web,
    Query(q): Query<PageQuery>,
) -> Response {
    units_page(&app, t, &web, String::new(), q.saved.is_some()).await
}

/// The nodes of the admin's scope down to villages, indented, for a select.
pub(crate) async fn node_choices(app: &App, scope_code: &str, selected: &str) -> Vec<Choice> {
    let top = subtree(app, scope_code, Level::Village).await;
    let depth0 = top.first().map(|j| j.level).unwrap_or(Level::County);
    top.into_iter()
        .map(|j| Choice {
            selected: j.code == selected,
            label: format!(
                "{}{}",
                "　".repeat((j.level as usize).saturating_sub(depth0 as usize)),
                j.name
            ),
            code: j.code,
        })
        .collect()
}

async fn units_page(app: &App, t: Tr, web: &Web, error: String, saved: bool) -> Response {
    let s = match admin(app, t, web, "/admin/units") {
        Ok(s) => s,
        Err(r) => return *r,
    };
    let (units, users) = match (
        app.list_units(Some(&s.user.scope_code)).await,
        app.list_users(&s.actor).await,
    ) {
        (Ok(u), Ok(v)) => (u, v),
        (Err(e), _) | (_, Err(e)) => return error_page(t, &e, true, web.csrf()),
    };
    let mut views = Vec::with_capacity(units.len());
    for u in &units {
        views.push(UnitView {
            id: u.id,
            name: u.name.clone(),
            kind: t.label("unit_kind", u.kind.as_str()),
            place: app.node_name(&u.node_code).await,
            specialty: u.specialty.clone().unwrap_or_default(),
            members: users
                .iter()
                .filter(|m| m.unit_id == Some(u.id))
                .map(|m| Choice {
                    code: m.id.to_string(),
                    label: m.display_name.clone(),
                    selected: u.leader_user_id == Some(m.id),
                })
                .collect(),
        });
    }
    let page = UnitsPage {
        t,
        signed_in: true,
        csrf: web.csrf(),
        f: frame("units", error.clone(), saved),
        units: views,
        kinds: choices(&t, "unit_kind", UnitKind::ALL, UnitKind::as_str, ""),
        nodes: node_choices(app, &s.user.scope_code, "").await,
    };
    with_status(render(&page), &error)
}

pub async fn units_post(State(app): State<Arc<App>>, t: Tr, web: Web, body: Bytes) -> Response {
    let (s, f) = match form(t, &web, "/admin/units", &body) {
        Ok(x) => x,
        Err(r) => return *r,
    };
    let result = match f.get("action") {
        "create" => match UnitKind::parse(f.get("kind")) {
            Some(kind) => app
                .create_unit(
                    &s.actor,
                    &NewUnit {
                        name: f.get("name").to_string(),
                        kind,
                        node_code: f.get("node_code").to_string(),
                        specialty: f.opt("specialty"),
                    },
                )
                .await
                .map(|_| ()),
            None => Err(invalid("kind")),
        },
        "leader" => match f.get("unit_id").parse::<i64>() {
            Ok(unit) => app
                .set_unit_leader(&s.actor, unit, f.get("user_id").parse().ok())
                .await
                .map(|_| ()),
            Err(_) => Err(invalid("unit_id")),
        },
        _ => Err(invalid("action")),
    };
    match result {
        Ok(()) => Redirect::to("/admin/units?saved=1").into_response(),
        Err(e) => units_page(&app, t, &web, error_message(&t, &e), false).await,
    }
}

// ---------------------------------------------------------------- users

pub struct UserRow {
    pub id: i64,
    pub username: String,
    pub display_name: String,
    pub role: String,
    pub scope: String,
    pub unit: String,
    pub disabled: bool,
    pub roles: Vec<Choice>,
    pub unit_id: String,
    pub scope_code: String,
    pub second_factor: bool,
    pub must_change_password: bool,
}

#[derive(Template)]
#[template(path = "admin_users.html")]
pub struct UsersPage {
    pub t: Tr,
    pub signed_in: bool,
    pub csrf: String,
    pub f: Frame,
    pub users: Vec<UserRow>,
    pub roles: Vec<Choice>,
    pub units: Vec<Choice>,
    pub nodes: Vec<Choice>,
}

pub async fn users(
    State(app): State<Arc<App>>,
    t: Tr,
    web: Web,
    Query(q): Query<PageQuery>,
) -> Response {
    users_page(&app, t, &web, String::new(), q.saved.is_some()).await
}

/// Roles an admin hands out (citizens register themselves through the public form).
const STAFF_ROLES: [Role; 9] = [
    Role::GridWorker,
    Role::Mediator,
    Role::UnitHandler,
    Role::UnitLeader,
    Role::Dispatcher,
    Role::Supervisor,
    Role::Leader,
    Role::Expert,
    Role::Admin,
];

async fn users_page(app: &App, t: Tr, web: &Web, error: String, saved: bool) -> Response {
    let s = match admin(app, t, web, "/admin/users") {
        Ok(s) => s,
        Err(r) => return *r,
    };
    let (users, units) = match (
        app.list_users(&s.actor).await,
        app.list_units(Some(&s.user.scope_code)).await,
    ) {
        (Ok(u), Ok(v)) => (u, v),
        (Err(e), _) | (_, Err(e)) => return error_page(t, &e, true, web.csrf()),
    };
    let mut rows = Vec::with_capacity(users.len());
    for u in &users {
        rows.push(UserRow {
            id: u.id,
            username: u.username.clone(),
            display_name: u.display_name.clone(),
            role: t.label("role", u.role.as_str()),
            scope: app.node_name(&u.scope_code).await,
            unit: u
                .unit_id
                .and_then(|id| units.iter().find(|x| x.id == id))
                .map(|x| x.name.clone())
                .unwrap_or_default(),
            disabled: u.disabled,
            roles: choices(&t, "role", &STAFF_ROLES, Role::as_str, u.role.as_str()),
            unit_id: u.unit_id.map(|id| id.to_string()).unwrap_or_default(),
            scope_code: u.scope_code.clone(),
            second_factor: u.second_factor,
            must_change_password: u.must_change_password,
        });
    }
    let page = UsersPage {
        t,
        signed_in: true,
        csrf: web.csrf(),
        f: frame("users", error.clone(), saved),
        users: rows,
        roles: choices(&t, "role", &STAFF_ROLES, Role::as_str, ""),
        units: units
            .iter()
            .map(|u| Choice {
                code: u.id.to_string(),
                label: u.name.clone(),
                selected: false,
            })
            .collect(),
        nodes: node_choices(app, &s.user.scope_code, "").await,
    };
    with_status(render(&page), &error)
}

pub async fn users_post(State(app): State<Arc<App>>, t: Tr, web: Web, body: Bytes) -> Response {
    let (s, f) = match form(t, &web, "/admin/users", &body) {
        Ok(x) => x,
        Err(r) => return *r,
    };
    let role = Role::parse(f.get("role"));
    let unit_id = f.get("unit_id").parse::<i64>().ok();
    let result = match (f.get("action"), role) {
        ("reset", _) => match f.get("id").parse::<i64>() {
            Ok(id) => app
                .reset_credentials(
                    &s.actor,
                    id,
                    Some(f.get("password")).filter(|p| !p.is_empty()),
                    f.get("second_factor") == "on",
                )
                .await
                .map(|_| ()),
            Err(_) => Err(invalid("id")),
        },
        (_, None) => Err(invalid("role")),
        ("create", Some(role)) => app
            .create_user(
                &s.actor,
                &UserInput {
                    username: f.get("username").to_string(),
                    display_name: f.get("display_name").to_string(),
                    password: f.get("password").to_string(),
                    role,
                    scope_code: f.get("scope_code").to_string(),
                    unit_id,
                },
            )
            .await
            .map(|_| ()),
        ("update", Some(role)) => match f.get("id").parse::<i64>() {
            Ok(id) => app
                .update_user(
                    &s.actor,
                    id,
                    &UserChange {
                        display_name: f.get("display_name").to_string(),
                        role,
                        scope_code: f.get("scope_code").to_string(),
                        unit_id,
                        disabled: f.get("disabled") == "on",
                    },
                )
                .await
                .map(|_| ()),
            Err(_) => Err(invalid("id")),
        },
        _ => Err(invalid("action")),
    };
    match result {
        Ok(()) => Redirect::to("/admin/users?saved=1").into_response(),
        Err(e) => users_page(&app, t, &web, error_message(&t, &e), false).await,
    }
}

// ---------------------------------------------------------------- calendar

pub struct DayView {
    pub date: String,
    pub weekday: String,
    pub kind: String,
    pub kind_code: &'static str,
    pub note: String,
}

#[derive(Template)]
#[template(path = "admin_calendar.html")]
pub struct CalendarPage {
    pub t: Tr,
    pub signed_in: bool,
    pub csrf: String,
    pub f: Frame,
    pub year: i32,
    pub days: Vec<DayView>,
}

pub async fn calendar(
    State(app): State<Arc<App>>,
    t: Tr,
    web: Web,
    Query(q): Query<PageQuery>,
) -> Response {
    calendar_page(&app, t, &web, q.year, String::new(), q.saved.is_some()).await
}

async fn calendar_page(
    app: &App,
    t: Tr,
    web: &Web,
    year: Option<i32>,
    error: String,
    saved: bool,
) -> Response {
    if let Err(r) = admin(app, t, web, "/admin/calendar") {
        return *r;
    }
    let year = year
        .unwrap_or_else(|| chrono::Datelike::year(&fengqiao_domain::time::local_date(app.now())));
    let days = match app.calendar_days(Some(year)).await {
        Ok(d) => d,
        Err(e) => return error_page(t, &e, true, web.csrf()),
    };
    let page = CalendarPage {
        t,
        signed_in: true,
        csrf: web.csrf(),
        f: frame("calendar", error.clone(), saved),
        year,
        days: days
            .into_iter()
            .map(|d| {
                let code = match d.kind {
                    DayKind::Holiday => "holiday",
                    DayKind::Workday => "workday",
                };
                DayView {
                    date: d.date.to_string(),
                    weekday: t
                        .s(&format!(
                            "weekday.{}",
                            chrono::Datelike::weekday(&d.date).num_days_from_monday()
                        ))
                        .to_string(),
                    kind: t.s(&format!("admin.day_{code}")).to_string(),
                    kind_code: code,
                    note: d.note,
                }
            })
            .collect(),
    };
    with_status(render(&page), &error)
}

pub async fn calendar_post(State(app): State<Arc<App>>, t: Tr, web: Web, body: Bytes) -> Response {
    let (s, f) = match form(t, &web, "/admin/calendar", &body) {
        Ok(x) => x,
        Err(r) => return *r,
    };
    let date = chrono::NaiveDate::parse_from_str(f.get("date"), "%Y-%m-%d");
    let kind = match f.get("kind") {
        "holiday" => Ok(Some(DayKind::Holiday)),
        "workday" => Ok(Some(DayKind::Workday)),
        "normal" => Ok(None),
        _ => Err(invalid("kind")),
    };
    let result = match (date, kind) {
        (Ok(date), Ok(kind)) => app
            .set_calendar_day(
                &s.actor,
                date,
                &CalendarDayInput {
                    kind,
                    note: f.get("note").to_string(),
                },
            )
            .await
            .map(|_| date),
        (Err(_), _) => Err(invalid("date")),
        (_, Err(e)) => Err(e),
    };
    match result {
        Ok(d) => Redirect::to(&format!(
            "/admin/calendar?year={}&saved=1",
            chrono::Datelike::year(&d)
        ))
        .into_response(),
        Err(e) => calendar_page(&app, t, &web, None, error_message(&t, &e), false).await,
    }
}

// ---------------------------------------------------------------- deadline rules

pub struct RuleField {
    pub name: &'static str,
    pub label: String,
    pub value: u32,
}

pub struct OverrideView {
    pub types: Vec<Choice>,
    pub complexities: Vec<Choice>,
    pub stages: Vec<Choice>,
    pub days: String,
}

#[derive(Template)]
#[template(path = "admin_rules.html")]
pub struct RulesPage {
    pub t: Tr,
    pub signed_in: bool,
    pub csrf: String,
    pub f: Frame,
    pub fields: Vec<RuleField>,
    pub overrides: Vec<OverrideView>,
    /// The Fengqiao index's weights (name, label, value) and the formula they make.
    pub weights: Vec<(&'static str, String, f64)>,
    pub formula: String,
}

fn weight_values(w: &Weights) -> [(&'static str, f64); 6] {
    [
        ("resolution", w.resolution),
        ("mediation", w.mediation),
        ("satisfaction", w.satisfaction),
        ("on_time", w.on_time),
        ("speed", w.speed),
        ("no_reopen", w.no_reopen),
    ]
}

/// `POST /admin/index-weights`: the Fengqiao index's weights.
pub async fn weights_post(State(app): State<Arc<App>>, t: Tr, web: Web, body: Bytes) -> Response {
    let (s, f) = match form(t, &web, "/admin/rules", &body) {
        Ok(x) => x,
        Err(r) => return *r,
    };
    let num = |k: &'static str| f.get(k).trim().parse::<f64>().map_err(|_| invalid(k));
    let parsed = (|| -> Result<Weights, AppError> {
        Ok(Weights {
            resolution: num("resolution")?,
            mediation: num("mediation")?,
            satisfaction: num("satisfaction")?,
            on_time: num("on_time")?,
            speed: num("speed")?,
            no_reopen: num("no_reopen")?,
        })
    })();
    let result = match parsed {
        Ok(w) => app.set_index_weights(&s.actor, &w).await,
        Err(e) => Err(e),
    };
    match result {
        Ok(()) => Redirect::to("/admin/rules?saved=1").into_response(),
        Err(e) => rules_page(&app, t, &web, None, error_message(&t, &e), false).await,
    }
}

pub async fn rules(
    State(app): State<Arc<App>>,
    t: Tr,
    web: Web,
    Query(q): Query<PageQuery>,
) -> Response {
    rules_page(&app, t, &web, None, String::new(), q.saved.is_some()).await
}

fn rule_values(r: &DeadlineRules) -> [(&'static str, u32); 8] {
    [
        ("simple_days", r.simple_days),
        ("complex_days", r.complex_days),
        ("feedback_days", r.feedback_days),
        ("yellow_simple", r.yellow_simple),
        ("yellow_complex", r.yellow_complex),
        ("supervision_reply_days", r.supervision_reply_days),
        ("revisit_after_days", r.revisit_after_days),
        ("max_extension_days", r.max_extension_days),
    ]
}

async fn rules_page(
    app: &App,
    t: Tr,
    web: &Web,
    shown: Option<DeadlineRules>,
    error: String,
    saved: bool,
) -> Response {
    if let Err(r) = admin(app, t, web, "/admin/rules") {
        return *r;
    }
    let rules = shown.unwrap_or_else(|| app.rules().as_ref().clone());
    let weights = app.index_weights().await.unwrap_or_default();
    let override_view = |o: Option<&RuleOverride>| OverrideView {
        types: choices(
            &t,
            "type",
            DisputeType::ALL,
            DisputeType::as_str,
            o.map(|o| o.dispute_type.as_str()).unwrap_or(""),
        ),
        complexities: choices(
            &t,
            "complexity",
            Complexity::ALL,
            Complexity::as_str,
            o.map(|o| o.complexity.as_str()).unwrap_or(""),
        ),
        stages: Stage::ALL
            .iter()
            .map(|s| Choice {
                code: s.as_str().to_string(),
                label: t.s(&format!("admin.stage_{}", s.as_str())).to_string(),
                selected: o.is_some_and(|o| o.stage == *s),
            })
            .collect(),
        days: o.map(|o| o.working_days.to_string()).unwrap_or_default(),
    };
    let mut overrides: Vec<OverrideView> = rules
        .overrides
        .iter()
        .map(|o| override_view(Some(o)))
        .collect();
    overrides.push(override_view(None));
    let page = RulesPage {
        t,
        signed_in: true,
        csrf: web.csrf(),
        f: frame("rules", error.clone(), saved),
        fields: rule_values(&rules)
            .into_iter()
            .map(|(name, value)| RuleField {
                name,
                label: t.s(&format!("rules.{name}")).to_string(),
                value,
            })
            .collect(),
        overrides,
        weights: weight_values(&weights)
            .into_iter()
            .map(|(name, v)| (name, t.s(&format!("admin.weight_{name}")).to_string(), v))
            .collect(),
        formula: weights.formula(),
    };
    with_status(render(&page), &error)
}

fn pick<'a>(v: &[&'a str], i: usize) -> &'a str {
    v.get(i).copied().unwrap_or("")
}

/// The rules a form stands for; an override row without days is dropped.
fn rules_of(f: &Fields) -> Result<DeadlineRules, AppError> {
    let num = |k: &'static str| f.get(k).parse::<u32>().map_err(|_| invalid(k));
    let (types, complexities, stages, days) = (
        f.all_raw("ov_type"),
        f.all_raw("ov_complexity"),
        f.all_raw("ov_stage"),
        f.all_raw("ov_days"),
    );
    let mut overrides = Vec::new();
    for (i, d) in days.iter().enumerate() {
        if d.is_empty() {
            continue;
        }
        overrides.push(RuleOverride {
            dispute_type: DisputeType::parse(pick(&types, i)).ok_or_else(|| invalid("ov_type"))?,
            complexity: Complexity::parse(pick(&complexities, i))
                .ok_or_else(|| invalid("ov_complexity"))?,
            stage: Stage::parse(pick(&stages, i)).ok_or_else(|| invalid("ov_stage"))?,
            working_days: d.parse().map_err(|_| invalid("ov_days"))?,
        });
    }
    Ok(DeadlineRules {
        simple_days: num("simple_days")?,
        complex_days: num("complex_days")?,
        feedback_days: num("feedback_days")?,
        yellow_simple: num("yellow_simple")?,
        yellow_complex: num("yellow_complex")?,
        supervision_reply_days: num("supervision_reply_days")?,
        revisit_after_days: num("revisit_after_days")?,
        max_extension_days: num("max_extension_days")?,
        overrides,
    })
}

pub async fn rules_post(State(app): State<Arc<App>>, t: Tr, web: Web, body: Bytes) -> Response {
    let (s, f) = match form(t, &web, "/admin/rules", &body) {
        Ok(x) => x,
        Err(r) => return *r,
    };
    let rules = match rules_of(&f) {
        Ok(r) => r,
        Err(e) => return rules_page(&app, t, &web, None, error_message(&t, &e), false).await,
    };
    match app.put_rules(&s.actor, &rules).await {
        Ok(_) => Redirect::to("/admin/rules?saved=1").into_response(),
        Err(e) => rules_page(&app, t, &web, Some(rules), error_message(&t, &e), false).await,
    }
}

// ---------------------------------------------------------------- security

pub struct AuditRow {
    pub seq: i64,
    pub at: String,
    pub who: String,
    pub client: String,
    pub action: String,
    pub target: String,
    pub outcome: String,
    pub detail: String,
}

#[derive(Template)]
#[template(path = "admin_security.html")]
pub struct SecurityPage {
    pub t: Tr,
    pub signed_in: bool,
    pub csrf: String,
    pub f: Frame,
    /// Roles and whether the policy asks them for a second factor.
    pub roles: Vec<(Choice, bool)>,
    pub for_all: bool,
    pub max_age_days: u32,
    pub trail: Vec<AuditRow>,
    /// The verification's outcome, when asked for.
    pub verified: Option<fengqiao_domain::audit::AuditReport>,
}

#[derive(Deserialize, Default)]
pub struct SecurityQuery {
    #[serde(default)]
    saved: Option<u8>,
    #[serde(default)]
    verify: Option<u8>,
}

pub async fn security(
    State(app): State<Arc<App>>,
    t: Tr,
    web: Web,
    Query(q): Query<SecurityQuery>,
) -> Response {
    security_page(
        &app,
        t,
        &web,
        String::new(),
        q.saved.is_some(),
        q.verify.is_some(),
    )
    .await
}

async fn security_page(
    app: &App,
    t: Tr,
    web: &Web,
    error: String,
    saved: bool,
    verify: bool,
) -> Response {
    let s = match admin(app, t, web, "/admin/security") {
        Ok(s) => s,
        Err(r) => return *r,
    };
    let policy = match app.get_security_policy(&s.actor).await {
        Ok(p) => p,
        Err(e) => return error_page(t, &e, true, web.csrf()),
    };
    let trail = match app.audit_trail(&s.actor, 100).await {
        Ok(t) => t,
        Err(e) => return error_page(t, &e, true, web.csrf()),
    };
    let verified = if verify {
        match app.verify_audit_as(&s.actor).await {
            Ok(r) => Some(r),
            Err(e) => return error_page(t, &e, true, web.csrf()),
        }
    } else {
        None
    };
    let page = SecurityPage {
        t,
        signed_in: true,
        csrf: web.csrf(),
        f: frame("security", error.clone(), saved),
        roles: STAFF_ROLES
            .iter()
            .map(|r| {
                (
                    Choice {
                        code: r.as_str().to_string(),
                        label: t.label("role", r.as_str()),
                        selected: false,
                    },
                    policy.second_factor_roles.contains(r),
                )
            })
            .collect(),
        for_all: policy.second_factor_for_all,
        max_age_days: policy.password_max_age_days,
        trail: trail
            .into_iter()
            .map(|r| AuditRow {
                seq: r.seq,
                at: fmt_ms(r.record.at),
                who: r.record.actor_name,
                client: r.record.client,
                action: r.record.action.zh().to_string(),
                target: r.record.target,
                outcome: r.record.outcome,
                detail: r.record.detail,
            })
            .collect(),
        verified,
    };
    with_status(render(&page), &error)
}

pub async fn security_post(State(app): State<Arc<App>>, t: Tr, web: Web, body: Bytes) -> Response {
    let (s, f) = match form(t, &web, "/admin/security", &body) {
        Ok(x) => x,
        Err(r) => return *r,
    };
    let policy = fengqiao_domain::security::SecurityPolicy {
        second_factor_roles: f
            .0
            .iter()
            .filter(|(k, _)| k == "second_factor_role")
            .filter_map(|(_, v)| Role::parse(v))
            .collect(),
        second_factor_for_all: f.get("second_factor_for_all") == "on",
        password_max_age_days: match f.get("password_max_age_days") {
            "" => 0,
            v => match v.parse() {
                Ok(n) => n,
                Err(_) => {
                    let e = invalid("password_max_age_days");
                    return security_page(&app, t, &web, error_message(&t, &e), false, false).await;
                }
            },
        },
    };
    match app.put_security_policy(&s.actor, &policy).await {
        Ok(_) => Redirect::to("/admin/security?saved=1").into_response(),
        Err(e) => security_page(&app, t, &web, error_message(&t, &e), false, false).await,
    }
}

/// An expert as the pool page shows them.
pub struct ExpertRow {
    pub id: i64,
    pub name: String,
    pub place: String,
    /// (code, label, held).
    pub specialties: Vec<(String, String, bool)>,
    pub available: bool,
    pub answered: usize,
    pub waiting: usize,
    pub avg_hours: String,
}

#[derive(Template)]
#[template(path = "admin_experts.html")]
pub struct ExpertsPage {
    pub t: Tr,
    pub signed_in: bool,
    pub csrf: String,
    pub f: Frame,
    pub experts: Vec<ExpertRow>,
}

async fn experts_page(app: &App, t: Tr, web: &Web, error: String, saved: bool) -> Response {
    let s = match admin(app, t, web, "/admin/experts") {
        Ok(s) => s,
        Err(r) => return *r,
    };
    let users = match app.list_users(&s.actor).await {
        Ok(u) => u,
        Err(e) => return error_page(t, &e, true, web.csrf()),
    };
    let mut experts = Vec::new();
    for u in users
        .into_iter()
        .filter(|u| u.role == fengqiao_domain::access::Role::Expert)
    {
        let profile = app.expert_profile(u.id).await.unwrap_or_default();
        let (answered, waiting, hours) = app.expert_record(u.id).await.unwrap_or_default();
        experts.push(ExpertRow {
            id: u.id,
            name: u.display_name.clone(),
            place: app.node_name(&u.scope_code).await,
            specialties: fengqiao_domain::expert::Specialty::ALL
                .iter()
                .map(|sp| {
                    (
                        sp.as_str().to_string(),
                        t.label("specialty", sp.as_str()),
                        profile.specialties.contains(sp),
                    )
                })
                .collect(),
            available: profile.available,
            answered,
            waiting,
            avg_hours: hours.map(|h| format!("{h:.1}")).unwrap_or_default(),
        });
    }
    render(&ExpertsPage {
        t,
        signed_in: true,
        csrf: web.csrf(),
        f: frame("experts", error, saved),
        experts,
    })
}

pub async fn experts(
    State(app): State<Arc<App>>,
    t: Tr,
    web: Web,
    Query(q): Query<PageQuery>,
) -> Response {
    experts_page(&app, t, &web, String::new(), q.saved.is_some()).await
}

pub async fn experts_post(State(app): State<Arc<App>>, t: Tr, web: Web, body: Bytes) -> Response {
    let (s, f) = match form(t, &web, "/admin/experts", &body) {
        Ok(x) => x,
        Err(r) => return *r,
    };
    let user_id = f.get("user_id").parse::<i64>().unwrap_or(0);
    let profile = fengqiao_domain::expert::ExpertProfile {
        specialties: f
            .0
            .iter()
            .filter(|(k, _)| k == "specialty")
            .filter_map(|(_, v)| fengqiao_domain::expert::Specialty::parse(v))
            .collect(),
        available: f.get("available") == "on",
    };
    match app.set_expert_profile(&s.actor, user_id, &profile).await {
        Ok(()) => Redirect::to("/admin/experts?saved=1").into_response(),
        Err(e) => experts_page(&app, t, &web, error_message(&t, &e), false).await,
    }
}
