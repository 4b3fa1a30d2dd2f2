//! The one API error type: every failure becomes `application/problem+json` with a stable `code`.

use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderValue};
use actix_web::{HttpResponse, ResponseError};
use portal_domain::FieldError;
use portal_types::{ErrorCode, PROBLEM_JSON, Problem};

/// The HTTP status of each error code: the one place that states it.
pub fn status_of(code: ErrorCode) -> StatusCode {
    use ErrorCode::*;
    match code {
        BadRequest | MalformedJson | InvalidToken => StatusCode::BAD_REQUEST,
        Unauthorized | InvalidCredentials | InvalidRefreshToken | InvalidApiKey | KeyRevoked | KeyExpired
        | KeyRolled | InvalidSignature | InvalidChallenge => StatusCode::UNAUTHORIZED,
        Forbidden
        | EmailNotVerified
        | ApiKeyNotAllowed
        | InvitationWrongAccount
        | InsufficientScope
        | IpNotAllowed
        | TwoFactorRequired
        | SsoRequired => StatusCode::FORBIDDEN,
        NotFound | RouteNotFound | KeyNotFound | InvitationNotFound | SessionNotFound | SsoNotConfigured => {
            StatusCode::NOT_FOUND
        }
        MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
        Conflict | AlreadyMember | InvitationPending | InvitationClosed | KeyNotActive | LastOwner
        | TwoFactorEnabled | TwoFactorDisabled => StatusCode::CONFLICT,
        InvitationUsed | InvitationRevoked | InvitationExpired => StatusCode::GONE,
        PayloadTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
        UnsupportedMediaType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
        ValidationFailed | WrongPassword | InvalidTwoFactorCode => StatusCode::UNPROCESSABLE_ENTITY,
        RateLimited | UsageLimitExceeded => StatusCode::TOO_MANY_REQUESTS,
        InternalError => StatusCode::INTERNAL_SERVER_ERROR,
        NotReady | Busy => StatusCode::SERVICE_UNAVAILABLE,
    }
}

/// An error answer. Internal causes are logged, never sent.
#[derive(Debug)]
pub struct ApiError {
    pub code: ErrorCode,
    pub detail: Option<String>,
    pub field: Option<String>,
    /// Seconds to send in `Retry-After`.
    pub retry_after: Option<u64>,
    /// `RateLimit-Policy` and `RateLimit` fields of a limited key.
    pub rate_limit: Option<Box<RateLimitHeaders>>,
    /// For `insufficient_scope`: the scope the key lacks.
    pub required_scope: Option<portal_types::Scope>,
    /// For `sso_required`: where a sign-in at the team's identity provider starts.
    pub sso_url: Option<String>,
}

/// The IETF draft fields (draft-ietf-httpapi-ratelimit-headers-09): the policies that apply,
/// e.g. `"monthly";q=1000;w=2592000`, and what is left of each, e.g. `"monthly";r=42;t=86400`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RateLimitHeaders {
    pub policy: String,
    pub current: String,
}

impl RateLimitHeaders {
    pub fn apply(&self, headers: &mut actix_web::http::header::HeaderMap) {
        use actix_web::http::header::HeaderName;
        for (name, value) in [("ratelimit-policy", &self.policy), ("ratelimit", &self.current)] {
            if let Ok(value) = HeaderValue::from_str(value) {
                headers.insert(HeaderName::from_static(name), value);
            }
        }
    }
}

impl ApiError {
    pub fn new(code: ErrorCode, detail: impl Into<String>) -> Self {
        Self {
            code,
            detail: Some(detail.into()),
            field: None,
            retry_after: None,
            rate_limit: None,
            required_scope: None,
            sso_url: None,
        }
    }

    pub fn status(&self) -> StatusCode {
        status_of(self.code)
    }

    pub fn validation(field: impl Into<String>, message: impl std::fmt::Display) -> Self {
        let field = field.into();
        Self {
            code: ErrorCode::ValidationFailed,
            detail: Some(format!("{field} {message}")),
            field: Some(field),
            retry_after: None,
            rate_limit: None,
            required_scope: None,
            sso_url: None,
        }
    }

    pub fn unauthorized(detail: impl Into<String>) -> Self {
        Self::new(ErrorCode::Unauthorized, detail)
    }

    pub fn not_found(detail: impl Into<String>) -> Self {
        Self::new(ErrorCode::NotFound, detail)
    }

    pub fn rate_limited(retry_after: u64) -> Self {
        Self {
            retry_after: Some(retry_after.max(1)),
            ..Self::new(ErrorCode::RateLimited, "Too many requests; try again later.")
        }
    }

    /// 503 `busy` with `Retry-After`: the server is at its capacity for this work.
    pub fn busy(detail: impl Into<String>, retry_after: u64) -> Self {
        Self { retry_after: Some(retry_after.max(1)), ..Self::new(ErrorCode::Busy, detail) }
    }

    /// A failure the client cannot fix: logs the cause, answers a bare 500.
    pub fn internal(cause: impl std::fmt::Display) -> Self {
        tracing::error!(error = %cause, "internal error");
        Self {
            code: ErrorCode::InternalError,
            detail: Some("The server failed to handle this request. It has been logged.".into()),
            field: None,
            retry_after: None,
            rate_limit: None,
            required_scope: None,
            sso_url: None,
        }
    }

    pub fn with_detail(mut self, detail: impl Into<String>) -> Self {
        self.detail = Some(detail.into());
        self
    }

    pub fn with_field(mut self, field: impl Into<String>) -> Self {
        self.field = Some(field.into());
        self
    }

    /// 403 `insufficient_scope`, naming the scope.
    pub fn insufficient_scope(scope: portal_types::Scope) -> Self {
        Self {
            required_scope: Some(scope),
            ..Self::new(
                ErrorCode::InsufficientScope,
                format!("This API key lacks the `{}` scope: {}", scope.as_str(), scope.describe()),
            )
        }
    }

    pub fn to_problem(&self) -> Problem {
        Problem {
            required_scope: self.required_scope,
            sso_url: self.sso_url.clone(),
            ..problem(self.code, self.detail.clone(), self.field.clone())
        }
    }
}

/// Builds the problem body of a code.
pub fn problem(code: ErrorCode, detail: Option<String>, field: Option<String>) -> Problem {
    let status = status_of(code);
    Problem {
        kind: format!("/problems/{code}"),
        title: status.canonical_reason().unwrap_or("Error").to_owned(),
        status: status.as_u16(),
        detail,
        code,
        field,
        required_scope: None,
        sso_url: None,
        request_id: crate::current_request_id(),
    }
}

/// A problem response with the right media type.
pub fn problem_response(status: StatusCode, body: &Problem) -> HttpResponse {
    HttpResponse::build(status).insert_header((header::CONTENT_TYPE, PROBLEM_JSON)).json(body)
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}", self.status().as_u16(), self.code)
    }
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        self.status()
    }

    fn error_response(&self) -> HttpResponse {
        let mut res = problem_response(self.status(), &self.to_problem());
        // For the metrics: the frame of the request reads what the answer was about.
        res.extensions_mut().insert(self.code);
        if let Some(secs) = self.retry_after {
            res.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(secs));
        }
        if let Some(limits) = &self.rate_limit {
            limits.apply(res.headers_mut());
        }
        if self.status() == StatusCode::UNAUTHORIZED {
            res.headers_mut().insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        res
    }
}

impl From<FieldError> for ApiError {
    fn from(err: FieldError) -> Self {
        Self::validation(err.field, err.message)
    }
}

impl From<portal_db::Error> for ApiError {
    fn from(err: portal_db::Error) -> Self {
        match err {
            portal_db::Error::Conflict => Self::new(ErrorCode::Conflict, "This resource already exists."),
            portal_db::Error::Db(e) => Self::internal(e),
        }
    }
}

impl From<portal_db::DbErr> for ApiError {
    fn from(err: portal_db::DbErr) -> Self {
        Self::internal(err)
    }
}

pub type ApiResult<T> = Result<T, ApiError>;

/// The problem answers of the OpenAPI document, named by what went wrong: handlers list them in
/// `responses(...)`. They live with the error type they describe.
pub mod responses {
    use std::collections::BTreeMap;

    use portal_types::Problem;
    use utoipa::IntoResponses;
    use utoipa::openapi::RefOr;
    use utoipa::openapi::response::Response;

    /// A problem answer of the document: its type, status and description (with the `code` it
    /// carries), as `application/problem+json`.
    macro_rules! problem {
        ($(#[$doc:meta])* $name:ident = $status:literal, $description:literal $(, $headers:tt)?) => {
            $(#[$doc])*
            #[derive(IntoResponses)]
            #[response(
                status = $status,
                description = $description,
                content_type = "application/problem+json"
                $(, headers $headers)?
            )]
            pub struct $name(#[allow(dead_code)] Problem);
        };
    }

    problem!(
        /// 400: the body is not JSON.
        BadRequest = 400, "Malformed JSON (`malformed_json`)."
    );
    problem!(
        /// 401: no valid access token.
        Unauthorized = 401, "No valid access token (`unauthorized`)."
    );
    problem!(
        /// 403: the caller's role does not allow this.
        Forbidden = 403, "Your role does not allow this (`forbidden`)."
    );
    problem!(
        /// 404: no such resource, or the caller is not in its team.
        NotFound = 404, "No such resource, or you are not a member of its team (`not_found`)."
    );
    problem!(
        /// 409: the change conflicts with the current state.
        Conflict = 409,
        "Conflicts with the current state, e.g. the last owner (`last_owner`) or a closed invitation (`invitation_closed`)."
    );
    problem!(
        /// 413: the body is larger than 64 KiB.
        PayloadTooLarge = 413, "The body is larger than 64 KiB (`payload_too_large`)."
    );
    problem!(
        /// 413: the body of an operation that takes a document is larger than 1 MiB.
        DocumentTooLarge = 413, "The body is larger than 1 MiB (`payload_too_large`)."
    );
    problem!(
        /// 415: the body is not `application/json`.
        UnsupportedMediaType = 415, "The body is not application/json (`unsupported_media_type`)."
    );
    problem!(
        /// 422: a field is missing, unknown or invalid; `field` names it.
        ValidationFailed = 422, "A field is missing, unknown or invalid (`validation_failed`); `field` names it."
    );
    problem!(
        /// 429: too many requests from this client; see `Retry-After`.
        RateLimited = 429,
        "Too many requests (`rate_limited`); retry after the `Retry-After` seconds.",
        (("Retry-After" = u64, description = "Seconds to wait."))
    );
    problem!(
        /// 503: too many password checks wait already; see `Retry-After`.
        Busy = 503,
        "Too many password checks are waiting (`busy`); retry after the `Retry-After` seconds.",
        (("Retry-After" = u64, description = "Seconds to wait."))
    );
    problem!(
        /// 500: the server failed; nothing internal is disclosed.
        InternalError = 500, "The server failed (`internal_error`); details are only logged."
    );

    /// Names the problems several answers share, so that an operation lists them as one.
    macro_rules! problems {
        ($(#[$doc:meta])* $name:ident = $($part:ident),+) => {
            $(#[$doc])*
            pub struct $name;

            impl IntoResponses for $name {
                fn responses() -> BTreeMap<String, RefOr<Response>> {
                    let mut all = BTreeMap::new();
                    $(all.extend(<$part as IntoResponses>::responses());)+
                    all
                }
            }
        };
    }

    problems!(
        /// What any JSON body may meet: malformed, too large, not JSON.
        JsonBody = BadRequest, PayloadTooLarge, UnsupportedMediaType
    );
    problems!(
        /// What a JSON body that carries a document (SAML metadata) may meet.
        DocumentJsonBody = BadRequest, DocumentTooLarge, UnsupportedMediaType
    );
    problems!(
        /// What a request that checks or hashes a password may meet: a spent budget, a full queue.
        PasswordWork = RateLimited, Busy
    );
    problems!(
        /// What any team resource may meet: no token, a role too low, not found.
        NoAccess = Unauthorized, Forbidden, NotFound
    );
}
