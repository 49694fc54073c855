//! Personal numbers at rest: SM4-GCM (GB/T 32907 block cipher in Galois/counter mode, as
//! RFC 8998 specifies it) under a keyring from configuration, and an HMAC-SM3 blind index for
//! exact look-up.
//!
//! What is sealed, in every JSON document a backend stores (case states, events, analyses,
//! fingerprints): any member named `id_number` or `phone` holding a string, and any `text`
//! member that holds a personal number (a run of 11+ digits, as masking finds them); outside
//! JSON, a contact's phone, an SMS delivery's number and TOTP secrets. The walk is by member
//! name, as masking is, so a new field or event type cannot leak by omission.
//!
//! A sealed value is `sm4$<key id>$<base64url(nonce ‖ ciphertext ‖ tag)>`; the field's label
//! is the associated data, so a value moved to another field does not open. New values are
//! sealed under the newest key; any key of the ring opens; [`Sealer::reseal`] re-seals a value
//! under the newest key (key rotation) and seals values written before encryption existed.
use aes_gcm::aead::{Aead, Payload};
use aes_gcm::{AesGcm, KeyInit, Nonce};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use fengqiao_domain::validate::has_personal_number;
use hmac::{Mac, SimpleHmac};
use rand_core::{OsRng, RngCore};
use serde_json::Value;
use sm3::Sm3;
use sm4::Sm4;
use thiserror::Error;

use crate::StoreError;

/// SM4 in GCM with the standard 96-bit nonce and 128-bit tag.
pub type Sm4Gcm = AesGcm<Sm4, aes_gcm::aead::consts::U12>;

/// How every sealed value begins.
pub const PREFIX: &str = "sm4$";
const NONCE_LEN: usize = 12;

/// The published keys of the demo and the tests (never for real data): `FENGQIAO_DATA_KEYS`
/// and `FENGQIAO_INDEX_KEY` replace them.
pub const DEMO_DATA_KEYS: &str = "1:0f1e2d3c4b5a69788796a5b4c3d2e1f0";
pub const DEMO_INDEX_KEY: &str = "d3m0d3m0d3m0d3m0f3ngq1a0b11nd1dx";

#[derive(Debug, Error, PartialEq, Eq)]
pub enum SealConfigError {
    #[error("data keys: expected `id:32 hex digits` separated by commas, got {0:?}")]
    Malformed(String),
    #[error("data keys: key id {0} appears twice")]
    DuplicateId(u32),
    #[error("data keys: none given")]
    Empty,
    #[error("index key: at least 16 characters")]
    ShortIndexKey,
}

impl SealConfigError {
    pub fn code(&self) -> &'static str {
        match self {
            SealConfigError::Malformed(_) => "data_key_malformed",
            SealConfigError::DuplicateId(_) => "data_key_duplicate",
            SealConfigError::Empty => "data_key_missing",
            SealConfigError::ShortIndexKey => "index_key_short",
        }
    }
}

/// The keyring: data keys by id (the highest seals), and the blind index's key.
pub struct Sealer {
    keys: Vec<(u32, Sm4Gcm)>,
    index_key: Vec<u8>,
}

impl std::fmt::Debug for Sealer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let ids: Vec<u32> = self.keys.iter().map(|(id, _)| *id).collect();
        f.debug_struct("Sealer").field("key_ids", &ids).finish()
    }
}

fn corrupt(what: &str) -> StoreError {
    StoreError::Corrupt(format!("sealed value: {what}"))
}

impl Sealer {
    /// `data_keys`: `id:hex` pairs separated by commas (16-byte SM4 keys); `index_key`: the
    /// secret of the blind index (kept across data-key rotations: changing it loses look-ups).
    pub fn from_config(data_keys: &str, index_key: &str) -> Result<Sealer, SealConfigError> {
        let mut keys: Vec<(u32, Sm4Gcm)> = Vec::new();
        for part in data_keys
            .split(',')
            .map(str::trim)
            .filter(|p| !p.is_empty())
        {
            let bad = || SealConfigError::Malformed(part.chars().take(6).collect::<String>());
            let (id, hex) = part.split_once(':').ok_or_else(bad)?;
            let id: u32 = id.trim().parse().map_err(|_| bad())?;
            let key = parse_hex16(hex.trim()).ok_or_else(bad)?;
            if keys.iter().any(|(k, _)| *k == id) {
                return Err(SealConfigError::DuplicateId(id));
            }
            keys.push((id, Sm4Gcm::new(&key.into())));
        }
        if keys.is_empty() {
            return Err(SealConfigError::Empty);
        }
        if index_key.len() < 16 {
            return Err(SealConfigError::ShortIndexKey);
        }
        keys.sort_by_key(|(id, _)| *id);
        Ok(Sealer {
            keys,
            index_key: index_key.as_bytes().to_vec(),
        })
    }

    /// The demo's and the tests' keyring ([`DEMO_DATA_KEYS`]).
    pub fn demo() -> Sealer {
        match Sealer::from_config(DEMO_DATA_KEYS, DEMO_INDEX_KEY) {
            Ok(s) => s,
            Err(e) => unreachable!("the demo keys parse: {e}"),
        }
    }

    /// The id of the key new values are sealed with.
    pub fn current_key_id(&self) -> u32 {
        self.current().0
    }

    fn current(&self) -> &(u32, Sm4Gcm) {
        // `from_config` refuses an empty ring.
        &self.keys[self.keys.len() - 1]
    }

    /// Seals `plain` for the field `label` under the newest key, with a random nonce.
    pub fn seal(&self, label: &str, plain: &str) -> String {
        let mut nonce = [0u8; NONCE_LEN];
        OsRng.fill_bytes(&mut nonce);
        self.seal_with(label, plain, nonce)
    }

    /// Seals so that equal values give equal sealed text (the nonce is derived from the value
    /// with the index key): for columns that take part in a uniqueness constraint. Equality is
    /// all it tells, as a blind index would.
    pub fn seal_deterministic(&self, label: &str, plain: &str) -> String {
        let (id, _) = self.current();
        let digest = self.mac(&[
            b"nonce",
            &id.to_be_bytes(),
            label.as_bytes(),
            plain.as_bytes(),
        ]);
        let mut nonce = [0u8; NONCE_LEN];
        nonce.copy_from_slice(&digest[..NONCE_LEN]);
        self.seal_with(label, plain, nonce)
    }

    fn seal_with(&self, label: &str, plain: &str, nonce: [u8; NONCE_LEN]) -> String {
        let (id, cipher) = self.current();
        let payload = Payload {
            msg: plain.as_bytes(),
            aad: label.as_bytes(),
        };
        let Ok(ct) = cipher.encrypt(Nonce::from_slice(&nonce), payload) else {
            unreachable!("SM4-GCM encrypts any message below 64 GiB");
        };
        let mut raw = Vec::with_capacity(NONCE_LEN + ct.len());
        raw.extend_from_slice(&nonce);
        raw.extend_from_slice(&ct);
        format!("{PREFIX}{id}${}", URL_SAFE_NO_PAD.encode(raw))
    }

    /// Whether a stored string is a sealed value.
    pub fn is_sealed(s: &str) -> bool {
        s.starts_with(PREFIX)
    }

    /// The key id a sealed value was made with.
    fn key_of(s: &str) -> Option<u32> {
        s.strip_prefix(PREFIX)?.split('$').next()?.parse().ok()
    }

    /// The plain value of a stored string: sealed values are opened (any key of the ring),
    /// others (written before encryption) are returned as they are.
    pub fn open(&self, label: &str, stored: &str) -> Result<String, StoreError> {
        let Some(rest) = stored.strip_prefix(PREFIX) else {
            return Ok(stored.to_string());
        };
        let (id, body) = rest.split_once('$').ok_or_else(|| corrupt("no key id"))?;
        let id: u32 = id.parse().map_err(|_| corrupt("bad key id"))?;
        let (_, cipher) =
            self.keys.iter().find(|(k, _)| *k == id).ok_or_else(|| {
                StoreError::Corrupt(format!("sealed with key {id}, not configured"))
            })?;
        let raw = URL_SAFE_NO_PAD
            .decode(body)
            .map_err(|_| corrupt("not base64"))?;
        if raw.len() < NONCE_LEN + 16 {
            return Err(corrupt("too short"));
        }
        let (nonce, ct) = raw.split_at(NONCE_LEN);
        let payload = Payload {
            msg: ct,
            aad: label.as_bytes(),
        };
        let plain = cipher
            .decrypt(Nonce::from_slice(nonce), payload)
            .map_err(|_| corrupt("does not authenticate (altered, or another field's)"))?;
        String::from_utf8(plain).map_err(|_| corrupt("not UTF-8"))
    }

    /// `Some(new stored value)` when `stored` is plain or sealed under an older key.
    pub fn reseal(&self, label: &str, stored: &str) -> Result<Option<String>, StoreError> {
        if Sealer::key_of(stored) == Some(self.current_key_id()) {
            return Ok(None);
        }
        let plain = self.open(label, stored)?;
        Ok(Some(self.seal(label, &plain)))
    }

    /// [`Sealer::reseal`] for deterministically sealed values.
    pub fn reseal_deterministic(
        &self,
        label: &str,
        stored: &str,
    ) -> Result<Option<String>, StoreError> {
        if Sealer::key_of(stored) == Some(self.current_key_id()) {
            return Ok(None);
        }
        let plain = self.open(label, stored)?;
        Ok(Some(self.seal_deterministic(label, &plain)))
    }

    /// The blind index of a personal number: HMAC-SM3 under the index key of its digits (and
    /// an ID number's X), 128 bits in hex. Equal numbers, however written, give equal keys.
    pub fn blind(&self, number: &str) -> String {
        let norm: String = number
            .chars()
            .filter(char::is_ascii_alphanumeric)
            .map(|c| c.to_ascii_uppercase())
            .collect();
        let d = self.mac(&[b"blind", norm.as_bytes()]);
        d[..16].iter().map(|b| format!("{b:02x}")).collect()
    }

    /// The blind index of a text taken as written (a party's name in a village,
    /// `Party::name_place_key`): HMAC-SM3 under the index key, 128 bits in hex, apart from the
    /// numbers' keys by its label.
    pub fn blind_text(&self, text: &str) -> String {
        let d = self.mac(&[b"blind-text", text.as_bytes()]);
        d[..16].iter().map(|b| format!("{b:02x}")).collect()
    }

    /// A secret derived from the index key for one purpose (`label`) and one input: what
    /// links and one-time codes are made of, so that nothing secret needs storing.
    pub fn derive(&self, label: &str, input: &str) -> Vec<u8> {
        self.mac(&[b"derive", label.as_bytes(), input.as_bytes()])
    }

    fn mac(&self, parts: &[&[u8]]) -> Vec<u8> {
        let Ok(mut mac) = <SimpleHmac<Sm3> as Mac>::new_from_slice(&self.index_key) else {
            unreachable!("HMAC takes keys of any length");
        };
        for p in parts {
            mac.update(&(p.len() as u32).to_be_bytes());
            mac.update(p);
        }
        mac.finalize().into_bytes().to_vec()
    }

    /// Seals the personal members of a JSON document in place (see the module's rules).
    pub fn seal_json(&self, v: &mut Value) {
        match v {
            Value::Object(map) => {
                for (k, child) in map.iter_mut() {
                    match (k.as_str(), &*child) {
                        ("id_number" | "phone", Value::String(s)) if !s.is_empty() => {
                            *child = Value::String(self.seal(k, s));
                        }
                        ("text", Value::String(s))
                            if has_personal_number(s) || Sealer::is_sealed(s) =>
                        {
                            *child = Value::String(self.seal(k, s));
                        }
                        _ => self.seal_json(child),
                    }
                }
            }
            Value::Array(items) => items.iter_mut().for_each(|x| self.seal_json(x)),
            _ => {}
        }
    }

    /// Opens every sealed member of a JSON document in place.
    pub fn open_json(&self, v: &mut Value) -> Result<(), StoreError> {
        match v {
            Value::Object(map) => {
                for (k, child) in map.iter_mut() {
                    match child {
                        Value::String(s) if Sealer::is_sealed(s) => {
                            *child = Value::String(self.open(k, s)?);
                        }
                        Value::Object(_) | Value::Array(_) => self.open_json(child)?,
                        _ => {}
                    }
                }
                Ok(())
            }
            Value::Array(items) => items.iter_mut().try_for_each(|x| self.open_json(x)),
            _ => Ok(()),
        }
    }

    /// A value as stored JSON text, its personal members sealed.
    pub fn to_sealed_json<T: serde::Serialize>(&self, value: &T) -> Result<String, StoreError> {
        let mut v = serde_json::to_value(value).map_err(|e| StoreError::Corrupt(e.to_string()))?;
        self.seal_json(&mut v);
        serde_json::to_string(&v).map_err(|e| StoreError::Corrupt(e.to_string()))
    }

    /// Stored JSON text, opened, as a value.
    pub fn from_sealed_json<T: serde::de::DeserializeOwned>(
        &self,
        stored: &str,
        what: &str,
    ) -> Result<T, StoreError> {
        let bad = |e: serde_json::Error| StoreError::Corrupt(format!("{what}: {e}"));
        if !stored.contains(PREFIX) {
            return serde_json::from_str(stored).map_err(bad);
        }
        let mut v: Value = serde_json::from_str(stored).map_err(bad)?;
        self.open_json(&mut v)?;
        serde_json::from_value(v).map_err(bad)
    }

    /// Stored JSON text opened and sealed again under the newest key (rotation); `None` when
    /// nothing in it needs it.
    pub fn reseal_json(&self, stored: &str) -> Result<Option<String>, StoreError> {
        let bad = |e: serde_json::Error| StoreError::Corrupt(format!("reseal: {e}"));
        let mut v: Value = serde_json::from_str(stored).map_err(bad)?;
        let before = v.clone();
        self.open_json(&mut v)?;
        self.seal_json(&mut v);
        // Nothing to do when every member that seals was sealed, under the newest key.
        if same_shape(self.current_key_id(), &before, &v) {
            return Ok(None);
        }
        serde_json::to_string(&v).map(Some).map_err(bad)
    }
}

/// `stored` and `expected` agree member by member, sealed strings compared by being sealed
/// under key `current` rather than by their bytes.
fn same_shape(current: u32, stored: &Value, expected: &Value) -> bool {
    match (stored, expected) {
        (Value::String(a), Value::String(b)) if Sealer::is_sealed(b) => {
            Sealer::key_of(a) == Some(current)
        }
        (Value::Object(a), Value::Object(b)) => {
            a.len() == b.len()
                && a.iter()
                    .all(|(k, x)| b.get(k).is_some_and(|y| same_shape(current, x, y)))
        }
        (Value::Array(a), Value::Array(b)) => {
            a.len() == b.len() && a.iter().zip(b).all(|(x, y)| same_shape(current, x, y))
        }
        (a, b) => a == b,
    }
}

fn parse_hex16(s: &str) -> Option<[u8; 16]> {
    if s.len() != 32 {
        return None;
    }
    let mut out = [0u8; 16];
    for (i, o) in out.iter_mut().enumerate() {
        *o = u8::from_str_radix(s.get(2 * i..2 * i + 2)?, 16).ok()?;
    }
    Some(out)
}

/// How a column holds sealed values.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SealedKind {
    /// JSON documents with sealed members ([`Sealer::seal_json`]).
    Json,
    /// A whole value sealed for the field of this label.
    Value(&'static str),
    /// A whole value sealed deterministically ([`Sealer::seal_deterministic`]).
    Deterministic(&'static str),
}

/// A column that holds sealed values: what key rotation rewrites. `keys` identify a row (the
/// second is `0` for one-column keys); `only` narrows the rows (SQL).
#[derive(Debug, Clone, Copy)]
pub struct SealedColumn {
    pub table: &'static str,
    pub keys: [&'static str; 2],
    pub column: &'static str,
    pub kind: SealedKind,
    pub only: &'static str,
}

/// Every column of the schema that holds sealed values.
pub const SEALED_COLUMNS: &[SealedColumn] = &[
    SealedColumn {
        table: "cases",
        keys: ["id", "0"],
        column: "state",
        kind: SealedKind::Json,
        only: "1 = 1",
    },
    SealedColumn {
        table: "case_events",
        keys: ["case_id", "seq"],
        column: "payload",
        kind: SealedKind::Json,
        only: "1 = 1",
    },
    SealedColumn {
        table: "case_analyses",
        keys: ["case_id", "0"],
        column: "analysis",
        kind: SealedKind::Json,
        only: "1 = 1",
    },
    SealedColumn {
        table: "case_analyses",
        keys: ["case_id", "0"],
        column: "fingerprint",
        kind: SealedKind::Json,
        only: "1 = 1",
    },
    SealedColumn {
        table: "user_contacts",
        keys: ["user_id", "0"],
        column: "phone",
        kind: SealedKind::Value("phone"),
        only: "phone IS NOT NULL",
    },
    SealedColumn {
        table: "users",
        keys: ["id", "0"],
        column: "totp_secret",
        kind: SealedKind::Value("totp_secret"),
        only: "totp_secret IS NOT NULL",
    },
    SealedColumn {
        table: "deliveries",
        keys: ["id", "0"],
        column: "target",
        kind: SealedKind::Deterministic("target"),
        only: "medium = 'sms'",
    },
];

impl Sealer {
    /// A stored value of a column of `kind` sealed under the newest key; `None` when it
    /// already is.
    pub fn reseal_stored(
        &self,
        kind: SealedKind,
        stored: &str,
    ) -> Result<Option<String>, StoreError> {
        match kind {
            SealedKind::Json => self.reseal_json(stored),
            SealedKind::Value(label) => self.reseal(label, stored),
            SealedKind::Deterministic(label) => self.reseal_deterministic(label, stored),
        }
    }
}
