//! Webhooks: a team's endpoints, their deliveries, and the events they receive.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::{Description, EventType, WebhookUrl};

/// An endpoint of a team that receives events, signed per Standard Webhooks.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct WebhookEndpoint {
    pub id: Uuid,
    /// Where events are POSTed (https; http only where the server allows it).
    pub url: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// The event types it receives.
    pub event_types: Vec<EventType>,
    /// Whether events are delivered to it. An endpoint that answers 410, or fails for 5 days, is
    /// turned off (see `disabled_reason`).
    pub enabled: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub disabled_reason: Option<String>,
    /// Since when every delivery has failed (absent while deliveries succeed).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failing_since: Option<DateTime<Utc>>,
    /// Until when deliveries are signed with the previous secret as well (after a rotation).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub previous_secret_until: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// Attempts of the last 24 hours (the latest 1,000 at most).
    pub stats: WebhookStats,
}

/// An endpoint's attempts over the last 24 hours (the latest 1,000 at most).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct WebhookStats {
    /// Attempts made (every try of every delivery).
    pub attempts: u64,
    /// Attempts answered with 2xx.
    pub succeeded: u64,
    /// `succeeded / attempts`, absent without attempts.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub success_rate: Option<f64>,
    /// Median time to the endpoint's answer, in milliseconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub p50_latency_ms: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub p95_latency_ms: Option<u32>,
}

/// `GET /api/v1/teams/{team_id}/webhooks`: every endpoint of the team (at most 20).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct WebhookEndpointList {
    pub items: Vec<WebhookEndpoint>,
}

/// A new endpoint, or a new secret: the signing secret is shown this once.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct WebhookEndpointWithSecret {
    pub endpoint: WebhookEndpoint,
    /// `whsec_` + base64 of 32 random bytes: the key of the `webhook-signature` HMAC.
    pub secret: String,
}

/// `POST /api/v1/teams/{team_id}/webhooks`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct CreateWebhookEndpointRequest {
    #[cfg_attr(feature = "openapi", schema(inline))]
    pub url: WebhookUrl,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(inline))]
    pub description: Option<Description>,
    /// At least one.
    #[cfg_attr(feature = "openapi", schema(min_items = 1))]
    pub event_types: Vec<EventType>,
    /// Default true.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub enabled: Option<bool>,
}

/// `PATCH /api/v1/teams/{team_id}/webhooks/{endpoint_id}`: fields left out stay; an empty
/// description clears it. Turning an endpoint on clears its failure state.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct UpdateWebhookEndpointRequest {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(inline))]
    pub url: Option<WebhookUrl>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(inline))]
    pub description: Option<Description>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(min_items = 1))]
    pub event_types: Option<Vec<EventType>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub enabled: Option<bool>,
}

/// `POST /api/v1/teams/{team_id}/webhooks/{endpoint_id}/rotate-secret`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct RotateWebhookSecretRequest {
    /// Hours (0 to 168, default 24) during which deliveries carry a signature with the old secret
    /// too, so that receivers can switch without losing an event.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(maximum = 168))]
    pub grace_hours: Option<u32>,
}

/// Where a delivery stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum DeliveryState {
    /// Waiting for its next attempt.
    Pending,
    /// Answered with 2xx.
    Delivered,
    /// Out of attempts, answered 410, or its endpoint was turned off.
    Failed,
}

impl DeliveryState {
    pub fn as_str(self) -> &'static str {
        match self {
            DeliveryState::Pending => "pending",
            DeliveryState::Delivered => "delivered",
            DeliveryState::Failed => "failed",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        [DeliveryState::Pending, DeliveryState::Delivered, DeliveryState::Failed].into_iter().find(|d| d.as_str() == s)
    }
}

/// One try of a delivery.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct WebhookAttempt {
    pub attempted_at: DateTime<Utc>,
    /// The endpoint's HTTP status; absent when it did not answer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status_code: Option<u16>,
    pub latency_ms: u32,
    /// The first bytes (at most 1 KiB) of the answer's body.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub response_excerpt: Option<String>,
    /// Why no answer came (timeout, refused address, connection error).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// The headers of the request the attempt made, the signature redacted (when `error` says
    /// the connection failed, they did not reach the endpoint); empty when no request was made
    /// (`error` begins "Not sent:").
    pub request_headers: Vec<WebhookHeader>,
}

/// A header of a webhook request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct WebhookHeader {
    pub name: String,
    pub value: String,
}

/// One event sent (or to be sent) to one endpoint, with its attempts, newest first.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct WebhookDelivery {
    pub id: Uuid,
    /// The event, sent as `webhook-id` (`msg_` + this id): the same for a redelivery.
    pub event_id: Uuid,
    pub event_type: EventType,
    pub state: DeliveryState,
    pub created_at: DateTime<Utc>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_attempt_at: Option<DateTime<Utc>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub finished_at: Option<DateTime<Utc>>,
    /// The body every attempt sends: the event as JSON ([`WebhookEvent`]).
    pub request_body: String,
    pub attempts: Vec<WebhookAttempt>,
}

/// `GET /api/v1/teams/{team_id}/webhooks/{endpoint_id}/deliveries`: newest first.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct WebhookDeliveryPage {
    pub items: Vec<WebhookDelivery>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_cursor: Option<String>,
}

/// The body of every webhook request (version 1). Receivers verify `webhook-signature` over
/// `webhook-id.webhook-timestamp.body` before trusting it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct WebhookEvent {
    /// The event type.
    #[serde(rename = "type")]
    pub kind: EventType,
    /// The payload's version: fields are only ever added within a version.
    pub version: u32,
    /// When it happened.
    pub timestamp: DateTime<Utc>,
    pub data: WebhookEventData,
}

/// What happened, to what, by whom: the audit entry of the change.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct WebhookEventData {
    pub team_id: Uuid,
    /// Who acted (absent for the portal itself: expiry, usage alerts, tests).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub actor: Option<WebhookActor>,
    /// `api_key`, `member`, `invitation`, `team` or `endpoint`.
    pub object_type: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub object_id: Option<String>,
    /// A line for people, e.g. the key's name or the member's new role.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub summary: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct WebhookActor {
    /// `user` or `api_key`.
    #[serde(rename = "type")]
    pub kind: String,
    pub id: Uuid,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
}
