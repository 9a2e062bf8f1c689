import { Client } from 'pg';
import type { Response } from 'supertest';
import { PASSWORD, signUp, sleep, tokenLogin, uniqueEmail, type SignedUp } from '../support/auth-helpers';
import { SmtpSink } from '../support/smtp-sink';
import { startApp, startAppOnFreshDatabase, type TestApp, type TestContext } from '../support/test-app';
import { as, enableTotp, securityNotice, totpCode, wrongCode, type Caller } from '../support/totp';

/*
 * TOTP as a user turns it on and off (POST/DELETE /api/auth/mfa/totp, confirm) and
 * the recovery codes that come with it: what the set-up shows, what is stored, when
 * it starts to count, and the mails that tell the user.
 */

const SERVICE_NAME = 'Totp Test Service';
const ENV = { SERVICE_NAME, EMAIL_VERIFICATION: 'off', MAIL_RETRY_BASE_SECONDS: '1' };
const REAUTH_REQUIRED = { statusCode: 403, error: 'Forbidden', message: 'reauthentication required' };
const RECOVERY_CODE = /^[0-9A-HJKMNP-TV-Z]{4}(-[0-9A-HJKMNP-TV-Z]{4}){3}$/;

const outcome = (res: Response) => ({ status: res.status, body: res.body as unknown });

describe('TOTP set-up, confirmation, removal and recovery codes', () => {
  let sink: SmtpSink;
  let ctx: TestContext;
  let db: Client;

  beforeAll(async () => {
    sink = await SmtpSink.start();
    ctx = await startAppOnFreshDatabase({ ...ENV, SMTP_URL: sink.url });
    db = new Client({ connectionString: ctx.database.url });
    await db.connect();
  });
  afterAll(async () => {
    await db?.end();
    await ctx?.close();
    await sink?.stop();
  });

  async function signedIn(prefix: string): Promise<{ user: SignedUp; caller: Caller }> {
    const user = await signUp(ctx.http, uniqueEmail(prefix));
    return { user, caller: { bearer: (await tokenLogin(ctx.http, user)).accessToken } };
  }

  const passwordLogin = (user: SignedUp) =>
    ctx.http().post('/api/auth/token').send({ email: user.email, password: PASSWORD });

  const me = async (caller: Caller) => {
    const res = await as(ctx.http().get('/api/auth/me'), caller);
    expect(res.status).toBe(200);
    return res.body as { mfa: { totp: boolean; passkeys: boolean } };
  };

  /** The MFA step of a fresh password login, answered with `proof`. */
  async function secondStep(user: SignedUp, proof: Record<string, string>): Promise<Response> {
    const first = await passwordLogin(user);
    expect({ status: first.status, mfaRequired: first.body.mfaRequired }).toEqual({
      status: 200,
      mfaRequired: true,
    });
    return ctx
      .http()
      .post('/api/auth/mfa/verify')
      .send({ mfaToken: first.body.mfaToken, ...proof });
  }

  it('set-up shows a base32 secret of at least 160 bits, an otpauth:// URI for SERVICE_NAME and the email, and an SVG QR code', async () => {
    const { user, caller } = await signedIn('totp-setup');
    const res = await as(ctx.http().post('/api/auth/mfa/totp'), caller);
    expect(res.status).toBe(200);
    const { secret, otpauthUri, qrCodeSvg } = res.body as Record<string, string>;

    expect(secret).toMatch(/^[A-Z2-7]+=*$/);
    expect(secret.replace(/=+$/, '').length).toBeGreaterThanOrEqual(32); // 32 × 5 bits = 160

    const uri = new URL(otpauthUri);
    expect(uri.protocol).toBe('otpauth:');
    expect(uri.host).toBe('totp');
    expect(decodeURIComponent(uri.pathname)).toBe(`/${SERVICE_NAME}:${user.email}`);
    expect(uri.searchParams.get('issuer')).toBe(SERVICE_NAME);
    expect(uri.searchParams.get('secret')).toBe(secret);

    expect(qrCodeSvg.trimStart()).toMatch(/^(<\?xml[^>]*>\s*)?<svg[\s>]/);
    expect(qrCodeSvg).toContain('</svg>');
  });

  it('the seed is not stored in clear: totp_factors.secret_sealed does not contain it', async () => {
    const { user, caller } = await signedIn('totp-sealed');
    const { secret } = (await as(ctx.http().post('/api/auth/mfa/totp'), caller).expect(200)).body as {
      secret: string;
    };
    const { rows } = await db.query<{ secret_sealed: string }>(
      'SELECT secret_sealed FROM totp_factors WHERE user_id = $1',
      [user.id],
    );
    expect(rows).toHaveLength(1);
    const stored = rows[0].secret_sealed;
    expect(stored.length).toBeGreaterThan(0);
    expect(stored.toUpperCase()).not.toContain(secret.replace(/=+$/, ''));
    // Nor the seed's bytes in another common encoding.
    const seedBytes = Buffer.from(base32Decode(secret));
    expect(stored).not.toContain(seedBytes.toString('hex'));
    expect(stored).not.toContain(seedBytes.toString('base64').replace(/=+$/, ''));
    expect(stored).not.toContain(seedBytes.toString('base64url'));
  });

  it('an unconfirmed set-up is only pending: /me says mfa.totp false and a password login is still direct', async () => {
    const { user, caller } = await signedIn('totp-pending');
    await as(ctx.http().post('/api/auth/mfa/totp'), caller).expect(200);
    expect((await me(caller)).mfa).toEqual({ totp: false, passkeys: false });
    const login = await passwordLogin(user);
    expect(login.status).toBe(200);
    expect(login.body).toEqual(
      expect.objectContaining({ accessToken: expect.any(String), refreshToken: expect.any(String) }),
    );
    expect(login.body.mfaRequired).toBeUndefined();
  });

  it('a wrong confirmation code is 400; the right one is 200 with 10 distinct recovery codes, turns TOTP on and mails a security notice', async () => {
    const { user, caller } = await signedIn('totp-confirm');
    const { secret } = (await as(ctx.http().post('/api/auth/mfa/totp'), caller).expect(200)).body as {
      secret: string;
    };

    const wrong = await as(ctx.http().post('/api/auth/mfa/totp/confirm'), caller).send({
      code: await wrongCode(secret),
    });
    expect(wrong.status).toBe(400);
    expect((await me(caller)).mfa.totp).toBe(false);

    const right = await as(ctx.http().post('/api/auth/mfa/totp/confirm'), caller).send({
      code: await totpCode(secret),
    });
    expect(right.status).toBe(200);
    const codes = (right.body as { recoveryCodes: string[] }).recoveryCodes;
    expect(codes).toHaveLength(10);
    expect(new Set(codes).size).toBe(10);
    for (const code of codes) expect(code).toMatch(RECOVERY_CODE);

    expect((await me(caller)).mfa).toEqual({ totp: true, passkeys: false });
    const login = await passwordLogin(user);
    expect({ status: login.status, mfaRequired: login.body.mfaRequired }).toEqual({
      status: 200,
      mfaRequired: true,
    });

    const mail = await securityNotice(sink, user.email, SERVICE_NAME, 'turned on');
    expect(mail.text).not.toContain(secret);
    for (const code of codes) expect(mail.text).not.toContain(code);
  });

  it('a second set-up while TOTP is on is 409, and the factor in use stays', async () => {
    const { user, caller } = await signedIn('totp-twice');
    const { secret } = await enableTotp(ctx.http, caller);
    const again = await as(ctx.http().post('/api/auth/mfa/totp'), caller);
    expect(again.status).toBe(409);
    expect(again.body.secret).toBeUndefined();
    // The original seed still signs in.
    expect((await secondStep(user, { code: await totpCode(secret) })).status).toBe(200);
  });

  describe('with REAUTH_MAX_AGE_SECONDS=1 (a second instance on the same database)', () => {
    let shortWindow: TestApp;
    beforeAll(async () => {
      shortWindow = await startApp(ctx.database.url, {
        ...ENV,
        SMTP_URL: sink.url,
        REAUTH_MAX_AGE_SECONDS: '1',
      });
    });
    afterAll(() => shortWindow?.close());

    it('set-up needs a recent sign-in: 1.5 s after login it is 403 "reauthentication required"', async () => {
      const user = await signUp(shortWindow.http, uniqueEmail('totp-recent'));
      const caller = { bearer: (await tokenLogin(shortWindow.http, user)).accessToken };
      await sleep(1500);
      const res = await as(shortWindow.http().post('/api/auth/mfa/totp'), caller);
      expect(outcome(res)).toEqual({ status: 403, body: REAUTH_REQUIRED });
      const { rows } = await db.query('SELECT 1 FROM totp_factors WHERE user_id = $1', [user.id]);
      expect(rows).toHaveLength(0);
    });
  });

  it('DELETE /mfa/totp is 204: login is direct again, the old recovery codes are void, and a notice is mailed', async () => {
    const { user, caller } = await signedIn('totp-off');
    const { recoveryCodes } = await enableTotp(ctx.http, caller);

    const off = await as(ctx.http().delete('/api/auth/mfa/totp'), caller);
    expect(outcome(off)).toEqual({ status: 204, body: {} });
    expect((await me(caller)).mfa.totp).toBe(false);

    const login = await passwordLogin(user);
    expect(login.status).toBe(200);
    expect(login.body.accessToken).toEqual(expect.any(String));
    expect(login.body.mfaRequired).toBeUndefined();

    // A recovery code of the removed factor proves nothing any more.
    const reauth = await as(ctx.http().post('/api/auth/reauth'), caller).send({
      recoveryCode: recoveryCodes[0],
    });
    expect(outcome(reauth)).toEqual({
      status: 403,
      body: { statusCode: 403, error: 'Forbidden', message: 'Invalid code' },
    });
    const { rows } = await db.query('SELECT 1 FROM recovery_codes WHERE user_id = $1', [user.id]);
    expect(rows).toHaveLength(0);

    await securityNotice(sink, user.email, SERVICE_NAME, 'turned off');
  });

  it('new recovery codes void the old set: an old code fails at the MFA step, a new one works; a notice is mailed', async () => {
    const { user, caller } = await signedIn('totp-new-codes');
    const { recoveryCodes: old } = await enableTotp(ctx.http, caller);

    const res = await as(ctx.http().post('/api/auth/mfa/recovery-codes'), caller);
    expect(res.status).toBe(200);
    const fresh = (res.body as { recoveryCodes: string[] }).recoveryCodes;
    expect(fresh).toHaveLength(10);
    expect(new Set(fresh).size).toBe(10);
    for (const code of fresh) expect(code).toMatch(RECOVERY_CODE);
    expect(fresh.filter((code) => old.includes(code))).toEqual([]);

    const withOld = await secondStep(user, { recoveryCode: old[0] });
    expect(outcome(withOld)).toEqual({
      status: 401,
      body: { statusCode: 401, error: 'Unauthorized', message: 'Invalid code' },
    });
    const withNew = await secondStep(user, { recoveryCode: fresh[0] });
    expect(withNew.status).toBe(200);
    expect(withNew.body.accessToken).toEqual(expect.any(String));

    await securityNotice(sink, user.email, SERVICE_NAME, 'New recovery codes');
  });

  it('new recovery codes without TOTP are 409', async () => {
    const { caller } = await signedIn('totp-no-codes');
    const res = await as(ctx.http().post('/api/auth/mfa/recovery-codes'), caller);
    expect(res.status).toBe(409);
    expect(res.body.recoveryCodes).toBeUndefined();
  });
});

/** RFC 4648 base32 (the alphabet authenticator apps take) to bytes. */
function base32Decode(text: string): number[] {
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';
  let bits = 0;
  let value = 0;
  const bytes: number[] = [];
  for (const char of text.replace(/=+$/, '')) {
    value = (value << 5) | alphabet.indexOf(char);
    bits += 5;
    if (bits >= 8) {
      bytes.push((value >>> (bits - 8)) & 0xff);
      bits -= 8;
    }
  }
  return bytes;
}
