//! Notifications that leave the system: by webhook, e-mail and SMS.
//!
//! Owns: the outbound configuration (SMTP server, SMS gateway URL template, which kinds go by
//! SMS), webhook subscriptions, the fan-out of one in-app notification into deliveries
//! ([`plan`]) and the retry schedule ([`retry_delay_ms`]). Sending is I/O and lives elsewhere;
//! the queue of deliveries lives in the database, so a restart loses nothing.
use crate::time::Millis;
use crate::validate::{mask_middle, PhoneNumber};
use crate::DomainError;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

crate::unit::labelled_enum!(
    /// How a delivery travels.
    Medium {
        Webhook = "webhook" / "Webhook",
        Email = "email" / "电子邮件",
        Sms = "sms" / "短信",
    }
);

crate::unit::labelled_enum!(
    /// Where a delivery stands: waiting (first try or a retry), delivered, or given up.
    DeliveryStatus {
        Pending = "pending" / "待发送",
        Delivered = "delivered" / "已送达",
        Failed = "failed" / "发送失败",
    }
);

/// Attempts before a delivery is given up (then it waits for an administrator's retry).
pub const MAX_ATTEMPTS: u32 = 10;

/// How long to wait after the `attempts`-th failed attempt: 1 minute, doubling, at most
/// 4 hours; `None` once [`MAX_ATTEMPTS`] are spent (about 8 hours after the first try).
pub fn retry_delay_ms(attempts: u32) -> Option<Millis> {
    if attempts >= MAX_ATTEMPTS {
        return None;
    }
    let minutes = 1i64 << attempts.saturating_sub(1).min(8);
    Some(minutes.min(240) * 60_000)
}

/// An SMTP relay (plain SMTP, as government intranet relays usually are; AUTH PLAIN when a
/// user name is set).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct SmtpConfig {
    pub host: String,
    pub port: u16,
    /// The sender address.
    pub from: String,
    #[serde(default)]
    pub username: Option<String>,
    #[serde(default)]
    pub password: Option<String>,
}

crate::unit::labelled_enum!(
    HttpMethod {
        Get = "GET" / "GET",
        Post = "POST" / "POST",
    }
);

/// An SMS gateway reached by HTTP: `{phone}` and `{text}` in the URL (URL-encoded) and in the
/// optional body (as they are) are replaced per message.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct SmsConfig {
    pub url_template: String,
    pub method: HttpMethod,
    #[serde(default)]
    pub body_template: Option<String>,
    /// Notification kinds sent by SMS (SMS is for what cannot wait); empty = none.
    #[serde(default)]
    pub kinds: Vec<String>,
}

/// The outbound settings an administrator keeps (setting `outbound`).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize, ToSchema)]
pub struct OutboundConfig {
    #[serde(default)]
    pub smtp: Option<SmtpConfig>,
    #[serde(default)]
    pub sms: Option<SmsConfig>,
}

/// The kinds an SMS gateway gets unless told otherwise: supervision, summons, red warnings.
pub const DEFAULT_SMS_KINDS: &[&str] = &["supervision_opened", "supervision_escalated", "summons"];

impl OutboundConfig {
    pub fn validate(&self) -> Result<(), DomainError> {
        if let Some(s) = &self.smtp {
            if s.host.trim().is_empty() || s.port == 0 {
                return Err(DomainError::validation(
                    "smtp",
                    "host and port are required",
                ));
            }
            if !looks_like_email(&s.from) {
                return Err(DomainError::validation(
                    "smtp.from",
                    "not an e-mail address",
                ));
            }
        }
        if let Some(s) = &self.sms {
            check_http_url(&s.url_template, "sms.url_template")?;
            if !s.url_template.contains("{phone}")
                && !s.body_template.as_deref().unwrap_or("").contains("{phone}")
            {
                return Err(DomainError::validation(
                    "sms.url_template",
                    "the URL or the body must contain {phone}",
                ));
            }
        }
        Ok(())
    }
}

/// A subscriber: every notification of the kinds it wants is POSTed to its URL as JSON,
/// signed with HMAC-SHA256 over `timestamp.body` with its secret.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Webhook {
    pub id: i64,
    pub url: String,
    /// Never shown again after creation.
    #[serde(skip_serializing)]
    pub secret: String,
    /// Notification kinds wanted (empty = every kind), and case events (`case.routed`,
    /// `case.*`…), which are only sent when named.
    pub kinds: Vec<String>,
    pub active: bool,
    pub created_at: Millis,
}

impl Webhook {
    /// Notifications: every kind when `kinds` is empty. Case events (`case.<action>`) only
    /// when subscribed to by name or with `case.*`.
    pub fn wants(&self, kind: &str) -> bool {
        if !self.active {
            return false;
        }
        if kind.starts_with(CASE_EVENT_PREFIX) {
            let all = format!("{CASE_EVENT_PREFIX}*");
            self.kinds.iter().any(|k| k == kind || *k == all)
        } else {
            self.kinds.is_empty() || self.kinds.iter().any(|k| k == kind)
        }
    }
}

/// A webhook as an administrator enters it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct WebhookInput {
    pub url: String,
    pub secret: String,
    #[serde(default)]
    pub kinds: Vec<String>,
}

impl WebhookInput {
    pub fn validate(&self) -> Result<(), DomainError> {
        check_http_url(&self.url, "url")?;
        if self.secret.len() < 16 {
            return Err(DomainError::validation("secret", "at least 16 characters"));
        }
        Ok(())
    }
}

/// Only plain `http://` URLs: the binary carries no TLS client; put the receiver (or a
/// TLS-originating proxy) on the intranet.
fn check_http_url(url: &str, field: &'static str) -> Result<(), DomainError> {
    let rest = url
        .strip_prefix("http://")
        .ok_or_else(|| DomainError::validation(field, "must start with http://"))?;
    if rest.is_empty() || rest.starts_with('/') || url.chars().any(char::is_whitespace) {
        return Err(DomainError::validation(field, "no host"));
    }
    Ok(())
}

pub fn looks_like_email(s: &str) -> bool {
    let mut parts = s.split('@');
    match (parts.next(), parts.next(), parts.next()) {
        (Some(local), Some(domain), None) => {
            !local.is_empty()
                && domain.contains('.')
                && !domain.starts_with('.')
                && !domain.ends_with('.')
                && !s
                    .chars()
                    .any(|c| c.is_whitespace() || c.is_control() || "<>,;\"".contains(c))
        }
        _ => false,
    }
}

/// How a user can be reached outside the system.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize, ToSchema)]
pub struct Contact {
    #[serde(default)]
    pub email: Option<String>,
    /// A mainland mobile number (personal information: masked when shown).
    #[serde(default)]
    pub phone: Option<String>,
}

impl Contact {
    /// The contact checked and normalised: blank fields dropped, the phone's digits only.
    pub fn normalized(&self) -> Result<Contact, DomainError> {
        let blank = |s: &Option<String>| {
            s.as_deref()
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(str::to_string)
        };
        let email = blank(&self.email);
        if let Some(e) = &email {
            if !looks_like_email(e) {
                return Err(DomainError::validation("email", "not an e-mail address"));
            }
        }
        let phone = match blank(&self.phone) {
            Some(p) => Some(PhoneNumber::parse(&p)?.as_str().to_string()),
            None => None,
        };
        Ok(Contact { email, phone })
    }

    /// The contact as shown: the phone masked (3 + 4).
    pub fn masked(&self) -> Contact {
        Contact {
            email: self.email.clone(),
            phone: self.phone.as_deref().map(mask_phone),
        }
    }
}

/// The notification a delivery carries, as far as the outside may see it.
fn mask_phone(p: &str) -> String {
    mask_middle(p, 3, 4)
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Message {
    pub notification_id: i64,
    pub user_id: i64,
    pub username: String,
    pub case_id: Option<i64>,
    pub kind: String,
    pub title: String,
    pub body: String,
    pub created_at: Millis,
}

/// What a delivery carries: a notification to a user, or a case event to a webhook.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(tag = "source", rename_all = "snake_case")]
pub enum DeliverySource {
    Notification { notification_id: i64 },
    CaseEvent { case_id: i64, seq: u32 },
}

impl DeliverySource {
    /// From the two stored columns (exactly one is set).
    pub fn from_columns(notification_id: Option<i64>, event: Option<(i64, i64)>) -> Self {
        match (notification_id, event) {
            (Some(n), _) => DeliverySource::Notification { notification_id: n },
            (None, Some((case_id, seq))) => DeliverySource::CaseEvent {
                case_id,
                seq: u32::try_from(seq).unwrap_or(0),
            },
            (None, None) => DeliverySource::Notification { notification_id: 0 },
        }
    }

    pub fn notification_id(&self) -> Option<i64> {
        match self {
            DeliverySource::Notification { notification_id } => Some(*notification_id),
            DeliverySource::CaseEvent { .. } => None,
        }
    }

    /// (case id, event number) of a case event.
    pub fn event(&self) -> Option<(i64, i64)> {
        match self {
            DeliverySource::CaseEvent { case_id, seq } => Some((*case_id, i64::from(*seq))),
            DeliverySource::Notification { .. } => None,
        }
    }
}

/// One delivery to put in the queue.
#[derive(Debug, Clone, PartialEq)]
pub struct NewDelivery {
    pub source: DeliverySource,
    pub medium: Medium,
    /// The webhook's id, the e-mail address or the phone number.
    pub target: String,
    /// JSON of the [`Message`] or the [`CaseEventMessage`].
    pub payload: String,
}

/// A case event as webhooks subscribed to case events receive it: kind `case.<action>`, the
/// event as the API shows it (personal numbers masked).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct CaseEventMessage {
    pub kind: String,
    pub case_id: i64,
    pub seq: u32,
    pub at: Millis,
    pub actor_id: Option<i64>,
    pub tracking_code: String,
    /// The case's status now (after this and any later events).
    pub status: String,
    pub event: serde_json::Value,
}

/// The kind a webhook subscribes to for a case event with this action.
pub fn case_event_kind(action: &str) -> String {
    format!("{CASE_EVENT_PREFIX}{action}")
}

/// Kinds of case events start with this; `case.*` subscribes to them all.
pub const CASE_EVENT_PREFIX: &str = "case.";

/// The deliveries of one case event: every webhook subscribed to it.
pub fn plan_case_event(msg: &CaseEventMessage, webhooks: &[Webhook]) -> Vec<NewDelivery> {
    let payload = serde_json::to_string(msg).unwrap_or_default();
    webhooks
        .iter()
        .filter(|w| w.wants(&msg.kind))
        .map(|w| NewDelivery {
            source: DeliverySource::CaseEvent {
                case_id: msg.case_id,
                seq: msg.seq,
            },
            medium: Medium::Webhook,
            target: w.id.to_string(),
            payload: payload.clone(),
        })
        .collect()
}

/// The deliveries one notification makes: every webhook that wants its kind; an e-mail when
/// the user has an address and SMTP is configured; an SMS when the user has a phone, the
/// gateway is configured and the kind is one it carries.
pub fn plan(
    msg: &Message,
    contact: &Contact,
    cfg: &OutboundConfig,
    webhooks: &[Webhook],
) -> Vec<NewDelivery> {
    let payload = serde_json::to_string(msg).unwrap_or_default();
    let make = |medium, target: String| NewDelivery {
        source: DeliverySource::Notification {
            notification_id: msg.notification_id,
        },
        medium,
        target,
        payload: payload.clone(),
    };
    let mut out: Vec<NewDelivery> = webhooks
        .iter()
        .filter(|w| w.wants(&msg.kind))
        .map(|w| make(Medium::Webhook, w.id.to_string()))
        .collect();
    if let (Some(_), Some(email)) = (&cfg.smtp, &contact.email) {
        out.push(make(Medium::Email, email.clone()));
    }
    if let (Some(sms), Some(phone)) = (&cfg.sms, &contact.phone) {
        if sms.kinds.contains(&msg.kind) {
            out.push(make(Medium::Sms, phone.clone()));
        }
    }
    out
}

/// Replaces `{phone}` and `{text}`; `url` percent-encodes the values (UTF-8).
pub fn expand_template(template: &str, phone: &str, text: &str, url: bool) -> String {
    let enc = |s: &str| {
        if url {
            percent_encode(s)
        } else {
            s.to_string()
        }
    };
    template
        .replace("{phone}", &enc(phone))
        .replace("{text}", &enc(text))
}

fn percent_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len() * 3);
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// The short text an SMS carries: 【枫桥】title：body, at most 140 characters.
pub fn sms_text(msg: &Message) -> String {
    let full = format!("【枫桥】{}：{}", msg.title, msg.body);
    full.chars().take(140).collect()
}

/// What one attempt at a delivery came to.
#[derive(Debug, Clone, PartialEq)]
pub enum AttemptOutcome {
    Delivered {
        at: Millis,
    },
    /// Failed; try again at `next_at`.
    Retry {
        error: String,
        next_at: Millis,
    },
    /// Failed for the last time (or for good): an administrator may retry it.
    GaveUp {
        error: String,
    },
}

impl AttemptOutcome {
    /// The outcome of a failed attempt that was the `attempts`-th, at `now`.
    pub fn failed(error: String, attempts: u32, now: Millis) -> AttemptOutcome {
        match retry_delay_ms(attempts) {
            Some(d) => AttemptOutcome::Retry {
                error,
                next_at: now + d,
            },
            None => AttemptOutcome::GaveUp { error },
        }
    }
}

/// A queued delivery as stored.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Delivery {
    pub id: i64,
    #[serde(flatten)]
    pub source: DeliverySource,
    pub medium: Medium,
    pub target: String,
    pub payload: String,
    pub status: DeliveryStatus,
    pub attempts: u32,
    pub next_attempt_at: Millis,
    pub last_error: Option<String>,
    pub created_at: Millis,
    pub delivered_at: Option<Millis>,
}

impl Delivery {
    /// The target as shown to administrators: phones masked.
    pub fn shown_target(&self) -> String {
        match self.medium {
            Medium::Sms => mask_phone(&self.target),
            _ => self.target.clone(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn msg(kind: &str) -> Message {
        Message {
            notification_id: 7,
            user_id: 3,
            username: "u01".into(),
            case_id: Some(9),
            kind: kind.into(),
            title: "自动督办 FQ1".into(),
            body: "请于 2026-11-26 前回复".into(),
            created_at: 0,
        }
    }

    fn hook(id: i64, kinds: &[&str], active: bool) -> Webhook {
        Webhook {
            id,
            url: "http://127.0.0.1:9/h".into(),
            secret: "0123456789abcdef".into(),
            kinds: kinds.iter().map(|k| k.to_string()).collect(),
            active,
            created_at: 0,
        }
    }

    #[test]
    fn retries_double_from_a_minute_up_to_four_hours_then_stop() {
        let delays: Vec<_> = (1..=MAX_ATTEMPTS).map(retry_delay_ms).collect();
        assert_eq!(delays[0], Some(60_000));
        assert_eq!(delays[1], Some(120_000));
        assert_eq!(delays[6], Some(64 * 60_000));
        assert_eq!(delays[8], Some(240 * 60_000));
        assert_eq!(delays[9], None);
        assert!(retry_delay_ms(100).is_none());
    }

    #[test]
    fn a_notification_goes_to_the_webhooks_that_want_it_and_the_users_addresses() {
        let cfg = OutboundConfig {
            smtp: Some(SmtpConfig {
                host: "127.0.0.1".into(),
                port: 25,
                from: "fq@example.org".into(),
                username: None,
                password: None,
            }),
            sms: Some(SmsConfig {
                url_template: "http://gw/send?to={phone}&t={text}".into(),
                method: HttpMethod::Get,
                body_template: None,
                kinds: vec!["supervision_opened".into()],
            }),
        };
        let contact = Contact {
            email: Some("a@example.org".into()),
            phone: Some("13800138000".into()),
        };
        let hooks = [
            hook(1, &[], true),
            hook(2, &["case_routed"], true),
            hook(3, &[], false),
        ];
        let d = plan(&msg("supervision_opened"), &contact, &cfg, &hooks);
        let got: Vec<_> = d.iter().map(|d| (d.medium, d.target.as_str())).collect();
        assert_eq!(
            got,
            [
                (Medium::Webhook, "1"),
                (Medium::Email, "a@example.org"),
                (Medium::Sms, "13800138000")
            ]
        );
        // A kind the gateway does not carry: no SMS; no contact, no e-mail.
        let d = plan(&msg("case_routed"), &Contact::default(), &cfg, &hooks);
        let got: Vec<_> = d.iter().map(|d| (d.medium, d.target.as_str())).collect();
        assert_eq!(got, [(Medium::Webhook, "1"), (Medium::Webhook, "2")]);
    }

    #[test]
    fn templates_encode_for_urls_and_not_for_bodies() {
        let u = expand_template("http://gw/s?to={phone}&t={text}", "138", "督办 a&b", true);
        assert_eq!(u, "http://gw/s?to=138&t=%E7%9D%A3%E5%8A%9E%20a%26b");
        let b = expand_template("{\"to\":\"{phone}\"}", "138", "x", false);
        assert_eq!(b, "{\"to\":\"138\"}");
    }

    #[test]
    fn bad_settings_are_refused_with_the_field_named() {
        let bad = WebhookInput {
            url: "https://x.example.org/h".into(),
            secret: "0123456789abcdef".into(),
            kinds: vec![],
        };
        assert!(bad.validate().is_err());
        let short = WebhookInput {
            url: "http://x.example.org/h".into(),
            secret: "short".into(),
            kinds: vec![],
        };
        assert!(short.validate().is_err());
        assert!(Contact {
            email: Some("not-an-address".into()),
            phone: None
        }
        .normalized()
        .is_err());
        assert!(!looks_like_email("a@b"));
        assert!(looks_like_email("li.si@county.gov.cn"));
    }
}
