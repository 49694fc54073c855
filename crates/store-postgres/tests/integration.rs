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
}
