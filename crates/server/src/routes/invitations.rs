//! Invitations: invite by e-mail, list, resend, revoke; preview and accept by token.

use actix_web::{HttpRequest, HttpResponse, delete, get, post, web};
use portal_domain::identity::Email;
use portal_domain::policy::Action;
use portal_types::{
    AcceptInvitationRequest, CreateInvitationRequest, Invitation, InvitationPage, InvitationPreview, Team,
};
use uuid::Uuid;

use crate::access::TeamAccess;
use crate::app::invitations;
use crate::error::ApiResult;
use crate::error::responses::{
    Conflict, InternalError, JsonBody, NoAccess, RateLimited, Unauthorized, ValidationFailed,
};
use crate::extract::{ApiJson, AuthUser, Caller, Client, Principal};
use crate::paging::PageQuery;
use crate::reads;
use crate::state::AppState;

/// The team's invitations, newest first (owners and admins).
#[utoipa::path(
    tag = "invitations", operation_id = "listInvitations", security(("bearer" = []), ("api_key" = [])),
    params(("team_id" = Uuid, Path, description = "The team."), PageQuery),
    responses(
        (status = 200, description = "Invitations in every state.", body = InvitationPage),
        NoAccess, ValidationFailed, InternalError,
    )
)]
#[get("/teams/{team_id}/invitations")]
pub async fn list_invitations(
    state: web::Data<AppState>,
    auth: Principal,
    req: HttpRequest,
    path: web::Path<Uuid>,
    query: web::Query<PageQuery>,
) -> ApiResult<HttpResponse> {
    let (access, _) = TeamAccess::load_for_read(&state, &auth, path.into_inner()).await?;
    access.require(Action::ReadInvitations)?;
    let limit = query.limit()?;
    let after = query.after()?;
    let page = reads::invitations::page(&state, access.team.id, after, limit).await?;
    Ok(page.respond(&req))
}

/// Invite someone by e-mail with a role no higher than your own; they get a link valid 7 days.
#[utoipa::path(
    tag = "invitations", operation_id = "createInvitation", security(("bearer" = []), ("api_key" = [])),
    params(("team_id" = Uuid, Path, description = "The team.")), request_body = CreateInvitationRequest,
    responses(
        (status = 201, description = "Invited; the mail is on its way.", body = Invitation),
        (status = 409, description = "The address already has a pending invitation (`invitation_pending`) or is a member (`already_member`).", body = portal_types::Problem, content_type = "application/problem+json"),
        JsonBody, NoAccess, ValidationFailed, RateLimited, InternalError,
    )
)]
#[post("/teams/{team_id}/invitations")]
pub async fn create_invitation(
    caller: Caller,
    path: web::Path<Uuid>,
    body: ApiJson<CreateInvitationRequest>,
) -> ApiResult<HttpResponse> {
    let body = body.0;
    let email = Email::parse("email", &body.email)?;
    let message = body.message.and_then(portal_types::Note::value);
    Ok(HttpResponse::Created()
        .json(invitations::create(caller.on(path.into_inner()), email, body.role, message).await?))
}

/// Send the invitation again with a new link (the old link stops working) and a fresh 7 days.
#[utoipa::path(
    tag = "invitations", operation_id = "resendInvitation", security(("bearer" = []), ("api_key" = [])),
    params(("team_id" = Uuid, Path, description = "The team."), ("invitation_id" = Uuid, Path, description = "The invitation.")),
    responses(
        (status = 200, description = "Resent.", body = Invitation),
        NoAccess, Conflict, RateLimited, InternalError,
    )
)]
#[post("/teams/{team_id}/invitations/{invitation_id}/resend")]
pub async fn resend_invitation(caller: Caller, path: web::Path<(Uuid, Uuid)>) -> ApiResult<web::Json<Invitation>> {
    let (team_id, id) = path.into_inner();
    Ok(web::Json(invitations::resend(caller.on(team_id), id).await?))
}

/// Revoke a pending invitation: its link stops working.
#[utoipa::path(
    tag = "invitations", operation_id = "revokeInvitation", security(("bearer" = []), ("api_key" = [])),
    params(("team_id" = Uuid, Path, description = "The team."), ("invitation_id" = Uuid, Path, description = "The invitation.")),
    responses((status = 204, description = "Revoked."), NoAccess, Conflict, InternalError)
)]
#[delete("/teams/{team_id}/invitations/{invitation_id}")]
pub async fn revoke_invitation(caller: Caller, path: web::Path<(Uuid, Uuid)>) -> ApiResult<HttpResponse> {
    let (team_id, id) = path.into_inner();
    invitations::revoke(caller.on(team_id), id).await?;
    Ok(HttpResponse::NoContent().finish())
}

/// What an invitation link offers: team, inviter, role and state (public: the token is the secret).
#[utoipa::path(
    tag = "invitations", operation_id = "previewInvitation",
    params(("token" = String, Path, description = "The token from the mailed link.")),
    responses(
        (status = 200, description = "The invitation; `state` says whether it can still be accepted.", body = InvitationPreview),
        (status = 404, description = "No such invitation (`invitation_not_found`), e.g. the link was replaced by a resend.", body = portal_types::Problem, content_type = "application/problem+json"),
        InternalError,
    )
)]
#[get("/invitations/{token}")]
pub async fn preview_invitation(
    state: web::Data<AppState>,
    path: web::Path<String>,
) -> ApiResult<web::Json<InvitationPreview>> {
    Ok(web::Json(reads::invitations::preview(&state, &path).await?))
}

/// Accept an invitation as the signed-in user, whose e-mail must be the invited one.
#[utoipa::path(
    tag = "invitations", operation_id = "acceptInvitation", security(("bearer" = [])),
    request_body = AcceptInvitationRequest,
    responses(
        (status = 200, description = "Joined: the team.", body = Team),
        (status = 403, description = "Signed in with another address than the invited one (`invitation_wrong_account`), or the team requires two-factor authentication and your account has it off (`two_factor_required`): the invitation stays open.", body = portal_types::Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such invitation (`invitation_not_found`).", body = portal_types::Problem, content_type = "application/problem+json"),
        (status = 409, description = "Already a member (`already_member`).", body = portal_types::Problem, content_type = "application/problem+json"),
        (status = 410, description = "Used (`invitation_used`), revoked (`invitation_revoked`) or expired (`invitation_expired`).", body = portal_types::Problem, content_type = "application/problem+json"),
        JsonBody, Unauthorized, ValidationFailed, InternalError,
    )
)]
#[post("/invitations/accept")]
pub async fn accept_invitation(
    state: web::Data<AppState>,
    auth: AuthUser,
    client: Client,
    body: ApiJson<AcceptInvitationRequest>,
) -> ApiResult<web::Json<Team>> {
    Ok(web::Json(invitations::accept(&state, auth, &client, &body.0.token).await?))
}
