//! The signed-in user's account.

use actix_web::{HttpResponse, get, patch, post, web};
use chrono::Utc;
use portal_domain::identity::{Password, UserName};
use portal_types::ErrorCode;
use portal_types::{ChangePasswordRequest, UpdateMeRequest, User};

use crate::error::{ApiError, ApiResult};
use crate::extract::{ApiJson, AuthUser};
use crate::keys::Change;
use crate::openapi::{
    BadRequest, InternalError, PayloadTooLarge, RateLimited, Unauthorized, UnsupportedMediaType, ValidationFailed,
};
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

async fn load(state: &AppState, auth: AuthUser) -> ApiResult<portal_db::users::User> {
    portal_db::users::find(&state.reads, auth.user_id)
        .await?
        .ok_or_else(|| ApiError::unauthorized("The account of this access token no longer exists."))
}

/// The signed-in user.
#[utoipa::path(
    tag = "me",
    operation_id = "getMe",
    security(("bearer" = [])),
    responses((status = 200, description = "The account.", body = User), Unauthorized, InternalError)
)]
#[get("/me")]
pub async fn get_me(state: web::Data<AppState>, auth: AuthUser) -> ApiResult<web::Json<User>> {
    Ok(web::Json(to_wire(load(&state, auth).await?)))
}

/// Change the signed-in user's profile.
#[utoipa::path(
    tag = "me",
    operation_id = "updateMe",
    security(("bearer" = [])),
    request_body = UpdateMeRequest,
    responses(
        (status = 200, description = "The updated account.", body = User),
        BadRequest, Unauthorized, PayloadTooLarge, UnsupportedMediaType, ValidationFailed, InternalError,
    )
)]
#[patch("/me")]
pub async fn update_me(
    state: web::Data<AppState>,
    auth: AuthUser,
    body: ApiJson<UpdateMeRequest>,
) -> ApiResult<web::Json<User>> {
    let Some(raw) = body.0.name else { return Ok(web::Json(to_wire(load(&state, auth).await?))) };
    let name = UserName::parse("name", &raw)?;
    let txn = portal_db::TransactionTrait::begin(&state.db).await?;
    let user = portal_db::users::set_name(&txn, auth.user_id, name.as_str(), Utc::now())
        .await?
        .ok_or_else(|| ApiError::unauthorized("The account of this access token no longer exists."))?;
    // The name shows in the member list of every team of theirs.
    let teams = portal_db::teams::team_ids_of(&txn, user.id).await?;
    let changes: Vec<Change> = teams.into_iter().map(Change::Reads).collect();
    state.keys.commit(txn, &changes).await?;
    Ok(web::Json(to_wire(user)))
}

/// Change the password. Other sessions of the account end; this one stays.
#[utoipa::path(
    tag = "me",
    operation_id = "changePassword",
    security(("bearer" = [])),
    request_body = ChangePasswordRequest,
    responses(
        (status = 204, description = "The password is changed."),
        BadRequest, Unauthorized, PayloadTooLarge, UnsupportedMediaType,
        (status = 422, description = "The current password is wrong (`wrong_password`, field `current_password`) or the new one is invalid (`validation_failed`).", body = portal_types::Problem, content_type = "application/problem+json"),
        RateLimited, InternalError,
    )
)]
#[post("/me/password")]
pub async fn change_password(
    state: web::Data<AppState>,
    auth: AuthUser,
    body: ApiJson<ChangePasswordRequest>,
) -> ApiResult<HttpResponse> {
    state.auth_limiter.check(&format!("password:{}", auth.user_id))?;
    let body = body.0;
    super::auth::check_presented_password("current_password", &body.current_password)?;
    let new_password = Password::parse("new_password", &body.new_password)?;
    let user = load(&state, auth).await?;
    // A stolen access token must not become a way to guess the password.
    let account = super::auth::account_key(&user.email);
    state.account_limiter.peek(&account)?;
    if !state.hasher.verify(body.current_password, Some(user.password_hash)).await? {
        let _ = state.account_limiter.check(&account);
        return Err(
            ApiError::new(ErrorCode::WrongPassword, "The current password is wrong.").with_field("current_password")
        );
    }
    let hash = state.hasher.hash(new_password.expose().to_owned()).await?;
    let now = Utc::now();
    let txn = portal_db::TransactionTrait::begin(&state.db).await?;
    portal_db::users::set_password_hash(&txn, user.id, &hash, now).await?;
    portal_db::sessions::revoke_all_for_user(&txn, user.id, Some(auth.session_id), now).await?;
    txn.commit().await?;
    Ok(HttpResponse::NoContent().finish())
}
