use super::ApiResult;
use crate::error::{ApiError, Body, ErrorBody};
use crate::extract::{Authed, Params};
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use fengqiao_app::cases::{CaseInput, CaseList, CaseQuery};
use fengqiao_app::App;
use fengqiao_domain::case::{AttachmentMeta, CaseState, Party};
use fengqiao_domain::workflow::{CaseEvent, Command};
use fengqiao_store::SourceRecord;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::sync::Arc;
use utoipa::{IntoParams, ToSchema};

/// A case as the API returns it (personal numbers masked).
#[derive(Debug, Serialize, ToSchema)]
pub struct CaseView {
    pub id: i64,
    pub version: i64,
    #[serde(flatten)]
    pub state: CaseState,
}

pub(crate) fn idempotency_key(h: &HeaderMap) -> ApiResult<Option<String>> {
    match h.get("idempotency-key") {
        None => Ok(None),
        Some(v) => match v.to_str() {
            Ok(s) if !s.is_empty() && s.len() <= 200 => Ok(Some(s.to_string())),
            _ => Err(ApiError::new(
                StatusCode::BAD_REQUEST,
                "invalid_idempotency_key",
                None,
            )),
        },
    }
}

pub(crate) fn created(id: i64, view: Value, new: bool) -> Response {
    let status = if new {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    let mut res = (status, Json(view)).into_response();
    if let Ok(v) = HeaderValue::from_str(&format!("/api/v1/cases/{id}")) {
        res.headers_mut().insert(header::LOCATION, v);
    }
    res
}

/// Registers a case (受理). Honours `Idempotency-Key`: the same key and body return the same
/// case (200), the same key with another body is refused (422).
#[utoipa::path(post, path = "/api/v1/cases", tag = "cases", security(("bearer" = [])), request_body = CaseInput,
    params(("Idempotency-Key" = Option<String>, Header, description = "Makes retries safe")),
    responses((status = 201, body = CaseView), (status = 200, body = CaseView, description = "Replay of an earlier submission"),
        (status = 422, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn create_case(
    State(app): State<Arc<App>>,
    Authed(s): Authed,
    headers: HeaderMap,
    Body(input): Body<CaseInput>,
) -> ApiResult<Response> {
    let key = idempotency_key(&headers)?;
    let (case, new, reading) = app
        .submit_case_read(Some(&s.actor), &input, key.as_deref())
        .await?;
    let mut view = fengqiao_app::cases::case_view(&case);
    // Intake shows what the reader filled in, and the duplicate candidates once the reader
    // has compared the case (at once without the background reader; a replay reads them back).
    let reading = match reading {
        Some(r) => Some((r.filled, (!r.pending).then_some(r.duplicates))),
        None => app
            .case_analysis(&s.actor, case.id)
            .await?
            .map(|a| (a.filled, Some(a.duplicates))),
    };
    if let (Some(obj), Some((filled, duplicates))) = (view.as_object_mut(), reading) {
        obj.insert("filled".into(), serde_json::json!(filled));
        match duplicates {
            Some(d) => {
                obj.insert(
                    "duplicates".into(),
                    serde_json::to_value(&d).unwrap_or_default(),
                );
            }
            None => {
                obj.insert("analysis_pending".into(), serde_json::json!(true));
            }
        }
    }
    Ok(created(case.id, view, new))
}

/// Lists the cases the user may see, newest first, with filters and a cursor.
#[utoipa::path(get, path = "/api/v1/cases", tag = "cases", security(("bearer" = [])), params(CaseQuery),
    responses((status = 200, body = CaseList), (status = 400, body = ErrorBody)))]
pub async fn list_cases(
    State(app): State<Arc<App>>,
    Authed(s): Authed,
    Params(q): Params<CaseQuery>,
) -> ApiResult<Json<CaseList>> {
    Ok(Json(app.list_cases(&s.actor, &q).await?))
}

/// One case.
#[utoipa::path(get, path = "/api/v1/cases/{id}", tag = "cases", security(("bearer" = [])), params(("id" = i64, Path)),
    responses((status = 200, body = CaseView), (status = 404, body = ErrorBody)))]
pub async fn get_case(
    State(app): State<Arc<App>>,
    Authed(s): Authed,
    Path(id): Path<i64>,
) -> ApiResult<Json<Value>> {
    Ok(Json(app.get_case(&s.actor, id).await?))
}

/// The case's timeline: every event, who and when.
#[utoipa::path(get, path = "/api/v1/cases/{id}/events", tag = "cases", security(("bearer" = [])), params(("id" = i64, Path)),
    responses((status = 200, body = Vec<CaseEvent>), (status = 404, body = ErrorBody)))]
pub async fn case_events(
    State(app): State<Arc<App>>,
    Authed(s): Authed,
    Path(id): Path<i64>,
) -> ApiResult<Json<Vec<Value>>> {
    Ok(Json(app.case_events(&s.actor, id).await?))
}

/// The records from other systems behind a case: its own and those of the duplicates merged
/// into it, each with its channel and its id in that system.
#[utoipa::path(get, path = "/api/v1/cases/{id}/sources", tag = "cases", security(("bearer" = [])), params(("id" = i64, Path)),
    responses((status = 200, body = Vec<SourceRecord>), (status = 404, body = ErrorBody)))]
pub async fn case_sources(
    State(app): State<Arc<App>>,
    Authed(s): Authed,
    Path(id): Path<i64>,
) -> ApiResult<Json<Vec<SourceRecord>>> {
    Ok(Json(app.case_sources(&s.actor, id).await?))
}

/// Performs a workflow action: route, accept, return, record_session, conclude, give_feedback,
/// evaluate (staff revisit), archive, reopen, open/reply supervision, extensions, edit, reject,
/// link/unlink, merge/unmerge.
#[utoipa::path(post, path = "/api/v1/cases/{id}/actions", tag = "cases", security(("bearer" = [])), params(("id" = i64, Path)),
    request_body = Command,
    responses((status = 200, body = CaseView), (status = 409, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn act(
    State(app): State<Arc<App>>,
    Authed(s): Authed,
    Path(id): Path<i64>,
    Body(cmd): Body<Command>,
) -> ApiResult<Json<Value>> {
    if matches!(
        cmd,
        Command::RevealPersonalInfo { .. } | Command::RefreshLight
    ) {
        return Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_body",
            Some("use the reveal endpoint / the sweep".into()),
        ));
    }
    let c = app.act(&s.actor, id, &cmd).await?;
    Ok(Json(fengqiao_app::cases::case_view(&c)))
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct RevealRequest {
    /// Why the numbers are needed (recorded in the case log).
    pub purpose: String,
}

/// Reveals a party's unmasked ID-card and phone numbers to a permitted user; logged.
#[utoipa::path(post, path = "/api/v1/cases/{id}/parties/{index}/reveal", tag = "cases", security(("bearer" = [])),
    params(("id" = i64, Path), ("index" = usize, Path)), request_body = RevealRequest,
    responses((status = 200, body = Party), (status = 403, body = ErrorBody)))]
pub async fn reveal(
    State(app): State<Arc<App>>,
    Authed(s): Authed,
    Path((id, index)): Path<(i64, usize)>,
    Body(req): Body<RevealRequest>,
) -> ApiResult<Json<Party>> {
    Ok(Json(
        app.reveal_party(&s.actor, id, index, &req.purpose).await?,
    ))
}

/// A party's number to look cases up by.
#[derive(Debug, Deserialize, ToSchema)]
pub struct PartyLookup {
    /// An ID-card number (18 characters) or a phone number, as written anywhere.
    pub number: String,
}

/// The cases the user sees in which a party has this ID-card or phone number (exact match
/// through the blind index; at most 200, newest first). Needs the permission to see personal
/// numbers; each look-up is recorded in the audit trail with the number masked. A POST, so
/// the number is in no address or access log.
#[utoipa::path(post, path = "/api/v1/cases/by-party-number", tag = "cases", security(("bearer" = [])),
    request_body = PartyLookup,
    responses((status = 200, body = CaseList), (status = 403, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn cases_by_party_number(
    State(app): State<Arc<App>>,
    Authed(s): Authed,
    Body(req): Body<PartyLookup>,
) -> ApiResult<Json<CaseList>> {
    let items = app.cases_by_party_number(&s.actor, &req.number).await?;
    Ok(Json(CaseList {
        total: Some(items.len() as u64),
        items: items.iter().map(fengqiao_app::cases::case_view).collect(),
        next_before_id: None,
    }))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct AttachmentParams {
    pub filename: String,
}

/// Adds an attachment: the raw file as the body (images, PDF, audio; at most 10 MiB).
#[utoipa::path(post, path = "/api/v1/cases/{id}/attachments", tag = "cases", security(("bearer" = [])),
    params(("id" = i64, Path), AttachmentParams), request_body(content = Vec<u8>, content_type = "application/octet-stream"),
    responses((status = 201, body = AttachmentMeta), (status = 413, body = ErrorBody), (status = 415, body = ErrorBody)))]
pub async fn add_attachment(
    State(app): State<Arc<App>>,
    Authed(s): Authed,
    Path(id): Path<i64>,
    Params(p): Params<AttachmentParams>,
    body: Bytes,
) -> ApiResult<(StatusCode, Json<AttachmentMeta>)> {
    Ok((
        StatusCode::CREATED,
        Json(
            app.add_attachment(&s.actor, id, &p.filename, body.to_vec())
                .await?,
        ),
    ))
}

/// Downloads an attachment of a case.
#[utoipa::path(get, path = "/api/v1/cases/{id}/attachments/{attachment_id}", tag = "cases", security(("bearer" = [])),
    params(("id" = i64, Path), ("attachment_id" = String, Path)),
    responses((status = 200, content_type = "application/octet-stream"), (status = 404, body = ErrorBody)))]
pub async fn get_attachment(
    State(app): State<Arc<App>>,
    Authed(s): Authed,
    Path((id, blob)): Path<(i64, String)>,
) -> ApiResult<Response> {
    let b = app.get_attachment(&s.actor, id, &blob).await?;
    Ok((
        [
            (header::CONTENT_TYPE, b.content_type),
            (header::CONTENT_DISPOSITION, "attachment".to_string()),
            (header::X_CONTENT_TYPE_OPTIONS, "nosniff".to_string()),
        ],
        b.bytes,
    )
        .into_response())
}

/// The supervision inbox: visible cases with an open supervision.
#[utoipa::path(get, path = "/api/v1/supervisions", tag = "cases", security(("bearer" = [])), params(CaseQuery),
    responses((status = 200, body = CaseList)))]
pub async fn supervisions(
    State(app): State<Arc<App>>,
    Authed(s): Authed,
    Params(mut q): Params<CaseQuery>,
) -> ApiResult<Json<CaseList>> {
    q.with_open_supervision = Some(true);
    Ok(Json(app.list_cases(&s.actor, &q).await?))
}

/// The case's escalation-risk grade now (red / yellow / green) with its reasons.
#[utoipa::path(get, path = "/api/v1/cases/{id}/risk", tag = "cases", security(("bearer" = [])),
    params(("id" = i64, Path, description = "Case id")),
    responses((status = 200, body = fengqiao_domain::risk::RiskAssessment), (status = 404, body = ErrorBody)))]
pub async fn risk(
    axum::extract::State(app): axum::extract::State<std::sync::Arc<fengqiao_app::App>>,
    crate::extract::Authed(s): crate::extract::Authed,
    axum::extract::Path(id): axum::extract::Path<i64>,
) -> super::ApiResult<axum::Json<fengqiao_domain::risk::RiskAssessment>> {
    Ok(axum::Json(app.case_risk(&s.actor, id).await?))
}

/// The case room (云端解纷): its parties (invited, joined; the invitation links for those who
/// run the room), its scheduled sessions and its thread of messages with their attachments.
/// Invite, write, schedule and cancel through the case's actions (`invite_party`,
/// `post_message`, `schedule_session`, `cancel_session`); parties take part through the
/// link they are sent, confirmed with a code to their phone.
#[utoipa::path(get, path = "/api/v1/cases/{id}/room", tag = "cases", security(("bearer" = [])),
    params(("id" = i64, Path, description = "Case id")),
    responses((status = 200, body = fengqiao_app::room::RoomView), (status = 404, body = ErrorBody)))]
pub async fn room(
    State(app): State<Arc<App>>,
    Authed(s): Authed,
    Path(id): Path<i64>,
) -> ApiResult<Json<fengqiao_app::room::RoomView>> {
    Ok(Json(app.room_view(&s.actor, id).await?))
}
