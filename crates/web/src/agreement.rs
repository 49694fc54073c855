//! The signed agreement's PDF (人民调解协议书): `typst/agreement.typ` with the case's data and
//! the parties' drawn signatures, through the shared Typesetter. Set on the app by `router`.
use fengqiao_app::room::{AgreementDoc, AgreementRenderer};
use fengqiao_pdf::Document;

const TEMPLATE: &str = include_str!("../typst/agreement.typ");

pub struct TypstAgreement;

impl AgreementRenderer for TypstAgreement {
    fn render(&self, d: &AgreementDoc) -> Result<Vec<u8>, String> {
        let data = serde_json::json!({
            "title": "人民调解协议书",
            "meta": format!("案件编号 {}　纠纷类型 {}　第 {} 稿", d.tracking_code, d.dispute_type, d.version),
            "h_parties": "当事人",
            "parties": d.parties.iter().map(|(name, role, id, phone)| serde_json::json!({
                "name": name, "role": role, "id": id, "phone": phone,
            })).collect::<Vec<_>>(),
            "h_facts": "纠纷主要事实、争议事项",
            "facts": d.facts,
            "h_terms": "经调解，自愿达成如下协议",
            "terms": d.terms,
            "h_obligations": "履行方式与期限",
            "h_who": "履行人", "h_what": "履行内容", "h_amount": "金额（元）", "h_due": "履行期限",
            "obligations": d.obligations.iter().map(|(who, what, amount, due)| serde_json::json!({
                "who": who, "what": what, "amount": amount, "due": due,
            })).collect::<Vec<_>>(),
            "h_confirm": "当事人确认",
            "confirm": "本协议经当事人在线阅读，以手写签名并经手机验证码确认后生效。当事人应当按照约定履行；达成协议后，双方可以自协议生效之日起三十日内共同向人民法院申请司法确认。",
            "h_signatures": "当事人签名",
            "signatures": d.signatures.iter().enumerate().map(|(i, (name, role, at, _))| serde_json::json!({
                "name": name, "role": role, "at": format!("签署时间 {at}"), "file": format!("sig{i}.png"),
            })).collect::<Vec<_>>(),
            "unit": if d.unit.is_empty() { "人民调解委员会".to_string() } else { d.unit.clone() },
            "signed_at": d.signed_at,
            "footer": format!("{} · 调解协议书 第 {} 稿 · 枫桥矛盾纠纷多元化解平台", d.tracking_code, d.version),
        });
        let mut doc = Document::new(TEMPLATE).json("data.json", &data);
        for (i, (_, _, _, png)) in d.signatures.iter().enumerate() {
            doc = doc.file(&format!("sig{i}.png"), png.clone());
        }
        let ts = crate::poster::typesetter()?;
        ts.pdf(&doc).map_err(|e| format!("{e} ({})", e.code()))
    }
}
