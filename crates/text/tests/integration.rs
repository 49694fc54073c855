#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
//! The text reader from outside: whole analyses, bad input, duplicates.
use chrono::NaiveDateTime;
use fengqiao_domain::case::{DisputeType, RiskLevel};
use fengqiao_text::{Analyzer, Fingerprint, Gazetteer, GazetteerEntry, TextError, TypeModel};
use proptest::prelude::*;

fn at(s: &str) -> NaiveDateTime {
    NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M").unwrap()
}

fn county() -> Analyzer {
    let e = |code: &str, name: &str, path: &str, level: u8| GazetteerEntry {
        code: code.into(),
        name: name.into(),
        path: path.into(),
        level,
    };
    Analyzer::new(
        Gazetteer::new(vec![
            e("990102", "青溪县", "/990102/", 1),
            e("990102001", "城关镇", "/990102/990102001/", 2),
            e(
                "990102001003",
                "幸福村",
                "/990102/990102001/990102001003/",
                3,
            ),
        ]),
        TypeModel::builtin(),
    )
}

const SAMPLE: &str = "城关镇幸福村村民张建国反映，2024年3月5日下午，邻居王某某在建房时占用其家约两米宽的宅基地，\
双方因宅基地边界问题发生纠纷，王某某扬言要拼命。张建国已年逾七旬，要求赔偿损失三万五千元，联系电话13800138000。";

#[test]
fn a_whole_analysis_reads_every_element() {
    let a = county().analyze(SAMPLE, at("2024-03-07 10:00")).unwrap();
    assert_eq!(a.dispute_type.best, DisputeType::HousingHomestead);
    assert_eq!(a.dispute_type.top.len(), 3);
    assert_eq!(a.cause.as_ref().unwrap().text, "宅基地边界");
    assert_eq!(a.node_code(), Some("990102001003"));
    assert_eq!(a.main_amount_fen(), Some(3_500_000));
    assert_eq!(a.phones[0].text, "13800138000");
    assert_eq!(a.risk.level, RiskLevel::High);
    assert!(a.risk.cues.iter().any(|c| c.kind == "vulnerable"));
    let names: Vec<&str> = a.persons.iter().map(|p| p.text.as_str()).collect();
    assert_eq!(names, ["张建国", "王某某", "王某某", "张建国"]);
    assert_eq!(a.persons[1].role.as_deref(), Some("neighbour"));
    insta::assert_json_snapshot!(a);
}

#[test]
fn bad_input_is_refused_or_read_in_bounded_work() {
    let r = Analyzer::generic();
    assert_eq!(r.analyze("", at("2025-01-01 00:00")), Err(TextError::Empty));
    assert_eq!(
        r.analyze(" \n\t ", at("2025-01-01 00:00")),
        Err(TextError::Empty)
    );
    // 100,000 characters: read up to the limit, and it says so.
    let long = SAMPLE.repeat(100_000 / SAMPLE.chars().count() + 1);
    let a = r.analyze(&long, at("2025-01-01 00:00")).unwrap();
    assert!(a.truncated);
    assert_eq!(a.chars_read, fengqiao_text::MAX_CHARS);
    // Traditional characters, full-width digits, emoji and Latin text mixed in.
    let a = r
        .analyze(
            "😡鄰居張某某２０２４年３月５日打傷我，賠償￥３５，０００ OK?",
            at("2025-01-01 00:00"),
        )
        .unwrap();
    assert_eq!(a.main_amount_fen(), Some(3_500_000));
    assert_eq!(a.times[0].text, "２０２４年３月５日");
    assert_eq!(a.persons[0].text, "張某某");
}

#[test]
fn duplicates_need_shared_parties_or_place_and_similar_words() {
    let r = county();
    let now = at("2025-03-01 10:00");
    let fp = |t: &str| Fingerprint::of(t, &r.analyze(t, now).unwrap(), Some("990102001003"));
    let a = fp("张建国反映邻居李小红在公共通道上堆放柴草杂物，影响通行，多次沟通无果。");
    let b = fp("12345转来：张建国称邻居李小红在公共通道上堆放柴草杂物，影响通行，多次沟通无果。");
    let c = fp("赵大爷反映女儿不支付赡养费，看病的钱都拿不出来。");
    let hit = a.compare(7, &b).unwrap();
    assert!(hit.score >= fengqiao_text::dedup::AUTO_LINK, "{hit:?}");
    assert!(hit.reasons.contains(&"same_parties".to_string()));
    assert_eq!(hit.shared_names, ["张建国", "李小红"]);
    // Same village but another dispute: not a candidate.
    assert!(a
        .compare(8, &c)
        .is_none_or(|d| d.score < fengqiao_text::dedup::SUGGEST));
    let found = fengqiao_text::dedup::candidates(&a, [(7, &b), (8, &c)], 5);
    assert_eq!(found.iter().map(|d| d.case_id).collect::<Vec<_>>(), [7]);
}

#[test]
fn a_record_s_party_fields_identify_it_when_its_words_differ() {
    let r = county();
    let now = at("2025-03-01 10:00");
    let fp = |t: &str| Fingerprint::of(t, &r.analyze(t, now).unwrap(), Some("990102001003"));
    // The police record names nobody in its text; its fields carry the reporter.
    let case = fp("某女士反映楼上漏水导致天花板发霉，协商赔偿未果。");
    let police = fp("报警人称楼上卫生间漏水，家中天花板发霉，双方争执。");
    let before = case.compare(1, &police).map(|d| d.score).unwrap_or(0.0);
    // Number keys come from the caller (the app's blind index); equal numbers, equal keys.
    let key = |n: &str| n.chars().filter(char::is_ascii_digit).collect::<String>();
    let case = case.with_parties(["王秀英"], [key("138 0013 8000")]);
    let police = police.with_parties(["赵某某"], [key("13800138000")]);
    let hit = case.compare(1, &police).unwrap();
    assert!(hit.reasons.contains(&"same_parties".to_string()), "{hit:?}");
    assert!(hit.score > before + 0.25, "{before} → {hit:?}");
    // The phone's key is never shown as a shared name; anonymised names are not identities.
    assert!(hit.shared_names.is_empty(), "{hit:?}");
    assert!(!police.names.iter().any(|n| n.contains('某')));
    // A misspelt name (one character, same surname, three characters) in the same village
    // counts for less than the same name, and not at all for two-character names.
    let spelt = |name: &str| {
        fp("某女士反映楼上漏水导致天花板发霉，协商赔偿未果。")
            .with_parties([name], Vec::<String>::new())
    };
    let same = spelt("王秀英").compare(1, &spelt("王秀英")).unwrap();
    let like = spelt("王秀英").compare(1, &spelt("王晓英")).unwrap();
    let other = spelt("王秀英").compare(1, &spelt("李秀英")).unwrap();
    assert!(
        like.reasons.contains(&"similar_names".to_string()),
        "{like:?}"
    );
    assert!(
        same.score > like.score && like.score > other.score,
        "{same:?} {like:?} {other:?}"
    );
    // The day it happened: the same day (give or take one) counts for, weeks apart against.
    let on = |day: i64| spelt("王秀英").on_day(Some(day));
    let (near, far, unknown) = (
        on(100).compare(1, &on(101)).unwrap(),
        on(100).compare(1, &on(130)).unwrap(),
        spelt("王秀英").compare(1, &on(130)).unwrap(),
    );
    assert!(near.reasons.contains(&"same_day".to_string()), "{near:?}");
    assert!(
        near.score > unknown.score && unknown.score > far.score,
        "{near:?} {unknown:?} {far:?}"
    );
    let short = spelt("王伟").compare(1, &spelt("王炜")).unwrap();
    assert!(
        !short.reasons.contains(&"similar_names".to_string()),
        "{short:?}"
    );
}

#[test]
fn a_model_round_trips_and_retraining_learns_new_words() {
    let m = TypeModel::builtin();
    assert!(m.counts().is_some(), "the built-in model is shipped");
    let again = TypeModel::from_json(&m.to_json()).unwrap();
    assert_eq!(again.counts(), m.counts());
    assert!(TypeModel::from_json("{").is_err());
    // A deployment's confirmed cases teach it a word the lexicon lacks.
    let texts = ["社区里的鸽子笼挡住窗户", "鸽子笼挡光", "鸽子笼占了楼道"];
    let trained = TypeModel::train(
        texts.iter().map(|t| (*t, DisputeType::Neighbourhood)),
        "test",
    )
    .unwrap();
    let r = Analyzer::new(Gazetteer::default(), trained);
    assert_eq!(r.classify("鸽子笼").best, DisputeType::Neighbourhood);
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]
    #[test]
    fn any_text_reads_without_panic_and_spans_stay_inside(s in "\\PC{0,300}") {
        let r = county();
        match r.analyze(&s, at("2025-06-15 12:00")) {
            Err(e) => prop_assert_eq!(e, TextError::Empty),
            Ok(a) => {
                let n = s.chars().count();
                for sp in a.persons.iter().map(|p| p.span)
                    .chain(a.places.iter().map(|p| p.span))
                    .chain(a.times.iter().map(|p| p.span))
                    .chain(a.amounts.iter().map(|p| p.span)) {
                    prop_assert!(sp.start < sp.end && sp.end <= n);
                }
                for t in &a.times {
                    prop_assert!(t.start < t.end);
                }
                prop_assert!(a.risk.score <= 100);
            }
        }
    }

    #[test]
    fn dispute_words_in_any_order_read_without_panic(
        parts in proptest::collection::vec(prop::sample::select(vec![
            "昨天", "晚上", "8点", "3月", "5日", "上周", "三", "万", "元", "¥", "35,000", "张", "某", "某",
            "村", "扬言", "没有", "农历", "正月", "初八", "春节", "前", "、", "等", "十余", "名", "工人",
            "1", "9", "号", "年", "。", "因", "问题",
        ]), 1..40)
    ) {
        let s: String = parts.concat();
        let a = county().analyze(&s, at("2025-06-15 12:00")).unwrap();
        for t in &a.times {
            prop_assert!(t.start < t.end, "{}", s);
        }
    }
}

/// A fingerprint made up for the index: MinHash values whose low 16 bits often agree when
/// the values do not (the index's sketch must never reject what the full values accept).
fn made_up(values: &[u8], names: &[u8], node: u8, day: i64) -> Fingerprint {
    const VALUES: [u32; 4] = [0, 1, 65_536, 65_537];
    const NAMES: [&str; 4] = ["张建国", "李小红", "王秀英", "#key"];
    Fingerprint {
        minhash: values.iter().map(|v| VALUES[*v as usize % 4]).collect(),
        names: names
            .iter()
            .map(|n| NAMES[*n as usize % 4].to_string())
            .collect(),
        orgs: Vec::new(),
        node_code: Some(format!("99010200100{}", node % 2)),
        amount_fen: None,
        day: Some(day),
    }
}

fn shares_band_or_name(a: &Fingerprint, b: &Fingerprint) -> bool {
    a.names.iter().any(|n| b.names.contains(n))
        || a.minhash
            .chunks(3)
            .zip(b.minhash.chunks(3))
            .any(|(x, y)| x == y && x.iter().all(|h| *h != u32::MAX))
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]
    /// With fewer cases than a posting list holds, the index finds exactly the candidates a
    /// comparison with every live case of the window finds among those sharing a band or a
    /// name, with the same scores; expired cases are never found.
    #[test]
    fn the_duplicate_index_finds_what_comparing_every_case_finds(
        cases in proptest::collection::vec(
            (proptest::collection::vec(0u8..4, fengqiao_text::dedup::K),
             proptest::collection::vec(0u8..4, 0..3), 0u8..2, 0i64..40),
            1..30),
        query in (proptest::collection::vec(0u8..4, fengqiao_text::dedup::K),
                  proptest::collection::vec(0u8..4, 0..3), 0u8..2),
        expire_before in 0i64..20,
        window in (0i64..40, 0i64..40),
    ) {
        let mut index = fengqiao_text::dedup::Index::default();
        let mut held = Vec::new();
        for (i, (values, names, node, at)) in cases.iter().enumerate() {
            let fp = made_up(values, names, *node, *at);
            index.insert(i as i64 + 1, *at, fp.clone());
            held.push((i as i64 + 1, *at, fp));
        }
        index.expire(expire_before);
        let q = made_up(&query.0, &query.1, query.2, 20);
        let (from, to) = (window.0.min(window.1), window.0.max(window.1));
        let found = index.candidates(&q, 0, from, to, 50);
        let expected = fengqiao_text::dedup::candidates(
            &q,
            held.iter()
                .filter(|(_, at, fp)| *at >= expire_before && (from..=to).contains(at)
                    && shares_band_or_name(&q, fp))
                .map(|(id, _, fp)| (*id, fp)),
            50,
        );
        prop_assert_eq!(found, expected);
        prop_assert_eq!(index.len(), held.iter().filter(|(_, at, _)| *at >= expire_before).count());
    }
}

#[test]
fn the_duplicate_index_renumbers_its_cases_when_most_have_expired() {
    let mut index = fengqiao_text::dedup::Index::default();
    let values = |i: i64| -> Vec<u8> { (0..48).map(|k| ((i + k) % 4) as u8).collect() };
    for i in 0..2_000i64 {
        index.insert(i, i, made_up(&values(i), &[(i % 3) as u8], 0, i));
    }
    // 1,990 expired: far more stale postings than live cases, so the postings are rebuilt.
    index.expire(1_990);
    assert_eq!(index.len(), 10);
    assert!(!index.contains(5) && index.contains(1_995));
    let found = index.candidates(&made_up(&values(1_996), &[0], 0, 1_996), -1, 0, 5_000, 50);
    let ids: Vec<i64> = found.iter().map(|d| d.case_id).collect();
    // Case 1,996 has the same wording (found through its bands); expired cases never come.
    assert!(ids.contains(&1_996), "{found:?}");
    assert!(ids.iter().all(|id| *id >= 1_990), "{found:?}");
    // Inserted after the rebuild: found too.
    index.insert(3_000, 3_000, made_up(&values(1_996), &[1], 0, 3_000));
    let found = index.candidates(&made_up(&values(1_996), &[0], 0, 1_996), -1, 0, 5_000, 50);
    assert!(found.iter().any(|d| d.case_id == 3_000), "{found:?}");
}
