//! The signed-in user's account.

use actix_web::http::header;
use actix_web::{HttpResponse, delete, get, patch, post, web};
use chrono::Utc;
use portal_domain::identity::{Password, UserName};
use portal_types::ErrorCode;
use portal_types::{
    ChangePasswordRequest, GettingStarted, SessionInfo, SessionList, SessionsEnded, UpdateMeRequest, User,
};
use uuid::Uuid;

use crate::error::responses::{
    BadRequest, InternalError, PayloadTooLarge, RateLimited, Unauthorized, UnsupportedMediaType, ValidationFailed,
};
use crate::error::{ApiError, ApiResult};
use crate::extract::{ApiJson, AuthUser, Client};
use crate::keys::Change;
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

/// 422 `wrong_password` naming `field` unless `password` is the account's. A stolen access token
/// must not become a way to guess the password: failures spend the account's budget.
pub async fn confirm_password(
    state: &AppState,
    user: &portal_db::users::User,
    field: &'static str,
    password: String,
) -> ApiResult<()> {
    super::auth::check_presented_password(field, &password)?;
    let account = super::auth::account_key(&user.email);
    let slot = state.account_limiter.reserve(&state.db, &account).await?;
    if !state.hasher.verify(password, Some(user.password_hash.clone())).await? {
        slot.spent();
        return Err(ApiError::new(ErrorCode::WrongPassword, "The password is wrong.").with_field(field));
    }
    slot.release(&state.db).await
}

pub async fn load(state: &AppState, auth: AuthUser) -> ApiResult<portal_db::users::User> {
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

/// How far the signed-in user's teams are through the guide's Quick Reference checklists.
#[utoipa::path(
    tag = "me",
    operation_id = "getGettingStarted",
    security(("bearer" = [])),
    responses((status = 200, description = "Each step, done or not.", body = GettingStarted), Unauthorized, InternalError)
)]
#[get("/me/getting-started")]
pub async fn get_getting_started(state: web::Data<AppState>, auth: AuthUser) -> ApiResult<web::Json<GettingStarted>> {
    Ok(web::Json(portal_db::getting_started::progress(&state.reads, auth.user_id).await?))
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
    state.auth_limiter.spend(&state.db, &format!("password:{}", auth.user_id)).await?;
    let body = body.0;
    super::auth::check_presented_password("current_password", &body.current_password)?;
    let new_password = Password::parse("new_password", &body.new_password)?;
    let user = load(&state, auth).await?;
    confirm_password(&state, &user, "current_password", body.current_password).await?;
    let hash = state.hasher.hash(new_password.expose().to_owned()).await?;
    let now = Utc::now();
    let txn = portal_db::TransactionTrait::begin(&state.db).await?;
    portal_db::users::set_password_hash(&txn, user.id, &hash, now).await?;
    let ended = portal_db::sessions::end_all(&txn, user.id, Some(auth.session_id), now).await?;
    let changes: Vec<Change> = ended.into_iter().map(Change::Session).collect();
    state.keys.commit(txn, &changes).await?;
    Ok(HttpResponse::NoContent().finish())
}

/// The signed-in user's sessions in use: one per sign-in on a device, the latest used first.
#[utoipa::path(
    tag = "me",
    operation_id = "listSessions",
    security(("bearer" = [])),
    responses((status = 200, description = "Sessions in use (at most 500).", body = SessionList), Unauthorized, InternalError)
)]
#[get("/me/sessions")]
pub async fn list_sessions(state: web::Data<AppState>, auth: AuthUser) -> ApiResult<HttpResponse> {
    let rows = portal_db::sessions::list_open(&state.reads, auth.user_id, Utc::now()).await?;
    let items = rows
        .into_iter()
        .map(|s| SessionInfo {
            current: s.id == auth.session_id,
            id: s.id,
            created_at: s.created_at,
            last_used_at: s.last_used_at,
            expires_at: s.expires_at,
            ip: s.ip,
            user_agent: s.user_agent,
        })
        .collect();
    Ok(HttpResponse::Ok().insert_header((header::CACHE_CONTROL, "no-store")).json(SessionList { items }))
}

/// An audit entry of the user's own account (no team), from `client`: about their sessions
/// (`target_type` `session`) or the account itself (`user`).
pub async fn record_for_account(
    db: &impl portal_db::ConnectionTrait,
    (user_id, client): (Uuid, &Client),
    action: portal_types::AuditAction,
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

/// End one of the signed-in user's sessions (the current one too: that signs out here). Its
/// access tokens are refused from now on, on every instance.
#[utoipa::path(
    tag = "me",
    operation_id = "endSession",
    security(("bearer" = [])),
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
    let id = path.into_inner();
    let txn = portal_db::TransactionTrait::begin(&state.db).await?;
    // A refresh of the session racing this waits for it, and then sees it ended.
    portal_db::users::lock_for_sessions(&txn, auth.user_id).await?;
    if !portal_db::sessions::end(&txn, auth.user_id, id, Utc::now()).await? {
        return Err(ApiError::new(ErrorCode::SessionNotFound, "No such session of yours is in use."));
    }
    let target = Some(id.to_string());
    let mut changes = record_for_account(
        &txn,
        (auth.user_id, &client),
        portal_types::AuditAction::SessionEnded,
        ("session", target, None),
    )
    .await?;
    changes.push(Change::Session(id));
    state.keys.commit(txn, &changes).await?;
    Ok(HttpResponse::NoContent().finish())
}

/// End every session of the signed-in user but the current one ("sign out everywhere else").
#[utoipa::path(
    tag = "me",
    operation_id = "endOtherSessions",
    security(("bearer" = [])),
    responses((status = 200, description = "The other sessions have ended.", body = SessionsEnded), Unauthorized, InternalError)
)]
#[delete("/me/sessions/others")]
pub async fn end_other_sessions(
    state: web::Data<AppState>,
    auth: AuthUser,
    client: Client,
) -> ApiResult<web::Json<SessionsEnded>> {
    let txn = portal_db::TransactionTrait::begin(&state.db).await?;
    portal_db::users::lock_for_sessions(&txn, auth.user_id).await?;
    let ended = portal_db::sessions::end_all(&txn, auth.user_id, Some(auth.session_id), Utc::now()).await?;
    let count = ended.len() as u64;
    let mut changes: Vec<Change> = ended.into_iter().map(Change::Session).collect();
    if count > 0 {
        let summary = Some(format!("{count} session{}", if count == 1 { "" } else { "s" }));
        let action = portal_types::AuditAction::OtherSessionsEnded;
        changes.extend(record_for_account(&txn, (auth.user_id, &client), action, ("session", None, summary)).await?);
    }
    state.keys.commit(txn, &changes).await?;
    Ok(web::Json(SessionsEnded { ended: count }))
}
