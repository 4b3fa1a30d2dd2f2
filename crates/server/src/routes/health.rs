//! Liveness and readiness.

use actix_web::{HttpResponse, get, web};
use portal_types::Health;

use crate::error::ApiError;
use crate::state::AppState;

/// The process is up.
#[utoipa::path(tag = "health", operation_id = "healthz", responses((status = 200, description = "Alive.", body = Health)))]
#[get("/healthz")]
pub async fn healthz() -> HttpResponse {
    HttpResponse::Ok().json(Health { status: "ok".into() })
}

/// The process can serve: its database answers.
#[utoipa::path(
    tag = "health", operation_id = "readyz",
    responses(
        (status = 200, description = "Ready.", body = Health),
        (status = 503, description = "The database does not answer (`not_ready`).", body = portal_types::Problem, content_type = "application/problem+json"),
    )
)]
#[get("/readyz")]
pub async fn readyz(state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    crate::app::ready(&state).await.map_err(|e| {
        tracing::warn!(error = %e, "readiness check failed");
        ApiError::new(portal_types::ErrorCode::NotReady, "The database does not answer.")
    })?;
    Ok(HttpResponse::Ok().json(Health { status: "ok".into() }))
}

/// Marks the app of the metrics listener, where `/metrics` needs no token.
#[derive(Clone, Copy)]
pub struct MetricsListener;

/// Operational metrics in the Prometheus text format: requests and latency by route template,
/// key verifications by outcome, sign-in failures, the mail and webhook queues. Needs the service
/// token (`PORTAL_SERVICE_TOKEN`) as bearer token.
#[utoipa::path(
    tag = "health", operation_id = "getMetrics", security(("service_token" = [])),
    responses(
        (status = 200, description = "The metrics (Prometheus text format 0.0.4).", content_type = "text/plain", body = String),
        (status = 401, description = "Missing or wrong service token (`unauthorized`).", body = portal_types::Problem, content_type = "application/problem+json"),
        (status = 404, description = "Metrics are off on this portal (`PORTAL_METRICS=false`; `not_found`).", body = portal_types::Problem, content_type = "application/problem+json"),
        crate::error::responses::InternalError,
    )
)]
#[get("/metrics")]
pub async fn metrics(state: web::Data<AppState>, req: actix_web::HttpRequest) -> Result<HttpResponse, ApiError> {
    // On the metrics listener (`PORTAL_METRICS_BIND`) its address is the access control: nothing
    // else is served there.
    if req.app_data::<MetricsListener>().is_none() {
        crate::access::require_service(&req, &state.config, portal_domain::policy::Action::ReadMetrics)?;
    }
    let text = crate::metrics::render(&state.db, &state.reads)
        .await
        .ok_or_else(|| ApiError::not_found("Metrics are off here (PORTAL_METRICS=false)."))?;
    Ok(HttpResponse::Ok()
        .content_type("text/plain; version=0.0.4; charset=utf-8")
        .insert_header(super::NO_STORE)
        .body(text))
}
