//! A team's webhook endpoints: create (the signing secret shown once), list, read with delivery
//! figures, change, delete, rotate the secret, send a test event, read the delivery log and
//! redeliver. Owners and admins, and keys with `webhooks:read` / `webhooks:write`.

use actix_web::http::header;
use actix_web::{HttpResponse, delete, get, patch, post, web};
use chrono::{DateTime, Duration, Utc};
use portal_db::{ConnectionTrait, TransactionTrait};
use portal_domain::teams::{Action, parse_note};
use portal_types::{
    AuditAction, CreateWebhookEndpointRequest, DeliveryState, ErrorCode, EventType, RotateWebhookSecretRequest,
    UpdateWebhookEndpointRequest, WebhookAttempt, WebhookDelivery, WebhookDeliveryPage, WebhookEndpoint,
    WebhookEndpointList, WebhookEndpointWithSecret, WebhookEventData, WebhookStats,
};
use uuid::Uuid;

use crate::access::TeamAccess;
use crate::error::{ApiError, ApiResult};
use crate::extract::{ApiJson, Client, Principal};
use crate::keys::Change;
use crate::openapi::{
    BadRequest, Forbidden, InternalError, NotFound, PayloadTooLarge, Unauthorized, UnsupportedMediaType,
    ValidationFailed,
};
use crate::paging::{PageQuery, encode_position, next_cursor, rows_for};
use crate::state::AppState;

/// The longest URL accepted.
pub const URL_MAX: usize = portal_types::rules::WEBHOOK_URL_MAX_CHARS;
/// The longest grace of a rotated secret, in hours.
pub const GRACE_MAX_HOURS: u32 = 168;

fn endpoint_not_found() -> ApiError {
    ApiError::not_found("No such webhook endpoint in this team.")
}

/// In `txn`: the caller's standing in the team, which must allow managing webhooks, and the
/// team's endpoint.
async fn managed_endpoint(
    txn: &portal_db::DatabaseTransaction,
    auth: &Principal,
    (team_id, endpoint_id): (Uuid, Uuid),
) -> ApiResult<(TeamAccess, portal_db::webhooks::Endpoint)> {
    let access = TeamAccess::load(txn, auth, team_id).await?;
    access.require(Action::ManageWebhooks)?;
    let row = portal_db::webhooks::find(txn, team_id, endpoint_id).await?.ok_or_else(endpoint_not_found)?;
    Ok((access, row))
}

fn require_enabled(row: &portal_db::webhooks::Endpoint) -> ApiResult<()> {
    if !row.enabled {
        return Err(ApiError::new(ErrorCode::Conflict, "The endpoint is off: turn it on first."));
    }
    Ok(())
}

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

async fn stats(db: &impl ConnectionTrait, endpoint: Uuid, now: DateTime<Utc>) -> ApiResult<WebhookStats> {
    let rows = portal_db::webhooks::recent_attempts(db, endpoint, now - Duration::hours(24)).await?;
    let attempts = rows.len() as u64;
    let succeeded = rows.iter().filter(|(s, _)| s.is_some_and(|s| (200..300).contains(&s))).count() as u64;
    let mut latencies: Vec<u32> = rows.iter().map(|(_, l)| u32::try_from(*l).unwrap_or(0)).collect();
    latencies.sort_unstable();
    let at = |q: f64| latencies.get(((latencies.len() as f64 - 1.0) * q).round() as usize).copied();
    Ok(WebhookStats {
        attempts,
        succeeded,
        success_rate: (attempts > 0).then(|| succeeded as f64 / attempts as f64),
        p50_latency_ms: at(0.5),
        p95_latency_ms: at(0.95),
    })
}

async fn to_wire(
    db: &impl ConnectionTrait,
    row: portal_db::webhooks::Endpoint,
    now: DateTime<Utc>,
) -> ApiResult<WebhookEndpoint> {
    Ok(WebhookEndpoint {
        stats: stats(db, row.id, now).await?,
        event_types: portal_db::webhooks::event_types_of(&row),
        id: row.id,
        url: row.url,
        description: row.description,
        enabled: row.enabled,
        disabled_reason: row.disabled_reason,
        failing_since: row.failing_since,
        previous_secret_until: row.previous_secret_until.filter(|until| *until > now),
        created_at: row.created_at,
        updated_at: row.updated_at,
    })
}

fn no_store(body: &impl serde::Serialize, status: actix_web::http::StatusCode) -> HttpResponse {
    HttpResponse::build(status).insert_header((header::CACHE_CONTROL, "no-store")).json(body)
}

/// A new `whsec_` secret, and its sealed form for `endpoint`.
fn new_secret(state: &AppState, endpoint: Uuid) -> (String, String) {
    let secret = portal_domain::webhooks::new_secret();
    let sealed = state.webhook_secrets.seal(endpoint.as_bytes(), secret.as_bytes());
    (secret, sealed)
}

/// The team's webhook endpoints, oldest first, with their delivery figures of the last 24 hours.
#[utoipa::path(
    tag = "webhooks",
    operation_id = "listWebhookEndpoints",
    security(("bearer" = []), ("api_key" = [])),
    params(("team_id" = Uuid, Path, description = "The team.")),
    responses((status = 200, description = "The endpoints (at most 20).", body = WebhookEndpointList), Unauthorized, Forbidden, NotFound, InternalError)
)]
#[get("/teams/{team_id}/webhooks")]
pub async fn list_webhook_endpoints(
    state: web::Data<AppState>,
    auth: Principal,
    path: web::Path<Uuid>,
) -> ApiResult<web::Json<WebhookEndpointList>> {
    let (access, _) = TeamAccess::load_for_read(&state, &auth, path.into_inner()).await?;
    access.require(Action::ReadWebhooks)?;
    let now = Utc::now();
    let mut items = Vec::new();
    for row in portal_db::webhooks::list(&state.reads, access.team.id).await? {
        items.push(to_wire(&state.reads, row, now).await?);
    }
    Ok(web::Json(WebhookEndpointList { items }))
}

/// Add an endpoint. The answer carries its signing secret, shown this once.
#[utoipa::path(
    tag = "webhooks",
    operation_id = "createWebhookEndpoint",
    security(("bearer" = []), ("api_key" = [])),
    params(("team_id" = Uuid, Path, description = "The team.")),
    request_body = CreateWebhookEndpointRequest,
    responses(
        (status = 201, description = "The endpoint and its secret.", body = WebhookEndpointWithSecret),
        (status = 409, description = "The team has 20 endpoints already (`conflict`).", body = portal_types::Problem, content_type = "application/problem+json"),
        BadRequest, Unauthorized, Forbidden, NotFound, PayloadTooLarge, UnsupportedMediaType, ValidationFailed, InternalError,
    )
)]
#[post("/teams/{team_id}/webhooks")]
pub async fn create_webhook_endpoint(
    state: web::Data<AppState>,
    auth: Principal,
    client: Client,
    path: web::Path<Uuid>,
    body: ApiJson<CreateWebhookEndpointRequest>,
) -> ApiResult<HttpResponse> {
    let body = body.0;
    let url = parse_url(&state, &body.url)?;
    let description = parse_note("description", body.description.as_deref(), 500)?;
    let event_types = parse_event_types(&body.event_types)?;
    let now = Utc::now();
    let txn = state.db.begin().await?;
    let access = TeamAccess::load(&txn, &auth, path.into_inner()).await?;
    access.require(Action::ManageWebhooks)?;
    access.require_subscription(&event_types)?;
    portal_db::teams::lock(&txn, access.team.id).await?;
    if portal_db::webhooks::count(&txn, access.team.id).await? >= portal_db::webhooks::MAX_ENDPOINTS {
        return Err(ApiError::new(ErrorCode::Conflict, "A team can have 20 webhook endpoints: delete one first."));
    }
    let id = Uuid::new_v4();
    let (secret, sealed) = new_secret(&state, id);
    let new = portal_db::webhooks::NewEndpoint {
        id,
        team_id: access.team.id,
        url: &url,
        description: description.as_deref(),
        event_types: &event_types,
        enabled: body.enabled.unwrap_or(true),
        secret: sealed,
        subscriber: access.subscriber(),
    };
    let row = portal_db::webhooks::create(&txn, new, now).await?;
    let shown = Some(crate::webhooks::shown_url(&url));
    let entry = access.entry(&client, AuditAction::WebhookCreated, "endpoint", Some(row.id.to_string()), shown);
    portal_db::audit::record(&txn, entry, now).await?;
    let endpoint = to_wire(&txn, row, now).await?;
    state.keys.commit(txn, &[Change::Reads(access.team.id)]).await?;
    Ok(no_store(&WebhookEndpointWithSecret { endpoint, secret }, actix_web::http::StatusCode::CREATED))
}

/// One endpoint, with its delivery figures of the last 24 hours.
#[utoipa::path(
    tag = "webhooks",
    operation_id = "getWebhookEndpoint",
    security(("bearer" = []), ("api_key" = [])),
    params(("team_id" = Uuid, Path, description = "The team."), ("endpoint_id" = Uuid, Path, description = "The endpoint.")),
    responses((status = 200, description = "The endpoint.", body = WebhookEndpoint), Unauthorized, Forbidden, NotFound, InternalError)
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
    let row = portal_db::webhooks::find(&state.reads, team_id, endpoint_id).await?.ok_or_else(endpoint_not_found)?;
    Ok(web::Json(to_wire(&state.reads, row, Utc::now()).await?))
}

/// Change an endpoint. Turning it on again clears its failure state; turning it off fails its
/// pending deliveries.
#[utoipa::path(
    tag = "webhooks",
    operation_id = "updateWebhookEndpoint",
    security(("bearer" = []), ("api_key" = [])),
    params(("team_id" = Uuid, Path, description = "The team."), ("endpoint_id" = Uuid, Path, description = "The endpoint.")),
    request_body = UpdateWebhookEndpointRequest,
    responses(
        (status = 200, description = "The changed endpoint.", body = WebhookEndpoint),
        BadRequest, Unauthorized, Forbidden, NotFound, PayloadTooLarge, UnsupportedMediaType, ValidationFailed, InternalError,
    )
)]
#[patch("/teams/{team_id}/webhooks/{endpoint_id}")]
pub async fn update_webhook_endpoint(
    state: web::Data<AppState>,
    auth: Principal,
    client: Client,
    path: web::Path<(Uuid, Uuid)>,
    body: ApiJson<UpdateWebhookEndpointRequest>,
) -> ApiResult<web::Json<WebhookEndpoint>> {
    let (team_id, endpoint_id) = path.into_inner();
    let body = body.0;
    let url = body.url.as_deref().map(|u| parse_url(&state, u)).transpose()?;
    let description = match body.description.as_deref() {
        None => None,
        Some(raw) => Some(parse_note("description", Some(raw), 500)?),
    };
    let event_types = body.event_types.as_deref().map(parse_event_types).transpose()?;
    let now = Utc::now();
    let txn = state.db.begin().await?;
    let (access, row) = managed_endpoint(&txn, &auth, (team_id, endpoint_id)).await?;
    // Who sets the event types subscribes to them: they must read each family.
    if let Some(types) = &event_types {
        access.require_subscription(types)?;
    }
    let change = portal_db::webhooks::EndpointChange {
        url,
        description,
        event_types: event_types.map(|types| (types, access.subscriber())),
        enabled: body.enabled,
    };
    let row = portal_db::webhooks::update(&txn, row, change, now).await?;
    if !row.enabled {
        portal_db::webhooks::fail_pending(&txn, row.id, now).await?;
    }
    let summary = format!("{}{}", crate::webhooks::shown_url(&row.url), if row.enabled { "" } else { " (off)" });
    let entry = access.entry(&client, AuditAction::WebhookUpdated, "endpoint", Some(row.id.to_string()), Some(summary));
    portal_db::audit::record(&txn, entry, now).await?;
    let endpoint = to_wire(&txn, row, now).await?;
    state.keys.commit(txn, &[Change::Reads(team_id)]).await?;
    Ok(web::Json(endpoint))
}

/// Delete an endpoint with its delivery log.
#[utoipa::path(
    tag = "webhooks",
    operation_id = "deleteWebhookEndpoint",
    security(("bearer" = []), ("api_key" = [])),
    params(("team_id" = Uuid, Path, description = "The team."), ("endpoint_id" = Uuid, Path, description = "The endpoint.")),
    responses((status = 204, description = "Deleted."), Unauthorized, Forbidden, NotFound, InternalError)
)]
#[delete("/teams/{team_id}/webhooks/{endpoint_id}")]
pub async fn delete_webhook_endpoint(
    state: web::Data<AppState>,
    auth: Principal,
    client: Client,
    path: web::Path<(Uuid, Uuid)>,
) -> ApiResult<HttpResponse> {
    let (team_id, endpoint_id) = path.into_inner();
    let now = Utc::now();
    let txn = state.db.begin().await?;
    let (access, row) = managed_endpoint(&txn, &auth, (team_id, endpoint_id)).await?;
    portal_db::webhooks::delete(&txn, row.id).await?;
    let shown = Some(crate::webhooks::shown_url(&row.url));
    let entry = access.entry(&client, AuditAction::WebhookDeleted, "endpoint", Some(row.id.to_string()), shown);
    portal_db::audit::record(&txn, entry, now).await?;
    state.keys.commit(txn, &[Change::Reads(team_id)]).await?;
    Ok(HttpResponse::NoContent().finish())
}

/// A new signing secret, shown this once. During the grace period deliveries carry a signature
/// with the old secret as well (`webhook-signature` lists both), so receivers switch at leisure.
#[utoipa::path(
    tag = "webhooks",
    operation_id = "rotateWebhookSecret",
    security(("bearer" = []), ("api_key" = [])),
    params(("team_id" = Uuid, Path, description = "The team."), ("endpoint_id" = Uuid, Path, description = "The endpoint.")),
    request_body = RotateWebhookSecretRequest,
    responses(
        (status = 200, description = "The endpoint and its new secret.", body = WebhookEndpointWithSecret),
        BadRequest, Unauthorized, Forbidden, NotFound, PayloadTooLarge, UnsupportedMediaType, ValidationFailed, InternalError,
    )
)]
#[post("/teams/{team_id}/webhooks/{endpoint_id}/rotate-secret")]
pub async fn rotate_webhook_secret(
    state: web::Data<AppState>,
    auth: Principal,
    client: Client,
    path: web::Path<(Uuid, Uuid)>,
    body: ApiJson<RotateWebhookSecretRequest>,
) -> ApiResult<HttpResponse> {
    let (team_id, endpoint_id) = path.into_inner();
    let hours = body.0.grace_hours.unwrap_or(24);
    if hours > GRACE_MAX_HOURS {
        return Err(ApiError::validation("grace_hours", format!("must be 0 to {GRACE_MAX_HOURS}")));
    }
    let now = Utc::now();
    let txn = state.db.begin().await?;
    let (access, row) = managed_endpoint(&txn, &auth, (team_id, endpoint_id)).await?;
    let (secret, sealed) = new_secret(&state, row.id);
    let until = (hours > 0).then(|| now + Duration::hours(i64::from(hours)));
    let row = portal_db::webhooks::rotate(&txn, row, sealed, until, now).await?;
    let summary = Some(format!("{}; the old secret signs for {hours} h", crate::webhooks::shown_url(&row.url)));
    let entry = access.entry(&client, AuditAction::WebhookSecretRotated, "endpoint", Some(row.id.to_string()), summary);
    portal_db::audit::record(&txn, entry, now).await?;
    let endpoint = to_wire(&txn, row, now).await?;
    state.keys.commit(txn, &[Change::Reads(team_id)]).await?;
    Ok(no_store(&WebhookEndpointWithSecret { endpoint, secret }, actix_web::http::StatusCode::OK))
}

async fn deliveries_to_wire(
    db: &impl ConnectionTrait,
    rows: Vec<portal_db::webhooks::Delivery>,
) -> ApiResult<Vec<WebhookDelivery>> {
    let ids: Vec<Uuid> = rows.iter().map(|d| d.id).collect();
    let events: Vec<Uuid> = rows.iter().map(|d| d.event_id).collect();
    let types: std::collections::HashMap<Uuid, EventType> = portal_db::webhooks::event_types(db, events)
        .await?
        .into_iter()
        .filter_map(|(id, t)| EventType::parse(&t).map(|t| (id, t)))
        .collect();
    let mut attempts: std::collections::HashMap<Uuid, Vec<WebhookAttempt>> = std::collections::HashMap::new();
    for a in portal_db::webhooks::attempts_of(db, ids).await? {
        attempts.entry(a.delivery_id).or_default().push(WebhookAttempt {
            attempted_at: a.attempted_at,
            status_code: a.status_code.and_then(|s| u16::try_from(s).ok()),
            latency_ms: u32::try_from(a.latency_ms).unwrap_or(0),
            response_excerpt: a.response_excerpt,
            error: a.error,
        });
    }
    Ok(rows
        .into_iter()
        .map(|d| {
            let state = DeliveryState::parse(&d.state).unwrap_or(DeliveryState::Failed);
            WebhookDelivery {
                id: d.id,
                event_id: d.event_id,
                event_type: types.get(&d.event_id).copied().unwrap_or(EventType::WebhookTest),
                state,
                created_at: d.created_at,
                next_attempt_at: (state == DeliveryState::Pending).then_some(d.next_attempt_at),
                finished_at: d.finished_at,
                attempts: attempts.remove(&d.id).unwrap_or_default(),
            }
        })
        .collect())
}

/// The endpoint's deliveries, newest first, each with its attempts (status, latency, the first
/// bytes of the answer).
#[utoipa::path(
    tag = "webhooks",
    operation_id = "listWebhookDeliveries",
    security(("bearer" = []), ("api_key" = [])),
    params(("team_id" = Uuid, Path, description = "The team."), ("endpoint_id" = Uuid, Path, description = "The endpoint."), PageQuery),
    responses((status = 200, description = "A page of deliveries.", body = WebhookDeliveryPage), Unauthorized, Forbidden, NotFound, ValidationFailed, InternalError)
)]
#[get("/teams/{team_id}/webhooks/{endpoint_id}/deliveries")]
pub async fn list_webhook_deliveries(
    state: web::Data<AppState>,
    auth: Principal,
    path: web::Path<(Uuid, Uuid)>,
    query: web::Query<PageQuery>,
) -> ApiResult<HttpResponse> {
    let (team_id, endpoint_id) = path.into_inner();
    let limit = query.limit()?;
    let before = query.after()?;
    let (access, _) = TeamAccess::load_for_read(&state, &auth, team_id).await?;
    access.require(Action::ReadWebhooks)?;
    let row = portal_db::webhooks::find(&state.reads, team_id, endpoint_id).await?.ok_or_else(endpoint_not_found)?;
    let mut rows = portal_db::webhooks::deliveries_page(&state.reads, row.id, before, rows_for(limit)).await?;
    let next = next_cursor(&mut rows, limit, |d| encode_position(d.created_at, d.id));
    let items = deliveries_to_wire(&state.reads, rows).await?;
    let page = WebhookDeliveryPage { items, next_cursor: next };
    Ok(HttpResponse::Ok().insert_header((header::CACHE_CONTROL, "no-store")).json(page))
}

/// Send a `webhook.test` event to the endpoint now. Answers the queued delivery; the log shows
/// how it went.
#[utoipa::path(
    tag = "webhooks",
    operation_id = "sendTestWebhook",
    security(("bearer" = []), ("api_key" = [])),
    params(("team_id" = Uuid, Path, description = "The team."), ("endpoint_id" = Uuid, Path, description = "The endpoint.")),
    responses(
        (status = 202, description = "Queued; it goes out within a second.", body = WebhookDelivery),
        (status = 409, description = "The endpoint is off (`conflict`).", body = portal_types::Problem, content_type = "application/problem+json"),
        Unauthorized, Forbidden, NotFound, InternalError,
    )
)]
#[post("/teams/{team_id}/webhooks/{endpoint_id}/test")]
pub async fn send_test_webhook(
    state: web::Data<AppState>,
    auth: Principal,
    path: web::Path<(Uuid, Uuid)>,
) -> ApiResult<HttpResponse> {
    let (team_id, endpoint_id) = path.into_inner();
    let now = Utc::now();
    let txn = state.db.begin().await?;
    let (_, row) = managed_endpoint(&txn, &auth, (team_id, endpoint_id)).await?;
    require_enabled(&row)?;
    let data = WebhookEventData {
        team_id,
        actor: None,
        object_type: "endpoint".to_owned(),
        object_id: Some(row.id.to_string()),
        summary: Some("A test event, sent on request.".to_owned()),
    };
    let payload = portal_db::webhooks::payload(EventType::WebhookTest, data, now);
    let event = portal_db::webhooks::insert_event(&txn, team_id, EventType::WebhookTest, payload, now).await?;
    let delivery = portal_db::webhooks::insert_delivery(&txn, event, row.id, now).await?;
    txn.commit().await?;
    state.webhook_wake.notify_one();
    let wire = deliveries_to_wire(&state.db, vec![delivery]).await?.pop().ok_or_else(|| ApiError::internal("lost"))?;
    Ok(HttpResponse::Accepted().json(wire))
}

/// Send a delivery's event again, as a new delivery with the same `webhook-id` (receivers that
/// drop duplicates by id drop it too). Works for any past delivery.
#[utoipa::path(
    tag = "webhooks",
    operation_id = "redeliverWebhook",
    security(("bearer" = []), ("api_key" = [])),
    params(
        ("team_id" = Uuid, Path, description = "The team."),
        ("endpoint_id" = Uuid, Path, description = "The endpoint."),
        ("delivery_id" = Uuid, Path, description = "The delivery to send again."),
    ),
    responses(
        (status = 202, description = "Queued as a new delivery.", body = WebhookDelivery),
        (status = 409, description = "The endpoint is off (`conflict`).", body = portal_types::Problem, content_type = "application/problem+json"),
        Unauthorized, Forbidden, NotFound, InternalError,
    )
)]
#[post("/teams/{team_id}/webhooks/{endpoint_id}/deliveries/{delivery_id}/redeliver")]
pub async fn redeliver_webhook(
    state: web::Data<AppState>,
    auth: Principal,
    path: web::Path<(Uuid, Uuid, Uuid)>,
) -> ApiResult<HttpResponse> {
    let (team_id, endpoint_id, delivery_id) = path.into_inner();
    let now = Utc::now();
    let txn = state.db.begin().await?;
    let (_, row) = managed_endpoint(&txn, &auth, (team_id, endpoint_id)).await?;
    require_enabled(&row)?;
    let old = portal_db::webhooks::find_delivery(&txn, row.id, delivery_id)
        .await?
        .ok_or_else(|| ApiError::not_found("No such delivery of this endpoint."))?;
    let delivery = portal_db::webhooks::insert_delivery(&txn, old.event_id, row.id, now).await?;
    txn.commit().await?;
    state.webhook_wake.notify_one();
    let wire = deliveries_to_wire(&state.db, vec![delivery]).await?.pop().ok_or_else(|| ApiError::internal("lost"))?;
    Ok(HttpResponse::Accepted().json(wire))
}
