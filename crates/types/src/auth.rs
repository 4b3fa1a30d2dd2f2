use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// `POST /api/v1/auth/signup`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct SignupRequest {
    /// E-mail address; a verification link is mailed to it.
    pub email: String,
    /// Display name, 1 to 100 characters.
    pub name: String,
    /// Password, 10 to 128 characters.
    pub password: String,
    /// The token of an invitation mailed to this address: the account is then verified at once.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub invitation_token: Option<String>,
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
    pub token: String,
}

/// `POST /api/v1/auth/resend-verification` and `POST /api/v1/auth/forgot-password`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct EmailRequest {
    /// The account's e-mail address.
    pub email: String,
}

/// `POST /api/v1/auth/login`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct LoginRequest {
    pub email: String,
    pub password: String,
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
    pub token: String,
    /// The new password, 10 to 128 characters.
    pub password: String,
}

/// `POST /api/v1/me/password`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct ChangePasswordRequest {
    pub current_password: String,
    /// The new password, 10 to 128 characters.
    pub new_password: String,
}

/// `PATCH /api/v1/me`: fields left out stay as they are.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct UpdateMeRequest {
    /// New display name, 1 to 100 characters.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
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
