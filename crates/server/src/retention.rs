//! Retention: each usage tier's counts older than its retention, and sessions and refresh tokens
//! that ended or expired 30 days ago, are deleted by a background task, in small batches so that
//! other queries (on SQLite's single connection) never wait long.

use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use portal_db::DatabaseConnection;

use crate::config::UsageRetention;
use crate::services::invalidation::Invalidation;

/// Rows deleted per statement.
const BATCH: u64 = 5_000;
/// How often the task looks for expired counts.
const EVERY: Duration = Duration::from_secs(600);

/// Deletes every expired row; returns how many went.
pub async fn prune(db: &DatabaseConnection, retention: UsageRetention) -> Result<u64, portal_db::Error> {
    let now = Utc::now();
    let mut removed = 0;
    for (tier, table, time, keys) in portal_db::usage::pruned_tables() {
        let days = tier.map_or(retention.days, |t| retention.days_of(t));
        let before = now
            - chrono::Duration::days(i64::from(days))
            - chrono::Duration::seconds(portal_db::usage::kept_beyond(table));
        loop {
            let n = portal_db::usage::prune(db, table, time, keys, before, BATCH).await?;
            removed += n;
            if n < BATCH {
                break;
            }
            tokio::task::yield_now().await;
        }
    }
    Ok(removed)
}

/// How long an ended or expired session (and its refresh tokens) is kept.
const ENDED_SESSIONS_DAYS: i64 = 30;

/// Deletes sessions and refresh tokens that ended or expired [`ENDED_SESSIONS_DAYS`] before `now`,
/// finished webhook deliveries (and events no delivery needs) as old, and sign-in challenges that
/// expired, single sign-on flows and usage flush ids written a day before;
/// returns how many rows went.
pub async fn prune_sessions(db: &DatabaseConnection, now: chrono::DateTime<Utc>) -> Result<u64, portal_db::Error> {
    let before = now - chrono::Duration::days(ENDED_SESSIONS_DAYS);
    let mut removed = 0;
    loop {
        // Sign-in challenges last minutes: a day later they are of no use, not even to read.
        let challenges = portal_db::two_factor::prune_challenges(db, now - chrono::Duration::days(1), BATCH).await?;
        // The webhook delivery log keeps 30 days too.
        let deliveries = portal_db::webhooks::prune(db, before, BATCH).await?;
        // A usage flush's id is needed until its retries are over: minutes.
        let (table, time, keys) = portal_db::usage::FLUSHES;
        let flushes = portal_db::usage::prune(db, table, time, keys, now - chrono::Duration::days(1), BATCH).await?;
        // Single sign-on flows (and their links) last 10 minutes, kept a day for the replay check.
        let flows = portal_db::sso::prune_flows(db, now - chrono::Duration::days(1)).await?;
        // A SAML assertion's id is kept while the assertion could pass the time checks (its
        // expiry, plus the allowed skew: an hour is more than enough).
        let assertions = portal_db::sso::prune_assertions(db, now - chrono::Duration::hours(1)).await?;
        let n = challenges
            + deliveries
            + flushes
            + flows
            + assertions
            + portal_db::sessions::prune(db, before, BATCH).await?;
        removed += n;
        if n == 0 {
            return Ok(removed);
        }
        tokio::task::yield_now().await;
    }
}

/// Deletes the request budgets of windows that started a day before `now` (no window is longer
/// than an hour), and shared rate-limit states idle for an hour; returns how many went.
pub async fn prune_budgets(db: &DatabaseConnection, now: chrono::DateTime<Utc>) -> Result<u64, portal_db::Error> {
    let before = (now - chrono::Duration::days(1)).timestamp();
    let mut removed = 0;
    loop {
        // A shared rate-limit state an hour behind now is full again: a fresh one admits the same.
        let n = portal_db::budgets::prune(db, before, BATCH).await?
            + portal_db::rate_limits::prune(db, 3600, BATCH).await?;
        removed += n;
        if n == 0 {
            return Ok(removed);
        }
        tokio::task::yield_now().await;
    }
}

/// Prunes at start-up and then every ten minutes, until `stop`.
/// Usage pages this instance kept forget what was pruned; other instances' pages are keyed by
/// the minute, so they read afresh within a minute.
pub async fn run(
    db: DatabaseConnection,
    invalidation: Arc<Invalidation>,
    retention: UsageRetention,
    mut stop: tokio::sync::watch::Receiver<bool>,
) {
    let mut tick = tokio::time::interval(EVERY);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = tick.tick() => {
                match prune(&db, retention).await {
                    Ok(0) => {}
                    Ok(removed) => {
                        invalidation.forget_reads();
                        tracing::info!(removed, "expired usage counts deleted");
                    }
                    Err(e) => tracing::warn!(error = %e, "pruning expired usage counts failed"),
                }
                match prune_sessions(&db, Utc::now()).await {
                    Ok(0) => {}
                    Ok(removed) => tracing::info!(removed, "ended sessions and refresh tokens deleted"),
                    Err(e) => tracing::warn!(error = %e, "pruning ended sessions failed"),
                }
                if let Err(e) = prune_budgets(&db, Utc::now()).await {
                    tracing::warn!(error = %e, "pruning past request budgets failed");
                }
            }
            _ = stop.changed() => return,
        }
    }
}
