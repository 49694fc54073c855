//! The monthly analysis report (`/reports/monthly`: HTML, PDF, XLSX) and the health checks
//! (`/reports/health`).
//!
//! A report is first laid out as a [`ReportDoc`] — sections of a heading, a chart, a table and
//! paragraphs, every figure already formatted — and that one document is rendered three ways:
//! as a page, typeset by Typst (`typst/report.typ`, figures read from JSON, charts as SVG
//! files) and as a workbook with a sheet per table. The three cannot disagree.
use crate::i18n::Tr;
use crate::session::Web;
use crate::staff::to_login;
use crate::view::{error_page, render};
use askama::Template;
use axum::extract::{Query, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use fengqiao_app::reports::{HealthCheck, MonthlyReport, Row, Subject};
use fengqiao_app::{App, AppError};
use fengqiao_domain::indicators::Score;
use fengqiao_pdf::Document;
use rust_xlsxwriter::{Format, Workbook, XlsxError};
use serde::{Deserialize, Serialize};
use std::sync::Arc;

const TEMPLATE: &str = include_str!("../typst/report.typ");

#[derive(Debug, Deserialize, Default)]
pub struct ReportParams {
    #[serde(default)]
    pub node: Option<String>,
    #[serde(default)]
    pub month: Option<String>,
    #[serde(default)]
    pub unit: Option<i64>,
    /// `html` (default), `pdf` or `xlsx`.
    #[serde(default)]
    pub format: Option<String>,
}

fn nonempty(s: &Option<String>) -> Option<&str> {
    s.as_deref().filter(|s| !s.is_empty())
}

/// A table of formatted cells.
#[derive(Debug, Clone, Serialize, Default)]
pub struct Table {
    pub head: Vec<String>,
    pub rows: Vec<Vec<String>>,
}

/// A section of a report.
#[derive(Debug, Clone, Serialize, Default)]
pub struct Section {
    pub heading: String,
    pub paras: Vec<String>,
    /// The chart's file name in the PDF (`<n>.svg`); the SVG itself is in `svg`.
    pub chart: Option<String>,
    #[serde(skip)]
    pub svg: Option<String>,
    pub table: Option<Table>,
    /// The sheet name in the workbook.
    #[serde(skip)]
    pub sheet: String,
}

/// A report laid out for every format.
#[derive(Debug, Clone, Serialize)]
pub struct ReportDoc {
    pub lang: String,
    pub title: String,
    pub subtitle: String,
    pub sections: Vec<Section>,
}

/// The ISO 639 language of the reader (what Typst's `lang` takes).
fn lang_code(t: &Tr) -> String {
    t.code().split('-').next().unwrap_or("zh").to_string()
}

pub fn pct(x: Option<f64>) -> String {
    x.map(|v| format!("{:.1}%", v * 100.0))
        .unwrap_or_else(|| "—".into())
}

fn dec(x: Option<f64>) -> String {
    x.map(|v| format!("{v:.2}")).unwrap_or_else(|| "—".into())
}

fn change(x: Option<f64>) -> String {
    match x {
        Some(v) if v > 0.0 => format!("+{:.1}%", v * 100.0),
        Some(v) => format!("{:.1}%", v * 100.0),
        None => "—".into(),
    }
}

fn score_str(s: &Option<Score>) -> String {
    s.as_ref()
        .map(|s| format!("{:.1}", s.value))
        .unwrap_or_else(|| "—".into())
}

/// A horizontal bar chart as an SVG document (labels as text, in the report's font).
pub fn bar_svg(rows: &[(String, i64)]) -> String {
    let row_h = 22.0;
    let (left, width) = (130.0, 560.0);
    let height = rows.len() as f64 * row_h + 10.0;
    let max = rows.iter().map(|r| r.1).max().unwrap_or(1).max(1) as f64;
    let mut s = format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{width}\" height=\"{height}\" viewBox=\"0 0 {width} {height}\" font-family=\"Noto Sans CJK SC\" font-size=\"12\">"
    );
    for (i, (label, v)) in rows.iter().enumerate() {
        let y = 5.0 + i as f64 * row_h;
        let w = (width - left - 60.0) * (*v as f64) / max;
        s.push_str(&format!(
            "<text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"end\" fill=\"#333\">{}</text><text x=\"{:.1}\" y=\"{:.1}\" fill=\"#333\">{v}</text>",
            left - 6.0,
            y + 15.0,
            xml_escape(label),
            left + w + 4.0,
            y + 15.0,
        ));
        // A zero is a label and its number, without a bar (SVG forbids an empty rectangle).
        if w > 0.0 {
            s.push_str(&format!(
                "<rect x=\"{left}\" y=\"{:.1}\" width=\"{w:.1}\" height=\"{:.1}\" fill=\"#2f6fb3\"/>",
                y + 3.0,
                row_h - 6.0
            ));
        }
    }
    s.push_str("</svg>");
    s
}

fn xml_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

fn count_table(t: &Tr, first: &str, rows: &[Row]) -> Table {
    Table {
        head: vec![
            first.to_string(),
            t.s("report.this_month").into(),
            t.s("report.last_month").into(),
            t.s("report.change").into(),
        ],
        rows: rows
            .iter()
            .map(|r| {
                vec![
                    r.label.clone(),
                    r.value.to_string(),
                    r.prev.to_string(),
                    change(r.change),
                ]
            })
            .collect(),
    }
}

fn ranking_table(t: &Tr, first: &str, rows: &[fengqiao_app::cockpit::Ranked]) -> Table {
    Table {
        head: vec![
            "#".into(),
            first.to_string(),
            t.s("cockpit.index").into(),
            t.s("health.intake").into(),
            t.s("health.resolution_rate").into(),
            t.s("health.mediation_success_rate").into(),
            t.s("health.satisfaction").into(),
            t.s("health.overtime_rate").into(),
        ],
        rows: rows
            .iter()
            .enumerate()
            .map(|(i, r)| {
                vec![
                    (i + 1).to_string(),
                    r.name.clone(),
                    score_str(&r.score),
                    r.indicators.intake.to_string(),
                    pct(r.indicators.resolution_rate),
                    pct(r.indicators.mediation_success_rate),
                    dec(r.indicators.satisfaction),
                    pct(r.indicators.overtime_rate),
                ]
            })
            .collect(),
    }
}

/// The monthly report laid out.
pub fn monthly_doc(t: &Tr, r: &MonthlyReport) -> ReportDoc {
    let (a, b) = (&r.this, &r.prev);
    let i = |x: i64| x.to_string();
    let ind_row = |key: &str, this: String, prev: String, ch: String| {
        vec![t.s(key).to_string(), this, prev, ch]
    };
    let count_change = |x: i64, y: i64| change((y > 0).then(|| (x - y) as f64 / y as f64));
    let overview = Table {
        head: vec![
            t.s("report.indicator").into(),
            t.s("report.this_month").into(),
            t.s("report.last_month").into(),
            t.s("report.change").into(),
        ],
        rows: vec![
            ind_row(
                "health.intake",
                i(a.intake),
                i(b.intake),
                count_change(a.intake, b.intake),
            ),
            ind_row(
                "report.concluded",
                i(a.concluded),
                i(b.concluded),
                count_change(a.concluded, b.concluded),
            ),
            ind_row(
                "health.resolution_rate",
                pct(a.resolution_rate),
                pct(b.resolution_rate),
                String::new(),
            ),
            ind_row(
                "health.mediation_success_rate",
                pct(a.mediation_success_rate),
                pct(b.mediation_success_rate),
                String::new(),
            ),
            ind_row(
                "health.satisfaction",
                dec(a.satisfaction),
                dec(b.satisfaction),
                String::new(),
            ),
            ind_row(
                "report.overtime",
                i(r.overtime),
                i(r.overtime_prev),
                count_change(r.overtime, r.overtime_prev),
            ),
            ind_row(
                "health.overtime_rate",
                pct(a.overtime_rate),
                pct(b.overtime_rate),
                String::new(),
            ),
            ind_row(
                "health.handling_days",
                dec(a.handling_days),
                dec(b.handling_days),
                String::new(),
            ),
            ind_row(
                "health.reopen_rate",
                pct(a.reopen_rate),
                pct(b.reopen_rate),
                String::new(),
            ),
        ],
    };
    let summary = t
        .s("report.summary")
        .replace("{intake}", &a.intake.to_string())
        .replace("{change}", &count_change(a.intake, b.intake))
        .replace("{concluded}", &a.concluded.to_string())
        .replace("{resolved}", &r.resolved.to_string())
        .replace("{rate}", &pct(a.resolution_rate));
    let top = |rows: &[Row], n: usize| -> Vec<(String, i64)> {
        rows.iter()
            .take(n)
            .map(|r| (r.label.clone(), r.value))
            .collect()
    };
    let mut sections = vec![
        Section {
            heading: t.s("report.overview").into(),
            paras: vec![summary],
            table: Some(overview),
            sheet: t.s("report.overview").into(),
            ..Default::default()
        },
        Section {
            heading: t.s("report.by_type").into(),
            chart: Some("types.svg".into()),
            svg: Some(bar_svg(&top(&r.by_type, 15))),
            table: Some(count_table(t, t.s("col.type"), &r.by_type)),
            sheet: t.s("report.by_type").into(),
            ..Default::default()
        },
        Section {
            heading: t.s("report.by_area").into(),
            chart: Some("areas.svg".into()),
            svg: Some(bar_svg(&top(&r.by_area, 20))),
            table: Some(count_table(t, t.s("cockpit.area"), &r.by_area)),
            sheet: t.s("report.by_area").into(),
            ..Default::default()
        },
        Section {
            heading: t.s("report.by_channel").into(),
            table: Some(count_table(t, t.s("col.channel"), &r.by_channel)),
            sheet: t.s("report.by_channel").into(),
            ..Default::default()
        },
        Section {
            heading: t.s("report.hot_places").into(),
            table: Some(Table {
                head: vec![
                    t.s("report.place").into(),
                    t.s("report.town").into(),
                    t.s("report.this_month").into(),
                    t.s("report.top_type").into(),
                ],
                rows: r
                    .hot_places
                    .iter()
                    .map(|h| {
                        vec![
                            h.name.clone(),
                            h.town.clone(),
                            h.value.to_string(),
                            h.top_type
                                .as_ref()
                                .map(|ty| format!("{ty}（{}）", h.top_type_count))
                                .unwrap_or_default(),
                        ]
                    })
                    .collect(),
            }),
            sheet: t.s("report.hot_places").into(),
            ..Default::default()
        },
        Section {
            heading: t.s("report.supervision").into(),
            paras: vec![t
                .s("report.supervision_text")
                .replace("{overtime}", &r.overtime.to_string())
                .replace("{rate}", &pct(a.overtime_rate))
                .replace("{prev}", &r.overtime_prev.to_string())],
            ..Default::default()
        },
    ];
    {
        let count = |f: &dyn Fn(&fengqiao_app::reports::ReportWarning) -> bool| {
            r.warnings.iter().filter(|w| f(w)).count().to_string()
        };
        use fengqiao_domain::warning::{WarningLevel as L, WarningStatus as S};
        let summary = t
            .s("report.warnings_text")
            .replace("{n}", &r.warnings.len().to_string())
            .replace("{red}", &count(&|w| w.level == L::Red))
            .replace("{yellow}", &count(&|w| w.level == L::Yellow))
            .replace("{handled}", &count(&|w| w.status == S::Handled))
            .replace("{closed}", &count(&|w| w.status == S::Closed))
            .replace("{expired}", &count(&|w| w.status == S::Expired))
            .replace(
                "{live}",
                &count(&|w| matches!(w.status, S::Open | S::Acknowledged)),
            );
        sections.push(Section {
            heading: t.s("report.warnings").into(),
            paras: vec![summary],
            table: (!r.warnings.is_empty()).then(|| Table {
                head: vec![
                    t.s("warning.level").into(),
                    t.s("warning.kind").into(),
                    t.s("col.type").into(),
                    t.s("warning.area").into(),
                    t.s("warning.days").into(),
                    format!("{} / {}", t.s("warning.observed"), t.s("warning.expected")),
                    t.s("col.status").into(),
                    t.s("warning.note").into(),
                ],
                rows: r
                    .warnings
                    .iter()
                    .map(|w| {
                        vec![
                            t.label("warning_level", w.level.as_str()),
                            t.label("warning_kind", w.kind.as_str()),
                            t.label("type", w.dispute_type.as_str()),
                            w.area.clone(),
                            if w.first_day == w.last_day {
                                w.first_day.clone()
                            } else {
                                format!("{}–{}", w.first_day, w.last_day)
                            },
                            format!(
                                "{} / {}",
                                w.observed,
                                fengqiao_domain::warning::fmt_expected(w.expected)
                            ),
                            t.label("warning_status", w.status.as_str()),
                            w.handling.clone(),
                        ]
                    })
                    .collect(),
            }),
            sheet: t.s("report.warnings").into(),
            ..Default::default()
        });
    }
    if !r.area_ranking.is_empty() {
        sections.push(Section {
            heading: t.s("report.area_ranking").into(),
            table: Some(ranking_table(t, t.s("cockpit.area"), &r.area_ranking)),
            sheet: t.s("report.area_ranking").into(),
            ..Default::default()
        });
    }
    sections.push(Section {
        heading: t.s("report.unit_ranking").into(),
        table: Some(ranking_table(t, t.s("cockpit.unit"), &r.unit_ranking)),
        sheet: t.s("report.unit_ranking").into(),
        ..Default::default()
    });
    sections.push(Section {
        heading: t.s("report.recommendations").into(),
        paras: r.recommendations.clone(),
        sheet: t.s("report.recommendations").into(),
        ..Default::default()
    });
    sections.push(Section {
        heading: t.s("report.index").into(),
        paras: vec![r.formula.clone()],
        ..Default::default()
    });
    ReportDoc {
        lang: lang_code(t),
        title: format!("{} {}", r.node.name, t.s("report.monthly_title")),
        subtitle: format!("{} · {}", r.month, t.s("report.source")),
        sections,
    }
}

/// A health check laid out.
pub fn health_doc(t: &Tr, h: &HealthCheck) -> ReportDoc {
    let fmt = |key: &str, v: Option<f64>| match key {
        "intake" => v.map(|x| format!("{x:.0}")).unwrap_or_else(|| "—".into()),
        "satisfaction" | "handling_days" => dec(v),
        _ => pct(v),
    };
    let verdict = |row: &fengqiao_app::reports::HealthRow| match (row.value, row.county) {
        (Some(v), Some(c)) if (v - c).abs() < 1e-9 => t.s("health.same").to_string(),
        (Some(v), Some(c)) if (v > c) == row.higher_is_better => t.s("health.better").to_string(),
        (Some(_), Some(_)) => t.s("health.worse").to_string(),
        _ => "—".into(),
    };
    let table = Table {
        head: vec![
            t.s("report.indicator").into(),
            t.s("report.this_month").into(),
            t.s("report.last_month").into(),
            format!("{}（{}）", t.s("health.county"), h.county_name),
            t.s("health.verdict").into(),
        ],
        rows: h
            .rows
            .iter()
            .map(|row| {
                vec![
                    t.s(&format!("health.{}", row.key)).to_string(),
                    fmt(&row.key, row.value),
                    fmt(&row.key, row.prev),
                    fmt(&row.key, row.county),
                    verdict(row),
                ]
            })
            .collect(),
    };
    let score_line = t
        .s("health.score_line")
        .replace("{score}", &score_str(&h.score))
        .replace("{prev}", &score_str(&h.prev_score))
        .replace("{county}", &score_str(&h.county_score));
    ReportDoc {
        lang: lang_code(t),
        title: format!("{} {}", h.name, t.s("health.title")),
        subtitle: format!("{} · {}", h.month, t.s("report.source")),
        sections: vec![
            Section {
                heading: t.s("health.indicators").into(),
                paras: vec![score_line],
                table: Some(table),
                sheet: t.s("health.indicators").into(),
                ..Default::default()
            },
            Section {
                heading: t.s("report.index").into(),
                paras: vec![h.formula.clone()],
                ..Default::default()
            },
        ],
    }
}

#[derive(Template)]
#[template(path = "report.html")]
pub struct ReportPage {
    pub t: Tr,
    pub doc: ReportDoc,
    /// Links to the other formats (query strings), empty for none.
    pub pdf: String,
    pub xlsx: String,
    pub signed_in: bool,
    pub csrf: String,
}

/// `/reports/monthly?node=&month=&format=`.
pub async fn monthly(
    State(app): State<Arc<App>>,
    t: Tr,
    web: Web,
    Query(p): Query<ReportParams>,
) -> Response {
    let Some((s, _)) = &web.session else {
        return to_login("/reports/monthly");
    };
    let report = match app
        .monthly_report(&s.actor, nonempty(&p.node), nonempty(&p.month))
        .await
    {
        Ok(r) => r,
        Err(e) => return error_page(t, &e, true, web.csrf()),
    };
    let doc = monthly_doc(&t, &report);
    let name = format!("fengqiao-report-{}-{}", report.node.code, report.month);
    let qs = format!("node={}&month={}", report.node.code, report.month);
    deliver(
        &app,
        t,
        &web,
        doc,
        &name,
        &qs,
        "/reports/monthly",
        p.format.as_deref(),
    )
    .await
}

/// `/reports/health?unit=ID` or `?node=CODE`, `&month=`.
pub async fn health(
    State(app): State<Arc<App>>,
    t: Tr,
    web: Web,
    Query(p): Query<ReportParams>,
) -> Response {
    let Some((s, _)) = &web.session else {
        return to_login("/reports/health");
    };
    let subject = match (p.unit, nonempty(&p.node)) {
        (Some(u), _) => Subject::Unit(u),
        (None, Some(code)) => Subject::Place(code.to_string()),
        (None, None) => {
            return error_page(t, &AppError::NotFound("unit"), true, web.csrf());
        }
    };
    let h = match app
        .health_check(&s.actor, &subject, nonempty(&p.month))
        .await
    {
        Ok(h) => h,
        Err(e) => return error_page(t, &e, true, web.csrf()),
    };
    let doc = health_doc(&t, &h);
    let name = format!("fengqiao-health-{}-{}-{}", h.kind, h.id, h.month);
    let qs = match &subject {
        Subject::Unit(u) => format!("unit={u}&month={}", h.month),
        Subject::Place(c) => format!("node={c}&month={}", h.month),
    };
    deliver(
        &app,
        t,
        &web,
        doc,
        &name,
        &qs,
        "/reports/health",
        p.format.as_deref(),
    )
    .await
}

/// Renders a report in the asked format.
#[allow(clippy::too_many_arguments)]
async fn deliver(
    app: &App,
    t: Tr,
    web: &Web,
    doc: ReportDoc,
    name: &str,
    qs: &str,
    path: &str,
    format: Option<&str>,
) -> Response {
    let format = format.unwrap_or("html");
    if format != "html" {
        if let Some((s, _)) = &web.session {
            let what = format!("report:{name}.{format}");
            if let Err(e) = app
                .record_export(&s.actor, &what, serde_json::json!({"query": qs}))
                .await
            {
                return error_page(t, &e, true, web.csrf());
            }
        }
    }
    match format {
        "pdf" => match pdf(doc).await {
            Ok(bytes) => (
                [
                    (header::CONTENT_TYPE, "application/pdf".to_string()),
                    (
                        header::CONTENT_DISPOSITION,
                        format!("inline; filename=\"{name}.pdf\""),
                    ),
                ],
                bytes,
            )
                .into_response(),
            Err(message) => {
                tracing::error!(%message, "report PDF");
                (
                    StatusCode::SERVICE_UNAVAILABLE,
                    [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
                    format!("{}: {message}", t.s("report.pdf_failed")),
                )
                    .into_response()
            }
        },
        "xlsx" => match xlsx(&doc) {
            Ok(bytes) => (
                [
                    (
                        header::CONTENT_TYPE,
                        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
                            .to_string(),
                    ),
                    (
                        header::CONTENT_DISPOSITION,
                        format!("attachment; filename=\"{name}.xlsx\""),
                    ),
                ],
                bytes,
            )
                .into_response(),
            Err(e) => error_page(t, &AppError::Internal(e.to_string()), true, web.csrf()),
        },
        _ => render(&ReportPage {
            t,
            doc,
            pdf: format!("{path}?{qs}&format=pdf"),
            xlsx: format!("{path}?{qs}&format=xlsx"),
            signed_in: true,
            csrf: web.csrf(),
        }),
    }
}

/// Typesets a report (off the async threads).
pub async fn pdf(doc: ReportDoc) -> Result<Vec<u8>, String> {
    let data = serde_json::to_value(&doc).map_err(|e| e.to_string())?;
    let mut d = Document::new(TEMPLATE).json("data.json", &data);
    for s in &doc.sections {
        if let (Some(file), Some(svg)) = (&s.chart, &s.svg) {
            d = d.file(file, svg.as_bytes().to_vec());
        }
    }
    tokio::task::spawn_blocking(move || {
        crate::poster::typesetter()
            .and_then(|ts| ts.pdf(&d).map_err(|e| format!("{e} ({})", e.code())))
    })
    .await
    .map_err(|e| e.to_string())?
}

/// The report's tables as a workbook, a sheet per table.
pub fn xlsx(doc: &ReportDoc) -> Result<Vec<u8>, XlsxError> {
    let mut wb = Workbook::new();
    let bold = Format::new().set_bold();
    let title = Format::new().set_bold().set_font_size(14);
    for s in doc.sections.iter().filter(|s| !s.sheet.is_empty()) {
        let ws = wb.add_worksheet();
        // Sheet names: at most 31 characters, unique (the headings are).
        let sheet: String = s.sheet.chars().take(31).collect();
        ws.set_name(&sheet)?;
        ws.write_string_with_format(0, 0, &doc.title, &title)?;
        ws.write_string(1, 0, &doc.subtitle)?;
        let mut row = 3u32;
        if let Some(table) = &s.table {
            for (c, h) in table.head.iter().enumerate() {
                ws.write_string_with_format(row, c as u16, h, &bold)?;
                ws.set_column_width(c as u16, if c == 0 { 22.0 } else { 14.0 })?;
            }
            for r in &table.rows {
                row += 1;
                for (c, cell) in r.iter().enumerate() {
                    // Counts go in as numbers, so they can be summed.
                    match cell.parse::<f64>() {
                        Ok(n) if c > 0 => ws.write_number(row, c as u16, n)?,
                        _ => ws.write_string(row, c as u16, cell)?,
                    };
                }
            }
            row += 2;
        }
        for p in &s.paras {
            ws.write_string(row, 0, p)?;
            row += 1;
        }
    }
    wb.save_to_buffer()
}
