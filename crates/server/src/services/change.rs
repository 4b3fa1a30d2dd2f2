//! The one message every cache of the request path understands: what a change made stale.

use uuid::Uuid;

/// Something cached that a change made stale.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Change {
    /// A key's status, limits or name.
    Key(Uuid),
    /// A team's row, its members (and so its cached memberships), or its deletion (with its keys).
    Team(Uuid),
    /// What a team's lists and usage pages show, and nothing that authorizes: an invitation,
    /// an activity entry, a member's last activity, a key's name or status, counted usage.
    Reads(Uuid),
    /// A session ended (its access tokens are refused), or its account's two-factor
    /// authentication was turned on or off.
    Session(Uuid),
}

impl Change {
    /// The teams whose pages an audit entry (and the activity it marks) changed.
    pub fn reads(touched: &portal_db::audit::Touched) -> impl Iterator<Item = Change> + '_ {
        touched.teams().iter().copied().map(Change::Reads)
    }
}
