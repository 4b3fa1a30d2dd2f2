//! API keys on the request path: verification (format and checksum first, then bounded caches
//! of keys, of unknown keys and of teams), the key's limits, the usage meter, and cache
//! invalidation across instances.

mod cache;
mod invalidation;
mod limits;
mod meter;
mod reads;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use chrono::{DateTime, Utc};
use portal_db::DatabaseConnection;
use portal_db::api_keys::{ApiKeyRow, environment_of, rate_limit_of};
use portal_domain::keys as domain;
use portal_domain::policy::{Actor, KeyPrincipal};
use portal_domain::scopes::{AllowList, KeyShape, ScopeSet};
use portal_types::ErrorCode;
use portal_types::{Environment, KeyStatus, RateLimit, Role};
use uuid::Uuid;

use self::cache::GuardedCache;
pub use self::invalidation::Change;
pub use self::limits::LimitReport;
use self::limits::Limits;
use self::meter::Meter;
pub use self::meter::{MeterTag, Pending};
use self::reads::ReadCache;
pub use self::reads::{PageKey, SpanKey, Weigh};
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

/// The state of a key right now.
pub fn status_of(
    row_revoked: Option<DateTime<Utc>>,
    expires: Option<DateTime<Utc>>,
    grace: Option<DateTime<Utc>>,
    now: DateTime<Utc>,
) -> KeyStatus {
    if row_revoked.is_some() {
        KeyStatus::Revoked
    } else if expires.is_some_and(|e| e <= now) {
        KeyStatus::Expired
    } else if let Some(g) = grace {
        if g <= now { KeyStatus::Rolled } else { KeyStatus::Rolling }
    } else {
        KeyStatus::Active
    }
}

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
    /// The answer to a key's `GET /teams/{id}`, serialized once per snapshot.
    pub body: std::sync::OnceLock<actix_web::web::Bytes>,
}

pub struct KeyService {
    db: DatabaseConnection,
    hashing_key: [u8; 32],
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
    sessions: GuardedCache<Uuid, Option<bool>>,
    /// False while the invalidation channel is down: then nothing is served from the caches.
    cache_trusted: AtomicBool,
    limits: Limits,
    meter: Meter,
    /// What teams' lists and usage pages read, kept until the team changes.
    read_cache: ReadCache,
    /// This instance, in what it announces to the others.
    instance: Uuid,
    /// When a read last had the buffered counts written ahead of the flusher.
    written_early: std::sync::Mutex<Option<std::time::Instant>>,
}

/// Reads ordered by use write the buffered counts first at most this often: a client asking
/// again and again (each of its requests counted) cannot turn every request into a write.
const EARLY_WRITE_EVERY: std::time::Duration = std::time::Duration::from_millis(100);

impl KeyService {
    pub fn new(db: DatabaseConnection, server_secret: &str, read_cache: bool) -> Arc<Self> {
        let postgres = portal_db::changes::is_postgres(&db);
        Arc::new(Self {
            hashing_key: domain::hashing_key(server_secret),
            keys: GuardedCache::new(KEY_CAPACITY, KEY_TTL),
            unknown: GuardedCache::new(KEY_CAPACITY, KEY_TTL),
            teams: GuardedCache::new(TEAM_CAPACITY, TEAM_TTL),
            members: GuardedCache::new(KEY_CAPACITY, TEAM_TTL),
            sessions: GuardedCache::new(KEY_CAPACITY, TEAM_TTL),
            // On PostgreSQL other instances may revoke: trust the caches only once LISTEN runs.
            cache_trusted: AtomicBool::new(!postgres),
            limits: Limits::new(db.clone()),
            meter: Meter::default(),
            read_cache: ReadCache::new(read_cache),
            instance: Uuid::new_v4(),
            written_early: std::sync::Mutex::new(None),
            db,
        })
    }

    pub fn hash(&self, secret: &str) -> String {
        domain::hash(&self.hashing_key, secret)
    }

    fn trusted(&self) -> bool {
        self.cache_trusted.load(Ordering::Acquire)
    }

    /// What `load` reads of `team` for `what` (the endpoint and every parameter that shapes the
    /// read), kept until something of the team changes. Nothing is kept while the channel that
    /// tells of other instances' changes is down.
    pub async fn cached_read<T, E, F>(&self, team: Uuid, what: PageKey, load: F) -> Result<Arc<T>, E>
    where
        T: Weigh + Send + Sync + 'static,
        F: std::future::Future<Output = Result<T, E>>,
    {
        self.read_cache.get_or_load(team, what, self.trusted(), load).await
    }

    /// [`KeyService::cached_read`] of a page that shows counted usage: usage another instance
    /// counted for the team moves it on too. Read it under `hold_flushes`; it comes with the
    /// number of this instance's flushes it was read after, for [`KeyService::pending`].
    pub async fn cached_counted_read<T, E, F>(&self, team: Uuid, what: PageKey, load: F) -> Result<(Arc<T>, u64), E>
    where
        T: Weigh + Send + Sync + 'static,
        F: std::future::Future<Output = Result<T, E>>,
    {
        let flushes = self.meter.flushes();
        self.read_cache.get_or_load_counted(team, what, flushes, self.trusted(), load).await
    }

    /// The key with this hash: from the cache, else the database.
    async fn lookup(&self, hash: String) -> Result<Option<Arc<CachedKey>>, ApiError> {
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

    /// Verifies a presented key: format and checksum first (no database work for garbage),
    /// then the caches or the database, the key's status, where it is used from (when `client`
    /// is known), and its limits. A request from outside the allowlist counts no quota.
    pub async fn verify(&self, secret: &str, client: Option<std::net::IpAddr>) -> Result<KeyAuth, Refusal> {
        let refuse = |error: ApiError, tag: Option<MeterTag>| Refusal { error, tag };
        domain::parse(secret).map_err(|_| refuse(invalid_key(), None))?;
        let key = self.lookup(self.hash(secret)).await.map_err(|e| refuse(e, None))?;
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
        let limits = self.limits.admit(&key, now).await.map_err(|e| refuse(e, Some(tag)))?;
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
        let snap = Arc::new(TeamSnapshot { member_count, team, body: std::sync::OnceLock::new() });
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
    /// account has two-factor authentication on: from the cache, else the database.
    pub async fn session(&self, session_id: Uuid) -> Result<Option<bool>, ApiError> {
        let trusted = self.trusted();
        if trusted && let Some(state) = self.sessions.get(&session_id) {
            return Ok(state);
        }
        let seen = self.sessions.generation();
        let state = match portal_db::sessions::open_user(&self.db, session_id).await? {
            Some(user) => Some(portal_db::two_factor::enabled(&self.db, user).await?),
            None => None,
        };
        if trusted {
            self.sessions.insert_if_current(session_id, state, seen);
        }
        Ok(state)
    }

    /// Counts one answered request of a key; `admitted` when it passed the key check.
    pub fn record(&self, tag: MeterTag, status: u16, latency: Duration, admitted: bool) {
        self.meter.record(tag, status, latency, admitted);
    }

    /// Keeps this instance's flushes out while the caller reads usage and [`KeyService::pending`].
    pub async fn hold_flushes(&self) -> tokio::sync::RwLockReadGuard<'_, ()> {
        self.meter.hold_flushes().await
    }

    /// What this instance counted for a key or team of `team` that a read made after its flush
    /// `since` does not hold (from [`KeyService::cached_counted_read`]).
    pub fn pending(&self, team: Uuid, scope: portal_db::usage::Scope, month: DateTime<Utc>, since: u64) -> Pending {
        self.meter.pending(team, scope, month, since)
    }

    /// A key's requests and latest use that this instance has not written yet.
    pub fn pending_use(&self, team: Uuid, key_id: Uuid) -> Option<(u64, DateTime<Utc>)> {
        self.meter.pending_uses(team, &[key_id], self.meter.flushes().now).pop().flatten()
    }

    /// Each key's requests and latest use that a read made after flush `since` does not hold,
    /// in one look at the buffers.
    pub fn pending_uses(&self, team: Uuid, key_ids: &[Uuid], since: u64) -> Vec<Option<(u64, DateTime<Utc>)>> {
        self.meter.pending_uses(team, key_ids, since)
    }

    /// Writes this instance's buffered counts now, so that a list ordered by use reads them in
    /// order; unless that was done less than [`EARLY_WRITE_EVERY`] ago.
    pub async fn write_counts(&self) -> Result<(), portal_db::Error> {
        {
            let mut last = self.written_early.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
            let now = std::time::Instant::now();
            if last.is_some_and(|at| now.duration_since(at) < EARLY_WRITE_EVERY) {
                return Ok(());
            }
            *last = Some(now);
        }
        self.meter.flush(&self.db, self.instance).await
    }

    /// Writes the buffered counts, and gives back quota leases of idle keys.
    pub async fn flush(&self) -> Result<(), portal_db::Error> {
        let counted = self.meter.flush(&self.db, self.instance).await;
        let leases = self.limits.give_back(false).await;
        counted.and(leases)
    }

    /// Flushes every `every` until `stop`; then once more, and gives back every lease.
    pub async fn run_flusher(self: Arc<Self>, every: Duration, mut stop: tokio::sync::watch::Receiver<bool>) {
        let mut tick = tokio::time::interval(every);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = tick.tick() => { let _ = self.flush().await; }
                _ = stop.changed() => break,
            }
        }
        for _ in 0..5 {
            if self.meter.flush(&self.db, self.instance).await.is_ok() {
                break;
            }
        }
        let _ = self.limits.give_back(true).await;
    }
}

/// The role that caps a key (`domain::policy::Actor::ApiKey`): its creator's current role in the
/// team; `Member` once they left it (the key keeps what a member may read); `Admin` for a key
/// that another key made before creators were recorded.
pub async fn creator_role(db: &impl portal_db::ConnectionTrait, row: &ApiKeyRow) -> Result<Role, portal_db::Error> {
    Ok(match row.created_by {
        Some(user) => portal_db::teams::membership_of(db, row.team_id, user).await?.map_or(Role::Member, |m| m.role),
        None => Role::Admin,
    })
}

/// How the permission table sees a stored key now, if it still works at all.
pub async fn actor_of(
    db: &impl portal_db::ConnectionTrait,
    row: &ApiKeyRow,
    now: DateTime<Utc>,
) -> Result<Option<Actor>, portal_db::Error> {
    let status = status_of(row.revoked_at, row.expires_at, row.grace_until, now);
    if !matches!(status, KeyStatus::Active | KeyStatus::Rolling) {
        return Ok(None);
    }
    Ok(Some(portal_domain::policy::Actor::ApiKey {
        rolling: status == KeyStatus::Rolling,
        scopes: ScopeSet::from_stored(&row.scopes),
        creator: creator_role(db, row).await?,
    }))
}

fn cached_from(row: &ApiKeyRow, creator: Role, creator_two_factor: bool) -> Result<CachedKey, ApiError> {
    Ok(CachedKey {
        id: row.id,
        team_id: row.team_id,
        name: row.name.as_str().into(),
        environment: environment_of(row)?,
        expires_at: row.expires_at,
        revoked_at: row.revoked_at,
        grace_until: row.grace_until,
        usage_limit: row.usage_limit.and_then(|l| u64::try_from(l).ok()),
        rate_limit: rate_limit_of(row),
        scopes: ScopeSet::from_stored(&row.scopes),
        allowed: Arc::new(AllowList::from_stored(row.allowed_ips.as_deref())),
        created_by: row.created_by,
        creator,
        creator_two_factor,
    })
}
