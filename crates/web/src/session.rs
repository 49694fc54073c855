//! The browser session: a cookie with the API's session token, and a CSRF token derived
//! from it (SM3 of the token and a label), carried by every form that changes something.
use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::HeaderMap;
use fengqiao_app::auth::Session;
use fengqiao_app::App;
use std::sync::Arc;

pub const COOKIE: &str = "fq_session";

/// A cookie's value.
pub fn cookie(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(axum::http::header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|kv| kv.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.to_string())
}

/// The `Set-Cookie` value carrying a session token (`Secure` when TLS terminates in front).
pub fn session_cookie(app: &App, token: &str) -> String {
    let secure = if app.settings.behind_tls {
        "; Secure"
    } else {
        ""
    };
    format!("{COOKIE}={token}; Path=/; HttpOnly; SameSite=Strict{secure}")
}

/// The `Set-Cookie` value removing the session cookie.
pub fn cleared_cookie(app: &App) -> String {
    format!("{}; Max-Age=0", session_cookie(app, ""))
}

/// The CSRF token of a session token.
pub fn csrf_of(token: &str) -> String {
    fengqiao_app::auth::sm3_hex(format!("csrf:{token}").as_bytes())
}

/// The signed-in user of a request, if any (expired or unknown tokens count as none).
pub struct Web {
    pub session: Option<(Session, String)>,
}

impl Web {
    /// The CSRF token to put in forms ("" without a session).
    pub fn csrf(&self) -> String {
        self.session
            .as_ref()
            .map(|(_, t)| csrf_of(t))
            .unwrap_or_default()
    }

    /// True when the form's token belongs to this session.
    pub fn csrf_ok(&self, given: &str) -> bool {
        self.session
            .as_ref()
            .is_some_and(|(_, t)| !given.is_empty() && csrf_of(t) == given)
    }
}

impl FromRequestParts<Arc<App>> for Web {
    type Rejection = std::convert::Infallible;
    async fn from_request_parts(
        parts: &mut Parts,
        app: &Arc<App>,
    ) -> Result<Self, Self::Rejection> {
        let session = match cookie(&parts.headers, COOKIE) {
            Some(token) => app.authenticate(&token).await.ok().map(|s| (s, token)),
            None => None,
        };
        Ok(Web { session })
    }
}
