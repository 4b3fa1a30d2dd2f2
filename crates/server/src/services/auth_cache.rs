//! The authorization caches: keys (and well-formed keys that do not exist), teams, memberships
//! and sessions, each bounded, each evicted at once by a change ([`super::invalidation`]) here
//! and on every instance, and none served while the channel that tells of other instances'
//! changes is down ([`super::Trust`]).

use std::sync::Arc;
use std::time::Duration;

use portal_db::DatabaseConnection;
use portal_domain::keys as domain;
use portal_domain::policy::Actor;
use portal_types::Role;
use uuid::Uuid;

use chrono::{DateTime, Utc};
use portal_db::api_keys::StoredKey;
use portal_domain::scopes::{AllowList, ScopeSet};
use portal_types::{Environment, RateLimit};

use super::Trust;
use super::change::Change;
use super::guarded::GuardedCache;
use crate::error::ApiError;

/// A key as the cache holds it.
#[derive(Debug, Clone)]
pub struct CachedKey {
    pub id: Uuid,
    pub team_id: Uuid,
    pub name: Arc<str>,
    pub environment: Environment,
    pub expires_at: Option<DateTime<Utc>>,
    pub revoked_at: Option<DateTime<Utc>>,
    pub grace_until: Option<DateTime<Utc>>,
    pub usage_limit: Option<u64>,
    pub rate_limit: Option<RateLimit>,
    /// The scopes it was given.
    pub scopes: ScopeSet,
    pub allowed: Arc<AllowList>,
    /// The person who answers for the key (for a key made by a key: that key's creator).
    pub created_by: Option<Uuid>,
    /// The role that caps the key (`domain::policy::Actor::ApiKey`), as it was when the key was
    /// cached. Role changes and removals announce a team change, which evicts the team's keys on
    /// every instance.
    pub creator: Role,
    /// Whether the creator has two-factor authentication on (true without a recorded creator):
    /// a team that requires it refuses the key otherwise. Turning it on or off announces a change
    /// of each of the account's teams.
    pub creator_two_factor: bool,
}

/// The role that caps a key (`domain::policy::Actor::ApiKey`): its creator's current role in the
/// team; `Member` once they left it (the key keeps what a member may read); `Admin` for a key
/// that another key made before creators were recorded.
pub async fn creator_role(db: &impl portal_db::ConnectionTrait, row: &StoredKey) -> Result<Role, portal_db::Error> {
    Ok(match row.created_by {
        Some(user) => portal_db::teams::membership_of(db, row.team_id, user).await?.map_or(Role::Member, |m| m.role),
        None => Role::Admin,
    })
}

fn cached_from(row: &StoredKey, creator: Role, creator_two_factor: bool) -> Result<CachedKey, ApiError> {
    Ok(CachedKey {
        id: row.id,
        team_id: row.team_id,
        name: row.name.as_str().into(),
        environment: row.environment,
        expires_at: row.expires_at,
        revoked_at: row.revoked_at,
        grace_until: row.grace_until,
        usage_limit: row.usage_limit.and_then(|l| u64::try_from(l).ok()),
        rate_limit: row.rate_limit,
        scopes: row.scopes,
        allowed: Arc::new(row.allowed_ips.clone()),
        created_by: row.created_by,
        creator,
        creator_two_factor,
    })
}

/// How long a cached key may be used without asking the database again. Changes do not wait
/// for this: they evict at once (locally, and on other instances through NOTIFY).
const KEY_TTL: Duration = Duration::from_secs(60);
/// How long a cached team may be served; changes evict it at once (and through NOTIFY).
const TEAM_TTL: Duration = Duration::from_secs(10);
/// Keys (and unknown keys) one instance remembers; beyond that the least useful go.
const KEY_CAPACITY: u64 = 100_000;
const TEAM_CAPACITY: u64 = 10_000;

/// A team as key-authenticated reads see it, cached.
#[derive(Debug)]
pub struct TeamSnapshot {
    pub team: portal_db::teams::Team,
    pub member_count: u64,
    /// The answers to keys' `GET /teams/{id}`, serialized once per snapshot and kind of key (its
    /// permissions depend on its scopes, its creator's role and whether it is rolling).
    bodies: std::sync::RwLock<Vec<(Actor, actix_web::web::Bytes)>>,
}

/// Kinds of key whose team answer a snapshot keeps; a team's keys are of a few kinds.
const BODIES_PER_TEAM: usize = 8;

impl TeamSnapshot {
    fn new(team: portal_db::teams::Team, member_count: u64) -> Self {
        Self { team, member_count, bodies: std::sync::RwLock::new(Vec::new()) }
    }

    /// The team's answer to `actor`: kept from an earlier request of the same kind of key, else
    /// made by `make` (and kept, for up to [`BODIES_PER_TEAM`] kinds).
    pub fn body_for(&self, actor: Actor, make: impl FnOnce() -> actix_web::web::Bytes) -> actix_web::web::Bytes {
        let read = self.bodies.read().unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some((_, body)) = read.iter().find(|(kind, _)| *kind == actor) {
            return body.clone();
        }
        drop(read);
        let body = make();
        let mut bodies = self.bodies.write().unwrap_or_else(std::sync::PoisonError::into_inner);
        if bodies.len() < BODIES_PER_TEAM && !bodies.iter().any(|(kind, _)| *kind == actor) {
            bodies.push((actor, body.clone()));
        }
        body
    }
}

/// An open session as the request path weighs it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SessionState {
    /// Its account has two-factor authentication on.
    pub two_factor: bool,
    /// The team whose identity provider it started at (None: a password).
    pub sso_team: Option<Uuid>,
}

pub struct AuthCache {
    db: DatabaseConnection,
    hashing_key: [u8; 32],
    trust: Arc<Trust>,
    /// Known keys by the hash of their secret.
    keys: GuardedCache<String, Arc<CachedKey>>,
    /// Hashes of well-formed keys that do not exist: a flood of them costs no database work.
    /// A new key's secret cannot be among them, so nothing here ever needs evicting.
    unknown: GuardedCache<String, ()>,
    teams: GuardedCache<Uuid, Arc<TeamSnapshot>>,
    /// (team, user) → role, for the authorization of reads. Only members are cached; every
    /// membership change announces a team change, which evicts the team's entries everywhere.
    members: GuardedCache<(Uuid, Uuid), Role>,
    /// Session → None when it has ended, else whether its account has two-factor
    /// authentication on, for access tokens. Ending a session, or turning its account's
    /// two-factor authentication on or off, announces it, which evicts it everywhere.
    sessions: GuardedCache<Uuid, Option<SessionState>>,
}

impl AuthCache {
    pub fn new(db: DatabaseConnection, server_secret: &str, trust: Arc<Trust>) -> Self {
        Self {
            hashing_key: domain::hashing_key(server_secret),
            keys: GuardedCache::new(KEY_CAPACITY, KEY_TTL),
            unknown: GuardedCache::new(KEY_CAPACITY, KEY_TTL),
            teams: GuardedCache::new(TEAM_CAPACITY, TEAM_TTL),
            members: GuardedCache::new(KEY_CAPACITY, TEAM_TTL),
            sessions: GuardedCache::new(KEY_CAPACITY, TEAM_TTL),
            trust,
            db,
        }
    }

    /// How many entries each cache holds: keys, unknown keys, teams, memberships, sessions.
    pub fn entries(&self) -> [(&'static str, u64); 5] {
        [
            ("keys", self.keys.entries()),
            ("unknown keys", self.unknown.entries()),
            ("teams", self.teams.entries()),
            ("memberships", self.members.entries()),
            ("sessions", self.sessions.entries()),
        ]
    }

    /// The keyed hash of a key's secret, as stored.
    pub fn hash(&self, secret: &str) -> String {
        domain::hash(&self.hashing_key, secret)
    }

    fn trusted(&self) -> bool {
        self.trust.get()
    }

    /// The key with this hash: from the cache, else the database.
    pub async fn lookup(&self, hash: String) -> Result<Option<Arc<CachedKey>>, ApiError> {
        let trusted = self.trusted();
        if trusted {
            if let Some(key) = self.keys.get(&hash) {
                return Ok(Some(key));
            }
            if self.unknown.get(&hash).is_some() {
                return Ok(None);
            }
        }
        let (seen, seen_unknown) = (self.keys.generation(), self.unknown.generation());
        let Some(row) = portal_db::api_keys::find_by_hash(&self.db, &hash).await? else {
            if trusted {
                self.unknown.insert_if_current(hash, (), seen_unknown);
            }
            return Ok(None);
        };
        let creator = creator_role(&self.db, &row).await?;
        let creator_two_factor = match row.created_by {
            Some(user) => portal_db::two_factor::enabled(&self.db, user).await?,
            None => true,
        };
        let key = Arc::new(cached_from(&row, creator, creator_two_factor)?);
        if trusted {
            self.keys.insert_if_current(hash, key.clone(), seen);
        }
        Ok(Some(key))
    }

    /// The team for key-authenticated reads: from the cache, else the database.
    pub async fn team(&self, team_id: Uuid) -> Result<Option<Arc<TeamSnapshot>>, ApiError> {
        let trusted = self.trusted();
        if trusted && let Some(snap) = self.teams.get(&team_id) {
            return Ok(Some(snap));
        }
        let seen = self.teams.generation();
        let Some(team) = portal_db::teams::find(&self.db, team_id).await? else { return Ok(None) };
        let counts = portal_db::teams::member_counts(&self.db, &[team_id]).await?;
        let member_count = counts.get(&team_id).copied().unwrap_or(0);
        let snap = Arc::new(TeamSnapshot::new(team, member_count));
        if trusted {
            self.teams.insert_if_current(team_id, snap.clone(), seen);
        }
        Ok(Some(snap))
    }

    /// A user's role in a team (None: not a member), for reads: from the cache, else the
    /// database. Writes read the membership in their own transaction instead.
    pub async fn membership(&self, team_id: Uuid, user_id: Uuid) -> Result<Option<Role>, ApiError> {
        let trusted = self.trusted();
        if trusted && let Some(role) = self.members.get(&(team_id, user_id)) {
            return Ok(Some(role));
        }
        let seen = self.members.generation();
        let role = portal_db::teams::membership_of(&self.db, team_id, user_id).await?.map(|m| m.role);
        if trusted && let Some(role) = role {
            self.members.insert_if_current((team_id, user_id), role, seen);
        }
        Ok(role)
    }

    /// None when the session has ended (its access tokens are refused), else whether its
    /// account has two-factor authentication on and where it started: from the cache, else the
    /// database.
    pub async fn session(&self, session_id: Uuid) -> Result<Option<SessionState>, ApiError> {
        let trusted = self.trusted();
        if trusted && let Some(state) = self.sessions.get(&session_id) {
            return Ok(state);
        }
        let seen = self.sessions.generation();
        let state = match portal_db::sessions::open(&self.db, session_id).await? {
            Some((user, sso_team)) => {
                Some(SessionState { two_factor: portal_db::two_factor::enabled(&self.db, user).await?, sso_team })
            }
            None => None,
        };
        if trusted {
            self.sessions.insert_if_current(session_id, state, seen);
        }
        Ok(state)
    }

    /// Drops what a change made stale.
    pub fn evict(&self, change: Change) {
        match change {
            Change::Key(id) => self.keys.evict_if(move |_, k| k.id == id),
            Change::Team(id) => {
                self.teams.evict(&id);
                self.members.evict_if(move |(team, _), _| *team == id);
                self.keys.evict_if(move |_, k| k.team_id == id);
            }
            Change::Reads(_) => {}
            Change::Session(id) => self.sessions.evict(&id),
        }
    }

    /// Drops everything (the channel was lost: any of it may be stale).
    pub fn clear(&self) {
        self.keys.clear();
        self.teams.clear();
        self.members.clear();
        self.sessions.clear();
    }
}
