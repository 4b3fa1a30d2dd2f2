//! The invitation list as kept, and what an invitation link offers.

use chrono::{DateTime, Utc};
use portal_db::invitations::{InvitationRow, role_of, state_of};
use portal_types::{ErrorCode, Invitation, InvitationPage, InvitationPreview};
use uuid::Uuid;

use crate::error::{ApiError, ApiResult};
use crate::kept::{KeptJson, next_change};
use crate::paging::{encode_position, next_cursor, rows_for};
use crate::services::pages::PageKey;
use crate::state::AppState;
use portal_domain::token;

pub fn invitation_not_found() -> ApiError {
    ApiError::new(ErrorCode::InvitationNotFound, "No such invitation.")
}

pub async fn by_token(db: &impl portal_db::ConnectionTrait, secret: &str) -> ApiResult<InvitationRow> {
    if !token::looks_valid(secret) {
        return Err(invitation_not_found());
    }
    portal_db::invitations::find_by_token_hash(db, &token::hash(secret)).await?.ok_or_else(invitation_not_found)
}

pub fn to_wire(inv: InvitationRow, now: DateTime<Utc>) -> ApiResult<Invitation> {
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

/// A page of the team's invitations, newest first, as kept until the team's reads change (or an
/// invitation on it expires).
pub async fn page(
    state: &AppState,
    team_id: Uuid,
    after: Option<(DateTime<Utc>, Uuid)>,
    limit: u64,
) -> ApiResult<std::sync::Arc<KeptJson>> {
    state
        .pages
        .cached_read(team_id, PageKey::Invitations { after, limit }, async {
            let mut rows = portal_db::invitations::list(&state.reads, team_id, after, rows_for(limit)).await?;
            let next = next_cursor(&mut rows, limit, |r| encode_position(r.created_at, r.id));
            let now = Utc::now();
            // A pending invitation shows as expired from its expiry on.
            let until = next_change(now, rows.iter().filter(|r| r.state == "pending").map(|r| r.expires_at));
            let items = rows.into_iter().map(|row| to_wire(row, now)).collect::<ApiResult<_>>()?;
            KeptJson::new(&InvitationPage { items, next_cursor: next }, until)
        })
        .await
}

/// What an invitation link offers: team, inviter, role and state.
pub async fn preview(state: &AppState, secret: &str) -> ApiResult<InvitationPreview> {
    let inv = by_token(&state.reads, secret).await?;
    let team = portal_db::teams::find(&state.reads, inv.team_id).await?.ok_or_else(invitation_not_found)?;
    let account_exists = portal_db::users::find_by_email(&state.reads, &inv.email).await?.is_some();
    Ok(InvitationPreview {
        team_name: team.name,
        invited_by_name: inv.inviter_name.clone(),
        state: state_of(&inv, Utc::now()),
        role: role_of(&inv)?,
        email: inv.email,
        message: inv.message,
        expires_at: inv.expires_at,
        account_exists,
    })
}
