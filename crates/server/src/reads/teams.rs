//! A team as answered, the caller's teams, and who lacks two-factor authentication.

use chrono::{DateTime, Utc};
use portal_domain::policy::{Actor, permissions};
use portal_types::{Member, Role, Team, TeamPage, TeamTwoFactor};
use uuid::Uuid;

use crate::access::TeamAccess;
use crate::error::ApiResult;
use crate::extract::AuthUser;
use crate::paging::{encode_position, next_cursor, rows_for};
use crate::state::AppState;

pub fn to_wire(team: portal_db::teams::Team, actor: Actor, member_count: u64) -> Team {
    Team {
        id: team.id,
        name: team.name,
        description: team.description,
        role: match actor {
            Actor::Member(role) => role,
            Actor::ApiKey { .. } => Role::Admin,
        },
        member_count: u32::try_from(member_count).unwrap_or(u32::MAX),
        require_two_factor: team.require_two_factor,
        require_sso: team.require_sso,
        created_at: team.created_at,
        permissions: permissions(actor),
    }
}

/// The teams `user` belongs to, oldest membership first.
pub async fn page(
    state: &AppState,
    user: &AuthUser,
    after: Option<(DateTime<Utc>, Uuid)>,
    limit: u64,
) -> ApiResult<TeamPage> {
    let mut rows = portal_db::teams::list_for_user(&state.reads, user.user_id, after, rows_for(limit)).await?;
    let next = next_cursor(&mut rows, limit, |(_, m, _)| encode_position(m.joined_at, m.team_id));
    let items = rows.into_iter().map(|(team, m, count)| to_wire(team, Actor::Member(m.role), count)).collect();
    Ok(TeamPage { items, next_cursor: next })
}

/// Who lacks two-factor authentication (owners first): whom requiring it shuts out.
pub async fn two_factor(state: &AppState, access: &TeamAccess) -> ApiResult<TeamTwoFactor> {
    let (rows, total) = portal_db::teams::members_without_two_factor(&state.reads, access.team.id, 100).await?;
    let without: Vec<Member> = rows.into_iter().map(super::members::to_wire).collect();
    Ok(TeamTwoFactor { required: access.team.require_two_factor, without_count: total, without })
}
