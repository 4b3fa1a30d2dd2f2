//! Request extractors: JSON bodies with field-naming errors, the signed-in user, the client.

use std::future::Future;
use std::pin::Pin;

use actix_web::dev::Payload;
use actix_web::http::header;
use actix_web::{FromRequest, HttpRequest, web};
use futures_util::StreamExt as _;
use portal_types::ErrorCode;
use serde::de::DeserializeOwned;
use uuid::Uuid;

use actix_web::HttpMessage as _;

use crate::error::ApiError;
use crate::keys::KeyAuth;
use crate::state::AppState;

/// Largest JSON body accepted.
pub const JSON_LIMIT: usize = 64 * 1024;

/// The largest body of an operation that takes a document (SAML metadata, at most
/// `SSO_METADATA_MAX_CHARS` characters): large enough that a document just over its stated length,
/// even written as `\u` escapes of surrogate pairs (12 bytes a character), is read and refused by
/// name (422) rather than by size.
pub const DOCUMENT_JSON_LIMIT: usize = 1024 * 1024;

/// A JSON body of at most `LIMIT` bytes. Wrong media type: 415; too large: 413; malformed: 400
/// `malformed_json`; a missing, unknown or mistyped field: 422 `validation_failed` naming the field.
pub struct ApiJson<T, const LIMIT: usize = JSON_LIMIT>(pub T);

impl<T: DeserializeOwned + 'static, const LIMIT: usize> FromRequest for ApiJson<T, LIMIT> {
    type Error = ApiError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, ApiError>>>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let body = JsonBytes::<LIMIT>::from_request(req, payload);
        Box::pin(async move { parse_json(&body.await?.0).map(ApiJson) })
    }
}

/// The raw bytes of a JSON body (for a signature over them), with [`ApiJson`]'s media type and
/// size checks; parse them with [`parse_json`] or [`parse_json_array`].
pub struct JsonBytes<const LIMIT: usize = JSON_LIMIT>(pub web::Bytes);

impl<const LIMIT: usize> FromRequest for JsonBytes<LIMIT> {
    type Error = ApiError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, ApiError>>>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let content_type = req.headers().get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("");
        let essence = content_type.split(';').next().unwrap_or("").trim();
        let is_json = essence.eq_ignore_ascii_case("application/json") || {
            let essence = essence.to_ascii_lowercase();
            essence.starts_with("application/") && essence.ends_with("+json")
        };
        let declared_len = req
            .headers()
            .get(header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<usize>().ok());
        let mut payload = payload.take();
        Box::pin(async move {
            if !is_json {
                return Err(ApiError::new(ErrorCode::UnsupportedMediaType, "Send the body as application/json."));
            }
            if declared_len.is_some_and(|n| n > LIMIT) {
                return Err(too_large(LIMIT));
            }
            let mut body = web::BytesMut::with_capacity(declared_len.unwrap_or(0));
            while let Some(chunk) = payload.next().await {
                let chunk = chunk.map_err(|_| ApiError::new(ErrorCode::BadRequest, "The body could not be read."))?;
                if body.len() + chunk.len() > LIMIT {
                    return Err(too_large(LIMIT));
                }
                body.extend_from_slice(&chunk);
            }
            Ok(JsonBytes(body.freeze()))
        })
    }
}

fn too_large(limit: usize) -> ApiError {
    ApiError::new(ErrorCode::PayloadTooLarge, format!("The body must be at most {limit} bytes."))
}

/// Parses a JSON body, naming the offending field in errors (a second, path-tracking pass
/// runs only for a body that failed). Every body is a JSON object: an array is refused, although
/// serde would read one into a struct. A number such as `2.0` is an integer, as in JSON Schema.
pub fn parse_json<T: DeserializeOwned>(body: &[u8]) -> Result<T, ApiError> {
    parse_json_shaped(body, b'{', "The body must be a JSON object.")
}

/// [`parse_json`] for a body that is a JSON array.
pub fn parse_json_array<T: DeserializeOwned>(body: &[u8]) -> Result<T, ApiError> {
    parse_json_shaped(body, b'[', "The body must be a JSON array.")
}

fn parse_json_shaped<T: DeserializeOwned>(body: &[u8], opening: u8, shape: &str) -> Result<T, ApiError> {
    let first = body.iter().copied().find(|b| !b.is_ascii_whitespace());
    if first.is_some_and(|b| b != opening) {
        return Err(match serde_json::from_slice::<serde::de::IgnoredAny>(body) {
            Ok(_) => ApiError::new(ErrorCode::ValidationFailed, shape),
            Err(e) => malformed(e),
        });
    }
    if let Ok(value) = serde_json::from_slice(body) {
        return Ok(value);
    }
    if let Ok(mut value) = serde_json::from_slice::<serde_json::Value>(body)
        && integral_floats_to_integers(&mut value)
        && let Ok(parsed) = T::deserialize(&value)
    {
        return Ok(parsed);
    }
    let de = &mut serde_json::Deserializer::from_slice(body);
    serde_path_to_error::deserialize(de).map_err(|err| {
        let path = err.path().to_string();
        let inner = err.into_inner();
        if inner.is_syntax() || inner.is_eof() {
            return malformed(inner);
        }
        let message = inner.to_string();
        // serde names a missing field only in its message ("missing field `email`"), with the
        // path pointing at the enclosing object; for every other error the path is the field.
        let missing = message.strip_prefix("missing field `").and_then(|m| m.split('`').next());
        let field = match (missing, path.as_str()) {
            (Some(name), "." | "") => name.to_owned(),
            (Some(name), parent) => format!("{parent}.{name}"),
            (None, path) => path.to_owned(),
        };
        let message = message.split(" at line ").next().unwrap_or(&message).to_owned();
        if field == "." || field.is_empty() {
            return ApiError::new(ErrorCode::ValidationFailed, format!("The body is invalid: {message}"));
        }
        ApiError { detail: Some(format!("{field}: {message}")), ..ApiError::validation(field, "") }
    })
}

fn malformed(error: serde_json::Error) -> ApiError {
    ApiError::new(ErrorCode::MalformedJson, format!("The body is not valid JSON: {error}"))
}

/// Turns every number with no fraction (`2.0`, `1e3`) into an integer; true if any changed.
fn integral_floats_to_integers(value: &mut serde_json::Value) -> bool {
    use serde_json::Value;
    match value {
        Value::Number(n) if n.is_f64() => {
            let f = n.as_f64().unwrap_or(f64::NAN);
            // Every f64 without a fraction is an integer; those in range of i64 or u64 convert.
            if f.fract() == 0.0 && (-9_223_372_036_854_775_808.0..18_446_744_073_709_551_616.0).contains(&f) {
                *value = if f < 0.0 { Value::from(f as i64) } else { Value::from(f as u64) };
                return true;
            }
            false
        }
        Value::Array(items) => items.iter_mut().fold(false, |changed, v| integral_floats_to_integers(v) | changed),
        Value::Object(map) => map.values_mut().fold(false, |changed, v| integral_floats_to_integers(v) | changed),
        _ => false,
    }
}

/// The user an access token (`Authorization: Bearer <jwt>`) names.
#[derive(Debug, Clone, Copy)]
pub struct AuthUser {
    pub user_id: Uuid,
    pub session_id: Uuid,
    /// Whether the account has two-factor authentication on (teams may require it).
    pub two_factor: bool,
    /// The team whose identity provider the session started at (teams may require it).
    pub sso_team: Option<Uuid>,
}

impl FromRequest for AuthUser {
    type Error = ApiError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, ApiError>>>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        Box::pin(signed_in(req))
    }
}

/// The user of the access token, if its session is still open: a token of an ended session
/// (signed out, ended from another device, a password change) is refused at once, on every
/// instance.
fn signed_in(req: &HttpRequest) -> impl Future<Output = Result<AuthUser, ApiError>> + 'static {
    let checked = authenticate(req).and_then(|user| Ok((user, state_of(req)?.clone())));
    async move {
        let (user, state) = checked?;
        match state.auth_cache.session(user.session_id).await? {
            Some(session) => Ok(AuthUser { two_factor: session.two_factor, sso_team: session.sso_team, ..user }),
            None => Err(ApiError::unauthorized("The session has ended; sign in again.")),
        }
    }
}

/// The token of `Authorization: Bearer <token>`.
pub fn bearer(req: &HttpRequest) -> Result<&str, ApiError> {
    req.headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::trim)
        .ok_or_else(|| ApiError::unauthorized("Sign in: send an access token as `Authorization: Bearer <token>`."))
}

pub fn state_of(req: &HttpRequest) -> Result<&web::Data<AppState>, ApiError> {
    req.app_data::<web::Data<AppState>>().ok_or_else(|| ApiError::internal("state missing"))
}

fn authenticate(req: &HttpRequest) -> Result<AuthUser, ApiError> {
    let state = state_of(req)?;
    let token = bearer(req)?;
    if portal_domain::keys::looks_like_key(token) {
        return Err(ApiError::new(
            ErrorCode::ApiKeyNotAllowed,
            "This operation needs a signed-in user; API keys act only on their own team's resources.",
        ));
    }
    let claims = state
        .tokens
        .check(token.trim())
        .ok_or_else(|| ApiError::unauthorized("The access token is invalid or expired."))?;
    Ok(AuthUser { user_id: claims.user_id, session_id: claims.session_id, two_factor: false, sso_team: None })
}

/// Whoever acts on a team endpoint: a signed-in user (JWT) or an API key (`pp_...`).
#[derive(Debug, Clone)]
pub enum Principal {
    User(AuthUser),
    Key(KeyAuth),
}

impl FromRequest for Principal {
    type Error = ApiError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, ApiError>>>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let token = match bearer(req) {
            Ok(token) => token.to_owned(),
            Err(e) => return Box::pin(std::future::ready(Err(e))),
        };
        if !portal_domain::keys::looks_like_key(&token) {
            let user = signed_in(req);
            return Box::pin(async move { user.await.map(Principal::User) });
        }
        // The request gate verified the key before any handler ran (and refused a bad one).
        let key = req.extensions().get::<KeyAuth>().cloned();
        Box::pin(std::future::ready(key.map(Principal::Key).ok_or_else(crate::keys::invalid_key)))
    }
}

/// Whoever changes a team, taken together: the principal, its client and the state a unit of
/// work needs. `caller.on(team_id)` begins the unit of work.
pub struct Caller {
    pub state: web::Data<AppState>,
    pub by: Principal,
    pub client: Client,
}

impl Caller {
    /// How a unit of work on `team_id` by this caller starts.
    pub fn on(&self, team_id: Uuid) -> crate::app::Begin<'_> {
        crate::app::Begin { state: &self.state, by: &self.by, client: &self.client, team_id }
    }
}

impl FromRequest for Caller {
    type Error = ApiError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, ApiError>>>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let state = state_of(req).cloned();
        let client = Client::from_request(req, payload).into_inner();
        let by = Principal::from_request(req, payload);
        Box::pin(async move { Ok(Self { by: by.await?, state: state?, client: client? }) })
    }
}

/// Who is calling: the client's address (the peer, or the client a trusted proxy names; for
/// rate limits, sign-in throttling and audit entries) and user agent.
#[derive(Debug, Clone)]
pub struct Client {
    pub ip: String,
    pub user_agent: Option<String>,
}

impl FromRequest for Client {
    type Error = ApiError;
    type Future = std::future::Ready<Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let ip = match (req.peer_addr(), state_of(req)) {
            (Some(peer), Ok(state)) => state.config.client_ip.address(peer.ip(), req.headers()).to_string(),
            (Some(peer), Err(_)) => peer.ip().to_canonical().to_string(),
            (None, _) => "unknown".into(),
        };
        let user_agent =
            req.headers().get(header::USER_AGENT).and_then(|v| v.to_str().ok()).map(|s| s.chars().take(512).collect());
        std::future::ready(Ok(Self { ip, user_agent }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Body {
        email: String,
        age: u8,
    }

    #[derive(Debug, serde::Deserialize)]
    struct BigBody {
        n: u64,
    }

    fn field_of(json: &str) -> (u16, Option<String>) {
        let err = parse_json::<Body>(json.as_bytes()).unwrap_err();
        (err.status().as_u16(), err.field)
    }

    #[test]
    fn errors_name_the_field() {
        assert_eq!(field_of(r#"{"age":1}"#), (422, Some("email".into())));
        assert_eq!(field_of(r#"{"email":"a","age":1,"admin":true}"#), (422, Some("admin".into())));
        assert_eq!(field_of(r#"{"email":"a","age":"old"}"#), (422, Some("age".into())));
        assert_eq!(field_of(r#"{"email":"a","age":300}"#), (422, Some("age".into())));
        assert_eq!(field_of(r#"{"email":"a","#), (400, None));
        assert_eq!(field_of(r#"[1,2]"#).0, 422);
        assert_eq!(field_of(r#"[null, null]"#), (422, None));
        assert_eq!(field_of(r#""text""#), (422, None));
        assert_eq!(field_of(r#"[1,"#), (400, None));
    }

    #[test]
    fn integral_numbers_are_integers_as_in_json_schema() {
        let body = parse_json::<Body>(br#"{"email":"a","age":2.0}"#).expect("2.0 is an integer");
        assert_eq!(body.age, 2);
        assert_eq!(parse_json::<Body>(br#"{"email":"a","age":1e2}"#).expect("1e2 is an integer").age, 100);
        assert_eq!(field_of(r#"{"email":"a","age":2.5}"#), (422, Some("age".into())));
        // Parsed exactly (serde_json's `float_roundtrip`), so a large integral number stays one.
        let big = parse_json::<BigBody>(br#"{"n":2081234860518913.0}"#).expect("an integer");
        assert_eq!(big.n, 2_081_234_860_518_913);
        assert_eq!(parse_json::<BigBody>(br#"{"n":1e19}"#).expect("an integer").n, 10_000_000_000_000_000_000);
    }
}
