use super::ApiResult;
use crate::error::{ApiError, Body, ErrorBody};
use crate::extract::Authed;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use fengqiao_app::text::CaseAnalysis;
use fengqiao_app::App;
use fengqiao_domain::access::Role;
use serde::Deserialize;
use serde_json::Value;
use std::sync::Arc;
use utoipa::ToSchema;

/// A text to read.
#[derive(Debug, Deserialize, ToSchema)]
pub struct AnalyzeRequest {
    pub text: String,
    /// When it was reported (UTC milliseconds); now by default. Relative times (昨天, 上周三)
    /// are read against it.
    pub reported_at: Option<i64>,
}

/// Reads a dispute text: who, what, where, when, why, type, risk cues, money, numbers.
#[utoipa::path(post, path = "/api/v1/text/analyze", tag = "text", security(("bearer" = [])), request_body = AnalyzeRequest,
    responses((status = 200, body = Object), (status = 422, body = ErrorBody), (status = 403, body = ErrorBody)))]
pub async fn analyze(
    State(app): State<Arc<App>>,
    Authed(s): Authed,
    Body(req): Body<AnalyzeRequest>,
) -> ApiResult<Json<Value>> {
    if s.actor.role == Role::Citizen {
        return Err(ApiError::new(StatusCode::FORBIDDEN, "forbidden", None));
    }
    let a = app.analyze_text(&req.text, req.reported_at).await?;
    Ok(Json(serde_json::to_value(a).unwrap_or_default()))
}

/// What the reader found in a case on arrival: elements, what it filled in, duplicate
/// candidates and the ones linked automatically.
#[utoipa::path(get, path = "/api/v1/cases/{id}/analysis", tag = "text", security(("bearer" = [])), params(("id" = i64, Path)),
    responses((status = 200, body = CaseAnalysis), (status = 404, body = ErrorBody)))]
pub async fn case_analysis(
    State(app): State<Arc<App>>,
    Authed(s): Authed,
    Path(id): Path<i64>,
) -> ApiResult<Json<CaseAnalysis>> {
    match app.case_analysis(&s.actor, id).await? {
        Some(a) => Ok(Json(a)),
        None => Err(ApiError::new(StatusCode::NOT_FOUND, "not_found", None)),
    }
}
