//! A bounded cache (moka) that never keeps what a change made stale.
//!
//! A lookup reads the database, then caches what it read. If a change commits and evicts in
//! between, the lookup would put the old value back after the eviction. Every eviction bumps a
//! generation, and a lookup caches its value only if no eviction happened since it began; the
//! check and the insert run under a shared lock that evictions take exclusively, so an eviction
//! cannot fall between them.

use std::hash::Hash;
use std::sync::RwLock;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

pub struct GuardedCache<K, V> {
    cache: moka::sync::Cache<K, V>,
    generation: AtomicU64,
    guard: RwLock<()>,
}

impl<K, V> GuardedCache<K, V>
where
    K: Hash + Eq + Send + Sync + 'static,
    V: Clone + Send + Sync + 'static,
{
    pub fn new(capacity: u64, ttl: Duration) -> Self {
        Self {
            cache: moka::sync::Cache::builder()
                .max_capacity(capacity)
                .time_to_live(ttl)
                .support_invalidation_closures()
                .build(),
            generation: AtomicU64::new(0),
            guard: RwLock::new(()),
        }
    }

    /// How many entries it holds now (after moka's pending maintenance).
    pub fn entries(&self) -> u64 {
        self.cache.run_pending_tasks();
        self.cache.entry_count()
    }

    pub fn get(&self, key: &K) -> Option<V> {
        self.cache.get(key)
    }

    /// Taken before a lookup reads the database.
    pub fn generation(&self) -> u64 {
        self.generation.load(Ordering::Acquire)
    }

    /// Caches what a lookup read, unless something was evicted since it took `seen`.
    pub fn insert_if_current(&self, key: K, value: V, seen: u64) -> bool {
        let _shared = self.guard.read().unwrap_or_else(|e| e.into_inner());
        if self.generation.load(Ordering::Acquire) != seen {
            return false;
        }
        self.cache.insert(key, value);
        true
    }

    fn bump(&self) -> std::sync::RwLockWriteGuard<'_, ()> {
        let exclusive = self.guard.write().unwrap_or_else(|e| e.into_inner());
        self.generation.fetch_add(1, Ordering::AcqRel);
        exclusive
    }

    pub fn evict(&self, key: &K) {
        let _exclusive = self.bump();
        self.cache.invalidate(key);
    }

    /// Evicts every entry `matches` selects (entries cached later are not affected).
    pub fn evict_if(&self, matches: impl Fn(&K, &V) -> bool + Send + Sync + 'static) {
        let _exclusive = self.bump();
        if self.cache.invalidate_entries_if(matches).is_err() {
            self.cache.invalidate_all();
        }
    }

    pub fn clear(&self) {
        let _exclusive = self.bump();
        self.cache.invalidate_all();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A lookup that read a key just before its revocation committed must not put the stale
    /// entry back after the eviction.
    #[test]
    fn a_lookup_that_began_before_an_eviction_caches_nothing() {
        let cache: GuardedCache<&str, &str> = GuardedCache::new(100, Duration::from_secs(60));
        let seen = cache.generation(); // the lookup starts and reads "active" from the database
        cache.evict(&"key"); // the revocation commits and evicts
        assert!(!cache.insert_if_current("key", "active", seen), "the stale read is discarded");
        assert_eq!(cache.get(&"key"), None);
        let seen = cache.generation(); // the next lookup reads "revoked"
        assert!(cache.insert_if_current("key", "revoked", seen));
        assert_eq!(cache.get(&"key"), Some("revoked"));
    }

    #[test]
    fn evict_if_drops_matching_entries_only() {
        let cache: GuardedCache<u32, u32> = GuardedCache::new(100, Duration::from_secs(60));
        for k in 0..10 {
            assert!(cache.insert_if_current(k, k % 2, cache.generation()));
        }
        cache.evict_if(|_, v| *v == 1);
        assert_eq!((0..10).filter(|k| cache.get(k).is_some()).count(), 5);
        cache.clear();
        assert_eq!(cache.get(&0), None);
    }
}
