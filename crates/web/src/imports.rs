//! The imports page (the centre's dispatchers): upload another system's export (CSV or JSON, UTF-8 or GBK)
//! for a channel and see what landed, what was recognised, and each rejected row's line and
//! reason.
use crate::i18n::Tr;
use crate::session::Web;
use crate::staff::to_login;
use crate::view::{error_message, error_page, render};
use askama::Template;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use fengqiao_app::imports::{ImportReport, BUILTIN_MAPPINGS};
use fengqiao_app::{App, AppError};
use fengqiao_domain::access::{authorize_node, Actor, Operation};
use fengqiao_domain::DomainError;
use std::sync::Arc;

/// Largest file the page takes (bigger exports go through `fengqiao import`).
pub const MAX_UPLOAD: usize = 50 * 1024 * 1024;

/// A rejected row as shown: the reason in the user's language, then what was found.
pub struct RowErrorView {
    pub line: usize,
    pub source_id: String,
    pub field: String,
    pub reason: String,
    pub detail: String,
}

fn row_errors(t: &Tr, report: &ImportReport) -> Vec<RowErrorView> {
    report
        .errors
        .iter()
        .map(|e| {
            let own = format!("imports.reason_{}", e.code);
            let api = format!("errors.{}", e.code);
            let reason = [own.as_str(), api.as_str()]
                .into_iter()
                .map(|k| t.s(k))
                .find(|v| !v.starts_with("imports.") && !v.starts_with("errors."))
                .unwrap_or(e.code.as_str())
                .to_string();
            RowErrorView {
                line: e.line,
                source_id: e.source_id.clone().unwrap_or_default(),
                field: e.field.clone(),
                reason,
                detail: e.reason.clone(),
            }
        })
        .collect()
}

pub struct ChannelChoice {
    pub code: &'static str,
    pub label: String,
    pub columns: String,
    pub selected: bool,
}

#[derive(Template)]
#[template(path = "imports.html")]
pub struct ImportsPage {
    pub t: Tr,
    pub signed_in: bool,
    pub csrf: String,
    pub error: String,
    pub channels: Vec<ChannelChoice>,
    pub report: Option<ImportReport>,
    pub errors: Vec<RowErrorView>,
}

async fn show(
    app: &App,
    t: Tr,
    web: &Web,
    selected: &str,
    report: Option<ImportReport>,
    error: String,
) -> Response {
    if let Err(r) = importer(t, web) {
        return *r;
    }
    let mut channels = Vec::new();
    for (code, _) in BUILTIN_MAPPINGS {
        let columns = match app.channel_mapping(code).await {
            Ok(m) => m.required_columns().join("、"),
            Err(e) => error_message(&t, &e),
        };
        channels.push(ChannelChoice {
            code,
            label: t.label("channel", code),
            columns,
            selected: code == selected,
        });
    }
    let errors = report
        .as_ref()
        .map(|r| row_errors(&t, r))
        .unwrap_or_default();
    render(&ImportsPage {
        t,
        signed_in: true,
        csrf: web.csrf().to_string(),
        error,
        channels,
        report,
        errors,
    })
}

/// The signed-in user if they may import, or the response to give instead.
fn importer(t: Tr, web: &Web) -> Result<Actor, Box<Response>> {
    let Some((s, _)) = &web.session else {
        return Err(Box::new(to_login("/imports")));
    };
    authorize_node(&s.actor, Operation::ImportRecords, &s.actor.scope_path)
        .map_err(|e| Box::new(error_page(t, &AppError::from(e), true, web.csrf())))?;
    Ok(s.actor.clone())
}

pub async fn page(State(app): State<Arc<App>>, t: Tr, web: Web) -> Response {
    show(&app, t, &web, "police", None, String::new()).await
}

/// `POST /admin/imports` (multipart: csrf, channel, file, json).
pub async fn upload(
    State(app): State<Arc<App>>,
    t: Tr,
    web: Web,
    mut m: axum::extract::Multipart,
) -> Response {
    let actor = match importer(t, &web) {
        Ok(a) => a,
        Err(r) => return *r,
    };
    let (mut csrf, mut channel, mut json) = (String::new(), String::new(), false);
    let mut file: Option<Vec<u8>> = None;
    let read: Result<(), ()> = async {
        while let Some(field) = m.next_field().await.map_err(|_| ())? {
            match field.name().unwrap_or("") {
                "file" => {
                    let b = field.bytes().await.map_err(|_| ())?;
                    if !b.is_empty() {
                        file = Some(b.to_vec());
                    }
                }
                "csrf" => csrf = field.text().await.unwrap_or_default(),
                "channel" => channel = field.text().await.unwrap_or_default(),
                "json" => json = true,
                _ => {}
            }
        }
        Ok(())
    }
    .await;
    if read.is_err() {
        let unreadable = AppError::from(DomainError::validation("file", "unreadable"));
        return show(
            &app,
            t,
            &web,
            &channel,
            None,
            error_message(&t, &unreadable),
        )
        .await;
    }
    if !web.csrf_ok(&csrf) {
        return (StatusCode::FORBIDDEN, t.s("error.csrf").to_string()).into_response();
    }
    let result = async {
        let bytes = file.ok_or_else(|| AppError::from(DomainError::validation("file", "empty")))?;
        let mapping = app.channel_mapping(&channel).await?;
        app.import_file(&actor, &mapping, &bytes, json).await
    }
    .await;
    match result {
        Ok(report) => show(&app, t, &web, &channel, Some(report), String::new()).await,
        Err(e) => show(&app, t, &web, &channel, None, error_message(&t, &e)).await,
    }
}
