import { expect, request, test } from '@playwright/test';
import { openDialog } from './dialogs';
import { createTeam, openBrowser, person, signUpAndVerify, stamp } from './helpers';

// A team with 300 keys: the list pages through all of them, and search, filters and sorting find
// any one of them (issue 13: lists stopped at 100).
test('a team with 300 keys finds, sorts and revokes any of them', async ({ browser, baseURL }) => {
  const owner = person('manykeys', 'Mia Many');
  const errors: string[] = [];
  const { context, page } = await openBrowser(browser, errors);
  const api = await request.newContext({ baseURL });
  let teamId = '';
  const secrets = new Map<string, string>();
  const name = (i: number) => `Service ${String(i).padStart(3, '0')}`;

  await test.step('seed 300 keys through the API, every tenth for production', async () => {
    await signUpAndVerify(page, owner);
    teamId = await createTeam(page, `Many Keys ${stamp}`);
    const login = await api.post('/api/v1/auth/login', { data: { email: owner.email, password: owner.password } });
    expect(login.status()).toBe(200);
    const headers = { Authorization: `Bearer ${(await login.json()).access_token}` };
    for (let i = 1; i <= 300; i++) {
      const environment = i % 10 === 0 ? 'production' : 'development';
      const res = await api.post(`/api/v1/teams/${teamId}/api-keys`, {
        headers,
        data: { name: name(i), environment, expiration: 'never' },
      });
      expect(res.status(), await res.text()).toBe(201);
      secrets.set(name(i), (await res.json()).secret);
    }
  });

  await test.step('the list shows 50 at a time and loads the rest', async () => {
    await page.goto(`/teams/${teamId}/api-keys`);
    const rows = page.getByRole('table', { name: 'API keys of the team' }).locator('tbody tr');
    await expect(rows).toHaveCount(50);
    await expect(rows.first()).toContainText(name(300));
    for (const shown of [100, 150, 200, 250, 300]) {
      await page.getByRole('button', { name: 'Load more API keys' }).click();
      await expect(rows).toHaveCount(shown);
    }
    await expect(rows.last()).toContainText(name(1));
    // The sixth page is full and the last: no "Load more" that would find nothing.
    await expect(page.getByRole('button', { name: 'Load more API keys' })).toHaveCount(0);
    await expect(rows).toHaveCount(300);
  });

  await test.step('the environment filter narrows to the 30 production keys', async () => {
    await page.getByLabel('Environment', { exact: true }).selectOption('production');
    const rows = page.getByRole('table', { name: 'API keys of the team' }).locator('tbody tr');
    await expect(rows).toHaveCount(30);
    await page.getByLabel('Environment', { exact: true }).selectOption('');
    await expect(rows).toHaveCount(50);
  });

  await test.step('search finds the 250th key, and it is revoked from there', async () => {
    await page.getByLabel('Search').fill('service 250');
    const rows = page.getByRole('table', { name: 'API keys of the team' }).locator('tbody tr');
    await expect(rows).toHaveCount(1);
    const revoke = await openDialog(page, page.getByRole('button', { name: `Revoke ${name(250)}` }), `Revoke ${name(250)}?`);
    await expect(revoke.dialog.locator('[data-revoke="in-use"]')).toHaveText('Never used.');
    await revoke.close(revoke.dialog.getByRole('button', { name: 'Revoke key' }));
    await expect(rows.first()).toContainText('Revoked');
    const refused = await api.get(`/api/v1/teams/${teamId}`, {
      headers: { Authorization: `Bearer ${secrets.get(name(250))}` },
    });
    expect(refused.status()).toBe(401);

    await page.getByLabel('Search').fill('');
    await page.getByLabel('Status').selectOption('revoked');
    await expect(rows).toHaveCount(1);
    await expect(rows.first()).toContainText(name(250));
    await page.getByLabel('Status').selectOption('');
  });

  await test.step('sorting by requests and by last use puts the key in use first', async () => {
    const auth = { Authorization: `Bearer ${secrets.get(name(7))}` };
    for (let i = 0; i < 3; i++) expect((await api.get(`/api/v1/teams/${teamId}`, { headers: auth })).status()).toBe(200);
    const rows = page.getByRole('table', { name: 'API keys of the team' }).locator('tbody tr');
    await page.getByLabel('Order').selectOption('requests');
    await expect(rows.first()).toContainText(name(7));
    await expect(rows.first().getByRole('cell', { name: '3', exact: true })).toBeVisible();
    await page.getByLabel('Order').selectOption('last_used');
    await expect(rows.first()).toContainText(name(7));
  });

  await test.step('the activity log finds an old key through "Find a key" and shows what it did', async () => {
    const auth = { Authorization: `Bearer ${secrets.get(name(7))}` };
    const made = await api.post(`/api/v1/teams/${teamId}/api-keys`, {
      headers: auth,
      data: { name: 'Made by seven', environment: 'development', expiration: 'never' },
    });
    expect(made.status(), await made.text()).toBe(201);
    await page.goto(`/teams/${teamId}/activity`);
    const who = page.getByLabel('Who');
    // The picker lists the newest keys only (301 would be too many to fetch), and says so.
    await expect(who.locator('optgroup')).toHaveAttribute('label', /newest matches/);
    await expect(who.locator('option', { hasText: name(7) })).toHaveCount(0);
    await page.getByLabel('Find a key').fill('service 007');
    const seven = who.locator('option', { hasText: name(7) });
    await expect(seven).toHaveCount(1);
    await who.selectOption((await seven.getAttribute('value'))!);
    const entries = page.locator('ol.activity-list > li');
    await expect(entries).toHaveCount(1);
    await expect(entries.first()).toContainText('Made by seven');
    // Another search leaves the chosen key chosen.
    await page.getByLabel('Find a key').fill('service 1');
    await expect(who).toHaveValue((await seven.getAttribute('value'))!);
    await expect(entries).toHaveCount(1);
  });

  expect(errors).toEqual([]);
  await context.close();
});
