import { createHash, randomBytes } from 'node:crypto';
import { Client } from 'pg';
import {
  PASSWORD,
  sessionLogin,
  signUp,
  sleep,
  tokenLogin,
  uniqueEmail,
  type SignedUp,
} from '../support/auth-helpers';
import { linkIn, linkToken, SmtpSink, type ReceivedMail } from '../support/smtp-sink';
import { startAppOnFreshDatabase, type TestContext } from '../support/test-app';

const PUBLIC_URL = 'http://auth.example.test';
const INVALID_LINK = 'This link is invalid or has expired; ask for a new one';
const RESET_SUBJECT = 'Reset your password';
const RESET_DONE_SUBJECT = 'Your password was reset';
const NEW_PASSWORD = 'a brand new passphrase 7';
const ADMIN = { email: 'root@example.test', password: 'admin passphrase for the tests 42' };

const sha256 = (value: string) => createHash('sha256').update(value).digest('hex');

describe('password reset by mail', () => {
  let sink: SmtpSink;
  let ctx: TestContext;
  let db: Client;
  let adminBearer: string;

  beforeAll(async () => {
    sink = await SmtpSink.start();
    ctx = await startAppOnFreshDatabase({
      SMTP_URL: sink.url,
      PUBLIC_URL,
      MAIL_RETRY_BASE_SECONDS: '1',
      ADMIN_EMAIL: ADMIN.email,
      ADMIN_PASSWORD: ADMIN.password,
    });
    db = new Client({ connectionString: ctx.database.url });
    await db.connect();
    adminBearer = `Bearer ${(await tokenLogin(ctx.http, ADMIN)).accessToken}`;
  });
  afterAll(async () => {
    await db?.end();
    await ctx?.close();
    await sink?.stop();
  });

  const forgot = (email: string) => ctx.http().post('/api/auth/password/forgot').send({ email });
  const reset = (token: string, newPassword = NEW_PASSWORD) =>
    ctx.http().post('/api/auth/password/reset').send({ token, newPassword });

  const mailsTo = (address: string, subject: string) =>
    sink.to(address).filter((mail) => mail.subject.startsWith(subject));

  async function waitForMail(
    address: string,
    subject: string,
    count = 1,
    timeoutMs = 10_000,
  ): Promise<ReceivedMail> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const mails = mailsTo(address, subject);
      if (mails.length >= count) return mails[count - 1];
      if (Date.now() > deadline)
        throw new Error(
          `${mails.length} of ${count} "${subject}" mails to ${address} arrived in ${timeoutMs} ms`,
        );
      await sleep(20);
    }
  }

  /** Waits until the outbox holds nothing left to do for `address` (jobs and mails). */
  async function outboxSettled(address: string, timeoutMs = 10_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const { rows } = await db.query<{ n: number }>(
        'SELECT count(*)::int AS n FROM outbox WHERE recipient = $1 AND done_at IS NULL AND failed_at IS NULL',
        [address.toLowerCase()],
      );
      if (rows[0].n === 0) return;
      if (Date.now() > deadline) throw new Error(`${rows[0].n} outbox rows for ${address} still pending`);
      await sleep(20);
    }
  }

  /** Asks for a link and returns the token of the newest reset mail. */
  async function resetToken(user: SignedUp): Promise<string> {
    const before = mailsTo(user.email, RESET_SUBJECT).length;
    await forgot(user.email).expect(202);
    return linkToken(await waitForMail(user.email, RESET_SUBJECT, before + 1), '/reset-password');
  }

  const expectInvalidLink = (res: { status: number; body: { message?: unknown } }) =>
    expect({ status: res.status, message: res.body.message }).toEqual({ status: 400, message: INVALID_LINK });

  it('mails a known address a PUBLIC_URL link with a 256-bit token, never the Host header', async () => {
    const user = await signUp(ctx.http);
    const res = await ctx
      .http()
      .post('/api/auth/password/forgot')
      .set('Host', 'evil.example')
      .set('X-Forwarded-Host', 'evil.example')
      .send({ email: user.email })
      .expect(202);
    expect(res.body).toEqual({ message: expect.any(String) });

    const mail = await waitForMail(user.email, RESET_SUBJECT);
    expect(mail.to).toEqual([user.email.toLowerCase()]);
    const link = linkIn(mail, '/reset-password');
    expect(link.startsWith(`${PUBLIC_URL}/reset-password?token=`)).toBe(true);
    expect(mail.text).not.toContain('evil.example');
    expect(mail.html).not.toContain('evil.example');
    // Handlebars writes the link's "=" as an entity inside the attribute.
    expect(mail.html.replace(/&#x3D;/g, '=')).toContain(`href='${link}'`);
    const token = linkToken(mail, '/reset-password');
    expect(token).toMatch(/^[A-Za-z0-9_-]{43,}$/); // >= 256 bits of base64url
  });

  it('answers an unknown address with exactly the same 202 body, and mails nothing to it', async () => {
    const known = await signUp(ctx.http);
    const unknown = uniqueEmail('nobody');
    const forUnknown = await forgot(unknown).expect(202);
    const forKnown = await forgot(known.email).expect(202);
    expect(forUnknown.text).toBe(forKnown.text);
    expect(forUnknown.headers['content-type']).toBe(forKnown.headers['content-type']);

    // The unknown address was queued first: once the known one's mail is in, its job is done too.
    await waitForMail(known.email, RESET_SUBJECT);
    await outboxSettled(unknown);
    await sleep(500);
    expect(sink.to(unknown)).toEqual([]);
  });

  it('does not change or lock the account, even when asked 30 times', async () => {
    const user = await signUp(ctx.http);
    const cookie = await sessionLogin(ctx.http, user);
    const rowOf = async () =>
      (await db.query<{ row: string }>('SELECT u::text AS row FROM users u WHERE id = $1', [user.id])).rows[0]
        .row;
    const before = await rowOf();

    for (let i = 0; i < 30; i++) await forgot(user.email).expect(202);
    await outboxSettled(user.email, 20_000);

    expect(await rowOf()).toBe(before);
    await ctx.http().get('/api/auth/me').set('Cookie', cookie.cookie).expect(200);
    await ctx.http().post('/api/auth/token').send({ email: user.email, password: PASSWORD }).expect(200);
    await ctx.http().post('/api/auth/session').send({ email: user.email, password: PASSWORD }).expect(200);
  });

  it('resets with the link: new password only, every sign-in ended, none created, mailed and audited', async () => {
    const user = await signUp(ctx.http);
    const cookie = await sessionLogin(ctx.http, user);
    const bearer = await tokenLogin(ctx.http, user);
    const token = await resetToken(user);

    const res = await reset(token).expect(204);
    expect(res.headers['set-cookie']).toBeUndefined();

    await ctx.http().post('/api/auth/token').send({ email: user.email, password: PASSWORD }).expect(401);
    await ctx.http().get('/api/auth/me').set('Cookie', cookie.cookie).expect(401);
    await ctx.http().get('/api/auth/me').set('Authorization', `Bearer ${bearer.accessToken}`).expect(401);
    await ctx.http().post('/api/auth/token/refresh').send({ refreshToken: bearer.refreshToken }).expect(401);

    const fresh = await tokenLogin(ctx.http, { email: user.email, password: NEW_PASSWORD });
    const sessions = await ctx
      .http()
      .get('/api/sessions')
      .set('Authorization', `Bearer ${fresh.accessToken}`)
      .expect(200);
    expect(sessions.body).toEqual([expect.objectContaining({ method: 'jwt', current: true })]);

    const notice = await waitForMail(user.email, RESET_DONE_SUBJECT);
    expect(notice.text).not.toContain(token);

    const audit = await ctx
      .http()
      .get(`/api/audit?userId=${user.id}&type=password.reset&limit=100`)
      .set('Authorization', adminBearer)
      .expect(200);
    expect(audit.body.items).toEqual([expect.objectContaining({ type: 'password.reset', userId: user.id })]);
  });

  it('accepts a link once: the second use is 400 with the fixed message', async () => {
    const user = await signUp(ctx.http);
    const token = await resetToken(user);
    await reset(token).expect(204);
    expectInvalidLink(await reset(token, 'yet another passphrase 9'));
    await tokenLogin(ctx.http, { email: user.email, password: NEW_PASSWORD });
  });

  it('voids the first link when a second one is asked for', async () => {
    const user = await signUp(ctx.http);
    const first = await resetToken(user);
    const second = await resetToken(user);
    expect(second).not.toBe(first);
    expectInvalidLink(await reset(first));
    await reset(second).expect(204);
  });

  it('refuses altered, unknown and expired tokens with the same 400', async () => {
    const user = await signUp(ctx.http);
    const token = await resetToken(user);
    const altered = (token[0] === 'A' ? 'B' : 'A') + token.slice(1);
    expectInvalidLink(await reset(altered));
    expectInvalidLink(await reset(randomBytes(32).toString('base64url')));

    const expired = await db.query(
      `UPDATE account_tokens SET expires_at = now() - interval '1 second' WHERE token_hash = $1`,
      [sha256(token)],
    );
    expect(expired.rowCount).toBe(1);
    expectInvalidLink(await reset(token));
    await tokenLogin(ctx.http, user); // the old password still works
  });

  it('refuses a weak new password naming the rule, and the link stays usable', async () => {
    const user = await signUp(ctx.http);
    const token = await resetToken(user);
    const weak = await reset(token, 'password1234').expect(400);
    expect(JSON.stringify(weak.body.message)).toMatch(/newPassword .*(common|guess)/);
    const short = await reset(token, 'abc').expect(400);
    expect(JSON.stringify(short.body.message)).toMatch(/newPassword must be at least 8 characters/);
    await tokenLogin(ctx.http, user);
    await reset(token).expect(204);
  });

  it('lets exactly one of two concurrent resets with one link succeed', async () => {
    const user = await signUp(ctx.http);
    const token = await resetToken(user);
    const answers = await Promise.all([
      reset(token, 'first racing passphrase 1'),
      reset(token, 'second racing passphrase 2'),
    ]);
    expect(answers.map((res) => res.status).sort()).toEqual([204, 400]);
  });

  it('sends at most 3 reset mails an hour to one address', async () => {
    const user = await signUp(ctx.http);
    for (let i = 0; i < 4; i++) await forgot(user.email).expect(202);
    await waitForMail(user.email, RESET_SUBJECT);
    await outboxSettled(user.email);
    await sleep(300);
    const count = mailsTo(user.email, RESET_SUBJECT).length;
    expect(count).toBeGreaterThanOrEqual(1);
    expect(count).toBeLessThanOrEqual(3);
  });

  it('stores tokens only hashed: the mailed token is not in account_tokens, its SHA-256 is', async () => {
    const user = await signUp(ctx.http);
    const token = await resetToken(user);
    const { rows } = await db.query<{ token_hash: string; row: string }>(
      'SELECT token_hash, t::text AS row FROM account_tokens t WHERE user_id = $1',
      [user.id],
    );
    expect(rows.map((row) => row.token_hash.trim())).toContain(sha256(token));
    for (const row of rows) expect(row.row).not.toContain(token);
    const everything = await db.query<{ row: string }>('SELECT t::text AS row FROM account_tokens t');
    expect(everything.rows.some((row) => row.row.includes(token))).toBe(false);
  });
});

describe('password reset per-IP limit', () => {
  let ctx: TestContext;
  beforeAll(
    async () =>
      (ctx = await startAppOnFreshDatabase({ AUTH_RATE_LIMIT: '3', AUTH_RATE_WINDOW_SECONDS: '60' })),
  );
  afterAll(() => ctx?.close());

  it('answers the 4th forgot from one client with 429 and Retry-After, whatever the address', async () => {
    for (let i = 0; i < 3; i++)
      await ctx
        .http()
        .post('/api/auth/password/forgot')
        .send({ email: uniqueEmail('ip') })
        .expect(202);
    const limited = await ctx
      .http()
      .post('/api/auth/password/forgot')
      .send({ email: uniqueEmail('ip') })
      .expect(429);
    expect(Number(limited.headers['retry-after'])).toBeGreaterThan(0);
  });
});
