//! `fengqiao eval search` and `fengqiao eval laws`: similar cases (nDCG@10, P@5) on the
//! held-out demo corpus and on CAIL2019-CJRC's civil cases, and the legal-basis recommender's
//! hit@5 on the project's labelled cases with the law corpus of `../shared/data/laws`.
//! Both fail when their data is missing.
#![allow(clippy::print_stdout)]

use anyhow::{bail, Context, Result};
use fengqiao_domain::case::DisputeType;
use fengqiao_domain::law::{key_provisions_for, parse_law_markdown};
use fengqiao_search::{CaseDoc, LawIndex, LawQuery, Scope, SearchIndex, SimilarQuery};
use fengqiao_text::Analyzer;
use serde_json::Value;
use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::Path;

use crate::eval::{corpus_until, held_out, CORPUS_SEED, CORPUS_SIZE};

/// The project's labelled cases for the legal-basis evaluation.
pub const LABELLED: &str = include_str!("../data/legal-basis-cases.tsv");

const VILLAGE: &str = "/990102/990102001/990102001001/";

/// nDCG@10 and P@5 summed over queries.
#[derive(Default)]
struct Ranking {
    ndcg: f64,
    p5: f64,
    /// The best P@5 possible (a query with two relevant cases cannot pass 0.4).
    p5_ceiling: f64,
    n: usize,
}

impl Ranking {
    /// Adds one query: the relevance of its ranked hits and how many relevant documents exist.
    fn add(&mut self, relevant: &[bool], total_relevant: usize) {
        if total_relevant == 0 {
            return;
        }
        let dcg: f64 = relevant
            .iter()
            .take(10)
            .enumerate()
            .filter(|(_, r)| **r)
            .map(|(i, _)| 1.0 / ((i + 2) as f64).log2())
            .sum();
        let ideal: f64 = (0..total_relevant.min(10))
            .map(|i| 1.0 / ((i + 2) as f64).log2())
            .sum();
        self.ndcg += dcg / ideal;
        self.p5 += relevant.iter().take(5).filter(|r| **r).count() as f64 / 5.0;
        self.p5_ceiling += total_relevant.min(5) as f64 / 5.0;
        self.n += 1;
    }

    fn row(&self, label: &str) -> String {
        format!(
            "| {label} | {} | {:.3} | {:.3} | {:.3} |",
            self.n,
            self.ndcg / self.n.max(1) as f64,
            self.p5 / self.n.max(1) as f64,
            self.p5_ceiling / self.n.max(1) as f64
        )
    }
}

fn resolved(id: i64, text: &str, t: &str) -> CaseDoc {
    CaseDoc {
        id,
        tracking_code: format!("E{id}"),
        text: text.to_string(),
        outcome_kind: "agreement".into(),
        dispute_type: t.to_string(),
        status: "archived".into(),
        channel: "walk_in".into(),
        node_path: VILLAGE.into(),
        ..CaseDoc::default()
    }
}

fn query(text: &str, t: Option<DisputeType>, exclude: i64) -> SimilarQuery {
    SimilarQuery {
        text: text.to_string(),
        dispute_type: t.map(|t| t.as_str().to_string()),
        node_path: String::new(),
        outcome_kind: Some("agreement".into()),
        exclude: vec![exclude],
        scope: Scope::Everything,
        limit: 10,
    }
}

/// Runs the queries with and without the (predicted) type and prints the two rows.
fn rank_all(
    index: &SearchIndex,
    queries: &[(i64, String, Option<DisputeType>, usize)],
    relevant: impl Fn(i64, i64) -> bool,
    label: &str,
) -> Result<()> {
    let mut text_only = Ranking::default();
    let mut with_type = Ranking::default();
    for (id, text, predicted, total) in queries {
        for (typed, r) in [(None, &mut text_only), (*predicted, &mut with_type)] {
            let hits = index.similar(&query(text, typed, *id))?;
            let rel: Vec<bool> = hits.iter().map(|h| relevant(*id, h.id)).collect();
            r.add(&rel, *total);
        }
    }
    println!("{}", text_only.row(&format!("{label}, words only")));
    println!(
        "{}",
        with_type.row(&format!(
            "{label}, words + the type the reader predicts (weight {})",
            fengqiao_search::SAME_TYPE
        ))
    );
    Ok(())
}

/// Similar cases on the demo corpus: the training part as resolved cases, each held-out text
/// as a query; relevant = the same dispute type, and (finer) the same scenario of that type.
fn demo(analyzer: &Analyzer) -> Result<()> {
    let corpus = fengqiao_demo::labelled_corpus(CORPUS_SEED, CORPUS_SIZE, corpus_until())?;
    let unknown = corpus.iter().filter(|t| t.scenario.is_none()).count();
    if unknown > 0 {
        bail!("{unknown} demo texts match none of their type's scenarios");
    }
    let index = SearchIndex::in_memory()?;
    let label: HashMap<i64, (DisputeType, Option<usize>)> = corpus
        .iter()
        .map(|t| (t.index as i64 + 1, (t.dispute_type, t.scenario)))
        .collect();
    let mut per_type: HashMap<DisputeType, usize> = HashMap::new();
    let mut per_scenario: HashMap<(DisputeType, Option<usize>), usize> = HashMap::new();
    let docs: Vec<CaseDoc> = corpus
        .iter()
        .filter(|t| !held_out(t.index))
        .map(|t| {
            *per_type.entry(t.dispute_type).or_default() += 1;
            *per_scenario
                .entry((t.dispute_type, t.scenario))
                .or_default() += 1;
            resolved(t.index as i64 + 1, &t.text, t.dispute_type.as_str())
        })
        .collect();
    index.upsert(&docs)?;
    index.commit()?;
    let held: Vec<_> = corpus.iter().filter(|t| held_out(t.index)).collect();
    let queries = |by_scenario: bool| -> Vec<(i64, String, Option<DisputeType>, usize)> {
        held.iter()
            .map(|t| {
                let total = if by_scenario {
                    per_scenario.get(&(t.dispute_type, t.scenario))
                } else {
                    per_type.get(&t.dispute_type)
                };
                (
                    t.index as i64 + 1,
                    t.text.clone(),
                    Some(analyzer.classify(&t.text).best),
                    total.copied().unwrap_or(0),
                )
            })
            .collect()
    };
    let what = format!(
        "demo corpus ({} held-out queries, {} resolved cases)",
        held.len(),
        docs.len()
    );
    rank_all(
        &index,
        &queries(false),
        |q, d| label.get(&q).map(|l| l.0) == label.get(&d).map(|l| l.0),
        &format!("{what}, relevant = same type"),
    )?;
    rank_all(
        &index,
        &queries(true),
        |q, d| label.get(&q) == label.get(&d),
        &format!("{what}, relevant = same scenario of the type"),
    )
}

/// Similar cases on CAIL2019-CJRC's civil cases, leave one out: every civil fact text is a
/// resolved case and, in turn, a query; relevant = the same 案由 (cases whose 案由 no other
/// case has are not queries).
fn cail(dir: &Path, analyzer: &Analyzer) -> Result<()> {
    let path = dir.join("cail2019-cjrc-dev.json");
    let raw = std::fs::read_to_string(&path)
        .with_context(|| format!("read {} (the evaluation data is missing)", path.display()))?;
    let data: Value = serde_json::from_str(&raw).context("cail2019-cjrc-dev.json is not JSON")?;
    let mut seen = HashSet::new();
    let mut cases: Vec<(i64, String, String)> = Vec::new();
    for item in data["data"].as_array().context("data[] expected")? {
        for p in item["paragraphs"].as_array().into_iter().flatten() {
            let (Some(ctx), Some(cause)) = (p["context"].as_str(), p["casename"].as_str()) else {
                continue;
            };
            if cause.ends_with('罪') || !seen.insert(ctx.to_string()) {
                continue;
            }
            cases.push((cases.len() as i64 + 1, ctx.to_string(), cause.to_string()));
        }
    }
    if cases.len() < 100 {
        bail!("only {} civil cases in {}", cases.len(), path.display());
    }
    let mut per_cause: BTreeMap<&str, usize> = BTreeMap::new();
    for (_, _, c) in &cases {
        *per_cause.entry(c.as_str()).or_default() += 1;
    }
    let index = SearchIndex::in_memory()?;
    let docs: Vec<CaseDoc> = cases
        .iter()
        .map(|(id, text, _)| {
            // Indexed under the type the reader makes of its text (staff would have confirmed
            // one; the reader's guess is the harder, honest stand-in).
            resolved(*id, text, analyzer.classify(text).best.as_str())
        })
        .collect();
    index.upsert(&docs)?;
    index.commit()?;
    let cause_of: HashMap<i64, &str> = cases.iter().map(|(i, _, c)| (*i, c.as_str())).collect();
    let queries: Vec<(i64, String, Option<DisputeType>, usize)> = cases
        .iter()
        .filter(|(_, _, c)| per_cause[c.as_str()] > 1)
        .map(|(id, text, cause)| {
            (
                *id,
                text.clone(),
                Some(analyzer.classify(text).best),
                per_cause[cause.as_str()] - 1,
            )
        })
        .collect();
    rank_all(
        &index,
        &queries,
        |q, d| cause_of.get(&q) == cause_of.get(&d),
        &format!(
            "CAIL2019-CJRC civil: {} queries (of {} cases, {} 案由)",
            queries.len(),
            cases.len(),
            per_cause.len()
        ),
    )
}

pub fn run_search(dir: &Path) -> Result<()> {
    if !dir.is_dir() {
        bail!(
            "the evaluation data folder {} does not exist (it holds cail2019-cjrc-dev.json)",
            dir.display()
        );
    }
    println!("## Similar cases\n");
    println!("| set | queries | nDCG@10 | P@5 | best P@5 possible |\n|---|---|---|---|---|");
    demo(&crate::eval::demo_analyzer()?)?;
    cail(dir, &Analyzer::generic())?;
    Ok(())
}

/// One labelled case.
struct Labelled {
    line: usize,
    dispute_type: DisputeType,
    text: String,
    gold: Vec<String>,
}

fn labelled() -> Result<Vec<Labelled>> {
    let mut out = Vec::new();
    for (i, line) in LABELLED.lines().enumerate() {
        if line.starts_with('#') || line.trim().is_empty() {
            continue;
        }
        let cols: Vec<&str> = line.split('\t').collect();
        let [t, text, gold] = cols[..] else {
            bail!("legal-basis-cases.tsv line {}: expected 3 columns", i + 1);
        };
        out.push(Labelled {
            line: i + 1,
            dispute_type: DisputeType::parse(t)
                .with_context(|| format!("legal-basis-cases.tsv line {}: type {t}", i + 1))?,
            text: text.to_string(),
            gold: gold.split('；').map(|g| g.trim().to_string()).collect(),
        });
    }
    Ok(out)
}

/// The law corpus of a folder, as the import reads it.
pub fn corpus(dir: &Path) -> Result<Vec<fengqiao_domain::law::LawArticle>> {
    let files = crate::read_law_files(dir)?;
    let mut seen = HashSet::new();
    let mut all = Vec::new();
    for (name, text) in files {
        let p = parse_law_markdown(&text);
        if let Some((line, what)) = p.problems.first() {
            bail!("{name}:{line}: {what}");
        }
        all.extend(p.articles.into_iter().filter(|a| seen.insert(a.citation())));
    }
    Ok(all)
}

pub fn run_laws(dir: &Path, verbose: bool) -> Result<()> {
    let laws = dir.join("laws");
    if !laws.is_dir() {
        bail!(
            "the law corpus {} does not exist (Markdown laws, one article a paragraph)",
            laws.display()
        );
    }
    let articles = corpus(&laws)?;
    let held: HashSet<String> = articles.iter().map(|a| a.citation()).collect();
    let cases = labelled()?;
    for c in &cases {
        for g in &c.gold {
            if !held.contains(g) {
                bail!(
                    "legal-basis-cases.tsv line {}: {g} is not in the corpus",
                    c.line
                );
            }
        }
    }
    let index = LawIndex::build(&fengqiao_app::laws::law_docs(&articles))?;
    let analyzer = Analyzer::generic();
    let mut hits = [0usize; 4];
    let mut any_gold = [0usize; 4];
    for c in &cases {
        let predicted = analyzer.classify(&c.text).best;
        let runs: [Vec<String>; 4] = [
            // The app's recommender with the case's (confirmed) type.
            recommend(&index, &c.text, c.dispute_type, &held)?,
            // … with the type the reader predicts.
            recommend(&index, &c.text, predicted, &held)?,
            // Words only.
            index
                .recommend(&LawQuery {
                    text: c.text.clone(),
                    limit: 5,
                    ..LawQuery::default()
                })?
                .into_iter()
                .map(|h| h.citation)
                .collect(),
            // The curated table alone (what the demo shows without a corpus).
            key_provisions_for(c.dispute_type)
                .iter()
                .take(5)
                .map(|k| k.citation())
                .collect(),
        ];
        for (i, got) in runs.iter().enumerate() {
            let found = got.iter().take(5).filter(|g| c.gold.contains(g)).count();
            hits[i] += usize::from(found > 0);
            any_gold[i] += found;
            if verbose && i == 0 && found == 0 {
                println!("  miss (line {}): {} → {:?}", c.line, c.text, got);
            }
        }
    }
    let n = cases.len();
    let gold_total: usize = cases.iter().map(|c| c.gold.len()).sum();
    println!(
        "## Legal basis\n\n{n} labelled cases (crates/cli/data/legal-basis-cases.tsv, {gold_total} gold articles), corpus: {} articles from {}\n",
        articles.len(),
        laws.display()
    );
    println!("| recommender | hit@5 | gold articles in the top 5 |\n|---|---|---|");
    for (i, label) in [
        "corpus + key provisions of the case's type (the app)",
        "corpus + key provisions of the type the reader predicts",
        "corpus, words only",
        "curated table alone (no corpus)",
    ]
    .iter()
    .enumerate()
    {
        println!(
            "| {label} | **{:.3}** ({}/{n}) | {:.3} ({}/{gold_total}) |",
            hits[i] as f64 / n as f64,
            hits[i],
            any_gold[i] as f64 / gold_total as f64,
            any_gold[i]
        );
    }
    Ok(())
}

fn recommend(
    index: &LawIndex,
    text: &str,
    t: DisputeType,
    held: &HashSet<String>,
) -> Result<Vec<String>> {
    let q = fengqiao_app::laws::law_query(text, t, |c| held.contains(c));
    Ok(index
        .recommend(&q)?
        .into_iter()
        .map(|h| h.citation)
        .collect())
}
