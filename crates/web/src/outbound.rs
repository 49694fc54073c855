//! The outbound page (admin): SMTP and SMS settings, webhooks, users' contacts, and the
//! delivery queue with its failures and a retry for each.
use crate::admin::{admin, form, frame, Frame};
use crate::i18n::Tr;
use crate::session::Web;
use crate::view::{error_message, fmt_ms, render};
use askama::Template;
use axum::body::Bytes;
use axum::extract::{Query, State};
use axum::response::{IntoResponse, Redirect, Response};
use fengqiao_app::{App, AppError};
use fengqiao_domain::outbound::{
    Contact, DeliveryStatus, HttpMethod, OutboundConfig, SmsConfig, SmtpConfig, WebhookInput,
    DEFAULT_SMS_KINDS,
};
use fengqiao_domain::DomainError;
use serde::Deserialize;
use std::sync::Arc;

pub struct HookRow {
    pub id: i64,
    pub url: String,
    pub kinds: String,
    pub active: bool,
}

pub struct DeliveryRow {
    pub id: i64,
    pub medium: String,
    pub target: String,
    pub kind: String,
    pub status: String,
    pub failed: bool,
    pub attempts: u32,
    pub next: String,
    pub error: String,
}

#[derive(Template)]
#[template(path = "admin_outbound.html")]
pub struct OutboundPage {
    pub t: Tr,
    pub signed_in: bool,
    pub csrf: String,
    pub f: Frame,
    pub smtp: SmtpConfig,
    pub sms: SmsConfig,
    pub sms_kinds: String,
    pub hooks: Vec<HookRow>,
    pub counts: Vec<(String, i64)>,
    pub courier_running: bool,
    pub deliveries: Vec<DeliveryRow>,
}

#[derive(Deserialize, Default)]
pub struct OutboundQuery {
    #[serde(default)]
    status: String,
    #[serde(default)]
    saved: Option<u8>,
}

pub async fn page(
    State(app): State<Arc<App>>,
    t: Tr,
    web: Web,
    Query(q): Query<OutboundQuery>,
) -> Response {
    show(&app, t, &web, &q.status, String::new(), q.saved.is_some()).await
}

async fn show(app: &App, t: Tr, web: &Web, status: &str, error: String, saved: bool) -> Response {
    let s = match admin(app, t, web, "/admin/outbound") {
        Ok(s) => s,
        Err(r) => return *r,
    };
    let overview = match app.outbound_overview(&s.actor).await {
        Ok(o) => o,
        Err(e) => return crate::view::error_page(t, &e, true, web.csrf()),
    };
    let wanted = DeliveryStatus::parse(status);
    let deliveries = app
        .deliveries(&s.actor, wanted, 100)
        .await
        .unwrap_or_default();
    let kind_of = |payload: &str| {
        serde_json::from_str::<fengqiao_domain::outbound::Message>(payload)
            .map(|m| m.title)
            .unwrap_or_default()
    };
    let page = OutboundPage {
        t,
        signed_in: true,
        csrf: web.csrf().to_string(),
        f: frame("outbound", error, saved),
        smtp: overview.config.smtp.clone().unwrap_or(SmtpConfig {
            host: String::new(),
            port: 25,
            from: String::new(),
            username: None,
            password: None,
        }),
        sms_kinds: overview
            .config
            .sms
            .as_ref()
            .map(|s| s.kinds.join(","))
            .unwrap_or_else(|| DEFAULT_SMS_KINDS.join(",")),
        sms: overview.config.sms.clone().unwrap_or(SmsConfig {
            url_template: String::new(),
            method: HttpMethod::Get,
            body_template: None,
            kinds: Vec::new(),
        }),
        hooks: overview
            .webhooks
            .iter()
            .map(|w| HookRow {
                id: w.id,
                url: w.url.clone(),
                kinds: if w.kinds.is_empty() {
                    t.s("outbound.all_kinds").to_string()
                } else {
                    w.kinds.join(", ")
                },
                active: w.active,
            })
            .collect(),
        counts: overview
            .counts
            .iter()
            .map(|c| (c.status.as_str().to_string(), c.count))
            .collect(),
        courier_running: overview.courier_running,
        deliveries: deliveries
            .iter()
            .map(|d| DeliveryRow {
                id: d.id,
                medium: t
                    .s(&format!("outbound.medium_{}", d.medium.as_str()))
                    .to_string(),
                target: d.target.clone(),
                kind: kind_of(&d.payload),
                status: t
                    .s(&format!("outbound.status_{}", d.status.as_str()))
                    .to_string(),
                failed: d.status == DeliveryStatus::Failed,
                attempts: d.attempts,
                next: if d.status == DeliveryStatus::Pending {
                    fmt_ms(d.next_attempt_at)
                } else {
                    d.delivered_at.map(fmt_ms).unwrap_or_default()
                },
                error: d.last_error.clone().unwrap_or_default(),
            })
            .collect(),
    };
    render(&page)
}

fn opt(s: &str) -> Option<String> {
    let s = s.trim();
    (!s.is_empty()).then(|| s.to_string())
}

fn kinds(s: &str) -> Vec<String> {
    s.split([',', '，', ' '])
        .map(str::trim)
        .filter(|k| !k.is_empty())
        .map(str::to_string)
        .collect()
}

/// `POST /admin/outbound`: one of the page's forms, told apart by `op`.
pub async fn post(State(app): State<Arc<App>>, t: Tr, web: Web, body: Bytes) -> Response {
    let (s, f) = match form(t, &web, "/admin/outbound", &body) {
        Ok(x) => x,
        Err(r) => return *r,
    };
    let id = || {
        f.get("id")
            .parse::<i64>()
            .map_err(|_| AppError::from(DomainError::validation("id", "invalid")))
    };
    let result: Result<(), AppError> = async {
        match f.get("op") {
            "config" => {
                let smtp = match opt(f.get("smtp_host")) {
                    Some(host) => Some(SmtpConfig {
                        host,
                        port: f.get("smtp_port").parse().map_err(|_| {
                            AppError::from(DomainError::validation("smtp.port", "invalid"))
                        })?,
                        from: f.get("smtp_from").to_string(),
                        username: opt(f.get("smtp_username")),
                        password: opt(f.get("smtp_password")),
                    }),
                    None => None,
                };
                let sms = opt(f.get("sms_url")).map(|url_template| SmsConfig {
                    url_template,
                    method: HttpMethod::parse(f.get("sms_method")).unwrap_or(HttpMethod::Get),
                    body_template: opt(f.get("sms_body")),
                    kinds: kinds(f.get("sms_kinds")),
                });
                app.put_outbound_config(&s.actor, OutboundConfig { smtp, sms })
                    .await
                    .map(|_| ())
            }
            "webhook" => app
                .create_webhook(
                    &s.actor,
                    &WebhookInput {
                        url: f.get("url").to_string(),
                        secret: f.get("secret").to_string(),
                        kinds: kinds(f.get("kinds")),
                    },
                )
                .await
                .map(|_| ()),
            "toggle" => {
                app.set_webhook_active(&s.actor, id()?, f.get("active") == "1")
                    .await
            }
            "retry" => app.retry_delivery(&s.actor, id()?).await,
            "contact" => {
                let user = app
                    .store
                    .get_user_by_username(f.get("username"))
                    .await?
                    .ok_or(AppError::NotFound("user"))?;
                app.set_contact(
                    &s.actor,
                    user.id,
                    &Contact {
                        email: opt(f.get("email")),
                        phone: opt(f.get("phone")),
                    },
                )
                .await
                .map(|_| ())
            }
            "run" => app.run_courier_as(&s.actor).await.map(|_| ()),
            _ => Err(DomainError::validation("op", "unknown").into()),
        }
    }
    .await;
    match result {
        Ok(()) => Redirect::to("/admin/outbound?saved=1").into_response(),
        Err(e) => show(&app, t, &web, "", error_message(&t, &e), false).await,
    }
}
