//! 全息档案 pages: a person (`/people`: by number or by name in a village, posted so that no
//! number is in an address; `/cases/{id}/parties/{index}`: a party of a case) and a place
//! (`/places/{code}`). Every person page is audited by `App::person_dossier`.
use crate::admin::{form, node_choices};
use crate::i18n::Tr;
use crate::session::Web;
use crate::staff::to_login;
use crate::staff::Choice;
use crate::view::{error_message, error_page, fmt_ms, render};
use askama::Template;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use fengqiao_app::auth::Session;
use fengqiao_app::dossier::{PersonDossier, PersonQuery, PlaceDossier};
use fengqiao_app::{App, AppError};
use fengqiao_domain::access::Operation;
use fengqiao_domain::DomainError;
use std::sync::Arc;

/// A case on a person's page, translated.
pub struct PersonRow {
    pub id: i64,
    pub tracking_code: String,
    pub registered: String,
    pub channel: String,
    pub petition: bool,
    pub dispute_type: String,
    pub status: String,
    pub place: String,
    pub name: String,
    pub role: String,
    pub matched_by: String,
    pub confidence: String,
    pub outcome: String,
    pub risk: String,
    pub risk_code: &'static str,
    pub summary: String,
}

#[derive(Template)]
#[template(path = "person.html")]
pub struct PersonPage {
    pub t: Tr,
    pub signed_in: bool,
    pub csrf: String,
    /// The viewer may look people up by number.
    pub by_number: bool,
    pub places: Vec<Choice>,
    pub error: String,
    /// Empty before a look-up.
    pub shown: bool,
    pub name: String,
    pub identified_by: String,
    pub numbers: String,
    pub rows: Vec<PersonRow>,
    pub open: usize,
    pub resolved: usize,
    pub petitions: usize,
    pub as_applicant: usize,
    pub as_respondent: usize,
    pub last_12_months: usize,
    pub repeat: bool,
    pub highest_risk: String,
    pub highest_risk_code: &'static str,
    pub truncated: bool,
}

fn risk_code(g: Option<fengqiao_domain::risk::RiskGrade>) -> &'static str {
    g.map(|g| g.as_str()).unwrap_or("")
}

async fn person_page(
    app: &App,
    t: Tr,
    web: &Web,
    s: &Session,
    d: Option<PersonDossier>,
    error: String,
) -> PersonPage {
    let mut page = PersonPage {
        t,
        signed_in: true,
        csrf: web.csrf(),
        by_number: s.actor.role.permits(Operation::RevealPersonalInfo),
        places: node_choices(app, &s.user.scope_code, "").await,
        error,
        shown: d.is_some(),
        name: String::new(),
        identified_by: String::new(),
        numbers: String::new(),
        rows: Vec::new(),
        open: 0,
        resolved: 0,
        petitions: 0,
        as_applicant: 0,
        as_respondent: 0,
        last_12_months: 0,
        repeat: false,
        highest_risk: String::new(),
        highest_risk_code: "",
        truncated: false,
    };
    let Some(d) = d else { return page };
    page.name = d.name;
    page.identified_by = t.label("person.match", d.identified_by.as_str());
    page.numbers = d.numbers.join(" · ");
    page.open = d.open;
    page.resolved = d.resolved;
    page.petitions = d.petitions;
    page.as_applicant = d.as_applicant;
    page.as_respondent = d.as_respondent;
    page.last_12_months = d.last_12_months;
    page.repeat = d.repeat;
    page.highest_risk = d
        .highest_risk
        .map(|g| t.label("risk_grade", g.as_str()))
        .unwrap_or_default();
    page.highest_risk_code = risk_code(d.highest_risk);
    page.truncated = d.truncated;
    page.rows = d
        .cases
        .into_iter()
        .map(|c| PersonRow {
            id: c.case_id,
            tracking_code: c.tracking_code,
            registered: fmt_ms(c.registered_at),
            channel: t.label("channel", c.channel.as_str()),
            petition: c.channel == fengqiao_domain::case::Channel::Petition,
            dispute_type: t.label("type", c.dispute_type.as_str()),
            status: t.label("status", c.status.as_str()),
            place: c.place,
            name: c.name,
            role: t.label("party_role", c.role.as_str()),
            matched_by: t.label("person.match", c.matched_by.as_str()),
            confidence: format!("{:.0}%", c.confidence * 100.0),
            outcome: c
                .outcome
                .map(|o| t.label("outcome", &o))
                .unwrap_or_default(),
            risk: c
                .risk
                .map(|g| t.label("risk_grade", g.as_str()))
                .unwrap_or_default(),
            risk_code: risk_code(c.risk),
            summary: c.summary,
        })
        .collect();
    page
}

async fn answer(app: &App, t: Tr, web: &Web, s: &Session, q: PersonQuery) -> Response {
    match app.person_dossier(&s.actor, &q).await {
        Ok(d) => render(&person_page(app, t, web, s, Some(d), String::new()).await),
        Err(e @ AppError::Domain(DomainError::Validation { .. })) => (
            StatusCode::UNPROCESSABLE_ENTITY,
            render(&person_page(app, t, web, s, None, error_message(&t, &e)).await),
        )
            .into_response(),
        Err(e) => error_page(t, &e, true, web.csrf()),
    }
}

pub async fn people(State(app): State<Arc<App>>, t: Tr, web: Web) -> Response {
    let Some((s, _)) = &web.session else {
        return to_login("/people");
    };
    render(&person_page(&app, t, &web, s, None, String::new()).await)
}

pub async fn people_post(State(app): State<Arc<App>>, t: Tr, web: Web, body: Bytes) -> Response {
    let (s, f) = match form(t, &web, "/people", &body) {
        Ok(x) => x,
        Err(r) => return *r,
    };
    let q = if !f.get("number").trim().is_empty() {
        PersonQuery::Number {
            number: f.get("number").to_string(),
        }
    } else {
        PersonQuery::Name {
            name: f.get("name").trim().to_string(),
            place_code: f.get("place").to_string(),
        }
    };
    answer(&app, t, &web, s, q).await
}

pub async fn party(
    State(app): State<Arc<App>>,
    t: Tr,
    web: Web,
    Path((id, index)): Path<(i64, usize)>,
) -> Response {
    let Some((s, _)) = &web.session else {
        return to_login(&format!("/cases/{id}/parties/{index}"));
    };
    let q = PersonQuery::Party {
        case_id: id,
        party_index: index,
    };
    answer(&app, t, &web, s, q).await
}

#[derive(Template)]
#[template(path = "place.html")]
pub struct PlacePage {
    pub t: Tr,
    pub signed_in: bool,
    pub csrf: String,
    pub d: PlaceDossier,
    pub level: String,
    /// The tallest month (bars are drawn against it).
    pub peak: i64,
    /// (case id, code, registered, type, status, summary).
    pub recent: Vec<(i64, String, String, String, String, String)>,
    /// (id, level, kind, type, area, status, days).
    pub warnings: Vec<(i64, String, String, String, String, String, String)>,
}

impl PlacePage {
    /// A month's bar height in percent of the tallest month.
    pub fn bar(&self, v: &i64) -> i64 {
        if self.peak == 0 {
            0
        } else {
            (v * 100 + self.peak - 1) / self.peak
        }
    }
}

pub async fn place(
    State(app): State<Arc<App>>,
    t: Tr,
    web: Web,
    Path(code): Path<String>,
) -> Response {
    let Some((s, _)) = &web.session else {
        return to_login(&format!("/places/{code}"));
    };
    let d = match app.place_dossier(&s.actor, &code).await {
        Ok(d) => d,
        Err(e) => return error_page(t, &e, true, web.csrf()),
    };
    let recent = d
        .recent
        .iter()
        .map(|c| {
            (
                c.case_id,
                c.tracking_code.clone(),
                fmt_ms(c.registered_at),
                t.label("type", c.dispute_type.as_str()),
                t.label("status", c.status.as_str()),
                c.summary.clone(),
            )
        })
        .collect();
    let warnings = d
        .warnings
        .iter()
        .map(|w| {
            (
                w.id,
                w.level.clone(),
                t.label("warning_kind", &w.kind),
                t.label("type", w.dispute_type.as_str()),
                w.area.clone(),
                t.label("warning_status", &w.status),
                format!("{} – {}", w.first_day, w.last_day),
            )
        })
        .collect();
    render(&PlacePage {
        t,
        signed_in: true,
        csrf: web.csrf(),
        level: t.label("level", d.level.as_str()),
        peak: d.months.iter().map(|m| m.registered).max().unwrap_or(0),
        recent,
        warnings,
        d,
    })
}
