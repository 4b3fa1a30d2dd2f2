//! Passwords (argon2id off the event loop) and access tokens (HS256 JWT).

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};

use argon2::{Algorithm, Argon2, Params, PasswordHasher, PasswordVerifier, Version};
use chrono::{DateTime, Utc};
use jsonwebtoken::{DecodingKey, EncodingKey, Header, Validation};
use tokio::sync::Semaphore;
use uuid::Uuid;

use crate::error::ApiError;

/// Lifetime of an access token.
pub const ACCESS_TOKEN_SECONDS: i64 = 15 * 60;

fn argon2() -> Argon2<'static> {
    // OWASP: argon2id, m = 19456 KiB, t = 2, p = 1.
    let params = Params::new(19_456, 2, 1, None).expect("constant argon2 parameters are valid");
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
}

/// Hashes and checks passwords on the blocking pool, a bounded number at a time so that a flood
/// of sign-ins cannot exhaust memory (each hash holds 19 MiB): `parallelism` run, at most
/// `queue` wait, and past that the request is answered 503 `busy` with `Retry-After` at once.
#[derive(Clone)]
pub struct PasswordHasherPool {
    permits: Arc<Semaphore>,
    waiting: Arc<AtomicUsize>,
    queue: usize,
}

/// Counts a waiter until it gets its permit or gives up (its request was dropped).
struct Waiting<'a>(&'a AtomicUsize);

impl Drop for Waiting<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

impl PasswordHasherPool {
    /// Waiting checks per running one: with 2 cores, 16 wait, under a second at 50 ms a hash.
    pub const QUEUE_PER_WORKER: usize = 8;

    pub fn new(parallelism: usize) -> Self {
        let parallelism = parallelism.max(1);
        Self {
            permits: Arc::new(Semaphore::new(parallelism)),
            waiting: Arc::new(AtomicUsize::new(0)),
            queue: parallelism * Self::QUEUE_PER_WORKER,
        }
    }

    async fn run<T: Send + 'static>(&self, job: impl FnOnce() -> T + Send + 'static) -> Result<T, ApiError> {
        self.run_in_line(true, job).await
    }

    /// Runs `job` once a permit is free; when `may_refuse`, refuses at once if the queue is full.
    async fn run_in_line<T: Send + 'static>(
        &self,
        may_refuse: bool,
        job: impl FnOnce() -> T + Send + 'static,
    ) -> Result<T, ApiError> {
        let permit = match self.permits.clone().try_acquire_owned() {
            Ok(permit) => permit,
            Err(_) => {
                if self.waiting.fetch_add(1, Ordering::AcqRel) >= self.queue && may_refuse {
                    self.waiting.fetch_sub(1, Ordering::AcqRel);
                    crate::metrics::password_checks_refused();
                    return Err(ApiError::busy("The server is checking too many passwords; try again shortly.", 1));
                }
                let _waiting = Waiting(&self.waiting);
                self.permits.clone().acquire_owned().await.map_err(ApiError::internal)?
            }
        };
        // The permit goes with the job: a request dropped while its hash runs (the client went
        // away) keeps the slot until the hash ends, so hashes never outnumber the permits.
        tokio::task::spawn_blocking(move || {
            let _permit = permit;
            job()
        })
        .await
        .map_err(ApiError::internal)
    }

    pub async fn hash(&self, password: String) -> Result<String, ApiError> {
        self.run(move || argon2().hash_password(password.as_bytes()).map(|h| h.to_string()))
            .await?
            .map_err(ApiError::internal)
    }

    /// The hash of a random password nobody knows (accounts that sign in by SSO only). It waits
    /// its turn even when the queue is full: the identity provider's answer is not for retrying.
    pub async fn unusable_hash(&self) -> Result<String, ApiError> {
        let password = portal_domain::token::generate();
        self.run_in_line(false, move || argon2().hash_password(password.as_bytes()).map(|h| h.to_string()))
            .await?
            .map_err(ApiError::internal)
    }

    /// Whether `password` matches `hash`. With no hash (unknown account) it checks against a
    /// dummy hash, so that both cases take the same time and reveal nothing.
    pub async fn verify(&self, password: String, hash: Option<String>) -> Result<bool, ApiError> {
        self.run(move || {
            let known = hash.is_some();
            let hash = hash.unwrap_or_else(|| dummy_hash().to_owned());
            let ok = argon2().verify_password(password.as_bytes(), hash.as_str()).is_ok();
            known && ok
        })
        .await
    }
}

fn dummy_hash() -> &'static str {
    static DUMMY: OnceLock<String> = OnceLock::new();
    DUMMY.get_or_init(|| {
        argon2().hash_password(portal_domain::token::generate().as_bytes()).map(|h| h.to_string()).unwrap_or_default()
    })
}

#[derive(Debug, serde::Serialize, serde::Deserialize)]
struct Claims {
    sub: Uuid,
    /// The refresh-token family (session) this access token belongs to.
    sid: Uuid,
    iat: i64,
    exp: i64,
}

/// The signed-in user an access token names.
#[derive(Debug, Clone, Copy)]
pub struct AccessClaims {
    pub user_id: Uuid,
    pub session_id: Uuid,
}

/// Signs and checks access tokens.
#[derive(Clone)]
pub struct Tokens {
    encoding: EncodingKey,
    decoding: DecodingKey,
}

impl Tokens {
    pub fn new(secret: &[u8]) -> Self {
        Self { encoding: EncodingKey::from_secret(secret), decoding: DecodingKey::from_secret(secret) }
    }

    pub fn issue(&self, user_id: Uuid, session_id: Uuid, now: DateTime<Utc>) -> Result<String, ApiError> {
        let claims =
            Claims { sub: user_id, sid: session_id, iat: now.timestamp(), exp: now.timestamp() + ACCESS_TOKEN_SECONDS };
        jsonwebtoken::encode(&Header::default(), &claims, &self.encoding).map_err(ApiError::internal)
    }

    pub fn check(&self, token: &str) -> Option<AccessClaims> {
        let mut validation = Validation::new(jsonwebtoken::Algorithm::HS256);
        validation.leeway = 5;
        jsonwebtoken::decode::<Claims>(token, &self.decoding, &validation)
            .ok()
            .map(|data| AccessClaims { user_id: data.claims.sub, session_id: data.claims.sid })
    }
}

/// Whether two secrets are equal, in time that does not depend on where they differ.
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// The refresh token's cookie, set by sign-in and rotated on every refresh.
pub const REFRESH_COOKIE: &str = "pp_refresh";

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn hashes_verify_and_unknown_accounts_never_match() {
        let pool = PasswordHasherPool::new(2);
        let hash = pool.hash("correct horse battery".into()).await.unwrap();
        assert!(hash.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{hash}");
        assert!(pool.verify("correct horse battery".into(), Some(hash.clone())).await.unwrap());
        assert!(!pool.verify("wrong horse battery".into(), Some(hash)).await.unwrap());
        assert!(!pool.verify("anything at all".into(), None).await.unwrap());
    }

    #[test]
    fn tokens_round_trip_and_reject_tampering_and_expiry() {
        let tokens = Tokens::new(b"0123456789abcdef0123456789abcdef");
        let (user, sid) = (Uuid::new_v4(), Uuid::new_v4());
        let jwt = tokens.issue(user, sid, Utc::now()).unwrap();
        let claims = tokens.check(&jwt).unwrap();
        assert_eq!((claims.user_id, claims.session_id), (user, sid));
        assert!(Tokens::new(b"another-secret-another-secret-xx").check(&jwt).is_none());
        let old = tokens.issue(user, sid, Utc::now() - chrono::Duration::hours(1)).unwrap();
        assert!(tokens.check(&old).is_none());
    }
}
