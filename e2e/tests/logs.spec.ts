import { createServer, type IncomingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';
import { expect, request, test, type Locator, type Page } from '@playwright/test';
import { copySecretAndClose, openDialog } from './dialogs';
import { createTeam, openBrowser, person, signUpAndVerify, stamp } from './helpers';

// Issue 26, part 5: the webhook log and the activity log as incident tools.

type Received = { path: string; headers: IncomingHttpHeaders; body: string };

/**
 * A receiver on loopback: `/flaky` always answers 500; `/gone` answers 200 once, then 410.
 */
async function receiver(): Promise<{ url: (path: string) => string; received: Received[]; close: () => void }> {
  const received: Received[] = [];
  let goneCalls = 0;
  const server = createServer((req, res) => {
    let body = '';
    req.on('data', (chunk) => (body += chunk));
    req.on('end', () => {
      received.push({ path: req.url ?? '', headers: req.headers, body });
      if (req.url === '/flaky') return res.writeHead(500).end('database is down');
      goneCalls += 1;
      res.writeHead(goneCalls === 1 ? 200 : 410).end(goneCalls === 1 ? 'ok' : 'gone for good');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return { url: (path) => `http://127.0.0.1:${port}${path}`, received, close: () => server.close() };
}

async function addEndpoint(page: Page, url: string) {
  const add = await openDialog(page, page.getByRole('button', { name: 'Add endpoint' }), 'Add a webhook endpoint');
  await add.dialog.getByLabel('Endpoint URL').fill(url);
  // Each event type says what it means.
  await expect(add.dialog.getByRole('checkbox', { name: /api_key\.revoked/ })).toBeVisible();
  await expect(add.dialog.getByText('An API key was revoked, by hand or as compromised.')).toBeVisible();
  await add.dialog.getByRole('button', { name: 'Add endpoint' }).click();
  await copySecretAndClose(page, add, { label: 'Signing secret', done: 'I have stored the secret' });
}

/** Refreshes the endpoint's figures and log until `cells` are there `count` times. */
async function refreshUntil(page: Page, cells: Locator, count: number) {
  await expect(async () => {
    await page.getByRole('button', { name: 'Refresh' }).click();
    await expect(cells).toHaveCount(count, { timeout: 1_000 });
  }).toPass();
}

/** No horizontal scrolling: the page fits the window. */
async function fits(page: Page) {
  expect(await page.evaluate(() => document.documentElement.scrollWidth <= document.documentElement.clientWidth)).toBe(true);
}

test('a failing webhook endpoint: when it is tried next, the request as sent, failed deliveries only', async ({ browser }) => {
  const errors: string[] = [];
  const hooks = await receiver();
  const owner = person('hooklog', 'Hana Hooklog');
  const { page } = await openBrowser(browser, errors);
  await signUpAndVerify(page, owner);
  const teamId = await createTeam(page, `Webhook log ${stamp}`);
  await page.goto(`/teams/${teamId}/webhooks`);

  // An endpoint that answers 500: the delivery waits for its next try, and shows what was sent.
  await addEndpoint(page, hooks.url('/flaky'));
  const endpoints = page.getByRole('table', { name: 'Webhook endpoints' });
  await endpoints.getByRole('button', { name: `Deliveries of ${hooks.url('/flaky')}` }).click();
  await page.getByRole('button', { name: 'Send test event' }).click();
  await expect.poll(() => hooks.received.length).toBe(1);
  const log = page.getByRole('table', { name: 'Delivery log' });
  await refreshUntil(page, log.getByRole('cell', { name: /Retrying/ }), 1);
  await expect(log.locator('[data-delivery="next"]')).toContainText(/Next try (in \d+ seconds?|just now|in 1 minute)/);
  await expect(log.getByRole('cell', { name: 'webhook.test' }).locator('code')).toHaveAttribute('title', 'A test event, sent on request to one endpoint.');
  await log.getByText('Request and answers').click();
  const attempt = log.locator('[data-attempt]').first();
  await expect(attempt).toContainText('Answered 500 in');
  await expect(attempt.locator('.response-excerpt')).toHaveText('database is down');
  const headers = attempt.getByRole('definition');
  const sent = hooks.received[0];
  const header = (name: string) => attempt.locator('.headers div').filter({ has: page.getByRole('term').getByText(name, { exact: true }) }).getByRole('definition');
  await expect(header('webhook-id')).toHaveText(String(sent.headers['webhook-id']));
  await expect(header('webhook-timestamp')).toHaveText(String(sent.headers['webhook-timestamp']));
  await expect(header('webhook-signature')).toHaveText('v1,<redacted>');
  expect(await headers.count()).toBe(5);
  await expect(log.locator('.request-body')).toHaveText(sent.body);
  if (process.env.PP_SCREENSHOTS) await page.screenshot({ path: `${process.env.PP_SCREENSHOTS}/webhook-attempt.png`, fullPage: true });

  // An endpoint that delivers once, then answers 410: "Failed only" shows the failed delivery.
  await page.goto(`/teams/${teamId}/webhooks`);
  await addEndpoint(page, hooks.url('/gone'));
  await endpoints.getByRole('button', { name: `Deliveries of ${hooks.url('/gone')}` }).click();
  await page.getByRole('button', { name: 'Send test event' }).click();
  await expect.poll(() => hooks.received.filter((r) => r.path === '/gone').length).toBe(1);
  await refreshUntil(page, log.getByRole('cell', { name: 'Delivered' }), 1);
  await page.getByRole('button', { name: 'Send test event' }).click();
  await expect.poll(() => hooks.received.filter((r) => r.path === '/gone').length).toBe(2);
  await refreshUntil(page, log.getByRole('cell', { name: 'Failed' }), 1);
  await expect(log.locator('tbody > tr[data-delivery]')).toHaveCount(2);
  await page.getByLabel('Failed deliveries only').check();
  await expect(log.locator('tbody > tr[data-delivery]')).toHaveCount(1);
  await expect(log.locator('tbody > tr[data-delivery]')).toContainText('Failed');
  await log.getByText('Request and answers').click();
  await expect(log.locator('[data-attempt]').first()).toContainText('Answered 410 in');

  // The log with its details open fits the window at tablet and phone widths.
  for (const size of [{ width: 768, height: 1024 }, { width: 390, height: 844 }]) {
    await page.setViewportSize(size);
    await fits(page);
    const box = (await log.locator('.headers').first().boundingBox())!;
    expect(box.x + box.width, `the headers at ${size.width} px`).toBeLessThanOrEqual(size.width);
  }
  hooks.close();
  expect(errors).toEqual([]);
});

test('the activity log folds sign-ins, narrows by date, and keeps its filters in the address', async ({ browser, baseURL }) => {
  const errors: string[] = [];
  const owner = person('actlog', 'Arne Activity');
  const { page } = await openBrowser(browser, errors);
  const api = await request.newContext({ baseURL });
  await signUpAndVerify(page, owner);
  const teamId = await createTeam(page, `Activity log ${stamp}`);
  // Three sign-ins in a row (the team existed before them, so the team's log shows them).
  for (let i = 0; i < 3; i++) {
    const login = await api.post('/api/v1/auth/login', { data: { email: owner.email, password: owner.password } });
    expect(login.status()).toBe(200);
  }
  await page.setViewportSize({ width: 1280, height: 800 });
  await page.goto(`/teams/${teamId}/activity`);
  const folded = page.locator('[data-activity="sign-ins"]');
  await expect(folded).toHaveCount(1);
  await expect(folded.locator('summary')).toContainText(`3 sign-ins by ${owner.name}`);
  await expect(folded.getByText('Signed in').first()).toBeHidden();
  await folded.locator('summary').click();
  await expect(folded.getByRole('listitem')).toHaveCount(3);
  if (process.env.PP_SCREENSHOTS) await page.screenshot({ path: `${process.env.PP_SCREENSHOTS}/activity-folded.png`, fullPage: true });
  await expect(page.locator('ol.activity-list > li').filter({ hasText: 'Team created' })).toBeVisible();

  // Today's entries; none from tomorrow on. The dates live in the address.
  const day = (offset: number) => {
    const d = new Date(Date.now() + offset * 86_400_000);
    return `${d.getFullYear()}-${String(d.getMonth() + 1).padStart(2, '0')}-${String(d.getDate()).padStart(2, '0')}`;
  };
  await page.getByLabel('From').fill(day(0));
  await page.getByLabel('To').fill(day(0));
  await expect(page).toHaveURL(new RegExp(`from=${day(0)}&to=${day(0)}`));
  await expect(page.locator('ol.activity-list > li').filter({ hasText: 'Team created' })).toBeVisible();
  await page.getByLabel('From').fill(day(1));
  await page.getByLabel('To').fill(day(1));
  await expect(page.getByText('No activity matches these filters.')).toBeVisible();
  await page.reload();
  await expect(page.getByLabel('From')).toHaveValue(day(1));
  await expect(page.getByText('No activity matches these filters.')).toBeVisible();
  // Asked for sign-ins, they show one by one.
  await page.getByRole('button', { name: 'Clear filters' }).click();
  await expect(page).not.toHaveURL(/\?/);
  await page.getByLabel('What').selectOption('auth.signed_in');
  await expect(page).toHaveURL(/what=auth.signed_in/);
  await expect(page.locator('ol.activity-list > li')).toHaveCount(3);
  await expect(folded).toHaveCount(0);
  await page.reload();
  await expect(page.getByLabel('What')).toHaveValue('auth.signed_in');
  await expect(page.locator('ol.activity-list > li')).toHaveCount(3);

  await page.getByRole('button', { name: 'Clear filters' }).click();
  await expect(folded).toHaveCount(1);
  for (const size of [{ width: 768, height: 1024 }, { width: 390, height: 844 }]) {
    await page.setViewportSize(size);
    await fits(page);
    const box = (await folded.boundingBox())!;
    expect(box.x + box.width, `the folded sign-ins at ${size.width} px`).toBeLessThanOrEqual(size.width);
  }
  await api.dispose();
  expect(errors).toEqual([]);
});
