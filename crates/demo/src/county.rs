//! The fictional county: 青溪县 of 江州市, 示范省 (codes in the 99 range, which GB/T 2260 does not
//! use, so they can never be mistaken for a real place), 12 towns, 180 villages and
//! communities with two grids each, about 40 units and their staff.
use crate::rng::Rng;
use fengqiao_domain::jurisdiction::{Jurisdiction, Level};
use fengqiao_domain::unit::UnitKind;
use fengqiao_domain::DomainError;

pub const TOWNS: [&str; 12] = [
    "城关镇",
    "河口镇",
    "青山镇",
    "柳溪乡",
    "石门镇",
    "白沙镇",
    "桃源乡",
    "龙潭镇",
    "新塘街道",
    "东湖街道",
    "梅岭乡",
    "双桥镇",
];

const VILLAGE_HEADS: [&str; 60] = [
    "幸福", "柳树", "王家", "李家", "东升", "红旗", "光明", "新华", "胜利", "和平", "长塘", "高桥",
    "石岭", "枫林", "杨柳", "大坪", "小河", "竹园", "金星", "银杏", "黄泥", "上湾", "下湾", "前进",
    "联合", "团结", "花园", "凤凰", "白马", "青龙", "泉水", "松林", "茶山", "稻香", "荷塘", "桂花",
    "梨园", "桥头", "塘边", "岭下", "溪口", "马鞍", "观音", "狮子", "九龙", "三合", "五里", "八斗",
    "十里", "百花", "丰收", "兴旺", "永安", "太平", "长乐", "安居", "新村", "锦绣", "翠屏", "清水",
];

pub struct Village {
    pub node: Jurisdiction,
    pub short: String,
    pub grids: Vec<Jurisdiction>,
    pub urban: bool,
}

pub struct Town {
    pub node: Jurisdiction,
    pub villages: Vec<Village>,
}

pub struct County {
    pub province: Jurisdiction,
    pub city: Jurisdiction,
    pub county: Jurisdiction,
    pub towns: Vec<Town>,
}

impl County {
    pub fn nodes(&self) -> Vec<Jurisdiction> {
        let mut out = vec![
            self.province.clone(),
            self.city.clone(),
            self.county.clone(),
        ];
        for t in &self.towns {
            out.push(t.node.clone());
            for v in &t.villages {
                out.push(v.node.clone());
                out.extend(v.grids.iter().cloned());
            }
        }
        out
    }

    pub fn villages(&self) -> impl Iterator<Item = (usize, &Village)> {
        self.towns
            .iter()
            .enumerate()
            .flat_map(|(i, t)| t.villages.iter().map(move |v| (i, v)))
    }
}

pub fn build(seed: u64) -> Result<County, DomainError> {
    let mut rng = Rng::new(seed).fork(1);
    let mut province = Jurisdiction::new("990000", "示范省", Level::Province, None)?;
    province.centroid = Some([118.9, 29.9]);
    let mut city = Jurisdiction::new("990100", "江州市", Level::City, Some(&province))?;
    city.centroid = Some([118.8, 29.85]);
    let mut county = Jurisdiction::new("990102", "青溪县", Level::County, Some(&city))?;
    let (cx, cy) = (118.62, 29.78);
    county.centroid = Some([cx, cy]);
    let mut used = std::collections::HashSet::new();
    let mut towns = Vec::new();
    for (ti, tname) in TOWNS.iter().enumerate() {
        let code = format!("990102{:03}", ti + 1);
        let mut tnode = Jurisdiction::new(&code, tname, Level::Town, Some(&county))?;
        // Towns on a rough ring around the county seat (城关镇 at the centre).
        let angle = ti as f64 / TOWNS.len() as f64 * std::f64::consts::TAU;
        let r = if ti == 0 {
            0.0
        } else {
            0.12 + 0.06 * rng.unit()
        };
        let (tx, ty) = (cx + r * angle.cos(), cy + r * 0.8 * angle.sin());
        tnode.centroid = Some([tx, ty]);
        let urban_town = tname.ends_with("街道") || ti == 0;
        let mut villages = Vec::new();
        for vi in 0..15 {
            let short = loop {
                let h = *rng.pick(&VILLAGE_HEADS);
                if used.insert(h) || used.len() >= VILLAGE_HEADS.len() {
                    break h.to_string();
                }
            };
            let urban = urban_town && vi < 8;
            let vname = if urban {
                format!("{short}社区")
            } else {
                format!("{short}村")
            };
            let vcode = format!("{code}{:03}", vi + 1);
            let mut vnode = Jurisdiction::new(&vcode, &vname, Level::Village, Some(&tnode))?;
            vnode.centroid = Some([
                tx + (rng.unit() - 0.5) * 0.08,
                ty + (rng.unit() - 0.5) * 0.06,
            ]);
            let mut grids = Vec::new();
            for gi in 0..2 {
                let gname = format!("{vname}第{}网格", ["一", "二"][gi]);
                let mut g = Jurisdiction::new(
                    &format!("{vcode}{:03}", gi + 1),
                    &gname,
                    Level::Grid,
                    Some(&vnode),
                )?;
                g.centroid = vnode.centroid;
                grids.push(g);
            }
            villages.push(Village {
                node: vnode,
                short,
                grids,
                urban,
            });
        }
        used.clear();
        towns.push(Town {
            node: tnode,
            villages,
        });
    }
    Ok(County {
        province,
        city,
        county,
        towns,
    })
}

/// A unit of the demo county: name, kind, the node it sits at, specialty.
pub struct UnitSpec {
    pub name: String,
    pub kind: UnitKind,
    pub node_code: String,
    pub specialty: Option<String>,
}

/// 城关镇 → 城关, 新塘街道 → 新塘: the form unit names use.
fn town_short_name(name: &str) -> &str {
    name.trim_end_matches("街道")
        .trim_end_matches('镇')
        .trim_end_matches('乡')
}

pub fn units(c: &County) -> Vec<UnitSpec> {
    let county = &c.county.code;
    let u = |name: String, kind, node: &str, sp: Option<&str>| UnitSpec {
        name,
        kind,
        node_code: node.to_string(),
        specialty: sp.map(str::to_string),
    };
    let mut out = vec![u(
        "青溪县综治中心".into(),
        UnitKind::GovernanceCentre,
        county,
        None,
    )];
    for t in &c.towns {
        let short = town_short_name(&t.node.name);
        out.push(u(
            format!("{short}司法所"),
            UnitKind::JudicialOffice,
            &t.node.code,
            None,
        ));
    }
    for t in c.towns.iter().step_by(2) {
        let short = town_short_name(&t.node.name);
        out.push(u(
            format!("{short}派出所"),
            UnitKind::PoliceStation,
            &t.node.code,
            None,
        ));
    }
    out.push(u(
        "青溪县人民法院城关人民法庭".into(),
        UnitKind::PeoplesTribunal,
        &c.towns[0].node.code,
        None,
    ));
    out.push(u(
        "青溪县人民法院河口人民法庭".into(),
        UnitKind::PeoplesTribunal,
        &c.towns[1].node.code,
        None,
    ));
    out.push(u(
        "青溪县人民法院龙潭人民法庭".into(),
        UnitKind::PeoplesTribunal,
        &c.towns[7].node.code,
        None,
    ));
    out.push(u(
        "青溪县信访局".into(),
        UnitKind::PetitionOffice,
        county,
        None,
    ));
    out.push(u(
        "青溪县劳动人事争议仲裁院".into(),
        UnitKind::LabourArbitration,
        county,
        None,
    ));
    out.push(u(
        "青溪县人力资源和社会保障局".into(),
        UnitKind::HumanResources,
        county,
        None,
    ));
    out.push(u(
        "青溪县住房和城乡建设局".into(),
        UnitKind::HousingConstruction,
        county,
        None,
    ));
    out.push(u(
        "青溪县市场监督管理局".into(),
        UnitKind::MarketRegulation,
        county,
        None,
    ));
    out.push(u(
        "青溪县自然资源局".into(),
        UnitKind::NaturalResources,
        county,
        None,
    ));
    out.push(u(
        "青溪县卫生健康局".into(),
        UnitKind::HealthCommission,
        county,
        None,
    ));
    for (sp, name) in [
        ("医疗", "青溪县医疗纠纷人民调解委员会"),
        ("交通", "青溪县道路交通事故纠纷人民调解委员会"),
        ("劳动", "青溪县劳动争议人民调解委员会"),
        ("物业", "青溪县物业纠纷人民调解委员会"),
        ("婚姻家庭", "青溪县婚姻家庭纠纷人民调解委员会"),
    ] {
        out.push(u(
            name.into(),
            UnitKind::ProfessionalMediation,
            county,
            Some(sp),
        ));
    }
    out.push(u(
        "青溪县公共法律服务中心".into(),
        UnitKind::LegalService,
        county,
        None,
    ));
    for (ti, vi) in [(0usize, 0usize), (1, 0), (5, 0), (7, 0), (11, 0)] {
        let v = &c.towns[ti].villages[vi];
        out.push(u(
            format!("{}人民调解委员会", v.node.name),
            UnitKind::VillageMediationCommittee,
            &v.node.code,
            None,
        ));
    }
    out
}
