//! The REST API, one module per resource.

pub mod auth;
pub mod health;
pub mod me;

use utoipa_actix_web::service_config::ServiceConfig;

/// Every `/api/v1` operation. The OpenAPI document is collected from exactly these services,
/// so a mounted operation cannot be missing from it.
pub fn api_v1(cfg: &mut ServiceConfig) {
    cfg.service(auth::signup)
        .service(auth::verify_email)
        .service(auth::resend_verification)
        .service(auth::login)
        .service(auth::refresh)
        .service(auth::logout)
        .service(auth::forgot_password)
        .service(auth::reset_password)
        .service(me::get_me)
        .service(me::update_me)
        .service(me::change_password);
}
