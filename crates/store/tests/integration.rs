//! The sealing of personal numbers: the national-standard vectors of SM4 and SM4-GCM, and what
//! the keyring promises (rotation, blind index, altered or moved values refused).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use aes_gcm::aead::{Aead, Payload};
use aes_gcm::{KeyInit, Nonce};
use fengqiao_store::seal::{SealedKind, Sealer, Sm4Gcm};
use serde_json::json;
use sm4::cipher::BlockEncrypt;

fn unhex(s: &str) -> Vec<u8> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// GB/T 32907-2016, appendix A: one block, and the same block encrypted 1,000,000 times.
#[test]
fn sm4_known_answers_of_gb_t_32907() {
    let key = unhex("0123456789abcdeffedcba9876543210");
    let cipher = sm4::Sm4::new_from_slice(&key).unwrap();
    let mut block = sm4::cipher::generic_array::GenericArray::clone_from_slice(&key);
    cipher.encrypt_block(&mut block);
    assert_eq!(hex(&block), "681edf34d206965e86b3e94f536e4246");
    let mut block = sm4::cipher::generic_array::GenericArray::clone_from_slice(&key);
    for _ in 0..1_000_000 {
        cipher.encrypt_block(&mut block);
    }
    assert_eq!(hex(&block), "595298c7c6fd271f0402f804c33d3f66");
}

/// RFC 8998, appendix A.1: SM4-GCM with associated data.
#[test]
fn sm4_gcm_known_answer_of_rfc_8998() {
    let key = unhex("0123456789ABCDEFFEDCBA9876543210");
    let nonce = unhex("00001234567800000000ABCD");
    let aad = unhex("FEEDFACEDEADBEEFFEEDFACEDEADBEEFABADDAD2");
    let pt = unhex(
        "AAAAAAAAAAAAAAAABBBBBBBBBBBBBBBBCCCCCCCCCCCCCCCCDDDDDDDDDDDDDDDD\
         EEEEEEEEEEEEEEEEFFFFFFFFFFFFFFFFEEEEEEEEEEEEEEEEAAAAAAAAAAAAAAAA",
    );
    let gcm = Sm4Gcm::new_from_slice(&key).unwrap();
    let out = gcm
        .encrypt(
            Nonce::from_slice(&nonce),
            Payload {
                msg: &pt,
                aad: &aad,
            },
        )
        .unwrap();
    let (ct, tag) = out.split_at(pt.len());
    assert_eq!(
        hex(ct),
        "17f399f08c67d5ee19d0dc9969c4bb7d5fd46fd3756489069157b282bb200735\
         d82710ca5c22f0ccfa7cbf93d496ac15a56834cbcf98c397b4024a2691233b8d"
    );
    assert_eq!(hex(tag), "83de3541e4c2b58177e065a9bf7b62ec");
    // And back; one changed bit of the associated data and nothing opens.
    let back = gcm
        .decrypt(
            Nonce::from_slice(&nonce),
            Payload {
                msg: &out,
                aad: &aad,
            },
        )
        .unwrap();
    assert_eq!(back, pt);
    let mut other = aad.clone();
    other[0] ^= 1;
    assert!(gcm
        .decrypt(
            Nonce::from_slice(&nonce),
            Payload {
                msg: &out,
                aad: &other
            }
        )
        .is_err());
}

const K1: &str = "1:000102030405060708090a0b0c0d0e0f";
const K2: &str = "2:f0e0d0c0b0a090807060504030201000";
const INDEX: &str = "an index key of the tests";

#[test]
fn sealed_values_open_with_any_key_of_the_ring_and_nothing_else() {
    let old = Sealer::from_config(K1, INDEX).unwrap();
    let both = Sealer::from_config(&format!("{K2},{K1}"), INDEX).unwrap();
    let new_only = Sealer::from_config(K2, INDEX).unwrap();
    assert_eq!(both.current_key_id(), 2, "the highest id seals");

    let sealed = old.seal("phone", "13800138000");
    assert!(sealed.starts_with("sm4$1$"), "{sealed}");
    assert!(!sealed.contains("13800138000"));
    // Random nonces: the same number seals differently each time.
    assert_ne!(old.seal("phone", "13800138000"), sealed);
    assert_eq!(both.open("phone", &sealed).unwrap(), "13800138000");
    let err = new_only.open("phone", &sealed).unwrap_err();
    assert!(err.to_string().contains("key 1"), "{err}");
    // Moved to another field, or altered: refused.
    assert!(old.open("id_number", &sealed).is_err());
    let mut altered = sealed.clone().into_bytes();
    let last = altered.len() - 3;
    altered[last] = if altered[last] == b'A' { b'B' } else { b'A' };
    assert!(old
        .open("phone", &String::from_utf8(altered).unwrap())
        .is_err());
    // Plain values written before encryption read as they are.
    assert_eq!(
        new_only.open("phone", "13800138000").unwrap(),
        "13800138000"
    );

    // Rotation: old and plain values are sealed again under the newest key, once.
    let again = both.reseal("phone", &sealed).unwrap().unwrap();
    assert!(again.starts_with("sm4$2$"));
    assert_eq!(new_only.open("phone", &again).unwrap(), "13800138000");
    assert_eq!(both.reseal("phone", &again).unwrap(), None);
    assert!(both.reseal("phone", "13800138000").unwrap().is_some());
}

#[test]
fn documents_seal_personal_members_and_rotate_whole() {
    let old = Sealer::from_config(K1, INDEX).unwrap();
    let both = Sealer::from_config(&format!("{K1},{K2}"), INDEX).unwrap();
    let doc = json!({
        "text": "我电话13800138000，身份证110101199003074514。",
        "parties": [{"name": "王某", "phone": "13912345678", "id_number": "110101199003074514"}],
        "note": {"text": "没有号码的文字"},
        "amount_fen": 120000
    });
    let mut v = doc.clone();
    old.seal_json(&mut v);
    let stored = serde_json::to_string(&v).unwrap();
    for plain in ["13800138000", "13912345678", "110101199003074514", "电话"] {
        assert!(!stored.contains(plain), "{plain} in {stored}");
    }
    // What holds no personal number stays readable (and searchable by the database).
    assert!(stored.contains("没有号码的文字") && stored.contains("王某"));
    let back: serde_json::Value = both.from_sealed_json(&stored, "doc").unwrap();
    assert_eq!(back, doc);

    let rotated = both.reseal_json(&stored).unwrap().unwrap();
    assert!(!rotated.contains("sm4$1$") && rotated.contains("sm4$2$"));
    assert_eq!(both.reseal_json(&rotated).unwrap(), None);
    let back: serde_json::Value = Sealer::from_config(K2, INDEX)
        .unwrap()
        .from_sealed_json(&rotated, "doc")
        .unwrap();
    assert_eq!(back, doc);
    // A plain document (written before encryption) is sealed by rotation.
    let plain = serde_json::to_string(&doc).unwrap();
    let sealed = both
        .reseal_stored(SealedKind::Json, &plain)
        .unwrap()
        .unwrap();
    assert!(!sealed.contains("13912345678"));
    // A text that only looks sealed is sealed too, so reading it back cannot fail.
    let mut tricky = json!({"text": "sm4$1$not-a-sealed-value"});
    old.seal_json(&mut tricky);
    let back: serde_json::Value = old.from_sealed_json(&tricky.to_string(), "doc").unwrap();
    assert_eq!(back, json!({"text": "sm4$1$not-a-sealed-value"}));
}

#[test]
fn the_blind_index_is_keyed_and_ignores_how_a_number_is_written() {
    let a = Sealer::from_config(K1, INDEX).unwrap();
    let rotated = Sealer::from_config(&format!("{K1},{K2}"), INDEX).unwrap();
    let other = Sealer::from_config(K1, "another index key!").unwrap();
    assert_eq!(a.blind("138 0013 8000"), a.blind("13800138000"));
    assert_eq!(a.blind("11010119900307451x"), a.blind("11010119900307451X"));
    assert_eq!(a.blind("13800138000").len(), 32);
    // Data-key rotation keeps look-ups; another index key gives other keys.
    assert_eq!(rotated.blind("13800138000"), a.blind("13800138000"));
    assert_ne!(other.blind("13800138000"), a.blind("13800138000"));
    assert_ne!(a.blind("13800138000"), a.blind("13800138001"));
    // Deterministic sealing: equal values, equal sealed text; still opens.
    let d = a.seal_deterministic("target", "13800138000");
    assert_eq!(d, a.seal_deterministic("target", "13800138000"));
    assert_eq!(a.open("target", &d).unwrap(), "13800138000");
}

#[test]
fn names_in_a_village_have_keys_of_their_own() {
    use fengqiao_domain::case::{Party, PartyRole};
    let a = Sealer::from_config(K1, INDEX).unwrap();
    let party = |name: &str| Party {
        name: name.into(),
        role: PartyRole::Applicant,
        id_number: None,
        phone: None,
        address: None,
    };
    let village = "/990000/990100/990102/990102001/990102001001/";
    let grid = "/990000/990100/990102/990102001/990102001001/990102001001001/";
    let key = |name: &str, path: &str| party(name).name_place_key(path).map(|k| a.blind_text(&k));
    // Every character of the name counts (the numbers' normalisation would drop them).
    assert_ne!(key("张建国", village), key("张建军", village));
    assert_ne!(key("张建国", village), key("李建国", village));
    // A grid is its village; another village is another key; spaces do not count.
    assert_eq!(key("张建国", grid), key("张 建国", village));
    assert_ne!(
        key("张建国", village),
        key("张建国", "/990000/990100/990102/990102001/990102001002/")
    );
    // Anonymised and one-character names identify nobody.
    assert_eq!(key("张某", village), None);
    assert_eq!(key("张", village), None);
    assert_ne!(key("张建国", village).unwrap(), a.blind("张建国"));
}

#[test]
fn keyring_configuration_errors_are_named() {
    let code = |k: &str, i: &str| Sealer::from_config(k, i).unwrap_err().code();
    assert_eq!(code("", INDEX), "data_key_missing");
    assert_eq!(code("1:abcd", INDEX), "data_key_malformed");
    assert_eq!(
        code("x:000102030405060708090a0b0c0d0e0f", INDEX),
        "data_key_malformed"
    );
    assert_eq!(code(&format!("{K1},{K1}"), INDEX), "data_key_duplicate");
    assert_eq!(code(K1, "short"), "index_key_short");
}
