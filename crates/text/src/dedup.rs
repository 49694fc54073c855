//! Duplicates: the earlier cases that describe the same dispute — same parties or same place,
//! and similar wording (MinHash over character bigrams) — with a score and the reasons.

use crate::classify::bigrams;
use crate::person::NameForm;
use crate::{Analysis, Doc};
use serde::{Deserialize, Serialize};

/// Number of MinHash functions (the Jaccard estimate's standard error is about 1/√K).
pub const K: usize = 48;

/// Score from which a candidate is linked automatically, and suggested.
pub const AUTO_LINK: f64 = 0.8;
pub const SUGGEST: f64 = 0.5;

/// What is kept of a case to find its duplicates later.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Fingerprint {
    pub minhash: Vec<u32>,
    /// Full and anonymised party names and organisations, as written.
    pub names: Vec<String>,
    pub node_code: Option<String>,
    pub amount_fen: Option<i64>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DupCandidate {
    pub case_id: i64,
    /// 0–1.
    pub score: f64,
    /// Estimated Jaccard similarity of the wording.
    pub wording: f64,
    /// same_parties, same_place, similar_wording, same_amount
    pub reasons: Vec<String>,
    /// The names both texts mention.
    pub shared_names: Vec<String>,
}

fn mix(mut x: u64) -> u64 {
    // splitmix64 finaliser
    x = (x ^ (x >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    x ^ (x >> 31)
}

fn minhash(chars: &[char]) -> Vec<u32> {
    let mut mins = vec![u32::MAX; K];
    for b in bigrams(chars) {
        let base = mix((u64::from(b[0] as u32) << 32) | u64::from(b[1] as u32));
        for (k, m) in mins.iter_mut().enumerate() {
            let h = (mix(base ^ (k as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15)) >> 32) as u32;
            if h < *m {
                *m = h;
            }
        }
    }
    mins
}

impl Fingerprint {
    pub fn of(text: &str, analysis: &Analysis, node_code: Option<&str>) -> Fingerprint {
        let doc = Doc::new(text, crate::MAX_CHARS);
        let mut names: Vec<String> = analysis
            .persons
            .iter()
            .filter(|p| p.form != NameForm::Address)
            .map(|p| p.text.clone())
            .chain(analysis.organisations.iter().map(|o| o.text.clone()))
            .collect();
        names.sort();
        names.dedup();
        Fingerprint {
            minhash: minhash(&doc.chars),
            names,
            node_code: node_code
                .map(str::to_string)
                .or_else(|| analysis.node_code().map(str::to_string)),
            amount_fen: analysis.main_amount_fen(),
        }
    }

    /// Estimated Jaccard similarity of the two texts' bigram sets.
    pub fn wording(&self, other: &Fingerprint) -> f64 {
        if self.minhash.len() != other.minhash.len() || self.minhash.is_empty() {
            return 0.0;
        }
        let same = self
            .minhash
            .iter()
            .zip(&other.minhash)
            .filter(|(a, b)| a == b && **a != u32::MAX)
            .count();
        same as f64 / self.minhash.len() as f64
    }

    /// How likely `earlier` (case `case_id`) describes the same dispute as `self`.
    pub fn compare(&self, case_id: i64, earlier: &Fingerprint) -> Option<DupCandidate> {
        let wording = self.wording(earlier);
        let shared_names: Vec<String> = self
            .names
            .iter()
            .filter(|n| earlier.names.contains(n))
            .cloned()
            .collect();
        let same_place = self.node_code.is_some() && self.node_code == earlier.node_code;
        let same_amount = self.amount_fen.is_some() && self.amount_fen == earlier.amount_fen;
        let same_parties = !shared_names.is_empty();
        // Same parties or same place, and wording not unrelated; or near-identical wording.
        let plausible = (same_parties || same_place) && wording >= 0.15 || wording >= 0.6;
        if !plausible {
            return None;
        }
        let score = 0.5 * (wording / 0.6).min(1.0)
            + if same_parties { 0.3 } else { 0.0 }
            + if same_place { 0.15 } else { 0.0 }
            + if same_amount { 0.05 } else { 0.0 };
        let mut reasons = Vec::new();
        if same_parties {
            reasons.push("same_parties".to_string());
        }
        if same_place {
            reasons.push("same_place".to_string());
        }
        if wording >= 0.3 {
            reasons.push("similar_wording".to_string());
        }
        if same_amount {
            reasons.push("same_amount".to_string());
        }
        Some(DupCandidate {
            case_id,
            score: (score * 1000.0).round() / 1000.0,
            wording: (wording * 1000.0).round() / 1000.0,
            reasons,
            shared_names,
        })
    }
}

/// The candidates among `earlier` scoring at least [`SUGGEST`], best first.
pub fn candidates<'a>(
    new: &Fingerprint,
    earlier: impl IntoIterator<Item = (i64, &'a Fingerprint)>,
    limit: usize,
) -> Vec<DupCandidate> {
    let mut out: Vec<DupCandidate> = earlier
        .into_iter()
        .filter_map(|(id, f)| new.compare(id, f))
        .filter(|c| c.score >= SUGGEST)
        .collect();
    out.sort_by(|a, b| b.score.total_cmp(&a.score).then(b.case_id.cmp(&a.case_id)));
    out.truncate(limit);
    out
}
