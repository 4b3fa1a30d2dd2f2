//! The Partner Portal server: REST API, OpenAPI document and the web app.

pub mod access;
pub mod app;
pub mod backup;
pub mod client_ip;
pub mod config;
pub mod dns;
pub mod domain_checks;
pub mod error;
pub mod extract;
pub mod kept;
pub mod keys;
pub mod leaks;
pub mod mail;
pub mod notices;
pub mod openapi;
pub mod paging;
pub mod ratelimit;
pub mod reads;
pub mod retention;
pub mod routes;
pub mod saml;
pub mod security;
pub mod services;
pub mod sso;
pub mod startup;
pub mod state;
pub mod statements;
pub mod web;
pub mod webhooks;

pub use config::{Config, ConfigArgs};
pub use startup::{Application, StartupError};

/// Logs to stderr; `PORTAL_LOG` (or `RUST_LOG`) filters, default `info`.
/// Colours only on a terminal: a log file or a log shipper gets plain lines.
pub fn init_tracing() {
    use std::io::IsTerminal as _;
    init(std::io::stderr, std::io::stderr().is_terminal());
}

/// Logs as [`init_tracing`] does, to `writer` (tests read what the portal logs), without colours.
pub fn init_tracing_with<W>(writer: W)
where
    W: for<'a> tracing_subscriber::fmt::MakeWriter<'a> + Send + Sync + 'static,
{
    init(writer, false);
}

fn init<W>(writer: W, ansi: bool)
where
    W: for<'a> tracing_subscriber::fmt::MakeWriter<'a> + Send + Sync + 'static,
{
    let filter = std::env::var("PORTAL_LOG")
        .or_else(|_| std::env::var("RUST_LOG"))
        .unwrap_or_else(|_| "info,sqlx=warn,sea_orm=warn".to_owned());
    let _ = tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::new(filter))
        .with_writer(writer)
        .with_ansi(ansi)
        .try_init();
}
