//! Notifications leaving the system: settings, webhooks, the delivery queue, contacts.
use super::ApiResult;
use crate::error::{Body, ErrorBody};
use crate::extract::{Authed, Params};
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use fengqiao_app::outbound::{CourierReport, OutboundOverview};
use fengqiao_app::App;
use fengqiao_domain::outbound::{
    Contact, Delivery, DeliveryStatus, OutboundConfig, Webhook, WebhookInput,
};
use serde::Deserialize;
use std::sync::Arc;
use utoipa::{IntoParams, ToSchema};

/// Outbound settings (SMTP password hidden), webhooks and the queue's counts (admin).
#[utoipa::path(get, path = "/api/v1/admin/outbound", tag = "outbound", security(("bearer" = [])),
    responses((status = 200, body = OutboundOverview), (status = 403, body = ErrorBody)))]
pub async fn overview(
    State(app): State<Arc<App>>,
    Authed(s): Authed,
) -> ApiResult<Json<OutboundOverview>> {
    Ok(Json(app.outbound_overview(&s.actor).await?))
}

/// Replaces the SMTP and SMS settings (admin); a password of `********` keeps the stored one.
#[utoipa::path(put, path = "/api/v1/admin/outbound", tag = "outbound", security(("bearer" = [])),
    request_body = OutboundConfig,
    responses((status = 204), (status = 422, body = ErrorBody), (status = 403, body = ErrorBody)))]
pub async fn put_config(
    State(app): State<Arc<App>>,
    Authed(s): Authed,
    Body(c): Body<OutboundConfig>,
) -> ApiResult<StatusCode> {
    app.put_outbound_config(&s.actor, c).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Subscribes a webhook (admin): notifications of the kinds given (all when none) are
/// POSTed as JSON, signed `X-Fengqiao-Signature: sha256=HMAC(secret, timestamp + "." + body)`.
#[utoipa::path(post, path = "/api/v1/admin/webhooks", tag = "outbound", security(("bearer" = [])),
    request_body = WebhookInput,
    responses((status = 201, body = Webhook), (status = 422, body = ErrorBody), (status = 403, body = ErrorBody)))]
pub async fn create_webhook(
    State(app): State<Arc<App>>,
    Authed(s): Authed,
    Body(i): Body<WebhookInput>,
) -> ApiResult<(StatusCode, Json<Webhook>)> {
    Ok((
        StatusCode::CREATED,
        Json(app.create_webhook(&s.actor, &i).await?),
    ))
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct ActiveInput {
    pub active: bool,
}

/// Switches a webhook on or off (admin). Deliveries to a webhook switched off are given up.
#[utoipa::path(put, path = "/api/v1/admin/webhooks/{id}/active", tag = "outbound", security(("bearer" = [])),
    params(("id" = i64, Path)), request_body = ActiveInput,
    responses((status = 204), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn set_webhook_active(
    State(app): State<Arc<App>>,
    Authed(s): Authed,
    Path(id): Path<i64>,
    Body(i): Body<ActiveInput>,
) -> ApiResult<StatusCode> {
    app.set_webhook_active(&s.actor, id, i.active).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct DeliveryParams {
    pub status: Option<DeliveryStatus>,
    /// At most this many, newest first (default 100, at most 500).
    pub limit: Option<u32>,
}

/// The delivery queue, newest first; failures carry their last error (admin).
#[utoipa::path(get, path = "/api/v1/admin/deliveries", tag = "outbound", security(("bearer" = [])),
    params(DeliveryParams),
    responses((status = 200, body = Vec<Delivery>), (status = 403, body = ErrorBody)))]
pub async fn deliveries(
    State(app): State<Arc<App>>,
    Authed(s): Authed,
    Params(p): Params<DeliveryParams>,
) -> ApiResult<Json<Vec<Delivery>>> {
    Ok(Json(
        app.deliveries(&s.actor, p.status, p.limit.unwrap_or(100))
            .await?,
    ))
}

/// Puts a failed delivery back in the queue (admin).
#[utoipa::path(post, path = "/api/v1/admin/deliveries/{id}/retry", tag = "outbound", security(("bearer" = [])),
    params(("id" = i64, Path)),
    responses((status = 204), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn retry(
    State(app): State<Arc<App>>,
    Authed(s): Authed,
    Path(id): Path<i64>,
) -> ApiResult<StatusCode> {
    app.retry_delivery(&s.actor, id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Runs the courier now: fan out new notifications, send what is due (admin).
#[utoipa::path(post, path = "/api/v1/admin/deliveries/run", tag = "outbound", security(("bearer" = [])),
    responses((status = 200, body = CourierReport), (status = 403, body = ErrorBody)))]
pub async fn run(State(app): State<Arc<App>>, Authed(s): Authed) -> ApiResult<Json<CourierReport>> {
    Ok(Json(app.run_courier_as(&s.actor).await?))
}

/// How a user is reached by e-mail and SMS (phone masked): the user or an admin.
#[utoipa::path(get, path = "/api/v1/users/{id}/contact", tag = "outbound", security(("bearer" = [])),
    params(("id" = i64, Path)),
    responses((status = 200, body = Contact), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn get_contact(
    State(app): State<Arc<App>>,
    Authed(s): Authed,
    Path(id): Path<i64>,
) -> ApiResult<Json<Contact>> {
    Ok(Json(app.contact(&s.actor, id).await?))
}

/// Sets a user's e-mail address and mobile number: the user or an admin.
#[utoipa::path(put, path = "/api/v1/users/{id}/contact", tag = "outbound", security(("bearer" = [])),
    params(("id" = i64, Path)), request_body = Contact,
    responses((status = 200, body = Contact), (status = 422, body = ErrorBody), (status = 403, body = ErrorBody)))]
pub async fn set_contact(
    State(app): State<Arc<App>>,
    Authed(s): Authed,
    Path(id): Path<i64>,
    Body(c): Body<Contact>,
) -> ApiResult<Json<Contact>> {
    Ok(Json(app.set_contact(&s.actor, id, &c).await?))
}
