//! Configuration: one typed struct from flags and `PORTAL_*` environment variables.
//! A bad value stops start-up with a one-line message naming the setting.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

/// Flags and environment variables, as given.
#[derive(Debug, Clone, clap::Args)]
pub struct ConfigArgs {
    /// Address to listen on.
    #[arg(long, env = "PORTAL_BIND", default_value = "127.0.0.1:8080")]
    pub bind: String,
    /// A second listener for Prometheus alone (`GET /metrics`, no token: keep it off the public
    /// network), e.g. `10.0.0.5:9464`. Default: none; `/metrics` then needs the service token.
    #[arg(long, env = "PORTAL_METRICS_BIND")]
    pub metrics_bind: Option<String>,
    /// Folder for the SQLite database, generated secrets and mail files.
    #[arg(long, env = "PORTAL_DATA_DIR", default_value = "./data")]
    pub data_dir: PathBuf,
    /// Database URL: `sqlite://file.db` or `postgres://user@host/db`. Default: SQLite in the data dir.
    #[arg(long, env = "PORTAL_DATABASE_URL")]
    pub database_url: Option<String>,
    /// Public base URL of the portal, used in mailed links. Default: http://<bind>.
    #[arg(long, env = "PORTAL_PUBLIC_URL")]
    pub public_url: Option<String>,
    /// Mail transport: `smtp://user:pass@host:port` (add `?tls=required` or use `smtps://` for TLS),
    /// `file:///dir` (one .eml file per message) or `log`. Default: files under <data dir>/mail.
    #[arg(long, env = "PORTAL_MAIL_URL")]
    pub mail_url: Option<String>,
    /// Sender address of mails.
    #[arg(long, env = "PORTAL_MAIL_FROM", default_value = "Partner Portal <no-reply@partner-portal.local>")]
    pub mail_from: String,
    /// Folder of the built web app.
    #[arg(long, env = "PORTAL_WEB_DIR", default_value = "frontend/dist")]
    pub web_dir: PathBuf,
    /// Secret for signing access tokens (at least 32 characters). Generated and kept in the data dir when unset.
    #[arg(long, env = "PORTAL_JWT_SECRET", hide_env_values = true)]
    pub jwt_secret: Option<String>,
    /// File holding the JWT secret.
    #[arg(long, env = "PORTAL_JWT_SECRET_FILE")]
    pub jwt_secret_file: Option<PathBuf>,
    /// Secret key for hashing API keys (at least 32 characters). Generated when unset.
    #[arg(long, env = "PORTAL_KEY_HASH_SECRET", hide_env_values = true)]
    pub key_hash_secret: Option<String>,
    /// File holding the key-hashing secret.
    #[arg(long, env = "PORTAL_KEY_HASH_SECRET_FILE")]
    pub key_hash_secret_file: Option<PathBuf>,
    /// Token the platform's services present to `/api/v1/keys/verify` (at least 32 characters). Generated when unset.
    #[arg(long, env = "PORTAL_SERVICE_TOKEN", hide_env_values = true)]
    pub service_token: Option<String>,
    /// File holding the service token.
    #[arg(long, env = "PORTAL_SERVICE_TOKEN_FILE")]
    pub service_token_file: Option<PathBuf>,
    /// Requests per minute and client address allowed on each sign-in, sign-up and reset endpoint.
    #[arg(long, env = "PORTAL_AUTH_RATE_LIMIT", default_value_t = 20)]
    pub auth_rate_limit: u32,
    /// Failed sign-ins (and wrong current passwords) an account may have in 15 minutes, from any
    /// address; then its sign-in answers 429 until the window ends.
    #[arg(long, env = "PORTAL_SIGNIN_FAILURES_PER_ACCOUNT", default_value_t = 10)]
    pub signin_failures_per_account: u32,
    /// Seconds in which a just-rotated refresh token may be presented again without ending the
    /// session (several tabs refreshing at once); later reuse ends the whole session.
    #[arg(long, env = "PORTAL_REFRESH_REUSE_GRACE", default_value_t = 10)]
    pub refresh_reuse_grace_seconds: u32,
    /// Invitations a team may send (or resend) per hour.
    #[arg(long, env = "PORTAL_INVITE_RATE_LIMIT", default_value_t = 50)]
    pub invite_rate_limit: u32,
    /// Worker threads of the HTTP server (default: one per core).
    #[arg(long, env = "PORTAL_WORKERS")]
    pub workers: Option<usize>,
    /// Proxies whose header names the client (comma-separated CIDRs or addresses, e.g.
    /// `10.0.0.0/8,::1`); empty: the peer is the client.
    #[arg(long, env = "PORTAL_TRUSTED_PROXIES", default_value = "")]
    pub trusted_proxies: String,
    /// The one header the trusted proxies write: `x-forwarded-for` (nginx, ALB, Traefik, Caddy),
    /// `forwarded` (RFC 7239), or a header of one address such as `cf-connecting-ip` or
    /// `x-real-ip`. Every other forwarding header a client sends is ignored.
    #[arg(long, env = "PORTAL_CLIENT_IP_HEADER", default_value = "x-forwarded-for")]
    pub client_ip_header: String,
    /// Milliseconds between writes of the buffered usage counts (50 to 60000). A crash loses at
    /// most this much of the meter; a shorter interval costs more writes.
    #[arg(long, env = "PORTAL_USAGE_FLUSH_MS", default_value_t = 500)]
    pub usage_flush_ms: u64,
    /// Days per-minute usage counts are kept (they answer the last, partial hour of a range).
    #[arg(long, env = "PORTAL_USAGE_MINUTES_KEEP_DAYS", default_value_t = 7)]
    pub usage_minutes_keep_days: u32,
    /// Days hourly usage counts are kept.
    #[arg(long, env = "PORTAL_USAGE_HOURS_KEEP_DAYS", default_value_t = 90)]
    pub usage_hours_keep_days: u32,
    /// Days daily usage counts (and monthly counters) are kept.
    #[arg(long, env = "PORTAL_USAGE_DAYS_KEEP_DAYS", default_value_t = 730)]
    pub usage_days_keep_days: u32,
    /// Public keys that sign leaked-key reports (GitHub secret scanning): GitHub's key document
    /// (JSON), PEM public keys, or a file holding either. Empty: only the service token reports.
    #[arg(long, env = "PORTAL_SECRET_SCANNING_PUBLIC_KEYS", default_value = "")]
    pub secret_scanning_public_keys: String,
    /// Milliseconds between looks for due notices: expiry warnings and usage alerts (50 to
    /// 3600000).
    #[arg(long, env = "PORTAL_NOTICE_INTERVAL_MS", default_value_t = 60_000)]
    pub notice_interval_ms: u64,
    /// Seconds after which a verified domain's TXT record is looked up again (1 to 604800).
    #[arg(long, env = "PORTAL_DOMAIN_RECHECK_SECONDS", default_value_t = 86_400)]
    pub domain_recheck_seconds: u64,
    /// Seconds a verified domain's TXT record may be missing before the domain is no longer
    /// verified (0 to 2592000).
    #[arg(long, env = "PORTAL_DOMAIN_GRACE_SECONDS", default_value_t = 259_200)]
    pub domain_grace_seconds: u64,
    /// Allow webhook endpoints on plain `http://` URLs (development; production needs https).
    #[arg(long, env = "PORTAL_WEBHOOK_ALLOW_HTTP", default_value_t = false, value_parser = clap::builder::BoolishValueParser::new())]
    pub webhook_allow_http: bool,
    /// Allow webhook deliveries to loopback, private and link-local addresses (tests and
    /// development only: it opens the portal's network to whoever can add an endpoint).
    #[arg(long, env = "PORTAL_WEBHOOK_ALLOW_PRIVATE", default_value_t = false, value_parser = clap::builder::BoolishValueParser::new())]
    pub webhook_allow_private: bool,
    /// Multiplies the delays between webhook attempts (0.001 to 1; tests shorten 5 minutes to
    /// seconds with 0.01).
    #[arg(long, env = "PORTAL_WEBHOOK_RETRY_SCALE", default_value_t = 1.0)]
    pub webhook_retry_scale: f64,
    /// Count the SQL statements of each request and send the count in `x-db-statements` (for
    /// tests and profiling).
    #[arg(long, env = "PORTAL_DEBUG_STATEMENT_COUNT", default_value_t = false, value_parser = clap::builder::BoolishValueParser::new())]
    pub debug_statement_count: bool,
    /// Record Prometheus metrics (`/metrics`); `false` turns the recorder off (the request path
    /// then records nothing, and `/metrics` answers 404).
    #[arg(long, env = "PORTAL_METRICS", default_value_t = true, action = clap::ArgAction::Set, value_parser = clap::builder::BoolishValueParser::new())]
    pub metrics: bool,
    /// Where per-key rate limits are counted: `instance` (each instance's memory: n instances
    /// admit up to n times a key's rate) or `cluster` (PostgreSQL, shared and exact, one write
    /// per limited request).
    #[arg(long, env = "PORTAL_RATE_LIMIT_SCOPE", default_value = "instance")]
    pub rate_limit_scope: String,
    /// Read every list and usage page from the database, keeping nothing between requests (for
    /// tests of what a page costs the database, and for comparison).
    #[arg(long, env = "PORTAL_NO_READ_CACHE", default_value_t = false, value_parser = clap::builder::BoolishValueParser::new())]
    pub no_read_cache: bool,
    /// The API documentation partners are sent to (the Help menu); empty hides the link.
    #[arg(long, env = "PORTAL_DOCS_URL", default_value = "/docs/")]
    pub docs_url: String,
    /// The support team's page (the Help menu, error pages, "Report compromised").
    #[arg(long, env = "PORTAL_SUPPORT_URL")]
    pub support_url: Option<String>,
    /// The support team's address, when it has no page (`PORTAL_SUPPORT_URL` wins).
    #[arg(long, env = "PORTAL_SUPPORT_EMAIL")]
    pub support_email: Option<String>,
    /// The community forum (the Help menu).
    #[arg(long, env = "PORTAL_COMMUNITY_URL")]
    pub community_url: Option<String>,
    /// The DNS server that domain verification asks (`address:port`); default: the system's
    /// resolvers (`/etc/resolv.conf`).
    #[arg(long, env = "PORTAL_DNS_RESOLVER")]
    pub dns_resolver: Option<String>,
}

/// A secret that never prints.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret(***)")
    }
}

/// Where mail goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MailTransportConfig {
    /// An SMTP URL as lettre understands it.
    Smtp(Secret),
    /// One .eml file per message in this folder.
    Files(PathBuf),
    /// Mails are written to the log.
    Log,
}

/// The validated configuration.
#[derive(Debug, Clone)]
pub struct Config {
    pub bind: SocketAddr,
    pub metrics_bind: Option<SocketAddr>,
    pub data_dir: PathBuf,
    pub database_url: String,
    /// Without a trailing slash.
    pub public_url: String,
    pub mail: MailTransportConfig,
    pub mail_from: String,
    pub web_dir: PathBuf,
    pub jwt_secret: Secret,
    pub key_hash_secret: Secret,
    pub service_token: Secret,
    pub auth_rate_limit: u32,
    pub signin_failures_per_account: u32,
    pub refresh_reuse_grace_seconds: u32,
    pub invite_rate_limit: u32,
    pub workers: Option<usize>,
    /// Where the client's address comes from (the peer, or a trusted proxy's header).
    pub client_ip: crate::client_ip::ClientIpSource,
    pub usage_flush: std::time::Duration,
    /// How long each usage tier is kept.
    pub usage_retention: UsageRetention,
    pub secret_scanning_keys: Vec<crate::leaks::ScanningKey>,
    pub notice_interval: std::time::Duration,
    /// How long a verified domain's lookup stays good, and how long its record may be missing.
    pub domain_recheck: std::time::Duration,
    pub domain_grace: std::time::Duration,
    pub debug_statement_count: bool,
    /// Whether lists and usage pages are kept between requests (see `keys::reads`).
    pub read_cache: bool,
    pub rate_limit_scope: crate::services::meter::limits::RateScope,
    pub metrics: bool,
    pub webhook_allow_http: bool,
    pub webhook_allow_private: bool,
    pub webhook_retry_scale: f64,
    /// Where partners find help.
    pub help: portal_types::HelpLinks,
    /// The DNS server of domain verification; None: the system's.
    pub dns_resolver: Option<std::net::SocketAddr>,
}

/// The help links as the web app shows them: each an http(s) URL (the docs may be a path of this
/// portal), the support address a `mailto:`; an empty setting hides its link.
fn help_links(
    docs: &str,
    support_url: Option<String>,
    support_email: Option<String>,
    community: Option<String>,
) -> Result<portal_types::HelpLinks, ConfigError> {
    let given = |v: Option<String>| v.map(|v| v.trim().to_owned()).filter(|v| !v.is_empty());
    let web = |setting: &'static str, v: String| match url::Url::parse(&v) {
        Ok(u) if matches!(u.scheme(), "http" | "https") && u.host().is_some() => Ok(v),
        _ => Err(bad(setting, format!("'{v}' is not an http:// or https:// address"))),
    };
    let docs = match given(Some(docs.to_owned())) {
        // A path of this portal; not `//host` or `/\host`, which browsers take for another site.
        Some(path) if path.starts_with('/') && !path.starts_with("//") && !path.contains('\\') => Some(path),
        Some(url) => Some(web("PORTAL_DOCS_URL", url)?),
        None => None,
    };
    let support = match (given(support_url), given(support_email)) {
        (Some(url), _) => Some(web("PORTAL_SUPPORT_URL", url)?),
        (None, Some(email)) => {
            let address: lettre::Address =
                email.parse().map_err(|e| bad("PORTAL_SUPPORT_EMAIL", format!("'{email}' is not an address: {e}")))?;
            Some(format!("mailto:{address}"))
        }
        (None, None) => None,
    };
    let community = given(community).map(|url| web("PORTAL_COMMUNITY_URL", url)).transpose()?;
    Ok(portal_types::HelpLinks { docs_url: docs, support_url: support, community_url: community })
}

/// Days each usage tier is kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UsageRetention {
    pub minutes: u32,
    pub hours: u32,
    pub days: u32,
}

impl UsageRetention {
    pub fn days_of(&self, tier: portal_domain::usage::Tier) -> u32 {
        use portal_domain::usage::Tier;
        match tier {
            Tier::Minute => self.minutes,
            Tier::Hour => self.hours,
            Tier::Day => self.days,
        }
    }
}

/// A setting that cannot be used; the message names it.
#[derive(Debug, thiserror::Error)]
#[error("{setting}: {message}")]
pub struct ConfigError {
    pub setting: &'static str,
    pub message: String,
}

fn bad(setting: &'static str, message: impl Into<String>) -> ConfigError {
    ConfigError { setting, message: message.into() }
}

/// The SQLite database in the data dir, when no database URL is given.
fn default_sqlite_url(data_dir: &Path) -> String {
    format!("sqlite://{}?mode=rwc", data_dir.join("portal.db").display())
}

impl ConfigArgs {
    /// The database these arguments name (the given URL, or SQLite in the data dir), without
    /// reading anything else: for the commands that only need the database (backup, restore).
    pub fn database_url_or_default(&self) -> String {
        self.database_url.clone().unwrap_or_else(|| default_sqlite_url(&self.data_dir))
    }
}

impl Config {
    /// Validates the arguments, creating the data dir and any secret that was not given.
    pub fn from_args(args: ConfigArgs) -> Result<Self, ConfigError> {
        let bind: SocketAddr = args
            .bind
            .parse()
            .map_err(|_| bad("PORTAL_BIND", format!("'{}' is not an address such as 127.0.0.1:8080", args.bind)))?;
        let metrics_bind = match args.metrics_bind.as_deref().map(str::trim).filter(|v| !v.is_empty()) {
            None => None,
            Some(raw) => Some(raw.parse::<SocketAddr>().map_err(|_| {
                bad("PORTAL_METRICS_BIND", format!("'{raw}' is not an address such as 127.0.0.1:9464"))
            })?),
        };
        create_private_dir(&args.data_dir)
            .map_err(|e| bad("PORTAL_DATA_DIR", format!("cannot create '{}': {e}", args.data_dir.display())))?;
        let data_dir = args.data_dir;

        let database_url = match args.database_url {
            Some(url) if url.starts_with("postgres://") || url.starts_with("postgresql://") => url,
            Some(url) if url.starts_with("sqlite:") => url,
            Some(url) => {
                return Err(bad("PORTAL_DATABASE_URL", format!("'{url}' must start with sqlite: or postgres://")));
            }
            None => default_sqlite_url(&data_dir),
        };
        let rate_limit_scope = match args.rate_limit_scope.trim().to_ascii_lowercase().as_str() {
            "instance" => crate::services::meter::limits::RateScope::Instance,
            "cluster" if database_url.starts_with("postgres") => crate::services::meter::limits::RateScope::Cluster,
            "cluster" => {
                return Err(bad(
                    "PORTAL_RATE_LIMIT_SCOPE",
                    "cluster needs PostgreSQL (PORTAL_DATABASE_URL=postgres://...): SQLite serves one instance",
                ));
            }
            other => return Err(bad("PORTAL_RATE_LIMIT_SCOPE", format!("'{other}' is not instance or cluster"))),
        };

        let public_url = match args.public_url {
            Some(url) => parse_public_url(&url)?,
            None => format!("http://{bind}"),
        };

        let mail = match args.mail_url.as_deref() {
            None => MailTransportConfig::Files(data_dir.join("mail")),
            Some("log") => MailTransportConfig::Log,
            Some(url) if url.starts_with("smtp://") || url.starts_with("smtps://") => {
                lettre::AsyncSmtpTransport::<lettre::Tokio1Executor>::from_url(url)
                    .map_err(|e| bad("PORTAL_MAIL_URL", format!("invalid SMTP URL: {e}")))?;
                MailTransportConfig::Smtp(Secret::new(url))
            }
            Some(url) if url.starts_with("file://") => {
                let dir = PathBuf::from(&url["file://".len()..]);
                if !dir.is_absolute() {
                    return Err(bad(
                        "PORTAL_MAIL_URL",
                        "file:// needs an absolute folder, e.g. file:///var/mail/portal",
                    ));
                }
                MailTransportConfig::Files(dir)
            }
            Some(other) => {
                return Err(bad("PORTAL_MAIL_URL", format!("'{other}' is not smtp://, smtps://, file:///dir or log")));
            }
        };
        if let MailTransportConfig::Files(dir) = &mail {
            create_private_dir(dir)
                .map_err(|e| bad("PORTAL_MAIL_URL", format!("cannot create '{}': {e}", dir.display())))?;
        }
        args.mail_from
            .parse::<lettre::message::Mailbox>()
            .map_err(|e| bad("PORTAL_MAIL_FROM", format!("'{}' is not a mailbox: {e}", args.mail_from)))?;

        if args.auth_rate_limit == 0 {
            return Err(bad("PORTAL_AUTH_RATE_LIMIT", "must be at least 1"));
        }
        if args.signin_failures_per_account == 0 {
            return Err(bad("PORTAL_SIGNIN_FAILURES_PER_ACCOUNT", "must be at least 1"));
        }
        if args.refresh_reuse_grace_seconds > 60 {
            return Err(bad("PORTAL_REFRESH_REUSE_GRACE", "must be at most 60 seconds"));
        }
        if args.invite_rate_limit == 0 {
            return Err(bad("PORTAL_INVITE_RATE_LIMIT", "must be at least 1"));
        }
        if args.workers == Some(0) {
            return Err(bad("PORTAL_WORKERS", "must be at least 1"));
        }
        if !(0.001..=1.0).contains(&args.webhook_retry_scale) {
            return Err(bad("PORTAL_WEBHOOK_RETRY_SCALE", "must be from 0.001 to 1"));
        }
        if !(1..=604_800).contains(&args.domain_recheck_seconds) {
            return Err(bad("PORTAL_DOMAIN_RECHECK_SECONDS", "must be between 1 and 604800 seconds"));
        }
        if args.domain_grace_seconds > 2_592_000 {
            return Err(bad("PORTAL_DOMAIN_GRACE_SECONDS", "must be at most 2592000 seconds (30 days)"));
        }
        if !(50..=3_600_000).contains(&args.notice_interval_ms) {
            return Err(bad("PORTAL_NOTICE_INTERVAL_MS", "must be between 50 and 3600000 milliseconds"));
        }
        let secret_scanning_keys = crate::leaks::parse_keys(&args.secret_scanning_public_keys)
            .map_err(|e| bad("PORTAL_SECRET_SCANNING_PUBLIC_KEYS", e))?;
        if !(50..=60_000).contains(&args.usage_flush_ms) {
            return Err(bad("PORTAL_USAGE_FLUSH_MS", "must be between 50 and 60000 milliseconds"));
        }
        let usage_retention = UsageRetention {
            minutes: args.usage_minutes_keep_days,
            hours: args.usage_hours_keep_days,
            days: args.usage_days_keep_days,
        };
        if usage_retention.minutes == 0 {
            return Err(bad("PORTAL_USAGE_MINUTES_KEEP_DAYS", "must be at least 1"));
        }
        if usage_retention.hours < usage_retention.minutes {
            return Err(bad("PORTAL_USAGE_HOURS_KEEP_DAYS", "must be at least PORTAL_USAGE_MINUTES_KEEP_DAYS"));
        }
        if usage_retention.days < usage_retention.hours {
            return Err(bad("PORTAL_USAGE_DAYS_KEEP_DAYS", "must be at least PORTAL_USAGE_HOURS_KEEP_DAYS"));
        }

        let secrets_dir = data_dir.join("secrets");
        let jwt_secret =
            load_secret("PORTAL_JWT_SECRET", args.jwt_secret, args.jwt_secret_file, &secrets_dir, "jwt.key")?;
        let key_hash_secret = load_secret(
            "PORTAL_KEY_HASH_SECRET",
            args.key_hash_secret,
            args.key_hash_secret_file,
            &secrets_dir,
            "key-hash.key",
        )?;
        let service_token = load_secret(
            "PORTAL_SERVICE_TOKEN",
            args.service_token,
            args.service_token_file,
            &secrets_dir,
            "service-token",
        )?;

        Ok(Self {
            bind,
            metrics_bind,
            data_dir,
            database_url,
            public_url,
            mail,
            mail_from: args.mail_from,
            web_dir: args.web_dir,
            jwt_secret,
            key_hash_secret,
            service_token,
            auth_rate_limit: args.auth_rate_limit,
            signin_failures_per_account: args.signin_failures_per_account,
            refresh_reuse_grace_seconds: args.refresh_reuse_grace_seconds,
            invite_rate_limit: args.invite_rate_limit,
            workers: args.workers,
            client_ip: crate::client_ip::ClientIpSource {
                trusted: crate::client_ip::parse_trusted(&args.trusted_proxies)
                    .map_err(|e| bad("PORTAL_TRUSTED_PROXIES", e))?,
                header: crate::client_ip::ClientIpHeader::parse(&args.client_ip_header)
                    .map_err(|e| bad("PORTAL_CLIENT_IP_HEADER", e))?,
            },
            usage_flush: std::time::Duration::from_millis(args.usage_flush_ms),
            usage_retention,
            secret_scanning_keys,
            notice_interval: std::time::Duration::from_millis(args.notice_interval_ms),
            domain_recheck: std::time::Duration::from_secs(args.domain_recheck_seconds),
            domain_grace: std::time::Duration::from_secs(args.domain_grace_seconds),
            debug_statement_count: args.debug_statement_count,
            read_cache: !args.no_read_cache,
            rate_limit_scope,
            metrics: args.metrics,
            webhook_allow_http: args.webhook_allow_http,
            webhook_allow_private: args.webhook_allow_private,
            webhook_retry_scale: args.webhook_retry_scale,
            help: help_links(&args.docs_url, args.support_url, args.support_email, args.community_url)?,
            dns_resolver: args
                .dns_resolver
                .as_deref()
                .filter(|s| !s.trim().is_empty())
                .map(|s| {
                    s.trim().parse().map_err(|_| {
                        bad("PORTAL_DNS_RESOLVER", format!("'{s}' must be an address and port such as 127.0.0.1:53"))
                    })
                })
                .transpose()?,
        })
    }

    /// Whether cookies may be sent over plain HTTP (only for a loopback portal without TLS).
    pub fn insecure_cookies(&self) -> bool {
        ["http://localhost", "http://127.", "http://[::1]"].iter().any(|p| self.public_url.starts_with(p))
    }
}

fn parse_public_url(url: &str) -> Result<String, ConfigError> {
    let trimmed = url.trim_end_matches('/');
    let rest = trimmed
        .strip_prefix("http://")
        .or_else(|| trimmed.strip_prefix("https://"))
        .ok_or_else(|| bad("PORTAL_PUBLIC_URL", format!("'{url}' must start with http:// or https://")))?;
    if rest.is_empty() || rest.contains(char::is_whitespace) || rest.contains(['?', '#']) {
        return Err(bad("PORTAL_PUBLIC_URL", format!("'{url}' is not a base URL such as https://portal.example.com")));
    }
    Ok(trimmed.to_owned())
}

const MIN_SECRET_LEN: usize = 32;

fn load_secret(
    setting: &'static str,
    value: Option<String>,
    file: Option<PathBuf>,
    secrets_dir: &Path,
    generated_name: &str,
) -> Result<Secret, ConfigError> {
    let value = match (value, file) {
        (Some(_), Some(_)) => return Err(bad(setting, "give the value or the _FILE variant, not both")),
        (Some(v), None) => v,
        (None, Some(path)) => std::fs::read_to_string(&path)
            .map_err(|e| bad(setting, format!("cannot read '{}': {e}", path.display())))?
            .trim()
            .to_owned(),
        (None, None) => return load_or_generate(setting, &secrets_dir.join(generated_name)),
    };
    if value.len() < MIN_SECRET_LEN {
        return Err(bad(setting, format!("must be at least {MIN_SECRET_LEN} characters")));
    }
    Ok(Secret(value))
}

fn load_or_generate(setting: &'static str, path: &Path) -> Result<Secret, ConfigError> {
    if let Ok(existing) = std::fs::read_to_string(path) {
        let existing = existing.trim();
        if existing.len() >= MIN_SECRET_LEN {
            return Ok(Secret(existing.to_owned()));
        }
        return Err(bad(setting, format!("the generated secret in '{}' is damaged; delete it", path.display())));
    }
    let secret = portal_domain::token::generate();
    let dir = path.parent().unwrap_or(Path::new("."));
    create_private_dir(dir).map_err(|e| bad(setting, format!("cannot create '{}': {e}", dir.display())))?;
    write_private(path, &secret).map_err(|e| bad(setting, format!("cannot write '{}': {e}", path.display())))?;
    Ok(Secret(secret))
}

/// Creates a folder (and its missing parents) that only its owner can open (0700): the data
/// folder holds the database and secrets, the mail folder live links.
pub fn create_private_dir(dir: &Path) -> std::io::Result<()> {
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    builder.create(dir)
}

fn write_private(path: &Path, contents: &str) -> std::io::Result<()> {
    use std::io::Write as _;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options.open(path)?;
    file.write_all(contents.as_bytes())?;
    file.sync_all()
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser)]
    struct Cli {
        #[command(flatten)]
        args: ConfigArgs,
    }

    fn args(extra: &[&str]) -> ConfigArgs {
        let dir = std::env::temp_dir().join(format!("portal-config-{}", uuid::Uuid::new_v4()));
        let mut argv = vec!["portal".to_owned(), "--data-dir".to_owned(), dir.display().to_string()];
        argv.extend(extra.iter().map(|s| s.to_string()));
        Cli::try_parse_from(argv).unwrap().args
    }

    #[test]
    fn defaults_give_a_working_local_portal_and_persist_secrets() {
        let a = args(&[]);
        let dir = a.data_dir.clone();
        let c = Config::from_args(a.clone()).unwrap();
        assert_eq!(c.bind.to_string(), "127.0.0.1:8080");
        assert!(c.database_url.starts_with("sqlite://"));
        assert_eq!(c.public_url, "http://127.0.0.1:8080");
        assert_eq!(c.mail, MailTransportConfig::Files(dir.join("mail")));
        assert!(c.insecure_cookies());
        let again = Config::from_args(a).unwrap();
        assert_eq!(c.jwt_secret, again.jwt_secret, "generated secrets are kept");
        assert_ne!(c.jwt_secret, c.key_hash_secret);
        assert_eq!(format!("{:?}", c.jwt_secret), "Secret(***)");
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn bad_values_name_the_setting() {
        for (flags, setting) in [
            (&["--bind", "nowhere"][..], "PORTAL_BIND"),
            (&["--database-url", "mysql://x"][..], "PORTAL_DATABASE_URL"),
            (&["--public-url", "ftp://x"][..], "PORTAL_PUBLIC_URL"),
            (&["--mail-url", "carrier-pigeon"][..], "PORTAL_MAIL_URL"),
            (&["--mail-url", "file://relative"][..], "PORTAL_MAIL_URL"),
            (&["--mail-from", "not a mailbox"][..], "PORTAL_MAIL_FROM"),
            (&["--jwt-secret", "short"][..], "PORTAL_JWT_SECRET"),
            (&["--auth-rate-limit", "0"][..], "PORTAL_AUTH_RATE_LIMIT"),
            (&["--refresh-reuse-grace-seconds", "61"][..], "PORTAL_REFRESH_REUSE_GRACE"),
            (&["--invite-rate-limit", "0"][..], "PORTAL_INVITE_RATE_LIMIT"),
            (&["--usage-flush-ms", "10"][..], "PORTAL_USAGE_FLUSH_MS"),
            (&["--usage-minutes-keep-days", "0"][..], "PORTAL_USAGE_MINUTES_KEEP_DAYS"),
            (&["--usage-hours-keep-days", "3", "--usage-minutes-keep-days", "7"][..], "PORTAL_USAGE_HOURS_KEEP_DAYS"),
            (&["--usage-days-keep-days", "30"][..], "PORTAL_USAGE_DAYS_KEEP_DAYS"),
            (&["--docs-url", "javascript:alert(1)"][..], "PORTAL_DOCS_URL"),
            (&["--docs-url", "//elsewhere.example"][..], "PORTAL_DOCS_URL"),
            (&["--docs-url", "/\\elsewhere.example"][..], "PORTAL_DOCS_URL"),
            (&["--support-url", "javascript:alert(1)"][..], "PORTAL_SUPPORT_URL"),
            (&["--support-email", "not an address"][..], "PORTAL_SUPPORT_EMAIL"),
            (&["--community-url", "forum.example.com"][..], "PORTAL_COMMUNITY_URL"),
            (&["--metrics-bind", "everywhere"][..], "PORTAL_METRICS_BIND"),
            (&["--rate-limit-scope", "galaxy"][..], "PORTAL_RATE_LIMIT_SCOPE"),
            // One SQLite database serves one instance: nothing to share.
            (&["--rate-limit-scope", "cluster"][..], "PORTAL_RATE_LIMIT_SCOPE"),
        ] {
            let err = Config::from_args(args(flags)).unwrap_err();
            assert_eq!(err.setting, setting, "{flags:?}: {err}");
        }
    }

    #[test]
    fn help_links_default_to_the_docs_and_hide_what_is_empty() {
        let c = Config::from_args(args(&[])).unwrap();
        assert_eq!(c.help, portal_types::HelpLinks { docs_url: Some("/docs/".into()), ..Default::default() });
        let c = Config::from_args(args(&[
            "--docs-url",
            "",
            "--support-email",
            "help@example.com",
            "--community-url",
            "https://forum.example.com/c/portal",
        ]))
        .unwrap();
        assert_eq!(c.help.docs_url, None);
        assert_eq!(c.help.support_url.as_deref(), Some("mailto:help@example.com"));
        assert_eq!(c.help.community_url.as_deref(), Some("https://forum.example.com/c/portal"));
        let c = Config::from_args(args(&["--support-url", "https://help.example.com", "--support-email", "a@b.c"]))
            .unwrap();
        assert_eq!(c.help.support_url.as_deref(), Some("https://help.example.com"), "the page wins over the address");
    }

    #[test]
    fn https_public_url_means_secure_cookies() {
        let c = Config::from_args(args(&["--public-url", "https://portal.example.com/"])).unwrap();
        assert_eq!(c.public_url, "https://portal.example.com");
        assert!(!c.insecure_cookies());
    }
}
