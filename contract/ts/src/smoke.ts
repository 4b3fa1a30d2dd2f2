// An integrator's first day, with a client generated from the served OpenAPI document:
// sign-up with the mailed link, a team, a key, a webhook endpoint, a call with the key,
// verification by another service, usage, revocation. Strict tsc checks it against the
// generated types before it runs.
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import createClient from 'openapi-fetch';
import type { components, paths } from '../generated/api.js';

type Problem = components['schemas']['Problem'];
type ErrorCode = components['schemas']['ErrorCode'];

const baseUrl = need('PP_BASE_URL');
const mailDir = need('PP_MAIL_DIR');
const serviceToken = need('PP_SERVICE_TOKEN');
const email = `ts-${Date.now()}@example.com`;
const password = 'typescript-password-1';

function need(name: string): string {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is not set`);
  return value;
}

function check(condition: boolean, what: string): asserts condition {
  if (!condition) throw new Error(`contract smoke: ${what}`);
}

/** The value, or a failure that shows the problem the portal answered. */
function ok<T>(step: string, result: { data?: T; error?: unknown; response: Response }): T {
  if (result.data === undefined) {
    throw new Error(`${step}: ${result.response.status} ${JSON.stringify(result.error)}`);
  }
  return result.data;
}

function codeOf(error: unknown): ErrorCode | undefined {
  return (error as Problem | undefined)?.code;
}

/** Quoted-printable, as mails carry links. */
function decodeQuotedPrintable(text: string): string {
  return text.replace(/=\r?\n/g, '').replace(/=([0-9A-F]{2})/g, (_, hex: string) => String.fromCharCode(parseInt(hex, 16)));
}

async function mailedToken(to: string, marker: string): Promise<string> {
  const deadline = Date.now() + 20_000;
  for (;;) {
    for (const name of readdirSync(mailDir).filter((n) => n.endsWith('.eml')).sort().reverse()) {
      const mail = decodeQuotedPrintable(readFileSync(join(mailDir, name), 'utf8'));
      if (!mail.includes(`To: ${to}`)) continue;
      const found = new RegExp(`${marker.replace(/[?]/g, '\\?')}([A-Za-z0-9_-]{43})`).exec(mail);
      if (found?.[1]) return found[1];
    }
    check(Date.now() < deadline, `no mail to ${to} with ${marker}`);
    await new Promise<void>((resolve) => setImmediate(resolve));
  }
}

const anonymous = createClient<paths>({ baseUrl });
const as = (token: string) => createClient<paths>({ baseUrl, headers: { Authorization: `Bearer ${token}` } });

ok('signup', await anonymous.POST('/api/v1/auth/signup', { body: { email, name: 'TS Integrator', password } }));
const token = await mailedToken(email, 'verify-email?token=');
const verified = await anonymous.POST('/api/v1/auth/verify-email', { body: { token } });
check(verified.response.status === 204, `verify-email answered ${verified.response.status}`);
const signedIn = ok('login', await anonymous.POST('/api/v1/auth/login', { body: { email, password } }));
// 200 is a session; 202 a two-factor challenge, which this account (without 2FA) never gets.
if (!('access_token' in signedIn)) throw new Error('login asked for a second factor');
const session = signedIn;
check(session.token_type === 'Bearer', 'a bearer session');
const user = as(session.access_token);

const team = ok('create team', await user.POST('/api/v1/teams', { body: { name: 'TypeScript Co' } }));
const created = ok(
  'create key',
  await user.POST('/api/v1/teams/{team_id}/api-keys', {
    params: { path: { team_id: team.id } },
    body: { name: 'TS key', environment: 'development', expiration: '30d', usage_limit: 100 },
  }),
);
check(created.secret.startsWith('pp_dev_'), 'a development key');

// A webhook endpoint, subscribed with the event names the document publishes (it once published
// the Rust names, which the server refused: tsc checks these against the generated enum).
const eventTypes: components['schemas']['EventType'][] = ['api_key.created', 'api_key.revoked'];
const hook = ok(
  'create webhook endpoint',
  await user.POST('/api/v1/teams/{team_id}/webhooks', {
    params: { path: { team_id: team.id } },
    body: { url: 'https://hooks.example.com/partner-portal', event_types: eventTypes },
  }),
);
check(hook.secret.startsWith('whsec_'), 'a signing secret');
check(hook.endpoint.event_types.join(' ') === eventTypes.join(' '), 'the endpoint keeps the event types sent');

const key = as(created.secret);
const seen = ok('team with the key', await key.GET('/api/v1/teams/{team_id}', { params: { path: { team_id: team.id } } }));
check(seen.name === 'TypeScript Co', 'the key sees its team');
const members = ok(
  'members with the key',
  await key.GET('/api/v1/teams/{team_id}/members', { params: { path: { team_id: team.id }, query: { limit: 10 } } }),
);
check(members.items.length === 1, 'one member');

const verdict = ok(
  'verify',
  await as(serviceToken).POST('/api/v1/keys/verify', { body: { key: created.secret } }),
);
check(verdict.valid && verdict.key_id === created.key.id, 'the service sees a valid key');

const answer = ok(
  'usage',
  await user.GET('/api/v1/teams/{team_id}/api-keys/{key_id}/usage', {
    params: { path: { team_id: team.id, key_id: created.key.id }, query: { granularity: 'hour' } },
  }),
);
// The operation answers JSON or, with `format=csv`, text: JSON was asked for.
check(typeof answer !== 'string', 'usage as JSON');
const usage = answer;
check(usage.total_requests === 3, `3 metered requests, not ${usage.total_requests}`);
check(usage.remaining === 97, `97 left of the limit, not ${usage.remaining}`);

const revoked = ok(
  'revoke',
  await user.POST('/api/v1/teams/{team_id}/api-keys/{key_id}/revoke', {
    params: { path: { team_id: team.id, key_id: created.key.id } },
  }),
);
check(revoked.status === 'revoked', 'revoked');
const refused = await key.GET('/api/v1/teams/{team_id}', { params: { path: { team_id: team.id } } });
check(refused.response.status === 401 && codeOf(refused.error) === 'key_revoked', 'a revoked key is refused');

console.log(`contract smoke: passed (team ${team.id}, ${usage.total_requests} metered requests)`);
