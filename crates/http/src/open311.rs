//! Open311 GeoReport v2 endpoints under `/open311/v2`, JSON or XML by the path's extension
//! (`services.json`, `requests/12.xml`), with the discovery document at
//! `/open311/discovery.json`. Handlers only translate: parameters from the query string and
//! (for POST) the form body, the `api_key` to a session, the app's answers to JSON or XML,
//! errors to Open311's `[{code, description}]`.
use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use fengqiao_app::open311::{NewRequest, RequestFilter};
use fengqiao_app::{App, AppError};
use fengqiao_domain::access::Actor;
use serde::Serialize;
use serde_json::Value;
use std::collections::BTreeMap;
use std::sync::Arc;

/// The Open311 routes.
pub fn router(app: Arc<App>) -> Router {
    Router::new()
        .route("/open311/{file}", get(discovery))
        .route("/open311/v2/{file}", get(list).post(submit))
        .route("/open311/v2/services/{file}", get(definition))
        .route("/open311/v2/requests/{file}", get(one_request))
        .route("/open311/v2/tokens/{file}", get(token))
        .with_state(app)
}

#[derive(Clone, Copy, PartialEq)]
enum Format {
    Json,
    Xml,
}

/// `name.json` → (`name`, JSON); an unknown extension is "not found".
fn split(file: &str) -> Result<(&str, Format), Box<Response>> {
    match file.rsplit_once('.') {
        Some((name, "json")) if !name.is_empty() => Ok((name, Format::Json)),
        Some((name, "xml")) if !name.is_empty() => Ok((name, Format::Xml)),
        _ => Err(Box::new(error(
            Format::Json,
            StatusCode::NOT_FOUND,
            "use a .json or .xml path",
        ))),
    }
}

/// Open311's error list, in the request's format.
fn error(format: Format, status: StatusCode, description: &str) -> Response {
    let code = status.as_u16();
    match format {
        Format::Json => (
            status,
            [(header::CONTENT_TYPE, "application/json; charset=utf-8")],
            serde_json::json!([{ "code": code, "description": description }]).to_string(),
        )
            .into_response(),
        Format::Xml => (
            status,
            [(header::CONTENT_TYPE, "text/xml; charset=utf-8")],
            format!(
                "<?xml version=\"1.0\" encoding=\"utf-8\"?><errors><error><code>{code}</code><description>{}</description></error></errors>",
                escape(description)
            ),
        )
            .into_response(),
    }
}

fn app_error(format: Format, e: &AppError) -> Response {
    let status = match e {
        AppError::Domain(fengqiao_domain::DomainError::Forbidden) => StatusCode::FORBIDDEN,
        AppError::Domain(_) | AppError::Duplicate(_) | AppError::IdempotencyKeyReused => {
            StatusCode::BAD_REQUEST
        }
        AppError::NotFound(_) => StatusCode::NOT_FOUND,
        AppError::Unauthenticated | AppError::InvalidCredentials => StatusCode::UNAUTHORIZED,
        AppError::Conflict => StatusCode::CONFLICT,
        _ => {
            tracing::error!(error = %e, "open311 request failed");
            StatusCode::INTERNAL_SERVER_ERROR
        }
    };
    let description = if status == StatusCode::INTERNAL_SERVER_ERROR {
        "internal error".to_string()
    } else {
        e.to_string()
    };
    error(format, status, &description)
}

fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            // Characters XML 1.0 cannot carry.
            c if (c as u32) < 0x20 && !matches!(c, '\t' | '\n' | '\r') => {}
            c => out.push(c),
        }
    }
    out
}

/// A JSON value as XML elements (arrays repeat their parent's element name).
fn xml_value(out: &mut String, name: &str, v: &Value) {
    match v {
        Value::Null => {}
        Value::Array(items) => {
            for i in items {
                xml_value(out, name, i);
            }
        }
        Value::Object(map) => {
            out.push_str(&format!("<{name}>"));
            for (k, v) in map {
                if let Value::Array(items) = v {
                    // A list field: <attributes><attribute>…</attribute></attributes>.
                    out.push_str(&format!("<{k}>"));
                    let one = k.strip_suffix('s').unwrap_or(k);
                    for i in items {
                        xml_value(out, one, i);
                    }
                    out.push_str(&format!("</{k}>"));
                } else {
                    xml_value(out, k, v);
                }
            }
            out.push_str(&format!("</{name}>"));
        }
        Value::String(s) => out.push_str(&format!("<{name}>{}</{name}>", escape(s))),
        other => out.push_str(&format!("<{name}>{other}</{name}>")),
    }
}

/// An answer in the request's format: JSON as is; XML as `<root><item>…</item></root>`.
fn render<T: Serialize>(format: Format, root: &str, item: &str, value: &T) -> Response {
    let v = serde_json::to_value(value).unwrap_or(Value::Null);
    match format {
        Format::Json => (
            [(header::CONTENT_TYPE, "application/json; charset=utf-8")],
            v.to_string(),
        )
            .into_response(),
        Format::Xml => {
            let mut out = String::from("<?xml version=\"1.0\" encoding=\"utf-8\"?>");
            match &v {
                Value::Array(_) => {
                    out.push_str(&format!("<{root}>"));
                    xml_value(&mut out, item, &v);
                    out.push_str(&format!("</{root}>"));
                }
                _ => xml_value(&mut out, root, &v),
            }
            ([(header::CONTENT_TYPE, "text/xml; charset=utf-8")], out).into_response()
        }
    }
}

/// Parameters of the query string and (for POST) the form body, the body winning.
fn params(query: Option<&str>, body: Option<&[u8]>) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = query
        .map(|q| form_urlencoded::parse(q.as_bytes()).into_owned().collect())
        .unwrap_or_default();
    if let Some(b) = body {
        out.extend(form_urlencoded::parse(b).into_owned());
    }
    out
}

fn param<'a>(p: &'a [(String, String)], name: &str) -> Option<&'a str> {
    p.iter()
        .rev()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}

/// The account of the `api_key` (or a bearer token).
async fn account(
    app: &App,
    p: &[(String, String)],
    headers: &HeaderMap,
    format: Format,
) -> Result<Actor, Box<Response>> {
    let key = param(p, "api_key")
        .map(str::to_string)
        .or_else(|| {
            headers
                .get(header::AUTHORIZATION)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.strip_prefix("Bearer "))
                .map(str::to_string)
        })
        .filter(|k| !k.is_empty())
        .ok_or_else(|| {
            Box::new(error(
                format,
                StatusCode::UNAUTHORIZED,
                "an api_key is required",
            ))
        })?;
    app.authenticate(&key).await.map(|s| s.actor).map_err(|_| {
        Box::new(error(
            format,
            StatusCode::UNAUTHORIZED,
            "the api_key is not valid",
        ))
    })
}

async fn discovery(Path(file): Path<String>) -> Response {
    let (name, format) = match split(&file) {
        Ok(x) => x,
        Err(r) => return *r,
    };
    if name != "discovery" {
        return error(format, StatusCode::NOT_FOUND, "no such document");
    }
    let doc = serde_json::json!({
        "changeset": "2026-11-24T00:00:00+08:00",
        "contact": "枫桥矛盾纠纷多元化解平台 / Fengqiao",
        "key_service": "api_key: a session token of a service account (POST /api/v1/auth/login)",
        "endpoints": [{
            "specification": "http://wiki.open311.org/GeoReport_v2",
            "url": "/open311/v2",
            "changeset": "2026-11-24T00:00:00+08:00",
            "type": "production",
            "formats": ["application/json", "text/xml"]
        }]
    });
    render(format, "discovery", "endpoint", &doc)
}

async fn list(
    State(app): State<Arc<App>>,
    Path(file): Path<String>,
    RawQuery(q): RawQuery,
    headers: HeaderMap,
) -> Response {
    let (name, format) = match split(&file) {
        Ok(x) => x,
        Err(r) => return *r,
    };
    let p = params(q.as_deref(), None);
    match name {
        "services" => render(format, "services", "service", &app.open311_services()),
        "requests" => {
            let actor = match account(&app, &p, &headers, format).await {
                Ok(a) => a,
                Err(r) => return *r,
            };
            let f = RequestFilter {
                service_request_id: param(&p, "service_request_id").map(str::to_string),
                service_code: param(&p, "service_code").map(str::to_string),
                start_date: param(&p, "start_date").map(str::to_string),
                end_date: param(&p, "end_date").map(str::to_string),
                status: param(&p, "status").map(str::to_string),
            };
            match app.open311_requests(&actor, &f).await {
                Ok(r) => render(format, "service_requests", "request", &r),
                Err(e) => app_error(format, &e),
            }
        }
        _ => error(format, StatusCode::NOT_FOUND, "no such resource"),
    }
}

async fn submit(
    State(app): State<Arc<App>>,
    Path(file): Path<String>,
    RawQuery(q): RawQuery,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let (name, format) = match split(&file) {
        Ok(x) => x,
        Err(r) => return *r,
    };
    if name != "requests" {
        return error(format, StatusCode::NOT_FOUND, "no such resource");
    }
    let p = params(q.as_deref(), Some(&body));
    let actor = match account(&app, &p, &headers, format).await {
        Ok(a) => a,
        Err(r) => return *r,
    };
    let number = |k: &str| -> Result<Option<f64>, String> {
        match param(&p, k).filter(|v| !v.trim().is_empty()) {
            None => Ok(None),
            Some(v) => v
                .trim()
                .parse()
                .map(Some)
                .map_err(|_| format!("{k} is not a number")),
        }
    };
    let (lat, long) = match (number("lat"), number("long")) {
        (Ok(a), Ok(b)) => (a, b),
        (Err(m), _) | (_, Err(m)) => return error(format, StatusCode::BAD_REQUEST, &m),
    };
    let text = |k: &str| param(&p, k).map(str::to_string);
    let attributes: BTreeMap<String, String> = p
        .iter()
        .filter_map(|(k, v)| {
            k.strip_prefix("attribute[")
                .and_then(|k| k.strip_suffix(']'))
                .map(|k| (k.to_string(), v.clone()))
        })
        .collect();
    let Some(service_code) = text("service_code").filter(|s| !s.is_empty()) else {
        return error(format, StatusCode::BAD_REQUEST, "service_code is required");
    };
    let r = NewRequest {
        service_code,
        jurisdiction_id: text("jurisdiction_id"),
        lat,
        long,
        address_string: text("address_string"),
        description: text("description"),
        first_name: text("first_name"),
        last_name: text("last_name"),
        phone: text("phone"),
        attributes,
    };
    match app.open311_submit(&actor, &r).await {
        Ok(r) => render(format, "service_requests", "request", &r),
        Err(e) => app_error(format, &e),
    }
}

async fn definition(State(app): State<Arc<App>>, Path(file): Path<String>) -> Response {
    let (code, format) = match split(&file) {
        Ok(x) => x,
        Err(r) => return *r,
    };
    match app.open311_definition(code) {
        Ok(d) => render(format, "service_definition", "service_definition", &d),
        Err(e) => app_error(format, &e),
    }
}

async fn one_request(
    State(app): State<Arc<App>>,
    Path(file): Path<String>,
    RawQuery(q): RawQuery,
    headers: HeaderMap,
) -> Response {
    read_one(&app, &file, q.as_deref(), &headers, One::Request).await
}

async fn token(
    State(app): State<Arc<App>>,
    Path(file): Path<String>,
    RawQuery(q): RawQuery,
    headers: HeaderMap,
) -> Response {
    read_one(&app, &file, q.as_deref(), &headers, One::Token).await
}

/// What `requests/{id}` and `tokens/{token}` look up.
enum One {
    Request,
    Token,
}

/// One request by id or by token, for the key's account, as a one-item list.
async fn read_one(
    app: &App,
    file: &str,
    q: Option<&str>,
    headers: &HeaderMap,
    one: One,
) -> Response {
    let (key, format) = match split(file) {
        Ok(x) => x,
        Err(r) => return *r,
    };
    let p = params(q, None);
    let actor = match account(app, &p, headers, format).await {
        Ok(a) => a,
        Err(r) => return *r,
    };
    let found = match one {
        One::Request => app
            .open311_request(&actor, key)
            .await
            .map(|r| serde_json::to_value(vec![r])),
        One::Token => app
            .open311_token(&actor, key)
            .await
            .map(|r| serde_json::to_value(vec![r])),
    };
    match found {
        Ok(Ok(v)) => render(format, "service_requests", "request", &v),
        Ok(Err(e)) => app_error(format, &AppError::Internal(e.to_string())),
        Err(e) => app_error(format, &e),
    }
}
