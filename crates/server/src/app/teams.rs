//! Team use cases: create, change (name, description, two-factor requirement), delete; the
//! team as answered.

use chrono::Utc;
use portal_db::TransactionTrait;
use portal_domain::policy::{Action, Actor, Target};
use portal_types::{AuditAction, ErrorCode, Role, Team};

use super::Begin;
use crate::access::TeamAccess;
use crate::error::{ApiError, ApiResult};
use crate::extract::{AuthUser, Client, Principal};
use crate::services::change::Change;
use crate::state::AppState;

/// Creates a team with `user` as its owner. Nobody has access before it exists: its unit of
/// work is its own.
pub async fn create(
    state: &AppState,
    user: AuthUser,
    client: &Client,
    name: String,
    description: Option<String>,
) -> ApiResult<Team> {
    let now = Utc::now();
    let txn = state.db.begin().await?;
    let team = portal_db::teams::create(&txn, &name, description.as_deref(), user.user_id, now).await?;
    let access = TeamAccess::load(&txn, &Principal::User(user), team.id).await?;
    let entry = access.entry(client, AuditAction::TeamCreated, "team", Some(team.id.to_string()), Some(name));
    portal_db::audit::record(&txn, entry, now).await?;
    txn.commit().await?;
    Ok(crate::reads::teams::to_wire(team, Actor::Member(Role::Owner), 1))
}

/// A team's change; None leaves a setting as it is.
pub struct TeamUpdate {
    pub name: Option<String>,
    pub description: Option<Option<String>>,
    pub require_two_factor: Option<bool>,
    pub require_sso: Option<bool>,
}

/// Renames a team, changes its description or its two-factor requirement.
pub async fn update(begin: Begin<'_>, update: TeamUpdate) -> ApiResult<Team> {
    // Locked: requiring SSO waits for a connection's removal under way (and the reverse).
    let mut tx = begin.open(true).await?;
    tx.allow(Action::UpdateTeam, Target::Team)?;
    let required = update.require_two_factor.filter(|&r| r != tx.access.team.require_two_factor);
    if let Some(on) = required {
        tx.allow(Action::UpdateTeam, Target::TwoFactorRequirement { on })
            .map_err(|e| e.with_field("require_two_factor"))?;
    }
    let team_id = tx.team_id();
    let sso = update.require_sso.filter(|&r| r != tx.access.team.require_sso);
    if sso == Some(true) && !has_working_connection(&tx).await? {
        return Err(ApiError::new(
            ErrorCode::Conflict,
            "Single sign-on can be required once the team's connection works: test it, or sign in through it, first.",
        )
        .with_field("require_sso"));
    }
    let note = update.description.as_ref().map(|d| d.as_deref());
    if let Some(updated) =
        portal_db::teams::update(tx.db(), team_id, update.name.as_deref(), note, (required, sso), tx.now).await?
    {
        tx.access.team = updated;
    }
    let mut summary = format!("name: {}", tx.access.team.name);
    match required {
        Some(true) => summary.push_str("; two-factor authentication required"),
        Some(false) => summary.push_str("; two-factor authentication no longer required"),
        None => {}
    }
    match sso {
        Some(true) => summary.push_str("; single sign-on required (owners keep a password way in)"),
        Some(false) => summary.push_str("; single sign-on no longer required"),
        None => {}
    }
    tx.record(AuditAction::TeamUpdated, "team", team_id, summary);
    let counts = portal_db::teams::member_counts(tx.db(), &[team_id]).await?;
    let count = counts.get(&team_id).copied().unwrap_or(0);
    let team = crate::reads::teams::to_wire(tx.access.team.clone(), tx.access.actor(), count);
    tx.announce(Change::Team(team_id));
    tx.commit().await?;
    Ok(team)
}

/// Joins a team that verified the domain of the user's address and lets its people join
/// (suggest or automatic), as a member. 404 when it does not (outsiders learn nothing more).
pub async fn join_by_domain(state: &AppState, auth: AuthUser, client: &Client, team_id: uuid::Uuid) -> ApiResult<Team> {
    let now = Utc::now();
    let txn = state.db.begin().await?;
    portal_db::teams::lock(&txn, team_id).await?;
    let user = portal_db::users::find(&txn, auth.user_id)
        .await?
        .ok_or_else(|| ApiError::unauthorized("The account of this access token no longer exists."))?;
    if portal_db::teams::membership_of(&txn, team_id, user.id).await?.is_some() {
        return Err(ApiError::new(ErrorCode::AlreadyMember, "You are already a member of this team."));
    }
    let domain = crate::reads::domains::joinable_domain(&txn, &user)
        .await?
        .filter(|d| d.team_id == team_id)
        .ok_or_else(|| {
            ApiError::not_found("No verified domain of your address lets you join this team; ask for an invitation.")
        })?;
    portal_db::teams::add_member(&txn, team_id, user.id, Role::Member, now).await?;
    let access = TeamAccess::load(&txn, &Principal::User(auth), team_id).await?;
    let summary = format!("{} as member (verified domain {})", user.email, domain.domain);
    let entry =
        access.entry(client, AuditAction::MemberJoinedByDomain, "member", Some(user.id.to_string()), Some(summary));
    portal_db::audit::record(&txn, entry, now).await?;
    let counts = portal_db::teams::member_counts(&txn, &[team_id]).await?;
    let count = counts.get(&team_id).copied().unwrap_or(1);
    let team = crate::reads::teams::to_wire(access.team, Actor::Member(Role::Member), count);
    state.invalidation.commit(txn, &[Change::Team(team_id)]).await?;
    Ok(team)
}

/// Whether a connection of the team has worked (a test or a sign-in succeeded).
async fn has_working_connection(tx: &super::TeamTx<'_>) -> ApiResult<bool> {
    let connections = portal_db::sso::list(tx.db(), tx.team_id()).await?;
    Ok(connections.iter().any(crate::reads::sso::works))
}

/// Deletes a team with its memberships, keys and invitations. The activity entry is written
/// (and its webhook event raised) before the team goes.
pub async fn delete(begin: Begin<'_>) -> ApiResult<()> {
    let mut tx = begin.open(true).await?;
    tx.allow(Action::DeleteTeam, Target::Team)?;
    let team_id = tx.team_id();
    let name = tx.access.team.name.clone();
    tx.record(AuditAction::TeamDeleted, "team", team_id, name);
    tx.write_activity().await?;
    portal_db::teams::delete(tx.db(), team_id).await?;
    tx.announce(Change::Team(team_id));
    tx.commit().await
}
