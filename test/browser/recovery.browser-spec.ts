import type { Page } from 'playwright-core';
import { UsersService } from '../../src/users/users.service';
import { PASSWORD, sleep, uniqueEmail } from '../support/auth-helpers';
import { linkIn, type ReceivedMail, SmtpSink } from '../support/smtp-sink';
import { localPath, requirePages, screenshot, useBrowserSuite } from './support/browser-suite';
import {
  button,
  clickAndLoad,
  field,
  headerNav,
  postFormsWithoutCsrf,
  signIn,
  signInAt,
  unlabelledControls,
} from './support/pages';

const NEW_PASSWORD = 'purple elephant marmalade 42';

/*
 * The recovery flows end to end in Chromium, as a person does them: the mail arrives
 * over real SMTP at the test's server, and its link (PUBLIC_URL = this app) is
 * opened in the browser.
 */
describe('Pages: email verification, password reset, email change (browser)', () => {
  let sink: SmtpSink;
  beforeAll(async () => (sink = await SmtpSink.start()));
  const suite = useBrowserSuite((baseURL) => ({
    PUBLIC_URL: baseURL,
    SMTP_URL: sink.url,
    MAIL_RETRY_BASE_SECONDS: '1',
  }));
  afterAll(() => sink?.stop());
  requirePages(suite);
  const path = (page: Page) => localPath(page, suite);
  const heading = async (page: Page) => (await page.getByRole('heading', { level: 1 }).innerText()).trim();
  const mainText = (page: Page) => page.locator('main').innerText();

  /** The first mail to `address` with a link to `path` (a sign-up also sends a verification mail). */
  async function mailWithLink(address: string, path: string): Promise<ReceivedMail> {
    const deadline = Date.now() + 15_000;
    for (;;) {
      const mail = sink.to(address).find((received) => received.text.includes(`${path}?token=`));
      if (mail) return mail;
      if (Date.now() > deadline) throw new Error(`no mail to ${address} with a ${path} link`);
      await sleep(25);
    }
  }

  /** The mailed link, which must open this app. */
  async function mailedLink(address: string, path: string): Promise<string> {
    const link = linkIn(await mailWithLink(address, path), path);
    expect(link.startsWith(suite.url(`${path}?token=`))).toBe(true);
    return link;
  }

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

  it('signs up on /signup, opens the mailed link, presses confirm, and /profile says verified', async () => {
    const email = uniqueEmail('browser-verify');
    const page = await suite.newPage();
    await page.goto('/signup');
    await field(page, 'Email').fill(email);
    await field(page, 'Password').fill(PASSWORD);
    await clickAndLoad(page, button(page, 'Create account'));
    expect(path(page)).toBe('/profile');
    expect(await mainText(page)).toContain('not verified');
    await screenshot(page, 'recovery-01-profile-not-verified');

    const link = await mailedLink(email, '/verify-email');
    await page.goto(link);
    await screenshot(page, 'recovery-02-verify-email-confirm');
    expect(await heading(page)).toBe('Confirm this address');
    await expectWellFormedForms(page);
    // Opening the link verified nothing: only the button does.
    const users = suite.ctx.app.get(UsersService);
    expect((await users.findByEmail(email))?.emailVerified).toBe(false);

    await clickAndLoad(page, button(page, 'Confirm this address'));
    await screenshot(page, 'recovery-03-verify-email-done');
    expect(await heading(page)).toBe('Address verified');
    expect((await users.findByEmail(email))?.emailVerified).toBe(true);

    await page.goto('/profile');
    await screenshot(page, 'recovery-04-profile-verified');
    const text = await mainText(page);
    expect(text).toContain('(verified)');
    expect(text).not.toContain('not verified');
  });

  it('from /login follows "Forgot your password?", opens the mailed link, sets a new password and signs in with it (no JavaScript)', async () => {
    const user = await suite.signUp('browser-forgot');
    const page = await suite.newPage({ javaScriptEnabled: false });
    await page.goto('/login');
    await clickAndLoad(page, page.getByRole('link', { name: 'Forgot your password?', exact: true }));
    expect(path(page)).toBe('/forgot-password');
    await screenshot(page, 'recovery-05-forgot-password');
    await expectWellFormedForms(page);

    await field(page, 'Email').fill(user.email);
    await clickAndLoad(page, button(page, 'Send the link'));
    await screenshot(page, 'recovery-06-forgot-password-sent');
    expect(await page.getByRole('status').innerText()).toContain(
      'If an account uses this address, a link to reset its password is on its way',
    );

    await page.goto(await mailedLink(user.email, '/reset-password'));
    await screenshot(page, 'recovery-07-reset-password');
    expect(await heading(page)).toBe('Choose a new password');
    await expectWellFormedForms(page);
    await field(page, 'New password').fill(NEW_PASSWORD);
    await clickAndLoad(page, button(page, 'Set the new password'));
    await screenshot(page, 'recovery-08-password-changed');
    expect(await heading(page)).toBe('Password changed');

    await clickAndLoad(page, page.getByRole('link', { name: 'Sign in', exact: true }).last());
    expect(path(page)).toBe('/login');
    await signIn(page, user);
    expect(path(page)).toMatch(/^\/login/); // the old password is gone
    await signInAt(page, { email: user.email, password: NEW_PASSWORD });
    await screenshot(page, 'recovery-09-signed-in-with-new-password');
    expect(path(page)).toBe('/profile');
    expect(await mainText(page)).toContain(user.email);
  });

  it('changes the email on /profile and confirms it in the same browser, which stays signed in on the new address', async () => {
    const user = await suite.signUp('browser-change');
    const newEmail = uniqueEmail('browser-changed');
    const page = await suite.newPage();
    await signInAt(page, user);
    expect(path(page)).toBe('/profile');

    await field(page, 'New email').fill(newEmail);
    await field(page, 'Password').fill(user.password);
    await clickAndLoad(page, button(page, 'Change email'));
    await screenshot(page, 'recovery-10-email-change-requested');
    await page.getByText(`A link to confirm the change is on its way to ${newEmail}.`).waitFor();
    // Nothing changes until the link is followed.
    expect(await mainText(page)).toContain(user.email);

    await page.goto(await mailedLink(newEmail, '/confirm-email'));
    await screenshot(page, 'recovery-11-confirm-email');
    expect(await heading(page)).toBe('Confirm the new address');
    await expectWellFormedForms(page);
    await clickAndLoad(page, button(page, 'Confirm the new address'));
    await screenshot(page, 'recovery-12-email-changed');
    expect(await heading(page)).toBe('Email address changed');
    expect(await mainText(page)).toContain(newEmail);

    await page.goto('/profile');
    await screenshot(page, 'recovery-13-profile-new-address');
    expect(path(page)).toBe('/profile');
    const text = await mainText(page);
    expect(text).toContain(newEmail);
    expect(text).toContain('(verified)');
    expect(text).not.toContain(user.email);
    expect((await headerNav(page)).signOut).toBe(true);
  });
});
