//! PostgreSQL backend, for deployments bigger than one SQLite file.
//!
//! Same representation as the SQLite backend (see `fengqiao_store::codec`); concurrency is
//! PostgreSQL's own (row locks, unique constraints), so writers use the shared pool.
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
use sqlx::postgres::{PgPoolOptions, PgRow};
use sqlx::{PgPool, Postgres, QueryBuilder, Row, Transaction};
use std::sync::Arc;
use std::time::Duration;

pub mod testing;

pub struct PostgresStore {
    pool: PgPool,
    url: String,
    sealer: Arc<Sealer>,
}

fn db(e: sqlx::Error) -> StoreError {
    match &e {
        sqlx::Error::Database(d) if d.is_unique_violation() => StoreError::Duplicate("unique key"),
        sqlx::Error::Database(d) if d.is_foreign_key_violation() => StoreError::NotFound,
        _ => StoreError::Backend(e.to_string()),
    }
}

impl PostgresStore {
    /// Connects to a `postgres://` URL, sealing personal numbers with the demo's published
    /// keys (tests and the demo).
    pub async fn open(url: &str) -> Result<PostgresStore> {
        PostgresStore::open_sealed(url, Arc::new(Sealer::demo())).await
    }

    /// [`PostgresStore::open`] with the keyring personal numbers are sealed with.
    pub async fn open_sealed(url: &str, sealer: Arc<Sealer>) -> Result<PostgresStore> {
        let pool = PgPoolOptions::new()
            .max_connections(16)
            .acquire_timeout(Duration::from_secs(60))
            .connect(url)
            .await
            .map_err(db)?;
        Ok(PostgresStore {
            pool,
            url: url.to_string(),
            sealer,
        })
    }

    async fn begin(&self) -> Result<Transaction<'static, Postgres>> {
        self.pool.begin().await.map_err(db)
    }
}

/// The LIKE pattern of a subtree (paths hold only digits and '/', so nothing needs escaping).
fn subtree_like(prefix: &str) -> String {
    format!("{prefix}%")
}

fn user_row(r: &PgRow, sl: &Sealer) -> Result<UserRecord> {
    Ok(UserRecord {
        id: r.get("id"),
        username: r.get("username"),
        display_name: r.get("display_name"),
        password_hash: r.get("password_hash"),
        role: codec::role(r.get("role"))?,
        scope_code: r.get("scope_code"),
        scope_path: r.get("scope_path"),
        unit_id: r.get("unit_id"),
        disabled: r.get::<bool, _>("disabled"),
        created_at: r.get("created_at"),
        password_changed_at: r.get("password_changed_at"),
        must_change_password: r.get::<bool, _>("must_change_password"),
        totp_secret: codec::totp_secret(r.get("totp_secret"), sl)?,
        totp_enabled: r.get::<bool, _>("totp_enabled"),
        totp_last_step: r.get("totp_last_step"),
    })
}

fn unit_row(r: &PgRow) -> Result<Unit> {
    Ok(Unit {
        id: r.get("id"),
        name: r.get("name"),
        kind: codec::unit_kind(r.get("kind"))?,
        node_code: r.get("node_code"),
        specialty: r.get("specialty"),
        leader_user_id: r.get("leader_user_id"),
    })
}

fn node_row(r: &PgRow) -> Result<Jurisdiction> {
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

fn case_row(r: &PgRow, sl: &Sealer) -> Result<StoredCase> {
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
    tx: &mut Transaction<'static, Postgres>,
    stats_acc: &mut stats::Delta,
    state: &CaseState,
    c: &CaseColumns,
    version: i64,
    now: Millis,
) -> Result<i64> {
    let id: i64 = sqlx::query_scalar(
        "INSERT INTO cases (tracking_code, version, status, channel, dispute_type, node_path, lead_unit_id, light, \
         due_date, open_supervisions, submitted_by, registered_at, updated_at, state) \
         VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12,$13,$14) RETURNING id",
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
    .fetch_one(&mut **tx)
    .await
    .map_err(db)?;
    write_case_units(tx, id, c).await?;
    write_party_keys(tx, id, &c.party_keys).await?;
    stats_acc.add(state, 1);
    Ok(id)
}

/// Adds a change to the statistics' roll-up rows in one statement. Keys are in sorted order
/// (the map is sorted), so concurrent transactions lock shared rows in the same order and
/// cannot deadlock.
async fn apply_stats(tx: &mut Transaction<'static, Postgres>, d: &stats::Delta) -> Result<()> {
    let rows: Vec<_> = d.rows.iter().filter(|(_, v)| **v != 0).collect();
    if rows.is_empty() {
        return Ok(());
    }
    let col =
        |f: fn(&stats::RollKey) -> &str| -> Vec<&str> { rows.iter().map(|(k, _)| f(k)).collect() };
    let values: Vec<i64> = rows.iter().map(|(_, v)| **v).collect();
    sqlx::query(
        "INSERT INTO stats_rollup (scope, grain, period, dim, metric, value) \
         SELECT * FROM UNNEST($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::bigint[]) \
         ON CONFLICT (scope, grain, period, dim, metric) \
         DO UPDATE SET value = stats_rollup.value + excluded.value",
    )
    .bind(col(|k| &k.scope))
    .bind(
        rows.iter()
            .map(|(k, _)| codec::grain_column(k.grain, &k.dim))
            .collect::<Vec<String>>(),
    )
    .bind(col(|k| &k.period))
    .bind(col(|k| &k.dim))
    .bind(col(|k| &k.metric))
    .bind(values)
    .execute(&mut **tx)
    .await
    .map_err(db)?;
    Ok(())
}

/// Writes in-app notifications in a transaction.
async fn insert_notifications(
    tx: &mut Transaction<'static, Postgres>,
    notifications: &[NewNotification],
    now: Millis,
) -> Result<()> {
    for n in notifications {
        sqlx::query("INSERT INTO notifications (user_id, case_id, kind, title, body, created_at) VALUES ($1,$2,$3,$4,$5,$6)")
            .bind(n.user_id)
            .bind(n.case_id)
            .bind(&n.kind)
            .bind(&n.title)
            .bind(&n.body)
            .bind(now)
            .execute(&mut **tx)
            .await
            .map_err(db)?;
    }
    Ok(())
}

/// Writes the `party_keys` projection of a new case.
async fn write_party_keys(
    tx: &mut Transaction<'static, Postgres>,
    id: i64,
    keys: &[String],
) -> Result<()> {
    for k in keys {
        sqlx::query(
            "INSERT INTO party_keys (blind, case_id) VALUES ($1,$2) ON CONFLICT DO NOTHING",
        )
        .bind(k)
        .bind(id)
        .execute(&mut **tx)
        .await
        .map_err(db)?;
    }
    Ok(())
}

/// Indexes the parties of cases stored before the `party_keys` table (once: when it is empty
/// and cases exist), a thousand cases a transaction.
async fn backfill_party_keys(pool: &PgPool, sl: &Sealer) -> Result<()> {
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
            sqlx::query_as("SELECT id, state FROM cases WHERE id > $1 ORDER BY id LIMIT 1000")
                .bind(after)
                .fetch_all(pool)
                .await
                .map_err(db)?;
        let Some((last, _)) = rows.last() else {
            return Ok(());
        };
        after = *last;
        let mut tx = pool.begin().await.map_err(db)?;
        for (id, state) in &rows {
            let keys = codec::party_keys(&codec::state_from_json(state, sl)?, sl);
            write_party_keys(&mut tx, *id, &keys).await?;
        }
        tx.commit().await.map_err(db)?;
    }
}

async fn write_case_units(
    tx: &mut Transaction<'static, Postgres>,
    id: i64,
    c: &CaseColumns,
) -> Result<()> {
    for (unit, lead) in &c.units {
        sqlx::query("INSERT INTO case_units (case_id, unit_id, lead) VALUES ($1,$2,$3)")
            .bind(id)
            .bind(unit)
            .bind(*lead)
            .execute(&mut **tx)
            .await
            .map_err(db)?;
    }
    for user in &c.experts {
        sqlx::query("INSERT INTO case_experts (case_id, user_id) VALUES ($1,$2)")
            .bind(id)
            .bind(user)
            .execute(&mut **tx)
            .await
            .map_err(db)?;
    }
    Ok(())
}

/// Queues appended events for the webhooks that follow cases (fanned out by the courier).
async fn queue_for_webhooks(
    tx: &mut Transaction<'static, Postgres>,
    case_id: i64,
    events: &[CaseEvent],
) -> Result<()> {
    for e in events {
        sqlx::query("INSERT INTO event_outbox (case_id, seq, action) VALUES ($1,$2,$3)")
            .bind(case_id)
            .bind(i64::from(e.seq))
            .bind(e.kind.name())
            .execute(&mut **tx)
            .await
            .map_err(db)?;
    }
    Ok(())
}

async fn insert_events(
    tx: &mut Transaction<'static, Postgres>,
    case_id: i64,
    events: &[CaseEvent],
    sl: &Sealer,
) -> Result<()> {
    for e in events {
        sqlx::query("INSERT INTO case_events (case_id, seq, at, actor_id, action, payload) VALUES ($1,$2,$3,$4,$5,$6)")
            .bind(case_id)
            .bind(i64::from(e.seq))
            .bind(e.at)
            .bind(e.actor_id)
            .bind(e.kind.name())
            .bind(codec::event_payload(&e.kind, sl)?)
            .execute(&mut **tx)
            .await
            .map_err(db)?;
    }
    Ok(())
}

/// Replaces the state and projected columns of a case whose version is `expected`; `now`
/// (when given) becomes `updated_at`. `Conflict` when the version moved, `NotFound` when no case.
async fn update_case_row(
    tx: &mut Transaction<'static, Postgres>,
    stats_acc: &mut stats::Delta,
    case_id: i64,
    (expected, new_version): (i64, i64),
    (state, c): (&CaseState, &CaseColumns),
    now: Option<Millis>,
    sl: &Sealer,
) -> Result<()> {
    // The state being replaced (locked), for the statistics' change.
    let old: Option<String> =
        sqlx::query_scalar("SELECT state FROM cases WHERE id = $1 AND version = $2 FOR UPDATE")
            .bind(case_id)
            .bind(expected)
            .fetch_optional(&mut **tx)
            .await
            .map_err(db)?;
    let old = old
        .as_deref()
        .map(|s| codec::state_from_json(s, sl))
        .transpose()?;
    let r = sqlx::query(
        "UPDATE cases SET version = $1, status = $2, dispute_type = $3, node_path = $4, lead_unit_id = $5, light = $6, \
         due_date = $7, open_supervisions = $8, updated_at = COALESCE($9, updated_at), state = $10 WHERE id = $11 AND version = $12",
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
    .execute(&mut **tx)
    .await
    .map_err(db)?;
    if r.rows_affected() == 1 {
        if let Some(old) = &old {
            stats_acc.add(old, -1);
        }
        stats_acc.add(state, 1);
        return Ok(());
    }
    let exists: Option<i64> = sqlx::query_scalar("SELECT id FROM cases WHERE id = $1")
        .bind(case_id)
        .fetch_optional(&mut **tx)
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
    tx: &mut Transaction<'static, Postgres>,
    case_id: i64,
    c: &CaseColumns,
) -> Result<()> {
    for table in ["case_units", "case_experts", "party_keys"] {
        sqlx::query(&format!("DELETE FROM {table} WHERE case_id = $1"))
            .bind(case_id)
            .execute(&mut **tx)
            .await
            .map_err(db)?;
    }
    write_party_keys(tx, case_id, &c.party_keys).await?;
    write_case_units(tx, case_id, c).await
}

fn push_filter(qb: &mut QueryBuilder<'_, Postgres>, f: &CaseFilter) {
    let v = &f.visibility;
    qb.push(" WHERE (FALSE");
    if let Some(p) = &v.scope_path {
        qb.push(" OR node_path LIKE ").push_bind(subtree_like(p));
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
        qb.push(" AND node_path LIKE ").push_bind(subtree_like(p));
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
impl Store for PostgresStore {
    fn sealer(&self) -> &Sealer {
        &self.sealer
    }

    async fn migrate(&self) -> Result<()> {
        sqlx::migrate!("./migrations")
            .run(&self.pool)
            .await
            .map_err(|e| StoreError::Backend(e.to_string()))?;
        backfill_party_keys(&self.pool, &self.sealer).await
    }

    async fn upsert_jurisdictions(&self, nodes: &[Jurisdiction]) -> Result<()> {
        let mut tx = self.begin().await?;
        for n in nodes {
            let boundary = n.boundary.as_ref().map(|b| b.to_string());
            sqlx::query(
                "INSERT INTO jurisdictions (code, name, level, parent_code, path, centroid_lon, centroid_lat, boundary) \
                 VALUES ($1,$2,$3,$4,$5,$6,$7,$8) ON CONFLICT (code) DO UPDATE SET name = excluded.name, \
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
        let row = sqlx::query("SELECT * FROM jurisdictions WHERE code = $1")
            .bind(code)
            .fetch_optional(&self.pool)
            .await
            .map_err(db)?;
        row.as_ref().map(node_row).transpose()
    }

    async fn list_jurisdictions(&self, parent: Option<&str>) -> Result<Vec<Jurisdiction>> {
        let rows = match parent {
            Some(p) => {
                sqlx::query("SELECT * FROM jurisdictions WHERE parent_code = $1 ORDER BY code")
                    .bind(p)
            }
            None => {
                sqlx::query("SELECT * FROM jurisdictions WHERE parent_code IS NULL ORDER BY code")
            }
        }
        .fetch_all(&self.pool)
        .await
        .map_err(db)?;
        rows.iter().map(node_row).collect()
    }

    async fn insert_unit(&self, unit: &NewUnit, node_path: &str) -> Result<Unit> {
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO units (name, kind, node_code, node_path, specialty) VALUES ($1,$2,$3,$4,$5) RETURNING id",
        )
        .bind(&unit.name)
        .bind(unit.kind.as_str())
        .bind(&unit.node_code)
        .bind(node_path)
        .bind(&unit.specialty)
        .fetch_one(&self.pool)
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
        let r = sqlx::query("UPDATE units SET leader_user_id = $1 WHERE id = $2")
            .bind(user_id)
            .bind(unit_id)
            .execute(&self.pool)
            .await
            .map_err(db)?;
        if r.rows_affected() == 0 {
            return Err(StoreError::NotFound);
        }
        Ok(())
    }

    async fn get_unit(&self, id: i64) -> Result<Option<Unit>> {
        let row = sqlx::query("SELECT * FROM units WHERE id = $1")
            .bind(id)
            .fetch_optional(&self.pool)
            .await
            .map_err(db)?;
        row.as_ref().map(unit_row).transpose()
    }

    async fn list_units(&self, scope_path: &str) -> Result<Vec<Unit>> {
        let rows = sqlx::query("SELECT * FROM units WHERE node_path LIKE $1 ORDER BY id")
            .bind(subtree_like(scope_path))
            .fetch_all(&self.pool)
            .await
            .map_err(db)?;
        rows.iter().map(unit_row).collect()
    }

    async fn insert_user(&self, u: &NewUser, now: Millis) -> Result<UserRecord> {
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO users (username, display_name, password_hash, role, scope_code, scope_path, unit_id, created_at, \
             password_changed_at, must_change_password) VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10) RETURNING id",
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
        .fetch_one(&self.pool)
        .await
        .map_err(|e| match db(e) {
            StoreError::Duplicate(_) => StoreError::Duplicate("username"),
            other => other,
        })?;
        self.get_user(id).await?.ok_or(StoreError::NotFound)
    }

    async fn update_user(&self, id: i64, u: &UserUpdate) -> Result<UserRecord> {
        let mut tx = self.pool.begin().await.map_err(db)?;
        let r = sqlx::query(
            "UPDATE users SET display_name = $1, role = $2, scope_code = $3, scope_path = $4, \
             unit_id = $5, disabled = $6 WHERE id = $7",
        )
        .bind(&u.display_name)
        .bind(u.role.as_str())
        .bind(&u.scope_code)
        .bind(&u.scope_path)
        .bind(u.unit_id)
        .bind(u.disabled)
        .bind(id)
        .execute(&mut *tx)
        .await
        .map_err(db)?;
        if r.rows_affected() == 0 {
            return Err(StoreError::NotFound);
        }
        if u.disabled {
            sqlx::query("DELETE FROM sessions WHERE user_id = $1")
                .bind(id)
                .execute(&mut *tx)
                .await
                .map_err(db)?;
        }
        tx.commit().await.map_err(db)?;
        self.get_user(id).await?.ok_or(StoreError::NotFound)
    }

    async fn get_user(&self, id: i64) -> Result<Option<UserRecord>> {
        let row = sqlx::query(&format!("SELECT {USER_COLS} FROM users WHERE id = $1"))
            .bind(id)
            .fetch_optional(&self.pool)
            .await
            .map_err(db)?;
        row.as_ref().map(|r| user_row(r, &self.sealer)).transpose()
    }

    async fn get_user_by_username(&self, username: &str) -> Result<Option<UserRecord>> {
        let row = sqlx::query(&format!(
            "SELECT {USER_COLS} FROM users WHERE username = $1"
        ))
        .bind(username)
        .fetch_optional(&self.pool)
        .await
        .map_err(db)?;
        row.as_ref().map(|r| user_row(r, &self.sealer)).transpose()
    }

    async fn list_users(&self, scope_path: &str, role: Option<Role>) -> Result<Vec<UserRecord>> {
        let rows = sqlx::query(&format!(
            "SELECT {USER_COLS} FROM users WHERE scope_path LIKE $1 AND ($2::text IS NULL OR role = $2) ORDER BY id"
        ))
        .bind(subtree_like(scope_path))
        .bind(role.map(|r| r.as_str()))
        .fetch_all(&self.pool)
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
            "INSERT INTO sessions (token_hash, user_id, stage, created_at, expires_at) VALUES ($1,$2,$3,$4,$5)",
        )
        .bind(token_hash)
        .bind(user_id)
        .bind(stage.as_str())
        .bind(now)
        .bind(expires_at)
        .execute(&self.pool)
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
             WHERE s.token_hash = $1 AND s.expires_at > $2 AND u.disabled = FALSE"
        ))
        .bind(token_hash)
        .bind(now)
        .fetch_optional(&self.pool)
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
        sqlx::query("UPDATE sessions SET stage = $1, expires_at = $2 WHERE token_hash = $3")
            .bind(stage.as_str())
            .bind(expires_at)
            .bind(token_hash)
            .execute(&self.pool)
            .await
            .map_err(db)?;
        Ok(())
    }

    async fn delete_session(&self, token_hash: &str) -> Result<()> {
        sqlx::query("DELETE FROM sessions WHERE token_hash = $1")
            .bind(token_hash)
            .execute(&self.pool)
            .await
            .map_err(db)?;
        Ok(())
    }

    async fn delete_user_sessions(&self, user_id: i64, keep: Option<&str>) -> Result<()> {
        sqlx::query("DELETE FROM sessions WHERE user_id = $1 AND token_hash <> $2")
            .bind(user_id)
            .bind(keep.unwrap_or(""))
            .execute(&self.pool)
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
            "UPDATE users SET password_hash = $1, must_change_password = $2, password_changed_at = $3 WHERE id = $4",
        )
        .bind(password_hash)
        .bind(must_change)
        .bind(now)
        .bind(user_id)
        .execute(&self.pool)
        .await
        .map_err(db)?;
        if r.rows_affected() == 0 {
            return Err(StoreError::NotFound);
        }
        Ok(())
    }

    async fn set_totp(&self, user_id: i64, secret: Option<&str>, enabled: bool) -> Result<()> {
        let r = sqlx::query("UPDATE users SET totp_secret = $1, totp_enabled = $2 WHERE id = $3")
            .bind(codec::totp_secret_column(secret, &self.sealer))
            .bind(enabled)
            .bind(user_id)
            .execute(&self.pool)
            .await
            .map_err(db)?;
        if r.rows_affected() == 0 {
            return Err(StoreError::NotFound);
        }
        Ok(())
    }

    async fn use_totp_step(&self, user_id: i64, step: i64) -> Result<bool> {
        let r = sqlx::query(
            "UPDATE users SET totp_last_step = $1 WHERE id = $2 AND totp_last_step < $3",
        )
        .bind(step)
        .bind(user_id)
        .bind(step)
        .execute(&self.pool)
        .await
        .map_err(db)?;
        Ok(r.rows_affected() == 1)
    }

    async fn append_audit(&self, records: &[NewAuditRecord]) -> Result<i64> {
        let mut tx = self.pool.begin().await.map_err(db)?;
        sqlx::query("SELECT pg_advisory_xact_lock(7207)")
            .execute(&mut *tx)
            .await
            .map_err(db)?;
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
                 VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11)",
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
             FROM audit_log WHERE seq > $1 ORDER BY seq LIMIT $2",
        )
        .bind(after_seq)
        .bind(limit)
        .fetch_all(&self.pool)
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
            .fetch_optional(&self.pool)
            .await
            .map_err(db)
    }

    async fn put_audit_checkpoint(&self, cp: &Checkpoint) -> Result<()> {
        sqlx::query("INSERT INTO audit_checkpoints (seq, hash, at, mac) VALUES ($1,$2,$3,$4)")
            .bind(cp.seq)
            .bind(&cp.hash)
            .bind(cp.at)
            .bind(&cp.mac)
            .execute(&self.pool)
            .await
            .map_err(db)?;
        Ok(())
    }

    async fn audit_checkpoints(&self) -> Result<Vec<Checkpoint>> {
        let rows = sqlx::query("SELECT seq, hash, at, mac FROM audit_checkpoints ORDER BY seq")
            .fetch_all(&self.pool)
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
            sqlx::query("SELECT failures, locked_until FROM login_throttle WHERE username = $1")
                .bind(username)
                .fetch_optional(&self.pool)
                .await
                .map_err(db)?;
        Ok(row.map(|r| Throttle {
            failures: u32::try_from(r.get::<i32, _>("failures")).unwrap_or(0),
            locked_until: r.get("locked_until"),
        }))
    }

    async fn set_login_throttle(&self, username: &str, throttle: Option<&Throttle>) -> Result<()> {
        match throttle {
            None => sqlx::query("DELETE FROM login_throttle WHERE username = $1")
                .bind(username)
                .execute(&self.pool)
                .await
                .map_err(db)?,
            Some(t) => sqlx::query(
                "INSERT INTO login_throttle (username, failures, locked_until) VALUES ($1,$2,$3) \
                 ON CONFLICT (username) DO UPDATE SET failures = excluded.failures, locked_until = excluded.locked_until",
            )
            .bind(username)
            .bind(i32::try_from(t.failures).unwrap_or(i32::MAX))
            .bind(t.locked_until)
            .execute(&self.pool)
            .await
            .map_err(db)?,
        };
        Ok(())
    }

    async fn calendar_days(&self) -> Result<Vec<CalendarDay>> {
        let rows = sqlx::query("SELECT day, kind, note FROM calendar_days ORDER BY day")
            .fetch_all(&self.pool)
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
                "INSERT INTO calendar_days (day, kind, note) VALUES ($1,$2,$3) \
                 ON CONFLICT (day) DO UPDATE SET kind = excluded.kind, note = excluded.note",
            )
            .bind(day)
            .bind(k.as_str())
            .bind(note),
            None => sqlx::query("DELETE FROM calendar_days WHERE day = $1").bind(day),
        }
        .execute(&self.pool)
        .await
        .map_err(db)?;
        Ok(())
    }

    async fn get_setting(&self, key: &str) -> Result<Option<String>> {
        sqlx::query_scalar("SELECT value FROM settings WHERE key = $1")
            .bind(key)
            .fetch_optional(&self.pool)
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
        // Concurrent deliverers queue on the setting's row (created empty if missing).
        sqlx::query(
            "INSERT INTO settings (key, value) VALUES ($1, '') ON CONFLICT (key) DO NOTHING",
        )
        .bind(key)
        .execute(&mut *tx)
        .await
        .map_err(db)?;
        let current: Option<String> =
            sqlx::query_scalar("SELECT value FROM settings WHERE key = $1 FOR UPDATE")
                .bind(key)
                .fetch_optional(&mut *tx)
                .await
                .map_err(db)?;
        if current.as_deref() == Some(value) {
            return Ok(false);
        }
        insert_notifications(&mut tx, notifications, now).await?;
        sqlx::query("INSERT INTO settings (key, value) VALUES ($1,$2) ON CONFLICT (key) DO UPDATE SET value = excluded.value")
            .bind(key)
            .bind(value)
            .execute(&mut *tx)
            .await
            .map_err(db)?;
        tx.commit().await.map_err(db)?;
        Ok(true)
    }

    async fn put_setting(&self, key: &str, value: &str) -> Result<()> {
        sqlx::query("INSERT INTO settings (key, value) VALUES ($1,$2) ON CONFLICT (key) DO UPDATE SET value = excluded.value")
            .bind(key)
            .bind(value)
            .execute(&self.pool)
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
        let cols = codec::case_columns(state, &self.sealer)?;
        let mut tx = self.begin().await?;
        if let Some(k) = idem {
            let prior: Option<(i64, String)> = sqlx::query_as(
                "SELECT case_id, body_hash FROM idempotency_keys WHERE scope = $1 AND key = $2",
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
        let mut acc = stats::Delta::default();
        let id = insert_case_row(&mut tx, &mut acc, state, &cols, 1, event.at).await?;
        apply_stats(&mut tx, &acc).await?;
        insert_events(&mut tx, id, std::slice::from_ref(event), &self.sealer).await?;
        queue_for_webhooks(&mut tx, id, std::slice::from_ref(event)).await?;
        if let Some(a) = analysis {
            insert_analysis(&mut tx, id, a, &self.sealer).await?;
        }
        if let Some(k) = idem {
            let r = sqlx::query(
                "INSERT INTO idempotency_keys (scope, key, body_hash, case_id, created_at) VALUES ($1,$2,$3,$4,$5) \
                 ON CONFLICT (scope, key) DO NOTHING",
            )
            .bind(&k.scope)
            .bind(&k.key)
            .bind(&k.body_hash)
            .bind(id)
            .bind(event.at)
            .execute(&mut *tx)
            .await
            .map_err(db)?;
            if r.rows_affected() == 0 {
                // A concurrent request with the same key won: drop this case, answer with that one.
                tx.rollback().await.map_err(db)?;
                let (id, hash): (i64, String) = sqlx::query_as(
                    "SELECT case_id, body_hash FROM idempotency_keys WHERE scope = $1 AND key = $2",
                )
                .bind(&k.scope)
                .bind(&k.key)
                .fetch_one(&self.pool)
                .await
                .map_err(db)?;
                return Ok(Created::Existing {
                    id,
                    same_body: hash == k.body_hash,
                });
            }
        }
        tx.commit().await.map_err(db)?;
        Ok(Created::New(id))
    }

    async fn get_case(&self, id: i64) -> Result<Option<StoredCase>> {
        let row = sqlx::query("SELECT id, version, state FROM cases WHERE id = $1")
            .bind(id)
            .fetch_optional(&self.pool)
            .await
            .map_err(db)?;
        row.as_ref().map(|r| case_row(r, &self.sealer)).transpose()
    }

    async fn get_cases(&self, ids: &[i64]) -> Result<Vec<StoredCase>> {
        let rows =
            sqlx::query("SELECT id, version, state FROM cases WHERE id = ANY($1) ORDER BY id")
                .bind(ids)
                .fetch_all(&self.pool)
                .await
                .map_err(db)?;
        rows.iter().map(|r| case_row(r, &self.sealer)).collect()
    }

    async fn find_case_by_tracking_code(&self, code: &str) -> Result<Option<StoredCase>> {
        let row = sqlx::query("SELECT id, version, state FROM cases WHERE tracking_code = $1")
            .bind(code)
            .fetch_optional(&self.pool)
            .await
            .map_err(db)?;
        row.as_ref().map(|r| case_row(r, &self.sealer)).transpose()
    }

    async fn append(&self, ch: Append<'_>) -> Result<()> {
        let c = codec::case_columns(ch.state, &self.sealer)?;
        let new_version = ch.expected_version + ch.events.len() as i64;
        let mut tx = self.begin().await?;
        let mut acc = stats::Delta::default();
        update_case_row(
            &mut tx,
            &mut acc,
            ch.case_id,
            (ch.expected_version, new_version),
            (ch.state, &c),
            Some(ch.now),
            &self.sealer,
        )
        .await?;
        apply_stats(&mut tx, &acc).await?;
        if ch
            .events
            .iter()
            .any(|e| codec::rewrites_case_people(&e.kind))
        {
            rewrite_case_people(&mut tx, ch.case_id, &c).await?;
        }
        insert_events(&mut tx, ch.case_id, ch.events, &self.sealer).await?;
        queue_for_webhooks(&mut tx, ch.case_id, ch.events).await?;
        insert_notifications(&mut tx, ch.notifications, ch.now).await?;
        for b in ch.blobs {
            sqlx::query("INSERT INTO blobs (id, content_type, bytes) VALUES ($1,$2,$3) ON CONFLICT (id) DO NOTHING")
                .bind(&b.id)
                .bind(&b.content_type)
                .bind(&b.bytes)
                .execute(&mut *tx)
                .await
                .map_err(db)?;
        }
        tx.commit().await.map_err(db)
    }

    async fn case_events(&self, case_id: i64) -> Result<Vec<CaseEvent>> {
        let rows = sqlx::query(
            "SELECT seq, at, actor_id, payload FROM case_events WHERE case_id = $1 ORDER BY seq",
        )
        .bind(case_id)
        .fetch_all(&self.pool)
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
        let mut qb = QueryBuilder::<Postgres>::new("SELECT id, version, state FROM cases");
        push_filter(&mut qb, f);
        if let Some(b) = f.before_id {
            qb.push(" AND id < ").push_bind(b);
        }
        let limit = f.limit.clamp(1, 500);
        qb.push(" ORDER BY id DESC LIMIT ")
            .push_bind(i64::from(limit) + 1);
        let rows = qb.build().fetch_all(&self.pool).await.map_err(db)?;
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
        let mut qb = QueryBuilder::<Postgres>::new("SELECT COUNT(*) FROM cases");
        push_filter(&mut qb, f);
        let n: i64 = qb
            .build_query_scalar()
            .fetch_one(&self.pool)
            .await
            .map_err(db)?;
        Ok(n as u64)
    }

    async fn cases_with_deadline(&self, after_id: i64, limit: u32) -> Result<Vec<StoredCase>> {
        let rows = sqlx::query(
            "SELECT id, version, state FROM cases WHERE due_date IS NOT NULL AND id > $1 ORDER BY id LIMIT $2",
        )
        .bind(after_id)
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
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
            "SELECT * FROM notifications WHERE user_id = $1 AND (NOT $2 OR read_at IS NULL) ORDER BY id DESC LIMIT $3",
        )
        .bind(user_id)
        .bind(unread_only)
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
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
        let r = sqlx::query("UPDATE notifications SET read_at = COALESCE(read_at, $1) WHERE id = $2 AND user_id = $3")
            .bind(now)
            .bind(id)
            .bind(user_id)
            .execute(&self.pool)
            .await
            .map_err(db)?;
        if r.rows_affected() == 0 {
            return Err(StoreError::NotFound);
        }
        Ok(())
    }

    async fn get_blob(&self, id: &str) -> Result<Option<Blob>> {
        let row = sqlx::query("SELECT id, content_type, bytes FROM blobs WHERE id = $1")
            .bind(id)
            .fetch_optional(&self.pool)
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
             decided_by, requested_at, decided_at, downloaded_at) VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9) RETURNING id",
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
        .fetch_one(&self.pool)
        .await
        .map_err(db)
    }

    async fn get_export_request(
        &self,
        id: i64,
    ) -> Result<Option<fengqiao_domain::export::ExportRequest>> {
        let row = sqlx::query(&format!(
            "SELECT {EXPORT_COLS} FROM export_requests WHERE id = $1"
        ))
        .bind(id)
        .fetch_optional(&self.pool)
        .await
        .map_err(db)?;
        row.as_ref().map(export_row).transpose()
    }

    async fn list_export_requests(
        &self,
        limit: u32,
    ) -> Result<Vec<fengqiao_domain::export::ExportRequest>> {
        let rows = sqlx::query(&format!(
            "SELECT {EXPORT_COLS} FROM export_requests ORDER BY id DESC LIMIT $1"
        ))
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
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
            "UPDATE export_requests SET status = $1, \
             decided_by = CASE WHEN $2 THEN decided_by ELSE $3 END, \
             decided_at = CASE WHEN $4 THEN decided_at ELSE $5 END, \
             downloaded_at = CASE WHEN $6 THEN $7 ELSE downloaded_at END \
             WHERE id = $8 AND status = $9",
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
        .execute(&self.pool)
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
                    .fetch_all(&self.pool)
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
                            .execute(&self.pool)
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
        // pg_dump reads one consistent snapshot while the database stays in use.
        let out = tokio::process::Command::new("pg_dump")
            .args(["--format=custom", "--no-owner", "--file", dest, &self.url])
            .output()
            .await
            .map_err(|e| StoreError::Backend(format!("pg_dump: {e}")))?;
        if !out.status.success() {
            return Err(StoreError::Backend(format!(
                "pg_dump: {}",
                String::from_utf8_lossy(&out.stderr)
            )));
        }
        Ok(())
    }

    async fn put_analyses(&self, rows: &[StoredAnalysis]) -> Result<()> {
        let mut tx = self.begin().await?;
        for a in rows {
            insert_analysis(&mut tx, a.case_id, a, &self.sealer).await?;
        }
        tx.commit().await.map_err(db)
    }

    async fn get_analysis(&self, case_id: i64) -> Result<Option<StoredAnalysis>> {
        let row = sqlx::query(
            "SELECT case_id, analyser_version, analysed_at, registered_at, analysis, fingerprint \
             FROM case_analyses WHERE case_id = $1",
        )
        .bind(case_id)
        .fetch_optional(&self.pool)
        .await
        .map_err(db)?;
        row.map(|r: PgRow| -> Result<StoredAnalysis> {
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
             WHERE case_id > $1 AND registered_at >= $2 ORDER BY case_id LIMIT $3",
        )
        .bind(after_id)
        .bind(registered_since)
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
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
            sqlx::query("SELECT id, version, state FROM cases WHERE id > $1 ORDER BY id LIMIT $2")
                .bind(after_id)
                .bind(i64::from(limit))
                .fetch_all(&self.pool)
                .await
                .map_err(db)?;
        rows.iter().map(|r| case_row(r, &self.sealer)).collect()
    }

    async fn confirmed_cases(&self, after_id: i64, limit: u32) -> Result<Vec<StoredCase>> {
        let rows = sqlx::query(
            "SELECT id, version, state FROM cases WHERE status NOT IN ('registered', 'not_accepted') \
             AND id > $1 ORDER BY id LIMIT $2",
        )
        .bind(after_id)
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await
        .map_err(db)?;
        rows.iter().map(|r| case_row(r, &self.sealer)).collect()
    }

    async fn stats_totals(&self) -> Result<stats::Delta> {
        let rows = sqlx::query(
            "SELECT scope, grain, period, dim, metric, value FROM stats_rollup WHERE value <> 0",
        )
        .fetch_all(&self.pool)
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
                let mut qb = QueryBuilder::<Postgres>::new(
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
                let mut qb = QueryBuilder::<Postgres>::new("UPDATE warnings SET status = ");
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
        let mut qb = QueryBuilder::<Postgres>::new("SELECT id, body FROM warnings WHERE (");
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
        let rows = qb.build().fetch_all(&self.pool).await.map_err(db)?;
        rows.iter()
            .map(|r| codec::warning_from_row(r.get::<i64, _>(0), &r.get::<String, _>(1)))
            .collect()
    }

    async fn get_warning(&self, id: i64) -> Result<Option<fengqiao_domain::warning::Warning>> {
        let mut qb = QueryBuilder::<Postgres>::new("SELECT id, body FROM warnings WHERE id = ");
        qb.push_bind(id);
        let row = qb.build().fetch_optional(&self.pool).await.map_err(db)?;
        row.map(|r| codec::warning_from_row(r.get::<i64, _>(0), &r.get::<String, _>(1)))
            .transpose()
    }

    async fn stats_rows(&self, q: &StatsQuery) -> Result<Vec<(stats::RollKey, i64)>> {
        let rows = sqlx::query(
            "SELECT scope, grain, period, dim, metric, value FROM stats_rollup \
             WHERE scope = ANY($1) AND grain = $2 AND period BETWEEN $3 AND $4 AND value <> 0",
        )
        .bind(&q.scopes)
        .bind(codec::query_grain_column(q.grain, q.dim.prefix()))
        .bind(&q.from)
        .bind(&q.to)
        .fetch_all(&self.pool)
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
        // No case write may interleave with the recount.
        sqlx::query("LOCK TABLE cases IN SHARE MODE")
            .execute(&mut *tx)
            .await
            .map_err(db)?;
        sqlx::query("DELETE FROM stats_rollup")
            .execute(&mut *tx)
            .await
            .map_err(db)?;
        let (mut after, mut read) = (0i64, 0u64);
        loop {
            let rows: Vec<(i64, String)> =
                sqlx::query_as("SELECT id, state FROM cases WHERE id > $1 ORDER BY id LIMIT 2000")
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
        sqlx::query_scalar("SELECT case_id FROM idempotency_keys WHERE scope = $1 AND key = $2")
            .bind(scope)
            .bind(key)
            .fetch_optional(&self.pool)
            .await
            .map_err(db)
    }

    async fn set_idempotency_body(&self, scope: &str, key: &str, body_hash: &str) -> Result<()> {
        let r =
            sqlx::query("UPDATE idempotency_keys SET body_hash = $1 WHERE scope = $2 AND key = $3")
                .bind(body_hash)
                .bind(scope)
                .bind(key)
                .execute(&self.pool)
                .await
                .map_err(db)?;
        if r.rows_affected() == 0 {
            return Err(StoreError::NotFound);
        }
        Ok(())
    }

    async fn set_contact(&self, user_id: i64, contact: &Contact) -> Result<()> {
        sqlx::query(
            "INSERT INTO user_contacts (user_id, email, phone) VALUES ($1,$2,$3) \
             ON CONFLICT (user_id) DO UPDATE SET email = excluded.email, phone = excluded.phone",
        )
        .bind(user_id)
        .bind(&contact.email)
        .bind(codec::contact_phone_column(
            contact.phone.as_deref(),
            &self.sealer,
        ))
        .execute(&self.pool)
        .await
        .map_err(db)?;
        Ok(())
    }

    async fn put_law_articles(&self, articles: &[LawArticle], now: Millis) -> Result<u64> {
        let mut tx = self.pool.begin().await.map_err(db)?;
        let mut new = 0;
        for a in articles {
            // xmax = 0 on a row the statement inserted (not one it updated).
            let inserted: bool = sqlx::query_scalar(
                "INSERT INTO law_articles (law, label, number, text, imported_at) \
                 VALUES ($1,$2,$3,$4,$5) ON CONFLICT (law, label) DO UPDATE SET \
                 number = excluded.number, text = excluded.text, imported_at = excluded.imported_at \
                 RETURNING (xmax = 0)",
            )
            .bind(&a.law)
            .bind(&a.label)
            .bind(a.number)
            .bind(&a.text)
            .bind(now)
            .fetch_one(&mut *tx)
            .await
            .map_err(db)?;
            new += u64::from(inserted);
        }
        tx.commit().await.map_err(db)?;
        Ok(new)
    }

    async fn law_articles(&self) -> Result<Vec<LawArticle>> {
        let rows = sqlx::query(
            "SELECT law, label, number, text FROM law_articles ORDER BY law, number, label",
        )
        .fetch_all(&self.pool)
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
            let mut qb = QueryBuilder::<Postgres>::new(
                "SELECT user_id, email, phone FROM user_contacts WHERE user_id IN (",
            );
            let mut sep = qb.separated(",");
            for id in chunk {
                sep.push_bind(*id);
            }
            qb.push(") ORDER BY user_id");
            let rows = qb.build().fetch_all(&self.pool).await.map_err(db)?;
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
            "INSERT INTO webhooks (url, secret, kinds, active, created_at) VALUES ($1,$2,$3,$4,$5) RETURNING id",
        )
        .bind(&input.url)
        .bind(&input.secret)
        .bind(codec::kinds_column(&input.kinds))
        .bind(true)
        .bind(now)
        .fetch_one(&self.pool)
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
        .fetch_all(&self.pool)
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
        let r = sqlx::query("UPDATE webhooks SET active = $1 WHERE id = $2")
            .bind(active)
            .bind(id)
            .execute(&self.pool)
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
             WHERE fanned_out = 0 ORDER BY id LIMIT $1",
        )
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
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
            "UPDATE notifications SET fanned_out = 1 WHERE id = $1",
            notification_ids,
        )
        .await
    }

    async fn case_events_to_fan_out(&self, limit: u32) -> Result<Vec<QueuedCaseEvent>> {
        let rows: Vec<(i64, i64, i64, String)> = sqlx::query_as(
            "SELECT id, case_id, seq, action FROM event_outbox ORDER BY id LIMIT $1",
        )
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
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
            "DELETE FROM event_outbox WHERE id = $1",
            queue_ids,
        )
        .await
    }

    async fn case_sources(&self, case_ids: &[i64]) -> Result<Vec<SourceRecord>> {
        let mut out = Vec::new();
        for id in case_ids {
            let rows: Vec<(i64, String, String, i64)> = sqlx::query_as(
                "SELECT case_id, scope, key, created_at FROM idempotency_keys \
                 WHERE case_id = $1 AND scope LIKE 'channel:%' ORDER BY created_at",
            )
            .bind(id)
            .fetch_all(&self.pool)
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
            "UPDATE deliveries SET next_attempt_at = $1 WHERE id IN (SELECT id FROM deliveries \
             WHERE status = 'pending' AND next_attempt_at <= $2 ORDER BY next_attempt_at, id LIMIT $3 FOR UPDATE SKIP LOCKED) \
             RETURNING id, notification_id, medium, target, payload, status, attempts, next_attempt_at, last_error, created_at, delivered_at, case_id, event_seq",
        )
        .bind(lease_until)
        .bind(now)
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
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
            "UPDATE deliveries SET status = $1, attempts = attempts + 1, \
             next_attempt_at = COALESCE($2, next_attempt_at), last_error = $3, delivered_at = $4 WHERE id = $5",
        )
        .bind(status)
        .bind(next_at)
        .bind(error.map(codec::clip_error))
        .bind(delivered_at)
        .bind(id)
        .execute(&self.pool)
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
            "SELECT id, notification_id, medium, target, payload, status, attempts, next_attempt_at, last_error, created_at, delivered_at, case_id, event_seq FROM deliveries WHERE ($1::TEXT IS NULL OR status = $2) ORDER BY id DESC LIMIT $3",
        )
        .bind(status.map(DeliveryStatus::as_str))
        .bind(status.map(DeliveryStatus::as_str))
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await
        .map_err(db)?;
        rows.iter()
            .map(|r| delivery_from_row(r, &self.sealer))
            .collect()
    }

    async fn retry_delivery(&self, id: i64, now: Millis) -> Result<()> {
        let r = sqlx::query(
            "UPDATE deliveries SET status = 'pending', next_attempt_at = $1 WHERE id = $2 AND status = 'failed'",
        )
        .bind(now)
        .bind(id)
        .execute(&self.pool)
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
        .fetch_all(&self.pool)
        .await
        .map_err(db)?;
        rows.iter()
            .map(|(s, n)| Ok((codec::delivery_status(s)?, *n)))
            .collect()
    }
}

async fn insert_analysis(
    tx: &mut Transaction<'_, Postgres>,
    case_id: i64,
    a: &StoredAnalysis,
    sl: &Sealer,
) -> Result<()> {
    let a = &codec::sealed_analysis(a, sl)?;
    sqlx::query(
        "INSERT INTO case_analyses (case_id, analyser_version, analysed_at, registered_at, analysis, fingerprint) \
         VALUES ($1,$2,$3,$4,$5,$6) ON CONFLICT (case_id) DO UPDATE SET \
         analyser_version = excluded.analyser_version, analysed_at = excluded.analysed_at, \
         analysis = excluded.analysis, fingerprint = excluded.fingerprint",
    )
    .bind(case_id)
    .bind(&a.analyser_version)
    .bind(a.analysed_at)
    .bind(a.registered_at)
    .bind(&a.analysis)
    .bind(&a.fingerprint)
    .execute(&mut **tx)
    .await
    .map_err(db)?;
    Ok(())
}

impl PostgresStore {
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
    tx: &mut sqlx::Transaction<'_, sqlx::Postgres>,
    deliveries: &[NewDelivery],
    now: Millis,
    sl: &Sealer,
) -> Result<()> {
    for d in deliveries {
        let event = d.source.event();
        sqlx::query(
            "INSERT INTO deliveries (notification_id, case_id, event_seq, medium, target, payload, \
             status, attempts, next_attempt_at, created_at) VALUES ($1,$2,$3,$4,$5,$6,'pending',0,$7,$8) \
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

fn delivery_from_row(
    r: &sqlx::postgres::PgRow,
    sl: &Sealer,
) -> Result<fengqiao_domain::outbound::Delivery> {
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
             WHERE {only} AND ({k1}, {k2}) > ($1, $2) ORDER BY 1, 2 LIMIT 500"
        ),
        format!("UPDATE {t} SET {c} = $1 WHERE {k1} = $2 AND {k2} = $3 AND {c} = $4"),
    )
}

const EXPORT_COLS: &str =
    "id, requested_by, scope_path, list_filter, purpose, status, decided_by, \
     requested_at, decided_at, downloaded_at";

fn export_row(r: &PgRow) -> Result<fengqiao_domain::export::ExportRequest> {
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
