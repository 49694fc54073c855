//! Area and type warnings (issue 5): the daily early-warning run over the roll-up counts, and
//! what people do with the warnings it raises.
//!
//! The run (once a day, from the monitor loop, for the last complete day; or on demand) reads
//! every village's registered cases per type and day for the last 400 days from the roll-up
//! tables, hands them to `fengqiao_surveillance::daily::run` on a blocking thread, and turns
//! what crosses the production thresholds into warnings: surges per type in each town and in
//! the county, clusters of a type over neighbouring villages. A signal that continues a live
//! warning updates it; new warnings and level rises notify the responsible units' leaders and
//! the supervisors of the area. Quiet warnings expire. The hotspot map (Getis-Ord Gi*) is kept
//! in the setting [`HOTSPOTS_KEY`].
use crate::{App, AppError, Result};
use chrono::NaiveDate;
use fengqiao_domain::access::{
    authorize_node, authorize_warning, can_view_warning, Actor, Operation, Role,
};
use fengqiao_domain::case::DisputeType;
use fengqiao_domain::jurisdiction::{Jurisdiction, Level};
use fengqiao_domain::stats::{type_dim, Grain, Metric};
use fengqiao_domain::time::{local_date, start_of_local_day};
use fengqiao_domain::warning::{
    Evidence, SeriesPoint, Signal, Warning, WarningAction, WarningKind, WarningLevel,
};
use fengqiao_store::{
    warning_version, CaseFilter, DimSel, NewNotification, StatsQuery, Visibility, WarningFilter,
};
use fengqiao_surveillance::daily::{self, County, DailyResult};
use fengqiao_surveillance::days::day_infos;
use fengqiao_surveillance::scan::{nearest, ScanConfig, RED_P, YELLOW_P};
use fengqiao_surveillance::surge::{SurgeConfig, RED_SCORE, YELLOW_SCORE};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use utoipa::ToSchema;

/// The setting holding the last day the run covered.
const RUN_KEY: &str = "warnings_run_on";
/// The setting holding the latest hotspot map.
pub const HOTSPOTS_KEY: &str = "hotspots";
/// Days of counts the run reads (a year for the baseline, its guard, the scan's 28 days).
const HISTORY_DAYS: i64 = 400;

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct WarningRunReport {
    pub day: Option<NaiveDate>,
    pub counties: u32,
    pub villages: u32,
    pub series: u32,
    pub raised: u32,
    pub updated: u32,
    pub expired: u32,
    pub hot_villages: u32,
}

/// One village's hotspot verdict for the map.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Hotspot {
    pub code: String,
    pub z: f64,
    pub hot: bool,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct HotspotMap {
    pub day: Option<NaiveDate>,
    pub villages: Vec<Hotspot>,
}

/// The path of the county an area lies in (province / city / county: the first three codes),
/// where its units and supervisors are.
pub fn county_path(area_path: &str) -> String {
    let mut out: String = area_path
        .split('/')
        .filter(|c| !c.is_empty())
        .take(3)
        .map(|c| format!("/{c}"))
        .collect();
    out.push('/');
    out
}

/// A county as the run sees it.
struct Area {
    county: Jurisdiction,
    towns: Vec<Jurisdiction>,
    villages: Vec<Jurisdiction>,
    town_of: Vec<usize>,
}

impl App {
    /// Runs the early warning for the last complete day unless it already ran for it.
    pub async fn run_warnings_daily(&self) -> Result<Option<WarningRunReport>> {
        let yesterday = local_date(self.now()) - chrono::Duration::days(1);
        if self.store.get_setting(RUN_KEY).await?.as_deref() == Some(&yesterday.to_string()) {
            return Ok(None);
        }
        let report = self.run_warnings(yesterday).await?;
        self.store
            .put_setting(RUN_KEY, &yesterday.to_string())
            .await?;
        Ok(Some(report))
    }

    /// On demand (supervisors, admins): the run for `day`, by default today so far (a partial
    /// day is compared with a whole day's expectation, so it can only under-alarm).
    pub async fn run_warnings_as(
        &self,
        actor: &Actor,
        day: Option<NaiveDate>,
    ) -> Result<WarningRunReport> {
        authorize_node(actor, Operation::RunWarnings, &actor.scope_path)?;
        let day = day.unwrap_or_else(|| local_date(self.now()));
        self.run_warnings(day).await
    }

    async fn warning_counties(&self) -> Result<Vec<Area>> {
        let mut counties = Vec::new();
        let mut stack = self.store.list_jurisdictions(None).await?;
        while let Some(node) = stack.pop() {
            match node.level {
                Level::County => counties.push(node),
                Level::Province | Level::City => {
                    stack.extend(self.store.list_jurisdictions(Some(&node.code)).await?)
                }
                _ => {}
            }
        }
        let mut out = Vec::new();
        for county in counties {
            let towns = self.store.list_jurisdictions(Some(&county.code)).await?;
            let mut villages = Vec::new();
            let mut town_of = Vec::new();
            for (i, t) in towns.iter().enumerate() {
                for v in self.store.list_jurisdictions(Some(&t.code)).await? {
                    villages.push(v);
                    town_of.push(i);
                }
            }
            if !villages.is_empty() {
                out.push(Area {
                    county,
                    towns,
                    villages,
                    town_of,
                });
            }
        }
        Ok(out)
    }

    /// Runs the early warning for every day of `from..=to`, in order (a new deployment's
    /// recent history; the demo). The daily run then continues after `to`.
    pub async fn backfill_warnings(
        &self,
        from: NaiveDate,
        to: NaiveDate,
    ) -> Result<WarningRunReport> {
        let mut total = WarningRunReport::default();
        let mut day = from;
        while day <= to {
            // Recorded as if run early the next morning.
            let at =
                (fengqiao_domain::time::end_of_local_day(day) + 1 + 6 * 3_600_000).min(self.now());
            let r = self.run_warnings_at(day, at).await?;
            total.day = r.day;
            total.counties = r.counties;
            total.villages = r.villages;
            total.series = r.series;
            total.raised += r.raised;
            total.updated += r.updated;
            total.expired += r.expired;
            total.hot_villages = r.hot_villages;
            day += chrono::Duration::days(1);
        }
        self.store.put_setting(RUN_KEY, &to.to_string()).await?;
        Ok(total)
    }

    /// The run for `day`: raises, updates and expires warnings; stores the hotspot map.
    pub async fn run_warnings(&self, day: NaiveDate) -> Result<WarningRunReport> {
        self.run_warnings_at(day, self.now()).await
    }

    async fn run_warnings_at(
        &self,
        day: NaiveDate,
        now: fengqiao_domain::time::Millis,
    ) -> Result<WarningRunReport> {
        let from = day - chrono::Duration::days(HISTORY_DAYS - 1);
        let calendar = self.store.calendar_days().await?;
        let days = day_infos(&calendar, from, day);
        let kinds: Vec<DisputeType> = DisputeType::ALL.to_vec();
        let mut report = WarningRunReport {
            day: Some(day),
            ..Default::default()
        };
        let mut signals: Vec<Signal> = Vec::new();
        let mut hot = HotspotMap {
            day: Some(day),
            villages: Vec::new(),
        };
        for area in self.warning_counties().await? {
            report.counties += 1;
            report.villages += area.villages.len() as u32;
            let counts = self.village_counts(&area, &kinds, from, day).await?;
            let points: Vec<(f64, f64)> = area
                .villages
                .iter()
                .map(|v| v.centroid.map_or((0.0, 0.0), |c| (c[0], c[1])))
                .collect();
            let town_of = area.town_of.clone();
            let towns = area.towns.len();
            let days_c = days.clone();
            let seed = chrono::Datelike::num_days_from_ce(&day) as u64;
            let (result, counts) = tokio::task::spawn_blocking(move || {
                let neighbours = nearest(&points, ScanConfig::default().max_size);
                let result = daily::run(
                    &County {
                        days: &days_c,
                        counts: &counts,
                        town_of: &town_of,
                        towns,
                        neighbours: &neighbours,
                    },
                    &SurgeConfig::default(),
                    &ScanConfig::default(),
                    seed,
                );
                (result, counts)
            })
            .await
            .map_err(|e| AppError::Internal(format!("warning run: {e}")))?;
            report.series += result.surges.len() as u32;
            for (v, (z, is_hot)) in area.villages.iter().zip(&result.hotspots) {
                report.hot_villages += u32::from(*is_hot);
                hot.villages.push(Hotspot {
                    code: v.code.clone(),
                    z: (z * 100.0).round() / 100.0,
                    hot: *is_hot,
                });
            }
            signals.extend(
                self.signals(&area, &kinds, &result, &counts, day, &days)
                    .await?,
            );
        }
        // Continue live warnings or raise new ones; expire the quiet ones.
        let mut live = self
            .store
            .list_warnings(&WarningFilter {
                scope_path: Some("/".into()),
                live_only: true,
                limit: 10_000,
                ..Default::default()
            })
            .await?;
        let mut writes: Vec<(Warning, i64)> = Vec::new();
        let mut notes: Vec<NewNotification> = Vec::new();
        for s in signals {
            if let Some(w) = live.iter_mut().find(|w| w.continued_by(&s)) {
                let version = warning_version(w);
                let before = w.level;
                w.update(s, now);
                if w.level > before {
                    notes.extend(self.warning_notes(w, "warning_raised").await?);
                }
                report.updated += 1;
                writes.push((w.clone(), version));
            } else {
                let w = Warning::raise(s, now);
                notes.extend(self.warning_notes(&w, "warning_raised").await?);
                report.raised += 1;
                live.push(w.clone());
                writes.push((w, 0));
            }
        }
        for w in &mut live {
            if w.id != 0 && w.expires_on(day) && !writes.iter().any(|(x, _)| x.id == w.id) {
                let version = warning_version(w);
                w.act(WarningAction::Expire, 0, "", now)?;
                report.expired += 1;
                writes.push((w.clone(), version));
            }
        }
        self.store.save_warnings(&writes, &notes, now).await?;
        let json = serde_json::to_string(&hot).map_err(|e| AppError::Internal(e.to_string()))?;
        self.store.put_setting(HOTSPOTS_KEY, &json).await?;
        tracing::debug!(?report, "early-warning run");
        Ok(report)
    }

    /// `counts[kind][village][day]` of registered cases from the roll-up tables.
    async fn village_counts(
        &self,
        area: &Area,
        kinds: &[DisputeType],
        from: NaiveDate,
        to: NaiveDate,
    ) -> Result<Vec<Vec<Vec<u32>>>> {
        let n = (to - from).num_days() as usize + 1;
        let index: BTreeMap<&str, usize> = area
            .villages
            .iter()
            .enumerate()
            .map(|(i, v)| (v.code.as_str(), i))
            .collect();
        let kind_index: BTreeMap<String, usize> = kinds
            .iter()
            .enumerate()
            .map(|(i, k)| (type_dim(*k), i))
            .collect();
        let mut counts = vec![vec![vec![0u32; n]; area.villages.len()]; kinds.len()];
        for chunk in area.villages.chunks(500) {
            let rows = self
                .store
                .stats_rows(&StatsQuery {
                    scopes: chunk.iter().map(|v| v.code.clone()).collect(),
                    grain: Grain::Day,
                    from: from.to_string(),
                    to: to.to_string(),
                    dim: DimSel::Kind("t:"),
                })
                .await?;
            for (k, v) in rows {
                if k.metric != Metric::Registered.as_str() {
                    continue;
                }
                let (Some(&vi), Some(&ki), Ok(d)) = (
                    index.get(k.scope.as_str()),
                    kind_index.get(&k.dim),
                    NaiveDate::parse_from_str(&k.period, "%Y-%m-%d"),
                ) else {
                    continue;
                };
                let di = (d - from).num_days();
                if (0..n as i64).contains(&di) {
                    counts[ki][vi][di as usize] = u32::try_from(v.max(0)).unwrap_or(u32::MAX);
                }
            }
        }
        Ok(counts)
    }

    /// Today's signals over the thresholds, with their evidence and responsible units.
    async fn signals(
        &self,
        area: &Area,
        kinds: &[DisputeType],
        r: &DailyResult,
        counts: &[Vec<Vec<u32>>],
        day: NaiveDate,
        days: &[fengqiao_surveillance::days::DayInfo],
    ) -> Result<Vec<Signal>> {
        let mut out = Vec::new();
        let n = days.len();
        for s in &r.surges {
            if s.today.score < YELLOW_SCORE {
                continue;
            }
            let level = if s.today.score >= RED_SCORE {
                WarningLevel::Red
            } else {
                WarningLevel::Yellow
            };
            let node = match s.town {
                Some(t) => &area.towns[t],
                None => &area.county,
            };
            let kind = kinds[s.kind];
            let window = s.today.window.max(1);
            let series = days[n - s.recent.len()..]
                .iter()
                .zip(&s.recent)
                .map(|(d, (o, e))| SeriesPoint {
                    day: d.date,
                    observed: *o,
                    expected: Some((e * 100.0).round() / 100.0),
                })
                .collect();
            let case_ids = self
                .case_ids(kind, std::slice::from_ref(&node.path), day, window)
                .await?;
            out.push(Signal {
                key: format!("surge:{}:{}", node.code, kind.as_str()),
                kind: WarningKind::Surge,
                level,
                dispute_type: kind,
                area_code: node.code.clone(),
                area_name: node.name.clone(),
                area_path: node.path.clone(),
                day,
                evidence: Evidence {
                    method: "glm_scan".into(),
                    observed: s.today.window_observed,
                    expected: s.today.window_expected,
                    p_value: s.today.p.unwrap_or(1.0),
                    recurrence_days: None,
                    window_days: window,
                    series,
                    places: vec![node.code.clone()],
                    case_ids,
                },
                unit_ids: self.responsible_units(kind, &node.path).await?,
            });
        }
        for c in &r.clusters {
            if c.cluster.p > YELLOW_P {
                continue;
            }
            let level = if c.cluster.p <= RED_P {
                WarningLevel::Red
            } else {
                WarningLevel::Yellow
            };
            let kind = kinds[c.kind];
            let villages: Vec<&Jurisdiction> = c
                .cluster
                .villages
                .iter()
                .map(|&v| &area.villages[v])
                .collect();
            let Some(centre) = villages.first() else {
                continue;
            };
            // The cluster's villages, day by day over the scan's 28 days.
            let series = (0..28usize.min(n))
                .map(|d| {
                    let at = n - 28usize.min(n) + d;
                    SeriesPoint {
                        day: days[at].date,
                        observed: c
                            .cluster
                            .villages
                            .iter()
                            .map(|&v| f64::from(counts[c.kind][v][at]))
                            .sum(),
                        expected: None,
                    }
                })
                .collect();
            let paths: Vec<String> = villages.iter().map(|v| v.path.clone()).collect();
            let case_ids = self
                .case_ids(kind, &paths, day, c.cluster.days as u32)
                .await?;
            // The area of a cluster: the town when all villages share one, else the county.
            let town_path = centre.parent_code.as_deref().unwrap_or_default();
            let one_town = villages
                .iter()
                .all(|v| v.parent_code.as_deref() == Some(town_path));
            let (area_path, area_code) = if one_town {
                let t = area.towns.iter().find(|t| t.code == town_path);
                (
                    t.map_or(area.county.path.clone(), |t| t.path.clone()),
                    centre.code.clone(),
                )
            } else {
                (area.county.path.clone(), centre.code.clone())
            };
            let names: Vec<&str> = villages.iter().map(|v| v.name.as_str()).collect();
            out.push(Signal {
                key: format!("cluster:{}:{}", kind.as_str(), centre.code),
                kind: WarningKind::Cluster,
                level,
                dispute_type: kind,
                area_code,
                area_name: names.join("、"),
                area_path: area_path.clone(),
                day,
                evidence: Evidence {
                    method: "space_time_scan".into(),
                    observed: f64::from(c.cluster.observed),
                    expected: c.cluster.expected,
                    p_value: c.cluster.p,
                    recurrence_days: Some(c.cluster.recurrence_days().round()),
                    window_days: c.cluster.days as u32,
                    series,
                    places: villages.iter().map(|v| v.code.clone()).collect(),
                    case_ids,
                },
                unit_ids: self.responsible_units(kind, &centre.path).await?,
            });
        }
        Ok(out)
    }

    /// Cases of a type registered in some places over the last `window` days (at most 50).
    async fn case_ids(
        &self,
        kind: DisputeType,
        paths: &[String],
        day: NaiveDate,
        window: u32,
    ) -> Result<Vec<i64>> {
        let mut ids = Vec::new();
        for p in paths {
            let page = self
                .store
                .list_cases(&CaseFilter {
                    visibility: Visibility {
                        scope_path: Some(p.clone()),
                        ..Default::default()
                    },
                    dispute_type: Some(kind),
                    registered_from: Some(start_of_local_day(
                        day - chrono::Duration::days(i64::from(window) - 1),
                    )),
                    registered_to: Some(start_of_local_day(day + chrono::Duration::days(1))),
                    limit: 50,
                    ..Default::default()
                })
                .await?;
            ids.extend(page.items.iter().map(|c| c.id));
        }
        ids.sort_unstable();
        ids.dedup();
        ids.truncate(50);
        Ok(ids)
    }

    /// The units that should act: the best two by kind fit among those serving the area.
    async fn responsible_units(&self, kind: DisputeType, path: &str) -> Result<Vec<i64>> {
        let units = self.store.list_units(&county_path(path)).await?;
        let mut candidates = Vec::new();
        for u in units {
            let Some(node) = self.store.get_jurisdiction(&u.node_code).await? else {
                continue;
            };
            candidates.push((u, node.path, node.level, 0u64));
        }
        Ok(fengqiao_domain::unit::suggest_units(kind, path, candidates)
            .into_iter()
            .take(2)
            .map(|s| s.unit.id)
            .collect())
    }

    /// Inbox notes about a warning: the responsible units' leaders and the area's supervisors.
    async fn warning_notes(&self, w: &Warning, kind: &str) -> Result<Vec<NewNotification>> {
        let mut users = Vec::new();
        for u in &w.unit_ids {
            if let Some(unit) = self.store.get_unit(*u).await? {
                users.extend(unit.leader_user_id);
            }
        }
        for s in self
            .store
            .list_users(&county_path(&w.area_path), Some(Role::Supervisor))
            .await?
        {
            if fengqiao_domain::jurisdiction::path_within(&w.area_path, &s.scope_path) {
                users.push(s.id);
            }
        }
        users.sort_unstable();
        users.dedup();
        let title = format!("{}：{} {}", w.level.zh(), w.area_name, w.dispute_type.zh());
        let body = format!(
            "{}，近{}天 {} 件（预期 {}）",
            w.kind.zh(),
            w.evidence.window_days,
            w.evidence.observed,
            fengqiao_domain::warning::fmt_expected(w.evidence.expected)
        );
        Ok(users
            .into_iter()
            .map(|user_id| NewNotification {
                user_id,
                case_id: None,
                kind: kind.to_string(),
                title: title.clone(),
                body: body.clone(),
            })
            .collect())
    }

    /// Warnings the actor may see, newest first.
    pub async fn list_warnings(
        &self,
        actor: &Actor,
        live_only: bool,
        limit: u32,
    ) -> Result<Vec<Warning>> {
        if !actor.role.permits(Operation::ViewWarnings) {
            return Err(fengqiao_domain::DomainError::Forbidden.into());
        }
        let list = self
            .store
            .list_warnings(&WarningFilter {
                scope_path: Some(actor.scope_path.clone()),
                unit_id: actor.unit_id,
                live_only,
                limit: limit.clamp(1, 1000),
                ..Default::default()
            })
            .await?;
        Ok(list
            .into_iter()
            .filter(|w| can_view_warning(actor, w))
            .collect())
    }

    /// Warnings of a subtree whose days overlap a period (cockpit, reports; statistics rights).
    pub async fn warnings_in(
        &self,
        node_path: &str,
        from: Option<NaiveDate>,
        to: Option<NaiveDate>,
        live_only: bool,
    ) -> Result<Vec<Warning>> {
        Ok(self
            .store
            .list_warnings(&WarningFilter {
                scope_path: Some(node_path.to_string()),
                unit_id: None,
                live_only,
                from,
                to,
                limit: 1000,
            })
            .await?)
    }

    /// One warning; "not found" when the actor may not see it.
    pub async fn get_warning(&self, actor: &Actor, id: i64) -> Result<Warning> {
        let w = self
            .store
            .get_warning(id)
            .await?
            .ok_or(AppError::NotFound("warning"))?;
        if can_view_warning(actor, &w) {
            Ok(w)
        } else {
            Err(AppError::NotFound("warning"))
        }
    }

    /// A person's action on a warning (acknowledge, handle with what was done, close).
    pub async fn act_on_warning(
        &self,
        actor: &Actor,
        id: i64,
        action: WarningAction,
        note: &str,
    ) -> Result<Warning> {
        let mut w = self.get_warning(actor, id).await?;
        authorize_warning(actor, action, &w)?;
        let version = warning_version(&w);
        w.act(action, actor.user_id, note, self.now())?;
        self.store
            .save_warnings(&[(w.clone(), version)], &[], self.now())
            .await?;
        Ok(w)
    }

    /// 吹哨: summons units to a warning; each must answer within `hours`. The units must serve
    /// the warning's county; their members are told in the same write.
    pub async fn summon_units(
        &self,
        actor: &Actor,
        id: i64,
        unit_ids: &[i64],
        hours: u32,
    ) -> Result<Warning> {
        let mut w = self.get_warning(actor, id).await?;
        authorize_warning(actor, WarningAction::Summon, &w)?;
        let county = county_path(&w.area_path);
        let mut notes = Vec::new();
        let title = format!("吹哨：{} {}", w.area_name, w.dispute_type.zh());
        for u in unit_ids {
            let unit = self
                .store
                .get_unit(*u)
                .await?
                .ok_or(AppError::NotFound("unit"))?;
            let node = self
                .store
                .get_jurisdiction(&unit.node_code)
                .await?
                .ok_or(AppError::NotFound("unit"))?;
            if !node.path.starts_with(&county) && !county.starts_with(&node.path) {
                return Err(AppError::NotFound("unit"));
            }
            let members = self.store.list_users(&node.path, None).await?;
            for m in members.iter().filter(|m| m.unit_id == Some(*u)) {
                notes.push(NewNotification {
                    user_id: m.id,
                    case_id: None,
                    kind: "summons".into(),
                    title: title.clone(),
                    body: format!("/warnings/{id}：请在 {hours} 小时内报到"),
                });
            }
        }
        let version = warning_version(&w);
        w.summon(unit_ids, hours, actor.user_id, self.now())?;
        self.store
            .save_warnings(&[(w.clone(), version)], &notes, self.now())
            .await?;
        Ok(w)
    }

    /// A summoned unit answers (报到), through one of its members.
    pub async fn respond_summons(&self, actor: &Actor, id: i64, reply: &str) -> Result<Warning> {
        let mut w = self.get_warning(actor, id).await?;
        authorize_warning(actor, WarningAction::Respond, &w)?;
        let unit = actor
            .unit_id
            .ok_or(fengqiao_domain::DomainError::Forbidden)?;
        let version = warning_version(&w);
        w.respond(unit, actor.user_id, reply, self.now())?;
        self.store
            .save_warnings(&[(w.clone(), version)], &[], self.now())
            .await?;
        Ok(w)
    }

    /// The latest hotspot map.
    pub async fn hotspots(&self) -> Result<HotspotMap> {
        match self.store.get_setting(HOTSPOTS_KEY).await? {
            Some(json) => serde_json::from_str(&json)
                .map_err(|e| AppError::Internal(format!("hotspots: {e}"))),
            None => Ok(HotspotMap::default()),
        }
    }
}
