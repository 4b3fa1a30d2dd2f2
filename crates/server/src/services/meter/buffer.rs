//! The usage meter: every request made with a key is counted in memory by minute, status and
//! latency (a log-scale histogram), then flushed in one transaction with additive upserts into
//! the minute, hour and day tiers and the monthly counters.
//!
//! A flush never fails because of one key: counts of keys that no longer exist (a team deleted
//! mid-traffic) are dropped and logged, the rest commits. A flush that fails as a whole (the
//! database is away) puts everything back for the next one, so nothing is lost or counted twice.
//! What a crash loses is what was buffered since the last flush (`PORTAL_USAGE_FLUSH_MS`).
//!
//! The last flushes stay in memory too, by team: a page that shows counted usage and was read
//! before them adds them to what it read (with what is still buffered) instead of reading again
//! after every flush.

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;
use std::time::Duration;

use chrono::{DateTime, Utc};
use portal_db::DatabaseConnection;
use portal_db::usage::{Batch, Increment, LastUse, MonthIncrement};
use portal_domain::usage::{Counts, Histogram, minute_of, month_bounds};
use uuid::Uuid;

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
    /// key → (team, requests, latest use).
    last_used: HashMap<Uuid, (Uuid, i64, DateTime<Utc>)>,
}

impl Buffer {
    /// How many counts it holds, for the bound on what recent flushes keep.
    fn slots(&self) -> usize {
        self.counts.len() + self.months.len() + self.last_used.len()
    }

    /// Its counts, team by team.
    fn by_team(self) -> HashMap<Uuid, Buffer> {
        let mut teams: HashMap<Uuid, Buffer> = HashMap::new();
        for (k, slot) in self.counts {
            teams.entry(slot.team_id).or_default().counts.insert(k, slot);
        }
        for (k, (team, n)) in self.months {
            teams.entry(team).or_default().months.insert(k, (team, n));
        }
        for (k, used) in self.last_used {
            teams.entry(used.0).or_default().last_used.insert(k, used);
        }
        teams
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
                .map(|(&key_id, &(_, requests, at))| LastUse { key_id, requests, at })
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

/// How many of this instance's flushes a page read under (see [`Meter::flushes`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Flushes {
    /// Flushes committed so far.
    pub now: u64,
    /// Every flush after this one is still kept in memory: a read made since can add them.
    pub oldest: u64,
}

/// The most recent flushes kept in memory, and the most counts they may hold together.
const RECENT_FLUSHES: usize = 64;
const RECENT_SLOTS: usize = 16_384;

/// This instance's latest flushes, by team.
#[derive(Default)]
struct Committed {
    /// Flushes committed so far.
    count: u64,
    /// The latest ones, oldest first: (number, counts by team).
    recent: VecDeque<(u64, HashMap<Uuid, Buffer>)>,
    slots: usize,
}

impl Committed {
    fn push(&mut self, flushed: Buffer) {
        self.count += 1;
        self.slots += flushed.slots();
        self.recent.push_back((self.count, flushed.by_team()));
        while self.recent.len() > RECENT_FLUSHES || (self.slots > RECENT_SLOTS && !self.recent.is_empty()) {
            if let Some((_, old)) = self.recent.pop_front() {
                self.slots -= old.values().map(Buffer::slots).sum::<usize>();
            }
        }
    }

    fn flushes(&self) -> Flushes {
        Flushes { now: self.count, oldest: self.recent.front().map_or(self.count, |(n, _)| n - 1) }
    }

    /// What `team` had counted in the flushes after `since`.
    fn since(&self, team: Uuid, since: u64) -> impl Iterator<Item = &Buffer> {
        self.recent.iter().filter(move |(n, _)| *n > since).filter_map(move |(_, teams)| teams.get(&team))
    }
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
    /// Locked after `in_flight` whenever both are.
    committed: Mutex<Committed>,
    /// The id of the batch in flight whose write reported an error. Its commit may have gone
    /// through all the same, so it is written again first, under this id, which says so.
    failed: Mutex<Option<Uuid>>,
}

impl Meter {
    /// Counts one answered request; `admitted` when it passed the key check (and so counts
    /// against the monthly limit).
    pub fn record(&self, tag: MeterTag, status: u16, latency: Duration, admitted: bool) {
        // In microseconds, as PostgreSQL keeps times: a last use read from this buffer equals the
        // same use read back once written.
        let now = chrono::SubsecRound::trunc_subsecs(Utc::now(), 6);
        let latency_us = u64::try_from(latency.as_micros()).unwrap_or(u64::MAX);
        let mut buffer = lock(&self.buffer);
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
        let last = buffer.last_used.entry(tag.key_id).or_insert((tag.team_id, 0, now));
        last.1 += 1;
        last.2 = last.2.max(now);
    }

    /// Keeps flushes from committing while the caller reads the database and [`Meter::pending`].
    pub async fn hold_flushes(&self) -> tokio::sync::RwLockReadGuard<'_, ()> {
        self.flush_lock.read().await
    }

    /// How many flushes committed so far, and since when they are kept. Read it under
    /// [`Meter::hold_flushes`], with the database.
    pub fn flushes(&self) -> Flushes {
        lock(&self.committed).flushes()
    }

    /// What a read of `team` made after flush `since` does not hold: the buffer, the flush under
    /// way, and the team's flushes after `since` (none when the read is made now).
    fn unread<R>(&self, team: Uuid, since: u64, f: impl FnOnce(&[&Buffer]) -> R) -> R {
        let buffer = lock(&self.buffer);
        let in_flight = lock(&self.in_flight);
        let committed = lock(&self.committed);
        let mut parts = vec![&*buffer, &*in_flight];
        parts.extend(committed.since(team, since));
        f(&parts)
    }

    /// The counts of a key or a team (of `team`) that a read made after flush `since` does not
    /// hold, and their requests of the month starting at `month`. Read it under
    /// [`Meter::hold_flushes`], with the database or the kept read.
    pub fn pending(&self, team: Uuid, scope: portal_db::usage::Scope, month: DateTime<Utc>, since: u64) -> Pending {
        use portal_db::usage::Scope;
        let matches = |key_id: Uuid, team_id: Uuid| match scope {
            Scope::Key(id) => id == key_id,
            Scope::Team(id) => id == team_id,
        };
        self.unread(team, since, |parts| {
            let rows = parts
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
            let month = parts
                .iter()
                .flat_map(|b| b.months.iter())
                .filter(|((key_id, m), (team_id, _))| *m == month && matches(*key_id, *team_id))
                .map(|(_, &(_, n))| u64::try_from(n).unwrap_or(0))
                .sum();
            Pending { rows, month }
        })
    }

    /// Each key's (of `team`) requests and latest use that a read made after flush `since` does
    /// not hold. Read it under [`Meter::hold_flushes`].
    pub fn pending_uses(&self, team: Uuid, key_ids: &[Uuid], since: u64) -> Vec<Option<(u64, DateTime<Utc>)>> {
        self.unread(team, since, |parts| {
            key_ids
                .iter()
                .map(|id| {
                    parts.iter().filter_map(|b| b.last_used.get(id)).fold(None, |sum, &(_, n, at)| {
                        let (n, at) = (u64::try_from(n).unwrap_or(0), at);
                        Some(sum.map_or((n, at), |(m, last): (u64, DateTime<Utc>)| (m + n, last.max(at))))
                    })
                })
                .collect()
        })
    }

    /// Writes the buffered counts in one transaction. Counts of deleted keys are dropped (and
    /// logged). A batch whose write failed stays in flight (reads go on counting it) and is
    /// written again, first, at the next flush, under its id: when the failed write had committed
    /// after all, the id is found and the batch is not counted twice.
    /// Other instances hear of the teams counted through the database; here the flush is kept
    /// in memory for the pages read before it.
    pub async fn flush(&self, db: &DatabaseConnection, instance: Uuid) -> Result<(), portal_db::Error> {
        let _serial = self.serial.lock().await;
        let failed = *lock(&self.failed);
        if let Some(id) = failed {
            self.write_in_flight(db, instance, id).await?;
        }
        // The counts move to `in_flight` at once (reads see one or the other, never both):
        // requests go on being counted, and reads go on, while the transaction is written.
        {
            let mut buffer = lock(&self.buffer);
            let mut in_flight = lock(&self.in_flight);
            if buffer.counts.is_empty() && buffer.months.is_empty() {
                return Ok(());
            }
            *in_flight = std::mem::take(&mut *buffer);
        }
        self.write_in_flight(db, instance, Uuid::new_v4()).await
    }

    /// Writes the batch in flight as flush `id`.
    async fn write_in_flight(&self, db: &DatabaseConnection, instance: Uuid, id: Uuid) -> Result<(), portal_db::Error> {
        let batch = lock(&self.in_flight).batch();
        let mut teams: Vec<Uuid> =
            batch.counts.iter().map(|c| c.team_id).chain(batch.months.iter().map(|m| m.team_id)).collect();
        teams.sort_unstable();
        teams.dedup();
        let (rows, started) = (batch.counts.len() + batch.months.len(), std::time::Instant::now());
        let result = async {
            let txn = portal_db::TransactionTrait::begin(db).await?;
            // None: an earlier try of this flush committed; its counts are in.
            let dropped = if portal_db::usage::claim_flush(&txn, id, Utc::now()).await? {
                let dropped = portal_db::usage::write(&txn, &batch).await?;
                for &team in &teams {
                    portal_db::changes::usage_counted(&txn, team, instance).await?;
                }
                Some(dropped)
            } else {
                None
            };
            // Reads wait for the commit only: then the counts are in the database, and no longer
            // in flight but in the flush that pages read before it add.
            let _commit = self.flush_lock.write().await;
            txn.commit().await?;
            let flushed = std::mem::take(&mut *lock(&self.in_flight));
            lock(&self.committed).push(flushed);
            Ok::<_, portal_db::Error>(dropped)
        }
        .await;
        crate::metrics::usage_flushed(result.as_ref().map(|_| (rows, started.elapsed())).map_err(|_| ()));
        match result {
            Ok(dropped) => {
                *lock(&self.failed) = None;
                match dropped {
                    None => {
                        tracing::warn!(%id, "a usage flush that had reported an error had committed; not written again")
                    }
                    Some(0) => {}
                    Some(dropped) => tracing::warn!(dropped, "usage counts of deleted API keys were dropped"),
                }
                Ok(())
            }
            Err(e) => {
                tracing::warn!(error = %e, "usage flush failed; keeping the counts for the next try");
                *lock(&self.failed) = Some(id);
                Err(e)
            }
        }
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|e| e.into_inner())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A write whose commit reported an error although it had committed (the connection died
    /// after COMMIT was sent: seen when a stopping server's pooled connections lose their
    /// runtime) is written again under its id, which is found: the requests count once.
    #[tokio::test]
    async fn a_flush_whose_commit_went_through_unreported_counts_once() {
        let dir = tempfile::tempdir().unwrap();
        let db =
            portal_db::connect(&format!("sqlite://{}?mode=rwc", dir.path().join("portal.db").display())).await.unwrap();
        portal_db::migrate(&db).await.unwrap();
        let now = Utc::now();
        let user = portal_db::users::create(&db, "ada@example.com", "Ada", "x", now).await.unwrap().id;
        let team = portal_db::teams::create(&db, "Acme", None, user, now).await.unwrap().id;
        let key = portal_db::api_keys::NewKey {
            team_id: team,
            name: "k",
            description: None,
            environment: portal_types::Environment::Development,
            key_hash: "hash",
            hint: "pp_dev_abcd",
            created_by: Some(user),
            created_by_key: None,
            expires_at: None,
            usage_limit: None,
            rate_limit: None,
            scopes: "team:read",
            allowed_ips: None,
            alert_thresholds: "80 100",
        };
        let key = portal_db::api_keys::create(&db, key, now).await.unwrap().id;
        let meter = Meter::default();
        let instance = Uuid::new_v4();
        let served = || {
            for _ in 0..3 {
                meter.record(MeterTag { key_id: key, team_id: team }, 200, Duration::from_millis(1), true);
            }
        };
        let stored = || async { portal_db::api_keys::find(&db, team, key).await.unwrap().unwrap().request_count };

        // The batch commits, but the caller hears of an error: it stays in flight, marked failed.
        served();
        *lock(&meter.in_flight) = std::mem::take(&mut *lock(&meter.buffer));
        let id = Uuid::new_v4();
        meter.write_in_flight(&db, instance, id).await.unwrap();
        served();
        *lock(&meter.in_flight) = std::mem::take(&mut *lock(&meter.buffer));
        *lock(&meter.failed) = Some(id);
        assert_eq!(stored().await, 3);

        // The next flush writes it again under its id: found, so not counted twice; then the rest.
        served();
        meter.flush(&db, instance).await.unwrap();
        assert_eq!(stored().await, 6, "3 committed before, 3 new; the 3 that were in flight again count once");
        assert!(lock(&meter.failed).is_none() && lock(&meter.in_flight).counts.is_empty());
    }

    fn flushed(team: Uuid, keys: usize) -> Buffer {
        let mut buffer = Buffer::default();
        for _ in 0..keys {
            buffer.last_used.insert(Uuid::new_v4(), (team, 1, Utc::now()));
        }
        buffer
    }

    #[test]
    fn recent_flushes_are_kept_by_team_and_counted() {
        let mut committed = Committed::default();
        assert_eq!(committed.flushes(), Flushes { now: 0, oldest: 0 });
        let (a, b) = (Uuid::new_v4(), Uuid::new_v4());
        committed.push(flushed(a, 1));
        committed.push(flushed(b, 2));
        committed.push(flushed(a, 3));
        assert_eq!(committed.flushes(), Flushes { now: 3, oldest: 0 });
        let sizes = |team, since| committed.since(team, since).map(Buffer::slots).collect::<Vec<_>>();
        assert_eq!(sizes(a, 0), [1, 3]);
        assert_eq!(sizes(a, 1), [3], "only the flushes after a read");
        assert_eq!(sizes(b, 0), [2]);
        assert_eq!(sizes(b, 3), Vec::<usize>::new());
    }

    #[test]
    fn recent_flushes_are_bounded_in_number_and_size() {
        let mut committed = Committed::default();
        let team = Uuid::new_v4();
        for _ in 0..RECENT_FLUSHES + 2 {
            committed.push(flushed(team, 1));
        }
        let now = RECENT_FLUSHES as u64 + 2;
        assert_eq!(committed.flushes(), Flushes { now, oldest: 2 }, "flushes 1 and 2 are gone");
        assert_eq!(committed.since(team, 0).count(), RECENT_FLUSHES);
        committed.push(flushed(team, RECENT_SLOTS - 10));
        assert!(committed.slots <= RECENT_SLOTS, "{}", committed.slots);
        assert_eq!(committed.flushes().now, now + 1);
        assert!(committed.flushes().oldest >= now - 10, "older flushes made room");
        committed.push(flushed(team, RECENT_SLOTS + 1));
        assert_eq!(committed.flushes(), Flushes { now: now + 2, oldest: now + 2 }, "too big to keep");
        assert_eq!(committed.slots, 0);
    }
}
