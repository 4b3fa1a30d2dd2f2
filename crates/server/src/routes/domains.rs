//! A team's verified domains: `/teams/{team_id}/domains`.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, delete, get, patch, post, web};
use portal_domain::policy::Action;
use portal_types::{AddDomainRequest, TeamDomain, TeamDomainList, UpdateDomainRequest};
use uuid::Uuid;

use crate::access::TeamAccess;
use crate::app::domains;
use crate::error::ApiResult;
use crate::error::responses::{InternalError, JsonBody, NoAccess, ValidationFailed};
use crate::extract::{ApiJson, Caller, Principal};
use crate::reads;
use crate::state::AppState;

/// The team's domains, oldest first: each with the TXT record that proves it, whether it was
/// found, and its join rule. Owners and admins see them.
#[utoipa::path(
    tag = "domains", operation_id = "listDomains", security(("bearer" = [])),
    params(("team_id" = Uuid, Path, description = "The team.")),
    responses((status = 200, description = "The domains (at most 20).", body = TeamDomainList), NoAccess, InternalError)
)]
#[get("/teams/{team_id}/domains")]
pub async fn list_domains(
    state: web::Data<AppState>,
    auth: Principal,
    path: web::Path<Uuid>,
) -> ApiResult<web::Json<TeamDomainList>> {
    let (access, _) = TeamAccess::load_for_read(&state, &auth, path.into_inner()).await?;
    access.require(Action::ReadDomains)?;
    Ok(web::Json(TeamDomainList { items: reads::domains::list(&state, access.team.id).await? }))
}

/// Add a domain (owners). It is verified once its TXT record (`txt_name`, `txt_value` in the
/// answer) is found by `POST .../verify`.
#[utoipa::path(
    tag = "domains", operation_id = "addDomain", security(("bearer" = [])),
    params(("team_id" = Uuid, Path, description = "The team.")), request_body = AddDomainRequest,
    responses(
        (status = 201, description = "The domain, waiting for its TXT record.", body = TeamDomain),
        (status = 409, description = "The team has this domain already, or 20 domains (`conflict`).", body = portal_types::Problem, content_type = "application/problem+json"),
        JsonBody, NoAccess, ValidationFailed, InternalError,
    )
)]
#[post("/teams/{team_id}/domains")]
pub async fn add_domain(
    caller: Caller,
    path: web::Path<Uuid>,
    body: ApiJson<AddDomainRequest>,
) -> ApiResult<HttpResponse> {
    let domain = portal_domain::domains::parse("domain", &body.0.domain)?;
    let added = domains::add(caller.on(path.into_inner()), domain).await?;
    Ok(HttpResponse::build(StatusCode::CREATED).json(added))
}

/// Look up the domain's TXT record now (owners). The answer says whether it verified the domain
/// (`verified_at`) or why not (`check_error`: the record is missing, holds another value, or the
/// lookup failed). A domain is verified by one team at a time.
#[utoipa::path(
    tag = "domains", operation_id = "verifyDomain", security(("bearer" = [])),
    params(("team_id" = Uuid, Path, description = "The team."), ("domain_id" = Uuid, Path, description = "The domain.")),
    responses(
        (status = 200, description = "The domain after the lookup.", body = TeamDomain),
        (status = 409, description = "Another team verified this domain (`conflict`).", body = portal_types::Problem, content_type = "application/problem+json"),
        NoAccess, InternalError,
    )
)]
#[post("/teams/{team_id}/domains/{domain_id}/verify")]
pub async fn verify_domain(caller: Caller, path: web::Path<(Uuid, Uuid)>) -> ApiResult<web::Json<TeamDomain>> {
    let (team_id, domain_id) = path.into_inner();
    Ok(web::Json(domains::verify(caller.on(team_id), domain_id).await?))
}

/// Set who with an address at the domain may join without an invitation (owners).
#[utoipa::path(
    tag = "domains", operation_id = "updateDomain", security(("bearer" = [])),
    params(("team_id" = Uuid, Path, description = "The team."), ("domain_id" = Uuid, Path, description = "The domain.")),
    request_body = UpdateDomainRequest,
    responses(
        (status = 200, description = "The changed domain.", body = TeamDomain),
        JsonBody, NoAccess, ValidationFailed, InternalError,
    )
)]
#[patch("/teams/{team_id}/domains/{domain_id}")]
pub async fn update_domain(
    caller: Caller,
    path: web::Path<(Uuid, Uuid)>,
    body: ApiJson<UpdateDomainRequest>,
) -> ApiResult<web::Json<TeamDomain>> {
    let (team_id, domain_id) = path.into_inner();
    Ok(web::Json(domains::set_join_rule(caller.on(team_id), domain_id, body.0.join_rule).await?))
}

/// Remove a domain (owners).
#[utoipa::path(
    tag = "domains", operation_id = "removeDomain", security(("bearer" = [])),
    params(("team_id" = Uuid, Path, description = "The team."), ("domain_id" = Uuid, Path, description = "The domain.")),
    responses((status = 204, description = "Removed."), NoAccess, InternalError)
)]
#[delete("/teams/{team_id}/domains/{domain_id}")]
pub async fn remove_domain(caller: Caller, path: web::Path<(Uuid, Uuid)>) -> ApiResult<HttpResponse> {
    let (team_id, domain_id) = path.into_inner();
    domains::remove(caller.on(team_id), domain_id).await?;
    Ok(HttpResponse::NoContent().finish())
}
