//! The conformance suite: every backend runs exactly these checks against a fresh database.
//! (Test support: asserting is its job, so it may panic.)
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
use crate::*;
use fengqiao_domain::access::Role;
use fengqiao_domain::calendar::DayKind;
use fengqiao_domain::case::*;
use fengqiao_domain::jurisdiction::{Jurisdiction, Level};
use fengqiao_domain::security::{SessionStage, Throttle};
use fengqiao_domain::unit::UnitKind;
use fengqiao_domain::workflow::{apply, register, replay, CaseEvent, EventKind, NewCase};

const T0: i64 = 1_735_700_000_000; // 2025-01-01

fn tree() -> Vec<Jurisdiction> {
    let p = Jurisdiction::new("990000", "示范省", Level::Province, None).unwrap();
    let c = Jurisdiction::new("990100", "江州市", Level::City, Some(&p)).unwrap();
    let k = Jurisdiction::new("990102", "青溪县", Level::County, Some(&c)).unwrap();
    let a = Jurisdiction::new("990102001", "城关镇", Level::Town, Some(&k)).unwrap();
    let b = Jurisdiction::new("990102002", "河口镇", Level::Town, Some(&k)).unwrap();
    let va = Jurisdiction::new("990102001001", "幸福村", Level::Village, Some(&a)).unwrap();
    let mut vb = Jurisdiction::new("990102002001", "柳树村", Level::Village, Some(&b)).unwrap();
    vb.centroid = Some([118.5, 29.5]);
    vb.boundary = Some(serde_json::json!({"type": "Point", "coordinates": [118.5, 29.5]}));
    vec![p, c, k, a, b, va, vb]
}

fn new_case(node: &Jurisdiction, text: &str) -> NewCase {
    NewCase {
        channel: Channel::CitizenWeb,
        text: text.to_string(),
        parties: vec![Party {
            name: "张某".into(),
            role: PartyRole::Applicant,
            id_number: None,
            phone: Some(fengqiao_domain::validate::PhoneNumber::parse("13800138000").unwrap()),
            address: None,
        }],
        dispute_type: DisputeType::Neighbourhood,
        subtype: None,
        location: Location {
            node_code: node.code.clone(),
            node_path: node.path.clone(),
            address: None,
            coordinates: None,
        },
        occurred_at: None,
        complexity: Complexity::Simple,
        risk_level: RiskLevel::Low,
        amount_fen: Some(350_000),
        people_involved: Some(2),
    }
}

fn registered(node: &Jurisdiction, code: &str, by: Option<i64>) -> (CaseState, CaseEvent) {
    let kind = register(new_case(node, "邻居占用通道堆放杂物"), code.to_string(), by).unwrap();
    let ev = CaseEvent {
        seq: 1,
        at: T0,
        actor_id: by,
        kind,
    };
    (apply(None, &ev).unwrap(), ev)
}

fn next(state: &CaseState, seq: u32, kind: EventKind) -> (CaseState, CaseEvent) {
    let ev = CaseEvent {
        seq,
        at: T0 + i64::from(seq) * 1000,
        actor_id: Some(1),
        kind,
    };
    (apply(Some(state.clone()), &ev).unwrap(), ev)
}

fn vis_path(p: &str) -> CaseFilter {
    CaseFilter {
        visibility: Visibility {
            scope_path: Some(p.into()),
            ..Default::default()
        },
        limit: 100,
        ..Default::default()
    }
}

/// Runs every check. `backup_dest` is a path the backend may write a backup to.
pub async fn run_all<S: Store>(s: &S, backup_dest: &str) {
    s.migrate().await.unwrap();
    s.migrate().await.expect("migrate is idempotent");
    let nodes = tree();
    reference_data(s, &nodes).await;
    let (unit_a, unit_b, user_a) = units_and_users(s, &nodes).await;
    cases(s, &nodes, unit_a, unit_b, user_a).await;
    analyses(s, &nodes).await;
    bulk(s, &nodes).await;
    statistics(s).await;
    warnings(s, &nodes, unit_a, user_a).await;
    outbound(s, user_a).await;
    case_event_queue(s, &nodes).await;
    many_at_once(s, &nodes).await;
    laws(s).await;
    // Everything written above (case states and events with a party's phone, analyses,
    // contacts, SMS deliveries, TOTP secrets) is sealed already, under the newest key.
    assert_eq!(s.reseal().await.unwrap(), 0, "a value was stored unsealed");
    s.backup(backup_dest).await.unwrap();
    assert!(
        std::fs::metadata(backup_dest)
            .map(|m| m.len() > 0)
            .unwrap_or(false),
        "backup written"
    );
}

async fn reference_data<S: Store>(s: &S, nodes: &[Jurisdiction]) {
    s.upsert_jurisdictions(nodes).await.unwrap();
    s.upsert_jurisdictions(&nodes[..2])
        .await
        .expect("upsert twice");
    let got = s.get_jurisdiction("990102002001").await.unwrap().unwrap();
    assert_eq!(got, nodes[6]);
    assert!(s.get_jurisdiction("990102009999").await.unwrap().is_none());
    let roots = s.list_jurisdictions(None).await.unwrap();
    assert_eq!(
        roots.iter().map(|n| n.code.as_str()).collect::<Vec<_>>(),
        vec!["990000"]
    );
    let towns = s.list_jurisdictions(Some("990102")).await.unwrap();
    assert_eq!(towns.len(), 2);

    let day = chrono::NaiveDate::from_ymd_opt(2027, 2, 6).unwrap();
    s.set_calendar_day(day, Some(DayKind::Holiday), "春节")
        .await
        .unwrap();
    s.set_calendar_day(day, Some(DayKind::Workday), "调休")
        .await
        .unwrap();
    let days = s.calendar_days().await.unwrap();
    assert_eq!(days.len(), 1);
    assert_eq!(days[0].kind, DayKind::Workday);
    s.set_calendar_day(day, None, "").await.unwrap();
    assert!(s.calendar_days().await.unwrap().is_empty());

    assert!(s.get_setting("k").await.unwrap().is_none());
    s.put_setting("k", "1").await.unwrap();
    s.put_setting("k", "2").await.unwrap();
    assert_eq!(s.get_setting("k").await.unwrap().as_deref(), Some("2"));
}

async fn units_and_users<S: Store>(s: &S, nodes: &[Jurisdiction]) -> (i64, i64, i64) {
    let ua = s
        .insert_unit(
            &NewUnit {
                name: "城关司法所".into(),
                kind: UnitKind::JudicialOffice,
                node_code: nodes[3].code.clone(),
                specialty: None,
            },
            &nodes[3].path,
        )
        .await
        .unwrap();
    let ub = s
        .insert_unit(
            &NewUnit {
                name: "河口派出所".into(),
                kind: UnitKind::PoliceStation,
                node_code: nodes[4].code.clone(),
                specialty: None,
            },
            &nodes[4].path,
        )
        .await
        .unwrap();
    assert_eq!(
        s.list_units(&nodes[3].path).await.unwrap(),
        vec![ua.clone()]
    );
    assert_eq!(s.list_units(&nodes[2].path).await.unwrap().len(), 2);
    assert!(
        s.set_unit_leader(9_999, None).await.is_err(),
        "unknown unit"
    );

    let nu = |name: &str, role: Role, node: &Jurisdiction, unit: Option<i64>| NewUser {
        username: name.into(),
        display_name: name.into(),
        password_hash: "$argon2id$test".into(),
        role,
        scope_code: node.code.clone(),
        scope_path: node.path.clone(),
        unit_id: unit,
        must_change_password: role == Role::Supervisor,
    };
    let a = s
        .insert_user(&nu("a", Role::UnitLeader, &nodes[3], Some(ua.id)), T0)
        .await
        .unwrap();
    let b = s
        .insert_user(&nu("b", Role::UnitHandler, &nodes[4], Some(ub.id)), T0)
        .await
        .unwrap();
    let sup = s
        .insert_user(&nu("sup", Role::Supervisor, &nodes[2], None), T0)
        .await
        .unwrap();
    assert!(matches!(
        s.insert_user(&nu("a", Role::Admin, &nodes[2], None), T0)
            .await,
        Err(StoreError::Duplicate(_))
    ));
    s.set_unit_leader(ua.id, Some(a.id)).await.unwrap();
    assert_eq!(
        s.get_unit(ua.id).await.unwrap().unwrap().leader_user_id,
        Some(a.id)
    );
    assert_eq!(s.get_user_by_username("a").await.unwrap().unwrap(), a);
    assert_eq!(
        s.get_user(a.id).await.unwrap().unwrap().role,
        Role::UnitLeader
    );
    assert_eq!(s.list_users(&nodes[2].path, None).await.unwrap().len(), 3);
    assert_eq!(
        s.list_users(&nodes[2].path, Some(Role::Supervisor))
            .await
            .unwrap()
            .len(),
        1
    );
    assert_eq!(s.list_users(&nodes[3].path, None).await.unwrap().len(), 1);

    s.insert_session("tok", a.id, SessionStage::Full, T0, T0 + 1000)
        .await
        .unwrap();
    assert_eq!(
        s.session("tok", T0 + 1).await.unwrap().map(|r| (
            r.user.id,
            r.stage,
            r.created_at,
            r.expires_at
        )),
        Some((a.id, SessionStage::Full, T0, T0 + 1000))
    );
    assert!(
        s.session("tok", T0 + 1000).await.unwrap().is_none(),
        "expired"
    );
    assert!(s.session("other", T0).await.unwrap().is_none());
    // An administrator changes a user; disabling ends the user's sessions.
    s.insert_session("tok-b", b.id, SessionStage::Full, T0, T0 + 1000)
        .await
        .unwrap();
    let update = UserUpdate {
        display_name: "B 2".into(),
        role: Role::Mediator,
        scope_code: nodes[3].code.clone(),
        scope_path: nodes[3].path.clone(),
        unit_id: Some(ua.id),
        disabled: false,
    };
    let b2 = s.update_user(b.id, &update).await.unwrap();
    assert_eq!(
        (b2.role, b2.display_name.as_str(), b2.unit_id, b2.disabled),
        (Role::Mediator, "B 2", Some(ua.id), false)
    );
    assert_eq!(b2.scope_path, nodes[3].path);
    assert!(s.session("tok-b", T0 + 1).await.unwrap().is_some());
    let b3 = s
        .update_user(
            b.id,
            &UserUpdate {
                disabled: true,
                ..update.clone()
            },
        )
        .await
        .unwrap();
    assert!(b3.disabled);
    assert!(s.session("tok-b", T0 + 1).await.unwrap().is_none());
    assert!(matches!(
        s.update_user(9_999, &update).await,
        Err(StoreError::NotFound)
    ));
    s.delete_session("tok").await.unwrap();
    assert!(s.session("tok", T0 + 1).await.unwrap().is_none(), "deleted");
    security(s, a.id, sup.id).await;
    audit_trail(s).await;
    (ua.id, ub.id, a.id)
}

/// Session stages and expiry, passwords, TOTP steps and the sign-in throttle.
async fn security<S: Store>(s: &S, a: i64, sup: i64) {
    let fresh = s.get_user(sup).await.unwrap().unwrap();
    assert!(fresh.must_change_password, "created with a forced change");
    assert_eq!(fresh.password_changed_at, T0);
    assert_eq!((fresh.totp_secret, fresh.totp_enabled), (None, false));
    // A session moves through its stages and slides its expiry.
    s.insert_session("t1", sup, SessionStage::ChangePassword, T0, T0 + 100)
        .await
        .unwrap();
    s.insert_session("t2", sup, SessionStage::Full, T0, T0 + 100)
        .await
        .unwrap();
    s.insert_session("t3", a, SessionStage::Full, T0, T0 + 100)
        .await
        .unwrap();
    s.update_session("t1", SessionStage::SecondFactor, T0 + 500)
        .await
        .unwrap();
    let r = s.session("t1", T0 + 200).await.unwrap().unwrap();
    assert_eq!(
        (r.stage, r.expires_at),
        (SessionStage::SecondFactor, T0 + 500)
    );
    // A new password: its time and flag; the user's other sessions end, not others'.
    s.set_password(sup, "$argon2id$new", false, T0 + 300)
        .await
        .unwrap();
    s.delete_user_sessions(sup, Some("t1")).await.unwrap();
    let u = s.session("t1", T0 + 200).await.unwrap().unwrap().user;
    assert_eq!(
        (
            u.password_hash.as_str(),
            u.must_change_password,
            u.password_changed_at
        ),
        ("$argon2id$new", false, T0 + 300)
    );
    assert!(s.session("t2", T0 + 1).await.unwrap().is_none());
    assert!(s.session("t3", T0 + 1).await.unwrap().is_some());
    s.delete_user_sessions(sup, None).await.unwrap();
    assert!(s.session("t1", T0 + 1).await.unwrap().is_none());
    assert!(matches!(
        s.set_password(9_999, "x", false, T0).await,
        Err(StoreError::NotFound)
    ));
    // TOTP: the secret, its confirmation, each step used once and never an older one.
    s.set_totp(sup, Some("JBSWY3DPEHPK3PXP"), true)
        .await
        .unwrap();
    let u = s.get_user(sup).await.unwrap().unwrap();
    assert_eq!(
        (u.totp_secret.as_deref(), u.totp_enabled),
        (Some("JBSWY3DPEHPK3PXP"), true)
    );
    assert!(s.use_totp_step(sup, 100).await.unwrap());
    assert!(!s.use_totp_step(sup, 100).await.unwrap(), "replayed");
    assert!(!s.use_totp_step(sup, 99).await.unwrap(), "older");
    assert!(s.use_totp_step(sup, 101).await.unwrap());
    s.set_totp(sup, None, false).await.unwrap();
    assert_eq!(s.get_user(sup).await.unwrap().unwrap().totp_secret, None);
    // The throttle of an account name, known or not.
    assert_eq!(s.login_throttle("nobody").await.unwrap(), None);
    let t = Throttle {
        failures: 5,
        locked_until: T0 + 9,
    };
    s.set_login_throttle("nobody", Some(&t)).await.unwrap();
    s.set_login_throttle("nobody", Some(&t)).await.unwrap();
    assert_eq!(s.login_throttle("nobody").await.unwrap(), Some(t));
    s.set_login_throttle("nobody", None).await.unwrap();
    assert_eq!(s.login_throttle("nobody").await.unwrap(), None);
}

/// The audit chain: appended in order under one lock, read back in pages, verified.
async fn audit_trail<S: Store>(s: &S) {
    use fengqiao_domain::audit::*;
    assert_eq!(s.audit_head().await.unwrap(), None);
    let rec = |i: i64| NewAuditRecord {
        at: T0 + i,
        actor_id: (i % 2 == 0).then_some(i),
        actor_name: format!("user{i}"),
        client: "127.0.0.1".into(),
        action: AuditAction::ALL[i as usize % AuditAction::ALL.len()],
        target: format!("case:{i}"),
        outcome: "ok".into(),
        detail: format!("{{\"n\":{i},\"名\":\"张某\"}}"),
    };
    assert_eq!(s.append_audit(&[rec(1), rec(2), rec(3)]).await.unwrap(), 3);
    // Writers at once still make one chain.
    let (x, y) =
        futures_util::future::join(s.append_audit(&[rec(4)]), s.append_audit(&[rec(5), rec(6)]))
            .await;
    x.unwrap();
    y.unwrap();
    assert_eq!(s.append_audit(&[]).await.unwrap(), 6);
    let head = s.audit_head().await.unwrap().unwrap();
    assert_eq!(head.0, 6);
    let first = s.audit_records(0, 4).await.unwrap();
    let rest = s.audit_records(4, 100).await.unwrap();
    assert_eq!((first.len(), rest.len()), (4, 2));
    assert_eq!(first[0].record, rec(1), "read back as written");
    assert_eq!(rest[1].hash, head.1);
    let cp = Checkpoint {
        seq: 6,
        hash: head.1.clone(),
        at: T0,
        mac: Some(checkpoint_mac(b"k", 6, &head.1, T0)),
    };
    s.put_audit_checkpoint(&cp).await.unwrap();
    assert_eq!(s.audit_checkpoints().await.unwrap(), vec![cp.clone()]);
    let mut v = Verifier::default();
    for r in first.iter().chain(&rest) {
        v.feed(r, true);
    }
    let report = v.finish(&[cp], Some(b"k"));
    assert_eq!((report.records, report.problems), (6, vec![]));
}

async fn analyses<S: Store>(s: &S, nodes: &[Jurisdiction]) {
    let mut ids = Vec::new();
    for (k, code) in ["FQANAL0001", "FQANAL0002", "FQANAL0003"]
        .iter()
        .enumerate()
    {
        let (st, ev) = registered(&nodes[5], code, None);
        let Created::New(id) = s.create_case(&st, &ev, None, None).await.unwrap() else {
            panic!("new")
        };
        let a = StoredAnalysis {
            case_id: id,
            analyser_version: "text-0".into(),
            analysed_at: T0 + k as i64,
            registered_at: T0 + 1000 * k as i64,
            analysis: format!("{{\"n\":{k}}}"),
            fingerprint: format!("{{\"f\":{k}}}"),
        };
        s.put_analyses(std::slice::from_ref(&a)).await.unwrap();
        assert_eq!(s.get_analysis(id).await.unwrap().as_ref(), Some(&a));
        ids.push(id);
    }
    // An analysis written with its case, in one transaction.
    let (st, ev) = registered(&nodes[5], "FQANAL0004", None);
    let with = StoredAnalysis {
        case_id: 0,
        analyser_version: "text-1".into(),
        analysed_at: T0,
        registered_at: T0,
        analysis: "{}".into(),
        fingerprint: "{}".into(),
    };
    let Created::New(id4) = s.create_case(&st, &ev, None, Some(&with)).await.unwrap() else {
        panic!("new")
    };
    assert_eq!(
        s.get_analysis(id4).await.unwrap(),
        Some(StoredAnalysis {
            case_id: id4,
            ..with
        })
    );
    // Re-analysis replaces.
    let mut again = s.get_analysis(ids[0]).await.unwrap().unwrap();
    again.analyser_version = "text-1".into();
    s.put_analyses(&[again]).await.unwrap();
    assert_eq!(
        s.get_analysis(ids[0])
            .await
            .unwrap()
            .unwrap()
            .analyser_version,
        "text-1"
    );
    assert!(s.get_analysis(-5).await.unwrap().is_none());
    // Since a time and after an id, by id.
    let rows = s.fingerprints(0, T0 + 1000, 10).await.unwrap();
    let got: Vec<i64> = rows.iter().map(|r| r.case_id).collect();
    assert_eq!(got, ids[1..].to_vec());
    let rows = s.fingerprints(ids[1], T0, 10).await.unwrap();
    assert_eq!(
        rows.iter().map(|r| r.case_id).collect::<Vec<_>>(),
        vec![ids[2], id4]
    );
    assert_eq!(rows[0].fingerprint, "{\"f\":2}");
    let all = s.cases_after(ids[0], 2).await.unwrap();
    assert_eq!(
        all.iter().map(|c| c.id).collect::<Vec<_>>(),
        ids[1..].to_vec()
    );
    // Freshly registered cases are not confirmed.
    let confirmed = s.confirmed_cases(0, 1000).await.unwrap();
    assert!(confirmed.iter().all(|c| !ids.contains(&c.id)));
    assert!(confirmed
        .iter()
        .all(|c| c.state.status != Status::Registered));
}

async fn cases<S: Store>(s: &S, nodes: &[Jurisdiction], unit_a: i64, unit_b: i64, user_a: i64) {
    let (va, vb) = (&nodes[5], &nodes[6]);
    // Creation and idempotency.
    let (st1, ev1) = registered(va, "FQTEST0001", None);
    let key = IdempotencyKey {
        scope: "public".into(),
        key: "k1".into(),
        body_hash: "h1".into(),
    };
    let Created::New(id1) = s.create_case(&st1, &ev1, Some(&key), None).await.unwrap() else {
        panic!("new")
    };
    let (st_dup, ev_dup) = registered(va, "FQTEST0002", None);
    assert_eq!(
        s.create_case(&st_dup, &ev_dup, Some(&key), None)
            .await
            .unwrap(),
        Created::Existing {
            id: id1,
            same_body: true
        }
    );
    let other = IdempotencyKey {
        body_hash: "h2".into(),
        ..key.clone()
    };
    assert_eq!(
        s.create_case(&st_dup, &ev_dup, Some(&other), None)
            .await
            .unwrap(),
        Created::Existing {
            id: id1,
            same_body: false
        }
    );
    assert!(
        s.find_case_by_tracking_code("FQTEST0002")
            .await
            .unwrap()
            .is_none(),
        "the retry wrote nothing"
    );
    let got = s.get_case(id1).await.unwrap().unwrap();
    assert_eq!((got.version, &got.state), (1, &st1));
    assert_eq!(
        s.find_case_by_tracking_code("FQTEST0001")
            .await
            .unwrap()
            .unwrap()
            .id,
        id1
    );
    assert!(s.get_case(id1 + 1000).await.unwrap().is_none());

    // A case in town B, co-handled by unit A, submitted by user_a.
    let (st2, ev2) = registered(vb, "FQTEST0003", Some(user_a));
    let Created::New(id2) = s.create_case(&st2, &ev2, None, None).await.unwrap() else {
        panic!("new")
    };
    let dl = Deadline {
        stage: Stage::Handle,
        started: chrono::NaiveDate::from_ymd_opt(2025, 1, 2).unwrap(),
        due: chrono::NaiveDate::from_ymd_opt(2025, 1, 7).unwrap(),
        working_days: 3,
    };
    let (st2b, e2) = next(
        &st2,
        2,
        EventKind::Routed {
            lead_unit_id: unit_b,
            co_unit_ids: vec![unit_a],
            deadline: dl,
        },
    );
    let (st2c, e3) = next(
        &st2b,
        3,
        EventKind::SupervisionOpened {
            no: 1,
            reason: "超期".into(),
            automatic: true,
            reply_due: chrono::NaiveDate::from_ymd_opt(2025, 1, 9).unwrap(),
        },
    );
    let (st2d, e4) = next(&st2c, 4, EventKind::LightChanged { light: Light::Red });
    let notes = vec![NewNotification {
        user_id: user_a,
        case_id: Some(id2),
        kind: "supervision".into(),
        title: "督办".into(),
        body: "超期".into(),
    }];
    let blob = Blob {
        id: "abc".into(),
        content_type: "image/png".into(),
        bytes: vec![1, 2, 3],
    };
    let events = [e2.clone(), e3.clone(), e4.clone()];
    s.append(Append {
        case_id: id2,
        expected_version: 1,
        events: &events,
        state: &st2d,
        notifications: &notes,
        blobs: std::slice::from_ref(&blob),
        now: T0 + 5000,
    })
    .await
    .unwrap();
    // Stale version: refused, nothing written.
    let stale = s
        .append(Append {
            case_id: id2,
            expected_version: 1,
            events: &events,
            state: &st2d,
            notifications: &[],
            blobs: &[],
            now: T0,
        })
        .await;
    assert!(matches!(stale, Err(StoreError::Conflict)), "{stale:?}");
    assert!(matches!(
        s.append(Append {
            case_id: 99_999,
            expected_version: 1,
            events: &events,
            state: &st2d,
            notifications: &[],
            blobs: &[],
            now: T0
        })
        .await,
        Err(StoreError::NotFound)
    ));
    let log = s.case_events(id2).await.unwrap();
    assert_eq!(log, vec![ev2.clone(), e2, e3, e4]);
    assert_eq!(
        replay(&log).unwrap(),
        s.get_case(id2).await.unwrap().unwrap().state
    );
    assert_eq!(s.get_case(id2).await.unwrap().unwrap().version, 4);
    assert_eq!(s.get_blob("abc").await.unwrap().unwrap(), blob);
    assert!(s.get_blob("nope").await.unwrap().is_none());

    let inbox = s.list_notifications(user_a, true, 10).await.unwrap();
    assert_eq!(inbox.len(), 1);
    assert_eq!(inbox[0].case_id, Some(id2));
    assert!(
        s.mark_notification_read(user_a + 1, inbox[0].id, T0)
            .await
            .is_err(),
        "not another user's"
    );
    s.mark_notification_read(user_a, inbox[0].id, T0)
        .await
        .unwrap();
    assert!(s
        .list_notifications(user_a, true, 10)
        .await
        .unwrap()
        .is_empty());
    assert_eq!(
        s.list_notifications(user_a, false, 10).await.unwrap().len(),
        1
    );

    // Visibility: by subtree, by unit (co-handling), by submitter, and nothing by default.
    let ids = |p: CasePage| p.items.iter().map(|c| c.id).collect::<Vec<_>>();
    assert_eq!(
        ids(s.list_cases(&vis_path(&nodes[3].path)).await.unwrap()),
        vec![id1]
    );
    assert_eq!(
        ids(s.list_cases(&vis_path(&nodes[4].path)).await.unwrap()),
        vec![id2]
    );
    assert_eq!(
        ids(s.list_cases(&vis_path(&nodes[2].path)).await.unwrap()),
        vec![id2, id1]
    );
    let by_unit = CaseFilter {
        visibility: Visibility {
            unit_id: Some(unit_a),
            ..Default::default()
        },
        limit: 10,
        ..Default::default()
    };
    assert_eq!(ids(s.list_cases(&by_unit).await.unwrap()), vec![id2]);
    let by_user = CaseFilter {
        visibility: Visibility {
            submitted_by: Some(user_a),
            ..Default::default()
        },
        limit: 10,
        ..Default::default()
    };
    assert_eq!(ids(s.list_cases(&by_user).await.unwrap()), vec![id2]);
    assert!(s
        .list_cases(&CaseFilter {
            limit: 10,
            ..Default::default()
        })
        .await
        .unwrap()
        .items
        .is_empty());

    // Filters and pagination.
    let county = vis_path(&nodes[2].path);
    let f = |g: &dyn Fn(&mut CaseFilter)| {
        let mut c = county.clone();
        g(&mut c);
        c
    };
    assert_eq!(
        ids(s
            .list_cases(&f(&|c| c.light = Some(Light::Red)))
            .await
            .unwrap()),
        vec![id2]
    );
    assert_eq!(
        ids(s
            .list_cases(&f(&|c| c.status = Some(Status::Registered)))
            .await
            .unwrap()),
        vec![id1]
    );
    assert_eq!(
        ids(s
            .list_cases(&f(&|c| c.unit_id = Some(unit_b)))
            .await
            .unwrap()),
        vec![id2]
    );
    assert_eq!(
        ids(s
            .list_cases(&f(&|c| c.node_path = Some(nodes[3].path.clone())))
            .await
            .unwrap()),
        vec![id1]
    );
    assert_eq!(
        ids(s
            .list_cases(&f(&|c| c.with_open_supervision = true))
            .await
            .unwrap()),
        vec![id2]
    );
    assert_eq!(
        ids(s
            .list_cases(&f(&|c| c.dispute_type = Some(DisputeType::Labour)))
            .await
            .unwrap()),
        Vec::<i64>::new()
    );
    assert_eq!(
        ids(s
            .list_cases(&f(&|c| c.channel = Some(Channel::CitizenWeb)))
            .await
            .unwrap())
        .len(),
        2
    );
    assert_eq!(
        ids(s
            .list_cases(&f(&|c| c.registered_from = Some(T0 + 1)))
            .await
            .unwrap()),
        Vec::<i64>::new()
    );
    assert_eq!(
        ids(s
            .list_cases(&f(&|c| c.registered_to = Some(T0 + 1)))
            .await
            .unwrap())
        .len(),
        2
    );
    let page1 = s.list_cases(&f(&|c| c.limit = 1)).await.unwrap();
    assert_eq!(
        (ids(page1.clone()), page1.next_before_id),
        (vec![id2], Some(id2))
    );
    let page2 = s
        .list_cases(&f(&|c| {
            c.limit = 1;
            c.before_id = Some(id2)
        }))
        .await
        .unwrap();
    assert_eq!(
        (ids(page2.clone()), page2.next_before_id),
        (vec![id1], None)
    );
    assert_eq!(s.count_cases(&county).await.unwrap(), 2);
    assert_eq!(
        s.count_cases(&f(&|c| c.light = Some(Light::Red)))
            .await
            .unwrap(),
        1
    );

    // Rebuilding: the state and its projections are replaced, the log is not.
    let mut wrong = st2d.clone();
    wrong.light = Light::Green;
    wrong.lead_unit_id = None;
    wrong.co_unit_ids.clear();
    s.replace_state(id2, 4, &wrong).await.unwrap();
    assert_eq!(s.get_case(id2).await.unwrap().unwrap().state, wrong);
    assert!(
        s.list_cases(&f(&|c| c.light = Some(Light::Red)))
            .await
            .unwrap()
            .items
            .is_empty(),
        "projection follows"
    );
    assert!(
        matches!(
            s.replace_state(id2, 3, &st2d).await,
            Err(StoreError::Conflict)
        ),
        "version must match the log"
    );
    s.replace_state(id2, 4, &st2d).await.unwrap();
    assert_eq!(
        ids(s
            .list_cases(&f(&|c| c.unit_id = Some(unit_a)))
            .await
            .unwrap()),
        vec![id2]
    );
    assert_eq!(s.case_events(id2).await.unwrap().len(), 4);

    let running = s.cases_with_deadline(0, 10).await.unwrap();
    assert_eq!(running.iter().map(|c| c.id).collect::<Vec<_>>(), vec![id2]);
    assert!(s.cases_with_deadline(id2, 10).await.unwrap().is_empty());
}

async fn bulk<S: Store>(s: &S, nodes: &[Jurisdiction]) {
    let before = s.count_cases(&vis_path("/")).await.unwrap();
    let batch: Vec<_> = (0..50)
        .map(|i| {
            let (st, ev) = registered(&nodes[5], &format!("FQBULK{i:04}"), None);
            let (st2, ev2) = next(
                &st,
                2,
                EventKind::NotAccepted {
                    reason: "不属于受理范围".into(),
                },
            );
            (st2, vec![ev, ev2])
        })
        .collect();
    s.bulk_insert_cases(&batch).await.unwrap();
    assert_eq!(s.count_cases(&vis_path("/")).await.unwrap(), before + 50);
    let c = s
        .find_case_by_tracking_code("FQBULK0049")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(c.version, 2);
    assert_eq!(
        replay(&s.case_events(c.id).await.unwrap()).unwrap(),
        c.state
    );
}

/// The statistics kept by every write equal the sum of the stored states' shares, and a
/// rebuild from scratch gives the same tables.
async fn statistics<S: Store>(s: &S) {
    let expected = crate::recount_stats(s).await.unwrap();
    let n = s.cases_after(0, 100_000).await.unwrap().len() as u64;
    assert!(n > 0 && !expected.rows.is_empty());
    let incremental = s.stats_totals().await.unwrap();
    assert_eq!(
        incremental, expected,
        "incremental statistics = sum of the states' shares"
    );
    assert_eq!(s.rebuild_stats().await.unwrap(), n);
    assert_eq!(
        s.stats_totals().await.unwrap(),
        expected,
        "rebuild = incremental"
    );
    // A query selects exactly the rows of its scopes, grain, period range and dimension.
    use fengqiao_domain::stats::Grain;
    let scopes: Vec<String> = {
        let mut all: Vec<String> = expected.rows.keys().map(|k| k.scope.clone()).collect();
        all.dedup();
        all.into_iter().take(3).collect()
    };
    for (grain, dim, from, to) in [
        (
            Grain::Month,
            crate::DimSel::Kind("t:"),
            "2000-01",
            "2999-12",
        ),
        (Grain::Month, crate::DimSel::Total, "2000-01", "2999-12"),
        (Grain::Day, crate::DimSel::Total, "2000-01-01", "2999-12-31"),
        (Grain::Open, crate::DimSel::Kind("s:"), "", ""),
        (Grain::Open, crate::DimSel::Kind("l:"), "", ""),
    ] {
        let q = crate::StatsQuery {
            scopes: scopes.clone(),
            grain,
            from: from.into(),
            to: to.into(),
            dim: dim.clone(),
        };
        let mut got = s.stats_rows(&q).await.unwrap();
        got.sort();
        let want: Vec<_> = expected
            .rows
            .iter()
            .filter(|(k, _)| {
                scopes.contains(&k.scope)
                    && k.grain == grain
                    && k.period.as_str() >= from
                    && k.period.as_str() <= to
                    && k.dim.starts_with(dim.prefix())
                    && (dim.prefix() != "" || k.dim.is_empty())
            })
            .map(|(k, v)| (k.clone(), *v))
            .collect();
        assert!(!want.is_empty(), "{grain:?} {dim:?} selects something");
        assert_eq!(got, want, "{grain:?} {dim:?}");
    }
}

async fn warnings<S: Store>(s: &S, nodes: &[Jurisdiction], unit_a: i64, user_a: i64) {
    use fengqiao_domain::warning::*;
    let day = chrono::NaiveDate::from_ymd_opt(2025, 3, 3).unwrap();
    let signal = |node: &Jurisdiction, level| Signal {
        key: format!("surge:{}:neighbourhood", node.code),
        kind: WarningKind::Surge,
        level,
        dispute_type: DisputeType::Neighbourhood,
        area_code: node.code.clone(),
        area_name: node.name.clone(),
        area_path: node.path.clone(),
        day,
        evidence: Evidence {
            method: "glm_scan".into(),
            observed: 9.0,
            expected: 2.5,
            p_value: 2e-5,
            recurrence_days: None,
            window_days: 3,
            series: vec![SeriesPoint {
                day,
                observed: 9.0,
                expected: Some(2.5),
            }],
            places: vec![node.code.clone()],
            case_ids: vec![1, 2],
        },
        unit_ids: vec![unit_a],
    };
    let town_a = &nodes[3];
    let town_b = &nodes[4];
    let wa = Warning::raise(signal(town_a, WarningLevel::Yellow), T0);
    let mut wb = Warning::raise(signal(town_b, WarningLevel::Red), T0);
    wb.unit_ids = vec![];
    let note = NewNotification {
        user_id: user_a,
        case_id: None,
        kind: "warning".into(),
        title: "预警".into(),
        body: "城关镇 邻里纠纷".into(),
    };
    let before = s.list_notifications(user_a, true, 100).await.unwrap().len();
    let ids = s
        .save_warnings(&[(wa.clone(), 0), (wb, 0)], &[note], T0)
        .await
        .unwrap();
    assert_eq!(ids.len(), 2);
    assert_eq!(
        s.list_notifications(user_a, true, 100).await.unwrap().len(),
        before + 1,
        "notified with it"
    );
    let mut got = s.get_warning(ids[0]).await.unwrap().expect("stored");
    assert_eq!(got.id, ids[0]);
    assert_eq!(got.evidence, wa.evidence, "evidence round-trips");
    // Visibility: a town's subtree sees its own; the unit sees what is assigned to it.
    let list = |scope: Option<&str>, unit: Option<i64>, live_only| WarningFilter {
        scope_path: scope.map(str::to_string),
        unit_id: unit,
        live_only,
        limit: 50,
        ..Default::default()
    };
    let ids_of = |v: Vec<Warning>| v.into_iter().map(|w| w.id).collect::<Vec<_>>();
    assert_eq!(
        ids_of(
            s.list_warnings(&list(Some(&town_a.path), None, false))
                .await
                .unwrap()
        ),
        vec![ids[0]]
    );
    assert_eq!(
        ids_of(
            s.list_warnings(&list(Some(&nodes[2].path), None, false))
                .await
                .unwrap()
        ),
        vec![ids[1], ids[0]]
    );
    assert_eq!(
        ids_of(
            s.list_warnings(&list(None, Some(unit_a), false))
                .await
                .unwrap()
        ),
        vec![ids[0]]
    );
    assert!(
        s.list_warnings(&list(None, None, false))
            .await
            .unwrap()
            .is_empty(),
        "no scope sees nothing"
    );
    // Optimistic update; a stale version is refused.
    let version = warning_version(&got);
    got.act(WarningAction::Acknowledge, user_a, "", T0 + 1)
        .unwrap();
    s.save_warnings(&[(got.clone(), version)], &[], T0 + 1)
        .await
        .unwrap();
    assert!(matches!(
        s.save_warnings(&[(got.clone(), version)], &[], T0 + 2)
            .await,
        Err(StoreError::Conflict)
    ));
    got.act(WarningAction::Close, user_a, "已化解", T0 + 3)
        .unwrap();
    s.save_warnings(&[(got.clone(), version + 1)], &[], T0 + 3)
        .await
        .unwrap();
    let live = ids_of(s.list_warnings(&list(Some("/"), None, true)).await.unwrap());
    assert_eq!(live, vec![ids[1]], "closed warnings are not live");
    let stored = s.get_warning(ids[0]).await.unwrap().unwrap();
    assert_eq!(stored.status, WarningStatus::Closed);
    assert_eq!(stored.log.len(), 3);
    // Day filter: overlap with the range.
    let mut f = list(Some("/"), None, false);
    f.from = Some(day + chrono::Duration::days(1));
    assert!(s.list_warnings(&f).await.unwrap().is_empty());
    f.from = Some(day);
    f.to = Some(day);
    assert_eq!(s.list_warnings(&f).await.unwrap().len(), 2);
}

/// Contacts, webhooks and the delivery queue: fan-out once, claims hide a delivery until
/// their lease ends, outcomes count attempts, a failed delivery can be retried.
async fn outbound<S: Store>(s: &S, user_a: i64) {
    use fengqiao_domain::outbound::*;
    let contact = Contact {
        email: Some("a@example.org".into()),
        phone: Some("13800138000".into()),
    };
    s.set_contact(user_a, &contact).await.unwrap();
    s.set_contact(user_a, &contact).await.expect("replace");
    assert_eq!(
        s.contacts(&[user_a, 999_999]).await.unwrap(),
        vec![(user_a, contact.clone())]
    );
    let hook = s
        .insert_webhook(
            &WebhookInput {
                url: "http://127.0.0.1:9/h".into(),
                secret: "0123456789abcdef".into(),
                kinds: vec!["summons".into(), "case_routed".into()],
            },
            10,
        )
        .await
        .unwrap();
    s.set_webhook_active(hook.id, false).await.unwrap();
    let listed = s.list_webhooks().await.unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].kinds, hook.kinds);
    assert_eq!(listed[0].secret, hook.secret);
    assert!(!listed[0].active);
    assert!(matches!(
        s.set_webhook_active(hook.id + 100, true).await,
        Err(StoreError::NotFound)
    ));

    // Notifications written before run here were fanned out by nobody yet.
    let before = s.notifications_to_fan_out(10_000).await.unwrap();
    let ids: Vec<i64> = before.iter().map(|n| n.id).collect();
    s.fan_out(&ids, &[], 20).await.unwrap();
    let note = NewNotification {
        user_id: user_a,
        case_id: None,
        kind: "summons".into(),
        title: "t".into(),
        body: "b".into(),
    };
    assert!(s
        .notify_once("outbound-test", "1", &[note], 30)
        .await
        .unwrap());
    let todo = s.notifications_to_fan_out(100).await.unwrap();
    assert_eq!(
        todo.len(),
        1,
        "only the new notification is left to fan out"
    );
    let n = &todo[0];
    let d = |medium, target: &str| NewDelivery {
        source: DeliverySource::Notification {
            notification_id: n.id,
        },
        medium,
        target: target.into(),
        payload: "{}".into(),
    };
    let plan = [d(Medium::Webhook, "1"), d(Medium::Email, "a@example.org")];
    s.fan_out(&[n.id], &plan, 40).await.unwrap();
    s.fan_out(&[n.id], &plan, 41)
        .await
        .expect("a repeat is ignored");
    assert!(s.notifications_to_fan_out(100).await.unwrap().is_empty());

    let claimed = s.claim_deliveries(50, 1_000, 10).await.unwrap();
    assert_eq!(claimed.len(), 2);
    assert!(claimed
        .iter()
        .all(|d| d.status == DeliveryStatus::Pending && d.attempts == 0));
    assert!(
        s.claim_deliveries(60, 1_000, 10).await.unwrap().is_empty(),
        "claimed deliveries are hidden until the lease ends"
    );
    let (a, b) = (&claimed[0], &claimed[1]);
    s.finish_delivery(a.id, &AttemptOutcome::Delivered { at: 70 })
        .await
        .unwrap();
    s.finish_delivery(
        b.id,
        &AttemptOutcome::Retry {
            error: "connection refused".into(),
            next_at: 2_000,
        },
    )
    .await
    .unwrap();
    assert!(s
        .claim_deliveries(1_500, 3_000, 10)
        .await
        .unwrap()
        .is_empty());
    let again = s.claim_deliveries(2_000, 3_000, 10).await.unwrap();
    assert_eq!(again.len(), 1);
    assert_eq!(again[0].attempts, 1);
    assert_eq!(again[0].last_error.as_deref(), Some("connection refused"));
    s.finish_delivery(
        b.id,
        &AttemptOutcome::GaveUp {
            error: "550".into(),
        },
    )
    .await
    .unwrap();
    let failed = s
        .list_deliveries(Some(DeliveryStatus::Failed), 10)
        .await
        .unwrap();
    assert_eq!(failed.len(), 1);
    assert_eq!((failed[0].id, failed[0].attempts), (b.id, 2));
    let all = s.list_deliveries(None, 10).await.unwrap();
    assert_eq!(all.len(), 2);
    assert_eq!(all[1].delivered_at, Some(70));
    let mut counts = s.delivery_counts().await.unwrap();
    counts.sort();
    assert_eq!(
        counts,
        vec![(DeliveryStatus::Delivered, 1), (DeliveryStatus::Failed, 1)]
    );
    assert!(matches!(
        s.retry_delivery(a.id, 80).await,
        Err(StoreError::NotFound)
    ));
    s.retry_delivery(b.id, 80).await.unwrap();
    assert_eq!(s.claim_deliveries(80, 100, 10).await.unwrap().len(), 1);
}

/// Every created or appended case event waits for the webhooks' fan-out; fanning out queues
/// the deliveries and empties the queue in one go. Source records are found by case.
async fn case_event_queue<S: Store>(s: &S, nodes: &[Jurisdiction]) {
    use fengqiao_domain::outbound::*;
    // Whatever earlier parts queued is fanned out to nobody.
    loop {
        let old = s.case_events_to_fan_out(1000).await.unwrap();
        if old.is_empty() {
            break;
        }
        let ids: Vec<i64> = old.iter().map(|q| q.id).collect();
        s.fan_out_case_events(&ids, &[], 1).await.unwrap();
    }
    let (st, ev) = registered(&nodes[5], "FQQUEUE001", None);
    let key = IdempotencyKey {
        scope: "channel:police".into(),
        key: "JQ-2025-0001".into(),
        body_hash: "h".into(),
    };
    let Created::New(id) = s.create_case(&st, &ev, Some(&key), None).await.unwrap() else {
        panic!("new")
    };
    let (st2, e2) = next(&st, 2, EventKind::NotAccepted { reason: "r".into() });
    s.append(Append {
        case_id: id,
        expected_version: 1,
        events: std::slice::from_ref(&e2),
        state: &st2,
        notifications: &[],
        blobs: &[],
        now: 5,
    })
    .await
    .unwrap();
    let queued = s.case_events_to_fan_out(10).await.unwrap();
    assert_eq!(
        queued
            .iter()
            .map(|q| (q.case_id, q.seq, q.action.as_str()))
            .collect::<Vec<_>>(),
        vec![(id, 1, "registered"), (id, 2, "not_accepted")]
    );
    let delivery = NewDelivery {
        source: DeliverySource::CaseEvent {
            case_id: id,
            seq: 2,
        },
        medium: Medium::Webhook,
        target: "1".into(),
        payload: "{}".into(),
    };
    let ids: Vec<i64> = queued.iter().map(|q| q.id).collect();
    s.fan_out_case_events(&ids, std::slice::from_ref(&delivery), 10)
        .await
        .unwrap();
    s.fan_out_case_events(&[], std::slice::from_ref(&delivery), 11)
        .await
        .expect("a repeat is ignored");
    assert!(s.case_events_to_fan_out(10).await.unwrap().is_empty());
    let listed: Vec<Delivery> = s
        .list_deliveries(Some(DeliveryStatus::Pending), 100)
        .await
        .unwrap()
        .into_iter()
        .filter(|d| d.source.event().is_some())
        .collect();
    assert_eq!(listed.len(), 1);
    assert_eq!(
        listed[0].source,
        DeliverySource::CaseEvent {
            case_id: id,
            seq: 2
        }
    );
    let sources = s.case_sources(&[id, id + 1000]).await.unwrap();
    assert_eq!(sources.len(), 1);
    assert_eq!(
        (
            sources[0].case_id,
            sources[0].channel.as_str(),
            sources[0].source_id.as_str()
        ),
        (id, "police", "JQ-2025-0001")
    );
}

/// Many registrations in one call: new keys create, a key used before or earlier in the call
/// answers the first case, a case without a key is always new; everything is readable after.
async fn many_at_once<S: Store>(s: &S, nodes: &[Jurisdiction]) {
    let key = |k: &str, h: &str| IdempotencyKey {
        scope: "channel:petition".into(),
        key: k.into(),
        body_hash: h.into(),
    };
    let (st0, ev0) = registered(&nodes[5], "FQMANY0000", None);
    let Created::New(before) = s
        .create_case(&st0, &ev0, Some(&key("XF-0", "h0")), None)
        .await
        .unwrap()
    else {
        panic!("new")
    };
    let item = |code: &str, k: Option<IdempotencyKey>| {
        let (state, event) = registered(&nodes[6], code, None);
        NewCaseWrite {
            state,
            event,
            idem: k,
        }
    };
    let items = vec![
        item("FQMANY0001", Some(key("XF-1", "h1"))),
        item("FQMANY0002", Some(key("XF-0", "other"))),
        item("FQMANY0003", None),
        item("FQMANY0004", Some(key("XF-1", "h1"))),
        item("FQMANY0005", Some(key("XF-2", "h2"))),
    ];
    let answers = s.create_cases(&items).await.unwrap();
    assert_eq!(answers.len(), 5);
    let Created::New(first) = answers[0] else {
        panic!("{answers:?}")
    };
    assert_eq!(
        answers[1],
        Created::Existing {
            id: before,
            same_body: false
        }
    );
    assert!(matches!(answers[2], Created::New(_)));
    assert_eq!(
        answers[3],
        Created::Existing {
            id: first,
            same_body: true
        }
    );
    let Created::New(last) = answers[4] else {
        panic!("{answers:?}")
    };
    for (code, id) in [("FQMANY0001", first), ("FQMANY0005", last)] {
        let c = s.find_case_by_tracking_code(code).await.unwrap().unwrap();
        assert_eq!((c.id, c.version), (id, 1));
        assert_eq!(s.case_events(id).await.unwrap().len(), 1);
    }
    assert!(s
        .find_case_by_tracking_code("FQMANY0002")
        .await
        .unwrap()
        .is_none());
    assert_eq!(
        s.find_idempotent_case("channel:petition", "XF-2")
            .await
            .unwrap(),
        Some(last)
    );
    assert_eq!(s.case_sources(&[last]).await.unwrap()[0].source_id, "XF-2");
    // The blind index of the parties' numbers finds the cases of one and the other write path,
    // however the number is written, within the filter's visibility; another number, none.
    let by_number = |path: &str, number: &str| CaseFilter {
        party_key: Some(s.sealer().blind(number)),
        ..vis_path(path)
    };
    let found: Vec<i64> = s
        .list_cases(&by_number(&nodes[0].path, "138 0013 8000"))
        .await
        .unwrap()
        .items
        .iter()
        .map(|c| c.id)
        .collect();
    for id in [before, first, last] {
        assert!(found.contains(&id), "{id} not in {found:?}");
    }
    let in_b: Vec<i64> = s
        .list_cases(&by_number(&nodes[6].path, "13800138000"))
        .await
        .unwrap()
        .items
        .iter()
        .map(|c| c.id)
        .collect();
    assert!(in_b.contains(&first) && !in_b.contains(&before), "{in_b:?}");
    assert_eq!(
        s.count_cases(&by_number(&nodes[0].path, "13800138001"))
            .await
            .unwrap(),
        0
    );
    // A tracking-code collision writes nothing… on a backend that writes all at once; either
    // way it is an error, and what was written can be recognised by its key.
    let clash = vec![
        item("FQMANY0006", Some(key("XF-6", "h"))),
        item("FQMANY0001", None),
    ];
    assert!(s.create_cases(&clash).await.is_err());
    // Many cases read at once: those that exist, in id order.
    let got = s.get_cases(&[last, 99_999, first, last]).await.unwrap();
    assert_eq!(
        got.iter().map(|c| c.id).collect::<Vec<_>>(),
        vec![first, last]
    );
    // Many appends: each answered on its own, two changes of one case chain, a stale or
    // missing case refuses only its own change.
    let link = |to: i64| EventKind::Linked {
        case_id: to,
        reason: "duplicate".into(),
    };
    let f = &got[0];
    let (f2, e2) = next(&f.state, 2, link(last));
    let (f3, e3) = next(&f2, 3, link(before));
    let (l2, le2) = next(&got[1].state, 2, link(first));
    fn one<'a>(
        case_id: i64,
        expected_version: i64,
        e: &'a CaseEvent,
        state: &'a CaseState,
    ) -> Append<'a> {
        Append {
            case_id,
            expected_version,
            events: std::slice::from_ref(e),
            state,
            notifications: &[],
            blobs: &[],
            now: T0 + 9000,
        }
    }
    let (e2s, e3s, le2s) = (e2.clone(), e3.clone(), le2.clone());
    let answers = s
        .append_many(&[
            one(first, 1, &e2s, &f2),
            one(last, 5, &le2s, &l2),
            one(first, 2, &e3s, &f3),
            one(99_999, 1, &le2s, &l2),
            one(last, 1, &le2s, &l2),
        ])
        .await
        .unwrap();
    assert!(answers[0].is_ok(), "{answers:?}");
    assert!(
        matches!(answers[1], Err(StoreError::Conflict)),
        "{answers:?}"
    );
    assert!(answers[2].is_ok(), "{answers:?}");
    assert!(
        matches!(answers[3], Err(StoreError::NotFound)),
        "{answers:?}"
    );
    assert!(answers[4].is_ok(), "{answers:?}");
    let f_now = s.get_case(first).await.unwrap().unwrap();
    assert_eq!((f_now.version, &f_now.state), (3, &f3));
    assert_eq!(
        s.case_events(first).await.unwrap(),
        vec![items[0].event.clone(), e2, e3]
    );
    let l_now = s.get_case(last).await.unwrap().unwrap();
    assert_eq!(
        (l_now.version, l_now.state.linked_case_ids.clone()),
        (2, vec![first])
    );
    // The statistics kept while writing many at once equal a recount from the cases.
    assert_eq!(
        s.stats_totals().await.unwrap(),
        crate::recount_stats(s).await.unwrap()
    );
}

async fn laws<S: Store>(s: &S) {
    use fengqiao_domain::law::LawArticle;
    assert!(s.law_articles().await.unwrap().is_empty());
    let art = |law: &str, label: &str, number: i64, text: &str| LawArticle {
        law: law.into(),
        label: label.into(),
        number,
        text: text.into(),
    };
    let first = vec![
        art("某法", "第十条", 1000, "旧文。"),
        art("某法", "第二条", 200, "乙。"),
        art("另法", "第一条", 100, "甲。"),
    ];
    assert_eq!(s.put_law_articles(&first, T0).await.unwrap(), 3);
    // A re-import replaces the text and counts only what is new.
    let again = vec![
        art("某法", "第十条", 1000, "新文。\n第二款。"),
        art("某法", "第十条之一", 1001, "丙。"),
    ];
    assert_eq!(s.put_law_articles(&again, T0 + 1).await.unwrap(), 1);
    let all = s.law_articles().await.unwrap();
    assert_eq!(
        all.iter()
            .map(|a| (a.law.as_str(), a.label.as_str()))
            .collect::<Vec<_>>(),
        vec![
            ("另法", "第一条"),
            ("某法", "第二条"),
            ("某法", "第十条"),
            ("某法", "第十条之一")
        ]
    );
    assert_eq!(all[2].text, "新文。\n第二款。");
}
