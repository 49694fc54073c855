//! The early-warning statistics on simulated data: they find what was injected, stay quiet
//! when nothing was, and the building blocks behave as distributions must.
use fengqiao_surveillance::days::{covariates, P};
use fengqiao_surveillance::dist::{CountDist, Rng};
use fengqiao_surveillance::eval::{cluster_outcome, cluster_reports, surge_outcome, surge_scores};
use fengqiao_surveillance::glm::Baseline;
use fengqiao_surveillance::hotspot::{benjamini_hochberg, hotspots};
use fengqiao_surveillance::scan::{nearest, null_model, scan, Gumbel, ScanConfig, ScanInput};
use fengqiao_surveillance::sim::{World, WorldConfig};
use fengqiao_surveillance::surge::{Method, SurgeConfig, YELLOW_SCORE};
use proptest::prelude::*;

#[test]
fn the_baseline_recovers_the_calendar_effects_it_was_simulated_with() {
    // One busy series (the county's total): weekends × 0.45, Spring Festival × 0.3.
    let w = World::generate(&WorldConfig::default().null(), 3);
    let x: Vec<[f64; P]> = w.days.iter().map(covariates).collect();
    let y = w.total();
    let b = Baseline::fit(&x[..w.eval_from], &y[..w.eval_from]);
    let weekend = b.beta[5].exp();
    let festival = b.beta[7].exp();
    assert!((weekend - 0.45).abs() < 0.05, "weekend effect {weekend}");
    assert!(
        (festival - 0.3).abs() < 0.08,
        "Spring Festival effect {festival}"
    );
    assert!(
        b.size.is_some(),
        "the county-day effect shows as overdispersion"
    );
}

#[test]
fn surges_are_found_and_quiet_series_stay_quiet() {
    let w = World::generate(&WorldConfig::default(), 11);
    let scores = surge_scores(&w, Method::GlmScan, &SurgeConfig::default());
    let o = surge_outcome(&w, &scores, YELLOW_SCORE);
    let big: Vec<_> = o.surges.iter().filter(|s| s.0 >= 10.0).collect();
    assert_eq!(big.len(), 4);
    assert!(
        big.iter().filter(|s| s.1).count() >= 3,
        "k = 10 surges detected: {big:?}"
    );
    let fa = o.alarmed_quiet_weeks as f64 / o.quiet_weeks as f64;
    assert!(fa < 0.02, "alarmed quiet series-weeks {fa}");
    // EARS on the same data alarms on holidays far more often than the calendar-aware baseline.
    let null = World::generate(&WorldConfig::default().null(), 12);
    let ours = surge_outcome(
        &null,
        &surge_scores(&null, Method::GlmScan, &SurgeConfig::default()),
        YELLOW_SCORE,
    );
    assert!(
        ours.alarmed_holiday_weeks * 50 <= ours.holiday_weeks.max(1) * 2,
        "{ours:?}"
    );
}

#[test]
fn an_injected_cluster_is_found_and_a_county_wide_rise_is_not_a_cluster() {
    let cfg = WorldConfig {
        surge_ks: vec![],
        cluster_excess: vec![2.0],
        clusters_per_level: 2,
        ..WorldConfig::default()
    };
    let w = World::generate(&cfg, 21);
    let scan_cfg = ScanConfig {
        replicates: 49,
        ..ScanConfig::default()
    };
    let reports = cluster_reports(&w, &scan_cfg, 1e-4, 1);
    let o = cluster_outcome(&w, &reports, 1e-4);
    assert_eq!(o.truths.len(), 2);
    assert!(
        o.truths.iter().all(|t| t.1),
        "both clusters found: {:?}",
        o.truths
    );
    // A uniform 30 % rise everywhere: conditioning on the daily totals keeps it out.
    let rise = World::generate(
        &WorldConfig {
            uniform_rise: true,
            ..WorldConfig::default().null()
        },
        22,
    );
    let neighbours = nearest(&rise.points, 10);
    let day = rise
        .days
        .iter()
        .position(|d| d.date.to_string() == "2025-06-01")
        .unwrap();
    let share =
        fengqiao_surveillance::daily::shares(&rise.counts, 0, rise.eval_from - 365..rise.eval_from);
    let recent: Vec<Vec<u32>> = rise.counts[0]
        .iter()
        .map(|c| c[day - 27..=day].to_vec())
        .collect();
    let input = ScanInput {
        counts: &recent,
        share: &share,
        neighbours: &neighbours,
        overdispersion: 0.1,
    };
    let g = null_model(&input, &scan_cfg, &mut Rng::new(5));
    let found = scan(&input, &scan_cfg, &g);
    assert!(found.iter().all(|c| c.p > 1e-4), "{found:?}");
}

#[test]
fn hotspots_are_where_the_excess_is() {
    let points: Vec<(f64, f64)> = (0..100)
        .map(|i| ((i % 10) as f64, (i / 10) as f64))
        .collect();
    let nb = nearest(&points, 6);
    let expected = vec![5.0; 100];
    let mut observed = expected.clone();
    for v in [44, 45, 54, 55] {
        observed[v] = 20.0;
    }
    let h = hotspots(&observed, &expected, &nb, 0.05);
    assert!(h[44].1 && h[55].1, "the block is hot");
    assert!(!h[0].1 && !h[99].1, "far corners are not");
    assert_eq!(
        benjamini_hochberg(&[0.001, 0.5, 0.02, 0.04], 0.05),
        vec![true, false, true, false]
    );
}

proptest! {
    #[test]
    fn tails_decrease_and_stay_probabilities(mean in 0.01f64..40.0, size in 0.3f64..50.0, k in 0u64..80) {
        let d = CountDist::negbin(mean, Some(size));
        let (a, b) = (d.upper_tail(k), d.upper_tail(k + 1));
        prop_assert!((0.0..=1.0).contains(&a) && b <= a + 1e-12, "{a} then {b}");
        let g = Gumbel { location: mean, scale: size };
        prop_assert!(g.upper(mean + size) <= g.upper(mean) && g.upper(mean) <= 1.0);
    }
}

#[test]
fn the_oracles_read_the_true_means_and_find_what_was_injected() {
    use fengqiao_surveillance::oracle::{self, Oracle};
    // The true means agree with the counts they were drawn from (nothing injected).
    let null = World::generate(&WorldConfig::default().null(), 31);
    let county = fengqiao_surveillance::sim::SeriesId {
        town: None,
        kind: 0,
    };
    let (y, mu) = (null.series(county), null.expected_series(county));
    let (sy, smu): (f64, f64) = (y.iter().sum(), mu.iter().sum());
    assert!(
        (sy - smu).abs() < 4.0 * smu.sqrt(),
        "counts {sy}, means {smu}"
    );
    // A day's mean is the product of its factors.
    assert!(
        (null.expected(0, 5, 400) - null.base[0][400] * null.weight[5] * null.village_month[5][13])
            .abs()
            < 1e-12
    );
    // Every k = 10 surge stands out on its own series' oracle scores against its quiet weeks.
    let w = World::generate(&WorldConfig::default(), 11);
    let scores = oracle::scores(&w, Oracle::Windows);
    let big: Vec<_> = w
        .surges
        .iter()
        .filter(|s| s.k >= 10.0 && s.size >= 20)
        .collect();
    assert!(!big.is_empty(), "{:?}", w.surges);
    for s in big {
        let sc = &scores[&s.series];
        let during = (s.start..=s.end)
            .map(|t| sc[t - w.eval_from])
            .fold(f64::NEG_INFINITY, f64::max);
        assert!(during > 6.0, "surge {s:?}: best score {during}");
    }
    // The cluster oracle reports the 2-a-day clusters on their own villages; at the ratio the
    // benchmark calibrates (about one false cluster a month) a null year has a few a month.
    let reports = oracle::cluster_reports(&w, 28, 10, 3, 11.5);
    let found = cluster_outcome(&w, &reports, 1.0);
    let strong: Vec<_> = found.truths.iter().filter(|t| t.0 >= 2.0).collect();
    assert_eq!(strong.len(), 3);
    assert!(strong.iter().all(|t| t.1), "{strong:?}");
    let null_reports = oracle::cluster_reports(&null, 28, 10, 3, 11.5);
    let false_episodes = cluster_outcome(&null, &null_reports, 1.0).episodes.len();
    assert!(
        false_episodes <= 30,
        "{false_episodes} false clusters in a null year"
    );
}
