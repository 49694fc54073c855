//! The expert pool (专家库): experts' specialties and availability, which specialties a type of
//! dispute calls for, how candidates for a consultation (会诊) are ranked, and the
//! consultations of a case (question, answer, time to answer).
use crate::case::DisputeType;
use crate::time::Millis;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

crate::unit::labelled_enum!(
    /// What an expert knows.
    Specialty {
        Law = "law" / "法学",
        Adjudication = "adjudication" / "审判",
        Lawyering = "lawyering" / "律师实务",
        Psychology = "psychology" / "心理疏导",
        Medical = "medical" / "医疗卫生",
        Construction = "construction" / "建设工程",
        Land = "land" / "土地房产",
        Labour = "labour" / "劳动保障",
        Finance = "finance" / "金融保险",
        Traffic = "traffic" / "交通事故",
        Environment = "environment" / "生态环境",
        Family = "family" / "婚姻家庭",
    }
);

/// An expert's profile as the centre keeps it.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct ExpertProfile {
    #[serde(default)]
    pub specialties: Vec<Specialty>,
    /// Takes consultations now (off: on leave, busy).
    #[serde(default = "yes")]
    pub available: bool,
}

fn yes() -> bool {
    true
}

/// The specialties a dispute type calls for, most relevant first (law fits every type).
pub fn specialties_for(t: DisputeType) -> Vec<Specialty> {
    use DisputeType as D;
    use Specialty as S;
    let mut v = match t {
        D::MarriageFamily => vec![S::Family, S::Psychology],
        D::HousingHomestead | D::ForestLand | D::LandRequisition => vec![S::Land, S::Adjudication],
        D::Labour => vec![S::Labour, S::Lawyering],
        D::Medical => vec![S::Medical, S::Adjudication],
        D::TrafficAccident => vec![S::Traffic, S::Finance],
        D::PropertyManagement => vec![S::Construction, S::Lawyering],
        D::EnvironmentalPollution => vec![S::Environment],
        D::Contract | D::ProductionBusiness | D::Consumer => vec![S::Lawyering, S::Finance],
        D::DamageCompensation => vec![S::Adjudication, S::Finance],
        D::Neighbourhood => vec![S::Psychology, S::Land],
        D::Other => vec![S::Adjudication],
    };
    v.push(S::Law);
    v
}

/// How well an expert fits a consultation: specialties the type calls for (earlier ones count
/// more), minus the consultations they have not answered yet; unavailable experts last.
pub fn fit(profile: &ExpertProfile, t: DisputeType, open_consultations: usize) -> f64 {
    let wanted = specialties_for(t);
    let mut score = 0.0;
    for (i, s) in wanted.iter().enumerate() {
        if profile.specialties.contains(s) {
            score += 3.0 / (i as f64 + 1.0);
        }
    }
    score -= 0.5 * open_consultations as f64;
    if !profile.available {
        score -= 100.0;
    }
    score
}

/// A consultation of a case: the question put to an expert and their written answer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Consultation {
    pub expert_id: i64,
    pub question: String,
    pub asked_at: Millis,
    pub asked_by: Option<i64>,
    pub answer: Option<String>,
    pub answered_at: Option<Millis>,
}

impl Consultation {
    /// Hours from the question to the answer (so far, when unanswered).
    pub fn hours_to_answer(&self, now: Millis) -> f64 {
        (self.answered_at.unwrap_or(now) - self.asked_at) as f64 / 3_600_000.0
    }
}
