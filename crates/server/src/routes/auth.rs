//! Sign-up, e-mail verification, sign-in, refresh, sign-out, forgotten password.

use actix_web::cookie::{Cookie, SameSite, time::Duration as CookieDuration};
use actix_web::{HttpRequest, HttpResponse, post, web};
use portal_domain::identity::{Email, Password, UserName};
use portal_types::ErrorCode;
use portal_types::{
    Accepted, EmailRequest, LoginRequest, ResetPasswordRequest, Session, SignupRequest, TwoFactorChallenge,
    TwoFactorLoginRequest, VerifyEmailRequest,
};

use crate::app::accounts::check_presented_password;
use crate::app::sign_in::{self, REFRESH_TTL_DAYS, SignIn, Started};
use crate::error::responses::{
    InternalError, JsonBody, PasswordWork, PayloadTooLarge, RateLimited, UnsupportedMediaType, ValidationFailed,
};
use crate::error::{ApiError, ApiResult};
use crate::extract::{ApiJson, Client};
use crate::security::REFRESH_COOKIE;
use crate::state::AppState;

/// Name of the HttpOnly refresh-token cookie.
const REFRESH_COOKIE_PATH: &str = "/api/v1/auth";

fn accepted(message: &str) -> HttpResponse {
    HttpResponse::Accepted().json(Accepted { message: message.to_owned() })
}

/// A started session: the access token in the body, the refresh token in its cookie.
fn session_answer(state: &AppState, started: Started) -> HttpResponse {
    let cookie = session_cookie(state, started.refresh_token);
    HttpResponse::Ok().cookie(cookie).insert_header(super::NO_STORE).json(started.session)
}

/// Start a sign-up.
///
/// Creates the account and mails a verification link. The answer is the same whether or not the
/// address already has an account (its owner is told by mail instead), so it reveals nothing.
#[utoipa::path(
    tag = "auth", operation_id = "signup", request_body = SignupRequest,
    responses(
        (status = 202, description = "Check the mailbox for the verification link.", body = Accepted),
        (status = 404, description = "No invitation has this `invitation_token` (`invitation_not_found`).", body = portal_types::Problem, content_type = "application/problem+json"),
        JsonBody, ValidationFailed, PasswordWork, InternalError,
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
    let request = sign_in::SignUp {
        email: Email::parse("email", &body.email)?,
        name: UserName::parse("name", &body.name)?,
        password: Password::parse("password", &body.password)?,
        invitation_token: body.invitation_token.map(portal_types::LinkToken::into_inner),
    };
    Ok(accepted(sign_in::sign_up(&state, request).await?))
}

/// Verify an e-mail address with the mailed token.
#[utoipa::path(
    tag = "auth", operation_id = "verifyEmail", request_body = VerifyEmailRequest,
    responses(
        (status = 204, description = "The address is verified; the user can sign in."),
        (status = 400, description = "Malformed JSON, or the link is invalid, expired or used (`invalid_token`).", body = portal_types::Problem, content_type = "application/problem+json"),
        PayloadTooLarge, UnsupportedMediaType, ValidationFailed, InternalError,
    )
)]
#[post("/auth/verify-email")]
pub async fn verify_email(state: web::Data<AppState>, body: ApiJson<VerifyEmailRequest>) -> ApiResult<HttpResponse> {
    sign_in::verify_email(&state, &body.0.token).await?;
    Ok(HttpResponse::NoContent().finish())
}

/// Mail a new verification link, if the account exists and is not verified yet.
#[utoipa::path(
    tag = "auth", operation_id = "resendVerification", request_body = EmailRequest,
    responses(
        (status = 202, description = "If the account exists and is unverified, a new link is on its way.", body = Accepted),
        JsonBody, ValidationFailed, RateLimited, InternalError,
    )
)]
#[post("/auth/resend-verification")]
pub async fn resend_verification(
    state: web::Data<AppState>,
    client: Client,
    body: ApiJson<EmailRequest>,
) -> ApiResult<HttpResponse> {
    state.auth_limiter.spend(&state.db, &format!("resend:{}", client.ip)).await?;
    sign_in::resend_verification(&state, Email::parse("email", &body.0.email)?).await?;
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

/// The browser's single sign-on flow cookie: an SSO link is proven in the browser that made it.
fn sso_browser(req: &HttpRequest) -> Option<String> {
    req.cookie(crate::app::sso_sign_in::BROWSER_COOKIE).map(|c| c.value().to_owned())
}

/// The refresh cookie of a session just started.
pub fn session_cookie(state: &AppState, refresh_token: String) -> Cookie<'static> {
    refresh_cookie(state, refresh_token, CookieDuration::days(REFRESH_TTL_DAYS))
}

fn clear_cookie(state: &AppState) -> Cookie<'static> {
    refresh_cookie(state, String::new(), CookieDuration::ZERO)
}

/// Sign in with e-mail and password.
///
/// Answers with a short-lived access token and sets the HttpOnly refresh cookie. A wrong e-mail
/// and a wrong password get the same answer in the same time.
///
/// An account with two-factor authentication gets 202 with a challenge instead: the session
/// starts once `POST /auth/login/two-factor` gets the challenge and a code.
#[utoipa::path(
    tag = "auth", operation_id = "login", request_body = LoginRequest,
    responses(
        (status = 200, description = "Signed in; the refresh cookie is set.", body = Session, headers(("Set-Cookie" = String, description = "`pp_refresh`: HttpOnly, SameSite=Strict, Path=/api/v1/auth."))),
        (status = 202, description = "The password is right and the account has two-factor authentication: no session yet. Finish with `loginTwoFactor`, passing this `challenge` and a code.", body = TwoFactorChallenge),
        (status = 401, description = "Wrong e-mail or password (`invalid_credentials`).", body = portal_types::Problem, content_type = "application/problem+json"),
        (status = 400, description = "The `sso_link` has expired, was used, or is for another account (`invalid_token`, field `sso_link`): nothing changed.", body = portal_types::Problem, content_type = "application/problem+json"),
        (status = 403, description = "The e-mail address is not verified yet (`email_not_verified`).", body = portal_types::Problem, content_type = "application/problem+json"),
        JsonBody, ValidationFailed, PasswordWork, InternalError,
    )
)]
#[post("/auth/login")]
pub async fn login(
    state: web::Data<AppState>,
    req: HttpRequest,
    client: Client,
    body: ApiJson<LoginRequest>,
) -> ApiResult<HttpResponse> {
    state.auth_limiter.spend(&state.db, &format!("login:{}", client.ip)).await?;
    let body = body.0;
    let email = Email::parse("email", &body.email)?;
    check_presented_password("password", &body.password)?;
    let link = body.sso_link.map(portal_types::LinkToken::into_inner);
    let browser = sso_browser(&req);
    let link = link.as_deref().map(|l| (l, browser.as_deref()));
    match sign_in::sign_in(&state, &client, (email, body.password.into_inner()), link).await? {
        SignIn::Started(started) => Ok(session_answer(&state, started)),
        SignIn::Challenge(challenge) => Ok(HttpResponse::Accepted().insert_header(super::NO_STORE).json(challenge)),
    }
}

/// Finish a sign-in with two-factor authentication: the challenge of the password step and a
/// code of the authenticator app, or a recovery code (which mails the user). Starts the session
/// as `login` does for accounts without it.
///
/// A challenge works once, for 5 minutes and at most 5 codes; wrong codes also spend the
/// account's budget (`Retry-After` when it is spent), whatever challenge they come with.
#[utoipa::path(
    tag = "auth", operation_id = "loginTwoFactor", request_body = TwoFactorLoginRequest,
    responses(
        (status = 200, description = "Signed in; the refresh cookie is set.", body = Session, headers(("Set-Cookie" = String, description = "`pp_refresh`: HttpOnly, SameSite=Strict, Path=/api/v1/auth."))),
        (status = 400, description = "The `sso_link` has expired, was used, or is for another account (`invalid_token`, field `sso_link`): nothing changed.", body = portal_types::Problem, content_type = "application/problem+json"),
        (status = 401, description = "The challenge is unknown, expired, used or out of tries (`invalid_challenge`): sign in again.", body = portal_types::Problem, content_type = "application/problem+json"),
        (status = 422, description = "The code is wrong, used or not of this time (`invalid_two_factor_code`, field `code`), or a field is missing (`validation_failed`).", body = portal_types::Problem, content_type = "application/problem+json"),
        JsonBody, RateLimited, InternalError,
    )
)]
#[post("/auth/login/two-factor")]
pub async fn login_two_factor(
    state: web::Data<AppState>,
    req: HttpRequest,
    client: Client,
    body: ApiJson<TwoFactorLoginRequest>,
) -> ApiResult<HttpResponse> {
    state.auth_limiter.spend(&state.db, &format!("login-code:{}", client.ip)).await?;
    let body = body.0;
    let link = body.sso_link.map(portal_types::LinkToken::into_inner);
    let browser = sso_browser(&req);
    let link = link.as_deref().map(|l| (l, browser.as_deref()));
    let started = sign_in::sign_in_with_code(&state, &client, (&body.challenge, &body.code), link).await?;
    Ok(session_answer(&state, started))
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
    tag = "auth", operation_id = "refreshSession", security(("refresh_cookie" = [])),
    responses(
        (status = 200, description = "A new access token; the refresh cookie is rotated.", body = Session),
        (status = 401, description = "No valid session (`invalid_refresh_token`); the cookie is cleared.", body = portal_types::Problem, content_type = "application/problem+json"),
        InternalError,
    )
)]
#[post("/auth/refresh")]
pub async fn refresh(state: web::Data<AppState>, client: Client, req: HttpRequest) -> ApiResult<HttpResponse> {
    let Some(cookie) = req.cookie(REFRESH_COOKIE) else { return refresh_refused(&state) };
    match sign_in::refresh(&state, &client, cookie.value()).await? {
        Some(started) => Ok(session_answer(&state, started)),
        None => refresh_refused(&state),
    }
}

/// Sign out: ends the session of the refresh cookie and clears it. Its access tokens are refused
/// from now on.
#[utoipa::path(
    tag = "auth", operation_id = "logout", // Without the cookie there is nothing to end, and the answer is the same.,
    security((), ("refresh_cookie" = [])),
    responses((status = 204, description = "Signed out; the cookie is cleared."), InternalError)
)]
#[post("/auth/logout")]
pub async fn logout(state: web::Data<AppState>, req: HttpRequest) -> ApiResult<HttpResponse> {
    if let Some(cookie) = req.cookie(REFRESH_COOKIE) {
        sign_in::sign_out(&state, cookie.value()).await?;
    }
    Ok(HttpResponse::NoContent().cookie(clear_cookie(&state)).finish())
}

/// Mail a password-reset link. The answer never says whether the account exists.
#[utoipa::path(
    tag = "auth", operation_id = "forgotPassword", request_body = EmailRequest,
    responses(
        (status = 202, description = "If the account exists, a reset link is on its way.", body = Accepted),
        JsonBody, ValidationFailed, RateLimited, InternalError,
    )
)]
#[post("/auth/forgot-password")]
pub async fn forgot_password(
    state: web::Data<AppState>,
    client: Client,
    body: ApiJson<EmailRequest>,
) -> ApiResult<HttpResponse> {
    state.auth_limiter.spend(&state.db, &format!("forgot:{}", client.ip)).await?;
    sign_in::forgot_password(&state, Email::parse("email", &body.0.email)?).await?;
    Ok(accepted("If that address has an account, we sent it a link to reset the password."))
}

/// Set a new password with the mailed token. Ends every session of the account, and with them
/// their access tokens.
#[utoipa::path(
    tag = "auth", operation_id = "resetPassword", request_body = ResetPasswordRequest,
    responses(
        (status = 204, description = "The password is changed; sign in with it."),
        (status = 400, description = "Malformed JSON, or the link is invalid, expired or used (`invalid_token`).", body = portal_types::Problem, content_type = "application/problem+json"),
        PayloadTooLarge, UnsupportedMediaType, ValidationFailed, PasswordWork, InternalError,
    )
)]
#[post("/auth/reset-password")]
pub async fn reset_password(
    state: web::Data<AppState>,
    client: Client,
    body: ApiJson<ResetPasswordRequest>,
) -> ApiResult<HttpResponse> {
    state.auth_limiter.spend(&state.db, &format!("reset:{}", client.ip)).await?;
    sign_in::reset_password(&state, &body.0.token, &body.0.password).await?;
    Ok(HttpResponse::NoContent().finish())
}
