//! The client's address behind trusted proxies (`PORTAL_TRUSTED_PROXIES`).
//!
//! A proxy appends the address it received a request from to `Forwarded` (RFC 7239) or
//! `X-Forwarded-For`. Only a peer we trust may tell us that, and only its own entry and those of
//! other trusted proxies before it are believable: so the chain is read from the right, skipping
//! trusted proxies, and the first address that is not one is the client. Anything a client wrote
//! into the header itself sits left of that and is never read.

use std::net::IpAddr;

use actix_web::http::header::HeaderMap;
use ipnet::IpNet;

/// The address to attribute a request to: the peer itself unless it is a trusted proxy.
pub fn client_address(peer: IpAddr, headers: &HeaderMap, trusted: &[IpNet]) -> IpAddr {
    // A listener on `[::]` sees IPv4 peers as `::ffff:a.b.c.d`: compare them as IPv4.
    let peer = peer.to_canonical();
    let is_trusted = |ip: &IpAddr| trusted.iter().any(|net| net.contains(ip));
    if trusted.is_empty() || !is_trusted(&peer) {
        return peer;
    }
    let chain = forwarded_chain(headers);
    let mut nearest = peer;
    for hop in chain.iter().rev() {
        match hop {
            // An entry a trusted proxy could not name: the nearest address we know stands in.
            None => return nearest,
            Some(ip) if is_trusted(&ip.to_canonical()) => nearest = ip.to_canonical(),
            Some(ip) => return ip.to_canonical(),
        }
    }
    nearest
}

/// The `for` addresses of `Forwarded`, or else of `X-Forwarded-For`, left to right, over all
/// lines of the header; `None` for an entry that is no address (`unknown`, an obfuscated name).
fn forwarded_chain(headers: &HeaderMap) -> Vec<Option<IpAddr>> {
    let forwarded: Vec<&str> = headers.get_all("forwarded").filter_map(|v| v.to_str().ok()).collect();
    if !forwarded.is_empty() {
        return forwarded
            .iter()
            .flat_map(|line| line.split(','))
            .filter_map(|element| {
                element.split(';').find_map(|pair| {
                    let (name, value) = pair.split_once('=')?;
                    name.trim().eq_ignore_ascii_case("for").then(|| parse_node(value.trim().trim_matches('"')))
                })
            })
            .collect();
    }
    headers
        .get_all("x-forwarded-for")
        .filter_map(|v| v.to_str().ok())
        .flat_map(|line| line.split(','))
        .map(|entry| parse_node(entry.trim()))
        .collect()
}

/// `192.0.2.1`, `192.0.2.1:8080`, `[2001:db8::1]`, `[2001:db8::1]:4711` or `2001:db8::1`.
fn parse_node(node: &str) -> Option<IpAddr> {
    if let Some(rest) = node.strip_prefix('[') {
        return rest.split(']').next()?.parse().ok();
    }
    node.parse()
        .ok()
        .or_else(|| node.rsplit_once(':').and_then(|(ip, _port)| ip.parse::<std::net::Ipv4Addr>().ok().map(IpAddr::V4)))
}

/// Parses `PORTAL_TRUSTED_PROXIES`: comma-separated CIDRs or single addresses.
pub fn parse_trusted(raw: &str) -> Result<Vec<IpNet>, String> {
    raw.split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|s| {
            s.parse::<IpNet>()
                .or_else(|_| s.parse::<IpAddr>().map(IpNet::from))
                .map_err(|_| format!("'{s}' is not a CIDR such as 10.0.0.0/8 or an address such as 192.0.2.1"))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use actix_web::http::header::{HeaderName, HeaderValue};

    fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.append(HeaderName::from_bytes(name.as_bytes()).unwrap(), HeaderValue::from_str(value).unwrap());
        }
        map
    }

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn only_trusted_peers_are_believed_and_the_chain_is_read_from_the_right() {
        let trusted = parse_trusted("10.0.0.0/8, 192.0.2.1").unwrap();
        let spoofed = headers(&[("x-forwarded-for", "198.51.100.7, 203.0.113.9")]);
        // An untrusted peer's header is ignored.
        assert_eq!(client_address(ip("203.0.113.50"), &spoofed, &trusted), ip("203.0.113.50"));
        assert_eq!(client_address(ip("10.1.2.3"), &spoofed, &[]), ip("10.1.2.3"));
        // Behind a trusted proxy: the right-most untrusted entry, not what the client wrote.
        assert_eq!(client_address(ip("10.1.2.3"), &spoofed, &trusted), ip("203.0.113.9"));
        let two_proxies = headers(&[("x-forwarded-for", "198.51.100.7, 203.0.113.9, 192.0.2.1")]);
        assert_eq!(client_address(ip("10.1.2.3"), &two_proxies, &trusted), ip("203.0.113.9"));
        // An IPv4 proxy seen by a dual-stack listener.
        assert_eq!(client_address(ip("::ffff:10.1.2.3"), &spoofed, &trusted), ip("203.0.113.9"));
        // Several header lines are one list.
        let lines = headers(&[("x-forwarded-for", "198.51.100.7"), ("x-forwarded-for", "203.0.113.9")]);
        assert_eq!(client_address(ip("10.1.2.3"), &lines, &trusted), ip("203.0.113.9"));
        // A chain of trusted proxies only: the left-most of them.
        let inside = headers(&[("x-forwarded-for", "10.9.9.9")]);
        assert_eq!(client_address(ip("10.1.2.3"), &inside, &trusted), ip("10.9.9.9"));
        // Garbage from a trusted proxy: the nearest address we know.
        let garbage = headers(&[("x-forwarded-for", "203.0.113.9, nonsense")]);
        assert_eq!(client_address(ip("10.1.2.3"), &garbage, &trusted), ip("10.1.2.3"));
    }

    #[test]
    fn forwarded_wins_over_x_forwarded_for_and_reads_every_node_form() {
        let trusted = parse_trusted("10.0.0.0/8").unwrap();
        let both = headers(&[
            ("forwarded", r#"for=198.51.100.7;proto=https, for="[2001:db8::7]:4711""#),
            ("x-forwarded-for", "203.0.113.9"),
        ]);
        assert_eq!(client_address(ip("10.0.0.1"), &both, &trusted), ip("2001:db8::7"));
        let port = headers(&[("forwarded", "for=\"192.0.2.60:8080\";by=10.0.0.1")]);
        assert_eq!(client_address(ip("10.0.0.1"), &port, &trusted), ip("192.0.2.60"));
        let unknown = headers(&[("forwarded", "for=unknown")]);
        assert_eq!(client_address(ip("10.0.0.1"), &unknown, &trusted), ip("10.0.0.1"));
    }

    #[test]
    fn trusted_proxies_are_cidrs_or_addresses() {
        assert_eq!(parse_trusted("").unwrap(), vec![]);
        assert_eq!(parse_trusted(" 10.0.0.0/8 ,::1 ").unwrap().len(), 2);
        assert!(parse_trusted("10.0.0.0/33").unwrap_err().contains("10.0.0.0/33"));
        assert!(parse_trusted("proxy.local").is_err());
    }
}
