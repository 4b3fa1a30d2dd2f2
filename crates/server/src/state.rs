//! What every handler shares.

use std::sync::Arc;
use std::time::Duration;

use portal_db::DatabaseConnection;
use tokio::sync::Notify;

use crate::config::Config;
use crate::keys::KeyCheck;
use crate::ratelimit::Budget;
use crate::security::{PasswordHasherPool, Tokens};
use crate::services::Services;
use crate::services::auth_cache::AuthCache;
use crate::services::invalidation::Invalidation;
use crate::services::meter::MeterService;
use crate::services::pages::Pages;

pub struct AppState {
    /// Writes and transactions (on SQLite: the single writer connection).
    pub db: DatabaseConnection,
    /// Reads outside transactions: on SQLite a pool of read-only connections beside the
    /// writer (WAL lets them read while it writes); on PostgreSQL the same pool as `db`.
    pub reads: DatabaseConnection,
    pub config: Arc<Config>,
    pub tokens: Tokens,
    pub hasher: PasswordHasherPool,
    /// Sign-in, sign-up and reset requests per client address and endpoint.
    pub auth_limiter: Budget,
    /// Failed sign-ins and wrong current passwords per account and 15 minutes.
    pub account_limiter: Budget,
    /// Invitations sent (and resent) per team and hour.
    pub invite_limiter: Budget,
    /// Test sends and redeliveries of webhooks per team and hour.
    pub webhook_send_limiter: Budget,
    /// Wakes the mail worker after a mail was queued.
    pub mail_wake: Arc<Notify>,
    /// Checks presented API keys.
    pub keys: Arc<KeyCheck>,
    /// Keys, teams, memberships and sessions, cached for the request path.
    pub auth_cache: Arc<AuthCache>,
    /// What teams' lists and usage pages read, kept until the team changes.
    pub pages: Arc<Pages>,
    /// Every request made with a key counted, and the keys' limits.
    pub meter: Arc<MeterService>,
    /// Announces changes to every instance (and evicts them here) as they commit.
    pub invalidation: Arc<Invalidation>,
    /// Encryption of TOTP secrets and hashing of recovery codes.
    pub two_factor: portal_domain::two_factor::TwoFactorKeys,
    /// Encryption of webhook signing secrets.
    pub webhook_secrets: portal_domain::sealed::SecretBox,
    /// Where webhooks may go.
    pub webhook_reach: crate::webhooks::Reach,
    /// Wakes the webhook worker (a test event or redelivery waits for nobody).
    pub webhook_wake: Arc<Notify>,
    /// TXT lookups of domain verification.
    pub dns: Arc<crate::dns::Dns>,
    /// Single sign-on: OpenID Connect providers, reached like webhooks.
    pub oidc: Arc<crate::sso::Oidc>,
}

impl AppState {
    pub fn new(
        db: DatabaseConnection,
        reads: DatabaseConnection,
        config: Arc<Config>,
        (mail_wake, webhook_wake): (Arc<Notify>, Arc<Notify>),
        services: &Services,
    ) -> Self {
        let cores = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(2);
        Self {
            tokens: Tokens::new(config.jwt_secret.expose().as_bytes()),
            // The key-hashing secret cannot change without breaking every key, so secrets sealed
            // under it stay readable; a key of its own is derived for each use.
            two_factor: portal_domain::two_factor::TwoFactorKeys::derive(config.key_hash_secret.expose().as_bytes()),
            webhook_secrets: crate::webhooks::secret_box(config.key_hash_secret.expose()),
            webhook_reach: crate::webhooks::Reach::from_config(&config),
            webhook_wake,
            hasher: PasswordHasherPool::new(cores),
            auth_limiter: Budget::new(config.auth_rate_limit, Duration::from_secs(60)),
            account_limiter: Budget::new(config.signin_failures_per_account, Duration::from_secs(15 * 60)),
            invite_limiter: Budget::new(config.invite_rate_limit, Duration::from_secs(3600)),
            webhook_send_limiter: Budget::new(crate::app::webhooks::SENDS_PER_HOUR, Duration::from_secs(3600)),
            db,
            reads,
            config,
            mail_wake,
            keys: Arc::new(KeyCheck { auth: services.auth_cache.clone(), meter: services.meter.clone() }),
            auth_cache: services.auth_cache.clone(),
            pages: services.pages.clone(),
            meter: services.meter.clone(),
            invalidation: services.invalidation.clone(),
            dns: services.dns.clone(),
            oidc: services.oidc.clone(),
        }
    }
}
