//! The simulated county the detectors are benchmarked on (issue 5): villages on a plane grouped
//! into towns, dispute types with their own shares and seasons, daily negative-binomial counts
//! (a county-day and a village-month gamma effect on top of Poisson) with a weekday pattern that
//! follows the real 2024–2025 calendar (调休 included), a rise in the weeks before the Spring
//! Festival, dips on the Spring Festival and the Golden Week; year 1 (2024, after a December
//! 2023 run-in) for training with a few contaminating outbreaks, year 2 (2025) evaluated with
//! injected surges and clusters.
//!
//! Surges follow Noufaily et al. (2013) on a daily scale: an outbreak of
//! `Poisson(k × SD)` cases, SD the standard deviation of the series' weekly totals in year 1,
//! each case's day drawn as `start + ⌊7 × LogNormal(0, 0.5)⌋` (a median of a week), its village
//! by population within the area. Clusters: `excess` extra cases a day (Poisson) for 7–28 days
//! in 3–10 neighbouring villages, one type.
use crate::days::{day_infos, DayInfo, Holiday};
use crate::dist::Rng;
use crate::scan::nearest;
use chrono::NaiveDate;
use fengqiao_domain::calendar::china_2024_2026;

/// A series the surge detectors watch: a type in a town, or in the whole county.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SeriesId {
    /// `None`: the county.
    pub town: Option<usize>,
    pub kind: usize,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Surge {
    pub series: SeriesId,
    pub k: f64,
    /// Day of the first injected case.
    pub start: usize,
    /// Last day with an injected case.
    pub end: usize,
    pub size: u32,
}

#[derive(Debug, Clone, PartialEq)]
pub struct ClusterTruth {
    pub kind: usize,
    pub villages: Vec<usize>,
    pub start: usize,
    pub end: usize,
    pub excess: f64,
    pub size: u32,
}

#[derive(Debug, Clone, PartialEq)]
pub struct WorldConfig {
    pub villages_x: usize,
    pub villages_y: usize,
    pub towns_x: usize,
    pub towns_y: usize,
    pub kinds: usize,
    /// Mean cases a working day in the county.
    pub daily_mean: f64,
    pub surge_ks: Vec<f64>,
    /// Surges injected per k.
    pub surges_per_k: usize,
    pub cluster_excess: Vec<f64>,
    /// Clusters injected per excess level.
    pub clusters_per_level: usize,
    /// Negative control: every village's rate × 1.3 for four weeks from mid-May of year 2.
    pub uniform_rise: bool,
    /// Outbreaks hidden in the training year.
    pub contaminating: usize,
}

impl Default for WorldConfig {
    fn default() -> Self {
        WorldConfig {
            villages_x: 20,
            villages_y: 10,
            towns_x: 5,
            towns_y: 2,
            kinds: 15,
            daily_mean: 40.0,
            surge_ks: vec![2.0, 3.0, 5.0, 10.0],
            surges_per_k: 4,
            cluster_excess: vec![0.5, 1.0, 2.0],
            clusters_per_level: 3,
            uniform_rise: false,
            contaminating: 3,
        }
    }
}

impl WorldConfig {
    /// A world with nothing injected in year 2.
    pub fn null(&self) -> WorldConfig {
        WorldConfig {
            surges_per_k: 0,
            clusters_per_level: 0,
            ..self.clone()
        }
    }
}

#[derive(Debug, Clone)]
pub struct World {
    pub days: Vec<DayInfo>,
    /// First day of the evaluated year.
    pub eval_from: usize,
    pub points: Vec<(f64, f64)>,
    pub town_of: Vec<usize>,
    pub towns: usize,
    pub kinds: usize,
    /// `counts[kind][village][day]`.
    pub counts: Vec<Vec<Vec<u32>>>,
    /// `injected[kind][village][day]`: how many of the counts were injected (truth).
    pub injected: Vec<Vec<Vec<u32>>>,
    /// The Poisson mean of the counts before anything was injected, with the drawn county-day
    /// and village-month effects, in factors: `base[kind][day] × weight[village] ×
    /// village_month[village][day / 30]` ([`World::expected`]). What no detector can know; the
    /// benchmark's oracles read it to bound what any detector could find.
    pub base: Vec<Vec<f64>>,
    pub weight: Vec<f64>,
    pub village_month: Vec<Vec<f64>>,
    pub surges: Vec<Surge>,
    pub clusters: Vec<ClusterTruth>,
}

fn date(y: i32, m: u32, d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, d).unwrap_or_default()
}

impl World {
    pub fn generate(cfg: &WorldConfig, seed: u64) -> World {
        let root = Rng::new(seed);
        let mut rng = root.fork(1);
        let days = day_infos(&china_2024_2026(), date(2023, 12, 1), date(2025, 12, 31));
        let eval_from = days
            .iter()
            .position(|d| d.date == date(2025, 1, 1))
            .unwrap_or(0);
        let train_from = days
            .iter()
            .position(|d| d.date == date(2024, 1, 1))
            .unwrap_or(0);
        let n_days = days.len();
        // Villages on a jittered grid, towns as blocks of it.
        let (vx, vy) = (cfg.villages_x, cfg.villages_y);
        let mut points = Vec::new();
        let mut town_of = Vec::new();
        for j in 0..vy {
            for i in 0..vx {
                points.push((
                    i as f64 + 0.8 * rng.uniform(),
                    j as f64 + 0.8 * rng.uniform(),
                ));
                let tx = i * cfg.towns_x / vx;
                let ty = j * cfg.towns_y / vy;
                town_of.push(ty * cfg.towns_x + tx);
            }
        }
        let nv = points.len();
        let towns = cfg.towns_x * cfg.towns_y;
        let weight: Vec<f64> = {
            let w: Vec<f64> = (0..nv).map(|_| (0.5 * rng.normal()).exp()).collect();
            let s: f64 = w.iter().sum();
            w.into_iter().map(|v| v / s).collect()
        };
        // Type shares (Zipf), seasons, sensitivity to the pre-festival weeks.
        let shares: Vec<f64> = {
            let w: Vec<f64> = (0..cfg.kinds).map(|j| 1.0 / (j as f64 + 1.0)).collect();
            let s: f64 = w.iter().sum();
            w.into_iter().map(|v| v / s).collect()
        };
        let amp: Vec<f64> = (0..cfg.kinds).map(|_| 0.3 * rng.uniform()).collect();
        let phase: Vec<f64> = (0..cfg.kinds)
            .map(|_| std::f64::consts::TAU * rng.uniform())
            .collect();
        let festival: Vec<f64> = (0..cfg.kinds)
            .map(|j| if j % 5 == 1 { 1.7 } else { 1.1 })
            .collect();
        // Shared day effects.
        let day_effect: Vec<f64> = (0..n_days).map(|_| rng.gamma(30.0) / 30.0).collect();
        let months = n_days / 30 + 1;
        let village_month: Vec<Vec<f64>> = (0..nv)
            .map(|_| (0..months).map(|_| rng.gamma(10.0) / 10.0).collect())
            .collect();
        let mut counts = vec![vec![vec![0u32; n_days]; nv]; cfg.kinds];
        let mut base_mean = vec![vec![0.0f64; n_days]; cfg.kinds];
        let rise_from = days
            .iter()
            .position(|d| d.date == date(2025, 5, 12))
            .unwrap_or(0);
        for (t, d) in days.iter().enumerate() {
            let mut m = if d.rest { 0.45 } else { 1.0 };
            if d.after_rest {
                m *= 1.2;
            }
            match d.holiday {
                Some(Holiday::SpringFestival) => m = 0.3,
                Some(Holiday::GoldenWeek) => m = 0.4,
                Some(Holiday::Other) => m = 0.5,
                None => {}
            }
            let trend = 1.0 + 0.05 * (t as f64 / 365.0);
            let rise = if cfg.uniform_rise && t >= rise_from && t < rise_from + 28 {
                1.3
            } else {
                1.0
            };
            let angle =
                std::f64::consts::TAU * f64::from(chrono::Datelike::ordinal0(&d.date)) / 365.25;
            for j in 0..cfg.kinds {
                let season = 1.0 + amp[j] * (angle + phase[j]).sin();
                let fest = if d.pre_festival { festival[j] } else { 1.0 };
                let base =
                    cfg.daily_mean * shares[j] * m * trend * rise * season * fest * day_effect[t];
                base_mean[j][t] = base;
                for v in 0..nv {
                    let lambda = base * weight[v] * village_month[v][t / 30];
                    counts[j][v][t] = rng.poisson(lambda) as u32;
                }
            }
        }
        let mut world = World {
            days,
            eval_from,
            points,
            town_of,
            towns,
            kinds: cfg.kinds,
            injected: vec![vec![vec![0u32; n_days]; nv]; cfg.kinds],
            base: base_mean,
            weight: weight.clone(),
            village_month,
            counts,
            surges: Vec::new(),
            clusters: Vec::new(),
        };
        // Contaminating outbreaks in the training year (k = 5), not evaluated.
        let mut rng = root.fork(2);
        for _ in 0..cfg.contaminating {
            let series = world.random_series(&mut rng);
            let start = train_from + rng.below(300);
            world.inject_surge(series, 5.0, start, &weight, &mut rng, false);
        }
        // Year-2 surges: each on its own series, k by k.
        let mut used: Vec<SeriesId> = Vec::new();
        for &k in &cfg.surge_ks {
            for _ in 0..cfg.surges_per_k {
                let mut series = world.random_series(&mut rng);
                while used.contains(&series) {
                    series = world.random_series(&mut rng);
                }
                used.push(series);
                let start = eval_from + rng.below(365 - 40);
                world.inject_surge(series, k, start, &weight, &mut rng, true);
            }
        }
        let neighbours = nearest(&world.points, 10);
        for &excess in &cfg.cluster_excess {
            for _ in 0..cfg.clusters_per_level {
                let kind = rng.below(cfg.kinds);
                let centre = rng.below(nv);
                let size = 3 + rng.below(8);
                let duration = 7 + rng.below(22);
                let start = eval_from + rng.below(365 - duration - 7);
                let villages: Vec<usize> = neighbours[centre].iter().take(size).copied().collect();
                let vw: Vec<f64> = villages.iter().map(|&v| weight[v]).collect();
                let mut total = 0;
                for t in start..start + duration {
                    let n = rng.poisson(excess);
                    for _ in 0..n {
                        let v = villages[pick(&vw, &mut rng)];
                        world.counts[kind][v][t] += 1;
                        world.injected[kind][v][t] += 1;
                        total += 1;
                    }
                }
                world.clusters.push(ClusterTruth {
                    kind,
                    villages,
                    start,
                    end: start + duration - 1,
                    excess,
                    size: total,
                });
            }
        }
        world
    }

    fn random_series(&self, rng: &mut Rng) -> SeriesId {
        let town = if rng.uniform() < 0.5 {
            None
        } else {
            Some(rng.below(self.towns))
        };
        SeriesId {
            town,
            kind: rng.below(self.kinds),
        }
    }

    fn inject_surge(
        &mut self,
        series: SeriesId,
        k: f64,
        start: usize,
        weight: &[f64],
        rng: &mut Rng,
        record: bool,
    ) {
        let train_from = self.eval_from.saturating_sub(365);
        let y = self.series(series);
        let weekly: Vec<f64> = y[train_from..self.eval_from]
            .chunks(7)
            .filter(|c| c.len() == 7)
            .map(|c| c.iter().sum())
            .collect();
        let n = weekly.len().max(2) as f64;
        let m = weekly.iter().sum::<f64>() / n;
        let sd = (weekly.iter().map(|w| (w - m).powi(2)).sum::<f64>() / (n - 1.0)).sqrt();
        let size = rng.poisson(k * sd) as u32;
        let villages: Vec<usize> = (0..self.points.len())
            .filter(|&v| series.town.is_none_or(|t| self.town_of[v] == t))
            .collect();
        let vw: Vec<f64> = villages.iter().map(|&v| weight[v]).collect();
        let mut end = start;
        let mut first = usize::MAX;
        for _ in 0..size {
            let delay = (7.0 * (0.5 * rng.normal()).exp()).floor() as usize;
            let t = (start + delay).min(self.days.len() - 1);
            end = end.max(t);
            first = first.min(t);
            let v = villages[pick(&vw, rng)];
            self.counts[series.kind][v][t] += 1;
            self.injected[series.kind][v][t] += 1;
        }
        if record {
            self.surges.push(Surge {
                series,
                k,
                start: first.min(end),
                end,
                size,
            });
        }
    }

    /// Daily totals of a series.
    pub fn series(&self, s: SeriesId) -> Vec<f64> {
        self.sum_villages(s, &self.counts)
    }

    /// Daily totals of every type in the county.
    pub fn total(&self) -> Vec<f64> {
        let mut out = vec![0.0; self.days.len()];
        for kind in &self.counts {
            for row in kind {
                for (o, c) in out.iter_mut().zip(row) {
                    *o += f64::from(*c);
                }
            }
        }
        out
    }

    /// The true Poisson mean of type `kind` in village `v` on day `t` before injection.
    pub fn expected(&self, kind: usize, v: usize, t: usize) -> f64 {
        self.base[kind][t] * self.weight[v] * self.village_month[v][t / 30]
    }

    /// Daily true Poisson means of a series before injection ([`World::expected`]).
    pub fn expected_series(&self, s: SeriesId) -> Vec<f64> {
        let mut out = vec![0.0; self.days.len()];
        for v in 0..self.points.len() {
            if s.town.is_some_and(|t| self.town_of[v] != t) {
                continue;
            }
            for (t, o) in out.iter_mut().enumerate() {
                *o += self.expected(s.kind, v, t);
            }
        }
        out
    }

    /// Daily injected cases in a series.
    pub fn injected_series(&self, s: SeriesId) -> Vec<f64> {
        self.sum_villages(s, &self.injected)
    }

    fn sum_villages(&self, s: SeriesId, from: &[Vec<Vec<u32>>]) -> Vec<f64> {
        let mut out = vec![0.0; self.days.len()];
        for (v, row) in from[s.kind].iter().enumerate() {
            if s.town.is_some_and(|t| self.town_of[v] != t) {
                continue;
            }
            for (o, c) in out.iter_mut().zip(row) {
                *o += f64::from(*c);
            }
        }
        out
    }

    /// Every surge series: each type in each town, then each type in the county.
    pub fn all_series(&self) -> Vec<SeriesId> {
        let mut out = Vec::new();
        for kind in 0..self.kinds {
            for t in 0..self.towns {
                out.push(SeriesId {
                    town: Some(t),
                    kind,
                });
            }
            out.push(SeriesId { town: None, kind });
        }
        out
    }
}

/// Index drawn with probability proportional to `w`.
fn pick(w: &[f64], rng: &mut Rng) -> usize {
    let total: f64 = w.iter().sum();
    let mut u = rng.uniform() * total;
    for (i, x) in w.iter().enumerate() {
        if u < *x {
            return i;
        }
        u -= x;
    }
    w.len().saturating_sub(1)
}
