//! The `fengqiao` command: the server and its operations.
#![allow(clippy::print_stdout)]
mod bench;
mod bench_warnings;
mod eval;
mod eval_search;
mod imports;

use anyhow::{bail, Context, Result};
use clap::{Parser, Subcommand};
use fengqiao_app::clock::SystemClock;
use fengqiao_app::{App, Settings};
use fengqiao_domain::access::Actor;
use fengqiao_store::seal::Sealer;
use fengqiao_store::Store;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// mimalloc, not glibc's allocator: an import allocates and frees millions of small strings
/// and vectors on several threads, and glibc's free lists (consolidation, unlinking chunks)
/// took a fifth of an import's CPU (`perf`, BENCHMARKS.md).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Parser)]
#[command(
    name = "fengqiao",
    version,
    about = "枫桥 Fengqiao: community dispute resolution platform"
)]
struct Cli {
    #[command(subcommand)]
    command: Cmd,
}

#[derive(clap::Args, Clone)]
struct Db {
    /// A SQLite file path (or sqlite: URL), or a postgres:// URL.
    #[arg(long, env = "FENGQIAO_DATABASE_URL", default_value = "fengqiao.db")]
    database_url: String,
}

#[derive(Subcommand)]
enum Cmd {
    /// Serve the API (the database is created and migrated on start).
    Serve {
        #[command(flatten)]
        db: Db,
        #[arg(long, env = "FENGQIAO_LISTEN", default_value = "127.0.0.1:8080")]
        listen: String,
        /// Seconds between deadline sweeps.
        #[arg(long, default_value_t = 60)]
        sweep_every: u64,
    },
    /// Set up a new deployment: its province, city and county, and the first administrator,
    /// whose one-time password is printed (replaced at the first sign-in, where a second factor
    /// is enrolled). Refused when the database has an administrator already.
    Init {
        #[command(flatten)]
        db: Db,
        /// The county's 6-digit administrative division code (e.g. 330521).
        #[arg(long)]
        county_code: String,
        #[arg(long)]
        county_name: String,
        #[arg(long)]
        city_name: String,
        #[arg(long)]
        province_name: String,
        #[arg(long, default_value = "admin")]
        admin: String,
    },
    /// Build a fresh demo county (deleting the demo database first) and serve it.
    Demo {
        #[arg(long, default_value = "fengqiao-demo.db")]
        database: String,
        #[arg(long, env = "FENGQIAO_LISTEN", default_value = "127.0.0.1:8080")]
        listen: String,
        #[arg(long, default_value_t = 30_000)]
        cases: u64,
        #[arg(long, default_value_t = 2026)]
        seed: u64,
        /// Build the database and exit without serving.
        #[arg(long)]
        no_serve: bool,
    },
    /// Create or upgrade the schema.
    Migrate {
        #[command(flatten)]
        db: Db,
    },
    /// Generate the demo county's cases (and its reference data when the database has none).
    Generate {
        #[command(flatten)]
        db: Db,
        #[arg(long, default_value_t = 30_000)]
        cases: u64,
        #[arg(long, default_value_t = 2026)]
        seed: u64,
        /// Last day of the history (YYYY-MM-DD); today by default.
        #[arg(long)]
        until: Option<chrono::NaiveDate>,
    },
    /// Replay every case's event log and rewrite stored states and projections that differ.
    Rebuild {
        #[command(flatten)]
        db: Db,
        /// Only report differences; exit with an error if there are any.
        #[arg(long)]
        check: bool,
    },
    /// Set jurisdiction boundaries (for the cockpit's map) from a GeoJSON FeatureCollection
    /// whose features carry `properties.code` (or `adcode`).
    ImportBoundaries {
        #[command(flatten)]
        db: Db,
        file: std::path::PathBuf,
    },
    /// Import another system's export (CSV, XLSX, or JSON with --json; UTF-8 or GBK) as cases
    /// through the channel's field mapping (the shipped one, the deployment's, or --mapping
    /// FILE.toml). CSV is streamed: files of any size import in bounded memory.
    /// A record already imported is recognised by its id and updated if it changed; bad rows
    /// are listed with their line numbers and the good rows land.
    Import {
        #[command(flatten)]
        db: Db,
        /// police, court_prelitigation, petition, labour_arbitration, judicial_mediation, hotline_12345
        #[arg(long)]
        channel: String,
        #[arg(long)]
        file: std::path::PathBuf,
        #[arg(long)]
        mapping: Option<std::path::PathBuf>,
        /// The file is a JSON array of records.
        #[arg(long)]
        json: bool,
    },
    /// Write a consistent backup of the live database to FILE.
    Backup {
        #[command(flatten)]
        db: Db,
        file: String,
    },
    /// Measure the figures named in the issues (see BENCHMARKS.md).
    Bench {
        #[command(subcommand)]
        what: bench::Bench,
    },
    /// Evaluate against public data sets (fails when the data folder is missing).
    Eval {
        #[command(subcommand)]
        what: EvalWhat,
    },
    /// Retrain the dispute-type classifier on the cases staff have confirmed and use it.
    TrainClassifier {
        #[command(flatten)]
        db: Db,
        /// Train on the demo corpus instead (the model shipped in crates/text/data/).
        #[arg(long)]
        demo: bool,
        /// With --demo: where to write the model (JSON).
        #[arg(long)]
        out: Option<std::path::PathBuf>,
    },
    /// Rebuild the full-text search index from the database (it lives beside a SQLite file as
    /// `<file>.search/`, or in `FENGQIAO_SEARCH_DIR`).
    Reindex {
        #[command(flatten)]
        db: Db,
    },
    /// Law texts for the legal-basis recommendations.
    Laws {
        #[command(subcommand)]
        what: LawsCmd,
    },
    /// The audit trail (an SM3 hash chain with checkpoints signed by FENGQIAO_AUDIT_KEY).
    Audit {
        #[command(subcommand)]
        what: AuditCmd,
    },
    /// The keys of personal numbers at rest (SM4-GCM, FENGQIAO_DATA_KEYS).
    Keys {
        #[command(subcommand)]
        what: KeysCmd,
    },
    /// Analyse the texts of cases without an analysis by the current reader (`--all`: every case).
    Analyze {
        #[command(flatten)]
        db: Db,
        #[arg(long)]
        all: bool,
    },
}

#[derive(Subcommand)]
enum AuditCmd {
    /// Walk the whole chain and check every checkpoint's signature: reports each edited,
    /// deleted, inserted or reordered record at its number (exit 1 when anything is wrong).
    Verify {
        #[command(flatten)]
        db: Db,
    },
    /// Sign the chain's current end now (the server does it every 1,000 records and at every
    /// deadline sweep).
    Checkpoint {
        #[command(flatten)]
        db: Db,
    },
}

#[derive(Subcommand)]
enum KeysCmd {
    /// Seal every stored personal number under the newest key of FENGQIAO_DATA_KEYS (add the
    /// new key with a higher id, run this, then drop the old one). Values written before
    /// encryption are sealed too. Safe beside a running server: a row changed meanwhile keeps
    /// its newer value (sealed under the newest key already).
    Rotate {
        #[command(flatten)]
        db: Db,
    },
}

#[derive(Subcommand)]
enum LawsCmd {
    /// Import every `*.md` file of DIR (Markdown: `# 法律名称`, then one article a paragraph
    /// `第X条 …`). Re-importing replaces the articles' texts. Problems are listed with their
    /// file and line; the other articles still land.
    Import {
        #[command(flatten)]
        db: Db,
        dir: std::path::PathBuf,
    },
}

#[derive(Subcommand)]
enum EvalWhat {
    /// The text reader: dispute type (CAIL2019-CJRC), spans (CAIL2022), time normalisation
    /// (the project's table), and the held-out demo corpus.
    Text {
        /// Folder with cail2019-cjrc-dev.json and cail2022-xxcq-train.json.
        #[arg(long, default_value = "../shared/data")]
        data: std::path::PathBuf,
        /// Print every time expression read wrongly.
        #[arg(long)]
        verbose: bool,
    },
    /// Similar cases: nDCG@10 and P@5 on the held-out demo corpus and on CAIL2019-CJRC's
    /// civil cases (same 案由 = relevant).
    Search {
        #[arg(long, default_value = "../shared/data")]
        data: std::path::PathBuf,
    },
    /// The legal-basis recommender: hit@5 on the project's labelled cases with the law corpus
    /// of DATA/laws.
    Laws {
        #[arg(long, default_value = "../shared/data")]
        data: std::path::PathBuf,
        /// Print the cases whose articles were all missed.
        #[arg(long)]
        verbose: bool,
    },
}

/// The demo corpus's training part (every text not held out by the evaluation).
pub fn demo_model() -> Result<fengqiao_text::TypeModel> {
    let corpus =
        fengqiao_demo::labelled_corpus(eval::CORPUS_SEED, eval::CORPUS_SIZE, eval::corpus_until())?;
    let train: Vec<_> = corpus.iter().filter(|t| !eval::held_out(t.index)).collect();
    Ok(fengqiao_text::TypeModel::train(
        train.iter().map(|t| (t.text.as_str(), t.dispute_type)),
        &format!(
            "demo corpus seed {} until {}: {} texts (every fifth of {} held out)",
            eval::CORPUS_SEED,
            eval::corpus_until(),
            train.len(),
            eval::CORPUS_SIZE
        ),
    )?)
}

pub async fn open_store(url: &str) -> Result<Arc<dyn Store>> {
    let sealer = sealer_from_env()?;
    if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        Ok(Arc::new(
            fengqiao_store_postgres::PostgresStore::open_sealed(url, sealer)
                .await
                .context("connect to PostgreSQL")?,
        ))
    } else {
        Ok(Arc::new(
            fengqiao_store_sqlite::SqliteStore::open_sealed(url, sealer)
                .await
                .context("open SQLite database")?,
        ))
    }
}

/// The keyring of personal numbers at rest: FENGQIAO_DATA_KEYS (`id:32 hex digits`, comma
/// separated; the highest id seals, every one opens) and FENGQIAO_INDEX_KEY (the blind index's
/// secret). Without them, the demo's published keys, with a warning.
pub fn sealer_from_env() -> Result<Arc<Sealer>> {
    let var = |k: &str| std::env::var(k).ok().filter(|v| !v.trim().is_empty());
    match (var("FENGQIAO_DATA_KEYS"), var("FENGQIAO_INDEX_KEY")) {
        (Some(keys), Some(index)) => Ok(Arc::new(
            Sealer::from_config(&keys, &index)
                .context("FENGQIAO_DATA_KEYS / FENGQIAO_INDEX_KEY")?,
        )),
        (None, None) => {
            tracing::warn!(
                "FENGQIAO_DATA_KEYS is not set: personal numbers are sealed with the demo's published keys"
            );
            Ok(Arc::new(Sealer::demo()))
        }
        _ => bail!("set both FENGQIAO_DATA_KEYS and FENGQIAO_INDEX_KEY, or neither (demo keys)"),
    }
}

/// Where the search index of a database lives: `FENGQIAO_SEARCH_DIR`, else beside a SQLite
/// file (`<file>.search`), else `fengqiao-search` in the working directory.
pub fn search_dir(url: &str) -> std::path::PathBuf {
    if let Some(d) = std::env::var_os("FENGQIAO_SEARCH_DIR") {
        return d.into();
    }
    if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        return "fengqiao-search".into();
    }
    let file = url
        .trim_start_matches("sqlite://")
        .trim_start_matches("sqlite:");
    let file = file.split('?').next().unwrap_or(file);
    format!("{file}.search").into()
}

/// What to do at start about changes the index may have missed (a new or rebuilt index, or
/// cases written by another process, such as `fengqiao import`, while no server ran).
#[derive(Clone, Copy, PartialEq)]
pub enum Catchup {
    None,
    /// Rebuild in the background when the index is new or its count differs from the database's.
    InBackground,
}

/// Opens the search index of a database and attaches it to the app.
pub fn attach_search(app: &Arc<App>, url: &str, catchup: Catchup) -> Result<()> {
    let dir = search_dir(url);
    let (index, fresh) = fengqiao_search::SearchIndex::open(&dir)
        .with_context(|| format!("open the search index in {}", dir.display()))?;
    let indexed = index.len();
    app.attach_search(Arc::new(index));
    if catchup == Catchup::InBackground {
        let app = Arc::clone(app);
        tokio::spawn(async move {
            let cases = match app.store.count_cases(&Default::default()).await {
                Ok(n) => n,
                Err(e) => {
                    tracing::warn!(error = %e, "search index check failed");
                    return;
                }
            };
            if fresh || cases != indexed {
                match app.reindex().await {
                    Ok(n) => tracing::info!(cases = n, "search index rebuilt"),
                    Err(e) => tracing::warn!(error = %e, "search index not rebuilt"),
                }
            }
        });
    }
    Ok(())
}

/// The demo's audit key when FENGQIAO_AUDIT_KEY is not set (a real deployment sets its own).
pub const DEMO_AUDIT_KEY: &str = "fengqiao-demo-audit-key";

pub async fn start_app(url: &str) -> Result<Arc<App>> {
    start_app_keyed(url, None, None).await
}

/// [`start_app`] with an audit key to use when FENGQIAO_AUDIT_KEY is not set (the demo's).
pub async fn start_app_keyed(
    url: &str,
    fallback_audit_key: Option<&str>,
    fallback_public_url: Option<String>,
) -> Result<Arc<App>> {
    let store = open_store(url).await?;
    // FENGQIAO_BEHIND_TLS=1 when a TLS-terminating proxy is in front: Secure cookies and HSTS.
    // FENGQIAO_AUDIT_KEY signs the audit trail's checkpoints (HMAC-SM3); keep it out of the
    // database and its backups.
    let audit_key = std::env::var("FENGQIAO_AUDIT_KEY")
        .ok()
        .filter(|k| !k.is_empty())
        .or(fallback_audit_key.map(str::to_string))
        .map(String::into_bytes);
    if audit_key.is_none() {
        tracing::warn!("FENGQIAO_AUDIT_KEY is not set: audit checkpoints are not signed");
    }
    let settings = Settings {
        behind_tls: std::env::var("FENGQIAO_BEHIND_TLS").is_ok_and(|v| v == "1" || v == "true"),
        audit_key,
        // The address in the links sent to parties by SMS (the room's invitations).
        public_url: std::env::var("FENGQIAO_PUBLIC_URL")
            .ok()
            .filter(|u| u.starts_with("http://") || u.starts_with("https://"))
            .or(fallback_public_url),
        // STUN/TURN for the room's video, e.g.
        // [{"urls":"stun:stun.example.org:3478"},{"urls":"turn:turn.example.org:3478","secret":"…"}]
        ice_servers: match std::env::var("FENGQIAO_ICE_SERVERS") {
            Ok(v) if !v.trim().is_empty() => fengqiao_app::video::parse_ice_servers(&v)
                .map_err(|e| anyhow::anyhow!("FENGQIAO_ICE_SERVERS: {e}"))?,
            _ => Vec::new(),
        },
        ..Settings::default()
    };
    Ok(Arc::new(
        App::start(store, Arc::new(SystemClock), settings).await?,
    ))
}

async fn serve(app: Arc<App>, listen: &str, sweep_every: u64) -> Result<()> {
    app.spawn_deadline_monitor(Duration::from_secs(sweep_every.max(1)));
    // Notifications leave by webhook, e-mail and SMS through the queue in the database.
    app.set_courier(Arc::new(fengqiao_notify::NetCourier::default()));
    app.spawn_courier(Duration::from_secs(5));
    // Cases registered just before a crash may lack their stored analysis: read the last
    // days' (a new analyser version is re-read by `fengqiao analyze`, not at every start).
    let reader = Arc::clone(&app);
    tokio::spawn(async move {
        let since = reader.now() - 3 * 86_400_000;
        match reader.analyze_recent(since).await {
            Ok(0) => {}
            Ok(n) => tracing::info!(cases = n, "analysed cases that had no current analysis"),
            Err(e) => tracing::warn!(error = %e, "case analysis at start failed"),
        }
    });
    let listener = tokio::net::TcpListener::bind(listen)
        .await
        .with_context(|| format!("listen on {listen}"))?;
    let addr = listener.local_addr()?;
    println!("Fengqiao 枫桥 is serving at http://{addr}/  (API docs: http://{addr}/api/docs)");
    // The peer's address reaches handlers (the sign-in rate limit per client).
    axum::serve(
        listener,
        site(app.clone()).into_make_service_with_connect_info::<std::net::SocketAddr>(),
    )
    .with_graceful_shutdown(async {
        let _ = tokio::signal::ctrl_c().await;
    })
    .await?;
    // Case changes' audit records still queued are appended before the process ends.
    app.flush_audit().await;
    Ok(())
}

/// Builds the demo county into an empty database; returns the logins to print.
/// Days of early-warning history the demo computes (last month's report shows them).
const DEMO_WARNING_DAYS: i64 = 40;

/// The demo county as built: its logins, and what the generator needs to add to it.
pub struct BuiltDemo {
    pub logins: Vec<fengqiao_demo::Login>,
    pub reference: fengqiao_demo::Reference,
    pub opts: fengqiao_demo::Options,
}

pub async fn build_demo(
    app: &App,
    cases: u64,
    seed: u64,
    until: chrono::NaiveDate,
) -> Result<BuiltDemo> {
    let hash = fengqiao_app::auth::hash_password(fengqiao_demo::DEMO_PASSWORD)?;
    let (reference, logins) =
        fengqiao_demo::seed_reference(app.store.as_ref(), seed, &hash, app.now()).await?;
    // The accounts the default policy asks a second factor of come enrolled with the demo's
    // published secret (README).
    for name in fengqiao_demo::DEMO_TOTP_USERS {
        if let Some(u) = app.store.get_user_by_username(name).await? {
            app.store
                .set_totp(u.id, Some(fengqiao_demo::DEMO_TOTP_SECRET), true)
                .await?;
        }
    }
    let mut opts = fengqiao_demo::Options::ending(seed, cases, until);
    // A history that ends today ends now, not at the end of the working day.
    opts.now = opts.now.min(
        app.now()
            .max(fengqiao_domain::time::start_of_local_day(until)),
    );
    let started = Instant::now();
    let n = fengqiao_demo::generate_cases(app.store.as_ref(), &reference, &opts, |done| {
        if done % 100_000 == 0 {
            eprintln!("  {done} cases");
        }
    })
    .await?;
    eprintln!(
        "generated {n} cases in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    let started = Instant::now();
    let analysed = app.analyze_cases(false, 1_000).await?;
    eprintln!(
        "analysed {analysed} case texts in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    let started = Instant::now();
    let yesterday = until - chrono::Duration::days(1);
    // A week at a time, with the people acting on what it raised in between.
    let (mut raised, mut acted) = (0, 0);
    let mut from = yesterday - chrono::Duration::days(DEMO_WARNING_DAYS - 1);
    while from <= yesterday {
        let to = (from + chrono::Duration::days(6)).min(yesterday);
        raised += app.backfill_warnings(from, to).await?.raised;
        let now = fengqiao_domain::time::end_of_local_day(to).min(app.now());
        acted += fengqiao_demo::act_on_warnings(app.store.as_ref(), to, now).await?;
        from = to + chrono::Duration::days(1);
    }
    eprintln!(
        "early warning over the last {DEMO_WARNING_DAYS} days: {raised} raised, {acted} acted on, in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    Ok(BuiltDemo {
        logins,
        reference,
        opts,
    })
}

/// Points the SMS gateway at the demo's own inbox (`/demo/sms`).
async fn demo_sms_gateway(app: &App, listen: &str) -> Result<()> {
    use fengqiao_domain::outbound::{HttpMethod, OutboundConfig, SmsConfig};
    app.store
        .put_setting(fengqiao_web::demo_sms::SETTING, "on")
        .await?;
    let mut cfg: OutboundConfig = app.outbound_config().await?;
    cfg.sms = Some(SmsConfig {
        url_template: format!("http://{listen}/demo/sms-gateway?phone={{phone}}&text={{text}}"),
        method: HttpMethod::Get,
        body_template: None,
        kinds: fengqiao_domain::outbound::DEFAULT_SMS_KINDS
            .iter()
            .map(|k| k.to_string())
            .collect(),
    });
    app.put_outbound_config(&Actor::system(), cfg).await?;
    Ok(())
}

/// Opens the room of a few cases in mediation: the lead unit's mediator invites the applicant,
/// who joins and writes; the mediator answers and schedules an online session for tomorrow.
async fn demo_rooms(app: &App) -> Result<usize> {
    use fengqiao_domain::case::{PartyRole, Status};
    use fengqiao_domain::workflow::Command;
    let system = Actor::system();
    let page = app
        .list_case_states(
            &system,
            &fengqiao_app::cases::CaseQuery {
                status: Some(Status::InMediation),
                limit: Some(200),
                ..Default::default()
            },
        )
        .await?
        .0;
    let staff = app.store.list_users("/", None).await?;
    let mut opened = 0;
    for c in page {
        if opened == 3 {
            break;
        }
        let Some(p) = c
            .state
            .parties
            .iter()
            .position(|p| p.role == PartyRole::Applicant && p.phone.is_some())
        else {
            continue;
        };
        let Some(mediator) = staff.iter().find(|u| {
            !u.disabled
                && u.unit_id.is_some()
                && u.unit_id == c.state.lead_unit_id
                && u.role.permits(fengqiao_domain::access::Operation::Mediate)
        }) else {
            continue;
        };
        let host = fengqiao_app::auth::actor_of(mediator);
        app.invite_party(&host, c.id, p, None).await?;
        app.act(&system, c.id, &Command::SendRoomCode { party_index: p })
            .await?;
        app.act(&system, c.id, &Command::JoinRoom { party_index: p })
            .await?;
        let party = Actor::room_party(p);
        app.room_post(
            &party,
            c.id,
            "您好，我把情况再说明一下：对方一直不肯当面谈，希望通过线上调解解决。",
            Vec::new(),
        )
        .await?;
        app.room_post(
            &host,
            c.id,
            "收到。我们先分别听取双方意见，明天上午十点线上调解，请准时进入调解室。",
            Vec::new(),
        )
        .await?;
        let tomorrow = fengqiao_domain::time::local_date(app.now()) + chrono::Duration::days(1);
        let at = fengqiao_domain::time::local_instant(tomorrow, 10, 0);
        app.act(
            &host,
            c.id,
            &Command::ScheduleSession {
                at,
                online: true,
                place: None,
                note: "请提前准备相关照片和票据".into(),
            },
        )
        .await?;
        // The first room also has a video session starting soon: its video is open now.
        if opened == 0 {
            app.act(
                &host,
                c.id,
                &Command::ScheduleSession {
                    at: app.now() + 15 * 60_000,
                    online: true,
                    place: None,
                    note: "视频调解（双方在线）".into(),
                },
            )
            .await?;
        }
        opened += 1;
    }
    Ok(opened)
}

/// The demo's expert: specialties recorded, and every other consultation answered.
async fn demo_experts(app: &App) -> Result<usize> {
    use fengqiao_domain::expert::{ExpertProfile, Specialty};
    use fengqiao_domain::workflow::Command;
    let Some(u) = app.store.get_user_by_username("expert").await? else {
        return Ok(0);
    };
    let profile = ExpertProfile {
        specialties: vec![Specialty::Law, Specialty::Land, Specialty::Adjudication],
        available: true,
    };
    app.set_expert_profile(&Actor::system(), u.id, &profile)
        .await?;
    let expert = fengqiao_app::auth::actor_of(&u);
    let cases = app
        .list_case_states(
            &expert,
            &fengqiao_app::cases::CaseQuery {
                limit: Some(500),
                ..Default::default()
            },
        )
        .await?
        .0;
    let mut answered = 0;
    for c in cases.iter().step_by(2) {
        let cmd = Command::AnswerConsultation {
            answer: "从法律上看，双方争议的关键在于权属证明和实际使用情况。建议调取村委会登记资料、承包合同及四至图，必要时申请测绘；在此基础上引导双方协商，可考虑适当经济补偿。".into(),
        };
        if app.act(&expert, c.id, &cmd).await.is_ok() {
            answered += 1;
        }
    }
    Ok(answered)
}

fn today() -> chrono::NaiveDate {
    fengqiao_domain::time::local_date(chrono::Utc::now().timestamp_millis())
}

#[tokio::main]
async fn main() -> Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| "info,sqlx=warn,tantivy=warn".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    match Cli::parse().command {
        Cmd::Serve {
            db,
            listen,
            sweep_every,
        } => {
            let app = start_app(&db.database_url).await?;
            attach_search(&app, &db.database_url, Catchup::InBackground)?;
            serve(app, &listen, sweep_every).await
        }
        Cmd::Demo {
            database,
            listen,
            cases,
            seed,
            no_serve,
        } => {
            for suffix in ["", "-wal", "-shm"] {
                let _ = std::fs::remove_file(format!("{database}{suffix}"));
            }
            let _ = std::fs::remove_dir_all(search_dir(&database));
            let app = start_app_keyed(
                &database,
                Some(DEMO_AUDIT_KEY),
                Some(format!("http://{listen}")),
            )
            .await?;
            // Imports below reach the index as they land; the generated history by the rebuild.
            attach_search(&app, &database, Catchup::None)?;
            let built = build_demo(&app, cases, seed, today()).await?;
            // The other systems' exports, written beside the database and imported.
            let dir = format!("{}-exports", database.trim_end_matches(".db"));
            let per_channel = (cases / 150).clamp(10, 200) as usize;
            let (_, reports) =
                imports::demo_exports(&app, &built, per_channel, std::path::Path::new(&dir))
                    .await?;
            for r in &reports {
                eprintln!(
                    "imported {dir}/{}.csv: {} created, {} linked to an earlier case, {} rejected",
                    r.channel, r.created, r.linked, r.rejected
                );
            }
            let n = app.reindex().await?;
            eprintln!("indexed {n} cases for search");
            // The demo's parties read their SMS (room links, codes) in the demo's inbox.
            demo_sms_gateway(&app, &listen).await?;
            let rooms = demo_rooms(&app).await?;
            eprintln!("opened {rooms} mediation rooms");
            let answered = demo_experts(&app).await?;
            eprintln!("the demo's expert answered {answered} consultations");
            let logins = built.logins;
            println!(
                "\nDemo county 青溪县 is ready in {database}. Logins (password {}):",
                fengqiao_demo::DEMO_PASSWORD
            );
            for l in &logins {
                println!("  {:<14} {:<12} {}", l.username, l.role.as_str(), l.note);
            }
            println!(
                "{} also need a one-time code: add the TOTP secret {} to an authenticator app.",
                fengqiao_demo::DEMO_TOTP_USERS.join(", "),
                fengqiao_demo::DEMO_TOTP_SECRET
            );
            println!("Parties' SMS (room links, codes): http://{listen}/demo/sms");
            if no_serve {
                return Ok(());
            }
            serve(app, &listen, 60).await
        }
        Cmd::Init {
            db,
            county_code,
            county_name,
            city_name,
            province_name,
            admin,
        } => {
            let app = start_app(&db.database_url).await?;
            let (user, password) = app
                .initialise(&fengqiao_app::admin::Initialisation {
                    county_code,
                    province_name,
                    city_name,
                    county_name,
                    admin_username: admin,
                })
                .await?;
            app.flush_audit().await;
            println!(
                "{} is ready. First sign-in: username {}, one-time password {password}\n\
                 (to be changed at that sign-in, where a second factor is also enrolled; it is \
                 shown only now)",
                db.database_url, user.username
            );
            Ok(())
        }
        Cmd::Migrate { db } => {
            open_store(&db.database_url).await?.migrate().await?;
            println!("migrated {}", db.database_url);
            Ok(())
        }
        Cmd::Generate {
            db,
            cases,
            seed,
            until,
        } => {
            let app = start_app(&db.database_url).await?;
            if app.store.get_jurisdiction("990102").await?.is_some() {
                bail!("the database already holds the demo county; use a fresh database");
            }
            build_demo(&app, cases, seed, until.unwrap_or_else(today)).await?;
            Ok(())
        }
        Cmd::Rebuild { db, check } => {
            let app = start_app(&db.database_url).await?;
            let r = app.rebuild_cases(!check).await?;
            println!(
                "checked {} cases: {} differed from their event log, {} rewritten",
                r.checked,
                r.mismatched.len(),
                r.rewritten
            );
            if check && !r.mismatched.is_empty() {
                bail!("cases differing from their logs: {:?}", r.mismatched);
            }
            if check {
                // A recount in memory, compared with the kept tables; nothing is written.
                let counted = fengqiao_store::recount_stats(app.store.as_ref()).await?;
                if app.store.stats_totals().await? != counted {
                    bail!("the statistics tables differ from a recount; run `fengqiao rebuild`");
                }
                println!("statistics: the kept tables equal a recount");
            } else {
                let n = app.store.rebuild_stats().await?;
                println!("statistics recomputed from {n} cases");
            }
            Ok(())
        }
        Cmd::ImportBoundaries { db, file } => {
            let text = std::fs::read_to_string(&file)
                .with_context(|| format!("reading {}", file.display()))?;
            let fc: serde_json::Value = serde_json::from_str(&text)
                .with_context(|| format!("{} is not JSON", file.display()))?;
            let app = start_app(&db.database_url).await?;
            let r = app.import_boundaries(&fc).await?;
            for s in &r.skipped {
                println!("skipped {s}");
            }
            println!(
                "{} boundaries set, {} features skipped",
                r.updated,
                r.skipped.len()
            );
            Ok(())
        }
        Cmd::Import {
            db,
            channel,
            file,
            mapping,
            json,
        } => {
            let app = start_app(&db.database_url).await?;
            let mapping = match mapping {
                Some(p) => fengqiao_app::imports::parse_mapping(
                    &std::fs::read_to_string(&p)
                        .with_context(|| format!("reading {}", p.display()))?,
                )?,
                None => app.channel_mapping(&channel).await?,
            };
            let started = std::time::Instant::now();
            let actor = fengqiao_domain::access::Actor::system();
            let r = app.import_path(&actor, &mapping, &file, json).await?;
            for e in &r.errors {
                println!(
                    "line {}: {} {}: {}",
                    e.line,
                    e.source_id.as_deref().unwrap_or("-"),
                    e.field,
                    e.reason
                );
            }
            println!(
                "{}: {} rows ({}), {} created, {} updated, {} unchanged, {} older than the watermark, {} rejected in {:.1} s",
                r.channel,
                r.rows,
                r.encoding.as_deref().unwrap_or("?"),
                r.created,
                r.updated,
                r.unchanged,
                r.skipped,
                r.errors.len(),
                started.elapsed().as_secs_f64()
            );
            Ok(())
        }
        Cmd::Backup { db, file } => {
            if std::path::Path::new(&file).exists() {
                bail!("{file} exists; choose a new file");
            }
            open_store(&db.database_url).await?.backup(&file).await?;
            println!("backup written to {file}");
            Ok(())
        }
        Cmd::Bench { what } => bench::run(what).await,
        Cmd::Eval {
            what: EvalWhat::Text { data, verbose },
        } => eval::run_text(&data, verbose),
        Cmd::Eval {
            what: EvalWhat::Search { data },
        } => eval_search::run_search(&data),
        Cmd::Eval {
            what: EvalWhat::Laws { data, verbose },
        } => eval_search::run_laws(&data, verbose),
        Cmd::TrainClassifier { db, demo, out } => {
            if demo {
                let out = out.context("--demo needs --out FILE")?;
                let model = demo_model()?;
                std::fs::write(&out, model.to_json() + "\n")
                    .with_context(|| format!("write {}", out.display()))?;
                println!("wrote {}", out.display());
                return Ok(());
            }
            let app = start_app(&db.database_url).await?;
            let n = app.train_classifier().await?;
            println!("trained the classifier on {n} confirmed cases; it is in use from now on");
            Ok(())
        }
        Cmd::Reindex { db } => {
            let app = start_app(&db.database_url).await?;
            attach_search(&app, &db.database_url, Catchup::None)?;
            let started = std::time::Instant::now();
            let n = app.reindex().await?;
            let secs = started.elapsed().as_secs_f64();
            println!(
                "indexed {n} cases in {secs:.1} s ({:.0} cases/s) into {}",
                n as f64 / secs.max(1e-9),
                search_dir(&db.database_url).display()
            );
            Ok(())
        }
        Cmd::Keys {
            what: KeysCmd::Rotate { db },
        } => {
            let app = start_app(&db.database_url).await?;
            let key = app.store.sealer().current_key_id();
            let operator = std::env::var("USER").unwrap_or_else(|_| "operator".into());
            let n = app.rotate_data_keys(&format!("cli:{operator}")).await?;
            println!("{n} values sealed again under data key {key}");
            Ok(())
        }
        Cmd::Audit {
            what: AuditCmd::Verify { db },
        } => {
            let app = start_app(&db.database_url).await?;
            let r = app.verify_audit().await?;
            println!(
                "audit trail: {} records (last number {}), {} checkpoints{}",
                r.records,
                r.last_seq,
                r.checkpoints,
                if app.settings.audit_key.is_some() {
                    ", signatures checked"
                } else {
                    " (FENGQIAO_AUDIT_KEY not set: signatures not checked)"
                }
            );
            for p in &r.problems {
                println!("  {}", serde_json::to_string(p)?);
            }
            if r.problems.is_empty() {
                println!("intact");
                Ok(())
            } else {
                println!("{} problems", r.problems.len());
                std::process::exit(1)
            }
        }
        Cmd::Audit {
            what: AuditCmd::Checkpoint { db },
        } => {
            let app = start_app(&db.database_url).await?;
            match app.checkpoint_audit().await? {
                Some(cp) => println!("checkpoint at record {} ({})", cp.seq, cp.hash),
                None => println!("nothing new since the last checkpoint"),
            }
            Ok(())
        }
        Cmd::Laws {
            what: LawsCmd::Import { db, dir },
        } => {
            let files = read_law_files(&dir)?;
            let app = start_app(&db.database_url).await?;
            let r = app.import_laws(&files).await?;
            let mut problems = 0;
            for f in &r.files {
                println!("{}: {} — {} articles", f.file, f.law, f.articles);
                for (line, what) in &f.problems {
                    eprintln!("  {}:{line}: {what}", f.file);
                    problems += 1;
                }
            }
            println!(
                "{} new articles, {} replaced; {} articles held{}",
                r.new_articles,
                r.replaced_articles,
                r.total_articles,
                if problems > 0 {
                    format!("; {problems} problems (listed above)")
                } else {
                    String::new()
                }
            );
            if r.new_articles + r.replaced_articles == 0 {
                bail!("no article was read from {}", dir.display());
            }
            Ok(())
        }
        Cmd::Analyze { db, all } => {
            let app = start_app(&db.database_url).await?;
            let n = app.analyze_cases(all, 1_000).await?;
            println!("analysed {n} cases");
            Ok(())
        }
    }
}

/// The `*.md` files of a folder, by name: (file name, text). A file that is not UTF-8 is an
/// error naming it.
pub fn read_law_files(dir: &std::path::Path) -> Result<Vec<(String, String)>> {
    let mut paths: Vec<std::path::PathBuf> = std::fs::read_dir(dir)
        .with_context(|| format!("read the folder {}", dir.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e.eq_ignore_ascii_case("md")))
        .collect();
    paths.sort();
    if paths.is_empty() {
        bail!("{} holds no .md file", dir.display());
    }
    paths
        .into_iter()
        .map(|p| {
            let text = std::fs::read_to_string(&p)
                .with_context(|| format!("{} is not readable UTF-8 text", p.display()))?;
            let name = p
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            Ok((name, text))
        })
        .collect()
}

/// The whole site: the API (and its documents) and the web pages.
pub fn site(app: std::sync::Arc<fengqiao_app::App>) -> axum::Router {
    fengqiao_web::harden(
        fengqiao_http::router(app.clone()).merge(fengqiao_web::router(app.clone())),
        app,
    )
}
