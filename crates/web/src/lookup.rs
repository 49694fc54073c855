//! `/cases/by-number`: the cases of a person found by an ID-card or phone number (exact, through
//! the blind index; `App::cases_by_party_number`). The number is posted, never in an address,
//! and shown back masked.
use crate::admin::form;
use crate::i18n::Tr;
use crate::session::Web;
use crate::staff::to_login;
use crate::view::{error_message, error_page, render, CaseRow};
use askama::Template;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use fengqiao_app::{App, AppError};
use fengqiao_domain::validate::PersonalNumber;
use fengqiao_domain::DomainError;
use std::sync::Arc;

#[derive(Template)]
#[template(path = "lookup.html")]
pub struct LookupPage {
    pub t: Tr,
    pub signed_in: bool,
    pub csrf: String,
    /// The number looked up, masked; empty before a look-up.
    pub looked_up: String,
    pub rows: Vec<CaseRow>,
    pub error: String,
}

pub async fn page(t: Tr, web: Web) -> Response {
    if web.session.is_none() {
        return to_login("/cases/by-number");
    }
    render(&LookupPage {
        t,
        signed_in: true,
        csrf: web.csrf(),
        looked_up: String::new(),
        rows: Vec::new(),
        error: String::new(),
    })
}

pub async fn post(State(app): State<Arc<App>>, t: Tr, web: Web, body: Bytes) -> Response {
    let (s, f) = match form(t, &web, "/cases/by-number", &body) {
        Ok(x) => x,
        Err(r) => return *r,
    };
    let number = f.get("number");
    match app.cases_by_party_number(&s.actor, number).await {
        Ok(cases) => {
            let mut rows = Vec::with_capacity(cases.len());
            for c in &cases {
                rows.push(CaseRow::of(&app, &t, c).await);
            }
            render(&LookupPage {
                t,
                signed_in: true,
                csrf: web.csrf(),
                looked_up: PersonalNumber::parse(number)
                    .map(|n| n.masked())
                    .unwrap_or_default(),
                rows,
                error: String::new(),
            })
        }
        Err(e @ AppError::Domain(DomainError::Validation { .. })) => (
            StatusCode::UNPROCESSABLE_ENTITY,
            render(&LookupPage {
                t,
                signed_in: true,
                csrf: web.csrf(),
                looked_up: String::new(),
                rows: Vec::new(),
                error: error_message(&t, &e),
            }),
        )
            .into_response(),
        Err(e) => error_page(t, &e, true, web.csrf()),
    }
}
