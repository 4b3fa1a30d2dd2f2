//! A team's domains as answered.

use portal_db::domains::Domain;
use portal_domain::domains::{record_name, record_value};
use portal_types::{DomainJoinRule, TeamDomain};
use uuid::Uuid;

use crate::error::{ApiError, ApiResult};
use crate::state::AppState;

pub fn domain_not_found() -> ApiError {
    ApiError::not_found("No such domain in this team.")
}

pub fn to_wire(row: Domain) -> TeamDomain {
    TeamDomain {
        id: row.id,
        txt_name: record_name(&row.domain),
        txt_value: record_value(&row.token),
        domain: row.domain,
        verified_at: row.verified_at,
        checked_at: row.checked_at,
        check_error: row.check_error,
        join_rule: DomainJoinRule::parse(&row.join_rule).unwrap_or_default(),
        created_at: row.created_at,
    }
}

/// The team's domains, oldest first.
pub async fn list(state: &AppState, team_id: Uuid) -> ApiResult<Vec<TeamDomain>> {
    Ok(portal_db::domains::list(&state.reads, team_id).await?.into_iter().map(to_wire).collect())
}

/// The teams the user may join by the verified domain of their address (at most one: a domain
/// is verified by one team), unless they are in it already.
pub async fn joinable(state: &AppState, user_id: Uuid) -> ApiResult<Vec<portal_types::JoinableTeam>> {
    let Some(user) = portal_db::users::find(&state.reads, user_id).await? else { return Ok(Vec::new()) };
    let Some(found) = joinable_domain(&state.reads, &user).await? else { return Ok(Vec::new()) };
    if portal_db::teams::membership_of(&state.reads, found.team_id, user.id).await?.is_some() {
        return Ok(Vec::new());
    }
    let Some(team) = portal_db::teams::find(&state.reads, found.team_id).await? else { return Ok(Vec::new()) };
    Ok(vec![portal_types::JoinableTeam {
        team_id: team.id,
        team_name: team.name,
        join_rule: DomainJoinRule::parse(&found.join_rule).unwrap_or_default(),
        domain: found.domain,
    }])
}

/// The verified domain of the user's (verified) address whose team lets its people join.
pub async fn joinable_domain(
    db: &impl portal_db::ConnectionTrait,
    user: &portal_db::users::User,
) -> ApiResult<Option<Domain>> {
    if user.email_verified_at.is_none() {
        return Ok(None);
    }
    let Some((_, domain)) = user.email.rsplit_once('@') else { return Ok(None) };
    let found = portal_db::domains::verified(db, domain).await?;
    Ok(found.filter(|d| DomainJoinRule::parse(&d.join_rule).is_some_and(|r| r != DomainJoinRule::Invitations)))
}
