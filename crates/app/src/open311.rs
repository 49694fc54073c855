//! Open311 GeoReport v2 (<http://wiki.open311.org/GeoReport_v2>) on top of cases, so any
//! Open311 client can submit disputes and follow them.
//!
//! - A *service* is a dispute type (`service_code` = the type's code, e.g. `neighbourhood`);
//!   its definition lists the extra fields a request may carry (people involved, amount,
//!   when it happened).
//! - A *request* is a case registered through channel `open311`. `jurisdiction_id` names the
//!   jurisdiction node (a village or grid code); without it `address_string` is read for a
//!   place name. `service_request_id` is the case id; the `token` is its tracking code.
//! - `api_key` is a session token of an account (a service account with the grid-worker or
//!   dispatcher role, say): submitting and reading both need one, and a key sees the cases its
//!   account may see. Descriptions are returned with personal numbers masked.
//!
//! The HTTP layer renders the answers as JSON or XML.
use crate::cases::{CaseInput, CaseQuery, PartyInput};
use crate::{App, AppError, Result};
use chrono::{NaiveDate, TimeZone};
use fengqiao_domain::access::Actor;
use fengqiao_domain::case::{Channel, DisputeType, PartyRole};
use fengqiao_domain::time::{cst, Millis};
use fengqiao_domain::validate::mask_numbers_in_text;
use fengqiao_domain::DomainError;
use serde::Serialize;
use std::collections::BTreeMap;

/// A service: one dispute type.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Service {
    pub service_code: String,
    pub service_name: String,
    pub description: String,
    pub metadata: bool,
    #[serde(rename = "type")]
    pub kind: &'static str,
    pub keywords: String,
    pub group: String,
}

/// The extra fields of a service's requests.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ServiceDefinition {
    pub service_code: String,
    pub attributes: Vec<ServiceAttribute>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ServiceAttribute {
    pub variable: bool,
    pub code: &'static str,
    pub datatype: &'static str,
    pub required: bool,
    pub datatype_description: &'static str,
    pub order: u32,
    pub description: &'static str,
}

/// What a client submits (form fields of `POST requests`).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct NewRequest {
    pub service_code: String,
    pub jurisdiction_id: Option<String>,
    pub lat: Option<f64>,
    pub long: Option<f64>,
    pub address_string: Option<String>,
    pub description: Option<String>,
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    pub phone: Option<String>,
    /// `attribute[code]` values.
    pub attributes: BTreeMap<String, String>,
}

/// The answer to a submission.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RequestResponse {
    pub service_request_id: String,
    pub token: String,
    pub service_notice: String,
}

/// A request as clients read it. Absent values are left out (the schema has no nulls).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ServiceRequest {
    pub service_request_id: String,
    pub status: &'static str,
    pub status_notes: String,
    pub service_name: String,
    pub service_code: String,
    pub description: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub agency_responsible: Option<String>,
    pub requested_datetime: String,
    pub updated_datetime: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expected_datetime: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub address: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub lat: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub long: Option<f64>,
}

/// `GET requests` filters.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RequestFilter {
    /// Comma-separated ids (the other filters are then ignored, as the spec says).
    pub service_request_id: Option<String>,
    pub service_code: Option<String>,
    pub start_date: Option<String>,
    pub end_date: Option<String>,
    pub status: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TokenResponse {
    pub service_request_id: String,
    pub token: String,
}

/// At most this many requests a listing (the spec's default limit).
const MAX_REQUESTS: usize = 1000;
/// A listing without dates covers this many days back (the spec's default span).
const DEFAULT_SPAN_DAYS: i64 = 90;

const ATTRIBUTES: [ServiceAttribute; 3] = [
    ServiceAttribute {
        variable: true,
        code: "people_involved",
        datatype: "number",
        required: false,
        datatype_description: "整数 / a whole number",
        order: 1,
        description: "涉及人数 / people involved",
    },
    ServiceAttribute {
        variable: true,
        code: "amount_yuan",
        datatype: "number",
        required: false,
        datatype_description: "元 / yuan",
        order: 2,
        description: "涉及金额 / amount involved",
    },
    ServiceAttribute {
        variable: true,
        code: "occurred_at",
        datatype: "datetime",
        required: false,
        datatype_description: "ISO 8601",
        order: 3,
        description: "纠纷发生时间 / when it happened",
    },
];

/// RFC 3339 in China time (`2025-03-03T09:00:00+08:00`).
pub fn datetime(ms: Millis) -> String {
    cst()
        .timestamp_millis_opt(ms)
        .single()
        .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, false))
        .unwrap_or_default()
}

fn parse_instant(s: &str) -> Option<Millis> {
    if let Ok(t) = chrono::DateTime::parse_from_rfc3339(s.trim()) {
        return Some(t.timestamp_millis());
    }
    let d = NaiveDate::parse_from_str(s.trim(), "%Y-%m-%d").ok()?;
    cst()
        .from_local_datetime(&d.and_hms_opt(0, 0, 0)?)
        .single()
        .map(|t| t.timestamp_millis())
}

fn bad(field: &'static str, reason: impl Into<String>) -> AppError {
    DomainError::validation(field, reason).into()
}

fn service_of(code: &str) -> Result<DisputeType> {
    DisputeType::parse(code).ok_or(AppError::NotFound("service"))
}

impl App {
    /// Every dispute type as a service.
    pub fn open311_services(&self) -> Vec<Service> {
        DisputeType::ALL
            .iter()
            .map(|t| Service {
                service_code: t.as_str().to_string(),
                service_name: format!("{}纠纷", t.zh()),
                description: format!("{}类矛盾纠纷（{}）", t.zh(), t.as_str()),
                metadata: true,
                kind: "realtime",
                keywords: format!("{},矛盾纠纷,{}", t.zh(), t.as_str()),
                group: "矛盾纠纷".into(),
            })
            .collect()
    }

    pub fn open311_definition(&self, code: &str) -> Result<ServiceDefinition> {
        let t = service_of(code)?;
        Ok(ServiceDefinition {
            service_code: t.as_str().to_string(),
            attributes: ATTRIBUTES.to_vec(),
        })
    }

    /// Registers a request as a case (channel `open311`) for the key's account.
    pub async fn open311_submit(
        &self,
        actor: &Actor,
        r: &NewRequest,
    ) -> Result<Vec<RequestResponse>> {
        let t = service_of(&r.service_code)?;
        let text = r
            .description
            .as_deref()
            .map(str::trim)
            .filter(|d| !d.is_empty())
            .ok_or_else(|| bad("description", "required: what the dispute is about"))?;
        let node_code =
            match (&r.jurisdiction_id, &r.address_string) {
                (Some(j), _) if !j.trim().is_empty() => j.trim().to_string(),
                (_, Some(a)) if !a.trim().is_empty() => self.place_code(a).await?,
                _ => return Err(bad(
                    "jurisdiction_id",
                    "a jurisdiction_id (village or grid code) or an address_string naming a place",
                )),
            };
        let number = |code: &'static str| -> Result<Option<f64>> {
            match r
                .attributes
                .get(code)
                .map(|v| v.trim())
                .filter(|v| !v.is_empty())
            {
                None => Ok(None),
                Some(v) => v
                    .parse::<f64>()
                    .ok()
                    .filter(|x| x.is_finite() && *x >= 0.0)
                    .map(Some)
                    .ok_or_else(|| bad(code, "not a number")),
            }
        };
        let occurred_at = match r
            .attributes
            .get("occurred_at")
            .filter(|v| !v.trim().is_empty())
        {
            None => None,
            Some(v) => Some(parse_instant(v).ok_or_else(|| bad("occurred_at", "not a date"))?),
        };
        let name = [r.last_name.as_deref(), r.first_name.as_deref()]
            .into_iter()
            .flatten()
            .map(str::trim)
            .collect::<String>();
        let coordinates = match (r.long, r.lat) {
            (Some(lon), Some(lat))
                if (-180.0..=180.0).contains(&lon) && (-90.0..=90.0).contains(&lat) =>
            {
                Some([lon, lat])
            }
            (None, None) => None,
            _ => return Err(bad("lat", "lat and long must both be given, in range")),
        };
        let phone = r.phone.clone().filter(|p| !p.trim().is_empty());
        let input = CaseInput {
            channel: Channel::Open311,
            text: text.to_string(),
            parties: if name.is_empty() && phone.is_none() {
                Vec::new()
            } else {
                vec![PartyInput {
                    name: if name.is_empty() {
                        "群众".into()
                    } else {
                        name
                    },
                    role: PartyRole::Applicant,
                    id_number: None,
                    phone,
                    address: r.address_string.clone(),
                }]
            },
            dispute_type: Some(t),
            subtype: None,
            node_code,
            address: r.address_string.clone(),
            coordinates,
            occurred_at,
            complexity: None,
            risk_level: None,
            amount_fen: number("amount_yuan")?.map(|y| (y * 100.0).round() as i64),
            people_involved: number("people_involved")?.map(|n| n.round() as u32),
        };
        let (case, _) = self.submit_case(Some(actor), &input, None).await?;
        let rules = self.rules();
        Ok(vec![RequestResponse {
            service_request_id: case.id.to_string(),
            token: case.state.tracking_code.clone(),
            service_notice: format!(
                "已受理。简易纠纷{}个工作日、复杂纠纷{}个工作日内办结。",
                rules.simple_days, rules.complex_days
            ),
        }])
    }

    /// The node a place name in an address names (the most specific one).
    async fn place_code(&self, address: &str) -> Result<String> {
        let a = self.analyze_text(address, None).await?;
        a.places
            .iter()
            .filter_map(|p| p.node_code.clone())
            .max_by_key(String::len)
            .ok_or_else(|| bad("address_string", "names no known place"))
    }

    /// Requests the key's account may see, newest first.
    pub async fn open311_requests(
        &self,
        actor: &Actor,
        f: &RequestFilter,
    ) -> Result<Vec<ServiceRequest>> {
        if let Some(ids) = f
            .service_request_id
            .as_deref()
            .filter(|s| !s.trim().is_empty())
        {
            let mut out = Vec::new();
            for id in ids.split(',').map(str::trim).filter(|s| !s.is_empty()) {
                // Ids of cases out of sight (or not numbers) are simply not found.
                if let Ok(r) = self.open311_request(actor, id).await {
                    out.push(r);
                }
            }
            return Ok(out);
        }
        let now = self.now();
        let to = match f.end_date.as_deref().filter(|s| !s.is_empty()) {
            Some(s) => parse_instant(s).ok_or_else(|| bad("end_date", "not a date"))?,
            None => now + 1,
        };
        let from = match f.start_date.as_deref().filter(|s| !s.is_empty()) {
            Some(s) => parse_instant(s).ok_or_else(|| bad("start_date", "not a date"))?,
            None => to - DEFAULT_SPAN_DAYS * 86_400_000,
        };
        let open = match f.status.as_deref().filter(|s| !s.is_empty()) {
            None => None,
            Some("open") => Some(true),
            Some("closed") => Some(false),
            Some(_) => return Err(bad("status", "open or closed")),
        };
        let dispute_type = match f.service_code.as_deref().filter(|s| !s.is_empty()) {
            Some(c) => Some(service_of(c)?),
            None => None,
        };
        let mut out = Vec::new();
        let mut before_id = None;
        while out.len() < MAX_REQUESTS {
            let q = CaseQuery {
                dispute_type,
                from: Some(from),
                to: Some(to),
                before_id,
                limit: Some(500),
                ..CaseQuery::default()
            };
            let (page, next, _) = self.list_case_states(actor, &q).await?;
            for c in &page {
                if open.is_none_or(|o| c.state.status.is_open() == o) && out.len() < MAX_REQUESTS {
                    out.push(self.service_request(c).await);
                }
            }
            match next {
                Some(n) => before_id = Some(n),
                None => break,
            }
        }
        Ok(out)
    }

    /// One request by id; "not found" for ids out of the account's sight.
    pub async fn open311_request(&self, actor: &Actor, id: &str) -> Result<ServiceRequest> {
        let id: i64 = id.trim().parse().map_err(|_| AppError::NotFound("case"))?;
        let c = self.load_visible(actor, id).await?;
        Ok(self.service_request(&c).await)
    }

    /// The request a token (tracking code) stands for, if the account may see it.
    pub async fn open311_token(&self, actor: &Actor, token: &str) -> Result<TokenResponse> {
        let c = self
            .store
            .find_case_by_tracking_code(&token.trim().to_ascii_uppercase())
            .await?
            .ok_or(AppError::NotFound("case"))?;
        let c = self.load_visible(actor, c.id).await?;
        Ok(TokenResponse {
            service_request_id: c.id.to_string(),
            token: c.state.tracking_code,
        })
    }

    async fn service_request(&self, c: &fengqiao_store::StoredCase) -> ServiceRequest {
        let s = &c.state;
        let agency = match s.lead_unit_id {
            Some(u) => self.store.get_unit(u).await.ok().flatten().map(|u| u.name),
            None => None,
        };
        let updated = self
            .store
            .case_events(c.id)
            .await
            .ok()
            .and_then(|e| e.last().map(|e| e.at))
            .unwrap_or(s.registered_at);
        ServiceRequest {
            service_request_id: c.id.to_string(),
            status: if s.status.is_open() { "open" } else { "closed" },
            status_notes: s.status.zh().to_string(),
            service_name: format!("{}纠纷", s.dispute_type.zh()),
            service_code: s.dispute_type.as_str().to_string(),
            description: mask_numbers_in_text(&s.text),
            agency_responsible: agency,
            requested_datetime: datetime(s.registered_at),
            updated_datetime: datetime(updated),
            expected_datetime: s.deadline.as_ref().and_then(|d| {
                cst()
                    .from_local_datetime(&d.due.and_hms_opt(23, 59, 59)?)
                    .single()
                    .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, false))
            }),
            address: s.location.address.clone(),
            lat: s.location.coordinates.map(|c| c[1]),
            long: s.location.coordinates.map(|c| c[0]),
        }
    }
}
