import { expect, test } from '@playwright/test';
import { openBrowser } from './helpers';

// The guide's "Need Help?" (issue 26): the API documentation, the support team and the community
// forum, as the operator set them (playwright.config.ts), from the header's Help menu at every
// width, and under an error page.
test('the Help menu and error pages lead to the documentation, support and the community', async ({ browser }) => {
  const errors: string[] = [];
  const { page } = await openBrowser(browser, errors);
  const links = [
    ['API documentation', '/docs/'],
    ['Contact support', 'mailto:support@partners.example'],
    ['Community forum', 'https://community.partners.example/portal'],
  ];
  for (const size of [{ width: 1280, height: 800 }, { width: 768, height: 1024 }, { width: 390, height: 844 }]) {
    await page.setViewportSize(size);
    await page.goto('/sign-in');
    const menu = page.getByRole('navigation', { name: 'Main' }).locator('details.help-menu');
    await menu.getByText('Help', { exact: true }).click();
    for (const [name, href] of links) {
      const link = menu.getByRole('link', { name });
      await expect(link).toHaveAttribute('href', href);
      const box = (await link.boundingBox())!;
      expect(box.x, `${name} at ${size.width} px`).toBeGreaterThanOrEqual(0);
      expect(box.x + box.width, `${name} at ${size.width} px`).toBeLessThanOrEqual(size.width);
    }
  }
  await page.goto('/no-such-page');
  await expect(page.getByRole('heading', { name: 'Page not found' })).toBeVisible();
  const needHelp = page.locator('.need-help');
  await expect(needHelp.getByRole('link', { name: 'the API documentation' })).toHaveAttribute('href', '/docs/');
  await expect(needHelp.getByRole('link', { name: 'support' })).toHaveAttribute('href', 'mailto:support@partners.example');
  // The documentation link leads to the portal's own API reference.
  await needHelp.getByRole('link', { name: 'the API documentation' }).click();
  await expect(page).toHaveURL(/\/docs\/$/);
  expect(errors).toEqual([]);
});
