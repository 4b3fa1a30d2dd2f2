//! Invitations to join a team, by e-mail, with a single-use token stored as a hash.

use portal_types::{InvitationState, Role};
use sea_orm::sea_query::{Expr, ExprTrait};
use sea_orm::{ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect, Set};
use uuid::Uuid;

use crate::entity::invitation::{self, Entity as Invitations};
use crate::teams::parse_role;
use crate::{Error, Result, Timestamp};

pub use invitation::Model as InvitationRow;

/// The state as users see it: a pending invitation past its expiry is expired.
pub fn state_of(inv: &InvitationRow, now: Timestamp) -> InvitationState {
    match inv.state.as_str() {
        "accepted" => InvitationState::Accepted,
        "revoked" => InvitationState::Revoked,
        "expired" => InvitationState::Expired,
        _ if inv.expires_at <= now => InvitationState::Expired,
        _ => InvitationState::Pending,
    }
}

pub fn role_of(inv: &InvitationRow) -> Result<Role> {
    parse_role(&inv.role)
}

/// Marks the team's pending invitations past their expiry as expired, so the address can be
/// invited again.
pub async fn expire_stale(db: &impl ConnectionTrait, team_id: Uuid, now: Timestamp) -> Result<()> {
    Invitations::update_many()
        .col_expr(invitation::Column::State, Expr::value("expired"))
        .filter(invitation::Column::TeamId.eq(team_id))
        .filter(invitation::Column::State.eq("pending"))
        .filter(invitation::Column::ExpiresAt.lte(now))
        .exec(db)
        .await?;
    Ok(())
}

pub struct NewInvitation<'a> {
    pub team_id: Uuid,
    pub email: &'a str,
    pub role: Role,
    pub message: Option<&'a str>,
    pub token_hash: &'a str,
    /// The inviting user (None for an API key).
    pub invited_by: Option<Uuid>,
    pub inviter_name: &'a str,
    pub expires_at: Timestamp,
}

/// Inserts a pending invitation; `Err(Conflict)` when the address already has one for the team.
pub async fn create(db: &impl ConnectionTrait, new: NewInvitation<'_>, now: Timestamp) -> Result<InvitationRow> {
    invitation::ActiveModel {
        id: Set(Uuid::new_v4()),
        team_id: Set(new.team_id),
        email: Set(new.email.to_owned()),
        role: Set(new.role.as_str().to_owned()),
        message: Set(new.message.map(str::to_owned)),
        token_hash: Set(new.token_hash.to_owned()),
        state: Set("pending".to_owned()),
        invited_by: Set(new.invited_by),
        inviter_name: Set(new.inviter_name.chars().take(200).collect()),
        created_at: Set(now),
        expires_at: Set(new.expires_at),
        accepted_at: Set(None),
        accepted_by: Set(None),
        revoked_at: Set(None),
    }
    .insert(db)
    .await
    .map_err(Error::from_insert)
}

pub async fn find(db: &impl ConnectionTrait, team_id: Uuid, id: Uuid) -> Result<Option<InvitationRow>> {
    Ok(Invitations::find_by_id(id).filter(invitation::Column::TeamId.eq(team_id)).one(db).await?)
}

pub async fn find_by_token_hash(db: &impl ConnectionTrait, token_hash: &str) -> Result<Option<InvitationRow>> {
    Ok(Invitations::find().filter(invitation::Column::TokenHash.eq(token_hash)).one(db).await?)
}

/// A team's invitations, newest first, after `after` (created_at, id).
pub async fn list(
    db: &impl ConnectionTrait,
    team_id: Uuid,
    after: Option<(Timestamp, Uuid)>,
    limit: u64,
) -> Result<Vec<InvitationRow>> {
    let mut q = Invitations::find().filter(invitation::Column::TeamId.eq(team_id));
    if let Some((at, id)) = after {
        q = q.filter(
            invitation::Column::CreatedAt
                .lt(at)
                .or(invitation::Column::CreatedAt.eq(at).and(invitation::Column::Id.lt(id))),
        );
    }
    Ok(q.order_by_desc(invitation::Column::CreatedAt)
        .order_by_desc(invitation::Column::Id)
        .limit(limit)
        .all(db)
        .await?)
}

/// Replaces the token of a pending invitation (resend): the old link dies.
pub async fn renew(db: &impl ConnectionTrait, id: Uuid, token_hash: &str, expires_at: Timestamp) -> Result<bool> {
    let res = Invitations::update_many()
        .col_expr(invitation::Column::TokenHash, Expr::value(token_hash))
        .col_expr(invitation::Column::ExpiresAt, Expr::value(expires_at))
        .filter(invitation::Column::Id.eq(id))
        .filter(invitation::Column::State.eq("pending"))
        .exec(db)
        .await?;
    Ok(res.rows_affected == 1)
}

/// Moves a pending invitation to `revoked` or `accepted`; `false` if it was no longer pending
/// (a concurrent request got there first).
pub async fn finish(
    db: &impl ConnectionTrait,
    id: Uuid,
    state: InvitationState,
    by: Option<Uuid>,
    now: Timestamp,
) -> Result<bool> {
    let mut q = Invitations::update_many()
        .filter(invitation::Column::Id.eq(id))
        .filter(invitation::Column::State.eq("pending"));
    q = match state {
        InvitationState::Accepted => q
            .col_expr(invitation::Column::State, Expr::value("accepted"))
            .col_expr(invitation::Column::AcceptedAt, Expr::value(now))
            .col_expr(invitation::Column::AcceptedBy, Expr::value(by)),
        InvitationState::Revoked => q
            .col_expr(invitation::Column::State, Expr::value("revoked"))
            .col_expr(invitation::Column::RevokedAt, Expr::value(now)),
        InvitationState::Expired | InvitationState::Pending => {
            q.col_expr(invitation::Column::State, Expr::value("expired"))
        }
    };
    Ok(q.exec(db).await?.rows_affected == 1)
}
