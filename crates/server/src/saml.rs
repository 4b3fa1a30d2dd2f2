//! SAML 2.0, the service provider's side: the IdP's metadata read, the portal's own key and
//! certificate per connection, the AuthnRequest (HTTP-Redirect), and the checked response
//! (HTTP-POST). The `samael` crate does the protocol and xmlsec checks the signatures; only the
//! elements a verified signature covers are read (samael reduces the document to them), so
//! signature wrapping cannot slip another assertion in. Around it, this module refuses what a
//! sound IdP never sends: a DTD, XML comments (an IdP signs the canonical form without them, so a
//! comment inside a NameID would split the signed address unnoticed), an assertion without an
//! audience, and IdP metadata without a signing certificate (samael would then check nothing).
//!
//! Nothing here logs a response or an assertion.

use chrono::{DateTime, Duration, Utc};
use samael::crypto::{AllowedSignatureAlgorithm, CertificateDer};
use samael::metadata::{EntityDescriptor, HTTP_REDIRECT_BINDING};
use samael::schema::Assertion;
use samael::service_provider::{Error as SpError, ServiceProvider, ServiceProviderBuilder};
use samael::traits::ToXml;

use crate::sso::{Claims, Failure, Reason};

/// How old a response or assertion may be when it arrives (its `IssueInstant`).
const MAX_ISSUE_DELAY_SECONDS: i64 = 300;
/// Clock skew allowed on `NotBefore` and `NotOnOrAfter`.
const SKEW_SECONDS: i64 = 60;
/// The largest SAMLResponse taken (base64).
pub const MAX_RESPONSE_CHARS: usize = 256 * 1024;

/// Attribute names that carry the user's address, in the order they are believed.
const EMAIL_ATTRIBUTES: [&str; 5] = [
    "email",
    "mail",
    "emailaddress",
    "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/emailaddress",
    "urn:oid:0.9.2342.19200300.100.1.3",
];
/// Attribute names that carry the user's name.
const NAME_ATTRIBUTES: [&str; 4] = [
    "name",
    "displayname",
    "http://schemas.microsoft.com/identity/claims/displayname",
    "urn:oid:2.16.840.1.113730.3.1.241",
];

/// What the portal read of an IdP's metadata.
#[derive(Debug, Clone)]
pub struct Idp {
    pub entity_id: String,
    /// The single sign-on URL of the HTTP-Redirect binding.
    pub sso_url: String,
}

/// The portal's side of one connection.
pub struct Sp<'a> {
    /// The portal's entity id (the URL of its metadata for the connection).
    pub entity_id: &'a str,
    pub acs_url: &'a str,
    /// The connection's certificate (PEM) and private key (PEM).
    pub certificate: &'a str,
    pub private_key: &'a str,
    pub allow_idp_initiated: bool,
}

fn hostile_markup(xml: &str) -> Option<&'static str> {
    if xml.contains("<!DOCTYPE") || xml.contains("<!ENTITY") {
        Some("it holds a document type declaration")
    } else if xml.contains("<!--") {
        Some("it holds XML comments")
    } else {
        None
    }
}

/// How many elements of the local name `name` (any prefix) the document holds.
fn elements_named(xml: &str, name: &str) -> usize {
    xml.match_indices('<')
        .filter(|(at, _)| {
            let rest = &xml[at + 1..];
            let tag_end = rest.find(|c: char| c.is_whitespace() || c == '>' || c == '/').unwrap_or(rest.len());
            let tag = &rest[..tag_end];
            tag.rsplit(':').next() == Some(name)
        })
        .count()
}

/// Reads an IdP's metadata document: its entity id, HTTP-Redirect single sign-on URL and signing
/// certificate. The error names what is missing, for the admin who pasted it.
pub fn read_metadata(xml: &str) -> Result<Idp, String> {
    if let Some(why) = hostile_markup(xml) {
        return Err(format!("is not accepted: {why}"));
    }
    let descriptor: EntityDescriptor = xml.parse().map_err(|e| format!("does not parse as SAML metadata: {e}"))?;
    let entity_id = descriptor
        .entity_id
        .clone()
        .filter(|id| !id.trim().is_empty())
        .ok_or_else(|| "names no entity id (EntityDescriptor/@entityID)".to_owned())?;
    if entity_id.chars().count() > portal_types::rules::SSO_ISSUER_MAX_CHARS {
        return Err(format!("has an entity id longer than {} characters", portal_types::rules::SSO_ISSUER_MAX_CHARS));
    }
    let idps = descriptor.idp_sso_descriptors.as_deref().unwrap_or_default();
    if idps.is_empty() {
        return Err("describes no identity provider (IDPSSODescriptor)".to_owned());
    }
    let sso_url = idps
        .iter()
        .flat_map(|d| d.single_sign_on_services.iter())
        .find(|s| s.binding == HTTP_REDIRECT_BINDING)
        .map(|s| s.location.clone())
        .ok_or_else(|| "names no single sign-on URL of the HTTP-Redirect binding".to_owned())?;
    match url::Url::parse(&sso_url) {
        Ok(url) if matches!(url.scheme(), "https" | "http") && url.fragment().is_none() => {}
        _ => return Err(format!("names a single sign-on URL that is not an http(s) URL: {sso_url}")),
    }
    let sp = ServiceProvider { idp_metadata: descriptor, ..ServiceProvider::default() };
    match sp.idp_signing_certs() {
        Ok(Some(certs)) if certs.iter().all(|c| openssl::x509::X509::from_der(c.der_data()).is_ok()) => {}
        Ok(Some(_)) | Err(_) => return Err("names a signing certificate that does not parse".to_owned()),
        Ok(None) => return Err("names no signing certificate (KeyDescriptor use=\"signing\")".to_owned()),
    }
    Ok(Idp { entity_id, sso_url })
}

/// A new key pair for a connection: the private key and a self-signed certificate (PEM), RSA
/// 2048 with SHA-256, valid ten years, named after the portal.
pub fn new_credentials(public_url: &str) -> Result<(String, String), openssl::error::ErrorStack> {
    use openssl::asn1::Asn1Time;
    use openssl::bn::{BigNum, MsbOption};
    use openssl::hash::MessageDigest;
    use openssl::pkey::PKey;
    use openssl::rsa::Rsa;
    use openssl::x509::{X509, X509NameBuilder};

    let key = PKey::from_rsa(Rsa::generate(2048)?)?;
    let mut name = X509NameBuilder::new()?;
    let host = url::Url::parse(public_url).ok().and_then(|u| u.host_str().map(str::to_owned));
    name.append_entry_by_text("CN", &format!("Partner Portal SAML ({})", host.as_deref().unwrap_or("portal")))?;
    let name = name.build();
    let mut serial = BigNum::new()?;
    serial.rand(127, MsbOption::MAYBE_ZERO, false)?;
    let mut cert = X509::builder()?;
    cert.set_version(2)?;
    let serial = serial.to_asn1_integer()?;
    cert.set_serial_number(&serial)?;
    cert.set_subject_name(&name)?;
    cert.set_issuer_name(&name)?;
    cert.set_pubkey(&key)?;
    let (from, until) = (Asn1Time::days_from_now(0)?, Asn1Time::days_from_now(3650)?);
    cert.set_not_before(&from)?;
    cert.set_not_after(&until)?;
    cert.sign(&key, MessageDigest::sha256())?;
    let pem = |bytes: Vec<u8>| String::from_utf8(bytes).unwrap_or_default();
    Ok((pem(key.private_key_to_pem_pkcs8()?), pem(cert.build().to_pem()?)))
}

/// The crate's service provider. Without the IdP's metadata (not given yet) it can describe the
/// portal's side only: [`leave`] and [`verify`] read the metadata first, so that a response is
/// never taken without the IdP's certificate (samael would then check no signature).
fn service_provider(idp_metadata: &str, sp: &Sp<'_>) -> Result<ServiceProvider, String> {
    let descriptor: EntityDescriptor = if idp_metadata.is_empty() {
        EntityDescriptor::default()
    } else {
        idp_metadata.parse().map_err(|e| format!("the IdP metadata: {e}"))?
    };
    let key = openssl::pkey::PKey::private_key_from_pem(sp.private_key.as_bytes()).map_err(|e| e.to_string())?;
    let cert = openssl::x509::X509::from_pem(sp.certificate.as_bytes()).map_err(|e| e.to_string())?;
    let cert = CertificateDer::from(cert.to_der().map_err(|e| e.to_string())?);
    ServiceProviderBuilder::default()
        .entity_id(sp.entity_id.to_owned())
        .metadata_url(sp.entity_id.to_owned())
        .acs_url(sp.acs_url.to_owned())
        .slo_url(sp.acs_url.to_owned())
        .idp_metadata(descriptor)
        .key(key)
        .certificate(cert)
        .allow_idp_initiated(sp.allow_idp_initiated)
        .max_issue_delay(Duration::seconds(MAX_ISSUE_DELAY_SECONDS))
        .max_clock_skew(Duration::seconds(SKEW_SECONDS))
        .allowed_signature_algorithms(vec![
            AllowedSignatureAlgorithm::RsaSha256,
            AllowedSignatureAlgorithm::RsaSha384,
            AllowedSignatureAlgorithm::RsaSha512,
            AllowedSignatureAlgorithm::EcdsaSha256,
            AllowedSignatureAlgorithm::EcdsaSha384,
            AllowedSignatureAlgorithm::EcdsaSha512,
        ])
        .authn_name_id_format(Some("urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress".to_owned()))
        .build()
        .map_err(|e| e.to_string())
}

/// The portal's metadata for a connection (XML): entity id, ACS URL (HTTP-POST), and the
/// connection's certificate for signing and encryption.
pub fn sp_metadata(idp_metadata: &str, sp: &Sp<'_>) -> Result<String, String> {
    let provider = service_provider(idp_metadata, sp)?;
    let mut descriptor = provider.metadata().map_err(|e| e.to_string())?;
    // The portal answers no single logout: it does not advertise an endpoint for it.
    for sp_descriptor in descriptor.sp_sso_descriptors.iter_mut().flatten() {
        sp_descriptor.single_logout_services = None;
    }
    descriptor.to_string().map_err(|e| format!("{e:?}"))
}

/// The IdP of stored metadata, with its signing certificate: none yet, or none usable, says why.
fn usable_idp(idp_metadata: &str) -> Result<Idp, String> {
    if idp_metadata.is_empty() {
        return Err("the connection has no IdP metadata yet: add it in the team's settings".to_owned());
    }
    read_metadata(idp_metadata).map_err(|e| format!("the IdP metadata {e}"))
}

/// The IdP's URL for a new AuthnRequest of id `request_id`, carrying `relay_state` (HTTP-Redirect).
pub fn leave(idp_metadata: &str, sp: &Sp<'_>, request_id: &str, relay_state: &str) -> Result<String, Failure> {
    let unusable = |detail: String| Failure::new(Reason::ProviderUnreachable, detail);
    let idp = usable_idp(idp_metadata).map_err(unusable)?;
    let provider = service_provider(idp_metadata, sp).map_err(unusable)?;
    let mut request = provider.make_authentication_request(&idp.sso_url).map_err(|e| unusable(e.to_string()))?;
    request.id = request_id.to_owned();
    match request.redirect(relay_state) {
        Ok(Some(url)) => Ok(url.to_string()),
        Ok(None) => Err(unusable("the IdP has no single sign-on URL".to_owned())),
        Err(e) => Err(unusable(e.to_string())),
    }
}

/// A response that passed every check: who it names, and the assertion's replay key and expiry.
#[derive(Debug)]
pub struct Verified {
    pub claims: Claims,
    /// The assertion's `ID`, with the IdP's entity id: taken once.
    pub assertion_id: String,
    /// Until when a replay of it could pass the time checks.
    pub expires_at: DateTime<Utc>,
}

/// Checks a SAMLResponse (base64, as posted): the signature over the response or the assertion
/// against the IdP's certificates (only what it covers is read), the issuer, destination,
/// recipient, audience, `InResponseTo` (the flow's request, unless IdP-initiated sign-ins are
/// allowed and the response answers none), `NotBefore`/`NotOnOrAfter` with a minute of skew, and
/// the issue time.
pub fn verify(idp_metadata: &str, sp: &Sp<'_>, encoded: &str, request_id: Option<&str>) -> Result<Verified, Failure> {
    let invalid = |detail: &str| Failure::new(Reason::InvalidToken, detail.to_owned());
    if encoded.len() > MAX_RESPONSE_CHARS {
        return Err(invalid("the response is larger than 256 KiB"));
    }
    let compact: String = encoded.chars().filter(|c| !c.is_ascii_whitespace()).collect();
    use base64::Engine as _;
    let bytes =
        base64::engine::general_purpose::STANDARD.decode(compact).map_err(|_| invalid("the response is not base64"))?;
    let xml = String::from_utf8(bytes).map_err(|_| invalid("the response is not UTF-8 XML"))?;
    if let Some(why) = hostile_markup(&xml) {
        return Err(invalid(&format!("the response is refused: {why}")));
    }
    // One response with one assertion, as every IdP sends: a second copy of either (wherever it
    // hides: in a signature, an Object, Extensions, another assertion) is a wrapping attempt.
    for element in ["Response", "Assertion"] {
        if elements_named(&xml, element) > 1 {
            return Err(invalid(&format!("the response is refused: it holds more than one {element} element")));
        }
    }
    usable_idp(idp_metadata).map_err(|e| Failure::new(Reason::ProviderUnreachable, e))?;
    let provider = service_provider(idp_metadata, sp).map_err(|e| Failure::new(Reason::ProviderUnreachable, e))?;
    let possible = request_id.map(|id| [id]);
    let assertion = provider.parse_xml_response(&xml, possible.as_ref().map(|p| &p[..])).map_err(refused)?;
    let audience_named = assertion
        .conditions
        .as_ref()
        .and_then(|c| c.audience_restrictions.as_ref())
        .is_some_and(|r| r.iter().any(|r| r.audience.iter().any(|a| a == sp.entity_id)));
    if !audience_named {
        return Err(Failure::new(Reason::WrongAudience, "the assertion names no audience of this service provider"));
    }
    let claims = read_claims(&assertion)?;
    let expires_at = expiry(&assertion);
    Ok(Verified {
        claims,
        assertion_id: format!("{}\n{}", assertion.issuer.value.unwrap_or_default(), assertion.id),
        expires_at,
    })
}

/// The latest time at which the assertion could still be taken.
fn expiry(assertion: &Assertion) -> DateTime<Utc> {
    let conditions = assertion.conditions.as_ref().and_then(|c| c.not_on_or_after);
    let confirmations = assertion
        .subject
        .iter()
        .flat_map(|s| s.subject_confirmations.iter().flatten())
        .filter_map(|c| c.subject_confirmation_data.as_ref().and_then(|d| d.not_on_or_after));
    let issued = assertion.issue_instant + Duration::seconds(MAX_ISSUE_DELAY_SECONDS);
    conditions.into_iter().chain(confirmations).chain([issued]).max().unwrap_or(issued)
        + Duration::seconds(SKEW_SECONDS)
}

fn attribute<'a>(assertion: &'a Assertion, names: &[&str]) -> Option<&'a str> {
    let attributes: Vec<_> =
        assertion.attribute_statements.iter().flatten().flat_map(|s| s.attributes.iter()).collect();
    names.iter().find_map(|wanted| {
        attributes
            .iter()
            .filter(|a| {
                a.name.as_deref().is_some_and(|n| n.eq_ignore_ascii_case(wanted))
                    || a.friendly_name.as_deref().is_some_and(|n| n.eq_ignore_ascii_case(wanted))
            })
            .flat_map(|a| a.values.iter())
            .find_map(|v| v.value.as_deref().map(str::trim).filter(|v| !v.is_empty()))
    })
}

/// Who the verified assertion names: the NameID is the subject; the address is the NameID when
/// its format is an e-mail address, else an e-mail attribute.
fn read_claims(assertion: &Assertion) -> Result<Claims, Failure> {
    let name_id = assertion.subject.as_ref().and_then(|s| s.name_id.as_ref());
    let Some(name_id) = name_id.filter(|n| !n.value.trim().is_empty()) else {
        return Err(Failure::new(Reason::InvalidToken, "the assertion names no subject (NameID)"));
    };
    let subject = name_id.value.trim().to_owned();
    if subject.chars().count() > 255 {
        return Err(Failure::new(Reason::InvalidToken, "the subject (NameID) is longer than 255 characters"));
    }
    let email_format = name_id.format.as_deref() == Some("urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress");
    let email =
        if email_format { Some(subject.clone()) } else { attribute(assertion, &EMAIL_ATTRIBUTES).map(str::to_owned) };
    let name = attribute(assertion, &NAME_ATTRIBUTES).map(str::to_owned);
    let mut all = serde_json::Map::new();
    all.insert("name_id".into(), subject.clone().into());
    if let Some(format) = &name_id.format {
        all.insert("name_id_format".into(), format.clone().into());
    }
    for a in assertion.attribute_statements.iter().flatten().flat_map(|s| s.attributes.iter()) {
        let values: Vec<serde_json::Value> = a.values.iter().filter_map(|v| v.value.clone()).map(Into::into).collect();
        if let Some(key) = a.name.clone().or_else(|| a.friendly_name.clone()) {
            all.insert(key, values.into());
        }
    }
    Ok(Claims { subject, email, email_verified: None, name, all: serde_json::Value::Object(all) })
}

/// A refused response, as a reason.
fn refused(error: SpError) -> Failure {
    let reason = match &error {
        SpError::FailedToValidateSignature | SpError::CryptoXmlError(_) | SpError::CryptoProviderError(_) => {
            Reason::BadSignature
        }
        SpError::AssertionConditionAudienceRestrictionFailed { .. }
        | SpError::AssertionRecipientMismatch { .. }
        | SpError::DestinationValidationError { .. } => Reason::WrongAudience,
        SpError::AssertionIssuerMismatch { .. } | SpError::ResponseIssuerMismatch { .. } => Reason::WrongIssuer,
        SpError::AssertionExpired { .. }
        | SpError::ResponseExpired { .. }
        | SpError::AssertionConditionExpired { .. }
        | SpError::AssertionConditionExpiredBefore { .. }
        | SpError::AssertionSubjectConfirmationExpired { .. }
        | SpError::AssertionSubjectConfirmationExpiredBefore { .. } => Reason::Expired,
        SpError::AssertionInResponseToInvalid { .. } | SpError::ResponseInResponseToInvalid { .. } => {
            Reason::WrongRequest
        }
        SpError::ResponseBadStatusCode { .. } => Reason::ProviderError,
        _ => Reason::InvalidToken,
    };
    let detail = match &error {
        // The possible request ids are the flow's: not for the activity log.
        SpError::AssertionInResponseToInvalid { .. } | SpError::ResponseInResponseToInvalid { .. } => {
            "the response answers another request (InResponseTo)".to_owned()
        }
        other => other.to_string(),
    };
    Failure::new(reason, detail)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn elements_are_counted_by_local_name_whatever_their_prefix() {
        let xml = r#"<samlp:Response><saml:Assertion ID="a"><x:Assertion/></saml:Assertion><Assertion>t</Assertion><AssertionX/></samlp:Response>"#;
        assert_eq!(elements_named(xml, "Assertion"), 3);
        assert_eq!(elements_named(xml, "Response"), 1);
        assert_eq!(elements_named("<a>text</a>", "Assertion"), 0);
    }

    #[test]
    fn markup_no_idp_sends_is_refused() {
        assert!(hostile_markup("<a><!-- x --></a>").is_some());
        assert!(hostile_markup("<!DOCTYPE a><a/>").is_some());
        assert!(hostile_markup("<a>b</a>").is_none());
    }
}
