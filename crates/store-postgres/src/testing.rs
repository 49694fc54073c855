//! Test support: a fresh database per test on the server named by `FENGQIAO_TEST_PG_URL`
//! (scripts/test starts a throwaway server and sets it).
use fengqiao_store::{Result, StoreError};
use sqlx::{Connection, PgConnection};
use std::sync::atomic::{AtomicU32, Ordering};

pub const ENV: &str = "FENGQIAO_TEST_PG_URL";

static COUNTER: AtomicU32 = AtomicU32::new(0);

/// The admin URL, or an error that says how to get one. Tests fail (never skip) without it.
pub fn admin_url() -> Result<String> {
    std::env::var(ENV).map_err(|_| {
        StoreError::Backend(format!(
            "{ENV} is not set: run scripts/test, which starts a throwaway PostgreSQL"
        ))
    })
}

/// Creates an empty database and returns its URL.
pub async fn fresh_database() -> Result<String> {
    let admin = admin_url()?;
    let name = format!(
        "fq_test_{}_{}_{}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed),
        chrono::Utc::now().timestamp_micros()
    );
    let mut conn = PgConnection::connect(&admin)
        .await
        .map_err(|e| StoreError::Backend(e.to_string()))?;
    sqlx::query(&format!("CREATE DATABASE {name}"))
        .execute(&mut conn)
        .await
        .map_err(|e| StoreError::Backend(e.to_string()))?;
    let base = admin.rsplit_once('/').map(|(b, _)| b).unwrap_or(&admin);
    Ok(format!("{base}/{name}"))
}
