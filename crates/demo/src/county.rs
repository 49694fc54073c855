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
    let mut county = County {
        province,
        city,
        county,
        towns,
    };
    draw_boundaries(&mut county, seed);
    Ok(county)
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

/// Draws plausible boundaries for the fictional county (the map of the cockpit): an irregular
/// outline around every village, cut into Voronoi cells of the villages' centroids; a town is
/// the union of its villages' cells (as a MultiPolygon). A separate random stream, so the rest
/// of the county does not change with it.
fn draw_boundaries(county: &mut County, seed: u64) {
    let mut rng = Rng::new(seed).fork(9);
    let Some([cx, cy]) = county.county.centroid else {
        return;
    };
    let sites: Vec<[f64; 2]> = county
        .villages()
        .filter_map(|(_, v)| v.node.centroid)
        .collect();
    // The outline: 24 points on an ellipse-like curve just outside the farthest village.
    let reach = sites
        .iter()
        .map(|[x, y]| ((x - cx).powi(2) + ((y - cy) / 0.8).powi(2)).sqrt())
        .fold(0.0f64, f64::max);
    let outline: Vec<[f64; 2]> = (0..24)
        .map(|k| {
            let a = k as f64 / 24.0 * std::f64::consts::TAU;
            let r = reach * (1.12 + 0.12 * rng.unit());
            [cx + r * a.cos(), cy + 0.8 * r * a.sin()]
        })
        .collect();
    let ring = |poly: &[[f64; 2]]| -> serde_json::Value {
        let mut pts: Vec<serde_json::Value> = poly
            .iter()
            .map(|[x, y]| serde_json::json!([round5(*x), round5(*y)]))
            .collect();
        if let Some(first) = pts.first().cloned() {
            pts.push(first);
        }
        serde_json::Value::Array(pts)
    };
    county.county.boundary = Some(serde_json::json!({
        "type": "Polygon", "coordinates": [ring(&outline)]
    }));
    let mut i = 0;
    for town in &mut county.towns {
        let mut parts = Vec::new();
        for v in &mut town.villages {
            let Some(site) = v.node.centroid else {
                continue;
            };
            let mut cell = outline.clone();
            for (j, other) in sites.iter().enumerate() {
                if j != i {
                    cell = clip(&cell, site, *other);
                }
            }
            i += 1;
            if cell.len() >= 3 {
                parts.push(serde_json::json!([ring(&cell)]));
                v.node.boundary = Some(serde_json::json!({
                    "type": "Polygon", "coordinates": [ring(&cell)]
                }));
            }
        }
        town.node.boundary = Some(serde_json::json!({
            "type": "MultiPolygon", "coordinates": parts
        }));
    }
}

fn round5(x: f64) -> f64 {
    (x * 1e5).round() / 1e5
}

/// The part of a polygon nearer to `site` than to `other` (Sutherland–Hodgman against the
/// perpendicular bisector).
fn clip(poly: &[[f64; 2]], site: [f64; 2], other: [f64; 2]) -> Vec<[f64; 2]> {
    let (nx, ny) = (other[0] - site[0], other[1] - site[1]);
    let c = (other[0].powi(2) + other[1].powi(2) - site[0].powi(2) - site[1].powi(2)) / 2.0;
    let inside = |p: &[f64; 2]| nx * p[0] + ny * p[1] <= c;
    let mut out = Vec::with_capacity(poly.len() + 1);
    for k in 0..poly.len() {
        let (a, b) = (poly[k], poly[(k + 1) % poly.len()]);
        let (ia, ib) = (inside(&a), inside(&b));
        if ia {
            out.push(a);
        }
        if ia != ib {
            let da = nx * a[0] + ny * a[1] - c;
            let db = nx * b[0] + ny * b[1] - c;
            let t = da / (da - db);
            out.push([a[0] + t * (b[0] - a[0]), a[1] + t * (b[1] - a[1])]);
        }
    }
    out
}
