//! Building and running the application.

use std::net::TcpListener;
use std::sync::Arc;
use std::time::Instant;

use actix_web::body::{EitherBody, MessageBody};
use actix_web::dev::{Server, ServerHandle, ServiceRequest, ServiceResponse};
use actix_web::http::header::{ContentType, HeaderName, HeaderValue};
use actix_web::middleware::{Compress, ErrorHandlers, Next, from_fn};
use actix_web::{App, HttpMessage as _, HttpResponse, HttpServer, web};
use tracing::Instrument as _;
use utoipa_actix_web::AppExt as _;
use utoipa_swagger_ui::SwaggerUi;

use crate::config::Config;
use crate::keys::KeyCheck;
use crate::mail::{MailWorker, Transport};
use crate::routes;
use crate::services::Services;
use crate::services::meter::MeterService;
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

/// A request id unique across instances without a random draw per request: this process's
/// random 64 bits and a counter, in the shape of a UUID.
fn new_request_id() -> String {
    use std::sync::LazyLock;
    use std::sync::atomic::{AtomicU64, Ordering};
    static PREFIX: LazyLock<u64> = LazyLock::new(|| uuid::Uuid::new_v4().as_u64_pair().0);
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let (p, n) = (*PREFIX, NEXT.fetch_add(1, Ordering::Relaxed));
    format!(
        "{:08x}-{:04x}-{:04x}-{:04x}-{:012x}",
        p >> 32,
        (p >> 16) & 0xffff,
        p & 0xffff,
        n >> 48,
        n & 0xffff_ffff_ffff
    )
}

/// The path as logged: segments that look like credentials (the tokens of mailed links such
/// as `/api/v1/invitations/{token}`, API keys) are replaced by `[redacted]`.
pub fn loggable_path(path: &str) -> std::borrow::Cow<'_, str> {
    fn secret_like(previous: &str, segment: &str) -> bool {
        // An invitation's token, whatever it looks like (ids are UUIDs; `accept` is a route).
        let invitation_token =
            previous == "invitations" && segment != "accept" && uuid::Uuid::try_parse(segment).is_err();
        // Tokens are 43 characters of URL-safe base64; keys are `pp_…`. Route names, ids and
        // asset names are lower-case (and assets have a dot).
        invitation_token
            || (segment.len() >= 20
                && segment.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
                && segment.bytes().any(|b| b.is_ascii_uppercase() || b == b'_'))
    }
    let redacted = |each: &mut dyn FnMut(&str, bool)| {
        let mut previous = "";
        for segment in path.split('/') {
            each(segment, !segment.is_empty() && secret_like(previous, segment));
            previous = segment;
        }
    };
    let mut any = false;
    redacted(&mut |_, secret| any |= secret);
    if !any {
        return std::borrow::Cow::Borrowed(path);
    }
    let (mut out, mut first) = (String::with_capacity(path.len() + 10), true);
    redacted(&mut |segment, secret| {
        if !std::mem::take(&mut first) {
            out.push('/');
        }
        out.push_str(if secret { "[redacted]" } else { segment });
    });
    std::borrow::Cow::Owned(out)
}

/// What the middlewares need on every request.
struct Gate {
    keys: Arc<KeyCheck>,
    meter: Arc<MeterService>,
    csp: HeaderValue,
    /// Send each request's SQL statement count (`statements`).
    count_statements: bool,
}

fn gate_of(req: &ServiceRequest) -> Result<web::Data<Gate>, actix_web::Error> {
    req.app_data::<web::Data<Gate>>()
        .cloned()
        .ok_or_else(|| actix_web::error::ErrorInternalServerError("gate state missing"))
}

/// The frame of every request: a request id and a tracing span around all that follows, then
/// on the answer the security and cache headers, the request id, and one log line.
async fn frame<B: MessageBody + 'static>(
    req: ServiceRequest,
    next: Next<B>,
) -> Result<ServiceResponse<B>, actix_web::Error> {
    let started = Instant::now();
    let request_id = req
        .headers()
        .get(&REQUEST_ID)
        .and_then(|v| v.to_str().ok())
        .filter(|v| !v.is_empty() && v.len() <= 64 && v.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-'))
        .map(str::to_owned)
        .unwrap_or_else(new_request_id);
    // The query is never logged; secret-like path segments are redacted.
    let span = tracing::info_span!("request", method = %req.method(), path = %loggable_path(req.path()), %request_id);
    let gate = gate_of(&req)?;
    let count_statements = gate.count_statements;
    let scoped_id = request_id.clone();
    let presented_key = crate::extract::bearer(req.request()).is_ok_and(portal_domain::keys::looks_like_key);
    let handled = async move {
        let mut res = next.call(req).await?;
        skip_compression_if_small(&mut res);
        webapp::security_headers(&mut res, &gate.csp);
        webapp::cache_headers(&mut res);
        if let Ok(v) = HeaderValue::from_str(&request_id) {
            res.headers_mut().insert(REQUEST_ID, v);
        }
        let status = res.status().as_u16();
        crate::metrics::answered(crate::metrics::Answer {
            route: res.request().match_pattern().as_deref(),
            method: res.request().method().as_str(),
            status,
            took: started.elapsed(),
            presented_key,
            problem: res.response().extensions().get::<portal_types::ErrorCode>().copied(),
        });
        let micros = started.elapsed().as_micros() as u64;
        if status >= 500 {
            tracing::error!(status, micros, "request failed");
        } else {
            tracing::info!(status, micros, "request");
        }
        Ok(res)
    };
    let handled = crate::with_request_id(scoped_id, handled);
    if !count_statements {
        return handled.instrument(span).await;
    }
    let (res, statements) = crate::statements::counting(handled.instrument(span)).await;
    let mut res = res?;
    res.headers_mut().insert(HeaderName::from_static(crate::statements::HEADER), HeaderValue::from(statements));
    Ok(res)
}

/// Keys on the request path: a presented API key is verified before any handler runs (a refused
/// key never reaches one, so a spent limit is never exceeded), every request made with a known
/// key is metered, and the key's limits go in the answer's headers.
async fn key_gate<B: MessageBody + 'static>(
    req: ServiceRequest,
    next: Next<B>,
) -> Result<ServiceResponse<EitherBody<B>>, actix_web::Error> {
    // Keys act only on team resources: elsewhere a key-looking bearer is left to the handler
    // (user-only endpoints refuse it with 403 `api_key_not_allowed`), and nothing is metered.
    let path = req.path();
    let acts_with_keys = path == "/api/v1/teams" || path.starts_with("/api/v1/teams/");
    let presented = req
        .headers()
        .get(actix_web::http::header::AUTHORIZATION)
        .filter(|_| acts_with_keys)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::trim)
        .filter(|t| portal_domain::keys::looks_like_key(t))
        .map(str::to_owned);
    let Some(secret) = presented else { return Ok(next.call(req).await?.map_into_left_body()) };
    let started = Instant::now();
    let gate = gate_of(&req)?;
    // Where the request comes from, for the key's allowlist.
    let source = crate::extract::state_of(req.request()).ok().map(|s| &s.config.client_ip);
    let client = req.peer_addr().map(|a| match source {
        Some(source) => source.address(a.ip(), req.headers()),
        None => a.ip().to_canonical(),
    });
    let (mut res, tag, refusal, limits) = match gate.keys.verify(&secret, client).await {
        Ok(key) => {
            let (tag, limits) = (key.tag(), (!key.limits.is_empty()).then(|| key.limits.headers()));
            req.extensions_mut().insert(key);
            (next.call(req).await?.map_into_left_body(), Some(tag), None, limits)
        }
        Err(refused) => {
            let status = refused.metered_status();
            (req.error_response(refused.error).map_into_right_body(), refused.tag, Some(status), None)
        }
    };
    if let Some(tag) = tag {
        // Refused by the key check: it does not count against the monthly limit.
        let status = refusal.unwrap_or_else(|| res.status().as_u16());
        gate.meter.record(tag, status, started.elapsed(), refusal.is_none());
    }
    if let Some(limits) = limits {
        limits.apply(res.headers_mut());
    }
    Ok(res)
}

/// Answers smaller than this go out uncompressed: gzip costs more CPU on them (tens of
/// microseconds to set up its state) than the bytes it saves.
const COMPRESS_FROM: u64 = 1024;

/// Marks a small answer `Content-Encoding: identity`, which makes `Compress` leave it alone;
/// [`unmark_identity`] removes the mark again outside `Compress`.
fn skip_compression_if_small<B: MessageBody>(res: &mut ServiceResponse<B>) {
    use actix_web::body::BodySize;
    use actix_web::http::header::CONTENT_ENCODING;
    if matches!(res.response().body().size(), BodySize::Sized(n) if n < COMPRESS_FROM)
        && !res.headers().contains_key(CONTENT_ENCODING)
    {
        res.headers_mut().insert(CONTENT_ENCODING, HeaderValue::from_static("identity"));
    }
}

async fn unmark_identity<B: MessageBody + 'static>(
    req: ServiceRequest,
    next: Next<B>,
) -> Result<ServiceResponse<B>, actix_web::Error> {
    use actix_web::http::header::CONTENT_ENCODING;
    let mut res = next.call(req).await?;
    if res.headers().get(CONTENT_ENCODING).is_some_and(|v| v == "identity") {
        res.headers_mut().remove(CONTENT_ENCODING);
    }
    Ok(res)
}

/// A running portal: its port, and the handle to stop it.
pub struct Application {
    /// A SQLite deployment's serving lock: no restore replaces the database under it.
    _serving: Option<crate::backup::ServingLock>,
    port: u16,
    server: Server,
    /// The Prometheus listener (`PORTAL_METRICS_BIND`), and its port.
    metrics: Option<(Server, u16)>,
    mail: MailWorker,
    stop_keys: tokio::sync::watch::Sender<bool>,
    key_tasks: Vec<tokio::task::JoinHandle<()>>,
    services: Services,
}

/// Where the OpenAPI document is served (the Swagger UI at `/docs/` reads it there).
const OPENAPI_PATH: &str = "/api/v1/openapi.json";

const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

impl Application {
    /// Opens and migrates the database, starts the mail worker and binds the listener
    /// (port 0 picks a free one).
    pub async fn build(config: Config) -> Result<Self, StartupError> {
        crate::webhooks::install_tls_provider();
        if config.metrics {
            crate::metrics::install();
        }
        let serving = crate::backup::ServingLock::take(&config.database_url).map_err(StartupError::Server)?;
        let db = portal_db::connect(&config.database_url).await.map_err(StartupError::Database)?;
        portal_db::migrate(&db).await.map_err(StartupError::Migration)?;
        let mut app = Self::build_with_db(config, db).await?;
        app._serving = serving;
        Ok(app)
    }

    async fn build_with_db(config: Config, mut db: portal_db::DatabaseConnection) -> Result<Self, StartupError> {
        let mut reads = portal_db::connect_readers(&config.database_url, &db).await.map_err(StartupError::Database)?;
        if config.debug_statement_count {
            crate::statements::install(&mut db);
            crate::statements::install(&mut reads);
        }
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
        let dns = crate::dns::Dns::new(config.dns_resolver).map_err(StartupError::Server)?;
        let oidc = crate::sso::Oidc::new(crate::webhooks::Reach::from_config(&config), config.key_hash_secret.expose())
            .map_err(|e| StartupError::Server(std::io::Error::other(e)))?;
        let services = Services::new(
            db.clone(),
            config.key_hash_secret.expose(),
            (config.read_cache, config.rate_limit_scope),
            (dns, oidc),
        );
        let (stop_keys, stopped) = tokio::sync::watch::channel(false);
        let mut key_tasks = vec![
            tokio::spawn(services.meter.clone().run_flusher(config.usage_flush, stopped.clone())),
            tokio::spawn(crate::retention::run(
                db.clone(),
                services.invalidation.clone(),
                config.usage_retention,
                stopped.clone(),
            )),
            tokio::spawn(crate::domain_checks::run(
                crate::domain_checks::Rechecks {
                    db: db.clone(),
                    dns: services.dns.clone(),
                    invalidation: services.invalidation.clone(),
                    public_url: config.public_url.clone(),
                    mail_wake: mail.wake.clone(),
                    every: config.domain_recheck,
                    grace: config.domain_grace,
                },
                stopped.clone(),
            )),
            tokio::spawn(crate::notices::run(
                db.clone(),
                config.public_url.clone(),
                config.notice_interval,
                mail.wake.clone(),
                stopped.clone(),
            )),
        ];
        let webhook_wake = Arc::new(tokio::sync::Notify::new());
        let reach = crate::webhooks::Reach {
            allow_http: config.webhook_allow_http,
            allow_private: config.webhook_allow_private,
        };
        let deliverer = crate::webhooks::Deliverer {
            db: db.clone(),
            http: crate::webhooks::client(reach).map_err(|e| StartupError::Server(std::io::Error::other(e)))?,
            secrets: crate::webhooks::secret_box(config.key_hash_secret.expose()),
            public_url: config.public_url.clone(),
            wake: webhook_wake.clone(),
            mail_wake: mail.wake.clone(),
            retry_scale: config.webhook_retry_scale,
            reach,
        };
        key_tasks.push(tokio::spawn(crate::webhooks::run(deliverer, stopped.clone())));
        if portal_db::changes::is_postgres(&db) {
            key_tasks.push(tokio::spawn(services.invalidation.clone().run_listener(stopped)));
        }
        let wakes = (mail.wake.clone(), webhook_wake);
        let state = web::Data::new(AppState::new(db, reads, Arc::new(config), wakes, &services));
        let openapi = crate::openapi::document();
        let route_table = web::Data::new(webapp::RouteTable::from_document(&openapi));
        // Served as written once: a document per worker, serialised per request, held 3-4 MiB each.
        let openapi_json =
            web::Bytes::from(serde_json::to_vec(&openapi).map_err(|e| StartupError::Server(std::io::Error::other(e)))?);
        drop(openapi);

        let gate_state = web::Data::new(Gate {
            keys: state.keys.clone(),
            meter: services.meter.clone(),
            csp,
            count_statements: state.config.debug_statement_count,
        });
        let metrics_bind = state.config.metrics_bind.map(|addr| (addr, state.clone()));
        let mut server = HttpServer::new(move || {
            App::new()
                // Before the /api/v1 scope, which would otherwise claim /api/v1/openapi.json.
                .service(web::resource(OPENAPI_PATH).get({
                    let body = openapi_json.clone();
                    move || std::future::ready(HttpResponse::Ok().content_type(ContentType::json()).body(body.clone()))
                }))
                .service(SwaggerUi::new("/docs/{_:.*}").config(utoipa_swagger_ui::Config::from(OPENAPI_PATH)))
                .into_utoipa_app()
                .app_data(state.clone())
                .app_data(web_app.clone())
                .app_data(route_table.clone())
                .app_data(gate_state.clone())
                .configure(routes::all)
                .into_app()
                .service(web::redirect("/docs", "/docs/"))
                .service(
                    actix_files::Files::new("/", &web_app.dir)
                        .index_file("index.html")
                        // `make web` writes a `.br` and a `.gz` beside each file.
                        .try_compressed()
                        .default_handler(web::to(webapp::fallback)),
                )
                .default_service(web::to(webapp::fallback))
                .wrap(ErrorHandlers::new().default_handler(webapp::problem_for_errors))
                .wrap(from_fn(key_gate))
                .wrap(from_fn(frame))
                .wrap(Compress::default())
                .wrap(from_fn(unmark_identity))
        })
        // Streamed (compressed) answers go out in several writes: without this, Nagle's algorithm
        // and the client's delayed ACK hold the last part back for 40 ms.
        .tcp_nodelay(true)
        .listen(listener)
        .map_err(StartupError::Server)?
        .shutdown_timeout(10);
        if let Some(n) = workers {
            server = server.workers(n);
        }
        let metrics = match metrics_bind {
            Some((addr, state)) => Some(metrics_server(addr, state)?),
            None => None,
        };
        Ok(Self { _serving: None, port, server: server.run(), metrics, mail, stop_keys, key_tasks, services })
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// The port of the Prometheus listener, when `PORTAL_METRICS_BIND` is set.
    pub fn metrics_port(&self) -> Option<u16> {
        self.metrics.as_ref().map(|(_, port)| *port)
    }

    /// Stops the server: `graceful` lets requests in flight finish.
    pub fn handle(&self) -> ServerHandle {
        self.server.handle()
    }

    /// Serves until SIGINT/SIGTERM (or the handle's stop), lets requests in flight finish,
    /// then stops the mail worker.
    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        let metrics = self.metrics.map(|(server, _)| (server.handle(), tokio::spawn(server)));
        let result = self.server.await;
        if let Some((handle, task)) = metrics {
            handle.stop(true).await;
            let _ = task.await;
        }
        // Buffered usage counts are written before the process ends.
        let _ = self.stop_keys.send(true);
        for task in self.key_tasks {
            let _ = task.await;
        }
        self.mail.shutdown().await;
        tracing::info!(target: "portal_server::footprint", footprint = %self.services.footprint(), "stopped");
        result
    }
}

/// The Prometheus listener: `GET /metrics` and nothing else, without a token (its address is the
/// access control), on one worker; it stops with the main server.
fn metrics_server(addr: std::net::SocketAddr, state: web::Data<AppState>) -> Result<(Server, u16), StartupError> {
    let listener = TcpListener::bind(addr).map_err(|source| StartupError::Bind { addr, source })?;
    let port = listener.local_addr().map_err(StartupError::Server)?.port();
    let server = HttpServer::new(move || {
        App::new().app_data(state.clone()).app_data(routes::health::MetricsListener).service(routes::health::metrics)
    })
    .workers(1)
    .disable_signals()
    .listen(listener)
    .map_err(StartupError::Server)?
    .run();
    Ok((server, port))
}

#[cfg(test)]
mod tests {
    use super::loggable_path;

    #[test]
    fn logged_paths_keep_ids_and_route_names_but_not_tokens() {
        let team = "0f8fad5b-d9cb-469f-a165-70867728950e";
        for kept in [
            format!("/api/v1/teams/{team}/api-keys"),
            "/api/v1/auth/resend-verification".to_owned(),
            "/portal-frontend-3b1f09a2c4d5e6f7_bg.wasm".to_owned(),
            "/healthz".to_owned(),
        ] {
            assert_eq!(loggable_path(&kept), kept);
        }
        let token = portal_domain::token::generate();
        assert_eq!(loggable_path(&format!("/api/v1/invitations/{token}")), "/api/v1/invitations/[redacted]");
        assert_eq!(loggable_path("/api/v1/invitations/lowercase-token"), "/api/v1/invitations/[redacted]");
        assert_eq!(loggable_path("/api/v1/invitations/accept"), "/api/v1/invitations/accept");
        let invitation = format!("/api/v1/teams/{team}/invitations/{team}/resend");
        assert_eq!(loggable_path(&invitation), invitation);
        assert_eq!(loggable_path("/api/v1/keys/pp_prod_AbCdEfGhIjKlMnOpQrStUv/x"), "/api/v1/keys/[redacted]/x");
    }
}
