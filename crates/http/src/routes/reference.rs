use super::ApiResult;
use crate::error::{ApiError, Body, ErrorBody};
use crate::extract::{Authed, Params};
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use chrono::NaiveDate;
use fengqiao_app::admin::{CalendarDayInput, JurisdictionInput, UserChange, UserInput};
use fengqiao_app::auth::UserView;
use fengqiao_app::monitor::SweepReport;
use fengqiao_app::App;
use fengqiao_domain::access::{authorize_node, Operation};
use fengqiao_domain::audit::{AuditRecord, AuditReport};
use fengqiao_domain::calendar::CalendarDay;
use fengqiao_domain::deadline::DeadlineRules;
use fengqiao_domain::jurisdiction::Jurisdiction;
use fengqiao_domain::security::SecurityPolicy;
use fengqiao_domain::unit::Unit;
use fengqiao_store::{NewUnit, Notification};
use serde::Deserialize;
use std::sync::Arc;
use utoipa::{IntoParams, ToSchema};

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ParentParams {
    /// Children of this node; the roots when absent.
    pub parent: Option<String>,
}

/// Children of a jurisdiction node (or the roots).
#[utoipa::path(get, path = "/api/v1/jurisdictions", tag = "reference", security(("bearer" = [])), params(ParentParams),
    responses((status = 200, body = Vec<Jurisdiction>)))]
pub async fn list_jurisdictions(
    State(app): State<Arc<App>>,
    _a: Authed,
    Params(p): Params<ParentParams>,
) -> ApiResult<Json<Vec<Jurisdiction>>> {
    Ok(Json(app.list_jurisdictions(p.parent.as_deref()).await?))
}

/// Adds a jurisdiction node (admin).
#[utoipa::path(post, path = "/api/v1/jurisdictions", tag = "reference", security(("bearer" = [])), request_body = JurisdictionInput,
    responses((status = 201, body = Jurisdiction), (status = 422, body = ErrorBody), (status = 403, body = ErrorBody)))]
pub async fn create_jurisdiction(
    State(app): State<Arc<App>>,
    Authed(s): Authed,
    Body(i): Body<JurisdictionInput>,
) -> ApiResult<(StatusCode, Json<Jurisdiction>)> {
    Ok((
        StatusCode::CREATED,
        Json(app.create_jurisdiction(&s.actor, &i).await?),
    ))
}

/// One jurisdiction node.
#[utoipa::path(get, path = "/api/v1/jurisdictions/{code}", tag = "reference", security(("bearer" = [])), params(("code" = String, Path)),
    responses((status = 200, body = Jurisdiction), (status = 404, body = ErrorBody)))]
pub async fn get_jurisdiction(
    State(app): State<Arc<App>>,
    _a: Authed,
    Path(code): Path<String>,
) -> ApiResult<Json<Jurisdiction>> {
    Ok(Json(app.get_jurisdiction(&code).await?))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct UnitParams {
    /// Units in this subtree; all when absent.
    pub node_code: Option<String>,
}

/// The unit directory.
#[utoipa::path(get, path = "/api/v1/units", tag = "reference", security(("bearer" = [])), params(UnitParams),
    responses((status = 200, body = Vec<Unit>)))]
pub async fn list_units(
    State(app): State<Arc<App>>,
    _a: Authed,
    Params(p): Params<UnitParams>,
) -> ApiResult<Json<Vec<Unit>>> {
    Ok(Json(app.list_units(p.node_code.as_deref()).await?))
}

/// Adds a unit (admin).
#[utoipa::path(post, path = "/api/v1/units", tag = "reference", security(("bearer" = [])), request_body = NewUnit,
    responses((status = 201, body = Unit), (status = 403, body = ErrorBody)))]
pub async fn create_unit(
    State(app): State<Arc<App>>,
    Authed(s): Authed,
    Body(u): Body<NewUnit>,
) -> ApiResult<(StatusCode, Json<Unit>)> {
    Ok((
        StatusCode::CREATED,
        Json(app.create_unit(&s.actor, &u).await?),
    ))
}

/// One unit.
#[utoipa::path(get, path = "/api/v1/units/{id}", tag = "reference", security(("bearer" = [])), params(("id" = i64, Path)),
    responses((status = 200, body = Unit), (status = 404, body = ErrorBody)))]
pub async fn get_unit(
    State(app): State<Arc<App>>,
    _a: Authed,
    Path(id): Path<i64>,
) -> ApiResult<Json<Unit>> {
    Ok(Json(app.get_unit(id).await?))
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct LeaderRequest {
    pub user_id: Option<i64>,
}

/// Sets the unit's leader (who is notified of its red cases).
#[utoipa::path(put, path = "/api/v1/units/{id}/leader", tag = "reference", security(("bearer" = [])), params(("id" = i64, Path)),
    request_body = LeaderRequest, responses((status = 200, body = Unit), (status = 403, body = ErrorBody)))]
pub async fn set_unit_leader(
    State(app): State<Arc<App>>,
    Authed(s): Authed,
    Path(id): Path<i64>,
    Body(r): Body<LeaderRequest>,
) -> ApiResult<Json<Unit>> {
    Ok(Json(app.set_unit_leader(&s.actor, id, r.user_id).await?))
}

/// Users in the admin's scope.
#[utoipa::path(get, path = "/api/v1/users", tag = "reference", security(("bearer" = [])),
    responses((status = 200, body = Vec<UserView>), (status = 403, body = ErrorBody)))]
pub async fn list_users(
    State(app): State<Arc<App>>,
    Authed(s): Authed,
) -> ApiResult<Json<Vec<UserView>>> {
    Ok(Json(app.list_users(&s.actor).await?))
}

/// Adds a user (admin). Passwords: at least 8 characters of 3 kinds.
#[utoipa::path(post, path = "/api/v1/users", tag = "reference", security(("bearer" = [])), request_body = UserInput,
    responses((status = 201, body = UserView), (status = 422, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub async fn create_user(
    State(app): State<Arc<App>>,
    Authed(s): Authed,
    Body(u): Body<UserInput>,
) -> ApiResult<(StatusCode, Json<UserView>)> {
    Ok((
        StatusCode::CREATED,
        Json(app.create_user(&s.actor, &u).await?),
    ))
}

/// Changes a user's name, role, scope, unit or disabled flag (admin of both scopes); a
/// disabled user's sessions end at once.
#[utoipa::path(put, path = "/api/v1/users/{id}", tag = "reference", security(("bearer" = [])), request_body = UserChange,
    params(("id" = i64, Path, description = "User id")),
    responses((status = 200, body = UserView), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn update_user(
    State(app): State<Arc<App>>,
    Authed(s): Authed,
    Path(id): Path<i64>,
    Body(c): Body<UserChange>,
) -> ApiResult<Json<UserView>> {
    Ok(Json(app.update_user(&s.actor, id, &c).await?))
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct CredentialReset {
    /// A new initial password (the user must change it at the next sign-in).
    #[serde(default)]
    pub password: Option<String>,
    /// Remove the user's TOTP enrolment (a lost phone); they enrol again at the next sign-in.
    #[serde(default)]
    pub reset_second_factor: bool,
}

/// Resets a user's password and/or second factor (admin of the user's scope); the user's
/// sessions end.
#[utoipa::path(post, path = "/api/v1/users/{id}/credentials", tag = "reference", security(("bearer" = [])), request_body = CredentialReset,
    params(("id" = i64, Path, description = "User id")),
    responses((status = 200, body = UserView), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn reset_credentials(
    State(app): State<Arc<App>>,
    Authed(s): Authed,
    Path(id): Path<i64>,
    Body(c): Body<CredentialReset>,
) -> ApiResult<Json<UserView>> {
    Ok(Json(
        app.reset_credentials(&s.actor, id, c.password.as_deref(), c.reset_second_factor)
            .await?,
    ))
}

/// The sign-in policy: which roles need a TOTP second factor, password rotation.
#[utoipa::path(get, path = "/api/v1/security-policy", tag = "reference", security(("bearer" = [])),
    responses((status = 200, body = SecurityPolicy), (status = 403, body = ErrorBody)))]
pub async fn get_security_policy(
    State(app): State<Arc<App>>,
    Authed(s): Authed,
) -> ApiResult<Json<SecurityPolicy>> {
    Ok(Json(app.get_security_policy(&s.actor).await?))
}

/// Replaces the sign-in policy (administrators).
#[utoipa::path(put, path = "/api/v1/security-policy", tag = "reference", security(("bearer" = [])), request_body = SecurityPolicy,
    responses((status = 200, body = SecurityPolicy), (status = 403, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn put_security_policy(
    State(app): State<Arc<App>>,
    Authed(s): Authed,
    Body(p): Body<SecurityPolicy>,
) -> ApiResult<Json<SecurityPolicy>> {
    Ok(Json(app.put_security_policy(&s.actor, &p).await?))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct AuditParams {
    /// How many of the latest records (1 to 1,000; default 100).
    pub limit: Option<i64>,
}

/// The latest audit records, newest first (administrators): sign-ins and failures,
/// refusals, reveals, exports, user, configuration and case changes, each with its place in
/// the SM3 hash chain.
#[utoipa::path(get, path = "/api/v1/audit", tag = "reference", security(("bearer" = [])), params(AuditParams),
    responses((status = 200, body = Vec<AuditRecord>), (status = 403, body = ErrorBody)))]
pub async fn audit_trail(
    State(app): State<Arc<App>>,
    Authed(s): Authed,
    Params(p): Params<AuditParams>,
) -> ApiResult<Json<Vec<AuditRecord>>> {
    Ok(Json(
        app.audit_trail(&s.actor, p.limit.unwrap_or(100)).await?,
    ))
}

/// Verifies the whole audit chain and its signed checkpoints (administrators).
#[utoipa::path(get, path = "/api/v1/audit/verification", tag = "reference", security(("bearer" = [])),
    responses((status = 200, body = AuditReport), (status = 403, body = ErrorBody)))]
pub async fn verify_audit(
    State(app): State<Arc<App>>,
    Authed(s): Authed,
) -> ApiResult<Json<AuditReport>> {
    Ok(Json(app.verify_audit_as(&s.actor).await?))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct YearParams {
    pub year: Option<i32>,
}

/// The working-day calendar's exceptions (holidays and make-up workdays).
#[utoipa::path(get, path = "/api/v1/calendar", tag = "reference", security(("bearer" = [])), params(YearParams),
    responses((status = 200, body = Vec<CalendarDay>)))]
pub async fn calendar(
    State(app): State<Arc<App>>,
    _a: Authed,
    Params(p): Params<YearParams>,
) -> ApiResult<Json<Vec<CalendarDay>>> {
    Ok(Json(app.calendar_days(p.year).await?))
}

/// Sets or clears the exception of one date (admin), e.g. next year's holidays.
#[utoipa::path(put, path = "/api/v1/calendar/{date}", tag = "reference", security(("bearer" = [])),
    params(("date" = String, Path, description = "YYYY-MM-DD")), request_body = CalendarDayInput,
    responses((status = 204), (status = 403, body = ErrorBody)))]
pub async fn set_calendar_day(
    State(app): State<Arc<App>>,
    Authed(s): Authed,
    Path(date): Path<String>,
    Body(i): Body<CalendarDayInput>,
) -> ApiResult<StatusCode> {
    let date = NaiveDate::parse_from_str(&date, "%Y-%m-%d").map_err(|e| {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            "invalid_query",
            Some(e.to_string()),
        )
    })?;
    app.set_calendar_day(&s.actor, date, &i).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The deadline rules in force.
#[utoipa::path(get, path = "/api/v1/deadline-rules", tag = "reference", security(("bearer" = [])),
    responses((status = 200, body = DeadlineRules)))]
pub async fn get_rules(State(app): State<Arc<App>>, _a: Authed) -> Json<DeadlineRules> {
    Json(app.rules().as_ref().clone())
}

/// Replaces the deadline rules (admin). Running deadlines keep their due dates.
#[utoipa::path(put, path = "/api/v1/deadline-rules", tag = "reference", security(("bearer" = [])), request_body = DeadlineRules,
    responses((status = 200, body = DeadlineRules), (status = 403, body = ErrorBody)))]
pub async fn put_rules(
    State(app): State<Arc<App>>,
    Authed(s): Authed,
    Body(r): Body<DeadlineRules>,
) -> ApiResult<Json<DeadlineRules>> {
    Ok(Json(app.put_rules(&s.actor, &r).await?))
}

/// Runs the deadline monitor now (it also runs in the background).
#[utoipa::path(post, path = "/api/v1/admin/deadline-sweep", tag = "reference", security(("bearer" = [])),
    responses((status = 200, body = SweepReport), (status = 403, body = ErrorBody)))]
pub async fn sweep(State(app): State<Arc<App>>, Authed(s): Authed) -> ApiResult<Json<SweepReport>> {
    authorize_node(&s.actor, Operation::RunDeadlineSweep, &s.actor.scope_path)?;
    Ok(Json(app.sweep_deadlines().await?))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct InboxParams {
    pub unread: Option<bool>,
}

/// My notifications, newest first.
#[utoipa::path(get, path = "/api/v1/inbox", tag = "inbox", security(("bearer" = [])), params(InboxParams),
    responses((status = 200, body = Vec<Notification>)))]
pub async fn inbox(
    State(app): State<Arc<App>>,
    Authed(s): Authed,
    Params(p): Params<InboxParams>,
) -> ApiResult<Json<Vec<Notification>>> {
    Ok(Json(app.inbox(&s.actor, p.unread.unwrap_or(false)).await?))
}

/// Marks a notification read.
#[utoipa::path(post, path = "/api/v1/inbox/{id}/read", tag = "inbox", security(("bearer" = [])), params(("id" = i64, Path)),
    responses((status = 204), (status = 404, body = ErrorBody)))]
pub async fn mark_read(
    State(app): State<Arc<App>>,
    Authed(s): Authed,
    Path(id): Path<i64>,
) -> ApiResult<StatusCode> {
    app.mark_read(&s.actor, id).await?;
    Ok(StatusCode::NO_CONTENT)
}
