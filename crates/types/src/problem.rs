use serde::{Deserialize, Serialize};

/// The media type of every error answer (RFC 9457).
pub const PROBLEM_JSON: &str = "application/problem+json";

/// An error answer: `application/problem+json` (RFC 9457) with a stable machine-readable `code`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Problem {
    /// A URI reference naming the problem type (`/problems/{code}`).
    #[serde(rename = "type")]
    pub kind: String,
    /// Short human-readable summary of the problem type.
    pub title: String,
    /// The HTTP status code.
    pub status: u16,
    /// Human-readable explanation of this occurrence.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
    /// Stable machine-readable error code.
    pub code: ErrorCode,
    /// For validation errors: the request field that was rejected (JSON name, dotted for nesting).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
    /// For `insufficient_scope`: the scope the key lacks.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub required_scope: Option<crate::Scope>,
    /// For `sso_required`: the same-origin URL that starts a sign-in at the team's identity
    /// provider (open it in the browser).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sso_url: Option<String>,
    /// The request's id (also its `x-request-id` header): quote it to the operator, whose every
    /// log line of the request carries it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request_id: Option<String>,
}

macro_rules! error_codes {
    ($($(#[doc = $doc:literal])* $variant:ident = $name:literal,)+) => {
        /// Every `code` the API answers with. Each has one HTTP status (`ErrorCode::status`).
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
        #[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
        #[serde(rename_all = "snake_case")]
        pub enum ErrorCode {
            $($(#[doc = $doc])* $variant,)+
        }

        impl ErrorCode {
            pub const ALL: &'static [ErrorCode] = &[$(ErrorCode::$variant,)+];

            /// The code as sent, e.g. `validation_failed`.
            pub fn as_str(self) -> &'static str {
                match self {
                    $(ErrorCode::$variant => $name,)+
                }
            }
        }
    };
}

error_codes! {
    /// 400: the request could not be read (e.g. a repeated or malformed query parameter).
    BadRequest = "bad_request",
    /// 400: the body is not valid JSON.
    MalformedJson = "malformed_json",
    /// 400: the mailed link's token is invalid, expired or used.
    InvalidToken = "invalid_token",
    /// 401: no valid access token.
    Unauthorized = "unauthorized",
    /// 401: wrong e-mail address or password.
    InvalidCredentials = "invalid_credentials",
    /// 401: the refresh cookie is missing, invalid or expired.
    InvalidRefreshToken = "invalid_refresh_token",
    /// 401: the sign-in challenge is unknown, expired, used, or had too many wrong codes.
    InvalidChallenge = "invalid_challenge",
    /// 401: the API key is not valid.
    InvalidApiKey = "invalid_api_key",
    /// 401: the API key was revoked.
    KeyRevoked = "key_revoked",
    /// 401: the API key has expired.
    KeyExpired = "key_expired",
    /// 401: the API key was rolled and its grace period is over.
    KeyRolled = "key_rolled",
    /// 403: the caller's role or key does not allow this.
    Forbidden = "forbidden",
    /// 403: the API key lacks the scope named in `required_scope`.
    InsufficientScope = "insufficient_scope",
    /// 403: the API key may not be used from this address.
    IpNotAllowed = "ip_not_allowed",
    /// 401: a leak report's signature is missing or does not verify.
    InvalidSignature = "invalid_signature",
    /// 403: the e-mail address is not verified yet.
    EmailNotVerified = "email_not_verified",
    /// 403: this operation needs a signed-in user, not an API key.
    ApiKeyNotAllowed = "api_key_not_allowed",
    /// 403: the invitation was sent to another address.
    InvitationWrongAccount = "invitation_wrong_account",
    /// 403: the team requires two-factor authentication, and the caller's account has none.
    TwoFactorRequired = "two_factor_required",
    /// 403: the team requires single sign-on, and this session did not start at its identity
    /// provider; `sso_url` starts one.
    SsoRequired = "sso_required",
    /// 404: no such resource, or the caller is not a member of its team.
    NotFound = "not_found",
    /// 404: no such route.
    RouteNotFound = "route_not_found",
    /// 404: no such API key in this team.
    KeyNotFound = "key_not_found",
    /// 404: no such invitation.
    InvitationNotFound = "invitation_not_found",
    /// 404: no verified domain of this address has single sign-on.
    SsoNotConfigured = "sso_not_configured",
    /// 404: no such session of the signed-in user in use.
    SessionNotFound = "session_not_found",
    /// 405: the route does not take this method; `Allow` lists those it takes.
    MethodNotAllowed = "method_not_allowed",
    /// 409: the resource already exists.
    Conflict = "conflict",
    /// 409: the person is already a member of the team.
    AlreadyMember = "already_member",
    /// 409: an invitation to this address is already pending.
    InvitationPending = "invitation_pending",
    /// 409: the invitation is no longer pending.
    InvitationClosed = "invitation_closed",
    /// 409: the API key is revoked, expired or rolled.
    KeyNotActive = "key_not_active",
    /// 409: the change would leave the team without an owner.
    LastOwner = "last_owner",
    /// 409: two-factor authentication is already on.
    TwoFactorEnabled = "two_factor_enabled",
    /// 409: two-factor authentication is off (or its set-up was not started).
    TwoFactorDisabled = "two_factor_disabled",
    /// 410: the invitation was already accepted.
    InvitationUsed = "invitation_used",
    /// 410: the invitation was revoked.
    InvitationRevoked = "invitation_revoked",
    /// 410: the invitation has expired.
    InvitationExpired = "invitation_expired",
    /// 413: the body is larger than 64 KiB.
    PayloadTooLarge = "payload_too_large",
    /// 415: the body is not `application/json`.
    UnsupportedMediaType = "unsupported_media_type",
    /// 422: a field is missing, unknown or invalid; `field` names it.
    ValidationFailed = "validation_failed",
    /// 422: the current password is wrong.
    WrongPassword = "wrong_password",
    /// 422: the two-factor code is wrong, used already, or not of this time.
    InvalidTwoFactorCode = "invalid_two_factor_code",
    /// 429: too many requests; retry after `Retry-After` seconds.
    RateLimited = "rate_limited",
    /// 429: the API key's monthly limit is spent.
    UsageLimitExceeded = "usage_limit_exceeded",
    /// 500: the server failed; details are only logged.
    InternalError = "internal_error",
    /// 503: the database does not answer.
    NotReady = "not_ready",
    /// 503: too many password checks are waiting; retry after `Retry-After` seconds.
    Busy = "busy",
}

impl std::fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}
