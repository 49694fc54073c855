//! `fengqiao eval text --data DIR`: the text reader against public data sets and the project's
//! own tables. Prints Markdown (the tables of BENCHMARKS.md). Fails when the data is missing.
#![allow(clippy::print_stdout)]

use anyhow::{bail, Context, Result};
use chrono::{NaiveDate, NaiveDateTime};
use fengqiao_domain::case::DisputeType;
use fengqiao_domain::time::cst;
use fengqiao_text::{Analyzer, Span};
use serde_json::Value;
use std::collections::{BTreeMap, HashMap};
use std::path::Path;

/// The reviewed 案由 → dispute type table.
pub const CAUSE_MAP: &str = include_str!("../data/cause-of-action-map.tsv");
/// Time expressions with their expected intervals.
pub const TIME_TABLE: &str = include_str!("../data/time-expressions.tsv");

/// The demo corpus the built-in model is trained on (every fifth text is held out).
pub const CORPUS_SEED: u64 = 2026;
pub const CORPUS_SIZE: u64 = 5_000;
pub fn corpus_until() -> NaiveDate {
    NaiveDate::from_ymd_opt(2026, 6, 30).unwrap_or_default()
}
pub fn held_out(index: u64) -> bool {
    index.is_multiple_of(5)
}

pub fn cause_map() -> Result<HashMap<String, Option<DisputeType>>> {
    let mut m = HashMap::new();
    for (n, line) in CAUSE_MAP.lines().enumerate() {
        if line.starts_with('#') || line.trim().is_empty() {
            continue;
        }
        let cols: Vec<&str> = line.split('\t').collect();
        let (Some(cause), Some(code)) = (cols.first(), cols.get(1)) else {
            bail!("cause-of-action-map.tsv line {}: expected 2 columns", n + 1);
        };
        let t = match *code {
            "-" => None,
            c => Some(
                DisputeType::parse(c)
                    .with_context(|| format!("cause-of-action-map.tsv line {}: {c}", n + 1))?,
            ),
        };
        m.insert(cause.to_string(), t);
    }
    Ok(m)
}

#[derive(Default, Clone, Copy)]
pub struct Prf {
    pub tp_p: usize,
    pub pred: usize,
    pub tp_r: usize,
    pub gold: usize,
}

impl Prf {
    pub fn p(&self) -> f64 {
        ratio(self.tp_p, self.pred)
    }
    pub fn r(&self) -> f64 {
        ratio(self.tp_r, self.gold)
    }
    pub fn f1(&self) -> f64 {
        let (p, r) = (self.p(), self.r());
        if p + r == 0.0 {
            0.0
        } else {
            2.0 * p * r / (p + r)
        }
    }
    fn add(&mut self, pred: &[Span], gold: &[Span], overlap: bool) {
        let m = |a: &Span, b: &Span| if overlap { a.overlaps(b) } else { a == b };
        self.pred += pred.len();
        self.gold += gold.len();
        self.tp_p += pred.iter().filter(|p| gold.iter().any(|g| m(p, g))).count();
        self.tp_r += gold.iter().filter(|g| pred.iter().any(|p| m(p, g))).count();
    }
}

fn ratio(a: usize, b: usize) -> f64 {
    if b == 0 {
        0.0
    } else {
        a as f64 / b as f64
    }
}

/// Spans per kind (person, place, time) of one text, exact and overlap.
#[derive(Default)]
pub struct SpanScores {
    pub exact: BTreeMap<&'static str, Prf>,
    pub overlap: BTreeMap<&'static str, Prf>,
}

impl SpanScores {
    fn add(&mut self, kind: &'static str, pred: &[Span], gold: &[Span]) {
        self.exact.entry(kind).or_default().add(pred, gold, false);
        self.overlap.entry(kind).or_default().add(pred, gold, true);
    }
    fn print(&self, title: &str) {
        println!("\n### {title}\n");
        println!("| kind | exact P | exact R | exact F1 | overlap P | overlap R | overlap F1 | gold spans |");
        println!("|---|---|---|---|---|---|---|---|");
        for (k, e) in &self.exact {
            let o = self.overlap.get(k).copied().unwrap_or_default();
            println!(
                "| {k} | {:.3} | {:.3} | {:.3} | {:.3} | {:.3} | **{:.3}** | {} |",
                e.p(),
                e.r(),
                e.f1(),
                o.p(),
                o.r(),
                o.f1(),
                e.gold
            );
        }
    }
}

/// Confusion-based per-type scores.
#[derive(Default)]
pub struct TypeScores {
    /// (gold, predicted)
    pairs: Vec<(DisputeType, DisputeType)>,
}

impl TypeScores {
    fn add(&mut self, gold: DisputeType, pred: DisputeType) {
        self.pairs.push((gold, pred));
    }
    pub fn macro_f1(&self) -> f64 {
        let rows = self.per_type();
        if rows.is_empty() {
            return 0.0;
        }
        rows.iter().map(|r| r.1.f1()).sum::<f64>() / rows.len() as f64
    }
    pub fn accuracy(&self) -> f64 {
        ratio(
            self.pairs.iter().filter(|(g, p)| g == p).count(),
            self.pairs.len(),
        )
    }
    /// Types with gold support.
    fn per_type(&self) -> Vec<(DisputeType, Prf)> {
        DisputeType::ALL
            .iter()
            .filter(|t| self.pairs.iter().any(|(g, _)| g == *t))
            .map(|t| {
                let tp = self.pairs.iter().filter(|(g, p)| g == t && p == t).count();
                let pred = self.pairs.iter().filter(|(_, p)| p == t).count();
                let gold = self.pairs.iter().filter(|(g, _)| g == t).count();
                (
                    *t,
                    Prf {
                        tp_p: tp,
                        pred,
                        tp_r: tp,
                        gold,
                    },
                )
            })
            .collect()
    }
    fn print(&self, title: &str) {
        println!("\n### {title}\n");
        println!(
            "{} texts, accuracy {:.3}, **macro-F1 {:.3}** (over the {} types present)\n",
            self.pairs.len(),
            self.accuracy(),
            self.macro_f1(),
            self.per_type().len()
        );
        println!("| type | support | P | R | F1 |");
        println!("|---|---|---|---|---|");
        for (t, s) in self.per_type() {
            println!(
                "| {} {} | {} | {:.3} | {:.3} | {:.3} |",
                t.as_str(),
                t.zh(),
                s.gold,
                s.p(),
                s.r(),
                s.f1()
            );
        }
    }
}

fn read(dir: &Path, name: &str) -> Result<String> {
    let p = dir.join(name);
    std::fs::read_to_string(&p).with_context(|| {
        format!(
            "the evaluation data {} is missing: pass --data with the folder holding {name}",
            p.display()
        )
    })
}

/// A stable half split (for reporting on texts never looked at while writing the lexicon).
fn half(text: &str) -> &'static str {
    let h = text.bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3)
    });
    if h.is_multiple_of(2) {
        "A"
    } else {
        "B"
    }
}

pub fn cjrc_types(
    dir: &Path,
    analyzer: &Analyzer,
    verbose: bool,
) -> Result<(TypeScores, TypeScores, TypeScores)> {
    let data: Value = serde_json::from_str(&read(dir, "cail2019-cjrc-dev.json")?)
        .context("cail2019-cjrc-dev.json is not JSON")?;
    let map = cause_map()?;
    let mut seen = std::collections::HashSet::new();
    let (mut all, mut a, mut b) = (
        TypeScores::default(),
        TypeScores::default(),
        TypeScores::default(),
    );
    let mut unmapped: BTreeMap<String, usize> = BTreeMap::new();
    let mut missing: BTreeMap<String, usize> = BTreeMap::new();
    let mut criminal = 0;
    for item in data["data"].as_array().context("data[] expected")? {
        for p in item["paragraphs"].as_array().into_iter().flatten() {
            let (Some(ctx), Some(cause)) = (p["context"].as_str(), p["casename"].as_str()) else {
                continue;
            };
            if !seen.insert(ctx.to_string()) {
                continue;
            }
            if cause.ends_with('罪') {
                criminal += 1;
                continue;
            }
            match map.get(cause) {
                Some(Some(t)) => {
                    let g = analyzer.classify(ctx);
                    // Only half A's errors are shown (half B stays unseen while tuning).
                    if verbose && g.best != *t && half(ctx) == "A" {
                        println!(
                            "  type miss: {cause} → {} (expected {}) {:?}: {}",
                            g.best.as_str(),
                            t.as_str(),
                            g.evidence,
                            ctx.chars().take(80).collect::<String>()
                        );
                    }
                    all.add(*t, g.best);
                    if half(ctx) == "A" { &mut a } else { &mut b }.add(*t, g.best);
                }
                Some(None) => *unmapped.entry(cause.to_string()).or_default() += 1,
                None => *missing.entry(cause.to_string()).or_default() += 1,
            }
        }
    }
    println!(
        "\nCAIL2019-CJRC dev: {} distinct texts; {criminal} criminal (skipped); {} civil texts mapped; {} civil texts whose 案由 maps to no dispute type (reported, not scored): {}",
        seen.len(),
        all.pairs.len(),
        unmapped.values().sum::<usize>(),
        unmapped.iter().map(|(k, v)| format!("{k} {v}")).collect::<Vec<_>>().join(", ")
    );
    if !missing.is_empty() {
        bail!("案由 missing from cause-of-action-map.tsv: {missing:?}");
    }
    Ok((all, a, b))
}

/// What retraining gives a deployment whose confirmed cases look like these court texts:
/// 5-fold cross-validation on the mapped CJRC civil cases (train on four folds with
/// `TypeModel::train`, as `fengqiao train-classifier` does, classify the fifth).
pub fn cjrc_retrained(dir: &Path) -> Result<TypeScores> {
    let data: Value = serde_json::from_str(&read(dir, "cail2019-cjrc-dev.json")?)
        .context("cail2019-cjrc-dev.json is not JSON")?;
    let map = cause_map()?;
    let mut seen = std::collections::HashSet::new();
    let mut texts: Vec<(String, DisputeType)> = Vec::new();
    for item in data["data"].as_array().context("data[] expected")? {
        for p in item["paragraphs"].as_array().into_iter().flatten() {
            if let (Some(ctx), Some(cause)) = (p["context"].as_str(), p["casename"].as_str()) {
                if seen.insert(ctx.to_string()) {
                    if let Some(Some(t)) = map.get(cause) {
                        texts.push((ctx.to_string(), *t));
                    }
                }
            }
        }
    }
    let mut scores = TypeScores::default();
    for fold in 0..5 {
        let train = texts
            .iter()
            .enumerate()
            .filter(|(i, _)| i % 5 != fold)
            .map(|(_, (t, ty))| (t.as_str(), *ty));
        let model = fengqiao_text::TypeModel::train(train, "cjrc folds")?;
        let reader = Analyzer::new(fengqiao_text::Gazetteer::default(), model);
        for (_, (t, ty)) in texts.iter().enumerate().filter(|(i, _)| i % 5 == fold) {
            scores.add(*ty, reader.classify(t).best);
        }
    }
    Ok(scores)
}

fn spans_of(v: &[(usize, usize)]) -> Vec<Span> {
    v.iter().map(|(s, e)| Span::new(*s, *e)).collect()
}

pub fn cail2022_spans(dir: &Path, analyzer: &Analyzer, verbose: bool) -> Result<SpanScores> {
    let text = read(dir, "cail2022-xxcq-train.json")?;
    let mut scores = SpanScores::default();
    // Court texts of 2012–2016; relative expressions are resolved against this date.
    let report = NaiveDate::from_ymd_opt(2017, 1, 1)
        .unwrap_or_default()
        .and_hms_opt(0, 0, 0)
        .unwrap_or_default();
    let mut n = 0;
    let mut spent = std::time::Duration::ZERO;
    for (no, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let o: Value = serde_json::from_str(line)
            .with_context(|| format!("cail2022-xxcq-train.json line {}", no + 1))?;
        let sent = o["sentText"].as_str().unwrap_or_default();
        let mut gold: HashMap<&str, Vec<(usize, usize)>> = HashMap::new();
        for e in o["entityMentions"].as_array().into_iter().flatten() {
            let kind = match e["label"].as_str() {
                Some("Nh") => "person",
                Some("Ns") => "place",
                Some("NT") => "time",
                _ => continue,
            };
            let (s, t) = (
                e["start"].as_u64().unwrap_or(0),
                e["end"].as_u64().unwrap_or(0),
            );
            gold.entry(kind).or_default().push((s as usize, t as usize));
        }
        let t0 = std::time::Instant::now();
        let a = analyzer.analyze(sent, report)?;
        spent += t0.elapsed();
        let persons: Vec<(usize, usize)> = a
            .persons
            .iter()
            .map(|p| (p.span.start, p.span.end))
            .collect();
        let places: Vec<(usize, usize)> = a
            .places
            .iter()
            .map(|p| (p.span.start, p.span.end))
            .collect();
        let times: Vec<(usize, usize)> =
            a.times.iter().map(|p| (p.span.start, p.span.end)).collect();
        if verbose {
            let g = gold.get("place").cloned().unwrap_or_default();
            let show = |v: &[(usize, usize)]| {
                v.iter()
                    .map(|(a, b)| sent.chars().skip(*a).take(b - a).collect::<String>())
                    .collect::<Vec<_>>()
                    .join("|")
            };
            let ov = |x: &(usize, usize), y: &(usize, usize)| x.0 < y.1 && y.0 < x.1;
            let fp: Vec<_> = places
                .iter()
                .filter(|p| !g.iter().any(|x| ov(p, x)))
                .copied()
                .collect();
            let fneg: Vec<_> = g
                .iter()
                .filter(|x| !places.iter().any(|p| ov(p, x)))
                .copied()
                .collect();
            if !fp.is_empty() || !fneg.is_empty() {
                println!(
                    "  place miss: extra [{}] missed [{}]",
                    show(&fp),
                    show(&fneg)
                );
            }
        }
        for (kind, pred) in [("person", persons), ("place", places), ("time", times)] {
            scores.add(
                kind,
                &spans_of(&pred),
                &spans_of(gold.get(kind).map(Vec::as_slice).unwrap_or(&[])),
            );
        }
        n += 1;
    }
    println!(
        "\nCAIL2022 xxcq: {n} paragraphs; full analyses took {:.1} ms ({:.0} µs a paragraph; build with --release for speed figures)",
        spent.as_secs_f64() * 1e3,
        spent.as_secs_f64() * 1e6 / n.max(1) as f64
    );
    Ok(scores)
}

pub struct TimeRow {
    pub report: NaiveDateTime,
    pub expr: String,
    pub start: NaiveDateTime,
    pub end: NaiveDateTime,
}

pub fn time_table() -> Result<Vec<TimeRow>> {
    let f = "%Y-%m-%d %H:%M";
    let mut rows = Vec::new();
    for (n, line) in TIME_TABLE.lines().enumerate() {
        if line.starts_with('#') || line.trim().is_empty() {
            continue;
        }
        let c: Vec<&str> = line.split('\t').collect();
        if c.len() != 4 {
            bail!("time-expressions.tsv line {}: expected 4 columns", n + 1);
        }
        let p = |s: &str| {
            NaiveDateTime::parse_from_str(s, f)
                .with_context(|| format!("time-expressions.tsv line {}: {s}", n + 1))
        };
        rows.push(TimeRow {
            report: p(c[0])?,
            expr: c[1].to_string(),
            start: p(c[2])?,
            end: p(c[3])?,
        });
    }
    Ok(rows)
}

/// Accuracy of time normalisation on the table; prints the misses.
pub fn time_accuracy(analyzer: &Analyzer, verbose: bool) -> Result<(usize, usize)> {
    let rows = time_table()?;
    let mut ok = 0;
    let started = std::time::Instant::now();
    let read: Vec<_> = rows
        .iter()
        .map(|r| analyzer.analyze(&r.expr, r.report))
        .collect::<Result<_, _>>()?;
    let spent = started.elapsed();
    println!(
        "\ntime table: {} expressions analysed in {:.2} ms ({:.1} µs each)",
        rows.len(),
        spent.as_secs_f64() * 1e3,
        spent.as_secs_f64() * 1e6 / rows.len().max(1) as f64
    );
    for (r, a) in rows.iter().zip(read) {
        let hit = a.times.first();
        let right = hit.is_some_and(|t| {
            t.start == r.start && t.end == r.end && t.span == Span::new(0, r.expr.chars().count())
        });
        if right {
            ok += 1;
        } else if verbose {
            println!(
                "  miss: [{}] {} → {:?}, expected {} – {}",
                r.report,
                r.expr,
                hit.map(|t| (t.text.clone(), t.start.to_string(), t.end.to_string())),
                r.start,
                r.end
            );
        }
    }
    Ok((ok, rows.len()))
}

/// The reader of the demo county (its jurisdictions as gazetteer).
pub fn demo_analyzer() -> Result<Analyzer> {
    let county = fengqiao_demo::county::build(CORPUS_SEED)?;
    let entries = county
        .nodes()
        .into_iter()
        .map(|j| fengqiao_text::GazetteerEntry {
            level: match j.level {
                fengqiao_domain::jurisdiction::Level::Province
                | fengqiao_domain::jurisdiction::Level::City => 0,
                fengqiao_domain::jurisdiction::Level::County => 1,
                fengqiao_domain::jurisdiction::Level::Town => 2,
                fengqiao_domain::jurisdiction::Level::Village => 3,
                fengqiao_domain::jurisdiction::Level::Grid => 4,
            },
            code: j.code,
            name: j.name,
            path: j.path,
        })
        .collect();
    Ok(Analyzer::new(
        fengqiao_text::Gazetteer::new(entries),
        fengqiao_text::TypeModel::builtin(),
    ))
}

pub fn demo_held_out(analyzer: &Analyzer, verbose: bool) -> Result<(TypeScores, SpanScores)> {
    let corpus = fengqiao_demo::labelled_corpus(CORPUS_SEED, CORPUS_SIZE, corpus_until())?;
    let mut shown = 0;
    let mut types = TypeScores::default();
    let mut spans = SpanScores::default();
    for t in corpus.iter().filter(|t| held_out(t.index)) {
        let report = chrono::DateTime::from_timestamp_millis(t.reported_at)
            .unwrap_or_default()
            .with_timezone(&cst())
            .naive_local();
        let a = analyzer.analyze(&t.text, report)?;
        types.add(t.dispute_type, a.dispute_type.best);
        let gold = |slots: &[&str]| -> Vec<Span> {
            t.labels
                .iter()
                .filter(|(k, _, _)| slots.contains(&k.as_str()))
                .map(|(_, s, e)| Span::new(*s, *e))
                .collect()
        };
        let persons: Vec<Span> = a.persons.iter().map(|p| p.span).collect();
        let places: Vec<Span> = a.places.iter().map(|p| p.span).collect();
        let times: Vec<Span> = a.times.iter().map(|p| p.span).collect();
        let orgs: Vec<Span> = a.organisations.iter().map(|p| p.span).collect();
        let money: Vec<Span> = a.amounts.iter().map(|p| p.span).collect();
        if verbose && shown < 40 {
            let g = gold(&["{A}", "{B}", "{V}", "{T}", "{W}"]);
            let mine: Vec<Span> = persons
                .iter()
                .chain(&places)
                .chain(&times)
                .copied()
                .collect();
            if g.iter().any(|x| !mine.contains(x)) {
                shown += 1;
                let show = |v: &[Span]| {
                    v.iter()
                        .map(|s| {
                            t.text
                                .chars()
                                .skip(s.start)
                                .take(s.len())
                                .collect::<String>()
                        })
                        .collect::<Vec<_>>()
                        .join("|")
                };
                println!(
                    "  demo miss: {}\n    gold {}\n    mine {}",
                    t.text,
                    show(&g),
                    show(&mine)
                );
            }
        }
        spans.add("person", &persons, &gold(&["{A}", "{B}"]));
        spans.add("place", &places, &gold(&["{V}", "{T}"]));
        spans.add("time", &times, &gold(&["{W}"]));
        spans.add("organisation", &orgs, &gold(&["{C}"]));
        let money_gold: Vec<Span> = gold(&["{M}"])
            .into_iter()
            .filter(|s| {
                t.text
                    .chars()
                    .skip(s.start)
                    .take(s.len())
                    .collect::<String>()
                    != "若干"
            })
            .collect();
        spans.add("money", &money, &money_gold);
    }
    Ok((types, spans))
}

/// Duplicates on the demo corpus: one case in fifty re-reports the case before it through
/// another channel. Each text, in registration order, is compared with the last 30 days'.
pub fn demo_duplicates(analyzer: &Analyzer) -> Result<()> {
    use fengqiao_text::dedup::{Index, AUTO_LINK};
    let mut corpus = fengqiao_demo::labelled_corpus(CORPUS_SEED, CORPUS_SIZE, corpus_until())?;
    corpus.sort_by_key(|t| (t.reported_at, t.index));
    let mut index = Index::default();
    let (mut gold, mut suggested, mut linked_right) = (0, 0, 0);
    let (mut links, mut suggestions, mut suggestions_right) = (0, 0, 0);
    for t in &corpus {
        let report = chrono::DateTime::from_timestamp_millis(t.reported_at)
            .unwrap_or_default()
            .with_timezone(&cst())
            .naive_local();
        let a = analyzer.analyze(&t.text, report)?;
        let fp = fengqiao_text::Fingerprint::of(&t.text, &a, Some(&t.node_code));
        let id = t.index as i64;
        let found = index.candidates(&fp, id, t.reported_at - 30 * 86_400_000, t.reported_at, 5);
        let partner = fengqiao_demo::is_duplicate_report(t.index).then(|| id - 1);
        if partner.is_some() {
            gold += 1;
            if found.iter().any(|d| Some(d.case_id) == partner) {
                suggested += 1;
            }
        }
        suggestions += found.len();
        suggestions_right += found.iter().filter(|d| Some(d.case_id) == partner).count();
        if let Some(best) = found.first().filter(|d| d.score >= AUTO_LINK) {
            links += 1;
            if Some(best.case_id) == partner {
                linked_right += 1;
            }
        }
        index.insert(id, t.reported_at, fp);
    }
    println!(
        "\n### Duplicates on the demo corpus\n\n{gold} re-reports among {} texts: {suggested} found among the candidates (recall {:.3}), {linked_right} linked automatically (recall {:.3}); {links} automatic links in all (precision {:.3}); {suggestions} candidates shown in all, {suggestions_right} of them right (the templates make many same-village texts alike)",
        corpus.len(),
        ratio(suggested, gold),
        ratio(linked_right, gold),
        ratio(linked_right, links),
    );
    Ok(())
}

pub fn run_text(dir: &Path, verbose: bool) -> Result<()> {
    if !dir.is_dir() {
        bail!(
            "the evaluation data folder {} does not exist (it holds cail2019-cjrc-dev.json and cail2022-xxcq-train.json)",
            dir.display()
        );
    }
    let analyzer = Analyzer::generic();
    println!(
        "## Text evaluation (analyser {})",
        fengqiao_text::ANALYSER_VERSION
    );
    let (all, a, b) = cjrc_types(dir, &analyzer, verbose)?;
    all.print("Dispute type on the mapped CAIL2019-CJRC civil cases (all)");
    println!(
        "\nBy half (a fixed hash split; the lexicon was refined looking at errors on half A only): A macro-F1 {:.3} ({} texts), B macro-F1 {:.3} ({} texts)",
        a.macro_f1(),
        a.pairs.len(),
        b.macro_f1(),
        b.pairs.len()
    );
    cjrc_retrained(dir)?.print(
        "Dispute type after retraining on court texts (5-fold cross-validation on the same CJRC cases: train-classifier on four folds, classify the fifth)",
    );
    cail2022_spans(dir, &analyzer, verbose)?
        .print("Person / place / time spans on CAIL2022 xxcq (labels Nh, Ns, NT)");
    let (ok, n) = time_accuracy(&analyzer, verbose)?;
    println!(
        "\n### Time normalisation\n\n{ok} of {n} expressions of crates/cli/data/time-expressions.tsv read exactly (span and interval): **accuracy {:.3}**",
        ratio(ok, n)
    );
    let demo = demo_analyzer()?;
    let (types, spans) = demo_held_out(&demo, verbose)?;
    types.print("Dispute type on the held-out demo corpus (every fifth of 5,000 generated texts)");
    spans.print("Spans on the held-out demo corpus");
    demo_duplicates(&demo)?;
    Ok(())
}
