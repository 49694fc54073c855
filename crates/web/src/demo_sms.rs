//! The demo's stand-in for phones: `fengqiao demo` points the SMS gateway at
//! `/demo/sms-gateway` (setting [`SETTING`]), which keeps the last messages in memory, and
//! `/demo/sms` shows them — so the demo's parties can receive their invitation links and codes.
//! Both answer "not found" unless the demo turned them on.
use crate::i18n::Tr;
use crate::view::render;
use askama::Template;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use fengqiao_app::App;
use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};

/// The setting that turns the demo's SMS inbox on.
pub const SETTING: &str = "demo_sms_inbox";
const KEEP: usize = 200;

static INBOX: Mutex<VecDeque<(String, String, String)>> = Mutex::new(VecDeque::new());

async fn on(app: &App) -> bool {
    matches!(app.store.get_setting(SETTING).await, Ok(Some(v)) if v == "on")
}

/// The gateway: `?phone=…&text=…`.
pub async fn gateway(
    State(app): State<Arc<App>>,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    if !on(&app).await {
        return StatusCode::NOT_FOUND.into_response();
    }
    let phone = q.get("phone").cloned().unwrap_or_default();
    let text = q.get("text").cloned().unwrap_or_default();
    if let Ok(mut inbox) = INBOX.lock() {
        inbox.push_front((
            crate::room_time(app.now()),
            fengqiao_domain::validate::mask_middle(&phone, 3, 4),
            text,
        ));
        inbox.truncate(KEEP);
    }
    "OK".into_response()
}

#[derive(Template)]
#[template(path = "demo_sms.html")]
pub struct InboxPage {
    pub t: Tr,
    /// (time, phone masked, text), newest first.
    pub messages: Vec<(String, String, String)>,
}

pub async fn inbox(State(app): State<Arc<App>>, t: Tr) -> Response {
    if !on(&app).await {
        return StatusCode::NOT_FOUND.into_response();
    }
    let messages = INBOX
        .lock()
        .map(|m| m.iter().cloned().collect())
        .unwrap_or_default();
    render(&InboxPage { t, messages })
}
