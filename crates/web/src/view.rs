//! Shapes the pages show: formatted times, case rows, error pages.
use crate::i18n::Tr;
use askama::Template;
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};
use fengqiao_app::{App, AppError};
use fengqiao_domain::time::{cst, Millis};
use fengqiao_store::StoredCase;

/// China time, to the minute.
pub fn fmt_ms(ms: Millis) -> String {
    chrono::DateTime::from_timestamp_millis(ms)
        .map(|t| t.with_timezone(&cst()).format("%Y-%m-%d %H:%M").to_string())
        .unwrap_or_default()
}

/// Yuan with two decimals.
pub fn fmt_fen(fen: i64) -> String {
    format!("{}.{:02}", fen / 100, (fen % 100).abs())
}

/// Renders a template, or a plain 500 when rendering fails.
pub fn render<T: Template>(t: &T) -> Response {
    match t.render() {
        Ok(html) => Html(html).into_response(),
        Err(e) => {
            tracing::error!(error = %e, "template");
            (StatusCode::INTERNAL_SERVER_ERROR, "template error").into_response()
        }
    }
}

/// One line of a case list.
pub struct CaseRow {
    pub id: i64,
    pub tracking_code: String,
    pub status: String,
    pub dispute_type: String,
    pub light: &'static str,
    pub light_label: String,
    pub place: String,
    pub registered: String,
    pub due: String,
    pub summary: String,
    pub channel: String,
}

impl CaseRow {
    pub async fn of(app: &App, t: &Tr, c: &StoredCase) -> CaseRow {
        let s = &c.state;
        CaseRow {
            id: c.id,
            tracking_code: s.tracking_code.clone(),
            status: t.label("status", s.status.as_str()),
            dispute_type: t.label("type", s.dispute_type.as_str()),
            light: s.light.as_str(),
            light_label: t.label("light", s.light.as_str()),
            place: app.node_name(&s.location.node_code).await,
            registered: fmt_ms(s.registered_at),
            due: s
                .deadline
                .as_ref()
                .map(|d| d.due.to_string())
                .unwrap_or_default(),
            summary: fengqiao_domain::validate::mask_numbers_in_text(&s.text)
                .chars()
                .take(40)
                .collect(),
            channel: t.label("channel", s.channel.as_str()),
        }
    }

    pub async fn all(app: &App, t: &Tr, cases: &[StoredCase]) -> Vec<CaseRow> {
        let mut out = Vec::with_capacity(cases.len());
        for c in cases {
            out.push(CaseRow::of(app, t, c).await);
        }
        out
    }
}

#[derive(Template)]
#[template(path = "error.html")]
pub struct ErrorPage {
    pub t: Tr,
    pub title: String,
    pub message: String,
    pub signed_in: bool,
    pub csrf: String,
}

/// The message of an application error in the user's language (the API's error texts).
pub fn error_message(t: &Tr, e: &AppError) -> String {
    let key = format!("errors.{}", e.code());
    let s = t.s(&key);
    if s == key {
        t.s("errors.generic").to_string()
    } else {
        s.to_string()
    }
}

/// The status the API would give for an error.
pub fn status_of(e: &AppError) -> StatusCode {
    match e {
        AppError::NotFound(_) => StatusCode::NOT_FOUND,
        AppError::Unauthenticated
        | AppError::InvalidCredentials
        | AppError::SignInIncomplete(_)
        | AppError::InvalidSecondFactor => StatusCode::UNAUTHORIZED,
        AppError::TooManyAttempts => StatusCode::TOO_MANY_REQUESTS,
        AppError::Domain(
            fengqiao_domain::DomainError::Forbidden | fengqiao_domain::DomainError::SameApprover,
        ) => StatusCode::FORBIDDEN,
        AppError::Domain(
            fengqiao_domain::DomainError::ExportNotPending
            | fengqiao_domain::DomainError::ExportNotAvailable,
        ) => StatusCode::CONFLICT,
        AppError::VideoFull(_) => StatusCode::CONFLICT,
        AppError::Internal(_) | AppError::Store(_) => StatusCode::INTERNAL_SERVER_ERROR,
        _ => StatusCode::BAD_REQUEST,
    }
}

/// An error page with the status the API would give.
pub fn error_page(t: Tr, e: &AppError, signed_in: bool, csrf: String) -> Response {
    let status = status_of(e);
    let page = ErrorPage {
        t,
        title: t.s("error.title").to_string(),
        message: error_message(&t, e),
        signed_in,
        csrf,
    };
    (status, render(&page)).into_response()
}

/// The nodes of a subtree down to `deepest`, parents before their children (the root first).
pub async fn subtree(
    app: &App,
    root_code: &str,
    deepest: fengqiao_domain::jurisdiction::Level,
) -> Vec<fengqiao_domain::jurisdiction::Jurisdiction> {
    let mut out = Vec::new();
    let Ok(root) = app.get_jurisdiction(root_code).await else {
        return out;
    };
    let mut stack = vec![root];
    while let Some(j) = stack.pop() {
        if j.level < deepest {
            let mut children = app
                .list_jurisdictions(Some(&j.code))
                .await
                .unwrap_or_default();
            children.reverse();
            stack.extend(children);
        }
        out.push(j);
    }
    out
}
