//! The domain's error type. Every variant has a stable snake_case code that
//! reaches API clients unchanged; messages for people live in translation files.
use thiserror::Error;

#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum DomainError {
    #[error("invalid ID-card number: {0}")]
    InvalidIdCard(String),
    #[error("invalid mobile number: {0}")]
    InvalidPhone(String),
    #[error("invalid jurisdiction code: {0}")]
    InvalidJurisdictionCode(String),
    #[error("validation failed on {field}: {reason}")]
    Validation { field: &'static str, reason: String },
    #[error("action {action} is not allowed while the case is {status}")]
    InvalidTransition {
        action: &'static str,
        status: &'static str,
    },
    #[error("operation not permitted for this role or scope")]
    Forbidden,
    #[error("a deadline never moves backwards")]
    DeadlineBackwards,
    #[error("no extension is pending")]
    NoPendingExtension,
    #[error("an extension is already pending")]
    ExtensionPending,
    #[error("the staff revisit is not due yet")]
    RevisitNotDue,
    #[error("unknown supervision {0}")]
    SupervisionNotOpen(i64),
    #[error("an unmasked export needs the approval of another person")]
    SameApprover,
    #[error("the export request was already decided")]
    ExportNotPending,
    #[error("the export is not approved, was downloaded already, or its approval expired")]
    ExportNotAvailable,
}

impl DomainError {
    /// Stable code for API clients and translation look-ups.
    pub fn code(&self) -> &'static str {
        match self {
            DomainError::InvalidIdCard(_) => "invalid_id_card",
            DomainError::InvalidPhone(_) => "invalid_phone",
            DomainError::InvalidJurisdictionCode(_) => "invalid_jurisdiction_code",
            DomainError::Validation { .. } => "validation_failed",
            DomainError::InvalidTransition { .. } => "invalid_transition",
            DomainError::Forbidden => "forbidden",
            DomainError::DeadlineBackwards => "deadline_backwards",
            DomainError::NoPendingExtension => "no_pending_extension",
            DomainError::ExtensionPending => "extension_pending",
            DomainError::RevisitNotDue => "revisit_not_due",
            DomainError::SupervisionNotOpen(_) => "supervision_not_open",
            DomainError::SameApprover => "same_approver",
            DomainError::ExportNotPending => "export_not_pending",
            DomainError::ExportNotAvailable => "export_not_available",
        }
    }

    pub fn validation(field: &'static str, reason: impl Into<String>) -> Self {
        DomainError::Validation {
            field,
            reason: reason.into(),
        }
    }
}
