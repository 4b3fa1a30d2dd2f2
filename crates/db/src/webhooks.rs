//! Webhooks: a team's endpoints, the durable outbox of events (written in the transaction of the
//! change that raised them), one delivery per event and endpoint, and its attempts.
//!
//! A delivery is taken by one instance at a time: a conditional `UPDATE` sets `locked_until`,
//! and only the request whose update changed the row sends it.

use portal_types::{AuditAction, DeliveryState, EventType, WebhookActor, WebhookEvent, WebhookEventData};
use sea_orm::sea_query::{Expr, ExprTrait as _};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, Condition, ConnectionTrait, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder,
    QuerySelect, Set,
};
use uuid::Uuid;

use crate::entity::webhook_attempt::{self, Entity as Attempts};
use crate::entity::webhook_delivery::{self, Entity as Deliveries};
use crate::entity::webhook_endpoint::{self, Entity as Endpoints};
use crate::entity::webhook_event::{self, Entity as Events};
use crate::{Result, Timestamp};

pub use webhook_attempt::Model as Attempt;
pub use webhook_delivery::Model as Delivery;
pub use webhook_endpoint::Model as Endpoint;
pub use webhook_event::Model as Event;

/// The most endpoints a team may have.
pub const MAX_ENDPOINTS: u64 = 20;

/// The event types an endpoint receives, as stored.
pub fn event_types_of(endpoint: &Endpoint) -> Vec<EventType> {
    endpoint.event_types.split_whitespace().filter_map(EventType::parse).collect()
}

pub fn stored_event_types(types: &[EventType]) -> String {
    let mut names: Vec<&str> = types.iter().map(|t| t.as_str()).collect();
    names.sort_unstable();
    names.dedup();
    names.join(" ")
}

/// What a new endpoint is made of (its secret already encrypted).
pub struct NewEndpoint<'a> {
    pub id: Uuid,
    pub team_id: Uuid,
    pub url: &'a str,
    pub description: Option<&'a str>,
    pub event_types: &'a [EventType],
    pub enabled: bool,
    pub secret: String,
    /// Who subscribes it to `event_types`: a user or a key.
    pub subscriber: Subscriber,
}

/// Who set an endpoint's event types: every delivery checks that they may still read them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Subscriber {
    User(Uuid),
    Key(Uuid),
}

impl Subscriber {
    fn columns(self) -> (Option<Uuid>, Option<Uuid>) {
        match self {
            Subscriber::User(id) => (Some(id), None),
            Subscriber::Key(id) => (None, Some(id)),
        }
    }

    /// Who subscribed `endpoint` (None: made before subscribers were recorded).
    pub fn of(endpoint: &Endpoint) -> Option<Self> {
        match (endpoint.subscriber_user, endpoint.subscriber_key) {
            (_, Some(key)) => Some(Subscriber::Key(key)),
            (Some(user), None) => Some(Subscriber::User(user)),
            (None, None) => None,
        }
    }
}

pub async fn create(db: &impl ConnectionTrait, new: NewEndpoint<'_>, now: Timestamp) -> Result<Endpoint> {
    Ok(webhook_endpoint::ActiveModel {
        id: Set(new.id),
        team_id: Set(new.team_id),
        url: Set(new.url.to_owned()),
        description: Set(new.description.map(str::to_owned)),
        event_types: Set(stored_event_types(new.event_types)),
        enabled: Set(new.enabled),
        secret: Set(new.secret),
        previous_secret: Set(None),
        previous_secret_until: Set(None),
        failing_since: Set(None),
        disabled_reason: Set(None),
        created_at: Set(now),
        updated_at: Set(now),
        subscriber_user: Set(new.subscriber.columns().0),
        subscriber_key: Set(new.subscriber.columns().1),
    }
    .insert(db)
    .await?)
}

pub async fn count(db: &impl ConnectionTrait, team_id: Uuid) -> Result<u64> {
    Ok(Endpoints::find().filter(webhook_endpoint::Column::TeamId.eq(team_id)).count(db).await?)
}

/// The team's endpoints, oldest first.
pub async fn list(db: &impl ConnectionTrait, team_id: Uuid) -> Result<Vec<Endpoint>> {
    Ok(Endpoints::find()
        .filter(webhook_endpoint::Column::TeamId.eq(team_id))
        .order_by_asc(webhook_endpoint::Column::CreatedAt)
        .order_by_asc(webhook_endpoint::Column::Id)
        .limit(MAX_ENDPOINTS)
        .all(db)
        .await?)
}

pub async fn find(db: &impl ConnectionTrait, team_id: Uuid, id: Uuid) -> Result<Option<Endpoint>> {
    Ok(Endpoints::find_by_id(id).filter(webhook_endpoint::Column::TeamId.eq(team_id)).one(db).await?)
}

/// A change of an endpoint; `None` leaves a field as it is.
#[derive(Default)]
pub struct EndpointChange {
    pub url: Option<String>,
    pub description: Option<Option<String>>,
    /// New event types, and who subscribes to them.
    pub event_types: Option<(Vec<EventType>, Subscriber)>,
    pub enabled: Option<bool>,
}

/// Changes an endpoint. Turning it on clears its failure state.
pub async fn update(
    db: &impl ConnectionTrait,
    endpoint: Endpoint,
    change: EndpointChange,
    now: Timestamp,
) -> Result<Endpoint> {
    let mut active: webhook_endpoint::ActiveModel = endpoint.into();
    if let Some(url) = change.url {
        active.url = Set(url);
    }
    if let Some(description) = change.description {
        active.description = Set(description);
    }
    if let Some((types, subscriber)) = change.event_types {
        active.event_types = Set(stored_event_types(&types));
        let (user, key) = subscriber.columns();
        active.subscriber_user = Set(user);
        active.subscriber_key = Set(key);
    }
    if let Some(enabled) = change.enabled {
        active.enabled = Set(enabled);
        if enabled {
            active.failing_since = Set(None);
            active.disabled_reason = Set(None);
        }
    }
    active.updated_at = Set(now);
    Ok(active.update(db).await?)
}

/// A new secret; the old one signs too until `previous_until`.
pub async fn rotate(
    db: &impl ConnectionTrait,
    endpoint: Endpoint,
    secret: String,
    previous_until: Option<Timestamp>,
    now: Timestamp,
) -> Result<Endpoint> {
    let previous = previous_until.map(|_| endpoint.secret.clone());
    let mut active: webhook_endpoint::ActiveModel = endpoint.into();
    active.secret = Set(secret);
    active.previous_secret = Set(previous);
    active.previous_secret_until = Set(previous_until);
    active.updated_at = Set(now);
    Ok(active.update(db).await?)
}

/// Deletes an endpoint with its deliveries and their attempts.
pub async fn delete(db: &impl ConnectionTrait, endpoint_id: Uuid) -> Result<()> {
    let deliveries: Vec<Uuid> = Deliveries::find()
        .select_only()
        .column(webhook_delivery::Column::Id)
        .filter(webhook_delivery::Column::EndpointId.eq(endpoint_id))
        .into_tuple()
        .all(db)
        .await?;
    for chunk in deliveries.chunks(500) {
        Attempts::delete_many().filter(webhook_attempt::Column::DeliveryId.is_in(chunk.to_vec())).exec(db).await?;
    }
    Deliveries::delete_many().filter(webhook_delivery::Column::EndpointId.eq(endpoint_id)).exec(db).await?;
    Endpoints::delete_by_id(endpoint_id).exec(db).await?;
    Ok(())
}

/// Turns an endpoint off for `reason`; its pending deliveries fail. False when it was off already.
pub async fn disable(db: &impl ConnectionTrait, endpoint_id: Uuid, reason: &str, now: Timestamp) -> Result<bool> {
    let done = Endpoints::update_many()
        .col_expr(webhook_endpoint::Column::Enabled, Expr::value(false))
        .col_expr(webhook_endpoint::Column::DisabledReason, Expr::value(reason.chars().take(200).collect::<String>()))
        .col_expr(webhook_endpoint::Column::UpdatedAt, Expr::value(now))
        .filter(webhook_endpoint::Column::Id.eq(endpoint_id))
        .filter(webhook_endpoint::Column::Enabled.eq(true))
        .exec(db)
        .await?;
    Ok(done.rows_affected == 1)
}

/// Records the outcome of an attempt on the endpoint: a success clears its failure state, a
/// failure starts it (once). Returns since when it has been failing.
pub async fn note_outcome(
    db: &impl ConnectionTrait,
    endpoint_id: Uuid,
    succeeded: bool,
    now: Timestamp,
) -> Result<Option<Timestamp>> {
    if succeeded {
        Endpoints::update_many()
            .col_expr(webhook_endpoint::Column::FailingSince, Expr::value(Option::<Timestamp>::None))
            .filter(webhook_endpoint::Column::Id.eq(endpoint_id))
            .filter(webhook_endpoint::Column::FailingSince.is_not_null())
            .exec(db)
            .await?;
        return Ok(None);
    }
    Endpoints::update_many()
        .col_expr(webhook_endpoint::Column::FailingSince, Expr::value(now))
        .filter(webhook_endpoint::Column::Id.eq(endpoint_id))
        .filter(webhook_endpoint::Column::FailingSince.is_null())
        .exec(db)
        .await?;
    let since = Endpoints::find_by_id(endpoint_id)
        .select_only()
        .column(webhook_endpoint::Column::FailingSince)
        .into_tuple::<Option<Timestamp>>()
        .one(db)
        .await?;
    Ok(since.flatten())
}

/// The body of an event (version 1).
pub fn payload(kind: EventType, data: WebhookEventData, now: Timestamp) -> String {
    let event = WebhookEvent { kind, version: 1, timestamp: now, data };
    serde_json::to_string(&event).unwrap_or_default()
}

/// Queues the events of an audited change of a team for every enabled endpoint that wants them.
/// Costs one query when no endpoint wants them.
pub async fn raise(
    db: &impl ConnectionTrait,
    team_id: Uuid,
    action: AuditAction,
    (actor, object_type, object_id, summary): (Option<WebhookActor>, &str, Option<String>, Option<String>),
    now: Timestamp,
) -> Result<()> {
    for &kind in action.events() {
        let data = WebhookEventData {
            team_id,
            actor: actor.clone(),
            object_type: object_type.to_owned(),
            object_id: object_id.clone(),
            summary: summary.clone(),
        };
        raise_event(db, kind, data, now).await?;
    }
    Ok(())
}

/// Queues one event of `data.team_id` for every enabled endpoint of the team that wants it.
pub async fn raise_event(
    db: &impl ConnectionTrait,
    kind: EventType,
    data: WebhookEventData,
    now: Timestamp,
) -> Result<()> {
    let team_id = data.team_id;
    let wanted: Vec<Uuid> = Endpoints::find()
        .filter(webhook_endpoint::Column::TeamId.eq(team_id))
        .filter(webhook_endpoint::Column::Enabled.eq(true))
        .all(db)
        .await?
        .iter()
        .filter(|e| event_types_of(e).contains(&kind))
        .map(|e| e.id)
        .collect();
    if wanted.is_empty() {
        return Ok(());
    }
    let event = insert_event(db, team_id, kind, payload(kind, data, now), now).await?;
    for endpoint in wanted {
        insert_delivery(db, event, endpoint, now).await?;
    }
    Ok(())
}

pub async fn insert_event(
    db: &impl ConnectionTrait,
    team_id: Uuid,
    kind: EventType,
    payload: String,
    now: Timestamp,
) -> Result<Uuid> {
    let id = Uuid::new_v4();
    webhook_event::ActiveModel {
        id: Set(id),
        team_id: Set(team_id),
        event_type: Set(kind.as_str().to_owned()),
        payload: Set(payload),
        created_at: Set(now),
    }
    .insert(db)
    .await?;
    Ok(id)
}

/// A new delivery of an event to an endpoint, due now.
pub async fn insert_delivery(
    db: &impl ConnectionTrait,
    event_id: Uuid,
    endpoint_id: Uuid,
    now: Timestamp,
) -> Result<Delivery> {
    Ok(webhook_delivery::ActiveModel {
        id: Set(Uuid::new_v4()),
        event_id: Set(event_id),
        endpoint_id: Set(endpoint_id),
        state: Set(DeliveryState::Pending.as_str().to_owned()),
        attempts: Set(0),
        next_attempt_at: Set(now),
        locked_until: Set(None),
        last_status: Set(None),
        created_at: Set(now),
        finished_at: Set(None),
    }
    .insert(db)
    .await?)
}

pub async fn find_delivery(db: &impl ConnectionTrait, endpoint_id: Uuid, id: Uuid) -> Result<Option<Delivery>> {
    Ok(Deliveries::find_by_id(id).filter(webhook_delivery::Column::EndpointId.eq(endpoint_id)).one(db).await?)
}

/// What an instance will not take now: deliveries to these endpoints, or to any endpoint of
/// these teams (they have as many attempts running as they may).
#[derive(Debug, Default)]
pub struct Busy {
    pub endpoints: Vec<Uuid>,
    pub teams: Vec<Uuid>,
}

/// Pending deliveries due at `now` that nobody holds and `busy` does not exclude, oldest first,
/// each with its endpoint's team.
pub async fn due(db: &impl ConnectionTrait, now: Timestamp, limit: u64, busy: &Busy) -> Result<Vec<(Delivery, Uuid)>> {
    let mut query = Deliveries::find()
        .filter(webhook_delivery::Column::State.eq(DeliveryState::Pending.as_str()))
        .filter(webhook_delivery::Column::NextAttemptAt.lte(now))
        .filter(
            Condition::any()
                .add(webhook_delivery::Column::LockedUntil.is_null())
                .add(webhook_delivery::Column::LockedUntil.lt(now)),
        );
    if !busy.endpoints.is_empty() {
        query = query.filter(webhook_delivery::Column::EndpointId.is_not_in(busy.endpoints.iter().copied()));
    }
    if !busy.teams.is_empty() {
        let of_busy_teams = sea_orm::sea_query::Query::select()
            .column(webhook_endpoint::Column::Id)
            .from(Endpoints)
            .and_where(webhook_endpoint::Column::TeamId.is_in(busy.teams.iter().copied()))
            .to_owned();
        query = query.filter(webhook_delivery::Column::EndpointId.not_in_subquery(of_busy_teams));
    }
    let due = query.order_by_asc(webhook_delivery::Column::NextAttemptAt).limit(limit).all(db).await?;
    let mut endpoints: Vec<Uuid> = due.iter().map(|d| d.endpoint_id).collect();
    endpoints.sort_unstable();
    endpoints.dedup();
    let teams: std::collections::HashMap<Uuid, Uuid> = Endpoints::find()
        .select_only()
        .column(webhook_endpoint::Column::Id)
        .column(webhook_endpoint::Column::TeamId)
        .filter(webhook_endpoint::Column::Id.is_in(endpoints))
        .into_tuple::<(Uuid, Uuid)>()
        .all(db)
        .await?
        .into_iter()
        .collect();
    // A delivery whose endpoint was deleted meanwhile went with it.
    Ok(due.into_iter().filter_map(|d| teams.get(&d.endpoint_id).map(|team| (d, *team))).collect())
}

/// Moves the endpoint's pending deliveries that are due before `until` to `until` (its circuit
/// breaker opened): no instance tries them before then, and the log shows when they go.
pub async fn postpone_pending(db: &impl ConnectionTrait, endpoint_id: Uuid, until: Timestamp) -> Result<u64> {
    let done = Deliveries::update_many()
        .col_expr(webhook_delivery::Column::NextAttemptAt, Expr::value(until))
        .filter(webhook_delivery::Column::EndpointId.eq(endpoint_id))
        .filter(webhook_delivery::Column::State.eq(DeliveryState::Pending.as_str()))
        .filter(webhook_delivery::Column::NextAttemptAt.lt(until))
        .exec(db)
        .await?;
    Ok(done.rows_affected)
}

/// Takes a delivery until `until`: true for the one instance whose update took it.
pub async fn claim(db: &impl ConnectionTrait, id: Uuid, now: Timestamp, until: Timestamp) -> Result<bool> {
    let done = Deliveries::update_many()
        .col_expr(webhook_delivery::Column::LockedUntil, Expr::value(until))
        .filter(webhook_delivery::Column::Id.eq(id))
        .filter(webhook_delivery::Column::State.eq(DeliveryState::Pending.as_str()))
        .filter(
            Condition::any()
                .add(webhook_delivery::Column::LockedUntil.is_null())
                .add(webhook_delivery::Column::LockedUntil.lt(now)),
        )
        .exec(db)
        .await?;
    Ok(done.rows_affected == 1)
}

pub async fn find_event(db: &impl ConnectionTrait, id: Uuid) -> Result<Option<Event>> {
    Ok(Events::find_by_id(id).one(db).await?)
}

pub async fn find_endpoint(db: &impl ConnectionTrait, id: Uuid) -> Result<Option<Endpoint>> {
    Ok(Endpoints::find_by_id(id).one(db).await?)
}

/// One attempt as recorded.
pub struct NewAttempt {
    pub delivery_id: Uuid,
    pub endpoint_id: Uuid,
    pub attempted_at: Timestamp,
    pub status_code: Option<u16>,
    pub latency_ms: u32,
    pub response_excerpt: Option<String>,
    pub error: Option<String>,
}

/// Records an attempt and moves its delivery on: finished in `state`, or pending again at `next`.
pub async fn record_attempt(
    db: &impl ConnectionTrait,
    attempt: NewAttempt,
    outcome: (DeliveryState, Option<Timestamp>),
) -> Result<()> {
    let (state, next) = outcome;
    let now = attempt.attempted_at;
    let status = attempt.status_code.map(i32::from);
    webhook_attempt::ActiveModel {
        id: Set(Uuid::new_v4()),
        delivery_id: Set(attempt.delivery_id),
        endpoint_id: Set(attempt.endpoint_id),
        attempted_at: Set(now),
        status_code: Set(status),
        latency_ms: Set(i32::try_from(attempt.latency_ms).unwrap_or(i32::MAX)),
        response_excerpt: Set(attempt.response_excerpt.map(|e| e.chars().take(1024).collect())),
        error: Set(attempt.error.map(|e| e.chars().take(300).collect())),
    }
    .insert(db)
    .await?;
    let mut update = Deliveries::update_many()
        .col_expr(webhook_delivery::Column::State, Expr::value(state.as_str()))
        .col_expr(webhook_delivery::Column::Attempts, Expr::col(webhook_delivery::Column::Attempts).add(1))
        .col_expr(webhook_delivery::Column::LastStatus, Expr::value(status))
        .col_expr(webhook_delivery::Column::LockedUntil, Expr::value(Option::<Timestamp>::None));
    update = match next {
        Some(next) => update.col_expr(webhook_delivery::Column::NextAttemptAt, Expr::value(next)),
        None => update.col_expr(webhook_delivery::Column::FinishedAt, Expr::value(now)),
    };
    update.filter(webhook_delivery::Column::Id.eq(attempt.delivery_id)).exec(db).await?;
    Ok(())
}

/// Fails every pending delivery of an endpoint (it was turned off).
pub async fn fail_pending(db: &impl ConnectionTrait, endpoint_id: Uuid, now: Timestamp) -> Result<u64> {
    let done = Deliveries::update_many()
        .col_expr(webhook_delivery::Column::State, Expr::value(DeliveryState::Failed.as_str()))
        .col_expr(webhook_delivery::Column::FinishedAt, Expr::value(now))
        .filter(webhook_delivery::Column::EndpointId.eq(endpoint_id))
        .filter(webhook_delivery::Column::State.eq(DeliveryState::Pending.as_str()))
        .exec(db)
        .await?;
    Ok(done.rows_affected)
}

/// A page of an endpoint's deliveries, newest first, created before `before` (the cursor).
pub async fn deliveries_page(
    db: &impl ConnectionTrait,
    endpoint_id: Uuid,
    state: Option<DeliveryState>,
    before: Option<(Timestamp, Uuid)>,
    limit: u64,
) -> Result<Vec<Delivery>> {
    let mut query = Deliveries::find().filter(webhook_delivery::Column::EndpointId.eq(endpoint_id));
    if let Some(state) = state {
        query = query.filter(webhook_delivery::Column::State.eq(state.as_str()));
    }
    if let Some((at, id)) = before {
        query = query.filter(Condition::any().add(webhook_delivery::Column::CreatedAt.lt(at)).add(
            Condition::all().add(webhook_delivery::Column::CreatedAt.eq(at)).add(webhook_delivery::Column::Id.lt(id)),
        ));
    }
    Ok(query
        .order_by_desc(webhook_delivery::Column::CreatedAt)
        .order_by_desc(webhook_delivery::Column::Id)
        .limit(limit)
        .all(db)
        .await?)
}

/// The attempts of these deliveries, newest first.
pub async fn attempts_of(db: &impl ConnectionTrait, deliveries: Vec<Uuid>) -> Result<Vec<Attempt>> {
    Ok(Attempts::find()
        .filter(webhook_attempt::Column::DeliveryId.is_in(deliveries))
        .order_by_desc(webhook_attempt::Column::AttemptedAt)
        .all(db)
        .await?)
}

/// (id, type, body) of these events.
pub async fn event_types(db: &impl ConnectionTrait, events: Vec<Uuid>) -> Result<Vec<(Uuid, String, String)>> {
    Ok(Events::find()
        .select_only()
        .column(webhook_event::Column::Id)
        .column(webhook_event::Column::EventType)
        .column(webhook_event::Column::Payload)
        .filter(webhook_event::Column::Id.is_in(events))
        .into_tuple()
        .all(db)
        .await?)
}

/// The most attempts an endpoint's figures are made of.
pub const STATS_ATTEMPTS: u64 = 1000;

/// (status, latency in ms) of an endpoint's latest attempts since `since`, at most
/// [`STATS_ATTEMPTS`] of them (one range of its index).
pub async fn recent_attempts(
    db: &impl ConnectionTrait,
    endpoint_id: Uuid,
    since: Timestamp,
) -> Result<Vec<(Option<i32>, i32)>> {
    Ok(Attempts::find()
        .select_only()
        .column(webhook_attempt::Column::StatusCode)
        .column(webhook_attempt::Column::LatencyMs)
        .filter(webhook_attempt::Column::EndpointId.eq(endpoint_id))
        .filter(webhook_attempt::Column::AttemptedAt.gte(since))
        .order_by_desc(webhook_attempt::Column::AttemptedAt)
        .limit(STATS_ATTEMPTS)
        .into_tuple()
        .all(db)
        .await?)
}

/// Deletes up to `batch` finished deliveries created before `before`, with their attempts, then
/// the events no delivery refers to any more. Returns how many rows went.
pub async fn prune(db: &impl ConnectionTrait, before: Timestamp, batch: u64) -> Result<u64> {
    let old: Vec<Uuid> = Deliveries::find()
        .select_only()
        .column(webhook_delivery::Column::Id)
        .filter(webhook_delivery::Column::CreatedAt.lt(before))
        .filter(webhook_delivery::Column::State.ne(DeliveryState::Pending.as_str()))
        .limit(batch)
        .into_tuple()
        .all(db)
        .await?;
    let attempts =
        Attempts::delete_many().filter(webhook_attempt::Column::DeliveryId.is_in(old.clone())).exec(db).await?;
    let deliveries = Deliveries::delete_many().filter(webhook_delivery::Column::Id.is_in(old)).exec(db).await?;
    let referenced = sea_orm::sea_query::Query::select()
        .column(webhook_delivery::Column::EventId)
        .from(webhook_delivery::Entity)
        .to_owned();
    let orphans: Vec<Uuid> = Events::find()
        .select_only()
        .column(webhook_event::Column::Id)
        .filter(webhook_event::Column::CreatedAt.lt(before))
        .filter(webhook_event::Column::Id.not_in_subquery(referenced))
        .limit(batch)
        .into_tuple()
        .all(db)
        .await?;
    let events = Events::delete_many().filter(webhook_event::Column::Id.is_in(orphans)).exec(db).await?;
    Ok(attempts.rows_affected + deliveries.rows_affected + events.rows_affected)
}

/// How many deliveries wait for an attempt, and when the oldest of them was made (for the
/// metrics).
pub async fn backlog(db: &impl ConnectionTrait) -> Result<(u64, Option<Timestamp>)> {
    let waiting = Deliveries::find().filter(webhook_delivery::Column::State.eq(DeliveryState::Pending.as_str()));
    let count = waiting.clone().count(db).await?;
    let oldest = waiting.order_by_asc(webhook_delivery::Column::CreatedAt).one(db).await?.map(|d| d.created_at);
    Ok((count, oldest))
}
