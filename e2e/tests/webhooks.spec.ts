import { createHmac } from 'node:crypto';
import { createServer, type IncomingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';
import { test, expect } from '@playwright/test';
import { copySecretAndClose, openDialog } from './dialogs';
import { createTeam, openBrowser, person, signUpAndVerify } from './helpers';

type Received = { headers: IncomingHttpHeaders; body: string };

/** A receiver on loopback that records every request and answers 200. */
async function receiver(): Promise<{ url: string; received: Received[]; close: () => void }> {
  const received: Received[] = [];
  const server = createServer((req, res) => {
    let body = '';
    req.on('data', (chunk) => (body += chunk));
    req.on('end', () => {
      received.push({ headers: req.headers, body });
      res.writeHead(200).end('thanks');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return { url: `http://127.0.0.1:${port}/hook`, received, close: () => server.close() };
}

/** Standard Webhooks verification, written here (not the portal's code). */
function verifies(secret: string, r: Received): boolean {
  const key = Buffer.from(secret.replace(/^whsec_/, ''), 'base64');
  const signed = `${r.headers['webhook-id']}.${r.headers['webhook-timestamp']}.${r.body}`;
  const expected = `v1,${createHmac('sha256', key).update(signed).digest('base64')}`;
  return String(r.headers['webhook-signature']).split(' ').includes(expected);
}

test('webhooks: add an endpoint, send a test event, see it in the log, redeliver it', async ({ browser }) => {
  const errors: string[] = [];
  const hooks = await receiver();
  const ada = person('hooks', 'Ada Hooks');
  const { page } = await openBrowser(browser, errors);
  await signUpAndVerify(page, ada);
  const teamId = await createTeam(page, `Webhooks ${Date.now()}`);

  await page.getByRole('navigation', { name: 'Team' }).getByRole('link', { name: 'Webhooks' }).click();
  await expect(page).toHaveURL(new RegExp(`/teams/${teamId}/webhooks$`));
  const add = await openDialog(page, page.getByRole('button', { name: 'Add endpoint' }), 'Add a webhook endpoint');
  const dialog = add.dialog;
  await dialog.getByLabel('Endpoint URL').fill(hooks.url);
  await dialog.getByLabel(/^Description/).fill('Our CRM');
  // Every event type is picked at first; leave out one.
  await dialog.getByRole('checkbox', { name: 'team.updated' }).uncheck();
  await dialog.getByRole('button', { name: 'Add endpoint' }).click();
  const secret = await copySecretAndClose(page, add, { label: 'Signing secret', done: 'I have stored the secret' });
  expect(secret).toMatch(/^whsec_/);

  const endpoints = page.getByRole('table', { name: 'Webhook endpoints' });
  await expect(endpoints.getByText(hooks.url)).toBeVisible();
  await endpoints.getByRole('button', { name: `Deliveries of ${hooks.url}` }).click();
  await page.getByRole('button', { name: 'Send test event' }).click();
  await expect.poll(() => hooks.received.length).toBe(1);
  expect(verifies(secret, hooks.received[0])).toBe(true);
  expect(JSON.parse(hooks.received[0].body).type).toBe('webhook.test');

  const log = page.getByRole('table', { name: 'Delivery log' });
  await expect(async () => {
    await page.getByRole('button', { name: 'Refresh' }).click();
    await expect(log.getByRole('cell', { name: 'Delivered' })).toHaveCount(1, { timeout: 1_000 });
  }).toPass();
  await expect(log.getByText(/1 × · last: 200/)).toBeVisible();

  await log.getByRole('button', { name: /^Redeliver webhook.test/ }).click();
  await expect.poll(() => hooks.received.length).toBe(2);
  expect(hooks.received[1].headers['webhook-id']).toBe(hooks.received[0].headers['webhook-id']);
  expect(verifies(secret, hooks.received[1])).toBe(true);
  await expect(async () => {
    await page.getByRole('button', { name: 'Refresh' }).click();
    await expect(log.getByRole('cell', { name: 'Delivered' })).toHaveCount(2, { timeout: 1_000 });
  }).toPass();

  // Edit: the event picker shows what the endpoint receives; adding team.updated sends it.
  const edit = await openDialog(page, page.getByRole('button', { name: 'Edit', exact: true }), 'Edit the endpoint');
  await expect(edit.dialog.getByRole('checkbox', { name: 'team.updated' })).not.toBeChecked();
  await edit.dialog.getByRole('checkbox', { name: 'team.updated' }).check();
  await edit.close(edit.dialog.getByRole('button', { name: 'Save changes' }));
  await expect(page.getByRole('status').filter({ hasText: 'Endpoint saved.' })).toBeVisible();
  await page.getByRole('navigation', { name: 'Team' }).getByRole('link', { name: 'Settings' }).click();
  await page.getByLabel('Team name').fill(`Renamed ${Date.now()}`);
  await page.getByRole('button', { name: 'Save changes' }).click();
  await expect.poll(() => hooks.received.map((r) => JSON.parse(r.body).type)).toContain('team.updated');

  // Rotating asks first, then shows the new secret once; deliveries carry its signature.
  await page.goto(`/teams/${teamId}/webhooks`);
  await page.getByRole('table', { name: 'Webhook endpoints' }).getByRole('button', { name: `Deliveries of ${hooks.url}` }).click();
  const rotate = await openDialog(page, page.getByRole('button', { name: 'Rotate secret' }), 'Rotate the signing secret?');
  await expect(rotate.dialog).toContainText('For the next 24 hours deliveries also carry a signature with the old secret');
  await expect(rotate.dialog.getByRole('button', { name: 'Rotate secret' })).toHaveClass(/danger/);
  await rotate.dialog.getByRole('button', { name: 'Rotate secret' }).click();
  const rotated = await copySecretAndClose(page, rotate, { label: 'New signing secret', done: 'I have stored the secret' });
  expect(rotated).toMatch(/^whsec_/);
  expect(rotated).not.toBe(secret);
  const before = hooks.received.length;
  await page.getByRole('button', { name: 'Send test event' }).click();
  await expect.poll(() => hooks.received.length).toBe(before + 1);
  expect(verifies(rotated, hooks.received[before])).toBe(true);

  // Turning off asks first; turning on does not.
  const off = await openDialog(page, page.getByRole('button', { name: 'Turn off' }), `Turn off ${hooks.url}?`);
  await expect(off.dialog).toContainText('events of that time are not kept for it');
  await off.close(off.dialog.getByRole('button', { name: 'Turn off' }));
  await expect(page.getByRole('status').filter({ hasText: 'Endpoint turned off.' })).toBeVisible();
  await expect(page.getByRole('table', { name: 'Webhook endpoints' })).toContainText('Off');
  await page.getByRole('button', { name: 'Turn on' }).click();
  await expect(page.getByRole('status').filter({ hasText: 'Endpoint turned on.' })).toBeVisible();
  await expect(page.getByRole('button', { name: 'Turn off' })).toBeVisible();

  // Deleting asks first and says it cannot be undone.
  const remove = await openDialog(page, page.getByRole('button', { name: 'Delete endpoint' }), `Delete ${hooks.url}?`);
  await expect(remove.dialog).toContainText('This cannot be undone.');
  await remove.close(remove.dialog.getByRole('button', { name: 'Delete endpoint' }));
  await expect(page.getByText('No endpoint receives this team\'s events yet.')).toBeVisible();
  // Its page and the button are gone: the focus is on the main region, not lost.
  await expect(page.locator('#main')).toBeFocused();
  hooks.close();
  expect(errors).toEqual([]);
});
