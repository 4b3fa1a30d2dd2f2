//! SAML 2.0 single sign-on against a real identity provider (`samlify` as IdP, run by
//! e2e/peers/saml-idp.mjs: its responses are signed by samlify's own XML signature code) and a
//! real DNS server for the verified domain. The hostile responses are the IdP's real signed ones,
//! rewritten the way attackers rewrite them: the signature wrapping variants XSW1-XSW8, a comment
//! in the NameID, forged envelopes, replays; and the IdP made to misbehave (another key, another
//! audience, an old response, an unsolicited one).

use reqwest::StatusCode;
use serde_json::json;

use crate::domains::DnsServer;
use crate::helpers::*;
use crate::sso::{Browser, activity, location, origin, sso_team_with, start_peer};

/// The IdP, with its users: `ada` and `bob` at the verified acme.test, `eve` elsewhere, and the
/// owner's address at a domain of the attacker's (`owner@acme.test.evil.test`).
pub struct Idp {
    _child: tokio::process::Child,
    pub metadata: String,
    pub metadata_url: String,
}

impl Idp {
    pub async fn start() -> Self {
        let config = std::env::temp_dir().join(format!("pp-saml-{}.json", uuid::Uuid::new_v4()));
        let users = json!({
            "ada@acme.test": {"name": "Ada Lovelace"},
            "bob@acme.test": {"name": "Bob"},
            "eve@elsewhere.test": {"name": "Eve"},
            "owner@acme.test.evil.test": {"name": "Not the owner"},
        });
        let (child, started) = start_peer("saml-idp.mjs", &config, &json!({"users": users})).await;
        let _ = std::fs::remove_file(&config);
        Self {
            _child: child,
            metadata: started["metadata"].as_str().unwrap().to_owned(),
            metadata_url: started["metadata_url"].as_str().unwrap().to_owned(),
        }
    }

    pub fn connection(&self, name: &str) -> CreateSsoConnectionRequest {
        CreateSsoConnectionRequest::saml(name, &self.metadata)
    }
}

/// What the IdP's auto-posting form carries to the portal's ACS.
#[derive(Clone, Debug)]
pub struct Posted {
    /// The ACS path (the IdP posts to the public URL; the browser here posts to the instance).
    pub acs: String,
    pub response: String,
    pub relay: String,
}

impl Posted {
    fn xml(&self) -> String {
        use base64::Engine as _;
        String::from_utf8(base64::engine::general_purpose::STANDARD.decode(&self.response).unwrap()).unwrap()
    }

    fn with_xml(&self, xml: &str) -> Self {
        use base64::Engine as _;
        Self { response: base64::engine::general_purpose::STANDARD.encode(xml), ..self.clone() }
    }
}

fn hidden(page: &str, name: &str) -> String {
    let pattern = regex::Regex::new(&format!(r#"name="{name}" value="([^"]*)""#)).unwrap();
    let raw = &pattern.captures(page).unwrap_or_else(|| panic!("{name} in {page}"))[1];
    raw.replace("&quot;", "\"").replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")
}

/// From the portal's start URL to the IdP's sign-in page, signed in there as `email` with the
/// IdP's `knobs`: what its form posts to the ACS.
async fn through_idp(browser: &Browser, app: &TestApp, start: &str, email: &str, knobs: &[(&str, &str)]) -> Posted {
    let res = browser.get(&app.url(start)).await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    let to_idp = location(&res);
    assert!(to_idp.contains("SAMLRequest="), "to the IdP: {to_idp}");
    let page = browser.get(&to_idp).await.text().await.unwrap();
    let mut form = vec![
        ("SAMLRequest".to_owned(), hidden(&page, "SAMLRequest")),
        ("RelayState".to_owned(), hidden(&page, "RelayState")),
        ("email".to_owned(), email.to_owned()),
    ];
    form.extend(knobs.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())));
    idp_login(browser, &origin(&to_idp), &form).await
}

async fn idp_login(browser: &Browser, idp: &str, form: &[(String, String)]) -> Posted {
    let body: String = url::form_urlencoded::Serializer::new(String::new()).extend_pairs(form).finish();
    let res = browser
        .client
        .post(format!("{idp}/login"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let page = res.text().await.unwrap();
    let action = regex::Regex::new(r#"action="([^"]+)""#).unwrap().captures(&page).expect("a form")[1].to_owned();
    let acs = action.strip_prefix("http://127.0.0.1:9").expect("the portal's public URL").to_owned();
    Posted { acs, response: hidden(&page, "SAMLResponse"), relay: hidden(&page, "RelayState") }
}

/// Posts the IdP's form to the instance's ACS; follows the portal on to the finish step in this
/// browser: where the browser ends up.
async fn post(browser: &Browser, app: &TestApp, posted: &Posted) -> String {
    let form: String = url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs([("SAMLResponse", &posted.response), ("RelayState", &posted.relay)])
        .finish();
    let res = browser
        .client
        .post(app.url(&posted.acs))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(form)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    let next = location(&res);
    if next.starts_with("/api/v1/auth/sso/saml/finish") {
        return browser.arrive(&app.url(&next)).await;
    }
    next
}

/// A team with acme.test verified (joining automatically) and a SAML connection to `idp`.
async fn saml_team(flags: &[&str], dns: &DnsServer, idp: &Idp) -> (TestApp, String, String, String) {
    sso_team_with(flags, dns, &idp.connection("Acme SAML")).await
}

fn start(team: &str) -> String {
    format!("/api/v1/auth/sso/start?team_id={team}")
}

async fn email_of(browser: &Browser, app: &TestApp) -> Option<String> {
    let token = browser.access_token(app).await?;
    Some(app.get_as(&token, "/api/v1/me").await.body["email"].as_str().unwrap().to_owned())
}

#[tokio::test]
async fn a_saml_connection_serves_its_metadata_tests_and_signs_people_in() {
    let dns = DnsServer::start().await;
    let idp = Idp::start().await;
    let (app, owner, team, connection) = saml_team(&[], &dns, &idp).await;
    let listed = app.op(Some(&owner), ops::list_sso_connections(&team)).await;
    let item = &listed.body["items"][0];
    assert_eq!(item["protocol"], "saml", "{}", listed.body);
    assert_eq!(item["issuer"], idp.metadata_url, "the IdP's entity id");
    let acs = format!("http://127.0.0.1:9/api/v1/auth/sso/saml/{connection}/acs");
    assert_eq!(item["saml"]["acs_url"], acs);
    assert_eq!(item["redirect_uri"], acs);
    assert!(item["saml"]["idp_sso_url"].as_str().unwrap().ends_with("/sso"));
    assert!(item["saml"]["certificate"].as_str().unwrap().starts_with("-----BEGIN CERTIFICATE-----"));
    assert!(!listed.body.to_string().contains("PRIVATE KEY"), "the key is never shown");

    // The SP metadata, public, names the entity id, the ACS and the certificate.
    let metadata = app.op(None, ops::saml_metadata(&connection)).await;
    assert_eq!(metadata.status, StatusCode::OK);
    let xml = metadata.body.as_str().expect("XML").to_owned();
    assert!(xml.contains(&format!("entityID=\"http://127.0.0.1:9/api/v1/sso/saml/{connection}/metadata\"")), "{xml}");
    assert!(xml.contains(&acs) && xml.contains("X509Certificate"), "{xml}");
    assert!(!xml.contains("SingleLogoutService"), "no logout endpoint is advertised");
    app.op(None, ops::saml_metadata(uuid::Uuid::new_v4())).await.assert_problem(404, "not_found");

    // "Test connection" shows the attributes received; nobody is signed in.
    let test = app.op(Some(&owner), ops::test_sso_connection(&team, &connection)).await;
    let browser = Browser::new();
    let posted = through_idp(&browser, &app, test.body["start_url"].as_str().unwrap(), "ada@acme.test", &[]).await;
    assert_eq!(post(&browser, &app, &posted).await, format!("/teams/{team}/settings?sso_test=done#sso"));
    let listed = app.op(Some(&owner), ops::list_sso_connections(&team)).await;
    let item = &listed.body["items"][0];
    assert_eq!(item["status"], "working", "{}", listed.body);
    assert_eq!(item["test_claims"]["name_id"], "ada@acme.test");
    assert_eq!(item["test_claims"]["name"], json!(["Ada Lovelace"]));
    assert!(browser.access_token(&app).await.is_none(), "a test signs nobody in");

    // Home-realm discovery, then the sign-in: the account is made at the verified domain and
    // joins the team; the session says where it started.
    let found = app.op(None, ops::discover_sso(&SsoDiscoveryRequest { email: "bob@acme.test".into() })).await;
    assert_eq!(found.body["connection_name"], "Acme SAML");
    let browser = Browser::new();
    let posted = through_idp(&browser, &app, found.body["start_url"].as_str().unwrap(), "bob@acme.test", &[]).await;
    assert_eq!(post(&browser, &app, &posted).await, format!("/teams/{team}"));
    let bob = browser.access_token(&app).await.expect("signed in");
    let sessions = app.get_as(&bob, "/api/v1/me/sessions").await;
    assert_eq!(sessions.body["items"][0]["started_with"], format!("sso:{connection}"), "{}", sessions.body);
    let me = app.get_as(&bob, "/api/v1/me").await;
    assert_eq!((me.body["email"].as_str(), me.body["name"].as_str()), (Some("bob@acme.test"), Some("Bob")));
    assert_eq!(app.get_as(&bob, "/api/v1/teams").await.body["items"][0]["role"], "member");
    // Signing in again finds the linked account.
    let browser = Browser::new();
    let posted = through_idp(&browser, &app, &start(&team), "bob@acme.test", &[]).await;
    assert_eq!(post(&browser, &app, &posted).await, format!("/teams/{team}"));
    // A user outside the verified domains is refused, and the activity says why.
    let browser = Browser::new();
    let posted = through_idp(&browser, &app, &start(&team), "eve@elsewhere.test", &[]).await;
    assert_eq!(post(&browser, &app, &posted).await, "/sign-in?sso_error=unknown_user");
    let entries = activity(&app, &owner, &team).await;
    for action in
        ["sso.connection_created", "sso.tested", "sso.signed_in", "member.joined_by_domain", "sso.sign_in_failed"]
    {
        assert!(entries.iter().any(|(a, _)| a == action), "{action} in {entries:?}");
    }
    assert!(!format!("{entries:?}").contains("PHNhbWxw"), "no response is recorded");
}

#[tokio::test]
async fn idp_metadata_is_read_before_anything_is_stored() {
    let dns = DnsServer::start().await;
    let idp = Idp::start().await;
    let (app, owner, team, connection) = saml_team(&[], &dns, &idp).await;
    let conns = format!("/api/v1/teams/{team}/sso/connections");
    let unsigned = regex::Regex::new(r"(?s)<KeyDescriptor.*?</KeyDescriptor>").unwrap().replace_all(&idp.metadata, "");
    let post_only = idp.metadata.replace("HTTP-Redirect", "HTTP-Artifact");
    for (body, field, says) in [
        (json!({"name": "X", "protocol": "saml", "idp_metadata": "<not xml"}), "idp_metadata", "does not parse"),
        (json!({"name": "X", "protocol": "saml", "idp_metadata": unsigned}), "idp_metadata", "no signing certificate"),
        (json!({"name": "X", "protocol": "saml", "idp_metadata": post_only}), "idp_metadata", "HTTP-Redirect"),
        (
            json!({"name": "X", "protocol": "saml", "idp_metadata": format!("<!DOCTYPE x [<!ENTITY e SYSTEM \"file:///etc/passwd\">]>{}", idp.metadata)}),
            "idp_metadata",
            "document type",
        ),
        (
            json!({"name": "X", "protocol": "saml", "idp_metadata_url": "http://127.0.0.1:1/metadata"}),
            "idp_metadata_url",
            "could not be fetched",
        ),
        (
            json!({"name": "X", "protocol": "saml", "idp_metadata": idp.metadata, "client_id": "a"}),
            "client_id",
            "OpenID Connect",
        ),
        (json!({"name": "X", "idp_metadata": idp.metadata}), "idp_metadata", "SAML"),
        (json!({"name": "X"}), "issuer", "required"),
    ] {
        let res = app.call(reqwest::Method::POST, Some(&owner), &conns, Some(body.clone())).await;
        res.assert_problem(422, "validation_failed");
        assert_eq!(res.field(), field, "{body}: {}", res.body);
        assert!(res.body["detail"].as_str().unwrap().contains(says), "{says}: {}", res.body);
    }
    // OpenID Connect fields on a SAML connection are refused by name; nothing changed.
    let res = app
        .call(
            reqwest::Method::PATCH,
            Some(&owner),
            &format!("{conns}/{connection}"),
            Some(json!({"issuer": "https://x.test"})),
        )
        .await;
    res.assert_problem(422, "validation_failed");
    assert_eq!(res.field(), "issuer");

    // The IdP may need the portal's entity id and ACS URL before it gives its metadata: a
    // connection without it is `incomplete`, serves its SP metadata, and signs nobody in.
    assert_eq!(
        app.op(Some(&owner), ops::delete_sso_connection(&team, &connection)).await.status,
        StatusCode::NO_CONTENT
    );
    let bare =
        app.call(reqwest::Method::POST, Some(&owner), &conns, Some(json!({"name": "Later", "protocol": "saml"}))).await;
    assert_eq!(bare.status, StatusCode::CREATED, "{}", bare.body);
    assert_eq!(bare.body["status"], "incomplete");
    assert_eq!(bare.body["saml"]["idp_sso_url"], "");
    let connection = bare.body["id"].as_str().unwrap().to_owned();
    let sp = app.op(None, ops::saml_metadata(&connection)).await;
    assert_eq!(sp.status, StatusCode::OK);
    assert!(sp.body.as_str().unwrap().contains("AssertionConsumerService"));
    let browser = Browser::new();
    let res = browser.get(&app.url(&start(&team))).await;
    assert_eq!(location(&res), "/sign-in?sso_error=provider_unreachable");
    let entries = activity(&app, &owner, &team).await;
    assert!(entries.iter().any(|(a, s)| a == "sso.sign_in_failed" && s.contains("no IdP metadata yet")), "{entries:?}");
    // Then the metadata, by URL: fetched through the guarded client.
    let by_url =
        UpdateSsoConnectionRequest { idp_metadata_url: Some(idp.metadata_url.clone().into()), ..Default::default() };
    let res = app.op(Some(&owner), ops::update_sso_connection(&team, &connection, &by_url)).await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.body);
    assert_eq!(res.body["status"], "untested");
    assert_eq!(res.body["saml"]["idp_metadata_url"], idp.metadata_url.as_str());
    assert_eq!(res.body["issuer"], idp.metadata_url.as_str());
    let browser = Browser::new();
    let posted = through_idp(&browser, &app, &start(&team), "ada@acme.test", &[]).await;
    assert_eq!(post(&browser, &app, &posted).await, format!("/teams/{team}"));
}

/// The IdP made to misbehave: each refused with its reason, nobody signed in.
#[tokio::test]
async fn misissued_responses_are_refused_with_their_reason() {
    let dns = DnsServer::start().await;
    let idp = Idp::start().await;
    let (app, owner, team, _) = saml_team(&[], &dns, &idp).await;
    for (knobs, reason) in [
        (vec![("x_key", "rogue")], "bad_signature"),
        (vec![("x_sign", "none")], "bad_signature"),
        (vec![("x_audience", "https://another-sp.test/metadata")], "wrong_audience"),
        (vec![("x_recipient", "https://another-sp.test/acs")], "wrong_audience"),
        (vec![("x_age", "900")], "expired"),
        (vec![("x_in_response_to", "_another-request")], "wrong_request"),
    ] {
        let browser = Browser::new();
        let posted = through_idp(&browser, &app, &start(&team), "bob@acme.test", &knobs).await;
        assert_eq!(post(&browser, &app, &posted).await, format!("/sign-in?sso_error={reason}"), "{knobs:?}");
        assert!(browser.access_token(&app).await.is_none(), "{knobs:?}");
    }
    // The response only, or the assertion only, signed: both are taken.
    for sign in ["response", "assertion"] {
        let browser = Browser::new();
        let posted = through_idp(&browser, &app, &start(&team), "bob@acme.test", &[("x_sign", sign)]).await;
        assert_eq!(post(&browser, &app, &posted).await, format!("/teams/{team}"), "{sign}");
    }
    let entries = activity(&app, &owner, &team).await;
    let failed: Vec<_> = entries.iter().filter(|(a, _)| a == "sso.sign_in_failed").collect();
    assert_eq!(failed.len(), 6, "{failed:?}");
}

/// A signed response, the assertion in it, and the signature over it.
struct Parts {
    xml: String,
    /// The assertion as signed (with its signature, if it has one).
    assertion: String,
}

fn parts(xml: &str) -> Parts {
    let start = xml.find("<saml:Assertion ").unwrap();
    let end = xml.find("</saml:Assertion>").unwrap() + "</saml:Assertion>".len();
    Parts { xml: xml.to_owned(), assertion: xml[start..end].to_owned() }
}

/// The first `<ds:Signature>` element of `xml`.
fn signature(xml: &str) -> String {
    let start = xml.find("<ds:Signature").unwrap();
    let end = xml[start..].find("</ds:Signature>").unwrap() + start + "</ds:Signature>".len();
    xml[start..end].to_owned()
}

fn without_signature(xml: &str) -> String {
    xml.replacen(&signature(xml), "", 1)
}

/// The same element naming the owner instead (its NameID and e-mail attribute), with `id`.
fn as_owner(xml: &str, id: Option<&str>) -> String {
    let mut evil = xml.replace(">bob@acme.test<", ">owner@acme.test<");
    if let Some(id) = id {
        let old = regex::Regex::new(r#"^<[^>]* ID="([^"]+)""#).unwrap().captures(&evil).unwrap()[1].to_owned();
        evil = evil.replacen(&format!("ID=\"{old}\""), &format!("ID=\"{id}\""), 1);
    }
    evil
}

/// Inserts `what` right before the element's closing tag `close`.
fn inside(xml: &str, close: &str, what: &str) -> String {
    let at = xml.rfind(close).unwrap();
    format!("{}{what}{}", &xml[..at], &xml[at..])
}

/// Signature wrapping, XSW1-XSW8 (as named by SAML Raider after "On Breaking SAML"), comment
/// injection, and forged envelopes, each built from the IdP's real signed response for bob
/// (a member) and aimed at the owner's account: none signs anyone in as the owner.
#[tokio::test]
async fn wrapped_and_rewritten_responses_never_sign_in_as_another_user() {
    let dns = DnsServer::start().await;
    let idp = Idp::start().await;
    let (app, _owner, team, _) = saml_team(&[], &dns, &idp).await;

    type Attack = fn(&Parts) -> String;
    // Attacks on the response's signature (the IdP signs the response only).
    let on_response: [(&str, Attack); 3] = [
        ("XSW1: the signed response inside the signature of an evil one", |p| {
            let sig = signature(&p.xml);
            let original = without_signature(&p.xml);
            let evil = as_owner(&original, Some("_evil"));
            let wrapped_sig = inside(&sig, "</ds:Signature>", &original);
            evil.replacen("</saml:Issuer>", &format!("</saml:Issuer>{wrapped_sig}"), 1)
        }),
        ("XSW2: the signed response detached before the signature of an evil one", |p| {
            let sig = signature(&p.xml);
            let original = without_signature(&p.xml);
            let evil = as_owner(&original, Some("_evil"));
            evil.replacen("</saml:Issuer>", &format!("</saml:Issuer>{original}{sig}"), 1)
        }),
        ("an evil unsigned assertion in the signed response", |p| {
            p.xml.replace(&p.assertion, &as_owner(&p.assertion, None))
        }),
    ];
    // Attacks on the assertion's signature (the IdP signs the assertion only).
    let on_assertion: [(&str, Attack); 8] = [
        ("XSW3: an evil assertion with the same id before the signed one", |p| {
            let evil = without_signature(&as_owner(&p.assertion, None));
            p.xml.replace(&p.assertion, &format!("{evil}{}", p.assertion))
        }),
        ("XSW4: the signed assertion inside an evil one", |p| {
            let evil = without_signature(&as_owner(&p.assertion, Some("_evil")));
            p.xml.replace(&p.assertion, &inside(&evil, "</saml:Assertion>", &p.assertion))
        }),
        ("XSW5: the signed assertion rewritten, an unsigned copy of the original after it", |p| {
            let evil = as_owner(&p.assertion, None);
            p.xml.replace(&p.assertion, &format!("{evil}{}", without_signature(&p.assertion)))
        }),
        ("XSW6: the original inside the signature of the rewritten assertion", |p| {
            let evil = as_owner(&p.assertion, Some("_evil"));
            let sig = signature(&evil);
            let wrapped = inside(&sig, "</ds:Signature>", &without_signature(&p.assertion));
            p.xml.replace(&p.assertion, &evil.replacen(&sig, &wrapped, 1))
        }),
        ("XSW7: the signed assertion in Extensions, an evil one beside it", |p| {
            let evil = without_signature(&as_owner(&p.assertion, Some("_evil")));
            p.xml.replace(&p.assertion, &format!("<samlp:Extensions>{}</samlp:Extensions>{evil}", p.assertion))
        }),
        ("XSW8: the original in an Object of the rewritten assertion's signature", |p| {
            let evil = as_owner(&p.assertion, Some("_evil"));
            let sig = signature(&evil);
            let object = format!("<ds:Object>{}</ds:Object>", without_signature(&p.assertion));
            p.xml.replace(&p.assertion, &evil.replacen(&sig, &inside(&sig, "</ds:Signature>", &object), 1))
        }),
        ("the signed assertion rewritten in place", |p| p.xml.replace(&p.assertion, &as_owner(&p.assertion, None))),
        ("the signed assertion in a forged envelope that names the owner", |p| {
            let forged = p.xml.replace(
                &p.assertion,
                &format!("{}{}", without_signature(&as_owner(&p.assertion, Some("_evil"))), p.assertion),
            );
            forged.replacen("InResponseTo=", "Consent=\"forged\" InResponseTo=", 1)
        }),
    ];
    let mut outcomes = Vec::new();
    for (sign, attacks) in [("response", &on_response[..]), ("assertion", &on_assertion[..])] {
        for (name, attack) in attacks {
            let browser = Browser::new();
            let posted = through_idp(&browser, &app, &start(&team), "bob@acme.test", &[("x_sign", sign)]).await;
            let forged = posted.with_xml(&attack(&parts(&posted.xml())));
            let arrived = post(&browser, &app, &forged).await;
            let who = email_of(&browser, &app).await;
            assert_ne!(who.as_deref(), Some("owner@acme.test"), "{name}: signed in as the owner");
            assert!(arrived.starts_with("/sign-in?sso_error="), "{name}: {arrived} as {who:?}");
            outcomes.push(format!("{name}: {arrived}"));
        }
    }
    eprintln!("{}", outcomes.join("\n"));

    // A comment in the signed NameID: the IdP signed owner@acme.test.evil.test (comments are not
    // signed); a reader that took the first text node would see owner@acme.test.
    let browser = Browser::new();
    let posted = through_idp(&browser, &app, &start(&team), "owner@acme.test.evil.test", &[]).await;
    let xml = posted.xml().replace(">owner@acme.test.evil.test<", ">owner@acme.test<!---->.evil.test<");
    assert_eq!(post(&browser, &app, &posted.with_xml(&xml)).await, "/sign-in?sso_error=invalid_token");
    assert!(browser.access_token(&app).await.is_none());
    // The untouched response of that address is refused for what it is: outside the domain.
    let browser = Browser::new();
    let posted = through_idp(&browser, &app, &start(&team), "owner@acme.test.evil.test", &[]).await;
    assert_eq!(post(&browser, &app, &posted).await, "/sign-in?sso_error=unknown_user");
}

/// Replays, a response to another request, another browser, and unsolicited responses.
#[tokio::test]
async fn replayed_foreign_and_unsolicited_responses_are_refused() {
    let dns = DnsServer::start().await;
    let idp = Idp::start().await;
    let (app, owner, team, connection) = saml_team(&[], &dns, &idp).await;
    // The same response twice: the second is a replay, in this browser or another.
    let browser = Browser::new();
    let posted = through_idp(&browser, &app, &start(&team), "bob@acme.test", &[]).await;
    assert_eq!(post(&browser, &app, &posted).await, format!("/teams/{team}"));
    assert_eq!(post(&browser, &app, &posted).await, "/sign-in?sso_error=replayed");
    assert_eq!(post(&Browser::new(), &app, &posted).await, "/sign-in?sso_error=replayed");
    // A response to one request, posted for another flow of the same browser: refused.
    let browser = Browser::new();
    let first = through_idp(&browser, &app, &start(&team), "bob@acme.test", &[]).await;
    let second = through_idp(&browser, &app, &start(&team), "bob@acme.test", &[]).await;
    let crossed = Posted { relay: second.relay.clone(), ..first.clone() };
    assert_eq!(post(&browser, &app, &crossed).await, "/sign-in?sso_error=wrong_request");
    // An attacker's own response, delivered to a victim's browser (login CSRF): the ACS takes it,
    // but the sign-in completes only in the browser that started it.
    let attacker = Browser::new();
    let theirs = through_idp(&attacker, &app, &start(&team), "bob@acme.test", &[]).await;
    let victim = Browser::new();
    assert_eq!(post(&victim, &app, &theirs).await, "/sign-in?sso_error=other_browser");
    assert!(victim.access_token(&app).await.is_none());
    // Unsolicited (started at the IdP): refused unless the connection allows it.
    let idp_url = origin(&idp.metadata_url);
    // A post without a response is a bad request, not a sign-in step.
    for form in ["", "RelayState=x", "SAMLResponse="] {
        let res =
            app.send(app.client.post(app.url(&format!("/api/v1/auth/sso/saml/{connection}/acs"))).body(form)).await;
        res.assert_problem(400, "bad_request");
    }
    // A SAML flow's state is no OpenID Connect callback's.
    let browser = Browser::new();
    let theirs = through_idp(&browser, &app, &start(&team), "bob@acme.test", &[]).await;
    let callback = format!("/api/v1/auth/sso/callback?state={}&code=abc", theirs.relay);
    assert_eq!(browser.arrive(&app.url(&callback)).await, "/sign-in?sso_error=unknown_state");
    let acs = format!("http://127.0.0.1:9/api/v1/auth/sso/saml/{connection}/acs");
    let entity = format!("http://127.0.0.1:9/api/v1/sso/saml/{connection}/metadata");
    let unsolicited = vec![
        ("email".to_owned(), "ada@acme.test".to_owned()),
        ("x_acs".to_owned(), acs),
        ("x_audience".to_owned(), entity),
    ];
    let browser = Browser::new();
    let posted = idp_login(&browser, &idp_url, &unsolicited).await;
    assert_eq!(post(&browser, &app, &posted).await, "/sign-in?sso_error=wrong_request");
    let allow = UpdateSsoConnectionRequest { allow_idp_initiated: Some(true), ..Default::default() };
    assert_eq!(
        app.op(Some(&owner), ops::update_sso_connection(&team, &connection, &allow)).await.status,
        StatusCode::OK
    );
    let browser = Browser::new();
    let posted = idp_login(&browser, &idp_url, &unsolicited).await;
    assert_eq!(post(&browser, &app, &posted).await, format!("/teams/{team}"));
    assert_eq!(email_of(&browser, &app).await.as_deref(), Some("ada@acme.test"));
    assert_eq!(post(&Browser::new(), &app, &posted).await, "/sign-in?sso_error=replayed");
}

/// Two instances of one deployment: a request made by one is answered at the other, and the
/// same response posted to the first is a replay.
#[tokio::test]
async fn a_saml_flow_started_on_one_instance_completes_on_another_once() {
    let dns = DnsServer::start().await;
    let idp = Idp::start().await;
    let (first, _owner, team, _) = saml_team(&[], &dns, &idp).await;
    let flags = ["--dns-resolver", &dns.flag(), "--webhook-allow-http", "--webhook-allow-private"];
    let second = spawn_app_with(Options::shared(Some(first.database_url.clone()), &flags)).await;
    let browser = Browser::new();
    let posted = through_idp(&browser, &first, &start(&team), "ada@acme.test", &[]).await;
    assert_eq!(post(&browser, &second, &posted).await, format!("/teams/{team}"));
    assert!(browser.access_token(&second).await.is_some());
    assert_eq!(post(&browser, &first, &posted).await, "/sign-in?sso_error=replayed");
    assert_eq!(post(&Browser::new(), &second, &posted).await, "/sign-in?sso_error=replayed");
}
