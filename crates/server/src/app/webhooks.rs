//! Webhook use cases: subscribe an endpoint (the caller must read every family it receives),
//! change, delete, rotate its secret, send a test, redeliver; and the reads of endpoints and
//! their delivery logs.

use chrono::Duration;
use portal_db::webhooks::{Delivery, Endpoint, EndpointChange};
use portal_domain::policy::{Action, Target};
use portal_types::{AuditAction, ErrorCode, EventType, WebhookDelivery, WebhookEndpoint, WebhookEventData};
use uuid::Uuid;

use super::{Begin, TeamTx};
use crate::error::{ApiError, ApiResult};
use crate::reads::webhooks::endpoint_not_found;
use crate::services::change::Change;
use crate::state::AppState;

/// A new `whsec_` secret, and its sealed form for `endpoint`.
fn new_secret(state: &AppState, endpoint: Uuid) -> (String, String) {
    let secret = portal_domain::webhooks::new_secret();
    let sealed = state.webhook_secrets.seal(endpoint.as_bytes(), secret.as_bytes());
    (secret, sealed)
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
    let endpoint = crate::reads::webhooks::to_wire(tx.db(), row, tx.now).await?;
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
    spend_send(&tx).await?;
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
    spend_send(&tx).await?;
    let old = portal_db::webhooks::find_delivery(tx.db(), row.id, delivery_id)
        .await?
        .ok_or_else(|| ApiError::not_found("No such delivery of this endpoint."))?;
    let delivery = portal_db::webhooks::insert_delivery(tx.db(), old.event_id, row.id, tx.now).await?;
    queued(tx, delivery).await
}

/// Test sends and redeliveries a team may ask for in an hour, all its endpoints together.
pub const SENDS_PER_HOUR: u32 = 60;

/// Counts a test send or redelivery against the team's hourly budget: 429 once it is spent.
async fn spend_send(tx: &TeamTx<'_>) -> ApiResult<()> {
    tx.state.webhook_send_limiter.spend(tx.db(), &format!("webhook-sends:{}", tx.team_id())).await
}

async fn queued(tx: TeamTx<'_>, delivery: Delivery) -> ApiResult<WebhookDelivery> {
    let state = tx.state;
    tx.commit().await?;
    state.webhook_wake.notify_one();
    crate::reads::webhooks::deliveries_to_wire(&state.db, vec![delivery])
        .await?
        .pop()
        .ok_or_else(|| ApiError::internal("lost"))
}
