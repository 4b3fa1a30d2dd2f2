//! Request budgets per key (an endpoint and a client address, an account, a team) and fixed
//! window, kept in the database (`portal_db::budgets`): a slot is taken by one conditional
//! upsert before the request's work, so concurrent requests and other instances never spend more
//! than the budget. (Kept in memory they were per instance, and checked after argon2: 20 wrong
//! passwords at once got 20 answers of 401 with a budget of 10.)

use std::time::Duration;

use chrono::{DateTime, Utc};
use portal_db::ConnectionTrait;

use crate::error::{ApiError, ApiResult};

/// So many requests per window for each key.
pub struct Budget {
    per_window: u32,
    window: Duration,
}

/// A slot taken from a budget: spent unless given back ([`Slot::release`]).
#[must_use = "a slot is spent unless released"]
pub struct Slot {
    key: String,
    window_start: i64,
}

impl Budget {
    pub fn new(per_window: u32, window: Duration) -> Self {
        Self { per_window, window: window.max(Duration::from_secs(1)) }
    }

    fn window_seconds(&self) -> i64 {
        i64::try_from(self.window.as_secs()).unwrap_or(i64::MAX)
    }

    /// The start of the window `now` falls in, and the seconds left of it.
    fn window_of(&self, now: DateTime<Utc>) -> (i64, u64) {
        let (at, length) = (now.timestamp(), self.window_seconds());
        let start = at - at.rem_euclid(length);
        (start, u64::try_from(start + length - at).unwrap_or(1))
    }

    /// Takes a slot of `key`'s budget before the work it guards (a password or code check):
    /// 429 with `Retry-After` when the window's budget is spent. Give it back when the attempt
    /// went well. Use a connection outside any open transaction on SQLite's one writer.
    pub async fn reserve(&self, db: &impl ConnectionTrait, key: &str) -> ApiResult<Slot> {
        let (window_start, left) = self.window_of(Utc::now());
        if !portal_db::budgets::reserve(db, key, window_start, self.per_window).await? {
            return Err(ApiError::rate_limited(left));
        }
        Ok(Slot { key: key.to_owned(), window_start })
    }

    /// Counts one request of `key`: 429 with `Retry-After` once the window's budget is spent.
    pub async fn spend(&self, db: &impl ConnectionTrait, key: &str) -> ApiResult<()> {
        self.reserve(db, key).await.map(Slot::spent)
    }
}

impl Slot {
    /// The attempt went well: the slot goes back to the budget.
    pub async fn release(self, db: &impl ConnectionTrait) -> ApiResult<()> {
        Ok(portal_db::budgets::release(db, &self.key, self.window_start).await?)
    }

    /// The slot stays spent.
    pub fn spent(self) {}
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn windows_are_fixed_and_say_how_long_is_left() {
        let budget = Budget::new(3, Duration::from_secs(60));
        let at = |s: i64| DateTime::from_timestamp(s, 0).unwrap();
        assert_eq!(budget.window_of(at(1_800_000_030)), (1_800_000_000, 30));
        assert_eq!(budget.window_of(at(120)), (120, 60));
        assert_eq!(budget.window_of(at(179)), (120, 1));
        assert_eq!(Budget::new(1, Duration::ZERO).window_of(at(5)), (5, 1), "a window lasts a second at least");
    }
}
