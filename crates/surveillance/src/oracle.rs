//! Oracle surge detectors for the benchmark only: they read the simulator's true Poisson means
//! ([`World::expected`]), which no real detector can know, so their detection rates bound what
//! any detector could reach on the same worlds at the same false-alarm rate.
//!
//! - [`Oracle::Windows`]: the Poisson upper tail of the sums over the last 1…21 days against
//!   the true means (the production scan's rule, without its baseline's error or
//!   overdispersion, and with three times as many windows).
//! - [`Oracle::Shape`]: the generalised likelihood ratio for the surges as the simulator makes
//!   them: `Poisson(mean + θ f(d))` on the days since an unknown onset, `f` the distribution of
//!   `⌊7 × LogNormal(0, 0.5)⌋`, maximised over the onset and `θ ≥ 0`. This is the alternative
//!   the benchmark injects, so no test of a surge's shape can do much better.
//!
//! Scores are on a detector's own scale; `fengqiao bench warnings --oracle` calibrates them to
//! the same 0.5 % of alarmed quiet series-weeks as the others.
use crate::dist::{normal_upper, CountDist};
use crate::eval::SeriesScores;
use crate::sim::World;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Oracle {
    Windows,
    Shape,
}

impl Oracle {
    pub const ALL: [Oracle; 2] = [Oracle::Windows, Oracle::Shape];

    pub fn as_str(self) -> &'static str {
        match self {
            Oracle::Windows => "oracle_windows",
            Oracle::Shape => "oracle_shape",
        }
    }
}

/// Longest window of [`Oracle::Windows`], in days.
pub const MAX_WINDOW: usize = 21;
/// Days of a surge's profile [`Oracle::Shape`] looks back over (`P(delay ≥ 28)` ≈ 0.3 %).
pub const SHAPE_DAYS: usize = 28;

/// `P(⌊7 × LogNormal(0, 0.5)⌋ = d)` for `d` in `0..SHAPE_DAYS`: the share of a surge's cases
/// `d` days after its onset.
pub fn surge_profile() -> Vec<f64> {
    let cdf = |x: f64| {
        if x <= 0.0 {
            0.0
        } else {
            1.0 - normal_upper((x / 7.0).ln() / 0.5)
        }
    };
    (0..SHAPE_DAYS)
        .map(|d| cdf(d as f64 + 1.0) - cdf(d as f64))
        .collect()
}

/// Daily scores of an oracle on every surge series of a world, for the evaluated year.
pub fn scores(world: &World, oracle: Oracle) -> SeriesScores {
    let profile = surge_profile();
    world
        .all_series()
        .into_iter()
        .map(|s| {
            let y = world.series(s);
            let mu = world.expected_series(s);
            let sc = (world.eval_from..y.len())
                .map(|t| match oracle {
                    Oracle::Windows => windows_score(&y, &mu, t),
                    Oracle::Shape => shape_score(&y, &mu, t, &profile),
                })
                .collect();
            (s, sc)
        })
        .collect()
}

/// −log₁₀ of the smallest Poisson upper-tail p-value of the sums over the last 1…21 days.
pub fn windows_score(y: &[f64], mu: &[f64], t: usize) -> f64 {
    let (mut obs, mut exp, mut best) = (0.0, 0.0, 1.0f64);
    for w in 0..MAX_WINDOW.min(t + 1) {
        obs += y[t - w];
        exp += mu[t - w];
        let p = CountDist::poisson(exp).upper_tail(obs.round().max(0.0) as u64);
        best = best.min(p);
    }
    -best.max(1e-300).log10()
}

/// The largest log-likelihood ratio, over onsets `t − 27 … t` and sizes `θ ≥ 0`, of
/// `Poisson(mu + θ f(d))` against `Poisson(mu)` on the days from the onset to `t`.
pub fn shape_score(y: &[f64], mu: &[f64], t: usize, f: &[f64]) -> f64 {
    let mut best = 0.0f64;
    for back in 0..f.len().min(t + 1) {
        let onset = t - back;
        let days = onset..=t;
        // Concave in θ: Newton from the moment estimate, kept at θ ≥ 0.
        let excess: f64 = days.clone().map(|u| y[u] - mu[u]).sum();
        let mass: f64 = f[..=back].iter().sum();
        if excess <= 0.0 || mass <= 0.0 {
            continue;
        }
        let llr = |theta: f64| -> (f64, f64, f64) {
            let (mut l, mut g, mut h) = (0.0, 0.0, 0.0);
            for u in days.clone() {
                let fu = f[u - onset];
                let m = mu[u].max(1e-9);
                let r = fu / (m + theta * fu);
                l += y[u] * (1.0 + theta * fu / m).ln() - theta * fu;
                g += y[u] * r - fu;
                h -= y[u] * r * r;
            }
            (l, g, h)
        };
        let mut theta = excess / mass;
        for _ in 0..30 {
            let (_, g, h) = llr(theta);
            if h >= 0.0 {
                break;
            }
            let next = (theta - g / h).max(0.0);
            let done = (next - theta).abs() <= 1e-6 * theta.max(1.0);
            theta = next;
            if done {
                break;
            }
        }
        best = best.max(llr(theta).0);
    }
    best
}

/// The oracle's cluster reports: for every type and evaluated day, the cylinder (a village and
/// up to `max_size − 1` nearest, the last 1…`max_days` days) with the largest
/// expectation-based Poisson log-likelihood ratio `O ln(O/E) − (O − E)` against the true means
/// (Neill's expectation-based scan, with nothing to estimate), at least `min_cases` cases and a
/// ratio of at least `min_score`. The report's "p" is `exp(−ratio)`, so `cluster_outcome`'s
/// `p ≤ p_max` is a ratio threshold of `−ln p_max`.
pub fn cluster_reports(
    world: &World,
    max_days: usize,
    max_size: usize,
    min_cases: u32,
    min_score: f64,
) -> Vec<crate::eval::ClusterReport> {
    let neighbours = crate::scan::nearest(&world.points, max_size);
    let from = world.eval_from;
    let n_days = world.days.len();
    let nv = world.points.len();
    let mut reports = Vec::new();
    for kind in 0..world.kinds {
        // Cumulative observed and expected counts per village: a window is a difference.
        let cum = |f: &dyn Fn(usize, usize) -> f64| -> Vec<Vec<f64>> {
            (0..nv)
                .map(|v| {
                    let mut acc = 0.0;
                    std::iter::once(0.0)
                        .chain((0..n_days).map(|t| {
                            acc += f(v, t);
                            acc
                        }))
                        .collect()
                })
                .collect()
        };
        let obs = cum(&|v, t| f64::from(world.counts[kind][v][t]));
        let exp = cum(&|v, t| world.expected(kind, v, t));
        for t in from..n_days {
            // (ratio, centre, villages, days)
            let mut best = (0.0f64, 0usize, 0usize, 0usize);
            for (c, nb) in neighbours.iter().enumerate() {
                for d in 1..=max_days.min(t + 1) {
                    let (mut o, mut e) = (0.0, 0.0);
                    for (k, &v) in nb.iter().enumerate() {
                        o += obs[v][t + 1] - obs[v][t + 1 - d];
                        e += exp[v][t + 1] - exp[v][t + 1 - d];
                        if o < f64::from(min_cases) || o <= e || e <= 0.0 {
                            continue;
                        }
                        let ratio = o * (o / e).ln() - (o - e);
                        if ratio > best.0 {
                            best = (ratio, c, k + 1, d);
                        }
                    }
                }
            }
            let (ratio, c, k, d) = best;
            if ratio >= min_score && k > 0 {
                reports.push((
                    kind,
                    t,
                    neighbours[c][..k].to_vec(),
                    t + 1 - d,
                    (-ratio).exp(),
                ));
            }
        }
    }
    reports
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_profile_is_a_distribution_with_half_its_cases_in_the_first_week() {
        let f = surge_profile();
        let total: f64 = f.iter().sum();
        assert!(total > 0.99 && total <= 1.0, "{total}");
        // ⌊7 × LogNormal(0, 0.5)⌋ ≤ 6 exactly when LogNormal(0, 0.5) < 1: half the time.
        let first_week: f64 = f[..7].iter().sum();
        assert!((first_week - 0.5).abs() < 1e-6, "{first_week}");
        assert!(f[0] < 1e-4, "no case on the onset day itself: {}", f[0]);
        assert!(f[7] > f[14] && f[14] > f[27], "{f:?}");
    }

    #[test]
    fn the_shape_ratio_grows_with_the_surge_and_is_zero_without_one() {
        let f = surge_profile();
        let mu = vec![0.5; 60];
        let quiet = vec![0.0; 60];
        assert_eq!(shape_score(&quiet, &mu, 59, &f), 0.0);
        let mut small = quiet.clone();
        let mut large = quiet.clone();
        for d in [5, 6, 7, 8, 10] {
            small[40 + d] = 1.0;
            large[40 + d] = 3.0;
        }
        let (s, l) = (
            shape_score(&small, &mu, 50, &f),
            shape_score(&large, &mu, 50, &f),
        );
        assert!(s > 0.0 && l > s, "small {s}, large {l}");
        // The window oracle orders the two the same way.
        assert!(windows_score(&large, &mu, 50) > windows_score(&small, &mu, 50));
    }
}
