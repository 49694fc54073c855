//! Reads Chinese dispute text: who, what, where, when, why (人事地时因), the dispute type, risk
//! cues, money, phone and ID numbers, and finds earlier cases describing the same dispute.
//!
//! Pure and deterministic: no I/O, no network, no clock (the report time is an argument).
//! Spans are character offsets (not bytes) into the text as given.

pub mod classify;
pub mod dedup;
mod doc;
pub mod money;
pub mod norm;
pub mod numbers;
pub mod person;
pub mod place;
pub mod risk;
pub mod time;

use chrono::NaiveDateTime;
use fengqiao_domain::case::DisputeType;
use serde::{Deserialize, Serialize};

pub use classify::{TypeGuess, TypeModel};
pub use dedup::{DupCandidate, Fingerprint};
pub use doc::Doc;
pub use place::{Gazetteer, GazetteerEntry};

/// Bumped whenever a change alters results; stored with every analysis.
pub const ANALYSER_VERSION: &str = "text-3";

/// Longest text analysed; the rest is ignored (and the analysis says so).
pub const MAX_CHARS: usize = 20_000;

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum TextError {
    #[error("the text is empty")]
    Empty,
    #[error("the classifier model is invalid: {0}")]
    Model(String),
}

impl TextError {
    pub fn code(&self) -> &'static str {
        match self {
            TextError::Empty => "text.empty",
            TextError::Model(_) => "text.model",
        }
    }
}

/// Character offsets `[start, end)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Span {
    pub start: usize,
    pub end: usize,
}

impl Span {
    pub fn new(start: usize, end: usize) -> Span {
        Span { start, end }
    }
    pub fn len(&self) -> usize {
        self.end - self.start
    }
    pub fn is_empty(&self) -> bool {
        self.end <= self.start
    }
    pub fn overlaps(&self, o: &Span) -> bool {
        self.start < o.end && o.start < self.end
    }
}

/// A piece of the text.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Mention {
    pub span: Span,
    pub text: String,
}

/// Everything read from one text.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Analysis {
    pub version: String,
    /// Characters read (texts longer than [`MAX_CHARS`] are cut).
    pub chars_read: usize,
    pub truncated: bool,
    pub persons: Vec<person::Person>,
    pub organisations: Vec<person::Organisation>,
    pub roles: Vec<person::RoleMention>,
    pub headcount: Option<person::Headcount>,
    pub places: Vec<place::Place>,
    pub times: Vec<time::TimeMention>,
    pub dispute_type: TypeGuess,
    pub cause: Option<Mention>,
    pub amounts: Vec<money::Amount>,
    pub phones: Vec<Mention>,
    pub id_numbers: Vec<Mention>,
    pub risk: risk::Risk,
}

impl Analysis {
    /// The largest amount mentioned, in fen.
    pub fn main_amount_fen(&self) -> Option<i64> {
        self.amounts.iter().map(|a| a.fen).max()
    }
    /// When it happened: the first time expression that is not in the future of the report.
    pub fn occurred(&self) -> Option<&time::TimeMention> {
        self.times.first()
    }
    /// The most specific jurisdiction mentioned (codes of deeper nodes are longer).
    pub fn node_code(&self) -> Option<&str> {
        self.places
            .iter()
            .filter_map(|p| p.node_code.as_deref())
            .max_by_key(|c| c.len())
    }
}

/// The text reader of one deployment: its gazetteer and its type model.
#[derive(Debug, Clone)]
pub struct Analyzer {
    gazetteer: Gazetteer,
    model: TypeModel,
}

impl Analyzer {
    pub fn new(gazetteer: Gazetteer, model: TypeModel) -> Analyzer {
        Analyzer { gazetteer, model }
    }

    /// An analyser with no jurisdiction names and the built-in model (tests, evaluation).
    pub fn generic() -> Analyzer {
        Analyzer::new(Gazetteer::default(), TypeModel::builtin())
    }

    pub fn model(&self) -> &TypeModel {
        &self.model
    }
    pub fn gazetteer(&self) -> &Gazetteer {
        &self.gazetteer
    }

    /// Reads `text`, reported at `reported_at` (local time of the deployment).
    pub fn analyze(&self, text: &str, reported_at: NaiveDateTime) -> Result<Analysis, TextError> {
        if text.trim().is_empty() {
            return Err(TextError::Empty);
        }
        let doc = Doc::new(text, MAX_CHARS);
        let (persons, organisations, roles) = person::extract(&doc);
        let headcount = person::headcount(&doc);
        let places = place::extract(&doc, &self.gazetteer);
        let times = time::extract(&doc, reported_at);
        let amounts = money::extract(&doc);
        let (phones, id_numbers) = money::personal_numbers(&doc);
        let dispute_type = self.model.classify(&doc);
        let cause = classify::cause(&doc);
        let risk = risk::assess(&doc, &amounts, headcount.as_ref(), reported_at);
        Ok(Analysis {
            version: ANALYSER_VERSION.into(),
            chars_read: doc.len(),
            truncated: doc.truncated,
            persons,
            organisations,
            roles,
            headcount,
            places,
            times,
            dispute_type,
            cause,
            amounts,
            phones,
            id_numbers,
            risk,
        })
    }

    /// The dispute type only (classification benchmark, retraining checks).
    pub fn classify(&self, text: &str) -> TypeGuess {
        self.model.classify(&Doc::new(text, MAX_CHARS))
    }
}

/// The dispute types in a fixed order (model rows, reports).
pub fn all_types() -> Vec<DisputeType> {
    DisputeType::ALL.to_vec()
}
