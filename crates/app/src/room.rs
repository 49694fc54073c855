//! The case room (云端解纷) as the application runs it: invitation links, one-time codes and
//! the parties' room sessions — all made from the index key for the log position they belong
//! to (`Sealer::derive`), so nothing secret is stored and a new invitation, code or join makes
//! the older one worthless — and the room's thread, read from the case log.
//!
//! Owns: link/code/session formats and checks, the wrong-code counter (in memory: a restart
//! only gives a code its tries back, and it expires in ten minutes anyway), the room view for
//! staff and parties, and the SMS texts the courier sends to parties.
use crate::error::{AppError, Result};
use crate::totp::constant_time_eq;
use crate::App;
use fengqiao_domain::access::{Actor, Operation};
use fengqiao_domain::case::{AttachmentMeta, CaseState, PartyRole, Status};
use fengqiao_domain::room::{ScheduledSession, CODE_MAX_TRIES, CODE_VALID_MS, PARTY_SESSION_MS};
use fengqiao_domain::time::{cst, Millis};
use fengqiao_domain::validate::{mask_numbers_in_text, PhoneNumber};
use fengqiao_domain::workflow::{Command, EventKind};
use fengqiao_domain::DomainError;
use fengqiao_store::StoredCase;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

const LINK_LABEL: &str = "room-link";
const CODE_LABEL: &str = "room-code";
const SESSION_LABEL: &str = "room-session";
const SIGN_LABEL: &str = "sign-code";

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// `<case>-<party>-<seq>-<mac>`: what a link or a party session is made for, and its proof.
fn token(app: &App, label: &str, case_id: i64, party: usize, seq: u32) -> String {
    let mac = app
        .store
        .sealer()
        .derive(label, &format!("{case_id}:{party}:{seq}"));
    format!("{case_id}-{party}-{seq}-{}", &hex(&mac)[..32])
}

/// The parts of a token whose proof is right.
fn parse_token(app: &App, label: &str, t: &str) -> Option<(i64, usize, u32)> {
    let mut it = t.splitn(4, '-');
    let case_id: i64 = it.next()?.parse().ok()?;
    let party: usize = it.next()?.parse().ok()?;
    let seq: u32 = it.next()?.parse().ok()?;
    let _ = it.next()?;
    constant_time_eq(&token(app, label, case_id, party, seq), t).then_some((case_id, party, seq))
}

/// A party's invitation link (the path; the public address goes in front).
pub fn link_path(app: &App, case_id: i64, party: usize, invited_seq: u32) -> String {
    format!(
        "/room/{}",
        token(app, LINK_LABEL, case_id, party, invited_seq)
    )
}

/// The six-digit code sent at a log position, for one purpose (`label`).
fn six_digits(app: &App, label: &str, case_id: i64, party: usize, seq: u32) -> String {
    let d = app
        .store
        .sealer()
        .derive(label, &format!("{case_id}:{party}:{seq}"));
    let n = u32::from_be_bytes([d[0], d[1], d[2], d[3]]) % 1_000_000;
    format!("{n:06}")
}

/// `YYYY-MM-DD HH:MM` in China time.
pub fn local_time(ms: Millis) -> String {
    chrono::DateTime::from_timestamp_millis(ms)
        .map(|t| t.with_timezone(&cst()).format("%Y-%m-%d %H:%M").to_string())
        .unwrap_or_default()
}

/// A scheduled session in one line (SMS, inbox).
pub fn session_text(x: &ScheduledSession) -> String {
    let place = if x.online {
        "线上视频（请届时打开调解室链接）".to_string()
    } else {
        x.place.clone().unwrap_or_default()
    };
    let mut s = format!("{}，{place}", local_time(x.at));
    if !x.note.is_empty() {
        s.push('，');
        s.push_str(&x.note);
    }
    s
}

/// Where a party's link leads before they are in the room.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct RoomDoor {
    pub case_id: i64,
    pub party_index: usize,
    pub tracking_code: String,
    pub party_name: String,
    /// The phone the code goes to, masked.
    pub phone: String,
    /// A code was sent and is still good.
    pub code_pending: bool,
}

/// One message of the room's thread.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct RoomMessage {
    pub seq: u32,
    pub at: Millis,
    /// A party's index, when a party wrote it.
    pub party_index: Option<usize>,
    /// Who wrote it: the party's name and role, or the staff member's name.
    pub author: String,
    pub staff: bool,
    pub text: String,
    pub attachments: Vec<AttachmentMeta>,
}

/// A party as the room shows them.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct RoomParty {
    pub index: usize,
    pub name: String,
    pub role: PartyRole,
    pub invited_at: Option<Millis>,
    pub joined_at: Option<Millis>,
    /// The invitation link (for the mediator to read out), when the viewer runs the room.
    pub link: Option<String>,
    /// The party has a phone of their own to invite at.
    pub has_phone: bool,
}

/// Someone's time in an online session's video (参会记录), named.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct VideoAttendance {
    pub session_no: u32,
    /// The party's name and role, or the user's.
    pub name: String,
    pub party_index: Option<usize>,
    pub joined_at: Millis,
    /// None while connected, or when the server stopped before the leaving was recorded.
    pub left_at: Option<Millis>,
    /// Connected now (no leaving time and not connected: the connection ended with a restart
    /// of the server, before its leaving could be recorded).
    pub connected: bool,
}

/// The room of a case.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct RoomView {
    pub case_id: i64,
    pub tracking_code: String,
    pub status: Status,
    /// Messages may be written (the case is in mediation).
    pub open: bool,
    /// The viewer runs the room (invites, schedules).
    pub host: bool,
    /// The viewer's party index, for a party.
    pub me: Option<usize>,
    pub parties: Vec<RoomParty>,
    pub sessions: Vec<ScheduledSession>,
    pub messages: Vec<RoomMessage>,
    pub agreement: Option<AgreementView>,
    /// The online sessions' video attendance, in order of joining.
    pub attendance: Vec<VideoAttendance>,
    /// The sessions whose video the viewer may join now.
    pub video_open: Vec<u32>,
}

impl App {
    /// Checks a six-digit code sent at log position `sent.0` (time `sent.1`): good for ten
    /// minutes, five wrong tries use it up, and a right one is used up too.
    fn use_room_code(
        &self,
        label: &str,
        case_id: i64,
        party: usize,
        sent: (u32, Millis),
        given: &str,
    ) -> Result<()> {
        let wrong = || DomainError::validation("code", "wrong or expired code").into();
        let (seq, sent_at) = sent;
        if self.now() - sent_at >= CODE_VALID_MS {
            return Err(wrong());
        }
        let Ok(mut tries) = self.room_tries.lock() else {
            return Err(AppError::Internal("room tries".into()));
        };
        if tries.len() > 10_000 {
            tries.clear();
        }
        let n = tries.entry((case_id, party, seq)).or_insert(0);
        if *n >= CODE_MAX_TRIES {
            return Err(wrong());
        }
        let given: String = given.chars().filter(char::is_ascii_digit).collect();
        if !constant_time_eq(&given, &six_digits(self, label, case_id, party, seq)) {
            *n += 1;
            return Err(wrong());
        }
        *n = CODE_MAX_TRIES;
        Ok(())
    }

    /// The invitation link of a party as it stands (for those who run the room).
    fn party_link(&self, case: &StoredCase, party: usize) -> Option<String> {
        let inv = case.state.room.invitation(party)?;
        Some(link_path(self, case.id, party, inv.invited_seq))
    }

    /// Invites a party to the case room: the link goes by SMS to the party's phone (or the one
    /// given) when a gateway is configured; the answer carries the link to read out.
    pub async fn invite_party(
        &self,
        actor: &Actor,
        case_id: i64,
        party_index: usize,
        phone: Option<&str>,
    ) -> Result<String> {
        let phone = phone
            .map(str::trim)
            .filter(|p| !p.is_empty())
            .map(PhoneNumber::parse)
            .transpose()?;
        let case = self
            .act(actor, case_id, &Command::InviteParty { party_index, phone })
            .await?;
        self.party_link(&case, party_index)
            .ok_or_else(|| AppError::Internal("invitation not applied".into()))
    }

    /// The case a link is for, when it is the party's current invitation and the room open.
    async fn door(&self, link: &str) -> Result<(StoredCase, usize)> {
        let (case_id, party, seq) =
            parse_token(self, LINK_LABEL, link).ok_or(AppError::NotFound("room"))?;
        let case = self
            .store
            .get_case(case_id)
            .await?
            .ok_or(AppError::NotFound("room"))?;
        match case.state.room.invitation(party) {
            Some(i) if i.invited_seq == seq && case.state.status == Status::InMediation => {
                Ok((case, party))
            }
            _ => Err(AppError::NotFound("room")),
        }
    }

    /// What the link's holder sees before the code: whose invitation it is.
    pub async fn room_door(&self, link: &str) -> Result<RoomDoor> {
        let (case, party) = self.door(link).await?;
        let p = &case.state.parties[party];
        let inv = case.state.room.invitation(party);
        let now = self.now();
        Ok(RoomDoor {
            case_id: case.id,
            party_index: party,
            tracking_code: case.state.tracking_code.clone(),
            party_name: p.name.clone(),
            phone: inv
                .and_then(|i| i.phone_of(p))
                .map(|x| x.masked())
                .unwrap_or_default(),
            code_pending: inv
                .and_then(|i| i.code_sent_at)
                .is_some_and(|t| now - t < CODE_VALID_MS),
        })
    }

    /// Sends a one-time code to the invited party's phone (by the courier, through the SMS
    /// gateway); at most one a minute.
    pub async fn room_send_code(&self, link: &str) -> Result<()> {
        let (case, party) = self.door(link).await?;
        self.act(
            &Actor::system(),
            case.id,
            &Command::SendRoomCode { party_index: party },
        )
        .await?;
        Ok(())
    }

    /// Checks the code and lets the party in: the answer is the party's room session (a
    /// cookie's value). Five wrong codes use a code up.
    pub async fn room_join(&self, link: &str, code: &str) -> Result<String> {
        let (case, party) = self.door(link).await?;
        let inv = case
            .state
            .room
            .invitation(party)
            .ok_or(AppError::NotFound("room"))?;
        let (Some(code_seq), Some(sent_at)) = (inv.code_seq, inv.code_sent_at) else {
            return Err(DomainError::validation("code", "ask for a code first").into());
        };
        self.use_room_code(CODE_LABEL, case.id, party, (code_seq, sent_at), code)?;
        let joined = self
            .act(
                &Actor::system(),
                case.id,
                &Command::JoinRoom { party_index: party },
            )
            .await?;
        let seq = joined
            .state
            .room
            .invitation(party)
            .and_then(|i| i.joined_seq)
            .ok_or_else(|| AppError::Internal("join not applied".into()))?;
        Ok(token(self, SESSION_LABEL, case.id, party, seq))
    }

    /// The party a room session is for: (actor, case id). The session ends with a new
    /// invitation or join of that party, after 30 days, or when the case is archived.
    pub async fn room_party(&self, session: &str) -> Result<(Actor, i64)> {
        let (case_id, party, seq) =
            parse_token(self, SESSION_LABEL, session).ok_or(AppError::Unauthenticated)?;
        let case = self
            .store
            .get_case(case_id)
            .await?
            .ok_or(AppError::Unauthenticated)?;
        let ok = case.state.room.invitation(party).is_some_and(|i| {
            i.joined_seq == Some(seq)
                && i.joined_at
                    .is_some_and(|t| self.now() - t < PARTY_SESSION_MS)
        }) && !matches!(case.state.status, Status::Archived | Status::Merged);
        if ok {
            Ok((Actor::room_party(party), case_id))
        } else {
            Err(AppError::Unauthenticated)
        }
    }

    /// The room of a case: for staff who see the case, and for its parties in the room.
    pub async fn room_view(&self, actor: &Actor, case_id: i64) -> Result<RoomView> {
        let case = self.load_visible(actor, case_id).await?;
        let s = &case.state;
        let host = actor.role.permits(Operation::Mediate)
            && fengqiao_domain::access::authorize(actor, Operation::Mediate, s).is_ok();
        let events = self.store.case_events(case_id).await?;
        let staff_ids: Vec<i64> = events
            .iter()
            .filter(|e| {
                matches!(
                    e.kind,
                    EventKind::MessagePosted {
                        party_index: None,
                        ..
                    }
                )
            })
            .filter_map(|e| e.actor_id)
            .chain(
                s.room
                    .sessions
                    .iter()
                    .flat_map(|x| &x.attendance)
                    .filter_map(|a| a.user_id),
            )
            .collect();
        let names = self.user_names(&staff_ids).await?;
        let party_name = |i: usize| {
            s.parties
                .get(i)
                .map(|p| format!("{}（{}）", p.name, p.role.zh()))
                .unwrap_or_default()
        };
        let user_name = |u: i64| {
            names
                .get(&u)
                .map(|(n, r)| format!("{n}（{}）", r.zh()))
                .unwrap_or_default()
        };
        let mut attendance: Vec<VideoAttendance> = s
            .room
            .sessions
            .iter()
            .flat_map(|x| {
                x.attendance.iter().map(|a| VideoAttendance {
                    session_no: x.no,
                    name: match (a.party_index, a.user_id) {
                        (Some(i), _) => party_name(i),
                        (None, Some(u)) => user_name(u),
                        (None, None) => String::new(),
                    },
                    party_index: a.party_index,
                    joined_at: a.joined_at,
                    left_at: a.left_at,
                    connected: a.left_at.is_none()
                        && self.video_connected(case_id, x.no).contains(&a.joined_seq),
                })
            })
            .collect();
        attendance.sort_by_key(|a| a.joined_at);
        let mut messages = Vec::new();
        // Files by id as added so far (the same content added again carries its new name).
        let mut files: std::collections::HashMap<&str, &AttachmentMeta> = Default::default();
        for e in &events {
            if let EventKind::AttachmentAdded(m) = &e.kind {
                files.insert(&m.id, m);
                continue;
            }
            let EventKind::MessagePosted {
                party_index,
                text,
                attachment_ids,
            } = &e.kind
            else {
                continue;
            };
            let author = match party_index {
                Some(i) => party_name(*i),
                None => e.actor_id.map(user_name).unwrap_or_default(),
            };
            messages.push(RoomMessage {
                seq: e.seq,
                at: e.at,
                party_index: *party_index,
                author,
                staff: party_index.is_none(),
                text: mask_numbers_in_text(text),
                attachments: attachment_ids
                    .iter()
                    .filter_map(|id| files.get(id.as_str()).map(|m| (*m).clone()))
                    .collect(),
            });
        }
        let parties = s
            .parties
            .iter()
            .enumerate()
            .map(|(i, p)| {
                let inv = s.room.invitation(i);
                RoomParty {
                    index: i,
                    name: p.name.clone(),
                    role: p.role,
                    invited_at: inv.map(|x| x.invited_at),
                    joined_at: inv.and_then(|x| x.joined_at),
                    link: if host {
                        self.party_link(&case, i)
                    } else {
                        None
                    },
                    has_phone: p.phone.is_some(),
                }
            })
            .collect();
        let now = self.now();
        let me = actor.room_party_index();
        let agreement = s.room.agreement.as_ref().map(|a| AgreementView {
            version: a.version,
            facts: mask_numbers_in_text(&a.facts),
            terms: mask_numbers_in_text(&a.terms),
            obligations: a.obligations.clone(),
            signatories: a
                .signatories
                .iter()
                .map(|p| {
                    (
                        *p,
                        s.parties
                            .get(*p)
                            .map(|x| x.name.clone())
                            .unwrap_or_default(),
                        a.signatures
                            .iter()
                            .find(|g| g.party_index == *p && g.version == a.version)
                            .map(|g| g.at),
                    )
                })
                .collect(),
            sealed: a.sealed.clone(),
            performance: a.performance.clone(),
            judicial: a.judicial.clone(),
            mine_to_sign: me.is_some_and(|p| {
                a.sealed.is_none() && a.signatories.contains(&p) && !a.signed_by(p)
            }),
            sign_code_pending: me
                .and_then(|p| a.sign_code(p))
                .is_some_and(|(_, t)| now - t < CODE_VALID_MS),
        });
        Ok(RoomView {
            agreement,
            case_id,
            tracking_code: s.tracking_code.clone(),
            status: s.status,
            open: s.status == Status::InMediation,
            host,
            me: actor.room_party_index(),
            parties,
            sessions: s.room.sessions.clone(),
            messages,
            attendance,
            video_open: s
                .room
                .sessions
                .iter()
                .filter(|x| self.video_command(actor, s, x.no).is_ok())
                .map(|x| x.no)
                .collect(),
        })
    }

    /// Writes in the room, with files (each added to the case first, then named by the
    /// message).
    pub async fn room_post(
        &self,
        actor: &Actor,
        case_id: i64,
        text: &str,
        files: Vec<(String, Vec<u8>)>,
    ) -> Result<StoredCase> {
        // Refused before any file lands when the actor may not write here now.
        let case = self.load_visible(actor, case_id).await?;
        if case.state.status != Status::InMediation {
            return Err(DomainError::InvalidTransition {
                action: "post_message",
                status: case.state.status.as_str(),
            }
            .into());
        }
        if files.len() > fengqiao_domain::room::MAX_MESSAGE_ATTACHMENTS {
            return Err(DomainError::validation("attachment_ids", "too many files").into());
        }
        let mut ids = Vec::new();
        for (name, bytes) in files {
            ids.push(self.add_attachment(actor, case_id, &name, bytes).await?.id);
        }
        self.act(
            actor,
            case_id,
            &Command::PostMessage {
                text: text.to_string(),
                attachment_ids: ids,
            },
        )
        .await
    }

    /// Typesets signed agreements from now on.
    pub fn set_renderer(&self, r: std::sync::Arc<dyn AgreementRenderer>) {
        if let Ok(mut x) = self.renderer.write() {
            *x = Some(r);
        }
    }

    /// Sends the party a one-time code to confirm their signature (by SMS).
    pub async fn agreement_sign_code(&self, actor: &Actor, case_id: i64) -> Result<()> {
        let party = actor.room_party_index().ok_or(DomainError::Forbidden)?;
        self.act(
            &Actor::system(),
            case_id,
            &Command::SendSignCode { party_index: party },
        )
        .await?;
        Ok(())
    }

    /// A party signs the current version of the agreement: their drawn signature (PNG) and
    /// the code sent to their phone. When every signatory has signed, the agreement is
    /// typeset with the signatures, kept as the case's file, and its SM3 digest written to
    /// the case log and the audit trail.
    pub async fn agreement_sign(
        &self,
        actor: &Actor,
        case_id: i64,
        version: u32,
        code: &str,
        png: Vec<u8>,
    ) -> Result<StoredCase> {
        let party = actor.room_party_index().ok_or(DomainError::Forbidden)?;
        let case = self.load_visible(actor, case_id).await?;
        let a = case
            .state
            .room
            .agreement
            .as_ref()
            .ok_or_else(|| DomainError::validation("agreement", "nothing to sign"))?;
        let Some(sent) = a.sign_code(party) else {
            return Err(DomainError::validation("code", "ask for a code first").into());
        };
        self.use_room_code(SIGN_LABEL, case_id, party, sent, code)?;
        if self.check_attachment("signature.png", &png)? != "image/png" {
            return Err(DomainError::validation("signature", "a PNG drawing").into());
        }
        let name = case.state.parties[party].name.clone();
        let meta = self
            .add_attachment(&Actor::system(), case_id, &format!("签名-{name}.png"), png)
            .await?;
        let signed = self
            .act(
                &Actor::system(),
                case_id,
                &Command::SignAgreement {
                    party_index: party,
                    version,
                    image_id: meta.id,
                },
            )
            .await?;
        if signed
            .state
            .room
            .agreement
            .as_ref()
            .is_some_and(|a| a.complete())
        {
            return self.seal_agreement(case_id).await;
        }
        Ok(signed)
    }

    /// Typesets the fully signed agreement and records it (also a retry after a failure).
    pub async fn seal_agreement(&self, case_id: i64) -> Result<StoredCase> {
        let case = self
            .store
            .get_case(case_id)
            .await?
            .ok_or(AppError::NotFound("case"))?;
        let s = &case.state;
        let a = s
            .room
            .agreement
            .as_ref()
            .filter(|a| a.complete() && a.sealed.is_none())
            .ok_or_else(|| DomainError::validation("agreement", "not signed by all, or sealed"))?;
        let renderer = self
            .renderer
            .read()
            .ok()
            .and_then(|r| r.clone())
            .ok_or_else(|| AppError::Internal("no agreement renderer".into()))?;
        let unit = match s.lead_unit_id {
            Some(u) => self
                .store
                .get_unit(u)
                .await?
                .map(|u| u.name)
                .unwrap_or_default(),
            None => String::new(),
        };
        let mut signatures = Vec::new();
        let mut last = 0;
        for p in &a.signatories {
            let Some(g) = a
                .signatures
                .iter()
                .find(|g| g.party_index == *p && g.version == a.version)
            else {
                continue;
            };
            last = last.max(g.at);
            let png = self
                .store
                .get_blob(&g.image_id)
                .await?
                .map(|b| b.bytes)
                .unwrap_or_default();
            let party = &s.parties[*p];
            signatures.push((
                party.name.clone(),
                party.role.zh().to_string(),
                local_time(g.at),
                png,
            ));
        }
        let doc = AgreementDoc {
            tracking_code: s.tracking_code.clone(),
            version: a.version,
            dispute_type: s.dispute_type.zh().to_string(),
            unit,
            parties: s
                .parties
                .iter()
                .map(|p| {
                    (
                        p.name.clone(),
                        p.role.zh().to_string(),
                        p.id_number.as_ref().map(|x| x.masked()).unwrap_or_default(),
                        p.phone.as_ref().map(|x| x.masked()).unwrap_or_default(),
                    )
                })
                .collect(),
            facts: mask_numbers_in_text(&a.facts),
            terms: mask_numbers_in_text(&a.terms),
            obligations: a
                .obligations
                .iter()
                .map(|o| {
                    (
                        s.parties
                            .get(o.party_index)
                            .map(|p| p.name.clone())
                            .unwrap_or_default(),
                        o.what.clone(),
                        o.amount_fen
                            .map(|f| format!("{}.{:02}", f / 100, f % 100))
                            .unwrap_or_default(),
                        o.due.to_string(),
                    )
                })
                .collect(),
            signatures,
            signed_at: local_time(last),
        };
        let pdf = tokio::task::spawn_blocking(move || renderer.render(&doc))
            .await
            .map_err(|e| AppError::Internal(e.to_string()))?
            .map_err(AppError::Internal)?;
        let sm3 = crate::auth::sm3_hex(&pdf);
        let version = a.version;
        let meta = self
            .attach_generated(
                case_id,
                &format!("调解协议书-{}-v{version}.pdf", s.tracking_code),
                "application/pdf",
                pdf,
            )
            .await?;
        let sealed = self
            .act(
                &Actor::system(),
                case_id,
                &Command::SealAgreement {
                    version,
                    pdf_id: meta.id.clone(),
                    sm3: sm3.clone(),
                },
            )
            .await?;
        self.audit_actor(
            &Actor::system(),
            fengqiao_domain::audit::AuditAction::AgreementSealed,
            &format!("case:{case_id}"),
            "ok",
            serde_json::json!({"version": version, "pdf": meta.id, "sm3": sm3}),
        )
        .await?;
        Ok(sealed)
    }

    /// The package for judicial confirmation (司法确认): a ZIP with the signed agreement, the
    /// parties (numbers masked), the evidence list with each file's SM3, the evidence files
    /// and a note of the case; for those who run the room. Recorded as an export.
    pub async fn judicial_package(&self, actor: &Actor, case_id: i64) -> Result<(String, Vec<u8>)> {
        use std::io::Write;
        let case = self.load_visible(actor, case_id).await?;
        let s = &case.state;
        fengqiao_domain::access::authorize(actor, Operation::Mediate, s)?;
        let a = s
            .room
            .agreement
            .as_ref()
            .and_then(|a| a.sealed.as_ref().map(|x| (a, x)));
        let Some((a, sealed)) = a else {
            return Err(DomainError::validation("agreement", "no signed agreement").into());
        };
        let blob = |id: String| async move {
            self.store
                .get_blob(&id)
                .await
                .map(|b| b.map(|b| b.bytes).unwrap_or_default())
        };
        let csv = |rows: Vec<Vec<String>>| -> Vec<u8> {
            let mut out = String::from("\u{feff}");
            for r in rows {
                let cells: Vec<String> = r
                    .iter()
                    .map(|c| format!("\"{}\"", c.replace('"', "\"\"")))
                    .collect();
                out.push_str(&cells.join(","));
                out.push_str("\r\n");
            }
            out.into_bytes()
        };
        let signature_ids: Vec<&str> = a.signatures.iter().map(|g| g.image_id.as_str()).collect();
        let evidence: Vec<&AttachmentMeta> = s
            .attachments
            .iter()
            .filter(|m| m.id != sealed.pdf_id && !signature_ids.contains(&m.id.as_str()))
            .fold(Vec::new(), |mut v: Vec<&AttachmentMeta>, m| {
                if !v.iter().any(|x| x.id == m.id) {
                    v.push(m);
                }
                v
            });
        let mut parties = vec![vec![
            "序号".into(),
            "姓名".into(),
            "身份".into(),
            "身份证号".into(),
            "电话".into(),
            "住址".into(),
        ]];
        for (i, p) in s.parties.iter().enumerate() {
            parties.push(vec![
                (i + 1).to_string(),
                p.name.clone(),
                p.role.zh().to_string(),
                p.id_number.as_ref().map(|x| x.masked()).unwrap_or_default(),
                p.phone.as_ref().map(|x| x.masked()).unwrap_or_default(),
                p.address.clone().unwrap_or_default(),
            ]);
        }
        let mut list = vec![vec![
            "序号".into(),
            "文件名".into(),
            "类型".into(),
            "大小（字节）".into(),
            "SM3".into(),
        ]];
        for (i, m) in evidence.iter().enumerate() {
            list.push(vec![
                (i + 1).to_string(),
                m.filename.clone(),
                m.content_type.clone(),
                m.size.to_string(),
                m.id.clone(),
            ]);
        }
        let note = format!(
            "司法确认申请材料\r\n案件编号：{}\r\n纠纷类型：{}\r\n调解协议：第 {} 稿，各方签署完成于 {}\r\n协议书 SM3：{}\r\n当事人 {} 人，证据 {} 件。\r\n",
            s.tracking_code,
            s.dispute_type.zh(),
            a.version,
            local_time(sealed.at),
            sealed.sm3,
            s.parties.len(),
            evidence.len()
        );
        let mut buf = std::io::Cursor::new(Vec::new());
        {
            let mut z = zip::ZipWriter::new(&mut buf);
            let opts = zip::write::SimpleFileOptions::default()
                .compression_method(zip::CompressionMethod::Deflated);
            let mut put = |name: &str, bytes: &[u8]| -> Result<()> {
                z.start_file(name, opts)
                    .map_err(|e| AppError::Internal(e.to_string()))?;
                z.write_all(bytes)
                    .map_err(|e| AppError::Internal(e.to_string()))
            };
            put("说明.txt", note.as_bytes())?;
            put("调解协议书.pdf", &blob(sealed.pdf_id.clone()).await?)?;
            put("当事人.csv", &csv(parties))?;
            put("证据清单.csv", &csv(list))?;
            for (i, m) in evidence.iter().enumerate() {
                let name: String = m
                    .filename
                    .chars()
                    .filter(|c| !matches!(c, '/' | '\\'))
                    .collect();
                put(
                    &format!("证据/{:02}-{name}", i + 1),
                    &blob(m.id.clone()).await?,
                )?;
            }
            z.finish().map_err(|e| AppError::Internal(e.to_string()))?;
        }
        self.record_export(
            actor,
            &format!("case:{case_id}"),
            serde_json::json!({"kind": "judicial_package", "agreement_sm3": sealed.sm3, "evidence": evidence.len()}),
        )
        .await?;
        Ok((
            format!("sifa-queren-{}.zip", s.tracking_code),
            buf.into_inner(),
        ))
    }

    /// A file of the room's thread, for a party in the room (staff use the case's files).
    pub async fn room_attachment(
        &self,
        actor: &Actor,
        case_id: i64,
        blob_id: &str,
    ) -> Result<fengqiao_store::Blob> {
        let case = self.load_visible(actor, case_id).await?;
        let sealed = case
            .state
            .room
            .agreement
            .as_ref()
            .and_then(|a| a.sealed.as_ref())
            .is_some_and(|x| x.pdf_id == blob_id);
        let posted = sealed || self.store.case_events(case_id).await?.iter().any(|e| {
            matches!(&e.kind, EventKind::MessagePosted { attachment_ids, .. } if attachment_ids.iter().any(|a| a == blob_id))
        });
        if !posted {
            return Err(AppError::NotFound("attachment"));
        }
        self.get_attachment(actor, case_id, blob_id).await
    }

    /// The SMS a room event sends to parties: (phone, title, body) each. Codes and links are
    /// made here, from the event's log position; nothing else holds them.
    pub(crate) fn room_sms(
        &self,
        case_id: i64,
        state: &CaseState,
        seq: u32,
        kind: &EventKind,
    ) -> Vec<(String, String, String)> {
        let to = |party: usize| -> Option<String> {
            let inv = state.room.invitation(party)?;
            let p = state.parties.get(party)?;
            inv.phone_of(p).map(|x| x.as_str().to_string())
        };
        let everyone = || -> Vec<String> {
            let mut v: Vec<String> = state
                .room
                .invitations
                .iter()
                .filter_map(|i| to(i.party_index))
                .collect();
            v.sort();
            v.dedup();
            v
        };
        let code = &state.tracking_code;
        match kind {
            EventKind::PartyInvited { party_index, .. } => {
                let url = format!(
                    "{}{}",
                    self.public_url(),
                    link_path(self, case_id, *party_index, seq)
                );
                to(*party_index)
                    .map(|phone| {
                        vec![(
                            phone,
                            "在线调解邀请".to_string(),
                            format!("您被邀请参加纠纷（{code}）的在线调解，请打开 {url} 并按提示验证手机"),
                        )]
                    })
                    .unwrap_or_default()
            }
            EventKind::RoomCodeSent { party_index } => to(*party_index)
                .map(|phone| {
                    vec![(
                        phone,
                        "验证码".to_string(),
                        format!(
                            "您的在线调解验证码为 {}，10分钟内有效，请勿告诉他人",
                            six_digits(self, CODE_LABEL, case_id, *party_index, seq)
                        ),
                    )]
                })
                .unwrap_or_default(),
            EventKind::ObligationReminded { no } => {
                let Some(o) = state
                    .room
                    .agreement
                    .as_ref()
                    .and_then(|a| {
                        (*no as usize)
                            .checked_sub(1)
                            .and_then(|i| a.obligations.get(i))
                    })
                else {
                    return Vec::new();
                };
                to(o.party_index)
                    .map(|phone| {
                        vec![(
                            phone,
                            "协议履行提醒".to_string(),
                            format!(
                                "按案件{code}的调解协议，您应于 {} 前完成：{}",
                                o.due, o.what
                            ),
                        )]
                    })
                    .unwrap_or_default()
            }
            EventKind::SignCodeSent { party_index, .. } => to(*party_index)
                .map(|phone| {
                    vec![(
                        phone,
                        "签署验证码".to_string(),
                        format!(
                            "您正在签署纠纷（{code}）的调解协议，验证码为 {}，10分钟内有效，请勿告诉他人",
                            six_digits(self, SIGN_LABEL, case_id, *party_index, seq)
                        ),
                    )]
                })
                .unwrap_or_default(),
            EventKind::SessionScheduled { no, .. }
            | EventKind::SessionReminded { no }
            | EventKind::SessionCancelled { no, .. } => {
                let Some(x) = state.room.sessions.iter().find(|x| x.no == *no) else {
                    return Vec::new();
                };
                let (title, body) = match kind {
                    EventKind::SessionScheduled { .. } => {
                        ("调解会议通知", format!("案件{code}：{}", session_text(x)))
                    }
                    EventKind::SessionReminded { .. } => (
                        "调解会议提醒",
                        format!("案件{code}的调解会议即将开始：{}", session_text(x)),
                    ),
                    _ => (
                        "调解会议取消",
                        format!(
                            "案件{code}原定{}的调解会议取消：{}",
                            local_time(x.at),
                            x.cancelled.clone().unwrap_or_default()
                        ),
                    ),
                };
                everyone()
                    .into_iter()
                    .map(|p| (p, title.to_string(), body.clone()))
                    .collect()
            }
            _ => Vec::new(),
        }
    }

    /// The token a party's room forms carry (bound to their room session).
    pub fn room_csrf(&self, session: &str) -> String {
        hex(&self.store.sealer().derive("room-csrf", session))[..32].to_string()
    }

    /// The address parties and citizens reach (`Settings::public_url`), no trailing slash.
    pub fn public_url(&self) -> String {
        self.settings
            .public_url
            .clone()
            .unwrap_or_else(|| "http://127.0.0.1:8080".into())
            .trim_end_matches('/')
            .to_string()
    }
}

/// The case-log actions whose SMS the courier sends to parties.
pub const ROOM_SMS_ACTIONS: &[&str] = &[
    "party_invited",
    "room_code_sent",
    "session_scheduled",
    "session_reminded",
    "session_cancelled",
    "sign_code_sent",
    "obligation_reminded",
];

/// What the signed agreement's PDF shows.
#[derive(Debug, Clone, Serialize)]
pub struct AgreementDoc {
    pub tracking_code: String,
    pub version: u32,
    pub dispute_type: String,
    pub unit: String,
    /// (name, role, ID-card number masked, phone masked).
    pub parties: Vec<(String, String, String, String)>,
    pub facts: String,
    pub terms: String,
    /// (who, what, amount in yuan, due date).
    pub obligations: Vec<(String, String, String, String)>,
    /// (name, role, signed at, PNG of the drawn signature).
    #[serde(skip)]
    pub signatures: Vec<(String, String, String, Vec<u8>)>,
    pub signed_at: String,
}

/// Typesets a signed agreement as PDF (the web layer's Typst; tests may bring their own).
pub trait AgreementRenderer: Send + Sync + 'static {
    fn render(&self, doc: &AgreementDoc) -> std::result::Result<Vec<u8>, String>;
}

/// The agreement as the room shows it.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct AgreementView {
    pub version: u32,
    pub facts: String,
    pub terms: String,
    pub obligations: Vec<fengqiao_domain::room::Obligation>,
    /// (party index, name, signed at).
    pub signatories: Vec<(usize, String, Option<Millis>)>,
    pub sealed: Option<fengqiao_domain::room::SealedAgreement>,
    pub performance: Vec<fengqiao_domain::room::Performance>,
    pub judicial: Option<fengqiao_domain::room::JudicialConfirmation>,
    /// The viewing party is to sign this version.
    pub mine_to_sign: bool,
    /// A signing code was sent to the viewing party and is still good.
    pub sign_code_pending: bool,
}
