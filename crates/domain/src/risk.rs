//! A case's escalation-risk grade (red / yellow / green) with its reasons (issue 5).
//!
//! The grade is derived, never stored: it is recomputed from the case as it is now and its
//! history every time it is shown, so every new event (an edit of the headcount, a reopening,
//! another dispute of the same family) changes it at once. Points:
//!
//! | signal | points |
//! |---|---|
//! | risk cues of the text (threats, self-harm, crowds — as confirmed by staff): medium / high | 2 / 4 |
//! | people involved ≥ 5 (a group dispute) / ≥ 20 | 2 / 3 |
//! | amount ≥ ¥100,000 / ≥ ¥1,000,000 | 1 / 2 |
//! | the same party's other disputes in the last 90 days: 1–2 / ≥ 3 | 1 / 2 |
//! | the party petitioned (信访) before | 2 |
//! | the same place: ≥ 3 / ≥ 6 other disputes of this type in the last 90 days | 1 / 2 |
//! | the case was reopened | 2 |
//! | the deadline passed (red light) | 1 |
//!
//! Red at 6 points or more, yellow at 3–5, green below.
use crate::case::RiskLevel;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

crate::unit::labelled_enum!(
    RiskGrade {
        Green = "green" / "绿",
        Yellow = "yellow" / "黄",
        Red = "red" / "红",
    }
);

/// What the grade is computed from.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RiskInputs {
    pub text_level: Option<RiskLevel>,
    pub people_involved: Option<u32>,
    pub amount_fen: Option<i64>,
    /// Other cases of the same party (same phone, ID number or full name) in the last 90 days.
    pub party_cases: u32,
    /// Of those (at any time), petitions.
    pub party_petitions: u32,
    /// Other cases of the same type in the same village in the last 90 days.
    pub place_cases: u32,
    pub reopened: bool,
    pub overdue: bool,
}

/// One reason and the points it adds.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct RiskReason {
    /// `text_cues`, `group`, `amount`, `repeat_party`, `petitioned`, `place_cluster`,
    /// `reopened`, `overdue`.
    pub code: String,
    pub points: u32,
    /// The figure behind it (a count, a headcount, yuan).
    pub value: i64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct RiskAssessment {
    pub grade: RiskGrade,
    pub points: u32,
    pub reasons: Vec<RiskReason>,
}

pub const RED_POINTS: u32 = 6;
pub const YELLOW_POINTS: u32 = 3;

pub fn assess(i: &RiskInputs) -> RiskAssessment {
    let mut reasons = Vec::new();
    let mut add = |code: &str, points: u32, value: i64| {
        if points > 0 {
            reasons.push(RiskReason {
                code: code.to_string(),
                points,
                value,
            });
        }
    };
    match i.text_level {
        Some(RiskLevel::High) => add("text_cues", 4, 2),
        Some(RiskLevel::Medium) => add("text_cues", 2, 1),
        _ => {}
    }
    if let Some(p) = i.people_involved {
        add(
            "group",
            match p {
                20.. => 3,
                5.. => 2,
                _ => 0,
            },
            i64::from(p),
        );
    }
    if let Some(fen) = i.amount_fen {
        let yuan = fen / 100;
        add(
            "amount",
            match yuan {
                1_000_000.. => 2,
                100_000.. => 1,
                _ => 0,
            },
            yuan,
        );
    }
    add(
        "repeat_party",
        match i.party_cases {
            0 => 0,
            1 | 2 => 1,
            _ => 2,
        },
        i64::from(i.party_cases),
    );
    if i.party_petitions > 0 {
        add("petitioned", 2, i64::from(i.party_petitions));
    }
    add(
        "place_cluster",
        match i.place_cases {
            6.. => 2,
            3.. => 1,
            _ => 0,
        },
        i64::from(i.place_cases),
    );
    if i.reopened {
        add("reopened", 2, 1);
    }
    if i.overdue {
        add("overdue", 1, 1);
    }
    let points = reasons.iter().map(|r| r.points).sum();
    let grade = if points >= RED_POINTS {
        RiskGrade::Red
    } else if points >= YELLOW_POINTS {
        RiskGrade::Yellow
    } else {
        RiskGrade::Green
    };
    RiskAssessment {
        grade,
        points,
        reasons,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grades_follow_the_points_table() {
        let green = assess(&RiskInputs::default());
        assert_eq!((green.grade, green.points), (RiskGrade::Green, 0));
        assert!(green.reasons.is_empty());
        // A threat in the text alone: yellow.
        let t = assess(&RiskInputs {
            text_level: Some(RiskLevel::High),
            ..Default::default()
        });
        assert_eq!((t.grade, t.points), (RiskGrade::Yellow, 4));
        // A group wage dispute of someone who petitioned before: red, with every reason shown.
        let r = assess(&RiskInputs {
            text_level: Some(RiskLevel::Medium),
            people_involved: Some(23),
            amount_fen: Some(48_000_000),
            party_cases: 1,
            party_petitions: 1,
            ..Default::default()
        });
        assert_eq!(r.grade, RiskGrade::Red);
        let codes: Vec<&str> = r.reasons.iter().map(|x| x.code.as_str()).collect();
        assert_eq!(
            codes,
            ["text_cues", "group", "amount", "repeat_party", "petitioned"]
        );
        assert_eq!(r.points, 2 + 3 + 1 + 1 + 2);
        // History alone can make it yellow: the sixth dispute of a type in a village, reopened.
        let h = assess(&RiskInputs {
            place_cases: 6,
            reopened: true,
            ..Default::default()
        });
        assert_eq!((h.grade, h.points), (RiskGrade::Yellow, 4));
    }
}
