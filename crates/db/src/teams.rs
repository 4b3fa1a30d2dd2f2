//! Teams and their members.

use std::collections::HashMap;

use portal_types::Role;
use sea_orm::sea_query::{Expr, ExprTrait};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DbBackend, DbErr, EntityTrait, PaginatorTrait, QueryFilter,
    QueryOrder, QuerySelect, Set, Statement,
};
use uuid::Uuid;

use crate::entity::team::{self, Entity as Teams};
use crate::entity::team_member::{self, Entity as Members};
use crate::entity::user::{self, Entity as Users};
use crate::{Error, Result, Timestamp};

pub use team::Model as Team;

/// A membership row with its role parsed.
#[derive(Debug, Clone)]
pub struct Membership {
    pub team_id: Uuid,
    pub user_id: Uuid,
    pub role: Role,
    pub joined_at: Timestamp,
}

pub(crate) fn parse_role(s: &str) -> Result<Role> {
    Role::parse(s).ok_or_else(|| Error::Db(DbErr::Custom(format!("unknown role {s:?} in the database"))))
}

fn membership(m: team_member::Model) -> Result<Membership> {
    Ok(Membership { team_id: m.team_id, user_id: m.user_id, role: parse_role(&m.role)?, joined_at: m.joined_at })
}

/// Creates a team with `owner` as its first owner.
pub async fn create(
    db: &impl ConnectionTrait,
    name: &str,
    description: Option<&str>,
    owner: Uuid,
    now: Timestamp,
) -> Result<Team> {
    let team = team::ActiveModel {
        id: Set(Uuid::new_v4()),
        name: Set(name.to_owned()),
        description: Set(description.map(str::to_owned)),
        created_by: Set(owner),
        require_two_factor: Set(false),
        require_sso: Set(false),
        created_at: Set(now),
        updated_at: Set(now),
    }
    .insert(db)
    .await?;
    add_member(db, team.id, owner, Role::Owner, now).await?;
    Ok(team)
}

pub async fn find(db: &impl ConnectionTrait, team_id: Uuid) -> Result<Option<Team>> {
    Ok(Teams::find_by_id(team_id).one(db).await?)
}

/// Takes the team's row lock until the transaction ends (PostgreSQL), so that membership changes
/// of one team happen one after another and the last-owner check cannot be raced. SQLite runs one
/// write transaction at a time anyway.
pub async fn lock(db: &impl ConnectionTrait, team_id: Uuid) -> Result<()> {
    if db.get_database_backend() == DbBackend::Postgres {
        db.execute_raw(Statement::from_sql_and_values(
            DbBackend::Postgres,
            "SELECT id FROM teams WHERE id = $1 FOR UPDATE",
            [team_id.into()],
        ))
        .await?;
    }
    Ok(())
}

pub async fn update(
    db: &impl ConnectionTrait,
    team_id: Uuid,
    name: Option<&str>,
    description: Option<Option<&str>>,
    (require_two_factor, require_sso): (Option<bool>, Option<bool>),
    now: Timestamp,
) -> Result<Option<Team>> {
    let Some(found) = find(db, team_id).await? else { return Ok(None) };
    let mut active: team::ActiveModel = found.into();
    if let Some(required) = require_two_factor {
        active.require_two_factor = Set(required);
    }
    if let Some(required) = require_sso {
        active.require_sso = Set(required);
    }
    if let Some(name) = name {
        active.name = Set(name.to_owned());
    }
    if let Some(description) = description {
        active.description = Set(description.map(str::to_owned));
    }
    active.updated_at = Set(now);
    Ok(Some(active.update(db).await?))
}

pub async fn delete(db: &impl ConnectionTrait, team_id: Uuid) -> Result<()> {
    Teams::delete_by_id(team_id).exec(db).await?;
    Ok(())
}

pub async fn membership_of(db: &impl ConnectionTrait, team_id: Uuid, user_id: Uuid) -> Result<Option<Membership>> {
    Members::find_by_id((team_id, user_id)).one(db).await?.map(membership).transpose()
}

pub async fn add_member(
    db: &impl ConnectionTrait,
    team_id: Uuid,
    user_id: Uuid,
    role: Role,
    now: Timestamp,
) -> Result<()> {
    team_member::ActiveModel {
        team_id: Set(team_id),
        user_id: Set(user_id),
        role: Set(role.as_str().to_owned()),
        joined_at: Set(now),
        // Joining (creating the team, accepting an invitation) is the member's own act.
        last_active_at: Set(Some(now)),
    }
    .insert(db)
    .await
    .map_err(Error::from_insert)?;
    Ok(())
}

pub async fn set_role(db: &impl ConnectionTrait, team_id: Uuid, user_id: Uuid, role: Role) -> Result<()> {
    Members::update_many()
        .col_expr(team_member::Column::Role, Expr::value(role.as_str()))
        .filter(team_member::Column::TeamId.eq(team_id))
        .filter(team_member::Column::UserId.eq(user_id))
        .exec(db)
        .await?;
    Ok(())
}

pub async fn remove_member(db: &impl ConnectionTrait, team_id: Uuid, user_id: Uuid) -> Result<()> {
    Members::delete_by_id((team_id, user_id)).exec(db).await?;
    Ok(())
}

pub async fn count_owners(db: &impl ConnectionTrait, team_id: Uuid) -> Result<u64> {
    Ok(Members::find()
        .filter(team_member::Column::TeamId.eq(team_id))
        .filter(team_member::Column::Role.eq(Role::Owner.as_str()))
        .count(db)
        .await?)
}

/// A user's teams with their role, oldest membership first, after `after` (joined_at, team id).
pub async fn list_for_user(
    db: &impl ConnectionTrait,
    user_id: Uuid,
    after: Option<(Timestamp, Uuid)>,
    limit: u64,
) -> Result<Vec<(Team, Membership, u64)>> {
    let mut q = Members::find().filter(team_member::Column::UserId.eq(user_id));
    if let Some((at, id)) = after {
        q = q.filter(
            team_member::Column::JoinedAt
                .gt(at)
                .or(team_member::Column::JoinedAt.eq(at).and(team_member::Column::TeamId.gt(id))),
        );
    }
    let memberships = q
        .order_by_asc(team_member::Column::JoinedAt)
        .order_by_asc(team_member::Column::TeamId)
        .limit(limit)
        .all(db)
        .await?;
    let ids: Vec<Uuid> = memberships.iter().map(|m| m.team_id).collect();
    let mut teams: HashMap<Uuid, Team> = Teams::find()
        .filter(team::Column::Id.is_in(ids.clone()))
        .all(db)
        .await?
        .into_iter()
        .map(|t| (t.id, t))
        .collect();
    let counts = member_counts(db, &ids).await?;
    let mut out = Vec::with_capacity(memberships.len());
    for m in memberships {
        if let Some(team) = teams.remove(&m.team_id) {
            let count = counts.get(&m.team_id).copied().unwrap_or(0);
            out.push((team, membership(m)?, count));
        }
    }
    Ok(out)
}

pub async fn member_counts(db: &impl ConnectionTrait, team_ids: &[Uuid]) -> Result<HashMap<Uuid, u64>> {
    let rows: Vec<(Uuid, i64)> = Members::find()
        .select_only()
        .column(team_member::Column::TeamId)
        .column_as(team_member::Column::UserId.count(), "n")
        .filter(team_member::Column::TeamId.is_in(team_ids.to_vec()))
        .group_by(team_member::Column::TeamId)
        .into_tuple()
        .all(db)
        .await?;
    Ok(rows.into_iter().map(|(id, n)| (id, u64::try_from(n).unwrap_or(0))).collect())
}

/// A member with their account.
#[derive(Debug, Clone)]
pub struct MemberRow {
    pub membership: Membership,
    pub name: String,
    pub email: String,
    pub last_active_at: Option<Timestamp>,
}

/// A team's members, earliest joined first, after `after` (joined_at, user id).
pub async fn list_members(
    db: &impl ConnectionTrait,
    team_id: Uuid,
    after: Option<(Timestamp, Uuid)>,
    limit: u64,
) -> Result<Vec<MemberRow>> {
    let mut q = Members::find().filter(team_member::Column::TeamId.eq(team_id));
    if let Some((at, id)) = after {
        q = q.filter(
            team_member::Column::JoinedAt
                .gt(at)
                .or(team_member::Column::JoinedAt.eq(at).and(team_member::Column::UserId.gt(id))),
        );
    }
    // The members with their accounts and last activity: one statement.
    let rows = q
        .find_also_related(Users)
        .order_by_asc(team_member::Column::JoinedAt)
        .order_by_asc(team_member::Column::UserId)
        .limit(limit)
        .all(db)
        .await?;
    members_with(rows)
}

/// Memberships read with their accounts (a membership whose account is gone is skipped).
fn members_with(rows: Vec<(team_member::Model, Option<user::Model>)>) -> Result<Vec<MemberRow>> {
    rows.into_iter().filter_map(|(m, user)| Some(member_with(m, user?))).collect()
}

fn member_with(m: team_member::Model, user: user::Model) -> Result<MemberRow> {
    let last_active_at = m.last_active_at;
    Ok(MemberRow { membership: membership(m)?, name: user.name, email: user.email, last_active_at })
}

/// The team's members without two-factor authentication (never enrolled, or not confirmed),
/// by name: whom requiring it shuts out. At most `limit`, with how many there are in all.
pub async fn members_without_two_factor(
    db: &impl ConnectionTrait,
    team_id: Uuid,
    limit: u64,
) -> Result<(Vec<MemberRow>, u64)> {
    use crate::entity::two_factor;
    let enabled = sea_orm::sea_query::Query::select()
        .column(two_factor::Column::UserId)
        .from(two_factor::Entity)
        .and_where(two_factor::Column::EnabledAt.is_not_null())
        .to_owned();
    let without = Members::find()
        .filter(team_member::Column::TeamId.eq(team_id))
        .filter(team_member::Column::UserId.not_in_subquery(enabled));
    let total = without.clone().count(db).await?;
    let rows = without
        .find_also_related(Users)
        .order_by_asc(user::Column::Name)
        .order_by_asc(team_member::Column::UserId)
        .limit(limit)
        .all(db)
        .await?;
    Ok((members_with(rows)?, total))
}

/// One member with their account.
pub async fn member_row(db: &impl ConnectionTrait, team_id: Uuid, user_id: Uuid) -> Result<Option<MemberRow>> {
    let found = Members::find_by_id((team_id, user_id)).find_also_related(Users).one(db).await?;
    let Some((m, Some(user))) = found else { return Ok(None) };
    Ok(Some(member_with(m, user)?))
}

/// Marks members active at `now`: `user_id` in `team_id`, or in every team of theirs when None
/// (a sign-in). Called by `audit::record` for every entry a user acts in. Returns the teams of
/// a sign-in (a team's own entry names its team).
pub async fn touch(
    db: &impl ConnectionTrait,
    user_id: Uuid,
    team_id: Option<Uuid>,
    now: Timestamp,
) -> Result<Vec<Uuid>> {
    let mut q = Members::update_many()
        .col_expr(team_member::Column::LastActiveAt, Expr::value(now))
        .filter(team_member::Column::UserId.eq(user_id));
    if let Some(team_id) = team_id {
        q = q.filter(team_member::Column::TeamId.eq(team_id));
    }
    q.exec(db).await?;
    match team_id {
        Some(_) => Ok(Vec::new()),
        None => team_ids_of(db, user_id).await,
    }
}

/// The teams `user_id` is a member of.
pub async fn team_ids_of(db: &impl ConnectionTrait, user_id: Uuid) -> Result<Vec<Uuid>> {
    Ok(Members::find()
        .select_only()
        .column(team_member::Column::TeamId)
        .filter(team_member::Column::UserId.eq(user_id))
        .into_tuple()
        .all(db)
        .await?)
}

/// Names of the teams of `user_id` that require two-factor authentication.
pub async fn requiring_two_factor(db: &impl ConnectionTrait, user_id: Uuid) -> Result<Vec<String>> {
    let ids = team_ids_of(db, user_id).await?;
    Ok(Teams::find()
        .select_only()
        .column(team::Column::Name)
        .filter(team::Column::Id.is_in(ids))
        .filter(team::Column::RequireTwoFactor.eq(true))
        .into_tuple()
        .all(db)
        .await?)
}

/// The teams that `user_id` owns and that require single sign-on.
pub async fn owned_requiring_sso(db: &impl ConnectionTrait, user_id: Uuid) -> Result<Vec<Uuid>> {
    let owned: Vec<Uuid> = Members::find()
        .select_only()
        .column(team_member::Column::TeamId)
        .filter(team_member::Column::UserId.eq(user_id))
        .filter(team_member::Column::Role.eq(Role::Owner.as_str()))
        .into_tuple()
        .all(db)
        .await?;
    Ok(Teams::find()
        .select_only()
        .column(team::Column::Id)
        .filter(team::Column::Id.is_in(owned))
        .filter(team::Column::RequireSso.eq(true))
        .into_tuple()
        .all(db)
        .await?)
}

/// (name, e-mail address) of the team's owners and admins: who hears about its keys.
pub async fn managers(db: &impl ConnectionTrait, team_id: Uuid) -> Result<Vec<(String, String)>> {
    let ids: Vec<Uuid> = Members::find()
        .filter(team_member::Column::TeamId.eq(team_id))
        .filter(team_member::Column::Role.is_in([Role::Owner.as_str(), Role::Admin.as_str()]))
        .all(db)
        .await?
        .into_iter()
        .map(|m| m.user_id)
        .collect();
    let users = Users::find().filter(user::Column::Id.is_in(ids)).order_by_asc(user::Column::Email).all(db).await?;
    Ok(users.into_iter().map(|u| (u.name, u.email)).collect())
}
