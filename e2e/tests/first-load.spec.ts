import { test, expect, type Page } from '@playwright/test';
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';

// The first load, measured in Chromium against the built web app:
//   - the first visit to /sign-in: issue 13's target is 350 KB in all. Precompressed brotli brought
//     it from 540 KB to 427 KB; the .wasm itself (1.5 MB) is the rest of the way, so until it
//     shrinks this guards the figure reached (440 KB) against a return of on-the-fly compression
//     or a heavier app;
//   - a return visit transfers under 20 KB and asks the network for no hashed asset.
// Bytes are what went over the wire (CDP `encodedDataLength`: headers and compressed bodies).
// The figures are printed, and written to test-results/first-load.json.
const FIRST_VISIT_TARGET = 350 * 1024;
const FIRST_VISIT_BUDGET = 440 * 1024;
const RETURN_VISIT_BUDGET = 20 * 1024;
const HASHED = /-[0-9a-f]{16}(_bg)?\.(js|wasm|css)$/;

type Visit = { bytes: number; fromNetwork: string[]; fromCache: string[]; msToInput: number };

/** Opens /sign-in in a new page of the context, and waits until its e-mail field takes input. */
async function visit(page: Page): Promise<Visit> {
  const cdp = await page.context().newCDPSession(page);
  await cdp.send('Network.enable');
  const urls = new Map<string, string>();
  const cached = new Set<string>();
  const finished: { id: string; bytes: number }[] = [];
  cdp.on('Network.requestWillBeSent', (e) => urls.set(e.requestId, e.request.url));
  cdp.on('Network.requestServedFromCache', (e) => cached.add(e.requestId));
  cdp.on('Network.responseReceived', (e) => {
    if (e.response.fromDiskCache || e.response.fromMemoryCache) cached.add(e.requestId);
  });
  cdp.on('Network.loadingFinished', (e) => finished.push({ id: e.requestId, bytes: e.encodedDataLength }));
  await page.goto('/sign-in');
  // Measured in the page, a frame at a time: from the navigation's start until the field is
  // there, enabled and focusable.
  const msToInput = await page.waitForFunction(
    () => {
      const input = document.querySelector<HTMLInputElement>('input[type=email]');
      return input && !input.disabled && input.offsetParent !== null ? performance.now() : false;
    },
    undefined,
    { polling: 'raf' },
  );
  await expect(page.getByLabel('E-mail', { exact: true })).toBeEditable();
  await page.waitForLoadState('networkidle');
  await cdp.detach();
  const name = (id: string) => new URL(urls.get(id) ?? 'http://x/?').pathname;
  return {
    bytes: finished.reduce((sum, f) => sum + f.bytes, 0),
    fromNetwork: finished.filter((f) => !cached.has(f.id)).map((f) => name(f.id)),
    fromCache: finished.filter((f) => cached.has(f.id)).map((f) => name(f.id)),
    msToInput: Math.round((await msToInput.jsonValue()) as number),
  };
}

test('the first visit stays in its budget, and a return visit asks for no hashed asset', async ({ browser }) => {
  const context = await browser.newContext();
  const first = await visit(await context.newPage());
  const second = await visit(await context.newPage());
  await context.close();
  const report = { first, second, budgets: { firstTarget: FIRST_VISIT_TARGET, first: FIRST_VISIT_BUDGET, second: RETURN_VISIT_BUDGET } };
  console.log(
    `first visit: ${(first.bytes / 1024).toFixed(1)} KB, form ready after ${first.msToInput} ms; ` +
      `return visit: ${(second.bytes / 1024).toFixed(1)} KB, form ready after ${second.msToInput} ms`,
  );
  const out = path.join(__dirname, '..', 'test-results');
  mkdirSync(out, { recursive: true });
  writeFileSync(path.join(out, 'first-load.json'), JSON.stringify(report, null, 2));

  expect(first.fromNetwork.filter((p) => p.endsWith('.wasm'))).toHaveLength(1);
  expect(first.bytes, JSON.stringify(first)).toBeLessThanOrEqual(FIRST_VISIT_BUDGET);
  expect(second.fromNetwork.filter((p) => HASHED.test(p)), JSON.stringify(second)).toEqual([]);
  expect(second.fromCache.filter((p) => p.endsWith('.wasm'))).toHaveLength(1);
  expect(second.bytes, JSON.stringify(second)).toBeLessThan(RETURN_VISIT_BUDGET);
});
