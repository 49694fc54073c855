//! The statistics: the cockpit's figures, map boundaries, the monthly report, health checks,
//! and the Fengqiao index's weights.
use super::ApiResult;
use crate::error::ErrorBody;
use crate::extract::{Authed, Params};
use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use fengqiao_app::cockpit::Cockpit;
use fengqiao_app::reports::{HealthCheck, MonthlyReport, Subject};
use fengqiao_app::App;
use fengqiao_domain::indicators::Weights;
use serde::Deserialize;
use std::sync::Arc;
use utoipa::IntoParams;

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct StatsParams {
    /// A jurisdiction code; the user's own scope when absent.
    pub node: Option<String>,
    /// `YYYY-MM`; the last complete month when absent (reports).
    pub month: Option<String>,
    /// A unit id (health checks of a unit).
    pub unit: Option<i64>,
}

/// The cockpit of a jurisdiction: KPIs, trend, type and channel mix, areas, unit ranking, feed.
#[utoipa::path(get, path = "/api/v1/stats/cockpit", tag = "stats", security(("bearer" = [])), params(StatsParams),
    responses((status = 200, body = Cockpit), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn cockpit(
    State(app): State<Arc<App>>,
    Authed(s): Authed,
    Params(p): Params<StatsParams>,
) -> ApiResult<Json<Cockpit>> {
    Ok(Json(app.cockpit(&s.actor, p.node.as_deref()).await?))
}

/// The boundaries of the areas below a jurisdiction (GeoJSON FeatureCollection).
#[utoipa::path(get, path = "/api/v1/stats/geo", tag = "stats", security(("bearer" = [])), params(StatsParams),
    responses((status = 200, body = Object), (status = 403, body = ErrorBody)))]
pub async fn geo(
    State(app): State<Arc<App>>,
    Authed(s): Authed,
    Params(p): Params<StatsParams>,
) -> ApiResult<Json<serde_json::Value>> {
    Ok(Json(app.geo(&s.actor, p.node.as_deref()).await?))
}

/// The monthly analysis report's figures (the pages render them as HTML, PDF and XLSX).
#[utoipa::path(get, path = "/api/v1/reports/monthly", tag = "stats", security(("bearer" = [])), params(StatsParams),
    responses((status = 200, body = MonthlyReport), (status = 403, body = ErrorBody)))]
pub async fn monthly(
    State(app): State<Arc<App>>,
    Authed(s): Authed,
    Params(p): Params<StatsParams>,
) -> ApiResult<Json<MonthlyReport>> {
    Ok(Json(
        app.monthly_report(&s.actor, p.node.as_deref(), p.month.as_deref())
            .await?,
    ))
}

/// The health check of a unit (`unit`) or a place (`node`).
#[utoipa::path(get, path = "/api/v1/reports/health", tag = "stats", security(("bearer" = [])), params(StatsParams),
    responses((status = 200, body = HealthCheck), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn health(
    State(app): State<Arc<App>>,
    Authed(s): Authed,
    Params(p): Params<StatsParams>,
) -> ApiResult<Json<HealthCheck>> {
    let subject = match (p.unit, p.node) {
        (Some(u), _) => Subject::Unit(u),
        (None, Some(code)) => Subject::Place(code),
        (None, None) => {
            return Err(
                fengqiao_domain::DomainError::validation("unit", "give unit or node").into(),
            )
        }
    };
    Ok(Json(
        app.health_check(&s.actor, &subject, p.month.as_deref())
            .await?,
    ))
}

/// The Fengqiao index's weights in force.
#[utoipa::path(get, path = "/api/v1/stats/index-weights", tag = "stats", security(("bearer" = [])),
    responses((status = 200, body = Weights)))]
pub async fn get_weights(State(app): State<Arc<App>>, _a: Authed) -> ApiResult<Json<Weights>> {
    Ok(Json(app.index_weights().await?))
}

/// Sets the Fengqiao index's weights (admins).
#[utoipa::path(put, path = "/api/v1/stats/index-weights", tag = "stats", security(("bearer" = [])), request_body = Weights,
    responses((status = 204), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody)))]
pub async fn put_weights(
    State(app): State<Arc<App>>,
    Authed(s): Authed,
    crate::error::Body(w): crate::error::Body<Weights>,
) -> ApiResult<StatusCode> {
    app.set_index_weights(&s.actor, &w).await?;
    Ok(StatusCode::NO_CONTENT)
}
