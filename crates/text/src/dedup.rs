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
    /// Full party names, as written.
    pub names: Vec<String>,
    /// Organisations named (five characters or more: 县医院 is not specific enough).
    #[serde(default)]
    pub orgs: Vec<String>,
    pub node_code: Option<String>,
    pub amount_fen: Option<i64>,
    /// The day the dispute happened (days since 1970-01-01, China time), when known.
    #[serde(default)]
    pub day: Option<i64>,
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

/// Two full names (not number keys) of three or more characters, same surname, that differ
/// in exactly one other character.
fn one_character_apart(a: &str, b: &str) -> bool {
    if a.starts_with('#') || b.starts_with('#') {
        return false;
    }
    let (a, b): (Vec<char>, Vec<char>) = (a.chars().collect(), b.chars().collect());
    a.len() == b.len()
        && a.len() >= 3
        && a[0] == b[0]
        && a.iter().zip(&b).filter(|(x, y)| x != y).count() == 1
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
        // Full names and organisations identify parties; 王某 and 王师傅 do not (thousands of
        // unrelated cases share them).
        let mut names: Vec<String> = analysis
            .persons
            .iter()
            .filter(|p| p.form == NameForm::Full)
            .map(|p| p.text.clone())
            .collect();
        names.sort();
        names.dedup();
        let mut orgs: Vec<String> = analysis
            .organisations
            .iter()
            .filter(|o| o.text.chars().count() >= 5)
            .map(|o| o.text.clone())
            .collect();
        orgs.sort();
        orgs.dedup();
        Fingerprint {
            minhash: minhash(&doc.chars),
            names,
            orgs,
            node_code: node_code
                .map(str::to_string)
                .or_else(|| analysis.node_code().map(str::to_string)),
            amount_fen: analysis.main_amount_fen(),
            day: None,
        }
    }

    /// The day the dispute happened: reports of one incident name the same day, give or take
    /// one; two reports weeks apart are rarely one incident.
    pub fn on_day(mut self, day: Option<i64>) -> Fingerprint {
        self.day = day;
        self
    }

    /// Adds the parties a record names in its fields (not only in its text): full names, and
    /// keys standing for their phone and ID-card numbers (`#` + the key), so that a dispute
    /// re-reported through another channel in other words is still recognised by who reports
    /// it. The caller derives the keys (the app: the keyed blind index of each number, so a
    /// stored fingerprint does not give the number back); equal numbers must give equal keys.
    pub fn with_parties<'a>(
        mut self,
        names: impl IntoIterator<Item = &'a str>,
        number_keys: impl IntoIterator<Item = String>,
    ) -> Fingerprint {
        for n in names {
            let n = n.trim();
            let len = n.chars().count();
            if (2..=4).contains(&len) && !n.contains('某') && !self.names.iter().any(|x| x == n) {
                self.names.push(n.to_string());
            }
        }
        for key in number_keys {
            let key = format!("#{key}");
            if !self.names.contains(&key) {
                self.names.push(key);
            }
        }
        self.names.sort();
        self
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
        self.compare_at_least(case_id, earlier, 0.0)
    }

    /// [`Fingerprint::compare`], `None` below `min_score` (and nothing allocated for it).
    pub fn compare_at_least(
        &self,
        case_id: i64,
        earlier: &Fingerprint,
        min_score: f64,
    ) -> Option<DupCandidate> {
        self.assess(earlier, min_score)
            .map(|a| self.candidate(case_id, earlier, &a))
    }

    /// The score against `earlier` and what it rests on, `None` below `min_score`; nothing
    /// allocated (a query assesses hundreds of cases and keeps five).
    fn assess(&self, earlier: &Fingerprint, min_score: f64) -> Option<Assessment> {
        let wording = self.wording(earlier);
        // Wording unrelated: never plausible (checked first: most of a pool is).
        if wording < LEAST_WORDING {
            return None;
        }
        let same_place = self.node_code.is_some() && self.node_code == earlier.node_code;
        // A person's name identifies a party; a company only together with the place (many
        // people of many villages complain about one company, each their own dispute).
        let same_parties = self.names.iter().any(|n| earlier.names.contains(n))
            || same_place && self.orgs.iter().any(|o| earlier.orgs.contains(o));
        // Same parties or same place, and wording not unrelated; or near-identical wording.
        let plausible = same_parties || same_place || wording >= 0.6;
        if !plausible {
            return None;
        }
        let same_amount = self.amount_fen.is_some() && self.amount_fen == earlier.amount_fen;
        // A name written with one character wrong (a homophone: 张晓明 for 张小明) in the same
        // place is probably the same person: three-character names or longer, same surname.
        let like_parties = !same_parties
            && same_place
            && self
                .names
                .iter()
                .any(|a| earlier.names.iter().any(|b| one_character_apart(a, b)));
        let days_apart = self.day.zip(earlier.day).map(|(a, b)| (a - b).abs());
        let same_day = days_apart.is_some_and(|d| d <= 1);
        let weeks_apart = days_apart.is_some_and(|d| d > 14);
        let score = if same_day { 0.05 } else { 0.0 } - if weeks_apart { 0.1 } else { 0.0 }
            + 0.5 * (wording / 0.6).min(1.0)
            + if same_parties {
                0.3
            } else if like_parties {
                0.2
            } else {
                0.0
            }
            + if same_place { 0.15 } else { 0.0 }
            + if same_amount { 0.05 } else { 0.0 };
        (score >= min_score).then_some(Assessment {
            score,
            wording,
            same_place,
            same_parties,
            like_parties,
            same_amount,
            same_day,
        })
    }

    /// The candidate an assessment of `earlier` (case `case_id`) makes.
    fn candidate(&self, case_id: i64, earlier: &Fingerprint, a: &Assessment) -> DupCandidate {
        let shared_names: Vec<String> = self
            .names
            .iter()
            .filter(|n| !n.starts_with('#') && earlier.names.contains(n))
            .chain(
                self.orgs
                    .iter()
                    .filter(|o| a.same_place && earlier.orgs.contains(o)),
            )
            .cloned()
            .collect();
        let reasons = [
            (a.same_parties, "same_parties"),
            (a.like_parties, "similar_names"),
            (a.same_place, "same_place"),
            (a.wording >= 0.3, "similar_wording"),
            (a.same_amount, "same_amount"),
            (a.same_day, "same_day"),
        ]
        .into_iter()
        .filter(|(on, _)| *on)
        .map(|(_, r)| r.to_string())
        .collect();
        DupCandidate {
            case_id,
            score: round3(a.score),
            wording: round3(a.wording),
            reasons,
            shared_names,
        }
    }
}

/// What a comparison found, before any candidate is made of it.
struct Assessment {
    score: f64,
    wording: f64,
    same_place: bool,
    same_parties: bool,
    like_parties: bool,
    same_amount: bool,
    same_day: bool,
}

fn round3(x: f64) -> f64 {
    (x * 1000.0).round() / 1000.0
}

/// The candidates among `earlier` scoring at least [`SUGGEST`], best first.
pub fn candidates<'a>(
    new: &Fingerprint,
    earlier: impl IntoIterator<Item = (i64, &'a Fingerprint)>,
    limit: usize,
) -> Vec<DupCandidate> {
    best(
        earlier
            .into_iter()
            .filter_map(|(id, f)| new.compare_at_least(id, f, SUGGEST))
            .collect(),
        limit,
    )
}

/// The order candidates are ranked in: by score, then the latest case.
fn rank(a: (f64, i64), b: (f64, i64)) -> std::cmp::Ordering {
    b.0.total_cmp(&a.0).then(b.1.cmp(&a.1))
}

/// The best `limit` candidates (by score, then the latest case), each case once.
pub fn best(mut found: Vec<DupCandidate>, limit: usize) -> Vec<DupCandidate> {
    found.sort_by(|a, b| rank((a.score, a.case_id), (b.score, b.case_id)));
    found.dedup_by_key(|c| c.case_id);
    found.truncate(limit);
    found
}

/// Rows per LSH band. With 16 bands of 3 rows, texts share a band with probability
/// 1 − (1 − J³)¹⁶: 0.53 at Jaccard 0.36 (the least a candidate without shared names can have
/// and still score [`SUGGEST`]), 0.88 at 0.5, 0.97 at 0.6, > 0.999 at 0.78 (the least a
/// same-place candidate without shared names needs to be linked automatically). Cases sharing
/// a name are always compared, through the name postings.
const BAND_ROWS: usize = 3;

/// Postings read per band or name in a query (the most recent ones).
pub const MAX_POSTINGS: usize = 32;

/// The fingerprints of recent cases, indexed so that a new case is compared only with cases
/// sharing a name or a MinHash band (not with every case of the window).
///
/// Cases sit in slots, in the order inserted; postings name slots. A query reads a slot's
/// registration time and a 16-bit sketch of its MinHash side by side (one place in memory,
/// not a map look-up and two pointers per candidate: with a million cases held, those cache
/// misses were most of a query), and opens the fingerprint only when the sketch's wording
/// reaches the least any candidate needs.
#[derive(Debug, Default)]
pub struct Index {
    /// Slot of each case held.
    slot_of: FastMap<i64, u32>,
    /// Cases by slot; `None` once expired (slots are renumbered when postings are rebuilt).
    slots: Vec<Option<Slot>>,
    by_time: std::collections::BTreeSet<(i64, i64)>,
    bands: FastMap<u64, Vec<u32>>,
    names: FastMap<String, Vec<u32>>,
    /// Index postings pointing at expired cases (rebuilt away when they pile up).
    stale: usize,
}

#[derive(Debug)]
struct Slot {
    id: i64,
    at: i64,
    /// The low 16 bits of each MinHash value: equal wherever the full values are, so its
    /// wording is never below the fingerprint's.
    sketch: [u16; K],
    fp: Fingerprint,
}

/// Least wording of any candidate ([`Fingerprint::compare_at_least`] rejects less).
const LEAST_WORDING: f64 = 0.15;

fn sketch(fp: &Fingerprint) -> Option<[u16; K]> {
    let mut s = [0u16; K];
    if fp.minhash.len() != K {
        return None;
    }
    for (d, h) in s.iter_mut().zip(&fp.minhash) {
        *d = *h as u16;
    }
    Some(s)
}

/// A hash map keyed by ids, band keys and names, hashed with [`mix`] (a query looks up
/// hundreds of keys; the standard SipHash cost more than the comparisons). Keys come from
/// the county's own cases, not from an adversary choosing collisions.
type FastMap<K, V> = std::collections::HashMap<K, V, std::hash::BuildHasherDefault<FastHasher>>;

#[derive(Default)]
struct FastHasher(u64);

impl std::hash::Hasher for FastHasher {
    fn finish(&self) -> u64 {
        mix(self.0)
    }
    fn write(&mut self, bytes: &[u8]) {
        // FNV-1a over the bytes, finished by `mix`.
        let mut h = self.0 ^ 0xcbf2_9ce4_8422_2325;
        for b in bytes {
            h = (h ^ u64::from(*b)).wrapping_mul(0x0100_0000_01b3);
        }
        self.0 = h;
    }
    fn write_u64(&mut self, n: u64) {
        self.0 = mix(self.0 ^ n);
    }
    fn write_i64(&mut self, n: i64) {
        self.write_u64(n as u64);
    }
}

fn band_keys(fp: &Fingerprint) -> impl Iterator<Item = u64> + '_ {
    fp.minhash
        .chunks(BAND_ROWS)
        .enumerate()
        .filter(|(_, rows)| rows.iter().all(|h| *h != u32::MAX))
        .map(|(b, rows)| {
            rows.iter()
                .fold(mix(b as u64 + 1), |acc, h| mix(acc ^ u64::from(*h)))
        })
}

impl Index {
    pub fn len(&self) -> usize {
        self.slot_of.len()
    }
    pub fn is_empty(&self) -> bool {
        self.slot_of.is_empty()
    }
    pub fn contains(&self, id: i64) -> bool {
        self.slot_of.contains_key(&id)
    }
    /// Registration time of the oldest case held.
    pub fn oldest(&self) -> Option<i64> {
        self.by_time.first().map(|(at, _)| *at)
    }

    /// Adds case `id`, registered at `at` (any unit of time, the same as in queries).
    pub fn insert(&mut self, id: i64, at: i64, fp: Fingerprint) {
        if self.slot_of.contains_key(&id) {
            return;
        }
        let Ok(slot) = u32::try_from(self.slots.len()) else {
            return;
        };
        self.post(slot, &fp);
        self.by_time.insert((at, id));
        self.slot_of.insert(id, slot);
        self.slots.push(Some(Slot {
            id,
            at,
            sketch: sketch(&fp).unwrap_or([0; K]),
            fp,
        }));
    }

    fn post(&mut self, slot: u32, fp: &Fingerprint) {
        for k in band_keys(fp) {
            self.bands.entry(k).or_default().push(slot);
        }
        for n in fp.names.iter().chain(&fp.orgs) {
            match self.names.get_mut(n) {
                Some(v) => v.push(slot),
                None => {
                    self.names.insert(n.clone(), vec![slot]);
                }
            }
        }
    }

    /// Forgets the cases registered before `before`.
    pub fn expire(&mut self, before: i64) {
        while let Some(&(at, id)) = self.by_time.first() {
            if at >= before {
                break;
            }
            self.by_time.pop_first();
            if let Some(slot) = self.slot_of.remove(&id) {
                if let Some(s) = self.slots[slot as usize].take() {
                    self.stale += band_keys(&s.fp).count() + s.fp.names.len() + s.fp.orgs.len();
                }
            }
        }
        if self.stale > 4 * (self.slot_of.len() + 64) {
            // Postings rebuilt over the live cases, renumbered in the order inserted.
            let live: Vec<Slot> = std::mem::take(&mut self.slots)
                .into_iter()
                .flatten()
                .collect();
            self.bands.clear();
            self.names.clear();
            self.slot_of.clear();
            for (i, s) in live.iter().enumerate() {
                let slot = i as u32;
                self.post(slot, &s.fp);
                self.slot_of.insert(s.id, slot);
            }
            self.slots = live.into_iter().map(Some).collect();
            self.stale = 0;
        }
    }

    /// Candidates for `fp` among the cases registered in `[from, to]`, other than `own_id`,
    /// scoring at least [`SUGGEST`], best first.
    pub fn candidates(
        &self,
        fp: &Fingerprint,
        own_id: i64,
        from: i64,
        to: i64,
        limit: usize,
    ) -> Vec<DupCandidate> {
        let own = sketch(fp);
        let least = (LEAST_WORDING * K as f64).ceil() as usize;
        // Scores first (nothing allocated), the candidates made of the best only; ranked as
        // [`best`] ranks them ([`rank`] of the rounded score).
        let mut scored: Vec<(f64, &Slot, Assessment)> = self
            .pool(fp)
            .into_iter()
            .filter_map(|slot| self.slots[slot as usize].as_ref())
            .filter(|s| s.id != own_id && (from..=to).contains(&s.at))
            .filter(|s| {
                own.is_some_and(|own| {
                    own.iter().zip(&s.sketch).filter(|(a, b)| a == b).count() >= least
                })
            })
            .filter_map(|s| fp.assess(&s.fp, SUGGEST).map(|a| (round3(a.score), s, a)))
            .collect();
        scored.sort_by(|a, b| rank((a.0, a.1.id), (b.0, b.1.id)));
        scored.truncate(limit);
        scored
            .into_iter()
            .map(|(_, s, a)| fp.candidate(s.id, &s.fp, &a))
            .collect()
    }

    /// The slots sharing a name or a band with `fp`, once each: the most recent postings of
    /// each band and name, so the work per query is bounded even when thousands of similar
    /// texts crowd one band.
    fn pool(&self, fp: &Fingerprint) -> Vec<u32> {
        let mut slots: Vec<u32> = Vec::with_capacity(4 * MAX_POSTINGS);
        for v in band_keys(fp).filter_map(|k| self.bands.get(&k)).chain(
            fp.names
                .iter()
                .chain(&fp.orgs)
                .filter_map(|n| self.names.get(n)),
        ) {
            slots.extend_from_slice(&v[v.len().saturating_sub(MAX_POSTINGS)..]);
        }
        slots.sort_unstable();
        slots.dedup();
        slots
    }
}
