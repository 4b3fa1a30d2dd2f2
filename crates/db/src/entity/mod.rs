//! sea-orm entities, one module per table.

pub mod api_key;
pub mod audit;
pub mod email_token;
pub mod invitation;
pub mod mail_outbox;
pub mod refresh_token;
pub mod session;
pub mod team;
pub mod team_member;
pub mod user;
