//! A team's verified domains: a team proves it owns a domain with a DNS TXT record, and says
//! what people with addresses there may do.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::DomainName;

/// What people whose address is at a verified domain may do without an invitation.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum DomainJoinRule {
    /// They join only when invited (the default).
    #[default]
    Invitations,
    /// The team is offered to them when they sign in; joining, as member, is their choice.
    Suggest,
    /// They join with the member role when they sign in.
    Automatic,
}

impl DomainJoinRule {
    pub const ALL: [Self; 3] = [Self::Invitations, Self::Suggest, Self::Automatic];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Invitations => "invitations",
            Self::Suggest => "suggest",
            Self::Automatic => "automatic",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|r| r.as_str() == s)
    }

    pub fn label(self) -> &'static str {
        match self {
            Self::Invitations => "Invitations only",
            Self::Suggest => "Suggest joining",
            Self::Automatic => "Join automatically as member",
        }
    }
}

/// A domain of the team, verified or waiting for its TXT record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct TeamDomain {
    pub id: Uuid,
    /// In lower case, e.g. `example.com`.
    pub domain: String,
    /// The TXT record that proves it: its name (`_partner-portal.` + the domain) ...
    pub txt_name: String,
    /// ... and its value (`pp-verify=` + this domain's token).
    pub txt_value: String,
    /// When the record was found; absent until then.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub verified_at: Option<DateTime<Utc>>,
    /// When the record was last looked up.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub checked_at: Option<DateTime<Utc>>,
    /// Why the last lookup did not verify it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub check_error: Option<String>,
    pub join_rule: DomainJoinRule,
    pub created_at: DateTime<Utc>,
}

/// `GET /api/v1/teams/{team_id}/domains`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct TeamDomainList {
    pub items: Vec<TeamDomain>,
}

/// `POST /api/v1/teams/{team_id}/domains`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct AddDomainRequest {
    #[cfg_attr(feature = "openapi", schema(inline))]
    pub domain: DomainName,
}

/// `PATCH /api/v1/teams/{team_id}/domains/{domain_id}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct UpdateDomainRequest {
    pub join_rule: DomainJoinRule,
}

/// A team the signed-in user may join without an invitation: it verified the domain of their
/// address and lets its people join (`suggest` or `automatic`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct JoinableTeam {
    pub team_id: Uuid,
    pub team_name: String,
    /// The verified domain of the user's address.
    pub domain: String,
    pub join_rule: DomainJoinRule,
}

/// `GET /api/v1/me/joinable-teams`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct JoinableTeamList {
    pub items: Vec<JoinableTeam>,
}
