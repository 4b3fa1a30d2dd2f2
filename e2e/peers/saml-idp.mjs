// A real SAML 2.0 identity provider for the tests: `samlify` (npm) as IdP. Not a mock: the
// responses are samlify's, signed by its XML signature code (xml-crypto, RSA-SHA256, exclusive
// canonicalization) with the provider's own key; the service provider's AuthnRequest arrives by
// the HTTP-Redirect binding and the response leaves by the HTTP-POST binding, an auto-submitting
// form as every IdP sends.
//
//   node peers/saml-idp.mjs CONFIG.json
//
// CONFIG: { "port": 0, "users": { "<address>": { "name": "..." } } }
// Prints one line `{"metadata_url": "...", "entity_id": "...", "metadata": "<xml>"}` once it listens.
//
// GET  /metadata  the IdP's metadata (entity id, SSO endpoint, signing certificate)
// GET  /sso       the sign-in page for an AuthnRequest (SAMLRequest, RelayState)
// POST /login     signs `email` in: the auto-posting form to the service provider's ACS
//
// Hostile cases need an IdP that misbehaves the way real ones are made to: /login takes knobs
// that change what it signs (`x_sign`: response | assertion | both | none; `x_key`: rogue signs
// with a key the service provider was never given; `x_audience`, `x_recipient`,
// `x_in_response_to`, `x_name_id` replace those values; `x_age` moves every time back by that
// many seconds; without a SAMLRequest, `x_acs` and `x_audience` make an unsolicited response).

import { execFileSync } from 'node:child_process';
import { readFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import http from 'node:http';
import { inflateRawSync } from 'node:zlib';
import samlify from 'samlify';

const config = JSON.parse(readFileSync(process.argv[2], 'utf8'));
process.stdout.on('error', () => {});
// samlify validates XML it parses; this IdP parses nothing with it (the request is read below).
samlify.setSchemaValidator({ validate: () => Promise.resolve('skipped') });

/** An RSA key and its self-signed certificate, made by openssl. */
function keyPair(name) {
  const dir = mkdtempSync(join(tmpdir(), 'pp-saml-idp-'));
  try {
    execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-sha256', '-days', '30',
      '-subj', `/CN=${name}`, '-keyout', join(dir, 'key.pem'), '-out', join(dir, 'cert.pem')], { stdio: 'ignore' });
    return { key: readFileSync(join(dir, 'key.pem'), 'utf8'), cert: readFileSync(join(dir, 'cert.pem'), 'utf8') };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const own = keyPair('partner-portal test IdP');
const rogue = keyPair('partner-portal test IdP');
const users = config.users ?? {};

const escape = (s) => String(s).replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');

function idpWith(base, pair) {
  return samlify.IdentityProvider({
    entityID: `${base}/metadata`,
    privateKey: pair.key,
    signingCert: pair.cert,
    nameIDFormat: ['urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress'],
    singleSignOnService: [{ Binding: 'urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect', Location: `${base}/sso` }],
    requestSignatureAlgorithm: 'http://www.w3.org/2001/04/xmldsig-more#rsa-sha256',
  });
}

/** What an AuthnRequest says: its ID, the issuer (the SP's entity id) and its ACS URL. */
function readRequest(encoded) {
  const xml = inflateRawSync(Buffer.from(encoded, 'base64')).toString('utf8');
  const attr = (name) => (xml.match(new RegExp(`\\s${name}="([^"]*)"`)) ?? [])[1];
  const issuer = (xml.match(/<(?:\w+:)?Issuer[^>]*>([^<]*)</) ?? [])[1];
  return { id: attr('ID'), acs: attr('AssertionConsumerServiceURL'), issuer };
}

function form(res, status, body) {
  res.writeHead(status, { 'content-type': 'text/html; charset=utf-8' });
  res.end(`<!doctype html><html><head><title>Test IdP</title></head><body>${body}</body></html>`);
}

async function readForm(req) {
  let body = '';
  for await (const chunk of req) body += chunk;
  return Object.fromEntries(new URLSearchParams(body));
}

const server = http.createServer(async (req, res) => {
  const base = `http://127.0.0.1:${server.address().port}`;
  const url = new URL(req.url, base);
  try {
    if (req.method === 'GET' && url.pathname === '/metadata') {
      res.writeHead(200, { 'content-type': 'application/samlmetadata+xml' });
      res.end(idpWith(base, own).getMetadata());
      return;
    }
    if (req.method === 'GET' && url.pathname === '/sso') {
      const request = url.searchParams.get('SAMLRequest') ?? '';
      const relay = url.searchParams.get('RelayState') ?? '';
      const { id } = readRequest(request);
      form(res, 200, `<h1>Test IdP: sign in</h1><p>Request ${escape(id)}</p>
<form method="post" action="/login">
<input type="hidden" name="SAMLRequest" value="${escape(request)}">
<input type="hidden" name="RelayState" value="${escape(relay)}">
<label>E-mail <input name="email" type="email"></label>
<button type="submit">Sign in</button></form>`);
      return;
    }
    if (req.method === 'POST' && url.pathname === '/login') {
      const got = await readForm(req);
      const user = users[got.email];
      if (!user) {
        form(res, 403, `<p>Unknown user ${escape(got.email)}</p>`);
        return;
      }
      const request = got.SAMLRequest ? readRequest(got.SAMLRequest) : { id: '', acs: got.x_acs, issuer: got.x_audience };
      const response = await respond(base, request, got, user);
      form(res, 200, `<form method="post" action="${escape(request.acs)}" id="saml">
<input type="hidden" name="SAMLResponse" value="${escape(response)}">
<input type="hidden" name="RelayState" value="${escape(got.RelayState ?? '')}">
<noscript><button type="submit">Continue</button></noscript></form>
<script>document.getElementById('saml').submit()</script>`);
      return;
    }
    res.writeHead(404).end();
  } catch (e) {
    res.writeHead(500, { 'content-type': 'text/plain' }).end(String(e?.stack ?? e));
  }
});

/** The base64 SAMLResponse for `request`, signed as the knobs say. */
async function respond(base, request, got, user) {
  const sign = got.x_sign ?? 'both';
  const idp = idpWith(base, got.x_key === 'rogue' ? rogue : own);
  const sp = samlify.ServiceProvider({
    entityID: request.issuer,
    assertionConsumerService: [{ Binding: 'urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST', Location: request.acs }],
    wantAssertionsSigned: sign === 'assertion' || sign === 'both',
    wantMessageSigned: sign === 'response' || sign === 'both',
  });
  const age = Number(got.x_age ?? 0) * 1000;
  const now = new Date(Date.now() - age);
  const later = new Date(now.getTime() + 5 * 60 * 1000);
  const email = got.x_name_id ?? got.email;
  const values = {
    ID: `_${crypto.randomUUID()}`,
    AssertionID: `_${crypto.randomUUID()}`,
    Destination: got.x_recipient ?? request.acs,
    Audience: got.x_audience ?? request.issuer,
    SubjectRecipient: got.x_recipient ?? request.acs,
    Issuer: `${base}/metadata`,
    IssueInstant: now.toISOString(),
    StatusCode: 'urn:oasis:names:tc:SAML:2.0:status:Success',
    ConditionsNotBefore: now.toISOString(),
    ConditionsNotOnOrAfter: later.toISOString(),
    SubjectConfirmationDataNotOnOrAfter: later.toISOString(),
    NameIDFormat: 'urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress',
    // Raw: `x_name_id` may carry markup (a comment inside the NameID).
    NameID: got.x_name_id !== undefined ? email : escape(email),
    InResponseTo: got.x_in_response_to ?? request.id ?? '',
    AuthnStatement: `<saml:AuthnStatement AuthnInstant="${now.toISOString()}" SessionIndex="_s${Date.now()}"><saml:AuthnContext><saml:AuthnContextClassRef>urn:oasis:names:tc:SAML:2.0:ac:classes:PasswordProtectedTransport</saml:AuthnContextClassRef></saml:AuthnContext></saml:AuthnStatement>`,
    AttributeStatement: `<saml:AttributeStatement><saml:Attribute Name="email"><saml:AttributeValue xsi:type="xs:string">${escape(got.email)}</saml:AttributeValue></saml:Attribute><saml:Attribute Name="name"><saml:AttributeValue xsi:type="xs:string">${escape(user.name ?? '')}</saml:AttributeValue></saml:Attribute></saml:AttributeStatement>`,
  };
  const fill = (template) => template.replace(/\{(\w+)\}/g, (_, key) => (key in values ? values[key] : `{${key}}`));
  const template = samlify.SamlLib.defaultLoginResponseTemplate.context;
  if (sign === 'none') return Buffer.from(fill(template)).toString('base64');
  const unsolicited = request.id ? { extract: { request: { id: request.id } } } : {};
  const { context } = await idp.createLoginResponse(sp, unsolicited, 'post', { email }, {
    customTagReplacement: (t) => ({ id: values.ID, context: fill(t) }),
  });
  return context;
}

server.listen(config.port ?? 0, '127.0.0.1', () => {
  const base = `http://127.0.0.1:${server.address().port}`;
  const metadata = idpWith(base, own).getMetadata();
  process.stdout.write(`${JSON.stringify({ metadata_url: `${base}/metadata`, entity_id: `${base}/metadata`, metadata })}\n`);
});
