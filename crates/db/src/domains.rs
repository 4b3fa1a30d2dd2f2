//! A team's domains and their TXT proofs.

use sea_orm::sea_query::{Expr, ExprTrait};
use sea_orm::{ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, Set};
use uuid::Uuid;

use crate::entity::team_domain::{self, Entity as Domains};
use crate::{Error, Result, Timestamp};

pub type Domain = team_domain::Model;

/// The most domains a team may have, verified or waiting.
pub const MAX_DOMAINS: u64 = 20;

/// The team's domains, oldest first.
pub async fn list(db: &impl ConnectionTrait, team_id: Uuid) -> Result<Vec<Domain>> {
    Ok(Domains::find()
        .filter(team_domain::Column::TeamId.eq(team_id))
        .order_by_asc(team_domain::Column::CreatedAt)
        .order_by_asc(team_domain::Column::Id)
        .all(db)
        .await?)
}

pub async fn find(db: &impl ConnectionTrait, team_id: Uuid, id: Uuid) -> Result<Option<Domain>> {
    Ok(Domains::find_by_id(id).filter(team_domain::Column::TeamId.eq(team_id)).one(db).await?)
}

/// Adds a domain waiting for its record; [`Error::Conflict`] when the team has it already.
pub async fn add(
    db: &impl ConnectionTrait,
    team_id: Uuid,
    domain: &str,
    token: &str,
    now: Timestamp,
) -> Result<Domain> {
    let row = team_domain::ActiveModel {
        id: Set(Uuid::new_v4()),
        team_id: Set(team_id),
        domain: Set(domain.to_owned()),
        token: Set(token.to_owned()),
        join_rule: Set("invitations".to_owned()),
        created_at: Set(now),
        verified_at: Set(None),
        checked_at: Set(None),
        check_error: Set(None),
        confirmed_at: Set(None),
    };
    row.insert(db).await.map_err(Error::from_insert)
}

/// Records a lookup: verified at `now` (once; [`Error::Conflict`] when another team verified the
/// domain first), or why not.
pub async fn record_check(
    db: &impl ConnectionTrait,
    id: Uuid,
    outcome: std::result::Result<(), &str>,
    now: Timestamp,
) -> Result<()> {
    let mut update = Domains::update_many()
        .col_expr(team_domain::Column::CheckedAt, Expr::value(now))
        .col_expr(team_domain::Column::CheckError, Expr::value(outcome.err().map(str::to_owned)))
        .filter(team_domain::Column::Id.eq(id));
    if outcome.is_ok() {
        // Verified once: a later lookup does not move the time.
        let verified = Expr::col(team_domain::Column::VerifiedAt).if_null(now);
        update = update
            .col_expr(team_domain::Column::VerifiedAt, verified)
            .col_expr(team_domain::Column::ConfirmedAt, Expr::value(now));
    }
    update.exec(db).await.map_err(Error::from_insert)?;
    Ok(())
}

/// The team (other than `team_id`) that verified `domain`, if any.
pub async fn verified_elsewhere(db: &impl ConnectionTrait, team_id: Uuid, domain: &str) -> Result<Option<Uuid>> {
    Ok(Domains::find()
        .filter(team_domain::Column::Domain.eq(domain))
        .filter(team_domain::Column::VerifiedAt.is_not_null())
        .filter(team_domain::Column::TeamId.ne(team_id))
        .one(db)
        .await?
        .map(|d| d.team_id))
}

pub async fn set_join_rule(db: &impl ConnectionTrait, id: Uuid, rule: &str) -> Result<()> {
    Domains::update_many()
        .col_expr(team_domain::Column::JoinRule, Expr::value(rule.to_owned()))
        .filter(team_domain::Column::Id.eq(id))
        .exec(db)
        .await?;
    Ok(())
}

pub async fn remove(db: &impl ConnectionTrait, id: Uuid) -> Result<()> {
    Domains::delete_by_id(id).exec(db).await?;
    Ok(())
}

pub async fn count(db: &impl ConnectionTrait, team_id: Uuid) -> Result<u64> {
    use sea_orm::PaginatorTrait;
    Ok(Domains::find().filter(team_domain::Column::TeamId.eq(team_id)).count(db).await?)
}

/// The verified domain `domain` (lower case), whichever team verified it.
pub async fn verified(db: &impl ConnectionTrait, domain: &str) -> Result<Option<Domain>> {
    Ok(Domains::find()
        .filter(team_domain::Column::Domain.eq(domain))
        .filter(team_domain::Column::VerifiedAt.is_not_null())
        .one(db)
        .await?)
}

/// Verified domains last looked up before `before`: due to be looked up again (at most `limit`).
pub async fn due_for_recheck(db: &impl ConnectionTrait, before: Timestamp, limit: u64) -> Result<Vec<Domain>> {
    use sea_orm::QuerySelect;
    Ok(Domains::find()
        .filter(team_domain::Column::VerifiedAt.is_not_null())
        .filter(team_domain::Column::CheckedAt.lt(before).or(team_domain::Column::CheckedAt.is_null()))
        .order_by_asc(team_domain::Column::CheckedAt)
        .limit(limit)
        .all(db)
        .await?)
}

/// Takes a due domain's lookup for this instance (its `checked_at` moves to `now`); false when
/// another instance took it first.
pub async fn claim_recheck(db: &impl ConnectionTrait, id: Uuid, before: Timestamp, now: Timestamp) -> Result<bool> {
    let done = Domains::update_many()
        .col_expr(team_domain::Column::CheckedAt, Expr::value(now))
        .filter(team_domain::Column::Id.eq(id))
        .filter(team_domain::Column::CheckedAt.lt(before).or(team_domain::Column::CheckedAt.is_null()))
        .exec(db)
        .await?;
    Ok(done.rows_affected == 1)
}

/// Ends the verification of a domain whose record was last found before `confirmed_before`;
/// false when it was confirmed since (or is not verified).
pub async fn lapse(db: &impl ConnectionTrait, id: Uuid, confirmed_before: Timestamp) -> Result<bool> {
    let done = Domains::update_many()
        .col_expr(team_domain::Column::VerifiedAt, Expr::value(Option::<Timestamp>::None))
        .filter(team_domain::Column::Id.eq(id))
        .filter(team_domain::Column::VerifiedAt.is_not_null())
        .filter(team_domain::Column::ConfirmedAt.lt(confirmed_before).or(team_domain::Column::ConfirmedAt.is_null()))
        .exec(db)
        .await?;
    Ok(done.rows_affected == 1)
}
