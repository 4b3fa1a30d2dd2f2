//! Refresh tokens, grouped in families: one family per sign-in, one new token per refresh.

use sea_orm::sea_query::Expr;
use sea_orm::{ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, Set};
use uuid::Uuid;

use crate::entity::refresh_token::{self, Entity as RefreshTokens};
use crate::{Result, Timestamp};

pub use refresh_token::Model as RefreshToken;

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

/// Revokes every token of a family (sign-out, or reuse of a rotated token).
pub async fn revoke_family(db: &impl ConnectionTrait, family_id: Uuid, now: Timestamp) -> Result<()> {
    RefreshTokens::update_many()
        .col_expr(refresh_token::Column::RevokedAt, Expr::value(now))
        .filter(refresh_token::Column::FamilyId.eq(family_id))
        .filter(refresh_token::Column::RevokedAt.is_null())
        .exec(db)
        .await?;
    Ok(())
}

/// Revokes all of a user's sessions but `keep` (password change keeps the current one).
pub async fn revoke_all_for_user(
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
