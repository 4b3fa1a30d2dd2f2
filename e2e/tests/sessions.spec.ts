import { test, expect, type Browser, type Page } from '@playwright/test';
import { openBrowser, person, signUpAndVerify, type Person } from './helpers';

const IPHONE =
  'Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.0 Mobile/15E148 Safari/604.1';
const WINDOWS =
  'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0 Safari/537.36 Edg/120.0';

/** Signs `who` in on another device: a browser context of its own with that user agent. */
async function otherDevice(browser: Browser, who: Person, userAgent: string): Promise<Page> {
  const context = await browser.newContext({ userAgent });
  const page = await context.newPage();
  await page.goto('/sign-in');
  await page.getByLabel('E-mail', { exact: true }).fill(who.email);
  await page.getByLabel('Password', { exact: true }).fill(who.password);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await expect(page).toHaveURL(/\/dashboard$/);
  return page;
}

test('a session ended from another device is signed out there at once', async ({ browser }) => {
  const errors: string[] = [];
  const ada = person('sessions', 'Ada Sessions');
  const { page: laptop } = await openBrowser(browser, errors);
  await signUpAndVerify(laptop, ada);
  const phone = await otherDevice(browser, ada, IPHONE);
  const desktop = await otherDevice(browser, ada, WINDOWS);

  await laptop.getByRole('link', { name: 'Account' }).click();
  const sessions = laptop.getByRole('table', { name: 'Your sessions' });
  await expect(sessions.getByRole('row')).toHaveCount(4);
  await expect(sessions.getByText('This device')).toHaveCount(1);
  await expect(sessions.getByText('Safari on iPhone')).toBeVisible();

  await sessions.getByRole('button', { name: 'Sign out Safari on iPhone' }).click();
  await expect(sessions.getByRole('row')).toHaveCount(3);
  await expect(sessions.getByText('Safari on iPhone')).toHaveCount(0);
  // The phone still holds an access token in memory; its next call is refused and it lands on
  // the sign-in page, without reloading.
  await phone.getByRole('link', { name: 'Account' }).click();
  await expect(phone).toHaveURL(/\/sign-in/);

  await laptop.getByRole('button', { name: 'Sign out everywhere else' }).click();
  await expect(sessions.getByRole('row')).toHaveCount(2);
  await expect(laptop.getByRole('button', { name: 'Sign out everywhere else' })).toHaveCount(0);
  await desktop.getByRole('link', { name: 'Account' }).click();
  await expect(desktop).toHaveURL(/\/sign-in/);

  // This device is still signed in.
  await laptop.reload();
  await expect(laptop.getByRole('heading', { level: 1, name: 'Account' })).toBeVisible();
  expect(errors).toEqual([]);
});
