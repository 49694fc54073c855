//! Surge detectors for one daily count series (a dispute type in a town or the county).
//!
//! Every detector turns the series into a daily **score** (larger = more unusual); a warning is
//! raised when the score reaches the detector's threshold. Thresholds are set for a false-alarm
//! rate (share of quiet series-weeks with an alarm) by `fengqiao bench warnings`, which also
//! picks the detector: see BENCHMARKS.md.
//!
//! - EARS C1 / C2 / C3 (CDC's Early Aberration Reporting System): a z-score against the mean and
//!   standard deviation of the last 7 days (C1), of days t−9…t−3 (C2), and the sum of the last
//!   three positive C2 excesses over 1 (C3). No calendar; the reference.
//! - `GlmScan`: the day's expected count from the [`Baseline`] regression (annual harmonics,
//!   weekends after 调休, each holiday kind, the weeks before the Spring Festival, the first
//!   working day after a rest), refitted every `refit_every` days on the trailing year that ends
//!   `guard` days before; the score is −log₁₀ of the Bonferroni-adjusted smallest
//!   negative-binomial upper-tail p-value of the sums over the last 1, 3 and 7 days.
//! - `NbCusum`: the same baseline, a negative-binomial CUSUM for a doubling of the mean
//!   (log-likelihood ratio increments, floored at 0; the score is the CUSUM itself).
use crate::days::P;
use crate::dist::CountDist;
use crate::glm::Baseline;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Method {
    EarsC1,
    EarsC2,
    EarsC3,
    GlmScan,
    NbCusum,
}

impl Method {
    pub const ALL: [Method; 5] = [
        Method::EarsC1,
        Method::EarsC2,
        Method::EarsC3,
        Method::GlmScan,
        Method::NbCusum,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Method::EarsC1 => "ears_c1",
            Method::EarsC2 => "ears_c2",
            Method::EarsC3 => "ears_c3",
            Method::GlmScan => "glm_scan",
            Method::NbCusum => "nb_cusum",
        }
    }
}

/// The detector in production and its threshold, as chosen by the benchmark (BENCHMARKS.md,
/// issue 5): the calibrated score for 0.5 % alarmed quiet series-weeks, rounded.
pub const PRODUCTION: Method = Method::GlmScan;
/// −log₁₀ p at which `GlmScan` raises a yellow surge warning…
pub const YELLOW_SCORE: f64 = 3.1;
/// …and a red one.
pub const RED_SCORE: f64 = 4.4;

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SurgeConfig {
    /// Days of history the baseline is fitted on.
    pub window: usize,
    /// Days left out before the day tested, so a growing surge does not raise its own baseline.
    pub guard: usize,
    /// Refit the baseline every so many days (1 = every day).
    pub refit_every: usize,
}

impl Default for SurgeConfig {
    fn default() -> Self {
        SurgeConfig {
            window: 365,
            guard: 7,
            refit_every: 28,
        }
    }
}

/// One day's verdict.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct DayScore {
    pub score: f64,
    /// Expected count that day (EARS: the baseline mean).
    pub expected: f64,
    /// The p-value behind the score, where the detector has one.
    pub p: Option<f64>,
    /// The window (days ending today) behind the score, with its observed and expected sums.
    pub window: u32,
    pub window_observed: f64,
    pub window_expected: f64,
}

/// Scores for days `from..series.len()` (`x[t]` are day t's covariates; `from` must leave
/// `window + guard` days of history for the regression detectors, 9 for EARS).
///
/// `reference` is a richer series over the same days (all disputes of the county) whose
/// calendar effects the regression detectors borrow (see [`Baseline::fit_with_prior`]).
pub fn scores(
    method: Method,
    series: &[f64],
    reference: Option<&[f64]>,
    x: &[[f64; P]],
    from: usize,
    cfg: &SurgeConfig,
) -> Vec<DayScore> {
    match method {
        Method::EarsC1 | Method::EarsC2 | Method::EarsC3 => ears(method, series, from),
        Method::GlmScan | Method::NbCusum => regression(method, series, reference, x, from, cfg),
    }
}

fn mean_sd(xs: &[f64]) -> (f64, f64) {
    let n = xs.len() as f64;
    let m = xs.iter().sum::<f64>() / n;
    let v = xs.iter().map(|x| (x - m).powi(2)).sum::<f64>() / (n - 1.0).max(1.0);
    (m, v.sqrt())
}

/// Smallest standard deviation EARS divides by (sparse series have weeks of zeros).
const EARS_MIN_SIGMA: f64 = 0.5;

fn ears(method: Method, y: &[f64], from: usize) -> Vec<DayScore> {
    let c2 = |t: usize| -> (f64, f64) {
        if t < 9 {
            return (0.0, 0.0);
        }
        let (m, s) = mean_sd(&y[t - 9..t - 2]);
        ((y[t] - m) / s.max(EARS_MIN_SIGMA), m)
    };
    (from..y.len())
        .map(|t| {
            let (score, expected) = match method {
                Method::EarsC1 if t >= 7 => {
                    let (m, s) = mean_sd(&y[t - 7..t]);
                    ((y[t] - m) / s.max(EARS_MIN_SIGMA), m)
                }
                Method::EarsC2 => c2(t),
                Method::EarsC3 => {
                    let (today, m) = c2(t);
                    let past: f64 = (1..=2)
                        .filter(|k| t >= *k)
                        .map(|k| (c2(t - k).0 - 1.0).max(0.0))
                        .sum();
                    (today.max(0.0) + past, m)
                }
                _ => (0.0, 0.0),
            };
            DayScore {
                score,
                expected,
                p: None,
                window: 1,
                window_observed: y[t],
                window_expected: expected,
            }
        })
        .collect()
}

/// Negative-binomial p-value of a sum of days with means `mus` and common size.
pub fn window_p(observed: f64, mus: &[f64], size: Option<f64>) -> f64 {
    let m: f64 = mus.iter().sum();
    let sq: f64 = mus.iter().map(|v| v * v).sum();
    let size = size.map(|r| if sq > 0.0 { r * m * m / sq } else { r });
    CountDist::negbin(m, size).upper_tail(observed.round().max(0.0) as u64)
}

/// The windows the scan tests, in days.
pub const WINDOWS: [usize; 3] = [1, 3, 7];

fn regression(
    method: Method,
    y: &[f64],
    reference: Option<&[f64]>,
    x: &[[f64; P]],
    from: usize,
    cfg: &SurgeConfig,
) -> Vec<DayScore> {
    let mut out = Vec::with_capacity(y.len().saturating_sub(from));
    let mut model: Option<Baseline> = None;
    let mut fitted_at = 0usize;
    let mut cusum = 0.0f64;
    // Expected means of the days scored so far (the windows reach back up to 7 days).
    let mut mus: Vec<f64> = vec![0.0; y.len()];
    let start_history = from.saturating_sub(WINDOWS[WINDOWS.len() - 1]);
    for t in start_history..y.len() {
        if model.is_none() || t - fitted_at >= cfg.refit_every.max(1) {
            let end = t.saturating_sub(cfg.guard);
            let begin = end.saturating_sub(cfg.window);
            let prior = reference.map(|r| Baseline::fit(&x[begin..end], &r[begin..end]));
            model = Some(Baseline::fit_with_prior(
                &x[begin..end],
                &y[begin..end],
                prior.as_ref(),
            ));
            fitted_at = t;
        }
        let Some(b) = model.as_ref() else { continue };
        let mu0 = b.mean(&x[t]);
        mus[t] = mu0;
        if t < from {
            continue;
        }
        match method {
            Method::NbCusum => {
                let mu1 = 2.0 * mu0;
                let llr = match b.size {
                    Some(r) => {
                        y[t] * (mu1 * (r + mu0) / (mu0 * (r + mu1))).ln()
                            + r * ((r + mu0) / (r + mu1)).ln()
                    }
                    None => y[t] * (mu1 / mu0).ln() - (mu1 - mu0),
                };
                cusum = (cusum + llr).max(0.0);
                out.push(DayScore {
                    score: cusum,
                    expected: mu0,
                    p: None,
                    window: 1,
                    window_observed: y[t],
                    window_expected: mu0,
                });
            }
            _ => {
                let mut best = (1.0f64, 1, y[t], mu0);
                for w in WINDOWS {
                    let lo = t + 1 - w.min(t + 1);
                    let observed: f64 = y[lo..=t].iter().sum();
                    let p = window_p(observed, &mus[lo..=t], b.size);
                    if p < best.0 {
                        best = (p, w, observed, mus[lo..=t].iter().sum());
                    }
                }
                let p = (best.0 * WINDOWS.len() as f64).min(1.0);
                out.push(DayScore {
                    score: -p.max(1e-300).log10(),
                    expected: mu0,
                    p: Some(p),
                    window: best.1 as u32,
                    window_observed: best.2,
                    window_expected: best.3,
                });
            }
        }
    }
    out
}
