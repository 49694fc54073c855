//! Printable QR posters: `/qr/{code}.svg` and `/qr/{code}.pdf`.
//!
//! A village's (or community's, or grid's) poster carries its name, the QR code of its citizen
//! form and three lines on how to use it. The PDF of a town or a county has one A4 page per
//! village in it, for printing a whole jurisdiction at once; it is typeset by Typst (through
//! `fengqiao-pdf`) and needs a staff session, since typesetting hundreds of pages is work the
//! public should not be able to trigger at will.
//!
//! The address in the code is `FENGQIAO_PUBLIC_URL` when set (the address citizens reach),
//! otherwise the one this page was reached by.
use crate::i18n::Tr;
use crate::session::Web;
use crate::staff::to_login;
use crate::view::{error_page, subtree};
use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use fengqiao_app::{App, AppError};
use fengqiao_domain::jurisdiction::{Jurisdiction, Level};
use fengqiao_pdf::{Document, Typesetter};
use std::sync::{Arc, OnceLock};

/// At most this many pages in one PDF (a county has a few hundred villages).
pub const MAX_PAGES: usize = 2000;

const TEMPLATE: &str = include_str!("../typst/poster.typ");

/// `/qr/{file}`: the poster of one place as SVG, or of one place or a whole subtree as PDF.
pub async fn poster(
    State(app): State<Arc<App>>,
    t: Tr,
    web: Web,
    headers: HeaderMap,
    Path(file): Path<String>,
) -> Response {
    let (code, pdf) = match (file.strip_suffix(".svg"), file.strip_suffix(".pdf")) {
        (Some(code), _) => (code.to_string(), false),
        (_, Some(code)) => (code.to_string(), true),
        _ => (file.clone(), false),
    };
    let node = match app.get_jurisdiction(&code).await {
        Ok(j) => j,
        Err(e) => return error_page(t, &e, web.session.is_some(), web.csrf()),
    };
    let base = public_base(&headers);
    if !pdf {
        return match svg(t, &node, &base) {
            Some(svg) => (
                [
                    (header::CONTENT_TYPE, "image/svg+xml; charset=utf-8"),
                    (header::CACHE_CONTROL, "no-cache"),
                ],
                svg,
            )
                .into_response(),
            None => StatusCode::INTERNAL_SERVER_ERROR.into_response(),
        };
    }
    let places = if node.level >= Level::Village {
        vec![node]
    } else {
        if web.session.is_none() {
            return to_login(&format!("/qr/{file}"));
        }
        let mut villages: Vec<Jurisdiction> = subtree(&app, &node.code, Level::Village)
            .await
            .into_iter()
            .filter(|j| j.level == Level::Village)
            .collect();
        villages.truncate(MAX_PAGES);
        villages
    };
    if places.is_empty() {
        return error_page(t, &AppError::NotFound("village"), true, web.csrf());
    }
    let doc = match document(t, &places, &base) {
        Some(doc) => doc,
        None => return StatusCode::INTERNAL_SERVER_ERROR.into_response(),
    };
    pdf_response(
        doc,
        format!("qr-{code}.pdf"),
        format!("{}: ", t.s("poster.pdf_failed")),
    )
    .await
}

/// Typesets a document on a blocking thread and answers it as an inline PDF (503 with the
/// reason, prefixed by `failed`, when it cannot be typeset).
pub(crate) async fn pdf_response(doc: Document, filename: String, failed: String) -> Response {
    let typeset = tokio::task::spawn_blocking(move || {
        typesetter()
            .map_err(|e| e.to_string())
            .and_then(|ts| ts.pdf(&doc).map_err(|e| format!("{} ({})", e, e.code())))
    })
    .await;
    match typeset {
        Ok(Ok(bytes)) => (
            [
                (header::CONTENT_TYPE, "application/pdf".to_string()),
                (
                    header::CONTENT_DISPOSITION,
                    format!("inline; filename=\"{filename}\""),
                ),
                (header::CACHE_CONTROL, "no-cache".to_string()),
            ],
            bytes,
        )
            .into_response(),
        Ok(Err(message)) => {
            tracing::error!(%message, %filename, "PDF");
            (
                StatusCode::SERVICE_UNAVAILABLE,
                [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
                format!("{failed}{message}"),
            )
                .into_response()
        }
        Err(_) => StatusCode::INTERNAL_SERVER_ERROR.into_response(),
    }
}

/// The fonts, loaded on the first PDF and kept (a few tens of MB of Noto CJK).
pub(crate) fn typesetter() -> Result<&'static Typesetter, String> {
    static SETTER: OnceLock<Result<Typesetter, String>> = OnceLock::new();
    SETTER
        .get_or_init(|| Typesetter::from_system().map_err(|e| e.to_string()))
        .as_ref()
        .map_err(Clone::clone)
}

/// `scheme://host[:port]` of the citizen form: configured, or the address of this request.
fn public_base(headers: &HeaderMap) -> String {
    if let Ok(url) = std::env::var("FENGQIAO_PUBLIC_URL") {
        let url = url.trim().trim_end_matches('/');
        if url.starts_with("http://") || url.starts_with("https://") {
            return url.to_string();
        }
    }
    let host = headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .filter(|h| {
            h.chars()
                .all(|c| c.is_ascii_alphanumeric() || ".:-[]".contains(c))
        })
        .unwrap_or("localhost");
    format!("http://{host}")
}

/// The QR code of `url` as an SVG document of at least `size` pixels.
pub(crate) fn qr_svg(url: &str, size: u32) -> Option<String> {
    let code =
        qrcode::QrCode::with_error_correction_level(url.as_bytes(), qrcode::EcLevel::M).ok()?;
    Some(
        code.render::<qrcode::render::svg::Color>()
            .min_dimensions(size, size)
            .quiet_zone(true)
            .build(),
    )
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// The poster of one place as SVG (A4 proportions).
fn svg(t: Tr, node: &Jurisdiction, base: &str) -> Option<String> {
    let url = format!("{base}/c/{}", node.code);
    let qr = qr_svg(&url, 420)?;
    let qr = qr.split_once("?>").map(|(_, b)| b).unwrap_or(&qr).trim();
    let qr = qr.replacen("<svg ", "<svg x=\"90\" y=\"200\" ", 1);
    Some(format!(
        r##"<?xml version="1.0" encoding="UTF-8"?>
<svg xmlns="http://www.w3.org/2000/svg" width="600" height="848" viewBox="0 0 600 848" font-family="Noto Sans CJK SC, Noto Sans SC, sans-serif">
<rect width="600" height="848" fill="#fff"/>
<rect x="0" y="0" width="600" height="120" fill="#b3261e"/>
<text x="300" y="70" font-size="40" fill="#fff" text-anchor="middle" font-weight="bold">{title}</text>
<text x="300" y="170" font-size="30" text-anchor="middle" fill="#1a1a1a">{place}</text>
{qr}
<text x="300" y="690" font-size="26" text-anchor="middle" fill="#1a1a1a">{scan}</text>
<text x="300" y="735" font-size="20" text-anchor="middle" fill="#444">{steps}</text>
<text x="300" y="800" font-size="16" text-anchor="middle" fill="#666">{url}</text>
</svg>"##,
        title = escape(t.s("poster.title")),
        place = escape(&node.name),
        scan = escape(t.s("poster.scan")),
        steps = escape(t.s("poster.steps")),
        url = escape(&url),
    ))
}

/// The PDF document: one page per place, its data as JSON and its QR code as SVG.
fn document(t: Tr, places: &[Jurisdiction], base: &str) -> Option<Document> {
    let mut pages = Vec::with_capacity(places.len());
    let mut doc = Document::new(TEMPLATE);
    for (i, place) in places.iter().enumerate() {
        let url = format!("{base}/c/{}", place.code);
        let qr = format!("qr-{i}.svg");
        doc = doc.file(&qr, qr_svg(&url, 600)?);
        pages.push(serde_json::json!({
            "place": place.name,
            "code": place.code,
            "url": url,
            "qr": qr,
        }));
    }
    let data = serde_json::json!({
        "lang": if t.lang == crate::i18n::Lang::En { "en" } else { "zh" },
        "title": t.s("poster.title"),
        "scan": t.s("poster.scan"),
        "steps": t.s("poster.steps"),
        "pages": pages,
    });
    Some(doc.json("data.json", &data))
}
