//! Two-factor authentication of the signed-in user: set-up with a QR code, confirmation,
//! recovery codes, turning it off; and the check of a code, shared with the sign-in.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, get, post, web};
use portal_types::{
    DisableTwoFactorRequest, EnableTwoFactorRequest, PasswordConfirmation, RecoveryCodes, TwoFactorSetup,
    TwoFactorStatus,
};

use crate::app::two_factor;
use crate::error::ApiResult;
use crate::error::responses::{InternalError, JsonBody, PasswordWork, RateLimited, Unauthorized};
use crate::extract::{ApiJson, AuthUser, Client};
use crate::reads;
use crate::state::AppState;

/// Whether the signed-in user has two-factor authentication on.
#[utoipa::path(
    tag = "me", operation_id = "getTwoFactor", security(("bearer" = [])),
    responses(
        (status = 200, description = "The account's two-factor state.", body = TwoFactorStatus),
        Unauthorized, InternalError,
    )
)]
#[get("/me/two-factor")]
pub async fn get_two_factor(state: web::Data<AppState>, auth: AuthUser) -> ApiResult<HttpResponse> {
    let status = reads::accounts::two_factor(&state, &auth).await?;
    Ok(super::no_store(StatusCode::OK, &status))
}

/// Start turning on two-factor authentication: a new secret for the authenticator app, as an
/// `otpauth://` URI and its QR code. Sign-in is unchanged until a code of it confirms it
/// (`enableTwoFactor`); starting again replaces a secret not confirmed yet.
#[utoipa::path(
    tag = "me", operation_id = "setUpTwoFactor", security(("bearer" = [])), request_body = PasswordConfirmation,
    responses(
        (status = 200, description = "The secret, shown this once.", body = TwoFactorSetup),
        (status = 409, description = "Two-factor authentication is on already (`two_factor_enabled`).", body = portal_types::Problem, content_type = "application/problem+json"),
        (status = 422, description = "The password is wrong (`wrong_password`, field `password`) or missing (`validation_failed`).", body = portal_types::Problem, content_type = "application/problem+json"),
        JsonBody, Unauthorized, PasswordWork, InternalError,
    )
)]
#[post("/me/two-factor/setup")]
pub async fn set_up_two_factor(
    state: web::Data<AppState>,
    auth: AuthUser,
    body: ApiJson<PasswordConfirmation>,
) -> ApiResult<HttpResponse> {
    let setup = two_factor::set_up(&state, &auth, body.0.password.into_inner()).await?;
    Ok(super::no_store(StatusCode::OK, &setup))
}

/// Turn on two-factor authentication with a current code of the app. Answers the 16 recovery
/// codes, shown this once.
#[utoipa::path(
    tag = "me", operation_id = "enableTwoFactor", security(("bearer" = [])), request_body = EnableTwoFactorRequest,
    responses(
        (status = 200, description = "Two-factor authentication is on; keep the recovery codes safe.", body = RecoveryCodes),
        (status = 409, description = "It is on already (`two_factor_enabled`), or the set-up was not started (`two_factor_disabled`).", body = portal_types::Problem, content_type = "application/problem+json"),
        (status = 422, description = "The code is wrong (`invalid_two_factor_code`, field `code`).", body = portal_types::Problem, content_type = "application/problem+json"),
        JsonBody, Unauthorized, RateLimited, InternalError,
    )
)]
#[post("/me/two-factor/enable")]
pub async fn enable_two_factor(
    state: web::Data<AppState>,
    auth: AuthUser,
    client: Client,
    body: ApiJson<EnableTwoFactorRequest>,
) -> ApiResult<HttpResponse> {
    let codes = two_factor::enable(&state, &auth, &client, &body.0.code).await?;
    Ok(super::no_store(StatusCode::OK, &codes))
}

/// Turn off two-factor authentication, with the password and a code (of the app, or a recovery
/// code). Refused while a team of the user requires it.
#[utoipa::path(
    tag = "me", operation_id = "disableTwoFactor", security(("bearer" = [])), request_body = DisableTwoFactorRequest,
    responses(
        (status = 204, description = "Two-factor authentication is off; the recovery codes are void."),
        (status = 403, description = "A team of the user requires it (`two_factor_required`).", body = portal_types::Problem, content_type = "application/problem+json"),
        (status = 409, description = "It is off already (`two_factor_disabled`).", body = portal_types::Problem, content_type = "application/problem+json"),
        (status = 422, description = "The password is wrong (`wrong_password`, field `password`) or the code is (`invalid_two_factor_code`, field `code`).", body = portal_types::Problem, content_type = "application/problem+json"),
        JsonBody, Unauthorized, PasswordWork, InternalError,
    )
)]
#[post("/me/two-factor/disable")]
pub async fn disable_two_factor(
    state: web::Data<AppState>,
    auth: AuthUser,
    client: Client,
    body: ApiJson<DisableTwoFactorRequest>,
) -> ApiResult<HttpResponse> {
    let body = body.0;
    two_factor::disable(&state, &auth, &client, body.password.into_inner(), &body.code).await?;
    Ok(HttpResponse::NoContent().finish())
}

/// Replace the recovery codes with 16 new ones, shown this once; the old ones stop working.
#[utoipa::path(
    tag = "me", operation_id = "regenerateRecoveryCodes", security(("bearer" = [])),
    request_body = PasswordConfirmation,
    responses(
        (status = 200, description = "The new recovery codes.", body = RecoveryCodes),
        (status = 409, description = "Two-factor authentication is off (`two_factor_disabled`).", body = portal_types::Problem, content_type = "application/problem+json"),
        (status = 422, description = "The password is wrong (`wrong_password`, field `password`).", body = portal_types::Problem, content_type = "application/problem+json"),
        JsonBody, Unauthorized, PasswordWork, InternalError,
    )
)]
#[post("/me/two-factor/recovery-codes")]
pub async fn regenerate_recovery_codes(
    state: web::Data<AppState>,
    auth: AuthUser,
    client: Client,
    body: ApiJson<PasswordConfirmation>,
) -> ApiResult<HttpResponse> {
    let codes = two_factor::regenerate(&state, &auth, &client, body.0.password.into_inner()).await?;
    Ok(super::no_store(StatusCode::OK, &codes))
}
