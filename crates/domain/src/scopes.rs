//! Key scopes as a set, the creator's cap, and the other per-key restrictions a key carries:
//! where it may be used from and when its owners hear about its usage.

use std::net::IpAddr;

use ipnet::IpNet;
use portal_types::{Environment, RateLimit, Scope};

use crate::FieldError;

/// A set of scopes, closed under "write includes read".
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ScopeSet(u16);

fn bit(scope: Scope) -> u16 {
    1 << Scope::ALL.iter().position(|&s| s == scope).unwrap_or(0)
}

impl ScopeSet {
    pub const EMPTY: ScopeSet = ScopeSet(0);
    /// Every scope: what a key could do before scopes existed.
    pub const FULL: ScopeSet = ScopeSet((1 << Scope::ALL.len()) - 1);

    /// Every read scope.
    pub fn read_only() -> Self {
        Scope::ALL.into_iter().filter(|s| !s.is_write()).collect()
    }

    pub fn contains(self, scope: Scope) -> bool {
        self.0 & bit(scope) != 0
    }

    pub fn is_subset_of(self, other: ScopeSet) -> bool {
        self.0 & !other.0 == 0
    }

    pub fn intersect(self, other: ScopeSet) -> ScopeSet {
        ScopeSet(self.0 & other.0)
    }

    pub fn is_empty(self) -> bool {
        self.0 == 0
    }

    pub fn to_vec(self) -> Vec<Scope> {
        Scope::ALL.into_iter().filter(|&s| self.contains(s)).collect()
    }

    /// As stored: scope names separated by spaces.
    pub fn to_stored(self) -> String {
        self.to_vec().iter().map(|s| s.as_str()).collect::<Vec<_>>().join(" ")
    }

    /// A stored set; unknown names are ignored (a newer version may have written them).
    pub fn from_stored(stored: &str) -> Self {
        stored.split_whitespace().filter_map(Scope::parse).collect()
    }
}

impl FromIterator<Scope> for ScopeSet {
    fn from_iter<I: IntoIterator<Item = Scope>>(iter: I) -> Self {
        let mut bits = 0;
        for scope in iter {
            bits |= bit(scope);
            if let Some(read) = scope.implies() {
                bits |= bit(read);
            }
        }
        ScopeSet(bits)
    }
}

/// The scopes of a request: absent means full access; an empty list is refused.
pub fn parse_scopes(field: &'static str, scopes: Option<&[Scope]>) -> Result<ScopeSet, FieldError> {
    match scopes {
        None => Ok(ScopeSet::FULL),
        Some([]) => Err(FieldError::new(field, "name at least one scope, or leave it out for full access")),
        Some(list) => Ok(list.iter().copied().collect()),
    }
}

/// A key's settings that bound what it may do to keys: a key makes, changes, rolls, revokes and
/// reports only keys whose settings lie within its own ([`KeyShape::within`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyShape {
    /// For the bounding key: the scopes it may use now (capped by its creator's role).
    pub scopes: ScopeSet,
    pub environment: Environment,
    pub usage_limit: Option<u64>,
    pub rate_limit: Option<RateLimit>,
    pub allowed: AllowList,
}

/// How a key's settings go beyond another's.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Beyond {
    /// A scope the bound lacks.
    Scope(Scope),
    /// Another environment.
    Environment,
    /// No monthly limit, or a higher one.
    UsageLimit,
    /// No rate limit, or a higher one.
    RateLimit,
    /// Addresses the bound's allowlist does not allow.
    AllowedIps,
}

impl Beyond {
    /// The request field that names the setting.
    pub fn field(self) -> &'static str {
        match self {
            Beyond::Scope(_) => "scopes",
            Beyond::Environment => "environment",
            Beyond::UsageLimit => "usage_limit",
            Beyond::RateLimit => "rate_limit",
            Beyond::AllowedIps => "allowed_ips",
        }
    }
}

impl KeyShape {
    /// Whether a key of this shape may make keys: not with a monthly limit. A month's quota
    /// belongs to a key's lineage (a roll's replacement takes it over); a child made by a
    /// limited key would have a month of its own, and a limit of 3 would serve 6.
    pub fn may_make_keys(&self) -> bool {
        self.usage_limit.is_none()
    }

    /// Whether every setting lies within `bound`'s: no scope it lacks, the same environment, a
    /// limit where it has one and no higher, and no address its allowlist refuses.
    pub fn within(&self, bound: &KeyShape) -> Result<(), Beyond> {
        if let Some(missing) = self.scopes.to_vec().into_iter().find(|&s| !bound.scopes.contains(s)) {
            return Err(Beyond::Scope(missing));
        }
        if self.environment != bound.environment {
            return Err(Beyond::Environment);
        }
        if let Some(own) = bound.usage_limit
            && self.usage_limit.is_none_or(|n| n > own)
        {
            return Err(Beyond::UsageLimit);
        }
        if let Some(own) = bound.rate_limit
            && self.rate_limit.is_none_or(|n| n.requests_per_second > own.requests_per_second || n.burst > own.burst)
        {
            return Err(Beyond::RateLimit);
        }
        if !self.allowed.is_within(&bound.allowed) {
            return Err(Beyond::AllowedIps);
        }
        Ok(())
    }
}

pub use portal_types::rules::ALLOWED_IPS_MAX as MAX_ALLOWED_IPS;

/// An address or a block, host bits cleared; exactly the forms of
/// [`portal_types::rules::allowed_ip_pattern`] (no leading zeros or signs in a prefix length, no
/// IPv4 inside IPv6).
fn net_of(entry: &str) -> Option<IpNet> {
    let (addr, prefix) = match entry.split_once('/') {
        Some((addr, prefix)) => (addr, Some(prefix)),
        None => (entry, None),
    };
    let ip = match addr.parse::<IpAddr>().ok()? {
        IpAddr::V6(_) if addr.contains('.') => return None,
        ip => ip,
    };
    let Some(prefix) = prefix else { return Some(IpNet::from(ip)) };
    let canonical = prefix.bytes().all(|b| b.is_ascii_digit()) && (prefix == "0" || !prefix.starts_with('0'));
    let len: u8 = prefix.parse().ok().filter(|_| canonical)?;
    IpNet::new(ip, len).ok().map(|n| n.trunc())
}

/// A single client address in the forms [`portal_types::rules::ip_address_pattern`] states.
pub fn parse_client_ip(field: &'static str, raw: &str) -> Result<IpAddr, FieldError> {
    match net_of(raw) {
        Some(net) if !raw.contains('/') => Ok(net.addr()),
        _ => Err(FieldError::new(field, "must be an IPv4 or IPv6 address")),
    }
}

/// An allowlist of addresses and CIDR blocks. Empty: anywhere.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AllowList(Vec<IpNet>);

impl AllowList {
    /// Each entry is an address (`203.0.113.7`, `2001:db8::1`) or a block (`203.0.113.0/24`).
    /// Host bits of a block are cleared (`10.1.2.3/8` is `10.0.0.0/8`); duplicates go.
    pub fn parse(field: &'static str, entries: &[String]) -> Result<Self, FieldError> {
        if entries.len() > MAX_ALLOWED_IPS {
            return Err(FieldError::new(field, format!("at most {MAX_ALLOWED_IPS} entries")));
        }
        let mut nets = Vec::with_capacity(entries.len());
        for entry in entries {
            let net = net_of(entry).ok_or_else(|| {
                FieldError::new(field, format!("{entry:?} is not an IPv4 or IPv6 address or CIDR block"))
            })?;
            if !nets.contains(&net) {
                nets.push(net);
            }
        }
        Ok(Self(nets))
    }

    /// As stored: entries separated by spaces (None when empty).
    pub fn to_stored(&self) -> Option<String> {
        (!self.0.is_empty()).then(|| self.to_strings().join(" "))
    }

    pub fn from_stored(stored: Option<&str>) -> Self {
        Self(stored.unwrap_or_default().split_whitespace().filter_map(net_of).collect())
    }

    pub fn to_strings(&self) -> Vec<String> {
        self.0
            .iter()
            .map(|n| if n.prefix_len() == n.max_prefix_len() { n.addr().to_string() } else { n.to_string() })
            .collect()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Whether a request from `ip` may use the key. IPv4-mapped IPv6 addresses count as IPv4.
    pub fn allows(&self, ip: IpAddr) -> bool {
        let ip = match ip {
            IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
            v4 => v4,
        };
        self.0.is_empty() || self.0.iter().any(|n| n.contains(&ip))
    }

    /// Whether every address this list allows is allowed by `other` too.
    pub fn is_within(&self, other: &AllowList) -> bool {
        if other.is_empty() {
            return true;
        }
        !self.is_empty() && self.0.iter().all(|n| other.0.iter().any(|o| o.contains(n)))
    }
}

/// Usage alert thresholds in percent of the monthly limit: 1 to 100, sorted, no duplicates, at
/// most 5.
pub fn parse_thresholds(field: &'static str, raw: &[u8]) -> Result<Vec<u8>, FieldError> {
    if raw.len() > portal_types::rules::ALERT_THRESHOLDS_MAX {
        return Err(FieldError::new(field, "at most 5 thresholds"));
    }
    if let Some(bad) = raw.iter().find(|&&p| p == 0 || p > 100) {
        return Err(FieldError::new(field, format!("{bad} is not a percentage from 1 to 100")));
    }
    let mut list = raw.to_vec();
    list.sort_unstable();
    list.dedup();
    Ok(list)
}

/// The thresholds a new key with a monthly limit gets.
pub const DEFAULT_THRESHOLDS: [u8; 2] = [80, 100];

/// The alert thresholds a key keeps. They are percentages of its monthly limit, so a key without
/// a limit has none, and asking for some without a limit is refused. `limit` is the key's limit
/// after the change; `requested` the thresholds asked for (None: not mentioned); `before` the
/// key's limit and thresholds before the change (None: a new key). A key that gets a limit for
/// the first time without saying its thresholds gets the defaults, as a new key does; one that
/// had a limit keeps its own.
pub fn alert_thresholds(
    field: &'static str,
    limit: Option<u64>,
    requested: Option<&[u8]>,
    before: Option<(Option<u64>, &[u8])>,
) -> Result<Vec<u8>, FieldError> {
    let requested = requested.map(|raw| parse_thresholds(field, raw)).transpose()?;
    match (limit, requested) {
        (None, Some(list)) if !list.is_empty() => {
            Err(FieldError::new(field, "need a monthly limit: they are percentages of it"))
        }
        (None, _) => Ok(Vec::new()),
        (Some(_), Some(list)) => Ok(list),
        (Some(_), None) => Ok(match before {
            Some((Some(_), kept)) => kept.to_vec(),
            _ => DEFAULT_THRESHOLDS.to_vec(),
        }),
    }
}

pub fn thresholds_to_stored(list: &[u8]) -> String {
    list.iter().map(u8::to_string).collect::<Vec<_>>().join(" ")
}

pub fn thresholds_from_stored(stored: &str) -> Vec<u8> {
    stored.split_whitespace().filter_map(|s| s.parse().ok()).collect()
}

/// The thresholds (in percent) that `used` of `limit` has reached.
pub fn thresholds_reached(thresholds: &[u8], used: u64, limit: u64) -> Vec<u8> {
    thresholds.iter().copied().filter(|&p| u128::from(used) * 100 >= u128::from(limit) * u128::from(p)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn write_includes_read_and_sets_round_trip() {
        let set: ScopeSet = [Scope::ApiKeysWrite].into_iter().collect();
        assert_eq!(set.to_vec(), vec![Scope::ApiKeysRead, Scope::ApiKeysWrite]);
        assert_eq!(ScopeSet::from_stored(&set.to_stored()), set);
        assert_eq!(ScopeSet::from_stored(&ScopeSet::FULL.to_stored()), ScopeSet::FULL);
        assert_eq!(ScopeSet::FULL.to_vec().len(), 11);
        assert!(ScopeSet::read_only().to_vec().iter().all(|s| !s.is_write()));
        assert_eq!(ScopeSet::read_only().to_vec().len(), 7);
        assert!(set.is_subset_of(ScopeSet::FULL) && !ScopeSet::FULL.is_subset_of(set));
        assert_eq!(parse_scopes("scopes", None).unwrap(), ScopeSet::FULL);
        assert_eq!(parse_scopes("scopes", Some(&[])).unwrap_err().field, "scopes");
    }

    #[test]
    fn a_key_shape_lies_within_another_setting_by_setting() {
        let bound = KeyShape {
            scopes: [Scope::ApiKeysWrite].into_iter().collect(),
            environment: Environment::Development,
            usage_limit: Some(100),
            rate_limit: Some(RateLimit { requests_per_second: 10, burst: 20 }),
            allowed: AllowList::parse("allowed_ips", &["10.0.0.0/8".into()]).unwrap(),
        };
        assert_eq!(bound.within(&bound), Ok(()));
        let narrower = KeyShape {
            scopes: [Scope::ApiKeysRead].into_iter().collect(),
            usage_limit: Some(5),
            rate_limit: Some(RateLimit { requests_per_second: 1, burst: 1 }),
            allowed: AllowList::parse("allowed_ips", &["10.1.0.0/16".into()]).unwrap(),
            ..bound.clone()
        };
        assert_eq!(narrower.within(&bound), Ok(()));
        let beyond = |change: fn(&mut KeyShape)| {
            let mut shape = narrower.clone();
            change(&mut shape);
            shape.within(&bound).unwrap_err()
        };
        assert_eq!(beyond(|s| s.scopes = ScopeSet::FULL), Beyond::Scope(Scope::TeamRead));
        assert_eq!(beyond(|s| s.environment = Environment::Production), Beyond::Environment);
        assert_eq!(beyond(|s| s.usage_limit = None), Beyond::UsageLimit);
        assert_eq!(beyond(|s| s.usage_limit = Some(101)), Beyond::UsageLimit);
        assert_eq!(beyond(|s| s.rate_limit = None), Beyond::RateLimit);
        assert_eq!(beyond(|s| s.allowed = AllowList::default()), Beyond::AllowedIps);
        assert_eq!(Beyond::AllowedIps.field(), "allowed_ips");
    }

    #[test]
    fn allowlists() {
        let list =
            AllowList::parse("allowed_ips", &["10.1.2.3/8".into(), "2001:db8::1".into(), "10.0.0.0/8".into()]).unwrap();
        assert_eq!(list.to_strings(), vec!["10.0.0.0/8", "2001:db8::1"]);
        assert!(list.allows("10.200.0.1".parse().unwrap()));
        assert!(list.allows("::ffff:10.0.0.9".parse().unwrap()));
        assert!(!list.allows("11.0.0.1".parse().unwrap()));
        assert!(!list.allows("2001:db8::2".parse().unwrap()));
        assert_eq!(AllowList::from_stored(list.to_stored().as_deref()), list);
        assert!(AllowList::default().allows("1.2.3.4".parse().unwrap()));
        for bad in ["", "10.0.0.0/33", "example.com", "1.2.3", " 1.2.3.4"] {
            assert!(AllowList::parse("allowed_ips", &[bad.into()]).is_err(), "{bad:?}");
        }
        let narrow = AllowList::parse("allowed_ips", &["10.9.0.0/16".into()]).unwrap();
        assert!(narrow.is_within(&list) && !list.is_within(&narrow));
        assert!(!AllowList::default().is_within(&list) && list.is_within(&AllowList::default()));
    }

    /// The published pattern and the parser accept exactly the same entries.
    #[test]
    fn the_allowlist_pattern_is_the_parser() {
        let pattern = regex::Regex::new(&portal_types::rules::allowed_ip_pattern()).unwrap();
        let mut samples: Vec<String> = [
            "0.0.0.0",
            "255.255.255.255",
            "256.1.1.1",
            "01.2.3.4",
            "1.2.3",
            "1.2.3.4.5",
            "1.2.3.4/0",
            "1.2.3.4/32",
            "1.2.3.4/33",
            "1.2.3.4/08",
            "1.2.3.4/+8",
            "1.2.3.4/",
            "::",
            "::1",
            "1::",
            "1:2:3:4:5:6:7:8",
            "1:2:3:4:5:6:7::",
            "::2:3:4:5:6:7:8",
            "1:2:3:4:5:6:7:8:9",
            "1::2::3",
            "::ffff:1.2.3.4",
            "abcd::EF01",
            "12345::",
            "g::",
            "::/128",
            "::/129",
            "::/0",
            "2001:db8::/32",
            "2001:db8::/032",
            " 1.2.3.4",
            "1.2.3.4 ",
            "1.2.3.4\n",
            ":",
            ":::",
            "1:",
            ":1",
            "fe80::1%eth0",
            "",
        ]
        .iter()
        .map(|s| s.replace("\\n", "\n"))
        .collect();
        // Every short string over the characters that matter.
        let alphabet = ['1', '0', ':', '.', '/', 'f'];
        let mut frontier = vec![String::new()];
        for _ in 0..5 {
            frontier = frontier.iter().flat_map(|s| alphabet.iter().map(move |c| format!("{s}{c}"))).collect();
            samples.extend(frontier.iter().cloned());
        }
        let address = regex::Regex::new(&portal_types::rules::ip_address_pattern()).unwrap();
        for s in &samples {
            assert_eq!(pattern.is_match(s), net_of(s).is_some(), "{s:?}");
            assert_eq!(address.is_match(s), parse_client_ip("client_ip", s).is_ok(), "{s:?}");
        }
    }

    #[test]
    fn thresholds() {
        assert_eq!(parse_thresholds("t", &[100, 80, 80]).unwrap(), vec![80, 100]);
        assert!(parse_thresholds("t", &[0]).is_err() && parse_thresholds("t", &[101]).is_err());
        assert_eq!(thresholds_reached(&[50, 80, 100], 80, 100), vec![50, 80]);
        assert_eq!(thresholds_reached(&[80], 7, 10), Vec::<u8>::new());
        assert_eq!(thresholds_from_stored(&thresholds_to_stored(&[80, 100])), vec![80, 100]);
    }

    #[test]
    fn alert_thresholds_exist_only_with_a_monthly_limit() {
        let t = |limit, requested, before| alert_thresholds("alert_thresholds", limit, requested, before);
        // A new key: defaults with a limit, none without; asking for some without one is refused.
        assert_eq!(t(Some(10), None, None).unwrap(), DEFAULT_THRESHOLDS.to_vec());
        assert_eq!(t(None, None, None).unwrap(), Vec::<u8>::new());
        assert_eq!(t(None, Some(&[]), None).unwrap(), Vec::<u8>::new());
        let refused = t(None, Some(&[50]), None).unwrap_err();
        assert_eq!(refused.field, "alert_thresholds");
        assert!(refused.message.contains("monthly limit"), "{}", refused.message);
        // A change: removing the limit drops them; a first limit brings the defaults; a key that
        // had a limit keeps its own, even none.
        assert_eq!(t(None, None, Some((Some(10), &[50]))).unwrap(), Vec::<u8>::new());
        assert!(t(None, Some(&[50]), Some((Some(10), &[50]))).is_err());
        assert_eq!(t(Some(10), None, Some((None, &[]))).unwrap(), DEFAULT_THRESHOLDS.to_vec());
        assert_eq!(t(Some(20), None, Some((Some(10), &[]))).unwrap(), Vec::<u8>::new());
        assert_eq!(t(Some(20), None, Some((Some(10), &[50]))).unwrap(), vec![50]);
        assert_eq!(t(Some(20), Some(&[90, 10]), Some((Some(10), &[50]))).unwrap(), vec![10, 90]);
    }
}
