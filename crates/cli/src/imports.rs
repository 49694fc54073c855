//! The demo's sample exports of the other systems, imported; and `fengqiao bench import`,
//! which times that import and scores the cross-channel duplicate linking against what the
//! generator knows.
use crate::BuiltDemo;
use anyhow::{Context, Result};
use fengqiao_app::App;
use fengqiao_demo::exports::{channel_exports, ChannelExport};
use fengqiao_domain::access::Actor;
use fengqiao_domain::case::{CaseState, Status};
use std::path::Path;
use std::time::Instant;

/// What importing one channel's export did.
#[derive(Debug, Clone, Default)]
pub struct ChannelResult {
    pub channel: String,
    pub rows: usize,
    pub created: usize,
    pub rejected: usize,
    pub seconds: f64,
    /// Imported cases linked automatically to an earlier case.
    pub linked: usize,
    /// Re-reports linked to the case they re-report.
    pub right_links: usize,
    /// Links to another case than the one re-reported, or of records that re-report nothing.
    pub wrong_links: usize,
    pub re_reports: usize,
}

/// Demo cases of the last 25 days that are still cases (not rejected or merged).
async fn recent_cases(app: &App, now: i64) -> Result<Vec<(i64, CaseState)>> {
    let since = now - 25 * 86_400_000;
    let mut out = Vec::new();
    let mut after = 0;
    loop {
        let page = app.store.cases_after(after, 2000).await?;
        let Some(last) = page.last() else { break };
        after = last.id;
        out.extend(
            page.into_iter()
                .filter(|c| {
                    c.state.registered_at >= since
                        && !matches!(c.state.status, Status::NotAccepted | Status::Merged)
                        && c.state.merged_into.is_none()
                        // Not half of a pair the generator reported twice (ids follow the
                        // generator's order from 1): a link to the other half is right too.
                        && !fengqiao_demo::is_duplicate_report(c.id as u64 - 1)
                        && !fengqiao_demo::is_duplicate_report(c.id as u64)
                })
                .map(|c| (c.id, c.state)),
        );
    }
    Ok(out)
}

/// Writes the six exports into `dir` (police and petitions in GBK, as those systems export),
/// imports them and scores the links.
pub async fn demo_exports(
    app: &App,
    built: &BuiltDemo,
    per_channel: usize,
    dir: &Path,
) -> Result<(Vec<ChannelExport>, Vec<ChannelResult>)> {
    let recent = recent_cases(app, built.opts.now).await?;
    let exports = channel_exports(
        &built.reference,
        &built.opts,
        &recent,
        per_channel,
        &app.calendar(),
        &app.rules(),
    )?;
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    let mut results = Vec::new();
    let system = Actor::system();
    for e in &exports {
        let csv = e.csv();
        let bytes = match e.channel.as_str() {
            "police" | "petition" => encoding_rs::GBK.encode(&csv).0.into_owned(),
            _ => csv.into_bytes(),
        };
        let path = dir.join(format!("{}.csv", e.channel.as_str()));
        std::fs::write(&path, &bytes).with_context(|| format!("writing {}", path.display()))?;
        let mapping = app.channel_mapping(e.channel.as_str()).await?;
        let started = Instant::now();
        let report = app.import_file(&system, &mapping, &bytes, false).await?;
        let seconds = started.elapsed().as_secs_f64();
        let r = ChannelResult {
            channel: e.channel.as_str().to_string(),
            rows: report.rows,
            created: report.created,
            rejected: report.errors.len(),
            seconds,
            re_reports: e.re_reports.len(),
            ..Default::default()
        };
        results.push(r);
    }
    // Score the links: a re-report's dispute is the case it re-reports (and every other
    // re-report of it); a link is right when it joins two reports of one dispute.
    let mut imported = Vec::new();
    let mut root = std::collections::HashMap::new();
    for e in &exports {
        let scope = format!("channel:{}", e.channel.as_str());
        for row in &e.rows {
            let Some(source_id) = row.first() else {
                continue;
            };
            let Some(id) = app.store.find_idempotent_case(&scope, source_id).await? else {
                continue;
            };
            if let Some((_, original)) = e.re_reports.iter().find(|(s, _)| s == source_id) {
                root.insert(id, *original);
            }
            imported.push((e.channel.as_str(), id));
        }
    }
    for (channel, id) in imported {
        let Some(case) = app.store.get_case(id).await? else {
            continue;
        };
        let Some(r) = results.iter_mut().find(|r| r.channel == channel) else {
            continue;
        };
        // The intake links a new case to (at most) one earlier case.
        let Some(link) = case.state.linked_case_ids.iter().copied().find(|l| *l < id) else {
            continue;
        };
        r.linked += 1;
        let mine = root.get(&id);
        let theirs = root.get(&link).copied().unwrap_or(link);
        if mine == Some(&theirs) {
            r.right_links += 1;
        } else {
            r.wrong_links += 1;
        }
    }
    Ok((exports, results))
}

/// `fengqiao bench import`: a demo county, then its six exports imported (timed), with the
/// duplicate links scored.
pub async fn bench(cases: u64, per_channel: usize) -> Result<()> {
    let dir = tempfile::tempdir()?;
    let db = dir.path().join("import.db");
    let app = crate::start_app(&db.to_string_lossy()).await?;
    let built = crate::build_demo(&app, cases, 2026, crate::today()).await?;
    let (_, results) = demo_exports(&app, &built, per_channel, &dir.path().join("exports")).await?;
    println!("| channel | rows | created | rejected | rows/s | re-reports | linked right | linked wrong |");
    println!("|---|---|---|---|---|---|---|---|");
    let mut total = ChannelResult::default();
    for r in &results {
        println!(
            "| {} | {} | {} | {} | {:.0} | {} | {} | {} |",
            r.channel,
            r.rows,
            r.created,
            r.rejected,
            r.rows as f64 / r.seconds.max(1e-9),
            r.re_reports,
            r.right_links,
            r.wrong_links
        );
        total.rows += r.rows;
        total.created += r.created;
        total.rejected += r.rejected;
        total.seconds += r.seconds;
        total.re_reports += r.re_reports;
        total.right_links += r.right_links;
        total.wrong_links += r.wrong_links;
    }
    let precision =
        total.right_links as f64 / (total.right_links + total.wrong_links).max(1) as f64;
    let recall = total.right_links as f64 / total.re_reports.max(1) as f64;
    println!(
        "| all | {} | {} | {} | {:.0} | {} | {} | {} |",
        total.rows,
        total.created,
        total.rejected,
        total.rows as f64 / total.seconds.max(1e-9),
        total.re_reports,
        total.right_links,
        total.wrong_links
    );
    println!(
        "\nautomatic links: precision {precision:.3}, recall {recall:.3} (of {} re-reports)",
        total.re_reports
    );
    Ok(())
}

/// Peak resident memory of this process, in MiB (Linux).
fn peak_rss_mib() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|kb| kb.parse::<f64>().ok())
        })
        .map_or(f64::NAN, |kb| kb / 1024.0)
}

/// The id of the last case registered.
async fn last_case_id(app: &App) -> Result<i64> {
    let mut after = 0;
    while let Some(last) = app.store.cases_after(after, 2000).await?.last() {
        after = last.id;
    }
    Ok(after)
}

/// `--floor`: SQLite alone writing the rows the import wrote, at their sizes (see
/// `fengqiao_store_sqlite::floor`), with the store's durability in commits of 2,000 and of
/// 20,000 cases, and with no journal at all.
async fn write_floor(db: &str, before: i64, rows: usize, dir: &std::path::Path) -> Result<()> {
    use fengqiao_store_sqlite::floor::{shape_of, write_floor, Durability, RowShape};
    let shape = shape_of(db, before).await?;
    anyhow::ensure!(shape.cases > 0, "the import stored no case to measure");
    println!(
        "rows per case: state {} B, registration event {} B, analysis {} B, fingerprint {} B, {} party keys (means over {} cases)",
        shape.state_bytes, shape.event_bytes, shape.analysis_bytes, shape.fingerprint_bytes,
        shape.party_keys, shape.cases
    );
    // A third of the sizes: as if every JSON column were compressed three to one.
    let third = RowShape {
        state_bytes: shape.state_bytes / 3,
        event_bytes: shape.event_bytes / 3,
        analysis_bytes: shape.analysis_bytes / 3,
        fingerprint_bytes: shape.fingerprint_bytes / 3,
        ..shape
    };
    for (i, (shape, per_commit, durability, what)) in [
        (
            shape,
            2_000,
            Durability::Store,
            "WAL, synchronous=FULL (the store's)",
        ),
        (
            shape,
            20_000,
            Durability::Store,
            "WAL, synchronous=FULL (the store's)",
        ),
        (shape, 2_000, Durability::None, "no journal, no sync"),
        (
            third,
            20_000,
            Durability::Store,
            "WAL, synchronous=FULL, a third of the sizes",
        ),
    ]
    .into_iter()
    .enumerate()
    {
        let path = dir.join(format!("floor-{i}.db"));
        let took = write_floor(
            &path.to_string_lossy(),
            shape,
            rows as i64,
            per_commit,
            durability,
        )
        .await?;
        let size = std::fs::metadata(&path)?.len();
        println!(
            "write floor: {rows} cases in {:.1} s = {:.0} cases/s, {per_commit} a commit, {what}; {:.2} GB",
            took.as_secs_f64(),
            rows as f64 / took.as_secs_f64(),
            size as f64 / 1e9
        );
        for suffix in ["", "-wal", "-shm"] {
            let _ = std::fs::remove_file(format!("{}{suffix}", path.to_string_lossy()));
        }
    }
    Ok(())
}

/// `fengqiao bench import-speed`: a large file streamed in, then batches pushed over HTTP.
pub async fn bench_speed(rows: usize, push: usize, cases: u64, floor: bool) -> Result<()> {
    use fengqiao_domain::case::Channel;
    let dir = tempfile::tempdir()?;
    let db = dir.path().join("import.db");
    let app = crate::start_app(&db.to_string_lossy()).await?;
    let built = crate::build_demo(&app, cases, 2026, crate::today()).await?;
    let recent = recent_cases(&app, built.opts.now).await?;
    let started = Instant::now();
    let export = fengqiao_demo::exports::channel_export(
        &built.reference,
        &built.opts,
        &recent,
        Channel::Police,
        rows,
        &app.calendar(),
        &app.rules(),
    )?;
    let file = dir.path().join("police.csv");
    std::fs::write(&file, encoding_rs::GBK.encode(&export.csv()).0)?;
    let size = std::fs::metadata(&file)?.len();
    println!(
        "export: {rows} rows, {:.1} MB (GBK), {} re-reports, made in {:.1} s",
        size as f64 / 1e6,
        export.re_reports.len(),
        started.elapsed().as_secs_f64()
    );
    drop(export);
    let mapping = app.channel_mapping("police").await?;
    let before = last_case_id(&app).await?;
    let started = Instant::now();
    let r = app
        .import_path(&Actor::system(), &mapping, &file, false)
        .await?;
    let secs = started.elapsed().as_secs_f64();
    println!(
        "file import: {} rows in {secs:.1} s = {:.0} rows/s; {} created, {} unchanged, {} rejected; peak RSS {:.0} MiB",
        r.rows,
        r.rows as f64 / secs,
        r.created,
        r.unchanged,
        r.errors.len(),
        peak_rss_mib()
    );
    if floor {
        write_floor(&db.to_string_lossy(), before, rows, dir.path()).await?;
    }
    if push == 0 {
        return Ok(());
    }
    // Pushed: another channel's records as JSON objects, 1,000 a batch, 4 clients.
    let export = fengqiao_demo::exports::channel_export(
        &built.reference,
        &built.opts,
        &recent,
        Channel::Hotline12345,
        push,
        &app.calendar(),
        &app.rules(),
    )?;
    let batches: Vec<String> = export
        .rows
        .chunks(fengqiao_app::imports::MAX_BATCH)
        .map(|chunk| {
            let records: Vec<serde_json::Value> = chunk
                .iter()
                .map(|row| {
                    serde_json::Value::Object(
                        export
                            .header
                            .iter()
                            .zip(row)
                            .map(|(h, v)| (h.to_string(), serde_json::Value::String(v.clone())))
                            .collect(),
                    )
                })
                .collect();
            serde_json::json!({ "records": records }).to_string()
        })
        .collect();
    let token = app
        .login("dispatcher", fengqiao_demo::DEMO_PASSWORD, None)
        .await?
        .token;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    let router = crate::site(app.clone());
    tokio::spawn(async move { axum::serve(listener, router).await });
    let queue = std::sync::Arc::new(std::sync::Mutex::new(batches));
    let started = Instant::now();
    let mut clients = tokio::task::JoinSet::new();
    for _ in 0..4 {
        let (queue, token) = (queue.clone(), token.clone());
        clients.spawn(async move {
            let client =
                hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
                    .build_http::<http_body_util::Full<hyper::body::Bytes>>();
            let mut created = 0u64;
            loop {
                let Some(body) = queue.lock().ok().and_then(|mut q| q.pop()) else {
                    return Ok::<u64, anyhow::Error>(created);
                };
                let req = hyper::Request::post(format!(
                    "http://{addr}/api/v1/channels/hotline_12345/records"
                ))
                .header("content-type", "application/json")
                .header("authorization", format!("Bearer {token}"))
                .body(http_body_util::Full::new(hyper::body::Bytes::from(body)))?;
                let res = client.request(req).await?;
                let status = res.status();
                let bytes = http_body_util::BodyExt::collect(res.into_body())
                    .await?
                    .to_bytes();
                anyhow::ensure!(status.is_success(), "push answered {status}");
                let v: serde_json::Value = serde_json::from_slice(&bytes)?;
                created += v["created"].as_u64().unwrap_or(0);
            }
        });
    }
    let mut created = 0;
    while let Some(r) = clients.join_next().await {
        created += r??;
    }
    let secs = started.elapsed().as_secs_f64();
    println!(
        "push: {push} records in {secs:.1} s = {:.0} records/s ({created} created), batches of {}, 4 clients",
        push as f64 / secs,
        fengqiao_app::imports::MAX_BATCH
    );
    Ok(())
}
