import { defineConfig } from '@playwright/test';
import { execFileSync, spawn } from 'node:child_process';
import { generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';

// Starts the real server (debug build unless PP_BIN says otherwise) on a free port with a fresh
// data directory, serving the built web app from frontend/dist.
//
// Playwright evaluates this file again in every worker process; workers inherit the environment,
// so the port and data directory chosen first are kept there.
if (!process.env.PP_E2E_PORT) {
  process.env.PP_E2E_PORT = freePort();
}
if (!process.env.PP_E2E_DATA_DIR) {
  const dir = mkdtempSync(path.join(tmpdir(), 'partner-portal-e2e-'));
  process.env.PP_E2E_DATA_DIR = dir;
  process.on('exit', () => rmSync(dir, { recursive: true, force: true }));
}

// A key pair standing in for GitHub's secret scanning key: the server trusts the public half,
// the specs sign leak reports with the private half.
if (!process.env.PP_E2E_SCANNING_PRIVATE_KEY) {
  const { publicKey, privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  process.env.PP_E2E_SCANNING_PUBLIC_KEY = publicKey.export({ type: 'spki', format: 'pem' }).toString();
  process.env.PP_E2E_SCANNING_PRIVATE_KEY = privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
}

// A real DNS server (dnslib) for domain verification, answering the TXT records that the specs
// write into PP_E2E_DNS_RECORDS. Started once, by the first evaluation of this file.
if (!process.env.PP_E2E_DNS_PORT) {
  const records = path.join(process.env.PP_E2E_DATA_DIR!, 'dns-records.json');
  writeFileSync(records, '{}');
  process.env.PP_E2E_DNS_RECORDS = records;
  process.env.PP_E2E_DNS_PORT = freeUdpPort();
  const script = path.resolve(__dirname, '../crates/server/tests/support/dns_server.py');
  const dns = spawn('python3', [script, records, process.env.PP_E2E_DNS_PORT], { stdio: 'ignore' });
  process.on('exit', () => dns.kill());
}

const port = process.env.PP_E2E_PORT;
const baseURL = `http://127.0.0.1:${port}`;

// A real OpenID Connect provider (oidc-provider, OpenID Certified) for single sign-on, with its
// own sign-in page. Its users are at acme-sso.example, the domain the SSO spec verifies.
if (!process.env.PP_E2E_OIDC_ISSUER) {
  const oidcPort = freePort();
  const config = path.join(process.env.PP_E2E_DATA_DIR!, 'oidc-provider.json');
  writeFileSync(
    config,
    JSON.stringify({
      port: Number(oidcPort),
      clients: [
        {
          client_id: 'partner-portal-e2e',
          client_secret: 'e2e-client-secret-of-the-test-provider',
          redirect_uris: [`${baseURL}/api/v1/auth/sso/callback`],
        },
      ],
      users: {
        ada: { email: 'ada@acme-sso.example', name: 'Ada Lovelace' },
        bob: { email: 'bob@acme-sso.example', name: 'Bob Builder' },
      },
      kids: ['e2e-key'],
    }),
  );
  process.env.PP_E2E_OIDC_ISSUER = `http://127.0.0.1:${oidcPort}`;
  const provider = spawn(process.execPath, [path.resolve(__dirname, 'peers/oidc-provider.mjs'), config], {
    cwd: __dirname,
    stdio: 'ignore',
  });
  process.on('exit', () => provider.kill());
}
// A real SAML identity provider (samlify as IdP, signing its responses) with its own sign-in
// page. Its users are at acme-saml.example, the domain the SAML spec verifies.
if (!process.env.PP_E2E_SAML_METADATA_URL) {
  const samlPort = freePort();
  const config = path.join(process.env.PP_E2E_DATA_DIR!, 'saml-idp.json');
  writeFileSync(
    config,
    JSON.stringify({
      port: Number(samlPort),
      users: { 'ada@acme-saml.example': { name: 'Ada Lovelace' } },
    }),
  );
  process.env.PP_E2E_SAML_METADATA_URL = `http://127.0.0.1:${samlPort}/metadata`;
  const idp = spawn(process.execPath, [path.resolve(__dirname, 'peers/saml-idp.mjs'), config], {
    cwd: __dirname,
    stdio: 'ignore',
  });
  process.on('exit', () => idp.kill());
}
const bin = process.env.PP_BIN ?? path.resolve(__dirname, '../target/debug/partner-portal');

function freeUdpPort(): string {
  const script =
    "const s = require('node:dgram').createSocket('udp4');" +
    "s.bind(0, '127.0.0.1', () => { process.stdout.write(String(s.address().port)); s.close(); });";
  return execFileSync(process.execPath, ['-e', script]).toString().trim();
}

function freePort(): string {
  const script =
    "const s = require('node:net').createServer();" +
    "s.listen(0, '127.0.0.1', () => { process.stdout.write(String(s.address().port)); s.close(); });";
  return execFileSync(process.execPath, ['-e', script]).toString().trim();
}

export default defineConfig({
  testDir: './tests',
  forbidOnly: !!process.env.CI,
  retries: 0,
  workers: 1,
  timeout: 120_000,
  expect: { timeout: 15_000 },
  reporter: [['list']],
  outputDir: './test-results',
  use: {
    baseURL,
    browserName: 'chromium',
    headless: true,
    trace: 'retain-on-failure',
    launchOptions: {
      executablePath: '/usr/bin/chromium',
      args: [
        '--no-sandbox',
        '--disable-gpu',
        '--disable-quic',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
        '--no-first-run',
      ],
    },
  },
  webServer: {
    command: `"${bin}" serve`,
    url: `${baseURL}/healthz`,
    reuseExistingServer: false,
    timeout: 60_000,
    stdout: 'pipe',
    stderr: 'pipe',
    gracefulShutdown: { signal: 'SIGTERM', timeout: 5_000 },
    env: {
      PORTAL_BIND: `127.0.0.1:${port}`,
      PORTAL_DATA_DIR: process.env.PP_E2E_DATA_DIR,
      PORTAL_PUBLIC_URL: baseURL,
      PORTAL_WEB_DIR: path.resolve(__dirname, '../frontend/dist'),
      PORTAL_SECRET_SCANNING_PUBLIC_KEYS: process.env.PP_E2E_SCANNING_PUBLIC_KEY!,
      // Every spec signs people up and in from this one address: the default of 20 sign-ins a
      // minute per address (a limit for the public) is too few for the whole suite.
      PORTAL_AUTH_RATE_LIMIT: '200',
      // The webhook spec's receiver listens on loopback, over plain HTTP.
      PORTAL_WEBHOOK_ALLOW_HTTP: 'true',
      PORTAL_WEBHOOK_ALLOW_PRIVATE: 'true',
      // The Help menu's links (the documentation is the portal's own /docs/ by default).
      PORTAL_SUPPORT_EMAIL: 'support@partners.example',
      PORTAL_COMMUNITY_URL: 'https://community.partners.example/portal',
      PORTAL_DNS_RESOLVER: `127.0.0.1:${process.env.PP_E2E_DNS_PORT}`,
    },
  },
});
