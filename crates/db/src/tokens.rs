//! Single-use tokens mailed to users (e-mail verification, password reset), stored as hashes.

use sea_orm::sea_query::Expr;
use sea_orm::{ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, Set};
use uuid::Uuid;

use crate::entity::email_token::{self, Entity as EmailTokens};
use crate::{Result, Timestamp};

/// What a mailed token is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Purpose {
    VerifyEmail,
    ResetPassword,
    /// An owner's or admin's "Test connection" of a single sign-on connection, about to start in
    /// their browser.
    SsoTest,
}

impl Purpose {
    fn as_str(self) -> &'static str {
        match self {
            Self::VerifyEmail => "verify_email",
            Self::ResetPassword => "reset_password",
            Self::SsoTest => "sso_test",
        }
    }
}

pub async fn insert(
    db: &impl ConnectionTrait,
    user_id: Uuid,
    purpose: Purpose,
    token_hash: &str,
    expires_at: Timestamp,
    now: Timestamp,
) -> Result<()> {
    email_token::ActiveModel {
        id: Set(Uuid::new_v4()),
        user_id: Set(user_id),
        purpose: Set(purpose.as_str().to_owned()),
        token_hash: Set(token_hash.to_owned()),
        expires_at: Set(expires_at),
        used_at: Set(None),
        created_at: Set(now),
    }
    .insert(db)
    .await?;
    Ok(())
}

/// Uses up a token: returns its user when the token exists, is unused and unexpired, and this call
/// is the one that marked it used (so two concurrent uses cannot both succeed). All other unused
/// tokens of the same purpose for that user die with it.
pub async fn consume(
    db: &impl ConnectionTrait,
    purpose: Purpose,
    token_hash: &str,
    now: Timestamp,
) -> Result<Option<Uuid>> {
    let Some(token) = EmailTokens::find()
        .filter(email_token::Column::TokenHash.eq(token_hash))
        .filter(email_token::Column::Purpose.eq(purpose.as_str()))
        .one(db)
        .await?
    else {
        return Ok(None);
    };
    if token.used_at.is_some() || token.expires_at <= now {
        return Ok(None);
    }
    let used = EmailTokens::update_many()
        .col_expr(email_token::Column::UsedAt, Expr::value(now))
        .filter(email_token::Column::UserId.eq(token.user_id))
        .filter(email_token::Column::Purpose.eq(purpose.as_str()))
        .filter(email_token::Column::UsedAt.is_null())
        .exec(db)
        .await?;
    // Zero rows: another request used this token (or a sibling) between our read and write.
    let this_one_still_ours = used.rows_affected > 0;
    Ok(this_one_still_ours.then_some(token.user_id))
}
