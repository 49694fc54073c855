//! Deadline rules and traffic lights.
//!
//! Owns: how many working days each stage gets (per complexity, optionally per dispute type),
//! when a light turns yellow or red. The rules are data an admin edits; this module only computes.
use crate::calendar::WorkCalendar;
use crate::case::{Complexity, Deadline, DisputeType, Light, Stage};
use crate::time::{end_of_local_day, local_date, Millis};
use chrono::NaiveDate;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// A per-dispute-type override of the working days a stage gets.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct RuleOverride {
    pub dispute_type: DisputeType,
    pub complexity: Complexity,
    pub stage: Stage,
    pub working_days: u32,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct DeadlineRules {
    /// Handling time for simple disputes, from routing (default 3 working days).
    pub simple_days: u32,
    /// Handling time for complex disputes, from routing (default 20).
    pub complex_days: u32,
    /// Feedback to the citizen, from conclusion (default 2).
    pub feedback_days: u32,
    /// Yellow when at most this many working days remain, simple cases (default 1).
    pub yellow_simple: u32,
    /// Yellow when at most this many working days remain, complex cases (default 3).
    pub yellow_complex: u32,
    /// A supervision must be answered within this many working days (default 2).
    pub supervision_reply_days: u32,
    /// Calendar days after feedback without the citizen's evaluation before a staff revisit is due (default 7).
    pub revisit_after_days: u32,
    /// The longest single extension, in working days (default 20).
    pub max_extension_days: u32,
    pub overrides: Vec<RuleOverride>,
}

impl Default for DeadlineRules {
    fn default() -> Self {
        DeadlineRules {
            simple_days: 3,
            complex_days: 20,
            feedback_days: 2,
            yellow_simple: 1,
            yellow_complex: 3,
            supervision_reply_days: 2,
            revisit_after_days: 7,
            max_extension_days: 20,
            overrides: Vec::new(),
        }
    }
}

impl DeadlineRules {
    pub fn working_days(
        &self,
        dispute_type: DisputeType,
        complexity: Complexity,
        stage: Stage,
    ) -> u32 {
        if let Some(o) = self.overrides.iter().find(|o| {
            o.dispute_type == dispute_type && o.complexity == complexity && o.stage == stage
        }) {
            return o.working_days;
        }
        match (stage, complexity) {
            (Stage::Handle, Complexity::Simple) => self.simple_days,
            (Stage::Handle, Complexity::Complex) => self.complex_days,
            (Stage::Feedback, _) => self.feedback_days,
        }
    }

    /// The deadline of a stage starting at `at`.
    pub fn deadline(
        &self,
        calendar: &WorkCalendar,
        dispute_type: DisputeType,
        complexity: Complexity,
        stage: Stage,
        at: Millis,
    ) -> Deadline {
        let started = local_date(at);
        let n = self.working_days(dispute_type, complexity, stage);
        Deadline {
            stage,
            started,
            due: calendar.add_working_days(started, n),
            working_days: n,
        }
    }

    pub fn yellow_threshold(&self, complexity: Complexity) -> u32 {
        match complexity {
            Complexity::Simple => self.yellow_simple,
            Complexity::Complex => self.yellow_complex,
        }
    }

    /// The light of a running deadline at `now`: red once the due day has ended, yellow when at
    /// most the threshold of working days remain after today, green otherwise.
    pub fn light(
        &self,
        calendar: &WorkCalendar,
        complexity: Complexity,
        due: NaiveDate,
        now: Millis,
    ) -> Light {
        if now >= end_of_local_day(due) {
            return Light::Red;
        }
        let remaining = calendar.working_days_between(local_date(now), due);
        if remaining <= self.yellow_threshold(complexity) {
            Light::Yellow
        } else {
            Light::Green
        }
    }
}
