//! Records pushed by other systems, and the channels' field mappings.
use super::ApiResult;
use crate::error::{Body, ErrorBody};
use crate::extract::Authed;
use axum::extract::{Path, State};
use axum::Json;
use fengqiao_app::imports::ImportReport;
use fengqiao_app::App;
use serde::Deserialize;
use std::sync::Arc;
use utoipa::ToSchema;

#[derive(Debug, Deserialize, ToSchema)]
pub struct RecordBatch {
    /// Up to 1,000 records, each an object keyed by the source system's column names (as
    /// the channel's mapping names them).
    #[schema(value_type = Vec<Object>)]
    pub records: Vec<serde_json::Value>,
}

/// Pushes a batch of a channel's records (`police`, `court_prelitigation`, `petition`,
/// `labour_arbitration`, `judicial_mediation`, `hotline_12345`). A record is one case: sent
/// again it is recognised by its source id (updated when it changed); bad records are
/// reported by position and field while the good ones land.
#[utoipa::path(post, path = "/api/v1/channels/{channel}/records", tag = "channels", security(("bearer" = [])),
    params(("channel" = String, Path)), request_body = RecordBatch,
    responses((status = 200, body = ImportReport), (status = 403, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn push(
    State(app): State<Arc<App>>,
    Authed(s): Authed,
    Path(channel): Path<String>,
    Body(b): Body<RecordBatch>,
) -> ApiResult<Json<ImportReport>> {
    Ok(Json(
        app.push_records(&s.actor, &channel, &b.records).await?,
    ))
}
