//! SQLite backend: the embedded default (one binary, one file).
//!
//! Durability: WAL journal, `synchronous=FULL`, foreign keys on. All writes go through a
//! single-connection pool, so write transactions never contend for SQLite's lock; reads use
//! their own pool and see the last committed state (WAL readers never block the writer).
use async_trait::async_trait;
use chrono::NaiveDate;
use fengqiao_domain::access::Role;
use fengqiao_domain::audit::{self, AuditRecord, Checkpoint, NewAuditRecord};
use fengqiao_domain::calendar::{CalendarDay, DayKind};
use fengqiao_domain::case::CaseState;
use fengqiao_domain::jurisdiction::Jurisdiction;
use fengqiao_domain::law::LawArticle;
use fengqiao_domain::outbound::{
    AttemptOutcome, Contact, Delivery, DeliverySource, DeliveryStatus, NewDelivery, Webhook,
    WebhookInput,
};
use fengqiao_domain::security::{SessionStage, Throttle};
use fengqiao_domain::stats;
use fengqiao_domain::time::Millis;
use fengqiao_domain::unit::Unit;
use fengqiao_domain::workflow::CaseEvent;
use fengqiao_store::codec::{self, CaseColumns};
use fengqiao_store::seal::Sealer;
use fengqiao_store::*;
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteRow, SqliteSynchronous,
};
use sqlx::{QueryBuilder, Row, Sqlite, SqliteConnection, SqlitePool, Transaction};
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{mpsc, oneshot};

pub mod floor;

pub struct SqliteStore {
    read: SqlitePool,
    write: SqlitePool,
    /// Case writes go through the group-commit writer task.
    writer: mpsc::Sender<Job>,
    sealer: Arc<Sealer>,
}

fn db(e: sqlx::Error) -> StoreError {
    match &e {
        sqlx::Error::Database(d) if d.is_unique_violation() => StoreError::Duplicate("unique key"),
        sqlx::Error::Database(d) if d.is_foreign_key_violation() => StoreError::NotFound,
        _ => StoreError::Backend(e.to_string()),
    }
}

impl SqliteStore {
    /// Opens (creating if missing) a database: a path or a `sqlite:` URL, sealing personal
    /// numbers with the demo's published keys (tests and the demo).
    pub async fn open(url: &str) -> Result<SqliteStore> {
        SqliteStore::open_sealed(url, Arc::new(Sealer::demo())).await
    }

    /// [`SqliteStore::open`] with the keyring personal numbers are sealed with.
    pub async fn open_sealed(url: &str, sealer: Arc<Sealer>) -> Result<SqliteStore> {
        let opts = SqliteConnectOptions::from_str(&sqlite_url(url))
            .map_err(db)?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Full)
            .foreign_keys(true)
            .busy_timeout(Duration::from_secs(10));
        let write = SqlitePoolOptions::new()
            .max_connections(1)
            .min_connections(1)
            .acquire_timeout(Duration::from_secs(60))
            .connect_with(
                opts.clone()
                    .pragma("cache_size", "-262144")
                    // Savepoints' sub-journals in memory, not in a temporary file.
                    .pragma("temp_store", "memory")
                    // The checkpointer below copies the log into the database on its own
                    // connection (another core); the writer does it only if that falls behind.
                    .pragma("wal_autocheckpoint", WAL_AUTOCHECKPOINT.to_string()),
            )
            .await
            .map_err(db)?;
        let checkpointer = SqlitePoolOptions::new()
            .max_connections(1)
            .connect_with(opts.clone())
            .await
            .map_err(db)?;
        // Readers keep a smaller private cache: it is cleared whenever the writer committed
        // since their last read, and clearing walks the whole cache (measured: 2.6% of the
        // intake run's CPU with 64 MiB).
        let read = SqlitePoolOptions::new()
            .max_connections(8)
            .acquire_timeout(Duration::from_secs(60))
            .connect_with(opts.pragma("cache_size", "-16384"))
            .await
            .map_err(db)?;
        let (writer, rx) = mpsc::channel(4096);
        let (committed, commits) = tokio::sync::watch::channel(());
        // The writer on a thread of its own: busy workers (reading texts, searching
        // duplicates) never keep it, and so SQLite's thread, waiting.
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| StoreError::Backend(format!("writer thread: {e}")))?;
        let pool = write.clone();
        let sl = sealer.clone();
        std::thread::Builder::new()
            .name("fengqiao-writer".into())
            .spawn(move || {
                runtime.block_on(async move {
                    tokio::spawn(checkpoint_loop(checkpointer, commits));
                    writer_loop(pool, rx, sl, committed).await;
                });
            })
            .map_err(|e| StoreError::Backend(format!("writer thread: {e}")))?;
        Ok(SqliteStore {
            read,
            write,
            writer,
            sealer,
        })
    }

    /// Hands a case write to the group-commit writer and waits for its committed result.
    async fn submit<T>(&self, job: Job, answer: oneshot::Receiver<Result<T>>) -> Result<T> {
        let stopped = || StoreError::Backend("writer stopped".into());
        self.writer.send(job).await.map_err(|_| stopped())?;
        answer.await.map_err(|_| stopped())?
    }

    async fn begin(&self) -> Result<Transaction<'static, Sqlite>> {
        self.write.begin().await.map_err(db)
    }
}

/// Bounds of the subtree `prefix` (a path ending in '/') as a half-open range, so SQLite's
/// index serves the scope test: every path in it starts with `prefix`.
fn subtree_range(prefix: &str) -> (String, String) {
    let mut upper = prefix.trim_end_matches('/').to_string();
    upper.push('0'); // '0' sorts right after '/'
    (prefix.to_string(), upper)
}

fn user_row(r: &SqliteRow, sl: &Sealer) -> Result<UserRecord> {
    Ok(UserRecord {
        id: r.get("id"),
        username: r.get("username"),
        display_name: r.get("display_name"),
        password_hash: r.get("password_hash"),
        role: codec::role(r.get("role"))?,
        scope_code: r.get("scope_code"),
        scope_path: r.get("scope_path"),
        unit_id: r.get("unit_id"),
        disabled: r.get::<i64, _>("disabled") != 0,
        created_at: r.get("created_at"),
        password_changed_at: r.get("password_changed_at"),
        must_change_password: r.get::<i64, _>("must_change_password") != 0,
        totp_secret: codec::totp_secret(r.get("totp_secret"), sl)?,
        totp_enabled: r.get::<i64, _>("totp_enabled") != 0,
        totp_last_step: r.get("totp_last_step"),
    })
}

fn unit_row(r: &SqliteRow) -> Result<Unit> {
    Ok(Unit {
        id: r.get("id"),
        name: r.get("name"),
        kind: codec::unit_kind(r.get("kind"))?,
        node_code: r.get("node_code"),
        specialty: r.get("specialty"),
        leader_user_id: r.get("leader_user_id"),
    })
}

fn node_row(r: &SqliteRow) -> Result<Jurisdiction> {
    let lon: Option<f64> = r.get("centroid_lon");
    let lat: Option<f64> = r.get("centroid_lat");
    Ok(Jurisdiction {
        code: r.get("code"),
        name: r.get("name"),
        level: codec::level(r.get("level"))?,
        parent_code: r.get("parent_code"),
        path: r.get("path"),
        centroid: lon.zip(lat).map(|(a, b)| [a, b]),
        boundary: codec::boundary_from_text(r.get("boundary"))?,
    })
}

fn case_row(r: &SqliteRow, sl: &Sealer) -> Result<StoredCase> {
    Ok(StoredCase {
        id: r.get("id"),
        version: r.get("version"),
        state: codec::state_from_json(r.get("state"), sl)?,
    })
}

const USER_COLS: &str =
    "id, username, display_name, password_hash, role, scope_code, scope_path, unit_id, disabled, created_at, \
     password_changed_at, must_change_password, totp_secret, totp_enabled, totp_last_step";

async fn insert_case_row(
    tx: &mut SqliteConnection,
    stats_acc: &mut stats::Delta,
    state: &CaseState,
    c: &CaseColumns,
    version: i64,
    now: Millis,
) -> Result<i64> {
    let id: i64 = sqlx::query_scalar(
        "INSERT INTO cases (tracking_code, version, status, channel, dispute_type, node_path, lead_unit_id, light, \
         due_date, open_supervisions, submitted_by, registered_at, updated_at, state) \
         VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?) RETURNING id",
    )
    .bind(&c.tracking_code)
    .bind(version)
    .bind(c.status)
    .bind(c.channel)
    .bind(c.dispute_type)
    .bind(&c.node_path)
    .bind(c.lead_unit_id)
    .bind(c.light)
    .bind(&c.due_date)
    .bind(c.open_supervisions)
    .bind(c.submitted_by)
    .bind(c.registered_at)
    .bind(now)
    .bind(&c.state_json)
    .fetch_one(&mut *tx)
    .await
    .map_err(db)?;
    write_case_people(tx, &[(id, c)]).await?;
    stats_acc.add(state, 1);
    Ok(id)
}

/// Adds a change to the statistics' roll-up rows. Keys are visited in order (the map is
/// sorted), several rows per statement. Writers accumulate their changes and apply them once
/// per transaction: the group commit turns a batch of intakes into one update per touched row.
async fn apply_stats(tx: &mut SqliteConnection, d: &stats::Delta) -> Result<()> {
    let rows: Vec<_> = d.rows.iter().filter(|(_, v)| **v != 0).collect();
    for chunk in rows.chunks(400) {
        let mut sql = String::from(
            "INSERT INTO stats_rollup (scope, grain, period, dim, metric, value) VALUES ",
        );
        for i in 0..chunk.len() {
            sql.push_str(if i == 0 {
                "(?,?,?,?,?,?)"
            } else {
                ",(?,?,?,?,?,?)"
            });
        }
        sql.push_str(
            " ON CONFLICT (scope, grain, period, dim, metric) \
             DO UPDATE SET value = stats_rollup.value + excluded.value",
        );
        let mut q = sqlx::query(&sql);
        for (k, v) in chunk {
            q = q
                .bind(&k.scope)
                .bind(codec::grain_column(k.grain, &k.dim))
                .bind(&k.period)
                .bind(&k.dim)
                .bind(&k.metric)
                .bind(**v);
        }
        q.execute(&mut *tx).await.map_err(db)?;
    }
    Ok(())
}

/// Writes in-app notifications in a transaction.
async fn insert_notifications(
    tx: &mut SqliteConnection,
    notifications: &[NewNotification],
    now: Millis,
) -> Result<()> {
    for n in notifications {
        sqlx::query("INSERT INTO notifications (user_id, case_id, kind, title, body, created_at) VALUES (?,?,?,?,?,?)")
            .bind(n.user_id)
            .bind(n.case_id)
            .bind(&n.kind)
            .bind(&n.title)
            .bind(&n.body)
            .bind(now)
            .execute(&mut *tx)
            .await
            .map_err(db)?;
    }
    Ok(())
}

/// Writes the `case_units`, `case_experts` and `party_keys` projections of cases, several
/// rows a statement (one round trip to SQLite's thread per statement, not per row).
async fn write_case_people(tx: &mut SqliteConnection, cases: &[(i64, &CaseColumns)]) -> Result<()> {
    let units: Vec<(i64, i64, i64)> = cases
        .iter()
        .flat_map(|(id, c)| c.units.iter().map(|(u, lead)| (*id, *u, i64::from(*lead))))
        .collect();
    for chunk in units.chunks(ROWS_PER_STATEMENT) {
        let mut qb =
            QueryBuilder::<Sqlite>::new("INSERT INTO case_units (case_id, unit_id, lead) ");
        qb.push_values(chunk, |mut b, (id, u, lead)| {
            b.push_bind(*id).push_bind(*u).push_bind(*lead);
        });
        qb.build().execute(&mut *tx).await.map_err(db)?;
    }
    let experts: Vec<(i64, i64)> = cases
        .iter()
        .flat_map(|(id, c)| c.experts.iter().map(|u| (*id, *u)))
        .collect();
    for chunk in experts.chunks(ROWS_PER_STATEMENT) {
        let mut qb = QueryBuilder::<Sqlite>::new("INSERT INTO case_experts (case_id, user_id) ");
        qb.push_values(chunk, |mut b, (id, u)| {
            b.push_bind(*id).push_bind(*u);
        });
        qb.build().execute(&mut *tx).await.map_err(db)?;
    }
    let keys: Vec<(i64, &str)> = cases
        .iter()
        .flat_map(|(id, c)| c.party_keys.iter().map(|k| (*id, k.as_str())))
        .collect();
    write_party_keys(tx, &keys).await
}

/// Writes rows of the `party_keys` projection, several a statement.
async fn write_party_keys(tx: &mut SqliteConnection, keys: &[(i64, &str)]) -> Result<()> {
    for chunk in keys.chunks(ROWS_PER_STATEMENT) {
        let mut qb = QueryBuilder::<Sqlite>::new("INSERT INTO party_keys (blind, case_id) ");
        qb.push_values(chunk, |mut b, (id, k)| {
            b.push_bind(*k).push_bind(*id);
        });
        qb.push(" ON CONFLICT DO NOTHING");
        qb.build().execute(&mut *tx).await.map_err(db)?;
    }
    Ok(())
}

/// Indexes the parties of cases stored before the `party_keys` table (once: when it is empty
/// and cases exist), a thousand cases a transaction.
async fn backfill_party_keys(pool: &SqlitePool, sl: &Sealer) -> Result<()> {
    let indexed: bool = sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM party_keys)")
        .fetch_one(pool)
        .await
        .map_err(db)?;
    if indexed {
        return Ok(());
    }
    let mut after = 0i64;
    loop {
        let rows: Vec<(i64, String)> =
            sqlx::query_as("SELECT id, state FROM cases WHERE id > ? ORDER BY id LIMIT 1000")
                .bind(after)
                .fetch_all(pool)
                .await
                .map_err(db)?;
        let Some((last, _)) = rows.last() else {
            return Ok(());
        };
        after = *last;
        let mut tx = pool.begin().await.map_err(db)?;
        let mut keys: Vec<(i64, String)> = Vec::new();
        for (id, state) in &rows {
            let state = codec::state_from_json(state, sl)?;
            keys.extend(codec::party_keys(&state, sl).into_iter().map(|k| (*id, k)));
        }
        let keys: Vec<(i64, &str)> = keys.iter().map(|(id, k)| (*id, k.as_str())).collect();
        write_party_keys(&mut tx, &keys).await?;
        tx.commit().await.map_err(db)?;
    }
}

/// Queues appended events for the webhooks that follow cases (fanned out by the courier).
async fn queue_for_webhooks(
    tx: &mut SqliteConnection,
    case_id: i64,
    events: &[CaseEvent],
) -> Result<()> {
    for e in events {
        sqlx::query("INSERT INTO event_outbox (case_id, seq, action) VALUES (?,?,?)")
            .bind(case_id)
            .bind(i64::from(e.seq))
            .bind(e.kind.name())
            .execute(&mut *tx)
            .await
            .map_err(db)?;
    }
    Ok(())
}

async fn insert_events(
    tx: &mut SqliteConnection,
    case_id: i64,
    events: &[CaseEvent],
    sl: &Sealer,
) -> Result<()> {
    for e in events {
        sqlx::query("INSERT INTO case_events (case_id, seq, at, actor_id, action, payload) VALUES (?,?,?,?,?,?)")
            .bind(case_id)
            .bind(i64::from(e.seq))
            .bind(e.at)
            .bind(e.actor_id)
            .bind(e.kind.name())
            .bind(codec::event_payload(&e.kind, sl)?)
            .execute(&mut *tx)
            .await
            .map_err(db)?;
    }
    Ok(())
}

async fn create_in(
    tx: &mut SqliteConnection,
    stats_acc: &mut stats::Delta,
    state: &CaseState,
    event: &CaseEvent,
    idem: Option<&IdempotencyKey>,
    analysis: Option<&StoredAnalysis>,
    sl: &Sealer,
) -> Result<Created> {
    let cols = codec::case_columns(state, sl)?;
    if let Some(k) = idem {
        let prior: Option<(i64, String)> = sqlx::query_as(
            "SELECT case_id, body_hash FROM idempotency_keys WHERE scope = ? AND key = ?",
        )
        .bind(&k.scope)
        .bind(&k.key)
        .fetch_optional(&mut *tx)
        .await
        .map_err(db)?;
        if let Some((id, hash)) = prior {
            return Ok(Created::Existing {
                id,
                same_body: hash == k.body_hash,
            });
        }
    }
    let id = insert_case_row(tx, stats_acc, state, &cols, 1, event.at).await?;
    insert_events(tx, id, std::slice::from_ref(event), sl).await?;
    queue_for_webhooks(tx, id, std::slice::from_ref(event)).await?;
    if let Some(a) = analysis {
        insert_analysis(tx, id, &codec::sealed_analysis(a, sl)?).await?;
    }
    if let Some(k) = idem {
        sqlx::query("INSERT INTO idempotency_keys (scope, key, body_hash, case_id, created_at) VALUES (?,?,?,?,?)")
                .bind(&k.scope)
                .bind(&k.key)
                .bind(&k.body_hash)
                .bind(id)
                .bind(event.at)
                .execute(&mut *tx)
                .await
                .map_err(db)?;
    }
    Ok(Created::New(id))
}

/// Replaces the state and projected columns of a case whose version is `expected`; `now`
/// (when given) becomes `updated_at`. `Conflict` when the version moved, `NotFound` when no case.
async fn update_case_row(
    tx: &mut SqliteConnection,
    stats_acc: &mut stats::Delta,
    case_id: i64,
    (expected, new_version): (i64, i64),
    (state, c): (&CaseState, &CaseColumns),
    now: Option<Millis>,
    sl: &Sealer,
) -> Result<()> {
    // The state being replaced, for the statistics' change.
    let old: Option<String> =
        sqlx::query_scalar("SELECT state FROM cases WHERE id = ? AND version = ?")
            .bind(case_id)
            .bind(expected)
            .fetch_optional(&mut *tx)
            .await
            .map_err(db)?;
    let old = old
        .as_deref()
        .map(|s| codec::state_from_json(s, sl))
        .transpose()?;
    let r = sqlx::query(
        "UPDATE cases SET version = ?, status = ?, dispute_type = ?, node_path = ?, lead_unit_id = ?, light = ?, \
         due_date = ?, open_supervisions = ?, updated_at = COALESCE(?, updated_at), state = ? WHERE id = ? AND version = ?",
    )
    .bind(new_version)
    .bind(c.status)
    .bind(c.dispute_type)
    .bind(&c.node_path)
    .bind(c.lead_unit_id)
    .bind(c.light)
    .bind(&c.due_date)
    .bind(c.open_supervisions)
    .bind(now)
    .bind(&c.state_json)
    .bind(case_id)
    .bind(expected)
    .execute(&mut *tx)
    .await
    .map_err(db)?;
    if r.rows_affected() == 1 {
        match &old {
            Some(old) => stats_acc.replace(old, state),
            None => stats_acc.add(state, 1),
        }
        return Ok(());
    }
    let exists: Option<i64> = sqlx::query_scalar("SELECT id FROM cases WHERE id = ?")
        .bind(case_id)
        .fetch_optional(&mut *tx)
        .await
        .map_err(db)?;
    Err(if exists.is_some() {
        StoreError::Conflict
    } else {
        StoreError::NotFound
    })
}

/// Rewrites the projections of who a case is with: `case_units`, `case_experts`, `party_keys`.
async fn rewrite_case_people(
    tx: &mut SqliteConnection,
    case_id: i64,
    c: &CaseColumns,
) -> Result<()> {
    for table in ["case_units", "case_experts", "party_keys"] {
        sqlx::query(&format!("DELETE FROM {table} WHERE case_id = ?"))
            .bind(case_id)
            .execute(&mut *tx)
            .await
            .map_err(db)?;
    }
    write_case_people(tx, &[(case_id, c)]).await
}

async fn append_in(
    tx: &mut SqliteConnection,
    stats_acc: &mut stats::Delta,
    ch: &OwnedAppend,
    sl: &Sealer,
) -> Result<()> {
    let c = codec::case_columns(&ch.state, sl)?;
    let new_version = ch.expected_version + ch.events.len() as i64;
    update_case_row(
        tx,
        stats_acc,
        ch.case_id,
        (ch.expected_version, new_version),
        (&ch.state, &c),
        Some(ch.now),
        sl,
    )
    .await?;
    if ch
        .events
        .iter()
        .any(|e| codec::rewrites_case_people(&e.kind))
    {
        rewrite_case_people(tx, ch.case_id, &c).await?;
    }
    insert_events(tx, ch.case_id, &ch.events, sl).await?;
    queue_for_webhooks(tx, ch.case_id, &ch.events).await?;
    insert_notifications(tx, &ch.notifications, ch.now).await?;
    insert_blobs(tx, &ch.blobs).await
}

async fn insert_blobs(tx: &mut SqliteConnection, blobs: &[Blob]) -> Result<()> {
    for b in blobs {
        sqlx::query(
            "INSERT INTO blobs (id, content_type, bytes) VALUES (?,?,?) ON CONFLICT (id) DO NOTHING",
        )
        .bind(&b.id)
        .bind(&b.content_type)
        .bind(&b.bytes)
        .execute(&mut *tx)
        .await
        .map_err(db)?;
    }
    Ok(())
}

/// An owned [`Append`], to hand to the writer task.
struct OwnedAppend {
    case_id: i64,
    expected_version: i64,
    events: Vec<CaseEvent>,
    state: CaseState,
    notifications: Vec<NewNotification>,
    blobs: Vec<Blob>,
    now: Millis,
}

impl From<Append<'_>> for OwnedAppend {
    fn from(ch: Append<'_>) -> Self {
        OwnedAppend {
            case_id: ch.case_id,
            expected_version: ch.expected_version,
            events: ch.events.to_vec(),
            state: ch.state.clone(),
            notifications: ch.notifications.to_vec(),
            blobs: ch.blobs.to_vec(),
            now: ch.now,
        }
    }
}

/// A case write waiting for the group commit.
enum Job {
    Create {
        state: Box<CaseState>,
        event: Box<CaseEvent>,
        idem: Option<IdempotencyKey>,
        analysis: Option<Box<StoredAnalysis>>,
        reply: oneshot::Sender<Result<Created>>,
    },
    Append {
        change: Box<OwnedAppend>,
        reply: oneshot::Sender<Result<()>>,
    },
    /// Rows sealed already.
    Analyses {
        rows: Vec<StoredAnalysis>,
        reply: oneshot::Sender<Result<()>>,
    },
    CreateMany {
        items: Vec<NewCaseWrite>,
        /// Each item's columns and event payload, and the statistics' change if every item is
        /// new (made before the writer: see [`before_writer`]).
        sealed: Vec<SealedNew>,
        delta: stats::Delta,
        reply: oneshot::Sender<Result<Vec<Created>>>,
    },
    AppendMany {
        changes: Vec<OwnedAppend>,
        sealed: Vec<SealedChange>,
        reply: oneshot::Sender<Result<Vec<Result<()>>>>,
    },
}

/// A new case's columns and its registration event's payload, sealed.
struct SealedNew {
    cols: CaseColumns,
    payload: String,
}

/// A change's new columns and its events' payloads, sealed.
struct SealedChange {
    cols: CaseColumns,
    payloads: Vec<String>,
}

/// Work done before a write reaches the single writer, on every core: `f` over parts of
/// `items` (sealing personal members, serialising, the statistics' change), the parts'
/// results in order. The writer then only writes.
async fn before_writer<T, R, F>(items: Vec<T>, f: F) -> Result<(Vec<T>, Vec<R>)>
where
    T: Send + Sync + 'static,
    R: Send + 'static,
    F: Fn(&[T]) -> Result<R> + Send + Sync + 'static,
{
    tokio::task::spawn_blocking(move || {
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        let parts: Vec<Result<R>> = if items.len() < 64 || cores == 1 {
            vec![f(&items)]
        } else {
            let per = items.len().div_ceil(cores);
            std::thread::scope(|s| {
                let running: Vec<_> = items.chunks(per).map(|c| s.spawn(|| f(c))).collect();
                running
                    .into_iter()
                    .map(|h| {
                        h.join()
                            .unwrap_or_else(|_| Err(StoreError::Backend("sealing failed".into())))
                    })
                    .collect()
            })
        };
        let parts = parts.into_iter().collect::<Result<Vec<R>>>()?;
        Ok((items, parts))
    })
    .await
    .map_err(|e| StoreError::Backend(format!("sealing: {e}")))?
}

/// What a job wrote, for its caller.
enum JobOut {
    Nothing,
    One(Created),
    Many(Vec<Created>),
    Each(Vec<Result<()>>),
}

/// Group commit: the writer takes every case write waiting, runs each in its own savepoint
/// (one failing write does not undo the others) inside one transaction, commits once — one
/// fsync for the group — and only then answers each caller. Durability is unchanged: no
/// caller hears "done" before the commit that holds its write.
async fn writer_loop(
    pool: SqlitePool,
    mut rx: mpsc::Receiver<Job>,
    sealer: Arc<Sealer>,
    wrote: tokio::sync::watch::Sender<()>,
) {
    let sl: &Sealer = &sealer;
    while let Some(first) = rx.recv().await {
        let mut jobs = vec![first];
        while jobs.len() < 256 {
            match rx.try_recv() {
                Ok(j) => jobs.push(j),
                Err(_) => break,
            }
        }
        let mut results: Vec<Result<JobOut>> = Vec::with_capacity(jobs.len());
        let committed = async {
            let mut tx = pool.begin().await.map_err(db)?;
            // The statistics' change of the jobs that succeed, applied once before the commit.
            let mut batch_stats = stats::Delta::default();
            if let [job] = &jobs[..] {
                // One job: no savepoint (its sub-journal copies every page the job touches);
                // a failure rolls the transaction back.
                let r = run_job(&mut tx, &mut batch_stats, job, sl).await;
                let failed = r.is_err();
                results.push(r);
                if failed {
                    return tx.rollback().await.map_err(db);
                }
            } else {
                for job in &jobs {
                    let mut sp = sqlx::Connection::begin(&mut *tx).await.map_err(db)?;
                    let mut job_stats = stats::Delta::default();
                    let r = run_job(&mut sp, &mut job_stats, job, sl).await;
                    match r {
                        Ok(_) => {
                            sp.commit().await.map_err(db)?;
                            batch_stats.merge(&job_stats);
                        }
                        Err(_) => sp.rollback().await.map_err(db)?,
                    }
                    results.push(r);
                }
            }
            apply_stats(&mut tx, &batch_stats).await?;
            tx.commit().await.map_err(db)
        }
        .await;
        // Wakes the checkpointer (no receiver: nobody to wake).
        let _ = wrote.send(());
        for (i, job) in jobs.into_iter().enumerate() {
            let r = match &committed {
                Ok(()) => results
                    .get_mut(i)
                    .map(|r| std::mem::replace(r, Ok(JobOut::Nothing)))
                    .unwrap_or(Ok(JobOut::Nothing)),
                Err(e) => Err(StoreError::Backend(e.to_string())),
            };
            match job {
                Job::Create { reply, .. } => {
                    let _ = reply.send(r.and_then(|c| match c {
                        JobOut::One(c) => Ok(c),
                        _ => Err(StoreError::Backend("no result".into())),
                    }));
                }
                Job::CreateMany { reply, .. } => {
                    let _ = reply.send(r.and_then(|c| match c {
                        JobOut::Many(c) => Ok(c),
                        _ => Err(StoreError::Backend("no result".into())),
                    }));
                }
                Job::AppendMany { reply, .. } => {
                    let _ = reply.send(r.and_then(|c| match c {
                        JobOut::Each(c) => Ok(c),
                        _ => Err(StoreError::Backend("no result".into())),
                    }));
                }
                Job::Append { reply, .. } | Job::Analyses { reply, .. } => {
                    let _ = reply.send(r.map(|_| ()));
                }
            }
        }
    }
}

/// A path or a `sqlite:` URL, as a `sqlite:` URL.
pub(crate) fn sqlite_url(path: &str) -> String {
    if path.starts_with("sqlite:") {
        path.to_string()
    } else {
        format!("sqlite://{path}")
    }
}

/// Pages the log may hold before the writer checkpoints it itself (4 KiB pages: 64 MiB).
pub(crate) const WAL_AUTOCHECKPOINT: u32 = 16_384;

/// Copies the write-ahead log into the database after writes, on its own connection so the
/// writer does not (a passive checkpoint: it never blocks a reader or the writer). Ends with
/// the writer.
async fn checkpoint_loop(pool: SqlitePool, mut commits: tokio::sync::watch::Receiver<()>) {
    while commits.changed().await.is_ok() {
        if let Err(e) = sqlx::query("PRAGMA wal_checkpoint(PASSIVE)")
            .execute(&pool)
            .await
        {
            tracing::warn!(error = %e, "checkpoint failed; the writer checkpoints instead");
        }
        // At most a few checkpoints a second: each copies whatever the log holds by then.
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    pool.close().await;
}

/// One job of a group commit, in `tx` (the group's transaction or a savepoint in it).
async fn run_job(
    tx: &mut Transaction<'_, Sqlite>,
    job_stats: &mut stats::Delta,
    job: &Job,
    sl: &Sealer,
) -> Result<JobOut> {
    match job {
        Job::Create {
            state,
            event,
            idem,
            analysis,
            ..
        } => create_in(
            tx,
            job_stats,
            state,
            event,
            idem.as_ref(),
            analysis.as_deref(),
            sl,
        )
        .await
        .map(JobOut::One),
        Job::Append { change, .. } => append_in(tx, job_stats, change, sl)
            .await
            .map(|()| JobOut::Nothing),
        Job::Analyses { rows, .. } => analyses_in(tx, rows).await.map(|()| JobOut::Nothing),
        Job::CreateMany {
            items,
            sealed,
            delta,
            ..
        } => create_many_in(tx, job_stats, (items, sealed, delta))
            .await
            .map(JobOut::Many),
        Job::AppendMany {
            changes, sealed, ..
        } => append_many_in(tx, job_stats, changes, sealed, sl)
            .await
            .map(JobOut::Each),
    }
}

/// Writes sealed analyses.
async fn analyses_in(tx: &mut Transaction<'_, Sqlite>, rows: &[StoredAnalysis]) -> Result<()> {
    // Several rows a statement (one round trip to SQLite's thread for each).
    for chunk in rows.chunks(ROWS_PER_STATEMENT) {
        let mut qb = QueryBuilder::<Sqlite>::new(
            "INSERT INTO case_analyses (case_id, analyser_version, analysed_at, registered_at, analysis, fingerprint) ",
        );
        qb.push_values(chunk, |mut b, a: &StoredAnalysis| {
            b.push_bind(a.case_id)
                .push_bind(&a.analyser_version)
                .push_bind(a.analysed_at)
                .push_bind(a.registered_at)
                .push_bind(&a.analysis)
                .push_bind(&a.fingerprint);
        });
        qb.push(
            " ON CONFLICT (case_id) DO UPDATE SET \
             analyser_version = excluded.analyser_version, analysed_at = excluded.analysed_at, \
             analysis = excluded.analysis, fingerprint = excluded.fingerprint",
        );
        qb.build().execute(&mut **tx).await.map_err(db)?;
    }
    Ok(())
}

/// Events of several cases, and their webhook queue entries, several rows a statement.
async fn insert_events_many(
    tx: &mut SqliteConnection,
    events: &[(i64, &CaseEvent, &str)],
) -> Result<()> {
    for rows in events.chunks(ROWS_PER_STATEMENT) {
        let mut qb = QueryBuilder::<Sqlite>::new(
            "INSERT INTO case_events (case_id, seq, at, actor_id, action, payload) ",
        );
        qb.push_values(rows, |mut b, (id, e, payload)| {
            b.push_bind(*id)
                .push_bind(i64::from(e.seq))
                .push_bind(e.at)
                .push_bind(e.actor_id)
                .push_bind(e.kind.name())
                .push_bind(*payload);
        });
        qb.build().execute(&mut *tx).await.map_err(db)?;
        let mut qb =
            QueryBuilder::<Sqlite>::new("INSERT INTO event_outbox (case_id, seq, action) ");
        qb.push_values(rows, |mut b, (id, e, _)| {
            b.push_bind(*id)
                .push_bind(i64::from(e.seq))
                .push_bind(e.kind.name());
        });
        qb.build().execute(&mut *tx).await.map_err(db)?;
    }
    Ok(())
}

/// The cases of some ids (at most [`ROWS_PER_STATEMENT`]), as `case_row` reads them.
fn cases_by_id(ids: &[i64]) -> QueryBuilder<'_, Sqlite> {
    let mut qb = QueryBuilder::<Sqlite>::new("SELECT id, version, state FROM cases WHERE id IN (");
    let mut sep = qb.separated(",");
    for id in ids {
        sep.push_bind(*id);
    }
    qb.push(")");
    qb
}

/// Many appends in few statements: every case's version and state read at once, each change
/// checked against them in order (so several changes of one case chain), then the new rows
/// written several a statement. A conflicting or missing case is that change's answer only.
async fn append_many_in(
    tx: &mut SqliteConnection,
    stats_acc: &mut stats::Delta,
    changes: &[OwnedAppend],
    sealed: &[SealedChange],
    sl: &Sealer,
) -> Result<Vec<Result<()>>> {
    use std::collections::HashMap;
    let mut ids: Vec<i64> = changes.iter().map(|c| c.case_id).collect();
    ids.sort_unstable();
    ids.dedup();
    // Each case's version and state as stored, then as the changes apply.
    let mut stored: Vec<StoredCase> = Vec::with_capacity(ids.len());
    for chunk in ids.chunks(ROWS_PER_STATEMENT) {
        for r in cases_by_id(chunk)
            .build()
            .fetch_all(&mut *tx)
            .await
            .map_err(db)?
        {
            stored.push(case_row(&r, sl)?);
        }
    }
    let mut current: HashMap<i64, (i64, &CaseState)> = stored
        .iter()
        .map(|c| (c.id, (c.version, &c.state)))
        .collect();
    let mut answers = Vec::with_capacity(changes.len());
    // The row each case ends with, and where it is in `rows`.
    let mut rows: Vec<(i64, i64, &CaseColumns, Millis)> = Vec::new();
    let mut row_of: HashMap<i64, usize> = HashMap::new();
    let mut units: Vec<i64> = Vec::new();
    let mut events: Vec<(i64, &CaseEvent, &str)> = Vec::new();
    for (ch, sealed) in changes.iter().zip(sealed) {
        let Some((version, state)) = current.get_mut(&ch.case_id) else {
            answers.push(Err(StoreError::NotFound));
            continue;
        };
        if *version != ch.expected_version {
            answers.push(Err(StoreError::Conflict));
            continue;
        }
        stats_acc.replace(state, &ch.state);
        *version = ch.expected_version + ch.events.len() as i64;
        *state = &ch.state;
        let row = (ch.case_id, *version, &sealed.cols, ch.now);
        match row_of.get(&ch.case_id) {
            Some(&i) => rows[i] = row,
            None => {
                row_of.insert(ch.case_id, rows.len());
                rows.push(row);
            }
        }
        if ch
            .events
            .iter()
            .any(|e| codec::rewrites_case_people(&e.kind))
        {
            units.push(ch.case_id);
        }
        events.extend(
            ch.events
                .iter()
                .zip(&sealed.payloads)
                .map(|(e, p)| (ch.case_id, e, p.as_str())),
        );
        insert_notifications(tx, &ch.notifications, ch.now).await?;
        insert_blobs(tx, &ch.blobs).await?;
        answers.push(Ok(()));
    }
    for chunk in rows.chunks(ROWS_PER_STATEMENT) {
        let mut qb = QueryBuilder::<Sqlite>::new(
            "UPDATE cases SET version = v.column2, status = v.column3, dispute_type = v.column4, \
             node_path = v.column5, lead_unit_id = v.column6, light = v.column7, due_date = v.column8, \
             open_supervisions = v.column9, updated_at = v.column10, state = v.column11 FROM (",
        );
        qb.push_values(chunk, |mut b, (id, version, c, now)| {
            b.push_bind(*id)
                .push_bind(*version)
                .push_bind(c.status)
                .push_bind(c.dispute_type)
                .push_bind(&c.node_path)
                .push_bind(c.lead_unit_id)
                .push_bind(c.light)
                .push_bind(&c.due_date)
                .push_bind(c.open_supervisions)
                .push_bind(*now)
                .push_bind(&c.state_json);
        });
        qb.push(") AS v WHERE cases.id = v.column1");
        qb.build().execute(&mut *tx).await.map_err(db)?;
    }
    units.sort_unstable();
    units.dedup();
    for id in units {
        rewrite_case_people(tx, id, rows[row_of[&id]].2).await?;
    }
    insert_events_many(tx, &events).await?;
    Ok(answers)
}

/// Rows a multi-row statement writes (SQLite takes up to 32,766 parameters).
const ROWS_PER_STATEMENT: usize = 500;

/// Many registrations in few statements: the keys already used are looked up at once, then
/// the new cases, their events, webhook queue entries and keys are written several rows a
/// statement. A tracking-code collision fails the whole call (the caller falls back).
async fn create_many_in(
    tx: &mut SqliteConnection,
    stats_acc: &mut stats::Delta,
    (items, sealed, delta): (&[NewCaseWrite], &[SealedNew], &stats::Delta),
) -> Result<Vec<Created>> {
    use std::collections::HashMap;
    // Keys used before this call, by scope.
    let mut known: HashMap<(String, String), (i64, String)> = HashMap::new();
    let mut by_scope: HashMap<&str, Vec<&str>> = HashMap::new();
    for k in items.iter().filter_map(|i| i.idem.as_ref()) {
        by_scope.entry(&k.scope).or_default().push(&k.key);
    }
    for (scope, keys) in by_scope {
        for chunk in keys.chunks(ROWS_PER_STATEMENT) {
            let mut qb = QueryBuilder::<Sqlite>::new(
                "SELECT key, case_id, body_hash FROM idempotency_keys WHERE scope = ",
            );
            qb.push_bind(scope).push(" AND key IN (");
            let mut sep = qb.separated(",");
            for k in chunk {
                sep.push_bind(*k);
            }
            qb.push(")");
            let rows: Vec<(String, i64, String)> =
                qb.build_query_as().fetch_all(&mut *tx).await.map_err(db)?;
            for (key, id, hash) in rows {
                known.insert((scope.to_string(), key), (id, hash));
            }
        }
    }
    // Which items are new (the first of a key in this call), and what the others answer.
    let mut answers: Vec<Option<Created>> = vec![None; items.len()];
    let mut first_of: HashMap<(String, String), usize> = HashMap::new();
    let mut fresh: Vec<usize> = Vec::new();
    for (i, item) in items.iter().enumerate() {
        if let Some(k) = &item.idem {
            let id = (k.scope.clone(), k.key.clone());
            if let Some((case, hash)) = known.get(&id) {
                answers[i] = Some(Created::Existing {
                    id: *case,
                    same_body: *hash == k.body_hash,
                });
                continue;
            }
            if let Some(j) = first_of.get(&id) {
                // Answered below, once the first has its id.
                answers[i] = Some(Created::Existing {
                    id: -(*j as i64) - 1,
                    same_body: items[*j].idem.as_ref().map(|x| &x.body_hash) == Some(&k.body_hash),
                });
                continue;
            }
            first_of.insert(id, i);
        }
        fresh.push(i);
    }
    // `delta` counts every item; the ones not written come off.
    stats_acc.merge(delta);
    for (i, a) in answers.iter().enumerate() {
        if a.is_some() {
            stats_acc.add(&items[i].state, -1);
        }
    }
    let mut ids: HashMap<usize, i64> = HashMap::new();
    for chunk in fresh.chunks(ROWS_PER_STATEMENT) {
        let cols: Vec<(usize, &CaseColumns)> =
            chunk.iter().map(|i| (*i, &sealed[*i].cols)).collect();
        let mut qb = QueryBuilder::<Sqlite>::new(
            "INSERT INTO cases (tracking_code, version, status, channel, dispute_type, node_path, lead_unit_id, light, \
             due_date, open_supervisions, submitted_by, registered_at, updated_at, state) ",
        );
        qb.push_values(&cols, |mut b, (i, c)| {
            b.push_bind(&c.tracking_code)
                .push_bind(1i64)
                .push_bind(c.status)
                .push_bind(c.channel)
                .push_bind(c.dispute_type)
                .push_bind(&c.node_path)
                .push_bind(c.lead_unit_id)
                .push_bind(c.light)
                .push_bind(&c.due_date)
                .push_bind(c.open_supervisions)
                .push_bind(c.submitted_by)
                .push_bind(c.registered_at)
                .push_bind(items[*i].event.at)
                .push_bind(&c.state_json);
        });
        qb.push(" RETURNING id, tracking_code");
        let rows: Vec<(i64, String)> = qb.build_query_as().fetch_all(&mut *tx).await.map_err(db)?;
        let by_code: HashMap<&str, i64> = rows.iter().map(|(id, c)| (c.as_str(), *id)).collect();
        for (i, c) in &cols {
            let id = *by_code
                .get(c.tracking_code.as_str())
                .ok_or_else(|| StoreError::Backend("a created case was not returned".into()))?;
            ids.insert(*i, id);
        }
        let people: Vec<(i64, &CaseColumns)> = cols.iter().map(|(i, c)| (ids[i], *c)).collect();
        write_case_people(tx, &people).await?;
        let events: Vec<(i64, &CaseEvent, &str)> = chunk
            .iter()
            .map(|i| (ids[i], &items[*i].event, sealed[*i].payload.as_str()))
            .collect();
        insert_events_many(tx, &events).await?;
        let keyed: Vec<(i64, &IdempotencyKey, Millis)> = chunk
            .iter()
            .filter_map(|i| {
                items[*i]
                    .idem
                    .as_ref()
                    .map(|k| (ids[i], k, items[*i].event.at))
            })
            .collect();
        if !keyed.is_empty() {
            let mut qb = QueryBuilder::<Sqlite>::new(
                "INSERT INTO idempotency_keys (scope, key, body_hash, case_id, created_at) ",
            );
            qb.push_values(&keyed, |mut b, (id, k, at)| {
                b.push_bind(&k.scope)
                    .push_bind(&k.key)
                    .push_bind(&k.body_hash)
                    .push_bind(*id)
                    .push_bind(*at);
            });
            qb.build().execute(&mut *tx).await.map_err(db)?;
        }
    }
    Ok(answers
        .into_iter()
        .enumerate()
        .map(|(i, a)| match a {
            Some(Created::Existing { id, same_body }) if id < 0 => Created::Existing {
                id: ids.get(&((-id - 1) as usize)).copied().unwrap_or(0),
                same_body,
            },
            Some(a) => a,
            None => Created::New(ids.get(&i).copied().unwrap_or(0)),
        })
        .collect())
}

async fn insert_analysis(
    tx: &mut SqliteConnection,
    case_id: i64,
    a: &StoredAnalysis,
) -> Result<()> {
    {
        sqlx::query(
            "INSERT INTO case_analyses (case_id, analyser_version, analysed_at, registered_at, analysis, fingerprint) \
             VALUES (?,?,?,?,?,?) ON CONFLICT (case_id) DO UPDATE SET \
             analyser_version = excluded.analyser_version, analysed_at = excluded.analysed_at, \
             analysis = excluded.analysis, fingerprint = excluded.fingerprint",
        )
        .bind(case_id)
        .bind(&a.analyser_version)
        .bind(a.analysed_at)
        .bind(a.registered_at)
        .bind(&a.analysis)
        .bind(&a.fingerprint)
        .execute(&mut *tx)
        .await
        .map_err(db)?;
    }
    Ok(())
}

/// Whether the newest cases of a subtree are best found by walking the ids backwards rather
/// than through the path index: when nothing but a place at town level or above narrows the
/// list, a page of the newest cases is among the last few hundred ids, while the path index
/// would read (and sort) every case of the subtree. SQLite keeps no statistics to see that
/// itself, so the path test is then written `+node_path` (no index).
fn newest_by_id(f: &CaseFilter) -> bool {
    let depth = |p: &str| p.split('/').filter(|s| !s.is_empty()).count();
    let narrowest = f
        .node_path
        .as_deref()
        .or(f.visibility.scope_path.as_deref())
        .map(depth)
        .unwrap_or(0);
    f.status.is_none()
        && f.dispute_type.is_none()
        && f.channel.is_none()
        && f.unit_id.is_none()
        && f.party_key.is_none()
        && f.light.is_none()
        && f.registered_from.is_none()
        && f.registered_to.is_none()
        && !f.with_open_supervision
        && narrowest <= 4
}

/// The WHERE clause of a case filter; `newest` when the rows are read newest first with a
/// limit (see [`newest_by_id`]), not counted.
fn push_filter(qb: &mut QueryBuilder<'_, Sqlite>, f: &CaseFilter, newest: bool) {
    let v = &f.visibility;
    let path = if newest && newest_by_id(f) {
        "+node_path"
    } else {
        "node_path"
    };
    qb.push(" WHERE (0");
    if let Some(p) = &v.scope_path {
        let (lo, hi) = subtree_range(p);
        qb.push(" OR (")
            .push(path)
            .push(" >= ")
            .push_bind(lo)
            .push(" AND ")
            .push(path)
            .push(" < ")
            .push_bind(hi)
            .push(")");
    }
    if let Some(u) = v.unit_id {
        qb.push(" OR id IN (SELECT case_id FROM case_units WHERE unit_id = ")
            .push_bind(u)
            .push(")");
    }
    if let Some(u) = v.submitted_by {
        qb.push(" OR submitted_by = ").push_bind(u);
    }
    if let Some(u) = v.expert_id {
        qb.push(" OR id IN (SELECT case_id FROM case_experts WHERE user_id = ")
            .push_bind(u)
            .push(")");
    }
    qb.push(")");
    if let Some(s) = f.status {
        qb.push(" AND status = ").push_bind(s.as_str());
    }
    if let Some(t) = f.dispute_type {
        qb.push(" AND dispute_type = ").push_bind(t.as_str());
    }
    if let Some(c) = f.channel {
        qb.push(" AND channel = ").push_bind(c.as_str());
    }
    if let Some(u) = f.unit_id {
        qb.push(" AND id IN (SELECT case_id FROM case_units WHERE unit_id = ")
            .push_bind(u)
            .push(")");
    }
    if let Some(k) = &f.party_key {
        qb.push(" AND id IN (SELECT case_id FROM party_keys WHERE blind = ")
            .push_bind(k.clone())
            .push(")");
    }
    if let Some(p) = &f.node_path {
        let (lo, hi) = subtree_range(p);
        qb.push(" AND ")
            .push(path)
            .push(" >= ")
            .push_bind(lo)
            .push(" AND ")
            .push(path)
            .push(" < ")
            .push_bind(hi);
    }
    if let Some(l) = f.light {
        qb.push(" AND light = ").push_bind(l.as_str());
    }
    if let Some(t) = f.registered_from {
        qb.push(" AND registered_at >= ").push_bind(t);
    }
    if let Some(t) = f.registered_to {
        qb.push(" AND registered_at < ").push_bind(t);
    }
    if f.with_open_supervision {
        qb.push(" AND open_supervisions > 0");
    }
}

#[async_trait]
impl Store for SqliteStore {
    fn sealer(&self) -> &Sealer {
        &self.sealer
    }

    async fn migrate(&self) -> Result<()> {
        sqlx::migrate!("./migrations")
            .run(&self.write)
            .await
            .map_err(|e| StoreError::Backend(e.to_string()))?;
        backfill_party_keys(&self.write, &self.sealer).await
    }

    async fn upsert_jurisdictions(&self, nodes: &[Jurisdiction]) -> Result<()> {
        let mut tx = self.begin().await?;
        for n in nodes {
            let boundary = n.boundary.as_ref().map(|b| b.to_string());
            sqlx::query(
                "INSERT INTO jurisdictions (code, name, level, parent_code, path, centroid_lon, centroid_lat, boundary) \
                 VALUES (?,?,?,?,?,?,?,?) ON CONFLICT (code) DO UPDATE SET name = excluded.name, \
                 centroid_lon = excluded.centroid_lon, centroid_lat = excluded.centroid_lat, boundary = excluded.boundary",
            )
            .bind(&n.code)
            .bind(&n.name)
            .bind(n.level.as_str())
            .bind(&n.parent_code)
            .bind(&n.path)
            .bind(n.centroid.map(|c| c[0]))
            .bind(n.centroid.map(|c| c[1]))
            .bind(boundary)
            .execute(&mut *tx)
            .await
            .map_err(db)?;
        }
        tx.commit().await.map_err(db)
    }

    async fn get_jurisdiction(&self, code: &str) -> Result<Option<Jurisdiction>> {
        let row = sqlx::query("SELECT * FROM jurisdictions WHERE code = ?")
            .bind(code)
            .fetch_optional(&self.read)
            .await
            .map_err(db)?;
        row.as_ref().map(node_row).transpose()
    }

    async fn list_jurisdictions(&self, parent: Option<&str>) -> Result<Vec<Jurisdiction>> {
        let rows = match parent {
            Some(p) => {
                sqlx::query("SELECT * FROM jurisdictions WHERE parent_code = ? ORDER BY code")
                    .bind(p)
            }
            None => {
                sqlx::query("SELECT * FROM jurisdictions WHERE parent_code IS NULL ORDER BY code")
            }
        }
        .fetch_all(&self.read)
        .await
        .map_err(db)?;
        rows.iter().map(node_row).collect()
    }

    async fn insert_unit(&self, unit: &NewUnit, node_path: &str) -> Result<Unit> {
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO units (name, kind, node_code, node_path, specialty) VALUES (?,?,?,?,?) RETURNING id",
        )
        .bind(&unit.name)
        .bind(unit.kind.as_str())
        .bind(&unit.node_code)
        .bind(node_path)
        .bind(&unit.specialty)
        .fetch_one(&self.write)
        .await
        .map_err(db)?;
        Ok(Unit {
            id,
            name: unit.name.clone(),
            kind: unit.kind,
            node_code: unit.node_code.clone(),
            specialty: unit.specialty.clone(),
            leader_user_id: None,
        })
    }

    async fn set_unit_leader(&self, unit_id: i64, user_id: Option<i64>) -> Result<()> {
        let r = sqlx::query("UPDATE units SET leader_user_id = ? WHERE id = ?")
            .bind(user_id)
            .bind(unit_id)
            .execute(&self.write)
            .await
            .map_err(db)?;
        if r.rows_affected() == 0 {
            return Err(StoreError::NotFound);
        }
        Ok(())
    }

    async fn get_unit(&self, id: i64) -> Result<Option<Unit>> {
        let row = sqlx::query("SELECT * FROM units WHERE id = ?")
            .bind(id)
            .fetch_optional(&self.read)
            .await
            .map_err(db)?;
        row.as_ref().map(unit_row).transpose()
    }

    async fn list_units(&self, scope_path: &str) -> Result<Vec<Unit>> {
        let (lo, hi) = subtree_range(scope_path);
        let rows =
            sqlx::query("SELECT * FROM units WHERE node_path >= ? AND node_path < ? ORDER BY id")
                .bind(lo)
                .bind(hi)
                .fetch_all(&self.read)
                .await
                .map_err(db)?;
        rows.iter().map(unit_row).collect()
    }

    async fn insert_user(&self, u: &NewUser, now: Millis) -> Result<UserRecord> {
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO users (username, display_name, password_hash, role, scope_code, scope_path, unit_id, created_at, \
             password_changed_at, must_change_password) VALUES (?,?,?,?,?,?,?,?,?,?) RETURNING id",
        )
        .bind(&u.username)
        .bind(&u.display_name)
        .bind(&u.password_hash)
        .bind(u.role.as_str())
        .bind(&u.scope_code)
        .bind(&u.scope_path)
        .bind(u.unit_id)
        .bind(now)
        .bind(now)
        .bind(u.must_change_password)
        .fetch_one(&self.write)
        .await
        .map_err(|e| match db(e) {
            StoreError::Duplicate(_) => StoreError::Duplicate("username"),
            other => other,
        })?;
        self.get_user(id).await?.ok_or(StoreError::NotFound)
    }

    async fn update_user(&self, id: i64, u: &UserUpdate) -> Result<UserRecord> {
        let mut tx = self.write.begin().await.map_err(db)?;
        let r = sqlx::query(
            "UPDATE users SET display_name = ?, role = ?, scope_code = ?, scope_path = ?, \
             unit_id = ?, disabled = ? WHERE id = ?",
        )
        .bind(&u.display_name)
        .bind(u.role.as_str())
        .bind(&u.scope_code)
        .bind(&u.scope_path)
        .bind(u.unit_id)
        .bind(i64::from(u.disabled))
        .bind(id)
        .execute(&mut *tx)
        .await
        .map_err(db)?;
        if r.rows_affected() == 0 {
            return Err(StoreError::NotFound);
        }
        if u.disabled {
            sqlx::query("DELETE FROM sessions WHERE user_id = ?")
                .bind(id)
                .execute(&mut *tx)
                .await
                .map_err(db)?;
        }
        tx.commit().await.map_err(db)?;
        self.get_user(id).await?.ok_or(StoreError::NotFound)
    }

    async fn get_user(&self, id: i64) -> Result<Option<UserRecord>> {
        let row = sqlx::query(&format!("SELECT {USER_COLS} FROM users WHERE id = ?"))
            .bind(id)
            .fetch_optional(&self.read)
            .await
            .map_err(db)?;
        row.as_ref().map(|r| user_row(r, &self.sealer)).transpose()
    }

    async fn get_user_by_username(&self, username: &str) -> Result<Option<UserRecord>> {
        let row = sqlx::query(&format!("SELECT {USER_COLS} FROM users WHERE username = ?"))
            .bind(username)
            .fetch_optional(&self.read)
            .await
            .map_err(db)?;
        row.as_ref().map(|r| user_row(r, &self.sealer)).transpose()
    }

    async fn list_users(&self, scope_path: &str, role: Option<Role>) -> Result<Vec<UserRecord>> {
        let (lo, hi) = subtree_range(scope_path);
        let rows = sqlx::query(&format!(
            "SELECT {USER_COLS} FROM users WHERE scope_path >= ? AND scope_path < ? AND (? IS NULL OR role = ?) ORDER BY id"
        ))
        .bind(lo)
        .bind(hi)
        .bind(role.map(|r| r.as_str()))
        .bind(role.map(|r| r.as_str()))
        .fetch_all(&self.read)
        .await
        .map_err(db)?;
        rows.iter().map(|r| user_row(r, &self.sealer)).collect()
    }

    async fn insert_session(
        &self,
        token_hash: &str,
        user_id: i64,
        stage: SessionStage,
        now: Millis,
        expires_at: Millis,
    ) -> Result<()> {
        sqlx::query(
            "INSERT INTO sessions (token_hash, user_id, stage, created_at, expires_at) VALUES (?,?,?,?,?)",
        )
        .bind(token_hash)
        .bind(user_id)
        .bind(stage.as_str())
        .bind(now)
        .bind(expires_at)
        .execute(&self.write)
        .await
        .map_err(db)?;
        Ok(())
    }

    async fn session(&self, token_hash: &str, now: Millis) -> Result<Option<SessionRecord>> {
        let cols = USER_COLS
            .split(", ")
            .map(|c| format!("u.{}", c.trim()))
            .collect::<Vec<_>>()
            .join(", ");
        let row = sqlx::query(&format!(
            "SELECT {cols}, s.stage AS s_stage, s.created_at AS s_created, s.expires_at AS s_expires \
             FROM sessions s JOIN users u ON u.id = s.user_id \
             WHERE s.token_hash = ? AND s.expires_at > ? AND u.disabled = 0"
        ))
        .bind(token_hash)
        .bind(now)
        .fetch_optional(&self.read)
        .await
        .map_err(db)?;
        let Some(r) = row else { return Ok(None) };
        let stage: String = r.get("s_stage");
        Ok(Some(SessionRecord {
            user: user_row(&r, &self.sealer)?,
            stage: SessionStage::parse(&stage)
                .ok_or_else(|| StoreError::Corrupt(format!("session stage {stage}")))?,
            created_at: r.get("s_created"),
            expires_at: r.get("s_expires"),
        }))
    }

    async fn update_session(
        &self,
        token_hash: &str,
        stage: SessionStage,
        expires_at: Millis,
    ) -> Result<()> {
        sqlx::query("UPDATE sessions SET stage = ?, expires_at = ? WHERE token_hash = ?")
            .bind(stage.as_str())
            .bind(expires_at)
            .bind(token_hash)
            .execute(&self.write)
            .await
            .map_err(db)?;
        Ok(())
    }

    async fn delete_session(&self, token_hash: &str) -> Result<()> {
        sqlx::query("DELETE FROM sessions WHERE token_hash = ?")
            .bind(token_hash)
            .execute(&self.write)
            .await
            .map_err(db)?;
        Ok(())
    }

    async fn delete_user_sessions(&self, user_id: i64, keep: Option<&str>) -> Result<()> {
        sqlx::query("DELETE FROM sessions WHERE user_id = ? AND token_hash <> ?")
            .bind(user_id)
            .bind(keep.unwrap_or(""))
            .execute(&self.write)
            .await
            .map_err(db)?;
        Ok(())
    }

    async fn set_password(
        &self,
        user_id: i64,
        password_hash: &str,
        must_change: bool,
        now: Millis,
    ) -> Result<()> {
        let r = sqlx::query(
            "UPDATE users SET password_hash = ?, must_change_password = ?, password_changed_at = ? WHERE id = ?",
        )
        .bind(password_hash)
        .bind(must_change)
        .bind(now)
        .bind(user_id)
        .execute(&self.write)
        .await
        .map_err(db)?;
        if r.rows_affected() == 0 {
            return Err(StoreError::NotFound);
        }
        Ok(())
    }

    async fn set_totp(&self, user_id: i64, secret: Option<&str>, enabled: bool) -> Result<()> {
        let r = sqlx::query("UPDATE users SET totp_secret = ?, totp_enabled = ? WHERE id = ?")
            .bind(codec::totp_secret_column(secret, &self.sealer))
            .bind(enabled)
            .bind(user_id)
            .execute(&self.write)
            .await
            .map_err(db)?;
        if r.rows_affected() == 0 {
            return Err(StoreError::NotFound);
        }
        Ok(())
    }

    async fn use_totp_step(&self, user_id: i64, step: i64) -> Result<bool> {
        let r =
            sqlx::query("UPDATE users SET totp_last_step = ? WHERE id = ? AND totp_last_step < ?")
                .bind(step)
                .bind(user_id)
                .bind(step)
                .execute(&self.write)
                .await
                .map_err(db)?;
        Ok(r.rows_affected() == 1)
    }

    async fn append_audit(&self, records: &[NewAuditRecord]) -> Result<i64> {
        let mut tx = self.write.begin().await.map_err(db)?;
        let head: Option<(i64, String)> =
            sqlx::query_as("SELECT seq, hash FROM audit_log ORDER BY seq DESC LIMIT 1")
                .fetch_optional(&mut *tx)
                .await
                .map_err(db)?;
        let (last, hash) = head.unwrap_or((0, audit::GENESIS.to_string()));
        let chained = audit::chain(last, &hash, records);
        for r in &chained {
            sqlx::query(
                "INSERT INTO audit_log (seq, at, actor_id, actor_name, client, action, target, outcome, detail, prev_hash, hash) \
                 VALUES (?,?,?,?,?,?,?,?,?,?,?)",
            )
            .bind(r.seq)
            .bind(r.record.at)
            .bind(r.record.actor_id)
            .bind(&r.record.actor_name)
            .bind(&r.record.client)
            .bind(r.record.action.as_str())
            .bind(&r.record.target)
            .bind(&r.record.outcome)
            .bind(&r.record.detail)
            .bind(&r.prev_hash)
            .bind(&r.hash)
            .execute(&mut *tx)
            .await
            .map_err(db)?;
        }
        tx.commit().await.map_err(db)?;
        Ok(chained.last().map_or(last, |r| r.seq))
    }

    async fn audit_records(&self, after_seq: i64, limit: i64) -> Result<Vec<AuditRecord>> {
        let rows = sqlx::query(
            "SELECT seq, at, actor_id, actor_name, client, action, target, outcome, detail, prev_hash, hash \
             FROM audit_log WHERE seq > ? ORDER BY seq LIMIT ?",
        )
        .bind(after_seq)
        .bind(limit)
        .fetch_all(&self.read)
        .await
        .map_err(db)?;
        rows.iter()
            .map(|r| {
                let action: String = r.get("action");
                Ok(AuditRecord {
                    seq: r.get("seq"),
                    record: NewAuditRecord {
                        at: r.get("at"),
                        actor_id: r.get("actor_id"),
                        actor_name: r.get("actor_name"),
                        client: r.get("client"),
                        action: audit::AuditAction::parse(&action)
                            .ok_or_else(|| StoreError::Corrupt(format!("audit action {action}")))?,
                        target: r.get("target"),
                        outcome: r.get("outcome"),
                        detail: r.get("detail"),
                    },
                    prev_hash: r.get("prev_hash"),
                    hash: r.get("hash"),
                })
            })
            .collect()
    }

    async fn audit_head(&self) -> Result<Option<(i64, String)>> {
        sqlx::query_as("SELECT seq, hash FROM audit_log ORDER BY seq DESC LIMIT 1")
            .fetch_optional(&self.read)
            .await
            .map_err(db)
    }

    async fn put_audit_checkpoint(&self, cp: &Checkpoint) -> Result<()> {
        sqlx::query("INSERT INTO audit_checkpoints (seq, hash, at, mac) VALUES (?,?,?,?)")
            .bind(cp.seq)
            .bind(&cp.hash)
            .bind(cp.at)
            .bind(&cp.mac)
            .execute(&self.write)
            .await
            .map_err(db)?;
        Ok(())
    }

    async fn audit_checkpoints(&self) -> Result<Vec<Checkpoint>> {
        let rows = sqlx::query("SELECT seq, hash, at, mac FROM audit_checkpoints ORDER BY seq")
            .fetch_all(&self.read)
            .await
            .map_err(db)?;
        Ok(rows
            .iter()
            .map(|r| Checkpoint {
                seq: r.get("seq"),
                hash: r.get("hash"),
                at: r.get("at"),
                mac: r.get("mac"),
            })
            .collect())
    }

    async fn login_throttle(&self, username: &str) -> Result<Option<Throttle>> {
        let row =
            sqlx::query("SELECT failures, locked_until FROM login_throttle WHERE username = ?")
                .bind(username)
                .fetch_optional(&self.read)
                .await
                .map_err(db)?;
        Ok(row.map(|r| Throttle {
            failures: u32::try_from(r.get::<i64, _>("failures")).unwrap_or(0),
            locked_until: r.get("locked_until"),
        }))
    }

    async fn set_login_throttle(&self, username: &str, throttle: Option<&Throttle>) -> Result<()> {
        match throttle {
            None => sqlx::query("DELETE FROM login_throttle WHERE username = ?")
                .bind(username)
                .execute(&self.write)
                .await
                .map_err(db)?,
            Some(t) => sqlx::query(
                "INSERT INTO login_throttle (username, failures, locked_until) VALUES (?,?,?) \
                 ON CONFLICT (username) DO UPDATE SET failures = excluded.failures, locked_until = excluded.locked_until",
            )
            .bind(username)
            .bind(i64::from(t.failures))
            .bind(t.locked_until)
            .execute(&self.write)
            .await
            .map_err(db)?,
        };
        Ok(())
    }

    async fn calendar_days(&self) -> Result<Vec<CalendarDay>> {
        let rows = sqlx::query("SELECT day, kind, note FROM calendar_days ORDER BY day")
            .fetch_all(&self.read)
            .await
            .map_err(db)?;
        rows.iter()
            .map(|r| {
                let kind: String = r.get("kind");
                Ok(CalendarDay {
                    date: codec::date(r.get("day"))?,
                    kind: DayKind::parse(&kind)
                        .ok_or_else(|| StoreError::Corrupt(format!("day kind {kind}")))?,
                    note: r.get("note"),
                })
            })
            .collect()
    }

    async fn set_calendar_day(
        &self,
        date: NaiveDate,
        kind: Option<DayKind>,
        note: &str,
    ) -> Result<()> {
        let day = date.format("%Y-%m-%d").to_string();
        match kind {
            Some(k) => sqlx::query(
                "INSERT INTO calendar_days (day, kind, note) VALUES (?,?,?) \
                 ON CONFLICT (day) DO UPDATE SET kind = excluded.kind, note = excluded.note",
            )
            .bind(day)
            .bind(k.as_str())
            .bind(note),
            None => sqlx::query("DELETE FROM calendar_days WHERE day = ?").bind(day),
        }
        .execute(&self.write)
        .await
        .map_err(db)?;
        Ok(())
    }

    async fn get_setting(&self, key: &str) -> Result<Option<String>> {
        sqlx::query_scalar("SELECT value FROM settings WHERE key = ?")
            .bind(key)
            .fetch_optional(&self.read)
            .await
            .map_err(db)
    }

    async fn notify_once(
        &self,
        key: &str,
        value: &str,
        notifications: &[NewNotification],
        now: Millis,
    ) -> Result<bool> {
        let mut tx = self.begin().await?;
        let current: Option<String> =
            sqlx::query_scalar("SELECT value FROM settings WHERE key = ?")
                .bind(key)
                .fetch_optional(&mut *tx)
                .await
                .map_err(db)?;
        if current.as_deref() == Some(value) {
            return Ok(false);
        }
        insert_notifications(&mut tx, notifications, now).await?;
        sqlx::query("INSERT INTO settings (key, value) VALUES (?,?) ON CONFLICT (key) DO UPDATE SET value = excluded.value")
            .bind(key)
            .bind(value)
            .execute(&mut *tx)
            .await
            .map_err(db)?;
        tx.commit().await.map_err(db)?;
        Ok(true)
    }

    async fn put_setting(&self, key: &str, value: &str) -> Result<()> {
        sqlx::query("INSERT INTO settings (key, value) VALUES (?,?) ON CONFLICT (key) DO UPDATE SET value = excluded.value")
            .bind(key)
            .bind(value)
            .execute(&self.write)
            .await
            .map_err(db)?;
        Ok(())
    }

    async fn create_case(
        &self,
        state: &CaseState,
        event: &CaseEvent,
        idem: Option<&IdempotencyKey>,
        analysis: Option<&StoredAnalysis>,
    ) -> Result<Created> {
        let (reply, answer) = oneshot::channel();
        let job = Job::Create {
            state: Box::new(state.clone()),
            event: Box::new(event.clone()),
            idem: idem.cloned(),
            analysis: analysis.map(|a| Box::new(a.clone())),
            reply,
        };
        self.submit(job, answer).await
    }

    async fn create_cases(&self, items: &[NewCaseWrite]) -> Result<Vec<Created>> {
        let sl = Arc::clone(&self.sealer);
        let (items, parts) = before_writer(items.to_vec(), move |part: &[NewCaseWrite]| {
            let mut delta = stats::Delta::default();
            let sealed = part
                .iter()
                .map(|i| {
                    delta.add(&i.state, 1);
                    Ok(SealedNew {
                        cols: codec::case_columns(&i.state, &sl)?,
                        payload: codec::event_payload(&i.event.kind, &sl)?,
                    })
                })
                .collect::<Result<Vec<_>>>()?;
            Ok((sealed, delta))
        })
        .await?;
        let mut delta = stats::Delta::default();
        let mut sealed = Vec::with_capacity(items.len());
        for (s, d) in parts {
            sealed.extend(s);
            delta.merge(&d);
        }
        let (reply, answer) = oneshot::channel();
        let job = Job::CreateMany {
            items,
            sealed,
            delta,
            reply,
        };
        self.submit(job, answer).await
    }

    async fn get_case(&self, id: i64) -> Result<Option<StoredCase>> {
        let row = sqlx::query("SELECT id, version, state FROM cases WHERE id = ?")
            .bind(id)
            .fetch_optional(&self.read)
            .await
            .map_err(db)?;
        row.as_ref().map(|r| case_row(r, &self.sealer)).transpose()
    }

    async fn find_case_by_tracking_code(&self, code: &str) -> Result<Option<StoredCase>> {
        let row = sqlx::query("SELECT id, version, state FROM cases WHERE tracking_code = ?")
            .bind(code)
            .fetch_optional(&self.read)
            .await
            .map_err(db)?;
        row.as_ref().map(|r| case_row(r, &self.sealer)).transpose()
    }

    async fn append(&self, ch: Append<'_>) -> Result<()> {
        let (reply, answer) = oneshot::channel();
        let job = Job::Append {
            change: Box::new(OwnedAppend::from(ch)),
            reply,
        };
        self.submit(job, answer).await
    }

    async fn append_many(&self, changes: &[Append<'_>]) -> Result<Vec<Result<()>>> {
        let changes: Vec<OwnedAppend> = changes.iter().map(|c| OwnedAppend::from(*c)).collect();
        let sl = Arc::clone(&self.sealer);
        let (changes, parts) = before_writer(changes, move |part: &[OwnedAppend]| {
            part.iter()
                .map(|ch| {
                    Ok(SealedChange {
                        cols: codec::case_columns(&ch.state, &sl)?,
                        payloads: ch
                            .events
                            .iter()
                            .map(|e| codec::event_payload(&e.kind, &sl))
                            .collect::<Result<_>>()?,
                    })
                })
                .collect::<Result<Vec<_>>>()
        })
        .await?;
        let (reply, answer) = oneshot::channel();
        let job = Job::AppendMany {
            changes,
            sealed: parts.into_iter().flatten().collect(),
            reply,
        };
        self.submit(job, answer).await
    }

    async fn get_cases(&self, ids: &[i64]) -> Result<Vec<StoredCase>> {
        let mut out = Vec::with_capacity(ids.len());
        for chunk in ids.chunks(ROWS_PER_STATEMENT) {
            for r in cases_by_id(chunk)
                .build()
                .fetch_all(&self.read)
                .await
                .map_err(db)?
            {
                out.push(case_row(&r, &self.sealer)?);
            }
        }
        out.sort_by_key(|c| c.id);
        out.dedup_by_key(|c| c.id);
        Ok(out)
    }

    async fn case_events(&self, case_id: i64) -> Result<Vec<CaseEvent>> {
        let rows = sqlx::query(
            "SELECT seq, at, actor_id, payload FROM case_events WHERE case_id = ? ORDER BY seq",
        )
        .bind(case_id)
        .fetch_all(&self.read)
        .await
        .map_err(db)?;
        rows.iter()
            .map(|r| {
                codec::event_from_row(
                    r.get("seq"),
                    r.get("at"),
                    r.get("actor_id"),
                    r.get("payload"),
                    &self.sealer,
                )
            })
            .collect()
    }

    async fn list_cases(&self, f: &CaseFilter) -> Result<CasePage> {
        let mut qb = QueryBuilder::<Sqlite>::new("SELECT id, version, state FROM cases");
        push_filter(&mut qb, f, true);
        if let Some(b) = f.before_id {
            qb.push(" AND id < ").push_bind(b);
        }
        let limit = f.limit.clamp(1, 500);
        qb.push(" ORDER BY id DESC LIMIT ")
            .push_bind(i64::from(limit) + 1);
        let rows = qb.build().fetch_all(&self.read).await.map_err(db)?;
        let mut items = rows
            .iter()
            .map(|r| case_row(r, &self.sealer))
            .collect::<Result<Vec<_>>>()?;
        let next_before_id = if items.len() > limit as usize {
            items.truncate(limit as usize);
            items.last().map(|c| c.id)
        } else {
            None
        };
        Ok(CasePage {
            items,
            next_before_id,
        })
    }

    async fn count_cases(&self, f: &CaseFilter) -> Result<u64> {
        let mut qb = QueryBuilder::<Sqlite>::new("SELECT COUNT(*) FROM cases");
        push_filter(&mut qb, f, false);
        let n: i64 = qb
            .build_query_scalar()
            .fetch_one(&self.read)
            .await
            .map_err(db)?;
        Ok(n as u64)
    }

    async fn cases_with_deadline(&self, after_id: i64, limit: u32) -> Result<Vec<StoredCase>> {
        let rows = sqlx::query(
            "SELECT id, version, state FROM cases WHERE due_date IS NOT NULL AND id > ? ORDER BY id LIMIT ?",
        )
        .bind(after_id)
        .bind(i64::from(limit))
        .fetch_all(&self.read)
        .await
        .map_err(db)?;
        rows.iter().map(|r| case_row(r, &self.sealer)).collect()
    }

    async fn replace_state(&self, case_id: i64, version: i64, state: &CaseState) -> Result<()> {
        let c = codec::case_columns(state, &self.sealer)?;
        let mut tx = self.begin().await?;
        let mut acc = stats::Delta::default();
        update_case_row(
            &mut tx,
            &mut acc,
            case_id,
            (version, version),
            (state, &c),
            None,
            &self.sealer,
        )
        .await?;
        apply_stats(&mut tx, &acc).await?;
        rewrite_case_people(&mut tx, case_id, &c).await?;
        tx.commit().await.map_err(db)
    }

    async fn list_notifications(
        &self,
        user_id: i64,
        unread_only: bool,
        limit: u32,
    ) -> Result<Vec<Notification>> {
        let rows = sqlx::query(
            "SELECT * FROM notifications WHERE user_id = ? AND (? = 0 OR read_at IS NULL) ORDER BY id DESC LIMIT ?",
        )
        .bind(user_id)
        .bind(i64::from(unread_only))
        .bind(i64::from(limit))
        .fetch_all(&self.read)
        .await
        .map_err(db)?;
        Ok(rows
            .iter()
            .map(|r| Notification {
                id: r.get("id"),
                user_id: r.get("user_id"),
                case_id: r.get("case_id"),
                kind: r.get("kind"),
                title: r.get("title"),
                body: r.get("body"),
                created_at: r.get("created_at"),
                read_at: r.get("read_at"),
            })
            .collect())
    }

    async fn mark_notification_read(&self, user_id: i64, id: i64, now: Millis) -> Result<()> {
        let r = sqlx::query(
            "UPDATE notifications SET read_at = COALESCE(read_at, ?) WHERE id = ? AND user_id = ?",
        )
        .bind(now)
        .bind(id)
        .bind(user_id)
        .execute(&self.write)
        .await
        .map_err(db)?;
        if r.rows_affected() == 0 {
            return Err(StoreError::NotFound);
        }
        Ok(())
    }

    async fn get_blob(&self, id: &str) -> Result<Option<Blob>> {
        let row = sqlx::query("SELECT id, content_type, bytes FROM blobs WHERE id = ?")
            .bind(id)
            .fetch_optional(&self.read)
            .await
            .map_err(db)?;
        Ok(row.map(|r| Blob {
            id: r.get("id"),
            content_type: r.get("content_type"),
            bytes: r.get("bytes"),
        }))
    }

    async fn bulk_insert_cases(&self, cases: &[(CaseState, Vec<CaseEvent>)]) -> Result<()> {
        let mut tx = self.begin().await?;
        let mut acc = stats::Delta::default();
        for (state, events) in cases {
            let cols = codec::case_columns(state, &self.sealer)?;
            let now = events.last().map(|e| e.at).unwrap_or(state.registered_at);
            let id =
                insert_case_row(&mut tx, &mut acc, state, &cols, events.len() as i64, now).await?;
            insert_events(&mut tx, id, events, &self.sealer).await?;
        }
        apply_stats(&mut tx, &acc).await?;
        tx.commit().await.map_err(db)
    }

    async fn insert_export_request(
        &self,
        req: &fengqiao_domain::export::ExportRequest,
    ) -> Result<i64> {
        sqlx::query_scalar(
            "INSERT INTO export_requests (requested_by, scope_path, list_filter, purpose, status, \
             decided_by, requested_at, decided_at, downloaded_at) VALUES (?,?,?,?,?,?,?,?,?) RETURNING id",
        )
        .bind(req.requested_by)
        .bind(&req.scope_path)
        .bind(&req.filter)
        .bind(&req.purpose)
        .bind(req.status.as_str())
        .bind(req.decided_by)
        .bind(req.requested_at)
        .bind(req.decided_at)
        .bind(req.downloaded_at)
        .fetch_one(&self.write)
        .await
        .map_err(db)
    }

    async fn get_export_request(
        &self,
        id: i64,
    ) -> Result<Option<fengqiao_domain::export::ExportRequest>> {
        let row = sqlx::query(&format!(
            "SELECT {EXPORT_COLS} FROM export_requests WHERE id = ?"
        ))
        .bind(id)
        .fetch_optional(&self.read)
        .await
        .map_err(db)?;
        row.as_ref().map(export_row).transpose()
    }

    async fn list_export_requests(
        &self,
        limit: u32,
    ) -> Result<Vec<fengqiao_domain::export::ExportRequest>> {
        let rows = sqlx::query(&format!(
            "SELECT {EXPORT_COLS} FROM export_requests ORDER BY id DESC LIMIT ?"
        ))
        .bind(i64::from(limit))
        .fetch_all(&self.read)
        .await
        .map_err(db)?;
        rows.iter().map(export_row).collect()
    }

    async fn set_export_status(
        &self,
        id: i64,
        from: fengqiao_domain::export::ExportStatus,
        to: fengqiao_domain::export::ExportStatus,
        by: Option<i64>,
        at: Millis,
    ) -> Result<bool> {
        let downloaded = to == fengqiao_domain::export::ExportStatus::Downloaded;
        let r = sqlx::query(
            "UPDATE export_requests SET status = ?, \
             decided_by = CASE WHEN ? THEN decided_by ELSE ? END, \
             decided_at = CASE WHEN ? THEN decided_at ELSE ? END, \
             downloaded_at = CASE WHEN ? THEN ? ELSE downloaded_at END \
             WHERE id = ? AND status = ?",
        )
        .bind(to.as_str())
        .bind(downloaded)
        .bind(by)
        .bind(downloaded)
        .bind(at)
        .bind(downloaded)
        .bind(at)
        .bind(id)
        .bind(from.as_str())
        .execute(&self.write)
        .await
        .map_err(db)?;
        Ok(r.rows_affected() == 1)
    }

    async fn reseal(&self) -> Result<u64> {
        let mut rewritten = 0;
        for col in seal::SEALED_COLUMNS {
            let (page, update) = reseal_sql(col);
            let mut after = (i64::MIN, i64::MIN);
            loop {
                let rows: Vec<(i64, i64, Option<String>)> = sqlx::query_as(&page)
                    .bind(after.0)
                    .bind(after.1)
                    .fetch_all(&self.write)
                    .await
                    .map_err(db)?;
                let Some(last) = rows.last() else { break };
                after = (last.0, last.1);
                for (k1, k2, stored) in &rows {
                    let Some(stored) = stored else { continue };
                    if let Some(new) = self.sealer.reseal_stored(col.kind, stored)? {
                        sqlx::query(&update)
                            .bind(&new)
                            .bind(k1)
                            .bind(k2)
                            .bind(stored)
                            .execute(&self.write)
                            .await
                            .map_err(db)?;
                        rewritten += 1;
                    }
                }
            }
        }
        Ok(rewritten)
    }

    async fn backup(&self, dest: &str) -> Result<()> {
        // VACUUM INTO writes a consistent snapshot while readers and the writer carry on.
        sqlx::query("VACUUM INTO ?")
            .bind(dest)
            .execute(&self.read)
            .await
            .map_err(db)?;
        Ok(())
    }

    async fn put_analyses(&self, rows: &[StoredAnalysis]) -> Result<()> {
        // Through the group-commit writer: an intake's analysis shares the commit (and the
        // fsync) of the writes around it.
        let sl = Arc::clone(&self.sealer);
        let (_, parts) = before_writer(rows.to_vec(), move |part: &[StoredAnalysis]| {
            part.iter()
                .map(|a| codec::sealed_analysis(a, &sl))
                .collect::<Result<Vec<_>>>()
        })
        .await?;
        let (reply, answer) = oneshot::channel();
        let job = Job::Analyses {
            rows: parts.into_iter().flatten().collect(),
            reply,
        };
        self.submit(job, answer).await
    }

    async fn get_analysis(&self, case_id: i64) -> Result<Option<StoredAnalysis>> {
        let row = sqlx::query(
            "SELECT case_id, analyser_version, analysed_at, registered_at, analysis, fingerprint \
             FROM case_analyses WHERE case_id = ?",
        )
        .bind(case_id)
        .fetch_optional(&self.read)
        .await
        .map_err(db)?;
        row.map(|r: SqliteRow| -> Result<StoredAnalysis> {
            let stored = StoredAnalysis {
                case_id: r.try_get("case_id").map_err(db)?,
                analyser_version: r.try_get("analyser_version").map_err(db)?,
                analysed_at: r.try_get("analysed_at").map_err(db)?,
                registered_at: r.try_get("registered_at").map_err(db)?,
                analysis: r.try_get("analysis").map_err(db)?,
                fingerprint: r.try_get("fingerprint").map_err(db)?,
            };
            codec::opened_analysis(stored, &self.sealer)
        })
        .transpose()
    }

    async fn fingerprints(
        &self,
        after_id: i64,
        registered_since: Millis,
        limit: u32,
    ) -> Result<Vec<FingerprintRow>> {
        let rows = sqlx::query(
            "SELECT case_id, registered_at, fingerprint FROM case_analyses \
             WHERE case_id > ? AND +registered_at >= ? ORDER BY case_id LIMIT ?",
        )
        .bind(after_id)
        .bind(registered_since)
        .bind(i64::from(limit))
        .fetch_all(&self.read)
        .await
        .map_err(db)?;
        rows.iter()
            .map(|r| {
                Ok(FingerprintRow {
                    case_id: r.try_get("case_id").map_err(db)?,
                    registered_at: r.try_get("registered_at").map_err(db)?,
                    fingerprint: r.try_get("fingerprint").map_err(db)?,
                })
            })
            .collect()
    }

    async fn cases_after(&self, after_id: i64, limit: u32) -> Result<Vec<StoredCase>> {
        let rows =
            sqlx::query("SELECT id, version, state FROM cases WHERE id > ? ORDER BY id LIMIT ?")
                .bind(after_id)
                .bind(i64::from(limit))
                .fetch_all(&self.read)
                .await
                .map_err(db)?;
        rows.iter().map(|r| case_row(r, &self.sealer)).collect()
    }

    async fn confirmed_cases(&self, after_id: i64, limit: u32) -> Result<Vec<StoredCase>> {
        let rows = sqlx::query(
            "SELECT id, version, state FROM cases WHERE status NOT IN ('registered', 'not_accepted') \
             AND id > ? ORDER BY id LIMIT ?",
        )
        .bind(after_id)
        .bind(i64::from(limit))
        .fetch_all(&self.read)
        .await
        .map_err(db)?;
        rows.iter().map(|r| case_row(r, &self.sealer)).collect()
    }

    async fn stats_totals(&self) -> Result<stats::Delta> {
        let rows = sqlx::query(
            "SELECT scope, grain, period, dim, metric, value FROM stats_rollup WHERE value <> 0",
        )
        .fetch_all(&self.read)
        .await
        .map_err(db)?;
        let mut d = stats::Delta::default();
        for r in rows {
            let grain: String = r.get(1);
            let key = codec::roll_key(r.get(0), &grain, r.get(2), r.get(3), r.get(4))?;
            d.rows.insert(key, r.get(5));
        }
        Ok(d)
    }

    async fn save_warnings(
        &self,
        warnings: &[(fengqiao_domain::warning::Warning, i64)],
        notifications: &[NewNotification],
        now: Millis,
    ) -> Result<Vec<i64>> {
        let mut tx = self.begin().await?;
        let mut ids = Vec::with_capacity(warnings.len());
        for (w, expected) in warnings {
            let body = codec::warning_json(w)?;
            let units = warning_units_column(w);
            if *expected == 0 {
                let mut qb = QueryBuilder::<Sqlite>::new(
                    "INSERT INTO warnings (key, status, level, kind, dispute_type, area_path, unit_ids, first_day, last_day, version, body, created_at, updated_at) ",
                );
                qb.push_values([w], |mut b, w| {
                    b.push_bind(&w.key)
                        .push_bind(w.status.as_str())
                        .push_bind(w.level.as_str())
                        .push_bind(w.kind.as_str())
                        .push_bind(w.dispute_type.as_str())
                        .push_bind(&w.area_path)
                        .push_bind(&units)
                        .push_bind(w.first_day.to_string())
                        .push_bind(w.last_day.to_string())
                        .push_bind(warning_version(w))
                        .push_bind(&body)
                        .push_bind(w.created_at)
                        .push_bind(now);
                });
                qb.push(" RETURNING id");
                let id: i64 = qb
                    .build_query_scalar()
                    .fetch_one(&mut *tx)
                    .await
                    .map_err(db)?;
                ids.push(id);
            } else {
                let mut qb = QueryBuilder::<Sqlite>::new("UPDATE warnings SET status = ");
                qb.push_bind(w.status.as_str())
                    .push(", level = ")
                    .push_bind(w.level.as_str())
                    .push(", unit_ids = ")
                    .push_bind(&units)
                    .push(", last_day = ")
                    .push_bind(w.last_day.to_string())
                    .push(", version = ")
                    .push_bind(warning_version(w))
                    .push(", body = ")
                    .push_bind(&body)
                    .push(", updated_at = ")
                    .push_bind(now)
                    .push(" WHERE id = ")
                    .push_bind(w.id)
                    .push(" AND version = ")
                    .push_bind(*expected);
                let done = qb.build().execute(&mut *tx).await.map_err(db)?;
                if done.rows_affected() != 1 {
                    return Err(StoreError::Conflict);
                }
                ids.push(w.id);
            }
        }
        insert_notifications(&mut tx, notifications, now).await?;
        tx.commit().await.map_err(db)?;
        Ok(ids)
    }

    async fn list_warnings(
        &self,
        f: &WarningFilter,
    ) -> Result<Vec<fengqiao_domain::warning::Warning>> {
        if f.scope_path.is_none() && f.unit_id.is_none() {
            return Ok(Vec::new());
        }
        let mut qb = QueryBuilder::<Sqlite>::new("SELECT id, body FROM warnings WHERE (");
        let mut any = false;
        if let Some(p) = &f.scope_path {
            qb.push("area_path LIKE ").push_bind(format!("{p}%"));
            any = true;
        }
        if let Some(u) = f.unit_id {
            if any {
                qb.push(" OR ");
            }
            qb.push("unit_ids LIKE ").push_bind(format!("%,{u},%"));
        }
        qb.push(")");
        if f.live_only {
            qb.push(" AND status IN ('open', 'acknowledged', 'handled')");
        }
        if let Some(from) = f.from {
            qb.push(" AND last_day >= ").push_bind(from.to_string());
        }
        if let Some(to) = f.to {
            qb.push(" AND first_day <= ").push_bind(to.to_string());
        }
        qb.push(" ORDER BY id DESC LIMIT ")
            .push_bind(i64::from(f.limit.max(1)));
        let rows = qb.build().fetch_all(&self.read).await.map_err(db)?;
        rows.iter()
            .map(|r| codec::warning_from_row(r.get::<i64, _>(0), &r.get::<String, _>(1)))
            .collect()
    }

    async fn get_warning(&self, id: i64) -> Result<Option<fengqiao_domain::warning::Warning>> {
        let mut qb = QueryBuilder::<Sqlite>::new("SELECT id, body FROM warnings WHERE id = ");
        qb.push_bind(id);
        let row = qb.build().fetch_optional(&self.read).await.map_err(db)?;
        row.map(|r| codec::warning_from_row(r.get::<i64, _>(0), &r.get::<String, _>(1)))
            .transpose()
    }

    async fn stats_rows(&self, q: &StatsQuery) -> Result<Vec<(stats::RollKey, i64)>> {
        if q.scopes.is_empty() {
            return Ok(Vec::new());
        }
        let marks = vec!["?"; q.scopes.len()].join(",");
        let sql = format!(
            "SELECT scope, grain, period, dim, metric, value FROM stats_rollup \
             WHERE scope IN ({marks}) AND grain = ? AND period BETWEEN ? AND ? AND value <> 0"
        );
        let mut query = sqlx::query(&sql);
        for scope in &q.scopes {
            query = query.bind(scope);
        }
        let rows = query
            .bind(codec::query_grain_column(q.grain, q.dim.prefix()))
            .bind(&q.from)
            .bind(&q.to)
            .fetch_all(&self.read)
            .await
            .map_err(db)?;
        rows.into_iter()
            .map(|r| {
                let grain: String = r.get(1);
                Ok((
                    codec::roll_key(r.get(0), &grain, r.get(2), r.get(3), r.get(4))?,
                    r.get(5),
                ))
            })
            .collect()
    }

    async fn rebuild_stats(&self) -> Result<u64> {
        let mut tx = self.begin().await?;
        sqlx::query("DELETE FROM stats_rollup")
            .execute(&mut *tx)
            .await
            .map_err(db)?;
        let (mut after, mut read) = (0i64, 0u64);
        loop {
            let rows: Vec<(i64, String)> =
                sqlx::query_as("SELECT id, state FROM cases WHERE id > ? ORDER BY id LIMIT 2000")
                    .bind(after)
                    .fetch_all(&mut *tx)
                    .await
                    .map_err(db)?;
            let Some((last, _)) = rows.last() else { break };
            after = *last;
            let mut d = stats::Delta::default();
            for (_, json) in &rows {
                d.add(&codec::state_from_json(json, &self.sealer)?, 1);
            }
            read += rows.len() as u64;
            apply_stats(&mut tx, &d).await?;
        }
        tx.commit().await.map_err(db)?;
        Ok(read)
    }

    async fn find_idempotent_case(&self, scope: &str, key: &str) -> Result<Option<i64>> {
        sqlx::query_scalar("SELECT case_id FROM idempotency_keys WHERE scope = ? AND key = ?")
            .bind(scope)
            .bind(key)
            .fetch_optional(&self.read)
            .await
            .map_err(db)
    }

    async fn set_idempotency_body(&self, scope: &str, key: &str, body_hash: &str) -> Result<()> {
        let r =
            sqlx::query("UPDATE idempotency_keys SET body_hash = ? WHERE scope = ? AND key = ?")
                .bind(body_hash)
                .bind(scope)
                .bind(key)
                .execute(&self.write)
                .await
                .map_err(db)?;
        if r.rows_affected() == 0 {
            return Err(StoreError::NotFound);
        }
        Ok(())
    }

    async fn set_contact(&self, user_id: i64, contact: &Contact) -> Result<()> {
        sqlx::query(
            "INSERT INTO user_contacts (user_id, email, phone) VALUES (?,?,?) \
             ON CONFLICT (user_id) DO UPDATE SET email = excluded.email, phone = excluded.phone",
        )
        .bind(user_id)
        .bind(&contact.email)
        .bind(codec::contact_phone_column(
            contact.phone.as_deref(),
            &self.sealer,
        ))
        .execute(&self.write)
        .await
        .map_err(db)?;
        Ok(())
    }

    async fn put_law_articles(&self, articles: &[LawArticle], now: Millis) -> Result<u64> {
        let mut tx = self.write.begin().await.map_err(db)?;
        let mut new = 0;
        for a in articles {
            let existed: Option<i64> =
                sqlx::query_scalar("SELECT 1 FROM law_articles WHERE law = ? AND label = ?")
                    .bind(&a.law)
                    .bind(&a.label)
                    .fetch_optional(&mut *tx)
                    .await
                    .map_err(db)?;
            sqlx::query(
                "INSERT INTO law_articles (law, label, number, text, imported_at) \
                 VALUES (?,?,?,?,?) ON CONFLICT (law, label) DO UPDATE SET \
                 number = excluded.number, text = excluded.text, imported_at = excluded.imported_at",
            )
            .bind(&a.law)
            .bind(&a.label)
            .bind(a.number)
            .bind(&a.text)
            .bind(now)
            .execute(&mut *tx)
            .await
            .map_err(db)?;
            new += u64::from(existed.is_none());
        }
        tx.commit().await.map_err(db)?;
        Ok(new)
    }

    async fn law_articles(&self) -> Result<Vec<LawArticle>> {
        let rows = sqlx::query(
            "SELECT law, label, number, text FROM law_articles ORDER BY law, number, label",
        )
        .fetch_all(&self.read)
        .await
        .map_err(db)?;
        rows.iter()
            .map(|r| {
                Ok(LawArticle {
                    law: r.try_get("law").map_err(db)?,
                    label: r.try_get("label").map_err(db)?,
                    number: r.try_get("number").map_err(db)?,
                    text: r.try_get("text").map_err(db)?,
                })
            })
            .collect()
    }

    async fn contacts(&self, user_ids: &[i64]) -> Result<Vec<(i64, Contact)>> {
        let mut out = Vec::new();
        for chunk in user_ids.chunks(500) {
            let mut qb = QueryBuilder::<Sqlite>::new(
                "SELECT user_id, email, phone FROM user_contacts WHERE user_id IN (",
            );
            let mut sep = qb.separated(",");
            for id in chunk {
                sep.push_bind(*id);
            }
            qb.push(") ORDER BY user_id");
            let rows = qb.build().fetch_all(&self.read).await.map_err(db)?;
            for r in &rows {
                let contact = Contact {
                    email: r.get(1),
                    phone: codec::contact_phone(r.get(2), &self.sealer)?,
                };
                out.push((r.get::<i64, _>(0), contact));
            }
        }
        Ok(out)
    }

    async fn insert_webhook(&self, input: &WebhookInput, now: Millis) -> Result<Webhook> {
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO webhooks (url, secret, kinds, active, created_at) VALUES (?,?,?,?,?) RETURNING id",
        )
        .bind(&input.url)
        .bind(&input.secret)
        .bind(codec::kinds_column(&input.kinds))
        .bind(true)
        .bind(now)
        .fetch_one(&self.write)
        .await
        .map_err(db)?;
        Ok(Webhook {
            id,
            url: input.url.clone(),
            secret: input.secret.clone(),
            kinds: input.kinds.clone(),
            active: true,
            created_at: now,
        })
    }

    async fn list_webhooks(&self) -> Result<Vec<Webhook>> {
        let rows = sqlx::query(
            "SELECT id, url, secret, kinds, active, created_at FROM webhooks ORDER BY id",
        )
        .fetch_all(&self.read)
        .await
        .map_err(db)?;
        Ok(rows
            .iter()
            .map(|r| Webhook {
                id: r.get(0),
                url: r.get(1),
                secret: r.get(2),
                kinds: codec::kinds_from_column(&r.get::<String, _>(3)),
                active: r.get(4),
                created_at: r.get(5),
            })
            .collect())
    }

    async fn set_webhook_active(&self, id: i64, active: bool) -> Result<()> {
        let r = sqlx::query("UPDATE webhooks SET active = ? WHERE id = ?")
            .bind(active)
            .bind(id)
            .execute(&self.write)
            .await
            .map_err(db)?;
        if r.rows_affected() == 0 {
            return Err(StoreError::NotFound);
        }
        Ok(())
    }

    async fn notifications_to_fan_out(&self, limit: u32) -> Result<Vec<Notification>> {
        let rows = sqlx::query(
            "SELECT id, user_id, case_id, kind, title, body, created_at, read_at FROM notifications \
             WHERE fanned_out = 0 ORDER BY id LIMIT ?",
        )
        .bind(i64::from(limit))
        .fetch_all(&self.write)
        .await
        .map_err(db)?;
        Ok(rows
            .iter()
            .map(|r| Notification {
                id: r.get(0),
                user_id: r.get(1),
                case_id: r.get(2),
                kind: r.get(3),
                title: r.get(4),
                body: r.get(5),
                created_at: r.get(6),
                read_at: r.get(7),
            })
            .collect())
    }

    async fn fan_out(
        &self,
        notification_ids: &[i64],
        deliveries: &[NewDelivery],
        now: Millis,
    ) -> Result<()> {
        self.queue_deliveries(
            deliveries,
            now,
            "UPDATE notifications SET fanned_out = 1 WHERE id = ?",
            notification_ids,
        )
        .await
    }

    async fn case_events_to_fan_out(&self, limit: u32) -> Result<Vec<QueuedCaseEvent>> {
        let rows: Vec<(i64, i64, i64, String)> =
            sqlx::query_as("SELECT id, case_id, seq, action FROM event_outbox ORDER BY id LIMIT ?")
                .bind(i64::from(limit))
                .fetch_all(&self.write)
                .await
                .map_err(db)?;
        Ok(rows
            .into_iter()
            .map(|(id, case_id, seq, action)| QueuedCaseEvent {
                id,
                case_id,
                seq: u32::try_from(seq).unwrap_or(0),
                action,
            })
            .collect())
    }

    async fn fan_out_case_events(
        &self,
        queue_ids: &[i64],
        deliveries: &[NewDelivery],
        now: Millis,
    ) -> Result<()> {
        self.queue_deliveries(
            deliveries,
            now,
            "DELETE FROM event_outbox WHERE id = ?",
            queue_ids,
        )
        .await
    }

    async fn case_sources(&self, case_ids: &[i64]) -> Result<Vec<SourceRecord>> {
        let mut out = Vec::new();
        for id in case_ids {
            let rows: Vec<(i64, String, String, i64)> = sqlx::query_as(
                "SELECT case_id, scope, key, created_at FROM idempotency_keys \
                 WHERE case_id = ? AND scope LIKE 'channel:%' ORDER BY created_at",
            )
            .bind(id)
            .fetch_all(&self.read)
            .await
            .map_err(db)?;
            out.extend(
                rows.into_iter()
                    .map(|(case_id, scope, key, at)| SourceRecord {
                        case_id,
                        channel: scope.trim_start_matches("channel:").to_string(),
                        source_id: key,
                        received_at: at,
                    }),
            );
        }
        Ok(out)
    }

    async fn claim_deliveries(
        &self,
        now: Millis,
        lease_until: Millis,
        limit: u32,
    ) -> Result<Vec<Delivery>> {
        let rows = sqlx::query(
            "UPDATE deliveries SET next_attempt_at = ? WHERE id IN (SELECT id FROM deliveries \
             WHERE status = 'pending' AND next_attempt_at <= ? ORDER BY next_attempt_at, id LIMIT ?) \
             RETURNING id, notification_id, medium, target, payload, status, attempts, next_attempt_at, last_error, created_at, delivered_at, case_id, event_seq",
        )
        .bind(lease_until)
        .bind(now)
        .bind(i64::from(limit))
        .fetch_all(&self.write)
        .await
        .map_err(db)?;
        let mut out = rows
            .iter()
            .map(|r| delivery_from_row(r, &self.sealer))
            .collect::<Result<Vec<_>>>()?;
        out.sort_by_key(|d| d.id);
        Ok(out)
    }

    async fn finish_delivery(&self, id: i64, outcome: &AttemptOutcome) -> Result<()> {
        let (status, next_at, error, delivered_at) = codec::outcome_columns(outcome);
        let r = sqlx::query(
            "UPDATE deliveries SET status = ?, attempts = attempts + 1, \
             next_attempt_at = COALESCE(?, next_attempt_at), last_error = ?, delivered_at = ? WHERE id = ?",
        )
        .bind(status)
        .bind(next_at)
        .bind(error.map(codec::clip_error))
        .bind(delivered_at)
        .bind(id)
        .execute(&self.write)
        .await
        .map_err(db)?;
        if r.rows_affected() == 0 {
            return Err(StoreError::NotFound);
        }
        Ok(())
    }

    async fn list_deliveries(
        &self,
        status: Option<DeliveryStatus>,
        limit: u32,
    ) -> Result<Vec<Delivery>> {
        let rows = sqlx::query(
            "SELECT id, notification_id, medium, target, payload, status, attempts, next_attempt_at, last_error, created_at, delivered_at, case_id, event_seq FROM deliveries WHERE (? IS NULL OR status = ?) ORDER BY id DESC LIMIT ?",
        )
        .bind(status.map(DeliveryStatus::as_str))
        .bind(status.map(DeliveryStatus::as_str))
        .bind(i64::from(limit))
        .fetch_all(&self.read)
        .await
        .map_err(db)?;
        rows.iter()
            .map(|r| delivery_from_row(r, &self.sealer))
            .collect()
    }

    async fn retry_delivery(&self, id: i64, now: Millis) -> Result<()> {
        let r = sqlx::query(
            "UPDATE deliveries SET status = 'pending', next_attempt_at = ? WHERE id = ? AND status = 'failed'",
        )
        .bind(now)
        .bind(id)
        .execute(&self.write)
        .await
        .map_err(db)?;
        if r.rows_affected() == 0 {
            return Err(StoreError::NotFound);
        }
        Ok(())
    }

    async fn delivery_counts(&self) -> Result<Vec<(DeliveryStatus, i64)>> {
        let rows: Vec<(String, i64)> = sqlx::query_as(
            "SELECT status, COUNT(*) FROM deliveries GROUP BY status ORDER BY status",
        )
        .fetch_all(&self.read)
        .await
        .map_err(db)?;
        rows.iter()
            .map(|(s, n)| Ok((codec::delivery_status(s)?, *n)))
            .collect()
    }
}

impl SqliteStore {
    /// In one transaction: queues deliveries (a repeat is ignored) and runs `done` (one id
    /// parameter) for each source id, marking its sources as fanned out.
    async fn queue_deliveries(
        &self,
        deliveries: &[NewDelivery],
        now: Millis,
        done: &str,
        ids: &[i64],
    ) -> Result<()> {
        let mut tx = self.begin().await?;
        insert_deliveries(&mut tx, deliveries, now, &self.sealer).await?;
        for id in ids {
            sqlx::query(done)
                .bind(id)
                .execute(&mut *tx)
                .await
                .map_err(db)?;
        }
        tx.commit().await.map_err(db)
    }
}

async fn insert_deliveries(
    tx: &mut sqlx::Transaction<'_, sqlx::Sqlite>,
    deliveries: &[NewDelivery],
    now: Millis,
    sl: &Sealer,
) -> Result<()> {
    for d in deliveries {
        let event = d.source.event();
        sqlx::query(
            "INSERT INTO deliveries (notification_id, case_id, event_seq, medium, target, payload, \
             status, attempts, next_attempt_at, created_at) VALUES (?,?,?,?,?,?,'pending',0,?,?) \
             ON CONFLICT DO NOTHING",
        )
        .bind(d.source.notification_id())
        .bind(event.map(|e| e.0))
        .bind(event.map(|e| e.1))
        .bind(d.medium.as_str())
        .bind(codec::delivery_target_column(d.medium, &d.target, sl))
        .bind(&d.payload)
        .bind(now)
        .bind(now)
        .execute(&mut **tx)
        .await
        .map_err(db)?;
    }
    Ok(())
}

fn delivery_from_row(r: &SqliteRow, sl: &Sealer) -> Result<fengqiao_domain::outbound::Delivery> {
    Ok(fengqiao_domain::outbound::Delivery {
        id: r.get(0),
        source: DeliverySource::from_columns(
            r.get(1),
            r.get::<Option<i64>, _>(11).zip(r.get::<Option<i64>, _>(12)),
        ),
        medium: codec::medium(&r.get::<String, _>(2))?,
        target: sl.open("target", r.get(3))?,
        payload: r.get(4),
        status: codec::delivery_status(&r.get::<String, _>(5))?,
        attempts: u32::try_from(r.get::<i64, _>(6)).unwrap_or(0),
        next_attempt_at: r.get(7),
        last_error: r.get(8),
        created_at: r.get(9),
        delivered_at: r.get(10),
    })
}

/// The statements key rotation runs over a sealed column: a page of rows after a key (500,
/// in key order), and the replacement of one value if it is still the one read.
fn reseal_sql(col: &seal::SealedColumn) -> (String, String) {
    let [k1, k2] = col.keys;
    let (t, c, only) = (col.table, col.column, col.only);
    (
        format!(
            "SELECT CAST({k1} AS BIGINT), CAST({k2} AS BIGINT), {c} FROM {t} \
             WHERE {only} AND ({k1}, {k2}) > (?, ?) ORDER BY 1, 2 LIMIT 500"
        ),
        format!("UPDATE {t} SET {c} = ? WHERE {k1} = ? AND {k2} = ? AND {c} = ?"),
    )
}

const EXPORT_COLS: &str =
    "id, requested_by, scope_path, list_filter, purpose, status, decided_by, \
     requested_at, decided_at, downloaded_at";

fn export_row(r: &SqliteRow) -> Result<fengqiao_domain::export::ExportRequest> {
    Ok(fengqiao_domain::export::ExportRequest {
        id: r.get("id"),
        requested_by: r.get("requested_by"),
        scope_path: r.get("scope_path"),
        filter: r.get("list_filter"),
        purpose: r.get("purpose"),
        status: codec::export_status(r.get("status"))?,
        decided_by: r.get("decided_by"),
        requested_at: r.get("requested_at"),
        decided_at: r.get("decided_at"),
        downloaded_at: r.get("downloaded_at"),
    })
}
