//! sea-orm entities, one module per table.

pub mod email_token;
pub mod mail_outbox;
pub mod refresh_token;
pub mod user;
