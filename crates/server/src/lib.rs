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
pub mod metrics;
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
pub mod webhook_slots;
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

/// Logs as text (the default) or, with `PORTAL_LOG_FORMAT=json`, one JSON object a line for log
/// shippers: every line logged while a request is answered carries the request's span (method,
/// path, `request_id`).
fn init<W>(writer: W, ansi: bool)
where
    W: for<'a> tracing_subscriber::fmt::MakeWriter<'a> + Send + Sync + 'static,
{
    let filter = std::env::var("PORTAL_LOG")
        .or_else(|_| std::env::var("RUST_LOG"))
        .unwrap_or_else(|_| "info,sqlx=warn,sea_orm=warn".to_owned());
    let json = match std::env::var("PORTAL_LOG_FORMAT").as_deref() {
        Ok("json") => true,
        Ok("text") | Ok("") | Err(_) => false,
        Ok(other) => {
            eprintln!("partner-portal: PORTAL_LOG_FORMAT: '{other}' is neither `text` nor `json`; logging text");
            false
        }
    };
    let logs =
        tracing_subscriber::fmt().with_env_filter(tracing_subscriber::EnvFilter::new(filter)).with_writer(writer);
    let _ = if json {
        logs.json().flatten_event(true).with_current_span(true).with_span_list(false).try_init()
    } else {
        logs.with_ansi(ansi).try_init()
    };
}

tokio::task_local! {
    /// The id of the request being answered: the frame of every request sets it.
    static REQUEST_ID: String;
}

/// Answers `handling` with `request_id` as the current request's id.
pub async fn with_request_id<F: std::future::Future>(request_id: String, handling: F) -> F::Output {
    REQUEST_ID.scope(request_id, handling).await
}

/// The id of the request being answered, if any (problem bodies name it).
pub fn current_request_id() -> Option<String> {
    REQUEST_ID.try_with(Clone::clone).ok()
}
