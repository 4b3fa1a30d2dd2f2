//! One module per screen.

mod account;
mod dashboard;
mod forgot_password;
mod invite;
mod not_found;
mod reset_password;
pub(crate) mod sign_in;
mod sign_up;
mod team;
mod two_factor;
mod verify_email;

use portal_types::rules;

pub use account::AccountPage;
pub use dashboard::DashboardPage;
pub use forgot_password::ForgotPasswordPage;
pub use invite::InvitePage;
pub use not_found::NotFoundPage;
pub use reset_password::ResetPasswordPage;
pub use sign_in::SignInPage;
pub use sign_up::SignUpPage;
#[cfg(test)]
pub(crate) use team::UsageChart;
pub use team::{
    ActivityPage, ApiKeysPage, KeyUsagePage, MembersPage, TeamLayout, TeamOverviewPage, TeamSettingsPage,
    TeamUsagePage, WebhooksPage,
};
pub use verify_email::VerifyEmailPage;

/// The API's limits (`portal_types::rules`, stated once), as the inputs' `minlength` and
/// `maxlength`, so the browser can say so early.
pub(crate) const PASSWORD_MIN: u32 = rules::PASSWORD_MIN_CHARS as u32;
pub(crate) const PASSWORD_MAX: u32 = rules::PASSWORD_MAX_CHARS as u32;
/// Says [`PASSWORD_MIN`] and [`PASSWORD_MAX`] (a test holds it to them).
pub(crate) const PASSWORD_HINT: &str = "10 to 128 characters.";
pub(crate) const NAME_MAX: u32 = rules::NAME_MAX_CHARS as u32;
pub(crate) const DESCRIPTION_MAX: u32 = rules::DESCRIPTION_MAX_CHARS as u32;
pub(crate) const MESSAGE_MAX: u32 = rules::MESSAGE_MAX_CHARS as u32;
pub(crate) const URL_MAX: u32 = rules::WEBHOOK_URL_MAX_CHARS as u32;
pub(crate) const SEARCH_MAX: u32 = rules::SEARCH_MAX_CHARS as u32;
/// A code of the authenticator app: six digits, maybe typed as "123 456".
pub(crate) const CODE_MAX: u32 = 7;
/// The field that takes an app's code or a recovery code (ten characters, maybe with dashes).
pub(crate) const CODE_OR_RECOVERY_MAX: u32 = 20;
