//! Prospective space-time cluster scan of one dispute type over the villages.
//!
//! Cylinders: a village and its nearest neighbours (1…`max_size` villages, by centroid
//! distance) × the last 1…`max_days` days, all ending today. A village's expected count on a
//! day is the day's county total for the type × the village's historical share of it — the
//! space-time permutation idea (Kulldorff 2005): conditioning on the daily totals means a
//! county-wide rise (or a holiday dip) is not a cluster, only a shift of cases *towards* some
//! villages is. The score is the multinomial log-likelihood ratio
//! `C ln(C/E) + (N−C) ln((N−C)/(N−E))` for `C > E` (N: the county's cases in those days).
//! Significance: the day's maximum score against the maxima of `replicates` data sets drawn under
//! the null (each day's total spread over villages by their shares), through a Gumbel fit so a
//! p-value below 1/replicates is still estimated (Abrams, Kleinman & Kulldorff 2010). Run once a
//! day, a p-value `p` is a recurrence interval of `1/p` days for that type.
use crate::dist::Rng;

/// p-value (per type-day) at which a cluster raises a yellow warning, and a red one: chosen by
/// `fengqiao bench warnings` for ≤ 1 false cluster per county-month (BENCHMARKS.md, issue 5).
pub const YELLOW_P: f64 = 1e-4;
pub const RED_P: f64 = 1e-5;

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ScanConfig {
    pub max_days: usize,
    pub max_size: usize,
    pub replicates: usize,
    /// Cylinders with fewer cases are not scored (a single case is never a cluster).
    pub min_cases: u32,
    /// Secondary clusters reported at most.
    pub max_clusters: usize,
}

impl Default for ScanConfig {
    fn default() -> Self {
        ScanConfig {
            max_days: 28,
            max_size: 10,
            replicates: 99,
            min_cases: 3,
            max_clusters: 3,
        }
    }
}

/// For each village: itself, then the others by increasing centroid distance, `k` in all.
pub fn nearest(points: &[(f64, f64)], k: usize) -> Vec<Vec<usize>> {
    points
        .iter()
        .enumerate()
        .map(|(i, &(x, y))| {
            let mut others: Vec<(f64, usize)> = points
                .iter()
                .enumerate()
                .map(|(j, &(u, v))| ((u - x).powi(2) + (v - y).powi(2), j))
                .collect();
            others.sort_by(|a, b| a.0.total_cmp(&b.0).then((a.1 != i).cmp(&(b.1 != i))));
            // The village itself first even when two centroids coincide.
            let mut out = vec![i];
            out.extend(
                others
                    .into_iter()
                    .map(|(_, j)| j)
                    .filter(|&j| j != i)
                    .take(k.saturating_sub(1)),
            );
            out
        })
        .collect()
}

#[derive(Debug, Clone, PartialEq)]
pub struct Cluster {
    /// Village indices, the centre first.
    pub villages: Vec<usize>,
    /// How many days back the cylinder reaches (1 = today only).
    pub days: usize,
    pub observed: u32,
    pub expected: f64,
    pub score: f64,
    pub p: f64,
}

impl Cluster {
    /// Days between false alarms this strong for this type when the scan runs daily.
    pub fn recurrence_days(&self) -> f64 {
        1.0 / self.p.max(1e-12)
    }
}

/// The scan's input for one type: `counts[v][d]` cases in village `v`, `d = 0` the oldest of the
/// last `max_days` days and the last entry today; `share[v]` the village's historical share.
pub struct ScanInput<'a> {
    pub counts: &'a [Vec<u32>],
    pub share: &'a [f64],
    pub neighbours: &'a [Vec<usize>],
    /// Village-level overdispersion `1/a` (from [`crate::daily::overdispersion`]): the null
    /// multiplies each village's share by a Gamma(a, 1/a) factor per replicate
    /// (Dirichlet-multinomial), so villages that simply vary more than Poisson do not make
    /// clusters. 0: plain multinomial.
    pub overdispersion: f64,
}

fn llr(c: f64, e: f64, n: f64) -> f64 {
    if c <= e || e <= 0.0 {
        return 0.0;
    }
    let mut s = c * (c / e).ln();
    if n > c && n > e {
        s += (n - c) * ((n - c) / (n - e)).ln();
    }
    s
}

/// Best cylinder per centre village: (score, size, days, observed, expected).
fn best_per_centre(
    counts: &[Vec<u32>],
    share: &[f64],
    neighbours: &[Vec<usize>],
    cfg: &ScanConfig,
) -> Vec<(f64, usize, usize, u32, f64)> {
    let days = counts.first().map_or(0, Vec::len).min(cfg.max_days);
    let len = counts.first().map_or(0, Vec::len);
    // Cases in each of the last w days, per village (w = 1..=days), and the county totals.
    let cum: Vec<Vec<u32>> = counts
        .iter()
        .map(|c| {
            let mut acc = 0;
            (0..days)
                .map(|w| {
                    acc += c[len - 1 - w];
                    acc
                })
                .collect()
        })
        .collect();
    let mut totals = vec![0f64; days];
    for c in &cum {
        for (t, v) in totals.iter_mut().zip(c) {
            *t += f64::from(*v);
        }
    }
    let mut zone = vec![0u32; days];
    neighbours
        .iter()
        .map(|nb| {
            zone.iter_mut().for_each(|z| *z = 0);
            let mut zshare = 0.0;
            let mut best = (0.0, 0, 0, 0, 0.0);
            for (k, &v) in nb.iter().take(cfg.max_size).enumerate() {
                zshare += share[v];
                for (z, c) in zone.iter_mut().zip(&cum[v]) {
                    *z += c;
                }
                for w in 0..days {
                    let c = zone[w];
                    if c < cfg.min_cases {
                        continue;
                    }
                    let n = totals[w];
                    let e = zshare * n;
                    let s = llr(f64::from(c), e, n);
                    if s > best.0 {
                        best = (s, k + 1, w + 1, c, e);
                    }
                }
            }
            best
        })
        .collect()
}

/// Spread each day's total over the villages by their shares.
#[allow(clippy::needless_range_loop)] // index arithmetic reads clearer here
fn null_counts(
    counts: &[Vec<u32>],
    share: &[f64],
    overdispersion: f64,
    days: usize,
    rng: &mut Rng,
) -> Vec<Vec<u32>> {
    let len = counts.first().map_or(0, Vec::len);
    let mut cdf = Vec::with_capacity(share.len());
    let mut acc = 0.0;
    for s in share {
        let g = if overdispersion > 0.0 {
            let a = 1.0 / overdispersion;
            rng.gamma(a) / a
        } else {
            1.0
        };
        acc += s * g;
        cdf.push(acc);
    }
    let total_share = acc.max(1e-12);
    let mut out = vec![vec![0u32; days]; counts.len()];
    for d in 0..days {
        let day = len - days + d;
        let n: u32 = counts.iter().map(|c| c[day]).sum();
        for _ in 0..n {
            let u = rng.uniform() * total_share;
            let v = cdf.partition_point(|&c| c <= u).min(share.len() - 1);
            out[v][d] += 1;
        }
    }
    out
}

/// The null distribution of the day's maximum score: `cfg.replicates` data sets with the same
/// daily totals spread over the villages by their shares, Gumbel-fitted. It depends on the shares
/// and the daily totals only, so a daily run may reuse it for some days.
pub fn null_model(input: &ScanInput<'_>, cfg: &ScanConfig, rng: &mut Rng) -> Gumbel {
    let len = input.counts.first().map_or(0, Vec::len);
    let days = len.min(cfg.max_days);
    let maxima: Vec<f64> = (0..cfg.replicates)
        .map(|_| {
            let sim = null_counts(input.counts, input.share, input.overdispersion, days, rng);
            best_per_centre(&sim, input.share, input.neighbours, cfg)
                .iter()
                .map(|b| b.0)
                .fold(0.0, f64::max)
        })
        .collect();
    Gumbel::fit(&maxima)
}

/// Today's clusters for one type, most likely first, non-overlapping, with their p-values
/// under `null` (from [`null_model`]).
pub fn scan(input: &ScanInput<'_>, cfg: &ScanConfig, null: &Gumbel) -> Vec<Cluster> {
    let len = input.counts.first().map_or(0, Vec::len);
    if len == 0 || input.counts.len() != input.share.len() {
        return Vec::new();
    }
    let best = best_per_centre(input.counts, input.share, input.neighbours, cfg);
    let mut order: Vec<usize> = (0..best.len()).filter(|&i| best[i].0 > 0.0).collect();
    order.sort_by(|&a, &b| best[b].0.total_cmp(&best[a].0));
    let mut taken = vec![false; input.counts.len()];
    let mut out = Vec::new();
    for centre in order {
        if out.len() >= cfg.max_clusters {
            break;
        }
        let (score, size, w, observed, expected) = best[centre];
        let villages: Vec<usize> = input.neighbours[centre]
            .iter()
            .take(size)
            .copied()
            .collect();
        if villages.iter().any(|&v| taken[v]) {
            continue;
        }
        for &v in &villages {
            taken[v] = true;
        }
        out.push(Cluster {
            villages,
            days: w,
            observed,
            expected,
            score,
            p: null.upper(score),
        });
    }
    out
}

/// Gumbel distribution fitted by moments.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Gumbel {
    pub location: f64,
    pub scale: f64,
}

impl Gumbel {
    pub fn fit(xs: &[f64]) -> Gumbel {
        let n = xs.len().max(1) as f64;
        let m = xs.iter().sum::<f64>() / n;
        let v = xs.iter().map(|x| (x - m).powi(2)).sum::<f64>() / (n - 1.0).max(1.0);
        let scale = (v.sqrt() * 6f64.sqrt() / std::f64::consts::PI).max(1e-6);
        Gumbel {
            location: m - 0.577_215_664_9 * scale,
            scale,
        }
    }

    /// `P(X ≥ x)`.
    pub fn upper(&self, x: f64) -> f64 {
        let z = (x - self.location) / self.scale;
        -(-(-z).exp()).exp_m1()
    }
}
