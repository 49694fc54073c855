//! Imports from other systems: files (`fengqiao import`) and pushed batches
//! (`POST /api/v1/channels/{channel}/records`) through a channel's field mapping.
//!
//! A record is a case once: its source id is the idempotency key (scope `channel:<code>`), so
//! a re-sent record is recognised; re-sent with changes, its case is updated (an `edit` event
//! carrying the new text, type, amount, time and place; a new text is read again) instead of
//! duplicated. Bad rows are reported with their line and field; the good rows land.
//! Every new case goes through intake as any other (text reading, duplicate linking across
//! channels).
use crate::cases::{input_digest, new_tracking_code, CaseInput, PartyInput};
use crate::{App, AppError, Result};
use fengqiao_domain::access::{authorize_node, Actor, Operation};
use fengqiao_domain::case::{Channel, PartyRole};
use fengqiao_domain::import::{read_row, Mapping, Record, Row, RowError};
use fengqiao_domain::workflow::{self, CaseEdit, CaseEvent, Command};
use fengqiao_domain::DomainError;
use fengqiao_store::{Created, IdempotencyKey, NewCaseWrite, StoredCase};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashMap, HashSet};
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

/// Rows imported together: read in parallel, registered in group commits, their duplicates
/// searched and their analyses stored in one write.
pub const CHUNK: usize = 2_000;

/// One import under way: the report so far, the watermark, and the place names resolved.
struct ImportRun {
    channel: Channel,
    report: ImportReport,
    watermark_key: String,
    watermark: Option<i64>,
    newest: Option<i64>,
    /// Place names of the source → node code (`None`: not a known place).
    places: HashMap<String, Option<String>>,
    /// The last chunk's writes still to do.
    tail: Option<Tail>,
}

impl ImportRun {
    fn absorb(&mut self, done: TailDone) {
        let r = &mut self.report;
        r.created += done.report.created;
        r.updated += done.report.updated;
        r.unchanged += done.report.unchanged;
        r.errors.extend(done.report.errors);
        self.newest = self.newest.max(done.newest);
    }
}

/// What is left of a chunk once its new cases are registered and searched.
struct Tail {
    found: Vec<crate::text::Found>,
    known: Vec<(usize, Record)>,
}

/// What a chunk's tail did.
#[derive(Default)]
struct TailDone {
    report: ImportReport,
    newest: Option<i64>,
}

/// A new record ready to register.
struct Fresh {
    line: usize,
    record: Record,
    input: CaseInput,
    key: IdempotencyKey,
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
        let mut run = self.start_import(actor, mapping).await?;
        for chunk in rows.chunks(CHUNK) {
            self.import_chunk(actor, mapping, chunk, &mut run).await?;
        }
        self.finish_import(actor, run).await
    }

    async fn start_import(&self, actor: &Actor, mapping: &Mapping) -> Result<ImportRun> {
        authorize_node(actor, Operation::ImportRecords, &actor.scope_path)?;
        let watermark_key = format!("import_watermark:{}", mapping.channel.as_str());
        let watermark: Option<i64> = self
            .store
            .get_setting(&watermark_key)
            .await?
            .and_then(|v| v.parse().ok());
        Ok(ImportRun {
            channel: mapping.channel,
            report: ImportReport {
                channel: mapping.channel.as_str().to_string(),
                ..Default::default()
            },
            watermark_key,
            watermark,
            newest: watermark,
            places: HashMap::new(),
            tail: None,
        })
    }

    async fn finish_import(&self, actor: &Actor, mut run: ImportRun) -> Result<ImportReport> {
        let done = self.chunk_tail(actor, run.channel, run.tail.take()).await;
        run.absorb(done);
        run.report.errors.sort_by_key(|e| e.line);
        if run.newest != run.watermark {
            if let Some(n) = run.newest {
                self.store
                    .put_setting(&run.watermark_key, &n.to_string())
                    .await?;
            }
        }
        // One record per import (the cases themselves carry their registration events), after
        // the case changes it queued.
        self.flush_audit().await;
        let r = &run.report;
        self.audit_actor(
            actor,
            fengqiao_domain::audit::AuditAction::Imported,
            &format!("channel:{}", r.channel),
            if r.errors.is_empty() { "ok" } else { "partial" },
            serde_json::json!({"rows": r.rows, "created": r.created, "updated": r.updated,
                               "unchanged": r.unchanged, "skipped": r.skipped, "errors": r.errors.len()}),
        )
        .await?;
        Ok(run.report)
    }

    /// One chunk, its writes overlapping the next chunk's reading: the previous chunk's tail
    /// (links, analyses, records seen before) runs while this chunk's new records are read,
    /// registered and searched; this chunk's tail waits for the next chunk (or the end).
    async fn import_chunk(
        &self,
        actor: &Actor,
        mapping: &Mapping,
        rows: &[Row],
        run: &mut ImportRun,
    ) -> Result<()> {
        let previous = run.tail.take();
        let (done, head) = tokio::join!(
            self.chunk_tail(actor, mapping.channel, previous),
            self.chunk_head(mapping, actor, rows, run)
        );
        run.absorb(done);
        run.tail = Some(head?);
        Ok(())
    }

    /// A chunk's records read; the new ones registered and searched.
    async fn chunk_head(
        &self,
        mapping: &Mapping,
        actor: &Actor,
        rows: &[Row],
        run: &mut ImportRun,
    ) -> Result<Tail> {
        let channel = mapping.channel;
        let scope = format!("channel:{}", channel.as_str());
        run.report.rows += rows.len();
        let mut fresh: Vec<Fresh> = Vec::new();
        let mut known: Vec<(usize, Record)> = Vec::new();
        let mut in_chunk: HashSet<String> = HashSet::new();
        for row in rows {
            let record = match read_row(mapping, row) {
                Ok(r) => r,
                Err(e) => {
                    run.report.errors.push(e);
                    continue;
                }
            };
            if let (Some(u), Some(w)) = (record.updated_at, run.watermark) {
                if u <= w {
                    run.report.skipped += 1;
                    continue;
                }
            }
            // Records seen before are recognised by their keys when the chunk is written
            // (`Created::Existing`) and taken one by one then.
            if !in_chunk.insert(record.source_id.clone()) {
                known.push((row.line, record));
                continue;
            }
            let node_code = match self.place_of(&record, &mut run.places).await {
                Ok(c) => c,
                Err(e) => {
                    run.report
                        .errors
                        .push(row_error(row.line, &record, "place", &e));
                    continue;
                }
            };
            let input = case_input(channel, &record, node_code);
            let key = IdempotencyKey {
                scope: scope.clone(),
                key: record.source_id.clone(),
                body_hash: input_digest(&input),
            };
            fresh.push(Fresh {
                line: row.line,
                record,
                input,
                key,
            });
        }
        let (later, found) = self.register_fresh(actor, fresh, run).await?;
        known.extend(later);
        Ok(Tail { found, known })
    }

    /// A chunk's links and stored analyses, then its records seen before, one by one
    /// (unchanged or updated).
    async fn chunk_tail(&self, actor: &Actor, channel: Channel, tail: Option<Tail>) -> TailDone {
        let mut done = TailDone::default();
        let Some(tail) = tail else {
            return done;
        };
        if !tail.found.is_empty() {
            // Cases without a stored analysis are read again by `fengqiao analyze`.
            if let Err(e) = self.link_and_store(tail.found).await {
                tracing::warn!(error = %e, "imported cases' analyses not stored");
            }
        }
        for (line, record) in tail.known {
            match self.import_record(actor, channel, &record).await {
                Ok(outcome) => {
                    match outcome {
                        Outcome::Created => done.report.created += 1,
                        Outcome::Updated => done.report.updated += 1,
                        Outcome::Unchanged => done.report.unchanged += 1,
                    }
                    done.newest = done.newest.max(record.updated_at);
                }
                Err((field, e)) => done.report.errors.push(row_error(line, &record, field, &e)),
            }
        }
        done
    }

    /// Reads the new records' texts (on every core), registers them (in a few multi-row
    /// statements where the store can), then searches their duplicates. Returns the records
    /// to take one by one (another writer registered them meanwhile, or seen before) and the
    /// cases searched.
    async fn register_fresh(
        &self,
        actor: &Actor,
        fresh: Vec<Fresh>,
        run: &mut ImportRun,
    ) -> Result<(Vec<(usize, Record)>, Vec<crate::text::Found>)> {
        let mut later = Vec::new();
        if fresh.is_empty() {
            return Ok((later, Vec::new()));
        }
        let texts: Vec<String> = fresh.iter().map(|f| f.input.text.clone()).collect();
        let analyses = self.analyze_many(texts).await?;
        let now = self.now();
        let mut ready = Vec::with_capacity(fresh.len());
        for (f, analysis) in fresh.into_iter().zip(analyses) {
            let analysis = match analysis {
                Ok(a) => a,
                Err(e) => {
                    let e = DomainError::validation("text", e.code()).into();
                    run.report
                        .errors
                        .push(row_error(f.line, &f.record, "text", &e));
                    continue;
                }
            };
            let mut input = f.input.clone();
            let filled = crate::text::fill_in(&mut input, &analysis, now);
            let registered = async {
                let nc = self.to_new_case(&input).await?;
                authorize_node(actor, Operation::CreateCase, &nc.location.node_path)?;
                let by = (!actor.is_system()).then_some(actor.user_id);
                let kind = workflow::register(nc, new_tracking_code(), by)?;
                let event = CaseEvent {
                    seq: 1,
                    at: now,
                    actor_id: by,
                    kind,
                };
                let state = workflow::apply(None, &event)
                    .ok_or_else(|| AppError::Internal("registration".into()))?;
                Ok::<_, AppError>((state, event))
            }
            .await;
            match registered {
                Ok((state, event)) => ready.push((f, state, event, analysis, filled)),
                Err(e) => run
                    .report
                    .errors
                    .push(row_error(f.line, &f.record, "record", &e)),
            }
        }
        // One call for the chunk: SQLite writes it in a few multi-row statements.
        let writes: Vec<NewCaseWrite> = ready
            .iter()
            .map(|(f, state, event, _, _)| NewCaseWrite {
                state: state.clone(),
                event: event.clone(),
                idem: Some(f.key.clone()),
            })
            .collect();
        // `None`: the call failed (a tracking-code collision, say) and the chunk goes one by one.
        let created: Vec<Option<Created>> = match self.store.create_cases(&writes).await {
            Ok(c) => c.into_iter().map(Some).collect(),
            Err(e) => {
                tracing::info!(error = %e, "chunk written one record at a time");
                (0..ready.len()).map(|_| None).collect()
            }
        };
        let mut jobs = Vec::new();
        let mut new_ids = Vec::new();
        for ((f, state, _, analysis, filled), r) in ready.into_iter().zip(created) {
            match r {
                Some(Created::New(id)) => {
                    new_ids.push(id);
                    run.report.created += 1;
                    run.newest = run.newest.max(f.record.updated_at);
                    let case = StoredCase {
                        id,
                        version: 1,
                        state,
                    };
                    jobs.push(crate::text::ReadJob::new(case, analysis, filled));
                }
                // Registered meanwhile by another import, or not written.
                Some(Created::Existing { .. }) | None => later.push((f.line, f.record)),
            }
        }
        self.cases_changed(new_ids);
        // Their duplicates now (the next chunk's search sees them); links and analyses later.
        let found = if jobs.is_empty() {
            Vec::new()
        } else {
            self.search_batch(jobs).await?
        };
        Ok((later, found))
    }

    /// Reads texts on every core; each result in the order given.
    async fn analyze_many(
        &self,
        texts: Vec<String>,
    ) -> Result<Vec<std::result::Result<fengqiao_text::Analysis, fengqiao_text::TextError>>> {
        let analyzer = self.analyzer().await?;
        let at = crate::text::local_time(self.now());
        crate::text::on_every_core(texts, move |t: String| analyzer.analyze(&t, at)).await
    }

    /// The node a record is at: its code, or its place name resolved (once per import).
    async fn place_of(
        &self,
        r: &Record,
        places: &mut HashMap<String, Option<String>>,
    ) -> Result<String> {
        match (&r.node_code, &r.place) {
            (Some(c), _) => Ok(c.clone()),
            (None, Some(place)) => {
                if let Some(known) = places.get(place) {
                    return known.clone().ok_or_else(|| unknown_place(place));
                }
                let found = match self.resolve_place(place).await {
                    Ok(c) => Some(c),
                    Err(AppError::Domain(_)) => None,
                    Err(e) => return Err(e),
                };
                places.insert(place.clone(), found.clone());
                found.ok_or_else(|| unknown_place(place))
            }
            (None, None) => Err(DomainError::validation("place", "none").into()),
        }
    }

    async fn import_record(
        &self,
        actor: &Actor,
        channel: Channel,
        r: &Record,
    ) -> std::result::Result<Outcome, (&'static str, AppError)> {
        let node_code = self
            .place_of(r, &mut HashMap::new())
            .await
            .map_err(|e| ("place", e))?;
        let input = case_input(channel, r, node_code);
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
            .ok_or_else(|| unknown_place(place))
    }
}

fn unknown_place(place: &str) -> AppError {
    DomainError::validation("place", format!("not a known place: {place}")).into()
}

fn row_error(line: usize, r: &Record, field: &str, e: &AppError) -> RowError {
    RowError {
        line,
        source_id: Some(r.source_id.clone()),
        field: field.to_string(),
        code: e.code().to_string(),
        reason: e.to_string(),
    }
}

/// A record as a case submission from its channel.
fn case_input(channel: Channel, r: &Record, node_code: String) -> CaseInput {
    CaseInput {
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

    /// A file in memory (CSV, XLSX, or a JSON array of records when `json`) through a
    /// mapping. XLSX is recognised by its content.
    pub async fn import_file(
        &self,
        actor: &Actor,
        mapping: &Mapping,
        bytes: &[u8],
        json: bool,
    ) -> Result<ImportReport> {
        let format = FileFormat::sniff(bytes, json);
        let (rows, encoding) = match format {
            FileFormat::Xlsx => (xlsx_rows(bytes, mapping)?, "XLSX"),
            FileFormat::Json => {
                let (text, encoding) = decode(bytes)?;
                let v: Vec<serde_json::Value> = serde_json::from_str(&text).map_err(|e| {
                    DomainError::validation("file", format!("not a JSON array: {e}"))
                })?;
                (json_rows(&v), encoding)
            }
            FileFormat::Csv => {
                let (text, encoding) = decode(bytes)?;
                (csv_rows(&text, mapping)?, encoding)
            }
        };
        let mut report = self.import_rows(actor, mapping, &rows).await?;
        report.encoding = Some(encoding.to_string());
        Ok(report)
    }

    /// A file on disk through a mapping. CSV is read as a stream, a chunk at a time, so a file
    /// of any size (2 GB and more) imports in bounded memory; XLSX and JSON are read whole.
    pub async fn import_path(
        &self,
        actor: &Actor,
        mapping: &Mapping,
        path: &std::path::Path,
        json: bool,
    ) -> Result<ImportReport> {
        let unreadable =
            |e: std::io::Error| DomainError::validation("file", format!("{}: {e}", path.display()));
        let mut head = [0u8; 4];
        let n = {
            use std::io::Read;
            let mut f = std::fs::File::open(path).map_err(unreadable)?;
            f.read(&mut head).map_err(unreadable)?
        };
        if json || FileFormat::sniff(&head[..n], false) == FileFormat::Xlsx {
            let bytes = std::fs::read(path).map_err(unreadable)?;
            return self.import_file(actor, mapping, &bytes, json).await;
        }
        let file = std::fs::File::open(path).map_err(unreadable)?;
        self.import_csv_stream(actor, mapping, file).await
    }

    /// CSV from a reader: a thread reads and decodes it (UTF-8, or GBK/GB18030 detected from
    /// the first 64 KiB) and hands over chunks of [`CHUNK`] rows; each is imported while the
    /// next is read. A row that is not text in the encoding is reported with its line.
    pub async fn import_csv_stream<R: std::io::Read + Send + 'static>(
        &self,
        actor: &Actor,
        mapping: &Mapping,
        reader: R,
    ) -> Result<ImportReport> {
        let mut run = self.start_import(actor, mapping).await?;
        let (tx, mut rx) = tokio::sync::mpsc::channel::<Result<CsvChunk>>(2);
        let m = mapping.clone();
        let producer = tokio::task::spawn_blocking(move || stream_csv(reader, &m, &tx));
        let mut encoding = None;
        while let Some(chunk) = rx.recv().await {
            let chunk = chunk?;
            encoding = Some(chunk.encoding);
            run.report.rows += chunk.bad.len();
            run.report.errors.extend(chunk.bad);
            self.import_chunk(actor, mapping, &chunk.rows, &mut run)
                .await?;
        }
        producer
            .await
            .map_err(|e| AppError::Internal(format!("CSV reader: {e}")))?;
        let mut report = self.finish_import(actor, run).await?;
        report.encoding = encoding.map(str::to_string);
        Ok(report)
    }
}

/// The formats an export comes in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileFormat {
    Csv,
    Json,
    Xlsx,
}

impl FileFormat {
    /// XLSX by its content (a ZIP archive), else JSON when asked for, else CSV.
    pub fn sniff(head: &[u8], json: bool) -> FileFormat {
        if head.starts_with(b"PK\x03\x04") {
            FileFormat::Xlsx
        } else if json {
            FileFormat::Json
        } else {
            FileFormat::Csv
        }
    }
}

/// Rows read from a CSV stream, and the rows that could not be read (bad encoding).
struct CsvChunk {
    encoding: &'static str,
    rows: Vec<Row>,
    bad: Vec<RowError>,
}

/// UTF-8 unless the first bytes are not UTF-8 (a character cut at the end is allowed).
fn sniff_encoding(head: &[u8]) -> &'static str {
    match std::str::from_utf8(head) {
        Ok(_) => "UTF-8",
        Err(e) if e.error_len().is_none() => "UTF-8",
        Err(_) => "GBK",
    }
}

/// GB18030 (a superset of GBK) bytes as UTF-8, decoded as they are read.
struct Gb18030Reader<R> {
    inner: R,
    decoder: encoding_rs::Decoder,
    input: Vec<u8>,
    start: usize,
    end: usize,
    eof: bool,
    /// Decoded, not yet handed out.
    output: Vec<u8>,
    out_start: usize,
    out_end: usize,
    done: bool,
}

impl<R> Gb18030Reader<R> {
    fn new(inner: R, buffer: usize) -> Self {
        Gb18030Reader {
            inner,
            decoder: encoding_rs::GB18030.new_decoder_without_bom_handling(),
            input: vec![0; buffer],
            start: 0,
            end: 0,
            eof: false,
            // Room for at least one decoded character.
            output: vec![0; buffer.max(16) * 2],
            out_start: 0,
            out_end: 0,
            done: false,
        }
    }
}

impl<R: std::io::Read> std::io::Read for Gb18030Reader<R> {
    fn read(&mut self, out: &mut [u8]) -> std::io::Result<usize> {
        loop {
            if self.out_start < self.out_end {
                let n = out.len().min(self.out_end - self.out_start);
                out[..n].copy_from_slice(&self.output[self.out_start..self.out_start + n]);
                self.out_start += n;
                return Ok(n);
            }
            if self.done || out.is_empty() {
                return Ok(0);
            }
            if self.start == self.end && !self.eof {
                self.start = 0;
                self.end = self.inner.read(&mut self.input)?;
                self.eof = self.end == 0;
            }
            let (result, read, written, _) = self.decoder.decode_to_utf8(
                &self.input[self.start..self.end],
                &mut self.output,
                self.eof,
            );
            self.start += read;
            self.out_start = 0;
            self.out_end = written;
            // With the last input decoded and flushed, the decoder is finished.
            if self.eof && result == encoding_rs::CoderResult::InputEmpty {
                self.done = true;
            }
        }
    }
}

/// Reads a CSV stream into chunks for the importer (runs on a blocking thread).
fn stream_csv<R: std::io::Read>(
    reader: R,
    mapping: &Mapping,
    tx: &tokio::sync::mpsc::Sender<Result<CsvChunk>>,
) {
    use std::io::BufRead;
    let send = |c: Result<CsvChunk>| tx.blocking_send(c).is_ok();
    let mut buf = std::io::BufReader::with_capacity(1 << 16, reader);
    let head = match buf.fill_buf() {
        Ok(h) => h,
        Err(e) => {
            send(Err(DomainError::validation("file", e.to_string()).into()));
            return;
        }
    };
    let bom = head.starts_with(b"\xEF\xBB\xBF");
    let encoding = if bom { "UTF-8" } else { sniff_encoding(head) };
    if bom {
        buf.consume(3);
    }
    let input: Box<dyn std::io::Read> = if encoding == "GBK" {
        Box::new(Gb18030Reader::new(buf, 1 << 16))
    } else {
        Box::new(buf)
    };
    let mut csv = csv::ReaderBuilder::new().flexible(true).from_reader(input);
    let header: Vec<String> = match csv.headers() {
        Ok(h) => h.iter().map(|h| h.trim().to_string()).collect(),
        Err(e) => {
            send(Err(DomainError::validation(
                "file",
                format!("no header: {e}"),
            )
            .into()));
            return;
        }
    };
    if let Err(e) = check_header(mapping, &header) {
        send(Err(e));
        return;
    }
    let mut chunk = CsvChunk {
        encoding,
        rows: Vec::with_capacity(CHUNK),
        bad: Vec::new(),
    };
    for rec in csv.byte_records() {
        let rec = match rec {
            Ok(r) => r,
            Err(e) => {
                let line = e.position().map(|p| p.line()).unwrap_or(0);
                send(Err(DomainError::validation(
                    "file",
                    format!("line {line}: {e}"),
                )
                .into()));
                return;
            }
        };
        let line = rec.position().map(|p| p.line() as usize).unwrap_or(0);
        let values: std::result::Result<BTreeMap<String, String>, _> = header
            .iter()
            .zip(rec.iter())
            .map(|(h, v)| std::str::from_utf8(v).map(|v| (h.clone(), v.to_string())))
            .collect();
        match values {
            Ok(values) => chunk.rows.push(Row { line, values }),
            Err(_) => chunk.bad.push(RowError {
                line,
                source_id: None,
                field: "file".into(),
                code: "encoding".into(),
                reason: format!("not {encoding} text"),
            }),
        }
        if chunk.rows.len() == CHUNK {
            let next = CsvChunk {
                encoding,
                rows: Vec::with_capacity(CHUNK),
                bad: Vec::new(),
            };
            if !send(Ok(std::mem::replace(&mut chunk, next))) {
                return;
            }
        }
    }
    if !chunk.rows.is_empty() || !chunk.bad.is_empty() {
        send(Ok(chunk));
    }
}

/// The rows of the first sheet of an XLSX workbook (header in row 1); each row knows its
/// row number. Dates are Excel serial numbers, which the date reader understands.
pub fn xlsx_rows(bytes: &[u8], mapping: &Mapping) -> Result<Vec<Row>> {
    use calamine::{Data, Reader};
    let bad = |e: String| AppError::from(DomainError::validation("file", e));
    let mut book = calamine::Xlsx::new(std::io::Cursor::new(bytes))
        .map_err(|e| bad(format!("not an XLSX workbook: {e}")))?;
    let range = book
        .worksheet_range_at(0)
        .ok_or_else(|| bad("the workbook has no sheet".into()))?
        .map_err(|e| bad(format!("unreadable sheet: {e}")))?;
    let cell = |d: &Data| -> Option<String> {
        match d {
            Data::Empty | Data::Error(_) => None,
            Data::String(s) | Data::DateTimeIso(s) | Data::DurationIso(s) => Some(s.clone()),
            Data::Float(f) if f.fract() == 0.0 && f.abs() < 1e15 => Some(format!("{}", *f as i64)),
            Data::Float(f) => Some(f.to_string()),
            Data::Int(i) => Some(i.to_string()),
            Data::Bool(b) => Some(b.to_string()),
            Data::DateTime(d) => Some(d.as_f64().to_string()),
        }
    };
    let (first_row, _) = range.start().unwrap_or((0, 0));
    let mut rows_iter = range.rows();
    let header: Vec<String> = rows_iter
        .next()
        .map(|r| {
            r.iter()
                .map(|c| cell(c).unwrap_or_default().trim().to_string())
                .collect()
        })
        .unwrap_or_default();
    check_header(mapping, &header)?;
    Ok(rows_iter
        .enumerate()
        .map(|(i, r)| Row {
            // Spreadsheet rows are numbered from 1; the header is the sheet's first row.
            line: first_row as usize + i + 2,
            values: header
                .iter()
                .zip(r)
                .filter_map(|(h, c)| cell(c).map(|v| (h.clone(), v)))
                .collect(),
        })
        .filter(|r| !r.values.is_empty())
        .collect())
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

    /// Everything `stream_csv` sends for a reader.
    fn streamed(bytes: Vec<u8>, mapping: &Mapping) -> Vec<Result<CsvChunk>> {
        let (tx, mut rx) = tokio::sync::mpsc::channel(4);
        let m = mapping.clone();
        let t = std::thread::spawn(move || stream_csv(std::io::Cursor::new(bytes), &m, &tx));
        let mut out = Vec::new();
        while let Some(c) = rx.blocking_recv() {
            out.push(c);
        }
        t.join().unwrap();
        out
    }

    #[test]
    fn a_large_csv_streams_in_chunks_with_its_lines_and_bad_text_is_a_row_error() {
        let m = builtin_mapping("police").unwrap();
        let n = CHUNK * 2 + 5;
        let mut csv = String::from("警情编号,简要警情,处警情况,发生地点,报警时间\n");
        for i in 0..n {
            csv.push_str(&format!(
                "JQ{i},邻居噪音扰民第{i}次,已调解,东门村,2025-03-03\n"
            ));
        }
        // GBK: decoded as it is read, across chunk and buffer boundaries.
        let gbk = encoding_rs::GBK.encode(&csv).0.into_owned();
        let chunks: Vec<CsvChunk> = streamed(gbk, &m).into_iter().map(|c| c.unwrap()).collect();
        assert_eq!(
            chunks.iter().map(|c| c.rows.len()).collect::<Vec<_>>(),
            [CHUNK, CHUNK, 5]
        );
        assert!(chunks.iter().all(|c| c.encoding == "GBK"));
        let last = chunks[2].rows.last().unwrap();
        assert_eq!(last.line, n + 1);
        assert_eq!(
            last.values["简要警情"],
            format!("邻居噪音扰民第{}次", n - 1)
        );
        // UTF-8 whose bytes go wrong after the first 64 KiB: that row alone is refused.
        let mut bytes = csv.into_bytes();
        let at = bytes.len() - 10;
        bytes[at] = 0xFF;
        let chunks: Vec<CsvChunk> = streamed(bytes, &m)
            .into_iter()
            .map(|c| c.unwrap())
            .collect();
        let bad: Vec<&RowError> = chunks.iter().flat_map(|c| &c.bad).collect();
        assert_eq!(bad.len(), 1);
        assert_eq!((bad[0].line, bad[0].code.as_str()), (n + 1, "encoding"));
        assert_eq!(chunks.iter().map(|c| c.rows.len()).sum::<usize>(), n - 1);
        // A header without the mapping's columns stops the import with their names.
        let e = streamed(b"a,b\n1,2\n".to_vec(), &m)
            .remove(0)
            .err()
            .unwrap();
        assert!(e.to_string().contains("警情编号"), "{e}");
    }

    #[test]
    fn the_gb18030_reader_fills_buffers_of_any_size() {
        use std::io::Read;
        let text = "东门村，张三欠款¥3,500元；𠀀扩展字。".repeat(50);
        let bytes = encoding_rs::GB18030.encode(&text).0.into_owned();
        for size in [1usize, 2, 3, 5, 4096] {
            let mut r = Gb18030Reader::new(std::io::Cursor::new(bytes.clone()), 7);
            let mut out = Vec::new();
            let mut buf = vec![0u8; size];
            loop {
                let k = r.read(&mut buf).unwrap();
                if k == 0 {
                    break;
                }
                out.extend_from_slice(&buf[..k]);
            }
            assert_eq!(String::from_utf8(out).unwrap(), text, "buffer of {size}");
        }
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
