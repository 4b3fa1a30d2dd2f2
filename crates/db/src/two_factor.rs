//! Two-factor authentication: an account's TOTP enrolment, its recovery codes, and the sign-in
//! challenges between the password and the code. Secrets arrive here encrypted and codes hashed:
//! this crate never sees either in the clear.
//!
//! Every check that must happen once is one conditional `UPDATE` whose row count decides, so two
//! requests (or two instances) racing with the same code or challenge cannot both succeed.

use sea_orm::sea_query::{Expr, ExprTrait as _};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, Condition, ConnectionTrait, EntityTrait, PaginatorTrait, QueryFilter, Set,
};
use uuid::Uuid;

use crate::entity::login_challenge::{self, Entity as Challenges};
use crate::entity::recovery_code::{self, Entity as RecoveryCodes};
use crate::entity::two_factor::{self, Entity as TwoFactor};
use crate::{Result, Timestamp};

pub use login_challenge::Model as Challenge;
pub use two_factor::Model as Enrolment;

/// The account's enrolment, confirmed or awaiting its first code.
pub async fn find(db: &impl ConnectionTrait, user_id: Uuid) -> Result<Option<Enrolment>> {
    Ok(TwoFactor::find_by_id(user_id).one(db).await?)
}

/// Whether the account has two-factor authentication turned on.
pub async fn enabled(db: &impl ConnectionTrait, user_id: Uuid) -> Result<bool> {
    Ok(find(db, user_id).await?.is_some_and(|e| e.enabled_at.is_some()))
}

/// Starts an enrolment with `secret` (encrypted), replacing one that awaits its code. The caller
/// has checked, under the account's lock, that two-factor authentication is off.
pub async fn begin(db: &impl ConnectionTrait, user_id: Uuid, secret: String, now: Timestamp) -> Result<()> {
    TwoFactor::delete_many()
        .filter(two_factor::Column::UserId.eq(user_id))
        .filter(two_factor::Column::EnabledAt.is_null())
        .exec(db)
        .await?;
    two_factor::ActiveModel {
        user_id: Set(user_id),
        secret: Set(secret),
        created_at: Set(now),
        enabled_at: Set(None),
        last_step: Set(None),
    }
    .insert(db)
    .await?;
    Ok(())
}

fn step_is_new(step: i64) -> Condition {
    Condition::any().add(two_factor::Column::LastStep.is_null()).add(two_factor::Column::LastStep.lt(step))
}

/// Turns on the pending enrolment with the code of time step `step`; `false` when there is none.
pub async fn enable(db: &impl ConnectionTrait, user_id: Uuid, step: i64, now: Timestamp) -> Result<bool> {
    let done = TwoFactor::update_many()
        .col_expr(two_factor::Column::EnabledAt, Expr::value(now))
        .col_expr(two_factor::Column::LastStep, Expr::value(step))
        .filter(two_factor::Column::UserId.eq(user_id))
        .filter(two_factor::Column::EnabledAt.is_null())
        .exec(db)
        .await?;
    Ok(done.rows_affected == 1)
}

/// Accepts a code of time step `step` once: `false` when a code of this step or a later one was
/// accepted already (a replay), or two-factor authentication is off.
pub async fn accept_step(db: &impl ConnectionTrait, user_id: Uuid, step: i64) -> Result<bool> {
    let done = TwoFactor::update_many()
        .col_expr(two_factor::Column::LastStep, Expr::value(step))
        .filter(two_factor::Column::UserId.eq(user_id))
        .filter(two_factor::Column::EnabledAt.is_not_null())
        .filter(step_is_new(step))
        .exec(db)
        .await?;
    Ok(done.rows_affected == 1)
}

/// Turns two-factor authentication off: the secret and every recovery code are deleted.
pub async fn disable(db: &impl ConnectionTrait, user_id: Uuid) -> Result<bool> {
    RecoveryCodes::delete_many().filter(recovery_code::Column::UserId.eq(user_id)).exec(db).await?;
    let done = TwoFactor::delete_many().filter(two_factor::Column::UserId.eq(user_id)).exec(db).await?;
    Ok(done.rows_affected == 1)
}

/// Replaces the account's recovery codes (hashed) with a new set: the old ones stop working.
pub async fn replace_recovery_codes(
    db: &impl ConnectionTrait,
    user_id: Uuid,
    hashes: &[String],
    now: Timestamp,
) -> Result<()> {
    RecoveryCodes::delete_many().filter(recovery_code::Column::UserId.eq(user_id)).exec(db).await?;
    let rows = hashes.iter().map(|hash| recovery_code::ActiveModel {
        id: Set(Uuid::new_v4()),
        user_id: Set(user_id),
        code_hash: Set(hash.clone()),
        created_at: Set(now),
        used_at: Set(None),
    });
    RecoveryCodes::insert_many(rows).exec(db).await?;
    Ok(())
}

/// Uses up a recovery code: `false` when the account has no such unused code.
pub async fn use_recovery_code(db: &impl ConnectionTrait, user_id: Uuid, hash: &str, now: Timestamp) -> Result<bool> {
    let done = RecoveryCodes::update_many()
        .col_expr(recovery_code::Column::UsedAt, Expr::value(now))
        .filter(recovery_code::Column::UserId.eq(user_id))
        .filter(recovery_code::Column::CodeHash.eq(hash))
        .filter(recovery_code::Column::UsedAt.is_null())
        .exec(db)
        .await?;
    Ok(done.rows_affected == 1)
}

/// How many unused recovery codes the account has.
pub async fn recovery_codes_left(db: &impl ConnectionTrait, user_id: Uuid) -> Result<u64> {
    Ok(RecoveryCodes::find()
        .filter(recovery_code::Column::UserId.eq(user_id))
        .filter(recovery_code::Column::UsedAt.is_null())
        .count(db)
        .await?)
}

/// Stores a sign-in challenge (its token hashed) for an account whose password was right.
pub async fn create_challenge(
    db: &impl ConnectionTrait,
    user_id: Uuid,
    token_hash: &str,
    expires_at: Timestamp,
    now: Timestamp,
) -> Result<Challenge> {
    Ok(login_challenge::ActiveModel {
        id: Set(Uuid::new_v4()),
        user_id: Set(user_id),
        token_hash: Set(token_hash.to_owned()),
        attempts: Set(0),
        created_at: Set(now),
        expires_at: Set(expires_at),
        ended_at: Set(None),
    }
    .insert(db)
    .await?)
}

/// The challenge of a token, if it is still usable: not ended, not expired.
pub async fn live_challenge(db: &impl ConnectionTrait, token_hash: &str, now: Timestamp) -> Result<Option<Challenge>> {
    Ok(Challenges::find()
        .filter(login_challenge::Column::TokenHash.eq(token_hash))
        .filter(login_challenge::Column::EndedAt.is_null())
        .filter(login_challenge::Column::ExpiresAt.gt(now))
        .one(db)
        .await?)
}

/// Counts one try of a code against the challenge: `false` when it has had `max` tries already
/// (or has ended), and the code must not even be checked.
pub async fn count_attempt(db: &impl ConnectionTrait, id: Uuid, max: i32) -> Result<bool> {
    let done = Challenges::update_many()
        .col_expr(login_challenge::Column::Attempts, Expr::col(login_challenge::Column::Attempts).add(1))
        .filter(login_challenge::Column::Id.eq(id))
        .filter(login_challenge::Column::EndedAt.is_null())
        .filter(login_challenge::Column::Attempts.lt(max))
        .exec(db)
        .await?;
    Ok(done.rows_affected == 1)
}

/// Ends a challenge: `true` for the one request that ends it.
pub async fn end_challenge(db: &impl ConnectionTrait, id: Uuid, now: Timestamp) -> Result<bool> {
    let done = Challenges::update_many()
        .col_expr(login_challenge::Column::EndedAt, Expr::value(now))
        .filter(login_challenge::Column::Id.eq(id))
        .filter(login_challenge::Column::EndedAt.is_null())
        .exec(db)
        .await?;
    Ok(done.rows_affected == 1)
}

/// Deletes up to `batch` challenges that expired before `before`.
pub async fn prune_challenges(db: &impl ConnectionTrait, before: Timestamp, batch: u64) -> Result<u64> {
    use sea_orm::QuerySelect as _;
    let old: Vec<Uuid> = Challenges::find()
        .select_only()
        .column(login_challenge::Column::Id)
        .filter(login_challenge::Column::ExpiresAt.lt(before))
        .limit(batch)
        .into_tuple()
        .all(db)
        .await?;
    let done = Challenges::delete_many().filter(login_challenge::Column::Id.is_in(old)).exec(db).await?;
    Ok(done.rows_affected)
}
