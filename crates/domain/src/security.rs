//! Account security rules, pure: the password policy, locking an account name after repeated
//! failures, the steps a session must pass before it is whole (a forced password change, the
//! second factor) and the policy an administrator sets for them.
use crate::access::Role;
use crate::time::Millis;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// At least this many characters…
pub const MIN_PASSWORD_CHARS: usize = 8;
/// …from at least this many of: lower-case letters, upper-case letters, digits, others.
pub const MIN_CHARACTER_CLASSES: usize = 3;
/// Failures in a row that lock an account name…
pub const LOCK_AFTER_FAILURES: u32 = 5;
/// …for this long.
pub const LOCK_MS: Millis = 30 * 60_000;
/// A session unused this long ends.
pub const SESSION_IDLE_MS: Millis = 30 * 60_000;
/// A session ends this long after sign-in, however busy.
pub const SESSION_ABSOLUTE_MS: Millis = 12 * 3_600_000;

/// Why a new password is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PasswordProblem {
    TooShort,
    TooFewCharacterClasses,
    ContainsUsername,
    SameAsBefore,
}

impl PasswordProblem {
    /// Stable code, the error's detail.
    pub fn code(self) -> &'static str {
        match self {
            PasswordProblem::TooShort => "too_short",
            PasswordProblem::TooFewCharacterClasses => "too_few_character_classes",
            PasswordProblem::ContainsUsername => "contains_username",
            PasswordProblem::SameAsBefore => "same_as_before",
        }
    }
}

/// Checks a new password against the policy (≥ 8 characters from ≥ 3 classes, not containing
/// the account name).
pub fn check_password(password: &str, username: &str) -> Result<(), PasswordProblem> {
    if password.chars().count() < MIN_PASSWORD_CHARS {
        return Err(PasswordProblem::TooShort);
    }
    let classes = [
        password.chars().any(|c| c.is_lowercase()),
        password.chars().any(|c| c.is_uppercase()),
        password.chars().any(|c| c.is_ascii_digit()),
        password
            .chars()
            .any(|c| !c.is_lowercase() && !c.is_uppercase() && !c.is_ascii_digit()),
    ];
    if classes.iter().filter(|c| **c).count() < MIN_CHARACTER_CLASSES {
        return Err(PasswordProblem::TooFewCharacterClasses);
    }
    if username.chars().count() >= 3 && password.to_lowercase().contains(&username.to_lowercase()) {
        return Err(PasswordProblem::ContainsUsername);
    }
    Ok(())
}

/// Failed sign-ins of one account name (known or not: unknown names are throttled alike, so
/// the answers cannot tell them apart).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Throttle {
    /// Failures since the last success or the end of the last lock.
    pub failures: u32,
    /// Locked until then (0 = not locked).
    pub locked_until: Millis,
}

impl Throttle {
    pub fn is_locked(&self, now: Millis) -> bool {
        now < self.locked_until
    }

    /// The throttle after one more failure at `now`: the fifth failure in a row locks the name
    /// for 30 minutes; attempts during a lock change nothing (the lock is not prolonged), and
    /// failures after it count from one again.
    pub fn after_failure(prev: Option<Throttle>, now: Millis) -> Throttle {
        let prev = prev.unwrap_or_default();
        if prev.is_locked(now) {
            return prev;
        }
        let failures = if prev.locked_until != 0 {
            1
        } else {
            prev.failures + 1
        };
        Throttle {
            failures,
            locked_until: if failures >= LOCK_AFTER_FAILURES {
                now + LOCK_MS
            } else {
                0
            },
        }
    }
}

crate::unit::labelled_enum!(
    /// How far a session has come: only `full` sessions may do anything but finish sign-in.
    SessionStage {
        Full = "full" / "已登录",
        ChangePassword = "change_password" / "须修改密码",
        SecondFactor = "second_factor" / "须输入动态口令",
        EnrolSecondFactor = "enrol_second_factor" / "须绑定动态口令",
    }
);

/// What an administrator decides about sign-in (setting `security_policy`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(default)]
pub struct SecurityPolicy {
    /// Roles that must use a second factor (TOTP).
    pub second_factor_roles: Vec<Role>,
    /// Every other staff role too.
    pub second_factor_for_all: bool,
    /// Passwords older than this many days must be changed at sign-in (0 = never).
    pub password_max_age_days: u32,
}

impl Default for SecurityPolicy {
    fn default() -> Self {
        SecurityPolicy {
            second_factor_roles: vec![Role::Admin, Role::Supervisor, Role::Leader],
            second_factor_for_all: false,
            password_max_age_days: 0,
        }
    }
}

/// What sign-in needs to know of an account.
#[derive(Debug, Clone, Copy)]
pub struct AccountFacts {
    pub role: Role,
    pub must_change_password: bool,
    pub password_changed_at: Millis,
    pub second_factor_enrolled: bool,
}

impl SecurityPolicy {
    pub fn requires_second_factor(&self, role: Role) -> bool {
        self.second_factor_roles.contains(&role)
            || (self.second_factor_for_all && role != Role::Citizen)
    }

    /// The step a session stands at once the password was right (and, when `second_factor_ok`,
    /// a valid code came with it): a forced password change first, then the second factor —
    /// enrolment if the account must have one and has none.
    pub fn stage_after_password(
        &self,
        a: &AccountFacts,
        now: Millis,
        second_factor_ok: bool,
    ) -> SessionStage {
        let max_age = Millis::from(self.password_max_age_days) * 86_400_000;
        if a.must_change_password || (max_age > 0 && now - a.password_changed_at > max_age) {
            SessionStage::ChangePassword
        } else {
            self.stage_after_password_change(a, second_factor_ok)
        }
    }

    /// The step after the password is fine.
    pub fn stage_after_password_change(
        &self,
        a: &AccountFacts,
        second_factor_ok: bool,
    ) -> SessionStage {
        if a.second_factor_enrolled && !second_factor_ok {
            SessionStage::SecondFactor
        } else if !a.second_factor_enrolled && self.requires_second_factor(a.role) {
            SessionStage::EnrolSecondFactor
        } else {
            SessionStage::Full
        }
    }
}

/// A session's expiry: `idle` after its last use, never later than `absolute` after sign-in
/// (by default 30 minutes and 12 hours: [`SESSION_IDLE_MS`], [`SESSION_ABSOLUTE_MS`]).
pub fn session_expiry(created_at: Millis, now: Millis, idle: Millis, absolute: Millis) -> Millis {
    (now + idle).min(created_at + absolute)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_password_policy_names_what_is_wrong() {
        assert_eq!(check_password("Ab1!", "x"), Err(PasswordProblem::TooShort));
        assert_eq!(
            check_password("abcdefgh1", "x"),
            Err(PasswordProblem::TooFewCharacterClasses)
        );
        assert_eq!(
            check_password("Leader@2026", "leader"),
            Err(PasswordProblem::ContainsUsername)
        );
        assert_eq!(check_password("Fengqiao@2026", "leader"), Ok(()));
        assert_eq!(check_password("fengqiao2026!", "u01"), Ok(()));
        // Chinese characters count as "other" characters.
        assert_eq!(check_password("枫桥经验abc123", "u01"), Ok(()));
    }

    #[test]
    fn five_failures_lock_for_thirty_minutes_then_counting_restarts() {
        let mut t = None;
        for i in 1..=4 {
            let next = Throttle::after_failure(t, 1000 * i);
            assert!(!next.is_locked(1000 * i), "{i}");
            t = Some(next);
        }
        let locked = Throttle::after_failure(t, 5000);
        assert_eq!(locked.failures, 5);
        assert!(locked.is_locked(5000 + LOCK_MS - 1));
        assert!(!locked.is_locked(5000 + LOCK_MS));
        // An attempt during the lock changes nothing; after it, counting starts again.
        let during = Throttle::after_failure(Some(locked), 6000);
        assert_eq!(during, locked);
        let after = Throttle::after_failure(Some(during), 5000 + LOCK_MS);
        assert_eq!(after.failures, 1);
        assert!(!after.is_locked(5000 + LOCK_MS));
    }

    #[test]
    fn stages_come_in_order_password_change_then_second_factor() {
        let p = SecurityPolicy::default();
        let leader = AccountFacts {
            role: Role::Leader,
            must_change_password: true,
            password_changed_at: 0,
            second_factor_enrolled: false,
        };
        assert_eq!(
            p.stage_after_password(&leader, 10, false),
            SessionStage::ChangePassword
        );
        let changed = AccountFacts {
            must_change_password: false,
            ..leader
        };
        assert_eq!(
            p.stage_after_password(&changed, 10, false),
            SessionStage::EnrolSecondFactor
        );
        let enrolled = AccountFacts {
            second_factor_enrolled: true,
            ..changed
        };
        assert_eq!(
            p.stage_after_password(&enrolled, 10, false),
            SessionStage::SecondFactor
        );
        assert_eq!(
            p.stage_after_password(&enrolled, 10, true),
            SessionStage::Full
        );
        let staff = AccountFacts {
            role: Role::UnitHandler,
            ..changed
        };
        assert_eq!(
            p.stage_after_password(&staff, 10, false),
            SessionStage::Full
        );
        let all = SecurityPolicy {
            second_factor_for_all: true,
            ..p.clone()
        };
        assert_eq!(
            all.stage_after_password(&staff, 10, false),
            SessionStage::EnrolSecondFactor
        );
        // Rotation: a password older than the maximum age must be changed.
        let rotating = SecurityPolicy {
            password_max_age_days: 90,
            ..p
        };
        let day = 86_400_000;
        assert_eq!(
            rotating.stage_after_password(&staff, 90 * day, false),
            SessionStage::Full
        );
        assert_eq!(
            rotating.stage_after_password(&staff, 91 * day, false),
            SessionStage::ChangePassword
        );
    }

    #[test]
    fn sessions_end_when_idle_or_at_the_absolute_limit() {
        let (idle, abs) = (SESSION_IDLE_MS, SESSION_ABSOLUTE_MS);
        assert_eq!(session_expiry(0, 0, idle, abs), SESSION_IDLE_MS);
        assert_eq!(
            session_expiry(0, SESSION_ABSOLUTE_MS - 60_000, idle, abs),
            SESSION_ABSOLUTE_MS
        );
    }
}
