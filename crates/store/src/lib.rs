//! The storage boundary: the [`Store`] trait and the records it speaks in.
//!
//! Owns: what is stored and the transactional promises (events and state in one transaction,
//! optimistic concurrency by version, idempotent creation). Backends (`fengqiao-store-sqlite`,
//! `fengqiao-store-postgres`) implement it and own their SQL and migrations; this crate has no SQL.
use async_trait::async_trait;
use chrono::NaiveDate;
use fengqiao_domain::access::Role;
use fengqiao_domain::calendar::{CalendarDay, DayKind};
use fengqiao_domain::case::{CaseState, Channel, DisputeType, Light, Status};
use fengqiao_domain::jurisdiction::Jurisdiction;
use fengqiao_domain::outbound::{
    AttemptOutcome, Contact, Delivery, DeliveryStatus, NewDelivery, Webhook, WebhookInput,
};
use fengqiao_domain::time::Millis;
use fengqiao_domain::unit::{Unit, UnitKind};
use fengqiao_domain::warning::Warning;
use fengqiao_domain::workflow::CaseEvent;
use serde::{Deserialize, Serialize};
use thiserror::Error;
use utoipa::ToSchema;

pub mod codec;
#[cfg(feature = "conformance")]
pub mod conformance;
pub mod seal;

#[derive(Debug, Error)]
pub enum StoreError {
    #[error("record not found")]
    NotFound,
    /// The case changed since it was read (optimistic concurrency).
    #[error("concurrent update")]
    Conflict,
    #[error("duplicate {0}")]
    Duplicate(&'static str),
    #[error("stored data is corrupt: {0}")]
    Corrupt(String),
    #[error("database error: {0}")]
    Backend(String),
}

impl StoreError {
    pub fn code(&self) -> &'static str {
        match self {
            StoreError::NotFound => "not_found",
            StoreError::Conflict => "concurrent_update",
            StoreError::Duplicate(_) => "duplicate",
            StoreError::Corrupt(_) => "storage_corrupt",
            StoreError::Backend(_) => "storage_error",
        }
    }
}

pub type Result<T, E = StoreError> = std::result::Result<T, E>;

/// A unit to create.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct NewUnit {
    pub name: String,
    pub kind: UnitKind,
    pub node_code: String,
    pub specialty: Option<String>,
}

/// A user account as stored (the password hash never leaves the app layer's login path).
#[derive(Debug, Clone, PartialEq)]
pub struct UserRecord {
    pub id: i64,
    pub username: String,
    pub display_name: String,
    pub password_hash: String,
    pub role: Role,
    pub scope_code: String,
    pub scope_path: String,
    pub unit_id: Option<i64>,
    pub disabled: bool,
    pub created_at: Millis,
    /// When the password was last set.
    pub password_changed_at: Millis,
    /// Set by an administrator's reset or a new account: the next sign-in must change it.
    pub must_change_password: bool,
    /// The TOTP secret (base32), once enrolment started.
    pub totp_secret: Option<String>,
    /// True once a code from the secret was confirmed.
    pub totp_enabled: bool,
    /// The last TOTP time step used (a code works once).
    pub totp_last_step: i64,
}

/// A live session and its user.
#[derive(Debug, Clone, PartialEq)]
pub struct SessionRecord {
    pub user: UserRecord,
    pub stage: fengqiao_domain::security::SessionStage,
    pub created_at: Millis,
    pub expires_at: Millis,
}

#[derive(Debug, Clone, PartialEq)]
pub struct NewUser {
    pub username: String,
    pub display_name: String,
    pub password_hash: String,
    pub role: Role,
    pub scope_code: String,
    pub scope_path: String,
    pub unit_id: Option<i64>,
    /// The first sign-in must change the password (accounts an administrator creates).
    pub must_change_password: bool,
}

/// What an administrator may change of a user (the username and password stay).
#[derive(Debug, Clone, PartialEq)]
pub struct UserUpdate {
    pub display_name: String,
    pub role: Role,
    pub scope_code: String,
    pub scope_path: String,
    pub unit_id: Option<i64>,
    pub disabled: bool,
}

/// A case as stored: identity, version and the folded state.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct StoredCase {
    pub id: i64,
    /// Number of events in the log; the optimistic-concurrency token.
    pub version: i64,
    pub state: CaseState,
}

/// Idempotency of creation: the same (scope, key) returns the first case.
#[derive(Debug, Clone, PartialEq)]
pub struct IdempotencyKey {
    /// Whose key: `user:<id>` or `public`.
    pub scope: String,
    pub key: String,
    /// Digest of the request body.
    pub body_hash: String,
}

/// One case to create among many (an import's chunk).
#[derive(Debug, Clone, PartialEq)]
pub struct NewCaseWrite {
    pub state: CaseState,
    pub event: CaseEvent,
    pub idem: Option<IdempotencyKey>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Created {
    New(i64),
    /// The key was used before; `same_body` tells whether the body matched.
    Existing {
        id: i64,
        same_body: bool,
    },
}

/// An in-app notification to write with a case change.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct NewNotification {
    pub user_id: i64,
    pub case_id: Option<i64>,
    pub kind: String,
    pub title: String,
    pub body: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Notification {
    pub id: i64,
    pub user_id: i64,
    pub case_id: Option<i64>,
    pub kind: String,
    pub title: String,
    pub body: String,
    pub created_at: Millis,
    pub read_at: Option<Millis>,
}

/// Attachment content written with the event that records it.
#[derive(Debug, Clone, PartialEq)]
pub struct Blob {
    pub id: String,
    pub content_type: String,
    pub bytes: Vec<u8>,
}

/// One atomic change of a case: events appended, state replaced, side records written.
#[derive(Debug, Clone, Copy)]
pub struct Append<'a> {
    pub case_id: i64,
    pub expected_version: i64,
    pub events: &'a [CaseEvent],
    pub state: &'a CaseState,
    pub notifications: &'a [NewNotification],
    pub blobs: &'a [Blob],
    pub now: Millis,
}

/// A case event waiting to be fanned out to webhooks.
#[derive(Debug, Clone, PartialEq)]
pub struct QueuedCaseEvent {
    pub id: i64,
    pub case_id: i64,
    pub seq: u32,
    pub action: String,
}

/// A record from another system a case was made from.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct SourceRecord {
    pub case_id: i64,
    /// The channel's code (`police`, `petition`…).
    pub channel: String,
    /// The record's id in that system.
    pub source_id: String,
    pub received_at: Millis,
}

/// Who is asking: visibility is decided by the domain, expressed here as a filter.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Visibility {
    /// Cases located in this subtree…
    pub scope_path: Option<String>,
    /// …or handled (lead or co-handling) by this unit…
    pub unit_id: Option<i64>,
    /// …or, for citizens, submitted by this user…
    pub submitted_by: Option<i64>,
    /// …or, for experts, the cases this user was added to. All `None` means nothing is visible.
    pub expert_id: Option<i64>,
}

#[derive(Debug, Clone, PartialEq, Default)]
pub struct CaseFilter {
    pub visibility: Visibility,
    pub status: Option<Status>,
    pub dispute_type: Option<DisputeType>,
    pub channel: Option<Channel>,
    pub unit_id: Option<i64>,
    /// Subtree of the case location.
    pub node_path: Option<String>,
    pub light: Option<Light>,
    pub registered_from: Option<Millis>,
    pub registered_to: Option<Millis>,
    pub with_open_supervision: bool,
    /// Only cases with a party whose number (`Sealer::blind`) or name in the village
    /// (`Sealer::blind_text` of `Party::name_place_key`) has this blind index.
    pub party_key: Option<String>,
    /// Keyset pagination: only ids below this one (the list is newest first).
    pub before_id: Option<i64>,
    pub limit: u32,
}

#[derive(Debug, Clone, PartialEq)]
pub struct CasePage {
    pub items: Vec<StoredCase>,
    pub next_before_id: Option<i64>,
}

/// What the text reader found in a case, stored with the reader's version.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredAnalysis {
    pub case_id: i64,
    pub analyser_version: String,
    pub analysed_at: Millis,
    /// The case's registration time (duplicate search looks back from it).
    pub registered_at: Millis,
    /// JSON of `fengqiao_text::Analysis` plus what was filled in and the duplicate candidates.
    pub analysis: String,
    /// JSON of `fengqiao_text::Fingerprint`.
    pub fingerprint: String,
}

/// A case's fingerprint, for the duplicate search.
#[derive(Debug, Clone, PartialEq)]
pub struct FingerprintRow {
    pub case_id: i64,
    pub registered_at: Millis,
    pub fingerprint: String,
}

#[async_trait]
pub trait Store: Send + Sync + 'static {
    /// The keyring that seals personal numbers in this store (and gives their blind index).
    fn sealer(&self) -> &seal::Sealer;
    /// Creates or upgrades the schema.
    async fn migrate(&self) -> Result<()>;

    async fn upsert_jurisdictions(&self, nodes: &[Jurisdiction]) -> Result<()>;
    async fn get_jurisdiction(&self, code: &str) -> Result<Option<Jurisdiction>>;
    /// Children of `parent`, or the roots when `None`.
    async fn list_jurisdictions(&self, parent: Option<&str>) -> Result<Vec<Jurisdiction>>;

    async fn insert_unit(&self, unit: &NewUnit, node_path: &str) -> Result<Unit>;
    async fn set_unit_leader(&self, unit_id: i64, user_id: Option<i64>) -> Result<()>;
    async fn get_unit(&self, id: i64) -> Result<Option<Unit>>;
    /// Units whose node lies in the subtree.
    async fn list_units(&self, scope_path: &str) -> Result<Vec<Unit>>;

    async fn insert_user(&self, user: &NewUser, now: Millis) -> Result<UserRecord>;
    async fn get_user(&self, id: i64) -> Result<Option<UserRecord>>;
    /// Changes a user's name, role, scope, unit or disabled flag; a disabled user's sessions
    /// are ended. `NotFound` for an unknown id.
    async fn update_user(&self, id: i64, update: &UserUpdate) -> Result<UserRecord>;
    async fn get_user_by_username(&self, username: &str) -> Result<Option<UserRecord>>;
    /// Users whose scope lies in the subtree, optionally of one role.
    async fn list_users(&self, scope_path: &str, role: Option<Role>) -> Result<Vec<UserRecord>>;

    async fn insert_session(
        &self,
        token_hash: &str,
        user_id: i64,
        stage: fengqiao_domain::security::SessionStage,
        now: Millis,
        expires_at: Millis,
    ) -> Result<()>;
    /// A live session (not expired, its user not disabled).
    async fn session(&self, token_hash: &str, now: Millis) -> Result<Option<SessionRecord>>;
    /// Moves a session's expiry (sliding idle timeout) and its stage.
    async fn update_session(
        &self,
        token_hash: &str,
        stage: fengqiao_domain::security::SessionStage,
        expires_at: Millis,
    ) -> Result<()>;
    async fn delete_session(&self, token_hash: &str) -> Result<()>;
    /// Ends every session of a user but `keep`.
    async fn delete_user_sessions(&self, user_id: i64, keep: Option<&str>) -> Result<()>;
    /// Sets a user's password hash (and whether the next sign-in must change it).
    async fn set_password(
        &self,
        user_id: i64,
        password_hash: &str,
        must_change: bool,
        now: Millis,
    ) -> Result<()>;
    /// Sets (or, with `None`, removes) a user's TOTP secret and whether it is confirmed.
    async fn set_totp(&self, user_id: i64, secret: Option<&str>, enabled: bool) -> Result<()>;
    /// Records that a TOTP time step was used; false when it (or a later one) already was,
    /// so each code works once.
    async fn use_totp_step(&self, user_id: i64, step: i64) -> Result<bool>;
    /// Appends audit records to the hash chain (numbered and hashed after the last record,
    /// under a lock, in one transaction); returns the last number.
    async fn append_audit(&self, records: &[fengqiao_domain::audit::NewAuditRecord])
        -> Result<i64>;
    /// Audit records after `after_seq`, in order, at most `limit`.
    async fn audit_records(
        &self,
        after_seq: i64,
        limit: i64,
    ) -> Result<Vec<fengqiao_domain::audit::AuditRecord>>;
    /// The last audit record's number and hash.
    async fn audit_head(&self) -> Result<Option<(i64, String)>>;
    async fn put_audit_checkpoint(&self, cp: &fengqiao_domain::audit::Checkpoint) -> Result<()>;
    async fn audit_checkpoints(&self) -> Result<Vec<fengqiao_domain::audit::Checkpoint>>;
    /// Failed sign-ins of an account name.
    async fn login_throttle(
        &self,
        username: &str,
    ) -> Result<Option<fengqiao_domain::security::Throttle>>;
    /// Replaces (or, with `None`, clears) an account name's failures.
    async fn set_login_throttle(
        &self,
        username: &str,
        throttle: Option<&fengqiao_domain::security::Throttle>,
    ) -> Result<()>;

    async fn calendar_days(&self) -> Result<Vec<CalendarDay>>;
    /// Sets (or with `None` removes) the exception for a date.
    async fn set_calendar_day(
        &self,
        date: NaiveDate,
        kind: Option<DayKind>,
        note: &str,
    ) -> Result<()>;
    async fn get_setting(&self, key: &str) -> Result<Option<String>>;
    async fn put_setting(&self, key: &str, value: &str) -> Result<()>;
    /// In one transaction: unless setting `key` already holds `value`, writes the notifications
    /// and sets it. Returns whether it wrote them (a periodic delivery happens once).
    async fn notify_once(
        &self,
        key: &str,
        value: &str,
        notifications: &[NewNotification],
        now: Millis,
    ) -> Result<bool>;

    /// Creates a case from its registration event, honouring the idempotency key atomically.
    async fn create_case(
        &self,
        state: &CaseState,
        event: &CaseEvent,
        idem: Option<&IdempotencyKey>,
        analysis: Option<&StoredAnalysis>,
    ) -> Result<Created>;
    /// Creates many cases, each from its registration event and honouring its key; one
    /// answer per item, in order (an item whose key an earlier item of the call used is
    /// `Existing`). A backend may write them in one transaction, all or nothing; this default
    /// writes them one by one (after an error some may be written: retrying is safe, the
    /// keys recognise them).
    async fn create_cases(&self, items: &[NewCaseWrite]) -> Result<Vec<Created>> {
        let mut out = Vec::with_capacity(items.len());
        for i in items {
            out.push(
                self.create_case(&i.state, &i.event, i.idem.as_ref(), None)
                    .await?,
            );
        }
        Ok(out)
    }
    /// Replaces the body digest an idempotency key remembers (a source record re-sent with
    /// changes, once the case was updated). `NotFound` for an unknown key.
    async fn set_idempotency_body(&self, scope: &str, key: &str, body_hash: &str) -> Result<()>;
    /// The case an idempotency key created.
    async fn find_idempotent_case(&self, scope: &str, key: &str) -> Result<Option<i64>>;
    async fn get_case(&self, id: i64) -> Result<Option<StoredCase>>;
    /// The cases of these ids that exist, in id order.
    async fn get_cases(&self, ids: &[i64]) -> Result<Vec<StoredCase>>;
    async fn find_case_by_tracking_code(&self, code: &str) -> Result<Option<StoredCase>>;
    /// Appends events and replaces the state if the version still matches (else `Conflict`).
    async fn append(&self, change: Append<'_>) -> Result<()>;
    /// Many appends; one answer per change, in order, each as [`Store::append`] would give
    /// (a conflict on one does not stop the others; changes of one case apply in order). A
    /// backend may write them in one transaction; this default writes them one by one.
    async fn append_many(&self, changes: &[Append<'_>]) -> Result<Vec<Result<()>>> {
        let mut out = Vec::with_capacity(changes.len());
        for c in changes {
            out.push(self.append(*c).await);
        }
        Ok(out)
    }
    async fn case_events(&self, case_id: i64) -> Result<Vec<CaseEvent>>;
    async fn list_cases(&self, filter: &CaseFilter) -> Result<CasePage>;
    async fn count_cases(&self, filter: &CaseFilter) -> Result<u64>;
    /// Open cases with a running deadline, by id ascending after `after_id` (for the deadline monitor).
    async fn cases_with_deadline(&self, after_id: i64, limit: u32) -> Result<Vec<StoredCase>>;

    /// Replaces the stored state and its projections of a case whose log has `version` events,
    /// leaving the log untouched (rebuilding derived data from the events).
    async fn replace_state(&self, case_id: i64, version: i64, state: &CaseState) -> Result<()>;

    async fn list_notifications(
        &self,
        user_id: i64,
        unread_only: bool,
        limit: u32,
    ) -> Result<Vec<Notification>>;
    async fn mark_notification_read(&self, user_id: i64, id: i64, now: Millis) -> Result<()>;

    async fn get_blob(&self, id: &str) -> Result<Option<Blob>>;

    /// Writes generated cases with their logs in bulk (demo and benchmarks). Ids are assigned in order.
    async fn bulk_insert_cases(&self, cases: &[(CaseState, Vec<CaseEvent>)]) -> Result<()>;

    /// A consistent copy of the whole database while it is in use.
    async fn backup(&self, dest: &str) -> Result<()>;
    /// Seals every sealed column's values under the newest key of the keyring (key rotation;
    /// also seals values written before encryption). A row written meanwhile keeps its newer
    /// value. The number of values rewritten.
    async fn reseal(&self) -> Result<u64>;
    /// Records a request for an unmasked export (its `id` is ignored); the new id.
    async fn insert_export_request(
        &self,
        req: &fengqiao_domain::export::ExportRequest,
    ) -> Result<i64>;
    async fn get_export_request(
        &self,
        id: i64,
    ) -> Result<Option<fengqiao_domain::export::ExportRequest>>;
    /// The newest requests first (at most `limit`).
    async fn list_export_requests(
        &self,
        limit: u32,
    ) -> Result<Vec<fengqiao_domain::export::ExportRequest>>;
    /// Moves a request from `from` to `to` if it is still at `from` (a decision records who
    /// and when, a download when); `false` when it moved meanwhile.
    async fn set_export_status(
        &self,
        id: i64,
        from: fengqiao_domain::export::ExportStatus,
        to: fengqiao_domain::export::ExportStatus,
        by: Option<i64>,
        at: Millis,
    ) -> Result<bool>;

    /// Inserts or replaces case analyses, in one transaction.
    async fn put_analyses(&self, rows: &[StoredAnalysis]) -> Result<()>;
    async fn get_analysis(&self, case_id: i64) -> Result<Option<StoredAnalysis>>;
    /// Fingerprints of cases registered since `registered_since` with ids above `after_id`,
    /// by id.
    async fn fingerprints(
        &self,
        after_id: i64,
        registered_since: Millis,
        limit: u32,
    ) -> Result<Vec<FingerprintRow>>;
    /// All cases with ids above `after_id`, by id (batch jobs).
    async fn cases_after(&self, after_id: i64, limit: u32) -> Result<Vec<StoredCase>>;
    /// Cases a person has handled past registration (their type is confirmed), by id.
    async fn confirmed_cases(&self, after_id: i64, limit: u32) -> Result<Vec<StoredCase>>;

    /// Every non-zero row of the statistics tables (`domain::stats`), which every write of a
    /// case state keeps current in its own transaction.
    async fn stats_totals(&self) -> Result<fengqiao_domain::stats::Delta>;
    /// Recomputes the statistics from every case state, in one transaction; returns the
    /// number of cases read.
    async fn rebuild_stats(&self) -> Result<u64>;
    /// Writes warnings and the notifications about them in one transaction: `expected_version`
    /// 0 inserts, otherwise the stored version (the log's length) must still be that (else
    /// `Conflict`). Returns the warnings' ids in order.
    async fn save_warnings(
        &self,
        warnings: &[(Warning, i64)],
        notifications: &[NewNotification],
        now: Millis,
    ) -> Result<Vec<i64>>;
    /// Warnings a filter selects, newest first.
    async fn list_warnings(&self, f: &WarningFilter) -> Result<Vec<Warning>>;
    async fn get_warning(&self, id: i64) -> Result<Option<Warning>>;

    /// Sets (replaces) how a user is reached outside the system.
    async fn set_contact(&self, user_id: i64, contact: &Contact) -> Result<()>;
    /// The contacts of these users (users without one are left out).
    async fn contacts(&self, user_ids: &[i64]) -> Result<Vec<(i64, Contact)>>;

    /// Adds law articles, replacing the text of any already held (same law and label);
    /// returns how many were new.
    async fn put_law_articles(
        &self,
        articles: &[fengqiao_domain::law::LawArticle],
        now: Millis,
    ) -> Result<u64>;
    /// Every law article, by law and number.
    async fn law_articles(&self) -> Result<Vec<fengqiao_domain::law::LawArticle>>;
    async fn insert_webhook(&self, input: &WebhookInput, now: Millis) -> Result<Webhook>;
    async fn list_webhooks(&self) -> Result<Vec<Webhook>>;
    /// `NotFound` for an unknown id.
    async fn set_webhook_active(&self, id: i64, active: bool) -> Result<()>;
    /// Notifications not yet fanned out into deliveries, oldest first.
    async fn notifications_to_fan_out(&self, limit: u32) -> Result<Vec<Notification>>;
    /// In one transaction: queues the deliveries (one per notification × medium × target; a
    /// repeat is ignored) and marks the notifications fanned out.
    async fn fan_out(
        &self,
        notification_ids: &[i64],
        deliveries: &[NewDelivery],
        now: Millis,
    ) -> Result<()>;
    /// Case events queued for webhooks (every appended event is), oldest first.
    async fn case_events_to_fan_out(&self, limit: u32) -> Result<Vec<QueuedCaseEvent>>;
    /// In one transaction: queues the deliveries of case events (a repeat is ignored) and
    /// takes the events off the queue.
    async fn fan_out_case_events(
        &self,
        queue_ids: &[i64],
        deliveries: &[NewDelivery],
        now: Millis,
    ) -> Result<()>;
    /// The source records (idempotency keys of scope `channel:<code>`) of these cases.
    async fn case_sources(&self, case_ids: &[i64]) -> Result<Vec<SourceRecord>>;
    /// Claims up to `limit` pending deliveries due at `now`: each is hidden from other claims
    /// until `lease_until` (a sender that dies mid-way leaves it to be tried again then).
    async fn claim_deliveries(
        &self,
        now: Millis,
        lease_until: Millis,
        limit: u32,
    ) -> Result<Vec<Delivery>>;
    /// Records one attempt's outcome (the attempt count rises by one).
    async fn finish_delivery(&self, id: i64, outcome: &AttemptOutcome) -> Result<()>;
    /// Deliveries newest first, optionally of one status.
    async fn list_deliveries(
        &self,
        status: Option<DeliveryStatus>,
        limit: u32,
    ) -> Result<Vec<Delivery>>;
    /// Puts a failed delivery back in the queue, due now. `NotFound` unless it had failed.
    async fn retry_delivery(&self, id: i64, now: Millis) -> Result<()>;
    /// How many deliveries stand in each status.
    async fn delivery_counts(&self) -> Result<Vec<(DeliveryStatus, i64)>>;

    /// The non-zero roll-up rows a query selects (the cockpit's and the reports' figures).
    async fn stats_rows(
        &self,
        q: &StatsQuery,
    ) -> Result<Vec<(fengqiao_domain::stats::RollKey, i64)>>;
}

/// Which warnings a list shows. Visibility: the area lies in `scope_path`'s subtree or the
/// warning is assigned to `unit_id`; both `None` selects nothing.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct WarningFilter {
    pub scope_path: Option<String>,
    pub unit_id: Option<i64>,
    /// Only open, acknowledged or handled warnings.
    pub live_only: bool,
    /// Warnings whose days (first..=last) overlap `from..=to`.
    pub from: Option<NaiveDate>,
    pub to: Option<NaiveDate>,
    pub limit: u32,
}

/// The version a stored warning carries: the length of its log.
pub fn warning_version(w: &Warning) -> i64 {
    w.log.len() as i64
}

/// `,3,7,`: the unit ids as the `unit_ids` column stores them.
pub fn warning_units_column(w: &Warning) -> String {
    let mut s = String::from(",");
    for u in &w.unit_ids {
        s.push_str(&u.to_string());
        s.push(',');
    }
    s
}

/// A selection of roll-up rows: some scopes, one grain, a period range (inclusive; periods of
/// one grain sort as dates do) and a dimension.
#[derive(Debug, Clone, PartialEq)]
pub struct StatsQuery {
    pub scopes: Vec<String>,
    pub grain: fengqiao_domain::stats::Grain,
    pub from: String,
    pub to: String,
    pub dim: DimSel,
}

/// Which dimension values a [`StatsQuery`] selects.
#[derive(Debug, Clone, PartialEq)]
pub enum DimSel {
    /// The totals (`dim = ''`).
    Total,
    /// Every value of one dimension, by its prefix: `t:`, `c:`, `s:` or `l:`.
    Kind(&'static str),
}

impl DimSel {
    /// The dimension's prefix (`''` for totals).
    pub fn prefix(&self) -> &'static str {
        match self {
            DimSel::Total => "",
            DimSel::Kind(p) => p,
        }
    }
}

/// The statistics recounted from every stored state, in memory (the tables are not read or
/// written): what `Store::stats_totals` must equal.
pub async fn recount_stats<S: Store + ?Sized>(store: &S) -> Result<fengqiao_domain::stats::Delta> {
    let mut counted = fengqiao_domain::stats::Delta::default();
    let mut after = 0;
    loop {
        let page = store.cases_after(after, 2000).await?;
        let Some(last) = page.last() else {
            return Ok(counted);
        };
        after = last.id;
        for c in &page {
            counted.add(&c.state, 1);
        }
    }
}
