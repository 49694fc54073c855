//! Reference data (jurisdictions, units, users, calendar, deadline rules) and the inbox.
use crate::auth::{hash_password, UserView};
use crate::{App, AppError, Result};
use chrono::NaiveDate;
use fengqiao_domain::access::{authorize_node, Actor, Operation, Role};
use fengqiao_domain::audit::AuditAction;
use fengqiao_domain::calendar::{CalendarDay, DayKind};
use fengqiao_domain::deadline::DeadlineRules;
use fengqiao_domain::jurisdiction::{Jurisdiction, Level};
use fengqiao_domain::security::SecurityPolicy;
use fengqiao_domain::unit::Unit;
use fengqiao_domain::DomainError;
use fengqiao_store::{NewUnit, NewUser, Notification};
use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::ToSchema;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct JurisdictionInput {
    pub code: String,
    pub name: String,
    pub level: Level,
    pub parent_code: Option<String>,
    pub centroid: Option<[f64; 2]>,
    #[schema(value_type = Option<Object>)]
    pub boundary: Option<serde_json::Value>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct UserInput {
    pub username: String,
    pub display_name: String,
    pub password: String,
    pub role: Role,
    pub scope_code: String,
    pub unit_id: Option<i64>,
}

/// An administrator's change to a user: name, role, scope, unit, disabled.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct UserChange {
    pub display_name: String,
    pub role: Role,
    pub scope_code: String,
    pub unit_id: Option<i64>,
    #[serde(default)]
    pub disabled: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct CalendarDayInput {
    /// `holiday`, `workday`, or null to return the date to the Monday–Friday rule.
    pub kind: Option<DayKind>,
    #[serde(default)]
    pub note: String,
}

/// At least 8 characters from at least 3 of: lower case, upper case, digits, symbols.
/// The password policy (`domain::security::check_password`) as this layer's error.
pub fn check_password_policy(password: &str, username: &str) -> Result<()> {
    fengqiao_domain::security::check_password(password, username).map_err(AppError::WeakPassword)
}

impl App {
    pub async fn create_jurisdiction(
        &self,
        actor: &Actor,
        input: &JurisdictionInput,
    ) -> Result<Jurisdiction> {
        let parent = match &input.parent_code {
            Some(p) => Some(
                self.store
                    .get_jurisdiction(p)
                    .await?
                    .ok_or(AppError::NotFound("jurisdiction"))?,
            ),
            None => None,
        };
        let mut node = Jurisdiction::new(&input.code, &input.name, input.level, parent.as_ref())?;
        authorize_node(
            actor,
            Operation::ManageReference,
            parent
                .as_ref()
                .map(|p| p.path.as_str())
                .unwrap_or(&node.path),
        )?;
        if self.store.get_jurisdiction(&input.code).await?.is_some() {
            return Err(AppError::Duplicate("jurisdiction"));
        }
        node.centroid = input.centroid;
        node.boundary = input.boundary.clone();
        let node = self.save_node(node).await?;
        self.audit_config(
            actor,
            &format!("jurisdiction:{}", node.code),
            json!({"op": "create", "name": node.name, "level": node.level}),
        )
        .await?;
        Ok(node)
    }

    /// Seals every stored personal number under the newest data key (run after adding a key
    /// to FENGQIAO_DATA_KEYS; afterwards the older keys can be removed). Recorded in the audit
    /// trail as a configuration change by the operator's command. The values rewritten.
    pub async fn rotate_data_keys(&self, operator: &str) -> Result<u64> {
        let key = self.store.sealer().current_key_id();
        let n = self.store.reseal().await?;
        self.audit(
            crate::audit::Who::named(operator),
            AuditAction::ConfigChanged,
            &format!("data_key:{key}"),
            "ok",
            json!({"op": "rotate", "values_resealed": n}),
        )
        .await?;
        self.flush_audit().await;
        Ok(n)
    }

    /// Records a change of reference data or configuration.
    async fn audit_config(
        &self,
        actor: &Actor,
        target: &str,
        detail: serde_json::Value,
    ) -> Result<()> {
        self.audit_actor(actor, AuditAction::ConfigChanged, target, "ok", detail)
            .await
    }

    /// A user the actor administers (else not found / forbidden).
    async fn managed_user(&self, actor: &Actor, id: i64) -> Result<fengqiao_store::UserRecord> {
        let user = self
            .store
            .get_user(id)
            .await?
            .ok_or(AppError::NotFound("user"))?;
        authorize_node(actor, Operation::ManageReference, &user.scope_path)?;
        Ok(user)
    }

    /// Records a change of a user account.
    async fn audit_user(&self, actor: &Actor, id: i64, detail: serde_json::Value) -> Result<()> {
        self.audit_actor(
            actor,
            AuditAction::UserChanged,
            &format!("user:{id}"),
            "ok",
            detail,
        )
        .await
    }

    /// Writes a node and drops what was derived from the tree (the text reader's gazetteer,
    /// the cached names).
    async fn save_node(&self, node: Jurisdiction) -> Result<Jurisdiction> {
        self.store
            .upsert_jurisdictions(std::slice::from_ref(&node))
            .await?;
        self.reset_analyzer();
        self.forget_node_names();
        Ok(node)
    }

    /// Checks that the actor may manage reference data in their scope (the admin pages).
    pub fn require_admin(&self, actor: &Actor) -> Result<()> {
        Ok(authorize_node(
            actor,
            Operation::ManageReference,
            &actor.scope_path,
        )?)
    }

    /// Renames a jurisdiction node (its code, level and place in the tree never change).
    pub async fn rename_jurisdiction(
        &self,
        actor: &Actor,
        code: &str,
        name: &str,
    ) -> Result<Jurisdiction> {
        let mut node = self.get_jurisdiction(code).await?;
        authorize_node(actor, Operation::ManageReference, &node.path)?;
        let name = name.trim();
        if name.is_empty() || name.chars().count() > 64 {
            return Err(DomainError::validation("name", "1 to 64 characters").into());
        }
        node.name = name.to_string();
        let node = self.save_node(node).await?;
        self.audit_config(
            actor,
            &format!("jurisdiction:{}", node.code),
            json!({"op": "rename", "name": node.name}),
        )
        .await?;
        Ok(node)
    }

    pub async fn list_jurisdictions(&self, parent: Option<&str>) -> Result<Vec<Jurisdiction>> {
        Ok(self.store.list_jurisdictions(parent).await?)
    }

    pub async fn get_jurisdiction(&self, code: &str) -> Result<Jurisdiction> {
        self.store
            .get_jurisdiction(code)
            .await?
            .ok_or(AppError::NotFound("jurisdiction"))
    }

    pub async fn create_unit(&self, actor: &Actor, input: &NewUnit) -> Result<Unit> {
        let node = self.get_jurisdiction(&input.node_code).await?;
        authorize_node(actor, Operation::ManageReference, &node.path)?;
        if input.name.trim().is_empty() {
            return Err(DomainError::validation("name", "empty").into());
        }
        let unit = self.store.insert_unit(input, &node.path).await?;
        self.audit_config(
            actor,
            &format!("unit:{}", unit.id),
            json!({"op": "create", "name": unit.name, "kind": unit.kind}),
        )
        .await?;
        Ok(unit)
    }

    /// The unit directory (all staff may see every unit, to route and co-handle across towns).
    pub async fn list_units(&self, node_code: Option<&str>) -> Result<Vec<Unit>> {
        let path = match node_code {
            Some(c) => self.get_jurisdiction(c).await?.path,
            None => "/".into(),
        };
        Ok(self.store.list_units(&path).await?)
    }

    pub async fn get_unit(&self, id: i64) -> Result<Unit> {
        self.store
            .get_unit(id)
            .await?
            .ok_or(AppError::NotFound("unit"))
    }

    pub async fn set_unit_leader(
        &self,
        actor: &Actor,
        unit_id: i64,
        user_id: Option<i64>,
    ) -> Result<Unit> {
        let unit = self.get_unit(unit_id).await?;
        let node = self.get_jurisdiction(&unit.node_code).await?;
        authorize_node(actor, Operation::ManageReference, &node.path)?;
        if let Some(u) = user_id {
            let user = self
                .store
                .get_user(u)
                .await?
                .ok_or(AppError::NotFound("user"))?;
            if user.unit_id != Some(unit_id) {
                return Err(DomainError::validation(
                    "user_id",
                    "the leader must belong to the unit",
                )
                .into());
            }
        }
        self.store.set_unit_leader(unit_id, user_id).await?;
        self.audit_config(
            actor,
            &format!("unit:{unit_id}"),
            json!({"op": "leader", "user_id": user_id}),
        )
        .await?;
        self.get_unit(unit_id).await
    }

    pub async fn create_user(&self, actor: &Actor, input: &UserInput) -> Result<UserView> {
        let node = self.get_jurisdiction(&input.scope_code).await?;
        authorize_node(actor, Operation::ManageReference, &node.path)?;
        let name = input.username.trim();
        check_password_policy(&input.password, name)?;
        check_username(name)?;
        if let Some(u) = input.unit_id {
            self.get_unit(u).await?;
        }
        let user = NewUser {
            username: name.to_string(),
            display_name: input.display_name.trim().to_string(),
            password_hash: hash_password(&input.password)?,
            role: input.role,
            scope_code: node.code.clone(),
            scope_path: node.path.clone(),
            unit_id: input.unit_id,
            // The administrator knows this password: the user must replace it.
            must_change_password: true,
        };
        let rec = self.store.insert_user(&user, self.now()).await?;
        self.audit_user(actor, rec.id, json!({"op": "create", "username": rec.username, "role": rec.role, "scope": rec.scope_code, "unit_id": rec.unit_id}))
            .await?;
        Ok(UserView::from(&rec))
    }

    /// Changes a user. The administrator must manage both the user's present scope and the
    /// new one, and may not disable or demote themself (someone must stay able to undo it).
    pub async fn update_user(
        &self,
        actor: &Actor,
        id: i64,
        change: &UserChange,
    ) -> Result<UserView> {
        let user = self.managed_user(actor, id).await?;
        let node = self.get_jurisdiction(&change.scope_code).await?;
        authorize_node(actor, Operation::ManageReference, &node.path)?;
        if id == actor.user_id && (change.disabled || change.role != user.role) {
            return Err(DomainError::validation(
                "user",
                "an administrator cannot disable or demote themself",
            )
            .into());
        }
        let display_name = change.display_name.trim();
        if display_name.is_empty() {
            return Err(DomainError::validation("display_name", "empty").into());
        }
        if let Some(u) = change.unit_id {
            self.get_unit(u).await?;
        }
        let rec = self
            .store
            .update_user(
                id,
                &fengqiao_store::UserUpdate {
                    display_name: display_name.to_string(),
                    role: change.role,
                    scope_code: node.code.clone(),
                    scope_path: node.path.clone(),
                    unit_id: change.unit_id,
                    disabled: change.disabled,
                },
            )
            .await?;
        self.audit_user(
            actor,
            id,
            json!({"op": "update", "role": rec.role, "was_role": user.role, "scope": rec.scope_code,
                   "was_scope": user.scope_code, "unit_id": rec.unit_id, "disabled": rec.disabled}),
        )
        .await?;
        Ok(UserView::from(&rec))
    }

    /// Gives a user a new initial password (to be changed at the next sign-in) and, when
    /// `second_factor` is set, removes their TOTP enrolment (a lost phone); their sessions end.
    pub async fn reset_credentials(
        &self,
        actor: &Actor,
        id: i64,
        password: Option<&str>,
        second_factor: bool,
    ) -> Result<UserView> {
        let user = self.managed_user(actor, id).await?;
        if let Some(p) = password {
            check_password_policy(p, &user.username)?;
            self.store
                .set_password(id, &hash_password(p)?, true, self.now())
                .await?;
        }
        if second_factor {
            self.store.set_totp(id, None, false).await?;
        }
        self.store.delete_user_sessions(id, None).await?;
        self.audit_user(actor, id, json!({"op": "reset_credentials", "password": password.is_some(), "second_factor": second_factor}))
            .await?;
        tracing::info!(
            admin = actor.user_id,
            user = id,
            password = password.is_some(),
            second_factor,
            "credentials reset"
        );
        let rec = self
            .store
            .get_user(id)
            .await?
            .ok_or(AppError::NotFound("user"))?;
        Ok(UserView::from(&rec))
    }

    /// The sign-in policy, as administrators see it.
    pub async fn get_security_policy(&self, actor: &Actor) -> Result<SecurityPolicy> {
        authorize_node(actor, Operation::ManageReference, &actor.scope_path)?;
        self.security_policy().await
    }

    /// Replaces the sign-in policy (administrators only: it holds for every account).
    pub async fn put_security_policy(
        &self,
        actor: &Actor,
        policy: &SecurityPolicy,
    ) -> Result<SecurityPolicy> {
        authorize_node(actor, Operation::ManageReference, &actor.scope_path)?;
        if actor.role != Role::Admin {
            return Err(DomainError::Forbidden.into());
        }
        if policy.password_max_age_days > 3650 {
            return Err(DomainError::validation("password_max_age_days", "0 to 3650 days").into());
        }
        self.set_security_policy(policy).await?;
        self.audit_config(actor, "setting:security_policy", json!(policy))
            .await?;
        tracing::info!(admin = actor.user_id, ?policy, "security policy changed");
        Ok(policy.clone())
    }

    pub async fn list_users(&self, actor: &Actor) -> Result<Vec<UserView>> {
        authorize_node(actor, Operation::ManageReference, &actor.scope_path)?;
        Ok(self
            .store
            .list_users(&actor.scope_path, None)
            .await?
            .iter()
            .map(UserView::from)
            .collect())
    }

    pub async fn calendar_days(&self, year: Option<i32>) -> Result<Vec<CalendarDay>> {
        let days = self.store.calendar_days().await?;
        Ok(days
            .into_iter()
            .filter(|d| year.is_none_or(|y| chrono::Datelike::year(&d.date) == y))
            .collect())
    }

    pub async fn set_calendar_day(
        &self,
        actor: &Actor,
        date: NaiveDate,
        input: &CalendarDayInput,
    ) -> Result<()> {
        authorize_node(actor, Operation::ManageReference, &actor.scope_path)?;
        if actor.scope_path.matches('/').count() > 4 {
            // The calendar is national: only county-level admins and above may change it.
            return Err(DomainError::Forbidden.into());
        }
        self.store
            .set_calendar_day(date, input.kind, &input.note)
            .await?;
        self.audit_config(
            actor,
            &format!("calendar:{date}"),
            json!({"kind": input.kind, "note": input.note}),
        )
        .await?;
        self.reload().await
    }

    pub async fn put_rules(&self, actor: &Actor, rules: &DeadlineRules) -> Result<DeadlineRules> {
        authorize_node(actor, Operation::ManageReference, &actor.scope_path)?;
        if rules.simple_days == 0 || rules.complex_days == 0 || rules.feedback_days == 0 {
            return Err(DomainError::validation(
                "rules",
                "every stage needs at least one working day",
            )
            .into());
        }
        let json = serde_json::to_string(rules).map_err(|e| AppError::Internal(e.to_string()))?;
        self.store.put_setting(super::RULES_KEY, &json).await?;
        self.audit_config(actor, "setting:deadline_rules", json!(rules))
            .await?;
        self.reload().await?;
        Ok(rules.clone())
    }

    pub async fn inbox(&self, actor: &Actor, unread_only: bool) -> Result<Vec<Notification>> {
        Ok(self
            .store
            .list_notifications(actor.user_id, unread_only, 200)
            .await?)
    }

    pub async fn mark_read(&self, actor: &Actor, id: i64) -> Result<()> {
        self.store
            .mark_notification_read(actor.user_id, id, self.now())
            .await
            .map_err(|e| match e {
                fengqiao_store::StoreError::NotFound => AppError::NotFound("notification"),
                other => other.into(),
            })
    }
}

/// What an import of boundaries did.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct BoundaryImport {
    pub updated: usize,
    /// `feature <n>: <reason>` for every feature left out (n counts from 1).
    pub skipped: Vec<String>,
}

impl App {
    /// Sets the boundaries of jurisdiction nodes from a GeoJSON FeatureCollection whose
    /// features name the node by `properties.code` (or `adcode`, as in public boundary
    /// files). Features that match no node or carry no polygon are reported, the others land.
    /// A node without a centroid gets its boundary's vertex mean. Operators run it
    /// (`fengqiao import-boundaries`).
    pub async fn import_boundaries(&self, fc: &serde_json::Value) -> Result<BoundaryImport> {
        let features = fc
            .get("features")
            .and_then(|f| f.as_array())
            .ok_or_else(|| {
                fengqiao_domain::DomainError::validation("features", "not a FeatureCollection")
            })?;
        let mut report = BoundaryImport::default();
        let mut nodes = Vec::new();
        for (i, f) in features.iter().enumerate() {
            let props = f.get("properties");
            let code = props
                .and_then(|p| p.get("code").or_else(|| p.get("adcode")))
                .map(|c| match c {
                    serde_json::Value::String(s) => s.clone(),
                    other => other.to_string(),
                });
            let Some(code) = code else {
                report
                    .skipped
                    .push(format!("feature {}: no properties.code", i + 1));
                continue;
            };
            let geometry = f.get("geometry").cloned().unwrap_or_default();
            let kind = geometry.get("type").and_then(|t| t.as_str()).unwrap_or("");
            if !matches!(kind, "Polygon" | "MultiPolygon") {
                report.skipped.push(format!(
                    "feature {}: {code}: geometry is not a polygon",
                    i + 1
                ));
                continue;
            }
            let Some(mut node) = self.store.get_jurisdiction(&code).await? else {
                report
                    .skipped
                    .push(format!("feature {}: no jurisdiction {code}", i + 1));
                continue;
            };
            if node.centroid.is_none() {
                node.centroid = vertex_mean(&geometry);
            }
            node.boundary = Some(geometry);
            nodes.push(node);
        }
        if !nodes.is_empty() {
            self.store.upsert_jurisdictions(&nodes).await?;
            self.reset_analyzer();
            self.forget_node_names();
        }
        report.updated = nodes.len();
        Ok(report)
    }
}

/// The mean of a polygon's outer-ring vertices (of every part of a MultiPolygon).
fn vertex_mean(geometry: &serde_json::Value) -> Option<[f64; 2]> {
    let coords = geometry.get("coordinates")?;
    let rings: Vec<&serde_json::Value> = match geometry.get("type")?.as_str()? {
        "Polygon" => vec![coords.get(0)?],
        _ => coords.as_array()?.iter().filter_map(|p| p.get(0)).collect(),
    };
    let (mut sx, mut sy, mut n) = (0.0, 0.0, 0.0);
    for ring in rings {
        for p in ring.as_array()? {
            sx += p.get(0)?.as_f64()?;
            sy += p.get(1)?.as_f64()?;
            n += 1.0;
        }
    }
    (n > 0.0).then(|| [sx / n, sy / n])
}

/// A user name: 1 to 64 of a-z, A-Z, 0-9, `.`, `_`, `-`.
fn check_username(name: &str) -> Result<()> {
    if name.is_empty()
        || name.len() > 64
        || !name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "._-".contains(c))
    {
        return Err(DomainError::validation("username", "1 to 64 of a-z, 0-9, . _ -").into());
    }
    Ok(())
}

/// A new deployment's first places and administrator (`fengqiao init`).
#[derive(Debug, Clone)]
pub struct Initialisation {
    /// The county's 6-digit code; its province and city codes follow from it.
    pub county_code: String,
    pub province_name: String,
    pub city_name: String,
    pub county_name: String,
    pub admin_username: String,
}

/// 20 characters from letters (both cases), digits and signs, at least one of each: passes
/// any password policy of length ≤ 20, and is shown once.
pub fn initial_password() -> String {
    use rand_core::{OsRng, RngCore};
    const SETS: [&[u8]; 4] = [
        b"ABCDEFGHJKLMNPQRSTUVWXYZ",
        b"abcdefghijkmnopqrstuvwxyz",
        b"23456789",
        b"@#%+=-_",
    ];
    let pick = |set: &[u8]| set[(OsRng.next_u32() as usize) % set.len()] as char;
    let all: Vec<u8> = SETS.concat();
    let mut chars: Vec<char> = SETS.iter().map(|s| pick(s)).collect();
    while chars.len() < 20 {
        chars.push(pick(&all));
    }
    // Shuffle, so the classes are not always in the same places.
    for i in (1..chars.len()).rev() {
        chars.swap(i, (OsRng.next_u32() as usize) % (i + 1));
    }
    chars.into_iter().collect()
}

impl App {
    /// Sets up a new deployment: its province, city and county (those not there yet) and its
    /// first administrator, with a random password returned once, to be replaced at the first
    /// sign-in (where the administrator also enrols a second factor). Refused when an
    /// administrator exists already: later accounts are made by administrators.
    pub async fn initialise(&self, init: &Initialisation) -> Result<(UserView, String)> {
        if !self
            .store
            .list_users("/", Some(Role::Admin))
            .await?
            .is_empty()
        {
            return Err(DomainError::validation(
                "admin",
                "this database has an administrator already; create accounts on /admin/users",
            )
            .into());
        }
        let code = init.county_code.trim();
        Level::County.validate_code(code)?;
        let province_code = format!("{}0000", &code[..2]);
        let city_code = format!("{}00", &code[..4]);
        let mut parent: Option<Jurisdiction> = None;
        let mut created = Vec::new();
        for (c, name, level) in [
            (province_code.as_str(), &init.province_name, Level::Province),
            (city_code.as_str(), &init.city_name, Level::City),
            (code, &init.county_name, Level::County),
        ] {
            let node = match self.store.get_jurisdiction(c).await? {
                Some(n) => n,
                None => {
                    let n = Jurisdiction::new(c, name, level, parent.as_ref())?;
                    created.push(n.clone());
                    n
                }
            };
            parent = Some(node);
        }
        self.store.upsert_jurisdictions(&created).await?;
        let county = parent.ok_or(AppError::NotFound("jurisdiction"))?;
        let password = initial_password();
        let name = init.admin_username.trim();
        check_password_policy(&password, name)?;
        check_username(name)?;
        let rec = self
            .store
            .insert_user(
                &NewUser {
                    username: name.to_string(),
                    display_name: "系统管理员".into(),
                    password_hash: hash_password(&password)?,
                    role: Role::Admin,
                    scope_code: county.code.clone(),
                    scope_path: county.path.clone(),
                    unit_id: None,
                    must_change_password: true,
                },
                self.now(),
            )
            .await?;
        self.audit(
            crate::audit::Who {
                id: None,
                name: "cli:init".into(),
            },
            AuditAction::UserChanged,
            &format!("user:{}", rec.id),
            "ok",
            json!({"op": "initialise", "username": rec.username, "scope": rec.scope_code,
                   "jurisdictions_created": created.iter().map(|n| n.code.clone()).collect::<Vec<_>>()}),
        )
        .await?;
        Ok((UserView::from(&rec), password))
    }
}
