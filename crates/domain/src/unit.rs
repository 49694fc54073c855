//! Units that handle cases (司法所, 派出所, 人民法庭, …), each attached to a jurisdiction node.
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

macro_rules! labelled_enum {
    ($(#[$m:meta])* $name:ident { $($variant:ident = $code:literal / $zh:literal),+ $(,)? }) => {
        $(#[$m])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        // Each variant's JSON name is its declared code, the same string as `as_str` and the database.
        pub enum $name { $(#[serde(rename = $code)] $variant),+ }

        // The OpenAPI schema lists the codes, as JSON carries them (utoipa's derive does not
        // see the `serde(rename)` a macro passes it, and would list the variants' names).
        impl utoipa::PartialSchema for $name {
            fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
                utoipa::openapi::schema::ObjectBuilder::new()
                    .schema_type(utoipa::openapi::schema::Type::String)
                    .enum_values(Some([$($code),+]))
                    .into()
            }
        }
        impl utoipa::ToSchema for $name {}

        impl $name {
            pub const ALL: &'static [$name] = &[$($name::$variant),+];
            /// Stable snake_case code, as in JSON and the database.
            pub fn as_str(self) -> &'static str { match self { $($name::$variant => $code),+ } }
            /// The Simplified-Chinese name used in the field.
            pub fn zh(self) -> &'static str { match self { $($name::$variant => $zh),+ } }
            pub fn parse(s: &str) -> Option<Self> { match s { $($code => Some($name::$variant),)+ _ => None } }
        }
    };
}
pub(crate) use labelled_enum;

labelled_enum!(
    /// The kinds of unit a case can be routed to.
    UnitKind {
        GovernanceCentre = "governance_centre" / "综治中心",
        JudicialOffice = "judicial_office" / "司法所",
        PoliceStation = "police_station" / "派出所",
        PeoplesTribunal = "peoples_tribunal" / "人民法庭",
        PetitionOffice = "petition_office" / "信访办",
        LabourArbitration = "labour_arbitration" / "劳动人事争议仲裁院",
        HumanResources = "human_resources" / "人社",
        HousingConstruction = "housing_construction" / "住建",
        MarketRegulation = "market_regulation" / "市场监管",
        NaturalResources = "natural_resources" / "自然资源",
        HealthCommission = "health_commission" / "卫健",
        VillageMediationCommittee = "village_mediation_committee" / "村(居)人民调解委员会",
        ProfessionalMediation = "professional_mediation" / "专业调解组织",
        LegalService = "legal_service" / "律师/法律服务所",
    }
);

/// A unit that handles cases.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Unit {
    pub id: i64,
    pub name: String,
    pub kind: UnitKind,
    /// The jurisdiction node the unit belongs to.
    pub node_code: String,
    /// Specialty of a professional mediation body (医疗, 交通, 劳动, 物业, 婚姻家庭…).
    pub specialty: Option<String>,
    pub leader_user_id: Option<i64>,
}

/// The unit kinds that usually handle a dispute type, best first, and the specialty words of
/// professional mediation bodies that fit it. Village mediation committees and the town's
/// judicial office (司法所) can take any civil dispute, so they close every list.
pub fn kinds_for(t: crate::case::DisputeType) -> (&'static [UnitKind], &'static [&'static str]) {
    use crate::case::DisputeType as T;
    use UnitKind as K;
    match t {
        T::MarriageFamily => (
            &[
                K::VillageMediationCommittee,
                K::JudicialOffice,
                K::PeoplesTribunal,
            ],
            &["婚姻", "家庭"],
        ),
        T::Neighbourhood => (
            &[
                K::VillageMediationCommittee,
                K::JudicialOffice,
                K::PoliceStation,
            ],
            &["邻里"],
        ),
        T::HousingHomestead => (
            &[
                K::VillageMediationCommittee,
                K::NaturalResources,
                K::JudicialOffice,
            ],
            &["宅基地", "房屋"],
        ),
        T::Contract => (
            &[K::PeoplesTribunal, K::JudicialOffice, K::LegalService],
            &["合同", "商事"],
        ),
        T::ProductionBusiness => (
            &[K::MarketRegulation, K::JudicialOffice, K::PeoplesTribunal],
            &["商事", "经营"],
        ),
        T::DamageCompensation => (
            &[
                K::JudicialOffice,
                K::PeoplesTribunal,
                K::VillageMediationCommittee,
            ],
            &["赔偿"],
        ),
        T::ForestLand => (
            &[
                K::NaturalResources,
                K::VillageMediationCommittee,
                K::JudicialOffice,
            ],
            &["土地", "山林"],
        ),
        T::LandRequisition => (
            &[K::NaturalResources, K::PetitionOffice, K::JudicialOffice],
            &["征地", "拆迁"],
        ),
        T::EnvironmentalPollution => (
            &[
                K::JudicialOffice,
                K::GovernanceCentre,
                K::VillageMediationCommittee,
            ],
            &["环境"],
        ),
        T::Labour => (
            &[
                K::LabourArbitration,
                K::HumanResources,
                K::ProfessionalMediation,
            ],
            &["劳动", "劳资"],
        ),
        T::Consumer => (
            &[
                K::MarketRegulation,
                K::ProfessionalMediation,
                K::JudicialOffice,
            ],
            &["消费"],
        ),
        T::Medical => (
            &[
                K::ProfessionalMediation,
                K::HealthCommission,
                K::JudicialOffice,
            ],
            &["医疗", "医患"],
        ),
        T::TrafficAccident => (
            &[
                K::ProfessionalMediation,
                K::PoliceStation,
                K::PeoplesTribunal,
            ],
            &["交通"],
        ),
        T::PropertyManagement => (
            &[
                K::ProfessionalMediation,
                K::HousingConstruction,
                K::VillageMediationCommittee,
            ],
            &["物业"],
        ),
        T::Other => (
            &[
                K::JudicialOffice,
                K::VillageMediationCommittee,
                K::GovernanceCentre,
            ],
            &[],
        ),
    }
}

/// Why a unit is suggested for a case.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum SuggestReason {
    /// Its kind usually handles this type (rank 0 = the usual one).
    Kind,
    /// A professional mediation body whose specialty fits the type.
    Specialty,
    /// Its node is the case's village/community.
    SameVillage,
    /// Its node is the case's town.
    SameTown,
    /// Fewer open cases than the other candidates.
    LightLoad,
}

impl SuggestReason {
    /// Stable snake_case code, as in JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            SuggestReason::Kind => "kind",
            SuggestReason::Specialty => "specialty",
            SuggestReason::SameVillage => "same_village",
            SuggestReason::SameTown => "same_town",
            SuggestReason::LightLoad => "light_load",
        }
    }
}

/// A scored candidate lead unit.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct UnitSuggestion {
    pub unit: Unit,
    /// Cases it leads or co-handles that are still being handled.
    pub open_cases: u64,
    pub score: f64,
    pub reasons: Vec<SuggestReason>,
}

/// Ranks candidate units for a case of type `t` located at `case_path` (materialised path).
/// `units` carry their node's path and level and their open workload. Only units whose node
/// is the case's node or one of its ancestors are candidates (a unit serves its own area).
/// Score: kind fit (3, 2, 1 by rank; +1 for a fitting specialty), closeness (a village body of
/// the case's village +2, a town unit +1), minus 0.05 a case of open workload. Best first;
/// ties by fewer open cases, then id.
pub fn suggest_units(
    t: crate::case::DisputeType,
    case_path: &str,
    units: Vec<(Unit, String, crate::jurisdiction::Level, u64)>,
) -> Vec<UnitSuggestion> {
    use crate::jurisdiction::Level;
    let (kinds, words) = kinds_for(t);
    let units: Vec<_> = units
        .into_iter()
        .filter(|(_, path, _, _)| case_path.starts_with(path.as_str()))
        .collect();
    let min_load = units.iter().map(|u| u.3).min().unwrap_or(0);
    let mut out: Vec<UnitSuggestion> = units
        .into_iter()
        .filter_map(|(unit, _, level, open)| {
            let mut reasons = Vec::new();
            let mut score = 0.0;
            if let Some(rank) = kinds.iter().position(|k| *k == unit.kind) {
                score += 3.0 - rank as f64;
                reasons.push(SuggestReason::Kind);
            }
            if unit.kind == UnitKind::ProfessionalMediation {
                let fits = unit
                    .specialty
                    .as_deref()
                    .is_some_and(|s| words.iter().any(|w| s.contains(w)));
                if !fits {
                    // A specialised body outside its specialty is no candidate.
                    return None;
                }
                score += 1.0;
                reasons.push(SuggestReason::Specialty);
            }
            if reasons.is_empty() {
                return None;
            }
            match level {
                Level::Village => {
                    score += 2.0;
                    reasons.push(SuggestReason::SameVillage);
                }
                Level::Town => {
                    score += 1.0;
                    reasons.push(SuggestReason::SameTown);
                }
                _ => {}
            }
            if open == min_load {
                reasons.push(SuggestReason::LightLoad);
            }
            score -= 0.05 * open as f64;
            Some(UnitSuggestion {
                unit,
                open_cases: open,
                score,
                reasons,
            })
        })
        .collect();
    out.sort_by(|a, b| {
        b.score
            .total_cmp(&a.score)
            .then(a.open_cases.cmp(&b.open_cases))
            .then(a.unit.id.cmp(&b.unit.id))
    });
    out
}
