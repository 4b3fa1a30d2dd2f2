//! Building and running the application.

use std::net::TcpListener;
use std::sync::Arc;
use std::time::Instant;

use actix_web::dev::{Server, ServerHandle, Service as _};
use actix_web::http::header::{HeaderName, HeaderValue};
use actix_web::middleware::{Compress, ErrorHandlers};
use actix_web::{App, HttpMessage as _, HttpServer, web};
use tracing::Instrument as _;
use utoipa_actix_web::AppExt as _;
use utoipa_actix_web::service_config::ServiceConfig;
use utoipa_swagger_ui::SwaggerUi;

use crate::config::Config;
use crate::keys::{KeyAuth, KeyService, MeterTag};
use crate::mail::{MailWorker, Transport};
use crate::routes;
use crate::state::AppState;
use crate::web::{self as webapp, WebApp};

/// Why the portal could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartupError {
    #[error("PORTAL_DATABASE_URL: cannot open the database: {0}")]
    Database(portal_db::DbErr),
    #[error("database migration failed: {0}")]
    Migration(portal_db::DbErr),
    #[error("PORTAL_MAIL_URL: {0}")]
    Mail(String),
    #[error("PORTAL_BIND: cannot listen on {addr}: {source}")]
    Bind { addr: std::net::SocketAddr, source: std::io::Error },
    #[error("cannot start the HTTP server: {0}")]
    Server(std::io::Error),
}

/// Every documented route: health probes and the `/api/v1` scope.
pub fn routes(cfg: &mut ServiceConfig) {
    cfg.service(routes::health::healthz).service(routes::health::readyz).service(
        utoipa_actix_web::scope("/api/v1").configure(routes::api_v1).default_service(web::to(webapp::fallback)),
    );
}

/// Counts a key-authenticated answer, and tells a limited key what remains.
fn meter<B>(keys: &KeyService, res: &mut actix_web::dev::ServiceResponse<B>, started: Instant) {
    let tag = res.request().extensions().get::<MeterTag>().copied();
    let Some(tag) = tag else { return };
    keys.record(tag, res.status().as_u16(), started.elapsed());
    let limits = res.request().extensions().get::<KeyAuth>().and_then(|k| {
        let (limit, remaining) = (k.usage_limit?, k.remaining?);
        let now = chrono::Utc::now();
        let reset = (portal_domain::keys::month_bounds(now).1 - now).num_seconds().max(0) as u64;
        Some((limit, remaining.saturating_sub(1), reset))
    });
    if let Some(limits) = limits {
        crate::error::rate_limit_headers(res.headers_mut(), limits);
    }
}

/// A running portal: its port, and the handle to stop it.
pub struct Application {
    port: u16,
    server: Server,
    mail: MailWorker,
    stop_keys: tokio::sync::watch::Sender<bool>,
    key_tasks: Vec<tokio::task::JoinHandle<()>>,
}

const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

impl Application {
    /// Opens and migrates the database, starts the mail worker and binds the listener
    /// (port 0 picks a free one).
    pub async fn build(config: Config) -> Result<Self, StartupError> {
        let db = portal_db::connect(&config.database_url).await.map_err(StartupError::Database)?;
        portal_db::migrate(&db).await.map_err(StartupError::Migration)?;
        Self::build_with_db(config, db).await
    }

    async fn build_with_db(config: Config, db: portal_db::DatabaseConnection) -> Result<Self, StartupError> {
        let transport = Transport::from_config(&config.mail).map_err(StartupError::Mail)?;
        let from = config.mail_from.parse().map_err(|e| StartupError::Mail(format!("PORTAL_MAIL_FROM: {e}")))?;
        let mail = MailWorker::start(db.clone(), transport, from);

        let listener =
            TcpListener::bind(config.bind).map_err(|source| StartupError::Bind { addr: config.bind, source })?;
        let port = listener.local_addr().map_err(StartupError::Server)?.port();
        let workers = config.workers;
        let web_app = web::Data::new(WebApp::load(&config.web_dir));
        let csp = HeaderValue::from_str(&webapp::app_csp(web_app.index.as_deref()))
            .map_err(|e| StartupError::Server(std::io::Error::other(e)))?;
        let keys = KeyService::new(db.clone(), config.key_hash_secret.expose());
        let (stop_keys, stopped) = tokio::sync::watch::channel(false);
        let mut key_tasks = vec![tokio::spawn(keys.clone().run_flusher(config.usage_flush, stopped.clone()))];
        if portal_db::changes::is_postgres(&db) {
            key_tasks.push(tokio::spawn(keys.clone().run_listener(stopped)));
        }
        let state = web::Data::new(AppState::new(db, Arc::new(config), mail.wake.clone(), keys.clone()));
        let openapi = crate::openapi::document();

        let keys_for_meter = keys;
        let mut server = HttpServer::new(move || {
            let keys = keys_for_meter.clone();
            let csp = csp.clone();
            App::new()
                // Before the /api/v1 scope, which would otherwise claim /api/v1/openapi.json.
                .service(SwaggerUi::new("/docs/{_:.*}").url("/api/v1/openapi.json", openapi.clone()))
                .into_utoipa_app()
                .app_data(state.clone())
                .app_data(web_app.clone())
                .configure(routes)
                .into_app()
                .service(web::redirect("/docs", "/docs/"))
                .service(
                    actix_files::Files::new("/", &web_app.dir)
                        .index_file("index.html")
                        .default_handler(web::to(webapp::fallback)),
                )
                .default_service(web::to(webapp::fallback))
                .wrap(ErrorHandlers::new().default_handler(webapp::problem_for_errors))
                .wrap_fn(move |req, srv| {
                    let request_id = req
                        .headers()
                        .get(&REQUEST_ID)
                        .and_then(|v| v.to_str().ok())
                        .filter(|v| {
                            !v.is_empty() && v.len() <= 64 && v.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
                        })
                        .map(str::to_owned)
                        .unwrap_or_else(|| uuid::Uuid::new_v4().to_string());
                    let span = tracing::info_span!("request", method = %req.method(), path = %req.path(), %request_id);
                    let started = Instant::now();
                    let presented_key = req
                        .headers()
                        .get(actix_web::http::header::AUTHORIZATION)
                        .and_then(|v| v.to_str().ok())
                        .and_then(|v| v.strip_prefix("Bearer "))
                        .map(str::trim)
                        .filter(|t| portal_domain::keys::looks_like_key(t))
                        .map(str::to_owned);
                    let fut = span.in_scope(|| srv.call(req));
                    let csp = csp.clone();
                    let keys = keys.clone();
                    async move {
                        let mut res = fut.await?;
                        // Every request made with a key is metered, also one that no handler
                        // authenticated (an unknown route, a user-only endpoint).
                        if let Some(secret) = presented_key
                            && res.request().extensions().get::<MeterTag>().is_none()
                            && let Some(tag) = keys.tag_of(&secret).await
                        {
                            res.request().extensions_mut().insert(tag);
                        }
                        meter(&keys, &mut res, started);
                        webapp::security_headers(&mut res, &csp);
                        if let Ok(v) = HeaderValue::from_str(&request_id) {
                            res.headers_mut().insert(REQUEST_ID, v);
                        }
                        let status = res.status().as_u16();
                        let micros = started.elapsed().as_micros() as u64;
                        if status >= 500 {
                            tracing::error!(status, micros, "request failed");
                        } else {
                            tracing::info!(status, micros, "request");
                        }
                        Ok(res)
                    }
                    .instrument(span)
                })
                .wrap(Compress::default())
        })
        .listen(listener)
        .map_err(StartupError::Server)?
        .shutdown_timeout(10);
        if let Some(n) = workers {
            server = server.workers(n);
        }
        Ok(Self { port, server: server.run(), mail, stop_keys, key_tasks })
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// Stops the server: `graceful` lets requests in flight finish.
    pub fn handle(&self) -> ServerHandle {
        self.server.handle()
    }

    /// Serves until SIGINT/SIGTERM (or the handle's stop), lets requests in flight finish,
    /// then stops the mail worker.
    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        let result = self.server.await;
        // Buffered usage counts are written before the process ends.
        let _ = self.stop_keys.send(true);
        for task in self.key_tasks {
            let _ = task.await;
        }
        self.mail.shutdown().await;
        tracing::info!("stopped");
        result
    }
}
