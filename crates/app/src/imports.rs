//! Imports from other systems: files (`fengqiao import`) and pushed batches
//! (`POST /api/v1/channels/{channel}/records`) through a channel's field mapping.
//!
//! A record is a case once: its source id is the idempotency key (scope `channel:<code>`), so
//! a re-sent record is recognised; re-sent with changes, its case is updated (an `edit` event
//! carrying the new text, type, amount, time and place; a new text is read again) instead of
//! duplicated. Bad rows are reported with their line and field; the good rows land.
//! Every new case goes through intake as any other (text reading, duplicate linking across
//! channels).
use crate::cases::{input_digest, CaseInput, PartyInput};
use crate::{App, AppError, Result};
use fengqiao_domain::access::{authorize_node, Actor, Operation};
use fengqiao_domain::case::{Channel, PartyRole};
use fengqiao_domain::import::{read_row, Mapping, Record, Row, RowError};
use fengqiao_domain::workflow::{CaseEdit, Command};
use fengqiao_domain::DomainError;
use fengqiao_store::IdempotencyKey;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use utoipa::ToSchema;

/// The mappings shipped with the project (`data/channels/*.toml`); a deployment edits copies.
pub const BUILTIN_MAPPINGS: [(&str, &str); 6] = [
    ("police", include_str!("../../../data/channels/police.toml")),
    (
        "court_prelitigation",
        include_str!("../../../data/channels/court_prelitigation.toml"),
    ),
    (
        "petition",
        include_str!("../../../data/channels/petition.toml"),
    ),
    (
        "labour_arbitration",
        include_str!("../../../data/channels/labour_arbitration.toml"),
    ),
    (
        "judicial_mediation",
        include_str!("../../../data/channels/judicial_mediation.toml"),
    ),
    (
        "hotline_12345",
        include_str!("../../../data/channels/hotline_12345.toml"),
    ),
];

/// Largest batch the push API takes.
pub const MAX_BATCH: usize = 1000;

/// What an import did.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct ImportReport {
    pub channel: String,
    /// The file's encoding as detected (`UTF-8`, `GBK`), for files.
    pub encoding: Option<String>,
    pub rows: usize,
    pub created: usize,
    /// Re-sent with changes: the case was updated.
    pub updated: usize,
    /// Re-sent unchanged.
    pub unchanged: usize,
    /// Not newer than the channel's watermark (mappings with an `updated_at` column).
    #[serde(default)]
    pub skipped: usize,
    pub errors: Vec<RowError>,
}

/// A mapping from its TOML text.
pub fn parse_mapping(toml_text: &str) -> Result<Mapping> {
    toml::from_str(toml_text)
        .map_err(|e| DomainError::validation("mapping", e.message().to_string()).into())
}

/// The shipped mapping of a channel.
pub fn builtin_mapping(channel: &str) -> Result<Mapping> {
    let (_, text) = BUILTIN_MAPPINGS
        .iter()
        .find(|(c, _)| *c == channel)
        .ok_or_else(|| DomainError::validation("channel", format!("no mapping for {channel}")))?;
    parse_mapping(text)
}

/// Text of a file in UTF-8 (with or without BOM) or GBK/GB18030, the encodings Chinese
/// systems export in; the encoding found is returned with it.
pub fn decode(bytes: &[u8]) -> Result<(String, &'static str)> {
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    if let Ok(s) = std::str::from_utf8(bytes) {
        return Ok((s.to_string(), "UTF-8"));
    }
    let (text, _, had_errors) = encoding_rs::GB18030.decode(bytes);
    if had_errors {
        return Err(DomainError::validation("file", "neither UTF-8 nor GBK text").into());
    }
    Ok((text.into_owned(), "GBK"))
}

/// The rows of a CSV file (header on line 1); each row knows the line it starts on. Fails
/// when the header lacks a column the mapping needs.
pub fn csv_rows(text: &str, mapping: &Mapping) -> Result<Vec<Row>> {
    let mut reader = csv::ReaderBuilder::new()
        .flexible(true)
        .from_reader(text.as_bytes());
    let header: Vec<String> = reader
        .headers()
        .map_err(|e| DomainError::validation("file", format!("no header: {e}")))?
        .iter()
        .map(|h| h.trim().to_string())
        .collect();
    check_header(mapping, &header)?;
    let mut rows = Vec::new();
    for rec in reader.records() {
        let rec = rec.map_err(|e| {
            let line = e.position().map(|p| p.line()).unwrap_or(0);
            DomainError::validation("file", format!("line {line}: {e}"))
        })?;
        let line = rec.position().map(|p| p.line() as usize).unwrap_or(0);
        let values = header
            .iter()
            .cloned()
            .zip(rec.iter().map(str::to_string))
            .collect();
        rows.push(Row { line, values });
    }
    Ok(rows)
}

fn check_header(mapping: &Mapping, header: &[String]) -> Result<()> {
    let missing = mapping.missing_columns(header);
    if missing.is_empty() {
        Ok(())
    } else {
        Err(DomainError::validation("columns", format!("missing: {}", missing.join(", "))).into())
    }
}

/// Pushed records (JSON objects keyed by the source's column names): row numbers are
/// positions in the batch, from 1. Numbers and booleans are taken as their text.
pub fn json_rows(records: &[serde_json::Value]) -> Vec<Row> {
    records
        .iter()
        .enumerate()
        .map(|(i, r)| Row {
            line: i + 1,
            values: r
                .as_object()
                .map(|o| {
                    o.iter()
                        .filter_map(|(k, v)| {
                            let s = match v {
                                serde_json::Value::String(s) => s.clone(),
                                serde_json::Value::Null => return None,
                                other => other.to_string(),
                            };
                            Some((k.clone(), s))
                        })
                        .collect::<BTreeMap<_, _>>()
                })
                .unwrap_or_default(),
        })
        .collect()
}

impl App {
    /// Imports rows through a mapping as `actor`: the centre's dispatchers (or the system), who
    /// also need the right to register cases where each record is.
    pub async fn import_rows(
        &self,
        actor: &Actor,
        mapping: &Mapping,
        rows: &[Row],
    ) -> Result<ImportReport> {
        authorize_node(actor, Operation::ImportRecords, &actor.scope_path)?;
        let mut report = ImportReport {
            channel: mapping.channel.as_str().to_string(),
            rows: rows.len(),
            ..Default::default()
        };
        let watermark_key = format!("import_watermark:{}", mapping.channel.as_str());
        let watermark: Option<i64> = self
            .store
            .get_setting(&watermark_key)
            .await?
            .and_then(|v| v.parse().ok());
        let mut newest = watermark;
        for row in rows {
            let record = match read_row(mapping, row) {
                Ok(r) => r,
                Err(e) => {
                    report.errors.push(e);
                    continue;
                }
            };
            if let (Some(u), Some(w)) = (record.updated_at, watermark) {
                if u <= w {
                    report.skipped += 1;
                    continue;
                }
            }
            let fail = |field: &str, e: &AppError| RowError {
                line: row.line,
                source_id: Some(record.source_id.clone()),
                field: field.to_string(),
                code: e.code().to_string(),
                reason: e.to_string(),
            };
            let landed = match self.import_record(actor, mapping.channel, &record).await {
                Ok(Outcome::Created) => {
                    report.created += 1;
                    true
                }
                Ok(Outcome::Updated) => {
                    report.updated += 1;
                    true
                }
                Ok(Outcome::Unchanged) => {
                    report.unchanged += 1;
                    true
                }
                Err((field, e)) => {
                    report.errors.push(fail(field, &e));
                    false
                }
            };
            if landed {
                newest = newest.max(record.updated_at);
            }
        }
        if newest != watermark {
            if let Some(n) = newest {
                self.store
                    .put_setting(&watermark_key, &n.to_string())
                    .await?;
            }
        }
        Ok(report)
    }

    async fn import_record(
        &self,
        actor: &Actor,
        channel: Channel,
        r: &Record,
    ) -> std::result::Result<Outcome, (&'static str, AppError)> {
        let node_code = match (&r.node_code, &r.place) {
            (Some(c), _) => c.clone(),
            (None, Some(place)) => self.resolve_place(place).await.map_err(|e| ("place", e))?,
            (None, None) => return Err(("place", DomainError::validation("place", "none").into())),
        };
        let input = CaseInput {
            channel,
            text: r.text.clone(),
            parties: r
                .party_name
                .iter()
                .map(|name| PartyInput {
                    name: name.clone(),
                    role: PartyRole::Applicant,
                    id_number: r.party_id_number.clone(),
                    phone: r.party_phone.clone(),
                    address: r.address.clone(),
                })
                .collect(),
            dispute_type: r.dispute_type,
            subtype: None,
            node_code,
            address: r.address.clone(),
            coordinates: None,
            occurred_at: r.occurred_at,
            complexity: None,
            risk_level: None,
            amount_fen: r.amount_fen,
            people_involved: None,
        };
        let key = IdempotencyKey {
            scope: format!("channel:{}", channel.as_str()),
            key: r.source_id.clone(),
            body_hash: input_digest(&input),
        };
        let analysis = self
            .analyze_text(&input.text, None)
            .await
            .map_err(|e| ("text", e))?;
        let mut filled_input = input.clone();
        let filled = crate::text::fill_in(&mut filled_input, &analysis, self.now());
        match self
            .register_with_key(
                Some(actor),
                &filled_input,
                Some(analysis),
                filled,
                Some(key.clone()),
            )
            .await
        {
            Ok((_, true, _)) => Ok(Outcome::Created),
            Ok((_, false, _)) => Ok(Outcome::Unchanged),
            Err(AppError::IdempotencyKeyReused) => {
                // Re-sent with changes: update what an edit can change, remember the new body.
                let id = self
                    .store
                    .find_idempotent_case(&key.scope, &key.key)
                    .await
                    .map_err(|e| ("source_id", e.into()))?
                    .ok_or(("source_id", AppError::NotFound("case")))?;
                let location = self
                    .to_new_case(&input)
                    .await
                    .map_err(|e| ("place", e))?
                    .location;
                let current = self
                    .store
                    .get_case(id)
                    .await
                    .map_err(|e| ("source_id", e.into()))?
                    .ok_or(("source_id", AppError::NotFound("case")))?;
                let new_text = (current.state.text.trim() != input.text.trim())
                    .then(|| input.text.trim().to_string());
                let edit = CaseEdit {
                    text: new_text.clone(),
                    dispute_type: input.dispute_type,
                    amount_fen: input.amount_fen,
                    occurred_at: input.occurred_at,
                    location: Some(location),
                    ..CaseEdit::default()
                };
                self.act(actor, id, &Command::Edit(edit))
                    .await
                    .map_err(|e| ("source_id", e))?;
                if new_text.is_some() {
                    if let Err(e) = self.reread_case(id).await {
                        // The case holds the new text; `fengqiao analyze` reads it later.
                        tracing::warn!(case = id, error = %e, "changed text not read again");
                    }
                }
                self.store
                    .set_idempotency_body(&key.scope, &key.key, &key.body_hash)
                    .await
                    .map_err(|e| ("source_id", e.into()))?;
                Ok(Outcome::Updated)
            }
            Err(e) => Err(("record", e)),
        }
    }

    /// The village (or other node) a place name in a source record names.
    async fn resolve_place(&self, place: &str) -> Result<String> {
        let analyzer = self.analyzer().await?;
        let now = chrono::DateTime::from_timestamp_millis(self.now())
            .map(|t| t.naive_utc())
            .unwrap_or_default();
        let a = analyzer
            .analyze(place, now)
            .map_err(|e| AppError::Internal(e.to_string()))?;
        // "城关镇东门村" names the town and the village: the most specific node wins.
        a.places
            .iter()
            .filter_map(|p| p.node_code.clone())
            .max_by_key(String::len)
            .ok_or_else(|| {
                DomainError::validation("place", format!("not a known place: {place}")).into()
            })
    }
}

enum Outcome {
    Created,
    Updated,
    Unchanged,
}

impl App {
    /// The mapping in force for a channel: the deployment's (setting `channel_mapping:<code>`,
    /// TOML) or the shipped one.
    pub async fn channel_mapping(&self, channel: &str) -> Result<Mapping> {
        match self
            .store
            .get_setting(&format!("channel_mapping:{channel}"))
            .await?
        {
            Some(text) => parse_mapping(&text),
            None => builtin_mapping(channel),
        }
    }

    /// Replaces a channel's mapping (admin); the TOML is checked before it is kept.
    pub async fn put_channel_mapping(
        &self,
        actor: &Actor,
        channel: &str,
        text: &str,
    ) -> Result<Mapping> {
        authorize_node(actor, Operation::ManageReference, &actor.scope_path)?;
        let m = parse_mapping(text)?;
        if m.channel.as_str() != channel {
            return Err(
                DomainError::validation("channel", "the mapping is for another channel").into(),
            );
        }
        self.store
            .put_setting(&format!("channel_mapping:{channel}"), text)
            .await?;
        Ok(m)
    }

    /// A pushed batch (at most [`MAX_BATCH`] records) through the channel's mapping.
    pub async fn push_records(
        &self,
        actor: &Actor,
        channel: &str,
        records: &[serde_json::Value],
    ) -> Result<ImportReport> {
        if records.len() > MAX_BATCH {
            return Err(DomainError::validation(
                "records",
                format!("at most {MAX_BATCH} records a batch"),
            )
            .into());
        }
        let mapping = self.channel_mapping(channel).await?;
        self.import_rows(actor, &mapping, &json_rows(records)).await
    }

    /// A file (CSV, or JSON: an array of records) through a mapping.
    pub async fn import_file(
        &self,
        actor: &Actor,
        mapping: &Mapping,
        bytes: &[u8],
        json: bool,
    ) -> Result<ImportReport> {
        let (text, encoding) = decode(bytes)?;
        let rows = if json {
            let v: Vec<serde_json::Value> = serde_json::from_str(&text)
                .map_err(|e| DomainError::validation("file", format!("not a JSON array: {e}")))?;
            json_rows(&v)
        } else {
            csv_rows(&text, mapping)?
        };
        let mut report = self.import_rows(actor, mapping, &rows).await?;
        report.encoding = Some(encoding.to_string());
        Ok(report)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_shipped_mapping_parses() {
        for (channel, _) in BUILTIN_MAPPINGS {
            let m = builtin_mapping(channel).unwrap();
            assert_eq!(m.channel.as_str(), channel);
        }
        assert!(builtin_mapping("fax").is_err());
    }

    #[test]
    fn gbk_csv_is_decoded_and_rows_keep_their_lines() {
        let m = builtin_mapping("police").unwrap();
        let csv = "警情编号,简要警情,处警情况,发生地点,报警时间\n\
                   JQ1,\"邻居噪音\n扰民\",已调解,东门村,2025-03-03\n\
                   JQ2,债务纠纷,,东门村,2025年3月4日\n";
        let (gbk, _, _) = encoding_rs::GBK.encode(csv);
        let (text, enc) = decode(&gbk).unwrap();
        assert_eq!(enc, "GBK");
        let rows = csv_rows(&text, &m).unwrap();
        assert_eq!(rows.len(), 2);
        assert_eq!(rows[0].values["简要警情"], "邻居噪音\n扰民");
        assert_eq!(
            (rows[0].line, rows[1].line),
            (2, 4),
            "a quoted newline spans two lines"
        );
        let (text, enc) = decode(format!("\u{feff}{csv}").as_bytes()).unwrap();
        assert_eq!((enc, text.starts_with('警')), ("UTF-8", true));
        let e = csv_rows("警情编号,简要警情\nJQ1,x\n", &m).unwrap_err();
        assert!(e.to_string().contains("处警情况"), "{e}");
        // A lead byte with nothing after it is neither UTF-8 nor GBK.
        assert!(decode(b"JQ1,\x81").is_err());
    }
}
