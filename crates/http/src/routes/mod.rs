//! Route handlers, one module per tag of the OpenAPI document.
pub mod auth;
pub mod cases;
pub mod channels;
pub mod dossier;
pub mod outbound;
pub mod public;
pub mod reference;
pub mod search;
pub mod stats;
pub mod text;
pub mod warnings;

use crate::error::ApiError;

pub type ApiResult<T> = Result<T, ApiError>;
