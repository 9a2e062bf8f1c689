import { generate } from 'otplib/functional';
import type { Page } from 'playwright-core';
import { totpCode, wrongCode } from '../support/totp';
import { localPath, requirePages, screenshot } from './support/browser-suite';
import {
  button,
  clickAndLoad,
  field,
  headerNav,
  postFormsWithoutCsrf,
  signIn,
  signInAt,
  signOut,
  unlabelledControls,
} from './support/pages';
import { addVirtualAuthenticator, useLocalhostBrowserSuite } from './support/webauthn';

/*
 * /security and the sign-in with a second factor, in Chromium as a person uses them:
 * TOTP set up from the page (the code computed from the secret the page shows, as an
 * authenticator app would) and a sign-in with password + code, without JavaScript; a
 * passkey added on /security with Chromium's virtual authenticator and a sign-in with
 * "Sign in with a passkey", no password. The suite runs on http://localhost:<port>
 * (PUBLIC_URL, hence the RP ID): WebAuthn refuses IP addresses.
 */
describe('Pages: /security, two-step sign-in and passkeys (browser)', () => {
  const suite = useLocalhostBrowserSuite({ EMAIL_VERIFICATION: 'off' });
  requirePages(suite);
  const path = (page: Page) => localPath(page, suite);
  const heading = async (page: Page) => (await page.getByRole('heading', { level: 1 }).innerText()).trim();

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

  it('sets up TOTP on /security from the secret it shows, then signs in with password + code (no JavaScript)', async () => {
    const user = await suite.signUp('totp-browser');
    const page = await suite.newPage({ javaScriptEnabled: false });
    await signInAt(page, user, '/login?next=%2Fsecurity');
    expect(path(page)).toBe('/security');
    expect((await headerNav(page)).links).toMatchObject({ Security: '/security' });
    expect(await heading(page)).toBe('Security');
    await expectWellFormedForms(page);
    // Without JavaScript, the passkey form stays hidden and says why.
    expect(await button(page, 'Add a passkey').isVisible()).toBe(false);
    expect(await page.locator('#passkey-needs-js').isVisible()).toBe(true);
    await screenshot(page, 'security-01-totp-off');

    await clickAndLoad(page, button(page, 'Set up'));
    const qr = page.getByRole('img', { name: /QR code/ });
    expect(await qr.locator('svg').isVisible()).toBe(true);
    const box = await qr.locator('svg').boundingBox();
    expect(box && box.width >= 100 && box.height >= 100).toBe(true);
    const secret = (await page.locator('#totp-secret').innerText()).trim();
    expect(secret).toMatch(/^[A-Z2-7]{32,}$/);
    await expectWellFormedForms(page);
    await screenshot(page, 'security-02-totp-qr-code');

    await field(page, 'Code from the app').fill(await generate({ secret }));
    await clickAndLoad(page, button(page, 'Turn on two-step sign-in'));
    const codes = await page.locator('.codes code').allInnerTexts();
    expect(codes).toHaveLength(10);
    expect(await page.locator('main').innerText()).toContain('this page never shows them again');
    await screenshot(page, 'security-03-recovery-codes');

    await signOut(page);
    expect(path(page)).toBe('/login');
    await signIn(page, user);
    expect(await heading(page)).toBe('Two-step sign-in');
    // The recovery-code form opens from its summary (a <details>, no script needed).
    expect(await field(page, 'Recovery code').isVisible()).toBe(false);
    await page.getByText('Lost your authenticator app? Use a recovery code').click();
    expect(await field(page, 'Recovery code').isVisible()).toBe(true);
    await expectWellFormedForms(page);
    // A code of the next step: the set-up spent the current one (each code counts once).
    await field(page, 'Authentication code').fill(await wrongCode(secret));
    await clickAndLoad(page, button(page, 'Verify'));
    expect(await page.locator('#code-error').innerText()).toContain('This code is not valid');
    await screenshot(page, 'security-04-wrong-code');
    await field(page, 'Authentication code').fill(await totpCode(secret, 1));
    await clickAndLoad(page, button(page, 'Verify'));
    expect(path(page)).toBe('/profile');
    expect(await page.locator('main').innerText()).toContain(user.email);
    await screenshot(page, 'security-05-signed-in-with-code');
    expect(suite.offSiteRequests).toEqual([]);
  });

  it('adds a passkey on /security with the virtual authenticator, then signs in with it and no password', async () => {
    const user = await suite.signUp('passkey-browser');
    const page = await suite.newPage();
    const authenticator = await addVirtualAuthenticator(page);
    await signInAt(page, user, '/login?next=%2Fsecurity');
    expect(path(page)).toBe('/security');
    expect(await page.locator('main').innerText()).toContain('No passkeys yet.');
    expect(await page.locator('#passkey-needs-js').isVisible()).toBe(false);
    await expectWellFormedForms(page);

    await field(page, 'Passkey name (optional)').fill('Test laptop');
    await Promise.all([
      page.waitForURL((url) => url.pathname === '/security' && url.search === '?status=passkey-added'),
      button(page, 'Add a passkey').click(),
    ]);
    await page.waitForLoadState('load');
    const row = page.locator('tbody tr').filter({ hasText: 'Test laptop' });
    expect(await row.count()).toBe(1);
    expect(await row.locator('td[data-label="Last used"]').innerText()).toBe('Never');
    expect(await authenticator.credentials()).toEqual([
      expect.objectContaining({ isResidentCredential: true, rpId: 'localhost' }),
    ]);
    await screenshot(page, 'security-06-passkey-added');

    await signOut(page);
    expect(path(page)).toBe('/login');
    const passkeyButton = button(page, 'Sign in with a passkey');
    expect(await passkeyButton.isVisible()).toBe(true);
    await screenshot(page, 'security-07-login-with-passkey-button');
    await Promise.all([page.waitForURL((url) => url.pathname === '/profile'), passkeyButton.click()]);
    await page.waitForLoadState('load');
    expect(await page.locator('main').innerText()).toContain(user.email);
    expect((await headerNav(page)).signOut).toBe(true);
    await screenshot(page, 'security-08-signed-in-with-passkey');

    // Email first, and back to `next`.
    await signOut(page);
    await page.goto('/login?next=%2Fsecurity');
    await field(page, 'Email').fill(user.email);
    await Promise.all([
      page.waitForURL((url) => url.pathname === '/security'),
      button(page, 'Sign in with a passkey').click(),
    ]);
    await page.waitForLoadState('load');
    expect(await row.locator('td[data-label="Last used"]').innerText()).toMatch(/UTC$/);
    expect(suite.pageErrors).toEqual([]);
    expect(suite.offSiteRequests).toEqual([]);
  });

  it('says on /login when the passkey is not accepted (another account’s email), and stays on the page', async () => {
    const owner = await suite.signUp('passkey-owner');
    const other = await suite.signUp('passkey-other');
    const page = await suite.newPage();
    await addVirtualAuthenticator(page);
    await signInAt(page, owner, '/login?next=%2Fsecurity');
    await Promise.all([
      page.waitForURL((url) => url.search === '?status=passkey-added'),
      button(page, 'Add a passkey').click(),
    ]);
    await signOut(page);

    await field(page, 'Email').fill(other.email);
    await button(page, 'Sign in with a passkey').click();
    const alert = page.locator('#passkey-sign-in-error');
    await alert.waitFor({ state: 'visible' });
    expect(await alert.innerText()).toMatch(/could not be verified|cancelled/);
    expect(path(page)).toBe('/login');
    await screenshot(page, 'security-09-passkey-refused');
    expect(suite.pageErrors).toEqual([]);
  });
});
