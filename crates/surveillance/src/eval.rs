//! Scoring detectors on simulated worlds: probability of detection, detection within 7 days,
//! days to detection, false alarms, PPV — the figures of `fengqiao bench warnings`.
//!
//! Definitions (also in BENCHMARKS.md):
//! - A series-day is *touched* when the series had an injected case that day or in the 13 days
//!   before; a series-week is *quiet* when none of its days is touched.
//! - False-alarm rate: the share of quiet series-weeks with at least one alarm.
//! - A surge is detected when its series alarms on a day from its first to its last injected
//!   case; the delay counts from the first injected case.
//! - An *episode* is a run of consecutive alarm days on one series (one warning); it is true
//!   when one of its days is touched. PPV = true episodes / episodes.
use crate::days::{covariates, P};
use crate::scan::ScanConfig;
use crate::sim::{SeriesId, World};
use crate::surge::{scores, Method, SurgeConfig};
use std::collections::BTreeMap;

/// Scores of every surge series over the evaluated year (`f64::NEG_INFINITY` = no verdict).
pub type SeriesScores = BTreeMap<SeriesId, Vec<f64>>;

pub fn design(world: &World) -> Vec<[f64; P]> {
    world.days.iter().map(covariates).collect()
}

/// Daily scores of a detector on every series of a world, for the evaluated year.
pub fn surge_scores(world: &World, method: Method, cfg: &SurgeConfig) -> SeriesScores {
    let x = design(world);
    let reference = world.total();
    world
        .all_series()
        .into_iter()
        .map(|s| {
            let y = world.series(s);
            let sc = scores(method, &y, Some(&reference), &x, world.eval_from, cfg);
            (s, sc.into_iter().map(|d| d.score).collect())
        })
        .collect()
}

/// Per series, per evaluated day: touched by injected cases?
pub fn touched(world: &World) -> BTreeMap<SeriesId, Vec<bool>> {
    world
        .all_series()
        .into_iter()
        .map(|s| {
            let inj = world.injected_series(s);
            let marks = (world.eval_from..world.days.len())
                .map(|t| (t.saturating_sub(13)..=t).any(|u| inj[u] > 0.0))
                .collect();
            (s, marks)
        })
        .collect()
}

/// The evaluated year's weeks as day ranges relative to its first day (52 full weeks).
pub fn weeks(days: usize) -> Vec<std::ops::Range<usize>> {
    (0..days / 7).map(|w| w * 7..w * 7 + 7).collect()
}

/// Maxima of the scores over quiet series-weeks (calibration input).
pub fn quiet_week_maxima(
    scores: &SeriesScores,
    touched: &BTreeMap<SeriesId, Vec<bool>>,
) -> Vec<f64> {
    let mut out = Vec::new();
    for (s, sc) in scores {
        let quiet = touched.get(s);
        for w in weeks(sc.len()) {
            if quiet.is_some_and(|q| q[w.clone()].iter().any(|&b| b)) {
                continue;
            }
            out.push(sc[w].iter().copied().fold(f64::NEG_INFINITY, f64::max));
        }
    }
    out
}

/// The lowest threshold at which at most `rate` of the given weekly maxima alarm.
pub fn calibrate(mut maxima: Vec<f64>, rate: f64) -> f64 {
    maxima.sort_by(|a, b| b.total_cmp(a));
    let allowed = (rate * maxima.len() as f64).floor() as usize;
    match maxima.get(allowed) {
        Some(v) if v.is_finite() => {
            // Strictly above the first week that must not alarm.
            let above = maxima[..allowed]
                .iter()
                .copied()
                .filter(|x| x > v)
                .fold(f64::INFINITY, f64::min);
            if above.is_finite() {
                (v + above) / 2.0
            } else {
                v + 1e-9
            }
        }
        _ => f64::INFINITY,
    }
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct SurgeOutcome {
    /// (k, detected, delay in days if detected).
    pub surges: Vec<(f64, bool, Option<usize>)>,
    pub quiet_weeks: usize,
    pub alarmed_quiet_weeks: usize,
    pub episodes: usize,
    pub true_episodes: usize,
    /// Quiet series-weeks that contain a holiday, and those of them alarmed.
    pub holiday_weeks: usize,
    pub alarmed_holiday_weeks: usize,
}

pub fn surge_outcome(world: &World, scores: &SeriesScores, threshold: f64) -> SurgeOutcome {
    let touched = touched(world);
    let from = world.eval_from;
    let mut out = SurgeOutcome::default();
    for surge in &world.surges {
        let sc = &scores[&surge.series];
        let first = (surge.start..=surge.end).find(|&t| sc[t - from] >= threshold);
        out.surges
            .push((surge.k, first.is_some(), first.map(|t| t - surge.start)));
    }
    for (s, sc) in scores {
        let marks = &touched[s];
        for w in weeks(sc.len()) {
            if marks[w.clone()].iter().any(|&b| b) {
                continue;
            }
            out.quiet_weeks += 1;
            let alarmed = sc[w.clone()].iter().any(|&v| v >= threshold);
            out.alarmed_quiet_weeks += usize::from(alarmed);
            if w.clone().any(|d| world.days[from + d].holiday.is_some()) {
                out.holiday_weeks += 1;
                out.alarmed_holiday_weeks += usize::from(alarmed);
            }
        }
        let mut t = 0;
        while t < sc.len() {
            if sc[t] >= threshold {
                let start = t;
                while t < sc.len() && sc[t] >= threshold {
                    t += 1;
                }
                out.episodes += 1;
                out.true_episodes += usize::from(marks[start..t].iter().any(|&b| b));
            } else {
                t += 1;
            }
        }
    }
    out
}

/// Mean and the half-width of its normal 95 % confidence interval over worlds.
pub fn mean_ci(xs: &[f64]) -> (f64, f64) {
    let n = xs.len() as f64;
    if xs.is_empty() {
        return (f64::NAN, f64::NAN);
    }
    let m = xs.iter().sum::<f64>() / n;
    let v = xs.iter().map(|x| (x - m).powi(2)).sum::<f64>() / (n - 1.0).max(1.0);
    (m, 1.96 * (v / n).sqrt())
}

/// Weekly totals aligned so the evaluated year starts a week: `(weeks, index of first evaluated week)`.
pub fn weekly(series: &[f64], eval_from: usize) -> (Vec<f64>, usize) {
    let offset = eval_from % 7;
    let w: Vec<f64> = series[offset..]
        .chunks(7)
        .filter(|c| c.len() == 7)
        .map(|c| c.iter().sum())
        .collect();
    (w, (eval_from - offset) / 7)
}

/// Daily score array from weekly scores: each week's score on its last day (when it is known).
pub fn weekly_to_daily(week_scores: &[f64], days: usize) -> Vec<f64> {
    let mut out = vec![f64::NEG_INFINITY; days];
    for (w, s) in week_scores.iter().enumerate() {
        let last = w * 7 + 6;
        if last < days {
            out[last] = *s;
        }
    }
    out
}

/// A run of daily cluster reports of one type over overlapping villages (one warning).
#[derive(Debug, Clone, PartialEq)]
pub struct ClusterEpisode {
    pub kind: usize,
    pub villages: std::collections::BTreeSet<usize>,
    /// First day the cylinder reaches back to, first and last report day.
    pub reach: usize,
    pub first: usize,
    pub last: usize,
    pub min_p: f64,
    pub truly: bool,
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct ClusterOutcome {
    /// Per injected cluster: (excess a day, detected while active, delay in days).
    pub truths: Vec<(f64, bool, Option<usize>)>,
    pub episodes: Vec<ClusterEpisode>,
}

/// One day's reported cluster: (kind, day, villages, first day reached, p).
pub type ClusterReport = (usize, usize, Vec<usize>, usize, f64);

/// Runs the scan on every evaluated day of every type (null model refreshed every 28 days) and
/// keeps the clusters with `p ≤ report_p`.
pub fn cluster_reports(
    world: &World,
    cfg: &ScanConfig,
    report_p: f64,
    seed: u64,
) -> Vec<ClusterReport> {
    use crate::daily::shares;
    use crate::dist::Rng;
    use crate::scan::{nearest, null_model, scan, ScanInput};
    let neighbours = nearest(&world.points, cfg.max_size);
    let mut rng = Rng::new(seed);
    let from = world.eval_from;
    let mut reports = Vec::new();
    let od = crate::daily::overdispersion(&world.counts, from - 365..from);
    for kind in 0..world.kinds {
        let share = shares(&world.counts, kind, from - 365..from);
        let mut null = None;
        for t in from..world.days.len() {
            let recent: Vec<Vec<u32>> = world.counts[kind]
                .iter()
                .map(|c| c[t + 1 - cfg.max_days..=t].to_vec())
                .collect();
            let input = ScanInput {
                counts: &recent,
                share: &share,
                neighbours: &neighbours,
                overdispersion: od,
            };
            if (t - from).is_multiple_of(28) || null.is_none() {
                null = Some(null_model(&input, cfg, &mut rng));
            }
            let Some(g) = null.as_ref() else { continue };
            for c in scan(&input, cfg, g) {
                if c.p <= report_p {
                    reports.push((kind, t, c.villages.clone(), t + 1 - c.days, c.p));
                }
            }
        }
    }
    reports
}

/// Detection of the injected clusters and the warnings (episodes) the reports with `p ≤ p_max`
/// make: reports of one type on overlapping villages at most two days apart are one warning.
pub fn cluster_outcome(world: &World, reports: &[ClusterReport], p_max: f64) -> ClusterOutcome {
    let reports: Vec<&ClusterReport> = reports.iter().filter(|r| r.4 <= p_max).collect();
    let mut out = ClusterOutcome::default();
    for truth in &world.clusters {
        let first = reports
            .iter()
            .filter(|r| r.0 == truth.kind && r.1 >= truth.start && r.1 <= truth.end)
            .filter(|r| r.2.iter().any(|v| truth.villages.contains(v)))
            .map(|r| r.1)
            .min();
        out.truths.push((
            truth.excess,
            first.is_some(),
            first.map(|t| t - truth.start),
        ));
    }
    let mut episodes: Vec<ClusterEpisode> = Vec::new();
    for &(kind, day, ref villages, reach, p) in reports {
        let open = episodes.iter_mut().find(|e| {
            e.kind == kind && e.last + 2 >= day && villages.iter().any(|v| e.villages.contains(v))
        });
        match open {
            Some(e) => {
                e.villages.extend(villages.iter().copied());
                e.last = day;
                e.reach = e.reach.min(reach);
                e.min_p = e.min_p.min(p);
            }
            None => episodes.push(ClusterEpisode {
                kind,
                villages: villages.iter().copied().collect(),
                reach,
                first: day,
                last: day,
                min_p: p,
                truly: false,
            }),
        }
    }
    for e in &mut episodes {
        e.truly = e.villages.iter().any(|&v| {
            world.injected[e.kind][v][e.reach..=e.last]
                .iter()
                .any(|&c| c > 0)
        });
    }
    out.episodes = episodes;
    out
}
