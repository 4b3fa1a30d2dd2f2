//! Fair webhook delivery, per instance: how many attempts run at once in all, per team and per
//! endpoint, and each endpoint's circuit breaker. A team whose endpoints hang (accept a
//! connection and never answer) holds at most [`PER_TEAM`] of the instance's [`PARALLEL`]
//! slots, each endpoint at most [`PER_ENDPOINT`]; after [`TRIP_AFTER`] timeouts in a row an
//! endpoint's breaker opens and its deliveries wait [`OPEN_FOR`] (longer each time it trips
//! again, up to [`OPEN_AT_MOST`]), then one attempt probes it.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use uuid::Uuid;

/// Attempts one instance runs at once.
pub const PARALLEL: usize = 16;
/// Attempts to one team's endpoints at once.
pub const PER_TEAM: usize = 4;
/// Attempts to one endpoint at once.
pub const PER_ENDPOINT: usize = 2;
/// Timeouts in a row that open an endpoint's breaker.
pub const TRIP_AFTER: u32 = 3;
/// How long a breaker first stays open.
pub const OPEN_FOR: Duration = Duration::from_secs(60);
/// The longest a breaker stays open.
pub const OPEN_AT_MOST: Duration = Duration::from_secs(30 * 60);

#[derive(Debug, Default)]
struct Breaker {
    /// Timeouts in a row.
    timeouts: u32,
    /// How many times it opened without an answer in between.
    trips: u32,
    open_until: Option<Instant>,
}

/// What ended an attempt, as the breaker sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ended {
    /// The endpoint answered (whatever the status), or the attempt was not sent.
    Answered,
    /// No answer within the timeout.
    TimedOut,
}

/// The running attempts and the breakers of one instance.
#[derive(Debug, Default)]
pub struct Slots {
    running: usize,
    by_team: HashMap<Uuid, usize>,
    by_endpoint: HashMap<Uuid, usize>,
    breakers: HashMap<Uuid, Breaker>,
}

impl Slots {
    pub fn free(&self) -> usize {
        PARALLEL.saturating_sub(self.running)
    }

    /// The endpoints and teams whose deliveries may not start now.
    pub fn busy(&self, now: Instant) -> portal_db::webhooks::Busy {
        let mut endpoints: Vec<Uuid> = self
            .by_endpoint
            .iter()
            .filter(|(endpoint, n)| **n >= self.endpoint_limit(**endpoint, now))
            .map(|(endpoint, _)| *endpoint)
            .collect();
        endpoints.extend(
            self.breakers
                .iter()
                .filter(|(endpoint, b)| {
                    b.open_until.is_some_and(|t| t > now) && !self.by_endpoint.contains_key(endpoint)
                })
                .map(|(endpoint, _)| *endpoint),
        );
        let teams = self.by_team.iter().filter(|(_, n)| **n >= PER_TEAM).map(|(team, _)| *team).collect();
        portal_db::webhooks::Busy { endpoints, teams }
    }

    /// How many attempts the endpoint may have at once: none while its breaker is open, one
    /// (the probe) once it has tripped, [`PER_ENDPOINT`] otherwise.
    fn endpoint_limit(&self, endpoint: Uuid, now: Instant) -> usize {
        match self.breakers.get(&endpoint) {
            Some(b) if b.open_until.is_some_and(|t| t > now) => 0,
            Some(b) if b.trips > 0 => 1,
            _ => PER_ENDPOINT,
        }
    }

    /// Takes a slot for an attempt to `endpoint` of `team`, if every bound allows it.
    pub fn take(&mut self, endpoint: Uuid, team: Uuid, now: Instant) -> bool {
        let of_endpoint = self.by_endpoint.get(&endpoint).copied().unwrap_or(0);
        let of_team = self.by_team.get(&team).copied().unwrap_or(0);
        if self.running >= PARALLEL || of_team >= PER_TEAM || of_endpoint >= self.endpoint_limit(endpoint, now) {
            return false;
        }
        self.running += 1;
        *self.by_team.entry(team).or_default() += 1;
        *self.by_endpoint.entry(endpoint).or_default() += 1;
        true
    }

    /// Gives the slot back. Answers `Some(until)` when this attempt opened the endpoint's breaker.
    pub fn give_back(&mut self, endpoint: Uuid, team: Uuid, ended: Ended, now: Instant) -> Option<Instant> {
        self.running = self.running.saturating_sub(1);
        for (map, id) in [(&mut self.by_team, team), (&mut self.by_endpoint, endpoint)] {
            if let Some(n) = map.get_mut(&id) {
                *n -= 1;
                if *n == 0 {
                    map.remove(&id);
                }
            }
        }
        match ended {
            Ended::Answered => {
                self.breakers.remove(&endpoint);
                None
            }
            Ended::TimedOut => {
                let breaker = self.breakers.entry(endpoint).or_default();
                breaker.timeouts += 1;
                if breaker.timeouts < TRIP_AFTER && breaker.trips == 0 {
                    return None;
                }
                // Tripped, or the probe after a trip timed out too: open (again), for longer.
                let open_for = OPEN_FOR.saturating_mul(1 << breaker.trips.min(5)).min(OPEN_AT_MOST);
                breaker.trips += 1;
                breaker.timeouts = 0;
                let until = now + open_for;
                breaker.open_until = Some(until);
                Some(until)
            }
        }
    }

    /// Breakers that closed long ago and endpoints that answered leave no entry behind.
    pub fn forget_stale(&mut self, now: Instant) {
        self.breakers.retain(|_, b| b.timeouts > 0 || b.open_until.is_some_and(|t| t + OPEN_AT_MOST > now));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_team_and_an_endpoint_hold_only_their_share() {
        let (mut slots, now) = (Slots::default(), Instant::now());
        let team = Uuid::new_v4();
        let endpoints: Vec<Uuid> = (0..10).map(|_| Uuid::new_v4()).collect();
        assert!(slots.take(endpoints[0], team, now));
        assert!(slots.take(endpoints[0], team, now));
        assert!(!slots.take(endpoints[0], team, now), "two at once per endpoint");
        assert!(slots.take(endpoints[1], team, now));
        assert!(slots.take(endpoints[2], team, now));
        assert!(!slots.take(endpoints[3], team, now), "four at once per team");
        let busy = slots.busy(now);
        assert_eq!(busy.teams, vec![team]);
        assert_eq!(busy.endpoints, vec![endpoints[0]]);
        // Another team still finds slots.
        assert!(slots.take(Uuid::new_v4(), Uuid::new_v4(), now));
        assert_eq!(slots.free(), PARALLEL - 5);
        slots.give_back(endpoints[0], team, Ended::Answered, now);
        assert!(slots.busy(now).teams.is_empty());
        assert!(slots.take(endpoints[3], team, now));
    }

    #[test]
    fn timeouts_in_a_row_open_the_breaker_then_one_probe_goes() {
        let (mut slots, now) = (Slots::default(), Instant::now());
        let (team, endpoint) = (Uuid::new_v4(), Uuid::new_v4());
        for _ in 1..TRIP_AFTER {
            assert!(slots.take(endpoint, team, now));
            assert_eq!(slots.give_back(endpoint, team, Ended::TimedOut, now), None);
        }
        assert!(slots.take(endpoint, team, now));
        assert_eq!(slots.give_back(endpoint, team, Ended::TimedOut, now), Some(now + OPEN_FOR));
        assert!(!slots.take(endpoint, team, now), "open");
        assert_eq!(slots.busy(now).endpoints, vec![endpoint]);
        let later = now + OPEN_FOR;
        assert!(slots.take(endpoint, team, later), "the probe");
        assert!(!slots.take(endpoint, team, later), "one probe at a time");
        // The probe timed out too: open again at once, for twice as long.
        assert_eq!(slots.give_back(endpoint, team, Ended::TimedOut, later), Some(later + OPEN_FOR * 2));
        let latest = later + OPEN_FOR * 2;
        assert!(slots.take(endpoint, team, latest));
        assert_eq!(slots.give_back(endpoint, team, Ended::Answered, latest), None);
        assert!(slots.take(endpoint, team, latest) && slots.take(endpoint, team, latest), "closed: two again");
    }

    #[test]
    fn an_answer_between_timeouts_starts_the_count_again() {
        let (mut slots, now) = (Slots::default(), Instant::now());
        let (team, endpoint) = (Uuid::new_v4(), Uuid::new_v4());
        for ended in [Ended::TimedOut, Ended::TimedOut, Ended::Answered, Ended::TimedOut, Ended::TimedOut] {
            assert!(slots.take(endpoint, team, now));
            assert_eq!(slots.give_back(endpoint, team, ended, now), None);
        }
    }
}
