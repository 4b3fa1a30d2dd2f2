//! Where partners find help.

use actix_web::http::header::CACHE_CONTROL;
use actix_web::{HttpResponse, get, web};
use portal_types::HelpLinks;

use crate::state::AppState;

/// The operator's documentation, support and community links, for the web app's Help menu and
/// error pages. Public: a partner who cannot sign in needs them most.
#[utoipa::path(
    tag = "help", operation_id = "getHelpLinks",
    responses((status = 200, description = "The links the operator set; an unset one is absent.", body = HelpLinks))
)]
#[get("/help")]
pub async fn get_help_links(state: web::Data<AppState>) -> HttpResponse {
    HttpResponse::Ok().insert_header((CACHE_CONTROL, "public, max-age=300")).json(&state.config.help)
}
