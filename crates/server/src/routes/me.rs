//! The signed-in user's account.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, delete, get, patch, post, web};
use portal_domain::identity::{Password, UserName};
use portal_types::{ChangePasswordRequest, GettingStarted, SessionList, SessionsEnded, UpdateMeRequest, User};
use uuid::Uuid;

use crate::app::accounts;
use crate::error::ApiResult;
use crate::error::responses::{InternalError, JsonBody, PasswordWork, Unauthorized, ValidationFailed};
use crate::extract::{ApiJson, AuthUser, Client};
use crate::reads;
use crate::state::AppState;

/// The signed-in user.
#[utoipa::path(
    tag = "me", operation_id = "getMe", security(("bearer" = [])),
    responses((status = 200, description = "The account.", body = User), Unauthorized, InternalError)
)]
#[get("/me")]
pub async fn get_me(state: web::Data<AppState>, auth: AuthUser) -> ApiResult<web::Json<User>> {
    Ok(web::Json(reads::accounts::me(&state, &auth).await?))
}

/// How far the signed-in user's teams are through the guide's Quick Reference checklists.
#[utoipa::path(
    tag = "me", operation_id = "getGettingStarted", security(("bearer" = [])),
    responses(
        (status = 200, description = "Each step, done or not.", body = GettingStarted),
        Unauthorized, InternalError,
    )
)]
#[get("/me/getting-started")]
pub async fn get_getting_started(state: web::Data<AppState>, auth: AuthUser) -> ApiResult<web::Json<GettingStarted>> {
    Ok(web::Json(reads::accounts::getting_started(&state, &auth).await?))
}

/// The teams the signed-in user may join without an invitation: a team that verified the domain
/// of their (verified) address and lets its people join (suggest or automatic).
#[utoipa::path(
    tag = "me", operation_id = "listJoinableTeams", security(("bearer" = [])),
    responses((status = 200, description = "At most one team (a domain is verified by one team).", body = portal_types::JoinableTeamList), Unauthorized, InternalError)
)]
#[get("/me/joinable-teams")]
pub async fn list_joinable_teams(
    state: web::Data<AppState>,
    auth: AuthUser,
) -> ApiResult<web::Json<portal_types::JoinableTeamList>> {
    Ok(web::Json(portal_types::JoinableTeamList { items: reads::domains::joinable(&state, auth.user_id).await? }))
}

/// Change the signed-in user's profile.
#[utoipa::path(
    tag = "me", operation_id = "updateMe", security(("bearer" = [])), request_body = UpdateMeRequest,
    responses(
        (status = 200, description = "The updated account.", body = User),
        JsonBody, Unauthorized, ValidationFailed, InternalError,
    )
)]
#[patch("/me")]
pub async fn update_me(
    state: web::Data<AppState>,
    auth: AuthUser,
    body: ApiJson<UpdateMeRequest>,
) -> ApiResult<web::Json<User>> {
    let Some(raw) = body.0.name else { return Ok(web::Json(reads::accounts::me(&state, &auth).await?)) };
    let name = UserName::parse("name", &raw)?;
    Ok(web::Json(accounts::rename(&state, &auth, name).await?))
}

/// Change the password. Other sessions of the account end; this one stays.
#[utoipa::path(
    tag = "me", operation_id = "changePassword", security(("bearer" = [])), request_body = ChangePasswordRequest,
    responses(
        (status = 204, description = "The password is changed."),
        (status = 422, description = "The current password is wrong (`wrong_password`, field `current_password`) or the new one is invalid (`validation_failed`).", body = portal_types::Problem, content_type = "application/problem+json"),
        JsonBody, Unauthorized, PasswordWork, InternalError,
    )
)]
#[post("/me/password")]
pub async fn change_password(
    state: web::Data<AppState>,
    auth: AuthUser,
    body: ApiJson<ChangePasswordRequest>,
) -> ApiResult<HttpResponse> {
    state.auth_limiter.spend(&state.db, &format!("password:{}", auth.user_id)).await?;
    let body = body.0;
    accounts::check_presented_password("current_password", &body.current_password)?;
    let new_password = Password::parse("new_password", &body.new_password)?;
    accounts::change_password(&state, &auth, body.current_password.into_inner(), new_password).await?;
    Ok(HttpResponse::NoContent().finish())
}

/// The signed-in user's sessions in use: one per sign-in on a device, the latest used first.
#[utoipa::path(
    tag = "me", operation_id = "listSessions", security(("bearer" = [])),
    responses(
        (status = 200, description = "Sessions in use (at most 500).", body = SessionList),
        Unauthorized, InternalError,
    )
)]
#[get("/me/sessions")]
pub async fn list_sessions(state: web::Data<AppState>, auth: AuthUser) -> ApiResult<HttpResponse> {
    let list = reads::accounts::sessions(&state, &auth).await?;
    Ok(super::no_store(StatusCode::OK, &list))
}

/// End one of the signed-in user's sessions (the current one too: that signs out here). Its
/// access tokens are refused from now on, on every instance.
#[utoipa::path(
    tag = "me", operation_id = "endSession", security(("bearer" = [])),
    params(("session_id" = Uuid, Path, description = "The session.")),
    responses(
        (status = 204, description = "The session has ended."),
        (status = 404, description = "No such session of this user in use (`session_not_found`).", body = portal_types::Problem, content_type = "application/problem+json"),
        Unauthorized, InternalError,
    )
)]
#[delete("/me/sessions/{session_id}")]
pub async fn end_session(
    state: web::Data<AppState>,
    auth: AuthUser,
    client: Client,
    path: web::Path<Uuid>,
) -> ApiResult<HttpResponse> {
    accounts::end_session(&state, &auth, &client, path.into_inner()).await?;
    Ok(HttpResponse::NoContent().finish())
}

/// End every session of the signed-in user but the current one ("sign out everywhere else").
#[utoipa::path(
    tag = "me", operation_id = "endOtherSessions", security(("bearer" = [])),
    responses(
        (status = 200, description = "The other sessions have ended.", body = SessionsEnded),
        Unauthorized, InternalError,
    )
)]
#[delete("/me/sessions/others")]
pub async fn end_other_sessions(
    state: web::Data<AppState>,
    auth: AuthUser,
    client: Client,
) -> ApiResult<web::Json<SessionsEnded>> {
    Ok(web::Json(accounts::end_other_sessions(&state, &auth, &client).await?))
}
