//! The generator: deterministic, realistic in coverage, and every log replays to its state.
// Tests fail loudly: unwrapping is how they assert.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
use fengqiao_domain::calendar::WorkCalendar;
use fengqiao_domain::case::{DisputeType, Status};
use fengqiao_domain::deadline::DeadlineRules;
use fengqiao_domain::workflow::replay;
use fengqiao_store::{CaseFilter, Store, Visibility};
use std::collections::HashSet;

fn opts(cases: u64) -> fengqiao_demo::Options {
    fengqiao_demo::Options {
        batch: 250,
        ..fengqiao_demo::Options::ending(
            42,
            cases,
            chrono::NaiveDate::from_ymd_opt(2026, 11, 20).unwrap(),
        )
    }
}

#[tokio::test]
async fn generated_county_is_deterministic_and_replays() {
    let dir = tempfile::tempdir().unwrap();
    let store = fengqiao_store_sqlite::SqliteStore::open(dir.path().join("d.db").to_str().unwrap())
        .await
        .unwrap();
    store.migrate().await.unwrap();
    for d in fengqiao_domain::calendar::china_2024_2026() {
        store
            .set_calendar_day(d.date, Some(d.kind), &d.note)
            .await
            .unwrap();
    }
    let (reference, logins) = fengqiao_demo::seed_reference(&store, 42, "$argon2id$x", 0)
        .await
        .unwrap();
    assert_eq!(reference.county.towns.len(), 12);
    assert_eq!(reference.county.villages().count(), 180);
    assert_eq!(reference.units.len(), 40);
    assert!(logins.iter().any(|l| l.username == "dispatcher"));
    let all = store.list_users("/", None).await.unwrap();
    assert!(all.len() >= 80, "{} staff", all.len());

    let n = fengqiao_demo::generate_cases(&store, &reference, &opts(1500), |_| {})
        .await
        .unwrap();
    assert_eq!(n, 1500);

    // Same seed, same case; another index, another case.
    let cal = WorkCalendar::china();
    let rules = DeadlineRules::default();
    let a = fengqiao_demo::case(&reference, &opts(1), 77, &cal, &rules).unwrap();
    let b = fengqiao_demo::case(&reference, &opts(1), 77, &cal, &rules).unwrap();
    assert_eq!(a, b);
    assert_ne!(
        a.0.text,
        fengqiao_demo::case(&reference, &opts(1), 78, &cal, &rules)
            .unwrap()
            .0
            .text
    );

    let mut types = HashSet::new();
    let mut statuses = HashSet::new();
    let mut codes = HashSet::new();
    let mut before = None;
    let mut n = 0;
    loop {
        let page = store
            .list_cases(&CaseFilter {
                visibility: Visibility {
                    scope_path: Some("/".into()),
                    ..Default::default()
                },
                before_id: before,
                limit: 500,
                ..Default::default()
            })
            .await
            .unwrap();
        for c in &page.items {
            n += 1;
            let events = store.case_events(c.id).await.unwrap();
            assert_eq!(
                replay(&events).as_ref(),
                Some(&c.state),
                "case {} replays",
                c.id
            );
            assert_eq!(events.len() as i64, c.version);
            assert!(
                events.windows(2).all(|w| w[0].at <= w[1].at),
                "case {}: events in time order",
                c.id
            );
            types.insert(c.state.dispute_type);
            statuses.insert(c.state.status);
            assert!(
                codes.insert(c.state.tracking_code.clone()),
                "tracking codes are unique"
            );
            assert!(c.state.text.chars().count() > 20, "{}", c.state.text);
            assert!(
                !c.state.text.contains('{'),
                "all slots filled: {}",
                c.state.text
            );
            if matches!(c.state.status, Status::Archived) && c.state.outcome.is_some() {
                assert_eq!(
                    c.state.open_supervisions().count(),
                    0,
                    "case {}: supervisions answered",
                    c.id
                );
            }
        }
        match page.next_before_id {
            Some(b) => before = Some(b),
            None => break,
        }
    }
    assert_eq!(n, 1500);
    assert_eq!(types.len(), DisputeType::ALL.len(), "all 15 types occur");
    assert!(
        statuses.contains(&Status::Archived) && statuses.contains(&Status::InMediation),
        "{statuses:?}"
    );
}

#[test]
fn amounts_are_written_the_ways_people_write_them() {
    assert_eq!(fengqiao_demo::texts::chinese_number(35_000), "三万五千");
    assert_eq!(fengqiao_demo::texts::chinese_number(1_200), "一千二百");
    assert_eq!(fengqiao_demo::texts::chinese_number(10_050), "一万零五十");
    assert_eq!(fengqiao_demo::texts::chinese_number(105), "一百零五");
}

#[test]
fn no_event_is_later_than_now() {
    let county_seed = 3;
    let county = fengqiao_demo::county::build(county_seed).unwrap();
    assert_eq!(county.towns.len(), 12);
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let dir = tempfile::tempdir().unwrap();
        let store =
            fengqiao_store_sqlite::SqliteStore::open(dir.path().join("n.db").to_str().unwrap())
                .await
                .unwrap();
        store.migrate().await.unwrap();
        let (reference, _) = fengqiao_demo::seed_reference(&store, county_seed, "$argon2id$x", 0)
            .await
            .unwrap();
        let until = chrono::NaiveDate::from_ymd_opt(2026, 3, 10).unwrap();
        let mut o = fengqiao_demo::Options::ending(county_seed, 1, until);
        o.now = fengqiao_domain::time::local_instant(until, 10, 0);
        let (cal, rules) = (WorkCalendar::china(), DeadlineRules::default());
        for i in 0..2_000 {
            let (state, events) = fengqiao_demo::case(&reference, &o, i, &cal, &rules).unwrap();
            assert!(state.registered_at <= o.now);
            assert!(
                events.iter().all(|e| e.at <= o.now),
                "case {i} has an event after now"
            );
        }
    });
}

/// The demo's people act once on each untouched warning, however often they look.
#[tokio::test]
async fn the_demo_acts_once_on_each_warning() {
    use fengqiao_domain::warning::*;
    let dir = tempfile::tempdir().unwrap();
    let store = fengqiao_store_sqlite::SqliteStore::open(dir.path().join("w.db").to_str().unwrap())
        .await
        .unwrap();
    store.migrate().await.unwrap();
    let day = chrono::NaiveDate::from_ymd_opt(2026, 11, 1).unwrap();
    let warning = |key: &str| {
        Warning::raise(
            Signal {
                key: key.into(),
                kind: WarningKind::Surge,
                level: WarningLevel::Yellow,
                dispute_type: DisputeType::Neighbourhood,
                area_code: "990102001".into(),
                area_name: "城关镇".into(),
                area_path: "/990000/990100/990102/990102001/".into(),
                day,
                evidence: Evidence {
                    method: "glm_scan".into(),
                    observed: 5.0,
                    expected: 1.0,
                    p_value: 1e-4,
                    recurrence_days: None,
                    window_days: 1,
                    series: vec![],
                    places: vec![],
                    case_ids: vec![],
                },
                unit_ids: vec![],
            },
            0,
        )
    };
    let writes: Vec<(Warning, i64)> = (0..6).map(|i| (warning(&format!("k{i}")), 0)).collect();
    store.save_warnings(&writes, &[], 0).await.unwrap();
    let today = day + chrono::Duration::days(7);
    let now = fengqiao_domain::time::end_of_local_day(today);
    assert_eq!(
        fengqiao_demo::act_on_warnings(&store, today, now)
            .await
            .unwrap(),
        6
    );
    // A second look a week later touches none of them again.
    let later = today + chrono::Duration::days(7);
    let now = fengqiao_domain::time::end_of_local_day(later);
    assert_eq!(
        fengqiao_demo::act_on_warnings(&store, later, now)
            .await
            .unwrap(),
        0
    );
    let all = store
        .list_warnings(&fengqiao_store::WarningFilter {
            scope_path: Some("/".into()),
            limit: 100,
            ..Default::default()
        })
        .await
        .unwrap();
    let statuses: HashSet<WarningStatus> = all.iter().map(|w| w.status).collect();
    assert!(
        statuses.contains(&WarningStatus::Closed) && statuses.contains(&WarningStatus::Handled)
    );
}
