//! Team members: list, change role, remove, leave.

use actix_web::{HttpRequest, HttpResponse, delete, get, patch, web};
use chrono::Utc;
use portal_db::TransactionTrait;
use portal_domain::teams::{Action, leaves_no_owner};
use portal_types::ErrorCode;
use portal_types::{Member, MemberPage, UpdateMemberRequest};
use uuid::Uuid;

use crate::access::TeamAccess;
use crate::error::{ApiError, ApiResult};
use crate::extract::{ApiJson, Client, Principal};
use crate::kept::KeptJson;
use crate::keys::Change;
use crate::openapi::{
    BadRequest, Conflict, Forbidden, InternalError, NotFound, PayloadTooLarge, Unauthorized, UnsupportedMediaType,
    ValidationFailed,
};
use crate::paging::{PageQuery, encode_position, next_cursor, rows_for};
use crate::state::AppState;

pub(crate) fn to_wire(row: portal_db::teams::MemberRow) -> Member {
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

/// The team's members with role, join date and last activity, earliest joined first.
#[utoipa::path(
    tag = "members",
    operation_id = "listMembers",
    security(("bearer" = []), ("api_key" = [])),
    params(("team_id" = Uuid, Path, description = "The team."), PageQuery),
    responses((status = 200, description = "Members.", body = MemberPage), Unauthorized, NotFound, ValidationFailed, InternalError)
)]
#[get("/teams/{team_id}/members")]
pub async fn list_members(
    state: web::Data<AppState>,
    auth: Principal,
    req: HttpRequest,
    path: web::Path<Uuid>,
    query: web::Query<PageQuery>,
) -> ApiResult<HttpResponse> {
    let (access, _) = TeamAccess::load_for_read(&state, &auth, path.into_inner()).await?;
    access.require(Action::ReadMembers)?;
    let limit = query.limit()?;
    let after = query.after()?;
    let team_id = access.team.id;
    let page = state
        .keys
        .cached_read(team_id, format!("members {after:?} {limit}"), async {
            let mut rows = portal_db::teams::list_members(&state.reads, team_id, after, rows_for(limit)).await?;
            let next = next_cursor(&mut rows, limit, |r| encode_position(r.membership.joined_at, r.membership.user_id));
            KeptJson::new(&MemberPage { items: rows.into_iter().map(to_wire).collect(), next_cursor: next }, None)
        })
        .await?;
    Ok(page.respond(&req))
}

/// Change a member's role. Admins move members between member and admin; only owners grant or
/// take the owner role; the last owner keeps it.
#[utoipa::path(
    tag = "members",
    operation_id = "updateMember",
    security(("bearer" = []), ("api_key" = [])),
    params(("team_id" = Uuid, Path, description = "The team."), ("user_id" = Uuid, Path, description = "The member.")),
    request_body = UpdateMemberRequest,
    responses(
        (status = 200, description = "The member with the new role.", body = Member),
        BadRequest, Unauthorized, Forbidden, NotFound, Conflict, PayloadTooLarge, UnsupportedMediaType, ValidationFailed, InternalError,
    )
)]
#[patch("/teams/{team_id}/members/{user_id}")]
pub async fn update_member(
    state: web::Data<AppState>,
    auth: Principal,
    client: Client,
    path: web::Path<(Uuid, Uuid)>,
    body: ApiJson<UpdateMemberRequest>,
) -> ApiResult<web::Json<Member>> {
    let (team_id, user_id) = path.into_inner();
    let new_role = body.0.role;
    let now = Utc::now();
    let txn = state.db.begin().await?;
    portal_db::teams::lock(&txn, team_id).await?;
    let access = TeamAccess::load(&txn, &auth, team_id).await?;
    let target = portal_db::teams::membership_of(&txn, team_id, user_id).await?.ok_or_else(member_not_found)?;
    access.require(Action::ChangeRole { target: target.role, to: new_role })?;
    if target.role != new_role {
        let owners = portal_db::teams::count_owners(&txn, team_id).await?;
        if leaves_no_owner(owners, target.role, Some(new_role)) {
            return Err(last_owner());
        }
        portal_db::teams::set_role(&txn, team_id, user_id, new_role).await?;
        let who = portal_db::users::find(&txn, user_id).await?.map(|u| u.email).unwrap_or_default();
        let summary = format!("{who}: {} → {}", target.role.as_str(), new_role.as_str());
        portal_db::audit::record(
            &txn,
            access.entry(
                &client,
                portal_types::AuditAction::MemberRoleChanged,
                "member",
                Some(user_id.to_string()),
                Some(summary),
            ),
            now,
        )
        .await?;
    }
    let member = portal_db::teams::member_row(&txn, team_id, user_id).await?.ok_or_else(member_not_found)?;
    // The team's keys are evicted everywhere: a key's scopes are capped by its creator's role.
    state.keys.commit(txn, &[Change::Team(team_id)]).await?;
    Ok(web::Json(to_wire(member)))
}

/// Remove a member, or leave the team (your own user id). The last owner can do neither.
#[utoipa::path(
    tag = "members",
    operation_id = "removeMember",
    security(("bearer" = []), ("api_key" = [])),
    params(("team_id" = Uuid, Path, description = "The team."), ("user_id" = Uuid, Path, description = "The member; your own id to leave.")),
    responses((status = 204, description = "Removed."), Unauthorized, Forbidden, NotFound, Conflict, InternalError)
)]
#[delete("/teams/{team_id}/members/{user_id}")]
pub async fn remove_member(
    state: web::Data<AppState>,
    auth: Principal,
    client: Client,
    path: web::Path<(Uuid, Uuid)>,
) -> ApiResult<HttpResponse> {
    let (team_id, user_id) = path.into_inner();
    let now = Utc::now();
    let txn = state.db.begin().await?;
    portal_db::teams::lock(&txn, team_id).await?;
    let access = TeamAccess::load(&txn, &auth, team_id).await?;
    let target = portal_db::teams::membership_of(&txn, team_id, user_id).await?.ok_or_else(member_not_found)?;
    let leaving = access.user_id == Some(user_id);
    access.require(if leaving { Action::Leave } else { Action::RemoveMember { target: target.role } })?;
    let owners = portal_db::teams::count_owners(&txn, team_id).await?;
    if leaves_no_owner(owners, target.role, None) {
        return Err(last_owner());
    }
    portal_db::teams::remove_member(&txn, team_id, user_id).await?;
    let who = portal_db::users::find(&txn, user_id).await?.map(|u| u.email).unwrap_or_default();
    let action = if leaving { portal_types::AuditAction::MemberLeft } else { portal_types::AuditAction::MemberRemoved };
    let summary = format!("{who} ({})", target.role.as_str());
    portal_db::audit::record(
        &txn,
        access.entry(&client, action, "member", Some(user_id.to_string()), Some(summary)),
        now,
    )
    .await?;
    state.keys.commit(txn, &[Change::Team(team_id)]).await?;
    Ok(HttpResponse::NoContent().finish())
}
