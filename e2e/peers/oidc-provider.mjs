// A real OpenID Connect provider for the tests: `oidc-provider` (OpenID Certified), configured
// by the test that starts it. Not a mock: discovery, the authorization endpoint with its own
// sign-in page (its development interactions), PKCE, the token endpoint and the JWKS are the
// package's own.
//
//   node peers/oidc-provider.mjs CONFIG.json
//
// CONFIG: { "port": 0, "clients": [{ "client_id", "client_secret", "redirect_uris": [..] }],
//           "users": { "<login>": { "sub", "email", "email_verified", "name" } },
//           "kids": ["<key id>", ...] }  (an RSA key is made for each; a restart with other
//           kids rotates the provider's keys)
// Prints one line `{"issuer": "http://127.0.0.1:<port>"}` once it listens.
//
// Hostile cases need a provider that misbehaves: `POST /__tamper {"mode": ...}` makes the next
// token answer carry an ID token rewritten that way (signed with the provider's own key unless
// the mode is about the signature): `nonce`, `aud`, `azp`, `iss`, `expired`, `none` (alg none),
// `hs256` (signed with the client secret), `foreign_key` (another key, the same kid).

import { readFileSync } from 'node:fs';
import http from 'node:http';
import Provider from 'oidc-provider';
import { SignJWT, decodeJwt, decodeProtectedHeader, exportJWK, generateKeyPair } from 'jose';

const config = JSON.parse(readFileSync(process.argv[2], 'utf8'));
// The test reads the first line and may close the pipe: later output must not end the process.
process.stdout.on('error', () => {});
const pairs = await Promise.all(
  (config.kids ?? ['key-1']).map(async (kid) => ({ kid, ...(await generateKeyPair('RS256', { extractable: true })) })),
);
const keys = await Promise.all(pairs.map(async (p) => ({ ...(await exportJWK(p.privateKey)), kid: p.kid, alg: 'RS256', use: 'sig' })));
const users = config.users ?? {};
let tamper = null;

const server = http.createServer();
server.listen(config.port ?? 0, '127.0.0.1', () => {
  const issuer = `http://127.0.0.1:${server.address().port}`;
  const provider = new Provider(issuer, {
    clients: config.clients.map((c) => ({
      client_id: c.client_id,
      client_secret: c.client_secret,
      redirect_uris: c.redirect_uris,
      grant_types: ['authorization_code'],
      response_types: ['code'],
      token_endpoint_auth_method: 'client_secret_basic',
    })),
    jwks: { keys },
    claims: { openid: ['sub'], email: ['email', 'email_verified'], profile: ['name'] },
    // ID tokens carry the claims (no userinfo call needed).
    conformIdTokenClaims: false,
    features: { devInteractions: { enabled: true } },
    pkce: { required: () => true },
    cookies: { keys: ['partner-portal test provider'] },
    async findAccount(_ctx, id) {
      const user = users[id];
      if (!user) return undefined;
      return {
        accountId: id,
        async claims() {
          return { sub: user.sub ?? id, email: user.email, email_verified: user.email_verified ?? true, name: user.name };
        },
      };
    },
    // First-party clients: the grant is given without a consent page.
    async loadExistingGrant(ctx) {
      const grant = new ctx.oidc.provider.Grant({ clientId: ctx.oidc.client.clientId, accountId: ctx.oidc.session.accountId });
      grant.addOIDCScope('openid email profile');
      await grant.save();
      return grant;
    },
  });
  provider.proxy = false;

  provider.use(async (ctx, next) => {
    if (ctx.method === 'POST' && ctx.path === '/__tamper') {
      const chunks = [];
      for await (const chunk of ctx.req) chunks.push(chunk);
      tamper = JSON.parse(Buffer.concat(chunks).toString('utf8')).mode;
      ctx.status = 204;
      return;
    }
    await next();
    if (ctx.path === '/token' && tamper && ctx.body && ctx.body.id_token) {
      const mode = tamper;
      tamper = null;
      ctx.body = { ...ctx.body, id_token: await rewrite(ctx.body.id_token, mode) };
    }
  });

  server.on('request', provider.callback());
  process.stdout.write(`${JSON.stringify({ issuer })}\n`);
});

async function rewrite(token, mode) {
  const header = decodeProtectedHeader(token);
  const claims = { ...decodeJwt(token) };
  const now = Math.floor(Date.now() / 1000);
  let signWith = (pairs.find((p) => p.kid === header.kid) ?? pairs[0]).privateKey;
  let alg = header.alg;
  switch (mode) {
    case 'nonce': claims.nonce = 'a-nonce-of-another-flow'; break;
    case 'aud': claims.aud = 'another-client'; break;
    case 'azp': claims.azp = 'another-client'; break;
    case 'iss': claims.iss = 'https://issuer.evil.test'; break;
    case 'expired': claims.iat = now - 7200; claims.exp = now - 3600; break;
    case 'none': {
      const b64 = (v) => Buffer.from(JSON.stringify(v)).toString('base64url');
      return `${b64({ alg: 'none', typ: 'JWT' })}.${b64(claims)}.`;
    }
    case 'hs256': {
      const client = config.clients[0];
      signWith = new TextEncoder().encode(client.client_secret);
      alg = 'HS256';
      break;
    }
    case 'foreign_key': signWith = (await generateKeyPair('RS256')).privateKey; break;
    default: throw new Error(`unknown tamper mode ${mode}`);
  }
  return new SignJWT(claims).setProtectedHeader({ alg, kid: header.kid, typ: 'JWT' }).sign(signWith);
}
