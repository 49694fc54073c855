//! Domain tests: data-driven tables for identifiers and the calendar, the access matrix, and
//! property tests of the workflow's invariants.
// Tests fail loudly: unwrapping is how they assert.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
use chrono::NaiveDate;
use fengqiao_domain::access::{authorize, can_view, Actor, Operation, Role, PUBLIC_CITIZEN};
use fengqiao_domain::calendar::WorkCalendar;
use fengqiao_domain::case::*;
use fengqiao_domain::deadline::DeadlineRules;
use fengqiao_domain::stats;
use fengqiao_domain::time::{local_instant, Millis};
use fengqiao_domain::validate::{mask_numbers_in_text, IdCardNumber, PhoneNumber};
use fengqiao_domain::workflow::*;
use proptest::prelude::*;

fn d(y: i32, m: u32, day: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, day).unwrap()
}

#[test]
fn numbers_inside_free_text_are_masked() {
    for (text, want) in [
        ("电话13812345678，请回电", "电话138****5678，请回电"),
        ("身份证11010519491231002X。", "身份证110***********002X。"),
        ("座机0571-88881234", "座机057******1234"),
        ("欠款35000元，3月5日", "欠款35000元，3月5日"),
        ("编号2024030512", "编号2024030512"),
        ("", ""),
    ] {
        let got = mask_numbers_in_text(text);
        assert_eq!(got, want, "{text}");
        assert_eq!(got.chars().count(), text.chars().count(), "{text}");
    }
}

#[test]
fn id_card_numbers() {
    for (input, ok) in [
        ("11010519491231002X", true),
        ("11010519491231002x", true), // lower-case x is accepted and normalised
        ("110105194912310021", false), // wrong check digit
        ("11010519491331002X", false), // month 13
        ("1101051949123100", false),  // too short
        ("11010519491231002Y", false),
        ("１１０１０５１９４９１２３１００２Ｘ", false), // full-width digits
    ] {
        assert_eq!(IdCardNumber::parse(input).is_ok(), ok, "{input}");
    }
    assert_eq!(
        IdCardNumber::parse("11010519491231002x").unwrap().as_str(),
        "11010519491231002X"
    );
    assert_eq!(
        IdCardNumber::parse("11010519491231002X").unwrap().masked(),
        "1101**********002X"
    );
    assert_eq!(IdCardNumber::check_char("11010519491231002"), Some('X'));
}

#[test]
fn phone_numbers() {
    for (input, norm) in [
        ("13800138000", Some("13800138000")),
        ("138-0013-8000", Some("13800138000")),
        ("+86 138 0013 8000", Some("13800138000")),
        ("8613800138000", Some("13800138000")),
        ("0571-87654321", Some("057187654321")),
        ("12800138000", None), // no such mobile prefix
        ("1380013800", None),
        ("abc", None),
        ("", None),
    ] {
        assert_eq!(
            PhoneNumber::parse(input)
                .ok()
                .map(|p| p.as_str().to_string())
                .as_deref(),
            norm,
            "{input}"
        );
    }
    assert_eq!(
        PhoneNumber::parse("13800138000").unwrap().masked(),
        "138****8000"
    );
    assert_eq!(
        format!("{:?}", PhoneNumber::parse("13800138000").unwrap()),
        "PhoneNumber(138****8000)",
        "Debug never leaks"
    );
}

#[test]
fn working_days_follow_holidays_and_make_up_days() {
    let cal = WorkCalendar::china();
    for (date, working) in [
        (d(2025, 10, 1), false), // National Day
        (d(2025, 10, 8), false),
        (d(2025, 9, 28), true),  // Sunday make-up workday
        (d(2025, 10, 11), true), // Saturday make-up workday
        (d(2026, 2, 14), true),  // Saturday before the 2026 Spring Festival
        (d(2026, 2, 16), false),
        (d(2026, 1, 4), true),
        (d(2024, 2, 18), true),
        (d(2024, 5, 6), true),
        (d(2025, 3, 8), false), // ordinary Saturday
    ] {
        assert_eq!(cal.is_working_day(date), working, "{date}");
    }
    for (start, n, due) in [
        (d(2025, 3, 3), 3, d(2025, 3, 6)),    // Monday + 3
        (d(2025, 3, 6), 3, d(2025, 3, 11)),   // over a weekend
        (d(2025, 9, 30), 3, d(2025, 10, 11)), // over National Day to the make-up Saturday
        (d(2026, 2, 13), 1, d(2026, 2, 14)),  // Friday → make-up Saturday
        (d(2026, 2, 14), 1, d(2026, 2, 24)),  // across the 2026 Spring Festival
        (d(2025, 3, 3), 20, d(2025, 3, 31)),
    ] {
        assert_eq!(cal.add_working_days(start, n), due, "{start} + {n}");
        assert_eq!(cal.working_days_between(start, due), n);
    }
}

#[test]
fn lights_turn_yellow_then_red() {
    let cal = WorkCalendar::china();
    let rules = DeadlineRules::default();
    let due = d(2025, 3, 6); // Thursday
    for (date, hour, complexity, light) in [
        (d(2025, 3, 3), 9, Complexity::Simple, Light::Green),
        (d(2025, 3, 4), 9, Complexity::Simple, Light::Green),
        (d(2025, 3, 5), 9, Complexity::Simple, Light::Yellow),
        (d(2025, 3, 6), 23, Complexity::Simple, Light::Yellow),
        (d(2025, 3, 7), 0, Complexity::Simple, Light::Red),
        (d(2025, 3, 3), 9, Complexity::Complex, Light::Yellow), // 3 left ≤ 3
    ] {
        assert_eq!(
            rules.light(&cal, complexity, due, local_instant(date, hour, 0)),
            light,
            "{date} {hour}h"
        );
    }
}

#[test]
fn the_access_matrix() {
    use Operation as O;
    let oracle: &[(Role, &[O])] = &[
        (
            Role::Leader,
            &[
                O::ReadCase,
                O::ApproveExport,
                O::ViewStatistics,
                O::ViewWarnings,
                O::CloseWarning,
                O::SummonUnits,
            ],
        ),
        (
            Role::Citizen,
            &[
                O::CreateCase,
                O::ReadCase,
                O::Evaluate,
                O::AddAttachment,
                O::TakePartInRoom,
            ],
        ),
    ];
    for (role, allowed) in oracle {
        for op in Operation::ALL {
            assert_eq!(role.permits(*op), allowed.contains(op), "{role:?} {op:?}");
        }
    }
    for role in Role::ALL {
        // Citizens, grid workers, mediators and experts see no area warnings.
        assert_eq!(
            role.permits(O::ViewWarnings),
            !matches!(
                role,
                Role::Citizen | Role::GridWorker | Role::Mediator | Role::Expert
            ),
            "{role:?}"
        );
        assert_eq!(
            role.permits(O::RunWarnings),
            matches!(role, Role::Supervisor | Role::Admin),
            "{role:?}"
        );
        assert_eq!(
            role.permits(O::ManageReference),
            *role == Role::Admin,
            "{role:?}"
        );
        assert_eq!(
            role.permits(O::RouteCase),
            *role == Role::Dispatcher,
            "{role:?}"
        );
        // Experts are brought into a case by the centre and the units handling it.
        assert_eq!(
            role.permits(O::AssignExpert),
            matches!(
                role,
                Role::Dispatcher
                    | Role::Supervisor
                    | Role::UnitHandler
                    | Role::UnitLeader
                    | Role::Mediator
            ),
            "{role:?}"
        );
        // The second person of an unmasked export: supervisors and leaders only.
        assert_eq!(
            role.permits(O::ApproveExport),
            matches!(role, Role::Supervisor | Role::Leader),
            "{role:?}"
        );
    }
}

const T0: Millis = 1_740_963_600_000; // 2025-03-03 09:00 CST

fn registered_case(path: &str) -> (CaseState, CaseEvent) {
    let nc = NewCase {
        channel: Channel::WalkIn,
        text: "邻里纠纷".into(),
        parties: vec![Party {
            name: "张建国".into(),
            role: PartyRole::Applicant,
            id_number: None,
            phone: Some(PhoneNumber::parse("13800138000").unwrap()),
            address: None,
        }],
        dispute_type: DisputeType::Neighbourhood,
        subtype: None,
        location: Location {
            node_code: "990102001001".into(),
            node_path: path.into(),
            address: None,
            coordinates: None,
        },
        occurred_at: None,
        complexity: Complexity::Simple,
        risk_level: RiskLevel::Low,
        amount_fen: None,
        people_involved: None,
    };
    let e = CaseEvent {
        seq: 1,
        at: T0,
        actor_id: Some(1),
        kind: register(nc, "ABC".into(), Some(1)).unwrap(),
    };
    (apply(None, &e).unwrap(), e)
}

const TOWN_A: &str = "/990000/990100/990102/990102001/";
const VILLAGE: &str = "/990000/990100/990102/990102001/990102001001/";

fn actors() -> Vec<Actor> {
    let a = |id, role, scope: &str, unit| Actor {
        user_id: id,
        role,
        scope_path: scope.into(),
        unit_id: unit,
    };
    vec![
        a(1, Role::Dispatcher, "/990000/990100/990102/", None),
        a(2, Role::UnitHandler, TOWN_A, Some(10)),
        a(3, Role::UnitLeader, TOWN_A, Some(10)),
        a(4, Role::Supervisor, "/990000/990100/990102/", None),
        a(
            5,
            Role::UnitHandler,
            "/990000/990100/990102/990102002/",
            Some(20),
        ),
        a(PUBLIC_CITIZEN, Role::Citizen, "", None),
        Actor::system(),
        a(7, Role::Expert, "/990000/990100/990102/", None),
        Actor::room_party(0),
    ]
}

/// Mostly actors who may act (system, dispatcher, the lead unit, the citizen), some who may not.
fn actor_index() -> impl Strategy<Value = usize> {
    prop_oneof![3 => Just(6usize), 2 => Just(0usize), 2 => Just(2usize), 1 => 0usize..9]
}

fn command() -> impl Strategy<Value = Command> {
    prop_oneof![
        Just(Command::Route {
            lead_unit_id: 10,
            co_unit_ids: vec![]
        }),
        Just(Command::Route {
            lead_unit_id: 20,
            co_unit_ids: vec![10]
        }),
        Just(Command::Accept),
        Just(Command::Return {
            reason: "不属本单位".into()
        }),
        Just(Command::StartMediation),
        Just(Command::RecordSession(MediationSession {
            date: d(2025, 3, 4),
            mediator: "调解员".into(),
            place: None,
            online: false,
            participants: vec![],
            notes: String::new(),
        })),
        Just(Command::Conclude {
            outcome: Outcome::Agreement {
                agreement: "协议".into()
            }
        }),
        Just(Command::Conclude {
            outcome: Outcome::Withdrawn {
                note: String::new()
            }
        }),
        Just(Command::GiveFeedback {
            text: "已办结".into()
        }),
        (1u8..=6).prop_map(|s| Command::Evaluate {
            satisfaction: s,
            comment: None
        }),
        Just(Command::Archive),
        Just(Command::Reopen {
            reason: "未履行".into(),
            complaint_case_id: Some(2)
        }),
        Just(Command::Reject {
            reason: "不受理".into()
        }),
        Just(Command::OpenSupervision {
            reason: "督办".into()
        }),
        (1u32..3).prop_map(|no| Command::ReplySupervision {
            no,
            reply: "已办".into()
        }),
        (0u32..30).prop_map(|n| Command::RequestExtension {
            working_days: n,
            reason: "勘查".into()
        }),
        Just(Command::ApproveExtension),
        Just(Command::RejectExtension {
            reason: "不同意".into()
        }),
        Just(Command::RefreshLight),
        Just(Command::Edit(CaseEdit {
            complexity: Some(Complexity::Complex),
            ..CaseEdit::default()
        })),
        Just(Command::Merge {
            into_case_id: 7,
            reason: "重复".into()
        }),
        Just(Command::Unmerge {
            reason: "并错".into()
        }),
        (6i64..8).prop_map(|c| Command::Link {
            case_id: c,
            reason: "同一纠纷".into()
        }),
        (6i64..8).prop_map(|c| Command::Unlink {
            case_id: c,
            reason: "不是同一纠纷".into()
        }),
        (7i64..9).prop_map(|u| Command::AddExpert {
            user_id: u,
            question: "能否调解？".into()
        }),
        (7i64..9).prop_map(|u| Command::RemoveExpert { user_id: u }),
        (0usize..2).prop_map(|i| Command::InviteParty {
            party_index: i,
            phone: None
        }),
        Just(Command::SendRoomCode { party_index: 0 }),
        Just(Command::JoinRoom { party_index: 0 }),
        (1u32..3, proptest::option::of(0usize..2)).prop_map(|(no, party)| Command::JoinVideo {
            no,
            party_index: party,
            user_id: if party.is_none() { Some(2) } else { None },
        }),
        (1u32..3, 1u32..40).prop_map(|(no, joined_seq)| Command::LeaveVideo { no, joined_seq }),
        Just(Command::PostMessage {
            text: "我同意调解".into(),
            attachment_ids: vec![]
        }),
        (0i64..10).prop_map(|h| Command::ScheduleSession {
            at: T0 + h * 12 * 3_600_000,
            online: true,
            place: None,
            note: String::new()
        }),
        Just(Command::AddParty(Party {
            name: "李明".into(),
            role: PartyRole::Respondent,
            id_number: None,
            phone: None,
            address: None,
        })),
        Just(Command::AnswerConsultation {
            answer: "可以调解".into()
        }),
        (1u32..3).prop_map(|no| Command::CancelSession {
            no,
            reason: "改期".into()
        }),
    ]
}

/// The time between two commands: days apart, or within the hour (a session's video).
fn pace() -> impl Strategy<Value = i64> {
    prop_oneof![0i64..(4 * 86_400_000), 0i64..3_600_000]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1000))]
    /// Any sequence of commands, by any actor, at any pace, keeps the invariants.
    #[test]
    fn workflow_invariants(steps in proptest::collection::vec((actor_index(), command(), pace()), 1..60)) {
        let cal = WorkCalendar::china();
        let rules = DeadlineRules::default();
        let actors = actors();
        let (mut state, first) = registered_case(VILLAGE);
        let mut events = vec![first];
        let mut now = T0;
        // The statistics as a store keeps them: the new case's share, then each change's delta.
        let mut totals = stats::delta(None, &state);
        for (who, cmd, dt) in steps {
            now += dt;
            let actor = &actors[who];
            let before = state.clone();
            let ctx = Context { actor, now, calendar: &cal, rules: &rules };
            let Ok(kinds) = decide(&state, &cmd, &ctx) else {
                continue;
            };
            let logged = events.len();
            // Whoever acted was allowed to see the case.
            prop_assert!(can_view(actor, &before));
            for kind in kinds {
                let e = CaseEvent { seq: events.len() as u32 + 1, at: now, actor_id: Some(actor.user_id), kind };
                state = apply(Some(state), &e).unwrap();
                events.push(e);
            }
            // The log replays to the state.
            prop_assert_eq!(&replay(&events).unwrap(), &state);
            // Incremental statistics equal the state's share computed from scratch (what a
            // rebuild sums): an open case is counted once among the open ones, a closed one not.
            totals.merge(&stats::delta(Some(&before), &state));
            prop_assert_eq!(&totals, &stats::delta(None, &state));
            prop_assert_eq!(roll(&totals, "990102", stats::Grain::Open, ""), i64::from(state.status.is_open()));
            prop_assert!(totals.rows.values().all(|v| *v > 0));
            // Every level holds the same totals (the village rolls up into the county).
            let count = |m: stats::Metric| month_total(&totals, "990102", m);
            for m in stats::Metric::ALL {
                prop_assert_eq!(month_total(&totals, "990102001001", m), count(m));
            }
            prop_assert!(count(stats::Metric::Concluded) <= 1 && count(stats::Metric::Resolved) <= count(stats::Metric::Concluded));
            prop_assert!(count(stats::Metric::MediationSuccess) <= count(stats::Metric::Mediated));
            // Each expert is on the case once; the expert of the area sees the case exactly
            // while on it.
            let mut experts = state.expert_ids.clone();
            experts.sort_unstable();
            experts.dedup();
            prop_assert_eq!(experts.len(), state.expert_ids.len());
            prop_assert_eq!(can_view(&actors[7], &state), state.expert_ids.contains(&7));
            // A concluded case has an outcome.
            if matches!(state.status, Status::Concluded | Status::FeedbackGiven | Status::Evaluated) {
                prop_assert!(state.outcome.is_some());
            }
            // Evaluations are 1–5.
            if let Some(ev) = &state.evaluation {
                prop_assert!((1..=5).contains(&ev.satisfaction));
            }
            // Within one stage, a deadline never moves backwards.
            if let (Some(b), Some(a)) = (&before.deadline, &state.deadline) {
                if a.stage == b.stage && a.started == b.started {
                    prop_assert!(a.due >= b.due, "{:?} -> {:?}", b.due, a.due);
                }
            }
            // A merged case knows where it went; only a merged case keeps a deadline aside.
            prop_assert_eq!(state.merged_into.is_some(), state.status == Status::Merged);
            if state.status != Status::Merged {
                prop_assert!(state.deadline_before_merge.is_none());
            }
            // An undone merge puts the case back as it was merged from.
            if let Some(EventKind::Unmerged { case_id, .. }) = events.last().map(|e| &e.kind) {
                let merged_at = events.iter().rposition(|e| matches!(e.kind, EventKind::MergedInto { .. })).unwrap();
                let as_merged = replay(&events[..merged_at]).unwrap();
                prop_assert_eq!(state.status, as_merged.status);
                prop_assert_eq!(&state.deadline, &as_merged.deadline);
                prop_assert!(!state.linked_case_ids.contains(case_id));
            }
            // No clock runs on closed cases; a running clock has a light.
            if !state.status.is_open() {
                prop_assert!(state.deadline.is_none() && state.light == Light::None);
            }
            if state.deadline.is_some() {
                prop_assert!(state.light != Light::None);
            }
            // Unit work is done by the lead unit (judged on this step's events: a command
            // that changes nothing, like a repeated link, leaves the last event another's).
            if let Some(last) = events.last().filter(|_| events.len() > logged) {
                if matches!(last.kind, EventKind::Accepted | EventKind::Concluded { .. }) && !actor.is_system() {
                    prop_assert_eq!(actor.unit_id, state.lead_unit_id);
                }
            }
            // The room: its codes and joins come from the application only; a party writes
            // only after joining; the room is written to only in mediation; a session is
            // reminded at most once; one invitation per party.
            for e in &events[logged..] {
                match &e.kind {
                    EventKind::RoomCodeSent { .. } | EventKind::PartyJoined { .. } => prop_assert!(actor.is_system()),
                    EventKind::MessagePosted { party_index, .. } => {
                        prop_assert_eq!(*party_index, actor.room_party_index());
                        if let Some(i) = party_index {
                            prop_assert!(before.room.invitation(*i).and_then(|x| x.joined_seq).is_some());
                        }
                        prop_assert_eq!(before.status, Status::InMediation);
                    }
                    EventKind::PartyInvited { .. } | EventKind::SessionScheduled { .. } => {
                        prop_assert_eq!(before.status, Status::InMediation);
                    }
                    // Video attendance is recorded by the application, for an online session
                    // open now, while in mediation; a leaving ends an attendance still open.
                    EventKind::VideoJoined { no, .. } => {
                        prop_assert!(actor.is_system());
                        prop_assert_eq!(before.status, Status::InMediation);
                        prop_assert!(before.room.sessions.iter().any(|x| x.no == *no && x.video_open(now)));
                    }
                    EventKind::VideoLeft { no, joined_seq } => {
                        prop_assert!(actor.is_system());
                        let open = before.room.sessions.iter().filter(|x| x.no == *no).flat_map(|x| &x.attendance).any(|a| a.joined_seq == *joined_seq && a.left_at.is_none());
                        prop_assert!(open);
                    }
                    _ => {}
                }
            }
            for x in &state.room.sessions {
                let is_reminder = |e: &CaseEvent| matches!(e.kind, EventKind::SessionReminded { no } if no == x.no);
                let reminded = events.iter().filter(|e| is_reminder(e)).count();
                prop_assert!(reminded <= 1);
            }
            prop_assert!(state.room.invitations.len() <= state.parties.len());
            for a in state.room.sessions.iter().flat_map(|x| &x.attendance) {
                prop_assert!(a.party_index.is_some() != a.user_id.is_some());
                prop_assert!(a.left_at.is_none_or(|l| l >= a.joined_at));
            }
            // Only an expert on the case answers a consultation, and only one put to them.
            if events[logged..].iter().any(|e| matches!(e.kind, EventKind::ConsultationAnswered { .. })) {
                prop_assert!(before.expert_ids.contains(&actor.user_id));
                prop_assert!(before.consultations.iter().any(|c| c.expert_id == actor.user_id));
            }
            // A plain citizen never writes in a room.
            if actor.user_id == PUBLIC_CITIZEN {
                let wrote = events[logged..].iter().any(|e| matches!(e.kind, EventKind::MessagePosted { .. }));
                prop_assert!(!wrote);
            }
            // The other town's unit never acts unless the case is routed to it.
            if actor.user_id == 5 {
                prop_assert!(before.involves_unit(20));
            }
        }
    }
}

/// What happens in a case's room once it is in mediation, by whoever tries.
fn room_command() -> impl Strategy<Value = Command> {
    prop_oneof![
        4 => Just(Command::InviteParty {
            party_index: 0,
            phone: None
        }),
        4 => Just(Command::SendRoomCode { party_index: 0 }),
        4 => Just(Command::JoinRoom { party_index: 0 }),
        4 => Just(Command::PostMessage {
            text: "我同意调解".into(),
            attachment_ids: vec![]
        }),
        8 => (1i64..24).prop_map(|k| Command::ScheduleSession {
            at: T0 + k * 20 * 60_000,
            online: k % 5 != 0,
            place: Some("司法所".into()),
            note: String::new()
        }),
        1 => (1u32..4).prop_map(|no| Command::CancelSession {
            no,
            reason: "改期".into()
        }),
        12 => (1u32..4, proptest::option::of(0usize..2), 1i64..8).prop_map(|(no, party, user)| {
            Command::JoinVideo {
                no,
                party_index: party,
                user_id: if party.is_none() { Some(user) } else { None },
            }
        }),
        // `joined_seq` here picks one of the session's attendances (see the test).
        12 => (1u32..4, 0u32..8).prop_map(|(no, joined_seq)| Command::LeaveVideo { no, joined_seq }),
        1 => Just(Command::Conclude {
            outcome: Outcome::Withdrawn {
                note: String::new()
            }
        }),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]
    /// In the room of a case in mediation, any sequence of room commands by anyone keeps the
    /// room's rules: codes, joins and video attendance come from the application only; a party
    /// writes after joining; video is joined only while an online session's window is open;
    /// every leaving ends one attendance that was open, after it began.
    #[test]
    fn room_invariants(steps in proptest::collection::vec((prop_oneof![3 => Just(0usize), 2 => 1usize..5], room_command(), prop_oneof![4 => 0i64..1_800_000, 1 => 0i64..(6 * 3_600_000)]), 1..60)) {
        let cal = WorkCalendar::china();
        let rules = DeadlineRules::default();
        let everyone = actors();
        let people = [Actor::system(), everyone[1].clone(), Actor::room_party(0), everyone[7].clone(), everyone[4].clone()];
        let (mut state, first) = registered_case(VILLAGE);
        let mut events = vec![first];
        let mut now = T0;
        let start = [
            (Actor::system(), Command::Route { lead_unit_id: 10, co_unit_ids: vec![] }),
            (everyone[1].clone(), Command::Accept),
            (everyone[1].clone(), Command::StartMediation),
        ];
        for (actor, cmd) in &start {
            let ctx = Context { actor, now, calendar: &cal, rules: &rules };
            for kind in decide(&state, cmd, &ctx).unwrap() {
                let e = CaseEvent { seq: events.len() as u32 + 1, at: now, actor_id: Some(actor.user_id), kind };
                state = apply(Some(state), &e).unwrap();
                events.push(e);
            }
        }
        prop_assert_eq!(state.status, Status::InMediation);
        for (who, cmd, dt) in &steps {
            now += dt;
            let actor = &people[*who];
            let before = state.clone();
            let ctx = Context { actor, now, calendar: &cal, rules: &rules };
            // A leaving names one of the session's attendances, open or already ended.
            let cmd = match cmd {
                Command::LeaveVideo { no, joined_seq } => {
                    let seqs: Vec<u32> = state.room.sessions.iter().filter(|x| x.no == *no).flat_map(|x| &x.attendance).map(|a| a.joined_seq).collect();
                    let pick = if seqs.is_empty() { *joined_seq } else { seqs[*joined_seq as usize % seqs.len()] };
                    Command::LeaveVideo { no: *no, joined_seq: pick }
                }
                other => other.clone(),
            };
            let Ok(kinds) = decide(&state, &cmd, &ctx) else {
                continue;
            };
            for kind in kinds {
                let e = CaseEvent { seq: events.len() as u32 + 1, at: now, actor_id: Some(actor.user_id), kind };
                match &e.kind {
                    EventKind::RoomCodeSent { .. } | EventKind::PartyJoined { .. } => prop_assert!(actor.is_system()),
                    EventKind::MessagePosted { party_index: Some(i), .. } => {
                        prop_assert!(before.room.invitation(*i).and_then(|x| x.joined_seq).is_some());
                    }
                    EventKind::VideoJoined { no, party_index, user_id } => {
                        prop_assert!(actor.is_system());
                        prop_assert_eq!(before.status, Status::InMediation);
                        prop_assert!(party_index.is_some() != user_id.is_some());
                        prop_assert!(before.room.sessions.iter().any(|x| x.no == *no && x.online && x.cancelled.is_none() && x.video_open(now)));
                    }
                    EventKind::VideoLeft { no, joined_seq } => {
                        prop_assert!(actor.is_system());
                        let open = before.room.sessions.iter().filter(|x| x.no == *no).flat_map(|x| &x.attendance).any(|a| a.joined_seq == *joined_seq && a.left_at.is_none());
                        prop_assert!(open);
                    }
                    _ => {}
                }
                state = apply(Some(state), &e).unwrap();
                events.push(e);
            }
            prop_assert_eq!(&replay(&events).unwrap(), &state);
            for x in &state.room.sessions {
                for a in &x.attendance {
                    prop_assert!(a.left_at.is_none_or(|l| l >= a.joined_at));
                    let joined = events.iter().filter(|e| e.seq == a.joined_seq && matches!(e.kind, EventKind::VideoJoined { no, .. } if no == x.no)).count();
                    prop_assert_eq!(joined, 1);
                    let left = events.iter().filter(|e| matches!(e.kind, EventKind::VideoLeft { no, joined_seq } if no == x.no && joined_seq == a.joined_seq)).count();
                    prop_assert_eq!(left, usize::from(a.left_at.is_some()));
                }
            }
        }
    }
}

#[test]
fn out_of_scope_staff_are_refused() {
    let (state, _) = registered_case(VILLAGE);
    let other = Actor {
        user_id: 9,
        role: Role::Dispatcher,
        scope_path: "/990000/990100/990102/990102002/".into(),
        unit_id: None,
    };
    assert!(!can_view(&other, &state));
    assert!(authorize(&other, Operation::RouteCase, &state).is_err());
    let cal = WorkCalendar::china();
    let rules = DeadlineRules::default();
    let ctx = Context {
        actor: &other,
        now: T0,
        calendar: &cal,
        rules: &rules,
    };
    assert_eq!(
        decide(
            &state,
            &Command::Route {
                lead_unit_id: 1,
                co_unit_ids: vec![]
            },
            &ctx
        )
        .unwrap_err()
        .code(),
        "forbidden"
    );
}

#[test]
fn json_names_are_the_codes() {
    for c in Channel::ALL {
        assert_eq!(
            serde_json::to_value(c).unwrap(),
            serde_json::json!(c.as_str())
        );
        assert_eq!(Channel::parse(c.as_str()), Some(*c));
    }
    for t in DisputeType::ALL {
        assert_eq!(
            serde_json::to_value(t).unwrap(),
            serde_json::json!(t.as_str())
        );
    }
    for r in Role::ALL {
        assert_eq!(
            serde_json::to_value(r).unwrap(),
            serde_json::json!(r.as_str())
        );
    }
    assert_eq!(DisputeType::ALL.len(), 15);
}

#[test]
fn a_case_counts_on_the_days_things_happened() {
    use stats::Metric::*;
    const DAY: i64 = 86_400_000;
    let (mut s, _) = registered_case(VILLAGE);
    let registered = stats::contribution(&s);
    assert_eq!(registered.flows.len(), 1);
    assert_eq!(registered.flows[0].0.metric, Registered);
    assert_eq!(registered.flows[0].0.day, d(2025, 3, 3));
    assert_eq!(registered.flows[0].0.unit_id, 0);
    assert_eq!(registered.open.as_ref().unwrap().status, Status::Registered);

    // Routed to unit 7 and accepted the next day, mediated, agreed on day 5 (handling 3 days),
    // went overdue on day 4, rated 4 on day 7, archived on day 8.
    s.status = Status::Archived;
    s.lead_unit_id = Some(7);
    s.accepted_at = Some(T0 + DAY);
    s.sessions.push(MediationSession {
        date: d(2025, 3, 5),
        mediator: "调解员".into(),
        place: None,
        online: false,
        participants: vec![],
        notes: String::new(),
    });
    s.outcome = Some(Outcome::Agreement {
        agreement: "双方和解".into(),
    });
    s.concluded_at = Some(T0 + 4 * DAY);
    s.supervisions.push(Supervision {
        no: 1,
        reason: "超期".into(),
        automatic: true,
        opened_at: T0 + 3 * DAY,
        opened_by: None,
        reply_due: d(2025, 3, 7),
        reply: None,
        replied_at: None,
        replied_by: None,
        escalations: 0,
        next_escalation: None,
    });
    s.evaluation = Some(Evaluation {
        satisfaction: 4,
        comment: None,
        by_revisit: false,
        at: T0 + 6 * DAY,
    });
    s.archived_at = Some(T0 + 7 * DAY);
    s.light = Light::None;
    let c = stats::contribution(&s);
    assert!(c.open.is_none(), "an archived case is not open");
    let got: Vec<(NaiveDate, stats::Metric, i64)> = c
        .flows
        .iter()
        .map(|(k, v)| {
            assert_eq!(k.unit_id, 7);
            assert_eq!(k.node_path, VILLAGE);
            (k.day, k.metric, *v)
        })
        .collect();
    assert_eq!(
        got,
        vec![
            (d(2025, 3, 3), Registered, 1),
            (d(2025, 3, 4), Accepted, 1),
            (d(2025, 3, 7), Concluded, 1),
            (d(2025, 3, 7), Resolved, 1),
            (d(2025, 3, 7), Mediated, 1),
            (d(2025, 3, 7), MediationSuccess, 1),
            (d(2025, 3, 7), Handled, 1),
            (d(2025, 3, 7), HandlingDays, 3),
            (d(2025, 3, 6), Overtime, 1),
            (d(2025, 3, 9), Rated, 1),
            (d(2025, 3, 9), SatisfactionSum, 4),
            (d(2025, 3, 9), Satisfied, 1),
            (d(2025, 3, 10), Archived, 1),
        ]
    );
    // The change from registration to archive: the registration moves to unit 7, the open row
    // goes away.
    let delta = stats::delta(Some(&registered_case(VILLAGE).0), &s);
    assert_eq!(roll(&delta, "990102001", stats::Grain::Open, ""), -1);
    let unit = stats::unit_scope(7);
    let mut after = stats::Delta::default();
    after.add(&s, 1);
    assert_eq!(
        roll(&after, &unit, stats::Grain::Month, "2025-03"),
        1,
        "registered"
    );
    assert_eq!(
        after.get(&key(
            "990102",
            stats::Grain::Day,
            "2025-03-07",
            "",
            "concluded"
        )),
        1
    );
    assert_eq!(
        after.get(&key(
            "990102001001",
            stats::Grain::Month,
            "2025-03",
            "t:neighbourhood",
            "registered"
        )),
        1
    );
    assert_eq!(
        after.get(&key(
            "990100",
            stats::Grain::Month,
            "2025-03",
            "c:walk_in",
            "handling_days"
        )),
        3
    );
    // Grids are not rolled up; every place level and the unit are.
    let scopes: std::collections::BTreeSet<&str> =
        after.rows.keys().map(|k| k.scope.as_str()).collect();
    assert_eq!(
        scopes.into_iter().collect::<Vec<_>>(),
        [
            "990000",
            "990100",
            "990102",
            "990102001",
            "990102001001",
            "u:7"
        ]
    );
    // A merged duplicate counts nowhere.
    let (mut m, _) = registered_case(VILLAGE);
    m.status = Status::Merged;
    assert_eq!(stats::contribution(&m), stats::Contribution::default());
    assert!(stats::Metric::ALL
        .iter()
        .all(|x| stats::Metric::parse(x.as_str()) == Some(*x)));
}

fn key(scope: &str, grain: stats::Grain, period: &str, dim: &str, metric: &str) -> stats::RollKey {
    stats::RollKey {
        scope: scope.into(),
        grain,
        period: period.into(),
        dim: dim.into(),
        metric: metric.into(),
    }
}

/// The value of a roll-up total (`registered` for flows, `open` for open rows).
fn roll(d: &stats::Delta, scope: &str, grain: stats::Grain, period: &str) -> i64 {
    let metric = if grain == stats::Grain::Open {
        stats::OPEN
    } else {
        "registered"
    };
    d.get(&key(scope, grain, period, "", metric))
}

/// A metric summed over every month of a scope.
fn month_total(d: &stats::Delta, scope: &str, m: stats::Metric) -> i64 {
    d.rows
        .iter()
        .filter(|(k, _)| {
            k.scope == scope
                && k.grain == stats::Grain::Month
                && k.dim.is_empty()
                && k.metric == m.as_str()
        })
        .map(|(_, v)| *v)
        .sum()
}

#[test]
fn the_fengqiao_index_combines_the_indicators_it_has() {
    use fengqiao_domain::indicators::{score, Indicators, Totals, Weights};
    let mut t = Totals::default();
    for (m, v) in [
        ("registered", 40),
        ("concluded", 20),
        ("resolved", 15),
        ("mediated", 10),
        ("mediation_success", 5),
        ("rated", 10),
        ("satisfaction_sum", 40),
        ("satisfied", 8),
        ("overtime", 4),
        ("handled", 20),
        ("handling_days", 120),
        ("reopened", 2),
    ] {
        t.add(m, v);
    }
    let ind = Indicators::from_totals(&t);
    assert_eq!(ind.intake, 40);
    assert_eq!(ind.resolution_rate, Some(0.75));
    assert_eq!(ind.mediation_success_rate, Some(0.5));
    assert_eq!(ind.satisfaction, Some(4.0));
    assert_eq!(ind.overtime_rate, Some(0.1));
    assert_eq!(ind.handling_days, Some(6.0));
    assert_eq!(ind.reopen_rate, Some(0.1));
    let w = Weights::default();
    // 100 × (30×0.75 + 15×0.5 + 25×0.75 + 15×0.9 + 5×0.8 + 10×0.9) / 100 = 75.25
    let s = score(&ind, &w).unwrap();
    assert_eq!(s.value, 75.3);
    assert_eq!(s.components.len(), 6);
    // Without evaluations or mediations, the other weights are renormalised.
    let partial = Indicators {
        mediation_success_rate: None,
        satisfaction: None,
        ..ind.clone()
    };
    // (30×0.75 + 15×0.9 + 5×0.8 + 10×0.9) / 60 = 0.8166…
    assert_eq!(score(&partial, &w).unwrap().value, 81.7);
    assert_eq!(score(&Indicators::default(), &w), None);
    assert!(w.formula().contains("30×化解率"));
    assert!(Weights {
        resolution: -1.0,
        ..w.clone()
    }
    .validate()
    .is_err());
    assert!(Weights {
        resolution: 0.0,
        mediation: 0.0,
        satisfaction: 0.0,
        on_time: 0.0,
        speed: 0.0,
        no_reopen: 0.0
    }
    .validate()
    .is_err());
    assert!(w.validate().is_ok());
    // Weights beyond 1,000 are refused (found by schemathesis: a weight of 3.1e307 made the
    // score overflow to infinity, which JSON writes as null); a score stays finite at any scale.
    let huge = Weights {
        on_time: 3.140478896054911e307,
        ..w.clone()
    };
    assert!(huge.validate().is_err());
    assert!(Weights {
        speed: 1_000.0,
        ..w.clone()
    }
    .validate()
    .is_ok());
    let all_huge = Weights {
        resolution: f64::MAX,
        mediation: f64::MAX,
        satisfaction: f64::MAX,
        on_time: f64::MAX,
        speed: f64::MAX,
        no_reopen: f64::MAX,
    };
    let s = score(&ind, &all_huge).unwrap();
    assert!(
        s.value.is_finite() && (0.0..=100.0).contains(&s.value),
        "{s:?}"
    );
    // One weight dwarfing the others: the score is that component's (on time: 1 − 0.1).
    assert_eq!(score(&ind, &huge).unwrap().value, 90.0);
}
