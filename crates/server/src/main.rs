//! `partner-portal`: serve (default), migrate, print the OpenAPI document, back up and restore
//! a SQLite deployment, or ask a serving portal whether it is ready.

use std::process::ExitCode;

use clap::{Parser, Subcommand};
use portal_server::{Application, Config, ConfigArgs};

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Parser)]
#[command(name = "partner-portal", version, about = "Partner Portal: teams, members and API keys for partners.")]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
    #[command(flatten)]
    config: ConfigArgs,
}

#[derive(Subcommand)]
enum Command {
    /// Serve the portal (the default).
    Serve,
    /// Apply database migrations and exit.
    Migrate,
    /// Print the OpenAPI document.
    Openapi,
    /// Copy the SQLite database to FILE while the portal serves (consistent: every transaction
    /// committed before the copy began, none after), and check the copy. For PostgreSQL use
    /// pg_dump.
    Backup { file: std::path::PathBuf },
    /// Ask the portal serving at PORTAL_BIND whether it is ready (`GET /readyz`): exit status 0
    /// if it is. For container health checks (the image has no curl).
    Ready,
    /// Replace the SQLite database by the backup FILE. Refused while any instance serves from it;
    /// the replaced database is kept beside it.
    Restore { file: std::path::PathBuf },
}

fn fail(message: impl std::fmt::Display) -> ExitCode {
    eprintln!("partner-portal: {message}");
    ExitCode::FAILURE
}

/// `GET /readyz` of the portal listening on `bind` (a wildcard address asked on loopback).
async fn ready(bind: &str) -> ExitCode {
    let Ok(mut addr) = bind.parse::<std::net::SocketAddr>() else {
        return fail(format!("PORTAL_BIND: '{bind}' is not an address such as 127.0.0.1:8080"));
    };
    if addr.ip().is_unspecified() {
        addr.set_ip(if addr.is_ipv4() {
            std::net::Ipv4Addr::LOCALHOST.into()
        } else {
            std::net::Ipv6Addr::LOCALHOST.into()
        });
    }
    portal_server::webhooks::install_tls_provider();
    let client = match reqwest::Client::builder().timeout(std::time::Duration::from_secs(3)).no_proxy().build() {
        Ok(client) => client,
        Err(e) => return fail(e),
    };
    match client.get(format!("http://{addr}/readyz")).send().await {
        Ok(res) if res.status().is_success() => ExitCode::SUCCESS,
        Ok(res) => fail(format!("not ready: /readyz answered {}", res.status())),
        Err(e) => fail(format!("not ready: {e}")),
    }
}

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    if let Some(Command::Openapi) = cli.command {
        print!("{}", portal_server::openapi::document_json());
        return ExitCode::SUCCESS;
    }
    match &cli.command {
        Some(Command::Backup { file }) => {
            return match portal_server::backup::backup(&cli.config.database_url_or_default(), file).await {
                Ok(written) => {
                    println!(
                        "backup written to {} ({} bytes, {} tables, integrity ok)",
                        file.display(),
                        written.bytes,
                        written.tables
                    );
                    ExitCode::SUCCESS
                }
                Err(e) => fail(format!("backup: {e}")),
            };
        }
        Some(Command::Ready) => return ready(&cli.config.bind).await,
        Some(Command::Restore { file }) => {
            return match portal_server::backup::restore(&cli.config.database_url_or_default(), file).await {
                Ok(kept) => {
                    let kept = kept.map(|k| format!("; the database it replaced is kept as {}", k.display()));
                    println!("restored from {}{}", file.display(), kept.unwrap_or_default());
                    ExitCode::SUCCESS
                }
                Err(e) => fail(format!("restore: {e}")),
            };
        }
        _ => {}
    }
    portal_server::init_tracing();
    let config = match Config::from_args(cli.config) {
        Ok(config) => config,
        Err(e) => return fail(e),
    };
    if let Some(Command::Migrate) = cli.command {
        let db = match portal_db::connect(&config.database_url).await {
            Ok(db) => db,
            Err(e) => return fail(format!("PORTAL_DATABASE_URL: cannot open the database: {e}")),
        };
        return match portal_db::migrate(&db).await {
            Ok(()) => {
                tracing::info!("migrations applied");
                ExitCode::SUCCESS
            }
            Err(e) => fail(format!("migration failed: {e}")),
        };
    }
    let app = match Application::build(config).await {
        Ok(app) => app,
        Err(e) => return fail(e),
    };
    tracing::info!(port = app.port(), metrics_port = app.metrics_port(), "Partner Portal is serving");
    match app.run_until_stopped().await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => fail(e),
    }
}
