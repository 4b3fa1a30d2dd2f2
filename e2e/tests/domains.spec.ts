import { expect, test } from '@playwright/test';
import { openDialog } from './dialogs';
import { createTeam, openBrowser, person, publish, signUpAndVerify, stamp } from './helpers';

// Issue 27, verified domains: an owner adds a domain, publishes its TXT record at a real DNS
// server (dnslib, started by playwright.config.ts), checks it and chooses who may join.

test('an owner verifies a domain by its TXT record and chooses who may join', async ({ browser }) => {
  const errors: string[] = [];
  const owner = person('domains', 'Dana Domains');
  const { page } = await openBrowser(browser, errors);
  await signUpAndVerify(page, owner);
  const teamId = await createTeam(page, `Domains ${stamp}`);
  await page.goto(`/teams/${teamId}/settings`);
  const card = page.getByRole('region', { name: 'Verified domains' });
  await expect(card).toContainText('No domain yet.');

  // A bad name is refused at its field.
  await card.getByLabel('Domain').fill('not a domain');
  await card.getByRole('button', { name: 'Add domain' }).click();
  await expect(card.locator('#domain-error')).toContainText('must be a domain such as example.com');

  // A long name, as a platform's regional domains are.
  const domain = `checkout-storefront-region-01-${stamp}.european-partner-platform.example.com`;
  await card.getByLabel('Domain').fill(domain.toUpperCase());
  await card.getByRole('button', { name: 'Add domain' }).click();
  const row = card.locator(`[data-domain="${domain}"]`);
  await expect(row.locator('[data-domain-status]')).toHaveText('Waiting for its TXT record');
  await expect(row.locator('.txt-record')).toContainText(`_partner-portal.${domain}`);
  const value = (await row.locator('.txt-record dd').nth(1).textContent())!.trim();
  expect(value).toMatch(/^pp-verify=[0-9a-f]{32}$/);

  // Checked before the record exists: the card says what is missing.
  await row.getByRole('button', { name: `Check the TXT record of ${domain}` }).click();
  await expect(row.locator('[data-domain="check-error"]')).toContainText(`No TXT record _partner-portal.${domain} was found`);
  if (process.env.PP_SCREENSHOTS) await card.screenshot({ path: `${process.env.PP_SCREENSHOTS}/domains-pending.png` });

  // Published: the next check verifies it.
  publish(`_partner-portal.${domain}`, ['v=spf1 -all', value]);
  await row.getByRole('button', { name: `Check the TXT record of ${domain}` }).click();
  await expect(row.locator('[data-domain-status]')).toHaveText('Verified');
  await expect(row.locator('.txt-record')).toHaveCount(0);

  // Who may join: kept.
  await row.getByLabel('Who may join').selectOption('automatic');
  await expect(page.getByRole('status').filter({ hasText: 'Join rule saved.' })).toBeVisible();
  await page.reload();
  await expect(card.locator(`[data-domain="${domain}"]`).getByLabel('Who may join')).toHaveValue('automatic');
  if (process.env.PP_SCREENSHOTS) await card.screenshot({ path: `${process.env.PP_SCREENSHOTS}/domains-1280.png` });

  // Someone with an address there is offered the team on their dashboard, and joins.
  const colleague = { email: `colleague@${domain}`, name: 'Colin Colleague', password: `colleague-password-${stamp}` };
  const other = await openBrowser(browser, errors);
  await signUpAndVerify(other.page, colleague);
  const offer = other.page.getByRole('article', { name: 'Teams you can join' });
  await expect(offer).toContainText(`Domains ${stamp}`);
  await offer.getByRole('button', { name: `Join Domains ${stamp}` }).click();
  await expect(other.page).toHaveURL(new RegExp(`/teams/${teamId}$`));
  await expect(other.page.getByRole('heading', { level: 1, name: `Domains ${stamp}` })).toBeVisible();
  await other.context.close();

  // It fits a phone.
  for (const size of [{ width: 768, height: 1024 }, { width: 390, height: 844 }]) {
    await page.setViewportSize(size);
    expect(await page.evaluate(() => document.documentElement.scrollWidth <= document.documentElement.clientWidth)).toBe(true);
    const box = (await card.locator(`[data-domain="${domain}"]`).boundingBox())!;
    expect(box.x + box.width, `the domain at ${size.width} px`).toBeLessThanOrEqual(size.width);
  }

  // Removing asks first.
  const remove = await openDialog(page, card.getByRole('button', { name: `Remove ${domain}` }), `Remove ${domain}?`);
  await remove.close(remove.dialog.getByRole('button', { name: 'Remove domain' }));
  await expect(card).toContainText('No domain yet.');

  // The activity tells each step.
  await page.goto(`/teams/${teamId}/activity`);
  const entries = page.locator('ol.activity-list > li');
  for (const label of ['Domain added', 'Domain not verified', 'Domain verified', 'Domain join rule changed', 'Member joined', 'Domain removed']) {
    await expect(entries.filter({ hasText: label }).first()).toBeVisible();
  }
  expect(errors).toEqual([]);
});
