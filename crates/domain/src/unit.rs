//! Units that handle cases (司法所, 派出所, 人民法庭, …), each attached to a jurisdiction node.
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

macro_rules! labelled_enum {
    ($(#[$m:meta])* $name:ident { $($variant:ident = $code:literal / $zh:literal),+ $(,)? }) => {
        $(#[$m])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, ToSchema)]
        // Each variant's JSON name is its declared code, the same string as `as_str` and the database.
        pub enum $name { $(#[serde(rename = $code)] $variant),+ }

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
