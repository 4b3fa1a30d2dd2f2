//! sea-orm entities, one module per table.

pub mod api_key;
pub mod audit;
pub mod email_token;
pub mod invitation;
pub mod login_challenge;
pub mod mail_outbox;
pub mod recovery_code;
pub mod refresh_token;
pub mod saml_assertion;
pub mod session;
pub mod sso_connection;
pub mod sso_flow;
pub mod sso_identity;
pub mod team;
pub mod team_domain;
pub mod team_member;
pub mod two_factor;
pub mod user;
pub mod webhook_attempt;
pub mod webhook_delivery;
pub mod webhook_endpoint;
pub mod webhook_event;
