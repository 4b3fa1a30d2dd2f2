import { expect, test, type Page } from '@playwright/test';
import { createTeam, openBrowser, person, signUpAndVerify, stamp, verifyDomainJoiningAutomatically, type Person } from './helpers';

// Issue 27, single sign-on: an owner connects the team to a real OpenID Connect provider
// (oidc-provider, started by playwright.config.ts, with its own sign-in page), tests it, and a
// member signs in through it; a password account links by its password once; with SSO
// required, a member's password session is refused and sent to the provider.

const domain = 'acme-sso.example';

/** The provider's own sign-in page: signs in as `login`. */
async function signInAtProvider(page: Page, login: string) {
  const issuer = process.env.PP_E2E_OIDC_ISSUER!;
  await page.waitForURL((url) => url.href.startsWith(issuer));
  await page.locator('input[name="login"]').fill(login);
  await page.locator('input[name="password"]').fill('any password');
  await page.locator('button[type="submit"]').click();
}

test('members sign in through the identity provider, and SSO can be required', async ({ browser }) => {
  const errors: string[] = [];
  const owner = person('sso-owner', 'Olga Owner');
  const { page } = await openBrowser(browser, errors);
  await signUpAndVerify(page, owner);
  const teamName = `Single sign-on ${stamp}`;
  const teamId = await createTeam(page, teamName);
  await page.goto(`/teams/${teamId}/settings`);

  // The domain, verified, whose people join automatically.
  await verifyDomainJoiningAutomatically(page, domain);

  // The connection: a wrong issuer is refused with the cause; the right one is added untested.
  const sso = page.getByRole('region', { name: 'Single sign-on' });
  await sso.getByLabel('Name').fill('Acme IdP');
  await sso.getByLabel('Issuer URL').fill('http://127.0.0.1:1');
  await sso.getByLabel('Client ID').fill('partner-portal-e2e');
  await sso.getByLabel('Client secret').fill('e2e-client-secret-of-the-test-provider');
  await sso.getByRole('button', { name: 'Add connection' }).click();
  await expect(sso.locator('#issuer-error')).toContainText('discovery');
  await sso.getByLabel('Issuer URL').fill(process.env.PP_E2E_OIDC_ISSUER!);
  await sso.getByRole('button', { name: 'Add connection' }).click();
  const connection = sso.locator('[data-sso-connection="Acme IdP"]');
  await expect(connection.locator('[data-sso-status]')).toHaveText('Not tested yet');
  await expect(connection).toContainText(`/api/v1/auth/sso/callback`);

  // Requiring SSO before the connection has worked is refused, saying why.
  await sso.getByLabel('Require single sign-on for every member but owners').check();
  await sso.getByRole('button', { name: 'Save' }).click();
  await expect(sso.locator('.sso-requirement')).toContainText("once the team's connection works");

  // "Test connection": the owner signs in at the provider's own page and comes back to the claims.
  await connection.getByRole('button', { name: 'Test connection' }).click();
  await signInAtProvider(page, 'ada');
  await expect(page).toHaveURL(new RegExp(`/teams/${teamId}/settings\\?sso_test=done#sso$`));
  await expect(connection.locator('[data-sso-status]')).toHaveText('Working');
  await expect(connection.locator('[data-sso-test="claims"]')).toContainText(`ada@${domain}`);
  if (process.env.PP_SCREENSHOTS) await sso.screenshot({ path: `${process.env.PP_SCREENSHOTS}/sso-card.png` });

  // Ada, new here, signs in with "Continue with SSO" and lands in the team as a member.
  const ada = await openBrowser(browser, errors);
  await ada.page.goto('/sign-in');
  await ada.page.getByLabel('E-mail', { exact: true }).fill(`ada@${domain}`);
  await ada.page.getByRole('button', { name: 'Continue with SSO' }).click();
  await signInAtProvider(ada.page, 'ada');
  await expect(ada.page).toHaveURL(new RegExp(`/teams/${teamId}$`));
  await expect(ada.page.getByRole('heading', { level: 1, name: teamName })).toBeVisible();
  await ada.page.goto('/account');
  await expect(ada.page.locator('[data-session-method^="sso:"]')).toContainText('with SSO (Acme IdP)');

  // Bob has a password account: the provider's sign-in links it once his password is proven.
  const bob: Person = { email: `bob@${domain}`, name: 'Bob Builder', password: `bob-password-${stamp}` };
  const bobs = await openBrowser(browser, errors);
  await signUpAndVerify(bobs.page, bob);
  await bobs.context.clearCookies();
  await bobs.page.goto('/sign-in');
  await bobs.page.getByLabel('E-mail', { exact: true }).fill(bob.email);
  await bobs.page.getByRole('button', { name: 'Continue with SSO' }).click();
  await signInAtProvider(bobs.page, 'bob');
  await expect(bobs.page).toHaveURL(/\/sign-in\?sso_link=/);
  await expect(bobs.page.getByText('Enter that password once to link the two')).toBeVisible();
  await expect(bobs.page.getByLabel('E-mail', { exact: true })).toHaveValue(bob.email);
  await bobs.page.getByLabel('Password', { exact: true }).fill(bob.password);
  await bobs.page.getByRole('button', { name: 'Sign in', exact: true }).click();
  await expect(bobs.page).toHaveURL(/\/dashboard$/);
  await bobs.page.goto(`/teams/${teamId}`);
  await expect(bobs.page.getByRole('heading', { level: 1, name: teamName })).toBeVisible();

  // The owner requires SSO now that it works.
  await page.reload();
  await sso.getByLabel('Require single sign-on for every member but owners').check();
  await sso.getByRole('button', { name: 'Save' }).click();
  await expect(sso.getByText('The setting has been saved.')).toBeVisible();

  // Bob signs in with his password: the team refuses the password session and sends him to SSO.
  await bobs.context.clearCookies();
  await bobs.page.goto('/sign-in');
  await bobs.page.getByLabel('E-mail', { exact: true }).fill(bob.email);
  await bobs.page.getByLabel('Password', { exact: true }).fill(bob.password);
  await bobs.page.getByRole('button', { name: 'Sign in', exact: true }).click();
  await expect(bobs.page).toHaveURL(/\/dashboard$/);
  await bobs.page.goto(`/teams/${teamId}`);
  await expect(bobs.page.getByRole('heading', { name: 'Single sign-on required' })).toBeVisible();
  await bobs.page.getByRole('link', { name: 'Sign in with SSO' }).click();
  await signInAtProvider(bobs.page, 'bob');
  await expect(bobs.page).toHaveURL(new RegExp(`/teams/${teamId}$`));
  await expect(bobs.page.getByRole('heading', { level: 1, name: teamName })).toBeVisible();

  // The owner keeps a password way in, and the activity records it.
  await page.goto(`/teams/${teamId}/activity`);
  await expect(page.getByRole('main')).toContainText('Signed in with SSO');
  expect(errors).toEqual([]);
});
