import type { Page } from 'playwright-core';
import { UsersService } from '../../src/users/users.service';
import { PASSWORD, uniqueEmail } from '../support/auth-helpers';
import { localPath, requirePages, screenshot, useBrowserSuite } from './support/browser-suite';
import {
  button,
  clickAndLoad,
  disableNativeValidation,
  field,
  fieldError,
  headerNav,
  postFormsWithoutCsrf,
  setValue,
  signIn,
  signInAt,
  signOut,
  unlabelledControls,
} from './support/pages';

const NEW_PASSWORD = 'purple elephant marmalade 42';

describe('Pages: sign-up, sign-in, profile (browser)', () => {
  const suite = useBrowserSuite();
  requirePages(suite);
  const path = (page: Page) => localPath(page, suite);
  const pathname = (page: Page) => new URL(page.url()).pathname;
  /** The signup form labels it "Name (optional)". */
  const SIGNUP_NAME = /^Name\b/;

  /** The page's accessibility and CSRF basics, checked on every form page. */
  async function expectWellFormedForms(page: Page): Promise<void> {
    expect({ page: path(page), unlabelled: await unlabelledControls(page) }).toEqual({
      page: path(page),
      unlabelled: [],
    });
    expect({ page: path(page), withoutCsrf: await postFormsWithoutCsrf(page) }).toEqual({
      page: path(page),
      withoutCsrf: [],
    });
  }

  it('signs up with the /signup form, lands on /profile, signs out; /profile then goes to /login and back', async () => {
    const email = uniqueEmail('signup-form');
    const page = await suite.newPage();

    await page.goto('/signup');
    await screenshot(page, 'account-01-signup');
    await expectWellFormedForms(page);
    expect(await headerNav(page)).toEqual({
      links: expect.objectContaining({ 'Sign in': '/login', 'Create account': '/signup' }),
      signOut: false,
    });

    await field(page, 'Email').fill(email);
    await field(page, SIGNUP_NAME).fill('Ada Browser');
    await field(page, 'Password').fill(PASSWORD);
    await clickAndLoad(page, button(page, 'Create account'));
    await screenshot(page, 'account-02-profile-after-signup');
    expect(path(page)).toBe('/profile');
    expect(await page.getByRole('heading', { level: 1 }).innerText()).toBe('Profile');
    const profileText = await page.locator('main').innerText();
    expect(profileText).toContain(email);
    expect(profileText).toMatch(/\buser\b/); // the roles
    expect(await field(page, 'Name').inputValue()).toBe('Ada Browser');
    await expectWellFormedForms(page);
    const nav = await headerNav(page);
    expect(nav).toEqual({
      links: expect.objectContaining({ Profile: '/profile', 'Sign-ins': '/sessions' }),
      signOut: true,
    });
    expect(nav.links).not.toHaveProperty('Users');
    expect(nav.links).not.toHaveProperty('Sign in');

    await signOut(page);
    await screenshot(page, 'account-03-after-sign-out');
    expect(path(page)).toBe('/login');
    expect((await headerNav(page)).signOut).toBe(false);

    await page.goto('/profile');
    await screenshot(page, 'account-04-profile-signed-out');
    expect(path(page)).toBe('/login?next=%2Fprofile');
    await expectWellFormedForms(page);

    await signIn(page, { email, password: PASSWORD });
    await screenshot(page, 'account-05-back-on-profile');
    expect(path(page)).toBe('/profile');
    expect(await page.locator('body').innerText()).toContain(email);
  });

  it('after sign-out, the back button does not show the profile again (pages are not cached)', async () => {
    const user = await suite.signUp('back-button', 'Private Name');
    // Not suite.newPage(): its request routing turns Chromium's HTTP cache off, which is what this test is about.
    const context = await suite.browser.newContext({ baseURL: suite.baseURL });
    try {
      const page = await context.newPage();
      await signInAt(page, user);
      await page.goto('/sessions');
      await page.goto('/profile');
      expect(await page.locator('main').innerText()).toContain(user.email);
      await signOut(page);
      expect(path(page)).toBe('/login');

      await page.goBack();
      await page.waitForLoadState('load');
      await screenshot(page, 'account-05b-back-after-sign-out');
      expect(path(page)).toBe('/login?next=%2Fprofile');
      const text = await page.locator('body').innerText();
      expect(text).not.toContain(user.email);
      expect(text).not.toContain('Private Name');
    } finally {
      await context.close();
    }
  });

  it('changes the name on /profile', async () => {
    const user = await suite.signUp('rename', 'Old Name');
    const page = await suite.newPage();
    await signInAt(page, user);
    expect(path(page)).toBe('/profile');
    expect(await field(page, 'Name').inputValue()).toBe('Old Name');

    await field(page, 'Name').fill('New Name');
    await clickAndLoad(page, button(page, 'Save name'));
    await screenshot(page, 'account-06-name-saved');
    expect(pathname(page)).toBe('/profile');
    await page.getByText('Name saved.').waitFor();
    expect(await field(page, 'Name').inputValue()).toBe('New Name');

    await page.reload();
    expect(await field(page, 'Name').inputValue()).toBe('New Name');
    expect((await suite.ctx.app.get(UsersService).findById(user.id))?.name).toBe('New Name');
  });

  it('changes the password on /profile: other sign-ins end, the old password stops working, the new one works', async () => {
    const user = await suite.signUp('password');
    const page = await suite.newPage();
    const otherDevice = await suite.newPage();
    await signInAt(otherDevice, user, '/login?next=%2Fprofile');
    expect(path(otherDevice)).toBe('/profile');
    await signInAt(page, user);

    await field(page, 'Current password').fill(user.password);
    await field(page, 'New password').fill(NEW_PASSWORD);
    await clickAndLoad(page, button(page, 'Change password'));
    await screenshot(page, 'account-07-password-changed');
    await page.getByText('Password changed. Your other sign-ins were ended.').waitFor();
    expect(pathname(page)).toBe('/profile');
    // This device stays signed in.
    await page.goto('/profile');
    expect(path(page)).toBe('/profile');

    await otherDevice.reload();
    await screenshot(otherDevice, 'account-08-other-device-after-password-change');
    expect(path(otherDevice)).toMatch(/^\/login/);

    await signOut(page);
    await signInAt(page, user);
    await screenshot(page, 'account-09-old-password-refused');
    expect(path(page)).toMatch(/^\/login/);
    expect(await page.getByRole('alert').innerText()).not.toBe('');

    await signInAt(page, { email: user.email, password: NEW_PASSWORD });
    expect(path(page)).toBe('/profile');
  });

  it('shows a wrong password on /login as an alert and empties the password field', async () => {
    const user = await suite.signUp('wrong-password');
    const page = await suite.newPage();
    await signInAt(page, { email: user.email, password: 'not the password at all' });
    await screenshot(page, 'account-10-login-wrong-password');
    expect(path(page)).toMatch(/^\/login/);
    expect((await page.getByRole('alert').innerText()).trim()).not.toBe('');
    expect(await field(page, 'Password').inputValue()).toBe('');
  });

  it('signs up with the optional Name left empty', async () => {
    const email = uniqueEmail('no-name');
    const page = await suite.newPage();
    await page.goto('/signup');
    await field(page, 'Email').fill(email);
    await field(page, 'Password').fill(PASSWORD);
    await clickAndLoad(page, button(page, 'Create account'));
    await screenshot(page, 'account-11-signup-without-name');
    expect(path(page)).toBe('/profile');
    const user = await suite.ctx.app.get(UsersService).findByEmail(email);
    expect(user?.email).toBe(email);
    expect(user?.name ?? null).toBeNull();
  });

  it('signup with a taken email: the error is next to the Email field, inputs kept except the password', async () => {
    const taken = await suite.signUp('taken');
    const page = await suite.newPage();
    await page.goto('/signup');
    await field(page, 'Email').fill(taken.email);
    await field(page, SIGNUP_NAME).fill('Second Person');
    await field(page, 'Password').fill(PASSWORD);
    await clickAndLoad(page, button(page, 'Create account'));
    await screenshot(page, 'account-11-signup-taken-email');

    expect(path(page)).not.toBe('/profile');
    const error = await fieldError(page, 'Email');
    expect(error.text).not.toBe('');
    expect(error.distance).toBeLessThan(60);
    expect(await field(page, 'Email').inputValue()).toBe(taken.email);
    expect(await field(page, SIGNUP_NAME).inputValue()).toBe('Second Person');
    expect(await field(page, 'Password').inputValue()).toBe('');
    await expectWellFormedForms(page);
  });

  it('signup with a short password: the error is next to the Password field, the email is kept', async () => {
    const email = uniqueEmail('short-password');
    const page = await suite.newPage();
    await page.goto('/signup');
    await field(page, 'Email').fill(email);
    await field(page, SIGNUP_NAME).fill('Short Password');
    await field(page, 'Password').fill('short');
    // The server's own check, as a browser without constraint validation (minlength) sees it.
    await disableNativeValidation(page.locator('form:has(input[name=password])'));
    await clickAndLoad(page, button(page, 'Create account'));
    await screenshot(page, 'account-12-signup-short-password');

    expect(path(page)).not.toBe('/profile');
    const error = await fieldError(page, 'Password');
    expect(error.text).not.toBe('');
    expect(error.distance).toBeLessThan(60);
    expect(await field(page, 'Email').inputValue()).toBe(email);
    expect(await field(page, SIGNUP_NAME).inputValue()).toBe('Short Password');
    expect(await field(page, 'Password').inputValue()).toBe('');
    expect(await suite.ctx.app.get(UsersService).findByEmail(email)).toBeNull();
  });

  it('follows a local ?next= after sign-in', async () => {
    const user = await suite.signUp('next-local');
    const page = await suite.newPage();
    await signInAt(page, user, '/login?next=%2Fsessions');
    expect(path(page)).toBe('/sessions');
  });

  it.each(['//evil.example', 'https://evil.example', '/\\evil.example', 'javascript:alert(1)'])(
    'refuses an open redirect: /login?next=%s lands on /profile',
    async (next) => {
      const user = await suite.signUp('open-redirect');
      const page = await suite.newPage();
      suite.offSiteRequests.length = 0;
      await page.goto(`/login?next=${encodeURIComponent(next)}`);
      await signIn(page, user);
      await screenshot(page, `account-13-open-redirect-${encodeURIComponent(next)}`);
      expect({ url: page.url(), offSite: suite.offSiteRequests }).toEqual({
        url: suite.url('/profile'),
        offSite: [],
      });
    },
  );

  it('works with JavaScript disabled: sign up, sign out, sign in via ?next=, change the name', async () => {
    const email = uniqueEmail('no-js');
    const page = await suite.newPage({ javaScriptEnabled: false });

    await page.goto('/signup');
    await field(page, 'Email').fill(email);
    await field(page, SIGNUP_NAME).fill('Script Less');
    await field(page, 'Password').fill(PASSWORD);
    await clickAndLoad(page, button(page, 'Create account'));
    expect(path(page)).toBe('/profile');

    await signOut(page);
    expect(path(page)).toBe('/login');

    await page.goto('/profile');
    expect(path(page)).toBe('/login?next=%2Fprofile');
    await screenshot(page, 'account-14-no-js-login');
    await signIn(page, { email, password: PASSWORD });
    expect(path(page)).toBe('/profile');

    await field(page, 'Name').fill('No Script');
    await clickAndLoad(page, button(page, 'Save name'));
    await screenshot(page, 'account-15-no-js-name-saved');
    expect(pathname(page)).toBe('/profile');
    await page.getByText('Name saved.').waitFor();
    expect(await field(page, 'Name').inputValue()).toBe('No Script');

    await field(page, 'Current password').fill(PASSWORD);
    await field(page, 'New password').fill(NEW_PASSWORD);
    await clickAndLoad(page, button(page, 'Change password'));
    await page.getByText('Password changed. Your other sign-ins were ended.').waitFor();
  });

  it('refuses a form post whose _csrf field is wrong (403), and changes nothing', async () => {
    const user = await suite.signUp('csrf', 'Kept Name');
    const page = await suite.newPage();
    await signInAt(page, user);
    const form = page.locator('form:has(input[name=name])');
    await setValue(form.locator('input[name=_csrf]'), 'forged-token');
    await field(page, 'Name').fill('Forged Name');
    const response = page.waitForResponse((res) => res.request().method() === 'POST');
    await clickAndLoad(page, button(page, 'Save name'));
    await screenshot(page, 'account-16-csrf-refused');
    expect((await response).status()).toBe(403);
    expect((await suite.ctx.app.get(UsersService).findById(user.id))?.name).toBe('Kept Name');
  });
});
