//! SAML 2.0 sign-in through a team's SAML connection: the assertion consumer service the IdP
//! posts to (`/auth/sso/saml/{id}/acs`), the browser's collection of the verified sign-in
//! (`/auth/sso/saml/finish`), and the portal's SP metadata per connection.

use actix_web::{HttpRequest, HttpResponse, get, post, web};
use portal_types::{ErrorCode, SsoProtocol};
use uuid::Uuid;

use super::sso::{arrive, browser_cookie, see_other};
use crate::app::sso_sign_in::{self, BROWSER_COOKIE, Posted};
use crate::error::responses::{InternalError, RateLimited};
use crate::error::{ApiError, ApiResult};
use crate::extract::Client;
use crate::state::AppState;

/// The largest form the assertion consumer service reads.
const ACS_FORM_LIMIT: usize = 1024 * 1024;

/// The SAML IdP's answer, as posted to the assertion consumer service.
#[derive(Debug, serde::Deserialize, utoipa::ToSchema)]
pub struct SamlPost {
    /// The response (base64 XML).
    #[serde(rename = "SAMLResponse")]
    #[schema(min_length = 1)]
    pub saml_response: String,
    /// The flow's state, as the portal sent it with the request.
    #[serde(rename = "RelayState")]
    pub relay_state: Option<String>,
}

/// A SAML connection's assertion consumer service (HTTP-POST binding): give this URL (the
/// connection's `saml.acs_url`) to the IdP. A verified response sends the browser on to
/// `/auth/sso/saml/finish`, which completes the sign-in in the browser that started it; a refused
/// one sends it to the sign-in page with `?sso_error=<reason>` (a test to the team's settings).
#[utoipa::path(
    tag = "auth", operation_id = "samlAcs",
    params(("connection_id" = Uuid, Path, description = "The SAML connection.")),
    request_body(content = SamlPost, content_type = "application/x-www-form-urlencoded"),
    responses(
        (status = 303, description = "On to collect the sign-in, or back with the reason.", headers(("Location" = String, description = "Where the browser goes."), ("Set-Cookie" = String, description = "`pp_sso` for a sign-in started at the IdP."))),
        (status = 400, description = "No form, or no `SAMLResponse` in it (`bad_request`).", body = portal_types::Problem, content_type = "application/problem+json"),
        (status = 404, description = "The path's connection id is not a UUID (`not_found`).", body = portal_types::Problem, content_type = "application/problem+json"),
        (status = 413, description = "A form larger than 1 MiB (`payload_too_large`).", body = portal_types::Problem, content_type = "application/problem+json"),
        RateLimited, InternalError,
    )
)]
#[post("/auth/sso/saml/{connection_id}/acs")]
pub async fn saml_acs(
    state: web::Data<AppState>,
    req: HttpRequest,
    client: Client,
    path: web::Path<Uuid>,
    mut payload: web::Payload,
) -> ApiResult<HttpResponse> {
    use futures_util::StreamExt as _;
    state.auth_limiter.spend(&state.db, &format!("sso-callback:{}", client.ip)).await?;
    let mut body = web::BytesMut::new();
    while let Some(chunk) = payload.next().await {
        let chunk = chunk.map_err(|_| ApiError::new(ErrorCode::BadRequest, "The body could not be read."))?;
        if body.len() + chunk.len() > ACS_FORM_LIMIT {
            return Err(ApiError::new(
                ErrorCode::PayloadTooLarge,
                format!("The form must be at most {ACS_FORM_LIMIT} bytes."),
            ));
        }
        body.extend_from_slice(&chunk);
    }
    let not_a_form =
        || ApiError::new(ErrorCode::BadRequest, "Send the IdP's answer as a form (SAMLResponse, RelayState).");
    let form: SamlPost = serde_urlencoded::from_bytes(&body).map_err(|_| not_a_form())?;
    if form.saml_response.is_empty() {
        return Err(not_a_form());
    }
    let posted = Posted {
        connection_id: path.into_inner(),
        saml_response: form.saml_response,
        relay_state: form.relay_state,
        browser: req.cookie(BROWSER_COOKIE).map(|c| c.value().to_owned()),
    };
    let collect = sso_sign_in::saml_acs(&state, &client, posted).await?;
    let mut answer = see_other(&collect.location);
    if let Some(browser) = collect.browser {
        answer.cookie(browser_cookie(&state, browser));
    }
    Ok(answer.finish())
}

#[derive(Debug, serde::Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct FinishQuery {
    /// The flow's state.
    pub state: Option<String>,
}

/// Completes a SAML sign-in in the browser that started it (the assertion consumer service sends
/// it here): sets the refresh cookie and goes to the team, or to the sign-in page with
/// `?sso_error=<reason>`.
#[utoipa::path(
    tag = "auth", operation_id = "samlFinish", params(FinishQuery),
    responses(
        (status = 303, description = "Signed in, refused, or on to the password to link.", headers(("Location" = String, description = "Where the browser goes."), ("Set-Cookie" = String, description = "`pp_refresh` when signed in."))),
        (status = 400, description = "A malformed query (`bad_request`).", body = portal_types::Problem, content_type = "application/problem+json"),
        RateLimited, InternalError,
    )
)]
#[get("/auth/sso/saml/finish")]
pub async fn saml_finish(
    state: web::Data<AppState>,
    req: HttpRequest,
    client: Client,
    query: web::Query<FinishQuery>,
) -> ApiResult<HttpResponse> {
    state.auth_limiter.spend(&state.db, &format!("sso-callback:{}", client.ip)).await?;
    let browser = req.cookie(BROWSER_COOKIE).map(|c| c.value().to_owned());
    let arrival = sso_sign_in::saml_finish(&state, &client, browser.as_deref(), query.state.as_deref()).await?;
    Ok(arrive(&state, arrival))
}

/// The portal's SAML service provider metadata for a connection (XML): its entity id (this URL),
/// assertion consumer service (HTTP-POST) and certificate. Give this URL to the IdP.
#[utoipa::path(
    tag = "sso", operation_id = "samlMetadata",
    params(("connection_id" = Uuid, Path, description = "The SAML connection.")),
    responses(
        (status = 200, description = "The SP metadata.", content_type = "application/samlmetadata+xml", body = String),
        (status = 404, description = "No SAML connection has this id (`not_found`).", body = portal_types::Problem, content_type = "application/problem+json"),
        InternalError,
    )
)]
#[get("/sso/saml/{connection_id}/metadata")]
pub async fn saml_metadata(state: web::Data<AppState>, path: web::Path<Uuid>) -> ApiResult<HttpResponse> {
    let row = portal_db::sso::find_any(&state.reads, path.into_inner()).await?;
    let Some(row) = row.filter(|r| SsoProtocol::parse(&r.protocol) == Some(SsoProtocol::Saml)) else {
        return Err(crate::reads::sso::connection_not_found());
    };
    let side = crate::reads::sso::SamlSide::of(&state, &row)?;
    let xml = crate::saml::sp_metadata(&side.idp_metadata, &side.sp()).map_err(ApiError::internal)?;
    Ok(HttpResponse::Ok().content_type("application/samlmetadata+xml").insert_header(super::NO_STORE).body(xml))
}
