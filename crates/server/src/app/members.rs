//! Member use cases: change a role, remove a member or leave; the member list as kept.

use portal_domain::policy::{Action, Target};
use portal_domain::teams::leaves_no_owner;
use portal_types::{AuditAction, ErrorCode, Member, Role};
use uuid::Uuid;

use super::{Begin, TeamTx};
use crate::error::{ApiError, ApiResult};
use crate::services::change::Change;

fn member_not_found() -> ApiError {
    ApiError::not_found("No such member in this team.")
}

fn last_owner() -> ApiError {
    ApiError::new(ErrorCode::LastOwner, "A team keeps at least one owner: make someone else owner first.")
}

/// The member `user_id`, read (and with the team locked, serialized) in the unit of work.
async fn target_role(tx: &TeamTx<'_>, user_id: Uuid) -> ApiResult<Role> {
    let membership = portal_db::teams::membership_of(tx.db(), tx.team_id(), user_id).await?;
    Ok(membership.ok_or_else(member_not_found)?.role)
}

/// 409 `last_owner` if the change of a member with `current` role to `new` (None: removal)
/// would leave the team without an owner; owners are counted under the team's lock.
async fn keep_an_owner(tx: &TeamTx<'_>, current: Role, new: Option<Role>) -> ApiResult<()> {
    let owners = portal_db::teams::count_owners(tx.db(), tx.team_id()).await?;
    if leaves_no_owner(owners, current, new) { Err(last_owner()) } else { Ok(()) }
}

async fn email_of(tx: &TeamTx<'_>, user_id: Uuid) -> ApiResult<String> {
    Ok(portal_db::users::find(tx.db(), user_id).await?.map(|u| u.email).unwrap_or_default())
}

/// Changes a member's role. The team's keys are evicted everywhere: a key is capped by its
/// creator's role.
pub async fn change_role(begin: Begin<'_>, user_id: Uuid, to: Role) -> ApiResult<Member> {
    let mut tx = begin.open(true).await?;
    let target = target_role(&tx, user_id).await?;
    tx.allow(Action::ChangeRole { target, to }, Target::Team)?;
    if target != to {
        keep_an_owner(&tx, target, Some(to)).await?;
        portal_db::teams::set_role(tx.db(), tx.team_id(), user_id, to).await?;
        let summary = format!("{}: {} → {}", email_of(&tx, user_id).await?, target.as_str(), to.as_str());
        tx.record(AuditAction::MemberRoleChanged, "member", user_id, summary);
    }
    let member = portal_db::teams::member_row(tx.db(), tx.team_id(), user_id).await?.ok_or_else(member_not_found)?;
    tx.announce(Change::Team(tx.team_id()));
    tx.commit().await?;
    Ok(crate::reads::members::to_wire(member))
}

/// Removes a member, or the caller leaves (their own id). The last owner can do neither.
pub async fn remove(begin: Begin<'_>, user_id: Uuid) -> ApiResult<()> {
    let mut tx = begin.open(true).await?;
    let target = target_role(&tx, user_id).await?;
    let leaving = tx.access.user_id == Some(user_id);
    tx.allow(if leaving { Action::Leave } else { Action::RemoveMember { target } }, Target::Team)?;
    keep_an_owner(&tx, target, None).await?;
    portal_db::teams::remove_member(tx.db(), tx.team_id(), user_id).await?;
    let action = if leaving { AuditAction::MemberLeft } else { AuditAction::MemberRemoved };
    let summary = format!("{} ({})", email_of(&tx, user_id).await?, target.as_str());
    tx.record(action, "member", user_id, summary);
    tx.announce(Change::Team(tx.team_id()));
    tx.commit().await
}
