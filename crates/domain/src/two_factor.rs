//! Two-factor authentication: TOTP codes (RFC 6238 through `totp-rs`: SHA-1, 6 digits, 30 s
//! steps, one step of clock skew either way, because some authenticator apps silently ignore
//! other settings), the secret's encryption at rest, single-use recovery codes, and the QR code
//! of the enrolment.

/// Bytes of a TOTP secret: 160 bits, as RFC 4226 recommends.
pub const SECRET_BYTES: usize = 20;
/// Seconds of a time step.
pub const STEP_SECONDS: u64 = 30;
/// Recovery codes in a set.
pub const RECOVERY_CODES: usize = 16;
/// Digits of a TOTP code.
pub const DIGITS: usize = 6;

const RECOVERY_ALPHABET: &[u8; 32] = b"0123456789abcdefghjkmnpqrstvwxyz";
const RECOVERY_CHARS: usize = 10;

use crate::sealed::random;

/// A new random TOTP secret.
pub fn new_secret() -> Vec<u8> {
    random::<SECRET_BYTES>().to_vec()
}

/// The secret as authenticator apps take it typed in: RFC 4648 base32 without padding.
pub fn secret_base32(secret: &[u8]) -> String {
    totp_rs::Secret::from(secret).to_base32()
}

fn totp(secret: &[u8]) -> totp_rs::Totp {
    totp_rs::Builder::new()
        .with_algorithm(totp_rs::Algorithm::SHA1)
        .with_digits(DIGITS as u8)
        .with_skew(1)
        .with_step_duration(STEP_SECONDS)
        .with_secret(secret)
        .build_noncompliant()
}

/// The code of `secret` at `unix_seconds` (for tests and tools; the server only checks codes).
pub fn code_at(secret: &[u8], unix_seconds: u64) -> String {
    totp(secret).generate(unix_seconds).to_string()
}

/// A TOTP code as typed: six digits, spaces allowed ("123 456"). None for anything else.
pub fn parse_code(raw: &str) -> Option<String> {
    let code: String = raw.chars().filter(|c| !c.is_whitespace()).collect();
    (code.len() == DIGITS && code.bytes().all(|b| b.is_ascii_digit())).then_some(code)
}

/// The time step whose code `code` is, within one step of `unix_seconds`; None when it is none
/// of them. The caller accepts each step once.
pub fn check_code(secret: &[u8], code: &str, unix_seconds: u64) -> Option<u64> {
    let code = parse_code(code)?;
    let origin = unix_seconds / STEP_SECONDS;
    let totp = totp(secret);
    // Constant time in the code: every step of the window is computed and compared.
    let mut found = None;
    for step in origin.saturating_sub(1)..=origin + 1 {
        let expected = totp.generate(step * STEP_SECONDS).to_string();
        let equal = expected.bytes().zip(code.bytes()).fold(0u8, |acc, (a, b)| acc | (a ^ b)) == 0;
        if equal && found.is_none() {
            found = Some(step);
        }
    }
    found
}

/// The `otpauth://` URI that authenticator apps read from the QR code.
pub fn otpauth_uri(secret: &[u8], issuer: &str, account: &str) -> String {
    let label = format!("{}:{}", encode(issuer), encode(account));
    format!(
        "otpauth://totp/{label}?secret={}&issuer={}&algorithm=SHA1&digits={DIGITS}&period={STEP_SECONDS}",
        secret_base32(secret),
        encode(issuer)
    )
}

/// Percent-encoding of everything but RFC 3986's unreserved characters.
fn encode(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for b in text.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// `text` as a QR code in SVG (black modules on white, four modules of quiet zone), drawn here:
/// no external service sees the secret.
pub fn qr_svg(text: &str) -> Option<String> {
    let qr = qrcodegen::QrCode::encode_text(text, qrcodegen::QrCodeEcc::Medium).ok()?;
    let border = 4;
    let size = qr.size() + 2 * border;
    let mut path = String::new();
    for y in 0..qr.size() {
        for x in 0..qr.size() {
            if qr.get_module(x, y) {
                path.push_str(&format!("M{},{}h1v1h-1z", x + border, y + border));
            }
        }
    }
    Some(format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 {size} {size}\" shape-rendering=\"crispEdges\">\
         <rect width=\"100%\" height=\"100%\" fill=\"#fff\"/><path d=\"{path}\" fill=\"#000\"/></svg>"
    ))
}

/// A new set of recovery codes, shown once: ten characters of Crockford's base32 (50 bits),
/// written `xxxxx-xxxxx`.
pub fn new_recovery_codes() -> Vec<String> {
    (0..RECOVERY_CODES)
        .map(|_| {
            let bytes = random::<RECOVERY_CHARS>();
            let chars: String = bytes.iter().map(|b| RECOVERY_ALPHABET[usize::from(b % 32)] as char).collect();
            format!("{}-{}", &chars[..5], &chars[5..])
        })
        .collect()
}

/// A recovery code as typed, in its canonical form: case, dashes and spaces do not matter, and
/// the letters Crockford's base32 leaves out read as the digits they look like. None when it
/// cannot be a recovery code.
pub fn parse_recovery_code(raw: &str) -> Option<String> {
    let mut out = String::with_capacity(RECOVERY_CHARS);
    for c in raw.chars().filter(|c| !c.is_whitespace() && *c != '-') {
        let c = match c.to_ascii_lowercase() {
            'o' => '0',
            'i' | 'l' => '1',
            c => c,
        };
        if !c.is_ascii() || !RECOVERY_ALPHABET.contains(&(c as u8)) {
            return None;
        }
        out.push(c);
    }
    (out.len() == RECOVERY_CHARS).then_some(out)
}

/// The server's keys for two-factor data, derived from one server secret.
#[derive(Clone)]
pub struct TwoFactorKeys {
    seal: crate::sealed::SecretBox,
    recovery: [u8; 32],
}

impl std::fmt::Debug for TwoFactorKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("TwoFactorKeys(***)")
    }
}

impl TwoFactorKeys {
    pub fn derive(server_secret: &[u8]) -> Self {
        Self {
            seal: crate::sealed::SecretBox::derive("partner-portal 2026 totp secret encryption v1", server_secret),
            recovery: blake3::derive_key("partner-portal 2026 recovery code hashing v1", server_secret),
        }
    }

    /// Encrypts a TOTP secret for `owner` (see [`crate::sealed::SecretBox::seal`]).
    pub fn seal(&self, owner: &[u8], secret: &[u8]) -> String {
        self.seal.seal(owner, secret)
    }

    /// Decrypts what [`TwoFactorKeys::seal`] made for `owner`.
    pub fn open(&self, owner: &[u8], sealed: &str) -> Option<Vec<u8>> {
        self.seal.open(owner, sealed)
    }

    /// The stored form of a recovery code (canonical, from [`parse_recovery_code`]): a keyed
    /// BLAKE3 hash, so that a copy of the database alone cannot try the 2^50 codes.
    pub fn recovery_hash(&self, code: &str) -> String {
        blake3::keyed_hash(&self.recovery, code.as_bytes()).to_hex().to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc_6238_sha1_vectors_hold_for_six_digits() {
        // RFC 6238 appendix B, SHA-1, secret "12345678901234567890": the last six digits.
        let secret = b"12345678901234567890";
        for (time, code) in
            [(59, "287082"), (1_111_111_109, "081804"), (1_234_567_890, "005924"), (2_000_000_000, "279037")]
        {
            assert_eq!(code_at(secret, time), code, "at {time}");
        }
    }

    #[test]
    fn a_code_is_accepted_one_step_either_side_and_not_further() {
        let secret = new_secret();
        let now = 1_800_000_000;
        let step = now / STEP_SECONDS;
        assert_eq!(check_code(&secret, &code_at(&secret, now), now), Some(step));
        assert_eq!(check_code(&secret, &code_at(&secret, now - 30), now), Some(step - 1));
        assert_eq!(check_code(&secret, &code_at(&secret, now + 30), now), Some(step + 1));
        for far in [now - 90, now + 90] {
            let code = code_at(&secret, far);
            // A far code could equal a near one by chance (1 in 10^6 per step): skip that case.
            if (step - 1..=step + 1).all(|s| code_at(&secret, s * STEP_SECONDS) != code) {
                assert_eq!(check_code(&secret, &code, now), None, "{far}");
            }
        }
        let spaced = code_at(&secret, now);
        assert_eq!(check_code(&secret, &format!("{} {}", &spaced[..3], &spaced[3..]), now), Some(step));
        assert_eq!(check_code(&secret, "12345", now), None);
        assert_eq!(check_code(&secret, "12345a", now), None);
    }

    #[test]
    fn sealed_secrets_open_only_for_their_owner_and_key() {
        let keys = TwoFactorKeys::derive(b"server secret");
        let secret = new_secret();
        let sealed = keys.seal(b"owner-1", &secret);
        assert!(!sealed.contains(&secret_base32(&secret)));
        assert_eq!(keys.open(b"owner-1", &sealed), Some(secret.clone()));
        assert_ne!(keys.seal(b"owner-1", &secret), sealed, "a fresh nonce each time");
        assert_eq!(keys.open(b"owner-2", &sealed), None);
        assert_eq!(TwoFactorKeys::derive(b"another secret").open(b"owner-1", &sealed), None);
        let mut altered = sealed.clone().into_bytes();
        let last = altered.len() - 2;
        altered[last] = if altered[last] == b'A' { b'B' } else { b'A' };
        assert_eq!(keys.open(b"owner-1", &String::from_utf8(altered).unwrap_or_default()), None);
        assert_eq!(keys.open(b"owner-1", "v1.AAAA"), None);
    }

    #[test]
    fn recovery_codes_are_unique_and_read_back_however_typed() {
        let codes = new_recovery_codes();
        assert_eq!(codes.len(), RECOVERY_CODES);
        let distinct: std::collections::HashSet<_> = codes.iter().collect();
        assert_eq!(distinct.len(), RECOVERY_CODES);
        for code in &codes {
            assert_eq!(code.len(), 11);
            let canonical = parse_recovery_code(code).expect("parses");
            assert_eq!(parse_recovery_code(&code.to_uppercase().replace('-', " ")), Some(canonical));
        }
        assert_eq!(parse_recovery_code("0l1io-abcde"), parse_recovery_code("01110-abcde"));
        assert_eq!(parse_recovery_code("abcde-fghi"), None);
        assert_eq!(parse_recovery_code("abcde-fghiu"), None, "u is not in the alphabet");
        let keys = TwoFactorKeys::derive(b"s");
        assert_eq!(keys.recovery_hash("abcdefghjk"), keys.recovery_hash("abcdefghjk"));
        assert_ne!(keys.recovery_hash("abcdefghjk"), TwoFactorKeys::derive(b"t").recovery_hash("abcdefghjk"));
    }

    #[test]
    fn the_uri_and_qr_code_carry_the_secret_for_apps() {
        let secret = b"12345678901234567890";
        let uri = otpauth_uri(secret, "Partner Portal", "ana+x@example.com");
        assert_eq!(
            uri,
            "otpauth://totp/Partner%20Portal:ana%2Bx%40example.com?secret=GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ\
             &issuer=Partner%20Portal&algorithm=SHA1&digits=6&period=30"
        );
        let svg = qr_svg(&uri).expect("fits a QR code");
        assert!(svg.starts_with("<svg") && svg.ends_with("</svg>") && svg.contains("h1v1h-1z"));
    }
}
