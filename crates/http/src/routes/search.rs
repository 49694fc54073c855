use super::ApiResult;
use crate::error::ErrorBody;
use crate::extract::{Authed, Params};
use axum::extract::State;
use axum::Json;
use fengqiao_app::search::{CaseSearch, SearchResult};
use fengqiao_app::App;
use std::sync::Arc;

/// Full-text search over the cases the user may see (Chinese words, a tracking code), with
/// filters; each hit carries the passage that matched. Changes are searchable within a second.
#[utoipa::path(get, path = "/api/v1/search/cases", tag = "search", security(("bearer" = [])), params(CaseSearch),
    responses((status = 200, body = SearchResult), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody)))]
pub async fn search_cases(
    State(app): State<Arc<App>>,
    Authed(s): Authed,
    Params(q): Params<CaseSearch>,
) -> ApiResult<Json<SearchResult>> {
    Ok(Json(app.search_cases(&s.actor, &q).await?))
}
