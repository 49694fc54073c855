//! One day's run over a county: surge scores for every type in every town and in the county,
//! the cluster scan of every type over the villages, and the hotspots of the last 28 days.
//! The application feeds it the counts from its roll-up tables; the benchmark times it on
//! 10,000 villages.
use crate::days::{covariates, DayInfo, P};
use crate::dist::Rng;
use crate::hotspot::hotspots;
use crate::scan::{null_model, scan, Cluster, ScanConfig, ScanInput};
use crate::surge::{scores, DayScore, Method, SurgeConfig};

/// The county as the statistics see it.
pub struct County<'a> {
    /// Consecutive days ending today (at least `SurgeConfig::window + guard + 7` for surges).
    pub days: &'a [DayInfo],
    /// `counts[kind][village][day]`, days aligned with `days`.
    pub counts: &'a [Vec<Vec<u32>>],
    pub town_of: &'a [usize],
    pub towns: usize,
    /// From [`crate::scan::nearest`].
    pub neighbours: &'a [Vec<usize>],
}

#[derive(Debug, Clone, PartialEq)]
pub struct SurgeSignal {
    pub kind: usize,
    /// `None`: the county.
    pub town: Option<usize>,
    pub today: DayScore,
    /// The last 28 days of the series, today last: (observed, expected).
    pub recent: Vec<(f64, f64)>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct ClusterSignal {
    pub kind: usize,
    pub cluster: Cluster,
}

#[derive(Debug, Clone, PartialEq)]
pub struct DailyResult {
    /// Every series' verdict today (the caller keeps those over its threshold).
    pub surges: Vec<SurgeSignal>,
    /// Clusters with their p-values (the caller keeps the significant ones).
    pub clusters: Vec<ClusterSignal>,
    /// Per village over the last 28 days, all types: (Gi* z, hot after FDR control at 5 %).
    pub hotspots: Vec<(f64, bool)>,
}

/// Village shares of a type over `range` days, shrunk towards the village's share of all types
/// by 20 pseudo-cases (a village with no history of this type still gets a small share).
pub fn shares(counts: &[Vec<Vec<u32>>], kind: usize, range: std::ops::Range<usize>) -> Vec<f64> {
    let nv = counts.first().map_or(0, Vec::len);
    let all: Vec<f64> = (0..nv)
        .map(|v| {
            counts
                .iter()
                .map(|k| {
                    k[v][range.clone()]
                        .iter()
                        .map(|&c| f64::from(c))
                        .sum::<f64>()
                })
                .sum()
        })
        .collect();
    let all_total: f64 = all.iter().sum::<f64>().max(1.0);
    let own: Vec<f64> = (0..nv)
        .map(|v| {
            counts[kind][v][range.clone()]
                .iter()
                .map(|&c| f64::from(c))
                .sum()
        })
        .collect();
    let own_total: f64 = own.iter().sum();
    const PRIOR: f64 = 20.0;
    own.iter()
        .zip(&all)
        .map(|(o, a)| {
            let prior = if all_total > 0.0 {
                a / all_total
            } else {
                1.0 / nv as f64
            };
            (o + PRIOR * prior.max(1e-6)) / (own_total + PRIOR)
        })
        .collect()
}

/// Village-level overdispersion of all disputes over `range`, in 28-day blocks: the moment
/// estimate of `1/a` in `Var(O) = E + E²/a`, with `E` = the block's county total × the village's
/// share over the whole range.
pub fn overdispersion(counts: &[Vec<Vec<u32>>], range: std::ops::Range<usize>) -> f64 {
    let nv = counts.first().map_or(0, Vec::len);
    let per_day: Vec<Vec<f64>> = (0..nv)
        .map(|v| {
            range
                .clone()
                .map(|d| counts.iter().map(|k| f64::from(k[v][d])).sum())
                .collect()
        })
        .collect();
    let total: Vec<f64> = per_day.iter().map(|d| d.iter().sum()).collect();
    let all: f64 = total.iter().sum();
    if all <= 0.0 {
        return 0.0;
    }
    let (mut num, mut den) = (0.0, 0.0);
    let days = range.len();
    for block in (0..days).step_by(28).filter(|b| b + 28 <= days) {
        let n: f64 = per_day
            .iter()
            .map(|d| d[block..block + 28].iter().sum::<f64>())
            .sum();
        for (v, d) in per_day.iter().enumerate() {
            let o: f64 = d[block..block + 28].iter().sum();
            let e = n * total[v] / all;
            num += (o - e).powi(2) - e;
            den += e * e;
        }
    }
    if den > 0.0 {
        (num / den).max(0.0)
    } else {
        0.0
    }
}

pub fn run(
    county: &County<'_>,
    surge: &SurgeConfig,
    scan_cfg: &ScanConfig,
    seed: u64,
) -> DailyResult {
    let n = county.days.len();
    let x: Vec<[f64; P]> = county.days.iter().map(covariates).collect();
    let kinds = county.counts.len();
    let nv = county.town_of.len();
    let today_cfg = SurgeConfig {
        refit_every: usize::MAX,
        ..*surge
    };
    let mut surges = Vec::new();
    let mut reference = vec![0.0; n];
    for k in county.counts {
        for row in k {
            for (o, c) in reference.iter_mut().zip(row) {
                *o += f64::from(*c);
            }
        }
    }
    for kind in 0..kinds {
        let mut town_series = vec![vec![0.0; n]; county.towns];
        let mut county_series = vec![0.0; n];
        for v in 0..nv {
            let t = county.town_of[v];
            for (d, &c) in county.counts[kind][v].iter().enumerate() {
                town_series[t][d] += f64::from(c);
                county_series[d] += f64::from(c);
            }
        }
        let series = town_series
            .into_iter()
            .enumerate()
            .map(|(t, s)| (Some(t), s))
            .chain(std::iter::once((None, county_series)));
        for (town, y) in series {
            let from = n.saturating_sub(28);
            let sc = scores(Method::GlmScan, &y, Some(&reference), &x, from, &today_cfg);
            if let Some(today) = sc.last() {
                surges.push(SurgeSignal {
                    kind,
                    town,
                    today: *today,
                    recent: y[from..]
                        .iter()
                        .zip(&sc)
                        .map(|(o, d)| (*o, d.expected))
                        .collect(),
                });
            }
        }
    }
    let history = n.saturating_sub(365 + scan_cfg.max_days)..n.saturating_sub(scan_cfg.max_days);
    let window = n.saturating_sub(scan_cfg.max_days)..n;
    let mut rng = Rng::new(seed);
    let mut clusters = Vec::new();
    let mut observed = vec![0.0; nv];
    let mut expected = vec![0.0; nv];
    let od = overdispersion(county.counts, history.clone());
    for kind in 0..kinds {
        let share = shares(county.counts, kind, history.clone());
        let recent: Vec<Vec<u32>> = county.counts[kind]
            .iter()
            .map(|c| c[window.clone()].to_vec())
            .collect();
        let total: f64 = recent.iter().flatten().map(|&c| f64::from(c)).sum();
        for v in 0..nv {
            observed[v] += recent[v].iter().map(|&c| f64::from(c)).sum::<f64>();
            expected[v] += share[v] * total;
        }
        let input = ScanInput {
            counts: &recent,
            share: &share,
            neighbours: county.neighbours,
            overdispersion: od,
        };
        let null = null_model(&input, scan_cfg, &mut rng);
        clusters.extend(
            scan(&input, scan_cfg, &null)
                .into_iter()
                .map(|cluster| ClusterSignal { kind, cluster }),
        );
    }
    let hot_nb: Vec<Vec<usize>> = county
        .neighbours
        .iter()
        .map(|nb| nb.iter().take(6).copied().collect())
        .collect();
    DailyResult {
        surges,
        clusters,
        hotspots: hotspots(&observed, &expected, &hot_nb, 0.05),
    }
}
