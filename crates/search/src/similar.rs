//! Cases like a given one: the words that best tell the case apart (tf·idf over the index)
//! retrieve candidates by BM25, then the same dispute type and the same place add to their
//! text likeness. Each hit says why it was chosen.

use std::collections::{HashMap, HashSet};

use tantivy::collector::TopDocs;
use tantivy::query::{BooleanQuery, BoostQuery, ConstScoreQuery, Occur, Query, TermQuery};
use tantivy::schema::{Field, IndexRecordOption, Value};
use tantivy::tokenizer::{TokenStream, Tokenizer};
use tantivy::{Searcher, TantivyDocument, Term};

use crate::{JiebaTokenizer, Result, Scope, SearchIndex};

/// Words of the case a query uses at most.
pub const QUERY_WORDS: usize = 24;
/// Candidates ranked by text before the type and the place are weighed in.
pub const CANDIDATES: usize = 100;
/// What the same dispute type adds to a candidate's text likeness (the best candidate's is 1).
pub const SAME_TYPE: f32 = 0.3;
/// What the same place (village or grid) adds; the same parent area adds half.
pub const SAME_PLACE: f32 = 0.1;

/// Cases like the one described.
#[derive(Debug, Clone, PartialEq)]
pub struct SimilarQuery {
    /// The case's text (personal numbers masked).
    pub text: String,
    pub dispute_type: Option<String>,
    /// The case's jurisdiction path.
    pub node_path: String,
    /// Only cases that ended so (`agreement`: the resolved ones).
    pub outcome_kind: Option<String>,
    /// Cases never to return (the case itself, its duplicates).
    pub exclude: Vec<i64>,
    pub scope: Scope,
    pub limit: usize,
}

/// How a hit's place relates to the query's.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Nearness {
    /// The same village (or grid).
    SamePlace,
    /// Another place under the same town (or village, for a grid).
    SameArea,
    Elsewhere,
}

#[derive(Debug, Clone, PartialEq)]
pub struct SimilarHit {
    pub id: i64,
    /// Text likeness relative to the best candidate (0–1), plus the type and place weights.
    pub score: f32,
    pub text_likeness: f32,
    /// The query's distinguishing words this case's text also has, most telling first.
    pub shared_words: Vec<String>,
    pub same_type: bool,
    pub nearness: Nearness,
}

/// The words of `text` that best tell it apart among the documents of `field`: tf·idf, the
/// query weight being √tf. Words no document has, and bare numbers, are left out.
pub(crate) fn key_words(
    searcher: &Searcher,
    field: Field,
    jieba: &JiebaTokenizer,
    text: &str,
    max: usize,
) -> Result<Vec<(String, f32)>> {
    let mut counts: HashMap<String, u32> = HashMap::new();
    let mut t = jieba.clone();
    let mut s = t.token_stream(text);
    while s.advance() {
        let w = &s.token().text;
        if w.chars().all(|c| c.is_ascii_digit() || c == '.') {
            continue;
        }
        *counts.entry(w.clone()).or_default() += 1;
    }
    let n = searcher.num_docs() as f32;
    let mut scored = Vec::with_capacity(counts.len());
    for (w, c) in counts {
        let df = searcher.doc_freq(&Term::from_field_text(field, &w))? as f32;
        if df == 0.0 {
            continue;
        }
        let idf = (1.0 + (n - df + 0.5) / (df + 0.5)).ln();
        let weight = (c as f32).sqrt();
        scored.push((w, weight, idf * weight));
    }
    scored.sort_by(|a, b| b.2.total_cmp(&a.2).then_with(|| a.0.cmp(&b.0)));
    scored.truncate(max);
    Ok(scored
        .into_iter()
        .map(|(w, weight, _)| (w, weight))
        .collect())
}

/// Any of the words, each weighted, in `field`.
pub(crate) fn words_query(field: Field, words: &[(String, f32)]) -> Box<dyn Query> {
    Box::new(BooleanQuery::new(
        words
            .iter()
            .map(|(w, weight)| {
                let q: Box<dyn Query> = Box::new(TermQuery::new(
                    Term::from_field_text(field, w),
                    IndexRecordOption::WithFreqs,
                ));
                (
                    Occur::Should,
                    Box::new(BoostQuery::new(q, *weight)) as Box<dyn Query>,
                )
            })
            .collect(),
    ))
}

/// A filter that adds nothing to the score.
pub(crate) fn filter(q: Box<dyn Query>) -> (Occur, Box<dyn Query>) {
    (Occur::Must, Box::new(ConstScoreQuery::new(q, 0.0)))
}

/// Which of `words` the text has, in `words`' order.
pub(crate) fn shared(jieba: &JiebaTokenizer, text: &str, words: &[(String, f32)]) -> Vec<String> {
    let mut t = jieba.clone();
    let mut s = t.token_stream(text);
    let mut have = HashSet::new();
    while s.advance() {
        have.insert(s.token().text.clone());
    }
    words
        .iter()
        .filter(|(w, _)| have.contains(w))
        .map(|(w, _)| w.clone())
        .collect()
}

/// A stored text field of a document ("" when absent).
pub(crate) fn stored(doc: &TantivyDocument, field: Field) -> String {
    doc.get_first(field)
        .and_then(|v| v.as_str())
        .unwrap_or_default()
        .to_string()
}

/// `/a/b/c/` → `/a/b/`; the root's parent is itself.
fn parent(path: &str) -> &str {
    let trimmed = path.trim_end_matches('/');
    match trimmed.rfind('/') {
        Some(i) if i > 0 => &path[..=i],
        _ => path,
    }
}

impl SearchIndex {
    /// The cases most like the query's, best first.
    pub fn similar(&self, q: &SimilarQuery) -> Result<Vec<SimilarHit>> {
        let f = self.fields;
        let searcher = self.reader.searcher();
        let words = key_words(&searcher, f.text, &self.jieba, &q.text, QUERY_WORDS)?;
        if words.is_empty() {
            return Ok(Vec::new());
        }
        let mut all: Vec<(Occur, Box<dyn Query>)> =
            vec![(Occur::Must, words_query(f.text, &words))];
        let exact = |field: Field, v: &str| -> Box<dyn Query> {
            Box::new(TermQuery::new(
                Term::from_field_text(field, v),
                IndexRecordOption::Basic,
            ))
        };
        if let Some(k) = &q.outcome_kind {
            all.push(filter(exact(f.outcome_kind, k)));
        }
        if let Some(scope) = self.scope_query(&q.scope) {
            all.push(filter(scope));
        }
        for id in &q.exclude {
            all.push((
                Occur::MustNot,
                Box::new(TermQuery::new(
                    Term::from_field_i64(f.id, *id),
                    IndexRecordOption::Basic,
                )),
            ));
        }
        let top = searcher.search(
            &BooleanQuery::new(all),
            &TopDocs::with_limit(CANDIDATES.max(q.limit)),
        )?;
        let best = top.first().map_or(1.0, |(s, _)| s.max(f32::MIN_POSITIVE));
        let area = parent(&q.node_path);
        let mut hits = Vec::with_capacity(top.len());
        let mut texts = HashMap::new();
        for (score, addr) in top {
            let doc: TantivyDocument = searcher.doc(addr)?;
            let get = |field: Field| stored(&doc, field);
            let id = doc
                .get_first(f.id)
                .and_then(|v| v.as_i64())
                .unwrap_or_default();
            let place = get(f.place);
            let same_type = q.dispute_type.as_deref() == Some(get(f.dispute_type).as_str());
            let nearness = if !q.node_path.is_empty() && place == q.node_path {
                Nearness::SamePlace
            } else if !q.node_path.is_empty() && place.starts_with(area) && area != q.node_path {
                Nearness::SameArea
            } else {
                Nearness::Elsewhere
            };
            let text_likeness = score / best;
            let combined = text_likeness
                + if same_type { SAME_TYPE } else { 0.0 }
                + match nearness {
                    Nearness::SamePlace => SAME_PLACE,
                    Nearness::SameArea => SAME_PLACE / 2.0,
                    Nearness::Elsewhere => 0.0,
                };
            texts.insert(id, get(f.text));
            hits.push(SimilarHit {
                id,
                score: combined,
                text_likeness,
                shared_words: Vec::new(),
                same_type,
                nearness,
            });
        }
        hits.sort_by(|a, b| b.score.total_cmp(&a.score).then(a.id.cmp(&b.id)));
        hits.truncate(q.limit.max(1));
        for h in &mut hits {
            let text = texts.remove(&h.id).unwrap_or_default();
            h.shared_words = shared(&self.jieba, &text, &words);
            h.shared_words.truncate(8);
        }
        Ok(hits)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parents() {
        assert_eq!(parent("/1/2/3/"), "/1/2/");
        assert_eq!(parent("/1/"), "/1/");
        assert_eq!(parent(""), "");
    }
}
