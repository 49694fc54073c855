//! The web pages through their router, on both backends: sessions and CSRF, masking on the
//! case page and in the XLSX export, the citizen form's idempotency, staff uploads, merging
//! duplicates, and the admin pages (users, calendar, rules, jurisdictions, units).
// Tests fail loudly: unwrapping is how they assert.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
use axum::body::Body;
use axum::http::{header, Request, StatusCode};
use axum::Router;
use fengqiao_app::clock::ManualClock;
use fengqiao_app::{App, Settings};
use fengqiao_domain::case::{DisputeType, Status};
use fengqiao_domain::time::local_instant;
use fengqiao_store::Store;
use http_body_util::BodyExt;
use std::io::Read;
use std::sync::Arc;
use tower::ServiceExt;

const PASSWORD: &str = fengqiao_demo::DEMO_PASSWORD;
/// A village of 城关镇 (town A) of the demo county.
const VILLAGE_A: &str = "990102001001";
const PHONE: &str = "13912345678";

struct T {
    router: Router,
    app: Arc<App>,
    clock: Arc<ManualClock>,
    backend: &'static str,
    reference: fengqiao_demo::Reference,
    _dir: Option<tempfile::TempDir>,
    /// Sessions of accounts with a second factor (a TOTP code works once, and the test clock
    /// stands still).
    cookies: std::sync::Mutex<std::collections::HashMap<String, String>>,
}

struct Page {
    status: StatusCode,
    location: String,
    cookie: String,
    content_type: String,
    body: Vec<u8>,
}

impl Page {
    fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
    /// The first CSRF token of the page's forms.
    fn csrf(&self) -> String {
        let html = self.text();
        let at = html
            .find("name=\"csrf\" value=\"")
            .expect("a form with a CSRF token");
        let rest = &html[at + 19..];
        rest[..rest.find('"').unwrap()].to_string()
    }
}

async fn spawn(backend: &'static str) -> T {
    spawn_with(backend, false).await
}

/// `behind_tls`: as when a TLS-terminating proxy is in front (Secure cookies, HSTS).
async fn spawn_with(backend: &'static str, behind_tls: bool) -> T {
    let (store, dir): (Arc<dyn Store>, _) = match backend {
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
    };
    // Monday 2025-03-03, 09:00 China time.
    let clock = Arc::new(ManualClock::new(local_instant(
        chrono::NaiveDate::from_ymd_opt(2025, 3, 3).unwrap(),
        9,
        0,
    )));
    let app = Arc::new(
        App::start(
            store,
            clock.clone(),
            // Sessions outlive the days the tests' clock jumps (the limits themselves are
            // tested with their defaults in the http crate).
            Settings {
                max_attachment_bytes: 4096,
                session_idle_ms: 366 * 86_400_000,
                session_absolute_ms: 366 * 86_400_000,
                behind_tls,
                ..Settings::default()
            },
        )
        .await
        .unwrap(),
    );
    app.attach_search(Arc::new(fengqiao_search::SearchIndex::in_memory().unwrap()));
    let hash = fengqiao_app::auth::hash_password(PASSWORD).unwrap();
    let (reference, _) = fengqiao_demo::seed_reference(app.store.as_ref(), 7, &hash, app.now())
        .await
        .unwrap();
    T {
        router: fengqiao_web::harden(fengqiao_web::router(app.clone()), app.clone()),
        app,
        clock,
        backend,
        reference,
        _dir: dir,
        cookies: Default::default(),
    }
}

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

fn form(pairs: &[(&str, &str)]) -> String {
    form_urlencoded::Serializer::new(String::new())
        .extend_pairs(pairs)
        .finish()
}

/// A multipart body: text fields, then files as (field, filename, bytes).
fn multipart(fields: &[(&str, &str)], files: &[(&str, &str, &[u8])]) -> (String, Vec<u8>) {
    let boundary = "fqboundary7MA4YWxkTrZu0gW";
    let mut b = Vec::new();
    for (k, v) in fields {
        b.extend_from_slice(
            format!("--{boundary}\r\nContent-Disposition: form-data; name=\"{k}\"\r\n\r\n{v}\r\n")
                .as_bytes(),
        );
    }
    for (k, name, bytes) in files {
        b.extend_from_slice(
            format!(
                "--{boundary}\r\nContent-Disposition: form-data; name=\"{k}\"; filename=\"{name}\"\r\nContent-Type: application/octet-stream\r\n\r\n"
            )
            .as_bytes(),
        );
        b.extend_from_slice(bytes);
        b.extend_from_slice(b"\r\n");
    }
    b.extend_from_slice(format!("--{boundary}--\r\n").as_bytes());
    (format!("multipart/form-data; boundary={boundary}"), b)
}

/// The smallest valid PNG header the server recognises.
const PNG: &[u8] = &[0x89, b'P', b'N', b'G', 0x0D, 0x0A, 0x1A, 0x0A, 0, 0, 0, 13];

impl T {
    async fn send(
        &self,
        method: &str,
        path: &str,
        cookie: &str,
        body: Option<(String, Vec<u8>)>,
    ) -> Page {
        let mut b = Request::builder().method(method).uri(path);
        if !cookie.is_empty() {
            b = b.header(header::COOKIE, cookie);
        }
        let req = match body {
            Some((ct, bytes)) => b.header(header::CONTENT_TYPE, ct).body(Body::from(bytes)),
            None => b.body(Body::empty()),
        }
        .unwrap();
        let res = self.router.clone().oneshot(req).await.unwrap();
        let h = |n: header::HeaderName| {
            res.headers()
                .get(n)
                .and_then(|v| v.to_str().ok())
                .unwrap_or("")
                .to_string()
        };
        let (status, location, set_cookie, content_type) = (
            res.status(),
            h(header::LOCATION),
            h(header::SET_COOKIE),
            h(header::CONTENT_TYPE),
        );
        let body = res.into_body().collect().await.unwrap().to_bytes().to_vec();
        Page {
            status,
            location,
            cookie: set_cookie.split(';').next().unwrap_or("").to_string(),
            content_type,
            body,
        }
    }
    async fn get(&self, path: &str, cookie: &str) -> Page {
        self.send("GET", path, cookie, None).await
    }
    async fn post(&self, path: &str, cookie: &str, pairs: &[(&str, &str)]) -> Page {
        let body = (
            "application/x-www-form-urlencoded".to_string(),
            form(pairs).into_bytes(),
        );
        self.send("POST", path, cookie, Some(body)).await
    }
    /// Signs in through the login form, finishing the second-factor step (enrolling on first
    /// use) the default policy asks of admins, supervisors and leaders; returns the cookie.
    async fn login(&self, user: &str) -> String {
        let cached = self.cookies.lock().unwrap().get(user).cloned();
        if let Some(c) = cached {
            if self.get("/workbench", &c).await.status == StatusCode::OK {
                return c;
            }
        }
        let (cookie, location) = self.password_login(user, PASSWORD).await;
        if location == "/workbench" {
            return cookie;
        }
        let step = self.get(&location, &cookie).await;
        let html = step.text();
        let (path, secret) = if location.starts_with("/login/enrol") {
            let at = html.find("id=\"totp-secret\">").expect("the secret") + 17;
            (
                "/login/enrol",
                html[at..at + html[at..].find('<').unwrap()].to_string(),
            )
        } else {
            assert!(location.starts_with("/login/code"), "{location}");
            let u = self
                .app
                .store
                .get_user_by_username(user)
                .await
                .unwrap()
                .unwrap();
            ("/login/code", u.totp_secret.unwrap())
        };
        let code = {
            use fengqiao_app::totp;
            totp::code(
                &totp::base32_decode(&secret).unwrap(),
                totp::step_of(self.app.now()),
            )
        };
        let done = self
            .post(
                path,
                &cookie,
                &[
                    ("csrf", &step.csrf()),
                    ("code", &code),
                    ("next", "/workbench"),
                ],
            )
            .await;
        assert_eq!(
            (done.status, done.location.as_str()),
            (StatusCode::SEE_OTHER, "/workbench"),
            "{}",
            done.text()
        );
        self.cookies
            .lock()
            .unwrap()
            .insert(user.to_string(), cookie.clone());
        cookie
    }
    /// Posts the login form; the session cookie and where it sends the browser.
    async fn password_login(&self, user: &str, password: &str) -> (String, String) {
        let p = self
            .post(
                "/login",
                "",
                &[
                    ("username", user),
                    ("password", password),
                    ("next", "/workbench"),
                ],
            )
            .await;
        assert_eq!(
            p.status,
            StatusCode::SEE_OTHER,
            "{}: login {user}",
            self.backend
        );
        assert!(p.cookie.starts_with("fq_session="), "{}", p.cookie);
        (p.cookie, p.location)
    }
    async fn csrf(&self, cookie: &str) -> String {
        self.get("/cases", cookie).await.csrf()
    }
    /// A citizen's submission through the QR form; returns the tracking code.
    async fn citizen_submit(&self, text: &str, key: &str) -> String {
        let body = multipart(
            &[
                ("text", text),
                ("name", "赵某"),
                ("phone", PHONE),
                ("consent", "on"),
                ("form_key", key),
            ],
            &[],
        );
        let p = self
            .send("POST", &format!("/c/{VILLAGE_A}"), "", Some(body))
            .await;
        assert_eq!(
            p.status,
            StatusCode::SEE_OTHER,
            "{}: {}",
            self.backend,
            p.text()
        );
        p.location
            .split("code=")
            .nth(1)
            .expect("tracking code in the redirect")
            .to_string()
    }
    async fn case_id(&self, code: &str) -> i64 {
        self.app
            .store
            .find_case_by_tracking_code(code)
            .await
            .unwrap()
            .unwrap()
            .id
    }
    async fn status(&self, id: i64) -> Status {
        self.app
            .store
            .get_case(id)
            .await
            .unwrap()
            .unwrap()
            .state
            .status
    }
}

on_both!(
    pages_need_a_session_and_forms_a_csrf_token,
    |t: T| async move {
        let p = t.get("/workbench", "").await;
        assert_eq!(p.status, StatusCode::SEE_OTHER);
        assert!(p.location.starts_with("/login?next="), "{}", p.location);
        let bad = t
            .post(
                "/login",
                "",
                &[("username", "dispatcher"), ("password", "wrong")],
            )
            .await;
        assert_eq!(bad.status, StatusCode::UNAUTHORIZED, "{}", t.backend);
        let d = t.login("dispatcher").await;
        let wb = t.get("/workbench", &d).await;
        assert_eq!(wb.status, StatusCode::OK);
        assert!(
            wb.text().contains("data-queue=\"to_route\""),
            "{}",
            t.backend
        );
        let code = t
            .citizen_submit("邻居装修噪音扰民，晚上十点后还在施工。", "k-csrf")
            .await;
        let id = t.case_id(&code).await;
        // A form without the session's token changes nothing.
        let p = t
            .post(
                &format!("/cases/{id}/act"),
                &d,
                &[("action", "reject"), ("reason", "x"), ("csrf", "forged")],
            )
            .await;
        assert_eq!(p.status, StatusCode::FORBIDDEN, "{}", t.backend);
        assert_eq!(t.status(id).await, Status::Registered);
        // An expired session mid-form: the login page carries the typed fields.
        let p = t
            .post(
                &format!("/cases/{id}/act"),
                "fq_session=expired",
                &[("action", "reject"), ("reason", "已写好的理由")],
            )
            .await;
        assert_eq!(p.status, StatusCode::UNAUTHORIZED);
        assert!(
            p.text().contains("已写好的理由") || p.text().contains("%E5%B7%B2"),
            "{}",
            t.backend
        );
    }
);

on_both!(
    personal_numbers_are_masked_on_the_case_page_and_in_the_export,
    |t: T| async move {
        let text = format!("我叫赵某，电话{PHONE}，隔壁装修把我家墙面震裂了，要求赔偿三千元。");
        let code = t.citizen_submit(&text, "k-mask").await;
        let id = t.case_id(&code).await;
        let d = t.login("dispatcher").await;
        let page = t.get(&format!("/cases/{id}"), &d).await.text();
        assert!(
            !page.contains(PHONE),
            "{}: the case page shows the phone number",
            t.backend
        );
        assert!(page.contains("139****5678"), "{}", t.backend);

        let x = t.get("/cases/export.xlsx?status=registered", &d).await;
        assert_eq!(x.status, StatusCode::OK, "{}", t.backend);
        assert!(
            x.content_type.contains("spreadsheetml"),
            "{}",
            x.content_type
        );
        let mut zip = zip::ZipArchive::new(std::io::Cursor::new(x.body)).unwrap();
        let mut strings = String::new();
        zip.by_name("xl/sharedStrings.xml")
            .unwrap()
            .read_to_string(&mut strings)
            .unwrap();
        assert!(
            strings.contains(&code),
            "{}: the case is in the export",
            t.backend
        );
        assert!(
            !strings.contains(PHONE),
            "{}: the export shows the phone number",
            t.backend
        );
        assert!(strings.contains("139****5678"), "{}", t.backend);
        // The filters apply: no archived case is registered.
        let x = t.get("/cases/export.xlsx?status=archived", &d).await;
        let mut zip = zip::ZipArchive::new(std::io::Cursor::new(x.body)).unwrap();
        let mut strings = String::new();
        if let Ok(mut f) = zip.by_name("xl/sharedStrings.xml") {
            f.read_to_string(&mut strings).unwrap();
        }
        assert!(!strings.contains(&code), "{}", t.backend);
    }
);

on_both!(
    a_double_submitted_citizen_form_makes_one_case,
    |t: T| async move {
        let a = t
            .citizen_submit("村里道路被占用，车辆无法通行。", "same-key")
            .await;
        let b = t
            .citizen_submit("村里道路被占用，车辆无法通行。", "same-key")
            .await;
        assert_eq!(a, b, "{}", t.backend);
        let p = t
            .post("/track", "", &[("code", a.as_str()), ("phone", PHONE)])
            .await;
        assert_eq!(p.status, StatusCode::OK);
        assert!(p.text().contains(&a), "{}", t.backend);
        let wrong = t
            .post(
                "/track",
                "",
                &[("code", a.as_str()), ("phone", "13800000000")],
            )
            .await;
        assert!(!wrong.text().contains("村里道路被占用"), "{}", t.backend);
    }
);

on_both!(
    staff_attach_files_and_wrong_types_are_refused,
    |t: T| async move {
        let code = t
            .citizen_submit("邻里纠纷，对方堆放杂物堵住通道。", "k-file")
            .await;
        let id = t.case_id(&code).await;
        let d = t.login("dispatcher").await;
        let csrf = t.csrf(&d).await;
        let upload = |name: &'static str, bytes: &'static [u8]| {
            multipart(&[("csrf", csrf.as_str())], &[("file", name, bytes)])
        };
        let p = t
            .send(
                "POST",
                &format!("/cases/{id}/files"),
                &d,
                Some(upload("a.exe", b"MZ\x90\x00not a photo")),
            )
            .await;
        assert_eq!(p.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", t.backend);
        assert!(p.text().contains("role=\"alert\""), "{}", t.backend);
        let big: &'static [u8] = Box::leak(vec![0xFFu8; 5000].into_boxed_slice());
        let p = t
            .send(
                "POST",
                &format!("/cases/{id}/files"),
                &d,
                Some(upload("big.jpg", big)),
            )
            .await;
        assert_eq!(p.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", t.backend);
        let p = t
            .send(
                "POST",
                &format!("/cases/{id}/files"),
                &d,
                Some(upload("现场.png", PNG)),
            )
            .await;
        assert_eq!(
            p.status,
            StatusCode::SEE_OTHER,
            "{}: {}",
            t.backend,
            p.text()
        );
        let state = t.app.store.get_case(id).await.unwrap().unwrap().state;
        assert_eq!(state.attachments.len(), 1, "{}", t.backend);
        assert_eq!(state.attachments[0].content_type, "image/png");
        // The timeline names who did it.
        let page = t.get(&format!("/cases/{id}"), &d).await.text();
        assert!(
            page.contains("中心调度员）") || page.contains("（中心调度员"),
            "{}",
            t.backend
        );
    }
);

on_both!(
    a_duplicate_is_merged_into_the_earlier_case,
    |t: T| async move {
        let first = t
            .case_id(
                &t.citizen_submit("张某家的狗咬伤了邻居小孩，要求赔偿医药费。", "k-m1")
                    .await,
            )
            .await;
        let second = t
            .case_id(
                &t.citizen_submit("邻居张某的狗把我孩子咬了，医药费没人管。", "k-m2")
                    .await,
            )
            .await;
        let d = t.login("dispatcher").await;
        let csrf = t.csrf(&d).await;
        let second_s = second.to_string();
        let first_s = first.to_string();
        let p = t
            .post(
                &format!("/cases/{second}/act"),
                &d,
                &[("csrf", &csrf), ("action", "merge"), ("case_id", &first_s)],
            )
            .await;
        assert_eq!(
            p.status,
            StatusCode::SEE_OTHER,
            "{}: {}",
            t.backend,
            p.text()
        );
        let merged = t.app.store.get_case(second).await.unwrap().unwrap().state;
        assert_eq!(merged.status, Status::Merged, "{}", t.backend);
        assert_eq!(merged.merged_into, Some(first));
        let kept = t.app.store.get_case(first).await.unwrap().unwrap().state;
        assert!(kept.status.is_open());
        assert!(kept.linked_case_ids.contains(&second), "{}", t.backend);
        // A merged case cannot take anything merged into it, nor be merged again.
        let third = t
            .case_id(&t.citizen_submit("又一起狗咬人的纠纷。", "k-m3").await)
            .await;
        let p = t
            .post(
                &format!("/cases/{third}/act"),
                &d,
                &[("csrf", &csrf), ("action", "merge"), ("case_id", &second_s)],
            )
            .await;
        assert_eq!(p.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", t.backend);
        assert_eq!(t.status(third).await, Status::Registered);
        let page = t.get(&format!("/cases/{second}"), &d).await.text();
        assert!(
            page.contains(&format!("href=\"/cases/{first}\"")),
            "{}",
            t.backend
        );
        assert!(!page.contains("data-action=\"merge\""), "{}", t.backend);
        // The merge is undone from the merged case's page, with a reason.
        assert!(page.contains("id=\"unmerge-form\""), "{}", t.backend);
        let p = t
            .post(
                &format!("/cases/{second}/act"),
                &d,
                &[
                    ("csrf", &csrf),
                    ("action", "unmerge"),
                    ("reason", "并非同一纠纷"),
                ],
            )
            .await;
        assert_eq!(
            p.status,
            StatusCode::SEE_OTHER,
            "{}: {}",
            t.backend,
            p.text()
        );
        let back = t.app.store.get_case(second).await.unwrap().unwrap().state;
        assert_eq!(back.status, Status::Registered, "{}", t.backend);
        let kept = t.app.store.get_case(first).await.unwrap().unwrap().state;
        assert!(!kept.linked_case_ids.contains(&second), "{}", t.backend);
        let page = t.get(&format!("/cases/{second}"), &d).await.text();
        assert!(!page.contains("id=\"unmerge-form\""), "{}", t.backend);
        assert!(page.contains("id=\"sources\""), "{}", t.backend);
    }
);

on_both!(
    admin_pages_manage_users_calendar_rules_and_places,
    |t: T| async move {
        // Not for other roles.
        let d = t.login("dispatcher").await;
        assert_eq!(
            t.get("/admin/users", &d).await.status,
            StatusCode::FORBIDDEN,
            "{}",
            t.backend
        );
        let a = t.login("admin").await;
        for tab in ["users", "units", "jurisdictions", "calendar", "rules"] {
            let p = t.get(&format!("/admin/{tab}"), &a).await;
            assert_eq!(p.status, StatusCode::OK, "{}: /admin/{tab}", t.backend);
        }
        let csrf = t.csrf(&a).await;
        let county = t
            .app
            .store
            .get_user_by_username("admin")
            .await
            .unwrap()
            .unwrap()
            .scope_code;
        // A user: a weak password is refused with a message; a good one is created.
        let weak = t
            .post(
                "/admin/users",
                &a,
                &[
                    ("csrf", &csrf),
                    ("action", "create"),
                    ("username", "li.m"),
                    ("display_name", "李明"),
                    ("password", "short"),
                    ("role", "mediator"),
                    ("scope_code", &county),
                ],
            )
            .await;
        assert_eq!(
            weak.status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{}",
            t.backend
        );
        assert!(weak.text().contains("role=\"alert\""));
        let p = t
            .post(
                "/admin/users",
                &a,
                &[
                    ("csrf", &csrf),
                    ("action", "create"),
                    ("username", "li.m"),
                    ("display_name", "李明"),
                    ("password", "Tiaojie#2026"),
                    ("role", "mediator"),
                    ("scope_code", &county),
                ],
            )
            .await;
        assert_eq!(
            p.status,
            StatusCode::SEE_OTHER,
            "{}: {}",
            t.backend,
            p.text()
        );
        // An account an administrator made must change its password at the first sign-in;
        // until then no other page opens.
        let (li, to) = t.password_login("li.m", "Tiaojie#2026").await;
        assert!(to.starts_with("/login/password"), "{to}");
        let closed = t.get("/workbench", &li).await;
        assert!(closed.location.starts_with("/login"), "{}", closed.location);
        let step = t.get(&to, &li).await;
        let change = |new: &'static str| {
            let csrf = step.csrf();
            let li = li.clone();
            let t = &t;
            async move {
                t.post(
                    "/login/password",
                    &li,
                    &[
                        ("csrf", &csrf),
                        ("current", "Tiaojie#2026"),
                        ("new", new),
                        ("again", new),
                        ("next", "/workbench"),
                    ],
                )
                .await
            }
        };
        let weak = change("tiaojie2026").await;
        assert_eq!(weak.status, StatusCode::BAD_REQUEST, "{}", t.backend);
        assert!(weak.text().contains("role=\"alert\""));
        let same = change("Tiaojie#2026").await;
        assert_eq!(same.status, StatusCode::BAD_REQUEST, "{}", t.backend);
        let done = change("Tiaojie#2027").await;
        assert_eq!(
            (done.status, done.location.as_str()),
            (StatusCode::SEE_OTHER, "/workbench"),
            "{}",
            done.text()
        );
        assert_eq!(t.get("/workbench", &li).await.status, StatusCode::OK);
        let user = t
            .app
            .store
            .get_user_by_username("li.m")
            .await
            .unwrap()
            .unwrap();
        let id = user.id.to_string();
        // Promoted, then disabled: the session ends and the login is refused.
        let p = t
            .post(
                "/admin/users",
                &a,
                &[
                    ("csrf", &csrf),
                    ("action", "update"),
                    ("id", &id),
                    ("display_name", "李明"),
                    ("role", "supervisor"),
                    ("scope_code", &county),
                    ("unit_id", ""),
                ],
            )
            .await;
        assert_eq!(
            p.status,
            StatusCode::SEE_OTHER,
            "{}: {}",
            t.backend,
            p.text()
        );
        assert_eq!(
            t.app.store.get_user(user.id).await.unwrap().unwrap().role,
            fengqiao_domain::access::Role::Supervisor
        );
        let p = t
            .post(
                "/admin/users",
                &a,
                &[
                    ("csrf", &csrf),
                    ("action", "update"),
                    ("id", &id),
                    ("display_name", "李明"),
                    ("role", "supervisor"),
                    ("scope_code", &county),
                    ("disabled", "on"),
                ],
            )
            .await;
        assert_eq!(p.status, StatusCode::SEE_OTHER);
        assert_eq!(
            t.get("/workbench", &li).await.status,
            StatusCode::SEE_OTHER,
            "{}: disabled user still signed in",
            t.backend
        );
        let again = t
            .post(
                "/login",
                "",
                &[("username", "li.m"), ("password", "Tiaojie#2026")],
            )
            .await;
        assert_eq!(again.status, StatusCode::UNAUTHORIZED, "{}", t.backend);
        // The admin cannot lock themself out.
        let me = t
            .app
            .store
            .get_user_by_username("admin")
            .await
            .unwrap()
            .unwrap()
            .id
            .to_string();
        let p = t
            .post(
                "/admin/users",
                &a,
                &[
                    ("csrf", &csrf),
                    ("action", "update"),
                    ("id", &me),
                    ("display_name", "管理员"),
                    ("role", "admin"),
                    ("scope_code", &county),
                    ("disabled", "on"),
                ],
            )
            .await;
        assert_eq!(p.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", t.backend);

        // The calendar: a Wednesday made a holiday moves working days.
        let p = t
            .post(
                "/admin/calendar",
                &a,
                &[
                    ("csrf", &csrf),
                    ("date", "2025-03-05"),
                    ("kind", "holiday"),
                    ("note", "测试假日"),
                ],
            )
            .await;
        assert_eq!(
            p.status,
            StatusCode::SEE_OTHER,
            "{}: {}",
            t.backend,
            p.text()
        );
        let cal = t.get("/admin/calendar?year=2025", &a).await.text();
        assert!(
            cal.contains("2025-03-05") && cal.contains("测试假日"),
            "{}",
            t.backend
        );
        assert!(!t
            .app
            .calendar()
            .is_working_day(chrono::NaiveDate::from_ymd_opt(2025, 3, 5).unwrap()));
        let bad = t
            .post(
                "/admin/calendar",
                &a,
                &[("csrf", &csrf), ("date", "2025-13-40"), ("kind", "holiday")],
            )
            .await;
        assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY);

        // Rules: zero days is refused and the typed values stay; good values apply, with an override.
        let mut rule = vec![
            ("csrf", csrf.as_str()),
            ("simple_days", "0"),
            ("complex_days", "20"),
            ("feedback_days", "2"),
            ("yellow_simple", "1"),
            ("yellow_complex", "3"),
            ("supervision_reply_days", "2"),
            ("revisit_after_days", "7"),
            ("max_extension_days", "20"),
            ("ov_type", "labour"),
            ("ov_complexity", "simple"),
            ("ov_stage", "handle"),
            ("ov_days", "5"),
        ];
        let p = t.post("/admin/rules", &a, &rule).await;
        assert_eq!(p.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", t.backend);
        assert_eq!(t.app.rules().simple_days, 3);
        rule[1] = ("simple_days", "4");
        let p = t.post("/admin/rules", &a, &rule).await;
        assert_eq!(
            p.status,
            StatusCode::SEE_OTHER,
            "{}: {}",
            t.backend,
            p.text()
        );
        let rules = t.app.rules();
        assert_eq!(rules.simple_days, 4);
        assert_eq!(rules.overrides.len(), 1, "{}", t.backend);
        assert_eq!(rules.overrides[0].working_days, 5);

        // A new village under a town, then renamed; the names show at once.
        let town = &VILLAGE_A[..9];
        let p = t
            .post(
                "/admin/jurisdictions",
                &a,
                &[
                    ("csrf", &csrf),
                    ("action", "create"),
                    ("parent", town),
                    ("code", "990102001099"),
                    ("name", "新建社区"),
                ],
            )
            .await;
        assert_eq!(
            p.status,
            StatusCode::SEE_OTHER,
            "{}: {}",
            t.backend,
            p.text()
        );
        let p = t
            .post(
                "/admin/jurisdictions",
                &a,
                &[
                    ("csrf", &csrf),
                    ("action", "rename"),
                    ("parent", "990102001099"),
                    ("name", "新建幸福社区"),
                ],
            )
            .await;
        assert_eq!(p.status, StatusCode::SEE_OTHER);
        let page = t
            .get(&format!("/admin/jurisdictions?code={town}"), &a)
            .await
            .text();
        assert!(page.contains("新建幸福社区"), "{}", t.backend);
        let dup = t
            .post(
                "/admin/jurisdictions",
                &a,
                &[
                    ("csrf", &csrf),
                    ("action", "create"),
                    ("parent", town),
                    ("code", "990102001099"),
                    ("name", "重复"),
                ],
            )
            .await;
        assert_eq!(
            dup.status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{}",
            t.backend
        );
        // A unit at the new village.
        let p = t
            .post(
                "/admin/units",
                &a,
                &[
                    ("csrf", &csrf),
                    ("action", "create"),
                    ("name", "新建幸福社区人民调解委员会"),
                    ("kind", "village_mediation_committee"),
                    ("node_code", "990102001099"),
                ],
            )
            .await;
        assert_eq!(
            p.status,
            StatusCode::SEE_OTHER,
            "{}: {}",
            t.backend,
            p.text()
        );
        assert!(t
            .get("/admin/units", &a)
            .await
            .text()
            .contains("新建幸福社区人民调解委员会"));
    }
);

/// The text of a PDF by poppler's pdftotext (scripts/test installs poppler-utils); pages are
/// separated by form feeds.
fn pdf_text(pdf: &[u8]) -> String {
    assert!(pdf.starts_with(b"%PDF-"), "not a PDF");
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("p.pdf");
    std::fs::write(&path, pdf).unwrap();
    let out = std::process::Command::new("pdftotext")
        .args([path.to_str().unwrap(), "-"])
        .output()
        .expect("pdftotext (poppler-utils) must be installed: scripts/test installs it");
    assert!(out.status.success());
    String::from_utf8(out.stdout).unwrap()
}

on_both!(
    qr_posters_as_svg_and_pdf_one_village_or_a_whole_town,
    |t: T| async move {
        let village = t.app.get_jurisdiction(VILLAGE_A).await.unwrap();
        let form_url = format!("http://localhost/c/{VILLAGE_A}");
        let svg = t.get(&format!("/qr/{VILLAGE_A}.svg"), "").await;
        assert_eq!(svg.status, StatusCode::OK, "{}", t.backend);
        assert!(svg.content_type.starts_with("image/svg+xml"));
        assert!(svg.text().contains(&village.name) && svg.text().contains(&form_url));

        // One village's PDF is public, like its SVG: one page, its name and its address.
        let pdf = t.get(&format!("/qr/{VILLAGE_A}.pdf"), "").await;
        assert_eq!(pdf.status, StatusCode::OK, "{}: {}", t.backend, pdf.text());
        assert_eq!(pdf.content_type, "application/pdf");
        let text = pdf_text(&pdf.body);
        assert!(text.contains(&village.name), "{text}");
        assert!(text.contains(&form_url), "{text}");
        assert!(text.contains("有矛盾 找综治"), "{text}");
        assert_eq!(text.matches('\u{c}').count(), 1, "one page: {text:?}");

        // A town's PDF: one page per village, for staff only.
        let town = village.parent_code.clone().unwrap();
        let anon = t.get(&format!("/qr/{town}.pdf"), "").await;
        assert_eq!(anon.status, StatusCode::SEE_OTHER, "{}", t.backend);
        assert!(anon.location.starts_with("/login"), "{}", anon.location);
        let d = t.login("dispatcher").await;
        let all = t.get(&format!("/qr/{town}.pdf"), &d).await;
        assert_eq!(all.status, StatusCode::OK, "{}: {}", t.backend, all.text());
        let text = pdf_text(&all.body);
        let villages: Vec<_> = t
            .app
            .list_jurisdictions(Some(&town))
            .await
            .unwrap()
            .into_iter()
            .filter(|j| j.level == fengqiao_domain::jurisdiction::Level::Village)
            .collect();
        assert!(villages.len() > 1);
        assert_eq!(text.matches('\u{c}').count(), villages.len(), "{text:?}");
        for v in &villages {
            assert!(
                text.contains(&format!("/c/{}", v.code)),
                "{}: {text}",
                v.code
            );
        }

        assert_eq!(
            t.get("/qr/000000000000.pdf", "").await.status,
            StatusCode::NOT_FOUND
        );
        // The admin's page of a village links its posters.
        let a = t.login("admin").await;
        let page = t
            .get(&format!("/admin/jurisdictions?code={VILLAGE_A}"), &a)
            .await;
        assert!(page.text().contains(&format!("/qr/{VILLAGE_A}.pdf")));
    }
);

/// The text of a PDF with its layout kept (a table row stays on one line).
fn pdf_layout_text(pdf: &[u8]) -> String {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("r.pdf");
    std::fs::write(&path, pdf).unwrap();
    let out = std::process::Command::new("pdftotext")
        .args(["-layout", path.to_str().unwrap(), "-"])
        .output()
        .expect("pdftotext (poppler-utils) must be installed: scripts/test installs it");
    assert!(out.status.success());
    String::from_utf8(out.stdout).unwrap()
}

on_both!(
    the_monthly_report_and_the_cockpit_show_what_the_database_holds,
    |t: T| async move {
        use fengqiao_domain::time::local_date;
        let today = chrono::NaiveDate::from_ymd_opt(2025, 3, 3).unwrap();
        let opts = fengqiao_demo::Options::ending(11, 800, today);
        fengqiao_demo::generate_cases(t.app.store.as_ref(), &t.reference, &opts, |_| {})
            .await
            .unwrap();
        // The truth, counted from the stored cases (not from the statistics tables).
        let mut all = Vec::new();
        let mut after = 0;
        loop {
            let page = t.app.store.cases_after(after, 1000).await.unwrap();
            let Some(last) = page.last() else { break };
            after = last.id;
            all.extend(page);
        }
        let month = |at: i64| local_date(at).format("%Y-%m").to_string();
        let counted: Vec<_> = all
            .iter()
            .filter(|c| c.state.status != Status::Merged)
            .collect();
        let registered = counted
            .iter()
            .filter(|c| month(c.state.registered_at) == "2025-02")
            .count();
        let concluded = counted
            .iter()
            .filter(|c| c.state.concluded_at.map(month).as_deref() == Some("2025-02"))
            .count();
        let mut by_type = std::collections::BTreeMap::new();
        for c in counted
            .iter()
            .filter(|c| month(c.state.registered_at) == "2025-02")
        {
            *by_type.entry(c.state.dispute_type.zh()).or_insert(0usize) += 1;
        }
        assert!(
            registered > 10 && by_type.len() > 3,
            "{registered} {by_type:?}"
        );

        let l = t.login("leader").await;
        let pdf = t
            .get("/reports/monthly?node=990102&month=2025-02&format=pdf", &l)
            .await;
        assert_eq!(pdf.status, StatusCode::OK, "{}: {}", t.backend, pdf.text());
        let text = pdf_layout_text(&pdf.body);
        assert!(text.contains("月度矛盾纠纷分析报告"), "{text}");
        let flat: String = text.split_whitespace().collect();
        assert!(
            flat.contains(&format!("本月共受理矛盾纠纷{registered}件")),
            "{registered}: {text}"
        );
        assert!(
            flat.contains(&format!("办结{concluded}件")),
            "{concluded}: {text}"
        );
        // The table by type: each type's line carries its count right after its name.
        for (label, n) in &by_type {
            let line = text
                .lines()
                .find(|l| l.split_whitespace().next() == Some(label))
                .unwrap_or_else(|| panic!("{label} in {text}"));
            assert_eq!(
                line.split_whitespace().nth(1),
                Some(n.to_string().as_str()),
                "{label}: {line}"
            );
        }
        // The HTML and the workbook come from the same figures.
        let html = t
            .get("/reports/monthly?node=990102&month=2025-02", &l)
            .await;
        assert_eq!(html.status, StatusCode::OK);
        assert!(html
            .text()
            .contains(&format!("本月共受理矛盾纠纷{registered}件")));
        assert!(html.text().contains("<svg"), "charts inline");
        let x = t
            .get("/reports/monthly?node=990102&month=2025-02&format=xlsx", &l)
            .await;
        assert_eq!(x.status, StatusCode::OK);
        let mut zip = zip::ZipArchive::new(std::io::Cursor::new(x.body)).unwrap();
        assert!(zip.len() > 5, "a sheet per table");
        let mut sheet = String::new();
        zip.by_name("xl/worksheets/sheet1.xml")
            .unwrap()
            .read_to_string(&mut sheet)
            .unwrap();
        assert!(sheet.contains(&format!("<v>{registered}</v>")), "{sheet}");

        // The cockpit: this month's intake as counted.
        let march = counted
            .iter()
            .filter(|c| month(c.state.registered_at) == "2025-03")
            .count();
        let page = t.get("/cockpit?node=990102", &l).await;
        assert_eq!(page.status, StatusCode::OK, "{}", page.text());
        let body = page.text();
        assert!(body.contains("cockpit-data") && body.contains("/static/echarts.min.js"));
        assert!(
            body.contains(&format!("&from=2025-03-01&to=2025-03-31\"><b>{march}</b>"))
                || body.contains(&format!("<b>{march}</b><span>本月受理")),
            "{march}: {body}"
        );
        let geo = t.get("/cockpit/geo?node=990102", &l).await;
        let geo: serde_json::Value = serde_json::from_slice(&geo.body).unwrap();
        assert_eq!(
            geo["features"].as_array().unwrap().len(),
            12,
            "a boundary per town"
        );
        // A town drills down; a health check of a unit and of a town.
        assert_eq!(
            t.get("/cockpit?node=990102001", &l).await.status,
            StatusCode::OK
        );
        let unit = t.app.list_units(None).await.unwrap()[0].id;
        let h = t
            .get(&format!("/reports/health?unit={unit}&month=2025-02"), &l)
            .await;
        assert_eq!(h.status, StatusCode::OK, "{}", h.text());
        assert!(h.text().contains("枫桥指数"));
        let h = t
            .get(
                "/reports/health?node=990102001&month=2025-02&format=pdf",
                &l,
            )
            .await;
        assert_eq!(h.status, StatusCode::OK);
        assert!(pdf_text(&h.body).contains("体检报告"));
        // Not for grid workers.
        let g = t.login("grid01").await;
        assert_eq!(t.get("/cockpit", &g).await.status, StatusCode::FORBIDDEN);

        // Last month's report reaches the leaders' inboxes once.
        let sent = t.app.deliver_monthly_reports().await.unwrap();
        assert!(sent >= 1);
        assert_eq!(
            t.app.deliver_monthly_reports().await.unwrap(),
            0,
            "once a month"
        );
        let wb = t.get("/workbench", &l).await.text();
        assert!(
            wb.contains("/reports/monthly?node=990102&#38;month=2025-02"),
            "{wb}"
        );
        assert!(wb.contains("href=\"/cockpit\""));

        // The admin sets the index weights on the rules page; the cockpit shows the formula.
        let a = t.login("admin").await;
        let page = t.get("/admin/rules", &a).await;
        assert!(page.text().contains("30×化解率"));
        let csrf = page.csrf();
        let mut fields = vec![
            ("csrf", csrf.as_str()),
            ("resolution", "40"),
            ("mediation", "15"),
            ("satisfaction", "25"),
            ("on_time", "15"),
            ("speed", "5"),
        ];
        let bad = t.post("/admin/index-weights", &a, &fields).await;
        assert_ne!(
            bad.status,
            StatusCode::SEE_OTHER,
            "a missing weight is refused"
        );
        fields.push(("no_reopen", "10"));
        let ok = t.post("/admin/index-weights", &a, &fields).await;
        assert_eq!(ok.status, StatusCode::SEE_OTHER, "{}", ok.text());
        assert!(t.get("/cockpit", &l).await.text().contains("40×化解率"));
    }
);

on_both!(
    a_warning_is_shown_with_its_evidence_and_handled_through_its_form,
    |t: T| async move {
        let today = chrono::NaiveDate::from_ymd_opt(2025, 3, 3).unwrap();
        let opts = fengqiao_demo::Options::ending(11, 600, today);
        fengqiao_demo::generate_cases(t.app.store.as_ref(), &t.reference, &opts, |_| {})
            .await
            .unwrap();
        // A burst of property-management disputes in one village this morning.
        let actor = fengqiao_domain::access::Actor::system();
        let mut burst = Vec::new();
        for i in 0..8 {
            let input: fengqiao_app::cases::CaseInput = serde_json::from_value(serde_json::json!({
                "channel": "walk_in",
                "text": format!("小区业主反映物业公司擅自上调物业费，电梯长期停运无人维修（第{i}户）。"),
                "dispute_type": "property_management",
                "node_code": "990102001001"
            }))
            .unwrap();
            burst.push(
                t.app
                    .submit_case(Some(&actor), &input, None)
                    .await
                    .unwrap()
                    .0
                    .id,
            );
        }
        let r = t.app.run_warnings(today).await.unwrap();
        assert!(r.raised >= 1, "{}: {r:?}", t.backend);
        let live = t.app.warnings_in("/", None, None, true).await.unwrap();
        let w = live
            .iter()
            .find(|w| {
                w.dispute_type == DisputeType::PropertyManagement && w.area_code == "990102001"
            })
            .unwrap_or_else(|| panic!("a surge in the town: {live:?}"))
            .clone();
        for id in &burst {
            assert!(w.evidence.case_ids.contains(id));
        }

        // A burst case's page shows its risk grade with the village's history as a reason.
        let l = t.login("leader").await;
        let cp = t.get(&format!("/cases/{}", burst[7]), &l).await.text();
        assert!(cp.contains("id=\"risk-grade\""), "{cp}");
        assert!(cp.contains("本村近90天同类纠纷"), "{cp}");
        // The list and the page: level, evidence chart, the cases, the responsible units.
        let list = t.get("/warnings", &l).await;
        assert_eq!(list.status, StatusCode::OK);
        assert!(
            list.text().contains(&format!("/warnings/{}", w.id)),
            "{}",
            list.text()
        );
        let page = t.get(&format!("/warnings/{}", w.id), &l).await;
        let html = page.text();
        assert_eq!(page.status, StatusCode::OK, "{html}");
        assert!(html.contains("<svg class=\"series\""), "{html}");
        assert!(html.contains(&format!("/cases/{}", burst[0])));
        assert!(html.contains("物业") && html.contains("待签收"));
        // The leader may only close; a responsible unit's member acknowledges and handles.
        assert!(html.contains("value=\"close\"") && !html.contains("value=\"acknowledge\""));
        let members = t.app.store.list_users("/", None).await.unwrap();
        let member = members
            .iter()
            .find(|u| u.unit_id.is_some_and(|id| w.unit_ids.contains(&id)))
            .expect("a responsible unit has staff");
        let m = t.login(&member.username).await;
        let page = t.get(&format!("/warnings/{}", w.id), &m).await;
        assert!(
            page.text().contains("value=\"acknowledge\""),
            "{}",
            page.text()
        );
        let csrf = page.csrf();
        let path = format!("/warnings/{}/act", w.id);
        let r = t
            .post(&path, &m, &[("csrf", "wrong"), ("action", "acknowledge")])
            .await;
        assert_eq!(r.status, StatusCode::FORBIDDEN, "CSRF checked");
        let r = t
            .post(&path, &m, &[("csrf", &csrf), ("action", "acknowledge")])
            .await;
        assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.text());
        let r = t
            .post(
                &path,
                &m,
                &[("csrf", &csrf), ("action", "handle"), ("note", "")],
            )
            .await;
        assert_eq!(
            r.status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "handling needs a note"
        );
        let r = t
            .post(
                &path,
                &m,
                &[
                    ("csrf", &csrf),
                    ("action", "handle"),
                    ("note", "约谈物业公司，电梯已修复"),
                ],
            )
            .await;
        assert_eq!(r.status, StatusCode::SEE_OTHER);
        let page = t.get(&format!("/warnings/{}", w.id), &l).await.text();
        assert!(
            page.contains("已处置") && page.contains("约谈物业公司，电梯已修复"),
            "{page}"
        );

        // 吹哨 from the page: the supervisor summons the member's unit; it answers by the form.
        let sup = t.login("supervisor").await;
        let page = t.get(&format!("/warnings/{}", w.id), &sup).await;
        assert!(page.text().contains("name=\"unit\""), "the summons form");
        let unit = member.unit_id.unwrap().to_string();
        let r = t
            .post(
                &format!("/warnings/{}/summon", w.id),
                &sup,
                &[("csrf", &page.csrf()), ("unit", &unit), ("hours", "24")],
            )
            .await;
        assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.text());
        let page = t.get(&format!("/warnings/{}", w.id), &m).await;
        assert!(
            page.text().contains("待报到") && page.text().contains("/respond"),
            "{}",
            page.text()
        );
        let r = t
            .post(
                &format!("/warnings/{}/respond", w.id),
                &m,
                &[("csrf", &page.csrf()), ("reply", "已到场")],
            )
            .await;
        assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.text());
        let page = t.get(&format!("/warnings/{}", w.id), &l).await.text();
        assert!(
            page.contains("已到场") && !page.contains("待报到"),
            "{page}"
        );

        // The cockpit lists it; this month's report tells how it ended.
        let c = t.get("/cockpit?node=990102", &l).await.text();
        assert!(c.contains(&format!("/warnings/{}", w.id)), "{c}");
        let rep = t
            .get("/reports/monthly?node=990102&month=2025-03", &l)
            .await
            .text();
        assert!(
            rep.contains("预警及处置") && rep.contains("约谈物业公司"),
            "{rep}"
        );
        let pdf = t
            .get("/reports/monthly?node=990102&month=2025-03&format=pdf", &l)
            .await;
        assert_eq!(pdf.status, StatusCode::OK);
        let flat: String = pdf_layout_text(&pdf.body).split_whitespace().collect();
        assert!(
            flat.contains(&format!(
                "本月发出预警{}条",
                t.app
                    .warnings_in("/990000/", None, None, false)
                    .await
                    .unwrap()
                    .iter()
                    .filter(|x| x.first_day.to_string().starts_with("2025-03"))
                    .count()
            )),
            "{flat}"
        );

        // Grid workers see no warnings; a supervisor runs the analysis from the list.
        let g = t.login("grid01").await;
        assert_eq!(t.get("/warnings", &g).await.status, StatusCode::FORBIDDEN);
        let s = t.login("supervisor").await;
        let list = t.get("/warnings", &s).await;
        let run = t.post("/warnings/run", &s, &[("csrf", &list.csrf())]).await;
        assert_eq!(run.status, StatusCode::OK);
        assert!(run.text().contains("预警分析完成"), "{}", run.text());
    }
);

on_both!(
    the_outbound_page_configures_sending_and_shows_failures_to_retry,
    |t: T| async move {
        let a = t.login("admin").await;
        let page = t.get("/admin/outbound", &a).await;
        assert_eq!(page.status, StatusCode::OK, "{}", page.text());
        let csrf = page.csrf();
        // A bad webhook URL: refused on the page with the reason.
        let r = t
            .post(
                "/admin/outbound",
                &a,
                &[
                    ("csrf", &csrf),
                    ("op", "webhook"),
                    ("url", "https://x.example.org/h"),
                    ("secret", "0123456789abcdefg"),
                ],
            )
            .await;
        assert_eq!(r.status, StatusCode::OK);
        assert!(r.text().contains("role=\"alert\""), "{}", r.text());
        // A webhook to a port nobody listens on, and a contact for the unit leader.
        let dead = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let url = format!("http://127.0.0.1:{dead}/h");
        let r = t
            .post(
                "/admin/outbound",
                &a,
                &[
                    ("csrf", &csrf),
                    ("op", "webhook"),
                    ("url", &url),
                    ("secret", "0123456789abcdefg"),
                    ("kinds", ""),
                ],
            )
            .await;
        assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.text());
        let r = t
            .post(
                "/admin/outbound",
                &a,
                &[
                    ("csrf", &csrf),
                    ("op", "contact"),
                    ("username", "u02leader"),
                    ("email", "u02@example.org"),
                    ("phone", "13700137000"),
                ],
            )
            .await;
        assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.text());
        // A notification to u02leader; the courier tries until it gives up.
        let user = t
            .app
            .store
            .get_user_by_username("u02leader")
            .await
            .unwrap()
            .unwrap();
        let note = fengqiao_store::NewNotification {
            user_id: user.id,
            case_id: None,
            kind: "summons".into(),
            title: "吹哨测试通知".into(),
            body: "b".into(),
        };
        t.app
            .store
            .notify_once("t", "1", &[note], t.app.now())
            .await
            .unwrap();
        t.app
            .set_courier(std::sync::Arc::new(fengqiao_notify::NetCourier::default()));
        for _ in 0..fengqiao_domain::outbound::MAX_ATTEMPTS {
            t.app.run_courier().await.unwrap();
            t.clock.advance(5 * 3_600_000);
        }
        let a = t.login("admin").await;
        let page = t.get("/admin/outbound?status=failed", &a).await;
        let html = page.text();
        assert!(
            html.contains("吹哨测试通知") && html.contains("发送失败"),
            "{html}"
        );
        assert!(html.contains("value=\"retry\""), "{html}");
        let id = t.app.store.list_deliveries(None, 10).await.unwrap()[0].id;
        let r = t
            .post(
                "/admin/outbound",
                &a,
                &[
                    ("csrf", &page.csrf()),
                    ("op", "retry"),
                    ("id", &id.to_string()),
                ],
            )
            .await;
        assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.text());
        let pending = t.get("/admin/outbound?status=pending", &a).await.text();
        assert!(pending.contains("吹哨测试通知"), "{pending}");
        // Not for a unit leader.
        let l = t.login("u02leader").await;
        assert_eq!(
            t.get("/admin/outbound", &l).await.status,
            StatusCode::FORBIDDEN
        );
    }
);

on_both!(
    a_summoned_unit_answers_on_the_case_page,
    |t: T| async move {
        let code = t
            .citizen_submit("邻里之间因排水沟堵塞发生争吵，多户村民聚集", "k-summons")
            .await;
        let id = t.case_id(&code).await;
        let users = t.app.store.list_users("/", None).await.unwrap();
        let unit_of = |name: &str| {
            users
                .iter()
                .find(|u| u.username == name)
                .unwrap()
                .unit_id
                .unwrap()
        };
        let system = fengqiao_domain::access::Actor::system();
        use fengqiao_domain::workflow::Command;
        t.app
            .act(
                &system,
                id,
                &Command::Route {
                    lead_unit_id: unit_of("u02staff"),
                    co_unit_ids: vec![],
                },
            )
            .await
            .unwrap();
        // The dispatcher blows the whistle from the case page.
        let d = t.login("dispatcher").await;
        let page = t.get(&format!("/cases/{id}"), &d).await;
        assert!(page.text().contains("id=\"summon\""), "{}", page.text());
        let unit = unit_of("u03staff").to_string();
        let r = t
            .post(
                &format!("/cases/{id}/act"),
                &d,
                &[
                    ("csrf", &page.csrf()),
                    ("action", "summon_units"),
                    ("unit_ids", &unit),
                    ("hours", "24"),
                    ("note", "请到场"),
                ],
            )
            .await;
        assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.text());
        // A unit member sees no whistle.
        let h = t.login("u02staff").await;
        assert!(!t
            .get(&format!("/cases/{id}"), &h)
            .await
            .text()
            .contains("id=\"summon\""));
        let m = t.login("u03staff").await;
        let page = t.get(&format!("/cases/{id}"), &m).await;
        let html = page.text();
        assert!(
            html.contains("id=\"summons\"") && html.contains("value=\"answer_summons\""),
            "{html}"
        );
        let r = t
            .post(
                &format!("/cases/{id}/act"),
                &m,
                &[
                    ("csrf", &page.csrf()),
                    ("action", "answer_summons"),
                    ("reply", "已派人到场"),
                ],
            )
            .await;
        assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.text());
        let html = t.get(&format!("/cases/{id}"), &m).await.text();
        assert!(
            html.contains("已派人到场") && !html.contains("value=\"answer_summons\""),
            "{html}"
        );
    }
);

/// Uploads a judicial-mediation export on the imports page.
async fn import_upload(t: &T, cookie: &str, bytes: &[u8], csrf: &str) -> Page {
    t.send(
        "POST",
        "/imports",
        cookie,
        Some(multipart(
            &[("csrf", csrf), ("channel", "judicial_mediation")],
            &[("file", "tj.csv", bytes)],
        )),
    )
    .await
}

on_both!(
    a_dispatcher_imports_a_gbk_export_and_sees_each_rejected_line,
    |t: T| async move {
        let a = t.login("dispatcher").await;
        let page = t.get("/imports", &a).await;
        assert_eq!(page.status, StatusCode::OK, "{}", page.text());
        assert!(
            page.text().contains("调解案件编号"),
            "the columns are shown"
        );
        let csv = "调解案件编号,纠纷简要情况,行政区划代码,受理日期,当事人,当事人电话,纠纷类型,涉及金额\n\
                   TJ-1,\"张某与李某因宅基地界址争议，多次争吵\",990102001001,2025/3/1,张某某,,房屋宅基地纠纷,1.2万\n\
                   TJ-2,土地承包纠纷,990102001001,昨天,钱某,,山林土地纠纷,\n";
        let gbk = encoding_rs::GBK.encode(csv).0.into_owned();
        let r = import_upload(&t, &a, &gbk, &page.csrf()).await;
        let html = r.text();
        assert_eq!(r.status, StatusCode::OK, "{html}");
        assert!(
            html.contains("data-created=\"1\"") && html.contains("(GBK)"),
            "{html}"
        );
        assert!(
            html.contains("<td>3</td><td>TJ-2</td><td>受理日期</td><td>日期无法识别 <small>not a date: 昨天</small>"),
            "{html}"
        );
        // The same file again: recognised, nothing new.
        let r = import_upload(&t, &a, &gbk, &page.csrf()).await;
        assert!(r.text().contains("data-created=\"0\""), "{}", r.text());
        // A wrong CSRF token is refused; a unit leader may not import.
        let r = import_upload(&t, &a, csv.as_bytes(), "wrong").await;
        assert_eq!(r.status, StatusCode::FORBIDDEN);
        let l = t.login("u02leader").await;
        assert_eq!(t.get("/imports", &l).await.status, StatusCode::FORBIDDEN);
        // An Excel export: dates as Excel dates, amounts as numbers, rows by their number.
        let mut wb = rust_xlsxwriter::Workbook::new();
        let ws = wb.add_worksheet();
        for (c, h) in [
            "调解案件编号",
            "纠纷简要情况",
            "行政区划代码",
            "受理日期",
            "当事人",
            "纠纷类型",
            "涉及金额",
        ]
        .iter()
        .enumerate()
        {
            ws.write_string(0, c as u16, *h).unwrap();
        }
        ws.write_string(1, 0, "TJ-X1").unwrap();
        ws.write_string(1, 1, "王某某与邻居因排水沟堵塞发生争执")
            .unwrap();
        ws.write_string(1, 2, "990102001001").unwrap();
        ws.write_datetime(
            1,
            3,
            rust_xlsxwriter::ExcelDateTime::from_ymd(2025, 3, 1).unwrap(),
        )
        .unwrap();
        ws.write_string(1, 4, "王某某").unwrap();
        ws.write_string(1, 5, "邻里纠纷").unwrap();
        ws.write_number(1, 6, 3500).unwrap();
        ws.write_string(2, 0, "TJ-X2").unwrap();
        ws.write_string(2, 1, "土地承包纠纷").unwrap();
        ws.write_string(2, 2, "990102001001").unwrap();
        ws.write_string(2, 3, "昨天").unwrap();
        let xlsx = wb.save_to_buffer().unwrap();
        let r = import_upload(&t, &a, &xlsx, &page.csrf()).await;
        let html = r.text();
        assert!(
            html.contains("data-created=\"1\"") && html.contains("(XLSX)"),
            "{html}"
        );
        assert!(
            html.contains("<td>3</td><td>TJ-X2</td><td>受理日期</td>"),
            "{html}"
        );
        let id = t
            .app
            .store
            .find_idempotent_case("channel:judicial_mediation", "TJ-X1")
            .await
            .unwrap()
            .expect("the good row landed");
        let c = t.app.store.get_case(id).await.unwrap().unwrap().state;
        assert_eq!(c.amount_fen, Some(350_000), "{}", t.backend);
        let day = chrono::DateTime::from_timestamp_millis(c.occurred_at.unwrap())
            .unwrap()
            .with_timezone(&chrono::FixedOffset::east_opt(8 * 3600).unwrap())
            .date_naive();
        assert_eq!(day.to_string(), "2025-03-01", "{}", t.backend);
    }
);

on_both!(
    the_search_page_highlights_matches_in_cases_the_user_may_see,
    |t: T| async move {
        let code = t
            .citizen_submit(
                "邻居家养的狗半夜狂吠，严重影响休息，多次沟通无果。",
                "search-1",
            )
            .await;
        let id = t.case_id(&code).await;
        let dispatcher = t.login("dispatcher").await;
        let url = format!(
            "/search?q={}",
            form_urlencoded::byte_serialize("狂吠".as_bytes()).collect::<String>()
        );
        // The page is searchable within a second of the submission.
        let started = std::time::Instant::now();
        let page = loop {
            let p = t.get(&url, &dispatcher).await;
            assert_eq!(p.status, StatusCode::OK, "{}", t.backend);
            if p.text().contains(&format!("data-case=\"{id}\""))
                || started.elapsed() > std::time::Duration::from_secs(1)
            {
                break p;
            }
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        };
        let html = page.text();
        assert!(
            html.contains(&format!("data-case=\"{id}\"")),
            "{}: {html}",
            t.backend
        );
        assert!(html.contains("<mark>狂吠</mark>"), "{}: {html}", t.backend);
        assert!(html.contains(&code), "{}", t.backend);
        // Town B's justice office does not see a town A case.
        let other = t.login("u03staff").await;
        let p = t.get(&url, &other).await;
        assert!(
            p.text().contains("data-total=\"0\""),
            "{}: {}",
            t.backend,
            p.text()
        );
        assert!(!p.text().contains(&code), "{}", t.backend);
        // Without a session: to the login page.
        let p = t.get(&url, "").await;
        assert!(p.status.is_redirection(), "{}", t.backend);
    }
);

on_both!(
    similar_cases_legal_basis_and_the_explainer_sheet_on_the_case_page,
    |t: T| async move {
        use fengqiao_domain::workflow::Command;
        let users = t.app.store.list_users("/", None).await.unwrap();
        let unit = users
            .iter()
            .find(|u| u.username == "u02staff")
            .unwrap()
            .unit_id
            .unwrap();
        let login = t.app.login("u02staff", PASSWORD, None).await.unwrap();
        let staff = t.app.authenticate(&login.token).await.unwrap().actor;
        let system = fengqiao_domain::access::Actor::system();
        let resolved = t
            .case_id(
                &t.citizen_submit(
                    "张伟反映楼上卫生间漏水，把他家天花板泡坏了，要求赔偿。",
                    "sim-1",
                )
                .await,
            )
            .await;
        t.app
            .act(
                &system,
                resolved,
                &Command::Route {
                    lead_unit_id: unit,
                    co_unit_ids: vec![],
                },
            )
            .await
            .unwrap();
        for cmd in [
            serde_json::json!({"action": "accept"}),
            serde_json::json!({"action": "conclude", "outcome": {"kind": "agreement", "agreement": "楼上住户赔偿张伟维修费900元。"}}),
        ] {
            let cmd: Command = serde_json::from_value(cmd).unwrap();
            t.app.act(&staff, resolved, &cmd).await.unwrap();
        }
        // Two months later (not within the duplicate window: a like case, not the same one).
        t.clock.advance(60 * 86_400_000);
        let open = t
            .case_id(
                &t.citizen_submit("楼上漏水，我家天花板泡坏了，怎么办", "sim-2")
                    .await,
            )
            .await;
        let d = t.login("dispatcher").await;
        // The case page loads both panels.
        let page = t.get(&format!("/cases/{open}"), &d).await;
        assert!(
            page.text()
                .contains(&format!("hx-get=\"/cases/{open}/similar\"")),
            "{}",
            t.backend
        );
        assert!(page
            .text()
            .contains(&format!("hx-get=\"/cases/{open}/basis\"")));
        let started = std::time::Instant::now();
        let similar = loop {
            let p = t.get(&format!("/cases/{open}/similar"), &d).await;
            assert_eq!(p.status, StatusCode::OK, "{}", t.backend);
            if p.text().contains(&format!("data-case=\"{resolved}\""))
                || started.elapsed() > std::time::Duration::from_secs(1)
            {
                break p.text();
            }
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        };
        assert!(
            similar.contains(&format!("data-case=\"{resolved}\"")),
            "{}: {similar}",
            t.backend
        );
        assert!(similar.contains("维修费900元"), "{similar}");
        assert!(
            similar.contains("同类纠纷") && similar.contains("漏水"),
            "{similar}"
        );
        let basis = t.get(&format!("/cases/{open}/basis"), &d).await.text();
        assert!(basis.contains("data-source=\"curated\""), "{basis}");
        assert!(basis.contains("中华人民共和国民法典"), "{basis}");
        assert!(
            !basis.contains("explainer-link"),
            "an open case has no sheet"
        );
        let basis = t.get(&format!("/cases/{resolved}/basis"), &d).await.text();
        assert!(basis.contains("explainer-link"), "{basis}");
        // The sheet: anonymised, as a page and as a PDF.
        let sheet = t.get(&format!("/cases/{resolved}/explainer"), &d).await;
        assert_eq!(sheet.status, StatusCode::OK, "{}", t.backend);
        let html = sheet.text();
        assert!(!html.contains("张伟") && html.contains("张某"), "{html}");
        assert!(
            html.contains("以案释法") && html.contains("维修费900元"),
            "{html}"
        );
        let pdf = t.get(&format!("/cases/{resolved}/explainer.pdf"), &d).await;
        assert_eq!(pdf.status, StatusCode::OK, "{}: {}", t.backend, pdf.text());
        let text = pdf_text(&pdf.body);
        assert!(text.contains("以案释法") && text.contains("张某"), "{text}");
        assert!(!text.contains("张伟"), "{text}");
        assert_eq!(text.matches('\u{c}').count(), 1, "one page: {text:?}");
        let p = t.get(&format!("/cases/{open}/explainer"), &d).await;
        assert_eq!(p.status, StatusCode::BAD_REQUEST, "{}", t.backend);
        assert!(p.text().contains("未以调解协议结案"), "{}", p.text());
        // Without a session: to the login page.
        assert!(t
            .get(&format!("/cases/{resolved}/explainer"), "")
            .await
            .status
            .is_redirection());
    }
);

#[tokio::test]
async fn every_answer_carries_the_security_headers_and_cookies_are_locked_down() {
    for tls in [false, true] {
        let t = spawn_with("sqlite", tls).await;
        let req = Request::builder()
            .uri("/login")
            .body(Body::empty())
            .unwrap();
        let res = t.router.clone().oneshot(req).await.unwrap();
        let h = |n: &str| {
            res.headers()
                .get(n)
                .map(|v| v.to_str().unwrap().to_string())
        };
        let csp = h("content-security-policy").unwrap();
        let script = csp
            .split(';')
            .find(|d| d.trim().starts_with("script-src"))
            .unwrap();
        assert_eq!(
            script.trim(),
            "script-src 'self'",
            "no inline script, no eval"
        );
        assert!(csp.contains("frame-ancestors 'none'"), "{csp}");
        assert_eq!(h("x-frame-options").as_deref(), Some("DENY"));
        assert_eq!(h("x-content-type-options").as_deref(), Some("nosniff"));
        assert_eq!(
            h("strict-transport-security").is_some(),
            tls,
            "HSTS only behind TLS"
        );
        // The session cookie: HttpOnly and SameSite always, Secure behind TLS.
        let req = Request::builder()
            .method("POST")
            .uri("/login")
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .body(Body::from(format!(
                "username=dispatcher&password={}",
                form(&[("p", PASSWORD)]).trim_start_matches("p=")
            )))
            .unwrap();
        let res = t.router.clone().oneshot(req).await.unwrap();
        let cookie_page = res.headers()[header::SET_COOKIE]
            .to_str()
            .unwrap()
            .to_string();
        assert!(cookie_page.contains("HttpOnly"), "{cookie_page}");
        assert!(cookie_page.contains("SameSite=Strict"), "{cookie_page}");
        assert_eq!(cookie_page.contains("; Secure"), tls, "{cookie_page}");
    }
}

/// No page of the templates holds an inline script or an inline event handler (the CSP
/// would block it): scripts come from files.
#[test]
fn templates_hold_no_inline_script() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("templates");
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        let html = std::fs::read_to_string(&path).unwrap();
        for (at, _) in html.match_indices("<script") {
            let tag = &html[at..at + html[at..].find('>').unwrap()];
            assert!(
                tag.contains("src=") || tag.contains("application/json"),
                "{}: inline script {tag}",
                path.display()
            );
        }
        for handler in [
            " onclick=",
            " onchange=",
            " onsubmit=",
            " onload=",
            " oninput=",
            "javascript:",
        ] {
            assert!(!html.contains(handler), "{}: {handler}", path.display());
        }
    }
}

on_both!(
    the_audit_trail_records_who_did_what_from_where,
    |t: T| async move {
        let bad = t
            .post(
                "/login",
                "",
                &[("username", "dispatcher"), ("password", "Wrong#2026")],
            )
            .await;
        assert_eq!(bad.status, StatusCode::UNAUTHORIZED);
        let d = t.login("dispatcher").await;
        // A refusal, an export, a case registered.
        assert_eq!(
            t.get("/admin/users", &d).await.status,
            StatusCode::FORBIDDEN
        );
        let x = t.get("/cases/export.xlsx?status=registered", &d).await;
        assert_eq!(x.status, StatusCode::OK);
        t.citizen_submit("邻居装修噪音扰民，多次沟通无果。", "audit-1")
            .await;
        t.app.flush_audit().await;
        let trail = t.app.store.audit_records(0, 1_000).await.unwrap();
        let find = |action: &str| {
            trail
                .iter()
                .find(|r| r.record.action.as_str() == action)
                .unwrap_or_else(|| panic!("{}: no {action} in {trail:#?}", t.backend))
        };
        let failed = find("sign_in_failed");
        assert_eq!(failed.record.actor_name, "dispatcher");
        assert!(
            failed.record.detail.contains("wrong_password"),
            "{failed:?}"
        );
        assert_eq!(
            failed.record.client, "local",
            "the client address is recorded"
        );
        let denied = find("access_denied");
        assert_eq!(
            (
                denied.record.actor_name.as_str(),
                denied.record.target.as_str()
            ),
            ("dispatcher", "GET /admin/users")
        );
        let export = find("export");
        assert_eq!(export.record.target, "cases.xlsx");
        assert!(
            export.record.detail.contains("status=registered"),
            "{export:?}"
        );
        let case = find("case_changed");
        assert_eq!(case.record.actor_name, "public");
        assert!(trail.iter().any(|r| r.record.action.as_str() == "sign_in"));
        // Nothing personal in clear: the citizen's phone is not in the trail.
        assert!(trail.iter().all(|r| !r.record.detail.contains(PHONE)));
        let report = t.app.verify_audit().await.unwrap();
        assert_eq!(report.problems, vec![], "{}", t.backend);
        assert_eq!(report.records, trail.len() as u64);
    }
);

on_both!(
    admins_set_the_sign_in_policy_reset_credentials_and_read_the_audit_trail,
    |t: T| async move {
        let a = t.login("admin").await;
        let page = t.get("/admin/security", &a).await;
        assert_eq!(page.status, StatusCode::OK, "{}", t.backend);
        let html = page.text();
        assert!(
            html.contains(r#"value="leader" checked"#),
            "the default policy is shown"
        );
        assert!(
            html.contains("用户与角色") || html.contains("Users"),
            "the tabs"
        );
        let csrf = page.csrf();
        let p = t
            .post(
                "/admin/security",
                &a,
                &[
                    ("csrf", &csrf),
                    ("second_factor_role", "admin"),
                    ("password_max_age_days", "90"),
                ],
            )
            .await;
        assert_eq!(p.location, "/admin/security?saved=1", "{}", p.text());
        let policy = t.app.security_policy().await.unwrap();
        assert_eq!(
            (policy.second_factor_roles, policy.password_max_age_days),
            (vec![fengqiao_domain::access::Role::Admin], 90)
        );
        // A reset password: the user must change it at the next sign-in.
        let id = t
            .app
            .store
            .get_user_by_username("u03staff")
            .await
            .unwrap()
            .unwrap()
            .id
            .to_string();
        let p = t
            .post(
                "/admin/users",
                &a,
                &[
                    ("csrf", &csrf),
                    ("action", "reset"),
                    ("id", &id),
                    ("password", "Reset#2026ok"),
                ],
            )
            .await;
        assert_eq!(p.location, "/admin/users?saved=1", "{}", p.text());
        let (_, to) = t.password_login("u03staff", "Reset#2026ok").await;
        assert!(to.starts_with("/login/password"), "{to}");
        // The trail shows it, and verifies.
        let v = t.get("/admin/security?verify=1", &a).await.text();
        assert!(
            v.contains(r#"id="audit-verified""#) && v.contains("审计链完整"),
            "{v}"
        );
        assert!(v.contains("用户变更") && v.contains(&format!("user:{id}")));
    }
);

on_both!(
    an_unmasked_export_needs_a_second_approver_and_downloads_once,
    |t: T| async move {
        let text = format!("我叫赵某，电话{PHONE}，隔壁装修把我家墙面震裂了。");
        let code = t.citizen_submit(&text, "k-unmasked").await;
        let d = t.login("dispatcher").await;
        let s = t.login("supervisor").await;
        let l = t.login("leader").await;
        // A supervisor of another town: its scope does not cover the county's requests.
        let town = t.app.get_jurisdiction("990102002").await.unwrap();
        let hash = fengqiao_app::auth::hash_password(PASSWORD).unwrap();
        t.app
            .store
            .insert_user(
                &fengqiao_store::NewUser {
                    username: "town-supervisor".into(),
                    display_name: "镇督办员".into(),
                    password_hash: hash,
                    role: fengqiao_domain::access::Role::Supervisor,
                    scope_code: town.code.clone(),
                    scope_path: town.path.clone(),
                    unit_id: None,
                    must_change_password: false,
                },
                t.app.now(),
            )
            .await
            .unwrap();
        let ts = t.login("town-supervisor").await;

        // The list links to the request page with its filter; a grid worker may not ask.
        let list = t.get("/cases?status=registered", &d).await.text();
        assert!(
            list.contains("/exports?filter=status%3Dregistered"),
            "{}",
            t.backend
        );
        let g = t.login("grid01").await;
        let refused = t
            .post(
                "/exports",
                &g,
                &[
                    ("csrf", &t.csrf(&g).await),
                    ("filter", "status=registered"),
                    ("purpose", "核查当事人身份"),
                ],
            )
            .await;
        assert_eq!(refused.status, StatusCode::FORBIDDEN);
        // No purpose, no request.
        let csrf = t.get("/exports", &d).await.csrf();
        let p = t
            .post(
                "/exports",
                &d,
                &[
                    ("csrf", &csrf),
                    ("filter", "status=registered"),
                    ("purpose", "查"),
                ],
            )
            .await;
        assert_eq!(p.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", t.backend);
        let p = t
            .post(
                "/exports",
                &d,
                &[
                    ("csrf", &csrf),
                    ("filter", "status=registered"),
                    ("purpose", "配合派出所核实当事人身份"),
                ],
            )
            .await;
        assert_eq!(
            (p.status, p.location.as_str()),
            (StatusCode::SEE_OTHER, "/exports?sent=1")
        );
        let requests = t.app.store.list_export_requests(10).await.unwrap();
        let id = requests[0].id;
        let file = format!("/exports/{id}/file.xlsx");
        let decision = format!("/exports/{id}/decision");
        // Not before an approval.
        assert_eq!(t.get(&file, &d).await.status, StatusCode::CONFLICT);
        // The requester may not approve; the other town's supervisor does not see it.
        let approve = |csrf: String| {
            vec![
                ("csrf".to_string(), csrf),
                ("decision".into(), "approve".into()),
            ]
        };
        let post = |path: String, cookie: String, pairs: Vec<(String, String)>| {
            let t = &t;
            async move {
                let pairs: Vec<(&str, &str)> = pairs
                    .iter()
                    .map(|(k, v)| (k.as_str(), v.as_str()))
                    .collect();
                t.post(&path, &cookie, &pairs).await
            }
        };
        let p = post(decision.clone(), d.clone(), approve(csrf.clone())).await;
        assert_eq!(p.status, StatusCode::FORBIDDEN, "{}", t.backend);
        let ts_page = t.get("/exports", &ts).await.text();
        assert!(
            !ts_page.contains(&format!("export-{id}\"")),
            "{}",
            t.backend
        );
        let p = post(decision.clone(), ts.clone(), approve(t.csrf(&ts).await)).await;
        assert_eq!(p.status, StatusCode::NOT_FOUND, "{}", t.backend);
        // The county's supervisor sees the purpose and approves.
        let s_page = t.get("/exports", &s).await.text();
        assert!(s_page.contains("配合派出所核实当事人身份"), "{}", t.backend);
        assert!(s_page.contains(&decision), "{}", t.backend);
        let p = post(decision.clone(), s.clone(), approve(t.csrf(&s).await)).await;
        assert_eq!(
            (p.status, p.location.as_str()),
            (StatusCode::SEE_OTHER, "/exports?decided=1"),
            "{}",
            p.text()
        );
        // Decided once: the leader's second approval is refused.
        let p = post(decision.clone(), l.clone(), approve(t.csrf(&l).await)).await;
        assert_eq!(p.status, StatusCode::CONFLICT, "{}", t.backend);
        // Only the requester downloads, once.
        assert_eq!(t.get(&file, &s).await.status, StatusCode::FORBIDDEN);
        let x = t.get(&file, &d).await;
        assert_eq!(x.status, StatusCode::OK, "{}: {}", t.backend, x.text());
        let mut zip = zip::ZipArchive::new(std::io::Cursor::new(x.body)).unwrap();
        let mut strings = String::new();
        zip.by_name("xl/sharedStrings.xml")
            .unwrap()
            .read_to_string(&mut strings)
            .unwrap();
        assert!(strings.contains(&code), "{}", t.backend);
        assert!(strings.contains(PHONE), "{}: numbers in clear", t.backend);
        assert_eq!(t.get(&file, &d).await.status, StatusCode::CONFLICT);

        // A supervisor's own request needs someone else; an approval goes stale after a day;
        // a rejection ends it.
        let p = post(
            "/exports".into(),
            s.clone(),
            vec![
                ("csrf".into(), t.csrf(&s).await),
                ("filter".into(), String::new()),
                ("purpose".into(), "年度台账核对".into()),
            ],
        )
        .await;
        assert_eq!(p.status, StatusCode::SEE_OTHER);
        let own = t.app.store.list_export_requests(10).await.unwrap()[0].id;
        let p = post(
            format!("/exports/{own}/decision"),
            s.clone(),
            approve(t.csrf(&s).await),
        )
        .await;
        assert_eq!(p.status, StatusCode::FORBIDDEN, "{}", t.backend);
        assert!(
            p.text().contains("申请人以外") || p.text().contains("other than"),
            "{}",
            p.text()
        );
        let p = post(
            format!("/exports/{own}/decision"),
            l.clone(),
            approve(t.csrf(&l).await),
        )
        .await;
        assert_eq!(p.status, StatusCode::SEE_OTHER);
        t.clock.advance(25 * 3_600_000);
        let s = t.login("supervisor").await;
        assert_eq!(
            t.get(&format!("/exports/{own}/file.xlsx"), &s).await.status,
            StatusCode::CONFLICT
        );
        let p = post(
            "/exports".into(),
            d.clone(),
            vec![
                ("csrf".into(), t.csrf(&d).await),
                ("filter".into(), String::new()),
                ("purpose".into(), "再次核对台账".into()),
            ],
        )
        .await;
        assert_eq!(p.status, StatusCode::SEE_OTHER);
        let third = t.app.store.list_export_requests(10).await.unwrap()[0].id;
        let p = post(
            format!("/exports/{third}/decision"),
            s.clone(),
            vec![
                ("csrf".into(), t.csrf(&s).await),
                ("decision".into(), "reject".into()),
            ],
        )
        .await;
        assert_eq!(p.status, StatusCode::SEE_OTHER);
        assert_eq!(
            t.get(&format!("/exports/{third}/file.xlsx"), &d)
                .await
                .status,
            StatusCode::CONFLICT
        );

        // The trail: asked, refused, approved, downloaded, rejected; nothing personal in it.
        t.app.flush_audit().await;
        let trail = t.app.store.audit_records(0, 10_000).await.unwrap();
        let steps: Vec<(String, String, String)> = trail
            .iter()
            .filter(|r| r.record.target.starts_with("unmasked_export:"))
            .map(|r| {
                (
                    r.record.actor_name.clone(),
                    r.record.target.clone(),
                    r.record.outcome.clone(),
                )
            })
            .collect();
        let target = format!("unmasked_export:{id}");
        for (who, outcome) in [
            ("dispatcher", "requested"),
            ("supervisor", "approved"),
            ("dispatcher", "ok"),
        ] {
            assert!(
                steps
                    .iter()
                    .any(|(a, tg, o)| a == who && *tg == target && o == outcome),
                "{}: no {who} {outcome} in {steps:#?}",
                t.backend
            );
        }
        assert!(steps
            .iter()
            .any(|(a, _, o)| a == "supervisor" && o == "refused"));
        assert!(steps.iter().any(|(_, _, o)| o == "rejected"));
        assert!(trail.iter().all(|r| !r.record.detail.contains(PHONE)));
        assert_eq!(t.app.verify_audit().await.unwrap().problems, vec![]);
    }
);

on_both!(
    staff_find_a_persons_cases_by_number_without_it_in_the_address,
    |t: T| async move {
        let code = t
            .citizen_submit("楼上漏水把我家天花板泡坏了，物业不管。", "k-lookup")
            .await;
        let d = t.login("dispatcher").await;
        assert!(t
            .get("/cases", &d)
            .await
            .text()
            .contains("/cases/by-number"));
        let csrf = t.get("/cases/by-number", &d).await.csrf();
        let p = t
            .post(
                "/cases/by-number",
                &d,
                &[("csrf", &csrf), ("number", "139 1234 5678")],
            )
            .await;
        assert_eq!(p.status, StatusCode::OK, "{}", t.backend);
        let html = p.text();
        assert!(html.contains(&code), "{}: the case is found", t.backend);
        assert!(html.contains("139****5678") && !html.contains(PHONE));
        let p = t
            .post(
                "/cases/by-number",
                &d,
                &[("csrf", &csrf), ("number", "abc")],
            )
            .await;
        assert_eq!(p.status, StatusCode::UNPROCESSABLE_ENTITY);
        // A grid worker may not look people up.
        let g = t.login("grid01").await;
        let p = t
            .post(
                "/cases/by-number",
                &g,
                &[("csrf", &t.csrf(&g).await), ("number", PHONE)],
            )
            .await;
        assert_eq!(p.status, StatusCode::FORBIDDEN);
    }
);

on_both!(
    the_person_and_place_pages_show_a_history_within_scope,
    |t: T| async move {
        let first = t
            .citizen_submit("楼上漏水把我家天花板泡坏了，物业不管。", "k-person-1")
            .await;
        let second = t
            .citizen_submit("楼上又漏水了，上次说好的维修没有做。", "k-person-2")
            .await;
        let id = t.case_id(&second).await;
        let d = t.login("dispatcher").await;
        // The case page links its parties and its place to their pages.
        let page = t.get(&format!("/cases/{id}"), &d).await.text();
        assert!(
            page.contains(&format!("/cases/{id}/parties/0")),
            "{}",
            t.backend
        );
        assert!(page.contains(&format!("/places/{VILLAGE_A}")));
        // The party's page lists both of the citizen's cases, the phone masked.
        let p = t.get(&format!("/cases/{id}/parties/0"), &d).await;
        assert_eq!(p.status, StatusCode::OK, "{}", t.backend);
        let html = p.text();
        assert!(
            html.contains(&first) && html.contains(&second),
            "{}",
            t.backend
        );
        assert!(html.contains("139****5678") && !html.contains(PHONE));
        assert!(html.contains("id=\"person-count\">2"), "{html}");
        // By number, posted: the same two cases.
        let csrf = t.get("/people", &d).await.csrf();
        let p = t
            .post(
                "/people",
                &d,
                &[("csrf", &csrf), ("number", "139-1234-5678")],
            )
            .await;
        assert_eq!(p.status, StatusCode::OK);
        assert!(p.text().contains(&first) && p.text().contains(&second));
        // An anonymised name is refused with a message.
        let p = t
            .post(
                "/people",
                &d,
                &[("csrf", &csrf), ("name", "赵某"), ("place", VILLAGE_A)],
            )
            .await;
        assert_eq!(p.status, StatusCode::UNPROCESSABLE_ENTITY);
        // The place's page lists the village's cases.
        let p = t.get(&format!("/places/{VILLAGE_A}"), &d).await;
        assert_eq!(p.status, StatusCode::OK);
        let html = p.text();
        assert!(html.contains(&first) && html.contains(&second));
        assert!(html.contains("id=\"place-total\">2"), "{html}");
        // An expert has no such pages; a grid worker may not look up by number.
        let e = t.login("expert").await;
        assert_eq!(
            t.get(&format!("/places/{VILLAGE_A}"), &e).await.status,
            StatusCode::FORBIDDEN
        );
        let g = t.login("grid01").await;
        let p = t
            .post(
                "/people",
                &g,
                &[("csrf", &t.csrf(&g).await), ("number", PHONE)],
            )
            .await;
        assert_eq!(p.status, StatusCode::FORBIDDEN);
        t.app.flush_audit().await;
        let trail = t.app.store.audit_records(0, 10_000).await.unwrap();
        assert_eq!(
            trail
                .iter()
                .filter(|r| r.record.action.as_str() == "person_viewed")
                .count(),
            2,
            "{}",
            t.backend
        );
    }
);

/// A real SMS gateway on loopback: every request's `text` parameter, decoded.
async fn sms_gateway() -> (String, Arc<std::sync::Mutex<Vec<String>>>) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let got = Arc::new(std::sync::Mutex::new(Vec::new()));
    let sink = got.clone();
    tokio::spawn(async move {
        while let Ok((mut sock, _)) = listener.accept().await {
            let mut buf = Vec::new();
            let mut chunk = [0u8; 4096];
            while !buf.windows(4).any(|w| w == b"\r\n\r\n") {
                match sock.read(&mut chunk).await {
                    Ok(0) | Err(_) => break,
                    Ok(n) => buf.extend_from_slice(&chunk[..n]),
                }
            }
            let head = String::from_utf8_lossy(&buf).to_string();
            let target = head.split(' ').nth(1).unwrap_or("").to_string();
            let text = target
                .split(['?', '&'])
                .find_map(|kv| kv.strip_prefix("text="))
                .unwrap_or("");
            let mut bytes = Vec::new();
            let raw = text.as_bytes();
            let mut i = 0;
            while i < raw.len() {
                if raw[i] == b'%' && i + 2 < raw.len() {
                    let h = std::str::from_utf8(&raw[i + 1..i + 3]).unwrap();
                    bytes.push(u8::from_str_radix(h, 16).unwrap());
                    i += 3;
                } else {
                    bytes.push(if raw[i] == b'+' { b' ' } else { raw[i] });
                    i += 1;
                }
            }
            sink.lock().unwrap().push(String::from_utf8(bytes).unwrap());
            let _ = sock
                .write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nOK")
                .await;
        }
    });
    (format!("http://{addr}/sms?to={{phone}}&text={{text}}"), got)
}

/// Routes a case to the handler's unit, which accepts it and starts mediating.
async fn into_mediation(t: &T, id: i64, handler: &fengqiao_domain::access::Actor) {
    use fengqiao_domain::workflow::Command;
    let system = fengqiao_domain::access::Actor::system();
    let route = Command::Route {
        lead_unit_id: handler.unit_id.unwrap(),
        co_unit_ids: vec![],
    };
    t.app.act(&system, id, &route).await.unwrap();
    for c in [Command::Accept, Command::StartMediation] {
        t.app.act(handler, id, &c).await.unwrap();
    }
}

/// Points the app's SMS gateway at a real one on loopback and sends through it.
async fn sms_gateway_for(t: &T) -> Arc<std::sync::Mutex<Vec<String>>> {
    let (url, sms) = sms_gateway().await;
    let admin = fengqiao_app::auth::actor_of(
        &t.app
            .store
            .get_user_by_username("admin")
            .await
            .unwrap()
            .unwrap(),
    );
    t.app
        .put_outbound_config(
            &admin,
            fengqiao_domain::outbound::OutboundConfig {
                smtp: None,
                sms: Some(fengqiao_domain::outbound::SmsConfig {
                    url_template: url,
                    method: fengqiao_domain::outbound::HttpMethod::Get,
                    body_template: None,
                    kinds: vec![],
                }),
            },
        )
        .await
        .unwrap();
    t.app
        .set_courier(Arc::new(fengqiao_notify::NetCourier::default()));
    sms
}

on_both!(
    a_party_joins_the_room_by_link_and_code_and_writes_with_a_photo,
    |t: T| async move {
        let code = t
            .citizen_submit("邻居家空调外机对着我家窗户，噪音很大，协商未果。", "k-room")
            .await;
        let id = t.case_id(&code).await;
        let user = |name: &str| {
            let app = t.app.clone();
            let name = name.to_string();
            async move {
                fengqiao_app::auth::actor_of(
                    &app.store
                        .get_user_by_username(&name)
                        .await
                        .unwrap()
                        .unwrap(),
                )
            }
        };
        let handler = user("u02staff").await;
        into_mediation(&t, id, &handler).await;
        let sms = sms_gateway_for(&t).await;
        let deliver = || async {
            t.app.run_courier().await.unwrap();
            sms.lock().unwrap().last().cloned().unwrap_or_default()
        };

        // The mediator invites the citizen; the link goes by SMS and shows for reading out.
        let h = t.login("u02staff").await;
        let page = t.get(&format!("/cases/{id}"), &h).await.text();
        assert!(page.contains(&format!("/cases/{id}/room")), "{}", t.backend);
        let room = t.get(&format!("/cases/{id}/room"), &h).await;
        assert_eq!(room.status, StatusCode::OK);
        let csrf = room.csrf();
        let r = t
            .post(
                &format!("/cases/{id}/room/invite"),
                &h,
                &[("csrf", &csrf), ("party", "0"), ("phone", "")],
            )
            .await;
        assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.text());
        let invite = deliver().await;
        let at = invite.find("/room/").expect("a link in the SMS");
        let link: String = invite[at + 6..]
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '-')
            .collect();
        assert!(t
            .get(&format!("/cases/{id}/room"), &h)
            .await
            .text()
            .contains(&link));
        // The other side, not named at registration, is added in the room and can be invited.
        let r = t
            .post(
                &format!("/cases/{id}/room/party"),
                &h,
                &[
                    ("csrf", &csrf),
                    ("name", "钱邻居"),
                    ("role", "respondent"),
                    ("phone", "13700137000"),
                    ("id_number", ""),
                ],
            )
            .await;
        assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.text());
        let room_page = t.get(&format!("/cases/{id}/room"), &h).await.text();
        assert!(
            room_page.contains("钱邻居") && room_page.contains("data-invite=\"1\""),
            "{}",
            t.backend
        );
        assert!(!t
            .get(&format!("/cases/{id}"), &h)
            .await
            .text()
            .contains("13700137000"));
        // The party index knows the added party's phone.
        let found = t
            .post(
                "/people",
                &h,
                &[("csrf", &csrf), ("number", "137-0013-7000")],
            )
            .await;
        assert!(found.text().contains(&code), "{}", t.backend);
        let bad = t
            .post(
                &format!("/cases/{id}/room/party"),
                &h,
                &[("csrf", &csrf), ("name", "某"), ("phone", "123")],
            )
            .await;
        assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY);
        // A forged or altered link leads nowhere.
        let forged = format!("{}0", &link[..link.len() - 1]);
        assert_eq!(
            t.get(&format!("/room/{forged}"), "").await.status,
            StatusCode::NOT_FOUND
        );

        // The party opens the link: asked to confirm with a code sent to the masked phone.
        let door = t.get(&format!("/room/{link}"), "").await;
        assert_eq!(door.status, StatusCode::OK);
        assert!(door.text().contains("139****5678") && !door.text().contains(PHONE));
        let r = t.post(&format!("/room/{link}/code"), "", &[]).await;
        assert_eq!(r.status, StatusCode::SEE_OTHER);
        let text = deliver().await;
        let sent: String = text.chars().filter(char::is_ascii_digit).take(6).collect();
        assert_eq!(sent.len(), 6, "{text}");
        // A second code within the minute is refused with a message.
        assert_eq!(
            t.post(&format!("/room/{link}/code"), "", &[]).await.status,
            StatusCode::UNPROCESSABLE_ENTITY
        );
        let wrong = if sent == "000000" { "111111" } else { "000000" };
        let r = t
            .post(&format!("/room/{link}/join"), "", &[("code", wrong)])
            .await;
        assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
        let r = t
            .post(&format!("/room/{link}/join"), "", &[("code", &sent)])
            .await;
        assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.text());
        let cookie = r.cookie.clone();
        assert!(cookie.starts_with(&format!("fqroom{id}=")), "{cookie}");
        // The code is used up.
        assert_eq!(
            t.post(&format!("/room/{link}/join"), "", &[("code", &sent)])
                .await
                .status,
            StatusCode::UNPROCESSABLE_ENTITY
        );

        // In the room: the party writes with a photo; the mediator sees it and answers.
        let inside = t.get(&format!("/room/{link}"), &cookie).await;
        assert!(
            inside.text().contains("id=\"room-me\""),
            "{}",
            inside.text()
        );
        let body = multipart(
            &[
                ("csrf", &inside.csrf()),
                ("text", "这是空调外机的位置照片，晚上十点后最吵。"),
            ],
            &[("files", "waiji.png", PNG)],
        );
        let r = t
            .send("POST", &format!("/room/{link}/post"), &cookie, Some(body))
            .await;
        assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.text());
        // Without the room's token, nothing is written.
        let body = multipart(&[("csrf", "x"), ("text", "伪造")], &[]);
        assert_eq!(
            t.send("POST", &format!("/room/{link}/post"), &cookie, Some(body))
                .await
                .status,
            StatusCode::FORBIDDEN
        );
        let staff_view = t.get(&format!("/cases/{id}/room"), &h).await.text();
        assert!(
            staff_view.contains("这是空调外机的位置照片"),
            "{staff_view}"
        );
        assert!(staff_view.contains("waiji.png"));
        let body = multipart(
            &[
                ("csrf", &csrf),
                ("text", "收到，明天上午十点线上调解，请准时进入调解室。"),
            ],
            &[],
        );
        let r = t
            .send("POST", &format!("/cases/{id}/room/post"), &h, Some(body))
            .await;
        assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.text());
        let inside = t.get(&format!("/room/{link}"), &cookie).await.text();
        assert!(inside.contains("收到，明天上午十点线上调解") && inside.contains("waiji.png"));
        let file_at = inside.find(&format!("/room/{link}/files/")).unwrap();
        let file_path: String = inside[file_at..]
            .chars()
            .take_while(|c| *c != '"')
            .collect();
        let f = t.get(&file_path, &cookie).await;
        assert_eq!((f.status, f.body.as_slice()), (StatusCode::OK, PNG));
        assert_eq!(t.get(&file_path, "").await.status, StatusCode::NOT_FOUND);
        // The host was told of the party's message.
        let host_inbox = t
            .app
            .store
            .list_notifications(handler.user_id, false, 10)
            .await
            .unwrap();
        assert!(
            host_inbox.iter().any(|n| n.kind == "room_message"),
            "{host_inbox:?}"
        );

        // A session tomorrow: the party gets the notice, then a reminder two hours before.
        let tomorrow = fengqiao_domain::time::local_date(t.app.now() + 86_400_000);
        let r = t
            .post(
                &format!("/cases/{id}/room/schedule"),
                &h,
                &[
                    ("csrf", &csrf),
                    ("date", &tomorrow.to_string()),
                    ("time", "10:00"),
                    ("online", "on"),
                    ("place", ""),
                    ("note", ""),
                ],
            )
            .await;
        assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.text());
        assert!(deliver().await.contains("调解会议通知"));
        let starts = t
            .app
            .store
            .get_case(id)
            .await
            .unwrap()
            .unwrap()
            .state
            .room
            .sessions[0]
            .at;
        t.clock.set(starts - 3_600_000);
        t.app.sweep_deadlines().await.unwrap();
        assert!(
            deliver().await.contains("调解会议提醒"),
            "{:?}",
            sms.lock().unwrap()
        );
        assert!(t
            .app
            .store
            .list_notifications(handler.user_id, false, 10)
            .await
            .unwrap()
            .iter()
            .any(|n| n.kind == "session_reminder"));
        t.app.sweep_deadlines().await.unwrap();
        assert_eq!(
            sms.lock()
                .unwrap()
                .iter()
                .filter(|m| m.contains("调解会议提醒"))
                .count(),
            1,
            "reminded once"
        );

        // Inviting again ends the old link and the old session.
        let h = t.login("u02staff").await;
        let r = t
            .post(
                &format!("/cases/{id}/room/invite"),
                &h,
                &[
                    (
                        "csrf",
                        &t.get(&format!("/cases/{id}/room"), &h).await.csrf(),
                    ),
                    ("party", "0"),
                    ("phone", "13600136000"),
                ],
            )
            .await;
        assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.text());
        assert_eq!(
            t.get(&format!("/room/{link}"), &cookie).await.status,
            StatusCode::NOT_FOUND
        );
        assert!(deliver().await.contains("/room/"));
        // The log holds the whole room, the new phone sealed and masked.
        let events = t.app.store.case_events(id).await.unwrap();
        let names: Vec<&str> = events.iter().map(|e| e.kind.name()).collect();
        for n in [
            "party_invited",
            "room_code_sent",
            "party_joined",
            "message_posted",
            "session_scheduled",
            "session_reminded",
        ] {
            assert!(names.contains(&n), "{n} in {names:?}");
        }
        let timeline = t.get(&format!("/cases/{id}"), &h).await.text();
        assert!(!timeline.contains("13600136000"));
    }
);

on_both!(
    two_parties_sign_the_agreement_and_its_pdf_digest_is_in_the_audit_trail,
    |t: T| async move {
        use base64::Engine;
        let handler = fengqiao_app::auth::actor_of(
            &t.app
                .store
                .get_user_by_username("u02staff")
                .await
                .unwrap()
                .unwrap(),
        );
        let dispatcher = fengqiao_app::auth::actor_of(
            &t.app
                .store
                .get_user_by_username("dispatcher")
                .await
                .unwrap()
                .unwrap(),
        );
        let input: fengqiao_app::cases::CaseInput = serde_json::from_value(serde_json::json!({
            "channel": "walk_in",
            "text": "王建华与李明因宅基地边界围墙发生争执，要求拆除越界部分。",
            "parties": [
                {"name": "王建华", "role": "applicant", "phone": "13811112222"},
                {"name": "李明", "role": "respondent", "phone": "13933334444"}
            ],
            "dispute_type": "housing_homestead",
            "node_code": VILLAGE_A,
        }))
        .unwrap();
        let id = t
            .app
            .submit_case(Some(&dispatcher), &input, None)
            .await
            .unwrap()
            .0
            .id;
        into_mediation(&t, id, &handler).await;
        let sms = sms_gateway_for(&t).await;
        let last_sms = || async {
            t.app.run_courier().await.unwrap();
            sms.lock().unwrap().last().cloned().unwrap_or_default()
        };
        let digits = |s: &str| s.chars().filter(char::is_ascii_digit).collect::<String>();
        // Both parties are invited and join with their codes.
        let h = t.login("u02staff").await;
        let mut cookies = Vec::new();
        let mut links = Vec::new();
        for p in ["0", "1"] {
            let csrf = t.get(&format!("/cases/{id}/room"), &h).await.csrf();
            t.post(
                &format!("/cases/{id}/room/invite"),
                &h,
                &[("csrf", &csrf), ("party", p), ("phone", "")],
            )
            .await;
            let invite = last_sms().await;
            let at = invite.find("/room/").unwrap();
            let link: String = invite[at + 6..]
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '-')
                .collect();
            t.post(&format!("/room/{link}/code"), "", &[]).await;
            let code: String = digits(&last_sms().await).chars().take(6).collect();
            let r = t
                .post(&format!("/room/{link}/join"), "", &[("code", &code)])
                .await;
            assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.text());
            cookies.push(r.cookie.clone());
            links.push(link);
        }
        // The mediator drafts the agreement with an obligation.
        let due = (fengqiao_domain::time::local_date(t.app.now()) + chrono::Duration::days(30))
            .to_string();
        let csrf = t.get(&format!("/cases/{id}/room"), &h).await.csrf();
        let r = t
            .post(
                &format!("/cases/{id}/room/agreement"),
                &h,
                &[
                    ("csrf", &csrf),
                    ("facts", "双方因围墙越界0.3米发生争执。"),
                    ("terms", "李明于三十日内拆除越界围墙，王建华不再追究。"),
                    ("sign_0", "on"),
                    ("sign_1", "on"),
                    ("o1_party", "1"),
                    ("o1_what", "拆除越界围墙"),
                    ("o1_amount", ""),
                    ("o1_due", &due),
                ],
            )
            .await;
        assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.text());
        // A 1×1 PNG as a drawn signature.
        let png = base64::engine::general_purpose::STANDARD
            .decode("iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg==")
            .unwrap();
        let data_url = format!(
            "data:image/png;base64,{}",
            base64::engine::general_purpose::STANDARD.encode(&png)
        );
        for (i, (link, cookie)) in links.iter().zip(&cookies).enumerate() {
            let page = t.get(&format!("/room/{link}"), cookie).await;
            assert!(
                page.text().contains("李明于三十日内拆除越界围墙"),
                "{}",
                page.text()
            );
            let csrf = page.csrf();
            let r = t
                .post(
                    &format!("/room/{link}/sign-code"),
                    cookie,
                    &[("csrf", &csrf)],
                )
                .await;
            assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.text());
            let text = last_sms().await;
            assert!(text.contains("签署"), "{text}");
            let code: String = digits(text.split("验证码为").nth(1).unwrap())
                .chars()
                .take(6)
                .collect();
            // A wrong code signs nothing.
            let wrong = if code == "000000" { "111111" } else { "000000" };
            let r = t
                .post(
                    &format!("/room/{link}/sign"),
                    cookie,
                    &[
                        ("csrf", &csrf),
                        ("version", "1"),
                        ("signature", &data_url),
                        ("code", wrong),
                    ],
                )
                .await;
            assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", t.backend);
            let r = t
                .post(
                    &format!("/room/{link}/sign"),
                    cookie,
                    &[
                        ("csrf", &csrf),
                        ("version", "1"),
                        ("signature", &data_url),
                        ("code", &code),
                    ],
                )
                .await;
            assert_eq!(
                r.status,
                StatusCode::SEE_OTHER,
                "{}: party {i}: {}",
                t.backend,
                r.text()
            );
        }
        // Signed by both: the PDF is the case's file, its SM3 in the log and the audit trail.
        let case = t.app.store.get_case(id).await.unwrap().unwrap();
        let sealed = case
            .state
            .room
            .agreement
            .as_ref()
            .unwrap()
            .sealed
            .clone()
            .expect("sealed");
        let page = t
            .get(&format!("/room/{}", links[0]), &cookies[0])
            .await
            .text();
        assert!(page.contains(&sealed.sm3), "{page}");
        let pdf = t
            .get(
                &format!("/room/{}/files/{}", links[1], sealed.pdf_id),
                &cookies[1],
            )
            .await;
        assert_eq!(pdf.status, StatusCode::OK);
        assert_eq!(fengqiao_app::auth::sm3_hex(&pdf.body), sealed.sm3);
        let text = pdf_text(&pdf.body);
        for want in [
            "人民调解协议书",
            "李明于三十日内拆除越界围墙",
            "王建华",
            "李明",
            "拆除越界围墙",
            "138****2222",
        ] {
            assert!(text.contains(want), "{want} in {text}");
        }
        assert!(!text.contains("13811112222"));
        t.app.flush_audit().await;
        let trail = t.app.store.audit_records(0, 10_000).await.unwrap();
        let rec = trail
            .iter()
            .find(|r| r.record.action.as_str() == "agreement_sealed")
            .expect("audited");
        assert!(
            rec.record.detail.contains(&sealed.sm3),
            "{:?}",
            rec.record.detail
        );
        assert_eq!(t.app.verify_audit().await.unwrap().problems, vec![]);
        // The day before the obligation falls due, its party is reminded by SMS, once.
        let due_day = chrono::NaiveDate::parse_from_str(&due, "%Y-%m-%d").unwrap();
        t.clock
            .set(local_instant(due_day - chrono::Duration::days(1), 9, 0));
        t.app.sweep_deadlines().await.unwrap();
        let reminder = last_sms().await;
        assert!(
            reminder.contains("协议履行提醒") && reminder.contains("拆除越界围墙"),
            "{reminder}"
        );
        t.app.sweep_deadlines().await.unwrap();
        t.app.run_courier().await.unwrap();
        assert_eq!(
            sms.lock()
                .unwrap()
                .iter()
                .filter(|m| m.contains("协议履行提醒"))
                .count(),
            1
        );
        let h = t.login("u02staff").await;
        // No more drafts; the mediator records the obligation honoured.
        let csrf = t.get(&format!("/cases/{id}/room"), &h).await.csrf();
        let r = t
            .post(
                &format!("/cases/{id}/room/agreement"),
                &h,
                &[("csrf", &csrf), ("terms", "改")],
            )
            .await;
        assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
        let r = t
            .post(
                &format!("/cases/{id}/room/performance"),
                &h,
                &[
                    ("csrf", &csrf),
                    ("no", "1"),
                    ("honoured", "yes"),
                    ("note", ""),
                ],
            )
            .await;
        assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.text());
        assert!(t
            .get(&format!("/cases/{id}/room"), &h)
            .await
            .text()
            .contains("已履行"));
        // The package for judicial confirmation: the agreement as signed, the parties masked,
        // the evidence list; then the request to the court and its answer are tracked.
        let z = t.get(&format!("/cases/{id}/room/judicial.zip"), &h).await;
        assert_eq!(z.status, StatusCode::OK);
        let mut zip = zip::ZipArchive::new(std::io::Cursor::new(z.body)).unwrap();
        let mut read = |name: &str| {
            let mut b = Vec::new();
            zip.by_name(name).unwrap().read_to_end(&mut b).unwrap();
            b
        };
        assert_eq!(
            fengqiao_app::auth::sm3_hex(&read("调解协议书.pdf")),
            sealed.sm3
        );
        let parties_csv = String::from_utf8(read("当事人.csv")).unwrap();
        assert!(parties_csv.contains("李明") && parties_csv.contains("139****4444"));
        assert!(!parties_csv.contains("13933334444"));
        assert!(String::from_utf8(read("证据清单.csv"))
            .unwrap()
            .contains("SM3"));
        assert!(String::from_utf8(read("说明.txt"))
            .unwrap()
            .contains(&sealed.sm3));
        // Not for the parties, nor for a unit that does not handle the case.
        assert_eq!(
            t.get(&format!("/cases/{id}/room/judicial.zip"), &cookies[0])
                .await
                .status,
            StatusCode::SEE_OTHER
        );
        let other = t.login("u03staff").await;
        assert_eq!(
            t.get(&format!("/cases/{id}/room/judicial.zip"), &other)
                .await
                .status,
            StatusCode::NOT_FOUND
        );
        let csrf = t.get(&format!("/cases/{id}/room"), &h).await.csrf();
        let r = t
            .post(
                &format!("/cases/{id}/room/judicial"),
                &h,
                &[
                    ("csrf", &csrf),
                    ("op", "request"),
                    ("court", "青溪县人民法院"),
                ],
            )
            .await;
        assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.text());
        let r = t
            .post(
                &format!("/cases/{id}/room/judicial"),
                &h,
                &[
                    ("csrf", &csrf),
                    ("op", "answer"),
                    ("confirmed", "yes"),
                    ("note", "裁定确认协议有效"),
                ],
            )
            .await;
        assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.text());
        let room = t.get(&format!("/cases/{id}/room"), &h).await.text();
        assert!(
            room.contains("青溪县人民法院") && room.contains("裁定确认协议有效"),
            "{room}"
        );
    }
);

on_both!(
    a_dispatcher_asks_an_expert_who_then_sees_only_that_case,
    |t: T| async move {
        let code = t
            .citizen_submit(
                "承包地边界被邻居挪了界桩，双方争执，想问法律上怎么认定。",
                "k-expert",
            )
            .await;
        let other = t
            .citizen_submit("隔壁养狗夜里一直叫，影响休息。", "k-expert-2")
            .await;
        let id = t.case_id(&code).await;
        let d = t.login("dispatcher").await;
        let page = t.get(&format!("/cases/{id}"), &d).await.text();
        assert!(page.contains("value=\"add_expert\""), "{}", t.backend);
        let expert = t
            .app
            .store
            .get_user_by_username("expert")
            .await
            .unwrap()
            .unwrap();
        assert!(page.contains(&format!("<option value=\"{}\">", expert.id)));
        // The centre records the expert's specialties: the offer names them.
        let a = t.login("admin").await;
        let pool = t.get("/admin/experts", &a).await;
        assert_eq!(pool.status, StatusCode::OK);
        let r = t
            .post(
                "/admin/experts",
                &a,
                &[
                    ("csrf", &pool.csrf()),
                    ("user_id", &expert.id.to_string()),
                    ("specialty", "land"),
                    ("specialty", "law"),
                    ("available", "on"),
                ],
            )
            .await;
        assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.text());
        let page = t.get(&format!("/cases/{id}"), &d).await.text();
        assert!(page.contains("土地房产"), "{}", t.backend);
        let p = t
            .post(
                &format!("/cases/{id}/act"),
                &d,
                &[
                    ("csrf", &t.csrf(&d).await),
                    ("action", "add_expert"),
                    ("user_id", &expert.id.to_string()),
                    ("question", "界桩被挪动，土地承包经营权如何举证？"),
                ],
            )
            .await;
        assert_eq!(p.status, StatusCode::SEE_OTHER, "{}", p.text());
        let page = t.get(&format!("/cases/{id}"), &d).await.text();
        assert!(page.contains(&expert.display_name) && page.contains("value=\"remove_expert\""));
        let e = t.login("expert").await;
        let list = t.get("/cases", &e).await.text();
        assert!(
            list.contains(&code) && !list.contains(&other),
            "{}",
            t.backend
        );
        assert_eq!(
            t.get(&format!("/cases/{id}"), &e).await.status,
            StatusCode::OK
        );
        let other_id = t.case_id(&other).await;
        assert_eq!(
            t.get(&format!("/cases/{other_id}"), &e).await.status,
            StatusCode::NOT_FOUND
        );
        // The expert answers in writing; the dispatcher who asked is told, the time is shown.
        let page = t.get(&format!("/cases/{id}"), &e).await;
        assert!(page.text().contains("id=\"answer-form\""), "{}", t.backend);
        t.clock.advance(3 * 3_600_000);
        let r = t
            .post(
                &format!("/cases/{id}/act"),
                &e,
                &[
                    ("csrf", &page.csrf()),
                    ("action", "answer_consultation"),
                    (
                        "answer",
                        "可申请村委会出具承包合同和界址图，必要时申请测绘。",
                    ),
                ],
            )
            .await;
        assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.text());
        let page = t.get(&format!("/cases/{id}"), &d).await.text();
        assert!(
            page.contains("必要时申请测绘") && page.contains("3.0"),
            "{page}"
        );
        let dispatcher = t
            .app
            .store
            .get_user_by_username("dispatcher")
            .await
            .unwrap()
            .unwrap();
        let inbox = t
            .app
            .store
            .list_notifications(dispatcher.id, false, 20)
            .await
            .unwrap();
        assert!(
            inbox.iter().any(|n| n.kind == "consultation_answered"),
            "{inbox:?}"
        );
        // Another account may not answer for the expert.
        let r = t
            .post(
                &format!("/cases/{id}/act"),
                &d,
                &[
                    ("csrf", &t.csrf(&d).await),
                    ("action", "answer_consultation"),
                    ("answer", "代答"),
                ],
            )
            .await;
        assert_ne!(r.status, StatusCode::SEE_OTHER);
        let pool = t.get("/admin/experts", &a).await.text();
        assert!(pool.contains("checked> 土地房产"), "{pool}");
    }
);

/// A WebSocket handshake written by hand to the server on loopback: the status line, and the
/// stream when it was switched.
async fn ws_handshake(
    addr: std::net::SocketAddr,
    path: &str,
    cookie: &str,
    origin: &str,
) -> (String, tokio::net::TcpStream) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut sock = tokio::net::TcpStream::connect(addr).await.unwrap();
    let req = format!(
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\
         Origin: {origin}\r\nCookie: {cookie}\r\n\r\n"
    );
    sock.write_all(req.as_bytes()).await.unwrap();
    let mut head = Vec::new();
    let mut b = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        assert_eq!(sock.read(&mut b).await.unwrap(), 1, "the server answers");
        head.push(b[0]);
    }
    let head = String::from_utf8(head).unwrap();
    (head.lines().next().unwrap().to_string(), sock)
}

/// The first text frame from the server (server frames are not masked).
async fn ws_text(sock: &mut tokio::net::TcpStream) -> String {
    use tokio::io::AsyncReadExt;
    let mut h = [0u8; 2];
    sock.read_exact(&mut h).await.unwrap();
    assert_eq!(h[0] & 0x0f, 1, "a text frame");
    let len = match h[1] & 0x7f {
        126 => {
            let mut l = [0u8; 2];
            sock.read_exact(&mut l).await.unwrap();
            usize::from(u16::from_be_bytes(l))
        }
        n => usize::from(n),
    };
    let mut body = vec![0u8; len];
    sock.read_exact(&mut body).await.unwrap();
    String::from_utf8(body).unwrap()
}

on_both!(
    video_lets_in_the_parties_and_mediators_relays_and_records_attendance,
    |t: T| async move {
        use fengqiao_app::AppError;
        use fengqiao_domain::access::Actor;
        use fengqiao_domain::workflow::{Command, EventKind};
        use fengqiao_domain::DomainError;
        let code = t
            .citizen_submit(
                "隔壁装修占用楼道堆放建材，多次沟通无果，想线上调解。",
                "k-video",
            )
            .await;
        let id = t.case_id(&code).await;
        let by_name = |name: &'static str| {
            let app = t.app.clone();
            async move {
                fengqiao_app::auth::actor_of(
                    &app.store.get_user_by_username(name).await.unwrap().unwrap(),
                )
            }
        };
        let handler = by_name("u02staff").await;
        let outsider = by_name("u03staff").await;
        let expert = by_name("expert").await;
        into_mediation(&t, id, &handler).await;
        let system = Actor::system();
        let party = Actor::room_party(0);
        fn not_open<T>(r: Result<T, AppError>) -> bool {
            matches!(
                r,
                Err(AppError::Domain(DomainError::Validation {
                    field: "no",
                    ..
                }))
            )
        }
        // No session yet; then one in two hours, whose video opens half an hour before.
        assert!(not_open(t.app.video_check(&handler, id, 1).await));
        let now = t.app.now();
        let schedule = Command::ScheduleSession {
            at: now + 2 * 3_600_000,
            online: true,
            place: None,
            note: "线上调解".into(),
        };
        t.app.act(&handler, id, &schedule).await.unwrap();
        assert!(not_open(t.app.video_check(&handler, id, 1).await));
        let h = t.login("u02staff").await;
        let closed = t.get(&format!("/cases/{id}/room/video/1"), &h).await;
        assert_eq!(closed.status, StatusCode::CONFLICT, "{}", t.backend);
        assert!(closed.text().contains("video-closed"));
        assert!(!t
            .get(&format!("/cases/{id}/room"), &h)
            .await
            .text()
            .contains("video-join"));
        t.clock.advance(100 * 60_000);
        t.app.video_check(&handler, id, 1).await.unwrap();
        let room = t.get(&format!("/cases/{id}/room"), &h).await.text();
        assert!(
            room.contains(&format!("href=\"/cases/{id}/room/video/1\"")),
            "{}",
            t.backend
        );
        let page = t.get(&format!("/cases/{id}/room/video/1"), &h).await;
        assert_eq!(page.status, StatusCode::OK);
        assert!(page
            .text()
            .contains(&format!("data-ws=\"/cases/{id}/room/video/1/ws\"")));
        assert!(page.text().contains("/static/video.js"));
        // Who may not: a party not yet in the room, another town's unit, an expert not
        // consulted on the case, a session that does not exist.
        assert!(matches!(
            t.app.video_check(&party, id, 1).await,
            Err(AppError::Domain(DomainError::Forbidden))
        ));
        assert!(t.app.video_check(&outsider, id, 1).await.is_err());
        assert!(t.app.video_check(&expert, id, 1).await.is_err());
        assert!(not_open(t.app.video_check(&handler, id, 2).await));
        for c in [
            Command::InviteParty {
                party_index: 0,
                phone: None,
            },
            Command::SendRoomCode { party_index: 0 },
            Command::JoinRoom { party_index: 0 },
        ] {
            t.app.act(&system, id, &c).await.unwrap();
        }
        // Joining and leaving are the application's to record, not anyone's to claim.
        let claim = Command::JoinVideo {
            no: 1,
            party_index: None,
            user_id: Some(handler.user_id),
        };
        assert!(t.app.act(&handler, id, &claim).await.is_err());
        // The consulted expert may come in too.
        t.app
            .act(
                &handler,
                id,
                &Command::AddExpert {
                    user_id: expert.user_id,
                    question: "楼道堆放建材是否违反物业管理规定？".into(),
                },
            )
            .await
            .unwrap();
        t.app.video_check(&expert, id, 1).await.unwrap();
        // The room offers the video to those who may come in, not to everyone who sees it.
        let dispatcher = by_name("dispatcher").await;
        assert!(t
            .app
            .room_view(&dispatcher, id)
            .await
            .unwrap()
            .video_open
            .is_empty());
        assert_eq!(
            t.app.room_view(&expert, id).await.unwrap().video_open,
            vec![1]
        );
        // An online session scheduled now is announced to the consulted expert.
        let later = Command::ScheduleSession {
            at: t.app.now() + 86_400_000,
            online: true,
            place: None,
            note: "第二次线上调解".into(),
        };
        t.app.act(&handler, id, &later).await.unwrap();
        t.app.run_courier().await.unwrap();
        let told = t
            .app
            .store
            .list_notifications(expert.user_id, false, 10)
            .await
            .unwrap();
        assert!(
            told.iter().any(|n| n.kind == "session_scheduled"),
            "{}: {told:?}",
            t.backend
        );

        // The mediator and the party meet: each is told of the other, signals pass.
        let mut a = t.app.video_enter(&handler, id, 1).await.unwrap();
        let welcome: serde_json::Value = serde_json::from_str(&a.welcome).unwrap();
        assert_eq!(welcome["type"], "welcome");
        assert_eq!(welcome["peers"].as_array().unwrap().len(), 0);
        let b = t.app.video_enter(&party, id, 1).await.unwrap();
        let welcome: serde_json::Value = serde_json::from_str(&b.welcome).unwrap();
        assert_eq!(welcome["peers"][0]["id"], a.id);
        let joined: serde_json::Value =
            serde_json::from_str(&a.outgoing.recv().await.unwrap()).unwrap();
        assert_eq!(joined["type"], "peer_joined");
        assert!(joined["peer"]["name"].as_str().unwrap().contains("（"));
        let offer = serde_json::json!({"type": "signal", "to": a.id, "data": {"sdp": {"type": "offer", "sdp": "v=0"}}});
        t.app.video_relay(&b, &offer.to_string());
        let got: serde_json::Value =
            serde_json::from_str(&a.outgoing.recv().await.unwrap()).unwrap();
        assert_eq!(got["from"], b.id);
        assert_eq!(got["data"]["sdp"]["type"], "offer");
        // Too big, or not a signal: dropped.
        t.app.video_relay(&b, &"x".repeat(70_000));
        t.app.video_relay(&b, "{\"type\":\"hello\"}");
        assert!(a.outgoing.try_recv().is_err());
        // Six at most.
        let mut more = Vec::new();
        for _ in 0..4 {
            more.push(t.app.video_enter(&handler, id, 1).await.unwrap());
        }
        assert!(matches!(
            t.app.video_enter(&expert, id, 1).await,
            Err(AppError::VideoFull(6))
        ));
        for p in more {
            t.app.video_leave(p).await;
        }
        t.app.video_leave(b).await;

        // Through the WebSocket: refused from another site's page and without a session;
        // let in with the mediator's session, welcomed with the one already there.
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let router = t.router.clone();
        tokio::spawn(async move {
            axum::serve(
                listener,
                router.into_make_service_with_connect_info::<std::net::SocketAddr>(),
            )
            .await
            .unwrap();
        });
        let ws = format!("/cases/{id}/room/video/1/ws");
        let me = format!("http://{addr}");
        let (line, _) = ws_handshake(addr, &ws, &h, "http://evil.example").await;
        assert!(line.contains(" 403 "), "{line}");
        let (line, _) = ws_handshake(addr, &ws, "", &me).await;
        assert!(line.contains(" 401 "), "{line}");
        let (line, _) = ws_handshake(addr, &format!("/cases/{id}/room/video/2/ws"), &h, &me).await;
        assert!(line.contains(" 400 "), "{line}");
        let (line, mut sock) = ws_handshake(addr, &ws, &h, &me).await;
        assert!(line.contains(" 101 "), "{line}");
        let welcome: serde_json::Value = serde_json::from_str(&ws_text(&mut sock).await).unwrap();
        assert_eq!(welcome["type"], "welcome");
        assert_eq!(welcome["peers"][0]["id"], a.id);
        let socket_peer = welcome["you"].clone();
        assert!(socket_peer.is_u64(), "{welcome}");
        drop(sock);
        // The connection's end is noticed: its own peer_left (the queue also holds those of
        // the peers that left before; taking one of theirs raced the socket's end).
        let mut left = false;
        for _ in 0..100 {
            let m: serde_json::Value =
                serde_json::from_str(&a.outgoing.recv().await.unwrap()).unwrap();
            if m["type"] == "peer_left" && m["id"] == socket_peer {
                left = true;
                break;
            }
        }
        assert!(left, "{}", t.backend);
        let now_in = t.app.room_view(&handler, id).await.unwrap().attendance;
        assert_eq!(
            now_in.iter().filter(|x| x.connected).count(),
            1,
            "{}",
            t.backend
        );
        t.app.video_leave(a).await;

        // The attendance: seven comings in, each with its leaving; the room shows them.
        let mut att = Vec::new();
        for _ in 0..50 {
            let case = t.app.store.get_case(id).await.unwrap().unwrap();
            att = case.state.room.sessions[0].attendance.clone();
            if att.iter().all(|a| a.left_at.is_some()) {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
        assert_eq!(att.len(), 7, "{}", t.backend);
        assert!(att.iter().all(|a| a.left_at.is_some()), "{att:?}");
        assert_eq!(att.iter().filter(|a| a.party_index == Some(0)).count(), 1);
        let events = t.app.store.case_events(id).await.unwrap();
        let n = |f: fn(&EventKind) -> bool| events.iter().filter(|e| f(&e.kind)).count();
        assert_eq!(n(|k| matches!(k, EventKind::VideoJoined { .. })), 7);
        assert_eq!(n(|k| matches!(k, EventKind::VideoLeft { .. })), 7);
        let room = t.get(&format!("/cases/{id}/room"), &h).await.text();
        assert!(room.contains("class=\"attendance\""), "{}", t.backend);
        let api = t.app.room_view(&handler, id).await.unwrap();
        assert_eq!(api.attendance.len(), 7);
        assert!(api.attendance.iter().any(|a| a.party_index == Some(0)));
        assert!(api.attendance.iter().all(|a| !a.connected));
        // A joining whose connection this server does not hold (it was let in before a
        // restart) is not shown as connected, nor given a leaving time it never had.
        let before_restart = Command::JoinVideo {
            no: 1,
            party_index: None,
            user_id: Some(handler.user_id),
        };
        t.app.act(&system, id, &before_restart).await.unwrap();
        let stale = t.app.room_view(&handler, id).await.unwrap().attendance;
        assert!(stale.iter().any(|a| a.left_at.is_none() && !a.connected));
        assert!(t
            .get(&format!("/cases/{id}/room"), &h)
            .await
            .text()
            .contains("未记录"));
    }
);

/// The language switch returns to the page it was pressed on (a party stays in their room),
/// never to another site's.
#[tokio::test]
async fn the_language_switch_returns_to_the_page_it_was_pressed_on() {
    let t = spawn("sqlite").await;
    let switch = |referer: &'static str, back: &'static str| {
        let router = t.router.clone();
        async move {
            let mut b = Request::builder()
                .uri(format!("/lang/en{back}"))
                .header(header::HOST, "tiaojie.example.cn");
            if !referer.is_empty() {
                b = b.header(header::REFERER, referer);
            }
            let res = router
                .oneshot(b.body(Body::empty()).unwrap())
                .await
                .unwrap();
            assert!(res.status().is_redirection());
            assert!(res
                .headers()
                .get(header::SET_COOKIE)
                .unwrap()
                .to_str()
                .unwrap()
                .starts_with("lang=en"));
            res.headers()
                .get(header::LOCATION)
                .unwrap()
                .to_str()
                .unwrap()
                .to_string()
        }
    };
    assert_eq!(
        switch("https://tiaojie.example.cn/room/7-0-3-abc?x=1", "").await,
        "/room/7-0-3-abc?x=1"
    );
    assert_eq!(switch("https://evil.example/room/7", "").await, "/");
    assert_eq!(
        switch("https://tiaojie.example.cn.evil.example/x", "").await,
        "/"
    );
    assert_eq!(switch("", "").await, "/");
    assert_eq!(
        switch("https://tiaojie.example.cn/room/7", "?back=/workbench").await,
        "/workbench"
    );
    assert_eq!(switch("", "?back=//evil.example").await, "/");
}
