//! Law articles, one document each, in an index held in memory (a corpus of a few thousand
//! articles builds in well under a second; the database keeps the articles). A case's words
//! find the articles that speak of the same things; the articles the project lists for the
//! case's dispute type, and the laws they come from, weigh in.

use std::collections::HashMap;

use tantivy::collector::TopDocs;
use tantivy::query::{BooleanQuery, Occur, Query, TermQuery};
use tantivy::schema::{Field, IndexRecordOption, Schema, STORED, STRING};
use tantivy::{doc, Index, IndexReader, ReloadPolicy, TantivyDocument, Term};

use crate::similar::{filter, key_words, shared, stored, words_query};
use crate::{words_field, JiebaTokenizer, Result, TOKENIZER};

/// Words of the case a query uses at most.
const QUERY_WORDS: usize = 24;
/// Articles ranked by text before the preferences weigh in.
const CANDIDATES: usize = 60;
/// What being among the type's key provisions adds to an article's text likeness (best: 1):
/// enough that the key provisions come first, ordered by how well the text fits them, and the
/// articles the words alone find follow.
pub const PREFERRED: f32 = 1.0;
/// What coming from one of the type's laws adds.
pub const PREFERRED_LAW: f32 = 0.25;

/// An article as the index holds it.
#[derive(Debug, Clone, PartialEq)]
pub struct LawDoc {
    /// `law label`: the article's key.
    pub citation: String,
    pub law: String,
    pub text: String,
}

/// Articles for a case.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct LawQuery {
    /// The case's text.
    pub text: String,
    /// Citations of the articles the project lists for the case's type.
    pub preferred: Vec<String>,
    /// Laws those articles come from.
    pub laws: Vec<String>,
    pub limit: usize,
}

#[derive(Debug, Clone, PartialEq)]
pub struct LawHit {
    pub citation: String,
    pub score: f32,
    /// Text likeness relative to the best article (0–1).
    pub text_likeness: f32,
    pub preferred: bool,
    pub shared_words: Vec<String>,
}

#[derive(Clone, Copy)]
struct Fields {
    citation: Field,
    law: Field,
    text: Field,
}

/// The article index.
pub struct LawIndex {
    reader: IndexReader,
    fields: Fields,
    jieba: JiebaTokenizer,
    len: usize,
}

impl LawIndex {
    /// Indexes the articles in memory.
    pub fn build(docs: &[LawDoc]) -> Result<LawIndex> {
        let mut b = Schema::builder();
        let fields = Fields {
            citation: b.add_text_field("citation", STRING | STORED),
            law: b.add_text_field("law", STRING | STORED),
            text: b.add_text_field("text", words_field() | STORED),
        };
        let index = Index::create_in_ram(b.build());
        let jieba = JiebaTokenizer::new();
        index.tokenizers().register(TOKENIZER, jieba.clone());
        let mut w = index.writer_with_num_threads(1, 20_000_000)?;
        for d in docs {
            w.add_document(doc!(
                fields.citation => d.citation.clone(),
                fields.law => d.law.clone(),
                fields.text => d.text.clone(),
            ))?;
        }
        w.commit()?;
        let reader = index
            .reader_builder()
            .reload_policy(ReloadPolicy::Manual)
            .try_into()?;
        Ok(LawIndex {
            reader,
            fields,
            jieba,
            len: docs.len(),
        })
    }

    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The articles that best apply to the case, best first.
    pub fn recommend(&self, q: &LawQuery) -> Result<Vec<LawHit>> {
        let f = self.fields;
        let searcher = self.reader.searcher();
        let words = key_words(&searcher, f.text, &self.jieba, &q.text, QUERY_WORDS)?;
        let by_citation = |c: &String| -> (Occur, Box<dyn Query>) {
            (
                Occur::Should,
                Box::new(TermQuery::new(
                    Term::from_field_text(f.citation, c),
                    IndexRecordOption::Basic,
                )),
            )
        };
        // (text score, doc) of the best articles by text, and of the preferred ones whatever
        // their text score.
        let mut found: HashMap<tantivy::DocAddress, f32> = HashMap::new();
        if !words.is_empty() {
            let text = words_query(f.text, &words);
            for (s, a) in searcher.search(&text, &TopDocs::with_limit(CANDIDATES))? {
                found.insert(a, s);
            }
            if !q.preferred.is_empty() {
                let among = BooleanQuery::new(vec![
                    (Occur::Must, text),
                    filter(Box::new(BooleanQuery::new(
                        q.preferred.iter().map(by_citation).collect(),
                    ))),
                ]);
                for (s, a) in searcher.search(&among, &TopDocs::with_limit(q.preferred.len()))? {
                    found.insert(a, s);
                }
            }
        }
        if !q.preferred.is_empty() {
            let any = BooleanQuery::new(q.preferred.iter().map(by_citation).collect());
            for (_, a) in searcher.search(&any, &TopDocs::with_limit(q.preferred.len()))? {
                found.entry(a).or_insert(0.0);
            }
        }
        let best = found
            .values()
            .copied()
            .fold(0.0f32, f32::max)
            .max(f32::MIN_POSITIVE);
        let mut hits = Vec::with_capacity(found.len());
        let mut texts = HashMap::new();
        for (addr, s) in found {
            let doc: TantivyDocument = searcher.doc(addr)?;
            let get = |field: Field| stored(&doc, field);
            let citation = get(f.citation);
            let preferred = q.preferred.contains(&citation);
            let from_law = q.laws.contains(&get(f.law));
            let text_likeness = s / best;
            let score = text_likeness
                + if preferred { PREFERRED } else { 0.0 }
                + if from_law { PREFERRED_LAW } else { 0.0 };
            texts.insert(citation.clone(), get(f.text));
            hits.push(LawHit {
                citation,
                score,
                text_likeness,
                preferred,
                shared_words: Vec::new(),
            });
        }
        hits.sort_by(|a, b| {
            b.score
                .total_cmp(&a.score)
                .then_with(|| a.citation.cmp(&b.citation))
        });
        hits.truncate(q.limit.max(1));
        for h in &mut hits {
            let text = texts.remove(&h.citation).unwrap_or_default();
            h.shared_words = shared(&self.jieba, &text, &words);
            h.shared_words.truncate(8);
        }
        Ok(hits)
    }
}
