//! The append-only audit log: written in the transaction of the change it records.

use sea_orm::sea_query::ExprTrait;
use sea_orm::{ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect, Set};
use uuid::Uuid;

use crate::entity::audit::{self, Entity as Audit};
use crate::{Result, Timestamp};

pub use audit::Model as AuditEntry;

/// Who acted.
#[derive(Debug, Clone)]
pub struct AuditActor {
    /// `user` or `api_key`.
    pub kind: &'static str,
    pub id: Uuid,
    /// The name to record; for a user, None looks it up when an entry is written.
    pub name: Option<String>,
}

impl AuditActor {
    /// The actor's name now (a user's from the database).
    pub async fn name(&self, db: &impl ConnectionTrait) -> Result<String> {
        match &self.name {
            Some(name) => Ok(name.clone()),
            None => Ok(crate::users::find(db, self.id).await?.map_or_else(|| "(deleted user)".to_owned(), |u| u.name)),
        }
    }
}

/// One event to record.
#[derive(Debug, Clone)]
pub struct NewEntry<'a> {
    pub team_id: Option<Uuid>,
    pub actor: Option<&'a AuditActor>,
    pub action: &'a str,
    pub target_type: &'a str,
    pub target_id: Option<String>,
    pub summary: Option<String>,
    pub ip: Option<&'a str>,
    pub user_agent: Option<&'a str>,
}

pub async fn record(db: &impl ConnectionTrait, entry: NewEntry<'_>, now: Timestamp) -> Result<()> {
    let actor_name = match entry.actor {
        Some(actor) => Some(actor.name(db).await?.chars().take(200).collect()),
        None => None,
    };
    audit::ActiveModel {
        team_id: Set(entry.team_id),
        actor_type: Set(entry.actor.map(|a| a.kind.to_owned())),
        actor_id: Set(entry.actor.map(|a| a.id)),
        actor_name: Set(actor_name),
        action: Set(entry.action.to_owned()),
        target_type: Set(entry.target_type.to_owned()),
        target_id: Set(entry.target_id),
        summary: Set(entry.summary),
        ip: Set(entry.ip.map(|s| s.chars().take(64).collect())),
        user_agent: Set(entry.user_agent.map(|s| s.chars().take(512).collect())),
        created_at: Set(now),
        ..Default::default()
    }
    .insert(db)
    .await?;
    Ok(())
}

/// Filters of a team's activity.
#[derive(Debug, Clone, Default)]
pub struct ActivityFilter {
    pub actor_id: Option<Uuid>,
    pub action: Option<String>,
    /// Entries with an id below this (the cursor).
    pub before_id: Option<i64>,
}

/// A team's activity, newest first: its own entries, and the sign-ins of its current members
/// since they joined it (nothing from before, nothing of people who left).
pub async fn list_for_team(
    db: &impl ConnectionTrait,
    team_id: Uuid,
    filter: &ActivityFilter,
    limit: u64,
) -> Result<Vec<AuditEntry>> {
    use crate::entity::team_member;
    use sea_orm::sea_query::{Expr, Query};
    let member_since_then = Query::select()
        .expr(Expr::val(1))
        .from(team_member::Entity)
        .and_where(Expr::col((team_member::Entity, team_member::Column::TeamId)).eq(team_id))
        .and_where(
            Expr::col((team_member::Entity, team_member::Column::UserId))
                .equals((audit::Entity, audit::Column::ActorId)),
        )
        .and_where(
            Expr::col((team_member::Entity, team_member::Column::JoinedAt))
                .lte(Expr::col((audit::Entity, audit::Column::CreatedAt))),
        )
        .to_owned();
    let sign_ins = audit::Column::TeamId
        .is_null()
        .and(audit::Column::Action.eq("auth.signed_in"))
        .and(Expr::exists(member_since_then));
    let mut q = Audit::find().filter(audit::Column::TeamId.eq(team_id).or(sign_ins));
    if let Some(actor) = filter.actor_id {
        q = q.filter(audit::Column::ActorId.eq(actor));
    }
    if let Some(action) = &filter.action {
        q = q.filter(audit::Column::Action.eq(action.as_str()));
    }
    if let Some(before) = filter.before_id {
        q = q.filter(audit::Column::Id.lt(before));
    }
    Ok(q.order_by_desc(audit::Column::Id).limit(limit).all(db).await?)
}
