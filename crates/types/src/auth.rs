use crate::{EmailAddress, LinkToken, Name, NewPassword, Password};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// `POST /api/v1/auth/signup`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct SignupRequest {
    /// E-mail address; a verification link is mailed to it.
    #[cfg_attr(feature = "openapi", schema(inline))]
    pub email: EmailAddress,
    /// Display name, 1 to 100 characters.
    #[cfg_attr(feature = "openapi", schema(inline))]
    pub name: Name,
    /// Password, 10 to 128 characters.
    #[cfg_attr(feature = "openapi", schema(inline))]
    pub password: NewPassword,
    /// The token of an invitation mailed to this address: the account is then verified at once.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(inline))]
    pub invitation_token: Option<LinkToken>,
}

/// A request was accepted; what follows happens by e-mail.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Accepted {
    /// What the user should do next.
    pub message: String,
}

/// `POST /api/v1/auth/verify-email`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct VerifyEmailRequest {
    /// The token from the mailed verification link.
    #[cfg_attr(feature = "openapi", schema(inline))]
    pub token: LinkToken,
}

/// `POST /api/v1/auth/resend-verification` and `POST /api/v1/auth/forgot-password`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct EmailRequest {
    /// The account's e-mail address.
    #[cfg_attr(feature = "openapi", schema(inline))]
    pub email: EmailAddress,
}

/// `POST /api/v1/auth/login`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct LoginRequest {
    #[cfg_attr(feature = "openapi", schema(inline))]
    pub email: EmailAddress,
    #[cfg_attr(feature = "openapi", schema(inline))]
    pub password: Password,
    /// The `sso_link` of a single sign-on that found this account: once the password (and any
    /// second factor) is proven, the account is linked to the identity provider's user.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(inline))]
    pub sso_link: Option<LinkToken>,
}

/// A new session: a short-lived access token (the refresh token travels as an HttpOnly cookie).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Session {
    /// JWT to send as `Authorization: Bearer <access_token>`.
    pub access_token: String,
    /// Always `Bearer`.
    pub token_type: String,
    /// Seconds until the access token expires.
    pub expires_in: u64,
    /// The signed-in user.
    pub user: User,
}

/// `POST /api/v1/auth/reset-password`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct ResetPasswordRequest {
    /// The token from the mailed reset link.
    #[cfg_attr(feature = "openapi", schema(inline))]
    pub token: LinkToken,
    /// The new password, 10 to 128 characters.
    #[cfg_attr(feature = "openapi", schema(inline))]
    pub password: NewPassword,
}

/// `POST /api/v1/me/password`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct ChangePasswordRequest {
    #[cfg_attr(feature = "openapi", schema(inline))]
    pub current_password: Password,
    /// The new password, 10 to 128 characters.
    #[cfg_attr(feature = "openapi", schema(inline))]
    pub new_password: NewPassword,
}

/// `PATCH /api/v1/me`: fields left out stay as they are.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct UpdateMeRequest {
    /// New display name, 1 to 100 characters.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(inline))]
    pub name: Option<Name>,
}

/// A user account as its owner sees it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct User {
    pub id: Uuid,
    pub email: String,
    pub name: String,
    /// Whether the address was proven by the mailed link.
    pub email_verified: bool,
    pub created_at: DateTime<Utc>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_fields_are_rejected() {
        let err = serde_json::from_str::<LoginRequest>(r#"{"email":"a@b.c","password":"x","admin":true}"#).unwrap_err();
        assert!(err.to_string().contains("unknown field `admin`"), "{err}");
    }

    #[test]
    fn problem_serialises_type_and_skips_empty_fields() {
        let p = crate::Problem {
            kind: "about:blank".into(),
            title: "Not Found".into(),
            status: 404,
            detail: None,
            code: crate::ErrorCode::NotFound,
            field: None,
            required_scope: None,
            sso_url: None,
            request_id: None,
        };
        let v = serde_json::to_value(&p).unwrap();
        assert_eq!(v, serde_json::json!({"type":"about:blank","title":"Not Found","status":404,"code":"not_found"}));
    }
}

/// One session of the signed-in user: a sign-in on a device, until it ends or goes unused for
/// 30 days.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct SessionInfo {
    pub id: Uuid,
    /// When it signed in.
    pub created_at: DateTime<Utc>,
    /// When it was last used: signed in, or its access token renewed (about every 15 minutes
    /// while in use).
    pub last_used_at: DateTime<Utc>,
    /// When it ends unless used again.
    pub expires_at: DateTime<Utc>,
    /// The client address it was last used from.
    pub ip: Option<String>,
    /// The user agent it was last used with.
    pub user_agent: Option<String>,
    /// The session of the access token that asked.
    pub current: bool,
    /// How it started: `password`, or `sso:<connection id>` at a team's identity provider.
    pub started_with: String,
    /// The connection's name, for a session started at one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sso_connection: Option<String>,
}

/// `GET /api/v1/me/sessions`: the sessions in use, the latest used first (at most 500).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct SessionList {
    pub items: Vec<SessionInfo>,
}

/// `DELETE /api/v1/me/sessions/others`: how many sessions ended.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct SessionsEnded {
    pub ended: u64,
}

/// `POST /api/v1/auth/login` when the account has two-factor authentication: the password was
/// right, and the session starts once `POST /api/v1/auth/login/two-factor` gets a code with this
/// challenge.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct TwoFactorChallenge {
    /// Pass to `POST /api/v1/auth/login/two-factor` with a code. It works once, for 5 minutes and
    /// at most 5 codes.
    pub challenge: String,
    /// Seconds until the challenge expires.
    pub expires_in: u64,
}

/// `POST /api/v1/auth/login/two-factor`: the second step of a sign-in.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct TwoFactorLoginRequest {
    /// The `challenge` of the password step.
    #[cfg_attr(feature = "openapi", schema(inline))]
    pub challenge: LinkToken,
    /// The 6-digit code of the authenticator app, or an unused recovery code (`xxxxx-xxxxx`).
    pub code: String,
    /// As in the password step.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(inline))]
    pub sso_link: Option<LinkToken>,
}

/// A request that the password confirms (`POST /api/v1/me/two-factor/setup`,
/// `POST /api/v1/me/two-factor/recovery-codes`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct PasswordConfirmation {
    /// The account's current password.
    #[cfg_attr(feature = "openapi", schema(inline))]
    pub password: Password,
}

/// `GET /api/v1/me/two-factor`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct TwoFactorStatus {
    /// Whether sign-in asks for a code after the password.
    pub enabled: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub enabled_at: Option<DateTime<Utc>>,
    /// Unused recovery codes (0 while two-factor authentication is off).
    pub recovery_codes_left: u32,
}

/// `POST /api/v1/me/two-factor/setup`: a new TOTP secret for the authenticator app. Nothing
/// changes at sign-in until a code of it confirms it (`POST /api/v1/me/two-factor/enable`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct TwoFactorSetup {
    /// The secret in base32, for typing into the app.
    pub secret: String,
    /// The `otpauth://totp/…` URI (SHA-1, 6 digits, 30 s), as the QR code carries it.
    pub otpauth_uri: String,
    /// The QR code of `otpauth_uri` as an SVG document.
    pub qr_svg: String,
}

/// `POST /api/v1/me/two-factor/enable`: a code of the app, which proves it holds the secret.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct EnableTwoFactorRequest {
    /// The 6-digit code the app shows now.
    pub code: String,
}

/// `POST /api/v1/me/two-factor/disable`: the password and a code.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct DisableTwoFactorRequest {
    #[cfg_attr(feature = "openapi", schema(inline))]
    pub password: Password,
    /// A 6-digit code of the app, or an unused recovery code.
    pub code: String,
}

/// New recovery codes: shown this once, each works once. A new set voids the previous one.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct RecoveryCodes {
    /// 16 codes, `xxxxx-xxxxx`.
    pub codes: Vec<String>,
}

/// `GET /api/v1/me/getting-started`: the guide's two Quick Reference checklists, each step
/// ticked from what exists in the user's teams.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct GettingStarted {
    /// The user is in a team.
    pub team_created: bool,
    /// Someone else is in, or was invited to, one of the user's teams.
    pub members_invited: bool,
    /// Someone else holds the owner or admin role in one of the teams, or a role was changed.
    pub roles_assigned: bool,
    /// A development key exists.
    pub development_key: bool,
    /// A production key exists.
    pub production_key: bool,
    /// A key has made its first request: it is configured in an application.
    pub key_used: bool,
    /// A key has a monthly limit (with its usage alerts), or a webhook endpoint exists.
    pub usage_monitored: bool,
}
