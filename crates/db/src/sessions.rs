//! Sessions and their refresh tokens. A session is one sign-in: a row with where and how it was
//! last used, and a family of refresh tokens (one new token per refresh) under the session's id.
//! Ending a session revokes its tokens and marks it ended, which access tokens are checked
//! against.

use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, Condition, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect, Set,
};
use uuid::Uuid;

use crate::entity::refresh_token::{self, Entity as RefreshTokens};
use crate::entity::session::{self, Entity as Sessions};
use crate::{Result, Timestamp};

pub use refresh_token::Model as RefreshToken;
pub use session::Model as Session;

/// The most sessions a list shows (the latest used).
pub const LIST_MAX: u64 = 500;

/// Where and how a session is used.
#[derive(Debug, Clone, Copy)]
pub struct Seen<'a> {
    pub ip: &'a str,
    pub user_agent: Option<&'a str>,
}

impl Seen<'_> {
    /// The address as stored (at most 64 characters).
    fn ip(&self) -> String {
        self.ip.chars().take(64).collect()
    }

    /// The user agent as stored (at most 512 characters).
    fn user_agent(&self) -> Option<String> {
        self.user_agent.map(|ua| ua.chars().take(512).collect())
    }
}

/// How a session started: at an SSO connection of a team, or (None) with a password.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StartedAt {
    pub connection_id: Uuid,
    pub team_id: Uuid,
}

/// Records a new session (a sign-in) that lasts until `expires_at` unless used again.
pub async fn start(
    db: &impl ConnectionTrait,
    (id, user_id): (Uuid, Uuid),
    seen: Seen<'_>,
    sso: Option<StartedAt>,
    expires_at: Timestamp,
    now: Timestamp,
) -> Result<()> {
    session::ActiveModel {
        id: Set(id),
        user_id: Set(user_id),
        created_at: Set(now),
        last_used_at: Set(now),
        ip: Set(Some(seen.ip())),
        user_agent: Set(seen.user_agent()),
        expires_at: Set(expires_at),
        ended_at: Set(None),
        sso_connection_id: Set(sso.map(|s| s.connection_id)),
        sso_team_id: Set(sso.map(|s| s.team_id)),
    }
    .insert(db)
    .await?;
    Ok(())
}

/// Records a use of a session (a refresh): when, from where, and its new end.
pub async fn touch(
    db: &impl ConnectionTrait,
    id: Uuid,
    seen: Seen<'_>,
    expires_at: Timestamp,
    now: Timestamp,
) -> Result<()> {
    Sessions::update_many()
        .col_expr(session::Column::LastUsedAt, Expr::value(now))
        .col_expr(session::Column::Ip, Expr::value(seen.ip()))
        .col_expr(session::Column::UserAgent, Expr::value(seen.user_agent()))
        .col_expr(session::Column::ExpiresAt, Expr::value(expires_at))
        .filter(session::Column::Id.eq(id))
        .filter(session::Column::EndedAt.is_null())
        .exec(db)
        .await?;
    Ok(())
}

/// Whether a session has not been ended (an access token of it may be used until it expires).
pub async fn is_open(db: &impl ConnectionTrait, id: Uuid) -> Result<bool> {
    Ok(open_user(db, id).await?.is_some())
}

/// The user of a session that has not ended; None for an ended or unknown session.
pub async fn open_user(db: &impl ConnectionTrait, id: Uuid) -> Result<Option<Uuid>> {
    Ok(open(db, id).await?.map(|(user, _)| user))
}

/// The user of a session that has not ended and the team whose SSO connection started it (None
/// for a password); None for an ended or unknown session.
pub async fn open(db: &impl ConnectionTrait, id: Uuid) -> Result<Option<(Uuid, Option<Uuid>)>> {
    let found = Sessions::find_by_id(id)
        .select_only()
        .column(session::Column::UserId)
        .column(session::Column::EndedAt)
        .column(session::Column::SsoTeamId)
        .into_tuple::<(Uuid, Option<Timestamp>, Option<Uuid>)>();
    Ok(found.one(db).await?.and_then(|(user, ended, team)| ended.is_none().then_some((user, team))))
}

/// The ids of every session of a user that has not ended.
pub async fn open_ids(db: &impl ConnectionTrait, user_id: Uuid) -> Result<Vec<Uuid>> {
    Ok(Sessions::find()
        .select_only()
        .column(session::Column::Id)
        .filter(session::Column::UserId.eq(user_id))
        .filter(session::Column::EndedAt.is_null())
        .into_tuple()
        .all(db)
        .await?)
}

/// A user's sessions in use, the latest used first (at most [`LIST_MAX`]).
pub async fn list_open(db: &impl ConnectionTrait, user_id: Uuid, now: Timestamp) -> Result<Vec<Session>> {
    Ok(Sessions::find()
        .filter(session::Column::UserId.eq(user_id))
        .filter(session::Column::EndedAt.is_null())
        .filter(session::Column::ExpiresAt.gt(now))
        .order_by_desc(session::Column::LastUsedAt)
        .order_by_desc(session::Column::Id)
        .limit(LIST_MAX)
        .all(db)
        .await?)
}

/// Ends one of a user's sessions: its tokens are revoked. `false` when it is not theirs or has
/// ended already.
pub async fn end(db: &impl ConnectionTrait, user_id: Uuid, id: Uuid, now: Timestamp) -> Result<bool> {
    let ended = Sessions::update_many()
        .col_expr(session::Column::EndedAt, Expr::value(now))
        .filter(session::Column::Id.eq(id))
        .filter(session::Column::UserId.eq(user_id))
        .filter(session::Column::EndedAt.is_null())
        .exec(db)
        .await?;
    revoke_family(db, user_id, id, now).await?;
    Ok(ended.rows_affected == 1)
}

/// Ends every session of a user but `keep`; gives back the ones it ended.
pub async fn end_all(
    db: &impl ConnectionTrait,
    user_id: Uuid,
    keep: Option<Uuid>,
    now: Timestamp,
) -> Result<Vec<Uuid>> {
    let mut open = Sessions::find()
        .select_only()
        .column(session::Column::Id)
        .filter(session::Column::UserId.eq(user_id))
        .filter(session::Column::EndedAt.is_null());
    if let Some(id) = keep {
        open = open.filter(session::Column::Id.ne(id));
    }
    let ids: Vec<Uuid> = open.into_tuple().all(db).await?;
    if !ids.is_empty() {
        Sessions::update_many()
            .col_expr(session::Column::EndedAt, Expr::value(now))
            .filter(session::Column::Id.is_in(ids.clone()))
            .filter(session::Column::EndedAt.is_null())
            .exec(db)
            .await?;
    }
    revoke_all_for_user(db, user_id, keep, now).await?;
    Ok(ids)
}

/// Ends every open session that started at the SSO connection `connection_id` (removed, or
/// pointed at another provider): their refresh tokens are revoked. Returns the sessions ended.
pub async fn end_by_connection(db: &impl ConnectionTrait, connection_id: Uuid, now: Timestamp) -> Result<Vec<Uuid>> {
    let ids: Vec<Uuid> = Sessions::find()
        .select_only()
        .column(session::Column::Id)
        .filter(session::Column::SsoConnectionId.eq(connection_id))
        .filter(session::Column::EndedAt.is_null())
        .into_tuple()
        .all(db)
        .await?;
    if !ids.is_empty() {
        Sessions::update_many()
            .col_expr(session::Column::EndedAt, Expr::value(now))
            .filter(session::Column::Id.is_in(ids.clone()))
            .exec(db)
            .await?;
        RefreshTokens::update_many()
            .col_expr(refresh_token::Column::RevokedAt, Expr::value(now))
            .filter(refresh_token::Column::FamilyId.is_in(ids.clone()))
            .filter(refresh_token::Column::RevokedAt.is_null())
            .exec(db)
            .await?;
    }
    Ok(ids)
}

pub async fn insert(
    db: &impl ConnectionTrait,
    family_id: Uuid,
    user_id: Uuid,
    token_hash: &str,
    expires_at: Timestamp,
    now: Timestamp,
) -> Result<()> {
    refresh_token::ActiveModel {
        id: Set(Uuid::new_v4()),
        family_id: Set(family_id),
        user_id: Set(user_id),
        token_hash: Set(token_hash.to_owned()),
        expires_at: Set(expires_at),
        used_at: Set(None),
        revoked_at: Set(None),
        created_at: Set(now),
    }
    .insert(db)
    .await?;
    Ok(())
}

pub async fn find_by_hash(db: &impl ConnectionTrait, token_hash: &str) -> Result<Option<RefreshToken>> {
    Ok(RefreshTokens::find().filter(refresh_token::Column::TokenHash.eq(token_hash)).one(db).await?)
}

/// Marks a token used; `false` when it was already used or revoked (by a concurrent request too).
pub async fn mark_used(db: &impl ConnectionTrait, id: Uuid, now: Timestamp) -> Result<bool> {
    let res = RefreshTokens::update_many()
        .col_expr(refresh_token::Column::UsedAt, Expr::value(now))
        .filter(refresh_token::Column::Id.eq(id))
        .filter(refresh_token::Column::UsedAt.is_null())
        .filter(refresh_token::Column::RevokedAt.is_null())
        .exec(db)
        .await?;
    Ok(res.rows_affected == 1)
}

/// Revokes every token of a user's family (see [`end`]).
async fn revoke_family(db: &impl ConnectionTrait, user_id: Uuid, family_id: Uuid, now: Timestamp) -> Result<()> {
    RefreshTokens::update_many()
        .col_expr(refresh_token::Column::RevokedAt, Expr::value(now))
        .filter(refresh_token::Column::FamilyId.eq(family_id))
        .filter(refresh_token::Column::UserId.eq(user_id))
        .filter(refresh_token::Column::RevokedAt.is_null())
        .exec(db)
        .await?;
    Ok(())
}

/// Revokes the tokens of all of a user's sessions but `keep` (see [`end_all`]).
async fn revoke_all_for_user(
    db: &impl ConnectionTrait,
    user_id: Uuid,
    keep: Option<Uuid>,
    now: Timestamp,
) -> Result<()> {
    let mut q = RefreshTokens::update_many()
        .col_expr(refresh_token::Column::RevokedAt, Expr::value(now))
        .filter(refresh_token::Column::UserId.eq(user_id))
        .filter(refresh_token::Column::RevokedAt.is_null());
    if let Some(family) = keep {
        q = q.filter(refresh_token::Column::FamilyId.ne(family));
    }
    q.exec(db).await?;
    Ok(())
}

/// Deletes sessions and refresh tokens that ended or expired before `before`, up to `batch` rows
/// of each; gives back how many went. A rotated token stays until it expires: presenting it
/// again is how a stolen one is caught.
pub async fn prune(db: &impl ConnectionTrait, before: Timestamp, batch: u64) -> Result<u64> {
    let old_tokens: Vec<Uuid> = RefreshTokens::find()
        .select_only()
        .column(refresh_token::Column::Id)
        .filter(
            Condition::any()
                .add(refresh_token::Column::ExpiresAt.lt(before))
                .add(refresh_token::Column::RevokedAt.lt(before)),
        )
        .limit(batch)
        .into_tuple()
        .all(db)
        .await?;
    let old_sessions: Vec<Uuid> = Sessions::find()
        .select_only()
        .column(session::Column::Id)
        .filter(Condition::any().add(session::Column::ExpiresAt.lt(before)).add(session::Column::EndedAt.lt(before)))
        .limit(batch)
        .into_tuple()
        .all(db)
        .await?;
    let tokens = RefreshTokens::delete_many().filter(refresh_token::Column::Id.is_in(old_tokens)).exec(db).await?;
    let sessions = Sessions::delete_many().filter(session::Column::Id.is_in(old_sessions)).exec(db).await?;
    Ok(tokens.rows_affected + sessions.rows_affected)
}
