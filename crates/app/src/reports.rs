//! The monthly analysis report (月度矛盾纠纷分析报告) and the health checks (体检报告) of units
//! and places, from the statistics' roll-up rows. Rendering (HTML, PDF, XLSX) is the web
//! crate's; this module decides the figures and the recommendations.
use crate::cockpit::{rank, shift_month, totals_by, NodeRef, Ranked};
use crate::{App, AppError, Result};
use fengqiao_domain::access::{Actor, Operation, Role};
use fengqiao_domain::case::{Channel, DisputeType};
use fengqiao_domain::indicators::{score, Indicators, Score, Totals};
use fengqiao_domain::jurisdiction::{Jurisdiction, Level};
use fengqiao_domain::stats::{self, Grain, Metric};
use fengqiao_domain::time::local_date;
use fengqiao_store::{DimSel, NewNotification};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// The setting holding the last month whose report was delivered.
const DELIVERED_KEY: &str = "monthly_report_sent";

/// A figure this month against last month.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Row {
    pub key: String,
    pub label: String,
    pub value: i64,
    pub prev: i64,
    /// (value − prev) ÷ prev; `None` when prev is 0.
    pub change: Option<f64>,
}

/// A place with many disputes and its commonest type.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct HotPlace {
    pub code: String,
    pub name: String,
    pub town: String,
    pub value: i64,
    pub top_type: Option<String>,
    pub top_type_count: i64,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct MonthlyReport {
    pub node: NodeRef,
    /// `YYYY-MM`.
    pub month: String,
    pub prev_month: String,
    pub this: Indicators,
    pub prev: Indicators,
    /// Resolved cases this month.
    pub resolved: i64,
    /// Cases that went overdue this month (automatic supervisions).
    pub overtime: i64,
    pub overtime_prev: i64,
    pub by_type: Vec<Row>,
    pub by_area: Vec<Row>,
    pub by_channel: Vec<Row>,
    /// The villages with the most disputes this month.
    pub hot_places: Vec<HotPlace>,
    /// The areas below the node by Fengqiao index this month.
    pub area_ranking: Vec<Ranked>,
    /// The units in the node by Fengqiao index this month.
    pub unit_ranking: Vec<Ranked>,
    pub formula: String,
    /// Area and type warnings raised this month (first day in the month), red first, with
    /// how each ended (its status now).
    pub warnings: Vec<ReportWarning>,
    pub recommendations: Vec<String>,
}

/// A warning as the monthly report lists it.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ReportWarning {
    pub id: i64,
    pub level: fengqiao_domain::warning::WarningLevel,
    pub kind: fengqiao_domain::warning::WarningKind,
    pub dispute_type: fengqiao_domain::case::DisputeType,
    pub area: String,
    pub first_day: String,
    pub last_day: String,
    pub observed: f64,
    pub expected: f64,
    pub status: fengqiao_domain::warning::WarningStatus,
    /// What the responsible unit recorded when handling it (the last handling note).
    pub handling: String,
}

/// One indicator of a health check.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct HealthRow {
    pub key: String,
    pub value: Option<f64>,
    pub prev: Option<f64>,
    /// The county's value (pooled over all its cases; intake per unit or per town).
    pub county: Option<f64>,
    /// Whether a higher value is better.
    pub higher_is_better: bool,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct HealthCheck {
    /// `unit` or `place`.
    pub kind: String,
    pub id: String,
    pub name: String,
    pub month: String,
    pub prev_month: String,
    pub county_name: String,
    pub rows: Vec<HealthRow>,
    pub score: Option<Score>,
    pub prev_score: Option<Score>,
    pub county_score: Option<Score>,
    pub formula: String,
}

/// What a health check is about.
#[derive(Debug, Clone, PartialEq)]
pub enum Subject {
    Unit(i64),
    Place(String),
}

fn change(value: i64, prev: i64) -> Option<f64> {
    (prev > 0).then(|| (value - prev) as f64 / prev as f64)
}

fn pct(x: Option<f64>) -> String {
    x.map(|v| format!("{:.1}%", v * 100.0))
        .unwrap_or_else(|| "—".into())
}

impl App {
    /// The monthly analysis report of a node for `month` (`YYYY-MM`; the last complete month
    /// by default).
    pub async fn monthly_report(
        &self,
        actor: &Actor,
        code: Option<&str>,
        month: Option<&str>,
    ) -> Result<MonthlyReport> {
        let node = self.stats_node(actor, code).await?;
        let month = match month {
            Some(m) => shift_month(m, 0)?,
            None => shift_month(&stats::month_of(local_date(self.now())), -1)?,
        };
        let prev_month = shift_month(&month, -1)?;
        let scope = vec![node.code.clone()];
        let totals = self
            .rollup(
                scope.clone(),
                Grain::Month,
                &prev_month,
                &month,
                DimSel::Total,
            )
            .await?;
        let per_month = totals_by(&totals, |k| k.period.clone());
        let this_t = per_month.get(&month).cloned().unwrap_or_default();
        let prev_t = per_month.get(&prev_month).cloned().unwrap_or_default();
        let by_type = self
            .dim_rows(scope.clone(), &prev_month, &month, "t:", |v| {
                DisputeType::parse(v).map(|t| t.zh().to_string())
            })
            .await?;
        let by_channel = self
            .dim_rows(scope, &prev_month, &month, "c:", |v| {
                Channel::parse(v).map(|c| c.zh().to_string())
            })
            .await?;
        let children = self.stat_children(&node).await?;
        let child_rows = self
            .rollup(
                children.iter().map(|c| c.code.clone()).collect(),
                Grain::Month,
                &prev_month,
                &month,
                DimSel::Total,
            )
            .await?;
        let child_t = totals_by(&child_rows, |k| format!("{}|{}", k.scope, k.period));
        let get = |code: &str, m: &str| {
            child_t
                .get(&format!("{code}|{m}"))
                .cloned()
                .unwrap_or_default()
        };
        let weights = self.index_weights().await?;
        let mut by_area: Vec<Row> = children
            .iter()
            .map(|c| {
                let v = get(&c.code, &month).get(Metric::Registered);
                let p = get(&c.code, &prev_month).get(Metric::Registered);
                Row {
                    key: c.code.clone(),
                    label: c.name.clone(),
                    value: v,
                    prev: p,
                    change: change(v, p),
                }
            })
            .collect();
        by_area.sort_by(|a, b| b.value.cmp(&a.value).then_with(|| a.key.cmp(&b.key)));
        let area_ranking = rank(
            children
                .iter()
                .map(|c| {
                    let indicators = Indicators::from_totals(&get(&c.code, &month));
                    Ranked {
                        id: c.code.clone(),
                        name: c.name.clone(),
                        score: score(&indicators, &weights),
                        indicators,
                    }
                })
                .collect(),
        );
        let unit_ranking = self.unit_ranking(&node, &month, &weights).await?;
        let hot_places = self.hot_places(&node, &month).await?;
        let this = Indicators::from_totals(&this_t);
        let prev = Indicators::from_totals(&prev_t);
        let warnings = self.month_warnings(&node, &month).await?;
        let mut report = MonthlyReport {
            node: (&node).into(),
            month,
            prev_month,
            resolved: this_t.get(Metric::Resolved),
            overtime: this_t.get(Metric::Overtime),
            overtime_prev: prev_t.get(Metric::Overtime),
            this,
            prev,
            by_type,
            by_area,
            by_channel,
            hot_places,
            area_ranking,
            unit_ranking,
            formula: weights.formula(),
            warnings,
            recommendations: Vec::new(),
        };
        report.recommendations = recommendations(&report);
        Ok(report)
    }

    /// Warnings raised in a month in the node's subtree.
    async fn month_warnings(&self, node: &Jurisdiction, month: &str) -> Result<Vec<ReportWarning>> {
        let first = chrono::NaiveDate::parse_from_str(&format!("{month}-01"), "%Y-%m-%d")
            .map_err(|_| fengqiao_domain::DomainError::validation("month", "expected YYYY-MM"))?;
        let next = chrono::NaiveDate::parse_from_str(
            &format!("{}-01", shift_month(month, 1)?),
            "%Y-%m-%d",
        )
        .map_err(|_| fengqiao_domain::DomainError::validation("month", "expected YYYY-MM"))?;
        let last = next.pred_opt().unwrap_or(first);
        let mut out: Vec<ReportWarning> = self
            .warnings_in(&node.path, Some(first), Some(last), false)
            .await?
            .into_iter()
            .filter(|w| w.first_day >= first && w.first_day <= last)
            .map(|w| ReportWarning {
                id: w.id,
                level: w.level,
                kind: w.kind,
                dispute_type: w.dispute_type,
                area: w.area_name.clone(),
                first_day: w.first_day.to_string(),
                last_day: w.last_day.to_string(),
                observed: w.evidence.observed,
                expected: w.evidence.expected,
                status: w.status,
                handling: w
                    .log
                    .iter()
                    .rev()
                    .find(|e| e.action == fengqiao_domain::warning::WarningAction::Handle)
                    .map(|e| e.note.clone())
                    .unwrap_or_default(),
            })
            .collect();
        out.sort_by(|a, b| {
            b.level
                .cmp(&a.level)
                .then(a.first_day.cmp(&b.first_day))
                .then(a.id.cmp(&b.id))
        });
        Ok(out)
    }

    /// This month's and last month's counts by one dimension, largest first.
    async fn dim_rows(
        &self,
        scope: Vec<String>,
        prev_month: &str,
        month: &str,
        prefix: &'static str,
        label: impl Fn(&str) -> Option<String>,
    ) -> Result<Vec<Row>> {
        let rows = self
            .rollup(scope, Grain::Month, prev_month, month, DimSel::Kind(prefix))
            .await?;
        let mut by: std::collections::BTreeMap<String, (i64, i64)> = Default::default();
        for (k, v) in rows
            .iter()
            .filter(|(k, _)| k.metric == Metric::Registered.as_str())
        {
            let Some(key) = k.dim.strip_prefix(prefix) else {
                continue;
            };
            let e = by.entry(key.to_string()).or_default();
            if k.period == month {
                e.0 += v;
            } else {
                e.1 += v;
            }
        }
        let mut out: Vec<Row> = by
            .into_iter()
            .map(|(key, (value, prev))| Row {
                label: label(&key).unwrap_or_else(|| key.clone()),
                key,
                value,
                prev,
                change: change(value, prev),
            })
            .collect();
        out.sort_by(|a, b| b.value.cmp(&a.value).then_with(|| a.key.cmp(&b.key)));
        Ok(out)
    }

    /// The five villages under a node with the most disputes in `month`, with their commonest
    /// type.
    async fn hot_places(&self, node: &Jurisdiction, month: &str) -> Result<Vec<HotPlace>> {
        let mut villages: Vec<(Jurisdiction, String)> = Vec::new();
        let mut frontier = vec![(node.clone(), node.name.clone())];
        while let Some((n, town)) = frontier.pop() {
            if n.level == Level::Village {
                villages.push((n, town));
                continue;
            }
            for c in self.stat_children(&n).await? {
                let town = if c.level == Level::Town {
                    c.name.clone()
                } else {
                    town.clone()
                };
                frontier.push((c, town));
            }
        }
        let rows = self
            .rollup(
                villages.iter().map(|(v, _)| v.code.clone()).collect(),
                Grain::Month,
                month,
                month,
                DimSel::Total,
            )
            .await?;
        let t = totals_by(&rows, |k| k.scope.clone());
        let mut hot: Vec<HotPlace> = villages
            .iter()
            .map(|(v, town)| HotPlace {
                code: v.code.clone(),
                name: v.name.clone(),
                town: town.clone(),
                value: t
                    .get(&v.code)
                    .map(|t| t.get(Metric::Registered))
                    .unwrap_or(0),
                top_type: None,
                top_type_count: 0,
            })
            .filter(|h| h.value > 0)
            .collect();
        hot.sort_by(|a, b| b.value.cmp(&a.value).then_with(|| a.code.cmp(&b.code)));
        hot.truncate(5);
        for h in &mut hot {
            let rows = self
                .rollup(
                    vec![h.code.clone()],
                    Grain::Month,
                    month,
                    month,
                    DimSel::Kind("t:"),
                )
                .await?;
            if let Some((k, v)) = rows
                .iter()
                .filter(|(k, _)| k.metric == Metric::Registered.as_str())
                .max_by(|a, b| a.1.cmp(&b.1).then_with(|| b.0.dim.cmp(&a.0.dim)))
            {
                h.top_type = k
                    .dim
                    .strip_prefix("t:")
                    .and_then(DisputeType::parse)
                    .map(|t| t.zh().to_string());
                h.top_type_count = *v;
            }
        }
        Ok(hot)
    }

    /// The health check of a unit or a place for `month` (the last complete month by default):
    /// each indicator against last month and the county.
    pub async fn health_check(
        &self,
        actor: &Actor,
        subject: &Subject,
        month: Option<&str>,
    ) -> Result<HealthCheck> {
        let month = match month {
            Some(m) => shift_month(m, 0)?,
            None => shift_month(&stats::month_of(local_date(self.now())), -1)?,
        };
        let prev_month = shift_month(&month, -1)?;
        let (kind, id, name, scope, node_code) = match subject {
            Subject::Unit(uid) => {
                let u = self
                    .store
                    .get_unit(*uid)
                    .await?
                    .ok_or(AppError::NotFound("unit"))?;
                (
                    "unit",
                    uid.to_string(),
                    u.name.clone(),
                    stats::unit_scope(*uid),
                    u.node_code.clone(),
                )
            }
            Subject::Place(code) => {
                let n = self
                    .store
                    .get_jurisdiction(code)
                    .await?
                    .ok_or(AppError::NotFound("jurisdiction"))?;
                (
                    "place",
                    code.clone(),
                    n.name.clone(),
                    code.clone(),
                    code.clone(),
                )
            }
        };
        let node = self
            .store
            .get_jurisdiction(&node_code)
            .await?
            .ok_or(AppError::NotFound("jurisdiction"))?;
        // A unit leader sees their own unit's health check; others need the statistics right
        // over the subject's place.
        let own_unit = matches!(subject, Subject::Unit(u) if actor.unit_id == Some(*u));
        if !own_unit {
            fengqiao_domain::access::authorize_node(actor, Operation::ViewStatistics, &node.path)?;
        }
        let county = node
            .path
            .split('/')
            .find(|c| c.len() == 6 && !c.ends_with("00"))
            .unwrap_or(&node_code)
            .to_string();
        let county_node = self.store.get_jurisdiction(&county).await?;
        let rows = self
            .rollup(
                vec![scope.clone(), county.clone()],
                Grain::Month,
                &prev_month,
                &month,
                DimSel::Total,
            )
            .await?;
        let t = totals_by(&rows, |k| format!("{}|{}", k.scope, k.period));
        let get = |s: &str, m: &str| t.get(&format!("{s}|{m}")).cloned().unwrap_or_default();
        let this = Indicators::from_totals(&get(&scope, &month));
        let prev = Indicators::from_totals(&get(&scope, &prev_month));
        let county_t: Totals = get(&county, &month);
        let county_ind = Indicators::from_totals(&county_t);
        // Intake is compared with the county's per-unit (or per-town) share.
        let peers = match (subject, &county_node) {
            (Subject::Unit(_), Some(c)) => self.store.list_units(&c.path).await?.len(),
            (Subject::Place(_), Some(c)) => {
                self.store.list_jurisdictions(Some(&c.code)).await?.len()
            }
            _ => 0,
        };
        let weights = self.index_weights().await?;
        let f = |x: i64| Some(x as f64);
        let rows = vec![
            HealthRow {
                key: "intake".into(),
                value: f(this.intake),
                prev: f(prev.intake),
                county: (peers > 0).then(|| county_ind.intake as f64 / peers as f64),
                higher_is_better: false,
            },
            row(
                "resolution_rate",
                this.resolution_rate,
                prev.resolution_rate,
                county_ind.resolution_rate,
                true,
            ),
            row(
                "mediation_success_rate",
                this.mediation_success_rate,
                prev.mediation_success_rate,
                county_ind.mediation_success_rate,
                true,
            ),
            row(
                "satisfaction",
                this.satisfaction,
                prev.satisfaction,
                county_ind.satisfaction,
                true,
            ),
            row(
                "overtime_rate",
                this.overtime_rate,
                prev.overtime_rate,
                county_ind.overtime_rate,
                false,
            ),
            row(
                "handling_days",
                this.handling_days,
                prev.handling_days,
                county_ind.handling_days,
                false,
            ),
            row(
                "reopen_rate",
                this.reopen_rate,
                prev.reopen_rate,
                county_ind.reopen_rate,
                false,
            ),
        ];
        Ok(HealthCheck {
            kind: kind.into(),
            id,
            name,
            month,
            prev_month,
            county_name: county_node.map(|c| c.name).unwrap_or(county),
            rows,
            score: score(&this, &weights),
            prev_score: score(&prev, &weights),
            county_score: score(&county_ind, &weights),
            formula: weights.formula(),
        })
    }

    /// On or after the 1st of a month, puts last month's report into the inbox of every leader
    /// (once per month, whoever runs it first; a restart does not repeat it). Returns the
    /// number of notices written.
    pub async fn deliver_monthly_reports(&self) -> Result<usize> {
        let month = shift_month(&stats::month_of(local_date(self.now())), -1)?;
        // The common case on every sweep: already delivered (notify_once decides for sure).
        if self.store.get_setting(DELIVERED_KEY).await?.as_deref() == Some(month.as_str()) {
            return Ok(0);
        }
        let leaders = self.store.list_users("/", Some(Role::Leader)).await?;
        let notes: Vec<NewNotification> = leaders
            .iter()
            .map(|u| NewNotification {
                user_id: u.id,
                case_id: None,
                kind: "monthly_report".into(),
                title: format!("{month} 月度矛盾纠纷分析报告"),
                body: format!("/reports/monthly?node={}&month={month}", u.scope_code),
            })
            .collect();
        let sent = self
            .store
            .notify_once(DELIVERED_KEY, &month, &notes, self.now())
            .await?;
        Ok(if sent { notes.len() } else { 0 })
    }
}

fn row(
    key: &str,
    value: Option<f64>,
    prev: Option<f64>,
    county: Option<f64>,
    higher: bool,
) -> HealthRow {
    HealthRow {
        key: key.into(),
        value,
        prev,
        county,
        higher_is_better: higher,
    }
}

/// Recommendations drawn from the figures (in Chinese: they go into the report as text).
fn recommendations(r: &MonthlyReport) -> Vec<String> {
    let mut out = Vec::new();
    for h in r.hot_places.iter().take(3) {
        if let Some(t) = &h.top_type {
            out.push(format!(
                "{}{}本月受理纠纷{}件，其中{}纠纷{}件：建议在该村（社区）开展{}纠纷专题法治宣传，并由村调委会开展集中排查。",
                h.town, h.name, h.value, t, h.top_type_count, t
            ));
        }
    }
    for row in r.by_type.iter().filter(|t| t.value >= 10) {
        if let Some(c) = row.change.filter(|c| *c >= 0.5) {
            out.push(format!(
                "{}纠纷环比上升{:.0}%（{}件→{}件）：建议研判成因，必要时提请相关部门联合处置。",
                row.label,
                c * 100.0,
                row.prev,
                row.value
            ));
        }
    }
    if let Some(rate) = r.this.overtime_rate.filter(|x| *x >= 0.05) {
        out.push(format!(
            "本月超期率{}（{}件超期）：建议对超期较多的单位开展专项督办。",
            pct(Some(rate)),
            r.overtime
        ));
    }
    for u in r
        .unit_ranking
        .iter()
        .rev()
        .filter(|u| u.score.as_ref().is_some_and(|s| s.value < 60.0))
        .take(3)
    {
        out.push(format!(
            "{}枫桥指数{:.1}，化解率{}、满意度{}：建议开展业务指导并跟踪整改。",
            u.name,
            u.score.as_ref().map(|s| s.value).unwrap_or_default(),
            pct(u.indicators.resolution_rate),
            u.indicators
                .satisfaction
                .map(|s| format!("{s:.2}"))
                .unwrap_or_else(|| "—".into())
        ));
    }
    // Warnings nobody has handled yet (a handled one has its actions on record).
    for w in r
        .warnings
        .iter()
        .filter(|w| {
            matches!(
                w.status,
                fengqiao_domain::warning::WarningStatus::Open
                    | fengqiao_domain::warning::WarningStatus::Acknowledged
            )
        })
        .take(3)
    {
        out.push(format!(
            "{}（{}，{}纠纷，{}起）尚未办结：建议责任单位尽快处置并报送处置情况，必要时由中心“吹哨”召集相关部门联合化解。",
            w.level.zh(),
            w.area,
            w.dispute_type.zh(),
            w.first_day
        ));
    }
    if out.is_empty() {
        out.push("本月各项指标平稳，建议保持常态化排查化解。".into());
    }
    out
}
