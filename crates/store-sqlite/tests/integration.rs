//! The conformance suite against a fresh SQLite file per test.
// Tests fail loudly: unwrapping is how they assert.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
use fengqiao_store_sqlite::SqliteStore;

async fn fresh() -> (SqliteStore, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(dir.path().join("t.db").to_str().unwrap())
        .await
        .unwrap();
    (store, dir)
}

#[tokio::test]
async fn conformance() {
    let (store, dir) = fresh().await;
    fengqiao_store::conformance::run_all(&store, dir.path().join("backup.db").to_str().unwrap())
        .await;
}
