//! The binary as an operator runs it: migrate, generate, serve; an acknowledged submission
//! survives `kill -9`; a backup taken while serving is a working database.
// Tests fail loudly: unwrapping is how they assert.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
use fengqiao_store::seal;
use fengqiao_store::Store;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_fengqiao");

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn http(port: u16, method: &str, path: &str, body: &str) -> Option<(u16, serde_json::Value)> {
    http_as(port, method, path, body, None)
}

/// [`http`] with a bearer token.
fn http_as(
    port: u16,
    method: &str,
    path: &str,
    body: &str,
    token: Option<&str>,
) -> Option<(u16, serde_json::Value)> {
    let mut s = TcpStream::connect(("127.0.0.1", port)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(30))).ok()?;
    let auth = token.map_or(String::new(), |t| format!("Authorization: Bearer {t}\r\n"));
    let req = format!(
        "{method} {path} HTTP/1.1\r\nHost: localhost\r\n{auth}Content-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    s.write_all(req.as_bytes()).ok()?;
    let mut out = String::new();
    s.read_to_string(&mut out).ok()?;
    let status = out.split(' ').nth(1)?.parse().ok()?;
    let body = out.split("\r\n\r\n").nth(1).unwrap_or("");
    // Bodies may arrive chunked: take the JSON between the first '{' or '[' and the last '}' or ']'.
    let start = body.find(['{', '[']).unwrap_or(0);
    let end = body.rfind(['}', ']']).map(|e| e + 1).unwrap_or(body.len());
    Some((
        status,
        serde_json::from_str(&body[start..end]).unwrap_or(serde_json::Value::Null),
    ))
}

fn serve(db: &str, port: u16) -> Child {
    serve_logged(db, port, Stdio::null(), Stdio::null())
}

/// [`serve`] with the server's output going where the caller says.
fn serve_logged(db: &str, port: u16, stdout: Stdio, stderr: Stdio) -> Child {
    let child = Command::new(BIN)
        .args([
            "serve",
            "--database-url",
            db,
            "--listen",
            &format!("127.0.0.1:{port}"),
        ])
        .env("RUST_LOG", "debug")
        .stdout(stdout)
        .stderr(stderr)
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    while http(port, "GET", "/healthz", "").is_none() {
        assert!(Instant::now() < deadline, "server did not start");
        std::thread::sleep(Duration::from_millis(100));
    }
    child
}

fn run(args: &[&str]) -> String {
    let out = Command::new(BIN).args(args).output().unwrap();
    assert!(
        out.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[tokio::test(flavor = "multi_thread")]
async fn acknowledged_submissions_survive_a_crash_and_backups_work() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("f.db").to_string_lossy().into_owned();
    assert!(run(&["migrate", "--database-url", &db]).contains("migrated"));
    run(&[
        "generate",
        "--database-url",
        &db,
        "--cases",
        "200",
        "--until",
        "2026-11-20",
    ]);
    let again = Command::new(BIN)
        .args(["generate", "--database-url", &db, "--cases", "1"])
        .output()
        .unwrap();
    assert!(
        !again.status.success(),
        "generate refuses a database that has the county"
    );

    let port = free_port();
    let mut server = serve(&db, port);
    let sub = r#"{"text":"邻居家狗夜里一直叫，多次沟通无果","node_code":"990102001001","phone":"13900001111","consent":true}"#;
    let (status, case) = http(port, "POST", "/api/v1/public/cases", sub).unwrap();
    assert_eq!(status, 201, "{case}");
    let code = case["tracking_code"].as_str().unwrap().to_string();
    // Crash right after the acknowledgement.
    server.kill().unwrap();
    server.wait().unwrap();

    let port = free_port();
    let mut server = serve(&db, port);
    let track = format!(r#"{{"tracking_code":"{code}","phone":"13900001111"}}"#);
    let (status, progress) = http(port, "POST", "/api/v1/public/track", &track).unwrap();
    assert_eq!(status, 200, "{progress}");
    assert_eq!(progress["status"], "registered");
    // Its text was read: by the background reader before the crash, or at the restart.
    let store = fengqiao_store_sqlite::SqliteStore::open(&db).await.unwrap();
    let id = store
        .find_case_by_tracking_code(&code)
        .await
        .unwrap()
        .unwrap()
        .id;
    let mut analysed = None;
    for _ in 0..200 {
        analysed = store.get_analysis(id).await.unwrap();
        if analysed.is_some() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    let analysed = analysed.expect("the case's analysis after a crash and restart");
    assert_eq!(analysed.analyser_version, fengqiao_text::ANALYSER_VERSION);
    drop(store);

    // Every case has a current analysis; --all reads them all again.
    assert!(run(&["analyze", "--database-url", &db]).contains("analysed 0 cases"));
    assert!(run(&["analyze", "--database-url", &db, "--all"]).contains("analysed 201 cases"));

    // The stored states agree with their logs (200 generated cases and the new one).
    assert!(run(&["rebuild", "--database-url", &db, "--check"])
        .contains("checked 201 cases: 0 differed"));

    // A backup while the server runs; it opens as a database holding the case.
    let backup = dir.path().join("backup.db").to_string_lossy().into_owned();
    assert!(run(&["backup", "--database-url", &db, &backup]).contains("backup written"));
    assert!(
        !Command::new(BIN)
            .args(["backup", "--database-url", &db, &backup])
            .output()
            .unwrap()
            .status
            .success(),
        "never overwrites"
    );
    server.kill().unwrap();
    server.wait().unwrap();
    let copy = fengqiao_store_sqlite::SqliteStore::open(&backup)
        .await
        .unwrap();
    assert!(copy
        .find_case_by_tracking_code(&code)
        .await
        .unwrap()
        .is_some());

    // A stored state that disagrees with its log is found by --check and repaired by rebuild.
    let store = fengqiao_store_sqlite::SqliteStore::open(&db).await.unwrap();
    let case = store
        .find_case_by_tracking_code(&code)
        .await
        .unwrap()
        .unwrap();
    let mut wrong = case.state.clone();
    wrong.status = fengqiao_domain::case::Status::Archived;
    store
        .replace_state(case.id, case.version, &wrong)
        .await
        .unwrap();
    drop(store);
    let check = Command::new(BIN)
        .args(["rebuild", "--database-url", &db, "--check"])
        .output()
        .unwrap();
    assert!(!check.status.success(), "--check fails on a difference");
    assert!(run(&["rebuild", "--database-url", &db])
        .contains("1 differed from their event log, 1 rewritten"));
    let store = fengqiao_store_sqlite::SqliteStore::open(&db).await.unwrap();
    assert_eq!(
        store
            .find_case_by_tracking_code(&code)
            .await
            .unwrap()
            .unwrap()
            .state,
        case.state
    );
}

/// Canary personal numbers entered through the API (a citizen's phone and the numbers in
/// their text, a party's ID and phone, a user's contact phone) never reach the disk in plain:
/// not in the database file, its WAL, a backup, the search index or the server's debug log.
#[tokio::test(flavor = "multi_thread")]
async fn canary_numbers_are_nowhere_on_disk_in_plain() {
    const PHONE: &str = "13987654321";
    const ID: &str = "11010519491231002X";
    const TEXT_PHONE: &str = "18612345678";
    const CONTACT: &str = "15011112222";
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("f.db").to_string_lossy().into_owned();
    run(&["migrate", "--database-url", &db]);
    run(&[
        "generate",
        "--database-url",
        &db,
        "--cases",
        "20",
        "--until",
        "2026-11-20",
    ]);
    let log_path = dir.path().join("server.log");
    let log = std::fs::File::create(&log_path).unwrap();
    let port = free_port();
    let mut server = serve_logged(&db, port, log.try_clone().unwrap().into(), log.into());

    let text = format!("楼上漏水，我电话{TEXT_PHONE}，对方身份证{ID}，请尽快处理");
    let sub = serde_json::json!({
        "text": text, "node_code": "990102001001", "phone": PHONE, "consent": true
    });
    let (status, body) = http(port, "POST", "/api/v1/public/cases", &sub.to_string()).unwrap();
    assert_eq!(status, 201, "{body}");

    let login = r#"{"username":"dispatcher","password":"Fengqiao@2026"}"#;
    let (status, signed) = http(port, "POST", "/api/v1/auth/login", login).unwrap();
    assert_eq!(status, 200, "{signed}");
    assert_eq!(signed["next_step"], "full", "{signed}");
    let token = signed["token"].as_str().unwrap().to_string();
    let user_id = signed["user"]["id"].as_i64().unwrap();
    let case = serde_json::json!({
        "channel": "walk_in", "text": text, "node_code": "990102001001",
        "parties": [{"name": "王秀英", "id_number": ID, "phone": PHONE}]
    });
    let (status, body) = http_as(
        port,
        "POST",
        "/api/v1/cases",
        &case.to_string(),
        Some(&token),
    )
    .unwrap();
    assert_eq!(status, 201, "{body}");
    let id = body["id"].as_i64().unwrap();
    // Served masked by default; the party's numbers are there to find (not merely dropped).
    let shown = body.to_string();
    assert!(!shown.contains(PHONE) && !shown.contains(ID), "{shown}");
    assert!(shown.contains("139****4321"), "{shown}");
    let contact = format!(r#"{{"phone":"{CONTACT}"}}"#);
    let (status, body) = http_as(
        port,
        "PUT",
        &format!("/api/v1/users/{user_id}/contact"),
        &contact,
        Some(&token),
    )
    .unwrap();
    assert_eq!(status, 200, "{body}");
    // Wait for the background reader to store the texts' analyses (they name the numbers).
    let store = fengqiao_store_sqlite::SqliteStore::open(&db).await.unwrap();
    let mut analysed = None;
    for _ in 0..400 {
        analysed = store.get_analysis(id).await.unwrap();
        if analysed.is_some() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    let analysed = analysed.expect("the case's analysis");
    // The store gives the numbers back to the app (opened), though the disk holds none.
    assert!(
        analysed.analysis.contains(TEXT_PHONE),
        "{}",
        analysed.analysis
    );
    let stored = store.get_case(id).await.unwrap().unwrap();
    assert_eq!(
        stored.state.parties[0].id_number.as_ref().unwrap().as_str(),
        ID
    );
    drop(store);
    let backup = dir.path().join("backup.db").to_string_lossy().into_owned();
    run(&["backup", "--database-url", &db, &backup]);
    // Killed, so the WAL keeps what it holds.
    server.kill().unwrap();
    server.wait().unwrap();

    let mut files = vec![
        std::path::PathBuf::from(&db),
        std::path::PathBuf::from(format!("{db}-wal")),
        std::path::PathBuf::from(&backup),
        log_path.clone(),
    ];
    let search = std::path::PathBuf::from(format!("{db}.search"));
    files.extend(
        std::fs::read_dir(&search)
            .unwrap()
            .map(|e| e.unwrap().path()),
    );
    assert!(
        std::fs::metadata(format!("{db}-wal")).unwrap().len() > 0,
        "the WAL holds the latest writes"
    );
    let count = |bytes: &[u8], needle: &str| {
        bytes
            .windows(needle.len())
            .filter(|w| *w == needle.as_bytes())
            .count()
    };
    let mut control = 0;
    for f in &files {
        let bytes = std::fs::read(f).unwrap();
        for canary in [PHONE, ID, TEXT_PHONE, CONTACT] {
            assert_eq!(
                count(&bytes, canary),
                0,
                "{canary} in plain in {}",
                f.display()
            );
        }
        control += count(&bytes, "王秀英");
    }
    // The scan finds what is stored in plain: the party's name (names are not sealed).
    assert!(
        control > 0,
        "the control string was not found: the scan reads nothing"
    );

    // Key rotation: a second key joins the ring, everything is sealed again under it, and the
    // first key can go.
    let ring = format!(
        "{},2:00112233445566778899aabbccddeeff",
        seal::DEMO_DATA_KEYS
    );
    let rotate = |keys: &str| {
        let out = Command::new(BIN)
            .args(["keys", "rotate", "--database-url", &db])
            .env("FENGQIAO_DATA_KEYS", keys)
            .env("FENGQIAO_INDEX_KEY", seal::DEMO_INDEX_KEY)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    let first = rotate(&ring);
    let n: u64 = first.split(' ').next().unwrap().parse().unwrap();
    assert!(n > 20 && first.contains("under data key 2"), "{first}");
    assert!(
        rotate(&ring).starts_with("0 values"),
        "a second rotation has nothing to do"
    );
    let key2 =
        seal::Sealer::from_config("2:00112233445566778899aabbccddeeff", seal::DEMO_INDEX_KEY)
            .unwrap();
    let store = fengqiao_store_sqlite::SqliteStore::open_sealed(&db, std::sync::Arc::new(key2))
        .await
        .unwrap();
    let case = store.get_case(id).await.unwrap().unwrap();
    assert_eq!(
        case.state.parties[0].phone.as_ref().unwrap().as_str(),
        PHONE
    );
    let events = store.case_events(id).await.unwrap();
    assert!(!events.is_empty());
    let analysis = store.get_analysis(id).await.unwrap().unwrap();
    assert!(analysis.analysis.contains(TEXT_PHONE));
    let contacts = store.contacts(&[user_id]).await.unwrap();
    assert_eq!(contacts[0].1.phone.as_deref(), Some(CONTACT));
    // Without the key a value was sealed with, reading fails loudly rather than showing junk.
    let other =
        seal::Sealer::from_config("3:00112233445566778899aabbccddeeff", seal::DEMO_INDEX_KEY)
            .unwrap();
    let store = fengqiao_store_sqlite::SqliteStore::open_sealed(&db, std::sync::Arc::new(other))
        .await
        .unwrap();
    let err = store.get_case(id).await.unwrap_err();
    assert_eq!(err.code(), "storage_corrupt", "{err}");
}

/// ARCHITECTURE.md's invariants that a test can check: the domain depends on no I/O crate, and
/// only the store backends contain SQL.
#[test]
fn architecture_invariants() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    // The domain and the text reader are pure: no I/O crate, no store, no app.
    let banned: [(&str, &[&str]); 2] = [
        (
            "domain",
            &[
                "sqlx",
                "tokio",
                "axum",
                "hyper",
                "reqwest",
                "fengqiao-store",
            ],
        ),
        (
            "text",
            &[
                "sqlx",
                "tokio",
                "axum",
                "hyper",
                "fengqiao-store",
                "fengqiao-app",
            ],
        ),
    ];
    for (krate, crates) in banned {
        let manifest =
            std::fs::read_to_string(root.join(format!("crates/{krate}/Cargo.toml"))).unwrap();
        let deps = manifest
            .split("[dependencies]")
            .nth(1)
            .unwrap()
            .split("\n[")
            .next()
            .unwrap();
        for io in crates {
            assert!(
                !deps.contains(io),
                "fengqiao-{krate} must not depend on {io}"
            );
        }
    }
    let mut offenders = Vec::new();
    for krate in std::fs::read_dir(root.join("crates")).unwrap() {
        let krate = krate.unwrap().path();
        let name = krate.file_name().unwrap().to_string_lossy().into_owned();
        if name.starts_with("store-") {
            continue;
        }
        let mut stack = vec![krate.join("src")];
        while let Some(dir) = stack.pop() {
            for entry in std::fs::read_dir(&dir).into_iter().flatten() {
                let path = entry.unwrap().path();
                if path.is_dir() {
                    stack.push(path);
                } else if path.extension().is_some_and(|e| e == "rs") {
                    let text = std::fs::read_to_string(&path).unwrap();
                    if text.contains("sqlx::")
                        || text.contains("SELECT ")
                        || text.contains("INSERT INTO")
                    {
                        offenders.push(path.display().to_string());
                    }
                }
            }
        }
    }
    assert!(
        offenders.is_empty(),
        "SQL outside the store backends: {offenders:?}"
    );
}

#[test]
fn the_shipped_classifier_is_the_one_the_demo_corpus_trains() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("model.json");
    run(&["train-classifier", "--demo", "--out", out.to_str().unwrap()]);
    let fresh = std::fs::read_to_string(&out).unwrap();
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let shipped = std::fs::read_to_string(root.join("crates/text/data/type-model.json")).unwrap();
    assert!(
        fresh == shipped,
        "crates/text/data/type-model.json is stale: run `fengqiao train-classifier --demo --out crates/text/data/type-model.json`"
    );
}

#[test]
fn the_text_evaluation_fails_loudly_without_its_data() {
    let out = Command::new(BIN)
        .args(["eval", "text", "--data", "/nonexistent/shared/data"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("does not exist"), "{err}");
}

#[test]
fn the_search_and_law_evaluations_fail_loudly_without_their_data() {
    for what in ["search", "laws"] {
        let out = Command::new(BIN)
            .args(["eval", what, "--data", "/nonexistent/shared/data"])
            .output()
            .unwrap();
        assert!(!out.status.success(), "{what}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains("does not exist"), "{what}: {err}");
    }
}

/// The law corpus of ../shared/data (public data kept beside the project, never copied into
/// it). Missing, this test fails: it is not skipped.
fn shared_laws() -> std::path::PathBuf {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/data/laws");
    assert!(
        dir.is_dir(),
        "{} is missing: the law corpus of ../shared/data is needed by this test",
        dir.display()
    );
    dir
}

#[test]
fn laws_import_reads_the_corpus_and_reports_bad_files_by_line() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("laws.db");
    let db = db.to_str().unwrap();
    run(&["migrate", "--database-url", db]);
    // The public corpus: every file, every article.
    let laws = shared_laws();
    let out = run(&[
        "laws",
        "import",
        "--database-url",
        db,
        laws.to_str().unwrap(),
    ]);
    assert!(out.contains("中华人民共和国民法典"), "{out}");
    let total: usize = out
        .lines()
        .last()
        .and_then(|l| l.split("; ").nth(1))
        .and_then(|p| p.split(' ').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no total in {out}"));
    assert!(total > 2_000, "{out}");
    // Every key provision of the project's table names an article of the corpus.
    let held = std::collections::HashSet::<String>::from_iter(
        std::fs::read_dir(&laws).unwrap().flat_map(|e| {
            let text = std::fs::read_to_string(e.unwrap().path()).unwrap();
            fengqiao_domain::law::parse_law_markdown(&text)
                .articles
                .into_iter()
                .map(|a| a.citation())
        }),
    );
    for k in fengqiao_domain::law::key_provisions() {
        assert!(
            held.contains(&k.citation()),
            "{} is not in the corpus",
            k.citation()
        );
    }
    // A bad file: its problems by line, its good articles still land; a re-import replaces.
    let mine = dir.path().join("mine");
    std::fs::create_dir(&mine).unwrap();
    std::fs::write(
        mine.join("a.md"),
        "# 某某条例\n\n第一条 甲。\n\n第一条 又一个第一条。\n\n第二条 乙。\n",
    )
    .unwrap();
    std::fs::write(mine.join("b.md"), "没有标题，也没有条文。\n").unwrap();
    let out = Command::new(BIN)
        .args([
            "laws",
            "import",
            "--database-url",
            db,
            mine.to_str().unwrap(),
        ])
        .output()
        .unwrap();
    assert!(out.status.success());
    let (stdout, stderr) = (
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
    );
    assert!(
        stderr.contains("a.md:5:") && stderr.contains("b.md:1:"),
        "{stderr}"
    );
    assert!(stdout.contains("2 new articles"), "{stdout}");
    // A folder without Markdown is an error.
    let empty = tempfile::tempdir().unwrap();
    let out = Command::new(BIN)
        .args([
            "laws",
            "import",
            "--database-url",
            db,
            empty.path().to_str().unwrap(),
        ])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("no .md file"));
}

/// `fengqiao audit verify`: an intact trail passes; a wrong key, an edited record and a
/// deleted one (by someone who dropped the triggers) are each reported at their place.
#[tokio::test(flavor = "multi_thread")]
async fn audit_verify_reports_tampering_at_its_record() {
    use fengqiao_app::audit::Who;
    use fengqiao_domain::audit::AuditAction;
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("a.db").to_string_lossy().into_owned();
    run(&["migrate", "--database-url", &db]);
    {
        let store = fengqiao_store_sqlite::SqliteStore::open(&db).await.unwrap();
        let app = fengqiao_app::App::start(
            std::sync::Arc::new(store),
            std::sync::Arc::new(fengqiao_app::clock::SystemClock),
            fengqiao_app::Settings {
                audit_key: Some(b"the key".to_vec()),
                ..Default::default()
            },
        )
        .await
        .unwrap();
        for i in 1..=6 {
            app.audit(
                Who::named("admin"),
                AuditAction::ConfigChanged,
                &format!("setting:{i}"),
                "ok",
                serde_json::json!({"n": i}),
            )
            .await
            .unwrap();
            if i == 4 {
                assert_eq!(app.checkpoint_audit().await.unwrap().unwrap().seq, 4);
            }
        }
    }
    let verify = |key: &str| {
        let out = Command::new(BIN)
            .args(["audit", "verify", "--database-url", &db])
            .env("FENGQIAO_AUDIT_KEY", key)
            .output()
            .unwrap();
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
        )
    };
    let (code, out) = verify("the key");
    assert_eq!(code, Some(0), "{out}");
    assert!(out.contains("6 records") && out.contains("intact"), "{out}");
    let (code, out) = verify("another key");
    assert_eq!(code, Some(1), "{out}");
    assert!(
        out.contains(r#"{"problem":"checkpoint_forged","seq":4}"#),
        "{out}"
    );

    let raw = sqlx::SqlitePool::connect(&format!("sqlite://{db}"))
        .await
        .unwrap();
    for sql in [
        "DROP TRIGGER audit_log_no_update",
        "DROP TRIGGER audit_log_no_delete",
        "UPDATE audit_log SET target = 'setting:x' WHERE seq = 2",
        "DELETE FROM audit_log WHERE seq = 5",
    ] {
        sqlx::query(sql).execute(&raw).await.unwrap();
    }
    raw.close().await;
    let (code, out) = verify("the key");
    assert_eq!(code, Some(1), "{out}");
    for p in [
        r#"{"problem":"altered","seq":2}"#,
        r#"{"problem":"missing","from":5,"to":5}"#,
        r#"{"problem":"chain_broken","seq":6}"#,
    ] {
        assert!(out.contains(p), "{p} in {out}");
    }
}

/// A real deployment starts with `fengqiao init`: its places and one administrator, whose
/// printed one-time password signs in only to be changed; a second `init` is refused.
#[test]
fn init_creates_the_first_administrator_with_a_one_time_password() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("new.db");
    let db = db.to_str().unwrap();
    let args = [
        "init",
        "--database-url",
        db,
        "--county-code",
        "990102",
        "--county-name",
        "青溪县",
        "--city-name",
        "示例市",
        "--province-name",
        "示例省",
        "--admin",
        "chief",
    ];
    let out = run(&args);
    let password = out
        .split("one-time password ")
        .nth(1)
        .and_then(|r| r.split_whitespace().next())
        .unwrap_or_else(|| panic!("no password in {out}"))
        .to_string();
    assert_eq!(password.chars().count(), 20, "{out}");
    let again = Command::new(BIN).args(args).output().unwrap();
    assert!(!again.status.success(), "a second init is refused");
    assert!(String::from_utf8_lossy(&again.stderr).contains("administrator"));
    let port = free_port();
    let mut server = serve(db, port);
    let login = |password: &str| {
        http(
            port,
            "POST",
            "/api/v1/auth/login",
            &serde_json::json!({"username": "chief", "password": password}).to_string(),
        )
        .unwrap()
    };
    let (status, body) = login(&password);
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["next_step"], "change_password", "{body}");
    assert_eq!(login("Wrong#Password1").0, 401);
    let (_, places) = http(port, "GET", "/api/v1/jurisdictions/990102", "").unwrap();
    assert_ne!(
        places["name"], "青溪县",
        "nothing is readable without a full session"
    );
    server.kill().unwrap();
    server.wait().unwrap();
}
