use super::ApiResult;
use crate::error::{Body, ErrorBody};
use crate::routes::cases::{created, idempotency_key, CaseView};
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use axum::Json;
use fengqiao_app::cases::{PublicProgress, PublicSubmission};
use fengqiao_app::App;
use serde::Deserialize;
use std::sync::Arc;
use utoipa::ToSchema;

/// A citizen's submission (mobile form reached by the village QR code). The answer carries the
/// tracking code; progress is read with it and the phone number.
#[utoipa::path(post, path = "/api/v1/public/cases", tag = "public", request_body = PublicSubmission,
    params(("Idempotency-Key" = Option<String>, Header, description = "Makes retries safe")),
    responses((status = 201, body = CaseView), (status = 422, body = ErrorBody)))]
pub async fn submit(
    State(app): State<Arc<App>>,
    headers: HeaderMap,
    Body(s): Body<PublicSubmission>,
) -> ApiResult<Response> {
    let key = idempotency_key(&headers)?;
    let (case, new) = app.submit_public(&s, key.as_deref()).await?;
    Ok(created(case.id, fengqiao_app::cases::case_view(&case), new))
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct TrackRequest {
    pub tracking_code: String,
    pub phone: String,
}

/// The citizen's view of progress (tracking code + phone; POST keeps the phone out of URLs).
#[utoipa::path(post, path = "/api/v1/public/track", tag = "public", request_body = TrackRequest,
    responses((status = 200, body = PublicProgress), (status = 404, body = ErrorBody)))]
pub async fn track(
    State(app): State<Arc<App>>,
    Body(r): Body<TrackRequest>,
) -> ApiResult<Json<PublicProgress>> {
    Ok(Json(app.public_progress(&r.tracking_code, &r.phone).await?))
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct EvaluateRequest {
    pub tracking_code: String,
    pub phone: String,
    /// 1 to 5.
    pub satisfaction: u8,
    pub comment: Option<String>,
}

/// The citizen's satisfaction rating after feedback (评价).
#[utoipa::path(post, path = "/api/v1/public/evaluate", tag = "public", request_body = EvaluateRequest,
    responses((status = 204), (status = 409, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn evaluate(
    State(app): State<Arc<App>>,
    Body(r): Body<EvaluateRequest>,
) -> ApiResult<StatusCode> {
    app.public_evaluate(&r.tracking_code, &r.phone, r.satisfaction, r.comment)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}
