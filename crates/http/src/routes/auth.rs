use super::ApiResult;
use crate::error::{Body, ErrorBody};
use crate::extract::{bearer, Authed};
use axum::extract::{FromRequestParts, State};
use axum::http::request::Parts;
use axum::http::StatusCode;
use axum::Json;
use fengqiao_app::auth::{LoginResult, SignInStep, TotpEnrolment, UserView};
use fengqiao_app::{App, AppError};
use serde::Deserialize;
use std::sync::Arc;
use utoipa::ToSchema;

#[derive(Debug, Deserialize, ToSchema)]
pub struct LoginRequest {
    pub username: String,
    pub password: String,
    /// The current TOTP code, for accounts with a second factor (else `next_step` is
    /// `second_factor` and the code goes to `/api/v1/auth/second-factor`).
    #[serde(default)]
    pub totp_code: Option<String>,
}

/// Signs in and returns a bearer token. Unknown names, wrong passwords and locked accounts
/// (5 failures in a row lock an account name for 30 minutes) get the same answer. Until
/// `next_step` is `full` the token only finishes sign-in: a forced password change, the TOTP
/// code, or enrolling a TOTP second factor (required for admins, supervisors and leaders).
#[utoipa::path(post, path = "/api/v1/auth/login", tag = "auth", request_body = LoginRequest,
    responses((status = 200, body = LoginResult), (status = 401, body = ErrorBody), (status = 429, body = ErrorBody)))]
pub async fn login(
    State(app): State<Arc<App>>,
    Body(req): Body<LoginRequest>,
) -> ApiResult<Json<LoginResult>> {
    Ok(Json(
        app.login(&req.username, &req.password, req.totp_code.as_deref())
            .await?,
    ))
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct PasswordChange {
    pub current_password: String,
    /// At least 8 characters from 3 of: lower case, upper case, digits, symbols; not
    /// containing the username; not the current one.
    pub new_password: String,
}

/// Changes the signed-in user's password (also the forced change at the first sign-in); the
/// user's other sessions end.
#[utoipa::path(post, path = "/api/v1/auth/password", tag = "auth", security(("bearer" = [])), request_body = PasswordChange,
    responses((status = 200, body = SignInStep), (status = 401, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn change_password(
    State(app): State<Arc<App>>,
    Token(t): Token,
    Body(req): Body<PasswordChange>,
) -> ApiResult<Json<SignInStep>> {
    Ok(Json(
        app.change_password(&t, &req.current_password, &req.new_password)
            .await?,
    ))
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct TotpCode {
    /// Six digits from the authenticator app.
    pub code: String,
}

/// Finishes sign-in with the TOTP code (each code works once; wrong codes count towards the
/// account's lock).
#[utoipa::path(post, path = "/api/v1/auth/second-factor", tag = "auth", security(("bearer" = [])), request_body = TotpCode,
    responses((status = 200, body = SignInStep), (status = 401, body = ErrorBody)))]
pub async fn second_factor(
    State(app): State<Arc<App>>,
    Token(t): Token,
    Body(req): Body<TotpCode>,
) -> ApiResult<Json<SignInStep>> {
    Ok(Json(app.verify_second_factor(&t, &req.code).await?))
}

/// Starts enrolling a TOTP second factor: a new secret and its `otpauth://` address.
#[utoipa::path(post, path = "/api/v1/auth/second-factor/enrolment", tag = "auth", security(("bearer" = [])),
    responses((status = 200, body = TotpEnrolment), (status = 401, body = ErrorBody)))]
pub async fn begin_enrolment(
    State(app): State<Arc<App>>,
    Token(t): Token,
) -> ApiResult<Json<TotpEnrolment>> {
    Ok(Json(app.begin_totp_enrolment(&t).await?))
}

/// Confirms the enrolment with a code from the new secret; sign-in is then finished.
#[utoipa::path(post, path = "/api/v1/auth/second-factor/enrolment/confirm", tag = "auth", security(("bearer" = [])), request_body = TotpCode,
    responses((status = 200, body = SignInStep), (status = 401, body = ErrorBody)))]
pub async fn confirm_enrolment(
    State(app): State<Arc<App>>,
    Token(t): Token,
    Body(req): Body<TotpCode>,
) -> ApiResult<Json<SignInStep>> {
    Ok(Json(app.confirm_totp_enrolment(&t, &req.code).await?))
}

/// The raw bearer token of the request.
pub struct Token(String);
impl FromRequestParts<Arc<App>> for Token {
    type Rejection = crate::error::ApiError;
    async fn from_request_parts(parts: &mut Parts, _: &Arc<App>) -> Result<Self, Self::Rejection> {
        Ok(Token(
            bearer(parts).ok_or(AppError::Unauthenticated)?.to_string(),
        ))
    }
}

/// Ends the session of the token.
#[utoipa::path(post, path = "/api/v1/auth/logout", tag = "auth", security(("bearer" = [])),
    responses((status = 204), (status = 401, body = ErrorBody)))]
pub async fn logout(
    State(app): State<Arc<App>>,
    _auth: Authed,
    Token(t): Token,
) -> ApiResult<StatusCode> {
    app.logout(&t).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The logged-in user.
#[utoipa::path(get, path = "/api/v1/me", tag = "auth", security(("bearer" = [])),
    responses((status = 200, body = UserView), (status = 401, body = ErrorBody)))]
pub async fn me(Authed(s): Authed) -> Json<UserView> {
    Json(UserView::from(&s.user))
}
