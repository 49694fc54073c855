//! The web pages: the staff workbench, the citizen portal reached by QR code, and the grid
//! worker's patrol form. Server-rendered with askama; htmx (vendored from npm, served by the
//! binary) only loads fragments; every page works without JavaScript.
//!
//! Handlers only translate: read the form or query, call [`App`], render a template. The
//! session is a cookie holding the same token the API uses as bearer (`HttpOnly`,
//! `SameSite=Strict`); every form that changes something also carries a CSRF token derived
//! from the session, checked before anything else.
mod admin;
mod agreement;
mod citizen;
mod cockpit;
pub mod demo_sms;
mod dossier;
mod export;
mod grid;
mod i18n;
mod imports;
mod legal;
mod lookup;
mod outbound;
mod poster;
mod reports;
mod room;
mod search;
mod session;
mod signin;
mod staff;
mod unmasked;
mod video;
mod view;
mod warnings;

use axum::extract::Path;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::Router;
use fengqiao_app::App;
use std::sync::Arc;

pub use i18n::{Lang, Tr};

/// The pages, their static assets and the language switch.
/// The Content-Security-Policy of every answer: scripts only from files this server serves
/// (no inline script, no eval), nothing framed, forms post only here.
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'self'; script-src 'self'; \
style-src 'self' 'unsafe-inline'; img-src 'self' data: blob:; font-src 'self' data:; \
connect-src 'self'; object-src 'none'; base-uri 'self'; form-action 'self'; frame-ancestors 'none'";

/// Wraps every answer of `router` (the API's and the pages'): the request's client address
/// is known to the audit trail while it is served, a refusal (403) is recorded there, and the
/// security headers are added — CSP, `X-Frame-Options`, `X-Content-Type-Options`,
/// `Referrer-Policy`, and HSTS when TLS terminates in front. A header a handler set itself
/// is kept.
pub fn harden(router: Router, app: Arc<App>) -> Router {
    router.layer(axum::middleware::from_fn_with_state(app, guard))
}

async fn guard(
    axum::extract::State(app): axum::extract::State<Arc<App>>,
    req: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    let client = req
        .extensions()
        .get::<axum::extract::ConnectInfo<std::net::SocketAddr>>()
        .map_or_else(|| "local".to_string(), |c| c.0.ip().to_string());
    let target = format!("{} {}", req.method(), req.uri().path());
    let token = session::cookie(req.headers(), session::COOKIE).or_else(|| {
        req.headers()
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .map(|t| t.trim().to_string())
    });
    let tls = app.settings.behind_tls;
    fengqiao_app::audit::CLIENT
        .scope(client, async move {
            let mut res = next.run(req).await;
            if res.status() == StatusCode::FORBIDDEN {
                let who = match &token {
                    Some(t) => app.pending_session(t).await.ok().map(|(s, _)| s.user),
                    None => None,
                };
                let who = match who {
                    Some(u) => fengqiao_app::audit::Who::user(u.id, &u.username),
                    None => fengqiao_app::audit::Who::named("anonymous"),
                };
                let recorded = app
                    .audit(
                        who,
                        fengqiao_domain::audit::AuditAction::AccessDenied,
                        &target,
                        "denied",
                        serde_json::json!({}),
                    )
                    .await;
                if let Err(e) = recorded {
                    tracing::error!(error = %e, "audit of a refusal");
                }
            }
            add_security_headers(res.headers_mut(), tls);
            res
        })
        .await
}

fn add_security_headers(h: &mut HeaderMap, tls: bool) {
    let mut set = |name: header::HeaderName, value: &'static str| {
        h.entry(name)
            .or_insert(header::HeaderValue::from_static(value));
    };
    set(header::CONTENT_SECURITY_POLICY, CONTENT_SECURITY_POLICY);
    set(header::X_FRAME_OPTIONS, "DENY");
    set(header::X_CONTENT_TYPE_OPTIONS, "nosniff");
    set(header::REFERRER_POLICY, "same-origin");
    if tls {
        set(
            header::STRICT_TRANSPORT_SECURITY,
            "max-age=31536000; includeSubDomains",
        );
    }
}

pub fn router(app: Arc<App>) -> Router {
    // Signed agreements are typeset with Typst (the app seals them once all have signed).
    app.set_renderer(Arc::new(agreement::TypstAgreement));
    Router::new()
        .route("/", get(|| async { Redirect::to("/workbench") }))
        .route("/login", get(staff::login_page).post(staff::login))
        .route("/logout", post(staff::logout))
        .route(
            "/login/password",
            get(signin::step_page).post(signin::step_post),
        )
        .route(
            "/login/code",
            get(signin::step_page).post(signin::step_post),
        )
        .route(
            "/login/enrol",
            get(signin::step_page).post(signin::step_post),
        )
        .route("/lang/{lang}", get(i18n::switch))
        .route("/static/{file}", get(asset))
        .route("/workbench", get(staff::workbench))
        .route("/cockpit", get(cockpit::page))
        .route("/cockpit/data", get(cockpit::data))
        .route("/cockpit/geo", get(cockpit::geo))
        .route("/cockpit/feed", get(cockpit::feed))
        .route("/warnings", get(warnings::list))
        .route("/warnings/run", post(warnings::run))
        .route("/warnings/{id}", get(warnings::page))
        .route("/warnings/{id}/act", post(warnings::act))
        .route("/warnings/{id}/summon", post(warnings::summon))
        .route("/warnings/{id}/respond", post(warnings::respond))
        .route("/reports/monthly", get(reports::monthly))
        .route("/reports/health", get(reports::health))
        .route("/workbench/queue/{queue}", get(staff::queue_fragment))
        .route("/cases", get(staff::case_list))
        .route("/search", get(search::page))
        .route("/cases/export.xlsx", get(export::cases_xlsx))
        .route("/cases/by-number", get(lookup::page).post(lookup::post))
        .route("/people", get(dossier::people).post(dossier::people_post))
        .route("/places/{code}", get(dossier::place))
        .route("/cases/{id}/parties/{index}", get(dossier::party))
        .route("/cases/{id}/room", get(room::staff))
        .route("/cases/{id}/room/invite", post(room::invite))
        .route("/cases/{id}/room/party", post(room::add_party))
        .route("/cases/{id}/room/schedule", post(room::schedule))
        .route("/cases/{id}/room/cancel", post(room::cancel))
        .route("/cases/{id}/room/post", post(room::staff_post))
        .route("/cases/{id}/room/agreement", post(room::draft))
        .route("/cases/{id}/room/performance", post(room::performance))
        .route("/cases/{id}/room/judicial", post(room::judicial))
        .route("/cases/{id}/room/judicial.zip", get(room::judicial_zip))
        .route("/cases/{id}/room/video/{no}", get(video::staff_page))
        .route("/cases/{id}/room/video/{no}/ws", get(video::staff_ws))
        .route("/room/{link}/video/{no}", get(video::party_page))
        .route("/room/{link}/video/{no}/ws", get(video::party_ws))
        .route("/room/{link}/sign-code", post(room::sign_code))
        .route("/room/{link}/sign", post(room::sign))
        .route("/demo/sms", get(demo_sms::inbox))
        .route("/demo/sms-gateway", get(demo_sms::gateway))
        .route("/room/{link}", get(room::party))
        .route("/room/{link}/code", post(room::send_code))
        .route("/room/{link}/join", post(room::join))
        .route("/room/{link}/post", post(room::party_post))
        .route("/room/{link}/files/{blob}", get(room::party_file))
        .route("/exports", get(unmasked::page).post(unmasked::request))
        .route("/exports/{id}/decision", post(unmasked::decide))
        .route("/exports/{id}/file.xlsx", get(export::unmasked_xlsx))
        .route("/cases/{id}", get(staff::case_page))
        .route("/cases/{id}/act", post(staff::act))
        .route("/cases/{id}/route-dialog", get(staff::route_dialog))
        .route("/cases/{id}/similar", get(legal::similar))
        .route("/cases/{id}/basis", get(legal::basis))
        .route("/cases/{id}/explainer", get(legal::explainer_page))
        .route("/cases/{id}/explainer.pdf", get(legal::explainer_pdf))
        .route("/cases/{id}/files", post(staff::upload))
        .route("/cases/{id}/files/{blob}", get(staff::attachment))
        .route("/admin", get(admin::index))
        .route(
            "/admin/jurisdictions",
            get(admin::jurisdictions).post(admin::jurisdictions_post),
        )
        .route("/admin/units", get(admin::units).post(admin::units_post))
        .route("/admin/users", get(admin::users).post(admin::users_post))
        .route(
            "/admin/experts",
            get(admin::experts).post(admin::experts_post),
        )
        .route(
            "/admin/calendar",
            get(admin::calendar).post(admin::calendar_post),
        )
        .route("/admin/rules", get(admin::rules).post(admin::rules_post))
        .route(
            "/admin/security",
            get(admin::security).post(admin::security_post),
        )
        .route("/admin/index-weights", post(admin::weights_post))
        .route("/admin/outbound", get(outbound::page).post(outbound::post))
        .route(
            "/imports",
            get(imports::page)
                .post(imports::upload)
                .layer(axum::extract::DefaultBodyLimit::max(imports::MAX_UPLOAD)),
        )
        .route("/c/{node}", get(citizen::form).post(citizen::submit))
        .route("/track", get(citizen::track_page).post(citizen::track))
        .route("/track/done", get(citizen::done_page))
        .route("/track/rate", post(citizen::rate))
        .route("/qr/{file}", get(poster::poster))
        .route("/grid/report", get(grid::form).post(grid::submit))
        .route("/grid/snap", get(grid::snap))
        .route("/grid/mine", get(grid::mine))
        .layer(axum::extract::DefaultBodyLimit::max(48 * 1024 * 1024))
        .with_state(app)
}

const CSS: &str = include_str!("../assets/app.css");
const JS: &str = include_str!("../assets/app.js");
const COCKPIT_JS: &str = include_str!("../assets/cockpit.js");
const SIGN_JS: &str = include_str!("../assets/sign.js");
const VIDEO_JS: &str = include_str!("../assets/video.js");
const HTMX: &[u8] = include_bytes!("../assets/vendor/htmx/htmx.min.js");
const HTMX_GZ: &[u8] = include_bytes!("../assets/vendor/htmx/htmx.min.js.gz");
const ECHARTS: &[u8] = include_bytes!("../assets/vendor/echarts/echarts.min.js");
const ECHARTS_GZ: &[u8] = include_bytes!("../assets/vendor/echarts/echarts.min.js.gz");

/// A vendored script, gzip-compressed when the browser accepts it.
fn vendored(headers: &HeaderMap, plain: &'static [u8], gz: &'static [u8]) -> Response {
    let cache = (header::CACHE_CONTROL, "public, max-age=86400");
    let gzip = headers
        .get(header::ACCEPT_ENCODING)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.contains("gzip"));
    if gzip {
        (
            [
                (header::CONTENT_TYPE, "text/javascript"),
                (header::CONTENT_ENCODING, "gzip"),
                (header::VARY, "Accept-Encoding"),
                cache,
            ],
            gz,
        )
            .into_response()
    } else {
        ([(header::CONTENT_TYPE, "text/javascript"), cache], plain).into_response()
    }
}

/// Static assets, cached for a day; htmx goes out pre-compressed when the browser accepts gzip.
async fn asset(Path(file): Path<String>, headers: HeaderMap) -> Response {
    let cache = (header::CACHE_CONTROL, "public, max-age=86400");
    match file.as_str() {
        "app.css" => ([(header::CONTENT_TYPE, "text/css"), cache], CSS).into_response(),
        "app.js" => ([(header::CONTENT_TYPE, "text/javascript"), cache], JS).into_response(),
        "cockpit.js" => (
            [(header::CONTENT_TYPE, "text/javascript"), cache],
            COCKPIT_JS,
        )
            .into_response(),
        "sign.js" => ([(header::CONTENT_TYPE, "text/javascript"), cache], SIGN_JS).into_response(),
        "video.js" => {
            ([(header::CONTENT_TYPE, "text/javascript"), cache], VIDEO_JS).into_response()
        }
        "htmx.min.js" => vendored(&headers, HTMX, HTMX_GZ),
        "echarts.min.js" => vendored(&headers, ECHARTS, ECHARTS_GZ),
        _ => StatusCode::NOT_FOUND.into_response(),
    }
}

/// `YYYY-MM-DD HH:MM` in China time.
pub(crate) fn room_time(ms: fengqiao_domain::time::Millis) -> String {
    fengqiao_app::room::local_time(ms)
}
