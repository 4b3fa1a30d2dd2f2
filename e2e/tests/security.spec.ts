import { expect, request, test } from '@playwright/test';
import { createHash, createPrivateKey, sign } from 'node:crypto';
import { copySecretAndClose, openDialog } from './dialogs';
import { createTeam, openBrowser, person, signUpAndVerify, stamp } from './helpers';
import { mailSubject } from './mail';

/** A leak report as GitHub's secret scanning sends it: the body signed with its P-256 key. */
function signedReport(token: string, url: string): { body: string; headers: Record<string, string> } {
  const body = JSON.stringify([{ token, type: 'partner_portal_api_key', url, source: 'content' }]);
  const key = createPrivateKey(process.env.PP_E2E_SCANNING_PRIVATE_KEY!);
  const signature = sign('sha256', Buffer.from(body), { key, dsaEncoding: 'der' }).toString('base64');
  return {
    body,
    headers: {
      'content-type': 'application/json',
      'Github-Public-Key-Identifier': 'e2e-key',
      'Github-Public-Key-Signature': signature,
    },
  };
}

test('a read-only key made in the browser cannot write, and a leak report revokes it and says so', async ({ browser, baseURL }) => {
  const owner = person('scoped', 'Sasha Scopes');
  const errors: string[] = [];
  const { page } = await openBrowser(browser, errors);
  const api = await request.newContext({ baseURL });
  let teamId = '';
  let secret = '';
  const leakUrl = `https://github.com/acme/app/blob/${stamp}/.env`;

  await test.step('create a read-only key: the narrowest preset is the default', async () => {
    await signUpAndVerify(page, owner);
    teamId = await createTeam(page, `Scoped Team ${stamp}`);
    await page.goto(`/teams/${teamId}/api-keys`);
    const created = await openDialog(page, page.getByRole('button', { name: 'Create API Key' }), 'Generate API Key');
    const dialog = created.dialog;
    await dialog.getByLabel('Name').fill('Dashboard');
    await expect(dialog.getByLabel(/^Read-only/)).toBeChecked();
    // Custom lists every scope in plain words; a write scope includes its read scope.
    await dialog.getByLabel(/^Custom/).check();
    await dialog.getByLabel(/^members:write/).check();
    await expect(dialog.getByLabel(/^members:read/)).toBeChecked();
    await expect(dialog.getByLabel(/^members:read/)).toBeDisabled();
    await dialog.getByLabel(/^Read-only/).check();
    await dialog.getByLabel('Allowed IP addresses').fill('not-an-address');
    await dialog.getByRole('button', { name: 'Generate API Key' }).click();
    // The message names the field as the form does, not by its JSON name.
    await expect(dialog.getByText('Allowed IP addresses: "not-an-address" is not an IPv4 or IPv6 address or CIDR block.')).toBeVisible();
    await dialog.getByLabel('Allowed IP addresses').fill('127.0.0.1\n::1');
    await dialog.getByRole('button', { name: 'Generate API Key' }).click();
    secret = await copySecretAndClose(page, created);
    // Its access is on its page (the list keeps one line a key).
    const row = page.getByRole('row', { name: /Dashboard/ });
    await expect(row).toContainText('Never used');
  });

  await test.step('the key reads, and its write call is refused naming the missing scope', async () => {
    const auth = { Authorization: `Bearer ${secret}` };
    expect((await api.get(`/api/v1/teams/${teamId}/members`, { headers: auth })).status()).toBe(200);
    const refused = await api.post(`/api/v1/teams/${teamId}/invitations`, {
      headers: auth,
      data: { email: `outsider-${stamp}@example.com`, role: 'admin' },
    });
    expect(refused.status()).toBe(403);
    const problem = await refused.json();
    expect(problem.code).toBe('insufficient_scope');
    expect(problem.required_scope).toBe('invitations:write');
  });

  await test.step('a signed leak report revokes the key at once', async () => {
    const report = signedReport(secret, leakUrl);
    const tampered = await api.post('/api/v1/keys/leaks', { headers: report.headers, data: report.body.replace('.env', '.env2') });
    expect(tampered.status()).toBe(401);
    const res = await api.post('/api/v1/keys/leaks', { headers: report.headers, data: report.body });
    expect(res.status()).toBe(200);
    const hash = createHash('sha256').update(secret).digest('hex');
    expect(await res.json()).toEqual([{ token_hash: hash, token_type: 'partner_portal_api_key', label: 'true_positive' }]);
    const refused = await api.get(`/api/v1/teams/${teamId}`, { headers: { Authorization: `Bearer ${secret}` } });
    expect(refused.status()).toBe(401);
  });

  await test.step('the key shows the leak, and the owner got the mail', async () => {
    await page.goto(`/teams/${teamId}/api-keys`);
    await page.getByLabel('Show ended keys').check();
    await expect(page.getByRole('row', { name: /Dashboard/ })).toContainText('Compromised');
    await page.getByRole('table', { name: 'API keys of the team' }).getByRole('link', { name: 'Dashboard', exact: true }).click();
    const banner = page.getByRole('alert').filter({ hasText: 'This key was found public and revoked' });
    await expect(banner).toBeVisible();
    await expect(banner).toContainText(leakUrl);
    await expect(page.locator('[data-access="scopes"]')).toHaveText('Read-only');
    await expect(page.locator('[data-access="ips"]')).toHaveText('127.0.0.1, ::1');
    await expect.poll(() => mailSubject(owner.email, /was found public/), { timeout: 15_000 }).toBe(
      'API key "Dashboard" was found public and has been revoked',
    );
  });

  await test.step('"Report compromised" revokes another key, shows its replacement once, then its last requests', async () => {
    await page.goto(`/teams/${teamId}/api-keys`);
    const create = await openDialog(page, page.getByRole('button', { name: 'Create API Key' }), 'Generate API Key');
    await create.dialog.getByLabel('Name').fill('Billing export');
    await create.dialog.getByLabel(/^Custom/).check();
    await create.dialog.getByLabel(/^usage:read/).check();
    await create.dialog.getByRole('button', { name: 'Generate API Key' }).click();
    const old = await copySecretAndClose(page, create);
    await page.getByRole('table', { name: 'API keys of the team' }).getByRole('link', { name: 'Billing export', exact: true }).click();
    await expect(page.locator('[data-access="scopes"]')).toHaveAttribute('title', 'usage:read');
    const report = await openDialog(page, page.getByRole('button', { name: 'Report compromised' }), 'Report Billing export compromised');
    await expect(report.dialog.getByRole('link', { name: 'Report unauthorized usage to support' })).toHaveAttribute('href', 'mailto:support@partners.example');
    await report.dialog.getByLabel('Name of the replacement').fill('Billing export 2');
    await expect(report.dialog.getByRole('button', { name: 'Revoke key' })).toHaveClass(/danger/);
    await report.dialog.getByRole('button', { name: 'Revoke key' }).click();
    const replacement = await copySecretAndClose(page, report);
    expect(replacement).toMatch(/^pp_dev_/);
    await expect(page.getByRole('status').filter({ hasText: 'Billing export revoked as compromised; Billing export 2 replaces it.' })).toBeVisible();
    await expect(page.locator('#key-usage')).toBeFocused();
    await expect(page.getByText(/· Revoked ·/)).toBeVisible();
    // The key's page says it was compromised and leads to its replacement; so does its row.
    const health = page.locator('[data-key-health]');
    await expect(health).toContainText('This key was reported compromised');
    await expect(health.getByRole('link', { name: 'Go to its replacement' })).toBeVisible();
    await page.getByRole('link', { name: '← All API keys' }).click();
    await page.getByLabel('Show ended keys').check();
    const row = page.getByRole('table', { name: 'API keys of the team' }).locator('tbody tr')
      .filter({ has: page.getByRole('link', { name: 'Billing export', exact: true }) });
    await expect(row.locator('[data-key-status]')).toHaveText('Compromised');
    await expect(row.getByRole('link', { name: '→ Billing export 2' })).toBeVisible();
    await row.getByRole('link', { name: '→ Billing export 2' }).click();
    await expect(page.getByRole('heading', { name: 'Usage of Billing export 2' })).toBeVisible();
    expect((await api.get(`/api/v1/teams/${teamId}/usage`, { headers: { Authorization: `Bearer ${old}` } })).status()).toBe(401);
    expect((await api.get(`/api/v1/teams/${teamId}/usage`, { headers: { Authorization: `Bearer ${replacement}` } })).status()).toBe(200);
    await page.goto(`/teams/${teamId}/activity`);
    await expect(page.getByRole('listitem').filter({ hasText: 'API key reported compromised' })).toBeVisible();
    await expect(page.getByRole('listitem').filter({ hasText: 'API key found leaked' })).toBeVisible();
  });

  await api.dispose();
  expect(errors).toEqual([]);
});
