//! Webhook use cases: subscribe an endpoint (the caller must read every family it receives),
//! change, delete, rotate its secret, send a test, redeliver; and the reads of endpoints and
//! their delivery logs.

use chrono::{DateTime, Duration, Utc};
use portal_db::ConnectionTrait;
use portal_db::webhooks::{Delivery, Endpoint, EndpointChange};
use portal_domain::policy::{Action, Target};
use portal_types::{
    AuditAction, DeliveryState, ErrorCode, EventType, WebhookAttempt, WebhookDelivery, WebhookDeliveryPage,
    WebhookEndpoint, WebhookEventData, WebhookStats,
};
use uuid::Uuid;

use super::{Begin, TeamTx};
use crate::access::TeamAccess;
use crate::error::{ApiError, ApiResult};
use crate::paging::{encode_position, next_cursor, rows_for};
use crate::services::invalidation::Change;
use crate::state::AppState;

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

pub async fn to_wire(db: &impl ConnectionTrait, row: Endpoint, now: DateTime<Utc>) -> ApiResult<WebhookEndpoint> {
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

/// A new `whsec_` secret, and its sealed form for `endpoint`.
fn new_secret(state: &AppState, endpoint: Uuid) -> (String, String) {
    let secret = portal_domain::webhooks::new_secret();
    let sealed = state.webhook_secrets.seal(endpoint.as_bytes(), secret.as_bytes());
    (secret, sealed)
}

fn endpoint_not_found() -> ApiError {
    ApiError::not_found("No such webhook endpoint in this team.")
}

/// A unit of work on one of the team's endpoints, by a caller who may manage webhooks.
async fn managed<'r>(begin: Begin<'r>, endpoint_id: Uuid) -> ApiResult<(TeamTx<'r>, Endpoint)> {
    let tx = begin.allowed(Action::ManageWebhooks).await?;
    let row = portal_db::webhooks::find(tx.db(), tx.team_id(), endpoint_id).await?.ok_or_else(endpoint_not_found)?;
    Ok((tx, row))
}

fn require_enabled(row: &Endpoint) -> ApiResult<()> {
    if !row.enabled {
        return Err(ApiError::new(ErrorCode::Conflict, "The endpoint is off: turn it on first."));
    }
    Ok(())
}

async fn deliveries_to_wire(db: &impl ConnectionTrait, rows: Vec<Delivery>) -> ApiResult<Vec<WebhookDelivery>> {
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

/// The team's endpoints, oldest first, with their delivery figures.
pub async fn list(state: &AppState, access: &TeamAccess) -> ApiResult<Vec<WebhookEndpoint>> {
    let now = Utc::now();
    let mut items = Vec::new();
    for row in portal_db::webhooks::list(&state.reads, access.team.id).await? {
        items.push(to_wire(&state.reads, row, now).await?);
    }
    Ok(items)
}

pub async fn get(state: &AppState, access: &TeamAccess, endpoint_id: Uuid) -> ApiResult<WebhookEndpoint> {
    let row =
        portal_db::webhooks::find(&state.reads, access.team.id, endpoint_id).await?.ok_or_else(endpoint_not_found)?;
    to_wire(&state.reads, row, Utc::now()).await
}

/// A page of an endpoint's deliveries, newest first, each with its attempts.
pub async fn deliveries(
    state: &AppState,
    access: &TeamAccess,
    endpoint_id: Uuid,
    before: Option<(DateTime<Utc>, Uuid)>,
    limit: u64,
) -> ApiResult<WebhookDeliveryPage> {
    let row =
        portal_db::webhooks::find(&state.reads, access.team.id, endpoint_id).await?.ok_or_else(endpoint_not_found)?;
    let mut rows = portal_db::webhooks::deliveries_page(&state.reads, row.id, before, rows_for(limit)).await?;
    let next = next_cursor(&mut rows, limit, |d| encode_position(d.created_at, d.id));
    let items = deliveries_to_wire(&state.reads, rows).await?;
    Ok(WebhookDeliveryPage { items, next_cursor: next })
}

/// An endpoint to add, as the request gave it.
pub struct NewEndpoint {
    pub url: String,
    pub description: Option<String>,
    pub event_types: Vec<EventType>,
    pub enabled: bool,
}

/// Subscribes an endpoint; the answer carries its signing secret, once.
pub async fn create(begin: Begin<'_>, new: NewEndpoint) -> ApiResult<(WebhookEndpoint, String)> {
    let mut tx = begin.open(true).await?;
    tx.allow(Action::ManageWebhooks, Target::Team)?;
    tx.access.require_subscription(&new.event_types)?;
    if portal_db::webhooks::count(tx.db(), tx.team_id()).await? >= portal_db::webhooks::MAX_ENDPOINTS {
        return Err(ApiError::new(ErrorCode::Conflict, "A team can have 20 webhook endpoints: delete one first."));
    }
    let id = Uuid::new_v4();
    let (secret, sealed) = new_secret(tx.state, id);
    let row = portal_db::webhooks::NewEndpoint {
        id,
        team_id: tx.team_id(),
        url: &new.url,
        description: new.description.as_deref(),
        event_types: &new.event_types,
        enabled: new.enabled,
        secret: sealed,
        subscriber: tx.access.subscriber(),
    };
    let row = portal_db::webhooks::create(tx.db(), row, tx.now).await?;
    tx.record(AuditAction::WebhookCreated, "endpoint", row.id, crate::webhooks::shown_url(&new.url));
    finish(tx, row).await.map(|endpoint| (endpoint, secret))
}

/// The endpoint as answered, read in the unit of work, which then commits.
async fn finish(mut tx: TeamTx<'_>, row: Endpoint) -> ApiResult<WebhookEndpoint> {
    let endpoint = to_wire(tx.db(), row, tx.now).await?;
    tx.announce(Change::Reads(tx.team_id()));
    tx.commit().await?;
    Ok(endpoint)
}

/// What an endpoint's change asks for; None leaves a setting as it is.
pub struct EndpointUpdate {
    pub url: Option<String>,
    pub description: Option<Option<String>>,
    pub event_types: Option<Vec<EventType>>,
    pub enabled: Option<bool>,
}

/// Changes an endpoint. Turning it on again clears its failure state; turning it off fails its
/// pending deliveries. Who sets the event types subscribes to them: they must read each family.
pub async fn update(begin: Begin<'_>, endpoint_id: Uuid, update: EndpointUpdate) -> ApiResult<WebhookEndpoint> {
    let (mut tx, row) = managed(begin, endpoint_id).await?;
    if let Some(types) = &update.event_types {
        tx.access.require_subscription(types)?;
    }
    let change = EndpointChange {
        url: update.url,
        description: update.description,
        event_types: update.event_types.map(|types| (types, tx.access.subscriber())),
        enabled: update.enabled,
    };
    let row = portal_db::webhooks::update(tx.db(), row, change, tx.now).await?;
    if !row.enabled {
        portal_db::webhooks::fail_pending(tx.db(), row.id, tx.now).await?;
    }
    let summary = format!("{}{}", crate::webhooks::shown_url(&row.url), if row.enabled { "" } else { " (off)" });
    tx.record(AuditAction::WebhookUpdated, "endpoint", row.id, summary);
    finish(tx, row).await
}

/// Deletes an endpoint with its delivery log.
pub async fn delete(begin: Begin<'_>, endpoint_id: Uuid) -> ApiResult<()> {
    let (mut tx, row) = managed(begin, endpoint_id).await?;
    portal_db::webhooks::delete(tx.db(), row.id).await?;
    tx.record(AuditAction::WebhookDeleted, "endpoint", row.id, crate::webhooks::shown_url(&row.url));
    tx.announce(Change::Reads(tx.team_id()));
    tx.commit().await
}

/// A new signing secret, shown this once; the old one also signs for `grace_hours`.
pub async fn rotate(begin: Begin<'_>, endpoint_id: Uuid, grace_hours: u32) -> ApiResult<(WebhookEndpoint, String)> {
    let (mut tx, row) = managed(begin, endpoint_id).await?;
    let (secret, sealed) = new_secret(tx.state, row.id);
    let until = (grace_hours > 0).then(|| tx.now + Duration::hours(i64::from(grace_hours)));
    let row = portal_db::webhooks::rotate(tx.db(), row, sealed, until, tx.now).await?;
    let summary = format!("{}; the old secret signs for {grace_hours} h", crate::webhooks::shown_url(&row.url));
    tx.record(AuditAction::WebhookSecretRotated, "endpoint", row.id, summary);
    finish(tx, row).await.map(|endpoint| (endpoint, secret))
}

/// Queues a `webhook.test` event for the endpoint, and wakes the deliverer.
pub async fn send_test(begin: Begin<'_>, endpoint_id: Uuid) -> ApiResult<WebhookDelivery> {
    let (tx, row) = managed(begin, endpoint_id).await?;
    require_enabled(&row)?;
    let data = WebhookEventData {
        team_id: tx.team_id(),
        actor: None,
        object_type: "endpoint".to_owned(),
        object_id: Some(row.id.to_string()),
        summary: Some("A test event, sent on request.".to_owned()),
    };
    let payload = portal_db::webhooks::payload(EventType::WebhookTest, data, tx.now);
    let event =
        portal_db::webhooks::insert_event(tx.db(), tx.team_id(), EventType::WebhookTest, payload, tx.now).await?;
    let delivery = portal_db::webhooks::insert_delivery(tx.db(), event, row.id, tx.now).await?;
    queued(tx, delivery).await
}

/// Queues a delivery's event again, as a new delivery with the same `webhook-id`.
pub async fn redeliver(begin: Begin<'_>, endpoint_id: Uuid, delivery_id: Uuid) -> ApiResult<WebhookDelivery> {
    let (tx, row) = managed(begin, endpoint_id).await?;
    require_enabled(&row)?;
    let old = portal_db::webhooks::find_delivery(tx.db(), row.id, delivery_id)
        .await?
        .ok_or_else(|| ApiError::not_found("No such delivery of this endpoint."))?;
    let delivery = portal_db::webhooks::insert_delivery(tx.db(), old.event_id, row.id, tx.now).await?;
    queued(tx, delivery).await
}

async fn queued(tx: TeamTx<'_>, delivery: Delivery) -> ApiResult<WebhookDelivery> {
    let state = tx.state;
    tx.commit().await?;
    state.webhook_wake.notify_one();
    deliveries_to_wire(&state.db, vec![delivery]).await?.pop().ok_or_else(|| ApiError::internal("lost"))
}
