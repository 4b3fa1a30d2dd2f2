import { expect, request, test, type Page } from '@playwright/test';
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { copySecretAndClose, openDialog } from './dialogs';
import { createTeam, openBrowser, person, signUpAndVerify, stamp, keyAction } from './helpers';

/** Reloads `page` until `check` passes: usage is counted in memory and flushed within a second. */
async function eventually(page: Page, check: () => Promise<void>) {
  await expect(async () => {
    await page.reload();
    await check();
  }).toPass({ timeout: 20_000 });
}

test('an admin creates an API key, integrators call the API with it, usage shows it, revoking ends it', async ({ browser, baseURL }) => {
  const owner = person('keyowner', 'Kim Keys');
  const teamName = `Keyed Team ${stamp}`;
  const errors: string[] = [];
  const { page } = await openBrowser(browser, errors);
  const api = await request.newContext({ baseURL });
  let teamId = '';
  let secret = '';

  await test.step('sign up and create a team', async () => {
    await signUpAndVerify(page, owner);
    teamId = await createTeam(page, teamName);
  });

  await test.step('the API Keys page starts empty, and "Generate API Key" shows the secret once', async () => {
    await page.getByRole('navigation', { name: 'Team' }).getByRole('link', { name: 'API Keys' }).click();
    await expect(page.getByText('This team has no API keys yet.')).toBeVisible();
    const created = await openDialog(page, page.getByRole('button', { name: 'Create API Key' }), 'Generate API Key');
    const dialog = created.dialog;
    await dialog.getByLabel('Name').fill('Production App');
    await dialog.getByLabel('Description').fill('Checkout service');
    await dialog.getByLabel('Environment').selectOption('production');
    await dialog.getByLabel('Expires').selectOption('90d');
    // Alerts are percentages of the monthly limit: offered once a limit is typed.
    await expect(dialog.getByLabel('Usage alerts')).toHaveCount(0);
    await expect(dialog.getByText('Usage alerts: set a monthly limit to get them')).toBeVisible();
    await dialog.getByLabel('Monthly request limit').fill('1000');
    await expect(dialog.getByLabel('Usage alerts')).toHaveValue('80, 100');
    // This integration invites people too: it needs more than the read-only default.
    await expect(dialog.getByLabel(/^Read-only/)).toBeChecked();
    await dialog.getByLabel(/^Full access/).check();
    await dialog.getByRole('button', { name: 'Generate API Key' }).click();

    await expect(dialog.getByText('This is the only time the secret is shown.')).toBeVisible();
    secret = await copySecretAndClose(page, created);
    expect(secret).toMatch(/^pp_prod_[0-9A-Za-z]{40,}$/);
    await expect(page.getByRole('status').filter({ hasText: 'API key Production App created.' })).toBeVisible();

    const row = page.getByRole('row', { name: /Production App/ });
    // One line a key: the description is the name's title.
    await expect(row.locator('td').first()).toHaveAttribute('title', /Checkout service/);
    await expect(row).toContainText('Production');
    await expect(row).toContainText('Never used');
    await expect(row).toContainText(secret.slice(0, 12));
    // The secret is nowhere on the page any more.
    await expect(page.getByText(secret)).toHaveCount(0);
  });

  await test.step('an integrator calls the API with the key: three reads and a 404', async () => {
    const auth = { Authorization: `Bearer ${secret}` };
    for (let i = 0; i < 3; i++) {
      const team = await api.get(`/api/v1/teams/${teamId}`, { headers: auth });
      expect(team.status()).toBe(200);
      expect((await team.json()).name).toBe(teamName);
    }
    const missing = await api.get(`/api/v1/teams/${teamId}/api-keys/${randomUUID()}`, { headers: auth });
    expect(missing.status()).toBe(404);
  });

  await test.step('the key list and its usage page show the requests and the error', async () => {
    const row = page.getByRole('row', { name: /Production App/ });
    await eventually(page, async () => {
      await expect(row.getByRole('cell', { name: '4', exact: true })).toBeVisible({ timeout: 1_000 });
    });
    await expect(row).not.toContainText('Never used');

    await row.getByRole('link', { name: 'Production App', exact: true }).click();
    await expect(page.getByRole('heading', { name: 'Usage of Production App' })).toBeVisible();
    await expect(page.getByRole('button', { name: '24 hours' })).toHaveAttribute('aria-pressed', 'true');
    const total = page.locator('[data-stat="total"]');
    await eventually(page, async () => {
      await expect(total).toHaveText('4', { timeout: 1_000 });
    });
    await expect(page.locator('[data-stat="errors"]')).toContainText('1');
    await expect(page.locator('[data-stat="errors"]')).toContainText('25% error rate');
    await expect(page.locator('[data-stat="limit"]')).toContainText('996');
    await expect(page.locator('[data-stat="limit"]')).toContainText('left of 1,000 this month');
    const codes = page.getByRole('table', { name: 'Requests by status code' });
    await expect(codes.getByRole('row', { name: /200/ })).toContainText('3');
    await expect(codes.getByRole('row', { name: /404/ })).toContainText('1');
    // The chart draws the hour's requests: successes and the error as separate bars.
    const chart = page.getByRole('img', { name: /4 in total/ });
    await expect(chart).toBeVisible();
    await expect(chart.locator('rect.bar-success')).toHaveCount(1);
    await expect(chart.locator('rect.bar-error')).toHaveCount(1);

    // Latency as percentiles, with sub-millisecond precision.
    await expect(page.locator('[data-stat="latency"]')).toContainText(/\d ms/);
    await expect(page.locator('[data-stat="latency"]')).toContainText(/p95 .* p99 /);

    await page.getByRole('button', { name: '30 days' }).click();
    await expect(page.getByRole('button', { name: '30 days' })).toHaveAttribute('aria-pressed', 'true');
    await expect(page.getByRole('img', { name: /Requests per day.*4 in total/ })).toBeVisible();
    await expect(total).toHaveText('4');

    // The range as CSV: one line per day and status.
    const [download] = await Promise.all([
      page.waitForEvent('download'),
      page.getByRole('button', { name: 'Download CSV' }).click(),
    ]);
    expect(download.suggestedFilename()).toMatch(/^usage-key-[0-9a-f-]+\.csv$/);
    const csv = readFileSync(await download.path(), 'utf8');
    const lines = csv.trim().split(/\r?\n/);
    expect(lines[0]).toBe('bucket_start,status,requests,p50_ms,p95_ms,p99_ms');
    expect(lines.slice(1).map((l) => l.split(',').slice(1, 3).join(','))).toEqual(['200,3', '404,1']);
  });

  await test.step('an admin sets a rate limit on the key page; the API answers 429 beyond it, then lifts it', async () => {
    const limits = page.getByRole('region', { name: 'Limits' });
    await expect(limits.locator('[data-limit="monthly"]')).toHaveText('1,000 requests a month');
    await expect(limits.locator('[data-limit="rate"]')).toHaveText('None');
    const edit = await openDialog(page, limits.getByRole('button', { name: 'Edit Production App' }), 'Edit Production App');
    const dialog = edit.dialog;
    await expect(dialog.getByLabel('Monthly request limit')).toHaveValue('1000');
    await dialog.getByLabel('Requests per second').fill('1');
    await dialog.getByLabel('Burst').fill('1');
    await edit.close(dialog.getByRole('button', { name: 'Save changes' }));
    await expect(page.getByRole('status').filter({ hasText: 'Changes to Production App saved.' })).toBeVisible();
    await expect(limits.locator('[data-limit="rate"]')).toHaveText('1 a second, bursts of 1');

    const auth = { Authorization: `Bearer ${secret}` };
    const first = await api.get(`/api/v1/teams/${teamId}`, { headers: auth });
    expect(first.status()).toBe(200);
    expect(first.headers()['ratelimit-policy']).toMatch(/^"monthly";q=1000;w=\d+, "rate";q=1;w=1$/);
    const second = await api.get(`/api/v1/teams/${teamId}`, { headers: auth });
    expect(second.status()).toBe(429);
    expect((await second.json()).code).toBe('rate_limited');
    expect(second.headers()['retry-after']).toBe('1');

    const again = await openDialog(page, limits.getByRole('button', { name: 'Edit Production App' }), 'Edit Production App');
    await again.dialog.getByLabel('Requests per second').fill('');
    await again.dialog.getByLabel('Burst').fill('');
    await again.close(again.dialog.getByRole('button', { name: 'Save changes' }));
    await expect(limits.locator('[data-limit="rate"]')).toHaveText('None');
  });

  await test.step('the team usage overview lists the key', async () => {
    await page.getByRole('navigation', { name: 'Team' }).getByRole('link', { name: 'Usage' }).click();
    await expect(page.getByRole('heading', { name: 'Team usage' })).toBeVisible();
    await expect(page.locator('[data-stat="total"]')).toHaveText('6', { timeout: 5_000 });
    const byKey = page.getByRole('table', { name: 'Requests by key' }).getByRole('row', { name: /Production App/ });
    await expect(byKey).toContainText('6');
    await expect(byKey).toContainText('2');
  });

  await test.step("what the key does shows in the activity log under the key's name, a page at a time", async () => {
    // 25 invitations made with the key: with the team's own entries, more than one page (25).
    for (let i = 0; i < 25; i++) {
      const invited = await api.post(`/api/v1/teams/${teamId}/invitations`, {
        headers: { Authorization: `Bearer ${secret}` },
        data: { email: `guest-${i}-${stamp}@example.com`, role: 'member' },
      });
      expect(invited.status()).toBe(201);
    }
    await page.goto(`/teams/${teamId}/activity`);
    const entries = page.getByRole('main').getByRole('listitem');
    await expect(entries).toHaveCount(25);
    await expect(entries.first()).toContainText('API key Production App Invitation sent');
    await expect(entries.first()).toContainText(`guest-24-${stamp}@example.com`);
    await page.getByRole('button', { name: 'Load more' }).click();
    await expect(entries.filter({ hasText: 'Team created' })).toBeVisible();
    await expect(entries.filter({ hasText: `guest-0-${stamp}@example.com` })).toBeVisible();
    await expect(page.getByRole('button', { name: 'Load more' })).toHaveCount(0);

    await page.getByLabel('Who').selectOption({ label: `${owner.name}` });
    await expect(entries.filter({ hasText: 'Invitation sent' })).toHaveCount(0);
    await expect(entries.filter({ hasText: 'API key created' })).toBeVisible();
  });

  await test.step('revoking the key makes the API refuse it', async () => {
    await page.goto(`/teams/${teamId}/api-keys`);
    const revoke = await openDialog(page, await keyAction(page, 'Revoke', 'Production App'), 'Revoke Production App?');
    // It says what the key is doing now: 31 requests (3, a 404, 2 against the rate limit, 25 invitations).
    await expect(revoke.dialog.locator('[data-revoke="in-use"]')).toHaveText(/^Last used (just now|\d+ minutes? ago); 31 requests in the last 24 hours\.$/);
    await expect(revoke.dialog.getByRole('button', { name: 'Revoke key' })).toHaveClass(/danger/);
    await revoke.close(revoke.dialog.getByRole('button', { name: 'Revoke key' }));
    await expect(page.getByRole('status').filter({ hasText: 'API key Production App revoked.' })).toBeVisible();
    // An ended key leaves the list, until ended keys are asked for (the address keeps that).
    const row = page.getByRole('row', { name: /Production App/ });
    await expect(row).toHaveCount(0);
    await page.getByLabel('Show ended keys').check();
    await expect(page).toHaveURL(/[?&]ended=shown/);
    await expect(row).toContainText('Revoked');
    await expect(row.getByRole('button', { name: 'Revoke Production App' })).toHaveCount(0);
    await page.getByLabel('Show ended keys').uncheck();

    const refused = await api.get(`/api/v1/teams/${teamId}`, { headers: { Authorization: `Bearer ${secret}` } });
    expect(refused.status()).toBe(401);
    expect((await refused.json()).code).toBe('key_revoked');
  });

  await test.step('rolling a key shows the replacement once; with no grace period the old one stops at once', async () => {
    const create = await openDialog(page, page.getByRole('button', { name: 'Create API Key' }), 'Generate API Key');
    await create.dialog.getByLabel('Name').fill('Staging');
    await create.dialog.getByRole('button', { name: 'Generate API Key' }).click();
    const oldSecret = await copySecretAndClose(page, create);
    expect(oldSecret).toMatch(/^pp_dev_/);

    const roll = await openDialog(page, await keyAction(page, 'Roll', 'Staging'), 'Roll Staging');
    await roll.dialog.getByLabel('Immediately').check();
    await roll.dialog.getByRole('button', { name: 'Roll key' }).click();
    // A rolled key has no Roll: the focus goes to the page's main region.
    const newSecret = await copySecretAndClose(page, roll, { focus: 'main' });
    expect(newSecret).toMatch(/^pp_dev_/);
    expect(newSecret).not.toBe(oldSecret);
    // The rolled-over key has ended: shown with ended keys, each linked to the other.
    await expect(page.getByRole('row', { name: /Staging/ })).toHaveCount(1);
    await page.getByLabel('Show ended keys').check();
    const staging = page.getByRole('row', { name: /Staging/ });
    await expect(staging).toHaveCount(2);
    await expect(staging.filter({ hasText: 'Rolled over' }).getByRole('link', { name: '→ Staging' })).toBeVisible();
    await expect(staging.filter({ hasText: 'replaces Staging' })).toHaveCount(1);
    await page.getByLabel('Show ended keys').uncheck();

    const withNew = await api.get(`/api/v1/teams/${teamId}/members`, { headers: { Authorization: `Bearer ${newSecret}` } });
    expect(withNew.status()).toBe(200);
    const withOld = await api.get(`/api/v1/teams/${teamId}`, { headers: { Authorization: `Bearer ${oldSecret}` } });
    expect(withOld.status()).toBe(401);
  });

  await test.step('the activity log records the key changes', async () => {
    await page.goto(`/teams/${teamId}/activity`);
    await expect(page.getByRole('listitem').filter({ hasText: 'API key created' }).first()).toBeVisible();
    await expect(page.getByRole('listitem').filter({ hasText: 'API key revoked' })).toBeVisible();
    await expect(page.getByRole('listitem').filter({ hasText: 'API key rolled' })).toBeVisible();
  });

  await api.dispose();
  expect(errors).toEqual([]);
});
