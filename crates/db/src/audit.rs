//! The append-only audit log: written in the transaction of the change it records.

use portal_types::AuditAction;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DbBackend, EntityTrait, QueryFilter, QueryOrder, QuerySelect, Set,
};
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
    pub action: AuditAction,
    pub target_type: &'a str,
    pub target_id: Option<String>,
    pub summary: Option<String>,
    pub ip: Option<&'a str>,
    pub user_agent: Option<&'a str>,
}

/// The teams whose activity (and members' last activity) an audit entry changed: what the
/// caller announces when it commits, so that no instance keeps showing the old pages.
#[derive(Debug, Default)]
pub struct Touched(Vec<Uuid>);

impl Touched {
    pub fn teams(&self) -> &[Uuid] {
        &self.0
    }
}

pub async fn record(db: &impl ConnectionTrait, entry: NewEntry<'_>, now: Timestamp) -> Result<Touched> {
    let actor_name: Option<String> = match entry.actor {
        Some(actor) => Some(actor.name(db).await?.chars().take(200).collect()),
        None => None,
    };
    // The team's webhook endpoints hear of it, in this transaction: with the change or not at all.
    if let Some(team_id) = entry.team_id {
        let actor = entry.actor.map(|a| portal_types::WebhookActor {
            kind: a.kind.to_owned(),
            id: a.id,
            name: actor_name.clone(),
        });
        let about = (actor, entry.target_type, entry.target_id.clone(), entry.summary.clone());
        crate::webhooks::raise(db, team_id, entry.action, about, now).await?;
    }
    audit::ActiveModel {
        team_id: Set(entry.team_id),
        actor_type: Set(entry.actor.map(|a| a.kind.to_owned())),
        actor_id: Set(entry.actor.map(|a| a.id)),
        actor_name: Set(actor_name),
        action: Set(entry.action.as_str().to_owned()),
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
    // The member list shows each member's last activity: kept here rather than grouped from
    // the log on every read. An entry without a team (a sign-in) counts in every team of theirs.
    let mut touched = Vec::from_iter(entry.team_id);
    if let Some(actor) = entry.actor.filter(|a| a.kind == "user") {
        touched.extend(crate::teams::touch(db, actor.id, entry.team_id, now).await?);
    }
    touched.sort_unstable();
    touched.dedup();
    Ok(Touched(touched))
}

/// Filters of a team's activity.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct ActivityFilter {
    pub actor_id: Option<Uuid>,
    pub action: Option<String>,
    /// Entries at or after this time.
    pub from: Option<Timestamp>,
    /// Entries before this time.
    pub to: Option<Timestamp>,
    /// Entries with an id below this (the cursor).
    pub before_id: Option<i64>,
}

/// The columns of an entry, in the entity's order.
const COLUMNS: [&str; 12] = [
    "id",
    "team_id",
    "actor_type",
    "actor_id",
    "actor_name",
    "action",
    "target_type",
    "target_id",
    "summary",
    "ip",
    "user_agent",
    "created_at",
];

/// The action of a sign-in: the only entry without a team that a team's activity shows.
pub const SIGNED_IN: &str = AuditAction::SignedIn.as_str();

/// A team's activity, newest first: its own entries, and the sign-ins of its current members
/// since they joined it (nothing from before, nothing of people who left).
///
/// Two statements, each a range scan of its own index: the team's page of entries
/// (`idx_audit_team`: team, id), then its members' sign-ins (the partial `idx_audit_sign_ins`:
/// actor, id) newer than that page's oldest entry when the page is full (an older one could not
/// make the page). The two filters joined by `OR` in one statement could use neither index: that
/// read every entry of the team and every sign-in for each page.
pub async fn list_for_team(
    db: &impl ConnectionTrait,
    team_id: Uuid,
    filter: &ActivityFilter,
    limit: u64,
) -> Result<Vec<AuditEntry>> {
    let mut own = Audit::find().filter(audit::Column::TeamId.eq(team_id));
    if let Some(actor) = filter.actor_id {
        own = own.filter(audit::Column::ActorId.eq(actor));
    }
    if let Some(action) = &filter.action {
        own = own.filter(audit::Column::Action.eq(action.as_str()));
    }
    if let Some(before) = filter.before_id {
        own = own.filter(audit::Column::Id.lt(before));
    }
    if let Some(from) = filter.from {
        own = own.filter(audit::Column::CreatedAt.gte(from));
    }
    if let Some(to) = filter.to {
        own = own.filter(audit::Column::CreatedAt.lt(to));
    }
    let mut entries = own.order_by_desc(audit::Column::Id).limit(limit).all(db).await?;
    // Another action filter leaves no sign-in to find.
    if filter.action.as_deref().is_some_and(|a| a != SIGNED_IN) {
        return Ok(entries);
    }
    let after = if entries.len() as u64 >= limit { entries.last().map(|e| e.id) } else { None };
    entries.extend(sign_ins(db, team_id, filter, after, limit).await?);
    entries.sort_unstable_by_key(|e| std::cmp::Reverse(e.id));
    entries.truncate(usize::try_from(limit).unwrap_or(usize::MAX));
    Ok(entries)
}

/// The sign-ins of a team's members since they joined, newest first, with ids between `after`
/// and the filter's cursor.
async fn sign_ins(
    db: &impl ConnectionTrait,
    team_id: Uuid,
    filter: &ActivityFilter,
    after: Option<i64>,
    limit: u64,
) -> Result<Vec<AuditEntry>> {
    let backend = db.get_database_backend();
    let mut values: Vec<sea_orm::Value> = vec![team_id.into()];
    let mut param = |value: sea_orm::Value| {
        values.push(value);
        match backend {
            DbBackend::Postgres => format!("${}", values.len()),
            _ => format!("?{}", values.len()),
        }
    };
    let mut conditions = String::new();
    if let Some(actor) = filter.actor_id {
        conditions.push_str(&format!(" AND a.actor_id = {}", param(actor.into())));
    }
    if let Some(before) = filter.before_id {
        conditions.push_str(&format!(" AND a.id < {}", param(before.into())));
    }
    if let Some(after) = after {
        conditions.push_str(&format!(" AND a.id > {}", param(after.into())));
    }
    if let Some(from) = filter.from {
        conditions.push_str(&format!(" AND a.created_at >= {}", param(from.into())));
    }
    if let Some(to) = filter.to {
        conditions.push_str(&format!(" AND a.created_at < {}", param(to.into())));
    }
    let team = match backend {
        DbBackend::Postgres => "$1",
        _ => "?1",
    };
    let columns = COLUMNS.map(|c| format!("a.{c}")).join(", ");
    // The sign-in condition is written out, not bound: only then may the partial index serve it.
    let sql = format!(
        "SELECT {columns} FROM team_members m JOIN audit_log a ON a.actor_id = m.user_id \
         WHERE m.team_id = {team} AND a.team_id IS NULL AND a.action = '{SIGNED_IN}' \
         AND a.created_at >= m.joined_at{conditions} ORDER BY a.id DESC LIMIT {limit}"
    );
    let statement = sea_orm::Statement::from_sql_and_values(backend, sql, values);
    Ok(Audit::find().from_raw_sql(statement).all(db).await?)
}
