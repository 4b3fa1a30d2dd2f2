//! Leaked-key reports from secret scanners (GitHub's partner program format, or our own
//! scanners with the service token): every key of ours in a report is revoked at once on every
//! instance, recorded in its team's activity, mailed to the team's owners and admins, and shown
//! on the key.

use actix_web::{HttpRequest, post, web};
use portal_types::{ErrorCode, LeakFeedback, LeakedToken};

use crate::app::leaks;
use crate::error::responses::{InternalError, JsonBody, ValidationFailed};
use crate::error::{ApiError, ApiResult};
use crate::extract::{Client, JsonBytes, parse_json_array};
use crate::state::AppState;

const IDENTIFIER: &str = "github-public-key-identifier";
const SIGNATURE: &str = "github-public-key-signature";

/// Report leaked keys: a JSON array of `{token, type, url, source}` as GitHub's secret scanning
/// sends it, signed in `Github-Public-Key-Identifier` and `Github-Public-Key-Signature` (ECDSA
/// P-256, SHA-256, over the raw body) with a key from `PORTAL_SECRET_SCANNING_PUBLIC_KEYS`, or
/// sent with the service token. Answers, for each token, its SHA-256 and whether it was ours.
#[utoipa::path(
    tag = "api-keys", operation_id = "reportLeakedKeys", security(("service_token" = []), ("github_signature" = [])),
    request_body = Vec<LeakedToken>,
    responses(
        (status = 200, description = "One verdict per reported token, in order.", body = Vec<LeakFeedback>),
        (status = 401, description = "Neither a valid signature nor the service token (`invalid_signature`).", body = portal_types::Problem, content_type = "application/problem+json"),
        JsonBody, ValidationFailed, InternalError,
    )
)]
#[post("/keys/leaks")]
pub async fn report_leaked_keys(
    state: web::Data<AppState>,
    req: HttpRequest,
    client: Client,
    body: JsonBytes,
) -> ApiResult<web::Json<Vec<LeakFeedback>>> {
    let service = crate::access::service(&req, &state.config).is_some();
    if !service {
        let header = |name: &str| req.headers().get(name).and_then(|v| v.to_str().ok());
        let signed = match (header(IDENTIFIER), header(SIGNATURE)) {
            (Some(id), Some(signature)) => {
                crate::leaks::verify(&state.config.secret_scanning_keys, id, signature, &body.0)
            }
            _ => false,
        };
        if !signed {
            return Err(ApiError::new(
                ErrorCode::InvalidSignature,
                "Sign the report (Github-Public-Key-Identifier, Github-Public-Key-Signature) or send the service token.",
            ));
        }
    }
    let reports: Vec<LeakedToken> = parse_json_array(&body.0)?;
    Ok(web::Json(leaks::report(&state, &client, &reports, service).await?))
}
