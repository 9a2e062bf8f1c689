import type { Page } from 'playwright-core';
import { localPath, requirePages, screenshot, useBrowserSuite } from './support/browser-suite';
import {
  button,
  buttonWithText,
  clickAndLoad,
  postFormsWithoutCsrf,
  signInAt,
  unlabelledControls,
} from './support/pages';

describe('Pages: /sessions, sign-ins on several devices (browser)', () => {
  const suite = useBrowserSuite();
  requirePages(suite);
  const path = (page: Page) => localPath(page, suite);
  const rows = (page: Page) => page.locator('tr[data-sign-in-id]');

  /** The id of the row marked "This device" on the page's /sessions. */
  async function thisDeviceId(page: Page): Promise<string> {
    await page.goto('/sessions');
    const current = rows(page).filter({ hasText: 'This device' });
    expect(await current.count()).toBe(1);
    return (await current.getAttribute('data-sign-in-id'))!;
  }

  it('lists the sign-ins; a second device signs the first one out, whose next page load goes to /login', async () => {
    const user = await suite.signUp('sessions');
    const first = await suite.newPage();
    const second = await suite.newPage();
    await signInAt(first, user);
    await signInAt(second, user);
    const firstId = await thisDeviceId(first);
    await screenshot(first, 'sessions-01-first-device');

    await second.goto('/sessions');
    await screenshot(second, 'sessions-02-second-device');
    expect(await second.getByRole('heading', { level: 1 }).innerText()).toBe('Sign-ins');
    expect(await unlabelledControls(second)).toEqual([]);
    expect(await postFormsWithoutCsrf(second)).toEqual([]);
    expect(await rows(second).count()).toBe(2);
    const secondRow = rows(second).filter({ hasText: 'This device' });
    expect(await secondRow.count()).toBe(1);
    expect(await secondRow.getAttribute('data-sign-in-id')).not.toBe(firstId);
    expect(await buttonWithText(secondRow, 'Sign out').count()).toBe(0);

    const firstRow = second.locator(`tr[data-sign-in-id="${firstId}"]`);
    expect(await firstRow.innerText()).not.toContain('This device');
    await clickAndLoad(second, buttonWithText(firstRow, 'Sign out'));
    await screenshot(second, 'sessions-03-after-revoking-first');
    expect(path(second)).toBe('/sessions');
    expect(await firstRow.count()).toBe(0);
    expect(await rows(second).count()).toBe(1);

    await first.goto('/profile');
    await screenshot(first, 'sessions-04-first-device-after-revoke');
    expect(path(first)).toMatch(/^\/login(\?|$)/);
    await second.goto('/profile');
    expect(path(second)).toBe('/profile');
  });

  it('"Sign out everywhere" ends every sign-in and goes to /login', async () => {
    const user = await suite.signUp('everywhere');
    const first = await suite.newPage();
    const second = await suite.newPage();
    await signInAt(first, user);
    await signInAt(second, user);

    await second.goto('/sessions');
    await clickAndLoad(second, button(second, 'Sign out everywhere'));
    await screenshot(second, 'sessions-05-after-sign-out-everywhere');
    expect(path(second)).toMatch(/^\/login(\?|$)/);

    await first.reload();
    await screenshot(first, 'sessions-06-other-device-after-sign-out-everywhere');
    expect(path(first)).toMatch(/^\/login(\?|$)/);
    await second.goto('/profile');
    expect(path(second)).toBe('/login?next=%2Fprofile');
  });

  it('/sessions while signed out goes to /login and comes back after sign-in', async () => {
    const user = await suite.signUp('sessions-next');
    const page = await suite.newPage();
    await page.goto('/sessions');
    expect(path(page)).toBe('/login?next=%2Fsessions');
    await signInAt(page, user, page.url());
    expect(path(page)).toBe('/sessions');
  });
});
