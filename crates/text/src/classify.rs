//! What and why: the dispute type (a lexicon written by the project combined with a naive
//! Bayes model over character bigrams, trained on the demo corpus or a deployment's confirmed
//! cases) and the cause phrase (因宅基地边界问题 → 宅基地边界).

use crate::norm::is_han;
use crate::{Doc, Mention, TextError};
use aho_corasick::{AhoCorasick, MatchKind};
use fengqiao_domain::case::DisputeType;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashMap};
use std::hash::{BuildHasherDefault, Hasher};

/// A fast hasher for bigram keys (two chars packed in a u64; not exposed to untrusted keys
/// beyond the model's own vocabulary).
#[derive(Default)]
pub struct PairHasher(u64);

impl Hasher for PairHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.0 = (self.0 ^ u64::from(*b)).wrapping_mul(0x100_0000_01b3);
        }
    }
    fn write_u64(&mut self, n: u64) {
        self.0 = (n ^ (n >> 29)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    }
}

fn pair_key(b: [char; 2]) -> u64 {
    (u64::from(b[0] as u32) << 32) | u64::from(b[1] as u32)
}
use std::sync::OnceLock;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TypeGuess {
    pub best: DisputeType,
    /// Probability of `best`, 0–1.
    pub confidence: f64,
    /// The three most likely types with their probabilities.
    pub top: Vec<(DisputeType, f64)>,
    /// Lexicon words that spoke for `best`.
    pub evidence: Vec<String>,
}

use DisputeType as T;

/// (type, words with weights). Written by the project; see ARCHITECTURE.md for how to extend.
const LEXICON: &[(DisputeType, &[(&str, f64)])] = &[
    (
        T::MarriageFamily,
        &[
            ("离婚", 3.0),
            ("结婚", 2.0),
            ("夫妻", 2.0),
            ("婚姻", 3.0),
            ("抚养", 3.0),
            ("赡养", 3.0),
            ("遗产", 3.0),
            ("继承", 3.0),
            ("遗嘱", 3.0),
            ("家庭琐事", 2.0),
            ("丈夫", 2.0),
            ("妻子", 2.0),
            ("婆媳", 3.0),
            ("儿媳", 2.0),
            ("彩礼", 3.0),
            ("同居", 2.5),
            ("子女", 1.0),
            ("监护", 2.0),
            ("收养", 3.0),
            ("扶养", 3.0),
            ("分家", 2.0),
            ("兄弟姐妹", 1.5),
            ("家暴", 3.0),
            ("家庭暴力", 3.0),
            ("婚生", 3.0),
            ("被继承人", 3.0),
            ("离异", 2.0),
            ("岳父", 1.0),
            ("生活费", 1.0),
            ("再婚", 2.0),
            ("婚后", 2.0),
            ("孙子", 1.0),
            ("老人", 0.5),
            ("家务", 1.5),
            ("亲生", 2.0),
            ("父子", 1.5),
            ("母子", 1.5),
            ("母女", 1.5),
            ("父女", 1.5),
        ],
    ),
    (
        T::Neighbourhood,
        &[
            ("邻居", 3.0),
            ("邻里", 3.0),
            ("隔壁", 2.0),
            ("楼上", 1.5),
            ("楼下", 1.5),
            ("漏水", 2.0),
            ("噪音", 1.0),
            ("排水", 1.5),
            ("通行", 2.0),
            ("采光", 2.0),
            ("相邻", 3.0),
            ("堆放", 1.5),
            ("公共通道", 2.0),
            ("院子", 1.0),
            ("狗", 1.0),
            ("滴水", 1.5),
            ("通风", 1.0),
            ("鸡鸭", 1.0),
            ("口角", 1.0),
            ("水沟", 2.0),
            ("出入", 1.0),
            ("妨碍通行", 3.0),
            ("道路", 0.5),
        ],
    ),
    (
        T::HousingHomestead,
        &[
            ("房屋租赁", 3.0),
            ("出租房屋", 2.5),
            ("购买房屋", 3.0),
            ("房屋所有权", 2.5),
            ("宅基地", 3.5),
            ("建房", 1.5),
            ("翻建", 2.0),
            ("老宅", 2.0),
            ("房产", 2.0),
            ("过户", 2.0),
            ("购房", 2.0),
            ("商品房", 3.0),
            ("房屋买卖", 3.0),
            ("产权", 1.5),
            ("房屋", 1.0),
            ("砌墙", 2.0),
            ("侵占", 1.0),
            ("房产证", 2.0),
            ("预售", 2.0),
            ("开发商", 2.0),
            ("交房", 2.5),
        ],
    ),
    (
        T::Contract,
        &[
            ("合同", 1.0),
            ("借款", 3.0),
            ("借条", 3.0),
            ("欠款", 2.5),
            ("还款", 2.5),
            ("借给", 3.0),
            ("催要", 2.0),
            ("货款", 3.0),
            ("欠条", 3.0),
            ("协议", 0.5),
            ("违约", 2.5),
            ("履行", 0.5),
            ("担保", 2.5),
            ("保证人", 2.5),
            ("保证责任", 3.0),
            ("利息", 2.0),
            ("借贷", 3.0),
            ("本金", 2.0),
            ("定金", 2.0),
            ("租赁", 2.0),
            ("租金", 2.0),
            ("承揽", 2.0),
            ("保管", 2.5),
            ("委托", 1.0),
            ("居间", 2.5),
            ("保险合同", 2.5),
            ("保险金", 1.5),
            ("保险费", 2.0),
            ("转让", 0.5),
            ("债务", 2.0),
            ("债权", 2.0),
            ("偿还", 2.0),
            ("清偿", 2.0),
            ("付款", 1.5),
            ("签订", 0.3),
            ("约定", 0.5),
            ("买卖", 1.5),
            ("货物", 2.0),
            ("运费", 2.0),
            ("承运", 2.5),
            ("仓储", 2.5),
            ("设计费", 2.0),
            ("监理", 2.0),
            ("修理", 1.5),
            ("装修", 1.5),
            ("装饰", 1.5),
            ("分期付款", 2.5),
            ("抵押", 2.0),
            ("代位", 2.0),
            ("追偿", 2.0),
            ("不当得利", 3.0),
            ("贷款", 2.0),
            ("理财", 2.0),
            ("中介", 2.0),
            ("工程款", 1.5),
            ("订购", 2.0),
            ("保安服务", 3.0),
        ],
    ),
    (
        T::ProductionBusiness,
        &[
            ("股权", 3.0),
            ("公司章程", 3.0),
            ("解散", 2.0),
            ("种植", 1.5),
            ("回收合同", 3.0),
            ("加盟", 3.0),
            ("合伙经营", 3.0),
            ("经营", 0.5),
            ("养殖", 2.0),
            ("鱼塘", 2.0),
            ("果园", 2.0),
            ("加工厂", 1.5),
            ("养猪场", 2.0),
            ("收购", 2.0),
            ("农产品", 2.0),
            ("股东", 2.5),
            ("分红", 2.5),
            ("散伙", 2.5),
            ("投资", 1.0),
            ("特许经营", 3.0),
            ("供货", 1.5),
            ("合伙", 2.0),
            ("种植户", 2.0),
            ("养殖户", 2.0),
            ("回收", 2.0),
            ("农家乐", 2.5),
            ("入股", 2.5),
        ],
    ),
    (
        T::DamageCompensation,
        &[
            ("赔偿", 1.0),
            ("损失", 1.0),
            ("摔伤", 3.0),
            ("打伤", 3.0),
            ("受伤", 1.5),
            ("医药费", 1.5),
            ("医疗费", 1.5),
            ("误工费", 2.5),
            ("砸坏", 2.5),
            ("损坏", 2.0),
            ("咬伤", 3.0),
            ("侵权", 1.5),
            ("损害", 1.5),
            ("伤残", 1.5),
            ("护理费", 1.5),
            ("人身损害", 3.0),
            ("财产损失", 2.0),
            ("安全保障义务", 3.0),
            ("物件", 2.5),
            ("坠落", 2.5),
            ("滑倒", 3.0),
            ("饲养", 2.0),
            ("动物", 1.5),
            ("摔倒", 2.5),
            ("砸伤", 3.0),
            ("烫伤", 3.0),
            ("提供劳务", 2.0),
            ("雇员", 1.5),
            ("施工", 1.0),
            ("地下设施", 3.0),
            ("窨井", 3.0),
        ],
    ),
    (
        T::ForestLand,
        &[
            ("承包合同", 2.0),
            ("承包", 1.5),
            ("林业承包", 3.0),
            ("渔业承包", 3.0),
            ("山林", 3.0),
            ("林地", 3.0),
            ("界址", 2.5),
            ("承包地", 3.0),
            ("责任田", 3.0),
            ("耕地", 2.5),
            ("土地承包", 3.0),
            ("承包经营权", 3.0),
            ("林权", 3.0),
            ("砍伐", 2.0),
            ("杉木", 2.0),
            ("地块", 2.0),
            ("田地", 2.0),
            ("耕种", 2.0),
            ("林业", 2.5),
            ("山场", 2.5),
            ("荒山", 2.0),
            ("水田", 2.0),
            ("旱地", 2.0),
            ("渔业", 2.0),
            ("水面", 1.5),
            ("亩", 1.0),
            ("承包费", 2.0),
            ("林木", 3.0),
            ("农村土地", 3.0),
            ("发包", 2.0),
        ],
    ),
    (
        T::LandRequisition,
        &[
            ("征地", 3.0),
            ("征收", 3.0),
            ("拆迁", 3.0),
            ("补偿款", 1.5),
            ("补偿标准", 3.0),
            ("安置", 1.5),
            ("评估", 1.0),
            ("青苗补偿", 3.0),
            ("土地补偿", 3.0),
            ("征用", 3.0),
            ("棚户区", 3.0),
            ("动迁", 3.0),
            ("被拆迁", 3.0),
            ("安置房", 3.0),
        ],
    ),
    (
        T::EnvironmentalPollution,
        &[
            ("污染", 3.0),
            ("噪音", 1.5),
            ("粉尘", 3.0),
            ("废水", 3.0),
            ("污水", 3.0),
            ("排放", 2.0),
            ("发臭", 2.0),
            ("异味", 2.0),
            ("刺鼻", 2.0),
            ("废气", 3.0),
            ("环保", 2.0),
            ("油烟", 2.5),
            ("砂石场", 1.5),
            ("灰尘", 2.0),
            ("噪声", 2.0),
        ],
    ),
    (
        T::Labour,
        &[
            ("工资", 3.0),
            ("拖欠工资", 3.0),
            ("劳动合同", 3.0),
            ("社会保险", 2.5),
            ("社保", 2.5),
            ("工伤", 3.0),
            ("辞退", 3.0),
            ("解除劳动", 3.0),
            ("经济补偿", 2.5),
            ("加班", 2.0),
            ("用人单位", 3.0),
            ("劳动者", 3.0),
            ("包工头", 2.5),
            ("工钱", 3.0),
            ("务工", 2.0),
            ("劳务", 1.5),
            ("劳动关系", 3.0),
            ("工地", 0.5),
            ("入职", 2.5),
            ("离职", 2.0),
            ("劳务派遣", 3.0),
            ("职工", 1.5),
            ("员工", 1.5),
            ("失业保险", 3.0),
            ("养老保险", 2.0),
            ("福利待遇", 3.0),
            ("工人", 1.5),
            ("竞业限制", 3.0),
            ("劳动争议", 3.0),
            ("仲裁", 1.0),
            ("上班", 1.5),
            ("薪", 1.5),
        ],
    ),
    (
        T::Consumer,
        &[
            ("旅游", 2.5),
            ("旅行社", 3.0),
            ("乘客", 2.5),
            ("出租车", 2.0),
            ("商家", 3.0),
            ("退换", 3.0),
            ("退款", 2.0),
            ("质量问题", 2.0),
            ("保质期", 3.0),
            ("假货", 3.0),
            ("消费者", 3.0),
            ("售后", 3.0),
            ("健身卡", 3.0),
            ("会员卡", 3.0),
            ("预付", 1.5),
            ("学费", 2.0),
            ("网购", 3.0),
            ("充值", 2.0),
            ("商品", 1.5),
            ("退货", 3.0),
            ("三包", 3.0),
            ("购买的", 1.5),
            ("销售者", 3.0),
            ("产品质量", 3.0),
            ("缺陷", 2.0),
            ("超市", 1.0),
        ],
    ),
    (
        T::Medical,
        &[
            ("医疗机构", 2.5),
            ("诊断", 1.0),
            ("医疗服务", 3.0),
            ("医院", 0.5),
            ("卫生院", 2.5),
            ("诊所", 2.5),
            ("医生", 2.0),
            ("手术", 2.5),
            ("治疗", 1.0),
            ("医疗事故", 3.0),
            ("医疗纠纷", 3.0),
            ("输液", 3.0),
            ("拔牙", 3.0),
            ("诊疗", 3.0),
            ("病历", 2.0),
            ("误诊", 3.0),
            ("医疗损害", 3.0),
            ("过敏", 1.5),
            ("抢救", 2.0),
            ("护士", 2.0),
            ("医患", 3.0),
            ("死因", 2.0),
            ("医疗过错", 3.0),
            ("非法行医", 3.0),
        ],
    ),
    (
        T::TrafficAccident,
        &[
            ("交通事故认定", 3.0),
            ("道路交通", 3.0),
            ("事故责任", 2.0),
            ("交通事故", 3.5),
            ("相撞", 3.0),
            ("追尾", 3.0),
            ("撞伤", 2.5),
            ("驾驶", 0.5),
            ("刮倒", 3.0),
            ("交警", 3.0),
            ("机动车", 3.0),
            ("轿车", 0.5),
            ("货车", 0.5),
            ("电动自行车", 1.0),
            ("三轮车", 1.0),
            ("保险理赔", 2.0),
            ("肇事", 3.0),
            ("车辆", 0.3),
            ("摩托车", 1.0),
            ("交强险", 3.0),
            ("三者险", 3.0),
            ("责任认定", 2.0),
            ("撞倒", 2.5),
            ("碰撞", 2.5),
            ("驾驶证", 2.0),
            ("面包车", 1.0),
            ("运输车辆", 1.5),
            ("路口", 0.5),
        ],
    ),
    (
        T::PropertyManagement,
        &[
            ("物业", 3.0),
            ("物业费", 3.0),
            ("业主", 2.5),
            ("小区", 1.5),
            ("电梯", 2.0),
            ("车库", 1.5),
            ("停车位", 2.0),
            ("门禁", 2.0),
            ("公共绿地", 2.0),
            ("业委会", 3.0),
            ("业主委员会", 3.0),
            ("维修基金", 3.0),
        ],
    ),
    (
        T::Other,
        &[
            ("名誉权", 3.0),
            ("诽谤", 3.0),
            ("人格", 2.5),
            ("侮辱", 2.5),
            ("名誉", 2.5),
            ("隐私", 2.5),
            ("微信群", 1.5),
            ("低保", 2.5),
            ("彩票", 2.5),
            ("肖像", 3.0),
            ("人格权", 3.0),
            ("公开道歉", 2.0),
            ("著作权", 3.0),
            ("专利", 3.0),
            ("商标", 3.0),
            ("破产", 3.0),
            ("无民事行为能力", 3.0),
            ("录音录像", 3.0),
            ("计算机软件", 3.0),
        ],
    ),
];

struct Lexicon {
    automaton: AhoCorasick,
    /// Pattern → (type index, weight).
    entries: Vec<(usize, f64, &'static str)>,
}

fn type_index(t: DisputeType) -> usize {
    DisputeType::ALL.iter().position(|x| *x == t).unwrap_or(0)
}

fn lexicon() -> Option<&'static Lexicon> {
    static L: OnceLock<Option<Lexicon>> = OnceLock::new();
    L.get_or_init(|| {
        let mut entries = Vec::new();
        let mut words = Vec::new();
        for (t, ws) in LEXICON {
            for (w, weight) in *ws {
                words.push(*w);
                entries.push((type_index(*t), *weight, *w));
            }
        }
        AhoCorasick::builder()
            .match_kind(MatchKind::Standard)
            .build(&words)
            .ok()
            .map(|automaton| Lexicon { automaton, entries })
    })
    .as_ref()
}

/// Character bigrams of the Han runs of a text (the classifier's features).
pub fn bigrams(chars: &[char]) -> impl Iterator<Item = [char; 2]> + '_ {
    chars
        .windows(2)
        .filter(|w| is_han(w[0]) && is_han(w[1]))
        .map(|w| [w[0], w[1]])
}

fn key(b: [char; 2]) -> String {
    b.iter().collect()
}

/// A multinomial naive Bayes model over character bigrams, stored as counts.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NbCounts {
    /// Type codes, in row order.
    pub types: Vec<String>,
    /// Documents per type.
    pub docs: Vec<u32>,
    /// bigram → counts per type (sparse: (type index, count)).
    pub features: BTreeMap<String, Vec<(u16, u32)>>,
    /// Texts the model was trained on (for the record).
    pub trained_on: String,
}

/// The type classifier: lexicon plus naive Bayes.
#[derive(Debug, Clone)]
pub struct TypeModel {
    counts: Option<NbCounts>,
    /// log P(type)
    log_prior: Vec<f64>,
    /// log P(bigram | type) per feature
    log_likelihood: HashMap<u64, Vec<f64>, BuildHasherDefault<PairHasher>>,
}

/// How much one lexicon weight point counts against the model's log-probabilities.
const LEXICON_SCALE: f64 = 1.2;
/// Tempering of the naive Bayes log-likelihoods (they are overconfident).
const NB_TEMPERATURE: f64 = 4.0;

impl TypeModel {
    /// Lexicon only.
    pub fn lexicon_only() -> TypeModel {
        TypeModel {
            counts: None,
            log_prior: Vec::new(),
            log_likelihood: HashMap::default(),
        }
    }

    /// The model shipped with the project (trained on the demo corpus by
    /// `fengqiao train-classifier --demo`).
    pub fn builtin() -> TypeModel {
        static JSON: &str = include_str!("../data/type-model.json");
        TypeModel::from_json(JSON).unwrap_or_else(|_| TypeModel::lexicon_only())
    }

    pub fn from_json(json: &str) -> Result<TypeModel, TextError> {
        let counts: NbCounts =
            serde_json::from_str(json).map_err(|e| TextError::Model(e.to_string()))?;
        TypeModel::from_counts(counts)
    }

    pub fn to_json(&self) -> String {
        self.counts
            .as_ref()
            .and_then(|c| serde_json::to_string(c).ok())
            .unwrap_or_else(|| "null".into())
    }

    pub fn counts(&self) -> Option<&NbCounts> {
        self.counts.as_ref()
    }

    fn from_counts(counts: NbCounts) -> Result<TypeModel, TextError> {
        let nt = DisputeType::ALL.len();
        // Map the stored rows onto the current type order.
        let mut row_of = Vec::new();
        for code in &counts.types {
            let t = DisputeType::parse(code)
                .ok_or_else(|| TextError::Model(format!("unknown type {code}")))?;
            row_of.push(type_index(t));
        }
        if counts.docs.len() != row_of.len() {
            return Err(TextError::Model("docs and types differ in length".into()));
        }
        let mut docs = vec![0f64; nt];
        for (r, d) in counts.docs.iter().enumerate() {
            docs[row_of[r]] = f64::from(*d);
        }
        let total_docs: f64 = docs.iter().sum::<f64>() + nt as f64;
        let log_prior = docs.iter().map(|d| ((d + 1.0) / total_docs).ln()).collect();
        let mut totals = vec![0f64; nt];
        let mut per_feature: HashMap<[char; 2], Vec<f64>> = HashMap::new();
        for (k, row) in &counts.features {
            let chars: Vec<char> = k.chars().collect();
            if chars.len() != 2 {
                return Err(TextError::Model(format!("bad feature {k}")));
            }
            let mut v = vec![0f64; nt];
            for (r, c) in row {
                let t = *row_of
                    .get(usize::from(*r))
                    .ok_or_else(|| TextError::Model("bad row".into()))?;
                v[t] += f64::from(*c);
                totals[t] += f64::from(*c);
            }
            per_feature.insert([chars[0], chars[1]], v);
        }
        let vocab = per_feature.len() as f64 + 1.0;
        let log_likelihood = per_feature
            .into_iter()
            .map(|(k, v)| {
                let l = v
                    .iter()
                    .zip(&totals)
                    .map(|(c, t)| ((c + 1.0) / (t + vocab)).ln())
                    .collect();
                (pair_key(k), l)
            })
            .collect();
        Ok(TypeModel {
            counts: Some(counts),
            log_prior,
            log_likelihood,
        })
    }

    /// Trains the naive Bayes part on labelled texts.
    pub fn train<'a>(
        examples: impl IntoIterator<Item = (&'a str, DisputeType)>,
        trained_on: &str,
    ) -> Result<TypeModel, TextError> {
        let types: Vec<String> = DisputeType::ALL.iter().map(|t| t.as_str().into()).collect();
        let mut docs = vec![0u32; types.len()];
        let mut features: BTreeMap<String, BTreeMap<u16, u32>> = BTreeMap::new();
        for (text, t) in examples {
            let ti = type_index(t);
            docs[ti] += 1;
            let chars: Vec<char> = crate::norm::normalize(text).chars().collect();
            for b in bigrams(&chars) {
                *features
                    .entry(key(b))
                    .or_default()
                    .entry(ti as u16)
                    .or_insert(0) += 1;
            }
        }
        // Bigrams seen once overall carry noise and bloat the model.
        let features = features
            .into_iter()
            .filter(|(_, row)| row.values().sum::<u32>() >= 2)
            .map(|(k, row)| (k, row.into_iter().collect()))
            .collect();
        TypeModel::from_counts(NbCounts {
            types,
            docs,
            features,
            trained_on: trained_on.into(),
        })
    }

    pub fn classify(&self, doc: &Doc) -> TypeGuess {
        let nt = DisputeType::ALL.len();
        let mut lex = vec![0f64; nt];
        let mut evidence: Vec<Vec<&'static str>> = vec![Vec::new(); nt];
        if let Some(l) = lexicon() {
            for m in l.automaton.find_overlapping_iter(&doc.text) {
                let (t, w, word) = l.entries[m.pattern().as_usize()];
                // Each word counts once, with diminishing returns.
                if !evidence[t].contains(&word) {
                    lex[t] += w;
                    evidence[t].push(word);
                }
            }
        }
        let mut score: Vec<f64> = lex
            .iter()
            .map(|x| LEXICON_SCALE * (1.0 + x).ln() * 2.0)
            .collect();
        if self.counts.is_some() {
            // Only bigrams the model knows speak (unseen ones would favour the types with the
            // fewest training words); the model's say shrinks with the share of the text it
            // knows, so texts unlike its training corpus are left to the lexicon.
            let mut nb = self.log_prior.clone();
            let (mut known, mut total) = (0usize, 0usize);
            for b in bigrams(&doc.chars) {
                total += 1;
                if let Some(row) = self.log_likelihood.get(&pair_key(b)) {
                    known += 1;
                    for (s, l) in nb.iter_mut().zip(row) {
                        *s += l;
                    }
                }
            }
            let coverage = if total == 0 {
                0.0
            } else {
                known as f64 / total as f64
            };
            let weight = coverage * coverage;
            let max = nb.iter().cloned().fold(f64::MIN, f64::max);
            for (s, n) in score.iter_mut().zip(&nb) {
                *s += weight * (n - max) / NB_TEMPERATURE;
            }
        }
        // Softmax.
        let max = score.iter().cloned().fold(f64::MIN, f64::max);
        let exp: Vec<f64> = score.iter().map(|s| (s - max).exp()).collect();
        let sum: f64 = exp.iter().sum();
        let mut probs: Vec<(DisputeType, f64)> = DisputeType::ALL
            .iter()
            .zip(&exp)
            .map(|(t, e)| (*t, e / sum))
            .collect();
        // Nothing at all to go on: "other".
        if self.counts.is_none() && lex.iter().all(|x| *x == 0.0) {
            probs = DisputeType::ALL
                .iter()
                .map(|t| (*t, if *t == T::Other { 1.0 } else { 0.0 }))
                .collect();
        }
        probs.sort_by(|a, b| {
            b.1.total_cmp(&a.1)
                .then(type_index(a.0).cmp(&type_index(b.0)))
        });
        let best = probs[0].0;
        TypeGuess {
            best,
            confidence: round3(probs[0].1),
            top: probs
                .iter()
                .take(3)
                .map(|(t, p)| (*t, round3(*p)))
                .collect(),
            evidence: evidence[type_index(best)]
                .iter()
                .map(|s| s.to_string())
                .collect(),
        }
    }
}

fn round3(x: f64) -> f64 {
    (x * 1000.0).round() / 1000.0
}

const CAUSE_ENDS: [&str; 22] = [
    "问题", "纠纷", "矛盾", "争议", "而", "发生", "产生", "引发", "引起", "闹", "争执", "争吵",
    "经常", "多次", "一直", "长期", "导致", "造成", "，", ",", "。", "致",
];

/// The cause phrase: 因宅基地边界问题发生纠纷 → 宅基地边界.
pub fn cause(doc: &Doc) -> Option<Mention> {
    let c = &doc.chars;
    let mut i = 0;
    while i < c.len() {
        let start = if doc.has_at(i, "由于") {
            i + 2
        } else if c[i] == '因'
            && !doc.has_before(i, "原")
            && !doc.has_at(i + 1, "此")
            && !doc.has_at(i + 1, "而")
        {
            if doc.has_at(i + 1, "为") {
                i + 2
            } else {
                i + 1
            }
        } else {
            i += 1;
            continue;
        };
        let mut j = start;
        while j < c.len() && j - start <= 14 && doc.any_at(j, &CAUSE_ENDS).is_none() {
            j += 1;
        }
        let mut end = j;
        while end > start && matches!(c[end - 1], '的' | '等') {
            end -= 1;
        }
        if (2..=12).contains(&(end - start)) && c[start..end].iter().all(|x| is_han(*x)) {
            return Some(doc.mention(start, end));
        }
        i = start;
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cause_phrases() {
        let d = Doc::new("张某与李某因宅基地边界问题发生纠纷", 1000);
        assert_eq!(cause(&d).unwrap().text, "宅基地边界");
        let d = Doc::new("近来因家庭琐事经常争吵", 1000);
        assert_eq!(cause(&d).unwrap().text, "家庭琐事");
    }

    #[test]
    fn the_lexicon_alone_reads_the_obvious() {
        let m = TypeModel::lexicon_only();
        let g = m.classify(&Doc::new("在工地干活，老板拖欠工资三万元", 1000));
        assert_eq!(g.best, T::Labour);
        assert!(g.evidence.contains(&"工资".to_string()));
        let g = m.classify(&Doc::new("你好", 1000));
        assert_eq!(g.best, T::Other);
    }
}
