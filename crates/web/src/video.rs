//! The room's video pages and their signalling WebSocket. Staff (mediators, unit staff, the
//! experts consulted): `/cases/{id}/room/video/{no}`; parties: `/room/{link}/video/{no}`, with
//! their room session. The page (`assets/video.js`) asks for the camera and microphone,
//! connects to `…/ws` and keeps one WebRTC connection to each other participant; the server
//! only relays (see `fengqiao_app::video`).
use crate::i18n::Tr;
use crate::room::party_of;
use crate::session::Web;
use crate::staff::to_login;
use crate::view::{error_message, error_page, render};
use askama::Template;
use axum::extract::ws::{Message, WebSocket, WebSocketUpgrade};
use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use fengqiao_app::room::local_time;
use fengqiao_app::video::{VideoPeer, MAX_SIGNAL_BYTES};
use fengqiao_app::{App, AppError};
use fengqiao_domain::access::Actor;
use std::sync::Arc;
use std::time::Duration;

/// A ping this often keeps the connection open through proxies…
const PING_EVERY: Duration = Duration::from_secs(20);
/// …and a browser silent this long (no answer to pings) is gone.
const SILENT_FOR: Duration = Duration::from_secs(60);

/// The strings the page's script shows, from the translation files.
pub struct VideoTexts {
    pub connecting: String,
    pub waiting: String,
    pub connected: String,
    pub no_media: String,
    pub unsupported: String,
    pub lost: String,
}

#[derive(Template)]
#[template(path = "room_video_staff.html")]
pub struct StaffVideoPage {
    pub t: Tr,
    pub signed_in: bool,
    pub csrf: String,
    pub id: i64,
    pub tracking_code: String,
    pub session: String,
    pub ws: String,
    pub back: String,
    pub texts: VideoTexts,
}

#[derive(Template)]
#[template(path = "room_video_party.html")]
pub struct PartyVideoPage {
    pub t: Tr,
    pub tracking_code: String,
    pub session: String,
    pub ws: String,
    pub back: String,
    pub texts: VideoTexts,
}

fn texts(t: &Tr) -> VideoTexts {
    let s = |k: &str| t.s(k).to_string();
    VideoTexts {
        connecting: s("video.connecting"),
        waiting: s("video.waiting"),
        connected: s("video.connected"),
        no_media: s("video.no_media"),
        unsupported: s("video.unsupported"),
        lost: s("video.lost"),
    }
}

/// The session's line ("#1 2026-11-25 10:00 · 线上视频") and the case's tracking code, once the
/// actor may come into its video now.
async fn check(app: &App, actor: &Actor, id: i64, no: u32) -> Result<(String, String), AppError> {
    let case = app.video_check(actor, id, no).await?;
    let s = &case.state;
    let line = s
        .room
        .sessions
        .iter()
        .find(|x| x.no == no)
        .map(|x| {
            let mut line = format!("#{} {}", x.no, local_time(x.at));
            if !x.note.is_empty() {
                line.push_str(" · ");
                line.push_str(&x.note);
            }
            line
        })
        .unwrap_or_default();
    Ok((line, s.tracking_code.clone()))
}

pub async fn staff_page(
    State(app): State<Arc<App>>,
    t: Tr,
    web: Web,
    Path((id, no)): Path<(i64, u32)>,
) -> Response {
    let Some((s, _)) = &web.session else {
        return to_login(&format!("/cases/{id}/room/video/{no}"));
    };
    match check(&app, &s.actor, id, no).await {
        Ok((session, tracking_code)) => render(&StaffVideoPage {
            texts: texts(&t),
            t,
            signed_in: true,
            csrf: web.csrf(),
            id,
            tracking_code,
            session,
            ws: format!("/cases/{id}/room/video/{no}/ws"),
            back: format!("/cases/{id}/room"),
        }),
        Err(e) => refused(t, &e, &format!("/cases/{id}/room")),
    }
}

pub async fn party_page(
    State(app): State<Arc<App>>,
    t: Tr,
    headers: HeaderMap,
    Path((link, no)): Path<(String, u32)>,
) -> Response {
    let Ok(door) = app.room_door(&link).await else {
        return error_page(t, &AppError::NotFound("room"), false, String::new());
    };
    let Some((actor, _)) = party_of(&app, &headers, &door).await else {
        return Redirect::to(&format!("/room/{link}")).into_response();
    };
    match check(&app, &actor, door.case_id, no).await {
        Ok((session, tracking_code)) => render(&PartyVideoPage {
            texts: texts(&t),
            t,
            tracking_code,
            session,
            ws: format!("/room/{link}/video/{no}/ws"),
            back: format!("/room/{link}"),
        }),
        Err(e) => refused(t, &e, &format!("/room/{link}")),
    }
}

#[derive(Template)]
#[template(path = "room_video_closed.html")]
pub struct ClosedPage {
    pub t: Tr,
    pub message: String,
    pub back: String,
}

/// Not now (the session's video is not open, or is full): a page saying so, with the way back
/// to the room. Anything else: the usual error page.
fn refused(t: Tr, e: &AppError, back: &str) -> Response {
    let message = match e {
        AppError::VideoFull(_) => error_message(&t, e),
        AppError::Domain(
            fengqiao_domain::DomainError::Validation { .. }
            | fengqiao_domain::DomainError::InvalidTransition { .. },
        ) => t.s("video.not_open").to_string(),
        _ => return error_page(t, e, false, String::new()),
    };
    (
        StatusCode::CONFLICT,
        render(&ClosedPage {
            t,
            message,
            back: back.to_string(),
        }),
    )
        .into_response()
}

/// A WebSocket opened from a page of another site is refused (the cookies are SameSite
/// already; this also covers browsers that send them).
fn same_origin(headers: &HeaderMap) -> bool {
    let host = headers.get(header::HOST).and_then(|h| h.to_str().ok());
    match headers.get(header::ORIGIN).and_then(|o| o.to_str().ok()) {
        None => true,
        Some(origin) => {
            let origin_host = origin
                .strip_prefix("http://")
                .or_else(|| origin.strip_prefix("https://"));
            origin_host.is_some() && origin_host == host
        }
    }
}

/// The connection upgraded when the actor may come into the session's video now; else the
/// HTTP status the refusal would have.
async fn upgrade(
    app: Arc<App>,
    t: Tr,
    ws: WebSocketUpgrade,
    actor: Actor,
    id: i64,
    no: u32,
) -> Response {
    if let Err(e) = app.video_check(&actor, id, no).await {
        return crate::view::status_of(&e).into_response();
    }
    ws.max_message_size(MAX_SIGNAL_BYTES)
        .on_upgrade(move |socket| run(app, t, socket, actor, id, no))
}

pub async fn staff_ws(
    State(app): State<Arc<App>>,
    t: Tr,
    web: Web,
    headers: HeaderMap,
    Path((id, no)): Path<(i64, u32)>,
    ws: WebSocketUpgrade,
) -> Response {
    if !same_origin(&headers) {
        return StatusCode::FORBIDDEN.into_response();
    }
    let Some((s, _)) = &web.session else {
        return StatusCode::UNAUTHORIZED.into_response();
    };
    upgrade(app, t, ws, s.actor.clone(), id, no).await
}

pub async fn party_ws(
    State(app): State<Arc<App>>,
    t: Tr,
    headers: HeaderMap,
    Path((link, no)): Path<(String, u32)>,
    ws: WebSocketUpgrade,
) -> Response {
    if !same_origin(&headers) {
        return StatusCode::FORBIDDEN.into_response();
    }
    let Ok(door) = app.room_door(&link).await else {
        return StatusCode::NOT_FOUND.into_response();
    };
    let Some((actor, _)) = party_of(&app, &headers, &door).await else {
        return StatusCode::UNAUTHORIZED.into_response();
    };
    let case_id = door.case_id;
    upgrade(app, t, ws, actor, case_id, no).await
}

/// One browser's connection: in, relay both ways until it closes or goes silent, out.
async fn run(app: Arc<App>, t: Tr, mut socket: WebSocket, actor: Actor, id: i64, no: u32) {
    let mut peer: VideoPeer = match app.video_enter(&actor, id, no).await {
        Ok(p) => p,
        Err(e) => {
            let refusal = serde_json::json!({
                "type": "error",
                "code": e.code(),
                "message": error_message(&t, &e),
            })
            .to_string();
            let _ = socket.send(Message::Text(refusal.into())).await;
            let _ = socket.send(Message::Close(None)).await;
            return;
        }
    };
    tracing::info!(case_id = id, no, peer = peer.id, "video: in");
    let mut ping = tokio::time::interval(PING_EVERY);
    let mut heard = tokio::time::Instant::now();
    if socket
        .send(Message::Text(peer.welcome.clone().into()))
        .await
        .is_ok()
    {
        loop {
            tokio::select! {
                out = peer.outgoing.recv() => match out {
                    Some(text) => {
                        if socket.send(Message::Text(text.into())).await.is_err() {
                            break;
                        }
                    }
                    None => break,
                },
                inc = socket.recv() => match inc {
                    Some(Ok(Message::Text(text))) => {
                        heard = tokio::time::Instant::now();
                        app.video_relay(&peer, text.as_str());
                    }
                    Some(Ok(Message::Close(_))) | Some(Err(_)) | None => break,
                    Some(Ok(_)) => heard = tokio::time::Instant::now(),
                },
                _ = ping.tick() => {
                    if heard.elapsed() > SILENT_FOR
                        || socket.send(Message::Ping(Vec::new().into())).await.is_err()
                    {
                        break;
                    }
                }
            }
        }
    }
    tracing::info!(case_id = id, no, peer = peer.id, "video: out");
    app.video_leave(peer).await;
}
