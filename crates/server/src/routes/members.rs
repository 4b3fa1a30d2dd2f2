//! Team members: list, change role, remove, leave.

use actix_web::{HttpRequest, HttpResponse, delete, get, patch, web};
use portal_domain::policy::Action;
use portal_types::{Member, MemberPage, UpdateMemberRequest};
use uuid::Uuid;

use crate::access::TeamAccess;
use crate::app::members;
use crate::error::ApiResult;
use crate::error::responses::{Conflict, InternalError, JsonBody, NoAccess, NotFound, Unauthorized, ValidationFailed};
use crate::extract::{ApiJson, Caller, Principal};
use crate::paging::PageQuery;
use crate::reads;
use crate::state::AppState;

/// The team's members with role, join date and last activity, earliest joined first.
#[utoipa::path(
    tag = "members", operation_id = "listMembers", security(("bearer" = []), ("api_key" = [])),
    params(("team_id" = Uuid, Path, description = "The team."), PageQuery),
    responses(
        (status = 200, description = "Members.", body = MemberPage),
        Unauthorized, NotFound, ValidationFailed, InternalError,
    )
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
    let page = reads::members::page(&state, access.team.id, after, limit).await?;
    Ok(page.respond(&req))
}

/// Change a member's role. Admins move members between member and admin; only owners grant or
/// take the owner role; the last owner keeps it.
#[utoipa::path(
    tag = "members", operation_id = "updateMember", security(("bearer" = []), ("api_key" = [])),
    params(("team_id" = Uuid, Path, description = "The team."), ("user_id" = Uuid, Path, description = "The member.")),
    request_body = UpdateMemberRequest,
    responses(
        (status = 200, description = "The member with the new role.", body = Member),
        JsonBody, NoAccess, Conflict, ValidationFailed, InternalError,
    )
)]
#[patch("/teams/{team_id}/members/{user_id}")]
pub async fn update_member(
    caller: Caller,
    path: web::Path<(Uuid, Uuid)>,
    body: ApiJson<UpdateMemberRequest>,
) -> ApiResult<web::Json<Member>> {
    let (team_id, user_id) = path.into_inner();
    Ok(web::Json(members::change_role(caller.on(team_id), user_id, body.0.role).await?))
}

/// Remove a member, or leave the team (your own user id). The last owner can do neither.
#[utoipa::path(
    tag = "members", operation_id = "removeMember", security(("bearer" = []), ("api_key" = [])),
    params(("team_id" = Uuid, Path, description = "The team."), ("user_id" = Uuid, Path, description = "The member; your own id to leave.")),
    responses((status = 204, description = "Removed."), NoAccess, Conflict, InternalError)
)]
#[delete("/teams/{team_id}/members/{user_id}")]
pub async fn remove_member(caller: Caller, path: web::Path<(Uuid, Uuid)>) -> ApiResult<HttpResponse> {
    let (team_id, user_id) = path.into_inner();
    members::remove(caller.on(team_id), user_id).await?;
    Ok(HttpResponse::NoContent().finish())
}
