use super::ApiResult;
use crate::error::{Body, ErrorBody};
use crate::extract::{bearer, Authed};
use axum::extract::{FromRequestParts, State};
use axum::http::request::Parts;
use axum::http::StatusCode;
use axum::Json;
use fengqiao_app::auth::{LoginResult, UserView};
use fengqiao_app::{App, AppError};
use serde::Deserialize;
use std::sync::Arc;
use utoipa::ToSchema;

#[derive(Debug, Deserialize, ToSchema)]
pub struct LoginRequest {
    pub username: String,
    pub password: String,
}

/// Logs in and returns a bearer token.
#[utoipa::path(post, path = "/api/v1/auth/login", tag = "auth", request_body = LoginRequest,
    responses((status = 200, body = LoginResult), (status = 401, body = ErrorBody)))]
pub async fn login(
    State(app): State<Arc<App>>,
    Body(req): Body<LoginRequest>,
) -> ApiResult<Json<LoginResult>> {
    Ok(Json(app.login(&req.username, &req.password).await?))
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
