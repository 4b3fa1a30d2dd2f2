//! Sign-up, e-mail verification, sign-in, refresh, sign-out, forgotten password.

use actix_web::cookie::{Cookie, SameSite, time::Duration as CookieDuration};
use actix_web::{HttpRequest, HttpResponse, post, web};
use chrono::{DateTime, Duration, Utc};
use portal_db::sessions;
use portal_db::tokens::{self, Purpose};
use portal_db::{DatabaseTransaction, TransactionTrait};
use portal_domain::identity::{Email, Password, UserName};
use portal_domain::token;
use portal_types::ErrorCode;
use portal_types::{
    Accepted, EmailRequest, LoginRequest, ResetPasswordRequest, Session, SignupRequest, TwoFactorChallenge,
    TwoFactorLoginRequest, VerifyEmailRequest,
};
use uuid::Uuid;

use crate::error::responses::{
    BadRequest, InternalError, PayloadTooLarge, RateLimited, UnsupportedMediaType, ValidationFailed,
};
use crate::error::{ApiError, ApiResult};
use crate::extract::{ApiJson, Client};
use crate::keys::Change;
use crate::mail::Template;
use crate::security::ACCESS_TOKEN_SECONDS;
use crate::security::REFRESH_COOKIE;
use crate::state::AppState;

/// Name of the HttpOnly refresh-token cookie.
const REFRESH_COOKIE_PATH: &str = "/api/v1/auth";
const REFRESH_TTL_DAYS: i64 = 30;
const VERIFY_TTL_HOURS: i64 = 24;
const RESET_TTL_MINUTES: i64 = 60;

fn accepted(message: &str) -> HttpResponse {
    HttpResponse::Accepted().json(Accepted { message: message.to_owned() })
}

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
    tokens::insert(
        txn,
        user.id,
        Purpose::VerifyEmail,
        &token::hash(&secret),
        now + Duration::hours(VERIFY_TTL_HOURS),
        now,
    )
    .await?;
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

/// Start a sign-up.
///
/// Creates the account and mails a verification link. The answer is the same whether or not the
/// address already has an account (its owner is told by mail instead), so it reveals nothing.
#[utoipa::path(
    tag = "auth",
    operation_id = "signup",
    request_body = SignupRequest,
    responses(
        (status = 202, description = "Check the mailbox for the verification link.", body = Accepted),
        (status = 404, description = "No invitation has this `invitation_token` (`invitation_not_found`).", body = portal_types::Problem, content_type = "application/problem+json"),
        BadRequest, PayloadTooLarge, UnsupportedMediaType, ValidationFailed, RateLimited, InternalError,
    )
)]
#[post("/auth/signup")]
pub async fn signup(
    state: web::Data<AppState>,
    client: Client,
    body: ApiJson<SignupRequest>,
) -> ApiResult<HttpResponse> {
    state.auth_limiter.spend(&state.db, &format!("signup:{}", client.ip)).await?;
    let body = body.0;
    let email = Email::parse("email", &body.email)?;
    let name = UserName::parse("name", &body.name)?;
    let password = Password::parse("password", &body.password)?;
    let now = Utc::now();
    // An invitation mailed to this address proves it: the account needs no verification mail.
    let invited = match body.invitation_token.as_deref() {
        None => false,
        Some(secret) => {
            let inv = crate::app::invitations::by_token(&state.db, secret).await.map_err(|_| {
                ApiError::new(ErrorCode::InvitationNotFound, "No invitation has this token.")
                    .with_field("invitation_token")
            })?;
            crate::app::invitations::acceptable(&inv, email.as_str(), now)
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
            return Ok(accepted("Your account is ready: sign in to accept the invitation."));
        }
        Ok(user) => {
            queue_verification(&state, &txn, &user, now).await?;
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
    Ok(accepted("Check your mailbox: we sent a link to verify your e-mail address."))
}

/// Verify an e-mail address with the mailed token.
#[utoipa::path(
    tag = "auth",
    operation_id = "verifyEmail",
    request_body = VerifyEmailRequest,
    responses(
        (status = 204, description = "The address is verified; the user can sign in."),
        (status = 400, description = "Malformed JSON, or the link is invalid, expired or used (`invalid_token`).", body = portal_types::Problem, content_type = "application/problem+json"),
        PayloadTooLarge, UnsupportedMediaType, ValidationFailed, InternalError,
    )
)]
#[post("/auth/verify-email")]
pub async fn verify_email(state: web::Data<AppState>, body: ApiJson<VerifyEmailRequest>) -> ApiResult<HttpResponse> {
    if !token::looks_valid(&body.0.token) {
        return Err(invalid_token());
    }
    let now = Utc::now();
    let txn = state.db.begin().await?;
    let user_id = tokens::consume(&txn, Purpose::VerifyEmail, &token::hash(&body.0.token), now)
        .await?
        .ok_or_else(invalid_token)?;
    portal_db::users::mark_verified(&txn, user_id, now).await?;
    txn.commit().await?;
    Ok(HttpResponse::NoContent().finish())
}

/// Mail a new verification link, if the account exists and is not verified yet.
#[utoipa::path(
    tag = "auth",
    operation_id = "resendVerification",
    request_body = EmailRequest,
    responses(
        (status = 202, description = "If the account exists and is unverified, a new link is on its way.", body = Accepted),
        BadRequest, PayloadTooLarge, UnsupportedMediaType, ValidationFailed, RateLimited, InternalError,
    )
)]
#[post("/auth/resend-verification")]
pub async fn resend_verification(
    state: web::Data<AppState>,
    client: Client,
    body: ApiJson<EmailRequest>,
) -> ApiResult<HttpResponse> {
    state.auth_limiter.spend(&state.db, &format!("resend:{}", client.ip)).await?;
    let email = Email::parse("email", &body.0.email)?;
    let now = Utc::now();
    let txn = state.db.begin().await?;
    if let Some(user) = portal_db::users::find_by_email(&txn, email.as_str()).await?
        && user.email_verified_at.is_none()
    {
        queue_verification(&state, &txn, &user, now).await?;
    }
    txn.commit().await?;
    state.mail_wake.notify_one();
    Ok(accepted("If that address has an unverified account, we sent it a new verification link."))
}

fn refresh_cookie(state: &AppState, value: String, max_age: CookieDuration) -> Cookie<'static> {
    Cookie::build(REFRESH_COOKIE, value)
        .path(REFRESH_COOKIE_PATH)
        .http_only(true)
        .same_site(SameSite::Strict)
        .secure(!state.config.insecure_cookies())
        .max_age(max_age)
        .finish()
}

fn clear_cookie(state: &AppState) -> Cookie<'static> {
    refresh_cookie(state, String::new(), CookieDuration::ZERO)
}

/// How a session goes on: a sign-in starts it, a refresh uses it again.
enum Step {
    SignIn,
    Refresh,
}

/// Stores a new refresh token in `family` (the session), records the session's use by `client`,
/// and answers with an access token and the cookie.
async fn start_session(
    state: &AppState,
    txn: DatabaseTransaction,
    changes: &[Change],
    (user, client): (portal_db::users::User, &Client),
    (family, step): (Uuid, Step),
    now: DateTime<Utc>,
) -> ApiResult<HttpResponse> {
    let refresh_token = token::generate();
    let expires = now + Duration::days(REFRESH_TTL_DAYS);
    let seen = sessions::Seen { ip: &client.ip, user_agent: client.user_agent.as_deref() };
    match step {
        Step::SignIn => sessions::start(&txn, family, user.id, seen, expires, now).await?,
        Step::Refresh => sessions::touch(&txn, family, seen, expires, now).await?,
    }
    sessions::insert(&txn, family, user.id, &token::hash(&refresh_token), expires, now).await?;
    let access_token = state.tokens.issue(user.id, family, now)?;
    state.keys.commit(txn, changes).await?;
    let body = Session {
        access_token,
        token_type: "Bearer".into(),
        expires_in: ACCESS_TOKEN_SECONDS as u64,
        user: super::me::to_wire(user),
    };
    Ok(HttpResponse::Ok()
        .cookie(refresh_cookie(state, refresh_token, CookieDuration::days(REFRESH_TTL_DAYS)))
        .insert_header((actix_web::http::header::CACHE_CONTROL, "no-store"))
        .json(body))
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

/// Sign in with e-mail and password.
///
/// Answers with a short-lived access token and sets the HttpOnly refresh cookie. A wrong e-mail
/// and a wrong password get the same answer in the same time.
///
/// An account with two-factor authentication gets 202 with a challenge instead: the session
/// starts once `POST /auth/login/two-factor` gets the challenge and a code.
#[utoipa::path(
    tag = "auth",
    operation_id = "login",
    request_body = LoginRequest,
    responses(
        (status = 200, description = "Signed in; the refresh cookie is set.", body = Session,
            headers(("Set-Cookie" = String, description = "`pp_refresh`: HttpOnly, SameSite=Strict, Path=/api/v1/auth."))),
        (status = 202, description = "The password is right and the account has two-factor authentication: no session yet. Finish with `loginTwoFactor`, passing this `challenge` and a code.", body = TwoFactorChallenge),
        (status = 401, description = "Wrong e-mail or password (`invalid_credentials`).", body = portal_types::Problem, content_type = "application/problem+json"),
        (status = 403, description = "The e-mail address is not verified yet (`email_not_verified`).", body = portal_types::Problem, content_type = "application/problem+json"),
        BadRequest, PayloadTooLarge, UnsupportedMediaType, ValidationFailed, RateLimited, InternalError,
    )
)]
#[post("/auth/login")]
pub async fn login(state: web::Data<AppState>, client: Client, body: ApiJson<LoginRequest>) -> ApiResult<HttpResponse> {
    state.auth_limiter.spend(&state.db, &format!("login:{}", client.ip)).await?;
    let body = body.0;
    let email = Email::parse("email", &body.email)?;
    check_presented_password("password", &body.password)?;
    // Guessing from many addresses meets the account's own budget of failures.
    // A slot of the budget is taken before the password is checked, and given back if it is
    // right: concurrent guesses cannot outrun the count.
    let account = account_key(email.as_str());
    let slot = state.account_limiter.reserve(&state.db, &account).await?;
    let user = portal_db::users::find_by_email(&state.db, email.as_str()).await?;
    let hash = user.as_ref().map(|u| u.password_hash.clone());
    if !state.hasher.verify(body.password, hash).await? {
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
        return challenge(&state, &user, &client, now).await;
    }
    tracing::info!(user_id = %user.id, ip = %client.ip, "signed in");
    let txn = state.db.begin().await?;
    let changes = record_sign_in(&txn, &user, &client, None, now).await?;
    start_session(&state, txn, &changes, (user, &client), (Uuid::new_v4(), Step::SignIn), now).await
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
        action: portal_types::AuditAction::SignedIn,
        target_type: "user",
        target_id: Some(user.id.to_string()),
        summary,
        ip: Some(&client.ip),
        user_agent: client.user_agent.as_deref(),
    };
    let touched = portal_db::audit::record(txn, entry, now).await?;
    Ok(Change::reads(&touched).collect())
}

/// Seconds a sign-in challenge lasts.
const CHALLENGE_SECONDS: i64 = 300;
/// Codes a sign-in challenge takes before it is void.
const CHALLENGE_ATTEMPTS: i32 = 5;

/// The password step of an account with two-factor authentication: a challenge instead of a
/// session.
async fn challenge(
    state: &AppState,
    user: &portal_db::users::User,
    client: &Client,
    now: DateTime<Utc>,
) -> ApiResult<HttpResponse> {
    let secret = token::generate();
    let expires = now + Duration::seconds(CHALLENGE_SECONDS);
    let txn = state.db.begin().await?;
    portal_db::two_factor::create_challenge(&txn, user.id, &token::hash(&secret), expires, now).await?;
    let action = portal_types::AuditAction::TwoFactorChallenged;
    let changes = super::two_factor::record(&txn, (user.id, client), action, None).await?;
    state.keys.commit(txn, &changes).await?;
    tracing::info!(user_id = %user.id, ip = %client.ip, "password accepted; two-factor code asked");
    let body = TwoFactorChallenge { challenge: secret, expires_in: CHALLENGE_SECONDS as u64 };
    Ok(HttpResponse::Accepted().insert_header((actix_web::http::header::CACHE_CONTROL, "no-store")).json(body))
}

fn challenge_refused() -> ApiError {
    ApiError::new(
        ErrorCode::InvalidChallenge,
        "This sign-in has expired or was used up: sign in with your password again.",
    )
    .with_field("challenge")
}

/// Finish a sign-in with two-factor authentication: the challenge of the password step and a
/// code of the authenticator app, or a recovery code (which mails the user). Starts the session
/// as `login` does for accounts without it.
///
/// A challenge works once, for 5 minutes and at most 5 codes; wrong codes also spend the
/// account's budget (`Retry-After` when it is spent), whatever challenge they come with.
#[utoipa::path(
    tag = "auth",
    operation_id = "loginTwoFactor",
    request_body = TwoFactorLoginRequest,
    responses(
        (status = 200, description = "Signed in; the refresh cookie is set.", body = Session,
            headers(("Set-Cookie" = String, description = "`pp_refresh`: HttpOnly, SameSite=Strict, Path=/api/v1/auth."))),
        (status = 401, description = "The challenge is unknown, expired, used or out of tries (`invalid_challenge`): sign in again.", body = portal_types::Problem, content_type = "application/problem+json"),
        (status = 422, description = "The code is wrong, used or not of this time (`invalid_two_factor_code`, field `code`), or a field is missing (`validation_failed`).", body = portal_types::Problem, content_type = "application/problem+json"),
        BadRequest, PayloadTooLarge, UnsupportedMediaType, RateLimited, InternalError,
    )
)]
#[post("/auth/login/two-factor")]
pub async fn login_two_factor(
    state: web::Data<AppState>,
    client: Client,
    body: ApiJson<TwoFactorLoginRequest>,
) -> ApiResult<HttpResponse> {
    state.auth_limiter.spend(&state.db, &format!("login-code:{}", client.ip)).await?;
    let body = body.0;
    if !token::looks_valid(&body.challenge) {
        return Err(challenge_refused());
    }
    let now = Utc::now();
    let found = portal_db::two_factor::live_challenge(&state.db, &token::hash(&body.challenge), now)
        .await?
        .ok_or_else(challenge_refused)?;
    // The account's budget of wrong codes: a slot taken before the check (outside the
    // transaction, which a wrong code rolls back), given back once the code was right.
    let slot = state.account_limiter.reserve(&state.db, &super::two_factor::code_budget(found.user_id)).await?;
    // Counted on its own, before the check: a failed check rolls back, the count stays.
    if !portal_db::two_factor::count_attempt(&state.db, found.id, CHALLENGE_ATTEMPTS).await? {
        return Err(challenge_refused());
    }
    let txn = state.db.begin().await?;
    portal_db::users::lock_for_sessions(&txn, found.user_id).await?;
    let factor = match super::two_factor::verify(&state, &txn, found.user_id, &body.code, now).await {
        Ok(factor) => factor,
        // Turned off since the password step: that challenge is void, the password step comes again.
        Err(e) if e.code == ErrorCode::TwoFactorDisabled => return Err(challenge_refused()),
        Err(mut e) => {
            txn.rollback().await?;
            if e.code == ErrorCode::InvalidTwoFactorCode {
                super::two_factor::record_failure(&state, found.user_id, &client, "signing in").await?;
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
    let mut changes = record_sign_in(&txn, &user, &client, Some(factor.describe()), now).await?;
    let recovered = matches!(factor, super::two_factor::Factor::Recovery { .. });
    if let super::two_factor::Factor::Recovery { left } = factor {
        let action = portal_types::AuditAction::RecoveryCodeUsed;
        let summary = Some(format!("{left} left"));
        changes.extend(super::two_factor::record(&txn, (user.id, &client), action, summary).await?);
        let paragraph = format!(
            "Someone signed in to your Partner Portal account with one of your recovery codes, from {}. \
             {left} unused recovery codes are left; you can make a new set on your account page.",
            client.ip
        );
        super::two_factor::notify(&state, &txn, &user, ("A recovery code was used to sign in", &paragraph), now)
            .await?;
    }
    tracing::info!(user_id = %user.id, ip = %client.ip, "signed in with a second factor");
    let session = start_session(&state, txn, &changes, (user, &client), (Uuid::new_v4(), Step::SignIn), now).await?;
    slot.release(&state.db).await?;
    if recovered {
        // Committed now: the mail worker finds the mail.
        state.mail_wake.notify_one();
    }
    Ok(session)
}

fn refresh_refused(state: &AppState) -> ApiResult<HttpResponse> {
    let problem = ApiError::new(ErrorCode::InvalidRefreshToken, "The session has ended; sign in again.");
    let mut res = actix_web::ResponseError::error_response(&problem);
    res.add_cookie(&clear_cookie(state)).map_err(ApiError::internal)?;
    Ok(res)
}

/// Exchange the refresh cookie for a new access token.
///
/// The refresh token rotates: each one works once. Presenting a used one again (a sign that it
/// was stolen) ends the whole session on every device that shares it.
#[utoipa::path(
    tag = "auth",
    operation_id = "refreshSession",
    security(("refresh_cookie" = [])),
    responses(
        (status = 200, description = "A new access token; the refresh cookie is rotated.", body = Session),
        (status = 401, description = "No valid session (`invalid_refresh_token`); the cookie is cleared.", body = portal_types::Problem, content_type = "application/problem+json"),
        InternalError,
    )
)]
#[post("/auth/refresh")]
pub async fn refresh(state: web::Data<AppState>, client: Client, req: HttpRequest) -> ApiResult<HttpResponse> {
    let Some(cookie) = req.cookie(REFRESH_COOKIE) else { return refresh_refused(&state) };
    if !token::looks_valid(cookie.value()) {
        return refresh_refused(&state);
    }
    let now = Utc::now();
    let txn = state.db.begin().await?;
    let hash = token::hash(cookie.value());
    let Some(found) = sessions::find_by_hash(&txn, &hash).await? else {
        return refresh_refused(&state);
    };
    // Locked, then read again: a sign-out or reset that committed meanwhile is seen now.
    portal_db::users::lock_for_sessions(&txn, found.user_id).await?;
    let Some(stored) = sessions::find_by_hash(&txn, &hash).await? else {
        return refresh_refused(&state);
    };
    if stored.revoked_at.is_some() || stored.expires_at <= now || !sessions::is_open(&txn, stored.family_id).await? {
        return refresh_refused(&state);
    }
    let first_use = stored.used_at.is_none() && sessions::mark_used(&txn, stored.id, now).await?;
    // Used already: by another tab of the same browser a moment ago (reloads of several tabs
    // refresh at once), or replayed by a thief. Within the grace period it is the former.
    let used_at = stored.used_at.unwrap_or(now);
    let grace = Duration::seconds(i64::from(state.config.refresh_reuse_grace_seconds));
    if !first_use && now - used_at > grace {
        tracing::warn!(user_id = %stored.user_id, family = %stored.family_id, "refresh token reused; ending the session");
        sessions::end(&txn, stored.user_id, stored.family_id, now).await?;
        state.keys.commit(txn, &[Change::Session(stored.family_id)]).await?;
        return refresh_refused(&state);
    }
    let Some(user) = portal_db::users::find(&txn, stored.user_id).await? else { return refresh_refused(&state) };
    start_session(&state, txn, &[], (user, &client), (stored.family_id, Step::Refresh), now).await
}

/// Sign out: ends the session of the refresh cookie and clears it. Its access tokens are refused
/// from now on.
#[utoipa::path(
    tag = "auth",
    operation_id = "logout",
    // Without the cookie there is nothing to end, and the answer is the same.
    security((), ("refresh_cookie" = [])),
    responses((status = 204, description = "Signed out; the cookie is cleared."), InternalError)
)]
#[post("/auth/logout")]
pub async fn logout(state: web::Data<AppState>, req: HttpRequest) -> ApiResult<HttpResponse> {
    if let Some(cookie) = req.cookie(REFRESH_COOKIE)
        && token::looks_valid(cookie.value())
        && let Some(stored) = sessions::find_by_hash(&state.db, &token::hash(cookie.value())).await?
    {
        let txn = state.db.begin().await?;
        portal_db::users::lock_for_sessions(&txn, stored.user_id).await?;
        sessions::end(&txn, stored.user_id, stored.family_id, Utc::now()).await?;
        state.keys.commit(txn, &[Change::Session(stored.family_id)]).await?;
    }
    Ok(HttpResponse::NoContent().cookie(clear_cookie(&state)).finish())
}

/// Mail a password-reset link. The answer never says whether the account exists.
#[utoipa::path(
    tag = "auth",
    operation_id = "forgotPassword",
    request_body = EmailRequest,
    responses(
        (status = 202, description = "If the account exists, a reset link is on its way.", body = Accepted),
        BadRequest, PayloadTooLarge, UnsupportedMediaType, ValidationFailed, RateLimited, InternalError,
    )
)]
#[post("/auth/forgot-password")]
pub async fn forgot_password(
    state: web::Data<AppState>,
    client: Client,
    body: ApiJson<EmailRequest>,
) -> ApiResult<HttpResponse> {
    state.auth_limiter.spend(&state.db, &format!("forgot:{}", client.ip)).await?;
    let email = Email::parse("email", &body.0.email)?;
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
    Ok(accepted("If that address has an account, we sent it a link to reset the password."))
}

/// Set a new password with the mailed token. Ends every session of the account, and with them
/// their access tokens.
#[utoipa::path(
    tag = "auth",
    operation_id = "resetPassword",
    request_body = ResetPasswordRequest,
    responses(
        (status = 204, description = "The password is changed; sign in with it."),
        (status = 400, description = "Malformed JSON, or the link is invalid, expired or used (`invalid_token`).", body = portal_types::Problem, content_type = "application/problem+json"),
        PayloadTooLarge, UnsupportedMediaType, ValidationFailed, RateLimited, InternalError,
    )
)]
#[post("/auth/reset-password")]
pub async fn reset_password(
    state: web::Data<AppState>,
    client: Client,
    body: ApiJson<ResetPasswordRequest>,
) -> ApiResult<HttpResponse> {
    state.auth_limiter.spend(&state.db, &format!("reset:{}", client.ip)).await?;
    let body = body.0;
    if !token::looks_valid(&body.token) {
        return Err(invalid_token());
    }
    // Check the password first, so a rejected one does not use up the link.
    let password = Password::parse("password", &body.password)?;
    let hash = state.hasher.hash(password.expose().to_owned()).await?;
    let now = Utc::now();
    let txn = state.db.begin().await?;
    let user_id = tokens::consume(&txn, Purpose::ResetPassword, &token::hash(&body.token), now)
        .await?
        .ok_or_else(invalid_token)?;
    portal_db::users::set_password_hash(&txn, user_id, &hash, now).await?;
    // Opening the mailed link proves the address too.
    portal_db::users::mark_verified(&txn, user_id, now).await?;
    let ended = sessions::end_all(&txn, user_id, None, now).await?;
    let changes: Vec<Change> = ended.into_iter().map(Change::Session).collect();
    state.keys.commit(txn, &changes).await?;
    tracing::info!(%user_id, "password reset");
    Ok(HttpResponse::NoContent().finish())
}
