use crate::{AllowList, Description, ErrorCode, IpAddress, Name, Thresholds};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// Where a key is used; it shows in the key's prefix (`pp_dev_`, `pp_prod_`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "lowercase")]
pub enum Environment {
    Development,
    Production,
}

impl Environment {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Development => "development",
            Self::Production => "production",
        }
    }

    /// As people read it.
    pub fn label(self) -> &'static str {
        match self {
            Self::Development => "Development",
            Self::Production => "Production",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "development" => Some(Self::Development),
            "production" => Some(Self::Production),
            _ => None,
        }
    }
}

/// How long a new key lives.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum Expiration {
    #[serde(rename = "never")]
    Never,
    #[serde(rename = "30d")]
    Days30,
    #[serde(rename = "90d")]
    Days90,
    #[serde(rename = "180d")]
    Days180,
}

impl Expiration {
    pub fn days(self) -> Option<i64> {
        match self {
            Self::Never => None,
            Self::Days30 => Some(30),
            Self::Days90 => Some(90),
            Self::Days180 => Some(180),
        }
    }
}

/// A per-key rate limit: a steady rate with bursts (GCRA). Each instance enforces it on its own.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct RateLimit {
    /// Sustained requests per second, 1 to 100000.
    #[cfg_attr(feature = "openapi", schema(minimum = 1, maximum = 100000))]
    pub requests_per_second: u32,
    /// Requests allowed at once after a quiet spell, 1 to 100000 (at least 1).
    #[cfg_attr(feature = "openapi", schema(minimum = 1, maximum = 100000))]
    pub burst: u32,
}

/// What a key may do in its team. A `write` scope includes its `read`. Owner-only actions
/// (deleting the team, granting or removing the owner role) are never open to a key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum Scope {
    #[serde(rename = "team:read")]
    TeamRead,
    #[serde(rename = "members:read")]
    MembersRead,
    #[serde(rename = "members:write")]
    MembersWrite,
    #[serde(rename = "invitations:read")]
    InvitationsRead,
    #[serde(rename = "invitations:write")]
    InvitationsWrite,
    #[serde(rename = "api_keys:read")]
    ApiKeysRead,
    #[serde(rename = "api_keys:write")]
    ApiKeysWrite,
    #[serde(rename = "usage:read")]
    UsageRead,
    #[serde(rename = "activity:read")]
    ActivityRead,
    #[serde(rename = "webhooks:read")]
    WebhooksRead,
    #[serde(rename = "webhooks:write")]
    WebhooksWrite,
}

impl Scope {
    /// Every scope, in the order a picker shows them.
    pub const ALL: [Scope; 11] = [
        Scope::TeamRead,
        Scope::MembersRead,
        Scope::MembersWrite,
        Scope::InvitationsRead,
        Scope::InvitationsWrite,
        Scope::ApiKeysRead,
        Scope::ApiKeysWrite,
        Scope::UsageRead,
        Scope::ActivityRead,
        Scope::WebhooksRead,
        Scope::WebhooksWrite,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Scope::TeamRead => "team:read",
            Scope::MembersRead => "members:read",
            Scope::MembersWrite => "members:write",
            Scope::InvitationsRead => "invitations:read",
            Scope::InvitationsWrite => "invitations:write",
            Scope::ApiKeysRead => "api_keys:read",
            Scope::ApiKeysWrite => "api_keys:write",
            Scope::UsageRead => "usage:read",
            Scope::ActivityRead => "activity:read",
            Scope::WebhooksRead => "webhooks:read",
            Scope::WebhooksWrite => "webhooks:write",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|scope| scope.as_str() == s)
    }

    /// The read scope a write scope includes.
    pub fn implies(self) -> Option<Scope> {
        match self {
            Scope::MembersWrite => Some(Scope::MembersRead),
            Scope::InvitationsWrite => Some(Scope::InvitationsRead),
            Scope::ApiKeysWrite => Some(Scope::ApiKeysRead),
            Scope::WebhooksWrite => Some(Scope::WebhooksRead),
            _ => None,
        }
    }

    pub fn is_write(self) -> bool {
        self.implies().is_some()
    }

    /// What the scope allows, in plain words.
    pub fn describe(self) -> &'static str {
        match self {
            Scope::TeamRead => "Read the team's name and description.",
            Scope::MembersRead => "List members and their roles.",
            Scope::MembersWrite => "Change members' roles (not to or from owner) and remove members.",
            Scope::InvitationsRead => "List invitations.",
            Scope::InvitationsWrite => "Invite people as member or admin, resend and revoke invitations.",
            Scope::ApiKeysRead => "List API keys and their settings (never secrets).",
            Scope::ApiKeysWrite => "Create, change, roll and revoke keys no wider than this one.",
            Scope::UsageRead => "Read usage of the team and of each key.",
            Scope::ActivityRead => "Read the team's activity log (without addresses).",
            Scope::WebhooksRead => "List webhook endpoints and their delivery logs (never secrets).",
            Scope::WebhooksWrite => "Add, change, delete and test webhook endpoints; rotate secrets; redeliver.",
        }
    }
}

/// Where a leaked key was found, and when it was revoked for it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct LeakReport {
    /// When the report arrived and the key was revoked.
    pub reported_at: DateTime<Utc>,
    /// Where the key was found public, e.g. a commit URL.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    /// Who found it, e.g. `github`, `content`, `service`.
    pub source: String,
}

/// An entry of a leaked-key report (GitHub secret scanning partner format).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct LeakedToken {
    /// The secret as found.
    pub token: String,
    /// The token type as the scanner names it.
    #[serde(rename = "type")]
    pub kind: String,
    /// Where it was found.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    /// What found it, e.g. `content`, `commit`, `pull_request_title`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
}

/// Whether a reported token was one of ours.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum LeakLabel {
    TruePositive,
    FalsePositive,
}

/// The answer for each reported token: its SHA-256 (hex), type and label.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct LeakFeedback {
    pub token_hash: String,
    pub token_type: String,
    pub label: LeakLabel,
}

/// `POST /api/v1/teams/{team_id}/api-keys`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct CreateApiKeyRequest {
    /// 1 to 100 characters, e.g. "Production App".
    #[cfg_attr(feature = "openapi", schema(inline))]
    pub name: Name,
    /// Up to 500 characters.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(inline))]
    pub description: Option<Description>,
    pub environment: Environment,
    pub expiration: Expiration,
    /// Requests allowed per calendar month (UTC), at least 1; none means unlimited.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(minimum = 1))]
    pub usage_limit: Option<u64>,
    /// Requests per second with a burst; none means no rate limit.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rate_limit: Option<RateLimit>,
    /// What the key may do. Absent: full access (every scope), as keys always had. A write
    /// scope includes its read scope. At least one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(min_items = 1))]
    pub scopes: Option<Vec<Scope>>,
    /// Addresses the key may be used from: IPv4 or IPv6 addresses or CIDR blocks (up to 50).
    /// Absent or empty: anywhere.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(inline))]
    pub allowed_ips: Option<AllowList>,
    /// Percentages of the monthly limit (1 to 100) at which owners and admins are mailed,
    /// once per month each. Only with a `usage_limit` (422 `alert_thresholds` otherwise).
    /// Absent: 80 and 100 with a limit, none without.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(inline))]
    pub alert_thresholds: Option<Thresholds>,
}

/// Reads a present field as `Some(value)`, so that `null` (remove) differs from absent (keep).
fn present<'de, D, T>(de: D) -> Result<Option<Option<T>>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: Deserialize<'de>,
{
    Option::<T>::deserialize(de).map(Some)
}

/// `PATCH /api/v1/teams/{team_id}/api-keys/{key_id}`: change a key's name, description or
/// limits. An absent field keeps its value; `null` removes a description or limit.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct UpdateApiKeyRequest {
    /// 1 to 100 characters.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(inline))]
    pub name: Option<Name>,
    /// Up to 500 characters; `null` removes it.
    #[serde(default, deserialize_with = "present", skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<Description>, inline))]
    pub description: Option<Option<Description>>,
    /// Requests per calendar month (UTC), at least 1; `null` removes the limit.
    #[serde(default, deserialize_with = "present", skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<u64>, nullable, minimum = 1))]
    pub usage_limit: Option<Option<u64>>,
    /// `null` removes the rate limit.
    #[serde(default, deserialize_with = "present", skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<RateLimit>, nullable))]
    pub rate_limit: Option<Option<RateLimit>>,
    /// The key's new scopes (at least one). A key cannot change its own.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(min_items = 1))]
    pub scopes: Option<Vec<Scope>>,
    /// The addresses the key may be used from; empty or `null`: anywhere. A key cannot change
    /// its own.
    #[serde(default, deserialize_with = "present", skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<AllowList>, inline))]
    pub allowed_ips: Option<Option<AllowList>>,
    /// Percentages of the monthly limit at which to alert; empty: no alerts. Only for a key
    /// with a monthly limit after the change (422 `alert_thresholds` otherwise). Absent: kept;
    /// removing the limit removes them, and a first limit brings 80 and 100.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(inline))]
    pub alert_thresholds: Option<Thresholds>,
}

/// Why a key no longer works, if it does not.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "lowercase")]
pub enum KeyStatus {
    Active,
    /// Rolled: still works until `grace_until`.
    Rolling,
    Rolled,
    Revoked,
    Expired,
}

impl KeyStatus {
    /// As people read it.
    pub fn label(self) -> &'static str {
        match self {
            Self::Active => "Active",
            Self::Rolling => "Rolling",
            Self::Rolled => "Rolled",
            Self::Revoked => "Revoked",
            Self::Expired => "Expired",
        }
    }
}

/// A working key needs attention from this many days before it expires.
pub const ATTENTION_EXPIRY_DAYS: i64 = 14;
/// A working key needs attention once it has used this share (percent) of its monthly limit.
pub const ATTENTION_LIMIT_PERCENT: u64 = 80;

/// What a key list can be narrowed to (`status` of `GET .../api-keys`): a key's status,
/// `expiring_soon` (usable, and expiring within 7 days), `usable` (active or rolling: every key
/// that still works, the ended ones left out) or `attention` (usable, and expiring within 14 days
/// or having used at least 80% of its monthly limit this month).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum KeyStatusFilter {
    Active,
    Rolling,
    Rolled,
    Revoked,
    Expired,
    ExpiringSoon,
    Usable,
    Attention,
}

impl KeyStatusFilter {
    pub const ALL: [Self; 8] = [
        Self::Active,
        Self::Rolling,
        Self::Rolled,
        Self::Revoked,
        Self::Expired,
        Self::ExpiringSoon,
        Self::Usable,
        Self::Attention,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Active => "active",
            Self::Rolling => "rolling",
            Self::Rolled => "rolled",
            Self::Revoked => "revoked",
            Self::Expired => "expired",
            Self::ExpiringSoon => "expiring_soon",
            Self::Usable => "usable",
            Self::Attention => "attention",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            Self::Active => "Active",
            Self::Rolling => "Rolling",
            Self::Rolled => "Rolled",
            Self::Revoked => "Revoked",
            Self::Expired => "Expired",
            Self::ExpiringSoon => "Expiring soon",
            Self::Usable => "Working (active or rolling)",
            Self::Attention => "Needs attention (expiring or near the limit)",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|f| f.as_str() == s)
    }
}

/// The order of a key list (`sort` of `GET .../api-keys`), each newest or largest first.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum KeySort {
    /// Newest first.
    #[default]
    Created,
    /// Most recently used first; never-used keys last.
    LastUsed,
    /// Most requests (ever) first.
    Requests,
}

impl KeySort {
    pub const ALL: [Self; 3] = [Self::Created, Self::LastUsed, Self::Requests];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Created => "created",
            Self::LastUsed => "last_used",
            Self::Requests => "requests",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            Self::Created => "Newest first",
            Self::LastUsed => "Last used",
            Self::Requests => "Most requests",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|f| f.as_str() == s)
    }
}

/// An API key's metadata (never its secret).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ApiKey {
    pub id: Uuid,
    pub team_id: Uuid,
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    pub environment: Environment,
    /// The start of the key, e.g. `pp_prod_Ab3d`, to recognise it.
    pub hint: String,
    pub status: KeyStatus,
    pub created_at: DateTime<Utc>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<DateTime<Utc>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub revoked_at: Option<DateTime<Utc>>,
    /// For a rolled key: when it stops working.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub grace_until: Option<DateTime<Utc>>,
    /// For a rolled key, or one reported compromised with a replacement: its replacement.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub replaced_by: Option<Uuid>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_used_at: Option<DateTime<Utc>>,
    /// Requests made with the key, ever.
    pub request_count: u64,
    /// Requests allowed per calendar month (UTC).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub usage_limit: Option<u64>,
    /// Requests per second with a burst.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rate_limit: Option<RateLimit>,
    /// What the key may do (each write scope listed with its read scope).
    pub scopes: Vec<Scope>,
    /// Addresses the key may be used from; empty: anywhere.
    pub allowed_ips: Vec<String>,
    /// Percentages of the monthly limit at which owners and admins are mailed (empty without a
    /// limit).
    pub alert_thresholds: Vec<u8>,
    /// Set when the key was reported leaked (and so revoked).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub leaked: Option<LeakReport>,
    /// When the key was reported compromised (and so revoked); `replaced_by` names the
    /// replacement made then, if one was.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub compromised_at: Option<DateTime<Utc>>,
    /// Usable, and expiring within 7 days.
    pub expiring_soon: bool,
    /// Usable, and never used or not used for 30 days: revoke it if nothing needs it.
    pub unused: bool,
    /// Who made the key, and how they stand now (only in the answer of one key).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub creator: Option<KeyCreator>,
}

/// The person who made a key: the key is capped by their role, and works whatever way they sign
/// in (keys are not sessions).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct KeyCreator {
    pub user_id: Uuid,
    pub name: String,
    /// Still a member of the team (a key of someone who left is capped at the member role).
    pub member: bool,
    /// Their account is linked to the team's identity provider (they sign in with SSO).
    pub sso_linked: bool,
}

/// A new key with its secret: shown once, never again.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct CreatedApiKey {
    pub key: ApiKey,
    /// The secret, e.g. `pp_prod_...`. Store it now: it cannot be shown again.
    pub secret: String,
}

/// `GET /api/v1/teams/{team_id}/api-keys`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ApiKeyPage {
    pub items: Vec<ApiKey>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_cursor: Option<String>,
}

/// `POST .../api-keys/{key_id}/roll`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct RollApiKeyRequest {
    /// How long the old key keeps working: 0 to 604800 seconds (7 days), never past its expiry.
    #[cfg_attr(feature = "openapi", schema(maximum = 604800))]
    pub grace_period_seconds: u64,
}

/// `POST .../api-keys/{key_id}/compromised`: revoke a key at once, and optionally replace it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct ReportCompromisedRequest {
    /// Name of a replacement with the old key's settings (1 to 100 characters). Absent: no
    /// replacement.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(inline))]
    pub replacement_name: Option<Name>,
}

/// The revoked key, and its replacement with the secret (shown once) if one was asked for.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct CompromisedKey {
    pub key: ApiKey,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub replacement: Option<CreatedApiKey>,
}

/// Bucket size of usage series.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "lowercase")]
pub enum Granularity {
    /// Minute buckets: ranges of at most 24 hours, within the minute counts' retention (7 days by
    /// default).
    Minute,
    Hour,
    Day,
}

/// Answer times: percentiles from a log-scale histogram (within about 20%), in milliseconds
/// with microsecond resolution.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct LatencyPercentiles {
    pub p50_ms: f64,
    pub p95_ms: f64,
    pub p99_ms: f64,
}

/// Requests in one time bucket.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct UsagePoint {
    /// Start of the bucket.
    pub start: DateTime<Utc>,
    /// Answers with status below 400.
    pub success: u64,
    /// Answers with status 400 and above.
    pub error: u64,
    /// Answer times in this bucket; absent when there were no requests.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub latency: Option<LatencyPercentiles>,
}

/// Requests answered with one status code.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct StatusCount {
    pub status: u16,
    pub count: u64,
}

/// Usage over a time range.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Usage {
    pub from: DateTime<Utc>,
    pub to: DateTime<Utc>,
    pub granularity: Granularity,
    /// Requests in the range.
    pub total_requests: u64,
    pub success: u64,
    pub error: u64,
    /// `error / total_requests`, 0 when there were none.
    pub error_rate: f64,
    /// Mean answer time in milliseconds.
    pub average_latency_ms: f64,
    /// Answer times over the range; absent when there were no requests.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub latency: Option<LatencyPercentiles>,
    /// Requests allowed per calendar month, if limited.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub usage_limit: Option<u64>,
    /// Requests this calendar month that counted against the limit: every answered request
    /// except those refused by the key check itself (401, and 429 for a spent limit or rate).
    pub used_this_month: u64,
    /// What remains of the monthly limit.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub remaining: Option<u64>,
    /// Every bucket of the range, empty ones included.
    pub series: Vec<UsagePoint>,
    /// Status codes, most frequent first.
    pub status_codes: Vec<StatusCount>,
    /// The range's requests by what became of them.
    pub outcomes: Outcomes,
}

/// Requests by what became of them; the six add up to `total_requests`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Outcomes {
    /// Answered with a status below 400.
    pub success: u64,
    /// Refused with 429 `rate_limited`: more requests per second than the key's rate limit.
    pub rate_limited: u64,
    /// Refused with 429 `usage_limit_exceeded`: the key's monthly limit was spent.
    pub quota_exceeded: u64,
    /// Refused with 401 or 403 (an invalid, revoked or expired key, a missing scope, an address
    /// off the allowlist).
    pub denied: u64,
    /// Other 4xx answers.
    pub client_error: u64,
    /// 5xx answers.
    pub server_error: u64,
}

/// One key's share of a team's usage.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct KeyUsageSummary {
    pub key_id: Uuid,
    pub name: String,
    pub environment: Environment,
    pub total_requests: u64,
    pub error: u64,
    /// When the key was last used (ever, not only in the range); absent if never.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_used_at: Option<DateTime<Utc>>,
}

/// `GET /api/v1/teams/{team_id}/usage`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct TeamUsage {
    pub usage: Usage,
    pub keys: Vec<KeyUsageSummary>,
}

/// `POST /api/v1/keys/verify`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct VerifyKeyRequest {
    pub key: String,
    /// The address the key was presented from, as your service saw it. A key with an allowlist
    /// is valid only from its addresses (`ip_not_allowed` otherwise), and without `client_ip`
    /// not at all: the address is not known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(inline))]
    pub client_ip: Option<IpAddress>,
}

/// What `POST /api/v1/keys/verify` found.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct VerifyKeyResponse {
    pub valid: bool,
    /// Why not: `invalid_api_key`, `key_revoked`, `key_expired`, `key_rolled`, `ip_not_allowed`,
    /// `usage_limit_exceeded`, `rate_limited`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub code: Option<ErrorCode>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key_id: Option<Uuid>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub team_id: Option<Uuid>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub environment: Option<Environment>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<DateTime<Utc>>,
    /// What remains of the monthly limit, if limited.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub remaining: Option<u64>,
    /// What the key may do now (its scopes, capped by its creator's current role).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub scopes: Vec<Scope>,
}
