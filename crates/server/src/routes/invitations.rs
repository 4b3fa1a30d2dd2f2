//! Invitations: invite by e-mail, list, resend, revoke; preview and accept by token.

use actix_web::{HttpRequest, HttpResponse, delete, get, post, web};
use chrono::{DateTime, Duration, Utc};
use portal_db::TransactionTrait;
use portal_db::invitations::{InvitationRow, NewInvitation, role_of, state_of};
use portal_domain::identity::Email;
use portal_domain::policy::{Action, Actor};
use portal_domain::teams::parse_note;
use portal_domain::token;
use portal_types::ErrorCode;
use portal_types::{
    AcceptInvitationRequest, CreateInvitationRequest, Invitation, InvitationPage, InvitationPreview, InvitationState,
    Role, Team,
};
use uuid::Uuid;

use crate::access::TeamAccess;
use crate::error::{ApiError, ApiResult};
use crate::extract::{ApiJson, AuthUser, Client, Principal};
use crate::kept::{KeptJson, next_change};
use crate::keys::Change;
use crate::mail::Template;
use crate::error::responses::{
    BadRequest, Conflict, Forbidden, InternalError, NotFound, PayloadTooLarge, RateLimited, Unauthorized,
    UnsupportedMediaType, ValidationFailed,
};
use crate::paging::{PageQuery, encode_position, next_cursor, rows_for};
use crate::state::AppState;

/// How long an invitation link works.
pub const INVITATION_TTL_DAYS: i64 = 7;

fn to_wire(inv: InvitationRow, now: DateTime<Utc>) -> ApiResult<Invitation> {
    Ok(Invitation {
        id: inv.id,
        team_id: inv.team_id,
        state: state_of(&inv, now),
        role: role_of(&inv)?,
        email: inv.email,
        message: inv.message,
        invited_by_name: inv.inviter_name,
        invited_by_user_id: inv.invited_by,
        created_at: inv.created_at,
        expires_at: inv.expires_at,
    })
}

fn invitation_not_found() -> ApiError {
    ApiError::new(ErrorCode::InvitationNotFound, "No such invitation.")
}

/// Queues the invitation mail with a fresh link.
async fn queue_invitation_mail(
    state: &AppState,
    txn: &portal_db::DatabaseTransaction,
    access: &TeamAccess,
    inv: &InvitationRow,
    secret: &str,
    now: DateTime<Utc>,
) -> ApiResult<()> {
    let link = format!("{}/invite?token={secret}", state.config.public_url);
    let role = role_of(inv)?;
    let inviter = &inv.inviter_name;
    let subject = format!("{inviter} invited you to join {} on Partner Portal", access.team.name);
    let intro = format!(
        "{inviter} invited you to join the team \"{}\" on Partner Portal as {} {}.",
        access.team.name,
        if role == Role::Admin || role == Role::Owner { "an" } else { "a" },
        role.as_str()
    );
    let note = inv.message.as_ref().map(|m| format!("{inviter} wrote: \"{m}\""));
    let mut paragraphs = vec![intro.as_str()];
    if let Some(note) = &note {
        paragraphs.push(note);
    }
    let mail = Template {
        to: &inv.email,
        subject: &subject,
        greeting: "Hi,",
        paragraphs: &paragraphs,
        action: "Accept the invitation",
        link: &link,
        footer: "The link works once and expires in 7 days. If you do not know the sender, ignore this mail.",
    };
    portal_db::mail::enqueue(txn, mail.render(), now).await?;
    Ok(())
}

/// The team's invitations, newest first (owners and admins).
#[utoipa::path(
    tag = "invitations",
    operation_id = "listInvitations",
    security(("bearer" = []), ("api_key" = [])),
    params(("team_id" = Uuid, Path, description = "The team."), PageQuery),
    responses((status = 200, description = "Invitations in every state.", body = InvitationPage), Unauthorized, Forbidden, NotFound, ValidationFailed, InternalError)
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
    let team_id = access.team.id;
    let page = state
        .keys
        .cached_read(team_id, format!("invitations {after:?} {limit}"), async {
            let mut rows = portal_db::invitations::list(&state.reads, team_id, after, rows_for(limit)).await?;
            let next = next_cursor(&mut rows, limit, |r| encode_position(r.created_at, r.id));
            let now = Utc::now();
            // A pending invitation shows as expired from its expiry on.
            let until = next_change(now, rows.iter().filter(|r| r.state == "pending").map(|r| r.expires_at));
            let items = rows.into_iter().map(|row| to_wire(row, now)).collect::<ApiResult<_>>()?;
            KeptJson::new(&InvitationPage { items, next_cursor: next }, until)
        })
        .await?;
    Ok(page.respond(&req))
}

/// Invite someone by e-mail with a role no higher than your own; they get a link valid 7 days.
#[utoipa::path(
    tag = "invitations",
    operation_id = "createInvitation",
    security(("bearer" = []), ("api_key" = [])),
    params(("team_id" = Uuid, Path, description = "The team.")),
    request_body = CreateInvitationRequest,
    responses(
        (status = 201, description = "Invited; the mail is on its way.", body = Invitation),
        (status = 409, description = "The address already has a pending invitation (`invitation_pending`) or is a member (`already_member`).", body = portal_types::Problem, content_type = "application/problem+json"),
        BadRequest, Unauthorized, Forbidden, NotFound, PayloadTooLarge, UnsupportedMediaType, ValidationFailed, RateLimited, InternalError,
    )
)]
#[post("/teams/{team_id}/invitations")]
pub async fn create_invitation(
    state: web::Data<AppState>,
    auth: Principal,
    client: Client,
    path: web::Path<Uuid>,
    body: ApiJson<CreateInvitationRequest>,
) -> ApiResult<HttpResponse> {
    let body = body.0;
    let email = Email::parse("email", &body.email)?;
    let message = parse_note("message", body.message.as_deref(), 1000)?;
    let team_id = path.into_inner();
    let now = Utc::now();
    let txn = state.db.begin().await?;
    portal_db::teams::lock(&txn, team_id).await?;
    let access = TeamAccess::load(&txn, &auth, team_id).await?;
    access.require(Action::Invite { role: body.role })?;
    // In the transaction: an invitation that is not sent spends nothing.
    state.invite_limiter.spend(&txn, &team_id.to_string()).await?;
    if let Some(user) = portal_db::users::find_by_email(&txn, email.as_str()).await?
        && portal_db::teams::membership_of(&txn, team_id, user.id).await?.is_some()
    {
        return Err(
            ApiError::new(ErrorCode::AlreadyMember, "This person is already a member of the team.").with_field("email")
        );
    }
    portal_db::invitations::expire_stale(&txn, team_id, now).await?;
    let secret = token::generate();
    let inviter_name = access.audit.name(&txn).await?;
    let new = NewInvitation {
        team_id,
        email: email.as_str(),
        role: body.role,
        message: message.as_deref(),
        token_hash: &token::hash(&secret),
        invited_by: access.user_id,
        inviter_name: &inviter_name,
        expires_at: now + Duration::days(INVITATION_TTL_DAYS),
    };
    let inv = match portal_db::invitations::create(&txn, new, now).await {
        Err(portal_db::Error::Conflict) => {
            return Err(ApiError::new(
                ErrorCode::InvitationPending,
                "This address already has a pending invitation: resend or revoke it.",
            )
            .with_field("email"));
        }
        other => other?,
    };
    queue_invitation_mail(&state, &txn, &access, &inv, &secret, now).await?;
    let summary = format!("{} as {}", inv.email, body.role.as_str());
    portal_db::audit::record(
        &txn,
        access.entry(
            &client,
            portal_types::AuditAction::InvitationCreated,
            "invitation",
            Some(inv.id.to_string()),
            Some(summary),
        ),
        now,
    )
    .await?;
    let wire = to_wire(inv, now)?;
    state.keys.commit(txn, &[Change::Reads(team_id)]).await?;
    state.mail_wake.notify_one();
    Ok(HttpResponse::Created().json(wire))
}

/// Loads an invitation of the team for resending or revoking; it must still be pending.
async fn pending_invitation(
    txn: &portal_db::DatabaseTransaction,
    access: &TeamAccess,
    id: Uuid,
    now: DateTime<Utc>,
) -> ApiResult<InvitationRow> {
    let inv = portal_db::invitations::find(txn, access.team.id, id).await?.ok_or_else(invitation_not_found)?;
    access.require(Action::ManageInvitation { role: role_of(&inv)? })?;
    match state_of(&inv, now) {
        InvitationState::Accepted | InvitationState::Revoked => {
            Err(ApiError::new(ErrorCode::InvitationClosed, "This invitation was already accepted or revoked."))
        }
        _ => Ok(inv),
    }
}

/// Send the invitation again with a new link (the old link stops working) and a fresh 7 days.
#[utoipa::path(
    tag = "invitations",
    operation_id = "resendInvitation",
    security(("bearer" = []), ("api_key" = [])),
    params(("team_id" = Uuid, Path, description = "The team."), ("invitation_id" = Uuid, Path, description = "The invitation.")),
    responses(
        (status = 200, description = "Resent.", body = Invitation),
        Unauthorized, Forbidden, NotFound, Conflict, RateLimited, InternalError,
    )
)]
#[post("/teams/{team_id}/invitations/{invitation_id}/resend")]
pub async fn resend_invitation(
    state: web::Data<AppState>,
    auth: Principal,
    client: Client,
    path: web::Path<(Uuid, Uuid)>,
) -> ApiResult<web::Json<Invitation>> {
    let (team_id, id) = path.into_inner();
    let now = Utc::now();
    let txn = state.db.begin().await?;
    let access = TeamAccess::load(&txn, &auth, team_id).await?;
    let mut inv = pending_invitation(&txn, &access, id, now).await?;
    state.invite_limiter.spend(&txn, &team_id.to_string()).await?;
    let secret = token::generate();
    let expires_at = now + Duration::days(INVITATION_TTL_DAYS);
    // A pending invitation past its expiry comes back to life with the new link.
    if !portal_db::invitations::renew(&txn, id, &token::hash(&secret), expires_at).await? {
        return Err(ApiError::new(ErrorCode::InvitationClosed, "This invitation is closed; invite again."));
    }
    inv.expires_at = expires_at;
    queue_invitation_mail(&state, &txn, &access, &inv, &secret, now).await?;
    portal_db::audit::record(
        &txn,
        access.entry(
            &client,
            portal_types::AuditAction::InvitationResent,
            "invitation",
            Some(id.to_string()),
            Some(inv.email.clone()),
        ),
        now,
    )
    .await?;
    let wire = to_wire(inv, now)?;
    state.keys.commit(txn, &[Change::Reads(team_id)]).await?;
    state.mail_wake.notify_one();
    Ok(web::Json(wire))
}

/// Revoke a pending invitation: its link stops working.
#[utoipa::path(
    tag = "invitations",
    operation_id = "revokeInvitation",
    security(("bearer" = []), ("api_key" = [])),
    params(("team_id" = Uuid, Path, description = "The team."), ("invitation_id" = Uuid, Path, description = "The invitation.")),
    responses((status = 204, description = "Revoked."), Unauthorized, Forbidden, NotFound, Conflict, InternalError)
)]
#[delete("/teams/{team_id}/invitations/{invitation_id}")]
pub async fn revoke_invitation(
    state: web::Data<AppState>,
    auth: Principal,
    client: Client,
    path: web::Path<(Uuid, Uuid)>,
) -> ApiResult<HttpResponse> {
    let (team_id, id) = path.into_inner();
    let now = Utc::now();
    let txn = state.db.begin().await?;
    let access = TeamAccess::load(&txn, &auth, team_id).await?;
    let inv = pending_invitation(&txn, &access, id, now).await?;
    if !portal_db::invitations::finish(&txn, id, InvitationState::Revoked, None, now).await? {
        return Err(ApiError::new(ErrorCode::InvitationClosed, "This invitation was closed meanwhile."));
    }
    portal_db::audit::record(
        &txn,
        access.entry(
            &client,
            portal_types::AuditAction::InvitationRevoked,
            "invitation",
            Some(id.to_string()),
            Some(inv.email),
        ),
        now,
    )
    .await?;
    state.keys.commit(txn, &[Change::Reads(team_id)]).await?;
    Ok(HttpResponse::NoContent().finish())
}

pub async fn by_token(db: &impl portal_db::ConnectionTrait, secret: &str) -> ApiResult<InvitationRow> {
    if !token::looks_valid(secret) {
        return Err(invitation_not_found());
    }
    portal_db::invitations::find_by_token_hash(db, &token::hash(secret)).await?.ok_or_else(invitation_not_found)
}

/// What an invitation link offers: team, inviter, role and state (public: the token is the secret).
#[utoipa::path(
    tag = "invitations",
    operation_id = "previewInvitation",
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
    let inv = by_token(&state.reads, &path).await?;
    let team = portal_db::teams::find(&state.reads, inv.team_id).await?.ok_or_else(invitation_not_found)?;
    let account_exists = portal_db::users::find_by_email(&state.reads, &inv.email).await?.is_some();
    Ok(web::Json(InvitationPreview {
        team_name: team.name,
        invited_by_name: inv.inviter_name.clone(),
        state: state_of(&inv, Utc::now()),
        role: role_of(&inv)?,
        email: inv.email,
        message: inv.message,
        expires_at: inv.expires_at,
        account_exists,
    }))
}

/// Checks that an invitation can be accepted by `email`; used by sign-up with an invitation too.
pub fn acceptable(inv: &InvitationRow, email: &str, now: DateTime<Utc>) -> ApiResult<()> {
    match state_of(inv, now) {
        InvitationState::Accepted => {
            return Err(ApiError::new(ErrorCode::InvitationUsed, "This invitation was already accepted."));
        }
        InvitationState::Revoked => {
            return Err(ApiError::new(ErrorCode::InvitationRevoked, "This invitation was revoked."));
        }
        InvitationState::Expired => {
            return Err(ApiError::new(ErrorCode::InvitationExpired, "This invitation has expired; ask for a new one."));
        }
        InvitationState::Pending => {}
    }
    if inv.email != email {
        return Err(ApiError::new(
            ErrorCode::InvitationWrongAccount,
            format!("This invitation is for {}; you are signed in as {email}. Sign in with that address.", inv.email),
        ));
    }
    Ok(())
}

/// Accept an invitation as the signed-in user, whose e-mail must be the invited one.
#[utoipa::path(
    tag = "invitations",
    operation_id = "acceptInvitation",
    security(("bearer" = [])),
    request_body = AcceptInvitationRequest,
    responses(
        (status = 200, description = "Joined: the team.", body = Team),
        (status = 403, description = "Signed in with another address than the invited one (`invitation_wrong_account`), or the team requires two-factor authentication and your account has it off (`two_factor_required`): the invitation stays open.", body = portal_types::Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such invitation (`invitation_not_found`).", body = portal_types::Problem, content_type = "application/problem+json"),
        (status = 409, description = "Already a member (`already_member`).", body = portal_types::Problem, content_type = "application/problem+json"),
        (status = 410, description = "Used (`invitation_used`), revoked (`invitation_revoked`) or expired (`invitation_expired`).", body = portal_types::Problem, content_type = "application/problem+json"),
        BadRequest, Unauthorized, PayloadTooLarge, UnsupportedMediaType, ValidationFailed, InternalError,
    )
)]
#[post("/invitations/accept")]
pub async fn accept_invitation(
    state: web::Data<AppState>,
    auth: AuthUser,
    client: Client,
    body: ApiJson<AcceptInvitationRequest>,
) -> ApiResult<web::Json<Team>> {
    let now = Utc::now();
    let txn = state.db.begin().await?;
    let inv = by_token(&txn, &body.0.token).await?;
    portal_db::teams::lock(&txn, inv.team_id).await?;
    let user = portal_db::users::find(&txn, auth.user_id)
        .await?
        .ok_or_else(|| ApiError::unauthorized("The account of this access token no longer exists."))?;
    acceptable(&inv, &user.email, now)?;
    if portal_db::teams::membership_of(&txn, inv.team_id, user.id).await?.is_some() {
        return Err(ApiError::new(ErrorCode::AlreadyMember, "You are already a member of this team."));
    }
    let role = role_of(&inv)?;
    if !portal_db::invitations::finish(&txn, inv.id, InvitationState::Accepted, Some(user.id), now).await? {
        return Err(ApiError::new(ErrorCode::InvitationUsed, "This invitation was already accepted."));
    }
    portal_db::teams::add_member(&txn, inv.team_id, user.id, role, now).await?;
    // The mailed link proves the address.
    portal_db::users::mark_verified(&txn, user.id, now).await?;
    let access = TeamAccess::load(&txn, &Principal::User(auth), inv.team_id).await?;
    let summary = format!("{} as {}", user.email, role.as_str());
    portal_db::audit::record(
        &txn,
        access.entry(
            &client,
            portal_types::AuditAction::MemberJoined,
            "member",
            Some(user.id.to_string()),
            Some(summary),
        ),
        now,
    )
    .await?;
    let counts = portal_db::teams::member_counts(&txn, &[inv.team_id]).await?;
    let team = super::teams::to_wire(access.team, Actor::Member(role), counts.get(&inv.team_id).copied().unwrap_or(1));
    state.keys.commit(txn, &[Change::Team(inv.team_id)]).await?;
    Ok(web::Json(team))
}
