//! The services behind the request path, each on `AppState` by name: the authorization caches
//! ([`auth_cache`]), the kept pages ([`pages`]), the usage meter with its limits ([`meter`]), and
//! the invalidation that keeps all of them true on every instance ([`invalidation`]), which they
//! share one typed message with ([`invalidation::Change`]).

pub mod auth_cache;
pub mod change;
pub mod guarded;
pub mod invalidation;
pub mod meter;
pub mod pages;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use portal_db::DatabaseConnection;

use self::auth_cache::AuthCache;
use self::invalidation::Invalidation;
use self::meter::MeterService;
use self::pages::Pages;

/// Whether the caches may be served: false while the channel that tells of other instances'
/// changes is down (on PostgreSQL, until LISTEN runs).
pub struct Trust(AtomicBool);

impl Trust {
    pub fn get(&self) -> bool {
        self.0.load(Ordering::Acquire)
    }

    fn set(&self, trusted: bool) {
        self.0.store(trusted, Ordering::Release);
    }
}

/// The services of one instance, made together (they share the trust flag and the meter).
#[derive(Clone)]
pub struct Services {
    pub auth_cache: Arc<AuthCache>,
    pub pages: Arc<Pages>,
    pub meter: Arc<MeterService>,
    pub invalidation: Arc<Invalidation>,
    /// TXT lookups of domain verification.
    pub dns: Arc<crate::dns::Dns>,
    /// Single sign-on's OpenID Connect providers (their discovery documents and keys kept).
    pub oidc: Arc<crate::sso::Oidc>,
}

impl Services {
    /// What the caches hold now, for the log line at the end of a run: entries per cache, and
    /// the kept pages' weight.
    pub fn footprint(&self) -> String {
        let (pages, bytes) = self.pages.footprint();
        let caches = self.auth_cache.entries().iter().map(|(name, n)| format!("{name} {n}")).collect::<Vec<_>>();
        format!(
            "kept pages {pages} ({:.1} MiB); cached {}; rate limits {}",
            bytes as f64 / 1_048_576.0,
            caches.join(", "),
            self.meter.rate_limits_kept()
        )
    }

    pub fn new(
        db: DatabaseConnection,
        server_secret: &str,
        (read_cache, rate_scope): (bool, meter::limits::RateScope),
        (dns, oidc): (crate::dns::Dns, crate::sso::Oidc),
    ) -> Self {
        // On PostgreSQL other instances may revoke: trust the caches only once LISTEN runs.
        let trust = Arc::new(Trust(AtomicBool::new(!portal_db::changes::is_postgres(&db))));
        let auth_cache = Arc::new(AuthCache::new(db.clone(), server_secret, trust.clone()));
        let meter = Arc::new(MeterService::new(db.clone(), rate_scope));
        let pages = Arc::new(Pages::new(read_cache, trust.clone(), meter.clone()));
        let invalidation =
            Arc::new(Invalidation { db, trust, auth: auth_cache.clone(), pages: pages.clone(), meter: meter.clone() });
        Self { auth_cache, pages, meter, invalidation, dns: Arc::new(dns), oidc: Arc::new(oidc) }
    }
}
