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
