//! Use cases: what a caller does to a team, each run through one [`TeamTx`] (what a caller reads
//! is in [`crate::reads`]). A handler decodes the request, calls one use case, and encodes its
//! answer; the use case asks the policy, changes the rows, and the unit of work writes the
//! activity (which raises the team's webhook events, in the same transaction) and announces the
//! cache changes to every instance as it commits.

pub mod accounts;
pub mod domains;
pub mod invitations;
pub mod keys;
pub mod leaks;
pub mod members;
pub mod sign_in;
pub mod sso;
pub mod sso_sign_in;
pub mod teams;
pub mod two_factor;
pub mod webhooks;

use chrono::{DateTime, Utc};
use portal_db::{DatabaseTransaction, TransactionTrait};
use portal_domain::policy::{Action, Target};
use portal_types::AuditAction;
use uuid::Uuid;

use crate::access::TeamAccess;
use crate::error::ApiResult;
use crate::extract::{Client, Principal};
use crate::services::change::Change;
use crate::state::AppState;

/// Whether the process can serve: its database answers.
pub async fn ready(state: &AppState) -> Result<(), portal_db::DbErr> {
    portal_db::ping(&state.db).await
}

/// One change to a team, in one transaction: the caller's access loaded in it, the policy asked
/// before anything is written, the activity entries and cache announcements kept until commit.
/// Dropped without [`TeamTx::commit`], it rolls back and announces nothing.
pub struct TeamTx<'r> {
    pub state: &'r AppState,
    /// Who asks, as they authenticated.
    pub by: &'r Principal,
    txn: DatabaseTransaction,
    pub access: TeamAccess,
    client: &'r Client,
    /// The time of the change, the same in every row and entry it writes.
    pub now: DateTime<Utc>,
    entries: Vec<Entry>,
    changes: Vec<Change>,
    /// Whether activity was written, and so webhook events raised: the delivery worker is
    /// woken at commit rather than at its next look.
    raised: bool,
}

/// An activity entry to write at commit.
struct Entry {
    action: AuditAction,
    target_type: &'static str,
    target_id: String,
    summary: String,
}

/// How a unit of work starts.
pub struct Begin<'r> {
    pub state: &'r AppState,
    pub by: &'r Principal,
    pub client: &'r Client,
    pub team_id: Uuid,
}

impl<'r> Begin<'r> {
    /// Opens the transaction and loads the caller's access, without asking for anything yet
    /// (the action depends on a row read in the transaction, such as the target's role).
    /// `lock_team` serializes changes to the team's members (the last-owner rule counts them).
    pub async fn open(self, lock_team: bool) -> ApiResult<TeamTx<'r>> {
        let txn = self.state.db.begin().await?;
        if lock_team {
            portal_db::teams::lock(&txn, self.team_id).await?;
        }
        let access = TeamAccess::load(&txn, self.by, self.team_id).await?;
        Ok(TeamTx {
            state: self.state,
            by: self.by,
            txn,
            access,
            client: self.client,
            now: Utc::now(),
            entries: Vec::new(),
            changes: Vec::new(),
            raised: false,
        })
    }

    /// [`Begin::open`], then 403 unless the policy allows `action` on the team.
    pub async fn allowed(self, action: Action) -> ApiResult<TeamTx<'r>> {
        let tx = self.open(false).await?;
        tx.allow(action, Target::Team)?;
        Ok(tx)
    }
}

impl<'r> TeamTx<'r> {
    /// 403 unless the policy allows `action` on `target`.
    pub fn allow(&self, action: Action, target: Target<'_>) -> ApiResult<()> {
        self.access.allow(action, target)
    }

    /// The transaction, for the rows the use case reads and writes.
    pub fn db(&self) -> &DatabaseTransaction {
        &self.txn
    }

    pub fn team_id(&self) -> Uuid {
        self.access.team.id
    }

    /// Records `action` on `target_type` `target_id` in the team's activity (and so raises its
    /// webhook event), written at commit.
    pub fn record(&mut self, action: AuditAction, target_type: &'static str, target_id: Uuid, summary: String) {
        self.entries.push(Entry { action, target_type, target_id: target_id.to_string(), summary });
    }

    /// Announces a change of what caches hold, at commit, to every instance.
    pub fn announce(&mut self, change: Change) {
        if !self.changes.contains(&change) {
            self.changes.push(change);
        }
    }

    /// Writes the activity entries (raising their webhook events), commits, and evicts what the
    /// change made stale on every instance. The team's lists change with any entry.
    pub async fn commit(mut self) -> ApiResult<()> {
        self.write_activity().await?;
        let (state, raised) = (self.state, self.raised);
        state.invalidation.commit(self.txn, &self.changes).await?;
        if raised {
            state.webhook_wake.notify_one();
        }
        Ok(())
    }

    /// Writes the activity entries recorded so far now, before what the use case does next
    /// (deleting the team they belong to).
    pub async fn write_activity(&mut self) -> ApiResult<()> {
        for entry in std::mem::take(&mut self.entries) {
            self.raised = true;
            let touched = portal_db::audit::record(
                &self.txn,
                self.access.entry(
                    self.client,
                    entry.action,
                    entry.target_type,
                    Some(entry.target_id),
                    Some(entry.summary),
                ),
                self.now,
            )
            .await?;
            for change in Change::reads(&touched) {
                self.announce(change);
            }
        }
        Ok(())
    }
}
