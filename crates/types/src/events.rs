//! One vocabulary for what happens: the actions the audit log records (and the web app labels and
//! filters by), and the event types webhooks deliver. Each audit action names the events it
//! raises, so that the two can never drift apart.

use serde::{Deserialize, Serialize};

macro_rules! event_types {
    ($($(#[doc = $doc:literal])* $variant:ident = $name:tt,)+) => {
        /// The type of a webhook event: `{resource}.{what happened}`, stable and versioned by
        /// the payload's `version`.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
        pub enum EventType {
            $($(#[doc = $doc])* #[serde(rename = $name)] $variant,)+
        }

        impl EventType {
            pub const ALL: &'static [EventType] = &[$(EventType::$variant,)+];

            /// The type as sent, e.g. `api_key.revoked`.
            pub fn as_str(self) -> &'static str {
                match self {
                    $(EventType::$variant => $name,)+
                }
            }

            pub fn parse(name: &str) -> Option<Self> {
                match name {
                    $($name => Some(EventType::$variant),)+
                    _ => None,
                }
            }

            /// What the event means, in one line (its documentation), e.g. "An API key was
            /// revoked, by hand or as compromised."
            pub fn description(self) -> &'static str {
                match self {
                    $(EventType::$variant => concat!($($doc),*).trim_start(),)+
                }
            }
        }
    };
}

event_types! {
    /// An API key was created (also as the replacement of a rolled or compromised key).
    ApiKeyCreated = "api_key.created",
    /// An API key was revoked, by hand or as compromised.
    ApiKeyRevoked = "api_key.revoked",
    /// An API key was rolled: a replacement exists, and the old key works until its grace ends.
    ApiKeyRolled = "api_key.rolled",
    /// An API key expires within days.
    ApiKeyExpiring = "api_key.expiring",
    /// An API key has expired.
    ApiKeyExpired = "api_key.expired",
    /// An API key was found leaked (secret scanning) and revoked.
    ApiKeyLeaked = "api_key.leaked",
    /// An API key used a share of its monthly limit that was set as an alert threshold.
    UsageThresholdReached = "usage.threshold_reached",
    /// Someone joined the team.
    MemberJoined = "member.joined",
    /// A member was removed, or left.
    MemberRemoved = "member.removed",
    /// A member's role changed.
    MemberRoleChanged = "member.role_changed",
    /// An invitation was sent.
    InvitationCreated = "invitation.created",
    /// An invitation was accepted.
    InvitationAccepted = "invitation.accepted",
    /// An invitation was revoked.
    InvitationRevoked = "invitation.revoked",
    /// The team's name, description or settings changed.
    TeamUpdated = "team.updated",
    /// A domain's TXT record was found: the team owns the domain.
    DomainVerified = "domain.verified",
    /// A domain was removed from the team.
    DomainRemoved = "domain.removed",
    /// A verified domain's TXT record was missing for the grace period: it is no longer verified.
    DomainLapsed = "domain.lapsed",
    /// A single sign-on connection was added, changed or removed.
    SsoConnectionChanged = "sso.connection_changed",
    /// A sign-in through the team's identity provider was refused (the activity entry says why).
    SsoSignInFailed = "sso.sign_in_failed",
    /// A test event, sent on request to one endpoint.
    WebhookTest = "webhook.test",
}

macro_rules! audit_actions {
    ($($(#[doc = $doc:literal])* $variant:ident = $name:literal, $label:literal, [$($event:ident),*],)+) => {
        /// An action of the audit log.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum AuditAction {
            $($(#[doc = $doc])* $variant,)+
        }

        impl AuditAction {
            pub const ALL: &'static [AuditAction] = &[$(AuditAction::$variant,)+];

            /// The action as stored and sent, e.g. `key.revoked`.
            pub const fn as_str(self) -> &'static str {
                match self {
                    $(AuditAction::$variant => $name,)+
                }
            }

            /// The action as people read it, e.g. "API key revoked".
            pub fn label(self) -> &'static str {
                match self {
                    $(AuditAction::$variant => $label,)+
                }
            }

            /// The webhook events it raises.
            pub fn events(self) -> &'static [EventType] {
                match self {
                    $(AuditAction::$variant => &[$(EventType::$event),*],)+
                }
            }

            pub fn parse(name: &str) -> Option<Self> {
                match name {
                    $($name => Some(AuditAction::$variant),)+
                    _ => None,
                }
            }
        }
    };
}

audit_actions! {
    TeamCreated = "team.created", "Team created", [],
    TeamUpdated = "team.updated", "Team updated", [TeamUpdated],
    TeamDeleted = "team.deleted", "Team deleted", [],
    MemberJoined = "member.joined", "Member joined", [MemberJoined, InvitationAccepted],
    /// Joined without an invitation: by the verified domain of their address, or signing in
    /// through the team's identity provider (summary: how).
    MemberJoinedByDomain = "member.joined_by_domain", "Member joined (verified domain)", [MemberJoined],
    MemberRoleChanged = "member.role_changed", "Role changed", [MemberRoleChanged],
    MemberRemoved = "member.removed", "Member removed", [MemberRemoved],
    MemberLeft = "member.left", "Member left", [MemberRemoved],
    InvitationCreated = "invitation.created", "Invitation sent", [InvitationCreated],
    InvitationResent = "invitation.resent", "Invitation resent", [],
    InvitationRevoked = "invitation.revoked", "Invitation revoked", [InvitationRevoked],
    /// A sign-in: the only entry without a team that a team's activity shows.
    SignedIn = "auth.signed_in", "Signed in", [],
    /// A user ended one of their sessions (target: the session).
    SessionEnded = "auth.session_ended", "Session ended", [],
    /// A user ended all their other sessions (summary: how many).
    OtherSessionsEnded = "auth.other_sessions_ended", "Signed out everywhere else", [],
    /// The password was right and the account has two-factor authentication: a challenge was given.
    TwoFactorChallenged = "auth.two_factor_challenged", "Two-factor code asked", [],
    /// A wrong, replayed or used two-factor code was given.
    TwoFactorFailed = "auth.two_factor_failed", "Two-factor code refused", [],
    /// A recovery code was used (summary: how many are left).
    RecoveryCodeUsed = "auth.recovery_code_used", "Recovery code used", [],
    TwoFactorEnabled = "auth.two_factor_enabled", "Two-factor authentication turned on", [],
    TwoFactorDisabled = "auth.two_factor_disabled", "Two-factor authentication turned off", [],
    RecoveryCodesRegenerated = "auth.recovery_codes_regenerated", "Recovery codes replaced", [],
    KeyCreated = "key.created", "API key created", [ApiKeyCreated],
    KeyRevoked = "key.revoked", "API key revoked", [ApiKeyRevoked],
    KeyRolled = "key.rolled", "API key rolled", [ApiKeyRolled],
    KeyUpdated = "key.updated", "API key changed", [],
    KeyCompromised = "api_key.compromised", "API key reported compromised", [ApiKeyRevoked],
    KeyLeaked = "api_key.leaked", "API key found leaked", [ApiKeyLeaked],
    WebhookCreated = "webhook.created", "Webhook endpoint added", [],
    WebhookUpdated = "webhook.updated", "Webhook endpoint changed", [],
    WebhookDeleted = "webhook.deleted", "Webhook endpoint deleted", [],
    WebhookSecretRotated = "webhook.secret_rotated", "Webhook secret rotated", [],
    /// The portal turned an endpoint off: it answered 410, or failed for 5 days.
    WebhookDisabled = "webhook.disabled", "Webhook endpoint turned off", [],
    DomainAdded = "domain.added", "Domain added", [],
    /// Its TXT record was found: the team owns the domain.
    DomainVerified = "domain.verified", "Domain verified", [DomainVerified],
    /// A lookup of its TXT record did not verify it (summary: why).
    DomainCheckFailed = "domain.check_failed", "Domain not verified", [],
    DomainJoinRuleChanged = "domain.join_rule_changed", "Domain join rule changed", [],
    DomainRemoved = "domain.removed", "Domain removed", [DomainRemoved],
    /// Looked up again, its record was missing for the grace period (summary: why).
    DomainLapsed = "domain.lapsed", "Domain no longer verified", [DomainLapsed],
    SsoConnectionCreated = "sso.connection_created", "SSO connection added", [SsoConnectionChanged],
    SsoConnectionUpdated = "sso.connection_updated", "SSO connection changed", [SsoConnectionChanged],
    SsoConnectionRemoved = "sso.connection_removed", "SSO connection removed", [SsoConnectionChanged],
    /// "Test connection" ran (summary: what it received, or why it failed).
    SsoTested = "sso.tested", "SSO connection tested", [],
    /// Someone signed in through the team's identity provider (summary: the connection).
    SsoSignedIn = "sso.signed_in", "Signed in with SSO", [],
    /// A sign-in through the team's identity provider was refused (summary: why).
    SsoSignInFailed = "sso.sign_in_failed", "SSO sign-in refused", [SsoSignInFailed],
    /// A password account was linked to the identity provider's user, its password proven.
    SsoLinked = "sso.linked", "Account linked to SSO", [],
    /// An owner signed in with a password while the team requires single sign-on.
    SsoBreakGlass = "sso.break_glass", "Owner signed in with a password (SSO required)", [],
}

impl AuditAction {
    /// Whether a team's activity can show it (the filter of the activity page offers these).
    pub fn in_team_activity(self) -> bool {
        !self.as_str().starts_with("auth.") || self == AuditAction::SignedIn
    }
}

impl std::fmt::Display for AuditAction {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::fmt::Display for EventType {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_unique_and_read_back() {
        let mut seen = std::collections::HashSet::new();
        for action in AuditAction::ALL {
            assert!(seen.insert(action.as_str()), "{action} twice");
            assert_eq!(AuditAction::parse(action.as_str()), Some(*action));
            assert!(!action.label().is_empty());
        }
        for event in EventType::ALL {
            assert_eq!(EventType::parse(event.as_str()), Some(*event));
            assert_eq!(serde_json::to_value(event).unwrap(), event.as_str());
        }
    }

    #[test]
    fn every_team_event_but_the_scheduled_ones_comes_from_an_audited_action() {
        let raised: std::collections::HashSet<EventType> =
            AuditAction::ALL.iter().flat_map(|a| a.events().iter().copied()).collect();
        let scheduled = [
            EventType::ApiKeyExpiring,
            EventType::ApiKeyExpired,
            EventType::UsageThresholdReached,
            EventType::WebhookTest,
        ];
        for event in EventType::ALL {
            assert_eq!(raised.contains(event), !scheduled.contains(event), "{event}");
        }
    }
}
