//! The client's address behind trusted proxies (`PORTAL_TRUSTED_PROXIES`), from the one header
//! the proxy writes (`PORTAL_CLIENT_IP_HEADER`).
//!
//! A proxy appends the address it received a request from to its header (`X-Forwarded-For`,
//! RFC 7239 `Forwarded`), or sets a header of one address (Cloudflare's `CF-Connecting-IP`,
//! nginx's `X-Real-IP`). Only a peer we trust may tell us that, and only in the header it writes:
//! a client may send any other header, and a `Forwarded` of its own beside the proxy's
//! `X-Forwarded-For` once passed an allowlist (issue 24). So exactly one header is read, and a
//! chain is read from the right, skipping trusted proxies: the first address that is not one is
//! the client. Anything a client wrote into the header itself sits left of that and is never read.

use std::net::IpAddr;

use actix_web::http::header::{HeaderMap, HeaderName};
use ipnet::IpNet;

/// The header the trusted proxies write.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClientIpHeader {
    /// `X-Forwarded-For`: a list, each proxy appending the address it received from.
    XForwardedFor,
    /// RFC 7239 `Forwarded`: a list of elements, whose `for=` name the addresses.
    Forwarded,
    /// A header of one address that the proxy sets (`CF-Connecting-IP`, `X-Real-IP`, ...).
    Single(HeaderName),
}

impl ClientIpHeader {
    /// `x-forwarded-for`, `forwarded`, or the name of a header of one address.
    pub fn parse(raw: &str) -> Result<Self, String> {
        let name = raw.trim().to_ascii_lowercase();
        match name.as_str() {
            "x-forwarded-for" => Ok(Self::XForwardedFor),
            "forwarded" => Ok(Self::Forwarded),
            _ => HeaderName::from_bytes(name.as_bytes())
                .map(Self::Single)
                .map_err(|_| format!("'{raw}' is not a header name such as x-forwarded-for or cf-connecting-ip")),
        }
    }
}

/// Where the client's address comes from: the peer, or behind a trusted proxy its header.
#[derive(Debug, Clone)]
pub struct ClientIpSource {
    pub trusted: Vec<IpNet>,
    pub header: ClientIpHeader,
}

impl Default for ClientIpSource {
    fn default() -> Self {
        Self { trusted: Vec::new(), header: ClientIpHeader::XForwardedFor }
    }
}

impl ClientIpSource {
    /// The address to attribute a request to: the peer itself unless it is a trusted proxy.
    pub fn address(&self, peer: IpAddr, headers: &HeaderMap) -> IpAddr {
        // A listener on `[::]` sees IPv4 peers as `::ffff:a.b.c.d`: compare them as IPv4.
        let peer = peer.to_canonical();
        let is_trusted = |ip: &IpAddr| self.trusted.iter().any(|net| net.contains(ip));
        if self.trusted.is_empty() || !is_trusted(&peer) {
            return peer;
        }
        let mut nearest = peer;
        for hop in self.chain(headers).iter().rev() {
            match hop {
                // An entry a trusted proxy could not name: the nearest address we know stands in.
                None => return nearest,
                Some(ip) if is_trusted(&ip.to_canonical()) => nearest = ip.to_canonical(),
                Some(ip) => return ip.to_canonical(),
            }
        }
        nearest
    }

    /// The addresses of the configured header, left to right, over all its lines; `None` for an
    /// entry that is no address (`unknown`, an obfuscated name). Every other header is ignored.
    fn chain(&self, headers: &HeaderMap) -> Vec<Option<IpAddr>> {
        let lines = |name: &str| headers.get_all(name).filter_map(|v| v.to_str().ok()).collect::<Vec<_>>();
        match &self.header {
            ClientIpHeader::Forwarded => lines("forwarded")
                .iter()
                .flat_map(|line| line.split(','))
                .filter_map(|element| {
                    element.split(';').find_map(|pair| {
                        let (name, value) = pair.split_once('=')?;
                        name.trim().eq_ignore_ascii_case("for").then(|| parse_node(value.trim().trim_matches('"')))
                    })
                })
                .collect(),
            ClientIpHeader::XForwardedFor => {
                lines("x-forwarded-for").iter().flat_map(|line| line.split(',')).map(|e| parse_node(e.trim())).collect()
            }
            // One address; should a client have sent the header too, the proxy's is the last.
            ClientIpHeader::Single(name) => {
                lines(name.as_str()).last().map(|v| vec![parse_node(v.trim())]).unwrap_or_default()
            }
        }
    }
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

    fn source(trusted: &str, header: &str) -> ClientIpSource {
        ClientIpSource { trusted: parse_trusted(trusted).unwrap(), header: ClientIpHeader::parse(header).unwrap() }
    }

    #[test]
    fn only_trusted_peers_are_believed_and_the_chain_is_read_from_the_right() {
        let xff = source("10.0.0.0/8, 192.0.2.1", "x-forwarded-for");
        let spoofed = headers(&[("x-forwarded-for", "198.51.100.7, 203.0.113.9")]);
        // An untrusted peer's header is ignored.
        assert_eq!(xff.address(ip("203.0.113.50"), &spoofed), ip("203.0.113.50"));
        assert_eq!(ClientIpSource::default().address(ip("10.1.2.3"), &spoofed), ip("10.1.2.3"));
        // Behind a trusted proxy: the right-most untrusted entry, not what the client wrote.
        assert_eq!(xff.address(ip("10.1.2.3"), &spoofed), ip("203.0.113.9"));
        let two_proxies = headers(&[("x-forwarded-for", "198.51.100.7, 203.0.113.9, 192.0.2.1")]);
        assert_eq!(xff.address(ip("10.1.2.3"), &two_proxies), ip("203.0.113.9"));
        // An IPv4 proxy seen by a dual-stack listener.
        assert_eq!(xff.address(ip("::ffff:10.1.2.3"), &spoofed), ip("203.0.113.9"));
        // Several header lines are one list.
        let lines = headers(&[("x-forwarded-for", "198.51.100.7"), ("x-forwarded-for", "203.0.113.9")]);
        assert_eq!(xff.address(ip("10.1.2.3"), &lines), ip("203.0.113.9"));
        // A chain of trusted proxies only: the left-most of them.
        let inside = headers(&[("x-forwarded-for", "10.9.9.9")]);
        assert_eq!(xff.address(ip("10.1.2.3"), &inside), ip("10.9.9.9"));
        // Garbage from a trusted proxy: the nearest address we know.
        let garbage = headers(&[("x-forwarded-for", "203.0.113.9, nonsense")]);
        assert_eq!(xff.address(ip("10.1.2.3"), &garbage), ip("10.1.2.3"));
    }

    /// Issue 24, escape 1: a client's own `Forwarded` beside the proxy's `X-Forwarded-For` was
    /// preferred. Only the configured header is read.
    #[test]
    fn only_the_configured_header_is_read() {
        let both = headers(&[
            ("forwarded", r#"for=198.51.100.7;proto=https, for="[2001:db8::7]:4711""#),
            ("x-forwarded-for", "203.0.113.9"),
            ("cf-connecting-ip", "192.0.2.44"),
        ]);
        assert_eq!(source("10.0.0.0/8", "x-forwarded-for").address(ip("10.0.0.1"), &both), ip("203.0.113.9"));
        assert_eq!(source("10.0.0.0/8", "Forwarded").address(ip("10.0.0.1"), &both), ip("2001:db8::7"));
        assert_eq!(source("10.0.0.0/8", "cf-connecting-ip").address(ip("10.0.0.1"), &both), ip("192.0.2.44"));
        // The proxy's header is missing: the proxy itself is the nearest address known.
        assert_eq!(source("10.0.0.0/8", "x-real-ip").address(ip("10.0.0.1"), &both), ip("10.0.0.1"));
        let forwarded = source("10.0.0.0/8", "forwarded");
        let port = headers(&[("forwarded", "for=\"192.0.2.60:8080\";by=10.0.0.1")]);
        assert_eq!(forwarded.address(ip("10.0.0.1"), &port), ip("192.0.2.60"));
        let unknown = headers(&[("forwarded", "for=unknown")]);
        assert_eq!(forwarded.address(ip("10.0.0.1"), &unknown), ip("10.0.0.1"));
        assert!(ClientIpHeader::parse("not a header").is_err());
    }

    #[test]
    fn trusted_proxies_are_cidrs_or_addresses() {
        assert_eq!(parse_trusted("").unwrap(), vec![]);
        assert_eq!(parse_trusted(" 10.0.0.0/8 ,::1 ").unwrap().len(), 2);
        assert!(parse_trusted("10.0.0.0/33").unwrap_err().contains("10.0.0.0/33"));
        assert!(parse_trusted("proxy.local").is_err());
    }
}
