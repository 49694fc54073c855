use super::ApiResult;
use crate::error::ErrorBody;
use crate::extract::{Authed, Params};
use axum::extract::{Path, State};
use axum::Json;
use fengqiao_app::laws::{CaseExplainer, LegalBasis};
use fengqiao_app::search::{CaseSearch, SearchResult, SimilarCase};
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

#[derive(Debug, serde::Deserialize, utoipa::IntoParams)]
pub struct SimilarParams {
    /// How many cases (1–20, default 5).
    pub limit: Option<usize>,
}

/// The resolved cases most like this one (among those the user may see): how each was settled
/// (who mediated, sessions, the agreement's gist, days taken) and why it is offered (shared
/// words, same type, same place).
#[utoipa::path(get, path = "/api/v1/cases/{id}/similar", tag = "search", security(("bearer" = [])),
    params(("id" = i64, Path, description = "Case id"), SimilarParams),
    responses((status = 200, body = Vec<SimilarCase>), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn similar_cases(
    State(app): State<Arc<App>>,
    Authed(s): Authed,
    Path(id): Path<i64>,
    Params(q): Params<SimilarParams>,
) -> ApiResult<Json<Vec<SimilarCase>>> {
    Ok(Json(
        app.similar_cases(&s.actor, id, q.limit.unwrap_or(5))
            .await?,
    ))
}

/// The law articles that apply to this case (by its type and text) from the imported corpus,
/// or, without one, the project's key provisions for its type.
#[utoipa::path(get, path = "/api/v1/cases/{id}/legal-basis", tag = "search", security(("bearer" = [])),
    params(("id" = i64, Path, description = "Case id")),
    responses((status = 200, body = LegalBasis), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn legal_basis(
    State(app): State<Arc<App>>,
    Authed(s): Authed,
    Path(id): Path<i64>,
) -> ApiResult<Json<LegalBasis>> {
    Ok(Json(app.legal_basis(&s.actor, id).await?))
}

/// The 以案释法 sheet of a case resolved by an agreement, anonymised (names → 某, numbers
/// and addresses removed, the town instead of the village). The web page
/// `/cases/{id}/explainer` shows it and `/cases/{id}/explainer.pdf` prints it.
#[utoipa::path(get, path = "/api/v1/cases/{id}/explainer", tag = "search", security(("bearer" = [])),
    params(("id" = i64, Path, description = "Case id")),
    responses((status = 200, body = CaseExplainer), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub async fn explainer(
    State(app): State<Arc<App>>,
    Authed(s): Authed,
    Path(id): Path<i64>,
) -> ApiResult<Json<CaseExplainer>> {
    Ok(Json(app.case_explainer(&s.actor, id).await?))
}
