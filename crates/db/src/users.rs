//! Accounts.

use sea_orm::{ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, Set};
use uuid::Uuid;

use crate::entity::user::{self, Entity as Users};
use crate::{Error, Result, Timestamp};

pub use user::Model as User;

/// Inserts an account; `Err(Conflict)` when the e-mail is taken.
pub async fn create(
    db: &impl ConnectionTrait,
    email: &str,
    name: &str,
    password_hash: &str,
    now: Timestamp,
) -> Result<User> {
    user::ActiveModel {
        id: Set(Uuid::new_v4()),
        email: Set(email.to_owned()),
        name: Set(name.to_owned()),
        password_hash: Set(password_hash.to_owned()),
        email_verified_at: Set(None),
        created_at: Set(now),
        updated_at: Set(now),
    }
    .insert(db)
    .await
    .map_err(Error::from_insert)
}

pub async fn find_by_email(db: &impl ConnectionTrait, email: &str) -> Result<Option<User>> {
    Ok(Users::find().filter(user::Column::Email.eq(email)).one(db).await?)
}

pub async fn find(db: &impl ConnectionTrait, id: Uuid) -> Result<Option<User>> {
    Ok(Users::find_by_id(id).one(db).await?)
}

/// Locks the account's row until the transaction ends (PostgreSQL; SQLite runs one transaction
/// at a time anyway). Everything that starts or ends sessions takes this lock first (a password
/// change or reset takes it by updating the row), so a refresh racing a sign-out or a reset
/// either sees the revocation or is seen by it: it can never leave a live session behind.
pub async fn lock_for_sessions(db: &impl ConnectionTrait, id: Uuid) -> Result<()> {
    use sea_orm::{DbBackend, QuerySelect as _};
    if db.get_database_backend() == DbBackend::Postgres {
        Users::find_by_id(id)
            .select_only()
            .column(user::Column::Id)
            .lock_exclusive()
            .into_tuple::<Uuid>()
            .one(db)
            .await?;
    }
    Ok(())
}

/// Marks the address verified (once: a later verification keeps the first time).
pub async fn mark_verified(db: &impl ConnectionTrait, id: Uuid, now: Timestamp) -> Result<()> {
    Users::update_many()
        .col_expr(user::Column::EmailVerifiedAt, sea_orm::sea_query::Expr::value(now))
        .col_expr(user::Column::UpdatedAt, sea_orm::sea_query::Expr::value(now))
        .filter(user::Column::Id.eq(id))
        .filter(user::Column::EmailVerifiedAt.is_null())
        .exec(db)
        .await?;
    Ok(())
}

pub async fn set_name(db: &impl ConnectionTrait, id: Uuid, name: &str, now: Timestamp) -> Result<Option<User>> {
    let Some(found) = find(db, id).await? else { return Ok(None) };
    let mut active: user::ActiveModel = found.into();
    active.name = Set(name.to_owned());
    active.updated_at = Set(now);
    Ok(Some(active.update(db).await?))
}

pub async fn set_password_hash(db: &impl ConnectionTrait, id: Uuid, hash: &str, now: Timestamp) -> Result<()> {
    Users::update_many()
        .col_expr(user::Column::PasswordHash, sea_orm::sea_query::Expr::value(hash))
        .col_expr(user::Column::UpdatedAt, sea_orm::sea_query::Expr::value(now))
        .filter(user::Column::Id.eq(id))
        .exec(db)
        .await?;
    Ok(())
}
