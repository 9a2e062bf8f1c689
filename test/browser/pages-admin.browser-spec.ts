import type { Page } from 'playwright-core';
import { UsersService } from '../../src/users/users.service';
import { localPath, requirePages, screenshot, useBrowserSuite } from './support/browser-suite';
import {
  button,
  buttonWithText,
  clickAndLoad,
  field,
  headerNav,
  postFormsWithoutCsrf,
  signInAt,
  unlabelledControls,
} from './support/pages';

describe('Pages: /admin/users (browser)', () => {
  const suite = useBrowserSuite();
  requirePages(suite);
  const path = (page: Page) => localPath(page, suite);
  const userRow = (page: Page, id: string) => page.locator(`tr[data-user-id="${id}"]`);

  async function search(page: Page, q: string): Promise<void> {
    await field(page, 'Search').fill(q);
    await clickAndLoad(page, button(page, 'Search'));
  }

  async function roles(id: string): Promise<string[]> {
    const user = await suite.ctx.app.get(UsersService).findById(id);
    return (user?.roles ?? []).map((role) => role.name).sort();
  }

  it('a non-admin gets the 403 page, and no "Users" link', async () => {
    const user = await suite.signUp('not-admin');
    const page = await suite.newPage();
    await signInAt(page, user);
    expect((await headerNav(page)).links).not.toHaveProperty('Users');

    const response = await page.goto('/admin/users');
    await screenshot(page, 'admin-01-forbidden');
    expect(response?.status()).toBe(403);
    expect(await page.getByRole('heading', { level: 1 }).innerText()).toBe('Forbidden');
    // Still signed in: the header offers the signed-in links and "Sign out", like every page.
    expect(await headerNav(page)).toEqual({
      links: expect.objectContaining({ Profile: '/profile', 'Sign-ins': '/sessions' }),
      signOut: true,
    });
  });

  it('/admin/users while signed out goes to /login and comes back after an admin signs in', async () => {
    const admin = await suite.signUpAdmin();
    const page = await suite.newPage();
    await page.goto('/admin/users');
    expect(path(page)).toBe('/login?next=%2Fadmin%2Fusers');
    await signInAt(page, admin, page.url());
    expect(path(page)).toBe('/admin/users');
  });

  it('an admin searches users', async () => {
    const token = `findme${Date.now().toString(36)}`;
    const [a, b] = [await suite.signUp(`${token}-a`), await suite.signUp(`${token}-b`)];
    await suite.signUp('someone-else');
    const admin = await suite.signUpAdmin();
    const page = await suite.newPage();
    await signInAt(page, admin);
    expect((await headerNav(page)).links).toMatchObject({ Users: '/admin/users' });

    await page.goto('/admin/users');
    await screenshot(page, 'admin-02-users');
    expect(await page.getByRole('heading', { level: 1 }).innerText()).toBe('Users');
    expect(await unlabelledControls(page)).toEqual([]);
    expect(await postFormsWithoutCsrf(page)).toEqual([]);
    expect(await page.locator('tr[data-user-id]').count()).toBeGreaterThanOrEqual(4);

    await search(page, token);
    await screenshot(page, 'admin-03-search');
    expect(new URL(page.url()).searchParams.get('q')).toBe(token);
    expect(await field(page, 'Search').inputValue()).toBe(token);
    const ids = await page
      .locator('tr[data-user-id]')
      .evaluateAll((trs) => trs.map((tr) => tr.getAttribute('data-user-id')));
    expect(ids.sort()).toEqual([a.id, b.id].sort());
    expect(await userRow(page, a.id).innerText()).toContain(a.email);
  });

  it("an admin disables a user: the user's open /profile, reloaded, goes to /login; sign-in is refused until enabled", async () => {
    const admin = await suite.signUpAdmin();
    const victim = await suite.signUp('disabled');
    const adminPage = await suite.newPage();
    const victimPage = await suite.newPage();
    await signInAt(victimPage, victim);
    expect(path(victimPage)).toBe('/profile');
    await signInAt(adminPage, admin, '/login?next=%2Fadmin%2Fusers');
    expect(path(adminPage)).toBe('/admin/users');

    await search(adminPage, victim.email);
    const row = userRow(adminPage, victim.id);
    await clickAndLoad(adminPage, buttonWithText(row, 'Disable'));
    await screenshot(adminPage, 'admin-04-after-disable');
    expect(new URL(adminPage.url()).pathname).toBe('/admin/users');
    expect(await buttonWithText(row, 'Enable').count()).toBe(1);
    expect((await suite.ctx.app.get(UsersService).findById(victim.id))?.disabled).toBe(true);

    await victimPage.reload();
    await screenshot(victimPage, 'admin-05-disabled-user-reload');
    expect(path(victimPage)).toMatch(/^\/login(\?|$)/);
    await signInAt(victimPage, victim);
    await screenshot(victimPage, 'admin-06-disabled-user-sign-in');
    expect(path(victimPage)).toMatch(/^\/login/);
    expect((await victimPage.getByRole('alert').innerText()).trim()).not.toBe('');

    await clickAndLoad(adminPage, buttonWithText(row, 'Enable'));
    expect(await buttonWithText(row, 'Disable').count()).toBe(1);
    await signInAt(victimPage, victim);
    expect(path(victimPage)).toBe('/profile');
  });

  it("an admin changes a user's roles; the user's open session follows on its next request", async () => {
    const admin = await suite.signUpAdmin();
    const target = await suite.signUp('promoted');
    const adminPage = await suite.newPage();
    const targetPage = await suite.newPage();
    await signInAt(targetPage, target);
    await signInAt(adminPage, admin);
    await adminPage.goto(`/admin/users?q=${encodeURIComponent(target.email)}`);
    const row = userRow(adminPage, target.id);
    const adminBox = row.getByRole('checkbox', { name: 'admin', exact: true });
    expect(await adminBox.isChecked()).toBe(false);
    expect(await row.getByRole('checkbox', { name: 'user', exact: true }).isChecked()).toBe(true);

    await adminBox.check();
    await clickAndLoad(adminPage, buttonWithText(row, 'Save roles'));
    await screenshot(adminPage, 'admin-07-roles-saved');
    expect(
      await userRow(adminPage, target.id).getByRole('checkbox', { name: 'admin', exact: true }).isChecked(),
    ).toBe(true);
    expect(await roles(target.id)).toEqual(['admin', 'user']);

    await targetPage.reload();
    await screenshot(targetPage, 'admin-08-promoted-user-profile');
    expect(await targetPage.locator('main').innerText()).toMatch(/\badmin\b/);
    expect((await headerNav(targetPage)).links).toMatchObject({ Users: '/admin/users' });
    expect((await targetPage.goto('/admin/users'))?.status()).toBe(200);

    await adminPage.goto(`/admin/users?q=${encodeURIComponent(target.email)}`);
    await userRow(adminPage, target.id).getByRole('checkbox', { name: 'admin', exact: true }).uncheck();
    await clickAndLoad(adminPage, buttonWithText(userRow(adminPage, target.id), 'Save roles'));
    expect(await roles(target.id)).toEqual(['user']);
    expect((await targetPage.goto('/admin/users'))?.status()).toBe(403);
  });
});
