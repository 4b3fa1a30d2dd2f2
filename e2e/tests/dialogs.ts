import { expect, type Locator, type Page } from '@playwright/test';

// Every dialog of every spec goes through here, so that each is checked the way a user meets it.
// Playwright's `toBeVisible` passed for a secret dialog 4,500 px below the window that had lost
// its modality (issue 23): visible means modal, inside the viewport and holding the focus.

/** What is wrong with `dialog` as shown now (empty: it is modal, on screen and has the focus). */
export async function dialogProblems(dialog: Locator): Promise<string[]> {
  return dialog.evaluate((el) => {
    const found: string[] = [];
    if (!(el instanceof HTMLDialogElement) || !el.open) found.push('it is not an open <dialog>');
    if (!el.matches(':modal')) found.push('it is not modal (no backdrop, the page behind stays live)');
    const r = el.getBoundingClientRect();
    const [w, h] = [document.documentElement.clientWidth, window.innerHeight];
    if (r.top < -0.5 || r.left < -0.5 || r.bottom > h + 0.5 || r.right > w + 0.5) {
      found.push(`it is not inside the ${w}×${h} viewport (${Math.round(r.left)},${Math.round(r.top)} to ${Math.round(r.right)},${Math.round(r.bottom)})`);
    }
    if (!el.contains(document.activeElement)) found.push(`the focus is outside it, on <${document.activeElement?.tagName.toLowerCase()}>`);
    return found;
  });
}

/** Waits until `dialog` is modal, inside the viewport and holds the focus. */
export async function expectShown(dialog: Locator) {
  await expect(dialog).toBeVisible();
  await expect.poll(() => dialogProblems(dialog), { message: 'the dialog as the user sees it' }).toEqual([]);
}

/**
 * A dialog opened by a button: `close` checks that the focus went back to that button, or, where
 * the change took that button away (a rolled key has no Roll), to the page's main region.
 */
export type Opened = { dialog: Locator; close: (by: Locator | 'Escape', focus?: 'opener' | 'main') => Promise<void> };

/**
 * Clicks `trigger` and returns the dialog named `name` it opens, once it is modal, on screen and
 * focused. Closing it (by a button in it, or Escape) must give the focus back to the control that
 * had it as the dialog opened (`trigger`): the page records where the focus is as the dialog's
 * `close()` has done its work (a microtask later), before anything the change reloads can move it.
 */
export async function openDialog(page: Page, trigger: Locator, name: string | RegExp): Promise<Opened> {
  return openDialogWith(page, () => trigger.click(), name);
}

/**
 * As `openDialog`, for a dialog that `act` opens (e.g. a role picked in a select asks before it
 * is changed).
 */
export async function openDialogWith(page: Page, act: () => Promise<unknown>, name: string | RegExp): Promise<Opened> {
  await page.evaluate(() => {
    const w = window as unknown as { __opener?: Element | null; __closedFocus?: string; __watching?: boolean };
    w.__opener = undefined;
    w.__closedFocus = undefined;
    if (!w.__watching) {
      w.__watching = true;
      // The opener is what has the focus as the dialog opens: the control the user acted on,
      // even if the list around it was drawn again between finding it and clicking it.
      const showModal = HTMLDialogElement.prototype.showModal;
      HTMLDialogElement.prototype.showModal = function (this: HTMLDialogElement) {
        w.__opener = document.activeElement;
        showModal.call(this);
      };
      const close = HTMLDialogElement.prototype.close;
      HTMLDialogElement.prototype.close = function (this: HTMLDialogElement, ...args: [string?]) {
        const wasOpen = this.open;
        close.apply(this, args);
        if (!wasOpen) return;
        queueMicrotask(() => {
          const active = document.activeElement;
          w.__closedFocus =
            active === w.__opener
              ? 'opener'
              : active?.id === 'main'
                ? 'main'
                : `<${active?.tagName.toLowerCase()}> "${(active?.textContent ?? '').trim().slice(0, 40)}"`;
        });
      };
    }
  });
  await act();
  const dialog = page.getByRole('dialog', { name });
  await expectShown(dialog);
  // A control outside the dialog had the focus as it opened (else nothing could get it back).
  const focused = await page.evaluate(() => {
    const o = (window as unknown as { __opener?: Element | null }).__opener;
    return o && !o.closest('dialog') ? `<${o.tagName.toLowerCase()}> "${(o.textContent ?? '').trim().slice(0, 40)}"` : 'nothing';
  });
  expect(focused, 'what had the focus as the dialog opened').toMatch(/^<(button|select|a)> /);
  return {
    dialog,
    close: async (by, focus = 'opener') => {
      if (by === 'Escape') await page.keyboard.press('Escape');
      else await by.click();
      await expect(dialog).toHaveCount(0);
      await expect
        .poll(() => page.evaluate(() => (window as unknown as { __closedFocus?: string }).__closedFocus ?? 'not closed by close()'), {
          message: 'where the focus went when the dialog closed',
        })
        .toBe(focus);
    },
  };
}

/**
 * The secret step of a dialog: the secret shown whole in a monospace block, copied with Copy,
 * then the dialog closed with its done button. Returns the secret.
 */
export async function copySecretAndClose(
  page: Page,
  opened: Opened,
  { label = /^Your new API key/, done = 'I have stored the key', focus = 'opener' as 'opener' | 'main' } = {},
): Promise<string> {
  const field = opened.dialog.getByLabel(label);
  await expect(field).toHaveValue(/\S{20,}/);
  const secret = await field.inputValue();
  const shown = await field.evaluate((el) => ({
    monospace: /mono/.test(getComputedStyle(el).fontFamily),
    hiddenX: el.scrollWidth - el.clientWidth,
    hiddenY: el.scrollHeight - el.clientHeight,
  }));
  expect(shown, 'every character of the secret in view, in a monospace font').toEqual({ monospace: true, hiddenX: 0, hiddenY: 0 });
  await opened.dialog.getByRole('button', { name: 'Copy' }).click();
  await expect(opened.dialog.getByText('Copied to the clipboard.')).toBeVisible();
  expect(await page.evaluate(() => navigator.clipboard.readText())).toBe(secret);
  await opened.close(opened.dialog.getByRole('button', { name: done }), focus);
  return secret;
}
