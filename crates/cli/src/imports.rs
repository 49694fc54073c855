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
