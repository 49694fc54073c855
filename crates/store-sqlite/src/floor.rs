//! The write floor, for `fengqiao bench import-speed --floor`: how long SQLite itself takes to
//! store the rows an import writes per case — the case, its registration event and outbox
//! entry, its idempotency key, its party keys and its stored analysis, at the sizes a real
//! import left — with nothing else to do: no Rust work, no text reading, no duplicate search,
//! rows made by SQLite from a recursive CTE (`INSERT … SELECT`). An import cannot write its
//! cases faster than this; the benchmark only, not used by the platform.
use crate::{db, sqlite_url as url, WAL_AUTOCHECKPOINT};
use fengqiao_store::{Result, StoreError};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqliteSynchronous};
use sqlx::{Connection, Row, SqliteConnection};
use std::str::FromStr;
use std::time::{Duration, Instant};

/// Mean sizes of what an import stored per case.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RowShape {
    pub cases: i64,
    pub state_bytes: i64,
    pub event_bytes: i64,
    pub analysis_bytes: i64,
    pub fingerprint_bytes: i64,
    /// Party keys per case (rounded).
    pub party_keys: i64,
}

/// Journal settings of a floor run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Durability {
    /// The store's own: WAL, `synchronous=FULL`, its cache and checkpoint settings, and a
    /// second connection checkpointing beside the writer as the store's checkpointer does.
    Store,
    /// No journal, no sync (a crash can corrupt the file): the least SQLite can do at all.
    None,
}

/// The mean sizes of the cases registered with an id above `after_id` in the database at
/// `path` (opened on its own connection, read only).
pub async fn shape_of(path: &str, after_id: i64) -> Result<RowShape> {
    let opts = SqliteConnectOptions::from_str(&url(path))
        .map_err(db)?
        .read_only(true);
    let mut c = SqliteConnection::connect_with(&opts).await.map_err(db)?;
    let row = sqlx::query(
        "SELECT COUNT(*) AS n, \
           CAST(COALESCE(AVG(LENGTH(c.state)), 0) AS INTEGER) AS state, \
           CAST(COALESCE(AVG(LENGTH(e.payload)), 0) AS INTEGER) AS event, \
           CAST(COALESCE(AVG(LENGTH(a.analysis)), 0) AS INTEGER) AS analysis, \
           CAST(COALESCE(AVG(LENGTH(a.fingerprint)), 0) AS INTEGER) AS fingerprint \
         FROM cases c JOIN case_events e ON e.case_id = c.id AND e.seq = 1 \
         LEFT JOIN case_analyses a ON a.case_id = c.id WHERE c.id > ?",
    )
    .bind(after_id)
    .fetch_one(&mut c)
    .await
    .map_err(db)?;
    let cases: i64 = row.get("n");
    let keys: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM party_keys WHERE case_id > ?")
        .bind(after_id)
        .fetch_one(&mut c)
        .await
        .map_err(db)?;
    Ok(RowShape {
        cases,
        state_bytes: row.get("state"),
        event_bytes: row.get("event"),
        analysis_bytes: row.get("analysis"),
        fingerprint_bytes: row.get("fingerprint"),
        party_keys: if cases == 0 {
            0
        } else {
            (keys as f64 / cases as f64).round() as i64
        },
    })
}

/// Writes `rows` cases of `shape` into a new database at `path` (the store's own schema), one
/// transaction per `per_commit` cases, and returns the time taken.
pub async fn write_floor(
    path: &str,
    shape: RowShape,
    rows: i64,
    per_commit: i64,
    durability: Durability,
) -> Result<Duration> {
    let busy = Duration::from_secs(30);
    let mut opts = SqliteConnectOptions::from_str(&url(path))
        .map_err(db)?
        .create_if_missing(true)
        .busy_timeout(busy)
        .pragma("cache_size", "-262144")
        .pragma("temp_store", "memory");
    opts = match durability {
        Durability::Store => opts
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Full)
            .pragma("wal_autocheckpoint", WAL_AUTOCHECKPOINT.to_string()),
        Durability::None => opts
            .journal_mode(SqliteJournalMode::Off)
            .synchronous(SqliteSynchronous::Off),
    };
    let mut c = SqliteConnection::connect_with(&opts).await.map_err(db)?;
    // The schema: the store's migrations.
    sqlx::migrate!("./migrations")
        .run(&mut c)
        .await
        .map_err(|e| StoreError::Backend(format!("migrations: {e}")))?;
    let checkpointer = match durability {
        Durability::Store => {
            let cp_opts = SqliteConnectOptions::from_str(&url(path))
                .map_err(db)?
                .busy_timeout(busy);
            let mut cp = SqliteConnection::connect_with(&cp_opts).await.map_err(db)?;
            let (stop, mut stopped) = tokio::sync::oneshot::channel::<()>();
            let task = tokio::spawn(async move {
                loop {
                    let _ = sqlx::query("PRAGMA wal_checkpoint(PASSIVE)")
                        .execute(&mut cp)
                        .await;
                    tokio::select! {
                        _ = &mut stopped => return,
                        () = tokio::time::sleep(Duration::from_millis(250)) => {}
                    }
                }
            });
            Some((stop, task))
        }
        Durability::None => None,
    };
    let pad = |n: i64, c: char| -> String { std::iter::repeat_n(c, n.max(1) as usize).collect() };
    let (state, event, analysis, fingerprint) = (
        pad(shape.state_bytes, 's'),
        pad(shape.event_bytes, 'e'),
        pad(shape.analysis_bytes, 'a'),
        pad(shape.fingerprint_bytes, 'f'),
    );
    let started = Instant::now();
    let mut first = 1i64;
    while first <= rows {
        let last = (first + per_commit - 1).min(rows);
        let n = format!(
            "WITH RECURSIVE n(i) AS (SELECT {first} UNION ALL SELECT i + 1 FROM n WHERE i < {last}) "
        );
        let mut statements: Vec<(String, Vec<&String>)> = vec![
            // Tracking codes, paths, times, keys: varied as real ones are (index pages are
            // touched at random, not appended to).
            (format!(
                "{n}INSERT INTO cases (id, tracking_code, version, status, channel, dispute_type, \
                 node_path, lead_unit_id, light, due_date, open_supervisions, submitted_by, \
                 registered_at, updated_at, state) SELECT i + 1000000000, \
                 printf('F%08X', (i * 2654435761) % 4294967291), 1, 'registered', 'police', \
                 'neighbourhood', '/990000/990100/990102/990102010/' || (990102010000 + i % 300) || '/', \
                 NULL, 'none', NULL, 0, NULL, 1796674264444 + i * 977 % 86400000, \
                 1796674264444 + i, ?1 || i FROM n"
            ), vec![&state]),
            (format!(
                "{n}INSERT INTO case_events (case_id, seq, at, actor_id, action, payload) \
                 SELECT i + 1000000000, 1, 1796674264444 + i, NULL, 'registered', ?1 || i FROM n"
            ), vec![&event]),
            (format!(
                "{n}INSERT INTO event_outbox (case_id, seq, action) \
                 SELECT i + 1000000000, 1, 'registered' FROM n"
            ), vec![]),
            (format!(
                "{n}INSERT INTO idempotency_keys (scope, key, body_hash, case_id, created_at) \
                 SELECT 'channel:police', printf('P%010d', (i * 7919) % 1000000007), \
                 printf('%064d', i), i + 1000000000, 1796674264444 + i FROM n"
            ), vec![]),
            (format!(
                "{n}INSERT INTO case_analyses (case_id, analyser_version, analysed_at, \
                 registered_at, analysis, fingerprint) SELECT i + 1000000000, 'text-3', \
                 1796674264444 + i, 1796674264444 + i * 977 % 86400000, ?1 || i, ?2 || i FROM n"
            ), vec![&analysis, &fingerprint]),
        ];
        for k in 0..shape.party_keys {
            statements.push((
                format!(
                    "{n}INSERT INTO party_keys (blind, case_id) SELECT \
                 printf('%016x%016x', (i * 2654435761 + {k}) % 4294967291, \
                 (i * 40503 + {k} * 7) % 4294967279), i + 1000000000 FROM n"
                ),
                vec![],
            ));
        }
        let mut tx = c.begin().await.map_err(db)?;
        for (sql, pads) in &statements {
            let mut q = sqlx::query(sql);
            for p in pads {
                q = q.bind(p.as_str());
            }
            q.execute(&mut *tx).await.map_err(db)?;
        }
        tx.commit().await.map_err(db)?;
        first = last + 1;
    }
    let took = started.elapsed();
    if let Some((stop, task)) = checkpointer {
        let _ = stop.send(());
        task.await
            .map_err(|e| StoreError::Backend(format!("checkpointer: {e}")))?;
    }
    c.close().await.map_err(db)?;
    Ok(took)
}
