//! Video in the case room: the signalling of a browser-to-browser (WebRTC) mesh of at most
//! [`MAX_VIDEO_PARTICIPANTS`], per online session, and the attendance it records.
//!
//! The server never sees audio or video: each browser connects to every other one directly
//! (or through the deployment's TURN server) and the server only passes their offers,
//! answers and ICE candidates between them. The web layer carries the messages over a
//! WebSocket; this module decides who may come in (the domain's `may_join_video`), keeps who is
//! connected (in memory: after a restart everyone reconnects), relays, and records each
//! joining and leaving in the case log (`JoinVideo` / `LeaveVideo`).
//!
//! Messages, JSON. To a browser: `welcome` (its id, the others, the ICE servers),
//! `peer_joined`, `peer_left`, `signal` (from another browser). From a browser: `signal` with
//! `to` and `data` (an SDP or a candidate, passed on untouched, at most [`MAX_SIGNAL_BYTES`]).
//! The newcomer makes the offers, so two browsers never offer to each other at once.
use crate::error::{AppError, Result};
use crate::App;
use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use fengqiao_domain::access::Actor;
use fengqiao_domain::room::MAX_VIDEO_PARTICIPANTS;
use fengqiao_domain::workflow::{self, Command, Context};
use fengqiao_store::StoredCase;
use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use tokio::sync::mpsc;

/// A browser's message larger than this is dropped (an SDP is a few kilobytes).
pub const MAX_SIGNAL_BYTES: usize = 64 * 1024;
/// Messages waiting for one browser; beyond this its connection is too slow and is dropped.
const QUEUE: usize = 256;
/// Credentials made from a TURN secret are good this long.
const TURN_CREDENTIAL_SECS: i64 = 12 * 3600;

/// A STUN or TURN server the browsers use (`FENGQIAO_ICE_SERVERS`, the shape of WebRTC's
/// `RTCIceServer`). With `secret` (coturn's `use-auth-secret`), each browser gets its own
/// credentials, good for 12 hours, instead of a shared password.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct IceServer {
    pub urls: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub username: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub credential: Option<String>,
    #[serde(default, skip_serializing)]
    pub secret: Option<String>,
}

/// Reads `FENGQIAO_ICE_SERVERS`: a JSON array of `{"urls": "stun:…" or ["turn:…"],
/// "username", "credential"}` or `{"urls", "secret"}`. The error says what is wrong.
pub fn parse_ice_servers(json: &str) -> std::result::Result<Vec<IceServer>, String> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Urls {
        One(String),
        Many(Vec<String>),
    }
    #[derive(Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Raw {
        urls: Urls,
        username: Option<String>,
        credential: Option<String>,
        secret: Option<String>,
    }
    let raw: Vec<Raw> = serde_json::from_str(json).map_err(|e| format!("not a JSON list: {e}"))?;
    raw.into_iter()
        .enumerate()
        .map(|(i, r)| {
            let urls = match r.urls {
                Urls::One(u) => vec![u],
                Urls::Many(u) => u,
            };
            if urls.is_empty() {
                return Err(format!("server {}: no urls", i + 1));
            }
            for u in &urls {
                let turn = u.starts_with("turn:") || u.starts_with("turns:");
                if !(turn || u.starts_with("stun:") || u.starts_with("stuns:")) {
                    return Err(format!(
                        "server {}: {u:?} is not a stun:, stuns:, turn: or turns: address",
                        i + 1
                    ));
                }
                if turn && r.secret.is_none() && (r.username.is_none() || r.credential.is_none()) {
                    return Err(format!(
                        "server {}: a TURN server needs a username and credential, or a secret",
                        i + 1
                    ));
                }
            }
            Ok(IceServer {
                urls,
                username: r.username,
                credential: r.credential,
                secret: r.secret,
            })
        })
        .collect()
}

/// The ICE servers as one browser gets them: a secret becomes that browser's own
/// time-limited username (`<expiry>:<name>`) and credential (base64 HMAC-SHA1), as TURN
/// servers check them.
fn ice_for(servers: &[IceServer], now_secs: i64, who: &str) -> Vec<IceServer> {
    servers
        .iter()
        .filter_map(|s| match &s.secret {
            None => Some(s.clone()),
            Some(secret) => {
                let username = format!("{}:{who}", now_secs + TURN_CREDENTIAL_SECS);
                // HMAC takes a key of any length: this never skips a server.
                let mut mac = <Hmac<sha1::Sha1> as Mac>::new_from_slice(secret.as_bytes()).ok()?;
                mac.update(username.as_bytes());
                Some(IceServer {
                    urls: s.urls.clone(),
                    username: Some(username),
                    credential: Some(STANDARD.encode(mac.finalize().into_bytes())),
                    secret: None,
                })
            }
        })
        .collect()
}

/// Someone in a session's video, as the others see them.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PeerInfo {
    pub id: u64,
    pub name: String,
}

struct Peer {
    info: PeerInfo,
    /// Its attendance (the case-log position of its joining).
    joined_seq: u32,
    tx: mpsc::Sender<String>,
}

/// Who is connected to which session's video now.
#[derive(Default)]
pub struct VideoHub {
    rooms: Mutex<HashMap<(i64, u32), Vec<Peer>>>,
    next: AtomicU64,
}

impl VideoHub {
    /// The table (a panic elsewhere while holding it leaves it usable: each change is whole).
    fn rooms(&self) -> std::sync::MutexGuard<'_, HashMap<(i64, u32), Vec<Peer>>> {
        self.rooms
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn count(&self, key: (i64, u32)) -> usize {
        self.rooms().get(&key).map_or(0, Vec::len)
    }

    /// The attendances of a session connected now.
    fn connected(&self, key: (i64, u32)) -> Vec<u32> {
        self.rooms()
            .get(&key)
            .map(|peers| peers.iter().map(|p| p.joined_seq).collect())
            .unwrap_or_default()
    }

    /// Lets a browser in if there is room: its id, its queue, and who was there before.
    fn admit(
        &self,
        key: (i64, u32),
        name: String,
        joined_seq: u32,
    ) -> Option<(PeerInfo, mpsc::Receiver<String>, Vec<PeerInfo>)> {
        let mut rooms = self.rooms();
        let peers = rooms.entry(key).or_default();
        if peers.len() >= MAX_VIDEO_PARTICIPANTS {
            return None;
        }
        let info = PeerInfo {
            id: self.next.fetch_add(1, Ordering::Relaxed) + 1,
            name,
        };
        let (tx, rx) = mpsc::channel(QUEUE);
        let others = peers.iter().map(|p| p.info.clone()).collect();
        let joined = message(&Outgoing::PeerJoined { peer: &info });
        for p in peers.iter() {
            send(p, &joined);
        }
        peers.push(Peer {
            info: info.clone(),
            joined_seq,
            tx,
        });
        Some((info, rx, others))
    }

    fn remove(&self, key: (i64, u32), id: u64) {
        let mut rooms = self.rooms();
        let Some(peers) = rooms.get_mut(&key) else {
            return;
        };
        peers.retain(|p| p.info.id != id);
        let left = message(&Outgoing::PeerLeft { id });
        for p in peers.iter() {
            send(p, &left);
        }
        if peers.is_empty() {
            rooms.remove(&key);
        }
    }

    fn relay(&self, key: (i64, u32), from: u64, to: u64, data: &serde_json::Value) {
        let rooms = self.rooms();
        let Some(peers) = rooms.get(&key) else {
            return;
        };
        // Only between browsers of the same session.
        if !peers.iter().any(|p| p.info.id == from) {
            return;
        }
        if let Some(p) = peers.iter().find(|p| p.info.id == to) {
            send(p, &message(&Outgoing::Signal { from, data }));
        }
    }
}

fn send(p: &Peer, text: &str) {
    if p.tx.try_send(text.to_string()).is_err() {
        tracing::warn!(peer = p.info.id, "video signalling queue full or closed");
    }
}

#[derive(Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
enum Outgoing<'a> {
    Welcome {
        you: u64,
        peers: &'a [PeerInfo],
        ice_servers: &'a [IceServer],
    },
    PeerJoined {
        peer: &'a PeerInfo,
    },
    PeerLeft {
        id: u64,
    },
    Signal {
        from: u64,
        data: &'a serde_json::Value,
    },
}

fn message(m: &Outgoing<'_>) -> String {
    serde_json::to_string(m).unwrap_or_default()
}

#[derive(Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
enum Incoming {
    Signal { to: u64, data: serde_json::Value },
}

/// One browser in a session's video, from its coming in to its leaving.
pub struct VideoPeer {
    pub case_id: i64,
    pub no: u32,
    pub id: u64,
    /// The case-log position of its joining (its attendance).
    pub joined_seq: u32,
    /// What to send it: first the welcome, then the others' messages.
    pub outgoing: mpsc::Receiver<String>,
    pub welcome: String,
}

impl App {
    /// The joining to record if `actor` may come into the video of session `no` now.
    pub(crate) fn video_command(
        &self,
        actor: &Actor,
        case: &fengqiao_domain::case::CaseState,
        no: u32,
    ) -> Result<Command> {
        let calendar = self.calendar();
        let rules = self.rules();
        let ctx = Context {
            actor,
            now: self.now(),
            calendar: &calendar,
            rules: &rules,
        };
        Ok(workflow::may_join_video(case, no, &ctx)?)
    }

    /// The case, if `actor` may come into the video of its session `no` now (checked before
    /// the connection is upgraded, and again when it comes in).
    pub async fn video_check(&self, actor: &Actor, case_id: i64, no: u32) -> Result<StoredCase> {
        let case = self.load_visible(actor, case_id).await?;
        self.video_command(actor, &case.state, no)?;
        Ok(case)
    }

    /// Lets the actor's browser into the session's video: recorded in the case log, announced
    /// to the others. Refused when the actor may not, or with [`AppError::VideoFull`].
    pub async fn video_enter(&self, actor: &Actor, case_id: i64, no: u32) -> Result<VideoPeer> {
        let case = self.load_visible(actor, case_id).await?;
        let cmd = self.video_command(actor, &case.state, no)?;
        let key = (case_id, no);
        if self.video.count(key) >= MAX_VIDEO_PARTICIPANTS {
            return Err(AppError::VideoFull(MAX_VIDEO_PARTICIPANTS));
        }
        let case = self.act(&Actor::system(), case_id, &cmd).await?;
        // The joining just appended: the session's last attendance in the state it made.
        let joined_seq = case
            .state
            .room
            .sessions
            .iter()
            .find(|x| x.no == no)
            .and_then(|x| x.attendance.last())
            .map(|a| a.joined_seq)
            .ok_or_else(|| AppError::Internal("video joining not applied".into()))?;
        let name = self.video_name(actor, &case.state).await?;
        let Some((info, outgoing, others)) = self.video.admit(key, name, joined_seq) else {
            // Filled meanwhile: the joining just recorded ends at once.
            self.video_record_leaving(case_id, no, joined_seq).await;
            return Err(AppError::VideoFull(MAX_VIDEO_PARTICIPANTS));
        };
        let ice = ice_for(
            &self.settings.ice_servers,
            self.now() / 1000,
            &format!("c{case_id}p{}", info.id),
        );
        Ok(VideoPeer {
            case_id,
            no,
            id: info.id,
            joined_seq,
            outgoing,
            welcome: message(&Outgoing::Welcome {
                you: info.id,
                peers: &others,
                ice_servers: &ice,
            }),
        })
    }

    /// A browser's message: passed to the one it is for, or dropped when it is not a signal.
    pub fn video_relay(&self, peer: &VideoPeer, text: &str) {
        if text.len() > MAX_SIGNAL_BYTES {
            return;
        }
        if let Ok(Incoming::Signal { to, data }) = serde_json::from_str(text) {
            self.video
                .relay((peer.case_id, peer.no), peer.id, to, &data);
        }
    }

    /// The browser's connection ended: the others are told, the leaving is recorded.
    pub async fn video_leave(&self, peer: VideoPeer) {
        self.video.remove((peer.case_id, peer.no), peer.id);
        self.video_record_leaving(peer.case_id, peer.no, peer.joined_seq)
            .await;
    }

    /// The attendances of session `no` of the case whose connection is open now.
    pub fn video_connected(&self, case_id: i64, no: u32) -> Vec<u32> {
        self.video.connected((case_id, no))
    }

    async fn video_record_leaving(&self, case_id: i64, no: u32, joined_seq: u32) {
        let cmd = Command::LeaveVideo { no, joined_seq };
        if let Err(e) = self.act(&Actor::system(), case_id, &cmd).await {
            tracing::warn!(error = %e, case_id, no, "recording a video leaving failed");
        }
    }

    /// How the others see the actor: a party's name and role, or a user's.
    async fn video_name(
        &self,
        actor: &Actor,
        case: &fengqiao_domain::case::CaseState,
    ) -> Result<String> {
        if let Some(i) = actor.room_party_index() {
            return Ok(case
                .parties
                .get(i)
                .map(|p| format!("{}（{}）", p.name, p.role.zh()))
                .unwrap_or_default());
        }
        let names = self.user_names(&[actor.user_id]).await?;
        Ok(names
            .get(&actor.user_id)
            .map(|(n, r)| format!("{n}（{}）", r.zh()))
            .unwrap_or_default())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ice_servers_are_checked() {
        let ok = parse_ice_servers(
            r#"[{"urls":"stun:stun.example.org:3478"},
                {"urls":["turn:turn.example.org:3478"],"username":"u","credential":"p"},
                {"urls":"turns:turn.example.org:5349","secret":"s"}]"#,
        )
        .unwrap();
        assert_eq!(ok.len(), 3);
        assert_eq!(ok[0].urls, vec!["stun:stun.example.org:3478"]);
        let bad = |j: &str| parse_ice_servers(j).unwrap_err();
        assert!(bad(r#"[{"urls":"http://x"}]"#).contains("not a stun"));
        assert!(bad(r#"[{"urls":"turn:x"}]"#).contains("username and credential"));
        assert!(bad(r#"[{"urls":[]}]"#).contains("no urls"));
        assert!(bad(r#"{"urls":"stun:x"}"#).contains("not a JSON list"));
        assert!(bad(r#"[{"url":"stun:x"}]"#).contains("not a JSON list"));
    }

    /// coturn's REST credentials: username `<expiry>:<name>`, credential
    /// base64(HMAC-SHA1(secret, username)); the secret never goes to a browser.
    #[test]
    fn turn_secret_makes_time_limited_credentials() {
        let s = parse_ice_servers(r#"[{"urls":"turn:t.example.org","secret":"north"}]"#).unwrap();
        let got = &ice_for(&s, 1_000, "c1p2")[0];
        assert_eq!(got.username.as_deref(), Some("44200:c1p2"));
        // HMAC-SHA1("north", "44200:c1p2"), computed independently with Python's hmac module.
        assert_eq!(
            got.credential.as_deref(),
            Some("q8d7ITTvza5K4Fm/WgLOyAx1wMI=")
        );
        let json = serde_json::to_string(got).unwrap();
        assert!(
            !json.contains("north") && !json.contains("secret"),
            "{json}"
        );
    }

    #[tokio::test]
    async fn hub_relays_within_a_session_and_holds_six() {
        let hub = VideoHub::default();
        let key = (7, 1);
        let (a, mut ra, before) = hub.admit(key, "甲".into(), 1).unwrap();
        assert!(before.is_empty());
        let (b, mut rb, before) = hub.admit(key, "乙".into(), 2).unwrap();
        assert_eq!(before, vec![a.clone()]);
        let joined: serde_json::Value = serde_json::from_str(&ra.recv().await.unwrap()).unwrap();
        assert_eq!(joined["type"], "peer_joined");
        assert_eq!(joined["peer"]["id"], b.id);
        hub.relay(key, b.id, a.id, &serde_json::json!({"sdp": "x"}));
        let got: serde_json::Value = serde_json::from_str(&ra.recv().await.unwrap()).unwrap();
        assert_eq!(got["type"], "signal");
        assert_eq!(got["from"], b.id);
        assert_eq!(got["data"]["sdp"], "x");
        // A browser of another session cannot reach into this one.
        let (c, _rc, _) = hub.admit((7, 2), "丙".into(), 3).unwrap();
        hub.relay(key, c.id, a.id, &serde_json::json!({"sdp": "y"}));
        hub.relay((7, 2), c.id, a.id, &serde_json::json!({"sdp": "y"}));
        assert!(ra.try_recv().is_err());
        for i in 0..4 {
            assert!(hub.admit(key, format!("p{i}"), 10 + i).is_some());
        }
        assert_eq!(hub.count(key), 6);
        assert_eq!(hub.connected(key), vec![1, 2, 10, 11, 12, 13]);
        assert!(hub.admit(key, "第七人".into(), 20).is_none());
        hub.remove(key, b.id);
        let left: serde_json::Value = loop {
            let m: serde_json::Value = serde_json::from_str(&ra.recv().await.unwrap()).unwrap();
            if m["type"] == "peer_left" {
                break m;
            }
        };
        assert_eq!(left["id"], b.id);
        assert!(rb.try_recv().is_ok(), "b had been told of the later ones");
        assert_eq!(hub.count(key), 5);
    }
}
