//! Member use cases: change a role, remove a member or leave; the member list as kept.

use portal_db::teams::MemberRow;
use portal_domain::policy::{Action, Target};
use portal_domain::teams::leaves_no_owner;
use portal_types::{AuditAction, ErrorCode, Member, MemberPage, Role};
use uuid::Uuid;

use super::{Begin, TeamTx};
use crate::error::{ApiError, ApiResult};
use crate::kept::KeptJson;
use crate::paging::{encode_position, next_cursor, rows_for};
use crate::services::invalidation::Change;
use crate::services::pages::PageKey;
use crate::state::AppState;

pub fn to_wire(row: MemberRow) -> Member {
    Member {
        user_id: row.membership.user_id,
        name: row.name,
        email: row.email,
        role: row.membership.role,
        joined_at: row.membership.joined_at,
        last_active_at: row.last_active_at,
    }
}

fn member_not_found() -> ApiError {
    ApiError::not_found("No such member in this team.")
}

fn last_owner() -> ApiError {
    ApiError::new(ErrorCode::LastOwner, "A team keeps at least one owner: make someone else owner first.")
}

/// A page of the team's members, earliest joined first, as kept until the team's reads change.
pub async fn page(
    state: &AppState,
    team_id: Uuid,
    after: Option<(chrono::DateTime<chrono::Utc>, Uuid)>,
    limit: u64,
) -> ApiResult<std::sync::Arc<KeptJson>> {
    state
        .pages
        .cached_read(team_id, PageKey::Members { after, limit }, async {
            let mut rows = portal_db::teams::list_members(&state.reads, team_id, after, rows_for(limit)).await?;
            let next = next_cursor(&mut rows, limit, |r| encode_position(r.membership.joined_at, r.membership.user_id));
            KeptJson::new(&MemberPage { items: rows.into_iter().map(to_wire).collect(), next_cursor: next }, None)
        })
        .await
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
    Ok(to_wire(member))
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
