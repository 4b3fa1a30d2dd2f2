//! The limits a key may carry: a per-second rate (GCRA, through `governor`) and a monthly quota.
//!
//! The monthly quota is exact across any number of instances: instances lease parts of it from
//! the database (`usage_months.leased`, never above the limit) and serve only what they hold.
//! A lease shrinks as the quota runs out, unused leases go back when a key falls idle or the
//! instance stops, and a crash loses at most one lease (never more than 1,000 requests) of a
//! key's month: it is under-served, never over-served.

use std::collections::HashMap;
use std::num::NonZeroU32;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use governor::clock::{Clock, DefaultClock};
use governor::middleware::StateInformationMiddleware;
use governor::state::{InMemoryState, NotKeyed};
use governor::{Quota, RateLimiter};
use portal_db::DatabaseConnection;
use portal_domain::usage::month_bounds;
use portal_types::ErrorCode;
use portal_types::RateLimit;
use uuid::Uuid;

use crate::error::{ApiError, RateLimitHeaders};
use crate::services::auth_cache::CachedKey;

type Gcra = RateLimiter<NotKeyed, InMemoryState, DefaultClock, StateInformationMiddleware>;

/// The largest part of a quota one lease takes.
const MAX_LEASE: u64 = 1000;
/// A key unused this long gives its unused lease back.
const IDLE: Duration = Duration::from_secs(5);
/// How often a spent quota is asked again (other instances may give leases back, the limit may rise).
const SPENT_RECHECK: Duration = Duration::from_secs(1);

/// One limit as the IETF draft fields describe it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Policy {
    /// `q`: requests the window allows (the monthly limit; the burst).
    pub quota: u64,
    /// `w`: seconds of the window (this month; the time a whole burst takes to come back).
    pub window: u64,
    /// `r`: requests left after this one.
    pub remaining: u64,
    /// `t`: seconds until the quota is whole again (the next month; the burst refilled).
    pub reset: u64,
}

/// What a key may still do, for the `RateLimit-Policy` and `RateLimit` fields.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LimitReport {
    pub monthly: Option<Policy>,
    pub rate: Option<Policy>,
}

impl LimitReport {
    pub fn is_empty(&self) -> bool {
        self.monthly.is_none() && self.rate.is_none()
    }

    /// The IETF draft fields (draft-ietf-httpapi-ratelimit-headers): policies and their state.
    pub fn headers(&self) -> RateLimitHeaders {
        let mut policy = Vec::new();
        let mut current = Vec::new();
        for (name, limit) in [("monthly", self.monthly), ("rate", self.rate)] {
            if let Some(Policy { quota, window, remaining, reset }) = limit {
                policy.push(format!("\"{name}\";q={quota};w={window}"));
                current.push(format!("\"{name}\";r={remaining};t={reset}"));
            }
        }
        RateLimitHeaders { policy: policy.join(", "), current: current.join(", ") }
    }
}

struct Lease {
    month: DateTime<Utc>,
    /// Quota this instance holds and has not used.
    balance: u64,
    /// Quota handed out to all instances, as of this instance's last lease.
    leased: u64,
    last_use: Instant,
    spent_until: Option<Instant>,
}

/// Where per-key rate-limit states live (`PORTAL_RATE_LIMIT_SCOPE`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum RateScope {
    /// In each instance's memory: n instances admit up to n times a key's rate. No cost.
    #[default]
    Instance,
    /// In PostgreSQL, shared by every instance (exact): one upsert per limited request.
    Cluster,
}

pub struct Limits {
    db: DatabaseConnection,
    scope: RateScope,
    leases: Mutex<HashMap<Uuid, Arc<tokio::sync::Mutex<Lease>>>>,
    /// Leases of forgotten keys, to give back at the next flush.
    returns: Mutex<Vec<(Uuid, DateTime<Utc>, u64)>>,
    rates: moka::sync::Cache<Uuid, Arc<(RateLimit, Gcra)>>,
}

fn seconds(d: chrono::TimeDelta) -> u64 {
    u64::try_from(d.num_seconds()).unwrap_or(0)
}

impl Limits {
    pub fn new(db: DatabaseConnection, scope: RateScope) -> Self {
        Self {
            db,
            scope,
            leases: Mutex::new(HashMap::new()),
            returns: Mutex::new(Vec::new()),
            rates: moka::sync::Cache::builder().max_capacity(100_000).time_to_idle(Duration::from_secs(600)).build(),
        }
    }

    /// How many keys' rate-limit states are kept.
    pub fn rates_kept(&self) -> u64 {
        self.rates.run_pending_tasks();
        self.rates.entry_count()
    }

    /// Checks both limits of `key` for one request; keys without limits pay nothing here.
    pub async fn admit(&self, key: &CachedKey, now: DateTime<Utc>) -> Result<LimitReport, ApiError> {
        let mut report = LimitReport::default();
        if let Some(rate) = key.rate_limit {
            report.rate = Some(match self.scope {
                RateScope::Instance => self.check_rate(key.id, rate)?,
                RateScope::Cluster => check_shared_rate(&self.db, key.id, rate).await?,
            });
        }
        if let Some(limit) = key.usage_limit {
            match self.take_quota(key, limit, now).await {
                Ok(monthly) => report.monthly = Some(monthly),
                Err(mut refused) => {
                    let reset = refused.retry_after.unwrap_or(0);
                    report.monthly = Some(Policy { quota: limit, window: month_window(now), remaining: 0, reset });
                    refused.rate_limit = Some(Box::new(report.headers()));
                    return Err(refused);
                }
            }
        }
        Ok(report)
    }

    fn check_rate(&self, key_id: Uuid, rate: RateLimit) -> Result<Policy, ApiError> {
        let build = || {
            let per_second = NonZeroU32::new(rate.requests_per_second).unwrap_or(NonZeroU32::MIN);
            let burst = NonZeroU32::new(rate.burst).unwrap_or(NonZeroU32::MIN);
            Arc::new((rate, RateLimiter::direct(Quota::per_second(per_second).allow_burst(burst)).with_middleware()))
        };
        let mut limiter = self.rates.get_with(key_id, build);
        if limiter.0 != rate {
            // The key's rate limit changed: start afresh under the new one.
            self.rates.invalidate(&key_id);
            limiter = self.rates.get_with(key_id, build);
        }
        let per_second = u64::from(rate.requests_per_second.max(1));
        let burst = u64::from(rate.burst.max(1));
        let window = burst.div_ceil(per_second);
        match limiter.1.check() {
            Ok(state) => {
                let remaining = u64::from(state.remaining_burst_capacity()).min(burst);
                Ok(Policy { quota: burst, window, remaining, reset: (burst - remaining).div_ceil(per_second) })
            }
            Err(not_until) => Err(rate_exceeded(rate, not_until.wait_time_from(DefaultClock::default().now()))),
        }
    }

    /// Takes one request of the month's quota: from this instance's lease, or a new one.
    async fn take_quota(&self, key: &CachedKey, limit: u64, now: DateTime<Utc>) -> Result<Policy, ApiError> {
        let (month, next) = month_bounds(now);
        let reset = seconds(next - now).max(1);
        let slot = {
            let mut leases = self.leases.lock().unwrap_or_else(|e| e.into_inner());
            leases
                .entry(key.id)
                .or_insert_with(|| {
                    Arc::new(tokio::sync::Mutex::new(Lease {
                        month,
                        balance: 0,
                        leased: 0,
                        last_use: Instant::now(),
                        spent_until: None,
                    }))
                })
                .clone()
        };
        let mut lease = slot.lock().await;
        if lease.month != month {
            // Last month's unused lease does not carry over.
            *lease = Lease { month, balance: 0, leased: 0, last_use: Instant::now(), spent_until: None };
        }
        lease.last_use = Instant::now();
        if lease.balance == 0 {
            if lease.spent_until.is_some_and(|t| t > Instant::now()) {
                return Err(limit_exceeded(limit, reset));
            }
            let want = (limit.saturating_sub(lease.leased) / 8).clamp(1, MAX_LEASE);
            let (granted, leased) = portal_db::usage::lease(&self.db, key.id, key.team_id, month, want, limit).await?;
            lease.leased = leased;
            lease.balance = granted;
            if granted == 0 {
                lease.spent_until = Some(Instant::now() + SPENT_RECHECK);
                return Err(limit_exceeded(limit, reset));
            }
            lease.spent_until = None;
        }
        lease.balance -= 1;
        let remaining = limit.saturating_sub(lease.leased) + lease.balance;
        Ok(Policy { quota: limit, window: month_window(now), remaining, reset })
    }

    /// Forgets a key's lease (its limit changed, or it was revoked); what it held goes back.
    pub fn forget(&self, key_id: Uuid) {
        let slot = self.leases.lock().unwrap_or_else(|e| e.into_inner()).remove(&key_id);
        self.rates.invalidate(&key_id);
        // A lease being renewed right now stays taken: the quota is under-served by it, never over.
        if let Some(mut lease) = slot.as_ref().and_then(|s| s.try_lock().ok()) {
            let unused = std::mem::take(&mut lease.balance);
            if unused > 0 {
                self.returns.lock().unwrap_or_else(|e| e.into_inner()).push((key_id, lease.month, unused));
            }
        }
    }

    pub fn forget_all(&self) {
        let ids: Vec<Uuid> = self.leases.lock().unwrap_or_else(|e| e.into_inner()).keys().copied().collect();
        for id in ids {
            self.forget(id);
        }
    }

    /// Gives back the leases of keys idle for a while (all of them when `everything`), and those
    /// of forgotten keys.
    pub async fn give_back(&self, everything: bool) -> Result<(), portal_db::Error> {
        let mut returns = std::mem::take(&mut *self.returns.lock().unwrap_or_else(|e| e.into_inner()));
        {
            let mut leases = self.leases.lock().unwrap_or_else(|e| e.into_inner());
            leases.retain(|id, slot| {
                let Ok(mut lease) = slot.try_lock() else { return true };
                let idle = lease.last_use.elapsed() >= IDLE;
                if (idle || everything) && lease.balance > 0 {
                    returns.push((*id, lease.month, std::mem::take(&mut lease.balance)));
                }
                // Idle keys are dropped; their next request leases afresh.
                !(idle || everything)
            });
        }
        let mut failed = Vec::new();
        for (key_id, month, unused) in returns {
            if let Err(e) = portal_db::usage::release(&self.db, key_id, month, unused).await {
                tracing::warn!(error = %e, "giving back an unused quota lease failed; retrying later");
                failed.push((key_id, month, unused));
            }
        }
        if failed.is_empty() {
            Ok(())
        } else {
            self.returns.lock().unwrap_or_else(|e| e.into_inner()).extend(failed);
            Err(portal_db::Error::Db(portal_db::DbErr::Custom("lease release failed".into())))
        }
    }
}

/// The burst and the seconds a whole burst takes to come back.
fn burst_window(rate: RateLimit) -> (u64, u64) {
    let burst = u64::from(rate.burst.max(1));
    (burst, burst.div_ceil(u64::from(rate.requests_per_second.max(1))))
}

/// 429 `rate_limited` with `Retry-After` and the `rate` policy, `wait` before a request may go.
fn rate_exceeded(rate: RateLimit, wait: Duration) -> ApiError {
    let (burst, window) = burst_window(rate);
    let retry = (wait.as_secs() + u64::from(wait.subsec_nanos() > 0)).max(1);
    let mut refused = ApiError::new(
        ErrorCode::RateLimited,
        format!(
            "This key may make {} requests per second (bursts of {}); slow down.",
            rate.requests_per_second, rate.burst
        ),
    );
    refused.retry_after = Some(retry);
    let policy = Policy { quota: burst, window, remaining: 0, reset: retry };
    refused.rate_limit = Some(Box::new(LimitReport { monthly: None, rate: Some(policy) }.headers()));
    refused
}

/// The rate of `key_id` by the state every instance shares (`RateScope::Cluster`).
async fn check_shared_rate(db: &DatabaseConnection, key_id: Uuid, rate: RateLimit) -> Result<Policy, ApiError> {
    use portal_db::rate_limits::Admission;
    let per_second = i64::from(rate.requests_per_second.max(1));
    let (burst, window) = burst_window(rate);
    let interval = (1_000_000 / per_second).max(1);
    let tolerance = interval * i64::from(rate.burst.max(1));
    match portal_db::rate_limits::take(db, key_id, interval, tolerance).await? {
        Admission::Admitted { ahead } => {
            let remaining = u64::try_from((tolerance - ahead) / interval).unwrap_or(0).min(burst);
            Ok(Policy {
                quota: burst,
                window,
                remaining,
                reset: (burst - remaining).div_ceil(per_second.unsigned_abs()),
            })
        }
        Admission::Refused { ahead } => {
            let wait = u64::try_from(ahead + interval - tolerance).unwrap_or(0);
            Err(rate_exceeded(rate, Duration::from_micros(wait)))
        }
    }
}

fn month_window(now: DateTime<Utc>) -> u64 {
    let (start, next) = month_bounds(now);
    seconds(next - start)
}

fn limit_exceeded(limit: u64, reset: u64) -> ApiError {
    let mut err = ApiError::new(
        ErrorCode::UsageLimitExceeded,
        format!("This key's monthly usage limit of {limit} requests is spent."),
    );
    err.retry_after = Some(reset);
    err
}
