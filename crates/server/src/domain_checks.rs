//! Verified domains are looked up again (`PORTAL_DOMAIN_RECHECK_SECONDS`, daily by default). A
//! domain whose TXT record has been missing for longer than the grace period
//! (`PORTAL_DOMAIN_GRACE_SECONDS`, 3 days) is no longer verified: its people stop joining the team
//! and being sent to its identity provider, and another team may verify it. The team's owners and
//! admins are mailed, and the activity says why. Each lookup is taken by one instance (its
//! `checked_at` claimed first).

use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use portal_db::{DatabaseConnection, TransactionTrait};
use portal_domain::domains::{self, Lookup};
use portal_types::AuditAction;
use tokio::sync::{Notify, watch};

use crate::error::ApiResult;
use crate::services::change::Change;
use crate::services::invalidation::Invalidation;

/// Domains looked up per round.
const BATCH: u64 = 50;

/// What the rechecks need.
pub struct Rechecks {
    pub db: DatabaseConnection,
    pub dns: Arc<crate::dns::Dns>,
    pub invalidation: Arc<Invalidation>,
    pub public_url: String,
    pub mail_wake: Arc<Notify>,
    /// How long a lookup stays good.
    pub every: Duration,
    /// How long a verified domain's record may be missing.
    pub grace: Duration,
}

pub async fn run(rechecks: Rechecks, mut stopped: watch::Receiver<bool>) {
    let tick = (rechecks.every / 4).clamp(Duration::from_millis(200), Duration::from_secs(300));
    loop {
        tokio::select! {
            _ = tokio::time::sleep(tick) => {}
            _ = stopped.changed() => return,
        }
        if let Err(e) = rechecks.round().await {
            tracing::warn!(error = %e, "domain rechecks failed; trying again later");
        }
    }
}

impl Rechecks {
    /// Looks up the domains that are due; returns how many lapsed.
    pub async fn round(&self) -> ApiResult<usize> {
        let now = Utc::now();
        let before = now - chrono::Duration::from_std(self.every).unwrap_or_default();
        let mut lapsed = 0;
        for domain in portal_db::domains::due_for_recheck(&self.db, before, BATCH).await? {
            if !portal_db::domains::claim_recheck(&self.db, domain.id, before, now).await? {
                continue;
            }
            let found = self.dns.txt(&domains::record_name(&domain.domain)).await;
            let verdict = domains::verdict(&domain.domain, &domain.token, &found);
            if let Lookup::Failed(why) = &found {
                tracing::warn!(domain = domain.domain, error = why.as_str(), "TXT lookup failed");
            }
            // A lookup that failed (timeout, server failure) says nothing about the record: it
            // never ends a verification; a missing or different record does, after the grace.
            let conclusive = !matches!(found, Lookup::Failed(_));
            lapsed += usize::from(self.record(&domain, verdict, conclusive).await?);
        }
        Ok(lapsed)
    }

    /// Records one lookup: confirmed, or failed (and lapsed past the grace period).
    async fn record(
        &self,
        domain: &portal_db::domains::Domain,
        verdict: Result<(), String>,
        conclusive: bool,
    ) -> ApiResult<bool> {
        let now = Utc::now();
        let txn = self.db.begin().await?;
        portal_db::domains::record_check(&txn, domain.id, verdict.as_ref().map(|_| ()).map_err(String::as_str), now)
            .await?;
        let Err(why) = verdict else {
            txn.commit().await?;
            return Ok(false);
        };
        let cutoff = now - chrono::Duration::from_std(self.grace).unwrap_or_default();
        let lapsed = conclusive && portal_db::domains::lapse(&txn, domain.id, cutoff).await?;
        let (action, summary) = if lapsed {
            (AuditAction::DomainLapsed, format!("{}: {why}; no longer verified", domain.domain))
        } else {
            (AuditAction::DomainCheckFailed, format!("{}: {why}", domain.domain))
        };
        let entry = portal_db::audit::NewEntry {
            team_id: Some(domain.team_id),
            actor: None,
            action,
            target_type: "domain",
            target_id: Some(domain.id.to_string()),
            summary: Some(summary),
            ip: None,
            user_agent: None,
        };
        let touched = portal_db::audit::record(&txn, entry, now).await?;
        if lapsed {
            let notice = crate::notices::Notice {
                subject: format!("{} is no longer verified", domain.domain),
                paragraphs: vec![
                    format!(
                        "The TXT record that proves your team owns {} ({}) has been missing for a while: {why}.",
                        domain.domain,
                        domains::record_name(&domain.domain)
                    ),
                    "The domain is no longer verified: people with an address there no longer join the team \
                     without an invitation or sign in through its identity provider, and another team may verify \
                     it. Publish the record again and check it on the team's settings page to verify it again."
                        .to_owned(),
                ],
                action: "Open the team's settings",
                link: format!("{}/teams/{}/settings", self.public_url, domain.team_id),
            };
            crate::notices::mail_managers(&txn, domain.team_id, &notice, now).await?;
            tracing::warn!(domain = domain.domain, team = %domain.team_id, "domain verification lapsed");
        }
        let mut changes: Vec<Change> = Change::reads(&touched).collect();
        changes.push(Change::Reads(domain.team_id));
        self.invalidation.commit(txn, &changes).await?;
        if lapsed {
            self.mail_wake.notify_one();
        }
        Ok(lapsed)
    }
}
