//! API keys on the request path: a presented key is checked (format and checksum first, then
//! the authorization caches or the database, its status, where it comes from) and admitted by its
//! limits ([`KeyCheck::verify`]). The caches, the meter and the invalidation that keeps them true
//! are services of their own (`crate::services`).

use std::sync::Arc;

use chrono::{DateTime, Utc};
use portal_db::api_keys::StoredKey;
use portal_domain::keys as domain;
use portal_domain::policy::{Actor, KeyPrincipal};
use portal_domain::scopes::{AllowList, KeyShape, ScopeSet};
use portal_types::ErrorCode;
use portal_types::{Environment, KeyStatus, RateLimit, Role};
use uuid::Uuid;

use crate::error::ApiError;
use crate::services::auth_cache::AuthCache;
pub use crate::services::auth_cache::{CachedKey, creator_role};
pub use crate::services::meter::limits::LimitReport;
use crate::services::meter::{MeterService, MeterTag};

/// A verified key acting on a request.
#[derive(Debug, Clone)]
pub struct KeyAuth {
    pub key_id: Uuid,
    pub team_id: Uuid,
    pub name: Arc<str>,
    pub environment: Environment,
    pub expires_at: Option<DateTime<Utc>>,
    /// Rolled, in its grace period: it changes nobody's access (`domain::policy::Actor`).
    pub rolling: bool,
    /// The scopes it was given.
    pub scopes: ScopeSet,
    /// The role that caps it.
    pub creator: Role,
    /// Whether its creator has two-factor authentication on.
    pub creator_two_factor: bool,
    pub usage_limit: Option<u64>,
    pub rate_limit: Option<RateLimit>,
    pub allowed: Arc<AllowList>,
    pub created_by: Option<Uuid>,
    /// What the key's limits leave, for the `RateLimit` fields of the answer.
    pub limits: LimitReport,
}

impl KeyAuth {
    /// How the role table sees this key.
    pub fn actor(&self) -> Actor {
        Actor::ApiKey { rolling: self.rolling, scopes: self.scopes, creator: self.creator }
    }

    /// This key as the policy weighs it.
    pub fn principal(&self) -> KeyPrincipal {
        KeyPrincipal {
            rolling: self.rolling,
            creator: self.creator,
            creator_two_factor: self.creator_two_factor,
            shape: KeyShape {
                scopes: self.scopes,
                environment: self.environment,
                usage_limit: self.usage_limit,
                rate_limit: self.rate_limit,
                allowed: AllowList::clone(&self.allowed),
            },
        }
    }

    pub fn tag(&self) -> MeterTag {
        MeterTag { key_id: self.key_id, team_id: self.team_id }
    }
}

/// Why a presented key was refused, and which known key it was (for metering).
#[derive(Debug)]
pub struct Refusal {
    pub error: ApiError,
    pub tag: Option<MeterTag>,
}

impl Refusal {
    /// The status the meter stores for this refusal: its answer's, except that a spent monthly
    /// limit is told apart from a rate ([`portal_domain::usage::QUOTA_REFUSED`]).
    pub fn metered_status(&self) -> u16 {
        match self.error.code {
            portal_types::ErrorCode::UsageLimitExceeded => portal_domain::usage::QUOTA_REFUSED,
            _ => self.error.status().as_u16(),
        }
    }
}

use portal_domain::keys::status_of;

/// Why a key was refused with 401.
pub fn refusal(status: KeyStatus) -> Option<ApiError> {
    let (code, detail) = match status {
        KeyStatus::Active | KeyStatus::Rolling => return None,
        KeyStatus::Revoked => (ErrorCode::KeyRevoked, "This API key was revoked."),
        KeyStatus::Expired => (ErrorCode::KeyExpired, "This API key has expired."),
        KeyStatus::Rolled => {
            (ErrorCode::KeyRolled, "This API key was replaced by a rolled key and its grace period is over.")
        }
    };
    Some(ApiError::new(code, detail))
}

pub fn invalid_key() -> ApiError {
    ApiError::new(ErrorCode::InvalidApiKey, "The API key is not valid.")
}

/// Checks presented keys: the authorization caches, then the meter's limits.
pub struct KeyCheck {
    pub auth: Arc<AuthCache>,
    pub meter: Arc<MeterService>,
}

impl KeyCheck {
    /// Verifies a presented key: format and checksum first (no database work for garbage),
    /// then the caches or the database, the key's status, where it is used from (when `client`
    /// is known), and its limits. A request from outside the allowlist counts no quota.
    pub async fn verify(&self, secret: &str, client: Option<std::net::IpAddr>) -> Result<KeyAuth, Refusal> {
        let refuse = |error: ApiError, tag: Option<MeterTag>| Refusal { error, tag };
        domain::parse(secret).map_err(|_| refuse(invalid_key(), None))?;
        let key = self.auth.lookup(self.auth.hash(secret)).await.map_err(|e| refuse(e, None))?;
        let key = key.ok_or_else(|| refuse(invalid_key(), None))?;
        let now = Utc::now();
        let tag = MeterTag { key_id: key.id, team_id: key.team_id };
        let status = status_of(key.revoked_at, key.expires_at, key.grace_until, now);
        if let Some(refused) = refusal(status) {
            return Err(refuse(refused, Some(tag)));
        }
        // An allowlisted key answers only to a known address of its list: without one (a
        // service that did not say where the key came from) it is refused, not waved through.
        match client {
            Some(ip) if !key.allowed.allows(ip) => {
                let refused =
                    ApiError::new(ErrorCode::IpNotAllowed, format!("This API key may not be used from {ip}."));
                return Err(refuse(refused, Some(tag)));
            }
            None if !key.allowed.is_empty() => {
                let refused = ApiError::new(
                    ErrorCode::IpNotAllowed,
                    "This API key may be used only from the addresses of its allowlist, and the address it \
                     came from is not known (pass `client_ip`).",
                );
                return Err(refuse(refused, Some(tag)));
            }
            _ => {}
        }
        let limits = self.meter.admit(&key, now).await.map_err(|e| refuse(e, Some(tag)))?;
        Ok(KeyAuth {
            key_id: key.id,
            team_id: key.team_id,
            name: key.name.clone(),
            environment: key.environment,
            expires_at: key.expires_at,
            rolling: status == KeyStatus::Rolling,
            scopes: key.scopes,
            creator: key.creator,
            creator_two_factor: key.creator_two_factor,
            usage_limit: key.usage_limit,
            rate_limit: key.rate_limit,
            allowed: key.allowed.clone(),
            created_by: key.created_by,
            limits,
        })
    }
}

/// How the permission table sees a stored key now, if it still works at all.
pub async fn actor_of(
    db: &impl portal_db::ConnectionTrait,
    row: &StoredKey,
    now: DateTime<Utc>,
) -> Result<Option<Actor>, portal_db::Error> {
    let status = row.status(now);
    if !matches!(status, KeyStatus::Active | KeyStatus::Rolling) {
        return Ok(None);
    }
    Ok(Some(portal_domain::policy::Actor::ApiKey {
        rolling: status == KeyStatus::Rolling,
        scopes: row.scopes,
        creator: creator_role(db, row).await?,
    }))
}
