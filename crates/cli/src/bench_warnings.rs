//! `fengqiao bench warnings`: the early-warning detectors on simulated counties (issue 5).
//!
//! Worlds (seeds fixed, so a run is reproducible): calibration worlds with nothing injected in
//! year 2 set each surge detector's threshold for 0.5 % alarmed quiet series-weeks; evaluation
//! worlds carry the injected surges and clusters; held-out null worlds measure the false alarms
//! and the workload; uniform-rise worlds are the negative control for clusters. R's
//! `surveillance` package (`farringtonFlexible` on weekly totals, `earsC` on daily counts) runs
//! on the same series through `Rscript`; without R the command fails unless `--without-r`.
use anyhow::{bail, Context, Result};
use fengqiao_surveillance::daily::{self, County};
use fengqiao_surveillance::eval::{
    calibrate, cluster_outcome, cluster_reports, mean_ci, quiet_week_maxima, surge_outcome,
    surge_scores, touched, weekly, weekly_to_daily, ClusterReport, SeriesScores, SurgeOutcome,
};
use fengqiao_surveillance::scan::{nearest, ScanConfig};
use fengqiao_surveillance::sim::{SeriesId, World, WorldConfig};
use fengqiao_surveillance::surge::{Method, SurgeConfig, RED_SCORE, YELLOW_SCORE};
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::time::Instant;

pub struct Options {
    pub worlds: usize,
    pub calibration: usize,
    pub nulls: usize,
    pub rises: usize,
    /// Calibration worlds whose series R also runs on (R is slow: ~0.75 s per weekly series-year).
    pub r_calibration: usize,
    pub without_r: bool,
    pub speed_villages: usize,
    /// Only the daily run's time.
    pub speed_only: bool,
    /// Only the oracle bound (detectors reading the simulator's true means) beside `glm_scan`.
    pub oracle: bool,
}

/// Target false-alarm rate per quiet series-week.
const FA_RATE: f64 = 0.005;
/// Cluster report thresholds compared (p per type-day).
const CLUSTER_PS: [f64; 3] = [1e-3, 1e-4, 1e-5];

fn par_map<T: Send>(items: &[u64], f: impl Fn(u64) -> T + Sync) -> Vec<T> {
    let threads = std::thread::available_parallelism().map_or(2, |n| n.get());
    let next = std::sync::atomic::AtomicUsize::new(0);
    let out: std::sync::Mutex<Vec<(usize, T)>> = std::sync::Mutex::new(Vec::new());
    std::thread::scope(|s| {
        for _ in 0..threads {
            s.spawn(|| loop {
                let i = next.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                let Some(&seed) = items.get(i) else { break };
                let r = f(seed);
                if let Ok(mut o) = out.lock() {
                    o.push((i, r));
                }
            });
        }
    });
    let mut v = out.into_inner().unwrap_or_default();
    v.sort_by_key(|(i, _)| *i);
    v.into_iter().map(|(_, r)| r).collect()
}

fn seeds(base: u64, n: usize) -> Vec<u64> {
    (0..n as u64).map(|i| base + i).collect()
}

fn fmt_ci(xs: &[f64]) -> String {
    let (m, h) = mean_ci(xs);
    format!("{m:.3} ± {h:.3}")
}

struct WorldResult {
    world: World,
    scores: BTreeMap<Method, SeriesScores>,
}

fn score_world(cfg: &WorldConfig, seed: u64) -> WorldResult {
    let world = World::generate(cfg, seed);
    let sc = SurgeConfig::default();
    let scores = Method::ALL
        .iter()
        .map(|&m| (m, surge_scores(&world, m, &sc)))
        .collect();
    WorldResult { world, scores }
}

/// Per-world POD by k, within-7-days by k, delays.
fn pod_table(name: &str, outcomes: &[SurgeOutcome], ks: &[f64], out: &mut String) {
    let mut row = format!("| {name} |");
    let mut delays: Vec<f64> = Vec::new();
    for &k in ks {
        let pod: Vec<f64> = outcomes
            .iter()
            .filter_map(|o| {
                let of_k: Vec<_> = o.surges.iter().filter(|s| s.0 == k).collect();
                (!of_k.is_empty())
                    .then(|| of_k.iter().filter(|s| s.1).count() as f64 / of_k.len() as f64)
            })
            .collect();
        let within: Vec<f64> = outcomes
            .iter()
            .filter_map(|o| {
                let of_k: Vec<_> = o.surges.iter().filter(|s| s.0 == k).collect();
                (!of_k.is_empty()).then(|| {
                    of_k.iter().filter(|s| s.2.is_some_and(|d| d < 7)).count() as f64
                        / of_k.len() as f64
                })
            })
            .collect();
        delays.extend(
            outcomes
                .iter()
                .flat_map(|o| o.surges.iter().filter(|s| s.0 == k).filter_map(|s| s.2))
                .map(|d| d as f64),
        );
        let _ = write!(row, " {} / {} |", fmt_ci(&pod), fmt_ci(&within));
    }
    delays.sort_by(f64::total_cmp);
    let median = delays.get(delays.len() / 2).copied().unwrap_or(f64::NAN);
    let _ = writeln!(out, "{row} {median:.0} |");
}

fn fa_ppv(outcomes: &[SurgeOutcome]) -> (Vec<f64>, Vec<f64>, Vec<f64>, Vec<f64>) {
    let fa = outcomes
        .iter()
        .map(|o| o.alarmed_quiet_weeks as f64 / o.quiet_weeks.max(1) as f64)
        .collect();
    let ppv = outcomes
        .iter()
        .filter(|o| o.episodes > 0)
        .map(|o| o.true_episodes as f64 / o.episodes as f64)
        .collect();
    let per_week = outcomes
        .iter()
        .map(|o| (o.episodes - o.true_episodes) as f64 / 52.0)
        .collect();
    let holiday = outcomes
        .iter()
        .map(|o| o.alarmed_holiday_weeks as f64 / o.holiday_weeks.max(1) as f64)
        .collect();
    (fa, ppv, per_week, holiday)
}

pub fn run(o: &Options) -> Result<()> {
    let started = Instant::now();
    let cfg = WorldConfig::default();
    let null_cfg = cfg.null();
    let mut md = String::new();
    if o.speed_only {
        speed(o.speed_villages, &mut md);
        println!("{md}");
        return Ok(());
    }
    if o.oracle {
        oracle_bound(o, &cfg, &mut md);
        println!("{md}");
        return Ok(());
    }
    let _ = writeln!(
        md,
        "Worlds: {} evaluated, {} calibration (null), {} held-out null, {} uniform-rise; {} villages in {} towns, {} types, {} cases a working day; days 2023-12-01…2025-12-31, 2025 evaluated.\n",
        o.worlds,
        o.calibration,
        o.nulls,
        o.rises,
        cfg.villages_x * cfg.villages_y,
        cfg.towns_x * cfg.towns_y,
        cfg.kinds,
        cfg.daily_mean
    );
    // 1. Calibration.
    let calib = par_map(&seeds(10_000, o.calibration), |s| score_world(&null_cfg, s));
    let mut thresholds = BTreeMap::new();
    let mut red_thresholds = BTreeMap::new();
    for &m in &Method::ALL {
        let maxima: Vec<f64> = calib
            .iter()
            .flat_map(|w| quiet_week_maxima(&w.scores[&m], &touched(&w.world)))
            .collect();
        thresholds.insert(m, calibrate(maxima.clone(), FA_RATE));
        red_thresholds.insert(m, calibrate(maxima, FA_RATE / 10.0));
    }
    eprintln!(
        "calibrated in {:.0} s: {thresholds:?}",
        started.elapsed().as_secs_f64()
    );
    // 2. Evaluation worlds and 3. held-out nulls.
    let evals = par_map(&seeds(1, o.worlds), |s| score_world(&cfg, s));
    let nulls = par_map(&seeds(20_000, o.nulls), |s| score_world(&null_cfg, s));
    eprintln!("scored in {:.0} s", started.elapsed().as_secs_f64());
    let ks = cfg.surge_ks.clone();
    let _ = writeln!(md, "### Surges: detection at 0.5 % alarmed quiet series-weeks (thresholds calibrated on the calibration worlds)\n");
    let mut head = "| detector |".to_string();
    for k in &ks {
        let _ = write!(head, " POD / ≤7 d, k = {k} |");
    }
    let _ = writeln!(md, "{head} median days to detection |");
    let _ = writeln!(md, "|{}", "---|".repeat(ks.len() + 2));
    for &m in &Method::ALL {
        let outs: Vec<SurgeOutcome> = evals
            .iter()
            .map(|w| surge_outcome(&w.world, &w.scores[&m], thresholds[&m]))
            .collect();
        pod_table(
            &format!("{} (score ≥ {:.2})", m.as_str(), thresholds[&m]),
            &outs,
            &ks,
            &mut md,
        );
    }
    // R.
    let mut r_rows: Vec<(String, Vec<SurgeOutcome>)> = Vec::new();
    if o.without_r {
        let _ = writeln!(md, "\n(R comparison skipped: --without-r)\n");
    } else {
        r_rows = run_r(&calib[..o.r_calibration.min(calib.len())], &evals, &mut md)?;
        for (name, outs) in &r_rows {
            pod_table(name, outs, &ks, &mut md);
        }
    }
    let _ = writeln!(
        md,
        "\n### Surges: false alarms on held-out null worlds, PPV on the evaluation worlds\n"
    );
    let _ = writeln!(md, "| detector | alarmed quiet series-weeks | of them with a holiday | false warnings per county-week | PPV |");
    let _ = writeln!(md, "|---|---|---|---|---|");
    for &m in &Method::ALL {
        let null_outs: Vec<SurgeOutcome> = nulls
            .iter()
            .map(|w| surge_outcome(&w.world, &w.scores[&m], thresholds[&m]))
            .collect();
        let eval_outs: Vec<SurgeOutcome> = evals
            .iter()
            .map(|w| surge_outcome(&w.world, &w.scores[&m], thresholds[&m]))
            .collect();
        let (fa, _, per_week, holiday) = fa_ppv(&null_outs);
        let (_, ppv, _, _) = fa_ppv(&eval_outs);
        let _ = writeln!(
            md,
            "| {} | {} | {} | {} | {} |",
            m.as_str(),
            fmt_ci(&fa),
            fmt_ci(&holiday),
            fmt_ci(&per_week),
            fmt_ci(&ppv)
        );
    }
    // Production thresholds.
    let _ = writeln!(
        md,
        "\nIn production: `glm_scan`, yellow at score ≥ {YELLOW_SCORE} (calibrated {:.2}), red at ≥ {RED_SCORE} (calibrated for 0.05 %: {:.2}).\n",
        thresholds[&Method::GlmScan],
        red_thresholds[&Method::GlmScan]
    );
    let prod_null: Vec<SurgeOutcome> = nulls
        .iter()
        .map(|w| surge_outcome(&w.world, &w.scores[&Method::GlmScan], YELLOW_SCORE))
        .collect();
    let prod_eval: Vec<SurgeOutcome> = evals
        .iter()
        .map(|w| surge_outcome(&w.world, &w.scores[&Method::GlmScan], YELLOW_SCORE))
        .collect();
    let _ = writeln!(
        md,
        "| production `glm_scan` ≥ {YELLOW_SCORE} |{}",
        "---|".repeat(0)
    );
    pod_table("glm_scan (production)", &prod_eval, &ks, &mut md);
    let (prod_fa, prod_ppv, prod_week, _) = fa_ppv(&prod_null);
    let (_, prod_ppv_eval, _, _) = fa_ppv(&prod_eval);
    let _ = prod_ppv;
    let _ = writeln!(
        md,
        "\nProduction surges on null worlds: alarmed quiet series-weeks {}, false warnings per county-week {}; PPV on evaluation worlds {}.\n",
        fmt_ci(&prod_fa),
        fmt_ci(&prod_week),
        fmt_ci(&prod_ppv_eval)
    );
    // Clusters.
    let scan_cfg = ScanConfig::default();
    let top_p = CLUSTER_PS[0];
    let eval_reports = par_map(&seeds(1, o.worlds), |s| {
        let w = &evals[(s - 1) as usize].world;
        cluster_reports(w, &scan_cfg, top_p, s)
    });
    let null_reports = par_map(&seeds(0, o.nulls), |i| {
        cluster_reports(&nulls[i as usize].world, &scan_cfg, top_p, 77 + i)
    });
    let rises: Vec<World> = par_map(&seeds(30_000, o.rises), |s| {
        World::generate(
            &WorldConfig {
                uniform_rise: true,
                ..null_cfg.clone()
            },
            s,
        )
    });
    let rise_reports = par_map(&seeds(0, o.rises), |i| {
        cluster_reports(&rises[i as usize], &scan_cfg, top_p, 99 + i)
    });
    eprintln!(
        "clusters scanned in {:.0} s",
        started.elapsed().as_secs_f64()
    );
    let _ = writeln!(
        md,
        "### Clusters (space-time scan, daily, 3–10 villages × 7–28 days injected)\n"
    );
    let mut head = "| report at p ≤ |".to_string();
    for e in &cfg.cluster_excess {
        let _ = write!(head, " detected / ≤7 d, {e} extra a day |");
    }
    let _ = writeln!(md, "{head} all: ≤7 d | median delay | false clusters per county-month (null) | in uniform-rise worlds | PPV |");
    let _ = writeln!(md, "|{}", "---|".repeat(cfg.cluster_excess.len() + 6));
    let mut cluster_false_week: BTreeMap<u64, Vec<f64>> = BTreeMap::new();
    for &p in &CLUSTER_PS {
        let outs: Vec<_> = evals
            .iter()
            .zip(&eval_reports)
            .map(|(w, r)| cluster_outcome(&w.world, r, p))
            .collect();
        let mut row = format!("| {p:e} |");
        for &e in &cfg.cluster_excess {
            let det: Vec<f64> = outs
                .iter()
                .map(|o| frac(o.truths.iter().filter(|t| t.0 == e), |t| t.1))
                .collect();
            let w7: Vec<f64> = outs
                .iter()
                .map(|o| {
                    frac(o.truths.iter().filter(|t| t.0 == e), |t| {
                        t.2.is_some_and(|d| d < 7)
                    })
                })
                .collect();
            let _ = write!(row, " {} / {} |", fmt_ci(&det), fmt_ci(&w7));
        }
        let all7: Vec<f64> = outs
            .iter()
            .map(|o| frac(o.truths.iter(), |t| t.2.is_some_and(|d| d < 7)))
            .collect();
        let mut delays: Vec<usize> = outs
            .iter()
            .flat_map(|o| o.truths.iter().filter_map(|t| t.2))
            .collect();
        delays.sort_unstable();
        let median = delays.get(delays.len() / 2).copied().unwrap_or(0);
        let null_false: Vec<f64> = nulls
            .iter()
            .zip(&null_reports)
            .map(|(w, r)| false_clusters_a_month(&w.world, r, p))
            .collect();
        let rise_false: Vec<f64> = rises
            .iter()
            .zip(&rise_reports)
            .map(|(w, r)| false_clusters_a_month(w, r, p))
            .collect();
        let ppv: Vec<f64> = outs
            .iter()
            .filter(|o| !o.episodes.is_empty())
            .map(|o| o.episodes.iter().filter(|e| e.truly).count() as f64 / o.episodes.len() as f64)
            .collect();
        cluster_false_week.insert(
            p.to_bits(),
            null_false.iter().map(|m| m * 12.0 / 52.0).collect(),
        );
        let _ = writeln!(
            md,
            "{row} {} | {median} | {} | {} | {} |",
            fmt_ci(&all7),
            fmt_ci(&null_false),
            fmt_ci(&rise_false),
            fmt_ci(&ppv)
        );
    }
    let _ = writeln!(md, "\n### Workload under the null (production thresholds: surges ≥ {YELLOW_SCORE}, clusters p ≤ {:e})\n", fengqiao_surveillance::scan::YELLOW_P);
    let clusters_week = cluster_false_week
        .get(&fengqiao_surveillance::scan::YELLOW_P.to_bits())
        .cloned()
        .unwrap_or_default();
    let workload: Vec<f64> = prod_week
        .iter()
        .zip(&clusters_week)
        .map(|(a, b)| a + b)
        .collect();
    let _ = writeln!(
        md,
        "Red + yellow warnings per county-week: {} (surges {}, clusters {}).\n",
        fmt_ci(&workload),
        fmt_ci(&prod_week),
        fmt_ci(&clusters_week)
    );
    let _ = r_rows;
    // Speed.
    speed(o.speed_villages, &mut md);
    let _ = writeln!(
        md,
        "\nTotal bench time {:.0} s.",
        started.elapsed().as_secs_f64()
    );
    println!("{md}");
    Ok(())
}

/// False cluster warnings a month of the evaluated year from the reports with `p ≤ p_max`.
fn false_clusters_a_month(world: &World, reports: &[ClusterReport], p_max: f64) -> f64 {
    cluster_outcome(world, reports, p_max)
        .episodes
        .iter()
        .filter(|e| !e.truly)
        .count() as f64
        / 12.0
}

fn frac<'a, T: 'a>(items: impl Iterator<Item = &'a T>, pred: impl Fn(&T) -> bool) -> f64 {
    let (mut n, mut k) = (0usize, 0usize);
    for t in items {
        n += 1;
        k += usize::from(pred(t));
    }
    if n == 0 {
        f64::NAN
    } else {
        k as f64 / n as f64
    }
}

/// The production detector beside the oracles ([`fengqiao_surveillance::oracle`]), every one
/// calibrated to the same 0.5 % of alarmed quiet series-weeks on the same calibration worlds and
/// scored on the same evaluation worlds: how far the production detector is from what could be
/// found at all.
fn oracle_bound(o: &Options, cfg: &WorldConfig, md: &mut String) {
    use fengqiao_surveillance::oracle::{self, Oracle};
    let started = Instant::now();
    let score = |c: &WorldConfig, seed: u64| -> (World, Vec<(String, SeriesScores)>) {
        let world = World::generate(c, seed);
        let mut all = vec![(
            Method::GlmScan.as_str().to_string(),
            surge_scores(&world, Method::GlmScan, &SurgeConfig::default()),
        )];
        for k in Oracle::ALL {
            all.push((k.as_str().to_string(), oracle::scores(&world, k)));
        }
        (world, all)
    };
    let null_cfg = cfg.null();
    let calib = par_map(&seeds(10_000, o.calibration), |s| score(&null_cfg, s));
    let evals = par_map(&seeds(1, o.worlds), |s| score(cfg, s));
    eprintln!("scored in {:.0} s", started.elapsed().as_secs_f64());
    let _ = writeln!(
        md,
        "#### Oracle bound: {} evaluation worlds, thresholds for 0.5 % alarmed quiet series-weeks on {} calibration worlds\n",
        o.worlds, o.calibration
    );
    let mut head = "| detector |".to_string();
    for k in &cfg.surge_ks {
        let _ = write!(head, " POD / ≤7 d, k = {k} |");
    }
    let _ = writeln!(md, "{head} median days to detection |");
    let _ = writeln!(md, "|{}", "---|".repeat(cfg.surge_ks.len() + 2));
    let names: Vec<String> = calib
        .first()
        .map(|(_, all)| all.iter().map(|(n, _)| n.clone()).collect())
        .unwrap_or_default();
    // Each detector's threshold, once: the tables below share it.
    let thresholds: Vec<f64> = (0..names.len())
        .map(|i| {
            let maxima: Vec<f64> = calib
                .iter()
                .flat_map(|(w, all)| quiet_week_maxima(&all[i].1, &touched(w)))
                .collect();
            calibrate(maxima, FA_RATE)
        })
        .collect();
    for (i, name) in names.iter().enumerate() {
        let threshold = thresholds[i];
        let outs: Vec<SurgeOutcome> = evals
            .iter()
            .map(|(w, all)| surge_outcome(w, &all[i].1, threshold))
            .collect();
        pod_table(
            &format!("{name} (score ≥ {threshold:.2})"),
            &outs,
            &cfg.surge_ks,
            md,
        );
    }
    // The k = 5 surges by the cases they added: what even the oracles miss.
    let _ = writeln!(
        md,
        "\nk = 5 surges by size (cases injected): how many, and the share each detector finds\n"
    );
    let _ = writeln!(md, "| cases | surges | {} |", names.join(" | "));
    let _ = writeln!(md, "|{}", "---|".repeat(names.len() + 2));
    for (lo, hi) in [(0u32, 4u32), (5, 9), (10, 19), (20, u32::MAX)] {
        let mut row = String::new();
        let mut n = 0;
        for (i, &threshold) in thresholds.iter().enumerate() {
            let (mut found, mut total) = (0, 0);
            for (w, all) in &evals {
                let sc = &all[i].1;
                for s in w.surges.iter().filter(|s| s.k == 5.0) {
                    if s.size < lo || s.size > hi {
                        continue;
                    }
                    total += 1;
                    let scores = &sc[&s.series];
                    let from = w.eval_from;
                    found += usize::from((s.start..=s.end).any(|t| scores[t - from] >= threshold));
                }
            }
            n = total;
            let _ = write!(row, " {:.2} |", found as f64 / total.max(1) as f64);
        }
        let hi = if hi == u32::MAX {
            "…".to_string()
        } else {
            hi.to_string()
        };
        let _ = writeln!(md, "| {lo}–{hi} | {n} |{row}");
    }
    oracle_clusters(o, cfg, &calib, &evals, md);
}

/// The cluster oracle ([`fengqiao_surveillance::oracle::cluster_reports`]): its ratio
/// threshold set for at most one false cluster per county-month on the calibration worlds, then
/// detection (within 7 days) of the injected clusters on the evaluation worlds.
fn oracle_clusters<T: Sync>(
    o: &Options,
    cfg: &WorldConfig,
    calib: &[(World, T)],
    evals: &[(World, T)],
    md: &mut String,
) {
    use fengqiao_surveillance::oracle;
    const MIN_RATIO: f64 = 6.0;
    let scan = ScanConfig::default();
    let reports = |w: &World| {
        oracle::cluster_reports(w, scan.max_days, scan.max_size, scan.min_cases, MIN_RATIO)
    };
    let idx: Vec<u64> = (0..calib.len() as u64).collect();
    let null_reports = par_map(&idx, |i| reports(&calib[i as usize].0));
    let idx: Vec<u64> = (0..evals.len() as u64).collect();
    let eval_reports = par_map(&idx, |i| reports(&evals[i as usize].0));
    let false_a_month = |ratio: f64| -> f64 {
        let per: Vec<f64> = calib
            .iter()
            .zip(&null_reports)
            .map(|((w, _), r)| false_clusters_a_month(w, r, (-ratio).exp()))
            .collect();
        mean_ci(&per).0
    };
    let mut threshold = f64::INFINITY;
    for step in (0..=160).rev() {
        let ratio = MIN_RATIO + 0.125 * f64::from(step);
        if false_a_month(ratio) <= 1.0 {
            threshold = ratio;
        } else {
            break;
        }
    }
    let _ = writeln!(
        md,
        "\n#### Cluster oracle: expectation-based Poisson scan on the true means, at most 1 false cluster per county-month on {} calibration worlds (ratio ≥ {threshold:.3}: {:.2} a month there), {} evaluation worlds\n",
        calib.len(),
        false_a_month(threshold),
        o.worlds
    );
    let _ = writeln!(md, "| excess a day | clusters | detected | ≤ 7 d |");
    let _ = writeln!(md, "|---|---|---|---|");
    let outs: Vec<_> = evals
        .iter()
        .zip(&eval_reports)
        .map(|((w, _), r)| cluster_outcome(w, r, (-threshold).exp()))
        .collect();
    let mut levels: Vec<Option<f64>> = cfg.cluster_excess.iter().copied().map(Some).collect();
    levels.push(None);
    for level in levels {
        let of = |t: &&(f64, bool, Option<usize>)| level.is_none_or(|e| t.0 == e);
        let det: Vec<f64> = outs
            .iter()
            .map(|o| frac(o.truths.iter().filter(of), |t| t.1))
            .collect();
        let w7: Vec<f64> = outs
            .iter()
            .map(|o| frac(o.truths.iter().filter(of), |t| t.2.is_some_and(|d| d < 7)))
            .collect();
        let n: usize = outs
            .iter()
            .map(|o| o.truths.iter().filter(of).count())
            .sum();
        let name = level.map_or("all".to_string(), |e| e.to_string());
        let _ = writeln!(md, "| {name} | {n} | {} | {} |", fmt_ci(&det), fmt_ci(&w7));
    }
}

fn speed(villages: usize, md: &mut String) {
    let side = (villages as f64).sqrt().round() as usize;
    let cfg = WorldConfig {
        villages_x: side,
        villages_y: side,
        towns_x: side / 4,
        towns_y: side / 5,
        daily_mean: 40.0 * (side * side) as f64 / 200.0,
        ..WorldConfig::default().null()
    };
    let t0 = Instant::now();
    let world = World::generate(&cfg, 5);
    let generated = t0.elapsed().as_secs_f64();
    let t1 = Instant::now();
    let neighbours = nearest(&world.points, 10);
    let county = County {
        days: &world.days,
        counts: &world.counts,
        town_of: &world.town_of,
        towns: world.towns,
        neighbours: &neighbours,
    };
    let result = daily::run(&county, &SurgeConfig::default(), &ScanConfig::default(), 1);
    let took = t1.elapsed().as_secs_f64();
    let _ = writeln!(
        md,
        "### Daily run\n\n{} villages in {} towns × {} types ({} days of history): surges on {} series, cluster scan with {} null replicates per type, hotspots: **{took:.1} s** (world generated in {generated:.0} s; {} clusters with p ≤ 0.001, {} hot villages).",
        side * side,
        world.towns,
        world.kinds,
        world.days.len(),
        result.surges.len(),
        ScanConfig::default().replicates,
        result.clusters.iter().filter(|c| c.cluster.p <= 1e-3).count(),
        result.hotspots.iter().filter(|h| h.1).count()
    );
}

const R_SCRIPT: &str = r#"
suppressMessages(library(surveillance))
suppressMessages(library(parallel))
args <- commandArgs(TRUE)
weekly <- as.matrix(read.csv(args[1], header=FALSE))
daily <- as.matrix(read.csv(args[2], header=FALSE))
first_week <- as.integer(args[3]); first_day <- as.integer(args[4])
nw <- ncol(weekly); nd <- ncol(daily)
ff <- mclapply(seq_len(nrow(weekly)), function(i) {
  s <- sts(observed=matrix(weekly[i,], ncol=1), frequency=52)
  ctl <- list(range=(first_week+1):nw, b=1, w=2, noPeriods=10, pastWeeksNotIncluded=1,
              limit54=c(0,4), thresholdMethod="nbPlugin", alpha=0.005, populationOffset=FALSE)
  r <- suppressWarnings(farringtonFlexible(s, control=ctl))
  as.numeric(control(r)$pvalue)
}, mc.cores=2)
write.table(do.call(rbind, ff), args[5], sep=",", row.names=FALSE, col.names=FALSE)
for (m in c("C1","C2","C3")) {
  ea <- mclapply(seq_len(nrow(daily)), function(i) {
    s <- sts(observed=matrix(daily[i,], ncol=1), frequency=365)
    r <- earsC(s, control=list(range=(first_day+1):nd, method=m, alpha=0.001))
    as.integer(alarms(r))
  }, mc.cores=2)
  write.table(do.call(rbind, ea), paste0(args[6], m, ".csv"), sep=",", row.names=FALSE, col.names=FALSE)
}
"#;

/// Runs farringtonFlexible and earsC on the calibration worlds' series (all) and the evaluation
/// worlds' injected series; returns their outcomes as table rows.
fn run_r(
    calib: &[WorldResult],
    evals: &[WorldResult],
    md: &mut String,
) -> Result<Vec<(String, Vec<SurgeOutcome>)>> {
    let which = std::process::Command::new("Rscript")
        .arg("-e")
        .arg("suppressMessages(library(surveillance))")
        .output();
    match which {
        Ok(out) if out.status.success() => {}
        _ => bail!("Rscript with the surveillance package is needed (Debian: apt-get install r-cran-surveillance), or pass --without-r"),
    }
    let dir = tempfile::tempdir()?;
    // Rows: (world index, calibration?, series).
    let mut rows: Vec<(usize, bool, SeriesId)> = Vec::new();
    let mut weekly_csv = String::new();
    let mut daily_csv = String::new();
    let mut first_week = 0;
    let mut add = |w: &World, idx: usize, cal: bool, s: SeriesId, rows: &mut Vec<_>| {
        let y = w.series(s);
        let (wk, fw) = weekly(&y, w.eval_from);
        first_week = fw;
        let line: Vec<String> = wk.iter().map(|v| format!("{v}")).collect();
        let _ = writeln!(weekly_csv, "{}", line.join(","));
        let line: Vec<String> = y.iter().map(|v| format!("{v}")).collect();
        let _ = writeln!(daily_csv, "{}", line.join(","));
        rows.push((idx, cal, s));
    };
    for (i, w) in calib.iter().enumerate() {
        for s in w.world.all_series() {
            add(&w.world, i, true, s, &mut rows);
        }
    }
    for (i, w) in evals.iter().enumerate() {
        for s in w.world.surges.iter().map(|s| s.series) {
            add(&w.world, i, false, s, &mut rows);
        }
    }
    let eval_from = evals.first().map_or(0, |w| w.world.eval_from);
    let days = evals.first().map_or(0, |w| w.world.days.len()) - eval_from;
    std::fs::write(dir.path().join("weekly.csv"), weekly_csv)?;
    std::fs::write(dir.path().join("daily.csv"), daily_csv)?;
    std::fs::write(dir.path().join("run.R"), R_SCRIPT)?;
    let t0 = Instant::now();
    let status = std::process::Command::new("Rscript")
        .arg(dir.path().join("run.R"))
        .arg(dir.path().join("weekly.csv"))
        .arg(dir.path().join("daily.csv"))
        .arg(first_week.to_string())
        .arg(eval_from.to_string())
        .arg(dir.path().join("ff.csv"))
        .arg(dir.path().join("ears"))
        .status()
        .context("running Rscript")?;
    if !status.success() {
        bail!("Rscript failed: {status}");
    }
    eprintln!(
        "R ran {} series in {:.0} s",
        rows.len(),
        t0.elapsed().as_secs_f64()
    );
    let read = |name: &str| -> Result<Vec<Vec<f64>>> {
        let text = std::fs::read_to_string(dir.path().join(name))
            .with_context(|| format!("reading R's {name}"))?;
        Ok(text
            .lines()
            .map(|l| {
                l.split(',')
                    .map(|v| v.trim().parse::<f64>().unwrap_or(f64::NAN))
                    .collect()
            })
            .collect())
    };
    let ff = read("ff.csv")?;
    if ff.len() != rows.len() {
        bail!(
            "R returned {} farringtonFlexible rows for {} series",
            ff.len(),
            rows.len()
        );
    }
    let mut out = Vec::new();
    // farringtonFlexible: weekly p-values → score on the week's last day; calibrate like ours.
    let to_scores =
        |vals: &[Vec<f64>], weekly_scores: bool| -> (Vec<SeriesScores>, Vec<SeriesScores>) {
            let mut cal: Vec<SeriesScores> = (0..calib.len()).map(|_| BTreeMap::new()).collect();
            let mut ev: Vec<SeriesScores> = (0..evals.len()).map(|_| BTreeMap::new()).collect();
            for ((idx, is_cal, s), v) in rows.iter().zip(vals) {
                let daily_scores = if weekly_scores {
                    let sc: Vec<f64> = v
                        .iter()
                        .map(|p| {
                            if p.is_finite() {
                                -p.max(1e-300).log10()
                            } else {
                                f64::NEG_INFINITY
                            }
                        })
                        .collect();
                    weekly_to_daily(&sc, days)
                } else {
                    v.iter().map(|a| if *a > 0.5 { 1.0 } else { 0.0 }).collect()
                };
                if *is_cal {
                    cal[*idx].insert(*s, daily_scores);
                } else {
                    ev[*idx].insert(*s, daily_scores);
                }
            }
            (cal, ev)
        };
    let (cal, ev) = to_scores(&ff, true);
    let maxima: Vec<f64> = cal
        .iter()
        .zip(calib)
        .flat_map(|(sc, w)| quiet_week_maxima(sc, &touched(&w.world)))
        .collect();
    let threshold = calibrate(maxima, FA_RATE);
    let outs: Vec<SurgeOutcome> = ev
        .iter()
        .zip(evals)
        .map(|(sc, w)| surge_outcome(&w.world, sc, threshold))
        .collect();
    out.push((
        format!("R farringtonFlexible, weekly (−log₁₀ p ≥ {threshold:.2})"),
        outs,
    ));
    for m in ["C1", "C2", "C3"] {
        let alarms = read(&format!("ears{m}.csv"))?;
        let (cal, ev) = to_scores(&alarms, false);
        let fa: Vec<f64> = cal
            .iter()
            .zip(calib)
            .map(|(sc, w)| {
                let o = surge_outcome(&w.world, sc, 0.5);
                o.alarmed_quiet_weeks as f64 / o.quiet_weeks.max(1) as f64
            })
            .collect();
        let outs: Vec<SurgeOutcome> = ev
            .iter()
            .zip(evals)
            .map(|(sc, w)| surge_outcome(&w.world, sc, 0.5))
            .collect();
        out.push((
            format!(
                "R earsC {m}, α = 0.001 (its own false-alarm rate {})",
                fmt_ci(&fa)
            ),
            outs,
        ));
    }
    let _ = md;
    Ok(out)
}
