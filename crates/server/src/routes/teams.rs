//! Teams: create, list, read, rename, delete.

use actix_web::http::header::ContentType;
use actix_web::{HttpResponse, delete, get, patch, post, web};
use portal_domain::policy::{Action, Actor, Principal as Policy, Target, permissions};
use portal_types::{
    CreateTeamRequest, Role, RoleList, RolePermissions, Team, TeamPage, TeamTwoFactor, UpdateTeamRequest,
};
use uuid::Uuid;

use crate::access::{TeamAccess, team_not_found};
use crate::app::teams;
use crate::error::ApiResult;
use crate::error::responses::{InternalError, JsonBody, NoAccess, NotFound, Unauthorized, ValidationFailed};
use crate::extract::{ApiJson, AuthUser, Caller, Client, Principal};
use crate::paging::PageQuery;
use crate::reads;
use crate::state::AppState;

pub use crate::reads::teams::to_wire;

/// What each role may do in a team: the permission table itself, for clients that say what a
/// role change grants or takes away.
#[utoipa::path(
    tag = "teams", operation_id = "listRoles", security(("bearer" = []), ("api_key" = [])),
    responses(
        (status = 200, description = "Owner, admin and member, with what each may do.", body = RoleList),
        Unauthorized, InternalError,
    )
)]
#[get("/roles")]
pub async fn list_roles(_auth: Principal) -> web::Json<RoleList> {
    let items = Role::ALL
        .into_iter()
        .map(|role| RolePermissions { role, permissions: permissions(Actor::Member(role)) })
        .collect();
    web::Json(RoleList { items })
}

/// The teams the caller belongs to, with the caller's role in each.
#[utoipa::path(
    tag = "teams", operation_id = "listTeams", security(("bearer" = []), ("api_key" = [])), params(PageQuery),
    responses(
        (status = 200, description = "The caller's teams, oldest membership first.", body = TeamPage),
        Unauthorized, ValidationFailed, InternalError,
    )
)]
#[get("/teams")]
pub async fn list_teams(
    state: web::Data<AppState>,
    auth: Principal,
    query: web::Query<PageQuery>,
) -> ApiResult<web::Json<TeamPage>> {
    let limit = query.limit()?;
    let after = query.after()?;
    let auth = match auth {
        Principal::User(user) => user,
        // A key sees exactly its own team.
        Principal::Key(key) => {
            let team_id = key.team_id;
            let (access, count) = TeamAccess::load_for_read(&state, &Principal::Key(key), team_id).await?;
            let items = if after.is_some() {
                vec![]
            } else {
                vec![{
                    let actor = access.actor();
                    to_wire(access.team, actor, count)
                }]
            };
            return Ok(web::Json(TeamPage { items, next_cursor: None }));
        }
    };
    Ok(web::Json(reads::teams::page(&state, &auth, after, limit).await?))
}

/// Create a team; the caller becomes its owner.
#[utoipa::path(
    tag = "teams", operation_id = "createTeam", security(("bearer" = [])), request_body = CreateTeamRequest,
    responses(
        (status = 201, description = "The new team.", body = Team),
        JsonBody, Unauthorized, ValidationFailed, InternalError,
    )
)]
#[post("/teams")]
pub async fn create_team(
    state: web::Data<AppState>,
    auth: AuthUser,
    client: Client,
    body: ApiJson<CreateTeamRequest>,
) -> ApiResult<HttpResponse> {
    let name = body.0.name.into_inner();
    let description = body.0.description.and_then(portal_types::Note::value);
    Ok(HttpResponse::Created().json(teams::create(&state, auth, &client, name, description).await?))
}

/// A team the caller belongs to.
#[utoipa::path(
    tag = "teams", operation_id = "getTeam", security(("bearer" = []), ("api_key" = [])),
    params(("team_id" = Uuid, Path, description = "The team.")),
    responses((status = 200, description = "The team.", body = Team), Unauthorized, NotFound, InternalError)
)]
#[get("/teams/{team_id}")]
pub async fn get_team(state: web::Data<AppState>, auth: Principal, path: web::Path<Uuid>) -> ApiResult<HttpResponse> {
    let team_id = path.into_inner();
    // Integrators poll this with their key: serve it from the team cache (changes evict it),
    // serialized once per cached snapshot.
    if let Principal::Key(key) = &auth {
        if key.team_id != team_id {
            return Err(team_not_found());
        }
        let actor = key.actor();
        let snap = state.auth_cache.team(team_id).await?.ok_or_else(team_not_found)?;
        crate::access::decide(&Policy::Key(key.principal()), &snap.team, Action::ReadTeam, Target::Team)?;
        // One body per snapshot and kind of key.
        let body = snap.body_for(actor, || {
            let team = to_wire(snap.team.clone(), actor, snap.member_count);
            serde_json::to_vec(&team).unwrap_or_default().into()
        });
        return Ok(HttpResponse::Ok().content_type(ContentType::json()).body(body));
    }
    let (access, count) = TeamAccess::load_for_read(&state, &auth, team_id).await?;
    access.require(Action::ReadTeam)?;
    Ok(HttpResponse::Ok().json({
        let actor = access.actor();
        to_wire(access.team, actor, count)
    }))
}

/// Who does not have two-factor authentication on (owners): whom requiring it shuts out, so that
/// an owner sees it before turning the requirement on.
#[utoipa::path(
    tag = "teams", operation_id = "getTeamTwoFactor", security(("bearer" = []), ("api_key" = [])),
    params(("team_id" = Uuid, Path, description = "The team.")),
    responses(
        (status = 200, description = "The requirement, and the members without two-factor authentication.", body = TeamTwoFactor),
        NoAccess, InternalError,
    )
)]
#[get("/teams/{team_id}/two-factor")]
pub async fn get_team_two_factor(
    state: web::Data<AppState>,
    auth: Principal,
    path: web::Path<Uuid>,
) -> ApiResult<web::Json<TeamTwoFactor>> {
    let (access, _) = TeamAccess::load_for_read(&state, &auth, path.into_inner()).await?;
    access.require(Action::UpdateTeam)?;
    Ok(web::Json(reads::teams::two_factor(&state, &access).await?))
}

/// Join a team by the verified domain of your address (as a member), when the team lets its
/// people join (`listJoinableTeams` names it).
#[utoipa::path(
    tag = "teams", operation_id = "joinTeam", security(("bearer" = [])),
    params(("team_id" = Uuid, Path, description = "The team.")),
    responses(
        (status = 200, description = "Joined as member.", body = Team),
        (status = 404, description = "No verified domain of your address lets you join this team (`not_found`).", body = portal_types::Problem, content_type = "application/problem+json"),
        (status = 409, description = "You are a member already (`already_member`).", body = portal_types::Problem, content_type = "application/problem+json"),
        Unauthorized, InternalError,
    )
)]
#[post("/teams/{team_id}/join")]
pub async fn join_team(
    state: web::Data<AppState>,
    auth: AuthUser,
    client: Client,
    path: web::Path<Uuid>,
) -> ApiResult<web::Json<Team>> {
    Ok(web::Json(teams::join_by_domain(&state, auth, &client, path.into_inner()).await?))
}

/// Rename a team, change its description, require two-factor authentication of its members
/// (owners; an owner must have two-factor authentication on to require it), or require single
/// sign-on (owners; once the team's connection works: members then need a session that started
/// at it, owners keep a password way in, API keys keep working).
#[utoipa::path(
    tag = "teams", operation_id = "updateTeam", security(("bearer" = []), ("api_key" = [])),
    params(("team_id" = Uuid, Path, description = "The team.")), request_body = UpdateTeamRequest,
    responses(
        (status = 200, description = "The updated team.", body = Team),
        (status = 403, description = "The caller may not change the team (`forbidden`), or would require two-factor authentication without having it on (`two_factor_required`).", body = portal_types::Problem, content_type = "application/problem+json"),
        (status = 409, description = "Single sign-on cannot be required before the team's connection has worked (`conflict`, field `require_sso`).", body = portal_types::Problem, content_type = "application/problem+json"),
        JsonBody, Unauthorized, NotFound, ValidationFailed, InternalError,
    )
)]
#[patch("/teams/{team_id}")]
pub async fn update_team(
    caller: Caller,
    path: web::Path<Uuid>,
    body: ApiJson<UpdateTeamRequest>,
) -> ApiResult<web::Json<Team>> {
    let body = body.0;
    let update = teams::TeamUpdate {
        name: body.name.map(portal_types::Name::into_inner),
        description: body.description.map(portal_types::Note::value),
        require_two_factor: body.require_two_factor,
        require_sso: body.require_sso,
    };
    Ok(web::Json(teams::update(caller.on(path.into_inner()), update).await?))
}

/// Delete a team with its memberships and invitations (owners).
#[utoipa::path(
    tag = "teams", operation_id = "deleteTeam", security(("bearer" = []), ("api_key" = [])),
    params(("team_id" = Uuid, Path, description = "The team.")),
    responses((status = 204, description = "Deleted."), NoAccess, InternalError)
)]
#[delete("/teams/{team_id}")]
pub async fn delete_team(caller: Caller, path: web::Path<Uuid>) -> ApiResult<HttpResponse> {
    teams::delete(caller.on(path.into_inner())).await?;
    Ok(HttpResponse::NoContent().finish())
}
