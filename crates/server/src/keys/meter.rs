//! The usage meter: every request made with a key is counted in memory by minute, status and
//! latency (a log-scale histogram), then flushed in one transaction with additive upserts into
//! the minute, hour and day tiers and the monthly counters.
//!
//! A flush never fails because of one key: counts of keys that no longer exist (a team deleted
//! mid-traffic) are dropped and logged, the rest commits. A flush that fails as a whole (the
//! database is away) puts everything back for the next one, so nothing is lost or counted twice.
//! What a crash loses is what was buffered since the last flush (`PORTAL_USAGE_FLUSH_MS`).

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use chrono::{DateTime, Utc};
use portal_db::DatabaseConnection;
use portal_db::usage::{Batch, Increment, LastUse, MonthIncrement};
use portal_domain::usage::{Counts, Histogram, minute_of, month_bounds};
use uuid::Uuid;

use super::reads::ReadCache;

/// The key a request presented, for metering; set even when the key was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MeterTag {
    pub key_id: Uuid,
    pub team_id: Uuid,
}

#[derive(Clone)]
struct Slot {
    team_id: Uuid,
    count: i64,
    latency_us_sum: i64,
    latency: Histogram,
}

#[derive(Default)]
struct Buffer {
    /// (key, minute, status) → counts.
    counts: HashMap<(Uuid, DateTime<Utc>, u16), Slot>,
    /// (key, month) → (team, requests that counted against the limit).
    months: HashMap<(Uuid, DateTime<Utc>), (Uuid, i64)>,
    /// key → (requests, latest use).
    last_used: HashMap<Uuid, (i64, DateTime<Utc>)>,
}

impl Buffer {
    fn merge(&mut self, other: Buffer) {
        for (k, slot) in other.counts {
            match self.counts.get_mut(&k) {
                Some(mine) => {
                    mine.count += slot.count;
                    mine.latency_us_sum += slot.latency_us_sum;
                    mine.latency.merge(&slot.latency);
                }
                None => {
                    self.counts.insert(k, slot);
                }
            }
        }
        for (k, (team, n)) in other.months {
            self.months.entry(k).or_insert((team, 0)).1 += n;
        }
        for (k, (n, last)) in other.last_used {
            let entry = self.last_used.entry(k).or_insert((0, last));
            entry.0 += n;
            entry.1 = entry.1.max(last);
        }
    }

    fn batch(&self) -> Batch {
        Batch {
            counts: self
                .counts
                .iter()
                .map(|(&(key_id, minute, status), slot)| Increment {
                    key_id,
                    team_id: slot.team_id,
                    minute,
                    status,
                    count: slot.count,
                    latency_us_sum: slot.latency_us_sum,
                    latency: slot.latency,
                })
                .collect(),
            months: self
                .months
                .iter()
                .map(|(&(key_id, month), &(team_id, requests))| MonthIncrement { key_id, team_id, month, requests })
                .collect(),
            last_used: self
                .last_used
                .iter()
                .map(|(&key_id, &(requests, at))| LastUse { key_id, requests, at })
                .collect(),
        }
    }
}

/// What this instance counted and has not written yet, for one key or team.
#[derive(Debug, Default)]
pub struct Pending {
    /// Minute rows, each with its key.
    pub rows: Vec<(Uuid, Counts)>,
    /// Requests of the month that counted against limits.
    pub month: u64,
}

#[derive(Default)]
pub struct Meter {
    buffer: Mutex<Buffer>,
    /// What the flush under way is writing: still counted by reads until it commits. Locked
    /// after `buffer` whenever both are.
    in_flight: Mutex<Buffer>,
    /// Held for writing while a flush commits (and hands its counts over to the database), for
    /// reading by usage reads: while a read holds it, the two buffers hold exactly what the
    /// database it reads does not.
    flush_lock: tokio::sync::RwLock<()>,
    /// One flush at a time.
    serial: tokio::sync::Mutex<()>,
}

impl Meter {
    /// Counts one answered request; `admitted` when it passed the key check (and so counts
    /// against the monthly limit).
    pub fn record(&self, tag: MeterTag, status: u16, latency: Duration, admitted: bool) {
        let now = Utc::now();
        let latency_us = u64::try_from(latency.as_micros()).unwrap_or(u64::MAX);
        let mut buffer = self.buffer.lock().unwrap_or_else(|e| e.into_inner());
        let slot = buffer.counts.entry((tag.key_id, minute_of(now), status)).or_insert_with(|| Slot {
            team_id: tag.team_id,
            count: 0,
            latency_us_sum: 0,
            latency: Histogram::default(),
        });
        slot.count += 1;
        slot.latency_us_sum = slot.latency_us_sum.saturating_add(i64::try_from(latency_us).unwrap_or(i64::MAX));
        slot.latency.record(latency_us);
        if admitted {
            buffer.months.entry((tag.key_id, month_bounds(now).0)).or_insert((tag.team_id, 0)).1 += 1;
        }
        let last = buffer.last_used.entry(tag.key_id).or_insert((0, now));
        last.0 += 1;
        last.1 = last.1.max(now);
    }

    /// Keeps flushes from committing while the caller reads the database and [`Meter::pending`].
    pub async fn hold_flushes(&self) -> tokio::sync::RwLockReadGuard<'_, ()> {
        self.flush_lock.read().await
    }

    /// The buffered counts of a key or a team, and their requests of the month starting at
    /// `month`. Read it under [`Meter::hold_flushes`], with the database.
    pub fn pending(&self, scope: portal_db::usage::Scope, month: DateTime<Utc>) -> Pending {
        use portal_db::usage::Scope;
        let matches = |key_id: Uuid, team_id: Uuid| match scope {
            Scope::Key(id) => id == key_id,
            Scope::Team(id) => id == team_id,
        };
        let buffer = self.buffer.lock().unwrap_or_else(|e| e.into_inner());
        let in_flight = self.in_flight.lock().unwrap_or_else(|e| e.into_inner());
        let both = [&*buffer, &*in_flight];
        let rows = both
            .iter()
            .flat_map(|b| b.counts.iter())
            .filter(|((key_id, _, _), slot)| matches(*key_id, slot.team_id))
            .map(|(&(key_id, minute, status), slot)| {
                let counts = Counts {
                    at: minute,
                    status,
                    requests: u64::try_from(slot.count).unwrap_or(0),
                    latency_us_sum: u64::try_from(slot.latency_us_sum).unwrap_or(0),
                    latency: slot.latency,
                };
                (key_id, counts)
            })
            .collect();
        let month = both
            .iter()
            .flat_map(|b| b.months.iter())
            .filter(|((key_id, m), (team_id, _))| *m == month && matches(*key_id, *team_id))
            .map(|(_, &(_, n))| u64::try_from(n).unwrap_or(0))
            .sum();
        Pending { rows, month }
    }

    /// Each key's buffered requests and latest use. Read it under [`Meter::hold_flushes`].
    pub fn pending_uses(&self, key_ids: &[Uuid]) -> Vec<Option<(u64, DateTime<Utc>)>> {
        let buffer = self.buffer.lock().unwrap_or_else(|e| e.into_inner());
        let in_flight = self.in_flight.lock().unwrap_or_else(|e| e.into_inner());
        let used = |b: &Buffer, id: &Uuid| b.last_used.get(id).map(|&(n, at)| (u64::try_from(n).unwrap_or(0), at));
        key_ids
            .iter()
            .map(|id| match (used(&buffer, id), used(&in_flight, id)) {
                (Some((a, at)), Some((b, bt))) => Some((a + b, at.max(bt))),
                (one, other) => one.or(other),
            })
            .collect()
    }

    /// Writes the buffered counts in one transaction. Counts of deleted keys are dropped (and
    /// logged); on failure everything goes back into the buffer for the next flush.
    /// The teams whose pages show the counts are told (`reads`, and other instances through
    /// the database) before usage reads may go on.
    pub async fn flush(
        &self,
        db: &DatabaseConnection,
        reads: &ReadCache,
        instance: Uuid,
    ) -> Result<(), portal_db::Error> {
        let _serial = self.serial.lock().await;
        // The counts move to `in_flight` at once (reads see one or the other, never both):
        // requests go on being counted, and reads go on, while the transaction is written.
        let batch = {
            let mut buffer = self.buffer.lock().unwrap_or_else(|e| e.into_inner());
            let mut in_flight = self.in_flight.lock().unwrap_or_else(|e| e.into_inner());
            if buffer.counts.is_empty() && buffer.months.is_empty() {
                return Ok(());
            }
            *in_flight = std::mem::take(&mut *buffer);
            in_flight.batch()
        };
        let mut teams: Vec<Uuid> =
            batch.counts.iter().map(|c| c.team_id).chain(batch.months.iter().map(|m| m.team_id)).collect();
        teams.sort_unstable();
        teams.dedup();
        let result = async {
            let txn = portal_db::TransactionTrait::begin(db).await?;
            let dropped = portal_db::usage::write(&txn, &batch).await?;
            for &team in &teams {
                portal_db::changes::usage_counted(&txn, team, instance).await?;
            }
            // Reads wait for the commit only: then the counts are in the database and no longer
            // in flight, and the pages that kept the old counts are not served again.
            let _commit = self.flush_lock.write().await;
            txn.commit().await?;
            *self.in_flight.lock().unwrap_or_else(|e| e.into_inner()) = Buffer::default();
            teams.iter().for_each(|&team| reads.bump_counts(team));
            Ok::<_, portal_db::Error>(dropped)
        }
        .await;
        match result {
            Ok(0) => Ok(()),
            Ok(dropped) => {
                tracing::warn!(dropped, "usage counts of deleted API keys were dropped");
                Ok(())
            }
            Err(e) => {
                tracing::warn!(error = %e, "usage flush failed; keeping the counts for the next try");
                let _hold = self.flush_lock.write().await;
                let mut buffer = self.buffer.lock().unwrap_or_else(|e| e.into_inner());
                let taken = std::mem::take(&mut *self.in_flight.lock().unwrap_or_else(|e| e.into_inner()));
                buffer.merge(taken);
                Err(e)
            }
        }
    }
}
