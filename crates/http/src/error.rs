//! API errors: a status, a stable code and a message in the caller's language
//! (`Accept-Language`: zh-CN by default, en on request), rendered by the `localize` layer.
use axum::extract::rejection::JsonRejection;
use axum::extract::{FromRequest, Request};
use axum::http::{header, HeaderMap, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::Json;
use fengqiao_app::AppError;
use fengqiao_domain::DomainError;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::HashMap;
use std::sync::LazyLock;
use utoipa::ToSchema;

/// The error body every failing request gets.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ErrorBody {
    /// Stable snake_case code, e.g. `case_not_found`.
    pub code: String,
    /// Message for people, in the requested language.
    pub message: String,
    /// Technical detail (which field, why), when there is one.
    pub detail: Option<String>,
}

#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub code: &'static str,
    pub detail: Option<String>,
}

impl ApiError {
    pub fn new(status: StatusCode, code: &'static str, detail: Option<String>) -> Self {
        ApiError {
            status,
            code,
            detail,
        }
    }
}

fn domain_status(d: &DomainError) -> StatusCode {
    match d {
        DomainError::Forbidden | DomainError::SameApprover => StatusCode::FORBIDDEN,
        DomainError::InvalidTransition { .. }
        | DomainError::NoPendingExtension
        | DomainError::ExtensionPending
        | DomainError::RevisitNotDue
        | DomainError::SupervisionNotOpen(_)
        | DomainError::ExportNotPending
        | DomainError::ExportNotAvailable => StatusCode::CONFLICT,
        _ => StatusCode::UNPROCESSABLE_ENTITY,
    }
}

impl From<AppError> for ApiError {
    fn from(e: AppError) -> Self {
        let status = match &e {
            AppError::Domain(d) => domain_status(d),
            AppError::NotFound(_) => StatusCode::NOT_FOUND,
            AppError::Unauthenticated
            | AppError::InvalidCredentials
            | AppError::SignInIncomplete(_)
            | AppError::InvalidSecondFactor => StatusCode::UNAUTHORIZED,
            AppError::TooManyAttempts => StatusCode::TOO_MANY_REQUESTS,
            AppError::WeakPassword(_) => StatusCode::UNPROCESSABLE_ENTITY,
            AppError::IdempotencyKeyReused => StatusCode::UNPROCESSABLE_ENTITY,
            AppError::AttachmentTooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            AppError::AttachmentTypeNotAllowed(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            AppError::Conflict
            | AppError::Duplicate(_)
            | AppError::NotResolved
            | AppError::VideoFull(_) => StatusCode::CONFLICT,
            AppError::Store(_) | AppError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        };
        let detail = match &e {
            AppError::Store(_) | AppError::Internal(_) => {
                tracing::error!(error = %e, "request failed");
                None
            }
            other => Some(other.to_string()),
        };
        ApiError {
            status,
            code: e.code(),
            detail,
        }
    }
}

impl From<DomainError> for ApiError {
    fn from(e: DomainError) -> Self {
        AppError::from(e).into()
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = ErrorBody {
            code: self.code.to_string(),
            message: message(self.code, Lang::Zh),
            detail: self.detail,
        };
        let mut res = (self.status, Json(&body)).into_response();
        res.extensions_mut().insert(body);
        res
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lang {
    Zh,
    En,
}

impl Lang {
    pub fn from_headers(h: &HeaderMap) -> Lang {
        let al = h
            .get(header::ACCEPT_LANGUAGE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("");
        match al.split(',').next().map(|s| s.trim().to_ascii_lowercase()) {
            Some(s) if s.starts_with("en") => Lang::En,
            _ => Lang::Zh,
        }
    }
}

fn load(json: &str) -> HashMap<String, String> {
    serde_json::from_str::<Value>(json)
        .ok()
        .and_then(|v| v.get("errors").cloned())
        .and_then(|v| serde_json::from_value(v).ok())
        .unwrap_or_default()
}

static ZH: LazyLock<HashMap<String, String>> =
    LazyLock::new(|| load(include_str!("../../../locales/zh-CN.json")));
static EN: LazyLock<HashMap<String, String>> =
    LazyLock::new(|| load(include_str!("../../../locales/en.json")));

/// The translated message of an error code (the code itself when a translation is missing).
pub fn message(code: &str, lang: Lang) -> String {
    let table = if lang == Lang::En { &*EN } else { &*ZH };
    table.get(code).cloned().unwrap_or_else(|| code.to_string())
}

/// Re-renders error bodies in the language the request asked for.
pub async fn localize(req: Request, next: Next) -> Response {
    let lang = Lang::from_headers(req.headers());
    let res = next.run(req).await;
    if lang == Lang::Zh {
        return res;
    }
    match res.extensions().get::<ErrorBody>().cloned() {
        Some(mut body) => {
            body.message = message(&body.code, lang);
            (res.status(), Json(body)).into_response()
        }
        None => res,
    }
}

/// A JSON body whose rejections are API errors with codes.
#[derive(Debug)]
pub struct Body<T>(pub T);

impl<S: Send + Sync, T: serde::de::DeserializeOwned> FromRequest<S> for Body<T> {
    type Rejection = ApiError;
    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        match Json::<T>::from_request(req, state).await {
            Ok(Json(v)) => Ok(Body(v)),
            Err(JsonRejection::JsonSyntaxError(e)) => Err(ApiError::new(
                StatusCode::BAD_REQUEST,
                "malformed_json",
                Some(e.body_text()),
            )),
            Err(JsonRejection::JsonDataError(e)) => Err(ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "invalid_body",
                Some(e.body_text()),
            )),
            Err(JsonRejection::MissingJsonContentType(e)) => Err(ApiError::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "unsupported_media_type",
                Some(e.body_text()),
            )),
            Err(e) => Err(ApiError::new(
                StatusCode::BAD_REQUEST,
                "malformed_json",
                Some(e.body_text()),
            )),
        }
    }
}

pub async fn not_found() -> ApiError {
    ApiError::new(StatusCode::NOT_FOUND, "route_not_found", None)
}
