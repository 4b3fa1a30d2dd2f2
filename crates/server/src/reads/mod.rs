//! Read models: each page's read (the kept answer, this instance's unwritten usage laid over
//! it, the narrowed query) in one function that a handler calls once it has checked access.

pub mod accounts;
pub mod activity;
pub mod domains;
pub mod invitations;
pub mod keys;
pub mod members;
pub mod sso;
pub mod teams;
pub mod usage;
pub mod webhooks;
