//! The count baseline: a log-linear Poisson regression on the day covariates fitted by IRLS,
//! reweighted once to shrink the pull of past outbreaks (Farrington's idea: down-weight days
//! whose Anscombe residual exceeds 2.58), with the negative-binomial size estimated from the
//! Pearson residuals. Predictions for a day are a [`CountDist`].
use crate::days::P;
use crate::dist::CountDist;

#[derive(Debug, Clone, PartialEq)]
pub struct Baseline {
    pub beta: [f64; P],
    /// Negative-binomial size (`None`: no overdispersion found, Poisson).
    pub size: Option<f64>,
    /// Lower bound on a day's mean: half a case over the training period, so a series that
    /// never had a case does not alarm on its first one with an infinitesimal p-value.
    pub floor: f64,
}

impl Baseline {
    pub fn mean(&self, x: &[f64; P]) -> f64 {
        let eta: f64 = self.beta.iter().zip(x).map(|(b, v)| b * v).sum();
        eta.clamp(-30.0, 30.0).exp().max(self.floor)
    }

    pub fn dist(&self, x: &[f64; P]) -> CountDist {
        CountDist::negbin(self.mean(x), self.size)
    }

    /// Fit to counts `y` observed on days with covariates `x`.
    pub fn fit(x: &[[f64; P]], y: &[f64]) -> Baseline {
        Baseline::fit_with_prior(x, y, None)
    }

    /// Fit with the calendar effects (columns from [`CALENDAR`]) shrunk towards `prior`'s
    /// (a model of a richer series, e.g. all disputes of the county): a sparse series borrows
    /// its holiday and weekday pattern instead of estimating "no case ever on the Golden Week"
    /// as an effect of minus infinity; a rich series' own data outweighs the pull
    /// ([`PRIOR_STRENGTH`] expected cases' worth of information).
    pub fn fit_with_prior(x: &[[f64; P]], y: &[f64], prior: Option<&Baseline>) -> Baseline {
        let n = y.len().min(x.len());
        let total: f64 = y[..n].iter().sum();
        let floor = 0.5 / n.max(1) as f64;
        if n == 0 || total == 0.0 {
            let mut beta = [0.0; P];
            beta[0] = floor.ln();
            return Baseline {
                beta,
                size: None,
                floor,
            };
        }
        let ones = vec![1.0; n];
        let beta = irls(&x[..n], &y[..n], &ones, prior);
        let mu: Vec<f64> = x[..n].iter().map(|r| linpred(&beta, r).exp()).collect();
        let phi0 = pearson(&y[..n], &mu, &ones, P).max(1.0);
        let weights: Vec<f64> = y[..n]
            .iter()
            .zip(&mu)
            .map(|(&yi, &m)| {
                let s = anscombe(yi, m, phi0);
                if s > 2.58 {
                    (2.58 / s).powi(2)
                } else {
                    1.0
                }
            })
            .collect();
        let beta = irls(&x[..n], &y[..n], &weights, prior);
        let mu: Vec<f64> = x[..n].iter().map(|r| linpred(&beta, r).exp()).collect();
        // Moment estimate of 1/size from the weighted residuals: E[(y-mu)^2 - mu] = mu^2 / size.
        let (mut num, mut den) = (0.0, 0.0);
        for ((&yi, &m), &w) in y[..n].iter().zip(&mu).zip(&weights) {
            num += w * ((yi - m).powi(2) - m);
            den += w * m * m;
        }
        let inv = if den > 0.0 { num / den } else { 0.0 };
        let size = if inv > 1e-3 {
            Some((1.0 / inv).max(0.2))
        } else {
            None
        };
        Baseline { beta, size, floor }
    }
}

fn linpred(beta: &[f64; P], x: &[f64; P]) -> f64 {
    beta.iter()
        .zip(x)
        .map(|(b, v)| b * v)
        .sum::<f64>()
        .clamp(-30.0, 30.0)
}

fn pearson(y: &[f64], mu: &[f64], w: &[f64], p: usize) -> f64 {
    let s: f64 = y
        .iter()
        .zip(mu)
        .zip(w)
        .map(|((yi, m), wi)| wi * (yi - m).powi(2) / m.max(1e-9))
        .sum();
    let wsum: f64 = w.iter().sum();
    s / (wsum - p as f64).max(1.0)
}

fn anscombe(y: f64, mu: f64, phi: f64) -> f64 {
    let mu = mu.max(1e-9);
    1.5 * (y.powf(2.0 / 3.0) - mu.powf(2.0 / 3.0)) / (mu.powf(1.0 / 6.0) * phi.sqrt())
}

/// The calendar columns of the design (weekend … make-up workday).
pub const CALENDAR: std::ops::Range<usize> = 5..P;
/// Information (in expected cases) the prior on calendar effects is worth.
pub const PRIOR_STRENGTH: f64 = 2.0;

/// Iteratively reweighted least squares for the Poisson log link with prior weights, and an
/// optional Gaussian penalty pulling the calendar effects towards another model's.
fn irls(x: &[[f64; P]], y: &[f64], prior: &[f64], shrink: Option<&Baseline>) -> [f64; P] {
    let mean = y.iter().sum::<f64>() / y.len() as f64;
    let mut beta = [0.0; P];
    beta[0] = mean.max(1e-3).ln();
    let mut last_dev = f64::INFINITY;
    for _ in 0..30 {
        let mut a = [[0.0; P]; P];
        let mut b = [0.0; P];
        let mut dev = 0.0;
        for ((row, &yi), &pw) in x.iter().zip(y).zip(prior) {
            let eta = linpred(&beta, row);
            let mu = eta.exp().max(1e-10);
            let z = eta + (yi - mu) / mu;
            let w = pw * mu;
            for i in 0..P {
                let wi = w * row[i];
                if wi == 0.0 {
                    continue;
                }
                b[i] += wi * z;
                for j in 0..=i {
                    a[i][j] += wi * row[j];
                }
            }
            if yi > 0.0 {
                dev += pw * 2.0 * (yi * (yi / mu).ln() - (yi - mu));
            } else {
                dev += pw * 2.0 * mu;
            }
        }
        // Ridge: keeps columns that never vary in the window (no make-up day in it) at zero.
        for (i, row) in a.iter_mut().enumerate() {
            row[i] += if i == 0 { 1e-9 } else { 1e-3 };
        }
        if let Some(p) = shrink {
            for i in CALENDAR {
                a[i][i] += PRIOR_STRENGTH;
                b[i] += PRIOR_STRENGTH * p.beta[i];
            }
        }
        let Some(next) = cholesky_solve(&a, &b) else {
            break;
        };
        beta = next;
        if (last_dev - dev).abs() <= 1e-8 * (1.0 + dev.abs()) {
            break;
        }
        last_dev = dev;
    }
    beta
}

/// Solve `A x = b` for symmetric positive-definite `A` given by its lower triangle.
#[allow(clippy::needless_range_loop)] // index arithmetic reads clearer here
fn cholesky_solve(a: &[[f64; P]; P], b: &[f64; P]) -> Option<[f64; P]> {
    let mut l = [[0.0; P]; P];
    for i in 0..P {
        for j in 0..=i {
            let mut s = a[i][j];
            for k in 0..j {
                s -= l[i][k] * l[j][k];
            }
            if i == j {
                if s <= 0.0 {
                    return None;
                }
                l[i][i] = s.sqrt();
            } else {
                l[i][j] = s / l[j][j];
            }
        }
    }
    let mut z = [0.0; P];
    for i in 0..P {
        let mut s = b[i];
        for k in 0..i {
            s -= l[i][k] * z[k];
        }
        z[i] = s / l[i][i];
    }
    let mut x = [0.0; P];
    for i in (0..P).rev() {
        let mut s = z[i];
        for k in i + 1..P {
            s -= l[k][i] * x[k];
        }
        x[i] = s / l[i][i];
    }
    Some(x)
}
