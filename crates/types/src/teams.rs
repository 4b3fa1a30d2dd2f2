use crate::{Description, EmailAddress, LinkToken, Message, Name};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// A member's role in a team.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Everything, including deleting the team and granting or removing the owner role.
    Owner,
    /// Manages members below owner, invitations and API keys.
    Admin,
    /// Reads the team, its members, keys' metadata and usage.
    Member,
}

impl Role {
    pub const ALL: [Role; 3] = [Role::Owner, Role::Admin, Role::Member];

    /// As people read it.
    pub fn label(self) -> &'static str {
        match self {
            Self::Owner => "Owner",
            Self::Admin => "Admin",
            Self::Member => "Member",
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Role::Owner => "owner",
            Role::Admin => "admin",
            Role::Member => "member",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|r| r.as_str() == s)
    }
}

/// A team, as one of its members sees it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Team {
    pub id: Uuid,
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// The caller's role in this team (an API key acts as admin).
    pub role: Role,
    pub member_count: u32,
    /// Members without two-factor authentication get 403 `two_factor_required` for everything of
    /// this team until they turn it on.
    pub require_two_factor: bool,
    /// Members (not owners) get 403 `sso_required` here unless their session started at the
    /// team's identity provider; API keys keep working.
    pub require_sso: bool,
    pub created_at: DateTime<Utc>,
    /// What the caller may do here, from the server's permission table: clients show only
    /// the controls that will work.
    pub permissions: TeamPermissions,
}

/// What the caller may do in a team.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct TeamPermissions {
    pub update_team: bool,
    pub delete_team: bool,
    pub read_invitations: bool,
    pub manage_api_keys: bool,
    /// Add, change, test and delete webhook endpoints, and read their delivery logs.
    pub manage_webhooks: bool,
    /// See the team's domains.
    pub read_domains: bool,
    /// Add, verify and remove the team's domains, and set their join rule.
    pub manage_domains: bool,
    /// See the team's single sign-on connections.
    pub read_sso: bool,
    /// Add, change, test and remove single sign-on connections.
    pub manage_sso: bool,
    /// Roles the caller may invite with (and whose invitations they may resend or revoke).
    pub invite_roles: Vec<Role>,
    /// For members of each role: the roles the caller may give them.
    pub role_changes: Vec<RoleChanges>,
    /// Roles of the members the caller may remove.
    pub remove_roles: Vec<Role>,
}

/// `GET /api/v1/roles`: what each role may do in a team, from the permission table itself, so
/// that clients can say what a role change grants or takes away.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct RoleList {
    /// Owner, admin, member.
    pub items: Vec<RolePermissions>,
}

/// What a member of `role` may do.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct RolePermissions {
    pub role: Role,
    pub permissions: TeamPermissions,
}

/// The roles a member of `role` may be given by the caller.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct RoleChanges {
    pub role: Role,
    pub to: Vec<Role>,
}

/// `GET /api/v1/teams`: the caller's teams.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct TeamPage {
    pub items: Vec<Team>,
    /// Pass as `cursor` to get the next page; absent on the last page.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_cursor: Option<String>,
}

/// `POST /api/v1/teams`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct CreateTeamRequest {
    /// 1 to 100 characters.
    #[cfg_attr(feature = "openapi", schema(inline))]
    pub name: Name,
    /// Up to 500 characters.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(inline))]
    pub description: Option<Description>,
}

/// `PATCH /api/v1/teams/{team_id}`: fields left out stay; an empty description clears it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct UpdateTeamRequest {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(inline))]
    pub name: Option<Name>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(inline))]
    pub description: Option<Description>,
    /// Require two-factor authentication of every member (owners only; the owner must have it on).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub require_two_factor: Option<bool>,
    /// Require single sign-on of every member but owners (owners only; the team needs a working
    /// connection).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub require_sso: Option<bool>,
}

/// A member of a team.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Member {
    pub user_id: Uuid,
    pub name: String,
    pub email: String,
    pub role: Role,
    pub joined_at: DateTime<Utc>,
    /// The member's latest recorded activity (a change in this team, or a sign-in).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_active_at: Option<DateTime<Utc>>,
}

/// `GET /api/v1/teams/{team_id}/two-factor`: whom requiring two-factor authentication shuts
/// out, for the owner deciding to require it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct TeamTwoFactor {
    /// Whether the team requires it now.
    pub required: bool,
    /// How many members do not have it on.
    pub without_count: u64,
    /// The first 100 of them by name: while the team requires it, they keep their membership but
    /// get 403 `two_factor_required`.
    pub without: Vec<Member>,
}

/// `GET /api/v1/teams/{team_id}/members`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct MemberPage {
    pub items: Vec<Member>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_cursor: Option<String>,
}

/// `PATCH /api/v1/teams/{team_id}/members/{user_id}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct UpdateMemberRequest {
    pub role: Role,
}

/// Where an invitation stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "lowercase")]
pub enum InvitationState {
    Pending,
    Accepted,
    Revoked,
    Expired,
}

impl InvitationState {
    /// As people read it.
    pub fn label(self) -> &'static str {
        match self {
            Self::Pending => "Pending",
            Self::Accepted => "Accepted",
            Self::Revoked => "Revoked",
            Self::Expired => "Expired",
        }
    }
}

/// An invitation to join a team.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Invitation {
    pub id: Uuid,
    pub team_id: Uuid,
    pub email: String,
    pub role: Role,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    pub state: InvitationState,
    /// Who invited: a user's name, or an API key's.
    pub invited_by_name: String,
    /// The inviting user, when a user (not an API key) invited.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub invited_by_user_id: Option<Uuid>,
    pub created_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
}

/// `GET /api/v1/teams/{team_id}/invitations`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct InvitationPage {
    pub items: Vec<Invitation>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_cursor: Option<String>,
}

/// `POST /api/v1/teams/{team_id}/invitations`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct CreateInvitationRequest {
    #[cfg_attr(feature = "openapi", schema(inline))]
    pub email: EmailAddress,
    /// Never above the inviter's own role.
    pub role: Role,
    /// A personal note for the invitee, up to 1000 characters.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(inline))]
    pub message: Option<Message>,
}

/// `GET /api/v1/invitations/{token}`: what the invitee sees before accepting.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct InvitationPreview {
    pub team_name: String,
    pub invited_by_name: String,
    pub email: String,
    pub role: Role,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    pub state: InvitationState,
    pub expires_at: DateTime<Utc>,
    /// Whether an account with the invited address exists (then sign in, else sign up).
    pub account_exists: bool,
}

/// `POST /api/v1/invitations/accept`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct AcceptInvitationRequest {
    /// The token from the mailed link.
    #[cfg_attr(feature = "openapi", schema(inline))]
    pub token: LinkToken,
}

/// Who did something.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ActivityActor {
    /// `user` or `api_key`.
    pub kind: String,
    pub id: Uuid,
    pub name: String,
}

/// One entry of a team's audit log.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ActivityEntry {
    pub id: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub actor: Option<ActivityActor>,
    /// e.g. `team.created`, `member.role_changed`, `invitation.created`, `auth.signed_in`.
    pub action: String,
    /// What was acted on: `team`, `member`, `invitation`, `user`.
    pub target_type: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target_id: Option<String>,
    /// A readable summary, e.g. `bob@example.com: member → admin`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub summary: Option<String>,
    /// Client address; shown to owners and admins only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ip: Option<String>,
    /// Client user agent; shown to owners and admins only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_agent: Option<String>,
    pub created_at: DateTime<Utc>,
}

/// `GET /api/v1/teams/{team_id}/activity`, newest first.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ActivityPage {
    pub items: Vec<ActivityEntry>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_cursor: Option<String>,
}
