//! The audit trail: who did what, when, from where, with what outcome — as an SM3 hash chain
//! (each record's hash covers the previous record's hash and every field of its own) with
//! checkpoints signed by HMAC-SM3 under a key kept outside the database. Pure: hashing,
//! signing and verification; the store keeps the records and the app decides what to record.
use crate::time::Millis;
use hmac::{Mac, SimpleHmac};
use serde::{Deserialize, Serialize};
use sm3::{Digest, Sm3};
use utoipa::ToSchema;

crate::unit::labelled_enum!(
    /// What an audit record is about.
    AuditAction {
        SignIn = "sign_in" / "登录",
        SignInFailed = "sign_in_failed" / "登录失败",
        SignOut = "sign_out" / "退出",
        PasswordChanged = "password_changed" / "修改密码",
        SecondFactorEnrolled = "second_factor_enrolled" / "绑定动态口令",
        SecondFactorFailed = "second_factor_failed" / "动态口令错误",
        AccessDenied = "access_denied" / "拒绝访问",
        PersonalInfoRevealed = "personal_info_revealed" / "查看个人信息",
        PartyLookedUp = "party_looked_up" / "按证件号或电话查询案件",
        PersonViewed = "person_viewed" / "查看人员全息档案",
        AgreementSealed = "agreement_sealed" / "调解协议签署完成",
        Export = "export" / "导出",
        UserChanged = "user_changed" / "用户变更",
        ConfigChanged = "config_changed" / "配置变更",
        CaseChanged = "case_changed" / "案件变更",
        Imported = "imported" / "导入",
    }
);

/// The hash before the first record.
pub const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// A record to append (the store gives it its number and hashes).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct NewAuditRecord {
    pub at: Millis,
    /// The user, when one is known (a failed sign-in of an unknown name has none).
    pub actor_id: Option<i64>,
    /// The username as typed or known.
    pub actor_name: String,
    /// The client's address.
    pub client: String,
    pub action: AuditAction,
    /// What was acted on: `case:12`, `user:5`, `setting:security_policy`, a path…
    pub target: String,
    /// `ok`, `denied`, `failed`.
    pub outcome: String,
    /// More, as compact JSON (never a personal number in clear).
    pub detail: String,
}

/// A stored record: its position in the chain and its hashes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct AuditRecord {
    pub seq: i64,
    #[serde(flatten)]
    pub record: NewAuditRecord,
    pub prev_hash: String,
    pub hash: String,
}

/// A signed statement that the chain had `hash` at `seq`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Checkpoint {
    pub seq: i64,
    pub hash: String,
    pub at: Millis,
    /// HMAC-SM3 of (seq, hash, at) under the audit key; `None` when no key was configured.
    pub mac: Option<String>,
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Each field with its length in front, so no two different records hash the same bytes.
fn feed(h: &mut Sm3, field: &[u8]) {
    h.update((field.len() as u64).to_be_bytes());
    h.update(field);
}

/// The hash of a record at `seq` after a record whose hash is `prev_hash`.
pub fn record_hash(prev_hash: &str, seq: i64, r: &NewAuditRecord) -> String {
    let mut h = Sm3::new();
    feed(&mut h, prev_hash.as_bytes());
    feed(&mut h, &seq.to_be_bytes());
    feed(&mut h, &r.at.to_be_bytes());
    feed(&mut h, &r.actor_id.unwrap_or(-1).to_be_bytes());
    feed(&mut h, r.actor_name.as_bytes());
    feed(&mut h, r.client.as_bytes());
    feed(&mut h, r.action.as_str().as_bytes());
    feed(&mut h, r.target.as_bytes());
    feed(&mut h, r.outcome.as_bytes());
    feed(&mut h, r.detail.as_bytes());
    hex(&h.finalize())
}

/// Chains new records after `(last_seq, last_hash)`.
pub fn chain(last_seq: i64, last_hash: &str, records: &[NewAuditRecord]) -> Vec<AuditRecord> {
    let mut prev = last_hash.to_string();
    records
        .iter()
        .enumerate()
        .map(|(i, r)| {
            let seq = last_seq + 1 + i as i64;
            let hash = record_hash(&prev, seq, r);
            AuditRecord {
                seq,
                record: r.clone(),
                prev_hash: std::mem::replace(&mut prev, hash.clone()),
                hash,
            }
        })
        .collect()
}

/// HMAC-SM3 of a checkpoint under `key`.
pub fn checkpoint_mac(key: &[u8], seq: i64, hash: &str, at: Millis) -> String {
    let Ok(mut mac) = SimpleHmac::<Sm3>::new_from_slice(key) else {
        return String::new();
    };
    mac.update(&seq.to_be_bytes());
    mac.update(hash.as_bytes());
    mac.update(&at.to_be_bytes());
    hex(&mac.finalize().into_bytes())
}

/// What verification found wrong, at its exact place in the chain.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(tag = "problem", rename_all = "snake_case")]
pub enum AuditProblem {
    /// The record's fields no longer give its hash: edited.
    Altered { seq: i64 },
    /// The record does not follow the one before it (its `prev_hash` is another record's
    /// hash): a record was inserted, deleted and renumbered, or records were reordered.
    ChainBroken { seq: i64 },
    /// Numbers are missing between two records: deleted.
    Missing { from: i64, to: i64 },
    /// A checkpoint's signature is wrong: forged or made with another key.
    CheckpointForged { seq: i64 },
    /// The chain no longer has the hash a checkpoint signed at its number.
    CheckpointMismatch { seq: i64 },
    /// A checkpoint was signed after records that are gone: the end of the trail was cut.
    Truncated { last_seq: i64, checkpoint_seq: i64 },
    /// A checkpoint without a signature (no key was configured when it was made).
    CheckpointUnsigned { seq: i64 },
}

/// The outcome of a verification.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct AuditReport {
    pub records: u64,
    pub last_seq: i64,
    pub checkpoints: u64,
    pub problems: Vec<AuditProblem>,
}

/// Walks the records in order of `seq`, a page at a time, then checks the checkpoints.
#[derive(Debug)]
pub struct Verifier {
    last_seq: i64,
    last_hash: String,
    /// Each record's own stored hash by number, as the chain went (for the checkpoints).
    hashes: std::collections::HashMap<i64, String>,
    report: AuditReport,
}

impl Default for Verifier {
    fn default() -> Self {
        Verifier {
            last_seq: 0,
            last_hash: GENESIS.to_string(),
            hashes: Default::default(),
            report: AuditReport::default(),
        }
    }
}

impl Verifier {
    /// The next record (records come in increasing `seq`). `keep_hash`: remember its hash
    /// for a checkpoint at this number.
    pub fn feed(&mut self, r: &AuditRecord, keep_hash: bool) {
        let problems = &mut self.report.problems;
        if r.seq > self.last_seq + 1 {
            problems.push(AuditProblem::Missing {
                from: self.last_seq + 1,
                to: r.seq - 1,
            });
        }
        if r.prev_hash != self.last_hash {
            problems.push(AuditProblem::ChainBroken { seq: r.seq });
        }
        if record_hash(&r.prev_hash, r.seq, &r.record) != r.hash {
            problems.push(AuditProblem::Altered { seq: r.seq });
        }
        if keep_hash {
            self.hashes.insert(r.seq, r.hash.clone());
        }
        self.last_seq = r.seq;
        self.last_hash = r.hash.clone();
        self.report.records += 1;
    }

    /// Checks the checkpoints (with `key`, when configured) and gives the report.
    pub fn finish(mut self, checkpoints: &[Checkpoint], key: Option<&[u8]>) -> AuditReport {
        for cp in checkpoints {
            match (&cp.mac, key) {
                (Some(mac), Some(key)) => {
                    if checkpoint_mac(key, cp.seq, &cp.hash, cp.at) != *mac {
                        self.report
                            .problems
                            .push(AuditProblem::CheckpointForged { seq: cp.seq });
                    }
                }
                (None, _) => self
                    .report
                    .problems
                    .push(AuditProblem::CheckpointUnsigned { seq: cp.seq }),
                (Some(_), None) => {}
            }
            if cp.seq > self.last_seq {
                self.report.problems.push(AuditProblem::Truncated {
                    last_seq: self.last_seq,
                    checkpoint_seq: cp.seq,
                });
            } else if self.hashes.get(&cp.seq) != Some(&cp.hash) {
                self.report
                    .problems
                    .push(AuditProblem::CheckpointMismatch { seq: cp.seq });
            }
        }
        self.report.last_seq = self.last_seq;
        self.report.checkpoints = checkpoints.len() as u64;
        self.report
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rec(i: i64) -> NewAuditRecord {
        NewAuditRecord {
            at: 1_000 + i,
            actor_id: Some(7),
            actor_name: "dispatcher".into(),
            client: "127.0.0.1".into(),
            action: AuditAction::CaseChanged,
            target: format!("case:{i}"),
            outcome: "ok".into(),
            detail: "{}".into(),
        }
    }

    /// GB/T 32905-2016 appendix A: SM3("abc") and SM3 of "abcd" × 16.
    #[test]
    fn sm3_known_answers_of_gb_t_32905() {
        assert_eq!(
            hex(&Sm3::digest(b"abc")),
            "66c7f0f462eeedd9d1f2d46bdc10e4e24167c4875cf2f7a2297da02b8f4ba8e0"
        );
        assert_eq!(
            hex(&Sm3::digest("abcd".repeat(16).as_bytes())),
            "debe9ff92275b8a138604889c18e5a4d6fdb70e5387e5765293dcba39c0c5732"
        );
    }

    fn verify(records: &[AuditRecord], cps: &[Checkpoint], key: &[u8]) -> Vec<AuditProblem> {
        let mut v = Verifier::default();
        for r in records {
            v.feed(r, cps.iter().any(|c| c.seq == r.seq));
        }
        v.finish(cps, Some(key)).problems
    }

    #[test]
    fn every_kind_of_tampering_is_found_at_its_place() {
        let key = b"audit key";
        let records = chain(0, GENESIS, &(1..=10).map(rec).collect::<Vec<_>>());
        let cp = |seq: i64| Checkpoint {
            seq,
            hash: records[seq as usize - 1].hash.clone(),
            at: 5,
            mac: Some(checkpoint_mac(key, seq, &records[seq as usize - 1].hash, 5)),
        };
        let cps = vec![cp(5), cp(10)];
        assert_eq!(verify(&records, &cps, key), vec![]);
        // Appending continues the chain.
        let more = chain(10, &records[9].hash, &[rec(11)]);
        assert_eq!(more[0].prev_hash, records[9].hash);

        let mut edited = records.clone();
        edited[3].record.outcome = "denied".into();
        assert_eq!(
            verify(&edited, &cps, key),
            vec![AuditProblem::Altered { seq: 4 }]
        );

        let mut deleted = records.clone();
        deleted.remove(6);
        assert_eq!(
            verify(&deleted, &cps, key),
            vec![
                AuditProblem::Missing { from: 7, to: 7 },
                AuditProblem::ChainBroken { seq: 8 }
            ]
        );

        // Deleted and the rest renumbered (and rehashed by someone without the key).
        let mut renumbered: Vec<NewAuditRecord> = (1..=10).map(rec).collect();
        renumbered.remove(6);
        let forged = chain(0, GENESIS, &renumbered);
        let found = verify(&forged, &cps, key);
        assert!(
            found.contains(&AuditProblem::Truncated {
                last_seq: 9,
                checkpoint_seq: 10
            }),
            "{found:?}"
        );

        let mut inserted = records.clone();
        let mut extra = records[2].clone();
        extra.record.target = "case:99".into();
        inserted.insert(3, extra);
        for (i, r) in inserted.iter_mut().enumerate() {
            r.seq = i as i64 + 1;
        }
        let found = verify(&inserted, &cps, key);
        assert!(
            found.contains(&AuditProblem::ChainBroken { seq: 4 }),
            "{found:?}"
        );

        let mut reordered = records.clone();
        reordered.swap(1, 2);
        reordered[1].seq = 2;
        reordered[2].seq = 3;
        let found = verify(&reordered, &cps, key);
        assert_eq!(found[0], AuditProblem::ChainBroken { seq: 2 }, "{found:?}");

        let mut truncated = records.clone();
        truncated.truncate(8);
        assert_eq!(
            verify(&truncated, &cps, key),
            vec![AuditProblem::Truncated {
                last_seq: 8,
                checkpoint_seq: 10
            }]
        );

        let mut bad_cp = cps.clone();
        bad_cp[0].mac = Some(checkpoint_mac(b"another key", 5, &bad_cp[0].hash, 5));
        assert_eq!(
            verify(&records, &bad_cp, key),
            vec![AuditProblem::CheckpointForged { seq: 5 }]
        );
    }
}
