//! Staff pages: login, workbench, case list, case page with its actions, routing dialog.
use crate::i18n::Tr;
use crate::session::{cleared_cookie, session_cookie, Web};
use crate::view::{error_page, fmt_fen, fmt_ms, render, CaseRow};
use askama::Template;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use fengqiao_app::cases::CaseQuery;
use fengqiao_app::workbench::Queue;
use fengqiao_app::{App, AppError};
use fengqiao_domain::case::{
    Channel, Complexity, DisputeType, Light, MediationSession, Outcome, Referral, RiskLevel, Status,
};
use fengqiao_domain::security::SessionStage;
use fengqiao_domain::unit::UnitSuggestion;
use fengqiao_domain::workflow::{CaseEdit, Command};
use fengqiao_domain::DomainError;
use serde::Deserialize;
use std::sync::Arc;

/// The form fields of a POST body (repeated keys kept, in order).
pub struct Fields(pub Vec<(String, String)>);

impl Fields {
    pub fn parse(body: &[u8]) -> Fields {
        Fields(
            form_urlencoded::parse(body)
                .map(|(k, v)| (k.into_owned(), v.into_owned()))
                .collect(),
        )
    }
    pub fn get(&self, k: &str) -> &str {
        self.0
            .iter()
            .find(|(key, _)| key == k)
            .map(|(_, v)| v.trim())
            .unwrap_or("")
    }
    pub fn opt(&self, k: &str) -> Option<String> {
        Some(self.get(k).to_string()).filter(|s| !s.is_empty())
    }
    /// Every value of a repeated field, empty ones included (rows of a table stay aligned).
    pub fn all_raw(&self, k: &str) -> Vec<&str> {
        self.0
            .iter()
            .filter(|(key, _)| key == k)
            .map(|(_, v)| v.trim())
            .collect()
    }
    pub fn all(&self, k: &str) -> Vec<&str> {
        self.0
            .iter()
            .filter(|(key, v)| key == k && !v.trim().is_empty())
            .map(|(_, v)| v.trim())
            .collect()
    }
}

pub fn to_login(next: &str) -> Response {
    let next: String = form_urlencoded::byte_serialize(next.as_bytes()).collect();
    Redirect::to(&format!("/login?next={next}")).into_response()
}

/// A local path to go to after sign-in (anything else — another site, `//host`, `/\host` —
/// becomes the workbench).
pub fn local_next(next: Option<&str>) -> String {
    next.filter(|p| p.starts_with('/') && !p.starts_with("//") && !p.starts_with("/\\"))
        .unwrap_or("/workbench")
        .to_string()
}

#[derive(Template)]
#[template(path = "login.html")]
pub struct LoginPage {
    pub t: Tr,
    pub next: String,
    pub draft: String,
    pub error: String,
    pub expired: bool,
    pub signed_in: bool,
    pub csrf: String,
}

#[derive(Deserialize)]
pub struct NextQuery {
    next: Option<String>,
}

pub async fn login_page(t: Tr, Query(q): Query<NextQuery>) -> Response {
    render(&LoginPage {
        t,
        next: local_next(q.next.as_deref()),
        draft: String::new(),
        error: String::new(),
        expired: false,
        signed_in: false,
        csrf: String::new(),
    })
}

/// Signs in. When the form carried a draft (a form whose session had expired), the form comes
/// back filled in with it instead of the plain redirect, so nothing typed is lost.
pub async fn login(State(app): State<Arc<App>>, t: Tr, body: Bytes) -> Response {
    let f = Fields::parse(&body);
    let next = local_next(Some(f.get("next")));
    let draft = f.get("draft").to_string();
    match app.login(f.get("username"), f.get("password"), None).await {
        Ok(r) if r.next_step != SessionStage::Full => (
            [(header::SET_COOKIE, session_cookie(&app, &r.token))],
            Redirect::to(&crate::signin::step_location(r.next_step, &next)),
        )
            .into_response(),
        Ok(r) => {
            let cookie = session_cookie(&app, &r.token);
            if !draft.is_empty() && next == "/grid/report" {
                let web = Web {
                    session: app
                        .authenticate(&r.token)
                        .await
                        .ok()
                        .map(|s| (s, r.token.clone())),
                };
                let page = crate::grid::form_page(
                    &app,
                    t,
                    &web,
                    Fields::parse(draft.as_bytes()),
                    String::new(),
                )
                .await;
                return ([(header::SET_COOKIE, cookie)], page).into_response();
            }
            ([(header::SET_COOKIE, cookie)], Redirect::to(&next)).into_response()
        }
        Err(e) => (
            StatusCode::UNAUTHORIZED,
            render(&LoginPage {
                t,
                next,
                draft,
                error: crate::view::error_message(&t, &e),
                expired: false,
                signed_in: false,
                csrf: String::new(),
            }),
        )
            .into_response(),
    }
}

/// The login page for a form posted after the session expired: the fields ride along.
pub fn expired_login(t: Tr, next: &str, body: &[u8]) -> Response {
    (
        StatusCode::UNAUTHORIZED,
        render(&LoginPage {
            t,
            next: next.to_string(),
            draft: String::from_utf8_lossy(body).into_owned(),
            error: String::new(),
            expired: true,
            signed_in: false,
            csrf: String::new(),
        }),
    )
        .into_response()
}

pub async fn logout(State(app): State<Arc<App>>, web: Web, body: Bytes) -> Response {
    let f = Fields::parse(&body);
    if let Some((_, token)) = &web.session {
        if web.csrf_ok(f.get("csrf")) {
            if let Err(e) = app.logout(token).await {
                tracing::warn!(error = %e, "logout");
            }
        }
    }
    (
        [(header::SET_COOKIE, cleared_cookie(&app))],
        Redirect::to("/login"),
    )
        .into_response()
}

pub struct QueueView {
    pub code: &'static str,
    pub label: String,
    pub count: u64,
}

#[derive(Template)]
#[template(path = "workbench.html")]
pub struct WorkbenchPage {
    pub t: Tr,
    pub user: String,
    pub role: String,
    pub queues: Vec<QueueView>,
    pub current: String,
    pub rows: Vec<CaseRow>,
    pub signed_in: bool,
    pub csrf: String,
    pub is_grid: bool,
    pub is_admin: bool,
    /// May open the cockpit and the reports.
    pub can_stats: bool,
    /// May import other systems' exports.
    pub can_import: bool,
    /// Live warnings the user may see (None: the role sees no warnings).
    pub warnings: Option<usize>,
    /// The newest notices of the inbox (the monthly report among them).
    pub notices: Vec<NoticeView>,
}

pub struct NoticeView {
    pub title: String,
    pub href: String,
    pub at: String,
    pub unread: bool,
}

#[derive(Template)]
#[template(path = "queue.html")]
pub struct QueueFragment {
    pub t: Tr,
    pub rows: Vec<CaseRow>,
}

pub async fn workbench(State(app): State<Arc<App>>, t: Tr, web: Web) -> Response {
    let Some((s, _)) = &web.session else {
        return to_login("/workbench");
    };
    let mut queues = Vec::new();
    for q in Queue::for_role(s.actor.role) {
        match app.queue_count(&s.actor, *q).await {
            Ok(count) => queues.push(QueueView {
                code: q.as_str(),
                label: t.s(&format!("queue.{}", q.as_str())).to_string(),
                count,
            }),
            Err(e) => return error_page(t, &e, true, web.csrf()),
        }
    }
    // The first queue with work opens; overdue cases first.
    let first = queues
        .iter()
        .find(|q| q.count > 0)
        .or(queues.first())
        .map(|q| q.code)
        .and_then(Queue::parse);
    let rows = match first {
        Some(q) => match app.queue_cases(&s.actor, q, 20).await {
            Ok(cases) => CaseRow::all(&app, &t, &cases).await,
            Err(e) => return error_page(t, &e, true, web.csrf()),
        },
        None => Vec::new(),
    };
    let warnings = if s
        .actor
        .role
        .permits(fengqiao_domain::access::Operation::ViewWarnings)
    {
        app.list_warnings(&s.actor, true, 1000)
            .await
            .ok()
            .map(|w| w.len())
    } else {
        None
    };
    render(&WorkbenchPage {
        t,
        warnings,
        user: s.user.display_name.clone(),
        role: t.label("role", s.actor.role.as_str()),
        queues,
        current: first.map(|q| q.as_str().to_string()).unwrap_or_default(),
        rows,
        signed_in: true,
        csrf: web.csrf(),
        is_grid: s.actor.role == fengqiao_domain::access::Role::GridWorker,
        is_admin: app.require_admin(&s.actor).is_ok(),
        can_stats: s
            .actor
            .role
            .permits(fengqiao_domain::access::Operation::ViewStatistics),
        can_import: s
            .actor
            .role
            .permits(fengqiao_domain::access::Operation::ImportRecords),
        notices: app
            .inbox(&s.actor, false)
            .await
            .unwrap_or_default()
            .into_iter()
            .filter(|n| n.kind == "monthly_report")
            .take(3)
            .map(|n| NoticeView {
                // Report notices carry the report's address; it is a path on this site.
                href: if n.body.starts_with("/reports/") {
                    n.body.clone()
                } else {
                    "/workbench".into()
                },
                title: n.title,
                at: crate::view::fmt_ms(n.created_at),
                unread: n.read_at.is_none(),
            })
            .collect(),
    })
}

pub async fn queue_fragment(
    State(app): State<Arc<App>>,
    t: Tr,
    web: Web,
    Path(queue): Path<String>,
) -> Response {
    let Some((s, _)) = &web.session else {
        return StatusCode::UNAUTHORIZED.into_response();
    };
    let Some(q) = Queue::parse(&queue) else {
        return StatusCode::NOT_FOUND.into_response();
    };
    match app.queue_cases(&s.actor, q, 20).await {
        Ok(cases) => render(&QueueFragment {
            t,
            rows: CaseRow::all(&app, &t, &cases).await,
        }),
        Err(e) => error_page(t, &e, true, web.csrf()),
    }
}

/// Filters of the case list, as typed in its form (empty means "any").
#[derive(Debug, Default, Deserialize)]
pub struct ListParams {
    #[serde(default)]
    status: String,
    #[serde(default)]
    dispute_type: String,
    #[serde(default)]
    light: String,
    #[serde(default)]
    channel: String,
    #[serde(default)]
    node_code: String,
    #[serde(default)]
    unit_id: String,
    #[serde(default)]
    from: String,
    #[serde(default)]
    to: String,
    #[serde(default)]
    before_id: Option<i64>,
}

impl ListParams {
    /// The list query these filters stand for (a page of `limit`, counted when a page).
    pub fn query(&self, limit: Option<u32>) -> CaseQuery {
        CaseQuery {
            status: Status::parse(&self.status),
            dispute_type: DisputeType::parse(&self.dispute_type),
            channel: Channel::parse(&self.channel),
            unit_id: self.unit_id.parse().ok(),
            node_code: Some(self.node_code.clone()).filter(|c| !c.is_empty()),
            light: Light::parse(&self.light),
            from: day_ms(&self.from, false),
            to: day_ms(&self.to, true),
            with_open_supervision: None,
            before_id: self.before_id,
            limit,
            with_total: Some(true),
        }
    }

    /// The filters as a query string (empty ones left out), without the page cursor.
    pub fn query_string(&self) -> String {
        let qs = [
            ("status", &self.status),
            ("dispute_type", &self.dispute_type),
            ("light", &self.light),
            ("channel", &self.channel),
            ("node_code", &self.node_code),
            ("unit_id", &self.unit_id),
            ("from", &self.from),
            ("to", &self.to),
        ];
        form_urlencoded::Serializer::new(String::new())
            .extend_pairs(qs.iter().filter(|(_, v)| !v.is_empty()))
            .finish()
    }
}

pub struct Choice {
    pub code: String,
    pub label: String,
    pub selected: bool,
}

pub fn choices<T: Copy>(
    t: &Tr,
    kind: &str,
    all: &[T],
    code: fn(T) -> &'static str,
    current: &str,
) -> Vec<Choice> {
    all.iter()
        .map(|v| Choice {
            code: code(*v).to_string(),
            label: t.label(kind, code(*v)),
            selected: code(*v) == current,
        })
        .collect()
}

#[derive(Template)]
#[template(path = "cases.html")]
pub struct ListPage {
    pub t: Tr,
    pub statuses: Vec<Choice>,
    pub types: Vec<Choice>,
    pub lights: Vec<Choice>,
    pub channels: Vec<Choice>,
    pub node_code: String,
    pub unit_id: String,
    pub from: String,
    pub to: String,
    pub rows: Vec<CaseRow>,
    pub total: u64,
    pub next: String,
    pub export: String,
    /// The request page of an unmasked export of this list (for who may reveal numbers).
    pub unmasked: String,
    pub signed_in: bool,
    pub csrf: String,
}

pub fn day_ms(s: &str, end: bool) -> Option<i64> {
    let d = chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d").ok()?;
    Some(if end {
        fengqiao_domain::time::end_of_local_day(d)
    } else {
        fengqiao_domain::time::start_of_local_day(d)
    })
}

pub async fn case_list(
    State(app): State<Arc<App>>,
    t: Tr,
    web: Web,
    Query(p): Query<ListParams>,
) -> Response {
    let Some((s, _)) = &web.session else {
        return to_login("/cases");
    };
    let q = p.query(Some(50));
    let list = match app.list_case_states(&s.actor, &q).await {
        Ok(l) => l,
        Err(e) => return error_page(t, &e, true, web.csrf()),
    };
    let filters = p.query_string();
    let next = match list.1 {
        Some(id) if filters.is_empty() => format!("/cases?before_id={id}"),
        Some(id) => format!("/cases?{filters}&before_id={id}"),
        None => String::new(),
    };
    render(&ListPage {
        t,
        statuses: choices(&t, "status", Status::ALL, Status::as_str, &p.status),
        types: choices(
            &t,
            "type",
            DisputeType::ALL,
            DisputeType::as_str,
            &p.dispute_type,
        ),
        lights: choices(&t, "light", Light::ALL, Light::as_str, &p.light),
        channels: choices(&t, "channel", Channel::ALL, Channel::as_str, &p.channel),
        node_code: p.node_code,
        unit_id: p.unit_id,
        from: p.from,
        to: p.to,
        rows: CaseRow::all(&app, &t, &list.0).await,
        total: list.2.unwrap_or(0),
        next,
        unmasked: if s
            .actor
            .role
            .permits(fengqiao_domain::access::Operation::RevealPersonalInfo)
        {
            format!(
                "/exports?filter={}",
                form_urlencoded::byte_serialize(filters.as_bytes()).collect::<String>()
            )
        } else {
            String::new()
        },
        export: if filters.is_empty() {
            "/cases/export.xlsx".to_string()
        } else {
            format!("/cases/export.xlsx?{filters}")
        },
        signed_in: true,
        csrf: web.csrf(),
    })
}

/// A piece of the case text, highlighted when it is an element the reader found.
pub struct Segment {
    pub text: String,
    pub kind: &'static str,
    pub title: String,
}

fn segments(text: &str, marks: &mut [(usize, usize, &'static str, String)]) -> Vec<Segment> {
    marks.sort_by_key(|m| (m.0, std::cmp::Reverse(m.1)));
    let chars: Vec<char> = text.chars().collect();
    let mut out = Vec::new();
    let mut at = 0;
    for (s, e, kind, title) in marks.iter() {
        if *s < at || *e > chars.len() || s >= e {
            continue;
        }
        if *s > at {
            out.push(Segment {
                text: chars[at..*s].iter().collect(),
                kind: "",
                title: String::new(),
            });
        }
        out.push(Segment {
            text: chars[*s..*e].iter().collect(),
            kind,
            title: title.clone(),
        });
        at = *e;
    }
    if at < chars.len() {
        out.push(Segment {
            text: chars[at..].iter().collect(),
            kind: "",
            title: String::new(),
        });
    }
    out
}

pub struct PartyView {
    pub name: String,
    pub role: String,
    pub phone: String,
    pub id_number: String,
}

pub struct ConsultationView {
    pub expert: String,
    pub question: String,
    pub asked: String,
    pub answered: String,
    /// Hours from the question to the answer (so far, when unanswered).
    pub hours: String,
    pub answer: String,
}

pub struct EventView {
    pub at: String,
    pub action: String,
    pub by: String,
    pub detail: String,
}

pub struct CueView {
    pub text: String,
    pub kind: String,
    pub negated: bool,
}

pub struct DupView {
    pub case_id: i64,
    pub score: String,
    pub reasons: String,
    pub linked: bool,
}

/// A unit summoned to the case (吹哨) and its answer.
pub struct SummonsView {
    pub unit: String,
    pub due: String,
    pub reply: String,
    pub answered_at: String,
    pub late: bool,
    /// The viewer's unit, still to answer: the page offers the form.
    pub mine: bool,
}

pub struct SupervisionView {
    pub no: u32,
    pub reason: String,
    pub reply_due: String,
    pub reply: String,
    pub automatic: bool,
    /// Levels the unanswered supervision went up (0: none).
    pub escalations: u32,
}

#[derive(Template)]
#[template(path = "case.html")]
pub struct CasePage {
    pub t: Tr,
    pub id: i64,
    pub tracking_code: String,
    pub status: String,
    pub dispute_type: String,
    pub light: &'static str,
    pub light_label: String,
    pub risk: String,
    pub risk_code: &'static str,
    pub risk_score: String,
    /// The escalation-risk grade now (`domain::risk`) and its reasons, translated.
    pub grade: String,
    pub grade_code: &'static str,
    pub grade_points: u32,
    pub grade_reasons: Vec<String>,
    pub channel: String,
    pub place: String,
    /// The place's code (its page's address).
    pub place_code: String,
    /// The viewer may open the person and place pages (staff other than experts).
    pub may_dossier: bool,
    /// The case has a room to show (in mediation, or one was used).
    pub room_link: bool,
    pub address: String,
    pub registered: String,
    pub occurred: String,
    pub due: String,
    pub amount: String,
    pub people: String,
    pub complexity: String,
    pub lead_unit: String,
    pub segments: Vec<Segment>,
    pub filled: String,
    pub parties: Vec<PartyView>,
    pub events: Vec<EventView>,
    pub attachments: Vec<(String, String, String)>,
    pub cues: Vec<CueView>,
    pub duplicates: Vec<DupView>,
    pub supervisions: Vec<SupervisionView>,
    pub summons: Vec<SummonsView>,
    /// The units the viewer may summon to this open case (empty: no 吹哨 form).
    pub summonable: Vec<(i64, String)>,
    /// The experts on the case: (user id, name).
    pub experts: Vec<(i64, String)>,
    /// The experts the viewer may add (when `add_expert` is allowed): (user id, name), best
    /// fit first.
    pub expert_candidates: Vec<(i64, String)>,
    /// Questions put to experts and their answers (会诊).
    pub consultations: Vec<ConsultationView>,
    /// The viewer is an expert on the case and may answer.
    pub may_answer: bool,
    pub actions: Vec<&'static str>,
    pub may_attach: bool,
    pub merged_into: i64,
    /// Records from other systems: (case, channel, id there, received).
    pub sources: Vec<(i64, String, String, String)>,
    pub types: Vec<Choice>,
    pub risks: Vec<Choice>,
    pub complexities: Vec<Choice>,
    pub today: String,
    pub feedback: String,
    pub outcome: String,
    pub evaluation: String,
    pub error: String,
    pub signed_in: bool,
    pub csrf: String,
}

impl CasePage {
    pub fn can(&self, action: &str) -> bool {
        self.actions.contains(&action)
    }
}

pub async fn case_page(
    State(app): State<Arc<App>>,
    t: Tr,
    web: Web,
    Path(id): Path<i64>,
) -> Response {
    if web.session.is_none() {
        return to_login(&format!("/cases/{id}"));
    }
    case_response(&app, t, &web, id, String::new(), StatusCode::OK).await
}

async fn case_response(
    app: &App,
    t: Tr,
    web: &Web,
    id: i64,
    error: String,
    status: StatusCode,
) -> Response {
    let Some((s, _)) = &web.session else {
        return to_login(&format!("/cases/{id}"));
    };
    let page = match build_case_page(app, t, s, id, error, web.csrf()).await {
        Ok(p) => p,
        Err(e) => return error_page(t, &e, true, web.csrf()),
    };
    (status, render(&page)).into_response()
}

async fn build_case_page(
    app: &App,
    t: Tr,
    s: &fengqiao_app::auth::Session,
    id: i64,
    error: String,
    csrf: String,
) -> Result<CasePage, AppError> {
    let c = app.load_visible(&s.actor, id).await?;
    let analysis = app.case_analysis(&s.actor, id).await?;
    let events = app.case_events(&s.actor, id).await?;
    let actions = app.allowed_actions(&s.actor, &c);
    let st = &c.state;
    let grade = app.case_risk(&s.actor, id).await?;
    let mut marks: Vec<(usize, usize, &'static str, String)> = Vec::new();
    let mut cues = Vec::new();
    let mut duplicates = Vec::new();
    let mut risk_score = String::new();
    let mut filled = String::new();
    if let Some(a) = &analysis {
        let an = &a.analysis;
        let title = |k: &str| t.s(&format!("element.{k}")).to_string();
        for p in &an.persons {
            marks.push((p.span.start, p.span.end, "person", title("person")));
        }
        for o in &an.organisations {
            marks.push((o.span.start, o.span.end, "org", title("org")));
        }
        for p in &an.places {
            let name = p.node_name.clone().unwrap_or_else(|| title("place"));
            marks.push((p.span.start, p.span.end, "place", name));
        }
        for m in &an.times {
            let when = format!(
                "{} – {}",
                m.start.format("%Y-%m-%d %H:%M"),
                m.end.format("%Y-%m-%d %H:%M")
            );
            marks.push((m.span.start, m.span.end, "time", when));
        }
        for m in &an.amounts {
            marks.push((
                m.span.start,
                m.span.end,
                "money",
                format!("¥{}", fmt_fen(m.fen)),
            ));
        }
        if let Some(cause) = &an.cause {
            marks.push((cause.span.start, cause.span.end, "cause", title("cause")));
        }
        for cue in &an.risk.cues {
            if !cue.negated {
                marks.push((
                    cue.span.start,
                    cue.span.end,
                    "risk",
                    t.label("cue", &cue.kind),
                ));
            }
            cues.push(CueView {
                text: cue.text.clone(),
                kind: t.label("cue", &cue.kind),
                negated: cue.negated,
            });
        }
        risk_score = an.risk.score.to_string();
        filled = a
            .filled
            .iter()
            .map(|f| t.s(&format!("field.{f}")).to_string())
            .collect::<Vec<_>>()
            .join("、");
        for d in &a.duplicates {
            duplicates.push(DupView {
                case_id: d.case_id,
                score: format!("{:.2}", d.score),
                reasons: d.reasons.join(", "),
                linked: a.auto_linked.contains(&d.case_id)
                    || st.linked_case_ids.contains(&d.case_id),
            });
        }
    }
    let actor_ids: Vec<i64> = events
        .iter()
        .filter_map(|e| e["actor_id"].as_i64())
        .collect();
    let names = app.user_names(&actor_ids).await?;
    let parties = st
        .parties
        .iter()
        .map(|p| PartyView {
            name: p.name.clone(),
            role: t.label("party_role", p.role.as_str()),
            phone: p.phone.as_ref().map(|x| x.masked()).unwrap_or_default(),
            id_number: p.id_number.as_ref().map(|x| x.masked()).unwrap_or_default(),
        })
        .collect();
    let events = events
        .iter()
        .map(|e| {
            let action = e["kind"]["action"].as_str().unwrap_or("").to_string();
            let mut detail = e["kind"].clone();
            if let Some(m) = detail.as_object_mut() {
                m.remove("action");
                m.remove("case");
            }
            let detail = match &detail {
                serde_json::Value::Object(m) if m.is_empty() => String::new(),
                serde_json::Value::Object(m) => m
                    .iter()
                    .map(|(k, v)| match v {
                        serde_json::Value::String(s) => format!("{k}: {s}"),
                        other => format!("{k}: {other}"),
                    })
                    .collect::<Vec<_>>()
                    .join("; "),
                _ => String::new(),
            };
            EventView {
                at: fmt_ms(e["at"].as_i64().unwrap_or(0)),
                action: t.label("action", &action),
                by: match e["actor_id"].as_i64() {
                    // A party in the case room.
                    Some(a) if a <= fengqiao_domain::access::ROOM_PARTY_BASE => {
                        let i = usize::try_from(fengqiao_domain::access::ROOM_PARTY_BASE - a)
                            .unwrap_or(usize::MAX);
                        st.parties
                            .get(i)
                            .map(|p| {
                                format!("{}（{}）", p.name, t.label("party_role", p.role.as_str()))
                            })
                            .unwrap_or_default()
                    }
                    Some(a) => match names.get(&a) {
                        Some((name, role)) => {
                            format!("{name}（{}）", t.label("role", role.as_str()))
                        }
                        None => format!("#{a}"),
                    },
                    None => t.s("timeline.system").to_string(),
                },
                detail: detail.chars().take(300).collect(),
            }
        })
        .collect();
    let mut summons = Vec::new();
    for m in &st.summons {
        summons.push(SummonsView {
            unit: app
                .get_unit(m.unit_id)
                .await
                .map(|u| u.name)
                .unwrap_or_default(),
            due: crate::view::fmt_ms(m.due_at),
            reply: m.reply.clone(),
            answered_at: m.responded_at.map(crate::view::fmt_ms).unwrap_or_default(),
            late: m.overdue(app.now()),
            mine: m.responded_at.is_none() && s.actor.unit_id == Some(m.unit_id),
        });
    }
    // 吹哨: dispatchers, supervisors and leaders, on an open case, any unit of their scope.
    let may_summon = st.status.is_open()
        && fengqiao_domain::access::authorize(
            &s.actor,
            fengqiao_domain::access::Operation::SummonUnits,
            st,
        )
        .is_ok();
    let mut experts = Vec::new();
    for u in &st.expert_ids {
        let name = match app.store.get_user(*u).await {
            Ok(Some(u)) => u.display_name,
            _ => format!("#{u}"),
        };
        experts.push((*u, name));
    }
    let now = app.now();
    let mut consultations = Vec::new();
    for c in &st.consultations {
        let expert = match app.store.get_user(c.expert_id).await {
            Ok(Some(u)) => u.display_name,
            _ => format!("#{}", c.expert_id),
        };
        consultations.push(ConsultationView {
            expert,
            question: c.question.clone(),
            asked: fmt_ms(c.asked_at),
            answered: c.answered_at.map(fmt_ms).unwrap_or_default(),
            hours: format!("{:.1}", c.hours_to_answer(now)),
            answer: c.answer.clone().unwrap_or_default(),
        });
    }
    let may_answer = s.actor.role == fengqiao_domain::access::Role::Expert
        && st.expert_ids.contains(&s.actor.user_id)
        && st
            .consultations
            .iter()
            .any(|c| c.expert_id == s.actor.user_id);
    let expert_candidates = if actions.contains(&"add_expert") {
        app.expert_candidates(st).await.unwrap_or_default()
    } else {
        Vec::new()
    };
    let summonable = if may_summon {
        app.list_units(Some(&s.user.scope_code))
            .await
            .unwrap_or_default()
            .into_iter()
            .map(|u| (u.id, u.name))
            .collect()
    } else {
        Vec::new()
    };
    let sources = app
        .case_sources(&s.actor, c.id)
        .await
        .unwrap_or_default()
        .into_iter()
        .map(|r| {
            (
                r.case_id,
                t.label("channel", &r.channel),
                r.source_id,
                crate::view::fmt_ms(r.received_at),
            )
        })
        .collect();
    let lead_unit = match st.lead_unit_id {
        Some(u) => app.get_unit(u).await.map(|u| u.name).unwrap_or_default(),
        None => String::new(),
    };
    let outcome = match &st.outcome {
        Some(Outcome::Agreement { agreement }) => {
            format!("{}：{agreement}", t.s("outcome.agreement"))
        }
        Some(Outcome::NoAgreement { referral, note }) => format!(
            "{}（{}）：{note}",
            t.s("outcome.no_agreement"),
            t.label("referral", referral.as_str())
        ),
        Some(Outcome::Withdrawn { note }) => format!("{}：{note}", t.s("outcome.withdrawn")),
        None => String::new(),
    };
    Ok(CasePage {
        t,
        id: c.id,
        tracking_code: st.tracking_code.clone(),
        status: t.label("status", st.status.as_str()),
        dispute_type: t.label("type", st.dispute_type.as_str()),
        light: st.light.as_str(),
        light_label: t.label("light", st.light.as_str()),
        risk: t.label("risk", st.risk_level.as_str()),
        risk_code: st.risk_level.as_str(),
        risk_score,
        grade: t.label("risk_grade", grade.grade.as_str()),
        grade_code: grade.grade.as_str(),
        grade_points: grade.points,
        grade_reasons: grade
            .reasons
            .iter()
            .map(|r| {
                format!(
                    "{} (+{})",
                    t.s(&format!("risk_reason.{}", r.code))
                        .replace("{value}", &r.value.to_string()),
                    r.points
                )
            })
            .collect(),
        channel: t.label("channel", st.channel.as_str()),
        place: app.node_name(&st.location.node_code).await,
        place_code: st.location.node_code.clone(),
        room_link: st.status == fengqiao_domain::case::Status::InMediation
            || !st.room.invitations.is_empty()
            || st.room.messages > 0,
        may_dossier: s.actor.role.is_staff()
            && s.actor.role != fengqiao_domain::access::Role::Expert,
        address: st.location.address.clone().unwrap_or_default(),
        registered: fmt_ms(st.registered_at),
        occurred: st.occurred_at.map(fmt_ms).unwrap_or_default(),
        due: st
            .deadline
            .as_ref()
            .map(|d| d.due.to_string())
            .unwrap_or_default(),
        amount: st.amount_fen.map(fmt_fen).unwrap_or_default(),
        people: st
            .people_involved
            .map(|p| p.to_string())
            .unwrap_or_default(),
        complexity: t.label("complexity", st.complexity.as_str()),
        lead_unit,
        // Numbers typed into the text are masked like the parties' (same length, so the
        // reader's spans still fit).
        segments: segments(
            &fengqiao_domain::validate::mask_numbers_in_text(&st.text),
            &mut marks,
        ),
        filled,
        parties,
        events,
        attachments: st
            .attachments
            .iter()
            .map(|a| (a.id.clone(), a.filename.clone(), a.content_type.clone()))
            .collect(),
        cues,
        duplicates,
        summons,
        summonable,
        experts,
        expert_candidates,
        consultations,
        may_answer,
        supervisions: st
            .supervisions
            .iter()
            .map(|v| SupervisionView {
                no: v.no,
                reason: v.reason.clone(),
                reply_due: v.reply_due.to_string(),
                reply: v.reply.clone().unwrap_or_default(),
                automatic: v.automatic,
                escalations: v.escalations,
            })
            .collect(),
        actions,
        may_attach: app.may_attach(&s.actor, &c),
        merged_into: st.merged_into.unwrap_or(0),
        sources,
        types: choices(
            &t,
            "type",
            DisputeType::ALL,
            DisputeType::as_str,
            st.dispute_type.as_str(),
        ),
        risks: choices(
            &t,
            "risk",
            RiskLevel::ALL,
            RiskLevel::as_str,
            st.risk_level.as_str(),
        ),
        complexities: choices(
            &t,
            "complexity",
            Complexity::ALL,
            Complexity::as_str,
            st.complexity.as_str(),
        ),
        today: fengqiao_domain::time::local_date(app.now()).to_string(),
        feedback: st.feedback.clone().unwrap_or_default(),
        outcome,
        evaluation: st
            .evaluation
            .as_ref()
            .map(|e| {
                format!(
                    "{} / 5 {}",
                    e.satisfaction,
                    e.comment.clone().unwrap_or_default()
                )
            })
            .unwrap_or_default(),
        error,
        signed_in: true,
        csrf,
    })
}

fn invalid(field: &'static str) -> AppError {
    DomainError::validation(field, "invalid").into()
}

/// The command a case page form stands for.
fn command_of(f: &Fields) -> Result<Command, AppError> {
    let text = |k: &str| f.get(k).to_string();
    let id = |k: &'static str| f.get(k).parse::<i64>().map_err(|_| invalid(k));
    Ok(match f.get("action") {
        "reject" => Command::Reject {
            reason: text("reason"),
        },
        "route" => Command::Route {
            lead_unit_id: id("lead_unit_id")?,
            co_unit_ids: f
                .all("co_unit_ids")
                .iter()
                .filter_map(|v| v.parse().ok())
                .filter(|u| Some(*u) != f.get("lead_unit_id").parse().ok())
                .collect(),
        },
        "accept" => Command::Accept,
        "return" => Command::Return {
            reason: text("reason"),
        },
        "start_mediation" => Command::StartMediation,
        "record_session" => Command::RecordSession(MediationSession {
            date: chrono::NaiveDate::parse_from_str(f.get("date"), "%Y-%m-%d")
                .map_err(|_| invalid("date"))?,
            mediator: text("mediator"),
            place: f.opt("place"),
            online: f.get("online") == "on",
            participants: f
                .get("participants")
                .split(['，', ',', '、'])
                .map(|s| s.trim().to_string())
                .filter(|s| !s.is_empty())
                .collect(),
            notes: text("notes"),
        }),
        "conclude" => Command::Conclude {
            outcome: match f.get("outcome") {
                "agreement" => Outcome::Agreement {
                    agreement: text("agreement"),
                },
                "no_agreement" => Outcome::NoAgreement {
                    referral: Referral::parse(f.get("referral"))
                        .ok_or_else(|| invalid("referral"))?,
                    note: text("note"),
                },
                "withdrawn" => Outcome::Withdrawn { note: text("note") },
                _ => return Err(invalid("outcome")),
            },
        },
        "give_feedback" => Command::GiveFeedback { text: text("text") },
        "evaluate" => Command::Evaluate {
            satisfaction: f
                .get("satisfaction")
                .parse()
                .map_err(|_| invalid("satisfaction"))?,
            comment: f.opt("comment"),
        },
        "archive" => Command::Archive,
        "reopen" => Command::Reopen {
            reason: text("reason"),
            complaint_case_id: None,
        },
        "open_supervision" => Command::OpenSupervision {
            reason: text("reason"),
        },
        "summon_units" => Command::SummonUnits {
            unit_ids: f
                .all("unit_ids")
                .iter()
                .filter_map(|v| v.parse().ok())
                .collect(),
            hours: f.get("hours").parse().map_err(|_| invalid("hours"))?,
            note: text("note"),
        },
        "add_expert" => Command::AddExpert {
            user_id: id("user_id")?,
            question: text("question"),
        },
        "remove_expert" => Command::RemoveExpert {
            user_id: id("user_id")?,
        },
        "answer_consultation" => Command::AnswerConsultation {
            answer: text("answer"),
        },
        "answer_summons" => Command::AnswerSummons {
            reply: text("reply"),
        },
        "reply_supervision" => Command::ReplySupervision {
            no: f.get("no").parse().map_err(|_| invalid("no"))?,
            reply: text("reply"),
        },
        "request_extension" => Command::RequestExtension {
            working_days: f
                .get("working_days")
                .parse()
                .map_err(|_| invalid("working_days"))?,
            reason: text("reason"),
        },
        "approve_extension" => Command::ApproveExtension,
        "reject_extension" => Command::RejectExtension {
            reason: text("reason"),
        },
        "merge" => Command::Merge {
            into_case_id: id("case_id")?,
            reason: f
                .opt("reason")
                .unwrap_or_else(|| "duplicate (merged by staff)".into()),
        },
        "unmerge" => Command::Unmerge {
            reason: text("reason"),
        },
        "unlink" => Command::Unlink {
            case_id: id("case_id")?,
            reason: f
                .opt("reason")
                .unwrap_or_else(|| "not the same dispute (unlinked by staff)".into()),
        },
        "link" => Command::Link {
            case_id: id("case_id")?,
            reason: f
                .opt("reason")
                .unwrap_or_else(|| "duplicate (confirmed by staff)".into()),
        },
        "edit" => Command::Edit(CaseEdit {
            text: None,
            dispute_type: DisputeType::parse(f.get("dispute_type")),
            subtype: None,
            complexity: Complexity::parse(f.get("complexity")),
            risk_level: RiskLevel::parse(f.get("risk_level")),
            amount_fen: match f.opt("amount") {
                Some(a) => {
                    Some((a.parse::<f64>().map_err(|_| invalid("amount"))? * 100.0).round() as i64)
                }
                None => None,
            },
            people_involved: match f.opt("people") {
                Some(p) => Some(p.parse().map_err(|_| invalid("people"))?),
                None => None,
            },
            location: None,
            occurred_at: None,
        }),
        _ => return Err(invalid("action")),
    })
}

/// Runs the action of a case page form, then shows the case again (post/redirect/get); an
/// error shows the page with the message. An expired session keeps the typed fields.
pub async fn act(
    State(app): State<Arc<App>>,
    t: Tr,
    web: Web,
    Path(id): Path<i64>,
    body: Bytes,
) -> Response {
    let f = Fields::parse(&body);
    let Some((s, _)) = &web.session else {
        return expired_login(t, &format!("/cases/{id}"), &body);
    };
    if !web.csrf_ok(f.get("csrf")) {
        return (StatusCode::FORBIDDEN, t.s("error.csrf").to_string()).into_response();
    }
    let result = match command_of(&f) {
        Ok(cmd) => app.act(&s.actor, id, &cmd).await.map(|_| ()),
        Err(e) => Err(e),
    };
    match result {
        Ok(()) => Redirect::to(&format!("/cases/{id}")).into_response(),
        Err(AppError::NotFound(w)) => error_page(t, &AppError::NotFound(w), true, web.csrf()),
        Err(e) => {
            let msg = crate::view::error_message(&t, &e);
            case_response(&app, t, &web, id, msg, StatusCode::UNPROCESSABLE_ENTITY).await
        }
    }
}

pub struct SuggestionView {
    pub id: i64,
    pub name: String,
    pub kind: String,
    pub open: u64,
    pub reasons: String,
    pub first: bool,
}

#[derive(Template)]
#[template(path = "route_dialog.html")]
pub struct RouteDialog {
    pub t: Tr,
    pub id: i64,
    pub suggestions: Vec<SuggestionView>,
    pub others: Vec<(i64, String)>,
    pub csrf: String,
}

pub async fn route_dialog(
    State(app): State<Arc<App>>,
    t: Tr,
    web: Web,
    Path(id): Path<i64>,
) -> Response {
    let Some((s, _)) = &web.session else {
        return StatusCode::UNAUTHORIZED.into_response();
    };
    let suggestions: Vec<UnitSuggestion> = match app.suggest_units(&s.actor, id).await {
        Ok(v) => v,
        Err(e) => return error_page(t, &e, true, web.csrf()),
    };
    let all = app.list_units(None).await.unwrap_or_default();
    let others = all
        .into_iter()
        .filter(|u| !suggestions.iter().any(|x| x.unit.id == u.id))
        .map(|u| {
            (
                u.id,
                format!("{}（{}）", u.name, t.label("unit_kind", u.kind.as_str())),
            )
        })
        .collect();
    let suggestions = suggestions
        .into_iter()
        .enumerate()
        .map(|(i, x)| SuggestionView {
            id: x.unit.id,
            name: x.unit.name,
            kind: t.label("unit_kind", x.unit.kind.as_str()),
            open: x.open_cases,
            reasons: x
                .reasons
                .iter()
                .map(|r| t.s(&format!("suggest.{}", r.as_str())).to_string())
                .collect::<Vec<_>>()
                .join("、"),
            first: i == 0,
        })
        .collect();
    render(&RouteDialog {
        t,
        id,
        suggestions,
        others,
        csrf: web.csrf(),
    })
}

pub async fn attachment(
    State(app): State<Arc<App>>,
    t: Tr,
    web: Web,
    Path((id, blob)): Path<(i64, String)>,
) -> Response {
    let Some((s, _)) = &web.session else {
        return to_login(&format!("/cases/{id}"));
    };
    match app.get_attachment(&s.actor, id, &blob).await {
        Ok(b) => attachment_response(b),
        Err(e) => error_page(t, &e, true, web.csrf()),
    }
}

/// A stored file as a download, never a page of this site (pictures still show in `<img>`).
pub fn attachment_response(b: fengqiao_store::Blob) -> Response {
    (
        [
            (header::CONTENT_TYPE, b.content_type.clone()),
            (header::CONTENT_DISPOSITION, "attachment".to_string()),
            (header::X_CONTENT_TYPE_OPTIONS, "nosniff".to_string()),
        ],
        b.bytes,
    )
        .into_response()
}

/// A file added by staff on the case page (multipart: the CSRF token, then the file). Errors
/// (size, type, a file already attached) show the case page with the message.
pub async fn upload(
    State(app): State<Arc<App>>,
    t: Tr,
    web: Web,
    Path(id): Path<i64>,
    mut m: axum::extract::Multipart,
) -> Response {
    let Some((s, _)) = &web.session else {
        return to_login(&format!("/cases/{id}"));
    };
    let mut csrf = String::new();
    let mut file: Option<(String, Vec<u8>)> = None;
    let unreadable = || AppError::from(DomainError::validation("file", "unreadable"));
    loop {
        match m.next_field().await {
            Ok(Some(field)) => {
                let name = field.name().unwrap_or("").to_string();
                if name == "file" {
                    let filename = field.file_name().unwrap_or("file").to_string();
                    match field.bytes().await {
                        Ok(b) if !b.is_empty() => file = Some((filename, b.to_vec())),
                        Ok(_) => {}
                        Err(_) => return upload_error(&app, t, &web, id, unreadable()).await,
                    }
                } else if name == "csrf" {
                    csrf = field.text().await.unwrap_or_default();
                }
            }
            Ok(None) => break,
            Err(_) => return upload_error(&app, t, &web, id, unreadable()).await,
        }
    }
    if !web.csrf_ok(&csrf) {
        return (StatusCode::FORBIDDEN, t.s("error.csrf").to_string()).into_response();
    }
    let Some((filename, bytes)) = file else {
        return upload_error(&app, t, &web, id, invalid("file")).await;
    };
    match app.add_attachment(&s.actor, id, &filename, bytes).await {
        Ok(_) => Redirect::to(&format!("/cases/{id}")).into_response(),
        Err(e) => upload_error(&app, t, &web, id, e).await,
    }
}

async fn upload_error(app: &App, t: Tr, web: &Web, id: i64, e: AppError) -> Response {
    let msg = crate::view::error_message(&t, &e);
    case_response(app, t, web, id, msg, StatusCode::UNPROCESSABLE_ENTITY).await
}
