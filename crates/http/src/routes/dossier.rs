//! 全息档案: a person's and a place's full history.
use super::ApiResult;
use crate::error::{Body, ErrorBody};
use crate::extract::Authed;
use axum::extract::{Path, State};
use axum::Json;
use fengqiao_app::dossier::{PersonDossier, PersonQuery, PlaceDossier};
use fengqiao_app::App;
use std::sync::Arc;

/// A person's page: every case the user sees in which the person is a party — found by the
/// ID-card or phone number (exact, through the blind index; needs the permission to see
/// personal numbers), from a party of a case the user sees, or by full name in a village —
/// with the role they had, the outcome, petitions and the risk of open cases; each case says
/// how it was matched and how sure that is. Numbers come back masked. Every view is recorded
/// in the audit trail. A POST, so a number is in no address or access log.
#[utoipa::path(post, path = "/api/v1/people/dossier", tag = "dossier", security(("bearer" = [])),
    request_body = PersonQuery,
    responses((status = 200, body = PersonDossier), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn person(
    State(app): State<Arc<App>>,
    Authed(s): Authed,
    Body(q): Body<PersonQuery>,
) -> ApiResult<Json<PersonDossier>> {
    Ok(Json(app.person_dossier(&s.actor, &q).await?))
}

/// A place's page: its disputes month by month over two years and by type, the warnings
/// over it, and its latest cases the user sees. The place must lie within the user's scope.
#[utoipa::path(get, path = "/api/v1/places/{code}/dossier", tag = "dossier", security(("bearer" = [])),
    params(("code" = String, Path, description = "Jurisdiction code")),
    responses((status = 200, body = PlaceDossier), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody)))]
pub async fn place(
    State(app): State<Arc<App>>,
    Authed(s): Authed,
    Path(code): Path<String>,
) -> ApiResult<Json<PlaceDossier>> {
    Ok(Json(app.place_dossier(&s.actor, &code).await?))
}
