//! Integration tests: the real server over HTTP on a random port, each test with its own database.

mod auth;
mod errors;
mod helpers;
mod openapi;
mod smtp;
mod web;
