//! The conformance suite against a fresh PostgreSQL database.
// Tests fail loudly: unwrapping is how they assert.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
use fengqiao_store_postgres::{testing, PostgresStore};

#[tokio::test]
async fn conformance() {
    let url = testing::fresh_database().await.unwrap();
    let store = PostgresStore::open(&url).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    fengqiao_store::conformance::run_all(&store, dir.path().join("backup.dump").to_str().unwrap())
        .await;
    // Cases stored before the party index existed are indexed when the store opens.
    use fengqiao_store::Store;
    let raw = sqlx::PgPool::connect(&url).await.unwrap();
    let count = "SELECT COUNT(*) FROM party_keys";
    let indexed: i64 = sqlx::query_scalar(count).fetch_one(&raw).await.unwrap();
    assert!(indexed > 0);
    sqlx::query("DELETE FROM party_keys")
        .execute(&raw)
        .await
        .unwrap();
    store.migrate().await.unwrap();
    let again: i64 = sqlx::query_scalar(count).fetch_one(&raw).await.unwrap();
    assert_eq!(again, indexed);
}

/// The audit tables refuse UPDATE, DELETE and TRUNCATE, even to a superuser (triggers; the
/// application's role also lost those privileges in the migration).
#[tokio::test]
async fn audit_records_cannot_be_changed() {
    use fengqiao_domain::audit::*;
    use fengqiao_store::Store;
    let url = testing::fresh_database()
        .await
        .expect("PostgreSQL for tests");
    let store = PostgresStore::open(&url).await.unwrap();
    store.migrate().await.unwrap();
    store
        .append_audit(&[NewAuditRecord {
            at: 1,
            actor_id: None,
            actor_name: "nobody".into(),
            client: "local".into(),
            action: AuditAction::SignInFailed,
            target: "user:nobody".into(),
            outcome: "failed".into(),
            detail: "{}".into(),
        }])
        .await
        .unwrap();
    let raw = sqlx::PgPool::connect(&url).await.unwrap();
    for sql in [
        "UPDATE audit_log SET outcome = 'ok'",
        "DELETE FROM audit_log",
        "TRUNCATE audit_log",
        "TRUNCATE audit_checkpoints",
    ] {
        let e = sqlx::query(sql).execute(&raw).await.unwrap_err();
        assert!(e.to_string().contains("append-only"), "{sql}: {e}");
    }
    assert_eq!(store.audit_records(0, 10).await.unwrap().len(), 1);
}
