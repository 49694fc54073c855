//! The citizen portal: the form a village's QR code opens, the tracking code, progress by
//! code + phone, and the satisfaction rating (the printable QR poster is in `poster`). No account, no
//! JavaScript needed; large text.
use crate::i18n::Tr;
use crate::staff::Fields;
use crate::view::{fmt_ms, render};
use askama::Template;
use axum::body::Bytes;
use axum::extract::{Multipart, Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use fengqiao_app::cases::{new_tracking_code, PublicSubmission};
use fengqiao_app::{App, AppError};
use serde::Deserialize;
use std::sync::Arc;

/// At most this many photos with one submission.
pub const MAX_PHOTOS: usize = 3;

#[derive(Template)]
#[template(path = "citizen_form.html")]
pub struct FormPage {
    pub t: Tr,
    pub node: String,
    pub place: String,
    pub form_key: String,
    pub text: String,
    pub name: String,
    pub phone: String,
    pub error: String,
    pub max_photos: usize,
    pub max_mb: usize,
}

fn form_page(app: &App, t: Tr, node: String, place: String) -> FormPage {
    FormPage {
        t,
        node,
        place,
        // A fresh key per form shown: a second press of "submit" replays, never duplicates.
        form_key: format!("web-{}", new_tracking_code()),
        text: String::new(),
        name: String::new(),
        phone: String::new(),
        error: String::new(),
        max_photos: MAX_PHOTOS,
        max_mb: app.settings.max_attachment_bytes / (1024 * 1024),
    }
}

pub async fn form(State(app): State<Arc<App>>, t: Tr, Path(node): Path<String>) -> Response {
    match app.get_jurisdiction(&node).await {
        Ok(j) => render(&form_page(&app, t, node, j.name)),
        Err(e) => crate::view::error_page(t, &e, false, String::new()),
    }
}

/// What the multipart form carried.
#[derive(Default)]
struct Submitted {
    text: String,
    name: String,
    phone: String,
    consent: bool,
    form_key: String,
    photos: Vec<(String, Vec<u8>)>,
}

async fn read_form(mut m: Multipart) -> Result<Submitted, AppError> {
    let mut s = Submitted::default();
    let bad = |_| {
        AppError::from(fengqiao_domain::DomainError::validation(
            "form",
            "unreadable",
        ))
    };
    while let Some(field) = m.next_field().await.map_err(bad)? {
        let name = field.name().unwrap_or("").to_string();
        if name == "photos" {
            let filename = field.file_name().unwrap_or("photo").to_string();
            let bytes = field.bytes().await.map_err(bad)?;
            if !bytes.is_empty() {
                s.photos.push((filename, bytes.to_vec()));
            }
            continue;
        }
        let value = field.text().await.map_err(bad)?;
        match name.as_str() {
            "text" => s.text = value,
            "name" => s.name = value,
            "phone" => s.phone = value.trim().to_string(),
            "consent" => s.consent = value == "on" || value == "yes",
            "form_key" => s.form_key = value,
            _ => {}
        }
    }
    Ok(s)
}

/// Registers the submission. Photos are checked before anything is written; any error shows
/// the form again with everything typed still in it.
pub async fn submit(
    State(app): State<Arc<App>>,
    t: Tr,
    Path(node): Path<String>,
    m: Multipart,
) -> Response {
    let place = match app.get_jurisdiction(&node).await {
        Ok(j) => j.name,
        Err(e) => return crate::view::error_page(t, &e, false, String::new()),
    };
    let s = match read_form(m).await {
        Ok(s) => s,
        Err(e) => {
            let mut page = form_page(&app, t, node, place);
            page.error = crate::view::error_message(&t, &e);
            return (StatusCode::BAD_REQUEST, render(&page)).into_response();
        }
    };
    let fail = |e: &AppError, s: &Submitted| {
        let mut page = form_page(&app, t, node.clone(), place.clone());
        page.error = crate::view::error_message(&t, e);
        page.text = s.text.clone();
        page.name = s.name.clone();
        page.phone = s.phone.clone();
        if !s.form_key.is_empty() {
            page.form_key = s.form_key.clone();
        }
        (StatusCode::BAD_REQUEST, render(&page)).into_response()
    };
    if s.photos.len() > MAX_PHOTOS {
        return fail(
            &fengqiao_domain::DomainError::validation("photos", "too_many").into(),
            &s,
        );
    }
    for (name, bytes) in &s.photos {
        if let Err(e) = app.check_attachment(name, bytes) {
            return fail(&e, &s);
        }
    }
    let submission = PublicSubmission {
        text: s.text.clone(),
        node_code: node.clone(),
        name: Some(s.name.clone()).filter(|n| !n.trim().is_empty()),
        phone: s.phone.clone(),
        address: None,
        occurred_at: None,
        consent: s.consent,
    };
    let key = Some(s.form_key.as_str()).filter(|k| !k.is_empty());
    let (case, created) = match app.submit_public(&submission, key).await {
        Ok(r) => r,
        Err(e) => return fail(&e, &s),
    };
    if created {
        for (name, bytes) in s.photos {
            if let Err(e) = app
                .add_public_attachment(&case.state.tracking_code, &s.phone, &name, bytes)
                .await
            {
                tracing::warn!(case = case.id, error = %e, "photo not attached");
            }
        }
    }
    Redirect::to(&format!("/track/done?code={}", case.state.tracking_code)).into_response()
}

#[derive(Template)]
#[template(path = "track.html")]
pub struct TrackPage {
    pub t: Tr,
    pub code: String,
    pub just_submitted: bool,
    pub error: String,
}

#[derive(Deserialize)]
pub struct CodeQuery {
    code: Option<String>,
}

pub async fn track_page(t: Tr, Query(q): Query<CodeQuery>) -> Response {
    render(&TrackPage {
        t,
        code: q.code.clone().unwrap_or_default(),
        just_submitted: false,
        error: String::new(),
    })
}

pub async fn done_page(t: Tr, Query(q): Query<CodeQuery>) -> Response {
    render(&TrackPage {
        t,
        code: q.code.unwrap_or_default(),
        just_submitted: true,
        error: String::new(),
    })
}

pub struct StepView {
    pub at: String,
    pub action: String,
}

#[derive(Template)]
#[template(path = "progress.html")]
pub struct ProgressPage {
    pub t: Tr,
    pub code: String,
    pub phone: String,
    pub status: String,
    pub dispute_type: String,
    pub registered: String,
    pub lead_unit: String,
    pub feedback: String,
    pub rated: String,
    pub can_rate: bool,
    pub steps: Vec<StepView>,
    pub message: String,
}

async fn progress(app: &App, t: Tr, code: &str, phone: &str, message: String) -> Response {
    match app.public_progress(code, phone).await {
        Ok(p) => render(&ProgressPage {
            t,
            code: p.tracking_code,
            phone: phone.to_string(),
            status: t.label("status", p.status.as_str()),
            dispute_type: t.label("type", p.dispute_type.as_str()),
            registered: fmt_ms(p.registered_at),
            lead_unit: p.lead_unit.unwrap_or_default(),
            can_rate: p.feedback.is_some() && p.evaluation.is_none(),
            feedback: p.feedback.unwrap_or_default(),
            rated: p
                .evaluation
                .map(|e| format!("{} / 5", e.satisfaction))
                .unwrap_or_default(),
            steps: p
                .steps
                .iter()
                .map(|s| StepView {
                    at: fmt_ms(s.at),
                    action: t.label("action", &s.action),
                })
                .collect(),
            message,
        }),
        Err(e) => (
            StatusCode::NOT_FOUND,
            render(&TrackPage {
                t,
                code: code.to_string(),
                just_submitted: false,
                error: crate::view::error_message(&t, &e),
            }),
        )
            .into_response(),
    }
}

/// Progress, by POST so the phone number stays out of URLs and logs.
pub async fn track(State(app): State<Arc<App>>, t: Tr, body: Bytes) -> Response {
    let f = Fields::parse(&body);
    progress(&app, t, f.get("code"), f.get("phone"), String::new()).await
}

pub async fn rate(State(app): State<Arc<App>>, t: Tr, body: Bytes) -> Response {
    let f = Fields::parse(&body);
    let (code, phone) = (f.get("code"), f.get("phone"));
    let message = match f.get("satisfaction").parse::<u8>() {
        Ok(n) => match app.public_evaluate(code, phone, n, f.opt("comment")).await {
            Ok(()) => t.s("track.thanks").to_string(),
            Err(e) => crate::view::error_message(&t, &e),
        },
        Err(_) => t.s("track.choose_rating").to_string(),
    };
    progress(&app, t, code, phone, message).await
}
