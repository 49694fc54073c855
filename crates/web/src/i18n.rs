//! UI text from the translation files (`locales/zh-CN.json`, `locales/en.json`, section
//! `ui`), Simplified Chinese first; the choice is a `lang` cookie set by `/lang/{lang}`.
use axum::extract::{FromRequestParts, Path, Query};
use axum::http::request::Parts;
use axum::http::{header, HeaderMap};
use axum::response::{IntoResponse, Redirect};
use fengqiao_domain::access::Role;
use fengqiao_domain::case::{Channel, Complexity, DisputeType, Light, RiskLevel, Status};
use fengqiao_domain::unit::UnitKind;
use serde::Deserialize;
use std::collections::HashMap;
use std::sync::LazyLock;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lang {
    Zh,
    En,
}

type Strings = HashMap<String, String>;

fn load(json: &str) -> Strings {
    fn walk(prefix: &str, v: &serde_json::Value, out: &mut Strings) {
        match v {
            serde_json::Value::Object(m) => {
                for (k, v) in m {
                    let key = if prefix.is_empty() {
                        k.clone()
                    } else {
                        format!("{prefix}.{k}")
                    };
                    walk(&key, v, out);
                }
            }
            serde_json::Value::String(s) => {
                out.insert(prefix.to_string(), s.clone());
            }
            _ => {}
        }
    }
    let mut out = Strings::new();
    if let Ok(v) = serde_json::from_str::<serde_json::Value>(json) {
        if let Some(ui) = v.get("ui") {
            walk("", ui, &mut out);
        }
        if let Some(errors) = v.get("errors") {
            walk("errors", errors, &mut out);
        }
    }
    out
}

static ZH: LazyLock<Strings> = LazyLock::new(|| load(include_str!("../../../locales/zh-CN.json")));
static EN: LazyLock<Strings> = LazyLock::new(|| load(include_str!("../../../locales/en.json")));

/// The translator of one request.
#[derive(Debug, Clone, Copy)]
pub struct Tr {
    pub lang: Lang,
}

impl Tr {
    fn strings(&self) -> &'static Strings {
        match self.lang {
            Lang::Zh => &ZH,
            Lang::En => &EN,
        }
    }

    /// The text of a key; the key itself when a translation is missing (a test checks that
    /// both files have the same keys).
    pub fn s<'a>(&self, key: &'a str) -> &'a str {
        match self.strings().get(key) {
            Some(v) => v.as_str(),
            None => key,
        }
    }

    /// `lang` attribute of the page.
    pub fn code(&self) -> &'static str {
        match self.lang {
            Lang::Zh => "zh-CN",
            Lang::En => "en",
        }
    }

    /// The other language, for the switch.
    pub fn other(&self) -> (&'static str, &'static str) {
        match self.lang {
            Lang::Zh => ("en", "English"),
            Lang::En => ("zh-CN", "中文"),
        }
    }

    /// The name of a coded value (`status`, `type`, `light`, `channel`, `role`, `risk`,
    /// `complexity`, `unit_kind`, or any other kind listed in the translation files). Chinese
    /// names come from the domain's own labels.
    pub fn label(&self, kind: &str, code: &str) -> String {
        if self.lang == Lang::Zh {
            let zh = match kind {
                "status" => Status::parse(code).map(|v| v.zh()),
                "type" => DisputeType::parse(code).map(|v| v.zh()),
                "light" => Light::parse(code).map(|v| v.zh()),
                "channel" => Channel::parse(code).map(|v| v.zh()),
                "role" => Role::parse(code).map(|v| v.zh()),
                "risk" => RiskLevel::parse(code).map(|v| v.zh()),
                "complexity" => Complexity::parse(code).map(|v| v.zh()),
                "unit_kind" => UnitKind::parse(code).map(|v| v.zh()),
                "specialty" => fengqiao_domain::expert::Specialty::parse(code).map(|v| v.zh()),
                "export_status" => {
                    fengqiao_domain::export::ExportStatus::parse(code).map(|v| v.zh())
                }
                _ => None,
            };
            if let Some(zh) = zh {
                return zh.to_string();
            }
        }
        let key = format!("{kind}.{code}");
        match self.strings().get(&key) {
            Some(v) => v.clone(),
            None => code.replace('_', " "),
        }
    }
}

fn from_headers(headers: &HeaderMap) -> Lang {
    let cookie = crate::session::cookie(headers, "lang");
    match cookie.as_deref() {
        Some("en") => Lang::En,
        _ => Lang::Zh,
    }
}

impl<S: Send + Sync> FromRequestParts<S> for Tr {
    type Rejection = std::convert::Infallible;
    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        Ok(Tr {
            lang: from_headers(&parts.headers),
        })
    }
}

#[derive(Deserialize)]
pub struct Back {
    back: Option<String>,
}

/// Sets the language cookie and returns to the page (only local paths).
pub async fn switch(
    Path(lang): Path<String>,
    Query(b): Query<Back>,
    headers: axum::http::HeaderMap,
) -> impl IntoResponse {
    let lang = if lang == "en" { "en" } else { "zh-CN" };
    let local = |p: &str| p.starts_with('/') && !p.starts_with("//") && !p.starts_with("/lang/");
    // Back to `back`, else to the page the switch was pressed on (its Referer, when it is a
    // page of this server), else home: a party switching language stays in their room.
    let host = headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .unwrap_or("");
    let referer = headers
        .get(header::REFERER)
        .and_then(|r| r.to_str().ok())
        .and_then(|r| r.split_once("://"))
        .and_then(|(_, rest)| rest.strip_prefix(host))
        .filter(|p| !host.is_empty() && local(p))
        .map(str::to_string);
    let back = b
        .back
        .filter(|p| local(p))
        .or(referer)
        .unwrap_or_else(|| "/".into());
    (
        [(
            header::SET_COOKIE,
            format!("lang={lang}; Path=/; Max-Age=31536000; SameSite=Lax"),
        )],
        Redirect::to(&back),
    )
}

#[cfg(test)]
mod tests {
    #[test]
    fn both_languages_have_the_same_keys() {
        let mut zh: Vec<_> = super::ZH.keys().collect();
        let mut en: Vec<_> = super::EN.keys().collect();
        zh.sort();
        en.sort();
        assert!(zh.len() > 50, "ui strings missing: {}", zh.len());
        assert_eq!(zh, en);
    }
}
