//! Passwords (argon2id), login and bearer sessions. Tokens are random 256-bit values; only
//! their SM3 digest is stored, so a database leak does not leak live sessions.
use crate::audit::Who;
use crate::totp;
use crate::{App, AppError, Result};
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::Argon2;
use fengqiao_domain::access::{Actor, Role};
use fengqiao_domain::audit::AuditAction;
use fengqiao_domain::security::{
    check_password, session_expiry, AccountFacts, PasswordProblem, SecurityPolicy, SessionStage,
    Throttle,
};
use fengqiao_store::UserRecord;
use rand_core::{OsRng, RngCore};
use serde::{Deserialize, Serialize};
use serde_json::json;
use sm3::{Digest, Sm3};
use utoipa::ToSchema;

pub fn hash_password(password: &str) -> Result<String> {
    let salt = SaltString::generate(&mut OsRng);
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| AppError::Internal(format!("argon2: {e}")))
}

fn verify_password(password: &str, hash: &str) -> bool {
    PasswordHash::new(hash).is_ok_and(|h| {
        Argon2::default()
            .verify_password(password.as_bytes(), &h)
            .is_ok()
    })
}

/// Hex SM3 digest.
pub fn sm3_hex(bytes: &[u8]) -> String {
    Sm3::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// A user as shown to clients (no password hash).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct UserView {
    pub id: i64,
    pub username: String,
    pub display_name: String,
    pub role: Role,
    pub scope_code: String,
    pub unit_id: Option<i64>,
    pub disabled: bool,
    /// The next sign-in must change the password.
    pub must_change_password: bool,
    /// A TOTP second factor is enrolled.
    pub second_factor: bool,
}

impl From<&UserRecord> for UserView {
    fn from(u: &UserRecord) -> Self {
        UserView {
            id: u.id,
            username: u.username.clone(),
            display_name: u.display_name.clone(),
            role: u.role,
            scope_code: u.scope_code.clone(),
            unit_id: u.unit_id,
            disabled: u.disabled,
            must_change_password: u.must_change_password,
            second_factor: u.totp_enabled,
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct LoginResult {
    /// The session's bearer token; until `next_step` is `full` it only finishes sign-in.
    pub token: String,
    pub expires_at: i64,
    pub user: UserView,
    /// What the session must do next: `full` = nothing, signed in.
    pub next_step: SessionStage,
}

/// Where a session stands after a sign-in step.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct SignInStep {
    pub next_step: SessionStage,
    pub expires_at: i64,
}

/// A TOTP secret to enrol: the base32 text and the `otpauth://` address (for a QR code).
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct TotpEnrolment {
    pub secret: String,
    pub otpauth_uri: String,
}

/// An authenticated request's identity.
#[derive(Debug, Clone)]
pub struct Session {
    pub actor: Actor,
    pub user: UserRecord,
}

pub fn actor_of(u: &UserRecord) -> Actor {
    Actor {
        user_id: u.id,
        role: u.role,
        scope_path: u.scope_path.clone(),
        unit_id: u.unit_id,
    }
}

/// The setting holding the [`SecurityPolicy`] (JSON).
pub const POLICY_KEY: &str = "security_policy";
/// Sign-in attempts one client address may make…
pub const ATTEMPTS_PER_WINDOW: u32 = 30;
/// …per this many milliseconds.
pub const ATTEMPT_WINDOW_MS: i64 = 60_000;
/// The issuer name authenticator apps show.
pub const TOTP_ISSUER: &str = "Fengqiao";

/// Sign-in attempts per client address (in memory: a restart forgets them, the per-account
/// lock in the database does not).
#[derive(Debug, Default)]
pub struct AttemptLimiter {
    seen: std::sync::Mutex<std::collections::HashMap<String, (i64, u32)>>,
}

impl AttemptLimiter {
    /// Counts an attempt; false when the address is over its limit.
    fn allow(&self, client: &str, now: i64) -> bool {
        let Ok(mut seen) = self.seen.lock() else {
            return true;
        };
        if seen.len() > 100_000 {
            seen.retain(|_, (start, _)| now - *start < ATTEMPT_WINDOW_MS);
        }
        let e = seen.entry(client.to_string()).or_insert((now, 0));
        if now - e.0 >= ATTEMPT_WINDOW_MS {
            *e = (now, 0);
        }
        e.1 += 1;
        e.1 <= ATTEMPTS_PER_WINDOW
    }
}

fn facts(u: &UserRecord) -> AccountFacts {
    AccountFacts {
        role: u.role,
        must_change_password: u.must_change_password,
        password_changed_at: u.password_changed_at,
        second_factor_enrolled: u.totp_enabled,
    }
}

fn new_token() -> String {
    let mut raw = [0u8; 32];
    OsRng.fill_bytes(&mut raw);
    raw.iter().map(|b| format!("{b:02x}")).collect()
}

impl App {
    /// The sign-in policy (default: a second factor for admins, supervisors and leaders; no
    /// rotation).
    pub async fn security_policy(&self) -> Result<SecurityPolicy> {
        match self.store.get_setting(POLICY_KEY).await? {
            Some(json) => serde_json::from_str(&json)
                .map_err(|e| AppError::Internal(format!("security policy: {e}"))),
            None => Ok(SecurityPolicy::default()),
        }
    }

    pub async fn set_security_policy(&self, policy: &SecurityPolicy) -> Result<()> {
        let json = serde_json::to_string(policy)
            .map_err(|e| AppError::Internal(format!("security policy: {e}")))?;
        Ok(self.store.put_setting(POLICY_KEY, &json).await?)
    }

    fn expiry(&self, created_at: i64, now: i64) -> i64 {
        session_expiry(
            created_at,
            now,
            self.settings.session_idle_ms,
            self.settings.session_absolute_ms,
        )
    }

    /// Signs in with a password (and a TOTP code, when the account has one and the client
    /// sends it). Unknown names, wrong passwords and locked names give the same answer after
    /// the same work; the fifth failure in a row locks the name for 30 minutes. The caller's
    /// address (the request's, `audit::current_client`) is rate-limited. The session may still
    /// need steps (`next_step`).
    pub async fn login(
        &self,
        username: &str,
        password: &str,
        code: Option<&str>,
    ) -> Result<LoginResult> {
        let now = self.now();
        let client = &crate::audit::current_client();
        let name = username.trim();
        if !self.login_limiter.allow(client, now) {
            tracing::warn!(client, "sign-in rate limit");
            self.audit(
                Who::named(name),
                AuditAction::SignInFailed,
                &format!("user:{name}"),
                "denied",
                json!({"reason": "rate_limited"}),
            )
            .await?;
            return Err(AppError::TooManyAttempts);
        }
        let throttle = self.store.login_throttle(name).await?;
        let user = self.store.get_user_by_username(name).await?;
        // Verify against a fixed hash for unknown users too, so timing does not reveal which
        // usernames exist; a locked name is verified too and then refused alike.
        let hash = user
            .as_ref()
            .map(|u| u.password_hash.as_str())
            .unwrap_or(DUMMY_HASH.as_str());
        let ok = verify_password(password, hash);
        let locked = throttle.is_some_and(|t| t.is_locked(now));
        let user = match user {
            Some(u) if ok && !locked && !u.disabled => u,
            other => {
                let after = Throttle::after_failure(throttle, now);
                self.store.set_login_throttle(name, Some(&after)).await?;
                let reason = match &other {
                    None => "unknown_user",
                    Some(_) if locked => "locked",
                    Some(u) if u.disabled => "disabled",
                    Some(_) => "wrong_password",
                };
                tracing::info!(username = name, client, reason, "sign-in failed");
                self.audit(
                    Who {
                        id: other.as_ref().map(|u| u.id),
                        name: name.to_string(),
                    },
                    AuditAction::SignInFailed,
                    &format!("user:{name}"),
                    "failed",
                    json!({"reason": reason, "failures": after.failures,
                           "locked_now": !locked && after.is_locked(now)}),
                )
                .await?;
                return Err(AppError::InvalidCredentials);
            }
        };
        let policy = self.security_policy().await?;
        let mut code_ok = false;
        if let (Some(c), Some(secret)) = (code.filter(|c| !c.is_empty()), &user.totp_secret) {
            if user.totp_enabled {
                code_ok = self.use_code(&user, secret, c, now).await?;
                if !code_ok {
                    self.store
                        .set_login_throttle(name, Some(&Throttle::after_failure(throttle, now)))
                        .await?;
                    self.audit_account(&user, AuditAction::SecondFactorFailed, "failed", json!({}))
                        .await?;
                    return Err(AppError::InvalidSecondFactor);
                }
            }
        }
        if throttle.is_some() {
            self.store.set_login_throttle(name, None).await?;
        }
        let stage = policy.stage_after_password(&facts(&user), now, code_ok);
        let token = new_token();
        let expires_at = self.expiry(now, now);
        self.store
            .insert_session(&sm3_hex(token.as_bytes()), user.id, stage, now, expires_at)
            .await?;
        tracing::info!(username = name, client, stage = stage.as_str(), "signed in");
        self.audit_account(
            &user,
            AuditAction::SignIn,
            "ok",
            json!({"next_step": stage.as_str(), "second_factor": code_ok}),
        )
        .await?;
        Ok(LoginResult {
            token,
            expires_at,
            user: UserView::from(&user),
            next_step: stage,
        })
    }

    /// Records something that happened to an account (by its owner).
    async fn audit_account(
        &self,
        u: &UserRecord,
        action: AuditAction,
        outcome: &str,
        detail: serde_json::Value,
    ) -> Result<()> {
        self.audit(
            Who::user(u.id, &u.username),
            action,
            &format!("user:{}", u.id),
            outcome,
            detail,
        )
        .await
    }

    /// True when `code` is the account's current TOTP code and was not used before.
    async fn use_code(
        &self,
        user: &UserRecord,
        secret: &str,
        code: &str,
        now: i64,
    ) -> Result<bool> {
        Ok(match totp::matching_step(secret, code, now) {
            Some(step) => self.store.use_totp_step(user.id, step).await?,
            None => false,
        })
    }

    /// The session of a token at any sign-in step.
    pub async fn pending_session(&self, token: &str) -> Result<(Session, SessionStage)> {
        let rec = self
            .store
            .session(&sm3_hex(token.as_bytes()), self.now())
            .await?
            .ok_or(AppError::Unauthenticated)?;
        Ok((
            Session {
                actor: actor_of(&rec.user),
                user: rec.user,
            },
            rec.stage,
        ))
    }

    /// The session of a token that finished signing in. Each use moves the idle expiry
    /// (written at most once a minute), never past the absolute limit.
    pub async fn authenticate(&self, token: &str) -> Result<Session> {
        let hash = sm3_hex(token.as_bytes());
        let now = self.now();
        let rec = self
            .store
            .session(&hash, now)
            .await?
            .ok_or(AppError::Unauthenticated)?;
        if rec.stage != SessionStage::Full {
            return Err(AppError::SignInIncomplete(rec.stage));
        }
        let known = self
            .usernames
            .read()
            .is_ok_and(|m| m.contains_key(&rec.user.id));
        if !known {
            if let Ok(mut names) = self.usernames.write() {
                names.insert(rec.user.id, rec.user.username.clone());
            }
        }
        let expiry = self.expiry(rec.created_at, now);
        if expiry - rec.expires_at >= 60_000 {
            self.store.update_session(&hash, rec.stage, expiry).await?;
        }
        Ok(Session {
            actor: actor_of(&rec.user),
            user: rec.user,
        })
    }

    async fn advance(&self, token: &str, stage: SessionStage) -> Result<SignInStep> {
        let hash = sm3_hex(token.as_bytes());
        let now = self.now();
        let rec = self
            .store
            .session(&hash, now)
            .await?
            .ok_or(AppError::Unauthenticated)?;
        let expires_at = self.expiry(rec.created_at, now);
        self.store.update_session(&hash, stage, expires_at).await?;
        Ok(SignInStep {
            next_step: stage,
            expires_at,
        })
    }

    /// Changes the signed-in user's password (a session at the `change_password` step, or a
    /// full one). The user's other sessions end.
    pub async fn change_password(
        &self,
        token: &str,
        current: &str,
        new: &str,
    ) -> Result<SignInStep> {
        let (s, stage) = self.pending_session(token).await?;
        if !matches!(stage, SessionStage::Full | SessionStage::ChangePassword) {
            return Err(AppError::SignInIncomplete(stage));
        }
        if !verify_password(current, &s.user.password_hash) {
            return Err(AppError::InvalidCredentials);
        }
        check_password(new, &s.user.username).map_err(AppError::WeakPassword)?;
        if verify_password(new, &s.user.password_hash) {
            return Err(AppError::WeakPassword(PasswordProblem::SameAsBefore));
        }
        let now = self.now();
        self.store
            .set_password(s.user.id, &hash_password(new)?, false, now)
            .await?;
        let hash = sm3_hex(token.as_bytes());
        self.store
            .delete_user_sessions(s.user.id, Some(&hash))
            .await?;
        tracing::info!(username = %s.user.username, "password changed");
        self.audit_account(
            &s.user,
            AuditAction::PasswordChanged,
            "ok",
            json!({"forced": stage == SessionStage::ChangePassword}),
        )
        .await?;
        let next = if stage == SessionStage::Full {
            SessionStage::Full
        } else {
            let policy = self.security_policy().await?;
            policy.stage_after_password_change(&facts(&s.user), false)
        };
        self.advance(token, next).await
    }

    /// Finishes sign-in with the account's TOTP code. A wrong code counts as a failed sign-in
    /// of the account name (five lock it).
    pub async fn verify_second_factor(&self, token: &str, code: &str) -> Result<SignInStep> {
        let (s, stage) = self.pending_session(token).await?;
        if stage != SessionStage::SecondFactor {
            return Err(AppError::SignInIncomplete(stage));
        }
        let now = self.now();
        let name = s.user.username.as_str();
        let throttle = self.store.login_throttle(name).await?;
        let secret = s.user.totp_secret.clone().unwrap_or_default();
        if throttle.is_some_and(|t| t.is_locked(now))
            || !self.use_code(&s.user, &secret, code, now).await?
        {
            let t = Throttle::after_failure(throttle, now);
            self.store.set_login_throttle(name, Some(&t)).await?;
            self.audit_account(
                &s.user,
                AuditAction::SecondFactorFailed,
                "failed",
                json!({"failures": t.failures}),
            )
            .await?;
            if t.is_locked(now) {
                self.logout(token).await?;
            }
            return Err(AppError::InvalidSecondFactor);
        }
        if throttle.is_some() {
            self.store.set_login_throttle(name, None).await?;
        }
        self.advance(token, SessionStage::Full).await
    }

    /// Starts (or restarts) TOTP enrolment: a new secret, not yet required until confirmed.
    /// A session at the enrolment step, or a full session of an account without a confirmed
    /// second factor.
    pub async fn begin_totp_enrolment(&self, token: &str) -> Result<TotpEnrolment> {
        let (s, stage) = self.pending_session(token).await?;
        let allowed = stage == SessionStage::EnrolSecondFactor
            || (stage == SessionStage::Full && !s.user.totp_enabled);
        if !allowed {
            return Err(AppError::SignInIncomplete(stage));
        }
        // A secret shown before but not confirmed yet stays (a reload must not invalidate what
        // the user just scanned).
        let secret = match s.user.totp_secret.clone() {
            Some(existing) => existing,
            None => {
                let secret = totp::new_secret();
                self.store.set_totp(s.user.id, Some(&secret), false).await?;
                secret
            }
        };
        Ok(TotpEnrolment {
            otpauth_uri: totp::otpauth_uri(TOTP_ISSUER, &s.user.username, &secret),
            secret,
        })
    }

    /// Confirms enrolment with a code from the new secret; the session is then whole.
    pub async fn confirm_totp_enrolment(&self, token: &str, code: &str) -> Result<SignInStep> {
        let (s, stage) = self.pending_session(token).await?;
        if !matches!(stage, SessionStage::EnrolSecondFactor | SessionStage::Full) {
            return Err(AppError::SignInIncomplete(stage));
        }
        let secret = s
            .user
            .totp_secret
            .clone()
            .filter(|_| !s.user.totp_enabled)
            .ok_or(AppError::InvalidSecondFactor)?;
        if !self.use_code(&s.user, &secret, code, self.now()).await? {
            return Err(AppError::InvalidSecondFactor);
        }
        self.store.set_totp(s.user.id, Some(&secret), true).await?;
        tracing::info!(username = %s.user.username, "second factor enrolled");
        self.audit_account(&s.user, AuditAction::SecondFactorEnrolled, "ok", json!({}))
            .await?;
        self.advance(token, SessionStage::Full).await
    }

    pub async fn logout(&self, token: &str) -> Result<()> {
        if let Ok((s, _)) = self.pending_session(token).await {
            self.audit_account(&s.user, AuditAction::SignOut, "ok", json!({}))
                .await?;
        }
        Ok(self
            .store
            .delete_session(&sm3_hex(token.as_bytes()))
            .await?)
    }
}

/// An argon2id hash of a random secret nobody knows, made once with the same parameters as
/// real hashes: verifying against it costs what a real verification costs.
static DUMMY_HASH: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| {
    let mut secret = [0u8; 32];
    OsRng.fill_bytes(&mut secret);
    hash_password(&String::from_utf8_lossy(&secret)).unwrap_or_default()
});
