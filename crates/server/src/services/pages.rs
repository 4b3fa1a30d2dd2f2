//! What a team's lists and usage pages read from the database, kept between requests.
//!
//! Integrators poll these pages, so a read is answered from here until something of the team
//! changes. Every change to a team's members, invitations, keys, activity or usage bumps the
//! team's epoch: here after the commit, on other instances when they hear it (NOTIFY), and for
//! every team when the channel was lost. An entry is served only while its team's epoch is the
//! one its read began under, so a read that raced a change never serves what it read. Per-request
//! parts (this instance's usage counted since the read, a status that depends on the time) are
//! added by the handlers on top of what is kept here.
//!
//! A page that shows counted usage also knows how many of this instance's flushes it was read
//! after: the flushes since are added to it from memory (see `meter`), so this instance's own
//! flushes do not make it read again. It is read again when the flushes after it are no longer
//! all in memory, by one request a while before that while the others are answered from it.

use std::any::Any;
use std::collections::HashMap;
use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::Trust;
use super::change::Change;
use super::meter::{Flushes, MeterService};

/// The most a team's cached reads may weigh together (see [`Weigh`]), in bytes.
const CAPACITY_BYTES: u64 = 32 * 1024 * 1024;
/// An entry nobody read for this long goes, whatever its epoch.
const IDLE: Duration = Duration::from_secs(300);
/// Teams whose epoch is remembered one by one; beyond this, every team's epoch moves together.
const MAX_TEAMS: usize = 100_000;

/// What a kept read must tell the cache.
pub trait Weigh {
    /// Roughly how many bytes it holds, for the cache's bound.
    fn weight(&self) -> usize;

    /// False once it changed by itself (a state that depends on the time): then it is read
    /// again although its team did not change.
    fn fresh(&self) -> bool {
        true
    }
}

impl<T> Weigh for Vec<T> {
    fn weight(&self) -> usize {
        // The rows' own heap parts (names, e-mail addresses) are small next to the row.
        self.len() * (std::mem::size_of::<T>() + 64)
    }
}

/// A page that shows counted usage is read again once it is this many of this instance's flushes
/// behind (by one request; the others go on adding the flushes to it).
const REFRESH_BEHIND: u64 = 16;

#[derive(Clone)]
struct Entry {
    epoch: Epoch,
    /// This instance's flushes committed before it was read (0 for a page without usage).
    since: u64,
    value: Arc<dyn Any + Send + Sync>,
    weight: u32,
}

#[derive(Default)]
struct Epochs {
    /// The last epoch given out.
    counter: u64,
    /// The epoch of every team not in `teams`.
    floor: u64,
    teams: HashMap<Uuid, u64>,
}

impl Epochs {
    fn of(&self, team: Uuid) -> u64 {
        self.teams.get(&team).copied().unwrap_or(self.floor)
    }

    fn bump(&mut self, team: Uuid) {
        self.counter += 1;
        if self.teams.len() >= MAX_TEAMS {
            self.bump_all();
        } else {
            self.teams.insert(team, self.counter);
        }
    }

    fn bump_all(&mut self) {
        self.counter += 1;
        self.floor = self.counter;
        self.teams.clear();
    }
}

/// What a kept read is: the page, and every parameter that shapes what it reads. A new page
/// adds a variant here, so two pages can never share an entry by spelling their keys alike.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum PageKey {
    /// A key list, narrowed and ordered; ordered by use, under this instance's flushes so far.
    ApiKeys {
        filter: portal_db::api_keys::KeyFilter,
        order: portal_db::api_keys::KeyOrder,
        limit: u64,
        flushes: Option<u64>,
    },
    Members {
        after: Option<(DateTime<Utc>, Uuid)>,
        limit: u64,
    },
    Invitations {
        after: Option<(DateTime<Utc>, Uuid)>,
        limit: u64,
    },
    /// The activity log; client addresses and user agents only with `details`.
    Activity {
        details: bool,
        filter: portal_db::audit::ActivityFilter,
        limit: u64,
    },
    /// One key's stored row.
    Key(Uuid),
    /// The stored rows of these keys (names for a usage page).
    KeyNames(Vec<Uuid>),
    /// A key's usage over these spans, with the month's count from `month` (Unix seconds).
    KeyUsage {
        key: Uuid,
        spans: Vec<SpanKey>,
        month: i64,
    },
    TeamUsage {
        spans: Vec<SpanKey>,
        month: i64,
    },
}

/// A span of a usage read as a cache key: its tier, and its ends rounded up to that tier's next
/// boundary (a span's ends selecting the same buckets give the same key).
pub type SpanKey = (portal_domain::usage::Tier, i64, i64);

impl PageKey {
    /// Roughly what the key itself weighs in the cache, in bytes.
    fn weight(&self) -> usize {
        let heap = match self {
            PageKey::Activity { filter, .. } => filter.action.as_ref().map_or(0, String::len),
            PageKey::ApiKeys { filter, .. } => filter.search.as_ref().map_or(0, String::len),
            PageKey::KeyNames(ids) => ids.len() * 16,
            PageKey::KeyUsage { spans, .. } | PageKey::TeamUsage { spans, .. } => spans.len() * 24,
            _ => 0,
        };
        std::mem::size_of::<Self>() + heap
    }
}

type Key = (Uuid, PageKey);

pub struct ReadCache {
    /// False when configured off: every read goes to the database.
    enabled: bool,
    entries: moka::sync::Cache<Key, Entry>,
    /// One load per page at a time: requests that miss together wait for the first one's read
    /// (after every flush a busy team's pages are missed by every connection at once).
    gates: moka::sync::Cache<Key, Arc<tokio::sync::Mutex<()>>>,
    epochs: Mutex<TeamEpochs>,
}

/// A team's epochs: of every change, and of its usage counted by other instances (which only
/// usage pages and key lists show).
#[derive(Default)]
struct TeamEpochs {
    changes: Epochs,
    counts: Epochs,
}

/// (changes, counts) as a read began; counts is 0 for a page that shows no counted usage.
type Epoch = (u64, u64);

impl TeamEpochs {
    fn of(&self, team: Uuid, counted: bool) -> Epoch {
        (self.changes.of(team), if counted { self.counts.of(team) } else { 0 })
    }
}

impl ReadCache {
    pub fn new(enabled: bool) -> Self {
        Self {
            enabled,
            entries: moka::sync::Cache::builder()
                .max_capacity(CAPACITY_BYTES)
                .weigher(|_, e: &Entry| e.weight)
                .time_to_idle(IDLE)
                .build(),
            gates: moka::sync::Cache::builder().max_capacity(10_000).time_to_idle(Duration::from_secs(60)).build(),
            epochs: Mutex::new(TeamEpochs::default()),
        }
    }

    /// How many answers are kept, and what they weigh ([`Weigh`]) in bytes.
    fn footprint(&self) -> (u64, u64) {
        self.entries.run_pending_tasks();
        (self.entries.entry_count(), self.entries.weighted_size())
    }

    fn epochs(&self) -> std::sync::MutexGuard<'_, TeamEpochs> {
        self.epochs.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// What `load` reads for `team` under `what` (the endpoint and every parameter that shapes
    /// the read): kept from an earlier read if nothing of the team changed since, else loaded
    /// (and kept when `keep`). For a page that shows counted usage see
    /// [`ReadCache::get_or_load_counted`].
    pub async fn get_or_load<T, E, F>(&self, team: Uuid, what: PageKey, keep: bool, load: F) -> Result<Arc<T>, E>
    where
        T: Weigh + Send + Sync + 'static,
        F: Future<Output = Result<T, E>>,
    {
        Ok(self.read(team, what, None, keep, load).await?.0)
    }

    /// [`ReadCache::get_or_load`] of a page that shows counted usage, read under `flushes` (and
    /// under a hold on this instance's flushes). Usage other instances counted for the team moves
    /// it on too. Gives back the page and the flushes it was read after: the caller adds what was
    /// counted since.
    pub async fn get_or_load_counted<T, E, F>(
        &self,
        team: Uuid,
        what: PageKey,
        flushes: Flushes,
        keep: bool,
        load: F,
    ) -> Result<(Arc<T>, u64), E>
    where
        T: Weigh + Send + Sync + 'static,
        F: Future<Output = Result<T, E>>,
    {
        self.read(team, what, Some(flushes), keep, load).await
    }

    async fn read<T, E, F>(
        &self,
        team: Uuid,
        what: PageKey,
        counted: Option<Flushes>,
        keep: bool,
        load: F,
    ) -> Result<(Arc<T>, u64), E>
    where
        T: Weigh + Send + Sync + 'static,
        F: Future<Output = Result<T, E>>,
    {
        let keep = keep && self.enabled;
        let key = (team, what);
        let _turn = if keep {
            let gate = || self.gates.get_with_by_ref(&key, Default::default);
            match self.kept(&key, counted) {
                // Far behind this instance's flushes: one request reads it again, the others
                // are answered from it meanwhile.
                Some((value, since)) if counted.is_some_and(|f| f.now.saturating_sub(since) >= REFRESH_BEHIND) => {
                    match gate().try_lock_owned() {
                        Ok(turn) => Some(turn),
                        Err(_) => {
                            crate::metrics::kept_page(true);
                            return Ok((value, since));
                        }
                    }
                }
                Some(kept) => {
                    crate::metrics::kept_page(true);
                    return Ok(kept);
                }
                None => {
                    let turn = gate().lock_owned().await;
                    // The request before this one in line may have read it meanwhile.
                    if let Some(kept) = self.kept(&key, counted) {
                        crate::metrics::kept_page(true);
                        return Ok(kept);
                    }
                    Some(turn)
                }
            }
        } else {
            None
        };
        let epoch = self.epochs().of(team, counted.is_some());
        let since = counted.map_or(0, |f| f.now);
        let value = Arc::new(load.await?);
        if keep {
            crate::metrics::kept_page(false);
            let weight = u32::try_from(value.weight() + key.1.weight() + 64).unwrap_or(u32::MAX);
            // A change that committed while this loaded moved the epoch on: the entry is stored
            // but never served.
            self.entries.insert(key, Entry { epoch, since, value: value.clone(), weight });
        }
        Ok((value, since))
    }

    /// The entry under `key`, if it was read under its team's current epoch, is fresh, and (for
    /// counted usage) every flush since it was read is still in memory.
    fn kept<T: Weigh + Send + Sync + 'static>(&self, key: &Key, counted: Option<Flushes>) -> Option<(Arc<T>, u64)> {
        let epoch = self.epochs().of(key.0, counted.is_some());
        let entry =
            self.entries.get(key).filter(|e| e.epoch == epoch && counted.is_none_or(|f| e.since >= f.oldest))?;
        let value = entry.value.downcast::<T>().ok().filter(|v| v.fresh())?;
        Some((value, entry.since))
    }

    /// Something of `team` changed: nothing read before now is served again.
    pub fn bump(&self, team: Uuid) {
        self.epochs().changes.bump(team);
    }

    /// Another instance counted usage for `team`: its pages that show counted usage are read again.
    pub fn bump_counts(&self, team: Uuid) {
        self.epochs().counts.bump(team);
    }

    /// Anything may have changed (a lost channel, pruned history).
    pub fn bump_all(&self) {
        let mut epochs = self.epochs();
        epochs.changes.bump_all();
        epochs.counts.bump_all();
        drop(epochs);
        self.entries.invalidate_all();
    }
}

/// The kept pages of every team, as a service: a page is read once and answered from memory
/// until something of its team changes (here, or on any instance).
pub struct Pages {
    cache: ReadCache,
    trust: Arc<Trust>,
    meter: Arc<MeterService>,
}

impl Pages {
    pub fn new(enabled: bool, trust: Arc<Trust>, meter: Arc<MeterService>) -> Self {
        Self { cache: ReadCache::new(enabled), trust, meter }
    }

    /// How many answers are kept, and what they weigh in bytes.
    pub fn footprint(&self) -> (u64, u64) {
        self.cache.footprint()
    }

    /// What `load` reads of `team` for the page `what`, kept until something of the team
    /// changes. Nothing is kept while the channel that tells of other instances' changes is down.
    pub async fn cached_read<T, E, F>(&self, team: Uuid, what: PageKey, load: F) -> Result<Arc<T>, E>
    where
        T: Weigh + Send + Sync + 'static,
        F: Future<Output = Result<T, E>>,
    {
        self.cache.get_or_load(team, what, self.trust.get(), load).await
    }

    /// [`Pages::cached_read`] of a page that shows counted usage: usage another instance counted
    /// for the team moves it on too. Read it under the meter's `hold_flushes`; it comes with the
    /// number of this instance's flushes it was read after, for [`MeterService::pending`].
    pub async fn cached_counted_read<T, E, F>(&self, team: Uuid, what: PageKey, load: F) -> Result<(Arc<T>, u64), E>
    where
        T: Weigh + Send + Sync + 'static,
        F: Future<Output = Result<T, E>>,
    {
        let flushes = self.meter.flushes();
        self.cache.get_or_load_counted(team, what, flushes, self.trust.get(), load).await
    }

    /// Drops what a change made stale: every page of a team that changed.
    pub fn evict(&self, change: Change) {
        if let Change::Team(team) | Change::Reads(team) = change {
            self.cache.bump(team);
        }
    }

    /// Another instance counted usage for `team`: its pages that show counted usage are read again.
    pub fn bump_counts(&self, team: Uuid) {
        self.cache.bump_counts(team);
    }

    /// Forgets every team's pages (history was pruned, or the channel was lost).
    pub fn forget_all(&self) {
        self.cache.bump_all();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn list() -> PageKey {
        PageKey::Members { after: None, limit: 50 }
    }

    fn usage() -> PageKey {
        PageKey::TeamUsage { spans: Vec::new(), month: 0 }
    }

    async fn read(cache: &ReadCache, team: Uuid, value: u32) -> Arc<Vec<u32>> {
        cache.get_or_load(team, list(), true, async { Ok::<_, ()>(vec![value]) }).await.unwrap()
    }

    #[tokio::test]
    async fn a_read_is_kept_until_its_team_changes() {
        let cache = ReadCache::new(true);
        let (a, b) = (Uuid::new_v4(), Uuid::new_v4());
        assert_eq!(*read(&cache, a, 1).await, [1]);
        assert_eq!(*read(&cache, b, 1).await, [1]);
        assert_eq!(*read(&cache, a, 2).await, [1], "kept");
        cache.bump(a);
        assert_eq!(*read(&cache, a, 3).await, [3], "read again after a change");
        assert_eq!(*read(&cache, b, 3).await, [1], "another team's read is kept");
        cache.bump_all();
        assert_eq!(*read(&cache, b, 4).await, [4]);
    }

    /// A read that began before a change committed must not be served after it.
    #[tokio::test]
    async fn a_read_that_raced_a_change_is_not_served() {
        let cache = ReadCache::new(true);
        let team = Uuid::new_v4();
        let stale = cache
            .get_or_load(team, list(), true, async {
                cache.bump(team); // the change commits while the read is under way
                Ok::<_, ()>(vec![1u32])
            })
            .await
            .unwrap();
        assert_eq!(*stale, [1], "the racing read answers what it read");
        assert_eq!(*read(&cache, team, 2).await, [2], "but it is not kept");
        assert_eq!(*read(&cache, team, 3).await, [2]);
    }

    #[tokio::test]
    async fn nothing_is_kept_when_told_not_to() {
        let cache = ReadCache::new(true);
        let team = Uuid::new_v4();
        let load = |v: u32| async move { Ok::<_, ()>(vec![v]) };
        assert_eq!(*cache.get_or_load(team, list(), false, load(1)).await.unwrap(), [1]);
        assert_eq!(*cache.get_or_load(team, list(), true, load(2)).await.unwrap(), [2]);
        assert_eq!(*cache.get_or_load(team, list(), false, load(3)).await.unwrap(), [3]);
    }

    /// Requests that miss a page together read it once.
    #[tokio::test]
    async fn requests_that_miss_together_read_once() {
        let cache = ReadCache::new(true);
        let team = Uuid::new_v4();
        let loads = std::sync::atomic::AtomicU32::new(0);
        let read = || {
            cache.get_or_load(team, list(), true, async {
                loads.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                // Let the other requests run into the gate while this one reads.
                for _ in 0..10 {
                    tokio::task::yield_now().await;
                }
                Ok::<_, ()>(vec![1u32])
            })
        };
        let (a, b, c, d) = tokio::join!(read(), read(), read(), read());
        assert!([a, b, c, d].iter().all(|a| a.as_deref() == Ok(&vec![1])));
        assert_eq!(loads.load(std::sync::atomic::Ordering::SeqCst), 1);
    }

    /// What changed by itself is read again, although its team did not change.
    #[tokio::test]
    async fn a_read_that_went_stale_by_itself_is_read_again() {
        struct Expiring(bool);
        impl Weigh for Expiring {
            fn weight(&self) -> usize {
                1
            }
            fn fresh(&self) -> bool {
                self.0
            }
        }
        let cache = ReadCache::new(true);
        let team = Uuid::new_v4();
        let read = |fresh: bool| cache.get_or_load(team, list(), true, async move { Ok::<_, ()>(Expiring(fresh)) });
        assert!(!read(false).await.unwrap().0);
        assert!(read(true).await.unwrap().0, "the stale one was read again");
        assert!(read(false).await.unwrap().0, "the fresh one is kept");
    }

    /// A read of the "usage" page (counted) under flushes (now, oldest): the page and its since.
    async fn counted(cache: &ReadCache, team: Uuid, (now, oldest): (u64, u64), value: u32) -> (Vec<u32>, u64) {
        let flushes = Flushes { now, oldest };
        let read = cache.get_or_load_counted(team, usage(), flushes, true, async move { Ok::<_, ()>(vec![value]) });
        let (page, since) = read.await.unwrap();
        ((*page).clone(), since)
    }

    /// Usage counted by another instance moves on the pages that show counted usage, and only
    /// those.
    #[tokio::test]
    async fn counted_usage_moves_on_only_the_pages_that_show_it() {
        let cache = ReadCache::new(true);
        let team = Uuid::new_v4();
        let members = |value: u32| cache.get_or_load(team, list(), true, async move { Ok::<_, ()>(vec![value]) });
        assert_eq!(*members(1).await.unwrap(), [1]);
        assert_eq!(counted(&cache, team, (0, 0), 1).await.0, [1]);
        cache.bump_counts(team);
        assert_eq!(*members(2).await.unwrap(), [1], "kept through another instance's flush");
        assert_eq!(counted(&cache, team, (0, 0), 2).await.0, [2], "read again after another instance's flush");
        cache.bump(team);
        assert_eq!(*members(3).await.unwrap(), [3]);
        assert_eq!(counted(&cache, team, (0, 0), 3).await.0, [3]);
    }

    /// A page that shows counted usage is kept through this instance's flushes while they are in
    /// memory (the caller adds them), and read again once they are not.
    #[tokio::test]
    async fn a_counted_page_is_kept_while_the_flushes_after_it_are_in_memory() {
        let cache = ReadCache::new(true);
        let team = Uuid::new_v4();
        assert_eq!(counted(&cache, team, (3, 0), 1).await, (vec![1], 3));
        assert_eq!(counted(&cache, team, (5, 2), 2).await, (vec![1], 3), "kept: flushes 4 and 5 are in memory");
        assert_eq!(counted(&cache, team, (6, 4), 3).await, (vec![3], 6), "read again: flush 4 is no longer in memory");
    }

    /// Far behind this instance's flushes, one request reads the page again while the others are
    /// answered from it.
    #[tokio::test]
    async fn a_counted_page_far_behind_is_read_again_by_one_request() {
        let cache = ReadCache::new(true);
        let team = Uuid::new_v4();
        counted(&cache, team, (0, 0), 1).await;
        let behind = Flushes { now: REFRESH_BEHIND, oldest: 0 };
        let (entered_tx, entered) = tokio::sync::oneshot::channel();
        let (release, released) = tokio::sync::oneshot::channel::<()>();
        let reader = cache.get_or_load_counted(team, usage(), behind, true, async move {
            entered_tx.send(()).unwrap();
            released.await.unwrap();
            Ok::<_, ()>(vec![2u32])
        });
        let others = async {
            entered.await.unwrap();
            let other = cache.get_or_load_counted(team, usage(), behind, true, async { Ok::<_, ()>(vec![3u32]) });
            let answered = other.await.unwrap();
            release.send(()).unwrap();
            answered
        };
        let (reader, other) = tokio::join!(reader, others);
        assert_eq!(((*other.0).clone(), other.1), (vec![1], 0), "answered from the kept page meanwhile");
        let reader = reader.unwrap();
        assert_eq!(((*reader.0).clone(), reader.1), (vec![2], REFRESH_BEHIND), "read again by one request");
        let now = (REFRESH_BEHIND, 0);
        assert_eq!(counted(&cache, team, now, 4).await, (vec![2], REFRESH_BEHIND), "the new read is kept");
    }

    #[test]
    fn beyond_its_bound_every_team_moves_together() {
        let mut epochs = Epochs::default();
        let first = Uuid::new_v4();
        epochs.bump(first);
        let before = epochs.of(first);
        for _ in 0..MAX_TEAMS {
            epochs.bump(Uuid::new_v4());
        }
        assert!(epochs.of(first) > before, "a forgotten team's epoch never goes back");
    }
}
