//! `fengqiao bench …`: the figures the issues name, measured end to end over loopback HTTP
//! against a fresh database. Results go to BENCHMARKS.md by hand, with date and machine.
use crate::{build_demo, start_app};
use anyhow::{anyhow, bail, Context, Result};
use clap::Subcommand;
use fengqiao_app::App;
use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper_util::client::legacy::{connect::HttpConnector, Client};
use hyper_util::rt::TokioExecutor;
use serde_json::{json, Value};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

#[derive(Subcommand)]
pub enum Bench {
    /// Case intake over HTTP: N concurrent clients submit cases for a while. The texts are the
    /// demo corpus's complaints (each is read and compared with the last 30 days' cases).
    Intake {
        #[arg(long, default_value_t = 64)]
        clients: usize,
        #[arg(long, default_value_t = 20)]
        seconds: u64,
        /// Submit one text over and over (every case a duplicate of the last: the worst case).
        #[arg(long)]
        same_text: bool,
        /// Offered load in cases per second over all clients (0: each client submits as fast
        /// as it can, which measures the saturation throughput). With a rate, request i is due
        /// at start + i / rate and its latency counts from that moment, so time spent waiting
        /// for a free client counts too (no coordinated omission).
        #[arg(long, default_value_t = 0)]
        rate: u64,
        /// An empty database to use (default: a fresh SQLite file in a temporary directory).
        #[arg(long)]
        database_url: Option<String>,
    },
    /// Workflow transitions over HTTP (route, accept, session, conclude, feedback per case).
    Transitions {
        #[arg(long, default_value_t = 64)]
        clients: usize,
        #[arg(long, default_value_t = 3_000)]
        cases: usize,
        #[arg(long)]
        database_url: Option<String>,
    },
    /// The text reader on one core: full analyses of 300-character texts per second, and the
    /// time of one 10,000-character text.
    Text {
        #[arg(long, default_value_t = 10)]
        seconds: u64,
    },
    /// Server time of the web pages on a demo database: the workbench and the case page (one
    /// client, sequential requests over loopback), and the bytes of the citizen form's first load.
    Pages {
        #[arg(long, default_value_t = 30_000)]
        cases: u64,
        #[arg(long, default_value_t = 400)]
        requests: usize,
        #[arg(long)]
        database_url: Option<String>,
    },
    /// The cockpit and the reports on a demo database: the cockpit's figures (JSON, as the API
    /// and the page's charts read them) and page for the county and a town, the monthly report
    /// as HTML, PDF and XLSX.
    Cockpit {
        #[arg(long, default_value_t = 30_000)]
        cases: u64,
        #[arg(long, default_value_t = 400)]
        requests: usize,
        #[arg(long)]
        database_url: Option<String>,
        /// Use the database as it is (e.g. one made by `fengqiao generate`) instead of
        /// generating the demo into it.
        #[arg(long)]
        existing: bool,
    },
    /// Full-text search on a demo database (or an existing one): the index rebuilt from the
    /// database (cases/s), then searches over the API as the county leader and a town's staff.
    Search {
        #[arg(long, default_value_t = 30_000)]
        cases: u64,
        #[arg(long, default_value_t = 400)]
        requests: usize,
        #[arg(long)]
        database_url: Option<String>,
        /// Use the database as it is (e.g. one made by `fengqiao generate`).
        #[arg(long)]
        existing: bool,
        /// Instead: this many demo cases generated in memory straight into an index on disk
        /// (no database, no HTTP), to measure the index alone at sizes the disk cannot hold
        /// as a database.
        #[arg(long)]
        synthetic: Option<u64>,
    },
    /// The other systems' exports of a demo county (six channels, one record in four a
    /// re-report of a recent case with realistic variation) imported through their mappings:
    /// rows per second, and the automatic duplicate links scored (precision, recall).
    Import {
        #[arg(long, default_value_t = 30_000)]
        cases: u64,
        #[arg(long, default_value_t = 1_000)]
        per_channel: usize,
    },
    /// Import speed: a large export of one channel (police, GBK, one record in four a
    /// re-report) streamed from disk into a demo county with de-duplication on, then records
    /// pushed over HTTP in batches of 1,000 by several clients.
    ImportSpeed {
        /// Rows of the file.
        #[arg(long, default_value_t = 1_000_000)]
        rows: usize,
        /// Records pushed (0: skip).
        #[arg(long, default_value_t = 100_000)]
        push: usize,
        /// Cases of the demo county imported into.
        #[arg(long, default_value_t = 3_000)]
        cases: u64,
        /// Also SQLite's own floor: the same number of cases, at the sizes the import stored,
        /// written by SQLite alone (no Rust work), with the store's durability and without.
        #[arg(long)]
        floor: bool,
    },
    /// The early-warning detectors on simulated counties (surges, clusters, workload, the daily
    /// run's time), side by side with R's surveillance package. CPU only, no database.
    Warnings {
        /// Evaluation worlds (with injected surges and clusters).
        #[arg(long, default_value_t = 20)]
        worlds: usize,
        /// Null worlds that set each detector's threshold.
        #[arg(long, default_value_t = 10)]
        calibration: usize,
        /// Held-out null worlds for false alarms and workload.
        #[arg(long, default_value_t = 20)]
        nulls: usize,
        /// Negative-control worlds with a county-wide uniform rise.
        #[arg(long, default_value_t = 5)]
        rises: usize,
        /// Calibration worlds R also runs on.
        #[arg(long, default_value_t = 4)]
        r_calibration: usize,
        #[arg(long)]
        without_r: bool,
        /// Villages of the county the daily run is timed on.
        #[arg(long, default_value_t = 10_000)]
        speed_villages: usize,
        /// Only time the daily run.
        #[arg(long)]
        speed_only: bool,
        /// Only the oracle bound: detectors that read the simulator's true means (what no
        /// real detector knows), beside the production one, at the same false-alarm rate.
        #[arg(long)]
        oracle: bool,
    },
    /// Demo generation into a fresh SQLite file.
    Generate {
        #[arg(long, default_value_t = 30_000)]
        cases: u64,
        #[arg(long)]
        database_url: Option<String>,
    },
}

type HttpClient = Client<HttpConnector, Full<Bytes>>;

struct Target {
    _dir: Option<tempfile::TempDir>,
    app: Arc<App>,
    addr: SocketAddr,
    client: HttpClient,
}

async fn target(database_url: Option<String>, with_reference: bool) -> Result<Target> {
    let (dir, url) = match database_url {
        Some(u) => (None, u),
        None => {
            let d = tempfile::tempdir()?;
            let u = d.path().join("bench.db").to_string_lossy().into_owned();
            (Some(d), u)
        }
    };
    let app = start_app(&url).await?;
    if with_reference {
        let hash = fengqiao_app::auth::hash_password(fengqiao_demo::DEMO_PASSWORD)?;
        fengqiao_demo::seed_reference(app.store.as_ref(), 1, &hash, app.now()).await?;
    }
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    let router = crate::site(app.clone());
    tokio::spawn(async move { axum::serve(listener, router).await });
    let client = Client::builder(TokioExecutor::new())
        .pool_max_idle_per_host(1024)
        .build_http();
    Ok(Target {
        _dir: dir,
        app,
        addr,
        client,
    })
}

async fn call(
    client: &HttpClient,
    addr: SocketAddr,
    token: &str,
    path: &str,
    body: Value,
    key: Option<&str>,
) -> Result<(u16, Value)> {
    let mut req = hyper::Request::post(format!("http://{addr}{path}"))
        .header("content-type", "application/json")
        .header("authorization", format!("Bearer {token}"));
    if let Some(k) = key {
        req = req.header("idempotency-key", k);
    }
    let res = client
        .request(req.body(Full::new(Bytes::from(body.to_string())))?)
        .await?;
    let status = res.status().as_u16();
    let bytes = res.into_body().collect().await?.to_bytes();
    Ok((
        status,
        serde_json::from_slice(&bytes).unwrap_or(Value::Null),
    ))
}

/// A full session of a demo account: with the demo's TOTP secret for those that have one, and
/// enrolling one (databases built before the second factor existed) where the policy asks.
pub async fn token(app: &App, user: &str) -> Result<String> {
    use fengqiao_app::totp;
    use fengqiao_domain::security::SessionStage;
    let r = app.login(user, fengqiao_demo::DEMO_PASSWORD, None).await?;
    let secret = match r.next_step {
        SessionStage::Full => return Ok(r.token),
        SessionStage::SecondFactor => fengqiao_demo::DEMO_TOTP_SECRET.to_string(),
        SessionStage::EnrolSecondFactor => app.begin_totp_enrolment(&r.token).await?.secret,
        SessionStage::ChangePassword => anyhow::bail!("{user} must change the demo password"),
    };
    let key = totp::base32_decode(&secret).unwrap_or_default();
    // A code works once: if this step's was used already, wait for the next step.
    for attempt in 0..2 {
        let code = totp::code(&key, totp::step_of(app.now()));
        let done = if r.next_step == SessionStage::SecondFactor {
            app.verify_second_factor(&r.token, &code).await
        } else {
            app.confirm_totp_enrolment(&r.token, &code).await
        };
        if done.is_ok() {
            return Ok(r.token);
        }
        anyhow::ensure!(attempt == 0, "{user}: the TOTP code was refused");
        let wait = (totp::step_of(app.now()) + 1) * totp::STEP_MS - app.now();
        tokio::time::sleep(std::time::Duration::from_millis(wait.max(0) as u64 + 50)).await;
    }
    Ok(r.token)
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}

fn report(name: &str, ops: u64, errors: u64, elapsed: Duration, mut lat_ms: Vec<f64>) {
    lat_ms.sort_by(|a, b| a.total_cmp(b));
    println!(
        "{name}: {ops} ok, {errors} errors in {:.2} s = {:.0}/s; latency ms p50 {:.2} p95 {:.2} p99 {:.2} max {:.2}",
        elapsed.as_secs_f64(),
        ops as f64 / elapsed.as_secs_f64(),
        percentile(&lat_ms, 0.5),
        percentile(&lat_ms, 0.95),
        percentile(&lat_ms, 0.99),
        lat_ms.last().copied().unwrap_or(f64::NAN),
    );
}

fn case_body(i: u64, village: &str) -> Value {
    json!({
        "channel": "hotline_12345",
        "text": format!("第{i}号来电：邻居在公共楼道堆放杂物，影响通行和消防安全，多次沟通无果，请求协调处理。"),
        "parties": [{"name": "张某", "role": "applicant", "phone": format!("138{:08}", i % 100_000_000)},
                    {"name": "李某", "role": "respondent"}],
        "dispute_type": "neighbourhood",
        "node_code": village,
        "amount_fen": 350000
    })
}

/// Latencies and errors of a load run, shared by its client tasks.
#[derive(Default)]
struct Load {
    errors: AtomicU64,
    latencies_ms: Mutex<Vec<f64>>,
}

impl Load {
    /// Records one request: its latency when it got the expected status, an error otherwise.
    fn record(&self, started: Instant, expected: u16, outcome: Result<(u16, Value)>) {
        match outcome {
            Ok((status, _)) if status == expected => {
                if let Ok(mut l) = self.latencies_ms.lock() {
                    l.push(started.elapsed().as_secs_f64() * 1000.0);
                }
            }
            other => {
                if self.errors.fetch_add(1, Ordering::Relaxed) == 0 {
                    eprintln!("first error: {other:?}");
                }
            }
        }
    }
}

/// Runs `clients` concurrent tasks of `work` and prints the report.
async fn drive<F, Fut>(name: &str, clients: usize, work: F) -> Result<()>
where
    F: Fn(Arc<Load>) -> Fut,
    Fut: std::future::Future<Output = ()> + Send + 'static,
{
    let load = Arc::new(Load::default());
    let started = Instant::now();
    let tasks: Vec<_> = (0..clients)
        .map(|_| tokio::spawn(work(load.clone())))
        .collect();
    for task in tasks {
        task.await?;
    }
    let elapsed = started.elapsed();
    let lat = std::mem::take(&mut *load.latencies_ms.lock().map_err(|_| anyhow!("lock"))?);
    report(
        &format!("{name} ({clients} clients)"),
        lat.len() as u64,
        load.errors.load(Ordering::Relaxed),
        elapsed,
        lat,
    );
    Ok(())
}

fn bench_text(seconds: u64) -> Result<()> {
    let analyzer = crate::eval::demo_analyzer()?;
    let corpus = fengqiao_demo::labelled_corpus(7, 2_000, crate::eval::corpus_until())?;
    // 300-character texts: demo complaints joined and cut.
    let mut texts = Vec::new();
    let mut cur = String::new();
    for t in &corpus {
        cur.push_str(&t.text);
        if cur.chars().count() >= 300 {
            texts.push(cur.chars().take(300).collect::<String>());
            cur.clear();
        }
    }
    let report = chrono::NaiveDate::from_ymd_opt(2026, 6, 30)
        .and_then(|d| d.and_hms_opt(10, 0, 0))
        .unwrap_or_default();
    let stop = Instant::now() + Duration::from_secs(seconds);
    let started = Instant::now();
    let (mut n, mut checksum) = (0u64, 0usize);
    while Instant::now() < stop {
        for t in texts.iter().take(200) {
            let a = analyzer.analyze(t, report)?;
            checksum += a.persons.len() + a.times.len();
            n += 1;
        }
    }
    let secs = started.elapsed().as_secs_f64();
    println!(
        "text: {n} analyses of 300-character texts in {secs:.2} s on one thread: {:.0} texts/s ({:.1} µs each; {} distinct texts; checksum {checksum})",
        n as f64 / secs,
        secs * 1e6 / n as f64,
        texts.len().min(200)
    );
    // Where the time goes, per extractor.
    {
        use fengqiao_text::{classify, money, person, place, risk, time, Doc};
        let sample: Vec<&String> = texts.iter().take(200).collect();
        let mut parts: Vec<(&str, f64)> = Vec::new();
        macro_rules! part {
            ($name:expr, $f:expr) => {{
                let t0 = Instant::now();
                for t in &sample {
                    let d = Doc::new(t, fengqiao_text::MAX_CHARS);
                    #[allow(clippy::redundant_closure_call)]
                    std::hint::black_box(($f)(&d));
                }
                parts.push((
                    $name,
                    t0.elapsed().as_secs_f64() * 1e6 / sample.len() as f64,
                ));
            }};
        }
        part!("doc", |_d: &Doc| 0);
        part!("persons", |d: &Doc| person::extract(d).0.len());
        part!("headcount", |d: &Doc| person::headcount(d).is_some());
        part!("places", |d: &Doc| place::extract(d, analyzer.gazetteer())
            .len());
        part!("times", |d: &Doc| time::extract(d, report).len());
        part!("money", |d: &Doc| money::extract(d).len()
            + money::personal_numbers(d).0.len());
        part!("type", |d: &Doc| analyzer.model().classify(d).confidence
            > 0.5);
        part!("cause", |d: &Doc| classify::cause(d).is_some());
        part!("risk", |d: &Doc| risk::assess(d, &[], None, report).score);
        println!(
            "text: µs per 300-character text by part: {}",
            parts
                .iter()
                .map(|(n, us)| format!("{n} {us:.1}"))
                .collect::<Vec<_>>()
                .join(", ")
        );
    }
    // 10,000 characters: real complaints, one long run of digits and numerals, and mixed noise.
    let long_real: String = corpus
        .iter()
        .map(|t| t.text.as_str())
        .collect::<String>()
        .chars()
        .take(10_000)
        .collect();
    let digits: String = "1234567890一二三万元年月日"
        .chars()
        .cycle()
        .take(10_000)
        .collect();
    let noise: String = "😀a１張某某、等，。¥3,5农历正月初八昨天晚上8点"
        .chars()
        .cycle()
        .take(10_000)
        .collect();
    for (name, t) in [
        ("complaints", long_real),
        ("digits and numerals", digits),
        ("mixed noise", noise),
    ] {
        let mut worst = Duration::ZERO;
        for _ in 0..5 {
            let t0 = Instant::now();
            analyzer.analyze(&t, report)?;
            worst = worst.max(t0.elapsed());
        }
        println!(
            "text: 10,000 characters ({name}): worst of 5 runs {:.2} ms",
            worst.as_secs_f64() * 1e3
        );
    }
    Ok(())
}

pub async fn run(what: Bench) -> Result<()> {
    match what {
        Bench::Text { seconds } => bench_text(seconds),
        Bench::Intake {
            clients,
            seconds,
            database_url,
            same_text,
            rate,
        } => {
            let t = target(database_url, true).await?;
            let tok = token(&t.app, "dispatcher").await?;
            // Complaints of the bench county (seed 1), each in its own grid.
            let corpus: Arc<Vec<(String, String)>> = Arc::new(if same_text {
                Vec::new()
            } else {
                fengqiao_demo::labelled_corpus(1, 60_000, crate::eval::corpus_until())?
                    .into_iter()
                    .map(|t| (t.text, t.node_code))
                    .collect()
            });
            let begin = Instant::now();
            let stop = begin + Duration::from_secs(seconds);
            let next = Arc::new(AtomicU64::new(0));
            let name = if rate == 0 {
                "intake".to_string()
            } else {
                format!("intake at {rate}/s offered")
            };
            drive(&name, clients, |load| {
                let (client, tok, next, addr, corpus) = (
                    t.client.clone(),
                    tok.clone(),
                    next.clone(),
                    t.addr,
                    corpus.clone(),
                );
                async move {
                    while Instant::now() < stop {
                        let i = next.fetch_add(1, Ordering::Relaxed);
                        let t0 = if rate == 0 {
                            Instant::now()
                        } else {
                            let due = begin + Duration::from_secs_f64(i as f64 / rate as f64);
                            if due >= stop {
                                break;
                            }
                            tokio::time::sleep_until(due.into()).await;
                            due
                        };
                        let key = format!("bench-{i}");
                        let mut body = case_body(i, "990102001001");
                        if !corpus.is_empty() {
                            let (text, node) = &corpus[i as usize % corpus.len()];
                            body["text"] = json!(text);
                            body["node_code"] = json!(node);
                        }
                        let r = call(&client, addr, &tok, "/api/v1/cases", body, Some(&key)).await;
                        load.record(t0, 201, r);
                    }
                }
            })
            .await
        }
        Bench::Transitions {
            clients,
            cases,
            database_url,
        } => {
            let t = target(database_url, true).await?;
            let disp = token(&t.app, "dispatcher").await?;
            let handler = token(&t.app, "u02staff").await?;
            let unit = t
                .app
                .store
                .get_user_by_username("u02staff")
                .await?
                .and_then(|u| u.unit_id)
                .context("unit")?;
            let mut ids = Vec::with_capacity(cases);
            for i in 0..cases {
                let (s, b) = call(
                    &t.client,
                    t.addr,
                    &disp,
                    "/api/v1/cases",
                    case_body(i as u64, "990102001001"),
                    None,
                )
                .await?;
                anyhow::ensure!(s == 201, "create failed: {b}");
                ids.push(b["id"].as_i64().context("id")?);
            }
            let queue = Arc::new(Mutex::new(ids));
            drive("transitions", clients, |load| {
                let (client, disp, handler, queue, addr) = (t.client.clone(), disp.clone(), handler.clone(), queue.clone(), t.addr);
                async move {
                    while let Some(id) = queue.lock().ok().and_then(|mut q| q.pop()) {
                        let steps = [
                            (&disp, json!({"action": "route", "lead_unit_id": unit})),
                            (&handler, json!({"action": "accept"})),
                            (&handler, json!({"action": "record_session", "date": "2026-11-20", "mediator": "调解员", "place": "调解室", "online": false, "participants": ["张某", "李某"], "notes": "双方同意协商"})),
                            (&handler, json!({"action": "conclude", "outcome": {"kind": "agreement", "agreement": "双方清理楼道，互相谅解"}})),
                            (&handler, json!({"action": "give_feedback", "text": "已办结"})),
                        ];
                        for (tok, body) in steps {
                            let t0 = Instant::now();
                            let r = call(&client, addr, tok, &format!("/api/v1/cases/{id}/actions"), body, None).await;
                            load.record(t0, 200, r);
                        }
                    }
                }
            })
            .await
        }
        Bench::Pages {
            cases,
            requests,
            database_url,
        } => bench_pages(cases, requests, database_url).await,
        Bench::Cockpit {
            cases,
            requests,
            database_url,
            existing,
        } => bench_cockpit(cases, requests, database_url, existing).await,
        Bench::Search {
            synthetic: Some(n),
            requests,
            ..
        } => bench_search_index(n, requests),
        Bench::Search {
            cases,
            requests,
            database_url,
            existing,
            synthetic: None,
        } => bench_search(cases, requests, database_url, existing).await,
        Bench::Import { cases, per_channel } => crate::imports::bench(cases, per_channel).await,
        Bench::ImportSpeed {
            rows,
            push,
            cases,
            floor,
        } => crate::imports::bench_speed(rows, push, cases, floor).await,
        Bench::Warnings {
            worlds,
            calibration,
            nulls,
            rises,
            r_calibration,
            without_r,
            speed_villages,
            speed_only,
            oracle,
        } => crate::bench_warnings::run(&crate::bench_warnings::Options {
            worlds,
            calibration,
            nulls,
            rises,
            r_calibration,
            without_r,
            speed_villages,
            speed_only,
            oracle,
        }),
        Bench::Generate {
            cases,
            database_url,
        } => {
            let t = target(database_url, false).await?;
            let started = Instant::now();
            build_demo(&t.app, cases, 2026, crate::today()).await?;
            let elapsed = started.elapsed();
            println!(
                "generate: {cases} cases (with reference data) in {:.2} s = {:.0} cases/s",
                elapsed.as_secs_f64(),
                cases as f64 / elapsed.as_secs_f64()
            );
            Ok(())
        }
    }
}

/// GET of a page with a session cookie: (status, bytes of head + body, milliseconds).
async fn get_page(t: &Target, path: &str, token: Option<&str>) -> Result<(u16, usize, f64)> {
    let mut req = hyper::Request::get(format!("http://{}{path}", t.addr));
    if let Some(tok) = token {
        // Pages read the session cookie, the API the bearer token.
        req = req
            .header("cookie", format!("fq_session={tok}"))
            .header("authorization", format!("Bearer {tok}"));
    }
    let t0 = Instant::now();
    let res = t.client.request(req.body(Full::new(Bytes::new()))?).await?;
    let status = res.status().as_u16();
    let head: usize = res
        .headers()
        .iter()
        .map(|(k, v)| k.as_str().len() + v.len() + 4)
        .sum::<usize>()
        + 17;
    let body = res.into_body().collect().await?.to_bytes();
    Ok((
        status,
        head + body.len(),
        t0.elapsed().as_secs_f64() * 1000.0,
    ))
}

fn summary(name: &str, mut ms: Vec<f64>) {
    ms.sort_by(|a, b| a.total_cmp(b));
    println!(
        "{name}: {} requests; server time ms p50 {:.2} p95 {:.2} p99 {:.2} max {:.2}",
        ms.len(),
        percentile(&ms, 0.5),
        percentile(&ms, 0.95),
        percentile(&ms, 0.99),
        ms.last().copied().unwrap_or(f64::NAN)
    );
}

async fn bench_pages(cases: u64, requests: usize, database_url: Option<String>) -> Result<()> {
    let t = target(database_url, false).await?;
    let started = Instant::now();
    build_demo(&t.app, cases, 2026, crate::today()).await?;
    println!(
        "demo database: {cases} cases in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    // The citizen form's first load: the page and its stylesheet (it loads no script).
    let (s1, page, _) = get_page(&t, "/c/990102001001", None).await?;
    let (s2, css, _) = get_page(&t, "/static/app.css", None).await?;
    if s1 != 200 || s2 != 200 {
        bail!("citizen form: HTTP {s1} / {s2}");
    }
    println!(
        "citizen form first load: {} bytes (page {page} + stylesheet {css}, uncompressed, headers included)",
        page + css
    );
    for user in ["dispatcher", "u02staff"] {
        let tok = token(&t.app, user).await?;
        let session = t.app.authenticate(&tok).await?;
        let (ids, _, _) = t
            .app
            .list_case_states(
                &session.actor,
                &fengqiao_app::cases::CaseQuery {
                    limit: Some(500),
                    ..Default::default()
                },
            )
            .await?;
        if ids.is_empty() {
            bail!("{user} sees no case");
        }
        let (mut wb, mut cp) = (Vec::new(), Vec::new());
        for i in 0..requests {
            let (s, _, ms) = get_page(&t, "/workbench", Some(&tok)).await?;
            if s != 200 {
                bail!("/workbench: HTTP {s}");
            }
            wb.push(ms);
            let id = ids[(i * 7919) % ids.len()].id;
            let (s, _, ms) = get_page(&t, &format!("/cases/{id}"), Some(&tok)).await?;
            if s != 200 {
                bail!("/cases/{id}: HTTP {s}");
            }
            cp.push(ms);
        }
        summary(&format!("workbench as {user}"), wb);
        summary(&format!("case page as {user}"), cp);
    }
    // QR posters as PDF: one village (the first PDF also loads the fonts), then the whole
    // county, one page per village.
    let tok = token(&t.app, "dispatcher").await?;
    let pages = [
        (
            "village poster PDF, first (loads fonts)",
            "/qr/990102001001.pdf",
        ),
        ("village poster PDF, again", "/qr/990102001001.pdf"),
        ("another village's poster PDF", "/qr/990102002001.pdf"),
        ("county posters PDF (every village)", "/qr/990102.pdf"),
    ];
    once_each(&t, &tok, &pages).await
}

async fn bench_cockpit(
    cases: u64,
    requests: usize,
    database_url: Option<String>,
    existing: bool,
) -> Result<()> {
    let t = target(database_url, false).await?;
    if !existing {
        let started = Instant::now();
        build_demo(&t.app, cases, 2026, crate::today()).await?;
        println!(
            "demo database: {cases} cases in {:.1} s",
            started.elapsed().as_secs_f64()
        );
    }
    let all = fengqiao_store::CaseFilter {
        visibility: fengqiao_store::Visibility {
            scope_path: Some("/".into()),
            ..Default::default()
        },
        ..Default::default()
    };
    println!(
        "cases in the database: {}",
        t.app.store.count_cases(&all).await?
    );
    let tok = token(&t.app, "leader").await?;
    for (label, path) in [
        (
            "cockpit figures (JSON), county",
            "/cockpit/data?node=990102",
        ),
        (
            "cockpit figures (JSON), town",
            "/cockpit/data?node=990102001",
        ),
        ("cockpit page, county", "/cockpit?node=990102"),
    ] {
        let mut ms = Vec::with_capacity(requests);
        for _ in 0..requests {
            let (s, _, m) = get_page(&t, path, Some(&tok)).await?;
            if s != 200 {
                bail!("{path}: HTTP {s}");
            }
            ms.push(m);
        }
        summary(label, ms);
    }
    let pages = [
        ("monthly report HTML", "/reports/monthly?node=990102"),
        (
            "monthly report PDF, first (loads fonts)",
            "/reports/monthly?node=990102&format=pdf",
        ),
        (
            "monthly report PDF, again",
            "/reports/monthly?node=990102&format=pdf",
        ),
        (
            "monthly report XLSX",
            "/reports/monthly?node=990102&format=xlsx",
        ),
        ("health check of a town", "/reports/health?node=990102001"),
    ];
    once_each(&t, &tok, &pages).await
}

/// Requests each page once and prints its time and size.
async fn once_each(t: &Target, tok: &str, pages: &[(&str, &str)]) -> Result<()> {
    for (label, path) in pages {
        let (s, bytes, ms) = get_page(t, path, Some(tok)).await?;
        if s != 200 {
            bail!("{path}: HTTP {s}");
        }
        println!("{label}: {ms:.1} ms, {bytes} bytes");
    }
    Ok(())
}

async fn bench_search(
    cases: u64,
    requests: usize,
    database_url: Option<String>,
    existing: bool,
) -> Result<()> {
    let t = target(database_url.clone(), false).await?;
    if !existing {
        let started = Instant::now();
        build_demo(&t.app, cases, 2026, crate::today()).await?;
        println!(
            "demo database: {cases} cases in {:.1} s",
            started.elapsed().as_secs_f64()
        );
    }
    let url = match (&database_url, &t._dir) {
        (Some(u), _) => u.clone(),
        (None, Some(d)) => d.path().join("bench.db").to_string_lossy().into_owned(),
        (None, None) => bail!("no database"),
    };
    crate::attach_search(&t.app, &url, crate::Catchup::None)?;
    let started = Instant::now();
    let n = t.app.reindex().await?;
    let secs = started.elapsed().as_secs_f64();
    println!(
        "index build: {n} cases in {secs:.1} s = {:.0} cases/s (into {})",
        n as f64 / secs.max(1e-9),
        crate::search_dir(&url).display()
    );
    let words = SEARCH_WORDS;
    for user in ["leader", "u02staff"] {
        let tok = token(&t.app, user).await?;
        let mut ms = Vec::with_capacity(requests);
        let mut hits = 0u64;
        for i in 0..requests {
            let w = words[i % words.len()];
            let q: String = form_urlencoded::byte_serialize(w.as_bytes()).collect();
            let path = format!("/api/v1/search/cases?q={q}&limit=20");
            let (s, bytes, m) = get_page(&t, &path, Some(&tok)).await?;
            if s != 200 {
                bail!("{path}: HTTP {s}");
            }
            hits += bytes as u64;
            ms.push(m);
        }
        summary(&format!("search as {user} (20 hits a page)"), ms);
        println!(
            "  answers {:.1} KB on average",
            hits as f64 / requests as f64 / 1024.0
        );
    }
    // Similar resolved cases of cases spread over the history, as the leader (county-wide).
    let tok = token(&t.app, "leader").await?;
    let n = t
        .app
        .store
        .cases_after(0, 1)
        .await?
        .first()
        .map_or(1, |c| c.id);
    let step = (cases / requests as u64).max(1) as i64;
    let mut ms = Vec::with_capacity(requests);
    for i in 0..requests as i64 {
        let path = format!("/api/v1/cases/{}/similar?limit=5", n + i * step);
        let (s, _, m) = get_page(&t, &path, Some(&tok)).await?;
        if s != 200 {
            bail!("{path}: HTTP {s}");
        }
        ms.push(m);
    }
    summary(
        "similar resolved cases as leader (5 with how they were settled)",
        ms,
    );
    Ok(())
}

/// Words mediators type: types, things, places of disputes; one and two words.
const SEARCH_WORDS: [&str; 16] = [
    "漏水",
    "拖欠工资",
    "噪音",
    "宅基地",
    "赔偿",
    "物业",
    "离婚",
    "借款",
    "交通事故",
    "装修",
    "邻居 占用",
    "土地 承包",
    "工伤",
    "彩礼",
    "医疗 纠纷",
    "欠款 还款",
];

/// The index alone: `n` demo cases generated in memory (their states as of today) indexed on
/// disk, then searched directly — county-wide and within one town.
fn bench_search_index(n: u64, requests: usize) -> Result<()> {
    use fengqiao_search::{Scope, SearchIndex, SearchQuery};
    let dir = tempfile::tempdir()?;
    let (index, _) = SearchIndex::open(&dir.path().join("search"))?;
    let r = fengqiao_demo::offline_reference(2026)?;
    let opts = fengqiao_demo::Options::ending(2026, n, crate::today());
    let cal = fengqiao_domain::calendar::WorkCalendar::china();
    let rules = fengqiao_domain::deadline::DeadlineRules::default();
    let started = Instant::now();
    let mut generating = 0.0;
    let mut batch = Vec::with_capacity(10_000);
    // Cases to find the like of: spread over the whole history.
    let mut samples: Vec<(i64, String, String, String)> = Vec::with_capacity(requests);
    for i in 0..n {
        let g = Instant::now();
        let (state, events) = fengqiao_demo::case(&r, &opts, i, &cal, &rules)?;
        let c = fengqiao_store::StoredCase {
            id: i as i64 + 1,
            version: events.len() as i64,
            state,
        };
        let d = fengqiao_app::search::case_doc(&c);
        if samples.len() < requests && i % (n / requests as u64).max(1) == 0 {
            samples.push((
                d.id,
                d.text.clone(),
                d.dispute_type.clone(),
                d.node_path.clone(),
            ));
        }
        batch.push(d);
        generating += g.elapsed().as_secs_f64();
        if batch.len() == 10_000 {
            index.upsert(&batch)?;
            batch.clear();
        }
    }
    index.upsert(&batch)?;
    index.commit()?;
    let total = started.elapsed().as_secs_f64();
    let indexing = total - generating;
    println!(
        "index build: {n} cases, {indexing:.1} s indexing = {:.0} cases/s (plus {generating:.1} s generating them); {} docs; {:.0} MB on disk",
        n as f64 / indexing.max(1e-9),
        index.len(),
        dir_size(dir.path()) as f64 / 1e6
    );
    let town = r.county.towns[0].node.path.clone();
    for (label, scope) in [
        ("county-wide", Scope::Everything),
        (
            "one town",
            Scope::Within {
                path: town,
                unit_id: Some(1),
            },
        ),
    ] {
        let mut ms = Vec::with_capacity(requests);
        let mut found = 0usize;
        for i in 0..requests {
            let q = SearchQuery {
                text: SEARCH_WORDS[i % SEARCH_WORDS.len()].to_string(),
                dispute_type: None,
                status: None,
                channel: None,
                place_path: None,
                scope: scope.clone(),
                limit: 20,
                offset: 0,
            };
            let t0 = Instant::now();
            let page = index.search(&q)?;
            ms.push(t0.elapsed().as_secs_f64() * 1000.0);
            found += page.total;
        }
        summary(
            &format!("index search, {label} (20 hits with passages)"),
            ms,
        );
        println!(
            "  {:.0} matching cases a query on average",
            found as f64 / requests as f64
        );
        let mut ms = Vec::with_capacity(samples.len());
        let mut returned = 0usize;
        for (id, text, kind, path) in &samples {
            let q = fengqiao_search::SimilarQuery {
                text: text.clone(),
                dispute_type: Some(kind.clone()),
                node_path: path.clone(),
                outcome_kind: Some("agreement".into()),
                exclude: vec![*id],
                scope: scope.clone(),
                limit: 10,
            };
            let t0 = Instant::now();
            returned += index.similar(&q)?.len();
            ms.push(t0.elapsed().as_secs_f64() * 1000.0);
        }
        summary(
            &format!("similar resolved cases, {label} (10 with their shared words)"),
            ms,
        );
        println!(
            "  {:.1} cases returned a query on average",
            returned as f64 / samples.len().max(1) as f64
        );
    }
    Ok(())
}

fn dir_size(p: &std::path::Path) -> u64 {
    std::fs::read_dir(p)
        .map(|rd| {
            rd.filter_map(|e| e.ok())
                .map(|e| match e.metadata() {
                    Ok(m) if m.is_dir() => dir_size(&e.path()),
                    Ok(m) => m.len(),
                    Err(_) => 0,
                })
                .sum()
        })
        .unwrap_or(0)
}
