//! Integration tests: the real server over HTTP on a random port, each test with its own database.
#![allow(clippy::unwrap_used)] // a failed unwrap in a test is a failed test

mod auth;
mod backup;
mod client;
mod domains;
mod errors;
mod escapes;
mod helpers;
mod keys;
mod leaks;
mod matrix;
mod openapi;
mod operations;
mod proxy;
mod reads;
mod saml;
mod scopes;
mod security;
mod sessions;
mod smtp;
mod sso;
mod teams;
mod two_factor;
mod usage;
mod web;
mod webhooks;
