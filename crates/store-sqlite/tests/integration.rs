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
    // Cases stored before the party index existed are indexed when the store opens.
    use fengqiao_store::Store;
    let url = format!("sqlite://{}", dir.path().join("t.db").display());
    let raw = sqlx::SqlitePool::connect(&url).await.unwrap();
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

/// The audit table refuses UPDATE and DELETE (triggers); someone with the file who drops the
/// triggers and edits a record is found by the chain, at that record.
#[tokio::test]
async fn audit_records_cannot_be_changed_and_tampering_is_found() {
    use fengqiao_domain::audit::*;
    use fengqiao_store::Store;
    let (store, dir) = fresh().await;
    store.migrate().await.unwrap();
    let recs: Vec<NewAuditRecord> = (1..=5)
        .map(|i| NewAuditRecord {
            at: i,
            actor_id: Some(1),
            actor_name: "admin".into(),
            client: "local".into(),
            action: AuditAction::ConfigChanged,
            target: format!("setting:{i}"),
            outcome: "ok".into(),
            detail: "{}".into(),
        })
        .collect();
    store.append_audit(&recs).await.unwrap();
    store
        .put_audit_checkpoint(&Checkpoint {
            seq: 5,
            hash: store.audit_head().await.unwrap().unwrap().1,
            at: 6,
            mac: None,
        })
        .await
        .unwrap();
    let url = format!("sqlite://{}", dir.path().join("t.db").display());
    let raw = sqlx::SqlitePool::connect(&url).await.unwrap();
    for sql in [
        "UPDATE audit_log SET outcome = 'denied' WHERE seq = 3",
        "DELETE FROM audit_log WHERE seq = 3",
        "DELETE FROM audit_checkpoints",
    ] {
        let e = sqlx::query(sql).execute(&raw).await.unwrap_err();
        assert!(e.to_string().contains("append-only"), "{sql}: {e}");
    }
    sqlx::query("DROP TRIGGER audit_log_no_update")
        .execute(&raw)
        .await
        .unwrap();
    sqlx::query("UPDATE audit_log SET outcome = 'denied' WHERE seq = 3")
        .execute(&raw)
        .await
        .unwrap();
    let mut v = Verifier::default();
    for r in store.audit_records(0, 100).await.unwrap() {
        v.feed(&r, false);
    }
    assert_eq!(
        v.finish(&[], None).problems,
        vec![AuditProblem::Altered { seq: 3 }]
    );
    assert_eq!(store.audit_checkpoints().await.unwrap().len(), 1);
}

/// The write floor writes the cases it is asked for, at the sizes asked (what
/// `bench import-speed --floor` reports rests on it), and measures them back.
#[tokio::test]
async fn the_write_floor_writes_cases_of_the_shape_asked() {
    use fengqiao_store_sqlite::floor::{shape_of, write_floor, Durability, RowShape};
    let dir = tempfile::tempdir().unwrap();
    let shape = RowShape {
        cases: 0,
        state_bytes: 900,
        event_bytes: 400,
        analysis_bytes: 1200,
        fingerprint_bytes: 300,
        party_keys: 2,
    };
    for (i, durability) in [Durability::Store, Durability::None]
        .into_iter()
        .enumerate()
    {
        let path = dir.path().join(format!("floor-{i}.db"));
        let path = path.to_str().unwrap();
        write_floor(path, shape, 2_500, 1_000, durability)
            .await
            .unwrap_or_else(|e| panic!("{durability:?}: {e}"));
        let got = shape_of(path, 0).await.unwrap();
        assert_eq!(got.cases, 2_500);
        assert_eq!(got.party_keys, 2);
        // Each padded value ends with the case's number (1–4 digits here).
        for (got, asked) in [
            (got.state_bytes, 900),
            (got.event_bytes, 400),
            (got.analysis_bytes, 1200),
            (got.fingerprint_bytes, 300),
        ] {
            assert!((asked + 1..=asked + 4).contains(&got), "{got} for {asked}");
        }
    }
}
