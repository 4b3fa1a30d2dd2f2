//! A team's webhook endpoints with their delivery figures, and their delivery logs.

use chrono::{DateTime, Duration, Utc};
use portal_db::ConnectionTrait;
use portal_db::webhooks::{Delivery, Endpoint};
use portal_types::{
    DeliveryState, EventType, WebhookAttempt, WebhookDelivery, WebhookDeliveryPage, WebhookEndpoint, WebhookHeader,
    WebhookStats,
};
use uuid::Uuid;

use crate::access::TeamAccess;
use crate::error::{ApiError, ApiResult};
use crate::paging::{encode_position, next_cursor, rows_for};
use crate::state::AppState;

pub fn endpoint_not_found() -> ApiError {
    ApiError::not_found("No such webhook endpoint in this team.")
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

pub async fn deliveries_to_wire(db: &impl ConnectionTrait, rows: Vec<Delivery>) -> ApiResult<Vec<WebhookDelivery>> {
    let ids: Vec<Uuid> = rows.iter().map(|d| d.id).collect();
    let events: Vec<Uuid> = rows.iter().map(|d| d.event_id).collect();
    let mut events: std::collections::HashMap<Uuid, (EventType, String)> = portal_db::webhooks::event_types(db, events)
        .await?
        .into_iter()
        .filter_map(|(id, t, body)| EventType::parse(&t).map(|t| (id, (t, body))))
        .collect();
    let event_of: std::collections::HashMap<Uuid, Uuid> = rows.iter().map(|d| (d.id, d.event_id)).collect();
    let mut attempts: std::collections::HashMap<Uuid, Vec<WebhookAttempt>> = std::collections::HashMap::new();
    for a in portal_db::webhooks::attempts_of(db, ids).await? {
        // The headers as sent (they follow from the event and the time), the signature redacted.
        let made = crate::webhooks::made_request(a.error.as_deref());
        let request_headers = match event_of.get(&a.delivery_id).filter(|_| made) {
            Some(event) => crate::webhooks::request_headers(
                *event,
                a.attempted_at.timestamp(),
                crate::webhooks::REDACTED_SIGNATURE.to_owned(),
            )
            .into_iter()
            .map(|(name, value)| WebhookHeader { name: name.to_owned(), value })
            .collect(),
            None => Vec::new(),
        };
        attempts.entry(a.delivery_id).or_default().push(WebhookAttempt {
            attempted_at: a.attempted_at,
            status_code: a.status_code.and_then(|s| u16::try_from(s).ok()),
            latency_ms: u32::try_from(a.latency_ms).unwrap_or(0),
            response_excerpt: a.response_excerpt,
            error: a.error,
            request_headers,
        });
    }
    Ok(rows
        .into_iter()
        .map(|d| {
            let state = DeliveryState::parse(&d.state).unwrap_or(DeliveryState::Failed);
            WebhookDelivery {
                id: d.id,
                event_id: d.event_id,
                event_type: events.get(&d.event_id).map_or(EventType::WebhookTest, |e| e.0),
                request_body: events.remove(&d.event_id).map(|e| e.1).unwrap_or_default(),
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
    state_filter: Option<DeliveryState>,
    before: Option<(DateTime<Utc>, Uuid)>,
    limit: u64,
) -> ApiResult<WebhookDeliveryPage> {
    let row =
        portal_db::webhooks::find(&state.reads, access.team.id, endpoint_id).await?.ok_or_else(endpoint_not_found)?;
    let mut rows =
        portal_db::webhooks::deliveries_page(&state.reads, row.id, state_filter, before, rows_for(limit)).await?;
    let next = next_cursor(&mut rows, limit, |d| encode_position(d.created_at, d.id));
    let items = deliveries_to_wire(&state.reads, rows).await?;
    Ok(WebhookDeliveryPage { items, next_cursor: next })
}
