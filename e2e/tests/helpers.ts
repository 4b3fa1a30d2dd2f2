import { expect, type Browser, type BrowserContext, type Page } from '@playwright/test';
import { openDialog } from './dialogs';
import { readFileSync, renameSync, writeFileSync } from 'node:fs';
import { mailedLink } from './mail';

export type Person = { email: string; name: string; password: string };

export const stamp = Date.now();
export const person = (who: string, name: string): Person => ({
  email: `${who}-${stamp}@example.com`,
  name,
  password: `${who}-password-${stamp}`,
});

/** A fresh browser context (its own cookies: its own session) that records app crashes and CSP errors. */
export async function openBrowser(browser: Browser, errors: string[]): Promise<{ context: BrowserContext; page: Page }> {
  const context = await browser.newContext();
  // The secret dialogs' Copy button writes to the clipboard.
  await context.grantPermissions(['clipboard-read', 'clipboard-write']);
  const page = await context.newPage();
  page.on('pageerror', (error) => errors.push(error.message));
  page.on('console', (msg) => {
    if (msg.type() === 'error' && /Content Security Policy|panicked/i.test(msg.text())) errors.push(msg.text());
  });
  return { context, page };
}

export async function signUpAndVerify(page: Page, who: Person) {
  await page.goto('/sign-up');
  await page.getByLabel('E-mail', { exact: true }).fill(who.email);
  await page.getByLabel('Name', { exact: true }).fill(who.name);
  await page.getByLabel('Password', { exact: true }).fill(who.password);
  await page.getByRole('button', { name: 'Create account' }).click();
  await expect(page.getByRole('heading', { name: 'Check your inbox' })).toBeVisible();
  await page.goto(await mailedLink('verify-email', who.email));
  await expect(page.getByRole('heading', { name: 'Your e-mail address is verified' })).toBeVisible();
  await page.goto('/sign-in');
  await page.getByLabel('E-mail', { exact: true }).fill(who.email);
  await page.getByLabel('Password', { exact: true }).fill(who.password);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await expect(page).toHaveURL(/\/dashboard$/);
}

/** Creates a team from the dashboard and returns its id (the page is left on the team). */
export async function createTeam(page: Page, name: string, description?: string): Promise<string> {
  await page.goto('/dashboard');
  const { dialog } = await openDialog(page, page.getByRole('main').getByRole('button', { name: 'Create team' }), 'Create a team');
  await dialog.getByLabel('Team name').fill(name);
  if (description) await dialog.getByLabel('Description').fill(description);
  await dialog.getByRole('button', { name: 'Create team' }).click();
  await expect(page).toHaveURL(/\/teams\/[0-9a-f-]{36}$/);
  await expect(page.getByRole('heading', { level: 1, name })).toBeVisible();
  return new URL(page.url()).pathname.split('/')[2];
}

/** A key row's action (e.g. "Revoke", "Roll"), from the row's "⋯" menu, opened if it is closed. */
export async function keyAction(page: Page, action: string, keyName: string) {
  const button = page.getByRole('button', { name: `${action} ${keyName}`, exact: true });
  const menu = page.getByRole('button', { name: `Actions for ${keyName}`, exact: true });
  if ((await menu.getAttribute('aria-expanded')) !== 'true') await menu.click();
  return button;
}

/** Makes the test DNS server (dnslib, started by playwright.config.ts) answer `values` for the TXT name `name`. */
export function publish(name: string, values: string[]) {
  const file = process.env.PP_E2E_DNS_RECORDS!;
  const records = JSON.parse(readFileSync(file, 'utf8'));
  records[`${name}.`] = values;
  writeFileSync(`${file}.next`, JSON.stringify(records));
  renameSync(`${file}.next`, file);
}

/**
 * On a team's settings page: adds `domain`, publishes its TXT record, checks it, and lets people
 * of the domain join automatically.
 */
export async function verifyDomainJoiningAutomatically(page: Page, domain: string) {
  const domains = page.getByRole('region', { name: 'Verified domains' });
  await domains.getByLabel('Domain').fill(domain);
  await domains.getByRole('button', { name: 'Add domain' }).click();
  const row = domains.locator(`[data-domain="${domain}"]`);
  const value = (await row.locator('.txt-record dd').nth(1).textContent())!.trim();
  publish(`_partner-portal.${domain}`, [value]);
  await row.getByRole('button', { name: `Check the TXT record of ${domain}` }).click();
  await expect(row.locator('[data-domain-status]')).toHaveText('Verified');
  await row.getByLabel('Who may join').selectOption('automatic');
  await expect(page.getByRole('status').filter({ hasText: 'Join rule saved.' })).toBeVisible();
}
