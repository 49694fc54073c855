//! The command cockpit page (`/cockpit`), its map boundaries (`/cockpit/geo`) and its live feed
//! of new cases (`/cockpit/feed`, server-sent events).
//!
//! The page is rendered with every figure in it (KPIs, ranking, lists), and the same figures
//! as JSON for the charts, which ECharts (vendored from npm, served by the binary) draws.
//! Every figure links to the case list filtered to the cases behind it.
use crate::i18n::Tr;
use crate::session::Web;
use crate::staff::to_login;
use crate::view::{error_page, render};
use askama::Template;
use axum::extract::{Query, State};
use axum::http::{header, StatusCode};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use axum::Json;
use fengqiao_app::cockpit::{Cockpit, FeedItem};
use fengqiao_app::App;
use fengqiao_domain::access::can_view;
use fengqiao_domain::jurisdiction::path_within;
use serde::Deserialize;
use std::sync::Arc;

#[derive(Debug, Deserialize, Default)]
pub struct NodeParams {
    #[serde(default)]
    pub node: Option<String>,
}

impl NodeParams {
    fn code(&self) -> Option<&str> {
        self.node.as_deref().filter(|c| !c.is_empty())
    }
}

#[derive(Template)]
#[template(path = "cockpit.html")]
pub struct CockpitPage {
    pub t: Tr,
    pub c: Cockpit,
    /// The figures for the charts (the same struct as JSON, labels translated).
    pub json: String,
    /// Labels the charts need, as JSON.
    pub labels: String,
    pub signed_in: bool,
    pub csrf: String,
}

impl CockpitPage {
    pub fn pct(&self, x: &Option<f64>) -> String {
        x.map(|v| format!("{:.1}%", v * 100.0))
            .unwrap_or_else(|| "—".into())
    }
    pub fn num(&self, x: &Option<f64>) -> String {
        x.map(|v| format!("{v:.2}")).unwrap_or_else(|| "—".into())
    }
    pub fn score(&self, s: &Option<fengqiao_domain::indicators::Score>) -> String {
        s.as_ref()
            .map(|s| format!("{:.1}", s.value))
            .unwrap_or_else(|| "—".into())
    }
    /// The first and last day of this month, for list links.
    pub fn month_range(&self) -> String {
        month_range(&self.c.month)
    }
}

/// `from=YYYY-MM-01&to=YYYY-MM-<last>` of a month.
pub fn month_range(month: &str) -> String {
    let first = format!("{month}-01");
    let last = fengqiao_app::cockpit::shift_month(month, 1)
        .ok()
        .and_then(|next| chrono::NaiveDate::parse_from_str(&format!("{next}-01"), "%Y-%m-%d").ok())
        .and_then(|d| d.pred_opt())
        .map(|d| d.format("%Y-%m-%d").to_string())
        .unwrap_or_else(|| first.clone());
    format!("from={first}&to={last}")
}

/// Translates the labels of a cockpit into the reader's language.
fn translate(t: &Tr, c: &mut Cockpit) {
    for x in &mut c.types {
        x.label = t.label("type", &x.key);
    }
    for x in &mut c.channels {
        x.label = t.label("channel", &x.key);
    }
    for w in &mut c.warnings {
        w.type_label = t.label("type", w.dispute_type.as_str());
    }
    for f in c.feed.iter_mut().chain(c.red_cases.iter_mut()) {
        f.type_label = t.label("type", f.dispute_type.as_str());
        f.channel_label = t.label("channel", f.channel.as_str());
    }
}

/// `/cockpit?node=CODE`: the cockpit of a node (the user's scope by default).
pub async fn page(
    State(app): State<Arc<App>>,
    t: Tr,
    web: Web,
    Query(p): Query<NodeParams>,
) -> Response {
    let Some((s, _)) = &web.session else {
        return to_login("/cockpit");
    };
    let mut c = match app.cockpit(&s.actor, p.code()).await {
        Ok(c) => c,
        Err(e) => return error_page(t, &e, true, web.csrf()),
    };
    translate(&t, &mut c);
    let labels = serde_json::json!({
        "registered": t.s("cockpit.registered"),
        "concluded": t.s("cockpit.concluded"),
        "resolved": t.s("cockpit.resolved"),
        "density": t.s("cockpit.density"),
        "red": t.s("light.red"),
        "yellow": t.s("light.yellow"),
        "in_progress": t.s("cockpit.in_progress"),
        "new_case": t.s("cockpit.new_case"),
        "warnings": t.s("warning.open"),
    });
    let json = serde_json::to_string(&c).unwrap_or_default();
    render(&CockpitPage {
        t,
        json: script_safe(&json),
        labels: script_safe(&labels.to_string()),
        c,
        signed_in: true,
        csrf: web.csrf(),
    })
}

/// JSON inside a `<script>` element must not close it.
fn script_safe(json: &str) -> String {
    json.replace("</", "<\\/")
}

/// `/cockpit/data?node=CODE`: the cockpit's figures as JSON (what the page embeds).
pub async fn data(
    State(app): State<Arc<App>>,
    t: Tr,
    web: Web,
    Query(p): Query<NodeParams>,
) -> Response {
    let Some((s, _)) = &web.session else {
        return StatusCode::UNAUTHORIZED.into_response();
    };
    match app.cockpit(&s.actor, p.code()).await {
        Ok(mut c) => {
            translate(&t, &mut c);
            Json(c).into_response()
        }
        Err(e) => error_page(t, &e, true, web.csrf()),
    }
}

/// `/cockpit/geo?node=CODE`: the boundaries of the areas shown on the map (GeoJSON).
pub async fn geo(
    State(app): State<Arc<App>>,
    t: Tr,
    web: Web,
    Query(p): Query<NodeParams>,
) -> Response {
    let Some((s, _)) = &web.session else {
        return StatusCode::UNAUTHORIZED.into_response();
    };
    match app.geo(&s.actor, p.code()).await {
        Ok(g) => ([(header::CACHE_CONTROL, "private, max-age=3600")], Json(g)).into_response(),
        Err(e) => error_page(t, &e, true, web.csrf()),
    }
}

/// `/cockpit/feed?node=CODE`: new cases in the node's subtree that the user may see, as
/// server-sent events (`data:` is a [`FeedItem`] as JSON).
pub async fn feed(
    State(app): State<Arc<App>>,
    t: Tr,
    web: Web,
    Query(p): Query<NodeParams>,
) -> Response {
    let Some((s, _)) = &web.session else {
        return StatusCode::UNAUTHORIZED.into_response();
    };
    let node = match app.stats_node(&s.actor, p.code()).await {
        Ok(n) => n,
        Err(e) => return error_page(t, &e, true, web.csrf()),
    };
    let actor = s.actor.clone();
    let mut rx = app.subscribe_feed();
    let stream = async_stream(move |tx| async move {
        loop {
            match rx.recv().await {
                Ok(case) => {
                    if !path_within(&case.state.location.node_path, &node.path)
                        || !can_view(&actor, &case.state)
                    {
                        continue;
                    }
                    let mut item: FeedItem = app.feed_item(&case).await;
                    item.type_label = t.label("type", item.dispute_type.as_str());
                    item.channel_label = t.label("channel", item.channel.as_str());
                    let Ok(ev) = Event::default().event("case").json_data(&item) else {
                        continue;
                    };
                    if tx.send(Ok(ev)).await.is_err() {
                        return;
                    }
                }
                // Too slow a reader skips what it missed; the page still shows the totals.
                Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => continue,
                Err(tokio::sync::broadcast::error::RecvError::Closed) => return,
            }
        }
    });
    Sse::new(stream)
        .keep_alive(KeepAlive::default())
        .into_response()
}

/// A stream fed by a task through a small channel (the task ends when the client goes).
fn async_stream<F, Fut>(
    f: F,
) -> impl futures_core::Stream<Item = Result<Event, std::convert::Infallible>>
where
    F: FnOnce(tokio::sync::mpsc::Sender<Result<Event, std::convert::Infallible>>) -> Fut,
    Fut: std::future::Future<Output = ()> + Send + 'static,
{
    let (tx, rx) = tokio::sync::mpsc::channel(16);
    tokio::spawn(f(tx));
    ReceiverStream(rx)
}

struct ReceiverStream<T>(tokio::sync::mpsc::Receiver<T>);

impl<T> futures_core::Stream for ReceiverStream<T> {
    type Item = T;
    fn poll_next(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<T>> {
        self.0.poll_recv(cx)
    }
}
