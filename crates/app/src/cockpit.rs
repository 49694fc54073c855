//! The command cockpit (一屏统揽): today's and this month's figures, the 12-month trend, type
//! and channel mix, the areas below the scope for the map, the unit ranking by the Fengqiao
//! index, and the newest cases. Every figure comes from the statistics' roll-up rows
//! ([`fengqiao_domain::stats::RollKey`]) — a few indexed look-ups, never a scan of the cases.
use crate::{App, AppError, Result};
use chrono::{Datelike, NaiveDate};
use fengqiao_domain::access::{authorize_node, Actor, Operation};
use fengqiao_domain::case::{Channel, DisputeType, Light, Status};
use fengqiao_domain::indicators::{score, Indicators, Score, Totals, Weights};
use fengqiao_domain::jurisdiction::{Jurisdiction, Level};
use fengqiao_domain::stats::{self, Grain, RollKey};
use fengqiao_domain::time::local_date;
use fengqiao_store::{DimSel, StatsQuery, StoredCase};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::sync::Arc;
use utoipa::ToSchema;

/// The setting holding the index weights (JSON of [`Weights`]).
pub const WEIGHTS_KEY: &str = "index_weights";

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct NodeRef {
    pub code: String,
    pub name: String,
    pub level: Level,
}

impl From<&Jurisdiction> for NodeRef {
    fn from(j: &Jurisdiction) -> NodeRef {
        NodeRef {
            code: j.code.clone(),
            name: j.name.clone(),
            level: j.level,
        }
    }
}

/// The headline figures.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
pub struct Kpis {
    pub today_registered: i64,
    pub today_concluded: i64,
    pub month_registered: i64,
    pub month_concluded: i64,
    pub month_resolved: i64,
    /// Open and not yet concluded (registered, routed, accepted, in mediation).
    pub in_progress: i64,
    pub yellow: i64,
    pub red: i64,
    /// Resolved ÷ concluded this month.
    pub resolution_rate: Option<f64>,
    pub mediation_success_rate: Option<f64>,
    /// Mean satisfaction 1–5 this month.
    pub satisfaction: Option<f64>,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct TrendPoint {
    /// `YYYY-MM`.
    pub month: String,
    pub registered: i64,
    pub concluded: i64,
    pub resolved: i64,
}

/// A count under a code (type or channel) with its label.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Count {
    pub key: String,
    pub label: String,
    pub value: i64,
}

/// An area below the scope (a town of the county, a village of the town).
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Area {
    pub code: String,
    pub name: String,
    /// Registered this month.
    pub registered: i64,
    pub in_progress: i64,
    pub yellow: i64,
    pub red: i64,
    /// Whether the area has children to drill into (towns do, villages do not).
    pub drill: bool,
    /// Live warnings touching the area (its own, or a cluster with a village in it), and the
    /// highest level among them (`red`, `yellow`, or empty).
    pub warnings: u32,
    pub warning_level: String,
    /// A village of the area is a hot spot on the last early-warning run (Gi*, FDR 5 %).
    pub hot: bool,
}

/// A live warning as the cockpit lists it.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct WarningItem {
    pub id: i64,
    pub level: String,
    pub kind: String,
    pub dispute_type: DisputeType,
    pub type_label: String,
    pub area: String,
    pub status: String,
    pub last_day: String,
    pub observed: f64,
    pub expected: f64,
    /// `expected` for people (see `fmt_expected`).
    pub expected_text: String,
}

/// A unit's or a place's Fengqiao index for a month.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Ranked {
    /// Unit id, or the jurisdiction code.
    pub id: String,
    pub name: String,
    pub indicators: Indicators,
    pub score: Option<Score>,
}

/// A new case in the live feed (no personal data).
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct FeedItem {
    pub id: i64,
    pub tracking_code: String,
    pub dispute_type: DisputeType,
    pub type_label: String,
    pub channel: Channel,
    pub channel_label: String,
    pub place: String,
    /// Local time `YYYY-MM-DD HH:MM`.
    pub registered_at: String,
    pub light: Light,
    pub risk_high: bool,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Cockpit {
    pub node: NodeRef,
    /// The scope's ancestors within the viewer's scope, top first (for the breadcrumb).
    pub crumbs: Vec<NodeRef>,
    /// `YYYY-MM-DD`.
    pub today: String,
    /// `YYYY-MM`.
    pub month: String,
    pub kpi: Kpis,
    pub trend: Vec<TrendPoint>,
    /// Registered this month by type, largest first.
    pub types: Vec<Count>,
    /// Registered this month by channel, largest first.
    pub channels: Vec<Count>,
    pub areas: Vec<Area>,
    /// The month the ranking is for (the last complete month).
    pub ranking_month: String,
    /// Units in the scope by Fengqiao index, best first (units without a score last).
    pub ranking: Vec<Ranked>,
    /// The index formula with the weights in force.
    pub formula: String,
    /// Open cases with a red light, newest first.
    pub red_cases: Vec<FeedItem>,
    /// Live area and type warnings in the scope, red first, then newest.
    pub warnings: Vec<WarningItem>,
    pub open_warnings: usize,
    pub feed: Vec<FeedItem>,
}

/// `YYYY-MM` of a date.
pub fn month_str(d: NaiveDate) -> String {
    stats::month_of(d)
}

/// The month `k` months after `month` (`YYYY-MM`; negative k goes back).
pub fn shift_month(month: &str, k: i32) -> Result<String> {
    let d = NaiveDate::parse_from_str(&format!("{month}-01"), "%Y-%m-%d")
        .map_err(|_| fengqiao_domain::DomainError::validation("month", "expected YYYY-MM"))?;
    let idx = d.year() * 12 + d.month0() as i32 + k;
    Ok(format!(
        "{:04}-{:02}",
        idx.div_euclid(12),
        idx.rem_euclid(12) + 1
    ))
}

/// Sums rows into totals per (scope, dim) and metric.
pub(crate) fn totals_by<F: Fn(&RollKey) -> String>(
    rows: &[(RollKey, i64)],
    key: F,
) -> BTreeMap<String, Totals> {
    let mut out: BTreeMap<String, Totals> = BTreeMap::new();
    for (k, v) in rows {
        out.entry(key(k)).or_default().add(&k.metric, *v);
    }
    out
}

impl App {
    /// The jurisdiction a statistics view is about: `code`, or the actor's own scope; it must
    /// lie within the actor's scope and the actor must be allowed to see statistics.
    pub async fn stats_node(&self, actor: &Actor, code: Option<&str>) -> Result<Jurisdiction> {
        let code = match code {
            Some(c) => c.to_string(),
            None => actor
                .scope_path
                .trim_end_matches('/')
                .rsplit('/')
                .next()
                .unwrap_or_default()
                .to_string(),
        };
        let node = self
            .store
            .get_jurisdiction(&code)
            .await?
            .ok_or(AppError::NotFound("jurisdiction"))?;
        authorize_node(actor, Operation::ViewStatistics, &node.path)?;
        Ok(node)
    }

    /// The index weights in force (the defaults until an admin sets them).
    pub async fn index_weights(&self) -> Result<Weights> {
        match self.store.get_setting(WEIGHTS_KEY).await? {
            Some(json) => serde_json::from_str(&json)
                .map_err(|e| AppError::Internal(format!("index weights: {e}"))),
            None => Ok(Weights::default()),
        }
    }

    /// Sets the index weights (admins).
    pub async fn set_index_weights(&self, actor: &Actor, w: &Weights) -> Result<()> {
        self.require_admin(actor)?;
        w.validate()?;
        let json = serde_json::to_string(w).map_err(|e| AppError::Internal(e.to_string()))?;
        self.store.put_setting(WEIGHTS_KEY, &json).await?;
        self.audit_actor(
            actor,
            fengqiao_domain::audit::AuditAction::ConfigChanged,
            "setting:index_weights",
            "ok",
            serde_json::json!(w),
        )
        .await
    }

    /// Roll-up rows of some scopes.
    pub(crate) async fn rollup(
        &self,
        scopes: Vec<String>,
        grain: Grain,
        from: &str,
        to: &str,
        dim: DimSel,
    ) -> Result<Vec<(RollKey, i64)>> {
        Ok(self
            .store
            .stats_rows(&StatsQuery {
                scopes,
                grain,
                from: from.into(),
                to: to.into(),
                dim,
            })
            .await?)
    }

    /// The children of a node that statistics are kept for (down to villages).
    pub(crate) async fn stat_children(&self, node: &Jurisdiction) -> Result<Vec<Jurisdiction>> {
        if matches!(node.level, Level::Village | Level::Grid) {
            return Ok(Vec::new());
        }
        Ok(self.store.list_jurisdictions(Some(&node.code)).await?)
    }

    /// The units in a node's subtree ranked by the Fengqiao index for `month`.
    pub async fn unit_ranking(
        &self,
        node: &Jurisdiction,
        month: &str,
        weights: &Weights,
    ) -> Result<Vec<Ranked>> {
        let units = self.store.list_units(&node.path).await?;
        let rows = self
            .rollup(
                units.iter().map(|u| stats::unit_scope(u.id)).collect(),
                Grain::Month,
                month,
                month,
                DimSel::Total,
            )
            .await?;
        let totals = totals_by(&rows, |k| k.scope.clone());
        let ranked = units
            .iter()
            .map(|u| {
                let t = totals
                    .get(&stats::unit_scope(u.id))
                    .cloned()
                    .unwrap_or_default();
                let indicators = Indicators::from_totals(&t);
                Ranked {
                    id: u.id.to_string(),
                    name: u.name.clone(),
                    score: score(&indicators, weights),
                    indicators,
                }
            })
            .collect();
        Ok(rank(ranked))
    }

    /// Builds the cockpit of `code` (the actor's scope by default).
    pub async fn cockpit(&self, actor: &Actor, code: Option<&str>) -> Result<Cockpit> {
        let node = self.stats_node(actor, code).await?;
        let now = self.now();
        let today = local_date(now);
        let day = today.format("%Y-%m-%d").to_string();
        let month = month_str(today);
        let first = shift_month(&month, -11)?;
        let scope = vec![node.code.clone()];

        let days = self
            .rollup(scope.clone(), Grain::Day, &day, &day, DimSel::Total)
            .await?;
        let months = self
            .rollup(scope.clone(), Grain::Month, &first, &month, DimSel::Total)
            .await?;
        let by_status = self
            .rollup(scope.clone(), Grain::Open, "", "", DimSel::Kind("s:"))
            .await?;
        let by_light = self
            .rollup(scope.clone(), Grain::Open, "", "", DimSel::Kind("l:"))
            .await?;
        let by_type = self
            .rollup(
                scope.clone(),
                Grain::Month,
                &month,
                &month,
                DimSel::Kind("t:"),
            )
            .await?;
        let by_channel = self
            .rollup(scope, Grain::Month, &month, &month, DimSel::Kind("c:"))
            .await?;

        let today_t = totals_by(&days, |_| String::new())
            .remove("")
            .unwrap_or_default();
        let per_month = totals_by(&months, |k| k.period.clone());
        let this = per_month.get(&month).cloned().unwrap_or_default();
        let ind = Indicators::from_totals(&this);
        let open = open_counts(&by_status, &by_light);
        let kpi = Kpis {
            today_registered: today_t.get(stats::Metric::Registered),
            today_concluded: today_t.get(stats::Metric::Concluded),
            month_registered: ind.intake,
            month_concluded: ind.concluded,
            month_resolved: this.get(stats::Metric::Resolved),
            in_progress: open.get(&node.code).map(|o| o.0).unwrap_or(0),
            yellow: open.get(&node.code).map(|o| o.1).unwrap_or(0),
            red: open.get(&node.code).map(|o| o.2).unwrap_or(0),
            resolution_rate: ind.resolution_rate,
            mediation_success_rate: ind.mediation_success_rate,
            satisfaction: ind.satisfaction,
        };
        let mut trend = Vec::with_capacity(12);
        for k in 0..12 {
            let m = shift_month(&first, k)?;
            let t = per_month.get(&m).cloned().unwrap_or_default();
            trend.push(TrendPoint {
                month: m,
                registered: t.get(stats::Metric::Registered),
                concluded: t.get(stats::Metric::Concluded),
                resolved: t.get(stats::Metric::Resolved),
            });
        }
        let types = counts(&by_type, "t:", |v| {
            DisputeType::parse(v).map(|t| t.zh().to_string())
        });
        let channels = counts(&by_channel, "c:", |v| {
            Channel::parse(v).map(|c| c.zh().to_string())
        });
        let live = self.warnings_in(&node.path, None, None, true).await?;
        let mut areas = self.areas(&node, &month).await?;
        let hot = self.hotspots().await?;
        for a in &mut areas {
            let prefix = format!("{}/", a.code);
            let within = |code: &str| code == a.code || code.starts_with(&a.code);
            for w in &live {
                if w.area_path.contains(&format!("/{prefix}"))
                    || w.evidence.places.iter().any(|p| within(p))
                {
                    a.warnings += 1;
                    if a.warning_level != "red" {
                        a.warning_level = w.level.as_str().to_string();
                    }
                }
            }
            a.hot = hot.villages.iter().any(|v| v.hot && within(&v.code));
        }
        let mut warnings: Vec<WarningItem> = live
            .iter()
            .map(|w| WarningItem {
                id: w.id,
                level: w.level.as_str().into(),
                kind: w.kind.zh().into(),
                dispute_type: w.dispute_type,
                type_label: w.dispute_type.zh().into(),
                area: w.area_name.clone(),
                status: w.status.as_str().into(),
                last_day: w.last_day.to_string(),
                observed: w.evidence.observed,
                expected: w.evidence.expected,
                expected_text: fengqiao_domain::warning::fmt_expected(w.evidence.expected),
            })
            .collect();
        warnings.sort_by(|a, b| {
            (b.level == "red")
                .cmp(&(a.level == "red"))
                .then(b.last_day.cmp(&a.last_day))
        });
        let open_warnings = warnings.len();
        warnings.truncate(10);
        let ranking_month = shift_month(&month, -1)?;
        let weights = self.index_weights().await?;
        let ranking = self.unit_ranking(&node, &ranking_month, &weights).await?;
        let formula = weights.formula();
        let crumbs = self.crumbs(actor, &node).await?;
        let feed = self.feed(actor, &node, None).await?;
        let red_cases = self.feed(actor, &node, Some(Light::Red)).await?;
        Ok(Cockpit {
            node: (&node).into(),
            crumbs,
            today: day,
            month,
            kpi,
            trend,
            types,
            channels,
            areas,
            ranking_month,
            ranking,
            formula,
            red_cases,
            warnings,
            open_warnings,
            feed,
        })
    }

    /// The areas below a node with this month's intake and the open cases' lights.
    async fn areas(&self, node: &Jurisdiction, month: &str) -> Result<Vec<Area>> {
        let children = self.stat_children(node).await?;
        if children.is_empty() {
            return Ok(Vec::new());
        }
        let codes: Vec<String> = children.iter().map(|c| c.code.clone()).collect();
        let months = self
            .rollup(codes.clone(), Grain::Month, month, month, DimSel::Total)
            .await?;
        let by_status = self
            .rollup(codes.clone(), Grain::Open, "", "", DimSel::Kind("s:"))
            .await?;
        let by_light = self
            .rollup(codes, Grain::Open, "", "", DimSel::Kind("l:"))
            .await?;
        let reg = totals_by(&months, |k| k.scope.clone());
        let open = open_counts(&by_status, &by_light);
        Ok(children
            .iter()
            .map(|c| {
                let (in_progress, yellow, red) = open.get(&c.code).copied().unwrap_or_default();
                Area {
                    code: c.code.clone(),
                    name: c.name.clone(),
                    registered: reg
                        .get(&c.code)
                        .map(|t| t.get(stats::Metric::Registered))
                        .unwrap_or(0),
                    in_progress,
                    yellow,
                    red,
                    drill: !matches!(c.level, Level::Village | Level::Grid),
                    warnings: 0,
                    warning_level: String::new(),
                    hot: false,
                }
            })
            .collect())
    }

    /// The node's ancestors from the actor's scope down to it.
    async fn crumbs(&self, actor: &Actor, node: &Jurisdiction) -> Result<Vec<NodeRef>> {
        let mut out = Vec::new();
        for code in node.path.split('/').filter(|c| !c.is_empty()) {
            if code == node.code {
                break;
            }
            if let Some(j) = self.store.get_jurisdiction(code).await? {
                if fengqiao_domain::jurisdiction::path_within(&j.path, &actor.scope_path) {
                    out.push((&j).into());
                }
            }
        }
        Ok(out)
    }

    /// The newest cases in a node's subtree the actor may see (with a red light only, when
    /// asked), without personal data.
    pub async fn feed(
        &self,
        actor: &Actor,
        node: &Jurisdiction,
        light: Option<Light>,
    ) -> Result<Vec<FeedItem>> {
        let q = crate::cases::CaseQuery {
            node_code: Some(node.code.clone()),
            light,
            limit: Some(12),
            ..Default::default()
        };
        let (items, _, _) = self.list_case_states(actor, &q).await?;
        let mut out = Vec::with_capacity(items.len());
        for c in items
            .iter()
            .filter(|c| light.is_none() || c.state.status.is_open())
        {
            out.push(self.feed_item(c).await);
        }
        Ok(out)
    }

    /// A case as a line of the live feed.
    pub async fn feed_item(&self, c: &StoredCase) -> FeedItem {
        let s = &c.state;
        FeedItem {
            id: c.id,
            tracking_code: s.tracking_code.clone(),
            dispute_type: s.dispute_type,
            type_label: s.dispute_type.zh().to_string(),
            channel: s.channel,
            channel_label: s.channel.zh().to_string(),
            place: self.node_name(&s.location.node_code).await,
            registered_at: crate::text::local_time(s.registered_at)
                .format("%Y-%m-%d %H:%M")
                .to_string(),
            light: s.light,
            risk_high: s.risk_level == fengqiao_domain::case::RiskLevel::High,
        }
    }

    /// New cases as they are registered (the cockpit's server-sent events).
    pub fn subscribe_feed(&self) -> tokio::sync::broadcast::Receiver<Arc<StoredCase>> {
        self.feed.subscribe()
    }
}

/// Ranks by score, best first; unscored last, by name.
pub(crate) fn rank(mut v: Vec<Ranked>) -> Vec<Ranked> {
    v.sort_by(|a, b| {
        let sa = a.score.as_ref().map(|s| s.value).unwrap_or(-1.0);
        let sb = b.score.as_ref().map(|s| s.value).unwrap_or(-1.0);
        sb.total_cmp(&sa).then_with(|| a.name.cmp(&b.name))
    });
    v
}

/// Open cases per scope: (in progress, yellow, red).
fn open_counts(
    by_status: &[(RollKey, i64)],
    by_light: &[(RollKey, i64)],
) -> BTreeMap<String, (i64, i64, i64)> {
    let mut out: BTreeMap<String, (i64, i64, i64)> = BTreeMap::new();
    let in_progress = [
        Status::Registered,
        Status::Routed,
        Status::Accepted,
        Status::InMediation,
    ]
    .map(stats::status_dim);
    for (k, v) in by_status {
        if in_progress.contains(&k.dim) {
            out.entry(k.scope.clone()).or_default().0 += v;
        }
    }
    for (k, v) in by_light {
        let e = out.entry(k.scope.clone()).or_default();
        if k.dim == stats::light_dim(Light::Yellow) {
            e.1 += v;
        } else if k.dim == stats::light_dim(Light::Red) {
            e.2 += v;
        }
    }
    out
}

/// Registered counts by a dimension, largest first.
fn counts(
    rows: &[(RollKey, i64)],
    prefix: &str,
    label: impl Fn(&str) -> Option<String>,
) -> Vec<Count> {
    let mut out: Vec<Count> = rows
        .iter()
        .filter(|(k, _)| k.metric == stats::Metric::Registered.as_str())
        .filter_map(|(k, v)| {
            let key = k.dim.strip_prefix(prefix)?;
            Some(Count {
                key: key.to_string(),
                label: label(key).unwrap_or_else(|| key.to_string()),
                value: *v,
            })
        })
        .collect();
    out.sort_by(|a, b| b.value.cmp(&a.value).then_with(|| a.key.cmp(&b.key)));
    out
}

impl App {
    /// The boundaries of the areas below a node (and the node's own) as a GeoJSON
    /// FeatureCollection for the map; `properties.code` and `properties.name` name each feature.
    pub async fn geo(&self, actor: &Actor, code: Option<&str>) -> Result<serde_json::Value> {
        let node = self.stats_node(actor, code).await?;
        let children = self.stat_children(&node).await?;
        let shown = if children.is_empty() {
            vec![node]
        } else {
            children
        };
        let features: Vec<serde_json::Value> = shown
            .iter()
            .filter_map(|j| {
                let geometry = j.boundary.clone()?;
                Some(serde_json::json!({
                    "type": "Feature",
                    "properties": { "code": j.code, "name": j.name, "centroid": j.centroid },
                    "geometry": geometry,
                }))
            })
            .collect();
        Ok(serde_json::json!({ "type": "FeatureCollection", "features": features }))
    }
}
