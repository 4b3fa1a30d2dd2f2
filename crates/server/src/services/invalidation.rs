//! Keeping every instance's caches true to the database: a change to a key or a team is
//! announced in the transaction that makes it (PostgreSQL NOTIFY, delivered at commit) and
//! evicted here after the commit; other instances evict when they hear it. While the channel is
//! down nothing is served from the caches.

use std::sync::Arc;
use std::time::Duration;

use portal_db::{DatabaseConnection, DatabaseTransaction};

use super::Trust;
use super::auth_cache::AuthCache;
use super::change::Change;
use super::meter::MeterService;
use super::pages::Pages;
use crate::error::ApiResult;

/// Keeps every instance's caches true: announces changes in the transaction that makes them,
/// evicts them here after the commit, and hears the other instances' announcements.
pub struct Invalidation {
    pub db: DatabaseConnection,
    pub trust: Arc<Trust>,
    pub auth: Arc<AuthCache>,
    pub pages: Arc<Pages>,
    pub meter: Arc<MeterService>,
}

impl Invalidation {
    /// Commits `txn` with `changes` announced to every instance, then evicts them here.
    pub async fn commit(&self, txn: DatabaseTransaction, changes: &[Change]) -> ApiResult<()> {
        for change in changes {
            match *change {
                Change::Key(id) => portal_db::changes::key_changed(&txn, id).await?,
                Change::Team(id) => portal_db::changes::team_changed(&txn, id).await?,
                Change::Reads(id) => portal_db::changes::reads_changed(&txn, id).await?,
                Change::Session(id) => portal_db::changes::session_ended(&txn, id).await?,
            }
        }
        txn.commit().await?;
        for change in changes {
            self.evict(*change);
        }
        Ok(())
    }

    /// Drops what this instance cached of a change.
    pub fn evict(&self, change: Change) {
        self.auth.evict(change);
        self.pages.evict(change);
        if let Change::Key(id) = change {
            self.meter.forget(id);
        }
    }

    /// Forgets every team's kept reads on this instance (after history was pruned).
    pub fn forget_reads(&self) {
        self.pages.forget_all();
    }

    fn evict_all(&self) {
        self.auth.clear();
        self.meter.forget_all();
        self.pages.forget_all();
    }

    /// On PostgreSQL: evicts what any instance changed (LISTEN), and distrusts the caches
    /// while the channel is down.
    pub async fn run_listener(self: Arc<Self>, mut stop: tokio::sync::watch::Receiver<bool>) {
        use portal_db::changes::{ChangeListener, Heard};
        loop {
            self.trust.set(false);
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
            self.trust.set(true);
            loop {
                tokio::select! {
                    heard = listener.next() => match heard {
                        Heard::Key(id) => self.evict(Change::Key(id)),
                        Heard::Team(id) => self.evict(Change::Team(id)),
                        Heard::Reads(id) => self.evict(Change::Reads(id)),
                        Heard::Session(id) => self.evict(Change::Session(id)),
                        // This instance's pages add its own flushes from memory.
                        Heard::Usage(_, from) if from == self.meter.instance => {}
                        Heard::Usage(team, _) => self.pages.bump_counts(team),
                        Heard::Lost => break,
                    },
                    _ = stop.changed() => return,
                }
            }
            tracing::warn!("key-change channel lost; reconnecting");
        }
    }
}
