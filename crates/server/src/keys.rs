//! API-key verification with an in-memory cache that never serves a stale revocation, and the
//! usage meter: counts batched in memory, flushed every second and on shutdown with additive
//! upserts.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use actix_web::http::StatusCode;
use chrono::{DateTime, Utc};
use portal_db::DatabaseConnection;
use portal_db::api_keys::{ApiKeyRow, environment_of};
use portal_db::usage::Increment;
use portal_domain::keys as domain;
use portal_types::{Environment, KeyStatus};
use uuid::Uuid;

use crate::error::ApiError;

/// A key as the cache holds it.
#[derive(Debug, Clone)]
pub struct CachedKey {
    pub id: Uuid,
    pub team_id: Uuid,
    pub name: String,
    pub environment: Environment,
    pub expires_at: Option<DateTime<Utc>>,
    pub revoked_at: Option<DateTime<Utc>>,
    pub grace_until: Option<DateTime<Utc>>,
    pub usage_limit: Option<u64>,
    /// Requests this month, as read from the database when cached.
    month_base: u64,
    month_start: DateTime<Utc>,
    loaded: Instant,
}

/// A verified key acting on a request.
#[derive(Debug, Clone)]
pub struct KeyAuth {
    pub key_id: Uuid,
    pub team_id: Uuid,
    pub name: String,
    pub environment: Environment,
    pub expires_at: Option<DateTime<Utc>>,
    pub usage_limit: Option<u64>,
    /// What remains of the monthly limit before this request.
    pub remaining: Option<u64>,
}

/// The key a request presented, for metering; set even when the key was refused.
#[derive(Debug, Clone, Copy)]
pub struct MeterTag {
    pub key_id: Uuid,
    pub team_id: Uuid,
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

/// Why a key was refused (401 or 429).
pub fn refusal(status: KeyStatus) -> Option<ApiError> {
    let (code, detail) = match status {
        KeyStatus::Active | KeyStatus::Rolling => return None,
        KeyStatus::Revoked => ("key_revoked", "This API key was revoked."),
        KeyStatus::Expired => ("key_expired", "This API key has expired."),
        KeyStatus::Rolled => ("key_rolled", "This API key was replaced by a rolled key and its grace period is over."),
    };
    Some(ApiError::new(StatusCode::UNAUTHORIZED, code, detail))
}

pub fn invalid_key() -> ApiError {
    ApiError::new(StatusCode::UNAUTHORIZED, "invalid_api_key", "The API key is not valid.")
}

/// (key, minute, status) of a usage count.
type Bucket = (Uuid, DateTime<Utc>, u16);
/// (team, requests, latency µs sum) of a bucket.
type BucketCount = (Uuid, i64, i64);

#[derive(Default)]
struct MeterBuffer {
    counts: HashMap<Bucket, BucketCount>,
    last_used: HashMap<Uuid, (i64, DateTime<Utc>)>,
}

/// How long a cached key may be used without asking the database again. Revocation does not
/// wait for this: it evicts at once (locally, and on other instances through NOTIFY).
const CACHE_TTL: Duration = Duration::from_secs(60);
/// Keys with a usage limit re-read their month's usage this often (other instances count too).
const LIMITED_TTL: Duration = Duration::from_secs(2);
pub const NOTIFY_CHANNEL: &str = "portal_api_keys";

/// A team as key-authenticated reads see it, cached.
#[derive(Debug, Clone)]
pub struct TeamSnapshot {
    pub team: portal_db::teams::Team,
    pub member_count: u64,
    loaded: Instant,
}

/// How long a cached team may be served; changes evict it at once (and through NOTIFY).
const TEAM_TTL: Duration = Duration::from_secs(10);

pub struct KeyService {
    db: DatabaseConnection,
    teams: RwLock<HashMap<Uuid, Arc<TeamSnapshot>>>,
    hashing_key: [u8; 32],
    cache: RwLock<HashMap<String, CachedKey>>,
    /// Requests counted locally since each key was cached (for limits).
    local_use: Mutex<HashMap<Uuid, u64>>,
    /// False while the invalidation channel is down: then nothing is served from the cache.
    cache_trusted: AtomicBool,
    meter: Mutex<MeterBuffer>,
    flush_lock: tokio::sync::Mutex<()>,
}

impl KeyService {
    pub fn new(db: DatabaseConnection, server_secret: &str) -> Arc<Self> {
        let postgres = portal_db::changes::is_postgres(&db);
        Arc::new(Self {
            db,
            hashing_key: domain::hashing_key(server_secret),
            teams: RwLock::new(HashMap::new()),
            cache: RwLock::new(HashMap::new()),
            local_use: Mutex::new(HashMap::new()),
            // On PostgreSQL other instances may revoke: trust the cache only once LISTEN runs.
            cache_trusted: AtomicBool::new(!postgres),
            meter: Mutex::new(MeterBuffer::default()),
            flush_lock: tokio::sync::Mutex::new(()),
        })
    }

    pub fn hash(&self, secret: &str) -> String {
        domain::hash(&self.hashing_key, secret)
    }

    fn cached(&self, hash: &str) -> Option<CachedKey> {
        if !self.cache_trusted.load(Ordering::Acquire) {
            return None;
        }
        let cache = self.cache.read().unwrap_or_else(|e| e.into_inner());
        let entry = cache.get(hash)?;
        let ttl = if entry.usage_limit.is_some() { LIMITED_TTL } else { CACHE_TTL };
        let same_month = domain::month_bounds(Utc::now()).0 == entry.month_start;
        (entry.loaded.elapsed() < ttl && same_month).then(|| entry.clone())
    }

    async fn load(&self, hash: &str, now: DateTime<Utc>) -> Result<Option<CachedKey>, ApiError> {
        let Some(row) = portal_db::api_keys::find_by_hash(&self.db, hash).await? else { return Ok(None) };
        let (month_start, _) = domain::month_bounds(now);
        let month_base = match row.usage_limit {
            Some(_) => portal_db::usage::count_since(&self.db, row.id, month_start).await?,
            None => 0,
        };
        let entry = cached_from(&row, month_base, month_start)?;
        // Requests counted here but not flushed yet are not in `month_base`: keep them.
        let unflushed: i64 = {
            let meter = self.meter.lock().unwrap_or_else(|e| e.into_inner());
            meter
                .counts
                .iter()
                .filter(|((key, minute, _), _)| *key == row.id && *minute >= month_start)
                .map(|(_, c)| c.1)
                .sum()
        };
        self.local_use.lock().unwrap_or_else(|e| e.into_inner()).insert(row.id, u64::try_from(unflushed).unwrap_or(0));
        self.cache.write().unwrap_or_else(|e| e.into_inner()).insert(hash.to_owned(), entry.clone());
        Ok(Some(entry))
    }

    /// Verifies a presented key: format and checksum first (no database work for garbage), then
    /// the cache or the database. `Err` carries the refusal and, for a known key, its meter tag.
    pub async fn verify(&self, secret: &str) -> Result<KeyAuth, (ApiError, Option<MeterTag>)> {
        domain::parse(secret).map_err(|_| (invalid_key(), None))?;
        let hash = self.hash(secret);
        let now = Utc::now();
        let entry = match self.cached(&hash) {
            Some(entry) => entry,
            None => self.load(&hash, now).await.map_err(|e| (e, None))?.ok_or_else(|| (invalid_key(), None))?,
        };
        let tag = MeterTag { key_id: entry.id, team_id: entry.team_id };
        if let Some(refused) = refusal(status_of(entry.revoked_at, entry.expires_at, entry.grace_until, now)) {
            return Err((refused, Some(tag)));
        }
        let remaining = match entry.usage_limit {
            None => None,
            Some(limit) => {
                let local =
                    self.local_use.lock().unwrap_or_else(|e| e.into_inner()).get(&entry.id).copied().unwrap_or(0);
                let used = entry.month_base + local;
                if used >= limit {
                    let (_, next_month) = domain::month_bounds(now);
                    let retry = (next_month - now).num_seconds().max(1) as u64;
                    let mut err = ApiError::new(
                        StatusCode::TOO_MANY_REQUESTS,
                        "usage_limit_exceeded",
                        format!("This key's monthly usage limit of {limit} requests is spent."),
                    );
                    err.retry_after = Some(retry);
                    err.rate_limit = Some((limit, 0, retry));
                    return Err((err, Some(tag)));
                }
                Some(limit - used)
            }
        };
        Ok(KeyAuth {
            key_id: entry.id,
            team_id: entry.team_id,
            name: entry.name,
            environment: entry.environment,
            expires_at: entry.expires_at,
            usage_limit: entry.usage_limit,
            remaining,
        })
    }

    /// The key a request presented, for metering a request no handler authenticated (an
    /// unknown route, a user-only endpoint): known keys only.
    pub async fn tag_of(&self, secret: &str) -> Option<MeterTag> {
        match self.verify(secret).await {
            Ok(key) => Some(MeterTag { key_id: key.key_id, team_id: key.team_id }),
            Err((_, tag)) => tag,
        }
    }

    /// Drops a key from this instance's cache.
    pub fn evict(&self, key_id: Uuid) {
        self.cache.write().unwrap_or_else(|e| e.into_inner()).retain(|_, k| k.id != key_id);
    }

    fn evict_all(&self) {
        self.cache.write().unwrap_or_else(|e| e.into_inner()).clear();
        self.teams.write().unwrap_or_else(|e| e.into_inner()).clear();
    }

    /// Drops a team (and its keys, which die with a deleted team) from this instance's caches.
    pub fn evict_team(&self, team_id: Uuid) {
        self.teams.write().unwrap_or_else(|e| e.into_inner()).remove(&team_id);
        self.cache.write().unwrap_or_else(|e| e.into_inner()).retain(|_, k| k.team_id != team_id);
    }

    /// The team for key-authenticated reads: from the cache, else the database.
    pub async fn team(&self, team_id: Uuid) -> Result<Option<Arc<TeamSnapshot>>, ApiError> {
        if self.cache_trusted.load(Ordering::Acquire) {
            let teams = self.teams.read().unwrap_or_else(|e| e.into_inner());
            if let Some(snap) = teams.get(&team_id).filter(|s| s.loaded.elapsed() < TEAM_TTL) {
                return Ok(Some(snap.clone()));
            }
        }
        let Some(team) = portal_db::teams::find(&self.db, team_id).await? else { return Ok(None) };
        let counts = portal_db::teams::member_counts(&self.db, &[team_id]).await?;
        let snap = Arc::new(TeamSnapshot {
            member_count: counts.get(&team_id).copied().unwrap_or(0),
            team,
            loaded: Instant::now(),
        });
        self.teams.write().unwrap_or_else(|e| e.into_inner()).insert(team_id, snap.clone());
        Ok(Some(snap))
    }

    /// Counts one answered request of a key.
    pub fn record(&self, tag: MeterTag, status: u16, latency: Duration) {
        let now = Utc::now();
        let minute = domain::minute_of(now);
        let latency_us = i64::try_from(latency.as_micros()).unwrap_or(i64::MAX);
        {
            let mut meter = self.meter.lock().unwrap_or_else(|e| e.into_inner());
            let entry = meter.counts.entry((tag.key_id, minute, status)).or_insert((tag.team_id, 0, 0));
            entry.1 += 1;
            entry.2 += latency_us;
            let last = meter.last_used.entry(tag.key_id).or_insert((0, now));
            last.0 += 1;
            last.1 = last.1.max(now);
        }
        *self.local_use.lock().unwrap_or_else(|e| e.into_inner()).entry(tag.key_id).or_insert(0) += 1;
    }

    /// Writes the buffered counts in one transaction; on failure they go back into the buffer,
    /// so nothing is lost and nothing is counted twice.
    pub async fn flush(&self) -> Result<(), portal_db::Error> {
        let _serial = self.flush_lock.lock().await;
        let taken = std::mem::take(&mut *self.meter.lock().unwrap_or_else(|e| e.into_inner()));
        if taken.counts.is_empty() {
            return Ok(());
        }
        let increments: Vec<Increment> = taken
            .counts
            .iter()
            .map(|(&(key_id, minute, status), &(team_id, count, latency_us_sum))| Increment {
                key_id,
                team_id,
                minute,
                status,
                count,
                latency_us_sum,
            })
            .collect();
        let result = async {
            let txn = portal_db::TransactionTrait::begin(&self.db).await?;
            portal_db::usage::add(&txn, &increments).await?;
            for (key_id, (count, last)) in &taken.last_used {
                portal_db::api_keys::add_requests(&txn, *key_id, *count, *last).await?;
            }
            txn.commit().await?;
            Ok::<_, portal_db::Error>(())
        }
        .await;
        if let Err(e) = &result {
            tracing::warn!(error = %e, "usage flush failed; keeping the counts for the next try");
            let mut meter = self.meter.lock().unwrap_or_else(|e| e.into_inner());
            for (k, (team, n, lat)) in taken.counts {
                let entry = meter.counts.entry(k).or_insert((team, 0, 0));
                entry.1 += n;
                entry.2 += lat;
            }
            for (k, (n, last)) in taken.last_used {
                let entry = meter.last_used.entry(k).or_insert((0, last));
                entry.0 += n;
                entry.1 = entry.1.max(last);
            }
        }
        result
    }

    /// Flushes every second until `stop`, then once more.
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
            if self.flush().await.is_ok() {
                break;
            }
        }
    }

    /// On PostgreSQL: evicts keys that any instance changed (LISTEN), and distrusts the cache
    /// while the channel is down.
    pub async fn run_listener(self: Arc<Self>, mut stop: tokio::sync::watch::Receiver<bool>) {
        use portal_db::changes::{ChangeListener, Heard};
        loop {
            self.cache_trusted.store(false, Ordering::Release);
            let mut listener = tokio::select! {
                l = ChangeListener::connect(&self.db) => match l {
                    Ok(l) => l,
                    Err(e) => {
                        tracing::warn!(error = %e, "cannot LISTEN for key changes; serving keys uncached");
                        tokio::select! {
                            _ = tokio::time::sleep(Duration::from_secs(1)) => continue,
                            _ = stop.changed() => return,
                        }
                    }
                },
                _ = stop.changed() => return,
            };
            // Whatever changed while nobody listened is unknown: start empty.
            self.evict_all();
            self.cache_trusted.store(true, Ordering::Release);
            loop {
                tokio::select! {
                    heard = listener.next() => match heard {
                        Heard::Key(id) => self.evict(id),
                        Heard::Team(id) => self.evict_team(id),
                        Heard::Lost => break,
                    },
                    _ = stop.changed() => return,
                }
            }
            tracing::warn!("key-change channel lost; reconnecting");
        }
    }
}

fn cached_from(row: &ApiKeyRow, month_base: u64, month_start: DateTime<Utc>) -> Result<CachedKey, ApiError> {
    Ok(CachedKey {
        id: row.id,
        team_id: row.team_id,
        name: row.name.clone(),
        environment: environment_of(row)?,
        expires_at: row.expires_at,
        revoked_at: row.revoked_at,
        grace_until: row.grace_until,
        usage_limit: row.usage_limit.and_then(|l| u64::try_from(l).ok()),
        month_base,
        month_start,
        loaded: Instant::now(),
    })
}
