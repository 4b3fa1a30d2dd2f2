import { expect, test, type Page } from '@playwright/test';
import { mailedLink } from './mail';

async function signIn(page: Page, email: string, password: string) {
  await page.getByLabel('E-mail', { exact: true }).fill(email);
  await page.getByLabel('Password', { exact: true }).fill(password);
  await page.getByRole('button', { name: 'Sign in' }).click();
}

test('a partner signs up, verifies the address, manages the account and resets the password', async ({ page, baseURL }) => {
  const email = `partner-${Date.now()}@example.com`;
  const name = 'Ada Partner';
  const firstPassword = 'first-password-1';
  const changedPassword = 'changed-password-2';
  const resetPassword = 'reset-password-3';
  const main = page.getByRole('main');
  // The server's strict CSP must not block anything the app does; the app must not crash.
  const browserErrors: string[] = [];
  page.on('pageerror', (error) => browserErrors.push(error.message));
  page.on('console', (msg) => {
    if (msg.type() === 'error' && /Content Security Policy|panicked/i.test(msg.text())) browserErrors.push(msg.text());
  });

  await test.step('sign up', async () => {
    await page.goto('/sign-up');
    await page.getByLabel('E-mail', { exact: true }).fill(email);
    await page.getByLabel('Name', { exact: true }).fill(name);
    await page.getByLabel('Password', { exact: true }).fill(firstPassword);
    await page.getByRole('button', { name: 'Create account' }).click();
    await expect(page.getByRole('heading', { name: 'Check your inbox' })).toBeVisible();
  });

  await test.step('verify the e-mail address from the mailed link', async () => {
    await page.goto(await mailedLink('verify-email', email));
    await expect(page.getByRole('heading', { name: 'Your e-mail address is verified' })).toBeVisible();
    await main.getByRole('link', { name: 'Sign in' }).click();
    await expect(page).toHaveURL(/\/sign-in$/);
  });

  await test.step('sign in and land on the dashboard', async () => {
    await signIn(page, email, firstPassword);
    await expect(page).toHaveURL(/\/dashboard$/);
    await expect(page.getByRole('heading', { name: `Welcome, ${name}` })).toBeVisible();
    await expect(page.getByRole('heading', { name: 'Create Your Team' })).toBeVisible();
  });

  await test.step('a reload keeps the session', async () => {
    await page.reload();
    await expect(page.getByRole('heading', { name: 'Create Your Team' })).toBeVisible();
    await expect(page).toHaveURL(/\/dashboard$/);
  });

  await test.step('an expired access token is renewed and the call retried', async () => {
    // The first GET /me answers as if the access token had expired; the app must refresh the
    // session once and repeat the call.
    let expired = false;
    let refreshes = 0;
    await page.route('**/api/v1/me', (route) => {
      if (expired) return route.fallback();
      expired = true;
      return route.fulfill({
        status: 401,
        contentType: 'application/problem+json',
        body: JSON.stringify({ type: '/problems/unauthorized', title: 'Unauthorized', status: 401, code: 'unauthorized' }),
      });
    });
    await page.route('**/api/v1/auth/refresh', (route) => {
      refreshes += 1;
      return route.fallback();
    });
    await page.getByRole('link', { name: 'Account' }).click();
    await expect(main.getByText(`Signed in as ${email}`)).toBeVisible();
    expect(expired).toBe(true);
    expect(refreshes).toBe(1);
    await page.unrouteAll();
  });

  await test.step('change the password on the account page', async () => {
    await expect(page.getByRole('heading', { name: 'Account' })).toBeVisible();
    await page.getByLabel('Current password').fill(firstPassword);
    await page.getByLabel('New password').fill(changedPassword);
    await page.getByRole('button', { name: 'Change password' }).click();
    await expect(page.getByText('Your password has been changed.')).toBeVisible();
  });

  await test.step('sign out', async () => {
    await page.getByRole('button', { name: 'Sign out' }).click();
    await expect(page).toHaveURL(/\/sign-in$/);
    await page.goto('/dashboard');
    await expect(page).toHaveURL(/\/sign-in\?next=%2Fdashboard$/);
  });

  await test.step('the old password no longer works', async () => {
    await signIn(page, email, firstPassword);
    await expect(main.locator('.alert.error')).toBeVisible();
    await expect(page).toHaveURL(/\/sign-in/);
  });

  let resetLink = '';
  await test.step('forgot password: reset by the mailed link, then sign in', async () => {
    await page.getByRole('link', { name: 'Forgot password?' }).click();
    await page.getByLabel('E-mail', { exact: true }).fill(email);
    await page.getByRole('button', { name: 'Send reset link' }).click();
    await expect(page.getByRole('heading', { name: 'Check your inbox' })).toBeVisible();

    resetLink = await mailedLink('reset-password', email);
    await page.goto(resetLink);
    await page.getByLabel('New password').fill(resetPassword);
    await page.getByRole('button', { name: 'Set new password' }).click();
    await expect(page.getByRole('heading', { name: 'Your password has been changed' })).toBeVisible();

    await main.getByRole('link', { name: 'Sign in' }).click();
    await expect(page).toHaveURL(/\/sign-in$/);
    // A crafted sign-in link cannot send the user to another site afterwards: browsers drop the
    // tab from `/\t/evil.example`, which would make it `//evil.example`.
    await page.goto('/sign-in?next=/%09/evil.example');
    await signIn(page, email, resetPassword);
    await expect(page.getByRole('heading', { name: 'Create Your Team' })).toBeVisible();
    expect(new URL(page.url()).origin).toBe(new URL(baseURL!).origin);
  });

  await test.step('the used reset link is refused', async () => {
    await page.goto(resetLink);
    await page.getByLabel('New password').fill('another-password-4');
    await page.getByRole('button', { name: 'Set new password' }).click();
    await expect(page.getByRole('heading', { name: 'This link is no longer valid' })).toBeVisible();
  });

  expect(browserErrors).toEqual([]);
});
