//! Count distributions (Poisson, negative binomial) and a seedable random source.
//!
//! The negative binomial is parameterised by its mean `mu` and size `r`:
//! `Var = mu + mu² / r`; `r = ∞` is the Poisson.

/// `ln Γ(x)` for `x > 0` (Lanczos, g = 7, 9 terms; |error| < 1e-13 over the range we use).
pub fn ln_gamma(x: f64) -> f64 {
    const C: [f64; 9] = [
        0.999_999_999_999_809_9,
        676.520_368_121_885_1,
        -1_259.139_216_722_402_8,
        771.323_428_777_653_1,
        -176.615_029_162_140_6,
        12.507_343_278_686_905,
        -0.138_571_095_265_720_12,
        9.984_369_578_019_572e-6,
        1.505_632_735_149_311_6e-7,
    ];
    if x < 0.5 {
        // Reflection.
        let pi = std::f64::consts::PI;
        return (pi / (pi * x).sin()).ln() - ln_gamma(1.0 - x);
    }
    let x = x - 1.0;
    let mut a = C[0];
    let t = x + 7.5;
    for (i, c) in C.iter().enumerate().skip(1) {
        a += c / (x + i as f64);
    }
    0.5 * (2.0 * std::f64::consts::PI).ln() + (x + 0.5) * t.ln() - t + a.ln()
}

/// A negative binomial (or, with `size = None`, Poisson) count distribution.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CountDist {
    pub mean: f64,
    /// `None`: Poisson.
    pub size: Option<f64>,
}

impl CountDist {
    pub fn poisson(mean: f64) -> Self {
        CountDist { mean, size: None }
    }

    pub fn negbin(mean: f64, size: Option<f64>) -> Self {
        CountDist { mean, size }
    }

    pub fn variance(&self) -> f64 {
        match self.size {
            Some(r) => self.mean + self.mean * self.mean / r,
            None => self.mean,
        }
    }

    /// `ln P(X = k)`.
    pub fn ln_pmf(&self, k: u64) -> f64 {
        let mu = self.mean.max(1e-12);
        let kf = k as f64;
        match self.size {
            None => kf * mu.ln() - mu - ln_gamma(kf + 1.0),
            Some(r) => {
                ln_gamma(kf + r) - ln_gamma(r) - ln_gamma(kf + 1.0)
                    + r * (r / (r + mu)).ln()
                    + kf * (mu / (r + mu)).ln()
            }
        }
    }

    /// `P(X ≥ k)`, summed upwards from `k` so that small tails keep their precision.
    pub fn upper_tail(&self, k: u64) -> f64 {
        if k == 0 {
            return 1.0;
        }
        let mu = self.mean.max(1e-12);
        // Ratio pmf(j+1)/pmf(j).
        let ratio = |j: f64| match self.size {
            None => mu / (j + 1.0),
            Some(r) => (j + r) / (j + 1.0) * mu / (r + mu),
        };
        // Below the mode the upward sum converges slowly; use the complement there.
        if (k as f64) < mu + 1.0 {
            let mut p = self.ln_pmf(0).exp();
            let mut cdf = 0.0;
            for j in 0..k {
                cdf += p;
                p *= ratio(j as f64);
            }
            return (1.0 - cdf).clamp(0.0, 1.0);
        }
        let mut term = self.ln_pmf(k).exp();
        let mut sum = 0.0;
        let mut j = k as f64;
        for _ in 0..100_000 {
            sum += term;
            term *= ratio(j);
            j += 1.0;
            if term < sum * 1e-16 {
                break;
            }
        }
        sum.clamp(0.0, 1.0)
    }
}

/// SplitMix64: small, fast, and the same stream on every platform.
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Rng(seed)
    }

    /// An independent stream derived from this seed and a label.
    pub fn fork(&self, label: u64) -> Rng {
        let mut r = Rng(self.0 ^ label.wrapping_mul(0x9E37_79B9_7F4A_7C15));
        r.next_u64();
        r
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform on [0, 1).
    pub fn uniform(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }

    pub fn below(&mut self, n: usize) -> usize {
        ((self.uniform() * n as f64) as usize).min(n.saturating_sub(1))
    }

    pub fn normal(&mut self) -> f64 {
        let u1 = self.uniform().max(1e-300);
        let u2 = self.uniform();
        (-2.0 * u1.ln()).sqrt() * (2.0 * std::f64::consts::PI * u2).cos()
    }

    /// Gamma(shape, scale = 1) by Marsaglia–Tsang.
    pub fn gamma(&mut self, shape: f64) -> f64 {
        if shape < 1.0 {
            let u = self.uniform().max(1e-300);
            return self.gamma(shape + 1.0) * u.powf(1.0 / shape);
        }
        let d = shape - 1.0 / 3.0;
        let c = 1.0 / (9.0 * d).sqrt();
        loop {
            let x = self.normal();
            let v = (1.0 + c * x).powi(3);
            if v <= 0.0 {
                continue;
            }
            let u = self.uniform();
            if u.ln() < 0.5 * x * x + d - d * v + d * v.ln() {
                return d * v;
            }
        }
    }

    pub fn poisson(&mut self, mean: f64) -> u64 {
        if mean <= 0.0 {
            return 0;
        }
        if mean < 30.0 {
            // Inversion by sequential search.
            let mut k = 0u64;
            let mut p = (-mean).exp();
            let mut cdf = p;
            let u = self.uniform();
            while u > cdf && k < 1000 {
                k += 1;
                p *= mean / k as f64;
                cdf += p;
            }
            return k;
        }
        // Large means: normal approximation with continuity correction is plenty here.
        (mean + mean.sqrt() * self.normal() + 0.5).floor().max(0.0) as u64
    }

    pub fn negbin(&mut self, d: CountDist) -> u64 {
        match d.size {
            None => self.poisson(d.mean),
            Some(r) => {
                let lambda = self.gamma(r) * d.mean / r;
                self.poisson(lambda)
            }
        }
    }
}

/// Standard normal upper tail `P(Z ≥ z)` (Abramowitz–Stegun 7.1.26 through erfc; |error| < 1.5e-7).
pub fn normal_upper(z: f64) -> f64 {
    let x = z / std::f64::consts::SQRT_2;
    let erfc = |x: f64| {
        let t = 1.0 / (1.0 + 0.327_591_1 * x.abs());
        let y = t
            * (0.254_829_592
                + t * (-0.284_496_736
                    + t * (1.421_413_741 + t * (-1.453_152_027 + t * 1.061_405_429))))
            * (-x * x).exp();
        if x >= 0.0 {
            y
        } else {
            2.0 - y
        }
    };
    0.5 * erfc(x)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ln_gamma_matches_factorials() {
        let mut f = 1.0f64;
        for n in 1..20u32 {
            f *= f64::from(n);
            assert!(
                (ln_gamma(f64::from(n) + 1.0) - f.ln()).abs() < 1e-10,
                "n = {n}"
            );
        }
        assert!((ln_gamma(0.5) - std::f64::consts::PI.sqrt().ln()).abs() < 1e-12);
    }

    #[test]
    fn tails_sum_to_one_and_agree_both_ways() {
        for d in [
            CountDist::poisson(3.2),
            CountDist::negbin(3.2, Some(1.5)),
            CountDist::poisson(0.05),
        ] {
            let mut cdf = 0.0;
            for k in 0..60u64 {
                let tail = d.upper_tail(k);
                assert!(
                    (tail + cdf - 1.0).abs() < 1e-9,
                    "{d:?} k={k}: {tail} + {cdf}"
                );
                cdf += d.ln_pmf(k).exp();
            }
        }
        // Poisson(2): P(X ≥ 8) = 0.001097 (tables).
        assert!((CountDist::poisson(2.0).upper_tail(8) - 0.001_097_3).abs() < 1e-6);
        assert!((normal_upper(1.959_964) - 0.025).abs() < 1e-6);
    }

    #[test]
    fn samplers_have_the_right_moments() {
        let mut rng = Rng::new(7);
        let n = 200_000;
        let d = CountDist::negbin(4.0, Some(2.0));
        let xs: Vec<f64> = (0..n).map(|_| rng.negbin(d) as f64).collect();
        let mean = xs.iter().sum::<f64>() / n as f64;
        let var = xs.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / n as f64;
        assert!((mean - 4.0).abs() < 0.05, "mean {mean}");
        assert!(
            (var - d.variance()).abs() < 0.4,
            "var {var} vs {}",
            d.variance()
        );
    }
}
