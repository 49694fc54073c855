//! The case list as an XLSX workbook: the same filters as the list page, personal numbers
//! masked (in the party columns and inside the free text); unmasked only as an approved
//! unmasked export (`/exports`), downloaded once by its requester.
use crate::i18n::Tr;
use crate::session::Web;
use crate::staff::{to_login, ListParams};
use crate::view::{error_page, fmt_fen, fmt_ms};
use axum::extract::{Query, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use fengqiao_app::{App, AppError};
use fengqiao_domain::access::Actor;
use fengqiao_domain::validate::mask_numbers_in_text;
use fengqiao_store::StoredCase;
use rust_xlsxwriter::{Format, Workbook, XlsxError};
use std::collections::HashMap;
use std::sync::Arc;

/// The most rows one export holds; a note under the header says when there were more.
pub const MAX_ROWS: usize = 10_000;

const COLUMNS: [(&str, f64); 14] = [
    ("col.code", 13.0),
    ("col.registered", 17.0),
    ("col.channel", 12.0),
    ("col.type", 12.0),
    ("col.status", 10.0),
    ("col.light", 8.0),
    ("col.place", 14.0),
    ("export.lead_unit", 18.0),
    ("col.due", 11.0),
    ("export.parties", 20.0),
    ("export.phones", 16.0),
    ("export.id_numbers", 22.0),
    ("export.amount", 12.0),
    ("export.text", 60.0),
];

pub async fn cases_xlsx(
    State(app): State<Arc<App>>,
    t: Tr,
    web: Web,
    Query(p): Query<ListParams>,
) -> Response {
    let Some((s, _)) = &web.session else {
        return to_login("/cases");
    };
    let (cases, total, units, places) = match gather(&app, &s.actor, &p).await {
        Ok(x) => x,
        Err(e) => return error_page(t, &e, true, web.csrf()),
    };
    let recorded = app
        .record_export(
            &s.actor,
            "cases.xlsx",
            serde_json::json!({"rows": cases.len(), "total": total, "filters": p.query_string()}),
        )
        .await;
    if let Err(e) = recorded {
        return error_page(t, &e, true, web.csrf());
    }
    let date = fengqiao_domain::time::local_date(app.now()).format("%Y%m%d");
    match workbook(&t, &cases, total, &units, &places, false) {
        Ok(bytes) => xlsx(bytes, &format!("fengqiao-cases-{date}.xlsx")),
        Err(e) => error_page(t, &AppError::Internal(e.to_string()), true, web.csrf()),
    }
}

/// The approved unmasked export of a request, downloaded once by its requester: the list of
/// the request's filter as the requester sees it, personal numbers in clear.
pub async fn unmasked_xlsx(
    State(app): State<Arc<App>>,
    t: Tr,
    web: Web,
    axum::extract::Path(id): axum::extract::Path<i64>,
) -> Response {
    let Some((s, _)) = &web.session else {
        return to_login("/exports");
    };
    let req = match app.take_unmasked_export(&s.actor, id).await {
        Ok(r) => r,
        Err(e) => return error_page(t, &e, true, web.csrf()),
    };
    let uri: axum::http::Uri = match format!("/cases?{}", req.filter).parse() {
        Ok(u) => u,
        Err(e) => return error_page(t, &AppError::Internal(e.to_string()), true, web.csrf()),
    };
    let p = match Query::<ListParams>::try_from_uri(&uri) {
        Ok(Query(p)) => p,
        Err(e) => return error_page(t, &AppError::Internal(e.to_string()), true, web.csrf()),
    };
    let (cases, total, units, places) = match gather(&app, &s.actor, &p).await {
        Ok(x) => x,
        Err(e) => return error_page(t, &e, true, web.csrf()),
    };
    match workbook(&t, &cases, total, &units, &places, true) {
        Ok(bytes) => xlsx(bytes, &format!("fengqiao-cases-unmasked-{id}.xlsx")),
        Err(e) => error_page(t, &AppError::Internal(e.to_string()), true, web.csrf()),
    }
}

type Gathered = (
    Vec<StoredCase>,
    u64,
    HashMap<i64, String>,
    HashMap<String, String>,
);

/// The cases of a list (at most [`MAX_ROWS`]), the list's total, and the names of their units
/// and places.
async fn gather(app: &App, actor: &Actor, p: &ListParams) -> Result<Gathered, AppError> {
    let mut cases = Vec::new();
    let mut q = p.query(Some(500));
    let mut total = 0;
    loop {
        let (page, next, count) = app.list_case_states(actor, &q).await?;
        if let Some(n) = count {
            total = n;
            q.with_total = Some(false);
        }
        cases.extend(page);
        match next {
            Some(id) if cases.len() < MAX_ROWS => q.before_id = Some(id),
            _ => break,
        }
    }
    cases.truncate(MAX_ROWS);
    let units: HashMap<i64, String> = app
        .list_units(None)
        .await
        .unwrap_or_default()
        .into_iter()
        .map(|u| (u.id, u.name))
        .collect();
    let mut places = HashMap::new();
    for c in &cases {
        let code = &c.state.location.node_code;
        if !places.contains_key(code) {
            places.insert(code.clone(), app.node_name(code).await);
        }
    }
    Ok((cases, total, units, places))
}

fn xlsx(bytes: Vec<u8>, name: &str) -> Response {
    (
        [
            (
                header::CONTENT_TYPE,
                "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet".to_string(),
            ),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"{name}\""),
            ),
        ],
        bytes,
    )
        .into_response()
}

/// The workbook: a header row (frozen, with filters), one row per case, and a note when the
/// list was longer than [`MAX_ROWS`]. Personal numbers masked unless `unmasked` (an approved
/// unmasked export).
fn workbook(
    t: &Tr,
    cases: &[StoredCase],
    total: u64,
    units: &HashMap<i64, String>,
    places: &HashMap<String, String>,
    unmasked: bool,
) -> Result<Vec<u8>, XlsxError> {
    let mut wb = Workbook::new();
    let ws = wb.add_worksheet();
    ws.set_name(t.s("export.sheet"))?;
    let bold = Format::new().set_bold();
    let wrap = Format::new().set_text_wrap();
    for (i, (key, width)) in COLUMNS.iter().enumerate() {
        let col = i as u16;
        ws.write_string_with_format(0, col, t.s(key), &bold)?;
        ws.set_column_width(col, *width)?;
    }
    ws.set_freeze_panes(1, 0)?;
    for (i, c) in cases.iter().enumerate() {
        let row = i as u32 + 1;
        let st = &c.state;
        let join = |v: Vec<String>| v.join("；");
        let cells = [
            st.tracking_code.clone(),
            fmt_ms(st.registered_at),
            t.label("channel", st.channel.as_str()),
            t.label("type", st.dispute_type.as_str()),
            t.label("status", st.status.as_str()),
            t.label("light", st.light.as_str()),
            places
                .get(&st.location.node_code)
                .cloned()
                .unwrap_or_else(|| st.location.node_code.clone()),
            st.lead_unit_id
                .and_then(|u| units.get(&u).cloned())
                .unwrap_or_default(),
            st.deadline
                .as_ref()
                .map(|d| d.due.to_string())
                .unwrap_or_default(),
            join(
                st.parties
                    .iter()
                    .map(|p| format!("{}（{}）", p.name, t.label("party_role", p.role.as_str())))
                    .collect(),
            ),
            join(
                st.parties
                    .iter()
                    .filter_map(|p| {
                        p.phone.as_ref().map(|x| match unmasked {
                            true => x.as_str().to_string(),
                            false => x.masked(),
                        })
                    })
                    .collect(),
            ),
            join(
                st.parties
                    .iter()
                    .filter_map(|p| {
                        p.id_number.as_ref().map(|x| match unmasked {
                            true => x.as_str().to_string(),
                            false => x.masked(),
                        })
                    })
                    .collect(),
            ),
            st.amount_fen.map(fmt_fen).unwrap_or_default(),
            match unmasked {
                true => st.text.clone(),
                false => mask_numbers_in_text(&st.text),
            },
        ];
        for (col, v) in cells.iter().enumerate() {
            if col == cells.len() - 1 {
                ws.write_string_with_format(row, col as u16, v, &wrap)?;
            } else {
                ws.write_string(row, col as u16, v)?;
            }
        }
    }
    let last = cases.len() as u32;
    if last > 0 {
        ws.autofilter(0, 0, last, COLUMNS.len() as u16 - 1)?;
    }
    if total as usize > cases.len() {
        let note = t
            .s("export.truncated")
            .replace("{shown}", &cases.len().to_string())
            .replace("{total}", &total.to_string());
        ws.write_string_with_format(last + 2, 0, &note, &bold)?;
    }
    wb.save_to_buffer()
}
