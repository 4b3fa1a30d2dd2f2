//! OpenID Connect, the relying party's side: discovery, the authorization request (code flow
//! with PKCE, `state` and `nonce`) and the checked ID token. The `openidconnect` crate does the
//! protocol; this module gives it the webhook client's guard (no private addresses unless
//! configured, every redirect checked), keeps providers' discovery documents and keys for an
//! hour, fetches the keys again when a token names one it does not know (key rotation), and says
//! why a sign-in failed in words a security team can use.
//!
//! Nothing here logs a token or a code.

use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use openidconnect::core::{
    CoreAuthenticationFlow, CoreClient, CoreIdTokenClaims, CoreIdTokenVerifier, CoreJsonWebKeySet,
    CoreJwsSigningAlgorithm, CoreProviderMetadata,
};
use openidconnect::{
    AuthorizationCode, ClaimsVerificationError, ClientId, ClientSecret, CsrfToken, HttpRequest, HttpResponse,
    IssuerUrl, Nonce, PkceCodeChallenge, PkceCodeVerifier, RedirectUrl, Scope, SignatureVerificationError,
    TokenResponse,
};
use portal_domain::sealed::SecretBox;

use crate::webhooks::Reach;

/// The longest answer of a provider read.
const MAX_ANSWER_BYTES: usize = 1024 * 1024;
/// How long a provider's discovery document and keys are kept.
const PROVIDER_TTL: Duration = Duration::from_secs(3600);
/// Clock skew allowed on `exp` and `iat`.
const SKEW_SECONDS: i64 = 60;
/// How old an ID token may be when it arrives (it is issued at the code exchange, just now).
const MAX_TOKEN_AGE_SECONDS: i64 = 600;

/// Why a sign-in through a provider failed: a stable reason (recorded, shown, sent in webhook
/// events) and what happened, for the activity log (never a token).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    pub reason: Reason,
    pub detail: String,
}

/// The reasons a security team tells apart.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reason {
    /// The provider could not be reached, or its discovery document or keys did not parse.
    ProviderUnreachable,
    /// The provider answered the authorization with an error (the user cancelled, or is not
    /// assigned to the application).
    ProviderError,
    /// The code exchange failed (a used or foreign code, a wrong client secret).
    CodeRejected,
    /// The ID token's signature does not verify, or uses an algorithm not allowed (`none`,
    /// HS256 with the client secret).
    BadSignature,
    /// The ID token is for another client (`aud`, `azp`).
    WrongAudience,
    /// The ID token is from another issuer.
    WrongIssuer,
    /// The ID token has expired, or was issued too long ago or in the future.
    Expired,
    /// The ID token's `nonce` is not this flow's.
    WrongNonce,
    /// Anything else wrong with the token.
    InvalidToken,
    /// The `state` names no flow under way (unknown or expired).
    UnknownState,
    /// The flow was completed already (a replayed callback).
    Replayed,
    /// The callback came from another browser than the one that started the flow.
    OtherBrowser,
    /// The provider's user has no address at a verified domain of the team, or no address.
    UnknownUser,
    /// A SAML response that answers another request (`InResponseTo`), or none when sign-ins
    /// started at the IdP are not allowed.
    WrongRequest,
}

impl Reason {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::ProviderUnreachable => "provider_unreachable",
            Self::ProviderError => "provider_error",
            Self::CodeRejected => "code_rejected",
            Self::BadSignature => "bad_signature",
            Self::WrongAudience => "wrong_audience",
            Self::WrongIssuer => "wrong_issuer",
            Self::Expired => "expired",
            Self::WrongNonce => "wrong_nonce",
            Self::InvalidToken => "invalid_token",
            Self::UnknownState => "unknown_state",
            Self::Replayed => "replayed",
            Self::OtherBrowser => "other_browser",
            Self::UnknownUser => "unknown_user",
            Self::WrongRequest => "wrong_request",
        }
    }
}

impl Failure {
    pub fn new(reason: Reason, detail: impl Into<String>) -> Self {
        Self { reason, detail: detail.into() }
    }

    /// How the activity log says it: the reason and what happened.
    pub fn summary(&self) -> String {
        let detail: String = self.detail.chars().take(300).collect();
        format!("{}: {detail}", self.reason.as_str())
    }
}

/// What a provider said of its user, from the verified ID token.
#[derive(Debug, Clone)]
pub struct Claims {
    pub subject: String,
    pub email: Option<String>,
    pub email_verified: Option<bool>,
    pub name: Option<String>,
    /// Every claim, for "Test connection".
    pub all: serde_json::Value,
}

/// A flow's secrets, to be kept until the provider sends the browser back.
pub struct Leaving {
    pub authorization_url: String,
    pub pkce_verifier: String,
}

#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct HttpError(String);

/// The relying party: the guarded client, the providers seen, and the seal of client secrets.
pub struct Oidc {
    http: reqwest::Client,
    reach: Reach,
    providers: moka::sync::Cache<String, Arc<CoreProviderMetadata>>,
    secrets: SecretBox,
}

impl Oidc {
    pub fn new(reach: Reach, server_secret: &str) -> Result<Self, reqwest::Error> {
        Ok(Self {
            http: crate::webhooks::client(reach)?,
            reach,
            providers: moka::sync::Cache::builder().max_capacity(1000).time_to_live(PROVIDER_TTL).build(),
            secrets: SecretBox::derive("partner-portal 2026 sso secret v1", server_secret.as_bytes()),
        })
    }

    /// Seals a secret (a client secret, a PKCE verifier) of `owner` (a connection).
    pub fn seal(&self, owner: uuid::Uuid, secret: &str) -> String {
        self.secrets.seal(owner.as_bytes(), secret.as_bytes())
    }

    pub fn open(&self, owner: uuid::Uuid, sealed: &str) -> Option<String> {
        self.secrets.open(owner.as_bytes(), sealed).and_then(|b| String::from_utf8(b).ok())
    }

    /// Why the portal would not call the issuer; None when it may.
    pub fn refusal(&self, issuer: &str) -> Option<String> {
        match reqwest::Url::parse(issuer) {
            Ok(url) => self.reach.refusal(&url),
            Err(_) => Some("is not a URL".to_owned()),
        }
    }

    /// Sends one request of the protocol through the guarded client.
    async fn send(&self, request: HttpRequest) -> Result<HttpResponse, HttpError> {
        let (parts, body) = request.into_parts();
        let url = reqwest::Url::parse(&parts.uri.to_string()).map_err(|e| HttpError(e.to_string()))?;
        if let Some(why) = self.reach.refusal(&url) {
            return Err(HttpError(format!("{} {why}", crate::webhooks::shown_url(url.as_str()))));
        }
        let mut outgoing = self.http.request(parts.method, url).body(body);
        for (name, value) in &parts.headers {
            // reqwest states the body's length itself; a second Content-Length is refused.
            if name != reqwest::header::CONTENT_LENGTH && name != reqwest::header::HOST {
                outgoing = outgoing.header(name, value);
            }
        }
        let answer = outgoing.send().await.map_err(|e| HttpError(chain(&e)))?;
        let status = answer.status();
        let headers = answer.headers().clone();
        let mut body = Vec::new();
        let mut answer = answer;
        while let Some(chunk) = answer.chunk().await.map_err(|e| HttpError(e.to_string()))? {
            if body.len() + chunk.len() > MAX_ANSWER_BYTES {
                return Err(HttpError("the answer is larger than 1 MiB".to_owned()));
            }
            body.extend_from_slice(&chunk);
        }
        let mut response = HttpResponse::new(body);
        *response.status_mut() = status;
        *response.headers_mut() = headers;
        Ok(response)
    }

    /// Fetches a SAML IdP's metadata document through the guarded client (at most 1 MiB); the
    /// error names the cause.
    pub async fn fetch_metadata(&self, url: &str) -> Result<String, String> {
        if let Some(why) = self.refusal(url) {
            return Err(why);
        }
        let uri: openidconnect::http::Uri = url.parse().map_err(|_| "is not a URL".to_owned())?;
        let mut request = HttpRequest::new(Vec::new());
        *request.uri_mut() = uri;
        let answer = self.send(request).await.map_err(|e| format!("could not be fetched: {e}"))?;
        if !answer.status().is_success() {
            return Err(format!("answered {}", answer.status()));
        }
        String::from_utf8(answer.into_body()).map_err(|_| "answered something that is not UTF-8 XML".to_owned())
    }

    /// Fetches the issuer's discovery document and keys; the error names the cause.
    pub async fn discover(&self, issuer: &str) -> Result<Arc<CoreProviderMetadata>, Failure> {
        let unreachable = |detail: String| Failure::new(Reason::ProviderUnreachable, detail);
        let issuer_url = IssuerUrl::new(issuer.to_owned()).map_err(|e| unreachable(format!("the issuer {e}")))?;
        let http = |request: HttpRequest| self.send(request);
        let metadata = CoreProviderMetadata::discover_async(issuer_url, &http).await.map_err(|e| {
            unreachable(format!("discovery at {issuer}/.well-known/openid-configuration failed: {}", chain(&e)))
        })?;
        let metadata = Arc::new(metadata);
        self.providers.insert(issuer.to_owned(), metadata.clone());
        Ok(metadata)
    }

    /// The provider, from the last hour's discovery or a new one.
    async fn provider(&self, issuer: &str) -> Result<Arc<CoreProviderMetadata>, Failure> {
        match self.providers.get(issuer) {
            Some(found) => Ok(found),
            None => self.discover(issuer).await,
        }
    }

    fn client(
        metadata: &CoreProviderMetadata,
        (client_id, client_secret): (&str, &str),
        redirect_uri: &str,
    ) -> Result<Client, Failure> {
        let redirect = RedirectUrl::new(redirect_uri.to_owned())
            .map_err(|e| Failure::new(Reason::InvalidToken, format!("the redirect URI {e}")))?;
        Ok(CoreClient::from_provider_metadata(
            metadata.clone(),
            ClientId::new(client_id.to_owned()),
            Some(ClientSecret::new(client_secret.to_owned())),
        )
        .set_redirect_uri(redirect))
    }

    /// The provider's authorization URL for a flow with this `state` and `nonce`, and the PKCE
    /// verifier to keep.
    pub async fn leave(
        &self,
        (issuer, client_id, client_secret): (&str, &str, &str),
        redirect_uri: &str,
        (state, nonce): (&str, &str),
        login_hint: Option<&str>,
    ) -> Result<Leaving, Failure> {
        let metadata = self.provider(issuer).await?;
        let client = Self::client(&metadata, (client_id, client_secret), redirect_uri)?;
        let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
        let (state, nonce) = (state.to_owned(), nonce.to_owned());
        let mut request = client
            .authorize_url(
                CoreAuthenticationFlow::AuthorizationCode,
                move || CsrfToken::new(state),
                move || Nonce::new(nonce),
            )
            .add_scope(Scope::new("email".to_owned()))
            .add_scope(Scope::new("profile".to_owned()))
            .set_pkce_challenge(challenge);
        if let Some(hint) = login_hint {
            request = request.add_extra_param("login_hint", hint.to_owned());
        }
        let (url, _, _) = request.url();
        Ok(Leaving { authorization_url: url.to_string(), pkce_verifier: verifier.secret().clone() })
    }

    /// Exchanges the code and checks the ID token fully: signature against the provider's keys
    /// (fetched again once if the token names an unknown key), `iss`, `aud`, `azp`, `exp` and
    /// `iat` with a minute of skew, and the flow's `nonce`.
    pub async fn finish(
        &self,
        (issuer, client_id, client_secret): (&str, &str, &str),
        redirect_uri: &str,
        (code, pkce_verifier, nonce): (&str, String, &str),
    ) -> Result<Claims, Failure> {
        let metadata = self.provider(issuer).await?;
        let client = Self::client(&metadata, (client_id, client_secret), redirect_uri)?;
        let http = |request: HttpRequest| self.send(request);
        let exchange = client
            .exchange_code(AuthorizationCode::new(code.to_owned()))
            .map_err(|e| Failure::new(Reason::ProviderUnreachable, format!("the provider has no token endpoint: {e}")))?
            .set_pkce_verifier(PkceCodeVerifier::new(pkce_verifier));
        let answer = exchange.request_async(&http).await.map_err(|e| {
            let detail = match &e {
                openidconnect::RequestTokenError::ServerResponse(r) => format!("the provider refused the code: {r}"),
                other => format!("the code exchange failed: {}", chain(other)),
            };
            Failure::new(Reason::CodeRejected, detail)
        })?;
        let token = answer
            .id_token()
            .ok_or_else(|| Failure::new(Reason::InvalidToken, "the provider's answer has no ID token"))?
            .clone();
        let nonce = Nonce::new(nonce.to_owned());
        let checked = token.claims(&verifier(&client), &nonce).cloned();
        let claims = match checked {
            Err(ClaimsVerificationError::SignatureVerification(SignatureVerificationError::NoMatchingKey)) => {
                // The provider may have rotated its keys: fetch them again, once.
                let keys = CoreJsonWebKeySet::fetch_async(metadata.jwks_uri(), &http).await.map_err(|e| {
                    Failure::new(Reason::ProviderUnreachable, format!("the provider's keys: {}", chain(&e)))
                })?;
                let refreshed = Arc::new((*metadata).clone().set_jwks(keys));
                self.providers.insert(issuer.to_owned(), refreshed.clone());
                let client = Self::client(&refreshed, (client_id, client_secret), redirect_uri)?;
                token.claims(&verifier(&client), &nonce).cloned()
            }
            other => other,
        }
        .map_err(refused)?;
        // The crate leaves `azp` to the client: when present, it must be this client.
        if let Some(party) = claims.authorized_party()
            && party.as_str() != client_id
        {
            return Err(Failure::new(
                Reason::WrongAudience,
                format!("the ID token's authorized party (azp) is `{}`, not this client", party.as_str()),
            ));
        }
        if claims.subject().as_str().chars().count() > 255 {
            return Err(Failure::new(Reason::InvalidToken, "the subject (sub) is longer than 255 characters"));
        }
        Ok(read_claims(&claims))
    }
}

/// A client made from a provider's discovery document.
type Client = CoreClient<
    openidconnect::EndpointSet,
    openidconnect::EndpointNotSet,
    openidconnect::EndpointNotSet,
    openidconnect::EndpointNotSet,
    openidconnect::EndpointMaybeSet,
    openidconnect::EndpointMaybeSet,
>;

/// The ID token check: the crate's (signature, `iss`, `aud` with no other audience trusted,
/// `exp`, `nonce`), with asymmetric algorithms only, a minute of skew and an `iat` check.
fn verifier(client: &Client) -> CoreIdTokenVerifier<'_> {
    client
        .id_token_verifier()
        // Never `none`, never HS256 keyed by the client secret.
        .set_allowed_algs([
            CoreJwsSigningAlgorithm::RsaSsaPkcs1V15Sha256,
            CoreJwsSigningAlgorithm::RsaSsaPkcs1V15Sha384,
            CoreJwsSigningAlgorithm::RsaSsaPkcs1V15Sha512,
            CoreJwsSigningAlgorithm::RsaSsaPssSha256,
            CoreJwsSigningAlgorithm::EcdsaP256Sha256,
            CoreJwsSigningAlgorithm::EcdsaP384Sha384,
        ])
        .set_time_fn(|| Utc::now() - chrono::Duration::seconds(SKEW_SECONDS))
        .set_issue_time_verifier_fn(|issued| {
            let now = Utc::now();
            if issued > now + chrono::Duration::seconds(SKEW_SECONDS) {
                Err(format!("ID token issued in the future ({issued})"))
            } else if issued < now - chrono::Duration::seconds(MAX_TOKEN_AGE_SECONDS) {
                Err(format!("ID token issued too long ago ({issued})"))
            } else {
                Ok(())
            }
        })
}

/// An error with its causes, as one line.
fn chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(&format!(": {cause}"));
        source = cause.source();
    }
    text
}

/// A refused token, as a reason.
fn refused(error: ClaimsVerificationError) -> Failure {
    let reason = match &error {
        ClaimsVerificationError::SignatureVerification(_) => Reason::BadSignature,
        ClaimsVerificationError::InvalidAudience(_) => Reason::WrongAudience,
        ClaimsVerificationError::InvalidIssuer(_) => Reason::WrongIssuer,
        ClaimsVerificationError::Expired(_) => Reason::Expired,
        ClaimsVerificationError::InvalidNonce(_) => Reason::WrongNonce,
        _ => Reason::InvalidToken,
    };
    Failure::new(reason, chain(&error))
}

fn read_claims(claims: &CoreIdTokenClaims) -> Claims {
    Claims {
        subject: claims.subject().as_str().to_owned(),
        email: claims.email().map(|e| e.as_str().to_owned()),
        email_verified: claims.email_verified(),
        name: claims.name().and_then(|n| n.get(None)).map(|n| n.as_str().to_owned()),
        all: serde_json::to_value(claims).unwrap_or(serde_json::Value::Null),
    }
}
