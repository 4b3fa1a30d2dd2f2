import { expect, request, test } from '@playwright/test';
import { openDialog } from './dialogs';
import { createTeam, keyAction, openBrowser, person, signUpAndVerify, stamp } from './helpers';

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
    const revoke = await openDialog(page, await keyAction(page, 'Revoke', name(250)), `Revoke ${name(250)}?`);
    await expect(revoke.dialog.locator('[data-revoke="in-use"]')).toHaveText('Never used.');
    await revoke.close(revoke.dialog.getByRole('button', { name: 'Revoke key' }));
    // A revoked key has ended: it leaves the list of working keys.
    await expect(rows).toHaveCount(0);
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

  await test.step("the overview finds a spent key 300 keys down, not only the first page's", async () => {
    const login = await api.post('/api/v1/auth/login', { data: { email: owner.email, password: owner.password } });
    const headers = { Authorization: `Bearer ${(await login.json()).access_token}` };
    const list = await api.get(`/api/v1/teams/${teamId}/api-keys?q=${encodeURIComponent(name(1))}`, { headers });
    const oldest = (await list.json()).items[0];
    const limited = await api.patch(`/api/v1/teams/${teamId}/api-keys/${oldest.id}`, { headers, data: { usage_limit: 1 } });
    expect(limited.status(), await limited.text()).toBe(200);
    const auth = { Authorization: `Bearer ${secrets.get(name(1))}` };
    expect((await api.get(`/api/v1/teams/${teamId}`, { headers: auth })).status()).toBe(200);
    expect((await api.get(`/api/v1/teams/${teamId}`, { headers: auth })).status()).toBe(429);
    await page.goto(`/teams/${teamId}`);
    const attention = page.getByRole('region', { name: 'Needs attention' });
    await expect(attention.getByRole('link', { name: `API key ${name(1)} reached its monthly limit (1 of 1)` })).toBeVisible();
  });

  expect(errors).toEqual([]);
  await context.close();
});

// 43 keys with long names, as a partner with one key per service has them (issue 26): one line a
// key at 1280 px, at least 8 above the fold; a rolled key and its replacement name each other;
// ended keys wait behind a toggle; the filters live in the address.
test('43 keys with long names: one line each, statuses linked, filters kept in the address', async ({ browser, baseURL }) => {
  test.setTimeout(180_000);
  const owner = person('scankeys', 'Scarlett Scan');
  const errors: string[] = [];
  const { page } = await openBrowser(browser, errors);
  const api = await request.newContext({ baseURL });
  const long = (i: number) => `Checkout service of the European storefront, region ${String(i).padStart(2, '0')} (blue-green deployment)`;
  await signUpAndVerify(page, owner);
  const teamId = await createTeam(page, `Scannable Keys ${stamp}`);
  const login = await api.post('/api/v1/auth/login', { data: { email: owner.email, password: owner.password } });
  const headers = { Authorization: `Bearer ${(await login.json()).access_token}` };
  const ids = new Map<number, string>();
  for (let i = 1; i <= 43; i++) {
    const res = await api.post(`/api/v1/teams/${teamId}/api-keys`, {
      headers,
      data: {
        name: long(i),
        environment: i % 4 === 0 ? 'production' : 'development',
        expiration: i % 3 === 0 ? '30d' : 'never',
        description: 'Serves the storefront of one region; rotated every quarter by the platform team.',
        // Key 1 has a monthly limit of 3, which its traffic below spends; key 2 a rate of one
        // request a second, which its traffic below goes over.
        ...(i === 1 ? { usage_limit: 3 } : {}),
        ...(i === 2 ? { rate_limit: { requests_per_second: 1, burst: 1 } } : {}),
      },
    });
    expect(res.status(), await res.text()).toBe(201);
    const created = await res.json();
    ids.set(i, created.key.id);
    if (i === 1) {
      const statuses = [];
      for (let n = 0; n < 5; n++) statuses.push((await api.get(`/api/v1/teams/${teamId}`, { headers: { Authorization: `Bearer ${created.secret}` } })).status());
      expect(statuses).toEqual([200, 200, 200, 429, 429]);
    }
    if (i === 2) {
      const statuses = [];
      for (let n = 0; n < 4; n++) statuses.push((await api.get(`/api/v1/teams/${teamId}`, { headers: { Authorization: `Bearer ${created.secret}` } })).status());
      expect(statuses[0]).toBe(200);
      expect(statuses.filter((s) => s === 429).length).toBeGreaterThan(0);
    }
  }
  // Key 5 rolls with an hour of grace (its replacement joins the list); key 7 is revoked.
  const rolled = await api.post(`/api/v1/teams/${teamId}/api-keys/${ids.get(5)}/roll`, { headers, data: { grace_period_seconds: 3600 } });
  expect(rolled.status(), await rolled.text()).toBe(201);
  const revoked = await api.post(`/api/v1/teams/${teamId}/api-keys/${ids.get(7)}/revoke`, { headers });
  expect(revoked.status(), await revoked.text()).toBe(200);

  const table = page.getByRole('table', { name: 'API keys of the team' });
  const rows = table.locator('tbody tr');
  await page.setViewportSize({ width: 1280, height: 800 });
  await page.goto(`/teams/${teamId}/api-keys`);
  await expect(rows).toHaveCount(43);
  await expect(page.locator('[data-keys="count"]')).toHaveText('43 keys shown');
  const boxes = await rows.evaluateAll((trs) => trs.map((tr) => tr.getBoundingClientRect()).map((r) => ({ top: r.top, bottom: r.bottom, height: r.height })));
  const tallest = Math.max(...boxes.map((b) => b.height));
  const aboveFold = boxes.filter((b) => b.bottom <= 800).length;
  if (process.env.PP_SCREENSHOTS) await page.screenshot({ path: `${process.env.PP_SCREENSHOTS}/keys-1280.png` });
  console.log(`key list at 1280x800: ${tallest.toFixed(1)} px per key at most, ${aboveFold} keys above the fold`);
  expect(tallest).toBeLessThanOrEqual(90);
  expect(aboveFold).toBeGreaterThanOrEqual(8);
  // A long name ends in "…" on its one line; the whole name is its title.
  const nameCell = rows.first().locator('td').first();
  expect(await nameCell.getByRole('link').evaluate((a) => a.scrollWidth > a.clientWidth)).toBe(true);
  await expect(nameCell).toHaveAttribute('title', /^Checkout service of the European storefront, region \d\d \(blue-green deployment\) \(pp_dev_\w+…\): Serves/);

  // The key whose monthly limit is spent says so, with its bar full.
  const spent = rows.filter({ hasText: long(1) });
  await expect(spent.locator('[data-key-status]')).toHaveText('Limit reached');
  await expect(spent.getByRole('meter', { name: 'Monthly limit: 3 of 3 this month' })).toBeVisible();
  // The key going over its rate says so.
  await expect(rows.filter({ hasText: long(2) }).locator('[data-key-status]')).toHaveText('Rate limited');
  if (process.env.PP_SCREENSHOTS) await page.screenshot({ path: `${process.env.PP_SCREENSHOTS}/keys-1280-statuses.png`, fullPage: true });

  // The rolling key links to its replacement, and the replacement back to it.
  const rolling = rows.filter({ hasText: /Rolling, ends in (59 minutes|1 hour)/ });
  await expect(rolling).toHaveCount(1);
  await expect(rolling.getByRole('link', { name: `→ ${long(5)}` })).toBeVisible();
  await expect(rows.filter({ hasText: `replaces ${long(5)}` })).toHaveCount(1);
  // Ended keys are behind the toggle.
  await expect(rows.filter({ hasText: long(7) })).toHaveCount(0);
  await page.getByLabel('Show ended keys').check();
  await expect(rows.filter({ hasText: long(7) })).toContainText('Revoked');
  await page.getByLabel('Show ended keys').uncheck();

  // Filters and order live in the address: a reload keeps them; "Clear filters" ends them.
  await page.getByLabel('Environment', { exact: true }).selectOption('production');
  await page.getByLabel('Order').selectOption('requests');
  await expect(page).toHaveURL(/environment=production/);
  await expect(page).toHaveURL(/sort=requests/);
  await expect(rows).toHaveCount(10);
  await page.reload();
  await expect(rows).toHaveCount(10);
  await expect(page.getByLabel('Environment', { exact: true })).toHaveValue('production');
  await expect(page.getByLabel('Order')).toHaveValue('requests');
  await page.getByRole('button', { name: 'Clear filters' }).click();
  await expect(rows).toHaveCount(43);
  await expect(page).not.toHaveURL(/\?/);

  // Team usage explains what counts toward limits, and its by-key table sorts and narrows.
  await page.getByRole('navigation', { name: 'Team' }).getByRole('link', { name: 'Usage' }).click();
  await expect(page.locator('[data-usage="counting"]')).toContainText('429');
  const byKey = page.getByRole('table', { name: 'Requests by key' }).locator('tbody tr');
  await expect(byKey.filter({ hasText: long(1) })).toHaveCount(1);
  await expect(byKey.filter({ hasText: long(1) })).toContainText('just now');
  await page.getByLabel('Order', { exact: true }).selectOption('errors');
  await expect(byKey.first()).toContainText(/region 0[12]/);
  const errorCounts = await byKey.locator('td[data-label="Errors"]').allTextContents();
  const counts = errorCounts.map((t) => Number(t.replace(/,/g, '')));
  expect(counts).toEqual([...counts].sort((a, b) => b - a));
  await page.getByLabel('Environment', { exact: true }).selectOption('production');
  await expect(byKey).toHaveCount(0);
  await page.getByLabel('Environment', { exact: true }).selectOption('development');
  await expect(byKey.filter({ hasText: long(1) })).toHaveCount(1);
  // The by-key table fits at tablet and phone widths.
  for (const size of [{ width: 768, height: 1024 }, { width: 390, height: 844 }]) {
    await page.setViewportSize(size);
    await expect(byKey.filter({ hasText: long(1) })).toBeVisible();
    expect(await page.evaluate(() => document.documentElement.scrollWidth <= document.documentElement.clientWidth)).toBe(true);
    const row = (await byKey.filter({ hasText: long(1) }).boundingBox())!;
    expect(row.x + row.width, `the by-key row at ${size.width} px`).toBeLessThanOrEqual(size.width);
  }
  await page.setViewportSize({ width: 1280, height: 800 });
  await page.goBack();
  await expect(rows).toHaveCount(43);

  // The spent key's page leads with it, then the numbers by outcome, then the settings.
  await rows.filter({ hasText: long(1) }).getByRole('link', { name: long(1), exact: true }).click();
  const spentBanner = page.locator('[data-key-health]').getByRole('alert');
  await expect(spentBanner).toContainText('Monthly limit reached');
  await expect(spentBanner).toContainText('3 of 3 requests used this month');
  await expect(page.locator('[data-outcome="success"] dd')).toContainText('3');
  await expect(page.locator('[data-outcome="quota"] dd')).toContainText('2');
  await expect(page.locator('[data-outcome="rate"] dd')).toContainText('0');
  // The last hour in minutes: 60 or 61 buckets, the axis dated.
  await page.getByRole('button', { name: '1 hour' }).click();
  await expect(page.getByRole('button', { name: '1 hour' })).toHaveAttribute('aria-pressed', 'true');
  await expect(page.locator('.chart-data th').first()).toHaveText('Minute');
  expect(await page.locator('g.bucket').count()).toBeGreaterThanOrEqual(60);
  await expect(page.locator('.axis-x .axis-label').first()).toHaveText(/^\d{1,2} [A-Z][a-z]{2} \d\d:\d\d$/);
  if (process.env.PP_SCREENSHOTS) await page.screenshot({ path: `${process.env.PP_SCREENSHOTS}/key-last-hour-1280.png`, fullPage: true });
  await expect(page.locator('[data-outcome="quota"] dd')).toContainText('2');
  const usageTop = (await page.locator('#key-usage').boundingBox())!.y;
  const accessTop = (await page.getByRole('heading', { name: 'Access', exact: true }).boundingBox())!.y;
  expect(usageTop).toBeLessThan(accessTop);
  // The key going over its rate leads with it.
  await page.goto(`/teams/${teamId}/api-keys/${ids.get(2)}`);
  const rateBanner = page.locator('[data-health="rate"]');
  await expect(rateBanner).toContainText('Rate limited now');
  await expect(rateBanner).toContainText(/\d+ of its 4 requests in the last 5 minutes were refused with 429/);
  await expect(page.locator('[data-outcome="rate"] dd')).not.toContainText(/^0/);
  // The rolling key says when it stops and what it still receives, and leads to its replacement.
  await page.goto(`/teams/${teamId}/api-keys`);
  await rolling.getByRole('link', { name: long(5), exact: true }).click();
  const rollingBanner = page.locator('[data-key-health]').getByRole('status');
  await expect(rollingBanner).toContainText(/Rolling: this key stops working in (59 minutes|1 hour)/);
  await expect(rollingBanner).toContainText('It received no request in the last hour.');
  await rollingBanner.getByRole('link', { name: 'Go to its replacement' }).click();
  await expect(page.locator('[data-key-health]')).toBeEmpty();
  await page.goto(`/teams/${teamId}/api-keys`);
  await expect(rows).toHaveCount(43);

  // The overview names the spent key first, links to it, and shows the last day.
  await page.getByRole('navigation', { name: 'Team' }).getByRole('link', { name: 'Overview' }).click();
  const attention = page.getByRole('region', { name: 'Needs attention' });
  if (process.env.PP_SCREENSHOTS) await page.screenshot({ path: `${process.env.PP_SCREENSHOTS}/overview.png`, fullPage: true });
  const spentItem = attention.getByRole('link', { name: `API key ${long(1)} reached its monthly limit (3 of 3)` });
  await expect(spentItem).toBeVisible();
  await expect(attention.getByRole('listitem').first()).toContainText('reached its monthly limit');
  await expect(page.locator('[data-overview="day"]')).toContainText(/9 requests, [3-5] errors/);
  await spentItem.click();
  await expect(page.getByRole('heading', { name: `Usage of ${long(1)}` })).toBeVisible();
  // The dashboard's checklist steps lead to the screens that do them.
  await page.goto('/dashboard');
  const checklist = page.getByRole('article', { name: 'Getting started' });
  await expect(checklist.getByRole('link', { name: 'Create a development API key' })).toHaveAttribute('href', `/teams/${teamId}/api-keys`);
  await expect(checklist.getByRole('link', { name: 'Set up usage monitoring (a monthly limit or a webhook)' })).toHaveAttribute('href', `/teams/${teamId}/webhooks`);
  await page.goto(`/teams/${teamId}/api-keys`);
  await expect(rows).toHaveCount(43);

  // At tablet and phone widths nothing overflows, and a row's menu opens inside the window.
  for (const size of [{ width: 768, height: 1024 }, { width: 390, height: 844 }]) {
    await page.setViewportSize(size);
    expect(await page.evaluate(() => document.documentElement.scrollWidth <= document.documentElement.clientWidth)).toBe(true);
    const toggle = page.getByRole('button', { name: `Actions for ${long(43)}`, exact: true });
    await toggle.click();
    const menu = rows.filter({ hasText: long(43) }).locator('.row-actions');
    await expect(menu).toBeVisible();
    const r = await menu.evaluate((el) => el.getBoundingClientRect().toJSON());
    expect(r.left).toBeGreaterThanOrEqual(0);
    expect(r.right).toBeLessThanOrEqual(size.width);
    await page.keyboard.press('Escape');
    await expect(menu).toBeHidden();
    await expect(toggle).toBeFocused();
    // The spent key's row says so at this width too, and the overview and its page name it.
    await expect(rows.filter({ hasText: long(1) }).locator('[data-key-status]')).toHaveText('Limit reached');
    await page.goto(`/teams/${teamId}`);
    const item = page.getByRole('region', { name: 'Needs attention' }).getByRole('link', { name: /reached its monthly limit \(3 of 3\)/ });
    await expect(item).toBeVisible();
    const box = (await item.boundingBox())!;
    expect(box.x + box.width, `the overview's item at ${size.width} px`).toBeLessThanOrEqual(size.width);
    await item.click();
    const banner = page.locator('[data-key-health]').getByRole('alert');
    await expect(banner).toContainText('Monthly limit reached');
    const bannerBox = (await banner.boundingBox())!;
    expect(bannerBox.x + bannerBox.width, `the key page's banner at ${size.width} px`).toBeLessThanOrEqual(size.width);
    if (process.env.PP_SCREENSHOTS) await page.screenshot({ path: `${process.env.PP_SCREENSHOTS}/key-page-${size.width}.png`, fullPage: true });
    // The chart's labels keep a readable size, inside the window.
    const labels = page.locator('.axis-x .axis-label:visible, .axis-y .axis-label');
    expect(await labels.count()).toBeGreaterThan(3);
    for (const label of await labels.all()) {
      const box = (await label.boundingBox())!;
      expect(box.x).toBeGreaterThanOrEqual(0);
      expect(box.x + box.width, `an axis label at ${size.width} px`).toBeLessThanOrEqual(size.width);
      expect(await label.evaluate((el) => parseFloat(getComputedStyle(el).fontSize))).toBeGreaterThanOrEqual(12);
    }
    expect(await page.evaluate(() => document.documentElement.scrollWidth <= document.documentElement.clientWidth)).toBe(true);
    await page.goto(`/teams/${teamId}/api-keys`);
    await expect(rows).toHaveCount(43);
  }
  expect(errors).toEqual([]);
});
