//! Passwords (argon2id), login and bearer sessions. Tokens are random 256-bit values; only
//! their SM3 digest is stored, so a database leak does not leak live sessions.
use crate::{App, AppError, Result};
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::Argon2;
use fengqiao_domain::access::{Actor, Role};
use fengqiao_store::UserRecord;
use rand_core::{OsRng, RngCore};
use serde::{Deserialize, Serialize};
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
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct LoginResult {
    pub token: String,
    pub expires_at: i64,
    pub user: UserView,
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

impl App {
    pub async fn login(&self, username: &str, password: &str) -> Result<LoginResult> {
        let user = self.store.get_user_by_username(username).await?;
        // Verify against a fixed hash for unknown users too, so timing does not reveal which usernames exist.
        let hash = user
            .as_ref()
            .map(|u| u.password_hash.as_str())
            .unwrap_or(DUMMY_HASH.as_str());
        let ok = verify_password(password, hash);
        let user = match user {
            Some(u) if ok && !u.disabled => u,
            _ => return Err(AppError::InvalidCredentials),
        };
        let mut raw = [0u8; 32];
        OsRng.fill_bytes(&mut raw);
        let token: String = raw.iter().map(|b| format!("{b:02x}")).collect();
        let now = self.now();
        let expires_at = now + self.settings.session_idle_ms;
        self.store
            .insert_session(&sm3_hex(token.as_bytes()), user.id, now, expires_at)
            .await?;
        Ok(LoginResult {
            token,
            expires_at,
            user: UserView::from(&user),
        })
    }

    pub async fn authenticate(&self, token: &str) -> Result<Session> {
        let user = self
            .store
            .session_user(&sm3_hex(token.as_bytes()), self.now())
            .await?
            .ok_or(AppError::Unauthenticated)?;
        Ok(Session {
            actor: actor_of(&user),
            user,
        })
    }

    pub async fn logout(&self, token: &str) -> Result<()> {
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
