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
