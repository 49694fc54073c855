//! The application layer's error: domain refusals, storage failures and what only this layer
//! knows (authentication, look-ups, idempotency, attachment limits). Each has a stable code.
use fengqiao_domain::DomainError;
use fengqiao_store::StoreError;
use thiserror::Error;

#[derive(Debug, Error)]
pub enum AppError {
    #[error(transparent)]
    Domain(#[from] DomainError),
    #[error(transparent)]
    Store(StoreError),
    #[error("{0} not found")]
    NotFound(&'static str),
    #[error("authentication required")]
    Unauthenticated,
    #[error("wrong username or password, or the account is locked for a while")]
    InvalidCredentials,
    #[error("too many sign-in attempts from this address; wait a minute")]
    TooManyAttempts,
    #[error("sign-in is not finished: {}", .0.as_str())]
    SignInIncomplete(fengqiao_domain::security::SessionStage),
    #[error("wrong or already used one-time code")]
    InvalidSecondFactor,
    #[error("the password does not meet the policy: {}", .0.code())]
    WeakPassword(fengqiao_domain::security::PasswordProblem),
    #[error("the idempotency key was used with another body")]
    IdempotencyKeyReused,
    #[error("attachment larger than {0} bytes")]
    AttachmentTooLarge(usize),
    #[error("attachment type not allowed: {0}")]
    AttachmentTypeNotAllowed(String),
    #[error("the case changed meanwhile; try again")]
    Conflict,
    #[error("{0} already exists")]
    Duplicate(&'static str),
    #[error("the case was not resolved by an agreement")]
    NotResolved,
    #[error("the video session is full ({0} people)")]
    VideoFull(usize),
    #[error("internal error: {0}")]
    Internal(String),
}

impl From<StoreError> for AppError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Conflict => AppError::Conflict,
            StoreError::Duplicate(what) => AppError::Duplicate(what),
            other => AppError::Store(other),
        }
    }
}

impl AppError {
    pub fn code(&self) -> &'static str {
        match self {
            AppError::Domain(d) => d.code(),
            AppError::Store(s) => s.code(),
            AppError::NotFound("case") => "case_not_found",
            AppError::NotFound("unit") => "unit_not_found",
            AppError::NotFound("jurisdiction") => "jurisdiction_not_found",
            AppError::NotFound("user") => "user_not_found",
            AppError::NotFound("attachment") => "attachment_not_found",
            AppError::NotFound("notification") => "notification_not_found",
            AppError::NotFound("webhook") => "webhook_not_found",
            AppError::NotFound("delivery") => "delivery_not_found",
            AppError::NotFound(_) => "not_found",
            AppError::Unauthenticated => "unauthenticated",
            AppError::InvalidCredentials => "invalid_credentials",
            AppError::TooManyAttempts => "too_many_attempts",
            AppError::SignInIncomplete(_) => "sign_in_incomplete",
            AppError::InvalidSecondFactor => "invalid_second_factor",
            AppError::WeakPassword(_) => "weak_password",
            AppError::IdempotencyKeyReused => "idempotency_key_reused",
            AppError::AttachmentTooLarge(_) => "attachment_too_large",
            AppError::AttachmentTypeNotAllowed(_) => "attachment_type_not_allowed",
            AppError::Conflict => "concurrent_update",
            AppError::Duplicate(_) => "already_exists",
            AppError::NotResolved => "case_not_resolved",
            AppError::VideoFull(_) => "video_full",
            AppError::Internal(_) => "internal_error",
        }
    }
}

pub type Result<T, E = AppError> = std::result::Result<T, E>;
