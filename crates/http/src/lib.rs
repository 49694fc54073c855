//! The HTTP API under `/api/v1`, the OpenAPI document and the Swagger UI.
//!
//! Handlers only translate: parse the request into application/domain types, call [`App`],
//! render JSON. No SQL, no business rules here.
pub mod error;
mod extract;
pub mod open311;
mod routes;

use axum::http::{header, StatusCode};
use axum::response::{Html, IntoResponse};
use axum::routing::get;
use axum::{Json, Router};
use fengqiao_app::App;
use std::sync::Arc;
use utoipa::openapi::security::{Http, HttpAuthScheme, SecurityScheme};
use utoipa::{Modify, OpenApi};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub use extract::Authed;

#[derive(OpenApi)]
#[openapi(
    info(title = "Fengqiao 枫桥 API", description = "Community dispute resolution: one door in, a closed loop to evaluation."),
    modifiers(&BearerAuth),
    tags(
        (name = "auth", description = "Login and sessions"),
        (name = "cases", description = "Cases and their workflow"),
        (name = "public", description = "Citizens without an account: submit, track, evaluate"),
        (name = "reference", description = "Jurisdictions, units, users, calendar, deadline rules"),
        (name = "inbox", description = "In-app notifications"),
        (name = "search", description = "Full-text search over cases"),
        (name = "dossier", description = "全息档案: the full history of a person or a place"),
        (name = "text", description = "Reading dispute texts: elements, type, risk, duplicates"),
        (name = "stats", description = "Cockpit, monthly report, health checks, Fengqiao index"),
        (name = "warnings", description = "Early warnings: surges, clusters, hotspots, and acting on them"),
        (name = "channels", description = "Records from other systems: police, courts, petitions, arbitration, mediation, 12345"),
        (name = "outbound", description = "Notifications by webhook, e-mail and SMS: settings and the delivery queue"),
    )
)]
struct ApiDoc;

struct BearerAuth;
impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        if let Some(c) = openapi.components.as_mut() {
            c.add_security_scheme(
                "bearer",
                SecurityScheme::Http(Http::new(HttpAuthScheme::Bearer)),
            );
        }
    }
}

/// The API router and its OpenAPI document.
pub fn api(app: Arc<App>) -> (Router, utoipa::openapi::OpenApi) {
    use routes::*;
    let (router, doc) = OpenApiRouter::with_openapi(ApiDoc::openapi())
        .routes(routes!(auth::login))
        .routes(routes!(auth::logout))
        .routes(routes!(auth::change_password))
        .routes(routes!(auth::second_factor))
        .routes(routes!(auth::begin_enrolment))
        .routes(routes!(auth::confirm_enrolment))
        .routes(routes!(auth::me))
        .routes(routes!(cases::create_case, cases::list_cases))
        .routes(routes!(cases::get_case))
        .routes(routes!(cases::cases_by_party_number))
        .routes(routes!(cases::case_events))
        .routes(routes!(cases::case_sources))
        .routes(routes!(cases::act))
        .routes(routes!(cases::reveal))
        .routes(routes!(cases::add_attachment))
        .routes(routes!(cases::get_attachment))
        .routes(routes!(cases::supervisions))
        .routes(routes!(cases::risk))
        .routes(routes!(cases::room))
        .routes(routes!(dossier::person))
        .routes(routes!(dossier::place))
        .routes(routes!(search::search_cases))
        .routes(routes!(search::similar_cases))
        .routes(routes!(search::legal_basis))
        .routes(routes!(search::explainer))
        .routes(routes!(text::analyze))
        .routes(routes!(text::case_analysis))
        .routes(routes!(public::submit))
        .routes(routes!(public::track))
        .routes(routes!(public::evaluate))
        .routes(routes!(
            reference::list_jurisdictions,
            reference::create_jurisdiction
        ))
        .routes(routes!(reference::get_jurisdiction))
        .routes(routes!(reference::list_units, reference::create_unit))
        .routes(routes!(reference::get_unit))
        .routes(routes!(reference::set_unit_leader))
        .routes(routes!(reference::list_users, reference::create_user))
        .routes(routes!(reference::update_user))
        .routes(routes!(reference::reset_credentials))
        .routes(routes!(reference::audit_trail))
        .routes(routes!(reference::verify_audit))
        .routes(routes!(
            reference::get_security_policy,
            reference::put_security_policy
        ))
        .routes(routes!(reference::calendar))
        .routes(routes!(reference::set_calendar_day))
        .routes(routes!(reference::get_rules, reference::put_rules))
        .routes(routes!(reference::sweep))
        .routes(routes!(reference::inbox))
        .routes(routes!(reference::mark_read))
        .routes(routes!(stats::cockpit))
        .routes(routes!(stats::geo))
        .routes(routes!(stats::monthly))
        .routes(routes!(stats::health))
        .routes(routes!(stats::get_weights, stats::put_weights))
        .routes(routes!(warnings::list))
        .routes(routes!(warnings::hotspots))
        .routes(routes!(warnings::run))
        .routes(routes!(warnings::get))
        .routes(routes!(warnings::act))
        .routes(routes!(warnings::summon))
        .routes(routes!(warnings::reply))
        .routes(routes!(channels::push))
        .routes(routes!(outbound::overview, outbound::put_config))
        .routes(routes!(outbound::create_webhook))
        .routes(routes!(outbound::set_webhook_active))
        .routes(routes!(outbound::deliveries))
        .routes(routes!(outbound::retry))
        .routes(routes!(outbound::run))
        .routes(routes!(outbound::get_contact, outbound::set_contact))
        .with_state(app)
        .split_for_parts();
    (router, doc)
}

/// The whole service: API, OpenAPI document, Swagger UI, health check.
pub fn router(app: Arc<App>) -> Router {
    // Case texts are read (stored analysis, duplicates) in the background, off intake's path.
    app.spawn_text_reader();
    let georeport = open311::router(app.clone());
    let (api, doc) = api(app);
    let doc = Arc::new(doc);
    api.route(
        "/api/openapi.json",
        get(move || async move { Json(doc.as_ref().clone()) }),
    )
    .route("/api/docs", get(swagger_index))
    .route("/api/docs/swagger-ui-bundle.js", get(swagger_js))
    .route("/api/docs/swagger-ui.css", get(swagger_css))
    .route("/api/docs/swagger-init.js", get(swagger_init))
    .route("/healthz", get(|| async { "ok" }))
    .merge(georeport)
    .fallback(error::not_found)
    .layer(axum::extract::DefaultBodyLimit::max(12 * 1024 * 1024))
    .layer(axum::middleware::from_fn(error::localize))
}

async fn swagger_index() -> Html<&'static str> {
    Html(
        r##"<!doctype html><html lang="zh-CN"><head><meta charset="utf-8"><title>Fengqiao API</title>
<link rel="stylesheet" href="/api/docs/swagger-ui.css"></head><body><div id="ui"></div>
<script src="/api/docs/swagger-ui-bundle.js"></script>
<script src="/api/docs/swagger-init.js"></script></body></html>"##,
    )
}

/// Starts Swagger UI (a file, not inline: the CSP allows no inline script).
async fn swagger_init() -> impl IntoResponse {
    (
        StatusCode::OK,
        [(header::CONTENT_TYPE, "text/javascript")],
        r##"SwaggerUIBundle({url: "/api/openapi.json", dom_id: "#ui"});"##,
    )
}

async fn swagger_js() -> impl IntoResponse {
    (
        StatusCode::OK,
        [
            (header::CONTENT_TYPE, "text/javascript"),
            (header::CACHE_CONTROL, "public, max-age=86400"),
        ],
        include_str!("../assets/vendor/swagger-ui/swagger-ui-bundle.js"),
    )
}

async fn swagger_css() -> impl IntoResponse {
    (
        StatusCode::OK,
        [
            (header::CONTENT_TYPE, "text/css"),
            (header::CACHE_CONTROL, "public, max-age=86400"),
        ],
        include_str!("../assets/vendor/swagger-ui/swagger-ui.css"),
    )
}
