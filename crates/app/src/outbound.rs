//! Notifications that leave the system: every in-app notification is fanned out into queued
//! deliveries (webhooks, e-mail, SMS) and a courier sends them, retrying with backoff.
//!
//! The queue is in the database: a notification is written with the change that caused it,
//! fanned out once in one transaction, and each delivery is claimed with a lease, so a
//! restart (or a crash mid-send) loses nothing; at worst a delivery is sent twice, and
//! receivers can tell by its `X-Fengqiao-Delivery` id. Sending is behind [`Courier`]
//! (`fengqiao-notify` has the real one).
use crate::{App, AppError, Result};
use async_trait::async_trait;
use fengqiao_domain::access::{authorize_node, Actor, Operation};
use fengqiao_domain::audit::AuditAction;
use fengqiao_domain::outbound::{
    case_event_kind, expand_template, plan, plan_case_event, sms_text, AttemptOutcome,
    CaseEventMessage, Contact, Delivery, DeliveryStatus, HttpMethod, Medium, Message,
    OutboundConfig, SmtpConfig, Webhook, WebhookInput, CASE_EVENT_PREFIX,
};
use fengqiao_domain::time::Millis;
use fengqiao_domain::workflow::CaseEvent;
use fengqiao_domain::DomainError;
use fengqiao_store::StoredCase;
use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::sync::Arc;
use utoipa::ToSchema;

/// The setting holding the [`OutboundConfig`] as JSON.
pub const CONFIG_KEY: &str = "outbound";
/// A claimed delivery is hidden from other couriers this long (then tried again).
const LEASE_MS: Millis = 5 * 60_000;
/// Deliveries sent at once.
const PARALLEL: usize = 8;

/// One message ready for the wire.
#[derive(Debug, Clone, PartialEq)]
pub enum Outgoing {
    Http {
        method: HttpMethod,
        url: String,
        headers: Vec<(String, String)>,
        body: Vec<u8>,
    },
    Mail {
        smtp: SmtpConfig,
        to: String,
        subject: String,
        body: String,
    },
}

/// Sends one message; an `Err` is the reason it did not arrive (the delivery is retried).
#[async_trait]
pub trait Courier: Send + Sync + 'static {
    async fn send(&self, out: &Outgoing) -> std::result::Result<(), String>;
}

/// What one courier pass did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct CourierReport {
    pub notifications_fanned_out: u64,
    #[serde(default)]
    pub case_events_fanned_out: u64,
    pub deliveries_queued: u64,
    pub delivered: u64,
    pub retrying: u64,
    pub failed: u64,
}

/// The outbound page's figures: the configuration (passwords left out), webhooks, counts.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct OutboundOverview {
    pub config: OutboundConfig,
    pub webhooks: Vec<Webhook>,
    pub counts: Vec<StatusCount>,
    pub courier_running: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct StatusCount {
    pub status: DeliveryStatus,
    pub count: i64,
}

/// HMAC-SHA256 of `timestamp.body` with the webhook's secret, as `sha256=<hex>`.
pub fn webhook_signature(secret: &str, timestamp: i64, body: &[u8]) -> String {
    let mut mac = match Hmac::<sha2::Sha256>::new_from_slice(secret.as_bytes()) {
        Ok(m) => m,
        // HMAC takes keys of any length; this arm cannot be reached.
        Err(_) => return String::new(),
    };
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    let tag = mac.finalize().into_bytes();
    let mut hex = String::with_capacity(71);
    hex.push_str("sha256=");
    for b in tag {
        hex.push_str(&format!("{b:02x}"));
    }
    hex
}

/// Builds what goes on the wire for a delivery; `Err` when it can no longer be sent (its
/// webhook removed or switched off, its medium no longer configured).
fn outgoing(
    d: &Delivery,
    cfg: &OutboundConfig,
    webhooks: &HashMap<i64, Webhook>,
    now: Millis,
) -> std::result::Result<Outgoing, String> {
    // Notifications and case events both carry their kind.
    #[derive(Deserialize)]
    struct Kind {
        kind: String,
    }
    let kind = serde_json::from_str::<Kind>(&d.payload)
        .map_err(|e| format!("unreadable payload: {e}"))?
        .kind;
    let message = || -> std::result::Result<Message, String> {
        serde_json::from_str(&d.payload).map_err(|e| format!("unreadable payload: {e}"))
    };
    match d.medium {
        Medium::Webhook => {
            let hook = d
                .target
                .parse::<i64>()
                .ok()
                .and_then(|id| webhooks.get(&id))
                .filter(|w| w.active)
                .ok_or("the webhook was removed or switched off")?;
            let ts = now / 1000;
            let body = d.payload.as_bytes().to_vec();
            Ok(Outgoing::Http {
                method: HttpMethod::Post,
                url: hook.url.clone(),
                headers: vec![
                    ("content-type".into(), "application/json".into()),
                    ("x-fengqiao-event".into(), kind),
                    ("x-fengqiao-delivery".into(), d.id.to_string()),
                    ("x-fengqiao-timestamp".into(), ts.to_string()),
                    (
                        "x-fengqiao-signature".into(),
                        webhook_signature(&hook.secret, ts, &body),
                    ),
                ],
                body,
            })
        }
        Medium::Email => {
            let msg = message()?;
            let smtp = cfg.smtp.clone().ok_or("SMTP is no longer configured")?;
            Ok(Outgoing::Mail {
                smtp,
                to: d.target.clone(),
                subject: format!("【枫桥】{}", msg.title),
                body: format!(
                    "{}\n\n{}\n\n——枫桥矛盾纠纷多元化解平台（系统邮件，请勿回复）",
                    msg.title, msg.body
                ),
            })
        }
        Medium::Sms => {
            let sms = cfg
                .sms
                .as_ref()
                .ok_or("the SMS gateway is no longer configured")?;
            let text = sms_text(&message()?);
            let url = expand_template(&sms.url_template, &d.target, &text, true);
            let (headers, body) = match &sms.body_template {
                Some(t) => (
                    vec![(
                        "content-type".into(),
                        if t.trim_start().starts_with('{') {
                            "application/json".into()
                        } else {
                            "application/x-www-form-urlencoded".into()
                        },
                    )],
                    expand_template(t, &d.target, &text, false).into_bytes(),
                ),
                None => (Vec::new(), Vec::new()),
            };
            Ok(Outgoing::Http {
                method: sms.method,
                url,
                headers,
                body,
            })
        }
    }
}

impl App {
    /// Installs the courier that sends deliveries (none: they wait in the queue).
    pub fn set_courier(&self, courier: Arc<dyn Courier>) {
        if let Ok(mut c) = self.courier.write() {
            *c = Some(courier);
        }
    }

    fn courier(&self) -> Option<Arc<dyn Courier>> {
        self.courier.read().ok().and_then(|c| c.clone())
    }

    pub async fn outbound_config(&self) -> Result<OutboundConfig> {
        match self.store.get_setting(CONFIG_KEY).await? {
            Some(json) => serde_json::from_str(&json)
                .map_err(|e| AppError::Internal(format!("outbound settings: {e}"))),
            None => Ok(OutboundConfig::default()),
        }
    }

    /// Fans every notification not yet fanned out into deliveries. Returns (notifications,
    /// deliveries).
    pub async fn fan_out_notifications(&self) -> Result<(u64, u64)> {
        let (mut notes, mut queued) = (0u64, 0u64);
        loop {
            let batch = self.store.notifications_to_fan_out(500).await?;
            if batch.is_empty() {
                return Ok((notes, queued));
            }
            let cfg = self.outbound_config().await?;
            let webhooks = self.store.list_webhooks().await?;
            let mut users: Vec<i64> = batch.iter().map(|n| n.user_id).collect();
            users.sort_unstable();
            users.dedup();
            let contacts: HashMap<i64, Contact> =
                self.store.contacts(&users).await?.into_iter().collect();
            let mut usernames = HashMap::new();
            for u in &users {
                if let Some(rec) = self.store.get_user(*u).await? {
                    usernames.insert(*u, rec.username);
                }
            }
            let mut deliveries = Vec::new();
            for n in &batch {
                let msg = Message {
                    notification_id: n.id,
                    user_id: n.user_id,
                    username: usernames.get(&n.user_id).cloned().unwrap_or_default(),
                    case_id: n.case_id,
                    kind: n.kind.clone(),
                    title: n.title.clone(),
                    body: n.body.clone(),
                    created_at: n.created_at,
                };
                let contact = contacts.get(&n.user_id).cloned().unwrap_or_default();
                deliveries.extend(plan(&msg, &contact, &cfg, &webhooks));
            }
            let ids: Vec<i64> = batch.iter().map(|n| n.id).collect();
            self.store.fan_out(&ids, &deliveries, self.now()).await?;
            notes += ids.len() as u64;
            queued += deliveries.len() as u64;
        }
    }

    /// Fans queued case events out to the webhooks subscribed to them (`case.<action>`,
    /// `case.*`); events nobody follows just leave the queue. Returns (events, deliveries).
    pub async fn fan_out_case_events(&self) -> Result<(u64, u64)> {
        let (mut events, mut queued) = (0u64, 0u64);
        loop {
            let batch = self.store.case_events_to_fan_out(500).await?;
            if batch.is_empty() {
                return Ok((events, queued));
            }
            let webhooks: Vec<Webhook> = self
                .store
                .list_webhooks()
                .await?
                .into_iter()
                .filter(|w| w.active && w.kinds.iter().any(|k| k.starts_with(CASE_EVENT_PREFIX)))
                .collect();
            let mut deliveries = Vec::new();
            // Room events text the parties when an SMS gateway is configured.
            let sms_on = self.outbound_config().await?.sms.is_some();
            let room = |q: &fengqiao_store::QueuedCaseEvent| {
                sms_on && crate::room::ROOM_SMS_ACTIONS.contains(&q.action.as_str())
            };
            if !webhooks.is_empty() || batch.iter().any(room) {
                // One read of each case's log for the batch.
                let mut logs: HashMap<i64, (Vec<CaseEvent>, Option<StoredCase>)> = HashMap::new();
                for q in &batch {
                    if let std::collections::hash_map::Entry::Vacant(v) = logs.entry(q.case_id) {
                        let log = self.store.case_events(q.case_id).await?;
                        let case = self.store.get_case(q.case_id).await?;
                        v.insert((log, case));
                    }
                }
                for q in &batch {
                    let Some((log, Some(case))) = logs.get(&q.case_id) else {
                        continue;
                    };
                    let Some(e) = log.iter().find(|e| e.seq == q.seq) else {
                        continue;
                    };
                    let msg = CaseEventMessage {
                        kind: case_event_kind(&q.action),
                        case_id: q.case_id,
                        seq: q.seq,
                        at: e.at,
                        actor_id: e.actor_id,
                        tracking_code: case.state.tracking_code.clone(),
                        status: case.state.status.as_str().to_string(),
                        event: crate::cases::event_view(e),
                    };
                    deliveries.extend(plan_case_event(&msg, &webhooks));
                    if room(q) {
                        for (phone, title, body) in
                            self.room_sms(q.case_id, &case.state, q.seq, &e.kind)
                        {
                            let message = Message {
                                notification_id: 0,
                                user_id: 0,
                                username: String::new(),
                                case_id: Some(q.case_id),
                                kind: q.action.clone(),
                                title,
                                body,
                                created_at: e.at,
                            };
                            deliveries.push(fengqiao_domain::outbound::NewDelivery {
                                source: fengqiao_domain::outbound::DeliverySource::CaseEvent {
                                    case_id: q.case_id,
                                    seq: q.seq,
                                },
                                medium: Medium::Sms,
                                target: phone,
                                payload: serde_json::to_string(&message).unwrap_or_default(),
                            });
                        }
                    }
                }
            }
            let ids: Vec<i64> = batch.iter().map(|q| q.id).collect();
            self.store
                .fan_out_case_events(&ids, &deliveries, self.now())
                .await?;
            events += ids.len() as u64;
            queued += deliveries.len() as u64;
        }
    }

    /// One courier pass: fan out, then send what is due (several at once) and record each
    /// outcome. Without a courier, deliveries wait.
    pub async fn run_courier(&self) -> Result<CourierReport> {
        let (n, q) = self.fan_out_notifications().await?;
        let (events, eq) = self.fan_out_case_events().await?;
        let mut report = CourierReport {
            notifications_fanned_out: n,
            case_events_fanned_out: events,
            deliveries_queued: q + eq,
            ..Default::default()
        };
        let Some(courier) = self.courier() else {
            return Ok(report);
        };
        loop {
            let now = self.now();
            let due = self.store.claim_deliveries(now, now + LEASE_MS, 64).await?;
            if due.is_empty() {
                return Ok(report);
            }
            let cfg = self.outbound_config().await?;
            let webhooks: HashMap<i64, Webhook> = self
                .store
                .list_webhooks()
                .await?
                .into_iter()
                .map(|w| (w.id, w))
                .collect();
            for chunk in due.chunks(PARALLEL) {
                let mut set = tokio::task::JoinSet::new();
                for d in chunk {
                    let out = outgoing(d, &cfg, &webhooks, now);
                    let courier = Arc::clone(&courier);
                    let d = d.clone();
                    set.spawn(async move {
                        let result = match out {
                            Ok(o) => courier.send(&o).await,
                            Err(e) => Err(e),
                        };
                        (d, result)
                    });
                }
                while let Some(joined) = set.join_next().await {
                    let (d, result) =
                        joined.map_err(|e| AppError::Internal(format!("courier task: {e}")))?;
                    let outcome = match result {
                        Ok(()) => AttemptOutcome::Delivered { at: self.now() },
                        Err(e) => AttemptOutcome::failed(e, d.attempts + 1, self.now()),
                    };
                    match &outcome {
                        AttemptOutcome::Delivered { .. } => report.delivered += 1,
                        AttemptOutcome::Retry { error, .. } => {
                            report.retrying += 1;
                            tracing::info!(delivery = d.id, medium = d.medium.as_str(), %error, "delivery failed; will retry");
                        }
                        AttemptOutcome::GaveUp { error } => {
                            report.failed += 1;
                            tracing::warn!(delivery = d.id, medium = d.medium.as_str(), %error, "delivery given up");
                        }
                    }
                    self.store.finish_delivery(d.id, &outcome).await?;
                }
            }
        }
    }

    /// Runs the courier now, on an administrator's request.
    pub async fn run_courier_as(&self, actor: &Actor) -> Result<CourierReport> {
        self.authorize_outbound(actor)?;
        self.run_courier().await
    }

    /// Runs the courier every `every` until the process ends.
    pub fn spawn_courier(
        self: &Arc<Self>,
        every: std::time::Duration,
    ) -> tokio::task::JoinHandle<()> {
        let app = Arc::clone(self);
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(every);
            loop {
                tick.tick().await;
                match app.run_courier().await {
                    // Notifications nobody is reached for outside are not news.
                    Ok(r) if r.deliveries_queued + r.delivered + r.retrying + r.failed > 0 => {
                        tracing::info!(?r, "courier")
                    }
                    Ok(_) => {}
                    Err(e) => tracing::warn!(error = %e, "courier pass failed"),
                }
            }
        })
    }

    /// Outbound settings are system-wide: administrators at county level or above.
    fn authorize_outbound(&self, actor: &Actor) -> Result<()> {
        authorize_node(actor, Operation::ManageReference, &actor.scope_path)?;
        if actor.scope_path.matches('/').count() > 4 {
            return Err(DomainError::Forbidden.into());
        }
        Ok(())
    }

    pub async fn outbound_overview(&self, actor: &Actor) -> Result<OutboundOverview> {
        self.authorize_outbound(actor)?;
        let mut config = self.outbound_config().await?;
        if let Some(s) = config.smtp.as_mut() {
            s.password = s.password.as_ref().map(|_| "********".into());
        }
        Ok(OutboundOverview {
            config,
            webhooks: self.store.list_webhooks().await?,
            counts: self
                .store
                .delivery_counts()
                .await?
                .into_iter()
                .map(|(status, count)| StatusCount { status, count })
                .collect(),
            courier_running: self.courier().is_some(),
        })
    }

    /// Replaces the outbound settings. An SMTP password left as `********` keeps the stored one.
    pub async fn put_outbound_config(
        &self,
        actor: &Actor,
        mut cfg: OutboundConfig,
    ) -> Result<OutboundConfig> {
        self.authorize_outbound(actor)?;
        cfg.validate()?;
        if let Some(s) = cfg.smtp.as_mut() {
            if s.password.as_deref() == Some("********") {
                s.password = self.outbound_config().await?.smtp.and_then(|o| o.password);
            }
        }
        let json = serde_json::to_string(&cfg).map_err(|e| AppError::Internal(e.to_string()))?;
        self.store.put_setting(CONFIG_KEY, &json).await?;
        // What changed, without the SMTP password.
        let mut shown = serde_json::to_value(&cfg).unwrap_or_default();
        if let Some(p) = shown.pointer_mut("/smtp/password") {
            *p = serde_json::Value::from("********");
        }
        self.audit_actor(
            actor,
            AuditAction::ConfigChanged,
            "setting:outbound",
            "ok",
            shown,
        )
        .await?;
        Ok(cfg)
    }

    pub async fn create_webhook(&self, actor: &Actor, input: &WebhookInput) -> Result<Webhook> {
        self.authorize_outbound(actor)?;
        let input = WebhookInput {
            url: input.url.trim().to_string(),
            secret: input.secret.clone(),
            kinds: input
                .kinds
                .iter()
                .map(|k| k.trim().to_string())
                .filter(|k| !k.is_empty())
                .collect(),
        };
        input.validate()?;
        let hook = self.store.insert_webhook(&input, self.now()).await?;
        self.audit_actor(
            actor,
            AuditAction::ConfigChanged,
            &format!("webhook:{}", hook.id),
            "ok",
            serde_json::json!({"op": "create", "url": input.url, "kinds": input.kinds}),
        )
        .await?;
        Ok(hook)
    }

    pub async fn set_webhook_active(&self, actor: &Actor, id: i64, active: bool) -> Result<()> {
        self.authorize_outbound(actor)?;
        self.store
            .set_webhook_active(id, active)
            .await
            .map_err(|e| match e {
                fengqiao_store::StoreError::NotFound => AppError::NotFound("webhook"),
                other => other.into(),
            })?;
        self.audit_actor(
            actor,
            AuditAction::ConfigChanged,
            &format!("webhook:{id}"),
            "ok",
            serde_json::json!({"op": "active", "active": active}),
        )
        .await
    }

    /// The queue, newest first; phones masked.
    pub async fn deliveries(
        &self,
        actor: &Actor,
        status: Option<DeliveryStatus>,
        limit: u32,
    ) -> Result<Vec<Delivery>> {
        self.authorize_outbound(actor)?;
        let mut list = self
            .store
            .list_deliveries(status, limit.clamp(1, 500))
            .await?;
        for d in &mut list {
            d.target = d.shown_target();
        }
        Ok(list)
    }

    /// Puts a failed delivery back in the queue.
    pub async fn retry_delivery(&self, actor: &Actor, id: i64) -> Result<()> {
        self.authorize_outbound(actor)?;
        self.store
            .retry_delivery(id, self.now())
            .await
            .map_err(|e| match e {
                fengqiao_store::StoreError::NotFound => AppError::NotFound("delivery"),
                other => other.into(),
            })
    }

    /// A user's contact is theirs and their administrators'.
    async fn authorize_contact(&self, actor: &Actor, user_id: i64) -> Result<()> {
        if actor.user_id != user_id {
            let user = self
                .store
                .get_user(user_id)
                .await?
                .ok_or(AppError::NotFound("user"))?;
            authorize_node(actor, Operation::ManageReference, &user.scope_path)?;
        }
        Ok(())
    }

    /// Sets how a user is reached: the user themself, or an administrator of their scope.
    pub async fn set_contact(
        &self,
        actor: &Actor,
        user_id: i64,
        contact: &Contact,
    ) -> Result<Contact> {
        self.authorize_contact(actor, user_id).await?;
        let c = contact.normalized()?;
        self.store.set_contact(user_id, &c).await?;
        self.audit_actor(
            actor,
            AuditAction::UserChanged,
            &format!("user:{user_id}"),
            "ok",
            serde_json::json!({"op": "contact", "contact": c.masked()}),
        )
        .await?;
        Ok(c.masked())
    }

    /// A user's contact as shown (phone masked): the user themself or an administrator.
    pub async fn contact(&self, actor: &Actor, user_id: i64) -> Result<Contact> {
        self.authorize_contact(actor, user_id).await?;
        Ok(self
            .store
            .contacts(&[user_id])
            .await?
            .into_iter()
            .next()
            .map(|(_, c)| c.masked())
            .unwrap_or_default())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_signature_is_hmac_sha256_of_timestamp_dot_body() {
        // Computed independently with Python's hmac module.
        let sig = webhook_signature("Jefe", 1_700_000_000, br#"{"kind":"summons"}"#);
        assert_eq!(
            sig,
            "sha256=70bf17da14adefbcfec0a8555b9f773ce2d09949d767d62b1ef940b4cf5d3cc5"
        );
    }
}
