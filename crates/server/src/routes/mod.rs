//! The REST API, one module per resource.

pub mod activity;
pub mod api_keys;
pub mod auth;
pub mod domains;
pub mod health;
pub mod help;
pub mod invitations;
pub mod leaks;
pub mod me;
pub mod members;
pub mod saml;
pub mod sso;
pub mod teams;
pub mod two_factor;
pub mod usage;
pub mod webhooks;

use actix_web::http::{StatusCode, header};
use actix_web::{HttpResponse, web};
use utoipa_actix_web::service_config::ServiceConfig;

/// The header of an answer no cache may keep: secrets, sessions, anything about one account.
pub const NO_STORE: (header::HeaderName, &str) = (header::CACHE_CONTROL, "no-store");

/// A JSON answer no cache may keep.
pub fn no_store(status: StatusCode, body: &impl serde::Serialize) -> HttpResponse {
    HttpResponse::build(status).insert_header(NO_STORE).json(body)
}

/// Every documented route: health probes and the `/api/v1` scope.
pub fn all(cfg: &mut ServiceConfig) {
    cfg.service(health::healthz)
        .service(health::readyz)
        .service(health::metrics)
        .service(utoipa_actix_web::scope("/api/v1").configure(api_v1).default_service(web::to(crate::web::fallback)));
}

/// Every `/api/v1` operation. The OpenAPI document is collected from exactly these services,
/// so a mounted operation cannot be missing from it.
///
/// The router tries routes in this order: what integrators call most comes first.
pub fn api_v1(cfg: &mut ServiceConfig) {
    cfg.service(api_keys::verify_api_key)
        .service(teams::get_team)
        .service(auth::signup)
        .service(auth::verify_email)
        .service(auth::resend_verification)
        .service(auth::login)
        .service(auth::login_two_factor)
        .service(auth::refresh)
        .service(auth::logout)
        .service(auth::forgot_password)
        .service(auth::reset_password)
        .service(me::get_me)
        .service(me::get_getting_started)
        .service(me::update_me)
        .service(me::change_password)
        .service(me::list_sessions)
        // Before `/me/sessions/{session_id}`, which would take "others" for an id.
        .service(me::end_other_sessions)
        .service(me::end_session)
        .service(me::list_joinable_teams)
        .service(two_factor::get_two_factor)
        .service(two_factor::set_up_two_factor)
        .service(two_factor::enable_two_factor)
        .service(two_factor::disable_two_factor)
        .service(two_factor::regenerate_recovery_codes)
        .service(teams::list_teams)
        .service(teams::list_roles)
        .service(teams::create_team)
        .service(teams::update_team)
        .service(teams::join_team)
        .service(teams::get_team_two_factor)
        .service(teams::delete_team)
        .service(members::list_members)
        .service(members::update_member)
        .service(members::remove_member)
        .service(invitations::list_invitations)
        .service(invitations::create_invitation)
        .service(invitations::resend_invitation)
        .service(invitations::revoke_invitation)
        .service(invitations::preview_invitation)
        .service(invitations::accept_invitation)
        .service(activity::list_activity)
        .service(help::get_help_links)
        .service(api_keys::list_api_keys)
        .service(api_keys::create_api_key)
        .service(api_keys::get_api_key)
        .service(api_keys::update_api_key)
        .service(api_keys::revoke_api_key)
        .service(api_keys::roll_api_key)
        .service(api_keys::report_compromised_api_key)
        .service(leaks::report_leaked_keys)
        .service(usage::get_api_key_usage)
        .service(usage::get_team_usage)
        .service(webhooks::list_webhook_endpoints)
        .service(webhooks::create_webhook_endpoint)
        .service(webhooks::get_webhook_endpoint)
        .service(webhooks::update_webhook_endpoint)
        .service(webhooks::delete_webhook_endpoint)
        .service(webhooks::rotate_webhook_secret)
        .service(webhooks::list_webhook_deliveries)
        .service(webhooks::send_test_webhook)
        .service(webhooks::redeliver_webhook)
        .service(domains::list_domains)
        .service(domains::add_domain)
        .service(domains::verify_domain)
        .service(domains::update_domain)
        .service(domains::remove_domain)
        .service(sso::list_sso_connections)
        .service(sso::create_sso_connection)
        .service(sso::update_sso_connection)
        .service(sso::delete_sso_connection)
        .service(sso::test_sso_connection)
        .service(sso::discover_sso)
        .service(sso::start_sso)
        .service(sso::sso_callback)
        .service(saml::saml_acs)
        .service(saml::saml_finish)
        .service(saml::saml_metadata);
}
