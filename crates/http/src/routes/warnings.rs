//! Early warnings: the list a user may see, one warning with its evidence and log, the actions
//! on it, the hotspot map, and running the early warning on demand.
use super::ApiResult;
use crate::error::ErrorBody;
use crate::extract::{Authed, Params};
use axum::extract::{Path, State};
use axum::Json;
use chrono::NaiveDate;
use fengqiao_app::warnings::{HotspotMap, WarningRunReport};
use fengqiao_app::App;
use fengqiao_domain::warning::{Warning, WarningAction};
use serde::Deserialize;
use std::sync::Arc;
use utoipa::{IntoParams, ToSchema};

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ListParams {
    /// Only open, acknowledged or handled warnings (default true).
    pub live: Option<bool>,
    /// At most this many, newest first (default 100, at most 1000).
    pub limit: Option<u32>,
}

/// Warnings in the user's scope or assigned to the user's unit, newest first.
#[utoipa::path(get, path = "/api/v1/warnings", tag = "warnings", security(("bearer" = [])), params(ListParams),
    responses((status = 200, body = [Warning]), (status = 403, body = ErrorBody)))]
pub async fn list(
    State(app): State<Arc<App>>,
    Authed(s): Authed,
    Params(p): Params<ListParams>,
) -> ApiResult<Json<Vec<Warning>>> {
    Ok(Json(
        app.list_warnings(&s.actor, p.live.unwrap_or(true), p.limit.unwrap_or(100))
            .await?,
    ))
}

/// One warning with its evidence, responsible units and log (404 when out of the user's reach).
#[utoipa::path(get, path = "/api/v1/warnings/{id}", tag = "warnings", security(("bearer" = [])),
    params(("id" = i64, Path, description = "Warning id")),
    responses((status = 200, body = Warning), (status = 404, body = ErrorBody)))]
pub async fn get(
    State(app): State<Arc<App>>,
    Authed(s): Authed,
    Path(id): Path<i64>,
) -> ApiResult<Json<Warning>> {
    Ok(Json(app.get_warning(&s.actor, id).await?))
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct ActRequest {
    /// `acknowledge`, `handle` (say what was done in `note`) or `close`.
    pub action: WarningAction,
    #[serde(default)]
    pub note: String,
}

/// Acknowledge, record handling, or close a warning.
#[utoipa::path(post, path = "/api/v1/warnings/{id}/actions", tag = "warnings", security(("bearer" = [])),
    params(("id" = i64, Path, description = "Warning id")), request_body = ActRequest,
    responses((status = 200, body = Warning), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn act(
    State(app): State<Arc<App>>,
    Authed(s): Authed,
    Path(id): Path<i64>,
    crate::error::Body(r): crate::error::Body<ActRequest>,
) -> ApiResult<Json<Warning>> {
    Ok(Json(
        app.act_on_warning(&s.actor, id, r.action, &r.note).await?,
    ))
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct RunRequest {
    /// The day to analyse (default: today so far).
    pub day: Option<NaiveDate>,
}

/// Runs the early warning now (supervisors, admins); the monitor runs it daily by itself.
#[utoipa::path(post, path = "/api/v1/warnings/run", tag = "warnings", security(("bearer" = [])), request_body = RunRequest,
    responses((status = 200, body = WarningRunReport), (status = 403, body = ErrorBody)))]
pub async fn run(
    State(app): State<Arc<App>>,
    Authed(s): Authed,
    crate::error::Body(r): crate::error::Body<RunRequest>,
) -> ApiResult<Json<WarningRunReport>> {
    Ok(Json(app.run_warnings_as(&s.actor, r.day).await?))
}

/// Hot spots of the last run (Getis-Ord Gi* per village, FDR-controlled).
#[utoipa::path(get, path = "/api/v1/warnings/hotspots", tag = "warnings", security(("bearer" = [])),
    responses((status = 200, body = HotspotMap), (status = 403, body = ErrorBody)))]
pub async fn hotspots(
    State(app): State<Arc<App>>,
    Authed(s): Authed,
) -> ApiResult<Json<HotspotMap>> {
    if !s
        .actor
        .role
        .permits(fengqiao_domain::access::Operation::ViewWarnings)
    {
        return Err(fengqiao_app::AppError::from(fengqiao_domain::DomainError::Forbidden).into());
    }
    Ok(Json(app.hotspots().await?))
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct SummonRequest {
    /// Units to summon (those of the warning's county).
    pub unit_ids: Vec<i64>,
    /// Hours each has to answer (1–168).
    pub hours: u32,
}

/// 吹哨: summon several units to a warning at once; each must answer within the time limit.
#[utoipa::path(post, path = "/api/v1/warnings/{id}/summons", tag = "warnings", security(("bearer" = [])),
    params(("id" = i64, Path, description = "Warning id")), request_body = SummonRequest,
    responses((status = 200, body = Warning), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn summon(
    State(app): State<Arc<App>>,
    Authed(s): Authed,
    Path(id): Path<i64>,
    crate::error::Body(r): crate::error::Body<SummonRequest>,
) -> ApiResult<Json<Warning>> {
    Ok(Json(
        app.summon_units(&s.actor, id, &r.unit_ids, r.hours).await?,
    ))
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct ReplyRequest {
    /// What the unit will do (or has done).
    pub reply: String,
}

/// A summoned unit answers (报到), through one of its members.
#[utoipa::path(post, path = "/api/v1/warnings/{id}/summons/reply", tag = "warnings", security(("bearer" = [])),
    params(("id" = i64, Path, description = "Warning id")), request_body = ReplyRequest,
    responses((status = 200, body = Warning), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn reply(
    State(app): State<Arc<App>>,
    Authed(s): Authed,
    Path(id): Path<i64>,
    crate::error::Body(r): crate::error::Body<ReplyRequest>,
) -> ApiResult<Json<Warning>> {
    Ok(Json(app.respond_summons(&s.actor, id, &r.reply).await?))
}
