//! Leaked-key reports in GitHub's secret scanning partner format: a JSON array of
//! `{token, type, url, source}`, signed with ECDSA P-256 over the raw body (SHA-256, DER,
//! base64) under a key GitHub names in `Github-Public-Key-Identifier`. The public keys come from
//! configuration (`PORTAL_SECRET_SCANNING_PUBLIC_KEYS`): the portal never fetches them.

use base64::Engine;
use p256::ecdsa::signature::Verifier;
use p256::ecdsa::{Signature, VerifyingKey};
use p256::pkcs8::DecodePublicKey;
use sha2::{Digest, Sha256};

/// A public key reports may be signed with; `id` None matches any identifier.
#[derive(Debug, Clone)]
pub struct ScanningKey {
    pub id: Option<String>,
    pub key: VerifyingKey,
}

/// The configured keys: GitHub's key document (`{"public_keys": [{"key_identifier", "key"}]}`),
/// one or more PEM public keys, or a file holding either.
pub fn parse_keys(raw: &str) -> Result<Vec<ScanningKey>, String> {
    let raw = raw.trim();
    if raw.is_empty() {
        return Ok(Vec::new());
    }
    if raw.starts_with('{') {
        #[derive(serde::Deserialize)]
        struct Document {
            public_keys: Vec<Entry>,
        }
        #[derive(serde::Deserialize)]
        struct Entry {
            key_identifier: String,
            key: String,
        }
        let doc: Document = serde_json::from_str(raw).map_err(|e| format!("not a key document: {e}"))?;
        return doc
            .public_keys
            .into_iter()
            .map(|e| Ok(ScanningKey { key: pem_key(&e.key)?, id: Some(e.key_identifier) }))
            .collect();
    }
    if raw.starts_with("-----BEGIN") {
        let mut keys = Vec::new();
        for block in raw.split_inclusive("-----END PUBLIC KEY-----") {
            if block.trim().is_empty() {
                continue;
            }
            keys.push(ScanningKey { id: None, key: pem_key(block.trim())? });
        }
        return Ok(keys);
    }
    let text = std::fs::read_to_string(raw).map_err(|e| format!("cannot read '{raw}': {e}"))?;
    if text.trim_start().starts_with('{') || text.trim_start().starts_with("-----BEGIN") {
        parse_keys(&text)
    } else {
        Err(format!("'{raw}' holds neither PEM public keys nor a key document"))
    }
}

fn pem_key(pem: &str) -> Result<VerifyingKey, String> {
    VerifyingKey::from_public_key_pem(pem).map_err(|e| format!("not a P-256 public key in PEM: {e}"))
}

/// Whether `signature` (base64 of DER) over `body` verifies under a configured key named
/// `identifier`.
pub fn verify(keys: &[ScanningKey], identifier: &str, signature: &str, body: &[u8]) -> bool {
    let Ok(der) = base64::engine::general_purpose::STANDARD.decode(signature.trim()) else { return false };
    let Ok(signature) = Signature::from_der(&der) else { return false };
    keys.iter()
        .filter(|k| k.id.as_deref().is_none_or(|id| id == identifier))
        .any(|k| k.key.verify(body, &signature).is_ok())
}

/// SHA-256 of a reported token, in hex: how the feedback names it.
pub fn token_hash(token: &str) -> String {
    Sha256::digest(token.as_bytes()).iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use p256::ecdsa::SigningKey;
    use p256::ecdsa::signature::Signer;
    use p256::pkcs8::{EncodePublicKey, LineEnding};

    fn pair(seed: u8) -> (SigningKey, String) {
        let signing = SigningKey::from_bytes(&[seed; 32].into()).unwrap();
        let pem = signing.verifying_key().to_public_key_pem(LineEnding::LF).unwrap();
        (signing, pem)
    }

    fn sign(key: &SigningKey, body: &[u8]) -> String {
        let signature: Signature = key.sign(body);
        base64::engine::general_purpose::STANDARD.encode(signature.to_der().as_bytes())
    }

    #[test]
    fn signatures_verify_only_under_the_named_key_and_the_exact_body() {
        let (github, github_pem) = pair(7);
        let (other, other_pem) = pair(9);
        let doc = serde_json::json!({"public_keys": [
            {"key_identifier": "gh-1", "key": github_pem, "is_current": true},
            {"key_identifier": "gh-0", "key": other_pem, "is_current": false},
        ]})
        .to_string();
        let keys = parse_keys(&doc).unwrap();
        let body = br#"[{"token":"x","type":"pp","url":"https://example.com","source":"content"}]"#;
        assert!(verify(&keys, "gh-1", &sign(&github, body), body));
        assert!(!verify(&keys, "gh-0", &sign(&github, body), body), "another identifier");
        assert!(!verify(&keys, "gh-1", &sign(&other, body), body), "another key");
        assert!(!verify(&keys, "gh-1", &sign(&github, body), b"[]"), "another body");
        assert!(!verify(&keys, "gh-1", "not base64!", body));
        // PEM keys match any identifier.
        let keys = parse_keys(&format!("{github_pem}\n{other_pem}")).unwrap();
        assert_eq!(keys.len(), 2);
        assert!(verify(&keys, "anything", &sign(&other, body), body));
        assert!(parse_keys("-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----").is_err());
        assert!(parse_keys("/nonexistent/keys.pem").is_err());
        assert!(parse_keys("").unwrap().is_empty());
    }

    #[test]
    fn token_hashes_are_sha256_hex() {
        assert_eq!(token_hash("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    }
}
