//! How far a user's teams are through the guide's two Quick Reference checklists, read from what
//! exists (each a query that stops at its first row).

use portal_types::{AuditAction, Environment, GettingStarted, Role};
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QuerySelect, Select};
use uuid::Uuid;

use crate::Result;
use crate::entity::{api_key, audit, invitation, team_member, webhook_endpoint};

async fn any<E: EntityTrait>(db: &impl ConnectionTrait, select: Select<E>) -> Result<bool> {
    Ok(select.limit(1).into_json().one(db).await?.is_some())
}

/// Each step of the checklists, done or not, over every team of the user.
pub async fn progress(db: &impl ConnectionTrait, user_id: Uuid) -> Result<GettingStarted> {
    let teams = crate::teams::team_ids_of(db, user_id).await?;
    if teams.is_empty() {
        return Ok(GettingStarted::default());
    }
    let ids = || teams.iter().copied();
    let others = || {
        team_member::Entity::find()
            .filter(team_member::Column::TeamId.is_in(ids()))
            .filter(team_member::Column::UserId.ne(user_id))
    };
    let keys = || api_key::Entity::find().filter(api_key::Column::TeamId.is_in(ids()));
    Ok(GettingStarted {
        team_created: true,
        members_invited: any(db, invitation::Entity::find().filter(invitation::Column::TeamId.is_in(ids()))).await?
            || any(db, others()).await?,
        roles_assigned: any(
            db,
            others().filter(team_member::Column::Role.is_in([Role::Owner.as_str(), Role::Admin.as_str()])),
        )
        .await?
            || any(
                db,
                audit::Entity::find()
                    .filter(audit::Column::TeamId.is_in(ids()))
                    .filter(audit::Column::Action.eq(AuditAction::MemberRoleChanged.as_str())),
            )
            .await?,
        development_key: any(db, keys().filter(api_key::Column::Environment.eq(Environment::Development.as_str())))
            .await?,
        production_key: any(db, keys().filter(api_key::Column::Environment.eq(Environment::Production.as_str())))
            .await?,
        key_used: any(db, keys().filter(api_key::Column::LastUsedAt.is_not_null())).await?,
        usage_monitored: any(db, keys().filter(api_key::Column::UsageLimit.is_not_null())).await?
            || any(db, webhook_endpoint::Entity::find().filter(webhook_endpoint::Column::TeamId.is_in(ids()))).await?,
    })
}
