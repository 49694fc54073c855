//! Application services: every operation the API offers, as a method of [`App`].
//!
//! Owns: authentication and sessions, turning requests into domain commands, loading and
//! saving aggregates with optimistic retries, notifications, the deadline monitor, masking.
//! Must not: contain SQL (that is the Store's) or HTTP types (that is the http crate's).
pub mod admin;
pub mod audit;
pub mod auth;
pub mod cases;
pub mod clock;
pub mod cockpit;
pub mod dossier;
pub mod error;
pub mod imports;
pub mod laws;
pub mod media;
pub mod monitor;
pub mod open311;
pub mod outbound;
pub mod privacy;
pub mod reports;
pub mod room;
pub mod search;
pub mod text;
pub mod totp;
pub mod unmasked;
pub mod video;
pub mod warnings;
pub mod workbench;

use clock::Clock;
pub use error::{AppError, Result};
use fengqiao_domain::calendar::WorkCalendar;
use fengqiao_domain::deadline::DeadlineRules;
use fengqiao_domain::time::Millis;
use fengqiao_store::Store;
use std::sync::{Arc, RwLock};

/// Limits and durations the operator may tune.
#[derive(Debug, Clone)]
pub struct Settings {
    /// A session unused this long ends (30 minutes).
    pub session_idle_ms: Millis,
    /// A session ends this long after sign-in (12 hours).
    pub session_absolute_ms: Millis,
    /// TLS terminates in front of the server: cookies are `Secure` and HSTS is sent.
    pub behind_tls: bool,
    /// The key signing the audit trail's checkpoints (HMAC-SM3); kept outside the database.
    pub audit_key: Option<Vec<u8>>,
    pub max_attachment_bytes: usize,
    /// The address citizens and parties reach (links in SMS); `FENGQIAO_PUBLIC_URL`.
    pub public_url: Option<String>,
    /// STUN/TURN servers for the room's video (`FENGQIAO_ICE_SERVERS`); none: browsers on
    /// the same network (or with public addresses) still connect directly.
    pub ice_servers: Vec<video::IceServer>,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            session_idle_ms: fengqiao_domain::security::SESSION_IDLE_MS,
            session_absolute_ms: fengqiao_domain::security::SESSION_ABSOLUTE_MS,
            behind_tls: false,
            audit_key: None,
            max_attachment_bytes: 10 * 1024 * 1024,
            public_url: None,
            ice_servers: Vec::new(),
        }
    }
}

const RULES_KEY: &str = "deadline_rules";
/// The setting holding the definition version the statistics tables were built with.
const STATS_KEY: &str = "stats_version";

/// The application: a store, a clock, and cached reference data (calendar, deadline rules)
/// that is reloaded whenever an admin changes it.
pub struct App {
    pub store: Arc<dyn Store>,
    pub clock: Arc<dyn Clock>,
    pub settings: Settings,
    calendar: RwLock<Arc<WorkCalendar>>,
    rules: RwLock<Arc<DeadlineRules>>,
    /// Jurisdiction code → materialised path. Nodes are never moved or deleted, so an entry,
    /// once read, stays true.
    node_paths: RwLock<std::collections::HashMap<String, String>>,
    /// Jurisdiction code → name, for pages; cleared when an admin changes a jurisdiction.
    node_names: RwLock<std::collections::HashMap<String, String>>,
    /// The text reader and the recent cases' fingerprints (duplicate search).
    pub(crate) text: text::SharedText,
    /// Cases just registered, for the cockpit's live feed.
    pub(crate) feed: tokio::sync::broadcast::Sender<Arc<fengqiao_store::StoredCase>>,
    /// The full-text index and its feed (none until `attach_search`).
    pub(crate) search: search::Search,
    /// The law articles' index (built from the database on first use).
    pub(crate) laws: laws::Laws,
    /// Sends queued deliveries (webhook, e-mail, SMS); none in tests that do not send.
    courier: RwLock<Option<Arc<dyn outbound::Courier>>>,
    /// Typesets signed agreements (the web layer's Typst); none: agreements wait unsealed.
    pub(crate) renderer: RwLock<Option<Arc<dyn room::AgreementRenderer>>>,
    /// Sign-in attempts per client address.
    login_limiter: auth::AttemptLimiter,
    /// Who is in which session's video now.
    pub(crate) video: video::VideoHub,
    /// Wrong room codes per (case, party, code's log position).
    pub(crate) room_tries: std::sync::Mutex<std::collections::HashMap<(i64, usize, u32), u32>>,
    /// User id → username, for audit records (usernames never change).
    usernames: RwLock<std::collections::HashMap<i64, String>>,
    /// Case changes' audit records on their way to the batched append.
    audit_queue: tokio::sync::mpsc::UnboundedSender<audit::Queued>,
}

impl App {
    /// Migrates the store, seeds the 2024–2026 holiday calendar on first start, loads caches.
    pub async fn start(
        store: Arc<dyn Store>,
        clock: Arc<dyn Clock>,
        settings: Settings,
    ) -> Result<App> {
        store.migrate().await?;
        if store.get_setting("calendar_seeded").await?.is_none() {
            for d in fengqiao_domain::calendar::china_2024_2026() {
                store
                    .set_calendar_day(d.date, Some(d.kind), &d.note)
                    .await?;
            }
            store.put_setting("calendar_seeded", "2024-2026").await?;
        }
        // Statistics tables made by an older definition (or none, after an upgrade) are
        // recomputed once from the stored states.
        if store.get_setting(STATS_KEY).await?.as_deref() != Some(fengqiao_domain::stats::VERSION) {
            let n = store.rebuild_stats().await?;
            tracing::info!(cases = n, "statistics rebuilt");
            store
                .put_setting(STATS_KEY, fengqiao_domain::stats::VERSION)
                .await?;
        }
        let app = App {
            audit_queue: audit::spawn_batcher(store.clone()),
            store,
            clock,
            settings,
            calendar: RwLock::new(Arc::new(WorkCalendar::default())),
            rules: RwLock::new(Arc::new(DeadlineRules::default())),
            node_paths: RwLock::new(std::collections::HashMap::new()),
            node_names: RwLock::new(std::collections::HashMap::new()),
            text: Default::default(),
            feed: tokio::sync::broadcast::channel(256).0,
            search: Default::default(),
            laws: Default::default(),
            courier: RwLock::new(None),
            renderer: RwLock::new(None),
            login_limiter: Default::default(),
            room_tries: Default::default(),
            video: Default::default(),
            usernames: Default::default(),
        };
        app.reload().await?;
        Ok(app)
    }

    /// Re-reads the calendar and the rules from the store.
    pub async fn reload(&self) -> Result<()> {
        let days = self.store.calendar_days().await?;
        let cal = WorkCalendar::new(days.into_iter().map(|d| (d.date, d.kind)));
        let rules = match self.store.get_setting(RULES_KEY).await? {
            Some(json) => serde_json::from_str(&json)
                .map_err(|e| AppError::Internal(format!("rules: {e}")))?,
            None => DeadlineRules::default(),
        };
        *self
            .calendar
            .write()
            .map_err(|_| AppError::Internal("calendar lock".into()))? = Arc::new(cal);
        *self
            .rules
            .write()
            .map_err(|_| AppError::Internal("rules lock".into()))? = Arc::new(rules);
        Ok(())
    }

    pub fn calendar(&self) -> Arc<WorkCalendar> {
        self.calendar.read().map(|c| c.clone()).unwrap_or_default()
    }

    pub fn rules(&self) -> Arc<DeadlineRules> {
        self.rules.read().map(|c| c.clone()).unwrap_or_default()
    }

    pub fn now(&self) -> Millis {
        self.clock.now()
    }
}
