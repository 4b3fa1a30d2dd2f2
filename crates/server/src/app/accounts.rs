//! Account use cases: the signed-in user's profile, password and sessions, and the unit of work
//! of a change to one's own account ([`AccountTx`]): no team, activity entries of the account.

use chrono::{DateTime, Utc};
use portal_db::{DatabaseTransaction, TransactionTrait};
use portal_domain::identity::{Password, UserName};
use portal_types::{AuditAction, ErrorCode, SessionsEnded, User};
use uuid::Uuid;

use crate::error::{ApiError, ApiResult};
use crate::extract::{AuthUser, Client};
use crate::services::change::Change;
use crate::state::AppState;

pub fn to_wire(user: portal_db::users::User) -> User {
    User {
        id: user.id,
        email: user.email,
        name: user.name,
        email_verified: user.email_verified_at.is_some(),
        created_at: user.created_at,
    }
}

fn account_gone() -> ApiError {
    ApiError::unauthorized("The account of this access token no longer exists.")
}

/// The account of the access token.
pub async fn load(state: &AppState, auth: &AuthUser) -> ApiResult<portal_db::users::User> {
    portal_db::users::find(&state.reads, auth.user_id).await?.ok_or_else(account_gone)
}

/// The key of an account's budget of failed password checks (sign-in, password change).
pub fn account_key(email: &str) -> String {
    format!("account:{email}")
}

/// A password as presented to be checked: 1 to 128 characters (no stored password is longer),
/// so that nobody makes the server hash megabytes.
pub fn check_presented_password(field: &'static str, password: &str) -> ApiResult<()> {
    let max = portal_types::rules::PASSWORD_MAX_CHARS;
    if password.is_empty() {
        return Err(ApiError::validation(field, "is required"));
    }
    if password.chars().count() > max {
        return Err(ApiError::validation(field, format!("must be at most {max} characters")));
    }
    Ok(())
}

/// 422 `wrong_password` naming `field` unless `password` is the account's. A stolen access token
/// must not become a way to guess the password: failures spend the account's budget.
pub async fn confirm_password(
    state: &AppState,
    user: &portal_db::users::User,
    field: &'static str,
    password: String,
) -> ApiResult<()> {
    check_presented_password(field, &password)?;
    let slot = state.account_limiter.reserve(&state.db, &account_key(&user.email)).await?;
    if !state.hasher.verify(password, Some(user.password_hash.clone())).await? {
        slot.spent();
        return Err(ApiError::new(ErrorCode::WrongPassword, "The password is wrong.").with_field(field));
    }
    slot.release(&state.db).await
}

/// One change to the caller's own account, in one transaction: optionally holding the account's
/// session lock (a refresh racing it waits, then sees the change), recording activity entries of
/// the account, and announcing the cache changes to every instance as it commits.
pub struct AccountTx<'r> {
    pub state: &'r AppState,
    txn: DatabaseTransaction,
    pub user_id: Uuid,
    pub now: DateTime<Utc>,
    changes: Vec<Change>,
}

impl<'r> AccountTx<'r> {
    pub async fn begin(state: &'r AppState, user_id: Uuid, lock_sessions: bool) -> ApiResult<Self> {
        let txn = state.db.begin().await?;
        if lock_sessions {
            portal_db::users::lock_for_sessions(&txn, user_id).await?;
        }
        Ok(Self { state, txn, user_id, now: Utc::now(), changes: Vec::new() })
    }

    pub fn db(&self) -> &DatabaseTransaction {
        &self.txn
    }

    /// Records an activity entry of the account (no team) from `client`: about its sessions
    /// (`target_type` `session`) or the account itself (`user`).
    pub async fn record(
        &mut self,
        client: &Client,
        action: AuditAction,
        (target_type, target_id, summary): (&str, Option<String>, Option<String>),
    ) -> ApiResult<()> {
        let changes = record_for_account(&self.txn, (self.user_id, client), action, (target_type, target_id, summary));
        self.changes.extend(changes.await?);
        Ok(())
    }

    pub fn announce(&mut self, change: Change) {
        if !self.changes.contains(&change) {
            self.changes.push(change);
        }
    }

    pub async fn commit(self) -> ApiResult<()> {
        self.state.invalidation.commit(self.txn, &self.changes).await
    }

    /// Undoes the change at once (before, say, recording a failure in a transaction of its own).
    pub async fn rollback(self) -> ApiResult<()> {
        Ok(self.txn.rollback().await?)
    }
}

/// An activity entry of the user's own account (no team), from `client`.
pub async fn record_for_account(
    db: &impl portal_db::ConnectionTrait,
    (user_id, client): (Uuid, &Client),
    action: AuditAction,
    (target_type, target_id, summary): (&str, Option<String>, Option<String>),
) -> ApiResult<Vec<Change>> {
    let actor = portal_db::audit::AuditActor { kind: "user", id: user_id, name: None };
    let entry = portal_db::audit::NewEntry {
        team_id: None,
        actor: Some(&actor),
        action,
        target_type,
        target_id,
        summary,
        ip: Some(&client.ip),
        user_agent: client.user_agent.as_deref(),
    };
    let touched = portal_db::audit::record(db, entry, Utc::now()).await?;
    Ok(Change::reads(&touched).collect())
}

/// Renames the account; the name shows in the member list of every team of theirs.
pub async fn rename(state: &AppState, auth: &AuthUser, name: UserName) -> ApiResult<User> {
    let mut tx = AccountTx::begin(state, auth.user_id, false).await?;
    let user =
        portal_db::users::set_name(tx.db(), auth.user_id, name.as_str(), tx.now).await?.ok_or_else(account_gone)?;
    for team in portal_db::teams::team_ids_of(tx.db(), user.id).await? {
        tx.announce(Change::Reads(team));
    }
    tx.commit().await?;
    Ok(to_wire(user))
}

/// Changes the password with the current one; the account's other sessions end.
pub async fn change_password(state: &AppState, auth: &AuthUser, current: String, new: Password) -> ApiResult<()> {
    let user = load(state, auth).await?;
    confirm_password(state, &user, "current_password", current).await?;
    let hash = state.hasher.hash(new.expose().to_owned()).await?;
    let mut tx = AccountTx::begin(state, user.id, false).await?;
    portal_db::users::set_password_hash(tx.db(), user.id, &hash, tx.now).await?;
    for ended in portal_db::sessions::end_all(tx.db(), user.id, Some(auth.session_id), tx.now).await? {
        tx.announce(Change::Session(ended));
    }
    tx.commit().await
}

/// Ends one of the account's sessions: its access tokens are refused on every instance.
pub async fn end_session(state: &AppState, auth: &AuthUser, client: &Client, id: Uuid) -> ApiResult<()> {
    let mut tx = AccountTx::begin(state, auth.user_id, true).await?;
    if !portal_db::sessions::end(tx.db(), auth.user_id, id, tx.now).await? {
        return Err(ApiError::new(ErrorCode::SessionNotFound, "No such session of yours is in use."));
    }
    tx.record(client, AuditAction::SessionEnded, ("session", Some(id.to_string()), None)).await?;
    tx.announce(Change::Session(id));
    tx.commit().await
}

/// Ends every session of the account but the current one.
pub async fn end_other_sessions(state: &AppState, auth: &AuthUser, client: &Client) -> ApiResult<SessionsEnded> {
    let mut tx = AccountTx::begin(state, auth.user_id, true).await?;
    let ended = portal_db::sessions::end_all(tx.db(), auth.user_id, Some(auth.session_id), tx.now).await?;
    let count = ended.len() as u64;
    for id in ended {
        tx.announce(Change::Session(id));
    }
    if count > 0 {
        let summary = Some(format!("{count} session{}", if count == 1 { "" } else { "s" }));
        tx.record(client, AuditAction::OtherSessionsEnded, ("session", None, summary)).await?;
    }
    tx.commit().await?;
    Ok(SessionsEnded { ended: count })
}
