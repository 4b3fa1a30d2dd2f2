//! The usage meter as a service: every request made with a key counted in memory and flushed
//! ([`buffer`]), and the limits that admit it: a rate per second and a monthly quota leased
//! from the database ([`limits`]).

pub mod buffer;
pub mod limits;

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use portal_db::DatabaseConnection;
use uuid::Uuid;

use self::buffer::Meter;
pub use self::buffer::{Flushes, MeterTag, Pending};
use self::limits::{LimitReport, Limits};
use crate::error::ApiError;
use crate::services::auth_cache::CachedKey;

/// Reads ordered by use write the buffered counts first at most this often (the default flush
/// period): a client asking again and again (each of its requests counted) cannot turn every
/// request into a write, and every write holds reads for its commit (on PostgreSQL a few
/// milliseconds) and moves the pages ordered by use on.
const EARLY_WRITE_EVERY: std::time::Duration = std::time::Duration::from_millis(500);

pub struct MeterService {
    db: DatabaseConnection,
    meter: Meter,
    limits: Limits,
    /// This instance, in what its flushes announce to the others.
    pub instance: Uuid,
    /// When a read last had the buffered counts written ahead of the flusher.
    written_early: std::sync::Mutex<Option<std::time::Instant>>,
}

impl MeterService {
    /// How many keys' rate-limit states are kept.
    pub fn rate_limits_kept(&self) -> u64 {
        self.limits.rates_kept()
    }

    pub fn new(db: DatabaseConnection, scope: limits::RateScope) -> Self {
        Self {
            limits: Limits::new(db.clone(), scope),
            meter: Meter::default(),
            instance: Uuid::new_v4(),
            written_early: std::sync::Mutex::new(None),
            db,
        }
    }

    /// Admits a request of `key` by its limits (rate, then quota), or refuses it with 429.
    pub async fn admit(&self, key: &CachedKey, now: DateTime<Utc>) -> Result<LimitReport, ApiError> {
        self.limits.admit(key, now).await
    }

    /// Forgets what this instance holds of a key's limits (they changed, or it was revoked).
    pub fn forget(&self, key_id: Uuid) {
        self.limits.forget(key_id);
    }

    /// Forgets every key's limits (the channel was lost).
    pub fn forget_all(&self) {
        self.limits.forget_all();
    }

    /// This instance's flushes, for a page read under them.
    pub fn flushes(&self) -> Flushes {
        self.meter.flushes()
    }

    /// Counts one answered request of a key; `admitted` when it passed the key check.
    pub fn record(&self, tag: MeterTag, status: u16, latency: Duration, admitted: bool) {
        self.meter.record(tag, status, latency, admitted);
    }

    /// Keeps this instance's flushes out while the caller reads usage and [`MeterService::pending`].
    pub async fn hold_flushes(&self) -> tokio::sync::RwLockReadGuard<'_, ()> {
        self.meter.hold_flushes().await
    }

    /// What this instance counted for a key or team of `team` that a read made after its flush
    /// `since` does not hold (from [`super::pages::Pages::cached_counted_read`]).
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
