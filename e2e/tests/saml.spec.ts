import { expect, test } from '@playwright/test';
import { createTeam, openBrowser, person, signUpAndVerify, stamp, verifyDomainJoiningAutomatically } from './helpers';

// Issue 27, SAML single sign-on end to end: an owner adds a SAML connection before the IdP has
// given its metadata (the IdP needs the portal's entity id and ACS URL first), completes it with
// the IdP's metadata URL, and a new member signs in on the IdP's own page (samlify as IdP,
// started by playwright.config.ts): the IdP's form posts the signed response to the portal,
// which completes the sign-in in the browser that started it.

const domain = 'acme-saml.example';

test('a member signs in through a SAML identity provider', async ({ browser }) => {
  const errors: string[] = [];
  const owner = person('saml-owner', 'Sam Owner');
  const { page } = await openBrowser(browser, errors);
  await signUpAndVerify(page, owner);
  const teamName = `SAML sign-on ${stamp}`;
  const teamId = await createTeam(page, teamName);
  await page.goto(`/teams/${teamId}/settings`);

  await verifyDomainJoiningAutomatically(page, domain);

  // The connection, first without the IdP's metadata: it shows what to give the IdP.
  const sso = page.getByRole('region', { name: 'Single sign-on' });
  await sso.getByLabel('Name').fill('Acme SAML');
  await sso.getByLabel('Protocol').selectOption('saml');
  await expect(sso.getByLabel('Client secret')).toHaveCount(0);
  // Metadata that is not an IdP's is refused, saying why.
  await sso.getByLabel('IdP metadata: its XML, or its URL').fill('<EntityDescriptor entityID="x"/>');
  await sso.getByRole('button', { name: 'Add connection' }).click();
  await expect(sso.locator('#idp_metadata-error')).toContainText('identity provider');
  await sso.getByLabel('IdP metadata: its XML, or its URL').fill('');
  await sso.getByRole('button', { name: 'Add connection' }).click();
  const connection = sso.locator('[data-sso-connection="Acme SAML"]');
  await expect(connection.locator('[data-sso-status]')).toHaveText("Needs the IdP's metadata");
  await expect(connection.locator('[data-saml="acs_url"]')).toContainText('/api/v1/auth/sso/saml/');
  await expect(connection.locator('[data-saml="entity_id"]')).toContainText('/metadata');
  await expect(connection.getByRole('button', { name: 'Test connection' })).toHaveCount(0);

  // Then the IdP's metadata, by its URL.
  await connection.getByLabel('IdP metadata: its XML, or its URL').fill(process.env.PP_E2E_SAML_METADATA_URL!);
  await connection.getByRole('button', { name: 'Save' }).click();
  await expect(connection.locator('[data-sso-status]')).toHaveText('Not tested yet');
  await expect(connection).toContainText(process.env.PP_E2E_SAML_METADATA_URL!);
  if (process.env.PP_SCREENSHOTS) await sso.screenshot({ path: `${process.env.PP_SCREENSHOTS}/saml-card.png` });

  // Ada, new here, signs in with "Continue with SSO" on the IdP's own page.
  const ada = await openBrowser(browser, errors);
  await ada.page.goto('/sign-in');
  await ada.page.getByLabel('E-mail', { exact: true }).fill(`ada@${domain}`);
  await ada.page.getByRole('button', { name: 'Continue with SSO' }).click();
  const idp = new URL(process.env.PP_E2E_SAML_METADATA_URL!).origin;
  await ada.page.waitForURL((url) => url.href.startsWith(idp));
  await expect(ada.page.getByRole('heading', { name: 'Test IdP: sign in' })).toBeVisible();
  await ada.page.getByLabel('E-mail').fill(`ada@${domain}`);
  await ada.page.getByRole('button', { name: 'Sign in' }).click();
  await expect(ada.page).toHaveURL(new RegExp(`/teams/${teamId}$`));
  await expect(ada.page.getByRole('heading', { level: 1, name: teamName })).toBeVisible();
  await ada.page.goto('/account');
  await expect(ada.page.locator('[data-session-method^="sso:"]')).toContainText('with SSO (Acme SAML)');

  // The connection now shows it has worked.
  await page.reload();
  await expect(connection.locator('[data-sso-status]')).toHaveText('Working');
  expect(errors).toEqual([]);
});
