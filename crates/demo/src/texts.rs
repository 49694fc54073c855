//! Complaint texts that read like what citizens, grid workers and hotline operators write.
//! Slots: {A} applicant, {B} respondent, {V} village, {T} town, {M} amount, {W} when,
//! {N} people, {C} company, {Y} years, {P} place detail.
use crate::rng::Rng;
use fengqiao_domain::case::DisputeType;

pub const SURNAMES: [&str; 60] = [
    "王", "李", "张", "刘", "陈", "杨", "黄", "赵", "吴", "周", "徐", "孙", "马", "朱", "胡", "郭",
    "何", "高", "林", "罗", "郑", "梁", "谢", "宋", "唐", "许", "韩", "冯", "邓", "曹", "彭", "曾",
    "肖", "田", "董", "袁", "潘", "于", "蒋", "蔡", "余", "杜", "叶", "程", "苏", "魏", "吕", "丁",
    "任", "沈", "姚", "卢", "姜", "崔", "钟", "谭", "陆", "汪", "范", "金",
];
const GIVEN: [&str; 70] = [
    "伟", "芳", "娜", "秀英", "敏", "静", "丽", "强", "磊", "军", "洋", "勇", "艳", "杰", "娟",
    "涛", "明", "超", "秀兰", "霞", "平", "刚", "桂英", "建国", "建华", "国强", "志明", "春梅",
    "海燕", "红梅", "德明", "玉兰", "金凤", "永福", "长林", "水生", "桂花", "文华", "俊杰", "晓东",
    "丽华", "小红", "新民", "家福", "振华", "淑珍", "秋菊", "冬生", "根发", "来福", "荣华", "志刚",
    "美玲", "雪梅", "宏伟", "立新", "卫东", "爱华", "玉梅", "凤英", "福生", "金山", "银花", "满仓",
    "彩云", "正义", "光荣", "德胜", "宝林", "春生",
];
const COMPANY_HEADS: [&str; 16] = [
    "宏达", "鑫源", "恒通", "华盛", "兴业", "永利", "博远", "金鼎", "天成", "瑞丰", "广汇", "锦程",
    "东方", "润泽", "盛世", "通达",
];
const COMPANY_TAILS: [&str; 8] = [
    "建筑工程有限公司",
    "物业服务有限公司",
    "电子科技有限公司",
    "食品有限公司",
    "服装厂",
    "运输有限公司",
    "房地产开发有限公司",
    "家具厂",
];

pub fn full_name(rng: &mut Rng) -> String {
    format!("{}{}", rng.pick(&SURNAMES), rng.pick(&GIVEN))
}

/// A name as it appears in complaint texts: full, anonymised, or a form of address.
pub fn spoken_name(rng: &mut Rng, full: &str) -> String {
    let surname: String = full.chars().take(1).collect();
    match rng.below(10) {
        0..=4 => full.to_string(),
        5 => format!("{surname}某"),
        6 => format!("{surname}某某"),
        7 => format!("{surname}师傅"),
        8 => format!("{surname}大爷"),
        _ => format!("{surname}女士"),
    }
}

pub fn company(rng: &mut Rng, tail: Option<&str>) -> String {
    let head = *rng.pick(&COMPANY_HEADS);
    let tail = tail.unwrap_or_else(|| *rng.pick(&COMPANY_TAILS));
    format!("青溪县{head}{tail}")
}

/// An amount in one of the forms people write: 35000元, 3.5万元, 三万五千元, ¥35,000.
pub fn amount_text(rng: &mut Rng, yuan: i64) -> String {
    match rng.below(4) {
        0 => format!("{yuan}元"),
        1 if yuan >= 10_000 => format!("{}万元", trim_float(yuan as f64 / 10_000.0)),
        2 if yuan < 100_000_000 => format!("{}元", chinese_number(yuan)),
        3 => format!("¥{}", thousands(yuan)),
        _ => format!("{yuan}元"),
    }
}

fn trim_float(x: f64) -> String {
    let s = format!("{x:.2}");
    s.trim_end_matches('0').trim_end_matches('.').to_string()
}

fn thousands(n: i64) -> String {
    let s = n.to_string();
    let mut out = String::new();
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// 35000 → 三万五千, 1200 → 一千二百 (for amounts below 1e8).
pub fn chinese_number(n: i64) -> String {
    const D: [&str; 10] = ["零", "一", "二", "三", "四", "五", "六", "七", "八", "九"];
    fn below_10k(n: i64) -> String {
        let units = [(1000, "千"), (100, "百"), (10, "十"), (1, "")];
        let mut out = String::new();
        let mut zero = false;
        for (u, name) in units {
            let d = (n / u) % 10;
            if d == 0 {
                zero = !out.is_empty();
            } else {
                if zero {
                    out.push('零');
                    zero = false;
                }
                out.push_str(D[d as usize]);
                out.push_str(name);
            }
        }
        out
    }
    if n == 0 {
        return "零".into();
    }
    let (wan, rest) = (n / 10_000, n % 10_000);
    let mut out = String::new();
    if wan > 0 {
        out.push_str(&below_10k(wan));
        out.push('万');
        if rest > 0 && rest < 1000 {
            out.push('零');
        }
    }
    if rest > 0 {
        out.push_str(&below_10k(rest));
    }
    out
}

struct Templates {
    ty: DisputeType,
    texts: &'static [&'static str],
}

const TEMPLATES: &[Templates] = &[
    Templates { ty: DisputeType::MarriageFamily, texts: &[
        "{V}村民{A}反映，其与丈夫{B}结婚{Y}年，近来因家庭琐事经常争吵，{W}{B}酒后动手推搡，{A}要求离婚并分割共同财产，双方对孩子抚养权争执不下。",
        "{A}来访称，父亲去世后留下房屋一套，兄弟姐妹{N}人对遗产分配意见不一，大哥{B}一直占住不让其他人使用，家里闹得很僵，请求调解。",
        "{V}{A}反映，儿子{B}常年在外打工，不支付老人赡养费，{A}今年已七十多岁，身体不好，看病的钱都拿不出来，希望村里和司法所帮忙协调。",
        "网格员走访发现，{V}{A}与儿媳{B}因照顾孙子和家务分工长期不和，{W}又发生激烈争吵，{A}情绪低落，说不想活了，需及时介入疏导。",
    ]},
    Templates { ty: DisputeType::Neighbourhood, texts: &[
        "{V}{A}反映，邻居{B}家在公共通道上堆放柴草杂物，影响通行，多次沟通无果，{W}双方为此发生口角，差点动手。",
        "{A}来电称，楼上住户{B}家卫生间漏水，导致其家天花板发霉脱落，找对方协商维修和赔偿{M}，对方不承认是其责任。",
        "{V}村民{A}与{B}两家因排水沟问题产生矛盾，{B}家把水沟堵了，下雨时雨水全部流进{A}家院子，{A}要求恢复原状。",
        "网格员巡查发现，{V}{A}与邻居{B}因{B}家养的狗夜里狂叫、咬伤{A}家鸡鸭发生纠纷，{A}要求赔偿损失{M}。",
        "{A}反映隔壁{B}装修噪音太大，晚上十点以后还在施工，家里有老人和小孩休息不了，{W}上门理论时被对方辱骂。",
    ]},
    Templates { ty: DisputeType::HousingHomestead, texts: &[
        "{V}{A}与{B}因宅基地边界问题发生纠纷，{B}新建房屋时占用了{A}家约两米宽的宅基地，{A}要求拆除侵占部分。",
        "{A}反映，{W}邻居{B}在建房时把墙砌到了自家门口，挡住了出入通道和采光，双方为此争执多次，村里调解未果。",
        "{V}村民{A}称，其父亲名下老宅被堂兄{B}占用多年，现{A}要翻建房屋，{B}拒不搬离，双方矛盾激化。",
        "{A}来访反映，向{B}购买的房屋已付款{M}，但对方迟迟不配合办理过户手续，还想加价，{A}要求履行合同。",
    ]},
    Templates { ty: DisputeType::Contract, texts: &[
        "{A}反映，{W}借给同村{B}人民币{M}，约定半年归还，到期后多次催要，{B}以各种理由推脱，至今未还。",
        "{A}与{C}签订装修合同，已支付工程款{M}，但对方施工质量差、工期拖延两个多月，{A}要求退款并赔偿损失。",
        "{V}{A}称，与{B}合伙承包鱼塘，约定利润五五分成，今年收益{M}，{B}拒不按约定分配，双方闹翻。",
        "{A}来电反映，向{C}订购的一批货物已交付，货款{M}对方拖欠半年未付，多次联系负责人{B}均不予理睬。",
    ]},
    Templates { ty: DisputeType::ProductionBusiness, texts: &[
        "{V}养殖户{A}反映，{B}在其鱼塘上游开办的加工厂排放废水，导致鱼塘内鱼大量死亡，损失约{M}。",
        "{A}反映，与{B}合伙经营的农家乐因经营理念不合散伙，对设备和装修投入{M}的分割无法达成一致。",
        "{V}{A}称，其承包的果园与{B}的养猪场相邻，养猪场粪污外溢影响果树生长，多次交涉无果。",
        "{A}等{N}户种植户反映，{C}收购农产品时压级压价，且拖欠收购款{M}，要求按合同结算。",
    ]},
    Templates { ty: DisputeType::DamageCompensation, texts: &[
        "{A}反映，{W}其在{B}经营的超市门口滑倒摔伤，住院花费{M}，要求对方承担医疗费，对方称地面有提示不予赔偿。",
        "{V}{A}家的耕牛被{B}驾驶的三轮车撞伤，双方就赔偿金额{M}协商不成，发生争执。",
        "{A}称，{W}与{B}因琐事发生口角后被对方打伤，花去医药费{M}，要求赔偿医疗费和误工费。",
        "{A}反映，{B}家孩子在小区玩耍时用石块砸坏了其停放的汽车挡风玻璃，维修需{M}，对方家长拒绝赔偿。",
    ]},
    Templates { ty: DisputeType::ForestLand, texts: &[
        "{V}{A}与{B}两家因山林界址不清发生纠纷，{B}在争议山林内砍伐杉木数十棵，{A}认为侵犯其承包经营权。",
        "{A}反映，其承包的责任田被{B}强行耕种，{B}称该地块当年已由村里调整给他，双方各执一词，正值春耕，矛盾激化。",
        "{V}村民{A}等{N}户反映，村集体将一片山林发包给{B}时未经村民代表会议讨论，承包费{M}也未公开，要求重新发包。",
        "{A}称，{W}{B}在两家承包地交界处挖沟，占用{A}家约半亩耕地，秋收在即，双方多次争吵。",
    ]},
    Templates { ty: DisputeType::LandRequisition, texts: &[
        "{V}村民{A}反映，村里土地被征用建设工业园区，其家被征收土地三亩，补偿款{M}至今未足额发放到位。",
        "{A}等{N}户村民反映，{V}征地拆迁补偿标准不统一，同样的房屋补偿差距很大，要求公开补偿方案，否则将集体上访。",
        "{V}{A}称，其房屋在拆迁范围内，对评估结果不认可，拆迁方{C}多次上门催促签约，还断了水电。",
        "{A}反映，{V}修建道路占用其家承包地，只给了青苗补偿，土地补偿款{M}被村里扣留，要求查清。",
    ]},
    Templates { ty: DisputeType::EnvironmentalPollution, texts: &[
        "{V}村民{A}等{N}人反映，{C}夜间生产噪音很大，并有刺鼻气味排放，周边居民无法正常休息，要求企业整改。",
        "{A}反映，{B}经营的小作坊长期向河道排放污水，河水发黑发臭，影响下游灌溉和饮用，{W}起情况加重。",
        "{V}{A}称，附近新开的砂石场粉尘污染严重，庄稼和房屋上落满灰尘，多次反映未解决，群众意见很大。",
    ]},
    Templates { ty: DisputeType::Labour, texts: &[
        "{A}等{N}名工人反映，在{C}承建的工地干活，老板{B}拖欠工资共计{M}，临近春节仍未支付，工人情绪激动。",
        "{A}反映，其在{C}工作三年，公司未与其签订劳动合同，也未缴纳社会保险，{W}被无故辞退，要求支付经济补偿。",
        "{A}称，在{C}上班时受伤，单位不给申报工伤，只支付了部分医药费，{A}要求按工伤待遇赔偿{M}。",
        "{V}{A}反映，跟随包工头{B}外出务工半年，工钱{M}一直拖着不给，{B}现在电话也不接了，家里等着钱过年。",
    ]},
    Templates { ty: DisputeType::Consumer, texts: &[
        "{A}反映，在{C}购买的电动车使用不到一个月就出现电池故障，商家拒绝退换，只同意维修。",
        "{A}称，在{B}经营的培训机构预交了学费{M}，后机构停业，负责人拒不退款，涉及学员家长十余人。",
        "{A}反映，在{T}某超市购买的食品已过保质期，食用后腹泻就医，要求商家赔偿，商家态度恶劣。",
        "{A}在{C}办理的健身卡，交费{M}后门店突然关门，联系不上负责人{B}，要求退还剩余费用。",
    ]},
    Templates { ty: DisputeType::Medical, texts: &[
        "{A}反映，其父亲在{T}卫生院输液后出现严重过敏反应，转院抢救花费{M}，认为卫生院存在过错，要求赔偿。",
        "{A}称，{W}在某诊所拔牙后伤口感染，引起面部肿胀发烧，诊所医生{B}不承认处理不当，拒绝承担治疗费用。",
        "{V}{A}家属反映，老人在县医院手术后病情恶化去世，家属对死因有异议，情绪激动，扬言要在医院拉横幅。",
    ]},
    Templates { ty: DisputeType::TrafficAccident, texts: &[
        "{W}，{A}驾驶电动自行车在{T}路口与{B}驾驶的小轿车相撞，{A}受伤住院，双方对赔偿金额{M}存在分歧。",
        "{A}反映，其停在路边的货车被{B}驾驶的面包车追尾，交警认定对方全责，但对方保险理赔后仍差{M}不肯补足。",
        "{V}村民{A}骑三轮车被{C}的运输车辆刮倒，造成腿部骨折，对方只愿意支付部分医药费。",
    ]},
    Templates { ty: DisputeType::PropertyManagement, texts: &[
        "{V}业主{A}等{N}户反映，{C}服务不到位，电梯经常故障、垃圾清运不及时，业主拒交物业费，物业公司停了车库门禁。",
        "{A}反映，小区物业{C}未经业主同意将公共绿地改成收费停车位，收益{M}去向不明，要求公开账目。",
        "{A}称，因对物业服务不满拒交物业费，{C}起诉前找上门，双方对欠费金额{M}和服务质量争执不下。",
    ]},
    Templates { ty: DisputeType::Other, texts: &[
        "{A}反映，{B}在微信群里散布其个人隐私和不实言论，对其名誉造成影响，要求对方公开道歉。",
        "{V}村民{A}对村委会公示的低保名单有异议，认为{B}家条件较好却享受低保，要求重新评议。",
        "{A}称，{W}与{B}合买彩票中奖{M}，对方独自领奖后拒绝按约定分钱。",
    ]},
];

pub fn template(rng: &mut Rng, ty: DisputeType) -> &'static str {
    let set = TEMPLATES
        .iter()
        .find(|t| t.ty == ty)
        .map(|t| t.texts)
        .unwrap_or(&[""]);
    let chosen: &'static str = rng.pick::<&'static str>(set);
    chosen
}

/// Text with slots filled.
pub fn fill(t: &str, slots: &[(&str, &str)]) -> String {
    fill_annotated(t, slots).0
}

/// Text with slots filled, and where each slot's value landed: (slot, char start, char end).
pub fn fill_annotated(t: &str, slots: &[(&str, &str)]) -> (String, Vec<(String, usize, usize)>) {
    let mut out = String::new();
    let mut spans = Vec::new();
    let mut chars = 0usize;
    let mut rest = t;
    while !rest.is_empty() {
        let next = slots
            .iter()
            .filter_map(|(k, v)| rest.find(k).map(|p| (p, *k, *v)))
            .min_by_key(|(p, _, _)| *p);
        match next {
            Some((p, k, v)) => {
                let before = &rest[..p];
                out.push_str(before);
                chars += before.chars().count();
                let n = v.chars().count();
                out.push_str(v);
                spans.push((k.to_string(), chars, chars + n));
                chars += n;
                rest = &rest[p + k.len()..];
            }
            None => {
                out.push_str(rest);
                rest = "";
            }
        }
    }
    (out, spans)
}

/// Risk cues some texts carry (threats, gatherings, vulnerable people), appended at times.
pub const RISK_TAILS: [&str; 6] = [
    "对方扬言要拼命，现场情绪激动。",
    "当事人称如不解决将组织村民集体上访。",
    "当事人年逾八旬，身患重病，生活困难。",
    "双方亲属已聚集在村委会门口，有冲突苗头。",
    "当事人已多次到县里反映，属重复信访。",
    "当事人情绪低落，流露出轻生念头。",
];

/// Which of its type's scenarios (templates) a generated text was written from: the one whose
/// fixed words all appear in it, in order. For evaluations that need a finer relevance than
/// the dispute type (a leaking ceiling is like a leaking ceiling, not like a noisy neighbour).
pub fn scenario(ty: DisputeType, text: &str) -> Option<usize> {
    let set = TEMPLATES.iter().find(|t| t.ty == ty)?.texts;
    set.iter().position(|t| {
        let mut at = 0;
        literal_pieces(t)
            .iter()
            .all(|piece| match text[at..].find(piece) {
                Some(i) => {
                    at += i + piece.len();
                    true
                }
                None => false,
            })
    })
}

/// A template's text between its slots.
fn literal_pieces(t: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let mut rest = t;
    while let Some(open) = rest.find('{') {
        if open > 0 {
            out.push(&rest[..open]);
        }
        match rest[open..].find('}') {
            Some(close) => rest = &rest[open + close + 1..],
            None => {
                rest = "";
            }
        }
    }
    if !rest.is_empty() {
        out.push(rest);
    }
    out
}
