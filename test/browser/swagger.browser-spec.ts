import { tokenLogin } from '../support/auth-helpers';
import { enableTotp, totpCode } from '../support/totp';
import { screenshot, useBrowserSuite } from './support/browser-suite';
import { SwaggerUi } from './support/swagger-ui';

/** Authorize → the "apikey" scheme (X-API-Key): Logout if it holds a key, then Value → Authorize → Close. */
async function authorizeApiKey(ui: SwaggerUi, key: string): Promise<void> {
  await ui.page.locator('.auth-wrapper button.authorize').click();
  const modal = ui.page.locator('.modal-ux');
  const scheme = modal.locator('.auth-container').filter({ hasText: 'X-API-Key' });
  await scheme.getByText('apikey', { exact: true }).waitFor();
  const logout = scheme.locator('button', { hasText: 'Logout' });
  if (await logout.count()) await logout.click();
  await scheme.locator('input').fill(key);
  await scheme.locator('button.authorize').click();
  await logout.waitFor();
  await scheme.locator('button.btn-done').click();
  await modal.waitFor({ state: 'detached' });
}

const INVALID_KEY = 'Invalid, expired or revoked API key';

describe('Swagger UI at /docs (browser)', () => {
  const suite = useBrowserSuite();

  it('shows the auth operations first', async () => {
    const ui = new SwaggerUi(await suite.newPage());
    await ui.open();
    const sections = await ui.page
      .locator('.opblock-tag-section h3[data-tag]')
      .evaluateAll((tags) => tags.map((tag) => tag.getAttribute('data-tag')));
    expect(sections.length).toBeGreaterThan(1);
    expect(sections[0]).toBe('auth');
    await screenshot(ui.page, 'swagger-tags-01-auth-first');
    expect(suite.pageErrors).toEqual([]);
  });

  it('bearer: Authorize with an access token, then GET /api/auth/me and PATCH /api/users/me answer 200', async () => {
    const user = await suite.signUp('swagger-bearer');
    const { accessToken } = await tokenLogin(() => suite.ctx.http(), user);
    const ui = new SwaggerUi(await suite.newPage());
    await ui.open();
    await screenshot(ui.page, 'swagger-bearer-01-docs');

    await ui.authorizeBearer(accessToken);
    const me = await ui.execute('get', '/api/auth/me');
    await screenshot(ui.page, 'swagger-bearer-02-get-me');
    expect(me.status).toBe(200);
    expect(me.body).toContain(user.email);
    expect(JSON.parse(me.body)).toMatchObject({ email: user.email, authMethod: 'jwt' });

    const patched = await ui.execute('patch', '/api/users/me', { name: 'Bearer Swagger' });
    await screenshot(ui.page, 'swagger-bearer-03-patch-me');
    expect(patched.status).toBe(200);
    expect(JSON.parse(patched.body)).toMatchObject({ email: user.email, name: 'Bearer Swagger' });
    expect(suite.pageErrors).toEqual([]);
  });

  it('API key: Authorize with a key in the apikey scheme (X-API-Key), then GET /api/auth/me answers 200 as apikey; once revoked, and with a wrong key, 401', async () => {
    const user = await suite.signUp('swagger-apikey');
    const { accessToken } = await tokenLogin(() => suite.ctx.http(), user);
    const created = await suite.ctx
      .http()
      .post('/api/keys')
      .set('Authorization', `Bearer ${accessToken}`)
      .send({ name: 'swagger' })
      .expect(201);
    const { id, key } = created.body as { id: string; key: string };
    const ui = new SwaggerUi(await suite.newPage());
    await ui.open();

    await authorizeApiKey(ui, key);
    await screenshot(ui.page, 'swagger-apikey-01-authorized');
    const me = await ui.execute('get', '/api/auth/me');
    await screenshot(ui.page, 'swagger-apikey-02-get-me');
    expect(me.status).toBe(200);
    expect(JSON.parse(me.body)).toMatchObject({ email: user.email, authMethod: 'apikey' });
    // Swagger UI sent the key as X-API-Key: its curl line says so.
    const curl = await ui.operation('get', '/api/auth/me').locator('.curl-command').innerText();
    expect(curl).toContain(`X-API-Key: ${key}`);

    // Revoked (by its owner, over the API): the same key, still authorized in Swagger UI
    // (persisted across the reload), is refused.
    await suite.ctx
      .http()
      .delete(`/api/keys/${id}`)
      .set('Authorization', `Bearer ${accessToken}`)
      .expect(204);
    await ui.open();
    const revoked = await ui.execute('get', '/api/auth/me');
    await screenshot(ui.page, 'swagger-apikey-03-revoked');
    expect(revoked.status).toBe(401);
    expect(JSON.parse(revoked.body)).toMatchObject({ message: INVALID_KEY });

    // A key that was never issued, in the same format.
    await ui.open();
    await authorizeApiKey(ui, `nak_${'A'.repeat(43)}`);
    const wrong = await ui.execute('get', '/api/auth/me');
    await screenshot(ui.page, 'swagger-apikey-04-wrong-key');
    expect(wrong.status).toBe(401);
    expect(JSON.parse(wrong.body)).toMatchObject({ message: INVALID_KEY });
    expect(suite.pageErrors).toEqual([]);
  });

  it('cookie: POST /api/auth/session via Try it out signs the browser in; GET /me and PATCH /users/me (CSRF) answer 200', async () => {
    const user = await suite.signUp('swagger-cookie');
    const page = await suite.newPage();
    const ui = new SwaggerUi(page);
    await ui.open();

    const signIn = await ui.execute('post', '/api/auth/session', {
      email: user.email,
      password: user.password,
    });
    await screenshot(page, 'swagger-cookie-01-post-session');
    expect(signIn.status).toBe(200);
    expect(JSON.parse(signIn.body)).toMatchObject({ user: { email: user.email } });
    const cookies = await page.context().cookies(suite.baseURL);
    expect(cookies.map((c) => c.name)).toContain('sid');

    const me = await ui.execute('get', '/api/auth/me');
    await screenshot(page, 'swagger-cookie-02-get-me');
    expect(me.status).toBe(200);
    expect(JSON.parse(me.body)).toMatchObject({ email: user.email, authMethod: 'session' });

    // Cookie-authenticated PATCH needs X-CSRF-Token: Swagger UI's requestInterceptor adds it.
    const patched = await ui.execute('patch', '/api/users/me', { name: 'Cookie Swagger' });
    await screenshot(page, 'swagger-cookie-03-patch-me');
    expect(patched).toEqual({ status: 200, body: expect.stringContaining('Cookie Swagger') });
    expect(JSON.parse(patched.body)).toMatchObject({ email: user.email, name: 'Cookie Swagger' });
    expect(suite.pageErrors).toEqual([]);
  });

  it('two-step: POST /api/auth/session for a TOTP user answers mfaRequired (no cookie); POST /api/auth/mfa/verify with the code signs the browser in', async () => {
    const user = await suite.signUp('swagger-mfa');
    const { secret } = await enableTotp(suite.ctx.http, {
      bearer: (await tokenLogin(() => suite.ctx.http(), user)).accessToken,
    });
    const page = await suite.newPage();
    const ui = new SwaggerUi(page);
    await ui.open();

    const first = await ui.execute('post', '/api/auth/session', {
      email: user.email,
      password: user.password,
    });
    await screenshot(page, 'swagger-mfa-01-post-session');
    expect(first.status).toBe(200);
    const challenge = JSON.parse(first.body) as { mfaRequired: boolean; mfaToken: string; methods: string[] };
    expect(challenge).toEqual({
      mfaRequired: true,
      mfaToken: expect.any(String),
      methods: ['totp', 'recovery_code'],
    });
    expect((await page.context().cookies(suite.baseURL)).map((c) => c.name)).not.toContain('sid');

    const verified = await ui.execute('post', '/api/auth/mfa/verify', {
      mfaToken: challenge.mfaToken,
      code: await totpCode(secret),
    });
    await screenshot(page, 'swagger-mfa-02-post-mfa-verify');
    expect(verified.status).toBe(200);
    expect(JSON.parse(verified.body)).toMatchObject({
      user: { email: user.email },
      csrfToken: expect.any(String),
    });
    expect((await page.context().cookies(suite.baseURL)).map((c) => c.name)).toContain('sid');

    const me = await ui.execute('get', '/api/auth/me');
    await screenshot(page, 'swagger-mfa-03-get-me');
    expect(me.status).toBe(200);
    expect(JSON.parse(me.body)).toMatchObject({
      email: user.email,
      authMethod: 'session',
      mfa: { totp: true, passkeys: false },
    });
    expect(suite.pageErrors).toEqual([]);
  });
});
