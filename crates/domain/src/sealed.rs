//! Secrets the server must read back (TOTP secrets, webhook signing secrets), encrypted at rest
//! with XChaCha20-Poly1305 under a key derived from the server secret, one key per use.

use base64::Engine as _;
use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};

const SEALED_PREFIX: &str = "v1.";

/// `N` random bytes from the operating system.
pub fn random<const N: usize>() -> [u8; N] {
    let mut bytes = [0u8; N];
    getrandom::fill(&mut bytes).expect("the operating system's random source failed");
    bytes
}

/// Encrypts and decrypts one kind of secret.
#[derive(Clone)]
pub struct SecretBox {
    key: [u8; 32],
}

impl std::fmt::Debug for SecretBox {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SecretBox(***)")
    }
}

impl SecretBox {
    /// The box of one use (`context`, a fixed string naming it), keyed from the server secret.
    pub fn derive(context: &str, server_secret: &[u8]) -> Self {
        Self { key: blake3::derive_key(context, server_secret) }
    }

    /// Encrypts `secret` for `owner` (random nonce; the owner's id is authenticated with it, so a
    /// sealed secret copied to another row does not open).
    pub fn seal(&self, owner: &[u8], secret: &[u8]) -> String {
        let nonce_bytes = random::<24>();
        let cipher = XChaCha20Poly1305::new((&self.key).into());
        let sealed = cipher
            .encrypt(&XNonce::from(nonce_bytes), Payload { msg: secret, aad: owner })
            .expect("XChaCha20-Poly1305 encrypts any message of this size");
        let mut out = nonce_bytes.to_vec();
        out.extend_from_slice(&sealed);
        format!("{SEALED_PREFIX}{}", base64::engine::general_purpose::STANDARD_NO_PAD.encode(out))
    }

    /// Decrypts what [`SecretBox::seal`] made for `owner`; None when it was not sealed with this
    /// key for this owner, or was altered.
    pub fn open(&self, owner: &[u8], sealed: &str) -> Option<Vec<u8>> {
        let bytes =
            base64::engine::general_purpose::STANDARD_NO_PAD.decode(sealed.strip_prefix(SEALED_PREFIX)?).ok()?;
        if bytes.len() < 24 {
            return None;
        }
        let (nonce, body) = bytes.split_at(24);
        let nonce: [u8; 24] = nonce.try_into().ok()?;
        let cipher = XChaCha20Poly1305::new((&self.key).into());
        cipher.decrypt(&XNonce::from(nonce), Payload { msg: body, aad: owner }).ok()
    }
}
