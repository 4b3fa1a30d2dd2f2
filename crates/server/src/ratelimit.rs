//! Fixed-window request limits per key (endpoint + client address), kept in memory.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::error::ApiError;

pub struct RateLimiter {
    per_window: u32,
    window: Duration,
    windows: Mutex<HashMap<String, (Instant, u32)>>,
}

impl RateLimiter {
    pub fn new(per_window: u32, window: Duration) -> Self {
        Self { per_window, window, windows: Mutex::new(HashMap::new()) }
    }

    /// `Err(429 with Retry-After)` if the window's budget for `key` is spent, without counting.
    pub fn peek(&self, key: &str) -> Result<(), ApiError> {
        let now = Instant::now();
        let windows = self.windows.lock().unwrap_or_else(|e| e.into_inner());
        match windows.get(key) {
            Some((start, used)) if now.duration_since(*start) < self.window && *used >= self.per_window => {
                let retry = self.window.saturating_sub(now.duration_since(*start));
                Err(ApiError::rate_limited(retry.as_secs_f64().ceil() as u64))
            }
            _ => Ok(()),
        }
    }

    /// Counts one request for `key`; `Err(429 with Retry-After)` once the window's budget is spent.
    pub fn check(&self, key: &str) -> Result<(), ApiError> {
        let now = Instant::now();
        let mut windows = self.windows.lock().unwrap_or_else(|e| e.into_inner());
        if windows.len() > 10_000 {
            windows.retain(|_, (start, _)| now.duration_since(*start) < self.window);
        }
        let entry = windows.entry(key.to_owned()).or_insert((now, 0));
        if now.duration_since(entry.0) >= self.window {
            *entry = (now, 0);
        }
        if entry.1 >= self.per_window {
            let retry = self.window.saturating_sub(now.duration_since(entry.0));
            return Err(ApiError::rate_limited(retry.as_secs_f64().ceil() as u64));
        }
        entry.1 += 1;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn budget_is_per_key_and_refuses_with_retry_after() {
        let limiter = RateLimiter::new(2, Duration::from_secs(60));
        assert!(limiter.check("login:1.2.3.4").is_ok());
        assert!(limiter.check("login:1.2.3.4").is_ok());
        let err = limiter.check("login:1.2.3.4").unwrap_err();
        assert_eq!(err.status().as_u16(), 429);
        assert!((1..=60).contains(&err.retry_after.unwrap()));
        assert!(limiter.check("login:5.6.7.8").is_ok());
    }

    #[test]
    fn window_resets() {
        let limiter = RateLimiter::new(1, Duration::from_millis(0));
        assert!(limiter.check("k").is_ok());
        assert!(limiter.check("k").is_ok());
    }
}
