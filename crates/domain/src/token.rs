//! Opaque bearer tokens (e-mail links, refresh tokens): 256 random bits, stored only as a hash.

use base64::Engine as _;

/// 32 random bytes, URL-safe base64 without padding (43 characters).
pub fn generate() -> String {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).expect("the operating system's random source failed");
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

/// The stored form of a token: hex BLAKE3 of the token text. The token has 256 bits of entropy,
/// so an unkeyed fast hash is enough: the stored value cannot be turned back into a usable token.
pub fn hash(token: &str) -> String {
    blake3::hash(token.as_bytes()).to_hex().to_string()
}

/// Cheap shape check before any database work: URL-safe base64 of 32 bytes.
pub fn looks_valid(token: &str) -> bool {
    token.len() == 43 && token.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_unique_and_well_formed() {
        let a = generate();
        let b = generate();
        assert_ne!(a, b);
        assert!(looks_valid(&a), "{a}");
        assert!(!looks_valid("short"));
        assert!(!looks_valid(&format!("{}!", &a[..42])));
    }

    #[test]
    fn hash_is_stable_and_not_the_token() {
        let t = generate();
        assert_eq!(hash(&t), hash(&t));
        assert_ne!(hash(&t), t);
        assert_eq!(hash(&t).len(), 64);
    }
}
