//! The conformance suite against a fresh PostgreSQL database.
use fengqiao_store_postgres::{testing, PostgresStore};

#[tokio::test]
async fn conformance() {
    let url = testing::fresh_database().await.unwrap();
    let store = PostgresStore::open(&url).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    fengqiao_store::conformance::run_all(&store, dir.path().join("backup.dump").to_str().unwrap())
        .await;
}
