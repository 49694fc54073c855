//! Full-text search over cases: a tantivy index, tokenised by jieba for Chinese. The index is
//! a projection of the database — the app feeds it every case change and `fengqiao reindex`
//! rebuilds it from scratch — so nothing is ever only here. Personal numbers never enter it:
//! the app gives it texts with phone and ID-card numbers already masked.
//!
//! Who may see what is filtered twice: by the index (the jurisdiction subtree's path prefixes
//! and the units involved are terms of every document) and again by the app on the hits'
//! cases.

use std::ops::Range;
use std::path::Path;
use std::sync::{Arc, Mutex};

use tantivy::collector::{Count, TopDocs};
use tantivy::query::{AllQuery, BooleanQuery, Occur, Query, TermQuery};
use tantivy::schema::{
    Field, IndexRecordOption, Schema, TextFieldIndexing, TextOptions, Value, FAST, INDEXED, STORED,
    STRING,
};
use tantivy::snippet::SnippetGenerator;
use tantivy::tokenizer::{Token, TokenStream, Tokenizer};
use tantivy::{doc, Index, IndexReader, IndexWriter, Order, ReloadPolicy, TantivyDocument, Term};

mod laws;
mod similar;

pub use laws::{LawDoc, LawHit, LawIndex, LawQuery};
pub use similar::{Nearness, SimilarHit, SimilarQuery, SAME_PLACE, SAME_TYPE};

/// Errors of this layer; each has a stable code.
#[derive(Debug, thiserror::Error)]
pub enum SearchError {
    #[error("search index: {0}")]
    Index(#[from] tantivy::TantivyError),
    #[error("search index directory: {0}")]
    Directory(String),
}

impl SearchError {
    pub fn code(&self) -> &'static str {
        match self {
            SearchError::Index(_) => "search_index",
            SearchError::Directory(_) => "search_directory",
        }
    }
}

pub type Result<T> = std::result::Result<T, SearchError>;

/// The name the jieba tokenizer is registered under.
pub(crate) const TOKENIZER: &str = "jieba";
/// Bumped when the schema or the tokenizer changes: an index of another version is rebuilt.
pub const SCHEMA_VERSION: &str = "cases-3";

/// One case as the index holds it.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct CaseDoc {
    pub id: i64,
    pub tracking_code: String,
    /// The dispute's text, personal numbers masked.
    pub text: String,
    /// The elements read from the text and the parties (names, places, things), space-separated.
    pub elements: String,
    /// The outcome: how it was resolved, the agreement's terms.
    pub outcome: String,
    /// `agreement`, `no_agreement`, `withdrawn`, or empty while open.
    pub outcome_kind: String,
    pub dispute_type: String,
    pub status: String,
    pub channel: String,
    /// The jurisdiction path (`/county/town/village/…/`).
    pub node_path: String,
    /// Units handling the case (lead, co-handling, summoned).
    pub unit_ids: Vec<i64>,
    pub registered_at: i64,
}

/// Who is searching: everything (the system, a county-wide role with the root as scope) or a
/// jurisdiction subtree plus the cases of one's own unit.
#[derive(Debug, Clone, PartialEq)]
pub enum Scope {
    Everything,
    Within { path: String, unit_id: Option<i64> },
}

/// A search: words (empty: every case, newest first) and filters.
#[derive(Debug, Clone, PartialEq)]
pub struct SearchQuery {
    pub text: String,
    pub dispute_type: Option<String>,
    pub status: Option<String>,
    pub channel: Option<String>,
    /// Only cases at or under this jurisdiction path.
    pub place_path: Option<String>,
    pub scope: Scope,
    pub limit: usize,
    pub offset: usize,
}

/// A highlighted passage of a hit's text.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Snippet {
    pub fragment: String,
    /// Byte ranges of `fragment` that matched.
    pub highlights: Vec<Range<usize>>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Hit {
    pub id: i64,
    pub score: f32,
    pub snippet: Snippet,
}

#[derive(Debug, Clone, PartialEq, Default)]
pub struct SearchPage {
    /// Matching cases in the searcher's scope (before the app's own check).
    pub total: usize,
    pub hits: Vec<Hit>,
}

#[derive(Clone, Copy)]
struct Fields {
    id: Field,
    tracking_code: Field,
    text: Field,
    elements: Field,
    outcome: Field,
    outcome_kind: Field,
    place: Field,
    dispute_type: Field,
    status: Field,
    channel: Field,
    scope: Field,
    unit: Field,
    registered_at: Field,
}

/// A field of words: tokenised by jieba, with frequencies and positions (for passages).
pub(crate) fn words_field() -> TextOptions {
    TextOptions::default().set_indexing_options(
        TextFieldIndexing::default()
            .set_tokenizer(TOKENIZER)
            .set_index_option(IndexRecordOption::WithFreqsAndPositions),
    )
}

fn schema() -> (Schema, Fields) {
    let mut b = Schema::builder();
    let words = words_field();
    let fields = Fields {
        id: b.add_i64_field("id", INDEXED | STORED | FAST),
        tracking_code: b.add_text_field("tracking_code", STRING | STORED),
        text: b.add_text_field("text", words.clone() | STORED),
        elements: b.add_text_field("elements", words.clone()),
        outcome: b.add_text_field("outcome", words | STORED),
        outcome_kind: b.add_text_field("outcome_kind", STRING),
        place: b.add_text_field("place", STRING | STORED),
        dispute_type: b.add_text_field("dispute_type", STRING | STORED),
        status: b.add_text_field("status", STRING),
        channel: b.add_text_field("channel", STRING),
        scope: b.add_text_field("scope", STRING),
        unit: b.add_i64_field("unit", INDEXED),
        registered_at: b.add_i64_field("registered_at", INDEXED | FAST),
    };
    (b.build(), fields)
}

/// The index: one writer (behind a lock), a reader reloaded on every commit.
pub struct SearchIndex {
    writer: Mutex<IndexWriter>,
    reader: IndexReader,
    fields: Fields,
    jieba: JiebaTokenizer,
}

impl SearchIndex {
    /// Opens the index in `dir`, creating it when missing. An index of another
    /// [`SCHEMA_VERSION`] is emptied (the caller reindexes: see [`SearchIndex::is_new`]).
    pub fn open(dir: &Path) -> Result<(SearchIndex, bool)> {
        let marker = dir.join("fengqiao-schema");
        let current = std::fs::read_to_string(&marker).ok();
        let fresh = current.as_deref() != Some(SCHEMA_VERSION);
        if fresh && dir.exists() {
            // Only an index of ours is emptied: a directory holding anything else is refused.
            let other = std::fs::read_dir(dir)
                .map_err(|e| SearchError::Directory(e.to_string()))?
                .next()
                .is_some()
                && current.is_none();
            if other {
                return Err(SearchError::Directory(format!(
                    "{} is not empty and holds no search index",
                    dir.display()
                )));
            }
            std::fs::remove_dir_all(dir).map_err(|e| SearchError::Directory(e.to_string()))?;
        }
        std::fs::create_dir_all(dir).map_err(|e| SearchError::Directory(e.to_string()))?;
        let (schema, fields) = schema();
        let index = if fresh {
            Index::create_in_dir(dir, schema)?
        } else {
            Index::open_in_dir(dir)?
        };
        std::fs::write(&marker, SCHEMA_VERSION)
            .map_err(|e| SearchError::Directory(e.to_string()))?;
        Ok((SearchIndex::with_index(index, fields)?, fresh))
    }

    /// An index in memory (tests, benchmarks).
    pub fn in_memory() -> Result<SearchIndex> {
        let (schema, fields) = schema();
        SearchIndex::with_index(Index::create_in_ram(schema), fields)
    }

    fn with_index(index: Index, fields: Fields) -> Result<SearchIndex> {
        let jieba = JiebaTokenizer::new();
        index.tokenizers().register(TOKENIZER, jieba.clone());
        let writer = index.writer(64_000_000)?;
        let reader = index
            .reader_builder()
            .reload_policy(ReloadPolicy::Manual)
            .try_into()?;
        Ok(SearchIndex {
            writer: Mutex::new(writer),
            reader,
            fields,
            jieba,
        })
    }

    fn writer(&self) -> std::sync::MutexGuard<'_, IndexWriter> {
        // A panic while holding the writer leaves nothing half-written that a commit would
        // publish: take the lock back.
        self.writer.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Adds or replaces cases (visible after [`SearchIndex::commit`]).
    pub fn upsert(&self, docs: &[CaseDoc]) -> Result<()> {
        let w = self.writer();
        let f = self.fields;
        for d in docs {
            w.delete_term(Term::from_field_i64(f.id, d.id));
            let mut doc = doc!(
                f.id => d.id,
                f.tracking_code => d.tracking_code.clone(),
                f.text => d.text.clone(),
                f.elements => d.elements.clone(),
                f.outcome => d.outcome.clone(),
                f.outcome_kind => d.outcome_kind.clone(),
                f.place => d.node_path.clone(),
                f.dispute_type => d.dispute_type.clone(),
                f.status => d.status.clone(),
                f.channel => d.channel.clone(),
                f.registered_at => d.registered_at,
            );
            for p in path_prefixes(&d.node_path) {
                doc.add_text(f.scope, p);
            }
            for u in &d.unit_ids {
                doc.add_i64(f.unit, *u);
            }
            w.add_document(doc)?;
        }
        Ok(())
    }

    /// Removes every case (a rebuild starts with this).
    pub fn clear(&self) -> Result<()> {
        self.writer().delete_all_documents()?;
        Ok(())
    }

    /// Publishes the changes so far to searches.
    pub fn commit(&self) -> Result<()> {
        self.writer().commit()?;
        self.reader.reload()?;
        Ok(())
    }

    /// Cases in the index (as of the last commit).
    pub fn len(&self) -> u64 {
        self.reader.searcher().num_docs()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The words a text is indexed under (what the tokenizer makes of it).
    pub fn words(&self, text: &str) -> Vec<String> {
        let mut t = self.jieba.clone();
        let mut s = t.token_stream(text);
        let mut out = Vec::new();
        while s.advance() {
            out.push(s.token().text.clone());
        }
        out
    }

    /// The cases a scope covers: its subtree, or its unit's cases (`None`: everything).
    fn scope_query(&self, scope: &Scope) -> Option<Box<dyn Query>> {
        let Scope::Within { path, unit_id } = scope else {
            return None;
        };
        let mut either: Vec<(Occur, Box<dyn Query>)> = vec![(
            Occur::Should,
            Box::new(TermQuery::new(
                Term::from_field_text(self.fields.scope, path),
                IndexRecordOption::Basic,
            )),
        )];
        if let Some(u) = unit_id {
            either.push((
                Occur::Should,
                Box::new(TermQuery::new(
                    Term::from_field_i64(self.fields.unit, *u),
                    IndexRecordOption::Basic,
                )),
            ));
        }
        Some(Box::new(BooleanQuery::new(either)))
    }

    pub fn search(&self, q: &SearchQuery) -> Result<SearchPage> {
        let f = self.fields;
        let mut must: Vec<(Occur, Box<dyn Query>)> = Vec::new();
        let mut words: Vec<String> = self.words(&q.text);
        words.sort();
        words.dedup();
        // Every word, in any of the text fields; a compound the query also has the parts of
        // (拖欠工资: 拖欠, 工资) only adds to the score — its parts are what must be there.
        for w in &words {
            let compound = words
                .iter()
                .any(|o| o.len() < w.len() && w.contains(o.as_str()));
            let any_field: Vec<(Occur, Box<dyn Query>)> = [f.text, f.elements, f.outcome]
                .into_iter()
                .map(|field| {
                    (
                        Occur::Should,
                        Box::new(TermQuery::new(
                            Term::from_field_text(field, w),
                            IndexRecordOption::WithFreqs,
                        )) as Box<dyn Query>,
                    )
                })
                .collect();
            let occur = if compound { Occur::Should } else { Occur::Must };
            must.push((occur, Box::new(BooleanQuery::new(any_field))));
        }
        let text_query: Option<Box<dyn Query>> =
            (!must.is_empty()).then(|| Box::new(BooleanQuery::new(must)) as Box<dyn Query>);
        // A tracking code typed in finds its case.
        let code = q.text.trim().to_ascii_uppercase();
        let by_code: Box<dyn Query> = Box::new(TermQuery::new(
            Term::from_field_text(f.tracking_code, &code),
            IndexRecordOption::Basic,
        ));
        let mut all: Vec<(Occur, Box<dyn Query>)> = Vec::new();
        match text_query {
            Some(t) => all.push((
                Occur::Must,
                Box::new(BooleanQuery::new(vec![
                    (Occur::Should, t),
                    (Occur::Should, by_code),
                ])),
            )),
            None => all.push((Occur::Must, Box::new(AllQuery))),
        }
        let exact = |field: Field, v: &str| -> (Occur, Box<dyn Query>) {
            (
                Occur::Must,
                Box::new(TermQuery::new(
                    Term::from_field_text(field, v),
                    IndexRecordOption::Basic,
                )),
            )
        };
        if let Some(t) = &q.dispute_type {
            all.push(exact(f.dispute_type, t));
        }
        if let Some(s) = &q.status {
            all.push(exact(f.status, s));
        }
        if let Some(c) = &q.channel {
            all.push(exact(f.channel, c));
        }
        if let Some(p) = &q.place_path {
            all.push(exact(f.scope, p));
        }
        if let Some(scope) = self.scope_query(&q.scope) {
            all.push((Occur::Must, scope));
        }
        let query = BooleanQuery::new(all);
        let searcher = self.reader.searcher();
        let limit = q.limit.max(1);
        if words.is_empty() {
            // No words: the newest cases first.
            let (total, docs) = searcher.search(
                &query,
                &(
                    Count,
                    TopDocs::with_limit(limit)
                        .and_offset(q.offset)
                        .order_by_fast_field::<i64>("registered_at", Order::Desc),
                ),
            )?;
            let docs = docs.into_iter().map(|(_, a)| (0.0, a)).collect();
            return self.page(total, docs, None);
        }
        let (total, docs) = searcher.search(
            &query,
            &(Count, TopDocs::with_limit(limit).and_offset(q.offset)),
        )?;
        let snippets = (
            SnippetGenerator::create(&searcher, &query, f.text)?,
            SnippetGenerator::create(&searcher, &query, f.outcome)?,
        );
        self.page(total, docs, Some(snippets))
    }

    fn page(
        &self,
        total: usize,
        docs: Vec<(f32, tantivy::DocAddress)>,
        snippets: Option<(SnippetGenerator, SnippetGenerator)>,
    ) -> Result<SearchPage> {
        let searcher = self.reader.searcher();
        let mut hits = Vec::with_capacity(docs.len());
        for (score, addr) in docs {
            let doc: TantivyDocument = searcher.doc(addr)?;
            let id = doc
                .get_first(self.fields.id)
                .and_then(|v| v.as_i64())
                .unwrap_or_default();
            let text = doc
                .get_first(self.fields.text)
                .and_then(|v| v.as_str())
                .unwrap_or_default();
            let outcome = doc
                .get_first(self.fields.outcome)
                .and_then(|v| v.as_str())
                .unwrap_or_default();
            // The passage of the text that matched, else of the outcome, else the text's start.
            let found = snippets.as_ref().and_then(|(in_text, in_outcome)| {
                [in_text.snippet(text), in_outcome.snippet(outcome)]
                    .into_iter()
                    .find(|s| !s.highlighted().is_empty())
            });
            let snippet = match found {
                Some(s) => Snippet {
                    fragment: s.fragment().to_string(),
                    highlights: s.highlighted().to_vec(),
                },
                None => Snippet {
                    fragment: text.chars().take(150).collect(),
                    highlights: Vec::new(),
                },
            };
            hits.push(Hit { id, score, snippet });
        }
        Ok(SearchPage { total, hits })
    }
}

/// `/a/b/c/` → `/a/`, `/a/b/`, `/a/b/c/`.
fn path_prefixes(path: &str) -> Vec<String> {
    path.char_indices()
        .filter(|(i, c)| *c == '/' && *i > 0)
        .map(|(i, _)| path[..=i].to_string())
        .collect()
}

/// jieba's search mode (a long word also yields the words inside it), lower-cased; spaces and
/// punctuation are not words.
#[derive(Clone)]
pub struct JiebaTokenizer {
    jieba: Arc<jieba_rs::Jieba>,
}

impl JiebaTokenizer {
    /// The dictionary is loaded once per process and shared.
    pub fn new() -> JiebaTokenizer {
        static JIEBA: std::sync::OnceLock<Arc<jieba_rs::Jieba>> = std::sync::OnceLock::new();
        JiebaTokenizer {
            jieba: Arc::clone(JIEBA.get_or_init(|| Arc::new(jieba_rs::Jieba::new()))),
        }
    }
}

impl Default for JiebaTokenizer {
    fn default() -> Self {
        JiebaTokenizer::new()
    }
}

pub struct JiebaStream {
    tokens: Vec<Token>,
    at: Option<usize>,
}

impl Tokenizer for JiebaTokenizer {
    type TokenStream<'a> = JiebaStream;

    fn token_stream<'a>(&'a mut self, text: &'a str) -> JiebaStream {
        let base = text.as_ptr() as usize;
        let mut tokens = Vec::new();
        for t in self.jieba.cut_for_search(text, true) {
            if !t.word.chars().any(char::is_alphanumeric) {
                continue;
            }
            let from = t.word.as_ptr() as usize - base;
            tokens.push(Token {
                offset_from: from,
                offset_to: from + t.word.len(),
                position: tokens.len(),
                text: t.word.to_lowercase(),
                position_length: 1,
            });
        }
        JiebaStream { tokens, at: None }
    }
}

impl TokenStream for JiebaStream {
    fn advance(&mut self) -> bool {
        let next = self.at.map_or(0, |i| i + 1);
        self.at = Some(next);
        next < self.tokens.len()
    }

    fn token(&self) -> &Token {
        &self.tokens[self
            .at
            .unwrap_or(0)
            .min(self.tokens.len().saturating_sub(1))]
    }

    fn token_mut(&mut self) -> &mut Token {
        let i = self
            .at
            .unwrap_or(0)
            .min(self.tokens.len().saturating_sub(1));
        &mut self.tokens[i]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_path_yields_each_ancestor() {
        assert_eq!(
            path_prefixes("/990102/990102001/990102001001/"),
            vec![
                "/990102/",
                "/990102/990102001/",
                "/990102/990102001/990102001001/"
            ]
        );
        assert!(path_prefixes("").is_empty());
    }
}
