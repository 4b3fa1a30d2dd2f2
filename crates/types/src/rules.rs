//! The limits and shapes the server enforces on request fields, stated once: the server's
//! parsers use them, and the OpenAPI document publishes them as `maxLength`, `pattern` and so on.
//! Patterns are ECMA-262 and Python compatible (tests check each against its parser).

/// Longest user, team and key name, in characters.
pub const NAME_MAX_CHARS: usize = 100;
/// Longest team or key description.
pub const DESCRIPTION_MAX_CHARS: usize = 500;
/// The longest webhook endpoint URL.
pub const WEBHOOK_URL_MAX_CHARS: usize = 2048;
/// Longest personal message of an invitation.
pub const MESSAGE_MAX_CHARS: usize = 1000;
/// Shortest new password.
pub const PASSWORD_MIN_CHARS: usize = 10;
/// Longest password.
pub const PASSWORD_MAX_CHARS: usize = 128;
/// Longest search text of a list (`q`).
pub const SEARCH_MAX_CHARS: usize = 100;
/// Longest e-mail address (RFC 5321).
pub const EMAIL_MAX_CHARS: usize = 254;
/// Longest domain name (RFC 1035, without the final dot).
pub const DOMAIN_MAX_CHARS: usize = 253;
/// Longest OpenID Connect issuer URL.
pub const SSO_ISSUER_MAX_CHARS: usize = 500;
/// Longest client id or secret of an identity provider.
pub const SSO_CLIENT_MAX_CHARS: usize = 255;
/// A client id or secret: printable ASCII without spaces.
pub const SSO_CLIENT_PATTERN: &str = "^[!-~]+$";
/// Longest SAML IdP metadata document pasted into a connection (a JSON body holds at most 64 KiB;
/// a larger document is given by its URL).
pub const SSO_METADATA_MAX_CHARS: usize = 60_000;
/// Longest SAML IdP metadata document fetched from its URL.
pub const SSO_METADATA_MAX_BYTES: usize = 1024 * 1024;

/// A domain name of at least two labels: letters, digits and inner hyphens, up to 63 each; the
/// last label starts with a letter (ASCII: an internationalised name is sent as `xn--`).
pub const DOMAIN_PATTERN: &str =
    r"^([A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?$";

/// Characters no name may hold, as the inside of a character class: control characters, and the
/// invisible ones that reorder or hide text (bidirectional overrides and isolates, zero-width
/// spaces and joiners, the byte-order mark).
pub const HIDDEN_CLASS: &str = r"\x00-\x1f\x7f-\x9f\u061c\u200b-\u200f\u202a-\u202e\u2060-\u206f\ufeff";

/// A name: at least one visible character and no hidden one.
pub fn name_pattern() -> String {
    format!(r"^[^{HIDDEN_CLASS}]*[^\s{HIDDEN_CLASS}][^{HIDDEN_CLASS}]*$")
}

/// Free text: line breaks and tabs allowed, no other control character.
pub const NOTE_PATTERN: &str = r"^[^\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]*$";

/// An e-mail address (`format: email`, RFC 5321 without quoted local parts or address
/// literals): a dot-atom of ASCII letters, digits and ``!#$%&'*+/=?^_`{|}~-``, `@`, and a host
/// name of at least two labels of up to 63 letters, digits and inner hyphens. The local part's
/// limit of 64 characters is the one `format: email` states.
pub const EMAIL_PATTERN: &str = r"^[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*@[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)+$";

/// The token of a mailed link (verification, password reset, invitation): 43 characters of
/// URL-safe base64.
pub const TOKEN_PATTERN: &str = "^[A-Za-z0-9_-]{43}$";

/// Longest allowlist entry: a full IPv6 address with a prefix length.
pub const ALLOWED_IP_MAX_CHARS: usize = 43;
/// Most entries in a key's allowlist.
pub const ALLOWED_IPS_MAX: usize = 50;

/// An allowlist entry: an IPv4 address (dotted quad, no leading zeros) or an IPv6 address (hex
/// groups, at most one `::`, no embedded IPv4), each with an optional prefix length
/// (`/0`-`/32`, `/0`-`/128`, no leading zeros).
pub fn allowed_ip_pattern() -> String {
    ip_pattern(true)
}

/// A single address as [`allowed_ip_pattern`] reads it, without a prefix length.
pub fn ip_address_pattern() -> String {
    ip_pattern(false)
}

fn ip_pattern(with_prefix: bool) -> String {
    let (v4_prefix, v6_prefix) =
        if with_prefix { ("(/(3[0-2]|[12]?[0-9]))?", "(/(12[0-8]|1[01][0-9]|[1-9]?[0-9]))?") } else { ("", "") };
    let octet = "(25[0-5]|2[0-4][0-9]|1[0-9]{2}|[1-9]?[0-9])";
    let v4 = format!(r"{octet}(\.{octet}){{3}}{v4_prefix}");
    let h = "[0-9A-Fa-f]{1,4}";
    let v6 = [
        format!("({h}:){{7}}{h}"),
        format!("({h}:){{1,7}}:"),
        format!("({h}:){{1,6}}:{h}"),
        format!("({h}:){{1,5}}(:{h}){{1,2}}"),
        format!("({h}:){{1,4}}(:{h}){{1,3}}"),
        format!("({h}:){{1,3}}(:{h}){{1,4}}"),
        format!("({h}:){{1,2}}(:{h}){{1,5}}"),
        format!("{h}:(:{h}){{1,6}}"),
        format!(":((:{h}){{1,7}}|:)"),
    ]
    .join("|");
    format!("^({v4}|({v6}){v6_prefix})$")
}

/// Alert thresholds: percentages of the monthly limit.
pub const ALERT_THRESHOLDS_MAX: usize = 5;
