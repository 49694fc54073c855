//! The case room (云端解纷): while a case is in mediation, the mediator invites its parties by
//! a link (sent by SMS or read out on the phone), each party confirms the link with a one-time
//! code sent to their phone, and everyone writes in one thread (messages and evidence) that is
//! part of the case's log; sessions are scheduled and reminded.
//!
//! Owns: the room's state inside a case (invitations, scheduled sessions) and its rules: who
//! may write, when a code may be sent again, when a session is reminded. Links, codes and party
//! sessions are made from a server secret by the application (nothing secret is stored or
//! logged here); they are valid only for the invitation, code or join they were made for.
use crate::time::Millis;
use crate::validate::PhoneNumber;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// A message's longest text.
pub const MAX_MESSAGE_CHARS: usize = 2_000;
/// At most this many attachments with one message.
pub const MAX_MESSAGE_ATTACHMENTS: usize = 6;
/// A code is good this long after it was sent.
pub const CODE_VALID_MS: Millis = 10 * 60_000;
/// A new code no sooner than this after the last one.
pub const CODE_RESEND_MS: Millis = 60_000;
/// Wrong codes before a new one must be asked for.
pub const CODE_MAX_TRIES: u32 = 5;
/// A party's session in the room lasts at most this long after joining.
pub const PARTY_SESSION_MS: Millis = 30 * 24 * 3_600_000;
/// Parties are reminded of a session this long before it starts.
pub const REMIND_BEFORE_MS: Millis = 2 * 3_600_000;
/// At most this many people in a video session (the mesh each browser keeps).
pub const MAX_VIDEO_PARTICIPANTS: usize = 6;
/// An online session's video opens this long before its start…
pub const VIDEO_OPENS_BEFORE_MS: Millis = 30 * 60_000;
/// …and can be joined until this long after its start.
pub const VIDEO_OPEN_FOR_MS: Millis = 6 * 3_600_000;

/// Someone's time in an online session's video (参会记录): a party of the case, or a staff
/// member or expert (a user).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Attendance {
    /// The case-log position of the joining: the attendance's id.
    pub joined_seq: u32,
    pub party_index: Option<usize>,
    pub user_id: Option<i64>,
    pub joined_at: Millis,
    /// None while connected (or when the server stopped before the leaving was recorded).
    pub left_at: Option<Millis>,
}

/// A party's invitation to the room, as it stands.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Invitation {
    pub party_index: usize,
    /// The case-log position of the invitation (what its link is made for; inviting again
    /// makes a new link and the old one stops working).
    pub invited_seq: u32,
    pub invited_at: Millis,
    pub invited_by: Option<i64>,
    /// The phone the invitation went to when it is not the party's own (sealed at rest).
    #[schema(value_type = Option<String>)]
    pub phone: Option<PhoneNumber>,
    /// The last code sent: its log position (what the code is made for) and time.
    pub code_seq: Option<u32>,
    pub code_sent_at: Option<Millis>,
    /// The join with the code: its log position (what the party's session is made for).
    pub joined_seq: Option<u32>,
    pub joined_at: Option<Millis>,
}

impl Invitation {
    /// The phone the room's messages to this party go to.
    pub fn phone_of<'a>(&'a self, party: &'a crate::case::Party) -> Option<&'a PhoneNumber> {
        self.phone.as_ref().or(party.phone.as_ref())
    }
}

/// A session of the mediation, scheduled ahead (held in the room by video, or in person).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct ScheduledSession {
    pub no: u32,
    /// When it starts.
    pub at: Millis,
    /// Held online (video in the room) rather than at a place.
    pub online: bool,
    pub place: Option<String>,
    pub note: String,
    pub scheduled_by: Option<i64>,
    pub reminded: bool,
    pub cancelled: Option<String>,
    /// Who was in the session's video, and when.
    #[serde(default)]
    pub attendance: Vec<Attendance>,
}

impl ScheduledSession {
    /// Whether its video can be joined now: online, not cancelled, from
    /// [`VIDEO_OPENS_BEFORE_MS`] before its start to [`VIDEO_OPEN_FOR_MS`] after.
    pub fn video_open(&self, now: Millis) -> bool {
        self.online
            && self.cancelled.is_none()
            && now >= self.at - VIDEO_OPENS_BEFORE_MS
            && now < self.at + VIDEO_OPEN_FOR_MS
    }
}

/// The room of a case.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Room {
    /// The latest invitation of each invited party.
    #[serde(default)]
    pub invitations: Vec<Invitation>,
    #[serde(default)]
    pub sessions: Vec<ScheduledSession>,
    /// The staff member who opened the room (first invitation): told of the parties' messages.
    #[serde(default)]
    pub host: Option<i64>,
    #[serde(default)]
    pub messages: u32,
    #[serde(default)]
    pub agreement: Option<Agreement>,
}

impl Room {
    pub fn invitation(&self, party_index: usize) -> Option<&Invitation> {
        self.invitations
            .iter()
            .find(|i| i.party_index == party_index)
    }

    pub fn invitation_mut(&mut self, party_index: usize) -> Option<&mut Invitation> {
        self.invitations
            .iter_mut()
            .find(|i| i.party_index == party_index)
    }

    /// Sessions to remind now: not cancelled, not reminded, starting within
    /// [`REMIND_BEFORE_MS`] and not yet begun.
    pub fn due_reminders(&self, now: Millis) -> impl Iterator<Item = &ScheduledSession> {
        self.sessions.iter().filter(move |s| {
            s.cancelled.is_none() && !s.reminded && now >= s.at - REMIND_BEFORE_MS && now < s.at
        })
    }
}

/// What a party undertakes in an agreement (履行义务), with its due date.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Obligation {
    /// The party who must do it.
    pub party_index: usize,
    pub what: String,
    /// An amount to pay, in fen.
    #[serde(default)]
    pub amount_fen: Option<i64>,
    pub due: chrono::NaiveDate,
}

/// A party's drawn signature on a version of the agreement.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Signature {
    pub party_index: usize,
    pub version: u32,
    /// The PNG of the drawn signature (an attachment of the case).
    pub image_id: String,
    pub at: Millis,
}

/// The signed agreement as a PDF, with its SM3 digest (also in the audit trail).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct SealedAgreement {
    pub version: u32,
    pub pdf_id: String,
    pub sm3: String,
    pub at: Millis,
}

/// Whether an obligation was honoured, as recorded by the mediator.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Performance {
    pub no: u32,
    pub honoured: bool,
    pub note: String,
    pub at: Millis,
}

/// The mediation agreement (调解协议书) of a case: the current draft, its signatures, and the
/// sealed PDF once every signatory has signed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Agreement {
    /// Each new draft is a new version; signatures of an older one no longer count.
    pub version: u32,
    pub facts: String,
    pub terms: String,
    pub obligations: Vec<Obligation>,
    /// The parties who sign (by index).
    pub signatories: Vec<usize>,
    pub drafted_at: Millis,
    pub drafted_by: Option<i64>,
    #[serde(default)]
    pub signatures: Vec<Signature>,
    /// The last signing code sent to each party: (party, log position, time).
    #[serde(default)]
    pub sign_codes: Vec<(usize, u32, Millis)>,
    #[serde(default)]
    pub sealed: Option<SealedAgreement>,
    /// Obligations performed or not (by number, 1-based).
    #[serde(default)]
    pub performance: Vec<Performance>,
    /// The request for judicial confirmation (司法确认) and the court's answer.
    #[serde(default)]
    pub judicial: Option<JudicialConfirmation>,
    /// Obligations whose party was reminded the day before they fall due.
    #[serde(default)]
    pub reminded: Vec<u32>,
}

/// A signed agreement sent to a court for judicial confirmation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct JudicialConfirmation {
    pub court: String,
    pub requested_at: Millis,
    pub answer: Option<CourtAnswer>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct CourtAnswer {
    pub confirmed: bool,
    pub note: String,
    pub at: Millis,
}

impl Agreement {
    pub fn signed_by(&self, party: usize) -> bool {
        self.signatures
            .iter()
            .any(|s| s.party_index == party && s.version == self.version)
    }

    /// Every signatory has signed the current version.
    pub fn complete(&self) -> bool {
        self.signatories.iter().all(|p| self.signed_by(*p))
    }

    /// The first day the next reminder of an obligation is due (the day before it falls due),
    /// for the deadline monitor to visit the case then.
    pub fn next_reminder(&self) -> Option<chrono::NaiveDate> {
        self.pending_reminders()
            .map(|(_, o)| o.due - chrono::Duration::days(1))
            .min()
    }

    /// Obligations (1-based numbers) to remind of on `today`.
    pub fn obligations_to_remind(&self, today: chrono::NaiveDate) -> Vec<u32> {
        self.pending_reminders()
            .filter(|(_, o)| today >= o.due - chrono::Duration::days(1))
            .map(|(no, _)| no)
            .collect()
    }

    /// Obligations of a signed agreement not yet reminded of nor recorded as performed.
    fn pending_reminders(&self) -> impl Iterator<Item = (u32, &Obligation)> {
        let signed = self.sealed.is_some();
        self.obligations
            .iter()
            .enumerate()
            .map(|(i, o)| (i as u32 + 1, o))
            .filter(move |(no, _)| {
                signed
                    && !self.reminded.contains(no)
                    && !self.performance.iter().any(|p| p.no == *no)
            })
    }

    pub fn sign_code(&self, party: usize) -> Option<(u32, Millis)> {
        self.sign_codes
            .iter()
            .find(|(p, _, _)| *p == party)
            .map(|(_, seq, at)| (*seq, *at))
    }
}
