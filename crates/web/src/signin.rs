//! The steps of signing in after the password: a forced password change, the TOTP code, or
//! enrolling a TOTP second factor. The session cookie is set at the password; until its stage
//! is `full` it opens only these pages.
use crate::i18n::Tr;
use crate::session::{cookie, csrf_of, COOKIE};
use crate::staff::{local_next, Fields};
use crate::view::{error_message, render};
use askama::Template;
use axum::body::Bytes;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use fengqiao_app::{App, AppError};
use fengqiao_domain::security::SessionStage;
use serde::Deserialize;
use std::sync::Arc;

#[derive(Template)]
#[template(path = "signin_step.html")]
struct StepPage {
    t: Tr,
    step: &'static str,
    title_key: &'static str,
    next: String,
    csrf: String,
    error: String,
    qr: String,
    secret: String,
    signed_in: bool,
}

/// Where a session at `stage` goes next.
pub fn step_location(stage: SessionStage, next: &str) -> String {
    let enc: String = form_urlencoded::byte_serialize(next.as_bytes()).collect();
    match stage {
        SessionStage::Full => next.to_string(),
        SessionStage::ChangePassword => format!("/login/password?next={enc}"),
        SessionStage::SecondFactor => format!("/login/code?next={enc}"),
        SessionStage::EnrolSecondFactor => format!("/login/enrol?next={enc}"),
    }
}

#[derive(Deserialize)]
pub struct NextQuery {
    next: Option<String>,
}

async fn page(
    app: &App,
    t: Tr,
    token: &str,
    stage: SessionStage,
    next: String,
    error: String,
) -> Response {
    let (qr, secret) = if stage == SessionStage::EnrolSecondFactor {
        match app.begin_totp_enrolment(token).await {
            Ok(e) => (
                crate::poster::qr_svg(&e.otpauth_uri, 200).unwrap_or_default(),
                e.secret,
            ),
            Err(e) => return failed(t, &e),
        }
    } else {
        (String::new(), String::new())
    };
    let title_key = match stage {
        SessionStage::ChangePassword => "signin.password_title",
        SessionStage::EnrolSecondFactor => "signin.enrol_title",
        _ => "signin.code_title",
    };
    let status = if error.is_empty() {
        StatusCode::OK
    } else {
        StatusCode::BAD_REQUEST
    };
    (
        status,
        render(&StepPage {
            t,
            step: stage.as_str(),
            title_key,
            next,
            csrf: csrf_of(token),
            error,
            qr,
            secret,
            signed_in: false,
        }),
    )
        .into_response()
}

fn failed(t: Tr, e: &AppError) -> Response {
    crate::view::error_page(t, e, false, String::new())
}

/// Shows the page of the session's current step (or moves on when it is elsewhere).
pub async fn step_page(
    State(app): State<Arc<App>>,
    t: Tr,
    headers: HeaderMap,
    Query(q): Query<NextQuery>,
) -> Response {
    let next = local_next(q.next.as_deref());
    let Some(token) = cookie(&headers, COOKIE) else {
        return Redirect::to("/login").into_response();
    };
    match app.pending_session(&token).await {
        Ok((_, SessionStage::Full)) => Redirect::to(&next).into_response(),
        Ok((_, stage)) => page(&app, t, &token, stage, next, String::new()).await,
        Err(_) => Redirect::to("/login").into_response(),
    }
}

/// Handles one step's form: the password change, the code, or the enrolment's confirmation.
pub async fn step_post(
    State(app): State<Arc<App>>,
    t: Tr,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let f = Fields::parse(&body);
    let next = local_next(Some(f.get("next")));
    let Some(token) = cookie(&headers, COOKIE) else {
        return Redirect::to("/login").into_response();
    };
    let stage = match app.pending_session(&token).await {
        Ok((_, s)) => s,
        Err(_) => return Redirect::to("/login").into_response(),
    };
    if f.get("csrf").is_empty() || f.get("csrf") != csrf_of(&token) {
        return failed(t, &AppError::Unauthenticated);
    }
    let result = match stage {
        SessionStage::Full => return Redirect::to(&next).into_response(),
        SessionStage::ChangePassword if f.get("new") != f.get("again") => {
            let msg = t.s("signin.mismatch").to_string();
            return page(&app, t, &token, stage, next, msg).await;
        }
        SessionStage::ChangePassword => {
            app.change_password(&token, f.get("current"), f.get("new"))
                .await
        }
        SessionStage::SecondFactor => app.verify_second_factor(&token, f.get("code")).await,
        SessionStage::EnrolSecondFactor => app.confirm_totp_enrolment(&token, f.get("code")).await,
    };
    match result {
        Ok(s) => Redirect::to(&step_location(s.next_step, &next)).into_response(),
        Err(e) => match app.pending_session(&token).await {
            // Still at a step (a wrong code, a weak password): the same page with the reason.
            Ok((_, now_at)) => page(&app, t, &token, now_at, next, error_message(&t, &e)).await,
            // Too many wrong codes end the session.
            Err(_) => Redirect::to("/login").into_response(),
        },
    }
}
