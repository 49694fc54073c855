//! The case room's pages. Staff: `/cases/{id}/room` (invite parties, write with files,
//! schedule and cancel sessions). Parties: `/room/{link}` — the link from the invitation, a
//! one-time code to their phone, then the room (read, write with photos and documents, see
//! the sessions), on a phone-sized page with large text. A party's room session is a cookie
//! (`fqroom<case>`, path `/room/`) made by `App::room_join`.
use crate::admin::form;
use crate::i18n::Tr;
use crate::session::Web;
use crate::staff::to_login;
use crate::staff::Fields;
use crate::view::{error_message, error_page, render};
use askama::Template;
use axum::body::Bytes;
use axum::extract::{Multipart, Path, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use fengqiao_app::room::{local_time, RoomDoor, RoomView};
use fengqiao_app::{App, AppError};
use fengqiao_domain::access::Actor;
use fengqiao_domain::validate::PhoneNumber;
use fengqiao_domain::workflow::Command;
use fengqiao_domain::DomainError;
use std::sync::Arc;

/// A message as the page shows it.
pub struct MessageRow {
    pub author: String,
    pub staff: bool,
    pub mine: bool,
    pub at: String,
    pub text: String,
    /// (address, file name).
    pub files: Vec<(String, String)>,
}

/// A scheduled session as the page shows it.
pub struct SessionRow {
    pub no: u32,
    pub at: String,
    pub online: bool,
    pub place: String,
    pub note: String,
    pub cancelled: String,
    pub upcoming: bool,
    /// Its video's page, while it can be joined ("" otherwise).
    pub video: String,
    /// Who was in its video: (who, from, until).
    pub attendance: Vec<(String, String, String)>,
}

/// A party as the staff page shows them.
pub struct PartyRow {
    pub index: usize,
    pub name: String,
    pub role: String,
    pub invited: String,
    pub joined: String,
    pub link: String,
    pub has_phone: bool,
}

/// The agreement as the pages show it.
pub struct AgreementRow {
    pub version: u32,
    pub facts: String,
    pub terms: String,
    /// (no, who, what, amount in yuan, due, performance).
    pub obligations: Vec<(u32, String, String, String, String, String)>,
    /// (name, signed at or "").
    pub signatories: Vec<(String, String)>,
    pub pdf: String,
    pub sm3: String,
    pub sealed_at: String,
    pub mine_to_sign: bool,
    pub code_pending: bool,
    /// The court it went to for judicial confirmation ("" when not sent), when, and its answer.
    pub court: String,
    pub court_sent: String,
    pub court_answer: String,
    pub court_waiting: bool,
}

fn agreement_row(t: &Tr, v: &RoomView, files_base: &str) -> Option<AgreementRow> {
    let a = v.agreement.as_ref()?;
    let name = |i: usize| {
        v.parties
            .iter()
            .find(|p| p.index == i)
            .map(|p| p.name.clone())
            .unwrap_or_default()
    };
    Some(AgreementRow {
        version: a.version,
        facts: a.facts.clone(),
        terms: a.terms.clone(),
        obligations: a
            .obligations
            .iter()
            .enumerate()
            .map(|(i, o)| {
                let no = i as u32 + 1;
                let done = a
                    .performance
                    .iter()
                    .rev()
                    .find(|p| p.no == no)
                    .map(|p| {
                        format!(
                            "{}{}",
                            if p.honoured {
                                t.s("agreement.honoured")
                            } else {
                                t.s("agreement.not_honoured")
                            },
                            if p.note.is_empty() {
                                String::new()
                            } else {
                                format!("：{}", p.note)
                            }
                        )
                    })
                    .unwrap_or_default();
                (
                    no,
                    name(o.party_index),
                    o.what.clone(),
                    o.amount_fen
                        .map(|f| format!("{}.{:02}", f / 100, f % 100))
                        .unwrap_or_default(),
                    o.due.to_string(),
                    done,
                )
            })
            .collect(),
        signatories: a
            .signatories
            .iter()
            .map(|(_, n, at)| (n.clone(), at.map(local_time).unwrap_or_default()))
            .collect(),
        pdf: a
            .sealed
            .as_ref()
            .map(|x| format!("{files_base}/{}", x.pdf_id))
            .unwrap_or_default(),
        sm3: a.sealed.as_ref().map(|x| x.sm3.clone()).unwrap_or_default(),
        sealed_at: a
            .sealed
            .as_ref()
            .map(|x| local_time(x.at))
            .unwrap_or_default(),
        mine_to_sign: a.mine_to_sign,
        code_pending: a.sign_code_pending,
        court: a
            .judicial
            .as_ref()
            .map(|j| j.court.clone())
            .unwrap_or_default(),
        court_sent: a
            .judicial
            .as_ref()
            .map(|j| local_time(j.requested_at))
            .unwrap_or_default(),
        court_answer: a
            .judicial
            .as_ref()
            .and_then(|j| j.answer.as_ref())
            .map(|x| {
                format!(
                    "{}（{}）{}",
                    if x.confirmed {
                        t.s("judicial.confirmed")
                    } else {
                        t.s("judicial.refused")
                    },
                    local_time(x.at),
                    x.note
                )
            })
            .unwrap_or_default(),
        court_waiting: a.judicial.as_ref().is_some_and(|j| j.answer.is_none()),
    })
}

/// The thread and the sessions as the pages show them; `base`: the room's address (staff's
/// or the party's), `files_base`: where its files are read.
fn rows(
    app: &App,
    t: &Tr,
    v: &RoomView,
    base: &str,
    files_base: &str,
) -> (Vec<MessageRow>, Vec<SessionRow>) {
    let now = app.now();
    let messages = v
        .messages
        .iter()
        .map(|m| MessageRow {
            author: m.author.clone(),
            staff: m.staff,
            mine: v.me.is_some() && m.party_index == v.me,
            at: local_time(m.at),
            text: m.text.clone(),
            files: m
                .attachments
                .iter()
                .map(|a| (format!("{files_base}/{}", a.id), a.filename.clone()))
                .collect(),
        })
        .collect();
    let sessions = v
        .sessions
        .iter()
        .map(|x| SessionRow {
            no: x.no,
            at: local_time(x.at),
            online: x.online,
            place: x
                .place
                .clone()
                .unwrap_or_else(|| t.s("room.online").to_string()),
            note: x.note.clone(),
            cancelled: x.cancelled.clone().unwrap_or_default(),
            upcoming: x.cancelled.is_none() && x.at > now,
            video: if v.video_open.contains(&x.no) {
                format!("{base}/video/{}", x.no)
            } else {
                String::new()
            },
            attendance: v
                .attendance
                .iter()
                .filter(|a| a.session_no == x.no)
                .map(|a| {
                    let until = match a.left_at {
                        Some(at) => local_time(at),
                        None if a.connected => t.s("video.connected_now").to_string(),
                        None => t.s("video.unrecorded").to_string(),
                    };
                    (a.name.clone(), local_time(a.joined_at), until)
                })
                .collect(),
        })
        .collect();
    (messages, sessions)
}

#[derive(Template)]
#[template(path = "room_staff.html")]
pub struct StaffRoomPage {
    pub t: Tr,
    pub signed_in: bool,
    pub csrf: String,
    pub id: i64,
    pub tracking_code: String,
    pub status: String,
    pub open: bool,
    pub host: bool,
    pub parties: Vec<PartyRow>,
    pub messages: Vec<MessageRow>,
    pub sessions: Vec<SessionRow>,
    pub public_url: String,
    pub error: String,
    pub today: String,
    pub agreement: Option<AgreementRow>,
    /// The agreement is signed by all (no more drafts).
    pub sealed: bool,
    /// The current draft's texts (to edit into a new one).
    pub draft_facts: String,
    pub draft_terms: String,
}

async fn staff_page(app: &App, t: Tr, web: &Web, id: i64, error: String) -> Response {
    let Some((s, _)) = &web.session else {
        return to_login(&format!("/cases/{id}/room"));
    };
    let v = match app.room_view(&s.actor, id).await {
        Ok(v) => v,
        Err(e) => return error_page(t, &e, true, web.csrf()),
    };
    let (messages, sessions) = rows(
        app,
        &t,
        &v,
        &format!("/cases/{id}/room"),
        &format!("/cases/{id}/files"),
    );
    let parties = v
        .parties
        .iter()
        .map(|p| PartyRow {
            index: p.index,
            name: p.name.clone(),
            role: t.label("party_role", p.role.as_str()),
            invited: p.invited_at.map(local_time).unwrap_or_default(),
            joined: p.joined_at.map(local_time).unwrap_or_default(),
            link: p.link.clone().unwrap_or_default(),
            has_phone: p.has_phone,
        })
        .collect();
    let status = if error.is_empty() {
        StatusCode::OK
    } else {
        StatusCode::UNPROCESSABLE_ENTITY
    };
    (
        status,
        render(&StaffRoomPage {
            t,
            signed_in: true,
            csrf: web.csrf(),
            id,
            tracking_code: v.tracking_code.clone(),
            status: t.label("status", v.status.as_str()),
            open: v.open,
            host: v.host,
            parties,
            messages,
            sessions,
            public_url: app.public_url(),
            error,
            today: fengqiao_domain::time::local_date(app.now()).to_string(),
            agreement: agreement_row(&t, &v, &format!("/cases/{id}/files")),
            sealed: v.agreement.as_ref().is_some_and(|a| a.sealed.is_some()),
            draft_facts: v
                .agreement
                .as_ref()
                .map(|a| a.facts.clone())
                .unwrap_or_default(),
            draft_terms: v
                .agreement
                .as_ref()
                .map(|a| a.terms.clone())
                .unwrap_or_default(),
        }),
    )
        .into_response()
}

pub async fn staff(State(app): State<Arc<App>>, t: Tr, web: Web, Path(id): Path<i64>) -> Response {
    staff_page(&app, t, &web, id, String::new()).await
}

/// After a staff form: back to the room, or the room with the error.
async fn after(app: &App, t: Tr, web: &Web, id: i64, r: Result<(), AppError>) -> Response {
    match r {
        Ok(()) => Redirect::to(&format!("/cases/{id}/room")).into_response(),
        // What was typed was wrong (a field, a number, an action the case's state refuses):
        // the room again, with the message.
        Err(
            e @ AppError::Domain(
                DomainError::Validation { .. }
                | DomainError::InvalidPhone(_)
                | DomainError::InvalidIdCard(_)
                | DomainError::InvalidTransition { .. },
            ),
        ) => staff_page(app, t, web, id, error_message(&t, &e)).await,
        Err(e) => error_page(t, &e, true, web.csrf()),
    }
}

/// A room message form: its token, text and files.
struct Posted {
    csrf: String,
    text: String,
    files: Vec<(String, Vec<u8>)>,
}

async fn read_post(mut m: Multipart) -> Result<Posted, AppError> {
    let mut p = Posted {
        csrf: String::new(),
        text: String::new(),
        files: Vec::new(),
    };
    let unreadable = || AppError::from(DomainError::validation("file", "unreadable"));
    while let Some(field) = m.next_field().await.map_err(|_| unreadable())? {
        match field.name().unwrap_or("") {
            "files" | "file" => {
                let name = field.file_name().unwrap_or("file").to_string();
                let b = field.bytes().await.map_err(|_| unreadable())?;
                if !b.is_empty() {
                    p.files.push((name, b.to_vec()));
                }
            }
            "csrf" => p.csrf = field.text().await.unwrap_or_default(),
            "text" => p.text = field.text().await.unwrap_or_default(),
            _ => {}
        }
    }
    Ok(p)
}

pub async fn staff_post(
    State(app): State<Arc<App>>,
    t: Tr,
    web: Web,
    Path(id): Path<i64>,
    m: Multipart,
) -> Response {
    let Some((s, _)) = &web.session else {
        return to_login(&format!("/cases/{id}/room"));
    };
    let p = match read_post(m).await {
        Ok(p) => p,
        Err(e) => return after(&app, t, &web, id, Err(e)).await,
    };
    if !web.csrf_ok(&p.csrf) {
        return (StatusCode::FORBIDDEN, t.s("error.csrf").to_string()).into_response();
    }
    let r = app
        .room_post(&s.actor, id, &p.text, p.files)
        .await
        .map(|_| ());
    after(&app, t, &web, id, r).await
}

// ---- the parties' side ----

fn cookie_name(case_id: i64) -> String {
    format!("fqroom{case_id}")
}

/// The party in the room through this link, if their session cookie is good for it.
pub(crate) async fn party_of(
    app: &App,
    headers: &HeaderMap,
    door: &RoomDoor,
) -> Option<(Actor, String)> {
    let session = crate::session::cookie(headers, &cookie_name(door.case_id))?;
    match app.room_party(&session).await {
        Ok((actor, case_id))
            if case_id == door.case_id && actor.room_party_index() == Some(door.party_index) =>
        {
            Some((actor, session))
        }
        _ => None,
    }
}

#[derive(Template)]
#[template(path = "room_door.html")]
pub struct DoorPage {
    pub t: Tr,
    pub link: String,
    pub d: RoomDoor,
    pub error: String,
}

#[derive(Template)]
#[template(path = "room_party.html")]
pub struct PartyRoomPage {
    pub t: Tr,
    pub link: String,
    pub csrf: String,
    pub tracking_code: String,
    pub me: String,
    pub open: bool,
    pub messages: Vec<MessageRow>,
    pub sessions: Vec<SessionRow>,
    pub error: String,
    pub agreement: Option<AgreementRow>,
}

fn gone(t: Tr) -> Response {
    error_page(t, &AppError::NotFound("room"), false, String::new())
}

async fn party_page(app: &App, t: Tr, link: &str, headers: &HeaderMap, error: String) -> Response {
    let door = match app.room_door(link).await {
        Ok(d) => d,
        Err(_) => return gone(t),
    };
    let status = if error.is_empty() {
        StatusCode::OK
    } else {
        StatusCode::UNPROCESSABLE_ENTITY
    };
    let Some((actor, session)) = party_of(app, headers, &door).await else {
        return (
            status,
            render(&DoorPage {
                t,
                link: link.to_string(),
                d: door,
                error,
            }),
        )
            .into_response();
    };
    let v = match app.room_view(&actor, door.case_id).await {
        Ok(v) => v,
        Err(e) => return error_page(t, &e, false, String::new()),
    };
    let (messages, sessions) = rows(
        app,
        &t,
        &v,
        &format!("/room/{link}"),
        &format!("/room/{link}/files"),
    );
    (
        status,
        render(&PartyRoomPage {
            t,
            link: link.to_string(),
            csrf: app.room_csrf(&session),
            tracking_code: v.tracking_code.clone(),
            me: door.party_name.clone(),
            open: v.open,
            messages,
            sessions,
            error,
            agreement: agreement_row(&t, &v, &format!("/room/{link}/files")),
        }),
    )
        .into_response()
}

pub async fn party(
    State(app): State<Arc<App>>,
    t: Tr,
    headers: HeaderMap,
    Path(link): Path<String>,
) -> Response {
    party_page(&app, t, &link, &headers, String::new()).await
}

pub async fn send_code(
    State(app): State<Arc<App>>,
    t: Tr,
    headers: HeaderMap,
    Path(link): Path<String>,
) -> Response {
    match app.room_send_code(&link).await {
        Ok(()) => Redirect::to(&format!("/room/{link}")).into_response(),
        Err(e @ AppError::Domain(DomainError::Validation { .. })) => {
            party_page(&app, t, &link, &headers, error_message(&t, &e)).await
        }
        Err(_) => gone(t),
    }
}

pub async fn join(
    State(app): State<Arc<App>>,
    t: Tr,
    headers: HeaderMap,
    Path(link): Path<String>,
    body: Bytes,
) -> Response {
    let f = crate::staff::Fields::parse(&body);
    match app.room_join(&link, f.get("code")).await {
        Ok(session) => {
            let case_id = link
                .split('-')
                .next()
                .and_then(|c| c.parse::<i64>().ok())
                .unwrap_or(0);
            let secure = if app.settings.behind_tls {
                "; Secure"
            } else {
                ""
            };
            let cookie = format!(
                "{}={session}; Path=/room/; HttpOnly; SameSite=Lax; Max-Age={}{secure}",
                cookie_name(case_id),
                fengqiao_domain::room::PARTY_SESSION_MS / 1000
            );
            let mut r = Redirect::to(&format!("/room/{link}")).into_response();
            if let Ok(v) = HeaderValue::from_str(&cookie) {
                r.headers_mut().insert(header::SET_COOKIE, v);
            }
            r
        }
        Err(e @ AppError::Domain(DomainError::Validation { .. })) => {
            party_page(&app, t, &link, &headers, error_message(&t, &e)).await
        }
        Err(_) => gone(t),
    }
}

pub async fn party_post(
    State(app): State<Arc<App>>,
    t: Tr,
    headers: HeaderMap,
    Path(link): Path<String>,
    m: Multipart,
) -> Response {
    let Ok(door) = app.room_door(&link).await else {
        return gone(t);
    };
    let Some((actor, session)) = party_of(&app, &headers, &door).await else {
        return Redirect::to(&format!("/room/{link}")).into_response();
    };
    let p = match read_post(m).await {
        Ok(p) => p,
        Err(e) => return party_page(&app, t, &link, &headers, error_message(&t, &e)).await,
    };
    if p.csrf.is_empty() || p.csrf != app.room_csrf(&session) {
        return (StatusCode::FORBIDDEN, t.s("error.csrf").to_string()).into_response();
    }
    match app.room_post(&actor, door.case_id, &p.text, p.files).await {
        Ok(_) => Redirect::to(&format!("/room/{link}")).into_response(),
        Err(e) => party_page(&app, t, &link, &headers, error_message(&t, &e)).await,
    }
}

pub async fn party_file(
    State(app): State<Arc<App>>,
    t: Tr,
    headers: HeaderMap,
    Path((link, blob)): Path<(String, String)>,
) -> Response {
    let Ok(door) = app.room_door(&link).await else {
        return gone(t);
    };
    let Some((actor, _)) = party_of(&app, &headers, &door).await else {
        return gone(t);
    };
    match app.room_attachment(&actor, door.case_id, &blob).await {
        Ok(b) => crate::staff::attachment_response(b),
        Err(e) => error_page(t, &e, false, String::new()),
    }
}

/// The party in the room for a form of theirs, with its token checked.
async fn party_form(
    app: &App,
    headers: &HeaderMap,
    link: &str,
    csrf: &str,
) -> Result<(Actor, RoomDoor), Response> {
    let Ok(door) = app.room_door(link).await else {
        return Err(StatusCode::NOT_FOUND.into_response());
    };
    let Some((actor, session)) = party_of(app, headers, &door).await else {
        return Err(Redirect::to(&format!("/room/{link}")).into_response());
    };
    if csrf.is_empty() || csrf != app.room_csrf(&session) {
        return Err(StatusCode::FORBIDDEN.into_response());
    }
    Ok((actor, door))
}

pub async fn sign_code(
    State(app): State<Arc<App>>,
    t: Tr,
    headers: HeaderMap,
    Path(link): Path<String>,
    body: Bytes,
) -> Response {
    let f = crate::staff::Fields::parse(&body);
    let (actor, door) = match party_form(&app, &headers, &link, f.get("csrf")).await {
        Ok(x) => x,
        Err(r) => return r,
    };
    match app.agreement_sign_code(&actor, door.case_id).await {
        Ok(()) => Redirect::to(&format!("/room/{link}#agreement")).into_response(),
        Err(e) => party_page(&app, t, &link, &headers, error_message(&t, &e)).await,
    }
}

pub async fn sign(
    State(app): State<Arc<App>>,
    t: Tr,
    headers: HeaderMap,
    Path(link): Path<String>,
    body: Bytes,
) -> Response {
    use base64::Engine;
    let f = crate::staff::Fields::parse(&body);
    let (actor, door) = match party_form(&app, &headers, &link, f.get("csrf")).await {
        Ok(x) => x,
        Err(r) => return r,
    };
    let png = f
        .get("signature")
        .strip_prefix("data:image/png;base64,")
        .and_then(|b| base64::engine::general_purpose::STANDARD.decode(b).ok());
    let Some(png) = png.filter(|p| !p.is_empty()) else {
        let e: AppError = DomainError::validation("signature", "draw your signature").into();
        return party_page(&app, t, &link, &headers, error_message(&t, &e)).await;
    };
    let version = f.get("version").parse().unwrap_or(0);
    match app
        .agreement_sign(&actor, door.case_id, version, f.get("code"), png)
        .await
    {
        Ok(_) => Redirect::to(&format!("/room/{link}#agreement")).into_response(),
        Err(e) => party_page(&app, t, &link, &headers, error_message(&t, &e)).await,
    }
}

/// `GET /cases/{id}/room/judicial.zip`: the package for the court.
pub async fn judicial_zip(
    State(app): State<Arc<App>>,
    t: Tr,
    web: Web,
    Path(id): Path<i64>,
) -> Response {
    let Some((s, _)) = &web.session else {
        return to_login(&format!("/cases/{id}/room"));
    };
    match app.judicial_package(&s.actor, id).await {
        Ok((name, bytes)) => (
            [
                (header::CONTENT_TYPE, "application/zip".to_string()),
                (
                    header::CONTENT_DISPOSITION,
                    format!("attachment; filename=\"{name}\""),
                ),
                (header::X_CONTENT_TYPE_OPTIONS, "nosniff".to_string()),
            ],
            bytes,
        )
            .into_response(),
        Err(e) => error_page(t, &e, true, web.csrf()),
    }
}

/// A staff form of the room that runs one case command: the fields make the command (or a
/// validation error, shown on the room page).
async fn room_command(
    app: &App,
    t: Tr,
    web: &Web,
    id: i64,
    body: &Bytes,
    make: impl FnOnce(&Fields) -> Result<Command, AppError>,
) -> Response {
    let (s, f) = match form(t, web, &format!("/cases/{id}/room"), body) {
        Ok(x) => x,
        Err(r) => return *r,
    };
    let r = match make(&f) {
        Ok(cmd) => app.act(&s.actor, id, &cmd).await.map(|_| ()),
        Err(e) => Err(e),
    };
    after(app, t, web, id, r).await
}

fn invalid(field: &'static str, why: &'static str) -> AppError {
    DomainError::validation(field, why).into()
}

/// `POST /cases/{id}/room/invite`: `party`, and a `phone` when not the party's own.
pub async fn invite(
    State(app): State<Arc<App>>,
    t: Tr,
    web: Web,
    Path(id): Path<i64>,
    body: Bytes,
) -> Response {
    room_command(&app, t, &web, id, &body, |f| {
        let party_index = f
            .get("party")
            .parse()
            .map_err(|_| invalid("party_index", "invalid"))?;
        let phone = Some(f.get("phone"))
            .filter(|p| !p.is_empty())
            .map(PhoneNumber::parse)
            .transpose()?;
        Ok(Command::InviteParty { party_index, phone })
    })
    .await
}

/// `POST /cases/{id}/room/schedule`: `date`, `time`, `online`, `place`, `note`.
pub async fn schedule(
    State(app): State<Arc<App>>,
    t: Tr,
    web: Web,
    Path(id): Path<i64>,
    body: Bytes,
) -> Response {
    room_command(&app, t, &web, id, &body, |f| {
        let at = chrono::NaiveDateTime::parse_from_str(
            &format!("{} {}", f.get("date"), f.get("time")),
            "%Y-%m-%d %H:%M",
        )
        .ok()
        .and_then(|d| d.and_local_timezone(fengqiao_domain::time::cst()).single())
        .ok_or_else(|| invalid("at", "a date and a time"))?
        .timestamp_millis();
        Ok(Command::ScheduleSession {
            at,
            online: f.get("online") == "on",
            place: Some(f.get("place").to_string()),
            note: f.get("note").to_string(),
        })
    })
    .await
}

/// `POST /cases/{id}/room/cancel`: session `no`, `reason`.
pub async fn cancel(
    State(app): State<Arc<App>>,
    t: Tr,
    web: Web,
    Path(id): Path<i64>,
    body: Bytes,
) -> Response {
    room_command(&app, t, &web, id, &body, |f| {
        Ok(Command::CancelSession {
            no: f.get("no").parse().unwrap_or(0),
            reason: f.get("reason").to_string(),
        })
    })
    .await
}

/// `POST /cases/{id}/room/agreement`: the draft (facts, terms, signatories `sign_<i>`, up to
/// three obligations `o<k>_party`, `o<k>_what`, `o<k>_amount` in yuan, `o<k>_due`).
pub async fn draft(
    State(app): State<Arc<App>>,
    t: Tr,
    web: Web,
    Path(id): Path<i64>,
    body: Bytes,
) -> Response {
    room_command(&app, t, &web, id, &body, |f| {
        let signatories: Vec<usize> =
            f.0.iter()
                .filter_map(|(k, v)| {
                    k.strip_prefix("sign_")
                        .filter(|_| v == "on")
                        .and_then(|i| i.parse().ok())
                })
                .collect();
        let mut obligations = Vec::new();
        for k in 1..=3 {
            let what = f.get(&format!("o{k}_what")).to_string();
            if what.is_empty() {
                continue;
            }
            let party_index = f
                .get(&format!("o{k}_party"))
                .parse()
                .map_err(|_| invalid("obligations", "who"))?;
            let due = chrono::NaiveDate::parse_from_str(f.get(&format!("o{k}_due")), "%Y-%m-%d")
                .map_err(|_| invalid("obligations.due", "a date"))?;
            let amount = f.get(&format!("o{k}_amount"));
            let amount_fen = match amount.parse::<f64>() {
                _ if amount.is_empty() => None,
                Ok(x) if x.is_finite() => Some((x * 100.0).round() as i64),
                _ => return Err(invalid("obligations.amount_fen", "a number of yuan")),
            };
            obligations.push(fengqiao_domain::room::Obligation {
                party_index,
                what,
                amount_fen,
                due,
            });
        }
        Ok(Command::DraftAgreement {
            facts: f.get("facts").to_string(),
            terms: f.get("terms").to_string(),
            obligations,
            signatories,
        })
    })
    .await
}

/// `POST /cases/{id}/room/performance`: whether obligation `no` was honoured.
pub async fn performance(
    State(app): State<Arc<App>>,
    t: Tr,
    web: Web,
    Path(id): Path<i64>,
    body: Bytes,
) -> Response {
    room_command(&app, t, &web, id, &body, |f| {
        Ok(Command::RecordPerformance {
            no: f.get("no").parse().unwrap_or(0),
            honoured: f.get("honoured") == "yes",
            note: f.get("note").to_string(),
        })
    })
    .await
}

/// `POST /cases/{id}/room/judicial`: sends the signed agreement to a court (`op=request`,
/// `court`) or records its answer (`op=answer`, `confirmed`, `note`).
pub async fn judicial(
    State(app): State<Arc<App>>,
    t: Tr,
    web: Web,
    Path(id): Path<i64>,
    body: Bytes,
) -> Response {
    room_command(&app, t, &web, id, &body, |f| {
        Ok(if f.get("op") == "answer" {
            Command::RecordCourtAnswer {
                confirmed: f.get("confirmed") == "yes",
                note: f.get("note").to_string(),
            }
        } else {
            Command::RequestJudicialConfirmation {
                court: f.get("court").to_string(),
            }
        })
    })
    .await
}

/// `POST /cases/{id}/room/party`: a party the registration did not name (`name`, `role`,
/// `phone`, `id_number`).
pub async fn add_party(
    State(app): State<Arc<App>>,
    t: Tr,
    web: Web,
    Path(id): Path<i64>,
    body: Bytes,
) -> Response {
    room_command(&app, t, &web, id, &body, |f| {
        let opt = |k: &str| Some(f.get(k)).filter(|v| !v.is_empty());
        Ok(Command::AddParty(fengqiao_domain::case::Party {
            name: f.get("name").to_string(),
            role: fengqiao_domain::case::PartyRole::parse(f.get("role"))
                .unwrap_or(fengqiao_domain::case::PartyRole::Respondent),
            phone: opt("phone").map(PhoneNumber::parse).transpose()?,
            id_number: opt("id_number")
                .map(fengqiao_domain::validate::IdCardNumber::parse)
                .transpose()?,
            address: opt("address").map(str::to_string),
        }))
    })
    .await
}
