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

/// Password rules of the API, mirrored in the inputs so the browser can say so early.
pub(crate) const PASSWORD_MIN: u32 = 10;
pub(crate) const PASSWORD_MAX: u32 = 128;
pub(crate) const PASSWORD_HINT: &str = "10 to 128 characters.";
