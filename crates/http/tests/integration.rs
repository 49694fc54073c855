//! End-to-end tests of the API on both backends: each test runs once on a fresh SQLite file
//! and once on a fresh PostgreSQL database, with a manual clock.
// Tests fail loudly: unwrapping is how they assert.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
use axum::body::Body;
use axum::http::{Method, Request, StatusCode};
use axum::Router;
use fengqiao_app::clock::ManualClock;
use fengqiao_app::{App, Settings};
use fengqiao_domain::time::local_instant;
use fengqiao_domain::workflow::{replay, CaseEvent};
use fengqiao_store::Store;
use http_body_util::BodyExt;
use serde_json::{json, Value};
use std::sync::Arc;
use tower::ServiceExt;

const PASSWORD: &str = fengqiao_demo::DEMO_PASSWORD;
/// 城关镇 (town A) and 河口镇 (town B) villages of the demo county.
const VILLAGE_A: &str = "990102001001";
const VILLAGE_B: &str = "990102002001";

struct T {
    router: Router,
    app: Arc<App>,
    clock: Arc<ManualClock>,
    backend: &'static str,
    _dir: Option<tempfile::TempDir>,
    /// Sessions of accounts with a second factor (a TOTP code works once, and the test clock
    /// stands still).
    tokens: std::sync::Mutex<std::collections::HashMap<String, String>>,
    /// Passwords changed at a forced change.
    passwords: std::sync::Mutex<std::collections::HashMap<String, String>>,
}

async fn store(backend: &str) -> (Arc<dyn Store>, Option<tempfile::TempDir>) {
    match backend {
        "sqlite" => {
            let dir = tempfile::tempdir().unwrap();
            let s =
                fengqiao_store_sqlite::SqliteStore::open(dir.path().join("t.db").to_str().unwrap())
                    .await
                    .unwrap();
            (Arc::new(s), Some(dir))
        }
        _ => {
            let url = fengqiao_store_postgres::testing::fresh_database()
                .await
                .expect("PostgreSQL for tests");
            (
                Arc::new(
                    fengqiao_store_postgres::PostgresStore::open(&url)
                        .await
                        .unwrap(),
                ),
                None,
            )
        }
    }
}

/// Monday 2025-03-03, 09:00 China time.
fn monday() -> i64 {
    local_instant(chrono::NaiveDate::from_ymd_opt(2025, 3, 3).unwrap(), 9, 0)
}

/// A server whose sessions outlive the days the tests' clock jumps (the idle and absolute
/// limits are tested with their defaults by `sessions_end_when_idle_or_after_twelve_hours`).
async fn spawn(backend: &'static str) -> T {
    spawn_with(
        backend,
        Settings {
            max_attachment_bytes: 1024,
            session_idle_ms: 366 * 86_400_000,
            session_absolute_ms: 366 * 86_400_000,
            ..Settings::default()
        },
    )
    .await
}

async fn spawn_with(backend: &'static str, settings: Settings) -> T {
    let (store, dir) = store(backend).await;
    let clock = Arc::new(ManualClock::new(monday()));
    let app = Arc::new(App::start(store, clock.clone(), settings).await.unwrap());
    app.attach_search(Arc::new(fengqiao_search::SearchIndex::in_memory().unwrap()));
    let hash = fengqiao_app::auth::hash_password(PASSWORD).unwrap();
    fengqiao_demo::seed_reference(app.store.as_ref(), 7, &hash, app.now())
        .await
        .unwrap();
    T {
        router: fengqiao_http::router(app.clone()),
        app,
        clock,
        backend,
        _dir: dir,
        tokens: Default::default(),
        passwords: Default::default(),
    }
}

/// Runs a test body on every backend.
macro_rules! on_both {
    ($name:ident, $body:expr) => {
        #[tokio::test]
        async fn $name() {
            for backend in ["sqlite", "postgres"] {
                let t = spawn(backend).await;
                $body(t).await;
            }
        }
    };
}

impl T {
    async fn call(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
        headers: &[(&str, &str)],
    ) -> (StatusCode, Value) {
        let mut b = Request::builder().method(method).uri(path);
        if let Some(t) = token {
            b = b.header("authorization", format!("Bearer {t}"));
        }
        for (k, v) in headers {
            b = b.header(*k, *v);
        }
        let req = match body {
            Some(v) => b
                .header("content-type", "application/json")
                .body(Body::from(v.to_string())),
            None => b.body(Body::empty()),
        }
        .unwrap();
        let res = self.router.clone().oneshot(req).await.unwrap();
        let status = res.status();
        let bytes = res.into_body().collect().await.unwrap().to_bytes();
        (
            status,
            serde_json::from_slice(&bytes).unwrap_or(Value::Null),
        )
    }
    async fn get(&self, path: &str, token: &str) -> (StatusCode, Value) {
        self.call(Method::GET, path, Some(token), None, &[]).await
    }
    async fn post(&self, path: &str, token: &str, body: Value) -> (StatusCode, Value) {
        self.call(Method::POST, path, Some(token), Some(body), &[])
            .await
    }
    async fn put(&self, path: &str, token: &str, body: Value) -> (StatusCode, Value) {
        self.call(Method::PUT, path, Some(token), Some(body), &[])
            .await
    }
    async fn act(&self, id: i64, token: &str, body: Value) -> (StatusCode, Value) {
        self.post(&format!("/api/v1/cases/{id}/actions"), token, body)
            .await
    }
    /// Runs the deadline monitor as the admin; returns its report.
    async fn sweep(&self) -> (StatusCode, Value) {
        let admin = self.login("admin").await;
        self.post("/api/v1/admin/deadline-sweep", &admin, json!({}))
            .await
    }
    /// Moves the clock to a China-time date and hour.
    fn set_local_time(&self, y: i32, m: u32, d: u32, hour: u32, minute: u32) {
        self.clock.set(local_instant(
            chrono::NaiveDate::from_ymd_opt(y, m, d).unwrap(),
            hour,
            minute,
        ));
    }
    /// The user's notifications of one kind.
    async fn notices(&self, user: &str, kind: &str) -> Vec<Value> {
        let (_, inbox) = self.get("/api/v1/inbox", &self.login(user).await).await;
        inbox
            .as_array()
            .unwrap()
            .iter()
            .filter(|n| n["kind"] == kind)
            .cloned()
            .collect()
    }
    /// Signs in, finishing every step the default policy asks: a forced password change
    /// (the new password is remembered for later sign-ins), the TOTP code, or enrolling one.
    async fn login(&self, user: &str) -> String {
        let cached = self.tokens.lock().unwrap().get(user).cloned();
        if let Some(t) = cached {
            if self
                .call(Method::GET, "/api/v1/me", Some(&t), None, &[])
                .await
                .0
                == StatusCode::OK
            {
                return t;
            }
        }
        let password = self.password_of(user);
        let (s, b) = self
            .call(
                Method::POST,
                "/api/v1/auth/login",
                None,
                Some(json!({"username": user, "password": password})),
                &[],
            )
            .await;
        assert_eq!(s, StatusCode::OK, "{}: login {user}: {b}", self.backend);
        let token = b["token"].as_str().unwrap().to_string();
        let mut step = b["next_step"].as_str().unwrap().to_string();
        while step != "full" {
            let (path, body) = match step.as_str() {
                "change_password" => {
                    let new = format!("{password}x");
                    self.passwords
                        .lock()
                        .unwrap()
                        .insert(user.to_string(), new.clone());
                    (
                        "/api/v1/auth/password",
                        json!({"current_password": password, "new_password": new}),
                    )
                }
                "second_factor" => {
                    let u = self
                        .app
                        .store
                        .get_user_by_username(user)
                        .await
                        .unwrap()
                        .unwrap();
                    (
                        "/api/v1/auth/second-factor",
                        json!({"code": self.totp(u.totp_secret.as_deref().unwrap())}),
                    )
                }
                _ => {
                    let (s, e) = self
                        .call(
                            Method::POST,
                            "/api/v1/auth/second-factor/enrolment",
                            Some(&token),
                            None,
                            &[],
                        )
                        .await;
                    assert_eq!(s, StatusCode::OK, "{e}");
                    (
                        "/api/v1/auth/second-factor/enrolment/confirm",
                        json!({"code": self.totp(e["secret"].as_str().unwrap())}),
                    )
                }
            };
            let (s, r) = self
                .call(Method::POST, path, Some(&token), Some(body), &[])
                .await;
            assert_eq!(s, StatusCode::OK, "{}: {user} at {step}: {r}", self.backend);
            step = r["next_step"].as_str().unwrap().to_string();
        }
        self.tokens
            .lock()
            .unwrap()
            .insert(user.to_string(), token.clone());
        token
    }
    fn password_of(&self, user: &str) -> String {
        self.passwords
            .lock()
            .unwrap()
            .get(user)
            .cloned()
            .unwrap_or_else(|| PASSWORD.to_string())
    }
    /// The current TOTP code of a base32 secret, by the test clock.
    fn totp(&self, secret: &str) -> String {
        use fengqiao_app::totp;
        totp::code(
            &totp::base32_decode(secret).unwrap(),
            totp::step_of(self.app.now()),
        )
    }
    async fn unit_of(&self, user: &str) -> i64 {
        self.app
            .store
            .get_user_by_username(user)
            .await
            .unwrap()
            .unwrap()
            .unit_id
            .unwrap()
    }
    async fn user_id(&self, user: &str) -> i64 {
        self.app
            .store
            .get_user_by_username(user)
            .await
            .unwrap()
            .unwrap()
            .id
    }
    /// The stored analysis of a case, once the background reader has written it (and the
    /// automatic link that follows it).
    async fn analysis(&self, id: i64, token: &str) -> Value {
        for _ in 0..300 {
            let (s, a) = self
                .get(&format!("/api/v1/cases/{id}/analysis"), token)
                .await;
            let linked_or_not = a["auto_linked"].as_array().is_some_and(|l| {
                l.is_empty() && a["duplicates"][0]["score"].as_f64().unwrap_or(0.0) < 0.8
                    || !l.is_empty()
            });
            if s == StatusCode::OK && linked_or_not {
                return a;
            }
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        }
        panic!("{}: case {id} was not analysed in time", self.backend)
    }
    /// The stored log replays to exactly the stored state.
    /// The name of village A, as exports from other systems write places.
    async fn village_a_name(&self, token: &str) -> String {
        let (_, village) = self
            .get(&format!("/api/v1/jurisdictions/{VILLAGE_A}"), token)
            .await;
        village["name"].as_str().unwrap().to_string()
    }

    /// The ids of a case list's first page.
    async fn case_ids(&self, path: &str, token: &str) -> Vec<i64> {
        let (s, list) = self.get(path, token).await;
        assert_eq!(s, StatusCode::OK, "{list}");
        list["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["id"].as_i64().unwrap())
            .collect()
    }

    async fn assert_replays(&self, id: i64) {
        let events: Vec<CaseEvent> = self.app.store.case_events(id).await.unwrap();
        let stored = self.app.store.get_case(id).await.unwrap().unwrap();
        assert_eq!(
            replay(&events).unwrap(),
            stored.state,
            "{}: replay of case {id}",
            self.backend
        );
        assert_eq!(events.len() as i64, stored.version);
    }
}

fn staff_case(village: &str) -> Value {
    json!({
        "channel": "walk_in",
        "text": "王某反映邻居李某在公共通道堆放杂物，影响通行，多次沟通无果。",
        "parties": [
            {"name": "王某", "role": "applicant", "phone": "13800138000", "id_number": "11010519491231002X"},
            {"name": "李某", "role": "respondent"}
        ],
        "dispute_type": "neighbourhood",
        "node_code": village,
        "amount_fen": 50000
    })
}

on_both!(
    citizen_submission_walks_the_whole_loop_to_archive,
    |t: T| async move {
        // 受理: a citizen submits through the public form.
        let sub = json!({"text": "楼上住户装修噪音很大，晚上十点后还在施工，家里老人无法休息。", "node_code": VILLAGE_A,
                     "name": "陈女士", "phone": "139-0013-9000", "consent": true});
        let (s, case) = t
            .call(Method::POST, "/api/v1/public/cases", None, Some(sub), &[])
            .await;
        assert_eq!(s, StatusCode::CREATED, "{case}");
        let id = case["id"].as_i64().unwrap();
        let code = case["tracking_code"].as_str().unwrap().to_string();
        assert_eq!(case["status"], "registered");
        assert_eq!(case["channel"], "citizen_web");
        assert_eq!(
            case["parties"][0]["phone"], "139****9000",
            "masked in the answer"
        );

        let disp = t.login("dispatcher").await;
        let handler = t.login("u02staff").await;
        let unit = t.unit_of("u02staff").await;
        // 分流 with a co-handling unit.
        let police = t.unit_of("u03staff").await;
        let (s, c) = t
            .act(
                id,
                &disp,
                json!({"action": "route", "lead_unit_id": unit, "co_unit_ids": [police]}),
            )
            .await;
        assert_eq!(s, StatusCode::OK, "{c}");
        assert_eq!(
            (c["status"].as_str(), c["light"].as_str()),
            (Some("routed"), Some("green"))
        );
        assert_eq!(
            c["deadline"]["due"], "2025-03-06",
            "simple: 3 working days after Monday"
        );
        // The lead unit's leader is told.
        assert_eq!(t.notices("u02leader", "case_routed").await.len(), 1);

        t.clock.advance(3_600_000);
        for (token, body, status) in [
            (&handler, json!({"action": "accept"}), "accepted"),
            (
                &handler,
                json!({"action": "record_session", "date": "2025-03-04", "mediator": "刘调解员", "place": "城关司法所调解室",
                          "online": false, "participants": ["陈女士", "楼上住户"], "notes": "双方同意晚八点后停止施工"}),
                "in_mediation",
            ),
            (
                &handler,
                json!({"action": "conclude", "outcome": {"kind": "agreement", "agreement": "施工限于工作日8:00-18:00，赔偿精神损失500元"}}),
                "concluded",
            ),
            (
                &handler,
                json!({"action": "give_feedback", "text": "已调解成功，协议已签订。"}),
                "feedback_given",
            ),
        ] {
            let (s, c) = t.act(id, token, body).await;
            assert_eq!(s, StatusCode::OK, "{}: {c}", t.backend);
            assert_eq!(c["status"], status);
        }
        // 评价 by the citizen, with the tracking code and the phone.
        let (s, p) = t
            .call(
                Method::POST,
                "/api/v1/public/track",
                None,
                Some(json!({"tracking_code": code, "phone": "13900139000"})),
                &[],
            )
            .await;
        assert_eq!(s, StatusCode::OK);
        assert_eq!(p["status"], "feedback_given");
        assert_eq!(p["feedback"], "已调解成功，协议已签订。");
        let (s, _) = t
            .call(
                Method::POST,
                "/api/v1/public/track",
                None,
                Some(json!({"tracking_code": code, "phone": "13900000000"})),
                &[],
            )
            .await;
        assert_eq!(s, StatusCode::NOT_FOUND, "another phone learns nothing");
        let (s, b) = t.call(Method::POST, "/api/v1/public/evaluate", None,
        Some(json!({"tracking_code": code, "phone": "13900139000", "satisfaction": 5, "comment": "满意"})), &[]).await;
        assert_eq!(s, StatusCode::NO_CONTENT, "{b}");
        let (s, c) = t.act(id, &disp, json!({"action": "archive"})).await;
        assert_eq!(s, StatusCode::OK, "{c}");
        assert_eq!(c["status"], "archived");
        assert_eq!(c["evaluation"]["satisfaction"], 5);
        assert_eq!(c["evaluation"]["by_revisit"], false);

        let (_, events) = t.get(&format!("/api/v1/cases/{id}/events"), &disp).await;
        let actions: Vec<&str> = events
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["kind"]["action"].as_str().unwrap())
            .collect();
        assert_eq!(
            actions,
            [
                "registered",
                "routed",
                "accepted",
                "mediation_started",
                "session_recorded",
                "concluded",
                "feedback_given",
                "evaluated",
                "archived"
            ]
        );
        assert_eq!(events[1]["actor_id"], t.user_id("dispatcher").await);
        assert_eq!(
            events[0]["kind"]["case"]["parties"][0]["phone"], "139****9000",
            "timeline masked too"
        );
        t.assert_replays(id).await;

        // An archived case can be reopened, linked to the new complaint's case.
        let (_, complaint) = t.post("/api/v1/cases", &disp, staff_case(VILLAGE_A)).await;
        let complaint = complaint["id"].as_i64().unwrap();
        let (s, b) = t
            .act(
                id,
                &disp,
                json!({"action": "reopen", "reason": "未履行", "complaint_case_id": 999_999}),
            )
            .await;
        assert_eq!(
            (s, b["code"].as_str()),
            (StatusCode::NOT_FOUND, Some("case_not_found"))
        );
        let (s, c) = t
            .act(
                id,
                &disp,
                json!({"action": "reopen", "reason": "当事人反映对方未履行协议", "complaint_case_id": complaint}),
            )
            .await;
        assert_eq!(s, StatusCode::OK);
        assert_eq!(c["linked_case_ids"], json!([complaint]));
        assert_eq!(
            (c["status"].as_str(), c["reopen_count"].as_u64()),
            (Some("registered"), Some(1))
        );
        t.assert_replays(id).await;
    }
);

on_both!(
    a_passed_deadline_turns_red_and_opens_a_supervision,
    |t: T| async move {
        let disp = t.login("dispatcher").await;
        let (s, c) = t.post("/api/v1/cases", &disp, staff_case(VILLAGE_A)).await;
        assert_eq!(s, StatusCode::CREATED, "{c}");
        let id = c["id"].as_i64().unwrap();
        let unit = t.unit_of("u02staff").await;
        t.act(id, &disp, json!({"action": "route", "lead_unit_id": unit}))
            .await;
        // Wednesday: 1 working day left → yellow.
        t.set_local_time(2025, 3, 5, 9, 0);
        let (s, r) = t.sweep().await;
        assert_eq!(s, StatusCode::OK, "{r}");
        assert_eq!(r["lights_changed"], 1);
        // Sessions last 12 hours: after the clock moves, people log in again.
        let disp = t.login("dispatcher").await;
        assert_eq!(
            t.get(&format!("/api/v1/cases/{id}"), &disp).await.1["light"],
            "yellow"
        );
        // Friday: the due day (Thursday) has ended → red, automatic supervision, notifications.
        t.set_local_time(2025, 3, 7, 0, 30);
        let (_, r) = t.sweep().await;
        assert_eq!(
            (
                r["lights_changed"].as_u64(),
                r["supervisions_opened"].as_u64()
            ),
            (Some(1), Some(1)),
            "{r}"
        );
        let disp = t.login("dispatcher").await;
        let (_, c) = t.get(&format!("/api/v1/cases/{id}"), &disp).await;
        assert_eq!(c["light"], "red");
        assert_eq!(c["supervisions"][0]["automatic"], true);
        assert_eq!(
            c["supervisions"][0]["reply_due"], "2025-03-11",
            "2 working days after Friday"
        );
        // A second sweep changes nothing and opens no second supervision.
        let (_, r) = t.sweep().await;
        assert_eq!(
            (
                r["lights_changed"].as_u64(),
                r["supervisions_opened"].as_u64()
            ),
            (Some(0), Some(0))
        );
        for who in ["u02leader", "supervisor"] {
            let notices = t.notices(who, "supervision_opened").await;
            assert!(
                notices.iter().any(|n| n["case_id"] == id),
                "{who}: {notices:?}"
            );
        }
        let (_, inbox) = t.get("/api/v1/inbox", &t.login("u03leader").await).await;
        assert!(
            inbox.as_array().unwrap().is_empty(),
            "another unit's leader is not told"
        );
        // The supervision inbox lists it; the lead unit replies; it closes.
        let handler = t.login("u02staff").await;
        let (_, list) = t.get("/api/v1/supervisions", &handler).await;
        assert_eq!(list["items"].as_array().unwrap().len(), 1);
        let (s, c) = t
            .act(
                id,
                &handler,
                json!({"action": "reply_supervision", "no": 1, "reply": "已约双方明日调解"}),
            )
            .await;
        assert_eq!(s, StatusCode::OK, "{c}");
        assert!(c["supervisions"][0]["reply"].is_string());
        let (_, list) = t.get("/api/v1/supervisions", &handler).await;
        assert!(list["items"].as_array().unwrap().is_empty());
        // An approved extension moves the deadline forward and the light back to green.
        let (s, c) = t
            .act(
                id,
                &handler,
                json!({"action": "request_extension", "working_days": 5, "reason": "需要现场勘查"}),
            )
            .await;
        assert_eq!(s, StatusCode::OK, "{c}");
        let (s, c) = t
            .act(
                id,
                &t.login("u02leader").await,
                json!({"action": "approve_extension"}),
            )
            .await;
        assert_eq!(s, StatusCode::OK, "{c}");
        assert_eq!(c["deadline"]["due"], "2025-03-13");
        assert_eq!(c["light"], "green");
        t.assert_replays(id).await;
    }
);

on_both!(a_silent_citizen_gets_a_staff_revisit, |t: T| async move {
    let disp = t.login("dispatcher").await;
    let (_, c) = t.post("/api/v1/cases", &disp, staff_case(VILLAGE_A)).await;
    let id = c["id"].as_i64().unwrap();
    let handler = t.login("u02staff").await;
    t.act(
        id,
        &disp,
        json!({"action": "route", "lead_unit_id": t.unit_of("u02staff").await}),
    )
    .await;
    t.act(id, &handler, json!({"action": "accept"})).await;
    t.act(
        id,
        &handler,
        json!({"action": "conclude", "outcome": {"kind": "withdrawn", "note": "撤回"}}),
    )
    .await;
    let (s, c) = t
        .act(
            id,
            &handler,
            json!({"action": "give_feedback", "text": "已撤回"}),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{c}");
    assert_eq!(c["revisit_due_on"], "2025-03-10", "7 days after feedback");
    // Too early for a staff revisit.
    let (s, b) = t
        .act(id, &disp, json!({"action": "evaluate", "satisfaction": 4}))
        .await;
    assert_eq!(
        (s, b["code"].as_str()),
        (StatusCode::CONFLICT, Some("revisit_not_due"))
    );
    // On the day, the monitor asks the dispatchers, once.
    t.set_local_time(2025, 3, 10, 8, 0);
    let (_, r) = t.sweep().await;
    assert_eq!(r["revisits_requested"], 1, "{r}");
    let (_, r) = t.sweep().await;
    assert_eq!(
        (r["revisits_requested"].as_u64(), r["checked"].as_u64()),
        (Some(0), Some(0)),
        "{r}"
    );
    let notices = t.notices("dispatcher", "revisit_due").await;
    assert!(notices.iter().any(|n| n["case_id"] == id), "{notices:?}");
    let disp = t.login("dispatcher").await;
    let (s, c) = t
        .act(
            id,
            &disp,
            json!({"action": "evaluate", "satisfaction": 4, "comment": "电话回访：基本满意"}),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{c}");
    assert_eq!(c["evaluation"]["by_revisit"], true);
    t.assert_replays(id).await;
});

on_both!(
    a_town_cannot_see_or_touch_another_towns_cases,
    |t: T| async move {
        let disp = t.login("dispatcher").await;
        let (_, a) = t.post("/api/v1/cases", &disp, staff_case(VILLAGE_A)).await;
        let (_, b) = t.post("/api/v1/cases", &disp, staff_case(VILLAGE_B)).await;
        let (a, b) = (a["id"].as_i64().unwrap(), b["id"].as_i64().unwrap());
        let town_b = t.login("u03staff").await; // 河口司法所
        let (s, body) = t.get(&format!("/api/v1/cases/{a}"), &town_b).await;
        assert_eq!(
            (s, body["code"].as_str()),
            (StatusCode::NOT_FOUND, Some("case_not_found"))
        );
        assert_eq!(
            t.get(&format!("/api/v1/cases/{a}/events"), &town_b).await.0,
            StatusCode::NOT_FOUND
        );
        assert_eq!(
            t.act(a, &town_b, json!({"action": "accept"})).await.0,
            StatusCode::NOT_FOUND
        );
        assert_eq!(
            t.get(&format!("/api/v1/cases/{b}"), &town_b).await.0,
            StatusCode::OK
        );
        let (_, list) = t.get("/api/v1/cases?with_total=true", &town_b).await;
        assert_eq!(list["total"], 1);
        assert_eq!(list["items"][0]["id"], b);
        // A grid worker of town A cannot file a case in town B.
        let grid_a = t.login("grid01").await;
        let (s, body) = t
            .post("/api/v1/cases", &grid_a, staff_case(VILLAGE_B))
            .await;
        assert_eq!(
            (s, body["code"].as_str()),
            (StatusCode::FORBIDDEN, Some("forbidden"))
        );
        // Routing a town-A case to town B's unit lets that unit see and work it.
        let unit_b = t.unit_of("u03staff").await;
        t.act(a, &disp, json!({"action": "route", "lead_unit_id": unit_b}))
            .await;
        assert_eq!(
            t.act(a, &town_b, json!({"action": "accept"})).await.0,
            StatusCode::OK
        );
        // …but not town A's judicial office, which is not the lead unit.
        let town_a = t.login("u02staff").await;
        let (s, body) = t
            .act(
                a,
                &town_a,
                json!({"action": "conclude", "outcome": {"kind": "withdrawn", "note": "撤回"}}),
            )
            .await;
        assert_eq!(
            (s, body["code"].as_str()),
            (StatusCode::FORBIDDEN, Some("forbidden"))
        );
        // A read-only leader cannot act.
        let leader = t.login("leader").await;
        assert_eq!(
            t.act(b, &leader, json!({"action": "reject", "reason": "x"}))
                .await
                .0,
            StatusCode::FORBIDDEN
        );
        // No token, no data.
        let (s, body) = t.call(Method::GET, "/api/v1/cases", None, None, &[]).await;
        assert_eq!(
            (s, body["code"].as_str()),
            (StatusCode::UNAUTHORIZED, Some("unauthenticated"))
        );
    }
);

on_both!(retries_are_not_duplicated, |t: T| async move {
    let disp = t.login("dispatcher").await;
    let h = [("idempotency-key", "abc-123")];
    let (s1, c1) = t
        .call(
            Method::POST,
            "/api/v1/cases",
            Some(&disp),
            Some(staff_case(VILLAGE_A)),
            &h,
        )
        .await;
    let (s2, c2) = t
        .call(
            Method::POST,
            "/api/v1/cases",
            Some(&disp),
            Some(staff_case(VILLAGE_A)),
            &h,
        )
        .await;
    assert_eq!((s1, s2), (StatusCode::CREATED, StatusCode::OK));
    assert_eq!(c1["id"], c2["id"]);
    assert_eq!(c1["tracking_code"], c2["tracking_code"]);
    let (s3, c3) = t
        .call(
            Method::POST,
            "/api/v1/cases",
            Some(&disp),
            Some(staff_case(VILLAGE_B)),
            &h,
        )
        .await;
    assert_eq!(
        (s3, c3["code"].as_str()),
        (
            StatusCode::UNPROCESSABLE_ENTITY,
            Some("idempotency_key_reused")
        )
    );
    let (_, list) = t.get("/api/v1/cases?with_total=true", &disp).await;
    assert_eq!(list["total"], 1);
});

on_both!(
    bad_input_gets_a_clear_coded_error_and_writes_nothing,
    |t: T| async move {
        let disp = t.login("dispatcher").await;
        let raw = |body: &'static str| {
            Request::builder()
                .method(Method::POST)
                .uri("/api/v1/cases")
                .header("authorization", format!("Bearer {disp}"))
                .header("content-type", "application/json")
                .header("accept-language", "en")
                .body(Body::from(body))
                .unwrap()
        };
        let res = t.router.clone().oneshot(raw("{\"text\": ")).await.unwrap();
        assert_eq!(res.status(), StatusCode::BAD_REQUEST);
        let body: Value =
            serde_json::from_slice(&res.into_body().collect().await.unwrap().to_bytes()).unwrap();
        assert_eq!(body["code"], "malformed_json");
        assert_eq!(
            body["message"], "The request body is not valid JSON",
            "English on request"
        );

        let mut bad_id = staff_case(VILLAGE_A);
        bad_id["parties"][0]["id_number"] = json!("110105194912310021");
        let mut bad_phone = staff_case(VILLAGE_A);
        bad_phone["parties"][0]["phone"] = json!("12345");
        let mut unknown_node = staff_case(VILLAGE_A);
        unknown_node["node_code"] = json!("990102099099");
        let mut bad_type = staff_case(VILLAGE_A);
        bad_type["dispute_type"] = json!("alien_invasion");
        let mut empty = staff_case(VILLAGE_A);
        empty["text"] = json!("   ");
        for (body, status, code) in [
            (bad_id, StatusCode::UNPROCESSABLE_ENTITY, "invalid_id_card"),
            (bad_phone, StatusCode::UNPROCESSABLE_ENTITY, "invalid_phone"),
            (
                unknown_node,
                StatusCode::NOT_FOUND,
                "jurisdiction_not_found",
            ),
            (bad_type, StatusCode::UNPROCESSABLE_ENTITY, "invalid_body"),
            (empty, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed"),
        ] {
            let (s, b) = t.post("/api/v1/cases", &disp, body).await;
            assert_eq!(
                (s, b["code"].as_str()),
                (status, Some(code)),
                "{}: {b}",
                t.backend
            );
            assert!(b["message"].as_str().is_some_and(|m| !m.is_empty()));
        }
        let (_, list) = t.get("/api/v1/cases?with_total=true", &disp).await;
        assert_eq!(list["total"], 0, "nothing half-written");

        let (_, c) = t.post("/api/v1/cases", &disp, staff_case(VILLAGE_A)).await;
        let id = c["id"].as_i64().unwrap();
        let (s, b) = t
            .act(id, &disp, json!({"action": "route", "lead_unit_id": 99999}))
            .await;
        assert_eq!(
            (s, b["code"].as_str()),
            (StatusCode::NOT_FOUND, Some("unit_not_found"))
        );
        let (s, b) = t.act(id, &disp, json!({"action": "archive"})).await;
        assert_eq!(
            (s, b["code"].as_str()),
            (StatusCode::CONFLICT, Some("invalid_transition"))
        );
        let (s, b) = t.act(id, &disp, json!({"action": "teleport"})).await;
        assert_eq!(
            (s, b["code"].as_str()),
            (StatusCode::UNPROCESSABLE_ENTITY, Some("invalid_body"))
        );
        assert_eq!(
            t.app.store.get_case(id).await.unwrap().unwrap().version,
            1,
            "refused actions wrote nothing"
        );

        // Attachments: type by content, size limited (1 KiB in this test's settings).
        let upload = |bytes: Vec<u8>| {
            Request::builder()
                .method(Method::POST)
                .uri(format!("/api/v1/cases/{id}/attachments?filename=photo.png"))
                .header("authorization", format!("Bearer {disp}"))
                .body(Body::from(bytes))
                .unwrap()
        };
        let png = [b"\x89PNG\r\n\x1a\n".as_slice(), &[0u8; 100]].concat();
        let res = t.router.clone().oneshot(upload(png.clone())).await.unwrap();
        assert_eq!(res.status(), StatusCode::CREATED);
        let meta: Value =
            serde_json::from_slice(&res.into_body().collect().await.unwrap().to_bytes()).unwrap();
        assert_eq!(meta["content_type"], "image/png");
        let res = t
            .router
            .clone()
            .oneshot(upload(b"MZ\x90\x00 not an image".to_vec()))
            .await
            .unwrap();
        assert_eq!(res.status(), StatusCode::UNSUPPORTED_MEDIA_TYPE);
        let res = t
            .router
            .clone()
            .oneshot(upload([b"%PDF-".as_slice(), &[0u8; 2000]].concat()))
            .await
            .unwrap();
        assert_eq!(res.status(), StatusCode::PAYLOAD_TOO_LARGE);
        let res = t
            .router
            .clone()
            .oneshot(
                Request::builder()
                    .uri(format!(
                        "/api/v1/cases/{id}/attachments/{}",
                        meta["id"].as_str().unwrap()
                    ))
                    .header("authorization", format!("Bearer {disp}"))
                    .body(Body::empty())
                    .unwrap(),
            )
            .await
            .unwrap();
        assert_eq!(res.status(), StatusCode::OK);
        assert_eq!(res.headers()["content-disposition"], "attachment");
        assert_eq!(res.headers()["x-content-type-options"], "nosniff");
        assert_eq!(
            res.into_body().collect().await.unwrap().to_bytes().to_vec(),
            png
        );
        // A photo's EXIF block (with its GPS position) is gone from what is kept.
        let exif = b"Exif\0\0MM\0*\0\0\0\x08GPSLatitude 30.5N";
        let mut jpeg = vec![0xFF, 0xD8, 0xFF, 0xE1];
        jpeg.extend_from_slice(&((exif.len() + 2) as u16).to_be_bytes());
        jpeg.extend_from_slice(exif);
        jpeg.extend_from_slice(&[0xFF, 0xDA, 0x00, 0x04, 7, 7, 0xFF, 0xD9]);
        let res = t.router.clone().oneshot(upload(jpeg)).await.unwrap();
        assert_eq!(res.status(), StatusCode::CREATED);
        let meta: Value =
            serde_json::from_slice(&res.into_body().collect().await.unwrap().to_bytes()).unwrap();
        assert_eq!(meta["content_type"], "image/jpeg");
        let blob = t
            .app
            .store
            .get_blob(meta["id"].as_str().unwrap())
            .await
            .unwrap()
            .unwrap();
        assert_eq!(
            blob.bytes,
            vec![0xFF, 0xD8, 0xFF, 0xDA, 0x00, 0x04, 7, 7, 0xFF, 0xD9]
        );
        t.assert_replays(id).await;
    }
);

on_both!(
    personal_numbers_are_masked_and_reveals_are_logged,
    |t: T| async move {
        let disp = t.login("dispatcher").await;
        let (_, c) = t.post("/api/v1/cases", &disp, staff_case(VILLAGE_A)).await;
        let id = c["id"].as_i64().unwrap();
        assert_eq!(c["parties"][0]["id_number"], "1101**********002X");
        assert_eq!(c["parties"][0]["phone"], "138****8000");
        let (_, list) = t.get("/api/v1/cases", &disp).await;
        assert_eq!(list["items"][0]["parties"][0]["phone"], "138****8000");
        // A leader may not reveal; a dispatcher may, with a purpose, and it is logged.
        let leader = t.login("leader").await;
        let path = format!("/api/v1/cases/{id}/parties/0/reveal");
        assert_eq!(
            t.post(&path, &leader, json!({"purpose": "查看"})).await.0,
            StatusCode::FORBIDDEN
        );
        assert_eq!(
            t.post(&path, &disp, json!({"purpose": " "})).await.0,
            StatusCode::UNPROCESSABLE_ENTITY
        );
        let (s, p) = t
            .post(
                &path,
                &disp,
                json!({"purpose": "电话联系当事人约定调解时间"}),
            )
            .await;
        assert_eq!(s, StatusCode::OK, "{p}");
        assert_eq!(
            (p["id_number"].as_str(), p["phone"].as_str()),
            (Some("11010519491231002X"), Some("13800138000"))
        );
        let (_, events) = t.get(&format!("/api/v1/cases/{id}/events"), &disp).await;
        let last = events.as_array().unwrap().last().unwrap();
        assert_eq!(last["kind"]["action"], "personal_info_revealed");
        assert_eq!(last["actor_id"], t.user_id("dispatcher").await);
    }
);

on_both!(
    reference_data_and_calendar_are_managed_by_admins,
    |t: T| async move {
        let admin = t.login("admin").await;
        let disp = t.login("dispatcher").await;
        let (_, towns) = t.get("/api/v1/jurisdictions?parent=990102", &disp).await;
        assert_eq!(towns.as_array().unwrap().len(), 12);
        let node = json!({"code": "990102001099", "name": "新建社区", "level": "village", "parent_code": "990102001"});
        assert_eq!(
            t.post("/api/v1/jurisdictions", &disp, node.clone()).await.0,
            StatusCode::FORBIDDEN
        );
        let (s, n) = t.post("/api/v1/jurisdictions", &admin, node.clone()).await;
        assert_eq!(s, StatusCode::CREATED, "{n}");
        assert_eq!(n["path"], "/990000/990100/990102/990102001/990102001099/");
        assert_eq!(
            t.post("/api/v1/jurisdictions", &admin, node).await.0,
            StatusCode::CONFLICT
        );
        let (s, b) = t
            .post(
                "/api/v1/jurisdictions",
                &admin,
                json!({"code": "12", "name": "x", "level": "village", "parent_code": "990102001"}),
            )
            .await;
        assert_eq!(
            (s, b["code"].as_str()),
            (
                StatusCode::UNPROCESSABLE_ENTITY,
                Some("invalid_jurisdiction_code")
            )
        );
        let (s, u) = t.post("/api/v1/users", &admin, json!({"username": "newbie", "display_name": "新人", "password": "short", "role": "dispatcher", "scope_code": "990102"})).await;
        assert_eq!(
            (s, u["code"].as_str()),
            (StatusCode::UNPROCESSABLE_ENTITY, Some("weak_password"))
        );
        let (s, _) = t.post("/api/v1/users", &admin, json!({"username": "newbie", "display_name": "新人", "password": "Str0ng!pass", "role": "dispatcher", "scope_code": "990102"})).await;
        assert_eq!(s, StatusCode::CREATED);
        let (s, _) = t.post("/api/v1/units", &admin, json!({"name": "新建社区调委会", "kind": "village_mediation_committee", "node_code": "990102001099"})).await;
        assert_eq!(s, StatusCode::CREATED);
        // The 2025 National Day holiday is seeded; an admin adds a 2027 holiday.
        let (_, days) = t.get("/api/v1/calendar?year=2025", &disp).await;
        assert!(days
            .as_array()
            .unwrap()
            .iter()
            .any(|d| d["date"] == "2025-10-08" && d["kind"] == "holiday"));
        assert!(days
            .as_array()
            .unwrap()
            .iter()
            .any(|d| d["date"] == "2025-09-28" && d["kind"] == "workday"));
        let (s, _) = t
            .call(
                Method::PUT,
                "/api/v1/calendar/2027-01-01",
                Some(&admin),
                Some(json!({"kind": "holiday", "note": "元旦"})),
                &[],
            )
            .await;
        assert_eq!(s, StatusCode::NO_CONTENT);
        assert_eq!(
            t.get("/api/v1/calendar?year=2027", &disp)
                .await
                .1
                .as_array()
                .unwrap()
                .len(),
            1
        );
        // Deadline rules: complex disputes get 15 working days in this county.
        let (_, mut rules) = t.get("/api/v1/deadline-rules", &disp).await;
        assert_eq!(
            (
                rules["simple_days"].as_u64(),
                rules["complex_days"].as_u64()
            ),
            (Some(3), Some(20))
        );
        rules["complex_days"] = json!(15);
        let (s, _) = t
            .call(
                Method::PUT,
                "/api/v1/deadline-rules",
                Some(&admin),
                Some(rules),
                &[],
            )
            .await;
        assert_eq!(s, StatusCode::OK);
        let mut complex = staff_case(VILLAGE_A);
        complex["complexity"] = json!("complex");
        let (_, c) = t.post("/api/v1/cases", &disp, complex).await;
        let (_, c) = t
            .act(
                c["id"].as_i64().unwrap(),
                &disp,
                json!({"action": "route", "lead_unit_id": t.unit_of("u02staff").await}),
            )
            .await;
        assert_eq!(c["deadline"]["working_days"], 15);
        assert_eq!(c["deadline"]["due"], "2025-03-24");
    }
);

#[tokio::test]
async fn openapi_document_lists_every_operation() {
    let t = spawn("sqlite").await;
    let (s, doc) = t
        .call(Method::GET, "/api/openapi.json", None, None, &[])
        .await;
    assert_eq!(s, StatusCode::OK);
    let mut ops: Vec<String> = Vec::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for method in ["get", "post", "put", "delete"] {
            if item.get(method).is_some() {
                ops.push(format!("{} {path}", method.to_uppercase()));
            }
        }
    }
    ops.sort();
    insta::assert_json_snapshot!(ops);
    assert!(doc["components"]["schemas"]["Command"].is_object());
    let (s, _) = t.call(Method::GET, "/api/docs", None, None, &[]).await;
    assert_eq!(s, StatusCode::OK);
}

on_both!(
    intake_reads_the_text_fills_elements_and_links_duplicates,
    |t: T| async move {
        let disp = t.login("dispatcher").await;
        let text = "张建国反映，邻居李小红在公共通道上堆放柴草杂物，影响通行，昨天晚上双方为此发生口角，李小红扬言要拼命，涉及赔偿3.5万元。";
        let input = |channel: &str, text: &str| {
            json!({
                "channel": channel,
                "text": text,
                "parties": [{"name": "张建国", "role": "applicant", "phone": "13800138000"}],
                "node_code": VILLAGE_A,
            })
        };
        let (s, first) = t.post("/api/v1/cases", &disp, input("walk_in", text)).await;
        assert_eq!(s, StatusCode::CREATED, "{}: {first}", t.backend);
        // What the submission left empty was filled in from the text.
        assert_eq!(first["dispute_type"], "neighbourhood");
        assert_eq!(first["risk_level"], "high");
        assert_eq!(first["amount_fen"], 3_500_000);
        let filled: Vec<&str> = first["filled"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_str().unwrap())
            .collect();
        for f in [
            "dispute_type",
            "risk_level",
            "amount_fen",
            "occurred_at",
            "complexity",
        ] {
            assert!(filled.contains(&f), "{}: {f} filled: {filled:?}", t.backend);
        }
        // 昨天晚上 from Monday 2025-03-03 09:00 is Sunday evening 18:00 (China time).
        assert_eq!(
            first["occurred_at"],
            local_instant(chrono::NaiveDate::from_ymd_opt(2025, 3, 2).unwrap(), 18, 0)
        );
        assert_eq!(first["analysis_pending"], true, "{first}");
        let id1 = first["id"].as_i64().unwrap();
        let a = t.analysis(id1, &disp).await;
        assert_eq!(a["duplicates"], json!([]));
        assert_eq!(a["analyser_version"], fengqiao_text::ANALYSER_VERSION);
        let persons: Vec<&str> = a["analysis"]["persons"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p["text"].as_str().unwrap())
            .collect();
        assert!(
            persons.contains(&"张建国") && persons.contains(&"李小红"),
            "{persons:?}"
        );
        assert!(a["analysis"]["risk"]["cues"]
            .as_array()
            .unwrap()
            .iter()
            .any(|c| c["kind"] == "threat" && c["text"] == "扬言"));

        // The same dispute through the hotline, worded a little differently: linked.
        let again = "12345转来：张建国反映邻居李小红在公共通道上堆放柴草杂物，影响通行，昨天晚上双方为此发生口角，李小红扬言要拼命。";
        let (s, second) = t
            .post("/api/v1/cases", &disp, input("hotline_12345", again))
            .await;
        assert_eq!(s, StatusCode::CREATED);
        let id2 = second["id"].as_i64().unwrap();
        let a2 = t.analysis(id2, &disp).await;
        let dup = &a2["duplicates"][0];
        assert_eq!(dup["case_id"], id1, "{}: {a2}", t.backend);
        assert!(dup["score"].as_f64().unwrap() >= 0.8, "{dup}");
        assert!(dup["reasons"]
            .as_array()
            .unwrap()
            .contains(&json!("same_parties")));
        assert_eq!(a2["auto_linked"], json!([id1]));
        let (_, second) = t.get(&format!("/api/v1/cases/{id2}"), &disp).await;
        assert_eq!(second["linked_case_ids"], json!([id1]));
        let (_, back) = t.get(&format!("/api/v1/cases/{id1}"), &disp).await;
        assert_eq!(back["linked_case_ids"], json!([id2]));
        t.assert_replays(id1).await;
        t.assert_replays(id2).await;

        // An unrelated dispute is not a candidate.
        let (_, third) = t
            .post(
                "/api/v1/cases",
                &disp,
                input(
                    "walk_in",
                    "王某某反映在某诊所拔牙后伤口感染，诊所拒绝承担治疗费用。",
                ),
            )
            .await;
        let third_id = third["id"].as_i64().unwrap();
        assert_eq!(t.analysis(third_id, &disp).await["duplicates"], json!([]));
        assert_eq!(third["dispute_type"], "medical");

        // Linking by hand: a case cannot be linked to itself; twice changes nothing.
        let (s, e) = t
            .act(
                id2,
                &disp,
                json!({"action": "link", "case_id": id2, "reason": "同一纠纷"}),
            )
            .await;
        assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{e}");
        let (s, c) = t
            .act(
                id2,
                &disp,
                json!({"action": "link", "case_id": id1, "reason": "同一纠纷"}),
            )
            .await;
        assert_eq!(
            (s, c["version"].clone()),
            (StatusCode::OK, second["version"].clone())
        );

        // The staff's analyse tool; citizens may not use it; empty text is refused.
        let (s, r) = t
            .post(
                "/api/v1/text/analyze",
                &disp,
                json!({"text": "上周三借给王某三万五千元"}),
            )
            .await;
        assert_eq!(s, StatusCode::OK);
        assert_eq!(r["amounts"][0]["fen"], 3_500_000);
        assert_eq!(r["times"][0]["start"], "2025-02-26T00:00:00");
        let (s, _) = t
            .post("/api/v1/text/analyze", &disp, json!({"text": "  "}))
            .await;
        assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    }
);

on_both!(
    the_cockpit_counts_a_new_case_and_the_index_weights_are_the_admins,
    |t: T| async move {
        let leader = t.login("leader").await;
        let (s, before) = t.get("/api/v1/stats/cockpit", &leader).await;
        assert_eq!(s, StatusCode::OK, "{}: {before}", t.backend);
        assert_eq!(before["node"]["code"], "990102");
        assert_eq!(before["trend"].as_array().unwrap().len(), 12);
        // A case registered now counts today, this month, in its town and in progress.
        let disp = t.login("dispatcher").await;
        let (s, case) = t.post("/api/v1/cases", &disp, staff_case(VILLAGE_A)).await;
        assert_eq!(s, StatusCode::CREATED, "{case}");
        let (_, after) = t.get("/api/v1/stats/cockpit", &leader).await;
        for k in ["today_registered", "month_registered", "in_progress"] {
            assert_eq!(
                after["kpi"][k].as_i64().unwrap(),
                before["kpi"][k].as_i64().unwrap() + 1,
                "{k}"
            );
        }
        let town = &VILLAGE_A[..9];
        let area = |c: &Value| {
            c["areas"]
                .as_array()
                .unwrap()
                .iter()
                .find(|a| a["code"] == town)
                .unwrap()["registered"]
                .as_i64()
                .unwrap()
        };
        assert_eq!(area(&after), area(&before) + 1);
        assert_eq!(after["feed"][0]["id"], case["id"]);
        // Outside one's scope: forbidden; unknown node: not found; no statistics for grid workers.
        let (s, _) = t.get("/api/v1/stats/cockpit?node=000000", &leader).await;
        assert_eq!(s, StatusCode::NOT_FOUND);
        let grid = t.login("grid01").await;
        let (s, _) = t.get("/api/v1/stats/cockpit", &grid).await;
        assert_eq!(s, StatusCode::FORBIDDEN);

        // The index weights: admins set them, the formula shows them, bad ones are refused.
        let admin = t.login("admin").await;
        let (_, w) = t.get("/api/v1/stats/index-weights", &leader).await;
        assert_eq!(w["resolution"], 30.0);
        let mut new = w.clone();
        new["resolution"] = json!(50.0);
        let (s, _) = t
            .call(
                Method::PUT,
                "/api/v1/stats/index-weights",
                Some(&leader),
                Some(new.clone()),
                &[],
            )
            .await;
        assert_eq!(s, StatusCode::FORBIDDEN);
        let mut bad = w.clone();
        bad["speed"] = json!(-1.0);
        let (s, e) = t
            .call(
                Method::PUT,
                "/api/v1/stats/index-weights",
                Some(&admin),
                Some(bad),
                &[],
            )
            .await;
        assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{e}");
        assert_eq!(e["code"], "validation_failed");
        let (s, _) = t
            .call(
                Method::PUT,
                "/api/v1/stats/index-weights",
                Some(&admin),
                Some(new),
                &[],
            )
            .await;
        assert_eq!(s, StatusCode::NO_CONTENT);
        let (_, c) = t.get("/api/v1/stats/cockpit", &leader).await;
        assert!(
            c["formula"].as_str().unwrap().contains("50×化解率"),
            "{}",
            c["formula"]
        );
        let (s, r) = t
            .get("/api/v1/reports/monthly?month=2025-03", &leader)
            .await;
        assert_eq!(s, StatusCode::OK, "{r}");
        assert_eq!(r["this"]["intake"], after["kpi"]["month_registered"]);
        let (s, _) = t
            .get("/api/v1/reports/monthly?month=2025-13", &leader)
            .await;
        assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    }
);

on_both!(
    a_burst_of_disputes_raises_one_warning_that_the_units_handle,
    |t: T| async move {
        let disp = t.login("dispatcher").await;
        let mut ids = Vec::new();
        for _ in 0..6 {
            let (s, c) = t.post("/api/v1/cases", &disp, staff_case(VILLAGE_A)).await;
            assert_eq!(s, StatusCode::CREATED, "{c}");
            ids.push(c["id"].as_i64().unwrap());
        }
        // Each of them now carries the history: the same applicant's other disputes and the
        // village's other disputes of the type raise the risk grade, with the reasons shown.
        let (s, r) = t
            .get(&format!("/api/v1/cases/{}/risk", ids[5]), &disp)
            .await;
        assert_eq!(s, StatusCode::OK, "{r}");
        let codes: Vec<&str> = r["reasons"]
            .as_array()
            .unwrap()
            .iter()
            .map(|x| x["code"].as_str().unwrap())
            .collect();
        assert!(
            codes.contains(&"repeat_party") && codes.contains(&"place_cluster"),
            "{r}"
        );
        assert_ne!(r["grade"], "green", "{r}");
        let (_, first) = t
            .get(&format!("/api/v1/cases/{}/risk", ids[0]), &disp)
            .await;
        assert_eq!(first["points"], r["points"], "history counts both ways");
        // Only supervisors and admins run it on demand.
        let leader = t.login("leader").await;
        let (s, _) = t
            .post(
                "/api/v1/warnings/run",
                &leader,
                json!({"day": "2025-03-03"}),
            )
            .await;
        assert_eq!(s, StatusCode::FORBIDDEN);
        let sup = t.login("supervisor").await;
        let (s, r) = t
            .post("/api/v1/warnings/run", &sup, json!({"day": "2025-03-03"}))
            .await;
        assert_eq!(s, StatusCode::OK, "{}: {r}", t.backend);
        assert!(r["raised"].as_u64().unwrap() >= 1, "{r}");
        let (s, list) = t.get("/api/v1/warnings", &leader).await;
        assert_eq!(s, StatusCode::OK);
        let town = &VILLAGE_A[..9];
        let surge = list
            .as_array()
            .unwrap()
            .iter()
            .find(|w| {
                w["kind"] == "surge"
                    && w["area_code"] == town
                    && w["dispute_type"] == "neighbourhood"
            })
            .unwrap_or_else(|| panic!("a surge of neighbourhood disputes in the town: {list}"))
            .clone();
        assert_eq!(surge["status"], "open");
        assert!(
            surge["evidence"]["observed"].as_f64().unwrap() >= 6.0,
            "{surge}"
        );
        let evidence_cases: Vec<i64> = surge["evidence"]["case_ids"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_i64().unwrap())
            .collect();
        for id in &ids {
            assert!(
                evidence_cases.contains(id),
                "case {id} in the evidence {evidence_cases:?}"
            );
        }
        let units: Vec<i64> = surge["unit_ids"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_i64().unwrap())
            .collect();
        assert!(!units.is_empty(), "responsible units assigned");
        // Running the same day again continues the warning instead of raising a second one.
        let (_, again) = t
            .post("/api/v1/warnings/run", &sup, json!({"day": "2025-03-03"}))
            .await;
        assert_eq!(again["raised"], 0, "{again}");
        let (_, list2) = t.get("/api/v1/warnings", &leader).await;
        assert_eq!(
            list2.as_array().unwrap().len(),
            list.as_array().unwrap().len()
        );
        // The responsible unit's leader was told, and acts; the log keeps who did what.
        let id = surge["id"].as_i64().unwrap();
        let (_, ul) = t.get(&format!("/api/v1/units/{}", units[0]), &disp).await;
        let leader_user = ul["leader_user_id"].as_i64();
        let uid = leader_user.expect("demo units have leaders");
        let mut unit_leader = String::new();
        for i in 1..=13 {
            let name = format!("u{i:02}leader");
            if t.user_id(&name).await == uid {
                unit_leader = name;
            }
        }
        assert!(
            !unit_leader.is_empty(),
            "leader {uid} is a demo unit leader"
        );
        let notices = t.notices(&unit_leader, "warning_raised").await;
        assert!(!notices.is_empty(), "{unit_leader} notified");
        let ut = t.login(&unit_leader).await;
        let act = |body: Value| {
            let ut = ut.clone();
            let t = &t;
            async move {
                t.post(&format!("/api/v1/warnings/{id}/actions"), &ut, body)
                    .await
            }
        };
        let (s, e) = act(json!({"action": "handle", "note": " "})).await;
        assert_eq!(
            s,
            StatusCode::UNPROCESSABLE_ENTITY,
            "handling needs a note: {e}"
        );
        let (s, w) = act(json!({"action": "acknowledge"})).await;
        assert_eq!(
            (s, w["status"].clone()),
            (StatusCode::OK, json!("acknowledged")),
            "{w}"
        );
        let (s, _) = act(json!({"action": "acknowledge"})).await;
        assert_eq!(s, StatusCode::CONFLICT, "not twice");
        let (s, w) = act(json!({"action": "handle", "note": "司法所入户调解，清理通道"})).await;
        assert_eq!((s, w["status"].clone()), (StatusCode::OK, json!("handled")));
        // 吹哨: the supervisor summons the unit and another unit for 24 hours; the unit answers,
        // the other does not and shows late a day later. Leaders may summon too.
        let other = t.unit_of("u04leader").await;
        let town_office = t.unit_of("u02leader").await;
        let summoned = if town_office == units[0] {
            other
        } else {
            town_office
        };
        let (s, w) = t
            .post(
                &format!("/api/v1/warnings/{id}/summons"),
                &sup,
                json!({"unit_ids": [units[0], summoned], "hours": 24}),
            )
            .await;
        assert_eq!(s, StatusCode::OK, "{w}");
        assert_eq!(w["summons"].as_array().unwrap().len(), 2, "{w}");
        let (s, _) = t
            .post(
                &format!("/api/v1/warnings/{id}/summons"),
                &sup,
                json!({"unit_ids": [summoned], "hours": 24}),
            )
            .await;
        assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "already waiting");
        let (s, w) = t
            .post(
                &format!("/api/v1/warnings/{id}/summons/reply"),
                &ut,
                json!({"reply": "已到场，今日入户"}),
            )
            .await;
        assert_eq!(s, StatusCode::OK, "{w}");
        let (s, _) = t
            .post(
                &format!("/api/v1/warnings/{id}/summons/reply"),
                &ut,
                json!({"reply": "again"}),
            )
            .await;
        assert_eq!(s, StatusCode::CONFLICT, "answered once");
        t.clock.advance(25 * 3_600_000);
        let leader = t.login("leader").await; // the sessions of a day ago have gone idle
        let (_, w) = t.get(&format!("/api/v1/warnings/{id}"), &leader).await;
        let late = w["summons"]
            .as_array()
            .unwrap()
            .iter()
            .find(|x| x["unit_id"] == summoned)
            .unwrap()
            .clone();
        assert!(late["responded_at"].is_null());
        assert!(late["due_at"].as_i64().unwrap() < t.app.now());
        let (s, w) = t
            .post(
                &format!("/api/v1/warnings/{id}/actions"),
                &leader,
                json!({"action": "close"}),
            )
            .await;
        assert_eq!(
            (s, w["status"].clone()),
            (StatusCode::OK, json!("closed")),
            "{w}"
        );
        let actions: Vec<&str> = w["log"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["action"].as_str().unwrap())
            .collect();
        assert_eq!(
            actions,
            [
                "raise",
                "update",
                "acknowledge",
                "handle",
                "summon",
                "respond",
                "close"
            ]
        );
        // Out of reach: another town's unit gets "not found", a grid worker no warnings at all.
        let other = t.login("u03leader").await;
        let (s, _) = t.get(&format!("/api/v1/warnings/{id}"), &other).await;
        assert_eq!(s, StatusCode::NOT_FOUND);
        let (s, _) = t
            .post(
                &format!("/api/v1/warnings/{id}/actions"),
                &other,
                json!({"action": "close", "note": "x"}),
            )
            .await;
        assert_eq!(s, StatusCode::NOT_FOUND);
        let grid = t.login("grid01").await;
        let (s, _) = t.get("/api/v1/warnings", &grid).await;
        assert_eq!(s, StatusCode::FORBIDDEN);
        let (s, hot) = t.get("/api/v1/warnings/hotspots", &leader).await;
        assert_eq!(s, StatusCode::OK);
        assert_eq!(hot["day"], "2025-03-03");
        assert!(!hot["villages"].as_array().unwrap().is_empty());
        // The cockpit counts what is still live.
        let (_, c) = t.get("/api/v1/stats/cockpit", &leader).await;
        let live = t
            .get("/api/v1/warnings", &leader)
            .await
            .1
            .as_array()
            .unwrap()
            .len();
        assert_eq!(c["open_warnings"].as_u64().unwrap() as usize, live);
    }
);

on_both!(
    outbound_settings_webhooks_and_the_queue_are_for_administrators,
    |t: T| async move {
        let admin = t.login("admin").await;
        let leader = t.login("u02leader").await;
        // A user sets their own contact; it comes back masked.
        let me = t.get("/api/v1/me", &leader).await.1;
        let me_id = me["id"].as_i64().unwrap();
        let path = format!("/api/v1/users/{me_id}/contact");
        let body = json!({"email": "u02@county.example.org", "phone": "13900139000"});
        let (s, c) = t
            .call(Method::PUT, &path, Some(&leader), Some(body), &[])
            .await;
        assert_eq!(s, StatusCode::OK, "{c}");
        assert_eq!(c["phone"], "139****9000");
        let (s, e) = t
            .call(
                Method::PUT,
                &path,
                Some(&leader),
                Some(json!({"email": "nobody"})),
                &[],
            )
            .await;
        assert_eq!(
            (s, e["code"].as_str()),
            (StatusCode::UNPROCESSABLE_ENTITY, Some("validation_failed"))
        );
        assert_eq!(
            t.get(&path, &admin).await.1["email"],
            "u02@county.example.org"
        );

        // Settings and webhooks: admin only; a bad URL is refused with the field named.
        let (s, _) = t.get("/api/v1/admin/outbound", &leader).await;
        assert_eq!(s, StatusCode::FORBIDDEN);
        let hook = json!({"url": "https://hooks.example.org/x", "secret": "0123456789abcdef0"});
        let (s, e) = t.post("/api/v1/admin/webhooks", &admin, hook).await;
        assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{e}");
        let hook = json!({"url": "http://127.0.0.1:9/x", "secret": "0123456789abcdef0", "kinds": ["case_routed"]});
        let (s, w) = t.post("/api/v1/admin/webhooks", &admin, hook).await;
        assert_eq!(s, StatusCode::CREATED, "{w}");
        assert!(w.get("secret").is_none(), "the secret is never shown again");
        let cfg = json!({"smtp": {"host": "127.0.0.1", "port": 2525, "from": "fq@example.org",
                                  "username": "fq", "password": "pw"},
                         "sms": {"url_template": "http://127.0.0.1:9/sms?m={phone}&t={text}",
                                 "method": "GET", "kinds": ["summons"]}});
        let (s, e) = t
            .call(
                Method::PUT,
                "/api/v1/admin/outbound",
                Some(&admin),
                Some(cfg),
                &[],
            )
            .await;
        assert_eq!(s, StatusCode::NO_CONTENT, "{e}");
        let (_, o) = t.get("/api/v1/admin/outbound", &admin).await;
        assert_eq!(o["config"]["smtp"]["password"], "********");
        assert_eq!(o["webhooks"][0]["kinds"][0], "case_routed");

        // A notification to u02 is fanned out into an e-mail and the webhook (no SMS: the
        // gateway carries summonses only); without a courier they wait in the queue.
        let note = fengqiao_store::NewNotification {
            user_id: me_id,
            case_id: None,
            kind: "case_routed".into(),
            title: "新分流案件".into(),
            body: "b".into(),
        };
        t.app
            .store
            .notify_once("t", "1", &[note], t.app.now())
            .await
            .unwrap();
        let (s, r) = t
            .post("/api/v1/admin/deliveries/run", &admin, json!({}))
            .await;
        assert_eq!(
            (s, r["deliveries_queued"].as_i64()),
            (StatusCode::OK, Some(2)),
            "{r}"
        );
        let (s, list) = t
            .get("/api/v1/admin/deliveries?status=pending", &admin)
            .await;
        assert_eq!(s, StatusCode::OK);
        let mut media: Vec<&str> = list
            .as_array()
            .unwrap()
            .iter()
            .map(|d| d["medium"].as_str().unwrap())
            .collect();
        media.sort();
        assert_eq!(media, ["email", "webhook"]);
        let (s, _) = t.get("/api/v1/admin/deliveries", &leader).await;
        assert_eq!(s, StatusCode::FORBIDDEN);
        let (s, e) = t
            .post("/api/v1/admin/deliveries/999999/retry", &admin, json!({}))
            .await;
        assert_eq!(
            (s, e["code"].as_str()),
            (StatusCode::NOT_FOUND, Some("delivery_not_found"))
        );
        let id = w["id"].as_i64().unwrap();
        let (s, _) = t
            .call(
                Method::PUT,
                &format!("/api/v1/admin/webhooks/{id}/active"),
                Some(&admin),
                Some(json!({"active": false})),
                &[],
            )
            .await;
        assert_eq!(s, StatusCode::NO_CONTENT);
        let (_, o) = t.get("/api/v1/admin/outbound", &admin).await;
        assert_eq!(o["webhooks"][0]["active"], false);
        let _ = t.backend;
    }
);

on_both!(
    an_unanswered_supervision_goes_up_one_level_at_a_time,
    |t: T| async move {
        // A town leader, so that there are two levels above the unit.
        let admin = t.login("admin").await;
        let (s, u) = t
            .post(
                "/api/v1/users",
                &admin,
                json!({"username": "townleader", "display_name": "城关镇领导", "password": PASSWORD,
                       "role": "leader", "scope_code": "990102001"}),
            )
            .await;
        assert_eq!(s, StatusCode::CREATED, "{u}");
        let disp = t.login("dispatcher").await;
        let (_, c) = t.post("/api/v1/cases", &disp, staff_case(VILLAGE_A)).await;
        let id = c["id"].as_i64().unwrap();
        t.act(
            id,
            &disp,
            json!({"action": "route", "lead_unit_id": t.unit_of("u02staff").await}),
        )
        .await;
        let (s, c) = t
            .act(
                id,
                &t.login("supervisor").await,
                json!({"action": "open_supervision", "reason": "群众多次来电催办"}),
            )
            .await;
        assert_eq!(s, StatusCode::OK, "{c}");
        assert_eq!(c["supervisions"][0]["reply_due"], "2025-03-05");
        // On the due day nothing happens; the day after, level 1: the town's leadership.
        t.set_local_time(2025, 3, 5, 18, 0);
        t.sweep().await;
        assert!(t
            .notices("townleader", "supervision_escalated")
            .await
            .is_empty());
        t.set_local_time(2025, 3, 6, 8, 0);
        t.sweep().await;
        t.sweep().await;
        let town = t.notices("townleader", "supervision_escalated").await;
        assert_eq!(town.len(), 1, "once, however many sweeps: {town:?}");
        assert!(town[0]["title"].as_str().unwrap().contains("第1级"));
        assert!(t
            .notices("leader", "supervision_escalated")
            .await
            .is_empty());
        let (_, c) = t
            .get(&format!("/api/v1/cases/{id}"), &t.login("dispatcher").await)
            .await;
        assert_eq!(c["supervisions"][0]["escalations"], 1);
        assert_eq!(c["supervisions"][0]["next_escalation"], "2025-03-10");
        // Still unanswered after two more working days: level 2, the county's leadership.
        t.set_local_time(2025, 3, 11, 8, 0);
        t.sweep().await;
        for who in ["leader", "supervisor"] {
            let n = t.notices(who, "supervision_escalated").await;
            assert_eq!(n.len(), 1, "{who}: {n:?}");
            assert!(n[0]["title"].as_str().unwrap().contains("第2级"));
        }
        // No further levels; a reply ends it.
        t.set_local_time(2025, 3, 20, 8, 0);
        t.sweep().await;
        assert_eq!(t.notices("leader", "supervision_escalated").await.len(), 1);
        let handler = t.login("u02staff").await;
        let (s, c) = t
            .act(
                id,
                &handler,
                json!({"action": "reply_supervision", "no": 1, "reply": "已调解"}),
            )
            .await;
        assert_eq!(s, StatusCode::OK, "{c}");
        t.assert_replays(id).await;
    }
);

on_both!(
    a_dispatcher_summons_several_units_to_a_case_and_each_answers,
    |t: T| async move {
        let disp = t.login("dispatcher").await;
        let (_, c) = t.post("/api/v1/cases", &disp, staff_case(VILLAGE_A)).await;
        let id = c["id"].as_i64().unwrap();
        let lead = t.unit_of("u02staff").await;
        t.act(id, &disp, json!({"action": "route", "lead_unit_id": lead}))
            .await;
        let police = t.unit_of("u03staff").await;
        let other = t.unit_of("u04staff").await;
        let summon = json!({"action": "summon_units", "unit_ids": [police, other], "hours": 24,
                            "note": "群体性苗头，请派出所和相关单位到场"});
        // A unit member may not blow the whistle; a bad time limit is refused.
        let (s, _) = t.act(id, &t.login("u02staff").await, summon.clone()).await;
        assert_eq!(s, StatusCode::FORBIDDEN);
        let mut bad = summon.clone();
        bad["hours"] = json!(0);
        let (s, e) = t.act(id, &disp, bad).await;
        assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{e}");
        let (s, c) = t.act(id, &disp, summon.clone()).await;
        assert_eq!(s, StatusCode::OK, "{c}");
        assert_eq!(c["summons"].as_array().unwrap().len(), 2);
        assert!(c["co_unit_ids"]
            .as_array()
            .unwrap()
            .contains(&json!(police)));
        // Both units' people are told; the summoned units now see the case.
        let n = t.notices("u03staff", "summons").await;
        assert!(n.iter().any(|n| n["case_id"] == id), "{n:?}");
        let u03 = t.login("u03staff").await;
        assert_eq!(
            t.get(&format!("/api/v1/cases/{id}"), &u03).await.0,
            StatusCode::OK
        );
        // Summoning the same units again while they have not answered is refused.
        let (s, _) = t.act(id, &disp, summon).await;
        assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
        // Each unit answers for itself, once; the lead unit was not summoned.
        let answer = json!({"action": "answer_summons", "reply": "已派民警到场"});
        let (s, c) = t.act(id, &u03, answer.clone()).await;
        assert_eq!(s, StatusCode::OK, "{c}");
        let mine = c["summons"]
            .as_array()
            .unwrap()
            .iter()
            .find(|x| x["unit_id"] == police)
            .unwrap()
            .clone();
        assert_eq!(mine["reply"], "已派民警到场");
        assert!(mine["responded_at"].is_i64());
        let (s, _) = t.act(id, &u03, answer.clone()).await;
        assert_eq!(s, StatusCode::FORBIDDEN, "answered already");
        let (s, _) = t.act(id, &t.login("u02staff").await, answer).await;
        assert_eq!(s, StatusCode::FORBIDDEN, "not summoned");
        // Unknown units are refused.
        let (s, e) = t
            .act(
                id,
                &disp,
                json!({"action": "summon_units", "unit_ids": [999999], "hours": 2, "note": "x"}),
            )
            .await;
        assert_eq!(
            (s, e["code"].as_str()),
            (StatusCode::NOT_FOUND, Some("unit_not_found"))
        );
        t.assert_replays(id).await;
    }
);

on_both!(
    re_reports_pushed_at_once_link_to_one_dispute_each_link_once,
    |t: T| async move {
        let disp = t.login("dispatcher").await;
        let place = t.village_a_name(&disp).await;
        let rec = |id: &str| {
            json!({"records": [{"警情编号": id, "简要警情": "邻居钱某家装修噪音扰民，双方多次发生口角，要求停工赔偿",
                   "发生地点": place, "报警时间": "2025年3月2日 20时10分", "报警人": "赵明远",
                   "报警人电话": "13600136000", "警情类别": "邻里纠纷"}]})
        };
        let (s, r) = t
            .post("/api/v1/channels/police/records", &disp, rec("JQ-1"))
            .await;
        assert_eq!((s, r["created"].as_i64()), (StatusCode::OK, Some(1)), "{r}");
        // Four batches at once, each re-reporting the dispute: their links may land on cases
        // the others are changing (read and written again after a conflict, never twice).
        let push = |id: &'static str| {
            let (t, disp, body) = (&t, &disp, rec(id));
            async move { t.post("/api/v1/channels/police/records", disp, body).await }
        };
        let answers = tokio::join!(push("JQ-2"), push("JQ-3"), push("JQ-4"), push("JQ-5"));
        for (s, r) in [answers.0, answers.1, answers.2, answers.3] {
            assert_eq!((s, r["created"].as_i64()), (StatusCode::OK, Some(1)), "{r}");
        }
        let ids = t.case_ids("/api/v1/cases?channel=police", &disp).await;
        assert_eq!(ids.len(), 5);
        // Every re-report is linked, links are mutual, and each pair is recorded once: four
        // links join the five reports into one dispute.
        let mut pairs = std::collections::BTreeSet::new();
        for id in &ids {
            let (_, c) = t.get(&format!("/api/v1/cases/{id}"), &disp).await;
            for other in c["linked_case_ids"].as_array().unwrap() {
                let other = other.as_i64().unwrap();
                let (_, o) = t.get(&format!("/api/v1/cases/{other}"), &disp).await;
                assert!(o["linked_case_ids"]
                    .as_array()
                    .unwrap()
                    .contains(&json!(id)));
                pairs.insert((*id.min(&other), *id.max(&other)));
            }
            let events = t.app.store.case_events(*id).await.unwrap();
            let linked = events.iter().filter(|e| e.kind.name() == "linked").count();
            assert_eq!(
                linked,
                c["linked_case_ids"].as_array().unwrap().len(),
                "case {id}: one link event per linked case"
            );
            t.assert_replays(*id).await;
        }
        assert_eq!(pairs.len(), 4, "{pairs:?}");
    }
);

on_both!(
    pushed_channel_records_become_cases_once_and_bad_rows_are_named,
    |t: T| async move {
        let disp = t.login("dispatcher").await;
        let place = t.village_a_name(&disp).await;
        let rec = |id: &str, when: &str, text: &str, kind: &str| {
            json!({"警情编号": id, "简要警情": text, "处警情况": "民警到场劝解", "发生地点": place,
                   "报警时间": when, "报警人": "赵某某", "报警人电话": "13600136000", "警情类别": kind})
        };
        let good = rec(
            "JQ-2025-0001",
            "2025年3月2日 20时10分",
            "邻居装修噪音扰民，双方发生口角",
            "邻里纠纷",
        );
        let batch = json!({"records": [good.clone(),
            rec("JQ-2025-0002", "上周", "欠款不还", "经济纠纷"),
            json!({"警情编号": "JQ-2025-0003", "发生地点": place})]});
        let (s, r) = t
            .post("/api/v1/channels/police/records", &disp, batch)
            .await;
        assert_eq!(s, StatusCode::OK, "{r}");
        assert_eq!(
            (r["rows"].as_i64(), r["created"].as_i64()),
            (Some(3), Some(1)),
            "{r}"
        );
        let errors = r["errors"].as_array().unwrap();
        assert_eq!(errors.len(), 2);
        assert_eq!(
            (errors[0]["line"].as_i64(), errors[0]["field"].as_str()),
            (Some(2), Some("报警时间"))
        );
        assert_eq!(
            (errors[1]["line"].as_i64(), errors[1]["code"].as_str()),
            (Some(3), Some("no_text"))
        );
        let (_, list) = t.get("/api/v1/cases?channel=police", &disp).await;
        let items = list["items"].as_array().unwrap();
        assert_eq!(items.len(), 1);
        let id = items[0]["id"].as_i64().unwrap();
        let (_, c) = t.get(&format!("/api/v1/cases/{id}"), &disp).await;
        assert_eq!(c["dispute_type"], "neighbourhood", "{c}");
        assert_eq!(c["location"]["node_code"], VILLAGE_A);
        assert_eq!(c["channel"], "police");
        // Sent again: recognised; sent again with a corrected category: the case is updated.
        let (_, r) = t
            .post(
                "/api/v1/channels/police/records",
                &disp,
                json!({"records": [good]}),
            )
            .await;
        assert_eq!(
            (r["unchanged"].as_i64(), r["created"].as_i64()),
            (Some(1), Some(0)),
            "{r}"
        );
        let changed = rec(
            "JQ-2025-0001",
            "2025年3月2日 20时10分",
            "邻居装修噪音扰民，双方发生口角",
            "物业纠纷",
        );
        let (_, r) = t
            .post(
                "/api/v1/channels/police/records",
                &disp,
                json!({"records": [changed.clone()]}),
            )
            .await;
        assert_eq!(r["updated"].as_i64(), Some(1), "{r}");
        let (_, c) = t.get(&format!("/api/v1/cases/{id}"), &disp).await;
        assert_eq!(c["dispute_type"], "property_management");
        let (_, r) = t
            .post(
                "/api/v1/channels/police/records",
                &disp,
                json!({"records": [changed]}),
            )
            .await;
        assert_eq!(r["unchanged"].as_i64(), Some(1), "{r}");
        // Re-sent with a fuller text: the case's text follows, the first text stays in the
        // log, and the text is read again.
        let fuller = rec(
            "JQ-2025-0001",
            "2025年3月2日 20时10分",
            "邻居装修噪音扰民，双方发生口角，对方扬言要砸门",
            "物业纠纷",
        );
        let (_, r) = t
            .post(
                "/api/v1/channels/police/records",
                &disp,
                json!({"records": [fuller]}),
            )
            .await;
        assert_eq!(r["updated"].as_i64(), Some(1), "{r}");
        let (_, c) = t.get(&format!("/api/v1/cases/{id}"), &disp).await;
        // (The mapping joins the incident's summary and how the police handled it.)
        let now_text = "邻居装修噪音扰民，双方发生口角，对方扬言要砸门\n民警到场劝解";
        assert_eq!(c["text"], now_text);
        let (_, events) = t.get(&format!("/api/v1/cases/{id}/events"), &disp).await;
        let events = events.as_array().unwrap();
        assert_eq!(
            events[0]["kind"]["case"]["text"],
            "邻居装修噪音扰民，双方发生口角\n民警到场劝解"
        );
        assert!(events.iter().any(|e| e["kind"]["text"] == now_text));
        let a = t.analysis(id, &disp).await;
        assert_eq!(
            a["analysis"]["risk"]["cues"][0]["text"], "扬言",
            "read again: {a}"
        );
        let (_, list) = t.get("/api/v1/cases?channel=police", &disp).await;
        assert_eq!(list["items"].as_array().unwrap().len(), 1, "still one case");
        // With the source's update time, rows not newer than the last import are skipped.
        let mut stamped = rec(
            "JQ-2025-0009",
            "2025-03-02 21:00",
            "楼上漏水，协商赔偿未果",
            "邻里纠纷",
        );
        stamped["更新时间"] = json!("2025-03-02 22:00");
        let push = |v: Value| {
            t.post(
                "/api/v1/channels/police/records",
                &disp,
                json!({"records": [v]}),
            )
        };
        let r = push(stamped.clone()).await.1;
        assert_eq!(r["created"].as_i64(), Some(1), "{r}");
        let r = push(stamped.clone()).await.1;
        assert_eq!(
            (r["skipped"].as_i64(), r["unchanged"].as_i64()),
            (Some(1), Some(0)),
            "{r}"
        );
        stamped["更新时间"] = json!("2025-03-03 08:00");
        stamped["警情类别"] = json!("物业纠纷");
        let r = push(stamped).await.1;
        assert_eq!(r["updated"].as_i64(), Some(1), "{r}");
        // Limits and unknown channels.
        let many: Vec<Value> = (0..1001).map(|i| json!({"警情编号": i})).collect();
        let (s, _) = t
            .post(
                "/api/v1/channels/police/records",
                &disp,
                json!({"records": many}),
            )
            .await;
        assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
        let (s, _) = t
            .post(
                "/api/v1/channels/fax/records",
                &disp,
                json!({"records": []}),
            )
            .await;
        assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
        t.assert_replays(id).await;
    }
);

on_both!(
    a_merge_keeps_both_source_records_and_can_be_undone,
    |t: T| async move {
        let disp = t.login("dispatcher").await;
        let place = t.village_a_name(&disp).await;
        let rec = |id: &str, text: &str| {
            json!({"警情编号": id, "简要警情": text, "处警情况": "民警到场", "发生地点": place,
                   "报警时间": "2025-03-02 20:10", "警情类别": "邻里纠纷"})
        };
        let batch = json!({"records": [rec("JQ-M-1", "邻居装修噪音扰民，双方发生口角"),
            rec("JQ-M-2", "楼上装修太吵，和邻居吵起来了")]});
        let (s, r) = t
            .post("/api/v1/channels/police/records", &disp, batch)
            .await;
        assert_eq!((s, r["created"].as_i64()), (StatusCode::OK, Some(2)), "{r}");
        let ids = t.case_ids("/api/v1/cases?channel=police", &disp).await;
        let (keep, dup) = (ids[1].min(ids[0]), ids[1].max(ids[0]));
        let (s, m) = t
            .act(
                dup,
                &disp,
                json!({"action": "merge", "into_case_id": keep, "reason": "同一纠纷"}),
            )
            .await;
        assert_eq!(
            (s, m["status"].as_str()),
            (StatusCode::OK, Some("merged")),
            "{m}"
        );
        // The surviving case lists both records, each with its channel and id there.
        let (s, sources) = t.get(&format!("/api/v1/cases/{keep}/sources"), &disp).await;
        assert_eq!(s, StatusCode::OK, "{sources}");
        let mut got: Vec<(i64, String, String)> = sources
            .as_array()
            .unwrap()
            .iter()
            .map(|r| {
                (
                    r["case_id"].as_i64().unwrap(),
                    r["channel"].as_str().unwrap().to_string(),
                    r["source_id"].as_str().unwrap().to_string(),
                )
            })
            .collect();
        got.sort();
        assert_eq!(
            got,
            vec![
                (keep, "police".to_string(), "JQ-M-1".to_string()),
                (dup, "police".to_string(), "JQ-M-2".to_string())
            ]
        );
        // The merge is undone from the merged case only, with a reason.
        let (s, e) = t
            .act(
                keep,
                &disp,
                json!({"action": "unlink", "case_id": dup, "reason": "x"}),
            )
            .await;
        assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{e}");
        let (s, _) = t
            .act(dup, &disp, json!({"action": "unmerge", "reason": ""}))
            .await;
        assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
        let (s, back) = t
            .act(
                dup,
                &disp,
                json!({"action": "unmerge", "reason": "并非同一纠纷"}),
            )
            .await;
        assert_eq!(s, StatusCode::OK, "{back}");
        assert_eq!(back["status"], "registered");
        assert!(back["merged_into"].is_null(), "{back}");
        assert!(!back["linked_case_ids"]
            .as_array()
            .unwrap()
            .contains(&json!(keep)));
        let (_, kept) = t.get(&format!("/api/v1/cases/{keep}"), &disp).await;
        assert!(!kept["linked_case_ids"]
            .as_array()
            .unwrap()
            .contains(&json!(dup)));
        let (_, sources) = t.get(&format!("/api/v1/cases/{keep}/sources"), &disp).await;
        assert_eq!(sources.as_array().unwrap().len(), 1, "{sources}");
        let (_, events) = t.get(&format!("/api/v1/cases/{keep}/events"), &disp).await;
        let actions: Vec<&str> = events
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|e| e["kind"]["action"].as_str())
            .collect();
        assert!(actions.ends_with(&["linked", "unlinked"]), "{actions:?}");
        let (s, _) = t
            .act(dup, &disp, json!({"action": "unmerge", "reason": "again"}))
            .await;
        assert_eq!(s, StatusCode::CONFLICT, "a merge is undone once");
        // A case out of the user's sight is not found.
        let town_b = t.login("u03staff").await;
        let (s, _) = t
            .get(&format!("/api/v1/cases/{keep}/sources"), &town_b)
            .await;
        assert_eq!(s, StatusCode::NOT_FOUND);
        t.assert_replays(keep).await;
        t.assert_replays(dup).await;
    }
);

impl T {
    /// An Open311 call: (status, content type, body text).
    async fn raw(
        &self,
        method: Method,
        path: &str,
        form: Option<&str>,
    ) -> (StatusCode, String, String) {
        let b = Request::builder().method(method).uri(path);
        let req = match form {
            Some(f) => b
                .header("content-type", "application/x-www-form-urlencoded")
                .body(Body::from(f.to_string())),
            None => b.body(Body::empty()),
        }
        .unwrap();
        let res = self.router.clone().oneshot(req).await.unwrap();
        let status = res.status();
        let ct = res
            .headers()
            .get("content-type")
            .map(|v| v.to_str().unwrap().to_string())
            .unwrap_or_default();
        let bytes = res.into_body().collect().await.unwrap().to_bytes();
        (status, ct, String::from_utf8(bytes.to_vec()).unwrap())
    }
}

fn form_encode(pairs: &[(&str, &str)]) -> String {
    pairs
        .iter()
        .map(|(k, v)| {
            let enc = |s: &str| {
                s.bytes()
                    .map(|b| {
                        if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
                            (b as char).to_string()
                        } else {
                            format!("%{b:02X}")
                        }
                    })
                    .collect::<String>()
            };
            format!("{}={}", enc(k), enc(v))
        })
        .collect::<Vec<_>>()
        .join("&")
}

on_both!(
    an_open311_client_submits_and_follows_a_request_in_json_and_xml,
    |t: T| async move {
        // Discovery and services need no key.
        let (s, ct, body) = t.raw(Method::GET, "/open311/discovery.json", None).await;
        assert_eq!(s, StatusCode::OK);
        assert!(ct.starts_with("application/json"));
        assert!(body.contains("GeoReport_v2"), "{body}");
        let (_, _, body) = t.raw(Method::GET, "/open311/v2/services.json", None).await;
        let services: Value = serde_json::from_str(&body).unwrap();
        assert!(services
            .as_array()
            .unwrap()
            .iter()
            .any(|s| s["service_code"] == "neighbourhood" && s["metadata"] == true));
        let (s, ct, xml) = t.raw(Method::GET, "/open311/v2/services.xml", None).await;
        assert_eq!(s, StatusCode::OK);
        assert!(ct.starts_with("text/xml"));
        assert!(
            xml.contains("<services><service>")
                && xml.contains("<service_code>neighbourhood</service_code>"),
            "{xml}"
        );
        let (_, _, def) = t
            .raw(Method::GET, "/open311/v2/services/neighbourhood.json", None)
            .await;
        let def: Value = serde_json::from_str(&def).unwrap();
        assert_eq!(def["attributes"][1]["code"], "amount_yuan");
        let (s, _, _) = t
            .raw(Method::GET, "/open311/v2/services/fax.json", None)
            .await;
        assert_eq!(s, StatusCode::NOT_FOUND);
        // Submitting needs a key; a bad one is refused with Open311's error list.
        let form = |key: &str| {
            form_encode(&[
                ("api_key", key),
                ("service_code", "neighbourhood"),
                ("jurisdiction_id", VILLAGE_A),
                (
                    "description",
                    "邻居装修噪音扰民，电话13800138000，双方发生口角",
                ),
                ("first_name", "三"),
                ("last_name", "张"),
                ("phone", "13800138000"),
                ("lat", "30.1"),
                ("long", "120.2"),
                ("attribute[people_involved]", "2"),
                ("attribute[amount_yuan]", "1500"),
            ])
        };
        let (s, _, body) = t
            .raw(
                Method::POST,
                "/open311/v2/requests.json",
                Some(&form("nope")),
            )
            .await;
        assert_eq!(s, StatusCode::UNAUTHORIZED);
        assert_eq!(
            serde_json::from_str::<Value>(&body).unwrap()[0]["code"],
            401
        );
        let grid = t.login("grid01").await;
        let (s, _, body) = t
            .raw(
                Method::POST,
                "/open311/v2/requests.json",
                Some(&form(&grid)),
            )
            .await;
        assert_eq!(s, StatusCode::OK, "{body}");
        let created: Value = serde_json::from_str(&body).unwrap();
        let id = created[0]["service_request_id"]
            .as_str()
            .unwrap()
            .to_string();
        let token = created[0]["token"].as_str().unwrap().to_string();
        let (_, c) = t.get(&format!("/api/v1/cases/{id}"), &grid).await;
        assert_eq!(
            (c["channel"].as_str(), c["dispute_type"].as_str()),
            (Some("open311"), Some("neighbourhood"))
        );
        assert_eq!(
            (c["amount_fen"].as_i64(), c["people_involved"].as_i64()),
            (Some(150_000), Some(2))
        );
        assert_eq!(c["parties"][0]["name"], "张三");
        // Read back by id, by token, and in a listing; the phone in the text is masked.
        let (s, _, body) = t
            .raw(
                Method::GET,
                &format!("/open311/v2/requests/{id}.json?api_key={grid}"),
                None,
            )
            .await;
        assert_eq!(s, StatusCode::OK, "{body}");
        let r: Value = serde_json::from_str(&body).unwrap();
        assert_eq!(r[0]["status"], "open");
        assert_eq!(r[0]["service_code"], "neighbourhood");
        assert_eq!(r[0]["lat"], 30.1);
        assert!(
            !body.contains("13800138000") && body.contains("138****8000"),
            "{body}"
        );
        let (_, _, body) = t
            .raw(
                Method::GET,
                &format!("/open311/v2/tokens/{token}.json?api_key={grid}"),
                None,
            )
            .await;
        assert_eq!(
            serde_json::from_str::<Value>(&body).unwrap()[0]["service_request_id"],
            id.as_str()
        );
        let (_, _, xml) = t
            .raw(
                Method::GET,
                &format!("/open311/v2/requests.xml?api_key={grid}&status=open&service_code=neighbourhood"),
                None,
            )
            .await;
        assert!(
            xml.starts_with("<?xml")
                && xml.contains("<service_requests><request>")
                && xml.contains(&format!("<service_request_id>{id}</service_request_id>"))
                && xml.contains("<status>open</status>"),
            "{xml}"
        );
        let (_, _, body) = t
            .raw(
                Method::GET,
                &format!("/open311/v2/requests.json?api_key={grid}&status=closed"),
                None,
            )
            .await;
        assert_eq!(body, "[]");
        // Listing needs a key; another town's account does not find the request.
        let (s, _, _) = t.raw(Method::GET, "/open311/v2/requests.json", None).await;
        assert_eq!(s, StatusCode::UNAUTHORIZED);
        let town_b = t.login("u03staff").await;
        let (s, _, _) = t
            .raw(
                Method::GET,
                &format!("/open311/v2/requests/{id}.json?api_key={town_b}"),
                None,
            )
            .await;
        assert_eq!(s, StatusCode::NOT_FOUND);
        // Bad input: no description, no place, an unknown service, a bad number.
        for (pairs, status) in [
            (
                vec![
                    ("service_code", "neighbourhood"),
                    ("jurisdiction_id", VILLAGE_A),
                ],
                StatusCode::BAD_REQUEST,
            ),
            (
                vec![("service_code", "neighbourhood"), ("description", "吵架")],
                StatusCode::BAD_REQUEST,
            ),
            (
                vec![
                    ("service_code", "fax"),
                    ("description", "吵架"),
                    ("jurisdiction_id", VILLAGE_A),
                ],
                StatusCode::NOT_FOUND,
            ),
            (
                vec![
                    ("service_code", "neighbourhood"),
                    ("description", "吵架"),
                    ("jurisdiction_id", VILLAGE_A),
                    ("lat", "north"),
                ],
                StatusCode::BAD_REQUEST,
            ),
        ] {
            let mut pairs = pairs;
            pairs.push(("api_key", &grid));
            let (s, _, body) = t
                .raw(
                    Method::POST,
                    "/open311/v2/requests.xml",
                    Some(&form_encode(&pairs)),
                )
                .await;
            assert_eq!(s, status, "{pairs:?}: {body}");
            assert!(body.contains("<errors><error><code>"), "{body}");
        }
        t.assert_replays(id.parse().unwrap()).await;
    }
);

fn q(s: &str) -> String {
    form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

on_both!(
    full_text_search_finds_what_the_user_may_see_within_a_second,
    |t: T| async move {
        let dispatcher = t.login("dispatcher").await;
        let mut body = staff_case(VILLAGE_A);
        body["text"] = json!("张三反映楼上卫生间漏水，把天花板泡坏了，联系电话13912345678。");
        let (s, a) = t.post("/api/v1/cases", &dispatcher, body).await;
        assert_eq!(s, StatusCode::CREATED, "{a}");
        let a_id = a["id"].as_i64().unwrap();
        let mut body = staff_case(VILLAGE_B);
        body["text"] = json!("李四家屋顶漏水殃及邻居，双方协商赔偿未果。");
        let (s, b) = t.post("/api/v1/cases", &dispatcher, body).await;
        assert_eq!(s, StatusCode::CREATED, "{b}");
        let b_id = b["id"].as_i64().unwrap();
        let search = |who: String, query: String| {
            let t = &t;
            async move { t.get(&format!("/api/v1/search/cases?{query}"), &who).await }
        };
        // Searchable within a second of being registered.
        let started = std::time::Instant::now();
        let found = loop {
            let (s, r) = search(dispatcher.clone(), format!("q={}", q("漏水"))).await;
            assert_eq!(s, StatusCode::OK, "{}: {r}", t.backend);
            if r["total"] == 2 || started.elapsed() > std::time::Duration::from_secs(1) {
                break r;
            }
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        };
        assert_eq!(
            found["total"], 2,
            "{}: not searchable within 1 s: {found}",
            t.backend
        );
        let mut ids: Vec<i64> = found["hits"]
            .as_array()
            .unwrap()
            .iter()
            .map(|h| h["id"].as_i64().unwrap())
            .collect();
        ids.sort();
        assert_eq!(ids, vec![a_id, b_id]);
        // The passage that matched, highlighted; the phone number in the text masked.
        let hit = found["hits"]
            .as_array()
            .unwrap()
            .iter()
            .find(|h| h["id"] == a_id)
            .unwrap();
        let snippet = hit["snippet"].as_str().unwrap();
        assert!(!snippet.contains("13912345678"), "{snippet}");
        let [from, to] = [
            hit["highlights"][0][0].as_u64().unwrap() as usize,
            hit["highlights"][0][1].as_u64().unwrap() as usize,
        ];
        assert_eq!(&snippet[from..to], "漏水", "{hit}");
        // Town A's justice office sees town A's case only.
        let staff = t.login("u02staff").await;
        let (_, r) = search(staff.clone(), format!("q={}", q("漏水"))).await;
        assert_eq!(r["total"], 1, "{r}");
        assert_eq!(r["hits"][0]["id"], a_id);
        // …and nothing of town B, even by its tracking code.
        let (_, r) = search(staff, format!("q={}", b["tracking_code"].as_str().unwrap())).await;
        assert_eq!(r["total"], 0, "{r}");
        let (_, r) = search(
            dispatcher.clone(),
            format!("q={}", b["tracking_code"].as_str().unwrap().to_lowercase()),
        )
        .await;
        assert_eq!(r["hits"][0]["id"], b_id, "{r}");
        // Filters: place and type.
        let (_, r) = search(
            dispatcher.clone(),
            format!("q={}&node_code={VILLAGE_B}", q("漏水")),
        )
        .await;
        assert_eq!(
            (r["total"].clone(), r["hits"][0]["id"].clone()),
            (json!(1), json!(b_id)),
            "{r}"
        );
        let (_, r) = search(
            dispatcher.clone(),
            format!("q={}&dispute_type=labour", q("漏水")),
        )
        .await;
        assert_eq!(r["total"], 0, "{r}");
        // A changed text is searchable by its new words within a second too.
        let (s, e) = t
            .act(
                a_id,
                &dispatcher,
                json!({"action": "edit", "text": "张三反映楼上装修噪音扰民，晚上无法休息。"}),
            )
            .await;
        assert_eq!(s, StatusCode::OK, "{e}");
        let started = std::time::Instant::now();
        let r = loop {
            let (_, r) = search(dispatcher.clone(), format!("q={}", q("噪音"))).await;
            if r["total"] == 1 || started.elapsed() > std::time::Duration::from_secs(1) {
                break r;
            }
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        };
        assert_eq!(
            r["hits"][0]["id"], a_id,
            "{}: edit not searchable within 1 s: {r}",
            t.backend
        );
        let (_, r) = search(dispatcher.clone(), format!("q={}", q("漏水"))).await;
        assert_eq!(r["total"], 1, "{r}");
        // Bad parameters are a clear error.
        let (s, r) = search(dispatcher, "dispute_type=nonsense".into()).await;
        assert_eq!(s, StatusCode::BAD_REQUEST, "{r}");
    }
);

/// Registers a case in `village` and, with `unit_user`'s unit, mediates it to an agreement.
async fn resolved_case(t: &T, village: &str, text: &str, unit_user: &str, agreement: &str) -> i64 {
    let dispatcher = t.login("dispatcher").await;
    let mut body = staff_case(village);
    body["text"] = json!(text);
    body["parties"] = json!([
        {"name": "王建国", "role": "applicant", "phone": "13912345678"},
        {"name": "李小红", "role": "respondent", "address": "幸福村3组18号"}
    ]);
    let (s, c) = t.post("/api/v1/cases", &dispatcher, body).await;
    assert_eq!(s, StatusCode::CREATED, "{c}");
    let id = c["id"].as_i64().unwrap();
    let unit = t.unit_of(unit_user).await;
    let handler = t.login(unit_user).await;
    let (s, c) = t
        .act(
            id,
            &dispatcher,
            json!({"action": "route", "lead_unit_id": unit}),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{c}");
    for body in [
        json!({"action": "accept"}),
        json!({"action": "record_session", "date": "2025-03-04", "mediator": "刘调解员", "place": "调解室",
               "online": false, "participants": ["王建国", "李小红"], "notes": "现场查看"}),
        json!({"action": "conclude", "outcome": {"kind": "agreement", "agreement": agreement}}),
    ] {
        let (s, c) = t.act(id, &handler, body).await;
        assert_eq!(s, StatusCode::OK, "{}: {c}", t.backend);
    }
    id
}

on_both!(
    similar_cases_legal_basis_and_the_explainer,
    |t: T| async move {
        let a = resolved_case(
            &t,
            VILLAGE_A,
            "王建国反映楼上李小红家卫生间漏水，把他家天花板泡坏了，要求赔偿维修费。",
            "u02staff",
            "李小红赔偿王建国维修费800元，三日内请人修好卫生间防水层。",
        )
        .await;
        let c = resolved_case(
            &t,
            VILLAGE_B,
            "楼上卫生间漏水泡坏天花板，双方为维修费争执。",
            "u03staff",
            "楼上住户承担维修费600元。",
        )
        .await;
        let dispatcher = t.login("dispatcher").await;
        let mut body = staff_case(VILLAGE_A);
        body["text"] = json!("楼上邻居家漏水，我家天花板被泡坏了，想让对方赔偿。");
        let (_, open) = t.post("/api/v1/cases", &dispatcher, body).await;
        let open = open["id"].as_i64().unwrap();
        // Both resolved cases are offered within a second: the one of the same village first,
        // with how it was settled and why it is like this one.
        let started = std::time::Instant::now();
        let r = loop {
            let (s, r) = t
                .get(&format!("/api/v1/cases/{open}/similar"), &dispatcher)
                .await;
            assert_eq!(s, StatusCode::OK, "{r}");
            if r.as_array().unwrap().len() == 2
                || started.elapsed() > std::time::Duration::from_secs(1)
            {
                break r;
            }
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        };
        let ids: Vec<i64> = r
            .as_array()
            .unwrap()
            .iter()
            .map(|h| h["id"].as_i64().unwrap())
            .collect();
        assert_eq!(ids, vec![a, c], "{}: {r}", t.backend);
        let first = &r[0];
        assert_eq!(first["nearness"], "same_place");
        assert_eq!(first["same_type"], true);
        assert_eq!(first["sessions"], 1);
        assert_eq!(first["unit_kind"], "judicial_office", "{first}");
        assert!(first["agreement_gist"]
            .as_str()
            .unwrap()
            .contains("维修费800元"));
        assert!(first["duration_days"].as_i64().is_some());
        let words: Vec<&str> = first["shared_words"]
            .as_array()
            .unwrap()
            .iter()
            .map(|w| w.as_str().unwrap())
            .collect();
        assert!(
            words.contains(&"漏水") && words.contains(&"天花板"),
            "{words:?}"
        );
        // Town A's staff is offered town A's case only; an open case is never offered.
        let staff = t.login("u02staff").await;
        let (_, r) = t
            .get(&format!("/api/v1/cases/{open}/similar"), &staff)
            .await;
        assert_eq!(r.as_array().unwrap().len(), 1, "{r}");
        assert_eq!(r[0]["id"], a);
        let (s, _) = t.get(&format!("/api/v1/cases/{c}/similar"), &staff).await;
        assert_eq!(s, StatusCode::NOT_FOUND, "a case the user may not see");

        // Legal basis without a corpus: the curated key provisions of the type.
        let (s, b) = t
            .get(&format!("/api/v1/cases/{open}/legal-basis"), &dispatcher)
            .await;
        assert_eq!(s, StatusCode::OK, "{b}");
        assert_eq!(b["source"], "curated");
        let curated = b["articles"].as_array().unwrap();
        assert!(curated.len() >= 2);
        assert!(curated
            .iter()
            .all(|a| a["summary"].as_str().is_some_and(|s| !s.is_empty()) && a["text"].is_null()));
        // With an imported corpus: its articles, the type's key provisions first.
        let law = "# 中华人民共和国民法典\n\n## 第七章 相邻关系\n\n第二百八十八条 不动产的相邻权利人应当按照有利生产、方便生活、团结互助、公平合理的原则，正确处理相邻关系。\n\n第二百九十条 不动产权利人应当为相邻权利人用水、排水提供必要的便利。\n\n第一千一百六十五条 行为人因过错侵害他人民事权益造成损害的，应当承担侵权责任。\n\n第一千一百六十五条 重复的条文。\n\n第五条 民事主体从事民事活动，应当遵循自愿原则。\n";
        let report = t
            .app
            .import_laws(&[("minfadian.md".into(), law.into())])
            .await
            .unwrap();
        assert_eq!(report.new_articles, 4);
        assert_eq!(
            report.files[0].problems.len(),
            1,
            "the repeated article is reported"
        );
        assert_eq!(report.files[0].problems[0].0, 11, "with its line");
        let (_, b) = t
            .get(&format!("/api/v1/cases/{open}/legal-basis"), &dispatcher)
            .await;
        assert_eq!(b["source"], "corpus", "{b}");
        assert_eq!(b["articles"][0]["key_provision"], true, "{b}");
        assert!(b["articles"][0]["text"].as_str().unwrap().contains("相邻"));
        // Re-importing replaces and adds nothing.
        let again = t
            .app
            .import_laws(&[("minfadian.md".into(), law.into())])
            .await
            .unwrap();
        assert_eq!((again.new_articles, again.replaced_articles), (0, 4));

        // 以案释法: only for a case resolved by an agreement, anonymised.
        let (s, e) = t
            .get(&format!("/api/v1/cases/{open}/explainer"), &dispatcher)
            .await;
        assert_eq!(s, StatusCode::CONFLICT, "{e}");
        assert_eq!(e["code"], "case_not_resolved");
        let (s, x) = t
            .get(&format!("/api/v1/cases/{a}/explainer"), &dispatcher)
            .await;
        assert_eq!(s, StatusCode::OK, "{x}");
        let all = x.to_string();
        for secret in ["王建国", "李小红", "13912345678", "3组18号"] {
            assert!(!all.contains(secret), "{secret} in {all}");
        }
        assert!(x["facts"].as_str().unwrap().contains("王某"), "{x}");
        assert!(
            x["agreement"]
                .as_str()
                .unwrap()
                .contains("李某赔偿王某维修费800元"),
            "{x}"
        );
        assert_eq!(x["area"], "城关镇", "the town, not the village: {x}");
        assert_eq!(x["basis"]["source"], "corpus");
    }
);

/// Signs in with a password and an optional TOTP code; the status and the answer.
async fn sign_in(t: &T, user: &str, password: &str, code: Option<&str>) -> (StatusCode, Value) {
    t.call(
        Method::POST,
        "/api/v1/auth/login",
        None,
        Some(json!({"username": user, "password": password, "totp_code": code})),
        &[],
    )
    .await
}

on_both!(
    sign_in_answers_alike_for_unknown_names_and_locks_after_five_failures,
    |t: T| async move {
        let unknown = sign_in(&t, "nobody", "Wrong#2026", None).await;
        let wrong = sign_in(&t, "dispatcher", "Wrong#2026", None).await;
        assert_eq!(unknown, wrong, "{}", t.backend);
        assert_eq!(wrong.0, StatusCode::UNAUTHORIZED);
        assert_eq!(wrong.1["code"], "invalid_credentials");
        // Four more failures (five in a row) lock the name: the right password is refused
        // with the same answer, for 30 minutes.
        for _ in 0..4 {
            sign_in(&t, "dispatcher", "Wrong#2026", None).await;
        }
        assert_eq!(sign_in(&t, "dispatcher", PASSWORD, None).await, wrong);
        // Unknown names are throttled alike.
        for _ in 0..4 {
            sign_in(&t, "nobody", "Wrong#2026", None).await;
        }
        assert_eq!(
            t.app
                .store
                .login_throttle("nobody")
                .await
                .unwrap()
                .unwrap()
                .failures,
            5
        );
        t.clock.advance(29 * 60_000);
        assert_eq!(
            sign_in(&t, "dispatcher", PASSWORD, None).await.0,
            StatusCode::UNAUTHORIZED
        );
        t.clock.advance(60_000);
        let (s, ok) = sign_in(&t, "dispatcher", PASSWORD, None).await;
        assert_eq!(
            (s, ok["next_step"].as_str()),
            (StatusCode::OK, Some("full")),
            "{ok}"
        );
        // Success clears the count.
        assert_eq!(
            t.app.store.login_throttle("dispatcher").await.unwrap(),
            None
        );
        // One address may try 30 times a minute, whatever the names.
        let mut limited = 0;
        for i in 0..40 {
            let (s, b) = sign_in(&t, &format!("user{i}"), "Wrong#2026", None).await;
            if s == StatusCode::TOO_MANY_REQUESTS {
                assert_eq!(b["code"], "too_many_attempts");
                limited += 1;
            }
        }
        assert_eq!(
            limited,
            40 - 30 + 1,
            "{}: the 30 of this minute include one above",
            t.backend
        );
        t.clock.advance(60_000);
        assert_eq!(
            sign_in(&t, "dispatcher", PASSWORD, None).await.0,
            StatusCode::OK
        );
    }
);

#[tokio::test]
async fn sessions_end_when_idle_or_after_twelve_hours() {
    for backend in ["sqlite", "postgres"] {
        let t = spawn_with(backend, Settings::default()).await;
        let me = |token: String| {
            let t = &t;
            async move { t.get("/api/v1/me", &token).await.0 }
        };
        let token = t.login("dispatcher").await;
        // Used every 29 minutes, a session lives on…
        for _ in 0..3 {
            t.clock.advance(29 * 60_000);
            assert_eq!(me(token.clone()).await, StatusCode::OK, "{backend}");
        }
        // …unused for 31, it is gone.
        t.clock.advance(31 * 60_000);
        assert_eq!(
            me(token.clone()).await,
            StatusCode::UNAUTHORIZED,
            "{backend}"
        );
        // However busy, a session ends 12 hours after sign-in.
        let (_, r) = sign_in(&t, "dispatcher", PASSWORD, None).await;
        let token = r["token"].as_str().unwrap().to_string();
        for _ in 0..(12 * 60 / 20 - 1) {
            t.clock.advance(20 * 60_000);
            assert_eq!(me(token.clone()).await, StatusCode::OK, "{backend}");
        }
        t.clock.advance(20 * 60_000);
        assert_eq!(
            me(token.clone()).await,
            StatusCode::UNAUTHORIZED,
            "{backend}"
        );
        // Logging out ends a session on the server.
        let (_, r) = sign_in(&t, "dispatcher", PASSWORD, None).await;
        let token = r["token"].as_str().unwrap().to_string();
        let (s, _) = t.post("/api/v1/auth/logout", &token, json!({})).await;
        assert_eq!(s, StatusCode::NO_CONTENT);
        assert_eq!(me(token).await, StatusCode::UNAUTHORIZED, "{backend}");
    }
}

on_both!(
    leaders_must_enrol_a_second_factor_and_each_code_works_once,
    |t: T| async move {
        let (s, r) = sign_in(&t, "leader", PASSWORD, None).await;
        assert_eq!(
            (s, r["next_step"].as_str()),
            (StatusCode::OK, Some("enrol_second_factor"))
        );
        let token = r["token"].as_str().unwrap().to_string();
        // Half signed in: nothing else opens.
        let (s, b) = t.get("/api/v1/cases", &token).await;
        assert_eq!(
            (s, b["code"].as_str()),
            (StatusCode::UNAUTHORIZED, Some("sign_in_incomplete"))
        );
        let (_, e) = t
            .post("/api/v1/auth/second-factor/enrolment", &token, json!({}))
            .await;
        let secret = e["secret"].as_str().unwrap().to_string();
        assert!(e["otpauth_uri"].as_str().unwrap().contains(&secret));
        let (s, b) = t
            .post(
                "/api/v1/auth/second-factor/enrolment/confirm",
                &token,
                json!({"code": "000000"}),
            )
            .await;
        assert_eq!(
            (s, b["code"].as_str()),
            (StatusCode::UNAUTHORIZED, Some("invalid_second_factor"))
        );
        let code = t.totp(&secret);
        let (s, b) = t
            .post(
                "/api/v1/auth/second-factor/enrolment/confirm",
                &token,
                json!({"code": code}),
            )
            .await;
        assert_eq!(
            (s, b["next_step"].as_str()),
            (StatusCode::OK, Some("full")),
            "{b}"
        );
        assert_eq!(t.get("/api/v1/cases", &token).await.0, StatusCode::OK);
        // The next sign-in asks for the code; the code just used is refused (once only).
        let (_, r) = sign_in(&t, "leader", PASSWORD, None).await;
        assert_eq!(r["next_step"], "second_factor");
        let again = r["token"].as_str().unwrap().to_string();
        let (s, _) = t
            .post("/api/v1/auth/second-factor", &again, json!({"code": code}))
            .await;
        assert_eq!(s, StatusCode::UNAUTHORIZED, "{}: replayed code", t.backend);
        t.clock.advance(30_000);
        let (s, b) = t
            .post(
                "/api/v1/auth/second-factor",
                &again,
                json!({"code": t.totp(&secret)}),
            )
            .await;
        assert_eq!((s, b["next_step"].as_str()), (StatusCode::OK, Some("full")));
        // The code may come with the password.
        t.clock.advance(30_000);
        let (s, r) = sign_in(&t, "leader", PASSWORD, Some(&t.totp(&secret))).await;
        assert_eq!((s, r["next_step"].as_str()), (StatusCode::OK, Some("full")));
        // A lost phone: the admin removes the enrolment; the leader's sessions end and the
        // next sign-in enrols again.
        let admin = t.login("admin").await;
        let id = t.user_id("leader").await;
        let (s, u) = t
            .post(
                &format!("/api/v1/users/{id}/credentials"),
                &admin,
                json!({"reset_second_factor": true}),
            )
            .await;
        assert_eq!(
            (s, u["second_factor"].as_bool()),
            (StatusCode::OK, Some(false)),
            "{u}"
        );
        assert_eq!(
            t.get("/api/v1/cases", &again).await.0,
            StatusCode::UNAUTHORIZED
        );
        let (_, r) = sign_in(&t, "leader", PASSWORD, None).await;
        assert_eq!(r["next_step"], "enrol_second_factor");
        // The policy: only admins change it; a second factor for every staff role.
        let disp = t.login("dispatcher").await;
        let (s, p) = t.get("/api/v1/security-policy", &admin).await;
        assert_eq!(s, StatusCode::OK);
        assert_eq!(
            p["second_factor_roles"],
            json!(["admin", "supervisor", "leader"])
        );
        let all = json!({"second_factor_roles": ["admin"], "second_factor_for_all": true, "password_max_age_days": 0});
        let (s, _) = t
            .call(
                Method::PUT,
                "/api/v1/security-policy",
                Some(&disp),
                Some(all.clone()),
                &[],
            )
            .await;
        assert_eq!(s, StatusCode::FORBIDDEN);
        let (s, _) = t
            .call(
                Method::PUT,
                "/api/v1/security-policy",
                Some(&admin),
                Some(all),
                &[],
            )
            .await;
        assert_eq!(s, StatusCode::OK);
        let (_, r) = sign_in(&t, "dispatcher", PASSWORD, None).await;
        assert_eq!(r["next_step"], "enrol_second_factor");
    }
);

on_both!(
    new_accounts_change_their_password_first_and_old_passwords_expire,
    |t: T| async move {
        let admin = t.login("admin").await;
        let (s, _) = t
            .post(
                "/api/v1/users",
                &admin,
                json!({"username": "newbie", "display_name": "新人", "password": "Initial#2026",
                       "role": "dispatcher", "scope_code": "990102"}),
            )
            .await;
        assert_eq!(s, StatusCode::CREATED);
        let (_, r) = sign_in(&t, "newbie", "Initial#2026", None).await;
        assert_eq!(r["next_step"], "change_password");
        assert_eq!(r["user"]["must_change_password"], true);
        let token = r["token"].as_str().unwrap().to_string();
        let (_, other) = sign_in(&t, "newbie", "Initial#2026", None).await;
        let change = |new: &str| {
            let (t, token) = (&t, token.clone());
            let body = json!({"current_password": "Initial#2026", "new_password": new});
            async move { t.post("/api/v1/auth/password", &token, body).await }
        };
        for (weak, why) in [
            ("short1!", "too_short"),
            ("alllowercase1", "too_few_character_classes"),
            ("Newbie#2026", "contains_username"),
            ("Initial#2026", "same_as_before"),
        ] {
            let (s, b) = change(weak).await;
            assert_eq!(
                (s, b["code"].as_str()),
                (StatusCode::UNPROCESSABLE_ENTITY, Some("weak_password"))
            );
            assert!(b["detail"].as_str().unwrap().contains(why), "{b}");
        }
        let (s, b) = change("Changed#2026").await;
        assert_eq!(
            (s, b["next_step"].as_str()),
            (StatusCode::OK, Some("full")),
            "{b}"
        );
        assert_eq!(t.get("/api/v1/cases", &token).await.0, StatusCode::OK);
        // The account's other sessions ended with the change.
        let other = other["token"].as_str().unwrap();
        assert_eq!(t.get("/api/v1/me", other).await.0, StatusCode::UNAUTHORIZED);
        assert_eq!(
            sign_in(&t, "newbie", "Initial#2026", None).await.0,
            StatusCode::UNAUTHORIZED
        );
        // Rotation (off by default): with a 90-day maximum, a password 91 days old must change.
        let (s, _) = t
            .call(
                Method::PUT,
                "/api/v1/security-policy",
                Some(&admin),
                Some(json!({"second_factor_roles": ["admin", "supervisor", "leader"], "password_max_age_days": 90})),
                &[],
            )
            .await;
        assert_eq!(s, StatusCode::OK);
        assert_eq!(
            sign_in(&t, "newbie", "Changed#2026", None).await.1["next_step"],
            "full"
        );
        t.clock.advance(91 * 86_400_000);
        assert_eq!(
            sign_in(&t, "newbie", "Changed#2026", None).await.1["next_step"],
            "change_password"
        );
    }
);

on_both!(
    administrators_read_and_verify_the_audit_trail,
    |t: T| async move {
        sign_in(&t, "dispatcher", "Wrong#2026", None).await;
        let disp = t.login("dispatcher").await;
        let (s, _) = t.get("/api/v1/audit", &disp).await;
        assert_eq!(s, StatusCode::FORBIDDEN);
        let admin = t.login("admin").await;
        let (s, trail) = t.get("/api/v1/audit?limit=50", &admin).await;
        assert_eq!(s, StatusCode::OK, "{trail}");
        let trail = trail.as_array().unwrap();
        let seqs: Vec<i64> = trail.iter().map(|r| r["seq"].as_i64().unwrap()).collect();
        assert!(
            seqs.windows(2).all(|w| w[0] > w[1]),
            "newest first: {seqs:?}"
        );
        let failed = trail
            .iter()
            .find(|r| r["action"] == "sign_in_failed")
            .unwrap();
        assert_eq!(failed["actor_name"], "dispatcher");
        assert_eq!(failed["hash"].as_str().unwrap().len(), 64);
        let (s, report) = t.get("/api/v1/audit/verification", &admin).await;
        assert_eq!(s, StatusCode::OK);
        assert_eq!(report["problems"], json!([]), "{report}");
        assert_eq!(report["records"].as_u64().unwrap(), seqs.len() as u64);
    }
);

/// Every API operation of the oracle table (`access_oracle.tsv`) × account × target, on both
/// backends: each answer is compared with the table, and every disagreement is listed. A
/// refused look-up of a case outside the account's scope answers exactly as a case that does
/// not exist (IDOR: the path, the query, the body, attachments, listings, search and reports).
#[tokio::test]
async fn access_follows_the_oracle_table() {
    use fengqiao_domain::access::Actor;
    use fengqiao_domain::jurisdiction::{Jurisdiction, Level};
    let oracle = include_str!("access_oracle.tsv");
    let rows: Vec<Vec<&str>> = oracle
        .lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .map(|l| l.split('\t').collect())
        .collect();
    assert!(rows.iter().all(|r| r.len() == 7), "7 columns a row");
    const TARGETS: [&str; 5] = ["own", "ancestor", "descendant", "sibling", "other_county"];
    for backend in ["sqlite", "postgres"] {
        let t = spawn(backend).await;
        // Another county beside ours, with a town and a village.
        let city = t
            .app
            .store
            .get_jurisdiction("990100")
            .await
            .unwrap()
            .unwrap();
        let other = Jurisdiction::new("990199", "远山县", Level::County, Some(&city)).unwrap();
        let town = Jurisdiction::new("990199001", "远山镇", Level::Town, Some(&other)).unwrap();
        let village =
            Jurisdiction::new("990199001001", "远山村", Level::Village, Some(&town)).unwrap();
        t.app
            .store
            .upsert_jurisdictions(&[other, town, village])
            .await
            .unwrap();
        // One case (with an attachment) at every place a target can be.
        let places = [
            "990100",
            "990102",
            "990102001",
            "990102001001",
            "990102002",
            "990199",
            "990199001001",
        ];
        let mut case_at = std::collections::HashMap::new();
        let mut attachment_of = std::collections::HashMap::new();
        for place in places {
            let mut body = staff_case(place);
            body["text"] = json!(format!("琵琶湖边邻里纠纷，位置{place}，双方争执不下。"));
            let input = serde_json::from_value(body).unwrap();
            let (c, _) = t
                .app
                .submit_case(Some(&Actor::system()), &input, None)
                .await
                .unwrap();
            let a = t
                .app
                .add_attachment(
                    &Actor::system(),
                    c.id,
                    "note.pdf",
                    format!("%PDF-1.4\n% {place}\n%%EOF\n").into_bytes(),
                )
                .await
                .unwrap();
            case_at.insert(place, c.id);
            attachment_of.insert(c.id, a.id);
        }
        // At every place also a user, a unit and an area warning, for the operations on those.
        let hash = fengqiao_app::auth::hash_password("Oracle#Check2026").unwrap();
        let (mut user_at, mut unit_at, mut warning_at) = (
            std::collections::HashMap::new(),
            std::collections::HashMap::new(),
            std::collections::HashMap::new(),
        );
        for place in places {
            use fengqiao_domain::warning::*;
            let node = t.app.store.get_jurisdiction(place).await.unwrap().unwrap();
            let u = t
                .app
                .store
                .insert_user(
                    &fengqiao_store::NewUser {
                        username: format!("staff-{place}"),
                        display_name: "核验员".into(),
                        password_hash: hash.clone(),
                        role: fengqiao_domain::access::Role::Dispatcher,
                        scope_code: place.into(),
                        scope_path: node.path.clone(),
                        unit_id: None,
                        must_change_password: false,
                    },
                    t.app.now(),
                )
                .await
                .unwrap();
            user_at.insert(place, u.id);
            let unit = t
                .app
                .store
                .insert_unit(
                    &fengqiao_store::NewUnit {
                        name: format!("核验调委会{place}"),
                        kind: fengqiao_domain::unit::UnitKind::VillageMediationCommittee,
                        node_code: place.into(),
                        specialty: None,
                    },
                    &node.path,
                )
                .await
                .unwrap();
            unit_at.insert(place, unit.id);
            let w = Warning::raise(
                Signal {
                    // A key the detector's own signals never continue (the table also runs it).
                    key: format!("oracle:{place}"),
                    kind: WarningKind::Surge,
                    level: WarningLevel::Yellow,
                    dispute_type: fengqiao_domain::case::DisputeType::Neighbourhood,
                    area_code: place.into(),
                    area_name: node.name.clone(),
                    area_path: node.path.clone(),
                    day: chrono::NaiveDate::from_ymd_opt(2025, 3, 3).unwrap(),
                    evidence: Evidence {
                        method: "glm_scan".into(),
                        observed: 9.0,
                        expected: 2.0,
                        p_value: 0.001,
                        recurrence_days: Some(400.0),
                        window_days: 7,
                        series: vec![],
                        places: vec![place.into()],
                        case_ids: vec![],
                    },
                    unit_ids: vec![],
                },
                t.app.now(),
            );
            let ids = t
                .app
                .store
                .save_warnings(&[(w, 0)], &[], t.app.now())
                .await
                .unwrap();
            warning_at.insert(place, ids[0]);
        }
        // Where each target lies for an account at the county, or at town 990102001.
        let place_of = |account: &str, target: &str| -> &'static str {
            let county = !matches!(account, "u02staff" | "grid01");
            match (county, target) {
                (true, "own") => "990102",
                (true, "ancestor") => "990100",
                (true, "descendant") => "990102001001",
                (true, "sibling") => "990199",
                (false, "own") => "990102001",
                (false, "ancestor") => "990102",
                (false, "descendant") => "990102001001",
                (false, "sibling") => "990102002",
                (_, _) => "990199001001",
            }
        };
        // Searchable first (the index is fed in the background).
        let dispatcher = t.login("dispatcher").await;
        for _ in 0..200 {
            let (_, r) = t
                .get(
                    &format!("/api/v1/search/cases?q={}", q("琵琶湖")),
                    &dispatcher,
                )
                .await;
            if r["total"].as_u64() == Some(4) {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
        // The settings as they are, to write back unchanged.
        let admin = t.login("admin").await;
        let policy = t.get("/api/v1/security-policy", &admin).await.1;
        let rules = t.get("/api/v1/deadline-rules", &admin).await.1;
        let weights = t.get("/api/v1/stats/index-weights", &admin).await.1;
        let missing_warning = t.get("/api/v1/warnings/999999", &admin).await.1;
        let outbound = t.get("/api/v1/admin/outbound", &admin).await.1;
        let (_, hook) = t
            .post(
                "/api/v1/admin/webhooks",
                &admin,
                json!({"url": "http://127.0.0.1:9/hook", "secret": "oracle-secret-0123456789", "kinds": []}),
            )
            .await;
        let hook = hook["id"].as_i64().expect("a webhook");
        // A notification of the administrator's, which no one else may mark read.
        let admin_id = t.user_id("admin").await;
        t.app
            .store
            .save_warnings(
                &[],
                &[fengqiao_store::NewNotification {
                    user_id: admin_id,
                    case_id: None,
                    kind: "oracle".into(),
                    title: "核验".into(),
                    body: "核验".into(),
                }],
                t.app.now(),
            )
            .await
            .unwrap();
        let (_, inbox) = t.get("/api/v1/inbox", &admin).await;
        let note = inbox
            .as_array()
            .unwrap()
            .iter()
            .find(|n| n["kind"] == "oracle")
            .and_then(|n| n["id"].as_i64())
            .expect("the administrator's notification");
        let mut disagreements = Vec::new();
        let mut checked = 0;
        for row in &rows {
            let (op, account) = (row[0], row[1]);
            let token = t.login(account).await;
            for (i, target) in TARGETS.iter().enumerate() {
                let place = place_of(account, target);
                let id = case_at[place];
                let listed = |v: &Value, key: &str| {
                    v[key]
                        .as_array()
                        .is_some_and(|l| l.iter().any(|c| c["id"].as_i64() == Some(id)))
                };
                let (status, body) = match op {
                    "read" => t.get(&format!("/api/v1/cases/{id}"), &token).await,
                    "events" => t.get(&format!("/api/v1/cases/{id}/events"), &token).await,
                    "room" => t.get(&format!("/api/v1/cases/{id}/room"), &token).await,
                    "risk" => t.get(&format!("/api/v1/cases/{id}/risk"), &token).await,
                    "sources" => t.get(&format!("/api/v1/cases/{id}/sources"), &token).await,
                    "reveal" => {
                        t.post(
                            &format!("/api/v1/cases/{id}/parties/0/reveal"),
                            &token,
                            json!({"purpose": "核实当事人身份"}),
                        )
                        .await
                    }
                    "attachment" => {
                        let a = &attachment_of[&id];
                        t.get(&format!("/api/v1/cases/{id}/attachments/{a}"), &token)
                            .await
                    }
                    "list" => {
                        let (s, v) = t.get("/api/v1/cases?limit=500", &token).await;
                        let found = listed(&v, "items");
                        (
                            if s.is_success() && !found {
                                StatusCode::NOT_FOUND
                            } else {
                                s
                            },
                            v,
                        )
                    }
                    "similar" => t.get(&format!("/api/v1/cases/{id}/similar"), &token).await,
                    "legal_basis" => {
                        t.get(&format!("/api/v1/cases/{id}/legal-basis"), &token)
                            .await
                    }
                    "explainer" => {
                        // Only resolved cases have one: "not resolved" (409) is an answer
                        // about a case the account may read, so it counts as allowed.
                        let (s, v) = t
                            .get(&format!("/api/v1/cases/{id}/explainer"), &token)
                            .await;
                        if s == StatusCode::CONFLICT && v["code"] == "case_not_resolved" {
                            (StatusCode::OK, v)
                        } else {
                            (s, v)
                        }
                    }
                    "edit" => {
                        t.post(
                            &format!("/api/v1/cases/{id}/actions"),
                            &token,
                            json!({"action": "edit", "people_involved": 3}),
                        )
                        .await
                    }
                    "upload" => {
                        let req = Request::builder()
                            .method(Method::POST)
                            .uri(format!("/api/v1/cases/{id}/attachments?filename=more.pdf"))
                            .header("authorization", format!("Bearer {token}"))
                            .body(Body::from(b"%PDF-1.4\n% more\n%%EOF\n".to_vec()))
                            .unwrap();
                        let res = t.router.clone().oneshot(req).await.unwrap();
                        let status = res.status();
                        let bytes = res.into_body().collect().await.unwrap().to_bytes();
                        (
                            status,
                            serde_json::from_slice(&bytes).unwrap_or(Value::Null),
                        )
                    }
                    "cockpit" => {
                        t.get(&format!("/api/v1/stats/cockpit?node={place}"), &token)
                            .await
                    }
                    "health" => {
                        t.get(&format!("/api/v1/reports/health?node={place}"), &token)
                            .await
                    }
                    "user_create" => {
                        t.post(
                            "/api/v1/users",
                            &token,
                            json!({"username": format!("oracle-{account}-{target}"),
                                   "display_name": "核验用户", "password": "Oracle#Check2026",
                                   "role": "dispatcher", "scope_code": place}),
                        )
                        .await
                    }
                    "unit_create" => {
                        t.post(
                            "/api/v1/units",
                            &token,
                            json!({"name": format!("核验调委会{place}"),
                                   "kind": "village_mediation_committee", "node_code": place}),
                        )
                        .await
                    }
                    "jurisdiction_get" => {
                        t.get(&format!("/api/v1/jurisdictions/{place}"), &token)
                            .await
                    }
                    "analysis" => t.get(&format!("/api/v1/cases/{id}/analysis"), &token).await,
                    "warning_get" => {
                        t.get(&format!("/api/v1/warnings/{}", warning_at[place]), &token)
                            .await
                    }
                    "warning_ack" | "warning_close" | "warning_summon" | "warning_reply" => {
                        let w = warning_at[place];
                        let (path, body) = match op {
                            "warning_ack" => (
                                format!("/api/v1/warnings/{w}/actions"),
                                json!({"action": "acknowledge", "note": "已知悉"}),
                            ),
                            "warning_close" => (
                                format!("/api/v1/warnings/{w}/actions"),
                                json!({"action": "close", "note": "已处置"}),
                            ),
                            "warning_summon" => (
                                format!("/api/v1/warnings/{w}/summons"),
                                json!({"unit_ids": [unit_at["990102001"]], "hours": 24}),
                            ),
                            _ => (
                                format!("/api/v1/warnings/{w}/summons/reply"),
                                json!({"reply": "已到场"}),
                            ),
                        };
                        // Visibility, then permission, then the warning's state: a refusal
                        // for its state (409) comes after the account was allowed to act.
                        let (s, v) = t.post(&path, &token, body).await;
                        if s == StatusCode::CONFLICT {
                            (StatusCode::OK, v)
                        } else {
                            (s, v)
                        }
                    }
                    "user_update" => {
                        let u = user_at[place];
                        t.put(
                            &format!("/api/v1/users/{u}"),
                            &token,
                            json!({"display_name": "核验员", "role": "dispatcher",
                                   "scope_code": place, "unit_id": null, "disabled": false}),
                        )
                        .await
                    }
                    "user_credentials" => {
                        let u = user_at[place];
                        t.post(
                            &format!("/api/v1/users/{u}/credentials"),
                            &token,
                            json!({"reset_second_factor": false}),
                        )
                        .await
                    }
                    "contact_get" => {
                        t.get(&format!("/api/v1/users/{}/contact", user_at[place]), &token)
                            .await
                    }
                    "contact_put" => {
                        t.put(
                            &format!("/api/v1/users/{}/contact", user_at[place]),
                            &token,
                            json!({}),
                        )
                        .await
                    }
                    "unit_get" => {
                        t.get(&format!("/api/v1/units/{}", unit_at[place]), &token)
                            .await
                    }
                    "unit_leader" => {
                        t.put(
                            &format!("/api/v1/units/{}/leader", unit_at[place]),
                            &token,
                            json!({"user_id": null}),
                        )
                        .await
                    }
                    "jurisdiction_create" => {
                        // A child of the target's node (a code no one else takes).
                        let (code, level) = match place.len() {
                            6 if place.ends_with("00") => (format!("{}77", &place[..4]), "county"),
                            6 => (format!("{place}077"), "town"),
                            9 => (format!("{place}077"), "village"),
                            _ => (format!("{place}077"), "grid"),
                        };
                        t.post(
                            "/api/v1/jurisdictions",
                            &token,
                            json!({"code": code, "name": format!("核验{account}"),
                                   "level": level, "parent_code": place}),
                        )
                        .await
                    }
                    "calendar_put" => {
                        t.put(
                            "/api/v1/calendar/2031-06-02",
                            &token,
                            json!({"kind": null, "note": ""}),
                        )
                        .await
                    }
                    "outbound_put" => t.put("/api/v1/admin/outbound", &token, outbound.clone()).await,
                    "webhook_create" => {
                        t.post(
                            "/api/v1/admin/webhooks",
                            &token,
                            json!({"url": "http://127.0.0.1:9/other", "secret": "oracle-secret-0123456789", "kinds": []}),
                        )
                        .await
                    }
                    "webhook_active" => {
                        t.put(
                            &format!("/api/v1/admin/webhooks/{hook}/active"),
                            &token,
                            json!({"active": true}),
                        )
                        .await
                    }
                    "delivery_retry" => {
                        t.post("/api/v1/admin/deliveries/999999/retry", &token, json!({}))
                            .await
                    }
                    "inbox_read" => {
                        t.post(&format!("/api/v1/inbox/{note}/read"), &token, json!({}))
                            .await
                    }
                    "channels_push" => {
                        t.post(
                            "/api/v1/channels/police/records",
                            &token,
                            json!({"records": []}),
                        )
                        .await
                    }
                    "policy_put" => {
                        t.put("/api/v1/security-policy", &token, policy.clone())
                            .await
                    }
                    "rules_put" => t.put("/api/v1/deadline-rules", &token, rules.clone()).await,
                    "weights_put" => {
                        t.put("/api/v1/stats/index-weights", &token, weights.clone())
                            .await
                    }
                    "analyze" => {
                        t.post(
                            "/api/v1/text/analyze",
                            &token,
                            json!({"text": "邻居装修噪音扰民，多次沟通无果。"}),
                        )
                        .await
                    }
                    "sweep" => {
                        t.post("/api/v1/admin/deadline-sweep", &token, json!({}))
                            .await
                    }
                    "warnings_run" => t.post("/api/v1/warnings/run", &token, json!({})).await,
                    "deliveries_run" => {
                        t.post("/api/v1/admin/deliveries/run", &token, json!({}))
                            .await
                    }
                    // Operations without a target: the same answer whatever the column.
                    "me" | "inbox" | "jurisdictions" | "units" | "calendar" | "deadline_rules"
                    | "index_weights" | "supervisions" | "users" | "audit"
                    | "audit_verification" | "security_policy" | "deliveries" | "outbound"
                    | "geo" | "warnings" | "hotspots" => {
                        let path = match op {
                            "deadline_rules" => "deadline-rules",
                            "index_weights" => "stats/index-weights",
                            "audit_verification" => "audit/verification",
                            "security_policy" => "security-policy",
                            "deliveries" => "admin/deliveries",
                            "outbound" => "admin/outbound",
                            "geo" => "stats/geo",
                            "hotspots" => "warnings/hotspots",
                            other => other,
                        };
                        t.get(&format!("/api/v1/{path}"), &token).await
                    }
                    "by_number" => {
                        // Every case's applicant has this phone, written another way.
                        let (s, v) = t
                            .post(
                                "/api/v1/cases/by-party-number",
                                &token,
                                json!({"number": "138-0013-8000"}),
                            )
                            .await;
                        let found = listed(&v, "items");
                        (
                            if s.is_success() && !found {
                                StatusCode::NOT_FOUND
                            } else {
                                s
                            },
                            v,
                        )
                    }
                    "person_number" => {
                        let (s, v) = t
                            .post(
                                "/api/v1/people/dossier",
                                &token,
                                json!({"by": "number", "number": "138-0013-8000"}),
                            )
                            .await;
                        let found = v["cases"]
                            .as_array()
                            .is_some_and(|a| a.iter().any(|c| c["case_id"] == id));
                        (
                            if s.is_success() && !found {
                                StatusCode::NOT_FOUND
                            } else {
                                s
                            },
                            v,
                        )
                    }
                    "person_party" => {
                        t.post(
                            "/api/v1/people/dossier",
                            &token,
                            json!({"by": "party", "case_id": id, "party_index": 0}),
                        )
                        .await
                    }
                    "place" => {
                        t.get(&format!("/api/v1/places/{place}/dossier"), &token)
                            .await
                    }
                    "search" => {
                        let (s, v) = t
                            .get(&format!("/api/v1/search/cases?q={}", q("琵琶湖")), &token)
                            .await;
                        let found = listed(&v, "hits");
                        (
                            if s.is_success() && !found {
                                StatusCode::NOT_FOUND
                            } else {
                                s
                            },
                            v,
                        )
                    }
                    "report" => {
                        t.get(&format!("/api/v1/reports/monthly?node={place}"), &token)
                            .await
                    }
                    "create" => t.post("/api/v1/cases", &token, staff_case(place)).await,
                    other => panic!("unknown operation {other} in the oracle"),
                };
                let got = match status.as_u16() {
                    200..=299 => "allow",
                    403 => "forbidden",
                    404 => "hidden",
                    _ => "other",
                };
                // A hidden case (or warning) answers exactly as a missing one.
                if got == "hidden"
                    && !matches!(
                        op,
                        "list"
                            | "by_number"
                            | "person_number"
                            | "search"
                            | "report"
                            | "cockpit"
                            | "health"
                    )
                {
                    if op.starts_with("warning_") {
                        assert_eq!(missing_warning, body, "{op} {account}");
                    } else if op == "place" {
                        let missing = t.get("/api/v1/places/990102999999/dossier", &token).await.1;
                        assert_eq!(missing, body, "{op} {account}");
                    } else if op == "inbox_read" {
                        let missing = t
                            .post("/api/v1/inbox/999999/read", &token, json!({}))
                            .await
                            .1;
                        assert_eq!(missing, body, "{op} {account}");
                    } else if op != "delivery_retry" {
                        assert_eq!(body["code"], "case_not_found", "{op} {account}: {body}");
                    }
                }
                checked += 1;
                if got != row[2 + i] {
                    disagreements.push(format!(
                        "{op} by {account} on {target} ({place}): expected {}, got {got} ({status}: {})",
                        row[2 + i],
                        body.to_string().chars().take(120).collect::<String>()
                    ));
                }
            }
        }
        assert!(
            disagreements.is_empty(),
            "{backend}: {} of {checked} answers disagree with the oracle:\n{}",
            disagreements.len(),
            disagreements.join("\n")
        );
        // Through a case it may see, an account cannot reach another case's attachment.
        let grid = t.login("grid01").await;
        let (mine, theirs) = (case_at["990102001001"], case_at["990102002"]);
        let (s, b) = t
            .get(
                &format!(
                    "/api/v1/cases/{mine}/attachments/{}",
                    attachment_of[&theirs]
                ),
                &grid,
            )
            .await;
        assert_eq!(s, StatusCode::NOT_FOUND, "{b}");
        // A case that does not exist answers like a hidden one.
        let missing = 9_999_999;
        let (s, b) = t
            .get(&format!("/api/v1/cases/{missing}"), &dispatcher)
            .await;
        assert_eq!(
            (s, b["code"].clone()),
            (StatusCode::NOT_FOUND, json!("case_not_found"))
        );
    }
}

on_both!(
    a_party_number_finds_the_persons_cases_through_the_blind_index,
    |t: T| async move {
        let d = t.login("dispatcher").await;
        let (s, a) = t.post("/api/v1/cases", &d, staff_case(VILLAGE_A)).await;
        assert_eq!(s, StatusCode::CREATED, "{a}");
        // The same applicant through the citizen form, the phone written another way.
        let sub = json!({"text": "隔壁饭店油烟直排我家窗户，找过老板没有改。", "node_code": VILLAGE_B,
                         "name": "王某", "phone": "138-0013-8000", "consent": true});
        let (s, b) = t
            .call(Method::POST, "/api/v1/public/cases", None, Some(sub), &[])
            .await;
        assert_eq!(s, StatusCode::CREATED, "{b}");
        let (a, b) = (a["id"].as_i64().unwrap(), b["id"].as_i64().unwrap());
        let look = |number: &'static str, token: String| {
            let t = &t;
            async move {
                t.post(
                    "/api/v1/cases/by-party-number",
                    &token,
                    json!({ "number": number }),
                )
                .await
            }
        };
        let ids = |v: &Value| -> Vec<i64> {
            v["items"]
                .as_array()
                .unwrap()
                .iter()
                .map(|c| c["id"].as_i64().unwrap())
                .collect()
        };
        let (s, v) = look("+86 138 0013 8000", d.clone()).await;
        assert_eq!(s, StatusCode::OK, "{v}");
        assert_eq!(ids(&v), vec![b, a], "{}", t.backend);
        assert!(!v.to_string().contains("13800138000"), "masked: {v}");
        let (_, v) = look("11010519491231002x", d.clone()).await;
        assert_eq!(ids(&v), vec![a], "{}", t.backend);
        let (_, v) = look("13900139000", d.clone()).await;
        assert_eq!(ids(&v), Vec::<i64>::new());
        let (s, v) = look("12345", d.clone()).await;
        assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{v}");
        assert_eq!(v["code"], "validation_failed");
        // A town's staff sees only its town's case; a grid worker may not look numbers up.
        let u = t.login("u02staff").await;
        let (_, v) = look("13800138000", u).await;
        assert_eq!(ids(&v), vec![a], "{}", t.backend);
        let g = t.login("grid01").await;
        assert_eq!(look("13800138000", g).await.0, StatusCode::FORBIDDEN);
        // Each look-up is in the audit trail, the number masked.
        t.app.flush_audit().await;
        let trail = t.app.store.audit_records(0, 10_000).await.unwrap();
        let lookups: Vec<_> = trail
            .iter()
            .filter(|r| r.record.action.as_str() == "party_looked_up")
            .collect();
        assert_eq!(lookups.len(), 4, "{}: {lookups:#?}", t.backend);
        assert!(
            lookups[0].record.detail.contains("138****8000"),
            "{lookups:?}"
        );
        assert!(
            lookups[0].record.detail.contains("\"found\":2"),
            "{lookups:?}"
        );
        assert!(trail
            .iter()
            .all(|r| !r.record.detail.contains("13800138000")
                && !r.record.detail.contains("11010519491231002X")));
    }
);

on_both!(
    a_persons_page_gathers_their_cases_by_number_and_by_name_in_the_village,
    |t: T| async move {
        let d = t.login("dispatcher").await;
        let mut ids = Vec::new();
        // (channel, name, role, id number, phone, village)
        for (channel, name, role, id, phone, village) in [
            (
                "walk_in",
                "张建国",
                "applicant",
                Some("11010519491231002X"),
                Some("13800138000"),
                VILLAGE_A,
            ),
            ("police", "张建国", "respondent", None, None, VILLAGE_A),
            (
                "petition",
                "张建国",
                "applicant",
                Some("11010519491231002X"),
                None,
                VILLAGE_B,
            ),
            ("walk_in", "张建军", "applicant", None, None, VILLAGE_A),
            ("walk_in", "张建国", "applicant", None, None, VILLAGE_B),
        ] {
            let body = json!({
                "channel": channel,
                "text": format!("{name}反映邻居在公共通道堆放杂物，影响通行。"),
                "parties": [{"name": name, "role": role, "id_number": id, "phone": phone},
                            {"name": "李某", "role": "other"}],
                "dispute_type": "neighbourhood",
                "node_code": village,
            });
            let (s, c) = t.post("/api/v1/cases", &d, body).await;
            assert_eq!(s, StatusCode::CREATED, "{c}");
            ids.push(c["id"].as_i64().unwrap());
        }
        let (a, b, c, namesake, e) = (ids[0], ids[1], ids[2], ids[3], ids[4]);
        let dossier = |token: String, q: Value| {
            let t = &t;
            async move { t.post("/api/v1/people/dossier", &token, q).await }
        };
        let matched = |v: &Value| -> Vec<(i64, String)> {
            let mut m: Vec<(i64, String)> = v["cases"]
                .as_array()
                .unwrap()
                .iter()
                .map(|c| {
                    (
                        c["case_id"].as_i64().unwrap(),
                        c["matched_by"].as_str().unwrap().to_string(),
                    )
                })
                .collect();
            m.sort();
            m
        };
        let m = |x: &[(i64, &str)]| -> Vec<(i64, String)> {
            let mut v: Vec<_> = x.iter().map(|(i, s)| (*i, s.to_string())).collect();
            v.sort();
            v
        };
        // By ID number: both cases with it, and the cases naming him in those two villages.
        let (s, v) = dossier(
            d.clone(),
            json!({"by": "number", "number": "11010519491231002x"}),
        )
        .await;
        assert_eq!(s, StatusCode::OK, "{v}");
        assert_eq!(
            matched(&v),
            m(&[
                (a, "id_number"),
                (b, "name_place"),
                (c, "id_number"),
                (e, "name_place")
            ]),
            "{}",
            t.backend
        );
        assert!(!matched(&v).iter().any(|(i, _)| *i == namesake));
        assert_eq!(v["name"], "张建国");
        assert_eq!(v["petitions"], 1);
        assert_eq!(
            (v["as_applicant"].as_u64(), v["as_respondent"].as_u64()),
            (Some(3), Some(1))
        );
        assert_eq!(v["repeat"], true);
        assert_eq!(v["numbers"], json!(["1101**********002X"]));
        assert!(!v.to_string().contains("11010519491231002X"), "masked: {v}");
        let b_row = v["cases"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["case_id"] == b)
            .unwrap()
            .clone();
        assert_eq!(
            (b_row["role"].as_str(), b_row["channel"].as_str()),
            (Some("respondent"), Some("police"))
        );
        assert!(b_row["confidence"].as_f64().unwrap() < 1.0);
        // From a party of a case with no numbers: the name in that village only.
        let (_, v) = dossier(
            d.clone(),
            json!({"by": "party", "case_id": b, "party_index": 0}),
        )
        .await;
        assert_eq!(
            matched(&v),
            m(&[(a, "name_place"), (b, "name_place")]),
            "{}",
            t.backend
        );
        assert_eq!(v["identified_by"], "name_place");
        // By name in a village.
        let (_, v) = dossier(
            d.clone(),
            json!({"by": "name", "name": "张建国", "place_code": VILLAGE_B}),
        )
        .await;
        assert_eq!(
            matched(&v),
            m(&[(c, "name_place"), (e, "name_place")]),
            "{}",
            t.backend
        );
        // An anonymised name identifies nobody; a party without a number or a full name neither.
        let (s, v) = dossier(
            d.clone(),
            json!({"by": "name", "name": "王某", "place_code": VILLAGE_A}),
        )
        .await;
        assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{v}");
        let (s, v) = dossier(
            d.clone(),
            json!({"by": "party", "case_id": a, "party_index": 1}),
        )
        .await;
        assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{v}");
        // Town A's staff see only town A's cases of the same person.
        let u = t.login("u02staff").await;
        let (_, v) = dossier(
            u.clone(),
            json!({"by": "number", "number": "11010519491231002X"}),
        )
        .await;
        assert_eq!(
            matched(&v),
            m(&[(a, "id_number"), (b, "name_place")]),
            "{}",
            t.backend
        );
        // …and a case outside their scope answers as a missing one.
        let (s, v) = dossier(
            u.clone(),
            json!({"by": "party", "case_id": c, "party_index": 0}),
        )
        .await;
        assert_eq!(
            (s, v["code"].as_str()),
            (StatusCode::NOT_FOUND, Some("case_not_found"))
        );
        let (s, _) = dossier(
            u.clone(),
            json!({"by": "name", "name": "张建国", "place_code": VILLAGE_B}),
        )
        .await;
        assert_eq!(s, StatusCode::NOT_FOUND);
        // A grid worker may not look up by number; an expert has no person pages.
        let g = t.login("grid01").await;
        assert_eq!(
            dossier(g, json!({"by": "number", "number": "13800138000"}))
                .await
                .0,
            StatusCode::FORBIDDEN
        );
        let ex = t.login("expert").await;
        assert_eq!(
            dossier(
                ex.clone(),
                json!({"by": "name", "name": "张建国", "place_code": VILLAGE_A})
            )
            .await
            .0,
            StatusCode::FORBIDDEN
        );
        // Every view is in the audit trail, numbers masked.
        t.app.flush_audit().await;
        let trail = t.app.store.audit_records(0, 10_000).await.unwrap();
        let views: Vec<_> = trail
            .iter()
            .filter(|r| r.record.action.as_str() == "person_viewed")
            .collect();
        assert_eq!(views.len(), 4, "{}: {views:#?}", t.backend);
        assert!(
            views[0].record.detail.contains("1101**********002X"),
            "{views:?}"
        );
        assert!(trail
            .iter()
            .all(|r| !r.record.detail.contains("11010519491231002X")));

        // A place's page: its cases by type and month, its latest cases.
        let (s, v) = t
            .get(&format!("/api/v1/places/{VILLAGE_A}/dossier"), &d)
            .await;
        assert_eq!(s, StatusCode::OK, "{v}");
        assert_eq!(v["total"], 3, "{v}");
        assert_eq!(v["types"][0]["key"], "neighbourhood");
        assert_eq!(v["types"][0]["value"], 3);
        assert_eq!(v["months"].as_array().unwrap().len(), 24);
        assert_eq!(v["months"][23]["registered"], 3);
        let mut recent: Vec<i64> = v["recent"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["case_id"].as_i64().unwrap())
            .collect();
        recent.sort();
        assert_eq!(recent, vec![a, b, namesake]);
        assert_eq!(
            t.get(&format!("/api/v1/places/{VILLAGE_B}/dossier"), &u)
                .await
                .0,
            StatusCode::NOT_FOUND
        );
        assert_eq!(
            t.get(&format!("/api/v1/places/{VILLAGE_A}/dossier"), &ex)
                .await
                .0,
            StatusCode::FORBIDDEN
        );
    }
);

on_both!(
    an_expert_added_to_a_case_sees_that_case_and_no_other,
    |t: T| async move {
        let d = t.login("dispatcher").await;
        let mut ids = Vec::new();
        for v in [VILLAGE_A, VILLAGE_B] {
            let (s, c) = t.post("/api/v1/cases", &d, staff_case(v)).await;
            assert_eq!(s, StatusCode::CREATED, "{c}");
            ids.push(c["id"].as_i64().unwrap());
        }
        let (a, b) = (ids[0], ids[1]);
        let e = t.login("expert").await;
        let expert = t.user_id("expert").await;
        // An expert of the county sees none of its cases until added to one.
        assert_eq!(
            t.get(&format!("/api/v1/cases/{a}"), &e).await.0,
            StatusCode::NOT_FOUND
        );
        // Only an expert can be added; a grid worker may not add one.
        let (s, v) = t
            .act(a, &d, json!({"action": "add_expert", "user_id": t.user_id("grid01").await, "question": "邻里通道能否堆物？"}))
            .await;
        assert_eq!(
            (s, v["code"].as_str()),
            (StatusCode::UNPROCESSABLE_ENTITY, Some("validation_failed")),
            "{v}"
        );
        let (s, _) = t
            .act(
                a,
                &t.login("grid01").await,
                json!({"action": "add_expert", "user_id": expert, "question": "?"}),
            )
            .await;
        assert_eq!(s, StatusCode::FORBIDDEN);
        let (s, v) = t
            .act(a, &d, json!({"action": "add_expert", "user_id": expert, "question": "公共通道堆放杂物，物业能否强制清理？"}))
            .await;
        assert_eq!(s, StatusCode::OK, "{v}");
        let (s, v) = t
            .act(
                a,
                &d,
                json!({"action": "add_expert", "user_id": expert, "question": "再问一次"}),
            )
            .await;
        assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "added once: {v}");
        // The expert reads that case, its log and its risk; lists only it; not the other case.
        assert_eq!(
            t.get(&format!("/api/v1/cases/{a}"), &e).await.0,
            StatusCode::OK
        );
        assert_eq!(
            t.get(&format!("/api/v1/cases/{a}/events"), &e).await.0,
            StatusCode::OK
        );
        let (_, list) = t.get("/api/v1/cases?limit=500&with_total=true", &e).await;
        let listed: Vec<i64> = list["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["id"].as_i64().unwrap())
            .collect();
        assert_eq!(
            (listed, list["total"].as_u64()),
            (vec![a], Some(1)),
            "{}",
            t.backend
        );
        assert_eq!(
            t.get(&format!("/api/v1/cases/{b}"), &e).await.0,
            StatusCode::NOT_FOUND
        );
        // The expert cannot act on the case or bring in others.
        let (s, _) = t
            .act(
                a,
                &e,
                json!({"action": "add_expert", "user_id": expert, "question": "x"}),
            )
            .await;
        assert_eq!(s, StatusCode::FORBIDDEN);
        // The invitation reached the expert's inbox, with the question.
        let notes = t.notices("expert", "expert_added").await;
        assert_eq!(notes.len(), 1, "{notes:?}");
        assert!(notes[0]["body"].as_str().unwrap().contains("强制清理"));
        // Taken off the case, the expert no longer sees it.
        let (s, v) = t
            .act(a, &d, json!({"action": "remove_expert", "user_id": expert}))
            .await;
        assert_eq!(s, StatusCode::OK, "{v}");
        assert_eq!(
            t.get(&format!("/api/v1/cases/{a}"), &e).await.0,
            StatusCode::NOT_FOUND
        );
        let (_, list) = t.get("/api/v1/cases?limit=500", &e).await;
        assert_eq!(list["items"].as_array().unwrap().len(), 0, "{}", t.backend);
        // The log holds both steps; a replay gives the stored state.
        let (_, log) = t.get(&format!("/api/v1/cases/{a}/events"), &d).await;
        let names: Vec<&str> = log
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|e| e["kind"]["action"].as_str())
            .collect();
        assert!(
            names.contains(&"expert_added") && names.contains(&"expert_removed"),
            "{names:?}"
        );
    }
);
