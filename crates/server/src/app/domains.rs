//! Domain use cases: add a domain, verify it by its TXT record, set its join rule, remove it.
//! Only owners manage domains: they decide who joins the team without an invitation.

use portal_domain::domains::{self, Lookup};
use portal_domain::policy::Action;
use portal_types::{AuditAction, DomainJoinRule, ErrorCode, TeamDomain};
use uuid::Uuid;

use super::{Begin, TeamTx};
use crate::error::{ApiError, ApiResult};
use crate::reads::domains::{domain_not_found, to_wire};
use crate::services::change::Change;

async fn managed<'r>(begin: Begin<'r>, id: Uuid) -> ApiResult<(TeamTx<'r>, portal_db::domains::Domain)> {
    let tx = begin.allowed(Action::ManageDomains).await?;
    let row = portal_db::domains::find(tx.db(), tx.team_id(), id).await?.ok_or_else(domain_not_found)?;
    Ok((tx, row))
}

/// Adds `domain` (already read by [`domains::parse`]), waiting for its TXT record.
pub async fn add(begin: Begin<'_>, domain: String) -> ApiResult<TeamDomain> {
    let mut tx = begin.allowed(Action::ManageDomains).await?;
    if portal_db::domains::count(tx.db(), tx.team_id()).await? >= portal_db::domains::MAX_DOMAINS {
        return Err(ApiError::new(ErrorCode::Conflict, "A team can have 20 domains: remove one first."));
    }
    let row = match portal_db::domains::add(tx.db(), tx.team_id(), &domain, &domains::new_token(), tx.now).await {
        Err(portal_db::Error::Conflict) => {
            return Err(ApiError::new(ErrorCode::Conflict, format!("The team has {domain} already.")));
        }
        other => other?,
    };
    tx.record(AuditAction::DomainAdded, "domain", row.id, domain);
    tx.announce(Change::Reads(tx.team_id()));
    tx.commit().await?;
    Ok(to_wire(row))
}

/// Looks up the domain's TXT record and records what it found: verified (once, and by one team
/// at a time: 409 when another team verified it first), or why not (`check_error`). The lookup
/// runs outside the transaction; the answer is written in one.
pub async fn verify(begin: Begin<'_>, id: Uuid) -> ApiResult<TeamDomain> {
    let state = begin.state;
    let (access, _) = crate::access::TeamAccess::load_for_read(state, begin.by, begin.team_id).await?;
    access.require(Action::ManageDomains)?;
    let row = portal_db::domains::find(&state.reads, begin.team_id, id).await?.ok_or_else(domain_not_found)?;
    let (domain, token) = (row.domain, row.token);
    let found = state.dns.txt(&domains::record_name(&domain)).await;
    if let Lookup::Failed(why) = &found {
        tracing::warn!(domain, error = why.as_str(), "TXT lookup failed");
    }
    let verdict = domains::verdict(&domain, &token, &found);
    let (mut tx, row) = managed(begin, id).await?;
    if verdict.is_ok()
        && row.verified_at.is_none()
        && portal_db::domains::verified_elsewhere(tx.db(), tx.team_id(), &row.domain).await?.is_some()
    {
        return Err(taken(&row.domain));
    }
    match portal_db::domains::record_check(
        tx.db(),
        row.id,
        verdict.as_ref().map(|_| ()).map_err(String::as_str),
        tx.now,
    )
    .await
    {
        // Another team's verification committed between the two reads.
        Err(portal_db::Error::Conflict) => return Err(taken(&row.domain)),
        other => other?,
    }
    match &verdict {
        Ok(()) if row.verified_at.is_none() => {
            tx.record(AuditAction::DomainVerified, "domain", row.id, row.domain.clone());
        }
        Ok(()) => {}
        Err(why) => tx.record(AuditAction::DomainCheckFailed, "domain", row.id, format!("{}: {why}", row.domain)),
    }
    let row = portal_db::domains::find(tx.db(), tx.team_id(), id).await?.ok_or_else(domain_not_found)?;
    tx.announce(Change::Reads(tx.team_id()));
    tx.commit().await?;
    Ok(to_wire(row))
}

fn taken(domain: &str) -> ApiError {
    ApiError::new(ErrorCode::Conflict, format!("Another team verified {domain} first; a domain belongs to one team."))
}

/// Sets who with an address at the domain may join without an invitation.
pub async fn set_join_rule(begin: Begin<'_>, id: Uuid, rule: DomainJoinRule) -> ApiResult<TeamDomain> {
    let (mut tx, row) = managed(begin, id).await?;
    portal_db::domains::set_join_rule(tx.db(), row.id, rule.as_str()).await?;
    tx.record(AuditAction::DomainJoinRuleChanged, "domain", row.id, format!("{}: {}", row.domain, rule.label()));
    let row = portal_db::domains::find(tx.db(), tx.team_id(), id).await?.ok_or_else(domain_not_found)?;
    tx.announce(Change::Reads(tx.team_id()));
    tx.commit().await?;
    Ok(to_wire(row))
}

pub async fn remove(begin: Begin<'_>, id: Uuid) -> ApiResult<()> {
    let (mut tx, row) = managed(begin, id).await?;
    portal_db::domains::remove(tx.db(), row.id).await?;
    tx.record(AuditAction::DomainRemoved, "domain", row.id, row.domain);
    tx.announce(Change::Reads(tx.team_id()));
    tx.commit().await
}
