//! Performance indicators of a unit or a place over a period, and the Fengqiao index (枫桥指数)
//! that combines them into one 0–100 score.
//!
//! The indicators are ratios of the statistics' flow totals ([`crate::stats::Metric`]) over the
//! same period, so a unit's health check, the county average and the index all come from the
//! same roll-up rows.
//!
//! # The Fengqiao index
//!
//! `index = 100 × Σ wᵢ·sᵢ / Σ wᵢ`, summed over the components that have data in the period
//! (a component whose divisor is 0 is left out and the weights of the others renormalised;
//! with no component at all there is no score). Each component sᵢ is in 0..=1:
//!
//! | component | sᵢ | default weight |
//! |---|---|---|
//! | resolution 化解率 | resolved ÷ concluded | 30 |
//! | mediation 调解成功率 | mediation successes ÷ mediated | 15 |
//! | satisfaction 满意度 | (mean score − 1) ÷ 4 | 25 |
//! | on time 按期率 | 1 − overtime ÷ registered | 15 |
//! | speed 办理时效 | 1 − mean handling days ÷ 30, at least 0 | 5 |
//! | no reopening 一次办结率 | 1 − reopened ÷ concluded | 10 |
//!
//! The weights are configurable ([`Weights`]); the formula shown in the UI is
//! [`Weights::formula`].
use crate::stats::Metric;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use utoipa::ToSchema;

/// Flow totals over a period, by metric.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Totals(pub BTreeMap<String, i64>);

impl Totals {
    pub fn get(&self, m: Metric) -> i64 {
        self.0.get(m.as_str()).copied().unwrap_or(0)
    }

    pub fn add(&mut self, metric: &str, v: i64) {
        *self.0.entry(metric.to_string()).or_insert(0) += v;
    }

    pub fn merge(&mut self, other: &Totals) {
        for (k, v) in &other.0 {
            self.add(k, *v);
        }
    }
}

/// The indicators of a health check (体检). Rates are fractions in 0..=1; `None` when the
/// divisor is 0 (nothing to measure).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Indicators {
    /// Cases registered (受理量).
    pub intake: i64,
    /// Cases concluded (办结量).
    pub concluded: i64,
    /// Resolved ÷ concluded (化解率).
    pub resolution_rate: Option<f64>,
    /// Mediation successes ÷ cases mediated (调解成功率).
    pub mediation_success_rate: Option<f64>,
    /// Mean satisfaction score 1–5 (满意度).
    pub satisfaction: Option<f64>,
    /// Evaluations of 4–5 ÷ evaluations (满意率).
    pub satisfied_rate: Option<f64>,
    /// Cases that went overdue ÷ cases registered (超期率).
    pub overtime_rate: Option<f64>,
    /// Mean days from acceptance to conclusion (平均办理天数).
    pub handling_days: Option<f64>,
    /// Reopened ÷ concluded (重办率).
    pub reopen_rate: Option<f64>,
}

fn ratio(n: i64, d: i64) -> Option<f64> {
    (d > 0).then(|| n as f64 / d as f64)
}

impl Indicators {
    pub fn from_totals(t: &Totals) -> Indicators {
        use Metric::*;
        Indicators {
            intake: t.get(Registered),
            concluded: t.get(Concluded),
            resolution_rate: ratio(t.get(Resolved), t.get(Concluded)),
            mediation_success_rate: ratio(t.get(MediationSuccess), t.get(Mediated)),
            satisfaction: ratio(t.get(SatisfactionSum), t.get(Rated)),
            satisfied_rate: ratio(t.get(Satisfied), t.get(Rated)),
            overtime_rate: ratio(t.get(Overtime), t.get(Registered)).map(|r| r.min(1.0)),
            handling_days: ratio(t.get(HandlingDays), t.get(Handled)),
            reopen_rate: ratio(t.get(Reopened), t.get(Concluded)),
        }
    }
}

/// The largest weight a component may have.
pub const MAX_WEIGHT: f64 = 1_000.0;

/// The weights of the index's components (0 to [`MAX_WEIGHT`]; they are normalised).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Weights {
    #[schema(minimum = 0.0, maximum = 1000.0)]
    pub resolution: f64,
    #[schema(minimum = 0.0, maximum = 1000.0)]
    pub mediation: f64,
    #[schema(minimum = 0.0, maximum = 1000.0)]
    pub satisfaction: f64,
    #[schema(minimum = 0.0, maximum = 1000.0)]
    pub on_time: f64,
    #[schema(minimum = 0.0, maximum = 1000.0)]
    pub speed: f64,
    #[schema(minimum = 0.0, maximum = 1000.0)]
    pub no_reopen: f64,
}

impl Default for Weights {
    fn default() -> Weights {
        Weights {
            resolution: 30.0,
            mediation: 15.0,
            satisfaction: 25.0,
            on_time: 15.0,
            speed: 5.0,
            no_reopen: 10.0,
        }
    }
}

/// Handling days at which the speed component reaches 0.
pub const SLOW_DAYS: f64 = 30.0;

impl Weights {
    /// Checks the weights: numbers from 0 to [`MAX_WEIGHT`], not all zero.
    pub fn validate(&self) -> Result<(), crate::DomainError> {
        let all = self.as_array();
        if all.iter().any(|w| !(0.0..=MAX_WEIGHT).contains(w)) || all.iter().sum::<f64>() <= 0.0 {
            return Err(crate::DomainError::validation(
                "weights",
                "index weights must be numbers from 0 to 1000, not all zero",
            ));
        }
        Ok(())
    }

    fn as_array(&self) -> [f64; 6] {
        [
            self.resolution,
            self.mediation,
            self.satisfaction,
            self.on_time,
            self.speed,
            self.no_reopen,
        ]
    }

    /// The formula with these weights, as shown next to a score.
    pub fn formula(&self) -> String {
        format!(
            "100 × ({:.0}×化解率 + {:.0}×调解成功率 + {:.0}×(满意度−1)/4 + {:.0}×(1−超期率) + {:.0}×(1−平均办理天数/{SLOW_DAYS:.0}) + {:.0}×(1−重办率)) ÷ 有数据项权重之和",
            self.resolution, self.mediation, self.satisfaction, self.on_time, self.speed, self.no_reopen
        )
    }
}

/// One component of a score.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Component {
    pub name: String,
    pub weight: f64,
    /// In 0..=1.
    pub value: f64,
}

/// A Fengqiao index score with the components it was made of.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Score {
    /// 0–100, one decimal.
    pub value: f64,
    pub components: Vec<Component>,
}

/// The index of a set of indicators; `None` when no component has data.
pub fn score(ind: &Indicators, w: &Weights) -> Option<Score> {
    let parts = [
        ("resolution", w.resolution, ind.resolution_rate),
        ("mediation", w.mediation, ind.mediation_success_rate),
        (
            "satisfaction",
            w.satisfaction,
            ind.satisfaction.map(|s| (s - 1.0) / 4.0),
        ),
        ("on_time", w.on_time, ind.overtime_rate.map(|r| 1.0 - r)),
        (
            "speed",
            w.speed,
            ind.handling_days.map(|d| 1.0 - d / SLOW_DAYS),
        ),
        ("no_reopen", w.no_reopen, ind.reopen_rate.map(|r| 1.0 - r)),
    ];
    let components: Vec<Component> = parts
        .into_iter()
        .filter(|(_, weight, _)| *weight > 0.0)
        .filter_map(|(name, weight, v)| {
            v.map(|v| Component {
                name: name.to_string(),
                weight,
                value: v.clamp(0.0, 1.0),
            })
        })
        .collect();
    // Relative to the largest weight, so that no sum overflows whatever the weights' scale.
    let largest = components.iter().map(|c| c.weight).fold(0.0, f64::max);
    let total: f64 = components.iter().map(|c| c.weight / largest).sum();
    if components.is_empty() || !(total > 0.0 && total.is_finite()) {
        return None;
    }
    let weighted: f64 = components
        .iter()
        .map(|c| c.weight / largest * c.value)
        .sum();
    let raw = 100.0 * (weighted / total);
    Some(Score {
        value: (raw * 10.0).round() / 10.0,
        components,
    })
}
