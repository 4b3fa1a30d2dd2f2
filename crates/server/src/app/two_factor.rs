//! Two-factor authentication of the signed-in user: set-up with a QR code, confirmation,
//! recovery codes, turning it off; and the check of a code, shared with the sign-in.

use chrono::{DateTime, Utc};
use portal_db::{ConnectionTrait, DatabaseTransaction, TransactionTrait};
use portal_domain::two_factor as totp;
use portal_types::{AuditAction, ErrorCode, RecoveryCodes, TwoFactorSetup};
use uuid::Uuid;

use super::accounts::{AccountTx, confirm_password, load};
use crate::error::{ApiError, ApiResult};
use crate::extract::{AuthUser, Client};
use crate::mail::Template;
use crate::services::change::Change;
use crate::state::AppState;

/// The name authenticator apps show for the account.
const ISSUER: &str = "Partner Portal";

/// How a second factor was proven.
pub enum Factor {
    /// A code of the authenticator app.
    App,
    /// A recovery code, with how many are left.
    Recovery { left: u64 },
}

impl Factor {
    pub fn describe(&self) -> String {
        match self {
            Factor::App => "with an authenticator code".to_owned(),
            Factor::Recovery { left } => format!("with a recovery code ({left} left)"),
        }
    }
}

pub fn invalid_code(detail: impl Into<String>) -> ApiError {
    ApiError::new(ErrorCode::InvalidTwoFactorCode, detail).with_field("code")
}

fn disabled(detail: &str) -> ApiError {
    ApiError::new(ErrorCode::TwoFactorDisabled, detail)
}

/// The key of an account's budget of wrong two-factor codes (shared with wrong passwords'
/// budget size: `--signin-failures-per-account` per 15 minutes).
pub fn code_budget(user_id: Uuid) -> String {
    format!("two-factor:{user_id}")
}

fn unix_seconds(now: DateTime<Utc>) -> u64 {
    u64::try_from(now.timestamp()).unwrap_or(0)
}

/// Checks a second factor of `user_id` in `txn`, using it up: an app code is accepted once (its
/// time step, and every earlier one, is then refused), a recovery code works once. The caller
/// holds the account's session lock, and commits only if it goes on to succeed.
pub async fn verify(
    state: &AppState,
    txn: &DatabaseTransaction,
    user_id: Uuid,
    raw: &str,
    now: DateTime<Utc>,
) -> ApiResult<Factor> {
    let enrolment = portal_db::two_factor::find(txn, user_id)
        .await?
        .filter(|e| e.enabled_at.is_some())
        .ok_or_else(|| disabled("Two-factor authentication is off for this account."))?;
    if totp::parse_code(raw).is_some() {
        let secret = open_secret(state, user_id, &enrolment.secret)?;
        let step = totp::check_code(&secret, raw, unix_seconds(now))
            .ok_or_else(|| invalid_code("The code is wrong or not of this time: check the device's clock."))?;
        let step = i64::try_from(step).map_err(ApiError::internal)?;
        if !portal_db::two_factor::accept_step(txn, user_id, step).await? {
            return Err(invalid_code("This code was used already: wait for the next one."));
        }
        return Ok(Factor::App);
    }
    let Some(code) = totp::parse_recovery_code(raw) else {
        return Err(invalid_code("Enter the 6-digit code of your authenticator app, or a recovery code."));
    };
    if !portal_db::two_factor::use_recovery_code(txn, user_id, &state.two_factor.recovery_hash(&code), now).await? {
        return Err(invalid_code("This recovery code is wrong or was used already."));
    }
    let left = portal_db::two_factor::recovery_codes_left(txn, user_id).await?;
    Ok(Factor::Recovery { left })
}

fn open_secret(state: &AppState, user_id: Uuid, sealed: &str) -> ApiResult<Vec<u8>> {
    state
        .two_factor
        .open(user_id.as_bytes(), sealed)
        .ok_or_else(|| ApiError::internal(format!("the TOTP secret of {user_id} does not open with this server's key")))
}

/// An audit entry of the account itself (no team), from `client`.
pub async fn record(
    db: &impl ConnectionTrait,
    (user_id, client): (Uuid, &Client),
    action: portal_types::AuditAction,
    summary: Option<String>,
) -> ApiResult<Vec<Change>> {
    super::accounts::record_for_account(db, (user_id, client), action, ("user", Some(user_id.to_string()), summary))
        .await
}

/// Records a failed code in a transaction of its own: the failure stays on record although
/// the request's own work is rolled back.
pub async fn record_failure(state: &AppState, user_id: Uuid, client: &Client, what: &str) -> ApiResult<()> {
    let txn = state.db.begin().await?;
    let changes =
        record(&txn, (user_id, client), portal_types::AuditAction::TwoFactorFailed, Some(what.to_owned())).await?;
    state.invalidation.commit(txn, &changes).await?;
    Ok(())
}

/// Every open session of the account: their access tokens carry its two-factor state, which
/// teams that require it check.
/// What turning the second factor on or off makes stale: the account's sessions, and (for the
/// keys the account answers for, which a team requiring it refuses without it) its teams.
async fn sessions_of(txn: &DatabaseTransaction, user_id: Uuid) -> ApiResult<Vec<Change>> {
    let mut changes: Vec<Change> =
        portal_db::sessions::open_ids(txn, user_id).await?.into_iter().map(Change::Session).collect();
    changes.extend(portal_db::teams::team_ids_of(txn, user_id).await?.into_iter().map(Change::Team));
    Ok(changes)
}

/// Mails the account about a change of its second factor.
pub async fn notify(
    state: &AppState,
    txn: &DatabaseTransaction,
    user: &portal_db::users::User,
    (subject, paragraph): (&str, &str),
    now: DateTime<Utc>,
) -> ApiResult<()> {
    let link = format!("{}/account", state.config.public_url);
    let greeting = format!("Hi {},", user.name);
    let mail = Template {
        to: &user.email,
        subject,
        greeting: &greeting,
        paragraphs: &[paragraph],
        action: "Review your account",
        link: &link,
        footer: "If this was not you, reset your password at once and review your sessions.",
    };
    portal_db::mail::enqueue(txn, mail.render(), now).await?;
    Ok(())
}

/// A new set of recovery codes for the account, stored hashed; the old set is void.
async fn replace_recovery_codes(
    state: &AppState,
    txn: &DatabaseTransaction,
    user_id: Uuid,
    now: DateTime<Utc>,
) -> ApiResult<Vec<String>> {
    let codes = totp::new_recovery_codes();
    let hashes: Vec<String> =
        codes.iter().filter_map(|c| totp::parse_recovery_code(c)).map(|c| state.two_factor.recovery_hash(&c)).collect();
    portal_db::two_factor::replace_recovery_codes(txn, user_id, &hashes, now).await?;
    Ok(codes)
}

/// Starts turning it on: a new secret for the authenticator app (replacing one not confirmed).
pub async fn set_up(state: &AppState, auth: &AuthUser, password: String) -> ApiResult<TwoFactorSetup> {
    let user = load(state, auth).await?;
    confirm_password(state, &user, "password", password).await?;
    let secret = totp::new_secret();
    let tx = AccountTx::begin(state, user.id, true).await?;
    if portal_db::two_factor::enabled(tx.db(), user.id).await? {
        return Err(ApiError::new(ErrorCode::TwoFactorEnabled, "Two-factor authentication is on already."));
    }
    portal_db::two_factor::begin(tx.db(), user.id, state.two_factor.seal(user.id.as_bytes(), &secret), tx.now).await?;
    tx.commit().await?;
    let otpauth_uri = totp::otpauth_uri(&secret, ISSUER, &user.email);
    let qr_svg = totp::qr_svg(&otpauth_uri).ok_or_else(|| ApiError::internal("the otpauth URI fits no QR code"))?;
    Ok(TwoFactorSetup { secret: totp::secret_base32(&secret), otpauth_uri, qr_svg })
}

/// Turns it on with a current code of the app; the answer holds the recovery codes, once.
pub async fn enable(state: &AppState, auth: &AuthUser, client: &Client, code: &str) -> ApiResult<RecoveryCodes> {
    let user = load(state, auth).await?;
    // A slot of the account's budget of wrong codes, taken before the check, given back once the
    // code was right.
    let slot = state.account_limiter.reserve(&state.db, &code_budget(user.id)).await?;
    let mut tx = AccountTx::begin(state, user.id, true).await?;
    let enrolment = match portal_db::two_factor::find(tx.db(), user.id).await? {
        Some(e) if e.enabled_at.is_some() => {
            return Err(ApiError::new(ErrorCode::TwoFactorEnabled, "Two-factor authentication is on already."));
        }
        Some(e) => e,
        None => return Err(disabled("Start the set-up first: it gives the secret for your app.")),
    };
    let secret = open_secret(state, user.id, &enrolment.secret)?;
    let Some(step) = totp::check_code(&secret, code, unix_seconds(tx.now)) else {
        slot.spent();
        return Err(invalid_code("The code is wrong: check that the app shows this account, and the device's clock."));
    };
    let step = i64::try_from(step).map_err(ApiError::internal)?;
    if !portal_db::two_factor::enable(tx.db(), user.id, step, tx.now).await? {
        return Err(ApiError::new(ErrorCode::TwoFactorEnabled, "Two-factor authentication is on already."));
    }
    let codes = replace_recovery_codes(state, tx.db(), user.id, tx.now).await?;
    tx.record(client, AuditAction::TwoFactorEnabled, ("user", Some(user.id.to_string()), None)).await?;
    for change in sessions_of(tx.db(), user.id).await? {
        tx.announce(change);
    }
    let paragraph = "Two-factor authentication is now on for your Partner Portal account: signing in asks for a \
                     code of your authenticator app after the password.";
    notify(state, tx.db(), &user, ("Two-factor authentication is on", paragraph), tx.now).await?;
    tx.commit().await?;
    slot.release(&state.db).await?;
    state.mail_wake.notify_one();
    Ok(RecoveryCodes { codes })
}

/// Turns it off with the password and a code; refused while a team of the user requires it.
pub async fn disable(
    state: &AppState,
    auth: &AuthUser,
    client: &Client,
    password: String,
    code: &str,
) -> ApiResult<()> {
    let user = load(state, auth).await?;
    confirm_password(state, &user, "password", password).await?;
    let slot = state.account_limiter.reserve(&state.db, &code_budget(user.id)).await?;
    let mut tx = AccountTx::begin(state, user.id, true).await?;
    let requiring = portal_db::teams::requiring_two_factor(tx.db(), user.id).await?;
    if !requiring.is_empty() {
        return Err(ApiError::new(
            ErrorCode::TwoFactorRequired,
            format!(
                "Your team {} requires two-factor authentication: it stays on while you are a member.",
                requiring.join(", ")
            ),
        ));
    }
    if let Err(e) = verify(state, tx.db(), user.id, code, tx.now).await {
        tx.rollback().await?;
        if e.code == ErrorCode::InvalidTwoFactorCode {
            record_failure(state, user.id, client, "turning two-factor authentication off").await?;
        }
        return Err(e);
    }
    portal_db::two_factor::disable(tx.db(), user.id).await?;
    tx.record(client, AuditAction::TwoFactorDisabled, ("user", Some(user.id.to_string()), None)).await?;
    for change in sessions_of(tx.db(), user.id).await? {
        tx.announce(change);
    }
    let paragraph = "Two-factor authentication is now off for your Partner Portal account: signing in asks for \
                     the password only.";
    notify(state, tx.db(), &user, ("Two-factor authentication is off", paragraph), tx.now).await?;
    tx.commit().await?;
    slot.release(&state.db).await?;
    state.mail_wake.notify_one();
    Ok(())
}

/// Replaces the recovery codes with new ones, shown once; the old ones stop working.
pub async fn regenerate(
    state: &AppState,
    auth: &AuthUser,
    client: &Client,
    password: String,
) -> ApiResult<RecoveryCodes> {
    let user = load(state, auth).await?;
    confirm_password(state, &user, "password", password).await?;
    let mut tx = AccountTx::begin(state, user.id, true).await?;
    if !portal_db::two_factor::enabled(tx.db(), user.id).await? {
        return Err(disabled("Two-factor authentication is off: there are no recovery codes to replace."));
    }
    let codes = replace_recovery_codes(state, tx.db(), user.id, tx.now).await?;
    tx.record(client, AuditAction::RecoveryCodesRegenerated, ("user", Some(user.id.to_string()), None)).await?;
    tx.commit().await?;
    Ok(RecoveryCodes { codes })
}
