//! A team's webhook endpoints: create (the signing secret shown once), list, read with delivery
//! figures, change, delete, rotate the secret, send a test event, read the delivery log and
//! redeliver. Owners and admins, and keys with `webhooks:read` / `webhooks:write`.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, delete, get, patch, post, web};
use portal_domain::policy::Action;
use portal_types::{
    CreateWebhookEndpointRequest, DeliveryState, EventType, RotateWebhookSecretRequest, UpdateWebhookEndpointRequest,
    WebhookDelivery, WebhookDeliveryPage, WebhookEndpoint, WebhookEndpointList, WebhookEndpointWithSecret,
};
use uuid::Uuid;

use crate::access::TeamAccess;
use crate::app::webhooks;
use crate::error::responses::{InternalError, JsonBody, NoAccess, RateLimited, ValidationFailed};
use crate::error::{ApiError, ApiResult};
use crate::extract::{ApiJson, Caller, Principal};
use crate::paging::PageQuery;
use crate::reads;
use crate::state::AppState;

/// The longest URL accepted.
pub const URL_MAX: usize = portal_types::rules::WEBHOOK_URL_MAX_CHARS;
/// The longest grace of a rotated secret, in hours.
pub const GRACE_MAX_HOURS: u32 = 168;

fn parse_url(state: &AppState, raw: &str) -> ApiResult<String> {
    let raw = raw.trim();
    if raw.is_empty() || raw.len() > URL_MAX {
        return Err(ApiError::validation("url", format!("must be a URL of 1 to {URL_MAX} characters")));
    }
    let url = reqwest::Url::parse(raw).map_err(|_| ApiError::validation("url", "must be an absolute URL"))?;
    if url.as_str().len() > URL_MAX {
        return Err(ApiError::validation("url", format!("must be a URL of 1 to {URL_MAX} characters")));
    }
    if let Some(why) = state.webhook_reach.refusal(&url) {
        return Err(ApiError::validation("url", why));
    }
    Ok(url.to_string())
}

fn parse_event_types(types: &[EventType]) -> ApiResult<Vec<EventType>> {
    let mut types: Vec<EventType> = types.to_vec();
    types.sort_unstable();
    types.dedup();
    if types.is_empty() {
        return Err(ApiError::validation("event_types", "must name at least one event type"));
    }
    Ok(types)
}

/// The team's webhook endpoints, oldest first, with their delivery figures of the last 24 hours.
#[utoipa::path(
    tag = "webhooks", operation_id = "listWebhookEndpoints", security(("bearer" = []), ("api_key" = [])),
    params(("team_id" = Uuid, Path, description = "The team.")),
    responses(
        (status = 200, description = "The endpoints (at most 20).", body = WebhookEndpointList),
        NoAccess, InternalError,
    )
)]
#[get("/teams/{team_id}/webhooks")]
pub async fn list_webhook_endpoints(
    state: web::Data<AppState>,
    auth: Principal,
    path: web::Path<Uuid>,
) -> ApiResult<web::Json<WebhookEndpointList>> {
    let (access, _) = TeamAccess::load_for_read(&state, &auth, path.into_inner()).await?;
    access.require(Action::ReadWebhooks)?;
    Ok(web::Json(WebhookEndpointList { items: reads::webhooks::list(&state, &access).await? }))
}

/// Add an endpoint. The answer carries its signing secret, shown this once.
#[utoipa::path(
    tag = "webhooks", operation_id = "createWebhookEndpoint", security(("bearer" = []), ("api_key" = [])),
    params(("team_id" = Uuid, Path, description = "The team.")), request_body = CreateWebhookEndpointRequest,
    responses(
        (status = 201, description = "The endpoint and its secret.", body = WebhookEndpointWithSecret),
        (status = 409, description = "The team has 20 endpoints already (`conflict`).", body = portal_types::Problem, content_type = "application/problem+json"),
        JsonBody, NoAccess, ValidationFailed, InternalError,
    )
)]
#[post("/teams/{team_id}/webhooks")]
pub async fn create_webhook_endpoint(
    caller: Caller,
    path: web::Path<Uuid>,
    body: ApiJson<CreateWebhookEndpointRequest>,
) -> ApiResult<HttpResponse> {
    let body = body.0;
    let new = webhooks::NewEndpoint {
        url: parse_url(&caller.state, &body.url)?,
        description: body.description.and_then(portal_types::Note::value),
        event_types: parse_event_types(&body.event_types)?,
        enabled: body.enabled.unwrap_or(true),
    };
    let (endpoint, secret) = webhooks::create(caller.on(path.into_inner()), new).await?;
    Ok(super::no_store(StatusCode::CREATED, &WebhookEndpointWithSecret { endpoint, secret }))
}

/// One endpoint, with its delivery figures of the last 24 hours.
#[utoipa::path(
    tag = "webhooks", operation_id = "getWebhookEndpoint", security(("bearer" = []), ("api_key" = [])),
    params(("team_id" = Uuid, Path, description = "The team."), ("endpoint_id" = Uuid, Path, description = "The endpoint.")),
    responses((status = 200, description = "The endpoint.", body = WebhookEndpoint), NoAccess, InternalError)
)]
#[get("/teams/{team_id}/webhooks/{endpoint_id}")]
pub async fn get_webhook_endpoint(
    state: web::Data<AppState>,
    auth: Principal,
    path: web::Path<(Uuid, Uuid)>,
) -> ApiResult<web::Json<WebhookEndpoint>> {
    let (team_id, endpoint_id) = path.into_inner();
    let (access, _) = TeamAccess::load_for_read(&state, &auth, team_id).await?;
    access.require(Action::ReadWebhooks)?;
    Ok(web::Json(reads::webhooks::get(&state, &access, endpoint_id).await?))
}

/// Change an endpoint. Turning it on again clears its failure state; turning it off fails its
/// pending deliveries.
#[utoipa::path(
    tag = "webhooks", operation_id = "updateWebhookEndpoint", security(("bearer" = []), ("api_key" = [])),
    params(("team_id" = Uuid, Path, description = "The team."), ("endpoint_id" = Uuid, Path, description = "The endpoint.")),
    request_body = UpdateWebhookEndpointRequest,
    responses(
        (status = 200, description = "The changed endpoint.", body = WebhookEndpoint),
        JsonBody, NoAccess, ValidationFailed, InternalError,
    )
)]
#[patch("/teams/{team_id}/webhooks/{endpoint_id}")]
pub async fn update_webhook_endpoint(
    caller: Caller,
    path: web::Path<(Uuid, Uuid)>,
    body: ApiJson<UpdateWebhookEndpointRequest>,
) -> ApiResult<web::Json<WebhookEndpoint>> {
    let (team_id, endpoint_id) = path.into_inner();
    let body = body.0;
    let update = webhooks::EndpointUpdate {
        url: body.url.as_deref().map(|u| parse_url(&caller.state, u)).transpose()?,
        description: body.description.map(portal_types::Note::value),
        event_types: body.event_types.as_deref().map(parse_event_types).transpose()?,
        enabled: body.enabled,
    };
    Ok(web::Json(webhooks::update(caller.on(team_id), endpoint_id, update).await?))
}

/// Delete an endpoint with its delivery log.
#[utoipa::path(
    tag = "webhooks", operation_id = "deleteWebhookEndpoint", security(("bearer" = []), ("api_key" = [])),
    params(("team_id" = Uuid, Path, description = "The team."), ("endpoint_id" = Uuid, Path, description = "The endpoint.")),
    responses((status = 204, description = "Deleted."), NoAccess, InternalError)
)]
#[delete("/teams/{team_id}/webhooks/{endpoint_id}")]
pub async fn delete_webhook_endpoint(caller: Caller, path: web::Path<(Uuid, Uuid)>) -> ApiResult<HttpResponse> {
    let (team_id, endpoint_id) = path.into_inner();
    webhooks::delete(caller.on(team_id), endpoint_id).await?;
    Ok(HttpResponse::NoContent().finish())
}

/// A new signing secret, shown this once. During the grace period deliveries carry a signature
/// with the old secret as well (`webhook-signature` lists both), so receivers switch at leisure.
#[utoipa::path(
    tag = "webhooks", operation_id = "rotateWebhookSecret", security(("bearer" = []), ("api_key" = [])),
    params(("team_id" = Uuid, Path, description = "The team."), ("endpoint_id" = Uuid, Path, description = "The endpoint.")),
    request_body = RotateWebhookSecretRequest,
    responses(
        (status = 200, description = "The endpoint and its new secret.", body = WebhookEndpointWithSecret),
        JsonBody, NoAccess, ValidationFailed, InternalError,
    )
)]
#[post("/teams/{team_id}/webhooks/{endpoint_id}/rotate-secret")]
pub async fn rotate_webhook_secret(
    caller: Caller,
    path: web::Path<(Uuid, Uuid)>,
    body: ApiJson<RotateWebhookSecretRequest>,
) -> ApiResult<HttpResponse> {
    let (team_id, endpoint_id) = path.into_inner();
    let hours = body.0.grace_hours.unwrap_or(24);
    if hours > GRACE_MAX_HOURS {
        return Err(ApiError::validation("grace_hours", format!("must be 0 to {GRACE_MAX_HOURS}")));
    }
    let (endpoint, secret) = webhooks::rotate(caller.on(team_id), endpoint_id, hours).await?;
    Ok(super::no_store(StatusCode::OK, &WebhookEndpointWithSecret { endpoint, secret }))
}

/// `?state=` of the delivery log.
#[derive(Debug, serde::Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct DeliveryQuery {
    /// Only deliveries in this state, e.g. `failed`.
    #[param(value_type = Option<DeliveryState>)]
    pub state: Option<String>,
}

/// The endpoint's deliveries, newest first, each with the body it sends and its attempts (when,
/// the request's headers with the signature redacted, status, latency, the first bytes of the
/// answer); a pending one says when it is tried next.
#[utoipa::path(
    tag = "webhooks", operation_id = "listWebhookDeliveries", security(("bearer" = []), ("api_key" = [])),
    params(("team_id" = Uuid, Path, description = "The team."), ("endpoint_id" = Uuid, Path, description = "The endpoint."), PageQuery, DeliveryQuery),
    responses(
        (status = 200, description = "A page of deliveries.", body = WebhookDeliveryPage),
        NoAccess, ValidationFailed, InternalError,
    )
)]
#[get("/teams/{team_id}/webhooks/{endpoint_id}/deliveries")]
pub async fn list_webhook_deliveries(
    state: web::Data<AppState>,
    auth: Principal,
    path: web::Path<(Uuid, Uuid)>,
    query: web::Query<PageQuery>,
    filter: web::Query<DeliveryQuery>,
) -> ApiResult<HttpResponse> {
    let (team_id, endpoint_id) = path.into_inner();
    let limit = query.limit()?;
    let before = query.after()?;
    let only = filter
        .state
        .as_deref()
        .map(|s| {
            DeliveryState::parse(s)
                .ok_or_else(|| ApiError::validation("state", "must be `pending`, `delivered` or `failed`"))
        })
        .transpose()?;
    let (access, _) = TeamAccess::load_for_read(&state, &auth, team_id).await?;
    access.require(Action::ReadWebhooks)?;
    let page = reads::webhooks::deliveries(&state, &access, endpoint_id, only, before, limit).await?;
    Ok(super::no_store(StatusCode::OK, &page))
}

/// Send a `webhook.test` event to the endpoint now. Answers the queued delivery; the log shows
/// how it went.
#[utoipa::path(
    tag = "webhooks", operation_id = "sendTestWebhook", security(("bearer" = []), ("api_key" = [])),
    params(("team_id" = Uuid, Path, description = "The team."), ("endpoint_id" = Uuid, Path, description = "The endpoint.")),
    responses(
        (status = 202, description = "Queued; it goes out within a second.", body = WebhookDelivery),
        (status = 409, description = "The endpoint is off (`conflict`).", body = portal_types::Problem, content_type = "application/problem+json"),
        NoAccess, RateLimited, InternalError,
    )
)]
#[post("/teams/{team_id}/webhooks/{endpoint_id}/test")]
pub async fn send_test_webhook(caller: Caller, path: web::Path<(Uuid, Uuid)>) -> ApiResult<HttpResponse> {
    let (team_id, endpoint_id) = path.into_inner();
    Ok(HttpResponse::Accepted().json(webhooks::send_test(caller.on(team_id), endpoint_id).await?))
}

/// Send a delivery's event again, as a new delivery with the same `webhook-id` (receivers that
/// drop duplicates by id drop it too). Works for any past delivery.
#[utoipa::path(
    tag = "webhooks", operation_id = "redeliverWebhook", security(("bearer" = []), ("api_key" = [])),
    params(
        ("team_id" = Uuid, Path, description = "The team."),
        ("endpoint_id" = Uuid, Path, description = "The endpoint."),
        ("delivery_id" = Uuid, Path, description = "The delivery to send again."),
    ),
    responses(
        (status = 202, description = "Queued as a new delivery.", body = WebhookDelivery),
        (status = 409, description = "The endpoint is off (`conflict`).", body = portal_types::Problem, content_type = "application/problem+json"),
        NoAccess, RateLimited, InternalError,
    )
)]
#[post("/teams/{team_id}/webhooks/{endpoint_id}/deliveries/{delivery_id}/redeliver")]
pub async fn redeliver_webhook(caller: Caller, path: web::Path<(Uuid, Uuid, Uuid)>) -> ApiResult<HttpResponse> {
    let (team_id, endpoint_id, delivery_id) = path.into_inner();
    Ok(HttpResponse::Accepted().json(webhooks::redeliver(caller.on(team_id), endpoint_id, delivery_id).await?))
}
