//! Sign-up, e-mail verification, sign-in (with a second factor), session refresh, sign-out and
//! forgotten passwords. What the answers carry (the refresh cookie among them) is the handlers'.

use chrono::{DateTime, Duration, Utc};
use portal_db::sessions;
use portal_db::tokens::{self, Purpose};
use portal_db::{DatabaseTransaction, TransactionTrait};
use portal_domain::identity::{Email, Password, UserName};
use portal_domain::token;
use portal_types::{AuditAction, ErrorCode, Session, TwoFactorChallenge};
use uuid::Uuid;

use super::accounts::account_key;
use super::two_factor::{self, Factor};
use crate::error::{ApiError, ApiResult};
use crate::extract::Client;
use crate::mail::Template;
use crate::security::ACCESS_TOKEN_SECONDS;
use crate::services::change::Change;
use crate::state::AppState;

/// How long a refresh token (and the session, unused) lasts.
pub const REFRESH_TTL_DAYS: i64 = 30;
const VERIFY_TTL_HOURS: i64 = 24;
const RESET_TTL_MINUTES: i64 = 60;
/// Seconds a sign-in challenge lasts.
const CHALLENGE_SECONDS: i64 = 300;
/// Codes a sign-in challenge takes before it is void.
const CHALLENGE_ATTEMPTS: i32 = 5;

fn invalid_token() -> ApiError {
    ApiError::new(ErrorCode::InvalidToken, "This link is invalid, expired or already used.").with_field("token")
}

/// Queues a mail in the caller's transaction.
async fn queue(txn: &DatabaseTransaction, mail: Template<'_>, now: DateTime<Utc>) -> ApiResult<()> {
    portal_db::mail::enqueue(txn, mail.render(), now).await?;
    Ok(())
}

async fn queue_verification(
    state: &AppState,
    txn: &DatabaseTransaction,
    user: &portal_db::users::User,
    now: DateTime<Utc>,
) -> ApiResult<()> {
    let secret = token::generate();
    let expires = now + Duration::hours(VERIFY_TTL_HOURS);
    tokens::insert(txn, user.id, Purpose::VerifyEmail, &token::hash(&secret), expires, now).await?;
    let link = format!("{}/verify-email?token={secret}", state.config.public_url);
    let greeting = format!("Hi {},", user.name);
    let mail = Template {
        to: &user.email,
        subject: "Verify your e-mail address",
        greeting: &greeting,
        paragraphs: &["Welcome to Partner Portal. Please confirm that this is your e-mail address."],
        action: "Verify e-mail address",
        link: &link,
        footer: "The link works once and expires in 24 hours. If you did not sign up, ignore this mail.",
    };
    queue(txn, mail, now).await
}

/// A sign-up as asked: the values parsed.
pub struct SignUp {
    pub email: Email,
    pub name: UserName,
    pub password: Password,
    pub invitation_token: Option<String>,
}

/// Creates the account and mails a verification link (none for an invited address: the mailed
/// invitation proved it). An address with an account already gets a mail saying so, and the
/// answer is the same. Returns what to tell the caller.
pub async fn sign_up(state: &AppState, request: SignUp) -> ApiResult<&'static str> {
    let SignUp { email, name, password, invitation_token } = request;
    let now = Utc::now();
    let invited = match invitation_token.as_deref() {
        None => false,
        Some(secret) => {
            let inv = crate::reads::invitations::by_token(&state.db, secret).await.map_err(|_| {
                ApiError::new(ErrorCode::InvitationNotFound, "No invitation has this token.")
                    .with_field("invitation_token")
            })?;
            super::invitations::acceptable(&inv, email.as_str(), now)
                .map_err(|e| ApiError::validation("invitation_token", e.detail.unwrap_or_default()))?;
            true
        }
    };
    let hash = state.hasher.hash(password.expose().to_owned()).await?;
    let txn = state.db.begin().await?;
    match portal_db::users::create(&txn, email.as_str(), name.as_str(), &hash, now).await {
        Ok(user) if invited => {
            portal_db::users::mark_verified(&txn, user.id, now).await?;
            txn.commit().await?;
            return Ok("Your account is ready: sign in to accept the invitation.");
        }
        Ok(user) => {
            queue_verification(state, &txn, &user, now).await?;
            txn.commit().await?;
        }
        Err(portal_db::Error::Conflict) => {
            txn.rollback().await?;
            let txn = state.db.begin().await?;
            let link = format!("{}/sign-in", state.config.public_url);
            let reset = format!("{}/forgot-password", state.config.public_url);
            let paragraph = format!(
                "Someone tried to sign up for Partner Portal with this address, which already has an account. \
                 If it was you, sign in instead; if you forgot your password, reset it at {reset}."
            );
            let mail = Template {
                to: email.as_str(),
                subject: "You already have an account",
                greeting: "Hi,",
                paragraphs: &[&paragraph],
                action: "Sign in",
                link: &link,
                footer: "If this was not you, you can ignore this mail: nothing changed.",
            };
            queue(&txn, mail, now).await?;
            txn.commit().await?;
        }
        Err(e) => return Err(e.into()),
    }
    state.mail_wake.notify_one();
    Ok("Check your mailbox: we sent a link to verify your e-mail address.")
}

/// Verifies an address with the mailed token.
pub async fn verify_email(state: &AppState, secret: &str) -> ApiResult<()> {
    if !token::looks_valid(secret) {
        return Err(invalid_token());
    }
    let now = Utc::now();
    let txn = state.db.begin().await?;
    let user_id =
        tokens::consume(&txn, Purpose::VerifyEmail, &token::hash(secret), now).await?.ok_or_else(invalid_token)?;
    portal_db::users::mark_verified(&txn, user_id, now).await?;
    txn.commit().await?;
    Ok(())
}

/// Mails a new verification link, if the address has an unverified account.
pub async fn resend_verification(state: &AppState, email: Email) -> ApiResult<()> {
    let now = Utc::now();
    let txn = state.db.begin().await?;
    if let Some(user) = portal_db::users::find_by_email(&txn, email.as_str()).await?
        && user.email_verified_at.is_none()
    {
        queue_verification(state, &txn, &user, now).await?;
    }
    txn.commit().await?;
    state.mail_wake.notify_one();
    Ok(())
}

/// A session started or refreshed: the answer, and the refresh token for the cookie.
pub struct Started {
    pub session: Session,
    pub refresh_token: String,
}

/// What the password step gives.
pub enum SignIn {
    Started(Started),
    /// The account has two-factor authentication: a code must follow.
    Challenge(TwoFactorChallenge),
}

/// How a session goes on: a sign-in starts it (at a team's identity provider, or with a
/// password), a refresh uses it again.
enum Step {
    SignIn(Option<sessions::StartedAt>),
    Refresh,
}

/// Stores a new refresh token in `family` (the session), records the session's use by `client`,
/// commits with `changes`, and gives the access token and the refresh token.
async fn start_session(
    state: &AppState,
    txn: DatabaseTransaction,
    changes: &[Change],
    (user, client): (portal_db::users::User, &Client),
    (family, step): (Uuid, Step),
    now: DateTime<Utc>,
) -> ApiResult<Started> {
    let refresh_token = token::generate();
    let expires = now + Duration::days(REFRESH_TTL_DAYS);
    let seen = sessions::Seen { ip: &client.ip, user_agent: client.user_agent.as_deref() };
    match step {
        Step::SignIn(sso) => sessions::start(&txn, (family, user.id), seen, sso, expires, now).await?,
        Step::Refresh => sessions::touch(&txn, family, seen, expires, now).await?,
    }
    sessions::insert(&txn, family, user.id, &token::hash(&refresh_token), expires, now).await?;
    let access_token = state.tokens.issue(user.id, family, now)?;
    state.invalidation.commit(txn, changes).await?;
    let session = Session {
        access_token,
        token_type: "Bearer".into(),
        expires_in: ACCESS_TOKEN_SECONDS as u64,
        user: super::accounts::to_wire(user),
    };
    Ok(Started { session, refresh_token })
}

/// Starts a session at a team's identity provider (the account is known, the token checked).
pub async fn start_sso_session(
    state: &AppState,
    txn: DatabaseTransaction,
    changes: &[Change],
    (user, client): (portal_db::users::User, &Client),
    sso: sessions::StartedAt,
    now: DateTime<Utc>,
) -> ApiResult<Started> {
    let mut changes = changes.to_vec();
    changes.extend(record_sign_in(&txn, &user, client, None, now).await?);
    tracing::info!(user_id = %user.id, ip = %client.ip, connection = %sso.connection_id, "signed in with single sign-on");
    start_session(state, txn, &changes, (user, client), (Uuid::new_v4(), Step::SignIn(Some(sso))), now).await
}

/// How a password sign-in (its password and any second factor proven) starts: linking the
/// account to an identity provider first if it came with an SSO link, else as a password
/// session (recorded as break-glass in the teams it owns that require SSO).
async fn password_session(
    state: &AppState,
    txn: DatabaseTransaction,
    mut changes: Vec<Change>,
    (user, client): (portal_db::users::User, &Client),
    sso_link: Option<(&str, Option<&str>)>,
    now: DateTime<Utc>,
) -> ApiResult<Started> {
    let sso = match sso_link {
        Some(link) => {
            let (sso, linked) = super::sso_sign_in::complete_link(&txn, link, &user, client, now).await?;
            changes.extend(linked);
            Some(sso)
        }
        None => {
            changes.extend(super::sso_sign_in::record_break_glass(&txn, &user, client, now).await?);
            None
        }
    };
    start_session(state, txn, &changes, (user, client), (Uuid::new_v4(), Step::SignIn(sso)), now).await
}

/// The password step. A wrong address and a wrong password get the same answer in the same
/// time; a slot of the account's budget of failures is taken before the check and given back if
/// it is right, so concurrent guesses cannot outrun the count. `sso_link` links the account to
/// the identity provider of the single sign-on that found it (after the second factor, if any).
pub async fn sign_in(
    state: &AppState,
    client: &Client,
    (email, password): (Email, String),
    sso_link: Option<(&str, Option<&str>)>,
) -> ApiResult<SignIn> {
    let slot = state.account_limiter.reserve(&state.db, &account_key(email.as_str())).await?;
    let user = portal_db::users::find_by_email(&state.db, email.as_str()).await?;
    let hash = user.as_ref().map(|u| u.password_hash.clone());
    if !state.hasher.verify(password, hash).await? {
        slot.spent();
        tracing::info!(ip = %client.ip, "sign-in refused");
        return Err(ApiError::new(ErrorCode::InvalidCredentials, "Wrong e-mail address or password."));
    }
    slot.release(&state.db).await?;
    let Some(user) = user else { return Err(ApiError::internal("verified a password without an account")) };
    if user.email_verified_at.is_none() {
        return Err(ApiError::new(
            ErrorCode::EmailNotVerified,
            "Verify your e-mail address first: open the link we mailed you, or ask for a new one.",
        ));
    }
    let now = Utc::now();
    if portal_db::two_factor::enabled(&state.db, user.id).await? {
        return Ok(SignIn::Challenge(challenge(state, &user, client, now).await?));
    }
    tracing::info!(user_id = %user.id, ip = %client.ip, "signed in");
    let txn = state.db.begin().await?;
    let changes = record_sign_in(&txn, &user, client, None, now).await?;
    Ok(SignIn::Started(password_session(state, txn, changes, (user, client), sso_link, now).await?))
}

/// Records a sign-in. It shows in the activity of every team of theirs, as their last activity.
async fn record_sign_in(
    txn: &DatabaseTransaction,
    user: &portal_db::users::User,
    client: &Client,
    summary: Option<String>,
    now: DateTime<Utc>,
) -> ApiResult<Vec<Change>> {
    let actor = portal_db::audit::AuditActor { kind: "user", id: user.id, name: Some(user.name.clone()) };
    let entry = portal_db::audit::NewEntry {
        team_id: None,
        actor: Some(&actor),
        action: AuditAction::SignedIn,
        target_type: "user",
        target_id: Some(user.id.to_string()),
        summary,
        ip: Some(&client.ip),
        user_agent: client.user_agent.as_deref(),
    };
    let touched = portal_db::audit::record(txn, entry, now).await?;
    Ok(Change::reads(&touched).collect())
}

/// The password step of an account with two-factor authentication: a challenge instead of a
/// session.
async fn challenge(
    state: &AppState,
    user: &portal_db::users::User,
    client: &Client,
    now: DateTime<Utc>,
) -> ApiResult<TwoFactorChallenge> {
    let secret = token::generate();
    let expires = now + Duration::seconds(CHALLENGE_SECONDS);
    let txn = state.db.begin().await?;
    portal_db::two_factor::create_challenge(&txn, user.id, &token::hash(&secret), expires, now).await?;
    let changes = two_factor::record(&txn, (user.id, client), AuditAction::TwoFactorChallenged, None).await?;
    state.invalidation.commit(txn, &changes).await?;
    tracing::info!(user_id = %user.id, ip = %client.ip, "password accepted; two-factor code asked");
    Ok(TwoFactorChallenge { challenge: secret, expires_in: CHALLENGE_SECONDS as u64 })
}

fn challenge_refused() -> ApiError {
    ApiError::new(
        ErrorCode::InvalidChallenge,
        "This sign-in has expired or was used up: sign in with your password again.",
    )
    .with_field("challenge")
}

/// The code step: the challenge of the password step and a code of the app, or a recovery code
/// (which mails the user). A challenge works once, for 5 minutes and at most 5 codes; wrong codes
/// also spend the account's budget, whatever challenge they come with.
pub async fn sign_in_with_code(
    state: &AppState,
    client: &Client,
    (challenge, code): (&str, &str),
    sso_link: Option<(&str, Option<&str>)>,
) -> ApiResult<Started> {
    if !token::looks_valid(challenge) {
        return Err(challenge_refused());
    }
    let now = Utc::now();
    let found = portal_db::two_factor::live_challenge(&state.db, &token::hash(challenge), now)
        .await?
        .ok_or_else(challenge_refused)?;
    // The account's budget of wrong codes: a slot taken before the check (outside the
    // transaction, which a wrong code rolls back), given back once the code was right.
    let slot = state.account_limiter.reserve(&state.db, &two_factor::code_budget(found.user_id)).await?;
    // Counted on its own, before the check: a failed check rolls back, the count stays.
    if !portal_db::two_factor::count_attempt(&state.db, found.id, CHALLENGE_ATTEMPTS).await? {
        return Err(challenge_refused());
    }
    let txn = state.db.begin().await?;
    portal_db::users::lock_for_sessions(&txn, found.user_id).await?;
    let factor = match two_factor::verify(state, &txn, found.user_id, code, now).await {
        Ok(factor) => factor,
        // Turned off since the password step: that challenge is void, the password step comes again.
        Err(e) if e.code == ErrorCode::TwoFactorDisabled => return Err(challenge_refused()),
        Err(mut e) => {
            txn.rollback().await?;
            if e.code == ErrorCode::InvalidTwoFactorCode {
                two_factor::record_failure(state, found.user_id, client, "signing in").await?;
                let left = CHALLENGE_ATTEMPTS - found.attempts - 1;
                let detail = e.detail.take().unwrap_or_default();
                e.detail = Some(match left {
                    0 => format!("{detail} No tries are left: sign in with your password again."),
                    1 => format!("{detail} 1 try is left."),
                    n => format!("{detail} {n} tries are left."),
                });
            }
            return Err(e);
        }
    };
    // Two requests with the same challenge: only one starts a session.
    if !portal_db::two_factor::end_challenge(&txn, found.id, now).await? {
        return Err(challenge_refused());
    }
    let Some(user) = portal_db::users::find(&txn, found.user_id).await? else { return Err(challenge_refused()) };
    let mut changes = record_sign_in(&txn, &user, client, Some(factor.describe()), now).await?;
    let recovered = matches!(factor, Factor::Recovery { .. });
    if let Factor::Recovery { left } = factor {
        let summary = Some(format!("{left} left"));
        changes.extend(two_factor::record(&txn, (user.id, client), AuditAction::RecoveryCodeUsed, summary).await?);
        let paragraph = format!(
            "Someone signed in to your Partner Portal account with one of your recovery codes, from {}. \
             {left} unused recovery codes are left; you can make a new set on your account page.",
            client.ip
        );
        two_factor::notify(state, &txn, &user, ("A recovery code was used to sign in", &paragraph), now).await?;
    }
    tracing::info!(user_id = %user.id, ip = %client.ip, "signed in with a second factor");
    let started = password_session(state, txn, changes, (user, client), sso_link, now).await?;
    slot.release(&state.db).await?;
    if recovered {
        // Committed now: the mail worker finds the mail.
        state.mail_wake.notify_one();
    }
    Ok(started)
}

/// Exchanges a refresh token for a new access token (None: refused, the cookie goes). The
/// refresh token rotates: presenting a used one again past the grace of concurrent tabs ends the
/// whole session.
pub async fn refresh(state: &AppState, client: &Client, presented: &str) -> ApiResult<Option<Started>> {
    if !token::looks_valid(presented) {
        return Ok(None);
    }
    let now = Utc::now();
    let txn = state.db.begin().await?;
    let hash = token::hash(presented);
    let Some(found) = sessions::find_by_hash(&txn, &hash).await? else { return Ok(None) };
    // Locked, then read again: a sign-out or reset that committed meanwhile is seen now.
    portal_db::users::lock_for_sessions(&txn, found.user_id).await?;
    let Some(stored) = sessions::find_by_hash(&txn, &hash).await? else { return Ok(None) };
    if stored.revoked_at.is_some() || stored.expires_at <= now || !sessions::is_open(&txn, stored.family_id).await? {
        return Ok(None);
    }
    let first_use = stored.used_at.is_none() && sessions::mark_used(&txn, stored.id, now).await?;
    // Used already: by another tab of the same browser a moment ago (reloads of several tabs
    // refresh at once), or replayed by a thief. Within the grace period it is the former.
    let used_at = stored.used_at.unwrap_or(now);
    let grace = Duration::seconds(i64::from(state.config.refresh_reuse_grace_seconds));
    if !first_use && now - used_at > grace {
        tracing::warn!(user_id = %stored.user_id, family = %stored.family_id, "refresh token reused; ending the session");
        sessions::end(&txn, stored.user_id, stored.family_id, now).await?;
        state.invalidation.commit(txn, &[Change::Session(stored.family_id)]).await?;
        return Ok(None);
    }
    let Some(user) = portal_db::users::find(&txn, stored.user_id).await? else { return Ok(None) };
    let family = stored.family_id;
    Ok(Some(start_session(state, txn, &[], (user, client), (family, Step::Refresh), now).await?))
}

/// Ends the session of a refresh token, if it names one. Its access tokens are refused from now.
pub async fn sign_out(state: &AppState, presented: &str) -> ApiResult<()> {
    if token::looks_valid(presented)
        && let Some(stored) = sessions::find_by_hash(&state.db, &token::hash(presented)).await?
    {
        let txn = state.db.begin().await?;
        portal_db::users::lock_for_sessions(&txn, stored.user_id).await?;
        sessions::end(&txn, stored.user_id, stored.family_id, Utc::now()).await?;
        state.invalidation.commit(txn, &[Change::Session(stored.family_id)]).await?;
    }
    Ok(())
}

/// Mails a password-reset link if the address has an account.
pub async fn forgot_password(state: &AppState, email: Email) -> ApiResult<()> {
    let now = Utc::now();
    let txn = state.db.begin().await?;
    if let Some(user) = portal_db::users::find_by_email(&txn, email.as_str()).await? {
        let secret = token::generate();
        let expires = now + Duration::minutes(RESET_TTL_MINUTES);
        tokens::insert(&txn, user.id, Purpose::ResetPassword, &token::hash(&secret), expires, now).await?;
        let link = format!("{}/reset-password?token={secret}", state.config.public_url);
        let greeting = format!("Hi {},", user.name);
        let mail = Template {
            to: &user.email,
            subject: "Reset your password",
            greeting: &greeting,
            paragraphs: &["We received a request to reset the password of your Partner Portal account."],
            action: "Choose a new password",
            link: &link,
            footer: "The link works once and expires in 60 minutes. If you did not ask for it, ignore this mail: your password stays as it is.",
        };
        queue(&txn, mail, now).await?;
    }
    txn.commit().await?;
    state.mail_wake.notify_one();
    Ok(())
}

/// Sets a new password with the mailed token (checked after the password, so that a rejected
/// password does not use up the link); every session of the account ends.
pub async fn reset_password(state: &AppState, secret: &str, password: &str) -> ApiResult<()> {
    if !token::looks_valid(secret) {
        return Err(invalid_token());
    }
    let password = Password::parse("password", password)?;
    let hash = state.hasher.hash(password.expose().to_owned()).await?;
    let now = Utc::now();
    let txn = state.db.begin().await?;
    let user_id =
        tokens::consume(&txn, Purpose::ResetPassword, &token::hash(secret), now).await?.ok_or_else(invalid_token)?;
    portal_db::users::set_password_hash(&txn, user_id, &hash, now).await?;
    // Opening the mailed link proves the address too.
    portal_db::users::mark_verified(&txn, user_id, now).await?;
    let ended = sessions::end_all(&txn, user_id, None, now).await?;
    let changes: Vec<Change> = ended.into_iter().map(Change::Session).collect();
    state.invalidation.commit(txn, &changes).await?;
    tracing::info!(%user_id, "password reset");
    Ok(())
}
