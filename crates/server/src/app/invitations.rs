//! Invitation use cases: invite by e-mail, resend, revoke; preview and accept by token; the
//! team's invitation list as kept.

use chrono::{DateTime, Duration, Utc};
use portal_db::TransactionTrait;
use portal_db::invitations::{InvitationRow, NewInvitation, role_of, state_of};
use portal_domain::identity::Email;
use portal_domain::policy::{Action, Actor, Target};
use portal_domain::token;
use portal_types::{AuditAction, ErrorCode, Invitation, InvitationState, Role, Team};
use uuid::Uuid;

use super::{Begin, TeamTx};
use crate::access::TeamAccess;
use crate::error::{ApiError, ApiResult};
use crate::extract::{AuthUser, Client, Principal};
use crate::mail::Template;
use crate::reads::invitations::{by_token, invitation_not_found};
use crate::services::change::Change;
use crate::state::AppState;

/// How long an invitation link works.
pub const INVITATION_TTL_DAYS: i64 = 7;

/// Queues the invitation mail with a fresh link.
async fn queue_invitation_mail(tx: &TeamTx<'_>, inv: &InvitationRow, secret: &str) -> ApiResult<()> {
    let (state, access) = (tx.state, &tx.access);
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
    portal_db::mail::enqueue(tx.db(), mail.render(), tx.now).await?;
    Ok(())
}

/// Invites `email` with `role` (no higher than the caller may give); the mail goes out at commit.
pub async fn create(begin: Begin<'_>, email: Email, role: Role, message: Option<String>) -> ApiResult<Invitation> {
    let team_id = begin.team_id;
    let mut tx = begin.open(true).await?;
    tx.allow(Action::Invite { role }, Target::Team)?;
    // In the transaction: an invitation that is not sent spends nothing.
    tx.state.invite_limiter.spend(tx.db(), &team_id.to_string()).await?;
    if let Some(user) = portal_db::users::find_by_email(tx.db(), email.as_str()).await?
        && portal_db::teams::membership_of(tx.db(), team_id, user.id).await?.is_some()
    {
        return Err(
            ApiError::new(ErrorCode::AlreadyMember, "This person is already a member of the team.").with_field("email")
        );
    }
    portal_db::invitations::expire_stale(tx.db(), team_id, tx.now).await?;
    let secret = token::generate();
    let inviter_name = tx.access.audit.name(tx.db()).await?;
    let new = NewInvitation {
        team_id,
        email: email.as_str(),
        role,
        message: message.as_deref(),
        token_hash: &token::hash(&secret),
        invited_by: tx.access.user_id,
        inviter_name: &inviter_name,
        expires_at: tx.now + Duration::days(INVITATION_TTL_DAYS),
    };
    let inv = match portal_db::invitations::create(tx.db(), new, tx.now).await {
        Err(portal_db::Error::Conflict) => {
            return Err(ApiError::new(
                ErrorCode::InvitationPending,
                "This address already has a pending invitation: resend or revoke it.",
            )
            .with_field("email"));
        }
        other => other?,
    };
    queue_invitation_mail(&tx, &inv, &secret).await?;
    tx.record(AuditAction::InvitationCreated, "invitation", inv.id, format!("{} as {}", inv.email, role.as_str()));
    let wire = crate::reads::invitations::to_wire(inv, tx.now)?;
    mailed(tx).await?;
    Ok(wire)
}

/// Commits a unit of work that queued a mail, and wakes the mailer.
async fn mailed(mut tx: TeamTx<'_>) -> ApiResult<()> {
    let state = tx.state;
    tx.announce(Change::Reads(tx.team_id()));
    tx.commit().await?;
    state.mail_wake.notify_one();
    Ok(())
}

/// Loads an invitation of the team for resending or revoking; it must still be pending.
async fn pending_invitation(tx: &TeamTx<'_>, id: Uuid) -> ApiResult<InvitationRow> {
    let inv = portal_db::invitations::find(tx.db(), tx.team_id(), id).await?.ok_or_else(invitation_not_found)?;
    tx.allow(Action::ManageInvitation { role: role_of(&inv)? }, Target::Team)?;
    match state_of(&inv, tx.now) {
        InvitationState::Accepted | InvitationState::Revoked => {
            Err(ApiError::new(ErrorCode::InvitationClosed, "This invitation was already accepted or revoked."))
        }
        _ => Ok(inv),
    }
}

/// Sends the invitation again with a new link (the old one stops working) and a fresh 7 days.
pub async fn resend(begin: Begin<'_>, id: Uuid) -> ApiResult<Invitation> {
    let mut tx = begin.open(false).await?;
    let mut inv = pending_invitation(&tx, id).await?;
    tx.state.invite_limiter.spend(tx.db(), &tx.team_id().to_string()).await?;
    let secret = token::generate();
    let expires_at = tx.now + Duration::days(INVITATION_TTL_DAYS);
    // A pending invitation past its expiry comes back to life with the new link.
    if !portal_db::invitations::renew(tx.db(), id, &token::hash(&secret), expires_at).await? {
        return Err(ApiError::new(ErrorCode::InvitationClosed, "This invitation is closed; invite again."));
    }
    inv.expires_at = expires_at;
    queue_invitation_mail(&tx, &inv, &secret).await?;
    tx.record(AuditAction::InvitationResent, "invitation", id, inv.email.clone());
    let wire = crate::reads::invitations::to_wire(inv, tx.now)?;
    mailed(tx).await?;
    Ok(wire)
}

/// Revokes a pending invitation: its link stops working.
pub async fn revoke(begin: Begin<'_>, id: Uuid) -> ApiResult<()> {
    let mut tx = begin.open(false).await?;
    let inv = pending_invitation(&tx, id).await?;
    if !portal_db::invitations::finish(tx.db(), id, InvitationState::Revoked, None, tx.now).await? {
        return Err(ApiError::new(ErrorCode::InvitationClosed, "This invitation was closed meanwhile."));
    }
    tx.record(AuditAction::InvitationRevoked, "invitation", id, inv.email);
    tx.announce(Change::Reads(tx.team_id()));
    tx.commit().await
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

/// Accepts an invitation as `auth`, whose address must be the invited one. The account is no
/// member until it joins, so the unit of work is its own: the invitation closes, the membership
/// is added, and the team's access is loaded for the activity entry in the same transaction.
pub async fn accept(state: &AppState, auth: AuthUser, client: &Client, secret: &str) -> ApiResult<Team> {
    let now = Utc::now();
    let txn = state.db.begin().await?;
    let inv = by_token(&txn, secret).await?;
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
    let entry = access.entry(client, AuditAction::MemberJoined, "member", Some(user.id.to_string()), Some(summary));
    portal_db::audit::record(&txn, entry, now).await?;
    let counts = portal_db::teams::member_counts(&txn, &[inv.team_id]).await?;
    let count = counts.get(&inv.team_id).copied().unwrap_or(1);
    let team = crate::reads::teams::to_wire(access.team, Actor::Member(role), count);
    state.invalidation.commit(txn, &[Change::Team(inv.team_id)]).await?;
    Ok(team)
}
