//! Webhooks as Standard Webhooks specifies them: `whsec_` secrets, `v1,` HMAC-SHA256 signatures
//! over `id.timestamp.body`; which addresses the portal never calls; when a failed delivery is
//! tried again.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::time::Duration;

use base64::Engine as _;
use hmac::{Hmac, Mac};
use sha2::Sha256;

const SECRET_PREFIX: &str = "whsec_";

/// A new signing secret: `whsec_` + base64 of 32 random bytes.
pub fn new_secret() -> String {
    let bytes = crate::sealed::random::<32>();
    format!("{SECRET_PREFIX}{}", base64::engine::general_purpose::STANDARD.encode(bytes))
}

/// The HMAC key of a `whsec_` secret.
pub fn secret_key(secret: &str) -> Option<Vec<u8>> {
    base64::engine::general_purpose::STANDARD.decode(secret.strip_prefix(SECRET_PREFIX)?).ok()
}

/// One signature of `webhook-signature`: `v1,` + base64 HMAC-SHA256 of `{id}.{timestamp}.{body}`.
pub fn sign(key: &[u8], id: &str, timestamp: i64, body: &[u8]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(key).expect("HMAC takes a key of any length");
    mac.update(id.as_bytes());
    mac.update(b".");
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    format!("v1,{}", base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes()))
}

/// Whether the portal may call `ip`: not loopback, private, link-local (the cloud metadata
/// service at 169.254.169.254 among them), shared (CGNAT), unique-local, multicast, unspecified
/// or documentation addresses, nor an IPv6 form of one of them.
pub fn is_public(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => is_public_v4(v4),
        IpAddr::V6(v6) => {
            if let Some(v4) = v6.to_ipv4_mapped() {
                return is_public_v4(v4);
            }
            // The deprecated IPv4-compatible form (`::127.0.0.1`) too.
            if v6.segments()[..6] == [0; 6] {
                return is_public_v4(v6.to_ipv4().unwrap_or(Ipv4Addr::UNSPECIFIED));
            }
            let [first, second, ..] = v6.segments();
            !(v6.is_loopback()
                || v6.is_unspecified()
                || v6.is_multicast()
                || (first & 0xfe00) == 0xfc00 // unique local
                || (first & 0xffc0) == 0xfe80 // link-local
                || (first & 0xffc0) == 0xfec0 // site-local (deprecated, still routed inside some sites)
                || (first == 0x2001 && second == 0x0db8) // documentation
                || (first == 0x2001 && second == 0x0000) // Teredo: tunnels to any IPv4
                || first == 0x2002 // 6to4: embeds any IPv4
                || (first == 0x0064 && second == 0xff9b) // NAT64 of any IPv4
                || v6 == Ipv6Addr::new(0, 0, 0, 0, 0, 0, 0, 1))
        }
    }
}

fn is_public_v4(ip: Ipv4Addr) -> bool {
    let [a, b, ..] = ip.octets();
    !(ip.is_private()
        || ip.is_loopback()
        || ip.is_link_local()
        || ip.is_unspecified()
        || ip.is_multicast()
        || ip.is_broadcast()
        || ip.is_documentation()
        || a == 0
        || (a == 100 && (64..128).contains(&b)) // shared address space (CGNAT)
        || (a == 192 && b == 0 && ip.octets()[2] == 0) // IETF protocol assignments
        || (a == 198 && (b == 18 || b == 19)) // benchmarking
        || ip == Ipv4Addr::new(168, 63, 129, 16) // Azure's host services (wireserver, metadata)
        || a >= 240)
}

/// How long after the failed attempt number `attempt` (1 for the first) the next one comes:
/// 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 10 h (Standard Webhooks' schedule), give or take 10%
/// (`jitter` in 0..1 picks where). None: no attempt is left.
pub fn retry_delay(attempt: u32, jitter: f64) -> Option<Duration> {
    const SCHEDULE: [u64; 7] = [5, 300, 1800, 7200, 18_000, 36_000, 36_000];
    let base = *SCHEDULE.get(usize::try_from(attempt).ok()?.checked_sub(1)?)? as f64;
    let factor = 0.9 + 0.2 * jitter.clamp(0.0, 1.0);
    Some(Duration::from_millis((base * factor * 1000.0) as u64))
}

/// The most attempts a delivery gets.
pub const MAX_ATTEMPTS: u32 = 8;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signatures_match_the_standard_webhooks_example() {
        // The example of the Standard Webhooks specification.
        let key = secret_key("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").unwrap();
        let body = br#"{"test": 2432232314}"#;
        assert_eq!(
            sign(&key, "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, body),
            "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
        );
        let secret = new_secret();
        assert!(secret.starts_with("whsec_"));
        assert_eq!(secret_key(&secret).unwrap().len(), 32);
        assert_eq!(secret_key("nope"), None);
    }

    #[test]
    fn private_loopback_link_local_and_metadata_addresses_are_not_public() {
        for ip in [
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "169.254.169.254",
            "100.64.0.1",
            "0.0.0.0",
            "255.255.255.255",
            "224.0.0.1",
            "::1",
            "::",
            "fe80::1",
            "fd00::1",
            "::ffff:127.0.0.1",
            "::ffff:10.0.0.1",
            "64:ff9b::a9fe:a9fe",
            "2001:db8::1",
            "192.0.2.1",
            "198.18.0.1",
            "168.63.129.16",
            "2002:a9fe:a9fe::1",
            "2001:0:4136:e378:8000:63bf:3fff:fdd2",
            "fec0::1",
        ] {
            assert!(!is_public(ip.parse().unwrap()), "{ip}");
        }
        for ip in ["93.184.216.34", "8.8.8.8", "2606:4700:4700::1111", "::ffff:8.8.8.8"] {
            assert!(is_public(ip.parse().unwrap()), "{ip}");
        }
    }

    #[test]
    fn retries_follow_the_schedule_with_jitter_and_stop() {
        assert_eq!(retry_delay(1, 0.5), Some(Duration::from_secs(5)));
        assert_eq!(retry_delay(2, 0.0), Some(Duration::from_secs(270)));
        assert_eq!(retry_delay(7, 1.0), Some(Duration::from_secs(39_600)));
        assert_eq!(retry_delay(8, 0.5), None);
        assert_eq!(retry_delay(0, 0.5), None);
    }
}
