import { expect, test, type Page } from '@playwright/test';
import { openDialog, openDialogWith } from './dialogs';
import { openBrowser, person, signUpAndVerify, stamp, type Person } from './helpers';
import { mailSubject, mailedLink } from './mail';

async function invite(page: Page, email: string, role: 'member' | 'admin', message?: string) {
  const { dialog, close } = await openDialog(page, page.getByRole('button', { name: 'Invite member' }), 'Invite Team Member');
  await dialog.getByLabel('E-mail').fill(email);
  await dialog.getByLabel('Role').selectOption(role);
  if (message) await dialog.getByLabel('Personal message').fill(message);
  await close(dialog.getByRole('button', { name: 'Send invitation' }));
  await expect(page.getByRole('status').filter({ hasText: `Invitation sent to ${email}.` })).toBeVisible();
}

/** Opens a mailed invitation link in `page` (signed out), signs up from it and joins. */
async function joinBySignUp(page: Page, link: string, who: Person, teamName: string, inviter: string, role: string) {
  await page.goto(link);
  await expect(page.getByText(`${inviter} invited you to join ${teamName} as ${role}.`)).toBeVisible();
  await expect(page.getByLabel('E-mail', { exact: true })).toHaveValue(who.email);
  await page.getByLabel('Name', { exact: true }).fill(who.name);
  await page.getByLabel('Password', { exact: true }).fill(who.password);
  await page.getByRole('button', { name: 'Create account and join' }).click();
  await expect(page).toHaveURL(/\/teams\/[0-9a-f-]{36}$/);
  await expect(page.getByRole('heading', { level: 1, name: teamName })).toBeVisible();
  await expect(page.getByText(`Your role: ${role}`)).toBeVisible();
}

test('an owner creates a team, invites by e-mail, promotes and removes; a member sees no controls', async ({ browser }) => {
  const owner = person('owner', 'Olive Owner');
  const second = person('second', 'Sam Second');
  const third = person('third', 'Theo Third');
  const teamName = `Acme Integrations ${stamp}`;
  const errors: string[] = [];
  const { page } = await openBrowser(browser, errors);
  const main = page.getByRole('main');
  let teamUrl = '';

  await test.step('the owner signs up, verifies the address and creates a team', async () => {
    await signUpAndVerify(page, owner);
    await expect(page.getByRole('heading', { name: 'Create Your Team' })).toBeVisible();
    // Keyboard: the dialog opens with Enter, takes the focus, closes with Escape and gives the focus back.
    const createButton = main.getByRole('button', { name: 'Create team' });
    await createButton.focus();
    const first = await openDialogWith(page, () => page.keyboard.press('Enter'), 'Create a team');
    await expect(first.dialog.getByLabel('Team name')).toBeFocused();
    await first.close('Escape');
    await expect(createButton).toBeFocused();
    // Cancel closes it the same way.
    const second = await openDialogWith(page, () => page.keyboard.press('Enter'), 'Create a team');
    await second.close(second.dialog.getByRole('button', { name: 'Cancel' }));
    const { dialog } = await openDialogWith(page, () => page.keyboard.press('Enter'), 'Create a team');
    await dialog.getByLabel('Team name').fill(teamName);
    await dialog.getByLabel('Description').fill('Our integration with the partner API.');
    await dialog.getByRole('button', { name: 'Create team' }).click();
    await expect(page).toHaveURL(/\/teams\/[0-9a-f-]{36}$/);
    teamUrl = new URL(page.url()).pathname;
    await expect(page.getByRole('heading', { level: 1, name: teamName })).toBeVisible();
    await expect(page.getByText('Your role: Owner')).toBeVisible();
    await expect(main.getByText('Our integration with the partner API.')).toBeVisible();
    // The header's team switcher knows the new team.
    const switcher = page.getByRole('banner').getByText(teamName, { exact: true }).first();
    await expect(switcher).toBeVisible();
    await switcher.click();
    await expect(page.getByRole('banner').getByRole('link', { name: teamName })).toHaveAttribute('aria-current', 'true');
    await switcher.click();
  });

  await test.step('the owner invites a second person with a personal message', async () => {
    await page.getByRole('navigation', { name: 'Team' }).getByRole('link', { name: 'Members' }).click();
    await expect(page.getByRole('heading', { name: 'Team Members' })).toBeVisible();
    await invite(page, second.email, 'member', 'Welcome aboard!');
    const pending = page.getByRole('row', { name: new RegExp(second.email) });
    await expect(pending).toContainText('Member');
    await expect(pending).toContainText(owner.name);
    await expect(pending).toContainText(/in 7 days|in 6 days/);
    await expect(pending.getByRole('button', { name: `Revoke invitation to ${second.email}` })).toBeVisible();
  });

  await test.step('the second person signs up from the mailed link in another browser and joins', async () => {
    const link = await mailedLink('invite', second.email);
    expect(mailSubject(second.email, /invited you/)).toBe(`${owner.name} invited you to join ${teamName} on Partner Portal`);
    const { page: secondPage, context } = await openBrowser(browser, errors);
    await secondPage.goto(link);
    await expect(secondPage.getByText('Welcome aboard!')).toBeVisible();
    await joinBySignUp(secondPage, link, second, teamName, owner.name, 'Member');
    await context.close();
  });

  const secondRow = page.getByRole('row', { name: new RegExp(second.email) });
  await test.step('the owner sees the new member, and the invitation is no longer pending', async () => {
    await page.reload();
    await expect(page.getByRole('table', { name: 'Members of the team' }).getByRole('row', { name: new RegExp(second.email) })).toBeVisible();
    await expect(page.getByText('No pending invitations.')).toBeVisible();
  });

  await test.step('the owner promotes them to admin, after a dialog says what that grants', async () => {
    const role = secondRow.getByRole('combobox', { name: `Role of ${second.name}` });
    await expect(role).toHaveValue('member');
    // Cancelled, nothing changes and the select shows the role kept.
    // A person picking a role has the select focused (selectOption alone does not focus it).
    const pick = async () => {
      await role.focus();
      await role.selectOption('admin');
    };
    const asked = await openDialogWith(page, pick, `Make ${second.name} admin?`);
    await expect(asked.dialog.locator('[data-role-change="consequence"]')).toHaveText(
      `${second.name} will be able to invite people and manage their invitations, change members' roles, remove members, create, roll and revoke API keys, and manage the team's webhooks.`,
    );
    await asked.close(asked.dialog.getByRole('button', { name: 'Cancel' }));
    await expect(role).toHaveValue('member');
    const confirmed = await openDialogWith(page, pick, `Make ${second.name} admin?`);
    await confirmed.close(confirmed.dialog.getByRole('button', { name: 'Change role' }));
    await expect(page.getByRole('status').filter({ hasText: `${second.name} is now admin.` })).toBeVisible();
    await expect(role).toHaveValue('admin');
    await page.reload();
    await expect(secondRow.getByRole('combobox', { name: `Role of ${second.name}` })).toHaveValue('admin');
  });

  await test.step('the owner removes them after confirming', async () => {
    const remove = await openDialog(page, secondRow.getByRole('button', { name: `Remove ${second.name}` }), `Remove ${second.name}?`);
    await expect(remove.dialog).toContainText(second.email);
    await remove.close(remove.dialog.getByRole('button', { name: 'Remove member' }));
    await expect(secondRow).toHaveCount(0);
    await expect(page.getByRole('status').filter({ hasText: `${second.name} was removed from the team.` })).toBeVisible();
    // The row and its button are gone: the focus is on the page's main region, not lost.
    await expect(page.locator('#main')).toBeFocused();
    await page.reload();
    await expect(page.getByRole('row', { name: new RegExp(owner.email) })).toBeVisible();
    await expect(secondRow).toHaveCount(0);
  });

  await test.step('re-invited, the second person (who has an account now) signs in from the link and rejoins', async () => {
    await invite(page, second.email, 'member');
    const { page: secondPage, context } = await openBrowser(browser, errors);
    await secondPage.goto(await mailedLink('invite', second.email));
    await expect(secondPage.getByRole('heading', { name: 'Sign in to join' })).toBeVisible();
    await expect(secondPage.getByLabel('E-mail', { exact: true })).toHaveValue(second.email);
    await secondPage.getByLabel('Password', { exact: true }).fill('not-the-password');
    await secondPage.getByRole('button', { name: 'Sign in and join' }).click();
    await expect(secondPage.getByRole('alert').filter({ hasText: /wrong/i })).toBeVisible();
    await secondPage.getByLabel('Password', { exact: true }).fill(second.password);
    await secondPage.getByRole('button', { name: 'Sign in and join' }).click();
    await expect(secondPage.getByText('Your role: Member')).toBeVisible();
    await expect(secondPage.getByRole('heading', { level: 1, name: teamName })).toBeVisible();
    await context.close();
    await page.reload();
    await expect(secondRow.getByRole('combobox', { name: `Role of ${second.name}` })).toHaveValue('member');
  });

  await test.step('a third person joins as a member and sees no management controls', async () => {
    await invite(page, third.email, 'member');
    const { page: thirdPage } = await openBrowser(browser, errors);
    await joinBySignUp(thirdPage, await mailedLink('invite', third.email), third, teamName, owner.name, 'Member');
    const tabs = thirdPage.getByRole('navigation', { name: 'Team' });
    await expect(tabs.getByRole('link', { name: 'Settings' })).toHaveCount(0);
    await tabs.getByRole('link', { name: 'Members' }).click();
    const members = thirdPage.getByRole('table', { name: 'Members of the team' });
    await expect(members.getByRole('row', { name: new RegExp(owner.email) })).toContainText('Owner');
    await expect(members.getByRole('row', { name: new RegExp(third.email) })).toContainText('Member');
    await expect(thirdPage.getByText('Only owners and admins can change roles or invite people.')).toBeVisible();
    await expect(thirdPage.getByRole('button', { name: 'Invite member' })).toHaveCount(0);
    await expect(thirdPage.getByRole('combobox')).toHaveCount(0);
    await expect(thirdPage.getByRole('button', { name: /^Remove/ })).toHaveCount(0);
    await expect(thirdPage.getByRole('heading', { name: 'Pending invitations' })).toHaveCount(0);
    // Only leaving is theirs to do.
    await expect(members.getByRole('row', { name: new RegExp(third.email) }).getByRole('button', { name: 'Leave team' })).toBeVisible();
    await expect(members.getByRole('button')).toHaveCount(1);
    // API keys: members may read them, but not create, roll or revoke them.
    await tabs.getByRole('link', { name: 'API Keys' }).click();
    await expect(thirdPage.getByText('Only owners and admins can create, roll or revoke keys.')).toBeVisible();
    await expect(thirdPage.getByText('This team has no API keys yet.')).toBeVisible();
    await expect(thirdPage.getByRole('button', { name: 'Create API Key' })).toHaveCount(0);

    await test.step('an invitation for someone else tells them which address it needs', async () => {
      const fourth = `fourth-${stamp}@example.com`;
      await invite(page, fourth, 'member');
      const link = await mailedLink('invite', fourth);
      await thirdPage.goto(link);
      await expect(thirdPage.getByRole('heading', { name: 'This invitation is for another account' })).toBeVisible();
      await expect(thirdPage.getByRole('alert').filter({ hasText: fourth })).toBeVisible();

      // A resend replaces the link; a revoke ends it.
      const pending = page.getByRole('row', { name: new RegExp(fourth) });
      await pending.getByRole('button', { name: `Resend invitation to ${fourth}` }).click();
      await expect(page.getByText(`Invitation to ${fourth} sent again.`)).toBeVisible();
      const newLink = await mailedLink('invite', fourth);
      expect(newLink).not.toBe(link);
      await thirdPage.goto(link);
      await expect(thirdPage.getByRole('heading', { name: 'Invitation not found' })).toBeVisible();
      const revoke = await openDialog(
        page,
        page.getByRole('row', { name: new RegExp(fourth) }).getByRole('button', { name: `Revoke invitation to ${fourth}` }),
        'Revoke invitation?',
      );
      await revoke.close(revoke.dialog.getByRole('button', { name: 'Revoke invitation' }));
      await expect(page.getByText('No pending invitations.')).toBeVisible();
      await thirdPage.goto(newLink);
      await expect(thirdPage.getByRole('heading', { name: 'This invitation was revoked' })).toBeVisible();
    });
  });

  await test.step('the activity log tells what happened, filtered and paged', async () => {
    await page.goto(`${teamUrl}/activity`);
    const log = page.getByRole('main').getByRole('list').filter({ has: page.getByRole('listitem') });
    await expect(log.getByRole('listitem').filter({ hasText: 'Team created' })).toBeVisible();
    await expect(log.getByRole('listitem').filter({ hasText: 'Invitation revoked' })).toBeVisible();
    await page.getByLabel('What').selectOption('member.role_changed');
    await expect(log.getByRole('listitem')).toHaveCount(1);
    await expect(log.getByRole('listitem')).toContainText(`${owner.name} Role changed`);
    await expect(log.getByRole('listitem')).toContainText(second.email);
    await page.getByLabel('What').selectOption('');
    await page.getByLabel('Who').selectOption({ label: third.name });
    // The list shown stays until the filtered one is there.
    await expect(log.getByRole('listitem').filter({ hasText: owner.name })).toHaveCount(0);
    await expect(log.getByRole('listitem').filter({ hasText: 'Member joined' })).toHaveCount(1);
  });

  await test.step('the owner renames the team in its settings', async () => {
    await page.goto(`${teamUrl}/settings`);
    await page.getByLabel('Team name').fill(`${teamName} Renamed`);
    await page.getByRole('button', { name: 'Save changes' }).click();
    await expect(page.getByText("The team's details have been saved.")).toBeVisible();
    await expect(page.getByRole('heading', { level: 1, name: `${teamName} Renamed` })).toBeVisible();
  });

  await test.step('the owner deletes the team after typing its name', async () => {
    const { dialog } = await openDialog(page, page.getByRole('button', { name: 'Delete team' }), `Delete ${teamName} Renamed?`);
    const confirm = dialog.getByRole('button', { name: 'Delete team forever' });
    await expect(confirm).toBeDisabled();
    await dialog.getByLabel(/to confirm/).fill(`${teamName} Renamed`);
    await confirm.click();
    await expect(page).toHaveURL(/\/dashboard$/);
    await expect(page.getByRole('link', { name: `${teamName} Renamed` })).toHaveCount(0);
    await page.goto(teamUrl);
    await expect(page.getByRole('heading', { name: 'Team not found' })).toBeVisible();
  });

  expect(errors).toEqual([]);
});
