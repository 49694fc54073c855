#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
//! The search index from outside: Chinese words, filters, scope, replacement, reopening.
use fengqiao_search::{
    CaseDoc, LawDoc, LawIndex, LawQuery, Nearness, Scope, SearchIndex, SearchQuery, SimilarQuery,
};

const TOWN_A: &str = "/990102/990102001/";
const VILLAGE_A: &str = "/990102/990102001/990102001001/";
const VILLAGE_B: &str = "/990102/990102002/990102002001/";

fn case(id: i64, text: &str, kind: &str, path: &str, units: &[i64]) -> CaseDoc {
    CaseDoc {
        id,
        tracking_code: format!("FQ{id:08}"),
        text: text.to_string(),
        elements: String::new(),
        outcome: String::new(),
        outcome_kind: String::new(),
        dispute_type: kind.to_string(),
        status: "registered".into(),
        channel: "walk_in".into(),
        node_path: path.to_string(),
        unit_ids: units.to_vec(),
        registered_at: 1_700_000_000_000 + id,
    }
}

fn query(text: &str) -> SearchQuery {
    SearchQuery {
        text: text.to_string(),
        dispute_type: None,
        status: None,
        channel: None,
        place_path: None,
        scope: Scope::Everything,
        limit: 10,
        offset: 0,
    }
}

fn ids(index: &SearchIndex, q: &SearchQuery) -> Vec<i64> {
    let mut v: Vec<i64> = index.search(q).unwrap().hits.iter().map(|h| h.id).collect();
    v.sort();
    v
}

fn county() -> SearchIndex {
    let index = SearchIndex::in_memory().unwrap();
    index
        .upsert(&[
            case(
                1,
                "楼上邻居家卫生间漏水，把我家天花板泡坏了",
                "neighbour",
                VILLAGE_A,
                &[],
            ),
            case(
                2,
                "工地拖欠农民工工资三万元，老板失联",
                "labour",
                VILLAGE_A,
                &[7],
            ),
            case(
                3,
                "邻居在公共通道堆放杂物，多次协商无果",
                "neighbour",
                VILLAGE_B,
                &[],
            ),
            case(
                4,
                "装修公司拖欠工资，工人集体讨薪",
                "labour",
                VILLAGE_B,
                &[7],
            ),
            case(
                5,
                "The landlord keeps the DEPOSIT",
                "contract",
                VILLAGE_B,
                &[],
            ),
        ])
        .unwrap();
    index.commit().unwrap();
    index
}

#[test]
fn chinese_words_find_their_cases_with_highlighted_snippets() {
    let index = county();
    assert_eq!(index.len(), 5);
    assert_eq!(ids(&index, &query("漏水")), vec![1]);
    assert_eq!(ids(&index, &query("拖欠工资")), vec![2, 4]);
    assert_eq!(ids(&index, &query("邻居")), vec![1, 3]);
    // Every word must be there: 邻居 and 工资 are never in one case.
    assert!(ids(&index, &query("邻居 工资")).is_empty());
    // Latin words ignore case.
    assert_eq!(ids(&index, &query("deposit")), vec![5]);
    let page = index.search(&query("漏水")).unwrap();
    assert_eq!(page.total, 1);
    let s = &page.hits[0].snippet;
    assert!(!s.highlights.is_empty(), "{s:?}");
    assert!(
        s.highlights
            .iter()
            .all(|r| &s.fragment[r.clone()] == "漏水"),
        "{s:?}"
    );
    // A tracking code finds its case.
    assert_eq!(ids(&index, &query("fq00000003")), vec![3]);
}

#[test]
fn filters_and_scope_restrict_what_is_found() {
    let index = county();
    let mut q = query("拖欠");
    q.dispute_type = Some("labour".into());
    assert_eq!(ids(&index, &q), vec![2, 4]);
    q.place_path = Some(VILLAGE_B.into());
    assert_eq!(ids(&index, &q), vec![4]);
    // Scope: a town's staff see the town's cases; their unit's cases elsewhere too.
    let mut q = query("");
    q.scope = Scope::Within {
        path: TOWN_A.into(),
        unit_id: None,
    };
    assert_eq!(ids(&index, &q), vec![1, 2]);
    q.scope = Scope::Within {
        path: TOWN_A.into(),
        unit_id: Some(7),
    };
    assert_eq!(ids(&index, &q), vec![1, 2, 4]);
    // No words: newest first, paged.
    let mut q = query("");
    q.limit = 2;
    let page = index.search(&q).unwrap();
    assert_eq!(page.total, 5);
    assert_eq!(
        page.hits.iter().map(|h| h.id).collect::<Vec<_>>(),
        vec![5, 4]
    );
    q.offset = 2;
    let page = index.search(&q).unwrap();
    assert_eq!(
        page.hits.iter().map(|h| h.id).collect::<Vec<_>>(),
        vec![3, 2]
    );
}

#[test]
fn a_changed_case_replaces_its_document_and_a_rebuild_starts_empty() {
    let index = county();
    let mut c = case(1, "邻居装修噪音扰民", "neighbour", VILLAGE_A, &[]);
    c.status = "concluded".into();
    index.upsert(&[c]).unwrap();
    // Not visible before the commit.
    assert_eq!(ids(&index, &query("漏水")), vec![1]);
    index.commit().unwrap();
    assert!(ids(&index, &query("漏水")).is_empty());
    assert_eq!(ids(&index, &query("噪音")), vec![1]);
    assert_eq!(index.len(), 5);
    let mut q = query("");
    q.status = Some("concluded".into());
    assert_eq!(ids(&index, &q), vec![1]);
    index.clear().unwrap();
    index.commit().unwrap();
    assert!(index.is_empty());
}

#[test]
fn an_index_on_disk_survives_reopening_and_another_schema_is_rebuilt() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("search");
    {
        let (index, fresh) = SearchIndex::open(&path).unwrap();
        assert!(fresh);
        index
            .upsert(&[case(9, "宅基地边界纠纷", "land", VILLAGE_A, &[])])
            .unwrap();
        index.commit().unwrap();
    }
    let (index, fresh) = SearchIndex::open(&path).unwrap();
    assert!(!fresh);
    assert_eq!(ids(&index, &query("宅基地")), vec![9]);
    drop(index);
    std::fs::write(path.join("fengqiao-schema"), "cases-0").unwrap();
    let (index, fresh) = SearchIndex::open(&path).unwrap();
    assert!(fresh);
    assert!(index.is_empty());
    // A directory with other files in it is never emptied.
    let elsewhere = dir.path().join("documents");
    std::fs::create_dir_all(&elsewhere).unwrap();
    std::fs::write(elsewhere.join("notes.txt"), "keep me").unwrap();
    let refused = SearchIndex::open(&elsewhere);
    assert_eq!(refused.err().map(|e| e.code()), Some("search_directory"));
    assert_eq!(
        std::fs::read_to_string(elsewhere.join("notes.txt")).unwrap(),
        "keep me"
    );
}

#[test]
fn punctuation_and_spaces_are_not_words() {
    let index = SearchIndex::in_memory().unwrap();
    let w = index.words("邻居，漏水！  Deposit");
    assert!(
        w.contains(&"邻居".to_string()) && w.contains(&"漏水".to_string()),
        "{w:?}"
    );
    assert!(w.contains(&"deposit".to_string()), "{w:?}");
    assert!(
        w.iter().all(|t| t.chars().any(char::is_alphanumeric)),
        "{w:?}"
    );
}

#[test]
fn words_of_the_outcome_find_the_case_and_show_its_passage() {
    let index = SearchIndex::in_memory().unwrap();
    let mut c = case(1, "邻居装修噪音扰民", "neighbour", VILLAGE_A, &[]);
    c.outcome = "双方达成协议：晚上十点后停止施工，互留电话".into();
    index.upsert(&[c]).unwrap();
    index.commit().unwrap();
    let page = index.search(&query("互留电话")).unwrap();
    assert_eq!(page.total, 1);
    let s = &page.hits[0].snippet;
    assert!(s.fragment.contains("互留电话"), "{s:?}");
    assert!(!s.highlights.is_empty(), "{s:?}");
    // A match in the text is shown from the text.
    let s = &index.search(&query("噪音")).unwrap().hits[0].snippet;
    assert!(s.fragment.contains("噪音"), "{s:?}");
}

fn resolved(id: i64, text: &str, kind: &str, path: &str) -> CaseDoc {
    CaseDoc {
        outcome_kind: "agreement".into(),
        status: "archived".into(),
        ..case(id, text, kind, path, &[])
    }
}

fn like(text: &str, kind: &str, path: &str) -> SimilarQuery {
    SimilarQuery {
        text: text.into(),
        dispute_type: Some(kind.into()),
        node_path: path.into(),
        outcome_kind: Some("agreement".into()),
        exclude: vec![],
        scope: Scope::Everything,
        limit: 5,
    }
}

#[test]
fn similar_cases_are_resolved_ones_sharing_the_telling_words() {
    let index = SearchIndex::in_memory().unwrap();
    index
        .upsert(&[
            resolved(
                1,
                "楼上卫生间漏水，天花板泡坏，要求赔偿维修费",
                "neighbourhood",
                VILLAGE_A,
            ),
            resolved(
                2,
                "楼上邻居家漏水，我家天花板和衣柜都泡坏了",
                "neighbourhood",
                VILLAGE_B,
            ),
            resolved(3, "工地拖欠工资，工人讨薪", "labour", VILLAGE_A),
            // Open: never offered as how a dispute was settled.
            case(4, "卫生间漏水泡坏天花板", "neighbourhood", VILLAGE_A, &[]),
            resolved(5, "饭店卫生间漏水，要求退款", "consumer", VILLAGE_B),
        ])
        .unwrap();
    index.commit().unwrap();
    let hits = index
        .similar(&like(
            "卫生间漏水把天花板泡坏了",
            "neighbourhood",
            VILLAGE_A,
        ))
        .unwrap();
    let ids: Vec<i64> = hits.iter().map(|h| h.id).collect();
    assert_eq!(ids[0], 1, "{hits:?}");
    assert!(!ids.contains(&4), "an open case is not a resolved one");
    assert!(!ids.contains(&3), "nothing shared with the wage case");
    let first = &hits[0];
    assert!(first.same_type);
    assert_eq!(first.nearness, Nearness::SamePlace);
    assert!(first.shared_words.contains(&"天花板".to_string()));
    assert!(first.shared_words.contains(&"漏水".to_string()));
    // Same words, same type: the neighbour case of the other town ranks above the restaurant.
    let pos = |id: i64| {
        ids.iter()
            .position(|i| *i == id)
            .unwrap_or_else(|| panic!("{id} not in {hits:?}"))
    };
    assert!(pos(2) < pos(5), "{hits:?}");
    assert_eq!(hits[pos(2)].nearness, Nearness::Elsewhere);
    // The case itself is excluded, and scope applies.
    let mut q = like("卫生间漏水把天花板泡坏了", "neighbourhood", VILLAGE_A);
    q.exclude = vec![1];
    q.scope = Scope::Within {
        path: TOWN_A.into(),
        unit_id: None,
    };
    let ids: Vec<i64> = index.similar(&q).unwrap().iter().map(|h| h.id).collect();
    assert!(ids.is_empty(), "{ids:?}");
    // Words the index never saw find nothing.
    assert!(index
        .similar(&like("zzz", "neighbourhood", VILLAGE_A))
        .unwrap()
        .is_empty());
}

fn article(law: &str, label: &str, text: &str) -> LawDoc {
    LawDoc {
        citation: format!("{law} {label}"),
        law: law.into(),
        text: text.into(),
    }
}

#[test]
fn articles_are_recommended_by_words_and_by_the_types_preferences() {
    let laws = LawIndex::build(&[
        article(
            "民法典",
            "第一条",
            "不动产权利人应当为相邻权利人用水、排水提供必要的便利。",
        ),
        article("民法典", "第二条", "借款人应当按照约定的期限返还借款。"),
        article(
            "民法典",
            "第三条",
            "相邻权利人应当按照团结互助、公平合理的原则处理相邻关系。",
        ),
        article("劳动合同法", "第一条", "用人单位应当及时足额支付劳动报酬。"),
    ])
    .unwrap();
    assert_eq!(laws.len(), 4);
    let q = LawQuery {
        text: "相邻的邻居家排水管堵了，污水流进我家院子".into(),
        preferred: vec!["民法典 第三条".into()],
        laws: vec!["民法典".into()],
        limit: 3,
    };
    let hits = laws.recommend(&q).unwrap();
    let cites: Vec<&str> = hits.iter().map(|h| h.citation.as_str()).collect();
    // The type's key provision first, then what the words find best.
    assert_eq!(cites[..2], ["民法典 第三条", "民法典 第一条"], "{hits:?}");
    assert!(hits[0].preferred);
    assert!(hits[1].shared_words.contains(&"排水".to_string()));
    assert!(hits[1].text_likeness > hits[0].text_likeness);
    // No shared word at all: the type's preferred article is still offered.
    let hits = laws
        .recommend(&LawQuery {
            text: "zzz".into(),
            ..q.clone()
        })
        .unwrap();
    assert_eq!(hits.len(), 1);
    assert_eq!(hits[0].citation, "民法典 第三条");
    assert!(LawIndex::build(&[]).unwrap().is_empty());
}
