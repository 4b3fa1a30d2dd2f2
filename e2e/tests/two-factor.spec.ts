import { createHmac } from 'node:crypto';
import { test, expect, type Page } from '@playwright/test';
import { createTeam, openBrowser, person, signUpAndVerify, type Person } from './helpers';
import { mailSubject } from './mail';

/** RFC 4648 base32 (no padding), as the page shows the secret. */
function base32(text: string): Buffer {
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';
  let bits = 0;
  let value = 0;
  const out: number[] = [];
  for (const c of text) {
    value = (value << 5) | alphabet.indexOf(c);
    bits += 5;
    if (bits >= 8) {
      bits -= 8;
      out.push((value >>> bits) & 0xff);
    }
  }
  return Buffer.from(out);
}

/** The code an authenticator app shows at Unix time `seconds` (RFC 6238: SHA-1, 6 digits, 30 s). */
function totp(secret: string, seconds = Date.now() / 1000): string {
  const counter = Buffer.alloc(8);
  counter.writeBigUInt64BE(BigInt(Math.floor(seconds / 30)));
  const digest = createHmac('sha1', base32(secret)).update(counter).digest();
  const at = digest[19] & 0x0f;
  return String((digest.readUInt32BE(at) & 0x7fffffff) % 1_000_000).padStart(6, '0');
}

async function signOut(page: Page) {
  await page.getByRole('button', { name: 'Sign out', exact: true }).click();
  await expect(page).toHaveURL(/\/sign-in/);
}

/** The password step; the page then asks for the second factor. */
async function password(page: Page, who: Person) {
  await page.goto('/sign-in');
  await page.getByLabel('E-mail', { exact: true }).fill(who.email);
  await page.getByLabel('Password', { exact: true }).fill(who.password);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await expect(page.getByRole('heading', { name: 'Two-factor authentication' })).toBeVisible();
}

test('two-factor authentication: enrol, sign in with a code and with a recovery code, require it of a team', async ({
  browser,
}) => {
  const errors: string[] = [];
  const ada = person('totp', 'Ada Totp');
  const { page } = await openBrowser(browser, errors);
  await signUpAndVerify(page, ada);
  const teamId = await createTeam(page, `Two-factor ${Date.now()}`);

  // The owner cannot require what they do not have: the box says why before anything is tried,
  // and lists whom requiring it would shut out (the owner too, for now).
  await page.goto(`/teams/${teamId}/settings`);
  const requirement = page.getByLabel('Require two-factor authentication for every member');
  await expect(requirement).toBeDisabled();
  await expect(page.getByText('You do not have two-factor authentication on, so you cannot require it yet')).toBeVisible();
  await expect(page.locator('[data-two-factor="missing"]')).toContainText('Requiring it would shut out (1):');
  await expect(page.locator('[data-two-factor="missing"]')).toContainText(ada.email);

  // A second device, signed in before the set-up.
  const phoneContext = await browser.newContext();
  const phone = await phoneContext.newPage();
  await phone.goto('/sign-in');
  await phone.getByLabel('E-mail', { exact: true }).fill(ada.email);
  await phone.getByLabel('Password', { exact: true }).fill(ada.password);
  await phone.getByRole('button', { name: 'Sign in' }).click();
  await expect(phone).toHaveURL(/\/dashboard$/);

  // Enrol, from the settings' link: the QR code, the key to type, and a code computed from the shown key.
  await page.getByRole('link', { name: 'turn it on in your account' }).click();
  await expect(page).toHaveURL(/\/account#two-factor$/);
  const card = page.locator('#two-factor');
  await card.getByLabel('Confirm your password').fill(ada.password);
  await card.getByRole('button', { name: 'Set up two-factor authentication' }).click();
  await expect(card.getByRole('img', { name: /QR code/ })).toBeVisible();
  const secret = (await card.getByTestId('totp-secret').textContent())!.trim();
  expect(secret).toMatch(/^[A-Z2-7]{32}$/);
  await card.getByLabel('Code from the app').fill('000000' === totp(secret) ? '111111' : '000000');
  await card.getByRole('button', { name: 'Turn on' }).click();
  await expect(card.getByText(/The code is wrong/)).toBeVisible();
  // The code of this time step turns it on; the sign-in below needs the next step's.
  const enrolledAt = Date.now() / 1000;
  await card.getByLabel('Code from the app').fill(totp(secret, enrolledAt));
  await card.getByRole('button', { name: 'Turn on' }).click();
  const codes = card.getByRole('list', { name: 'Recovery codes' }).getByRole('listitem');
  await expect(codes).toHaveCount(16);
  const recovery = (await codes.allTextContents()).map((c) => c.trim());
  expect(recovery[0]).toMatch(/^[0-9a-z]{5}-[0-9a-z]{5}$/);
  const download = page.waitForEvent('download');
  await card.getByRole('button', { name: 'Download' }).click();
  expect((await download).suggestedFilename()).toBe('partner-portal-recovery-codes.txt');
  await card.getByRole('button', { name: 'I saved them' }).click();
  await expect(card.getByText('16 recovery codes left.')).toBeVisible();

  // Now the owner may require it of the team, and nobody is shut out.
  await page.goto(`/teams/${teamId}/settings`);
  await expect(page.locator('[data-two-factor="ready"]')).toHaveText('Every member has it on.');
  await page.getByLabel('Require two-factor authentication for every member').check();
  await page.getByRole('button', { name: 'Save setting' }).click();
  await expect(page.getByText('The setting has been saved.')).toBeVisible();

  // End the other session from here.
  await page.getByRole('link', { name: 'Account' }).click();
  const sessions = page.getByRole('table', { name: 'Your sessions' });
  await expect(sessions.getByRole('row')).toHaveCount(3);
  await page.getByRole('button', { name: 'Sign out everywhere else' }).click();
  await expect(sessions.getByRole('row')).toHaveCount(2);
  await phone.getByRole('link', { name: 'Account' }).click();
  await expect(phone).toHaveURL(/\/sign-in/);

  // Sign in with the app: the code of the set-up's time step was used, the next one is accepted.
  await signOut(page);
  await password(page, ada);
  await page.getByLabel('Authentication code').fill(totp(secret, enrolledAt));
  await page.getByRole('button', { name: 'Verify' }).click();
  await expect(page.getByText(/used already/)).toBeVisible();
  await page.getByLabel('Authentication code').fill(totp(secret, enrolledAt + 30));
  await page.getByRole('button', { name: 'Verify' }).click();
  await expect(page).toHaveURL(/\/dashboard$/);

  // Sign in with a recovery code, which then shows as used and mails the owner.
  await signOut(page);
  await password(page, ada);
  await page.getByRole('button', { name: 'Use a recovery code instead' }).click();
  await page.getByLabel('Recovery code').fill(recovery[0]);
  await page.getByRole('button', { name: 'Verify' }).click();
  await expect(page).toHaveURL(/\/dashboard$/);
  await expect.poll(() => mailSubject(ada.email, /recovery code was used/)).toBeTruthy();
  await page.getByRole('link', { name: 'Account' }).click();
  await expect(page.locator('#two-factor').getByText('15 recovery codes left.')).toBeVisible();
  expect(errors).toEqual([]);
});
