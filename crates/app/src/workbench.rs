//! What the web pages ask for beyond the API's operations: the workbench queues, routing
//! suggestions, the actions a user may take, and photos attached to a citizen's submission.
use crate::{App, AppError, Result};
use fengqiao_domain::access::{Actor, Role};
use fengqiao_domain::case::{AttachmentMeta, Light, Status};
use fengqiao_domain::unit::UnitSuggestion;
use fengqiao_domain::workflow::Context;
use fengqiao_store::{CaseFilter, StoredCase, Visibility};
use serde::{Deserialize, Serialize};

/// A queue of the workbench: cases waiting for the user (or the user's unit).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Queue {
    /// Registered, waiting to be routed (dispatchers).
    ToRoute,
    /// Routed to my unit, waiting for its signature.
    ToAccept,
    /// Accepted by my unit or in mediation there.
    InMediation,
    /// Concluded, the citizen is waiting for feedback.
    AwaitingFeedback,
    /// Open supervisions waiting for my unit's reply (supervisors: all in their scope).
    Supervisions,
}

impl Queue {
    pub const ALL: [Queue; 5] = [
        Queue::ToRoute,
        Queue::ToAccept,
        Queue::InMediation,
        Queue::AwaitingFeedback,
        Queue::Supervisions,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Queue::ToRoute => "to_route",
            Queue::ToAccept => "to_accept",
            Queue::InMediation => "in_mediation",
            Queue::AwaitingFeedback => "awaiting_feedback",
            Queue::Supervisions => "supervisions",
        }
    }

    pub fn parse(s: &str) -> Option<Queue> {
        Queue::ALL.into_iter().find(|q| q.as_str() == s)
    }

    /// The queues a role works on.
    pub fn for_role(role: Role) -> &'static [Queue] {
        use Queue as Q;
        match role {
            Role::Dispatcher | Role::Admin => &[Q::ToRoute, Q::AwaitingFeedback, Q::Supervisions],
            Role::UnitHandler | Role::UnitLeader | Role::Mediator => &[
                Q::ToAccept,
                Q::InMediation,
                Q::AwaitingFeedback,
                Q::Supervisions,
            ],
            Role::Supervisor | Role::Leader => &[
                Q::ToRoute,
                Q::ToAccept,
                Q::InMediation,
                Q::AwaitingFeedback,
                Q::Supervisions,
            ],
            Role::GridWorker | Role::Citizen | Role::Expert => &[],
        }
    }

    fn statuses(self) -> &'static [Option<Status>] {
        match self {
            Queue::ToRoute => &[Some(Status::Registered)],
            Queue::ToAccept => &[Some(Status::Routed)],
            Queue::InMediation => &[Some(Status::Accepted), Some(Status::InMediation)],
            Queue::AwaitingFeedback => &[Some(Status::Concluded)],
            Queue::Supervisions => &[None],
        }
    }

    /// Unit queues of unit staff are their unit's; everything else is the user's scope.
    fn filters(self, actor: &Actor) -> Vec<CaseFilter> {
        let unit_staff = matches!(
            actor.role,
            Role::UnitHandler | Role::UnitLeader | Role::Mediator
        );
        self.statuses()
            .iter()
            .map(|status| CaseFilter {
                visibility: Visibility {
                    scope_path: Some(actor.scope_path.clone()),
                    unit_id: actor.unit_id,
                    submitted_by: None,
                    expert_id: None,
                },
                status: *status,
                unit_id: if unit_staff && self != Queue::ToRoute {
                    actor.unit_id
                } else {
                    None
                },
                with_open_supervision: self == Queue::Supervisions,
                limit: 20,
                ..CaseFilter::default()
            })
            .collect()
    }
}

impl App {
    /// The name of a jurisdiction node (its code when unknown), cached.
    pub async fn node_name(&self, code: &str) -> String {
        if let Some(n) = self
            .node_names
            .read()
            .ok()
            .and_then(|m| m.get(code).cloned())
        {
            return n;
        }
        match self.store.get_jurisdiction(code).await {
            Ok(Some(j)) => {
                if let Ok(mut m) = self.node_names.write() {
                    m.insert(code.to_string(), j.name.clone());
                }
                j.name
            }
            _ => code.to_string(),
        }
    }

    /// Forgets cached jurisdiction names (after an admin changed one).
    pub fn forget_node_names(&self) {
        if let Ok(mut m) = self.node_names.write() {
            m.clear();
        }
    }

    /// How many cases wait in the queue.
    pub async fn queue_count(&self, actor: &Actor, q: Queue) -> Result<u64> {
        let mut n = 0;
        for f in q.filters(actor) {
            n += self.store.count_cases(&f).await?;
        }
        Ok(n)
    }

    /// The first cases of a queue: overdue (red) first, then yellow, then the newest.
    pub async fn queue_cases(
        &self,
        actor: &Actor,
        q: Queue,
        limit: u32,
    ) -> Result<Vec<StoredCase>> {
        let mut out: Vec<StoredCase> = Vec::new();
        for light in [Some(Light::Red), Some(Light::Yellow), None] {
            for f in q.filters(actor) {
                if out.len() >= limit as usize {
                    return Ok(out);
                }
                let page = self
                    .store
                    .list_cases(&CaseFilter {
                        light,
                        limit: limit - out.len() as u32,
                        ..f
                    })
                    .await?;
                for c in page.items {
                    if !out.iter().any(|o| o.id == c.id) {
                        out.push(c);
                    }
                }
            }
        }
        Ok(out)
    }

    /// The actions the actor may take on the case now (what the case page offers).
    pub fn allowed_actions(&self, actor: &Actor, case: &StoredCase) -> Vec<&'static str> {
        let (calendar, rules) = (self.calendar(), self.rules());
        fengqiao_domain::workflow::allowed_actions(
            &case.state,
            &Context {
                actor,
                now: self.now(),
                calendar: &calendar,
                rules: &rules,
            },
        )
    }

    /// Candidate lead units for a case: the units of its node and the node's ancestors whose
    /// kind fits the dispute type, ranked by fit, closeness and current workload.
    pub async fn suggest_units(&self, actor: &Actor, id: i64) -> Result<Vec<UnitSuggestion>> {
        let case = self.load_visible(actor, id).await?;
        let path = case.state.location.node_path.clone();
        let mut candidates = Vec::new();
        for code in path.split('/').filter(|s| !s.is_empty()) {
            let Some(node) = self.store.get_jurisdiction(code).await? else {
                continue;
            };
            for unit in self
                .store
                .list_units(&node.path)
                .await?
                .into_iter()
                .filter(|u| u.node_code == node.code)
            {
                let mut open = 0;
                for status in [Status::Routed, Status::Accepted, Status::InMediation] {
                    open += self
                        .store
                        .count_cases(&CaseFilter {
                            visibility: Visibility {
                                unit_id: Some(unit.id),
                                ..Visibility::default()
                            },
                            status: Some(status),
                            unit_id: Some(unit.id),
                            limit: 1,
                            ..CaseFilter::default()
                        })
                        .await?;
                }
                candidates.push((unit, node.path.clone(), node.level, open));
            }
        }
        Ok(fengqiao_domain::unit::suggest_units(
            case.state.dispute_type,
            &path,
            candidates,
        ))
    }

    /// A photo (or document) the citizen sent with the submission, proven by tracking code and
    /// phone; recorded as added by the system on the citizen's behalf.
    pub async fn add_public_attachment(
        &self,
        tracking_code: &str,
        phone: &str,
        filename: &str,
        bytes: Vec<u8>,
    ) -> Result<AttachmentMeta> {
        let case = self.public_case(tracking_code, phone).await?;
        if case
            .state
            .attachments
            .iter()
            .any(|a| a.id == crate::auth::sm3_hex(&bytes))
        {
            return Err(AppError::Duplicate("attachment"));
        }
        self.add_attachment(&Actor::system(), case.id, filename, bytes)
            .await
    }

    /// True when the actor may add a file to the case (the case page offers the upload).
    pub fn may_attach(&self, actor: &Actor, case: &StoredCase) -> bool {
        fengqiao_domain::access::authorize(
            actor,
            fengqiao_domain::access::Operation::AddAttachment,
            &case.state,
        )
        .is_ok()
    }

    /// Display names and roles of users (for timelines), by id; unknown ids are left out.
    pub async fn user_names(
        &self,
        ids: &[i64],
    ) -> Result<std::collections::HashMap<i64, (String, Role)>> {
        let mut out = std::collections::HashMap::new();
        for &id in ids {
            if out.contains_key(&id) {
                continue;
            }
            if let Some(u) = self.store.get_user(id).await? {
                out.insert(id, (u.display_name, u.role));
            }
        }
        Ok(out)
    }

    /// Checks an attachment before anything is written: size and content type.
    pub fn check_attachment(&self, filename: &str, bytes: &[u8]) -> Result<&'static str> {
        if bytes.len() > self.settings.max_attachment_bytes {
            return Err(AppError::AttachmentTooLarge(
                self.settings.max_attachment_bytes,
            ));
        }
        crate::cases::sniff(bytes)
            .ok_or_else(|| AppError::AttachmentTypeNotAllowed(filename.to_string()))
    }
}
