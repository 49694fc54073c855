//! The courier against real servers on loopback: an SMTP server (Python's aiosmtpd, with
//! AUTH) and an HTTP receiver (axum) standing for a webhook subscriber and an SMS gateway.
//! Notifications go through the database queue of a real SQLite store, across a restart.
// Tests fail loudly: unwrapping is how they assert.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, Uri};
use base64::Engine;
use fengqiao_app::auth::actor_of;
use fengqiao_app::clock::ManualClock;
use fengqiao_app::{App, Settings};
use fengqiao_domain::access::{Actor, Role};
use fengqiao_domain::outbound::*;
use fengqiao_notify::NetCourier;
use fengqiao_store::{NewNotification, NewUser};
use hmac::Mac;
use std::io::BufRead;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{mpsc, Arc, Mutex};
use std::time::Duration;

const SMTP_USER: &str = "fengqiao";
const SMTP_PASSWORD: &str = "s3cret-relay";
const HOOK_SECRET: &str = "hook-secret-0123456789";

/// A real SMTP server in a child process; its messages arrive on `messages`.
struct SmtpSink {
    child: std::process::Child,
    port: u16,
    messages: mpsc::Receiver<serde_json::Value>,
}

impl Drop for SmtpSink {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn smtp_sink() -> SmtpSink {
    // Debian's interpreter, which has python3-aiosmtpd (scripts/test installs it).
    let python =
        std::env::var("FENGQIAO_TEST_PYTHON").unwrap_or_else(|_| "/usr/bin/python3".into());
    let port = free_port();
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/smtp_sink.py");
    let mut child = std::process::Command::new(&python)
        .args([script, &port.to_string(), SMTP_USER, SMTP_PASSWORD])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {python} {script}: {e}"));
    let stdout = child.stdout.take().unwrap();
    let (tx, rx) = mpsc::channel();
    let (ready_tx, ready_rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in std::io::BufReader::new(stdout).lines() {
            let Ok(line) = line else { return };
            if line == "ready" {
                let _ = ready_tx.send(());
            } else if let Ok(v) = serde_json::from_str(&line) {
                let _ = tx.send(v);
            }
        }
    });
    ready_rx
        .recv_timeout(Duration::from_secs(20))
        .unwrap_or_else(|_| {
            panic!("the SMTP sink did not start: is python3-aiosmtpd installed for {python}?")
        });
    SmtpSink {
        child,
        port,
        messages: rx,
    }
}

#[derive(Debug, Clone)]
struct Hit {
    uri: String,
    headers: HeaderMap,
    body: Vec<u8>,
}

#[derive(Default)]
struct Receiver {
    hits: Mutex<Vec<Hit>>,
    /// Requests to /hook answered 503 before the receiver starts accepting.
    fail_first: AtomicUsize,
}

async fn receive(
    State(r): State<Arc<Receiver>>,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> StatusCode {
    r.hits.lock().unwrap().push(Hit {
        uri: uri.to_string(),
        headers,
        body: body.to_vec(),
    });
    if uri.path() == "/hook"
        && r.fail_first
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
            .is_ok()
    {
        return StatusCode::SERVICE_UNAVAILABLE;
    }
    StatusCode::OK
}

async fn http_receiver(fail_first: usize) -> (Arc<Receiver>, u16) {
    let r = Arc::new(Receiver {
        fail_first: AtomicUsize::new(fail_first),
        ..Default::default()
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let router = axum::Router::new()
        .fallback(receive)
        .with_state(Arc::clone(&r));
    tokio::spawn(async move { axum::serve(listener, router).await });
    (r, port)
}

async fn open_app(path: &str, clock: Arc<ManualClock>) -> Arc<App> {
    let store = fengqiao_store_sqlite::SqliteStore::open(path)
        .await
        .unwrap();
    Arc::new(
        App::start(Arc::new(store), clock, Settings::default())
            .await
            .unwrap(),
    )
}

/// A county admin and a unit leader with an e-mail address and a mobile number.
async fn people(app: &App) -> (Actor, i64) {
    let hash = fengqiao_app::auth::hash_password("Fengqiao@2026").unwrap();
    fengqiao_demo::seed_reference(app.store.as_ref(), 7, &hash, app.now())
        .await
        .unwrap();
    let admin = app
        .store
        .get_user_by_username("admin")
        .await
        .unwrap()
        .unwrap();
    let leader = app
        .store
        .insert_user(
            &NewUser {
                username: "notify-leader".into(),
                display_name: "李四".into(),
                password_hash: hash,
                role: Role::UnitLeader,
                scope_code: admin.scope_code.clone(),
                scope_path: admin.scope_path.clone(),
                unit_id: None,
                must_change_password: false,
            },
            app.now(),
        )
        .await
        .unwrap();
    let admin = actor_of(&admin);
    let shown = app
        .set_contact(
            &admin,
            leader.id,
            &Contact {
                email: Some(" lisi@county.example.org ".into()),
                phone: Some("138-0013-8000".into()),
            },
        )
        .await
        .unwrap();
    assert_eq!(
        shown.phone.as_deref(),
        Some("138****8000"),
        "masked when shown"
    );
    (admin, leader.id)
}

fn summons(user_id: i64) -> NewNotification {
    NewNotification {
        user_id,
        case_id: None,
        kind: "summons".into(),
        title: "吹哨：城关镇物业纠纷".into(),
        body: "请于 24 小时内响应 & 到场".into(),
    }
}

fn decode_subject(data: &str) -> String {
    let line = data
        .lines()
        .find(|l| l.starts_with("Subject: "))
        .expect("a Subject header");
    let b64 = line
        .trim_start_matches("Subject: =?UTF-8?B?")
        .trim_end_matches("?=");
    String::from_utf8(
        base64::engine::general_purpose::STANDARD
            .decode(b64)
            .unwrap(),
    )
    .unwrap()
}

fn decode_body(data: &str) -> String {
    let (_, body) = data
        .split_once("\n\n")
        .or(data.split_once("\r\n\r\n"))
        .unwrap();
    let joined: String = body.split_whitespace().collect();
    String::from_utf8(
        base64::engine::general_purpose::STANDARD
            .decode(joined)
            .unwrap(),
    )
    .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_notification_reaches_webhook_mail_and_sms_through_the_durable_queue() {
    let smtp = smtp_sink();
    let (receiver, http_port) = http_receiver(2).await;
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("q.db");
    let db = db.to_str().unwrap();
    let clock = Arc::new(ManualClock::new(1_763_000_000_000));
    let app = open_app(db, clock.clone()).await;
    let (admin, leader) = people(&app).await;

    // Settings refused with a clear error; then the real ones.
    let bad = app
        .create_webhook(
            &admin,
            &WebhookInput {
                url: "ftp://x".into(),
                secret: HOOK_SECRET.into(),
                kinds: vec![],
            },
        )
        .await
        .unwrap_err();
    assert_eq!(bad.code(), "validation_failed");
    let hook = app
        .create_webhook(
            &admin,
            &WebhookInput {
                url: format!("http://127.0.0.1:{http_port}/hook"),
                secret: HOOK_SECRET.into(),
                kinds: vec!["summons".into()],
            },
        )
        .await
        .unwrap();
    app.put_outbound_config(
        &admin,
        OutboundConfig {
            smtp: Some(SmtpConfig {
                host: "127.0.0.1".into(),
                port: smtp.port,
                from: "noreply@fengqiao.example.org".into(),
                username: Some(SMTP_USER.into()),
                password: Some(SMTP_PASSWORD.into()),
            }),
            sms: Some(SmsConfig {
                url_template: format!(
                    "http://127.0.0.1:{http_port}/sms?mobile={{phone}}&content={{text}}"
                ),
                method: HttpMethod::Get,
                body_template: None,
                kinds: vec!["summons".into()],
            }),
        },
    )
    .await
    .unwrap();
    // The overview hides the SMTP password; saving it back unchanged keeps the real one.
    let overview = app.outbound_overview(&admin).await.unwrap();
    assert_eq!(
        overview.config.smtp.as_ref().unwrap().password.as_deref(),
        Some("********")
    );
    app.put_outbound_config(&admin, overview.config.clone())
        .await
        .unwrap();

    // A notification written, then the process "crashes" before any courier ran.
    assert!(app
        .store
        .notify_once("test", "1", &[summons(leader)], app.now())
        .await
        .unwrap());
    let report = app.run_courier().await.unwrap();
    assert_eq!(
        (
            report.notifications_fanned_out,
            report.deliveries_queued,
            report.delivered
        ),
        (1, 3, 0),
        "fanned out into webhook, e-mail and SMS; nothing sent without a courier"
    );
    drop(app);

    // After the restart, the courier sends what the queue holds.
    let app = open_app(db, clock.clone()).await;
    app.set_courier(Arc::new(NetCourier::default()));
    let report = app.run_courier().await.unwrap();
    assert_eq!(
        (report.delivered, report.retrying, report.failed),
        (2, 1, 0),
        "e-mail and SMS delivered; the webhook answered 503 and waits"
    );

    let mail = smtp.messages.recv_timeout(Duration::from_secs(10)).unwrap();
    assert_eq!(mail["mail_from"], "noreply@fengqiao.example.org");
    assert_eq!(mail["rcpt_tos"][0], "lisi@county.example.org");
    let data = mail["data"].as_str().unwrap();
    assert_eq!(decode_subject(data), "【枫桥】吹哨：城关镇物业纠纷");
    assert!(decode_body(data).contains("请于 24 小时内响应 & 到场"));

    let sms = receiver
        .hits
        .lock()
        .unwrap()
        .iter()
        .find(|h| h.uri.starts_with("/sms"))
        .cloned()
        .expect("the SMS gateway was called");
    assert!(sms
        .uri
        .starts_with("/sms?mobile=13800138000&content=%E3%80%90"));
    let content = sms.uri.split("content=").nth(1).unwrap();
    let decoded: String = form_decode(content);
    assert_eq!(
        decoded,
        "【枫桥】吹哨：城关镇物业纠纷：请于 24 小时内响应 & 到场"
    );

    // Backoff: not again before a minute has passed, then once more 503, then accepted.
    assert_eq!(app.run_courier().await.unwrap().retrying, 0);
    clock.advance(60_000);
    assert_eq!(app.run_courier().await.unwrap().retrying, 1);
    clock.advance(60_000);
    assert_eq!(
        app.run_courier().await.unwrap().delivered,
        0,
        "second wait is 2 minutes"
    );
    clock.advance(60_000);
    assert_eq!(app.run_courier().await.unwrap().delivered, 1);

    let hooks: Vec<Hit> = receiver
        .hits
        .lock()
        .unwrap()
        .iter()
        .filter(|h| h.uri == "/hook")
        .cloned()
        .collect();
    assert_eq!(hooks.len(), 3);
    let last = hooks.last().unwrap();
    let header = |k: &str| last.headers.get(k).unwrap().to_str().unwrap().to_string();
    assert_eq!(header("x-fengqiao-event"), "summons");
    let ts = header("x-fengqiao-timestamp");
    let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(HOOK_SECRET.as_bytes()).unwrap();
    mac.update(format!("{ts}.").as_bytes());
    mac.update(&last.body);
    let want: String = mac
        .finalize()
        .into_bytes()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    assert_eq!(header("x-fengqiao-signature"), format!("sha256={want}"));
    let msg: Message = serde_json::from_slice(&last.body).unwrap();
    assert_eq!((msg.kind.as_str(), msg.user_id), ("summons", leader));
    assert_eq!(msg.username, "notify-leader");
    // The same delivery id on every attempt: receivers can drop repeats.
    assert!(hooks
        .iter()
        .all(|h| h.headers["x-fengqiao-delivery"] == last.headers["x-fengqiao-delivery"]));

    let all = app.deliveries(&admin, None, 50).await.unwrap();
    assert!(all.iter().all(|d| d.status == DeliveryStatus::Delivered));
    let sms_row = all.iter().find(|d| d.medium == Medium::Sms).unwrap();
    assert_eq!(
        sms_row.target, "138****8000",
        "phones masked in the admin list"
    );
    assert!(hook.active);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_receiver_that_never_answers_ends_as_a_failure_the_admin_sees_and_can_retry() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("f.db");
    let clock = Arc::new(ManualClock::new(1_763_000_000_000));
    let app = open_app(db.to_str().unwrap(), clock.clone()).await;
    let (admin, leader) = people(&app).await;
    let dead = free_port();
    app.create_webhook(
        &admin,
        &WebhookInput {
            url: format!("http://127.0.0.1:{dead}/gone"),
            secret: HOOK_SECRET.into(),
            kinds: vec![],
        },
    )
    .await
    .unwrap();
    app.set_courier(Arc::new(NetCourier::default()));
    app.store
        .notify_once("test", "1", &[summons(leader)], app.now())
        .await
        .unwrap();
    let mut failed = 0;
    for _ in 0..MAX_ATTEMPTS {
        failed += app.run_courier().await.unwrap().failed;
        clock.advance(5 * 3_600_000);
    }
    assert_eq!(failed, 1, "given up after {MAX_ATTEMPTS} attempts");
    let list = app
        .deliveries(&admin, Some(DeliveryStatus::Failed), 10)
        .await
        .unwrap();
    assert_eq!(list.len(), 1);
    assert_eq!(list[0].attempts, MAX_ATTEMPTS);
    let err = list[0].last_error.as_deref().unwrap();
    assert!(err.contains("HTTP"), "the reason is kept: {err}");

    // Only administrators see the queue.
    let leader_actor = actor_of(&app.store.get_user(leader).await.unwrap().unwrap());
    assert_eq!(
        app.deliveries(&leader_actor, None, 10)
            .await
            .unwrap_err()
            .code(),
        "forbidden"
    );
    // A retry puts it back in the queue, due now.
    app.retry_delivery(&admin, list[0].id).await.unwrap();
    assert_eq!(app.run_courier().await.unwrap().failed, 1);
    assert_eq!(
        app.retry_delivery(&admin, 999_999)
            .await
            .unwrap_err()
            .code(),
        "delivery_not_found"
    );
}

/// Other systems follow cases: a webhook subscribed to `case.registered` and `case.routed`
/// receives exactly those events, signed, with personal numbers masked; a webhook of
/// notifications only receives no case events.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn webhooks_subscribed_to_case_events_receive_them_signed_and_masked() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("f.db");
    let clock = Arc::new(ManualClock::new(1_763_000_000_000));
    let app = open_app(db.to_str().unwrap(), clock.clone()).await;
    let (admin, _) = people(&app).await;
    let (rx, port) = http_receiver(0).await;
    for (path, kinds) in [
        (
            "/cases",
            vec!["case.registered".to_string(), "case.routed".into()],
        ),
        ("/notes", vec![]),
    ] {
        app.create_webhook(
            &admin,
            &WebhookInput {
                url: format!("http://127.0.0.1:{port}{path}"),
                secret: HOOK_SECRET.into(),
                kinds,
            },
        )
        .await
        .unwrap();
    }
    app.set_courier(Arc::new(NetCourier::default()));
    let dispatcher = actor_of(
        &app.store
            .get_user_by_username("dispatcher")
            .await
            .unwrap()
            .unwrap(),
    );
    let village = app
        .store
        .get_jurisdiction("990102001001")
        .await
        .unwrap()
        .expect("the demo county's first village");
    let input: fengqiao_app::cases::CaseInput = serde_json::from_value(serde_json::json!({
        "channel": "walk_in", "text": "邻居装修噪音扰民，双方发生口角", "node_code": village.code,
        "parties": [{"name": "王某", "role": "applicant", "phone": "13800138000"}]
    }))
    .unwrap();
    let (case, _) = app
        .submit_case(Some(&dispatcher), &input, None)
        .await
        .unwrap();
    let unit = app.store.list_units("/").await.unwrap()[0].id;
    app.act(
        &dispatcher,
        case.id,
        &fengqiao_domain::workflow::Command::Route {
            lead_unit_id: unit,
            co_unit_ids: vec![],
        },
    )
    .await
    .unwrap();
    let report = app.run_courier().await.unwrap();
    assert!(report.case_events_fanned_out >= 2, "{report:?}");
    let hits = rx.hits.lock().unwrap().clone();
    // Deliveries go out in parallel: receivers order a case's events by `seq`.
    let mut case_hits: Vec<&Hit> = hits.iter().filter(|h| h.uri == "/cases").collect();
    case_hits.sort_by_key(|h| {
        serde_json::from_slice::<CaseEventMessage>(&h.body)
            .unwrap()
            .seq
    });
    let kinds: Vec<String> = case_hits
        .iter()
        .map(|h| h.headers["x-fengqiao-event"].to_str().unwrap().to_string())
        .collect();
    assert_eq!(kinds, ["case.registered", "case.routed"]);
    for h in &case_hits {
        let ts = h.headers["x-fengqiao-timestamp"].to_str().unwrap();
        let sig = h.headers["x-fengqiao-signature"].to_str().unwrap();
        assert_eq!(
            sig,
            fengqiao_app::outbound::webhook_signature(HOOK_SECRET, ts.parse().unwrap(), &h.body)
        );
        let body = String::from_utf8(h.body.clone()).unwrap();
        assert!(!body.contains("13800138000"), "the phone is masked: {body}");
    }
    let msg: CaseEventMessage = serde_json::from_slice(&case_hits[1].body).unwrap();
    assert_eq!(
        (msg.case_id, msg.seq, msg.status.as_str()),
        (case.id, 2, "routed")
    );
    assert_eq!(msg.event["kind"]["action"], "routed");
    assert!(
        hits.iter()
            .filter(|h| h.uri == "/notes")
            .all(|h| !h.headers["x-fengqiao-event"]
                .to_str()
                .unwrap()
                .starts_with("case.")),
        "a webhook of notifications gets no case events"
    );
    // Nothing is sent twice, and events nobody follows leave the queue.
    let again = app.run_courier().await.unwrap();
    assert_eq!(
        (again.deliveries_queued, again.delivered),
        (0, 0),
        "{again:?}"
    );
    assert!(app
        .store
        .case_events_to_fan_out(10)
        .await
        .unwrap()
        .is_empty());
}

fn form_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' && i + 2 < bytes.len() {
            out.push(u8::from_str_radix(&s[i + 1..i + 3], 16).unwrap());
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).unwrap()
}
