//! The demo county generator: reference data (jurisdictions, units, staff) and cases with
//! their whole event logs, deterministic for a seed and an end date.
//!
//! Cases are driven through the domain's own `decide`/`apply`, so every generated log is one
//! the workflow permits and replays to the stored state. Must not: write SQL (uses the Store).
pub mod county;
pub mod exports;
pub mod rng;
pub mod texts;

use chrono::{Datelike, Duration, NaiveDate, Weekday};
use county::County;
use fengqiao_domain::access::{Actor, Role, PUBLIC_CITIZEN};
use fengqiao_domain::calendar::WorkCalendar;
use fengqiao_domain::case::*;
use fengqiao_domain::deadline::DeadlineRules;
use fengqiao_domain::time::{end_of_local_day, local_date, local_instant, Millis};
use fengqiao_domain::unit::UnitKind;
use fengqiao_domain::validate::{IdCardNumber, PhoneNumber};
use fengqiao_domain::workflow::{self, CaseEvent, Command, Context, NewCase};
use fengqiao_domain::DomainError;
use fengqiao_store::{NewUnit, NewUser, Store, StoreError};
use rng::Rng;
use thiserror::Error;

#[derive(Debug, Error)]
pub enum GenerateError {
    #[error("generator produced an invalid step: {0}")]
    Domain(#[from] DomainError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

pub type Result<T, E = GenerateError> = std::result::Result<T, E>;

/// The demo password of every generated account (printed by `fengqiao demo`).
pub const DEMO_PASSWORD: &str = "Fengqiao@2026";
/// The demo's TOTP secret (base32) for the accounts that must use a second factor (admin,
/// supervisor, leader): add it to an authenticator app, or compute codes from it in tests.
pub const DEMO_TOTP_SECRET: &str = "FENGQIAODEMOTOTPSECRETKEYFORDEMO";
/// The demo accounts enrolled with [`DEMO_TOTP_SECRET`].
pub const DEMO_TOTP_USERS: [&str; 3] = ["admin", "supervisor", "leader"];

/// A unit as inserted, with its two staff accounts.
#[derive(Debug, Clone)]
pub struct DemoUnit {
    pub id: i64,
    pub kind: UnitKind,
    pub node_code: String,
    pub specialty: Option<String>,
    pub leader: i64,
    pub handler: i64,
}

/// Reference data as inserted: what case generation needs to know.
pub struct Reference {
    pub county: County,
    pub units: Vec<DemoUnit>,
    pub dispatcher: i64,
    pub supervisor: i64,
    /// The county's legal expert, asked about some complex cases.
    pub expert: i64,
    /// Grid worker account of each town (by town index).
    pub grid_workers: Vec<i64>,
}

/// A demo login to print: username, role, what it shows.
pub struct Login {
    pub username: String,
    pub role: Role,
    pub note: &'static str,
}

/// Inserts the county, its units and staff. `password_hash` is the hash of [`DEMO_PASSWORD`]
/// (hashed once by the caller: argon2 per account would dominate start-up).
pub async fn seed_reference(
    store: &dyn Store,
    seed: u64,
    password_hash: &str,
    now: Millis,
) -> Result<(Reference, Vec<Login>)> {
    let county = county::build(seed)?;
    store.upsert_jurisdictions(&county.nodes()).await?;
    let mut logins = Vec::new();
    let user = |username: String,
                name: String,
                role: Role,
                node: &fengqiao_domain::jurisdiction::Jurisdiction,
                unit: Option<i64>| NewUser {
        username,
        display_name: name,
        password_hash: password_hash.to_string(),
        role,
        scope_code: node.code.clone(),
        scope_path: node.path.clone(),
        unit_id: unit,
        must_change_password: false,
    };
    let cn = &county.county;
    let mut names = Rng::new(seed).fork(2);
    let admin = store
        .insert_user(
            &user("admin".into(), "系统管理员".into(), Role::Admin, cn, None),
            now,
        )
        .await?;
    let dispatcher = store
        .insert_user(
            &user(
                "dispatcher".into(),
                "综治中心调度员".into(),
                Role::Dispatcher,
                cn,
                None,
            ),
            now,
        )
        .await?;
    let supervisor = store
        .insert_user(
            &user(
                "supervisor".into(),
                "综治中心督办员".into(),
                Role::Supervisor,
                cn,
                None,
            ),
            now,
        )
        .await?;
    let leader = store
        .insert_user(
            &user(
                "leader".into(),
                "县委政法委领导".into(),
                Role::Leader,
                cn,
                None,
            ),
            now,
        )
        .await?;
    let expert = store
        .insert_user(
            &user("expert".into(), "法律专家".into(), Role::Expert, cn, None),
            now,
        )
        .await?;
    logins.push(Login {
        username: admin.username,
        role: Role::Admin,
        note: "区划、单位、用户、工作日历、时限规则",
    });
    logins.push(Login {
        username: dispatcher.username,
        role: Role::Dispatcher,
        note: "受理、分流、反馈、回访、归档（全县）",
    });
    logins.push(Login {
        username: supervisor.username,
        role: Role::Supervisor,
        note: "督办、延期审批（全县）",
    });
    logins.push(Login {
        username: leader.username,
        role: Role::Leader,
        note: "只读总览（全县）",
    });
    logins.push(Login {
        username: expert.username.clone(),
        role: Role::Expert,
        note: "只看被邀请会诊的案件",
    });

    let mut units = Vec::new();
    let specs = county::units(&county);
    let node_of = |code: &str| county.nodes().into_iter().find(|n| n.code == code);
    for (i, spec) in specs.iter().enumerate() {
        let node = node_of(&spec.node_code).ok_or(StoreError::NotFound)?;
        let u = store
            .insert_unit(
                &NewUnit {
                    name: spec.name.clone(),
                    kind: spec.kind,
                    node_code: spec.node_code.clone(),
                    specialty: spec.specialty.clone(),
                },
                &node.path,
            )
            .await?;
        let l = store
            .insert_user(
                &user(
                    format!("u{:02}leader", i + 1),
                    texts::full_name(&mut names),
                    Role::UnitLeader,
                    &node,
                    Some(u.id),
                ),
                now,
            )
            .await?;
        let role = if matches!(
            spec.kind,
            UnitKind::VillageMediationCommittee | UnitKind::ProfessionalMediation
        ) {
            Role::Mediator
        } else {
            Role::UnitHandler
        };
        let h = store
            .insert_user(
                &user(
                    format!("u{:02}staff", i + 1),
                    texts::full_name(&mut names),
                    role,
                    &node,
                    Some(u.id),
                ),
                now,
            )
            .await?;
        store.set_unit_leader(u.id, Some(l.id)).await?;
        if i == 1 {
            logins.push(Login {
                username: h.username.clone(),
                role,
                note: "城关司法所经办人（只见本镇及本单位案件）",
            });
            logins.push(Login {
                username: l.username.clone(),
                role: Role::UnitLeader,
                note: "城关司法所负责人（收到超期督办通知）",
            });
        }
        units.push(DemoUnit {
            id: u.id,
            kind: spec.kind,
            node_code: spec.node_code.clone(),
            specialty: spec.specialty.clone(),
            leader: l.id,
            handler: h.id,
        });
    }
    let mut grid_workers = Vec::new();
    for (ti, t) in county.towns.iter().enumerate() {
        let g = store
            .insert_user(
                &user(
                    format!("grid{:02}", ti + 1),
                    texts::full_name(&mut names),
                    Role::GridWorker,
                    &t.node,
                    None,
                ),
                now,
            )
            .await?;
        if ti == 0 {
            logins.push(Login {
                username: g.username.clone(),
                role: Role::GridWorker,
                note: "城关镇网格员（上报）",
            });
        }
        grid_workers.push(g.id);
    }
    Ok((
        Reference {
            county,
            units,
            dispatcher: dispatcher.id,
            supervisor: supervisor.id,
            expert: expert.id,
            grid_workers,
        },
        logins,
    ))
}

#[derive(Debug, Clone)]
pub struct Options {
    pub seed: u64,
    pub cases: u64,
    /// The last day of the generated history ("today" of the demo).
    pub until: NaiveDate,
    /// Cases per transaction.
    pub batch: usize,
    /// The demo's "now": no event is later. Within `until` (e.g. the current time when the
    /// history ends today).
    pub now: Millis,
}

impl Options {
    /// History ending on `until`, with "now" at 17:30 that day.
    pub fn ending(seed: u64, cases: u64, until: NaiveDate) -> Options {
        Options {
            seed,
            cases,
            until,
            batch: 5_000,
            now: local_instant(until, 17, 30),
        }
    }
}

const SPRING_FESTIVALS: [(i32, u32, u32); 5] = [
    (2023, 1, 22),
    (2024, 2, 10),
    (2025, 1, 29),
    (2026, 2, 17),
    (2027, 2, 6),
];

fn spring_festival(year: i32) -> Option<NaiveDate> {
    SPRING_FESTIVALS
        .iter()
        .find(|s| s.0 == year)
        .and_then(|&(y, m, d)| NaiveDate::from_ymd_opt(y, m, d))
}

/// Relative intake of a dispute type by month (1–12): wage arrears before the New Year,
/// land and neighbour quarrels at planting and harvest, family quarrels after the Festival.
fn season(ty: DisputeType, date: NaiveDate) -> f64 {
    let m = date.month();
    let before_festival = spring_festival(date.year() + i32::from(m >= 11))
        .map(|sf| (sf - date).num_days())
        .is_some_and(|d| (0..=40).contains(&d));
    match ty {
        DisputeType::Labour if before_festival => 3.0,
        DisputeType::Labour => 1.0,
        DisputeType::ForestLand | DisputeType::HousingHomestead if matches!(m, 3..=5 | 9 | 10) => {
            1.8
        }
        DisputeType::Neighbourhood if matches!(m, 3..=5 | 7 | 8) => 1.4,
        DisputeType::MarriageFamily if matches!(m, 2 | 3) => 1.7,
        DisputeType::TrafficAccident if matches!(m, 1 | 2 | 10) => 1.5,
        DisputeType::PropertyManagement if matches!(m, 6..=8) => 1.5,
        _ => 1.0,
    }
}

const TYPE_WEIGHTS: [(DisputeType, f64); 15] = [
    (DisputeType::MarriageFamily, 12.0),
    (DisputeType::Neighbourhood, 20.0),
    (DisputeType::HousingHomestead, 9.0),
    (DisputeType::Contract, 9.0),
    (DisputeType::ProductionBusiness, 4.0),
    (DisputeType::DamageCompensation, 8.0),
    (DisputeType::ForestLand, 6.0),
    (DisputeType::LandRequisition, 3.0),
    (DisputeType::EnvironmentalPollution, 2.5),
    (DisputeType::Labour, 8.0),
    (DisputeType::Consumer, 4.0),
    (DisputeType::Medical, 2.0),
    (DisputeType::TrafficAccident, 5.0),
    (DisputeType::PropertyManagement, 4.5),
    (DisputeType::Other, 3.0),
];

const CHANNEL_WEIGHTS: [(Channel, f64); 10] = [
    (Channel::CitizenWeb, 22.0),
    (Channel::GridWorker, 26.0),
    (Channel::Hotline12345, 15.0),
    (Channel::WalkIn, 12.0),
    (Channel::Phone, 5.0),
    (Channel::JudicialMediation, 6.0),
    (Channel::Police, 6.0),
    (Channel::CourtPrelitigation, 3.0),
    (Channel::Petition, 3.0),
    (Channel::LabourArbitration, 2.0),
];

fn amount_yuan(rng: &mut Rng, ty: DisputeType) -> Option<i64> {
    let (p, lo, hi) = match ty {
        DisputeType::Labour => (0.95, 3_000, 120_000),
        DisputeType::Contract => (0.9, 2_000, 300_000),
        DisputeType::DamageCompensation | DisputeType::TrafficAccident => (0.9, 800, 150_000),
        DisputeType::LandRequisition => (0.8, 20_000, 600_000),
        DisputeType::Medical => (0.85, 5_000, 400_000),
        DisputeType::HousingHomestead | DisputeType::ProductionBusiness => (0.6, 5_000, 500_000),
        DisputeType::Neighbourhood | DisputeType::Consumer | DisputeType::PropertyManagement => {
            (0.5, 200, 20_000)
        }
        _ => (0.3, 500, 50_000),
    };
    if rng.chance(p) {
        // Round like people do.
        let raw = rng.range(lo, hi);
        let step = if raw > 10_000 { 500 } else { 100 };
        Some((raw / step).max(1) * step)
    } else {
        None
    }
}

/// Which unit leads a case of this type in this town (and whether the police co-handle).
fn route(
    r: &Reference,
    rng: &mut Rng,
    ty: DisputeType,
    town: usize,
    village_code: &str,
    risk: RiskLevel,
) -> (i64, Vec<i64>) {
    let by_kind = |k: UnitKind| r.units.iter().find(|u| u.kind == k);
    let by_spec = |s: &str| r.units.iter().find(|u| u.specialty.as_deref() == Some(s));
    let town_code = &r.county.towns[town].node.code;
    let judicial = r
        .units
        .iter()
        .find(|u| u.kind == UnitKind::JudicialOffice && &u.node_code == town_code);
    let village_committee = r
        .units
        .iter()
        .find(|u| u.kind == UnitKind::VillageMediationCommittee && u.node_code == village_code);
    let choice = match ty {
        DisputeType::Labour => {
            if rng.chance(0.4) {
                by_kind(UnitKind::LabourArbitration)
            } else if rng.chance(0.5) {
                by_spec("劳动")
            } else {
                by_kind(UnitKind::HumanResources)
            }
        }
        DisputeType::TrafficAccident => by_spec("交通"),
        DisputeType::Medical => by_spec("医疗"),
        DisputeType::PropertyManagement => {
            if rng.chance(0.7) {
                by_spec("物业")
            } else {
                by_kind(UnitKind::HousingConstruction)
            }
        }
        DisputeType::MarriageFamily if rng.chance(0.4) => by_spec("婚姻家庭"),
        DisputeType::LandRequisition | DisputeType::ForestLand if rng.chance(0.4) => {
            by_kind(UnitKind::NaturalResources)
        }
        DisputeType::Consumer => by_kind(UnitKind::MarketRegulation),
        DisputeType::Contract if rng.chance(0.25) => r
            .units
            .iter()
            .filter(|u| u.kind == UnitKind::PeoplesTribunal)
            .nth(town % 3),
        _ => None,
    };
    let lead = choice
        .or(village_committee.filter(|_| rng.chance(0.7)))
        .or(judicial)
        .or_else(|| r.units.first());
    let lead_id = lead.map(|u| u.id).unwrap_or_default();
    let mut co = Vec::new();
    if risk == RiskLevel::High {
        let mut police = r.units.iter().filter(|u| u.kind == UnitKind::PoliceStation);
        let police = police
            .clone()
            .find(|u| &u.node_code == town_code)
            .or_else(|| police.next());
        if let Some(p) = police.filter(|p| p.id != lead_id) {
            co.push(p.id);
        }
    }
    (lead_id, co)
}

struct Builder<'a> {
    calendar: &'a WorkCalendar,
    rules: &'a DeadlineRules,
    state: Option<CaseState>,
    events: Vec<CaseEvent>,
    labels: Vec<Label>,
}

/// Where a slot's value landed in a generated text: `("{A}", char start, char end)`.
/// {A} {B} people, {V} {T} places, {W} time, {C} organisation, {M} money, {N} headcount.
pub type Label = (String, usize, usize);

/// One generated case with the gold labels of its text (for the text evaluation).
pub struct Generated {
    pub state: CaseState,
    pub events: Vec<CaseEvent>,
    pub labels: Vec<Label>,
}

impl<'a> Builder<'a> {
    /// A builder holding a case's registration event.
    fn registered(
        (calendar, rules): (&'a WorkCalendar, &'a DeadlineRules),
        case: NewCase,
        code: String,
        submitter: Option<i64>,
        at: Millis,
        labels: Vec<Label>,
    ) -> Result<Builder<'a>> {
        let first = CaseEvent {
            seq: 1,
            at,
            actor_id: submitter,
            kind: workflow::register(case, code, submitter)?,
        };
        Ok(Builder {
            calendar,
            rules,
            state: workflow::apply(None, &first),
            events: vec![first],
            labels,
        })
    }

    fn step(
        &mut self,
        actor: &Actor,
        actor_id: Option<i64>,
        at: Millis,
        cmd: Command,
    ) -> Result<()> {
        let Some(state) = &self.state else {
            return Ok(());
        };
        let ctx = Context {
            actor,
            now: at,
            calendar: self.calendar,
            rules: self.rules,
        };
        for kind in workflow::decide(state, &cmd, &ctx)? {
            let e = CaseEvent {
                seq: self.events.len() as u32 + 1,
                at,
                actor_id,
                kind,
            };
            self.state = workflow::apply(self.state.take(), &e);
            self.events.push(e);
        }
        Ok(())
    }

    fn light_at(&mut self, at: Millis) -> Result<()> {
        self.step(&Actor::system(), None, at, Command::RefreshLight)
    }
}

/// A time on a working day `n` working days after `from`, during office hours.
fn working_time(cal: &WorkCalendar, rng: &mut Rng, from: Millis, n: u32) -> Millis {
    let d = cal.add_working_days(local_date(from), n);
    let t = local_instant(d, rng.range(8, 17) as u32, rng.range(0, 59) as u32);
    t.max(from + 600_000)
}

fn tracking_code(seed: u64, i: u64) -> String {
    const ALPHA: &[u8] = b"23456789ABCDEFGHJKMNPQRSTUVWXYZ";
    let modulus: u64 = 31u64.pow(9);
    // i ↦ i·k + c (mod 31⁹) is a bijection because k is not a multiple of 31: codes never repeat.
    let mut x = (i.wrapping_mul(2_654_435_761) % modulus + seed % modulus) % modulus;
    let mut s = vec![b'D'];
    for _ in 0..9 {
        s.push(ALPHA[(x % 31) as usize]);
        x /= 31;
    }
    String::from_utf8_lossy(&s).into_owned()
}

fn synthetic_id(rng: &mut Rng, birth_year: i32) -> Option<IdCardNumber> {
    let birth =
        NaiveDate::from_ymd_opt(birth_year, rng.range(1, 12) as u32, rng.range(1, 28) as u32)?;
    // Region 990102 is the fictional county: no real person has such a number.
    let first17 = format!("990102{}{:03}", birth.format("%Y%m%d"), rng.range(1, 999));
    let check = IdCardNumber::check_char(&first17)?;
    IdCardNumber::parse(&format!("{first17}{check}")).ok()
}

fn synthetic_phone(rng: &mut Rng) -> Option<PhoneNumber> {
    let prefix = rng.pick(&[
        "138", "139", "150", "151", "158", "187", "188", "135", "177", "199",
    ]);
    PhoneNumber::parse(&format!("{prefix}{:08}", rng.below(100_000_000))).ok()
}

/// Generates case `i` of the history, with its whole log up to `now`.
pub fn case(
    r: &Reference,
    opts: &Options,
    i: u64,
    cal: &WorkCalendar,
    rules: &DeadlineRules,
) -> Result<(CaseState, Vec<CaseEvent>)> {
    case_labelled(r, opts, i, cal, rules).map(|g| (g.state, g.events))
}

/// [`case`] with the gold labels of its text.
pub fn case_labelled(
    r: &Reference,
    opts: &Options,
    i: u64,
    cal: &WorkCalendar,
    rules: &DeadlineRules,
) -> Result<Generated> {
    // One case in fifty is a dispute reported again through another channel (the case before
    // it, in other words): the cross-channel duplicates intake must find.
    if is_duplicate_report(i) {
        return duplicate_report(r, opts, i, cal, rules);
    }
    let mut rng = Rng::new(opts.seed).fork(i + 1000);
    let now = opts.now;
    let start = opts.until - Duration::days(730);
    // Injected clusters: a land-requisition wave in one village of 双桥镇 five months ago, and a
    // construction company's wage-arrears wave before the last Spring Festival in 河口镇, and
    // a property-management dispute spreading through two neighbouring villages of 城关镇 in
    // the last nine days (what the early warning should be showing now).
    let cluster = match i % 1000 {
        0..=1 => 1,
        2..=4 => 2,
        5..=6 => 3,
        _ => 0,
    };
    let (ty, date, town, vi) = match cluster {
        1 => (
            DisputeType::LandRequisition,
            opts.until - Duration::days(150 + rng.range(0, 20)),
            11usize,
            2usize,
        ),
        2 => {
            let sf = spring_festival(opts.until.year())
                .filter(|d| *d < opts.until)
                .or_else(|| spring_festival(opts.until.year() - 1));
            let d = sf
                .map(|d| d - Duration::days(rng.range(3, 28)))
                .unwrap_or(opts.until);
            (DisputeType::Labour, d, 1, rng.below(15) as usize)
        }
        3 => (
            DisputeType::PropertyManagement,
            opts.until - Duration::days(rng.range(0, 9)),
            0,
            3 + rng.below(2) as usize,
        ),
        _ => {
            let weights: Vec<f64> = TYPE_WEIGHTS.iter().map(|t| t.1).collect();
            let ty = TYPE_WEIGHTS[rng.weighted(&weights)].0;
            let date = loop {
                let d = start + Duration::days(rng.range(0, 730));
                let weekday = match d.weekday() {
                    _ if !cal.is_working_day(d)
                        && !matches!(d.weekday(), Weekday::Sat | Weekday::Sun) =>
                    {
                        0.3
                    }
                    Weekday::Sat | Weekday::Sun if !cal.is_working_day(d) => 0.45,
                    Weekday::Mon => 1.15,
                    _ => 1.0,
                };
                if rng.unit() * 3.5 < season(ty, d) * weekday {
                    break d;
                }
            };
            let town = rng.weighted(&[3.0, 1.6, 1.0, 0.8, 1.0, 1.0, 0.8, 1.2, 2.0, 2.2, 0.7, 1.0]);
            let vi = rng.weighted(
                &(0..15)
                    .map(|v| if v < 8 { 1.4 } else { 1.0 })
                    .collect::<Vec<_>>(),
            );
            (ty, date, town, vi)
        }
    };
    let town_node = &r.county.towns[town];
    let village = &town_node.villages[vi];
    // Nothing is registered after "now" (a demo started at 10:00 has no 15:00 cases yet).
    let registered = local_instant(date, rng.range(7, 20) as u32, rng.range(0, 59) as u32)
        .min(opts.now - rng.range(1, 240) * 60_000);
    let complexity = if rng.chance(match ty {
        DisputeType::LandRequisition | DisputeType::Medical => 0.6,
        DisputeType::Labour if cluster == 2 => 0.7,
        _ => 0.2,
    }) {
        Complexity::Complex
    } else {
        Complexity::Simple
    };
    let risk = if cluster > 0 {
        if rng.chance(0.5) {
            RiskLevel::High
        } else {
            RiskLevel::Medium
        }
    } else {
        [RiskLevel::Low, RiskLevel::Medium, RiskLevel::High][rng.weighted(&[75.0, 18.0, 7.0])]
    };

    let a_full = texts::full_name(&mut rng);
    let b_full = texts::full_name(&mut rng);
    let company = if cluster == 2 {
        "青溪县宏达建筑工程有限公司".to_string()
    } else {
        let tail = match ty {
            DisputeType::PropertyManagement => Some("物业服务有限公司"),
            DisputeType::Labour => Some(*rng.pick(&[
                "建筑工程有限公司",
                "服装厂",
                "电子科技有限公司",
                "家具厂",
                "食品有限公司",
            ])),
            DisputeType::Consumer => {
                Some(*rng.pick(&["电动车行", "家电商场", "通讯器材店", "健身会所"]))
            }
            DisputeType::LandRequisition => Some("城市建设投资有限公司"),
            DisputeType::TrafficAccident => Some("运输有限公司"),
            _ => None,
        };
        texts::company(&mut rng, tail)
    };
    let amount = amount_yuan(&mut rng, ty);
    let people = if cluster > 0 || rng.chance(0.1) {
        rng.range(3, 40)
    } else {
        2
    };
    let when = match rng.below(6) {
        0 => format!("{}月{}日", date.month(), date.day()),
        1 => "昨天晚上".to_string(),
        2 => "前天".to_string(),
        3 => "上周".to_string(),
        4 => format!("{}月初", date.month()),
        _ => "近日".to_string(),
    };
    let years = rng.range(3, 25).to_string();
    let (a, b) = (
        texts::spoken_name(&mut rng, &a_full),
        texts::spoken_name(&mut rng, &b_full),
    );
    let m = amount
        .map(|y| texts::amount_text(&mut rng, y))
        .unwrap_or_else(|| "若干".into());
    let n = if people > 2 {
        format!("{people}")
    } else {
        "几".into()
    };
    let (mut text, slots) = texts::fill_annotated(
        texts::template(&mut rng, ty),
        &[
            ("{A}", &a),
            ("{B}", &b),
            ("{V}", &village.node.name),
            ("{T}", &town_node.node.name),
            ("{M}", &m),
            ("{W}", &when),
            ("{N}", &n),
            ("{C}", &company),
            ("{Y}", &years),
        ],
    );
    if risk != RiskLevel::Low && rng.chance(0.6) {
        text.push_str(rng.pick::<&str>(&texts::RISK_TAILS));
    }
    let channel = if cluster == 2 && rng.chance(0.3) {
        Channel::Hotline12345
    } else {
        CHANNEL_WEIGHTS[rng.weighted(&CHANNEL_WEIGHTS.iter().map(|c| c.1).collect::<Vec<_>>())].0
    };
    let birth_year = rng.range(1940, 2004) as i32;
    let mut parties = vec![Party {
        name: a_full,
        role: PartyRole::Applicant,
        id_number: if rng.chance(0.45) {
            synthetic_id(&mut rng, birth_year)
        } else {
            None
        },
        phone: if rng.chance(0.85) {
            synthetic_phone(&mut rng)
        } else {
            None
        },
        address: Some(format!("{}{}组", village.node.name, rng.range(1, 12))),
    }];
    parties.push(Party {
        name: if matches!(
            ty,
            DisputeType::Labour | DisputeType::PropertyManagement | DisputeType::Consumer
        ) && rng.chance(0.6)
        {
            company.clone()
        } else {
            b_full
        },
        role: PartyRole::Respondent,
        id_number: None,
        phone: if rng.chance(0.4) {
            synthetic_phone(&mut rng)
        } else {
            None
        },
        address: None,
    });
    let grid = rng.pick(&village.grids);
    let new_case = NewCase {
        channel,
        text,
        parties,
        dispute_type: ty,
        subtype: None,
        location: Location {
            node_code: grid.code.clone(),
            node_path: grid.path.clone(),
            address: Some(format!("{}{}", town_node.node.name, village.node.name)),
            coordinates: village
                .node
                .centroid
                .map(|[x, y]| [x + (rng.unit() - 0.5) * 0.01, y + (rng.unit() - 0.5) * 0.01]),
        },
        occurred_at: Some(registered - rng.range(1, 72) * 3_600_000),
        complexity,
        risk_level: risk,
        amount_fen: amount.map(|y| y * 100),
        people_involved: Some(people as u32),
    };
    let submitter = match channel {
        Channel::GridWorker => Some(r.grid_workers[town]),
        Channel::CitizenWeb => None,
        _ => Some(r.dispatcher),
    };
    let mut b = Builder::registered(
        (cal, rules),
        new_case,
        tracking_code(opts.seed, i),
        submitter,
        registered,
        slots,
    )?;
    let sys = Actor::system();
    let disp = Some(r.dispatcher);

    // 受理 → 分流 (or 不予受理).
    let t_route = registered + rng.range(1, 30) * 3_600_000 / 4;
    if t_route > now {
        return finish(b, now);
    }
    if rng.chance(0.03) {
        b.step(
            &sys,
            disp,
            t_route,
            Command::Reject {
                reason: "不属于人民调解受理范围，已告知当事人通过诉讼途径解决".into(),
            },
        )?;
        if t_route + 86_400_000 < now {
            b.step(&sys, disp, t_route + 86_400_000, Command::Archive)?;
        }
        return finish(b, now);
    }
    let (lead, co) = route(r, &mut rng, ty, town, &village.node.code, risk);
    let unit = r
        .units
        .iter()
        .find(|u| u.id == lead)
        .cloned()
        .ok_or(StoreError::NotFound)?;
    b.step(
        &sys,
        disp,
        t_route,
        Command::Route {
            lead_unit_id: lead,
            co_unit_ids: co,
        },
    )?;
    let due = b
        .state
        .as_ref()
        .and_then(|s| s.deadline.as_ref())
        .map(|d| d.due)
        .unwrap_or(opts.until);

    let t = t_route + rng.range(1, 20) * 1_800_000;
    if t > now {
        return finish(b, now);
    }
    b.step(&sys, Some(unit.handler), t, Command::Accept)?;
    let handler = Some(unit.handler);
    // Every fifth complex case: the unit asks the county's legal expert (no draw from the
    // generator, so the rest of the county is as before).
    if complexity == Complexity::Complex && i.is_multiple_of(5) && t + 60_000 <= now {
        b.step(
            &sys,
            handler,
            t + 60_000,
            Command::AddExpert {
                user_id: r.expert,
                question: format!("{}：请从法律上分析责任认定与调解方案。", ty.zh()),
            },
        )?;
    }

    // How long handling takes, in working days: most on time, some late.
    let budget = rules.working_days(ty, complexity, Stage::Handle) as i64;
    let late = rng.chance(if cluster > 0 { 0.25 } else { 0.08 });
    let days = if late {
        budget + rng.range(1, 6)
    } else {
        rng.range(1.min(budget), budget)
    };
    let t_conclude = working_time(cal, &mut rng, t, days as u32);
    // Mediation sessions, and for a late case the red light (the day after the due date), the
    // automatic supervision it opens and the unit's reply: all in time order.
    enum Step {
        Session(u32),
        Red,
        Reply,
    }
    let mut plan = Vec::new();
    let sessions = rng.range(
        1,
        if complexity == Complexity::Complex {
            4
        } else {
            2
        },
    );
    for k in 0..sessions {
        plan.push((
            t + (t_conclude - t) * (k + 1) / (sessions + 1),
            Step::Session(k as u32),
        ));
    }
    let red_at = end_of_local_day(due) + 3_600_000;
    if t_conclude > red_at {
        plan.push((red_at, Step::Red));
        // The unit answers the supervision the next working day, and before it concludes.
        let reply_at = working_time(cal, &mut rng, red_at, 1)
            .min(t_conclude - 60_000)
            .max(red_at + 60_000);
        plan.push((reply_at, Step::Reply));
    }
    plan.sort_by_key(|(at, _)| *at);
    for (at, step) in plan {
        if at > now {
            return finish(b, now);
        }
        match step {
            Step::Session(k) => b.step(
                &sys,
                handler,
                at,
                Command::RecordSession(MediationSession {
                    date: local_date(at),
                    mediator: format!("{}调解员", r.county.towns[town].node.name),
                    place: Some(if k == 0 && rng.chance(0.2) {
                        "线上视频调解".into()
                    } else {
                        format!("{}调解室", village.node.name)
                    }),
                    online: rng.chance(0.2),
                    participants: vec!["申请人".into(), "被申请人".into()],
                    notes: [
                        "听取双方陈述，释法说理。",
                        "背靠背分别做工作，双方立场有所松动。",
                        "组织双方面对面协商，初步形成调解方案。",
                    ][k as usize % 3]
                        .into(),
                }),
            )?,
            Step::Red => b.light_at(at)?,
            Step::Reply => b.step(
                &sys,
                Some(unit.leader),
                at,
                Command::ReplySupervision {
                    no: 1,
                    reply: "已加派调解员，正在加紧办理，预计三个工作日内办结。".into(),
                },
            )?,
        }
    }
    if t_conclude > now {
        return finish(b, now);
    }
    let outcome = match rng.weighted(&[76.0, 17.0, 7.0]) {
        0 => Outcome::Agreement { agreement: match amount {
            Some(y) => format!("经调解，双方自愿达成协议：被申请人于十五日内一次性支付申请人{}元，双方纠纷就此了结。", y * rng.range(6, 10) / 10),
            None => "经调解，双方自愿达成协议：互相谅解，按村规民约妥善处理，今后和睦相处。".to_string(),
        }},
        1 => Outcome::NoAgreement {
            referral: [Referral::Litigation, Referral::Arbitration, Referral::Administrative][rng.weighted(&[6.0, if ty == DisputeType::Labour { 6.0 } else { 1.0 }, 2.0])],
            note: "双方分歧较大，未能达成一致，已告知其他救济途径。".into(),
        },
        _ => Outcome::Withdrawn { note: "申请人撤回调解申请。".into() },
    };
    b.step(&sys, handler, t_conclude, Command::Conclude { outcome })?;
    let fb_days = rng.range(0, 2) as u32;
    let t_fb = working_time(cal, &mut rng, t_conclude, fb_days);
    if t_fb > now {
        return finish(b, now);
    }
    b.step(
        &sys,
        handler,
        t_fb,
        Command::GiveFeedback {
            text: "您反映的问题已办结，办理结果已告知，如有异议可联系承办单位。".into(),
        },
    )?;
    let satisfaction = [5u8, 4, 3, 2, 1][rng.weighted(&[62.0, 24.0, 8.0, 4.0, 2.0])];
    if rng.chance(0.6) {
        let t_eval = t_fb + rng.range(2, 96) * 3_600_000;
        if t_eval > now {
            return finish(b, now);
        }
        let citizen = Actor {
            user_id: PUBLIC_CITIZEN,
            role: Role::Citizen,
            scope_path: String::new(),
            unit_id: None,
        };
        b.step(
            &citizen,
            None,
            t_eval,
            Command::Evaluate {
                satisfaction,
                comment: None,
            },
        )?;
    } else {
        let t_eval =
            t_fb + i64::from(rules.revisit_after_days) * 86_400_000 + rng.range(1, 48) * 3_600_000;
        // The monitor asks for the revisit on the morning it falls due.
        let asked = b
            .state
            .as_ref()
            .and_then(|s| s.revisit_due_on)
            .map(|d| local_instant(d, 8, 0));
        if let Some(at) = asked.filter(|at| *at <= t_eval.min(now)) {
            b.light_at(at)?;
        }
        if t_eval > now {
            return finish(b, now);
        }
        b.step(
            &sys,
            disp,
            t_eval,
            Command::Evaluate {
                satisfaction,
                comment: Some("电话回访".into()),
            },
        )?;
    }
    let t_arch = b.events.last().map(|e| e.at).unwrap_or(now) + rng.range(1, 72) * 3_600_000;
    if t_arch <= now {
        b.step(&sys, disp, t_arch, Command::Archive)?;
    }
    finish(b, now)
}

/// Case `i` as the same dispute as case `i - 1`, reported again a few hours or days later
/// through another channel. Older ones were closed by the dispatcher as duplicates (不予受理,
/// naming the first case's tracking code); recent ones wait to be merged.
fn duplicate_report(
    r: &Reference,
    opts: &Options,
    i: u64,
    cal: &WorkCalendar,
    rules: &DeadlineRules,
) -> Result<Generated> {
    let original = case_labelled(r, opts, i - 1, cal, rules)?;
    let o = &original.state;
    let mut rng = Rng::new(opts.seed).fork(i + 1000);
    let registered = (o.registered_at + rng.range(2, 72) * 3_600_000).min(opts.now);
    let (channel, prefix) = if o.channel == Channel::Hotline12345 {
        (Channel::GridWorker, "网格员走访时当事人再次反映：")
    } else {
        (Channel::Hotline12345, "12345热线转来：")
    };
    let shift = prefix.chars().count();
    let new_case = NewCase {
        channel,
        text: format!("{prefix}{}", o.text),
        parties: o.parties.clone(),
        dispute_type: o.dispute_type,
        subtype: None,
        location: o.location.clone(),
        occurred_at: o.occurred_at,
        complexity: o.complexity,
        risk_level: o.risk_level,
        amount_fen: o.amount_fen,
        people_involved: o.people_involved,
    };
    let town = r
        .county
        .towns
        .iter()
        .position(|t| o.location.node_path.contains(&format!("/{}/", t.node.code)))
        .unwrap_or(0);
    let submitter = match channel {
        Channel::GridWorker => r.grid_workers.get(town).copied(),
        _ => Some(r.dispatcher),
    };
    let labels = original
        .labels
        .iter()
        .map(|(k, s, e)| (k.clone(), s + shift, e + shift))
        .collect();
    let mut b = Builder::registered(
        (cal, rules),
        new_case,
        tracking_code(opts.seed, i),
        submitter,
        registered,
        labels,
    )?;
    let closed = registered + rng.range(1, 8) * 3_600_000;
    if closed <= opts.now {
        let reason = format!("重复反映，已并入案件 {}", o.tracking_code);
        b.step(
            &Actor::system(),
            Some(r.dispatcher),
            closed,
            Command::Reject { reason },
        )?;
    }
    finish(b, opts.now)
}

/// Whether generated case `i` is a duplicate report of case `i - 1`.
pub fn is_duplicate_report(i: u64) -> bool {
    i % 50 == 7
}

fn finish(mut b: Builder<'_>, now: Millis) -> Result<Generated> {
    b.light_at(now)?;
    let state = b.state.ok_or(StoreError::NotFound)?;
    Ok(Generated {
        state,
        events: b.events,
        labels: b.labels,
    })
}

/// A reference with made-up account ids, for generating texts without a database.
pub fn offline_reference(seed: u64) -> Result<Reference> {
    let county = county::build(seed)?;
    let units = county::units(&county)
        .into_iter()
        .enumerate()
        .map(|(k, u)| DemoUnit {
            id: k as i64 + 1,
            kind: u.kind,
            node_code: u.node_code,
            specialty: u.specialty,
            leader: 10_000 + 2 * k as i64,
            handler: 10_001 + 2 * k as i64,
        })
        .collect();
    let towns = county.towns.len();
    Ok(Reference {
        county,
        units,
        dispatcher: 1,
        supervisor: 2,
        expert: 3,
        grid_workers: (0..towns as i64).map(|t| 100 + t).collect(),
    })
}

/// Generates `opts.cases` cases into the store in batches; `progress` is called per batch.
pub async fn generate_cases(
    store: &dyn Store,
    r: &Reference,
    opts: &Options,
    mut progress: impl FnMut(u64),
) -> Result<u64> {
    let cal = WorkCalendar::new(
        store
            .calendar_days()
            .await?
            .into_iter()
            .map(|d| (d.date, d.kind)),
    );
    let rules = DeadlineRules::default();
    let mut batch = Vec::with_capacity(opts.batch);
    let mut done = 0;
    // Ids follow registration order within a batch only; a whole history sorted by time would
    // need all cases in memory, which `--cases 10000000` cannot afford.
    for i in 0..opts.cases {
        batch.push(case(r, opts, i, &cal, &rules)?);
        if batch.len() >= opts.batch {
            batch.sort_by_key(|(s, _)| s.registered_at);
            store.bulk_insert_cases(&batch).await?;
            done += batch.len() as u64;
            batch.clear();
            progress(done);
        }
    }
    if !batch.is_empty() {
        batch.sort_by_key(|(s, _)| s.registered_at);
        store.bulk_insert_cases(&batch).await?;
        done += batch.len() as u64;
        progress(done);
    }
    Ok(done)
}

/// One generated complaint text with its gold labels.
pub struct LabelledText {
    pub index: u64,
    pub text: String,
    pub dispute_type: DisputeType,
    pub reported_at: Millis,
    /// The grid the case was generated in.
    pub node_code: String,
    pub labels: Vec<Label>,
    /// The scenario of its type the text was written from (see [`texts::scenario`]).
    pub scenario: Option<usize>,
}

/// The demo corpus: `n` complaint texts of the county of `seed`, as `generate` would write
/// them, with the slots' positions as gold labels. Needs no database.
pub fn labelled_corpus(seed: u64, n: u64, until: NaiveDate) -> Result<Vec<LabelledText>> {
    let r = offline_reference(seed)?;
    let opts = Options::ending(seed, n, until);
    let cal = WorkCalendar::china();
    let rules = DeadlineRules::default();
    (0..n)
        .map(|i| {
            let g = case_labelled(&r, &opts, i, &cal, &rules)?;
            Ok(LabelledText {
                index: i,
                text: g.state.text.clone(),
                dispute_type: g.state.dispute_type,
                reported_at: g.state.registered_at,
                node_code: g.state.location.node_code.clone(),
                scenario: texts::scenario(g.state.dispute_type, &g.state.text),
                labels: g.labels,
            })
        })
        .collect()
}

/// What the demo's people did with the warnings the backfilled run raised: a warning quiet for
/// five days was looked at by a responsible unit's leader — one in three closed as a normal
/// fluctuation, the others acknowledged and handled (joint visit and mediation), and half of
/// those closed by the centre. Deterministic by warning id. Returns how many were acted on.
pub async fn act_on_warnings(store: &dyn Store, today: NaiveDate, now: Millis) -> Result<usize> {
    use fengqiao_domain::warning::WarningAction as A;
    let live = store
        .list_warnings(&fengqiao_store::WarningFilter {
            scope_path: Some("/".into()),
            live_only: true,
            limit: 10_000,
            ..Default::default()
        })
        .await?;
    let mut writes = Vec::new();
    for mut w in live {
        // Only warnings nobody has touched yet (a handled one that the signal reopened is open).
        if w.status != fengqiao_domain::warning::WarningStatus::Open
            || (today - w.last_day).num_days() < 5
        {
            continue;
        }
        let version = fengqiao_store::warning_version(&w);
        let mut by = 0;
        if let Some(u) = w.unit_ids.first() {
            if let Some(unit) = store.get_unit(*u).await? {
                by = unit.leader_user_id.unwrap_or(0);
            }
        }
        let at = now.min(end_of_local_day(w.last_day + Duration::days(2)));
        match w.id % 3 {
            0 => w.act(A::Close, by, "经核查为正常波动，已告知网格员持续关注", at)?,
            n => {
                w.act(A::Acknowledge, by, "", at)?;
                w.act(
                    A::Handle,
                    by,
                    "司法所会同村调委会入户走访，召开协调会，逐户化解",
                    at + 3_600_000,
                )?;
                if n == 1 {
                    w.act(A::Close, by, "", at + 7_200_000)?;
                }
            }
        }
        writes.push((w, version));
    }
    store.save_warnings(&writes, &[], now).await?;
    Ok(writes.len())
}
