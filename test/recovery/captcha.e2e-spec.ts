import { Client } from 'pg';
import { PASSWORD, signUp, sleep, uniqueEmail } from '../support/auth-helpers';
import { FakeCaptcha } from '../support/fake-captcha';
import { SmtpSink } from '../support/smtp-sink';
import { startAppOnFreshDatabase, type TestContext } from '../support/test-app';

const SECRET = 'captcha-secret-for-the-tests-0123456789';
const GOOD = 'XXXX.DUMMY.TOKEN.XXXX';
const CAPTCHA_FAILED = /^Captcha verification failed/;

describe('captcha on signup and forgot-password (CAPTCHA_PROVIDER=turnstile)', () => {
  let fake: FakeCaptcha;
  let sink: SmtpSink;
  let ctx: TestContext;
  let db: Client;

  beforeAll(async () => {
    fake = await FakeCaptcha.start(GOOD);
    sink = await SmtpSink.start();
    ctx = await startAppOnFreshDatabase({
      CAPTCHA_PROVIDER: 'turnstile',
      CAPTCHA_SECRET: SECRET,
      CAPTCHA_VERIFY_URL: fake.url,
      SMTP_URL: sink.url,
      MAIL_RETRY_BASE_SECONDS: '1',
    });
    db = new Client({ connectionString: ctx.database.url });
    await db.connect();
  });
  beforeEach(() => fake.reset());
  afterAll(async () => {
    await db?.end();
    await ctx?.close();
    await sink?.stop();
    await fake?.close();
  });

  const signup = (email: string, extra: Record<string, string> = {}) =>
    ctx
      .http()
      .post('/api/auth/signup')
      .send({ email, password: PASSWORD, ...extra });
  const forgot = (email: string, extra: Record<string, string> = {}) =>
    ctx
      .http()
      .post('/api/auth/password/forgot')
      .send({ email, ...extra });
  const accountExists = async (email: string) =>
    (await db.query('SELECT 1 FROM users WHERE email = $1', [email.toLowerCase()])).rowCount === 1;
  const outboxRows = async (email: string) =>
    (
      await db.query<{ n: number }>('SELECT count(*)::int AS n FROM outbox WHERE recipient = $1', [
        email.toLowerCase(),
      ])
    ).rows[0].n;
  const expectCaptchaRefusal = (res: { status: number; body: { message?: unknown } }) => {
    expect(res.status).toBe(400);
    expect(res.body.message).toMatch(CAPTCHA_FAILED);
  };

  /** An account made with a solved captcha, its verification mail already delivered. */
  async function existingUser(): Promise<string> {
    const email = uniqueEmail('captcha');
    await signup(email).set('X-Captcha-Token', GOOD).expect(201);
    await sink.waitFor(email);
    return email;
  }

  it('refuses signup and forgot without an answer: no account, no mail, the provider not asked', async () => {
    const email = uniqueEmail('bot');
    expectCaptchaRefusal(await signup(email));
    expect(await accountExists(email)).toBe(false);

    const known = await existingUser();
    fake.reset();
    expectCaptchaRefusal(await forgot(known));
    expectCaptchaRefusal(await forgot(known, { captchaToken: '' }));
    expect(fake.requests).toEqual([]);

    expect(await outboxRows(email)).toBe(0);
    expect(await outboxRows(known)).toBe(1); // its verification mail, nothing more
    await sleep(1000);
    expect(sink.to(email)).toEqual([]);
    expect(sink.to(known)).toHaveLength(1);
  });

  it('refuses a wrong answer with 400, in the header or the body', async () => {
    const email = uniqueEmail('wrong');
    expectCaptchaRefusal(await signup(email).set('X-Captcha-Token', 'a-wrong-answer'));
    expectCaptchaRefusal(await signup(email, { captchaToken: 'a-wrong-answer' }));
    expect(await accountExists(email)).toBe(false);
    expectCaptchaRefusal(await forgot(email, { captchaToken: 'a-wrong-answer' }));
    expect(fake.requests.map((request) => request.fields.response)).toEqual([
      'a-wrong-answer',
      'a-wrong-answer',
      'a-wrong-answer',
    ]);
    expect(await outboxRows(email)).toBe(0);
  });

  it('accepts the right answer in X-Captcha-Token or the captchaToken field, and sends the provider secret, answer and remoteip', async () => {
    const byHeader = uniqueEmail('header');
    await signup(byHeader).set('X-Captcha-Token', GOOD).expect(201);
    const byBody = uniqueEmail('body');
    await signup(byBody, { captchaToken: GOOD }).expect(201);
    await forgot(byBody, { captchaToken: GOOD }).expect(202);
    await forgot(byHeader).set('X-Captcha-Token', GOOD).expect(202);

    expect(fake.requests).toHaveLength(4);
    for (const request of fake.requests) {
      expect(request.method).toBe('POST');
      expect(request.contentType).toMatch(/^application\/x-www-form-urlencoded/);
      expect(request.fields).toEqual({
        secret: SECRET,
        response: GOOD,
        remoteip: expect.stringMatching(/^(::ffff:)?127\.0\.0\.1$/),
      });
    }
    // The reset mails went out: the forgot requests were let through.
    for (const email of [byHeader, byBody])
      expect((await sink.waitFor(email, { count: 2 })).subject).toMatch(/^Reset your password/);
  });

  it('answers 503 (not 400, not 500) when the provider answers 500 or hangs, and creates nothing', async () => {
    const email = uniqueEmail('down');
    fake.mode = 'error';
    const failed = await signup(email).set('X-Captcha-Token', GOOD);
    expect(failed.status).toBe(503);
    expect(failed.body).toEqual({
      statusCode: 503,
      error: 'Service Unavailable',
      message: expect.any(String),
    });
    expect(failed.body.message).not.toMatch(/siteverify|127\.0\.0\.1|500/);
    expect((await forgot(email).set('X-Captcha-Token', GOOD)).status).toBe(503);

    fake.mode = 'hang';
    const started = Date.now();
    const hung = await signup(email).set('X-Captcha-Token', GOOD);
    expect(hung.status).toBe(503);
    expect(Date.now() - started).toBeLessThan(15_000);

    expect(await accountExists(email)).toBe(false);
    expect(fake.requests).toHaveLength(3);
    fake.mode = 'ok';
    await signup(email).set('X-Captcha-Token', GOOD).expect(201);
  }, 30_000);
});

describe('without CAPTCHA_PROVIDER', () => {
  let fake: FakeCaptcha;
  let ctx: TestContext;

  beforeAll(async () => {
    fake = await FakeCaptcha.start(GOOD);
    // The verify URL alone turns nothing on.
    ctx = await startAppOnFreshDatabase({ CAPTCHA_VERIFY_URL: fake.url });
  });
  afterAll(async () => {
    await ctx?.close();
    await fake?.close();
  });

  it('needs no captcha for signup or forgot, and asks no provider', async () => {
    const user = await signUp(ctx.http);
    await ctx.http().post('/api/auth/password/forgot').send({ email: user.email }).expect(202);
    expect(fake.requests).toEqual([]);
  });
});
