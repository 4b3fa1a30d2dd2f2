import { expect, request, test, type Page } from '@playwright/test';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { openDialog } from './dialogs';
import { createTeam, person, signUpAndVerify, stamp } from './helpers';

// Every screen at three widths and in both colour schemes: no button, link or field is clipped
// or pushed off-screen (a sideways scroll to reach Revoke was issue 13's finding), and axe-core
// finds no serious or critical accessibility violation. PP_SCREENSHOTS=DIR saves each screen.
const WIDTHS = [1280, 768, 390];
const AXE = readFileSync(require.resolve('axe-core/axe.min.js'), 'utf8');

/** Controls that are shown but cut off by the viewport or by a scrolling or clipping ancestor. */
async function clippedControls(page: Page): Promise<string[]> {
  return page.evaluate(() => {
    const found: string[] = [];
    const controls = document.querySelectorAll<HTMLElement>('button, a[href], input, select, textarea, summary');
    for (const el of controls) {
      const r = el.getBoundingClientRect();
      if (r.width === 0 || r.height === 0 || getComputedStyle(el).visibility === 'hidden') continue;
      if (el.closest('dialog:not([open]), [hidden], .visually-hidden')) continue;
      // The content of a closed <details> (a menu) is not shown; its summary is.
      if (el.tagName !== 'SUMMARY' && el.closest('details:not([open])')) continue;
      const name = `${el.tagName.toLowerCase()} "${(el.getAttribute('aria-label') ?? el.textContent ?? '').trim().slice(0, 40)}"`;
      if (r.left < -0.5 || r.right > document.documentElement.clientWidth + 0.5) {
        found.push(`${name} is off-screen (${Math.round(r.left)}–${Math.round(r.right)} px)`);
        continue;
      }
      for (let p = el.parentElement; p && p !== document.body; p = p.parentElement) {
        const overflow = getComputedStyle(p).overflowX;
        if (overflow === 'visible') continue;
        const box = p.getBoundingClientRect();
        if (r.left < box.left - 0.5 || r.right > box.right + 0.5) {
          found.push(`${name} is clipped by .${p.className || p.tagName} (${overflow})`);
          break;
        }
      }
    }
    return found;
  });
}

async function axeViolations(page: Page): Promise<string[]> {
  if (!(await page.evaluate(() => 'axe' in window))) await page.addScriptTag({ content: AXE });
  return page.evaluate(async () => {
    // @ts-expect-error axe is injected above
    const result = await window.axe.run(document, { resultTypes: ['violations'] });
    return result.violations
      .filter((v: { impact: string }) => v.impact === 'serious' || v.impact === 'critical')
      .map((v: { id: string; nodes: { target: string[] }[] }) => `${v.id}: ${v.nodes.map((n) => n.target.join(' ')).join(', ')}`);
  });
}

test('every screen keeps its controls in reach at 1280, 768 and 390 px, light and dark, and passes axe', async ({ browser, baseURL }) => {
  test.setTimeout(300_000);
  const owner = person('reach', 'Rita Reach-Fitzgerald-Montgomery, Head of Partner Integrations EMEA');
  // axe's injected script needs the page's CSP set aside; the app is the same otherwise.
  const context = await browser.newContext({ bypassCSP: true });
  const page = await context.newPage();
  const errors: string[] = [];
  page.on('pageerror', (error) => errors.push(error.message));
  await signUpAndVerify(page, owner);
  const teamId = await createTeam(page, `Reach ${stamp}`, 'A team with something on every screen');

  const api = await request.newContext({ baseURL });
  const login = await api.post('/api/v1/auth/login', { data: { email: owner.email, password: owner.password } });
  const headers = { Authorization: `Bearer ${(await login.json()).access_token}` };
  let keyId = '';
  for (const [name, environment] of [
    ['Checkout service with a rather long descriptive name', 'production'],
    ['Reports', 'development'],
  ]) {
    const res = await api.post(`/api/v1/teams/${teamId}/api-keys`, {
      headers,
      data: {
        name,
        environment,
        expiration: '30d',
        description: 'Used by the nightly export of the finance department',
        usage_limit: 100000,
      },
    });
    expect(res.status()).toBe(201);
    keyId = (await res.json()).key.id;
  }
  // Long addresses and names wrap rather than push the row's buttons out of reach (issue 23:
  // the invitations table clipped Revoke at 1280 px).
  for (const email of [
    `colleague-${stamp}@example.com`,
    `nightly-settlement-exports-finance-${stamp}@subsidiary-of-a-corporation-with-a-long-name.example.com`,
  ]) {
    expect((await api.post(`/api/v1/teams/${teamId}/invitations`, { headers, data: { email, role: 'admin' } })).status()).toBe(201);
  }
  expect(
    (await api.post(`/api/v1/teams/${teamId}/webhooks`, {
      headers,
      data: { url: 'http://127.0.0.1:9/hooks/partner-portal/events', event_types: ['api_key.revoked'] },
    })).status(),
  ).toBe(201);

  const screens = [
    '/dashboard',
    '/account',
    `/teams/${teamId}`,
    `/teams/${teamId}/members`,
    `/teams/${teamId}/api-keys`,
    `/teams/${teamId}/api-keys/${keyId}`,
    `/teams/${teamId}/usage`,
    `/teams/${teamId}/activity`,
    `/teams/${teamId}/webhooks`,
    `/teams/${teamId}/settings`,
  ];
  const problems: string[] = [];
  for (const scheme of ['light', 'dark'] as const) {
    await page.emulateMedia({ colorScheme: scheme });
    for (const width of WIDTHS) {
      await page.setViewportSize({ width, height: 900 });
      for (const [index, screen] of screens.entries()) {
        await page.goto(screen);
        await expect(page.getByRole('heading', { level: 1 }).first()).toBeVisible();
        await expect(page.getByText(/^Loading/)).toHaveCount(0);
        if (process.env.PP_SCREENSHOTS) {
          const file = `${index}${screen.split('/').filter((s) => !/^[0-9a-f-]{36}$/.test(s)).join('-')}-${width}-${scheme}.png`;
          await page.screenshot({ path: path.join(process.env.PP_SCREENSHOTS, file), fullPage: true });
        }
        for (const p of await clippedControls(page)) problems.push(`${screen} at ${width} px (${scheme}): ${p}`);
        for (const v of await axeViolations(page)) problems.push(`${screen} at ${width} px (${scheme}), axe: ${v}`);
      }
    }
  }
  // Where the key table is cards, a row's actions open from its "Actions" button, in reach.
  await page.setViewportSize({ width: 390, height: 900 });
  await page.goto(`/teams/${teamId}/api-keys`);
  const revoke = page.getByRole('button', { name: 'Revoke Reports' });
  await expect(revoke).toBeHidden();
  const toggle = page.getByRole('button', { name: 'Actions for Reports' });
  await toggle.click();
  await expect(toggle).toHaveAttribute('aria-expanded', 'true');
  await expect(revoke).toBeVisible();
  for (const p of await clippedControls(page)) problems.push(`the opened row menu at 390 px: ${p}`);
  const dialog = await openDialog(page, revoke, 'Revoke Reports?');
  await dialog.close(dialog.dialog.getByRole('button', { name: 'Cancel' }));

  // The activity log downloads whole, as CSV.
  await page.goto(`/teams/${teamId}/activity`);
  const [download] = await Promise.all([
    page.waitForEvent('download'),
    page.getByRole('button', { name: 'Export CSV' }).click(),
  ]);
  const csv = readFileSync(await download.path(), 'utf8');
  expect(csv.split('\r\n')[0]).toBe('id,created_at,action,actor_type,actor_id,actor_name,target_type,target_id,summary,ip,user_agent');
  expect(csv).toContain(',"webhook.created",');
  expect(csv).toContain(',"team.created",');

  // The dashboard's checklists tick from what exists, and stay dismissed.
  await page.goto('/dashboard');
  const checklist = page.getByRole('article', { name: 'Getting started' });
  await expect(checklist).toContainText('5 of 7 steps done.');
  await expect(checklist.getByRole('listitem').filter({ hasText: 'Create your team' })).toContainText('(done)');
  await expect(checklist.getByRole('listitem').filter({ hasText: 'Assign appropriate roles' })).toContainText('(to do)');
  await expect(checklist.getByRole('listitem').filter({ hasText: 'first request' })).toContainText('(to do)');
  await checklist.getByRole('button', { name: 'Dismiss' }).click();
  await expect(checklist).toHaveCount(0);
  await page.reload();
  await expect(page.getByRole('heading', { name: 'Your teams' })).toBeVisible();
  await expect(checklist).toHaveCount(0);

  expect(problems).toEqual([]);
  expect(errors).toEqual([]);
  await context.close();
});
