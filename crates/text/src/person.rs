//! Who: people (full names, anonymised forms 张某某/李某/王某甲/刘×, forms of address 王师傅/
//! 刘大爷/陈女士), their roles, organisations, and the number of people involved.

use crate::norm::is_han;
use crate::numbers::{cn_digit, parse_any};
use crate::{Doc, Span};
use serde::{Deserialize, Serialize};
use std::collections::HashSet;
use std::sync::OnceLock;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum NameForm {
    Full,
    Anonymised,
    Address,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Person {
    pub span: Span,
    pub text: String,
    pub surname: String,
    pub form: NameForm,
    /// Role code when a role word stands right before the name (see [`RoleMention`]).
    pub role: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Organisation {
    pub span: Span,
    pub text: String,
    /// company, property_manager, hospital, school, shop, government, cooperative, other
    pub kind: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RoleMention {
    pub span: Span,
    pub text: String,
    /// applicant, respondent, neighbour, landlord, tenant, employer, employee,
    /// property_manager, family, official, witness, other
    pub role: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Headcount {
    pub span: Span,
    pub text: String,
    /// At least this many (十余名 → 10, 30多户 → 30).
    pub count: u32,
    /// people or households
    pub unit: String,
    pub approximate: bool,
}

const SINGLE_SURNAMES: &str = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘\
于蒋蔡余杜叶程苏魏吕丁任沈姚卢姜崔钟谭陆汪范金石廖贾夏韦付方白邹孟熊秦邱江尹薛闫段雷侯龙史陶黎贺顾毛郝龚\
邵万钱严覃武戴莫孔向汤常温康施文牛樊葛邢安齐易乔伍庞颜倪庄聂章鲁岳翟殷詹申欧耿关兰焦俞左柳甘祝包宁尚符舒\
阮柯纪梅童凌毕单季裴霍涂成苗谷盛曲翁冉骆蓝路游辛靳管柴蒙鲍华喻祁蒲房滕屈饶解牟艾尤阳时穆农司卓古吉缪简车\
项连芦麦褚娄窦戚岑景党宫费卜冷晏席卫米柏宗瞿桂全佟应臧闵苟邬边卞姬师和仇栾隋商刁沙荣巫寇桑郎甄丛仲虞敖巩\
明佘池查麻苑迟邝官封谈匡鞠惠荆乐冀郁胥南班储原栗燕楚鄢劳谌奚皮粟冼蔺楼盘满闻位厉伊仝区郜海阚花权强帅屠豆\
朴盖练廉禹井祖漆巴丰支卿国狄平计索宣晋相初门云容敬来扈晁芮都普阙浦戈伏鹿薄邸雍辜羊阿乌母裘亓修邰赫杭况那\
宿鲜印逯隆茹诸战慕危玉银亢嵇公哈湛宾戎勾茅利於呼居揭干但尉冶斯元束檀衣信展阴昝智幸奉植衡富尧闭由";

const COMPOUND_SURNAMES: [&str; 20] = [
    "欧阳", "司马", "诸葛", "上官", "慕容", "东方", "皇甫", "尉迟", "公孙", "令狐", "长孙", "宇文",
    "司徒", "夏侯", "端木", "独孤", "南宫", "西门", "轩辕", "澹台",
];

fn surnames() -> &'static HashSet<char> {
    static S: OnceLock<HashSet<char>> = OnceLock::new();
    S.get_or_init(|| SINGLE_SURNAMES.chars().filter(|c| is_han(*c)).collect())
}

/// Characters that never belong to a given name (function words, place and role words).
fn not_in_name(c: char) -> bool {
    matches!(
        c,
        '的' | '了'
            | '在'
            | '和'
            | '与'
            | '是'
            | '向'
            | '从'
            | '到'
            | '将'
            | '把'
            | '被'
            | '等'
            | '因'
            | '为'
            | '于'
            | '及'
            | '也'
            | '都'
            | '就'
            | '又'
            | '并'
            | '已'
            | '说'
            | '称'
            | '家'
            | '村'
            | '镇'
            | '县'
            | '市'
            | '区'
            | '人'
            | '某'
            | '其'
            | '他'
            | '她'
            | '们'
            | '这'
            | '那'
            | '个'
            | '以'
            | '对'
            | '给'
            | '让'
            | '由'
            | '所'
            | '但'
            | '却'
            | '还'
            | '要'
            | '会'
            | '能'
            | '不'
            | '没'
            | '有'
            | '无'
            | '即'
            | '再'
            | '后'
            | '前'
            | '时'
            | '中'
            | '上'
            | '下'
            | '内'
            | '外'
            | '处'
            | '购'
            | '买'
            | '卖'
            | '贩'
            | '吸'
            | '毒'
            | '驾'
            | '驶'
            | '开'
            | '携'
            | '带'
            | '持'
            | '拿'
            | '打'
            | '骂'
            | '借'
            | '欠'
            | '去'
            | '来'
            | '住'
            | '跟'
            | '同'
            | '找'
            | '约'
            | '经'
            | '系'
            | '之'
            | '元'
            | '年'
            | '月'
            | '日'
            | '号'
            | '路'
            | '街'
            | '组'
            | '省'
            | '乡'
            | '社'
            | '店'
            | '公'
            | '司'
            | '厂'
            | '室'
            | '楼'
            | '房'
            | '院'
            | '门'
            | '口'
            | '间'
            | '克'
            | '包'
            | '粒'
            | '支'
            | '只'
            | '条'
            | '张'
            | '次'
            | '名'
            | '位'
            | '户'
            | '者'
            | '员'
            | '方'
            | '告'
            | '诉'
            | '审'
            | '查'
            | '明'
            | '指'
            | '控'
            | '认'
            | '定'
            | '获'
            | '抓'
            | '捕'
            | '民'
            | '警'
            | '局'
            | '站'
            | '队'
            | '办'
            | '书'
            | '记'
            | '长'
            | '主'
            | '任'
    )
}

/// Characters that may follow a full name.
fn name_follow(c: Option<char>) -> bool {
    match c {
        None => true,
        Some(c) => {
            !is_han(c) && !c.is_ascii_alphanumeric()
                || matches!(
                    c,
                    '在' | '于'
                        | '向'
                        | '从'
                        | '到'
                        | '将'
                        | '把'
                        | '被'
                        | '等'
                        | '因'
                        | '为'
                        | '与'
                        | '和'
                        | '及'
                        | '的'
                        | '称'
                        | '说'
                        | '驾'
                        | '携'
                        | '持'
                        | '拿'
                        | '是'
                        | '系'
                        | '以'
                        | '家'
                        | '处'
                        | '身'
                        | '手'
                        | '所'
                        | '共'
                        | '一'
                        | '二'
                        | '两'
                        | '先'
                        | '后'
                        | '又'
                        | '再'
                        | '便'
                        | '就'
                        | '即'
                        | '也'
                        | '均'
                        | '都'
                        | '已'
                        | '曾'
                        | '多'
                        | '未'
                        | '不'
                        | '没'
                        | '拒'
                        | '要'
                        | '欠'
                        | '借'
                        | '卖'
                        | '贩'
                        | '购'
                        | '出'
                        | '来'
                        | '去'
                        | '打'
                        | '骂'
                        | '找'
                        | '经'
                        | '分'
                        | '承'
                        | '供'
                        | '辩'
                        | '反'
                        | '表'
                        | '认'
                        | '提'
                        | '交'
                        | '容'
                        | '吸'
                        | '让'
                        | '叫'
                        | '介'
                        | '联'
                        | '电'
                        | '告'
                        | '发'
                        | '通'
                        | '帮'
                        | '替'
                        | '给'
                        | '对'
                        | '跟'
                        | '同'
                        | '前'
                        | '住'
                        | '居'
                        | '带'
                        | '开'
                        | '骑'
                        | '乘'
                        | '坐'
                        | '走'
                        | '逃'
                        | '抢'
                        | '偷'
                        | '盗'
                        | '当'
                        | '还'
                        | '付'
                        | '支'
                        | '收'
                        | '取'
                        | '存'
                        | '拨'
                        | '现'
                        | '今'
                        | '年'
                        | '夫'
                        | '妻'
                        | '父'
                        | '母'
                        | '之'
                        | '离'
                        | '结'
                        | '生'
                )
        }
    }
}

/// Words right before a name that make it one (roles, kinship, prepositions of parties).
const CUES: &[&str] = &[
    "被告人",
    "犯罪嫌疑人",
    "嫌疑人",
    "被申请人",
    "申请人",
    "当事人",
    "被上诉人",
    "上诉人",
    "原告",
    "被告",
    "第三人",
    "被害人",
    "受害人",
    "证人",
    "吸毒人员",
    "购毒人员",
    "人员",
    "村民",
    "居民",
    "业主",
    "工人",
    "农民工",
    "群众",
    "男子",
    "女子",
    "丈夫",
    "妻子",
    "儿子",
    "女儿",
    "儿媳",
    "女婿",
    "父亲",
    "母亲",
    "哥哥",
    "弟弟",
    "姐姐",
    "妹妹",
    "大哥",
    "堂兄",
    "邻居",
    "老板",
    "包工头",
    "负责人",
    "法定代表人",
    "经理",
    "司机",
    "医生",
    "民警",
    "同村",
    "朋友",
    "租户",
    "房东",
    "网格员",
    "名叫",
    "叫",
    "姓名",
    "、",
    "同案犯",
    "其妻",
    "其夫",
    "患者",
    "村委会主任",
    "村支书",
    "来访人",
];

/// Words right after a name that make it one.
const POST_CUES: &[&str] = &[
    "反映",
    "来访",
    "来电",
    "称",
    "诉称",
    "辩称",
    "供述",
    "驾驶",
    "承认",
    "表示",
    "认为",
    "等人",
    "夫妇",
    "一家",
    "家中",
    "家里",
    "的妻子",
    "的丈夫",
    "的儿子",
    "的父亲",
    "因",
    "与其",
    "(",
    "(已",
    "等",
    "与",
    "两家",
    "家的",
    "驾驶的",
    "经营的",
    "拖欠",
    "借",
    "在",
    "合伙",
    "家",
    "购买",
    "经营",
    "承包",
    "签订",
    "协商",
    "发生",
    "人民币",
];

const ADDRESS_FORMS: [&str; 28] = [
    "师傅", "大爷", "大妈", "大娘", "大婶", "大姐", "大哥", "阿姨", "老师", "女士", "先生", "老板",
    "书记", "主任", "村长", "经理", "医生", "律师", "奶奶", "爷爷", "婆婆", "老汉", "老太", "阿婆",
    "叔", "婶", "姐", "哥",
];

const ROLES: [(&str, &str); 44] = [
    ("被申请人", "respondent"),
    ("申请人", "applicant"),
    ("当事人", "applicant"),
    ("来访人", "applicant"),
    ("反映人", "applicant"),
    ("原告", "applicant"),
    ("被告人", "respondent"),
    ("被告", "respondent"),
    ("对方", "respondent"),
    ("邻居", "neighbour"),
    ("隔壁", "neighbour"),
    ("楼上住户", "neighbour"),
    ("楼下住户", "neighbour"),
    ("房东", "landlord"),
    ("出租人", "landlord"),
    ("租户", "tenant"),
    ("租客", "tenant"),
    ("承租人", "tenant"),
    ("老板", "employer"),
    ("包工头", "employer"),
    ("雇主", "employer"),
    ("用人单位", "employer"),
    ("工人", "employee"),
    ("员工", "employee"),
    ("职工", "employee"),
    ("农民工", "employee"),
    ("物业公司", "property_manager"),
    ("物业", "property_manager"),
    ("丈夫", "family"),
    ("妻子", "family"),
    ("儿子", "family"),
    ("女儿", "family"),
    ("儿媳", "family"),
    ("父亲", "family"),
    ("母亲", "family"),
    ("大哥", "family"),
    ("堂兄", "family"),
    ("家属", "family"),
    ("村委会", "official"),
    ("网格员", "official"),
    ("民警", "official"),
    ("证人", "witness"),
    ("业主", "applicant"),
    ("村民", "applicant"),
];

const ORG_SUFFIXES: [(&str, &str); 40] = [
    ("股份有限公司", "company"),
    ("有限责任公司", "company"),
    ("物业服务有限公司", "property_manager"),
    ("物业管理有限公司", "property_manager"),
    ("有限公司", "company"),
    ("物业公司", "property_manager"),
    ("公司", "company"),
    ("集团", "company"),
    ("加工厂", "company"),
    ("服装厂", "company"),
    ("家具厂", "company"),
    ("工厂", "company"),
    ("厂", "company"),
    ("卫生院", "hospital"),
    ("医院", "hospital"),
    ("诊所", "hospital"),
    ("卫生室", "hospital"),
    ("幼儿园", "school"),
    ("小学", "school"),
    ("中学", "school"),
    ("学校", "school"),
    ("培训机构", "school"),
    ("超市", "shop"),
    ("商场", "shop"),
    ("电动车行", "shop"),
    ("车行", "shop"),
    ("商行", "shop"),
    ("健身会所", "shop"),
    ("会所", "shop"),
    ("通讯器材店", "shop"),
    ("酒店", "shop"),
    ("宾馆", "shop"),
    ("饭店", "shop"),
    ("银行", "company"),
    ("合作社", "cooperative"),
    ("村委会", "government"),
    ("居委会", "government"),
    ("派出所", "government"),
    ("人民法院", "government"),
    ("人民政府", "government"),
];

fn org_stop(c: char) -> bool {
    !is_han(c) && !c.is_ascii_alphanumeric()
        || matches!(
            c,
            '在' | '向'
                | '与'
                | '和'
                | '被'
                | '到'
                | '从'
                | '对'
                | '给'
                | '由'
                | '是'
                | '的'
                | '了'
                | '等'
                | '将'
                | '把'
                | '为'
                | '系'
                | '经'
                | '及'
                | '于'
                | '称'
                | '跟'
                | '找'
                | '其'
                | '该'
                | '此'
                | '这'
                | '那'
                | '我'
                | '你'
                | '他'
                | '她'
                | '某'
                | '去'
                | '往'
                | '至'
                | '入'
                | '进'
                | '离'
                | '告'
                | '诉'
                | '买'
                | '卖'
                | '付'
                | '欠'
                | '签'
                | '办'
                | '交'
        )
}

crate::doc::word_index!(cue_words: CUES);

crate::doc::word_index!(post_words: POST_CUES);

crate::doc::word_index!(address_words: ADDRESS_FORMS);

crate::doc::word_index!(compound_words: COMPOUND_SURNAMES);

fn surname_at(doc: &Doc, i: usize) -> Option<usize> {
    if let Some(w) = compound_words().at(doc, i) {
        return Some(w.chars().count());
    }
    doc.at(i).filter(|c| surnames().contains(c)).map(|_| 1)
}

/// Anonymised forms after a surname: 某, 某某, 某甲, 某1, ×, ××, x, XX, *.
fn masked_len(doc: &Doc, j: usize) -> Option<usize> {
    let c = &doc.chars;
    let mask = |x: char| matches!(x, '某' | '×' | 'x' | 'X' | '*');
    let mut k = j;
    while k < c.len() && mask(c[k]) && k - j < 3 {
        k += 1;
    }
    if k == j {
        return None;
    }
    let single_mou = k == j + 1 && c[j] == '某';
    if single_mou
        && matches!(
            doc.at(k),
            Some(
                '日' | '天'
                    | '时'
                    | '月'
                    | '年'
                    | '地'
                    | '处'
                    | '些'
                    | '种'
                    | '个'
                    | '位'
                    | '村'
                    | '镇'
                    | '店'
                    | '超'
                    | '医'
                    | '诊'
                    | '公'
                    | '单'
                    | '工'
                    | '厂'
                    | '部'
                    | '品'
                    | '物'
                    | '件'
                    | '次'
                    | '段'
                    | '条'
                    | '项'
                    | '人'
                    | '男'
                    | '女'
                    | '小'
                    | '宾'
                    | '酒'
                    | '网'
                    | '商'
                    | '银'
                    | '学'
            )
        )
    {
        return None;
    }
    // 某甲, 某1, 某某2 (a suffix telling people of one surname apart)
    if let Some(x) = doc.at(k) {
        if matches!(x, '甲' | '乙' | '丙' | '丁' | '戊')
            || x.is_ascii_digit() && doc.at(k + 1).is_none_or(|y| !y.is_ascii_digit())
        {
            k += 1;
        } else if !mask(c[j]) {
            return None;
        }
        // a given-name char after 某: 余某猛
        else if c[k - 1] == '某'
            && k - j == 1
            && is_han(x)
            && !not_in_name(x)
            && name_follow(doc.at(k + 1))
            && doc.at(k + 1).is_some_and(|y| {
                !is_han(y)
                    || matches!(
                        y,
                        '在' | '、' | '等' | '于' | '向' | '与' | '和' | '的' | '家' | '处'
                    )
            })
        {
            k += 1;
        }
    }
    Some(k - j)
}

fn given_len(doc: &Doc, j: usize) -> Option<usize> {
    for len in [2usize, 1] {
        let ok = (j..j + len).all(|k| doc.at(k).is_some_and(|c| is_han(c) && !not_in_name(c)));
        if ok && name_follow(doc.at(j + len)) {
            return Some(len);
        }
    }
    None
}

pub fn extract(doc: &Doc) -> (Vec<Person>, Vec<Organisation>, Vec<RoleMention>) {
    let c = &doc.chars;
    let n = c.len();
    let roles = roles(doc);
    let organisations = organisations(doc);
    let in_org = |i: usize| {
        organisations
            .iter()
            .any(|o| o.span.start <= i && i < o.span.end)
    };
    let mut persons: Vec<Person> = Vec::new();
    let mut i = 0;
    while i < n {
        let Some(sl) = surname_at(doc, i).filter(|_| !in_org(i)) else {
            i += 1;
            continue;
        };
        let j = i + sl;
        // 老王, 小李 are handled by the address forms below (王师傅…) and a prefix check.
        let found = if let Some(m) = masked_len(doc, j) {
            Some((j + m, NameForm::Anonymised))
        } else if let Some(w) = address_words().at(doc, j) {
            let end = j + w.chars().count();
            // 王师傅 but not 张老师们 inside words; a single-char form needs a boundary before.
            let before_ok = i == 0
                || !is_han(c[i - 1])
                || cue_words().before(doc, i).is_some()
                || matches!(
                    c[i - 1],
                    '找' | '和'
                        | '与'
                        | '跟'
                        | '给'
                        | '向'
                        | '对'
                        | '被'
                        | '是'
                        | '位'
                        | '的'
                        | '说'
                        | '称'
                        | '老'
                        | '小'
                );
            (before_ok && (w.chars().count() > 1 || name_follow(doc.at(end))))
                .then_some((end, NameForm::Address))
        } else {
            let cue = cue_words().before(doc, i).is_some()
                || i == 0
                || !is_han(c[i - 1]) && !c[i - 1].is_ascii_alphanumeric()
                || matches!(
                    c[i - 1],
                    '村' | '组'
                        | '镇'
                        | '区'
                        | '与'
                        | '和'
                        | '向'
                        | '找'
                        | '被'
                        | '在'
                        | '给'
                        | '户'
                );
            match given_len(doc, j) {
                Some(g) => {
                    let end = j + g;
                    let post = post_words().at(doc, end).is_some();
                    let strong_cue = cue_words().before(doc, i).is_some();
                    (strong_cue || cue && post).then_some((end, NameForm::Full))
                }
                None => None,
            }
        };
        match found {
            Some((end, form)) => {
                let span = Span::new(i, end);
                let role = role_before(doc, &roles, i);
                persons.push(Person {
                    span,
                    text: doc.original(span).to_string(),
                    surname: doc.slice(i, j),
                    form,
                    role,
                });
                i = end;
            }
            None => i += 1,
        }
    }
    // A full name found once marks its other mentions too.
    let names: HashSet<String> = persons
        .iter()
        .filter(|p| p.form != NameForm::Address && p.span.len() >= 2)
        .map(|p| doc.slice(p.span.start, p.span.end))
        .collect();
    if !names.is_empty() {
        let mut extra = Vec::new();
        for name in &names {
            let nc: Vec<char> = name.chars().collect();
            let mut k = 0;
            while k + nc.len() <= n {
                if c[k..k + nc.len()] == nc[..] {
                    let span = Span::new(k, k + nc.len());
                    let free = !persons.iter().any(|p| p.span.overlaps(&span))
                        && !extra.iter().any(|p: &Person| p.span.overlaps(&span))
                        && !in_org(k)
                        // not the start of a longer name (王某 inside 王某某)
                        && !(doc.at(k + nc.len()).is_some_and(|x| x == '某' || x.is_ascii_digit()));
                    if free {
                        extra.push(Person {
                            span,
                            text: doc.original(span).to_string(),
                            surname: doc.slice(k, k + surname_at(doc, k).unwrap_or(1)),
                            form: if name.contains(['某', '×', 'x', 'X', '*']) {
                                NameForm::Anonymised
                            } else {
                                NameForm::Full
                            },
                            role: role_before(doc, &roles, k),
                        });
                    }
                    k += nc.len();
                } else {
                    k += 1;
                }
            }
        }
        persons.extend(extra);
        persons.sort_by_key(|p| p.span);
    }
    (persons, organisations, roles)
}

fn role_before(doc: &Doc, roles: &[RoleMention], i: usize) -> Option<String> {
    let _ = doc;
    roles
        .iter()
        .find(|r| r.span.end <= i && i - r.span.end <= 1)
        .map(|r| r.role.clone())
}

fn role_words() -> &'static crate::doc::Words {
    static W: OnceLock<crate::doc::Words> = OnceLock::new();
    W.get_or_init(|| {
        let v: Vec<&'static str> = ROLES.iter().map(|(w, _)| *w).collect();
        crate::doc::Words::new([v.leak() as &[&'static str]])
    })
}

fn org_words() -> &'static crate::doc::Words {
    static W: OnceLock<crate::doc::Words> = OnceLock::new();
    W.get_or_init(|| {
        let v: Vec<&'static str> = ORG_SUFFIXES.iter().map(|(w, _)| *w).collect();
        crate::doc::Words::new([v.leak() as &[&'static str]])
    })
}

fn roles(doc: &Doc) -> Vec<RoleMention> {
    let mut out = Vec::new();
    let mut i = 0;
    while i < doc.len() {
        let found = role_words()
            .at(doc, i)
            .and_then(|w| ROLES.iter().find(|(x, _)| *x == w));
        match found {
            Some((w, role)) => {
                let end = i + w.chars().count();
                out.push(RoleMention {
                    span: Span::new(i, end),
                    text: doc.original(Span::new(i, end)).to_string(),
                    role: (*role).to_string(),
                });
                i = end;
            }
            None => i += 1,
        }
    }
    out
}

fn organisations(doc: &Doc) -> Vec<Organisation> {
    let c = &doc.chars;
    let mut out: Vec<Organisation> = Vec::new();
    let mut i = 0;
    while i < c.len() {
        let found = org_words()
            .at(doc, i)
            .and_then(|w| ORG_SUFFIXES.iter().find(|(x, _)| *x == w));
        let Some((w, kind)) = found else {
            i += 1;
            continue;
        };
        let end = i + w.chars().count();
        let floor = out.last().map_or(0, |o| o.span.end);
        let mut s = i;
        while s > floor && i - s < 16 && !org_stop(c[s - 1]) {
            s -= 1;
        }
        // 厂 and 公司 need a name before them; 医院 alone (县医院) is fine with one char.
        let min_prefix = if w.chars().count() == 1 { 2 } else { 1 };
        if i - s >= min_prefix {
            let span = Span::new(s, end);
            out.push(Organisation {
                span,
                text: doc.original(span).to_string(),
                kind: (*kind).to_string(),
            });
        }
        i = end;
    }
    out
}

/// The number of people involved: 十余名工人, 30多户村民, 等5人, 几十户.
pub fn headcount(doc: &Doc) -> Option<Headcount> {
    let c = &doc.chars;
    let mut best: Option<Headcount> = None;
    let mut i = 0;
    while i < c.len() {
        let numeric = |x: char| {
            x.is_ascii_digit()
                || cn_digit(x).is_some()
                || matches!(x, '十' | '百' | '千' | '几' | '数' | '上')
        };
        if !numeric(c[i]) || (i > 0 && (c[i - 1].is_ascii_digit() || cn_digit(c[i - 1]).is_some()))
        {
            i += 1;
            continue;
        }
        let mut j = i;
        while j < c.len() && numeric(c[j]) && j - i < 5 {
            j += 1;
        }
        let raw = doc.slice(i, j);
        let mut approximate = false;
        let mut k = j;
        if matches!(doc.at(k), Some('余' | '多' | '几')) {
            approximate = true;
            k += 1;
        }
        let unit = doc.any_at(k, &["名", "户", "位", "人"]);
        let Some(unit) = unit else {
            i = j;
            continue;
        };
        let after = k + 1;
        // 人民币, 人员 after a number is not a headcount; 名 needs a person noun or a verb.
        if unit == "人" && doc.has_at(after, "民币") {
            i = j;
            continue;
        }
        let group = doc.any_at(
            after,
            &[
                "工人",
                "农民工",
                "村民",
                "业主",
                "群众",
                "居民",
                "学员",
                "家长",
                "种植户",
                "养殖户",
                "员工",
                "职工",
                "人员",
                "家属",
                "亲属",
                "老人",
                "学生",
                "商户",
                "租户",
                "人",
            ],
        );
        let count = if raw.contains('几') || raw.contains('数') || raw.contains('上') {
            approximate = true;
            let base = raw.replace(['几', '数', '上'], "");
            match base.as_str() {
                "" if raw.starts_with('几') && raw.ends_with('十') => 20,
                "十" if raw.starts_with('数') || raw.starts_with('几') => 20,
                "十" => 11,
                "百" => 100,
                "" => 3,
                b => parse_any(b).map_or(3, |v| v as u32),
            }
        } else {
            match parse_any(&raw) {
                Some(v) => u32::try_from(v).unwrap_or(u32::MAX),
                None => {
                    i = j;
                    continue;
                }
            }
        };
        let is_people = unit == "人" || group.is_some() || unit == "户" || doc.has_before(i, "等");
        if !is_people || count == 0 {
            i = j;
            continue;
        }
        let end = after + group.map_or(0, |g| g.chars().count());
        let span = Span::new(i, end);
        let hc = Headcount {
            span,
            text: doc.original(span).to_string(),
            count,
            unit: if unit == "户" {
                "households"
            } else {
                "people"
            }
            .into(),
            approximate,
        };
        if best.as_ref().is_none_or(|b| hc.count > b.count) {
            best = Some(hc);
        }
        i = end;
    }
    best
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(t: &str) -> Vec<String> {
        extract(&Doc::new(t, 10_000))
            .0
            .into_iter()
            .map(|p| p.text)
            .collect()
    }

    #[test]
    fn names_in_their_forms() {
        assert_eq!(
            names("被告人林某某为了赚取利润，徐某某来到林某某的养猪场"),
            ["林某某", "徐某某", "林某某"]
        );
        assert_eq!(
            names("村民张建国反映，邻居王小春在门口堆放杂物"),
            ["张建国", "王小春"]
        );
        assert_eq!(
            names("找王师傅和刘大爷评理，陈女士也在"),
            ["王师傅", "刘大爷", "陈女士"]
        );
        assert_eq!(
            names("叶某、唐某、王某甲共同吸食"),
            ["叶某", "唐某", "王某甲"]
        );
        assert_eq!(names("于某日在某诊所拔牙"), Vec::<String>::new());
    }

    #[test]
    fn headcounts_and_organisations() {
        let d = Doc::new(
            "十余名工人在青溪县宏达建筑工程有限公司讨薪，另有30多户村民",
            1000,
        );
        let h = headcount(&d).unwrap();
        assert_eq!((h.count, h.unit.as_str()), (30, "households"));
        let (_, orgs, _) = extract(&d);
        assert_eq!(orgs[0].text, "青溪县宏达建筑工程有限公司");
    }
}
